/*
 * conn.c: one WebSocket connection, from a socket the supervisor
 * connected for us to its close: CONNECT tunnel, TLS, upgrade, wslay
 * behind the frame gate (wsgate.c), keepalive and the close handshake.
 *
 * Every callback runs the state machine between conn_enter() and
 * conn_leave().  An end found on the way (error, deadline, close) is
 * only recorded; the outermost conn_leave() tears down and calls
 * cb->closed, so nothing is freed while wslay or mbedTLS is still on
 * the stack, and the callback may start the next attempt at once.
 */
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <wslay/wslay.h>

#include "conn.h"
#include "http.h"
#include "log.h"
#include "tls.h"
#include "url.h"
#include "wsgate.h"

#define CONN_CLOSE_MS_DEFAULT	5000	/* close_ms 0 */
#define CONN_BODY_WAIT_MS	2000	/* a refusal's body, at most */
#define CONN_STALL_MS		10000	/* output without progress */
#define CONN_OBUF		16384	/* frames collected per write: a TLS record */
#define CONN_IO_AGAIN		(-2)
#define CONN_IO_ERROR		(-1)
#define CONN_WHY_MAX		(HTTP_WHY_MAX + 64)

#define CONN_MAX_FRAGS		1024	/* frames of one message, then 1008 */
#define CONN_MSG_MS_DEFAULT	30000	/* a fragmented message completes */

enum conn_state {
	CONN_IDLE = 0,		/* no socket */
	CONN_TUNNEL,		/* CONNECT written, the proxy's answer read */
	CONN_TLS,		/* TLS handshake */
	CONN_UPGRADE,		/* upgrade request written, response read */
	CONN_OPEN,		/* wslay owns the socket */
	CONN_CLOSING,		/* close frame queued; close deadline armed */
};

static const char *const conn_state_names[] = {
	"idle", "tunnel", "tls", "upgrade", "open", "closing",
};

struct conn {
	struct ev_loop		*loop;
	struct conn_params	 p;		/* strings point below */
	char			*url_str;
	char			*headers;
	char			*user_agent;
	char			*proxy_auth;
	uint8_t			(*pins)[TLS_PIN_LEN];
	struct conn_cb		 cb;
	void			*arg;
	struct url		 url;
	struct tls_config	*tlscfg;	/* wss only */

	/* One attempt, from conn_start to cb->closed. */
	int			 active;	/* conn_start to closed() */
	int			 state;
	int			 fd;
	struct tls		*tls;
	wslay_event_context_ptr	 ws;
	ev_io			 io;
	int			 events;	/* what io watches now */
	int			 blocked;	/* the last I/O waits for */
	ev_timer		 handshake;	/* tunnel + TLS + upgrade */
	ev_timer		 ping;		/* keepalive */
	ev_timer		 dead;		/* silence */
	ev_timer		 closewait;	/* the peer's close */
	ev_timer		 stall;		/* output waits, no progress */
	int			 body_wait;	/* deadline cut for a body */
	char			 target[300];	/* CONNECT authority */
	char			*out;		/* request being written */
	size_t			 outlen;
	size_t			 outoff;
	char			 key[HTTP_KEY_SIZE];
	struct http_resp	 resp;
	uint8_t			 pend[4096];	/* frames read with the 101 */
	size_t			 pendoff;
	size_t			 pendlen;
	int			 eof;		/* the peer closed the stream */
	char			 ioerr[160];	/* last hard I/O error */
	int			 we_closed;	/* conn_close queued ours */
	uint16_t		 our_code;
	char			 our_reason[124];
	int			 peer_closed;	/* its close frame came */
	uint16_t		 peer_code;
	char			 peer_reason[124];
	int			 ws_failed;	/* wslay failed the link */
	int			 drain;		/* close sent; wait for EOF */

	uint64_t		 nqueued;	/* text messages queued */
	uint64_t		 nsent;		/* of them, written whole */
	uint64_t		 nsent_obuf;	/* written whole once obuf is */
	size_t			 olen;		/* bytes in obuf */
	size_t			 opend;		/* a TLS write to repeat as is */
	uint8_t			 obuf[CONN_OBUF];	/* wslay's output */
	uint64_t		 nsent_told;	/* reported to cb->sent */
	struct wsgate		 gate;		/* every frame passes it */
	char			 gwhy[80];	/* why we failed the link */
	int			 ryield;	/* budget spent: continue later */
	ev_idle			 resume;
	ev_timer		 msgwait;	/* the open message's deadline */
	int			 pong_want;	/* a ping waits for its pong */
	int			 pong_queued;	/* wslay holds our pong */
	uint8_t			 pong[WSGATE_CTRL_MAX];
	size_t			 ponglen;

	int			 busy;		/* conn_enter depth */
	int			 in_closed;	/* inside cb->closed */
	int			 free_pending;	/* conn_free while busy */
	int			 end;		/* CONN_END_*, 0 while alive */
	char			 why[CONN_WHY_MAX];
};

static void	conn_io_cb(struct ev_loop *, ev_io *, int);
static void	conn_handshake_cb(struct ev_loop *, ev_timer *, int);
static void	conn_ping_cb(struct ev_loop *, ev_timer *, int);
static void	conn_dead_cb(struct ev_loop *, ev_timer *, int);
static void	conn_closewait_cb(struct ev_loop *, ev_timer *, int);
static void	conn_stall_cb(struct ev_loop *, ev_timer *, int);
static void	conn_msgwait_cb(struct ev_loop *, ev_timer *, int);
static void	conn_resume_cb(struct ev_loop *, ev_idle *, int);
static void	conn_fail(struct conn *, int, const char *, ...)
		    __printflike(3, 4);
static void	conn_set_state(struct conn *, int);
static void	conn_update_watchers(struct conn *);
static void	conn_leave(struct conn *);
static void	conn_ws_step(struct conn *);
static void	conn_destroy(struct conn *);
static void	conn_gate_reset(struct conn *);
static ssize_t	conn_write(struct conn *, const void *, size_t);

