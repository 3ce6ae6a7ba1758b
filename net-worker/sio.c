/*
 * sio.c: the socketio client state machine (socketio-protocol.md §8.1).
 *
 * Every way a session ends goes through sio_end(), which stops the
 * session's timers, drops the early buffer, tells the owner, and asks for
 * the close; the backoff delay is chosen once, when BACKOFF is entered,
 * from whether a hello_ack was seen (§4.4).  Nothing here blocks or
 * opens anything, so tests drive it frame by frame with a fake clock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "dialect_nixfleet.h"
#include "log.h"
#include "sio.h"

static const char *const sio_state_names[] = {
	[SIO_S_BACKOFF] = "BACKOFF",
	[SIO_S_DIALING] = "DIALING",
	[SIO_S_EIO_OPENING] = "EIO_OPENING",
	[SIO_S_NS_CONNECTING] = "NS_CONNECTING",
	[SIO_S_CONNECTED] = "CONNECTED",
	[SIO_S_ACKED] = "ACKED",
	[SIO_S_CLOSING] = "CLOSING",
	[SIO_S_EXIT] = "EXIT",
};

static void	sio_set_state(struct sio *, int, uint64_t, uint32_t);
static void	sio_backoff(struct sio *, uint64_t);
static void	sio_end(struct sio *, uint64_t, int, int, const char *);
static void	sio_early_clear(struct sio *);
static int	sio_early_add(struct sio *, const char *, size_t, int64_t);
static void	sio_early_flush(struct sio *, uint64_t);
static int	sio_send(struct sio *, uint64_t, const char *, size_t);
static void	sio_send_ack(struct sio *, uint64_t, int64_t);
static void	sio_open(struct sio *, uint64_t, const char *, size_t);
static void	sio_message(struct sio *, uint64_t, const char *, size_t);
static void	sio_handle_packet(struct sio *, uint64_t, struct sio_packet *,
		    const char *, size_t);
static void	sio_handle_connect(struct sio *, uint64_t);
static void	sio_dispatch(struct sio *, uint64_t, struct sio_packet *);
static int	sio_live(const struct sio *);
static void	sio_attach_done(struct sio *, uint64_t);

const char *
sio_state_name(int s)
{
	if (s < 0 || (size_t)s >= nitems(sio_state_names))
		return "?";
	return sio_state_names[s];
}

void
sio_init(struct sio *sm, const struct sio_timing *t,
    const struct sio_ops *ops, void *arg)
{
	memset(sm, 0, sizeof(*sm));
	sm->t = *t;
	sm->ops = ops;
	sm->arg = arg;
	sm->state = SIO_S_BACKOFF;
	sm->base_ms = SIO_BACKOFF_BASE_MS;
	sm->attach_ack = -1;
	sm->open.max_payload = EIO_MAX_PAYLOAD_DEFAULT;
}

void
sio_free(struct sio *sm)
{
	sio_early_clear(sm);
}

/* The only writer of sm->state; arms the state's deadline (0: none). */
static void
sio_set_state(struct sio *sm, int state, uint64_t now, uint32_t ms)
{
	if (sm->state != state)
		log_debug("socketio: %s -> %s", sio_state_name(sm->state),
		    sio_state_name(state));
	sm->state = state;
	sm->dl_state = ms ? now + ms : 0;
}

/* CONNECTED or ACKED: /agents is joined. */
static int
sio_live(const struct sio *sm)
{
	return sm->state == SIO_S_CONNECTED || sm->state == SIO_S_ACKED;
}

size_t
sio_max_payload(const struct sio *sm)
{
	return (size_t)sm->open.max_payload;
}

