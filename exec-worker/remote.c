/*
 * remote.c: the exec-worker's side of remote administration: the
 * supervisor's policy (IPC_SE_ADMIN_*), the dispatch of the net-worker's
 * requests, admin_run on the event loop (admin_spawn and io watchers,
 * never blocking) with the shared slots of §6.1, and key installs.
 * Shells are in pty.c, backups in backup.c.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "compat.h"
#include "keys.h"
#include "log.h"
#include "remote.h"

/* One admin_run, from its arrival to its answer. */
struct arun {
	TAILQ_ENTRY(arun)	 entry;
	struct remote		*r;
	uint32_t		 id;
	uint32_t		 epoch;		/* of the net-worker that asked */
	uint64_t		 t0_ms;		/* arrival: timeout from here */
	int			 timeout_s;
	struct admin_decision	 d;
	struct admin_proc	 p;
	int			 started, timed_out, reaped, status;
	ev_io			 out_w, err_w, in_w;
	ev_child		 child_w;
	ev_timer		 deadline;
};

static void	remote_run_next(struct remote *);

/* ---------------------------------------------------------------- */
/* Configuration from the supervisor */

const char *const *
remote_strv(struct remote *r, int list, size_t *n)
{
	*n = r->lists[list].n;
	return (const char *const *)r->lists[list].v;
}

static void
remote_list_add(struct remote *r, const struct ipc_admin_item *it)
{
	struct remote_list	*l = &r->lists[it->list];
	char			**v;

	if (l->n >= IPC_ADMIN_ITEMS_MAX)
		fatalx("%s: too many entries", __func__);
	if ((v = reallocarray(l->v, l->n + 2, sizeof(*v))) == NULL ||
	    (v[l->n] = strdup(it->value)) == NULL)
		fatal(NULL);
	v[++l->n] = NULL;
	l->v = v;
}

static void
remote_configure(struct remote *r)
{
	struct remote_list	*l = &r->lists[IPC_AL_COMMAND];
	const char		*why;
	size_t			 i;

	r->pol.require_token = (r->cfg.flags & IPC_ADMINF_REQ_TOKEN) != 0;
	r->pol.command_token = r->cfg.token;
	for (i = 0; i < l->n; i++)
		if (admin_allow_add(&r->pol.allow, l->v[i], &why) == -1)
			log_warnx("admin.allowedCommands: \"%s\" skipped: %s",
			    l->v[i], why);
	if (r->pol.allow.n == 0)
		log_warnx("%s", ADMIN_WARN_EMPTY);
	r->pol.cwds = remote_strv(r, IPC_AL_CWD, &r->pol.ncwds);
	admin_rate_init(&r->pol.rate, (int)r->cfg.rate_max,
	    (int)r->cfg.rate_window_s, admin_now_ms());
	r->ready = 1;
	log_debug("remote administration: %zu commands, shells %s, "
	    "%u slots", r->pol.allow.n,
	    (r->cfg.flags & IPC_ADMINF_SHELL) ? "on" : "off",
	    r->cfg.max_concurrent);
}

