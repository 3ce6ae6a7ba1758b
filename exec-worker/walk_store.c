/*
 * walk_store.c: the persisted backup plan (socketio-protocol.md §6.4
 * step 5) as lines of `key value...`; each value is `:` then the string
 * with `%`, blanks and control bytes percent-encoded, so any path fits
 * on one line and an empty string is just `:`.  `end` closes the file;
 * a file without it (a torn write) does not load.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "walk.h"

#define WALK_MAGIC	"nixfleet-backup-plan 1"

static int __printflike(3, 4)
store_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static void
store_put(FILE *f, const char *s)
{
	fputc(' ', f);
	fputc(':', f);
	for (; *s != '\0'; s++) {
		unsigned char	c = (unsigned char)*s;

		if (c <= 0x20 || c == 0x7f || c == '%')
			fprintf(f, "%%%02x", c);
		else
			fputc(c, f);
	}
}

/* Decode one `:value` field in place; NULL when malformed. */
static char *
store_get(char **cur)
{
	char	*s = *cur, *o, *start, *e;
	int	 hi, lo;

	if (s == NULL || *s != ':')
		return NULL;
	start = o = ++s;
	for (; *s != '\0' && *s != ' '; s++) {
		if (*s != '%') {
			*o++ = *s;
			continue;
		}
		if (sscanf(s + 1, "%1x%1x", (unsigned *)&hi, (unsigned *)&lo)
		    != 2 || (hi == 0 && lo == 0))
			return NULL;
		*o++ = (char)(hi << 4 | lo);
		s += 2;
	}
	e = *s == ' ' ? s + 1 : NULL;
	*o = '\0';
	*cur = e;
	return start;
}

/* Create dir 0700 if missing; refuse one we do not own or others write. */
static int
store_dir(const char *path, char *err, size_t errlen)
{
	struct stat	st;

	if (mkdir(path, 0700) == -1 && errno != EEXIST)
		return store_fail(err, errlen, "mkdir %s: %s", path,
		    strerror(errno));
	if (lstat(path, &st) == -1)
		return store_fail(err, errlen, "stat %s: %s", path,
		    strerror(errno));
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 022) != 0)
		return store_fail(err, errlen, "refusing plan directory %s",
		    path);
	return 0;
}

static int
store_path(const char *base, const char *id, const char *suffix, char *path,
    size_t size, int mk, char *err, size_t errlen)
{
	char	safe[WALK_SAFE_MAX];

	snprintf(path, size, "%s/compute-agent", base);
	if (mk && store_dir(path, err, errlen) == -1)
		return -1;
	strlcat(path, "/backup-plans", size);
	if (mk && store_dir(path, err, errlen) == -1)
		return -1;
	walk_safe_name(id, safe);
	strlcat(path, "/", size);
	strlcat(path, safe, size);
	if (strlcat(path, suffix, size) >= size)
		return store_fail(err, errlen, "plan path too long");
	return 0;
}

static void
store_write(FILE *f, const void *arg)
{
	const struct walk_plan		*p = arg;
	const struct walk_request	*r = &p->req;
	size_t				 i;

	fprintf(f, "%s\nid", WALK_MAGIC);
	store_put(f, r->plan_id);
	fputs("\nhost", f);
	store_put(f, r->host);
	fputs("\nuser", f);
	store_put(f, r->user);
	fprintf(f, "\nport %d\ndest", r->port);
	store_put(f, r->dest_root);
	for (i = 0; i < r->nsources; i++) {
		fputs("\nsource", f);
		store_put(f, r->sources[i]);
	}
	for (i = 0; i < r->nglobs; i++) {
		fputs("\nignore", f);
		store_put(f, r->globs[i]);
	}
	fprintf(f, "\ntotal %" PRIu64 " %" PRIu64 "\n", p->total_files,
	    p->total_bytes);
	for (i = 0; i < p->nfiles; i++) {
		fprintf(f, "file %" PRIu64, p->files[i].size);
		store_put(f, p->files[i].source);
		store_put(f, p->files[i].rel);
		fputc('\n', f);
	}
	fputs("end\n", f);
}

