/*
 * backup.c: backup_plan and backup_start (socketio-protocol.md §6.4,
 * §6.5).  The plan is walk.c's, kept in memory and persisted with
 * walk_store.c.  A local copy runs on the event loop in slices of a few
 * 32 KiB blocks, so shells and commands stay responsive while it runs.
 * A remote run is one rsync per source directory, its merged output read
 * on an io watcher for the progress lines.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "compat.h"
#include "log.h"
#include "remote.h"
#include "walk.h"

#define BK_BLOCK	(32 * 1024)
#define BK_SLICE	8		/* blocks per loop iteration */
#define BK_PLANS_MAX	64		/* plans kept in memory */

struct backup {
	LIST_ENTRY(backup)	 entry;
	struct remote		*r;
	struct walk_plan	 plan;
	int			 running;
	size_t			 idx;		/* file being copied */
	int			 src, dst;
	uint64_t		 transferred, files_completed;
	uint64_t		 t0_ms, last_emit_ms, last_state_ms;
	ev_timer		 step;
	/* rsync */
	int			 remote;
	size_t			 srcidx;	/* source directory running */
	pid_t			 pid;
	int			 out;		/* merged stdout and stderr */
	uint64_t		 done_bytes;	/* earlier runs' total */
	char			 line[1024];
	size_t			 linelen;
	char			 file[IPC_PATH_MAX];
	char			 diag[256];	/* ssh's or rsync's complaint */
	int			 reaped, status;
	ev_io			 out_w;
	ev_child		 child_w;
	ev_timer		 tick;		/* progress at least 1/s */
};

extern char	**environ;
static void	backup_rsync_next(struct backup *);

/*
 * Where compute-agent/backup-plans/ lives: the agent's state directory,
 * not §6.4's ${TMPDIR:-/tmp}, which the shipped unit makes private to
 * each start of the service (PrivateTmp=yes), so that a plan there
 * would not survive the restart it is persisted for.  ${TMPDIR:-/tmp}
 * only without a state directory.
 */
static const char *
backup_base(const struct remote *r)
{
	const char	*t = getenv("TMPDIR");

	if (r->state_dir[0] == '/')
		return r->state_dir;
	return t != NULL && t[0] != '\0' ? t : "/tmp";
}

int
backup_req_parse(const void *data, size_t len, struct walk_request *rq,
    uint32_t *flags)
{
	struct ipc_backup_req	 h;
	const char		*p = (const char *)data + sizeof(h), *end;
	char			**strs[4];
	size_t			 want, i;

	memset(rq, 0, sizeof(*rq));
	if (len < sizeof(h))
		return -1;
	memcpy(&h, data, sizeof(h));
	if (h.port > 65535 || h.nsrc > IPC_BACKUP_LIST_MAX ||
	    h.nglob > IPC_BACKUP_LIST_MAX || (h.flags & ~0x3fU))
		return -1;
	end = (const char *)data + len;
	want = 4 + h.nsrc + h.nglob;
	if ((rq->sources = calloc(h.nsrc + 1, sizeof(char *))) == NULL ||
	    (rq->globs = calloc(h.nglob + 1, sizeof(char *))) == NULL)
		fatal(NULL);
	strs[0] = &rq->plan_id;
	strs[1] = &rq->host;
	strs[2] = &rq->user;
	strs[3] = &rq->dest_root;
	for (i = 0; i < want; i++) {
		const char	*nul;
		char		*s;

		if (p >= end || (nul = memchr(p, '\0', end - p)) == NULL)
			goto bad;
		if ((s = strdup(p)) == NULL)
			fatal(NULL);
		if (i < 4)
			*strs[i] = s;
		else if (i < 4 + h.nsrc)
			rq->sources[rq->nsources++] = s;
		else
			rq->globs[rq->nglobs++] = s;
		p = nul + 1;
	}
	if (p != end || strlen(rq->plan_id) >= IPC_PLAN_ID_MAX)
		goto bad;
	rq->port = (int)h.port;
	*flags = h.flags;
	return 0;
 bad:
	walk_request_free(rq);
	return -1;
}

