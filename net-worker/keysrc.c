/*
 * keysrc.c: the SSH key fetch (keysrc.h).
 *
 * A fetch: wait out KEYSRC_GAP_MS since the last connect request, ask
 * the supervisor for a socket (IPC_NS_CONNECT {IPC_EP_KEYSRC}), TLS
 * handshake, write the GET, read the response through httpget.c until
 * it is complete, the connection ends or the deadline passes, close, and
 * report.  The deadline counts from the connect request and covers
 * everything; a fetch whose deadline passes while the supervisor is
 * still connecting is reported at once, and the socket that arrives
 * later is closed.  Errors become the keys_sync_result text.
 */
#include <sys/queue.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "httpget.h"
#include "keysrc.h"
#include "log.h"
#include "tls.h"

#define KEYSRC_READ_BUF		(16 * 1024)

enum ks_state {
	KS_IDLE = 0,
	KS_GAP,		/* waiting out KEYSRC_GAP_MS */
	KS_CONNECT,	/* IPC_NS_CONNECT sent */
	KS_TLS,
	KS_SEND,
	KS_RECV,
};

struct ks_req {
	TAILQ_ENTRY(ks_req) entry;
	uint32_t	 id;
	char		 login[40];
};

struct keysrc {
	struct ev_loop		*loop;
	struct ipcev		*sup;
	keysrc_done_fn		 done;
	void			*arg;
	int			 configured;
	struct ipc_keysrc_config cfg;
	uint8_t			*ca;		/* ours, or the dashboard's */
	size_t			 calen, caoff;
	int			 ca_own;
	struct tls_config	*tlscfg;	/* built at the first fetch */

	TAILQ_HEAD(, ks_req)	 queue;
	int			 nqueue;
	struct ks_req		*cur;
	int			 state;
	int			 owed;		/* a CONNECTED is on its way */
	ev_tstamp		 t0;		/* this fetch's start */
	ev_tstamp		 last_connect;
	int			 fd;
	struct tls		*tls;
	ev_io			 io;
	ev_timer		 deadline;
	ev_timer		 gap;
	char			*req;
	size_t			 reqlen, reqoff;
	struct hg_resp		 resp;
	int			 resp_live;
};

static void	ks_next(struct keysrc *);
static void	ks_step(struct keysrc *);

static uint32_t
ks_ms(struct keysrc *ks)
{
	ev_tstamp	 d = ev_now(ks->loop) - ks->t0;

	return d > 0 ? (uint32_t)(d * 1000.0) : 0;
}

/* Close the socket and whatever rode on it; the request stays. */
static void
ks_close(struct keysrc *ks)
{
	ev_io_stop(ks->loop, &ks->io);
	if (ks->tls != NULL) {
		tls_close_notify(ks->tls);
		tls_free(ks->tls);
		ks->tls = NULL;
	}
	if (ks->fd != -1) {
		close(ks->fd);
		ks->fd = -1;
	}
	free(ks->req);
	ks->req = NULL;
	if (ks->resp_live) {
		hg_free(&ks->resp);
		ks->resp_live = 0;
	}
}

/* Report the current fetch and go on with the next one. */
static void
ks_finish(struct keysrc *ks, const char *body, size_t len, const char *err)
{
	struct ks_req	*r = ks->cur;
	uint32_t	 ms = ks_ms(ks);

	ev_timer_stop(ks->loop, &ks->deadline);
	ev_timer_stop(ks->loop, &ks->gap);
	ks->cur = NULL;
	ks->state = KS_IDLE;
	if (err != NULL)
		log_warnx("key fetch for %s failed after %u ms: %s", r->login,
		    ms, err);
	else
		log_info("key fetch for %s: %zu bytes in %u ms", r->login, len,
		    ms);
	ks->done(ks->arg, r->id, body, len, ms, err);
	free(r);
	ks_close(ks);
	ks_next(ks);
}

static void
ks_fail(struct keysrc *ks, const char *fmt, ...) __printflike(2, 3);

static void
ks_fail(struct keysrc *ks, const char *fmt, ...)
{
	char	 why[256];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	ks_finish(ks, NULL, 0, why);
}

