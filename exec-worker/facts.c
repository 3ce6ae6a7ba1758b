/*
 * facts.c: host facts and metrics for heartbeats (nixfleet-protocol.md
 * §3).  Everything is read from files: the generation resolves git refs
 * itself rather than running git, so a heartbeat never waits on a child.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

#include "facts.h"
#include "log.h"

/* mbedTLS 3 dropped the _ret suffix that 2.28 needs. */
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#define FACTS_SHA256_STARTS(c)		mbedtls_sha256_starts((c), 0)
#define FACTS_SHA256_UPDATE(c, b, n)	mbedtls_sha256_update((c), (b), (n))
#define FACTS_SHA256_FINISH(c, o)	mbedtls_sha256_finish((c), (o))
#else
#define FACTS_SHA256_STARTS(c)		mbedtls_sha256_starts_ret((c), 0)
#define FACTS_SHA256_UPDATE(c, b, n)	mbedtls_sha256_update_ret((c), (b), (n))
#define FACTS_SHA256_FINISH(c, o)	mbedtls_sha256_finish_ret((c), (o))
#endif

#ifdef __APPLE__
#define FACTS_HOST_TYPE		"macos"
#else
#define FACTS_HOST_TYPE		"nixos"
#endif

#define FACTS_OS_RELEASE	"/etc/os-release"
#define FACTS_MACOS_VERSION	"/System/Library/CoreServices/SystemVersion.plist"
#define FACTS_NIXOS_VERSION	"/run/current-system/nixos-version"

#define FACTS_REF_MAX		1024	/* longest ref name we follow */
#define FACTS_SYMREF_MAX	5	/* git's SYMREF_MAXDEPTH */
#define FACTS_STALE_S		30	/* T02-S3: fresh is < 30 s */
#define FACTS_CPU_MIN_MS	100	/* shortest useful CPU delta */
#define FACTS_NUM_MAX		64	/* one StaSysMo number */

struct facts_git {
	char	 gitdir[PATH_MAX];
	char	 commondir[PATH_MAX];
};

static const char *const facts_stasysmo_files[FACTS_NMETRICS] = {
	[FACTS_CPU] = "cpu", [FACTS_RAM] = "ram",
	[FACTS_SWAP] = "swap", [FACTS_LOAD] = "load",
};

/* ---------------------------------------------------------------- */
/* small file helpers */

