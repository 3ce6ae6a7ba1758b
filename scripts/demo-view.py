#!/usr/bin/python3
"""The terminal view of scripts/demo.sh, for both dialects.

    demo-view.py nixfleet|socketio RECORD [--json] [--stop-file FILE]

Follows RECORD, the JSON-lines file the test peer writes with --record
(tests/peers/dashboard.py, tests/peers/socketio/server.js), and prints
each event as one readable line; with --json, the frames themselves, one
JSON object per line, exactly as they crossed the WebSocket (nixfleet) or
the events as the server recorded them (socketio). Records with "event":
"demo" are the demo script's own narration (demo_say in demo-env.sh): in
the readable view they are printed in order with the rest, with --json
they go to stderr so stdout stays pure JSON.

It ends when FILE exists and RECORD has been read to its end (the demo
creates it after it stopped the agent and the peer), or after
--max-seconds whatever happens.
"""

import argparse
import json
import os
import sys
import time

COLOUR = False


def paint(code, text):
    return "\033[%sm%s\033[0m" % (code, text) if COLOUR else text


def red(t):
    return paint("31", t)


def green(t):
    return paint("32", t)


def yellow(t):
    return paint("33", t)


def dim(t):
    return paint("2", t)


def bold(t):
    return paint("1", t)


def follow(path, stop_file, max_seconds):
    """Yield each record of path as it is appended; a partial last line
    waits for its end."""
    deadline = time.monotonic() + max_seconds
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.1)
    with open(path) as f:
        buf = ""
        while time.monotonic() < deadline:
            chunk = f.readline()
            if chunk:
                buf += chunk
                if buf.endswith("\n"):
                    line, buf = buf, ""
                    try:
                        yield json.loads(line)
                    except ValueError:
                        pass
                continue
            if stop_file and os.path.exists(stop_file):
                return
            time.sleep(0.1)


def clock(r):
    return time.strftime("%H:%M:%S", time.localtime(r.get("t", time.time())))


# ------------------------------------------------------------- nixfleet

def compartment(c):
    st = (c or {}).get("status") or "-"
    if st in ("ok",):
        return green(st)
    if st in ("error",):
        return red(st)
    if st in ("outdated", "working"):
        return yellow(st)
    return st


class NixfleetView:
    """Frames of the nixfleet dialect as the reference dashboard records
    them: "message" is agent to dashboard, "sent" the other way."""

    # A state line also when nothing changed, so the metrics show life.
    QUIET_S = 10

    def __init__(self):
        self.last_state = None
        self.last_t = 0.0
        self.beats = 0

    def heartbeat(self, t, p):
        self.beats += 1
        us = p.get("update_status") or {}
        m = p.get("metrics") or {}
        state = (p.get("generation"), p.get("pending_command"),
                 tuple((k, (us.get(k) or {}).get("status"))
                       for k in ("lock", "system", "tests")))
        if state == self.last_state and t - self.last_t < self.QUIET_S:
            return None
        self.last_state, self.last_t = state, t
        job = p.get("pending_command")
        return ("> heartbeat #%d  generation %s | cpu %s%% ram %s%% load %s "
                "| lock %s  system %s  tests %s%s" % (
                    self.beats, bold(p.get("generation") or "-"),
                    m.get("cpu"), m.get("ram"), m.get("load"),
                    compartment(us.get("lock")),
                    compartment(us.get("system")),
                    compartment(us.get("tests")),
                    "  (running %s, pid %s)" % (job, p.get("command_pid"))
                    if job else ""))

    def agent_frame(self, t, d):
        ty, p = d.get("type"), d.get("payload") or {}
        if ty == "register":
            return ("> register %s (%s %s, agent %s) generation %s, repo %s%s"
                    % (p.get("hostname"), p.get("host_type"),
                       p.get("os_version"), p.get("agent_version"),
                       p.get("generation"), p.get("repo_dir"),
                       " cloned from " + p["repo_url"]
                       if p.get("repo_url") else ""))
        if ty == "heartbeat":
            return self.heartbeat(t, p)
        if ty == "output":
            line = p.get("line", "")
            if p.get("is_error"):
                return red("  ! " + line)
            return "  | " + line
        if ty == "operation_progress":
            return dim("  ~ " + ", ".join(
                "%s %s/%s %s" % (k, v.get("current"), v.get("total"),
                                 v.get("status"))
                for k, v in (p.get("progress") or {}).items()))
        if ty == "test_progress":
            tag = "[%s/%s]" % (p.get("current"), p.get("total"))
            if p.get("running"):
                return bold("  %s" % tag) + " running, %s passed so far" % (
                    p.get("passed"))
            return bold("  %s" % tag) + " done: %s" % p.get("result")
        if ty == "status":
            st = p.get("status", "")
            col = green if st == "ok" else red if st == "error" else yellow
            msg = p.get("message") or ""
            return col("= %s: %s (exit %s)%s" % (
                p.get("command"), st, p.get("exit_code"),
                ": " + msg if msg else ""))
        if ty == "command_rejected":
            return red("= %s rejected: %s" % (p.get("command"),
                                             p.get("reason")))
        return "> %s %s" % (ty, json.dumps(p))

    def dashboard_frame(self, d):
        ty, p = d.get("type"), d.get("payload") or {}
        if ty == "registered":
            return "< registered host_id=%s" % p.get("host_id")
        if ty == "command":
            return bold("< command %s" % p.get("command"))
        return "< %s %s" % (ty, json.dumps(p))

    def line(self, r):
        e, t = r.get("event"), r.get("t", 0.0)
        if e == "connect":
            return "  connected: GET %s (bearer token checked)" % r.get("path")
        if e == "reject":
            return red("  upgrade rejected: HTTP %s" % r.get("status"))
        if e == "message" and isinstance(r.get("data"), dict):
            return self.agent_frame(t, r["data"])
        if e == "sent" and isinstance(r.get("data"), dict):
            return self.dashboard_frame(r["data"])
        if e == "close":
            return "  closed: %s %s" % (r.get("code"), r.get("reason") or "")
        return None

    @staticmethod
    def frame(r):
        """The frame itself, for --json."""
        if r.get("event") in ("message", "sent"):
            return r.get("data")
        return None


