/*
 * sysname.c: a system call's name from its number, for the report of a
 * net-worker its sandbox killed.  Apart from worker.c because
 * <seccomp.h> and <ev.h> do not mix.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "compat.h"
#if HAVE_SECCOMP
#include <seccomp.h>
#endif

/* As in supervisor.h, which brings <ev.h>. */
const char	*worker_syscall_name(long, uint32_t, char *, size_t);

/* The call's name for this audit architecture, else "#nr". */
const char *
worker_syscall_name(long nr, uint32_t arch, char *buf, size_t size)
{
#if HAVE_SECCOMP
	char	*name;

	/* libseccomp's architecture tokens are the audit ones. */
	if ((name = seccomp_syscall_resolve_num_arch(arch, (int)nr)) != NULL) {
		strlcpy(buf, name, size);
		free(name);
		return buf;
	}
#endif
	snprintf(buf, size, "#%ld", nr);
	return buf;
}