void
remote_dispatch_sup(struct remote *r, struct permit *pm, struct ipcmsg *m)
{
	struct ipc_admin_item	 it;

	switch (ipc_get_type(m)) {
	case IPC_SE_ADMIN_CONFIG:
		if (ipc_get_data(m, &r->cfg, sizeof(r->cfg)) == -1 ||
		    !ipc_str_valid(r->cfg.shell, sizeof(r->cfg.shell)) ||
		    !ipc_str_valid(r->cfg.token, sizeof(r->cfg.token)) ||
		    !ipc_str_valid(r->cfg.keys_user,
		    sizeof(r->cfg.keys_user)) ||
		    !ipc_str_valid(r->cfg.shell_user,
		    sizeof(r->cfg.shell_user)))
			fatalx("%s: bad admin configuration", __func__);
		if (r->cfg.max_concurrent == 0 || r->cfg.max_concurrent > 64)
			r->cfg.max_concurrent = 1;
		if (r->cfg.default_timeout_s == 0)
			r->cfg.default_timeout_s = ADMIN_TIMEOUT_DEFAULT;
		r->have_config = 1;
		permit_set(pm, IPC_SE_ADMIN_ITEM, PERMIT_ALLOW);
		permit_set(pm, IPC_SE_ADMIN_END, PERMIT_ONCE);
		permit_set(pm, IPC_SE_BACKUP_CONFIG, PERMIT_ONCE);
		break;
	case IPC_SE_BACKUP_CONFIG:
		if (ipc_get_data(m, &r->bkcfg, sizeof(r->bkcfg)) == -1 ||
		    !ipc_str_valid(r->bkcfg.identity,
		    sizeof(r->bkcfg.identity)) ||
		    !ipc_str_valid(r->bkcfg.known_hosts,
		    sizeof(r->bkcfg.known_hosts)))
			fatalx("%s: bad backup configuration", __func__);
		if (r->bkcfg.flags & IPC_BKCF_SKIP_HOSTKEY)
			log_warnx("backup.sshSkipHostKeyCheck is set: remote "
			    "backups accept any ssh host key (insecure)");
		break;
	case IPC_SE_ADMIN_ITEM:
		if (ipc_get_data(m, &it, sizeof(it)) == -1 ||
		    it.list < 1 || it.list > IPC_AL_MAX ||
		    !ipc_str_valid(it.value, sizeof(it.value)))
			fatalx("%s: bad admin item", __func__);
		remote_list_add(r, &it);
		break;
	case IPC_SE_ADMIN_END:
		if (ipc_get_len(m) != 0)
			fatalx("%s: bad admin end", __func__);
		permit_set(pm, IPC_SE_ADMIN_ITEM, PERMIT_DENY);
		permit_set(pm, IPC_SE_BACKUP_CONFIG, PERMIT_DENY);
		remote_configure(r);
		break;
	}
}

/* However the worker exits, its shells and commands go with it. */
static struct remote	*remote_atexit_r;

static void
remote_atexit(void)
{
	if (remote_atexit_r != NULL && getpid() == remote_atexit_r->pid)
		remote_stop(remote_atexit_r);
}

void
remote_init(struct remote *r, struct ev_loop *loop, struct ipcev *net,
    struct permit *sup_permit)
{
	r->loop = loop;
	r->net = net;
	TAILQ_INIT(&r->waiting);
	TAILQ_INIT(&r->running);
	LIST_INIT(&r->shells);
	LIST_INIT(&r->backups);
	r->pid = getpid();
	permit_set(sup_permit, IPC_SE_ADMIN_CONFIG, PERMIT_ONCE);
	if (remote_atexit_r == NULL)
		atexit(remote_atexit);
	remote_atexit_r = r;
}

void
remote_net_hello(struct remote *r, struct permit *pm)
{
	static const uint32_t	 types[] = { IPC_NE_ADMIN_RUN,
	    IPC_NE_SHELL_START, IPC_NE_SHELL_INPUT, IPC_NE_SHELL_RESIZE,
	    IPC_NE_SHELL_CLOSE, IPC_NE_KEYS_INSTALL, IPC_NE_BACKUP_PLAN,
	    IPC_NE_BACKUP_START, IPC_NE_SESSION_END };
	size_t			 i;

	for (i = 0; i < nitems(types); i++)
		permit_set(pm, types[i], PERMIT_ALLOW);
}

/* ---------------------------------------------------------------- */
/* Slots (§6.1 Concurrency): admin_run, cron applies and live shells */

int
remote_slot_take(struct remote *r)
{
	if (r->slots >= (int)r->cfg.max_concurrent)
		return -1;
	r->slots++;
	return 0;
}

void
remote_slot_free(struct remote *r)
{
	if (r->slots > 0)
		r->slots--;
	remote_run_next(r);
}

/* ---------------------------------------------------------------- */
/* admin_run */