/* Enter BACKOFF with a full-jitter delay (§4.4, D2), or EXIT. */
static void
sio_backoff(struct sio *sm, uint64_t now)
{
	uint32_t	 wait;

	if (sm->exiting) {
		sio_set_state(sm, SIO_S_EXIT, now, 0);
		return;
	}
	if (sm->acked)
		sm->base_ms = SIO_BACKOFF_BASE_MS;
	wait = (uint32_t)(((uint64_t)sm->ops->rnd(sm->arg) *
	    ((uint64_t)sm->base_ms + 1)) >> 32);
	/* A lucky zero must not become a busy loop against a refusal. */
	if (wait < SIO_BACKOFF_FLOOR_MS)
		wait = SIO_BACKOFF_FLOOR_MS;
	if (!sm->acked) {
		sm->base_ms = sm->base_ms > SIO_BACKOFF_MAX_MS / 2 ?
		    SIO_BACKOFF_MAX_MS : sm->base_ms * 2;
	}
	sm->last_delay_ms = wait;
	sm->acked = 0;
	log_debug("socketio: reconnecting in %u ms", wait);
	sio_set_state(sm, SIO_S_BACKOFF, now, wait);
}

/*
 * End the session.  rejected: the server refused us (CONNECT_ERROR, HTTP
 * 401/403), counted for the hint of §3.4.  code < 0: the transport is
 * already gone; SIO_CLOSE_ABORT: the owner drops it synchronously.  In
 * both cases BACKOFF starts now, otherwise CLOSING waits for the end.
 */
static void
sio_end(struct sio *sm, uint64_t now, int code, int rejected,
    const char *why)
{
	int	 had_session = sm->state >= SIO_S_EIO_OPENING &&
		    sm->state <= SIO_S_ACKED;

	if (sm->state == SIO_S_BACKOFF || sm->state == SIO_S_EXIT ||
	    sm->state == SIO_S_CLOSING)
		return;
	strlcpy(sm->why, why, sizeof(sm->why));
	if (rejected) {
		if (++sm->rejects >= SIO_REJECT_HINT) {
			sm->hints++;
			log_warnx("socketio: %d rejections in a row: check "
			    "authToken and clock synchronisation",
			    sm->rejects);
		}
	} else
		sm->rejects = 0;
	sm->dl_watchdog = sm->dl_heartbeat = sm->dl_stats = 0;
	sm->attach_left = 0;
	sm->attach_ack = -1;
	sm->opened = 0;
	sio_early_clear(sm);
	if (had_session && sm->ops->session_end != NULL)
		sm->ops->session_end(sm->arg, sm->acked);
	/* Gone already, or dropped now: nothing to wait for. */
	if (code < 0 || code == SIO_CLOSE_ABORT ||
	    sm->state == SIO_S_DIALING) {
		if (code >= 0)
			sm->ops->close(sm->arg, SIO_CLOSE_ABORT, why);
		sio_backoff(sm, now);
		return;
	}
	sio_set_state(sm, SIO_S_CLOSING, now, sm->t.close_ms);
	sm->ops->close(sm->arg, code, why);
}

void
sio_start(struct sio *sm, uint64_t now)
{
	if (sm->state != SIO_S_BACKOFF)
		return;
	sio_set_state(sm, SIO_S_DIALING, now, sm->t.dial_ms);
	sm->ops->dial(sm->arg);
}

void
sio_upgraded(struct sio *sm, uint64_t now)
{
	if (sm->state != SIO_S_DIALING)
		return;
	sio_set_state(sm, SIO_S_EIO_OPENING, now, sm->t.open_ms);
}

void
sio_dial_failed(struct sio *sm, uint64_t now, int http_status,
    const char *why)
{
	char	 msg[800];	/* the status and up to 512 body bytes (1.2) */

	if (sm->state != SIO_S_DIALING)
		return;
	snprintf(msg, sizeof(msg), "dial failed: %s", why);
	log_warnx("socketio: %s", msg);
	sio_end(sm, now, -1, http_status == 401 || http_status == 403, msg);
}

void
sio_transport_closed(struct sio *sm, uint64_t now, const char *why)
{
	if (sm->state == SIO_S_BACKOFF || sm->state == SIO_S_EXIT)
		return;
	if (sm->state == SIO_S_CLOSING) {	/* our own close completed */
		sio_backoff(sm, now);
		return;
	}
	log_warnx("socketio: connection lost: %s", why);
	sio_end(sm, now, -1, 0, why);
}

