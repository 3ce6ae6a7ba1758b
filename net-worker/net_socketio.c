/*
 * net_socketio.c: the socketio session of the net-worker.
 *
 * sio.c decides (states, deadlines, backoff, the clock-skew hint); this
 * file carries its decisions out: a dial is IPC_NS_SIGN, then the signed
 * request target, then IPC_NS_CONNECT and conn.c; frames go both ways
 * between conn.c and sio.c; one ev_timer follows sio_next_deadline().
 * The machine owns the reconnect policy of this dialect (§4.4): net.c's
 * backoff is nixfleet's only.
 *
 * Every entry into the machine goes through sn_enter()/sn_leave().  A
 * conn.c close that happens while the machine is on the stack (it asked
 * for the abort itself) is held and delivered at the outermost leave, so
 * the machine never re-enters itself; the timer is re-armed and EXIT is
 * acted on there too.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "conn.h"
#include "dialect_socketio.h"
#include "eio.h"
#include "log.h"
#include "net_socketio.h"
#include "sio.h"
#include "tls.h"
#include "url.h"

#define SN_PHASE_MS		20000	/* dial, open, connect (§4.2) */
#define SN_CLOSE_MS		5000
#define SN_HIGHWATER		(4 * 1024 * 1024)
#define SN_QUERY_CHARS		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu" \
				    "vwxyz0123456789-._~%=&"

enum sn_ipc {
	SN_IPC_NONE = 0,
	SN_IPC_SIGN,		/* IPC_NS_SIGN sent */
	SN_IPC_CONNECT,		/* IPC_NS_CONNECT sent */
};

struct sionet {
	struct sionet_env	 env;
	struct ipc_net_config	 cfg;
	struct ipc_sio_config	 scfg;
	int			 started;
	struct sio		 sm;
	struct conn		*conn;
	struct url		 url;		/* serverUrl */
	char			 conn_url[IPC_URL_MAX];
	char			 target[IPC_URL_MAX];
	ev_timer		 timer;
	ev_timer		 flush;		/* a close waits for our data */
	int			 flush_code;
	int			 flush_rounds;
	uint32_t		 attempt;	/* the machine's current dial */
	int			 ipc;		/* enum sn_ipc outstanding */
	uint32_t		 ipc_attempt;	/* ... for this attempt */
	int			 depth;		/* inside the machine */
	int			 closed_pending;
	int			 closed_status;
	char			 closed_why[256];
	int			 last_state;	/* for the retry log line */
	int			 told_up;	/* NS_STATE CONNECTED sent */
	int			 stats_wanted;	/* a sample may be emitted */
	int			 stats_sent;	/* in this session */
	int64_t			 ping_ts;	/* our last idle ping */
	int64_t			 latency_ms;	/* -1: none measured */
};

static struct sionet	 sn;

static uint64_t
sn_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int64_t
sn_wall_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sn_state(struct sionet *s, uint32_t code, const char *detail)
{
	struct ipc_net_state	 st;

	memset(&st, 0, sizeof(st));
	st.state = code;
	strlcpy(st.detail, detail, sizeof(st.detail));
	ipcev_compose(s->env.sup, IPC_NS_STATE, 0, -1, &st, sizeof(st));
}

static void
sn_enter(struct sionet *s)
{
	s->depth++;
}

static void	sn_deliver_closed(struct sionet *, int, const char *);

/* The outermost leave: held closes, the retry line, the timer, EXIT. */
static void
sn_leave(struct sionet *s)
{
	uint64_t	 d, now;

	if (--s->depth > 0)
		return;
	while (s->closed_pending) {
		s->closed_pending = 0;
		s->depth++;
		sn_deliver_closed(s, s->closed_status, s->closed_why);
		s->depth--;
	}
	if (s->sm.state == SIO_S_BACKOFF && s->last_state != SIO_S_BACKOFF &&
	    s->attempt > 0)
		log_info("socketio: %s; retrying in %.1f s", s->sm.why,
		    s->sm.last_delay_ms / 1000.0);
	s->last_state = s->sm.state;
	if (s->sm.state == SIO_S_EXIT) {
		log_info("socketio: session closed: %s", s->sm.why);
		s->env.exit(0);
	}
	ev_timer_stop(s->env.loop, &s->timer);
	if ((d = sio_next_deadline(&s->sm)) != 0) {
		now = sn_now();
		ev_timer_set(&s->timer, d > now ? (d - now) / 1000.0 : 0., 0.);
		ev_timer_start(s->env.loop, &s->timer);
	}
}