static char *
conn_strdup(const char *s)
{
	char	*d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		fatal(NULL);
	return d;
}

/* Close reasons are the peer's text: printable ASCII only in a log. */
static void
conn_clean(char *dst, size_t size, const uint8_t *src, size_t len)
{
	size_t	 i;

	if (size == 0)
		return;
	for (i = 0; i < len && i < size - 1; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? (char)src[i] : '?';
	dst[i] = '\0';
}

static void
conn_errno_why(char *buf, size_t size, int err)
{
	snprintf(buf, size, "%s", strerror(err));
	if (buf[0] >= 'A' && buf[0] <= 'Z')
		buf[0] += 'a' - 'A';
}

struct conn *
conn_new(struct ev_loop *loop, const struct conn_params *p,
    const struct conn_cb *cb, void *arg, const uint8_t *ca, size_t calen,
    const char **why)
{
	struct conn	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal(NULL);
	c->loop = loop;
	c->p = *p;
	c->cb = *cb;
	c->arg = arg;
	c->fd = -1;		/* calloc: state CONN_IDLE */
	c->p.url = c->url_str = conn_strdup(p->url);
	c->p.headers = c->headers = conn_strdup(p->headers);
	c->p.user_agent = c->user_agent = conn_strdup(p->user_agent);
	c->p.proxy_auth = c->proxy_auth = conn_strdup(p->proxy_auth);
	if (p->npins > 0) {
		if ((c->pins = calloc(p->npins, sizeof(*c->pins))) == NULL)
			fatal(NULL);
		memcpy(c->pins, p->pins, p->npins * sizeof(*c->pins));
	} else
		c->p.npins = 0;
	c->p.pins = (const uint8_t (*)[32])c->pins;
	if (c->p.close_ms == 0)
		c->p.close_ms = CONN_CLOSE_MS_DEFAULT;
	if (c->p.msg_ms == 0)
		c->p.msg_ms = CONN_MSG_MS_DEFAULT;
	if (c->p.max_frags == 0)
		c->p.max_frags = CONN_MAX_FRAGS;

	if (p->url == NULL || url_parse(p->url, &c->url, why) == -1) {
		if (p->url == NULL)
			*why = "no URL";
		goto fail;
	}
	if (strcmp(c->url.scheme, "ws") != 0 &&
	    strcmp(c->url.scheme, "wss") != 0) {
		*why = "scheme must be ws:// or wss://";
		goto fail;
	}
	if (c->url.tls && (c->tlscfg = tls_config_new(ca, calen,
	    p->skip_verify, c->p.pins, c->p.npins, why)) == NULL)
		goto fail;

	ev_io_init(&c->io, conn_io_cb, 0, 0);
	c->io.data = c;
	ev_timer_init(&c->handshake, conn_handshake_cb, 0., 0.);
	c->handshake.data = c;
	ev_timer_init(&c->ping, conn_ping_cb, 0., 0.);
	c->ping.data = c;
	ev_timer_init(&c->dead, conn_dead_cb, 0., 0.);
	c->dead.data = c;
	ev_timer_init(&c->closewait, conn_closewait_cb, 0., 0.);
	c->closewait.data = c;
	ev_timer_init(&c->stall, conn_stall_cb, 0., (c->p.stall_ms ?
	    c->p.stall_ms : CONN_STALL_MS) / 1000.0);
	c->stall.data = c;
	ev_timer_init(&c->msgwait, conn_msgwait_cb, c->p.msg_ms / 1000.0, 0.);
	c->msgwait.data = c;
	ev_idle_init(&c->resume, conn_resume_cb);
	c->resume.data = c;
	return c;
 fail:
	conn_destroy(c);
	return NULL;
}

static void
conn_destroy(struct conn *c)
{
	tls_config_free(c->tlscfg);
	free(c->url_str);
	free(c->headers);
	free(c->user_agent);
	if (c->proxy_auth != NULL) {
		explicit_bzero(c->proxy_auth, strlen(c->proxy_auth));
		free(c->proxy_auth);
	}
	free(c->pins);
	free(c);
}

/* Drop the attempt's state; the object stays usable for conn_start. */
static void
conn_teardown(struct conn *c)
{
	c->active = 0;
	ev_io_stop(c->loop, &c->io);
	c->events = 0;
	ev_timer_stop(c->loop, &c->handshake);
	ev_timer_stop(c->loop, &c->ping);
	ev_timer_stop(c->loop, &c->dead);
	ev_timer_stop(c->loop, &c->closewait);
	ev_timer_stop(c->loop, &c->stall);
	ev_timer_stop(c->loop, &c->msgwait);
	ev_idle_stop(c->loop, &c->resume);
	if (c->ws != NULL) {
		wslay_event_context_free(c->ws);
		c->ws = NULL;
	}
	if (c->tls != NULL) {
		if (c->end == CONN_END_CLOSED)
			tls_close_notify(c->tls);
		tls_free(c->tls);
		c->tls = NULL;
	}
	if (c->fd != -1) {
		close(c->fd);
		c->fd = -1;
	}
	if (c->out != NULL) {
		/* The request carries the bearer token. */
		explicit_bzero(c->out, c->outlen);
		free(c->out);
		c->out = NULL;
	}
	c->outlen = c->outoff = 0;
	c->pendoff = c->pendlen = 0;
	explicit_bzero(c->pend, sizeof(c->pend));
	explicit_bzero(c->resp.line, sizeof(c->resp.line));
}

void
conn_free(struct conn *c)
{
	if (c == NULL)
		return;
	if (c->busy > 0 || c->in_closed) {
		/* Inside our own callback: the outermost frame frees. */
		c->free_pending = 1;
		if (c->active)
			conn_fail(c, CONN_END_ERROR, "connection freed");
		return;
	}
	if (c->active)
		conn_teardown(c);
	conn_destroy(c);
}

/* The single end of every attempt: cb->closed exactly once. */
static void
conn_finish(struct conn *c)
{
	char	 why[CONN_WHY_MAX];
	int	 end = c->end;

	if (!c->active)
		fatalx("%s: no attempt to finish", __func__);
	log_debug("%s: %s: ended in state %s: %s", __func__, c->url.host,
	    conn_state_names[c->state], c->why);
	conn_teardown(c);
	conn_set_state(c, CONN_IDLE);
	c->end = 0;
	memcpy(why, c->why, sizeof(why));
	if (!c->free_pending && c->cb.closed != NULL) {
		c->in_closed = 1;
		c->cb.closed(c, end, why, c->arg);
		c->in_closed = 0;
	}
	/* closed() may have started the next attempt, or freed us. */
	if (c->free_pending) {
		if (c->active)
			conn_teardown(c);
		conn_destroy(c);
	}
}

static void
conn_enter(struct conn *c)
{
	c->busy++;
}

/* Every callback ends here: finish a recorded end, else re-arm. */
static void
conn_leave(struct conn *c)
{
	if (--c->busy > 0)
		return;
	if (c->end != 0)
		conn_finish(c);	/* c may be gone or restarted */
	else if (c->active) {
		conn_update_watchers(c);
		if (c->nsent > c->nsent_told && c->cb.sent != NULL) {
			c->nsent_told = c->nsent;
			c->cb.sent(c, c->nsent, c->arg);
		}
	}
}

/*
 * How many queued text messages have been written whole to the socket:
 * a lower bound, as wslay says only what is still queued (control
 * frames included) and not whether the message in flight is done.
 */
static void
conn_count_sent(struct conn *c)
{
	size_t		 q = wslay_event_get_queued_msg_count(c->ws);
	uint64_t	 lb;

	if (q == 0 && !wslay_event_want_write(c->ws))
		lb = c->nqueued;
	else if (c->nqueued > q + 1)
		lb = c->nqueued - q - 1;
	else
		lb = 0;
	/* Bytes still in obuf: those messages are not on the socket yet. */
	if (c->olen > 0) {
		if (lb > c->nsent_obuf)
			c->nsent_obuf = lb;
	} else if (lb > c->nsent)
		c->nsent = lb;
}

/*
 * Write what wslay handed us: 1 all written, 0 blocked, -1 failed.
 * Frames are collected into one buffer of a TLS record's size, so a
 * burst of small messages costs a record and a system call per 16 KiB
 * rather than two of each per message (a frame's header and payload
 * come as separate calls).  mbedTLS wants a write it refused repeated
 * with the same length: opend keeps it.
 */
static int
conn_flush_obuf(struct conn *c)
{
	ssize_t	 n;
	size_t	 len;

	while (c->olen > 0) {
		len = c->opend != 0 ? c->opend : c->olen;
		n = conn_write(c, c->obuf, len);
		if (n == CONN_IO_AGAIN) {
			if (c->tls != NULL)
				c->opend = len;
			return 0;
		}
		if (n < 0)
			return -1;
		c->opend = 0;
		memmove(c->obuf, c->obuf + n, c->olen - (size_t)n);
		c->olen -= (size_t)n;
		if (ev_is_active(&c->stall))
			ev_timer_again(c->loop, &c->stall);	/* progress */
	}
	if (c->nsent_obuf > c->nsent)
		c->nsent = c->nsent_obuf;
	return 1;
}

/* Record why the attempt ends; the first reason wins. */
static void
conn_fail(struct conn *c, int end, const char *fmt, ...)
{
	va_list	 ap;

	if (c->end != 0 || !c->active)
		return;
	c->end = end;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
}

static void
conn_update_watchers(struct conn *c)	/* the only place c->io changes */
{
	int	 events = 0;

	switch (c->state) {
	case CONN_TUNNEL:
	case CONN_TLS:
	case CONN_UPGRADE:
		events = c->blocked;
		break;
	case CONN_OPEN:
	case CONN_CLOSING:
		if (c->drain)
			events = EV_READ;
		else
			events = (wslay_event_want_read(c->ws) ? EV_READ : 0) |
			    (wslay_event_want_write(c->ws) || c->olen > 0 ?
			    EV_WRITE : 0) | c->blocked;
		break;
	}
	/*
	 * A peer that stops reading fills our socket: output that makes no
	 * progress for CONN_STALL_MS means a dead link (nixfleet §1.4).
	 */
	if (!(events & EV_WRITE))
		ev_timer_stop(c->loop, &c->stall);
	else if (!ev_is_active(&c->stall))
		ev_timer_again(c->loop, &c->stall);
	if (events == c->events)
		return;
	ev_io_stop(c->loop, &c->io);
	if ((c->events = events) != 0) {
		ev_io_set(&c->io, c->fd, events);
		ev_io_start(c->loop, &c->io);
	}
}

static void
conn_timer_ms(struct conn *c, ev_timer *t, uint32_t ms, int repeat)
{
	ev_timer_stop(c->loop, t);
	if (ms == 0)
		return;
	ev_timer_set(t, ms / 1000.0, repeat ? ms / 1000.0 : 0.);
	ev_timer_start(c->loop, t);
}

/* The only writer of c->state; arms the state's deadlines. */
static void
conn_set_state(struct conn *c, int state)
{
	log_debug("%s: %s: %s -> %s", __func__, c->url.host,
	    conn_state_names[c->state], conn_state_names[state]);
	c->state = state;
	switch (state) {
	case CONN_OPEN:
		ev_timer_stop(c->loop, &c->handshake);
		conn_timer_ms(c, &c->ping, c->p.ping_ms, 1);
		if (c->p.dead_ms > 0) {
			c->dead.repeat = c->p.dead_ms / 1000.0;
			ev_timer_again(c->loop, &c->dead);
		}
		break;
	case CONN_CLOSING:
		ev_timer_stop(c->loop, &c->ping);
		ev_timer_stop(c->loop, &c->dead);
		conn_timer_ms(c, &c->closewait, c->p.close_ms, 0);
		break;
	default:
		break;
	}
}

/* A TLS call that moved no bytes: wait for what it wants, or fail. */
static ssize_t
conn_tls_fail(struct conn *c, ssize_t n)
{
	if (n == TLS_WANT_READ || n == TLS_WANT_WRITE) {
		c->blocked |= n == TLS_WANT_READ ? EV_READ : EV_WRITE;
		return CONN_IO_AGAIN;
	}
	snprintf(c->ioerr, sizeof(c->ioerr), "%s", tls_error(c->tls));
	return CONN_IO_ERROR;
}

/* Plain or TLS read: bytes, 0 at EOF, CONN_IO_AGAIN or CONN_IO_ERROR. */
static ssize_t
conn_read(struct conn *c, void *buf, size_t len)
{
	ssize_t	 n;

	if (c->tls != NULL) {
		n = tls_read(c->tls, buf, len);
		if (n >= 0)
			return n;
		return conn_tls_fail(c, n);
	}
	do {
		n = read(c->fd, buf, len);
	} while (n == -1 && errno == EINTR);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		c->blocked |= EV_READ;
		return CONN_IO_AGAIN;
	}
	conn_errno_why(c->ioerr, sizeof(c->ioerr), errno);
	return CONN_IO_ERROR;
}

