/*
 * supervisor.c: the root supervisor, nixfleet-agent.
 *
 * Reads the configuration and the secrets, starts the net-worker and the
 * exec-worker, connects sockets for the net-worker, restarts a worker that
 * dies or misbehaves, and tells systemd how things are.  It never parses
 * anything that came from the network: that is the net-worker's job.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>

#include "compat.h"
#include "log.h"
#include "proto.h"
#include "supervisor.h"

static void	sup_handle_net_hello(struct sup *);
static void	sup_handle_exec_hello(struct sup *);
static void	sup_check_ready(struct sup *);
static void	sup_stop_worker(struct sup *, int);
static int	sup_prepare_keys(struct sup *);
static int	sup_load_ca(struct sup *);
static int	sup_prepare(struct sup *);
static int	sup_check_privsep_dir(const char *);

extern char	**environ;

/* Where a CA bundle lives on the systems we run on, in order. */
static const char *const sup_ca_paths[] = {
	"/etc/ssl/certs/ca-certificates.crt",	/* Debian */
	"/etc/ssl/certs/ca-bundle.crt",		/* NixOS */
	"/etc/pki/tls/certs/ca-bundle.crt",	/* Fedora */
	"/etc/ssl/cert.pem",			/* macOS */
};

static void
sup_signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct sup	*s = w->data;

	switch (w->signum) {
	case SIGTERM:
	case SIGINT:
		log_info("received %s, shutting down", strsignal(w->signum));
		sup_shutdown(s, 0);
		break;
	case SIGHUP:
		sup_reload(s);
		break;
	}
}

static void
sup_stop_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sup	*s = w->data;

	log_warnx("workers did not stop in time, killing them");
	worker_stop_all(s, SIGKILL);
}

static void
sup_watchdog_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sup	*s = w->data;
	int		 i, alive = 1;

	/* Feed systemd only while both workers answer. */
	for (i = 0; i < W_COUNT; i++) {
		if (!s->w[i].ready || s->w[i].ping_seen != s->w[i].ping_sent)
			alive = 0;
	}
	if (alive && s->notified_ready)
		notify_send("WATCHDOG=1");
	for (i = 0; i < W_COUNT; i++) {
		if (!s->w[i].ready)
			continue;
		s->w[i].ping_sent++;
		ipcev_compose(&s->w[i].iev, i == W_NET ? IPC_SN_PING :
		    IPC_SE_PING, s->w[i].ping_sent, -1, NULL, 0);
	}
}

/*
 * Everything between the configuration and the first worker: the CA
 * bundle, the dashboard endpoint, the net-worker's user and empty root.
 */
static int
sup_prepare(struct sup *s)
{
	const char	*why;
	const char	*u = s->cfg.dialect == DIALECT_NIXFLEET ?
			    s->cfg.url : s->cfg.server_url;
	struct url	 proxy;

	if (u == NULL || url_parse(u, &s->dash, &why) == -1) {
		log_error("dashboard URL: %s", u ? why : "missing");
		return -1;
	}
	strlcpy(s->dash_url, u, sizeof(s->dash_url));
	s->proxy_auth[0] = '\0';
	switch (connect_proxy_for(&s->dash, environ, &proxy, &why)) {
	case -1:
		log_error("proxy: %s", why);
		return -1;
	case 1:
		connect_proxy_auth(&proxy, s->proxy_auth,
		    sizeof(s->proxy_auth));
		log_info("connecting through proxy %s:%u", proxy.host,
		    proxy.port);
		break;
	}
	if (sup_load_ca(s) == -1 || sup_prepare_keys(s) == -1)
		return -1;
	if (s->cfg.skip_verify)
		log_warnx("TLS certificate verification is disabled by "
		    "configuration");
	if (s->root) {
		if (worker_net_identity(s) == -1 ||
		    sup_check_privsep_dir(s->cfg.privsep_dir) == -1)
			return -1;
	}
	return worker_find_paths(s);
}

