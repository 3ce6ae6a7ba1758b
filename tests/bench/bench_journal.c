/*
 * bench_journal.c: what the journal costs.  Appends records of a few
 * sizes through the runner's writer with the shipped fsync policy (the
 * start and exit records at once, the rest at most every
 * JOURNAL_SYNC_MS) and with an fsync after every record, then reads them
 * all back.  Prints records per second; figures in docs/performance.md.
 *
 *	bench_journal [records] [dir]
 */
#include <sys/stat.h>

#include <err.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"

int	main(int, char **);

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
run(const char *base, size_t size, long n, int always)
{
	struct journal_writer	 w;
	struct journal_reader	 rd;
	struct journal_rec	 r;
	char			 dir[4096], path[4200];
	char			 line[JOURNAL_DATA_MAX];
	double			 t0, tw, tr;
	long			 got = 0;
	int			 dfd, fd;

	snprintf(dir, sizeof(dir), "%s/bench.XXXXXX", base);
	if (mkdtemp(dir) == NULL)
		err(1, "mkdtemp %s", dir);
	snprintf(path, sizeof(path), "%s/%s", dir, JOURNAL_LOCK);
	if ((fd = open(path, O_RDWR | O_CREAT, 0600)) == -1)
		err(1, "%s", path);
	close(fd);
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY)) == -1 ||
	    journal_writer_open(&w, dfd) == -1)
		err(1, "%s", dir);
	w.always_sync = always;
	memset(line, 'x', sizeof(line));
	t0 = now();
	for (long i = 0; i < n; i++)
		if (journal_append(&w, JOURNAL_STDOUT, JOURNAL_F_EOL, line,
		    size) == -1)
			err(1, "append");
	journal_writer_close(&w);
	tw = now() - t0;

	if (journal_reader_open(&rd, dir, 0) == -1)
		err(1, "reader");
	t0 = now();
	while (journal_read(&rd, &r) == JOURNAL_REC)
		got++;
	tr = now() - t0;
	journal_reader_close(&rd);
	if (got != n)
		errx(1, "read %ld of %ld", got, n);
	printf("%5zu B  %-13s write %10.0f rec/s %8.1f MiB/s   "
	    "read %10.0f rec/s\n", size, always ? "fsync each" : "fsync 1/s",
	    n / tw, n * (size + JOURNAL_HDR_SIZE) / tw / 1048576, n / tr);
	snprintf(path, sizeof(path), "%s/%s", dir, JOURNAL_FILE);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", dir, JOURNAL_LOCK);
	unlink(path);
	rmdir(dir);
	close(dfd);
}

int
main(int argc, char **argv)
{
	long		 n = argc > 1 ? atol(argv[1]) : 20000;
	const char	*dir = argc > 2 ? argv[2] : "/tmp";
	static const size_t sizes[] = { 80, 1024, JOURNAL_DATA_MAX };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		run(dir, sizes[i], n, 0);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		run(dir, sizes[i], n / 100 > 0 ? n / 100 : 1, 1);
	return 0;
}
