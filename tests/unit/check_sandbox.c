/*
 * check_sandbox.c: what the net-worker can no longer do once
 * net_sandbox() returns.  Each case runs in a child process, because the
 * sandbox cannot be undone.  The chroot and user switch need root; CI runs
 * as root; without root the chroot case fails rather than pass empty.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "testlib.h"

/* Run fn in a child; its exit status is the number of failed checks. */
static int
in_child(void (*fn)(const char *), const char *arg)
{
	pid_t	 pid;
	int	 status;

	if ((pid = fork()) == 0) {
		alarm(10);
		fn(arg);
		_exit(0);
	}
	ck_assert_int_ne(pid, -1);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "child killed by signal %d",
	    WTERMSIG(status));
	return WEXITSTATUS(status);
}

#define EXPECT(cond)	do { if (!(cond)) _exit(__LINE__ % 250 + 1); } while (0)

static void
confined_no_reach(const char *root)
{
	struct rlimit	 rl;
	char		*argv[] = { "/bin/true", NULL };

	log_init(LOG_LVL_ERROR, 1);
	net_sandbox(65534, 65534, root);
	/* No new sockets, no files, no programs, no processes. */
	errno = 0;
	EXPECT(socket(AF_INET, SOCK_STREAM, 0) == -1 && errno == EPERM);
	EXPECT(socket(AF_UNIX, SOCK_STREAM, 0) == -1);
	EXPECT(open("/etc/passwd", O_RDONLY) == -1);
	EXPECT(open("/tmp/x", O_WRONLY | O_CREAT, 0600) == -1);
	EXPECT(execve(argv[0], argv, NULL) == -1);
	EXPECT(fork() == -1);
	EXPECT(getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_max == 0);
	EXPECT(getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_max == 0);
	/* What the worker needs still works: its descriptors and memory. */
	EXPECT(write(STDOUT_FILENO, "", 0) == 0);
	EXPECT(malloc(1 << 20) != NULL);
	if (root != NULL) {
		uid_t	 r, e, s;

		EXPECT(getresuid(&r, &e, &s) == 0 && r == 65534 &&
		    e == 65534 && s == 65534);
		EXPECT(getgid() == 65534 && getegid() == 65534);
		EXPECT(setuid(0) == -1);
		EXPECT(access("/etc", F_OK) == -1);	/* chrooted */
	}
	_exit(0);
}

START_TEST(test_sandbox_unprivileged)
{
	ck_assert_int_eq(in_child(confined_no_reach, NULL), 0);
}
END_TEST

START_TEST(test_sandbox_root)
{
	char	*dir = tl_mkdtemp();

	/* The root suite runs as root (CI does); chroot needs it. */
	ck_assert_msg(geteuid() == 0, "the chroot case needs root");
	ck_assert_int_eq(chmod(dir, 0755), 0);
	ck_assert_int_eq(in_child(confined_no_reach, dir), 0);
	tl_rmtree(dir);
	free(dir);
}
END_TEST

static void
bad_root(const char *root)
{
	log_init(LOG_LVL_ERROR, 1);
	net_sandbox(65534, 65534, root);
	_exit(0);	/* must not get here */
}

/* A root directory others may write is refused before anything else. */
START_TEST(test_sandbox_bad_privsep_dir)
{
	char	*dir = tl_mkdtemp();

	ck_assert_int_eq(chmod(dir, 0777), 0);
	ck_assert_int_eq(in_child(bad_root, dir), 1);
	ck_assert_int_eq(chmod(dir, 0755), 0);
	ck_assert_int_eq(in_child(bad_root, "/nonexistent/empty"), 1);
	tl_rmtree(dir);
	free(dir);
}
END_TEST

static Suite *
sandbox_suite(void)
{
	Suite	*s = suite_create("sandbox");
	TCase	*tc;

	tc = tcase_create("unprivileged");
	tcase_add_test(tc, test_sandbox_unprivileged);
	suite_add_tcase(s, tc);
	tc = tcase_create("root");
	tcase_add_test(tc, test_sandbox_root);
	suite_add_tcase(s, tc);
	tc = tcase_create("bad_privsep_dir");
	tcase_add_test(tc, test_sandbox_bad_privsep_dir);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tl_run(sandbox_suite());
}
