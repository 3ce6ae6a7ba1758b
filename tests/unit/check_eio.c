/*
 * check_eio.c: the Engine.IO / Socket.IO codec against the protocol's own
 * frames (socketio-protocol.md §1.3, §2.1, §2.6, the engine.io-protocol
 * and socket.io-protocol examples), every malformed packet of §2.7 the
 * decoder sees, the request target of §1.1 and the event payloads of
 * §5 (dialect_socketio).
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dialect_socketio.h"
#include "eio.h"
#include "testlib.h"

static Suite	*eio_suite(void);

/* Decode the Socket.IO packet inside a whole "4..." frame. */
static int
decode(const char *frame, struct sio_packet *p)
{
	ck_assert_int_eq(eio_frame_type(frame, strlen(frame)), EIO_MESSAGE);
	return sio_packet_decode(frame + 1, strlen(frame) - 1, p);
}

START_TEST(test_eio_frame_types)
{
	ck_assert_int_eq(eio_frame_type("0{}", 3), EIO_OPEN);
	ck_assert_int_eq(eio_frame_type("1", 1), EIO_CLOSE);
	ck_assert_int_eq(eio_frame_type("2", 1), EIO_PING);
	ck_assert_int_eq(eio_frame_type("3", 1), EIO_PONG);
	ck_assert_int_eq(eio_frame_type("4", 1), EIO_MESSAGE);
	ck_assert_int_eq(eio_frame_type("5", 1), EIO_UPGRADE);
	ck_assert_int_eq(eio_frame_type("6", 1), EIO_NOOP);
	/* §2.7 #1, #2 */
	ck_assert_int_eq(eio_frame_type("", 0), -1);
	ck_assert_int_eq(eio_frame_type("7", 1), -1);
	ck_assert_int_eq(eio_frame_type("x", 1), -1);
	ck_assert_int_eq(eio_frame_type("9abc", 4), -1);
	ck_assert_int_eq(eio_frame_type("b", 1), -1);
}
END_TEST

START_TEST(test_eio_open)
{
	struct eio_open	 o;
	char		 why[128];
	const char	*js = "{\"sid\":\"sM7Y\",\"upgrades\":[],\"pingInterval\":"
	    "25000,\"pingTimeout\":20000,\"maxPayload\":1000000}";
	const char	*py = "{\"sid\":\"TvH_\",\"upgrades\":[],\"pingTimeout\":"
	    "2000,\"pingInterval\":2000}";

	ck_assert_int_eq(eio_open_decode(js, strlen(js), &o, why,
	    sizeof(why)), 0);
	ck_assert_str_eq(o.sid, "sM7Y");
	ck_assert_int_eq(o.ping_interval_ms, 25000);
	ck_assert_int_eq(o.ping_timeout_ms, 20000);
	ck_assert_int_eq(o.max_payload, 1000000);
	/* python-engineio 4.3: no maxPayload means 1,000,000 (§1.3). */
	ck_assert_int_eq(eio_open_decode(py, strlen(py), &o, why,
	    sizeof(why)), 0);
	ck_assert_str_eq(o.sid, "TvH_");
	ck_assert_int_eq(o.ping_interval_ms, 2000);
	ck_assert_int_eq(o.max_payload, EIO_MAX_PAYLOAD_DEFAULT);
	ck_assert_int_eq(EIO_MAX_PAYLOAD_DEFAULT, 1000000);
	py = "{\"sid\":\"a\",\"pingInterval\":1500,\"pingTimeout\":1000,"
	    "\"maxPayload\":500}";
	ck_assert_int_eq(eio_open_decode(py, strlen(py), &o, why,
	    sizeof(why)), 0);
	ck_assert_int_eq(o.max_payload, 500);
}
END_TEST

/* §2.7 #3: every one closes the session. */
START_TEST(test_eio_open_bad)
{
	static const char *const bad[] = {
		"",
		"{",
		"[]",
		"\"sid\"",
		"{\"pingInterval\":1,\"pingTimeout\":1}",
		"{\"sid\":5,\"pingInterval\":1,\"pingTimeout\":1}",
		"{\"sid\":\"a\",\"pingTimeout\":1}",
		"{\"sid\":\"a\",\"pingInterval\":1}",
		"{\"sid\":\"a\",\"pingInterval\":0,\"pingTimeout\":1}",
		"{\"sid\":\"a\",\"pingInterval\":-5,\"pingTimeout\":1}",
		"{\"sid\":\"a\",\"pingInterval\":1.5,\"pingTimeout\":1}",
		"{\"sid\":\"a\",\"pingInterval\":\"25000\",\"pingTimeout\":1}",
		"{\"sid\":\"a\",\"pingInterval\":1,\"pingTimeout\":null}",
		"{\"sid\":\"a\",\"pingInterval\":1,\"pingTimeout\":1,"
		    "\"maxPayload\":0}",
		"{\"sid\":\"a\",\"pingInterval\":1,\"pingTimeout\":1,"
		    "\"maxPayload\":\"1e6\"}",
		"{\"sid\":\"a\",\"pingInterval\":99999999999,\"pingTimeout\":1}",
		"{\"sid\":\"a\",\"pingInterval\":1,\"pingTimeout\":1} x",
	};
	struct eio_open	 o;
	char		 why[128];
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		ck_assert_msg(eio_open_decode(bad[i], strlen(bad[i]), &o, why,
		    sizeof(why)) == -1, "%s", bad[i]);
		ck_assert_msg(why[0] != '\0', "%s", bad[i]);
	}
}
END_TEST

