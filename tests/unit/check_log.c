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
	log_relay("net-worker", "<6>net: connected");
	log_relay("net-worker", "<7>net: too chatty");
	log_relay("net-worker", "<3>net: broken");
	log_relay("exec-worker", "AddressSanitizer: something");
	s = slurp("agent.log");
	ck_assert_ptr_nonnull(strstr(s, " info net: connected\n"));
	ck_assert_ptr_null(strstr(s, "too chatty"));
	ck_assert_ptr_nonnull(strstr(s, " error net: broken\n"));
	ck_assert_ptr_nonnull(strstr(s,
	    " warn exec-worker: AddressSanitizer: something\n"));
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
