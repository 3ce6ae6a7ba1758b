/*
 * sandbox-none.c: built without libseccomp.  The chroot, the user
 * switch, the rlimits and Landlock still apply; there is no syscall
 * filter.
 */
#include "log.h"
#include "net.h"

const char *
sandbox_filter(void)
{
	return "no seccomp (built without libseccomp)";
}
