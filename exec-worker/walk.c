/*
 * walk.c: the backup planner (socketio-protocol.md §6.4).  Sources are
 * walked through directory fds opened with O_NOFOLLOW, entries sorted by
 * name, so neither a symlink nor a rename race moves the walk outside
 * the root, and the plan is the same every time.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "compat.h"
#include "glob.h"
#include "walk.h"

static int __printflike(3, 4)
walk_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int
walk_blank(const char *s)
{
	return s == NULL || admin_blank(s, strlen(s));
}

int
walk_clean(const char *in, char *out, size_t size)
{
	char	 buf[PATH_MAX * 2], *seg, *save;
	size_t	 n = 0, len;

	if (in[0] == '/')
		len = strlcpy(buf, in, sizeof(buf));
	else {
		if (getcwd(buf, PATH_MAX) == NULL)
			return -1;
		strlcat(buf, "/", sizeof(buf));
		len = strlcat(buf, in, sizeof(buf));
	}
	if (len >= sizeof(buf) || size < 2)
		return -1;
	out[0] = '\0';
	for (seg = strtok_r(buf, "/", &save); seg != NULL;
	    seg = strtok_r(NULL, "/", &save)) {
		if (strcmp(seg, ".") == 0)
			continue;
		if (strcmp(seg, "..") == 0) {
			while (n > 0 && out[n - 1] != '/')
				n--;
			if (n > 0)
				n--;
			out[n] = '\0';
			continue;
		}
		if (n + 1 + strlen(seg) + 1 > size)
			return -1;
		out[n++] = '/';
		memcpy(out + n, seg, strlen(seg) + 1);
		n += strlen(seg);
	}
	if (n == 0)
		strlcpy(out, "/", size);
	return 0;
}

/* Is path (already real or clean) under one of the roots (realpath'd)? */
static int
walk_under_any(const char *path, const char *const *roots, size_t n)
{
	char	root[PATH_MAX];
	size_t	i;

	for (i = 0; i < n; i++) {
		if (walk_blank(roots[i]))
			continue;
		if (realpath(roots[i], root) == NULL &&
		    walk_clean(roots[i], root, sizeof(root)) == -1)
			continue;
		if (admin_path_under(path, root))
			return 1;
	}
	return 0;
}

struct walk_ctx {
	struct walk_plan	*plan;
	struct glob_set		 globs;
	char			*err;
	size_t			 errlen;
};

static int
walk_add(struct walk_ctx *c, const char *abs, const char *rel, uint64_t size)
{
	struct walk_plan	*p = c->plan;
	struct walk_file	*nf, *f;

	if (glob_set_match(&c->globs, rel))
		return 0;
	if ((p->nfiles & (p->nfiles - 1)) == 0) {
		nf = reallocarray(p->files, p->nfiles ? p->nfiles * 2 : 16,
		    sizeof(*nf));
		if (nf == NULL)
			return walk_fail(c->err, c->errlen, "out of memory");
		p->files = nf;
	}
	f = &p->files[p->nfiles];
	f->source = strdup(abs);
	f->rel = strdup(rel);
	f->size = size;
	if (f->source == NULL || f->rel == NULL) {
		free(f->source);
		free(f->rel);
		return walk_fail(c->err, c->errlen, "out of memory");
	}
	p->nfiles++;
	p->total_files++;
	p->total_bytes += size;
	return 0;
}

static int
walk_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted entry names of the directory fd, which *dp then owns. */
static int
walk_names(int fd, DIR **dp, char ***namesp, size_t *np)
{
	DIR		 *d;
	struct dirent	 *de;
	char		**names = NULL, **nn;
	size_t		  n = 0;

	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if ((nn = reallocarray(names, n + 1, sizeof(*nn))) == NULL ||
		    (nn[n] = strdup(de->d_name)) == NULL) {
			names = nn != NULL ? nn : names;
			goto fail;
		}
		names = nn;
		n++;
		errno = 0;
	}
	if (errno != 0)
		goto fail;
	qsort(names, n, sizeof(*names), walk_cmp);
	*dp = d;
	*namesp = names;
	*np = n;
	return 0;
