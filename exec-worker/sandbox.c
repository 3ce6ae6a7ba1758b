/*
 * sandbox.c: what the exec-worker gives up.  It keeps root where the
 * supervisor runs as root, because activating a NixOS generation needs
 * it; so its sandbox has the net-worker's numbered shape with most steps
 * skipped, each saying why.
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <time.h>
#include <unistd.h>

#include "exec.h"
#include "log.h"

void
exec_sandbox(void)
{
	struct rlimit	 rl = { 0, 0 };

	/* 1. Nothing to load ahead: the worker reads files as it goes. */
	tzset();
	/*
	 * 2. No chroot: jobs need the repository, the Nix store, sudo and
	 * the state directory.
	 * 3. No user switch: nixos-rebuild switch and reboot need root (or
	 * sudo, which needs the setuid bit to work).
	 * 4. No PR_SET_NO_NEW_PRIVS: it would break sudo in jobs.
	 */
	/* 5. The limits that cost jobs nothing. */
	if (setrlimit(RLIMIT_CORE, &rl) == -1)
		fatal("setrlimit RLIMIT_CORE");	/* no tokens in core files */
	umask(077);				/* state and logs: ours only */
	/*
	 * The cwd stays the agent's: admin commands without a cwd, relative
	 * cwds and backup paths, and shells start there (socketio 6.1, 6.6).
	 * Jobs set their own (the repository).
	 */
	/* 6. No syscall filter: this worker runs programs by design. */
}
