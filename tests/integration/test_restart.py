#!/usr/bin/python3
"""A worker's death restarts that worker alone (docs/internals.md,
"Processes"), as root: the survivor keeps running and gets a channel to
the new one from the supervisor (IPC_SN_PEER / IPC_SE_PEER); the restart
limit counts per worker.  The exec-worker alone, under a supervisor played
by this test: the new channel, its deadline, and the rule that only
IPC_SE_PEER carries a descriptor."""

import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from test_lifecycle import Notify  # noqa: E402


def setUpModule():
    h.require_root()
    h.require_agent()


class RestartTest(h.AgentTestCase):

    def setUp(self):
        super().setUp()
        self.dash = self.start_dashboard()
        self.agent = self.start_agent(self.agent_env(self.dash.url()))
        self.w = self.agent.wait_workers(10)
        self.wait_message(self.dash, "register", 10)

    def new_worker(self, role, old, timeout):
        def got():
            if not self.agent.running():
                raise AssertionError("supervisor exited %s\n%s" % (
                    self.agent.proc.returncode, self.context()))
            pid = self.agent.workers().get(role)
            return pid if pid and pid != old else None
        return self.wait(got, timeout, "a new %s-worker" % role)

    def heartbeat_with(self, gen, conn, since, timeout=10):
        def seen():
            return [r for r in self.dash.messages("heartbeat", conn=conn, since=since)
                    if r["data"]["payload"]["generation"] == gen]
        return self.wait(seen, timeout, "a heartbeat with generation %s" % gen)

    def test_net_death_keeps_exec(self):
        """kill -9 of the net-worker: same exec-worker, which talks to the
        new net-worker (it registers, which needs facts; heartbeats carry
        a generation committed after the kill)."""
        exec_pid = self.w["exec"]
        old = self.w["net"]
        start = len(self.agent.log())
        os.kill(old, signal.SIGKILL)
        self.new_worker("net", old, 5)
        self.wait_connects(self.dash, 2, 10)
        conn = self.dash.records("connect")[-1]["conn"]
        self.wait_message(self.dash, "register", 10, conn=conn)
        t = time.time()
        gen = h.commit(self.repo)
        self.heartbeat_with(gen, conn, t)
        self.assertEqual(self.agent.workers().get("exec"), exec_pid,
                         "the exec-worker restarted\n" + self.context())
        self.assertTrue(h.alive(exec_pid))
        log = self.agent.log()[start:]
        self.assertNotIn("exec-worker (pid %d)" % exec_pid, log, self.context())
        self.assertIn("handing the exec-worker a channel to a new net-worker", log)
        self.assertIn("exec: new net-worker channel", log)

    def test_exec_death_keeps_session(self):
        """kill -9 of the exec-worker: same net-worker, same WebSocket (no
        new connect, no second register), heartbeats go on and carry the
        new exec-worker's facts."""
        net_pid = self.w["net"]
        old = self.w["exec"]
        conn = self.dash.records("connect")[-1]["conn"]
        start = len(self.agent.log())
        os.kill(old, signal.SIGKILL)
        t_kill = time.time()
        new = self.new_worker("exec", old, 5)
        self.wait_log(self.agent, r"exec: new net-worker channel|"
                      r"net: new exec-worker channel", 10, start=start)
        t = time.time()
        gen = h.commit(self.repo)
        self.heartbeat_with(gen, conn, t)
        self.assertEqual(self.agent.workers().get("net"), net_pid,
                         "the net-worker restarted\n" + self.context())
        self.assertEqual(self.agent.workers().get("exec"), new)
        self.assertEqual(len(self.dash.records("connect")), 1, self.context())
        self.assertEqual(len(self.dash.messages("register")), 1, self.context())
        self.assertEqual(self.dash.closes(conn), [], self.context())
        # Heartbeats did not pause for long: at 1 s intervals, the backoff
        # (1 s) plus a start leaves several within the span.
        span = time.time() - t_kill
        hbs = self.dash.messages("heartbeat", conn=conn, since=t_kill)
        self.assertGreaterEqual(len(hbs), max(1, int(span) - 3), self.context())
        log = self.agent.log()[start:]
        self.assertIn("handing the net-worker a channel to a new exec-worker", log)
        self.assertNotIn("net-worker (pid %d)" % net_pid, log, self.context())

    def test_limit_per_worker(self):
        """Three kills of each worker, six restarts within a minute: under
        the limit of each worker, so the agent runs on (one count for both
        would have given up)."""
        for _ in range(3):
            for role in ("exec", "net"):
                old = self.agent.workers()[role]
                os.kill(old, signal.SIGKILL)
                self.new_worker(role, old, 20)
                # Both up and talking before the next kill.
                self.wait_log(self.agent, r"workers ready \(net %d, exec %d\)"
                              % tuple(self.agent.wait_workers(10)[r] for r in ("net", "exec")),
                              10)
        time.sleep(1)
        self.assertTrue(self.agent.running(), self.context())
        self.assertNotIn("giving up", self.agent.log())
        t = time.time()
        self.wait_message(self.dash, "heartbeat", 10, count=2, since=t)

    def test_limit_exec(self):
        """Six kills of the exec-worker within a minute: the supervisor
        gives up (exit 1) after an orderly stop; the net-worker, never
        restarted, closes its session with 1000."""
        net_pid = self.w["net"]
        conn = self.dash.records("connect")[-1]["conn"]
        pid = self.w["exec"]
        t0 = time.monotonic()
        kills = 0
        while time.monotonic() - t0 < 58:
            os.kill(pid, signal.SIGKILL)
            kills += 1

            def next_state():
                if not self.agent.running():
                    return ("exited", None)
                w = self.agent.workers()
                p = w.get("exec")
                return ("worker", p) if p and p != pid else None
            state, new = self.wait(next_state, 40, "a new exec-worker or the exit")
            if state == "exited":
                break
            self.assertEqual(self.agent.workers().get("net"), net_pid, self.context())
            pid = new
        self.assertEqual(kills, 6, self.context())
        self.assertEqual(self.agent.wait_exit(10), 1, self.context())
        self.assertRegex(self.agent.log(), r"6 exec-worker restarts within 60 s; giving up")
        closes = self.dash.closes(conn)
        self.assertTrue(closes, self.context())
        self.assertEqual(len(self.dash.records("connect")), 1, self.context())