static void
remote_send_result(struct remote *r, uint32_t id, int code,
    uint64_t duration_ms, const char *error, const char *signal,
    const char *out, size_t out_len, const char *err, size_t err_len,
    int truncated)
{
	struct ipc_admin_result	 res;
	struct iovec		 iov[3];
	size_t			 on, en;

	memset(&res, 0, sizeof(res));
	if (admin_fit(out, out_len, err, err_len, 0, IPC_ADMIN_OUT_MAX,
	    &on, &en))
		truncated = 1;
	res.code = code;
	res.duration_ms = duration_ms > UINT32_MAX ? UINT32_MAX :
	    (uint32_t)duration_ms;
	res.flags = truncated ? IPC_ADMRF_TRUNCATED : 0;
	res.stdout_len = on;
	res.stderr_len = en;
	strlcpy(res.error, error != NULL ? error : "", sizeof(res.error));
	strlcpy(res.signal, signal != NULL ? signal : "", sizeof(res.signal));
	iov[0].iov_base = &res;
	iov[0].iov_len = sizeof(res);
	iov[1].iov_base = (void *)out;
	iov[1].iov_len = on;
	iov[2].iov_base = (void *)err;
	iov[2].iov_len = en;
	if (r->pending > 0)
		r->pending--;
	if (ipcev_active(r->net))
		ipcev_composev(r->net, IPC_EN_ADMIN_RESULT, id, -1, iov, 3);
}

static void
remote_run_free(struct arun *a)
{
	struct remote	*r = a->r;

	ev_timer_stop(r->loop, &a->deadline);
	ev_io_stop(r->loop, &a->out_w);
	ev_io_stop(r->loop, &a->err_w);
	ev_io_stop(r->loop, &a->in_w);
	ev_child_stop(r->loop, &a->child_w);
	admin_decision_free(&a->d);
	free(a);
}

/* Reaped and both pipes at EOF: the answer (steps 12-14). */
static void
remote_run_maybe_done(struct arun *a)
{
	struct remote		*r = a->r;
	struct admin_result	 res;

	if (!a->reaped || a->p.out_fd != -1 || a->p.err_fd != -1)
		return;
	if (a->p.in_fd != -1) {
		close(a->p.in_fd);
		a->p.in_fd = -1;
	}
	admin_proc_result(&a->p, a->status, a->timed_out, a->timeout_s, &res);
	if (a->epoch == r->epoch)
		remote_send_result(r, a->id, res.code, res.duration_ms,
		    res.error, res.signal, res.out, res.out_len, res.err,
		    res.err_len, res.truncated);
	log_info("admin_run %u: code %d in %llu ms", a->id, res.code,
	    (unsigned long long)res.duration_ms);
	admin_result_free(&res);
	TAILQ_REMOVE(&r->running, a, entry);
	remote_run_free(a);
	remote_slot_free(r);
}

static void
remote_run_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct arun	*a = w->data;

	if (w == &a->in_w) {
		if (admin_proc_write(&a->p) <= 0)
			ev_io_stop(loop, w);
		return;
	}
	if (admin_proc_read(&a->p, w->fd) <= 0) {
		ev_io_stop(loop, w);
		remote_run_maybe_done(a);
	}
}

static void
remote_run_child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct arun	*a = w->data;

	ev_child_stop(loop, w);
	ev_timer_stop(loop, &a->deadline);
	a->reaped = 1;
	a->status = w->rstatus;
	/* A grandchild may hold the pipes: what is there now is all. */
	if (a->p.out_fd != -1)
		while (admin_proc_read(&a->p, a->p.out_fd) > 0)
			;
	if (a->p.err_fd != -1)
		while (admin_proc_read(&a->p, a->p.err_fd) > 0)
			;
	ev_io_stop(loop, &a->out_w);
	ev_io_stop(loop, &a->err_w);
	if (a->p.out_fd != -1) {
		close(a->p.out_fd);
		a->p.out_fd = -1;
	}
	if (a->p.err_fd != -1) {
		close(a->p.err_fd);
		a->p.err_fd = -1;
	}
	remote_run_maybe_done(a);
}

