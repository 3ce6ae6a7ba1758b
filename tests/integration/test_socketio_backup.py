#!/usr/bin/python3
"""Backups in the socketio dialect against the real peers
(socketio-protocol.md §6.4, §6.5, §8.3 I19 and I20): a local backup
with an agent restart between backup_plan and backup_start (the plan
persisted under <state>/compute-agent/backup-plans), and a remote
backup with rsync over ssh to a real sshd on a loopback port
(tests/lib/sshd.py), with the §6.5 progress file <safe>.state.json
checked after each.  The error cases (a closed port, a refused key, an
unknown host key, host key checks turned off) run on the node server
only: the dialect does not touch them."""

import json
import os
import re
import socket
import subprocess
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
import test_socketio_agent as sa  # noqa: E402
import test_socketio_peers as sp  # noqa: E402
from sshd import Sshd  # noqa: E402  (tests/lib, on harness's path)

STATE_KEYS = {"planId", "file", "transferredBytes", "ts"}

# sshd's ForceCommand for the throttled server: runs the command the
# client asked for (rsync --server ...) with its stdin fed at RATE bytes
# a second, so that a run lasts long enough for progress in its middle.
THROTTLE = """#!/usr/bin/python3
import os, subprocess, threading, time
RATE = %d
p = subprocess.Popen(["/bin/sh", "-c", os.environ["SSH_ORIGINAL_COMMAND"]],
                     stdin=subprocess.PIPE)


def feed():
    t0, n = time.monotonic(), 0
    try:
        while True:
            b = os.read(0, 65536)
            if not b:
                break
            p.stdin.write(b)
            p.stdin.flush()
            n += len(b)
            ahead = n / RATE - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)
        p.stdin.close()
    except OSError:
        pass


# The client closes its side only after this command ends: do not wait
# for it.
threading.Thread(target=feed, daemon=True).start()
os._exit(p.wait())
"""


class ThrottledSshd(Sshd):
    """tests/lib/sshd.py's server with a ForceCommand that slows the
    transfer down (THROTTLE)."""

    def __init__(self, workdir, rate):
        super().__init__(workdir)
        self.throttle = self.dir / "throttle"
        self.throttle.write_text(THROTTLE % rate)
        self.throttle.chmod(0o755)

    def _write_config(self):
        super()._write_config()
        with open(self.config, "a") as f:
            f.write("ForceCommand %s\n" % self.throttle)


