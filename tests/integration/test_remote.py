#!/usr/bin/python3
"""Remote administration through the nixfleet dialect against the
reference dashboard: PTY shells, admin_run (allowlist, timeout, cron),
key sync (fetched from tests/peers/keysource.py) and backups
(socketio-protocol.md §6, docs/admin.md).  The
dashboard sends the socketio events' payloads as nixfleet message types
({"type":"shell_start","payload":{...}}) and reads the answers the same
way."""

import base64
import json
import os
import pwd
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402


def setUpModule():
    h.require_agent()
    h.require_root()


class RemoteTest(h.AgentTestCase):

    @classmethod
    def setUpClass(cls):
        cls.set_up_certs()

    def run_agent(self, **env):
        self.dash = self.start_dashboard(tls="server")
        self.agent = self.start_agent(self.agent_env(self.dash.url(), **env))
        self.wait_message(self.dash, "register", 10)
        return self.dash

    def send(self, type, payload):
        r = self.dash.control("send " + json.dumps({"type": type, "payload": payload}))
        self.assertTrue(r.get("ok"), r)

    def payloads(self, type, since=0.0):
        return [m["data"]["payload"] for m in self.dash.messages(type, since=since)]

    def wait_payload(self, type, pred=lambda p: True, timeout=10, since=0.0):
        def got():
            for p in self.payloads(type, since):
                if pred(p):
                    return p
            return None
        return self.wait(got, timeout, "a '%s' message" % type)

    def admin(self, command, token="t1", timeout=15, **cmd):
        since = time.time()
        c = {"command": command}
        c.update(cmd)
        self.send("admin_run", {"token": token, "cmd": c})
        return self.wait_payload("admin_result", lambda p: p["token"] == token,
                                 timeout, since)["result"]

    def shell_text(self, session, since=0.0):
        return "".join(p["data"] for p in self.payloads("shell_output", since)
                       if p["session"] == session)

    # ------------------------------------------------------------ shells

    def test_shell_round_trip(self):
        self.run_agent(ENABLE_SHELL="1")
        self.send("shell_start", {"session": "s1"})
        self.send("shell_input", {"session": "s1", "data": "echo h''i\n"})
        # The echo of the keystrokes, then the command's output.
        # (bash may switch bracketed paste off in between.)
        self.wait(lambda: re.search(r"echo h''i\r\n(\x1b\[\?2004l\r)?hi\r\n",
                                    self.shell_text("s1")), 10, "echo and output")
        self.send("shell_resize", {"session": "s1", "cols": 101, "rows": 33})
        self.send("shell_input", {"session": "s1", "data": "stty size\n"})
        self.wait(lambda: "33 101" in self.shell_text("s1"), 10, "the new size")
        for p in self.payloads("shell_output"):
            self.assertLessEqual(len(p["data"].encode()), 4096)
        # Output larger than a chunk arrives whole, in chunks of <= 4 KiB.
        self.send("shell_input", {"session": "s1", "data": "seq 100000 103000\n"})
        self.wait(lambda: "103000\r\n" in self.shell_text("s1"), 15, "seq output")
        text = self.shell_text("s1").split("seq 100000 103000", 1)[1]
        got = re.findall(r"\b1(?:0[0-2]\d{3}|03000)\b", text)
        self.assertEqual(got, [str(i) for i in range(100000, 103001)],
                         "seq output lost or reordered:\n%s" % self.context())
        self.send("shell_close", {"session": "s1"})
        closed = self.wait_payload("shell_closed", lambda p: p["session"] == "s1")
        self.assertEqual(closed["code"], -1, closed)
        self.assertEqual(closed["reason"], "signal: hangup", closed)
        self.assertEqual(closed["signal"], "SIGHUP", closed)
        time.sleep(0.5)
        self.assertEqual(len([p for p in self.payloads("shell_closed")
                              if p["session"] == "s1"]), 1)

    def test_shell_exit_status_and_slots(self):
        self.run_agent(ENABLE_SHELL="1")
        self.send("shell_start", {"session": "a"})
        self.send("shell_start", {"session": "b"})
        refused = self.wait_payload("shell_closed", lambda p: p["session"] == "b")
        self.assertEqual(refused, {"session": "b", "code": 1,
                                   "reason": "too many concurrent sessions"})
        # A shell holds the one slot: admin_run waits for it.
        self.send("shell_input", {"session": "a", "data": "exit 3\n"})
        closed = self.wait_payload("shell_closed", lambda p: p["session"] == "a")
        self.assertEqual((closed["code"], closed["reason"]), (3, "exit status 3"))
        self.assertNotIn("signal", closed)

    def test_shell_as_user(self):
        user = "nfsh%d" % (os.getpid() % 100000)
        home = "/tmp/%s-home" % user
        subprocess.run(["useradd", "-m", "-d", home, "-s", "/bin/sh", user],
                       check=True)
        self.addCleanup(subprocess.run, ["userdel", "-r", user],
                        capture_output=True)
        self.run_agent(ENABLE_SHELL="1", ADMIN_SHELL_USER=user)
        self.send("shell_start", {"session": "u"})
        self.send("shell_input", {"session": "u",
                                  "data": "echo \"=$(id -un)=$(pwd)=$HOME=$LOGNAME=\"\n"})
        want = "=%s=%s=%s=%s=" % (user, home, home, user)
        self.wait(lambda: want in self.shell_text("u"), 10, "the login user")
        self.send("shell_close", {"session": "u"})
        self.wait_payload("shell_closed", lambda p: p["session"] == "u")

    def test_shell_ends_with_the_session(self):
        """§4.3: a lost connection hangs up every shell and frees its
        slot; no shell_closed is sent for it."""
        self.run_agent(ENABLE_SHELL="1")
        self.send("shell_start", {"session": "old"})
        m = self.wait_log(self.agent, r"shell old started: \S+, pid (\d+)", 10)
        pid = int(m.group(1))
        self.dash.control("drop")
        self.wait(lambda: not h.alive(pid), 10, "the shell to end")
        self.wait_connects(self.dash, 2, 15)
        self.wait_message(self.dash, "register", 10, count=2)
        self.send("shell_start", {"session": "new"})
        self.send("shell_input", {"session": "new", "data": "echo n''ew\n"})
        self.wait(lambda: re.search(r"echo n''ew\r\n(\x1b\[\?2004l\r)?new\r\n",
                                    self.shell_text("new")), 10, "the new shell")
        self.assertEqual([p for p in self.payloads("shell_closed")
                          if p["session"] == "old"], [])

    def test_net_worker_death_ends_shells(self):
        """The exec-worker outlives a killed net-worker; the session went
        with it, so its shells are hung up, and a command still running
        does not answer the next net-worker (which would drop it)."""
        self.run_agent(ENABLE_SHELL="1", ADMIN_MAX_CONCURRENT="2",
                       ADMIN_ALLOWED_COMMANDS="sleep,echo")
        self.send("shell_start", {"session": "k"})
        m = self.wait_log(self.agent, r"shell k started: \S+, pid (\d+)", 10)
        shell = int(m.group(1))
        self.send("admin_run", {"token": "long", "cmd": {"command": "sleep 2"}})
        self.wait_log(self.agent, r"admin_run \d+: sleep 2", 10)
        w = self.agent.wait_workers()
        os.kill(w["net"], 9)
        self.wait(lambda: not h.alive(shell), 10, "the shell to end")
        w2 = self.agent.wait_workers(10, exclude=(w["net"],))
        self.assertEqual(w2["exec"], w["exec"])
        self.wait_message(self.dash, "register", 15, count=2)
        time.sleep(2.5)         # the sleep ends under the new net-worker
        r = self.admin("echo after", token="after")
        self.assertEqual(r["stdout"], "after\n")
        self.assertEqual(self.agent.workers()["net"], w2["net"])
        self.assertNotIn("long", [p["token"] for p in self.payloads("admin_result")])

    def test_shell_disabled(self):
        self.run_agent()
        self.send("shell_start", {"session": "s2"})
        closed = self.wait_payload("shell_closed", lambda p: p["session"] == "s2")
        self.assertEqual(closed, {"session": "s2", "code": 1,
                                  "reason": "shell access disabled"})

    # ------------------------------------------------------------ admin_run

    def test_admin_run_policy(self):
        self.run_agent(ADMIN_ALLOWED_COMMANDS="echo,sleep")
        r = self.admin('echo "a b" c', token="ok")
        self.assertEqual((r["stdout"], r["stderr"]), ("a b c\n", ""))
        self.assertEqual(r["summary"]["code"], 0)
        self.assertNotIn("error", r)
        r = self.admin("id -u", token="no")
        self.assertEqual(r["summary"], {"code": 126, "durationMs": 0})
        self.assertEqual(r["stderr"], "command blocked by allowlist")
        self.assertEqual(r["error"], "command not allowed")
        r = self.admin("echo a; id", token="semi")
        self.assertEqual(r["summary"]["code"], 126)
        self.assertEqual(r["error"], "command contains forbidden characters")
        t0 = time.time()
        r = self.admin("sleep 30", token="slow", timeoutSec=1)
        self.assertEqual(r["summary"]["code"], 124)
        self.assertEqual(r["error"], "timed out after 1s")
        self.assertLess(time.time() - t0, 10)
        # The token and the command come back as sent.
        last = self.payloads("admin_result")[-1]
        self.assertEqual(last["command"], "sleep 30")

    def test_admin_run_token_and_rate(self):
        conf = self.work.write("agent.json", json.dumps(
            {"admin": {"rateLimitMax": 1, "rateLimitWindowSec": 600}}))
        self.dash = self.start_dashboard(tls="server")
        self.agent = self.start_agent(self.agent_env(
            self.dash.url(), ADMIN_ALLOWED_COMMANDS="echo",
            REQUIRE_COMMAND_TOKEN="1", COMMAND_TOKEN="s3cret"),
            args=["--config", str(conf)])
        self.wait_message(self.dash, "register", 10)
        r = self.admin("echo hi", token="wrong")
        self.assertEqual((r["summary"]["code"], r["stderr"], r["error"]),
                         (401, "unauthorized", "unauthorized"))
        r = self.admin("echo hi", token="s3cret")
        self.assertEqual((r["summary"]["code"], r["stdout"]), (0, "hi\n"))
        # One run per window (a 401 is refused before it counts).
        since = time.time()
        self.send("admin_run", {"token": "s3cret", "cmd": {"command": "echo x"}})
        r = self.wait_payload("admin_result", since=since)["result"]
        self.assertEqual((r["summary"]["code"], r["stderr"], r["error"]),
                         (429, "rate limited", "rate limited"))

    def test_admin_run_empty_allowlist(self):
        self.run_agent()
        r = self.admin("echo hi")
        self.assertEqual(r["summary"]["code"], 126)
        self.assertEqual(r["stderr"], "command blocked by allowlist")

    def test_cron_round_trip(self):
        saved = subprocess.run(["crontab", "-l"], capture_output=True)
        self.addCleanup(self.restore_crontab, saved)
        self.run_agent(ADMIN_ALLOWED_COMMANDS="crontab")
        tab = "0 3 * * * /usr/local/bin/backup.sh # nixfleet-agent test\n"
        b64 = base64.b64encode(tab.encode()).decode()
        r = self.admin("echo %s | base64 -d | crontab -" % b64, token="cron-set",
                       timeoutSec=6)
        self.assertEqual(r["summary"]["code"], 0, r)
        r = self.admin("crontab -l", token="cron-get")
        self.assertEqual(r["summary"]["code"], 0, r)
        self.assertEqual(r["stdout"], tab)

    @staticmethod
    def restore_crontab(saved):
        if saved.returncode == 0:
            subprocess.run(["crontab", "-"], input=saved.stdout, check=True)
        else:
            subprocess.run(["crontab", "-r"], capture_output=True)

    # ------------------------------------------------------------ keys

    def key_user(self):
        """A fresh local account (useradd -m) for admin.keysUser."""
        user = "nfkeys%d" % (os.getpid() % 100000)
        subprocess.run(["useradd", "-m", "-d", "/tmp/%s-home" % user, user],
                       check=True)
        self.addCleanup(subprocess.run, ["userdel", "-r", user],
                        capture_output=True)
        return user

    def key_line(self, name):
        key = self.work.path(name)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                        name, "-f", str(key)], check=True)
        return Path(str(key) + ".pub").read_text().strip()

    def key_source(self, files, cert="server", prefix=""):
        d = Path(self.work.mkdir("keys-%s" % cert))
        for user, text in files.items():
            (d / (user + ".keys")).write_text(text)
        ks = h.KeySource(self.work, self.certs, d, cert=cert, prefix=prefix,
                         name="keysource-" + cert)
        self.addCleanup(ks.stop)
        self.peers.append(ks)
        return ks.start()

    def sync(self, user, timeout=15):
        since = time.time()
        self.send("sync_keys", {"user": user})
        return self.wait_payload("keys_sync_result",
                                 lambda p: p["user"] == user, timeout, since)

    def test_key_sync(self):
        """§6.3 / I18 over the nixfleet dialect: the keys come from the
        key source over verified TLS (the dashboard's CA bundle), are
        merged into admin.keysUser's authorized_keys with its ownership
        and 0600 (.ssh 0700), a repeat writes nothing; chunked and
        close-delimited bodies; 404; a body with no valid key; a truncated
        body, a response that is not HTTP and one over the cap are errors
        that write nothing; an invalid login is refused before anything
        is requested."""
        user = self.key_user()
        a, b, c = self.key_line("a"), self.key_line("b"), self.key_line("c")
        ks = self.key_source({
            "octocat": a + "\nnot a key\n" + a + "\r\n",
            "two-chunked": a + "\n" + b + "\n",
            "three-close": c + "\n",
            "junk": "nothing here\nssh-ed25519 !!!\n",
            "x-short": a + "\n", "x-garbage": a + "\n", "x-huge": a + "\n",
        }, prefix="/mirror")
        self.run_agent(ADMIN_KEYS_USER=user, ADMIN_KEYS_SOURCE_URL=ks.url())
        r = self.sync(" octocat ")
        self.assertEqual(r["user"], " octocat ")
        self.assertTrue(r["ok"], "%s\n%s" % (r, self.context()))
        self.assertEqual(r["added"], 1)
        self.assertIsInstance(r["ms"], int)
        req = ks.records("request")
        self.assertEqual([q["path"] for q in req], ["/mirror/octocat.keys"])
        self.assertEqual(req[0]["headers"]["Host"], "localhost:%d" % ks.port)
        self.assertTrue(req[0]["headers"]["User-Agent"].startswith(
            "nixfleet-agent/"), req[0])
        pw = pwd.getpwnam(user)
        ssh = Path(pw.pw_dir, ".ssh")
        ak = ssh / "authorized_keys"
        self.assertEqual(ak.read_text(), a + "\n")
        st = ak.stat()
        self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o777),
                         (pw.pw_uid, pw.pw_gid, 0o600))
        st = ssh.stat()
        self.assertEqual((st.st_uid, st.st_mode & 0o777), (pw.pw_uid, 0o700))
        before = ak.stat()
        time.sleep(0.05)
        r = self.sync("octocat")
        self.assertEqual((r["ok"], r["added"]), (True, 0), r)
        after = ak.stat()
        self.assertEqual((after.st_ino, after.st_mtime_ns),
                         (before.st_ino, before.st_mtime_ns))
        r = self.sync("two-chunked")
        self.assertEqual((r["ok"], r["added"]), (True, 1), r)
        r = self.sync("three-close")
        self.assertEqual((r["ok"], r["added"]), (True, 1), r)
        self.assertEqual(ak.read_text(), a + "\n" + b + "\n" + c + "\n")
        r = self.sync("nobody-here")
        self.assertEqual(r, {"user": "nobody-here", "ok": False,
                             "error": "github responded 404 Not Found"})
        r = self.sync("junk")
        self.assertEqual(r, {"user": "junk", "ok": False,
                             "error": "no valid keys found for user"})
        r = self.sync("x-short")
        self.assertEqual(r, {"user": "x-short", "ok": False, "error":
                             "key source: bad response: connection closed "
                             "before the end of the response (%d body bytes)"
                             % (len(a) + 1)})
        r = self.sync("x-garbage")
        self.assertEqual(r, {"user": "x-garbage", "ok": False, "error":
                             "key source: bad response: malformed status line"})
        r = self.sync("x-huge")
        self.assertEqual(r, {"user": "x-huge", "ok": False, "error":
                             "key source: bad response: body of 71680 bytes "
                             "is over the limit of 64512"})
        n = len(ks.records("request"))
        for bad in ("bad/user", "x" * 40, "", "a b"):
            r = self.sync(bad)
            self.assertEqual(r, {"user": bad, "ok": False,
                                 "error": 'invalid github user "%s"' % bad.strip()})
        self.assertEqual(len(ks.records("request")), n)
        self.assertEqual(ak.read_text(), a + "\n" + b + "\n" + c + "\n")

    def test_key_sync_tls(self):
        """The key fetch always verifies: a key source whose certificate
        no configured CA signed is an error result and nothing is
        requested (nor written); admin.keysCaFile names a CA of its own
        for the key source (the dashboard keeps its own)."""
        user = self.key_user()
        a = self.key_line("a")
        bad = self.key_source({"octocat": a + "\n"}, cert="selfsigned")
        good = self.key_source({"octocat": a + "\n"}, cert="otherca")
        self.run_agent(ADMIN_KEYS_USER=user, ADMIN_KEYS_SOURCE_URL=bad.url(),
                       AGENT_SKIP_TLS_VERIFY="true")
        r = self.sync("octocat")
        self.assertFalse(r["ok"], r)
        self.assertRegex(r["error"], r"^key source TLS: .*(unknown CA|verif)",
                         r)
        self.assertEqual(bad.records("request"), [])
        ak = Path(pwd.getpwnam(user).pw_dir, ".ssh", "authorized_keys")
        self.assertFalse(ak.exists())
        self.agent.terminate()
        # The second CA only for the key source.
        self.agent = self.start_agent(self.agent_env(
            self.dash.url(), ADMIN_KEYS_USER=user,
            ADMIN_KEYS_SOURCE_URL=good.url(),
            ADMIN_KEYS_CA_FILE=self.certs.pem("other-ca")))
        self.wait_message(self.dash, "register", 10, count=2)
        r = self.sync("octocat")
        self.assertEqual((r["ok"], r["added"]), (True, 1),
                         "%s\n%s" % (r, self.context()))
        self.assertEqual(ak.read_text(), a + "\n")

    def test_key_sync_timeout(self):
        """A key source that does not answer within 10 s: a timeout
        result, while the dashboard connection goes on (heartbeats keep
        coming); the next sync works."""
        user = self.key_user()
        a = self.key_line("a")
        ks = self.key_source({"slowpoke": a + "\n", "octocat": a + "\n"})
        self.run_agent(ADMIN_KEYS_USER=user, ADMIN_KEYS_SOURCE_URL=ks.url())
        t0 = time.time()
        self.send("sync_keys", {"user": "slowpoke"})
        r = self.wait_payload("keys_sync_result", timeout=20, since=t0)
        took = time.time() - t0
        self.assertEqual(r, {"user": "slowpoke", "ok": False,
                             "error": "key fetch timed out after 10 s"})
        self.assertGreater(took, 9.5)
        self.assertLess(took, 16)
        hb = [m["t"] for m in self.dash.messages("heartbeat", since=t0)]
        self.assertGreaterEqual(len(hb), 5, self.context())
        self.assertEqual(len(self.dash.connects()), 1, self.context())
        r = self.sync("octocat")
        self.assertEqual((r["ok"], r["added"]), (True, 1), r)

    def test_key_sync_queue(self):
        """Syncs sent back to back wait their turn: each is answered, in
        order, and their connects stay within the supervisor's bucket
        (the net-worker is not dropped, the dashboard stays connected)."""
        user = self.key_user()
        a = self.key_line("a")
        ks = self.key_source({"u%d" % i: a + "\n" for i in range(6)})
        self.run_agent(ADMIN_KEYS_USER=user, ADMIN_KEYS_SOURCE_URL=ks.url())
        t0 = time.time()
        for i in range(6):
            self.send("sync_keys", {"user": "u%d" % i})
        got = self.wait(lambda: (lambda p: p if len(p) >= 6 else None)(
            self.payloads("keys_sync_result", t0)), 30, "6 results")
        self.assertEqual([p["user"] for p in got], ["u%d" % i for i in range(6)])
        self.assertEqual([p.get("added") for p in got], [1, 0, 0, 0, 0, 0], got)
        self.assertEqual(len(ks.records("request")), 6)
        self.assertIsNone(re.search(r"restarting the net-worker", self.agent.log()))
        self.assertEqual(len(self.dash.connects()), 1, self.context())

    def test_key_sync_disabled(self):
        """Without admin.keysUser nothing is fetched."""
        ks = self.key_source({"octocat": self.key_line("a") + "\n"})
        self.run_agent(ADMIN_KEYS_SOURCE_URL=ks.url())
        r = self.sync("octocat")
        self.assertEqual(r, {"user": "octocat", "ok": False,
                             "error": "key sync disabled"})
        self.assertEqual(ks.records("request"), [])

    # ------------------------------------------------------------ backups

    def test_backup_local_copy(self):
        src = Path(self.work.mkdir("data"))
        (src / "sub").mkdir()
        (src / "a.txt").write_text("alpha\n")
        (src / "sub" / "b.bin").write_bytes(os.urandom(200000))
        (src / "sub" / "skip.log").write_text("no\n")
        dest = Path(self.work.mkdir("dest"))
        self.run_agent(BACKUP_DEST_ROOTS=str(dest), TMPDIR=str(self.work.mkdir("tmp")))
        job = {"planId": "p1", "host": "", "user": "", "port": 0,
               "sourceDirs": [str(src)], "destRoot": str(dest / "run"),
               "ignoreGlobs": ["**/*.log"]}
        self.send("backup_plan", job)
        plan = self.wait_payload("backup_plan")
        self.assertEqual(plan["planId"], "p1")
        self.assertEqual(plan["job"], job)
        self.assertEqual(plan["totalFiles"], 2)
        self.assertEqual(plan["totalBytes"], 6 + 200000)
        self.assertEqual(plan["files"], ["data/a.txt", "data/sub/b.bin"])
        self.assertEqual(plan["modifies"], [])
        self.send("backup_start", {"planId": "p1"})
        done = self.wait_payload("backup_complete")
        self.assertEqual(done["transferredBytes"], 200006)
        prog = self.payloads("backup_progress")
        self.assertEqual([p["filesCompleted"] for p in prog][-1], 2)
        self.assertEqual(prog[-1]["percent"], 100)
        self.assertEqual((dest / "run/data/sub/b.bin").read_bytes(),
                         (src / "sub" / "b.bin").read_bytes())
        self.assertFalse((dest / "run/data/sub/skip.log").exists())
        self.send("backup_plan", dict(job, destRoot="/elsewhere", planId="p2"))
        err = self.wait_payload("backup_error")
        self.assertEqual(err, {"planId": "p2",
                               "error": 'destRoot "/elsewhere" not allowed'})

    def test_backup_rsync(self):
        """A remote run through rsync, with a stand-in ssh on PATH that
        runs the remote half locally (the arguments are rsync's own)."""
        fake = Path(self.work.mkdir("fakebin"))
        log = self.work.path("ssh.log")
        (fake / "ssh").write_text(
            "#!/bin/sh\n"
            "echo \"$@\" >> %s\n"
            "while [ $# -gt 0 ]; do\n"
            "  case \"$1\" in -p|-l) shift 2;; -*) shift;; *) break;; esac\n"
            "done\n"
            "shift\n"
            "exec sh -c \"$*\"\n" % log)
        (fake / "ssh").chmod(0o755)
        src = Path(self.work.mkdir("rsrc"))
        (src / "d").mkdir()
        (src / "d" / "f.txt").write_text("remote\n")
        (src / "x.log").write_text("skip\n")
        dest = Path(self.work.mkdir("rdest"))
        self.run_agent(PATH=str(fake) + ":" + h.PATH,
                       TMPDIR=str(self.work.mkdir("tmp")))
        job = {"planId": "r1", "host": "localhost", "user": "", "port": 2222,
               "sourceDirs": [str(src)], "destRoot": str(dest) + "/",
               "ignoreGlobs": ["*.log"]}
        self.send("backup_plan", job)
        self.wait_payload("backup_plan")
        self.send("backup_start", {"planId": "r1"})
        done = self.wait_payload("backup_complete", timeout=30)
        self.assertTrue(done["ok"])
        self.assertEqual((dest / "rsrc/d/f.txt").read_text(), "remote\n")
        self.assertFalse((dest / "rsrc/x.log").exists())
        prog = self.payloads("backup_progress")
        self.assertTrue(prog and all(p["op"] == "rsync" for p in prog), prog)
        self.assertEqual(prog[-1]["filesCompleted"], 1)
        self.assertIn("-p 2222 localhost rsync --server", Path(log).read_text())
        # A failing run reports rsync's status.
        self.send("backup_start", {"planId": "r1", "destRoot": "/proc/no/such"})
        err = self.wait_payload("backup_error", timeout=30)
        self.assertRegex(err["error"], r"^rsync failed: exit status [1-9]")


if __name__ == "__main__":
    h.main()
