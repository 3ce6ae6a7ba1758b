/*
 * fuzz_eio.c: the socketio codec on arbitrary input.  The bytes are
 * decoded as one Socket.IO packet and as an open packet, then split on
 * '\n' into frames that drive the client state machine through a whole
 * session (a frame starting with 'B' stands for a binary frame).  What
 * the decoder hands on must hold eio.h's promises, and an event must
 * survive a round trip through the encoder.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dialect_socketio.h"
#include "eio.h"
#include "log.h"
#include "sio.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_check_packet(const char *s, size_t len)
{
	struct sio_packet	 p, q;
	struct sio_in		 in;
	char			*f;
	size_t			 flen;
	int			 v;

	v = sio_packet_decode(s, len, &p);
	if (v < SIO_V_OK || v > SIO_V_CLOSE || p.nattach < 0 ||
	    p.nattach > SIO_ATTACH_MAX || p.ack < -1 ||
	    p.ack > 999999999999999LL || strlen(p.nsp) >= sizeof(p.nsp))
		abort();
	if ((v == SIO_V_DROP || v == SIO_V_CLOSE) && p.error[0] == '\0')
		abort();
	if (v == SIO_V_OK && (p.type == SIO_EVENT ||
	    p.type == SIO_BINARY_EVENT)) {
		if (p.event == NULL || *p.event == '\0' ||
		    sio_reserved_name(p.event))
			abort();
		if (p.arg != NULL && json_is_object(p.arg)) {
			sio_decode_event(p.event, p.arg, &in);
			if (in.type == SIO_IN_INVALID && in.error[0] == '\0')
				abort();
			sio_in_clear(&in);
			/* encode, decode again: the same event */
			if ((f = sio_encode_event(p.event, p.arg, &flen)) ==
			    NULL)
				abort();
			if (sio_packet_decode(f + 1, flen - 1, &q) !=
			    SIO_V_OK || strcmp(q.event, p.event) != 0 ||
			    !json_equal(q.arg, p.arg))
				abort();
			sio_packet_clear(&q);
			free(f);
		}
	}
	sio_packet_clear(&p);
}

static void	 op_dial(void *a) { (void)a; }
static int	 op_send(void *a, const char *f, size_t n)
		    { (void)a; (void)f; (void)n; return 0; }
static void	 op_close(void *a, int c, const char *w)
		    { (void)a; (void)c; (void)w; }
static void	 op_event(void *a, const char *n, json_t *p)
{
	struct sio_in	 in;

	(void)a;
	if (!json_is_object(p))
		abort();
	sio_decode_event(n, p, &in);
	sio_in_clear(&in);
}
static uint32_t	 op_rnd(void *a) { (void)a; return 12345; }

static const struct sio_ops fuzz_ops = {
	.dial = op_dial, .send = op_send, .close = op_close,
	.event = op_event, .rnd = op_rnd,
};

static void
fuzz_session(const char *data, size_t size)
{
	static const struct sio_timing t = { 20000, 20000, 20000, 5000,
	    60000, 20000, 45000 };
	struct sio	 sm;
	const char	*p = data, *nl;
	uint64_t	 now = 1;
	size_t		 n;

	sio_init(&sm, &t, &fuzz_ops, NULL);
	sio_start(&sm, now);
	sio_upgraded(&sm, now);
	while (p < data + size) {
		nl = memchr(p, '\n', (size_t)(data + size - p));
		n = nl ? (size_t)(nl - p) : (size_t)(data + size - p);
		if (n > 0 && p[0] == 'B')
			sio_binary(&sm, now, n - 1);
		else
			sio_text(&sm, now, p, n);
		now += 1000;
		sio_tick(&sm, now);
		if (sm.nearly > SIO_BUF_PACKETS ||
		    sm.early_bytes > SIO_BUF_BYTES || sm.attach_left < 0)
			abort();
		p += n + 1;
	}
	sio_shutdown(&sm, now);
	sio_free(&sm);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int	 init;
	struct eio_open	 o;
	char		 why[128];
	char		*s;

	if (!init) {
		log_init(LOG_LVL_ERROR - 1, 0);
		init = 1;
	}
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	(void)eio_frame_type(s, size);
	fuzz_check_packet(s, size);
	if (eio_open_decode(s, size, &o, why, sizeof(why)) == 0 &&
	    (o.ping_interval_ms <= 0 || o.ping_timeout_ms <= 0 ||
	    o.max_payload <= 0))
		abort();
	fuzz_session(s, size);
	free(s);
	return 0;
}
