#!/usr/bin/python3
"""The job journal as docs/journal.md describes it, read by a second,
independent decoder (this file) from journals the real runner wrote: byte
layout, little-endian fields, the CRC-32, raw bytes kept (invalid UTF-8,
carriage returns), the 4096-byte split, the start and exit payloads."""

import os
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

RUNNER = h.BUILD_DIR / "exec-worker" / "nixfleet-agent-runner"
HDR = struct.Struct("<IIIBBHQQQ")     # 40 bytes
MAGIC = 0x314A464E                    # "NFJ1"
START, STDOUT, STDERR, EXIT = 1, 2, 3, 4
EOL = 1


def decode(data):
    """Every whole, valid record; stops at the first that is not."""
    recs, off, seq = [], 0, 0
    while off + HDR.size <= len(data):
        magic, plen, crc, typ, flags, rsv, rseq, mono, wall = \
            HDR.unpack_from(data, off)
        end = off + HDR.size + plen
        if magic != MAGIC or plen > 4096 or end > len(data):
            break
        rec = bytearray(data[off:end])
        rec[8:12] = b"\0\0\0\0"
        if zlib.crc32(bytes(rec)) != crc or rseq != seq or rsv != 0:
            break
        if typ not in (START, STDOUT, STDERR, EXIT) or flags & ~EOL:
            break
        recs.append(dict(type=typ, flags=flags, seq=rseq, mono=mono,
                         wall=wall, data=data[off + HDR.size:end]))
        off, seq = end, seq + 1
        if typ == EXIT:
            break
    return recs, off


class JournalFormatTest(unittest.TestCase):

    def setUp(self):
        if not os.access(RUNNER, os.X_OK):
            raise RuntimeError("not built: %s" % RUNNER)
        self.tmp = tempfile.TemporaryDirectory(prefix="nfa-runner.")
        self.job = Path(self.tmp.name) / "0000000001"
        self.job.mkdir()

    def tearDown(self):
        self.tmp.cleanup()

    def run_job(self, script, name="pull"):
        t0 = time.time()
        r = subprocess.run([str(RUNNER), "-n", name, str(self.job),
                            "sh", "-c", script], timeout=60)
        self.assertEqual(r.returncode, 0)
        data = (self.job / "journal").read_bytes()
        recs, used = decode(data)
        self.assertEqual(used, len(data), "trailing bytes in a clean journal")
        return recs, t0, time.time()

    def test_layout_and_payloads(self):
        recs, t0, t1 = self.run_job(
            r"printf 'caf\303\251 \377\376\r\n'; printf 'oops\n' >&2; "
            r"printf '\n'; head -c 5000 /dev/zero | tr '\0' b; printf 'end';"
            r" exit 42")
        types = [r["type"] for r in recs]
        self.assertEqual(types[0], START)
        self.assertEqual(types[-1], EXIT)
        self.assertEqual(sorted(r["seq"] for r in recs), list(range(len(recs))))

        runner_pid, child_pid, start_wall = struct.unpack_from("<IIQ",
                                                               recs[0]["data"])
        self.assertEqual(recs[0]["data"][16:], b"pull")
        self.assertGreater(child_pid, 0)
        self.assertNotEqual(runner_pid, child_pid)
        self.assertLessEqual(abs(start_wall / 1e9 - t0), 5)

        out = [r for r in recs if r["type"] == STDOUT]
        err = [r for r in recs if r["type"] == STDERR]
        # Raw bytes: UTF-8, invalid bytes and the \r, as written.
        self.assertEqual(out[0]["data"], b"caf\xc3\xa9 \xff\xfe\r")
        self.assertEqual(out[0]["flags"], EOL)
        self.assertEqual(out[1]["data"], b"")
        self.assertEqual(out[1]["flags"], EOL)
        # 5000 bytes then "end" without a newline: 4096 + 907, no EOL.
        self.assertEqual([len(r["data"]) for r in out[2:]], [4096, 907])
        self.assertEqual(out[3]["data"][-3:], b"end")
        self.assertTrue(all(r["flags"] == 0 for r in out[2:]))
        self.assertEqual([r["data"] for r in err], [b"oops"])
        self.assertEqual(err[0]["flags"], EOL)

        how, value, duration = struct.unpack("<IiQ", recs[-1]["data"])
        self.assertEqual((how, value), (1, 42))
        self.assertLess(duration / 1e9, t1 - t0 + 1)
        for a, b in zip(recs, recs[1:]):
            self.assertLessEqual(a["mono"], b["mono"])
        for r in recs:
            self.assertLessEqual(abs(r["wall"] / 1e9 - t0), t1 - t0 + 5)

    def test_signal_exit(self):
        recs, _, _ = self.run_job("kill -INT $$; sleep 5")
        how, value, _ = struct.unpack("<IiQ", recs[-1]["data"])
        self.assertEqual((how, value), (2, 2))

    def test_files_of_a_job_dir(self):
        self.run_job("true")
        # The runner leaves its journal and lock, nothing else.
        self.assertEqual(sorted(os.listdir(self.job)), ["journal", "lock"])


if __name__ == "__main__":
    h.main()
