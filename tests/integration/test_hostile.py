#!/usr/bin/python3
"""The net-worker against a hostile dashboard (tests/peers/hostile_dashboard.py):
floods of pings, messages and fragments, a message that never ends, bad
frames, and a dashboard that never answers `register`.

In every case the net-worker's memory stays under RSS_MAX, the
supervisor's watchdog notifications (NOTIFY_SOCKET, WATCHDOG_USEC) keep
coming, the log is not flooded, and where the protocol calls for it the
agent closes with the right code and reconnects.  Heartbeats (interval
1 s) keep their schedule while a flood the agent does not close on runs.
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from test_lifecycle import Notify  # noqa: E402

RSS_MAX_KB = 16 * 1024      # the net-worker, whatever the peer does
GAP_MAX = 2.5               # heartbeat (1 s) and watchdog gaps, seconds
LOG_MAX = 150               # log lines a flood may cost


def setUpModule():
    h.require_agent()
    h.require_root()


class HostileDashboard(h._Peer):
    script = "hostile_dashboard.py"
    name = "hostile"

    def command(self, port):
        return ["--port", str(port), "--record", str(self.record_path)]

    def events(self, event, conn=None):
        return [r for r in self.records(event)
                if conn is None or r.get("conn") == conn]

    def heartbeats(self, conn):
        return [r["t"] for r in self.events("message", conn)
                if r.get("type") == "heartbeat"]

    def close_codes(self, conn):
        return [r.get("code") for r in self.events("close", conn)]


def rss_kb(pid):
    try:
        return int(h.proc_status(pid)["VmRSS"].split()[0])
    except (OSError, KeyError, ValueError):
        return 0


def gaps(times):
    return [b - a for a, b in zip(times, times[1:])]


class HostileTest(h.AgentTestCase):

    def start(self, scenarios, *args, registered=True):
        self.dash = HostileDashboard(self.work, args=["--scenarios", scenarios] +
                                     list(args))
        self.addCleanup(self.dash.stop)
        self.peers.append(self.dash)
        self.dash.start()
        self.notify = Notify(self.work.path("notify"))
        self.addCleanup(self.notify.close)
        env = self.agent_env("ws://127.0.0.1:%d/ws" % self.dash.port,
                             NOTIFY_SOCKET=self.notify.path,
                             WATCHDOG_USEC=1000000)
        self.agent = self.start_agent(env)
        self.net = self.agent.wait_workers(10)["net"]
        self.rss = [rss_kb(self.net)]
        if registered:
            self.watch(lambda: self.dash.heartbeats(1), 15, "a first heartbeat")
        else:
            self.watch(lambda: self.dash.events("connect", 1), 15, "a connection")
        self.log_start = len(self.agent.log().splitlines())

    def watch(self, pred, timeout, what):
        """Sample the net-worker's RSS and the notifications until pred()."""
        end = time.monotonic() + timeout
        while True:
            self.notify.poll(0.1)
            self.rss.append(rss_kb(self.net))
            v = pred()
            if v:
                return v
            if time.monotonic() > end:
                raise AssertionError("timed out after %s s waiting for %s; "
                                     "max RSS %d kB\n%s" % (
                                         timeout, what, max(self.rss),
                                         self.context()))

    def check_bounds(self):
        self.assertTrue(h.alive(self.net), "the net-worker died\n" + self.context())
        self.assertLess(max(self.rss), RSS_MAX_KB,
                        "net-worker RSS %d kB\n%s" % (max(self.rss), self.context()))
        wd = [t for t, s in self.notify.seen if "WATCHDOG=1" in s]
        self.assertGreater(len(wd), 3, self.notify.seen[-5:])
        self.assertLessEqual(max(gaps(wd)), GAP_MAX,
                             "watchdog gaps %s" % sorted(gaps(wd))[-3:])
        lines = self.agent.log().splitlines()[self.log_start:]
        self.assertLess(len(lines), LOG_MAX, "%d log lines:\n%s" % (
            len(lines), "\n".join(lines[:20] + ["..."] + lines[-20:])))
        self.assertNotIn("heartbeat dropped", self.agent.log())
        print("  max RSS %d kB, %d log lines, watchdog max gap %.2f s" % (
            max(self.rss), len(lines), max(gaps(wd))), file=sys.stderr)

    def reconnected(self, conn):
        self.watch(lambda: len(self.dash.heartbeats(conn)) >= 2, 15,
                   "heartbeats on connection %d" % conn)

    def test_ping_flood(self):
        """Pings as fast as the agent reads: at most 100 control frames a
        second, then close 1008; one pong is pending at most."""
        self.start("ping-flood")
        self.watch(lambda: self.dash.events("flood", 1), 20, "the flood's end")
        self.watch(lambda: self.dash.close_codes(1), 10, "the agent's close")
        self.assertEqual(self.dash.close_codes(1), [1008], self.context())
        self.reconnected(2)
        self.check_bounds()

    def test_message_flood(self):
        """300,000 small messages, half malformed: the link stays up,
        heartbeats keep their schedule, the warnings are counted."""
        self.start("msg-flood", "--count", "300000", "--flood-seconds", "20")
        fl = self.watch(lambda: self.dash.events("flood", 1), 30, "the flood's end")
        dr = self.watch(lambda: self.dash.events("drained", 1), 60,
                        "the agent to read the whole flood")
        t0 = fl[0]["t"] - fl[0]["seconds"]
        self.watch(lambda: time.time() > dr[0]["t"] + 1.5, 5, "1.5 s more")
        hb = [t for t in self.dash.heartbeats(1) if t >= t0 - 1.5]
        self.assertGreaterEqual(fl[0]["sent"], 100000, fl)
        self.assertEqual(self.dash.close_codes(1), [], self.context())
        took = dr[0]["t"] - t0
        self.assertGreater(len(hb), took / 2, hb)
        self.assertLessEqual(max(gaps(hb)), GAP_MAX, "heartbeat gaps %s" % (
            sorted(gaps(hb))[-3:]))
        self.assertLessEqual(len(self.agent.log_matches(
            r"malformed message|unknown message type")), 10)
        self.check_bounds()
        print("  %d messages read in %.1f s, heartbeat max gap %.2f s" % (
            fl[0]["sent"], took, max(gaps(hb))), file=sys.stderr)

    def test_fragment_flood(self):
        """A million one-byte fragments: close 1008 after 1024."""
        self.start("frag-flood", "--count", "1000000")
        self.watch(lambda: self.dash.events("flood", 1), 20, "the flood's end")
        self.watch(lambda: self.dash.close_codes(1), 10, "the agent's close")
        self.assertEqual(self.dash.close_codes(1), [1008], self.context())
        self.reconnected(2)
        self.check_bounds()

    def test_fragmented_message_never_ends(self):
        """A fragment a second, never the last: close 1008 after 30 s."""
        self.start("frag-forever", "--flood-seconds", "45")
        t0 = time.time()
        self.watch(lambda: self.dash.close_codes(1), 40, "the agent's close")
        self.assertEqual(self.dash.close_codes(1), [1008], self.context())
        self.assertGreater(time.time() - t0, 25)
        hb = [t for t in self.dash.heartbeats(1) if t >= t0]
        self.assertLessEqual(max(gaps(hb)), GAP_MAX, sorted(gaps(hb))[-3:])
        self.reconnected(2)
        self.check_bounds()

    def test_bad_frames(self):
        """A one-byte close payload, a close status that never goes on the
        wire, a 2^63 length, a reserved opcode: close 1002 each.  The peer
        answers the close but keeps the socket open, so the agent waits in
        its closing state (5 s) without warning about heartbeats it cannot
        send."""
        self.start("close-1byte,close-badcode,len63,opcode")
        for conn in (1, 2, 3, 4):
            self.watch(lambda: self.dash.close_codes(conn), 15,
                       "the agent's close on connection %d" % conn)
            self.assertEqual(self.dash.close_codes(conn), [1002],
                             "connection %d\n%s" % (conn, self.context()))
            self.watch(lambda: self.dash.events("connect", conn + 1), 15,
                       "connection %d" % (conn + 1))
        self.reconnected(5)
        self.assertEqual(len(self.agent.log_matches(
            r"connection lost: protocol error: (one-byte close payload|frame length over 2\^63|"
            r"reserved opcode 0x3) \(close 1002\)")), 3, self.context())
        self.check_bounds()

    def test_no_registered(self):
        """Connected, register sent, no `registered`: after 30 s a warning
        and a new connection."""
        self.start("silent", registered=False)
        t0 = time.time()
        self.watch(lambda: self.dash.close_codes(1), 40, "the agent's close")
        self.assertGreater(time.time() - t0, 25)
        self.assertEqual(self.dash.close_codes(1), [1000], self.context())
        self.assertEqual(self.dash.heartbeats(1), [])
        self.assertEqual(len(self.agent.log_matches(
            r'no "registered" from the dashboard 30 s after register')), 1)
        self.reconnected(2)
        self.check_bounds()


if __name__ == "__main__":
    h.main()
