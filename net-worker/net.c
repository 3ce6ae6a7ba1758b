/*
 * net.c: the net-worker, nixfleet-agent-net.
 *
 * The only process that talks to the network, from inside its sandbox:
 * it asks the supervisor for a connected socket, runs TLS and the
 * WebSocket over it, speaks the dialect, keeps the heartbeat timer, and
 * decides when to reconnect.  It opens no file and no socket itself.
 */
#include <sys/random.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <mbedtls/ctr_drbg.h>

#include "backoff.h"
#include "compat.h"
#include "conn.h"
#include "dialect_nixfleet.h"
#include "ipcev.h"
#include "log.h"
#include "net.h"
#include "net_socketio.h"
#include "permit.h"
#include "proto.h"
#include "netrem.h"
#include "keysrc.h"
#include "tls.h"

#include "net_priv.h"

static struct net	 net;

static void	net_dispatch_sup(struct ipcev *, struct ipcmsg *);
static void	net_dispatch_exec(struct ipcev *, struct ipcmsg *);
static void	net_connect(struct net *);
static void	net_replace_exec(struct net *, int);

static uint32_t
net_random(void)
{
	uint32_t	 r = 0;

	tls_random(&r, sizeof(r));
	return r;
}

static void
net_set_state(struct net *n, int state, const char *detail)
{
	struct ipc_net_state	 st;
	uint32_t		 code;

	n->state = state;
	switch (state) {
	case NET_OPEN:
		code = IPC_NET_CONNECTED;
		break;
	case NET_REGISTERED:
		code = IPC_NET_REGISTERED;
		break;
	case NET_IDLE:
		code = IPC_NET_DISCONNECTED;
		break;
	default:
		return;
	}
	memset(&st, 0, sizeof(st));
	st.state = code;
	strlcpy(st.detail, detail ? detail : "", sizeof(st.detail));
	ipcev_compose(&n->sup, IPC_NS_STATE, 0, -1, &st, sizeof(st));
}

static __dead void
net_exit(struct net *n, int status)
{
	ipcev_flush_sync(&n->sup, 500);
	exit(status);
}

/*
 * A dashboard that sends bad messages by the thousand must not flood the
 * log or hold up the loop: the first few of each minute are logged, the
 * rest only counted, and the count logged when the minute ends.
 */
static void __printflike(2, 3)
net_bad_input(struct net *n, const char *fmt, ...)
{
	va_list	 ap;
	char	 buf[512];

	if (!ev_is_active(&n->bad_window)) {
		ev_timer_set(&n->bad_window, NET_BAD_WINDOW_S, 0);
		ev_timer_start(n->loop, &n->bad_window);
	}
	if (n->bad_logged >= NET_BAD_LOGGED) {
		n->bad_quiet++;
		return;
	}
	n->bad_logged++;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_warnx("%s", buf);
}

static void
net_bad_window_flush(struct net *n)
{
	if (n->bad_quiet > 0)
		log_warnx("%lu more bad messages from the dashboard in the "
		    "last minute, not logged", n->bad_quiet);
	n->bad_logged = 0;
	n->bad_quiet = 0;
	ev_timer_stop(n->loop, &n->bad_window);
}

static void
net_bad_window_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	net_bad_window_flush(w->data);
}

void
net_send(struct net *n, char *json, const char *what)
{
	if (json == NULL)
		fatal("encoding %s", what);
	if (conn_send_text(n->conn, json, strlen(json)) == -1) {
		/* A link on its way down takes nothing more: no news. */
		if (errno == ENOTCONN)
			log_debug("%s not sent: the connection is closing",
			    what);
		else
			log_warnx("%s dropped: the outgoing queue is full",
			    what);
	} else
		log_debug("sent %s", what);
	free(json);
}

/* Remote administration events, as nixfleet frames of the same names. */
static void
net_remote_emit(void *arg, const char *event, json_t *payload)
{
	struct net	*n = arg;
	char		*s;

	if (n->cfg.dialect == IPC_DIALECT_SOCKETIO) {
		sionet_emit(event, payload);
		return;
	}
	if (n->state < NET_OPEN || n->conn == NULL) {
		log_debug("%s dropped: not connected", event);
		json_decref(payload);
		return;
	}
	if ((s = nixfleet_event(event, payload)) == NULL) {
		log_warnx("%s dropped: out of memory", event);
		return;
	}
	net_send(n, s, event);
}