void
sio_shutdown(struct sio *sm, uint64_t now)
{
	char	 f[32];
	int	 n;

	sm->exiting = 1;
	if (sm->state == SIO_S_BACKOFF) {
		sio_set_state(sm, SIO_S_EXIT, now, 0);
		return;
	}
	/* The server logs "client namespace disconnect" (§2.3). */
	if (sio_live(sm) && (n = sio_encode_disconnect(f, sizeof(f))) > 0)
		sm->ops->send(sm->arg, f, (size_t)n);
	sio_end(sm, now, SIO_CLOSE_NORMAL, 0, "shutdown");
}

/* ---------------------------------------------------------------- */
/* The early buffer (§2.4) */

static void
sio_early_clear(struct sio *sm)
{
	int	 i;

	for (i = 0; i < sm->nearly; i++)
		free(sm->early[i].text);
	sm->nearly = 0;
	sm->early_bytes = 0;
}

static int
sio_early_add(struct sio *sm, const char *text, size_t len, int64_t ack)
{
	struct sio_early	*e;

	if (sm->nearly >= SIO_BUF_PACKETS ||
	    len > SIO_BUF_BYTES - sm->early_bytes)
		return -1;
	e = &sm->early[sm->nearly];
	e->text = NULL;
	e->len = len;
	e->ack = ack;
	if (text != NULL) {
		if ((e->text = malloc(len + 1)) == NULL)
			fatal(NULL);
		memcpy(e->text, text, len);
		e->text[len] = '\0';
	}
	sm->nearly++;
	sm->early_bytes += len;
	return 0;
}

/* In arrival order, before any later packet; acks go out now. */
static void
sio_early_flush(struct sio *sm, uint64_t now)
{
	struct sio_early	 q[SIO_BUF_PACKETS];
	struct sio_packet	 p;
	int			 i, n = sm->nearly;

	memcpy(q, sm->early, sizeof(q[0]) * (size_t)n);
	sm->nearly = 0;
	sm->early_bytes = 0;
	for (i = 0; i < n; i++) {
		if (sio_live(sm)) {
			if (q[i].text == NULL)
				sio_send_ack(sm, now, q[i].ack);
			else if (sio_packet_decode(q[i].text, q[i].len, &p) ==
			    SIO_V_OK) {
				sio_dispatch(sm, now, &p);
				sio_packet_clear(&p);
			} else
				sio_packet_clear(&p);
		}
		free(q[i].text);
	}
}

/* ---------------------------------------------------------------- */
/* Output */

static int
sio_send(struct sio *sm, uint64_t now, const char *f, size_t len)
{
	if (sm->ops->send(sm->arg, f, len) == -1) {
		sio_end(sm, now, SIO_CLOSE_ABORT, 0, "send failed");
		return -1;
	}
	return 0;
}

static void
sio_send_ack(struct sio *sm, uint64_t now, int64_t id)
{
	char	 f[64];
	int	 n;

	if ((n = sio_encode_ack(f, sizeof(f), id)) > 0)
		sio_send(sm, now, f, (size_t)n);
}

int
sio_emit(struct sio *sm, uint64_t now, const char *name,
    const json_t *payload)
{
	char	*f;
	size_t	 len;
	int	 rc;

	if (!sio_live(sm)) {
		log_debug("socketio: not connected: %s dropped", name);
		errno = ENOTCONN;
		return -1;
	}
	if ((f = sio_encode_event(name, payload, &len)) == NULL)
		return -1;
	/* socket.io closes with 1009 past maxPayload (§1.4): refuse. */
	if (len > sio_max_payload(sm)) {
		log_warnx("socketio: %s of %zu bytes exceeds maxPayload %zu: "
		    "not sent", name, len, sio_max_payload(sm));
		free(f);
		errno = EMSGSIZE;
		return -1;
	}
	rc = sio_send(sm, now, f, len);
	free(f);
	if (rc == 0)
		sm->last_traffic = now;
	return rc;
}

