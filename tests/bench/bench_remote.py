#!/usr/bin/python3
"""PTY keystroke round trip and admin_run latency through the nixfleet
dialect, measured at a minimal dashboard (plain ws:// on loopback) that
stands where the browser's relay would.

  BUILD_DIR=build/dev tests/bench/bench_remote.py [keys] [runs]

Keystroke: one shell_input of one byte, until the shell_output that
echoes it arrives (agent in, PTY echo, agent out).  admin_run: from the
admin_run frame sent to its admin_result received (`true`, allowlisted).
Must run as root (the agent's privilege separation)."""

import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
import harness as h  # noqa: E402

import websockets  # noqa: E402

KEYS = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 200


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


async def session(ws, done):
    async def recv(pred, timeout=10):
        end = time.monotonic() + timeout
        while True:
            m = json.loads(await asyncio.wait_for(ws.recv(), end - time.monotonic()))
            if pred(m):
                return m

    await recv(lambda m: m.get("type") == "register")
    await ws.send(json.dumps({"type": "registered", "payload": {"host_id": h.HOSTNAME}}))
    send = lambda t, p: ws.send(json.dumps({"type": t, "payload": p}))
    await send("shell_start", {"session": "b"})
    await send("shell_input", {"session": "b", "data": "stty -icanon; cat >/dev/null\n"})
    await asyncio.sleep(1.5)
    # Drain the prompt and the command's echo.
    try:
        while True:
            await asyncio.wait_for(ws.recv(), 0.3)
    except asyncio.TimeoutError:
        pass
    keys = []
    for i in range(KEYS):
        c = "abcdefghijklmnopqrstuvwxyz"[i % 26]
        t0 = time.perf_counter()
        await send("shell_input", {"session": "b", "data": c})
        await recv(lambda m: m.get("type") == "shell_output" and
                   c in m["payload"]["data"])
        keys.append((time.perf_counter() - t0) * 1000)
    await send("shell_close", {"session": "b"})
    await recv(lambda m: m.get("type") == "shell_closed")
    runs = []
    for i in range(RUNS):
        tok = "r%d" % i
        t0 = time.perf_counter()
        await send("admin_run", {"token": tok, "cmd": {"command": "true"}})
        m = await recv(lambda m: m.get("type") == "admin_result" and
                       m["payload"]["token"] == tok)
        assert m["payload"]["result"]["summary"]["code"] == 0, m
        runs.append((time.perf_counter() - t0) * 1000)
    done.set_result((keys, runs))


async def main():
    work = h.Work("bench-remote")
    try:
        repo = h.make_repo(work.path("repo"))
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        server = await websockets.serve(lambda ws, *a: session(ws, done),
                                        "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        env = {"PATH": h.PATH, "NIXFLEET_URL": "ws://127.0.0.1:%d/ws" % port,
               "NIXFLEET_TOKEN": h.TOKEN, "NIXFLEET_REPO_DIR": str(repo),
               "NIXFLEET_HOSTNAME": h.HOSTNAME, "NIXFLEET_INTERVAL": "60",
               "NIXFLEET_STATE_DIR": str(work.mkdir("state")),
               "NIXFLEET_PRIVSEP_DIR": str(work.privsep_dir()),
               "NIXFLEET_STASYSMO_DIR": str(work.path("none")),
               "ENABLE_SHELL": "1", "ADMIN_ALLOWED_COMMANDS": "true",
               "NIXFLEET_LOG_LEVEL": "warn"}
        agent = h.Agent(work, env).start()
        try:
            keys, runs = await asyncio.wait_for(done, 300)
        finally:
            agent.terminate()
            server.close()
        for name, v in (("keystroke round trip", keys), ("admin_run start to result", runs)):
            print("%-26s n=%-5d p50 %.2f ms  p99 %.2f ms  max %.2f ms  mean %.2f ms" % (
                name, len(v), pct(v, 50), pct(v, 99), max(v), statistics.mean(v)))
    finally:
        work.cleanup()


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit("bench_remote.py: run as root")
    asyncio.run(main())
