/*
 * backup.c: backup_plan and backup_start (socketio-protocol.md §6.4,
 * §6.5).  The plan is walk.c's, kept in memory and persisted with
 * walk_store.c.  A local copy runs on the event loop in slices of a few
 * 32 KiB blocks, so shells and commands stay responsive while it runs.
 * Remote runs (rsync over ssh) are not here yet: they are refused.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	uint64_t		 t0_ms, last_emit_ms;
	ev_timer		 step;
};

static const char *
backup_base(void)
{
	const char	*t = getenv("TMPDIR");

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
	b->src = b->dst = -1;
	if (!r->ready) {
		backup_done(r, id, rq.plan_id, 0, 0, 0, "backups not configured");
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
	if (walk_plan_save(backup_base(), &b->plan, err, sizeof(err)) == -1)
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

static void
backup_progress(struct backup *b, const char *file)
{
	struct ipc_backup_progress	 p;

	b->last_emit_ms = admin_now_ms();
	memset(&p, 0, sizeof(p));
	p.transferred = b->transferred;
	p.total_bytes = b->plan.total_bytes;
	p.files_completed = b->files_completed;
	p.op = IPC_BK_COPY;
	strlcpy(p.plan_id, b->plan.req.plan_id, sizeof(p.plan_id));
	strlcpy(p.file, file, sizeof(p.file));
	if (ipcev_active(b->r->net))
		ipcev_compose(b->r->net, IPC_EN_BACKUP_PROGRESS, 0, -1, &p,
		    sizeof(p));
}

static void
backup_finish(struct backup *b, const char *error)
{
	uint64_t	 ms = admin_now_ms() - b->t0_ms;

	log_info("backup %s: %s", b->plan.req.plan_id,
	    error != NULL ? error : "complete");
	backup_done(b->r, 0, b->plan.req.plan_id, error == NULL, ms,
	    b->transferred, error);
	ev_timer_stop(b->r->loop, &b->step);
	if (b->src != -1)
		close(b->src);
	if (b->dst != -1)
		close(b->dst);
	b->src = b->dst = -1;
	b->running = 0;
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
		backup_done(r, id, rq.plan_id, 0, 0, 0, "backups not configured");
		goto out;
	}
	if ((b = backup_find(r, rq.plan_id)) == NULL) {
		if (walk_plan_load(backup_base(), rq.plan_id, &loaded, err,
		    sizeof(err)) == -1) {
			backup_done(r, id, rq.plan_id, 0, 0, 0, err);
			goto out;
		}
		if ((b = calloc(1, sizeof(*b))) == NULL)
			fatal(NULL);
		b->r = r;
		b->plan = loaded;
		ev_init(&b->step, NULL);
		LIST_INSERT_HEAD(&r->backups, b, entry);
	}
	if (b->running) {
		snprintf(err, sizeof(err), "plan %s already running", rq.plan_id);
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
	if (b->plan.req.host != NULL && b->plan.req.host[strspn(
	    b->plan.req.host, " \t")] != '\0') {
		backup_done(r, id, rq.plan_id, 0, 0, 0,
		    "remote backups are not available in this version");
		goto out;
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
	if (r->pending > 0)
		r->pending--;
	b->running = 1;
	b->idx = 0;
	b->src = b->dst = -1;
	b->transferred = b->files_completed = 0;
	b->t0_ms = b->last_emit_ms = admin_now_ms();
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
