#!/usr/bin/python3
"""The supervisor against a hostile net-worker (docs/internals.md, "IPC
trust").  The test assembles a libexec directory with tests/fake's
net-worker, the real exec-worker and a scenario file, and runs a copy of
the real supervisor outside the build tree with NIXFLEET_LIBEXEC_DIR
pointing there: no production code knows about the fake.

Every violation must drop the fake and restart it (the exec-worker keeps
running and gets a channel to the new fake); nothing may
reach sd_notify (a datagram socket we listen on) or the log unescaped;
the supervisor never crashes.  A fresh supervisor per case keeps each one
far from the restart limit."""

import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

FAKE = h.SRC_DIR / "tests" / "fake" / "fake_net_worker.py"
EXEC = h.BUILD_DIR / "exec-worker" / "nixfleet-agent-exec"
NOTIFY_OK = re.compile(r"^(READY=1|STOPPING=1|WATCHDOG=1|STATUS=[\x20-\x7e]{0,207})$")


def setUpModule():
    h.require_root()
    h.require_agent()


class Notify:
    """A NOTIFY_SOCKET: every datagram, with its arrival time."""

    def __init__(self):
        self.name = "@nixfleet-it-%d-%d" % (os.getpid(), time.monotonic_ns())
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.name[1:])
        self.sock.settimeout(0.2)
        self.got = []
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            self.got.append((time.monotonic(), data))

    def close(self):
        self.stop = True
        self.thread.join(2)
        self.sock.close()

    def lines(self):
        out = []
        for _, d in self.got:
            out.extend(d.decode("latin-1").split("\n"))
        return out


