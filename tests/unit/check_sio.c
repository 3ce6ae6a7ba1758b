/*
 * check_sio.c: the socketio client state machine (socketio-protocol.md
 * §8.1) driven frame by frame with a fake clock: the §2.6 transcript,
 * each transition and deadline, buffering before the CONNECT ack (§2.4),
 * attachments (§2.5), maxPayload refusal, the §2.7 rows that close or
 * keep the session, and the reconnect policy of §4.4 with its hint.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dialect_socketio.h"
#include "sio.h"
#include "testlib.h"

static Suite	*sio_suite(void);

#define MAXLOG	256

/* What the machine asked for, in order. */
struct rec {
	struct sio	 sm;
	char		*log[MAXLOG];	/* "send <frame>", "close <code>", ... */
	int		 n;
	uint32_t	 rnd;
	int		 send_fail;
	int		 reply_ping;	/* answer ping events with pong */
	uint64_t	 now;
};

static void
rec_add(struct rec *r, const char *what, const char *s, size_t len)
{
	char	*line;

	ck_assert_int_lt(r->n, MAXLOG);
	if (asprintf(&line, "%s%s%.*s", what, len ? " " : "", (int)len,
	    s) == -1)
		ck_abort();
	r->log[r->n++] = line;
}

static void
op_dial(void *arg)
{
	rec_add(arg, "dial", "", 0);
}

static int
op_send(void *arg, const char *f, size_t len)
{
	struct rec	*r = arg;

	rec_add(r, "send", f, len);
	return r->send_fail ? -1 : 0;
}

static void
op_close(void *arg, int code, const char *why)
{
	char	 c[16];

	snprintf(c, sizeof(c), "%d", code);
	rec_add(arg, "close", c, strlen(c));
}

static void
op_event(void *arg, const char *name, json_t *payload)
{
	struct rec	*r = arg;
	struct sio_in	 in;
	json_t		*pong;
	char		*s;

	s = json_dumps(payload, JSON_COMPACT | JSON_PRESERVE_ORDER);
	rec_add(r, "event", name, strlen(name));
	rec_add(r, "payload", s, strlen(s));
	free(s);
	sio_decode_event(name, payload, &in);
	if (r->reply_ping && in.type == SIO_IN_PING) {
		pong = sio_enc_pong(in.ts);
		sio_emit(&r->sm, r->now, "pong", pong);
		json_decref(pong);
	}
	sio_in_clear(&in);
}

static void
op_hello(void *arg, int first)
{
	rec_add(arg, first ? "hello first" : "hello again", "", 0);
}

static void
op_stats(void *arg)
{
	rec_add(arg, "stats", "", 0);
}

static void
op_idle(void *arg)
{
	rec_add(arg, "idle", "", 0);
}

static void
op_session_end(void *arg, int acked)
{
	rec_add(arg, acked ? "end acked" : "end unacked", "", 0);
}

static uint32_t
op_rnd(void *arg)
{
	return ((struct rec *)arg)->rnd;
}

static const struct sio_ops ops = {
	op_dial, op_send, op_close, op_event, op_hello, op_stats, op_idle,
	op_session_end, op_rnd,
};

static const struct sio_timing timing = {
	.dial_ms = 20000, .open_ms = 20000, .connect_ms = 20000,
	.close_ms = 5000, .stats_ms = 60000, .heartbeat_ms = 20000,
	.idle_ms = 45000,
};

static struct rec *
rec_new(void)
{
	struct rec	*r = calloc(1, sizeof(*r));

	ck_assert_ptr_nonnull(r);
	sio_init(&r->sm, &timing, &ops, r);
	r->rnd = UINT32_MAX;	/* the longest wait: the window's top */
	r->now = 1000;
	return r;
}

static void
rec_clear(struct rec *r)
{
	int	 i;

	for (i = 0; i < r->n; i++)
		free(r->log[i]);
	r->n = 0;
}

static void
rec_free(struct rec *r)
{
	rec_clear(r);
	sio_free(&r->sm);
	free(r);
}

/* The log so far, joined by '|', then cleared. */
static char *
rec_take(struct rec *r)
{
	static char	 buf[16384];
	size_t		 off = 0;
	int		 i;

	buf[0] = '\0';
	for (i = 0; i < r->n; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s",
		    i ? "|" : "", r->log[i]);
	rec_clear(r);
	return buf;
}

static void
text(struct rec *r, const char *f)
{
	sio_text(&r->sm, r->now, f, strlen(f));
}