static int
sup_read_file(const char *path, char **out, size_t *outlen, size_t max)
{
	struct stat	 st;
	char		*buf;
	ssize_t		 n;
	size_t		 off = 0;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (size_t)st.st_size > max) {
		close(fd);
		errno = EFBIG;
		return -1;
	}
	if ((buf = malloc(st.st_size + 1)) == NULL)
		fatal(NULL);
	while (off < (size_t)st.st_size) {
		n = read(fd, buf + off, st.st_size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += n;
	}
	close(fd);
	buf[off] = '\0';
	*out = buf;
	*outlen = off + 1;	/* mbedTLS wants the NUL counted for PEM */
	return 0;
}

/*
 * Load the CA bundle now, while we can read files: the net-worker gets
 * the bytes over its channel and never opens a file itself.
 */
static int
sup_load_ca(struct sup *s)
{
	const char	*env = getenv("SSL_CERT_FILE");
	const char	*path = NULL;
	size_t		 i;

	free(s->ca);
	s->ca = NULL;
	s->calen = 0;
	if (s->cfg.ca_file != NULL && *s->cfg.ca_file != '\0')
		path = s->cfg.ca_file;
	else if (env != NULL && *env != '\0')
		path = env;
	else {
		for (i = 0; i < nitems(sup_ca_paths); i++)
			if (access(sup_ca_paths[i], R_OK) == 0) {
				path = sup_ca_paths[i];
				break;
			}
	}
	if (path == NULL) {
		if (!s->dash.tls || s->cfg.skip_verify)
			return 0;
		log_error("no CA bundle found: set NIXFLEET_CA_FILE or "
		    "SSL_CERT_FILE");
		return -1;
	}
	if (sup_read_file(path, &s->ca, &s->calen, IPC_CA_MAX) == -1) {
		log_warn("CA bundle %s", path);
		return -1;
	}
	log_debug("CA bundle %s (%zu bytes)", path, s->calen);
	return 0;
}

/*
 * The key source of sync_keys (config.c checked the URL) and its own CA
 * bundle, if one is configured: read now, like the dashboard's.
 */
static int
sup_prepare_keys(struct sup *s)
{
	const char	*why;

	free(s->keys_ca);
	s->keys_ca = NULL;
	s->keys_calen = 0;
	memset(&s->keys, 0, sizeof(s->keys));
	if (s->cfg.keys_url == NULL || url_parse(s->cfg.keys_url, &s->keys,
	    &why) == -1) {
		log_error("admin.keysSourceUrl: %s", s->cfg.keys_url != NULL ?
		    why : "missing");
		return -1;
	}
	if (s->cfg.keys_ca_file == NULL || s->cfg.keys_ca_file[0] == '\0')
		return 0;
	if (sup_read_file(s->cfg.keys_ca_file, &s->keys_ca, &s->keys_calen,
	    IPC_KEYSRC_CA_MAX) == -1) {
		log_warn("admin.keysCaFile %s", s->cfg.keys_ca_file);
		return -1;
	}
	return 0;
}

/* After IPC_SN_CONFIG: where sync_keys fetches from, and its CA. */
static int
sup_send_keysrc_config(struct sup *s)
{
	struct ipc_keysrc_config	 kc;
	struct ipcev			*iev = &s->w[W_NET].iev;
	size_t				 off, n;

	memset(&kc, 0, sizeof(kc));
	if (s->cfg.keys_user != NULL && s->cfg.keys_user[0] != '\0')
		kc.flags |= IPC_KEYSRCF_ENABLED;
	kc.port = s->keys.port;
	kc.timeout_ms = IPC_KEYSRC_TIMEOUT_MS;
	kc.ca_size = (uint32_t)s->keys_calen;
	strlcpy(kc.host, s->keys.host, sizeof(kc.host));
	/* "/" alone is the root: the net-worker appends "/<user>.keys". */
	if (strcmp(s->keys.path, "/") != 0)
		strlcpy(kc.path, s->keys.path, sizeof(kc.path));
	n = strlen(kc.path);
	while (n > 0 && kc.path[n - 1] == '/')
		kc.path[--n] = '\0';
	if (ipcev_compose(iev, IPC_SN_KEYSRC_CONFIG, 0, -1, &kc,
	    sizeof(kc)) == -1)
		return -1;
	for (off = 0; off < s->keys_calen; off += n) {
		n = s->keys_calen - off;
		if (n > IPC_CA_CHUNK)
			n = IPC_CA_CHUNK;
		if (ipcev_compose(iev, IPC_SN_KEYSRC_CA, 0, -1,
		    s->keys_ca + off, n) == -1)
			return -1;
	}
	return 0;
}

