/*
 * check_admin.c: the admin_run policy (socketio-protocol.md §6.1) and the
 * runner against real /bin/echo, /bin/sh and /bin/sleep.
 */
#include <sys/stat.h>

#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "testlib.h"

static struct admin_argv
tok(const char *s, int want_ok)
{
	struct admin_argv	 av;
	const char		*why = NULL;
	int			 rc = admin_tokenise(s, strlen(s), &av, &why);

	ck_assert_int_eq(rc, want_ok ? 0 : -1);
	return av;
}

START_TEST(tokenise_quoting)
{
	struct admin_argv	 av;
	const char		*why;

	av = tok("echo \"a b\" c\\ d", 1);
	ck_assert_uint_eq(av.argc, 3);
	ck_assert_str_eq(av.argv[0], "echo");
	ck_assert_str_eq(av.argv[1], "a b");
	ck_assert_str_eq(av.argv[2], "c d");
	ck_assert_ptr_null(av.argv[3]);
	admin_argv_free(&av);

	av = tok("echo \"\"", 1);
	ck_assert_uint_eq(av.argc, 1);
	admin_argv_free(&av);

	/* \ works inside double quotes, not inside single quotes. */
	av = tok("a \"x\\\"y\" 'p\\q' \"it's\" 'say \"hi\"'", 1);
	ck_assert_uint_eq(av.argc, 5);
	ck_assert_str_eq(av.argv[1], "x\"y");
	ck_assert_str_eq(av.argv[2], "p\\q");
	ck_assert_str_eq(av.argv[3], "it's");
	ck_assert_str_eq(av.argv[4], "say \"hi\"");
	admin_argv_free(&av);

	/* Tabs separate, runs of blanks collapse, quotes glue. */
	av = tok("\t ls\t\t-l  a'b'\"c\" ", 1);
	ck_assert_uint_eq(av.argc, 3);
	ck_assert_str_eq(av.argv[2], "abc");
	admin_argv_free(&av);

	/* No expansion: * and ~ stay literal. */
	av = tok("ls * ~ &", 1);
	ck_assert_str_eq(av.argv[1], "*");
	ck_assert_str_eq(av.argv[2], "~");
	ck_assert_str_eq(av.argv[3], "&");
	admin_argv_free(&av);

	ck_assert_int_eq(admin_tokenise("echo 'a", 7, &av, &why), -1);
	ck_assert_str_eq(why, "unclosed quote");
	ck_assert_int_eq(admin_tokenise("echo \"a", 7, &av, &why), -1);
	ck_assert_str_eq(why, "unclosed quote");
	ck_assert_int_eq(admin_tokenise("echo a\\", 7, &av, &why), -1);
	ck_assert_str_eq(why, "dangling escape");

	av = tok("   ", 1);
	ck_assert_uint_eq(av.argc, 0);
	admin_argv_free(&av);
}
END_TEST

START_TEST(forbidden_chars)
{
	static const char *const bad[] = {
		"ls; id", "ls | id", "echo `id`", "echo $HOME", "a\rb",
		"a\nb", "true && id", "false || id", "echo ';'",
		"echo \"$(id)\"",
	};
	static const char *const ok[] = {
		"sleep 1 &", "sort < a", "echo > b", "ls *", "echo a&b",
	};
	size_t	i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(admin_forbidden(bad[i], strlen(bad[i])), "%s",
		    bad[i]);
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		ck_assert_msg(!admin_forbidden(ok[i], strlen(ok[i])), "%s",
		    ok[i]);
	ck_assert(admin_forbidden("ls\0x", 4));	/* NUL, D8 */
}
END_TEST