#define OPEN_JS	"0{\"sid\":\"sM7Y\",\"upgrades\":[],\"pingInterval\":25000," \
		    "\"pingTimeout\":20000,\"maxPayload\":1000000}"
#define OPEN_PY	"0{\"sid\":\"TvH_\",\"upgrades\":[],\"pingTimeout\":2000," \
		    "\"pingInterval\":2000}"

#define EXPECT(r, want)	ck_assert_str_eq(rec_take(r), want)

/* Dial, upgrade, open, CONNECT ack: a CONNECTED machine. */
static struct rec *
connected(const char *open)
{
	struct rec	*r = rec_new();

	sio_start(&r->sm, r->now);
	sio_upgraded(&r->sm, r->now);
	text(r, open);
	text(r, "40/agents,{\"sid\":\"hLB8\"}");
	ck_assert_int_eq(r->sm.state, SIO_S_CONNECTED);
	rec_clear(r);
	return r;
}

static struct rec *
acked(void)
{
	struct rec	*r = connected(OPEN_JS);

	text(r, "42/agents,[\"hello_ack\",{}]");
	ck_assert_int_eq(r->sm.state, SIO_S_ACKED);
	rec_clear(r);
	return r;
}

static int
emit_pong(struct rec *r, int64_t ts)
{
	json_t	*o = sio_enc_ping(ts);
	int	 rc = sio_emit(&r->sm, r->now, "pong", o);

	json_decref(o);
	return rc;
}

/* §2.6 from the agent's side. */
START_TEST(test_sio_transcript)
{
	struct rec	*r = rec_new();
	json_t		*o;

	r->reply_ping = 1;
	ck_assert_int_eq(r->sm.state, SIO_S_BACKOFF);
	sio_start(&r->sm, r->now);
	EXPECT(r, "dial");
	ck_assert_int_eq(r->sm.state, SIO_S_DIALING);
	sio_upgraded(&r->sm, r->now);
	ck_assert_int_eq(r->sm.state, SIO_S_EIO_OPENING);
	text(r, OPEN_JS);
	EXPECT(r, "send 40/agents,");
	ck_assert_int_eq(r->sm.state, SIO_S_NS_CONNECTING);
	text(r, "40/agents,{\"sid\":\"hLB8\"}");
	EXPECT(r, "");
	ck_assert_int_eq(r->sm.state, SIO_S_CONNECTED);
	text(r, "42/agents,[\"hello_ack\",{}]");
	EXPECT(r, "hello first");
	ck_assert_int_eq(r->sm.state, SIO_S_ACKED);
	o = json_pack("{s:{s:f}}", "data", "cpu", 7.25);
	ck_assert_int_eq(sio_emit(&r->sm, r->now, "stats", o), 0);
	json_decref(o);
	EXPECT(r, "send 42/agents,[\"stats\",{\"data\":{\"cpu\":7.25}}]");
	text(r, "2");
	EXPECT(r, "send 3");
	text(r, "42/agents,[\"ping\",{\"ts\":1700000030000}]");
	EXPECT(r, "event ping|payload {\"ts\":1700000030000}|"
	    "send 42/agents,[\"pong\",{\"ts\":1700000030000}]");
	text(r, "42/agents,0[\"admin_run\",{\"token\":\"cron-get-host-01-"
	    "1700000031000\",\"cmd\":{\"command\":\"crontab -l\"}}]");
	EXPECT(r, "send 43/agents,0[]|event admin_run|payload {\"token\":"
	    "\"cron-get-host-01-1700000031000\",\"cmd\":{\"command\":"
	    "\"crontab -l\"}}");
	text(r, "42/agents,[\"shell_start\",{\"session\":\"6f1c2d9e\"}]");
	EXPECT(r, "event shell_start|payload {\"session\":\"6f1c2d9e\"}");
	text(r, "451-/agents,[\"bin\",{\"_placeholder\":true,\"num\":0}]");
	sio_binary(&r->sm, r->now, 3);
	EXPECT(r, "");
	ck_assert_int_eq(r->sm.state, SIO_S_ACKED);
	/* The kick: close, then a reconnect within 1 s (acked). */
	text(r, "41/agents,");
	EXPECT(r, "end acked|close 1000");
	ck_assert_int_eq(r->sm.state, SIO_S_CLOSING);
	sio_transport_closed(&r->sm, r->now, "closed");
	ck_assert_int_eq(r->sm.state, SIO_S_BACKOFF);
	ck_assert_uint_le(r->sm.last_delay_ms, 1000);
	ck_assert_uint_eq(sio_next_deadline(&r->sm), r->now +
	    r->sm.last_delay_ms);
	r->now += r->sm.last_delay_ms;
	sio_tick(&r->sm, r->now);
	EXPECT(r, "dial");
	ck_assert_int_eq(r->sm.state, SIO_S_DIALING);
	rec_free(r);
}
END_TEST