static void
net_send_register(struct net *n)
{
	if (n->state != NET_OPEN || n->register_sent || !n->have_facts)
		return;
	n->register_sent = 1;
	net_send(n, nixfleet_register_as(&n->facts, &n->cfg,
	    n->jcfg.report_version), "register");
	ev_timer_set(&n->register_wait, NET_REGISTER_S, 0);
	ev_timer_start(n->loop, &n->register_wait);
}

/* Connected, but the dashboard never accepted us: try again. */
static void
net_register_wait_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct net	*n = w->data;

	if (n->state != NET_OPEN || !conn_is_open(n->conn))
		return;
	log_warnx("no \"registered\" from the dashboard %.0f s after "
	    "register; reconnecting", NET_REGISTER_S);
	conn_close(n->conn, 1000, "no registered reply");
}

void
net_send_heartbeat(struct net *n)
{
	n->hb_pending = 0;
	ev_timer_stop(n->loop, &n->facts_wait);
	if (n->state != NET_REGISTERED)
		return;
	net_send(n, nixfleet_heartbeat_job(&n->facts, netjobs_state(n)),
	    "heartbeat");
}

/*
 * The heartbeat tick asks the exec-worker for fresh facts (the generation
 * is re-read every time) and sends when they come, or after a short wait
 * with the last ones: a slow exec-worker never stops the heartbeat.
 */
static void
net_heartbeat_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct net	*n = w->data;

	if (n->state != NET_REGISTERED)
		return;
	if (n->hb_pending) {	/* the last request never came back */
		net_send_heartbeat(n);
		return;
	}
	n->hb_pending = 1;
	ev_timer_set(&n->facts_wait, NET_FACTS_WAIT_S, 0);
	ev_timer_start(loop, &n->facts_wait);
	if (ipcev_active(&n->exec))
		ipcev_compose(&n->exec, IPC_NE_FACTS_REQ, 0, -1, NULL, 0);
}

static void
net_facts_wait_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct net	*n = w->data;

	log_debug("no fresh facts in time, heartbeat with the last ones");
	net_send_heartbeat(n);
}

static void
net_handle_text(struct net *n, const char *data, size_t len)
{
	struct nixfleet_in	 in;

	nixfleet_decode(data, len, &in);
	switch (in.type) {
	case NF_IN_INVALID:
		net_bad_input(n, "malformed message from the dashboard "
		    "ignored: %s", in.error);
		break;
	case NF_IN_UNKNOWN:
		if (netrem_nixfleet(&n->remote, data, len))
			break;
		net_bad_input(n, "unknown message type \"%s\" ignored",
		    in.type_name);
		break;
	case NF_IN_REGISTERED:
		if (n->state != NET_OPEN) {
			net_bad_input(n, "registered again, ignored");
			break;
		}
		ev_timer_stop(n->loop, &n->register_wait);
		if (strcmp(in.host_id, n->facts.hostname) != 0)
			log_warnx("registered as \"%s\", not \"%s\"",
			    in.host_id, n->facts.hostname);
		log_info("registered as %s", in.host_id);
		net_set_state(n, NET_REGISTERED, in.host_id);
		net_send_heartbeat(n);
		ev_timer_set(&n->heartbeat, n->cfg.interval_s,
		    n->cfg.interval_s);
		ev_timer_again(n->loop, &n->heartbeat);
		/* §6.7: missed records after registered and its heartbeat. */
		netjobs_registered(n);
		break;
	case NF_IN_COMMAND:
	case NF_IN_KILL_COMMAND:
		if (n->state != NET_REGISTERED) {
			net_bad_input(n, "a command before registered ignored");
			break;
		}
		netjobs_command(n, &in);
		break;
	}
}

static void
net_conn_open(struct conn *c, void *arg)
{
	struct net	*n = arg;

	/* A successful upgrade resets the backoff (nixfleet §1.5). */
	backoff_reset(&n->backoff);
	log_info("connected to %s", n->cfg.url);
	n->register_sent = 0;
	net_set_state(n, NET_OPEN, n->cfg.url);
	if (n->stopping) {
		conn_close(c, 1000, "shutdown");
		return;
	}
	if (ipcev_active(&n->exec))
		ipcev_compose(&n->exec, IPC_NE_FACTS_REQ, 0, -1, NULL, 0);
	net_send_register(n);
}

