#!/usr/bin/python3
"""HTTP CONNECT proxies: HTTPS_PROXY / HTTP_PROXY / NO_PROXY (and lower
case), proxy authentication from the URL's userinfo.  A loopback
dashboard still goes through the proxy unless NO_PROXY names it."""

import base64
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402


def setUpModule():
    h.require_agent()


class ProxyTest(h.AgentTestCase):

    @classmethod
    def setUpClass(cls):
        cls.set_up_certs()

    def proxied(self, dash, proxy, **env):
        agent = self.start_agent(self.agent_env(dash.url(), **env))
        self.wait_message(dash, "register", 10)
        return agent

    def assert_tunnelled(self, dash, proxy, target, auth=None):
        conns = proxy.records("connect")
        self.assertTrue(conns, "no CONNECT reached the proxy:\n" + self.context())
        self.assertEqual(conns[0]["target"], target)
        got = h.header(conns[0]["headers"], "Proxy-Authorization")
        if auth:
            self.assertEqual(got, "Basic " + base64.b64encode(auth.encode()).decode())
        else:
            self.assertIsNone(got)
        # The dashboard's peer is the proxy: the agent did not dial directly.
        self.assertEqual(len(proxy.records("connect")), len(dash.records("connect")))

    def test_https_proxy_with_auth(self):
        dash = self.start_dashboard(tls="server")
        proxy = self.start_proxy(auth="user:pass")
        agent = self.proxied(dash, proxy,
                             HTTPS_PROXY="http://user:pass@127.0.0.1:%d" % proxy.port)
        self.assert_tunnelled(dash, proxy, "localhost:%d" % dash.port, "user:pass")
        # Proxy credentials are secrets too.
        self.assertNotIn("user:pass", agent.log())
        self.wait_message(dash, "heartbeat", 3)

    def test_lower_case_https_proxy(self):
        dash = self.start_dashboard(tls="server")
        proxy = self.start_proxy()
        self.proxied(dash, proxy, https_proxy="http://127.0.0.1:%d" % proxy.port)
        self.assert_tunnelled(dash, proxy, "localhost:%d" % dash.port)

    def test_http_proxy_for_plain_ws(self):
        dash = self.start_dashboard()
        proxy = self.start_proxy()
        self.proxied(dash, proxy, HTTP_PROXY="http://127.0.0.1:%d" % proxy.port,
                     HTTPS_PROXY="http://127.0.0.1:%d" % h.free_port())
        self.assert_tunnelled(dash, proxy, "127.0.0.1:%d" % dash.port)

    def test_https_proxy_not_used_for_plain_ws(self):
        dash = self.start_dashboard()
        proxy = self.start_proxy()
        self.proxied(dash, proxy, HTTPS_PROXY="http://127.0.0.1:%d" % proxy.port)
        self.assertEqual(proxy.records(), [])

    def test_no_proxy_goes_direct(self):
        dash = self.start_dashboard(tls="server")
        proxy = self.start_proxy()
        self.proxied(dash, proxy, HTTPS_PROXY="http://127.0.0.1:%d" % proxy.port,
                     NO_PROXY="example.invalid,localhost")
        self.assertEqual(proxy.records(), [], "the proxy was used despite NO_PROXY")

    def test_no_proxy_lower_case(self):
        dash = self.start_dashboard(tls="server")
        proxy = self.start_proxy()
        self.proxied(dash, proxy, https_proxy="http://127.0.0.1:%d" % proxy.port,
                     no_proxy="localhost")
        self.assertEqual(proxy.records(), [])

    def test_no_proxy_other_host_still_proxied(self):
        dash = self.start_dashboard(tls="server")
        proxy = self.start_proxy()
        self.proxied(dash, proxy, HTTPS_PROXY="http://127.0.0.1:%d" % proxy.port,
                     NO_PROXY="example.invalid")
        self.assert_tunnelled(dash, proxy, "localhost:%d" % dash.port)

    def test_wrong_proxy_credentials(self):
        dash = self.start_dashboard(tls="server")
        proxy = self.start_proxy(auth="user:pass")
        agent = self.start_agent(self.agent_env(
            dash.url(), HTTPS_PROXY="http://user:wrong@127.0.0.1:%d" % proxy.port))
        # 407 from the proxy is a failed dial: logged, retried with backoff.
        self.wait_log(agent, r"407", 6)
        self.wait(lambda: len(proxy.records("reject")) >= 2, 6, "a second attempt")
        self.assertTrue(all(r["status"] == 407 for r in proxy.records("reject")))
        self.assertEqual(dash.records("connect"), [])
        self.assertTrue(agent.running())
        self.assertNotIn("user:wrong", agent.log())

    def test_proxy_down_retried(self):
        dash = self.start_dashboard(tls="server")
        agent = self.start_agent(self.agent_env(
            dash.url(), HTTPS_PROXY="http://127.0.0.1:%d" % h.free_port()))
        self.wait_log(agent, r"retrying in", 6, count=2)
        self.assertEqual(dash.records("connect"), [])
        self.assertTrue(agent.running())


if __name__ == "__main__":
    h.main()
