#!/usr/bin/python3
"""python-socketio 5.7 control plane for the socketio dialect's tests
(socketio-protocol.md §8.2), in aiohttp mode, with Debian's packages.

The same behaviour and record format as server.js, with this server's
quirks: hello_ack is emitted inside on_connect, so it reaches the agent
before the CONNECT ack (§2.4); the open packet has no maxPayload (§1.3);
a refusal is `44/agents,{"message":"unauthorized"}`, with
--no-namespace the bare string "Unable to connect", and with
--always-connect `40/agents,{...}` then `41/agents,{"message":...}`.

    /usr/bin/python3 server.py --port 0 --control-port 0 --record FILE
        --token T [--path /socket.io] [--ping-interval 2] [--ping-timeout 2]
        [--early-ping] [--no-namespace] [--skew-ms 0] [--max-skew-sec 600]
        [--app-ping-ms 0] [--always-connect]
        [--cert PEM --key PEM]

First stdout line: LISTENING port=<p> control=<c> scheme=<ws|wss>.
Control commands as server.js: emit, emit-ack, ping, disconnect,
close-engine, set-token, set-skew, stats.
"""

import argparse
import asyncio
import hashlib
import hmac
import json
import signal
import ssl
import sys
import time
import urllib.parse

import socketio
from aiohttp import web


class Peer:
    def __init__(self, args):
        self.args = args
        self.token = args.token
        self.skew_ms = args.skew_ms
        self.rec = open(args.record, "a", buffering=1) if args.record else None
        self.next_conn = 1
        self.current = None     # (sid, conn)
        self.conns = {}         # sid -> conn
        self.counters = {"connects": 0, "rejects": 0, "events": 0}
        self.ack_id = 0
        self.pingers = {}      # sid -> app ping task

    def record(self, **kv):
        line = json.dumps(dict(t=time.time(), **kv))
        print(line, flush=True)
        if self.rec:
            self.rec.write(line + "\n")

    def verify(self, q):
        """§3.2, as the Go port checks it; None or why."""
        cid, ts, sig = q.get("clientId"), q.get("ts"), q.get("sig")
        if cid is None or ts is None or sig is None:
            return "missing clientId, ts or sig"
        if len(cid) > 128:
            return "clientId too long"
        try:
            n = int(ts)
        except ValueError:
            return "bad ts"
        if n <= 0 or n > (2 ** 63 - 1) // 2:
            return "bad ts"
        now = int(time.time() * 1000) + self.skew_ms
        if abs(now - n) > self.args.max_skew_sec * 1000:
            return "clock skew"
        msg = json.dumps({"clientId": cid, "ts": n}, separators=(",", ":"))
        want = hmac.new(self.token.encode(), msg.encode(),
                        hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, sig):
            return "bad sig"
        return None


class Agents(socketio.AsyncNamespace):
    def __init__(self, peer):
        super().__init__("/agents")
        self.peer = peer

    async def on_connect(self, sid, environ, auth=None):
        p = self.peer
        q = dict(urllib.parse.parse_qsl(environ.get("QUERY_STRING", ""),
                                        keep_blank_values=True))
        why = p.verify(q)
        if why is not None:
            p.counters["rejects"] += 1
            p.record(event="reject", reason=why, query=q)
            raise socketio.exceptions.ConnectionRefusedError("unauthorized")
        conn = p.next_conn
        p.next_conn += 1
        p.counters["connects"] += 1
        p.conns[sid] = conn
        p.current = (sid, conn)
        headers = {k[5:].replace("_", "-").lower(): v
                   for k, v in environ.items() if k.startswith("HTTP_")}
        p.record(event="connect", conn=conn,
                 url=environ.get("RAW_URI") or environ.get("PATH_INFO"),
                 path=environ.get("PATH_INFO"), query=q, headers=headers)
        # Inside on_connect: these reach the agent before the CONNECT ack.
        await p.emit(sid, "hello_ack", {})
        if p.args.early_ping:
            await p.emit(sid, "ping", {"ts": int(time.time() * 1000)})
        if p.args.app_ping_ms > 0:
            p.pingers[sid] = asyncio.ensure_future(self.app_ping(sid))

    async def app_ping(self, sid):
        """The Go port's server pings every pingIntervalSec (§4.2)."""
        while True:
            await asyncio.sleep(self.peer.args.app_ping_ms / 1000)
            await self.peer.emit(sid, "ping", {"ts": int(time.time() * 1000)})

    async def on_disconnect(self, sid):
        p = self.peer
        conn = p.conns.pop(sid, None)
        task = p.pingers.pop(sid, None)
        if task:
            task.cancel()
        p.record(event="disconnect", conn=conn, reason="disconnect")
        if p.current and p.current[0] == sid:
            p.current = None

    async def trigger_event(self, event, *args):
        if event in ("connect", "disconnect"):
            return await super().trigger_event(event, *args)
        p = self.peer
        sid, data = args[0], list(args[1:])
        p.counters["events"] += 1
        p.record(event="event", conn=p.conns.get(sid), name=event,
                 args=data, ack=False)
        return None