static void
backup_done(struct remote *r, uint32_t id, const char *plan_id, int ok,
    uint64_t ms, uint64_t transferred, const char *error)
{
	struct ipc_backup_done	 d;

	memset(&d, 0, sizeof(d));
	d.ok = ok;
	d.ms = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
	d.transferred = transferred;
	strlcpy(d.plan_id, plan_id, sizeof(d.plan_id));
	strlcpy(d.error, error != NULL ? error : "", sizeof(d.error));
	if (id != 0 && r->pending > 0)
		r->pending--;
	if (ipcev_active(r->net))
		ipcev_compose(r->net, IPC_EN_BACKUP_DONE, id, -1, &d,
		    sizeof(d));
}

static struct backup *
backup_find(struct remote *r, const char *plan_id)
{
	struct backup	*b;

	LIST_FOREACH(b, &r->backups, entry)
		if (strcmp(b->plan.req.plan_id, plan_id) == 0)
			return b;
	return NULL;
}

static void
backup_forget(struct backup *b)
{
	ev_timer_stop(b->r->loop, &b->step);
	ev_timer_stop(b->r->loop, &b->tick);
	ev_io_stop(b->r->loop, &b->out_w);
	ev_child_stop(b->r->loop, &b->child_w);
	if (b->pid > 0 && !b->reaped)
		(void)kill(-b->pid, SIGKILL);
	if (b->remote && b->out != -1)
		close(b->out);
	if (b->src != -1)
		close(b->src);
	if (b->dst != -1)
		close(b->dst);
	LIST_REMOVE(b, entry);
	walk_plan_free(&b->plan);
	free(b);
}

static void
backup_policy(struct remote *r, struct walk_policy *pol)
{
	pol->source_roots = remote_strv(r, IPC_AL_SRC_ROOT,
	    &pol->nsource_roots);
	pol->dest_roots = remote_strv(r, IPC_AL_DST_ROOT, &pol->ndest_roots);
}

int
backup_plan_req(struct remote *r, uint32_t id, const void *data, size_t len)
{
	struct walk_request	 rq;
	struct walk_policy	 pol;
	struct ipc_backup_plan	 h;
	struct backup		*b, *old;
	struct iovec		 iov[1 + 25];
	char			 err[WALK_ERROR_MAX];
	uint32_t		 flags;
	size_t			 i, n = 0;

	if (backup_req_parse(data, len, &rq, &flags) == -1)
		return -1;
	r->pending++;
	backup_policy(r, &pol);
	if ((b = calloc(1, sizeof(*b))) == NULL)
		fatal(NULL);
	b->r = r;
	b->src = b->dst = b->out = -1;
	if (!r->ready) {
		backup_done(r, id, rq.plan_id, 0, 0, 0,
		    "backups not configured");
		free(b);
		walk_request_free(&rq);
		return 0;
	}
	if (walk_plan_make(&rq, &pol, &b->plan, err, sizeof(err)) == -1) {
		log_info("backup_plan %s: %s", rq.plan_id, err);
		backup_done(r, id, rq.plan_id, 0, 0, 0, err);
		free(b);
		walk_request_free(&rq);
		return 0;
	}
	walk_request_free(&rq);
	if (walk_plan_save(backup_base(r), &b->plan, err, sizeof(err)) == -1)
		log_warnx("backup_plan %s: not persisted: %s",
		    b->plan.req.plan_id, err);
	if ((old = backup_find(r, b->plan.req.plan_id)) != NULL &&
	    !old->running)
		backup_forget(old);
	LIST_FOREACH(old, &r->backups, entry)
		n++;
	if (n >= BK_PLANS_MAX)
		LIST_FOREACH(old, &r->backups, entry)
			if (!old->running) {
				backup_forget(old);
				break;
			}
	ev_init(&b->step, NULL);
	ev_init(&b->tick, NULL);
	LIST_INSERT_HEAD(&r->backups, b, entry);
	memset(&h, 0, sizeof(h));
	h.total_files = b->plan.total_files;
	h.total_bytes = b->plan.total_bytes;
	iov[0].iov_base = &h;
	iov[0].iov_len = sizeof(h);
	for (i = 0; i < b->plan.nfiles && i < 25; i++) {
		iov[1 + i].iov_base = b->plan.files[i].rel;
		iov[1 + i].iov_len = strlen(b->plan.files[i].rel) + 1;
	}
	h.nfiles = i;
	if (r->pending > 0)
		r->pending--;
	log_info("backup_plan %s: %llu files, %llu bytes", b->plan.req.plan_id,
	    (unsigned long long)h.total_files,
	    (unsigned long long)h.total_bytes);
	if (ipcev_active(r->net))
		ipcev_composev(r->net, IPC_EN_BACKUP_PLAN, id, -1, iov,
		    1 + (int)i);
	return 0;
}

