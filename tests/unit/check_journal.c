/*
 * check_journal.c: the job journal (docs/journal.md): record encoding,
 * torn tails at every byte offset, resuming, the delivery marker, job
 * ids, retention, the scan after a restart and the inotify follower.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "follow.h"
#include "jobs_launch.h"
#include "journal.h"
#include "testlib.h"

static char	*tmp;

static void
setup(void)
{
	tmp = tl_mkdtemp();
}

static void
teardown(void)
{
	tl_rmtree(tmp);
	free(tmp);
}

static int
dopen(const char *path)
{
	int	 fd = open(path, O_RDONLY | O_DIRECTORY);

	ck_assert_msg(fd != -1, "open %s", path);
	return fd;
}

/* Hold <dir>/lock as a runner would; close the fd to release it. */
static int
hold_lock(const char *dir)
{
	char	*p = tl_path(dir, JOURNAL_LOCK);
	int	 fd = open(p, O_RDWR | O_CREAT, 0600);

	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(flock(fd, LOCK_EX | LOCK_NB), 0);
	free(p);
	return fd;
}

/* A lock file nobody holds: a runner that has ended. */
static void
dead_lock(const char *dir)
{
	close(hold_lock(dir));
}

static size_t
enc(uint8_t *buf, uint64_t seq, int type, int flags, const char *s)
{
	struct journal_rec	 r = { .seq = seq, .mono_ns = 1000 + seq,
	    .wall_ns = 2000 + seq, .type = type, .flags = flags };
	size_t			 n;

	r.len = strlen(s);
	r.data = (const uint8_t *)s;
	n = journal_encode(buf, JOURNAL_REC_MAX, &r);
	ck_assert_uint_gt(n, 0);
	return n;
}

static void
write_bytes(const char *dir, const uint8_t *b, size_t n)
{
	char	*p = tl_path(dir, JOURNAL_FILE);
	int	 fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, b, n), (ssize_t)n);
	close(fd);
	free(p);
}

/* ---------------------------------------------------------------- */

START_TEST(test_journal_crc32)
{
	ck_assert_uint_eq(journal_crc32(0, "123456789", 9), 0xcbf43926U);
	ck_assert_uint_eq(journal_crc32(journal_crc32(0, "1234", 4),
	    "56789", 5), 0xcbf43926U);
	ck_assert_uint_eq(journal_crc32(0, "", 0), 0);
}
END_TEST

START_TEST(test_journal_roundtrip)
{
	uint8_t			 buf[JOURNAL_REC_MAX], big[JOURNAL_DATA_MAX];
	struct journal_rec	 r;
	size_t			 n, used;

	n = enc(buf, 7, JOURNAL_STDERR, JOURNAL_F_EOL, "hello\r");
	ck_assert_uint_eq(n, JOURNAL_HDR_SIZE + 6);
	ck_assert_mem_eq(buf, "NFJ1", 4);
	ck_assert_int_eq(journal_decode(buf, n, &r, &used), JOURNAL_REC);
	ck_assert_uint_eq(used, n);
	ck_assert_uint_eq(r.seq, 7);
	ck_assert_uint_eq(r.mono_ns, 1007);
	ck_assert_uint_eq(r.wall_ns, 2007);
	ck_assert_int_eq(r.type, JOURNAL_STDERR);
	ck_assert_int_eq(r.flags, JOURNAL_F_EOL);
	ck_assert_uint_eq(r.len, 6);
	ck_assert_mem_eq(r.data, "hello\r", 6);
	/* Little-endian on every host: seq 7 at offset 16. */
	ck_assert_int_eq(buf[16], 7);
	ck_assert_int_eq(buf[4], 6);

	/* The largest record; one byte more does not encode. */
	memset(big, 0xff, sizeof(big));
	r.len = JOURNAL_DATA_MAX;
	r.data = big;
	ck_assert_uint_eq(journal_encode(buf, sizeof(buf), &r),
	    JOURNAL_REC_MAX);
	ck_assert_int_eq(journal_decode(buf, sizeof(buf), &r, &used),
	    JOURNAL_REC);
	r.len = JOURNAL_DATA_MAX + 1;
	ck_assert_uint_eq(journal_encode(buf, sizeof(buf), &r), 0);
	/* A buffer too small. */
	r.len = 10;
	ck_assert_uint_eq(journal_encode(buf, JOURNAL_HDR_SIZE + 9, &r), 0);
}
END_TEST

