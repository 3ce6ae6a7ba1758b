#!/usr/bin/python3
"""The socketio dialect's test peers (tests/peers/socketio/), proved
without the agent: the socket.io 4.8 server on node, the python-socketio
server and the raw Engine.IO peer, each driven by a small client that
signs the handshake as the C signer does (the §3.3 vectors are checked
here and in check_sign).  A good signature connects and gets hello_ack; a
stale ts and a bad signature are refused with the forms of §3.4; events
are recorded.  The first run installs socket.io with `npm ci`."""

import asyncio
import hashlib
import hmac
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

import socketio  # noqa: E402  (Debian's python3-socketio)
import websockets  # noqa: E402

SIO_DIR = h.PEERS / "socketio"
NODE = shutil.which("node") or "/usr/bin/node"
NPM = shutil.which("npm") or "/usr/bin/npm"
TOKEN = "s3cret"
CLIENT_ID = "host-01"


def npm_ci():
    """node_modules from the committed lock, once per lock change."""
    stamp = SIO_DIR / "node_modules" / ".package-lock.json"
    lock = SIO_DIR / "package-lock.json"
    if (stamp.exists() and stamp.stat().st_mtime >= lock.stat().st_mtime and
            (SIO_DIR / "node_modules" / "socket.io").is_dir()):
        return
    subprocess.run([NPM, "ci", "--no-audit", "--no-fund"], cwd=SIO_DIR,
                   check=True, timeout=300, stdout=subprocess.DEVNULL)


def setUpModule():
    npm_ci()


# ---------------------------------------------------------------- signing

def sign(token, client_id, ts):
    """§3.1: lowercase hex HMAC-SHA256 over {"clientId":"<id>","ts":<ts>}."""
    msg = '{"clientId":"%s","ts":%d}' % (client_id, ts)
    return hmac.new(token.encode(), msg.encode(), hashlib.sha256).hexdigest()


def now_ms():
    return int(time.time() * 1000)


SIO_SIGN = h.BUILD_DIR / "tests" / "sio_sign"


def c_query(client_id=CLIENT_ID, ts=None, token=TOKEN):
    """The query as supervisor/sign.c writes it (tests/tools/sio_sign)."""
    if not os.access(SIO_SIGN, os.X_OK):
        raise RuntimeError("not built: %s (set BUILD_DIR)" % SIO_SIGN)
    argv = [str(SIO_SIGN), client_id] + ([] if ts is None else [str(ts)])
    out = subprocess.run(argv, env={"SIO_SIGN_KEY": token}, check=True,
                         capture_output=True, text=True, timeout=10)
    return out.stdout.strip()


def query(token=TOKEN, client_id=CLIENT_ID, ts=None, sig=None):
    ts = now_ms() if ts is None else ts
    sig = sign(token, client_id, ts) if sig is None else sig
    return "clientId=%s&ts=%d&sig=%s" % (client_id, ts, sig)


# ---------------------------------------------------------------- peers

class SioPeer(h._Peer):
    """A peer of tests/peers/socketio/; interpreter per script."""

    interpreter = h.PYTHON

    def __init__(self, work, args=(), name=None):
        super().__init__(work, args, name=name)

    def command(self, port):
        return ["--port", str(port), "--control-port", "0",
                "--record", str(self.record_path)]

    def start(self, port=None, timeout=20):
        cmd = ([self.interpreter, str(SIO_DIR / self.script)] +
               self.command(port or 0) + self.extra)
        out = open(self.out_path, "a")
        try:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
                cwd=str(SIO_DIR),
                env={"PATH": h.PATH, "PYTHONDONTWRITEBYTECODE": "1"})
        finally:
            out.close()

        def listening():
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited %s:\n%s" % (
                    self.name, self.proc.returncode, self.output()))
            for line in self.output().splitlines():
                if line.startswith("LISTENING "):
                    return dict(kv.split("=", 1) for kv in line.split()[1:])
            return None
        self.info = h.wait_for(listening, timeout, what=self.name + " to listen")
        self.port = int(self.info["port"])
        return self

    def control(self, line, timeout=10):
        import socket
        with socket.create_connection(("127.0.0.1", int(self.info["control"])),
                                      timeout=timeout) as s:
            s.sendall(line.encode() + b"\n")
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                buf += chunk
        r = json.loads(buf.decode())
        if not r.get("ok"):
            raise AssertionError("%s: %s" % (line, r))
        return r