/*
 * The net-worker's root: an empty directory that root owns and nobody
 * else can write, so there is nothing to read and nowhere to write.
 */
static int
sup_check_privsep_dir(const char *dir)
{
	struct stat	 st;
	struct dirent	*de;
	DIR		*d;
	char		 parent[4096], *p;

	if (stat(dir, &st) == -1 && errno == ENOENT) {
		strlcpy(parent, dir, sizeof(parent));
		for (p = parent + 1; *p != '\0'; p++) {
			if (*p != '/')
				continue;
			*p = '\0';
			if (mkdir(parent, 0755) == -1 && errno != EEXIST)
				break;
			*p = '/';
		}
		if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
			log_warn("mkdir %s", dir);
			return -1;
		}
	}
	if (stat(dir, &st) == -1) {
		log_warn("privsep dir %s", dir);
		return -1;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		log_error("bad privsep dir permissions: %s (must be a "
		    "directory owned by root, not group- or world-writable)",
		    dir);
		return -1;
	}
	if ((d = opendir(dir)) == NULL) {
		log_warn("privsep dir %s", dir);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0) {
			closedir(d);
			log_error("privsep dir %s is not empty", dir);
			return -1;
		}
	}
	closedir(d);
	return 0;
}

/* The socketio settings, after IPC_SN_CONFIG; never the key. */
static int
sup_send_sio_config(struct sup *s)
{
	struct ipc_sio_config	 sc;

	memset(&sc, 0, sizeof(sc));
	sc.stats_s = (uint32_t)s->cfg.stats_interval;
	sc.heartbeat_s = (uint32_t)s->cfg.heartbeat_interval;
	sc.pong_timeout_s = (uint32_t)s->cfg.pong_timeout;
	if (s->cfg.client_id != NULL)
		strlcpy(sc.client_id, s->cfg.client_id, sizeof(sc.client_id));
	if (s->cfg.transport_path != NULL)
		strlcpy(sc.transport_path, s->cfg.transport_path,
		    sizeof(sc.transport_path));
	return ipcev_compose(&s->w[W_NET].iev, IPC_SN_SIO_CONFIG, 0, -1, &sc,
	    sizeof(sc));
}

