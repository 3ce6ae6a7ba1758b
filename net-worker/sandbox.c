/*
 * sandbox.c: the net-worker gives up everything it will not need, in the
 * order that matters.  Read top to bottom.
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <grp.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "net.h"

static void
sandbox_rlimit(int resource, rlim_t value)
{
	struct rlimit	 rl = { value, value };

	if (setrlimit(resource, &rl) == -1)
		fatal("setrlimit %d", resource);
}

void
net_sandbox(uid_t uid, gid_t gid, const char *root)
{
	struct stat	 st;
	uid_t		 ru, eu, su;
	gid_t		 rg, eg, sg;

	/*
	 * 1. Done before we get here: the DRBG is seeded, the event loop's
	 * epoll instance exists, tzset() ran.  The CA bundle comes later as
	 * bytes over the supervisor's channel, so no file is ever opened.
	 */
	tzset();
	if (root == NULL) {
		log_debug("not started as root: no user switch, no chroot");
		goto unprivileged;
	}
	/* 2. An empty, root-owned root: nothing to read, nothing to write. */
	if (stat(root, &st) == -1 || !S_ISDIR(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		fatalx("bad privsep dir permissions: %s", root);
	if (chroot(root) == -1 || chdir("/") == -1)
		fatal("chroot %s", root);
	/* 3. All three ids, then prove there is no way back. */
	if (setgroups(1, &gid) == -1 ||
	    setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1)
		fatal("can't drop privileges");
	if (getresgid(&rg, &eg, &sg) == -1 || rg != gid || eg != gid ||
	    sg != gid || getresuid(&ru, &eu, &su) == -1 || ru != uid ||
	    eu != uid || su != uid || setuid(0) != -1 || setgid(0) != -1)
		fatalx("privilege drop did not stick");
 unprivileged:
	/* 4. Nothing exec'd could gain privileges (and we never exec). */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("PR_SET_NO_NEW_PRIVS");
	/* 5. Each limit names the behaviour it forbids. */
	sandbox_rlimit(RLIMIT_NPROC, 0);	/* never forks */
	sandbox_rlimit(RLIMIT_FSIZE, 0);	/* never writes a file */
	sandbox_rlimit(RLIMIT_CORE, 0);		/* keys live in memory */
	/* 6. Last, so nothing above has to be allowed by the filter. */
	sandbox_filter();
}