async def peer_emit(peer, sid, name, data, callback=None):
    await peer.sio.emit(name, data, to=sid, namespace="/agents",
                        callback=callback)
    peer.record(event="sent", conn=peer.conns.get(sid), name=name, data=data)


async def control(peer, line):
    cmd, _, rest = line.strip().partition(" ")
    rest = rest.strip()
    if cmd == "stats":
        return dict(ok=True, connected=peer.current is not None,
                    **peer.counters)
    if cmd == "set-token":
        peer.token = rest
        return {"ok": True}
    if cmd == "set-skew":
        peer.skew_ms = int(rest)
        return {"ok": True}
    if peer.current is None:
        return {"ok": False, "error": "no connection"}
    sid, conn = peer.current
    if cmd in ("emit", "emit-ack"):
        name, _, js = rest.partition(" ")
        data = json.loads(js) if js.strip() else {}
        if cmd == "emit":
            await peer.emit(sid, name, data)
        else:
            aid = peer.ack_id
            peer.ack_id += 1

            def cb(*a, aid=aid):
                peer.record(event="ack", conn=conn, id=aid, args=list(a))
            await peer_emit(peer, sid, name, data, callback=cb)
        return {"ok": True}
    if cmd == "ping":
        await peer.emit(sid, "ping",
                        {"ts": int(rest) if rest else int(time.time() * 1000)})
        return {"ok": True}
    if cmd == "disconnect":
        await peer.sio.disconnect(sid, namespace="/agents")
        return {"ok": True}
    if cmd == "close-engine":
        await peer.sio.eio.disconnect(peer.sio.manager.eio_sid_from_sid(
            sid, "/agents"))
        return {"ok": True}
    return {"ok": False, "error": "unknown command " + cmd}


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--control-port", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--record")
    ap.add_argument("--token", default="test-token")
    ap.add_argument("--path", default="/socket.io")
    ap.add_argument("--ping-interval", type=float, default=2)
    ap.add_argument("--ping-timeout", type=float, default=2)
    ap.add_argument("--max-payload", type=int, default=1000000)
    ap.add_argument("--skew-ms", type=int, default=0)
    ap.add_argument("--max-skew-sec", type=int, default=600)
    ap.add_argument("--early-ping", action="store_true")
    ap.add_argument("--app-ping-ms", type=int, default=0)
    ap.add_argument("--always-connect", action="store_true")
    ap.add_argument("--no-namespace", action="store_true")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    args = ap.parse_args()

    peer = Peer(args)
    sio = socketio.AsyncServer(async_mode="aiohttp",
                               ping_interval=args.ping_interval,
                               ping_timeout=args.ping_timeout,
                               max_http_buffer_size=args.max_payload,
                               always_connect=args.always_connect,
                               cors_allowed_origins=[])
    peer.sio = sio

    async def emit(sid, name, data):
        await peer_emit(peer, sid, name, data)
    peer.emit = emit
    if not args.no_namespace:
        sio.register_namespace(Agents(peer))
    app = web.Application()
    sio.attach(app, socketio_path=args.path.strip("/"))

    sslctx = None
    if args.cert:
        sslctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        sslctx.load_cert_chain(args.cert, args.key)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port, ssl_context=sslctx)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]

    async def on_ctl(reader, writer):
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                try:
                    r = await control(peer, line.decode())
                except Exception as e:  # noqa: BLE001 - reported to the test
                    r = {"ok": False, "error": repr(e)}
                writer.write((json.dumps(r) + "\n").encode())
                await writer.drain()
        finally:
            writer.close()
    ctl = await asyncio.start_server(on_ctl, "127.0.0.1", args.control_port)
    cport = ctl.sockets[0].getsockname()[1]
    print("LISTENING port=%d control=%d scheme=%s" % (
        port, cport, "wss" if args.cert else "ws"), flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)
    # A test that forgets us must not leave us running.
    try:
        await asyncio.wait_for(stop.wait(), 30 * 60)
    except asyncio.TimeoutError:
        pass
    ctl.close()
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