/* Configuration for the net-worker: only what it needs. */
static void
sup_handle_net_hello(struct sup *s)
{
	struct worker		*w = &s->w[W_NET];
	struct ipc_net_config	 nc;
	struct ipc_net_jobs	 nj;
	struct ipc_ca_begin	 cb;
	size_t			 off, n;
	int			 i;

	memset(&nc, 0, sizeof(nc));
	nc.dialect = s->cfg.dialect == DIALECT_SOCKETIO ?
	    IPC_DIALECT_SOCKETIO : IPC_DIALECT_NIXFLEET;
	if (s->cfg.skip_verify)
		nc.flags |= IPC_NETF_SKIP_VERIFY;
	if (s->cfg.allow_insecure_http)
		nc.flags |= IPC_NETF_ALLOW_HTTP;
	if (s->proxy_auth[0] != '\0')
		nc.flags |= IPC_NETF_PROXY_AUTH;
	nc.interval_s = s->cfg.dialect == DIALECT_SOCKETIO ?
	    (uint32_t)s->cfg.stats_interval : (uint32_t)s->cfg.interval;
	nc.ping_ms = s->cfg.ping_ms;
	nc.dead_ms = s->cfg.dead_ms;
	nc.handshake_ms = s->cfg.handshake_ms;
	nc.close_ms = 5000;
	nc.max_msg = s->cfg.max_message;
	nc.backoff_max_ms = s->cfg.dialect == DIALECT_SOCKETIO ? 30000 : 60000;
	nc.npins = s->cfg.npins;
	for (i = 0; i < s->cfg.npins && i < IPC_PINS_MAX; i++)
		memcpy(nc.pins[i], s->cfg.pins[i], 32);
	strlcpy(nc.url, s->dash_url, sizeof(nc.url));
	if (s->cfg.dialect == DIALECT_NIXFLEET && s->cfg.token != NULL)
		strlcpy(nc.token, s->cfg.token, sizeof(nc.token));
	strlcpy(nc.proxy_auth, s->proxy_auth, sizeof(nc.proxy_auth));
	if (s->cfg.repo_url != NULL)
		strlcpy(nc.repo_url, s->cfg.repo_url, sizeof(nc.repo_url));
	if (s->cfg.location != NULL)
		strlcpy(nc.location, s->cfg.location, sizeof(nc.location));
	if (s->cfg.device_type != NULL)
		strlcpy(nc.device_type, s->cfg.device_type,
		    sizeof(nc.device_type));
	if (s->cfg.theme_color != NULL)
		strlcpy(nc.theme_color, s->cfg.theme_color,
		    sizeof(nc.theme_color));

	if (ipcev_compose(&w->iev, IPC_SN_CONFIG, 0, -1, &nc,
	    sizeof(nc)) == -1)
		goto done;
	memset(&nj, 0, sizeof(nj));
	if (s->cfg.report_version != NULL)
		strlcpy(nj.report_version, s->cfg.report_version,
		    sizeof(nj.report_version));
	if (ipcev_compose(&w->iev, IPC_SN_JOBS_CONFIG, 0, -1, &nj,
	    sizeof(nj)) == -1)
		goto done;
	if (sup_send_keysrc_config(s) == -1)
		goto done;
	if (s->cfg.dialect == DIALECT_SOCKETIO && sup_send_sio_config(s) == -1)
		goto done;
	cb.size = s->calen;
	cb.pad = 0;
	if (ipcev_compose(&w->iev, IPC_SN_CA_BEGIN, 0, -1, &cb,
	    sizeof(cb)) == -1)
		goto done;
	for (off = 0; off < s->calen; off += n) {
		n = s->calen - off;
		if (n > IPC_CA_CHUNK)
			n = IPC_CA_CHUNK;
		if (ipcev_compose(&w->iev, IPC_SN_CA_CHUNK, 0, -1,
		    s->ca + off, n) == -1)
			goto done;
	}
	if (ipcev_compose(&w->iev, IPC_SN_CA_END, 0, -1, NULL, 0) == -1)
		goto done;
	permit_set(&s->net_permit, IPC_NS_CONNECT, PERMIT_ALLOW);
	permit_set(&s->net_permit, IPC_NS_STATE, PERMIT_ALLOW);
	permit_set(&s->net_permit, IPC_NS_PONG, PERMIT_ALLOW);
	if (s->cfg.dialect == DIALECT_SOCKETIO)
		permit_set(&s->net_permit, IPC_NS_SIGN, PERMIT_ALLOW);
	w->ready = 1;
	sup_check_ready(s);
 done:
	explicit_bzero(&nc, sizeof(nc));
}

/* nixfleet §4.2: what the exec-worker checks (or clones) at its start. */
static int
sup_send_repo(struct ipcev *iev, const struct config *cfg)
{
	struct ipc_exec_repo	 r;

	_Static_assert(IPC_REPO_URL_MAX == CONFIG_REPO_URL_MAX, "repo url");
	memset(&r, 0, sizeof(r));
	if (cfg->dialect == DIALECT_NIXFLEET && cfg->repo_dir != NULL)
		r.mode = cfg->isolated ? IPC_REPO_ISOLATED : IPC_REPO_LEGACY;
	if (cfg->isolated && cfg->repo_url != NULL)
		strlcpy(r.url, cfg->repo_url, sizeof(r.url));
	config_origin(cfg, "NIXFLEET_REPO_DIR", r.origin, sizeof(r.origin));
	return ipcev_compose(iev, IPC_SE_REPO_CONFIG, 0, -1, &r, sizeof(r));
}