static void
net_conn_message(struct conn *c, const char *data, size_t len, int binary,
    void *arg)
{
	struct net	*n = arg;

	if (binary) {
		log_debug("binary frame of %zu bytes ignored", len);
		return;
	}
	net_handle_text(n, data, len);
}

static void
net_conn_closed(struct conn *c, int end, const char *why, void *arg)
{
	struct net	*n = arg;
	uint32_t	 delay;
	int		 was_open = n->state >= NET_OPEN;

	ev_timer_stop(n->loop, &n->heartbeat);
	ev_timer_stop(n->loop, &n->facts_wait);
	ev_timer_stop(n->loop, &n->register_wait);
	n->hb_pending = 0;
	n->register_sent = 0;
	net_set_state(n, NET_IDLE, why);
	netjobs_link_down(n);
	if (was_open)
		netrem_session_end(&n->remote);	/* §4.3: shells end */
	if (n->stopping) {
		log_info("connection closed: %s", why);
		net_exit(n, 0);
	}
	delay = backoff_next(&n->backoff, net_random);
	log_warnx("%s: %s; retrying in %.1f s", was_open ?
	    "connection lost" : "connection failed", why, delay / 1000.0);
	ev_timer_set(&n->retry, delay / 1000.0, 0);
	ev_timer_start(n->loop, &n->retry);
}

static void
net_conn_sent(struct conn *c, uint64_t count, void *arg)
{
	netjobs_sent(arg, count);
}

static void
net_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	net_connect(w->data);
}

static void
net_connect(struct net *n)
{
	struct ipc_connect	 c;

	if (n->stopping || n->state != NET_IDLE)
		return;
	log_info("connecting to %s", n->cfg.url);
	c.endpoint = IPC_EP_DASHBOARD;
	c.timeout_ms = n->cfg.handshake_ms;
	n->state = NET_DIALING;
	permit_set(&n->sup_permit, IPC_SN_CONNECTED, PERMIT_ONCE);
	ipcev_compose(&n->sup, IPC_NS_CONNECT, 0, -1, &c, sizeof(c));
}

static void
net_sio_exit(int status)
{
	net_exit(&net, status);
}

static void
net_handle_connected(struct net *n, const struct ipc_connected *r, int fd)
{
	uint32_t	 delay;

	if (!ipc_str_valid(r->target, sizeof(r->target)) ||
	    !ipc_str_valid(r->reason, sizeof(r->reason)) ||
	    (r->error == 0) != (fd != -1))
		fatalx("%s: inconsistent answer from the supervisor",
		    __func__);
	if (n->stopping) {
		if (fd != -1)
			close(fd);
		net_exit(n, 0);
	}
	if (n->cfg.dialect == IPC_DIALECT_SOCKETIO) {
		sionet_connected(r, fd);
		return;
	}
	if (r->error != 0) {
		n->state = NET_IDLE;
		delay = backoff_next(&n->backoff, net_random);
		log_warnx("connection failed: %s; retrying in %.1f s",
		    r->reason, delay / 1000.0);
		ev_timer_set(&n->retry, delay / 1000.0, 0);
		ev_timer_start(n->loop, &n->retry);
		return;
	}
	n->state = NET_HANDSHAKE;
	conn_start(n->conn, fd, r->via_proxy, r->target);
}