/* §6.5: <safe>.state.json, at most once a second and at the end. */
static void
backup_state(struct backup *b, const char *file, int force)
{
	struct walk_state	 st;
	char			 err[WALK_ERROR_MAX];
	uint64_t		 now = admin_now_ms();

	if (!force && b->last_state_ms != 0 && now - b->last_state_ms < 1000)
		return;
	b->last_state_ms = now;
	st.plan_id = b->plan.req.plan_id;
	st.file = file;
	st.transferred = b->transferred;
	st.ts = time(NULL);
	if (walk_state_save(backup_base(b->r), &st, err, sizeof(err)) == -1)
		log_warnx("backup %s: state not written: %s", st.plan_id, err);
}

static void
backup_progress_id(struct backup *b, uint32_t id, const char *file)
{
	struct ipc_backup_progress	 p;

	b->last_emit_ms = admin_now_ms();
	backup_state(b, file, 0);
	memset(&p, 0, sizeof(p));
	p.transferred = b->transferred;
	p.total_bytes = b->plan.total_bytes;
	p.files_completed = b->files_completed;
	p.op = b->remote ? IPC_BK_RSYNC : IPC_BK_COPY;
	strlcpy(p.plan_id, b->plan.req.plan_id, sizeof(p.plan_id));
	strlcpy(p.file, file, sizeof(p.file));
	if (ipcev_active(b->r->net))
		ipcev_compose(b->r->net, IPC_EN_BACKUP_PROGRESS, id, -1, &p,
		    sizeof(p));
}

static void
backup_progress(struct backup *b, const char *file)
{
	backup_progress_id(b, 0, file);
}

/* The file the run is at, or last was at. */
static const char *
backup_cur_file(const struct backup *b)
{
	if (b->remote)
		return b->file;
	if (b->idx < b->plan.nfiles)
		return b->plan.files[b->idx].rel;
	return b->idx > 0 ? b->plan.files[b->idx - 1].rel : "";
}

static void
backup_finish(struct backup *b, const char *error)
{
	uint64_t	 ms = admin_now_ms() - b->t0_ms;

	log_info("backup %s: %s", b->plan.req.plan_id,
	    error != NULL ? error : "complete");
	backup_state(b, backup_cur_file(b), 1);
	backup_done(b->r, 0, b->plan.req.plan_id, error == NULL, ms,
	    b->transferred, error);
	ev_timer_stop(b->r->loop, &b->step);
	ev_timer_stop(b->r->loop, &b->tick);
	if (b->src != -1)
		close(b->src);
	if (b->dst != -1)
		close(b->dst);
	b->src = b->dst = -1;
	b->running = 0;
	b->pid = 0;
}

