#!/usr/bin/python3
"""Fleet commands end to end (nixfleet-protocol.md §6, §7 T03, T07, T08):
the real agent against the reference dashboard, jobs run by the per-job
runner, real git repositories, and stub executables first on PATH for
sudo, nixos-rebuild, home-manager, nix and reboot that record their argv.
Durability: the exec-worker killed mid-job, the dashboard away mid-job."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
import harness as h  # noqa: E402
from sshd import Sshd  # noqa: E402

JOB_TYPES = ("output", "status", "operation_progress", "test_progress",
             "command_rejected")

# Every stub appends "<name> <argv...>" to calls.log beside it, prints a
# line on stdout and one on stderr, and exits with the contents of
# <name>.exit beside it (0 without it).  sudo runs the rest of its argv.
# (The supervisor hands its workers an allow-listed environment: PATH
# reaches jobs, other variables do not.)
STUB = r"""#!/bin/sh
name=$(basename "$0")
STUB_DIR=$(dirname "$0")
echo "$name $*" >> "$STUB_DIR/calls.log"
if [ "$name" = sudo ]; then exec "$@"; fi
if [ "$name" = systemd-run ]; then
    # The unit's command follows "--"; it runs detached, as a unit would.
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do shift; done
    shift
    setsid "$@" </dev/null >/dev/null 2>&1 &
    exit 0
