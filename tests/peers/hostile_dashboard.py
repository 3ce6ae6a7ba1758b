#!/usr/bin/python3
"""A hostile NixFleet dashboard for tests: plain ws:// on loopback, raw
asyncio sockets (a WebSocket library would refuse to send most of what
this one sends).

Connection k runs scenario k of --scenarios (comma list); later ones, and
"normal", behave like a good dashboard: `register` gets `registered`,
pings get pongs, a close gets its echo.  A scenario starts once
`registered` is sent (after --settle seconds, so that heartbeats have a
schedule to keep), except "silent", which never sends `registered`.

Scenarios (every flood bounded in count and in --flood-seconds):
  ping-flood     empty pings, as fast as the agent takes them
  msg-flood      --count small text messages, valid JSON of an unknown
                 type and malformed JSON in turn
  frag-flood     a text message opened, then --count one-byte
                 continuation frames (under the 1 MiB message limit)
  frag-forever   a text message opened, then one continuation a second
  close-1byte    a close frame with a one-byte payload
  close-badcode  a close frame with status 1005 (never on the wire)
  len63          a text frame header claiming 2^63 bytes
  opcode         a frame with the reserved opcode 0x3
  silent         no `registered`, ever
  normal

While a flood runs, the agent's output is read slowly (64 KiB per 10 ms),
as a loaded peer would.

Every event is a JSON line in --record FILE:
  {"t": <unix time>, "event": "connect", "conn": n, "scenario": s}
  {"t": ..., "event": "message", "conn": n, "type": <type or null>}
  {"t": ..., "event": "close", "conn": n, "code": c, "reason": r}
         (the agent's close frame; code null without a status)
  {"t": ..., "event": "flood", "conn": n, "sent": frames, "seconds": s}
         (what was written; then a ping, whose pong gives)
  {"t": ..., "event": "drained", "conn": n}
  {"t": ..., "event": "eof", "conn": n}
The first stdout line is `LISTENING port=<p>`.
"""

import argparse
import asyncio
import base64
import hashlib
import json
import os
import signal
import struct
import sys
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Peer:
    def __init__(self, args):
        self.args = args
        self.scenarios = [s for s in args.scenarios.split(",") if s]
        self.nconn = 0
        self.record = open(args.record, "a", buffering=1)

    def log(self, event, **kw):
        kw = dict(t=time.time(), event=event, **kw)
        self.record.write(json.dumps(kw) + "\n")


def frame(op, payload=b"", fin=True):
    h = bytes([(0x80 if fin else 0) | op])
    n = len(payload)
    if n < 126:
        h += bytes([n])
    elif n < 65536:
        h += bytes([126]) + struct.pack("!H", n)
    else:
        h += bytes([127]) + struct.pack("!Q", n)
    return h + payload


def text(obj):
    return frame(1, json.dumps(obj).encode())


