/*
 * connect.c: connect-on-behalf.  The net-worker names an endpoint; we
 * take its address from our own configuration, resolve it (without
 * blocking the loop), try each address in turn with a timeout, and pass
 * the connected socket down.  The net-worker never resolves or dials.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <mbedtls/base64.h>

#include "compat.h"
#include "log.h"
#include "proto.h"
#include "supervisor.h"

#define CONNECT_POLL_S		0.01	/* resolver progress check */
#define CONNECT_ADDR_MAX_S	5.0	/* per address */
#define CONNECT_DEFAULT_MS	10000

extern char	**environ;

struct connector {
	struct sup	*s;
	struct connector **slot;	/* &s->conn or &s->kconn */
	uint32_t	 endpoint;
	struct gaicb	*gai;		/* in flight, or NULL */
	struct addrinfo	*res, *cur;
	char		 host[256];
	char		 port[8];
	char		 target[256];	/* CONNECT authority if proxied */
	int		 via_proxy;
	int		 plain_remote_ok;	/* ws:// off loopback allowed */
	int		 fd;
	ev_timer	 poll;
	ev_timer	 deadline;
	ev_timer	 addr_timer;
	ev_io		 io;
	char		 last_error[160];
};

/*
 * A lookup that would not cancel still owns its gaicb: keep it here and
 * free it once the resolver is done with it.
 */
struct gai_zombie {
	struct gai_zombie	*next;
	struct gaicb		*gai;
};
static struct gai_zombie	*zombies;

static void	connect_next(struct connector *);

static void
connect_reap_zombies(void)
{
	struct gai_zombie	**zp = &zombies, *z;

	while ((z = *zp) != NULL) {
		if (gai_error(z->gai) == EAI_INPROGRESS) {
			zp = &z->next;
			continue;
		}
		if (z->gai->ar_result != NULL)
			freeaddrinfo(z->gai->ar_result);
		free(z->gai);
		*zp = z->next;
		free(z);
	}
}

static void
connect_free(struct connector *c)
{
	struct ev_loop		*loop = c->s->loop;
	struct gai_zombie	*z;

	ev_timer_stop(loop, &c->poll);
	ev_timer_stop(loop, &c->deadline);
	ev_timer_stop(loop, &c->addr_timer);
	ev_io_stop(loop, &c->io);
	if (c->fd != -1)
		close(c->fd);
	if (c->gai != NULL) {
		if (gai_error(c->gai) == EAI_INPROGRESS &&
		    gai_cancel(c->gai) != EAI_CANCELED) {
			if ((z = calloc(1, sizeof(*z))) == NULL)
				fatal(NULL);
			z->gai = c->gai;
			z->next = zombies;
			zombies = z;
		} else {
			if (c->gai->ar_result != NULL)
				freeaddrinfo(c->gai->ar_result);
			free(c->gai);
		}
	}
	*c->slot = NULL;
	free(c);
	connect_reap_zombies();
}

/* Answer the net-worker; the connector is gone before we compose. */
static void
connect_finish(struct connector *c, int fd, int error, const char *why)
{
	struct sup		*s = c->s;
	struct ipc_connected	 r;

	memset(&r, 0, sizeof(r));
	r.endpoint = c->endpoint;
	r.error = error;
	r.via_proxy = c->via_proxy;
	strlcpy(r.target, c->target, sizeof(r.target));
	if (why != NULL)
		strlcpy(r.reason, why, sizeof(r.reason));
	if (fd != -1 && c->fd == fd)
		c->fd = -1;	/* ownership moves to the channel */
	connect_free(c);
	if (error != 0)
		log_debug("connect failed: %s", r.reason);
	if (ipcev_active(&s->w[W_NET].iev))
		ipcev_compose(&s->w[W_NET].iev, IPC_SN_CONNECTED, 0, fd, &r,
		    sizeof(r));
	else if (fd != -1)
		close(fd);
}

