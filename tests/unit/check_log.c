/*
 * check_log.c: the logger: levels, the worker line format the supervisor
 * relays, the relay itself, errno preservation, and log file rotation at
 * 10 MiB keeping one old file.
 */
#include <sys/stat.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "testlib.h"

static char	*dir, *path;
static int	 saved_stderr = -1;

/* stderr goes to a file we can read back. */
static void
setup(void)
{
	char	*err;
	int	 fd;

	dir = tl_mkdtemp();
	path = tl_path(dir, "agent.log");
	err = tl_path(dir, "stderr");
	fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ne(fd, -1);
	saved_stderr = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
	free(err);
	unsetenv("JOURNAL_STREAM");
}

static void
teardown(void)
{
	log_set_file(NULL);
	log_procinit(NULL);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	tl_rmtree(dir);
	free(dir);
	free(path);
}

static char *
slurp(const char *name)
{
	char	*p = tl_path(dir, name), *buf;
	FILE	*f = fopen(p, "r");
	long	 n;

	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, n + 1);
	ck_assert_int_eq(fread(buf, 1, n, f), (size_t)n);
	fclose(f);
	free(p);
	return buf;
}

START_TEST(test_log_levels)
{
	char	*s;

	log_init(LOG_LVL_WARN, 0);
	ck_assert_int_eq(log_set_file(path), 0);
	log_info("hidden %d", 1);
	log_debug("hidden %d", 2);
	log_warnx("shown %d", 3);
	log_error("shown %d", 4);
	s = slurp("agent.log");
	ck_assert_ptr_null(strstr(s, "hidden"));
	ck_assert_ptr_nonnull(strstr(s, " warn shown 3\n"));
	ck_assert_ptr_nonnull(strstr(s, " error shown 4\n"));
	/* Every line starts with an ISO 8601 UTC timestamp. */
	ck_assert_int_eq(s[4], '-');
	ck_assert_ptr_nonnull(strstr(s, "Z warn"));
	free(s);
	ck_assert_int_eq(log_level_parse("debug"), LOG_LVL_DEBUG);
	ck_assert_int_eq(log_level_parse("WARNING"), LOG_LVL_WARN);
	ck_assert_int_eq(log_level_parse("loud"), -1);
}
END_TEST