static void
sup_handle_exec_hello(struct sup *s)
{
	struct worker		*w = &s->w[W_EXEC];
	struct ipc_exec_config	 ec;
	struct ipc_exec_jobs	 ej;
	char			 exe[IPC_PATH_MAX];
	ssize_t			 n;

	memset(&ec, 0, sizeof(ec));
	ec.interval_s = s->cfg.interval > 0 ? s->cfg.interval : 5;
#define COPY(f, v)	if ((v) != NULL) strlcpy(ec.f, (v), sizeof(ec.f))
	COPY(hostname, s->cfg.hostname);
	COPY(nixpkgs_version, s->cfg.nixpkgs_version);
	COPY(repo_dir, s->cfg.repo_dir);
	COPY(state_dir, s->cfg.state_dir);
	COPY(stasysmo_dir, s->cfg.stasysmo_dir);
	COPY(source_commit, SOURCE_COMMIT);
#undef COPY
	/* register.store_path describes the binary systemd starts: us. */
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) > 0) {
		exe[n] = '\0';
		strlcpy(ec.agent_exe, exe, sizeof(ec.agent_exe));
	}
	if (ipcev_compose(&w->iev, IPC_SE_CONFIG, 0, -1, &ec,
	    sizeof(ec)) == -1 || sup_send_admin(&w->iev, &s->cfg) == -1)
		return;
	memset(&ej, 0, sizeof(ej));
	ej.isolated = s->cfg.isolated != 0;
#define COPY(f, v)	if ((v) != NULL) strlcpy(ej.f, (v), sizeof(ej.f))
	COPY(branch, s->cfg.branch);
	COPY(ssh_key, s->cfg.ssh_key);
	COPY(user, s->cfg.repo_user);
#undef COPY
	if (ipcev_compose(&w->iev, IPC_SE_JOBS_CONFIG, 0, -1, &ej,
	    sizeof(ej)) == -1 || sup_send_repo(&w->iev, &s->cfg) == -1)
		return;
	permit_set(&s->exec_permit, IPC_ES_PONG, PERMIT_ALLOW);
	permit_set(&s->exec_permit, IPC_ES_EXIT, PERMIT_ONCE);
	w->ready = 1;
	sup_check_ready(s);
}

static void
sup_check_ready(struct sup *s)
{
	if (!s->w[W_NET].ready || !s->w[W_EXEC].ready)
		return;
	log_info("workers ready (net %d, exec %d)", (int)s->w[W_NET].pid,
	    (int)s->w[W_EXEC].pid);
	if (!s->notified_ready) {
		notify_send("READY=1\nSTATUS=workers running");
		s->notified_ready = 1;
	}
}

/*
 * The net-worker's state detail may quote the dashboard: it reaches
 * sd_notify escaped, never as it came.  A bad code or an unterminated
 * string is a broken peer.
 */
static int
sup_handle_net_state(struct sup *s, const struct ipc_net_state *st)
{
	const char	*text = st->detail;
	char		 buf[320];

	if (!ipc_str_valid(st->detail, sizeof(st->detail)))
		return -1;
	switch (st->state) {
	case IPC_NET_DISCONNECTED:
		snprintf(buf, sizeof(buf), "disconnected: %s", text);
		break;
	case IPC_NET_CONNECTED:
		snprintf(buf, sizeof(buf), "connected to %s", text);
		break;
	case IPC_NET_REGISTERED:
		snprintf(buf, sizeof(buf), "registered as %s", text);
		break;
	default:
		return -1;
	}
	notify_status(buf);	/* escapes and bounds */
	return 0;
}

/* A pong answers the ping outstanding or one in between, never ahead. */
static int
sup_handle_pong(struct worker *w, struct ipcmsg *m)
{
	uint32_t	 id = ipc_get_id(m);

	if (ipc_get_len(m) != 0 || id > w->ping_sent || id <= w->ping_seen)
		return -1;
	w->ping_seen = id;
	return 0;
}

/*
 * Every frame from the net-worker.  It is the process that parses the
 * network, so it is treated as hostile: any frame outside the permit
 * table, the exact sizes or the bounds of proto.h drops it, and it
 * restarts alone (the exec-worker keeps running).  Callable without a
 * running worker (the fuzzers do).
 */