class NodePeer(SioPeer):
    interpreter = NODE
    script = "server.js"
    name = "sio-node"

    def command(self, port):
        return super().command(port) + ["--token", TOKEN]


class PythonPeer(SioPeer):
    script = "server.py"
    name = "sio-python"

    def command(self, port):
        return super().command(port) + ["--token", TOKEN]


class RawPeer(SioPeer):
    script = "raw_peer.py"
    name = "sio-raw"


# ---------------------------------------------------------------- clients

def run(coro, timeout=20):
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def raw_session(url, steps, max_frames=20, timeout=5):
    """Connect with a plain WebSocket, send "40/agents," after the open
    packet, then collect text frames until steps(frames) says stop."""
    frames = []
    async with websockets.connect(url, compression=None,
                                  open_timeout=timeout) as ws:
        frames.append(await asyncio.wait_for(ws.recv(), timeout))
        await ws.send("40/agents,")
        while len(frames) < max_frames:
            try:
                f = await asyncio.wait_for(ws.recv(), timeout)
            except (asyncio.TimeoutError, websockets.ConnectionClosed):
                break
            if f == "2":
                await ws.send("3")
                continue
            frames.append(f)
            reply = steps(frames)
            if reply is True:
                break
            after = None
            if isinstance(reply, tuple):
                reply, after = reply
            if isinstance(reply, str):
                await ws.send(reply)
            if after is not None:
                await asyncio.get_running_loop().run_in_executor(None, after)
    return frames


def until(pred):
    return lambda frames: True if pred(frames[-1]) else None


