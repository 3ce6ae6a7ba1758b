/*
 * fuzz_journal.c: arbitrary bytes as a job's journal.  The decoder and
 * the reader must agree on how many records the bytes hold, keep the
 * sequence contiguous, re-encode every record to the same bytes and end
 * with JOURNAL_END or JOURNAL_TRUNCATED (the lock is free: the runner is
 * gone), never overrunning their window.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char	 dir[64];

static void
fuzz_cleanup(void)
{
	char	 p[128];

	snprintf(p, sizeof(p), "%s/%s", dir, JOURNAL_FILE);
	unlink(p);
	snprintf(p, sizeof(p), "%s/%s", dir, JOURNAL_LOCK);
	unlink(p);
	rmdir(dir);
}

static void
fuzz_setup(void)
{
	char	 p[128];
	int	 fd;

	snprintf(dir, sizeof(dir), "/tmp/fuzz_journal.XXXXXX");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(p, sizeof(p), "%s/%s", dir, JOURNAL_LOCK);
	if ((fd = open(p, O_RDWR | O_CREAT, 0600)) == -1)
		abort();
	close(fd);
	atexit(fuzz_cleanup);
}

/* Decode in memory; returns the records, *end says if the last was exit. */
static uint64_t
fuzz_decode(const uint8_t *data, size_t size, int *end)
{
	uint8_t			 re[JOURNAL_REC_MAX];
	struct journal_rec	 r;
	struct journal_start	 s;
	struct journal_exit	 x;
	size_t			 off = 0, used;
	uint64_t		 n = 0;

	*end = 0;
	while (!*end && journal_decode(data + off, size - off, &r, &used) ==
	    JOURNAL_REC && r.seq == n) {
		if (used != JOURNAL_HDR_SIZE + r.len ||
		    r.len > JOURNAL_DATA_MAX || off + used > size)
			abort();
		if (journal_encode(re, sizeof(re), &r) != used ||
		    memcmp(re, data + off, used) != 0)
			abort();
		if (r.type == JOURNAL_START)
			(void)journal_parse_start(&r, &s);
		if (r.type == JOURNAL_EXIT) {
			(void)journal_parse_exit(&r, &x);
			*end = 1;
		}
		off += used;
		n++;
	}
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct journal_reader	 rd;
	struct journal_rec	 r;
	char			 p[128];
	uint64_t		 n, got = 0, from;
	int			 fd, st, end;

	if (dir[0] == '\0')
		fuzz_setup();
	n = fuzz_decode(data, size, &end);

	snprintf(p, sizeof(p), "%s/%s", dir, JOURNAL_FILE);
	if ((fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    (size > 0 && write(fd, data, size) != (ssize_t)size))
		abort();
	close(fd);
	from = size > 0 ? data[size - 1] % 4 : 0;
	if (journal_reader_open(&rd, dir, from) == -1)
		abort();
	/* Exactly the decoded records from `from` on, in order. */
	while ((st = journal_read(&rd, &r)) == JOURNAL_REC) {
		if (r.seq != from + got)
			abort();
		got++;
	}
	if (st != (end ? JOURNAL_END : JOURNAL_TRUNCATED))
		abort();
	if (got != (n > from ? n - from : 0))
		abort();
	journal_reader_close(&rd);
	return 0;
}
