"""Shared helpers for the integration tests: the real agent binaries
against the real peers in tests/peers/.

Environment: BUILD_DIR (default <src>/build), SRC_DIR (default: the tree
this file is in).  NIXFLEET_IT_KEEP=1 keeps each test's work directory.

Every process a test starts is stopped by the test (cleanups registered
when it starts), every wait is bounded.
"""

import ctypes
import hashlib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC_DIR = Path(os.environ.get("SRC_DIR") or HERE.parents[1])
BUILD_DIR = Path(os.environ.get("BUILD_DIR") or SRC_DIR / "build")
PEERS = SRC_DIR / "tests" / "peers"
sys.path.insert(0, str(SRC_DIR / "tests" / "lib"))

import certs as certlib  # noqa: E402

PYTHON = "/usr/bin/python3"
TOKEN = "test-token"
HOSTNAME = "test-host"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

AGENT = BUILD_DIR / "supervisor" / "nixfleet-agent"
NET_WORKER = BUILD_DIR / "net-worker" / "nixfleet-agent-net"
EXEC_WORKER = BUILD_DIR / "exec-worker" / "nixfleet-agent-exec"
NET_NAME = "nixfleet-agent-net"
EXEC_NAME = "nixfleet-agent-exec"


def project_version():
    text = (SRC_DIR / "meson.build").read_text()
    m = re.search(r"project\([^)]*?version\s*:\s*'([^']+)'", text, re.S)
    return m.group(1) if m else "0.1.0"


VERSION = project_version()


def require_agent():
    """Fail (never skip) when the binaries are not built."""
    missing = [str(p) for p in (AGENT, NET_WORKER, EXEC_WORKER)
               if not os.access(p, os.X_OK)]
    if missing:
        raise RuntimeError("not built: %s (set BUILD_DIR)" % ", ".join(missing))


def require_root():
    if os.geteuid() != 0:
        raise RuntimeError("this suite needs root (chroot, user switch)")


# ---------------------------------------------------------------- waiting

class Timeout(AssertionError):
    pass


def wait_for(pred, timeout, interval=0.05, what="condition"):
    """Poll pred() until it returns a true value (returned) or timeout s."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise Timeout("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)


def free_port(host="127.0.0.1"):
    """A port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def tail(text, n=40):
    lines = text.splitlines()
    return "\n".join(lines[-n:])


# ---------------------------------------------------------------- /proc

def proc_stat(pid):
    """(state, ppid, pgrp) from /proc/<pid>/stat, or None if gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    return rest[0], int(rest[1]), int(rest[2])


def proc_argv0(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return None
    return os.path.basename(argv[0].decode(errors="replace")) if argv else ""


def proc_status(pid):
    """/proc/<pid>/status as a dict of raw strings."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def alive(pid):
    st = proc_stat(pid)
    return st is not None and st[0] != "Z"


def all_pids():
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def children(pid):
    """[(child pid, basename of argv[0])] of a live process."""
    out = []
    for p in all_pids():
        st = proc_stat(p)
        if st and st[1] == pid and st[0] != "Z":
            out.append((p, proc_argv0(p)))
    return out


def descendants(pid):
    by_parent = {}
    for p in all_pids():
        st = proc_stat(p)
        if st:
            by_parent.setdefault(st[1], []).append(p)
    out, todo = [], [pid]
    while todo:
        for c in by_parent.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


_libc = ctypes.CDLL(None, use_errno=True)
SYS_pidfd_getfd = 438       # same number on x86_64 and the generic table


