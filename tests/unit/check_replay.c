/*
 * check_replay.c: the net-worker's window of undelivered job records
 * (spec §6.7): order, the per-job limits of 20 000 lines and 4 MiB with
 * the dropped-lines marker where the lines were, statuses never dropped,
 * duplicates from a journal replay ignored, and how far a job is acked.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
#undef RT
	return s;
}

int
main(void)
{
	return tl_run(replay_suite());
}
