/*
 * check_replay.c: the net-worker's window of undelivered job records
 * (spec §6.7): order, the per-job limits of 20 000 lines and 4 MiB with
 * the dropped-lines marker where the lines were, statuses never dropped,
 * duplicates from a journal replay ignored, and how far a job is acked.
 * Then the limit as the agent applies it to a replay from the journal:
 * where the exec-worker cuts a backlog (jobdrop.c), and which records
 * the net-worker accepts after the notice (jobrec_accept).
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobdrop.h"
#include "jobrec.h"
#include "replay.h"
#include "testlib.h"

static Suite	*replay_suite(void);

static void
push(struct replay *w, uint32_t job, uint64_t seq, int kind)
{
	char	 buf[32];

	snprintf(buf, sizeof(buf), "%c%llu", kind == REPLAY_STATUS ? 'S' :
	    kind == REPLAY_PROGRESS ? 'P' : 'O', (unsigned long long)seq);
	ck_assert_int_eq(replay_push(w, job, seq, kind, buf, strlen(buf)), 0);
}

/* Pop the head and check it is what is expected. */
static void
pop(struct replay *w, int kind, uint64_t seq, uint32_t dropped)
{
	const struct replay_rec	*r = replay_head(w);

	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->kind, kind);
	ck_assert_uint_eq(r->seq, seq);
	ck_assert_uint_eq(r->dropped, dropped);
	if (kind != REPLAY_DROPPED)
		ck_assert_uint_eq(strtoull(r->data + 1, NULL, 10), seq);
	replay_pop(w);
}

START_TEST(test_replay_order_and_ack)
{
	struct replay	*w = replay_new(0, 0);

	ck_assert_ptr_nonnull(w);
	ck_assert_uint_eq(replay_acked(w, 7), 0);
	push(w, 7, 1, REPLAY_PROGRESS);
	push(w, 7, 2, REPLAY_OUTPUT);
	push(w, 7, 3, REPLAY_OUTPUT);
	push(w, 7, 4, REPLAY_STATUS);
	ck_assert_uint_eq(replay_count(w), 4);
	ck_assert_uint_eq(replay_lines(w), 2);
	ck_assert_uint_eq(replay_bytes(w), 4);
	ck_assert_uint_eq(replay_acked(w, 7), 0);
	pop(w, REPLAY_PROGRESS, 1, 0);
	ck_assert_uint_eq(replay_acked(w, 7), 1);
	pop(w, REPLAY_OUTPUT, 2, 0);
	pop(w, REPLAY_OUTPUT, 3, 0);
	ck_assert_uint_eq(replay_acked(w, 7), 3);
	ck_assert_str_eq(replay_head(w)->data, "S4");
	ck_assert_uint_eq(replay_head(w)->len, 2);
	pop(w, REPLAY_STATUS, 4, 0);
	ck_assert_uint_eq(replay_acked(w, 7), 4);
	ck_assert_ptr_null(replay_head(w));
	replay_pop(w);		/* empty: harmless */
	ck_assert_uint_eq(replay_count(w), 0);
	replay_free(w);
}
END_TEST