static void
remote_run_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct arun	*a = w->data;
	struct remote	*r = a->r;

	if (!a->started) {
		/* Step 10: still waiting for a slot. */
		TAILQ_REMOVE(&r->waiting, a, entry);
		if (a->epoch == r->epoch)
			remote_send_result(r, a->id, 1, 0,
			    "timed out waiting for a free slot", NULL, "", 0,
			    "", 0, 0);
		remote_run_free(a);
		return;
	}
	a->timed_out = 1;
	if (a->p.pid > 0)
		(void)kill(-a->p.pid, SIGKILL);
}

/* Steps 11 on: spawn, then watch; the deadline counts from arrival. */
static void
remote_run_start(struct remote *r, struct arun *a)
{
	struct admin_spawn	 sp;
	char			 err[ADMIN_ERROR_MAX];
	int			 e;

	a->started = 1;
	memset(&sp, 0, sizeof(sp));
	sp.argv = a->d.argv.argv;
	sp.cwd = a->d.cwd;
	sp.stdin_data = a->d.stdin_data;
	sp.stdin_len = a->d.stdin_len;
	if (a->d.cron_write && sp.stdin_data == NULL)
		sp.stdin_data = "";
	if (admin_spawn(&sp, &a->p, &e) == -1) {
		snprintf(err, sizeof(err), "exec: \"%s\": %s", sp.argv[0],
		    strerror(e));
		if (a->epoch == r->epoch)
			remote_send_result(r, a->id, 1, 0, err, NULL, "", 0,
			    "", 0, 0);
		ev_timer_stop(r->loop, &a->deadline);
		remote_run_free(a);
		remote_slot_free(r);
		return;
	}
	TAILQ_INSERT_TAIL(&r->running, a, entry);
	ev_child_init(&a->child_w, remote_run_child_cb, a->p.pid, 0);
	ev_child_start(r->loop, &a->child_w);
	ev_io_init(&a->out_w, remote_run_io_cb, a->p.out_fd, EV_READ);
	ev_io_init(&a->err_w, remote_run_io_cb, a->p.err_fd, EV_READ);
	ev_io_start(r->loop, &a->out_w);
	ev_io_start(r->loop, &a->err_w);
	if (a->p.in_fd != -1) {
		ev_io_init(&a->in_w, remote_run_io_cb, a->p.in_fd, EV_WRITE);
		ev_io_start(r->loop, &a->in_w);
	}
}

static void
remote_run_next(struct remote *r)
{
	struct arun	*a;

	while ((a = TAILQ_FIRST(&r->waiting)) != NULL &&
	    remote_slot_take(r) == 0) {
		TAILQ_REMOVE(&r->waiting, a, entry);
		remote_run_start(r, a);
	}
}