fail:
	{
		int	e = errno ? errno : ENOMEM;

		while (n > 0)
			free(names[--n]);
		free(names);
		closedir(d);
		errno = e;
		return -1;
	}
}

static int
walk_dir(struct walk_ctx *c, int dfd, char *abs, size_t alen, char *rel,
    size_t rlen, int depth)
{
	struct stat	  st;
	DIR		 *d;
	char		**names;
	size_t		  n, i, nl;
	int		  fd, rc = 0;

	if (depth > WALK_DEPTH_MAX)
		return walk_fail(c->err, c->errlen, "walk %s: too deep", abs);
	if (walk_names(dfd, &d, &names, &n) == -1)
		return walk_fail(c->err, c->errlen, "read directory %s: %s",
		    abs, strerror(errno));
	for (i = 0; i < n && rc == 0; i++) {
		nl = strlen(names[i]);
		if (alen + nl + 2 > PATH_MAX || rlen + nl + 2 > PATH_MAX) {
			rc = walk_fail(c->err, c->errlen, "%s/%s: %s", abs,
			    names[i], strerror(ENAMETOOLONG));
			break;
		}
		snprintf(abs + alen, PATH_MAX - alen, "/%s", names[i]);
		snprintf(rel + rlen, PATH_MAX - rlen, "/%s", names[i]);
		/* Relative to this level's fd: no path is looked up again. */
		if (fstatat(dirfd(d), names[i], &st, AT_SYMLINK_NOFOLLOW) == -1)
			rc = walk_fail(c->err, c->errlen, "lstat %s: %s", abs,
			    strerror(errno));
		else if (S_ISDIR(st.st_mode)) {
			fd = openat(dirfd(d), names[i], O_RDONLY |
			    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd == -1)
				rc = walk_fail(c->err, c->errlen,
				    "open %s: %s", abs, strerror(errno));
			else
				rc = walk_dir(c, fd, abs, alen + nl + 1, rel,
				    rlen + nl + 1, depth + 1);
		} else if (S_ISREG(st.st_mode))
			rc = walk_add(c, abs, rel, (uint64_t)st.st_size);
		abs[alen] = '\0';
		rel[rlen] = '\0';
	}
	while (n > 0)
		free(names[--n]);
	free(names);
	closedir(d);
	return rc;
}

static int
walk_check_dest(const struct walk_request *rq, const struct walk_policy *pol,
    char *err, size_t errlen)
{
	char	dest[PATH_MAX];

	if (walk_blank(rq->dest_root))
		return walk_fail(err, errlen, "destRoot required");
	if (!walk_blank(rq->host) || pol->ndest_roots == 0)
		return 0;
	if (walk_clean(rq->dest_root, dest, sizeof(dest)) == -1 ||
	    !walk_under_any(dest, pol->dest_roots, pol->ndest_roots))
		return walk_fail(err, errlen, "destRoot \"%s\" not allowed",
		    rq->dest_root);
	return 0;
}

