#!/usr/bin/python3
"""The repository at startup (nixfleet-protocol.md §4.2, §7 T09): the real
agent against the reference dashboard, real git, a local bare remote (and
one behind a real sshd on a loopback port).  Isolated mode clones a
missing checkout before the first register, re-clones a corrupt one, and
exits 1 when the clone fails; legacy mode exits 1 without its directory.
T09-02 (pull on a dirty tree) and T09-07 (legacy pull) are in
test_jobs.py."""

import os
import pwd
import stat
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import harness as h  # noqa: E402
from sshd import Sshd  # noqa: E402

USER = "nfa-repo-test"
USER_HOME = "/nonexistent-nfa-repo"


def payload(rec):
    return rec["data"].get("payload", {})


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def repo_user():
    """The repository user (created once, no home directory)."""
    h.require_root()
    if subprocess.run(["id", USER], stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["useradd", "-M", "-d", USER_HOME, USER], check=True)
    return pwd.getpwnam(USER)


class RepoTest(h.AgentTestCase):

    def setUp(self):
        super().setUp()
        self.remote = self.work.path("remote.git")
        subprocess.run(["git", "clone", "-q", "--bare", str(self.repo),
                        str(self.remote)], env=h.GIT_ENV, check=True)
        self.head = h.head7(self.repo)

    # ------------------------------------------------------------ helpers

    def up(self, **over):
        dash = self.start_dashboard()
        env = self.agent_env(dash.url(), **over)
        agent = self.start_agent(env)
        return dash, agent

    def registered(self, dash, agent, timeout=30, count=1):
        regs = self.wait_message(dash, "register", timeout, count=count)
        return payload(regs[count - 1])

    def exits_1(self, agent, timeout=20):
        rc = agent.wait_exit(timeout)
        self.assertEqual(rc, 1, "exit status %r\n%s" % (rc, self.context()))

    def isolated(self, clone, url=None, **over):
        return self.up(NIXFLEET_REPO_URL=str(url or self.remote),
                       NIXFLEET_REPO_DIR=str(clone), HOME="/nonexistent",
                       **over)

    # ------------------------------------------------------------ T09

    def test_clone_missing_checkout(self):
        """T09-01: no checkout: the log line, parents and directory 0700,
        register's generation is the remote's head, git's output logged,
        the token never."""
        clone = self.work.path("deep", "er", "clone")
        dash, agent = self.isolated(clone)
        reg = self.registered(dash, agent)
        self.assertEqual(reg["generation"], self.head, reg)
        self.assertEqual(len(reg["generation"]), 7)
        log = agent.log()
        self.assertIn("cloning repository (isolated mode)", log)
        self.assertRegex(log, r"exec: git: Cloning into '%s'" % clone)
        self.assertIn("repository cloned into %s (branch main)" % clone, log)
        self.assertNotIn(h.TOKEN, log)
        self.assertEqual(mode(clone), 0o700)
        self.assertEqual(mode(self.work.path("deep")), 0o700)
        self.assertEqual(mode(self.work.path("deep", "er")), 0o700)
        self.assertEqual((clone / "flake.nix").read_text(),
                         "{ outputs = _: { }; }\n")
        self.assertEqual(h.git(clone, "rev-parse", "--abbrev-ref", "HEAD"),
                         "main")
        # The clone came before the first register: nothing before it.
        regs = dash.messages("register")
        self.assertEqual([payload(r)["generation"] for r in regs],
                         [self.head] * len(regs))

    def test_generation_packed_refs(self):
        """T09-04: the generation from the isolated repository, 7
        characters, also after git pack-refs --all; a checkout that is
        there is not cloned again."""
        clone = self.work.path("clone")
        dash, agent = self.isolated(clone)
        self.assertEqual(self.registered(dash, agent)["generation"], self.head)
        h.git(clone, "pack-refs", "--all")
        self.assertFalse((clone / ".git" / "refs" / "heads" / "main").exists())
        self.assertIn(self.head, (clone / ".git" / "packed-refs").read_text()
                      .replace(h.git(clone, "rev-parse", "HEAD"), self.head))
        t = time.time()
        hb = self.wait_message(dash, "heartbeat", 10, count=2, since=t)
        self.assertEqual([payload(m)["generation"] for m in hb],
                         [self.head, self.head])
        rc, _ = agent.terminate()
        self.assertEqual(rc, 0)
        dash2, agent2 = self.isolated(clone)
        self.assertEqual(self.registered(dash2, agent2)["generation"],
                         self.head)
        self.assertNotIn("cloning repository", agent2.log())
        self.assertNotIn("corrupt", agent2.log())

    def test_corrupt_checkout(self):
        """T09-05: git rev-parse --git-dir fails: the log line, the
        directory removed (a symlink in it removed, not followed) and
        cloned again; the agent works."""
        clone = self.work.path("clone")
        subprocess.run(["git", "clone", "-q", str(self.remote), str(clone)],
                       env=h.GIT_ENV, check=True)
        (clone / ".git" / "HEAD").write_text("garbage\n")
        (clone / "junk.txt").write_text("junk\n")
        outside = self.work.mkdir("outside", 0o755)
        (outside / "keep.txt").write_text("keep\n")
        os.symlink(outside, clone / "link")
        os.symlink(outside / "keep.txt", clone / "keep-link")
        r = subprocess.run(["git", "-C", str(clone), "rev-parse", "--git-dir"],
                           env=h.GIT_ENV, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        self.assertNotEqual(r.returncode, 0)
        dash, agent = self.isolated(clone)
        reg = self.registered(dash, agent)
        self.assertEqual(reg["generation"], self.head)
        log = agent.log()
        self.assertIn("repository appears corrupt, re-cloning", log)
        self.assertIn("exec: git rev-parse: fatal: not a git repository", log)
        self.assertLess(log.index("repository appears corrupt"),
                        log.index("repository cloned into"))
        self.assertFalse((clone / "junk.txt").exists())
        self.assertFalse(os.path.lexists(clone / "link"))
        self.assertEqual((outside / "keep.txt").read_text(), "keep\n")
        self.assertEqual(h.git(clone, "rev-parse", "HEAD")[:7], self.head)
        self.assertEqual(mode(clone), 0o700)
        # It works: a pull on the new checkout.
        t = time.time()
        self.assertTrue(dash.control("command pull")["ok"])
        st = self.wait_message(dash, "status", 20, since=t)
        self.assertEqual(payload(st[0])["status"], "ok", st)

    def test_interrupted_clone(self):
        """A clone killed before it wrote its branch has a git directory
        (rev-parse --git-dir succeeds) but no HEAD: cloned again too."""
        clone = self.work.path("clone")
        subprocess.run(["git", "clone", "-q", str(self.remote), str(clone)],
                       env=h.GIT_ENV, check=True)
        (clone / ".git" / "refs" / "heads" / "main").unlink()
        packed = clone / ".git" / "packed-refs"
        if packed.exists():
            packed.unlink()
        self.assertEqual(h.git(clone, "rev-parse", "--git-dir"), ".git")
        dash, agent = self.isolated(clone)
        self.assertEqual(self.registered(dash, agent)["generation"], self.head)
        self.assertIn("repository appears corrupt, re-cloning", agent.log())

    def test_git_missing_keeps_checkout(self):
        """A check that cannot run git is no sign of corruption: the agent
        exits 1 and the checkout stays."""
        clone = self.work.path("clone")
        subprocess.run(["git", "clone", "-q", str(self.remote), str(clone)],
                       env=h.GIT_ENV, check=True)
        (clone / "local.txt").write_text("mine\n")
        nogit = self.work.mkdir("nogit", 0o755)
        dash, agent = self.isolated(clone, PATH=str(nogit))
        self.exits_1(agent)
        self.assertIn("git rev-parse exited 127", agent.log())
        self.assertNotIn("corrupt", agent.log())
        self.assertEqual((clone / "local.txt").read_text(), "mine\n")

    def test_clone_fails_exits_1(self):
        """§4.2: a clone that fails ends the agent with status 1 (the
        service manager retries), with git's error and a clear line; no
        register goes out."""
        clone = self.work.path("clone")
        bad = self.work.path("nowhere.git")
        t0 = time.monotonic()
        dash, agent = self.isolated(clone, url=bad)
        self.exits_1(agent)
        self.assertLess(time.monotonic() - t0, 20)
        log = agent.log()
        self.assertIn("cloning repository (isolated mode)", log)
        self.assertRegex(log, r"exec: git: fatal: .*nowhere\.git")
        self.assertIn("cloning %s (branch main) into %s failed (exit 128)" %
                      (bad, clone), log)
        self.assertIn("exiting with 1: the repository is not usable", log)
        self.assertNotIn("did not stop in time", log)
        self.assertEqual(dash.messages("register"), [])

    def test_clone_url_password_not_logged(self):
        """The log shows the URL without its password, also in git's own
        lines."""
        clone = self.work.path("clone")
        dash, agent = self.isolated(clone,
                                    url="http://fleet:s3cr3t-pw@127.0.0.1:9/r")
        self.exits_1(agent, 30)
        log = agent.log()
        self.assertIn("http://fleet:***@127.0.0.1:9/r", log)
        self.assertNotIn("s3cr3t-pw", log)

    def test_legacy_missing_dir_exits_1(self):
        """§4.2: legacy mode without its directory: exit 1, naming the
        directory and the setting it came from."""
        missing = self.work.path("missing")
        dash, agent = self.up(NIXFLEET_REPO_DIR=str(missing))
        self.exits_1(agent)
        self.assertIn("repository directory %s (NIXFLEET_REPO_DIR "
                      "(environment)): No such file or directory" % missing,
                      agent.log())
        self.assertEqual(dash.messages("register"), [])
        dash, agent = self.up(NIXFLEET_REPO_DIR=None,
                              NIXFLEET_NIXCFG=str(missing))
        self.exits_1(agent)
        self.assertIn("repository directory %s (NIXFLEET_NIXCFG "
                      "(environment))" % missing, agent.log())
        self.assertFalse(missing.exists())

    def test_legacy_existing_dir_untouched(self):
        """T09-07's start: legacy mode with its directory registers with
        its generation; nothing is cloned or checked."""
        dash, agent = self.up()
        self.assertEqual(self.registered(dash, agent)["generation"], self.head)
        self.assertNotIn("cloning", agent.log())

    def test_clone_as_repo_user(self):
        """With NIXFLEET_USER a root agent clones as that user: it owns the
        checkout and the directories made for it."""
        pw = repo_user()
        subprocess.run(["chown", "-R", "%d:%d" % (pw.pw_uid, pw.pw_gid),
                        str(self.remote)], check=True)
        clone = self.work.path("u", "clone")
        dash, agent = self.isolated(clone, NIXFLEET_USER=USER)
        self.assertEqual(self.registered(dash, agent)["generation"], self.head)
        self.assertIn("as %s" % USER, agent.log())
        for p in (self.work.path("u"), clone, clone / ".git",
                  clone / ".git" / "HEAD", clone / "flake.nix"):
            self.assertEqual(os.lstat(p).st_uid, pw.pw_uid, p)
        self.assertEqual(mode(clone), 0o700)

    def test_clone_over_ssh(self):
        """T09-06 for the clone: NIXFLEET_SSH_KEY reaches git as
        GIT_SSH_COMMAND=ssh -i <key> -o StrictHostKeyChecking=no (the
        repo user has no key of its own, nor a home)."""
        pw = repo_user()
        sshd = Sshd(self.work.path("sshd"))
        sshd.start()
        self.addCleanup(sshd.close)
        sshd.chown_key(pw.pw_uid, pw.pw_gid)
        clone = self.work.path("clone")
        dash, agent = self.isolated(
            clone, url=sshd.url(str(self.remote)), NIXFLEET_USER=USER,
            NIXFLEET_SSH_KEY=str(sshd.client_key))
        try:
            reg = self.registered(dash, agent)
        except AssertionError as e:
            raise AssertionError("%s\n--- sshd:\n%s" % (e, sshd.log_text()))
        self.assertEqual(reg["generation"], self.head)
        self.assertEqual(os.lstat(clone / "flake.nix").st_uid, pw.pw_uid)
        self.assertIn("Accepted publickey for root", sshd.log_text())


if __name__ == "__main__":
    h.main()