static int
facts_join(char *buf, size_t size, const char *dir, const char *name)
{
	int	 n;

	n = snprintf(buf, size, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/*
 * Open a regular file for reading.  O_NONBLOCK and the S_ISREG check
 * keep a FIFO planted in a repository or in the StaSysMo directory from
 * stalling the heartbeat.  stp, if set, receives the file's status even
 * when the file is then refused.
 */
static int
facts_open(const char *path, int oflags, struct stat *stp)
{
	struct stat	 st;
	int		 fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | oflags);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		goto fail;
	if (stp != NULL)
		*stp = st;
	if (!S_ISREG(st.st_mode)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		goto fail;
	}
	return fd;
 fail:
	close(fd);
	return -1;
}

/*
 * Read a small file whole into buf as a string.  A file that does not
 * fit, or that holds a NUL, is an error rather than a silent prefix.
 */
static int
facts_read(const char *path, int oflags, char *buf, size_t size,
    struct stat *stp)
{
	size_t	 len = 0;
	ssize_t	 n;
	char	 extra;
	int	 fd, saved;

	if (size == 0) {
		errno = EINVAL;
		return -1;
	}
	if ((fd = facts_open(path, oflags, stp)) == -1)
		return -1;
	while (len < size - 1) {
		n = read(fd, buf + len, size - 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len == size - 1) {
		while ((n = read(fd, &extra, 1)) == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail;
		if (n > 0) {
			errno = EFBIG;
			goto fail;
		}
	}
	buf[len] = '\0';
	if (strlen(buf) != len) {
		errno = EINVAL;
		goto fail;
	}
	close(fd);
	return 0;
 fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

static int
facts_isspace(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	    c == '\v' || c == '\f';
}

/* Trim in place; returns the first non-blank character. */
static char *
facts_trim(char *s)
{
	size_t	 len;

	while (facts_isspace((unsigned char)*s))
		s++;
	len = strlen(s);
	while (len > 0 && facts_isspace((unsigned char)s[len - 1]))
		s[--len] = '\0';
	return s;
}

/*
 * One line of at most size-1 bytes, without its newline; 0 at the end.
 * A longer line is skipped whole, so its tail never poses as a line.
 */
static int
facts_getline(FILE *fp, char *line, size_t size)
{
	size_t	 len;
	int	 skipping = 0;

	while (fgets(line, (int)size, fp) != NULL) {
		len = strlen(line);
		if (len > 0 && line[len - 1] == '\n') {
			if (skipping) {
				skipping = 0;
				continue;
			}
			line[len - 1] = '\0';
			return 1;
		}
		if (feof(fp) && !skipping)
			return 1;	/* the last line, without newline */
		skipping = 1;
	}
	return 0;
}

static FILE *
facts_fopen(const char *path)
{
	FILE	*fp;
	int	 fd, saved;

	if ((fd = facts_open(path, 0, NULL)) == -1)
		return NULL;
	if ((fp = fdopen(fd, "r")) == NULL) {
		saved = errno;
		close(fd);
		errno = saved;
	}
	return fp;
}

/* ---------------------------------------------------------------- */
/* §3.3 generation */

/*
 * git check-ref-format's rules, plus: the name is relative and either
 * under refs/ or a pseudo-ref (HEAD, ORIG_HEAD).  The name becomes a
 * path below the git dir, so "..", "/" and "." components must never
 * pass: a hostile HEAD must not make us read outside the repository.
 */
static int
facts_ref_ok(const char *name)
{
	const char	*p, *comp;
	size_t		 len;

	len = strlen(name);
	if (len == 0 || len >= FACTS_REF_MAX)
		return 0;
	if (strncmp(name, "refs/", 5) != 0) {
		for (p = name; *p != '\0'; p++)
			if (!((*p >= 'A' && *p <= 'Z') || *p == '_'))
				return 0;
		return 1;
	}
	if (strstr(name, "..") != NULL || strstr(name, "@{") != NULL)
		return 0;
	for (p = name; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f ||
		    strchr(" ~^:?*[\\", *p) != NULL)
			return 0;
	}
	for (comp = name; comp != NULL; comp = p != NULL ? p + 1 : NULL) {
		p = strchr(comp, '/');
		len = p != NULL ? (size_t)(p - comp) : strlen(comp);
		if (len == 0 || comp[0] == '.')
			return 0;
		if (len >= 5 && strncmp(comp + len - 5, ".lock", 5) == 0)
			return 0;
	}
	return name[strlen(name) - 1] != '.';
}

/* A 40- or 64-hex object name: its first 7 characters, lowercased. */
static int
facts_git_short(const char *hash, char out[8])
{
	size_t	 i, len;
	char	 c;

	len = strlen(hash);
	if (len != 40 && len != 64)
		goto bad;
	for (i = 0; i < len; i++) {
		c = hash[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		    (c >= 'A' && c <= 'F')))
			goto bad;
	}
	for (i = 0; i < 7; i++) {
		c = hash[i];
		out[i] = c >= 'A' && c <= 'F' ? (char)(c - 'A' + 'a') : c;
	}
	out[7] = '\0';
	return 0;
 bad:
	errno = EINVAL;
	return -1;
}

/* path is relative to base unless absolute. */
static int
facts_resolve(char *buf, size_t size, const char *base, const char *path)
{
	if (*path == '\0') {
		errno = EINVAL;
		return -1;
	}
	if (*path == '/') {
		if (strlcpy(buf, path, size) >= size) {
			errno = ENAMETOOLONG;
			return -1;
		}
		return 0;
	}
	return facts_join(buf, size, base, path);
}

/* §3.3 step 1: the git dir (.git, or "gitdir:" in a .git file). */
static int
facts_git_dirs(const char *repo, struct facts_git *g)
{
	char		 path[PATH_MAX], buf[PATH_MAX + 16], *s;
	struct stat	 st;

	if (facts_join(path, sizeof(path), repo, ".git") == -1 ||
	    stat(path, &st) == -1)
		return -1;
	if (S_ISDIR(st.st_mode)) {
		if (strlcpy(g->gitdir, path, sizeof(g->gitdir)) >=
		    sizeof(g->gitdir)) {
			errno = ENAMETOOLONG;
			return -1;
		}
	} else {
		/* A worktree or submodule: relative to the work tree. */
		if (facts_read(path, 0, buf, sizeof(buf), NULL) == -1)
			return -1;
		s = facts_trim(buf);
		if (strncmp(s, "gitdir:", 7) != 0) {
			errno = EINVAL;
			return -1;
		}
		s = facts_trim(s + 7);
		if (facts_resolve(g->gitdir, sizeof(g->gitdir), repo, s) == -1)
			return -1;
	}

	/* Shared refs of a worktree live in the common dir. */
	if (facts_join(path, sizeof(path), g->gitdir, "commondir") == -1)
		return -1;
	if (facts_read(path, 0, buf, sizeof(buf), NULL) == -1) {
		if (errno != ENOENT)
			return -1;
		strlcpy(g->commondir, g->gitdir, sizeof(g->commondir));
		return 0;
	}
	s = facts_trim(buf);
	return facts_resolve(g->commondir, sizeof(g->commondir), g->gitdir, s);
}

/* "<hash> <name>" in packed-refs; the hash goes to buf. */
static int
facts_git_packed(const struct facts_git *g, const char *name, char *buf,
    size_t size)
{
	char	 path[PATH_MAX], line[FACTS_REF_MAX + 80], *sp;
	FILE	*fp;
	int	 found = 0;

	if (facts_join(path, sizeof(path), g->commondir, "packed-refs") == -1 ||
	    (fp = facts_fopen(path)) == NULL)
		return -1;
	while (!found && facts_getline(fp, line, sizeof(line))) {
		/* The header, and the peeled values of annotated tags. */
		if (line[0] == '#' || line[0] == '^')
			continue;
		if ((sp = strchr(line, ' ')) == NULL)
			continue;
		*sp = '\0';
		if (strcmp(facts_trim(sp + 1), name) == 0 &&
		    strlcpy(buf, line, size) < size)
			found = 1;
	}
	fclose(fp);
	if (!found) {
		errno = ENOENT;
		return -1;
	}
	return 0;
}

/*
 * §3.3 step 2: the loose ref in the git dir, then in the common dir,
 * then packed-refs.  Loose refs are opened without following a final
 * symlink: git has not written symlink refs for years, and one planted
 * in a repository would otherwise point anywhere.
 */
static int
facts_git_ref(const struct facts_git *g, const char *name, char *buf,
    size_t size)
{
	char	 path[PATH_MAX];

	if (facts_join(path, sizeof(path), g->gitdir, name) == 0 &&
	    facts_read(path, O_NOFOLLOW, buf, size, NULL) == 0)
		return 0;
	if (strcmp(g->gitdir, g->commondir) != 0 &&
	    facts_join(path, sizeof(path), g->commondir, name) == 0 &&
	    facts_read(path, O_NOFOLLOW, buf, size, NULL) == 0)
		return 0;
	return facts_git_packed(g, name, buf, size);
}

int
facts_generation(const char *repo_dir, char out[8])
{
	struct facts_git	 g;
	char			 path[PATH_MAX], buf[FACTS_REF_MAX + 16];
	char			 name[FACTS_REF_MAX], *s;
	int			 depth;

	out[0] = '\0';
	if (repo_dir == NULL || *repo_dir == '\0') {
		errno = EINVAL;
		return -1;
	}
	/* A symlinked HEAD (core.preferSymlinkRefs) is as long gone. */
	if (facts_git_dirs(repo_dir, &g) == -1 ||
	    facts_join(path, sizeof(path), g.gitdir, "HEAD") == -1 ||
	    facts_read(path, O_NOFOLLOW, buf, sizeof(buf), NULL) == -1)
		return -1;
	for (depth = 0;; depth++) {
		s = facts_trim(buf);
		if (strncmp(s, "ref:", 4) != 0)
			return facts_git_short(s, out);
		if (depth == FACTS_SYMREF_MAX) {
			errno = ELOOP;
			return -1;
		}
		s = facts_trim(s + 4);
		if (!facts_ref_ok(s)) {
			errno = EINVAL;
			return -1;
		}
		/* buf is about to be overwritten by the ref's contents. */
		strlcpy(name, s, sizeof(name));
		if (facts_git_ref(&g, name, buf, sizeof(buf)) == -1)
			return -1;	/* an unborn branch ends here */
	}
}

/* ---------------------------------------------------------------- */
/* §3.4 metrics */

/*
 * A decimal number as thousandths, in integers: 15.5 must reach the
 * dashboard as 15.5, and binary floating point cannot promise that.
 * Digits past the third decimal round half away from zero.
 */
static int
facts_parse_milli(const char *s, int32_t *out)
{
	int64_t	 v = 0;
	int	 neg = 0, digits = 0, decimals = 0, up = 0;

	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	for (; *s >= '0' && *s <= '9'; s++, digits++) {
		v = v * 10 + (*s - '0');
		if (v > INT32_MAX / 1000)
			return -1;
	}
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9'; s++, digits++) {
			if (decimals < 3)
				v = v * 10 + (*s - '0');
			else if (decimals == 3)
				up = *s >= '5';
			decimals++;
		}
	}
	if (digits == 0 || *s != '\0')
		return -1;
	for (; decimals < 3; decimals++)
		v *= 10;
	v += up;
	if (v > INT32_MAX)
		return -1;
	*out = (int32_t)(neg ? -v : v);
	return 0;
}

