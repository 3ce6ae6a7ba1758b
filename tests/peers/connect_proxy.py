#!/usr/bin/python3
"""A small HTTP CONNECT proxy for tests (asyncio, standard library only).

  connect_proxy.py [--port 0] [--auth user:pass] [--record FILE]

Accepts `CONNECT host:port HTTP/1.1`; with --auth the request must carry
`Proxy-Authorization: Basic base64(user:pass)`, else 407 with
`Proxy-Authenticate: Basic realm="test"`.  Other methods get 405.  It
only tunnels to loopback addresses (403 otherwise), so a test can never
make it reach beyond the machine.  On success it answers `200 Connection
established` and pipes bytes both ways.

Prints `LISTENING port=<p>` first, then one JSON line per event, also
appended to --record FILE:
  {"t": ..., "event": "connect", "target": "host:port", "headers": {...}, "status": 200}
  {"t": ..., "event": "reject", "target": ..., "status": 407|403|405|502, "headers": {...}}
  {"t": ..., "event": "closed", "target": ..., "up": <bytes to target>, "down": <bytes back>}
"""

import argparse
import asyncio
import base64
import ipaddress
import json
import signal
import socket
import sys
import time

RECORD = None


def log(event, **kw):
    rec = {"t": time.time(), "event": event}
    rec.update(kw)
    line = json.dumps(rec)
    if RECORD:
        RECORD.write(line + "\n")
        RECORD.flush()
    print(line, flush=True)


def split_target(target):
    if target.startswith("["):
        host, _, rest = target[1:].partition("]")
        port = rest.lstrip(":")
    else:
        host, _, port = target.rpartition(":")
    return host, int(port)


async def pipe(reader, writer, counter, key):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            counter[key] += len(data)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        try:
            if writer.can_write_eof():
                writer.write_eof()
        except (OSError, RuntimeError):
            pass


async def respond(writer, status, reason, extra=()):
    lines = ["HTTP/1.1 %d %s" % (status, reason)] + list(extra) + \
        ["Content-Length: 0", "", ""]
    writer.write("\r\n".join(lines).encode())
    await writer.drain()
    writer.close()


async def handle(reader, writer, auth):
    target = None
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    except (asyncio.TimeoutError, asyncio.IncompleteReadError,
            asyncio.LimitOverrunError, ConnectionError):
        writer.close()
        return
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    headers = {}
    for ln in lines[1:]:
        if ":" in ln:
            k, v = ln.split(":", 1)
            headers[k.strip()] = v.strip()
    if len(parts) != 3 or parts[0] != "CONNECT":
        log("reject", status=405, request=lines[0], headers=headers)
        await respond(writer, 405, "Method Not Allowed")
        return
    target = parts[1]
    if auth is not None:
        want = "Basic " + base64.b64encode(auth.encode()).decode()
        got = next((v for k, v in headers.items()
                    if k.lower() == "proxy-authorization"), None)
        if got != want:
            log("reject", status=407, target=target, headers=headers)
            await respond(writer, 407, "Proxy Authentication Required",
                          ['Proxy-Authenticate: Basic realm="test"'])
            return
    try:
        host, port = split_target(target)
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM)
        addrs = [i[4][0] for i in infos]
        if not addrs or not all(ipaddress.ip_address(a.split("%")[0]).is_loopback
                                for a in addrs):
            log("reject", status=403, target=target, headers=headers,
                addresses=addrs)
            await respond(writer, 403, "Forbidden")
            return
        up_r, up_w = await asyncio.wait_for(
            asyncio.open_connection(addrs[0], port), 10)
    except (OSError, ValueError, asyncio.TimeoutError) as e:
        log("reject", status=502, target=target, headers=headers, error=str(e))
        await respond(writer, 502, "Bad Gateway")
        return
    log("connect", status=200, target=target, headers=headers)
    writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
    await writer.drain()
    counter = {"up": 0, "down": 0}
    await asyncio.gather(pipe(reader, up_w, counter, "up"),
                         pipe(up_r, writer, counter, "down"))
    for w in (writer, up_w):
        w.close()
    log("closed", target=target, **counter)


async def main(args):
    srv = await asyncio.start_server(
        lambda r, w: handle(r, w, args.auth), args.host, args.port)
    print("LISTENING port=%d" % srv.sockets[0].getsockname()[1], flush=True)
    stop = asyncio.get_running_loop().create_future()
    for s in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(
            s, lambda: stop.done() or stop.set_result(None))
    await stop
    srv.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="HTTP CONNECT proxy for tests")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--auth", help="user:pass required as Basic proxy auth")
    ap.add_argument("--record", help="append one JSON line per event to FILE")
    a = ap.parse_args()
    if a.record:
        RECORD = open(a.record, "a", buffering=1)
    asyncio.run(main(a))
    sys.exit(0)