void
sup_dispatch_net(struct ipcev *iev, struct ipcmsg *m)
{
	struct sup		*s = iev->data;
	struct ipc_connect	 c;
	struct ipc_net_state	 st;
	uint32_t		 type;

	if (m == NULL) {	/* dropped or died: restart it */
		sup_worker_lost(s, W_NET, "net-worker channel closed");
		return;
	}
	type = ipc_get_type(m);
	if (type == IPC_HELLO) {
		sup_handle_net_hello(s);
		return;
	}
	/* Only a PONG's id means something; the others carry 0. */
	if (!permit_check(&s->net_permit, type) ||
	    (type != IPC_NS_PONG && type != IPC_NS_SIGN &&
	    ipc_get_id(m) != 0))
		goto bad;
	switch (type) {
	case IPC_NS_CONNECT:
		if (ipc_get_data(m, &c, sizeof(c)) == -1 ||
		    c.endpoint == 0 || c.endpoint > IPC_EP_MAX ||
		    c.timeout_ms > IPC_CONNECT_TIMEOUT_MAX_MS)
			goto bad;
		if (connect_admit(s) == -1) {
			ipcev_drop(iev, "connect requests faster than one per "
			    "%d ms", IPC_CONNECT_FLOOR_MS);
			return;
		}
		connect_request(s, c.endpoint, c.timeout_ms);
		break;
	case IPC_NS_STATE:
		if (ipc_get_data(m, &st, sizeof(st)) == -1 ||
		    sup_handle_net_state(s, &st) == -1)
			goto bad;
		break;
	case IPC_NS_PONG:
		if (sup_handle_pong(&s->w[W_NET], m) == -1)
			goto bad;
		break;
	case IPC_NS_SIGN:
		if (ipc_get_len(m) != 0)
			goto bad;
		if (signreq_admit(s) == -1) {
			ipcev_drop(iev, "sign requests faster than one per "
			    "%d ms", IPC_CONNECT_FLOOR_MS);
			return;
		}
		signreq_answer(s, ipc_get_id(m));
		break;
	default:
		goto bad;
	}
	return;
 bad:
	ipcev_drop(iev, "%s: %s (len %zu, id %u) from %s", __func__,
	    ipc_type_name(type), ipc_get_len(m), ipc_get_id(m), iev->name);
}

void
sup_dispatch_exec(struct ipcev *iev, struct ipcmsg *m)
{
	struct sup	*s = iev->data;
	struct ipc_exit	 x;
	uint32_t	 type;

	if (m == NULL) {
		sup_worker_lost(s, W_EXEC, "exec-worker channel closed");
		return;
	}
	type = ipc_get_type(m);
	if (type == IPC_HELLO) {
		sup_handle_exec_hello(s);
		return;
	}
	if (!permit_check(&s->exec_permit, type))
		goto bad;
	switch (type) {
	case IPC_ES_PONG:
		if (sup_handle_pong(&s->w[W_EXEC], m) == -1)
			goto bad;
		break;
	case IPC_ES_EXIT:
		/*
		 * After a restart or a switch's status (nixfleet §6.4), or
		 * 1 when the repository failed at startup (§4.2).
		 */
		if (ipc_get_data(m, &x, sizeof(x)) == -1 || x.pad != 0 ||
		    (x.code != 0 && x.code != 101 && x.code != 1))
			goto bad;
		if (x.code == 1)
			log_error("exiting with 1: the repository is not "
			    "usable (see above)");
		else
			log_info("exiting with %u as the job asked", x.code);
		sup_shutdown(s, x.code);
		break;
	default:
		goto bad;
	}
	return;
 bad:
	ipcev_drop(iev, "%s: %s (len %zu, id %u) from %s", __func__,
	    ipc_type_name(type), ipc_get_len(m), ipc_get_id(m), iev->name);
}

