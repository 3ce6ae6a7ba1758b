#!/usr/bin/python3
"""The agent in the socketio dialect against the real peers of
tests/peers/socketio/: the socket.io 4.8 server on node, the
python-socketio 5.7 server and the raw Engine.IO peer.  Session-level
interop cases of socketio-protocol.md §8.3: I1 (handshake, HMAC, stats
fields), I2 (path prefix), I3 (wrong token, backoff, fresh ts), I4
(clock skew hint), I5 (engine heartbeat), I6 (silent heartbeat), I7
(exact ping ts), I9 (events before the CONNECT ack), I10 (no
maxPayload), I11 (kick, quick reconnect), I12 (binary attachment), I13
(other namespaces), I21 (TLS), I22 (SIGTERM), I23 (§2.7 rows); and on
both real servers the remote administration events routed through
net-worker/remote.c: I14 (2 MB of output, truncated), I15 (the admin
matrix: allowed, refused, empty allowlist, forbidden characters,
tokeniser, cwd, timeout, exit status, environment, token, rate limit),
I16 (a cron read, a cron write into a stand-in crontab), I17 (a PTY
round trip, resize, U+FFFD, slots, exit codes, shells off, the
session end hangs the shell up); on the node server I8 (an ack
callback on admin_run) and I18 (sync_keys
against a local TLS key source, tests/peers/keysource.py).  I19 and
I20 (backups) are in test_socketio_backup.py.  The first run installs
socket.io with `npm ci`."""

import base64
import hashlib
import hmac
import json
import os
import pwd
import re
import signal
import subprocess
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
import test_socketio_peers as sp  # noqa: E402

TOKEN = sp.TOKEN
CLIENT_ID = "host-01"

# §5.3: field -> type (ints are ints, floats may be written as ints)
STATS_FIELDS = {
    "cpu": (int, float), "mem": dict, "load": dict, "hostname": str,
    "platform": str, "release": str, "arch": str, "kernelVersion": str,
    "cpus": int, "uptimeSec": int, "lastReboot": str, "agentVersion": str,
    "ts": str,
}
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def setUpModule():
    h.require_agent()
    sp.npm_ci()


def good_sig(query, token=TOKEN):
    msg = '{"clientId":"%s","ts":%d}' % (query["clientId"], int(query["ts"]))
    return hmac.new(token.encode(), msg.encode(), hashlib.sha256).hexdigest()


class AgentCase:
    """Shared by the three peers: a work directory, the agent, helpers."""

    peer_class = None

    def setUp(self):
        self.work = h.Work(self.id().split(".")[-1][:40])
        self.addCleanup(self.work.cleanup)
        self.agent = None

    def start_peer(self, *args, cls=None):
        p = (cls or self.peer_class)(self.work, args)
        self.addCleanup(p.stop)
        return p.start()

    def env(self, peer, scheme="http", host="127.0.0.1", path="", **over):
        e = {
            "PATH": h.PATH,
            "CLIENT_ID": CLIENT_ID,
            "SERVER_URL": "%s://%s:%d%s" % (scheme, host, peer.port, path),
            "AUTH_TOKEN": TOKEN,
            "STATS_INTERVAL_SEC": "1",
            "NIXFLEET_STATE_DIR": str(self.work.mkdir("state")),
            "NIXFLEET_PRIVSEP_DIR": str(self.work.privsep_dir()),
            "LOG_LEVEL": "debug",
        }
        for k, v in over.items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = str(v)
        return e

    def start_agent(self, env):
        a = h.Agent(self.work, env)
        a.log_start = len(a.log())     # agents of one test share the log
        # Cleanups run last first: the check reads the log of a stopped agent.
        self.addCleanup(self.check_sanitizers, a)
        self.addCleanup(a.cleanup)
        self.agent = a
        return a.start()

    def check_sanitizers(self, agent):
        """Under -Db_sanitize the workers' reports reach the log (§2.7).
        LeakSanitizer cannot run in the sandboxed net-worker (it says so
        at exit): only its leak reports count."""
        self.assertIsNone(re.search(r"ERROR: AddressSanitizer|runtime "
                                    r"error:|detected memory leaks",
                                    agent.log()),
                          h.tail(agent.log(), 40))

    def context(self, peer=None):
        out = ""
        if self.agent:
            out += "--- agent log:\n" + h.tail(self.agent.log(), 60)
        if peer:
            out += "\n--- %s:\n%s" % (peer.name, "\n".join(
                line[:300] for line in h.tail(peer.output(), 20).splitlines()))
        return out

    def wait(self, pred, timeout, what, peer=None):
        try:
            return h.wait_for(pred, timeout, what=what)
        except h.Timeout as e:
            raise AssertionError("%s\n%s" % (e, self.context(peer))) from None

    def events(self, peer, name, conn=None):
        return [r for r in peer.records("event") if r["name"] == name and
                (conn is None or r.get("conn") == conn)]

    def wait_event(self, peer, name, timeout=10, count=1, conn=None):
        return self.wait(lambda: (lambda e: e if len(e) >= count else None)(
            self.events(peer, name, conn)), timeout,
            "%d %s event(s)" % (count, name), peer)

    def wait_connects(self, peer, count, timeout=15):
        return self.wait(lambda: (lambda c: c if len(c) >= count else None)(
            peer.records("connect")), timeout, "%d connects" % count, peer)


