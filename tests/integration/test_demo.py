#!/usr/bin/python3
"""The README's main command, `./scripts/demo.sh`, run as a user would
(on the build under test, DEMO_BUILD_DIR): it must end by itself within
its bound, show the pull's status, the per-test progress, stderr marked
`!` and the test's final status in its readable view, print parseable
JSON lines with --json, show the socketio session through the same view
with --socketio, and leave no process or directory behind."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

DEMO = h.SRC_DIR / "scripts" / "demo.sh"
BOUND = 300     # seconds: above the demo's own bounds; it takes about 10


class DemoTest(h.unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        h.require_agent()

    def run_demo(self, *args, **env_over):
        env = dict(os.environ, DEMO_BUILD_DIR=str(h.BUILD_DIR), **env_over)
        env.pop("NO_COLOR", None)
        p = subprocess.Popen([str(DEMO), *args], cwd=h.SRC_DIR, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, start_new_session=True)
        t = time.monotonic()
        try:
            out, err = p.communicate(timeout=BOUND)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGTERM)
            out, err = p.communicate(timeout=30)
            self.fail("demo %s still running after %d s:\n%s\n%s" % (
                " ".join(args), BOUND, h.tail(out), h.tail(err)))
        took = time.monotonic() - t
        self.assertEqual(p.returncode, 0, "demo %s failed:\n%s\n%s" % (
            " ".join(args), h.tail(out), h.tail(err)))
        self.check_stopped(out + err)
        return out, err, took

    def check_stopped(self, text):
        """Everything the demo started has stopped, its directory is gone."""
        m = re.search(r"(/tmp/nixfleet-demo\.[A-Za-z0-9]+)", text)
        self.assertIsNotNone(m, "no work directory named:\n" + h.tail(text))
        work = m.group(1)
        self.assertFalse(os.path.exists(work), work)
        left = []
        for pid in h.all_pids():
            try:
                argv = Path("/proc/%d/cmdline" % pid).read_bytes()
                env = Path("/proc/%d/environ" % pid).read_bytes()
            except OSError:
                continue
            if work.encode() in argv or work.encode() in env:
                left.append((pid, argv.replace(b"\0", b" ")))
        self.assertEqual(left, [])

    def test_readable(self):
        out, _, took = self.run_demo()
        lines = out.splitlines()
        print("demo: %.1f s, %d lines" % (took, len(lines)))

        def index(pattern):
            for i, ln in enumerate(lines):
                if re.search(pattern, ln):
                    return i
            self.fail("no line matching %r in:\n%s" % (pattern, out))

        hb_first = index(r"> heartbeat #1 +generation \w{7} \| cpu [\d.]+% "
                         r"ram [\d.]+% load [\d.]+ \| lock \S+ +system \S+ "
                         r"+tests \S+")
        cmd_pull = index(r"< command pull$")
        pull = index(r"= pull: ok \(exit 0\)$")
        # The pull brought the pushed commit: a new generation, and the
        # system compartment outdated, in a later state line.
        gen0 = re.search(r"generation (\w{7})", lines[hb_first]).group(1)
        after_pull = [ln for ln in lines[pull:] if "> heartbeat #" in ln]
        self.assertTrue(after_pull, out)
        self.assertNotIn(gen0, after_pull[-1])
        self.assertIn("system outdated", after_pull[-1])
        cmd_test = index(r"< command test$")
        skipped = index(r"^\S+ +\| ⏭ 30-manual\.sh skipped \(not executable\)$")
        p1 = index(r"\[1/3\] running, 0 passed so far$")
        p2 = index(r"\[2/3\] running, 1 passed so far$")
        p3 = index(r"\[3/3\] running, 2 passed so far$")
        kernel = index(r"\| kernel Linux ")     # the pushed test ran
        stderr = index(r"^\S+ +! demo-nas: no route to host ")
        failed = index(r"! ❌ 20-backup\.sh failed \(exit 2\)$")
        done = index(r"\[3/3\] done: 2/3 passed$")
        status = index(r"= test: error \(exit 1\): 2/3 passed; "
                       r"failed: 20-backup\.sh$")
        self.assertEqual(
            sorted([hb_first, cmd_pull, pull, cmd_test, skipped, p1, p2,
                    kernel, p3, stderr, failed, done, status]),
            [hb_first, cmd_pull, pull, cmd_test, skipped, p1, p2, kernel,
             p3, stderr, failed, done, status], out)
        # stdout lines are never marked as stderr, and no raw frames.
        self.assertFalse([ln for ln in lines if re.search(r"! (▶|✅|flake)", ln)])
        self.assertFalse([ln for ln in lines if ln.lstrip().startswith("{")])
        # The last state line shows the failed tests; the close is seen.
        hbs = [ln for ln in lines[status:] if "> heartbeat #" in ln]
        self.assertTrue(hbs and "tests error" in hbs[-1], out)
        index(r"closed: 1000 shutdown$")
        # Not a terminal: no colour.
        self.assertNotIn("\033[", out)

    def test_json(self):
        out, err, _ = self.run_demo("--json")
        frames = []
        for ln in out.splitlines():
            try:
                frames.append(json.loads(ln))
            except ValueError:
                self.fail("not JSON: %r" % ln)
        types = [f.get("type") for f in frames]
        for t in ("register", "registered", "heartbeat", "command",
                  "output", "operation_progress", "test_progress", "status"):
            self.assertIn(t, types)
        cmds = [f["payload"]["command"] for f in frames
                if f.get("type") == "command"]
        self.assertEqual(cmds, ["pull", "test"])
        st = {f["payload"]["command"]: f["payload"] for f in frames
              if f.get("type") == "status"}
        self.assertEqual((st["pull"]["status"], st["pull"]["exit_code"]),
                         ("ok", 0))
        self.assertEqual(st["test"]["message"],
                         "2/3 passed; failed: 20-backup.sh")
        errs = [f["payload"]["line"] for f in frames
                if f.get("type") == "output" and f["payload"].get("is_error")]
        self.assertIn("demo-nas: no route to host (this test fails on "
                      "purpose)", errs)
        tp = [f["payload"] for f in frames if f.get("type") == "test_progress"]
        self.assertEqual(tp[-1]["result"], "2/3 passed")
        # The narration went to stderr.
        self.assertIn("== the dashboard sends test", err)

    def test_socketio(self):
        """The other dialect through the same view (--socketio), for a
        bounded time: the handshake, stats, an allowed and a refused
        admin command, the PTY session."""
        out, err, _ = self.run_demo("--socketio", DEMO_SECONDS="3")
        for pat in (r"GET /socket\.io/ clientId=demo-host ts=\d+ sig=\w+\.\.\. "
                    r"\(HMAC checked\)",
                    r"> stats cpu=[\d.]+% mem=\d+/\d+ MB",
                    r'> admin_result \{"token": "t1"',
                    r"command blocked by allowlist",
                    r'> shell_output .*hi from the PTY'):
            self.assertRegex(out, pat)


if __name__ == "__main__":
    h.main()