/* The packets of socket.io-protocol's examples, main namespace. */
START_TEST(test_sio_examples)
{
	struct sio_packet	 p;

	ck_assert_int_eq(sio_packet_decode("2[\"hello\",1]", 12, &p),
	    SIO_V_OTHER_NSP);
	ck_assert_int_eq(p.type, SIO_EVENT);
	ck_assert_str_eq(p.nsp, "/");
	ck_assert_int_eq(p.ack, -1);
	ck_assert(json_is_array(p.data));
	sio_packet_clear(&p);

	ck_assert_int_eq(sio_packet_decode("21[\"event\",{}]", 14, &p),
	    SIO_V_OTHER_NSP);
	ck_assert_int_eq(p.type, SIO_EVENT);
	ck_assert_int_eq(p.ack, 1);
	sio_packet_clear(&p);

	ck_assert_int_eq(sio_packet_decode("0", 1, &p), SIO_V_OTHER_NSP);
	ck_assert_int_eq(p.type, SIO_CONNECT);
	ck_assert_ptr_null(p.data);
	sio_packet_clear(&p);

	ck_assert_int_eq(sio_packet_decode("3/admin,13[\"bar\"]", 17, &p),
	    SIO_V_OTHER_NSP);
	ck_assert_int_eq(p.type, SIO_ACK);
	ck_assert_str_eq(p.nsp, "/admin");
	ck_assert_int_eq(p.ack, 13);
	sio_packet_clear(&p);

	ck_assert_int_eq(sio_packet_decode("51-[\"baz\",{\"_placeholder\":true,"
	    "\"num\":0}]", 40, &p), SIO_V_OTHER_NSP);
	ck_assert_int_eq(p.type, SIO_BINARY_EVENT);
	ck_assert_int_eq(p.nattach, 1);
	sio_packet_clear(&p);
}
END_TEST

START_TEST(test_sio_agents)
{
	struct sio_packet	 p;

	ck_assert_int_eq(decode("40/agents,{\"sid\":\"hLB8\"}", &p), SIO_V_OK);
	ck_assert_int_eq(p.type, SIO_CONNECT);
	ck_assert_str_eq(p.nsp, "/agents");
	ck_assert(json_is_object(p.data));
	sio_packet_clear(&p);
	/* socket.io may add pid; a bare ack is fine too (§2.2). */
	ck_assert_int_eq(decode("40/agents,{\"sid\":\"x\",\"pid\":\"y\"}", &p),
	    SIO_V_OK);
	sio_packet_clear(&p);
	ck_assert_int_eq(decode("40/agents,", &p), SIO_V_OK);
	ck_assert_ptr_null(p.data);
	sio_packet_clear(&p);
	ck_assert_int_eq(decode("40/agents", &p), SIO_V_OK);
	sio_packet_clear(&p);

	ck_assert_int_eq(decode("44/agents,{\"message\":\"unauthorized\"}", &p),
	    SIO_V_OK);
	ck_assert_int_eq(p.type, SIO_CONNECT_ERROR);
	ck_assert_str_eq(p.reason, "unauthorized");
	sio_packet_clear(&p);
	ck_assert_int_eq(decode("44/agents,{\"message\":\"x\",\"data\":{\"a\":1}}",
	    &p), SIO_V_OK);
	ck_assert_str_eq(p.reason, "x");
	sio_packet_clear(&p);
	/* python-socketio: a bare string */
	ck_assert_int_eq(decode("44/agents,\"Unable to connect\"", &p),
	    SIO_V_OK);
	ck_assert_str_eq(p.reason, "Unable to connect");
	sio_packet_clear(&p);

	ck_assert_int_eq(decode("42/agents,[\"hello_ack\",{}]", &p), SIO_V_OK);
	ck_assert_int_eq(p.type, SIO_EVENT);
	ck_assert_str_eq(p.event, "hello_ack");
	ck_assert(json_is_object(p.arg));
	ck_assert_int_eq(p.ack, -1);
	sio_packet_clear(&p);
	/* ack id 0 is valid: socket.io numbers acks from 0 */
	ck_assert_int_eq(decode("42/agents,0[\"admin_run\",{\"token\":\"t\"}]",
	    &p), SIO_V_OK);
	ck_assert_int_eq(p.ack, 0);
	ck_assert_str_eq(p.event, "admin_run");
	sio_packet_clear(&p);
	ck_assert_int_eq(decode("42/agents,17[\"x\"]", &p), SIO_V_OK);
	ck_assert_int_eq(p.ack, 17);
	ck_assert_ptr_null(p.arg);
	sio_packet_clear(&p);
	/* the largest ack id: 15 digits */
	ck_assert_int_eq(decode("42/agents,999999999999999[\"x\",{}]", &p),
	    SIO_V_OK);
	ck_assert_int_eq(p.ack, 999999999999999LL);
	sio_packet_clear(&p);
	/* ping/pong are ordinary events; extra arguments ignored */
	ck_assert_int_eq(decode("42/agents,[\"ping\",{\"ts\":1795505706906},5]",
	    &p), SIO_V_OK);
	ck_assert_str_eq(p.event, "ping");
	ck_assert_int_eq(json_integer_value(json_object_get(p.arg, "ts")),
	    1795505706906LL);
	sio_packet_clear(&p);

	ck_assert_int_eq(decode("41/agents,", &p), SIO_V_OK);
	ck_assert_int_eq(p.type, SIO_DISCONNECT);
	ck_assert_str_eq(p.reason, "");
	sio_packet_clear(&p);
	/* §2.7 #19 */
	ck_assert_int_eq(decode("41/agents,{\"message\":\"x\"}", &p), SIO_V_OK);
	ck_assert_str_eq(p.reason, "x");
	sio_packet_clear(&p);

	ck_assert_int_eq(decode("43/agents,5[]", &p), SIO_V_OK);
	ck_assert_int_eq(p.type, SIO_ACK);
	ck_assert_int_eq(p.ack, 5);
	sio_packet_clear(&p);

	ck_assert_int_eq(decode("451-/agents,[\"b\",{\"_placeholder\":true,"
	    "\"num\":0}]", &p), SIO_V_OK);
	ck_assert_int_eq(p.type, SIO_BINARY_EVENT);
	ck_assert_int_eq(p.nattach, 1);
	ck_assert_str_eq(p.event, "b");
	sio_packet_clear(&p);
	ck_assert_int_eq(decode("4516-/agents,3[\"b\"]", &p), SIO_V_OK);
	ck_assert_int_eq(p.nattach, 16);
	ck_assert_int_eq(p.ack, 3);
	sio_packet_clear(&p);
	ck_assert_int_eq(decode("462-/agents,4[{\"_placeholder\":true,"
	    "\"num\":0}]", &p), SIO_V_OK);
	ck_assert_int_eq(p.type, SIO_BINARY_ACK);
	ck_assert_int_eq(p.nattach, 2);
	sio_packet_clear(&p);
}
END_TEST

