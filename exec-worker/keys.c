/*
 * keys.c: the local half of sync_keys (socketio-protocol.md §6.3).  The
 * file is written from a directory fd opened without following links, so
 * a user who owns ~/.ssh cannot redirect the root-run write elsewhere.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "cron.h"
#include "keys.h"

static const char *const keys_types[] = {
	"ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256",
	"ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
	"sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
};

static int
keys_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
	    c == '\v' || c == '\f';
}

int
keys_user_check(const char *user, char out[KEYS_USER_MAX + 1])
{
	size_t	len, i;

	out[0] = '\0';
	while (keys_space((unsigned char)*user))
		user++;
	len = strlen(user);
	while (len > 0 && keys_space((unsigned char)user[len - 1]))
		len--;
	if (len == 0 || len > KEYS_USER_MAX)
		return -1;
	for (i = 0; i < len; i++) {
		char	c = user[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-'))
			return -1;
	}
	memcpy(out, user, len);
	out[len] = '\0';
	return 0;
}

/* Field i (0-based) of a line split on spaces and tabs. */
static int
keys_field(const char *s, size_t len, int want, const char **f, size_t *flen)
{
	size_t	i = 0, start;
	int	n = 0;

	for (;;) {
		while (i < len && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i == len)
			return -1;
		start = i;
		while (i < len && s[i] != ' ' && s[i] != '\t')
			i++;
		if (n++ == want) {
			*f = s + start;
			*flen = i - start;
			return 0;
		}
	}
}

static int
keys_is_type(const char *f, size_t flen)
{
	size_t	i;

	for (i = 0; i < nitems(keys_types); i++)
		if (strlen(keys_types[i]) == flen &&
		    memcmp(keys_types[i], f, flen) == 0)
			return 1;
	return 0;
}

int
keys_line_valid(const char *s, size_t len, const char **why)
{
	const char	*type, *body;
	unsigned char	*blob;
	size_t		 tlen, blen, n, i;
	uint32_t	 el;
	int		 ok;

	if (len == 0 || len > KEYS_LINE_MAX) {
		*why = len == 0 ? "empty line" : "line too long";
		return 0;
	}
	for (i = 0; i < len; i++) {
		if (((unsigned char)s[i] < 0x20 && s[i] != '\t') ||
		    s[i] == 0x7f) {
			*why = "control character";
			return 0;
		}
	}
	if (keys_field(s, len, 0, &type, &tlen) == -1 ||
	    keys_field(s, len, 1, &body, &blen) == -1) {
		*why = "fewer than 2 fields";
		return 0;
	}
	if (!keys_is_type(type, tlen)) {
		*why = "key type not allowed";
		return 0;
	}
	if (cron_b64_decode(body, blen, &blob, &n) == -1) {
		*why = "key body is not base64";
		return 0;
	}
	/* The blob starts with string type: uint32 length, then the bytes. */
	ok = n >= 4;
	if (ok) {
		el = (uint32_t)blob[0] << 24 | (uint32_t)blob[1] << 16 |
		    (uint32_t)blob[2] << 8 | blob[3];
		ok = el == tlen && n - 4 >= el && memcmp(blob + 4, type,
		    tlen) == 0;
	}
	free(blob);
	if (!ok)
		*why = "key body does not match its type";
	return ok;
}

/* Type and body of a key line, skipping any options before the type. */
static int
keys_identity(const char *s, size_t len, const char **id, size_t *idlen)
{
	const char	*f, *g;
	size_t		 flen, glen;
	int		 i;

	for (i = 0; keys_field(s, len, i, &f, &flen) == 0; i++) {
		if (!keys_is_type(f, flen))
			continue;
		if (keys_field(s, len, i + 1, &g, &glen) == -1)
			return -1;
		*id = f;
		*idlen = (size_t)(g + glen - f);
		return 0;
	}
	return -1;
}

static int
keys_same(const char *a, const char *b)
{
	const char	*ia, *ib;
	size_t		 la, lb;

	if (strcmp(a, b) == 0)
		return 1;
	if (keys_identity(a, strlen(a), &ia, &la) == -1 ||
	    keys_identity(b, strlen(b), &ib, &lb) == -1)
		return 0;
	/* Fields are separated by one or more blanks: compare type, body. */
	{
		const char	*ta, *ba, *tb, *bb;
		size_t		 tla, bla, tlb, blb;

		if (keys_field(ia, la, 0, &ta, &tla) == -1 ||
		    keys_field(ia, la, 1, &ba, &bla) == -1 ||
		    keys_field(ib, lb, 0, &tb, &tlb) == -1 ||
		    keys_field(ib, lb, 1, &bb, &blb) == -1)
			return 0;
		return tla == tlb && bla == blb &&
		    memcmp(ta, tb, tla) == 0 && memcmp(ba, bb, bla) == 0;
	}
}