/* ---------------------------------------------------------------- */
/* Input */

void
sio_text(struct sio *sm, uint64_t now, const char *frame, size_t len)
{
	int	 type;

	if (sm->state < SIO_S_EIO_OPENING || sm->state > SIO_S_ACKED)
		return;		/* nothing to say, or our close is out */
	if (len > EIO_FRAME_MAX) {
		log_warnx("socketio: frame of %zu bytes", len);
		sio_end(sm, now, SIO_CLOSE_TOO_BIG, 0, "frame too large");
		return;
	}
	if (sm->attach_left > 0) {
		log_warnx("socketio: text frame while %d attachments are "
		    "pending: binary packet abandoned", sm->attach_left);
		sm->attach_left = 0;
		sm->attach_ack = -1;
	}
	if (!nixfleet_utf8_valid(frame, len)) {
		log_warnx("socketio: invalid UTF-8 in a text frame: dropped");
		return;
	}
	type = eio_frame_type(frame, len);
	if (sm->state == SIO_S_EIO_OPENING) {
		if (type != EIO_OPEN) {
			sio_end(sm, now, SIO_CLOSE_NORMAL, 0,
			    "first frame is not an open packet");
			return;
		}
		sio_open(sm, now, frame + 1, len - 1);
		return;
	}
	switch (type) {
	case EIO_OPEN:
		log_debug("socketio: second open packet ignored");
		break;
	case EIO_CLOSE:
		sio_end(sm, now, SIO_CLOSE_NORMAL, 0, "engine close packet");
		break;
	case EIO_PING:
		/* Answered at once, even while buffering (§2.4). */
		sm->dl_watchdog = now + (uint64_t)sm->open.ping_interval_ms +
		    (uint64_t)sm->open.ping_timeout_ms;
		sio_send(sm, now, "3", 1);
		break;
	case EIO_MESSAGE:
		sio_message(sm, now, frame + 1, len - 1);
		break;
	case EIO_PONG:
	case EIO_UPGRADE:
	case EIO_NOOP:
		log_debug("socketio: engine packet %c ignored", frame[0]);
		break;
	default:
		log_warnx("socketio: %s engine packet dropped",
		    len == 0 ? "empty" : "unknown");
		break;
	}
}

static void
sio_open(struct sio *sm, uint64_t now, const char *data, size_t len)
{
	char	 why[128], f[32];
	int	 n;

	if (eio_open_decode(data, len, &sm->open, why, sizeof(why)) == -1) {
		log_warnx("socketio: %s", why);
		sm->open.max_payload = EIO_MAX_PAYLOAD_DEFAULT;
		sio_end(sm, now, SIO_CLOSE_NORMAL, 0, why);
		return;
	}
	log_debug("socketio: engine session %s, ping %lld+%lld ms, "
	    "maxPayload %lld", sm->open.sid,
	    (long long)sm->open.ping_interval_ms,
	    (long long)sm->open.ping_timeout_ms,
	    (long long)sm->open.max_payload);
	sm->opened = 1;
	sm->dl_watchdog = now + (uint64_t)sm->open.ping_interval_ms +
	    (uint64_t)sm->open.ping_timeout_ms;
	sio_set_state(sm, SIO_S_NS_CONNECTING, now, sm->t.connect_ms);
	if ((n = sio_encode_connect(f, sizeof(f))) > 0)
		sio_send(sm, now, f, (size_t)n);
}