START_TEST(test_log_errno_preserved)
{
	log_init(LOG_LVL_DEBUG, 0);
	errno = EAGAIN;
	log_info("x");
	ck_assert_int_eq(errno, EAGAIN);
	errno = ENOENT;
	log_warn("open %s", "/nowhere");
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

START_TEST(test_log_warn_appends_strerror)
{
	char	*s;

	log_init(LOG_LVL_INFO, 0);
	ck_assert_int_eq(log_set_file(path), 0);
	errno = ENOENT;
	log_warn("open %s", "/nowhere");
	s = slurp("agent.log");
	ck_assert_ptr_nonnull(strstr(s, "warn open /nowhere: "));
	ck_assert_ptr_nonnull(strstr(s, strerror(ENOENT)));
	free(s);
}
END_TEST

/* A worker writes "<P>name: message" lines, one per call, no newlines. */
START_TEST(test_log_worker_format)
{
	char	*s;

	log_init(LOG_LVL_INFO, 1);
	log_procinit("net");
	log_warnx("two\nlines");
	log_info("hello");
	log_debug("quiet");
	fflush(stderr);
	s = slurp("stderr");
	ck_assert_str_eq(s, "<4>net: two lines\n<6>net: hello\n");
	free(s);
}
END_TEST

START_TEST(test_log_relay)
{
	char	*s;

	log_init(LOG_LVL_INFO, 0);
	ck_assert_int_eq(log_set_file(path), 0);
	log_relay("net", "<6>net: connected");
	log_relay("net", "<7>net: too chatty");
	log_relay("net", "<3>net: broken");
	log_relay("exec", "AddressSanitizer: something");
	s = slurp("agent.log");
	ck_assert_ptr_nonnull(strstr(s, " info net: connected\n"));
	ck_assert_ptr_null(strstr(s, "too chatty"));
	ck_assert_ptr_nonnull(strstr(s, " error net: broken\n"));
	ck_assert_ptr_nonnull(strstr(s,
	    " warn exec: AddressSanitizer: something\n"));
	free(s);
}
END_TEST

/*
 * Every relayed line carries the name the supervisor knows: "<P>" sets
 * only the level, a worker naming another process is still itself.
 */
START_TEST(test_log_relay_name)
{
	char	*s;

	log_init(LOG_LVL_INFO, 0);
	ck_assert_int_eq(log_set_file(path), 0);
	log_relay("net", "<3>supervisor: fake");
	log_relay("net", "<6>exec: not me");
	log_relay("exec", "<4>exec: mine");
	log_relay("exec", "<6>");
	log_relay("net", "<6>net:nospace");
	s = slurp("agent.log");
	ck_assert_ptr_nonnull(strstr(s, " error net: supervisor: fake\n"));
	ck_assert_ptr_null(strstr(s, " error supervisor: fake"));
	ck_assert_ptr_nonnull(strstr(s, " info net: exec: not me\n"));
	ck_assert_ptr_nonnull(strstr(s, " warn exec: mine\n"));
	ck_assert_ptr_nonnull(strstr(s, " info exec: \n"));
	ck_assert_ptr_nonnull(strstr(s, " info net: net:nospace\n"));
	free(s);
}
END_TEST

/* No control character reaches the file or the terminal. */
START_TEST(test_log_escape)
{
	char	 out[256], *s, *p;

	ck_assert_uint_eq(log_escape("a\tb", out, sizeof(out)), 3);
	ck_assert_str_eq(out, "a\tb");
	log_escape("\x1b[31mred\x1b]0;title\x07", out, sizeof(out));
	ck_assert_str_eq(out, "\\x1b[31mred\\x1b]0;title\\x07");
	log_escape("del\x7f cr\r", out, sizeof(out));
	ck_assert_str_eq(out, "del\\x7f cr\\x0d");
	/* C1 raw and UTF-8 encoded; other UTF-8 passes. */
	log_escape("\x9b" "1m \xc2\x9b" "1m \xc3\xa9 \xe2\x82\xac", out,
	    sizeof(out));
	ck_assert_str_eq(out,
	    "\\x9b1m \\xc2\\x9b1m \xc3\xa9 \xe2\x82\xac");
	/* Not UTF-8: overlong, surrogate, truncated. */
	log_escape("\xc0\xaf \xed\xa0\x80 \xe2\x82", out, sizeof(out));
	ck_assert_str_eq(out,
	    "\\xc0\\xaf \\xed\\xa0\\x80 \\xe2\\x82");
	/* Cut at a whole escape. */
	ck_assert_uint_eq(log_escape("ab\x1b", out, 6), 2);
	ck_assert_str_eq(out, "ab");

	log_init(LOG_LVL_INFO, 0);
	ck_assert_int_eq(log_set_file(path), 0);
	log_relay("net", "<4>net: \x1b]8;;http://x\x1b\\click\x1b[2J");
	log_warnx("sup \x1b[1m%s", "bold");
	s = slurp("agent.log");
	ck_assert_ptr_nonnull(strstr(s,
	    " warn net: \\x1b]8;;http://x\\x1b\\click\\x1b[2J\n"));
	ck_assert_ptr_nonnull(strstr(s, " warn sup \\x1b[1mbold\n"));
	for (p = s; *p != '\0'; p++)
		ck_assert_msg(*p == '\n' || (*p >= 0x20 && *p < 0x7f),
		    "raw byte 0x%02x in the log", (unsigned char)*p);
	free(s);
	s = slurp("stderr");
	ck_assert_ptr_null(strchr(s, 0x1b));
	free(s);
}
END_TEST

/* A flood of one line becomes one line and a count. */
START_TEST(test_log_flood)
{
	char	*s, *p;
	int	 i, n = 0;

	log_init(LOG_LVL_INFO, 0);
	ck_assert_int_eq(log_set_file(path), 0);
	log_info("startup line");
	for (i = 0; i < 100000; i++)
		log_relay("net", "<4>net: connect failed: refused");
	log_info("after the flood");
	s = slurp("agent.log");
	for (p = s; (p = strstr(p, "connect failed")) != NULL; p++)
		n++;
	ck_assert_int_le(n, 10);
	ck_assert_ptr_nonnull(strstr(s, "startup line"));
	ck_assert_ptr_nonnull(strstr(s, "last message repeated "));
	ck_assert_ptr_nonnull(strstr(s, "after the flood"));
	ck_assert_uint_lt(strlen(s), 4096);
	free(s);
}
END_TEST

START_TEST(test_log_journal_prefix)
{
	char	*s;

	setenv("JOURNAL_STREAM", "8:1234", 1);
	log_init(LOG_LVL_INFO, 0);
	log_warnx("to the journal");
	unsetenv("JOURNAL_STREAM");
	s = slurp("stderr");
	ck_assert_str_eq(s, "<4>to the journal\n");
	free(s);
}
END_TEST

START_TEST(test_log_rotation)
{
	struct stat	 st, old;
	char		 line[1000], *p1 = tl_path(dir, "agent.log.1");
	int		 i;

	log_init(LOG_LVL_INFO, 0);
	ck_assert_int_eq(log_set_file(path), 0);
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	/* About 11 MiB: one rotation. */
	for (i = 0; i < 11 * 1024; i++)
		log_info("%05d %s", i, line);
	ck_assert_int_eq(stat(p1, &old), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_le(old.st_size, LOG_ROTATE_SIZE);
	ck_assert_int_gt(old.st_size, LOG_ROTATE_SIZE - 4096);
	ck_assert_int_lt(st.st_size, 2 * 1024 * 1024);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	/* A second rotation replaces the first old file. */
	for (i = 0; i < 10 * 1024; i++)
		log_info("%05d %s", i, line);
	ck_assert_int_eq(stat(p1, &st), 0);
	ck_assert_int_ne(st.st_ino, old.st_ino);
	free(p1);
}
END_TEST

static Suite *
log_suite(void)
{
	Suite	*s = suite_create("log");
	TCase	*tc;

#define T(name) \
	tc = tcase_create(#name); \
	tcase_add_checked_fixture(tc, setup, teardown); \
	tcase_add_test(tc, test_log_##name); \
	suite_add_tcase(s, tc)
	T(levels);
	T(errno_preserved);
	T(warn_appends_strerror);
	T(worker_format);
	T(relay);
	T(relay_name);
	T(escape);
	T(flood);
	T(journal_prefix);
	T(rotation);
#undef T
	return s;
}

int
main(void)
{
	return tl_run(log_suite());
}