/* Replace path atomically with what put writes: mkstemp, fsync, rename. */
static int
store_replace(const char *path, void (*put)(FILE *, const void *),
    const void *arg, char *err, size_t errlen)
{
	char	 tmp[PATH_MAX + 16];
	FILE	*f;
	int	 fd, e;

	snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path);
	if ((fd = mkstemp(tmp)) == -1)
		return store_fail(err, errlen, "create %s: %s", tmp,
		    strerror(errno));
	if (fchmod(fd, 0600) == -1 || (f = fdopen(fd, "w")) == NULL) {
		e = errno;
		close(fd);
		unlink(tmp);
		return store_fail(err, errlen, "write %s: %s", tmp,
		    strerror(e));
	}
	put(f, arg);
	if (fflush(f) == EOF || ferror(f) || fsync(fileno(f)) == -1) {
		e = errno;
		fclose(f);
		unlink(tmp);
		return store_fail(err, errlen, "write %s: %s", tmp,
		    strerror(e));
	}
	if (fclose(f) == EOF || rename(tmp, path) == -1) {
		e = errno;
		unlink(tmp);
		return store_fail(err, errlen, "rename %s: %s", path,
		    strerror(e));
	}
	return 0;
}

int
walk_plan_save(const char *base, const struct walk_plan *p, char *err,
    size_t errlen)
{
	char	 path[PATH_MAX];

	if (store_path(base, p->req.plan_id, ".plan", path, sizeof(path), 1,
	    err, errlen) == -1)
		return -1;
	return store_replace(path, store_write, p, err, errlen);
}

/* A JSON string: escapes, and U+FFFD for each byte that is not UTF-8. */
static void
store_json_str(FILE *f, const char *s)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 i, n, k;

	fputc('"', f);
	for (i = 0; u[i] != '\0'; i += n) {
		n = 1;
		if (u[i] == '"' || u[i] == '\\') {
			fputc('\\', f);
			fputc(u[i], f);
			continue;
		}
		if (u[i] < 0x20 || u[i] == 0x7f) {
			fprintf(f, "\\u%04x", u[i]);
			continue;
		}
		if (u[i] < 0x80) {
			fputc(u[i], f);
			continue;
		}
		if (u[i] >= 0xc2 && u[i] <= 0xdf)
			n = 2;
		else if (u[i] >= 0xe0 && u[i] <= 0xef)
			n = 3;
		else if (u[i] >= 0xf0 && u[i] <= 0xf4)
			n = 4;
		for (k = 1; n > 1 && k < n; k++)
			if ((u[i + k] & 0xc0) != 0x80)
				break;
		/* Overlong, surrogate and beyond-U+10FFFF forms too. */
		if (n == 1 || k < n ||
		    (u[i] == 0xe0 && u[i + 1] < 0xa0) ||
		    (u[i] == 0xed && u[i + 1] >= 0xa0) ||
		    (u[i] == 0xf0 && u[i + 1] < 0x90) ||
		    (u[i] == 0xf4 && u[i + 1] >= 0x90)) {
			fputs("\\ufffd", f);
			n = 1;
			continue;
		}
		fwrite(u + i, 1, n, f);
	}
	fputc('"', f);
}

