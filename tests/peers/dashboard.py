#!/usr/bin/python3
"""Reference NixFleet dashboard for tests (nixfleet-protocol.md §1, §7).

Serves `GET /ws` over ws:// or wss:// (python3-websockets 10.4, legacy
asyncio API).  With --token, an upgrade without `Authorization: Bearer
<token>` gets HTTP 401 before the upgrade.  Answers `register` with
`registered{host_id:<hostname>}`.  Plain GETs of `/` and `/health` answer
200 {"status":"ok"} (what `nixfleet-agent --check` and the launchd script
poll); any other path answers 404.

Every event is printed to stdout and, with --record FILE, appended to FILE
as one JSON line:
  {"t": <unix time>, "event": "connect", "conn": n, "path": ..., "headers": {...}}
  {"t": ..., "event": "message", "conn": n, "data": <parsed JSON or raw text>}
  {"t": ..., "event": "binary", "conn": n, "hex": ...}
  {"t": ..., "event": "sent", "conn": n, "data": ...}          (what we sent)
  {"t": ..., "event": "ping", "conn": n, "hex": ...}           (agent's ping)
  {"t": ..., "event": "close", "conn": n, "code": c, "reason": r}
  {"t": ..., "event": "reject", "status": s, "path": ..., "headers": {...}}
  {"t": ..., "event": "http", "status": s, "path": ..., "headers": {...}}
"code" on close is the code of the close frame the agent sent (1006 if
the TCP connection ended without one).

With --output-file FILE, `output` messages are neither printed nor in the
record: each is one JSON line [<unix time>, <conn>, <payload line>] in
FILE (a flood of 10^6 lines stays cheap to record and to read), and the
record gets only the other events.  --read-rate limits how fast every
connection is read (bytes a second, TLS payload), as a slow dashboard.

The first stdout line is `LISTENING port=<p> control=<c>`.  The control
channel is a TCP port on 127.0.0.1 taking one command per line and
answering one JSON line ({"ok": true, ...} or {"ok": false, "error": ...});
commands act on the most recent open connection (by hand:
`dashboard.py ctl <control port> <command>`):
  send <raw text>          send a raw text frame
  send-binary <text>       send <text> as a binary frame
  command <name>           send {"type":"command","payload":{"command":name}}
  kill_command <sig> <pid> send {"type":"kill_command","payload":{"signal":sig,"pid":pid}}
  send-big <bytes>         send a valid JSON text message of exactly <bytes> bytes
  send-fragmented [n]      send an unknown-type message ("fragmented_test")
                           in n fragments (default 4), a ping between fragments
  ping                     ping the agent, answer whether the pong came (2 s)
  silence                  stop reading from this connection (no more pongs,
                           no more messages); `resume` undoes it
  silence-for <seconds>    silence, then resume by itself after that long
  silence-all <seconds>    read nothing from any connection, new ones
                           included (TLS handshakes still complete), for
                           that long: a stalled dashboard
  rate <bytes/s>|off       read at most that many bytes a second from every
                           connection (as --read-rate)
  close <code> [reason]    close handshake with that code and reason
  close empty              close frame without a status code
  drop                     abort the TCP connection, no close frame
  reject <status>|off      answer every later upgrade with that HTTP status
  set-token <token>        change the expected token
  stats                    counters
  flush                    flush --output-file; answers the count so far
"""

import argparse
import asyncio
import collections
import http
import json
import logging
import signal
import ssl
import sys
import time

import websockets
from websockets.exceptions import ConnectionClosed
from websockets.frames import OP_PING, Close
from websockets.legacy.server import WebSocketServerProtocol