class WatchdogTest(h.AgentTestCase):

    def test_fed_only_while_both_answer(self):
        """A worker in its backoff stops the watchdog; its replacement's
        answers start it again, the other worker untouched."""
        dash = self.start_dashboard()
        n = Notify(self.work.path("notify.sock"))
        self.addCleanup(n.close)
        agent = self.start_agent(self.agent_env(dash.url(), NOTIFY_SOCKET=n.path,
                                                WATCHDOG_USEC=400000))
        n.wait("READY=1", 10)
        w = agent.wait_workers(5)
        t0 = time.monotonic()
        n.poll(1.0)
        self.assertGreaterEqual(n.count("WATCHDOG=1", t0), 2, n.seen[-10:])
        os.kill(w["exec"], signal.SIGKILL)
        t_kill = time.monotonic()
        n.poll(0.9)             # the restart waits 1 s
        fed = [t for t, x in n.seen if x == "WATCHDOG=1" and t_kill + 0.3 <= t <= t_kill + 0.9]
        self.assertEqual(fed, [], "watchdog fed while the exec-worker was down")
        agent.wait_workers(10, exclude=(w["exec"],))
        t1 = time.monotonic()
        n.poll(2.0)
        self.assertGreaterEqual(n.count("WATCHDOG=1", t1), 2, "not fed again\n" + self.context())
        self.assertEqual(agent.workers().get("net"), w["net"])


# ---------------------------------------------------------------- exec alone

HDR = struct.Struct("<IIII")
IPC_F_FD = 1
HELLO = 0x0001
SE_CONFIG, SE_PING, SE_SHUTDOWN, SE_PEER = 0x2101, 0x2102, 0x2103, 0x2110
ES_PONG = 0x2001
NE_FACTS_REQ, EN_FACTS = 0x3001, 0x3101
ROLE_SUP, ROLE_NET, ROLE_EXEC = 1, 2, 3
EXEC_CONFIG_SIZE = 3784
SE_JOBS_CONFIG, EXEC_JOBS_SIZE = 0x2130, 1352
SE_REPO_CONFIG, EXEC_REPO_SIZE = 0x2148, 2568   # mode 0: no repository
PEER_WAIT_S = 10.0      # IPC_PEER_WAIT_MS


def frame(type_, payload=b"", id_=0, flags=0):
    return HDR.pack(type_, HDR.size + len(payload), id_, flags) + payload


def hello(role):
    return frame(HELLO, struct.pack("<IIII", 1, role, os.getpid(), 0))


