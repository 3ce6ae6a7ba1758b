/*
 * fuzz_ws.c: the WebSocket layer (conn.c, its frame gate and wslay) on
 * arbitrary frames from the server, plain ws:// over a socketpair: the
 * harness answers the real upgrade request with a valid 101 and then
 * writes the input, reads and discards what the connection writes, and
 * hangs up.  The connection must end, exactly once, soon after the
 * hang-up, deliver no message over max_msg, and explain its end in
 * printable text.
 *
 * Input: byte 0 is how many times the rest is sent (1-64), so that small
 * inputs reach the bounds (budget, fragments, control frame rate); byte 1
 * the write chunk size (x 64 bytes, 0: at once); the rest are frames.
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "conn.h"
#include "http.h"
#include "log.h"
#include "tls.h"

#define FUZZ_MAX_MSG	4096
#define FUZZ_WAIT_S	5.0	/* close_ms is 2 s */
#define FUZZ_STUCK	100	/* rounds without writing: hang up */

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int	fuzz_closed;

static void
fuzz_message(struct conn *c, const char *data, size_t len, int binary,
    void *arg)
{
	if (len > FUZZ_MAX_MSG || (len > 0 && data == NULL))
		abort();
}

static void
fuzz_closed_cb(struct conn *c, int end, const char *why, void *arg)
{
	const char	*p;

	if (fuzz_closed++ > 0 || why == NULL || why[0] == '\0')
		abort();
	for (p = why; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			abort();
	if (getenv("FUZZ_WS_VERBOSE") != NULL)	/* seeing what a seed does */
		fprintf(stderr, "closed: %s\n", why);
}

/* Whatever the connection wrote; the request is kept until complete. */
static void
fuzz_drain(int fd, char *req, size_t size, size_t *reqlen)
{
	char	 buf[8192];
	ssize_t	 n;
	size_t	 k;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		k = (size_t)n;
		if (*reqlen + k > size - 1)
			k = size - 1 - *reqlen;
		memcpy(req + *reqlen, buf, k);
		*reqlen += k;
		req[*reqlen] = '\0';
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ev_loop	*loop;
	static struct conn	*c;
	static const struct conn_cb cb = { NULL, fuzz_message,
				    fuzz_closed_cb };
	struct conn_params	 p;
	char			 req[4096], accept[HTTP_ACCEPT_SIZE], key[32];
	char			 resp[256];
	const char		*why = NULL, *k;
	size_t			 reqlen = 0, chunk, total, off = 0, rlen;
	size_t			 roff = 0;
	ssize_t			 n;
	ev_tstamp		 t0;
	int			 sv[2], reps, i, shut = 0, stuck = 0;

	if (size < 2)
		return 0;
	if (loop == NULL) {
		log_init(LOG_LVL_ERROR, 0);
		if (tls_global_init() != 0)
			abort();
		loop = ev_loop_new(EVFLAG_AUTO);
		memset(&p, 0, sizeof(p));
		p.url = "ws://127.0.0.1/ws";
		p.handshake_ms = 60000;
		p.close_ms = 2000;
		p.max_msg = FUZZ_MAX_MSG;
		p.max_frags = 16;
		p.highwater = 1024 * 1024;
		if ((c = conn_new(loop, &p, &cb, NULL, NULL, 0, &why)) == NULL)
			abort();
	}
	reps = 1 + data[0] % 64;
	chunk = data[1] * 64;
	data += 2;
	size -= 2;
	total = size * reps;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		abort();
	fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK);
	fuzz_closed = 0;
	conn_start(c, sv[0], 0, NULL);

	/* The upgrade request, then our 101. */
	req[0] = '\0';
	for (i = 0; i < 1000 && strstr(req, "\r\n\r\n") == NULL; i++) {
		ev_run(loop, EVRUN_NOWAIT);
		fuzz_drain(sv[1], req, sizeof(req), &reqlen);
		if (reqlen == 0)
			req[0] = '\0';
	}
	if ((k = strstr(req, "\r\nSec-WebSocket-Key: ")) == NULL)
		abort();
	snprintf(key, sizeof(key), "%.24s", k + 21);
	http_ws_accept(key, accept);
	rlen = snprintf(resp, sizeof(resp), "HTTP/1.1 101 Switching "
	    "Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: %s\r\n\r\n", accept);

	t0 = ev_time();
	while (!fuzz_closed && ev_time() - t0 < FUZZ_WAIT_S) {
		while (roff < rlen && (n = send(sv[1], resp + roff,
		    rlen - roff, MSG_NOSIGNAL)) > 0)
			roff += n;
		stuck++;
		while (!shut && roff == rlen && off < total) {
			size_t	 at = off % size, len = size - at;

			if (chunk > 0 && len > chunk)
				len = chunk;
			if ((n = send(sv[1], data + at, len,
			    MSG_NOSIGNAL)) <= 0) {
				if (n == -1 && errno != EAGAIN)
					stuck = FUZZ_STUCK;
				break;
			}
			off += n;
			stuck = 0;
			if (chunk > 0)
				break;
		}
		/* All sent, or the connection stopped reading: hang up. */
		if (!shut && roff == rlen && (off == total ||
		    stuck >= FUZZ_STUCK)) {
			shutdown(sv[1], SHUT_WR);
			shut = 1;
		}
		ev_run(loop, EVRUN_NOWAIT);
		reqlen = 0;
		fuzz_drain(sv[1], req, sizeof(req), &reqlen);
	}
	/* Hung up on: the connection must have ended, by close_ms. */
	if (!fuzz_closed)
		abort();
	close(sv[1]);
	return 0;
}