/* The CA bundle is complete: build the connection and start dialling. */
static void
net_start(struct net *n)
{
	struct conn_params	 p;
	static const struct conn_cb cb = {
		.open = net_conn_open,
		.message = net_conn_message,
		.closed = net_conn_closed,
		.sent = net_conn_sent,
	};
	const char		*why = NULL;
	struct sionet_env	 env = { n->loop, &n->sup, &n->exec,
	    &n->sup_permit, &n->exec_permit, &n->cfg, &n->sio_cfg,
	    &n->remote, n->ca, n->calen, net_sio_exit };

	/* The socketio session owns its connection and its backoff. */
	if (n->cfg.dialect == IPC_DIALECT_SOCKETIO) {
		sionet_start(&env);
		return;
	}
	memset(&p, 0, sizeof(p));
	p.url = n->cfg.url;
	if (n->cfg.token[0] != '\0')
		snprintf(n->headers, sizeof(n->headers),
		    "Authorization: Bearer %s\r\n", n->cfg.token);
	p.headers = n->headers;
	p.user_agent = "nixfleet-agent/" AGENT_VERSION;
	p.proxy_auth = (n->cfg.flags & IPC_NETF_PROXY_AUTH) ?
	    n->cfg.proxy_auth : NULL;
	p.skip_verify = (n->cfg.flags & IPC_NETF_SKIP_VERIFY) != 0;
	p.allow_http = (n->cfg.flags & IPC_NETF_ALLOW_HTTP) != 0;
	p.pins = (const uint8_t (*)[32])n->cfg.pins;
	p.npins = n->cfg.npins;
	p.ping_ms = n->cfg.ping_ms;
	p.dead_ms = n->cfg.dead_ms;
	p.handshake_ms = n->cfg.handshake_ms;
	p.close_ms = n->cfg.close_ms;
	p.max_msg = n->cfg.max_msg;
	p.highwater = NET_HIGHWATER;
	n->conn = conn_new(n->loop, &p, &cb, n, n->ca, n->calen, &why);
	if (n->conn == NULL)
		fatalx("cannot set up the connection: %s", why ? why : "?");
	backoff_init(&n->backoff, 1000, n->cfg.backoff_max_ms);
	net_connect(n);
}

static void
net_shutdown(struct net *n)
{
	if (n->stopping)
		return;
	n->stopping = 1;
	ev_timer_stop(n->loop, &n->retry);
	ev_timer_stop(n->loop, &n->heartbeat);
	ev_timer_stop(n->loop, &n->register_wait);
	net_bad_window_flush(n);
	ev_timer_set(&n->stop_timer, NET_STOP_MAX_S, 0);
	ev_timer_start(n->loop, &n->stop_timer);
	if (n->cfg.dialect == IPC_DIALECT_SOCKETIO && sionet_shutdown() == 0)
		return;
	if (n->conn != NULL && conn_is_open(n->conn)) {
		log_info("closing the connection: shutdown");
		conn_close(n->conn, 1000, "shutdown");
	} else if (n->conn != NULL && !conn_is_idle(n->conn))
		conn_abort(n->conn, "shutdown");
	else
		/*
		 * Dialing too: the supervisor drops the connect it stops
		 * for and sends no answer (connect_cancel), so none is to
		 * be waited for.
		 */
		net_exit(n, 0);
}

static void
net_stop_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	log_warnx("no close from the dashboard in time");
	net_exit(w->data, 0);
}

static void
net_sigterm_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	net_shutdown(w->data);
}

static void
net_handle_config(struct net *n, struct ipcmsg *m)
{
	struct ipc_net_config	*c = &n->cfg;

	if (ipc_get_data(m, c, sizeof(*c)) == -1 ||
	    !ipc_str_valid(c->url, sizeof(c->url)) ||
	    !ipc_str_valid(c->token, sizeof(c->token)) ||
	    !ipc_str_valid(c->proxy_auth, sizeof(c->proxy_auth)) ||
	    !ipc_str_valid(c->repo_url, sizeof(c->repo_url)) ||
	    !ipc_str_valid(c->location, sizeof(c->location)) ||
	    !ipc_str_valid(c->device_type, sizeof(c->device_type)) ||
	    !ipc_str_valid(c->theme_color, sizeof(c->theme_color)) ||
	    c->npins > IPC_PINS_MAX || c->interval_s == 0)
		fatalx("%s: bad configuration from the supervisor", __func__);
	/* Jobs' settings next (IPC_SN_JOBS_CONFIG), in either dialect. */
	permit_set(&n->sup_permit, IPC_SN_JOBS_CONFIG, PERMIT_ONCE);
	/* socketio: its own settings come first (net_socketio.c). */
	if (c->dialect == IPC_DIALECT_SOCKETIO)
		permit_set(&n->sup_permit, IPC_SN_SIO_CONFIG, PERMIT_ONCE);
	else
		permit_set(&n->sup_permit, IPC_SN_CA_BEGIN, PERMIT_ONCE);
	permit_set(&n->sup_permit, IPC_SN_KEYSRC_CONFIG, PERMIT_ONCE);
}