/* dest = destRoot/rel, parents made 0700; -1 with err. */
static int
backup_open_dest(struct backup *b, const char *rel, char *err, size_t errlen)
{
	char	 path[PATH_MAX], clean[PATH_MAX], *s;
	int	 n;

	n = snprintf(path, sizeof(path), "%s/%s", b->plan.req.dest_root, rel);
	if (rel[0] == '/' || n < 0 || (size_t)n >= sizeof(path) ||
	    walk_clean(path, clean, sizeof(clean)) == -1 ||
	    walk_clean(b->plan.req.dest_root, path, sizeof(path)) == -1 ||
	    !admin_path_under(clean, path) || strcmp(clean, path) == 0) {
		snprintf(err, errlen, "copy %s: path traversal detected", rel);
		return -1;
	}
	for (s = clean + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		if (mkdir(clean, 0700) == -1 && errno != EEXIST) {
			snprintf(err, errlen, "copy %s: %s", rel,
			    strerror(errno));
			return -1;
		}
		*s = '/';
	}
	if ((b->dst = open(clean, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1) {
		snprintf(err, errlen, "copy %s: %s", rel, strerror(errno));
		return -1;
	}
	return 0;
}

static void
backup_step_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct backup		*b = w->data;
	const struct walk_file	*f;
	char			 buf[BK_BLOCK], err[WALK_ERROR_MAX];
	ssize_t			 n, k;
	int			 i;

	if (b->idx >= b->plan.nfiles) {
		backup_finish(b, NULL);
		return;
	}
	f = &b->plan.files[b->idx];
	if (b->src == -1) {
		if ((b->src = open(f->source, O_RDONLY | O_NOFOLLOW |
		    O_CLOEXEC)) == -1) {
			snprintf(err, sizeof(err), "copy %s: %s", f->rel,
			    strerror(errno));
			backup_finish(b, err);
			return;
		}
		if (backup_open_dest(b, f->rel, err, sizeof(err)) == -1) {
			backup_finish(b, err);
			return;
		}
	}
	for (i = 0; i < BK_SLICE; i++) {
		if ((n = read(b->src, buf, sizeof(buf))) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (n == 0)
			break;
		for (k = 0; k < n; ) {
			ssize_t	 m = write(b->dst, buf + k, n - k);

			if (m == -1 && errno == EINTR)
				continue;
			if (m == -1)
				goto fail;
			k += m;
		}
		b->transferred += n;
	}
	if (i < BK_SLICE) {
		/* The end of this file. */
		if (fsync(b->dst) == -1)
			goto fail;
		close(b->src);
		close(b->dst);
		b->src = b->dst = -1;
		b->files_completed++;
		b->idx++;
		backup_progress(b, f->rel);
	} else if (admin_now_ms() - b->last_emit_ms >= 1000)
		backup_progress(b, f->rel);
	ev_timer_again(loop, w);
	return;
 fail:
	snprintf(err, sizeof(err), "copy %s: %s", f->rel, strerror(errno));
	backup_finish(b, err);
}

/* ---------------------------------------------------------------- */
/* Remote runs (§6.5): rsync -a --info=progress2 [-e "ssh -p N"] */

static int
backup_have_rsync(void)
{
	const char	*path = getenv("PATH"), *p, *e;
	char		 f[PATH_MAX];

	for (p = path != NULL ? path : "/usr/bin:/bin"; *p != '\0'; p = e) {
		if ((e = strchr(p, ':')) == NULL)
			e = p + strlen(p);
		if (snprintf(f, sizeof(f), "%.*s/rsync", (int)(e - p), p) <
		    (int)sizeof(f) && e > p && access(f, X_OK) == 0)
			return 1;
		if (*e == ':')
			e++;
	}
	return 0;
}

/*
 * Keep the first line that says why a run fails (ssh's own, or rsync's
 * before its generic "rsync error:" summary), for backup_error: "exit
 * status 255" alone does not tell a refused key from a closed port.
 */
static void
backup_rsync_diag(struct backup *b, const char *s)
{
	static const char *const	 pfx[] = { "ssh: ", "rsync: " };
	static const char *const	 sub[] = { "Permission denied",
	    "Host key verification failed", "Connection refused",
	    "Could not resolve", "REMOTE HOST IDENTIFICATION",
	    "No such file or directory" };
	size_t				 i;

	if (b->diag[0] != '\0')
		return;
	for (i = 0; i < nitems(pfx); i++)
		if (strncmp(s, pfx[i], strlen(pfx[i])) == 0)
			goto keep;
	for (i = 0; i < nitems(sub); i++)
		if (strstr(s, sub[i]) != NULL)
			goto keep;
	return;
 keep:
	strlcpy(b->diag, s, sizeof(b->diag));
}

/* One line of rsync's output: a progress2 line, or the current file. */
static void
backup_rsync_line(struct backup *b, const char *s)
{
	const char	*p = s + strspn(s, " \t");
	uint64_t	 v = 0;
	size_t		 n = 0;

	if (*p == '\0')
		return;
	for (; (*p >= '0' && *p <= '9') || *p == ','; p++, n++)
		if (*p != ',')
			v = v * 10 + (uint64_t)(*p - '0');
	if (n > 0 && (*p == ' ' || *p == '\t')) {
		p += strspn(p, " \t");
		if (*p >= '0' && *p <= '9') {
			p += strspn(p, "0123456789");
			if (*p == '%') {
				b->transferred = b->done_bytes + v;
				if (admin_now_ms() - b->last_emit_ms >= 1000)
					backup_progress(b, b->file);
				return;
			}
		}
	}
	strlcpy(b->file, s, sizeof(b->file));
	backup_rsync_diag(b, s);
}

static void
backup_rsync_end(struct backup *b)
{
	char	err[WALK_ERROR_MAX];

	ev_io_stop(b->r->loop, &b->out_w);
	close(b->out);
	b->out = -1;
	b->files_completed++;
	b->done_bytes = b->transferred;
	backup_progress(b, b->file);
	if (!WIFEXITED(b->status) || WEXITSTATUS(b->status) != 0) {
		snprintf(err, sizeof(err), "rsync failed: exit status %d%s%s",
		    WIFEXITED(b->status) ? WEXITSTATUS(b->status) : -1,
		    b->diag[0] != '\0' ? ": " : "", b->diag);
		backup_finish(b, err);
		return;
	}
	b->srcidx++;
	backup_rsync_next(b);
}

static void
backup_rsync_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct backup	*b = w->data;
	char		 buf[4096];
	ssize_t		 n, i;

	if ((n = read(b->out, buf, sizeof(buf))) == -1 &&
	    (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		ev_io_stop(loop, w);
		if (b->linelen > 0) {
			b->line[b->linelen] = '\0';
			backup_rsync_line(b, b->line);
			b->linelen = 0;
		}
		if (b->reaped)
			backup_rsync_end(b);
		return;
	}
	for (i = 0; i < n; i++) {
		if (buf[i] == '\r' || buf[i] == '\n') {
			b->line[b->linelen] = '\0';
			backup_rsync_line(b, b->line);
			b->linelen = 0;
		} else if (b->linelen < sizeof(b->line) - 1)
			b->line[b->linelen++] = buf[i];
	}
}

static void
backup_rsync_child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct backup	*b = w->data;

	ev_child_stop(loop, w);
	b->reaped = 1;
	b->status = w->rstatus;
	if (!ev_is_active(&b->out_w))
		backup_rsync_end(b);
}

/*
 * rsync's -e: §6.5's "ssh -p <port>", or "" for none, unless backup.ssh*
 * is set; then ssh gets the identity, the known_hosts file and host key
 * checking explicitly, in batch mode.  rsync splits the string on spaces
 * and honours single quotes, so the paths are quoted and may not hold one.
 */
static int
backup_rsh(struct backup *b, char *rsh, size_t len, char *err, size_t errlen)
{
	const struct ipc_backup_config	*c = &b->r->bkcfg;
	const struct walk_request	*rq = &b->plan.req;
	int				 skip = (c->flags &
					    IPC_BKCF_SKIP_HOSTKEY) != 0;

	rsh[0] = '\0';
	if (strchr(c->identity, '\'') != NULL ||
	    strchr(c->known_hosts, '\'') != NULL) {
		snprintf(err, errlen, "backup.sshIdentityFile or "
		    "backup.sshKnownHostsFile holds a quote");
		return -1;
	}
	if (c->identity[0] == '\0' && c->known_hosts[0] == '\0' && !skip) {
		if (rq->port > 0)
			snprintf(rsh, len, "ssh -p %d", rq->port);
		return 0;
	}
	strlcpy(rsh, "ssh", len);
	if (rq->port > 0)
		snprintf(rsh + strlen(rsh), len - strlen(rsh), " -p %d",
		    rq->port);
	if (c->identity[0] != '\0')
		snprintf(rsh + strlen(rsh), len - strlen(rsh),
		    " -i '%s' -o IdentitiesOnly=yes", c->identity);
	if (c->known_hosts[0] != '\0')
		snprintf(rsh + strlen(rsh), len - strlen(rsh),
		    " -o 'UserKnownHostsFile=%s'", c->known_hosts);
	else if (skip)
		strlcat(rsh, " -o UserKnownHostsFile=/dev/null", len);
	strlcat(rsh, skip ? " -o StrictHostKeyChecking=no" :
	    " -o StrictHostKeyChecking=yes", len);
	if (strlcat(rsh, " -o BatchMode=yes", len) >= len) {
		snprintf(err, errlen, "ssh command too long");
		return -1;
	}
	if (skip)
		log_warnx("backup %s: ssh host key not checked "
		    "(backup.sshSkipHostKeyCheck)", rq->plan_id);
	return 0;
}

/*
 * rsync prints progress when it likes (not before ssh is up and the file
 * list is through, then about once a second): repeat the last figures
 * whenever a second has passed without an event, so the dashboard hears
 * from a run at least once a second (§5.2).
 */
static void
backup_tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct backup	*b = w->data;

	if (admin_now_ms() - b->last_emit_ms >= 1000)
		backup_progress(b, b->file);
}