struct bad {
	const char	*frame;
	int		 verdict;
	const char	*reason;	/* CONNECT_ERROR only */
};

/* §2.7 rows the packet decoder decides. */
START_TEST(test_sio_malformed)
{
	static const struct bad bad[] = {
		{ "4", SIO_V_DROP, NULL },				/* 1 */
		{ "47/agents,[]", SIO_V_DROP, NULL },			/* 5 */
		{ "4x", SIO_V_DROP, NULL },
		{ "42/agents,", SIO_V_DROP, NULL },			/* 6 */
		{ "42/agents", SIO_V_DROP, NULL },
		{ "42/agents,{}", SIO_V_DROP, NULL },
		{ "42/agents,[]", SIO_V_DROP, NULL },
		{ "42/agents,[1,{}]", SIO_V_DROP, NULL },
		{ "42/agents,[null]", SIO_V_DROP, NULL },
		{ "42/agents,[\"\",{}]", SIO_V_DROP, NULL },
		{ "42/agents,[\"a\\u0000b\",{}]", SIO_V_DROP, NULL },
		{ "42/agents,[\"hello_ack\",", SIO_V_DROP, NULL },	/* 7 */
		{ "42/agents,[\"x\",{}]]", SIO_V_DROP, NULL },
		{ "42/agents,abc[\"x\",{}]", SIO_V_DROP, NULL },
		{ "42/agents,[\"x\",{\"a\":1,\"a\":2}]", SIO_V_DROP, NULL },
		{ "42/agents,1234567890123456[\"x\",{}]", SIO_V_DROP, NULL },/* 8 */
		{ "42/agents,[\"connect\",{}]", SIO_V_DROP, NULL },	/* 9 */
		{ "42/agents,[\"connect_error\",{}]", SIO_V_DROP, NULL },
		{ "42/agents,[\"disconnect\",{}]", SIO_V_DROP, NULL },
		{ "42/agents,[\"disconnecting\",{}]", SIO_V_DROP, NULL },
		{ "42/agents,[\"newListener\",{}]", SIO_V_DROP, NULL },
		{ "42/agents,[\"removeListener\",{}]", SIO_V_DROP, NULL },
		{ "42/agents,[\"x\",{\"n\":99999999999999999999}]", SIO_V_DROP,
		    NULL },						/* 12 */
		{ "45x-/agents,[\"b\"]", SIO_V_DROP, NULL },		/* 14 */
		{ "451/agents,[\"b\"]", SIO_V_DROP, NULL },
		{ "45-/agents,[\"b\"]", SIO_V_DROP, NULL },
		{ "45", SIO_V_DROP, NULL },
		{ "4517-/agents,[\"b\"]", SIO_V_CLOSE, NULL },		/* 15 */
		{ "4599999999999999999999-/agents,[\"b\"]", SIO_V_CLOSE, NULL },
		{ "44/agents,42", SIO_V_OK, "unknown" },		/* 17 */
		{ "44/agents,", SIO_V_OK, "unknown" },
		{ "44/agents,[\"m\"]", SIO_V_OK, "unknown" },
		{ "44/agents,{\"message\":5}", SIO_V_OK, "unknown" },
		{ "40/agents,[1]", SIO_V_CLOSE, NULL },			/* 18 */
		{ "40/agents,\"s\"", SIO_V_CLOSE, NULL },
		{ "43/agents,5{}", SIO_V_DROP, NULL },
		{ "43/agents,5", SIO_V_DROP, NULL },
		/* §2.7 #13 (other namespaces): ignored */
		{ "42[\"x\",{}]", SIO_V_OTHER_NSP, NULL },
		{ "42/other,[\"x\",{}]", SIO_V_OTHER_NSP, NULL },
		{ "42/agentsx,[\"x\",{}]", SIO_V_OTHER_NSP, NULL },
		{ "42/agent,[\"x\",{}]", SIO_V_OTHER_NSP, NULL },
		{ "40/Agents,", SIO_V_OTHER_NSP, NULL },
	};
	struct sio_packet	 p;
	size_t			 i;
	int			 v;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = decode(bad[i].frame, &p);
		ck_assert_msg(v == bad[i].verdict, "%s: verdict %d, want %d "
		    "(%s)", bad[i].frame, v, bad[i].verdict, p.error);
		if (v == SIO_V_DROP || v == SIO_V_CLOSE)
			ck_assert_msg(p.error[0] != '\0', "%s", bad[i].frame);
		if (bad[i].reason != NULL)
			ck_assert_str_eq(p.reason, bad[i].reason);
		sio_packet_clear(&p);
	}
}
END_TEST