static int
remote_admin_run(struct remote *r, uint32_t id, const void *data, size_t len)
{
	struct ipc_admin_run	 h;
	struct admin_request	 rq;
	struct arun		*a;
	const char		*tail = (const char *)data + sizeof(h);
	char			*token = NULL, *cwd = NULL;
	char			 prev[ADMIN_PREVIEW_MAX];
	uint64_t		 t0 = admin_now_ms(), left_ms;

	if (len < sizeof(h))
		return -1;
	memcpy(&h, data, sizeof(h));
	if (h.token_len > IPC_TOKEN_MAX || h.cwd_len > IPC_PATH_MAX ||
	    h.command_len > len || (h.flags & ~(IPC_ARF_TOKEN | IPC_ARF_CWD)) ||
	    (uint64_t)h.token_len + h.command_len + h.cwd_len !=
	    len - sizeof(h) ||
	    memchr(tail, '\0', h.token_len) != NULL ||
	    memchr(tail + h.token_len + h.command_len, '\0', h.cwd_len) != NULL)
		return -1;
	if ((a = calloc(1, sizeof(*a))) == NULL ||
	    (token = strndup(tail, h.token_len)) == NULL ||
	    (cwd = strndup(tail + h.token_len + h.command_len,
	    h.cwd_len)) == NULL)
		fatal(NULL);
	a->r = r;
	a->id = id;
	a->epoch = r->epoch;
	a->t0_ms = t0;
	a->timeout_s = h.timeout_s > 0 ? (int)h.timeout_s :
	    (int)r->cfg.default_timeout_s;
	if (a->timeout_s > 604800)
		a->timeout_s = 604800;
	a->p.pid = -1;
	a->p.out_fd = a->p.err_fd = a->p.in_fd = -1;
	rq.token = (h.flags & IPC_ARF_TOKEN) ? token : NULL;
	rq.command = tail + h.token_len;
	rq.command_len = h.command_len;
	rq.cwd = (h.flags & IPC_ARF_CWD) ? cwd : NULL;
	admin_log_preview(rq.command, rq.command_len, prev);
	r->pending++;
	if (!r->ready) {
		/* No policy from the supervisor: an empty allowlist's. */
		remote_send_result(r, id, 126, 0, "command not allowed", NULL,
		    "", 0, "command blocked by allowlist",
		    strlen("command blocked by allowlist"), 0);
		goto done_free;
	}
	if (admin_decide(&r->pol, &rq, t0, &a->d) == -1)
		fatal(NULL);
	if (!a->d.allow) {
		log_info("admin_run %u refused (%d %s): %s", id, a->d.code,
		    a->d.error, prev);
		remote_send_result(r, id, a->d.code, 0, a->d.error, NULL, "", 0,
		    a->d.stderr_text != NULL ? a->d.stderr_text : "",
		    a->d.stderr_text != NULL ? strlen(a->d.stderr_text) : 0, 0);
		goto done_free;
	}
	log_info("admin_run %u: %s (timeout %ds)", id, prev, a->timeout_s);
	left_ms = (uint64_t)a->timeout_s * 1000;
	ev_timer_init(&a->deadline, remote_run_deadline_cb, left_ms / 1000.0,
	    0);
	a->deadline.data = a;
	a->out_w.data = a->err_w.data = a->in_w.data = a->child_w.data = a;
	ev_timer_start(r->loop, &a->deadline);
	TAILQ_INSERT_TAIL(&r->waiting, a, entry);
	remote_run_next(r);
	free(token);
	free(cwd);
	return 0;
 done_free:
	admin_decision_free(&a->d);
	free(a);
	free(token);
	free(cwd);
	return 0;
}

/* ---------------------------------------------------------------- */
/* Key install (§6.3 steps 3-6; the net-worker fetched the body) */

static void
remote_keys_reply(struct remote *r, uint32_t id, int ok, int added,
    uint64_t ms, const char *error)
{
	struct ipc_keys_result	 k;

	memset(&k, 0, sizeof(k));
	k.ok = ok;
	k.added = added > 0 ? (uint32_t)added : 0;
	k.ms = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
	strlcpy(k.error, error != NULL ? error : "", sizeof(k.error));
	if (ipcev_active(r->net))
		ipcev_compose(r->net, IPC_EN_KEYS_RESULT, id, -1, &k,
		    sizeof(k));
}

