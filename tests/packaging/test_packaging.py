"""Packaging checks (meson suite `packaging`), one class per meson test:

  Nix      every .nix file parses; the flake's outputs, the package, the
           NixOS and Home Manager modules evaluate (against the stubs in
           stub/, since nixpkgs cannot be fetched here) with upstream's
           option names, types and defaults, assertions that fire, the
           environment mapping of nixfleet-protocol.md §8.1 and a token
           that is never inlined; the launchd plist and its start script.
  Systemd  systemd-analyze verify and security --offline on the shipped
           unit and on the unit the NixOS module renders; the exposure
           score may not rise above tests/packaging/exposure-score.
  Man      both man pages render without warnings; --help, nixfleet-agent(8)
           and nixfleet-agent.conf(5) list the same options, variables, keys.
  Install  meson setup --prefix=<tmp>/usr, ninja install, then the installed
           binary: --version, --print-config, --check against the reference
           dashboard, and (as root) a real start that registers, which
           proves the supervisor finds its workers in libexecdir.

  Docker   the Dockerfile read (no engine here), its runtime packages
           against what the binaries link, the entrypoint run.

Run: python3 test_packaging.py [Nix] [Systemd] [Man] [Docker] [Install]; BUILD_DIR and SRC_DIR as for the
integration tests.
"""

import json
import os
import plistlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC_DIR = Path(os.environ.get("SRC_DIR") or HERE.parents[1])
BUILD_DIR = Path(os.environ.get("BUILD_DIR") or SRC_DIR / "build")
sys.path.insert(0, str(SRC_DIR / "tests" / "integration"))

import harness as h  # noqa: E402

UNIT = SRC_DIR / "packaging" / "systemd" / "nixfleet-agent.service"
SCORE_FILE = HERE / "exposure-score"
AGENT = BUILD_DIR / "supervisor" / "nixfleet-agent"

BASE = {"enable": True, "url": "wss://fleet.example.com/ws",
        "tokenFile": "/run/agenix/nixfleet-token", "user": "alice",
        "repoUrl": "git@example.com:me/nixcfg.git"}


def nix_value(v):
    """A Python value as a Nix expression (strings, ints, bools, lists,
    dicts; a str starting with "path:" becomes a Nix path literal)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if v is None:
        return "null"
    if isinstance(v, str):
        if v.startswith("path:"):
            return v[5:]
        return json.dumps(v).replace("${", "\\${")
    if isinstance(v, list):
        return "[ " + " ".join(nix_value(x) for x in v) + " ]"
    if isinstance(v, dict):
        return "{ " + " ".join('"%s" = %s;' % (k, nix_value(x)) for k, x in v.items()) + " }"
    raise TypeError(v)


class Nix:
    """nix-instantiate with a private store and state directory: no
    daemon, no sandbox, nothing outside the temporary directory."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="nixfleet-nix-"))
        self.store = self.dir / "store"
        self.env = {
            "PATH": h.PATH, "HOME": str(self.dir),
            "NIX_STORE_DIR": str(self.store),
            "NIX_STATE_DIR": str(self.dir / "state"),
            "NIX_LOG_DIR": str(self.dir / "log"),
            "NIX_CONF_DIR": str(self.dir / "etc"),
        }

    def run(self, args, timeout=120):
        return subprocess.run(
            ["nix-instantiate", "--option", "build-users-group", "",
             "--option", "sandbox", "false"] + args,
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            timeout=timeout, text=True)

    def eval(self, kind, module=None, raw=None):
        """eval.nix for kind; module is services.nixfleet-agent's dict."""
        cfg = raw if raw is not None else \
            "{ services.nixfleet-agent = %s; }" % nix_value(module or {})
        p = self.run(["--eval", "--strict", "--json", str(HERE / "eval.nix"),
                      "--argstr", "kind", kind, "--arg", "config", cfg])
        return p

    def value(self, kind, module=None, raw=None):
        p = self.eval(kind, module, raw)
        if p.returncode != 0:
            raise AssertionError("evaluation failed:\n" + h.tail(p.stderr))
        return json.loads(p.stdout)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def parse_unit(text):
    """[Service] of a unit file as {key: [values]}."""
    out, section = {}, None
    for line in text.splitlines():
        m = re.match(r"^\[(\w+)\]$", line)
        if m:
            section = m.group(1)
            continue
        m = re.match(r"^([A-Za-z]+)=(.*)$", line)
        if m and section == "Service":
            out.setdefault(m.group(1), []).append(m.group(2))
    return out