/* Nesting: 32 levels pass, 33 are dropped (§2.7 #12). */
START_TEST(test_sio_depth)
{
	struct sio_packet	 p;
	char			 buf[512];
	int			 i, n;

	for (int depth = 31; depth <= 33; depth++) {
		/* the event array is level 1, its object level 2 */
		n = snprintf(buf, sizeof(buf), "2/agents,[\"x\",");
		for (i = 0; i < depth - 1; i++)
			buf[n++] = '[';
		for (i = 0; i < depth - 1; i++)
			buf[n++] = ']';
		buf[n++] = ']';
		buf[n] = '\0';
		/* [ "x", [[...]] ]: the argument is not an object, but the
		 * verdict is about the packet's shape. */
		ck_assert_int_eq(sio_packet_decode(buf, (size_t)n, &p),
		    depth <= 32 ? SIO_V_OK : SIO_V_DROP);
		sio_packet_clear(&p);
	}
	/* Brackets inside strings do not count. */
	n = snprintf(buf, sizeof(buf), "2/agents,[\"x\",{\"s\":\"");
	for (i = 0; i < 100; i++)
		buf[n++] = '[';
	n += snprintf(buf + n, sizeof(buf) - (size_t)n, "\\\"[\"}]");
	ck_assert_int_eq(sio_packet_decode(buf, (size_t)n, &p), SIO_V_OK);
	sio_packet_clear(&p);
	/* A huge nesting is refused before the parser recurses. */
	{
		char	*big = malloc(200001);

		ck_assert_ptr_nonnull(big);
		memcpy(big, "2/agents,", 9);
		memset(big + 9, '[', 200000 - 9);
		ck_assert_int_eq(sio_packet_decode(big, 200000, &p),
		    SIO_V_DROP);
		sio_packet_clear(&p);
		free(big);
	}
}
END_TEST

START_TEST(test_sio_encode)
{
	char	 buf[64], *f;
	json_t	*o;
	size_t	 len;

	ck_assert_int_eq(sio_encode_connect(buf, sizeof(buf)), 10);
	ck_assert_str_eq(buf, "40/agents,");
	ck_assert_int_eq(sio_encode_disconnect(buf, sizeof(buf)), 10);
	ck_assert_str_eq(buf, "41/agents,");
	ck_assert_int_eq(sio_encode_ack(buf, sizeof(buf), 17), 14);
	ck_assert_str_eq(buf, "43/agents,17[]");
	ck_assert_int_eq(sio_encode_ack(buf, sizeof(buf), 0), 13);
	ck_assert_str_eq(buf, "43/agents,0[]");
	errno = 0;
	ck_assert_int_eq(sio_encode_ack(buf, 13, 0), -1);
	ck_assert_int_eq(errno, ENOSPC);
	ck_assert_int_eq(sio_encode_connect(buf, 10), -1);

	o = json_pack("{s:I}", "ts", (json_int_t)1700000030000LL);
	f = sio_encode_event("pong", o, &len);
	ck_assert_str_eq(f, "42/agents,[\"pong\",{\"ts\":1700000030000}]");
	ck_assert_uint_eq(len, strlen(f));
	free(f);
	/* Escaping (§2.8): quotes, backslash, controls; UTF-8 kept raw. */
	json_object_set_new(o, "s", json_string("a\"b\\c\n\x01\xc3\xa9/"));
	f = sio_encode_event("x", o, &len);
	ck_assert_str_eq(f, "42/agents,[\"x\",{\"ts\":1700000030000,"
	    "\"s\":\"a\\\"b\\\\c\\n\\u0001\xc3\xa9/\"}]");
	free(f);
	json_decref(o);
	/* Only an object is a payload. */
	o = json_array();
	ck_assert_ptr_null(sio_encode_event("x", o, &len));
	json_decref(o);
	o = json_object();
	ck_assert_ptr_null(sio_encode_event("", o, &len));
	ck_assert_ptr_null(sio_encode_event(NULL, o, &len));
	json_decref(o);
}
END_TEST