/* python-socketio: hello_ack and ping before the CONNECT ack (I9). */
START_TEST(test_sio_buffer_before_ack)
{
	struct rec	*r = rec_new();

	r->reply_ping = 1;
	sio_start(&r->sm, r->now);
	sio_upgraded(&r->sm, r->now);
	text(r, OPEN_PY);
	ck_assert_int_eq(sio_max_payload(&r->sm), 1000000);
	EXPECT(r, "dial|send 40/agents,");
	text(r, "42/agents,[\"hello_ack\",{}]");
	text(r, "42/agents,[\"ping\",{\"ts\":5}]");
	text(r, "42/agents,3[\"shell_close\",{\"session\":\"s\"}]");
	/* Engine pings are answered while buffering; nothing on /agents. */
	text(r, "2");
	EXPECT(r, "send 3");
	/* Emits before the ack are dropped, not queued (§4.3). */
	errno = 0;
	ck_assert_int_eq(emit_pong(r, 1), -1);
	ck_assert_int_eq(errno, ENOTCONN);
	EXPECT(r, "");
	text(r, "40/agents,{\"sid\":\"x\"}");
	EXPECT(r, "hello first|event ping|payload {\"ts\":5}|"
	    "send 42/agents,[\"pong\",{\"ts\":5}]|send 43/agents,3[]|"
	    "event shell_close|payload {\"session\":\"s\"}");
	ck_assert_int_eq(r->sm.state, SIO_S_ACKED);
	ck_assert_int_eq(r->sm.nearly, 0);
	rec_free(r);
}
END_TEST

START_TEST(test_sio_buffer_overflow)
{
	struct rec	*r = rec_new();
	char		*big;
	int		 i;

	sio_start(&r->sm, r->now);
	sio_upgraded(&r->sm, r->now);
	text(r, OPEN_JS);
	for (i = 0; i < SIO_BUF_PACKETS; i++)
		text(r, "42/agents,[\"x\",{}]");
	ck_assert_int_eq(r->sm.state, SIO_S_NS_CONNECTING);
	rec_clear(r);
	text(r, "42/agents,[\"x\",{}]");
	EXPECT(r, "end unacked|close 1000");
	ck_assert_int_eq(r->sm.state, SIO_S_CLOSING);
	ck_assert_int_eq(r->sm.nearly, 0);
	rec_free(r);

	/* 1 MiB in bytes: two half-MiB events fit, a third does not. */
	r = rec_new();
	sio_start(&r->sm, r->now);
	sio_upgraded(&r->sm, r->now);
	text(r, OPEN_JS);
	big = malloc(SIO_BUF_BYTES / 2);
	ck_assert_ptr_nonnull(big);
	memset(big, 'a', SIO_BUF_BYTES / 2 - 1);
	big[SIO_BUF_BYTES / 2 - 1] = '\0';
	memcpy(big, "42/agents,[\"x\",\"", 16);
	memcpy(big + SIO_BUF_BYTES / 2 - 4, "\"]", 3);
	rec_clear(r);
	text(r, big);
	text(r, "42/agents,[\"x\",{}]");
	ck_assert_int_eq(r->sm.state, SIO_S_NS_CONNECTING);
	text(r, big);
	EXPECT(r, "end unacked|close 1000");
	free(big);
	rec_free(r);
}
END_TEST