START_TEST(test_journal_decode_bad)
{
	uint8_t			 buf[JOURNAL_REC_MAX], b[JOURNAL_REC_MAX];
	struct journal_rec	 r;
	size_t			 n, used;

	n = enc(buf, 1, JOURNAL_STDOUT, 0, "abc");
	/* Every prefix is short, never bad. */
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(journal_decode(buf, i, &r, &used),
		    JOURNAL_SHORT);
	/* Any single flipped bit is caught. */
	for (size_t i = 0; i < n; i++) {
		for (int bit = 0; bit < 8; bit++) {
			int	 st;

			memcpy(b, buf, n);
			b[i] ^= 1 << bit;
			st = journal_decode(b, n, &r, &used);
			ck_assert_msg(st == JOURNAL_BAD || (i >= 4 && i < 8 &&
			    st == JOURNAL_SHORT), "byte %zu bit %d: %d", i,
			    bit, st);
		}
	}
	/* A valid CRC over an unknown type or flag is still refused. */
	r = (struct journal_rec){ .type = 9, .len = 0 };
	n = journal_encode(b, sizeof(b), &r);
	ck_assert_int_eq(journal_decode(b, n, &r, &used), JOURNAL_BAD);
	r = (struct journal_rec){ .type = JOURNAL_STDOUT, .flags = 2 };
	n = journal_encode(b, sizeof(b), &r);
	ck_assert_int_eq(journal_decode(b, n, &r, &used), JOURNAL_BAD);
	/* A length beyond the maximum is bad at once, not "wait for it". */
	memcpy(b, buf, JOURNAL_HDR_SIZE);
	b[4] = 0x01;
	b[5] = 0x10;	/* 4097 */
	ck_assert_int_eq(journal_decode(b, JOURNAL_HDR_SIZE, &r, &used),
	    JOURNAL_BAD);
	ck_assert_int_eq(journal_decode((const uint8_t *)"NFX", 3, &r,
	    &used), JOURNAL_BAD);
}
END_TEST

START_TEST(test_journal_parse_start_exit)
{
	uint8_t			 buf[JOURNAL_REC_MAX], p[32];
	struct journal_rec	 r;
	struct journal_start	 s;
	struct journal_exit	 x;
	size_t			 used;

	memset(p, 0, sizeof(p));
	p[0] = 0x34; p[1] = 0x12;	/* runner 0x1234 */
	p[4] = 0x78; p[5] = 0x56;	/* child 0x5678 */
	p[8] = 9;
	memcpy(p + 16, "switch", 6);
	r = (struct journal_rec){ .type = JOURNAL_START, .len = 22,
	    .data = p };
	journal_encode(buf, sizeof(buf), &r);
	ck_assert_int_eq(journal_decode(buf, sizeof(buf), &r, &used),
	    JOURNAL_REC);
	ck_assert_int_eq(journal_parse_start(&r, &s), 0);
	ck_assert_uint_eq(s.runner_pid, 0x1234);
	ck_assert_uint_eq(s.child_pid, 0x5678);
	ck_assert_uint_eq(s.start_wall_ns, 9);
	ck_assert_str_eq(s.name, "switch");
	ck_assert_int_eq(journal_parse_exit(&r, &x), -1);

	memset(p, 0, sizeof(p));
	p[0] = JOURNAL_SIGNALED;
	p[4] = 15;
	p[8] = 0x10;
	r = (struct journal_rec){ .type = JOURNAL_EXIT, .len = 16, .data = p };
	ck_assert_int_eq(journal_parse_exit(&r, &x), 0);
	ck_assert_uint_eq(x.how, JOURNAL_SIGNALED);
	ck_assert_int_eq(x.value, 15);
	ck_assert_uint_eq(x.duration_ns, 0x10);
	r.len = 15;
	ck_assert_int_eq(journal_parse_exit(&r, &x), -1);
	r.len = 16;
	p[0] = 3;
	ck_assert_int_eq(journal_parse_exit(&r, &x), -1);
}
END_TEST

