/*
 * repo.h: the repository at the exec-worker's start (nixfleet-protocol.md
 * §4.2).  Legacy mode: the directory must exist.  Isolated mode: a
 * missing checkout is cloned, one that git calls corrupt is removed and
 * cloned again.  git runs as a child on the event loop (ev_child, a
 * timer bounds it), as the repository user when a root agent has one,
 * with the key's GIT_SSH_COMMAND; its output goes to the log.  The
 * exec-worker answers no facts request before the repository is done,
 * and asks the supervisor to exit 1 when it fails.
 */
#ifndef REPO_H
#define REPO_H

#include <sys/types.h>

#include <ev.h>

#include "proto.h"

enum repo_state {
	REPO_IDLE = 0,		/* no IPC_SE_REPO_CONFIG yet */
	REPO_CHECKING,		/* git rev-parse --git-dir runs */
	REPO_CLONING,		/* git clone runs */
	REPO_READY,
	REPO_FAILED,
};

/* ok 1: the repository is usable; 0: the agent must exit 1. */
typedef void	(*repo_done_fn)(void *arg, int ok);

struct repo {
	struct ev_loop	*loop;
	repo_done_fn	 done;
	void		*arg;
	int		 state;		/* enum repo_state */
	int		 mode;		/* enum ipc_repo_mode */
	char		 dir[IPC_PATH_MAX];
	char		 state_dir[IPC_PATH_MAX];
	char		 branch[256];
	char		 ssh_key[IPC_PATH_MAX];
	char		 user[IPC_SHORT_MAX];
	char		 url[IPC_REPO_URL_MAX];
	char		 origin[512];
	char		 secret[IPC_REPO_URL_MAX];	/* URL password */
	int		 as_user;	/* git switches to the repo user */
	uid_t		 uid;		/* who git runs as */
	gid_t		 gid;
	char		 home[IPC_PATH_MAX];	/* the repo user's */
	int		 remove;	/* the clone removes the dir first */
	pid_t		 pid;		/* git's, its own process group */
	int		 status;	/* its exit code, -1: a signal */
	int		 fd;		/* its stdout and stderr */
	ev_child	 child;
	ev_io		 io;
	ev_timer	 timer;
	char		 line[1024];
	char		 last[256];	/* the check's last line, for the log */
	size_t		 len;
	int		 lines;		/* output lines logged */
	int		 timed_out;
};

void	repo_init(struct repo *, struct ev_loop *, repo_done_fn, void *);
/* From IPC_SE_CONFIG and IPC_SE_JOBS_CONFIG: directory, branch, key, user. */
void	repo_configure(struct repo *, const struct ipc_exec_config *,
	    const struct ipc_exec_jobs *);
/* IPC_SE_REPO_CONFIG, checked: start; done() is called once, maybe now. */
void	repo_start(struct repo *, const struct ipc_exec_repo *);
int	repo_ready(const struct repo *);

/*
 * Pure parts, for the tests.  Whether dir may be removed as a corrupt
 * checkout: absolute, not "/", not state_dir, not one of its ancestors
 * (both real paths).  1 or 0.
 */
int	repo_may_remove(const char *dir, const char *state_dir);
/*
 * The URL for a log line: a password in it (https://user:pw@host/) or an
 * http(s) user name alone (a token) becomes "***".  The secret that was
 * hidden goes to secret ("" when none), so git's output can be scrubbed.
 */
void	repo_redact_url(const char *url, char *buf, size_t size, char *secret,
	    size_t secret_size);
/* line with every occurrence of secret (when not "") replaced by "***". */
void	repo_scrub(const char *line, const char *secret, char *buf,
	    size_t size);
/*
 * git clone's argv, §4.2's exactly (NULL-ended, pointing into r): at most
 * 10 entries.  The URL never starts with '-' (config.c, repo_start).
 */
void	repo_clone_argv(const struct repo *, const char **argv);

#endif