/* Plain or TLS write: bytes, CONN_IO_AGAIN or CONN_IO_ERROR. */
static ssize_t
conn_write(struct conn *c, const void *buf, size_t len)
{
	struct iovec	 iov;
	struct msghdr	 msg;
	ssize_t		 n;

	if (c->tls != NULL) {
		n = tls_write(c->tls, buf, len);
		if (n > 0)
			return n;
		return conn_tls_fail(c, n);
	}
	/* sendmsg for MSG_NOSIGNAL: a dead peer is EPIPE, not a signal. */
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = (void *)buf;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	do {
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
	} while (n == -1 && errno == EINTR);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		c->blocked |= EV_WRITE;
		return CONN_IO_AGAIN;
	}
	conn_errno_why(c->ioerr, sizeof(c->ioerr), errno);
	return CONN_IO_ERROR;
}

/* Write what is left of c->out: 1 done, 0 blocked, -1 failed. */
static int
conn_flush_out(struct conn *c)
{
	ssize_t	 n;

	while (c->outoff < c->outlen) {
		n = conn_write(c, c->out + c->outoff, c->outlen - c->outoff);
		if (n == CONN_IO_AGAIN)
			return 0;
		if (n < 0)
			return -1;
		c->outoff += n;
	}
	return 1;
}