/* The writer's records, read back incrementally while it "runs". */
START_TEST(test_journal_write_read)
{
	struct journal_writer	 w;
	struct journal_reader	 rd;
	struct journal_rec	 r;
	struct journal_exit	 x;
	uint8_t			 xb[16] = { JOURNAL_EXITED, 0, 0, 0, 3 };
	int			 dfd, lfd;

	lfd = hold_lock(tmp);
	dfd = dopen(tmp);
	ck_assert_int_eq(journal_reader_open(&rd, tmp, 0), 0);
	/* No journal yet, runner alive: wait. */
	ck_assert_int_eq(journal_read(&rd, &r), JOURNAL_WAIT);
	ck_assert_int_eq(journal_writer_open(&w, dfd), 0);
	ck_assert_int_eq(journal_read(&rd, &r), JOURNAL_WAIT);
	ck_assert_int_eq(journal_append(&w, JOURNAL_STDOUT, JOURNAL_F_EOL,
	    "one", 3), 0);
	ck_assert_int_eq(journal_read(&rd, &r), JOURNAL_REC);
	ck_assert_uint_eq(r.seq, 0);
	ck_assert_mem_eq(r.data, "one", 3);
	ck_assert_int_eq(journal_read(&rd, &r), JOURNAL_WAIT);
	ck_assert_int_eq(journal_append(&w, JOURNAL_STDERR, 0, "two", 3), 0);
	ck_assert_int_eq(journal_append(&w, JOURNAL_STDOUT, 0, "", 0), 0);
	ck_assert_int_eq(journal_read(&rd, &r), JOURNAL_REC);
	ck_assert_uint_eq(r.seq, 1);
	ck_assert_int_eq(r.type, JOURNAL_STDERR);
	ck_assert_int_eq(journal_read(&rd, &r), JOURNAL_REC);
	ck_assert_uint_eq(r.seq, 2);
	ck_assert_uint_eq(r.len, 0);
	ck_assert_int_eq(journal_append(&w, JOURNAL_EXIT, 0, xb, 16), 0);
	ck_assert_uint_eq(w.dirty, 0);		/* the exit record is synced */
	journal_writer_close(&w);
	close(lfd);
	ck_assert_int_eq(journal_read(&rd, &r), JOURNAL_REC);
	ck_assert_int_eq(journal_parse_exit(&r, &x), 0);
	ck_assert_int_eq(x.value, 3);
	ck_assert_int_eq(journal_read(&rd, &r), JOURNAL_END);
	ck_assert_int_eq(journal_read(&rd, &r), JOURNAL_END);
	journal_reader_close(&rd);

	/* One writer per journal, ever. */
	ck_assert_int_eq(journal_writer_open(&w, dfd), -1);
	ck_assert_int_eq(errno, EEXIST);
	close(dfd);
}
END_TEST

/*
 * Cut a journal at every byte offset: the reader returns exactly the
 * whole records before the cut, then waits while the lock is held, and
 * reports the tail truncated once it is free.
 */
START_TEST(test_journal_torn_every_offset)
{
	uint8_t			 buf[8 * JOURNAL_REC_MAX];
	size_t			 ends[8], total = 0, k = 0;
	struct journal_reader	 rd;
	struct journal_rec	 r;
	const char		*lines[] = { "first", "", "third line", "x" };
	uint8_t			 xb[16] = { JOURNAL_EXITED };
	int			 lfd, st;

	for (size_t i = 0; i < nitems(lines); i++) {
		total += enc(buf + total, i, i % 2 ? JOURNAL_STDERR :
		    JOURNAL_STDOUT, JOURNAL_F_EOL, lines[i]);
		ends[k++] = total;
	}
	{
		struct journal_rec	 x = { .seq = k, .type = JOURNAL_EXIT,
		    .len = 16, .data = xb };

		total += journal_encode(buf + total, JOURNAL_REC_MAX, &x);
		ends[k++] = total;
	}
	for (size_t cut = 0; cut <= total; cut++) {
		size_t	 whole = 0;

		while (whole < k && ends[whole] <= cut)
			whole++;
		for (int alive = 1; alive >= 0; alive--) {
			write_bytes(tmp, buf, cut);
			lfd = alive ? hold_lock(tmp) : -1;
			if (!alive)
				dead_lock(tmp);
			ck_assert_int_eq(journal_reader_open(&rd, tmp, 0), 0);
			for (size_t i = 0; i < whole; i++) {
				ck_assert_int_eq(journal_read(&rd, &r),
				    JOURNAL_REC);
				ck_assert_uint_eq(r.seq, i);
			}
			st = journal_read(&rd, &r);
			if (whole == k)
				ck_assert_int_eq(st, JOURNAL_END);
			else if (alive)
				ck_assert_msg(st == JOURNAL_WAIT,
				    "cut %zu alive: %d", cut, st);
			else
				ck_assert_msg(st == JOURNAL_TRUNCATED,
				    "cut %zu dead: %d", cut, st);
			journal_reader_close(&rd);
			if (lfd != -1)
				close(lfd);
		}
	}
}
END_TEST