static int
net_keys_fetch(void *arg, const char *login, uint32_t id)
{
	struct net	*n = arg;

	return keysrc_fetch(n->keysrc, login, id);
}

static void
net_keys_done(void *arg, uint32_t id, const char *body, size_t len,
    uint32_t ms, const char *error)
{
	struct net	*n = arg;

	netrem_keys_fetched(&n->remote, id, body, len, ms, error);
}

/* Where sync_keys fetches from; its own CA bundle may follow. */
static void
net_handle_keysrc_config(struct net *n, struct ipcmsg *m)
{
	struct ipc_keysrc_config	 kc;

	if (ipc_get_data(m, &kc, sizeof(kc)) == -1 ||
	    keysrc_config(n->keysrc, &kc) == -1)
		fatalx("%s: bad key source configuration", __func__);
	if (kc.ca_size > 0)
		permit_set(&n->sup_permit, IPC_SN_KEYSRC_CA, PERMIT_ALLOW);
	if (keysrc_enabled(n->keysrc)) {
		n->remote.fetch = net_keys_fetch;
		n->remote.fetch_arg = n;
	}
}

static void
net_handle_keysrc_ca(struct net *n, struct ipcmsg *m)
{
	if (keysrc_ca(n->keysrc, ipc_get_ptr(m), ipc_get_len(m)) == -1)
		fatalx("%s: key source CA chunk overflows its size", __func__);
	if (keysrc_ca_missing(n->keysrc) == 0)
		permit_set(&n->sup_permit, IPC_SN_KEYSRC_CA, PERMIT_DENY);
}

static void
net_handle_sio_config(struct net *n, struct ipcmsg *m)
{
	if (ipc_get_data(m, &n->sio_cfg, sizeof(n->sio_cfg)) == -1)
		fatalx("%s: bad socketio configuration size", __func__);
	sionet_check_config(&n->sio_cfg);
	permit_set(&n->sup_permit, IPC_SN_CA_BEGIN, PERMIT_ONCE);
}

static void
net_handle_ca_begin(struct net *n, struct ipcmsg *m)
{
	struct ipc_ca_begin	 b;

	if (ipc_get_data(m, &b, sizeof(b)) == -1 || b.size > IPC_CA_MAX)
		fatalx("%s: bad CA bundle size", __func__);
	n->calen = b.size;
	n->caoff = 0;
	if (b.size > 0 && (n->ca = malloc(b.size)) == NULL)
		fatal(NULL);
	permit_set(&n->sup_permit, IPC_SN_CA_CHUNK, PERMIT_ALLOW);
	permit_set(&n->sup_permit, IPC_SN_CA_END, PERMIT_ONCE);
}

static void
net_handle_ca_chunk(struct net *n, struct ipcmsg *m)
{
	size_t	 len = ipc_get_len(m);

	if (len == 0 || len > n->calen - n->caoff)
		fatalx("%s: CA chunk overflows the announced size", __func__);
	memcpy(n->ca + n->caoff, ipc_get_ptr(m), len);
	n->caoff += len;
}

static void
net_handle_ca_end(struct net *n)
{
	if (n->caoff != n->calen)
		fatalx("%s: CA bundle short by %zu bytes", __func__,
		    n->calen - n->caoff);
	permit_set(&n->sup_permit, IPC_SN_CA_CHUNK, PERMIT_DENY);
	keysrc_default_ca(n->keysrc, n->ca, n->calen);
	permit_set(&n->sup_permit, IPC_SN_PING, PERMIT_ALLOW);
	permit_set(&n->sup_permit, IPC_SN_SHUTDOWN, PERMIT_ALLOW);
	net_start(n);
}