int
connect_addr_is_loopback(const struct sockaddr *sa)
{
	const struct sockaddr_in	*sin = (const void *)sa;
	const struct sockaddr_in6	*sin6 = (const void *)sa;

	if (sa->sa_family == AF_INET)
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			return 1;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			return sin6->sin6_addr.s6_addr[12] == 127;
	}
	return 0;
}

static void
connect_addr_str(const struct addrinfo *ai, char *buf, size_t size)
{
	if (getnameinfo(ai->ai_addr, ai->ai_addrlen, buf, size, NULL, 0,
	    NI_NUMERICHOST) != 0)
		strlcpy(buf, "?", size);
}

static void
connect_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct connector	*c = w->data;
	socklen_t		 len = sizeof(int);
	int			 err = 0;
	char			 addr[64];

	ev_io_stop(loop, w);
	ev_timer_stop(loop, &c->addr_timer);
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	connect_addr_str(c->cur, addr, sizeof(addr));
	if (err == 0) {
		log_debug("connected to %s port %s%s", addr, c->port,
		    c->via_proxy ? " (proxy)" : "");
		connect_finish(c, c->fd, 0, NULL);
		return;
	}
	snprintf(c->last_error, sizeof(c->last_error), "%s port %s: %s",
	    addr, c->port, strerror(err));
	close(c->fd);
	c->fd = -1;
	c->cur = c->cur->ai_next;
	connect_next(c);
}

static void
connect_addr_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct connector	*c = w->data;
	char			 addr[64];

	ev_io_stop(loop, &c->io);
	connect_addr_str(c->cur, addr, sizeof(addr));
	snprintf(c->last_error, sizeof(c->last_error),
	    "%s port %s: connect timeout", addr, c->port);
	close(c->fd);
	c->fd = -1;
	c->cur = c->cur->ai_next;
	connect_next(c);
}

/* Try the next address; each gets its own timeout. */
static void
connect_next(struct connector *c)
{
	struct ev_loop	*loop = c->s->loop;
	char		 addr[64], why[256];
	ev_tstamp	 left;

	for (; c->cur != NULL; c->cur = c->cur->ai_next) {
		connect_addr_str(c->cur, addr, sizeof(addr));
		/* Cleartext leaves this host only when the operator said so. */
		if (!c->plain_remote_ok && !c->via_proxy &&
		    !connect_addr_is_loopback(c->cur->ai_addr)) {
			snprintf(why, sizeof(why), "refusing plain ws:// to "
			    "non-loopback address %s (set "
			    "NIXFLEET_ALLOW_INSECURE_HTTP=1 to allow)", addr);
			connect_finish(c, -1, EPERM, why);
			return;
		}
		c->fd = socket(c->cur->ai_family, c->cur->ai_socktype |
		    SOCK_NONBLOCK | SOCK_CLOEXEC, c->cur->ai_protocol);
		if (c->fd == -1) {
			snprintf(c->last_error, sizeof(c->last_error),
			    "socket: %s", strerror(errno));
			continue;
		}
		/*
		 * Small frames, sent as they come (a shell's keystroke echo):
		 * Nagle against the peer's delayed ACK would hold each ~40 ms.
		 */
		(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 },
		    sizeof(int));
		if (connect(c->fd, c->cur->ai_addr, c->cur->ai_addrlen) == 0 ||
		    errno == EINPROGRESS) {
			ev_io_init(&c->io, connect_io_cb, c->fd, EV_WRITE);
			c->io.data = c;
			ev_io_start(loop, &c->io);
			left = ev_timer_remaining(loop, &c->deadline);
			ev_timer_init(&c->addr_timer, connect_addr_timeout_cb,
			    left < CONNECT_ADDR_MAX_S ? left :
			    CONNECT_ADDR_MAX_S, 0);
			c->addr_timer.data = c;
			ev_timer_start(loop, &c->addr_timer);
			return;
		}
		snprintf(c->last_error, sizeof(c->last_error),
		    "%s port %s: %s", addr, c->port, strerror(errno));
		close(c->fd);
		c->fd = -1;
	}
	connect_finish(c, -1, ECONNREFUSED, c->last_error[0] ?
	    c->last_error : "no address to connect to");
}

