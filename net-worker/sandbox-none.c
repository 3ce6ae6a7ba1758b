/*
 * sandbox-none.c: built without libseccomp.  The chroot, the user
 * switch and the rlimits still apply; there is no syscall filter.
 */
#include "log.h"
#include "net.h"

void
sandbox_filter(void)
{
	log_info("built without seccomp: no syscall filter");
}