/* The supervisor is trusted: anything unexpected from it is fatal. */
static void
net_dispatch_sup(struct ipcev *iev, struct ipcmsg *m)
{
	struct net		*n = iev->data;
	struct ipc_connected	 r;
	uint32_t		 type;
	int			 fd;

	if (m == NULL)
		fatalx("lost the supervisor");
	type = ipc_get_type(m);
	if (type == IPC_HELLO) {
		permit_set(&n->sup_permit, IPC_SN_CONFIG, PERMIT_ONCE);
		permit_set(&n->sup_permit, IPC_SN_PEER, PERMIT_ALLOW);
		return;
	}
	/*
	 * The key source's socket answers a request of keysrc.c, which
	 * counts it itself: the permit table's CONNECTED is the dashboard's.
	 */
	if (type == IPC_SN_CONNECTED && ipc_get_data(m, &r, sizeof(r)) == 0 &&
	    r.endpoint == IPC_EP_KEYSRC) {
		fd = ipc_get_fd(m);
		if (!keysrc_awaiting(n->keysrc) ||
		    !ipc_str_valid(r.target, sizeof(r.target)) ||
		    !ipc_str_valid(r.reason, sizeof(r.reason)) ||
		    (r.error == 0) != (fd != -1))
			fatalx("%s: unexpected key source connection",
			    __func__);
		keysrc_connected(n->keysrc, &r, fd);
		return;
	}
	if (!permit_check(&n->sup_permit, type))
		fatalx("%s: unexpected %s (len %zu)", __func__,
		    ipc_type_name(type), ipc_get_len(m));
	/* Descriptors ride on CONNECTED (a success) and PEER, nowhere else. */
	if ((ipc_get_flags(m) & IPC_F_FD) && type != IPC_SN_CONNECTED &&
	    type != IPC_SN_PEER)
		fatalx("%s: %s with a descriptor", __func__,
		    ipc_type_name(type));
	switch (type) {
	case IPC_SN_PEER:
		if (ipc_get_len(m) != 0 || (fd = ipc_get_fd(m)) == -1)
			fatalx("%s: bad %s", __func__, ipc_type_name(type));
		net_replace_exec(n, fd);
		break;
	case IPC_SN_CONFIG:
		net_handle_config(n, m);
		break;
	case IPC_SN_JOBS_CONFIG:
		if (ipc_get_data(m, &n->jcfg, sizeof(n->jcfg)) == -1 ||
		    !ipc_str_valid(n->jcfg.report_version,
		    sizeof(n->jcfg.report_version)))
			fatalx("%s: bad jobs configuration", __func__);
		break;
	case IPC_SN_SIO_CONFIG:
		net_handle_sio_config(n, m);
		break;
	case IPC_SN_SIGNED:
		sionet_signed(m);
		break;
	case IPC_SN_KEYSRC_CONFIG:
		net_handle_keysrc_config(n, m);
		break;
	case IPC_SN_KEYSRC_CA:
		net_handle_keysrc_ca(n, m);
		break;
	case IPC_SN_CA_BEGIN:
		permit_set(&n->sup_permit, IPC_SN_JOBS_CONFIG, PERMIT_DENY);
		permit_set(&n->sup_permit, IPC_SN_KEYSRC_CONFIG, PERMIT_DENY);
		if (keysrc_ca_missing(n->keysrc) > 0)
			fatalx("%s: key source CA bundle incomplete",
			    __func__);
		net_handle_ca_begin(n, m);
		break;
	case IPC_SN_CA_CHUNK:
		net_handle_ca_chunk(n, m);
		break;
	case IPC_SN_CA_END:
		if (ipc_get_len(m) != 0)
			fatalx("%s: CA end with payload", __func__);
		net_handle_ca_end(n);
		break;
	case IPC_SN_CONNECTED:
		if (ipc_get_data(m, &r, sizeof(r)) == -1)
			fatalx("%s: bad connect answer", __func__);
		fd = ipc_get_fd(m);
		net_handle_connected(n, &r, fd);
		break;
	case IPC_SN_PING:
		ipcev_compose(iev, IPC_NS_PONG, ipc_get_id(m), -1, NULL, 0);
		break;
	case IPC_SN_SHUTDOWN:
		net_shutdown(n);
		break;
	default:
		fatalx("%s: unexpected %s", __func__, ipc_type_name(type));
	}
}

