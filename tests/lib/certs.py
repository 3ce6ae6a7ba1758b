#!/usr/bin/python3
"""Test certificates, made with the openssl command at test time.

make_certs(dir) writes, under dir:

  ca.pem ca.key                 test CA ("nixfleet test CA")
  server.pem server.key         localhost, SAN DNS:localhost + IP:127.0.0.1, signed by the CA
  wrongname.pem wrongname.key   SAN DNS:wrong.example.test only, signed by the CA
  expired.pem expired.key       like server, but valid 2020-01-01 .. 2020-02-01 only
  selfsigned.pem selfsigned.key localhost, self-signed (not a CA the agent knows)
  other-ca.pem other-ca.key     a second CA the agent is never told about
  otherca.pem otherca.key       localhost, signed by the second CA

and returns a Certs object with the paths.  Leaf certificates are signed
with `openssl ca`, which (unlike `openssl x509 -req` in OpenSSL 3.0) takes
an explicit -startdate/-enddate: that is how the expired one is made.

Run as a script (`certs.py DIR`) it writes the set and checks each
certificate with `openssl verify` (selftest()).
"""

import base64
import hashlib
import os
import subprocess
import sys
from pathlib import Path

OPENSSL = "openssl"

CA_EXT = """\
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
"""

LEAF_EXT = """\
[v3_leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = {san}
"""

CA_CONF = """\
[ca]
default_ca = ca_default

[ca_default]
dir = {dir}
database = {dir}/index.txt
new_certs_dir = {dir}/newcerts
serial = {dir}/serial
default_md = sha256
policy = policy_any
unique_subject = no
email_in_dn = no
copy_extensions = none

[policy_any]
commonName = supplied
organizationName = optional
"""

LOCALHOST_SAN = "DNS:localhost, IP:127.0.0.1"


def _run(*args, **kw):
    p = subprocess.run(list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60, **kw)
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (
            " ".join(map(str, args)), p.returncode,
            p.stderr.decode(errors="replace")))
    return p.stdout


