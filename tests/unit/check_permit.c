/*
 * check_permit.c: the permit tables that gate what a receiver accepts.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "permit.h"
#include "proto.h"
#include "testlib.h"

Suite	*permit_suite(void);
int	 main(void);

START_TEST(test_permit_deny_by_default)
{
	struct permit	 p;
	uint32_t	 low;

	permit_init(&p, IPC_NE);
	/* Every type of the range, not just the ones proto.h names. */
	for (low = 0; low < 256; low++)
		ck_assert_int_eq(permit_check(&p, IPC_NE | low), 0);
}
END_TEST

START_TEST(test_permit_set_allow)
{
	struct permit	 p;
	int		 i;

	permit_init(&p, IPC_NE);
	permit_set(&p, IPC_NE_FACTS_REQ, PERMIT_ALLOW);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(permit_check(&p, IPC_NE_FACTS_REQ), 1);
	/* Neighbours stay denied. */
	ck_assert_int_eq(permit_check(&p, IPC_NE | 0x02), 0);
	ck_assert_int_eq(permit_check(&p, IPC_NE | 0x00), 0);

	permit_set(&p, IPC_NE_FACTS_REQ, PERMIT_DENY);
	ck_assert_int_eq(permit_check(&p, IPC_NE_FACTS_REQ), 0);
}
END_TEST

START_TEST(test_permit_once)
{
	struct permit	 p;

	permit_init(&p, IPC_SN);
	permit_set(&p, IPC_SN_CONFIG, PERMIT_ONCE);
	permit_set(&p, IPC_SN_PING, PERMIT_ALLOW);
	ck_assert_int_eq(permit_check(&p, IPC_SN_CONFIG), 1);
	ck_assert_int_eq(permit_check(&p, IPC_SN_CONFIG), 0);
	ck_assert_int_eq(permit_check(&p, IPC_SN_CONFIG), 0);
	/* Consuming one entry leaves the others alone. */
	ck_assert_int_eq(permit_check(&p, IPC_SN_PING), 1);
	ck_assert_int_eq(permit_check(&p, IPC_SN_PING), 1);

	/* Re-arming is a new permit_set(). */
	permit_set(&p, IPC_SN_CONFIG, PERMIT_ONCE);
	ck_assert_int_eq(permit_check(&p, IPC_SN_CONFIG), 1);
	ck_assert_int_eq(permit_check(&p, IPC_SN_CONFIG), 0);
}
END_TEST

START_TEST(test_permit_other_range)
{
	struct permit	 p;

	permit_init(&p, IPC_NE);
	permit_set(&p, IPC_NE_FACTS_REQ, PERMIT_ALLOW);
	/* Same low byte, other channel or direction: never allowed. */
	ck_assert_int_eq(permit_check(&p, IPC_EN_FACTS), 0);
	ck_assert_int_eq(permit_check(&p, IPC_NS | 0x01), 0);
	ck_assert_int_eq(permit_check(&p, IPC_HELLO), 0);
	ck_assert_int_eq(permit_check(&p, 0xff01), 0);
	/* The high 16 bits are part of the type, not noise. */
	ck_assert_int_eq(permit_check(&p, 0x10000 | IPC_NE_FACTS_REQ), 0);
	ck_assert_int_eq(permit_check(&p, IPC_NE_FACTS_REQ), 1);

	/* A PERMIT_ONCE is not consumed by a lookalike from elsewhere. */
	permit_set(&p, IPC_NE_FACTS_REQ, PERMIT_ONCE);
	ck_assert_int_eq(permit_check(&p, IPC_EN_FACTS), 0);
	ck_assert_int_eq(permit_check(&p, IPC_NE_FACTS_REQ), 1);
	ck_assert_int_eq(permit_check(&p, IPC_NE_FACTS_REQ), 0);
}
END_TEST

START_TEST(test_permit_init_resets)
{
	struct permit	 p;

	memset(&p, 0xff, sizeof(p));
	permit_init(&p, IPC_SE);
	ck_assert_uint_eq(p.range, IPC_SE);
	ck_assert_int_eq(permit_check(&p, IPC_SE_CONFIG), 0);
	ck_assert_int_eq(permit_check(&p, IPC_SE_PING), 0);
}
END_TEST

START_TEST(test_permit_set_outside_range)
{
	struct permit	 p;

	permit_init(&p, IPC_NE);
	/* A programming error: fatalx, exit status 1. */
	permit_set(&p, IPC_EN_FACTS, PERMIT_ALLOW);
}
END_TEST

Suite *
permit_suite(void)
{
	Suite		*s = suite_create("permit");
	TCase		*tc;
	const char	*fork = getenv("CK_FORK");

	tc = tcase_create("deny_by_default");
	tcase_add_test(tc, test_permit_deny_by_default);
	suite_add_tcase(s, tc);

	tc = tcase_create("set_allow");
	tcase_add_test(tc, test_permit_set_allow);
	suite_add_tcase(s, tc);

	tc = tcase_create("once");
	tcase_add_test(tc, test_permit_once);
	suite_add_tcase(s, tc);

	tc = tcase_create("other_range");
	tcase_add_test(tc, test_permit_other_range);
	suite_add_tcase(s, tc);

	tc = tcase_create("init_resets");
	tcase_add_test(tc, test_permit_init_resets);
	suite_add_tcase(s, tc);

	/* An exit test would end a runner that does not fork. */
	if (fork == NULL || strcmp(fork, "no") != 0) {
		tc = tcase_create("set_outside_range");
		tcase_add_exit_test(tc, test_permit_set_outside_range, 1);
		suite_add_tcase(s, tc);
	}
	return s;
}

int
main(void)
{
	return tl_run(permit_suite());
}
