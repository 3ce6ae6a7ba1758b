#!/usr/bin/python3
"""The process tree (ARCHITECTURE.md "Processes", "Failure policy"), as
root: supervisor and two workers, the net-worker's sandbox, restarts after
a crash or a protocol violation, SIGTERM, the restart limit."""

import ctypes
import grp
import os
import pwd
import re
import signal
import stat
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402


def setUpModule():
    h.require_root()
    h.require_agent()


def seccomp_built():
    """Whether this build has the seccomp sandbox (meson feature 'auto')."""
    try:
        return "sandbox-seccomp.c" in (h.BUILD_DIR / "compile_commands.json").read_text()
    except OSError:
        return False


# The first id the supervisor tries without a nixfleet-agent user
# (WORKER_NET_ID_BASE), and the net-worker's RLIMIT_DATA with the default
# 1 MiB message limit (net.h: 64 MiB + 4 x 4 MiB CA + 2 x 4 MiB queue +
# 32 x the message limit).
NET_ID_BASE = 2000000000
DATA_LIMIT = (64 + 16 + 8 + 32) * 1024 * 1024


def landlock_abi():
    """The kernel's Landlock ABI version, 0 without Landlock."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    abi = libc.syscall(ctypes.c_long(444), None, ctypes.c_size_t(0), ctypes.c_uint(1))
    return abi if abi > 0 else 0


# Log lines that say the supervisor dropped a peer for a protocol
# violation.  The exact text is the supervisor's; any of these words will do.
DROP_RE = r"(drop|violat|protocol|bad (message|frame)|invalid|EBADMSG|EMSGSIZE|too (long|large|big))"


class ProcessTest(h.AgentTestCase):

    def setUp(self):
        super().setUp()
        self.dash = self.start_dashboard()
        self.env = self.agent_env(self.dash.url())
        self.agent = self.start_agent(self.env)
        self.w = self.agent.wait_workers(10)

    def new_worker(self, role, old, timeout):
        """Wait for a live worker of that role with a pid other than old."""
        def got():
            if not self.agent.running():
                raise AssertionError("supervisor exited %s\n%s" % (
                    self.agent.proc.returncode, self.context()))
            pid = self.agent.workers().get(role)
            return pid if pid and pid != old else None
        return self.wait(got, timeout, "a new %s-worker" % role)

    # ------------------------------------------------------------ tree

    def test_three_processes(self):
        def exactly_two():
            kids = h.children(self.agent.pid)
            return kids if sorted(n for _, n in kids) == [h.EXEC_NAME, h.NET_NAME] else None
        kids = self.wait(exactly_two, 5, "exactly the two workers as children")
        self.assertEqual(len(kids), 2)
        self.assertEqual(h.proc_argv0(self.agent.pid), "nixfleet-agent")
        # The workers are the build tree's binaries.
        for pid, name in kids:
            exe = os.readlink("/proc/%d/exe" % pid)
            self.assertEqual(os.path.basename(exe), name)
        # The agent is connected, so the workers are really working.
        self.wait_message(self.dash, "register", 10)

    def test_net_worker_sandbox(self):
        pid = self.w["net"]
        self.wait_message(self.dash, "register", 10)  # fully set up by now
        st = h.proc_status(pid)
        uids = [int(x) for x in st["Uid"].split()]
        gids = [int(x) for x in st["Gid"].split()]
        uid = uids[0]
        try:
            user = pwd.getpwnam("nixfleet-agent")
            self.assertEqual(uids, [user.pw_uid] * 4, st["Uid"])
            self.assertEqual(gids, [user.pw_gid] * 4, st["Gid"])
        except KeyError:
            # No dedicated user: a free id of the documented range, never
            # nobody's, which no user or group has.
            self.assertEqual(uids, [uid] * 4, st["Uid"])
            self.assertEqual(gids, [uid] * 4, st["Gid"])
            self.assertGreaterEqual(uid, NET_ID_BASE)
            self.assertLess(uid, NET_ID_BASE + 1000)
            self.assertRaises(KeyError, pwd.getpwuid, uid)
            self.assertRaises(KeyError, grp.getgrgid, uid)
        self.assertNotEqual(uid, 65534, "the shared nobody")
        self.assertNotIn(0, uids + gids)
        self.assertNotIn("0", st["Groups"].split(), "supplementary group 0")
        # No other process has the uid: nothing it could signal or trace.
        for other in h.all_pids():
            if other == pid:
                continue
            try:
                ost = h.proc_status(other)
            except (OSError, KeyError):
                continue
            ids = [int(x) for x in ost["Uid"].split() + ost["Gid"].split()]
            self.assertNotIn(uid, ids, "pid %d shares the net-worker's id" % other)
        self.assertEqual(os.readlink("/proc/%d/root" % pid),
                         os.path.realpath(self.env["NIXFLEET_PRIVSEP_DIR"]))
        self.assertEqual(st["NoNewPrivs"], "1")
        self.assertEqual(st["CapEff"], "0000000000000000")
        self.assertEqual(st["CapPrm"], "0000000000000000")
        self.assertEqual(st["CapAmb"], "0000000000000000")
        self.assertEqual(st["CapBnd"], "0000000000000000")
        limits = Path("/proc/%d/limits" % pid).read_text()
        self.assertRegex(limits, r"Max open files\s+16\s+16\s")
        self.assertRegex(limits, r"Max data size\s+%d\s+%d\s" % (DATA_LIMIT, DATA_LIMIT))
        # The level reached, said once by the worker itself.
        lines = self.agent.log_matches(r"net: sandbox: (.*)$")
        self.assertEqual(len(lines), 1, self.agent.log())
        level = lines[0].group(1)
        self.assertIn("chroot+uid %d+no capabilities+rlimits" % uid, level)
        if seccomp_built():
            self.assertEqual(st["Seccomp"], "2")
            self.assertIn("seccomp(allow-list, kill)", level)
        if landlock_abi() > 0:
            self.assertIn("landlock abi %d" % landlock_abi(), level)
        else:
            self.assertIn("no landlock", level)
        # No file open but /dev/null: only sockets, pipes, anonymous inodes.
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if target.startswith("/"):
                self.assertEqual(target, "/dev/null", "net-worker fd %s -> %s" % (fd, target))

    def test_print_config_sandbox(self):
        r = h.run_agent(["--print-config"], env=self.env)
        self.assertEqual(r.returncode, 0, r.err)
        m = re.search(r"^net-worker sandbox = (.*)$", r.out, re.M)
        self.assertIsNotNone(m, r.out)
        self.assertIn("chroot+own uid+no capabilities+rlimits", m.group(1))
        if seccomp_built():
            self.assertIn("seccomp(allow-list, kill)", m.group(1))
        if landlock_abi() > 0:
            self.assertIn("landlock abi %d" % landlock_abi(), m.group(1))

    def test_privsep_dir_still_empty(self):
        self.wait_message(self.dash, "register", 10)
        self.assertEqual(os.listdir(self.env["NIXFLEET_PRIVSEP_DIR"]), [])

    # ------------------------------------------------------------ crashes

    def kill_and_wait(self, role):
        old = self.w[role]
        t0 = time.monotonic()
        os.kill(old, signal.SIGKILL)
        new = self.new_worker(role, old, 2.0)
        self.assertLessEqual(time.monotonic() - t0, 2.0 + 0.2)
        self.assertTrue(self.agent.running())
        return new

    def test_kill_net_worker(self):
        self.wait_message(self.dash, "register", 10)
        self.kill_and_wait("net")
        # The new net-worker connects and registers again.
        self.wait_connects(self.dash, 2, 10)
        self.wait(lambda: len(self.dash.messages("register")) >= 2, 10, "a second register")
        self.assertTrue(self.agent.running())

    def test_kill_exec_worker(self):
        self.wait_message(self.dash, "register", 10)
        self.kill_and_wait("exec")
        self.assertTrue(self.agent.running())
        # Facts keep flowing: heartbeats go on after the restart.
        t = time.time()
        self.wait_message(self.dash, "heartbeat", 10, count=2, since=t)

    def garbage(self, role):
        """Write 64 bytes of garbage into the worker's channel to the
        supervisor (its fd 3): the supervisor reads them as coming from that
        worker, must drop it and start a new one."""
        self.wait_message(self.dash, "register", 10)
        old = self.w[role]
        start = len(self.agent.log())
        fd = h.pidfd_getfd(old, 3)
        try:
            self.assertTrue(stat.S_ISSOCK(os.fstat(fd).st_mode), "fd 3 is not a socket")
            os.write(fd, b"\xff" * 64)
        finally:
            os.close(fd)
        self.new_worker(role, old, 3.0)
        self.assertTrue(self.agent.running())
        self.wait(lambda: not h.alive(old), 3, "the old %s-worker to be gone" % role)
        self.wait_log(self.agent, DROP_RE, 3, start=start)

    def test_sigsys_death_named(self):
        """A net-worker its filter kills is reported with the call's name.
        The worker's own SIGSYS line is proven by check_sandbox on a real
        trap; here the supervisor's side: its reaper reads the line from the
        worker's stderr pipe and names the call, not "killed by signal"."""
        self.wait_message(self.dash, "register", 10)
        old = self.w["net"]
        start = len(self.agent.log())
        # The worker's stderr is the supervisor's pipe: say what its
        # handler says, then die by SIGSYS as the second trap does.
        with open("/proc/%d/fd/2" % old, "wb", buffering=0) as err:
            err.write(b"<3>net: sandbox: forbidden system call 41 arch 0xc000003e\n")
        os.kill(old, signal.SIGSYS)
        m = self.wait_log(self.agent, r"net-worker \(pid %d\) killed by its sandbox: "
                          r"forbidden system call (\S+) \(41, arch 0xc000003e\)" % old,
                          5, start=start)
        # Named from libseccomp's table; a build without it gives the number.
        self.assertEqual(m.group(1), "socket" if seccomp_built() else "#41")
        self.new_worker("net", old, 5.0)
        self.assertTrue(self.agent.running())

    def test_sigsys_unreported(self):
        """A SIGSYS not from the filter (root's kill -SYS) writes no report
        line; the death is still the sandbox's, not a crash."""
        self.wait_message(self.dash, "register", 10)
        old = self.w["net"]
        start = len(self.agent.log())
        os.kill(old, signal.SIGSYS)
        self.wait_log(self.agent, r"net-worker \(pid %d\) killed by its sandbox "
                      r"\(SIGSYS, the call not reported\)" % old, 5, start=start)
        self.assertEqual(self.agent.log_matches(r"forbidden system call", start), [])
        self.new_worker("net", old, 5.0)

    def test_garbage_from_net_worker(self):
        self.garbage("net")
        self.wait(lambda: len(self.dash.messages("register")) >= 2, 10, "a second register")

    def test_garbage_from_exec_worker(self):
        self.garbage("exec")

    # ------------------------------------------------------------ SIGTERM

    def test_sigterm(self):
        self.wait_message(self.dash, "register", 10)
        pids = [self.agent.pid] + list(self.w.values())
        rc, took = self.agent.terminate(5)
        self.assertEqual(rc, 0, "exit status after SIGTERM\n" + self.context())
        self.assertLess(took, 5)
        self.wait(lambda: not any(h.alive(p) for p in pids), 5, "every agent process gone")

    def test_sigint(self):
        self.wait_message(self.dash, "register", 10)
        pids = [self.agent.pid] + list(self.w.values())
        self.agent.signal(signal.SIGINT)
        self.assertEqual(self.agent.wait_exit(5), 0, self.context())
        self.wait(lambda: not any(h.alive(p) for p in pids), 5, "every agent process gone")

    # ------------------------------------------------------------ restart limit

    def test_restart_limit(self):
        """More than 5 worker restarts within 60 s: the supervisor gives up
        (exits non-zero) so the service manager takes over.  Restarts back
        off 1, 2, 4, 8, 16 s, so five kills each answered by a restart take
        ~31 s; the sixth kill must end the supervisor.  (A seventh is
        tolerated in case the count includes the one in flight.)"""
        t_start = time.monotonic()
        pid = self.w["net"]
        kills = 0
        exited_after = None
        seen = set(self.w.values())
        while time.monotonic() - t_start < 58:
            os.kill(pid, signal.SIGKILL)
            kills += 1

            def next_state():
                if not self.agent.running():
                    return ("exited", None)
                w = self.agent.workers()
                seen.update(w.values())
                p = w.get("net")
                return ("worker", p) if p and p != pid else None
            state, new = self.wait(next_state, 40, "a new net-worker or the supervisor's exit")
            if state == "exited":
                exited_after = kills
                break
            pid = new
        self.assertIsNotNone(exited_after, "supervisor still running after %d kills in %.0f s"
                             % (kills, time.monotonic() - t_start))
        self.assertGreaterEqual(exited_after, 6, "gave up after only %d kills" % exited_after)
        self.assertLessEqual(exited_after, 7)
        rc = self.agent.wait_exit(5)
        self.assertIsNotNone(rc)
        self.assertNotEqual(rc, 0)
        self.wait(lambda: not any(h.alive(p) for p in seen), 5,
                  "the workers to be gone after the supervisor's exit")


if __name__ == "__main__":
    h.main()