/* The request target of §1.1, §3.3. */
START_TEST(test_eio_target)
{
	static const struct {
		const char	*path, *tpath, *query, *want;
	} v[] = {
		{ "/", "/socket.io", "clientId=host-01&ts=1700000000000&sig="
		    "130087beba31b698676e0372fa2f76311625886b90ca1cbfb1a7802"
		    "ceb7c37e7", "/socket.io/?EIO=4&transport=websocket&"
		    "clientId=host-01&ts=1700000000000&sig=130087beba31b6986"
		    "76e0372fa2f76311625886b90ca1cbfb1a7802ceb7c37e7" },
		{ "/api", "/socket.io", "q=1",
		    "/api/socket.io/?EIO=4&transport=websocket&q=1" },
		{ "/", "socket.io/", "",
		    "/socket.io/?EIO=4&transport=websocket" },
		{ "", "socket.io", NULL,
		    "/socket.io/?EIO=4&transport=websocket" },
		{ "/api/", "/socket.io/", "a=b",
		    "/api/socket.io/?EIO=4&transport=websocket&a=b" },
		{ "//api//v1/", "//socket.io//", "",
		    "/api/v1/socket.io/?EIO=4&transport=websocket" },
		{ "/api/./x/../y", "/socket.io", "",
		    "/api/y/socket.io/?EIO=4&transport=websocket" },
		{ "/../..", "/socket.io", "",
		    "/socket.io/?EIO=4&transport=websocket" },
		/* an existing query or fragment is discarded */
		{ "/api?token=x&EIO=3", "/socket.io", "c=1",
		    "/api/socket.io/?EIO=4&transport=websocket&c=1" },
		{ "/api#frag", "/socket.io", "",
		    "/api/socket.io/?EIO=4&transport=websocket" },
		{ "/?x=1", "/socket.io", "",
		    "/socket.io/?EIO=4&transport=websocket" },
		{ "/", "/", "",
		    "/?EIO=4&transport=websocket" },
		{ "/p", "/a/b", "",
		    "/p/a/b/?EIO=4&transport=websocket" },
	};
	char	 buf[512];
	size_t	 i;
	int	 n;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		n = eio_target(buf, sizeof(buf), v[i].path, v[i].tpath,
		    v[i].query);
		ck_assert_msg(n >= 0, "%s", v[i].path);
		ck_assert_str_eq(buf, v[i].want);
		ck_assert_int_eq(n, (int)strlen(buf));
	}
	errno = 0;
	ck_assert_int_eq(eio_target(buf, 20, "/api", "/socket.io", ""), -1);
	ck_assert_int_eq(errno, ENOSPC);
	n = (int)strlen("/socket.io/?EIO=4&transport=websocket");
	ck_assert_int_eq(eio_target(buf, (size_t)n, "/", "/socket.io", ""),
	    -1);
	ck_assert_int_eq(eio_target(buf, (size_t)n + 1, "/", "/socket.io",
	    ""), n);
}
END_TEST

/* ---------------------------------------------------------------- */
/* dialect_socketio: payloads */

static char *
dump(json_t *j)
{
	char	*s;

	ck_assert_ptr_nonnull(j);
	s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER |
	    JSON_REAL_PRECISION(15));
	json_decref(j);
	return s;
}

START_TEST(test_dialect_ping_pong)
{
	struct sio_in	 in;
	json_t		*p;
	char		*s;

	/* I7: the identical ts, no precision loss. */
	p = json_loads("{\"ts\":1795505706906}", 0, NULL);
	sio_decode_event("ping", p, &in);
	ck_assert_int_eq(in.type, SIO_IN_PING);
	s = dump(sio_enc_pong(in.ts));
	ck_assert_str_eq(s, "{\"ts\":1795505706906}");
	free(s);
	sio_in_clear(&in);
	json_decref(p);
	p = json_loads("{\"ts\":9007199254740993}", 0, NULL);
	sio_decode_event("ping", p, &in);
	s = dump(sio_enc_pong(in.ts));
	ck_assert_str_eq(s, "{\"ts\":9007199254740993}");
	free(s);
	sio_in_clear(&in);
	json_decref(p);
	/* missing or not a number: 0 */
	p = json_loads("{\"ts\":\"17\"}", 0, NULL);
	sio_decode_event("ping", p, &in);
	ck_assert_int_eq(in.type, SIO_IN_PING);
	s = dump(sio_enc_pong(in.ts));
	ck_assert_str_eq(s, "{\"ts\":0}");
	free(s);
	sio_in_clear(&in);
	json_decref(p);
	s = dump(sio_enc_pong(NULL));
	ck_assert_str_eq(s, "{\"ts\":0}");
	free(s);
	s = dump(sio_enc_ping(1700000030000LL));
	ck_assert_str_eq(s, "{\"ts\":1700000030000}");
	free(s);
	p = json_loads("{\"ts\":1700000030000}", 0, NULL);
	sio_decode_event("pong", p, &in);
	ck_assert_int_eq(in.type, SIO_IN_PONG);
	ck_assert_int_eq(json_integer_value(in.ts), 1700000030000LL);
	sio_in_clear(&in);
	json_decref(p);
}
END_TEST

