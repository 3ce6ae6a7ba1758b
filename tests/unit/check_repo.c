/*
 * check_repo.c: the pure parts of the startup repository check
 * (exec-worker/repo.c, nixfleet-protocol.md §4.2): which directory a
 * corrupt checkout may be removed from, the URL as the log shows it, the
 * scrubbing of git's output, and the clone's argv.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "repo.h"
#include "testlib.h"

START_TEST(may_remove)
{
	static const char *const st = "/var/lib/nixfleet-agent";

	ck_assert_int_eq(repo_may_remove("/var/lib/nixfleet-agent/repo", st),
	    1);
	ck_assert_int_eq(repo_may_remove("/srv/nixcfg", st), 1);
	ck_assert_int_eq(repo_may_remove("/var/lib/nixfleet-agentx", st), 1);
	ck_assert_int_eq(repo_may_remove("/srv/nixcfg", ""), 1);
	/* Never /, never the state directory or what holds it. */
	ck_assert_int_eq(repo_may_remove("/", st), 0);
	ck_assert_int_eq(repo_may_remove("//", st), 0);
	ck_assert_int_eq(repo_may_remove(st, st), 0);
	ck_assert_int_eq(repo_may_remove("/var/lib/nixfleet-agent/", st), 0);
	ck_assert_int_eq(repo_may_remove("/var/lib", st), 0);
	ck_assert_int_eq(repo_may_remove("/var", st), 0);
	ck_assert_int_eq(repo_may_remove("/var/lib/", st), 0);
	ck_assert_int_eq(repo_may_remove(st, "/var/lib/nixfleet-agent/"), 0);
	/* Relative or missing paths are never removed. */
	ck_assert_int_eq(repo_may_remove("repo", st), 0);
	ck_assert_int_eq(repo_may_remove("", st), 0);
	ck_assert_int_eq(repo_may_remove(NULL, st), 0);
}
END_TEST

struct redact_case {
	const char	*url, *shown, *secret;
};

static const struct redact_case redacts[] = {
	{ "git@github.com:me/nixcfg.git", "git@github.com:me/nixcfg.git", "" },
	{ "ssh://git@host:22/me/r.git", "ssh://git@host:22/me/r.git", "" },
	{ "https://host/me/r.git", "https://host/me/r.git", "" },
	{ "https://me:pa55@host/r.git", "https://me:***@host/r.git", "pa55" },
	{ "https://ghp_T0KEN@host/r.git", "https://***@host/r.git",
	    "ghp_T0KEN" },
	{ "HTTP://tok@host/r", "HTTP://***@host/r", "tok" },
	{ "ssh://git:pw@host/r", "ssh://git:***@host/r", "pw" },
	/* An @ in the path is no user information. */
	{ "https://host/a@b", "https://host/a@b", "" },
	{ "/srv/git/r.git", "/srv/git/r.git", "" },
};

START_TEST(redact_url)
{
	const struct redact_case *c = &redacts[_i];
	char	 buf[256], sec[256];

	repo_redact_url(c->url, buf, sizeof(buf), sec, sizeof(sec));
	ck_assert_str_eq(buf, c->shown);
	ck_assert_str_eq(sec, c->secret);
}
END_TEST

START_TEST(scrub)
{
	char	 buf[64];

	repo_scrub("fatal: https://me:pa55@h/ pa55", "pa55", buf, sizeof(buf));
	ck_assert_str_eq(buf, "fatal: https://me:***@h/ ***");
	repo_scrub("nothing secret", "", buf, sizeof(buf));
	ck_assert_str_eq(buf, "nothing secret");
	repo_scrub("pa5 pa55pa55", "pa55", buf, sizeof(buf));
	ck_assert_str_eq(buf, "pa5 ******");
	/* Cut, never overrun. */
	repo_scrub("0123456789abcdef", "", buf, 8);
	ck_assert_str_eq(buf, "0123456");
	repo_scrub("ab pa55", "pa55", buf, 5);
	ck_assert_str_eq(buf, "ab *");
}
END_TEST

START_TEST(clone_argv)
{
	struct repo	*r;
	const char	*argv[10];
	static const char *const want[] = { "git", "clone", "--branch",
	    "prod", "--single-branch", "git@h:r.git", "/srv/repo", NULL };
	int		 i;

	r = calloc(1, sizeof(*r));
	ck_assert_ptr_nonnull(r);
	strlcpy(r->branch, "prod", sizeof(r->branch));
	strlcpy(r->url, "git@h:r.git", sizeof(r->url));
	strlcpy(r->dir, "/srv/repo", sizeof(r->dir));
	repo_clone_argv(r, argv);
	for (i = 0; want[i] != NULL; i++)
		ck_assert_str_eq(argv[i], want[i]);
	ck_assert_ptr_null(argv[i]);
	free(r);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("repo");
	TCase	*tc = tcase_create("repo");

	tcase_add_test(tc, may_remove);
	tcase_add_loop_test(tc, redact_url, 0,
	    sizeof(redacts) / sizeof(redacts[0]));
	tcase_add_test(tc, scrub);
	tcase_add_test(tc, clone_argv);
	suite_add_tcase(s, tc);
	return tl_run(s);
}