class RealServerCase(AgentCase):
    """The checks both real servers pass."""

    def check_connect(self, rec):
        q = rec["query"]
        self.assertEqual(q["EIO"], "4")
        self.assertEqual(q["transport"], "websocket")
        self.assertEqual(q["clientId"], CLIENT_ID)
        self.assertEqual(q["sig"], good_sig(q))
        self.assertLess(abs(int(q["ts"]) - time.time() * 1000), 60000)
        # The key stays in the supervisor: no bearer header, not in the URL.
        self.assertIsNone(h.header(rec.get("headers"), "authorization"))
        self.assertNotIn(TOKEN, json.dumps(rec))
        self.assertTrue(rec["url"].startswith("/socket.io/?") or
                        rec.get("path") == "/socket.io/", rec)

    def check_stats(self, ev):
        self.assertEqual(len(ev["args"]), 1)
        data = ev["args"][0]["data"]
        for k, t in STATS_FIELDS.items():
            self.assertIn(k, data)
            self.assertIsInstance(data[k], t, k)
        self.assertNotIsInstance(data["cpus"], bool)
        self.assertEqual(set(data["mem"]), {"used", "free", "total"})
        self.assertEqual(set(data["load"]), {"1m", "5m", "15m"})
        self.assertRegex(data["ts"], RFC3339)
        self.assertRegex(data["lastReboot"], RFC3339)
        self.assertEqual(data["agentVersion"], h.VERSION)
        self.assertTrue(0 <= data["cpu"] <= 100)
        for d in data.get("disk", []):
            self.assertEqual(set(d), {"mount", "fsname", "fstype", "used",
                                      "avail", "capacity"})
        for i in data.get("netIfaces", []):
            self.assertIn(i["family"], ("IPv4", "IPv6"))
            self.assertIsInstance(i["internal"], bool)

    def test_session(self):
        """I1, I5, I7: a signed handshake, hello_ack, stats within 1 s
        with every §5.3 field, stats every statsIntervalSec, pong with
        the exact ts, engine pings answered; one connection throughout."""
        peer = self.start_peer(*self.fast_ping)
        self.start_agent(self.env(peer))
        c = self.wait_connects(peer, 1)[0]
        self.check_connect(c)
        st = self.wait_event(peer, "stats", count=1)[0]
        self.check_stats(st)
        hello = [r for r in peer.records("sent")
                 if r["name"] == "hello_ack"][0]
        self.assertLess(st["t"] - hello["t"], 1.5)   # §8.3 I1: 1 s, loaded CI
        peer.control("ping 1795505706906")
        pong = self.wait_event(peer, "pong")[0]
        self.assertEqual(pong["args"], [{"ts": 1795505706906}])
        self.assertIsInstance(pong["args"][0]["ts"], int)
        n = len(self.events(peer, "stats"))
        self.wait_event(peer, "stats", count=n + 2, timeout=8)
        self.check_heartbeats(peer, t0=hello["t"])
        self.assertEqual(len(peer.records("connect")), 1, self.context(peer))
        self.assertEqual(peer.records("reject"), [])

    def test_reconnect_after_kick(self):
        """I11: the server disconnects an acked session: the agent is back
        within about a second, with a fresh ts and signature."""
        peer = self.start_peer()
        self.start_agent(self.env(peer))
        self.wait_event(peer, "stats")
        t0 = time.time()
        peer.control("disconnect")
        c = self.wait_connects(peer, 2, timeout=10)
        self.assertLess(c[1]["t"] - t0, 2.5, "reconnect took too long")
        self.check_connect(c[1])
        self.assertNotEqual(c[0]["query"]["ts"], c[1]["query"]["ts"])
        self.assertNotEqual(c[0]["query"]["sig"], c[1]["query"]["sig"])
        self.wait_event(peer, "stats", conn=c[1]["conn"])
        self.agent.wait_log(r"retrying in \d", 5)

    def test_wrong_token(self):
        """I3: refused with CONNECT_ERROR; the agent closes the socket
        itself, retries with doubling full-jitter delays and a fresh ts
        each time, and logs the §3.4 hint from the third rejection on."""
        peer = self.start_peer()
        self.start_agent(self.env(peer, AUTH_TOKEN="not-the-token"))
        rej = self.wait(lambda: (lambda r: r if len(r) >= 4 else None)(
            peer.records("reject")), 30, "4 rejections", peer)
        ts = [r["query"]["ts"] for r in rej]
        self.assertEqual(len(set(ts)), len(ts), "a ts was reused")
        for i, bound in enumerate((1.0, 2.0, 4.0)):
            gap = rej[i + 1]["t"] - rej[i]["t"]
            self.assertLessEqual(gap, bound + 1.0, "delay %d: %.2f s" % (i, gap))
            self.assertGreaterEqual(gap, 0.05)
        self.agent.wait_log(r"namespace refused: .*unauthorized", 5)
        self.agent.wait_log(r"check authToken and clock synchronisation", 5)
        self.assertEqual(self.events(peer, "stats"), [])

    def test_sigterm(self):
        """I22: SIGTERM while connected: DISCONNECT reaches the server
        ("client namespace disconnect" on node), the agent exits 0."""
        peer = self.start_peer()
        self.start_agent(self.env(peer))
        self.wait_event(peer, "stats")
        rc, took = self.agent.terminate(timeout=15)
        self.assertEqual(rc, 0, self.context(peer))
        self.assertLess(took, 15)
        d = self.wait(lambda: peer.records("disconnect"), 5, "disconnect",
                      peer)
        self.assertIn(d[0]["reason"], self.disconnect_reasons)


    # ------------------------------------------------ remote administration

    def admin_session(self, **env):
        peer = self.start_peer()
        self.start_agent(self.env(peer, **env))
        self.wait_event(peer, "stats")
        self.wait_policy()
        return peer

    def wait_policy(self):
        """The exec-worker has the supervisor's policy: until then every
        request is refused as with nothing configured (proto.h), and a
        slow start (sanitizers) can bring the session up first."""
        self.agent.wait_log(r"remote administration: \d+ commands", 10,
                            start=self.agent.log_start)

    def emit(self, peer, name, payload):
        peer.control("emit %s %s" % (name, json.dumps(payload)))

    def admin(self, peer, command, token, timeout=15, raw=False, **cmd):
        """admin_run {token, cmd: {command, **cmd}}: its result (the
        whole event with raw)."""
        self.emit(peer, "admin_run", {"token": token,
                                      "cmd": dict(cmd, command=command)})
        ev = self.wait(lambda: [e for e in self.events(peer, "admin_result")
                                if e["args"][0].get("token") == token],
                       timeout, "admin_result %s" % token, peer)[0]
        self.assertEqual(len(ev["args"]), 1)
        self.assertEqual(ev["args"][0]["command"], command)
        return ev if raw else ev["args"][0]["result"]

    def refused(self, r, code, stderr, error):
        self.assertEqual((r["summary"], r["stdout"], r["stderr"],
                          r.get("error")),
                         ({"code": code, "durationMs": 0}, "", stderr, error),
                         r)

    def shell_text(self, peer, session):
        return "".join(e["args"][0]["data"] for e in
                       self.events(peer, "shell_output")
                       if e["args"][0].get("session") == session)

    def test_admin_run(self):
        """I15, I16: an allow-listed admin_run answers admin_result with
        exit 0 and its output; one off the allowlist gets 126 with the
        exact stderr text; a cron read (crontab -l) runs as the agent's
        user and answers what the host's crontab says."""
        peer = self.admin_session(ADMIN_ALLOWED_COMMANDS="echo,crontab")
        r = self.admin(peer, 'echo "a b" c', "ok")
        self.assertEqual((r["summary"]["code"], r["stdout"], r["stderr"]),
                         (0, "a b c\n", ""), r)
        self.assertNotIn("error", r)
        r = self.admin(peer, "id -u", "no")
        self.assertEqual(r["summary"], {"code": 126, "durationMs": 0})
        self.assertEqual(r["stderr"], "command blocked by allowlist")
        self.assertEqual(r["error"], "command not allowed")
        r = self.admin(peer, "crontab -l", "cron-get")
        local = subprocess.run(["crontab", "-l"], capture_output=True,
                               text=True)
        self.assertEqual((r["summary"]["code"], r["stdout"]),
                         (local.returncode, local.stdout), r)
        self.assertEqual(len(peer.records("connect")), 1, self.context(peer))

    def test_admin_matrix(self):
        """I15: forbidden characters, a tokeniser error, a cwd outside
        the list, a timeout (124), a failing command (1), the reduced
        environment; then, on an agent with requireToken and
        rateLimitMax 1 (a config file: the key has no variable), a bad
        token (401) and the rate limit (429)."""
        cwd = self.work.mkdir("cwd")
        peer = self.admin_session(ADMIN_ALLOWED_COMMANDS="echo,sleep,false,env",
                                  ADMIN_ALLOWED_CWDS=cwd)
        self.refused(self.admin(peer, "echo a;b", "semi"), 126,
                     "command blocked: forbidden characters",
                     "command contains forbidden characters")
        self.refused(self.admin(peer, "echo a && b", "and"), 126,
                     "command blocked: forbidden characters",
                     "command contains forbidden characters")
        self.refused(self.admin(peer, "ls 'x", "quote"), 126,
                     "command blocked: invalid command",
                     "invalid command: unclosed quote")
        self.refused(self.admin(peer, "echo hi", "cwd", cwd="/"), 126,
                     "command blocked: cwd not allowed", "cwd not allowed")
        r = self.admin(peer, "echo in", "cwdok", cwd=str(cwd))
        self.assertEqual((r["summary"]["code"], r["stdout"]), (0, "in\n"), r)
        r = self.admin(peer, "sleep 5", "slow", timeoutSec=1)
        self.assertEqual((r["summary"]["code"], r["error"]),
                         (124, "timed out after 1s"), r)
        self.assertLess(r["summary"]["durationMs"], 4000)
        r = self.admin(peer, "false", "false")
        self.assertEqual((r["summary"]["code"], r["error"]),
                         (1, "exit status 1"), r)
        r = self.admin(peer, "env", "env")
        names = {line.split("=", 1)[0] for line in r["stdout"].splitlines()}
        self.assertEqual(r["summary"]["code"], 0, r)
        self.assertLessEqual(names, {"PATH", "HOME", "USER", "LANG", "LC_ALL",
                                     "TERM", "TMPDIR", "TEMP"}, r["stdout"])
        self.assertIn("PATH", names)
        self.assertNotIn(TOKEN, r["stdout"])
        self.assertEqual(len(peer.records("connect")), 1, self.context(peer))
        self.agent.terminate()

        conf = self.work.write("agent-config.json", json.dumps(
            {"admin": {"rateLimitMax": 1, "rateLimitWindowSec": 600}}))
        self.start_agent(self.env(peer, CLIENT_CONFIG_PATH=conf,
                                  ADMIN_ALLOWED_COMMANDS="echo",
                                  REQUIRE_COMMAND_TOKEN="1",
                                  COMMAND_TOKEN="s3cret"))
        self.wait_connects(peer, 2)
        self.wait_policy()
        self.refused(self.admin(peer, "echo x", "bad"), 401,
                     "unauthorized", "unauthorized")
        r = self.admin(peer, "echo x", "s3cret")
        self.assertEqual(r["summary"]["code"], 0, r)
        self.emit(peer, "admin_run", {"token": "s3cret",
                                      "cmd": {"command": "echo y"}})
        ev = self.wait(lambda: [e for e in self.events(peer, "admin_result")
                                if e["args"][0]["command"] == "echo y"],
                       15, "the second admin_result", peer)[0]
        self.refused(ev["args"][0]["result"], 429, "rate limited",
                     "rate limited")
        self.assertNotIn(TOKEN, self.agent.log())
        self.assertNotIn("s3cret", self.agent.log())

    def test_admin_output_cap(self):
        """I14: admin_run prints 2 MB (the servers' buffer is 1e6): the
        result is truncated (truncated: true), its stdout an exact prefix
        of the output with no marker added, the frame under maxPayload;
        the connection survives and answers the next command."""
        peer = self.admin_session(ADMIN_ALLOWED_COMMANDS="seq,echo")
        full = subprocess.run(["seq", "1", "310000"], capture_output=True,
                              text=True).stdout
        self.assertGreater(len(full), 2000000)
        ev = self.admin(peer, "seq 1 310000", "big", raw=True, timeout=30)
        r = ev["args"][0]["result"]
        self.assertIs(r["truncated"], True)
        self.assertEqual(r["summary"]["code"], 0, r["summary"])
        self.assertNotIn("error", r)
        self.assertGreater(len(r["stdout"]), 1000)
        self.assertTrue(full.startswith(r["stdout"]), r["stdout"][-80:])
        self.assertLess(len(json.dumps(ev["args"])), 1000000)
        r = self.admin(peer, "echo after", "after")
        self.assertEqual((r["stdout"], r.get("truncated")), ("after\n", None))
        self.assertEqual(len(peer.records("connect")), 1, self.context(peer))
        self.assertEqual(peer.records("disconnect"), [])

    def test_cron_write(self):
        """I16: the dashboard's cron write pipeline reaches a stand-in
        crontab on PATH as `crontab -` with the decoded bytes on stdin,
        answered with the same token within 8 s; bad base64 is refused as
        forbidden characters (126)."""
        fake = self.work.mkdir("fakebin", 0o755)
        rec = self.work.path("crontab.rec")
        (fake / "crontab").write_text(
            "#!/bin/sh\necho \"$*\" > %s.args\ncat > %s\n" % (rec, rec))
        (fake / "crontab").chmod(0o755)
        peer = self.admin_session(ADMIN_ALLOWED_COMMANDS="crontab",
                                  PATH="%s:%s" % (fake, h.PATH))
        tab = b"0 3 * * * /usr/local/bin/backup.sh\n# \xc3\xa9\n"
        b64 = base64.b64encode(tab).decode()
        t0 = time.time()
        r = self.admin(peer, "echo '%s' | base64 -d | crontab -" % b64,
                       "cron-set-host-01-1", timeout=8)
        self.assertLess(time.time() - t0, 8)
        self.assertEqual(r["summary"]["code"], 0, r)
        self.assertEqual(Path(rec).read_bytes(), tab)
        self.assertEqual(Path(str(rec) + ".args").read_text(), "-\n")
        self.refused(self.admin(peer, "echo 'a$b' | base64 -d | crontab -",
                                "cron-bad"), 126,
                     "command blocked: forbidden characters",
                     "command contains forbidden characters")

    def test_admin_run_empty_allowlist(self):
        """I15: with no allowlist every admin_run is refused (126)."""
        peer = self.admin_session()
        r = self.admin(peer, "echo hi", "t")
        self.assertEqual(r["summary"]["code"], 126, r)
        self.assertEqual(r["stderr"], "command blocked by allowlist")
        self.assertEqual(r["stdout"], "")

    def test_shell_round_trip(self):
        """I17: with admin.enableShell a PTY session: shell_start,
        shell_input "echo hi", shell_output with hi, every chunk within
        4096 bytes, shell_close, then shell_closed exactly once."""
        peer = self.admin_session(ENABLE_SHELL="1")
        self.emit(peer, "shell_start", {"session": "s1"})
        self.emit(peer, "shell_input", {"session": "s1",
                                        "data": "echo h''i\n"})
        self.wait(lambda: re.search(r"\r\n(\x1b\[\?2004l\r)?hi\r\n",
                                    self.shell_text(peer, "s1")), 10,
                  "the shell's hi", peer)
        for e in self.events(peer, "shell_output"):
            self.assertLessEqual(len(e["args"][0]["data"].encode()), 4096)
        self.emit(peer, "shell_close", {"session": "s1"})
        closed = self.wait_event(peer, "shell_closed")[0]["args"][0]
        self.assertEqual((closed["session"], closed["code"], closed["reason"]),
                         ("s1", -1, "signal: hangup"), closed)
        time.sleep(0.5)
        self.assertEqual(len(self.events(peer, "shell_closed")), 1)

    def test_shell_matrix(self):
        """I17: a resize with 0 is ignored and a real one applied; a byte
        that is not UTF-8 arrives as U+FFFD; a second shell with
        maxConcurrent 1 is refused (too many concurrent sessions); exit 3
        and exit 0 give "exit status 3" and "exit", each shell_closed
        once."""
        peer = self.admin_session(ENABLE_SHELL="1")
        self.emit(peer, "shell_start", {"session": "a"})
        self.emit(peer, "shell_start", {"session": "b"})
        ev = self.wait(lambda: [e["args"][0] for e in
                                self.events(peer, "shell_closed")
                                if e["args"][0]["session"] == "b"], 10,
                       "the second shell refused", peer)
        self.assertEqual(ev, [{"session": "b", "code": 1,
                               "reason": "too many concurrent sessions"}])
        self.emit(peer, "shell_resize", {"session": "a", "cols": 0,
                                         "rows": 50})
        self.emit(peer, "shell_input", {"session": "a",
                                        "data": "stty size; printf 'x\\377y\\n'\n"})
        self.wait(lambda: "24 80\r\n" in self.shell_text(peer, "a"), 10,
                  "the size unchanged", peer)
        self.wait(lambda: "x\ufffdy" in self.shell_text(peer, "a"), 10,
                  "U+FFFD for \\377", peer)
        self.emit(peer, "shell_resize", {"session": "a", "cols": 101,
                                         "rows": 33})
        self.emit(peer, "shell_input", {"session": "a",
                                        "data": "stty size\n"})
        self.wait(lambda: "33 101" in self.shell_text(peer, "a"), 10,
                  "the new size", peer)
        self.emit(peer, "shell_input", {"session": "a", "data": "exit 3\n"})
        closed = self.wait(lambda: [e["args"][0] for e in
                                    self.events(peer, "shell_closed")
                                    if e["args"][0]["session"] == "a"], 10,
                           "shell a closed", peer)
        self.assertEqual(closed, [{"session": "a", "code": 3,
                                   "reason": "exit status 3"}])
        # The slot is free again; exit 0 is code 0, "exit".
        self.emit(peer, "shell_start", {"session": "c"})
        self.emit(peer, "shell_input", {"session": "c", "data": "exit 0\n"})
        closed = self.wait(lambda: [e["args"][0] for e in
                                    self.events(peer, "shell_closed")
                                    if e["args"][0]["session"] == "c"], 10,
                           "shell c closed", peer)
        self.assertEqual(closed, [{"session": "c", "code": 0,
                                   "reason": "exit"}])
        time.sleep(0.5)
        self.assertEqual(len(self.events(peer, "shell_closed")), 3)

    def test_shell_disabled(self):
        """I17: shells off (the default): shell_start is answered with
        shell_closed {code 1, "shell access disabled"}."""
        peer = self.admin_session()
        self.emit(peer, "shell_start", {"session": "no"})
        closed = self.wait_event(peer, "shell_closed")[0]["args"][0]
        self.assertEqual(closed, {"session": "no", "code": 1,
                                  "reason": "shell access disabled"})

    def test_shell_ends_with_the_session(self):
        """I17, D6, §4.3: the server disconnects: the shell is hung up
        (its process is gone) and no shell_closed is sent for it; the
        next session gets a working shell."""
        peer = self.admin_session(ENABLE_SHELL="1")
        self.emit(peer, "shell_start", {"session": "old"})
        m = self.agent.wait_log(r"shell old started: \S+, pid (\d+)", 10)
        pid = int(m.group(1))
        self.assertTrue(h.alive(pid))
        peer.control("disconnect")
        self.wait(lambda: not h.alive(pid), 10, "the shell to end", peer)
        c = self.wait_connects(peer, 2, timeout=10)
        self.wait_event(peer, "stats", conn=c[1]["conn"])
        self.emit(peer, "shell_start", {"session": "new"})
        self.emit(peer, "shell_input", {"session": "new",
                                        "data": "echo n''ew\n"})
        self.wait(lambda: re.search(r"\r\n(\x1b\[\?2004l\r)?new\r\n",
                                    self.shell_text(peer, "new")), 10,
                  "the new shell", peer)
        self.assertEqual([e for e in self.events(peer, "shell_closed")
                          if e["args"][0]["session"] == "old"], [])