/* On CONNECT_ERROR the buffer is discarded, never dispatched. */
START_TEST(test_sio_connect_error)
{
	struct rec	*r = rec_new();

	sio_start(&r->sm, r->now);
	sio_upgraded(&r->sm, r->now);
	text(r, OPEN_JS);
	text(r, "42/agents,[\"hello_ack\",{}]");
	rec_clear(r);
	text(r, "44/agents,{\"message\":\"unauthorized\"}");
	EXPECT(r, "end unacked|close 1000");
	ck_assert_str_eq(r->sm.why, "namespace refused: unauthorized");
	ck_assert_int_eq(r->sm.rejects, 1);
	ck_assert_int_eq(r->sm.nearly, 0);
	sio_transport_closed(&r->sm, r->now, "closed");
	EXPECT(r, "");
	ck_assert_int_eq(r->sm.state, SIO_S_BACKOFF);
	rec_free(r);

	r = rec_new();
	sio_start(&r->sm, r->now);
	sio_upgraded(&r->sm, r->now);
	text(r, OPEN_PY);
	text(r, "44/agents,\"Unable to connect\"");
	ck_assert_str_eq(r->sm.why, "namespace refused: Unable to connect");
	rec_free(r);

	/* §2.7 #17: still a connect failure, reason unknown */
	r = rec_new();
	sio_start(&r->sm, r->now);
	sio_upgraded(&r->sm, r->now);
	text(r, OPEN_PY);
	text(r, "44/agents,42");
	ck_assert_str_eq(r->sm.why, "namespace refused: unknown");
	ck_assert_int_eq(r->sm.state, SIO_S_CLOSING);
	rec_free(r);

	/* python always_connect: 40 then 41 with a message (§2.2). */
	r = rec_new();
	sio_start(&r->sm, r->now);
	sio_upgraded(&r->sm, r->now);
	text(r, OPEN_PY);
	text(r, "40/agents,{\"sid\":\"a\"}");
	rec_clear(r);
	text(r, "41/agents,{\"message\":\"x\"}");
	EXPECT(r, "end unacked|close 1000");
	ck_assert_str_eq(r->sm.why, "disconnected by the server: x");
	rec_free(r);
}
END_TEST

/* §4.4: [0,1], [0,2], [0,4] ... [0,30] s; reset by an acked session. */
START_TEST(test_sio_backoff)
{
	static const uint32_t	 want[] = { 1000, 2000, 4000, 8000, 16000,
				    30000, 30000 };
	struct rec		*r = rec_new();
	size_t			 i;

	sio_start(&r->sm, r->now);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		sio_dial_failed(&r->sm, r->now, 0, "refused");
		ck_assert_int_eq(r->sm.state, SIO_S_BACKOFF);
		ck_assert_uint_eq(r->sm.last_delay_ms, want[i]);
		r->now += r->sm.last_delay_ms;
		sio_tick(&r->sm, r->now);
		ck_assert_int_eq(r->sm.state, SIO_S_DIALING);
	}
	/* Full jitter: the lowest draw gives the floor. */
	r->rnd = 0;
	sio_dial_failed(&r->sm, r->now, 0, "refused");
	ck_assert_uint_eq(r->sm.last_delay_ms, SIO_BACKOFF_FLOOR_MS);
	r->rnd = UINT32_MAX / 2;
	r->now += r->sm.last_delay_ms;
	sio_tick(&r->sm, r->now);
	sio_dial_failed(&r->sm, r->now, 0, "refused");
	ck_assert_uint_ge(r->sm.last_delay_ms, 14900);
	ck_assert_uint_le(r->sm.last_delay_ms, 15100);
	r->rnd = UINT32_MAX;
	/* An acked session resets the base to 1 s, and again after it. */
	r->now += r->sm.last_delay_ms;
	sio_tick(&r->sm, r->now);
	sio_upgraded(&r->sm, r->now);
	text(r, OPEN_JS);
	text(r, "40/agents,");
	text(r, "42/agents,[\"hello_ack\"]");
	ck_assert_int_eq(r->sm.state, SIO_S_ACKED);
	sio_transport_closed(&r->sm, r->now, "EOF");
	ck_assert_uint_eq(r->sm.last_delay_ms, 1000);
	r->now += 1000;
	sio_tick(&r->sm, r->now);
	sio_dial_failed(&r->sm, r->now, 0, "refused");
	ck_assert_uint_eq(r->sm.last_delay_ms, 1000);
	r->now += 1000;
	sio_tick(&r->sm, r->now);
	sio_dial_failed(&r->sm, r->now, 0, "refused");
	ck_assert_uint_eq(r->sm.last_delay_ms, 2000);
	/* A connected but un-acked session keeps doubling. */
	r->now += 2000;
	sio_tick(&r->sm, r->now);
	sio_upgraded(&r->sm, r->now);
	text(r, OPEN_JS);
	text(r, "40/agents,");
	sio_transport_closed(&r->sm, r->now, "EOF");
	ck_assert_uint_eq(r->sm.last_delay_ms, 4000);
	rec_free(r);
}
END_TEST