static void
sn_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sionet	*s = w->data;

	sn_enter(s);
	sio_tick(&s->sm, sn_now());
	sn_leave(s);
}

/* ---------------------------------------------------------------- */
/* The dial: a signature, a socket, conn.c */

static void
sn_sign(struct sionet *s)
{
	s->ipc = SN_IPC_SIGN;
	s->ipc_attempt = s->attempt;
	permit_set(s->env.sup_permit, IPC_SN_SIGNED, PERMIT_ONCE);
	ipcev_compose(s->env.sup, IPC_NS_SIGN, s->attempt, -1, NULL, 0);
}

/* An answer for an attempt the machine gave up: start the current one. */
static int
sn_stale(struct sionet *s)
{
	if (s->ipc_attempt == s->attempt && s->sm.state == SIO_S_DIALING)
		return 0;
	log_debug("socketio: answer for attempt %u dropped", s->ipc_attempt);
	if (s->sm.state == SIO_S_DIALING)
		sn_sign(s);
	return 1;
}

static void
sn_op_dial(void *arg)
{
	struct sionet	*s = arg;

	s->attempt++;
	s->stats_sent = 0;
	log_info("socketio: connecting to %s (attempt %u)", s->cfg.url,
	    s->attempt);
	/* One request in flight: the stale answer starts this attempt. */
	if (s->ipc == SN_IPC_NONE)
		sn_sign(s);
}

void
sionet_signed(struct ipcmsg *m)
{
	struct sionet		*s = &sn;
	struct ipc_signed	 r;
	struct ipc_connect	 c;
	size_t			 qlen;

	if (ipc_get_data(m, &r, sizeof(r)) == -1 ||
	    !ipc_str_valid(r.query, sizeof(r.query)) ||
	    s->ipc != SN_IPC_SIGN || ipc_get_id(m) != s->ipc_attempt ||
	    strspn(r.query, SN_QUERY_CHARS) != (qlen = strlen(r.query)))
		fatalx("%s: bad signature answer from the supervisor",
		    __func__);
	s->ipc = SN_IPC_NONE;
	sn_enter(s);
	if (sn_stale(s))
		goto out;
	if (qlen == 0) {	/* the supervisor could not sign */
		sio_dial_failed(&s->sm, sn_now(), 0, "handshake not signed");
		goto out;
	}
	log_debug("socketio: handshake signed, ts %lld",
	    (long long)r.ts_ms);
	if (eio_target(s->target, sizeof(s->target), s->url.path,
	    s->scfg.transport_path, r.query) == -1 ||
	    conn_set_path(s->conn, s->target) == -1) {
		sio_dial_failed(&s->sm, sn_now(), 0, "request target too long");
		goto out;
	}
	c.endpoint = IPC_EP_DASHBOARD;
	c.timeout_ms = s->sm.t.dial_ms;
	s->ipc = SN_IPC_CONNECT;
	permit_set(s->env.sup_permit, IPC_SN_CONNECTED, PERMIT_ONCE);
	ipcev_compose(s->env.sup, IPC_NS_CONNECT, 0, -1, &c, sizeof(c));
 out:
	explicit_bzero(&r, sizeof(r));
	sn_leave(s);
}

void
sionet_connected(const struct ipc_connected *r, int fd)
{
	struct sionet	*s = &sn;

	if (s->ipc != SN_IPC_CONNECT)
		fatalx("%s: connect answer without a request", __func__);
	s->ipc = SN_IPC_NONE;
	sn_enter(s);
	if (sn_stale(s)) {
		if (fd != -1)
			close(fd);
	} else if (r->error != 0)
		sio_dial_failed(&s->sm, sn_now(), 0, r->reason);
	else if (!conn_is_idle(s->conn)) {
		close(fd);
		sio_dial_failed(&s->sm, sn_now(), 0,
		    "the previous connection is still open");
	} else
		conn_start(s->conn, fd, r->via_proxy, r->target[0] != '\0' ?
		    r->target : NULL);
	sn_leave(s);
}

/* ---------------------------------------------------------------- */
/* conn.c callbacks */