static void
conn_set_out(struct conn *c, char *req, size_t len)
{
	if (c->out != NULL) {
		explicit_bzero(c->out, c->outlen);
		free(c->out);
	}
	c->out = req;
	c->outlen = len;
	c->outoff = 0;
}

/*
 * A refusal's body is worth a short wait for the log, not the whole
 * handshake deadline.
 */
static void
conn_body_wait(struct conn *c)
{
	ev_tstamp	 left;

	if (c->body_wait || !http_resp_in_body(&c->resp))
		return;
	c->body_wait = 1;
	left = ev_timer_remaining(c->loop, &c->handshake);
	if (!ev_is_active(&c->handshake) || left > CONN_BODY_WAIT_MS / 1000.0)
		left = CONN_BODY_WAIT_MS / 1000.0;
	ev_timer_stop(c->loop, &c->handshake);
	ev_timer_set(&c->handshake, left, 0.);
	ev_timer_start(c->loop, &c->handshake);
}

static void
conn_resp_fail(struct conn *c)
{
	if (c->resp.bodylen > 0)
		log_debug("%s: %s: response body: %.*s", __func__, c->url.host,
		    (int)c->resp.bodylen, c->resp.body);
	conn_fail(c, c->resp.auth ? CONN_END_AUTH : CONN_END_ERROR, "%s",
	    c->resp.why);
}

/*
 * Read and parse the proxy's or the server's response.  Returns the
 * bytes after it in buf (*rest, *nrest) once accepted: 1; 0 to wait.
 */
static int
conn_read_resp(struct conn *c, uint8_t *buf, size_t size, size_t *rest,
    size_t *nrest)
{
	ssize_t	 n;
	size_t	 used;
	int	 rv;

	for (;;) {
		n = conn_read(c, buf, size);
		if (n == CONN_IO_AGAIN) {
			conn_body_wait(c);
			return 0;
		}
		if (n == CONN_IO_ERROR) {
			if (http_resp_in_body(&c->resp)) {
				http_resp_finish(&c->resp);
				conn_resp_fail(c);
			} else
				conn_fail(c, CONN_END_ERROR, "%s", c->ioerr);
			return 0;
		}
		if (n == 0) {
			http_resp_finish(&c->resp);
			conn_resp_fail(c);
			return 0;
		}
		rv = http_resp_feed(&c->resp, buf, n, &used);
		if (rv == HTTP_FAIL) {
			conn_resp_fail(c);
			return 0;
		}
		if (rv == HTTP_DONE) {
			*rest = used;
			*nrest = n - used;
			return 1;
		}
	}
}

static void
conn_start_upgrade(struct conn *c)
{
	uint8_t	 nonce[HTTP_NONCE_LEN];
	char	*req;
	size_t	 len;

	tls_random(nonce, sizeof(nonce));
	http_ws_key(nonce, c->key);
	if ((req = http_upgrade_request(&c->url, c->key, c->p.user_agent,
	    c->p.headers, &len)) == NULL) {
		conn_fail(c, CONN_END_ERROR, "invalid upgrade request headers");
		return;
	}
	conn_set_out(c, req, len);
	http_resp_init(&c->resp, HTTP_UPGRADE, c->key);
	c->body_wait = 0;
	conn_set_state(c, CONN_UPGRADE);
}