int
facts_stasysmo(const char *dir, int32_t milli[4])
{
	struct stat	 st;
	struct timespec	 now, newest = { 0, 0 };
	char		 path[PATH_MAX], buf[FACTS_NUM_MAX];
	int		 i, any = 0;

	for (i = 0; i < FACTS_NMETRICS; i++) {
		milli[i] = 0;
		if (facts_join(path, sizeof(path), dir,
		    facts_stasysmo_files[i]) == -1)
			return -1;
		memset(&st, 0, sizeof(st));
		/* Unreadable or unparsable counts as 0 (§3.4). */
		if (facts_read(path, 0, buf, sizeof(buf), &st) == 0 &&
		    facts_parse_milli(facts_trim(buf), &milli[i]) == -1)
			milli[i] = 0;
		if (st.st_mtim.tv_sec > newest.tv_sec ||
		    (st.st_mtim.tv_sec == newest.tv_sec &&
		    st.st_mtim.tv_nsec > newest.tv_nsec))
			newest = st.st_mtim;
		if (milli[i] != 0)
			any = 1;
	}
	if (clock_gettime(CLOCK_REALTIME, &now) == -1)
		goto fail;
	/* The newest file counts: a writer may update only what changed. */
	if (now.tv_sec - newest.tv_sec > FACTS_STALE_S ||
	    (now.tv_sec - newest.tv_sec == FACTS_STALE_S &&
	    now.tv_nsec > newest.tv_nsec)) {
		errno = ESTALE;
		goto fail;
	}
	if (!any) {
		errno = ENODATA;
		goto fail;
	}
	return 0;
 fail:
	for (i = 0; i < FACTS_NMETRICS; i++)
		milli[i] = 0;
	return -1;
}