static void
sn_conn_open(struct conn *c, void *arg)
{
	struct sionet	*s = arg;

	sn_enter(s);
	log_debug("socketio: upgraded: %s", s->target);
	s->told_up = 1;
	sn_state(s, IPC_NET_CONNECTED, s->cfg.url);
	sio_upgraded(&s->sm, sn_now());
	sn_leave(s);
}

static void
sn_conn_message(struct conn *c, const char *data, size_t len, int binary,
    void *arg)
{
	struct sionet	*s = arg;

	sn_enter(s);
	if (binary)
		sio_binary(&s->sm, sn_now(), len);
	else
		sio_text(&s->sm, sn_now(), data, len);
	sn_leave(s);
}

static void
sn_deliver_closed(struct sionet *s, int status, const char *why)
{
	if (s->sm.state == SIO_S_DIALING)
		sio_dial_failed(&s->sm, sn_now(), status, why);
	else
		sio_transport_closed(&s->sm, sn_now(), why);
}

static void
sn_conn_closed(struct conn *c, int end, const char *why, void *arg)
{
	struct sionet	*s = arg;
	/* 401 or 403 at the upgrade: a rejection for the hint (§3.4). */
	int		 status = end == CONN_END_AUTH ? 401 : 0;

	ev_timer_stop(s->env.loop, &s->flush);
	if (s->told_up) {
		s->told_up = 0;
		sn_state(s, IPC_NET_DISCONNECTED, why);
	}
	if (s->depth > 0) {
		s->closed_pending = 1;
		s->closed_status = status;
		strlcpy(s->closed_why, why, sizeof(s->closed_why));
		return;
	}
	sn_enter(s);
	sn_deliver_closed(s, status, why);
	sn_leave(s);
}

/* ---------------------------------------------------------------- */
/* struct sio_ops */

static int
sn_op_send(void *arg, const char *frame, size_t len)
{
	struct sionet	*s = arg;

	if (conn_send_text(s->conn, frame, len) == -1) {
		log_warnx("socketio: frame of %zu bytes not sent: %s", len,
		    errno == ENOBUFS ? "the outgoing queue is full" :
		    "not connected");
		return -1;
	}
	return 0;
}

/*
 * wslay sends control frames ahead of queued data, so a close queued
 * behind 41/agents, would overtake it and the server would never see the
 * DISCONNECT (§2.3, I22): the close waits until the data is out (bounded;
 * the machine's close deadline bounds the rest).
 */
static void
sn_flush_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sionet	*s = w->data;

	if (conn_queued(s->conn) > 0 && ++s->flush_rounds < 100)
		return;
	ev_timer_stop(loop, w);
	conn_close(s->conn, (uint16_t)s->flush_code, "");
}

static void
sn_op_close(void *arg, int code, const char *why)
{
	struct sionet	*s = arg;

	ev_timer_stop(s->env.loop, &s->flush);
	if (code == SIO_CLOSE_ABORT)
		conn_abort(s->conn, why);
	else if (conn_queued(s->conn) > 0) {
		s->flush_code = code;
		s->flush_rounds = 0;
		ev_timer_again(s->env.loop, &s->flush);
	} else
		conn_close(s->conn, (uint16_t)code, "");
}

static void
sn_request_stats(struct sionet *s)
{
	s->stats_wanted = 1;
	if (ipcev_active(s->env.exec))
		ipcev_compose(s->env.exec, IPC_NE_STATS_REQ, 0, -1, NULL, 0);
	else
		log_warnx("socketio: no exec-worker, no stats sample");
}

static void
sn_op_hello(void *arg, int first)
{
	struct sionet	*s = arg;

	/* shell_output frames stay within this session's maxPayload. */
	s->env.remote->max_frame = sio_max_payload(&s->sm);
	if (first)
		sn_state(s, IPC_NET_REGISTERED, s->scfg.client_id);
	sn_request_stats(s);
}

static void
sn_op_stats(void *arg)
{
	sn_request_stats(arg);
}

static void
sn_op_idle(void *arg)
{
	struct sionet	*s = arg;
	json_t		*p;

	s->ping_ts = sn_wall_ms();
	if ((p = sio_enc_ping(s->ping_ts)) == NULL)
		fatal(NULL);
	if (sio_emit(&s->sm, sn_now(), "ping", p) == 0)
		log_debug("socketio: idle, ping %lld sent",
		    (long long)s->ping_ts);
	json_decref(p);
}