class PeerCase:
    """The checks every real server passes; mixed into one class per peer."""

    peer_class = None
    open_has_max_payload = True

    def setUp(self):
        self.work = h.Work(self.id().split(".")[-1][:40])
        self.addCleanup(self.work.cleanup)

    def start_peer(self, *args):
        p = self.peer_class(self.work, args)
        self.addCleanup(p.stop)
        return p.start()

    def ws_url(self, peer, q, path="/socket.io/"):
        return "ws://127.0.0.1:%d%s?EIO=4&transport=websocket&%s" % (
            peer.port, path, q)

    def wait_event(self, peer, name, timeout=10):
        return h.wait_for(lambda: [r for r in peer.records("event")
                                   if r["name"] == name], timeout,
                          what="%s recorded by %s:\n%s" % (
                              name, peer.name, h.tail(peer.output())))

    def test_sign_vectors(self):
        self.assertEqual(sign("s3cret", "host-01", 1700000000000),
                         "130087beba31b698676e0372fa2f76311625886b"
                         "90ca1cbfb1a7802ceb7c37e7")
        self.assertEqual(sign("k", "c1", 1),
                         "9b79782510fcc4e4fa52816dcdad7b598d4cdb63"
                         "aeb9512a5f6f60a3a80c6305")

    def test_c_signer(self):
        """The C signer and this file's agree, byte for byte, on the
        §3.3 vector and on now; the server accepts the C query."""
        self.assertEqual(c_query("host-01", 1700000000000, "s3cret"),
                         "clientId=host-01&ts=1700000000000&sig="
                         "130087beba31b698676e0372fa2f76311625886b"
                         "90ca1cbfb1a7802ceb7c37e7")
        ts = now_ms()
        self.assertEqual(c_query(ts=ts), query(ts=ts))
        self.assertEqual(c_query("node:7", 5), "clientId=node%3A7&ts=5&sig=" +
                         sign(TOKEN, "node:7", 5))
        peer = self.start_peer()
        frames = run(raw_session(self.ws_url(peer, c_query()),
                                 until(lambda f: "hello_ack" in f)))
        self.assertIn('42/agents,["hello_ack",{}]', frames)
        self.assertEqual(peer.records("reject"), [])

    def test_client_connects(self):
        """A real socket.io client, signed by the C signer: hello_ack,
        stats and pong recorded, the ts of a ping echoed exactly (I7)."""
        peer = self.start_peer()
        got = {"hello": asyncio.Event(), "ping": None}

        async def main():
            c = socketio.AsyncClient(reconnection=False)
            pinged = asyncio.Event()

            @c.on("hello_ack", namespace="/agents")
            async def hello(data=None):
                got["hello"].set()

            @c.on("ping", namespace="/agents")
            async def ping(data):
                got["ping"] = data
                await c.emit("pong", {"ts": data["ts"]}, namespace="/agents")
                pinged.set()

            await c.connect("http://127.0.0.1:%d/?%s" % (peer.port, c_query()),
                            namespaces=["/agents"], transports=["websocket"],
                            socketio_path="socket.io", wait_timeout=10)
            await asyncio.wait_for(got["hello"].wait(), 10)
            await c.emit("stats", {"data": {"cpu": 7.25,
                                            "agentVersion": "0.1.0"}},
                         namespace="/agents")
            await asyncio.get_running_loop().run_in_executor(
                None, peer.control, "ping 1795505706906")
            await asyncio.wait_for(pinged.wait(), 10)
            self.wait_event(peer, "pong")
            await c.disconnect()
        run(main(), 30)
        self.assertEqual(got["ping"], {"ts": 1795505706906})
        stats = self.wait_event(peer, "stats")
        self.assertEqual(stats[0]["args"], [{"data": {"cpu": 7.25,
                                                      "agentVersion": "0.1.0"}}])
        pong = self.wait_event(peer, "pong")
        self.assertEqual(pong[0]["args"], [{"ts": 1795505706906}])
        conn = peer.records("connect")[0]
        self.assertEqual(conn["query"]["clientId"], CLIENT_ID)
        self.assertEqual(len(conn["query"]["sig"]), 64)
        self.assertEqual(peer.records("reject"), [])

    def test_wire_forms(self):
        """The bare frames: the open packet, the CONNECT ack, hello_ack,
        an ack the server asked for (id 0 included) and the kick."""
        peer = self.start_peer()
        url = self.ws_url(peer, query())

        def steps(frames):
            f = frames[-1]
            if f.startswith("40/agents,"):
                return None
            if f == '42/agents,["hello_ack",{}]':
                peer.control('emit-ack admin_run {"cmd":{"command":"uptime"}}')
                return None
            m = re.match(r'42/agents,(\d+)\["admin_run",', f)
            if m:
                # answered at once, then the kick
                return ("43/agents,%s[]" % m.group(1),
                        lambda: peer.control("disconnect"))
            return True
        frames = run(raw_session(url, steps))
        opened = json.loads(frames[0][1:])
        self.assertEqual(frames[0][0], "0")
        self.assertIn("sid", opened)
        self.assertEqual("maxPayload" in opened, self.open_has_max_payload)
        self.assertGreater(opened["pingInterval"], 0)
        self.assertIn('42/agents,["hello_ack",{}]', frames)
        self.assertTrue(any(f.startswith('40/agents,{"sid":') for f in frames),
                        frames)
        # socket.io numbers acks from 0, python-socketio from 1
        self.assertTrue(any(re.fullmatch(
            r'42/agents,\d+\["admin_run",\{"cmd":\{"command":"uptime"\}\}\]',
            f) for f in frames), frames)
        self.assertEqual(frames[-1], "41/agents,")
        acks = h.wait_for(lambda: peer.records("ack"), 10, what="ack")
        self.assertEqual(acks[0]["args"], [])

    def rejected(self, peer, q, reason):
        frames = run(raw_session(self.ws_url(peer, q),
                                 until(lambda f: f.startswith("44"))))
        self.assertEqual(frames[-1], '44/agents,{"message":"unauthorized"}',
                         frames)
        rej = h.wait_for(lambda: peer.records("reject"), 5, what="reject")
        self.assertEqual(rej[-1]["reason"], reason)
        self.assertEqual(peer.records("connect"), [])

    def test_stale_ts(self):
        peer = self.start_peer()
        self.rejected(peer, query(ts=now_ms() - 601000), "clock skew")

    def test_future_ts(self):
        peer = self.start_peer()
        self.rejected(peer, query(ts=now_ms() + 601000), "clock skew")

    def test_skew_window_edge(self):
        """599 s off is still inside the ±600 s window."""
        peer = self.start_peer()
        frames = run(raw_session(self.ws_url(peer, query(ts=now_ms() - 599000)),
                                 until(lambda f: "hello_ack" in f)))
        self.assertIn('42/agents,["hello_ack",{}]', frames)

    def test_bad_sig(self):
        peer = self.start_peer()
        self.rejected(peer, query(sig="0" * 64), "bad sig")

    def test_wrong_token(self):
        peer = self.start_peer()
        self.rejected(peer, query(token="wrong"), "bad sig")

    def test_missing_query(self):
        peer = self.start_peer()
        self.rejected(peer, "clientId=host-01", "missing clientId, ts or sig")

    def test_app_ping(self):
        """--app-ping-ms: the server's own ping events (§4.2)."""
        peer = self.start_peer("--app-ping-ms", "200")
        frames = run(raw_session(self.ws_url(peer, query()),
                                 until(lambda f: '["ping",' in f)))
        m = re.fullmatch(r'42/agents,\["ping",\{"ts":(\d+)\}\]', frames[-1])
        self.assertIsNotNone(m, frames)
        self.assertLess(abs(int(m.group(1)) - now_ms()), 60000)

    def test_path_prefix(self):
        """I2: a server under /api/socket.io/."""
        peer = self.start_peer("--path", "/api/socket.io")
        frames = run(raw_session(self.ws_url(peer, query(),
                                             path="/api/socket.io/"),
                                 until(lambda f: "hello_ack" in f)))
        self.assertIn('42/agents,["hello_ack",{}]', frames)


    def test_tls(self):
        """wss:// with a certificate given on the command line."""
        certs = h.certlib.make_certs(self.work.path("certs"))
        cert, key = certs.pair("server")
        peer = self.start_peer("--cert", str(cert), "--key", str(key))
        self.assertEqual(peer.info["scheme"], "wss")
        ctx = ssl.create_default_context(cafile=str(certs.ca))
        got = []

        async def main():
            async with websockets.connect(
                    "wss://localhost:%d/socket.io/?EIO=4&transport=websocket&%s"
                    % (peer.port, query()), ssl=ctx, compression=None) as ws:
                got.append(await asyncio.wait_for(ws.recv(), 5))
                await ws.send("40/agents,")
                while not got[-1].startswith("40/agents,"):
                    got.append(await asyncio.wait_for(ws.recv(), 5))
        run(main())
        self.assertEqual(got[0][0], "0")
        self.assertTrue(got[-1].startswith('40/agents,{"sid":'))