static int
keys_has(const struct keys_list *l, const char *line)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		if (keys_same(l->lines[i], line))
			return 1;
	return 0;
}

static int
keys_push(struct keys_list *l, const char *s, size_t len)
{
	char	**nl, *d;

	if ((d = strndup(s, len)) == NULL)
		return -1;
	if ((nl = reallocarray(l->lines, l->n + 1, sizeof(*nl))) == NULL) {
		free(d);
		return -1;
	}
	l->lines = nl;
	l->lines[l->n++] = d;
	return 0;
}

/* Each trimmed non-blank line, in order; valid ones only when strict. */
static int
keys_split(const char *body, size_t len, int strict, struct keys_list *out)
{
	const char	*p = body, *end = body + len, *nl, *a, *b, *why;

	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		for (a = p; a < nl && keys_space((unsigned char)*a); a++)
			;
		for (b = nl; b > a && keys_space((unsigned char)b[-1]); b--)
			;
		p = nl + 1;
		if (a == b)
			continue;
		if (strict) {
			char	*tmp;
			int	 dup;

			if (!keys_line_valid(a, (size_t)(b - a), &why))
				continue;
			if ((tmp = strndup(a, (size_t)(b - a))) == NULL)
				return -1;
			dup = keys_has(out, tmp);
			free(tmp);
			if (dup)
				continue;
		}
		if (keys_push(out, a, (size_t)(b - a)) == -1)
			return -1;
	}
	return 0;
}

int
keys_filter(const char *body, size_t len, struct keys_list *out)
{
	out->n = 0;
	out->lines = NULL;
	if (keys_split(body, len, 1, out) == -1) {
		keys_list_free(out);
		return -1;
	}
	return 0;
}

void
keys_list_free(struct keys_list *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		free(l->lines[i]);
	free(l->lines);
	l->lines = NULL;
	l->n = 0;
}