# ------------------------------------------------------------- socketio

class SocketioView:
    """Events of the socketio dialect as tests/peers/socketio/server.js
    records them: "event" is agent to server, "sent" the other way."""

    def line(self, r):
        e = r.get("event")
        if e == "connect":
            q = r.get("query") or {}
            return "  GET %s clientId=%s ts=%s sig=%s... (HMAC checked)" % (
                r["url"].split("?")[0], q.get("clientId"), q.get("ts"),
                q.get("sig", "")[:12])
        if e == "reject":
            return red("  rejected: %s" % r.get("reason"))
        if e == "sent":
            return "< %s %s" % (r["name"], json.dumps(r["data"]))
        if e == "event" and r["name"] == "stats":
            d = r["args"][0]["data"]
            return ("> stats cpu=%s%% mem=%d/%d MB load=%s disks=%d ifaces=%d "
                    "host=%s %s %s agent %s" % (
                        d["cpu"], d["mem"]["used"] >> 20,
                        d["mem"]["total"] >> 20, d["load"]["1m"],
                        len(d.get("disk", [])), len(d.get("netIfaces", [])),
                        d.get("hostname"), d.get("platform"),
                        d.get("release"), d["agentVersion"]))
        if e == "event":
            return "> %s %s" % (r["name"],
                                json.dumps(r["args"][0] if r["args"] else {}))
        if e == "disconnect":
            return "  disconnected: %s" % r.get("reason")
        return None

    @staticmethod
    def frame(r):
        if r.get("event") in ("connect", "event", "sent", "disconnect"):
            return r
        return None


VIEWS = {"nixfleet": NixfleetView, "socketio": SocketioView}


def main():
    global COLOUR
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dialect", choices=sorted(VIEWS))
    p.add_argument("record")
    p.add_argument("--json", action="store_true",
                   help="print the raw frames as JSON lines")
    p.add_argument("--stop-file")
    p.add_argument("--max-seconds", type=float, default=600)
    a = p.parse_args()
    COLOUR = (sys.stdout.isatty() and not a.json
              and not os.environ.get("NO_COLOR"))
    view = VIEWS[a.dialect]()
    for r in follow(a.record, a.stop_file, a.max_seconds):
        if r.get("event") == "demo":
            text = "== " + r.get("text", "")
            if a.json:
                print(text, file=sys.stderr, flush=True)
            else:
                print(bold(text), flush=True)
            continue
        if a.json:
            f = view.frame(r)
            if f is not None:
                print(json.dumps(f, ensure_ascii=False), flush=True)
            continue
        try:
            out = view.line(r)
        except (KeyError, TypeError, IndexError):
            out = "? " + json.dumps(r)[:200]
        if out is not None:
            print(dim(clock(r)), out, flush=True)


if __name__ == "__main__":
    try:
        main()
    except (KeyboardInterrupt, BrokenPipeError):
        pass
