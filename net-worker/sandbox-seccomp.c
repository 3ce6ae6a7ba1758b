/*
 * sandbox-seccomp.c: the syscalls that would let a compromised net-worker
 * reach beyond its channels fail with EPERM: no new sockets, no files,
 * no programs, no processes, no debugging of others.  Everything the
 * worker does legitimately (epoll, read/write/recvmsg/sendmsg on the
 * descriptors it holds, timers, getrandom, memory) stays allowed.
 */
#include <errno.h>
#include <seccomp.h>

#include "compat.h"
#include "log.h"
#include "net.h"

static const int net_denied[] = {
	/* reaching the network or other local services */
	SCMP_SYS(socket), SCMP_SYS(connect), SCMP_SYS(bind),
	SCMP_SYS(listen), SCMP_SYS(accept), SCMP_SYS(accept4),
	/* the file system (the chroot is empty anyway) */
	SCMP_SYS(open), SCMP_SYS(openat), SCMP_SYS(openat2), SCMP_SYS(creat),
	SCMP_SYS(mkdir), SCMP_SYS(mkdirat), SCMP_SYS(unlink),
	SCMP_SYS(unlinkat), SCMP_SYS(rename), SCMP_SYS(renameat),
	SCMP_SYS(renameat2), SCMP_SYS(chmod), SCMP_SYS(fchmod),
	SCMP_SYS(fchmodat), SCMP_SYS(chown), SCMP_SYS(fchown),
	SCMP_SYS(fchownat), SCMP_SYS(link), SCMP_SYS(linkat),
	SCMP_SYS(symlink), SCMP_SYS(symlinkat), SCMP_SYS(truncate),
	SCMP_SYS(mknod), SCMP_SYS(mknodat), SCMP_SYS(chroot),
	SCMP_SYS(mount), SCMP_SYS(umount2), SCMP_SYS(pivot_root),
	/* programs and processes */
	SCMP_SYS(execve), SCMP_SYS(execveat), SCMP_SYS(fork),
	SCMP_SYS(vfork), SCMP_SYS(clone), SCMP_SYS(clone3),
	/* other processes and the kernel */
	SCMP_SYS(ptrace), SCMP_SYS(process_vm_readv),
	SCMP_SYS(process_vm_writev), SCMP_SYS(pidfd_getfd),
	SCMP_SYS(setuid), SCMP_SYS(setgid), SCMP_SYS(setresuid),
	SCMP_SYS(setresgid), SCMP_SYS(setgroups), SCMP_SYS(init_module),
	SCMP_SYS(finit_module), SCMP_SYS(kexec_load), SCMP_SYS(bpf),
	SCMP_SYS(perf_event_open), SCMP_SYS(userfaultfd),
	SCMP_SYS(unshare), SCMP_SYS(setns), SCMP_SYS(keyctl),
	SCMP_SYS(add_key), SCMP_SYS(request_key),
};

void
sandbox_filter(void)
{
	scmp_filter_ctx	 ctx;
	uint32_t	 action;
	size_t		 i;

#if SECCOMP_DEBUG
	action = SCMP_ACT_LOG;
#else
	action = SCMP_ACT_ERRNO(EPERM);
#endif
	if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL)
		fatalx("seccomp_init");
	for (i = 0; i < nitems(net_denied); i++) {
		/* A syscall this kernel or libseccomp lacks needs no rule. */
		if (net_denied[i] < 0)
			continue;
		if (seccomp_rule_add(ctx, action, net_denied[i], 0) < 0)
			fatalx("seccomp_rule_add %d", net_denied[i]);
	}
	if (seccomp_load(ctx) < 0)
		fatalx("seccomp_load");
	seccomp_release(ctx);
}