/* A fresh channel and a clean permit table for every worker generation. */
void
sup_channel_init(struct sup *s, int i, int fd)
{
	struct worker	*w = &s->w[i];

	if (i == W_NET) {
		permit_init(&s->net_permit, IPC_NS);
		ipcev_init(&w->iev, s->loop, fd, IPC_MAX_SN, "net-worker",
		    sup_dispatch_net, s);
		ipcev_expect_role(&w->iev, IPC_ROLE_NET);
		connect_limit_reset(s);
		signreq_reset(s);
		/* The whole CA bundle is queued at once, right after HELLO. */
		ipcbuf_set_highwater(w->iev.buf, IPC_CA_MAX + IPC_MAX_SN * 4);
	} else {
		permit_init(&s->exec_permit, IPC_ES);
		ipcev_init(&w->iev, s->loop, fd, IPC_MAX_SE, "exec-worker",
		    sup_dispatch_exec, s);
		ipcev_expect_role(&w->iev, IPC_ROLE_EXEC);
	}
	/*
	 * Descriptors go only towards a worker (IPC_SN_CONNECTED, and the
	 * PEER frames): one it sends us is closed and drops it.
	 */
	ipcbuf_allow_fdsend(w->iev.buf);
	ipcev_hello(&w->iev, IPC_ROLE_SUP);
}

void
sup_channels_init(struct sup *s, int netfd, int execfd)
{
	sup_channel_init(s, W_NET, netfd);
	sup_channel_init(s, W_EXEC, execfd);
}

/*
 * A worker died or broke the protocol.  Restart it alone: the other one
 * keeps running (the net-worker its session, the exec-worker its jobs)
 * and gets a channel to the new one.  Stopping, the exec-worker goes
 * once the net-worker is gone.
 */
void
sup_worker_lost(struct sup *s, int i, const char *why)
{
	if (i == W_NET)
		connect_cancel(s);
	if (s->stopping) {
		if (s->w[W_NET].pid <= 0)
			sup_stop_worker(s, W_EXEC);
		if (!worker_running(s))
			ev_break(s->loop, EVBREAK_ALL);
		return;
	}
	worker_schedule_restart(s, i, why);
}

static void
sup_stop_worker(struct sup *s, int i)
{
	struct worker	*w = &s->w[i];

	if (w->pid <= 0 || w->told_stop)
		return;
	w->told_stop = 1;
	if (w->ready && ipcev_active(&w->iev))
		ipcev_compose(&w->iev, i == W_NET ? IPC_SN_SHUTDOWN :
		    IPC_SE_SHUTDOWN, 0, -1, NULL, 0);
	else
		kill(w->pid, SIGTERM);
}

void
sup_shutdown(struct sup *s, int status)
{
	if (s->stopping)
		return;
	s->stopping = 1;
	s->exit_status = status;
	notify_send("STOPPING=1");
	connect_cancel(s);
	worker_stop_timers(s);
	ev_timer_stop(s->loop, &s->watchdog);
	if (!worker_running(s)) {
		ev_break(s->loop, EVBREAK_ALL);
		return;
	}
	/*
	 * The net-worker first: it closes the session with 1000 "shutdown".
	 * The exec-worker follows when the net-worker is gone.
	 */
	sup_stop_worker(s, W_NET);
	if (s->w[W_NET].pid <= 0)
		sup_stop_worker(s, W_EXEC);
	ev_timer_set(&s->stop_timer, SUP_STOP_GRACE_MS / 1000.0, 0);
	ev_timer_start(s->loop, &s->stop_timer);
}

/*
 * Load the configuration, sending each problem and warning through the
 * logger, so they reach the journal and the log file, not only stderr.
 */
static int
sup_load_config(struct sup *s, struct config *cfg)
{
	char	*buf = NULL, *line, *save;
	size_t	 len = 0;
	FILE	*err;
	int	 n;

	memset(cfg, 0, sizeof(*cfg));
	if ((err = open_memstream(&buf, &len)) == NULL)
		fatal("open_memstream");
	n = config_load(cfg, &s->args, environ, err);
	fclose(err);
	if (cfg->log_file != NULL && log_set_file(cfg->log_file) == -1)
		log_warn("log file %s", cfg->log_file);
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "config: ", 8) == 0)
			log_warnx("%s", line);
		else
			log_error("%s", line);
	}
	free(buf);
	return n;
}