def pidfd_getfd(pid, fd):
    """Duplicate descriptor fd of process pid into this process."""
    pidfd = os.pidfd_open(pid)
    try:
        r = _libc.syscall(SYS_pidfd_getfd, pidfd, fd, 0)
        if r < 0:
            e = ctypes.get_errno()
            raise OSError(e, "pidfd_getfd(%d, %d): %s" % (pid, fd, os.strerror(e)))
        return r
    finally:
        os.close(pidfd)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def net_user():
    """The user the net-worker should run as (nixfleet-agent, else nobody)."""
    for name in ("nixfleet-agent", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
    raise RuntimeError("neither nixfleet-agent nor nobody exists")


def kill_tree(pid, pgid=None, timeout=5):
    """SIGTERM pid's tree (and process group), SIGKILL what is left after timeout."""
    pids = [pid] + descendants(pid)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for p in pids:
            try:
                os.kill(p, sig)
            except OSError:
                pass
        if pgid:
            try:
                os.killpg(pgid, sig)
            except OSError:
                pass
        deadline = time.monotonic() + (timeout if sig == signal.SIGTERM else 2)
        while time.monotonic() < deadline and any(alive(p) for p in pids):
            time.sleep(0.05)
        if not any(alive(p) for p in pids):
            return


# ---------------------------------------------------------------- files

class Work:
    """A test's work directory.  As root it lives under /run (root-owned
    ancestors, none world-writable), so a chroot directory inside it passes
    the strictest ownership check."""

    def __init__(self, name="t"):
        base = None
        if os.geteuid() == 0:
            base = "/run/nixfleet-it"
            os.makedirs(base, mode=0o755, exist_ok=True)
            os.chmod(base, 0o755)
        self.dir = Path(tempfile.mkdtemp(prefix=name + "-", dir=base))
        os.chmod(self.dir, 0o755)

    def path(self, *parts):
        return self.dir.joinpath(*parts)

    def mkdir(self, name, mode=0o700):
        p = self.path(name)
        p.mkdir(parents=True, exist_ok=True)
        os.chmod(p, mode)
        return p

    def write(self, name, text, mode=0o600):
        p = self.path(name)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        os.chmod(p, mode)
        return p

    def privsep_dir(self):
        """An empty root-owned 0755 directory for the net-worker's chroot."""
        p = self.mkdir("empty", 0o755)
        if os.geteuid() == 0:
            os.chown(p, 0, 0)
        return p

    def cleanup(self):
        if os.environ.get("NIXFLEET_IT_KEEP"):
            print("kept %s" % self.dir, file=sys.stderr)
            return
        shutil.rmtree(self.dir, ignore_errors=True)


GIT_ENV = {"PATH": PATH, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null",
           "HOME": "/nonexistent", "GIT_AUTHOR_NAME": "test",
           "GIT_AUTHOR_EMAIL": "test@example.invalid", "GIT_COMMITTER_NAME": "test",
           "GIT_COMMITTER_EMAIL": "test@example.invalid", "LC_ALL": "C"}


def git(repo, *args):
    p = subprocess.run(["git", "-C", str(repo)] + list(args), env=GIT_ENV,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    if p.returncode != 0:
        raise RuntimeError("git %s: %s" % (" ".join(args), p.stderr.decode()))
    return p.stdout.decode().strip()


def make_repo(path):
    """A git repository on branch main with one commit (flake.lock included)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    (path / "flake.nix").write_text("{ outputs = _: { }; }\n")
    (path / "flake.lock").write_text('{"nodes": {}, "root": "root", "version": 7}\n')
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return path


def commit(repo, name="file.txt", text=None):
    (Path(repo) / name).write_text(text or ("%f\n" % time.time()))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "change " + name)
    return head7(repo)


def head7(repo):
    """Generation as the spec defines it: first 7 hex digits of HEAD."""
    return git(repo, "rev-parse", "HEAD")[:7]


# ---------------------------------------------------------------- records

def read_records(path):
    """The JSON lines of a record file (a half-written last line is left out)."""
    out = []
    try:
        with open(path) as f:
            data = f.read()
    except FileNotFoundError:
        return out
    for line in data.split("\n")[:-1]:
        if line.strip():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def msg_type(rec):
    d = rec.get("data")
    return d.get("type") if isinstance(d, dict) else None


def header(headers, name):
    """Case-insensitive header lookup in a recorded headers dict."""
    for k, v in (headers or {}).items():
        if k.lower() == name.lower():
            return v
    return None


class _Peer:
    """A peer process whose stdout starts with `LISTENING port=N ...`."""

    script = None
    name = "peer"

    def __init__(self, work, args=(), netns=None, name=None):
        self.work = work
        self.name = name or self.name
        self.extra = list(args)
        self.netns = netns
        self.record_path = work.path(self.name + ".record")
        self.out_path = work.path(self.name + ".out")
        self.proc = None
        self.port = None
        self.info = {}

    def command(self, port):
        raise NotImplementedError

    def start(self, port=None, timeout=15):
        if port is None:
            port = self.port or 0
        cmd = [PYTHON, str(PEERS / self.script)] + self.command(port) + self.extra
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns] + cmd
        out = open(self.out_path, "a")
        start_off = out.tell()
        try:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, env={"PATH": PATH, "PYTHONDONTWRITEBYTECODE": "1"})
        finally:
            out.close()

        def listening():
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited %s:\n%s" % (
                    self.name, self.proc.returncode, self.output()))
            with open(self.out_path) as f:
                f.seek(start_off)
                for line in f:
                    if line.startswith("LISTENING "):
                        return dict(kv.split("=", 1) for kv in line.split()[1:])
            return None
        self.info = wait_for(listening, timeout, what=self.name + " to listen")
        self.port = int(self.info["port"])
        return self

    def output(self):
        try:
            return self.out_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def records(self, event=None):
        recs = read_records(self.record_path)
        if event:
            recs = [r for r in recs if r.get("event") == event]
        return recs

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=5):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except OSError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        kill_tree(self.proc.pid, self.proc.pid, timeout=1)
        try:
            self.proc.wait(3)
        except subprocess.TimeoutExpired:
            pass
        self.proc = None


class Dashboard(_Peer):
    """tests/peers/dashboard.py.  tls: a leaf name from the Certs set
    ("server", "expired", ...) or None for ws://."""

    script = "dashboard.py"
    name = "dashboard"

    def __init__(self, work, certs=None, tls=None, token=TOKEN, hosts=None,
                 args=(), netns=None, name=None):
        super().__init__(work, args, netns, name)
        self.certs = certs
        self.tls = tls
        self.token = token
        self.hosts = hosts or ["127.0.0.1"]

    def command(self, port):
        a = ["--port", str(port), "--control-port", "0",
             "--record", str(self.record_path)]
        for h in self.hosts:
            a += ["--host", h]
        if self.tls:
            cert, key = self.certs.pair(self.tls)
            a += ["--cert", cert, "--key", key]
        if self.token is not None:
            a += ["--token", self.token]
        return a

    @property
    def scheme(self):
        return "wss" if self.tls else "ws"

    def url(self, host=None, path="/ws"):
        if host is None:
            host = "localhost" if self.tls else "127.0.0.1"
        return "%s://%s:%d%s" % (self.scheme, host, self.port, path)

    def control(self, line, timeout=10):
        """One control command; returns the parsed reply."""
        with socket.create_connection(("127.0.0.1", int(self.info["control"])),
                                      timeout=timeout) as s:
            s.sendall(line.encode() + b"\n")
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                buf += chunk
        return json.loads(buf.decode())

    def messages(self, type=None, conn=None, since=0.0):
        out = []
        for r in self.records("message"):
            if r["t"] < since:
                continue
            if conn is not None and r.get("conn") != conn:
                continue
            if type is not None and msg_type(r) != type:
                continue
            out.append(r)
        return out

    def connects(self, since=0.0):
        return [r for r in self.records("connect") if r["t"] >= since]

    def closes(self, conn=None):
        return [r for r in self.records("close")
                if conn is None or r.get("conn") == conn]

    def restart(self, timeout=15):
        """Stop and start again on the same port (the record file goes on)."""
        port = self.port
        self.stop()
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.start(port=port)
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


class Proxy(_Peer):
    script = "connect_proxy.py"
    name = "proxy"

    def __init__(self, work, auth=None, args=(), netns=None, name=None):
        super().__init__(work, args, netns, name)
        self.auth = auth

    def command(self, port):
        a = ["--port", str(port), "--record", str(self.record_path)]
        if self.auth:
            a += ["--auth", self.auth]
        return a


class KeySource(_Peer):
    """tests/peers/keysource.py: GET <prefix>/<user>.keys over HTTPS from
    the files of keys_dir, with the leaf cert of the Certs set."""

    script = "keysource.py"
    name = "keysource"

    def __init__(self, work, certs, keys_dir, cert="server", prefix="",
                 args=(), name=None):
        super().__init__(work, args, None, name)
        self.certs = certs
        self.keys_dir = keys_dir
        self.cert = cert
        self.prefix = prefix

    def command(self, port):
        cert, key = self.certs.pair(self.cert)
        return ["--port", str(port), "--cert", cert, "--key", key,
                "--dir", str(self.keys_dir), "--prefix", self.prefix,
                "--record", str(self.record_path)]

    def url(self, host="localhost"):
        return "https://%s:%d%s" % (host, self.port, self.prefix)


class NetNs:
    """A network namespace with only lo, holding 127.0.0.1 and a
    non-loopback address (default 10.200.0.1/24) that exists nowhere
    else: traffic to it never leaves the namespace."""

    def __init__(self, addr="10.200.0.1/24"):
        self.name = "nfit-%d-%d" % (os.getpid(), int(time.monotonic() * 1000) % 10**7)
        self.addr = addr
        self.ip = addr.split("/")[0]

    def _ip(self, *args):
        subprocess.run(["ip"] + list(args), check=True, timeout=30,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def create(self):
        self._ip("netns", "add", self.name)
        try:
            self._ip("-n", self.name, "link", "set", "lo", "up")
            self._ip("-n", self.name, "addr", "add", self.addr, "dev", "lo")
        except subprocess.CalledProcessError:
            self.delete()
            raise
        return self

    def delete(self):
        subprocess.run(["ip", "netns", "del", self.name], timeout=30,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# ---------------------------------------------------------------- the agent

class Agent:
    """The supervisor binary, started with a clean environment: PATH plus
    the settings given.  stderr (the log) and stdout go to files."""

    def __init__(self, work, env, args=(), netns=None, name="agent", binary=None):
        self.work = work
        self.env = dict(env)
        self.args = list(args)
        self.netns = netns
        self.name = name
        self.binary = str(binary or AGENT)
        self.err_path = work.path(name + ".stderr")
        self.out_path = work.path(name + ".stdout")
        self.proc = None
        self.started = None
        self.returncode = None

    def start(self):
        cmd = [self.binary] + self.args
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns] + cmd
        with open(self.err_path, "ab") as err, open(self.out_path, "ab") as out:
            self.proc = subprocess.Popen(
                cmd, env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                start_new_session=True, cwd=str(self.work.dir))
        self.started = time.time()
        return self

    @property
    def pid(self):
        return self.proc.pid

    def log(self):
        try:
            return self.err_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stdout(self):
        try:
            return self.out_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_matches(self, pattern, start=0):
        return list(re.finditer(pattern, self.log()[start:], re.I | re.M))

    def wait_log(self, pattern, timeout, start=0, count=1):
        """Wait until pattern (regex, case-insensitive) matched count times
        in the log after offset start; returns the last match."""
        def found():
            m = self.log_matches(pattern, start)
            return m[count - 1] if len(m) >= count else None
        return wait_for(found, timeout, what="agent log /%s/ x%d" % (pattern, count))

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def workers(self):
        """{"net": pid, "exec": pid} among the supervisor's live children."""
        out = {}
        for pid, name in children(self.pid):
            if name == NET_NAME:
                out["net"] = pid
            elif name == EXEC_NAME:
                out["exec"] = pid
        return out

    def wait_workers(self, timeout=5, exclude=()):
        """Wait for both workers (none of them in exclude); returns the dict."""
        def both():
            w = self.workers()
            if "net" in w and "exec" in w and not set(w.values()) & set(exclude):
                return w
            return None
        return wait_for(both, timeout, what="both worker processes")

    def signal(self, sig):
        os.kill(self.pid, sig)

    def wait_exit(self, timeout):
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def terminate(self, timeout=5):
        """SIGTERM; returns (exit status or None, seconds taken)."""
        t0 = time.monotonic()
        self.signal(signal.SIGTERM)
        rc = self.wait_exit(timeout)
        return rc, time.monotonic() - t0

    def cleanup(self):
        if self.proc is None:
            return
        kill_tree(self.proc.pid, self.proc.pid if self.running() else None, timeout=5)
        try:
            self.proc.wait(3)
        except subprocess.TimeoutExpired:
            pass


def run_agent(args, env=None, timeout=30, binary=None):
    """Run the supervisor to completion (--version, --check, ...); returns
    an object with returncode, out, err.  On timeout everything it started
    is killed and Timeout raised."""
    e = {"PATH": PATH}
    if env:
        e.update(env)
    p = subprocess.Popen([str(binary or AGENT)] + list(args), env=e,
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_tree(p.pid, p.pid, timeout=1)
        p.communicate(timeout=5)
        raise Timeout("%s %s still running after %d s" % (
            binary or AGENT, " ".join(args), timeout)) from None
    finally:
        if p.returncode is not None:
            try:
                os.killpg(p.pid, signal.SIGKILL)   # stray workers, if any
            except OSError:
                pass
    p.out = out.decode(errors="replace")
    p.err = err.decode(errors="replace")
    return p


# ---------------------------------------------------------------- test base

class AgentTestCase(unittest.TestCase):
    """Per test: a work directory, a git repository, and helpers that
    register a cleanup for everything they start."""

    certs = None            # set by set_up_certs() in setUpClass
    _certs_work = None

    @classmethod
    def set_up_certs(cls):
        cls._certs_work = Work("certs")
        cls.certs = certlib.make_certs(cls._certs_work.path("certs"))

    @classmethod
    def tearDownClass(cls):
        if cls._certs_work:
            cls._certs_work.cleanup()

    def setUp(self):
        self.work = Work(self.id().split(".")[-1][:40])
        self.addCleanup(self.work.cleanup)
        self.repo = make_repo(self.work.path("repo"))
        self.agents = []
        self.peers = []

    def start_dashboard(self, tls=None, token=TOKEN, **kw):
        d = Dashboard(self.work, certs=self.certs, tls=tls, token=token, **kw)
        self.addCleanup(d.stop)
        self.peers.append(d)
        return d.start()

    def start_proxy(self, **kw):
        p = Proxy(self.work, **kw)
        self.addCleanup(p.stop)
        self.peers.append(p)
        return p.start()

    def agent_env(self, url, **over):
        """The usual environment (§7 harness: interval 1, hostname
        test-host, a git repository with one commit); over: NAME=value to
        add, NAME=None to leave out."""
        env = {
            "PATH": PATH,
            "NIXFLEET_TOKEN": TOKEN,
            "NIXFLEET_REPO_DIR": str(self.repo),
            "NIXFLEET_HOSTNAME": HOSTNAME,
            "NIXFLEET_INTERVAL": "1",
            "NIXFLEET_STATE_DIR": str(self.work.mkdir("state")),
            "NIXFLEET_PRIVSEP_DIR": str(self.work.privsep_dir()),
            "NIXFLEET_LOG_LEVEL": "debug",
            # Hermetic metrics: no StaSysMo unless a test makes one.
            "NIXFLEET_STASYSMO_DIR": str(self.work.path("no-stasysmo")),
        }
        if url is not None:
            env["NIXFLEET_URL"] = url
        if self.certs is not None:
            env["NIXFLEET_CA_FILE"] = self.certs.ca
        for k, v in over.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = str(v)
        return env

    def netns(self, addr="10.200.0.1/24"):
        ns = NetNs(addr).create()
        self.addCleanup(ns.delete)
        return ns

    def start_agent(self, env, args=(), **kw):
        a = Agent(self.work, env, args, name="agent%d" % len(self.agents), **kw)
        self.addCleanup(a.cleanup)
        self.agents.append(a)
        return a.start()

    # Diagnostics for failure messages.
    def context(self):
        parts = []
        for a in self.agents:
            parts.append("--- %s log (last lines):\n%s" % (a.name, tail(a.log(), 40)))
        for p in self.peers:
            parts.append("--- %s events (last):\n%s" % (
                p.name, tail("\n".join(json.dumps(r)[:300] for r in p.records()), 15)))
        return "\n".join(parts)

    def wait(self, pred, timeout, what="condition", interval=0.05):
        try:
            return wait_for(pred, timeout, interval, what)
        except Timeout as e:
            raise AssertionError("%s\n%s" % (e, self.context())) from None

    def wait_log(self, agent, pattern, timeout, start=0, count=1):
        try:
            return agent.wait_log(pattern, timeout, start, count)
        except Timeout as e:
            raise AssertionError("%s\n%s" % (e, self.context())) from None

    def wait_message(self, dash, type, timeout, count=1, conn=None, since=0.0):
        """Wait for count messages of that type; returns them all."""
        def got():
            m = dash.messages(type, conn=conn, since=since)
            return m if len(m) >= count else None
        return self.wait(got, timeout, "%d '%s' message(s)" % (count, type))

    def wait_connects(self, dash, count, timeout):
        def got():
            c = dash.records("connect")
            return c if len(c) >= count else None
        return self.wait(got, timeout, "%d connection(s) to the dashboard" % count)


def main():
    """unittest's runner, plus a closing `N passed, N failed` line; exits
    non-zero when anything failed or erred."""
    prog = unittest.TestProgram(module="__main__", exit=False, verbosity=2)
    r = prog.result
    bad = len(r.failures) + len(r.errors) + len(r.unexpectedSuccesses)
    passed = r.testsRun - bad - len(r.skipped) - len(r.expectedFailures)
    print("%d passed, %d failed" % (passed, bad))
    sys.exit(1 if bad or r.skipped or r.testsRun == 0 else 0)

