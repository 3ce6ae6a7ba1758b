/*
 * check_cron.c: the cron flows of socketio-protocol.md §6.2: the exact
 * forms the matcher accepts, strict base64, and a round trip through
 * Debian's real crontab for the `nobody` user (the tests run as root).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "testlib.h"

#define B64	"MCAzICogKiAqIC91c3IvbG9jYWwvYmluL2JhY2t1cC5zaAo="
#define PLAIN	"0 3 * * * /usr/local/bin/backup.sh\n"

static int
kind(const char *s)
{
	unsigned char	*d;
	size_t		 n;
	int		 k = cron_match(s, strlen(s), &d, &n);

	free(d);
	return k;
}

START_TEST(match_forms)
{
	static const char *const writes[] = {
		"echo " B64 " | base64 -d | crontab -",
		"  echo\t'" B64 "'|base64  -d|crontab   -  ",
		"echo \"" B64 "\" | base64 -d | crontab -",
		"echo '" B64 "\" | base64 -d | crontab -",
		"echo " B64 "\n|\nbase64\f-d\r|crontab -\n",
	};
	static const char *const none[] = {
		"echo " B64 " | base64 -d | crontab -u root -",
		"echo " B64 " | base64 -d | crontab - ; id",
		"echo " B64 " | base64 --decode | crontab -",
		"echo " B64 " | base64 -d | crontab",
		"echo " B64 " | base64 -d | crontab -l",
		"echo " B64 " | base64 -d | sh",
		"echo " B64 " x | base64 -d | crontab -",
		"echo  | base64 -d | crontab -",
		"echo" B64 " | base64 -d | crontab -",
		"echo -n " B64 " | base64 -d | crontab -",
		"Echo " B64 " | base64 -d | crontab -",
		"echo " B64 " | base64 -d | crontab -\v",
		"echo MCAzI | base64 -d | crontab -",		/* no padding */
		"echo MCA=zI== | base64 -d | crontab -",	/* inner = */
		"echo ==== | base64 -d | crontab -",
		"x echo " B64 " | base64 -d | crontab -",
		"crontab -l -u bob", "crontab", "crontab -r",
	};
	size_t	i;

	for (i = 0; i < sizeof(writes) / sizeof(writes[0]); i++)
		ck_assert_msg(kind(writes[i]) == CRON_WRITE, "%s", writes[i]);
	for (i = 0; i < sizeof(none) / sizeof(none[0]); i++)
		ck_assert_msg(kind(none[i]) == CRON_NONE, "%s", none[i]);
	ck_assert_int_eq(kind("crontab -l"), CRON_READ);
	ck_assert_int_eq(kind("  crontab\t-l "), CRON_READ);
}
END_TEST

START_TEST(decode_payload)
{
	unsigned char	*d;
	size_t		 n;

	ck_assert_int_eq(cron_match("echo " B64 " | base64 -d | crontab -",
	    strlen("echo " B64 " | base64 -d | crontab -"), &d, &n),
	    CRON_WRITE);
	ck_assert_uint_eq(n, strlen(PLAIN));
	ck_assert(memcmp(d, PLAIN, n) == 0);
	free(d);
	ck_assert_int_eq(cron_b64_decode("YQ==", 4, &d, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(d[0], 'a');
	free(d);
	ck_assert_int_eq(cron_b64_decode("YWI=", 4, &d, &n), 0);
	ck_assert_uint_eq(n, 2);
	free(d);
	ck_assert_int_eq(cron_b64_decode("YWJj", 4, &d, &n), 0);
	ck_assert_uint_eq(n, 3);
	free(d);
	ck_assert_int_eq(cron_b64_decode("YQ", 2, &d, &n), -1);
	ck_assert_int_eq(cron_b64_decode("Y===", 4, &d, &n), -1);
	ck_assert_int_eq(cron_b64_decode("Y=Q=", 4, &d, &n), -1);
	ck_assert_int_eq(cron_b64_decode("YW-j", 4, &d, &n), -1);
	ck_assert_int_eq(cron_b64_decode("", 0, &d, &n), -1);
}
END_TEST

START_TEST(crontab_round_trip)
{
	struct admin_result	res;
	const char		*tab = "# nixfleet test\n17 4 * * * /bin/true\n";

	/* Start clean; "no crontab" is exit 1, as §6.2 describes. */
	(void)system("crontab -u nobody -r 2>/dev/null");
	ck_assert_int_eq(cron_list("nobody", 10, &res), 0);
	ck_assert_int_eq(res.code, 1);
	ck_assert_ptr_nonnull(strstr(res.err, "no crontab for nobody"));
	ck_assert_str_eq(res.error, "exit status 1");
	admin_result_free(&res);

	ck_assert_int_eq(cron_install("nobody", tab, strlen(tab), 10, &res), 0);
	ck_assert_msg(res.code == 0, "crontab -: %s", res.err ? res.err : "");
	admin_result_free(&res);
	ck_assert_int_eq(cron_list("nobody", 10, &res), 0);
	ck_assert_int_eq(res.code, 0);
	ck_assert_ptr_nonnull(res.out);
	ck_assert_ptr_nonnull(strstr(res.out, "17 4 * * * /bin/true\n"));
	admin_result_free(&res);

	/* A bad crontab is refused by crontab itself, with its stderr. */
	ck_assert_int_eq(cron_install("nobody", "not a crontab\n", 14, 10,
	    &res), 0);
	ck_assert_int_ne(res.code, 0);
	ck_assert_uint_gt(res.err_len, 0);
	admin_result_free(&res);
	ck_assert_int_eq(system("crontab -u nobody -r"), 0);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("cron");
	TCase	*tc = tcase_create("cron");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, match_forms);
	tcase_add_test(tc, decode_payload);
	tcase_add_test(tc, crontab_round_trip);
	suite_add_tcase(s, tc);
	return tl_run(s);
}