static void
sn_op_session_end(void *arg, int acked)
{
	struct sionet	*s = arg;

	/* Emits while disconnected are dropped, not queued (§4.3). */
	s->stats_wanted = 0;
	s->ping_ts = 0;
	s->latency_ms = -1;	/* netLatencyMs is of this session only (5.3) */
	/* The session's shells end with it, no shell_closed (§4.3, D6). */
	netrem_session_end(s->env.remote);
	log_debug("socketio: session ended (%s)", acked ? "acked" :
	    "never acked");
}

static uint32_t
sn_op_rnd(void *arg)
{
	return tls_random32();
}

static void
sn_ping(struct sionet *s, const struct sio_in *in)
{
	json_t	*p;

	/* At once, the server's number verbatim (§4.2, I7). */
	if ((p = sio_enc_pong(in->ts)) == NULL)
		fatal(NULL);
	if (sio_emit(&s->sm, sn_now(), "pong", p) == 0 && in->ts != NULL &&
	    json_is_integer(in->ts))
		log_debug("socketio: ping %lld answered",
		    (long long)json_integer_value(in->ts));
	json_decref(p);
}

static void
sn_pong(struct sionet *s, const struct sio_in *in)
{
	if (in->ts == NULL || !json_is_integer(in->ts) || s->ping_ts == 0 ||
	    json_integer_value(in->ts) != s->ping_ts) {
		log_debug("socketio: pong for no ping of ours ignored");
		return;
	}
	s->latency_ms = sn_wall_ms() - s->ping_ts;
	if (s->latency_ms < 0)
		s->latency_ms = 0;
	s->ping_ts = 0;
	log_debug("socketio: latency %lld ms", (long long)s->latency_ms);
}

static void
sn_op_event(void *arg, const char *name, json_t *payload)
{
	struct sionet	*s = arg;
	struct sio_in	 in;

	sio_decode_event(name, payload, &in);
	switch (in.type) {
	case SIO_IN_INVALID:
		log_warnx("socketio: %s dropped: %s", in.name, in.error);
		break;
	case SIO_IN_UNKNOWN:
		log_debug("socketio: event %s ignored", in.name);
		break;
	case SIO_IN_LATER:
	case SIO_IN_HELLO_ACK:
		log_debug("socketio: %s ignored", in.name);
		break;
	case SIO_IN_PING:
		sn_ping(s, &in);
		break;
	case SIO_IN_PONG:
		sn_pong(s, &in);
		break;
	default:
		/* admin_run, shell_*, sync_keys, backup_*: netrem.h. */
		if (!netrem_event(s->env.remote, name, payload))
			log_warnx("socketio: %s: not available in this version",
			    in.name);
		break;
	}
	sio_in_clear(&in);
}

static const struct sio_ops sn_ops = {
	.dial = sn_op_dial,
	.send = sn_op_send,
	.close = sn_op_close,
	.event = sn_op_event,
	.hello = sn_op_hello,
	.stats = sn_op_stats,
	.idle = sn_op_idle,
	.session_end = sn_op_session_end,
	.rnd = sn_op_rnd,
};

/* ---------------------------------------------------------------- */
/* Stats from the exec-worker */

static int
sn_stats_valid(const struct ipc_stats *st)
{
	uint32_t	 i;

	if (st->ndisk > IPC_STATS_DISK_MAX ||
	    st->niface > IPC_STATS_IFACE_MAX || st->cpu_centi > 10000 ||
	    !ipc_str_valid(st->hostname, sizeof(st->hostname)) ||
	    !ipc_str_valid(st->platform, sizeof(st->platform)) ||
	    !ipc_str_valid(st->release, sizeof(st->release)) ||
	    !ipc_str_valid(st->arch, sizeof(st->arch)) ||
	    !ipc_str_valid(st->kernel, sizeof(st->kernel)) ||
	    !ipc_str_valid(st->agent_version, sizeof(st->agent_version)))
		return 0;
	for (i = 0; i < st->ndisk; i++)
		if (!ipc_str_valid(st->disk[i].mount,
		    sizeof(st->disk[i].mount)) ||
		    !ipc_str_valid(st->disk[i].fsname,
		    sizeof(st->disk[i].fsname)) ||
		    !ipc_str_valid(st->disk[i].fstype,
		    sizeof(st->disk[i].fstype)))
			return 0;
	for (i = 0; i < st->niface; i++)
		if (!ipc_str_valid(st->iface[i].name,
		    sizeof(st->iface[i].name)) ||
		    !ipc_str_valid(st->iface[i].address,
		    sizeof(st->iface[i].address)) ||
		    !ipc_str_valid(st->iface[i].cidr,
		    sizeof(st->iface[i].cidr)) ||
		    (st->iface[i].family != 4 && st->iface[i].family != 6))
			return 0;
	return 1;
}