static int
walk_source(struct walk_ctx *c, const char *src, const struct walk_policy *pol)
{
	char		 abs[PATH_MAX], real[PATH_MAX], rel[PATH_MAX];
	const char	*base;
	int		 fd;

	if (walk_blank(src))
		return walk_fail(c->err, c->errlen, "empty source directory");
	if (walk_clean(src, abs, sizeof(abs)) == -1)
		return walk_fail(c->err, c->errlen,
		    "resolve source directory \"%s\": %s", src,
		    strerror(ENAMETOOLONG));
	if (realpath(abs, real) == NULL)
		return walk_fail(c->err, c->errlen,
		    "resolve source directory \"%s\": %s", src,
		    strerror(errno));
	if (strcmp(abs, real) != 0)
		return walk_fail(c->err, c->errlen, "source directory \"%s\" "
		    "resolves through symlinks; refusing", src);
	if (pol->nsource_roots > 0 &&
	    !walk_under_any(real, pol->source_roots, pol->nsource_roots))
		return walk_fail(c->err, c->errlen,
		    "source directory \"%s\" not allowed", src);
	fd = open(real, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return walk_fail(c->err, c->errlen, "open %s: %s", real,
		    strerror(errno));
	base = strrchr(real, '/') + 1;
	strlcpy(rel, base, sizeof(rel));
	if (strcmp(real, "/") == 0)
		real[0] = '\0';
	return walk_dir(c, fd, real, strlen(real), rel, strlen(rel), 0);
}

int
walk_plan_make(const struct walk_request *rq, const struct walk_policy *pol,
    struct walk_plan *p, char *err, size_t errlen)
{
	struct walk_ctx	c;
	size_t		i;
	int		rc = 0;

	memset(p, 0, sizeof(*p));
	if (rq->nsources == 0)
		return walk_fail(err, errlen, "no source directories provided");
	if (walk_check_dest(rq, pol, err, errlen) == -1)
		return -1;
	memset(&c, 0, sizeof(c));
	c.plan = p;
	c.err = err;
	c.errlen = errlen;
	if (walk_request_copy(&p->req, rq) == -1)
		return walk_fail(err, errlen, "out of memory");
	for (i = 0; i < rq->nglobs && rc == 0; i++)
		if (glob_set_add(&c.globs, rq->globs[i]) == -1)
			rc = walk_fail(err, errlen, "out of memory");
	for (i = 0; i < rq->nsources && rc == 0; i++)
		rc = walk_source(&c, rq->sources[i], pol);
	glob_set_free(&c.globs);
	if (rc == -1)
		walk_plan_free(p);
	return rc;
}

void
walk_request_free(struct walk_request *r)
{
	size_t	i;

	free(r->plan_id);
	free(r->host);
	free(r->user);
	free(r->dest_root);
	for (i = 0; i < r->nsources; i++)
		free(r->sources[i]);
	for (i = 0; i < r->nglobs; i++)
		free(r->globs[i]);
	free(r->sources);
	free(r->globs);
	memset(r, 0, sizeof(*r));
}

static int
walk_strv_copy(char ***dst, char *const *src, size_t n)
{
	size_t	i;

	*dst = NULL;
	if (n == 0)
		return 0;
	if ((*dst = calloc(n, sizeof(char *))) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if (((*dst)[i] = strdup(src[i] ? src[i] : "")) == NULL)
			return -1;
	return 0;
}

int
walk_request_copy(struct walk_request *d, const struct walk_request *s)
{
	memset(d, 0, sizeof(*d));
	d->port = s->port;
	d->nsources = s->nsources;
	d->nglobs = s->nglobs;
	d->plan_id = strdup(s->plan_id ? s->plan_id : "");
	d->host = strdup(s->host ? s->host : "");
	d->user = strdup(s->user ? s->user : "");
	d->dest_root = strdup(s->dest_root ? s->dest_root : "");
	if (d->plan_id == NULL || d->host == NULL || d->user == NULL ||
	    d->dest_root == NULL ||
	    walk_strv_copy(&d->sources, s->sources, s->nsources) == -1 ||
	    walk_strv_copy(&d->globs, s->globs, s->nglobs) == -1) {
		walk_request_free(d);
		return -1;
	}
	return 0;
}

void
walk_plan_free(struct walk_plan *p)
{
	size_t	i;

	walk_request_free(&p->req);
	for (i = 0; i < p->nfiles; i++) {
		free(p->files[i].source);
		free(p->files[i].rel);
	}
	free(p->files);
	memset(p, 0, sizeof(*p));
}

void
walk_safe_name(const char *id, char out[WALK_SAFE_MAX])
{
	size_t	n = 0;
	int	run = 0;

	for (; id != NULL && *id != '\0' && n < WALK_SAFE_MAX - 1; id++) {
		char	c = *id;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		    c == '-') {
			out[n++] = c;
			run = 0;
		} else if (!run) {
			out[n++] = '_';
			run = 1;
		}
	}
	out[n] = '\0';
	/* "." and ".." are names of directories, not of plans. */
	if (n == 0 || strcmp(out, ".") == 0 || strcmp(out, "..") == 0)
		strlcpy(out, "unknown", WALK_SAFE_MAX);
}