static void
backup_rsync_next(struct backup *b)
{
	const struct walk_request *rq = &b->plan.req;
	char		 rsh[3 * PATH_MAX], target[1024], dst[PATH_MAX];
	char		 srcarg[PATH_MAX], srcbuf[PATH_MAX];
	char		*argv[16 + 2 * IPC_BACKUP_LIST_MAX], *base, *src;
	char		 err[WALK_ERROR_MAX];
	size_t		 i, k = 0, dl, sl;
	int		 pp[2], null;
	pid_t		 pid;

	while (b->srcidx < rq->nsources && rq->sources[b->srcidx][strspn(
	    rq->sources[b->srcidx], " \t")] == '\0')
		b->srcidx++;
	if (b->srcidx >= rq->nsources) {
		backup_finish(b, NULL);
		return;
	}
	/* "/data/" is /data: its basename is "data" (§6.5). */
	strlcpy(srcbuf, rq->sources[b->srcidx], sizeof(srcbuf));
	for (sl = strlen(srcbuf); sl > 1 && srcbuf[sl - 1] == '/'; sl--)
		srcbuf[sl - 1] = '\0';
	src = srcbuf;
	if ((base = strrchr(src, '/')) != NULL && base[1] != '\0')
		base++;
	else
		base = src;
	dl = strlen(rq->dest_root);
	while (dl > 1 && rq->dest_root[dl - 1] == '/')
		dl--;
	if (rq->user != NULL && rq->user[0] != '\0')
		snprintf(target, sizeof(target), "%s@%s", rq->user, rq->host);
	else
		strlcpy(target, rq->host, sizeof(target));
	snprintf(srcarg, sizeof(srcarg), "%s/", src);
	snprintf(dst, sizeof(dst), "%s:%.*s/%s/", target, (int)dl,
	    rq->dest_root, base);
	argv[k++] = "rsync";
	argv[k++] = "-a";
	argv[k++] = "--info=progress2";
	argv[k++] = "--out-format=%n";
	for (i = 0; i < rq->nglobs && i < IPC_BACKUP_LIST_MAX; i++) {
		argv[k++] = "--exclude";
		argv[k++] = rq->globs[i];
	}
	if (backup_rsh(b, rsh, sizeof(rsh), err, sizeof(err)) == -1) {
		backup_finish(b, err);
		return;
	}
	if (rsh[0] != '\0') {
		argv[k++] = "-e";
		argv[k++] = rsh;
	}
	argv[k++] = srcarg;
	argv[k++] = dst;
	argv[k] = NULL;
	if (pipe2(pp, O_CLOEXEC) == -1 || (pid = fork()) == -1) {
		snprintf(err, sizeof(err), "rsync: %s", strerror(errno));
		backup_finish(b, err);
		return;
	}
	if (pid == 0) {
		/* No controlling terminal: ssh cannot prompt (§6.5). */
		(void)setsid();
		(void)signal(SIGPIPE, SIG_DFL);
		if ((null = open("/dev/null", O_RDONLY)) == -1 ||
		    dup2(null, 0) == -1 || dup2(pp[1], 1) == -1 ||
		    dup2(pp[1], 2) == -1)
			_exit(127);
		closefrom(3);
		execvp("rsync", argv);
		_exit(127);
	}
	close(pp[1]);
	(void)fcntl(pp[0], F_SETFL, O_NONBLOCK);
	b->pid = pid;
	b->out = pp[0];
	b->reaped = 0;
	b->linelen = 0;
	b->diag[0] = '\0';
	ev_io_init(&b->out_w, backup_rsync_read_cb, b->out, EV_READ);
	ev_child_init(&b->child_w, backup_rsync_child_cb, pid, 0);
	b->out_w.data = b->child_w.data = b;
	ev_io_start(b->r->loop, &b->out_w);
	ev_child_start(b->r->loop, &b->child_w);
	log_info("backup %s: rsync %s -> %s (ssh: %s)", rq->plan_id, srcarg,
	    dst, rsh[0] != '\0' ? rsh : "ssh");
}