static void
conn_start_tls(struct conn *c)
{
	c->tls = tls_new(c->tlscfg, c->fd, c->url.host);
	conn_set_state(c, CONN_TLS);
}

static void
conn_tunnel_step(struct conn *c)
{
	uint8_t	 buf[1024];
	size_t	 rest, nrest;
	int	 rv;

	if ((rv = conn_flush_out(c)) <= 0) {
		if (rv == -1)
			conn_fail(c, CONN_END_ERROR, "proxy: %s", c->ioerr);
		return;
	}
	if (conn_read_resp(c, buf, sizeof(buf), &rest, &nrest) == 0)
		return;
	/* Neither TLS nor the upgrade lets the server speak first. */
	if (nrest > 0) {
		conn_fail(c, CONN_END_ERROR, "proxy sent %zu bytes after its "
		    "response", nrest);
		return;
	}
	log_debug("%s: %s: tunnel to %s open: %d %s", __func__, c->url.host,
	    c->target, c->resp.status, c->resp.reason);
	if (c->url.tls)
		conn_start_tls(c);
	else
		conn_start_upgrade(c);
}

static void
conn_tls_step(struct conn *c)
{
	switch (tls_handshake(c->tls)) {
	case 0:
		log_debug("%s: %s: %s", __func__, c->url.host,
		    tls_describe(c->tls));
		conn_start_upgrade(c);
		break;
	case TLS_WANT_READ:
		c->blocked |= EV_READ;
		break;
	case TLS_WANT_WRITE:
		c->blocked |= EV_WRITE;
		break;
	default:
		conn_fail(c, CONN_END_ERROR, "%s", tls_error(c->tls));
		break;
	}
}

static ssize_t	conn_ws_recv_cb(wslay_event_context_ptr, uint8_t *, size_t,
		    int, void *);
static ssize_t	conn_ws_send_cb(wslay_event_context_ptr, const uint8_t *,
		    size_t, int, void *);
static int	conn_ws_genmask_cb(wslay_event_context_ptr, uint8_t *, size_t,
		    void *);
static void	conn_ws_msg_cb(wslay_event_context_ptr,
		    const struct wslay_event_on_msg_recv_arg *, void *);

static void
conn_open(struct conn *c)
{
	struct wslay_event_callbacks	 cbs = {
		conn_ws_recv_cb, conn_ws_send_cb, conn_ws_genmask_cb,
		NULL, NULL, NULL, conn_ws_msg_cb,
	};

	if (wslay_event_context_client_init(&c->ws, &cbs, c) != 0)
		fatal(NULL);
	/* wslay itself answers a larger message with close 1009. */
	if (c->p.max_msg > 0)
		wslay_event_config_set_max_recv_msg_length(c->ws,
		    c->p.max_msg);
	conn_set_out(c, NULL, 0);
	conn_gate_reset(c);
	conn_set_state(c, CONN_OPEN);
	log_debug("%s: %s: upgraded: %d %s", __func__, c->url.host,
	    c->resp.status, c->resp.reason);
	if (c->cb.open != NULL)
		c->cb.open(c, c->arg);
}

static void
conn_upgrade_step(struct conn *c)
{
	size_t	 rest, nrest;
	int	 rv;

	if ((rv = conn_flush_out(c)) <= 0) {
		if (rv == -1)
			conn_fail(c, CONN_END_ERROR, "%s", c->ioerr);
		return;
	}
	if (conn_read_resp(c, c->pend, sizeof(c->pend), &rest, &nrest) == 0)
		return;
	/* Frames that came with the 101 go to wslay before the socket. */
	c->pendoff = rest;
	c->pendlen = rest + nrest;
	conn_open(c);
}

static void
conn_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn	*c = w->data;
	int		 state;

	conn_enter(c);
	do {
		state = c->state;
		c->blocked = 0;
		switch (state) {
		case CONN_TUNNEL:
			conn_tunnel_step(c);
			break;
		case CONN_TLS:
			conn_tls_step(c);
			break;
		case CONN_UPGRADE:
			conn_upgrade_step(c);
			break;
		case CONN_OPEN:
		case CONN_CLOSING:
			conn_ws_step(c);
			break;
		default:
			fatalx("%s: event in state %s", __func__,
			    conn_state_names[state]);
		}
	} while (c->end == 0 && c->state != state);
	conn_leave(c);
}

/* Any byte from the peer proves it alive. */
static void
conn_traffic(struct conn *c)
{
	if (c->p.dead_ms > 0 && c->state == CONN_OPEN)
		ev_timer_again(c->loop, &c->dead);
}

/* Raw bytes for the gate: the 101's leftovers first, then the socket. */
static ssize_t
conn_gate_fill(void *arg, uint8_t *buf, size_t size)
{
	struct conn	*c = arg;
	ssize_t		 n;

	if (c->pendoff < c->pendlen) {
		n = c->pendlen - c->pendoff;
		if ((size_t)n > size)
			n = size;
		memcpy(buf, c->pend + c->pendoff, n);
		c->pendoff += n;
	} else if ((n = conn_read(c, buf, size)) <= 0)
		return n;
	conn_traffic(c);
	return n;
}

/*
 * Fail the link from here: our close frame with the code, no more
 * reading.  conn_ws_step sees the shut read side and closes.
 */
static void
conn_gate_fail(void *arg, uint16_t code, const char *why)
{
	struct conn	*c = arg;

	if (c->gwhy[0] != '\0')
		return;
	snprintf(c->gwhy, sizeof(c->gwhy), "%s", why);
	log_debug("%s: %s: %s: close %u", __func__, c->url.host, why, code);
	(void)wslay_event_queue_close(c->ws, code, (const uint8_t *)why,
	    strlen(why) < 123 ? strlen(why) : 123);
	wslay_event_shutdown_read(c->ws);
}

