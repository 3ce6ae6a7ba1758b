#!/usr/bin/python3
"""TLS (nixfleet-protocol.md §1.1, ARCHITECTURE.md "Security model"):
chain and hostname verification against a CA file, expiry, public-key
pins, skip-verify; a refused server is retried with backoff."""

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402


def setUpModule():
    h.require_agent()


# Reasons the agent logs for a refused certificate (matched loosely,
# case-insensitive).
UNKNOWN_CA = r"unknown CA|not trusted|untrusted"
HOSTNAME = r"hostname mismatch|name mismatch"
EXPIRED = r"expired"
PIN = r"pin mismatch"
RETRY = r"retrying in"


class CertsTest(h.AgentTestCase):
    """The certificates the other tests rely on are what they claim."""

    @classmethod
    def setUpClass(cls):
        cls.set_up_certs()

    def test_certificates(self):
        self.assertTrue(h.certlib.selftest(self.certs))

    def test_pin_matches_shell_pipeline(self):
        # The pin as the documentation tells operators to compute it.
        import subprocess
        out = subprocess.run(
            "openssl x509 -pubkey -noout -in '%s' | openssl pkey -pubin -outform DER"
            " | openssl dgst -sha256 -binary | base64" % self.certs.pem("server"),
            shell=True, stdout=subprocess.PIPE, check=True, timeout=30).stdout.decode().strip()
        self.assertEqual("sha256//" + out, h.certlib.pin_b64(self.certs.pem("server")))


class TlsTest(h.AgentTestCase):

    @classmethod
    def setUpClass(cls):
        cls.set_up_certs()

    def connect(self, tls="server", host=None, **env):
        """Dashboard with that certificate, agent started against it."""
        dash = self.start_dashboard(tls=tls)
        agent = self.start_agent(self.agent_env(dash.url(host=host), **env))
        return dash, agent

    def assert_connected(self, dash, agent):
        reg = self.wait_message(dash, "register", 5)
        self.assertEqual(reg[0]["data"]["payload"]["hostname"], h.HOSTNAME)
        self.assertTrue(agent.running())
        return reg

    def assert_refused(self, dash, agent, reason):
        """Refused with reason in the log, retried with backoff (at least
        two attempts within ~4 s), never upgraded, still running."""
        self.wait_log(agent, reason, 5)
        self.wait_log(agent, RETRY, 5, count=2)
        self.assertEqual(dash.records("connect"), [], "upgraded despite a bad certificate")
        self.assertEqual(dash.records("message"), [])
        self.assertTrue(agent.running(), self.context())
        # The failures were at least two separate attempts.
        self.assertGreaterEqual(len(agent.log_matches(reason)), 2, self.context())

    # ------------------------------------------------------------ accepted

    def test_valid_chain(self):
        dash, agent = self.connect()
        self.assert_connected(dash, agent)
        hdrs = dash.records("connect")[0]["headers"]
        self.assertEqual(h.header(hdrs, "Authorization"), "Bearer " + h.TOKEN)
        self.assertIsNone(h.header(hdrs, "Origin"))

    def test_valid_chain_ip_address(self):
        # The certificate has IP:127.0.0.1 as well.
        dash, agent = self.connect(host="127.0.0.1")
        self.assert_connected(dash, agent)

    def test_ssl_cert_file(self):
        dash, agent = self.connect(NIXFLEET_CA_FILE=None, SSL_CERT_FILE=self.certs.ca)
        self.assert_connected(dash, agent)

    def test_pin_match_base64(self):
        pin = h.certlib.pin_b64(self.certs.pem("server"))
        dash, agent = self.connect(NIXFLEET_PINNED_PUBKEY=pin)
        self.assert_connected(dash, agent)

    def test_pin_match_hex(self):
        pin = h.certlib.pin_hex(self.certs.pem("server"))
        dash, agent = self.connect(NIXFLEET_PINNED_PUBKEY=pin)
        self.assert_connected(dash, agent)

    def test_pin_list_one_matches(self):
        pins = ",".join([h.certlib.pin_b64(self.certs.pem("otherca")),
                         h.certlib.pin_b64(self.certs.pem("server"))])
        dash, agent = self.connect(NIXFLEET_PINNED_PUBKEY=pins)
        self.assert_connected(dash, agent)

    def test_skip_verify(self):
        # Self-signed, and no CA configured at all: only skip-verify lets it in.
        dash, agent = self.connect(tls="selfsigned", NIXFLEET_CA_FILE=None,
                                   NIXFLEET_INSECURE="1")
        self.assert_connected(dash, agent)
        self.assertRegex(agent.log(), re.compile(r"TLS verification disabled", re.I))

    # ------------------------------------------------------------ refused

    def test_unknown_ca_self_signed(self):
        dash, agent = self.connect(tls="selfsigned")
        self.assert_refused(dash, agent, UNKNOWN_CA)

    def test_unknown_ca_other_issuer(self):
        dash, agent = self.connect(tls="otherca")
        self.assert_refused(dash, agent, UNKNOWN_CA)

    def test_system_store_does_not_know_test_ca(self):
        dash, agent = self.connect(NIXFLEET_CA_FILE=None)
        self.assert_refused(dash, agent, UNKNOWN_CA)

    def test_wrong_hostname(self):
        dash, agent = self.connect(tls="wrongname")
        self.assert_refused(dash, agent, HOSTNAME)

    def test_expired(self):
        dash, agent = self.connect(tls="expired")
        self.assert_refused(dash, agent, EXPIRED)

    def test_pin_mismatch(self):
        # A valid chain, but the pin is another key's.
        pin = h.certlib.pin_b64(self.certs.pem("otherca"))
        dash, agent = self.connect(NIXFLEET_PINNED_PUBKEY=pin)
        self.assert_refused(dash, agent, PIN)

    def test_pin_mismatch_hex(self):
        pin = h.certlib.pin_hex(self.certs.pem("otherca"))
        dash, agent = self.connect(NIXFLEET_PINNED_PUBKEY=pin)
        self.assert_refused(dash, agent, PIN)

    def test_tls_to_plain_server(self):
        # wss:// to a server that speaks plain HTTP: a TLS failure, retried.
        dash = self.start_dashboard()
        agent = self.start_agent(self.agent_env("wss://127.0.0.1:%d/ws" % dash.port))
        self.wait_log(agent, RETRY, 6, count=2)
        self.assertEqual(dash.records("connect"), [])
        self.assertTrue(agent.running())


if __name__ == "__main__":
    h.main()
