/*
 * check_sign.c: the socketio handshake signer against the vectors of
 * socketio-protocol.md §3.3, the clientId charset of §3.1 and the query
 * string of §1.1.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sign.h"
#include "testlib.h"

static Suite	*sign_suite(void);

START_TEST(test_sign_vectors)
{
	char	 msg[SIGN_MSG_MAX + 1], hex[SIGN_HEX_LEN + 1];
	int	 n;

	n = sign_message(msg, sizeof(msg), "host-01", 1700000000000LL);
	ck_assert_int_eq(n, 41);
	ck_assert_str_eq(msg, "{\"clientId\":\"host-01\",\"ts\":1700000000000}");
	ck_assert_int_eq(sign_hmac("s3cret", 6, "host-01", 1700000000000LL,
	    hex), 0);
	ck_assert_str_eq(hex,
	    "130087beba31b698676e0372fa2f76311625886b90ca1cbfb1a7802ceb7c37e7");

	n = sign_message(msg, sizeof(msg), "c1", 1);
	ck_assert_str_eq(msg, "{\"clientId\":\"c1\",\"ts\":1}");
	ck_assert_int_eq(n, (int)strlen(msg));
	ck_assert_int_eq(sign_hmac("k", 1, "c1", 1, hex), 0);
	ck_assert_str_eq(hex,
	    "9b79782510fcc4e4fa52816dcdad7b598d4cdb63aeb9512a5f6f60a3a80c6305");
}
END_TEST

/* The key is used verbatim: no trimming, embedded NUL included. */
START_TEST(test_sign_key_verbatim)
{
	char	 a[SIGN_HEX_LEN + 1], b[SIGN_HEX_LEN + 1];

	ck_assert_int_eq(sign_hmac("s3cret ", 7, "host-01", 1700000000000LL,
	    a), 0);
	ck_assert_str_ne(a,
	    "130087beba31b698676e0372fa2f76311625886b90ca1cbfb1a7802ceb7c37e7");
	ck_assert_int_eq(sign_hmac("k\0x", 3, "c1", 1, b), 0);
	ck_assert_str_ne(b,
	    "9b79782510fcc4e4fa52816dcdad7b598d4cdb63aeb9512a5f6f60a3a80c6305");
	errno = 0;
	ck_assert_int_eq(sign_hmac("", 0, "c1", 1, a), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(sign_hmac("k", 1, "c1", 0, a), -1);
	ck_assert_int_eq(sign_hmac("k", 1, "c1", -5, a), -1);
	ck_assert_int_eq(sign_hmac("k", 1, "bad id", 1, a), -1);
}
END_TEST

START_TEST(test_sign_clientid)
{
	char	 id[SIGN_CLIENTID_MAX + 2];
	static const char *const good[] = {
		"host-01", "a", "A.b_c:d-e", "0", "node:7", "x_y",
	};
	static const char *const bad[] = {
		"", "host 01", "h\"q", "h\\q", "h<b>", "h&b", "h/b", "h\xc3\xa9",
		"h\n", "h%41", "h+b", "h=b", "h?b", "h#b", "h~b",
	};
	size_t	 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(sign_clientid_valid(good[i]), "%s", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!sign_clientid_valid(bad[i]), "%s", bad[i]);
	ck_assert(!sign_clientid_valid(NULL));
	memset(id, 'a', SIGN_CLIENTID_MAX);
	id[SIGN_CLIENTID_MAX] = '\0';
	ck_assert(sign_clientid_valid(id));
	id[SIGN_CLIENTID_MAX] = 'a';
	id[SIGN_CLIENTID_MAX + 1] = '\0';
	ck_assert(!sign_clientid_valid(id));
}
END_TEST

START_TEST(test_sign_message_bounds)
{
	char	 msg[SIGN_MSG_MAX + 1], id[SIGN_CLIENTID_MAX + 1];
	int	 n;

	memset(id, 'z', SIGN_CLIENTID_MAX);
	id[SIGN_CLIENTID_MAX] = '\0';
	n = sign_message(msg, sizeof(msg), id, INT64_MAX);
	ck_assert_int_eq(n, (int)SIGN_MSG_MAX);
	ck_assert_int_eq(n, (int)strlen(msg));
	errno = 0;
	ck_assert_int_eq(sign_message(msg, 41, "host-01", 1700000000000LL),
	    -1);
	ck_assert_int_eq(errno, ENOSPC);
	ck_assert_int_eq(sign_message(msg, 42, "host-01", 1700000000000LL),
	    41);
}
END_TEST

START_TEST(test_sign_query)
{
	char	 q[SIGN_QUERY_MAX], hex[SIGN_HEX_LEN + 1];
	int	 n;

	ck_assert_int_eq(sign_hmac("s3cret", 6, "host-01", 1700000000000LL,
	    hex), 0);
	n = sign_query(q, sizeof(q), "host-01", 1700000000000LL, hex);
	ck_assert_str_eq(q, "clientId=host-01&ts=1700000000000&sig="
	    "130087beba31b698676e0372fa2f76311625886b90ca1cbfb1a7802ceb7c37e7");
	ck_assert_int_eq(n, (int)strlen(q));
	/* ':' is allowed in a clientId but is not unreserved in a query. */
	n = sign_query(q, sizeof(q), "node:7", 1, "ab");
	ck_assert_str_eq(q, "clientId=node%3A7&ts=1&sig=ab");
	/* Too small: refused, never cut. */
	errno = 0;
	ck_assert_int_eq(sign_query(q, 10, "host-01", 1, hex), -1);
	ck_assert_int_eq(errno, ENOSPC);
	ck_assert_int_eq(sign_query(q, sizeof(q), "host-01", 0, hex), -1);
}
END_TEST

/* The IPC answer: ts and query, or nothing at all. */
START_TEST(test_sign_answer)
{
	struct ipc_signed	 a;

	ck_assert_int_eq(sign_answer(&a, "s3cret", 6, "host-01",
	    1700000000000LL), 0);
	ck_assert_int_eq(a.ts_ms, 1700000000000LL);
	ck_assert_str_eq(a.query, "clientId=host-01&ts=1700000000000&sig="
	    "130087beba31b698676e0372fa2f76311625886b90ca1cbfb1a7802ceb7c37e7");
	ck_assert_int_eq(sign_answer(&a, "s3cret", 6, "bad id", 1), -1);
	ck_assert_int_eq(a.ts_ms, 0);
	ck_assert_str_eq(a.query, "");
	ck_assert_int_eq(sign_answer(&a, "", 0, "host-01", 1), -1);
	ck_assert_str_eq(a.query, "");
}
END_TEST

/* Fresh on every attempt: milliseconds of the real-time clock. */
START_TEST(test_sign_now)
{
	int64_t	 a, b;
	time_t	 t = time(NULL);

	a = sign_now_ms();
	ck_assert(a / 1000 >= (int64_t)t - 1 && a / 1000 <= (int64_t)t + 1);
	b = sign_now_ms();
	ck_assert(b >= a);
}
END_TEST

static Suite *
sign_suite(void)
{
	Suite	*s = suite_create("sign");
	TCase	*tc;

#define SG_TCASE(name) do {						\
	tc = tcase_create(#name);					\
	tcase_add_test(tc, test_sign_##name);				\
	suite_add_tcase(s, tc);						\
} while (0)
	SG_TCASE(vectors);
	SG_TCASE(key_verbatim);
	SG_TCASE(clientid);
	SG_TCASE(message_bounds);
	SG_TCASE(query);
	SG_TCASE(answer);
	SG_TCASE(now);
#undef SG_TCASE
	return s;
}

int
main(void)
{
	return tl_run(sign_suite());
}