/* §3.4: the hint after 3 consecutive rejections, of either form. */
START_TEST(test_sio_reject_hint)
{
	struct rec	*r = rec_new();

	sio_start(&r->sm, r->now);
	sio_dial_failed(&r->sm, r->now, 401, "HTTP 401");
	ck_assert_int_eq(r->sm.rejects, 1);
	r->now += 60000;
	sio_tick(&r->sm, r->now);
	sio_upgraded(&r->sm, r->now);
	text(r, OPEN_JS);
	text(r, "44/agents,{\"message\":\"unauthorized\"}");
	ck_assert_int_eq(r->sm.rejects, 2);
	ck_assert_int_eq(r->sm.hints, 0);
	sio_transport_closed(&r->sm, r->now, "closed");
	r->now += 60000;
	sio_tick(&r->sm, r->now);
	sio_dial_failed(&r->sm, r->now, 403, "HTTP 403");
	ck_assert_int_eq(r->sm.rejects, 3);
	ck_assert_int_eq(r->sm.hints, 1);
	/* Another kind of failure breaks the run. */
	r->now += 60000;
	sio_tick(&r->sm, r->now);
	sio_dial_failed(&r->sm, r->now, 0, "connection refused");
	ck_assert_int_eq(r->sm.rejects, 0);
	/* A 500 is not a rejection. */
	r->now += 60000;
	sio_tick(&r->sm, r->now);
	sio_dial_failed(&r->sm, r->now, 500, "HTTP 500");
	ck_assert_int_eq(r->sm.rejects, 0);
	ck_assert_int_eq(r->sm.hints, 1);
	rec_free(r);
}
END_TEST

/* The 20 s phase deadlines of §8.1. */
START_TEST(test_sio_deadlines)
{
	struct rec	*r = rec_new();

	sio_start(&r->sm, r->now);
	rec_clear(r);
	ck_assert_uint_eq(sio_next_deadline(&r->sm), r->now + 20000);
	sio_tick(&r->sm, r->now + 19999);
	ck_assert_int_eq(r->sm.state, SIO_S_DIALING);
	r->now += 20000;
	sio_tick(&r->sm, r->now);
	EXPECT(r, "close 0");
	ck_assert_int_eq(r->sm.state, SIO_S_BACKOFF);

	r->now = sio_next_deadline(&r->sm);
	sio_tick(&r->sm, r->now);
	sio_upgraded(&r->sm, r->now);
	rec_clear(r);
	r->now += 20000;
	sio_tick(&r->sm, r->now);
	EXPECT(r, "end unacked|close 1000");
	ck_assert_str_eq(r->sm.why, "no open packet in time");
	/* Our close is not answered: the close deadline drops TCP. */
	r->now += 5000;
	sio_tick(&r->sm, r->now);
	EXPECT(r, "close 0");
	ck_assert_int_eq(r->sm.state, SIO_S_BACKOFF);
	/* A late transport end changes nothing. */
	sio_transport_closed(&r->sm, r->now, "late");
	EXPECT(r, "");

	r->now = sio_next_deadline(&r->sm);
	sio_tick(&r->sm, r->now);
	sio_upgraded(&r->sm, r->now);
	text(r, OPEN_JS);
	rec_clear(r);
	r->now += 20000;
	sio_tick(&r->sm, r->now);
	EXPECT(r, "end unacked|close 1000");
	ck_assert_str_eq(r->sm.why, "no CONNECT answer in time");
	rec_free(r);
}
END_TEST

/* §1.4: the watchdog, armed at open, re-armed on each 2 (I5, I6). */
START_TEST(test_sio_watchdog)
{
	struct rec	*r = connected(OPEN_JS);
	int		 i;

	/* Many intervals with pings: the session survives. */
	for (i = 0; i < 30; i++) {
		r->now += 25000;
		sio_tick(&r->sm, r->now);
		text(r, "2");
	}
	ck_assert_int_eq(r->sm.state, SIO_S_CONNECTED);
	rec_clear(r);
	ck_assert_uint_le(sio_next_deadline(&r->sm), r->now + 45000);
	r->now += 44999;
	sio_tick(&r->sm, r->now);
	ck_assert_int_eq(r->sm.state, SIO_S_CONNECTED);
	r->now += 1;
	sio_tick(&r->sm, r->now);
	ck_assert_int_eq(r->sm.state, SIO_S_BACKOFF);
	ck_assert_ptr_nonnull(strstr(rec_take(r), "end unacked|close 0"));
	ck_assert_str_eq(r->sm.why, "engine heartbeat lost");
	rec_free(r);
}
END_TEST