static void
ks_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct keysrc	*ks = w->data;

	ks_fail(ks, "key fetch timed out after %u s",
	    ks->cfg.timeout_ms / 1000);
}

static void
ks_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	ks_step(w->data);
}

static void
ks_want(struct keysrc *ks, int events)
{
	ev_io_stop(ks->loop, &ks->io);
	ev_io_set(&ks->io, ks->fd, events);
	ev_io_start(ks->loop, &ks->io);
}

static void
ks_connect(struct keysrc *ks)
{
	struct ipc_connect	 c;
	ev_tstamp		 left;

	left = ks->t0 + ks->cfg.timeout_ms / 1000.0 - ev_now(ks->loop);
	memset(&c, 0, sizeof(c));
	c.endpoint = IPC_EP_KEYSRC;
	c.timeout_ms = left > 0.001 ? (uint32_t)(left * 1000.0) : 1;
	ks->state = KS_CONNECT;
	ks->owed = 1;
	ks->last_connect = ev_now(ks->loop);
	if (ipcev_compose(ks->sup, IPC_NS_CONNECT, 0, -1, &c,
	    sizeof(c)) == -1) {
		ks->owed = 0;
		ks_fail(ks, "key source: cannot ask for a connection");
	}
}

static void
ks_gap_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct keysrc	*ks = w->data;

	if (ks->state == KS_GAP && !ks->owed)
		ks_connect(ks);
}

/* Start the next queued fetch, if nothing runs. */
static void
ks_next(struct keysrc *ks)
{
	const char	*why = NULL;
	ev_tstamp	 wait;

	if (ks->cur != NULL || (ks->cur = TAILQ_FIRST(&ks->queue)) == NULL)
		return;
	TAILQ_REMOVE(&ks->queue, ks->cur, entry);
	ks->nqueue--;
	ev_now_update(ks->loop);
	ks->t0 = ev_now(ks->loop);
	ev_timer_set(&ks->deadline, ks->cfg.timeout_ms / 1000.0, 0);
	ev_timer_start(ks->loop, &ks->deadline);
	if (ks->tlscfg == NULL) {
		if (ks->ca == NULL || ks->calen == 0) {
			ks_fail(ks, "key source: no CA bundle to verify it "
			    "with");
			return;
		}
		/* Never skip_verify, never the dashboard's pins. */
		if ((ks->tlscfg = tls_config_new(ks->ca, ks->calen, 0, NULL,
		    0, &why)) == NULL) {
			ks_fail(ks, "key source: CA bundle: %s",
			    why != NULL ? why : "unusable");
			return;
		}
	}
	ks->state = KS_GAP;
	/* A late CONNECTED of a timed-out fetch still counts as in flight. */
	if (ks->owed)
		return;
	wait = ks->last_connect + KEYSRC_GAP_MS / 1000.0 - ev_now(ks->loop);
	if (wait > 0) {
		ev_timer_set(&ks->gap, wait, 0);
		ev_timer_start(ks->loop, &ks->gap);
		return;
	}
	ks_connect(ks);
}

static void
ks_send_request(struct keysrc *ks)
{
	char	 path[IPC_URL_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s.keys", ks->cfg.path,
	    ks->cur->login);
	if ((ks->req = hg_request(ks->cfg.host, (uint16_t)ks->cfg.port, path,
	    "nixfleet-agent/" AGENT_VERSION, &ks->reqlen)) == NULL) {
		ks_fail(ks, "key source: cannot build the request");
		return;
	}
	ks->reqoff = 0;
	if (hg_init(&ks->resp, IPC_KEYS_BODY_MAX) == -1) {
		ks_fail(ks, "key source: out of memory");
		return;
	}
	ks->resp_live = 1;
	ks->state = KS_SEND;
}

static void
ks_response(struct keysrc *ks, int rv)
{
	if (rv == HG_FAIL) {
		ks_fail(ks, "key source: bad response: %s", ks->resp.why);
		return;
	}
	if (ks->resp.status != 200) {
		/* §6.3 step 2's text, whatever the configured host. */
		ks_fail(ks, "github responded %d %s", ks->resp.status,
		    ks->resp.reason);
		return;
	}
	ks_finish(ks, ks->resp.body, ks->resp.bodylen, NULL);
}

