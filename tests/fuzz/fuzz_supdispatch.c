/*
 * fuzz_supdispatch.c: the supervisor's dispatch functions against
 * arbitrary frames, as a hostile worker would send them.
 *
 * Input: one selector byte (bit 0: 0 the net-worker's channel, 1 the
 * exec-worker's), then a byte stream cut into frames by ipcbuf at that
 * channel's maximum.  Each frame goes to sup_dispatch_net() or
 * sup_dispatch_exec() of a supervisor that has no workers; a drop ends
 * the input, as it ends the channel.  Connect requests dial 127.0.0.1:9.
 */
#include <sys/socket.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proto.h"
#include "supervisor.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct sup	 sup;
static int		 peer[W_COUNT] = { -1, -1 };

static void
fuzz_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
}

static void
fuzz_reset(void)
{
	struct sup	*s = &sup;
	struct ev_loop	*loop = ev_default_loop(EVFLAG_AUTO);
	const char	*why;
	int		 sv[W_COUNT][2], i;

	if (s->loop != NULL) {
		connect_cancel(s);
		worker_stop_timers(s);
		ev_timer_stop(loop, &s->stop_timer);
		for (i = 0; i < W_COUNT; i++) {
			ipcev_close(&s->w[i].iev);
			close(peer[i]);
			if (s->w[i].peerfd != -1)	/* a restart's pair */
				close(s->w[i].peerfd);
		}
	}
	memset(s, 0, sizeof(*s));
	s->loop = loop;
	worker_init(s);
	s->cfg.handshake_ms = 10000;
	s->w[W_NET].name = "net-worker";
	s->w[W_EXEC].name = "exec-worker";
	if (url_parse("ws://127.0.0.1:9/ws", &s->dash, &why) == -1)
		abort();
	strlcpy(s->dash_url, "ws://127.0.0.1:9/ws", sizeof(s->dash_url));
	ev_timer_init(&s->stop_timer, fuzz_timer_cb, 0, 0);
	for (i = 0; i < W_COUNT; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0, sv[i]) == -1)
			abort();
		peer[i] = sv[i][1];
	}
	sup_channels_init(s, sv[W_NET][0], sv[W_EXEC][0]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int	 init;
	struct ipcbuf	*b;
	struct ipcmsg	*m;
	struct worker	*w;
	size_t		 off = 1, n;

	if (!init) {
		log_init(LOG_LVL_ERROR, 0);
		init = 1;
	}
	fuzz_reset();
	if (size < 1)
		return 0;
	w = &sup.w[data[0] & 1 ? W_EXEC : W_NET];
	if ((b = ipcbuf_new(-1, ipcbuf_maxsize(w->iev.buf))) == NULL)
		abort();
	while (ipcev_active(&w->iev)) {
		if (off < size) {
			n = ipcbuf_feed(b, data + off, size - off);
			off += n;
		}
		if (ipcbuf_get(b, &m) != 1)
			break;
		w->iev.dispatch(&w->iev, m);
		ipc_free(m);
	}
	ipcbuf_free(b);
	return 0;
}
