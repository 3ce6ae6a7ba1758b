#!/usr/bin/python3
"""A real OpenSSH server on a loopback port, for the integration tests.

    with Sshd(workdir) as sshd:
        sshd.port             the port it listens on (127.0.0.1 only)
        sshd.client_key       a private ed25519 key (mode 0600) it accepts
        sshd.known_hosts      a known_hosts file naming its host key for
                              [127.0.0.1]:port
        sshd.ssh_argv(user)   ssh argv with that key and known_hosts, host
                              key checking on
        sshd.url(path, user)  ssh://user@127.0.0.1:port/path, for git
        sshd.log              its log (sshd -e), for failure messages

Every user may log in with the client key (AuthorizedKeysFile points into
workdir, StrictModes off so workdir's modes do not matter); passwords and
keyboard-interactive are off.  chown_key(uid, gid) hands the key to the
user a test runs ssh as (ssh refuses a key another user owns).

It needs root (sshd's privilege separation) and /usr/sbin/sshd from
openssh-server, which scripts/deps.sh installs.  The server is stopped by
close() / the with block; start() waits at most 10 s for it to listen.
"""

import os
import socket
import subprocess
import time
from pathlib import Path

SSHD = "/usr/sbin/sshd"
SSH_KEYGEN = "ssh-keygen"


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Sshd:
    def __init__(self, workdir):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.host_key = self.dir / "ssh_host_ed25519_key"
        self.client_key = self.dir / "client_ed25519"
        self.authorized = self.dir / "authorized_keys"
        self.known_hosts = self.dir / "known_hosts"
        self.config = self.dir / "sshd_config"
        self.log = self.dir / "sshd.log"
        self.port = None
        self.proc = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def _keygen(self, path, comment):
        if not path.exists():
            subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "",
                            "-C", comment, "-f", str(path)], check=True)

    def start(self):
        if not os.access(SSHD, os.X_OK):
            raise RuntimeError(SSHD + " missing: run scripts/deps.sh")
        self._keygen(self.host_key, "nixfleet-test-host")
        self._keygen(self.client_key, "nixfleet-test-client")
        self.authorized.write_text(
            Path(str(self.client_key) + ".pub").read_text())
        # sshd's privilege separation directory; Debian's unit makes it.
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        for attempt in range(5):
            self.port = _free_port()
            self._write_config()
            if self._spawn():
                break
        else:
            raise RuntimeError("sshd did not start: " + self.log_text())
        pub = Path(str(self.host_key) + ".pub").read_text().split()
        self.known_hosts.write_text(
            "[127.0.0.1]:%d %s %s\n" % (self.port, pub[0], pub[1]))
        return self

    def _write_config(self):
        self.config.write_text("\n".join([
            "Port %d" % self.port,
            "ListenAddress 127.0.0.1",
            "HostKey %s" % self.host_key,
            "PidFile %s" % (self.dir / "sshd.pid"),
            "AuthorizedKeysFile %s" % self.authorized,
            "StrictModes no",
            "UsePAM no",
            "PermitRootLogin prohibit-password",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes",
            "AllowTcpForwarding no",
            "X11Forwarding no",
            "PrintMotd no",
            "LogLevel VERBOSE",
            "Subsystem sftp internal-sftp",
            "",
        ]))

    def _spawn(self):
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(self.config)],
            stdin=subprocess.DEVNULL, stdout=logf, stderr=logf)
        logf.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                return False
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.5).close()
                return True
            except OSError:
                time.sleep(0.05)
        self.close()
        return False

    def chown_key(self, uid, gid):
        os.chown(self.client_key, uid, gid)

    def ssh_argv(self, user="root"):
        return ["ssh", "-i", str(self.client_key), "-p", str(self.port),
                "-o", "UserKnownHostsFile=%s" % self.known_hosts,
                "-o", "StrictHostKeyChecking=yes",
                "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
                "-l", user, "127.0.0.1"]

    def url(self, path, user="root"):
        return "ssh://%s@127.0.0.1:%d%s" % (user, self.port, path)

    def log_text(self):
        try:
            return self.log.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def close(self):
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None


if __name__ == "__main__":
    # Self-test: start it, run a command over ssh, stop it.
    import sys
    import tempfile
    with tempfile.TemporaryDirectory() as d, Sshd(d) as s:
        out = subprocess.run(s.ssh_argv() + ["echo", "ok"],
                             capture_output=True, text=True, timeout=20)
        if out.stdout.strip() != "ok":
            sys.exit("ssh failed: %s\n%s" % (out.stderr, s.log_text()))
        print("sshd on port %d: ok" % s.port)
