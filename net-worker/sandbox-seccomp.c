/*
 * sandbox-seccomp.c: after its setup the net-worker may make only the
 * system calls listed here; any other call is fatal.
 *
 * The list is what the worker was seen to call (traced through connect,
 * TLS, the upgrade, heartbeats, reconnects and shutdown) plus the calls
 * the C libraries and mbedTLS versions NixOS ships make for the same work
 * (each marked so).  Everything that reaches beyond the descriptors the
 * worker already holds -- socket, open, exec, fork, signals or limits
 * for other processes, ptrace, io_uring, identity changes -- is absent,
 * so it ends the process.
 *
 * A call off the list traps (SECCOMP_RET_TRAP).  The SIGSYS handler,
 * installed before the filter with SA_RESETHAND, writes one line naming
 * the call (si_syscall, si_arch) to stderr, where the supervisor reads
 * it, then issues the trapped call again: the handler is gone by then and
 * SIGSYS is blocked inside it, which the kernel answers by resetting
 * SIGSYS to its default and unblocking it, so the second trap kills the
 * process by SIGSYS.  rt_sigaction is not on the list, so the handler
 * cannot be replaced or ignored once the filter is on.  A foreign
 * architecture (x32 or i386 calls from an x86_64 process) kills at once.
 *
 * Built with -Dseccomp_debug=true a call off the list is allowed and
 * logged by the kernel (audit type 1326, "journalctl -k"), for an operator
 * whose platform needs a call this list lacks.
 */
#include <sys/mman.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "compat.h"
#include "log.h"
#include "net.h"
#include "proto.h"

/*
 * Allowed whatever the arguments.  Names a platform lacks resolve to a
 * negative pseudo-number and are skipped.
 */
static const int net_allowed[] = {
	/*
	 * I/O on the descriptors it holds: the two channels (recvmsg carries
	 * the connected socket, sendmsg the frames), the TLS socket (read,
	 * write via the BIO), stderr (write; musl's stdio uses writev).
	 */
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(recvmsg), SCMP_SYS(sendmsg),
	/* musl and older glibc send and recv through these. */
	SCMP_SYS(recvfrom), SCMP_SYS(sendto),
	/* A finished connection's socket, a CA bundle's nothing else. */
	SCMP_SYS(close),
	/* glibc's dprintf() (every log line) asks where fd 2 stands. */
	SCMP_SYS(lseek), SCMP_SYS(_llseek),
	/* ... and fstat(2): fstat, or newfstatat below (glibc >= 2.33). */
	SCMP_SYS(fstat), SCMP_SYS(fstat64),

	/*
	 * The event loop: libev's epoll backend.  epoll_pwait is what musl
	 * and every architecture without epoll_wait (aarch64) use;
	 * epoll_pwait2 is newer libev's.  The epoll instance itself was
	 * created before the filter.
	 */
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_pwait2),
	SCMP_SYS(epoll_ctl),
	/*
	 * libev rebuilds its epoll set when a descriptor it watched was closed
	 * and its number reused (a reconnect): a new, empty instance.
	 */
	SCMP_SYS(epoll_create1), SCMP_SYS(epoll_create),
	/* ipcev_flush_sync's last words to the supervisor; ppoll on aarch64. */
	SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(ppoll_time64),

	/*
	 * Time: the vDSO answers these without a system call, but falls back
	 * to one when the clock source cannot be read in user space (some
	 * hypervisors); the _time64 forms are 32-bit platforms' (NixOS on
	 * armv7).  mbedTLS 3.x's mbedtls_ms_time() is clock_gettime.
	 */
	SCMP_SYS(clock_gettime), SCMP_SYS(clock_gettime64),
	SCMP_SYS(gettimeofday), SCMP_SYS(time),

	/*
	 * The DRBG's reseeds (mbedTLS 2.28 and 3.x call getrandom(2) directly;
	 * glibc >= 2.41 may answer from the vDSO, whose state is an mmap).
	 */
	SCMP_SYS(getrandom),

	/*
	 * Memory: malloc's heap and large blocks.  mmap and mprotect are
	 * below, without PROT_EXEC.  madvise: glibc's trimming of freed
	 * blocks, musl's mallocng (MADV_FREE).
	 */
	SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise),

	/*
	 * Signals: SIGTERM's handler (libev's) returns through rt_sigreturn;
	 * libev masks signals around its pipe; a syscall interrupted by a stop
	 * is resumed through restart_syscall.
	 */
	SCMP_SYS(rt_sigreturn), SCMP_SYS(sigreturn), SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(restart_syscall),

	/* Its own pid, in the HELLO to each peer. */
	SCMP_SYS(getpid),

	/* The end. */
	SCMP_SYS(exit_group), SCMP_SYS(exit),
};

