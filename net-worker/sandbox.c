/*
 * sandbox.c: the net-worker gives up everything it will not need, in the
 * order that matters.  Read top to bottom.
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "proto.h"

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT			47
#define PR_CAP_AMBIENT_CLEAR_ALL	4
#endif

static char	 sandbox_level[256];

static void
sandbox_rlimit(int resource, rlim_t value)
{
	struct rlimit	 rl = { value, value };

	if (setrlimit(resource, &rl) == -1)
		fatal("setrlimit %d", resource);
}

static void
sandbox_add(const char *what)
{
	if (sandbox_level[0] != '\0')
		strlcat(sandbox_level, "+", sizeof(sandbox_level));
	strlcat(sandbox_level, what, sizeof(sandbox_level));
}

/* The highest capability this kernel knows, read while /proc is there. */
static int
sandbox_cap_last(void)
{
	char	 buf[16];
	ssize_t	 n;
	int	 fd, last = -1;

	if ((fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY |
	    O_CLOEXEC)) != -1) {
		if ((n = read(fd, buf, sizeof(buf) - 1)) > 0) {
			buf[n] = '\0';
			last = atoi(buf);
		}
		close(fd);
	}
	return last;
}

/*
 * Empty the bounding set, so no exec (there is none) and no file
 * capability could ever bring a capability back.  Needs CAP_SETPCAP, so
 * before the user switch.  Without /proc, drop until the kernel says the
 * number is past its last.
 */
static void
sandbox_drop_bounding(int last)
{
	int	 cap;

	for (cap = 0; last < 0 || cap <= last; cap++) {
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0)
			continue;
		if (last < 0 && errno == EINVAL)
			break;
		fatal("PR_CAPBSET_DROP %d", cap);
	}
	for (cap = 0; cap <= (last < 0 ? 63 : last); cap++)
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1)
			fatalx("capability %d still in the bounding set", cap);
}

/*
 * The most memory the worker has a use for, so a peer that makes it grow
 * (a flood of pings, a huge message) meets malloc failure, not the OOM
 * killer.  See NET_DATA_* in net.h for the terms.
 */
#ifndef NET_SANITIZER
static rlim_t
sandbox_data_limit(uint32_t max_msg)
{
	if (max_msg == 0)
		max_msg = NET_MAX_MSG_DEFAULT;
	return (rlim_t)NET_DATA_BASE + NET_DATA_CA_FACTOR * (rlim_t)IPC_CA_MAX +
	    NET_DATA_QUEUE_FACTOR * (rlim_t)NET_HIGHWATER +
	    NET_DATA_MSG_FACTOR * (rlim_t)max_msg;
}
#endif

void
net_sandbox(uid_t uid, gid_t gid, const char *root, uint32_t max_msg)
{
	struct stat	 st;
	uid_t		 ru, eu, su;
	gid_t		 rg, eg, sg;
	char		 buf[128];
	int		 last;

	sandbox_level[0] = '\0';
	/*
	 * 1. Done before we get here: the DRBG and jansson's hash are seeded,
	 * the event loop's epoll instance and SIGTERM watcher exist, tzset()
	 * ran.  The CA bundle comes later as bytes over the supervisor's
	 * channel, so no file is ever opened.
	 */
	tzset();
	last = sandbox_cap_last();
	if (root == NULL) {
		log_debug("not started as root: no user switch, no chroot");
		sandbox_add("no chroot, no uid switch (unprivileged)");
		goto unprivileged;
	}
	/* 2. An empty, root-owned root: nothing to read, nothing to write. */
	if (stat(root, &st) == -1 || !S_ISDIR(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		fatalx("bad privsep dir permissions: %s", root);
	if (chroot(root) == -1 || chdir("/") == -1)
		fatal("chroot %s", root);
	sandbox_add("chroot");
	/* 3. No capability can come back, then none is held. */
	sandbox_drop_bounding(last);
	/* 4. All three ids, then prove there is no way back. */
	if (setgroups(1, &gid) == -1 ||
	    setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1)
		fatal("can't drop privileges");
	if (getresgid(&rg, &eg, &sg) == -1 || rg != gid || eg != gid ||
	    sg != gid || getresuid(&ru, &eu, &su) == -1 || ru != uid ||
	    eu != uid || su != uid || setuid(0) != -1 || setgid(0) != -1)
		fatalx("privilege drop did not stick");
	snprintf(buf, sizeof(buf), "uid %u", (unsigned)uid);
	sandbox_add(buf);
	sandbox_add("no capabilities");
 unprivileged:
	/* Ambient capabilities would survive an exec; there is none. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == -1 &&
	    errno != EINVAL)
		fatal("PR_CAP_AMBIENT_CLEAR_ALL");
	/* 5. Nothing exec'd could gain privileges (and we never exec). */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("PR_SET_NO_NEW_PRIVS");
	/* 6. Each limit names the behaviour it forbids. */
	sandbox_rlimit(RLIMIT_NPROC, 0);	/* never forks */
	sandbox_rlimit(RLIMIT_FSIZE, 0);	/* never writes a file */
	sandbox_rlimit(RLIMIT_CORE, 0);		/* keys live in memory */
	sandbox_rlimit(RLIMIT_NOFILE, NET_NOFILE);	/* see net.h */
#ifdef NET_SANITIZER
	/* ASan's shadow is terabytes of writable mappings: no limit fits. */
	sandbox_add("rlimits (no RLIMIT_DATA: sanitizer build)");
#else
	sandbox_rlimit(RLIMIT_DATA, sandbox_data_limit(max_msg));
	snprintf(buf, sizeof(buf), "rlimits (data %llu MiB, nofile %d)",
	    (unsigned long long)sandbox_data_limit(max_msg) >> 20, NET_NOFILE);
	sandbox_add(buf);
#endif
	/* 7. The kernel's file-system, TCP and signal walls, if it has them. */
	sandbox_landlock(buf, sizeof(buf));
	/* 8. Last, so nothing above has to be allowed by the filter. */
	sandbox_add(sandbox_filter());
	sandbox_add(buf);
	log_info("sandbox: %s", sandbox_level);
}

const char *
net_sandbox_level(void)
{
	return sandbox_level;
}