static void
sio_message(struct sio *sm, uint64_t now, const char *s, size_t len)
{
	struct sio_packet	 p;
	int			 v;

	v = sio_packet_decode(s, len, &p);
	switch (v) {
	case SIO_V_CLOSE:
		log_warnx("socketio: protocol error: %s", p.error);
		sio_end(sm, now, SIO_CLOSE_NORMAL, 0, p.error);
		break;
	case SIO_V_DROP:
	case SIO_V_OTHER_NSP:
		if (v == SIO_V_DROP)
			log_warnx("socketio: packet dropped: %s", p.error);
		else
			log_debug("socketio: packet for %s ignored", p.nsp);
		/* Their attachments still arrive, unanswered. */
		sm->attach_left = p.nattach;
		sm->attach_ack = -1;
		break;
	default:
		sio_handle_packet(sm, now, &p, s, len);
		break;
	}
	sio_packet_clear(&p);
}

static void
sio_handle_packet(struct sio *sm, uint64_t now, struct sio_packet *p,
    const char *s, size_t len)
{
	char	 why[sizeof(p->reason) + 32];

	switch (p->type) {
	case SIO_CONNECT:
		if (sm->state == SIO_S_NS_CONNECTING)
			sio_handle_connect(sm, now);
		else
			log_debug("socketio: CONNECT ack when connected");
		break;
	case SIO_DISCONNECT:
		snprintf(why, sizeof(why), "disconnected by the server%s%s",
		    p->reason[0] ? ": " : "", p->reason);
		log_warnx("socketio: %s", why);
		sio_end(sm, now, SIO_CLOSE_NORMAL, 0, why);
		break;
	case SIO_CONNECT_ERROR:
		/* socket.io leaves the engine open: we close it (§2.2). */
		snprintf(why, sizeof(why), "namespace refused: %s", p->reason);
		log_warnx("socketio: %s", why);
		sio_end(sm, now, SIO_CLOSE_NORMAL, 1, why);
		break;
	case SIO_EVENT:
		if (sm->state == SIO_S_NS_CONNECTING) {
			if (sio_early_add(sm, s, len, -1) == -1)
				sio_end(sm, now, SIO_CLOSE_NORMAL, 0,
				    "too many events before the CONNECT ack");
		} else
			sio_dispatch(sm, now, p);
		break;
	case SIO_ACK:
		log_debug("socketio: unsolicited ACK %lld dropped",
		    (long long)p->ack);
		break;
	case SIO_BINARY_EVENT:
	case SIO_BINARY_ACK:
		log_debug("socketio: binary packet with %d attachments "
		    "ignored", p->nattach);
		sm->attach_left = p->nattach;
		sm->attach_ack = p->type == SIO_BINARY_EVENT ? p->ack : -1;
		if (p->nattach == 0)
			sio_attach_done(sm, now);
		break;
	}
}

static void
sio_handle_connect(struct sio *sm, uint64_t now)
{
	sio_set_state(sm, SIO_S_CONNECTED, now, 0);
	sm->rejects = 0;
	sm->last_traffic = now;
	if (sm->t.heartbeat_ms)
		sm->dl_heartbeat = now + sm->t.heartbeat_ms;
	sio_early_flush(sm, now);
}

/* An EVENT on the joined namespace. */
static void
sio_dispatch(struct sio *sm, uint64_t now, struct sio_packet *p)
{
	json_t	*payload = p->arg, *empty = NULL;
	int	 first;

	sm->last_traffic = now;
	/* hello_ack's payload is not validated (§4.1). */
	if (strcmp(p->event, "hello_ack") == 0) {
		if (p->ack >= 0)
			sio_send_ack(sm, now, p->ack);
		first = !sm->acked;
		sm->acked = 1;
		if (first) {
			sio_set_state(sm, SIO_S_ACKED, now, 0);
			log_info("connected to control plane");
			if (sm->t.stats_ms)
				sm->dl_stats = now + sm->t.stats_ms;
		}
		if (sm->ops->hello != NULL)
			sm->ops->hello(sm->arg, first);
		return;
	}
	if (payload != NULL && !json_is_object(payload)) {
		log_warnx("socketio: %.64s: argument is not an object: "
		    "dropped", p->event);
		return;
	}
	/* Once, immediately on dispatch (§2.3). */
	if (p->ack >= 0) {
		sio_send_ack(sm, now, p->ack);
		if (!sio_live(sm))
			return;
	}
	if (payload == NULL && (payload = empty = json_object()) == NULL)
		fatal(NULL);
	if (sm->ops->event != NULL)
		sm->ops->event(sm->arg, p->event, payload);
	json_decref(empty);
}

