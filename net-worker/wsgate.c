/*
 * wsgate.c: the frame gate in front of wslay (wsgate.h).  The bounds and
 * why they are what they are: docs/internals.md, "WebSocket bounds".
 */
#include <stdio.h>
#include <string.h>

#include "wsgate.h"

#define WS_CONT		0x0
#define WS_TEXT		0x1
#define WS_BINARY	0x2
#define WS_CLOSE	0x8
#define WS_PING		0x9
#define WS_PONG		0xa

#define WS_PROTOCOL_ERROR	1002
#define WS_POLICY_VIOLATION	1008

void
wsgate_init(struct wsgate *g, uint32_t max_frags, const struct wsgate_cb *cb,
    void *arg)
{
	memset(g, 0, sizeof(*g));
	g->cb = cb;
	g->arg = arg;
	g->max_frags = max_frags;
	g->hneed = 2;
}

void
wsgate_step(struct wsgate *g, double now)
{
	g->now = now;
	g->rbytes = 0;
	g->rframes = 0;
}

static int
wsgate_fail(struct wsgate *g, uint16_t code, const char *why)
{
	if (!g->failed) {
		g->failed = 1;
		g->cb->fail(g->arg, code, why);
	}
	return -1;
}

/* A text, binary or continuation frame's header. */
static int
wsgate_data(struct wsgate *g, int op, int fin)
{
	char	 why[64];

	if (op == WS_CONT) {
		if (!g->in_msg)
			return wsgate_fail(g, WS_PROTOCOL_ERROR,
			    "continuation frame outside a message");
		if (++g->frags > g->max_frags) {
			snprintf(why, sizeof(why), "message in more than %u "
			    "fragments", g->max_frags);
			return wsgate_fail(g, WS_POLICY_VIOLATION, why);
		}
		if (fin) {
			g->in_msg = 0;
			g->cb->msg(g->arg, 0);
		}
		return 0;
	}
	if (g->in_msg)
		return wsgate_fail(g, WS_PROTOCOL_ERROR, "new message inside "
		    "a fragmented one");
	if (!fin) {
		g->in_msg = 1;
		g->frags = 1;
		g->cb->msg(g->arg, 1);
	}
	return 0;
}

/* A close, ping or pong frame's header. */
static int
wsgate_control(struct wsgate *g, int op, int fin, uint64_t len)
{
	char	 why[64];

	if (!fin)
		return wsgate_fail(g, WS_PROTOCOL_ERROR, "fragmented control "
		    "frame");
	if (len > WSGATE_CTRL_MAX)
		return wsgate_fail(g, WS_PROTOCOL_ERROR, "control frame over "
		    "125 bytes");
	if (op == WS_CLOSE) {
		/* wslay would take one byte for "no status". */
		if (len == 1)
			return wsgate_fail(g, WS_PROTOCOL_ERROR, "one-byte "
			    "close payload");
		return 0;
	}
	if (g->now - g->ctl_t0 >= 1.0 || g->now < g->ctl_t0) {
		g->ctl_t0 = g->now;
		g->nctl = 0;
	}
	if (++g->nctl > WSGATE_CTRL_PER_S) {
		snprintf(why, sizeof(why), "more than %u pings and pongs a "
		    "second", WSGATE_CTRL_PER_S);
		return wsgate_fail(g, WS_POLICY_VIOLATION, why);
	}
	g->swallow = 1;
	return 0;
}

/* A complete header in g->hdr: 0 to go on, -1 if it failed the link. */
static int
wsgate_header(struct wsgate *g)
{
	const uint8_t	*h = g->hdr;
	uint64_t	 len = h[1] & 0x7f;
	size_t		 i;
	int		 fin = (h[0] & 0x80) != 0, op = h[0] & 0x0f;
	char		 why[64];

	if (len == 126)
		len = (uint64_t)h[2] << 8 | h[3];
	else if (len == 127)
		for (len = 0, i = 2; i < 10; i++)
			len = len << 8 | h[i];
	g->op = op;
	g->rest = len;
	g->swallow = 0;
	g->ctllen = 0;
	if (h[0] & 0x70)	/* no extension was negotiated */
		return wsgate_fail(g, WS_PROTOCOL_ERROR, "reserved bits set");
	if (h[1] & 0x80)
		return wsgate_fail(g, WS_PROTOCOL_ERROR, "masked frame from "
		    "the server");
	if (len >> 63)
		return wsgate_fail(g, WS_PROTOCOL_ERROR, "frame length over "
		    "2^63");
	switch (op) {
	case WS_CONT:
	case WS_TEXT:
	case WS_BINARY:
		return wsgate_data(g, op, fin);
	case WS_CLOSE:
	case WS_PING:
	case WS_PONG:
		return wsgate_control(g, op, fin, len);
	default:
		snprintf(why, sizeof(why), "reserved opcode 0x%x", op);
		return wsgate_fail(g, WS_PROTOCOL_ERROR, why);
	}
}

/* Collect header bytes: 1 when the header is complete. */
static int
wsgate_collect(struct wsgate *g)
{
	uint8_t	 b1;

	while (g->hlen < g->hneed && g->off < g->len) {
		g->hdr[g->hlen++] = g->buf[g->off++];
		if (g->hlen == 2) {
			b1 = g->hdr[1];
			g->hneed = 2 + ((b1 & 0x7f) == 126 ? 2 :
			    (b1 & 0x7f) == 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0);
		}
	}
	return g->hlen == g->hneed;
}

ssize_t
wsgate_read(struct wsgate *g, uint8_t *out, size_t outlen)
{
	ssize_t	 n;
	size_t	 k;

	for (;;) {
		if (g->failed)
			return WSGATE_FAILED;
		if (g->payload && g->hout < g->hlen) {
			k = g->hlen - g->hout < outlen ? g->hlen - g->hout :
			    outlen;
			memcpy(out, g->hdr + g->hout, k);
			g->hout += k;
			return k;
		}
		if (g->payload && g->rest == 0) {	/* frame done */
			if (g->swallow && g->op == WS_PING)
				g->cb->ping(g->arg, g->ctl, g->ctllen);
			g->payload = 0;
			g->hlen = 0;
			g->hneed = 2;
			continue;
		}
		if (g->off == g->len) {
			if (g->rbytes >= WSGATE_RECV_BYTES ||
			    g->rframes >= WSGATE_RECV_FRAMES)
				return WSGATE_YIELD;
			g->off = g->len = 0;
			if ((n = g->cb->fill(g->arg, g->buf,
			    sizeof(g->buf))) <= 0)
				return n;
			g->len = n;
			g->rbytes += n;
		}
		if (!g->payload) {
			if (g->hlen == 0 && g->rframes >= WSGATE_RECV_FRAMES)
				return WSGATE_YIELD;
			if (!wsgate_collect(g))
				continue;
			g->rframes++;
			if (wsgate_header(g) == -1)
				return WSGATE_FAILED;
			g->payload = 1;
			g->hout = g->swallow ? g->hlen : 0;
			continue;
		}
		k = g->len - g->off;
		if (k > g->rest)
			k = g->rest;
		if (g->swallow) {
			memcpy(g->ctl + g->ctllen, g->buf + g->off, k);
			g->ctllen += k;
		} else if (k > outlen)
			k = outlen;
		if (!g->swallow)
			memcpy(out, g->buf + g->off, k);
		g->off += k;
		g->rest -= k;
		if (!g->swallow)
			return k;
	}
}
