/*
 * sandbox-landlock.c: the kernel's own answer to "no file system, no new
 * TCP, no signals to others", where it offers Landlock.  The ruleset
 * handles every right of the ABI the kernel speaks and grants none, so
 * with no rule added nothing is allowed:
 *
 *	ABI 1-3	every file-system right (open, create, remove, truncate...)
 *	ABI 4	also TCP bind and connect
 *	ABI 5	also ioctl on devices
 *	ABI 6	also signals to processes outside the domain and abstract
 *		unix sockets: the same-uid processes become unreachable
 *
 * The structures and constants are the UAPI's, spelled out here because
 * the build machine's headers may predate them.
 */
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "log.h"
#include "net.h"

#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset	444
#define __NR_landlock_restrict_self	446
#endif

#define LL_CREATE_RULESET_VERSION	(1U << 0)

#define LL_FS_ABI1		((1ULL << 13) - 1)	/* EXECUTE..MAKE_SYM */
#define LL_FS_REFER		(1ULL << 13)		/* ABI 2 */
#define LL_FS_TRUNCATE		(1ULL << 14)		/* ABI 3 */
#define LL_FS_IOCTL_DEV		(1ULL << 15)		/* ABI 5 */
#define LL_NET_BIND_TCP		(1ULL << 0)		/* ABI 4 */
#define LL_NET_CONNECT_TCP	(1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX	(1ULL << 0)		/* ABI 6 */
#define LL_SCOPE_SIGNAL		(1ULL << 1)

/* struct landlock_ruleset_attr, as grown by each ABI. */
struct ll_ruleset_attr {
	uint64_t	 handled_access_fs;
	uint64_t	 handled_access_net;	/* ABI >= 4 */
	uint64_t	 scoped;		/* ABI >= 6 */
};

int
sandbox_landlock_abi(void)
{
	long	 abi;

	abi = syscall(__NR_landlock_create_ruleset, NULL, 0,
	    LL_CREATE_RULESET_VERSION);
	return abi < 0 ? 0 : (int)abi;
}

/*
 * Restrict this process (NO_NEW_PRIVS is set); what was applied goes into
 * buf ("landlock abi 7 (fs, tcp, scope)" or why not).
 */
void
sandbox_landlock(char *buf, size_t size)
{
	struct ll_ruleset_attr	 attr = { 0 };
	size_t			 attrlen;
	int			 abi, fd;

	if ((abi = sandbox_landlock_abi()) == 0) {
		snprintf(buf, size, "no landlock (%s)", errno == ENOSYS ?
		    "not in this kernel" : errno == EOPNOTSUPP ?
		    "disabled at boot" : "unavailable");
		return;
	}
	attr.handled_access_fs = LL_FS_ABI1;
	attrlen = sizeof(attr.handled_access_fs);
	if (abi >= 2)
		attr.handled_access_fs |= LL_FS_REFER;
	if (abi >= 3)
		attr.handled_access_fs |= LL_FS_TRUNCATE;
	if (abi >= 4) {
		attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
		attrlen = offsetof(struct ll_ruleset_attr, scoped);
	}
	if (abi >= 5)
		attr.handled_access_fs |= LL_FS_IOCTL_DEV;
	if (abi >= 6) {
		attr.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
		attrlen = sizeof(attr);
	}
	if ((fd = syscall(__NR_landlock_create_ruleset, &attr, attrlen, 0)) ==
	    -1)
		fatal("landlock_create_ruleset (abi %d)", abi);
	if (syscall(__NR_landlock_restrict_self, fd, 0) == -1)
		fatal("landlock_restrict_self");
	close(fd);
	snprintf(buf, size, "landlock abi %d (fs%s%s)", abi,
	    abi >= 4 ? ", tcp" : "", abi >= 6 ? ", signal scope" : "");
}