def _genkey(path):
    _run(OPENSSL, "genpkey", "-algorithm", "RSA",
         "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(path))
    os.chmod(path, 0o600)


class Certs:
    """Paths of one generated set; attribute names follow the file names."""

    def __init__(self, d):
        self.dir = Path(d)

    def pem(self, name):
        return str(self.dir / (name + ".pem"))

    def key(self, name):
        return str(self.dir / (name + ".key"))

    @property
    def ca(self):
        return self.pem("ca")

    @property
    def other_ca(self):
        return self.pem("other-ca")

    def pair(self, name):
        """(cert, key) for a leaf: server, wrongname, expired, selfsigned, otherca."""
        return self.pem(name), self.key(name)


def _make_ca(d, name, cn):
    d = Path(d)
    _genkey(d / (name + ".key"))
    ext = d / (name + "-ext.cnf")
    ext.write_text(CA_EXT)
    _run(OPENSSL, "req", "-x509", "-new", "-key", str(d / (name + ".key")),
         "-subj", "/O=nixfleet tests/CN=" + cn, "-days", "3650",
         "-sha256", "-config", str(ext), "-extensions", "v3_ca",
         "-out", str(d / (name + ".pem")))
    db = d / (name + "-db")
    (db / "newcerts").mkdir(parents=True, exist_ok=True)
    (db / "index.txt").write_text("")
    (db / "serial").write_text("1000\n")
    (db / "ca.cnf").write_text(CA_CONF.format(dir=db))


def _make_leaf(d, name, ca, cn, san, startdate, enddate):
    d = Path(d)
    key = d / (name + ".key")
    _genkey(key)
    csr = d / (name + ".csr")
    _run(OPENSSL, "req", "-new", "-key", str(key),
         "-subj", "/O=nixfleet tests/CN=" + cn, "-out", str(csr))
    ext = d / (name + "-ext.cnf")
    ext.write_text(LEAF_EXT.format(san=san))
    db = d / (ca + "-db")
    _run(OPENSSL, "ca", "-batch", "-notext", "-config", str(db / "ca.cnf"),
         "-cert", str(d / (ca + ".pem")), "-keyfile", str(d / (ca + ".key")),
         "-in", str(csr), "-out", str(d / (name + ".pem")),
         "-startdate", startdate, "-enddate", enddate,
         "-extfile", str(ext), "-extensions", "v3_leaf")


def _make_selfsigned(d, name, cn, san):
    d = Path(d)
    key = d / (name + ".key")
    _genkey(key)
    _run(OPENSSL, "req", "-x509", "-new", "-key", str(key),
         "-subj", "/O=nixfleet tests/CN=" + cn, "-days", "30", "-sha256",
         "-addext", "subjectAltName=" + san,
         "-addext", "basicConstraints=critical,CA:FALSE",
         "-addext", "extendedKeyUsage=serverAuth",
         "-out", str(d / (name + ".pem")))


def _gmt(offset_days):
    """openssl ca date (YYYYMMDDHHMMSSZ), offset_days from now."""
    import datetime
    t = datetime.datetime.now(datetime.timezone.utc) + \
        datetime.timedelta(days=offset_days)
    return t.strftime("%Y%m%d%H%M%SZ")


def make_certs(d):
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    _make_ca(d, "ca", "nixfleet test CA")
    _make_ca(d, "other-ca", "some other CA")
    # Valid from yesterday, so a slightly slow clock does not matter.
    _make_leaf(d, "server", "ca", "localhost", LOCALHOST_SAN,
               _gmt(-1), _gmt(30))
    _make_leaf(d, "wrongname", "ca", "wrong.example.test",
               "DNS:wrong.example.test", _gmt(-1), _gmt(30))
    _make_leaf(d, "expired", "ca", "localhost", LOCALHOST_SAN,
               "20200101000000Z", "20200201000000Z")
    _make_leaf(d, "otherca", "other-ca", "localhost", LOCALHOST_SAN,
               _gmt(-1), _gmt(30))
    _make_selfsigned(d, "selfsigned", "localhost", LOCALHOST_SAN)
    return Certs(d)


def spki_sha256(cert_pem):
    """SHA-256 of the certificate's DER SubjectPublicKeyInfo (raw bytes)."""
    pub = _run(OPENSSL, "x509", "-in", str(cert_pem), "-pubkey", "-noout")
    der = _run(OPENSSL, "pkey", "-pubin", "-outform", "DER", input=pub)
    return hashlib.sha256(der).digest()


def pin_b64(cert_pem):
    """The pin as `sha256//<base64>` (NIXFLEET_PINNED_PUBKEY form)."""
    return "sha256//" + base64.b64encode(spki_sha256(cert_pem)).decode()


def pin_hex(cert_pem):
    """The pin as 64 hex digits (the other NIXFLEET_PINNED_PUBKEY form)."""
    return spki_sha256(cert_pem).hex()


def verify(cafile, cert_pem, hostname=None):
    """Run `openssl verify`; return (ok, output)."""
    args = [OPENSSL, "verify", "-CAfile", str(cafile)]
    if hostname:
        args += ["-verify_hostname", hostname]
    args.append(str(cert_pem))
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=30)
    return p.returncode == 0, p.stdout.decode(errors="replace")


def selftest(c):
    """Each certificate is what its name says; raises AssertionError if not."""
    checks = [
        ("server", c.ca, "localhost", True, None),
        ("wrongname", c.ca, None, True, None),
        ("wrongname", c.ca, "localhost", False, "hostname mismatch"),
        ("expired", c.ca, "localhost", False, "certificate has expired"),
        ("selfsigned", c.ca, "localhost", False, "self-signed certificate"),
        ("otherca", c.ca, "localhost", False,
         "unable to get local issuer certificate"),
        ("otherca", c.other_ca, "localhost", True, None),
    ]
    for name, ca, host, want_ok, want_text in checks:
        ok, out = verify(ca, c.pem(name), host)
        assert ok == want_ok, "%s: openssl verify gave %s: %s" % (name, ok, out)
        if want_text:
            assert want_text in out, "%s: %r not in %r" % (name, want_text, out)
    # The IP SAN is there too (the dashboard may be dialled as 127.0.0.1).
    p = subprocess.run([OPENSSL, "verify", "-CAfile", c.ca, "-verify_ip",
                        "127.0.0.1", c.pem("server")],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert p.returncode == 0, p.stdout
    # Two different keys give two different pins.
    assert pin_b64(c.pem("server")) != pin_b64(c.pem("otherca"))
    return True


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: certs.py OUTDIR")
    certs = make_certs(sys.argv[1])
    selftest(certs)
    for n in ("server", "wrongname", "expired", "selfsigned", "otherca"):
        print("%-11s %s  pin %s" % (n, certs.pem(n), pin_b64(certs.pem(n))))
    print("ca          %s" % certs.ca)
