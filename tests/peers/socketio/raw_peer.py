#!/usr/bin/python3
"""A scripted raw Engine.IO peer for the socketio dialect's tests
(socketio-protocol.md §8.2): a plain WebSocket server (python3-websockets
10.4, legacy API) that speaks Engine.IO v4 / Socket.IO v5 by hand, so a
test can send what no real server would: the malformed packets of §2.7,
a silent heartbeat, oversize frames.

On connect it sends the open packet (--open replaces it; --no-max-payload
leaves maxPayload out), then "2" every --ping-interval ms.  It answers
"40/agents," with "40/agents,{"sid":...}" (unless --no-connect-ack), then
42/agents,["hello_ack",{}] (unless --no-hello).  Any path is accepted.

    /usr/bin/python3 raw_peer.py --port 0 --control-port 0 --record FILE

First stdout line: LISTENING port=<p> control=<c> scheme=ws.
Record lines: {"t","event":"connect","conn","path","headers"},
{"t","event":"frame","conn","text"} or {...,"hex"} for binary frames,
{"t","event":"sent","conn","text"|"hex"}, {"t","event":"close","conn",
"code","reason"}.
Control commands (one per line, one JSON line back), on the newest
connection:
  send <text>          a text frame, verbatim
  send-hex <hex>       a text frame of these bytes (invalid UTF-8 too)
  send-binary <hex>    a binary frame
  send-big <n>         42/agents,["x","aaa..."] of exactly n bytes
  silence | resume     stop / restart the engine pings
  close [code]         close handshake (default 1000)
  drop                 abort TCP
  stats
"""

import argparse
import asyncio
import json
import signal
import time

import websockets
from websockets.frames import OP_TEXT


class Peer:
    def __init__(self, args):
        self.args = args
        self.rec = open(args.record, "a", buffering=1) if args.record else None
        self.conns = {}
        self.next_conn = 1
        self.current = None
        self.silent = False
        self.counters = {"connects": 0, "frames": 0}

    def record(self, **kv):
        line = json.dumps(dict(t=time.time(), **kv))
        print(line, flush=True)
        if self.rec:
            self.rec.write(line + "\n")

    def open_packet(self):
        a = self.args
        if a.open is not None:
            return a.open
        o = {"sid": "rawsid", "upgrades": [], "pingInterval": a.ping_interval,
             "pingTimeout": a.ping_timeout}
        if not a.no_max_payload:
            o["maxPayload"] = a.max_payload
        return "0" + json.dumps(o, separators=(",", ":"))

    async def send(self, ws, conn, text):
        await ws.send(text)
        self.record(event="sent", conn=conn, text=text)

    async def pinger(self, ws, conn):
        while True:
            await asyncio.sleep(self.args.ping_interval / 1000)
            if not self.silent:
                await self.send(ws, conn, "2")

    async def handler(self, ws, path):
        conn = self.next_conn
        self.next_conn += 1
        self.counters["connects"] += 1
        self.conns[conn] = ws
        self.current = conn
        self.record(event="connect", conn=conn, path=path,
                    headers=dict(ws.request_headers.raw_items()))
        ping = None
        try:
            await self.send(ws, conn, self.open_packet())
            ping = asyncio.ensure_future(self.pinger(ws, conn))
            async for msg in ws:
                self.counters["frames"] += 1
                if isinstance(msg, bytes):
                    self.record(event="frame", conn=conn, hex=msg.hex())
                    continue
                self.record(event="frame", conn=conn, text=msg)
                if msg == "40/agents," and not self.args.no_connect_ack:
                    await self.send(ws, conn, '40/agents,{"sid":"nsraw"}')
                    if not self.args.no_hello:
                        await self.send(ws, conn,
                                        '42/agents,["hello_ack",{}]')
        except websockets.ConnectionClosed:
            pass
        finally:
            if ping:
                ping.cancel()
            self.record(event="close", conn=conn, code=ws.close_code,
                        reason=ws.close_reason)
            self.conns.pop(conn, None)
            if self.current == conn:
                self.current = None

    async def control(self, line):
        cmd, _, rest = line.rstrip("\r\n").partition(" ")
        if cmd == "stats":
            return dict(ok=True, connected=self.current is not None,
                        **self.counters)
        if cmd == "silence":
            self.silent = True
            return {"ok": True}
        if cmd == "resume":
            self.silent = False
            return {"ok": True}
        ws = self.conns.get(self.current)
        if ws is None:
            return {"ok": False, "error": "no connection"}
        conn = self.current
        if cmd == "send":
            await self.send(ws, conn, rest)
        elif cmd == "send-hex":
            data = bytes.fromhex(rest)
            await ws.write_frame(True, OP_TEXT, data)
            self.record(event="sent", conn=conn, hex=data.hex())
        elif cmd == "send-binary":
            await ws.send(bytes.fromhex(rest))
            self.record(event="sent", conn=conn, hex=rest)
        elif cmd == "send-big":
            n = int(rest)
            head, tail = '42/agents,["x","', '"]'
            await ws.send(head + "a" * (n - len(head) - len(tail)) + tail)
            self.record(event="sent", conn=conn, big=n)
        elif cmd == "close":
            await ws.close(int(rest) if rest else 1000)
        elif cmd == "drop":
            ws.transport.abort()
        else:
            return {"ok": False, "error": "unknown command " + cmd}
        return {"ok": True}


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--control-port", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--record")
    ap.add_argument("--open", help="the open packet, verbatim")
    ap.add_argument("--ping-interval", type=int, default=1500)
    ap.add_argument("--ping-timeout", type=int, default=1000)
    ap.add_argument("--max-payload", type=int, default=1000000)
    ap.add_argument("--no-max-payload", action="store_true")
    ap.add_argument("--no-connect-ack", action="store_true")
    ap.add_argument("--no-hello", action="store_true")
    ap.add_argument("--max-size", type=int, default=32 * 1024 * 1024)
    args = ap.parse_args()
    peer = Peer(args)

    server = await websockets.serve(peer.handler, args.host, args.port,
                                    max_size=args.max_size, compression=None)
    port = server.sockets[0].getsockname()[1]

    async def on_ctl(reader, writer):
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                try:
                    r = await peer.control(line.decode())
                except Exception as e:  # noqa: BLE001 - reported to the test
                    r = {"ok": False, "error": repr(e)}
                writer.write((json.dumps(r) + "\n").encode())
                await writer.drain()
        finally:
            writer.close()
    ctl = await asyncio.start_server(on_ctl, "127.0.0.1", args.control_port)
    print("LISTENING port=%d control=%d scheme=ws" % (
        port, ctl.sockets[0].getsockname()[1]), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)
    try:
        await asyncio.wait_for(stop.wait(), 30 * 60)
    except asyncio.TimeoutError:
        pass
    server.close()
    ctl.close()


if __name__ == "__main__":
    asyncio.run(main())