def render_unit(service):
    """A NixOS systemd.services.<name> as a unit file, the way NixOS
    writes it (lists become repeated keys)."""
    def val(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        return str(v)
    lines = ["[Unit]", "Description=" + service["description"]]
    for k, key in (("after", "After"), ("wants", "Wants")):
        lines += ["%s=%s" % (key, " ".join(service.get(k, [])))]
    lines += ["", "[Service]"]
    env = dict(service.get("environment", {}))
    env["PATH"] = ":".join("%s/bin:%s/sbin" % (p, p) for p in service["path"])
    for k, v in sorted(env.items()):
        lines.append('Environment="%s=%s"' % (k, v.replace("%", "%%")))
    for k, v in service["serviceConfig"].items():
        for x in (v if isinstance(v, list) else [v]):
            lines.append("%s=%s" % (k, val(x)))
    lines += ["", "[Install]", "WantedBy=" + " ".join(service["wantedBy"])]
    return "\n".join(lines) + "\n"


def exposure(unit_path):
    p = subprocess.run(["systemd-analyze", "security", "--offline=true",
                        "--no-pager", str(unit_path)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=60)
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", p.stdout)
    if not m:
        raise AssertionError("no score:\n" + h.tail(p.stdout))
    return float(m.group(1)), p.stdout


class NixTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.nix = Nix()

    @classmethod
    def tearDownClass(cls):
        cls.nix.cleanup()

    def nixos(self, **over):
        return self.nix.value("nixos", {**BASE, **over})

    def nixos_fails(self, module, pattern):
        p = self.nix.eval("nixos", module)
        self.assertNotEqual(p.returncode, 0, "evaluation succeeded: %s" % module)
        self.assertRegex(p.stderr, pattern)

    def failed(self, **over):
        return self.nixos(**over)["failedAssertions"]

    def test_every_nix_file_parses(self):
        files = [p for p in SRC_DIR.rglob("*.nix")
                 if not any(part.startswith("build") for part in p.relative_to(SRC_DIR).parts)]
        self.assertGreaterEqual(len(files), 12)
        for f in files:
            p = self.nix.run(["--parse", str(f)])
            self.assertEqual(p.returncode, 0, "%s: %s" % (f, p.stderr))
        bad = self.nix.dir / "bad.nix"
        bad.write_text("{ a = ; }\n")
        self.assertNotEqual(self.nix.run(["--parse", str(bad)]).returncode, 0)

    def test_package(self):
        v = self.nix.value("package")
        version = (SRC_DIR / "VERSION").read_text().strip()
        self.assertEqual(v["pname"], "nixfleet-agent")
        self.assertEqual(v["version"], version)
        self.assertEqual(version, h.project_version(), "VERSION and meson.build differ")
        self.assertIn("--sbindir=bin", v["mesonFlags"])
        self.assertIn("-Dwerror=false", v["mesonFlags"])
        self.assertIn("-Dsource_commit=abc1234", v["mesonFlags"])
        self.assertTrue(v["doCheck"])
        self.assertNotIn("integration", v["checkPhase"])
        self.run_check_phase(v["checkPhase"])
        for dep in ("libev", "wslay", "mbedtls", "jansson", "check"):
            self.assertIn(dep, v["buildInputs"])
        # meson's setup must find python3 in the build environment.
        self.assertIn("python3", v["nativeBuildInputs"])
        self.assertRegex((SRC_DIR / "tests" / "meson.build").read_text(),
                         r"find_program\('/usr/bin/python3', 'python3'\)")

    def run_check_phase(self, phase):
        """The package's checkPhase in this build directory: its commands
        must work, run every unit test (sandbox's root case aside) and the
        fuzz replays, and fail when a test fails."""
        h.require_agent()
        # Own log files: the meson test running this one owns testlog.*.
        script = "runHook() { :; }\nset -e\n" + phase.replace(
            "meson test ", "meson test --logbase checkphase ")
        p = subprocess.run(["/bin/bash", "-c", script], cwd=str(BUILD_DIR),
                           env={"PATH": h.PATH, "HOME": str(self.nix.dir)},
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=600)
        self.assertEqual(p.returncode, 0, h.tail(p.stdout))
        ran = set(re.findall(r"nixfleet-agent:(?:unit|fuzz) / (\S+)", p.stdout))
        units = subprocess.run(["meson", "test", "--no-rebuild", "--list", "--suite", "unit"],
                               cwd=str(BUILD_DIR), stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True, timeout=60).stdout
        expected = set(re.findall(r"(?m)^nixfleet-agent:unit / (\S+)$", units)) - {"sandbox"}
        self.assertTrue(expected, units)
        self.assertEqual(expected - ran, set())
        self.assertTrue(any(n.startswith("fuzz-") for n in ran), ran)
        self.assertEqual(p.stdout.count("100%: Checks:"), 2, "sandbox cases")

    def test_flake_outputs(self):
        v = self.nix.value("flake", dict(BASE))
        systems = ["aarch64-darwin", "aarch64-linux", "x86_64-darwin", "x86_64-linux"]
        self.assertEqual(sorted(v["packages"]), systems)
        for s in systems:
            self.assertEqual(v["packages"][s], ["default", "nixfleet-agent"])
            self.assertEqual(v["devShells"][s], ["default"])
        self.assertEqual(v["overlay"], ["nixfleet-agent"])
        self.assertEqual(v["nixosModules"], ["default", "nixfleet-agent"])
        self.assertEqual(v["homeManagerModules"], ["default", "nixfleet-agent"])
        self.assertIn("vm", v["checks"]["x86_64-linux"])
        version = (SRC_DIR / "VERSION").read_text().strip()
        self.assertTrue(v["package"].endswith("-nixfleet-agent-" + version))
        # The flake's modules use the flake's build, without the overlay.
        self.assertEqual(v["nixosModule"]["execStart"], v["package"] + "/bin/nixfleet-agent")
        self.assertEqual(v["nixosModule"]["version"], version + "-abc1234")
        self.assertEqual(v["hmModule"], version + "-abc1234")
        # The VM test: two nodes; its agent node evaluates cleanly.
        self.assertEqual(v["vmNodes"], ["agent", "dashboard"])
        self.assertEqual(v["vmAgent"]["failedAssertions"], [])
        self.assertEqual(v["vmAgent"]["environment"]["NIXFLEET_URL"], "ws://dashboard:8000/ws")
        for what in ("command test", "command switch", "status=101", '"type\\": \\"register'):
            self.assertIn(what, v["vmScript"])

    def test_flake_lock_pins_a_release(self):
        lock = json.loads((SRC_DIR / "flake.lock").read_text())
        node = lock["nodes"]["nixpkgs"]
        self.assertEqual(lock["nodes"]["root"]["inputs"], {"nixpkgs": "nixpkgs"})
        self.assertRegex(node["original"]["ref"], r"^nixos-\d\d\.\d\d$")
        self.assertRegex(node["locked"]["rev"], r"^[0-9a-f]{40}$")
        self.assertRegex(node["locked"]["narHash"], r"^sha256-[A-Za-z0-9+/]{43}=$")
        flake = (SRC_DIR / "flake.nix").read_text()
        self.assertIn("github:NixOS/nixpkgs/" + node["original"]["ref"], flake)

    def test_upstream_options_and_defaults(self):
        opts = self.nixos()["options"]
        expected = {
            "enable": ("boolean", False), "url": ("string", ""),
            "configRepo": ("string", ""), "repoUrl": ("string", ""),
            "branch": ("string", "main"),
            "interval": ("integer between 1 and 3600 (both inclusive)", 5),
            "logLevel": ('one of "debug", "info", "warn", "error"', "info"),
            "hostname": ("string", ""), "version": ("string", "0.0.0"),
            "nixpkgsVersion": ("string", ""), "themeColor": ("string", ""),
            "location": ('one of "home", "work", "cloud"', "home"),
            "deviceType": ('one of "server", "desktop", "laptop", "gaming"', "desktop"),
            "sshKeyFile": ("null or path", None),
        }
        for name, (type_, default) in expected.items():
            self.assertEqual(opts[name]["type"], type_, name)
            self.assertEqual(opts[name]["default"], default, name)
        for name, type_ in (("tokenFile", "path"), ("user", "string")):
            self.assertEqual(opts[name]["type"], type_)
            self.assertNotIn("default", opts[name], name + " must be required")
        for name in ("protocol", "settings", "caFile", "tlsPins", "allowReboot",
                     "stateDir", "netUser", "package", "hardening"):
            self.assertIn(name, opts)

    def test_environment_mapping(self):
        env = self.nixos()["service"]["environment"]
        self.assertEqual(env["NIXFLEET_USER"], "alice")
        self.assertEqual(env["NIXFLEET_URL"], BASE["url"])
        self.assertEqual(env["NIXFLEET_REPO_URL"], BASE["repoUrl"])
        self.assertEqual(env["NIXFLEET_BRANCH"], "main")
        self.assertEqual(env["NIXFLEET_INTERVAL"], "5")
        self.assertEqual(env["NIXFLEET_LOG_LEVEL"], "info")
        self.assertEqual(env["NIXFLEET_LOCATION"], "home")
        self.assertEqual(env["NIXFLEET_DEVICE_TYPE"], "desktop")
        self.assertEqual(env["NIXFLEET_REPO_DIR"], "/var/lib/nixfleet-agent/repo")
        self.assertEqual(env["NIXFLEET_TOKEN_CACHE"], "/var/lib/nixfleet-agent/token")
        self.assertEqual(env["HOME"], "/home/alice")
        for unset in ("NIXFLEET_HOSTNAME", "NIXFLEET_NIXPKGS_VERSION", "NIXFLEET_THEME_COLOR",
                      "NIXFLEET_SSH_KEY", "NIXFLEET_NIXCFG", "NIXFLEET_CA_FILE",
                      "NIXFLEET_PINNED_PUBKEY", "CLIENT_CONFIG_PATH"):
            self.assertNotIn(unset, env)
        pin = "sha256//" + "A" * 43 + "="
        env = self.nixos(hostname="web01", nixpkgsVersion="24.11", themeColor="#123456",
                         sshKeyFile="/etc/ssh/deploy", interval=60, logLevel="debug",
                         location="cloud", deviceType="server", caFile="/etc/ca.pem",
                         tlsPins=[pin, "ab" * 32], stateDir="/srv/nf")["service"]["environment"]
        self.assertEqual(env["NIXFLEET_HOSTNAME"], "web01")
        self.assertEqual(env["NIXFLEET_NIXPKGS_VERSION"], "24.11")
        self.assertEqual(env["NIXFLEET_THEME_COLOR"], "#123456")
        self.assertEqual(env["NIXFLEET_SSH_KEY"], "/etc/ssh/deploy")
        self.assertEqual(env["NIXFLEET_INTERVAL"], "60")
        self.assertEqual(env["NIXFLEET_LOG_LEVEL"], "debug")
        self.assertEqual(env["NIXFLEET_LOCATION"], "cloud")
        self.assertEqual(env["NIXFLEET_DEVICE_TYPE"], "server")
        self.assertEqual(env["NIXFLEET_CA_FILE"], "/etc/ca.pem")
        self.assertEqual(env["NIXFLEET_PINNED_PUBKEY"], pin + "," + "ab" * 32)
        self.assertEqual(env["NIXFLEET_STATE_DIR"], "/srv/nf")
        self.assertEqual(env["NIXFLEET_REPO_DIR"], "/srv/nf/repo")
        # Legacy mode: configRepo, with upstream's deprecation warning.
        v = self.nixos(repoUrl="", configRepo="/home/alice/nixcfg")
        self.assertEqual(v["service"]["environment"]["NIXFLEET_NIXCFG"], "/home/alice/nixcfg")
        self.assertEqual(len(v["warnings"]), 1)
        self.assertIn("deprecated", v["warnings"][0])

    def test_token_never_inlined(self):
        secret = "s3cr3t-token-value-%d" % os.getpid()
        tok = self.nix.dir / "token"
        tok.write_text("NIXFLEET_TOKEN=%s\n" % secret)
        before = sorted(os.listdir(self.nix.store)) if self.nix.store.exists() else []
        # A Nix path literal: interpolating it would copy it to the store.
        p = self.nix.eval("nixos", {**BASE, "tokenFile": "path:" + str(tok)})
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn(secret, p.stdout)
        v = json.loads(p.stdout)
        svc = v["service"]
        self.assertEqual(svc["environment"]["NIXFLEET_TOKEN_FILE"], str(tok))
        self.assertNotIn("NIXFLEET_TOKEN", svc["environment"])
        self.assertNotIn("EnvironmentFile", svc["serviceConfig"])
        after = sorted(os.listdir(self.nix.store)) if self.nix.store.exists() else []
        self.assertEqual([f for f in after if f not in before and "token" in f], [],
                         "the token file was copied into the store")
        # The same for Home Manager, on both platforms.
        hm = {k: v for k, v in BASE.items() if k != "user"}
        hm["tokenFile"] = str(tok)
        for kind in ("hm-darwin", "hm-linux"):
            p = self.nix.eval(kind, hm)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertNotIn(secret, p.stdout)
            self.assertNotIn("NIXFLEET_TOKEN=", p.stdout.replace("NIXFLEET_TOKEN_FILE", ""))

    def test_assertions(self):
        self.assertEqual(self.failed(), [])
        self.assertTrue(any("url must be set" in m for m in self.failed(url="")))
        both = self.failed(configRepo="/etc/nixos")
        self.assertTrue(any("configRepo or repoUrl" in m for m in both))
        neither = self.failed(repoUrl="")
        self.assertTrue(any("configRepo or repoUrl" in m for m in neither))
        store = self.failed(tokenFile=str(self.nix.store) + "/aaaa-token")
        self.assertTrue(any("Nix store" in m for m in store), store)
        sec = self.failed(protocol="socketio", settings={"clientId": "h", "authToken": "x"})
        self.assertTrue(any("secrets" in m for m in sec))
        sec = self.failed(protocol="socketio", settings={"admin": {"commandToken": "x"}})
        self.assertTrue(any("secrets" in m for m in sec))
        pins = self.failed(tlsPins=["ab" * 32] * 5)
        self.assertTrue(any("at most 4" in m for m in pins))
        self.assertTrue(any("absolute" in m for m in self.failed(stateDir="rel")))
        # Disabled: nothing asserted, no unit.
        off = self.nix.value("nixos", {"enable": False, "tokenFile": "/x", "user": "u"})
        self.assertEqual(off["failedAssertions"], [])
        self.assertIsNone(off["service"])

    def test_wrong_types_rejected(self):
        self.nixos_fails({**BASE, "interval": 0}, r"interval' has a wrong type")
        self.nixos_fails({**BASE, "interval": 3601}, r"interval' has a wrong type")
        self.nixos_fails({**BASE, "interval": "5"}, r"interval' has a wrong type")
        self.nixos_fails({**BASE, "logLevel": "loud"}, r"logLevel' has a wrong type")
        self.nixos_fails({**BASE, "location": "mars"}, r"location' has a wrong type")
        self.nixos_fails({**BASE, "deviceType": "phone"}, r"deviceType' has a wrong type")
        self.nixos_fails({**BASE, "protocol": "mqtt"}, r"protocol' has a wrong type")
        self.nixos_fails({**BASE, "tlsPins": ["md5//x"]}, r"tlsPins' has a wrong type")
        self.nixos_fails({**BASE, "tokenFile": "relative"}, r"tokenFile' has a wrong type")
        self.nixos_fails({**BASE, "allowReboot": "yes"}, r"allowReboot' has a wrong type")
        self.nixos_fails({**BASE, "noSuchOption": 1}, r"noSuchOption' does not exist")
        nouser = {k: v for k, v in BASE.items() if k != "user"}
        self.nixos_fails(nouser, r"user' is used but not defined")

    def test_unit_is_the_shipped_one(self):
        svc = self.nixos()["service"]
        shipped = parse_unit(UNIT.read_text())
        sc = svc["serviceConfig"]
        for k, vals in shipped.items():
            if k in ("ExecStart", "ExecReload", "Environment", "EnvironmentFile"):
                continue
            if k == "StateDirectoryMode":
                # The module's repository user must reach <state>/repo.
                self.assertEqual(sc[k], "0711")
                continue
            got = sc[k] if isinstance(sc[k], list) else [sc[k]]
            self.assertEqual(got, vals, k)
        self.assertEqual(svc["environment"]["NIXFLEET_PRIVSEP_DIR"], "/run/nixfleet-agent/empty")
        self.assertTrue(sc["ExecStart"].endswith("/bin/nixfleet-agent"))
        self.assertFalse(svc["restartIfChanged"])
        self.assertFalse(svc["stopIfChanged"])
        self.assertEqual(svc["path"], ["/run/wrappers", "/run/current-system/sw"])
        self.assertEqual(svc["wantedBy"], ["multi-user.target"])
        self.assertEqual(svc["after"], ["network-online.target"])
        self.assertEqual(svc["description"], "NixFleet Agent - Fleet management daemon")
        for k, v in (("Type", "notify"), ("Restart", "always"), ("RestartSec", "3"),
                     ("RestartForceExitStatus", "101"), ("StateDirectory", "nixfleet-agent"),
                     ("StateDirectoryMode", "0711"), ("ProtectSystem", "strict")):
            self.assertEqual(sc[k], v, k)
        off = self.nixos(hardening=False)["service"]["serviceConfig"]
        self.assertNotIn("ProtectSystem", off)
        self.assertEqual(off["RestartForceExitStatus"], "101")
        rw = self.nixos(stateDir="/srv/nf")
        self.assertEqual(rw["service"]["serviceConfig"]["ReadWritePaths"], ["/srv/nf"])
        self.assertEqual(rw["tmpfiles"], ["d /srv/nf 0711 root root -",
                                          "d /srv/nf/repo 0700 alice - -",
                                          "Z /srv/nf/repo - alice - -"])

    def test_users_and_sudo(self):
        v = self.nixos()
        self.assertTrue(v["users"]["nixfleet-agent"]["isSystemUser"])
        self.assertEqual(v["users"]["nixfleet-agent"]["group"], "nixfleet-agent")
        self.assertIn("nixfleet-agent", v["groups"])
        cmds = [c["command"] for r in v["sudo"] for c in r["commands"]]
        self.assertEqual(cmds, ["/run/current-system/sw/bin/nixos-rebuild"])
        self.assertEqual(v["sudo"], v["sudoRs"])
        self.assertEqual(v["sudo"][0]["users"], ["alice"])
        v = self.nixos(allowReboot=True, netUser="nf-net")
        cmds = [c["command"] for r in v["sudo"] for c in r["commands"]]
        self.assertIn("/run/current-system/sw/bin/reboot", cmds)
        self.assertEqual(v["sudo"], v["sudoRs"])
        self.assertIn("nf-net", v["users"])
        self.assertEqual(v["service"]["environment"]["NIXFLEET_NET_USER"], "nf-net")

    def test_socketio(self):
        v = self.nixos(protocol="socketio", repoUrl="", url="https://cp.example:8443/",
                       settings={"clientId": "host-01", "admin": {"allowedCommands": ["uptime"]}})
        self.assertEqual(v["failedAssertions"], [])
        env = v["service"]["environment"]
        self.assertEqual(env["NIXFLEET_PROTOCOL"], "socketio")
        self.assertEqual(env["SERVER_URL"], "https://cp.example:8443/")
        self.assertEqual(env["AUTH_TOKEN_FILE"], BASE["tokenFile"])
        self.assertNotIn("NIXFLEET_URL", env)
        self.assertNotIn("NIXFLEET_TOKEN_FILE", env)
        self.assertTrue(env["CLIENT_CONFIG_PATH"].endswith("-nixfleet-agent-config.json"))

    def hm(self, kind, **over):
        base = {k: v for k, v in BASE.items() if k != "user"}
        base["tokenFile"] = "/Users/alice/.config/nixfleet/token"
        return self.nix.value(kind, {**base, **over})

    def test_hm_options(self):
        opts = self.hm("hm-darwin")["options"]
        self.assertEqual(opts["tokenFile"]["type"], "string")
        self.assertEqual(opts["sshKeyFile"]["type"], "null or string")
        self.assertEqual(opts["interval"]["default"], 5)
        self.assertNotIn("user", opts)
        p = self.nix.eval("hm-darwin", {**BASE})
        self.assertRegex(p.stderr, r"user' does not exist")
        self.assertTrue(any("url" in m for m in self.hm("hm-linux", url="")["failedAssertions"]))

    def test_launchd_plist(self):
        v = self.hm("hm-darwin", hostname="mba", sshKeyFile="/Users/alice/.ssh/id")
        self.assertIsNone(v["userService"])
        agent = v["launchd"]
        self.assertTrue(agent["enable"])
        cfg = agent["config"]
        self.assertEqual(cfg["Label"], "com.nixfleet.agent")
        self.assertIs(cfg["RunAtLoad"], True)
        self.assertIs(cfg["KeepAlive"], True)
        self.assertEqual(cfg["StandardOutPath"], "/tmp/nixfleet-agent.log")
        self.assertEqual(cfg["StandardErrorPath"], "/tmp/nixfleet-agent.err")
        self.assertEqual(cfg["ProgramArguments"][:2], ["/bin/bash", "-c"])
        # The plist Home Manager writes from it: valid XML, same keys.
        plist = self.nix.dir / "com.nixfleet.agent.plist"
        plist.write_bytes(plistlib.dumps(cfg, fmt=plistlib.FMT_XML))
        x = subprocess.run(["xmllint", "--noout", str(plist)], stderr=subprocess.PIPE,
                           text=True, timeout=30)
        self.assertEqual(x.returncode, 0, x.stderr)
        self.assertEqual(plistlib.loads(plist.read_bytes()), cfg)
        self.run_start_script(cfg["ProgramArguments"][2])

    def run_start_script(self, script):
        """Runs the launchd script with curl and the agent replaced by
        stubs: it must poll the health URL, then exec the agent with the
        token file's path, not the token."""
        work = Path(tempfile.mkdtemp(prefix="nixfleet-launchd-"))
        try:
            curl = work / "curl"
            curl.write_text('#!/bin/sh\necho "$@" >> %s/curl.args\nexit 0\n' % work)
            agent = work / "agent"
            agent.write_text("#!/bin/sh\nenv > %s/agent.env\n" % work)
            for f in (curl, agent):
                f.chmod(0o755)
            self.assertEqual(script.count("/usr/bin/curl"), 1)
            exe = re.search(r"^exec (\S+)$", script, re.M).group(1)
            body = script.replace("/usr/bin/curl", str(curl)).replace(exe, str(agent))
            p = subprocess.run(["/bin/bash", "-c", body], env={"HOME": str(work), "PATH": h.PATH},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               timeout=30)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("https://fleet.example.com/health", (work / "curl.args").read_text())
            self.assertIn("--connect-timeout 2 --max-time 5", (work / "curl.args").read_text())
            env = dict(l.split("=", 1) for l in (work / "agent.env").read_text().splitlines()
                       if "=" in l)
            self.assertNotIn("NIXFLEET_TOKEN", env)
            self.assertEqual(env["NIXFLEET_TOKEN_FILE"], "/Users/alice/.config/nixfleet/token")
            self.assertEqual(env["NIXFLEET_REPO_DIR"], "%s/.local/state/nixfleet-agent/repo" % work)
            self.assertEqual(env["NIXFLEET_URL"], BASE["url"])
            self.assertEqual(env["NIXFLEET_HOSTNAME"], "mba")
            self.assertEqual(env["NIXFLEET_SSH_KEY"], "/Users/alice/.ssh/id")
            self.assertEqual(env["NIXFLEET_INTERVAL"], "5")
            self.assertTrue(env["PATH"].startswith("%s/.nix-profile/bin:/nix/var/nix/profiles/default/bin:"
                                                   "/run/current-system/sw/bin:" % work))
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def test_hm_linux_user_unit(self):
        v = self.hm("hm-linux")
        self.assertIsNone(v["launchd"])
        u = v["userService"]
        self.assertEqual(u["Unit"]["After"], ["network-online.target"])
        self.assertEqual(u["Install"]["WantedBy"], ["default.target"])
        s = u["Service"]
        self.assertEqual(s["Restart"], "always")
        self.assertEqual(s["RestartSec"], 3)
        self.assertTrue(s["ExecStart"].endswith("/bin/nixfleet-agent"))
        env = dict(e.strip('"').split("=", 1) for e in s["Environment"])
        self.assertEqual(env["NIXFLEET_REPO_DIR"], "%h/.local/state/nixfleet-agent/repo")
        self.assertEqual(env["NIXFLEET_TOKEN_FILE"], "/Users/alice/.config/nixfleet/token")
        self.assertEqual(env["NIXFLEET_URL"], BASE["url"])
        self.assertNotIn("NIXFLEET_TOKEN", env)


class SystemdTests(unittest.TestCase):
    def setUp(self):
        self.dir = Path(tempfile.mkdtemp(prefix="nixfleet-unit-"))
        self.addCleanup(shutil.rmtree, self.dir, True)

    def recorded(self):
        return float(SCORE_FILE.read_text().split()[0])

    def test_verify(self):
        h.require_agent()
        unit = self.dir / "nixfleet-agent.service"
        unit.write_text(UNIT.read_text().replace("ExecStart=/usr/sbin/nixfleet-agent",
                                                 "ExecStart=%s" % AGENT))
        p = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertEqual(p.stdout.strip(), "")
        # The check sees a broken unit.
        unit.write_text(unit.read_text().replace("ProtectSystem=strict", "ProtectSystem=sometimes"))
        p = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
        self.assertIn("Failed to parse protect system", p.stdout)

    def test_exposure_score(self):
        score, out = exposure(UNIT)
        self.assertLessEqual(score, self.recorded(),
                             "exposure rose above tests/packaging/exposure-score:\n" + out)
        self.assertLessEqual(score, 3.0)
        # The score tracks the settings: drop the hardening, it rises.
        plain = self.dir / "plain.service"
        plain.write_text(UNIT.read_text().split("CapabilityBoundingSet=")[0] +
                         "\n[Install]\nWantedBy=multi-user.target\n")
        self.assertGreater(exposure(plain)[0], 9.0)

    def test_nixos_rendered_unit(self):
        nix = Nix()
        self.addCleanup(nix.cleanup)
        svc = nix.value("nixos", BASE)["service"]
        unit = self.dir / "nixfleet-agent.service"
        unit.write_text(render_unit(svc))
        score, out = exposure(unit)
        self.assertLessEqual(score, self.recorded(), out)

    def test_hardening_settings_present(self):
        u = parse_unit(UNIT.read_text())
        want = {
            "NoNewPrivileges": "yes", "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes",
            "ProtectClock": "yes", "ProtectHostname": "yes", "RestrictNamespaces": "yes",
            "RestrictRealtime": "yes", "RestrictSUIDSGID": "yes", "LockPersonality": "yes",
            "MemoryDenyWriteExecute": "yes", "SystemCallArchitectures": "native",
            "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6 AF_NETLINK",
            "UMask": "0077", "ProtectSystem": "strict", "PrivateTmp": "yes",
            "PrivateDevices": "yes", "ProtectProc": "invisible", "KillMode": "mixed",
            "RestartForceExitStatus": "101", "WatchdogSec": "60", "Type": "notify",
        }
        for k, v in want.items():
            self.assertEqual(u.get(k), [v], k)
        caps = set(u["CapabilityBoundingSet"][0].split())
        self.assertEqual(caps, {"CAP_SYS_CHROOT", "CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP",
                                "CAP_KILL", "CAP_DAC_READ_SEARCH"})
        self.assertTrue(u["SystemCallFilter"][0].startswith("@system-service"))
        # What the net-worker's sandbox calls must stay allowed.
        for call in ("chroot", "seccomp", "landlock_create_ruleset",
                     "landlock_add_rule", "landlock_restrict_self"):
            self.assertIn(call, u["SystemCallFilter"][0].split())
        p = subprocess.run(["systemd-analyze", "syscall-filter", "@system-service"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=30)
        for group in ("@setuid", "@resources", "@process", "@network-io"):
            self.assertIn(group, p.stdout.split())


class ManTests(unittest.TestCase):
    pages = [SRC_DIR / "docs" / "nixfleet-agent.8", SRC_DIR / "docs" / "nixfleet-agent.conf.5"]

    def render(self, page):
        p = subprocess.run(["man", "--warnings", "-l", str(page)],
                           env={"PATH": h.PATH, "MANWIDTH": "80", "LC_ALL": "C.UTF-8"},
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        return p

    def help(self):
        h.require_agent()
        p = subprocess.run([str(AGENT), "--help"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=30)
        self.assertEqual(p.returncode, 0)
        return p.stdout

    def test_render_without_warnings(self):
        for page in self.pages:
            p = self.render(page)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stderr, "", "%s: %s" % (page.name, p.stderr))
        sections = {"nixfleet-agent.8": ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS",
                                         "ENVIRONMENT", "FILES", "SIGNALS", "EXIT STATUS",
                                         "EXAMPLES"],
                    "nixfleet-agent.conf.5": ["NAME", "SYNOPSIS", "DESCRIPTION",
                                              "ENVIRONMENT", "FILES"]}
        for page in self.pages:
            text = page.read_text()
            for s in sections[page.name]:
                self.assertRegex(text, r'(?m)^\.Sh "?%s"?$' % s, page.name)

    def test_options_match_help(self):
        text = self.help()
        flags = set(re.findall(r"(?m)^\s+(?:(-\w), )?(--[a-z-]+)", text))
        help_flags = {f for pair in flags for f in pair if f}
        page = (SRC_DIR / "docs" / "nixfleet-agent.8").read_text()
        opts = page.split(".Sh OPTIONS")[1].split(".Sh ")[0]
        man_flags = set()
        for m in re.finditer(r"(?m)^\.It (.*)$", opts):
            for f in re.findall(r"Fl (-?[\w-]+)", m.group(1)):
                man_flags.add("-" + f)
        self.assertEqual(man_flags, help_flags)

    def test_environment_matches_help(self):
        text = self.help()
        env = text.split("Environment:")[1].split("Exit status")[0]
        help_vars = set(re.findall(r"(?m)^  ([A-Z][A-Z0-9_]+)", env))
        self.assertGreater(len(help_vars), 40)
        page = (SRC_DIR / "docs" / "nixfleet-agent.8").read_text()
        sect = page.split(".Sh ENVIRONMENT")[1].split(".Sh ")[0]
        man_vars = set(re.findall(r"(?m)^\.It Ev ([A-Z0-9_]+)", sect))
        self.assertEqual(man_vars, help_vars)

    def test_conf5_lists_every_json_key(self):
        src = (SRC_DIR / "common" / "config.c").read_text()
        table = src.split("cfg_settings[C_MAX] = {")[1].split("};")[0]
        keys = set(re.findall(r'\[C_\w+\] = \{ "[^"]+", "([^"]+)"', table))
        self.assertGreater(len(keys), 40)
        page = (SRC_DIR / "docs" / "nixfleet-agent.conf.5").read_text()
        listed = set(re.findall(r"(?m)^\.It Cm (\S+)", page))
        listed |= {"nixfleet." + k for k in listed}
        self.assertEqual(keys - listed, set())


class DockerTests(unittest.TestCase):
    """No Docker engine here: the Dockerfile is checked by reading it, the
    runtime packages against what the built binaries link, and the
    entrypoint is run for real."""

    dockerfile = SRC_DIR / "packaging" / "docker" / "Dockerfile"
    entrypoint = SRC_DIR / "packaging" / "docker" / "entrypoint.sh"

    def stages(self):
        text = self.dockerfile.read_text().replace("\\\n", " ")
        parts = re.split(r"(?m)^FROM ", text)[1:]
        return ["FROM " + p for p in parts]

    def test_dockerfile(self):
        build, run = self.stages()
        self.assertRegex(build, r"^FROM debian:12-slim AS build")
        self.assertRegex(run, r"^FROM debian:12-slim\n")
        self.assertIn("meson setup /build --prefix=/usr", build)
        for env in ("CLIENT_CONFIG_PATH=/data/agent-config.json", "LOG_FILE=/data/agent.log",
                    "TZ=UTC"):
            self.assertIn(env, run)
        self.assertRegex(run, r"(?m)^VOLUME /data$")
        self.assertRegex(run, r"(?m)^WORKDIR /data$")
        self.assertRegex(run, r"(?m)^USER nixfleet-agent$")
        hc = re.search(r"(?m)^HEALTHCHECK .*CMD (\[.*\])$", run)
        self.assertEqual(json.loads(hc.group(1)),
                         ["/usr/sbin/nixfleet-agent", "--check", "--config", "/data/agent-config.json"])
        cmd = json.loads(re.search(r"(?m)^CMD (\[.*\])$", run).group(1))
        self.assertEqual(cmd, ["/usr/sbin/nixfleet-agent", "--config", "/data/agent-config.json"])
        for pkg in ("bash", "ca-certificates", "rsync", "openssh-client", "tzdata", "jq"):
            self.assertRegex(run, r"\b%s\b" % re.escape(pkg))

    def test_runtime_packages_cover_the_libraries(self):
        h.require_agent()
        bins = [AGENT, h.NET_WORKER, h.EXEC_WORKER]
        out = subprocess.run(["ldd"] + [str(b) for b in bins], stdout=subprocess.PIPE,
                             text=True, timeout=30).stdout
        libs = sorted({os.path.realpath(m) for m in re.findall(r"=> (/\S+)", out)})
        pkgs = set()
        for lib in libs:
            for cand in (lib, lib.replace("/usr/lib/", "/lib/", 1)):
                p = subprocess.run(["dpkg", "-S", cand], stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, text=True, timeout=30)
                if p.returncode == 0:
                    pkgs.add(p.stdout.split(":")[0])
                    break
        pkgs -= {"libc6", "libgcc-s1"}
        self.assertIn("libmbedtls14", pkgs)
        run = self.stages()[1]
        for pkg in pkgs:
            self.assertRegex(run, r"\b%s\b" % re.escape(pkg), "runtime image lacks " + pkg)

    def run_entrypoint(self, env, files=None):
        work = Path(tempfile.mkdtemp(prefix="nixfleet-docker-"))
        self.addCleanup(shutil.rmtree, work, True)
        cfg = work / "agent-config.json"
        for name, text in (files or {}).items():
            (work / name).write_text(text)
        e = {"PATH": h.PATH, "CLIENT_CONFIG_PATH": str(cfg),
             "NIXFLEET_STATE_DIR": str(work / "state")}
        e.update(env)
        p = subprocess.run(["/bin/bash", str(self.entrypoint), "/usr/bin/env"], env=e,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        child = dict(l.split("=", 1) for l in p.stdout.splitlines() if "=" in l)
        return (json.loads(cfg.read_text()) if cfg.exists() else None), child, cfg

    def test_entrypoint(self):
        # 4. the environment: defaults filled in, the secret not written.
        cfg, env, path = self.run_entrypoint({"SERVER_URL": "https://cp:8443/",
                                              "AUTH_TOKEN": "s3cret"})
        self.assertEqual(cfg["serverUrl"], "https://cp:8443/")
        self.assertEqual(cfg["clientId"], subprocess.run(["hostname"], stdout=subprocess.PIPE,
                                                         text=True).stdout.strip())
        self.assertEqual(cfg["transport"]["path"], "/socket.io")
        self.assertNotIn("s3cret", path.read_text())
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        self.assertEqual(env["AUTH_TOKEN"], "s3cret")
        self.assertEqual(env["TRANSPORT_PATH"], "/socket.io")
        # 1. AGENT_CONFIG_JSON wins; invalid JSON is refused.
        cfg, _, _ = self.run_entrypoint({"AGENT_CONFIG_JSON": '{"clientId": "x"}',
                                         "CLIENT_ID": "h1"})
        self.assertEqual(cfg, {"clientId": "x"})
        work = Path(tempfile.mkdtemp(prefix="nixfleet-docker-"))
        self.addCleanup(shutil.rmtree, work, True)
        p = subprocess.run(["/bin/bash", str(self.entrypoint), "true"],
                           env={"PATH": h.PATH, "CLIENT_CONFIG_PATH": str(work / "c.json"),
                                "NIXFLEET_STATE_DIR": str(work / "s"),
                                "AGENT_CONFIG_JSON": "[1]"},
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        # 3. a mounted file is used as it is.
        cfg, _, _ = self.run_entrypoint({"CLIENT_ID": "h2"},
                                        {"agent-config.json": '{"clientId": "mounted"}'})
        self.assertEqual(cfg, {"clientId": "mounted"})


class InstallTests(unittest.TestCase):
    """The Debian/Fedora path: meson setup --prefix, ninja install."""

    @classmethod
    def setUpClass(cls):
        h.require_root()
        cls.work = h.Work("install")
        cls.prefix = cls.work.path("usr")
        build = cls.work.path("build")
        env = dict(os.environ, PATH=h.PATH)
        for cmd in (["meson", "setup", str(build), str(SRC_DIR), "--prefix", str(cls.prefix),
                     "-Dtests=false"],
                    ["ninja", "-C", str(build), "install"]):
            p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, timeout=900)
            if p.returncode != 0:
                cls.work.cleanup()
                raise AssertionError("%s failed:\n%s" % (cmd[0], h.tail(p.stdout)))
        cls.agent = cls.prefix / "sbin" / "nixfleet-agent"

    @classmethod
    def tearDownClass(cls):
        cls.work.cleanup()

    def env(self, **kw):
        e = {"PATH": h.PATH, "NIXFLEET_REPO_DIR": str(self.work.dir)}
        e.update(kw)
        return e

    def test_layout(self):
        for rel in ("sbin/nixfleet-agent", "libexec/nixfleet-agent-net",
                    "libexec/nixfleet-agent-exec"):
            self.assertTrue(os.access(self.prefix / rel, os.X_OK), rel)
        for rel in ("share/man/man8/nixfleet-agent.8", "share/man/man5/nixfleet-agent.conf.5"):
            self.assertTrue((self.prefix / rel).is_file(), rel)
        units = list(self.prefix.rglob("nixfleet-agent.service"))
        self.assertEqual(len(units), 1, units)
        text = units[0].read_text()
        self.assertIn("ExecStart=%s\n" % self.agent, text)
        self.assertEqual(parse_unit(text)["ProtectSystem"], ["strict"])
        # The installed unit is valid, its binary exists, its man pages resolve.
        p = subprocess.run(["systemd-analyze", "verify", str(units[0])],
                           env={"PATH": h.PATH, "MANPATH": str(self.prefix / "share" / "man")},
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertEqual(p.stdout.strip(), "")

    def test_version_and_libexecdir(self):
        p = subprocess.run([str(self.agent), "--version"], env=self.env(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), "nixfleet-agent " + (SRC_DIR / "VERSION").read_text().strip())
        p = subprocess.run([str(self.agent), "--print-config"],
                           env=self.env(NIXFLEET_URL="wss://fleet.example.com/ws",
                                        NIXFLEET_TOKEN="t"),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"(?m)^libexecDir = %s/libexec\s+\(default\)" %
                         re.escape(str(self.prefix)))

    def test_check_and_start(self):
        work = h.Work("install-run")
        self.addCleanup(work.cleanup)
        dash = h.Dashboard(work).start()
        self.addCleanup(dash.stop)
        env = self.env(NIXFLEET_URL=dash.url(), NIXFLEET_TOKEN=h.TOKEN,
                       NIXFLEET_HOSTNAME=h.HOSTNAME, NIXFLEET_INTERVAL="1",
                       NIXFLEET_PRIVSEP_DIR=str(work.privsep_dir()),
                       NIXFLEET_STATE_DIR=str(work.mkdir("state")))
        p = subprocess.run([str(self.agent), "--check"], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertTrue(any(r.get("path") == "/" for r in dash.records("http")),
                        dash.records())
        # A real start: both workers come from <prefix>/libexec.
        agent = h.Agent(work, env, binary=self.agent).start()
        self.addCleanup(lambda: agent.running() and h.kill_tree(agent.pid))
        h.wait_for(lambda: dash.messages("register"), 30, what="register")
        workers = agent.wait_workers(10)
        for pid in workers.values():
            exe = os.readlink("/proc/%d/exe" % pid)
            self.assertTrue(exe.startswith(str(self.prefix / "libexec") + "/"), exe)
        rc, _ = agent.terminate(10)
        self.assertEqual(rc, 0, agent.log())

    def test_runs_with_the_units_capabilities(self):
        """The unit's CapabilityBoundingSet and NoNewPrivileges, applied
        with setpriv (no systemd as PID 1 here): the agent still chroots
        and switches the net-worker's user, registers and stops cleanly."""
        caps = parse_unit(UNIT.read_text())["CapabilityBoundingSet"][0].split()
        self.assertEqual(parse_unit(UNIT.read_text())["NoNewPrivileges"], ["yes"])
        bounding = "-all," + ",".join("+" + c[4:].lower() for c in caps)
        work = h.Work("install-caps")
        self.addCleanup(work.cleanup)
        dash = h.Dashboard(work).start()
        self.addCleanup(dash.stop)
        env = self.env(NIXFLEET_URL=dash.url(), NIXFLEET_TOKEN=h.TOKEN,
                       NIXFLEET_HOSTNAME=h.HOSTNAME, NIXFLEET_INTERVAL="1",
                       NIXFLEET_PRIVSEP_DIR=str(work.path("run", "empty")),
                       NIXFLEET_STATE_DIR=str(work.mkdir("state")))
        os.makedirs(work.path("run"), mode=0o755)
        wrapper = work.path("agent-capped")
        wrapper.write_text("#!/bin/sh\nexec setpriv --nnp --inh-caps=-all --bounding-set %s "
                           "-- %s \"$@\"\n" % (bounding, self.agent))
        wrapper.chmod(0o755)
        agent = h.Agent(work, env, binary=wrapper).start()
        self.addCleanup(lambda: agent.running() and h.kill_tree(agent.pid))
        h.wait_for(lambda: dash.messages("register"), 30, what="register")
        workers = agent.wait_workers(10)
        st = h.proc_status(workers["net"])
        self.assertNotEqual(st["Uid"].split()[0], "0", "net-worker kept root")
        self.assertEqual(os.readlink("/proc/%d/root" % workers["net"]),
                         str(work.path("run", "empty")))
        bnd = int(h.proc_status(agent.pid)["CapBnd"], 16)
        self.assertEqual(bin(bnd).count("1"), len(caps))
        rc, _ = agent.terminate(10)
        self.assertEqual(rc, 0, agent.log())


if __name__ == "__main__":
    classes = {c.__name__[:-len("Tests")]: c for c in (NixTests, SystemdTests, ManTests, DockerTests, InstallTests)}
    names = sys.argv[1:] or list(classes)
    suite = unittest.TestSuite()
    for n in names:
        suite.addTests(unittest.defaultTestLoader.loadTestsFromTestCase(classes[n]))
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    sys.exit(0 if result.wasSuccessful() else 1)
