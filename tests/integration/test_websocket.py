#!/usr/bin/python3
"""The WebSocket client (nixfleet-protocol.md §1): the upgrade request,
plain ws:// only to loopback unless allowed, 401 and other failed dials
with backoff, reconnects, keepalive and the read deadline, the message
size limit, fragmentation with interleaved pings, close 1000 "shutdown"."""

import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402


def setUpModule():
    h.require_agent()


# The refusal to send the token over a plain connection to a
# non-loopback host (matched loosely).
CLEAR_RE = r"not encrypted|in clear|cleartext|plain(text)? ws|insecure"


class WebSocketTest(h.AgentTestCase):

    def connected(self, **env):
        """A plain ws:// dashboard on 127.0.0.1 and a registered agent."""
        dash = self.start_dashboard(args=env.pop("dash_args", ()))
        agent = self.start_agent(self.agent_env(dash.url(), **env))
        self.wait_message(dash, "register", 5)
        return dash, agent

    def conn_of_last_register(self, dash):
        return dash.messages("register")[-1]["conn"]

    def still_connected(self, dash, conn, seconds=2.5):
        """The connection stays open and heartbeats keep arriving on it."""
        t = time.time()
        self.wait_message(dash, "heartbeat", seconds + 1.5, count=2, conn=conn, since=t)
        self.assertEqual(dash.closes(conn), [], "connection %d was closed" % conn)

    # ------------------------------------------------------------ upgrade

    def test_upgrade_request(self):
        dash, agent = self.connected()
        c = dash.records("connect")[0]
        hd = c["headers"]
        self.assertEqual(c["path"], "/ws")                 # URL used verbatim
        self.assertEqual(h.header(hd, "Authorization"), "Bearer " + h.TOKEN)
        self.assertIsNone(h.header(hd, "Origin"))
        self.assertEqual(h.header(hd, "Sec-WebSocket-Version"), "13")
        self.assertIsNone(h.header(hd, "Sec-WebSocket-Protocol"))
        self.assertIsNone(h.header(hd, "Sec-WebSocket-Extensions"))
        self.assertEqual(h.header(hd, "Host"), "127.0.0.1:%d" % dash.port)
        # register is the first frame.
        first = dash.records("message")[0]
        self.assertEqual(h.msg_type(first), "register")

    def test_loopback_plain_ws_no_warning(self):
        dash, agent = self.connected()
        self.assertNotRegex(agent.log(), re.compile(CLEAR_RE, re.I))

    # ------------------------------------------------------------ ws:// off loopback

    def in_netns(self, allow):
        """Dashboard and agent inside a namespace where 10.200.0.1 is a
        non-loopback address; nothing leaves the namespace."""
        ns = self.netns()
        dash = h.Dashboard(self.work, hosts=[ns.ip], netns=ns.name)
        self.addCleanup(dash.stop)
        self.peers.append(dash)
        dash.start()
        env = self.agent_env(dash.url(host=ns.ip))
        if allow:
            env["NIXFLEET_ALLOW_INSECURE_HTTP"] = "1"
        agent = self.start_agent(env, netns=ns.name)
        return dash, agent

    def test_plain_ws_non_loopback_refused(self):
        dash, agent = self.in_netns(allow=False)
        self.wait_log(agent, CLEAR_RE, 5)
        time.sleep(3)
        self.assertEqual(dash.records("connect"), [], "connected in clear to a non-loopback host")
        self.assertEqual(dash.records("reject"), [], "dialled a non-loopback host in clear")

    def test_plain_ws_non_loopback_allowed(self):
        dash, agent = self.in_netns(allow=True)
        self.wait_message(dash, "register", 10)
        # Allowed, but still a warning: the token travels in clear (§1.1).
        self.assertRegex(agent.log(), re.compile(CLEAR_RE, re.I))

    # ------------------------------------------------------------ failed dials

    def test_401_backoff(self):
        dash = self.start_dashboard(token="another-token")
        agent = self.start_agent(self.agent_env(dash.url()))
        self.wait_log(agent, r"authentication failed: 401", 5, count=2)
        time.sleep(1)
        rejects = dash.records("reject")
        self.assertGreaterEqual(len(rejects), 2)
        self.assertEqual(dash.records("connect"), [])
        self.assertEqual(dash.records("message"), [])
        self.assertTrue(agent.running())
        # Backoff, not a loop: >= 100 ms between attempts, a handful at most.
        ts = [r["t"] for r in rejects]
        gaps = [b - a for a, b in zip(ts, ts[1:])]
        self.assertTrue(all(g >= 0.09 for g in gaps), gaps)
        self.assertLessEqual(len([t for t in ts if t - ts[0] <= 3.0]), 5, gaps)
        # Once the token is right, the agent gets in within one backoff step.
        dash.control("set-token " + h.TOKEN)
        self.wait_message(dash, "register", 20)
        self.assertTrue(agent.running())

    def test_other_status_retried(self):
        dash = self.start_dashboard()
        dash.control("reject 503")
        agent = self.start_agent(self.agent_env(dash.url()))
        self.wait_log(agent, r"503", 5)
        self.wait(lambda: len(dash.records("reject")) >= 2, 6, "a second attempt")
        dash.control("reject off")
        self.wait_message(dash, "register", 20)

    def test_dashboard_down_at_start(self):
        port = h.free_port()
        agent = self.start_agent(self.agent_env("ws://127.0.0.1:%d/ws" % port))
        self.wait_log(agent, r"retrying in", 5, count=2)
        self.assertTrue(agent.running())
        dash = h.Dashboard(self.work)
        self.addCleanup(dash.stop)
        self.peers.append(dash)
        dash.start(port=port)
        self.wait_message(dash, "register", 20)

    def test_handshake_timeout(self):
        # A TCP listener that never answers the upgrade.
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        self.addCleanup(s.close)
        agent = self.start_agent(self.agent_env(
            "ws://127.0.0.1:%d/ws" % s.getsockname()[1],
            NIXFLEET_HANDSHAKE_TIMEOUT_MS="1000"))
        self.wait_log(agent, r"retrying in", 6, count=2)
        self.assertTrue(agent.running())

    # ------------------------------------------------------------ reconnects

    def test_reconnect_after_dashboard_restart(self):
        dash, agent = self.connected()
        dash.restart()
        self.wait(lambda: len(dash.messages("register")) >= 2, 6, "register on the new connection")
        conn = self.conn_of_last_register(dash)
        self.assertNotEqual(conn, dash.messages("register")[0]["conn"])
        # registered answered again, heartbeats resume on the new connection.
        self.wait_message(dash, "heartbeat", 3, conn=conn)
        self.assertTrue(agent.running())

    def test_reconnect_after_close(self):
        dash, agent = self.connected()
        dash.control("close 1001 going away")
        self.wait(lambda: len(dash.messages("register")) >= 2, 6, "register again")
        self.assertEqual(dash.closes(1)[0]["code"], 1001)

    def test_reconnect_after_drop(self):
        dash, agent = self.connected()
        dash.control("drop")
        self.wait(lambda: len(dash.messages("register")) >= 2, 6, "register again")
        self.wait_message(dash, "heartbeat", 3, conn=self.conn_of_last_register(dash))

    def test_empty_close_frame_reconnects(self):
        # What a dashboard sends an agent replaced by a duplicate (§1.5).
        dash, agent = self.connected()
        dash.control("close empty")
        self.wait(lambda: len(dash.messages("register")) >= 2, 6, "register again")

    # ------------------------------------------------------------ keepalive

    def test_pings_at_interval(self):
        dash, agent = self.connected(NIXFLEET_PING_INTERVAL_MS="500")
        t = time.time()
        time.sleep(3)
        pings = [r for r in dash.records("ping") if r["t"] >= t]
        self.assertGreaterEqual(len(pings), 4, pings)
        self.assertLessEqual(len(pings), 8, pings)
        self.assertTrue(all(p["hex"] == "" for p in pings), "ping payload not empty")

    def test_answers_server_ping(self):
        dash, agent = self.connected()
        for _ in range(3):
            self.assertEqual(dash.control("ping")["pong"], True)

    def test_silent_dashboard_declared_dead(self):
        dash, agent = self.connected(NIXFLEET_PING_INTERVAL_MS="500",
                                     NIXFLEET_READ_TIMEOUT_MS="2000")
        time.sleep(1)
        t0 = time.time()
        dash.control("silence")
        c = self.wait(lambda: [r for r in dash.records("connect") if r["t"] > t0], 6,
                      "a new connection after the silence")
        dt = c[0]["t"] - t0
        # The read deadline (2 s, re-armed by the last pong) plus at most one
        # backoff step (<= 1 s), with margin; not before ~1.5 s of silence.
        self.assertGreaterEqual(dt, 1.4, "reconnected after only %.2f s" % dt)
        self.assertLessEqual(dt, 4.5, "reconnected only after %.2f s" % dt)
        self.wait(lambda: len(dash.messages("register")) >= 2, 3, "register again")

    def test_quiet_but_alive_connection_kept(self):
        # The dashboard answers pings but sends nothing else: the pongs keep
        # the connection alive past the read deadline.
        dash, agent = self.connected(NIXFLEET_PING_INTERVAL_MS="500",
                                     NIXFLEET_READ_TIMEOUT_MS="2000")
        time.sleep(5)
        self.assertEqual(len(dash.records("connect")), 1)
        self.assertEqual(dash.closes(), [])

    # ------------------------------------------------------------ messages

    def test_oversize_message_closes_1009(self):
        dash, agent = self.connected()
        conn = self.conn_of_last_register(dash)
        dash.control("send-big %d" % (2 * 1024 * 1024))
        close = self.wait(lambda: dash.closes(conn), 6, "the agent to close the connection")
        self.assertEqual(close[0]["code"], 1009, close)
        self.assertTrue(agent.running())
        self.wait(lambda: len(dash.messages("register")) >= 2, 6, "register again")

    def test_oversize_limit_configurable(self):
        dash, agent = self.connected(NIXFLEET_MAX_MESSAGE=str(64 * 1024))
        conn = self.conn_of_last_register(dash)
        dash.control("send-big %d" % (100 * 1024))
        close = self.wait(lambda: dash.closes(conn), 6, "the agent to close the connection")
        self.assertEqual(close[0]["code"], 1009, close)

    def test_large_message_within_limit(self):
        dash, agent = self.connected()
        conn = self.conn_of_last_register(dash)
        start = len(agent.log())
        dash.control("send-big %d" % (900 * 1024))
        # Read whole: an unknown type, logged; the connection stays.
        self.wait_log(agent, r"unknown message type", 5, start=start)
        self.still_connected(dash, conn)

    def test_fragmented_message_with_pings(self):
        dash, agent = self.connected()
        conn = self.conn_of_last_register(dash)
        start = len(agent.log())
        dash.control("send-fragmented 5")
        # Reassembled: the agent sees the type of the whole message.
        self.wait_log(agent, r"unknown message type.*fragmented_test|fragmented_test.*unknown",
                      5, start=start)
        self.still_connected(dash, conn)

    def test_binary_frame_ignored(self):
        dash, agent = self.connected()
        conn = self.conn_of_last_register(dash)
        dash.control('send-binary {"type":"registered","payload":{}}')
        self.still_connected(dash, conn)

    # ------------------------------------------------------------ shutdown

    def test_sigterm_close_1000_shutdown(self):
        dash, agent = self.connected()
        conn = self.conn_of_last_register(dash)
        rc, took = agent.terminate(5)
        self.assertEqual(rc, 0, self.context())
        self.assertLess(took, 5)
        close = self.wait(lambda: dash.closes(conn), 5, "the close record")
        self.assertEqual((close[0]["code"], close[0]["reason"]), (1000, "shutdown"))

    def test_sigterm_while_silent_dashboard(self):
        # The peer never answers the close: the agent still exits within 5 s.
        dash, agent = self.connected()
        dash.control("silence")
        rc, took = agent.terminate(6)
        self.assertEqual(rc, 0, self.context())
        self.assertLess(took, 5.5)


if __name__ == "__main__":
    h.main()