START_TEST(allowlist_prefix)
{
	struct admin_allow	 al = { 0, NULL };
	struct admin_argv	 av;
	const char		*why;
	size_t			 i;
	static const struct {
		const char	*cmd;
		int		 ok;
	} cases[] = {
		{ "crontab -l", 1 }, { "crontab -l -u bob", 1 },
		{ "CRONTAB -L", 1 }, { "crontab -r", 0 }, { "crontab", 0 },
		{ "git status", 1 }, { "git", 1 }, { "gitx", 0 },
		{ "gitx status", 0 }, { "uptime", 1 }, { "uptimex", 0 },
		{ "'crontab' \"-l\"", 1 }, { "ls", 0 },
		{ "' crontab ' -l", 1 },	/* tokens compare trimmed */
	};

	/* Empty allowlist: nothing matches. */
	av = tok("uptime", 1);
	ck_assert(!admin_allow_match(&al, av.argv, av.argc));
	admin_argv_free(&av);

	ck_assert_int_eq(admin_allow_add(&al, "  crontab -l ", &why), 0);
	ck_assert_int_eq(admin_allow_add(&al, "git", &why), 0);
	ck_assert_int_eq(admin_allow_add(&al, "Uptime", &why), 0);
	ck_assert_int_eq(admin_allow_add(&al, "   ", &why), -1);
	ck_assert_int_eq(admin_allow_add(&al, "bad 'x", &why), -1);
	ck_assert_str_eq(why, "unclosed quote");
	ck_assert_uint_eq(al.n, 3);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		av = tok(cases[i].cmd, 1);
		ck_assert_msg(admin_allow_match(&al, av.argv, av.argc) ==
		    cases[i].ok, "%s", cases[i].cmd);
		admin_argv_free(&av);
	}
	admin_allow_free(&al);
}
END_TEST