static void
connect_poll_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct connector	*c = w->data;
	char			 why[320];
	int			 rc;

	if ((rc = gai_error(c->gai)) == EAI_INPROGRESS)
		return;
	ev_timer_stop(loop, w);
	if (rc != 0) {
		snprintf(why, sizeof(why), "cannot resolve %s: %s", c->host,
		    gai_strerror(rc));
		connect_finish(c, -1, EHOSTUNREACH, why);
		return;
	}
	c->res = c->cur = c->gai->ar_result;
	connect_next(c);
}

static void
connect_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct connector	*c = w->data;
	char			 why[256];

	snprintf(why, sizeof(why), "connect to %s port %s timed out%s%s",
	    c->host, c->port, c->last_error[0] ? ": " : "", c->last_error);
	connect_finish(c, -1, ETIMEDOUT, why);
}

void
connect_limit_reset(struct sup *s)
{
	s->conn_tokens = IPC_CONNECT_BURST;
	s->conn_stamp = s->loop != NULL ? ev_now(s->loop) : 0;
}

/*
 * A token bucket: IPC_CONNECT_BURST requests at once, then one per
 * IPC_CONNECT_FLOOR_MS.  The real net-worker waits at least its backoff
 * floor between attempts, so only a broken one ever runs dry.
 */
int
connect_admit(struct sup *s)
{
	ev_tstamp	 now = s->loop != NULL ? ev_now(s->loop) : 0;

	if (now > s->conn_stamp) {
		s->conn_tokens += (now - s->conn_stamp) * 1000.0 /
		    IPC_CONNECT_FLOOR_MS;
		if (s->conn_tokens > IPC_CONNECT_BURST)
			s->conn_tokens = IPC_CONNECT_BURST;
	}
	s->conn_stamp = now;
	if (s->conn_tokens < 1.0)
		return -1;
	s->conn_tokens -= 1.0;
	return 0;
}

