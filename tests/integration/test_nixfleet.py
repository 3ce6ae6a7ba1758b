#!/usr/bin/python3
"""The nixfleet dialect against the reference dashboard over TLS:
acceptance scenarios T01 (connection) and T02 (heartbeat) of
nixfleet-protocol.md §7, with the message shapes of §2 and the facts of §3."""

import hashlib
import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402


def setUpModule():
    h.require_agent()


REGISTER_KEYS = ["hostname", "host_type", "agent_version", "os_version",
                 "nixpkgs_version", "generation", "theme_color",
                 "heartbeat_interval", "location", "device_type", "repo_url",
                 "repo_dir", "source_commit", "store_path", "binary_hash"]
HEARTBEAT_KEYS = ["generation", "nixpkgs_version", "pending_command",
                  "command_pid", "metrics", "update_status", "source_commit",
                  "store_path", "binary_hash", "lock_hash"]
RFC3339_Z = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"


def expected_os_version():
    """§3.2: VERSION_ID from /etc/os-release, quotes removed, else unknown."""
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("VERSION_ID="):
                    return line.split("=", 1)[1].strip().strip('"\'')
    except OSError:
        pass
    return "unknown"


def expected_nixpkgs_version():
    try:
        with open("/run/current-system/nixos-version") as f:
            return f.read().strip()
    except OSError:
        return ""


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