/* The fixed-point sample as the encoder's view of it. */
static void
sn_stats_view(const struct ipc_stats *st, struct sio_stats *v,
    struct sio_disk *d, struct sio_netif *f, int64_t latency)
{
	uint32_t	 i;

	memset(v, 0, sizeof(*v));
	v->cpu = st->cpu_centi / 100.0;
	v->has_mem = (st->flags & IPC_STATS_HAVE_MEM) != 0;
	v->mem_used = st->mem_used;
	v->mem_free = st->mem_free;
	v->mem_total = st->mem_total;
	for (i = 0; i < 3; i++)
		v->load[i] = st->load_centi[i] / 100.0;
	for (i = 0; i < st->ndisk; i++) {
		d[i].mount = st->disk[i].mount;
		d[i].fsname = st->disk[i].fsname;
		d[i].fstype = st->disk[i].fstype;
		d[i].used = st->disk[i].used;
		d[i].avail = st->disk[i].avail;
	}
	v->disks = d;
	v->ndisks = st->ndisk;
	for (i = 0; i < st->niface; i++) {
		f[i].name = st->iface[i].name;
		f[i].ipv6 = st->iface[i].family == 6;
		f[i].address = st->iface[i].address;
		f[i].cidr = st->iface[i].cidr;
		f[i].internal = st->iface[i].internal != 0;
	}
	v->netifs = f;
	v->nnetifs = st->niface;
	v->hostname = st->hostname;
	v->platform = st->platform;
	v->release = st->release;
	v->arch = st->arch;
	v->kernel_version = st->kernel;
	v->agent_version = st->agent_version;
	v->cpus = st->cpus;
	v->uptime_sec = (int64_t)st->uptime_s;
	v->now_sec = st->ts;
	v->net_latency_ms = latency;
}

void
sionet_stats(struct ipcmsg *m)
{
	struct sionet		*s = &sn;
	static struct ipc_stats	 st;
	struct sio_disk		 d[IPC_STATS_DISK_MAX];
	struct sio_netif	 f[IPC_STATS_IFACE_MAX];
	struct sio_stats	 v;
	json_t			*p;

	if (ipc_get_data(m, &st, sizeof(st)) == -1 || ipc_get_id(m) != 0 ||
	    !sn_stats_valid(&st)) {
		ipcev_drop(s->env.exec, "malformed stats sample");
		return;
	}
	if (!s->started || !s->stats_wanted) {
		log_debug("socketio: stats sample not asked for, dropped");
		return;
	}
	s->stats_wanted = 0;
	sn_stats_view(&st, &v, d, f, s->latency_ms);
	if ((p = sio_enc_stats(&v)) == NULL)
		fatal("encoding stats");
	sn_enter(s);
	if (sio_emit(&s->sm, sn_now(), "stats", p) == 0) {
		if (s->stats_sent++ == 0)
			log_info("socketio: stats sent (cpu %.2f %%, %u disks, "
			    "%u interfaces)", v.cpu, st.ndisk, st.niface);
		else
			log_debug("socketio: stats sent");
	}
	sn_leave(s);
	json_decref(p);
}

/* ---------------------------------------------------------------- */
/* Remote administration answers (remote.c) */

void
sionet_emit(const char *event, json_t *payload)
{
	struct sionet	*s = &sn;

	if (!s->started) {
		json_decref(payload);
		return;
	}
	sn_enter(s);
	/* Dropped while disconnected (§4.3); too big: remote.c bounds it. */
	if (sio_emit(&s->sm, sn_now(), event, payload) == -1)
		log_warnx("socketio: %s not sent: %s", event,
		    errno == ENOTCONN ? "not connected" : errno == EMSGSIZE ?
		    "larger than maxPayload" : "cannot encode");
	sn_leave(s);
	json_decref(payload);
}

/* ---------------------------------------------------------------- */
/* Start and stop */