static void
net_handle_facts(struct net *n, struct ipcmsg *m)
{
	struct ipc_facts	*f = &n->facts;

	if (ipc_get_data(m, f, sizeof(*f)) == -1 ||
	    !ipc_str_valid(f->hostname, sizeof(f->hostname)) ||
	    !ipc_str_valid(f->host_type, sizeof(f->host_type)) ||
	    !ipc_str_valid(f->os_version, sizeof(f->os_version)) ||
	    !ipc_str_valid(f->nixpkgs_version, sizeof(f->nixpkgs_version)) ||
	    !ipc_str_valid(f->generation, sizeof(f->generation)) ||
	    !ipc_str_valid(f->repo_dir, sizeof(f->repo_dir)) ||
	    !ipc_str_valid(f->store_path, sizeof(f->store_path)) ||
	    !ipc_str_valid(f->binary_hash, sizeof(f->binary_hash)) ||
	    !ipc_str_valid(f->source_commit, sizeof(f->source_commit)) ||
	    !ipc_str_valid(f->lock_hash, sizeof(f->lock_hash))) {
		n->have_facts = 0;
		ipcev_drop(&n->exec, "malformed facts");
		return;
	}
	n->have_facts = 1;
	net_send_register(n);
	if (n->hb_pending)
		net_send_heartbeat(n);
}

static void
net_dispatch_exec(struct ipcev *iev, struct ipcmsg *m)
{
	struct net	*n = iev->data;
	uint32_t	 type;

	if (m == NULL) {
		/*
		 * The supervisor restarts the exec-worker alone and hands us a
		 * channel to the new one (IPC_SN_PEER); the session stays up,
		 * heartbeats carry the last facts until then.
		 */
		if (!n->stopping)
			log_warnx("lost the exec-worker, waiting for a new "
			    "one");
		return;
	}
	type = ipc_get_type(m);
	if (type == IPC_HELLO) {
		permit_set(&n->exec_permit, IPC_EN_FACTS, PERMIT_ALLOW);
		permit_set(&n->exec_permit, IPC_EN_JOB_ANSWER, PERMIT_ALLOW);
		permit_set(&n->exec_permit, IPC_EN_JOB_OUTPUT, PERMIT_ALLOW);
		permit_set(&n->exec_permit, IPC_EN_JOB_PROGRESS, PERMIT_ALLOW);
		permit_set(&n->exec_permit, IPC_EN_JOB_STATUS, PERMIT_ALLOW);
		permit_set(&n->exec_permit, IPC_EN_JOB_STATE, PERMIT_ALLOW);
		permit_set(&n->exec_permit, IPC_EN_JOB_NOTICE, PERMIT_ALLOW);
		permit_set(&n->exec_permit, IPC_EN_JOB_DROPPED, PERMIT_ALLOW);
		permit_set(&n->exec_permit, IPC_EN_JOB_REPLAYING,
		    PERMIT_ALLOW);
		netjobs_reset(n);
		netrem_permit(&n->exec_permit);
		/* A new exec-worker (IPC_SN_PEER) after sionet_start. */
		if (n->cfg.dialect == IPC_DIALECT_SOCKETIO)
			permit_set(&n->exec_permit, IPC_EN_STATS,
			    PERMIT_ALLOW);
		ipcev_compose(iev, IPC_NE_FACTS_REQ, 0, -1, NULL, 0);
		return;
	}
	if (!permit_check(&n->exec_permit, type))
		goto bad;
	switch (type) {
	case IPC_EN_FACTS:
		net_handle_facts(n, m);
		break;
	case IPC_EN_ADMIN_RESULT: case IPC_EN_SHELL_OUTPUT:
	case IPC_EN_SHELL_CLOSED: case IPC_EN_KEYS_RESULT:
	case IPC_EN_BACKUP_PLAN: case IPC_EN_BACKUP_PROGRESS:
	case IPC_EN_BACKUP_DONE:
		if (netrem_dispatch_exec(&n->remote, m) == -1)
			goto bad;
		break;
	case IPC_EN_STATS:
		sionet_stats(m);
		break;
	default:
		if (netjobs_dispatch(n, type, m) == -1)
			goto bad;
		break;
	}
	return;
 bad:
	ipcev_drop(iev, "%s: %s (len %zu) from %s", __func__,
	    ipc_type_name(type), ipc_get_len(m), iev->name);
}

/*
 * A new exec-worker: the old channel is dead.  Say HELLO on the new one;
 * its HELLO re-syncs us (net_dispatch_exec asks for facts).
 */