/* A reader that waited on a torn tail goes on once the rest arrives. */
START_TEST(test_journal_incremental_bytes)
{
	uint8_t			 buf[4 * JOURNAL_REC_MAX];
	struct journal_reader	 rd;
	struct journal_rec	 r;
	size_t			 total = 0;
	uint64_t		 got = 0;
	char			*p;
	int			 fd, lfd, st;

	for (int i = 0; i < 3; i++)
		total += enc(buf + total, i, JOURNAL_STDOUT, JOURNAL_F_EOL,
		    "some line");
	lfd = hold_lock(tmp);
	p = tl_path(tmp, JOURNAL_FILE);
	fd = open(p, O_WRONLY | O_CREAT | O_APPEND, 0600);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(journal_reader_open(&rd, tmp, 0), 0);
	for (size_t i = 0; i < total; i++) {
		ck_assert_int_eq(write(fd, buf + i, 1), 1);
		while ((st = journal_read(&rd, &r)) == JOURNAL_REC)
			ck_assert_uint_eq(r.seq, got++);
		ck_assert_int_eq(st, JOURNAL_WAIT);
	}
	ck_assert_uint_eq(got, 3);
	/* A gap in the sequence is corruption: never read past it. */
	total = enc(buf, 5, JOURNAL_STDOUT, 0, "skipped ahead");
	ck_assert_int_eq(write(fd, buf, total), (ssize_t)total);
	ck_assert_int_eq(journal_read(&rd, &r), JOURNAL_WAIT);
	close(lfd);
	ck_assert_int_eq(journal_read(&rd, &r), JOURNAL_TRUNCATED);
	journal_reader_close(&rd);
	close(fd);
	free(p);
}
END_TEST

/* From a sequence onward, across a journal many windows long. */
START_TEST(test_journal_resume_big)
{
	struct journal_writer	 w;
	struct journal_reader	 rd;
	struct journal_rec	 r;
	char			 line[JOURNAL_DATA_MAX];
	uint64_t		 n = 200, want;
	int			 dfd, st;

	dead_lock(tmp);
	dfd = dopen(tmp);
	ck_assert_int_eq(journal_writer_open(&w, dfd), 0);
	for (uint64_t i = 0; i < n; i++) {
		memset(line, 'a' + i % 26, sizeof(line));
		ck_assert_int_eq(journal_append(&w, JOURNAL_STDOUT, 0, line,
		    i % 3 == 0 ? sizeof(line) : i), 0);
	}
	journal_writer_close(&w);
	close(dfd);
	for (uint64_t from = 0; from <= n; from += 37) {
		ck_assert_int_eq(journal_reader_open(&rd, tmp, from), 0);
		want = from;
		while ((st = journal_read(&rd, &r)) == JOURNAL_REC) {
			ck_assert_uint_eq(r.seq, want);
			ck_assert_uint_eq(r.len, want % 3 == 0 ?
			    sizeof(line) : want);
			if (r.len > 0)
				ck_assert_int_eq(r.data[r.len - 1],
				    'a' + want % 26);
			want++;
		}
		/* No exit record and the runner is gone. */
		ck_assert_int_eq(st, JOURNAL_TRUNCATED);
		ck_assert_uint_eq(want, n);
		journal_reader_close(&rd);
	}
}
END_TEST

START_TEST(test_journal_not_started)
{
	struct journal_reader	 rd;
	struct journal_rec	 r;

	/* No lock and no journal: the runner has not started. */
	ck_assert_int_eq(journal_reader_open(&rd, tmp, 0), 0);
	ck_assert_int_eq(journal_read(&rd, &r), JOURNAL_WAIT);
	/* Lock created and released, no journal: it died early. */
	dead_lock(tmp);
	ck_assert_int_eq(journal_read(&rd, &r), JOURNAL_TRUNCATED);
	journal_reader_close(&rd);
}
END_TEST

START_TEST(test_journal_ack)
{
	struct journal_ack	 a = { 99, 1 };
	char			*p, *t;
	int			 dfd = dopen(tmp);

	ck_assert_int_eq(journal_ack_read(dfd, &a), 0);
	ck_assert_uint_eq(a.next_seq, 0);
	ck_assert_int_eq(a.done, 0);
	a.next_seq = 12345678901234ULL;
	a.done = 0;
	ck_assert_int_eq(journal_ack_write(dfd, &a), 0);
	a = (struct journal_ack){ 0, 1 };
	ck_assert_int_eq(journal_ack_read(dfd, &a), 0);
	ck_assert_uint_eq(a.next_seq, 12345678901234ULL);
	ck_assert_int_eq(a.done, 0);
	a.next_seq = 7;
	a.done = 1;
	ck_assert_int_eq(journal_ack_write(dfd, &a), 0);
	ck_assert_int_eq(journal_ack_read(dfd, &a), 0);
	ck_assert_uint_eq(a.next_seq, 7);
	ck_assert_int_eq(a.done, 1);
	p = tl_path(tmp, JOURNAL_ACK);
	t = tl_path(tmp, "ack.tmp");
	ck_assert_int_eq(access(t, F_OK), -1);	/* renamed, not left */
	{
		static const char *bad[] = { "next=1 done=2\n", "next=1\n",
		    "next=-1 done=0\n", "next=01 done=0\n", "next=1 done=0",
		    "next=1 done=0\nx", "next=99999999999999999999 done=0\n",
		    " next=1 done=0\n", "garbage" };

		for (size_t i = 0; i < nitems(bad); i++) {
			tl_write_file(p, bad[i], 0600);
			errno = 0;
			ck_assert_msg(journal_ack_read(dfd, &a) == -1 &&
			    errno == EINVAL, "%s", bad[i]);
		}
	}
	free(p);
	free(t);
	close(dfd);
}
END_TEST

