#!/usr/bin/python3
"""Command line and configuration (nixfleet-protocol.md §4): flags, exit
statuses, validation with every problem named together, token files,
--print-config, the JSON file and its precedence, --check."""

import json
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402


def setUpModule():
    h.require_agent()


class ConfigTest(h.AgentTestCase):

    def base_env(self, **over):
        """A valid configuration (never started as a daemon here); over:
        NAME=value to set, NAME=None to leave out."""
        url = over.pop("NIXFLEET_URL", "ws://127.0.0.1:%d/ws" % h.free_port())
        return self.agent_env(url, **over)

    def run_cfg(self, args, env, timeout=20):
        r = h.run_agent(args, {k: v for k, v in env.items() if k != "PATH"},
                        timeout=timeout)
        self.last = r
        return r

    def explain(self, r):
        return "exit %s\n--- stdout:\n%s\n--- stderr:\n%s" % (
            r.returncode, r.out, r.err)

    # ------------------------------------------------------------ flags

    def test_version(self):
        for flag in ("--version", "-v"):
            r = self.run_cfg([flag], {})
            self.assertEqual(r.returncode, 0, self.explain(r))
            self.assertEqual(r.out, "nixfleet-agent %s\n" % h.VERSION, self.explain(r))

    def test_help(self):
        for flag in ("--help", "-h"):
            r = self.run_cfg([flag], {})
            self.assertEqual(r.returncode, 0, self.explain(r))
            text = r.out + r.err
            # The usage includes the environment variable table (§4.3).
            for name in ("NIXFLEET_URL", "NIXFLEET_TOKEN", "NIXFLEET_INTERVAL"):
                self.assertIn(name, text, self.explain(r))

    def test_unknown_flag(self):
        r = self.run_cfg(["--no-such-flag"], self.base_env())
        self.assertEqual(r.returncode, 1, self.explain(r))
        self.assertIn("no-such-flag", r.err, self.explain(r))
        self.assertRegex(r.err, re.compile("usage", re.I))

    # ------------------------------------------------------------ validation

    def test_all_problems_reported_at_once(self):
        env = self.base_env(NIXFLEET_URL=None, NIXFLEET_INTERVAL="0")
        r = self.run_cfg([], env)
        self.assertEqual(r.returncode, 78, self.explain(r))
        self.assertIn("NIXFLEET_URL", r.err, self.explain(r))
        # NIXFLEET_INTERVAL: must be an integer >= 1 (got "0"), with its
        # source (the environment).
        lines = [ln for ln in r.err.splitlines() if "NIXFLEET_INTERVAL" in ln]
        self.assertTrue(lines, self.explain(r))
        self.assertTrue(any(re.search(r"\b0\b", ln.split("NIXFLEET_INTERVAL", 1)[1])
                            for ln in lines), self.explain(r))
        self.assertTrue(any(re.search(r"\benv(ironment)?\b", ln, re.I) for ln in lines),
                        "the source of NIXFLEET_INTERVAL is not named\n" + self.explain(r))

    def test_interval_not_a_number(self):
        r = self.run_cfg([], self.base_env(NIXFLEET_INTERVAL="5s"))
        self.assertEqual(r.returncode, 78, self.explain(r))
        self.assertIn("NIXFLEET_INTERVAL", r.err)

    def test_https_url_rejected(self):
        r = self.run_cfg([], self.base_env(NIXFLEET_URL="https://127.0.0.1:1/ws"))
        self.assertEqual(r.returncode, 78, self.explain(r))
        lines = [ln for ln in r.err.splitlines() if "NIXFLEET_URL" in ln]
        self.assertTrue(lines, self.explain(r))
        self.assertTrue(any("https" in ln for ln in lines), self.explain(r))

    def test_bad_log_level(self):
        r = self.run_cfg([], self.base_env(NIXFLEET_LOG_LEVEL="chatty"))
        self.assertEqual(r.returncode, 78, self.explain(r))
        self.assertIn("NIXFLEET_LOG_LEVEL", r.err)

    def test_missing_token(self):
        r = self.run_cfg([], self.base_env(NIXFLEET_TOKEN=None))
        self.assertEqual(r.returncode, 78, self.explain(r))
        self.assertIn("NIXFLEET_TOKEN", r.err)

    # ------------------------------------------------------------ token files

    def token_file(self, text, mode=0o600, name="token"):
        return str(self.work.write(name, text, mode))

    def test_token_file_open_mode_refused(self):
        path = self.token_file("s3cr3t-file-token\n", 0o644)
        env = self.base_env(NIXFLEET_TOKEN=None, NIXFLEET_TOKEN_FILE=path)
        r = self.run_cfg([], env)
        self.assertEqual(r.returncode, 78, self.explain(r))
        self.assertIn("NIXFLEET_TOKEN_FILE", r.err, self.explain(r))
        self.assertNotIn("s3cr3t-file-token", r.out + r.err)

    def connect_with(self, env, token):
        """Start the agent against a dashboard expecting token; the upgrade
        must carry exactly that Bearer token and register must follow."""
        dash = self.start_dashboard(token=token)
        env["NIXFLEET_URL"] = dash.url()
        agent = self.start_agent(env)
        self.wait_message(dash, "register", 10)
        conn = dash.records("connect")[0]
        self.assertEqual(h.header(conn["headers"], "Authorization"), "Bearer " + token)
        self.assertNotIn(token, agent.log(), "the token appears in the log")
        return agent, dash

    def test_token_file_open_mode_allowed_explicitly(self):
        path = self.token_file("s3cr3t-file-token\n", 0o644)
        env = self.base_env(NIXFLEET_TOKEN=None, NIXFLEET_TOKEN_FILE=path,
                            NIXFLEET_ALLOW_INSECURE_TOKEN_FILE="1")
        self.connect_with(env, "s3cr3t-file-token")

    def test_token_file_bare(self):
        path = self.token_file("# the fleet token\n  bare-token-123  \n")
        env = self.base_env(NIXFLEET_TOKEN=None, NIXFLEET_TOKEN_FILE=path)
        self.connect_with(env, "bare-token-123")

    def test_token_file_environment_file_line(self):
        # What a systemd EnvironmentFile holds (§8.1), quoted, among others.
        path = self.token_file('# managed\nOTHER=1\nNIXFLEET_TOKEN="env-line-token"\n')
        env = self.base_env(NIXFLEET_TOKEN=None, NIXFLEET_TOKEN_FILE=path)
        self.connect_with(env, "env-line-token")

    def test_token_file_missing(self):
        env = self.base_env(NIXFLEET_TOKEN=None,
                            NIXFLEET_TOKEN_FILE=str(self.work.path("nonexistent")))
        r = self.run_cfg([], env)
        self.assertEqual(r.returncode, 78, self.explain(r))
        self.assertIn("NIXFLEET_TOKEN_FILE", r.err)

    def test_token_and_token_file_differ(self):
        path = self.token_file("one-token\n")
        env = self.base_env(NIXFLEET_TOKEN="another-token", NIXFLEET_TOKEN_FILE=path)
        r = self.run_cfg([], env)
        self.assertEqual(r.returncode, 78, self.explain(r))
        self.assertNotIn("one-token", r.out + r.err)
        self.assertNotIn("another-token", r.out + r.err)

    # ------------------------------------------------------------ --print-config

    def config_lines(self, text):
        """{NAME: (value, source)} from `NAME = value  (source)` lines."""
        out = {}
        for ln in text.splitlines():
            m = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s+\((.*)\)\s*$", ln)
            if m:
                out[m.group(1)] = (m.group(2), m.group(3))
        return out

    def test_print_config(self):
        secret = "s3cr3t-print-token"
        url = "ws://127.0.0.1:9/ws"
        r = self.run_cfg(["--print-config"],
                         self.base_env(NIXFLEET_URL=url, NIXFLEET_TOKEN=secret))
        self.assertEqual(r.returncode, 0, self.explain(r))
        self.assertNotIn(secret, r.out + r.err)
        cfg = self.config_lines(r.out)
        self.assertIn("NIXFLEET_URL", cfg, self.explain(r))
        self.assertEqual(cfg["NIXFLEET_URL"][0], url)
        self.assertRegex(cfg["NIXFLEET_URL"][1], re.compile(r"^env(ironment)?\b", re.I))
        self.assertIn("NIXFLEET_TOKEN", cfg, self.explain(r))
        self.assertIn("redacted", cfg["NIXFLEET_TOKEN"][0] + cfg["NIXFLEET_TOKEN"][1])
        self.assertEqual(cfg.get("NIXFLEET_INTERVAL", ("",))[0], "1", self.explain(r))
        self.assertEqual(cfg.get("NIXFLEET_HOSTNAME", ("",))[0], h.HOSTNAME)

    def test_print_config_token_file_not_read_out(self):
        path = self.token_file("NIXFLEET_TOKEN=s3cr3t-in-file\n")
        r = self.run_cfg(["--print-config"],
                         self.base_env(NIXFLEET_TOKEN=None, NIXFLEET_TOKEN_FILE=path))
        self.assertEqual(r.returncode, 0, self.explain(r))
        self.assertNotIn("s3cr3t-in-file", r.out + r.err)

    # ------------------------------------------------------------ JSON file

    def write_config(self, obj):
        return str(self.work.write("agent-config.json", json.dumps(obj), 0o600))

    def test_config_file_and_env_precedence(self):
        file_url = "ws://127.0.0.1:7/ws"
        path = self.write_config({"nixfleet": {"url": file_url, "interval": 7}})
        env = self.base_env(NIXFLEET_URL=None, NIXFLEET_INTERVAL=None)
        r = self.run_cfg(["--config", path, "--print-config"], env)
        self.assertEqual(r.returncode, 0, self.explain(r))
        cfg = self.config_lines(r.out)
        self.assertEqual(cfg["NIXFLEET_URL"][0], file_url, self.explain(r))
        self.assertEqual(cfg["NIXFLEET_INTERVAL"][0], "7", self.explain(r))
        # The file's source: "file", or the file's path.
        for name in ("NIXFLEET_URL", "NIXFLEET_INTERVAL"):
            self.assertRegex(cfg[name][1], re.compile(r"file|agent-config\.json", re.I),
                             self.explain(r))
        # The environment wins over the file.
        env["NIXFLEET_INTERVAL"] = "3"
        r = self.run_cfg(["--config", path, "--print-config"], env)
        self.assertEqual(r.returncode, 0, self.explain(r))
        cfg = self.config_lines(r.out)
        self.assertEqual(cfg["NIXFLEET_INTERVAL"][0], "3", self.explain(r))
        self.assertRegex(cfg["NIXFLEET_INTERVAL"][1], re.compile(r"^env(ironment)?\b", re.I))
        self.assertEqual(cfg["NIXFLEET_URL"][0], file_url)

    def test_config_file_bad_value_names_file(self):
        path = self.write_config({"nixfleet": {"interval": 0}})
        env = self.base_env(NIXFLEET_INTERVAL=None)
        r = self.run_cfg(["--config", path], env)
        self.assertEqual(r.returncode, 78, self.explain(r))
        lines = [ln for ln in r.err.splitlines() if re.search("interval", ln, re.I)]
        self.assertTrue(lines, self.explain(r))
        self.assertTrue(any(re.search(r"file|agent-config\.json", ln, re.I) for ln in lines),
                        self.explain(r))

    def test_config_file_unknown_key_warns(self):
        path = self.write_config({"nixfleet": {"interval": 2, "bogus_key_xyz": 1}})
        r = self.run_cfg(["--config", path, "--print-config"], self.base_env(NIXFLEET_INTERVAL=None))
        self.assertEqual(r.returncode, 0, self.explain(r))
        self.assertIn("bogus_key_xyz", r.err, self.explain(r))
        self.assertEqual(self.config_lines(r.out)["NIXFLEET_INTERVAL"][0], "2")

    def test_config_file_invalid_json(self):
        path = str(self.work.write("agent-config.json", "{not json", 0o600))
        r = self.run_cfg(["--config", path], self.base_env())
        self.assertEqual(r.returncode, 78, self.explain(r))
        self.assertIn("agent-config.json", r.err, self.explain(r))

    # ------------------------------------------------------------ --check

    def test_check_reachable(self):
        dash = self.start_dashboard()
        t0 = time.time()
        r = self.run_cfg(["--check"], self.base_env(NIXFLEET_URL=dash.url()))
        self.assertEqual(r.returncode, 0, self.explain(r))
        # It GETs the base URL (/ws stripped), sends no token, does not upgrade.
        reqs = [x for x in dash.records("http") if x["t"] >= t0]
        self.assertEqual(len(reqs), 1, dash.records())
        self.assertEqual(reqs[0]["path"], "/")
        self.assertIsNone(h.header(reqs[0]["headers"], "Authorization"))
        self.assertIsNone(h.header(reqs[0]["headers"], "Upgrade"))
        self.assertEqual(dash.records("connect"), [])

    def test_check_http_error_status(self):
        dash = self.start_dashboard()
        # GET /missing answers 404: status >= 400 is a failure.
        r = self.run_cfg(["--check"], self.base_env(
            NIXFLEET_URL="ws://127.0.0.1:%d/missing/ws" % dash.port))
        self.assertEqual(r.returncode, 1, self.explain(r))
        self.assertEqual([x["path"] for x in dash.records("http")], ["/missing"])

    def test_check_closed_port(self):
        t0 = time.monotonic()
        r = self.run_cfg(["--check"], self.base_env(
            NIXFLEET_URL="ws://127.0.0.1:%d/ws" % h.free_port()))
        self.assertEqual(r.returncode, 1, self.explain(r))
        self.assertLess(time.monotonic() - t0, 12)

    def test_check_config_error(self):
        r = self.run_cfg(["--check"], self.base_env(NIXFLEET_URL="https://127.0.0.1:1/"))
        self.assertEqual(r.returncode, 78, self.explain(r))


class CheckTlsTest(h.AgentTestCase):
    """--check verifies TLS like the daemon does."""

    @classmethod
    def setUpClass(cls):
        cls.set_up_certs()

    def check(self, dash, **env):
        e = self.agent_env(dash.url(), **env)
        e.pop("PATH")
        return h.run_agent(["--check"], e, timeout=20)

    def test_check_tls_verified(self):
        dash = self.start_dashboard(tls="server")
        r = self.check(dash)
        self.assertEqual(r.returncode, 0, r.err)
        self.assertEqual([x["path"] for x in dash.records("http")], ["/"])

    def test_check_tls_unknown_ca(self):
        dash = self.start_dashboard(tls="selfsigned")
        r = self.check(dash)
        self.assertEqual(r.returncode, 1, r.err)
        self.assertEqual(dash.records("http"), [])


if __name__ == "__main__":
    h.main()