class NodePeerTest(PeerCase, unittest.TestCase):
    peer_class = NodePeer

    def test_fake_clock(self):
        """I4: --skew-ms moves the server's clock; a correct ts is stale."""
        peer = self.start_peer("--skew-ms", "700000")
        self.rejected(peer, query(), "clock skew")

    def test_soft_disconnect(self):
        """JS disconnect(): 41/agents, and the engine stays open."""
        peer = self.start_peer("--ping-interval", "300", "--ping-timeout",
                               "1000")
        got = []

        async def main():
            async with websockets.connect(self.ws_url(peer, query()),
                                          compression=None) as ws:
                got.append(await ws.recv())
                await ws.send("40/agents,")
                while got[-1] != '42/agents,["hello_ack",{}]':
                    got.append(await asyncio.wait_for(ws.recv(), 5))
                await asyncio.get_running_loop().run_in_executor(
                    None, peer.control, "disconnect-soft")
                while got[-1] != "41/agents,":
                    got.append(await asyncio.wait_for(ws.recv(), 5))
                # engine pings go on after the namespace is gone
                got.append(await asyncio.wait_for(ws.recv(), 5))
                await ws.send("3")
        run(main())
        self.assertEqual(got[-1], "2")

    def test_close_engine(self):
        peer = self.start_peer()

        def steps(frames):
            if frames[-1] == '42/agents,["hello_ack",{}]':
                return (None, lambda: peer.control("close-engine"))
            return None
        run(raw_session(self.ws_url(peer, query()), steps))
        d = h.wait_for(lambda: peer.records("disconnect"), 5,
                       what="disconnect")
        self.assertEqual(d[0]["reason"], "forced close")

    def test_binary_then_ping(self):
        """I12: socket.emit("bin", Buffer) is 451-/agents,... plus one
        binary frame."""
        peer = self.start_peer()
        got = []

        async def main():
            async with websockets.connect(self.ws_url(peer, query()),
                                          compression=None) as ws:
                await ws.recv()
                await ws.send("40/agents,")
                while True:
                    f = await asyncio.wait_for(ws.recv(), 5)
                    got.append(f)
                    if f == '42/agents,["hello_ack",{}]':
                        break
                await asyncio.get_running_loop().run_in_executor(
                    None, peer.control, "bin")
                got.append(await asyncio.wait_for(ws.recv(), 5))
                got.append(await asyncio.wait_for(ws.recv(), 5))
        run(main())
        self.assertEqual(got[-2], '451-/agents,["bin",{"_placeholder":true,'
                         '"num":0}]')
        self.assertEqual(got[-1], b"\x01\x02\x03")