/* §4.2: the idle ping at heartbeat ticks once traffic is 45 s old. */
START_TEST(test_sio_idle_and_stats)
{
	struct rec	*r = acked();
	int		 i;

	/* stats every 60 s after the first hello_ack */
	for (i = 0; i < 2; i++) {
		text(r, "2");	/* keep the watchdog quiet */
		r->now += 20000;
		sio_tick(&r->sm, r->now);
	}
	/* 40 s idle: not yet */
	ck_assert_ptr_null(strstr(rec_take(r), "idle"));
	text(r, "2");
	r->now += 20000;
	sio_tick(&r->sm, r->now);
	/* 60 s: idle ping and the first stats tick */
	ck_assert_str_eq(rec_take(r), "send 3|idle|stats");
	/* traffic resets the idle clock */
	ck_assert_int_eq(emit_pong(r, 1), 0);
	rec_clear(r);
	text(r, "2");
	r->now += 20000;
	sio_tick(&r->sm, r->now);
	ck_assert_str_eq(rec_take(r), "send 3");
	/* a repeated hello_ack: one more stats, timers unchanged */
	text(r, "42/agents,[\"hello_ack\",{\"sessionNonce\":\"ab\"}]");
	EXPECT(r, "hello again");
	ck_assert_int_eq(r->sm.state, SIO_S_ACKED);
	rec_free(r);
}
END_TEST

/* §2.5 and §2.7 #16 */
START_TEST(test_sio_attachments)
{
	struct rec	*r = acked();

	text(r, "452-/agents,7[\"bin\",{\"_placeholder\":true,\"num\":0},"
	    "{\"_placeholder\":true,\"num\":1}]");
	sio_binary(&r->sm, r->now, 3);
	EXPECT(r, "");
	sio_binary(&r->sm, r->now, 1);
	EXPECT(r, "send 43/agents,7[]");
	/* a binary frame with nothing pending: ignored */
	sio_binary(&r->sm, r->now, 5);
	EXPECT(r, "");
	/* a text frame while pending: abandon, process it */
	text(r, "451-/agents,8[\"bin\",{\"_placeholder\":true,\"num\":0}]");
	text(r, "42/agents,[\"ping\",{\"ts\":1}]");
	EXPECT(r, "event ping|payload {\"ts\":1}");
	sio_binary(&r->sm, r->now, 3);
	EXPECT(r, "");
	/* BINARY_ACK: consumed, no reply */
	text(r, "461-/agents,4[{\"_placeholder\":true,\"num\":0}]");
	sio_binary(&r->sm, r->now, 3);
	EXPECT(r, "");
	/* other namespaces: still consumed, never answered */
	text(r, "451-/other,9[\"bin\",{\"_placeholder\":true,\"num\":0}]");
	sio_binary(&r->sm, r->now, 3);
	text(r, "450-/agents,2[\"bin\"]");
	EXPECT(r, "send 43/agents,2[]");
	/* a bad header: dropped; its attachment is "nothing pending" */
	text(r, "451/agents,[\"bin\"]");
	sio_binary(&r->sm, r->now, 3);
	EXPECT(r, "");
	ck_assert_int_eq(r->sm.state, SIO_S_ACKED);
	/* more than 16: close */
	text(r, "4517-/agents,[\"bin\"]");
	EXPECT(r, "end acked|close 1000");
	rec_free(r);

	/* before the CONNECT ack, the ack waits in line (§2.4) */
	r = rec_new();
	sio_start(&r->sm, r->now);
	sio_upgraded(&r->sm, r->now);
	text(r, OPEN_PY);
	text(r, "451-/agents,1[\"bin\",{\"_placeholder\":true,\"num\":0}]");
	sio_binary(&r->sm, r->now, 3);
	text(r, "42/agents,[\"x\",{}]");
	rec_clear(r);
	text(r, "40/agents,");
	EXPECT(r, "send 43/agents,1[]|event x|payload {}");
	rec_free(r);
}
END_TEST