static void
ks_recv(struct keysrc *ks)
{
	uint8_t		 buf[KEYSRC_READ_BUF];
	ssize_t		 n;
	int		 rv, rounds;

	/* Bounded per callback: the dashboard shares this loop. */
	for (rounds = 0; rounds < 8; rounds++) {
		n = tls_read(ks->tls, buf, sizeof(buf));
		if (n == TLS_WANT_READ || n == TLS_WANT_WRITE) {
			ks_want(ks, n == TLS_WANT_READ ? EV_READ : EV_WRITE);
			return;
		}
		if (n < 0) {
			ks_fail(ks, "key source: %s", tls_error(ks->tls));
			return;
		}
		rv = n == 0 ? hg_eof(&ks->resp) :
		    hg_feed(&ks->resp, buf, (size_t)n);
		if (rv != HG_MORE) {
			ks_response(ks, rv);
			return;
		}
	}
	/* More may be buffered in mbedTLS, which the socket won't signal. */
	ks_want(ks, EV_READ);
	if (tls_pending(ks->tls) > 0)
		ev_feed_event(ks->loop, &ks->io, EV_READ);
}

/* The handshake; 0 once the request is ready to go, -1: wait or failed. */
static int
ks_handshake(struct keysrc *ks)
{
	int	 rv;

	rv = tls_handshake(ks->tls);
	if (rv == TLS_WANT_READ || rv == TLS_WANT_WRITE) {
		ks_want(ks, rv == TLS_WANT_READ ? EV_READ : EV_WRITE);
		return -1;
	}
	if (rv != 0) {
		ks_fail(ks, "key source TLS: %s", tls_error(ks->tls));
		return -1;
	}
	log_debug("key source %s: %s", ks->cfg.host, tls_describe(ks->tls));
	ks_send_request(ks);
	return ks->state == KS_SEND ? 0 : -1;
}

/* The request; 0 once it is written whole, -1: wait or failed. */
static int
ks_send(struct keysrc *ks)
{
	ssize_t	 n;

	while (ks->reqoff < ks->reqlen) {
		n = tls_write(ks->tls, ks->req + ks->reqoff,
		    ks->reqlen - ks->reqoff);
		if (n == TLS_WANT_READ || n == TLS_WANT_WRITE) {
			ks_want(ks, n == TLS_WANT_READ ? EV_READ : EV_WRITE);
			return -1;
		}
		if (n < 0) {
			ks_fail(ks, "key source: %s", tls_error(ks->tls));
			return -1;
		}
		ks->reqoff += (size_t)n;
	}
	ks->state = KS_RECV;
	return 0;
}

static void
ks_step(struct keysrc *ks)
{
	if (ks->state == KS_TLS && ks_handshake(ks) == -1)
		return;
	if (ks->state == KS_SEND && ks_send(ks) == -1)
		return;
	if (ks->state == KS_RECV)
		ks_recv(ks);
}

struct keysrc *
keysrc_new(struct ev_loop *loop, struct ipcev *sup, keysrc_done_fn done,
    void *arg)
{
	struct keysrc	*ks;

	if ((ks = calloc(1, sizeof(*ks))) == NULL)
		return NULL;
	ks->loop = loop;
	ks->sup = sup;
	ks->done = done;
	ks->arg = arg;
	ks->fd = -1;
	ks->last_connect = -1e9;
	TAILQ_INIT(&ks->queue);
	ev_io_init(&ks->io, ks_io_cb, -1, EV_READ);
	ev_timer_init(&ks->deadline, ks_deadline_cb, 1, 0);
	ev_timer_init(&ks->gap, ks_gap_cb, 1, 0);
	ks->io.data = ks->deadline.data = ks->gap.data = ks;
	return ks;
}