class PythonPeerTest(PeerCase, unittest.TestCase):
    peer_class = PythonPeer
    open_has_max_payload = False

    def test_early_events(self):
        """I9: hello_ack (and ping with --early-ping) come before the
        CONNECT ack."""
        peer = self.start_peer("--early-ping")
        frames = run(raw_session(self.ws_url(peer, query()),
                                 until(lambda f: f.startswith("40/agents,"))))
        self.assertEqual(frames[1], '42/agents,["hello_ack",{}]', frames)
        self.assertTrue(frames[2].startswith('42/agents,["ping",{"ts":'), frames)
        self.assertTrue(frames[3].startswith('40/agents,{"sid":'), frames)

    def test_always_connect(self):
        """§2.2: with always_connect a refusal is 40 then 41{message}."""
        peer = self.start_peer("--always-connect")
        frames = run(raw_session(self.ws_url(peer, query(sig="0" * 64)),
                                 until(lambda f: f.startswith("41"))))
        self.assertTrue(frames[1].startswith('40/agents,{"sid":'), frames)
        self.assertEqual(frames[-1], '41/agents,{"message":"unauthorized"}')

    def test_close_engine(self):
        peer = self.start_peer()

        def steps(frames):
            if frames[-1].startswith("40/agents,"):
                return (None, lambda: peer.control("close-engine"))
            return None
        frames = run(raw_session(self.ws_url(peer, query()), steps))
        self.assertTrue(frames[-1].startswith("40/agents,") or
                        frames[-1] == "1", frames)
        h.wait_for(lambda: peer.records("disconnect"), 5, what="disconnect")

    def test_unregistered_namespace(self):
        """§2.2: python-socketio's bare string refusal."""
        peer = self.start_peer("--no-namespace")
        frames = run(raw_session(self.ws_url(peer, query()),
                                 until(lambda f: f.startswith("44"))))
        self.assertEqual(frames[-1], '44/agents,"Unable to connect"')


