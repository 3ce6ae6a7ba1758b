#!/usr/bin/python3
"""The acceptance scenarios of nixfleet-protocol.md §7 that the other
suites leave out, or cover without the numbers the table gives
(docs/scenarios.md maps every id to its tests).  Each test's docstring
starts with the id(s) it covers.  Same peers as test_jobs.py: the real
agent against the reference dashboard, stub sudo/nixos-rebuild first on
PATH (test_jobs.py's stubs, through its JobsTest)."""

import datetime
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
import test_jobs as tj  # noqa: E402

payload = tj.payload

LOG_LINE = re.compile(
    r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z \w+ (.*)$", re.M)
FAILED = re.compile(r"net: connection (?:failed|lost): (.*); retrying in "
                    r"([0-9.]+) s$")
CONNECTING = re.compile(r"net: connecting to ")


def setUpModule():
    h.require_agent()
    h.require_root()


def log_events(agent, pattern):
    """[(unix time, match)] for the agent's log lines matching pattern."""
    out = []
    for m in LOG_LINE.finditer(agent.log()):
        hit = pattern.search(m.group(2))
        if hit:
            t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f")
            out.append((t.replace(tzinfo=datetime.timezone.utc).timestamp(),
                        hit))
    return out


def gaps(times):
    return [b - a for a, b in zip(times, times[1:])]


class ScenarioTest(tj.JobsTest):
    """JobsTest's stubs and helpers; its own tests are not run here (see
    the end of this file)."""

    # ------------------------------------------------------------ helpers

    def registered_sent(self, dash, conn):
        for r in dash.records("sent"):
            if h.msg_type(r) == "registered" and r["conn"] == conn:
                return r["t"]
        return None

    def compartment_of(self, dash, since):
        """(status, message) of the tests compartment in the first
        heartbeat after since."""
        hb = self.wait_message(dash, "heartbeat", 5, since=since)[0]
        sc = payload(hb)["update_status"]["tests"]
        return sc["status"], sc["message"]

    def progress(self, msgs, kind="test_progress"):
        return [payload(m) for m in msgs if h.msg_type(m) == kind]

    def isolated_repo(self):
        """A bare remote of self.repo and an isolated clone of it; returns
        (remote, clone)."""
        remote = self.work.path("remote.git")
        subprocess.run(["git", "clone", "-q", "--bare", str(self.repo), remote],
                       env=h.GIT_ENV, check=True, timeout=30)
        clone = self.work.path("clone")
        subprocess.run(["git", "clone", "-q", remote, clone], env=h.GIT_ENV,
                       check=True, timeout=30)
        return remote, clone

    def isolated_env(self, remote, clone):
        return dict(NIXFLEET_REPO_URL=remote, NIXFLEET_REPO_DIR=clone,
                    HOME="/nonexistent", GIT_CONFIG_NOSYSTEM="1",
                    GIT_CONFIG_GLOBAL="/dev/null")

    def timed_rebuild(self, steps, delay, fail=None):
        """nixos-rebuild as a stub that records its argv like the others,
        then prints `step <i> <unix time>` steps times, delay s apart, and
        leaves `nixos-rebuild.done` when it ends; fail: a line for stderr
        and exit 1."""
        body = ('echo "nixos-rebuild $*" >> "$(dirname "$0")/calls.log"\n'
                'i=1; while [ $i -le %d ]; do echo "step $i $(date +%%s.%%N)"; '
                'i=$((i+1)); [ $i -le %d ] && sleep %s; done\n'
                % (steps, steps, delay))
        if fail:
            body += 'echo "%s" >&2\ntouch "$(dirname "$0")/nixos-rebuild.done"\n' \
                    'exit 1\n' % fail
        else:
            body += 'touch "$(dirname "$0")/nixos-rebuild.done"\n'
        p = Path(self.stubs) / "nixos-rebuild"
        p.write_text("#!/bin/sh\n" + body)
        p.chmod(0o755)
        return Path(self.stubs) / "nixos-rebuild.done"

    def heartbeat_gaps(self, dash, t0, t1, conn=None):
        ts = [t0] + [r["t"] for r in dash.messages("heartbeat", conn=conn)
                     if t0 <= r["t"] <= t1] + [t1]
        return gaps(ts)

    # ------------------------------------------------------------ T01

    def test_t01_s1_register_at_once(self):
        """T01-S1: register within 5 s of the start, the first frame, sent
        at once after the 101 (target 20 ms; asserted < 0.5 s), hostname,
        agent_version from NIXFLEET_REPORT_VERSION while User-Agent and the
        log keep the build version, heartbeat_interval 1, host_type,
        7-character generation, then registered."""
        dash = self.start_dashboard()
        agent = self.start_agent(self.env(dash.url(),
                                          NIXFLEET_REPORT_VERSION="3.1.5"))
        reg = self.wait_message(dash, "register", 5)[0]
        self.assertLessEqual(reg["t"] - agent.started, 5.0)
        conn = dash.connects()[0]
        self.assertEqual(dash.records("message")[0], reg)
        self.assertLess(reg["t"] - conn["t"], 0.5, "register %.3f s after "
                        "the upgrade" % (reg["t"] - conn["t"]))
        p = payload(reg)
        self.assertEqual(p["hostname"], h.HOSTNAME)
        self.assertEqual(p["agent_version"], "3.1.5")
        self.assertEqual(h.header(conn["headers"], "User-Agent"),
                         "nixfleet-agent/" + h.VERSION)
        self.assertRegex(agent.log(), r"nixfleet-agent %s starting" %
                         re.escape(h.VERSION))
        self.assertEqual(p["heartbeat_interval"], 1)
        self.assertIn(p["host_type"], ("nixos", "macos"))
        self.assertEqual(p["host_type"],
                         "macos" if sys.platform == "darwin" else "nixos")
        self.assertRegex(p["generation"], r"^[0-9a-f]{7}$")
        self.assertEqual(p["generation"], h.head7(self.repo))
        self.wait(lambda: self.registered_sent(dash, reg["conn"]), 3,
                  "registered")

    def open_sockets(self, port):
        """Local ports of the TCP sockets towards port that are still open
        (established, or closed by the peer only)."""
        out = subprocess.run(["ss", "-Htan", "dport", "= :%d" % port],
                             stdout=subprocess.PIPE, text=True,
                             timeout=10).stdout
        ports = set()
        for line in out.splitlines():
            f = line.split()
            if len(f) >= 4 and f[0] in ("ESTAB", "CLOSE-WAIT"):
                ports.add(f[3].rsplit(":", 1)[1])
        return ports

    def test_t01_s2_wrong_token(self):
        """T01-S2: a wrong token gets 401; the agent logs it, retries with
        backoff (waits of the nominal steps 1, 2, 4 s, jittered, floor
        100 ms, kept), and over 3 s no register arrives and no connection
        stays open; the agent stays alive."""
        dash = self.start_dashboard(token="another-token")
        agent = self.start_agent(self.env(dash.url()))
        self.wait_log(agent, r"authentication failed: 401 Unauthorized", 5)
        t0 = time.time()
        seen = {}                   # local port -> (first, last) seen open
        while time.time() - t0 < 3.0:
            now = time.time()
            for p in self.open_sockets(dash.port):
                first, _ = seen.get(p, (now, now))
                seen[p] = (first, now)
            time.sleep(0.1)
        self.assertEqual(dash.records("connect"), [])
        self.assertEqual(dash.messages("register"), [])
        self.assertEqual(dash.records("message"), [])
        stayed = {p: b - a for p, (a, b) in seen.items() if b - a >= 1.0}
        self.assertEqual(stayed, {}, "connections left open: %r" % stayed)
        rejects = dash.records("reject")
        self.assertGreaterEqual(len(rejects), 2, self.context())
        self.assertTrue(all(r["status"] == 401 for r in rejects))
        fails = log_events(agent, FAILED)
        self.assertGreaterEqual(len(fails), 2)
        for i, (_, m) in enumerate(fails):
            self.assertIn("authentication failed: 401 Unauthorized", m.group(1))
            wait = float(m.group(2))
            self.assertGreaterEqual(wait, 0.1, fails)
            self.assertLessEqual(wait, min(2 ** i, 60), "attempt %d: %s" % (
                i + 1, [f[1].group(0) for f in fails]))
        ts = [r["t"] for r in rejects]
        for g, (_, m) in zip(gaps(ts), fails):
            self.assertGreaterEqual(g, float(m.group(2)) - 0.1, (ts, fails))
        self.assertTrue(agent.running())

    def test_t01_s3_dashboard_down_at_start(self):
        """T01-S3: dashboard down at the start: each failure logged, waits
        within the nominal steps 1, 2, 4 s (jittered, floor 100 ms) and
        kept; once the dashboard is up the agent connects within one
        backoff step."""
        port = h.free_port()
        agent = self.start_agent(self.env("ws://127.0.0.1:%d/ws" % port))
        self.wait_log(agent, r"connection failed: .*retrying in", 10, count=3)
        dash = h.Dashboard(self.work)
        self.addCleanup(dash.stop)
        self.peers.append(dash)
        dash.start(port=port)
        t_up = time.time()
        reg = self.wait_message(dash, "register", 70)[0]
        fails = log_events(agent, FAILED)
        dials = [t for t, _ in log_events(agent, CONNECTING)]
        self.assertGreaterEqual(len(fails), 3)
        for i, (t, m) in enumerate(fails):
            self.assertRegex(m.group(1), r"refused")
            wait = float(m.group(2))
            self.assertGreaterEqual(wait, 0.1)
            self.assertLessEqual(wait, min(2 ** i, 60), "attempt %d" % (i + 1))
            # The next dial comes after the wait announced, not before.
            nxt = [d for d in dials if d > t]
            self.assertTrue(nxt, "no dial after failure %d" % (i + 1))
            self.assertGreaterEqual(nxt[0] - t, wait - 0.1)
            self.assertLessEqual(nxt[0] - t, wait + 1.0)
        before = [(t, float(m.group(2)), i) for i, (t, m) in enumerate(fails)
                  if t <= t_up]
        tf, wait, i = before[-1]
        step = min(2 ** i, 60)
        self.assertLessEqual(reg["t"], max(t_up, tf + wait) + 1.0)
        self.assertLessEqual(reg["t"] - t_up, step + 1.0,
                             "connected %.1f s after the dashboard came up"
                             % (reg["t"] - t_up))
        self.assertTrue(agent.running())

    # ------------------------------------------------------------ T02

    def test_t02_s6_reconnect_during_command(self):
        """T02-S6: the dashboard goes away for 2.5 s during a command: on
        the new connection the first heartbeat follows registered at once
        (< 0.5 s) with the same job and pid, the missed ones are not sent
        (at most 2 heartbeats in the first 0.9 s), no gap above 2 s after;
        the command goes on: every line once, in order, one status ok."""
        # 30 lines, then it waits (30 s at most) for the gate the test
        # opens once the new connection is checked, then 30 more.
        gate = self.work.path("gate")
        self.write_tests({"count.sh": (
            "i=1; while [ $i -le 30 ]; do echo line $i; i=$((i+1)); "
            "sleep 0.1; done; n=0; while [ ! -e %s ] && [ $n -lt 300 ]; do "
            "sleep 0.1; n=$((n+1)); done; while [ $i -le 60 ]; do "
            "echo line $i; i=$((i+1)); sleep 0.02; done" % gate, 0o755)})
        dash, agent = self.up()
        t = self.send(dash, "test")
        self.wait(lambda: len(self.lines(self.job_msgs(dash, t))) > 5, 10,
                  "lines")
        hb = self.wait_message(dash, "heartbeat", 3, since=time.time())[0]
        pid = payload(hb)["command_pid"]
        self.assertIsInstance(pid, int)
        dash.stop()
        time.sleep(2.5)
        t_back = time.time()
        dash.start(port=dash.port)
        reg = self.wait_message(dash, "register", 10, since=t_back)[0]
        conn = reg["conn"]
        t_reg = self.wait(lambda: self.registered_sent(dash, conn), 5,
                          "registered")
        first = self.wait_message(dash, "heartbeat", 3, conn=conn)[0]
        self.assertLess(first["t"] - t_reg, 0.5)
        after = [r for r in dash.messages(conn=conn) if r["t"] >= t_reg]
        self.assertEqual(h.msg_type(after[0]), "heartbeat",
                         [h.msg_type(r) for r in after[:5]])
        self.assertEqual(payload(first)["pending_command"], "test")
        self.assertEqual(payload(first)["command_pid"], pid)
        time.sleep(1.0)
        early = dash.messages("heartbeat", conn=conn, since=t_reg)
        early = [r for r in early if r["t"] <= t_reg + 0.9]
        self.assertLessEqual(len(early), 2, [r["t"] - t_reg for r in early])
        gate.write_text("")
        self.check_numbered(dash, t, 60)
        st = dash.messages("status", since=t)[0]
        self.assertEqual(st["conn"], conn)
        busy = [payload(r) for r in dash.messages("heartbeat", conn=conn)
                if r["t"] < st["t"]]
        self.assertTrue(busy)
        for b in busy:
            self.assertEqual((b["pending_command"], b["command_pid"]),
                             ("test", pid))
        g = self.heartbeat_gaps(dash, t_reg, st["t"], conn=conn)
        self.assertLessEqual(max(g), 2.0, g)

    def test_t02_s7_busy_and_bypass(self):
        """T02-S7: test (a 5 s script), switch 200 ms later: command_rejected
        exactly {command already running, test, the child's pid}; reboot,
        a kill_command for another pid and restart while busy get none;
        the test runs to completion (status ok, adopted by the agent that
        starts after the restart)."""
        self.write_tests({"five.sh": ("echo started; sleep 5; echo done",
                                      0o755)})
        dash, agent = self.up()
        t = self.send(dash, "test")
        time.sleep(0.2)
        self.send(dash, "switch")
        rej = first_rej = self.wait_message(dash, "command_rejected", 5,
                                            since=t)[0]
        if "current_pid" not in payload(rej):
            # §2.7: no current_pid while the child has not started; only a
            # very slow start gets here, and then the child must not have
            # written yet.  Ask again once it has.
            self.assertNotIn("started", self.lines(
                [m for m in self.job_msgs(dash, t) if m["t"] <= rej["t"]]))
            self.wait(lambda: "started" in self.lines(self.job_msgs(dash, t)),
                      5, "the script to start")
            self.send(dash, "switch")
            rej = self.wait_message(dash, "command_rejected", 5, count=2,
                                    since=t)[1]
        pid = payload(rej).get("current_pid")
        self.assertEqual(payload(rej), {"reason": "command already running",
                                        "current_command": "test",
                                        "current_pid": pid})
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            self.assertIn(b"five.sh", f.read())
        hb = self.wait_message(dash, "heartbeat", 3, since=rej["t"])[0]
        self.assertEqual(payload(hb)["command_pid"], pid)
        tr = self.send(dash, "reboot")
        st = self.wait_message(dash, "status", 5, since=tr)[0]
        self.assertEqual((payload(st)["command"], payload(st)["status"],
                          payload(st)["exit_code"]), ("reboot", "ok", 0))
        self.wait(lambda: "reboot " in self.stub_calls(), 6, "sudo reboot")
        dash.control("kill_command SIGTERM %d" % (pid + 100000))
        tr = self.send(dash, "restart")
        st = self.wait_message(dash, "status", 5, since=tr)[0]
        self.assertEqual((payload(st)["command"], payload(st)["status"]),
                         ("restart", "ok"))
        self.assertEqual(agent.wait_exit(10), 0)
        self.assertTrue(h.alive(pid), "the test died with the agent")
        self.start_agent(agent.env)
        st = self.wait(lambda: [m for m in dash.messages("status", since=t)
                                if payload(m)["command"] == "test"], 20,
                       "the test's status")
        self.assertEqual((payload(st[0])["status"], payload(st[0])["message"]),
                         ("ok", "1/1 passed"))
        lines = self.lines(self.job_msgs(dash, t))
        self.assertIn("started", lines)
        self.assertIn("done", lines)
        self.assertEqual(len(dash.messages("command_rejected", since=t)),
                         1 if rej is first_rej else 2)

    def test_t02_s8_first_heartbeat_lock(self):
        """T02-S8: the first heartbeat after registered comes at once (target
        20 ms; asserted < 0.5 s) with a filled lock compartment: ok
        "Updated today" for a flake.lock committed today, then (another
        agent, a checkout without one) unknown "flake.lock not found".
        git is slowed down by 0.5 s, as on a loaded host: the first dial
        waits for the check, register and heartbeat do not."""
        git = Path(self.stubs) / "git"
        git.write_text("#!/bin/sh\nsleep 0.5\nexec %s \"$@\"\n" %
                       subprocess.run(["sh", "-c", "command -v git"],
                                      stdout=subprocess.PIPE, text=True,
                                      check=True).stdout.strip())
        git.chmod(0o755)
        bare = h.make_repo(self.work.path("nolock"))
        h.git(bare, "rm", "-q", "flake.lock")
        h.git(bare, "commit", "-q", "-m", "no lock")
        dash = self.start_dashboard()
        for repo, want in ((self.repo, ("ok", "Updated today")),
                           (bare, ("unknown", "flake.lock not found"))):
            since = time.time()
            agent = self.start_agent(self.env(dash.url(),
                                              NIXFLEET_REPO_DIR=repo))
            reg = self.wait_message(dash, "register", 10, since=since)[0]
            conn = reg["conn"]
            t_reg = self.wait(lambda: self.registered_sent(dash, conn), 5,
                              "registered")
            hb = self.wait_message(dash, "heartbeat", 3, conn=conn)[0]
            self.assertLess(hb["t"] - t_reg, 0.5)
            lock = payload(hb)["update_status"]["lock"]
            self.assertEqual((lock["status"], lock["message"]), want, lock)
            self.assertRegex(lock["checked_at"],
                             r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
            self.assertEqual(agent.terminate(5)[0], 0)

    # ------------------------------------------------------------ T03

    def test_t03_s4_t08_s2_t03_s7_verdicts(self):
        """T03-S4: 5 scripts, one failing: test_progress current 1..5, the
        final {5,5,4,false,"4/5 passed"}.  T08-S2: 3 of 5 pass: result
        3/5 passed, status error, the failed names in the output and the
        status message, tests error.  T03-S7: a script exiting 1: status
        error, exit_code != 0, and the next command is taken at once."""
        d = self.write_tests({"%s.sh" % n: ("exit %d" % (n == "c"), 0o755)
                              for n in "abcde"})
        dash, agent = self.up()
        st, msgs = self.run_job(dash, "test")
        tp = self.progress(msgs)
        self.assertEqual(tp, [
            {"current": 1, "total": 5, "passed": 0, "running": True, "result": ""},
            {"current": 2, "total": 5, "passed": 1, "running": True, "result": ""},
            {"current": 3, "total": 5, "passed": 2, "running": True, "result": ""},
            {"current": 4, "total": 5, "passed": 2, "running": True, "result": ""},
            {"current": 5, "total": 5, "passed": 3, "running": True, "result": ""},
            {"current": 5, "total": 5, "passed": 4, "running": False,
             "result": "4/5 passed"}])
        self.assertEqual((st["status"], st["message"]),
                         ("error", "4/5 passed; failed: c.sh"))

        for n, code in (("b", 1), ("d", 2)):
            (d / ("%s.sh" % n)).write_text("#!/bin/sh\nexit %d\n" % code)
        (d / "c.sh").write_text("#!/bin/sh\nexit 0\n")
        st, msgs = self.run_job(dash, "test")
        self.assertEqual(self.progress(msgs)[-1],
                         {"current": 5, "total": 5, "passed": 3,
                          "running": False, "result": "3/5 passed"})
        self.assertEqual((st["status"], st["exit_code"], st["message"]),
                         ("error", 1, "3/5 passed; failed: b.sh, d.sh"))
        lines = self.lines(msgs)
        self.assertIn("❌ b.sh failed (exit 1)", lines)
        self.assertIn("❌ d.sh failed (exit 2)", lines)
        self.assertEqual(self.compartment_of(dash, time.time()),
                         ("error", "Tests failed (3/5 passed)"))

        for n in "abcde":
            (d / ("%s.sh" % n)).unlink()
        self.write_tests({"fail.sh": ("echo failing; exit 1", 0o755)})
        st, msgs = self.run_job(dash, "test")
        self.assertEqual(st["status"], "error")
        self.assertNotEqual(st["exit_code"], 0)
        t = self.send(dash, "refresh-git")
        nxt = self.wait_status(dash, t, 5)[0]
        self.assertEqual(payload(nxt)["status"], "ok")
        self.assertLess(nxt["t"] - t, 2.0)
        self.assertEqual(dash.messages("command_rejected"), [])
        self.assertTrue(agent.running())

    def test_t03_s5_t08_s4_stop(self):
        """T03-S5, T08-S4: stop during the third of 3 scripts, which
        ignores SIGTERM: SIGTERM, SIGKILL 3 s later (the status 2.5-6 s
        after the stop), the script killed, one status stopped/130 "Stopped
        by user", the final test_progress keeps the counts (2/3 passed);
        the agent is still connected and takes a new command at once."""
        self.write_tests({
            "a.sh": ("exit 0", 0o755), "b.sh": ("exit 0", 0o755),
            "c.sh": ("trap '' TERM; echo started; sleep 30", 0o755)})
        dash, agent = self.up()
        t = self.send(dash, "test")
        self.wait(lambda: "started" in self.lines(self.job_msgs(dash, t)), 10,
                  "started")
        hb = self.wait_message(dash, "heartbeat", 3, since=time.time())[0]
        pid = payload(hb)["command_pid"]
        ts = self.send(dash, "stop")
        st = self.wait_status(dash, t, 15)[0]
        took = st["t"] - ts
        self.assertGreaterEqual(took, 2.5, "SIGKILL before 3 s: %.2f" % took)
        self.assertLessEqual(took, 6.0, "status only after %.2f s" % took)
        self.assertFalse(h.alive(pid), "the script still runs")
        tn = self.send(dash, "refresh-git")
        nxt = self.wait_status(dash, tn, 5)[0]
        self.assertLess(nxt["t"] - tn, 2.0)
        self.assertEqual(payload(nxt)["status"], "ok")
        msgs = [m for m in self.job_msgs(dash, t) if m["t"] < tn]
        self.assertEqual([payload(m) for m in msgs
                          if h.msg_type(m) == "status"],
                         [{"status": "stopped", "command": "test",
                           "exit_code": 130, "message": "Stopped by user",
                           "generation": h.head7(self.repo)}])
        self.assertIn("⏹ Stopping test (SIGTERM)", self.lines(msgs))
        self.assertEqual(self.progress(msgs)[-1],
                         {"current": 3, "total": 3, "passed": 2,
                          "running": False, "result": "Stopped (2/3 passed)"})
        op = self.progress(msgs, "operation_progress")
        self.assertEqual(op[-1]["progress"]["tests"]["status"], "error")
        self.assertEqual(len(dash.connects()), 1)
        self.assertEqual(dash.closes(), [])
        self.assertEqual(dash.messages("command_rejected"), [])

    def test_t03_s6_line_latency_and_log(self):
        """T03-S6: each line reaches the dashboard within 100 ms of the
        child writing it (median; every one within 0.5 s on this loaded
        machine); stderr lines have is_error true, stdout false; the output
        is also in the local log, <state>/logs/<UTC>-test.log."""
        self.write_tests({"lines.sh": (
            'for i in 1 2 3 4 5 6 7 8 9 10; do echo "out $i $(date +%s.%N)"; '
            'echo "err $i $(date +%s.%N)" >&2; sleep 0.1; done', 0o755)})
        dash, agent = self.up()
        st, msgs = self.run_job(dash, "test")
        self.assertEqual(st["status"], "ok")
        got = [m for m in msgs if h.msg_type(m) == "output"
               and re.match(r"(out|err) \d+ ", payload(m)["line"])]
        self.assertEqual(len(got), 20, self.lines(msgs))
        lat = []
        for m in got:
            p = payload(m)
            kind, _, when = p["line"].split(" ")
            lat.append(m["t"] - float(when))
            self.assertEqual((p["stream"], p["is_error"]),
                             ("stderr", True) if kind == "err" else
                             ("stdout", False), p)
        self.assertLessEqual(statistics.median(lat), 0.1, lat)
        self.assertLessEqual(max(lat), 0.5, lat)
        # §6.1's local log: <state>/logs/<UTC>-test.log.
        logs = list(Path(self.state, "logs").glob("*-test.log"))
        self.assertEqual(len(logs), 1, logs)
        self.assertRegex(logs[0].name, r"^\d{8}T\d{6}Z-test\.log$")
        text = logs[0].read_text()
        for m in got:
            p = payload(m)
            self.assertRegex(text, r"(?m)^\d{4}-\d\d-\d\dT[0-9:.]+Z %s %s$" % (
                p["stream"], re.escape(p["line"])))
        self.assertRegex(text.splitlines()[-1], r"Z status exit=0$")

    def test_t03_s8_restart_and_reboot(self):
        """T03-S8: reboot: its banner, then status {ok, reboot, 0,
        rebooting} and a heartbeat, and only then (3 s later) sudo reboot;
        restart: status {ok, restart, 0, restarting}, then a heartbeat,
        then close 1000 shutdown, exit 0."""
        dash, agent = self.up()
        t = self.send(dash, "reboot")
        st = self.wait_status(dash, t)[0]
        self.assertEqual(payload(st), {"status": "ok", "command": "reboot",
                                       "exit_code": 0, "message": "rebooting",
                                       "generation": h.head7(self.repo)})
        msgs = self.job_msgs(dash, t)
        self.assertEqual([(h.msg_type(m), payload(m).get("line"))
                          for m in msgs if m["t"] <= st["t"]],
                         [("output", "⚠️  Reboot command received. System "
                           "will reboot in 3 seconds..."), ("status", None)])
        hb = self.wait_message(dash, "heartbeat", 3, since=st["t"])[0]
        self.assertLess(hb["t"] - st["t"], 0.5)
        self.assertNotIn("sudo reboot", self.stub_calls())
        t_rb = self.wait(lambda: "sudo reboot" in self.stub_calls() and
                         time.time(), 10, "sudo reboot")
        self.assertGreaterEqual(t_rb - st["t"], 2.5)
        self.assertIn("reboot ", self.stub_calls())

        t = self.send(dash, "restart")
        st = self.wait_status(dash, t)[0]
        self.assertEqual(payload(st), {"status": "ok", "command": "restart",
                                       "exit_code": 0, "message": "restarting",
                                       "generation": h.head7(self.repo)})
        self.assertEqual(agent.wait_exit(10), 0)
        close = self.wait(lambda: dash.closes(st["conn"]), 5, "the close")[0]
        self.assertEqual((close["code"], close["reason"]), (1000, "shutdown"))
        after = [h.msg_type(r) for r in dash.messages(conn=st["conn"])
                 if r["t"] >= st["t"]]
        self.assertEqual(after[:2], ["status", "heartbeat"], after)

    def test_t03_s9_t09_03_pull_switch(self):
        """T03-S9: every output of a successful pull-switch (git's lines,
        the switch's lines, the agent's own) has command pull-switch, the
        status's command; then the exit 101 of a switch.  T09-03: on a
        dirty checkout the switch sees the cleaned tree at the new commit
        (tracked file restored, untracked file gone)."""
        remote, clone = self.isolated_repo()
        (Path(clone) / "untracked.txt").write_text("junk\n")
        (Path(clone) / "flake.nix").write_text("dirty\n")
        new = h.commit(self.repo, "new.txt")
        h.git(self.repo, "push", "-q", remote, "main")
        # The switch reports the tree it builds from (--flake <dir>#<host>).
        rebuild = Path(self.stubs) / "nixos-rebuild"
        rebuild.write_text(
            '#!/bin/sh\necho "nixos-rebuild $*" >> "$(dirname "$0")/calls.log"\n'
            'dir=${3%%#*}\n'
            'echo "flake.nix: $(cat "$dir/flake.nix")"\n'
            'if [ -e "$dir/untracked.txt" ]; then echo "untracked: there"; '
            'else echo "untracked: gone"; fi\n'
            'echo "head: $(git -C "$dir" rev-parse --short=7 HEAD)"\n')
        dash, agent = self.up(**self.isolated_env(remote, clone))
        st, msgs = self.run_job(dash, "pull-switch")
        self.assertEqual((st["command"], st["status"], st["generation"]),
                         ("pull-switch", "ok", new))
        lines = self.lines(msgs)
        self.assertTrue([l for l in lines if l.startswith("HEAD is now at")],
                        lines)
        self.assertIn("flake.nix: { outputs = _: { }; }", lines)
        self.assertIn("untracked: gone", lines)
        self.assertIn("head: " + new, lines)
        self.assertIn("sudo nixos-rebuild switch --flake %s#%s" % (
            clone, h.HOSTNAME), self.stub_calls())
        phases = [list(payload(m)["progress"])[0] for m in msgs
                  if h.msg_type(m) == "operation_progress"]
        self.assertEqual(phases, ["pull", "pull", "system", "system"])
        self.assertEqual(agent.wait_exit(10), 101)

    # ------------------------------------------------------------ T07

    def test_t07_s1_pull_then_switch(self):
        """T07-S1: pull then switch (isolated mode): for each the first
        record within 1 s (dispatch target 500 ms) and the first output
        within 2 s of the command, each switch line within 1 s of being
        written; heartbeats throughout, never more than 45 s (nor
        interval + 1 s) apart; the generation updated by the pull (its
        status and the heartbeats after); both status ok; after the switch
        status, heartbeat, close 1000 shutdown, exit 101, and the next
        instance registers with the new generation."""
        remote, clone = self.isolated_repo()
        old = h.head7(clone)
        new = h.commit(self.repo, "new.txt")
        h.git(self.repo, "push", "-q", remote, "main")
        self.timed_rebuild(3, 1)
        dash, agent = self.up(**self.isolated_env(remote, clone))
        t0 = time.time()
        hb = self.wait_message(dash, "heartbeat", 3, since=t0)[0]
        self.assertEqual(payload(hb)["generation"], old)

        tp = self.send(dash, "pull")
        stp = self.wait_status(dash, tp, 20)[0]
        msgs = [m for m in self.job_msgs(dash, tp) if m["t"] <= stp["t"]]
        self.assertLess(msgs[0]["t"] - tp, 1.0)
        outs = [m for m in msgs if h.msg_type(m) == "output"]
        self.assertTrue(outs)
        self.assertLess(outs[0]["t"] - tp, 2.0)
        self.assertEqual((payload(stp)["status"], payload(stp)["exit_code"],
                          payload(stp)["generation"]), ("ok", 0, new))
        hb = self.wait_message(dash, "heartbeat", 3, since=stp["t"])[0]
        self.assertEqual(payload(hb)["generation"], new)

        ts = self.send(dash, "switch")
        sts = self.wait_status(dash, ts, 20)[0]
        msgs = [m for m in self.job_msgs(dash, ts) if m["t"] <= sts["t"]]
        self.assertLess(msgs[0]["t"] - ts, 1.0)
        steps = [m for m in msgs if h.msg_type(m) == "output"
                 and payload(m)["line"].startswith("step ")]
        self.assertEqual(len(steps), 3, self.lines(msgs))
        self.assertLess(steps[0]["t"] - ts, 2.0)
        for m in steps:
            self.assertLess(m["t"] - float(payload(m)["line"].split()[2]), 1.0)
        self.assertEqual((payload(sts)["status"], payload(sts)["exit_code"],
                          payload(sts)["generation"]), ("ok", 0, new))
        self.assertIn("sudo nixos-rebuild switch --flake %s#%s" % (
            clone, h.HOSTNAME), self.stub_calls())
        busy = [payload(r) for r in dash.messages("heartbeat", since=ts)
                if r["t"] < sts["t"]]
        self.assertGreaterEqual(len(busy), 2)
        self.assertTrue(all(b["pending_command"] == "switch" for b in busy))

        self.assertEqual(agent.wait_exit(10), 101)
        t_end = dash.closes()[-1]["t"]
        g = self.heartbeat_gaps(dash, t0, sts["t"])
        self.assertLess(max(g), 45)
        self.assertLessEqual(max(g), 2.0, g)
        after = [h.msg_type(r) for r in dash.messages(since=sts["t"])]
        self.assertEqual(after[:2], ["status", "heartbeat"], after)
        close = dash.closes()[-1]
        self.assertEqual((close["code"], close["reason"]), (1000, "shutdown"))
        self.assertGreaterEqual(t_end, sts["t"])
        tr = time.time()
        self.start_agent(agent.env)
        reg = self.wait_message(dash, "register", 10, since=tr)[0]
        self.assertEqual(payload(reg)["generation"], new)

    def test_t07_s2_switch_fails(self):
        """T07-S2: a switch failing with a syntax error: the error streamed
        (stderr, is_error), status error, system error, the generation
        unchanged (status and heartbeat), no exit, and a retry is taken."""
        self.timed_rebuild(1, 0, fail="error: syntax error, unexpected '}', "
                           "expecting ';' at /repo/flake.nix:3:1")
        dash, agent = self.up()
        gen = h.head7(self.repo)
        st, msgs = self.run_job(dash, "switch")
        self.assertEqual((st["status"], st["exit_code"], st["message"],
                          st["generation"]),
                         ("error", 1, "command failed", gen))
        err = [payload(m) for m in msgs if h.msg_type(m) == "output"
               and "syntax error" in payload(m)["line"]]
        self.assertEqual(len(err), 1, self.lines(msgs))
        self.assertEqual((err[0]["stream"], err[0]["is_error"]),
                         ("stderr", True))
        hb = self.wait_message(dash, "heartbeat", 3, since=time.time())[0]
        self.assertEqual(payload(hb)["generation"], gen)
        sysc = payload(hb)["update_status"]["system"]
        self.assertEqual((sysc["status"], sysc["message"]),
                         ("error", "Switch failed (exit 1)"))
        st, _ = self.run_job(dash, "switch")
        self.assertEqual(st["status"], "error")
        self.assertEqual(dash.messages("command_rejected"), [])
        self.assertTrue(agent.running())

    def test_t07_s3_network_drops_during_switch(self):
        """T07-S3: the link drops during a switch and upgrades fail until
        it has finished: the switch finishes, the agent reconnects and
        registers again, then its buffered lines (every one, once, in
        order) and the final status arrive, and it exits 101."""
        done = self.timed_rebuild(4, 0.7)
        dash, agent = self.up()
        t = self.send(dash, "switch")
        self.wait(lambda: [l for l in self.lines(self.job_msgs(dash, t))
                           if l.startswith("step ")], 10, "the first step")
        dash.control("reject 503")
        dash.control("drop")
        self.wait(done.exists, 15, "the switch to finish")
        self.assertEqual(dash.messages("status", since=t), [])
        time.sleep(0.5)
        dash.control("reject off")
        st = self.wait_status(dash, t, 40)[0]
        regs = dash.messages("register", since=t)
        self.assertTrue(regs, "no register after the drop")
        self.assertEqual(st["conn"], regs[-1]["conn"])
        self.assertEqual((payload(st)["status"], payload(st)["exit_code"]),
                         ("ok", 0))
        time.sleep(0.3)
        steps = [l.split()[1] for l in self.lines(self.job_msgs(dash, t))
                 if l.startswith("step ")]
        self.assertEqual(steps, ["1", "2", "3", "4"])
        self.assertEqual(len(dash.messages("status", since=t)), 1)
        self.assertGreaterEqual(len(dash.records("reject")), 1)
        self.assertEqual(agent.wait_exit(10), 101)

    # ------------------------------------------------------------ T08

    def test_t08_s1_s3_compartments(self):
        """T08-S3: no test directory, then an empty one: result no tests,
        status ok, tests ok "No tests defined".  T08-S1: 5 passing scripts:
        progress 1/5 .. 5/5, result 5/5 passed, status ok, tests ok."""
        dash, agent = self.up()
        d = Path(self.repo) / "hosts" / h.HOSTNAME / "tests"
        for make in (False, True):
            if make:
                d.mkdir(parents=True)
            st, msgs = self.run_job(dash, "test")
            self.assertEqual((st["status"], st["exit_code"], st["message"]),
                             ("ok", 0, "no tests"))
            self.assertEqual(self.progress(msgs)[-1]["result"], "no tests")
            self.assertEqual(self.compartment_of(dash, time.time()),
                             ("ok", "No tests defined"))
        self.write_tests({"%d.sh" % i: ("true", 0o755) for i in range(5)})
        st, msgs = self.run_job(dash, "test")
        tp = self.progress(msgs)
        self.assertEqual([(p["current"], p["total"]) for p in tp],
                         [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5), (5, 5)])
        self.assertEqual(tp[-1]["result"], "5/5 passed")
        self.assertEqual(st["status"], "ok")
        self.assertEqual(self.compartment_of(dash, time.time()),
                         ("ok", "All tests passed"))


# JobsTest's own tests run in test_jobs.py, not again here.
for _name in dir(tj.JobsTest):
    if _name.startswith("test") and _name not in ScenarioTest.__dict__:
        setattr(ScenarioTest, _name, None)


if __name__ == "__main__":
    h.main()