class HostileTest(h.AgentTestCase):

    def setUp(self):
        super().setUp()
        self.libexec = self.work.mkdir("libexec", 0o755)
        fake = self.libexec / "nixfleet-agent-net"
        shutil.copy(FAKE, fake)
        os.chmod(fake, 0o755)
        os.symlink(EXEC, self.libexec / "nixfleet-agent-exec")
        self.bin = self.work.mkdir("bin", 0o755) / "nixfleet-agent"
        shutil.copy(h.AGENT, self.bin)
        os.chmod(self.bin, 0o755)
        self.notify = Notify()
        self.addCleanup(self.notify.close)

    def start(self, scenario, **env):
        (self.libexec / "scenario").write_text(scenario + "\n")
        # Nothing listens there: connects fail at once.
        url = "ws://127.0.0.1:%d/ws" % h.free_port()
        e = self.agent_env(url, NIXFLEET_LIBEXEC_DIR=self.libexec,
                           NOTIFY_SOCKET=self.notify.name, **env)
        self.agent = self.start_agent(e, binary=self.bin)
        return self.agent

    def start_socketio(self, scenario):
        """The same fake in the socketio dialect (nothing listens)."""
        (self.libexec / "scenario").write_text(scenario + "\n")
        e = self.agent_env(None, NIXFLEET_TOKEN=None, NIXFLEET_REPO_DIR=None,
                           NIXFLEET_LIBEXEC_DIR=self.libexec,
                           NOTIFY_SOCKET=self.notify.name,
                           CLIENT_ID="host-01", AUTH_TOKEN="sio-secret-key",
                           SERVER_URL="http://127.0.0.1:%d" % h.free_port())
        self.agent = self.start_agent(e, binary=self.bin)
        return self.agent

    def runs(self):
        try:
            return (self.libexec / "runs").read_text().split("\n")[:-1]
        except FileNotFoundError:
            return []

    def result(self, timeout=20):
        def get():
            for line in self.runs():
                p = self.libexec / ("result." + line.split()[0])
                if p.exists():
                    try:
                        return json.loads(p.read_text())
                    except ValueError:
                        return None
            return None
        return self.wait(get, timeout, "the fake's result")

    def assert_clean(self):
        """Nothing unescaped reached sd_notify or the log."""
        for line in self.notify.lines():
            self.assertRegex(line, NOTIFY_OK, "notify datagram line")
        log = self.agent.log()
        bad = [c for c in log if c != "\n" and c != "\t" and
               (ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f)]
        self.assertEqual(bad, [], "control characters in the log\n" + h.tail(log, 20))
        self.assertIsNone(re.search(r"(?m)^\S+ \w+ supervisor: fake", log), h.tail(log, 20))

    def assert_dropped(self, scenario, reason, timeout=10, **env):
        self.start(scenario, **env)
        self.wait(lambda: len(self.runs()) >= 2, timeout,
                  "a restarted net-worker after %s" % scenario)
        self.wait_log(self.agent, reason, 3)
        self.wait_log(self.agent, r"restarting the net-worker", 3)
        self.assertTrue(self.agent.running(), "supervisor exited\n" + self.context())
        self.assertIsNone(re.search(r"AddressSanitizer|runtime error|"
                                    r"nixfleet-agent .* killed", self.agent.log()))
        self.assert_clean()
        rc, _ = self.agent.terminate(5)
        self.assertEqual(rc, 0, self.context())

    # ------------------------------------------------------------ drops

    def test_state_code(self):
        self.assert_dropped("state_code", r"net-worker: sup_dispatch_net: IPC_NS_STATE")

    def test_state_unterminated(self):
        self.assert_dropped("state_unterminated", r"net-worker: sup_dispatch_net: IPC_NS_STATE")

    def test_state_short(self):
        self.assert_dropped("state_short", r"net-worker: sup_dispatch_net: IPC_NS_STATE")

    def test_state_id(self):
        self.assert_dropped("state_id", r"net-worker: sup_dispatch_net: IPC_NS_STATE \(len 264, id 7\)")

    def test_fd_flagged(self):
        """A descriptor from the net-worker, even one its frame announces."""
        self.assert_dropped("fd_flagged", r"net-worker: read: Bad message")

    def test_fd_unflagged(self):
        self.assert_dropped("fd_unflagged", r"net-worker: (read|bad frame): Bad message")

    def test_fd_hello(self):
        self.assert_dropped("fd_hello", r"net-worker: (read|bad frame): Bad message")

    def test_wrong_role(self):
        self.assert_dropped("wrong_role", r"net-worker: HELLO from role 3, expected 2")

    def test_sup_role(self):
        self.assert_dropped("sup_role", r"net-worker: HELLO from role 1, expected 2")

    def test_no_hello(self):
        self.assert_dropped("no_hello", r"net-worker: first frame is IPC_NS_CONNECT")

    def test_second_hello(self):
        self.assert_dropped("second_hello", r"net-worker: second HELLO")

    def test_connect_flood(self):
        self.assert_dropped("connect_flood", r"net-worker: connect requests faster than")
        r = self.result()
        self.assertLessEqual(r["answered"], 10, r)

    def test_connect_timeout(self):
        self.assert_dropped("connect_timeout", r"net-worker: sup_dispatch_net: IPC_NS_CONNECT")

    def test_connect_endpoint(self):
        self.assert_dropped("connect_endpoint", r"net-worker: sup_dispatch_net: IPC_NS_CONNECT")

    def test_connect_twice(self):
        self.assert_dropped("connect_twice", r"net-worker: second connect request")

    def test_keysrc_twice(self):
        """One key source connect in flight at a time, like the dashboard's."""
        lst = socket.socket()   # it accepts: the first connect stays in flight
        lst.bind(("127.0.0.1", 0))
        lst.listen(4)
        self.addCleanup(lst.close)
        self.assert_dropped("keysrc_twice", r"net-worker: second connect request",
                            ADMIN_KEYS_USER="root", ADMIN_KEYS_SOURCE_URL=
                            "https://127.0.0.1:%d" % lst.getsockname()[1])

    def test_keysrc_connect(self):
        """IPC_EP_KEYSRC reaches admin.keysSourceUrl's host and port, and
        nothing else, while the dashboard's connect is in flight too; the
        net-worker got the key source in IPC_SN_KEYSRC_CONFIG, before the
        CA, with the key sync flag, the 10 s deadline and the prefix."""
        lst = socket.socket()
        lst.bind(("127.0.0.1", 0))
        lst.listen(4)
        self.addCleanup(lst.close)
        port = lst.getsockname()[1]
        self.start("keysrc_connect", ADMIN_KEYS_USER="root",
                   ADMIN_KEYS_SOURCE_URL="https://127.0.0.1:%d/m/" % port)
        r = self.result()
        self.assertEqual((r["n"], r["flags"], r["port"], r["timeout_ms"],
                          r["ca_size"], r["host"], r["path"], r["before_ca"]),
                         (1, 1, port, 10000, 0, "127.0.0.1", "/m", True), r)
        lst.settimeout(5)
        conn, _ = lst.accept()
        conn.close()
        # The key source connected (a socket), the dashboard refused.
        self.assertIn([2, 0], r["answers"], r)
        self.assertEqual(len(r["answers"]), 2, r)
        self.assertEqual(r["fds"], 1, r)
        self.assertTrue(self.agent.running())
        self.assertEqual(len(self.runs()), 1, self.context())
        self.assert_clean()

    def test_keysrc_disabled(self):
        """Without admin.keysUser the supervisor connects nowhere for
        the key source, whatever the net-worker asks."""
        lst = socket.socket()
        lst.bind(("127.0.0.1", 0))
        lst.listen(4)
        self.addCleanup(lst.close)
        port = lst.getsockname()[1]
        self.start("keysrc_connect",
                   ADMIN_KEYS_SOURCE_URL="https://127.0.0.1:%d" % port)
        r = self.result()
        self.assertEqual((r["flags"], r["path"]), (0, ""), r)
        self.assertIn([2, 1], r["answers"], r)      # EPERM
        self.assertEqual(r["fds"], 0, r)
        lst.settimeout(1)
        self.assertRaises(socket.timeout, lst.accept)
        self.assertEqual(len(self.runs()), 1, self.context())
        self.agent.wait_log(r"connect failed: key sync disabled", 5)

    def test_oversized(self):
        self.assert_dropped("oversized", r"net-worker: bad frame: Message too long")

    def test_wrong_direction(self):
        self.assert_dropped("unknown_type", r"net-worker: sup_dispatch_net: IPC_SN_PING")

    def test_pong_ahead(self):
        self.assert_dropped("pong_ahead", r"net-worker: sup_dispatch_net: IPC_NS_PONG")

    def test_sign_nixfleet(self):
        """IPC_NS_SIGN is a socketio message: the nixfleet dialect drops it."""
        self.assert_dropped("sign_flood", r"net-worker: sup_dispatch_net: "
                            r"IPC_NS_SIGN \(len 0, id 1\)")

    def test_sign_payload(self):
        self.start_socketio("sign_payload")
        self.wait(lambda: len(self.runs()) >= 2, 10, "a restart")
        self.wait_log(self.agent, r"sup_dispatch_net: IPC_NS_SIGN \(len 8", 3)

    def test_sign_flood(self):
        self.start_socketio("sign_flood")
        self.wait(lambda: len(self.runs()) >= 2, 10, "a restart")
        self.wait_log(self.agent, r"net-worker: sign requests faster than", 3)
        self.assertLessEqual(self.result()["answered"], 10)

    def test_sign_answer(self):
        """socketio: each IPC_NS_SIGN is answered with the same id, the
        supervisor's own ts (fresh each time) and a valid HMAC; the key
        is in no frame the net-worker receives; stats are answered with
        a whole sample."""
        self.start_socketio("sign_answer")
        r = self.result(20)
        self.assertEqual([x["id"] for x in r["signed"]], [5, 6], r)
        a, b = r["signed"]
        self.assertGreater(b["ts"], a["ts"])
        self.assertLess(abs(r["now"] - b["ts"]), 10000)
        for x in r["signed"]:
            msg = '{"clientId":"host-01","ts":%d}' % x["ts"]
            sig = hmac.new(b"sio-secret-key", msg.encode(),
                           hashlib.sha256).hexdigest()
            self.assertEqual(x["query"], "clientId=host-01&ts=%d&sig=%s" %
                             (x["ts"], sig))
        self.assertIn("1118", r["types"])
        self.assertFalse(r["secret_seen"], r)
        self.assertEqual(r["stats"], [7984], r)
        self.assertEqual(len(self.runs()), 1, self.context())

    def test_stats_burst(self):
        """socketio stats requests coalesce in the exec-worker: 500 at
        once are a few samples, at most one per 250 ms."""
        self.start_socketio("stats_burst")
        r = self.result(20)
        self.assertLess(r["first_s"], 1.0, r)
        self.assertTrue(r["exec_up"], r)
        self.assertEqual(r["sizes"], [7984], r)
        self.assertLessEqual(r["answers"], 10, r)
        self.assertEqual(len(self.runs()), 1, self.context())

    def test_exec_loses_peer(self):
        """The exec-worker without its net channel waits IPC_PEER_WAIT_MS
        for a new one, exits 1, and is restarted alone: the fake stays,
        and gets the new exec-worker's channel with IPC_SN_PEER."""
        self.start("close_peer")
        self.wait_log(self.agent, r"exec: lost the net-worker channel, waiting", 15)
        t0 = time.monotonic()
        self.wait_log(self.agent, r"exec-worker \(pid \d+\) exited with status 1", 15)
        self.assertGreaterEqual(time.monotonic() - t0, 7, "exited before its deadline")
        self.wait_log(self.agent, r"restarting the exec-worker", 3)
        r = self.result(20)
        self.assertEqual(r, {"peer": 1, "fds": 1}, self.context())
        self.assertEqual(len(self.runs()), 1, "the net-worker restarted\n" + self.context())
        self.assertTrue(self.agent.running(), self.context())
        self.assert_clean()

    # ------------------------------------------------------------ no drops

    def test_status_inject(self):
        """Newlines in a state detail cannot make new notify assignments."""
        self.start("status_inject")
        self.wait(lambda: any("STATUS=disconnected" in x for x in self.notify.lines()),
                  10, "both STATUS datagrams")
        time.sleep(0.3)
        lines = self.notify.lines()
        self.assertNotIn("WATCHDOG=1", lines)     # no WATCHDOG_USEC: never legit
        self.assertNotIn("MAINPID=1", lines)
        self.assertEqual(lines.count("READY=1"), 1, lines)
        self.assertNotIn("STOPPING=1", lines)
        self.assertIn("STATUS=connected to evil\\x0aWATCHDOG=1\\x0aREADY=1\\x0a"
                      "MAINPID=1\\x0a\\x1b]0;x\\x07", lines)
        self.assertIn("STATUS=disconnected: \\x0d\\x0aSTOPPING=1\\xc2\\x9b", lines)
        self.assertEqual(len(self.runs()), 1, "text is escaped, not a violation")
        self.assert_clean()
        self.assertTrue(self.agent.running())

    def test_connect_paced(self):
        """Connects at the real net-worker's pace are all answered."""
        self.start("connect_paced")
        r = self.result(30)
        self.assertEqual(r["answered"], 20, r)
        self.assertEqual(len(self.runs()), 1, self.context())

    def test_log_forge(self):
        """A worker's line names the worker; escapes are escaped; a flood
        of one line is a count."""
        self.start("log_forge")
        self.wait_log(self.agent, r"net: flood over", 10)
        log = self.agent.log()
        why = h.tail(log, 20)
        self.assertTrue(re.search(r"(?m)^\S+ error net: supervisor: fake$", log), why)
        self.assertIn(r"warn net: \x1b]0;pwned\x07\x1b[2Jescape test\xc2\x9b", log, why)
        self.assertLessEqual(log.count("the same warning again"), 3, why)
        self.assertTrue(re.search(r"last message repeated \d+ times", log), why)
        self.assertTrue(re.search(r"nixfleet-agent .* starting", log), why)
        self.assert_clean()

    def test_facts_burst(self):
        """1,000 facts requests: answered within a second, the watchdog
        keeps being fed, the channel stays up, nothing restarts."""
        self.start("facts_burst", WATCHDOG_USEC=1000000)
        r = self.result(30)
        self.assertTrue(r["first"], r)
        self.assertIsNotNone(r["answer_s"], r)
        self.assertLess(r["answer_s"], 1.0, r)
        self.assertTrue(r["exec_up"], r)
        self.assertEqual(r["sizes"], [2760], r)
        # Coalesced: a few answers, not a thousand.
        self.assertLessEqual(r["answers"], 60, r)
        t0 = r["t_sent"]
        feeds = [t for t, d in self.notify.got if d == b"WATCHDOG=1" and t0 <= t <= t0 + 3]
        self.assertGreaterEqual(len(feeds), 3, "watchdog fed %d times in the 3 s after "
                                "the burst\n%s" % (len(feeds), self.context()))
        self.assertNotIn("restarting the", self.agent.log(), self.context())
        self.assertEqual(len(self.runs()), 1)
        self.assert_clean()


if __name__ == "__main__":
    h.main()