void
sionet_check_config(const struct ipc_sio_config *c)
{
	if (!ipc_str_valid(c->client_id, sizeof(c->client_id)) ||
	    !ipc_str_valid(c->transport_path, sizeof(c->transport_path)) ||
	    c->stats_s == 0 || c->heartbeat_s == 0 || c->pong_timeout_s == 0)
		fatalx("%s: bad socketio configuration from the supervisor",
		    __func__);
}

/* serverUrl is http(s) or ws(s); conn.c speaks ws(s) to its authority. */
static void
sn_conn_new(struct sionet *s)
{
	struct conn_params	 p;
	static const struct conn_cb cb = {
		.open = sn_conn_open,
		.message = sn_conn_message,
		.closed = sn_conn_closed,
	};
	const char		*why = NULL;
	char			 auth[300];

	if (url_parse(s->cfg.url, &s->url, &why) == -1)
		fatalx("serverUrl: %s", why);
	url_authority(&s->url, auth, sizeof(auth));
	snprintf(s->conn_url, sizeof(s->conn_url), "%s://%s/",
	    s->url.tls ? "wss" : "ws", auth);
	memset(&p, 0, sizeof(p));
	p.url = s->conn_url;
	p.headers = NULL;	/* the credentials are in the query (§3.1) */
	p.user_agent = "compute-agent-c/" AGENT_VERSION;
	p.proxy_auth = (s->cfg.flags & IPC_NETF_PROXY_AUTH) ?
	    s->cfg.proxy_auth : NULL;
	p.skip_verify = (s->cfg.flags & IPC_NETF_SKIP_VERIFY) != 0;
	p.allow_http = (s->cfg.flags & IPC_NETF_ALLOW_HTTP) != 0;
	p.pins = (const uint8_t (*)[32])s->cfg.pins;
	p.npins = s->cfg.npins;
	/* Liveness is the Engine.IO watchdog's (§1.4). */
	p.ping_ms = 0;
	p.dead_ms = 0;
	p.handshake_ms = s->cfg.handshake_ms ? s->cfg.handshake_ms :
	    SN_PHASE_MS;
	p.close_ms = SN_CLOSE_MS;
	p.max_msg = s->cfg.max_msg ? s->cfg.max_msg : EIO_FRAME_MAX;
	p.highwater = SN_HIGHWATER;
	s->conn = conn_new(s->env.loop, &p, &cb, s, s->env.ca, s->env.calen,
	    &why);
	if (s->conn == NULL)
		fatalx("cannot set up the connection: %s", why ? why : "?");
}

void
sionet_start(const struct sionet_env *env)
{
	struct sionet		*s = &sn;
	struct sio_timing	 t;

	memset(s, 0, sizeof(*s));
	s->env = *env;
	s->cfg = *env->cfg;
	s->scfg = *env->scfg;
	s->env.cfg = &s->cfg;
	s->env.scfg = &s->scfg;
	s->latency_ms = -1;
	s->last_state = SIO_S_BACKOFF;
	sn_conn_new(s);
	memset(&t, 0, sizeof(t));
	/* transport.handshakeTimeoutMs (20 s here) bounds the dial. */
	t.dial_ms = s->cfg.handshake_ms ? s->cfg.handshake_ms : SN_PHASE_MS;
	t.open_ms = t.connect_ms = SN_PHASE_MS;
	t.close_ms = SN_CLOSE_MS;
	t.stats_ms = s->scfg.stats_s * 1000;
	t.heartbeat_ms = s->scfg.heartbeat_s * 1000;
	t.idle_ms = s->scfg.pong_timeout_s * 1000 / 2;
	sio_init(&s->sm, &t, &sn_ops, s);
	ev_timer_init(&s->timer, sn_timer_cb, 0, 0);
	s->timer.data = s;
	ev_timer_init(&s->flush, sn_flush_cb, 0, 0.01);
	s->flush.data = s;
	permit_set(s->env.exec_permit, IPC_EN_STATS, PERMIT_ALLOW);
	s->started = 1;
	log_info("socketio: client %s, stats every %u s", s->scfg.client_id,
	    s->scfg.stats_s);
	sn_enter(s);
	sio_start(&s->sm, sn_now());
	sn_leave(s);
}

int
sionet_shutdown(void)
{
	struct sionet	*s = &sn;

	if (!s->started)
		return -1;
	log_info("socketio: shutting down");
	sn_enter(s);
	sio_shutdown(&s->sm, sn_now());
	sn_leave(s);
	return 0;
}