static int __printflike(3, 4)
keys_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* ~/.ssh as a directory fd, made 0700 for uid when missing. */
static int
keys_open_ssh(const char *home, uid_t uid, gid_t gid, char *err,
    size_t errlen)
{
	struct stat	st;
	int		hfd, dfd;

	if ((hfd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return keys_fail(err, errlen, "open %s: %s", home,
		    strerror(errno));
	dfd = openat(hfd, ".ssh", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (dfd == -1 && errno == ENOENT) {
		if (mkdirat(hfd, ".ssh", 0700) == -1 && errno != EEXIST) {
			close(hfd);
			return keys_fail(err, errlen, "mkdir %s/.ssh: %s",
			    home, strerror(errno));
		}
		dfd = openat(hfd, ".ssh", O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC);
		/* Created here: give it to the user, and 0700 despite umask. */
		if (dfd != -1 && (fstat(dfd, &st) == -1 ||
		    (st.st_uid != uid && fchown(dfd, uid, gid) == -1) ||
		    fchmod(dfd, 0700) == -1)) {
			close(dfd);
			close(hfd);
			return keys_fail(err, errlen, "chown %s/.ssh: %s",
			    home, strerror(errno));
		}
	}
	close(hfd);
	if (dfd == -1)
		return keys_fail(err, errlen, "open %s/.ssh: %s", home,
		    errno == ELOOP || errno == ENOTDIR ?
		    "not a directory (symlink?); refusing" : strerror(errno));
	if (fstat(dfd, &st) == -1 || st.st_uid != uid) {
		close(dfd);
		return keys_fail(err, errlen,
		    "%s/.ssh is not owned by uid %u; refusing", home,
		    (unsigned)uid);
	}
	return dfd;
}

/* The existing file's lines; a missing file is empty. */
static int
keys_read_existing(int dfd, struct keys_list *l, char *err, size_t errlen)
{
	struct stat	 st;
	char		*buf;
	ssize_t		 n;
	size_t		 len = 0;
	int		 fd, rc;

	fd = openat(dfd, "authorized_keys", O_RDONLY | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT)
		return 0;
	if (fd == -1)
		return keys_fail(err, errlen, "open authorized_keys: %s",
		    errno == ELOOP ? "symlink; refusing" : strerror(errno));
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return keys_fail(err, errlen,
		    "authorized_keys is not a regular file; refusing");
	}
	if ((buf = malloc(KEYS_FILE_MAX)) == NULL) {
		close(fd);
		return keys_fail(err, errlen, "out of memory");
	}
	while (len < KEYS_FILE_MAX && (n = read(fd, buf + len,
	    KEYS_FILE_MAX - len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			rc = errno;
			free(buf);
			close(fd);
			return keys_fail(err, errlen,
			    "read authorized_keys: %s", strerror(rc));
		}
		len += (size_t)n;
	}
	close(fd);
	if (len == KEYS_FILE_MAX) {
		free(buf);
		return keys_fail(err, errlen, "authorized_keys is too large");
	}
	rc = keys_split(buf, len, 0, l);
	free(buf);
	return rc == -1 ? keys_fail(err, errlen, "out of memory") : 0;
}

static int
keys_write_all(int fd, const struct keys_list *a, const struct keys_list *b)
{
	const struct keys_list	*l;
	size_t			 i, len, off;
	ssize_t			 n;
	int			 pass;

	for (pass = 0; pass < 2; pass++) {
		l = pass == 0 ? a : b;
		for (i = 0; i < l->n; i++) {
			/* Each line with its own LF: joined, final LF. */
			len = strlen(l->lines[i]);
			l->lines[i][len] = '\n';
			for (off = 0; off < len + 1; off += (size_t)n) {
				n = write(fd, l->lines[i] + off, len + 1 - off);
				if (n == -1 && errno == EINTR) {
					n = 0;
					continue;
				}
				if (n <= 0) {
					l->lines[i][len] = '\0';
					return -1;
				}
			}
			l->lines[i][len] = '\0';
		}
	}
	return 0;
}

static int
keys_tmpfile(int dfd, char name[64])
{
	static const char	 set[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char		 r[6];
	int			 i, j, fd;

	for (i = 0; i < 100; i++) {
		if (getentropy(r, sizeof(r)) == -1)
			return -1;
		memcpy(name, "authorized_keys.tmp-", 20);
		for (j = 0; j < 6; j++)
			name[20 + j] = set[r[j] % (sizeof(set) - 1)];
		name[26] = '\0';
		fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd != -1 || errno != EEXIST)
			return fd;
	}
	errno = EEXIST;
	return -1;
}

static int
keys_replace(int dfd, uid_t uid, gid_t gid, const struct keys_list *old,
    const struct keys_list *add, char *err, size_t errlen)
{
	char	name[64];
	int	fd, e;

	if ((fd = keys_tmpfile(dfd, name)) == -1)
		return keys_fail(err, errlen, "create temp file: %s",
		    strerror(errno));
	if ((geteuid() == 0 && fchown(fd, uid, gid) == -1) ||
	    fchmod(fd, 0600) == -1 || keys_write_all(fd, old, add) == -1 ||
	    fsync(fd) == -1) {
		e = errno;
		close(fd);
		(void)unlinkat(dfd, name, 0);
		return keys_fail(err, errlen, "write authorized_keys: %s",
		    strerror(e));
	}
	if (close(fd) == -1 || renameat(dfd, name, dfd,
	    "authorized_keys") == -1) {
		e = errno;
		(void)unlinkat(dfd, name, 0);
		return keys_fail(err, errlen, "rename authorized_keys: %s",
		    strerror(e));
	}
	(void)fsync(dfd);
	return 0;
}

int
keys_install(const char *home, uid_t uid, gid_t gid,
    const struct keys_list *keys, int *added, char *err, size_t errlen)
{
	struct keys_list	old = { 0, NULL }, add = { 0, NULL };
	size_t			i;
	int			dfd, rc = -1;

	*added = 0;
	if ((dfd = keys_open_ssh(home, uid, gid, err, errlen)) == -1)
		return -1;
	if (keys_read_existing(dfd, &old, err, errlen) == -1)
		goto out;
	for (i = 0; i < keys->n; i++) {
		if (keys_has(&old, keys->lines[i]) ||
		    keys_has(&add, keys->lines[i]))
			continue;
		if (keys_push(&add, keys->lines[i],
		    strlen(keys->lines[i])) == -1) {
			keys_fail(err, errlen, "out of memory");
			goto out;
		}
	}
	/* Nothing new: leave the file, its mtime and its inode alone. */
	if (add.n == 0 || keys_replace(dfd, uid, gid, &old, &add, err,
	    errlen) == 0) {
		*added = (int)add.n;
		rc = 0;
	}
out:
	keys_list_free(&old);
	keys_list_free(&add);
	close(dfd);
	return rc;
}
