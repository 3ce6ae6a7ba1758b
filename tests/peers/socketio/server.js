#!/usr/bin/env node
/*
 * server.js: a socket.io 4.8 control plane for the socketio dialect's
 * tests (socketio-protocol.md §8.2).  Serves the /agents namespace at
 * <prefix>/socket.io/ over ws:// or, with --cert/--key, wss://; checks
 * the HMAC of the handshake query as §3.2 says (±600 s, constant-time);
 * emits hello_ack on connection; records every event.
 *
 *   node server.js --port 0 --control-port 0 --record FILE --token T
 *       [--path /socket.io] [--ping-interval 1500] [--ping-timeout 1000]
 *       [--max-payload 1000000] [--skew-ms 0] [--max-skew-sec 600]
 *       [--no-hello] [--app-ping-ms 0] [--cert PEM --key PEM]
 *
 * --app-ping-ms N: emit ping {"ts": now} every N ms on each connection,
 * as the Go port's server does every pingIntervalSec (§4.2).
 *
 * First stdout line: LISTENING port=<p> control=<c> scheme=<ws|wss>.
 * Record lines (JSON, one per event, "t" in Unix seconds):
 *   {"event":"connect","conn":n,"url":...,"query":{...},"headers":{...}}
 *   {"event":"reject","reason":...,"query":{...}}
 *   {"event":"event","conn":n,"name":...,"args":[...],"ack":bool}
 *   {"event":"ack","conn":n,"id":k,"args":[...]}       an ack we asked for
 *   {"event":"sent","conn":n,"name":...,"data":...}
 *   {"event":"heartbeat","conn":n}                     an engine pong (3)
 *   {"event":"disconnect","conn":n,"reason":...}
 *   {"event":"engine_error","code":...,"message":...,"url":...}
 * Control port: one command per line on 127.0.0.1, one JSON line back;
 * commands act on the most recent connected socket:
 *   emit <name> [<json>]        emit an event (payload object, default {})
 *   emit-ack <name> [<json>]    the same with an ack callback (recorded)
 *   ping [ts]                   emit ping {"ts": ts or now}
 *   bin                         emit("bin", Buffer [1,2,3])
 *   disconnect                  socket.disconnect(true): 41, then close
 *   disconnect-soft             socket.disconnect(): 41, engine stays open
 *   close-engine                close the engine connection (1)
 *   set-token <t> | set-skew <ms> | stats
 */
"use strict";

const crypto = require("crypto");
const fs = require("fs");
const http = require("http");
const https = require("https");
const net = require("net");
const { Server } = require("socket.io");

function parseArgs(argv) {
	const a = {
		port: 0, controlPort: 0, record: null, token: "test-token",
		path: "/socket.io", pingInterval: 1500, pingTimeout: 1000,
		maxPayload: 1000000, skewMs: 0, maxSkewSec: 600, hello: true,
		cert: null, key: null, host: "127.0.0.1", appPingMs: 0,
	};
	for (let i = 2; i < argv.length; i++) {
		const k = argv[i], v = () => argv[++i];
		switch (k) {
		case "--port": a.port = Number(v()); break;
		case "--control-port": a.controlPort = Number(v()); break;
		case "--record": a.record = v(); break;
		case "--token": a.token = v(); break;
		case "--path": a.path = v(); break;
		case "--ping-interval": a.pingInterval = Number(v()); break;
		case "--ping-timeout": a.pingTimeout = Number(v()); break;
		case "--max-payload": a.maxPayload = Number(v()); break;
		case "--skew-ms": a.skewMs = Number(v()); break;
		case "--max-skew-sec": a.maxSkewSec = Number(v()); break;
		case "--no-hello": a.hello = false; break;
		case "--app-ping-ms": a.appPingMs = Number(v()); break;
		case "--cert": a.cert = v(); break;
		case "--key": a.key = v(); break;
		case "--host": a.host = v(); break;
		default:
			process.stderr.write("unknown option " + k + "\n");
			process.exit(2);
		}
	}
	return a;
}

const args = parseArgs(process.argv);
const rec = args.record ? fs.openSync(args.record, "a") : null;
let token = args.token, skewMs = args.skewMs, nextConn = 1, current = null;
const counters = { connects: 0, rejects: 0, events: 0 };

function record(obj) {
	const line = JSON.stringify(Object.assign({ t: Date.now() / 1000 },
	    obj));
	process.stdout.write(line + "\n");
	if (rec !== null)
		fs.writeSync(rec, line + "\n");
}

/* §3.2, as the Go port checks it. */
function verify(q) {
	const { clientId, ts, sig } = q;
	if (typeof clientId !== "string" || typeof ts !== "string" ||
	    typeof sig !== "string")
		return "missing clientId, ts or sig";
	if (clientId.length > 128)
		return "clientId too long";
	const n = Number(ts);
	if (!Number.isSafeInteger(n) || n <= 0)
		return "bad ts";
	if (Math.abs(Date.now() + skewMs - n) > args.maxSkewSec * 1000)
		return "clock skew";
	const msg = JSON.stringify({ clientId, ts: n });
	const want = crypto.createHmac("sha256", token).update(msg).digest();
	let got;
	try {
		got = Buffer.from(sig, "hex");
	} catch (e) {
		return "bad sig";
	}
	if (got.length !== want.length || !crypto.timingSafeEqual(got, want))
		return "bad sig";
	return null;
}