fi
echo "$name running"
echo "$name warning" >&2
if [ -f "$STUB_DIR/$name.sleep" ]; then sleep "$(cat "$STUB_DIR/$name.sleep")"; fi
if [ -f "$STUB_DIR/$name.exit" ]; then exit "$(cat "$STUB_DIR/$name.exit")"; fi
exit 0
"""


def payload(rec):
    return rec["data"].get("payload", {})


class JobsTest(h.AgentTestCase):

    def setUp(self):
        super().setUp()
        self.stubs = self.work.mkdir("stubs", 0o755)
        for name in ("sudo", "nixos-rebuild", "home-manager", "nix",
                     "reboot", "systemd-run"):
            p = Path(self.stubs) / name
            p.write_text(STUB)
            p.chmod(0o755)
        self.stub_log = Path(self.stubs) / "calls.log"
        Path(self.stub_log).write_text("")
        self.state = None

    # ------------------------------------------------------------ helpers

    def env(self, url, **over):
        env = self.agent_env(url, **over)
        env["PATH"] = str(self.stubs) + ":" + h.PATH
        self.state = env["NIXFLEET_STATE_DIR"]
        return env

    def up(self, **over):
        dash = self.start_dashboard()
        agent = self.start_agent(self.env(dash.url(), **over))
        self.wait_message(dash, "heartbeat", 10)
        return dash, agent

    def stub_set(self, name, what, value):
        (Path(self.stubs) / ("%s.%s" % (name, what))).write_text(str(value))

    def stub_calls(self):
        return [l for l in Path(self.stub_log).read_text().splitlines() if l]

    def send(self, dash, name):
        t = time.time()
        r = dash.control("command " + name)
        self.assertTrue(r["ok"], (r, self.context()))
        return t

    def job_msgs(self, dash, since=0.0, types=JOB_TYPES):
        return [r for r in dash.messages(since=since) if h.msg_type(r) in types]

    def wait_status(self, dash, since, timeout=20, count=1):
        return self.wait_message(dash, "status", timeout, count=count,
                                 since=since)

    def lines(self, msgs):
        return [payload(m)["line"] for m in msgs if h.msg_type(m) == "output"]

    def check_command_field(self, msgs):
        """T03-S9: every output of the job carries the status's command."""
        st = [m for m in msgs if h.msg_type(m) == "status"]
        self.assertEqual(len(st), 1, msgs)
        cmd = payload(st[0])["command"]
        for m in msgs:
            if h.msg_type(m) == "output":
                self.assertEqual(payload(m)["command"], cmd, m)
        return payload(st[0])

    def run_job(self, dash, name, timeout=20):
        t = self.send(dash, name)
        self.wait_status(dash, t, timeout)
        time.sleep(0.3)
        msgs = self.job_msgs(dash, t)
        return self.check_command_field(msgs), msgs

    def write_tests(self, scripts):
        d = Path(self.repo) / "hosts" / h.HOSTNAME / "tests"
        d.mkdir(parents=True, exist_ok=True)
        for name, (body, mode) in scripts.items():
            p = d / name
            p.write_text("#!/bin/sh\n" + body + "\n")
            p.chmod(mode)
        return d

    # ------------------------------------------------------------ T03

    def test_test_scripts(self):
        """T03-S4, T08-S2: per-script progress, exact lines and verdict;
        a non-executable script is skipped and not counted."""
        self.write_tests({
            "a.sh": ("echo a-out", 0o755),
            "b.sh": ("echo b-err >&2; exit 3", 0o755),
            "c.sh": ("exit 0", 0o644),
            "d.sh": ("echo d", 0o755),
        })
        dash, _ = self.up()
        st, msgs = self.run_job(dash, "test")
        self.assertEqual(st["status"], "error")
        self.assertEqual(st["exit_code"], 1)
        self.assertEqual(st["message"], "2/3 passed; failed: b.sh")
        lines = self.lines(msgs)
        self.assertEqual(lines, [
            "⏭ c.sh skipped (not executable)",
            "▶ a.sh", "a-out", "✅ a.sh passed",
            "▶ b.sh", "b-err", "❌ b.sh failed (exit 3)",
            "▶ d.sh", "d", "✅ d.sh passed"])
        err = [payload(m) for m in msgs if h.msg_type(m) == "output"
               and payload(m)["line"] == "b-err"][0]
        self.assertEqual(err["stream"], "stderr")
        self.assertTrue(err["is_error"])
        tp = [payload(m) for m in msgs if h.msg_type(m) == "test_progress"]
        self.assertEqual([(p["current"], p["running"]) for p in tp],
                         [(1, True), (2, True), (3, True), (3, False)])
        self.assertEqual(tp[-1], {"current": 3, "total": 3, "passed": 2,
                                  "running": False, "result": "2/3 passed"})
        op = [payload(m)["progress"] for m in msgs
              if h.msg_type(m) == "operation_progress"]
        self.assertEqual(op[0], {"tests": {"current": 0, "total": 8,
                                           "results": None,
                                           "status": "in_progress"}})
        self.assertEqual(op[-1]["tests"]["status"], "error")
        # The heartbeat after the status shows no job (D7), and tests error.
        hb = self.wait_message(dash, "heartbeat", 5, since=time.time())[0]
        self.assertIsNone(payload(hb)["pending_command"])
        self.assertEqual(payload(hb)["update_status"]["tests"]["status"],
                         "error")

    def test_text_log(self):
        """T03-S6, §6.1: the job's output is also in
        <state>/logs/<UTC>-<command>.log, one line per record; the newest
        100 logs are kept."""
        self.write_tests({"a.sh": ("echo a-out; echo a-err >&2", 0o755)})
        dash, agent = self.up()
        logs = Path(agent.env["NIXFLEET_STATE_DIR"]) / "logs"
        logs.mkdir(mode=0o700, exist_ok=True)
        for i in range(105):
            (logs / ("20200101T0000%02dZ-pull.log" % i)).write_text("old\n")
        (logs / "update-agent-20200101T000000Z.log").write_text("kept\n")
        st, _ = self.run_job(dash, "test")
        self.assertEqual(st["status"], "ok")
        names = sorted(p.name for p in logs.iterdir())
        dated = [n for n in names if n[0].isdigit()]
        self.assertEqual(len(dated), 100, names)
        self.assertIn("update-agent-20200101T000000Z.log", names)
        self.assertNotIn("20200101T000005Z-pull.log", names)
        self.assertRegex(dated[-1], r"^\d{8}T\d{6}Z-test\.log$")
        log = logs / dated[-1]
        self.assertEqual(log.stat().st_mode & 0o777, 0o600)
        text = log.read_text()
        ts = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
        self.assertRegex(text, r"(?m)^%s stdout a-out$" % ts)
        self.assertRegex(text, r"(?m)^%s stderr a-err$" % ts)
        self.assertRegex(text, r"(?m)^%s status exit=0$" % ts)

    def test_test_all_pass_and_none(self):
        """T08-S1, T08-S3."""
        dash, _ = self.up()
        st, msgs = self.run_job(dash, "test")
        self.assertEqual((st["status"], st["exit_code"], st["message"]),
                         ("ok", 0, "no tests"))
        tp = [payload(m) for m in msgs if h.msg_type(m) == "test_progress"]
        self.assertEqual(tp, [{"current": 0, "total": 0, "passed": 0,
                               "running": False, "result": "no tests"}])
        self.write_tests({"%d.sh" % i: ("true", 0o755) for i in range(5)})
        st, msgs = self.run_job(dash, "test")
        self.assertEqual((st["status"], st["exit_code"], st["message"]),
                         ("ok", 0, "5/5 passed"))
        tp = [payload(m) for m in msgs if h.msg_type(m) == "test_progress"]
        self.assertEqual([p["current"] for p in tp], [1, 2, 3, 4, 5, 5])
        self.assertEqual(tp[-1]["result"], "5/5 passed")

    def test_switch(self):
        """T03-S2: the exact argv, status ok, then the agent exits 101
        and the service manager's restart registers again."""
        dash, agent = self.up()
        st, msgs = self.run_job(dash, "switch")
        self.assertEqual((st["status"], st["exit_code"]), ("ok", 0))
        self.assertIn("sudo nixos-rebuild switch --flake %s#%s" % (
            self.repo, h.HOSTNAME), self.stub_calls())
        self.assertIn("nixos-rebuild switch --flake %s#%s" % (
            self.repo, h.HOSTNAME), self.stub_calls())
        self.assertIn("nixos-rebuild running", self.lines(msgs))
        op = [payload(m)["progress"] for m in msgs
              if h.msg_type(m) == "operation_progress"]
        self.assertEqual(op, [
            {"system": {"current": 0, "total": 3, "status": "in_progress"}},
            {"system": {"current": 3, "total": 3, "status": "complete"}}])
        self.assertEqual(agent.wait_exit(10), 101)
        closes = dash.closes()
        self.assertTrue(closes and closes[-1]["code"] == 1000, closes)
        # The new instance registers again.
        t = time.time()
        self.start_agent(agent.env)
        self.wait_message(dash, "register", 10, since=t)

    def test_switch_fails(self):
        """T07-S2: the error is streamed, status error, a retry works."""
        self.stub_set("nixos-rebuild", "exit", 4)
        dash, agent = self.up()
        st, msgs = self.run_job(dash, "switch")
        self.assertEqual((st["status"], st["exit_code"], st["message"]),
                         ("error", 4, "command failed"))
        self.assertIn("nixos-rebuild warning", self.lines(msgs))
        op = [payload(m)["progress"] for m in msgs
              if h.msg_type(m) == "operation_progress"]
        self.assertEqual(op[-1], {"system": {"current": 0, "total": 3,
                                             "status": "error"}})
        self.assertTrue(agent.running())
        st, _ = self.run_job(dash, "switch")
        self.assertEqual(st["exit_code"], 4)

    def test_simple_commands(self):
        """rollback, update, bump-flake, refresh-*, unknown; force-update's
        four steps with their banners."""
        dash, _ = self.up()
        st, msgs = self.run_job(dash, "rollback")
        self.assertEqual(st["status"], "ok")
        self.assertEqual(self.lines(msgs)[0],
                         "🔄 Rolling back to previous generation...")
        self.assertIn("sudo nixos-rebuild --rollback switch", self.stub_calls())
        st, _ = self.run_job(dash, "update")
        self.assertEqual(st["status"], "ok")
        self.assertIn("nix flake update", self.stub_calls())
        st, _ = self.run_job(dash, "bump-flake")
        self.assertEqual((st["status"], st["message"]),
                         ("ok", "nixfleet input updated"))
        self.assertIn("nix flake update nixfleet", self.stub_calls())
        st, msgs = self.run_job(dash, "refresh-git")
        self.assertEqual(st["message"], "git status check is dashboard-side")
        self.assertEqual(self.lines(msgs),
                         ["Git status is checked by dashboard (GitHub API)"])
        st, msgs = self.run_job(dash, "refresh-lock")
        self.assertEqual((st["status"], st["message"]), ("ok", "Updated today"))
        self.assertEqual(self.lines(msgs), ["✓ Lock status: Updated today"])
        st, _ = self.run_job(dash, "bogus")
        self.assertEqual((st["status"], st["exit_code"], st["message"]),
                         ("error", 1, "unknown command"))
        st, _ = self.run_job(dash, "stop")
        self.assertEqual((st["status"], st["command"], st["message"]),
                         ("error", "stop", "no command running"))
        st, _ = self.run_job(dash, "kill")
        self.assertEqual((st["command"], st["message"]),
                         ("kill", "no command running"))

    def test_check_version(self):
        """T03-S10: a different installed version is a warning, exit 0."""
        stub = Path(self.stubs) / "nixfleet-agent"
        stub.write_text("#!/bin/sh\necho 'nixfleet-agent 0.0.1-other'\n")
        stub.chmod(0o755)
        dash, _ = self.up()
        st, _ = self.run_job(dash, "check-version")
        self.assertEqual((st["status"], st["exit_code"]), ("warning", 0))
        self.assertEqual(st["message"], "mismatch: running=%s installed="
                         "0.0.1-other" % h.project_version())
        stub.write_text("#!/bin/sh\necho 'nixfleet-agent %s'\n" %
                        h.project_version())
        st, _ = self.run_job(dash, "check-version")
        self.assertEqual((st["status"], st["exit_code"]), ("ok", 0))

    def test_pull_legacy(self):
        """T09-07: legacy pull runs git pull against a real remote; the
        status carries the new generation."""
        remote = self.work.path("remote.git")
        h.git(self.repo, "init", "-q", "--bare", remote) if False else None
        subprocess.run(["git", "clone", "-q", "--bare", str(self.repo), remote],
                       env=h.GIT_ENV, check=True)
        h.git(self.repo, "remote", "add", "origin", remote)
        h.git(self.repo, "fetch", "-q", "origin")
        h.git(self.repo, "branch", "-q", "--set-upstream-to=origin/main", "main")
        other = self.work.path("other")
        subprocess.run(["git", "clone", "-q", remote, other], env=h.GIT_ENV,
                       check=True)
        new = h.commit(other, "new.txt")
        h.git(other, "push", "-q", "origin", "main")
        dash, _ = self.up(HOME="/nonexistent", GIT_CONFIG_NOSYSTEM="1",
                          GIT_CONFIG_GLOBAL="/dev/null")
        st, msgs = self.run_job(dash, "pull")
        self.assertEqual((st["status"], st["exit_code"]), ("ok", 0), msgs)
        self.assertEqual(st["generation"], new)
        op = [payload(m)["progress"] for m in msgs
              if h.msg_type(m) == "operation_progress"]
        self.assertEqual(op, [
            {"pull": {"current": 0, "total": 4, "status": "in_progress"}},
            {"pull": {"current": 4, "total": 4, "status": "complete"}}])
        st, msgs = self.run_job(dash, "force-update")
        self.assertEqual((st["status"], st["message"]),
                         ("ok", "force update complete"))
        lines = self.lines(msgs)
        for banner in ("━━━ Step 1/4: Git pull ━━━",
                       "━━━ Step 2/4: Update nixfleet input ━━━",
                       "━━━ Step 3/4: Rebuild ━━━", "━━━ Step 4/4: Done ━━━"):
            self.assertIn(banner, lines)
        self.assertIn("sudo nixos-rebuild switch --flake .#%s --option "
                      "narinfo-cache-negative-ttl 0" % h.HOSTNAME,
                      self.stub_calls())

    def test_pull_isolated(self):
        """T03-S1, T09-02: fetch, reset --hard, clean -fd on a dirty tree."""
        remote = self.work.path("remote.git")
        subprocess.run(["git", "clone", "-q", "--bare", str(self.repo), remote],
                       env=h.GIT_ENV, check=True)
        clone = self.work.path("clone")
        subprocess.run(["git", "clone", "-q", remote, clone], env=h.GIT_ENV,
                       check=True)
        (Path(clone) / "untracked.txt").write_text("junk\n")
        (Path(clone) / "flake.nix").write_text("dirty\n")
        new = h.commit(self.repo, "new.txt")
        h.git(self.repo, "push", "-q", remote, "main")
        dash, _ = self.up(NIXFLEET_REPO_URL=remote, NIXFLEET_REPO_DIR=clone,
                          HOME="/nonexistent", GIT_CONFIG_NOSYSTEM="1",
                          GIT_CONFIG_GLOBAL="/dev/null")
        t = self.send(dash, "pull")
        st_t = self.wait_status(dash, t, 20)[0]["t"]
        # The heartbeat right after the status has the new commit too.
        hb = self.wait_message(dash, "heartbeat", 5, since=st_t)
        self.assertEqual(payload(hb[0])["generation"], new)
        time.sleep(0.3)
        msgs = self.job_msgs(dash, t)
        st = self.check_command_field(msgs)
        self.assertEqual((st["status"], st["generation"]), ("ok", new), msgs)
        self.assertFalse((Path(clone) / "untracked.txt").exists())
        self.assertEqual((Path(clone) / "flake.nix").read_text(),
                         "{ outputs = _: { }; }\n")

    def test_pull_ssh_key(self):
        """T09-06: an isolated pull from an ssh:// remote (the shared test
        sshd on a loopback port) authenticates with NIXFLEET_SSH_KEY, which
        git gets as GIT_SSH_COMMAND=ssh -i <key> -o
        StrictHostKeyChecking=no; without it the same pull fails (an
        unknown host key, no usable key)."""
        h.require_root()
        sshd = Sshd(self.work.path("sshd"))
        sshd.start()
        self.addCleanup(sshd.close)
        remote = self.work.path("remote.git")
        subprocess.run(["git", "clone", "-q", "--bare", str(self.repo), remote],
                       env=h.GIT_ENV, check=True)
        clone = self.work.path("clone")
        subprocess.run(["git", "clone", "-q", remote, clone], env=h.GIT_ENV,
                       check=True)
        url = sshd.url(remote)
        h.git(clone, "remote", "set-url", "origin", url)
        new = h.commit(self.repo, "new.txt")
        h.git(self.repo, "push", "-q", remote, "main")
        env = dict(NIXFLEET_REPO_URL=url, NIXFLEET_REPO_DIR=clone,
                   HOME="/nonexistent", GIT_CONFIG_NOSYSTEM="1",
                   GIT_CONFIG_GLOBAL="/dev/null")
        dash, agent = self.up(**env)
        st, msgs = self.run_job(dash, "pull", timeout=30)
        self.assertEqual(st["status"], "error", msgs)
        agent.terminate()
        t = time.time()
        self.start_agent(self.env(dash.url(), NIXFLEET_SSH_KEY=str(
            sshd.client_key), **env))
        self.wait_message(dash, "heartbeat", 10, since=t)
        st, msgs = self.run_job(dash, "pull", timeout=30)
        self.assertEqual((st["status"], st["generation"]), ("ok", new),
                         (msgs, sshd.log_text()))
        fp = subprocess.run(["ssh-keygen", "-lf", str(sshd.client_key) +
                             ".pub"], capture_output=True, text=True,
                            check=True).stdout.split()[1]
        self.assertRegex(sshd.log_text(), r"Accepted publickey for root from "
                         r"127\.0\.0\.1 port \d+ ssh2: ED25519 %s\n" %
                         re.escape(fp))

    def test_pull_switch_fails_at_pull(self):
        """§6.3: a failed pull ends pull-switch with exit 1, no switch."""
        dash, _ = self.up(NIXFLEET_REPO_URL=self.work.path("nowhere.git"))
        st, msgs = self.run_job(dash, "pull-switch")
        self.assertEqual((st["status"], st["exit_code"]), ("error", 1))
        self.assertTrue(st["message"].startswith("pull failed (exit "), st)
        self.assertFalse([c for c in self.stub_calls() if "nixos-rebuild" in c])
        # §3.5: no switch ran, so the system compartment got no verdict.
        hb = self.wait_message(dash, "heartbeat", 5, since=time.time())[0]
        self.assertEqual(payload(hb)["update_status"]["system"]["status"], "",
                         payload(hb)["update_status"])

    def test_stop_busy_bypass(self):
        """T02-S7, T03-S5: busy rejection with the child's pid, stop ends
        the job with one status stopped/130, a new command is accepted."""
        self.write_tests({"long.sh": ("echo started; sleep 30", 0o755)})
        dash, agent = self.up()
        t = self.send(dash, "test")
        self.wait(lambda: [m for m in self.job_msgs(dash, t)
                           if h.msg_type(m) == "output"
                           and payload(m)["line"] == "started"], 10, "started")
        hb = self.wait_message(dash, "heartbeat", 5, since=time.time())[0]
        self.assertEqual(payload(hb)["pending_command"], "test")
        pid = payload(hb)["command_pid"]
        self.assertIsInstance(pid, int)
        self.send(dash, "switch")
        rej = self.wait_message(dash, "command_rejected", 5, since=t)[0]
        self.assertEqual(payload(rej), {"reason": "command already running",
                                        "current_command": "test",
                                        "current_pid": pid})
        self.send(dash, "bogus")
        self.wait_message(dash, "command_rejected", 5, count=2, since=t)
        ts = self.send(dash, "stop")
        st = self.wait_status(dash, t, 15)
        time.sleep(1)
        self.assertEqual(len(dash.messages("status", since=t)), 1)
        self.assertEqual(payload(st[0]), {"status": "stopped", "command": "test",
                                          "exit_code": 130,
                                          "message": "Stopped by user",
                                          "generation": h.head7(self.repo)})
        self.assertLess(st[0]["t"] - ts, 5)
        msgs = self.job_msgs(dash, t)
        self.assertIn("⏹ Stopping test (SIGTERM)", self.lines(msgs))
        tp = [payload(m) for m in msgs if h.msg_type(m) == "test_progress"]
        self.assertEqual(tp[-1]["result"], "Stopped (0/1 passed)")
        self.assertEqual(len(dash.messages("command_rejected", since=t)), 2)
        self.assertTrue(agent.running())
        st, _ = self.run_job(dash, "refresh-git")
        self.assertEqual(st["status"], "ok")

    def test_kill_and_kill_command(self):
        """§6.5 kill (SIGTERM, the job's status error/-1 killed by
        SIGTERM); §2.10 kill_command with the job's pid and SIGKILL; a
        kill_command naming another pid is ignored."""
        self.write_tests({"long.sh": ("echo started; sleep 30", 0o755)})
        dash, _ = self.up()
        for how in ("kill", "kill_command"):
            t = self.send(dash, "test")
            self.wait(lambda: [m for m in self.job_msgs(dash, t)
                               if h.msg_type(m) == "output" and
                               payload(m)["line"] == "started"], 10, "started")
            hb = self.wait_message(dash, "heartbeat", 5, since=time.time())[0]
            pid = payload(hb)["command_pid"]
            if how == "kill":
                self.send(dash, "kill")
                want = "killed by SIGTERM"
            else:
                dash.control("kill_command SIGKILL %d" % (pid + 100000))
                time.sleep(1)
                self.assertEqual(dash.messages("status", since=t), [])
                dash.control("kill_command SIGKILL %d" % pid)
                want = "killed by SIGKILL"
            st = self.wait_status(dash, t, 15)
            time.sleep(0.5)
            self.assertEqual(len(dash.messages("status", since=t)), 1)
            self.assertEqual((payload(st[0])["status"], payload(st[0])["exit_code"],
                              payload(st[0])["message"], payload(st[0])["command"]),
                             ("error", -1, want, "test"))
            self.assertEqual(dash.messages("command_rejected", since=t), [])

    def test_restart_and_reboot(self):
        """T03-S8: restart's status, heartbeat, close 1000, exit 0;
        reboot's banner, status ok, heartbeat, then sudo reboot."""
        dash, agent = self.up()
        t = self.send(dash, "reboot")
        st = self.wait_status(dash, t)
        self.assertEqual((payload(st[0])["status"], payload(st[0])["message"]),
                         ("ok", "rebooting"))
        msgs = self.job_msgs(dash, t)
        self.assertEqual(self.lines(msgs), [
            "⚠️  Reboot command received. System will reboot in 3 seconds..."])
        self.wait_message(dash, "heartbeat", 3, since=st[0]["t"])
        self.assertNotIn("sudo reboot", self.stub_calls())
        self.wait(lambda: "reboot " in self.stub_calls(), 10, "sudo reboot")
        self.assertIn("sudo reboot", self.stub_calls())
        time.sleep(1.5)     # a reboot that worked: no failure line
        self.assertEqual([m for m in dash.messages("output", since=t)
                          if "Reboot failed" in payload(m)["line"]], [])
        t = self.send(dash, "restart")
        st = self.wait_status(dash, t)
        self.assertEqual(payload(st[0]), {"status": "ok", "command": "restart",
                                          "exit_code": 0, "message": "restarting",
                                          "generation": h.head7(self.repo)})
        self.assertEqual(agent.wait_exit(10), 0)
        hb = [m for m in dash.messages("heartbeat", since=st[0]["t"])]
        self.assertTrue(hb)
        self.assertEqual(dash.closes()[-1]["code"], 1000)

    def test_reboot_fails(self):
        """§6.3: when sudo reboot fails after reboot's status: the output
        line "❌ Reboot failed: <error>" (stderr, is_error) and a log
        line, no second status; the agent goes on."""
        self.stub_set("reboot", "exit", 1)
        dash, agent = self.up()
        t = self.send(dash, "reboot")
        st = self.wait_status(dash, t)
        self.assertEqual(payload(st[0])["message"], "rebooting")
        fail = self.wait(lambda: [m for m in dash.messages("output", since=t)
                                  if "Reboot failed" in payload(m)["line"]],
                         15, "the reboot failure line")
        self.assertEqual(payload(fail[0]), {
            "line": "❌ Reboot failed: reboot warning", "stream": "stderr",
            "command": "reboot", "is_error": True})
        self.wait_log(agent, r"reboot failed: reboot warning", 5)
        time.sleep(1.5)
        self.assertEqual(len(dash.messages("status", since=t)), 1)
        self.assertEqual(len(fail), 1)
        # Not busy: the next command runs.
        st, _ = self.run_job(dash, "refresh-git")
        self.assertEqual(st["status"], "ok")

    def test_heartbeats_and_latency(self):
        """T02-S2, T08-S5: heartbeats go on during a job, every one with
        pending_command and command_pid; T03-S6: lines arrive as they are
        written (>= 3 of 5 lines 0.1 s apart within 2 s)."""
        self.write_tests({"slow.sh": (
            "for i in 1 2 3 4 5; do echo line $i; sleep 0.1; done; sleep 5",
            0o755)})
        dash, _ = self.up()
        t = self.send(dash, "test")
        time.sleep(2)
        lines = [m for m in self.job_msgs(dash, t) if h.msg_type(m) == "output"
                 and payload(m)["line"].startswith("line ")]
        self.assertGreaterEqual(len(lines), 3)
        st = self.wait_status(dash, t, 20)
        hb = [payload(m) for m in dash.messages("heartbeat", since=t + 0.5)
              if m["t"] < st[0]["t"]]
        self.assertGreaterEqual(len(hb), 4)
        for b in hb:
            self.assertEqual(b["pending_command"], "test")
            self.assertIsInstance(b["command_pid"], int)
        after = dash.messages("heartbeat", since=st[0]["t"])
        self.assertIsNone(payload(after[0])["pending_command"])
        self.assertIsNone(payload(after[0])["command_pid"])

    def test_repo_user(self):
        """§6.1 identity: with NIXFLEET_USER a root agent runs the host
        tests as that user with its HOME, and nixos-rebuild as root."""
        h.require_root()
        user = "nfa-jobs-test"
        if subprocess.run(["id", user], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode != 0:
            subprocess.run(["useradd", "-M", "-d", "/nonexistent-nfa", user],
                           check=True)
        for p in (self.work.dir, self.repo):
            os.chmod(p, 0o755)
        self.write_tests({"who.sh": ('echo "$(id -un) $HOME"', 0o755)})
        os.chmod(Path(self.repo) / "hosts", 0o755)
        dash, _ = self.up(NIXFLEET_USER=user)
        st, msgs = self.run_job(dash, "test")
        self.assertEqual(st["status"], "ok", msgs)
        self.assertIn("%s /nonexistent-nfa" % user, self.lines(msgs))
        self.stub_set("nixos-rebuild", "sleep", 0)
        (Path(self.stubs) / "nixos-rebuild").write_text(
            "#!/bin/sh\necho \"rebuild as $(id -un)\"\n")
        st, msgs = self.run_job(dash, "rollback")
        self.assertIn("rebuild as root", self.lines(msgs))

    def test_systemd_unit(self):
        """Where systemd runs a root agent the runner is a transient unit
        nixfleet-agent-job-<id>, --collect; a failing systemd-run ends the
        job with an error status instead of leaving it busy."""
        h.require_root()
        dash, _ = self.up(INVOCATION_ID="0123456789abcdef")
        st, msgs = self.run_job(dash, "update")
        self.assertEqual(st["status"], "ok")
        units = [c for c in self.stub_calls() if c.startswith("systemd-run ")]
        self.assertEqual(len(units), 1, self.stub_calls())
        self.assertRegex(units[0], r"--unit=nixfleet-agent-job-\d+ --collect ")
        self.assertIn(" -P plan ", units[0])
        self.stub_set("systemd-run", "exit", 1)
        (Path(self.stubs) / "systemd-run").write_text(
            "#!/bin/sh\necho \"systemd-run $*\" >> $(dirname $0)/calls.log\n"
            "exit 1\n")
        st, _ = self.run_job(dash, "update")
        self.assertEqual(st["status"], "error")
        st, _ = self.run_job(dash, "refresh-git")
        self.assertEqual(st["status"], "ok")

    # ------------------------------------------------------------ §6.5

    def legacy_remote(self):
        """The repository tracks a bare remote that has one commit more."""
        remote = self.work.path("remote.git")
        subprocess.run(["git", "clone", "-q", "--bare", str(self.repo), remote],
                       env=h.GIT_ENV, check=True)
        h.git(self.repo, "remote", "add", "origin", remote)
        h.git(self.repo, "fetch", "-q", "origin")
        h.git(self.repo, "branch", "-q", "--set-upstream-to=origin/main", "main")
        other = self.work.path("other")
        subprocess.run(["git", "clone", "-q", remote, other], env=h.GIT_ENV,
                       check=True)
        return other

    def start_update(self, **over):
        """update-agent: the banner alone, close 1000, exit 0, no status."""
        dash, agent = self.up(**over)
        t = self.send(dash, "update-agent")
        self.assertEqual(agent.wait_exit(15), 0, self.context())
        msgs = self.job_msgs(dash, t)
        self.assertEqual([h.msg_type(m) for m in msgs], ["output"], msgs)
        line = self.lines(msgs)[0]
        self.assertEqual(payload(msgs[0])["command"], "update-agent")
        prefix = "⬆️ Agent update started (detached); log: "
        self.assertTrue(line.startswith(prefix), line)
        log = line[len(prefix):]
        self.assertRegex(log, r"^%s/logs/update-agent-\d{8}T\d{6}Z\.log$" %
                         self.state)
        self.assertEqual(dash.closes()[-1]["code"], 1000)
        return dash, agent, t, log

    def test_update_agent_fails(self):
        """§6.5 1-4 (failure): the next agent adopts the running update
        (pending_command, the script's pid), streams its lines, reports
        exit N with the log, and keeps running.  Under systemd the script
        is the transient unit nixfleet-agent-update."""
        h.require_root()
        self.legacy_remote()
        self.stub_set("nix", "exit", 3)
        self.stub_set("nix", "sleep", 3)
        dash, agent, t, log = self.start_update(
            INVOCATION_ID="0123456789abcdef", HOME="/nonexistent",
            GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null")
        units = [c for c in self.stub_calls() if c.startswith("systemd-run ")]
        self.assertEqual(len(units), 1, self.stub_calls())
        self.assertIn("--unit=nixfleet-agent-update --collect ", units[0])
        t2 = time.time()
        agent2 = self.start_agent(agent.env)
        hb = payload(self.wait_message(dash, "heartbeat", 10, since=t2)[0])
        self.assertEqual(hb["pending_command"], "update-agent")
        cmdline = Path("/proc/%d/cmdline" % hb["command_pid"]).read_bytes()
        self.assertEqual(cmdline.split(b"\0")[:2], [b"sh", b"-c"], cmdline)
        self.assertIn(b"\0nixfleet-agent-update\0%s\0legacy\0main\0%s\0" % (
            str(self.repo).encode(), h.HOSTNAME.encode()), cmdline)
        # Busy: another command is rejected as usual.
        r = self.send(dash, "update")
        rej = self.wait_message(dash, "command_rejected", 10, since=r)
        self.assertEqual(payload(rej[0])["current_command"], "update-agent")
        st = payload(self.wait_status(dash, t2, 30)[0])
        self.assertEqual((st["command"], st["status"], st["exit_code"],
                          st["message"]),
                         ("update-agent", "error", 3,
                          "update failed (exit 3), see %s" % log))
        lines = self.lines(self.job_msgs(dash, t2))
        self.assertIn("nix running", lines)
        self.assertIn("nix warning", lines)
        self.assertFalse([l for l in lines if l.startswith("⬆️")], lines)
        time.sleep(2)
        self.assertTrue(agent2.running())
        text = Path(log).read_text()
        self.assertRegex(text, r"Z stdout nix running\n")
        self.assertRegex(text, r"Z stderr nix warning\n")
        self.assertTrue(text.endswith("status exit=3\n"), text)
        calls = self.stub_calls()
        self.assertIn("nix flake update nixfleet", calls)
        self.assertFalse([c for c in calls if "nixos-rebuild" in c], calls)

    def test_update_agent_succeeds(self):
        """§6.5 (success): pull, flake update, switch; the next agent
        reports ok, a heartbeat, close 1000, exit 101; the one after it
        registers with nothing pending and no second status."""
        other = self.legacy_remote()
        new = h.commit(other, "new.txt")
        h.git(other, "push", "-q", "origin", "main")
        self.stub_set("nixos-rebuild", "sleep", 2)
        dash, agent, t, log = self.start_update(
            HOME="/nonexistent", GIT_CONFIG_NOSYSTEM="1",
            GIT_CONFIG_GLOBAL="/dev/null")
        t2 = time.time()
        agent2 = self.start_agent(agent.env)
        st = self.wait_status(dash, t2, 30)
        self.assertEqual((payload(st[0])["status"], payload(st[0])["exit_code"],
                          payload(st[0])["message"]),
                         ("ok", 0, "update complete, restarting"))
        self.assertEqual(payload(st[0])["generation"], new)
        self.assertEqual(agent2.wait_exit(15), 101)
        self.assertTrue(dash.messages("heartbeat", since=st[0]["t"]))
        self.assertEqual(dash.closes()[-1]["code"], 1000)
        calls = self.stub_calls()
        flake = "%s#%s" % (self.repo, h.HOSTNAME)
        self.assertEqual([c for c in calls if not c.startswith("systemd-run")],
                         ["nix flake update nixfleet",
                          "sudo nixos-rebuild switch --flake " + flake,
                          "nixos-rebuild switch --flake " + flake])
        self.assertEqual(h.head7(self.repo), new)
        self.assertTrue(Path(log).read_text().endswith("status exit=0\n"))
        t3 = time.time()
        self.start_agent(agent.env)
        self.wait_message(dash, "register", 10, since=t3)
        hb = payload(self.wait_message(dash, "heartbeat", 10, since=t3)[0])
        self.assertIsNone(hb["pending_command"])
        time.sleep(1.5)
        self.assertEqual(len(dash.messages("status", since=t)), 1)

    def test_update_agent_ssh(self):
        """§6.5 in isolated mode from an ssh:// remote: the script's fetch,
        reset and clean authenticate with NIXFLEET_SSH_KEY."""
        h.require_root()
        sshd = Sshd(self.work.path("sshd"))
        sshd.start()
        self.addCleanup(sshd.close)
        remote = self.work.path("remote.git")
        subprocess.run(["git", "clone", "-q", "--bare", str(self.repo), remote],
                       env=h.GIT_ENV, check=True)
        clone = self.work.path("clone")
        subprocess.run(["git", "clone", "-q", remote, clone], env=h.GIT_ENV,
                       check=True)
        (Path(clone) / "untracked.txt").write_text("junk\n")
        h.git(clone, "remote", "set-url", "origin", sshd.url(remote))
        new = h.commit(self.repo, "new.txt")
        h.git(self.repo, "push", "-q", remote, "main")
        dash, agent, t, log = self.start_update(
            NIXFLEET_REPO_URL=sshd.url(remote), NIXFLEET_REPO_DIR=clone,
            NIXFLEET_SSH_KEY=str(sshd.client_key), HOME="/nonexistent",
            GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null")
        t2 = time.time()
        agent2 = self.start_agent(agent.env)
        st = payload(self.wait_status(dash, t2, 30)[0])
        self.assertEqual((st["status"], st["message"]),
                         ("ok", "update complete, restarting"),
                         (Path(log).read_text(), sshd.log_text()))
        self.assertEqual(agent2.wait_exit(15), 101)
        self.assertEqual(h.head7(clone), new)
        self.assertFalse((Path(clone) / "untracked.txt").exists())
        self.assertIn("Accepted publickey for root from 127.0.0.1",
                      sshd.log_text())
        self.assertIn("sudo nixos-rebuild switch --flake %s#%s" % (
            clone, h.HOSTNAME), self.stub_calls())

    # ------------------------------------------------------------ §3.5 lock

    def lock_of(self, rec):
        lk = payload(rec)["update_status"]["lock"]
        return (lk["status"], lk["message"])

    def hb_after_status(self, dash, t):
        st = self.wait_status(dash, t)
        hb = self.wait_message(dash, "heartbeat", 5, since=st[0]["t"])[0]
        return payload(st[0]), hb

    def test_lock_recheck(self):
        """§3.5: the startup check, and the re-check after pull, update and
        bump-flake shown by the heartbeat that follows their status."""
        h.git(self.repo, "rm", "-q", "flake.lock")
        h.git(self.repo, "commit", "-q", "-m", "no lock")
        other = self.legacy_remote()
        (Path(other) / "flake.lock").write_text('{"version": 7}\n')
        h.git(other, "add", "flake.lock")
        h.git(other, "commit", "-q", "-m", "lock")
        h.git(other, "push", "-q", "origin", "main")
        dash, _ = self.up(HOME="/nonexistent", GIT_CONFIG_NOSYSTEM="1",
                          GIT_CONFIG_GLOBAL="/dev/null")
        hb = self.wait_message(dash, "heartbeat", 10)[0]
        self.assertEqual(self.lock_of(hb), ("unknown", "flake.lock not found"))
        t = self.send(dash, "pull")
        st, hb = self.hb_after_status(dash, t)
        self.assertEqual(st["status"], "ok")
        self.assertEqual(self.lock_of(hb), ("ok", "Updated today"))
        # update without a lock file any more, then bump-flake bringing it
        # back: each re-check shows in the next heartbeat.
        (Path(self.repo) / "flake.lock").unlink()
        t = self.send(dash, "update")
        st, hb = self.hb_after_status(dash, t)
        self.assertEqual(st["status"], "ok")
        self.assertEqual(self.lock_of(hb), ("unknown", "flake.lock not found"))
        (Path(self.stubs) / "nix").write_text(
            "#!/bin/sh\necho \"nix $*\" >> \"$(dirname \"$0\")/calls.log\"\n"
            "git checkout -q -- flake.lock\n")
        t = self.send(dash, "bump-flake")
        st, hb = self.hb_after_status(dash, t)
        self.assertEqual(st["message"], "nixfleet input updated")
        self.assertEqual(self.lock_of(hb), ("ok", "Updated today"))
        self.assertTrue((Path(self.repo) / "flake.lock").exists())

    # ------------------------------------------------------------ §3.5 system

    def test_refresh_system(self):
        """refresh-system's dry run (60 s limit in its plan): outdated when
        the output lacks the running system, error with nix's error text.
        (And the lock check at startup runs git: Updated today.)"""
        dash, _ = self.up()
        self.wait(lambda: [m for m in dash.messages("heartbeat") if
                           self.lock_of(m) == ("ok", "Updated today")], 10,
                  "the startup lock check in a heartbeat")
        st, msgs = self.run_job(dash, "refresh-system")
        self.assertEqual((st["status"], st["message"]), ("ok", "Rebuild needed"))
        self.assertEqual(self.lines(msgs), [])
        self.assertIn("nix build --experimental-features nix-command flakes "
                      "--dry-run --json %s#nixosConfigurations.%s.config."
                      "system.build.toplevel" % (self.repo, h.HOSTNAME),
                      self.stub_calls())
        plans = sorted(Path(self.state, "jobs").glob("*/plan"))
        self.assertIn("\ntimeout 60000\n", plans[-1].read_text())
        self.stub_set("nix", "exit", 1)
        st, _ = self.run_job(dash, "refresh-system")
        self.assertEqual((st["status"], st["message"]), ("ok", "nix warning"))
        hb = self.wait_message(dash, "heartbeat", 5, since=time.time())[0]
        sysc = payload(hb)["update_status"]["system"]
        self.assertEqual((sysc["status"], sysc["message"]),
                         ("error", "nix warning"))

    # ------------------------------------------------------------ durability

    def numbered_job(self, n, delay):
        self.write_tests({"count.sh": (
            "i=1; while [ $i -le %d ]; do echo line $i; i=$((i+1)); "
            "sleep %s; done" % (n, delay), 0o755)})

    def check_numbered(self, dash, t, n):
        st = self.wait_status(dash, t, 60)
        time.sleep(1)
        msgs = self.job_msgs(dash, t)
        lines = [l for l in self.lines(msgs) if l.startswith("line ")]
        self.assertEqual(lines, ["line %d" % i for i in range(1, n + 1)])
        self.assertEqual(len(dash.messages("status", since=t)), 1)
        self.assertEqual(payload(st[0])["status"], "ok")
        # The status is the last of the job's records.
        self.assertEqual(h.msg_type(msgs[-1]), "status")

    def test_exec_worker_killed(self):
        """kill -9 of the exec-worker while a job streams: every line
        once, in order, then one status."""
        self.numbered_job(60, 0.05)
        dash, agent = self.up()
        t = self.send(dash, "test")
        self.wait(lambda: len([m for m in self.job_msgs(dash, t)
                               if h.msg_type(m) == "output"]) > 10, 10, "lines")
        os.kill(agent.workers()["exec"], signal.SIGKILL)
        self.check_numbered(dash, t, 60)

    def test_whole_agent_killed(self):
        """T07-S4: every agent process killed while a job runs; a new agent
        on the same state adopts it (pending_command, command_pid), then
        delivers the rest of its lines and its one status."""
        self.numbered_job(80, 0.05)
        dash, agent = self.up()
        t = self.send(dash, "test")
        self.wait(lambda: len([m for m in self.job_msgs(dash, t)
                               if h.msg_type(m) == "output"]) > 10, 10, "lines")
        pids = [agent.pid] + list(agent.workers().values())
        for p in pids:
            os.kill(p, signal.SIGKILL)
        agent.wait_exit(5)
        t2 = time.time()
        self.start_agent(agent.env)
        hb = self.wait_message(dash, "heartbeat", 10, since=t2)[0]
        self.assertEqual(payload(hb)["pending_command"], "test")
        self.assertIsInstance(payload(hb)["command_pid"], int)
        self.check_numbered(dash, t, 80)

    def test_dashboard_away_mid_job(self):
        """The dashboard stops mid-job and comes back after the job ended:
        the missed lines and the status arrive after registered."""
        self.numbered_job(30, 0.05)
        dash, agent = self.up()
        t = self.send(dash, "test")
        self.wait(lambda: len([m for m in self.job_msgs(dash, t)
                               if h.msg_type(m) == "output"]) > 5, 10, "lines")
        dash.stop()
        time.sleep(3)
        dash.start(port=dash.port)
        self.check_numbered(dash, t, 30)
        reg = dash.messages("register")[-1]["t"]
        st = dash.messages("status", since=t)[0]
        self.assertGreater(st["t"], reg)

    def test_dashboard_stalled_then_dropped(self):
        """A dashboard that stopped reading, then a dropped link: frames
        still queued in the agent are lost with it, and after the
        reconnect the job is replayed from its last acknowledged record.
        Frames already written to the socket count as delivered (§6.7:
        not resent), so the lines lost are exactly one run, right after
        the last one read before the stall, no longer than the socket
        buffers hold; everything before and after it arrives once, in
        order, then one status."""
        n = 2000
        self.write_tests({"big.sh": (
            "pad=$(printf '%%08000d' 0); i=1; while [ $i -le %d ]; do "
            "echo \"line $i $pad\"; i=$((i+1)); done" % n, 0o755)})
        dash, agent = self.up()
        t = self.send(dash, "test")
        self.wait(lambda: [m for m in self.job_msgs(dash, t)
                           if h.msg_type(m) == "output"], 10, "a line")
        dash.control("silence")
        time.sleep(4)
        dash.control("drop")
        st = self.wait_status(dash, t, 90)
        time.sleep(1)
        by_conn = {}
        for m in self.job_msgs(dash, t, ("output",)):
            line = payload(m)["line"]
            self.assertNotIn("dropped while disconnected", line)
            if line.startswith("line "):
                by_conn.setdefault(m["conn"], []).append(int(line.split(" ")[1]))
        conns = sorted(by_conn)
        self.assertGreaterEqual(len(conns), 2, by_conn.keys())
        before = by_conn[conns[0]]
        after = [x for c in conns[1:] for x in by_conn[c]]
        # Before the stall: 1, 2, ... a-1; after the reconnect: b ... n.
        self.assertEqual(before, list(range(1, len(before) + 1)))
        self.assertTrue(after, "nothing after the reconnect")
        self.assertEqual(after, list(range(after[0], n + 1)))
        a, b = len(before) + 1, after[0]
        self.assertGreater(b, a, "the test did not stall the link")
        # The lost run was in the kernel's buffers (ours to send, the
        # dashboard's to read) and the dashboard's own (256 KiB reads).
        frame = 8100
        limit = sum(int(Path("/proc/sys/net/ipv4/tcp_%s" % k).read_text()
                        .split()[2]) for k in ("wmem", "rmem")) + 2 * 1024 * 1024
        self.assertLessEqual((b - a) * frame, limit,
                             "lines %d..%d lost: more than the socket "
                             "buffers hold" % (a, b - 1))
        self.assertEqual(len(dash.messages("status", since=t)), 1)
        self.assertEqual(payload(st[0])["status"], "ok")

    def test_drop_notice(self):
        """§6.7: a job writes 30 000 lines while the dashboard is down;
        after the reconnect the oldest of them are skipped and one
        notice with their number k stands where they were, then the
        newest lines (19 999 with the notice's) in order, then one
        status.  The journal keeps everything."""
        n = 30000
        self.write_tests({"count.sh": (
            "sleep 3; i=1; while [ $i -le %d ]; do echo line $i; "
            "i=$((i+1)); done" % n, 0o755)})
        dash, agent = self.up()
        t = self.send(dash, "test")
        self.wait(lambda: [m for m in self.job_msgs(dash, t)
                           if h.msg_type(m) == "output"], 10, "the banner")
        dash.stop()

        def runner_done():
            # The job's runner has exited: everything is in the journal.
            for p in h.all_pids():
                if h.proc_argv0(p) == "nixfleet-agent-runner":
                    try:
                        with open("/proc/%d/cmdline" % p, "rb") as f:
                            if self.state.encode() in f.read():
                                return False
                    except OSError:
                        pass
            return True
        time.sleep(3)
        self.wait(runner_done, 60, "the job's end")
        dash.start(port=dash.port)
        st = self.wait_status(dash, t, 60)
        time.sleep(1)
        self.assertEqual(len(dash.messages("status", since=t)), 1)
        msgs = self.job_msgs(dash, t)
        self.assertEqual(h.msg_type(msgs[-1]), "status")
        got = self.lines(msgs)
        want = ["▶ count.sh"] + ["line %d" % i for i in range(1, n + 1)] + \
            ["✅ count.sh passed"]
        notes = [i for i, l in enumerate(got)
                 if l.endswith("output lines dropped while disconnected")]
        self.assertEqual(len(notes), 1, got[:5])
        p = notes[0]
        self.assertRegex(got[p], r"^\[nixfleet-agent\] \d+ output lines "
                         r"dropped while disconnected$")
        k = int(got[p].split()[1])
        self.assertEqual(got[:p], want[:p])
        self.assertEqual(got[p + 1:], want[p + k:])
        # The backlog was all written while disconnected: what is left
        # is the limit, the notice included.
        self.assertEqual(len(got) - p, 20000)
        note = [m for m in msgs if h.msg_type(m) == "output"][p]
        self.assertEqual(payload(note)["command"], "test")
        self.assertEqual(payload(note)["stream"], "stdout")
        self.assertEqual(payload(st[0])["status"], "ok")
        self.assertEqual(payload(st[0])["message"], "1/1 passed")

    def test_dashboard_away_whole_job(self):
        """The dashboard goes away from the first line to the job's end."""
        self.numbered_job(20, 0.02)
        (Path(self.repo) / "hosts" / h.HOSTNAME / "tests" / "count.sh").write_text(
            "#!/bin/sh\nsleep 1\ni=1; while [ $i -le 20 ]; do echo line $i; "
            "i=$((i+1)); done\n")
        dash, agent = self.up()
        t = self.send(dash, "test")
        time.sleep(0.3)
        dash.stop()
        time.sleep(3)
        dash.start(port=dash.port)
        self.check_numbered(dash, t, 20)


if __name__ == "__main__":
    h.main()