class State:
    def __init__(self, args):
        self.args = args
        self.token = args.token
        self.reject_status = None
        self.next_conn = 1
        self.conns = {}         # id -> protocol, open ones
        self.total = 0
        self.messages = 0
        self.rejects = 0
        self.record = None
        self.rate = args.read_rate or 0
        self.silent_until = 0.0     # silence-all: loop time
        self.protos = set()         # every connection, upgraded or not
        self.outputs = 0
        self.output_file = None
        if args.output_file:
            self.output_file = open(args.output_file, "a", buffering=1 << 16)
        if args.record:
            # Connection ids go on across restarts that share a record file.
            try:
                with open(args.record) as f:
                    self.next_conn += sum(1 for ln in f if '"event": "connect"' in ln)
            except FileNotFoundError:
                pass
            self.record = open(args.record, "a", buffering=1)

    def log(self, event, **kw):
        rec = {"t": time.time(), "event": event}
        rec.update(kw)
        line = json.dumps(rec)
        if self.record:
            self.record.write(line + "\n")
            self.record.flush()
        shown = line if len(line) <= 2000 else line[:2000] + "...(%d bytes)" % len(line)
        print(shown, flush=True)

    def latest(self):
        if not self.conns:
            return None
        return self.conns[max(self.conns)]


STATE = None


def headers_dict(h):
    out = {}
    for k, v in h.raw_items():
        out[k] = v if k not in out else out[k] + ", " + v
    return out


class Protocol(WebSocketServerProtocol):
    """Records the agent's pings and checks the token before the upgrade."""

    conn_id = None
    silenced = False
    rl_t0 = None
    rl_bytes = 0
    rl_timer = None
    rl_pending = None

    # Reading slowly, or not at all, for real: asyncio's StreamReader
    # resumes a paused transport as soon as its own buffer drains, so
    # pausing alone does not hold.  What arrives while silenced or over
    # the rate waits here and is fed to the protocol on time.
    def connection_made(self, transport):
        super().connection_made(transport)
        STATE.protos.add(self)

    def connection_lost(self, exc):
        STATE.protos.discard(self)
        super().connection_lost(exc)

    def muted(self):
        return self.silenced or \
            STATE.silent_until > asyncio.get_running_loop().time()

    def data_received(self, data):
        if self.rl_pending is None:
            self.rl_pending = collections.deque()
        if not STATE.rate and not self.muted() and not self.rl_pending:
            self.rl_t0 = None
            super().data_received(data)
            return
        self.rl_pending.append(data)
        self.transport.pause_reading()
        if self.rl_timer is None:
            self.rl_feed()

    def rl_feed(self):
        self.rl_timer = None
        if self.muted() or self.transport.is_closing():
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        rate = STATE.rate
        if not rate or self.rl_t0 is None or \
                now > self.rl_t0 + self.rl_bytes / rate + 0.5:
            self.rl_t0, self.rl_bytes = now, 0     # no credit for idle time
        while self.rl_pending:
            if rate and self.rl_t0 + self.rl_bytes / rate > now:
                self.rl_timer = loop.call_later(
                    self.rl_t0 + self.rl_bytes / rate - now, self.rl_feed)
                return
            chunk = self.rl_pending.popleft()
            if rate and len(chunk) > 16384:
                self.rl_pending.appendleft(chunk[16384:])
                chunk = chunk[:16384]
            self.rl_bytes += len(chunk)
            super().data_received(chunk)
        self.transport.resume_reading()

    def rl_resume(self):
        if self.rl_timer is not None:
            self.rl_timer.cancel()
        self.rl_feed()

    async def read_frame(self, max_size):
        frame = await super().read_frame(max_size)
        if frame.opcode == OP_PING and self.conn_id is not None:
            STATE.log("ping", conn=self.conn_id, hex=frame.data.hex())
        return frame

    async def process_request(self, path, request_headers):
        st = STATE
        hdrs = headers_dict(request_headers)
        base = path.split("?", 1)[0]
        upgrade = "websocket" in request_headers.get("Upgrade", "").lower()
        if base != st.args.ws_path or not upgrade:
            if base in ("/", "/health", ""):
                status = http.HTTPStatus(st.args.health_status)
                body = json.dumps({"status": "ok"} if status < 400
                                  else {"status": "error"}).encode()
            else:
                status, body = http.HTTPStatus.NOT_FOUND, b"404 page not found\n"
            st.log("http", status=int(status), path=path, headers=hdrs)
            return status, [("Content-Type", "application/json"),
                            ("Connection", "close")], body
        if st.reject_status is not None:
            st.rejects += 1
            status = http.HTTPStatus(st.reject_status)
            st.log("reject", status=int(status), path=path, headers=hdrs)
            return status, [("Content-Type", "text/plain")], \
                (status.phrase + "\n").encode()
        if st.token is not None:
            got = request_headers.get("Authorization")
            if got != "Bearer " + st.token:
                st.rejects += 1
                st.log("reject", status=401, path=path, headers=hdrs)
                return http.HTTPStatus.UNAUTHORIZED, \
                    [("Content-Type", "text/plain; charset=utf-8")], \
                    b"Unauthorized\n"
        self.conn_id = st.next_conn
        st.next_conn += 1
        st.log("connect", conn=self.conn_id, path=path, headers=hdrs,
               peer=list(self.transport.get_extra_info("peername") or ())[:2],
               cipher=self.transport.get_extra_info("cipher"))
        return None