const server = args.cert ? https.createServer({
	cert: fs.readFileSync(args.cert), key: fs.readFileSync(args.key),
}) : http.createServer();
const io = new Server(server, {
	path: args.path,
	pingInterval: args.pingInterval,
	pingTimeout: args.pingTimeout,
	maxHttpBufferSize: args.maxPayload,
	serveClient: false,
});

io.engine.on("connection_error", (err) => {
	record({ event: "engine_error", code: err.code, message: err.message,
	    url: err.req && err.req.url });
});

const agents = io.of("/agents");
agents.use((socket, next) => {
	const why = verify(socket.handshake.query);
	if (why !== null) {
		counters.rejects++;
		record({ event: "reject", reason: why,
		    query: socket.handshake.query });
		return next(new Error("unauthorized"));
	}
	next();
});

agents.on("connection", (socket) => {
	const conn = nextConn++;
	counters.connects++;
	socket.data.conn = conn;
	current = socket;
	record({ event: "connect", conn, url: socket.handshake.url,
	    query: socket.handshake.query, headers: socket.handshake.headers,
	    transport: socket.conn.transport.name });
	socket.conn.on("heartbeat", () => record({ event: "heartbeat", conn }));
	socket.onAny((name, ...rest) => {
		let ack = false;
		if (rest.length && typeof rest[rest.length - 1] === "function") {
			ack = true;
			rest.pop()();
		}
		counters.events++;
		record({ event: "event", conn, name, args: rest, ack });
	});
	const pinger = args.appPingMs > 0 ? setInterval(() =>
	    emit(socket, "ping", { ts: Date.now() }), args.appPingMs) : null;
	socket.on("disconnect", (reason) => {
		if (pinger !== null)
			clearInterval(pinger);
		record({ event: "disconnect", conn, reason });
		if (current === socket)
			current = null;
	});
	if (args.hello)
		emit(socket, "hello_ack", {});
});

function emit(socket, name, data) {
	socket.emit(name, data);
	record({ event: "sent", conn: socket.data.conn, name, data });
}

let ackId = 0;
function control(line) {
	const sp = line.indexOf(" ");
	const cmd = sp < 0 ? line : line.slice(0, sp);
	const rest = sp < 0 ? "" : line.slice(sp + 1).trim();
	if (cmd === "stats")
		return Object.assign({ ok: true, connected: current !== null },
		    counters);
	if (cmd === "set-token") {
		token = rest;
		return { ok: true };
	}
	if (cmd === "set-skew") {
		skewMs = Number(rest);
		return { ok: true };
	}
	const s = current;
	if (s === null)
		return { ok: false, error: "no connection" };
	switch (cmd) {
	case "emit":
	case "emit-ack": {
		const m = rest.match(/^(\S+)\s*(.*)$/);
		if (!m)
			return { ok: false, error: "usage: emit <name> [json]" };
		const data = m[2] ? JSON.parse(m[2]) : {};
		if (cmd === "emit")
			emit(s, m[1], data);
		else {
			const id = ackId++;
			s.emit(m[1], data, (...a) => record({ event: "ack",
			    conn: s.data.conn, id, args: a }));
			record({ event: "sent", conn: s.data.conn, name: m[1],
			    data, ack: id });
		}
		return { ok: true };
	}
	case "ping":
		emit(s, "ping", { ts: rest ? Number(rest) : Date.now() });
		return { ok: true };
	case "bin":
		s.emit("bin", Buffer.from([1, 2, 3]));
		record({ event: "sent", conn: s.data.conn, name: "bin" });
		return { ok: true };
	case "disconnect":
		s.disconnect(true);
		return { ok: true };
	case "disconnect-soft":
		s.disconnect();
		return { ok: true };
	case "close-engine":
		s.conn.close();
		return { ok: true };
	default:
		return { ok: false, error: "unknown command " + cmd };
	}
}

const ctl = net.createServer((c) => {
	let buf = "";
	c.on("data", (d) => {
		buf += d.toString();
		let nl;
		while ((nl = buf.indexOf("\n")) >= 0) {
			const line = buf.slice(0, nl).trim();
			buf = buf.slice(nl + 1);
			let r;
			try {
				r = control(line);
			} catch (e) {
				r = { ok: false, error: String(e) };
			}
			c.write(JSON.stringify(r) + "\n");
		}
	});
	c.on("error", () => {});
});

server.listen(args.port, args.host, () => {
	ctl.listen(args.controlPort, "127.0.0.1", () => {
		process.stdout.write("LISTENING port=" + server.address().port +
		    " control=" + ctl.address().port + " scheme=" +
		    (args.cert ? "wss" : "ws") + "\n");
	});
});

function stop() {
	io.close();
	ctl.close();
	process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
/* A test that forgets us must not leave us running. */
process.stdin.on("end", () => {});
setTimeout(stop, 30 * 60 * 1000).unref();