START_TEST(test_dialect_stats)
{
	static const struct sio_disk d[] = {
		{ "/", "/dev/sda1", "ext4", 21474836480ULL, 32212254720ULL },
		{ "/boot", "/dev/sda2", "vfat", 0, 0 },
	};
	static const struct sio_netif n[] = {
		{ "eth0", 0, "192.168.1.20", "192.168.1.0/24", 1 },
	};
	struct sio_stats	 st;
	char			*s;

	memset(&st, 0, sizeof(st));
	st.cpu = 7.25;
	st.has_mem = 1;
	st.mem_used = 1718394880;
	st.mem_free = 2147483648ULL;
	st.mem_total = 8254427136ULL;
	st.load[0] = 0.42;
	st.load[1] = 0.35;
	st.load[2] = 0.3;
	st.disks = d;
	st.ndisks = 2;
	st.netifs = n;
	st.nnetifs = 1;
	st.hostname = "host-01";
	st.platform = "debian";
	st.release = "12";
	st.arch = "x86_64";
	st.cpus = 4;
	st.uptime_sec = 86400;
	st.kernel_version = "6.1.0-18-amd64";
	st.agent_version = "1.0.0";
	st.now_sec = 1700000000;
	st.net_latency_ms = 12;
	s = dump(sio_enc_stats(&st));
	ck_assert_str_eq(s, "{\"data\":{\"cpu\":7.25,\"mem\":{\"used\":"
	    "1718394880,\"free\":2147483648,\"total\":8254427136},\"load\":"
	    "{\"1m\":0.42,\"5m\":0.35,\"15m\":0.3},\"disk\":[{\"mount\":\"/\","
	    "\"fsname\":\"/dev/sda1\",\"fstype\":\"ext4\",\"used\":21474836480,"
	    "\"avail\":32212254720,\"capacity\":40.0},{\"mount\":\"/boot\","
	    "\"fsname\":\"/dev/sda2\",\"fstype\":\"vfat\",\"used\":0,\"avail\":0,"
	    "\"capacity\":0.0}],\"netIfaces\":[{\"name\":\"eth0\",\"family\":"
	    "\"IPv4\",\"address\":\"192.168.1.20\",\"cidr\":\"192.168.1.0/24\","
	    "\"internal\":true}],\"hostname\":\"host-01\",\"platform\":"
	    "\"debian\",\"release\":\"12\",\"arch\":\"x86_64\",\"cpus\":4,"
	    "\"uptimeSec\":86400,\"lastReboot\":\"2023-11-13T22:13:20Z\","
	    "\"kernelVersion\":\"6.1.0-18-amd64\",\"agentVersion\":\"1.0.0\","
	    "\"ts\":\"2023-11-14T22:13:20Z\",\"diskPercent\":40.0,"
	    "\"netLatencyMs\":12}}");
	free(s);
	/* The minimum: optional fields omitted, never null (§2.8). */
	memset(&st, 0, sizeof(st));
	st.cpu = 0.0 / 0.0;
	st.load[0] = 1.0 / 0.0;
	st.load[1] = 1.23456789;
	st.agent_version = "0.1.0";
	st.now_sec = 1700000000;
	st.net_latency_ms = -1;
	s = dump(sio_enc_stats(&st));
	ck_assert_str_eq(s, "{\"data\":{\"cpu\":0.0,\"load\":{\"1m\":0.0,"
	    "\"5m\":1.234568,\"15m\":0.0},\"agentVersion\":\"0.1.0\","
	    "\"ts\":\"2023-11-14T22:13:20Z\"}}");
	free(s);
	/* Invalid UTF-8 becomes U+FFFD, byte by byte. */
	st.hostname = "h\xff\xfe";
	s = dump(sio_enc_stats(&st));
	ck_assert_ptr_nonnull(strstr(s, "\"hostname\":\"h\xef\xbf\xbd\xef\xbf\xbd\""));
	free(s);
}
END_TEST

START_TEST(test_dialect_shell_closed)
{
	char	*s;

	s = dump(sio_enc_shell_closed("6f1c", 1, "shell access disabled",
	    NULL));
	ck_assert_str_eq(s, "{\"session\":\"6f1c\",\"code\":1,\"reason\":"
	    "\"shell access disabled\"}");
	free(s);
	s = dump(sio_enc_shell_closed("s", -1, "signal: hangup", "SIGHUP"));
	ck_assert_str_eq(s, "{\"session\":\"s\",\"code\":-1,\"reason\":"
	    "\"signal: hangup\",\"signal\":\"SIGHUP\"}");
	free(s);
}
END_TEST

struct chunks {
	size_t	 max;
	int	 n;
	char	 data[8192];
	size_t	 len;
};

static int
chunk_cb(void *arg, const json_t *o)
{
	struct chunks	*c = arg;
	const char	*d;
	char		*f;
	size_t		 len;

	f = sio_encode_event("shell_output", o, &len);
	ck_assert_ptr_nonnull(f);
	ck_assert_msg(len <= c->max, "frame %zu > %zu", len, c->max);
	free(f);
	d = json_string_value(json_object_get(o, "data"));
	ck_assert_ptr_nonnull(d);
	memcpy(c->data + c->len, d, strlen(d));
	c->len += strlen(d);
	c->n++;
	return 0;
}