/* The §2.7 rows that keep the session, with what each does. */
START_TEST(test_sio_malformed_kept)
{
	static const char *const dropped[] = {
		"", "4", "7", "x", "9abc",			/* 1, 2 */
		"0{\"sid\":\"again\",\"pingInterval\":1,\"pingTimeout\":1}",
		"40/agents,{\"sid\":\"again\"}",		/* 4 */
		"47/agents,[]", "4x",				/* 5 */
		"42/agents,", "42/agents", "42/agents,{}", "42/agents,[]",
		"42/agents,[1,{}]", "42/agents,[null]",		/* 6 */
		"42/agents,[\"hello_ack\",", "42/agents,[\"x\",{}]]",
		"42/agents,abc[\"x\",{}]",			/* 7 */
		"42/agents,12345678901234567[\"x\",{}]",	/* 8 */
		"42/agents,5[\"connect\",{}]",			/* 9 */
		"42/agents,6[\"admin_run\",\"rm -rf /\"]",	/* 10 */
		"42/agents,[\"x\",{\"n\":99999999999999999999}]",	/* 12 */
		"45x-/agents,[\"b\"]", "451/agents,[\"b\"]",	/* 14 */
		"43/agents,5[]",				/* 20 */
		"42[\"x\",{}]", "42/other,[\"x\",{}]", "40/other,",
		"3", "5", "6",
		"42/agents,[\"x\",\"\xff\"]",			/* 21 */
	};
	struct rec	*r = acked();
	size_t		 i;

	for (i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++) {
		text(r, dropped[i]);
		ck_assert_msg(r->n == 0, "%s: %s", dropped[i], r->log[0]);
		ck_assert_int_eq(r->sm.state, SIO_S_ACKED);
	}
	/* and the session still works */
	text(r, "2");
	EXPECT(r, "send 3");
	rec_free(r);
}
END_TEST

/* The §2.7 rows that end the session. */
START_TEST(test_sio_malformed_close)
{
	static const char *const first[] = {			/* 3 */
		"42/agents,[\"x\",{}]", "2", "0", "0{", "0[]",
		"0{\"pingInterval\":1,\"pingTimeout\":1}",
		"0{\"sid\":\"a\",\"pingTimeout\":1}",
		"0{\"sid\":\"a\",\"pingInterval\":0,\"pingTimeout\":1}",
		"0{\"sid\":\"a\",\"pingInterval\":\"1\",\"pingTimeout\":1}",
	};
	struct rec	*r;
	size_t		 i;
	char		*big;

	for (i = 0; i < sizeof(first) / sizeof(first[0]); i++) {
		r = rec_new();
		sio_start(&r->sm, r->now);
		sio_upgraded(&r->sm, r->now);
		rec_clear(r);
		text(r, first[i]);
		ck_assert_msg(r->sm.state == SIO_S_CLOSING, "%s", first[i]);
		EXPECT(r, "end unacked|close 1000");
		rec_free(r);
	}
	/* 18: a CONNECT ack that is not an object */
	r = rec_new();
	sio_start(&r->sm, r->now);
	sio_upgraded(&r->sm, r->now);
	text(r, OPEN_JS);
	rec_clear(r);
	text(r, "40/agents,[1]");
	EXPECT(r, "end unacked|close 1000");
	rec_free(r);
	/* engine close packet */
	r = acked();
	text(r, "1");
	EXPECT(r, "end acked|close 1000");
	rec_free(r);
	/* 22: a frame > 16 MiB closes with 1009 */
	r = acked();
	big = malloc(EIO_FRAME_MAX + 1);
	ck_assert_ptr_nonnull(big);
	memset(big, '4', EIO_FRAME_MAX + 1);
	sio_text(&r->sm, r->now, big, EIO_FRAME_MAX + 1);
	EXPECT(r, "end acked|close 1009");
	free(big);
	rec_free(r);
	r = acked();
	sio_binary(&r->sm, r->now, EIO_FRAME_MAX + 1);
	EXPECT(r, "end acked|close 1009");
	rec_free(r);
	/* a failed send ends the session */
	r = acked();
	r->send_fail = 1;
	text(r, "2");
	EXPECT(r, "send 3|end acked|close 0");
	rec_free(r);
}
END_TEST