class Chan:
    def __init__(self, sock):
        self.sock = sock
        self.sock.settimeout(0.1)
        self.buf = b""
        self.frames = []
        self.eof = False

    def send(self, data, fds=()):
        if fds:
            socket.send_fds(self.sock, [data], list(fds))
        else:
            self.sock.sendall(data)

    def pump(self):
        try:
            data = self.sock.recv(1 << 16)
        except socket.timeout:
            return
        except OSError:
            data = b""
        if not data:
            self.eof = True
            return
        self.buf += data
        while len(self.buf) >= HDR.size:
            t, ln, i, _ = HDR.unpack_from(self.buf)
            if len(self.buf) < ln:
                break
            self.frames.append((t, i, self.buf[HDR.size:ln]))
            self.buf = self.buf[ln:]

    def wait(self, pred, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if pred():
                return True
            if self.eof:
                return pred()
            self.pump()
        return pred()

    def count(self, type_):
        return sum(1 for f in self.frames if f[0] == type_)


class WorkerAlone(h.AgentTestCase):
    """A worker binary with this test as its supervisor (fd 3) and as the
    other worker (fd 4: self.peer)."""

    def spawn(self, binary):
        sup, sup_theirs = socket.socketpair()
        peer, peer_theirs = socket.socketpair()
        a, b = sup_theirs.fileno(), peer_theirs.fileno()

        def child():
            # Onto fds 3 and 4, out of each other's way first.
            x, y = os.dup(a), os.dup(b)
            os.dup2(x, 3)
            os.dup2(y, 4)
        self.proc = subprocess.Popen([str(binary), "-l", "4"], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     preexec_fn=child,
                                     close_fds=False, env={"PATH": h.PATH})
        self.addCleanup(self.stop)
        # A pipe, as under the supervisor: the net-worker may not write
        # files (RLIMIT_FSIZE 0).
        self.errbuf = []
        self.reader = threading.Thread(target=self.read_err, daemon=True)
        self.reader.start()
        sup_theirs.close()
        peer_theirs.close()
        self.sup = Chan(sup)
        self.peer = Chan(peer)
        self.socks = [sup, peer]
        self.addCleanup(lambda: [x.close() for x in self.socks])

    def read_err(self):
        for line in self.proc.stderr:
            self.errbuf.append(line.decode(errors="replace"))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)
        self.reader.join(5)
        self.proc.stderr.close()

    def log(self):
        if self.proc.poll() is not None:
            self.reader.join(2)
        return h.tail("".join(self.errbuf), 20)

    def exit_status(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def give_peer(self, type_):
        """A new peer channel over type_ (a PEER frame); returns our end."""
        mine, theirs = socket.socketpair()
        self.sup.send(frame(type_, flags=IPC_F_FD), [theirs.fileno()])
        theirs.close()
        self.socks.append(mine)
        return Chan(mine)


class ExecAloneTest(WorkerAlone):
    """The exec-worker: a new net channel, its deadline, and descriptors
    only on IPC_SE_PEER."""

    def setUp(self):
        super().setUp()
        self.spawn(h.EXEC_WORKER)
        self.net = self.peer
        self.sup.send(hello(ROLE_SUP))
        cfg = bytearray(EXEC_CONFIG_SIZE)
        struct.pack_into("<I", cfg, 0, 1)
        name = b"test-host"
        cfg[8:8 + len(name)] = name
        self.sup.send(frame(SE_CONFIG, bytes(cfg)))
        # Facts wait for the repository check (IPC_SE_REPO_CONFIG).
        self.sup.send(frame(SE_JOBS_CONFIG, bytes(EXEC_JOBS_SIZE)))
        self.sup.send(frame(SE_REPO_CONFIG, bytes(EXEC_REPO_SIZE)))
        self.assertTrue(self.sup.wait(lambda: self.sup.count(HELLO), 5), self.log())
        self.net.send(hello(ROLE_NET))
        self.net.send(frame(NE_FACTS_REQ))
        self.assertTrue(self.net.wait(lambda: self.net.count(EN_FACTS), 5), self.log())

    def give_peer(self):
        return super().give_peer(SE_PEER)

    def test_new_peer(self):
        """The old channel goes, a new one comes: HELLO on it, facts
        offered without asking, and answers to requests; still running."""
        self.net.sock.close()
        time.sleep(0.3)
        self.assertIsNone(self.proc.poll(), self.log())
        new = self.give_peer()
        self.assertTrue(new.wait(lambda: new.count(HELLO), 5), self.log())
        new.send(hello(ROLE_NET))
        self.assertTrue(new.wait(lambda: new.count(EN_FACTS) >= 1, 5), self.log())
        have = new.count(EN_FACTS)
        time.sleep(0.2)
        new.send(frame(NE_FACTS_REQ))
        self.assertTrue(new.wait(lambda: new.count(EN_FACTS) > have, 5), self.log())
        self.sup.send(frame(SE_PING, id_=7))
        self.assertTrue(self.sup.wait(lambda: self.sup.count(ES_PONG), 5), self.log())
        self.assertIsNone(self.proc.poll(), self.log())

    def test_peer_before_loss(self):
        """The new channel may come before the old one's EOF is seen."""
        new = self.give_peer()
        self.net.sock.close()
        self.assertTrue(new.wait(lambda: new.count(HELLO), 5), self.log())
        new.send(hello(ROLE_NET))
        new.send(frame(NE_FACTS_REQ))
        self.assertTrue(new.wait(lambda: new.count(EN_FACTS), 5), self.log())
        time.sleep(0.5)
        self.assertIsNone(self.proc.poll(), self.log())

    def test_no_peer_deadline(self):
        """No new channel within IPC_PEER_WAIT_MS: exit 1, not before."""
        t0 = time.monotonic()
        self.net.sock.close()
        self.assertIsNone(self.exit_status(PEER_WAIT_S - 2), "exited before the deadline\n"
                          + self.log())
        self.assertEqual(self.exit_status(10), 1, self.log())
        self.assertGreaterEqual(time.monotonic() - t0, PEER_WAIT_S - 0.5)
        self.assertIn("no new net-worker channel", self.log())

    def test_second_loss(self):
        """The new channel lost before its HELLO: exit 1 at once."""
        self.net.sock.close()
        new = self.give_peer()
        self.assertTrue(new.wait(lambda: new.count(HELLO), 5), self.log())
        new.sock.close()
        self.assertEqual(self.exit_status(3), 1, self.log())

    def test_fd_on_ping(self):
        """A descriptor on any frame but IPC_SE_PEER is fatal."""
        r, w = os.pipe()
        self.sup.send(frame(SE_PING, id_=1, flags=IPC_F_FD), [r])
        os.close(r)
        os.close(w)
        self.assertEqual(self.exit_status(5), 1, self.log())
        self.assertIn("IPC_SE_PING with a descriptor", self.log())

    def test_peer_without_fd(self):
        self.sup.send(frame(SE_PEER))
        self.assertEqual(self.exit_status(5), 1, self.log())
        self.assertIn("IPC_SE_PEER without a descriptor", self.log())


SN_CONFIG, SN_PEER = 0x1101, 0x1110


class NetAloneTest(WorkerAlone):
    """The net-worker: a new exec channel, and descriptors only on
    IPC_SN_CONNECTED and IPC_SN_PEER."""

    def setUp(self):
        super().setUp()
        self.spawn(h.NET_WORKER)
        self.sup.send(hello(ROLE_SUP))
        self.assertTrue(self.sup.wait(lambda: self.sup.count(HELLO), 5), self.log())
        self.assertTrue(self.peer.wait(lambda: self.peer.count(HELLO), 5), self.log())

    def test_new_peer(self):
        """HELLO on the new channel, the old one closed, facts asked for
        on the new exec-worker's HELLO."""
        new = self.give_peer(SN_PEER)
        self.assertTrue(new.wait(lambda: new.count(HELLO), 5), self.log())
        self.assertTrue(self.peer.wait(lambda: self.peer.eof, 5), "old channel still open")
        new.send(hello(ROLE_EXEC))
        self.assertTrue(new.wait(lambda: new.count(NE_FACTS_REQ), 5), self.log())
        self.assertIsNone(self.proc.poll(), self.log())

    def test_fd_on_config(self):
        """A descriptor on a frame that carries none is fatal."""
        r, w = os.pipe()
        self.sup.send(frame(SN_CONFIG, b"\0" * 8, flags=IPC_F_FD), [r])
        os.close(r)
        os.close(w)
        self.assertEqual(self.exit_status(5), 1, self.log())
        self.assertIn("IPC_SN_CONFIG with a descriptor", self.log())

    def test_peer_without_fd(self):
        self.sup.send(frame(SN_PEER))
        self.assertEqual(self.exit_status(5), 1, self.log())
        self.assertIn("bad IPC_SN_PEER", self.log())


if __name__ == "__main__":
    h.main()