/* round(1000 * num / den): a percentage in tenths, or a load in tenths. */
static int32_t
facts_permille(uint64_t num, uint64_t den)
{
	if (num > den)
		num = den;
	/* Halving both keeps num * 1000 + den / 2 within 64 bits. */
	while (den > UINT64_MAX / 2000) {
		num >>= 1;
		den >>= 1;
	}
	if (den == 0)
		return 0;
	return (int32_t)((num * 1000 + den / 2) / den);
}

#ifdef __linux__
static uint64_t
facts_now_ms(void)
{
	struct timespec	 ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return 0;
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The aggregate "cpu" line of /proc/stat. */
static int
facts_cpu_sample(struct facts_cpu *c)
{
	char		 line[512], *p, *end;
	uint64_t	 v[8] = { 0 };
	FILE		*fp;
	int		 i, n = 0, ok;

	if ((fp = fopen("/proc/stat", "re")) == NULL)
		return -1;
	ok = fgets(line, sizeof(line), fp) != NULL;
	fclose(fp);
	if (!ok || strncmp(line, "cpu ", 4) != 0) {
		errno = EINVAL;
		return -1;
	}
	/* user nice system idle iowait irq softirq steal; guest is in user. */
	for (p = line + 3, i = 0; i < 8; i++, n++) {
		while (*p == ' ')
			p++;
		if (*p < '0' || *p > '9')
			break;
		errno = 0;
		v[i] = strtoull(p, &end, 10);
		if (errno != 0)
			return -1;
		p = end;
	}
	if (n < 4) {
		errno = EINVAL;
		return -1;
	}
	c->busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
	c->total = c->busy + v[3] + v[4];
	c->at_ms = facts_now_ms();
	c->valid = 1;
	return 0;
}

static int
facts_meminfo_field(const char *line, const char *key, uint64_t *v)
{
	size_t	 len = strlen(key);
	char	*end;

	if (strncmp(line, key, len) != 0 || line[len] != ':')
		return 0;
	errno = 0;
	*v = strtoull(line + len + 1, &end, 10);
	return errno == 0 && end != line + len + 1;
}

/* §3.4: used memory and swap from /proc/meminfo, in tenths of a %. */
static int
facts_mem_sample(int32_t *ram, int32_t *swap)
{
	static const char *const keys[] = {
		"MemTotal", "MemAvailable", "SwapTotal", "SwapFree"
	};
	uint64_t	 v[4] = { 0 };
	char		 line[256];
	FILE		*fp;
	unsigned int	 seen = 0, i;

	if ((fp = fopen("/proc/meminfo", "re")) == NULL)
		return -1;
	while (seen != 0xf && facts_getline(fp, line, sizeof(line)))
		for (i = 0; i < nitems(keys); i++)
			if (facts_meminfo_field(line, keys[i], &v[i]))
				seen |= 1U << i;
	fclose(fp);
	if ((seen & 0x3) != 0x3 || v[0] == 0 || v[1] > v[0]) {
		errno = EINVAL;
		return -1;
	}
	*ram = facts_permille(v[0] - v[1], v[0]);
	*swap = 0;		/* no swap configured */
	if ((seen & 0xc) == 0xc && v[2] != 0 && v[3] <= v[2])
		*swap = facts_permille(v[2] - v[3], v[2]);
	return 0;
}
#else
/*
 * macOS (host_statistics tick deltas, hw.memsize, vm.swapusage) is not
 * implemented: only the load average is reported natively there, and
 * StaSysMo stays the source for the rest.
 */
static int
facts_cpu_sample(struct facts_cpu *c)
{
	errno = ENOSYS;
	return -1;
}

static int
facts_mem_sample(int32_t *ram, int32_t *swap)
{
	errno = ENOSYS;
	return -1;
}
#endif

/*
 * A /proc/stat sample, taken on the exec-worker's timer and never in a
 * request: the busy share between the baseline and this sample becomes
 * the figure every snapshot reports until the next tick.  Samples closer
 * than FACTS_CPU_MIN_MS would be a handful of ticks' noise, so they leave
 * the baseline alone; counters that went back (CPU hotplug) restart it.
 */
int
facts_cpu_tick(struct facts *f)
{
	struct facts_cpu	 now;

	if (facts_cpu_sample(&now) == -1) {
		f->cpu.valid = 0;
		return -1;
	}
	if (!f->cpu.valid || now.total < f->cpu.total ||
	    now.busy < f->cpu.busy || now.at_ms < f->cpu.at_ms) {
		f->cpu = now;
		return 0;
	}
	if (now.at_ms - f->cpu.at_ms < FACTS_CPU_MIN_MS)
		return 0;
	f->cpu_tenths = facts_permille(now.busy - f->cpu.busy,
	    now.total - f->cpu.total);
	f->cpu_share_valid = 1;
	f->cpu = now;
	return 0;
}

/*
 * Never waits: the CPU share is the one the last ticks measured.  Before
 * the first share exists, one tick is tried now (a read, no sleep); if
 * the baseline is too recent the CPU figure is 0 until the timer's tick.
 */
int
facts_native(struct facts *f, int32_t milli[4])
{
	double	 load;
	int32_t	 ram, swap;
	int	 ok = 0;

	memset(milli, 0, FACTS_NMETRICS * sizeof(milli[0]));
	if (!f->cpu_share_valid)
		(void)facts_cpu_tick(f);
	if (f->cpu_share_valid) {
		milli[FACTS_CPU] = f->cpu_tenths * 100;
		ok = 1;
	}
	if (facts_mem_sample(&ram, &swap) == 0) {
		milli[FACTS_RAM] = ram * 100;
		milli[FACTS_SWAP] = swap * 100;
		ok = 1;
	}
	/* The bound keeps the conversion defined (and rejects NaN). */
	if (getloadavg(&load, 1) == 1 && load >= 0.0 && load < 1e6) {
		milli[FACTS_LOAD] = (int32_t)(load * 10.0 + 0.5) * 100;
		ok = 1;
	}
	if (!ok) {
		errno = ENOSYS;
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- */
/* §3.6 and lock_hash */

int
facts_sha256_file(const char *path, char out[65])
{
	static const char	 hex[] = "0123456789abcdef";
	mbedtls_sha256_context	 ctx;
	unsigned char		 buf[16384], md[32];
	ssize_t			 n;
	size_t			 i;
	int			 fd, saved;

	out[0] = '\0';
	if ((fd = facts_open(path, 0, NULL)) == -1)
		return -1;
	mbedtls_sha256_init(&ctx);
	if (FACTS_SHA256_STARTS(&ctx) != 0)
		goto fail;
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail;
		if (n == 0)
			break;
		if (FACTS_SHA256_UPDATE(&ctx, buf, (size_t)n) != 0)
			goto fail;
	}
	if (FACTS_SHA256_FINISH(&ctx, md) != 0)
		goto fail;
	mbedtls_sha256_free(&ctx);
	close(fd);
	for (i = 0; i < sizeof(md); i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xf];
	}
	out[64] = '\0';
	return 0;
 fail:
	saved = errno;
	mbedtls_sha256_free(&ctx);
	close(fd);
	errno = saved == 0 ? EIO : saved;
	return -1;
}

/* ---------------------------------------------------------------- */
/* §3.1 and §3.2 */

void
facts_hostname(const char *override, char *out, size_t size)
{
	char	 buf[256];

	if (size == 0)
		return;
	if (override != NULL && *override != '\0') {
		strlcpy(out, override, size);
		return;
	}
	/*
	 * macOS should ask scutil for LocalHostName; running a program is
	 * not possible here, so every system uses gethostname().
	 */
	if (gethostname(buf, sizeof(buf)) == -1) {
		log_warn("%s: gethostname", __func__);
		out[0] = '\0';
		return;
	}
	buf[sizeof(buf) - 1] = '\0';
	buf[strcspn(buf, ".")] = '\0';
	strlcpy(out, buf, size);
}

/* A shell-style value: "double" (backslash escapes), 'single' or bare. */
static char *
facts_unquote(char *s)
{
	char	*r, *w;

	s = facts_trim(s);
	if (*s == '\'') {
		if ((r = strchr(s + 1, '\'')) == NULL)
			return NULL;
		*r = '\0';
		return s + 1;
	}
	if (*s != '"')
		return s;
	for (r = w = s + 1; *r != '"'; r++) {
		if (*r == '\0')
			return NULL;
		if (*r == '\\' && r[1] != '\0')
			r++;
		*w++ = *r;
	}
	*w = '\0';
	return s + 1;
}

int
facts_os_release(const char *path, char *out, size_t size)
{
	char	 line[512], *v;
	FILE	*fp;
	int	 found = 0;

	if (size == 0)
		return -1;
	strlcpy(out, "unknown", size);
	if ((fp = facts_fopen(path)) == NULL)
		return -1;
	/* Shell syntax: the last assignment wins. */
	while (facts_getline(fp, line, sizeof(line))) {
		if (strncmp(line, "VERSION_ID=", 11) != 0)
			continue;
		if ((v = facts_unquote(line + 11)) != NULL && *v != '\0' &&
		    strlcpy(out, v, size) < size)
			found = 1;
		else {
			strlcpy(out, "unknown", size);
			found = 0;
		}
	}
	fclose(fp);
	if (!found) {
		strlcpy(out, "unknown", size);
		errno = ENOENT;
		return -1;
	}
	return 0;
}

/* The <string> after <key>ProductVersion</key> (SystemVersion.plist). */
int
facts_plist_version(const char *path, char *out, size_t size)
{
	char	 buf[8192], *s, *e;

	if (size == 0)
		return -1;
	strlcpy(out, "unknown", size);
	if (facts_read(path, 0, buf, sizeof(buf), NULL) == -1)
		return -1;
	if ((s = strstr(buf, "<key>ProductVersion</key>")) == NULL)
		goto bad;
	s = facts_trim(s + strlen("<key>ProductVersion</key>"));
	if (strncmp(s, "<string>", 8) != 0)
		goto bad;
	s += 8;
	if ((e = strstr(s, "</string>")) == NULL)
		goto bad;
	*e = '\0';
	s = facts_trim(s);
	if (*s == '\0' || strlcpy(out, s, size) >= size)
		goto bad;
	return 0;
 bad:
	strlcpy(out, "unknown", size);
	errno = EINVAL;
	return -1;
}

void
facts_os_version(char *out, size_t size)
{
#ifdef __APPLE__
	(void)facts_plist_version(FACTS_MACOS_VERSION, out, size);
#else
	(void)facts_os_release(FACTS_OS_RELEASE, out, size);
#endif
}

void
facts_nixpkgs_version(const char *override, char *out, size_t size)
{
	char	 buf[256];

	if (size == 0)
		return;
	if (override != NULL && *override != '\0') {
		strlcpy(out, override, size);
		return;
	}
	out[0] = '\0';
	if (facts_read(FACTS_NIXOS_VERSION, 0, buf, sizeof(buf), NULL) == 0)
		strlcpy(out, facts_trim(buf), size);
}

/* ---------------------------------------------------------------- */
/* the snapshot */

/* The running binary as the service manager starts it (§3.6). */
static void
facts_binary(struct facts *f)
{
	char	*real;

	if (f->cfg.agent_exe[0] == '\0')
		return;
	if ((real = realpath(f->cfg.agent_exe, NULL)) == NULL) {
		log_warn("%s: %s", __func__, f->cfg.agent_exe);
		return;
	}
	/* A cut path would name another file: send none. */
	if (strlcpy(f->store_path, real, sizeof(f->store_path)) >=
	    sizeof(f->store_path)) {
		log_warnx("%s: path too long: %s", __func__, real);
		f->store_path[0] = '\0';
	} else if (facts_sha256_file(f->store_path, f->binary_hash) == -1)
		log_warn("%s: %s", __func__, f->store_path);
	free(real);
}

void
facts_init(struct facts *f, const struct ipc_exec_config *cfg)
{
	memset(f, 0, sizeof(*f));
	f->cfg = *cfg;
	/* The receiver checked these; they are only ever used as strings. */
	f->cfg.hostname[sizeof(f->cfg.hostname) - 1] = '\0';
	f->cfg.nixpkgs_version[sizeof(f->cfg.nixpkgs_version) - 1] = '\0';
	f->cfg.repo_dir[sizeof(f->cfg.repo_dir) - 1] = '\0';
	f->cfg.state_dir[sizeof(f->cfg.state_dir) - 1] = '\0';
	f->cfg.stasysmo_dir[sizeof(f->cfg.stasysmo_dir) - 1] = '\0';
	f->cfg.agent_exe[sizeof(f->cfg.agent_exe) - 1] = '\0';
	f->cfg.source_commit[sizeof(f->cfg.source_commit) - 1] = '\0';

	facts_hostname(f->cfg.hostname, f->hostname, sizeof(f->hostname));
	facts_os_version(f->os_version, sizeof(f->os_version));
	facts_nixpkgs_version(f->cfg.nixpkgs_version, f->nixpkgs_version,
	    sizeof(f->nixpkgs_version));
	facts_binary(f);
	/* The baseline the first heartbeat's CPU share is measured from. */
	if (facts_cpu_sample(&f->cpu) == -1)
		log_debug("%s: no cpu sample: %s", __func__, strerror(errno));
}

static void
facts_metrics(struct facts *f, struct ipc_facts *out)
{
	int32_t			 m[FACTS_NMETRICS];

	/* The timer keeps the CPU baseline recent for a native fallback. */
	if (f->cfg.stasysmo_dir[0] != '\0' &&
	    facts_stasysmo(f->cfg.stasysmo_dir, m) == 0)
		;
	else if (facts_native(f, m) == -1) {
		log_debug("%s: no metrics: %s", __func__, strerror(errno));
		return;
	}
	out->cpu_milli = m[FACTS_CPU];
	out->ram_milli = m[FACTS_RAM];
	out->swap_milli = m[FACTS_SWAP];
	out->load_milli = m[FACTS_LOAD];
	out->flags |= IPC_FACTF_METRICS;
}

void
facts_collect(struct facts *f, struct ipc_facts *out)
{
	char	 path[PATH_MAX], gen[8], hash[65];

	memset(out, 0, sizeof(*out));
	strlcpy(out->hostname, f->hostname, sizeof(out->hostname));
	strlcpy(out->host_type, FACTS_HOST_TYPE, sizeof(out->host_type));
	strlcpy(out->os_version, f->os_version, sizeof(out->os_version));
	strlcpy(out->nixpkgs_version, f->nixpkgs_version,
	    sizeof(out->nixpkgs_version));
	strlcpy(out->repo_dir, f->cfg.repo_dir, sizeof(out->repo_dir));
	strlcpy(out->store_path, f->store_path, sizeof(out->store_path));
	strlcpy(out->binary_hash, f->binary_hash, sizeof(out->binary_hash));
	strlcpy(out->source_commit, f->cfg.source_commit[0] != '\0' ?
	    f->cfg.source_commit : "unknown", sizeof(out->source_commit));

	/* Re-read every time: a pull moves HEAD under us. */
	if (f->cfg.repo_dir[0] != '\0') {
		if (facts_generation(f->cfg.repo_dir, gen) == 0)
			strlcpy(out->generation, gen, sizeof(out->generation));
		if (facts_join(path, sizeof(path), f->cfg.repo_dir,
		    "flake.lock") == 0 &&
		    facts_sha256_file(path, hash) == 0) {
			strlcpy(out->lock_hash, hash, sizeof(out->lock_hash));
			out->flags |= IPC_FACTF_LOCK;
		}
	}
	facts_metrics(f, out);
}