/*
 * The stored request with the start's source dirs and/or globs (which
 * rq gives up), walked again into b's plan.  -1 with err: b's plan is
 * left as it was.
 */
static int
backup_replan(struct remote *r, struct backup *b, struct walk_request *rq,
    uint32_t flags, char *err, size_t errlen)
{
	struct walk_request	 m = b->plan.req;
	struct walk_policy	 pol;
	struct walk_plan	 np;

	if (flags & IPC_BKF_SRC) {
		m.sources = rq->sources;
		m.nsources = rq->nsources;
	}
	if (flags & IPC_BKF_GLOB) {
		m.globs = rq->globs;
		m.nglobs = rq->nglobs;
	}
	backup_policy(r, &pol);
	if (walk_plan_make(&m, &pol, &np, err, errlen) == -1)
		return -1;
	walk_plan_free(&b->plan);
	b->plan = np;
	return 0;
}

int
backup_start_req(struct remote *r, uint32_t id, const void *data,
    size_t len)
{
	struct walk_request	 rq;
	struct walk_plan	 loaded;
	struct backup		*b;
	char			 err[WALK_ERROR_MAX], dest[PATH_MAX];
	const char *const	*roots;
	uint32_t		 flags;
	size_t			 nroots, i;
	int			 ok;

	if (backup_req_parse(data, len, &rq, &flags) == -1)
		return -1;
	r->pending++;
	if (!r->ready) {
		backup_done(r, id, rq.plan_id, 0, 0, 0,
		    "backups not configured");
		goto out;
	}
	if ((b = backup_find(r, rq.plan_id)) == NULL) {
		if (walk_plan_load(backup_base(r), rq.plan_id, &loaded, err,
		    sizeof(err)) == -1) {
			backup_done(r, id, rq.plan_id, 0, 0, 0, err);
			goto out;
		}
		log_info("backup_start %s: plan read from %s/compute-agent/"
		    "backup-plans", rq.plan_id, backup_base(r));
		if ((b = calloc(1, sizeof(*b))) == NULL)
			fatal(NULL);
		b->r = r;
		b->plan = loaded;
		b->src = b->dst = b->out = -1;
		ev_init(&b->step, NULL);
		ev_init(&b->tick, NULL);
		LIST_INSERT_HEAD(&r->backups, b, entry);
	}
	if (b->running) {
		snprintf(err, sizeof(err), "plan %s already running",
		    rq.plan_id);
		backup_done(r, id, rq.plan_id, 0, 0, 0, err);
		goto out;
	}
	/* §6.5: the start's fields win over the stored request. */
	if (flags & IPC_BKF_DEST) {
		free(b->plan.req.dest_root);
		b->plan.req.dest_root = rq.dest_root;
		rq.dest_root = NULL;
	}
	if (flags & IPC_BKF_HOST) {
		free(b->plan.req.host);
		b->plan.req.host = rq.host;
		rq.host = NULL;
	}
	if (flags & IPC_BKF_USER) {
		free(b->plan.req.user);
		b->plan.req.user = rq.user;
		rq.user = NULL;
	}
	if (flags & IPC_BKF_PORT)
		b->plan.req.port = rq.port;
	/*
	 * New source dirs or globs make a new plan, walked and checked like
	 * backup_plan's (allowedSourceRoots, symlinked roots), for both
	 * kinds of run: the totals and the files follow the start's fields.
	 */
	if ((flags & (IPC_BKF_SRC | IPC_BKF_GLOB)) &&
	    backup_replan(r, b, &rq, flags, err, sizeof(err)) == -1) {
		log_info("backup_start %s: %s", rq.plan_id, err);
		backup_done(r, id, rq.plan_id, 0, 0, 0, err);
		goto out;
	}
	b->remote = b->plan.req.host != NULL && b->plan.req.host[strspn(
	    b->plan.req.host, " \t")] != '\0';
	if (b->remote) {
		if (!backup_have_rsync()) {
			backup_done(r, id, rq.plan_id, 0, 0, 0,
			    "rsync not found on PATH");
			goto out;
		}
		goto start;
	}
	roots = remote_strv(r, IPC_AL_DST_ROOT, &nroots);
	ok = walk_clean(b->plan.req.dest_root, dest, sizeof(dest)) == 0;
	for (i = 0; ok && nroots > 0 && i < nroots; i++)
		if (admin_path_under(dest, roots[i]))
			break;
	if (!ok || (nroots > 0 && i == nroots)) {
		snprintf(err, sizeof(err), "destRoot \"%s\" not allowed",
		    b->plan.req.dest_root);
		backup_done(r, id, rq.plan_id, 0, 0, 0, err);
		goto out;
	}
 start:
	if (r->pending > 0)
		r->pending--;
	b->running = 1;
	b->idx = 0;
	b->srcidx = 0;
	b->done_bytes = 0;
	b->out = -1;
	b->src = b->dst = -1;
	b->transferred = b->files_completed = 0;
	b->t0_ms = admin_now_ms();
	/* Accepted: the first progress answers the request. */
	backup_progress_id(b, id, "");
	if (b->remote) {
		b->file[0] = '\0';
		ev_timer_init(&b->tick, backup_tick_cb, 0.2, 0.2);
		b->tick.data = b;
		ev_timer_start(r->loop, &b->tick);
		backup_rsync_next(b);
		goto out;
	}
	ev_init(&b->step, backup_step_cb);
	b->step.repeat = 1e-6;
	b->step.data = b;
	ev_timer_again(r->loop, &b->step);
	log_info("backup %s started: %zu files to %s", rq.plan_id,
	    b->plan.nfiles, b->plan.req.dest_root);
 out:
	walk_request_free(&rq);
	return 0;
}

void
backup_stop_all(struct remote *r)
{
	struct backup	*b;

	while ((b = LIST_FIRST(&r->backups)) != NULL)
		backup_forget(b);
}
