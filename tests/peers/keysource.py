#!/usr/bin/python3
"""A GitHub-like SSH key source for tests (socketio-protocol.md §6.3).

Serves `GET <prefix>/<user>.keys` over HTTPS (http.server and ssl of
Debian's /usr/bin/python3; the certificate comes from tests/lib/certs.py)
from the files `<dir>/<user>.keys`.  Unknown users get
`404 Not Found`.  How the body is delimited follows the user name:
  *-chunked  Transfer-Encoding: chunked, in 7-byte chunks
  *-close    no length, HTTP/1.0-style, ends with the connection
  slow*      waits --slow seconds before the headers
  *-short    announces one byte more than it sends, then closes
  *-garbage  answers with bytes that are not HTTP
  *-huge     a 70 KiB body (over the agent's 63 KiB cap)
  anything else: Content-Length

Every request is appended to --record as one JSON line:
  {"t": <unix time>, "event": "request", "path": ..., "headers": {...}}
The first stdout line is `LISTENING port=<p>`.  The process ends by
itself after --lifetime seconds (default 300) or at SIGTERM.
"""

import argparse
import http.server
import json
import os
import signal
import ssl
import sys
import threading
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--prefix", default="")
    ap.add_argument("--record")
    ap.add_argument("--slow", type=float, default=15.0)
    ap.add_argument("--lifetime", type=float, default=300.0)
    args = ap.parse_args()
    lock = threading.Lock()

    def record(**kw):
        kw["t"] = time.time()
        line = json.dumps(kw)
        print(line, flush=True)
        if args.record:
            with lock, open(args.record, "a") as f:
                f.write(line + "\n")

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            pass

        def do_GET(self):
            record(event="request", path=self.path,
                   headers={k: v for k, v in self.headers.items()})
            path = self.path
            user = None
            if path.startswith(args.prefix + "/") and path.endswith(".keys"):
                user = path[len(args.prefix) + 1:-len(".keys")]
            f = os.path.join(args.dir, (user or "") + ".keys")
            if not user or "/" in user or not os.path.isfile(f):
                body = b"Not Found"
                self.send_response(404, "Not Found")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
                return
            body = open(f, "rb").read()
            if user.startswith("slow"):
                time.sleep(args.slow)
            if user.endswith("-garbage"):
                self.wfile.write(b"SSH-2.0-not-http\r\n\r\n")
                self.close_connection = True
                return
            if user.endswith("-huge"):
                body = (body * (70 * 1024 // max(1, len(body)) + 1))[:70 * 1024]
            self.send_response(200, "OK")
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            if user.endswith("-short"):
                self.send_header("Content-Length", str(len(body) + 1))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True
            elif user.endswith("-chunked"):
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for i in range(0, len(body), 7):
                    c = body[i:i + 7]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(c), c))
                self.wfile.write(b"0\r\n\r\n")
            elif user.endswith("-close"):
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True
            else:
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    threading.Timer(args.lifetime, lambda: os._exit(0)).start()
    print("LISTENING port=%d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