/* Queue the pong of the latest ping, unless wslay still holds one. */
static void
conn_pong(struct conn *c)
{
	struct wslay_event_msg	 msg = { WSLAY_PONG, c->pong, c->ponglen };

	if (c->ws == NULL)
		return;
	if (c->pong_queued && wslay_event_get_queued_msg_count(c->ws) == 0)
		c->pong_queued = 0;	/* everything went out */
	if (!c->pong_want || c->pong_queued || c->state != CONN_OPEN ||
	    wslay_event_get_close_sent(c->ws))
		return;
	if (wslay_event_queue_msg(c->ws, &msg) == 0)
		c->pong_queued = 1;
	c->pong_want = 0;
}

/* A whole ping: only the latest one gets its pong. */
static void
conn_gate_ping(void *arg, const uint8_t *p, size_t len)
{
	struct conn	*c = arg;

	memcpy(c->pong, p, len);
	c->ponglen = len;
	c->pong_want = 1;
	conn_pong(c);
}

/* A fragmented message opened or completed: its deadline. */
static void
conn_gate_msg(void *arg, int open)
{
	struct conn	*c = arg;

	ev_timer_stop(c->loop, &c->msgwait);
	if (open) {
		ev_timer_set(&c->msgwait, c->p.msg_ms / 1000.0, 0.);
		ev_timer_start(c->loop, &c->msgwait);
	}
}

static const struct wsgate_cb	 conn_gate_cb = {
	conn_gate_fill, conn_gate_ping, conn_gate_msg, conn_gate_fail,
};

/* wslay's reads, through the gate. */
static ssize_t
conn_ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
    int flags, void *arg)
{
	struct conn	*c = arg;
	ssize_t		 n;

	if (c->end != 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	if (c->gwhy[0] != '\0')
		n = WSGATE_FAILED;
	else if ((n = wsgate_read(&c->gate, buf, len)) > 0)
		return n;
	if (n == WSGATE_YIELD)
		c->ryield = 1;
	if (n == WSGATE_YIELD || n == WSGATE_FAILED || n == CONN_IO_AGAIN) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (n == 0)
		c->eof = 1;
	wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
	return -1;
}

static void
conn_gate_reset(struct conn *c)
{
	wsgate_init(&c->gate, c->p.max_frags, &conn_gate_cb, c);
	c->gwhy[0] = '\0';
	c->pong_want = c->pong_queued = 0;
	c->ponglen = 0;
}

static ssize_t
conn_ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data,
    size_t len, int flags, void *arg)
{
	struct conn	*c = arg;
	size_t		 k;
	int		 rv;

	if (c->end != 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	if (c->olen == sizeof(c->obuf) && (rv = conn_flush_obuf(c)) != 1) {
		wslay_event_set_error(ctx, rv == 0 ? WSLAY_ERR_WOULDBLOCK :
		    WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	k = sizeof(c->obuf) - c->olen;
	if (k > len)
		k = len;
	memcpy(c->obuf + c->olen, data, k);
	c->olen += k;
	return (ssize_t)k;
}

static int
conn_ws_genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
    void *arg)
{
	tls_random(buf, len);
	return 0;
}

static void
conn_ws_msg_cb(wslay_event_context_ptr ctx,
    const struct wslay_event_on_msg_recv_arg *m, void *arg)
{
	struct conn	*c = arg;

	switch (m->opcode) {
	case WSLAY_TEXT_FRAME:
	case WSLAY_BINARY_FRAME:
		/* After our close only the peer's close matters. */
		if (c->state == CONN_OPEN && c->end == 0 &&
		    c->cb.message != NULL)
			c->cb.message(c, m->msg != NULL ? (const char *)m->msg :
			    "", m->msg_length, m->opcode == WSLAY_BINARY_FRAME,
			    c->arg);
		break;
	case WSLAY_CONNECTION_CLOSE:
		c->peer_closed = 1;
		c->peer_code = m->status_code;
		if (m->msg_length > 2)
			conn_clean(c->peer_reason, sizeof(c->peer_reason),
			    m->msg + 2, m->msg_length - 2);
		log_debug("%s: %s: close %u \"%s\" received", __func__,
		    c->url.host, c->peer_code, c->peer_reason);
		/* wslay queued the echo; CLOSING bounds its sending. */
		if (c->state == CONN_OPEN)
			conn_set_state(c, CONN_CLOSING);
		break;
	default:
		break;
	}
}

/* The end of a close handshake, in words, by who closed and how. */
static void
conn_close_why(struct conn *c, char *buf, size_t size, int *end)
{
	uint16_t	 code;

	*end = CONN_END_CLOSED;
	if (c->ws_failed) {
		*end = CONN_END_ERROR;
		code = c->ws != NULL && wslay_event_get_close_sent(c->ws) ?
		    wslay_event_get_status_code_sent(c->ws) : 0;
		if (c->gwhy[0] != '\0' && code != 0)
			snprintf(buf, size, "protocol error: %s (close %u)",
			    c->gwhy, code);
		else if (code == WSLAY_CODE_MESSAGE_TOO_BIG)
			snprintf(buf, size, "message too big (close %u)", code);
		else if (code == WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA)
			snprintf(buf, size, "invalid UTF-8 in a text message "
			    "(close %u)", code);
		else if (code != 0)
			snprintf(buf, size, "protocol error (close %u)", code);
		else
			snprintf(buf, size, "protocol error");
	} else if (c->peer_closed && !c->we_closed) {
		if (c->peer_code == 0)
			snprintf(buf, size, "connection closed by peer "
			    "(no status)");
		else
			snprintf(buf, size, "connection closed by peer "
			    "(%u%s%s)", c->peer_code,
			    c->peer_reason[0] ? " " : "", c->peer_reason);
	} else if (c->we_closed)
		snprintf(buf, size, "connection closed (%u%s%s)%s", c->our_code,
		    c->our_reason[0] ? " " : "", c->our_reason,
		    c->peer_closed ? "" : ", no answer from the peer");
	else
		snprintf(buf, size, "connection closed by peer (no close "
		    "frame)");
}

static void
conn_end_closed(struct conn *c)
{
	char	 why[CONN_WHY_MAX];
	int	 end;

	conn_close_why(c, why, sizeof(why), &end);
	conn_fail(c, end, "%s", why);
}

/* After wslay failed the connection: discard input until the EOF. */
static void
conn_drain_step(struct conn *c)
{
	uint8_t	 buf[4096];
	ssize_t	 n;
	int	 i;

	for (i = 0; i < 64; i++) {
		n = conn_read(c, buf, sizeof(buf));
		if (n == CONN_IO_AGAIN)
			return;
		if (n <= 0)
			break;
	}
	if (i < 64)
		conn_end_closed(c);
}

static void
conn_ws_step(struct conn *c)
{
	int	 rv;

	if (c->drain) {
		conn_drain_step(c);
		return;
	}
	/*
	 * One budget per step (wsgate.h): when it is spent, the
	 * rest waits for the next loop iteration, socket readable or not,
	 * since mbedTLS may hold decrypted records epoll cannot see.
	 */
	wsgate_step(&c->gate, ev_now(c->loop));
	c->ryield = 0;
	if (wslay_event_want_read(c->ws) && (rv = wslay_event_recv(c->ws)) !=
	    0) {
		if (c->end != 0)
			return;
		if (c->eof && (c->state == CONN_CLOSING || c->peer_closed))
			conn_end_closed(c);
		else if (c->eof)
			conn_fail(c, CONN_END_CLOSED, "connection closed by "
			    "peer (no close frame)");
		else
			conn_fail(c, CONN_END_ERROR, "%s", c->ioerr[0] ?
			    c->ioerr : "receive failed");
		return;
	}
	if (c->ryield && c->end == 0 && wslay_event_get_read_enabled(c->ws))
		ev_idle_start(c->loop, &c->resume);
	if (c->end != 0)
		return;
	/* Read shut without a close from the peer: wslay failed it. */
	if (!wslay_event_get_read_enabled(c->ws) &&
	    !wslay_event_get_close_received(c->ws) && !c->ws_failed) {
		c->ws_failed = 1;
		log_debug("%s: %s: closing the connection on a protocol "
		    "error", __func__, c->url.host);
		if (c->state == CONN_OPEN)
			conn_set_state(c, CONN_CLOSING);
	}
	if ((wslay_event_want_write(c->ws) && (rv = wslay_event_send(c->ws)) !=
	    0) || conn_flush_obuf(c) == -1) {
		if (c->end == 0)
			conn_fail(c, CONN_END_ERROR, "%s",
			    c->ioerr[0] ? c->ioerr : "send failed");
		return;
	}
	conn_count_sent(c);
	if (c->pong_want || c->pong_queued)
		conn_pong(c);	/* the last one went out: the next may */
	if (!wslay_event_get_close_sent(c->ws) || c->olen > 0)
		return;
	if (c->ws_failed)
		c->drain = 1;	/* the peer answers, then closes */
	else if (wslay_event_get_close_received(c->ws))
		conn_end_closed(c);
}

static void
conn_handshake_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn	*c = w->data;

	conn_enter(c);
	if (c->end == 0) {
		if (http_resp_in_body(&c->resp) && (c->state == CONN_TUNNEL ||
		    c->state == CONN_UPGRADE)) {
			http_resp_finish(&c->resp);
			conn_resp_fail(c);
		} else
			conn_fail(c, CONN_END_TIMEOUT, "handshake timeout");
	}
	conn_leave(c);
}

static void
conn_ping_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn		*c = w->data;
	struct wslay_event_msg	 msg = { WSLAY_PING, NULL, 0 };

	conn_enter(c);
	if (c->state == CONN_OPEN && wslay_event_queue_msg(c->ws, &msg) != 0)
		log_debug("%s: %s: ping not queued", __func__, c->url.host);
	conn_leave(c);
}

