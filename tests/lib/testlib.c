/*
 * testlib.c: helpers for the Check suites.
 */
#include <sys/stat.h>

#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"

char *
tl_mkdtemp(void)
{
	const char	*tmp = getenv("TMPDIR");
	char		*p;

	if (asprintf(&p, "%s/nfa-test.XXXXXX", tmp ? tmp : "/tmp") == -1)
		abort();
	if (mkdtemp(p) == NULL)
		ck_abort_msg("mkdtemp %s", p);
	return p;
}

static int
tl_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

void
tl_rmtree(const char *dir)
{
	if (dir != NULL)
		nftw(dir, tl_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

void
tl_write_file(const char *path, const char *data, int mode)
{
	int	 fd;
	size_t	 len = strlen(data);

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	ck_assert_msg(fd != -1, "open %s", path);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

char *
tl_path(const char *dir, const char *name)
{
	char	*p;

	if (asprintf(&p, "%s/%s", dir, name) == -1)
		abort();
	return p;
}

int
tl_run(Suite *s)
{
	SRunner	*sr = srunner_create(s);
	int	 failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