class NixfleetTest(h.AgentTestCase):

    @classmethod
    def setUpClass(cls):
        cls.set_up_certs()

    def run_agent_tls(self, dash_args=(), **env):
        self.dash = self.start_dashboard(tls="server", args=dash_args)
        self.agent = self.start_agent(self.agent_env(self.dash.url(), **env))
        return self.dash, self.agent

    def registered_at(self, dash, conn=None):
        """Time the dashboard sent registered (on conn, default the first)."""
        def sent():
            for r in dash.records("sent"):
                if h.msg_type(r) == "registered" and (conn is None or r["conn"] == conn):
                    return r["t"]
            return None
        return self.wait(sent, 5, "registered to be sent")

    def heartbeats(self, dash, since=0.0, conn=None):
        return [r for r in dash.messages("heartbeat", conn=conn, since=since)]

    # ------------------------------------------------------------ T01

    def test_register(self):
        """T01-S1 and §2.1: every field, with its JSON type and value."""
        dash, agent = self.run_agent_tls()
        t_start = agent.started
        reg = self.wait_message(dash, "register", 5)[0]
        self.assertLessEqual(reg["t"] - t_start, 5.0)
        # It is the first frame of the connection, in the envelope.
        self.assertEqual(dash.records("message")[0], reg)
        self.assertEqual(list(reg["data"].keys()), ["type", "payload"])
        p = reg["data"]["payload"]
        for k in REGISTER_KEYS:
            self.assertIn(k, p, "register lacks %s: %s" % (k, p))
        # Key order follows the table (upstream's struct order; a SHOULD).
        self.assertEqual([k for k in p if k in REGISTER_KEYS], REGISTER_KEYS)
        strings = [k for k in REGISTER_KEYS if k != "heartbeat_interval"]
        for k in strings:
            self.assertIsInstance(p[k], str, k)
        self.assertIs(type(p["heartbeat_interval"]), int)
        self.assertEqual(p["hostname"], h.HOSTNAME)
        self.assertEqual(p["host_type"], "nixos")
        self.assertEqual(p["agent_version"], h.VERSION)
        self.assertEqual(p["os_version"], expected_os_version())
        self.assertEqual(p["nixpkgs_version"], expected_nixpkgs_version())
        self.assertEqual(p["generation"], h.head7(self.repo))
        self.assertRegex(p["generation"], r"^[0-9a-f]{7}$")
        self.assertEqual(p["theme_color"], "")
        self.assertEqual(p["heartbeat_interval"], 1)
        self.assertEqual(p["location"], "home")
        self.assertEqual(p["device_type"], "desktop")
        self.assertEqual(p["repo_url"], "")
        self.assertIn(p["repo_dir"], (str(self.repo), os.path.realpath(self.repo)))
        self.assertNotEqual(p["source_commit"], "")
        self.assertEqual(p["store_path"], os.path.realpath(h.AGENT))
        self.assertEqual(p["binary_hash"], h.sha256_file(h.AGENT))
        # registered followed.
        self.registered_at(dash)

    def test_register_passes_settings_through(self):
        dash, agent = self.run_agent_tls(
            NIXFLEET_THEME_COLOR="#ff0000", NIXFLEET_LOCATION="cloud",
            NIXFLEET_DEVICE_TYPE="server", NIXFLEET_NIXPKGS_VERSION="24.11.20241201.abc1234",
            NIXFLEET_INTERVAL="3")
        p = self.wait_message(dash, "register", 5)[0]["data"]["payload"]
        self.assertEqual(p["theme_color"], "#ff0000")
        self.assertEqual(p["location"], "cloud")
        self.assertEqual(p["device_type"], "server")
        self.assertEqual(p["nixpkgs_version"], "24.11.20241201.abc1234")
        self.assertEqual(p["heartbeat_interval"], 3)

    def test_no_heartbeat_before_registered(self):
        dash, agent = self.run_agent_tls(dash_args=["--no-registered"])
        self.wait_message(dash, "register", 5)
        time.sleep(2.5)
        self.assertEqual(self.heartbeats(dash), [])
        t = time.time()
        dash.control('send {"type":"registered","payload":{"host_id":"test-host"}}')
        hb = self.wait_message(dash, "heartbeat", 2)
        self.assertLessEqual(hb[0]["t"] - t, 2.0)

    def test_malformed_json_ignored(self):
        """T01-S6."""
        dash, agent = self.run_agent_tls()
        self.registered_at(dash)
        start = len(agent.log())
        dash.control("send this is not valid json")
        # Logged (as malformed / invalid JSON / a parse error) and ignored.
        self.wait_log(agent, r"malformed|invalid json|json", 3, start=start)
        t = time.time()
        self.wait_message(dash, "heartbeat", 4, count=3, conn=1, since=t)
        self.assertEqual(dash.closes(), [])
        self.assertEqual(len(dash.records("connect")), 1)

    def test_unknown_type_ignored(self):
        dash, agent = self.run_agent_tls()
        self.registered_at(dash)
        start = len(agent.log())
        dash.control('send {"type":"no_such_type_xyz","payload":{"a":1}}')
        self.wait_log(agent, r"unknown message type", 3, start=start)
        dash.control('send {"type":"ping"}')
        self.wait_log(agent, r"unknown message type", 3, start=start, count=2)
        t = time.time()
        self.wait_message(dash, "heartbeat", 4, count=3, conn=1, since=t)
        # No reply but heartbeats.
        others = [r for r in dash.records("message")
                  if h.msg_type(r) not in ("register", "heartbeat")]
        self.assertEqual(others, [])
        self.assertEqual(dash.closes(), [])

    def test_wrong_shapes_ignored(self):
        dash, agent = self.run_agent_tls()
        self.registered_at(dash)
        for raw in ('[1,2,3]', '"text"', '{"payload":{}}', '{"type":7,"payload":{}}',
                    '{"type":"command","payload":{"command":42}}',
                    '{"type":"command","payload":"x"}', '{}'):
            dash.control("send " + raw)
        t = time.time()
        self.wait_message(dash, "heartbeat", 4, count=3, conn=1, since=t)
        self.assertEqual(dash.closes(), [])
        self.assertTrue(agent.running())

    def test_registered_host_id_mismatch_accepted(self):
        dash, agent = self.run_agent_tls(dash_args=["--host-id", "someone-else"])
        self.registered_at(dash)
        self.wait_message(dash, "heartbeat", 3, count=2)

    def test_register_again_on_reconnect(self):
        """T01-S4: register on the second connection too."""
        dash, agent = self.run_agent_tls()
        self.registered_at(dash)
        dash.control("drop")
        regs = self.wait(lambda: dash.messages("register")[1:], 6, "a second register")
        conn = regs[0]["conn"]
        self.assertEqual(regs[0]["data"]["payload"]["hostname"], h.HOSTNAME)
        first_on_conn = [r for r in dash.records("message") if r["conn"] == conn][0]
        self.assertEqual(h.msg_type(first_on_conn), "register")
        self.wait_message(dash, "heartbeat", 3, conn=conn)

    def test_sigterm(self):
        """T01-S5."""
        dash, agent = self.run_agent_tls()
        self.registered_at(dash)
        rc, took = agent.terminate(5)
        self.assertEqual(rc, 0)
        self.assertLess(took, 5.0)
        close = self.wait(lambda: dash.closes(1), 3, "close record")[0]
        self.assertEqual((close["code"], close["reason"]), (1000, "shutdown"))

    # ------------------------------------------------------------ T02

    def test_heartbeats_interval_1(self):
        """T02-S1, T02-S5: >= 5 heartbeats in the 5 s after registration,
        no gap above interval + 1 s, idle fields and shapes."""
        dash, agent = self.run_agent_tls()
        t_reg = self.registered_at(dash)
        time.sleep(5.5)
        hbs = self.heartbeats(dash, conn=1)
        in5 = [r for r in hbs if r["t"] <= t_reg + 5.0]
        self.assertGreaterEqual(len(in5), 5, [r["t"] - t_reg for r in hbs])
        self.assertLessEqual(hbs[0]["t"] - t_reg, 2.0)
        ts = [t_reg] + [r["t"] for r in hbs]
        gaps = [b - a for a, b in zip(ts, ts[1:])]
        self.assertLessEqual(max(gaps), 2.0, gaps)
        reg = dash.messages("register")[0]["data"]["payload"]
        for r in hbs:
            self.check_heartbeat(r["data"], reg)

    def check_heartbeat(self, msg, reg):
        self.assertEqual(list(msg.keys()), ["type", "payload"])
        p = msg["payload"]
        for k in HEARTBEAT_KEYS:
            self.assertIn(k, p, "heartbeat lacks %s: %s" % (k, p))
        self.assertEqual([k for k in p if k in HEARTBEAT_KEYS], HEARTBEAT_KEYS)
        self.assertEqual(p["generation"], h.head7(self.repo))
        self.assertEqual(p["nixpkgs_version"], reg["nixpkgs_version"])
        self.assertIsNone(p["pending_command"])
        self.assertIsNone(p["command_pid"])
        m = p["metrics"]
        self.assertIsInstance(m, dict, p)
        self.assertEqual(list(m.keys()), ["cpu", "ram", "swap", "load"])
        for k, v in m.items():
            self.assertTrue(is_number(v), "metrics.%s = %r" % (k, v))
            self.assertGreaterEqual(v, 0)
        for k in ("cpu", "ram", "swap"):
            self.assertLessEqual(m[k], 100)
        us = p["update_status"]
        self.assertIsInstance(us, dict)
        self.assertEqual(list(us.keys()), ["git", "lock", "system", "tests"])
        for name, sc in us.items():
            self.assertEqual(list(sc.keys()), ["status", "message", "checked_at"], name)
            for v in sc.values():
                self.assertIsInstance(v, str)
            self.assertIn(sc["status"], ("ok", "outdated", "error", "unknown", "working", ""))
            if sc["checked_at"]:
                self.assertRegex(sc["checked_at"], RFC3339_Z)
        self.assertEqual(us["git"], {"status": "", "message": "", "checked_at": ""})
        for k in ("source_commit", "store_path", "binary_hash"):
            self.assertEqual(p[k], reg[k], k)
        lock = (self.repo / "flake.lock").read_bytes()
        self.assertEqual(p["lock_hash"], hashlib.sha256(lock).hexdigest())

    def test_first_heartbeat_long_interval(self):
        """T02-IF: interval 10, the first heartbeat within 2 s of registered."""
        dash, agent = self.run_agent_tls(NIXFLEET_INTERVAL="10")
        t_reg = self.registered_at(dash)
        hb = self.wait_message(dash, "heartbeat", 3)[0]
        self.assertLessEqual(hb["t"] - t_reg, 2.0)
        time.sleep(3)
        # The next one is due ~10 s later, not now.
        self.assertEqual(len(self.heartbeats(dash)), 1)

    def test_stasysmo_values_exact(self):
        """T02-S3: fresh StaSysMo files are reported exactly."""
        d = self.work.mkdir("stasysmo", 0o755)
        values = {"cpu": "12.5", "ram": "41.2\n", "swap": " 0 ", "load": "0.48"}
        for k, v in values.items():
            (d / k).write_text(v)
        dash, agent = self.run_agent_tls(NIXFLEET_STASYSMO_DIR=str(d))
        self.registered_at(dash)
        hb = self.wait_message(dash, "heartbeat", 3, count=2)
        for r in hb:
            self.assertEqual(r["data"]["payload"]["metrics"],
                             {"cpu": 12.5, "ram": 41.2, "swap": 0, "load": 0.48})
        # Values follow the files.
        for k, v in {"cpu": "77.7", "ram": "55.5", "swap": "3.5", "load": "2"}.items():
            (d / k).write_text(v)
        t = time.time()

        def updated():
            for r in self.heartbeats(dash, since=t):
                if r["data"]["payload"]["metrics"]["cpu"] == 77.7:
                    return r
            return None
        r = self.wait(updated, 4, "metrics from the new file values")
        self.assertEqual(r["data"]["payload"]["metrics"],
                         {"cpu": 77.7, "ram": 55.5, "swap": 3.5, "load": 2})

    def test_stasysmo_stale_ignored(self):
        """§3.4: files older than 30 s are stale: native values instead."""
        d = self.work.mkdir("stasysmo", 0o755)
        old = time.time() - 120
        for k, v in {"cpu": "99.9", "ram": "99.8", "swap": "99.7", "load": "99.6"}.items():
            (d / k).write_text(v)
            os.utime(d / k, (old, old))
        dash, agent = self.run_agent_tls(NIXFLEET_STASYSMO_DIR=str(d))
        self.registered_at(dash)
        for r in self.wait_message(dash, "heartbeat", 3, count=2):
            m = r["data"]["payload"]["metrics"]
            self.assertIsInstance(m, dict)
            self.assertNotEqual(m, {"cpu": 99.9, "ram": 99.8, "swap": 99.7, "load": 99.6})
            self.assertNotEqual(m["ram"], 99.8)

    def test_native_metrics(self):
        """T02-S4: no StaSysMo: metrics computed natively, plausible."""
        dash, agent = self.run_agent_tls()
        self.registered_at(dash)
        m = self.wait_message(dash, "heartbeat", 4, count=3)[-1]["data"]["payload"]["metrics"]
        self.assertIsInstance(m, dict)
        mem = {}
        with open("/proc/meminfo") as f:
            for line in f:
                k, v = line.split(":")
                mem[k] = int(v.split()[0])
        ram = 100.0 * (mem["MemTotal"] - mem["MemAvailable"]) / mem["MemTotal"]
        self.assertLess(abs(m["ram"] - ram), 15, (m, ram))
        if mem.get("SwapTotal", 0) == 0:
            self.assertEqual(m["swap"], 0)
        load = os.getloadavg()[0]
        self.assertLess(abs(m["load"] - load), max(2.0, load), (m, load))
        for v in m.values():
            self.assertEqual(round(v, 1), v, "not rounded to 1 decimal: %r" % m)

    def test_generation_after_pack_refs(self):
        """§3.3 / T09-04: packed refs still give the generation."""
        dash, agent = self.run_agent_tls()
        self.registered_at(dash)
        want = h.head7(self.repo)
        h.git(self.repo, "pack-refs", "--all")
        self.assertFalse((self.repo / ".git" / "refs" / "heads" / "main").exists())
        t = time.time() + 0.2
        hbs = self.wait_message(dash, "heartbeat", 4, count=2, since=t)
        for r in hbs:
            self.assertEqual(r["data"]["payload"]["generation"], want)

    def test_generation_follows_new_commit(self):
        dash, agent = self.run_agent_tls()
        self.registered_at(dash)
        old = h.head7(self.repo)
        new = h.commit(self.repo)
        self.assertNotEqual(old, new)

        def seen():
            return [r for r in self.heartbeats(dash)
                    if r["data"]["payload"]["generation"] == new]
        self.wait(seen, 4, "a heartbeat with the new generation")
        t = seen()[0]["t"]
        later = self.wait_message(dash, "heartbeat", 3, count=2, since=t + 0.01)
        for r in later:
            self.assertEqual(r["data"]["payload"]["generation"], new)

    def test_generation_detached_head(self):
        first = h.head7(self.repo)
        h.commit(self.repo)
        h.git(self.repo, "checkout", "-q", "--detach", "HEAD~1")
        dash, agent = self.run_agent_tls()
        p = self.wait_message(dash, "register", 5)[0]["data"]["payload"]
        self.assertEqual(p["generation"], first)

    def test_connection_steady(self):
        """T02-S5: 5 s on one connection, no gap above interval + 1 s,
        while the dashboard sends unrelated traffic."""
        dash, agent = self.run_agent_tls()
        t_reg = self.registered_at(dash)
        for i in range(5):
            dash.control('send {"type":"noise_%d","payload":{}}' % i)
            dash.control("send-fragmented 3")
            time.sleep(1)
        hbs = self.heartbeats(dash, conn=1)
        ts = [t_reg] + [r["t"] for r in hbs] + [time.time()]
        gaps = [b - a for a, b in zip(ts, ts[1:])]
        self.assertLessEqual(max(gaps), 2.0, gaps)
        self.assertEqual(len(dash.records("connect")), 1)
        self.assertEqual(dash.closes(), [])


if __name__ == "__main__":
    h.main()