static void
conn_stall_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn	*c = w->data;

	uint32_t	 ms = c->p.stall_ms ? c->p.stall_ms : CONN_STALL_MS;

	conn_enter(c);
	if (ms % 1000 == 0)
		conn_fail(c, CONN_END_DEAD, "no write progress for %u s",
		    ms / 1000);
	else
		conn_fail(c, CONN_END_DEAD, "no write progress for %u ms", ms);
	conn_leave(c);
}

static void
conn_dead_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn	*c = w->data;

	conn_enter(c);
	if (c->p.dead_ms % 1000 == 0)
		conn_fail(c, CONN_END_DEAD, "no traffic for %u s",
		    c->p.dead_ms / 1000);
	else
		conn_fail(c, CONN_END_DEAD, "no traffic for %u ms",
		    c->p.dead_ms);
	conn_leave(c);
}

/* A fragmented message that never ends holds memory: close 1008. */
static void
conn_msgwait_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn	*c = w->data;
	char		 why[64];

	conn_enter(c);
	if (c->end == 0 && c->state == CONN_OPEN && !c->ws_failed) {
		snprintf(why, sizeof(why), "message not complete after %u ms",
		    c->p.msg_ms);
		conn_gate_fail(c, WSLAY_CODE_POLICY_VIOLATION, why);
		conn_ws_step(c);
	}
	conn_leave(c);
}

/* The receive budget ran out: go on, after the loop's other work. */
static void
conn_resume_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct conn	*c = w->data;

	ev_idle_stop(loop, w);
	conn_enter(c);
	if (c->end == 0 && (c->state == CONN_OPEN || c->state ==
	    CONN_CLOSING))
		conn_ws_step(c);
	conn_leave(c);
}

static void
conn_closewait_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn	*c = w->data;

	conn_enter(c);
	conn_end_closed(c);
	conn_leave(c);
}