class Conn:
    def __init__(self, peer, reader, writer, n, scenario):
        self.peer = peer
        self.r = reader
        self.w = writer
        self.n = n
        self.scenario = scenario
        self.registered = asyncio.Event()
        self.closed = False         # the agent's close came, or EOF
        self.slow = False
        self.buf = b""

    def log(self, event, **kw):
        self.peer.log(event, conn=self.n, **kw)

    async def send(self, data):
        if self.w.is_closing():
            raise ConnectionError("closed")
        self.w.write(data)
        await self.w.drain()

    async def upgrade(self):
        head = await asyncio.wait_for(self.r.readuntil(b"\r\n\r\n"), 10)
        key = None
        for line in head.decode("latin-1").split("\r\n"):
            k, _, v = line.partition(":")
            if k.strip().lower() == "sec-websocket-key":
                key = v.strip().encode()
        acc = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
        await self.send(("HTTP/1.1 101 Switching Protocols\r\n"
                         "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Accept: %s\r\n\r\n" % acc).encode())

    async def read_frames(self):
        """The agent's frames (masked, never fragmented by our agent)."""
        while True:
            if self.slow:
                await asyncio.sleep(0.01)
            data = await self.r.read(65536)
            if not data:
                self.log("eof")
                self.closed = True
                return
            self.buf += data
            while True:
                f = self.parse()
                if f is None:
                    break
                await self.on_frame(*f)

    def parse(self):
        b = self.buf
        if len(b) < 2:
            return None
        op, n, i = b[0] & 0x0F, b[1] & 0x7F, 2
        if n == 126:
            if len(b) < 4:
                return None
            n, i = struct.unpack("!H", b[2:4])[0], 4
        elif n == 127:
            if len(b) < 10:
                return None
            n, i = struct.unpack("!Q", b[2:10])[0], 10
        if b[1] & 0x80:
            if len(b) < i + 4 + n:
                return None
            mask = b[i:i + 4]
            p = bytes(c ^ mask[j % 4] for j, c in enumerate(b[i + 4:i + 4 + n]))
            self.buf = b[i + 4 + n:]
        else:
            if len(b) < i + n:
                return None
            p = b[i:i + n]
            self.buf = b[i + n:]
        return op, p

    async def on_frame(self, op, p):
        if op == 1:
            try:
                typ = json.loads(p).get("type")
            except ValueError:
                typ = None
            self.log("message", type=typ)
            if typ == "register" and self.scenario != "silent":
                await self.send(text({"type": "registered",
                                      "payload": {"host_id": "test-host"}}))
                self.registered.set()
        elif op == 10:
            if p == b"drained?":
                self.log("drained")
        elif op == 9:
            if not self.closed:
                await self.send(frame(10, p))
        elif op == 8:
            code = struct.unpack("!H", p[:2])[0] if len(p) >= 2 else None
            self.log("close", code=code, reason=p[2:].decode(errors="replace"))
            self.closed = True
            try:
                await self.send(frame(8, p[:2]))
            except ConnectionError:
                pass

    async def flood(self, chunks):
        """Write the chunks (an iterator) until done, closed or out of time."""
        a = self.peer.args
        self.slow = True
        t0, sent = time.monotonic(), 0
        try:
            for data, frames in chunks:
                if self.closed or time.monotonic() - t0 > a.flood_seconds:
                    break
                await self.send(data)
                sent += frames
        except (ConnectionError, OSError):
            pass
        self.log("flood", sent=sent, seconds=round(time.monotonic() - t0, 3))
        self.slow = False
        if not self.closed:
            # Its pong comes once the agent has read the whole flood.
            try:
                await self.send(frame(9, b"drained?"))
            except (ConnectionError, OSError):
                pass

    async def run_scenario(self):
        a, s = self.peer.args, self.scenario
        if s in ("normal", "silent"):
            return
        await self.registered.wait()
        await asyncio.sleep(a.settle)
        if s == "ping-flood":
            batch = frame(9) * 16384
            await self.flood((batch, 16384) for _ in range(10 ** 6))
        elif s == "msg-flood":
            good = frame(1, b'{"type":"flood","payload":{}}')
            bad = frame(1, b'{"type":')
            batch = (good + bad) * 1024
            await self.flood((batch, 2048) for _ in range(a.count // 2048))
        elif s == "frag-flood":
            one = frame(0, b" ", fin=False)
            batch = one * 16384
            await self.send(frame(1, b'{"type":"frag","payload":{}', fin=False))
            await self.flood((batch, 16384) for _ in range(a.count // 16384))
            if not self.closed:
                await self.send(frame(0, b"}"))
        elif s == "frag-forever":
            await self.send(frame(1, b'{"type":', fin=False))
            for _ in range(int(a.flood_seconds)):
                if self.closed:
                    break
                await self.send(frame(0, b" ", fin=False))
                await asyncio.sleep(1)
        elif s == "close-1byte":
            await self.send(b"\x88\x01\x03")
        elif s == "close-badcode":
            await self.send(frame(8, struct.pack("!H", 1005)))
        elif s == "len63":
            await self.send(b"\x81\x7f\x80\x00\x00\x00\x00\x00\x00\x00" + b"x" * 64)
        elif s == "opcode":
            await self.send(b"\x83\x00")

    async def serve(self):
        try:
            await self.upgrade()
            task = asyncio.ensure_future(self.run_scenario())
            try:
                await self.read_frames()
            finally:
                task.cancel()
        except (ConnectionError, OSError, asyncio.IncompleteReadError,
                asyncio.TimeoutError):
            self.log("eof")
        finally:
            self.w.close()


async def main(args):
    peer = Peer(args)

    async def handle(reader, writer):
        peer.nconn += 1
        n = peer.nconn
        s = peer.scenarios[n - 1] if n <= len(peer.scenarios) else "normal"
        peer.log("connect", conn=n, scenario=s)
        await Conn(peer, reader, writer, n, s).serve()

    srv = await asyncio.start_server(handle, "127.0.0.1", args.port)
    print("LISTENING port=%d" % srv.sockets[0].getsockname()[1], flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await asyncio.wait_for(stop.wait(), args.lifetime)
    except asyncio.TimeoutError:
        pass
    srv.close()
    os._exit(0)


def parse_args(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--record", required=True)
    p.add_argument("--scenarios", default="")
    p.add_argument("--count", type=int, default=300000)
    p.add_argument("--flood-seconds", type=float, default=10.0)
    p.add_argument("--settle", type=float, default=2.5)
    p.add_argument("--lifetime", type=float, default=300.0,
                   help="exit after this many seconds whatever happens")
    return p.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
