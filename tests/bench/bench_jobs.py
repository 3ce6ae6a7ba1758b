#!/usr/bin/python3
"""Job output through the whole agent, over TLS on loopback, at the
reference dashboard (tests/peers/dashboard.py, --output-file), beside a
bare `openssl s_server`/`s_client` pair as the machine's limit.

  sudo BUILD_DIR=build/release tests/bench/bench_jobs.py [MiB] [slow MiB]

a. flood: the `test` command, one host test script writing MiB (default
   200) of 100-byte lines as fast as it can: MB/s from the first line to
   the status at the dashboard; CPU seconds per GB of the agent's three
   processes, of the runner, and of the script itself (not counted);
   the openssl pair's MB/s and CPU s/GB for the same bytes.
b. latency: a script writing one line every 10 ms for 5 s, its wall
   clock in the line; receipt time at the dashboard minus that.
c. heartbeats during the flood: gaps between heartbeats at the
   dashboard minus the 1 s interval.
d. slow dashboard: a flood of slow MiB (default 40) while the dashboard
   reads 1 MB/s; peak VmRSS/VmHWM of supervisor, net-worker, exec-worker
   and runner, and the heartbeat gaps meanwhile.

Runs as root (the agent's privilege separation); every phase is bounded
in time; prints one line per figure."""

import json
import os
import resource
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
import harness as h  # noqa: E402
import certs as certlib  # noqa: E402
import flood  # noqa: E402

MIB = int(sys.argv[1]) if len(sys.argv) > 1 else 200
SLOW_MIB = int(sys.argv[2]) if len(sys.argv) > 2 else 40
LINE = flood.LINE
TICK = os.sysconf("SC_CLK_TCK")
STATE_BASE = os.environ.get("BENCH_STATE_BASE", "/var/tmp")


TICKER = r'''#!/usr/bin/python3
import sys, time
t = time.monotonic()
for i in range(500):
    sys.stdout.write("lat %.6f %d\n" % (time.time(), i))
    sys.stdout.flush()
    t += 0.01
    d = t - time.monotonic()
    if d > 0:
        time.sleep(d)
'''


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))] if v else float("nan")


