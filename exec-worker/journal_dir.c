/*
 * journal_dir.c: the jobs directory, <state>/jobs: job ids, the delivery
 * marker of each job, the scan after a restart and the retention of the
 * newest jobs (the local command log).  docs/journal.md is the reference.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"

/*
 * Write name in dirfd as a whole or not at all: temp, fsync, rename,
 * fsync of the directory; without sync only temp and rename (whole or
 * not at all still, for any crash but the machine's).
 */
static int
dir_replace_sync(int dirfd, const char *name, const char *text, int sync)
{
	char	 tmp[64];
	size_t	 len = strlen(text);
	int	 fd, save;

	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600);
	if (fd == -1)
		return -1;
	if (write(fd, text, len) != (ssize_t)len || (sync && fsync(fd) == -1)) {
		save = errno;
		close(fd);
		unlinkat(dirfd, tmp, 0);
		errno = save ? save : ENOSPC;
		return -1;
	}
	close(fd);
	if (renameat(dirfd, tmp, dirfd, name) == -1)
		return -1;
	return sync ? fsync(dirfd) : 0;
}

static int
dir_replace(int dirfd, const char *name, const char *text)
{
	return dir_replace_sync(dirfd, name, text, 1);
}

/* Read a small text file; 0 with an empty buffer if it is missing. */
static int
dir_read(int dirfd, const char *name, char *buf, size_t size)
{
	ssize_t	 n;
	int	 fd;

	buf[0] = '\0';
	if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n == -1)
		return -1;
	buf[n] = '\0';
	return 0;
}

/* A decimal number without sign, spaces or leading zeros (except 0). */
static int
parse_u64(const char *s, const char **end, uint64_t *v)
{
	uint64_t	 x = 0;
	const char	*p = s;

	if (!isdigit((unsigned char)*p) || (p[0] == '0' &&
	    isdigit((unsigned char)p[1])))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		if (x > (UINT64_MAX - (*p - '0')) / 10)
			return -1;
		x = x * 10 + (*p - '0');
	}
	*v = x;
	*end = p;
	return 0;
}

/* ---------------------------------------------------------------- */
/* The delivery marker: "next=<seq> done=<0|1>\n" */

int
journal_ack_read(int dirfd, struct journal_ack *a)
{
	char		 buf[64];
	const char	*p;
	uint64_t	 done;

	a->next_seq = 0;
	a->done = 0;
	if (dir_read(dirfd, JOURNAL_ACK, buf, sizeof(buf)) == -1)
		return -1;
	if (buf[0] == '\0')
		return 0;		/* nothing delivered yet */
	if (strncmp(buf, "next=", 5) != 0 ||
	    parse_u64(buf + 5, &p, &a->next_seq) == -1 ||
	    strncmp(p, " done=", 6) != 0 || parse_u64(p + 6, &p, &done) ==
	    -1 || done > 1 || strcmp(p, "\n") != 0) {
		a->next_seq = 0;
		errno = EINVAL;
		return -1;
	}
	a->done = done;
	return 0;
}

int
journal_ack_write(int dirfd, const struct journal_ack *a)
{
	return journal_ack_write_sync(dirfd, a, 1);
}

int
journal_ack_write_sync(int dirfd, const struct journal_ack *a, int sync)
{
	char	 buf[64];

	snprintf(buf, sizeof(buf), "next=%" PRIu64 " done=%d\n", a->next_seq,
	    a->done ? 1 : 0);
	return dir_replace_sync(dirfd, JOURNAL_ACK, buf, sync);
}

/* ---------------------------------------------------------------- */
/* Job ids and directories */