static void
store_state_write(FILE *f, const void *arg)
{
	const struct walk_state	*st = arg;
	struct tm		 tm;
	char			 ts[32];

	if (gmtime_r(&st->ts, &tm) == NULL ||
	    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		strlcpy(ts, "1970-01-01T00:00:00Z", sizeof(ts));
	fputs("{\"planId\":", f);
	store_json_str(f, st->plan_id);
	fputs(",\"file\":", f);
	store_json_str(f, st->file);
	fprintf(f, ",\"transferredBytes\":%" PRIu64 ",\"ts\":\"%s\"}\n",
	    st->transferred, ts);
}

int
walk_state_save(const char *base, const struct walk_state *st, char *err,
    size_t errlen)
{
	char	 path[PATH_MAX];

	if (store_path(base, st->plan_id, ".state.json", path, sizeof(path),
	    1, err, errlen) == -1)
		return -1;
	return store_replace(path, store_state_write, st, err, errlen);
}

static int
store_push(char ***v, size_t *n, const char *s)
{
	char	**nv;

	if ((nv = reallocarray(*v, *n + 1, sizeof(*nv))) == NULL)
		return -1;
	*v = nv;
	if ((nv[*n] = strdup(s)) == NULL)
		return -1;
	(*n)++;
	return 0;
}

static int
store_file(struct walk_plan *p, char *rest)
{
	struct walk_file	*nf;
	char			*src, *rel, *end;
	uint64_t		 size;

	errno = 0;
	size = strtoull(rest, &end, 10);
	if (errno != 0 || end == rest || *end != ' ')
		return -1;
	rest = end + 1;
	if ((src = store_get(&rest)) == NULL || (rel = store_get(&rest))
	    == NULL || rest != NULL)
		return -1;
	if ((nf = reallocarray(p->files, p->nfiles + 1, sizeof(*nf))) == NULL)
		return -1;
	p->files = nf;
	nf[p->nfiles].size = size;
	nf[p->nfiles].source = strdup(src);
	nf[p->nfiles].rel = strdup(rel);
	p->nfiles++;
	return nf[p->nfiles - 1].source == NULL ||
	    nf[p->nfiles - 1].rel == NULL ? -1 : 0;
}

/* One line (NUL-terminated, no LF); 1 at `end`, 0 more, -1 bad. */
static int
store_line(struct walk_plan *p, char *line)
{
	struct walk_request	*r = &p->req;
	char			*sp = strchr(line, ' '), *rest, *v, **dst = NULL;

	if (strcmp(line, "end") == 0)
		return 1;
	if (sp == NULL)
		return -1;
	*sp = '\0';
	rest = sp + 1;
	if (strcmp(line, "file") == 0)
		return store_file(p, rest);
	if (strcmp(line, "port") == 0)
		return sscanf(rest, "%d", &r->port) == 1 ? 0 : -1;
	if (strcmp(line, "total") == 0)
		return sscanf(rest, "%" SCNu64 " %" SCNu64, &p->total_files,
		    &p->total_bytes) == 2 ? 0 : -1;
	if ((v = store_get(&rest)) == NULL || rest != NULL)
		return -1;
	if (strcmp(line, "source") == 0)
		return store_push(&r->sources, &r->nsources, v);
	if (strcmp(line, "ignore") == 0)
		return store_push(&r->globs, &r->nglobs, v);
	if (strcmp(line, "id") == 0)
		dst = &r->plan_id;
	else if (strcmp(line, "host") == 0)
		dst = &r->host;
	else if (strcmp(line, "user") == 0)
		dst = &r->user;
	else if (strcmp(line, "dest") == 0)
		dst = &r->dest_root;
	if (dst == NULL || *dst != NULL)
		return -1;
	return (*dst = strdup(v)) == NULL ? -1 : 0;
}

int
walk_plan_load(const char *base, const char *id, struct walk_plan *p,
    char *err, size_t errlen)
{
	char	 path[PATH_MAX], *line = NULL;
	size_t	 cap = 0;
	ssize_t	 n;
	FILE	*f;
	int	 fd, rc = 0, first = 1;

	memset(p, 0, sizeof(*p));
	if (store_path(base, id, ".plan", path, sizeof(path), 0, err,
	    errlen) == -1)
		return -1;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1 ||
	    (f = fdopen(fd, "r")) == NULL) {
		if (fd != -1)
			close(fd);
		return store_fail(err, errlen, "unknown plan %s", id);
	}
	while (rc == 0 && (n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] != '\n') {
			rc = -1;
			break;
		}
		line[n - 1] = '\0';
		if (first)
			rc = strcmp(line, WALK_MAGIC) == 0 ? 0 : -1;
		else
			rc = store_line(p, line);
		first = 0;
	}
	free(line);
	fclose(f);
	/* The id inside must be the plan asked for, not a name collision. */
	if (rc != 1 || p->req.plan_id == NULL ||
	    strcmp(p->req.plan_id, id) != 0 || p->nfiles != p->total_files) {
		walk_plan_free(p);
		return store_fail(err, errlen, "unknown plan %s", id);
	}
	if ((p->req.host == NULL && (p->req.host = strdup("")) == NULL) ||
	    (p->req.user == NULL && (p->req.user = strdup("")) == NULL) ||
	    (p->req.dest_root == NULL &&
	    (p->req.dest_root = strdup("")) == NULL)) {
		walk_plan_free(p);
		return store_fail(err, errlen, "out of memory");
	}
	return 0;
}