void
connect_request(struct sup *s, uint32_t endpoint, uint32_t timeout_ms)
{
	struct connector	*c;
	struct url		 proxy;
	const char		*why;
	struct gaicb		*list[1];
	static struct addrinfo	 hints = {
		.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	};
	struct connector	**slot;

	/* One in flight per endpoint: the dashboard's and the key source's. */
	slot = endpoint == IPC_EP_KEYSRC ? &s->kconn : &s->conn;
	if (*slot != NULL) {
		ipcev_drop(&s->w[W_NET].iev, "second connect request while "
		    "one is in flight");
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal(NULL);
	c->s = s;
	c->slot = slot;
	c->fd = -1;
	c->endpoint = endpoint;
	*slot = c;
	ev_timer_init(&c->poll, connect_poll_cb, 0, CONNECT_POLL_S);
	/* Never longer than the handshake deadline we configured. */
	if (timeout_ms == 0)
		timeout_ms = CONNECT_DEFAULT_MS;
	if (s->cfg.handshake_ms > 0 && timeout_ms > s->cfg.handshake_ms)
		timeout_ms = s->cfg.handshake_ms;
	if (timeout_ms > IPC_CONNECT_TIMEOUT_MAX_MS)
		timeout_ms = IPC_CONNECT_TIMEOUT_MAX_MS;
	ev_timer_init(&c->deadline, connect_deadline_cb, timeout_ms / 1000.0,
	    0);
	ev_timer_init(&c->addr_timer, connect_addr_timeout_cb, 1, 0);
	ev_io_init(&c->io, connect_io_cb, -1, EV_WRITE);
	c->poll.data = c->deadline.data = c->addr_timer.data = c;
	c->io.data = c;

	if (endpoint == IPC_EP_KEYSRC) {
		/*
		 * Only the configured key host, direct: the net-worker names
		 * no address, and the body is checked by TLS end to end.
		 */
		if (s->keys.host[0] == '\0' || s->cfg.keys_user == NULL ||
		    s->cfg.keys_user[0] == '\0') {
			connect_finish(c, -1, EPERM, "key sync disabled");
			return;
		}
		c->plain_remote_ok = 1;		/* https:// only (config.c) */
		strlcpy(c->host, s->keys.host, sizeof(c->host));
		snprintf(c->port, sizeof(c->port), "%u", s->keys.port);
		goto resolve;
	}
	if (endpoint != IPC_EP_DASHBOARD) {
		connect_finish(c, -1, EPERM, "endpoint not configured");
		return;
	}
	c->plain_remote_ok = s->dash.tls || s->cfg.allow_insecure_http;
	switch (connect_proxy_for(&s->dash, environ, &proxy, &why)) {
	case 1:
		c->via_proxy = 1;
		if (!c->plain_remote_ok && !url_is_loopback(s->dash.host)) {
			connect_finish(c, -1, EPERM, "refusing plain ws:// "
			    "through a proxy to a non-loopback host (set "
			    "NIXFLEET_ALLOW_INSECURE_HTTP=1 to allow)");
			return;
		}
		strlcpy(c->host, proxy.host, sizeof(c->host));
		snprintf(c->port, sizeof(c->port), "%u", proxy.port);
		snprintf(c->target, sizeof(c->target), s->dash.ipv6 ?
		    "[%s]:%u" : "%s:%u", s->dash.host, s->dash.port);
		break;
	case 0:
		strlcpy(c->host, s->dash.host, sizeof(c->host));
		snprintf(c->port, sizeof(c->port), "%u", s->dash.port);
		break;
	default:
		connect_finish(c, -1, EINVAL, why);
		return;
	}
 resolve:
	if ((c->gai = calloc(1, sizeof(*c->gai))) == NULL)
		fatal(NULL);
	c->gai->ar_name = c->host;
	c->gai->ar_service = c->port;
	c->gai->ar_request = &hints;
	list[0] = c->gai;
	if (getaddrinfo_a(GAI_NOWAIT, list, 1, NULL) != 0) {
		free(c->gai);
		c->gai = NULL;
		connect_finish(c, -1, EAGAIN, "resolver unavailable");
		return;
	}
	ev_timer_start(s->loop, &c->deadline);
	ev_timer_again(s->loop, &c->poll);
	ev_invoke(s->loop, &c->poll, EV_TIMER);
}

void
connect_cancel(struct sup *s)
{
	if (s->conn != NULL)
		connect_free(s->conn);
	if (s->kconn != NULL)
		connect_free(s->kconn);
}

/* ---------------------------------------------------------------- */
/* Proxy rules from the environment. */

static const char *
connect_env(char *const *env, const char *name)
{
	size_t	 n = strlen(name);

	for (; env != NULL && *env != NULL; env++)
		if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
			return *env + n + 1;
	return NULL;
}

static int
connect_cidr_match(const char *cidr, const char *host)
{
	struct in_addr	 net, a;
	char		 buf[64], *slash;
	long		 bits;
	uint32_t	 mask;

	strlcpy(buf, cidr, sizeof(buf));
	if ((slash = strchr(buf, '/')) == NULL)
		return 0;
	*slash++ = '\0';
	bits = strtol(slash, NULL, 10);
	if (bits < 0 || bits > 32 || inet_pton(AF_INET, buf, &net) != 1 ||
	    inet_pton(AF_INET, host, &a) != 1)
		return 0;
	mask = bits == 0 ? 0 : htonl(~0U << (32 - bits));
	return (net.s_addr & mask) == (a.s_addr & mask);
}

/*
 * NO_PROXY: entries split on commas and blanks; "*" matches everything;
 * "example.com" and ".example.com" match the host and its subdomains;
 * "host:port" only that port; "10.0.0.0/8" IPv4 ranges.
 */
int
connect_no_proxy_match(const char *no_proxy, const char *host, uint16_t port)
{
	char		 buf[4096], *tok, *save, *colon, *e;
	size_t		 hl = strlen(host), el;
	long		 p;

	if (no_proxy == NULL)
		return 0;
	strlcpy(buf, no_proxy, sizeof(buf));
	for (tok = strtok_r(buf, ", \t", &save); tok != NULL;
	    tok = strtok_r(NULL, ", \t", &save)) {
		if (strcmp(tok, "*") == 0)
			return 1;
		if (strchr(tok, '/') != NULL) {
			if (connect_cidr_match(tok, host))
				return 1;
			continue;
		}
		e = tok;
		if (*e == '[' && (colon = strchr(e, ']')) != NULL) {
			*colon++ = '\0';
			e++;
			colon = *colon == ':' ? colon : NULL;
		} else if ((colon = strrchr(e, ':')) != NULL &&
		    strchr(e, ':') != colon)
			colon = NULL;		/* a bare IPv6 address */
		if (colon != NULL) {
			*colon++ = '\0';
			p = strtol(colon, NULL, 10);
			if (p != port)
				continue;
		}
		if (*e == '.')
			e++;
		if (*e == '\0')
			continue;
		el = strlen(e);
		if (strcasecmp(host, e) == 0)
			return 1;
		if (hl > el && host[hl - el - 1] == '.' &&
		    strcasecmp(host + hl - el, e) == 0)
			return 1;
	}
	return 0;
}

int
connect_proxy_for(const struct url *target, char *const *env,
    struct url *proxy, const char **why)
{
	const char	*v, *np;
	char		 buf[1100];
	static const char *const tls_names[] = { "https_proxy", "HTTPS_PROXY" };
	static const char *const plain_names[] = { "http_proxy", "HTTP_PROXY" };
	const char *const *names = target->tls ? tls_names : plain_names;

	if ((v = connect_env(env, names[0])) == NULL || *v == '\0')
		v = connect_env(env, names[1]);
	if (v == NULL || *v == '\0')
		return 0;
	if ((np = connect_env(env, "no_proxy")) == NULL || *np == '\0')
		np = connect_env(env, "NO_PROXY");
	if (connect_no_proxy_match(np, target->host, target->port))
		return 0;
	/* "proxy:3128" is how many people write it. */
	if (strstr(v, "://") == NULL) {
		snprintf(buf, sizeof(buf), "http://%s", v);
		v = buf;
	} else if (strncasecmp(v, "http://", 7) != 0) {
		*why = "only http:// proxies are supported";
		return -1;
	}
	if (url_parse(v, proxy, why) == -1) {
		*why = "proxy URL is not valid";
		return -1;
	}
	if (strcmp(proxy->scheme, "http") != 0) {
		*why = "only http:// proxies are supported";
		return -1;
	}
	if (!proxy->port_given)
		proxy->port = 3128;
	return 1;
}

static int
connect_hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int
connect_proxy_auth(const struct url *proxy, char *out, size_t size)
{
	char		 dec[256];
	unsigned char	 b64[400];
	size_t		 i, k = 0, olen;
	int		 hi, lo;

	out[0] = '\0';
	if (proxy->userinfo[0] == '\0')
		return 0;
	for (i = 0; proxy->userinfo[i] != '\0' && k < sizeof(dec) - 1; i++) {
		if (proxy->userinfo[i] == '%' &&
		    (hi = connect_hexval(proxy->userinfo[i + 1])) != -1 &&
		    (lo = connect_hexval(proxy->userinfo[i + 2])) != -1) {
			dec[k++] = (char)(hi << 4 | lo);
			i += 2;
		} else
			dec[k++] = proxy->userinfo[i];
	}
	dec[k] = '\0';
	if (mbedtls_base64_encode(b64, sizeof(b64), &olen,
	    (unsigned char *)dec, k) != 0) {
		explicit_bzero(dec, sizeof(dec));
		return 0;
	}
	snprintf(out, size, "Basic %.*s", (int)olen, b64);
	explicit_bzero(dec, sizeof(dec));
	explicit_bzero(b64, sizeof(b64));
	return 1;
}