static void
net_replace_exec(struct net *n, int fd)
{
	ipcev_close(&n->exec);
	netrem_clear(&n->remote);	/* nothing of the old one is owed */
	fcntl(fd, F_SETFL, O_NONBLOCK);
	permit_init(&n->exec_permit, IPC_EN);
	ipcev_init(&n->exec, n->loop, fd, IPC_MAX_NE, "exec-worker",
	    net_dispatch_exec, n);
	ipcev_expect_role(&n->exec, IPC_ROLE_EXEC);
	ipcev_hello(&n->exec, IPC_ROLE_NET);
	log_info("new exec-worker channel");
}

void
net_main(int argc, char **argv)
{
	struct net	*n = &net;
	const char	*root = NULL;
	uid_t		 uid = 0;
	gid_t		 gid = 0;
	uint32_t	 max_msg = 0, seed;
	int		 ch, level = LOG_LVL_INFO;

	while ((ch = getopt(argc, argv, "l:u:g:r:m:")) != -1) {
		switch (ch) {
		case 'l':
			level = atoi(optarg);
			break;
		case 'u':
			uid = (uid_t)strtoul(optarg, NULL, 10);
			break;
		case 'g':
			gid = (gid_t)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			root = optarg;
			break;
		case 'm':
			max_msg = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		default:
			fatalx("usage: nixfleet-agent-net [-l level] "
			    "[-m max-message] [-u uid -g gid -r root]");
		}
	}
	log_init(level, 1);
	log_procinit("net");
	if (root != NULL && (uid == 0 || gid == 0))
		fatalx("refusing to run the net-worker as root");

	/* Everything the sandbox will forbid happens first. */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	if (tls_global_init() == -1)
		fatalx("cannot seed the random generator");
	/* jansson would read /dev/urandom on first use, or fall back to time */
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		fatal("getrandom");
	json_object_seed(seed | 1);
	n->loop = ev_default_loop(EVBACKEND_EPOLL);
	if (n->loop == NULL)
		fatalx("cannot create the event loop");
	/* libev installs its handler now: no rt_sigaction afterwards. */
	ev_signal_init(&n->sigterm, net_sigterm_cb, SIGTERM);
	n->sigterm.data = n;
	ev_signal_start(n->loop, &n->sigterm);
	net_sandbox(uid, gid, root, max_msg);

	fcntl(IPC_FD_SUP, F_SETFL, O_NONBLOCK);
	fcntl(IPC_FD_PEER, F_SETFL, O_NONBLOCK);
	permit_init(&n->sup_permit, IPC_SN);
	permit_init(&n->exec_permit, IPC_EN);
	ipcev_init(&n->sup, n->loop, IPC_FD_SUP, IPC_MAX_SN, "supervisor",
	    net_dispatch_sup, n);
	/* Connected sockets come down; nothing of ours goes up. */
	ipcbuf_allow_fdrecv(n->sup.buf);
	netrem_init(&n->remote, &n->exec, net_remote_emit, n);
	if ((n->keysrc = keysrc_new(n->loop, &n->sup, net_keys_done, n)) ==
	    NULL)
		fatal(NULL);
	ipcev_init(&n->exec, n->loop, IPC_FD_PEER, IPC_MAX_NE, "exec-worker",
	    net_dispatch_exec, n);
	ipcev_expect_role(&n->sup, IPC_ROLE_SUP);
	ipcev_expect_role(&n->exec, IPC_ROLE_EXEC);
	netjobs_init(n);
	ipcev_hello(&n->sup, IPC_ROLE_NET);
	ipcev_hello(&n->exec, IPC_ROLE_NET);

	ev_timer_init(&n->retry, net_retry_cb, 0, 0);
	ev_timer_init(&n->heartbeat, net_heartbeat_cb, 0, 0);
	ev_timer_init(&n->facts_wait, net_facts_wait_cb, 0, 0);
	ev_timer_init(&n->stop_timer, net_stop_timer_cb, 0, 0);
	n->retry.data = n->heartbeat.data = n->facts_wait.data = n;
	n->stop_timer.data = n;
	ev_timer_init(&n->register_wait, net_register_wait_cb, 0, 0);
	ev_timer_init(&n->bad_window, net_bad_window_cb, 0, 0);
	n->register_wait.data = n->bad_window.data = n;

	ev_run(n->loop, 0);
	exit(0);
}