START_TEST(test_replay_duplicates)
{
	struct replay	*w = replay_new(0, 0);

	push(w, 1, 5, REPLAY_OUTPUT);
	/* The journal replays what was not acked yet: not twice. */
	ck_assert_int_eq(replay_push(w, 1, 5, REPLAY_OUTPUT, "x", 1), 1);
	ck_assert_int_eq(replay_push(w, 1, 3, REPLAY_STATUS, "x", 1), 1);
	ck_assert_uint_eq(replay_count(w), 1);
	push(w, 1, 6, REPLAY_OUTPUT);
	ck_assert_int_eq(replay_push(w, 1, 7, REPLAY_DROPPED, "x", 1), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(replay_push(w, 1, 7, REPLAY_OUTPUT, "x", 0), -1);
	ck_assert_int_eq(replay_push(w, 1, 7, 99, "x", 1), -1);
	ck_assert_uint_eq(replay_count(w), 2);
	replay_free(w);
}
END_TEST

/* Beyond the line limit the oldest go; one marker stands for them. */
START_TEST(test_replay_line_limit)
{
	struct replay	*w = replay_new(5, 0);
	uint64_t	 s;

	push(w, 1, 1, REPLAY_PROGRESS);
	for (s = 2; s <= 9; s++)
		push(w, 1, s, REPLAY_OUTPUT);
	ck_assert_uint_eq(replay_lines(w), 5);
	ck_assert_uint_eq(replay_count(w), 7);
	push(w, 1, 10, REPLAY_STATUS);
	pop(w, REPLAY_PROGRESS, 1, 0);
	/* Nothing of the job after seq 1 may be forgotten yet. */
	ck_assert_uint_eq(replay_acked(w, 1), 1);
	pop(w, REPLAY_DROPPED, 2, 3);
	ck_assert_uint_eq(replay_acked(w, 1), 4);
	for (s = 5; s <= 9; s++)
		pop(w, REPLAY_OUTPUT, s, 0);
	pop(w, REPLAY_STATUS, 10, 0);
	ck_assert_uint_eq(replay_acked(w, 1), 10);
	replay_free(w);
}
END_TEST

START_TEST(test_replay_byte_limit)
{
	struct replay	*w = replay_new(0, 100);
	char		 line[40];
	uint64_t	 s;

	memset(line, 'x', sizeof(line));
	for (s = 1; s <= 4; s++)
		ck_assert_int_eq(replay_push(w, 1, s, REPLAY_OUTPUT, line, 30),
		    0);
	ck_assert_uint_eq(replay_bytes(w), 90);
	ck_assert_uint_eq(replay_lines(w), 3);
	/* One line larger than the limit still goes out, alone. */
	ck_assert_int_eq(replay_push(w, 1, 5, REPLAY_OUTPUT, line, 40), 0);
	ck_assert_uint_eq(replay_bytes(w), 100);
	ck_assert_int_eq(replay_push(w, 1, 6, REPLAY_OUTPUT, line, 40), 0);
	ck_assert_uint_eq(replay_lines(w), 2);
	pop(w, REPLAY_DROPPED, 1, 4);
	ck_assert_uint_eq(replay_head(w)->seq, 5);
	replay_free(w);
}
END_TEST

/* A status is never dropped, whatever floods around it. */
START_TEST(test_replay_status_kept)
{
	struct replay	*w = replay_new(2, 0);
	uint64_t	 s;

	push(w, 1, 1, REPLAY_OUTPUT);
	push(w, 1, 2, REPLAY_STATUS);
	push(w, 2, 1, REPLAY_STATUS);
	for (s = 2; s <= 1000; s++)
		push(w, 2, s, REPLAY_OUTPUT);
	/* Job 1's line is not job 2's to drop: the limit is per job. */
	pop(w, REPLAY_OUTPUT, 1, 0);
	pop(w, REPLAY_STATUS, 2, 0);
	pop(w, REPLAY_STATUS, 1, 0);
	pop(w, REPLAY_DROPPED, 2, 997);
	pop(w, REPLAY_OUTPUT, 999, 0);
	pop(w, REPLAY_OUTPUT, 1000, 0);
	ck_assert_ptr_null(replay_head(w));
	replay_free(w);
}
END_TEST

START_TEST(test_replay_progress_cap)
{
	struct replay	*w = replay_new(0, 0);
	uint64_t	 s;

	for (s = 1; s <= 300; s++)
		push(w, 1, s, REPLAY_PROGRESS);
	ck_assert_uint_eq(replay_count(w), REPLAY_MAX_PROGRESS);
	ck_assert_uint_eq(replay_head(w)->seq, 300 - REPLAY_MAX_PROGRESS + 1);
	ck_assert_uint_eq(replay_lines(w), 0);
	replay_free(w);
}
END_TEST

/* The spec's figures: 20 000 lines, then the marker. */
START_TEST(test_replay_default_limits)
{
	struct replay	*w = replay_new(0, 0);
	char		*big;
	uint64_t	 s;

	for (s = 1; s <= REPLAY_MAX_LINES + 2; s++)
		push(w, 1, s, REPLAY_OUTPUT);
	ck_assert_uint_eq(replay_lines(w), REPLAY_MAX_LINES);
	pop(w, REPLAY_DROPPED, 1, 2);
	replay_free(w);

	/* 4 MiB: 128 lines of 32 KiB fit, the 129th drops the first. */
	w = replay_new(0, 0);
	big = malloc(32768);
	ck_assert_ptr_nonnull(big);
	memset(big, 'y', 32768);
	for (s = 1; s <= 129; s++)
		ck_assert_int_eq(replay_push(w, 1, s, REPLAY_OUTPUT, big,
		    32768), 0);
	ck_assert_uint_eq(replay_lines(w), 128);
	ck_assert_uint_eq(replay_bytes(w), REPLAY_MAX_BYTES);
	pop(w, REPLAY_DROPPED, 1, 1);
	free(big);
	replay_free(w);
	replay_free(NULL);
}
END_TEST

/* A job seen again after another one is counted again, not reset. */
START_TEST(test_replay_job_switch)
{
	struct replay	*w = replay_new(3, 0);

	push(w, 1, 1, REPLAY_OUTPUT);
	push(w, 1, 2, REPLAY_OUTPUT);
	push(w, 2, 1, REPLAY_OUTPUT);
	push(w, 1, 3, REPLAY_OUTPUT);
	push(w, 1, 4, REPLAY_OUTPUT);
	/* Job 1 had 3 lines; its fourth drops its first. */
	pop(w, REPLAY_DROPPED, 1, 1);
	pop(w, REPLAY_OUTPUT, 2, 0);
	pop(w, REPLAY_OUTPUT, 1, 0);
	ck_assert_uint_eq(replay_acked(w, 2), 1);
	ck_assert_int_eq(replay_push(w, 1, 2, REPLAY_OUTPUT, "d", 1), 1);
	replay_free(w);
}
END_TEST

/* A backlog within both limits is sent whole: no notice. */
START_TEST(test_replay_backlog_fits)
{
	struct jobdrop		 d;
	struct jobdrop_cut	 c;

	ck_assert_int_eq(jobdrop_init(&d, 0, 0), 0);
	ck_assert_uint_eq(d.max_lines, 20000);
	ck_assert_uint_eq(d.max_bytes, 4 * 1024 * 1024);
	/* Exactly 20 000 lines of 100 bytes: 2 MB, all of them stay. */
	for (uint64_t s = 5; s < 5 + 20000; s++)
		jobdrop_add(&d, s, 100);
	ck_assert_int_eq(jobdrop_cut(&d, &c), 0);
	jobdrop_free(&d);
}
END_TEST

/* 20 001 lines: the oldest two go (the notice takes a line's place). */
START_TEST(test_replay_backlog_lines)
{
	struct jobdrop		 d;
	struct jobdrop_cut	 c;

	ck_assert_int_eq(jobdrop_init(&d, 0, 0), 0);
	for (uint64_t s = 10; s < 10 + 20001; s++)
		jobdrop_add(&d, s, 100);
	ck_assert_int_eq(jobdrop_cut(&d, &c), 1);
	ck_assert_uint_eq(c.first, 10);
	ck_assert_uint_eq(c.upto, 11);
	ck_assert_uint_eq(c.lines, 2);
	jobdrop_free(&d);

	/* A million lines, progress records between them (seq gaps). */
	ck_assert_int_eq(jobdrop_init(&d, 0, 0), 0);
	for (uint64_t s = 1; s <= 1000000; s++)
		jobdrop_add(&d, s * 2, 50);
	ck_assert_int_eq(jobdrop_cut(&d, &c), 1);
	ck_assert_uint_eq(c.first, 2);
	ck_assert_uint_eq(c.lines, 1000000 - 19999);
	ck_assert_uint_eq(c.upto, (1000000 - 19999) * 2);
	jobdrop_free(&d);
}
END_TEST

/* 4 MiB: the newest lines whose bytes fit stay. */
START_TEST(test_replay_backlog_bytes)
{
	struct jobdrop		 d;
	struct jobdrop_cut	 c;

	ck_assert_int_eq(jobdrop_init(&d, 0, 0), 0);
	for (uint64_t s = 1; s <= 2000; s++)
		jobdrop_add(&d, s, 8000);
	ck_assert_int_eq(jobdrop_cut(&d, &c), 1);
	/* 524 lines of 8000 bytes are 4 192 000 <= 4 194 304. */
	ck_assert_uint_eq(c.first, 1);
	ck_assert_uint_eq(c.lines, 2000 - 524);
	ck_assert_uint_eq(c.upto, 2000 - 524);
	jobdrop_free(&d);

	/* Two lines over a small byte limit: the newer stays. */
	ck_assert_int_eq(jobdrop_init(&d, 10, 1000), 0);
	jobdrop_add(&d, 7, 600);
	jobdrop_add(&d, 8, 600);
	ck_assert_int_eq(jobdrop_cut(&d, &c), 1);
	ck_assert_uint_eq(c.first, 7);
	ck_assert_uint_eq(c.upto, 7);
	ck_assert_uint_eq(c.lines, 1);
	jobdrop_free(&d);
}
END_TEST

/* The net-worker's order after a notice: gaps only up to its end. */
START_TEST(test_replay_accept_gap)
{
	struct ipc_job_dropped	 dr = { 3, 5, 10, 20 };
	uint64_t		 expected = 10, gap = 0;

	ck_assert_int_eq(jobrec_check_dropped(&dr), 0);
	/* Strict order without a notice. */
	ck_assert_int_eq(jobrec_accept(&expected, &gap, 11), 0);
	ck_assert_int_eq(jobrec_accept(&expected, &gap, 9), 0);
	ck_assert_int_eq(jobrec_accept(&expected, &gap, 10), 1);
	ck_assert_uint_eq(expected, 11);
	/* A notice at 11 standing for lines up to 20. */
	ck_assert_int_eq(jobrec_accept(&expected, &gap, 11), 1);
	gap = 20;
	ck_assert_int_eq(jobrec_accept(&expected, &gap, 15), 1);	/* progress */
	ck_assert_uint_eq(expected, 16);
	ck_assert_int_eq(jobrec_accept(&expected, &gap, 14), 0);	/* back */
	ck_assert_int_eq(jobrec_accept(&expected, &gap, 22), 0);	/* past */
	ck_assert_int_eq(jobrec_accept(&expected, &gap, 21), 1);	/* kept */
	ck_assert_uint_eq(gap, 0);
	ck_assert_int_eq(jobrec_accept(&expected, &gap, 23), 0);	/* strict */
	ck_assert_int_eq(jobrec_accept(&expected, &gap, 22), 1);
	/* Bad notices. */
	dr.lines = 0;
	ck_assert_int_eq(jobrec_check_dropped(&dr), -1);
	dr.lines = 12;		/* more lines than seq numbers */
	ck_assert_int_eq(jobrec_check_dropped(&dr), -1);
	dr.lines = 1;
	dr.upto = 9;
	ck_assert_int_eq(jobrec_check_dropped(&dr), -1);
	dr.upto = 10;
	dr.job_id = 0;
	ck_assert_int_eq(jobrec_check_dropped(&dr), -1);
}
END_TEST

static Suite *
replay_suite(void)
{
	Suite	*s = suite_create("replay");
	TCase	*tc;

#define RT(name) do {							\
	tc = tcase_create(#name);					\
	tcase_add_test(tc, test_replay_##name);				\
	suite_add_tcase(s, tc);						\
} while (0)
	RT(order_and_ack);
	RT(duplicates);
	RT(line_limit);
	RT(byte_limit);
	RT(status_kept);
	RT(progress_cap);
	RT(default_limits);
	RT(job_switch);
	RT(backlog_fits);
	RT(backlog_lines);
	RT(backlog_bytes);
	RT(accept_gap);
#undef RT
	return s;
}

int
main(void)
{
	return tl_run(replay_suite());
}