static int
remote_keys_install(struct remote *r, uint32_t id, const void *data,
    size_t len)
{
	struct ipc_keys_install	 h;
	struct keys_list	 list;
	struct passwd		*pw;
	uint64_t		 t0 = admin_now_ms();
	char			 err[KEYS_ERROR_MAX];
	int			 added = 0;

	if (len < sizeof(h))
		return -1;
	memcpy(&h, data, sizeof(h));
	if (h.body_len != len - sizeof(h) || h.body_len > IPC_KEYS_BODY_MAX)
		return -1;
	if (!r->ready || r->cfg.keys_user[0] == '\0') {
		remote_keys_reply(r, id, 0, 0, 0, "key sync disabled");
		return 0;
	}
	if ((pw = getpwnam(r->cfg.keys_user)) == NULL) {
		snprintf(err, sizeof(err), "unknown user \"%s\"",
		    r->cfg.keys_user);
		remote_keys_reply(r, id, 0, 0, 0, err);
		return 0;
	}
	if (keys_filter((const char *)data + sizeof(h), h.body_len,
	    &list) == -1)
		fatal(NULL);
	if (list.n == 0)
		remote_keys_reply(r, id, 0, 0, 0,
		    "no valid keys found for user");
	else if (keys_install(pw->pw_dir, pw->pw_uid, pw->pw_gid, &list,
	    &added, err, sizeof(err)) == -1)
		remote_keys_reply(r, id, 0, 0, 0, err);
	else {
		log_info("sync_keys: %d keys added for %s", added,
		    r->cfg.keys_user);
		remote_keys_reply(r, id, 1, added,
		    admin_now_ms() - t0 + h.fetch_ms, NULL);
	}
	keys_list_free(&list);
	return 0;
}

/* ---------------------------------------------------------------- */
/* Dispatch */

int
remote_session_valid(const char *s, size_t size)
{
	size_t	i;

	for (i = 0; i < size && s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return i < size && i > 0;
}

static int
remote_shell(struct remote *r, struct ipcmsg *m, uint32_t type)
{
	struct ipc_shell	 sh;
	size_t			 len = ipc_get_len(m);
	const char		*data = ipc_get_ptr(m);

	if (len < sizeof(sh) || ipc_get_id(m) != 0)
		return -1;
	memcpy(&sh, data, sizeof(sh));
	/* An empty session is §6.6's refusal, not a violation. */
	if (!ipc_str_valid(sh.session, sizeof(sh.session)) ||
	    (sh.session[0] != '\0' &&
	    !remote_session_valid(sh.session, sizeof(sh.session))))
		return -1;
	if (type == IPC_NE_SHELL_INPUT) {
		if (sh.len != len - sizeof(sh) || sh.len > IPC_SHELL_IN_MAX)
			return -1;
		return pty_input(r, &sh, data + sizeof(sh), sh.len);
	}
	if (len != sizeof(sh))
		return -1;
	switch (type) {
	case IPC_NE_SHELL_START:
		return pty_start(r, &sh);
	case IPC_NE_SHELL_RESIZE:
		return pty_resize(r, &sh);
	default:
		return pty_close(r, &sh);
	}
}

int
remote_dispatch_net(struct remote *r, struct ipcmsg *m)
{
	uint32_t	 type = ipc_get_type(m), id = ipc_get_id(m);
	const void	*data = ipc_get_ptr(m);
	size_t		 len = ipc_get_len(m);

	switch (type) {
	case IPC_NE_SHELL_START:
	case IPC_NE_SHELL_INPUT:
	case IPC_NE_SHELL_RESIZE:
	case IPC_NE_SHELL_CLOSE:
		return remote_shell(r, m, type);
	case IPC_NE_SESSION_END:
		if (len != 0 || id != 0)
			return -1;
		pty_hangup_all(r);
		return 0;
	}
	/* Requests with an answer: an id, and a bound on how many wait. */
	if (id == 0 || r->pending >= IPC_ADMIN_PENDING_MAX)
		return -1;
	switch (type) {
	case IPC_NE_ADMIN_RUN:
		return remote_admin_run(r, id, data, len);
	case IPC_NE_KEYS_INSTALL:
		return remote_keys_install(r, id, data, len);
	case IPC_NE_BACKUP_PLAN:
		return backup_plan_req(r, id, data, len);
	case IPC_NE_BACKUP_START:
		return backup_start_req(r, id, data, len);
	}
	return -1;
}

void
remote_peer_lost(struct remote *r)
{
	r->epoch++;
	r->pending = 0;
	pty_hangup_all(r);
}

void
remote_stop(struct remote *r)
{
	struct arun	*a;

	pty_stop_all(r);
	backup_stop_all(r);
	TAILQ_FOREACH(a, &r->running, entry)
		if (a->p.pid > 0)
			(void)kill(-a->p.pid, SIGKILL);
}