START_TEST(cwd_checks)
{
	char		*dir = tl_mkdtemp(), *app, *apple, *link, *esc, *sub;
	char		 res[PATH_MAX], real[PATH_MAX];
	const char	*allowed[1];
	int		 err;

	ck_assert_ptr_nonnull(realpath(dir, real));
	app = tl_path(real, "app");
	apple = tl_path(real, "apple");
	sub = tl_path(app, "sub");
	link = tl_path(app, "out");
	ck_assert_int_eq(mkdir(app, 0700), 0);
	ck_assert_int_eq(mkdir(apple, 0700), 0);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	ck_assert_int_eq(symlink(apple, link), 0);
	allowed[0] = app;

	ck_assert_int_eq(admin_cwd_check(app, allowed, 1, res, &err),
	    ADMIN_CWD_OK);
	ck_assert_str_eq(res, app);
	ck_assert_int_eq(admin_cwd_check(sub, allowed, 1, res, &err),
	    ADMIN_CWD_OK);
	/* /x/app does not admit /x/apple. */
	ck_assert_int_eq(admin_cwd_check(apple, allowed, 1, res, &err),
	    ADMIN_CWD_DENIED);
	/* A symlink inside the root pointing out is resolved first. */
	ck_assert_int_eq(admin_cwd_check(link, allowed, 1, res, &err),
	    ADMIN_CWD_DENIED);
	/* A .. escape. */
	esc = tl_path(sub, "../../apple");
	ck_assert_int_eq(admin_cwd_check(esc, allowed, 1, res, &err),
	    ADMIN_CWD_DENIED);
	free(esc);
	esc = tl_path(app, "missing");
	ck_assert_int_eq(admin_cwd_check(esc, allowed, 1, res, &err),
	    ADMIN_CWD_INVALID);
	ck_assert_int_eq(err, ENOENT);
	/* An empty list refuses every cwd. */
	ck_assert_int_eq(admin_cwd_check(app, allowed, 0, res, &err),
	    ADMIN_CWD_DENIED);
	/* A relative cwd resolves against the process cwd. */
	ck_assert_int_eq(chdir(app), 0);
	ck_assert_int_eq(admin_cwd_check("sub", allowed, 1, res, &err),
	    ADMIN_CWD_OK);
	ck_assert_str_eq(res, sub);
	ck_assert_int_eq(admin_cwd_check("../apple", allowed, 1, res, &err),
	    ADMIN_CWD_DENIED);
	ck_assert_int_eq(chdir("/"), 0);
	ck_assert(admin_path_under("/srv/app", "/"));
	ck_assert(admin_path_under("/srv/app/x", "/srv/app/"));
	ck_assert(!admin_path_under("/srv/apple", "/srv/app"));
	free(esc);
	free(app);
	free(apple);
	free(sub);
	free(link);
	tl_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(env_reduced)
{
	char	*env[] = { "AUTH_TOKEN=s", "PATH=/bin", "COMMAND_TOKEN=t",
	    "HOME=/root", "PATHX=no", "LC_ALL=C", "TMPDIR=/t", "X=1", NULL };
	char	*out[ADMIN_ENV_MAX + 1];

	ck_assert_uint_eq(admin_env_build(env, out), 4);
	ck_assert_str_eq(out[0], "PATH=/bin");
	ck_assert_str_eq(out[1], "HOME=/root");
	ck_assert_str_eq(out[2], "LC_ALL=C");
	ck_assert_str_eq(out[3], "TMPDIR=/t");
	ck_assert_ptr_null(out[4]);
}
END_TEST

START_TEST(rate_bucket)
{
	struct admin_rate	r;
	int			i;

	admin_rate_init(&r, 3, 60, 1000);
	for (i = 0; i < 3; i++)
		ck_assert(admin_rate_take(&r, 1000));
	ck_assert(!admin_rate_take(&r, 1000));
	/* A fixed window: nothing comes back before it has elapsed. */
	ck_assert(!admin_rate_take(&r, 1000 + 30000));
	ck_assert(!admin_rate_take(&r, 1000 + 59999));
	/* Then it restarts, whole. */
	for (i = 0; i < 3; i++)
		ck_assert(admin_rate_take(&r, 1000 + 60000));
	ck_assert(!admin_rate_take(&r, 1000 + 60001));
	/* A long idle spell gives max, not more. */
	for (i = 0; i < 3; i++)
		ck_assert(admin_rate_take(&r, 10000000));
	ck_assert(!admin_rate_take(&r, 10000000));
	/* A clock that steps back opens no new window. */
	ck_assert(!admin_rate_take(&r, 5));
	/* max 0: off. */
	admin_rate_init(&r, 0, 0, 0);
	for (i = 0; i < 1000; i++)
		ck_assert(admin_rate_take(&r, 0));
}
END_TEST

START_TEST(token_compare)
{
	ck_assert(admin_token_ok(0, "", NULL));
	ck_assert(admin_token_ok(1, "sekrit", "sekrit"));
	ck_assert(!admin_token_ok(1, "sekrit", "sekriT"));
	ck_assert(!admin_token_ok(1, "sekrit", "sekrit2"));
	ck_assert(!admin_token_ok(1, "sekrit", NULL));
	ck_assert(!admin_token_ok(1, "", ""));
	ck_assert(!admin_token_ok(1, NULL, "x"));
}
END_TEST

static void
policy(struct admin_policy *p, const char *const *allow, size_t n,
    const char *const *cwds, size_t ncwds)
{
	const char	*why;
	size_t		 i;

	memset(p, 0, sizeof(*p));
	for (i = 0; i < n; i++)
		(void)admin_allow_add(&p->allow, allow[i], &why);
	p->cwds = cwds;
	p->ncwds = ncwds;
	admin_rate_init(&p->rate, 0, 0, 0);
}

static void
decide(struct admin_policy *p, const char *token, const char *cmd,
    const char *cwd, int allow, int code, const char *stderr_text,
    const char *error)
{
	struct admin_request	rq = { token, cmd, cmd ? strlen(cmd) : 0, cwd };
	struct admin_decision	d;

	ck_assert_int_eq(admin_decide(p, &rq, 0, &d), 0);
	ck_assert_msg(d.allow == allow, "%s: allow %d", cmd, d.allow);
	if (!allow) {
		ck_assert_int_eq(d.code, code);
		ck_assert_str_eq(d.stderr_text, stderr_text);
		ck_assert_str_eq(d.error, error);
	}
	admin_decision_free(&d);
}

START_TEST(decide_steps)
{
	static const char *const allow[] = { "echo", "crontab -l", "crontab -" };
	struct admin_policy	 p, empty;
	char			*dir = tl_mkdtemp(), real[PATH_MAX], *missing;
	const char		*cwds[1];
	struct admin_request	 rq = { NULL, NULL, 0, NULL };
	struct admin_decision	 d;

	ck_assert_ptr_nonnull(realpath(dir, real));
	cwds[0] = real;
	missing = tl_path(real, "nope");
	policy(&p, allow, 3, cwds, 1);
	policy(&empty, NULL, 0, NULL, 0);

	decide(&p, NULL, "echo hi", NULL, 1, 0, NULL, NULL);
	decide(&p, NULL, NULL, NULL, 0, 1, "", "empty command");
	decide(&p, NULL, " \t ", NULL, 0, 1, "", "empty command");
	decide(&p, NULL, "echo hi; id", NULL, 0, 126,
	    "command blocked: forbidden characters",
	    "command contains forbidden characters");
	decide(&p, NULL, "echo 'hi", NULL, 0, 126,
	    "command blocked: invalid command", "invalid command: unclosed quote");
	decide(&p, NULL, "echo hi\\", NULL, 0, 126,
	    "command blocked: invalid command", "invalid command: dangling escape");
	decide(&p, NULL, "\"\" ''", NULL, 0, 126,
	    "command blocked: invalid command", "invalid command: no tokens");
	decide(&p, NULL, "echox", NULL, 0, 126, "command blocked by allowlist",
	    "command not allowed");
	decide(&p, NULL, "echo a", missing, 0, 126,
	    "command blocked: invalid cwd",
	    "invalid cwd: No such file or directory");
	decide(&p, NULL, "echo a", "/", 0, 126,
	    "command blocked: cwd not allowed", "cwd not allowed");
	decide(&p, NULL, "echo a", real, 1, 0, NULL, NULL);
	/* D1: an empty allowlist refuses all, the cron flows included. */
	decide(&empty, NULL, "echo hi", NULL, 0, 126,
	    "command blocked by allowlist", "command not allowed");
	decide(&empty, NULL, "crontab -l", NULL, 0, 126,
	    "command blocked by allowlist", "command not allowed");
	decide(&empty, NULL, "echo MAo= | base64 -d | crontab -", NULL, 0, 126,
	    "command blocked by allowlist", "command not allowed");
	/* Token first, before the empty-command check. */
	p.require_token = 1;
	p.command_token = "t0k";
	decide(&p, "bad", "", NULL, 0, 401, "unauthorized", "unauthorized");
	decide(&p, NULL, "echo", NULL, 0, 401, "unauthorized", "unauthorized");
	decide(&p, "t0k", "echo", NULL, 1, 0, NULL, NULL);
	p.command_token = "";
	decide(&p, "", "echo", NULL, 0, 401, "unauthorized", "unauthorized");
	p.require_token = 0;

	/* The cron write becomes ["crontab","-"] with the bytes for stdin. */
	rq.command = "echo MCAzICogKiAqIC91c3IvbG9jYWwvYmluL2JhY2t1cC5zaAo= | "
	    "base64 -d | crontab -";
	rq.command_len = strlen(rq.command);
	ck_assert_int_eq(admin_decide(&p, &rq, 0, &d), 0);
	ck_assert(d.allow && d.cron_write);
	ck_assert_uint_eq(d.argv.argc, 2);
	ck_assert_str_eq(d.argv.argv[0], "crontab");
	ck_assert_str_eq(d.argv.argv[1], "-");
	ck_assert_uint_eq(d.stdin_len, 35);
	ck_assert_str_eq((char *)d.stdin_data,
	    "0 3 * * * /usr/local/bin/backup.sh\n");
	admin_decision_free(&d);
	/* An undecodable payload falls to the forbidden-character check. */
	decide(&p, NULL, "echo MCAzI | base64 -d | crontab -", NULL, 0, 126,
	    "command blocked: forbidden characters",
	    "command contains forbidden characters");

	/* 429 after rateLimitMax in one window, before the other checks. */
	admin_rate_init(&p.rate, 2, 60, 0);
	decide(&p, NULL, "echo 1", NULL, 1, 0, NULL, NULL);
	decide(&p, NULL, "echo; 2", NULL, 0, 126,
	    "command blocked: forbidden characters",
	    "command contains forbidden characters");
	decide(&p, NULL, "echo 3", NULL, 0, 429, "rate limited", "rate limited");
	decide(&p, NULL, "", NULL, 0, 1, "", "empty command");

	admin_allow_free(&p.allow);
	admin_allow_free(&empty.allow);
	free(missing);
	tl_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(utf8_truncation)
{
	/* "aé€😀" = 61 c3a9 e282ac f09f9880 */
	const char	*s = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
	size_t		 on, en;

	ck_assert_uint_eq(admin_utf8_cut(s, 10, 100), 10);
	ck_assert_uint_eq(admin_utf8_cut(s, 10, 1), 1);
	ck_assert_uint_eq(admin_utf8_cut(s, 10, 2), 1);
	ck_assert_uint_eq(admin_utf8_cut(s, 10, 3), 3);
	ck_assert_uint_eq(admin_utf8_cut(s, 10, 4), 3);
	ck_assert_uint_eq(admin_utf8_cut(s, 10, 5), 3);
	ck_assert_uint_eq(admin_utf8_cut(s, 10, 6), 6);
	ck_assert_uint_eq(admin_utf8_cut(s, 10, 9), 6);
	/* Invalid bytes are not protected: cut where the cap says. */
	ck_assert_uint_eq(admin_utf8_cut("ab\xff\xff", 4, 3), 3);
	ck_assert_uint_eq(admin_json_len("a\"\n\x01\xff", 5), 1 + 2 + 2 + 6 + 3);
	ck_assert_uint_eq(admin_json_len(s, 10), 10);

	/* Fits as it is: nothing cut. */
	ck_assert_int_eq(admin_fit("abc", 3, "de", 2, 100, 200, &on, &en), 0);
	ck_assert_uint_eq(on, 3);
	ck_assert_uint_eq(en, 2);
	{
		size_t	 big = ADMIN_OUT_CAP;
		char	*b = malloc(big);

		memset(b, 'x', big);
		/* 2 * 256 KiB + 100 > 300 KiB: halve to 128 KiB each. */
		ck_assert_int_eq(admin_fit(b, big, b, big, 100, 300 * 1024,
		    &on, &en), 1);
		ck_assert_uint_eq(on, 128 * 1024);
		ck_assert_uint_eq(en, 128 * 1024);
		/* A cut inside a 3-byte sequence backs off to its start. */
		memcpy(b + 128 * 1024 - 1, "\xe2\x82\xac", 3);
		ck_assert_int_eq(admin_fit(b, big, "", 0, 100, 200 * 1024,
		    &on, &en), 1);
		ck_assert_uint_eq(on, 128 * 1024 - 1);
		free(b);
	}
}
END_TEST

static void
run(char **argv, int timeout, struct admin_result *res)
{
	struct admin_spawn	sp;

	memset(&sp, 0, sizeof(sp));
	sp.argv = argv;
	ck_assert_int_eq(admin_exec(&sp, timeout, res), 0);
}

START_TEST(exec_echo)
{
	char			*argv[] = { "echo", "hello", "a b", NULL };
	struct admin_result	 res;

	run(argv, 5, &res);
	ck_assert_int_eq(res.code, 0);
	ck_assert_str_eq(res.error, "");
	ck_assert_uint_eq(res.out_len, 10);
	ck_assert(memcmp(res.out, "hello a b\n", 10) == 0);
	ck_assert_uint_eq(res.err_len, 0);
	ck_assert(!res.truncated);
	admin_result_free(&res);
}
END_TEST

START_TEST(exec_status_env_cwd)
{
	char			*argv[] = { "sh", "-c",
	    "pwd; echo \"${AUTH_TOKEN-unset} ${PATH:+path}\"; echo err >&2; "
	    "exit 3", NULL };
	struct admin_spawn	 sp;
	struct admin_result	 res;

	/* An inherited fd without close-on-exec must not reach the child. */
	ck_assert_int_eq(dup2(2, 57), 57);
	argv[2] = "pwd; echo \"${AUTH_TOKEN-unset} ${PATH:+path}\"; "
	    "echo err >&2; test -e /proc/$$/fd/57 && echo leak; exit 3";
	setenv("AUTH_TOKEN", "leak", 1);
	memset(&sp, 0, sizeof(sp));
	sp.argv = argv;
	sp.cwd = "/tmp";
	ck_assert_int_eq(admin_exec(&sp, 5, &res), 0);
	unsetenv("AUTH_TOKEN");
	close(57);
	ck_assert_int_eq(res.code, 3);
	ck_assert_str_eq(res.error, "exit status 3");
	ck_assert_str_eq(res.out, "/tmp\nunset path\n");
	ck_assert_str_eq(res.err, "err\n");
	admin_result_free(&res);
}
END_TEST

/* Gone, or a zombie waiting for its new parent to reap it. */
static int
proc_dead(pid_t pid)
{
	char	 path[64], buf[256], *p;
	FILE	*f;
	int	 i;

	for (i = 0; i < 50; i++) {
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		if ((f = fopen(path, "r")) == NULL)
			return 1;
		p = fgets(buf, sizeof(buf), f);
		fclose(f);
		if (p != NULL && (p = strrchr(buf, ')')) != NULL &&
		    p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'))
			return 1;
		usleep(100000);
	}
	return 0;
}

START_TEST(exec_timeout_124)
{
	char			*argv[] = { "sh", "-c",
	    "sleep 30 & echo $!; sleep 30", NULL };
	struct admin_result	 res;
	uint64_t		 t0 = admin_now_ms();
	long			 bg;

	run(argv, 1, &res);
	ck_assert_int_eq(res.code, 124);
	ck_assert_str_eq(res.error, "timed out after 1s");
	/* Output so far is kept. */
	ck_assert_ptr_nonnull(res.out);
	bg = strtol(res.out, NULL, 10);
	ck_assert_int_gt(bg, 1);
	ck_assert_uint_lt(admin_now_ms() - t0, 10000);
	ck_assert_uint_ge(res.duration_ms, 900);
	/* The whole group got SIGKILL: the background sleep is gone too. */
	ck_assert_msg(proc_dead((pid_t)bg), "background pid %ld alive", bg);
	admin_result_free(&res);

	argv[2] = "sleep 30";
	argv[0] = "/bin/sleep";
	argv[1] = "30";
	argv[2] = NULL;
	run(argv, 1, &res);
	ck_assert_int_eq(res.code, 124);
	admin_result_free(&res);
}
END_TEST

START_TEST(exec_signal_and_enoent)
{
	char			*kill_self[] = { "sh", "-c", "kill -TERM $$",
	    NULL };
	char			*missing[] = { "no-such-command-xyz", NULL };
	struct admin_result	 res;

	run(kill_self, 5, &res);
	ck_assert_int_eq(res.code, -1);
	ck_assert_str_eq(res.signal, "SIGTERM");
	ck_assert_str_eq(res.error, "signal: terminated");
	admin_result_free(&res);

	run(missing, 5, &res);
	ck_assert_int_eq(res.code, 1);
	ck_assert_str_eq(res.error,
	    "exec: \"no-such-command-xyz\": No such file or directory");
	admin_result_free(&res);
}
END_TEST

START_TEST(exec_cap_and_stdin)
{
	char			*big[] = { "head", "-c", "300000",
	    "/dev/zero", NULL };
	char			*cat[] = { "cat", NULL };
	struct admin_spawn	 sp;
	struct admin_result	 res;
	char			*data;
	size_t			 n = 1 << 20;

	run(big, 10, &res);
	ck_assert_int_eq(res.code, 0);
	ck_assert_uint_eq(res.out_len, ADMIN_OUT_CAP);
	ck_assert(res.truncated);
	admin_result_free(&res);

	/* 1 MiB through stdin, more than a pipe holds: no deadlock. */
	data = malloc(n);
	memset(data, 'q', n);
	memset(&sp, 0, sizeof(sp));
	sp.argv = cat;
	sp.stdin_data = data;
	sp.stdin_len = n;
	ck_assert_int_eq(admin_exec(&sp, 10, &res), 0);
	ck_assert_int_eq(res.code, 0);
	ck_assert_uint_eq(res.out_len, ADMIN_OUT_CAP);
	ck_assert(res.truncated);
	admin_result_free(&res);
	free(data);
}
END_TEST

START_TEST(log_texts)
{
	char	out[ADMIN_PREVIEW_MAX], cmd[300];

	admin_log_preview("uptime\n", 7, out);
	ck_assert_str_eq(out, "uptime?");
	admin_log_preview("echo MAo= | base64 -d | crontab -", 33, out);
	ck_assert_str_eq(out, "cron update pipeline (redacted)");
	memset(cmd, 'a', sizeof(cmd));
	memcpy(cmd + 119, "\xc3\xa9", 2);
	admin_log_preview(cmd, sizeof(cmd), out);
	ck_assert_uint_eq(strlen(out), 119 + 3);
	ck_assert(memcmp(out + 119, "\xe2\x80\xa6", 4) == 0);
	admin_log_token("0123456789", out);
	ck_assert_str_eq(out, "0123456789");
	admin_log_token("cron-get-host-01-1700000040000", out);
	ck_assert_str_eq(out, "cron\xe2\x80\xa6" "0000");
	admin_log_token(NULL, out);
	ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(exec_no_shell_fallback)
{
	char			*dir = tl_mkdtemp(), *script, *plain, *path;
	char			*argv[] = { "nf-script", NULL };
	struct admin_result	 res;
	const char		*old = getenv("PATH");
	char			*saved = strdup(old != NULL ? old : "/bin");

	/* No #! line: glibc's execvp would hand it to /bin/sh; we do not. */
	script = tl_path(dir, "nf-script");
	tl_write_file(script, "echo ran-by-shell\n", 0755);
	plain = tl_path(dir, "nf-plain");
	tl_write_file(plain, "#!/bin/sh\necho hi\n", 0644);
	ck_assert_int_ge(asprintf(&path, "%s:/usr/bin:/bin", dir), 0);
	setenv("PATH", path, 1);
	run(argv, 5, &res);
	ck_assert_int_eq(res.code, 1);
	ck_assert_str_eq(res.error, "exec: \"nf-script\": Exec format error");
	ck_assert_ptr_null(res.out);
	admin_result_free(&res);
	argv[0] = "nf-plain";
	run(argv, 5, &res);
	ck_assert_str_eq(res.error, "exec: \"nf-plain\": Permission denied");
	admin_result_free(&res);
	/* Found further down PATH, and a path with / is used as it is. */
	argv[0] = "true";
	run(argv, 5, &res);
	ck_assert_int_eq(res.code, 0);
	admin_result_free(&res);
	setenv("PATH", saved, 1);
	free(saved);
	free(path);
	free(script);
	free(plain);
	tl_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(exec_deadline_from_receipt)
{
	char			*argv[] = { "/bin/sleep", "5", NULL };
	struct admin_spawn	 sp;
	struct admin_result	 res;
	uint64_t		 t0 = admin_now_ms();

	/* Received 1.5 s ago with a 2 s timeout: 0.5 s are left. */
	memset(&sp, 0, sizeof(sp));
	sp.argv = argv;
	ck_assert_int_eq(admin_exec_until(&sp, t0 + 500, 2, &res), 0);
	ck_assert_int_eq(res.code, 124);
	ck_assert_str_eq(res.error, "timed out after 2s");
	ck_assert_uint_lt(admin_now_ms() - t0, 4000);
	admin_result_free(&res);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("admin");
	TCase	*tc = tcase_create("policy"), *tx = tcase_create("exec");

	tcase_add_test(tc, tokenise_quoting);
	tcase_add_test(tc, forbidden_chars);
	tcase_add_test(tc, allowlist_prefix);
	tcase_add_test(tc, cwd_checks);
	tcase_add_test(tc, env_reduced);
	tcase_add_test(tc, rate_bucket);
	tcase_add_test(tc, token_compare);
	tcase_add_test(tc, decide_steps);
	tcase_add_test(tc, utf8_truncation);
	tcase_add_test(tc, log_texts);
	suite_add_tcase(s, tc);
	tcase_set_timeout(tx, 60);
	tcase_add_test(tx, exec_echo);
	tcase_add_test(tx, exec_status_env_cwd);
	tcase_add_test(tx, exec_timeout_124);
	tcase_add_test(tx, exec_signal_and_enoent);
	tcase_add_test(tx, exec_cap_and_stdin);
	tcase_add_test(tx, exec_no_shell_fallback);
	tcase_add_test(tx, exec_deadline_from_receipt);
	suite_add_tcase(s, tx);
	return tl_run(s);
}