/* Outgoing frames stay within maxPayload (§1.4): refused otherwise. */
START_TEST(test_sio_max_payload)
{
	struct rec	*r = rec_new();
	json_t		*o;
	char		 s[200];
	size_t		 flen;

	sio_start(&r->sm, r->now);
	sio_upgraded(&r->sm, r->now);
	text(r, "0{\"sid\":\"a\",\"pingInterval\":1500,\"pingTimeout\":1000,"
	    "\"maxPayload\":100}");
	text(r, "40/agents,");
	ck_assert_uint_eq(sio_max_payload(&r->sm), 100);
	rec_clear(r);
	/* 42/agents,["x",{"s":"..."}] is 24 bytes plus the string */
	memset(s, 'a', 76);
	s[76] = '\0';
	o = json_pack("{s:s}", "s", s);
	ck_assert_int_eq(sio_emit(&r->sm, r->now, "x", o), 0);
	flen = strlen(r->log[0]) - strlen("send ");
	ck_assert_uint_eq(flen, 100);
	rec_clear(r);
	json_decref(o);
	s[76] = 'a';
	s[77] = '\0';
	o = json_pack("{s:s}", "s", s);
	errno = 0;
	ck_assert_int_eq(sio_emit(&r->sm, r->now, "x", o), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	EXPECT(r, "");
	ck_assert_int_eq(r->sm.state, SIO_S_CONNECTED);
	json_decref(o);
	rec_free(r);
}
END_TEST

/* §2.3: hello_ack and events with acks; a non-object argument drops. */
START_TEST(test_sio_events)
{
	struct rec	*r = connected(OPEN_JS);

	/* commands between the CONNECT ack and hello_ack are handled */
	text(r, "42/agents,[\"sync_keys\",{\"user\":\"u\"}]");
	EXPECT(r, "event sync_keys|payload {\"user\":\"u\"}");
	/* no argument: {} */
	text(r, "42/agents,[\"shell_close\"]");
	EXPECT(r, "event shell_close|payload {}");
	/* hello_ack with any payload, or none, and an ack */
	text(r, "42/agents,4[\"hello_ack\",\"whatever\"]");
	EXPECT(r, "send 43/agents,4[]|hello first");
	/* a non-object argument: dropped, no ack, no event */
	text(r, "42/agents,9[\"admin_run\",\"rm -rf /\"]");
	EXPECT(r, "");
	text(r, "42/agents,9[\"admin_run\",[1]]");
	EXPECT(r, "");
	rec_free(r);
}
END_TEST

START_TEST(test_sio_shutdown)
{
	struct rec	*r = acked();

	sio_shutdown(&r->sm, r->now);
	EXPECT(r, "send 41/agents,|end acked|close 1000");
	ck_assert_int_eq(r->sm.state, SIO_S_CLOSING);
	sio_transport_closed(&r->sm, r->now, "closed");
	ck_assert_int_eq(r->sm.state, SIO_S_EXIT);
	ck_assert_uint_eq(sio_next_deadline(&r->sm), 0);
	rec_free(r);

	/* during the backoff sleep: exit at once */
	r = rec_new();
	sio_start(&r->sm, r->now);
	sio_dial_failed(&r->sm, r->now, 0, "x");
	rec_clear(r);
	sio_shutdown(&r->sm, r->now);
	EXPECT(r, "");
	ck_assert_int_eq(r->sm.state, SIO_S_EXIT);
	sio_tick(&r->sm, r->now + 100000);
	EXPECT(r, "");
	rec_free(r);

	/* before the CONNECT ack: nothing on /agents, just the close */
	r = rec_new();
	sio_start(&r->sm, r->now);
	sio_upgraded(&r->sm, r->now);
	text(r, OPEN_JS);
	rec_clear(r);
	sio_shutdown(&r->sm, r->now);
	EXPECT(r, "end unacked|close 1000");
	r->now += 5000;
	sio_tick(&r->sm, r->now);
	EXPECT(r, "close 0");
	ck_assert_int_eq(r->sm.state, SIO_S_EXIT);
	rec_free(r);
}
END_TEST

static Suite *
sio_suite(void)
{
	Suite	*s = suite_create("sio");
	TCase	*tc;

#define SM_TCASE(name) do {						\
	tc = tcase_create(#name);					\
	tcase_add_test(tc, test_sio_##name);				\
	suite_add_tcase(s, tc);						\
} while (0)
	SM_TCASE(transcript);
	SM_TCASE(buffer_before_ack);
	SM_TCASE(buffer_overflow);
	SM_TCASE(connect_error);
	SM_TCASE(backoff);
	SM_TCASE(reject_hint);
	SM_TCASE(deadlines);
	SM_TCASE(watchdog);
	SM_TCASE(idle_and_stats);
	SM_TCASE(attachments);
	SM_TCASE(malformed_kept);
	SM_TCASE(malformed_close);
	SM_TCASE(max_payload);
	SM_TCASE(events);
	SM_TCASE(shutdown);
#undef SM_TCASE
	return s;
}

int
main(void)
{
	return tl_run(sio_suite());
}