def cpu(pid):
    """utime + stime of a live process, seconds (None if gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    return (int(rest[11]) + int(rest[12])) / TICK


def mem(pid):
    try:
        st = h.proc_status(pid)
    except OSError:
        return None
    return (int(st.get("VmRSS", "0 kB").split()[0]),
            int(st.get("VmHWM", "0 kB").split()[0]))


def runners(jobsdir):
    out = []
    for p in h.all_pids():
        if h.proc_argv0(p) != "nixfleet-agent-runner":
            continue
        try:
            with open("/proc/%d/cmdline" % p, "rb") as f:
                if jobsdir.encode() in f.read():
                    out.append(p)
        except OSError:
            pass
    return out


class Sampler(threading.Thread):
    """Every 0.1 s: CPU, VmRSS and VmHWM of the agent's processes and the
    runner (the last sample of a process that exits is kept)."""

    def __init__(self, agent, jobsdir):
        super().__init__(daemon=True)
        self.agent, self.jobsdir = agent, jobsdir
        self.stop_ev = threading.Event()
        self.cpu = {}           # role -> {pid: last cpu}
        self.rss = {}           # role -> max VmRSS kB
        self.hwm = {}           # role -> max VmHWM kB
        self.total_rss = 0      # max of the three agent processes together

    def pids(self):
        d = {"supervisor": [self.agent.pid]}
        for role, pid in self.agent.workers().items():
            d[role] = [pid]
        d["runner"] = runners(self.jobsdir)
        return d

    def sample(self):
        tot = 0
        for role, pids in self.pids().items():
            for p in pids:
                c, m = cpu(p), mem(p)
                if c is not None:
                    self.cpu.setdefault(role, {})[p] = c
                if m is not None:
                    self.rss[role] = max(self.rss.get(role, 0), m[0])
                    self.hwm[role] = max(self.hwm.get(role, 0), m[1])
                    if role != "runner":
                        tot += m[0]
        self.total_rss = max(self.total_rss, tot)

    def run(self):
        while not self.stop_ev.is_set():
            self.sample()
            time.sleep(0.1)

    def cpu_of(self, role):
        return sum(self.cpu.get(role, {}).values())


def outputs(path):
    out = []
    try:
        with open(path) as f:
            for ln in f:
                if ln.endswith("\n"):
                    out.append(json.loads(ln))
    except FileNotFoundError:
        pass
    return out


def openssl_pair(certs, nbytes):
    """nbytes of 100-byte lines from s_server's stdin to s_client's stdout
    on loopback, TLS 1.2 with the cipher the agent gets: (MB/s from the
    first byte to the last at the client, CPU s of both processes, s)."""
    port = h.free_port()
    cert, key = certs.pair("server")
    gen = subprocess.Popen(
        "yes %s | head -c %d" % ("y" * (LINE - 1), nbytes), shell=True,
        stdout=subprocess.PIPE)
    srv = subprocess.Popen(
        ["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-naccept", "1",
         "-quiet", "-cert", cert, "-key", key, "-tls1_2",
         "-cipher", "ECDHE-RSA-AES256-GCM-SHA384"],
        stdin=gen.stdout, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    gen.stdout.close()
    time.sleep(0.5)
    cli = subprocess.Popen(
        ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-quiet",
         "-CAfile", certs.ca], stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    got, t0, t1 = 0, None, None
    deadline = time.monotonic() + 120
    fd = cli.stdout.fileno()
    while got < nbytes and time.monotonic() < deadline:
        if not select.select([fd], [], [], 3)[0]:
            break               # s_server keeps the link after its stdin's end
        b = os.read(fd, 1 << 20)
        if not b:
            break
        if t0 is None:
            t0 = time.monotonic()
        got += len(b)
        t1 = time.monotonic()
    for p in (cli, srv, gen):
        p.kill() if p is not gen else None
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            pass
    cli.stdout.close()
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    usage = ru.ru_utime + ru.ru_stime
    return got / (t1 - t0) / 1e6, usage, t1 - t0, got


def main():
    work = h.Work("bench-jobs")
    procs, state_dirs = [], []
    try:
        certs = certlib.make_certs(work.path("certs"))
        repo = h.make_repo(work.path("repo"))
        tests = Path(repo) / "hosts" / h.HOSTNAME / "tests"
        tests.mkdir(parents=True)
        side = str(work.path("flood.json"))
        nlines = MIB * 1024 * 1024 // LINE
        (tests / "flood.sh").write_text(flood.script(nlines, side))
        (tests / "flood.sh").chmod(0o755)
        outfile = work.path("outputs.jsonl")
        dash = h.Dashboard(work, certs=certs, tls="server",
                           args=["--output-file", str(outfile)])
        dash.start()
        procs.append(dash)
        # The state on disk, as /var/lib would be (the work directory
        # is on tmpfs, where fsync costs nothing).
        state = Path(tempfile.mkdtemp(prefix="nixfleet-bench-", dir=STATE_BASE))
        state_dirs.append(state)
        env = {"PATH": h.PATH, "NIXFLEET_URL": dash.url(),
               "NIXFLEET_TOKEN": h.TOKEN, "NIXFLEET_REPO_DIR": str(repo),
               "NIXFLEET_HOSTNAME": h.HOSTNAME, "NIXFLEET_INTERVAL": "1",
               "NIXFLEET_STATE_DIR": str(state),
               "NIXFLEET_PRIVSEP_DIR": str(work.privsep_dir()),
               "NIXFLEET_STASYSMO_DIR": str(work.path("none")),
               "NIXFLEET_CA_FILE": certs.ca, "NIXFLEET_LOG_LEVEL": "info"}
        agent = h.Agent(work, env).start()
        procs.append(agent)
        h.wait_for(lambda: dash.messages("heartbeat"), 20, what="a heartbeat")
        conn = dash.records("connect")[-1]
        print("dashboard TLS: %s" % (conn.get("cipher"),))
        smp = Sampler(agent, str(state / "jobs"))
        smp.start()
        time.sleep(1.5)
        base = {r: smp.cpu_of(r) for r in ("supervisor", "net", "exec")}
        dash_cpu0 = cpu(dash.proc.pid)

        # a, c: the flood.
        t = time.time()
        dash.control("command test")
        h.wait_for(lambda: dash.messages("status", since=t), 60 + MIB * 3,
                   interval=0.5, what="the flood's status")
        st = dash.messages("status", since=t)[0]
        time.sleep(0.5)
        smp.sample()
        dash.control("flush")
        outs = [o for o in outputs(outfile) if o[0] >= t]
        lines = [o for o in outs if o[2][:9].isdigit()]
        side_d = json.loads(Path(side).read_text())
        agent_cpu = sum(smp.cpu_of(r) - base[r] for r in base)
        runner_cpu = smp.cpu_of("runner")
        dash_cpu = cpu(dash.proc.pid) - dash_cpu0
        nbytes = nlines * LINE
        gb = nbytes / 1e9
        e2e = st["t"] - lines[0][0]
        ok = [int(o[2][:9]) for o in lines] == list(range(nlines))
        print("flood: %d MiB, %d lines (%s), script %.2f s, first line to "
              "status %.2f s: %.1f MB/s; command to status %.2f s" % (
                  MIB, len(lines), "all, in order" if ok else "NOT all in order",
                  side_d["t1"] - side_d["t0"], e2e, nbytes / e2e / 1e6, st["t"] - t))
        print("flood CPU: agent %.2f s (%.1f s/GB: supervisor %.2f, net %.2f, "
              "exec %.2f), runner %.2f s (%.1f s/GB), script %.2f s (not counted); "
              "dashboard %.2f s" % (
                  agent_cpu, agent_cpu / gb, smp.cpu_of("supervisor") - base["supervisor"],
                  smp.cpu_of("net") - base["net"], smp.cpu_of("exec") - base["exec"],
                  runner_cpu, runner_cpu / gb, side_d["cpu"], dash_cpu))
        hb = [r["t"] for r in dash.messages("heartbeat", since=t) if r["t"] <= st["t"]]
        gaps = [b - a - 1.0 for a, b in zip(hb, hb[1:])]
        print("flood heartbeats: %d, gap - 1 s: p99 %.3f s, max %.3f s" % (
            len(hb), pct(gaps, 99), max(gaps) if gaps else float("nan")))
        print("flood RSS peak kB: %s; agent total %d" % (
            ", ".join("%s %d (HWM %d)" % (r, smp.rss.get(r, 0), smp.hwm.get(r, 0))
                      for r in ("supervisor", "net", "exec", "runner")),
            smp.total_rss))

        # b: latency.
        (tests / "flood.sh").unlink()
        (tests / "tick.sh").write_text(TICKER)
        (tests / "tick.sh").chmod(0o755)
        time.sleep(1)
        t = time.time()
        dash.control("command test")
        h.wait_for(lambda: dash.messages("status", since=t), 60, interval=0.2,
                   what="the ticker's status")
        time.sleep(0.3)
        dash.control("flush")
        lat = [(o[0] - float(o[2].split()[1])) * 1000 for o in outputs(outfile)
               if o[0] >= t and o[2].startswith("lat ")]
        print("latency: %d lines every 10 ms, write to receipt p50 %.2f ms, "
              "p99 %.2f ms, max %.2f ms" % (len(lat), pct(lat, 50), pct(lat, 99),
                                            max(lat)))

        # d: a dashboard reading 1 MB/s.
        (tests / "tick.sh").unlink()
        slow_lines = SLOW_MIB * 1024 * 1024 // LINE
        (tests / "flood.sh").write_text(flood.script(slow_lines, side))
        (tests / "flood.sh").chmod(0o755)
        time.sleep(1)
        smp.rss, smp.hwm, smp.total_rss = {}, {}, 0
        dash.control("rate 1000000")
        t = time.time()
        dash.control("command test")
        h.wait_for(lambda: dash.messages("status", since=t), 60 + SLOW_MIB * 3,
                   interval=0.5, what="the slow flood's status")
        st = dash.messages("status", since=t)[0]
        dash.control("rate off")
        side_d = json.loads(Path(side).read_text())
        hb = [r["t"] for r in dash.messages("heartbeat", since=t) if r["t"] <= st["t"]]
        gaps = [b - a - 1.0 for a, b in zip(hb, hb[1:])]
        dash.control("flush")
        n = len([o for o in outputs(outfile) if o[0] >= t and o[2][:9].isdigit()])
        print("slow (1 MB/s): %d MiB, %d lines, script %.2f s, command to "
              "status %.1f s" % (SLOW_MIB, n, side_d["t1"] - side_d["t0"], st["t"] - t))
        print("slow RSS peak kB: %s; agent total %d" % (
            ", ".join("%s %d (HWM %d)" % (r, smp.rss.get(r, 0), smp.hwm.get(r, 0))
                      for r in ("supervisor", "net", "exec", "runner")),
            smp.total_rss))
        print("slow heartbeats: %d, gap - 1 s: p99 %.3f s, max %.3f s" % (
            len(hb), pct(gaps, 99), max(gaps) if gaps else float("nan")))
        smp.stop_ev.set()
        agent.terminate()

        # The machine's limit.
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        c0 = r0.ru_utime + r0.ru_stime
        for _ in range(3):      # s_server sometimes stalls at the start
            mbs, c, dt, got = openssl_pair(certs, nlines * LINE)
            if got >= nlines * LINE - LINE:
                break
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            c0 = r0.ru_utime + r0.ru_stime
        c -= c0
        print("openssl s_server -> s_client (TLS 1.2, same cipher): %d bytes in "
              "%.2f s: %.1f MB/s, CPU %.2f s (%.1f s/GB, both processes and "
              "the generator)" % (got, dt, mbs, c, c / gb))
    finally:
        for p in reversed(procs):
            try:
                p.cleanup() if isinstance(p, h.Agent) else p.stop()
            except Exception:
                pass
        work.cleanup()
        for d in state_dirs:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit("bench_jobs.py: run as root")
    main()