/*
 * Not on the list although NixOS's libraries know them, because the
 * worker does not reach them after its setup: rseq and set_robust_list
 * (glibc >= 2.35 registers them at start, before the filter), clone3 and
 * the rest of thread creation (no threads), openat for /etc/localtime
 * (tzset() ran before), /dev/urandom (jansson is seeded
 * before, mbedTLS uses getrandom), ioctl (no terminal: stderr is a pipe).
 */

#ifndef SYS_SECCOMP
#define SYS_SECCOMP	1	/* si_code of the filter's SIGSYS */
#endif

#define RULE(nr, ...)	net_rule(ctx, (nr), __VA_ARGS__)

static void
net_rule(scmp_filter_ctx ctx, int nr, unsigned int n, ...)
{
	struct scmp_arg_cmp	 cmp[3];
	va_list			 ap;
	unsigned int		 i;

	/* A call this platform does not have needs no rule. */
	if (nr < 0)
		return;
	va_start(ap, n);
	for (i = 0; i < n && i < nitems(cmp); i++)
		cmp[i] = va_arg(ap, struct scmp_arg_cmp);
	va_end(ap);
	if (seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, i, cmp) < 0)
		fatalx("seccomp rule for system call %d", nr);
}

/* The calls that are allowed with some arguments only. */
static void
net_rules_args(scmp_filter_ctx ctx)
{
	static const int	 fcntl_ops[] = {
		F_GETFL, F_SETFL, F_GETFD, F_SETFD
	};
	static const int	 futex_ops[] = {
		FUTEX_WAIT, FUTEX_WAKE, FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET
	};
	size_t			 i;

	/*
	 * fcntl: O_NONBLOCK on the channels and on each socket that arrives,
	 * close-on-exec flags; not F_DUPFD (the descriptor limit is the
	 * point), not locks, leases, owners or pipe sizes.  SCMP_CMP_EQ
	 * ignores datum_b; it is written out so that every field of the
	 * comparison is initialised (clang's -Wmissing-field-initializers).
	 */
	for (i = 0; i < nitems(fcntl_ops); i++) {
		RULE(SCMP_SYS(fcntl), 1, SCMP_A1(SCMP_CMP_EQ, fcntl_ops[i], 0));
		RULE(SCMP_SYS(fcntl64), 1,
		    SCMP_A1(SCMP_CMP_EQ, fcntl_ops[i], 0));
	}
	/* Memory, never executable: no code can be brought in. */
	RULE(SCMP_SYS(mmap), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	RULE(SCMP_SYS(mmap2), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	RULE(SCMP_SYS(mprotect), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	/*
	 * fstat as glibc >= 2.33 does it: newfstatat(fd, "", AT_EMPTY_PATH);
	 * statx the same way on 32-bit glibc.  A path is useless anyway
	 * (empty chroot, Landlock), but the flag keeps it to descriptors.
	 */
	RULE(SCMP_SYS(newfstatat), 1, SCMP_A3(SCMP_CMP_EQ, AT_EMPTY_PATH, 0));
	RULE(SCMP_SYS(fstatat64), 1, SCMP_A3(SCMP_CMP_EQ, AT_EMPTY_PATH, 0));
	RULE(SCMP_SYS(statx), 1,
	    SCMP_A2(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH));
	/*
	 * futex: glibc's and musl's internal locks (stdio, malloc) wait and
	 * wake on contention; nothing else (no requeue, no PI locks).
	 */
	for (i = 0; i < nitems(futex_ops); i++) {
		RULE(SCMP_SYS(futex), 1, SCMP_A1(SCMP_CMP_MASKED_EQ,
		    FUTEX_CMD_MASK, futex_ops[i]));
		RULE(SCMP_SYS(futex_time64), 1, SCMP_A1(SCMP_CMP_MASKED_EQ,
		    FUTEX_CMD_MASK, futex_ops[i]));
	}
	/*
	 * abort() (an assertion in a library) signals itself; no other
	 * process can be named: our pid never changes, we cannot fork.
	 */
	RULE(SCMP_SYS(tgkill), 1,
	    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid(), 0));
	/* getrlimit(2) is prlimit64(0, res, NULL, old): reading our own. */
	RULE(SCMP_SYS(prlimit64), 2, SCMP_A0(SCMP_CMP_EQ, 0, 0),
	    SCMP_A2(SCMP_CMP_EQ, 0, 0));
}

/*
 * Sanitizer builds (the unit tests under ASan/UBSan) run the same filter;
 * their runtimes' allocator and reports need these as well.  Never in a
 * release build.
 */
static void
net_rules_sanitizer(scmp_filter_ctx ctx)
{
#ifdef NET_SANITIZER
	static const int	 extra[] = {
		SCMP_SYS(sched_yield), SCMP_SYS(gettid), SCMP_SYS(sigaltstack),
		SCMP_SYS(getrusage),
	};
	size_t			 i;

	for (i = 0; i < nitems(extra); i++)
		RULE(extra[i], 0);
#endif
}

/* Async-signal-safe: digits of v in base into p, backwards; the start. */
static char *
net_fmt(char *end, unsigned long v, unsigned int base)
{
	*--end = '\0';
	do {
		*--end = "0123456789abcdef"[v % base];
		v /= base;
	} while (v != 0);
	return end;
}

static void
net_sigsys(int sig, siginfo_t *si, void *ctxp)
{
	char		 line[128], nb[24], ab[24];
	const char	*parts[5];
	size_t		 len = 0, i, k;
	long		 nr = si->si_syscall;

	/* Only the filter's trap is reported; a kill -SYS from root is not. */
	if (si->si_code != SYS_SECCOMP)
		goto die;
	parts[0] = "<3>net: " IPC_SIGSYS_LINE;
	parts[1] = net_fmt(nb + sizeof(nb), (unsigned long)si->si_syscall, 10);
	parts[2] = " arch 0x";
	parts[3] = net_fmt(ab + sizeof(ab), si->si_arch, 16);
	parts[4] = "\n";
	for (i = 0; i < nitems(parts); i++)
		for (k = 0; parts[i][k] != '\0' && len < sizeof(line); k++)
			line[len++] = parts[i][k];
	(void)!write(STDERR_FILENO, line, len);
	/* The same call with the same arguments traps again and kills. */
#if defined(__x86_64__)
	{
		ucontext_t	*uc = ctxp;
		greg_t		*r = uc->uc_mcontext.gregs;

		syscall(nr, r[REG_RDI], r[REG_RSI], r[REG_RDX], r[REG_R10],
		    r[REG_R8], r[REG_R9]);
	}
#elif defined(__aarch64__)
	{
		ucontext_t	*uc = ctxp;
		unsigned long long *r = uc->uc_mcontext.regs;

		syscall(nr, r[0], r[1], r[2], r[3], r[4], r[5]);
	}
#else
	syscall(nr, 0, 0, 0, 0, 0, 0);
#endif
 die:
	/* Never allowed, whatever the arguments: the last resort. */
	syscall(SYS_ptrace, 0, 0, 0, 0);
	_exit(159);
}

/* Before the filter: afterwards rt_sigaction is not allowed. */
static void
net_sigsys_install(void)
{
	struct sigaction	 sa;
	sigset_t		 set;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = net_sigsys;
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) == -1)
		fatal("sigaction SIGSYS");
	sigemptyset(&set);
	sigaddset(&set, SIGSYS);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
}

const char *
sandbox_filter(void)
{
	scmp_filter_ctx	 ctx;
	uint32_t	 action;
	size_t		 i;

#if SECCOMP_DEBUG
	action = SCMP_ACT_LOG;
#else
	action = SCMP_ACT_TRAP;
#endif
	net_sigsys_install();
	if ((ctx = seccomp_init(action)) == NULL)
		fatalx("seccomp_init");
	/* Calls of another architecture's numbering end the process. */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
	    SCMP_ACT_KILL_PROCESS) < 0)
		fatalx("seccomp bad-architecture action");
	for (i = 0; i < nitems(net_allowed); i++)
		RULE(net_allowed[i], 0);
	net_rules_args(ctx);
	net_rules_sanitizer(ctx);
	if (seccomp_load(ctx) < 0)
		fatalx("seccomp_load");
	seccomp_release(ctx);
#if SECCOMP_DEBUG
	return "seccomp(allow-list, log only: debug build)";
#else
	return "seccomp(allow-list, kill)";
#endif
}