void
keysrc_free(struct keysrc *ks)
{
	struct ks_req	*r;

	if (ks == NULL)
		return;
	ks_close(ks);
	ev_timer_stop(ks->loop, &ks->deadline);
	ev_timer_stop(ks->loop, &ks->gap);
	while ((r = TAILQ_FIRST(&ks->queue)) != NULL) {
		TAILQ_REMOVE(&ks->queue, r, entry);
		free(r);
	}
	free(ks->cur);
	if (ks->tlscfg != NULL)
		tls_config_free(ks->tlscfg);
	if (ks->ca_own)
		free(ks->ca);
	free(ks);
}

int
keysrc_config(struct keysrc *ks, const struct ipc_keysrc_config *c)
{
	if (ks->configured || !ipc_str_valid(c->host, sizeof(c->host)) ||
	    !ipc_str_valid(c->path, sizeof(c->path)) || c->host[0] == '\0' ||
	    (c->path[0] != '\0' && c->path[0] != '/') || c->port == 0 ||
	    c->port > 65535 || c->timeout_ms == 0 ||
	    c->timeout_ms > IPC_CONNECT_TIMEOUT_MAX_MS ||
	    c->ca_size > IPC_KEYSRC_CA_MAX || (c->flags &
	    ~(uint32_t)IPC_KEYSRCF_ENABLED) != 0)
		return -1;
	ks->cfg = *c;
	ks->configured = 1;
	if (c->ca_size > 0) {
		if ((ks->ca = malloc(c->ca_size)) == NULL)
			return -1;
		ks->ca_own = 1;
		ks->calen = c->ca_size;
		ks->caoff = 0;
	}
	return 0;
}

int
keysrc_ca(struct keysrc *ks, const void *p, size_t len)
{
	if (!ks->ca_own || len == 0 || len > ks->calen - ks->caoff)
		return -1;
	memcpy(ks->ca + ks->caoff, p, len);
	ks->caoff += len;
	return 0;
}

size_t
keysrc_ca_missing(const struct keysrc *ks)
{
	return ks->ca_own ? ks->calen - ks->caoff : 0;
}

void
keysrc_default_ca(struct keysrc *ks, const uint8_t *ca, size_t len)
{
	if (ks->ca_own)
		return;
	ks->ca = (uint8_t *)ca;
	ks->calen = len;
}

int
keysrc_enabled(const struct keysrc *ks)
{
	return ks->configured && (ks->cfg.flags & IPC_KEYSRCF_ENABLED);
}

int
keysrc_fetch(struct keysrc *ks, const char *login, uint32_t id)
{
	struct ks_req	*r;

	if (ks->nqueue >= KEYSRC_QUEUE_MAX || (r = calloc(1,
	    sizeof(*r))) == NULL)
		return -1;
	r->id = id;
	strlcpy(r->login, login, sizeof(r->login));
	TAILQ_INSERT_TAIL(&ks->queue, r, entry);
	ks->nqueue++;
	ks_next(ks);
	return 0;
}

int
keysrc_awaiting(const struct keysrc *ks)
{
	return ks != NULL && ks->owed;
}

void
keysrc_connected(struct keysrc *ks, const struct ipc_connected *r, int fd)
{
	ks->owed = 0;
	if (ks->state != KS_CONNECT) {
		/* Its fetch timed out meanwhile. */
		if (fd != -1)
			close(fd);
		if (ks->state == KS_GAP)
			ks_gap_cb(ks->loop, &ks->gap, 0);
		return;
	}
	if (r->error != 0 || fd == -1) {
		if (fd != -1)
			close(fd);
		ks_fail(ks, "key source: %s", r->reason[0] != '\0' ?
		    r->reason : strerror(r->error));
		return;
	}
	/* Never through a proxy: the supervisor connects this one direct. */
	if (r->via_proxy) {
		close(fd);
		ks_fail(ks, "key source: unexpected proxy answer");
		return;
	}
	ks->fd = fd;
	if ((ks->tls = tls_new(ks->tlscfg, fd, ks->cfg.host)) == NULL) {
		ks_fail(ks, "key source: out of memory");
		return;
	}
	ks->state = KS_TLS;
	ks_step(ks);
}