class RawPeerTest(unittest.TestCase):

    def setUp(self):
        self.work = h.Work(self.id().split(".")[-1][:40])
        self.addCleanup(self.work.cleanup)

    def start_peer(self, *args):
        p = RawPeer(self.work, args)
        self.addCleanup(p.stop)
        return p.start()

    def test_scripted(self):
        """The raw peer's handshake and arbitrary frames, invalid UTF-8
        included."""
        peer = self.start_peer("--no-max-payload", "--ping-interval", "300")
        got = []

        async def main():
            async with websockets.connect(
                    "ws://127.0.0.1:%d/socket.io/?EIO=4&transport=websocket&%s"
                    % (peer.port, query()), compression=None) as ws:
                got.append(await ws.recv())
                await ws.send("40/agents,")
                got.append(await ws.recv())
                got.append(await ws.recv())
                ctl = asyncio.get_running_loop().run_in_executor
                for cmd in ('send 42/agents,["x",{}]]', "send-binary 010203",
                            "send-big 100"):
                    await ctl(None, peer.control, cmd)
                while len(got) < 6:
                    f = await asyncio.wait_for(ws.recv(), 5)
                    if f != "2":
                        got.append(f)
                await ctl(None, peer.control, "silence")
                await ws.send("3")
                # last: invalid UTF-8, which this client refuses (1007)
                await ctl(None, peer.control, "send-hex 34ff")
                while True:
                    f = await asyncio.wait_for(ws.recv(), 5)
                    self.assertNotEqual(f, "2")
        with self.assertRaises(websockets.ConnectionClosedError):
            run(main())
        self.assertTrue(got[0].startswith('0{"sid":"rawsid"'))
        self.assertNotIn("maxPayload", got[0])
        self.assertEqual(got[1], '40/agents,{"sid":"nsraw"}')
        self.assertEqual(got[2], '42/agents,["hello_ack",{}]')
        self.assertEqual(got[3], '42/agents,["x",{}]]')
        self.assertEqual(got[4], b"\x01\x02\x03")
        self.assertEqual(got[5], '42/agents,["x","' + "a" * 82 + '"]')
        self.assertEqual(len(got[5]), 100)
        close = h.wait_for(lambda: peer.records("close"), 5, what="close")
        self.assertEqual(close[0]["code"], 1007)
        frames = [r.get("text") for r in peer.records("frame")]
        self.assertEqual(frames[0], "40/agents,")
        self.assertTrue(peer.records("connect")[0]["path"].startswith(
            "/socket.io/?EIO=4&transport=websocket&clientId=host-01&ts="))

    def test_silent_heartbeat(self):
        peer = self.start_peer("--ping-interval", "200")
        got = []

        async def main():
            async with websockets.connect(
                    "ws://127.0.0.1:%d/x" % peer.port, compression=None) as ws:
                got.append(await ws.recv())
                f = await asyncio.wait_for(ws.recv(), 2)
                got.append(f)
                await ws.send("3")
                await asyncio.get_running_loop().run_in_executor(
                    None, peer.control, "silence")
                await asyncio.sleep(0.3)
                try:
                    while True:
                        got.append(await asyncio.wait_for(ws.recv(), 0.8))
                except asyncio.TimeoutError:
                    got.append("quiet")
        run(main())
        self.assertEqual(got[1], "2")
        self.assertEqual(got[-1], "quiet")
        recv = [r.get("text") for r in peer.records("frame")]
        self.assertIn("3", recv)


if __name__ == "__main__":
    unittest.main(verbosity=2)