async def send_logged(ws, data):
    await ws.send(data)
    try:
        shown = json.loads(data) if isinstance(data, str) else data.hex()
    except ValueError:
        shown = data
    if isinstance(data, str) and len(data) > 4096:
        shown = "<%d bytes>" % len(data)
    STATE.log("sent", conn=ws.conn_id, data=shown)


async def handler(ws, path=None):
    st = STATE
    cid = ws.conn_id
    st.conns[cid] = ws
    st.total += 1
    try:
        async for msg in ws:
            if isinstance(msg, bytes):
                st.log("binary", conn=cid, hex=msg[:4096].hex(), size=len(msg))
                continue
            st.messages += 1
            try:
                data = json.loads(msg)
            except ValueError:
                st.log("message", conn=cid, data=msg, invalid_json=True)
                continue
            if (st.output_file is not None and isinstance(data, dict)
                    and data.get("type") == "output"
                    and isinstance(data.get("payload"), dict)):
                st.outputs += 1
                st.output_file.write(json.dumps(
                    [time.time(), cid, data["payload"].get("line")]) + "\n")
                continue
            st.log("message", conn=cid, data=data, size=len(msg.encode()))
            if (isinstance(data, dict) and data.get("type") == "register"
                    and not st.args.no_registered):
                payload = data.get("payload") or {}
                host = st.args.host_id or payload.get("hostname", "")
                await send_logged(ws, json.dumps(
                    {"type": "registered", "payload": {"host_id": host}}))
    except ConnectionClosed:
        pass
    finally:
        if st.output_file is not None:
            st.output_file.flush()
        st.conns.pop(cid, None)
        try:
            await asyncio.wait_for(ws.wait_closed(), 5)
        except asyncio.TimeoutError:
            pass
        st.log("close", conn=cid, code=ws.close_code, reason=ws.close_reason)


async def close_empty(ws):
    """A close frame without a status code (what a dashboard sends the old
    connection of a host that registered again, §1.5)."""
    await ws.write_close_frame(Close(1005, ""), b"")
    try:
        await asyncio.wait_for(asyncio.shield(ws.transfer_data_task), 2)
    except asyncio.TimeoutError:
        ws.fail_connection()


def big_message(size):
    """A valid JSON text message of exactly size bytes (ASCII)."""
    head = '{"type":"big_test","payload":{"pad":"'
    tail = '"}}'
    n = size - len(head) - len(tail)
    if n < 0:
        raise ValueError("size too small")
    return head + "x" * n + tail