class NodeAgentTest(RealServerCase, unittest.TestCase):
    peer_class = sp.NodePeer
    fast_ping = ("--ping-interval", "300", "--ping-timeout", "300")
    disconnect_reasons = ("client namespace disconnect",)

    def check_heartbeats(self, peer, t0):
        self.wait(lambda: len(peer.records("heartbeat")) >= 20, 30,
                  "20 engine heartbeats answered", peer)

    def test_admin_run_with_ack(self):
        """I8: admin_run emitted with an ack callback: the agent acks
        at once with no arguments (the callback gets []) and still emits
        admin_result."""
        peer = self.admin_session(ADMIN_ALLOWED_COMMANDS="echo")
        peer.control("emit-ack admin_run %s" % json.dumps(
            {"token": "i8", "cmd": {"command": "echo acked"}}))
        ack = self.wait(lambda: peer.records("ack"), 15, "the ack", peer)
        self.assertEqual(ack[0]["args"], [], ack)
        ev = self.wait(lambda: [e for e in self.events(peer, "admin_result")
                                if e["args"][0].get("token") == "i8"],
                       15, "admin_result i8", peer)[0]
        self.assertEqual(ev["args"][0]["result"]["stdout"], "acked\n")
        self.assertEqual(len(peer.records("ack")), 1)

    def test_clock_skew(self):
        """I4: the server clock is 700 s ahead: rejected, retried, and the
        clock hint is logged after three failures."""
        peer = self.start_peer("--skew-ms", "700000")
        self.start_agent(self.env(peer))
        self.wait(lambda: len(peer.records("reject")) >= 3, 20,
                  "3 rejections", peer)
        self.agent.wait_log(r"3 rejections in a row: check authToken and "
                            r"clock synchronisation", 5)
        self.assertTrue(self.agent.running())

    def test_path_prefix(self):
        """I2: serverUrl with the prefix /api, server path /api/socket.io."""
        peer = self.start_peer("--path", "/api/socket.io")
        self.start_agent(self.env(peer, path="/api"))
        c = self.wait_connects(peer, 1)[0]
        self.assertTrue(c["url"].startswith("/api/socket.io/?EIO=4&"), c)
        self.wait_event(peer, "stats")

    def test_binary_then_ping(self):
        """I12: an attachment is consumed; the next ping still gets its pong."""
        peer = self.start_peer()
        self.start_agent(self.env(peer))
        self.wait_event(peer, "stats")
        peer.control("bin")
        peer.control("ping 4242")
        pong = self.wait_event(peer, "pong")[0]
        self.assertEqual(pong["args"], [{"ts": 4242}])
        self.assertEqual(len(peer.records("connect")), 1)

    def test_exec_restart(self):
        """The exec-worker dies: the session stays up, and stats come from
        the new exec-worker (its channel is a new one: IPC_SN_PEER)."""
        peer = self.start_peer()
        self.start_agent(self.env(peer))
        self.wait_event(peer, "stats")
        old = self.agent.wait_workers()
        os.kill(old["exec"], signal.SIGKILL)
        self.agent.wait_workers(timeout=15, exclude=(old["exec"],))
        self.agent.wait_log(r"new exec-worker channel", 10)
        t0 = time.time()
        self.wait(lambda: [e for e in self.events(peer, "stats")
                           if e["t"] > t0 + 0.5], 10,
                  "stats from the new exec-worker", peer)
        self.assertEqual(len(peer.records("connect")), 1, self.context(peer))
        self.assertEqual(self.agent.workers()["net"], old["net"])

    def test_net_restart(self):
        """The net-worker dies: the supervisor starts a new one, which gets
        the socketio settings again, a fresh signature, and a session."""
        peer = self.start_peer()
        self.start_agent(self.env(peer))
        self.wait_event(peer, "stats")
        old = self.agent.wait_workers()
        os.kill(old["net"], signal.SIGKILL)
        c = self.wait_connects(peer, 2, timeout=20)
        self.check_connect(c[1])
        self.assertNotEqual(c[0]["query"]["ts"], c[1]["query"]["ts"])
        self.wait_event(peer, "stats", conn=c[1]["conn"])

    def test_tls(self):
        """I21: wss:// with a test CA: verified when the CA is given;
        refused with no way to verify; accepted with a warning when
        AGENT_SKIP_TLS_VERIFY=true."""
        certs = h.certlib.make_certs(self.work.path("certs"))
        cert, key = certs.pair("server")
        peer = self.start_peer("--cert", str(cert), "--key", str(key))
        self.start_agent(self.env(peer, "https", "localhost",
                                  NIXFLEET_CA_FILE=certs.ca))
        self.wait_event(peer, "stats")
        self.agent.terminate()

        other = h.certlib.make_certs(self.work.path("certs2"))
        self.start_agent(self.env(peer, "https", "localhost",
                                  NIXFLEET_CA_FILE=other.ca))
        self.agent.wait_log(r"socketio: dial failed: .*(certif|verif|x509|unknown CA)",
                            20)
        self.assertEqual(len(peer.records("connect")), 1)
        self.agent.terminate()

        self.start_agent(self.env(peer, "https", "localhost",
                                  NIXFLEET_CA_FILE=other.ca,
                                  AGENT_SKIP_TLS_VERIFY="true"))
        self.wait_connects(peer, 2)
        self.agent.wait_log(r"warn.*TLS verification disabled", 5)

    def test_sync_keys(self):
        """I18: sync_keys against a local TLS key source (the base URL
        is admin.keysSourceUrl, its CA admin.keysCaFile): an invalid
        login is refused before anything is requested; 404; no valid
        keys; success with added > 0 (authorized_keys 0600, ~/.ssh 0700,
        owned by admin.keysUser); a repeat gives added 0 and leaves the
        file's mtime unchanged."""
        user = "nfsio%d" % (os.getpid() % 100000)
        subprocess.run(["useradd", "-m", "-d", "/tmp/%s-home" % user, user],
                       check=True)
        self.addCleanup(subprocess.run, ["userdel", "-r", user],
                        capture_output=True)
        key = self.work.path("k")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                        str(key)], check=True)
        line = Path(str(key) + ".pub").read_text().strip()
        keys = Path(self.work.mkdir("keys"))
        (keys / "octocat.keys").write_text(line + "\n")
        (keys / "nokeys.keys").write_text("no keys here\n")
        certs = h.certlib.make_certs(self.work.path("certs"))
        ks = h.KeySource(self.work, certs, keys)
        self.addCleanup(ks.stop)
        ks.start()
        peer = self.admin_session(ADMIN_KEYS_USER=user,
                                  ADMIN_KEYS_SOURCE_URL=ks.url(),
                                  ADMIN_KEYS_CA_FILE=certs.ca)

        def sync(login):
            n = len(self.events(peer, "keys_sync_result"))
            self.emit(peer, "sync_keys", {"user": login})
            ev = self.wait_event(peer, "keys_sync_result", 15, count=n + 1)
            return ev[n]["args"][0]

        self.assertEqual(sync("no/such"), {
            "user": "no/such", "ok": False,
            "error": 'invalid github user "no/such"'})
        self.assertEqual(ks.records("request"), [])
        self.assertEqual(sync("ghost"), {
            "user": "ghost", "ok": False,
            "error": "github responded 404 Not Found"})
        self.assertEqual(sync("nokeys"), {
            "user": "nokeys", "ok": False,
            "error": "no valid keys found for user"})
        r = sync("octocat")
        self.assertEqual((r["user"], r["ok"], r["added"]),
                         ("octocat", True, 1), "%s\n%s" % (r, self.context(peer)))
        self.assertIsInstance(r["ms"], int)
        pw = pwd.getpwnam(user)
        ssh = Path(pw.pw_dir, ".ssh")
        ak = ssh / "authorized_keys"
        self.assertEqual(ak.read_text(), line + "\n")
        st = ak.stat()
        self.assertEqual((st.st_uid, st.st_mode & 0o777), (pw.pw_uid, 0o600))
        self.assertEqual(ssh.stat().st_mode & 0o777, 0o700)
        before = ak.stat().st_mtime_ns
        time.sleep(0.05)
        r = sync("octocat")
        self.assertEqual((r["ok"], r["added"]), (True, 0), r)
        self.assertEqual(ak.stat().st_mtime_ns, before)
        self.assertEqual([q["path"] for q in ks.records("request")],
                         ["/ghost.keys", "/nokeys.keys", "/octocat.keys",
                          "/octocat.keys"])
        self.assertEqual(len(peer.records("connect")), 1, self.context(peer))