int
journal_job_path(const char *jobsdir, uint64_t id, char *path, size_t size)
{
	int	 n;

	n = snprintf(path, size, "%s/%0*" PRIu64, jobsdir, JOURNAL_ID_DIGITS,
	    id);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* A job directory's name: exactly JOURNAL_ID_DIGITS digits. */
static int
dir_job_id(const char *name, uint64_t *id)
{
	uint64_t	 x = 0;
	int		 i;

	for (i = 0; name[i] != '\0'; i++) {
		if (!isdigit((unsigned char)name[i]) ||
		    i >= JOURNAL_ID_DIGITS)
			return -1;
		x = x * 10 + (name[i] - '0');
	}
	if (i != JOURNAL_ID_DIGITS || x == 0)
		return -1;
	*id = x;
	return 0;
}

static int
cmp_id(const void *a, const void *b)
{
	uint64_t	 x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Every job id in jobsdir, ascending. */
static int
dir_list(const char *jobsdir, uint64_t **ids, size_t *n)
{
	DIR		*d;
	struct dirent	*de;
	uint64_t	*v = NULL, *nv, id;
	size_t		 cap = 0;

	*n = 0;
	if ((d = opendir(jobsdir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (dir_job_id(de->d_name, &id) == -1)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((nv = reallocarray(v, cap, sizeof(*v))) == NULL) {
				free(v);
				closedir(d);
				return -1;
			}
			v = nv;
		}
		v[(*n)++] = id;
	}
	closedir(d);
	if (*n > 0)
		qsort(v, *n, sizeof(*v), cmp_id);
	*ids = v;
	return 0;
}

/*
 * Allocate the next job id and make its directory.  The counter in
 * <jobsdir>/next-id never goes back; the directories themselves are the
 * backstop if it was lost, so an id is never reused while its directory
 * exists.
 */
int
journal_job_create(const char *jobsdir, uint64_t *idp, char *path,
    size_t size)
{
	char		 buf[32], next[32];
	const char	*p;
	uint64_t	 id = 1, *ids;
	size_t		 n;
	int		 dirfd, rv = -1;

	if (mkdir(jobsdir, 0700) == -1 && errno != EEXIST)
		return -1;
	if ((dirfd = open(jobsdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	if (dir_read(dirfd, JOURNAL_NEXT_ID, buf, sizeof(buf)) == -1)
		goto done;
	if (buf[0] != '\0' && (parse_u64(buf, &p, &id) == -1 ||
	    strcmp(p, "\n") != 0 || id == 0)) {
		errno = EINVAL;
		goto done;
	}
	if (dir_list(jobsdir, &ids, &n) == -1)
		goto done;
	if (n > 0 && ids[n - 1] >= id)
		id = ids[n - 1] + 1;
	free(ids);
	for (;;) {
		if (journal_job_path(jobsdir, id, path, size) == -1)
			goto done;
		if (mkdir(path, 0700) == 0)
			break;
		if (errno != EEXIST)
			goto done;
		id++;
	}
	snprintf(next, sizeof(next), "%" PRIu64 "\n", id + 1);
	if (dir_replace(dirfd, JOURNAL_NEXT_ID, next) == -1) {
		rmdir(path);
		goto done;
	}
	*idp = id;
	rv = 0;
 done:
	close(dirfd);
	return rv;
}

/* State of one job directory; -1 if it cannot be opened. */
static int
dir_job_state(const char *jobsdir, uint64_t id, struct journal_job *j)
{
	char	 path[4096];
	int	 fd, alive;

	if (journal_job_path(jobsdir, id, path, sizeof(path)) == -1 ||
	    (fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	j->id = id;
	alive = journal_runner_alive(fd);
	j->running = alive == 1;
	j->started = alive != -1;
	if (journal_ack_read(fd, &j->ack) == -1) {
		/* An unreadable marker: deliver again rather than lose. */
		j->ack.next_seq = 0;
		j->ack.done = 0;
	}
	close(fd);
	return 0;
}

/*
 * After a restart: the jobs whose runner still runs and the finished
 * jobs whose status was not delivered, oldest first, each with the
 * sequence to resume from.  A job that was never `started` had its
 * launch lost (the agent died in between): its runner will not come.
 * *jobs is malloc'd; the caller frees it.
 */
int
journal_scan(const char *jobsdir, struct journal_job **jobs, size_t *njobs)
{
	struct journal_job	*v, j;
	uint64_t		*ids;
	size_t			 n;

	*jobs = NULL;
	*njobs = 0;
	if (dir_list(jobsdir, &ids, &n) == -1)
		return errno == ENOENT ? 0 : -1;
	if ((v = calloc(n ? n : 1, sizeof(*v))) == NULL) {
		free(ids);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (dir_job_state(jobsdir, ids[i], &j) == -1)
			continue;
		if (j.running || !j.ack.done)
			v[(*njobs)++] = j;
	}
	free(ids);
	*jobs = v;
	return 0;
}

/* Remove a job directory: its files (no subdirectories), then itself. */
static int
dir_remove(const char *path)
{
	DIR		*d;
	struct dirent	*de;
	int		 fd, rv = 0;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(fd, de->d_name, 0) == -1)
			rv = -1;
	}
	closedir(d);
	if (rmdir(path) == -1)
		rv = -1;
	return rv;
}

/*
 * Keep the newest `keep` jobs: of the older ones, delete those that are
 * finished and delivered.  A job whose runner holds its lock, or whose
 * status is not marked delivered, is never deleted, whatever its age.
 * Returns the number of directories deleted, or -1.
 */
int
journal_retain(const char *jobsdir, size_t keep)
{
	struct journal_job	 j;
	char			 path[4096];
	uint64_t		*ids;
	size_t			 n;
	int			 deleted = 0;

	if (dir_list(jobsdir, &ids, &n) == -1)
		return errno == ENOENT ? 0 : -1;
	for (size_t i = 0; i + keep < n; i++) {
		if (dir_job_state(jobsdir, ids[i], &j) == -1 || j.running ||
		    !j.ack.done)
			continue;
		if (journal_job_path(jobsdir, ids[i], path, sizeof(path)) ==
		    -1 || dir_remove(path) == -1)
			continue;
		deleted++;
	}
	free(ids);
	return deleted;
}