async def fragments(ws, text, n):
    step = max(1, -(-len(text) // n))
    parts = [text[i:i + step] for i in range(0, len(text), step)]
    for i, p in enumerate(parts):
        if i:
            # A ping between two fragments of one message (RFC 6455 §5.4
            # allows control frames in the middle of a fragmented message).
            await ws.ping()
            STATE.log("sent-ping", conn=ws.conn_id)
            await asyncio.sleep(0.1)
        yield p


def spawn(coro):
    t = asyncio.ensure_future(coro)

    def done(fut):
        if not fut.cancelled() and fut.exception() is not None:
            e = fut.exception()
            if not isinstance(e, ConnectionClosed):
                STATE.log("error", text=repr(e))
    t.add_done_callback(done)
    return t


async def control_command(line):
    st = STATE
    cmd, _, rest = line.strip().partition(" ")
    if cmd == "stats":
        return {"ok": True, "open": sorted(st.conns), "total": st.total,
                "messages": st.messages, "rejects": st.rejects,
                "outputs": st.outputs,
                "reject_status": st.reject_status}
    if cmd == "reject":
        st.reject_status = None if rest.strip() == "off" else int(rest)
        return {"ok": True}
    if cmd == "rate":
        st.rate = 0 if rest.strip() in ("off", "0", "") else float(rest)
        return {"ok": True, "rate": st.rate}
    if cmd == "flush":
        if st.output_file is not None:
            st.output_file.flush()
        return {"ok": True, "outputs": st.outputs}
    if cmd == "set-token":
        st.token = rest.strip() or None
        return {"ok": True}
    ws = st.latest()
    if ws is None:
        return {"ok": False, "error": "no connection"}
    cid = ws.conn_id
    if cmd == "send":
        spawn(send_logged(ws, rest))
    elif cmd == "send-binary":
        spawn(send_logged(ws, rest.encode()))
    elif cmd == "command":
        spawn(send_logged(ws, json.dumps(
            {"type": "command", "payload": {"command": rest.strip()}})))
    elif cmd == "kill_command":
        sig, _, pid = rest.strip().partition(" ")
        spawn(send_logged(ws, json.dumps(
            {"type": "kill_command",
             "payload": {"signal": sig, "pid": int(pid or 0)}})))
    elif cmd == "send-big":
        spawn(send_logged(ws, big_message(int(rest))))
    elif cmd == "send-fragmented":
        n = int(rest) if rest.strip() else 4
        text = json.dumps({"type": "fragmented_test",
                           "payload": {"pad": "f" * 300}})

        async def go():
            await ws.send(fragments(ws, text, n))
            st.log("sent", conn=cid, data=json.loads(text), fragments=n)
        spawn(go())
    elif cmd == "ping":
        try:
            waiter = await ws.ping()
            await asyncio.wait_for(waiter, 2)
            return {"ok": True, "conn": cid, "pong": True}
        except (asyncio.TimeoutError, ConnectionClosed):
            return {"ok": True, "conn": cid, "pong": False}
    elif cmd == "silence":
        ws.silenced = True
        ws.transport.pause_reading()
        st.log("silence", conn=cid)
    elif cmd == "silence-all":
        # The whole dashboard stalls: every connection, new ones too.
        secs = float(rest)
        loop = asyncio.get_running_loop()
        st.silent_until = loop.time() + secs
        for p in list(st.protos):
            p.transport.pause_reading()
        st.log("silence-all", seconds=secs)

        def unsilence_all():
            if st.silent_until > loop.time():
                return
            for p in list(st.protos):
                p.rl_resume()
            st.log("resume-all")
        loop.call_later(secs + 0.001, unsilence_all)
    elif cmd == "silence-for":
        secs = float(rest)
        ws.silenced = True
        ws.transport.pause_reading()
        st.log("silence", conn=cid, seconds=secs)

        def unsilence():
            ws.silenced = False
            ws.rl_resume()
            st.log("resume", conn=cid)
        asyncio.get_running_loop().call_later(secs, unsilence)
    elif cmd == "resume":
        ws.silenced = False
        ws.rl_resume()
    elif cmd == "close":
        code_s, _, reason = rest.strip().partition(" ")
        if code_s in ("", "empty"):
            spawn(close_empty(ws))
        else:
            spawn(ws.close(int(code_s), reason))
    elif cmd == "drop":
        ws.transport.abort()
        st.log("drop", conn=cid)
    else:
        return {"ok": False, "error": "unknown command " + cmd}
    return {"ok": True, "conn": cid}


async def control_client(reader, writer):
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            try:
                reply = await control_command(line.decode())
            except Exception as e:  # report, keep serving
                reply = {"ok": False, "error": repr(e)}
            writer.write((json.dumps(reply) + "\n").encode())
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def main(args):
    global STATE
    STATE = State(args)
    sslctx = None
    if args.cert:
        sslctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sslctx.load_cert_chain(args.cert, args.key or args.cert)
    hosts = args.host or ["127.0.0.1"]
    servers = []
    port = args.port
    for h in hosts:
        srv = await websockets.serve(
            handler, h, port, ssl=sslctx, create_protocol=Protocol,
            max_size=args.max_size, ping_interval=args.ping_interval or None,
            ping_timeout=args.ping_timeout or None, close_timeout=2,
            compression=None)
        servers.append(srv)
        if port == 0:
            port = srv.sockets[0].getsockname()[1]
    ctl = await asyncio.start_server(control_client, "127.0.0.1",
                                     args.control_port)
    cport = ctl.sockets[0].getsockname()[1]
    print("LISTENING port=%d control=%d scheme=%s" % (
        port, cport, "wss" if sslctx else "ws"), flush=True)

    stop = asyncio.get_running_loop().create_future()
    for s in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(
            s, lambda: stop.done() or stop.set_result(None))
    await stop
    ctl.close()
    for srv in servers:
        srv.close()          # closes open connections with 1001
    try:
        await asyncio.wait_for(
            asyncio.gather(*(s.wait_closed() for s in servers)), 3)
    except asyncio.TimeoutError:
        pass


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", action="append",
                   help="address to bind (repeatable, same port); default 127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 = pick one")
    p.add_argument("--cert", help="PEM certificate: serve wss://")
    p.add_argument("--key", help="PEM private key")
    p.add_argument("--token", help="expected Bearer token (else accept any)")
    p.add_argument("--record", help="append one JSON line per event to FILE")
    p.add_argument("--control-port", type=int, default=0)
    p.add_argument("--ws-path", default="/ws")
    p.add_argument("--health-status", type=int, default=200,
                   help="status of GET / and /health")
    p.add_argument("--max-size", type=int, default=512 * 1024,
                   help="largest message accepted from the agent (dashboard: 512 KiB)")
    p.add_argument("--ping-interval", type=float, default=0,
                   help="seconds between our pings (0 = none)")
    p.add_argument("--ping-timeout", type=float, default=0)
    p.add_argument("--no-registered", action="store_true",
                   help="never answer register")
    p.add_argument("--host-id", help="host_id to answer instead of the hostname")
    p.add_argument("--output-file",
                   help="write output messages here, one JSON line each, "
                   "instead of the record")
    p.add_argument("--read-rate", type=float, default=0,
                   help="read at most this many bytes a second (0 = no limit)")
    return p.parse_args(argv)


def ctl(port, line):
    """`dashboard.py ctl <control port> <command...>`: send one command."""
    import socket
    with socket.create_connection(("127.0.0.1", int(port)), timeout=10) as s:
        s.sendall(line.encode() + b"\n")
        print(s.makefile().readline().strip())


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "ctl":
        ctl(sys.argv[2], " ".join(sys.argv[3:]))
        sys.exit(0)
    logging.basicConfig(level=logging.CRITICAL)
    try:
        asyncio.run(main(parse_args()))
    except KeyboardInterrupt:
        pass
    sys.exit(0)