class PythonAgentTest(RealServerCase, unittest.TestCase):
    peer_class = sp.PythonPeer
    fast_ping = ("--ping-interval", "0.3", "--ping-timeout", "0.3")
    disconnect_reasons = ("disconnect",)

    def check_heartbeats(self, peer, t0):
        """python-engineio records no pongs: 20 intervals of 0.3 s pass
        (it drops a client that misses one by 0.3 s) on one session."""
        time.sleep(max(0, t0 + 20 * 0.3 + 1 - time.time()))
        self.assertEqual(peer.records("disconnect"), [], self.context(peer))

    def test_early_events(self):
        """I9, I10: hello_ack and ping come before the CONNECT ack (python
        emits them inside on_connect): stats and pong follow the ack; the
        open packet has no maxPayload, so 1,000,000 is assumed."""
        peer = self.start_peer("--early-ping")
        self.start_agent(self.env(peer))
        self.wait_event(peer, "stats")
        pong = self.wait_event(peer, "pong")[0]
        ping = [r for r in peer.records("sent") if r["name"] == "ping"][0]
        self.assertEqual(pong["args"], [ping["data"]])
        self.agent.wait_log(r"maxPayload 1000000", 5)

    def test_unregistered_namespace(self):
        """I3, python: the bare string "Unable to connect" is a refusal."""
        peer = self.start_peer("--no-namespace")
        self.start_agent(self.env(peer))
        self.agent.wait_log(r"namespace refused: Unable to connect", 15)
        self.agent.wait_log(r"socketio: connecting to .* \(attempt 3\)", 15)