def setUpModule():
    h.require_agent()
    h.require_root()
    sp.npm_ci()


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class BackupCase(sa.AgentCase):
    """The checks both real servers pass."""

    def session(self, **env):
        self.tmp = self.work.mkdir("tmp")
        self.peer = self.start_peer()
        self.start_agent(self.env(self.peer, TMPDIR=self.tmp, **env))
        self.wait_event(self.peer, "stats")
        self.wait_policy()
        return self.peer

    def wait_policy(self):
        """The exec-worker has the supervisor's policy (until then
        backups are refused as not configured)."""
        self.agent.wait_log(r"remote administration: \d+ commands", 10,
                            start=self.agent.log_start)

    def restart(self):
        """Stop the agent and start a new one with the same settings;
        returns once the new session sends stats."""
        env = self.agent.env
        rc, _ = self.agent.terminate(timeout=15)
        self.assertEqual(rc, 0)
        n = len(self.peer.records("connect"))
        self.start_agent(env)
        c = self.wait_connects(self.peer, n + 1)
        self.wait_event(self.peer, "stats", conn=c[-1]["conn"])
        self.wait_policy()

    def emit(self, name, payload):
        self.peer.control("emit %s %s" % (name, json.dumps(payload)))

    def payloads(self, name, plan_id, since=0.0):
        return [(e["t"], e["args"][0]) for e in self.events(self.peer, name)
                if e["t"] >= since and e["args"][0].get("planId") == plan_id]

    def wait_payload(self, names, plan_id, since=0.0, timeout=15):
        """The first of names (backup_plan / _complete / _error) for the
        plan since a time: (name, payload)."""
        def got():
            for n in names:
                p = self.payloads(n, plan_id, since)
                if p:
                    return n, p[0][1]
            return None
        return self.wait(got, timeout, "%s for %s" % ("/".join(names),
                                                     plan_id), self.peer)

    def plan(self, job):
        t0 = time.time() - 0.01
        self.emit("backup_plan", job)
        n, p = self.wait_payload(("backup_plan", "backup_error"),
                                 job["planId"], t0)
        self.assertEqual(n, "backup_plan", p)
        return p

    def start(self, plan_id, timeout=60, **over):
        t0 = time.time() - 0.01
        self.emit("backup_start", dict(over, planId=plan_id))
        n, p = self.wait_payload(("backup_complete", "backup_error"),
                                 plan_id, t0, timeout)
        return n, p, [p for _, p in self.payloads("backup_progress",
                                                  plan_id, t0)], t0

    def plan_dir(self):
        """Under the state directory, not §6.4's ${TMPDIR} (docs/admin.md:
        the unit's PrivateTmp would lose plans at each restart)."""
        self.assertFalse(Path(self.tmp, "compute-agent").exists())
        return Path(self.agent.env["NIXFLEET_STATE_DIR"], "compute-agent",
                    "backup-plans")

    def state(self, safe):
        """§6.5's progress file: exactly its four fields, 0600, and no
        temporary file of the atomic write left next to it."""
        p = self.plan_dir() / (safe + ".state.json")
        self.assertEqual(os.stat(p).st_mode & 0o777, 0o600)
        st = json.loads(p.read_text())
        self.assertEqual(set(st), STATE_KEYS, st)
        self.assertRegex(st["ts"], sa.RFC3339)
        self.assertEqual([f for f in os.listdir(self.plan_dir())
                          if ".tmp-" in f], [])
        return st

    def check_gaps(self, plan_id, t0, mid_min=0):
        """§6.5: progress at least once a second while a run goes on
        (with the loaded machine's tolerance), and at most once a second
        but for the events at file (run) ends.  Returns the number of
        events sent in the middle of a file (run)."""
        ev = self.payloads("backup_progress", plan_id, t0)
        ts = [t for t, _ in ev]
        ts += [t for t, _ in self.payloads("backup_complete", plan_id, t0)]
        gaps = [b - a for a, b in zip(ts, ts[1:])]
        self.assertTrue(all(g <= 1.6 for g in gaps), gaps)
        mid = [(b[0] - a[0]) for a, b in zip(ev, ev[1:])
               if b[1]["filesCompleted"] == a[1]["filesCompleted"]]
        self.assertTrue(all(g >= 0.8 for g in mid), mid)
        self.assertGreaterEqual(len(mid), mid_min, [p for _, p in ev])
        return len(mid)

    # ------------------------------------------------------------ I19

    def test_local_backup_across_restart(self):
        """I19: globs **/*.log and **/node_modules/** honoured, a symlinked
        root refused, files capped at 25; the agent restarts between plan
        and start, and the start finds the persisted plan; progress at
        each file end and at most 1 s apart; backup_complete with the
        plan's byte total; the files copied; <safe>.state.json; an
        unknown planId is a backup_error."""
        src = self.work.mkdir("data")
        (src / "sub").mkdir()
        (src / "node_modules" / "pkg").mkdir(parents=True)
        (src / "node_modules" / "pkg" / "index.js").write_text("x\n")
        (src / "sub" / "big.bin").write_bytes(os.urandom(8 << 20))
        (src / "sub" / "skip.log").write_text("no\n")
        for i in range(30):
            (src / ("f%02d.txt" % i)).write_text("file %d\n" % i)
        os.symlink(src, self.work.path("link"))
        dest = self.work.mkdir("dest")
        self.session(BACKUP_DEST_ROOTS=dest)
        job = {"planId": "I19 local", "host": "", "user": "", "port": 0,
               "sourceDirs": [str(src)], "destRoot": str(dest / "run"),
               "ignoreGlobs": ["**/*.log", "**/node_modules/**"]}
        p = self.plan(job)
        self.assertEqual(p["job"], job)
        self.assertEqual(p["totalFiles"], 31)
        self.assertEqual(p["totalBytes"], (8 << 20) + sum(
            len("file %d\n" % i) for i in range(30)))
        self.assertEqual(p["files"], ["data/f%02d.txt" % i
                                      for i in range(25)])
        self.assertEqual(p["modifies"], [])
        t0 = time.time()
        self.emit("backup_plan", dict(job, planId="ln",
                                      sourceDirs=[str(self.work.path("link"))]))
        _, err = self.wait_payload(("backup_error",), "ln", t0)
        self.assertEqual(err["error"], 'source directory "%s" resolves '
                         'through symlinks; refusing' % self.work.path("link"))
        plan_file = self.plan_dir() / "I19_local.plan"
        self.assertEqual(os.stat(plan_file).st_mode & 0o777, 0o600)

        self.restart()
        log0 = len(self.agent.log())
        n, done, prog, t0 = self.start("I19 local")
        self.assertEqual(n, "backup_complete", (done, self.context(self.peer)))
        self.agent.wait_log(r"backup_start I19 local: plan read from "
                            + re.escape(str(self.plan_dir())), 5, start=log0)
        self.assertEqual(set(done), {"planId", "ok", "ms", "transferredBytes"})
        self.assertTrue(done["ok"])
        self.assertEqual(done["transferredBytes"], p["totalBytes"])
        self.assertTrue(all(x["op"] == "copy" for x in prog), prog)
        ends = [x for x in prog if x["filesCompleted"] > 0]
        # One event at each file end, with filesCompleted counting up.
        self.assertEqual(sorted({x["filesCompleted"] for x in ends}),
                         list(range(1, 32)))
        self.assertEqual(prog[-1]["percent"], 100)
        self.assertEqual(prog[-1]["transferredBytes"], p["totalBytes"])
        self.check_gaps("I19 local", t0)
        self.assertEqual((dest / "run/data/sub/big.bin").read_bytes(),
                         (src / "sub" / "big.bin").read_bytes())
        self.assertEqual((dest / "run/data/f29.txt").read_text(), "file 29\n")
        self.assertFalse((dest / "run/data/sub/skip.log").exists())
        self.assertFalse((dest / "run/data/node_modules").exists())
        st = self.state("I19_local")
        self.assertEqual(st["planId"], "I19 local")
        self.assertEqual(st["transferredBytes"], p["totalBytes"])
        self.assertEqual(st["file"], "data/sub/big.bin")

        n, err, _, _ = self.start("nope")
        self.assertEqual((n, err), ("backup_error",
                                    {"planId": "nope",
                                     "error": "unknown plan nope"}))

    # ------------------------------------------------------------ I20

    def remote_tree(self):
        a = self.work.mkdir("srcA")
        (a / "d").mkdir()
        (a / "d" / "big.bin").write_bytes(os.urandom(1 << 20))
        # Sparse on this side: cheap to make, 32 MiB through ssh.
        with open(a / "d" / "zeros.bin", "wb") as f:
            f.truncate(32 << 20)
        (a / "small.txt").write_text("small\n")
        b = self.work.mkdir("srcB")
        (b / "sub").mkdir()
        (b / "sub" / "x.log").write_text("skipped\n")
        (b / "sub" / "y.txt").write_text("kept\n")
        return a, b

    def sshd(self, rate=None):
        d = self.work.path("sshd")
        s = Sshd(d) if rate is None else ThrottledSshd(d, rate)
        self.addCleanup(s.close)
        return s.start()

    def test_remote_backup_over_ssh(self):
        """I20: rsync -a --info=progress2 through ssh -p <port> to a real
        sshd, with the configured identity and known_hosts and host key
        checking on: op "rsync", progress at most 1 s apart and at each
        run's end (filesCompleted counts source directories),
        backup_complete with rsync's byte total (the plan's here), the
        files on the remote side, <safe>.state.json.  The server takes
        8 MiB a second, so the run lasts about 4 s."""
        sshd = self.sshd(rate=8 << 20)
        a, b = self.remote_tree()
        dest = self.work.mkdir("remote")
        self.session(BACKUP_SSH_IDENTITY_FILE=sshd.client_key,
                     BACKUP_SSH_KNOWN_HOSTS_FILE=sshd.known_hosts)
        job = {"planId": "I20", "host": "127.0.0.1", "user": "root",
               "port": sshd.port, "sourceDirs": [str(a), str(b) + "/"],
               "destRoot": str(dest) + "/", "ignoreGlobs": ["**/*.log"]}
        p = self.plan(job)
        self.assertEqual(p["totalFiles"], 4)
        n, done, prog, t0 = self.start("I20", timeout=120)
        self.assertEqual(n, "backup_complete",
                         (done, self.context(self.peer), sshd.log_text()))
        self.assertTrue(done["ok"])
        self.assertEqual(done["transferredBytes"], p["totalBytes"])
        self.assertTrue(prog and all(x["op"] == "rsync" for x in prog), prog)
        self.assertEqual([x["filesCompleted"] for x in prog
                          if x["filesCompleted"] > 0][-1], 2)
        self.assertIn(1, [x["filesCompleted"] for x in prog])
        self.assertEqual(prog[-1]["transferredBytes"], p["totalBytes"])
        self.check_gaps("I20", t0, mid_min=2)
        self.assertEqual((dest / "srcA/d/big.bin").read_bytes(),
                         (a / "d" / "big.bin").read_bytes())
        # srcB/ is srcB: its basename names the target (§6.5).
        self.assertEqual((dest / "srcB/sub/y.txt").read_text(), "kept\n")
        self.assertFalse((dest / "srcB/sub/x.log").exists())
        # §6.5's argv, with the identity and host key settings in -e.
        m = self.agent.wait_log(r"backup I20: rsync \S+ -> (\S+) \(ssh: "
                                r"([^)]*)\)", 5)
        self.assertEqual(m.group(1), "root@127.0.0.1:%s/srcA/" % dest)
        self.assertEqual(m.group(2), "ssh -p %d -i '%s' -o IdentitiesOnly=yes"
                         " -o 'UserKnownHostsFile=%s' -o "
                         "StrictHostKeyChecking=yes -o BatchMode=yes" %
                         (sshd.port, sshd.client_key, sshd.known_hosts))
        self.assertRegex(sshd.log_text(), r"Accepted publickey for root")
        st = self.state("I20")
        self.assertEqual((st["planId"], st["transferredBytes"]),
                         ("I20", p["totalBytes"]))


