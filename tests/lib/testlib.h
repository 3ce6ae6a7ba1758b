/*
 * testlib.h: small helpers shared by the Check suites.
 */
#ifndef TESTLIB_H
#define TESTLIB_H

#include <stddef.h>

/* A fresh directory under $TMPDIR (or /tmp); removed by tl_rmtree. */
char	*tl_mkdtemp(void);
void	 tl_rmtree(const char *);
/* Write a whole file with the given mode; aborts the test on failure. */
void	 tl_write_file(const char *path, const char *data, int mode);
/* Join dir and name into a static-free malloc'd path. */
char	*tl_path(const char *dir, const char *name);
/* Run the suite with CK_ENV; return the process exit status. */
#include <check.h>
int	 tl_run(Suite *);

#endif