START_TEST(test_journal_next_id)
{
	char		 path[4096], *jobs, *nid, *e;
	uint64_t	 id;

	jobs = tl_path(tmp, "jobs");
	nid = tl_path(jobs, JOURNAL_NEXT_ID);
	for (uint64_t want = 1; want <= 3; want++) {
		ck_assert_int_eq(journal_job_create(jobs, &id, path,
		    sizeof(path)), 0);
		ck_assert_uint_eq(id, want);
	}
	e = tl_path(jobs, "0000000003");
	ck_assert_str_eq(path, e);
	ck_assert_int_eq(access(e, F_OK), 0);
	free(e);
	{
		FILE	*f = fopen(nid, "r");
		char	 line[32];

		ck_assert_ptr_nonnull(f);
		ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
		ck_assert_str_eq(line, "4\n");
		fclose(f);
	}
	/* A lost counter: the directories keep ids from being reused. */
	ck_assert_int_eq(unlink(nid), 0);
	ck_assert_int_eq(journal_job_create(jobs, &id, path, sizeof(path)), 0);
	ck_assert_uint_eq(id, 4);
	/* A counter ahead of the directories wins. */
	tl_write_file(nid, "41\n", 0600);
	ck_assert_int_eq(journal_job_create(jobs, &id, path, sizeof(path)), 0);
	ck_assert_uint_eq(id, 41);
	/* A counter that is not a number is an error, not a restart at 1. */
	tl_write_file(nid, "4x\n", 0600);
	ck_assert_int_eq(journal_job_create(jobs, &id, path, sizeof(path)),
	    -1);
	free(nid);
	free(jobs);
}
END_TEST

/* Jobs 1..6: 2 running, 4 undelivered, the rest finished and delivered. */
static char *
make_jobs(int *lockfd)
{
	struct journal_ack	 a;
	char			 path[4096], *jobs = tl_path(tmp, "jobs");
	uint64_t		 id;
	int			 dfd;

	for (int i = 1; i <= 6; i++) {
		ck_assert_int_eq(journal_job_create(jobs, &id, path,
		    sizeof(path)), 0);
		if (i == 2) {
			*lockfd = hold_lock(path);
		} else {
			dead_lock(path);
		}
		write_bytes(path, (const uint8_t *)"", 0);
		dfd = dopen(path);
		a.next_seq = i * 10;
		a.done = i != 4;
		ck_assert_int_eq(journal_ack_write(dfd, &a), 0);
		close(dfd);
	}
	/* Not a job directory: left alone. */
	snprintf(path, sizeof(path), "%s/000000001", jobs);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	return jobs;
}

START_TEST(test_journal_retain)
{
	char	*jobs, *p;
	int	 lfd, keep[7];

	jobs = make_jobs(&lfd);
	/* Keep the newest 2 (5, 6); of the older ones delete 1 and 3. */
	ck_assert_int_eq(journal_retain(jobs, 2), 2);
	for (int i = 1; i <= 6; i++) {
		char	 name[16];

		snprintf(name, sizeof(name), "%010d", i);
		p = tl_path(jobs, name);
		keep[i] = access(p, F_OK) == 0;
		free(p);
	}
	ck_assert(!keep[1] && keep[2] && !keep[3] && keep[4] && keep[5] &&
	    keep[6]);
	/* Keeping 0 still never removes the running or undelivered ones. */
	ck_assert_int_eq(journal_retain(jobs, 0), 2);
	ck_assert_int_eq(journal_retain(jobs, 0), 0);
	close(lfd);
	/* Released: job 2 is finished and delivered now. */
	ck_assert_int_eq(journal_retain(jobs, 0), 1);
	p = tl_path(jobs, "0000000004");
	ck_assert_int_eq(access(p, F_OK), 0);
	free(p);
	p = tl_path(jobs, "000000001");
	ck_assert_int_eq(access(p, F_OK), 0);
	free(p);
	/* The default keeps 100. */
	ck_assert_int_eq(journal_retain(jobs, JOURNAL_KEEP_DEFAULT), 0);
	free(jobs);
}
END_TEST