/* maxPayload splitting: every frame fits, the bytes are all there. */
START_TEST(test_dialect_shell_output_split)
{
	struct chunks	 c;
	char		 in[4096];
	size_t		 i;

	for (i = 0; i < sizeof(in); i++)
		in[i] = "ab\"\n\xc3\xa9"[i % 6];
	memset(&c, 0, sizeof(c));
	c.max = 1000000;
	ck_assert_int_eq(sio_enc_shell_output("s1", in, sizeof(in), c.max,
	    chunk_cb, &c), 0);
	ck_assert_int_eq(c.n, 1);
	ck_assert_uint_eq(c.len, sizeof(in));
	ck_assert(memcmp(c.data, in, sizeof(in)) == 0);
	memset(&c, 0, sizeof(c));
	c.max = 100;
	ck_assert_int_eq(sio_enc_shell_output("s1", in, sizeof(in), c.max,
	    chunk_cb, &c), 0);
	ck_assert_int_gt(c.n, 40);
	ck_assert_uint_eq(c.len, sizeof(in));
	ck_assert(memcmp(c.data, in, sizeof(in)) == 0);
	/* Too small for any data: refused. */
	memset(&c, 0, sizeof(c));
	c.max = 40;
	errno = 0;
	ck_assert_int_eq(sio_enc_shell_output("s1", in, sizeof(in), c.max,
	    chunk_cb, &c), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_int_eq(c.n, 0);
	/* Invalid bytes become U+FFFD. */
	memset(&c, 0, sizeof(c));
	c.max = 1000;
	ck_assert_int_eq(sio_enc_shell_output("s1", "\377", 1, c.max,
	    chunk_cb, &c), 0);
	ck_assert_uint_eq(c.len, 3);
	ck_assert(memcmp(c.data, "\xef\xbf\xbd", 3) == 0);
}
END_TEST

static int
decode_text(const char *name, const char *payload, struct sio_in *in)
{
	json_t	*p = json_loads(payload, JSON_ALLOW_NUL, NULL);

	ck_assert_msg(p != NULL, "%s", payload);
	sio_decode_event(name, p, in);
	json_decref(p);
	return in->type;
}

START_TEST(test_dialect_decode)
{
	struct sio_in	 in;

	ck_assert_int_eq(decode_text("hello_ack", "{}", &in), SIO_IN_HELLO_ACK);
	sio_in_clear(&in);
	ck_assert_int_eq(decode_text("hello_ack", "{\"sessionNonce\":\"ab\"}",
	    &in), SIO_IN_HELLO_ACK);
	sio_in_clear(&in);

	ck_assert_int_eq(decode_text("admin_run", "{\"token\":\"cron-get-host-"
	    "01-1700000031000\",\"cmd\":{\"command\":\"crontab -l\","
	    "\"timeoutSec\":5,\"cwd\":\"/srv\",\"env\":[1]}}", &in),
	    SIO_IN_ADMIN_RUN);
	ck_assert_str_eq(in.token.s, "cron-get-host-01-1700000031000");
	ck_assert_str_eq(in.command.s, "crontab -l");
	ck_assert_str_eq(in.cwd.s, "/srv");
	ck_assert_int_eq(in.timeout_sec, 5);
	sio_in_clear(&in);
	/* no cmd: the runner answers "empty command" */
	ck_assert_int_eq(decode_text("admin_run", "{}", &in), SIO_IN_ADMIN_RUN);
	ck_assert_ptr_null(in.command.s);
	sio_in_clear(&in);
	/* NUL in the command reaches the runner, which refuses it (D8). */
	ck_assert_int_eq(decode_text("admin_run",
	    "{\"cmd\":{\"command\":\"ls\\u0000x\"}}", &in), SIO_IN_ADMIN_RUN);
	ck_assert_uint_eq(in.command.len, 4);
	sio_in_clear(&in);

	ck_assert_int_eq(decode_text("shell_start", "{\"session\":\"6f1c\"}",
	    &in), SIO_IN_SHELL_START);
	ck_assert_str_eq(in.session.s, "6f1c");
	sio_in_clear(&in);
	ck_assert_int_eq(decode_text("shell_input",
	    "{\"session\":\"s\",\"data\":\"ls\\n\"}", &in), SIO_IN_SHELL_INPUT);
	ck_assert_str_eq(in.data.s, "ls\n");
	sio_in_clear(&in);
	ck_assert_int_eq(decode_text("shell_resize",
	    "{\"session\":\"s\",\"cols\":100,\"rows\":99999}", &in),
	    SIO_IN_SHELL_RESIZE);
	ck_assert_int_eq(in.cols, 100);
	ck_assert_int_eq(in.rows, 65535);
	sio_in_clear(&in);
	ck_assert_int_eq(decode_text("shell_resize",
	    "{\"session\":\"s\",\"cols\":0,\"rows\":24}", &in),
	    SIO_IN_SHELL_RESIZE);
	ck_assert_int_eq(in.cols, 0);
	ck_assert_int_eq(in.rows, 0);
	sio_in_clear(&in);
	ck_assert_int_eq(decode_text("shell_close", "{\"session\":\"s\"}", &in),
	    SIO_IN_SHELL_CLOSE);
	sio_in_clear(&in);

	ck_assert_int_eq(decode_text("backup_plan", "{\"planId\":\"p1\","
	    "\"host\":\"\",\"user\":\"\",\"port\":0,\"sourceDirs\":[\"/a\"],"
	    "\"destRoot\":\"/b\",\"ignoreGlobs\":[\"**/*.log\"],\"clientId\":"
	    "\"c\",\"source\":{}}", &in), SIO_IN_BACKUP_PLAN);
	ck_assert_str_eq(in.plan_id.s, "p1");
	ck_assert_str_eq(in.dest_root.s, "/b");
	ck_assert_int_eq(json_array_size(in.source_dirs), 1);
	sio_in_clear(&in);
	ck_assert_int_eq(decode_text("backup_start", "{\"planId\":\"p1\"}",
	    &in), SIO_IN_BACKUP_START);
	sio_in_clear(&in);
	ck_assert_int_eq(decode_text("sync_keys", "{\"user\":\"octocat\"}",
	    &in), SIO_IN_SYNC_KEYS);
	ck_assert_str_eq(in.user.s, "octocat");
	sio_in_clear(&in);

	/* message: dispatch on t, otherwise type */
	ck_assert_int_eq(decode_text("message", "{\"t\":\"shell_close\","
	    "\"type\":\"ping\",\"session\":\"s\"}", &in), SIO_IN_SHELL_CLOSE);
	sio_in_clear(&in);
	ck_assert_int_eq(decode_text("message", "{\"type\":\"ping\",\"ts\":5}",
	    &in), SIO_IN_PING);
	ck_assert_int_eq(json_integer_value(in.ts), 5);
	sio_in_clear(&in);
	ck_assert_int_eq(decode_text("message", "{\"t\":\"message\"}", &in),
	    SIO_IN_UNKNOWN);
	sio_in_clear(&in);
	ck_assert_int_eq(decode_text("message", "{}", &in), SIO_IN_UNKNOWN);
	sio_in_clear(&in);

	ck_assert_int_eq(decode_text("signed_command", "{}", &in),
	    SIO_IN_LATER);
	sio_in_clear(&in);
	ck_assert_int_eq(decode_text("dir_list_request", "{}", &in),
	    SIO_IN_LATER);
	sio_in_clear(&in);
	ck_assert_int_eq(decode_text("bogus", "{}", &in), SIO_IN_UNKNOWN);
	sio_in_clear(&in);
}
END_TEST

/* §2.7 #11, #13: wrong types and NUL drop the event. */
START_TEST(test_dialect_decode_bad)
{
	static const char *const bad[][2] = {
		{ "shell_resize", "{\"session\":\"s\",\"cols\":\"80\",\"rows\":2}" },
		{ "shell_resize", "{\"session\":\"s\",\"cols\":80,\"rows\":2.5}" },
		{ "shell_start", "{\"session\":5}" },
		{ "shell_start", "{\"session\":\"a\\u0000b\"}" },
		{ "shell_input", "{\"session\":\"s\",\"data\":7}" },
		{ "backup_plan", "{\"sourceDirs\":\"x\"}" },
		{ "backup_plan", "{\"sourceDirs\":[\"a\",5]}" },
		{ "backup_plan", "{\"sourceDirs\":[\"a\\u0000\"]}" },
		{ "backup_plan", "{\"planId\":\"p\\u0000\"}" },
		{ "backup_start", "{\"destRoot\":\"/x\\u0000y\"}" },
		{ "backup_start", "{\"port\":\"22\"}" },
		{ "backup_start", "{\"port\":70000}" },
		{ "backup_plan", "{\"ignoreGlobs\":{}}" },
		{ "sync_keys", "{\"user\":\"a\\u0000\"}" },
		{ "sync_keys", "{\"user\":[]}" },
		{ "admin_run", "{\"cmd\":\"rm -rf /\"}" },
		{ "admin_run", "{\"cmd\":{\"command\":5}}" },
		{ "admin_run", "{\"cmd\":{\"command\":\"ls\",\"cwd\":\"/\\u0000\"}}" },
		{ "admin_run", "{\"cmd\":{\"command\":\"ls\",\"timeoutSec\":\"5\"}}" },
		{ "admin_run", "{\"token\":5}" },
	};
	struct sio_in	 in;
	json_t		*a;
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(decode_text(bad[i][0], bad[i][1], &in) ==
		    SIO_IN_INVALID, "%s %s", bad[i][0], bad[i][1]);
		ck_assert(in.error[0] != '\0');
		sio_in_clear(&in);
	}
	a = json_array();
	sio_decode_event("ping", a, &in);
	ck_assert_int_eq(in.type, SIO_IN_INVALID);
	sio_in_clear(&in);
	json_decref(a);
}
END_TEST

static Suite *
eio_suite(void)
{
	Suite	*s = suite_create("eio");
	TCase	*tc;

#define EI_TCASE(name) do {						\
	tc = tcase_create(#name);					\
	tcase_add_test(tc, test_##name);				\
	suite_add_tcase(s, tc);						\
} while (0)
	EI_TCASE(eio_frame_types);
	EI_TCASE(eio_open);
	EI_TCASE(eio_open_bad);
	EI_TCASE(sio_examples);
	EI_TCASE(sio_agents);
	EI_TCASE(sio_malformed);
	EI_TCASE(sio_depth);
	EI_TCASE(sio_encode);
	EI_TCASE(eio_target);
	EI_TCASE(dialect_ping_pong);
	EI_TCASE(dialect_stats);
	EI_TCASE(dialect_shell_closed);
	EI_TCASE(dialect_shell_output_split);
	EI_TCASE(dialect_decode);
	EI_TCASE(dialect_decode_bad);
#undef EI_TCASE
	return s;
}

int
main(void)
{
	return tl_run(eio_suite());
}