/* SIGHUP: a new configuration, then a new pair of workers to carry it. */
void
sup_reload(struct sup *s)
{
	struct config	 old = s->cfg;
	int		 n;

	log_info("SIGHUP: reloading configuration");
	if ((n = sup_load_config(s, &s->cfg)) > 0) {
		log_error("configuration reload failed (%d problem%s); "
		    "keeping the running configuration", n, n == 1 ? "" : "s");
		config_free(&s->cfg);
		s->cfg = old;
		return;
	}
	if (sup_prepare(s) == -1) {
		log_error("configuration reload failed; keeping the running "
		    "configuration");
		config_free(&s->cfg);
		s->cfg = old;
		sup_prepare(s);
		return;
	}
	config_free(&old);
	log_setlevel(s->cfg.log_level);
	/* With no worker running, the pending restarts use the new one. */
	s->reload = worker_running(s);
	connect_cancel(s);
	worker_stop_all(s, SIGTERM);
}

int
sup_main(int argc, char **argv)
{
	static struct sup	 sup;
	struct sup		*s = &sup;
	uint64_t		 wd;
	int			 n;

	log_init(LOG_LVL_INFO, 0);
	if (config_parse_args(&s->args, argc, argv, stderr) == -1)
		return 1;
	switch (s->args.action) {
	case ACTION_VERSION:
		printf("nixfleet-agent %s\n", AGENT_VERSION);
		return 0;
	case ACTION_HELP:
		config_usage(stdout);
		return 0;
	}
	if ((n = sup_load_config(s, &s->cfg)) > 0) {
		log_error("%d configuration problem%s, not starting", n,
		    n == 1 ? "" : "s");
		return CONFIG_EX_CONFIG;
	}
	log_setlevel(s->cfg.log_level);
	if (s->args.action == ACTION_PRINT) {
		config_print(&s->cfg, stdout);
		worker_print_sandbox(s, stdout);
		return 0;
	}
	s->root = geteuid() == 0;
	if (s->args.action == ACTION_CHECK) {
		struct url	 u;
		const char	*why;

		if (url_parse(s->cfg.dialect == DIALECT_NIXFLEET ?
		    s->cfg.url : s->cfg.server_url, &s->dash, &why) == -1 ||
		    sup_load_ca(s) == -1)
			return CONFIG_EX_CONFIG;
		(void)u;
		return check_endpoint(&s->cfg, s->ca, s->calen) == 0 ? 0 : 1;
	}

	log_info("nixfleet-agent %s starting (pid %d, %s dialect)",
	    AGENT_VERSION, (int)getpid(),
	    s->cfg.dialect == DIALECT_SOCKETIO ? "socketio" : "nixfleet");
	if (!s->root)
		log_info("running as uid %d, not root: the net-worker keeps "
		    "this user and is not chrooted", (int)getuid());
	if (sup_prepare(s) == -1)
		return 1;

	s->loop = ev_default_loop(EVFLAG_AUTO);
	signal(SIGPIPE, SIG_IGN);
	ev_signal_init(&s->sigterm, sup_signal_cb, SIGTERM);
	ev_signal_init(&s->sigint, sup_signal_cb, SIGINT);
	ev_signal_init(&s->sighup, sup_signal_cb, SIGHUP);
	s->sigterm.data = s->sigint.data = s->sighup.data = s;
	ev_signal_start(s->loop, &s->sigterm);
	ev_signal_start(s->loop, &s->sigint);
	ev_signal_start(s->loop, &s->sighup);
	ev_timer_init(&s->stop_timer, sup_stop_timer_cb, 0, 0);
	s->stop_timer.data = s;
	if ((wd = notify_watchdog_usec()) > 0) {
		ev_timer_init(&s->watchdog, sup_watchdog_cb, 0,
		    wd / 2 / 1e6);
		s->watchdog.data = s;
		ev_timer_again(s->loop, &s->watchdog);
	}
	worker_init(s);
	if (worker_start_all(s) == -1)
		fatalx("cannot start the workers");
	ev_run(s->loop, 0);

	log_info("stopped");
	config_free(&s->cfg);
	free(s->ca);
	return s->exit_status;
}

/* Too many restarts: let the service manager take over. */
void
sup_give_up(struct sup *s, const char *why)
{
	log_error("%s; giving up", why);
	if (worker_running(s)) {
		sup_shutdown(s, 1);
		return;
	}
	s->stopping = 1;
	s->exit_status = 1;
	ev_break(s->loop, EVBREAK_ALL);
}