START_TEST(test_journal_scan)
{
	struct journal_job	*v;
	size_t			 n;
	char			*jobs;
	int			 lfd;

	jobs = make_jobs(&lfd);
	ck_assert_int_eq(journal_scan(jobs, &v, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(v[0].id, 2);
	ck_assert_int_eq(v[0].running, 1);
	ck_assert_uint_eq(v[0].ack.next_seq, 20);
	ck_assert_uint_eq(v[1].id, 4);
	ck_assert_int_eq(v[1].running, 0);
	ck_assert_int_eq(v[1].ack.done, 0);
	ck_assert_uint_eq(v[1].ack.next_seq, 40);
	free(v);
	close(lfd);
	ck_assert_int_eq(journal_scan(jobs, &v, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(v[0].started, 1);
	free(v);
	/* A launch that never happened: listed, not started. */
	{
		char		 path[4096];
		uint64_t	 id;

		ck_assert_int_eq(journal_job_create(jobs, &id, path,
		    sizeof(path)), 0);
		ck_assert_int_eq(journal_scan(jobs, &v, &n), 0);
		ck_assert_uint_eq(n, 2);
		ck_assert_uint_eq(v[1].id, 7);
		ck_assert_int_eq(v[1].started, 0);
		ck_assert_int_eq(v[1].running, 0);
		free(v);
	}
	/* No jobs directory yet: nothing to adopt, not an error. */
	free(jobs);
	jobs = tl_path(tmp, "none");
	ck_assert_int_eq(journal_scan(jobs, &v, &n), 0);
	ck_assert_uint_eq(n, 0);
	free(v);
	free(jobs);
}
END_TEST

/* Lines of journal_print()'s output without their timestamps. */
static int
text_lines(const char *text, char lines[][64], int max)
{
	const char	*p = text, *nl;
	int		 n = 0;

	for (; *p != '\0' && n < max; p = nl + 1, n++) {
		nl = strchr(p, '\n');
		ck_assert_ptr_nonnull(nl);
		/* 2026-12-01T20:07:40.123Z and a space */
		ck_assert_msg(nl - p > 25 && p[4] == '-' && p[10] == 'T' &&
		    p[19] == '.' && p[23] == 'Z' && p[24] == ' ', "%.*s",
		    (int)(nl - p), p);
		snprintf(lines[n], 64, "%.*s", (int)(nl - p - 25), p + 25);
	}
	return n;
}

START_TEST(test_journal_print)
{
	struct journal_writer	 w;
	uint8_t			 xb[16] = { JOURNAL_EXITED, 0, 0, 0, 3 };
	char			*text, lines[16][64], big[JOURNAL_DATA_MAX];
	size_t			 len;
	FILE			*f;
	int			 dfd = dopen(tmp), n, lfd;

	lfd = hold_lock(tmp);
	ck_assert_int_eq(journal_writer_open(&w, dfd), 0);
	ck_assert_int_eq(journal_append(&w, JOURNAL_START, 0,
	    "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0pull", 20), 0);
	ck_assert_int_eq(journal_append(&w, JOURNAL_STDOUT, JOURNAL_F_EOL,
	    "hello", 5), 0);
	ck_assert_int_eq(journal_append(&w, JOURNAL_STDOUT, 0, "ab", 2), 0);
	ck_assert_int_eq(journal_append(&w, JOURNAL_STDERR, JOURNAL_F_EOL,
	    "warn", 4), 0);
	ck_assert_int_eq(journal_append(&w, JOURNAL_STDOUT, JOURNAL_F_EOL,
	    "cd", 2), 0);
	ck_assert_int_eq(journal_append(&w, JOURNAL_STDOUT, 0, "tail", 4), 0);

	/* While it runs: the whole lines so far, no status. */
	ck_assert_ptr_nonnull(f = open_memstream(&text, &len));
	ck_assert_int_eq(journal_print(tmp, f), JOURNAL_WAIT);
	fclose(f);
	n = text_lines(text, lines, 16);
	free(text);
	ck_assert_int_eq(n, 3);
	ck_assert_str_eq(lines[0], "stdout hello");
	ck_assert_str_eq(lines[1], "stderr warn");
	ck_assert_str_eq(lines[2], "stdout abcd");

	ck_assert_int_eq(journal_append(&w, JOURNAL_EXIT, 0, xb, 16), 0);
	journal_writer_close(&w);
	close(lfd);
	ck_assert_ptr_nonnull(f = open_memstream(&text, &len));
	ck_assert_int_eq(journal_print(tmp, f), JOURNAL_END);
	fclose(f);
	n = text_lines(text, lines, 16);
	free(text);
	ck_assert_int_eq(n, 5);
	ck_assert_str_eq(lines[3], "stdout tail");
	ck_assert_ptr_nonnull(strstr(lines[4], "status exit=3"));

	/* A runner gone without an exit record; a line over 32 KiB. */
	tl_rmtree(tmp);
	ck_assert_int_eq(mkdir(tmp, 0700), 0);
	close(dfd);
	dfd = dopen(tmp);
	dead_lock(tmp);
	ck_assert_int_eq(journal_writer_open(&w, dfd), 0);
	memset(big, 'z', sizeof(big));
	for (int i = 0; i < 9; i++)
		ck_assert_int_eq(journal_append(&w, JOURNAL_STDERR, 0, big,
		    sizeof(big)), 0);
	ck_assert_int_eq(journal_append(&w, JOURNAL_STDERR, JOURNAL_F_EOL,
	    "", 0), 0);
	journal_writer_close(&w);
	ck_assert_ptr_nonnull(f = open_memstream(&text, &len));
	ck_assert_int_eq(journal_print(tmp, f), JOURNAL_TRUNCATED);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(text, " stderr zzzz"));
	ck_assert_ptr_nonnull(strstr(text, "zzz [...]\n"));
	ck_assert_uint_eq(len, 25 + 7 + JOURNAL_TEXT_LINE_MAX + 7 +
	    strlen(strchr(text, '\n') + 1));
	ck_assert_ptr_nonnull(strstr(text, "status truncated"));
	free(text);
	close(dfd);
}
END_TEST

/* ---------------------------------------------------------------- */
/* The follower */

struct fstate {
	struct ev_loop		*loop;
	struct follow		 f;
	struct journal_writer	 w;
	int			 dfd;
	int			 appends, want, idle, acks, seen, ending;
	uint64_t		 last_id;
	ev_timer		 tick, stop;
};

static void
fs_cb(uint64_t id, void *arg)
{
	struct fstate	*s = arg;

	s->last_id = id;
	s->seen = s->appends;
	if ((!s->idle && s->appends == s->want) || s->ending)
		ev_break(s->loop, EVBREAK_ALL);
}

static void
fs_tick_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct fstate		*s = t->data;
	struct journal_ack	 a = { 1, 0 };

	if (s->appends < s->want) {
		/* One at a time, so a loaded machine cannot fold two. */
		if (s->seen < s->appends)
			return;
		ck_assert_int_eq(journal_append(&s->w, JOURNAL_STDOUT,
		    JOURNAL_F_EOL, "x", 1), 0);
		s->appends++;
	} else if (s->idle) {
		/* Only our own marker changes now: it must not call back. */
		ck_assert_int_eq(journal_ack_write(s->dfd, &a), 0);
		s->acks++;
	} else {
		ev_timer_stop(loop, t);
	}
}

static void
fs_stop_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

START_TEST(test_journal_follow)
{
	struct fstate	 s;
	uint64_t	 calls;
	/*
	 * A job directory of its own below tmp: the kqueue emulation of
	 * -Dfollow=kqueue-emulated also watches the parent, which must not
	 * be the machine's shared /tmp.
	 */
	char		*job = tl_path(tmp, "0000000042");

	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(mkdir(job, 0700), 0);
	s.loop = ev_loop_new(EVFLAG_AUTO);
	s.dfd = dopen(job);
	ck_assert_int_eq(follow_init(&s.f, s.loop, fs_cb, &s), 0);
	ck_assert_int_eq(follow_add(&s.f, 42, job), 0);
	ck_assert_int_eq(journal_writer_open(&s.w, s.dfd), 0);
	s.want = 5;
	ev_timer_init(&s.tick, fs_tick_cb, 0.1, 0.1);
	s.tick.data = &s;
	ev_timer_start(s.loop, &s.tick);
	ev_timer_init(&s.stop, fs_stop_cb, 20, 0);	/* a guard */
	ev_timer_start(s.loop, &s.stop);
	ev_run(s.loop, 0);
	ck_assert_int_eq(s.appends, 5);
	ck_assert_int_eq(s.seen, 5);
	ck_assert_uint_eq(s.last_id, 42);
	ev_timer_stop(s.loop, &s.tick);
	ev_timer_stop(s.loop, &s.stop);
	/* One call per append, and one for the journal's creation at most. */
	ck_assert_msg(s.f.calls >= 5 && s.f.calls <= 6, "calls %" PRIu64,
	    s.f.calls);
	ck_assert_uint_le(s.f.wakeups, s.f.calls + 1);

	/*
	 * Idle, but for our own marker written every 100 ms: its events
	 * make the descriptor readable, and are dropped without a call.
	 */
	calls = s.f.calls;
	s.idle = 1;
	ev_timer_start(s.loop, &s.tick);
	ev_timer_set(&s.stop, 1.0, 0);
	ev_timer_start(s.loop, &s.stop);
	ev_run(s.loop, 0);
	ev_timer_stop(s.loop, &s.tick);
	ck_assert_int_ge(s.acks, 3);
	ck_assert_uint_eq(s.f.calls, calls);

	/*
	 * The runner's end: its files are closed, we hear it (the kqueue
	 * follower by its tick, -Dfollow=kqueue-emulated).
	 */
	calls += s.f.ticks;
	s.ending = 1;
	journal_writer_close(&s.w);
	ev_timer_set(&s.stop, 3.0, 0);
	ev_timer_start(s.loop, &s.stop);
	ev_run(s.loop, 0);
	ev_timer_stop(s.loop, &s.stop);
	ck_assert_uint_gt(s.f.calls + s.f.ticks, calls);
	s.ending = 0;

	/* Removed: silent again. */
	follow_remove(&s.f, 42);
	calls = s.f.calls;
	write_bytes(job, (const uint8_t *)"zz", 2);
	ev_timer_set(&s.stop, 0.3, 0);
	ev_timer_start(s.loop, &s.stop);
	ev_run(s.loop, 0);
	ck_assert_uint_eq(s.f.calls, calls);
	follow_close(&s.f);
	close(s.dfd);
	ev_loop_destroy(s.loop);
	free(job);
}
END_TEST

/* ---------------------------------------------------------------- */
/* The launch command */

START_TEST(test_journal_launch_mode)
{
	ck_assert_int_eq(jobs_launch_mode("abc", NULL, 0), JOBS_SYSTEMD);
	ck_assert_int_eq(jobs_launch_mode(NULL, "/run/n", 0), JOBS_SYSTEMD);
	ck_assert_int_eq(jobs_launch_mode("abc", "/run/n", 1000),
	    JOBS_DETACH);
	ck_assert_int_eq(jobs_launch_mode(NULL, NULL, 0), JOBS_DETACH);
	ck_assert_int_eq(jobs_launch_mode("", "", 0), JOBS_DETACH);
}
END_TEST

static char *
join(char **v)
{
	static char	 buf[4096];

	buf[0] = '\0';
	for (; *v != NULL; v++) {
		strlcat(buf, *v, sizeof(buf));
		strlcat(buf, "|", sizeof(buf));
	}
	return buf;
}

START_TEST(test_journal_launch_argv)
{
	char *const	 argv[] = { "git", "-C", "/r e", "fetch", "--", "x;y",
	    NULL };
	char *const	 envp[] = { "PATH=/bin", "LC_ALL=C.UTF-8", NULL };
	struct jobs_launch l = { .id = 42, .runner = "/lib/run",
	    .jobdir = "/s/jobs/0000000042", .name = "pull", .cwd = "/r e",
	    .argv = argv, .envp = envp };
	char		**v;

	v = jobs_launch_argv(&l, JOBS_SYSTEMD);
	ck_assert_str_eq(join(v), "systemd-run|--unit=nixfleet-agent-job-42|"
	    "--collect|--quiet|--no-ask-password|--service-type=exec|"
	    "--setenv=PATH=/bin|--setenv=LC_ALL=C.UTF-8|--|/lib/run|-n|pull|"
	    "-C|/r e|/s/jobs/0000000042|git|-C|/r e|fetch|--|x;y|");
	jobs_launch_free(v);
	l.name = NULL;
	l.cwd = NULL;
	v = jobs_launch_argv(&l, JOBS_DETACH);
	ck_assert_str_eq(join(v), "/lib/run|/s/jobs/0000000042|git|-C|/r e|"
	    "fetch|--|x;y|");
	jobs_launch_free(v);
}
END_TEST

static Suite *
journal_suite(void)
{
	Suite	*s = suite_create("journal");
	TCase	*tc;

	tc = tcase_create("format");
	tcase_add_test(tc, test_journal_crc32);
	tcase_add_test(tc, test_journal_roundtrip);
	tcase_add_test(tc, test_journal_decode_bad);
	tcase_add_test(tc, test_journal_parse_start_exit);
	suite_add_tcase(s, tc);

	tc = tcase_create("reader");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_journal_write_read);
	tcase_add_test(tc, test_journal_torn_every_offset);
	tcase_add_test(tc, test_journal_incremental_bytes);
	tcase_add_test(tc, test_journal_resume_big);
	tcase_add_test(tc, test_journal_not_started);
	tcase_add_test(tc, test_journal_print);
	suite_add_tcase(s, tc);

	tc = tcase_create("jobsdir");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_journal_ack);
	tcase_add_test(tc, test_journal_next_id);
	tcase_add_test(tc, test_journal_retain);
	tcase_add_test(tc, test_journal_scan);
	suite_add_tcase(s, tc);

	tc = tcase_create("follow");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_journal_follow);
	suite_add_tcase(s, tc);

	tc = tcase_create("launch");
	tcase_add_test(tc, test_journal_launch_mode);
	tcase_add_test(tc, test_journal_launch_argv);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tl_run(journal_suite());
}