void
conn_start(struct conn *c, int fd, int via_proxy, const char *target)
{
	char	*req;
	size_t	 len;
	int	 fl;

	if (c->active)
		fatalx("%s: attempt already running (%s)", __func__,
		    conn_state_names[c->state]);
	conn_enter(c);
	c->active = 1;
	c->fd = fd;
	c->eof = c->we_closed = c->peer_closed = c->ws_failed = 0;
	c->nqueued = c->nsent = c->nsent_told = c->nsent_obuf = 0;
	c->olen = c->opend = 0;
	c->drain = c->body_wait = 0;
	c->peer_code = c->our_code = 0;
	c->peer_reason[0] = c->our_reason[0] = c->ioerr[0] = '\0';
	c->why[0] = '\0';
	c->end = 0;
	c->blocked = EV_WRITE;	/* every first step writes */
	http_resp_init(&c->resp, HTTP_CONNECT, NULL);	/* no stale answer */
	log_debug("%s: %s: fd %d%s%s", __func__, c->url.host, fd,
	    via_proxy ? " via proxy to " : "", via_proxy && target ? target :
	    "");

	/*
	 * Whether clear text may leave the host at all (allow_http) was
	 * decided by the supervisor on the resolved address; a name that
	 * is not loopback still earns the warning.
	 */
	if (!c->url.tls && !url_is_loopback(c->url.host))
		log_warnx("control plane connection is not encrypted "
		    "(ws://%s): the token travels in clear", c->url.host);
	if (c->url.tls && c->p.skip_verify)
		log_warnx("TLS verification disabled for %s", c->url.host);
	if (c->p.handshake_ms > 0)
		conn_timer_ms(c, &c->handshake, c->p.handshake_ms, 0);

	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1) {
		conn_errno_why(c->ioerr, sizeof(c->ioerr), errno);
		conn_fail(c, CONN_END_ERROR, "%s", c->ioerr);
	} else if (via_proxy) {
		if (target != NULL)
			snprintf(c->target, sizeof(c->target), "%s", target);
		else
			snprintf(c->target, sizeof(c->target),
			    c->url.ipv6 ? "[%s]:%u" : "%s:%u", c->url.host,
			    (unsigned int)c->url.port);
		if ((req = http_connect_request(c->target, c->p.proxy_auth,
		    c->p.user_agent, &len)) == NULL)
			conn_fail(c, CONN_END_ERROR, "invalid CONNECT target "
			    "or proxy credentials");
		else {
			conn_set_out(c, req, len);
			http_resp_init(&c->resp, HTTP_CONNECT, NULL);
			conn_set_state(c, CONN_TUNNEL);
		}
	} else if (c->url.tls)
		conn_start_tls(c);
	else
		conn_start_upgrade(c);

	if (c->end != 0) {
		/*
		 * Never call closed() from inside conn_start: the caller
		 * may be closed() itself.  The deadline timer delivers it.
		 */
		ev_timer_stop(c->loop, &c->handshake);
		ev_timer_set(&c->handshake, 0., 0.);
		ev_timer_start(c->loop, &c->handshake);
		c->busy--;
		return;
	}
	conn_leave(c);
}

int
conn_is_open(const struct conn *c)
{
	return c->state == CONN_OPEN && c->end == 0;
}

int
conn_is_idle(const struct conn *c)
{
	return !c->active;
}

int
conn_send_text(struct conn *c, const char *s, size_t len)
{
	struct wslay_event_msg	 msg = { WSLAY_TEXT_FRAME,
	    (const uint8_t *)s, len };
	size_t			 queued;

	if (!conn_is_open(c)) {
		errno = ENOTCONN;
		return -1;
	}
	queued = wslay_event_get_queued_msg_length(c->ws);
	if (c->p.highwater > 0 && (queued > c->p.highwater ||
	    len > c->p.highwater - queued)) {
		errno = ENOBUFS;
		return -1;
	}
	if (wslay_event_queue_msg(c->ws, &msg) != 0) {
		errno = ENOBUFS;
		return -1;
	}
	c->nqueued++;
	conn_enter(c);
	conn_leave(c);	/* arms EV_WRITE */
	return 0;
}

uint64_t
conn_msgs_queued(const struct conn *c)
{
	return c->nqueued;
}

size_t
conn_queued(const struct conn *c)
{
	if (c->ws == NULL || (c->state != CONN_OPEN &&
	    c->state != CONN_CLOSING))
		return 0;
	return wslay_event_get_queued_msg_length(c->ws) + c->olen;
}

void
conn_close(struct conn *c, uint16_t code, const char *reason)
{
	size_t	 len = reason != NULL ? strlen(reason) : 0;

	if (!c->active || c->state == CONN_CLOSING || c->end != 0)
		return;
	conn_enter(c);
	if (c->state != CONN_OPEN)
		conn_fail(c, CONN_END_CLOSED, "connection closed before the "
		    "upgrade completed");
	else {
		if (len > sizeof(c->our_reason) - 1)
			len = sizeof(c->our_reason) - 1;	/* 123 */
		c->we_closed = 1;
		c->our_code = code;
		conn_clean(c->our_reason, sizeof(c->our_reason),
		    (const uint8_t *)reason, len);
		if (wslay_event_queue_close(c->ws, code, (const uint8_t *)
		    (reason != NULL ? reason : ""), len) != 0)
			log_debug("%s: %s: close not queued", __func__,
			    c->url.host);
		conn_set_state(c, CONN_CLOSING);
	}
	conn_leave(c);
}

void
conn_abort(struct conn *c, const char *why)
{
	if (!c->active)
		return;
	conn_enter(c);
	conn_fail(c, CONN_END_ERROR, "%s", why != NULL ? why : "aborted");
	conn_leave(c);
}

int
conn_set_path(struct conn *c, const char *path)
{
	if (c->active || path == NULL || path[0] != '/' ||
	    strlen(path) >= sizeof(c->url.path)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(c->url.path, path, strlen(path) + 1);
	return 0;
}