class NodeBackupTest(BackupCase, unittest.TestCase):
    peer_class = sp.NodePeer

    def test_start_overrides_plan(self):
        """§6.5: sourceDirs and ignoreGlobs of backup_start win over the
        stored request (a new walk, checked like a plan: a source outside
        backup.allowedSourceRoots is refused); absent ones fall back."""
        a = self.work.mkdir("ra")
        (a / "one.txt").write_text("1\n")
        b = self.work.mkdir("rb")
        (b / "two.txt").write_text("2\n")
        (b / "skip.tmp").write_text("x\n")
        outside = self.work.mkdir("elsewhere")
        roots = self.work.mkdir("roots")
        for d in (a, b):
            d.rename(roots / d.name)
        a, b = roots / "ra", roots / "rb"
        dest = self.work.mkdir("dest")
        self.session(BACKUP_DEST_ROOTS=dest, BACKUP_SOURCE_ROOTS=roots)
        job = {"planId": "ov", "host": "", "user": "", "port": 0,
               "sourceDirs": [str(a)], "destRoot": str(dest / "run"),
               "ignoreGlobs": []}
        self.assertEqual(self.plan(job)["totalFiles"], 1)
        n, done, _, _ = self.start("ov", sourceDirs=[str(b) + "/"],
                                   ignoreGlobs=["**/*.tmp"])
        self.assertEqual(n, "backup_complete", done)
        self.assertEqual(done["transferredBytes"], 2)
        self.assertEqual((dest / "run/rb/two.txt").read_text(), "2\n")
        self.assertFalse((dest / "run/rb/skip.tmp").exists())
        self.assertFalse((dest / "run/ra").exists())
        n, err, _, _ = self.start("ov", sourceDirs=[str(outside)])
        self.assertEqual(n, "backup_error")
        self.assertIn("not allowed", err["error"])

    def test_remote_backup_errors(self):
        """I20 failures: a closed port, a key the server refuses, a host
        key not in known_hosts: backup_error "rsync failed: exit status
        <n>: <ssh's reason>".  Host key checks off
        (BACKUP_SSH_SKIP_HOST_KEY_CHECK) connect anyway, with a WARN."""
        sshd = self.sshd()
        a, _ = self.remote_tree()
        dest = self.work.mkdir("remote")
        job = {"planId": "e1", "host": "127.0.0.1", "user": "root",
               "port": sshd.port, "sourceDirs": [str(a)],
               "destRoot": str(dest), "ignoreGlobs": []}
        self.session(BACKUP_SSH_IDENTITY_FILE=sshd.client_key,
                     BACKUP_SSH_KNOWN_HOSTS_FILE=sshd.known_hosts)
        self.plan(job)
        port = closed_port()
        n, err, _, _ = self.start("e1", port=port)
        self.assertEqual(n, "backup_error")
        self.assertRegex(err["error"], r"^rsync failed: exit status (12|255): ssh: "
                         r"connect to host 127\.0\.0\.1 port %d: Connection "
                         r"refused$" % port)
        self.agent.terminate()

        # A key sshd does not know.
        other = self.work.path("other_key")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                        str(other)], check=True)
        self.start_agent(self.env(self.peer, TMPDIR=self.tmp,
                                  BACKUP_SSH_IDENTITY_FILE=other,
                                  BACKUP_SSH_KNOWN_HOSTS_FILE=sshd.known_hosts))
        self.wait_connects(self.peer, 2)
        self.wait_policy()
        n, err, _, _ = self.start("e1")
        self.assertEqual(n, "backup_error")
        self.assertRegex(err["error"], r"^rsync failed: exit status (12|255): "
                         r"root@127\.0\.0\.1: Permission denied \(publickey\)")
        self.agent.terminate()

        # Host key checking is on by default: an empty known_hosts fails.
        empty = self.work.write("empty_known_hosts", "")
        self.start_agent(self.env(self.peer, TMPDIR=self.tmp,
                                  BACKUP_SSH_IDENTITY_FILE=sshd.client_key,
                                  BACKUP_SSH_KNOWN_HOSTS_FILE=empty))
        self.wait_connects(self.peer, 3)
        self.wait_policy()
        n, err, _, _ = self.start("e1")
        self.assertEqual(n, "backup_error")
        self.assertRegex(err["error"], r"^rsync failed: exit status (12|255): "
                         r".*Host key verification failed")
        self.assertFalse((dest / "srcA").exists())
        self.agent.terminate()

        # Unless the operator turns it off, which is logged.
        self.start_agent(self.env(self.peer, TMPDIR=self.tmp,
                                  BACKUP_SSH_IDENTITY_FILE=sshd.client_key,
                                  BACKUP_SSH_SKIP_HOST_KEY_CHECK="true"))
        self.wait_connects(self.peer, 4)
        self.wait_policy()
        self.agent.wait_log(r"WARN.*backup\.sshSkipHostKeyCheck is set", 5)
        n, done, _, _ = self.start("e1", timeout=120)
        self.assertEqual(n, "backup_complete", done)
        self.agent.wait_log(r"WARN.*backup e1: ssh host key not checked", 5)
        self.assertEqual((dest / "srcA/small.txt").read_text(), "small\n")


class PythonBackupTest(BackupCase, unittest.TestCase):
    peer_class = sp.PythonPeer


if __name__ == "__main__":
    unittest.main(verbosity=2)
