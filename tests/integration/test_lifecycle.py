#!/usr/bin/python3
"""The supervisor's dealings with its service manager: systemd
notifications (READY=1 once both workers are up, WATCHDOG=1 only while
both answer, STOPPING=1 on SIGTERM) read from a real NOTIFY_SOCKET, and
SIGHUP re-reading the configuration."""

import json
import os
import shutil
import signal
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402


def setUpModule():
    h.require_agent()


class Notify:
    """A datagram socket standing in for systemd's notification socket."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.05)
        self.seen = []          # (monotonic time, text)

    def poll(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            self.seen.append((time.monotonic(), data.decode()))

    def wait(self, text, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if any(text in s for _, s in self.seen):
                return
            self.poll(0.1)
        raise AssertionError("no %r notification in %s s; got %r" % (
            text, timeout, [s for _, s in self.seen][-10:]))

    def count(self, text, since):
        return sum(1 for t, s in self.seen if t >= since and text in s)

    def close(self):
        self.sock.close()


class NotifyTest(h.AgentTestCase):

    def test_ready_watchdog_stopping(self):
        dash = self.start_dashboard()
        n = Notify(self.work.path("notify.sock"))
        self.addCleanup(n.close)
        env = self.agent_env(dash.url(), NOTIFY_SOCKET=n.path,
                             WATCHDOG_USEC=400000)
        agent = self.start_agent(env)
        n.wait("READY=1", 10)
        workers = agent.wait_workers(5)

        # Fed every 0.2 s while both workers answer.
        t0 = time.monotonic()
        n.poll(2.0)
        self.assertGreaterEqual(n.count("WATCHDOG=1", t0), 4, n.seen[-10:])

        # A worker that stops answering stops the watchdog.
        os.kill(workers["exec"], signal.SIGSTOP)
        try:
            n.poll(0.6)             # the ping in flight may still land
            t1 = time.monotonic()
            n.poll(1.5)
            self.assertEqual(n.count("WATCHDOG=1", t1), 0,
                             "watchdog fed while the exec-worker is stopped")
        finally:
            os.kill(workers["exec"], signal.SIGCONT)
        t2 = time.monotonic()
        n.poll(1.5)
        self.assertGreaterEqual(n.count("WATCHDOG=1", t2), 2,
                                "watchdog not fed again after SIGCONT")

        agent.signal(signal.SIGTERM)
        n.wait("STOPPING=1", 5)
        self.assertEqual(agent.wait_exit(5), 0)
        # The status line follows the dashboard session.
        self.assertTrue(any("STATUS=registered as" in s for _, s in n.seen),
                        [s for _, s in n.seen if "STATUS" in s])


class ReloadTest(h.AgentTestCase):

    def write_config(self, path, interval):
        path.write_text(json.dumps({"nixfleet": {"interval": interval}}))

    def test_sighup_rereads_configuration(self):
        dash = self.start_dashboard()
        cfg = self.work.path("agent.json")
        self.write_config(cfg, 1)
        env = self.agent_env(dash.url(), NIXFLEET_INTERVAL=None)
        agent = self.start_agent(env, args=["--config", str(cfg)])
        first = agent.wait_workers(10)
        reg = self.wait_message(dash, "register", 10)
        self.assertEqual(reg[0]["data"]["payload"]["heartbeat_interval"], 1)

        # A valid new file: new workers carry it, the supervisor stays.
        self.write_config(cfg, 3)
        since = time.time()
        agent.signal(signal.SIGHUP)
        self.wait_log(agent, r"reloading configuration", 5)
        second = agent.wait_workers(10, exclude=tuple(first.values()))
        self.assertNotEqual(first["net"], second["net"])
        self.assertNotEqual(first["exec"], second["exec"])
        reg = self.wait_message(dash, "register", 15, since=since)
        self.assertEqual(reg[-1]["data"]["payload"]["heartbeat_interval"], 3)
        self.assertTrue(agent.running())

        # A broken file: reported, and the running configuration stays.
        cfg.write_text("{ this is not json")
        mark = len(agent.log())
        agent.signal(signal.SIGHUP)
        self.wait_log(agent, r"reload failed", 5, start=mark)
        time.sleep(1.5)
        self.assertTrue(agent.running())
        self.assertEqual(agent.workers(), second)
        self.assertEqual(agent.terminate(5)[0], 0)


class UnprivilegedTest(h.AgentTestCase):
    """Started by an ordinary user (Home Manager, development): the same
    three processes, no user switch and no chroot, said once; what an
    unprivileged process can still apply (no_new_privs, the filter)
    applies."""

    def test_runs_as_ordinary_user(self):
        h.require_root()        # to become someone else
        dash = self.start_dashboard()
        state = self.work.mkdir("state-nobody")
        os.chown(state, 65534, 65534)
        env = self.agent_env(dash.url(), NIXFLEET_STATE_DIR=state,
                             NIXFLEET_PRIVSEP_DIR=None, HOME=str(state),
                             NIXFLEET_LOG_LEVEL="info")
        # The build tree may sit where that user cannot reach (a 0700
        # checkout): a copy of the binaries in the build's layout, which
        # is how the supervisor finds its workers, is reachable.
        bindir = self.work.mkdir("bin-nobody", 0o755)
        for src in (h.AGENT, h.NET_WORKER, h.EXEC_WORKER,
                    h.EXEC_WORKER.parent / "nixfleet-agent-runner"):
            dst = bindir / src.parent.name / src.name
            dst.parent.mkdir(mode=0o755, exist_ok=True)
            shutil.copy2(src, dst)
        agent = self.start_agent(
            env, binary="/usr/bin/setpriv",
            args=["--reuid=65534", "--regid=65534", "--clear-groups",
                  "--", str(bindir / "supervisor" / h.AGENT.name)])
        self.wait_message(dash, "register", 10)
        w = agent.wait_workers(5)
        # Said once, by the supervisor; not again per worker or restart.
        self.assertEqual(len(agent.log_matches(r"not root|as root")), 1,
                         agent.log())
        for pid in [agent.pid] + list(w.values()):
            st = h.proc_status(pid)
            self.assertEqual(st["Uid"].split()[:3], ["65534"] * 3, pid)
        net = h.proc_status(w["net"])
        self.assertEqual(net["NoNewPrivs"].strip(), "1")
        self.assertEqual(os.readlink("/proc/%d/root" % w["net"]), "/")
        self.wait_message(dash, "heartbeat", 5)
        rc, took = agent.terminate(5)
        self.assertEqual(rc, 0)


if __name__ == "__main__":
    h.main()