void
sio_binary(struct sio *sm, uint64_t now, size_t len)
{
	if (sm->state < SIO_S_EIO_OPENING || sm->state > SIO_S_ACKED)
		return;
	if (len > EIO_FRAME_MAX) {
		sio_end(sm, now, SIO_CLOSE_TOO_BIG, 0, "frame too large");
		return;
	}
	if (sm->attach_left == 0) {
		log_warnx("socketio: binary frame with no packet pending: "
		    "ignored");
		return;
	}
	if (--sm->attach_left == 0)
		sio_attach_done(sm, now);
}

/* All attachments consumed: answer the ack, never before §2.4 allows. */
static void
sio_attach_done(struct sio *sm, uint64_t now)
{
	int64_t	 ack = sm->attach_ack;

	sm->attach_ack = -1;
	if (ack < 0)
		return;
	if (sm->state == SIO_S_NS_CONNECTING) {
		if (sio_early_add(sm, NULL, 0, ack) == -1)
			sio_end(sm, now, SIO_CLOSE_NORMAL, 0,
			    "too many events before the CONNECT ack");
	} else if (sio_live(sm))
		sio_send_ack(sm, now, ack);
}

/* ---------------------------------------------------------------- */
/* Time */

uint64_t
sio_next_deadline(const struct sio *sm)
{
	uint64_t	 d[4] = { sm->dl_state, sm->dl_watchdog,
			    sm->dl_heartbeat, sm->dl_stats }, m = 0;
	size_t		 i;

	for (i = 0; i < nitems(d); i++)
		if (d[i] != 0 && (m == 0 || d[i] < m))
			m = d[i];
	return m;
}

void
sio_tick(struct sio *sm, uint64_t now)
{
	if (sm->dl_state != 0 && now >= sm->dl_state) {
		sm->dl_state = 0;
		switch (sm->state) {
		case SIO_S_BACKOFF:
			sio_start(sm, now);
			break;
		case SIO_S_DIALING:
			sio_end(sm, now, SIO_CLOSE_ABORT, 0, "dial timeout");
			break;
		case SIO_S_EIO_OPENING:
			sio_end(sm, now, SIO_CLOSE_NORMAL, 0,
			    "no open packet in time");
			break;
		case SIO_S_NS_CONNECTING:
			sio_end(sm, now, SIO_CLOSE_NORMAL, 0,
			    "no CONNECT answer in time");
			break;
		case SIO_S_CLOSING:
			sm->ops->close(sm->arg, SIO_CLOSE_ABORT,
			    "close timeout");
			sio_backoff(sm, now);
			break;
		}
	}
	if (sm->dl_watchdog != 0 && now >= sm->dl_watchdog) {
		sm->dl_watchdog = 0;
		/* Drop TCP: the server stopped pinging (§1.4). */
		log_warnx("socketio: no engine ping for %lld ms",
		    (long long)(sm->open.ping_interval_ms +
		    sm->open.ping_timeout_ms));
		sio_end(sm, now, SIO_CLOSE_ABORT, 0, "engine heartbeat lost");
	}
	if (sm->dl_heartbeat != 0 && now >= sm->dl_heartbeat) {
		sm->dl_heartbeat = now + sm->t.heartbeat_ms;
		if (now - sm->last_traffic >= sm->t.idle_ms &&
		    sm->ops->idle != NULL)
			sm->ops->idle(sm->arg);
	}
	if (sm->dl_stats != 0 && now >= sm->dl_stats) {
		sm->dl_stats = now + sm->t.stats_ms;
		if (sm->ops->stats != NULL)
			sm->ops->stats(sm->arg);
	}
}
