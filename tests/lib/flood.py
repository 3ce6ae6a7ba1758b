"""The job that floods: a host test script writing numbered 100-byte
lines, "<9-digit number> x...x\\n", in 64 KiB writes, for the bounded-
memory test (tests/integration/test_flood.py) and the benchmark
(tests/bench/bench_jobs.py).  When done it writes a JSON side file:
t0/t1 (wall clock around the writes), secs (monotonic) and cpu (its own
user + system seconds)."""

LINE = 100

SCRIPT = r'''#!/usr/bin/python3
import json, resource, sys, time
n = %(lines)d
pad = b"x" * 89
t0, m0 = time.time(), time.monotonic()
out = sys.stdout.buffer
chunk = []
for i in range(n):
    chunk.append(b"%%09d %%s\n" %% (i, pad))
    if len(chunk) == 640:
        out.write(b"".join(chunk))
        chunk = []
out.write(b"".join(chunk))
out.flush()
t1, secs = time.time(), time.monotonic() - m0
ru = resource.getrusage(resource.RUSAGE_SELF)
with open(%(side)r, "w") as f:
    json.dump({"t0": t0, "t1": t1, "secs": secs,
               "cpu": ru.ru_utime + ru.ru_stime}, f)
'''


def script(lines, side):
    """The script's text: lines lines, the side file at side."""
    return SCRIPT % {"lines": lines, "side": str(side)}