class RawPeerTest(AgentCase, unittest.TestCase):
    peer_class = sp.RawPeer

    def frames(self, peer, conn=None):
        return [r["text"] for r in peer.records("frame")
                if "text" in r and (conn is None or r["conn"] == conn)]

    def wait_frame(self, peer, pred, timeout=10, what="frame"):
        return self.wait(lambda: [f for f in self.frames(peer) if pred(f)],
                         timeout, what, peer)

    def start_session(self, *args):
        peer = self.start_peer(*args)
        self.start_agent(self.env(peer))
        self.wait_frame(peer, lambda f: f.startswith('42/agents,["stats"'),
                        what="stats")
        return peer

    def test_malformed(self):
        """I23, I13: every drop row of §2.7 is logged and dropped on the
        live session (no ack, no admin_result, no reconnect); packets for
        / and /other are not answered; then the session still works."""
        peer = self.start_session()
        rows = [
            "", "4", "7", "x", "9abc",                          # 1, 2
            '0{"sid":"again","pingInterval":1,"pingTimeout":1}',  # 4
            '40/agents,{"sid":"again"}',
            "47/agents,[]", "4x",                               # 5
            "42/agents,", "42/agents", "42/agents,{}", "42/agents,[]",
            "42/agents,[1,{}]", "42/agents,[null]",             # 6
            '42/agents,["hello_ack",', '42/agents,["x",{}]]',
            '42/agents,abc["x",{}]',                            # 7
            '42/agents,1234567890123456["ping",{"ts":1}]',     # 8
            '42/agents,7["connect",{}]',                        # 9
            '42/agents,["admin_run","rm -rf /"]',               # 10
            '42/agents,["shell_resize",{"session":"s","cols":"80"}]',  # 11
            '42/agents,["ping",' + '[' * 40 + ']' * 40 + ']',  # 12
            '42/agents,["shell_start",{"session":"a\\u0000b"}]',  # 13
            '45x-/agents,["x",{}]', '451/agents,["x",{}]',     # 14
            '43/agents,5[]',                                    # 20
            '42["ping",{"ts":11}]', '42/other,["ping",{"ts":12}]',  # I13
            '41/other,',
        ]
        for r in rows:
            peer.control("send " + r)
        peer.control("send-binary 010203")                  # 16
        peer.control('send 451-/agents,["bin",{"_placeholder":true,"num":0}]')
        peer.control('send 42/agents,["ping",{"ts":98}]')   # 16
        peer.control('send 42/agents,["ping",{"ts":99}]')
        self.wait_frame(peer, lambda f: f == '42/agents,["pong",{"ts":99}]',
                        what="pong 99")
        self.assertIn('42/agents,["pong",{"ts":98}]', self.frames(peer))
        out = self.frames(peer)
        self.assertFalse([f for f in out if f.startswith("43")], out)
        self.assertFalse([f for f in out if "admin_result" in f], out)
        self.assertFalse([f for f in out if '"ts":11' in f or
                          '"ts":12' in f or '"ts":1}' in f], out)
        self.assertEqual(len(peer.records("connect")), 1, self.context(peer))
        log = self.agent.log()
        for pat in (r"empty engine packet", r"unknown engine packet",
                    r"packet dropped", r"argument is not an object",
                    r"binary frame with no packet",
                    r"text frame while 1 attachments are pending",
                    r"dropped: "):
            self.assertRegex(log, pat)
        self.assertTrue(self.agent.running())

    def test_ack_request(self):
        """§2.3: an event with an ack id is acked once (id 0 included)."""
        peer = self.start_session()
        peer.control('send 42/agents,0["ping",{"ts":7}]')
        self.wait_frame(peer, lambda f: f == '42/agents,["pong",{"ts":7}]')
        self.assertEqual([f for f in self.frames(peer)
                          if f.startswith("43")], ["43/agents,0[]"])

    def test_protocol_errors_reconnect(self):
        """§2.7 rows 15 and 22: more than 16 attachments, and a frame over
        16 MiB, close the session; the agent reconnects."""
        peer = self.start_session()
        # Row 21: wslay refuses invalid UTF-8 in a text frame (close 1007).
        peer.control("send-hex 34322f6167656e74732c5b2278222cff5d")
        self.wait(lambda: len(peer.records("connect")) >= 2, 10,
                  "a reconnect after invalid UTF-8", peer)
        self.wait(lambda: len([f for f in self.frames(peer)
                               if f.startswith('42/agents,["stats"')]) >= 2,
                  10, "stats on the second session", peer)
        self.assertIn(1007, [c.get("code") for c in peer.records("close")])
        peer.control('send 4517-/agents,["x",{}]')
        self.wait(lambda: len(peer.records("connect")) >= 3, 10,
                  "a reconnect after 17 attachments", peer)
        self.agent.wait_log(r"protocol error", 5)
        self.wait(lambda: len([f for f in self.frames(peer)
                               if f.startswith('42/agents,["stats"')]) >= 3,
                  10, "stats on the third session", peer)
        peer.control("send-big %d" % (16 * 1024 * 1024 + 10))
        self.wait(lambda: len(peer.records("connect")) >= 4, 20,
                  "a reconnect after a frame over 16 MiB", peer)
        closes = peer.records("close")
        self.assertIn(1009, [c.get("code") for c in closes], closes)

    def test_connect_rows(self):
        """§2.7 rows 17 and 18: CONNECT_ERROR forms and a CONNECT ack that is
        not an object end the attempt (counted as rejections); a
        DISCONNECT with a message is logged and the agent reconnects."""
        peer = self.start_peer("--no-connect-ack")
        self.start_agent(self.env(peer))
        for n, text in enumerate(("44/agents,42", "44/agents,",
                                  "44/agents,[1]", "40/agents,[1]"), 1):
            self.wait(lambda: "40/agents," in self.frames(
                peer, conn=n), 10, "CONNECT on attempt %d" % n, peer)
            peer.control("send " + text)
            self.wait(lambda: len(peer.records("connect")) > n, 15,
                      "attempt %d after %s" % (n + 1, text), peer)
        self.agent.wait_log(r"namespace refused: unknown", 5, count=3)
        self.agent.wait_log(r"3 rejections in a row", 5)
        self.agent.wait_log(r"protocol error", 5)
        self.assertEqual(self.events(peer, "stats"), [])

    def test_early_buffer(self):
        """I9, §2.4: events before the CONNECT ack are buffered; nothing
        but engine pongs goes out until the ack; then they are handled in
        order (hello_ack: stats; ping: pong)."""
        peer = self.start_peer("--no-connect-ack", "--no-hello")
        self.start_agent(self.env(peer))
        self.wait(lambda: "40/agents," in self.frames(peer), 10, "CONNECT",
                  peer)
        peer.control('send 42/agents,["hello_ack",{}]')
        peer.control('send 42/agents,["ping",{"ts":77}]')
        time.sleep(1.0)
        self.assertEqual([f for f in self.frames(peer) if f != "3"],
                         ["40/agents,"])
        peer.control('send 40/agents,{"sid":"late"}')
        self.wait_frame(peer, lambda f: f == '42/agents,["pong",{"ts":77}]',
                        what="pong 77")
        out = [f for f in self.frames(peer) if f not in ("3", "40/agents,")]
        self.assertTrue(out[0].startswith('42/agents,["pong"') or
                        out[0].startswith('42/agents,["stats"'), out)
        self.wait_frame(peer, lambda f: f.startswith('42/agents,["stats"'),
                        what="stats")

    def test_disconnect_message(self):
        """§2.7 row 19: 41/agents,{"message":"x"} ends the session."""
        peer = self.start_session()
        peer.control('send 41/agents,{"message":"bye now"}')
        self.wait(lambda: len(peer.records("connect")) >= 2, 10,
                  "a reconnect", peer)
        self.agent.wait_log(r"disconnected by the server: bye now", 5)

    def test_bad_open(self):
        """§2.7 row 3: an open packet without pingInterval closes and the
        agent reconnects; nothing is sent on /agents."""
        peer = self.start_peer("--open", '0{"sid":"x","pingTimeout":1000}')
        self.start_agent(self.env(peer))
        self.wait(lambda: len(peer.records("connect")) >= 2, 15,
                  "a second attempt", peer)
        self.assertEqual([f for f in self.frames(peer)
                          if f.startswith("40")], [])
        self.agent.wait_log(r"pingInterval", 5)

    def test_no_max_payload(self):
        """I10: an open packet without maxPayload means 1,000,000."""
        self.start_session("--no-max-payload")
        self.agent.wait_log(r"maxPayload 1000000", 5)

    def test_silent_heartbeat(self):
        """I6: the peer stops sending 2: the watchdog drops the link after
        pingInterval + pingTimeout and the agent reconnects."""
        peer = self.start_session("--ping-interval", "500",
                                  "--ping-timeout", "500")
        t0 = time.time()
        peer.control("silence")
        c = self.wait(lambda: (lambda c: c if len(c) >= 2 else None)(
            peer.records("connect")), 10, "a reconnect", peer)
        self.assertGreater(c[1]["t"] - t0, 0.9)
        self.assertLess(c[1]["t"] - t0, 6.0)
        self.agent.wait_log(r"no engine ping for 1000 ms", 5)


if __name__ == "__main__":
    unittest.main(verbosity=2)
