/*
 * check_backoff.c: reconnect delays.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "backoff.h"
#include "testlib.h"

static uint32_t	 fixed_value;
static uint64_t	 xs_state = 0x9e3779b97f4a7c15ULL;

static uint32_t
rnd_fixed(void)
{
	return fixed_value;
}

/* xorshift64*: a real spread of values, reproducible run to run. */
static uint32_t
rnd_xorshift(void)
{
	xs_state ^= xs_state >> 12;
	xs_state ^= xs_state << 25;
	xs_state ^= xs_state >> 27;
	return (uint32_t)((xs_state * 0x2545f4914f6cdd1dULL) >> 32);
}

static uint32_t
rnd_libc(void)
{
	return ((uint32_t)random() << 16) ^ (uint32_t)random();
}

START_TEST(test_backoff_sequence_nixfleet)
{
	static const uint32_t	 want[] = { 1000, 2000, 4000, 8000, 16000,
	    32000, 60000, 60000, 60000 };
	struct backoff		 b;
	size_t			 i;

	/* The largest draw shows the nominal step itself. */
	fixed_value = UINT32_MAX;
	backoff_init(&b, 1000, 60000);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_uint_eq(backoff_next(&b, rnd_fixed), want[i]);
}
END_TEST

START_TEST(test_backoff_sequence_socketio)
{
	static const uint32_t	 want[] = { 1000, 2000, 4000, 8000, 16000,
	    30000, 30000 };
	struct backoff		 b;
	size_t			 i;

	fixed_value = UINT32_MAX;
	backoff_init(&b, 1000, 30000);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_uint_eq(backoff_next(&b, rnd_fixed), want[i]);
	ck_assert_uint_eq(b.step_ms, 30000);
}
END_TEST

START_TEST(test_backoff_floor)
{
	struct backoff	 b;
	int		 i;

	/* A zero draw waits the floor, never zero, at every step. */
	fixed_value = 0;
	backoff_init(&b, 1000, 60000);
	for (i = 0; i < 10; i++)
		ck_assert_uint_eq(backoff_next(&b, rnd_fixed),
		    BACKOFF_FLOOR_MS);
	ck_assert_uint_eq(b.step_ms, 60000);

	/* Half the range: half the step. */
	fixed_value = 0x80000000u;
	backoff_init(&b, 1000, 60000);
	ck_assert_uint_eq(backoff_next(&b, rnd_fixed), 500);
	ck_assert_uint_eq(backoff_next(&b, rnd_fixed), 1000);
}
END_TEST

static void
check_bounds(uint32_t (*rnd)(void), uint32_t base, uint32_t max)
{
	struct backoff	 b;
	uint32_t	 step, w, lo = UINT32_MAX, hi = 0;
	int		 i, n;

	/* 200 sessions of 12 attempts each, reset in between. */
	backoff_init(&b, base, max);
	for (n = 0; n < 200; n++) {
		backoff_reset(&b);
		ck_assert_uint_eq(b.step_ms, base);
		for (i = 0; i < 12; i++) {
			step = b.step_ms;
			ck_assert_uint_le(step, max);
			w = backoff_next(&b, rnd);
			ck_assert_uint_ge(w, BACKOFF_FLOOR_MS);
			ck_assert_uint_le(w, step > BACKOFF_FLOOR_MS ? step :
			    BACKOFF_FLOOR_MS);
			if (step == max) {
				if (w < lo)
					lo = w;
				if (w > hi)
					hi = w;
			}
		}
	}
	/* Jitter really spreads: draws at the ceiling cover most of it. */
	ck_assert_uint_lt(lo, max / 10);
	ck_assert_uint_gt(hi, max - max / 10);
}

START_TEST(test_backoff_bounds_random)
{
	check_bounds(rnd_xorshift, 1000, 60000);
	check_bounds(rnd_xorshift, 1000, 30000);
	srandom(12345);
	check_bounds(rnd_libc, 1000, 60000);
}
END_TEST

START_TEST(test_backoff_reset)
{
	struct backoff	 b;

	fixed_value = UINT32_MAX;
	backoff_init(&b, 1000, 60000);
	backoff_next(&b, rnd_fixed);
	backoff_next(&b, rnd_fixed);
	backoff_next(&b, rnd_fixed);
	ck_assert_uint_eq(b.step_ms, 8000);
	backoff_reset(&b);
	ck_assert_uint_eq(b.step_ms, 1000);
	ck_assert_uint_eq(backoff_next(&b, rnd_fixed), 1000);
	ck_assert_uint_eq(backoff_next(&b, rnd_fixed), 2000);
}
END_TEST

START_TEST(test_backoff_odd_ceiling)
{
	struct backoff	 b;

	/* Doubling stops at the ceiling, never past it, never short of it. */
	fixed_value = UINT32_MAX;
	backoff_init(&b, 300, 1000);
	ck_assert_uint_eq(backoff_next(&b, rnd_fixed), 300);
	ck_assert_uint_eq(backoff_next(&b, rnd_fixed), 600);
	ck_assert_uint_eq(backoff_next(&b, rnd_fixed), 1000);
	ck_assert_uint_eq(backoff_next(&b, rnd_fixed), 1000);

	/* A ceiling below the base is raised to the base. */
	backoff_init(&b, 5000, 1000);
	ck_assert_uint_eq(backoff_next(&b, rnd_fixed), 5000);
	ck_assert_uint_eq(backoff_next(&b, rnd_fixed), 5000);

	/* Near UINT32_MAX the doubling does not wrap. */
	backoff_init(&b, 0x80000000u, UINT32_MAX);
	backoff_next(&b, rnd_fixed);
	ck_assert_uint_eq(b.step_ms, UINT32_MAX);
}
END_TEST

static Suite *
backoff_suite(void)
{
	Suite	*s = suite_create("backoff");
	TCase	*tc;

	tc = tcase_create("sequence");
	tcase_add_test(tc, test_backoff_sequence_nixfleet);
	tcase_add_test(tc, test_backoff_sequence_socketio);
	suite_add_tcase(s, tc);
	tc = tcase_create("floor");
	tcase_add_test(tc, test_backoff_floor);
	suite_add_tcase(s, tc);
	tc = tcase_create("bounds");
	tcase_add_test(tc, test_backoff_bounds_random);
	suite_add_tcase(s, tc);
	tc = tcase_create("reset");
	tcase_add_test(tc, test_backoff_reset);
	suite_add_tcase(s, tc);
	tc = tcase_create("ceiling");
	tcase_add_test(tc, test_backoff_odd_ceiling);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tl_run(backoff_suite());
}
