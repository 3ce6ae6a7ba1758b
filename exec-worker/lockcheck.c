/*
 * lockcheck.c: the lock compartment's own check (nixfleet §3.5) at
 * startup and every 5 minutes, outside any job.  git runs as a child of
 * the exec-worker with a 10 s limit; we never wait for it.  Jobs that
 * change the repository re-check through a captured step of their plan
 * instead (jobrun_create.c), so that their status is preceded by the new
 * state; this is the same check, with the same verdict function.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exec.h"
#include "jobrun.h"
#include "jobs.h"
#include "log.h"

#include "jobrun_priv.h"

#define LOCKCHECK_PERIOD	300.0	/* §3.5: every 5 min */
#define LOCKCHECK_LIMIT		10.0	/* git is killed after 10 s */

static void
lockcheck_then(struct lockcheck *lc)
{
	void	(*then)(void *) = lc->then;

	lc->then = NULL;
	if (then != NULL)
		then(lc->then_arg);
}

static void
lockcheck_done(struct jobrun *jr)
{
	struct lockcheck	*lc = &jr->lock;
	int			 st = -1;
	const char		*why = NULL;

	ev_timer_stop(jr->e->loop, &lc->limit);
	if (lc->killed)
		why = "signal: killed";
	else if (WIFEXITED(lc->status))
		st = WEXITSTATUS(lc->status);
	else
		why = "signal: killed";
	lc->out[lc->len] = '\0';
	/* refresh-lock's own result stands while it runs. */
	if (jr->cur == NULL || (jr->cur->meta->kind != JOB_REFRESH_LOCK &&
	    jr->cur->meta->kind != JOB_REFRESH_ALL)) {
		jobs_lock_verdict(&jr->sc.lock, 1, st, why, lc->out,
		    time(NULL));
		jobrun_send_state(jr);
	}
	lc->pid = -1;
	lockcheck_then(lc);
}

static void
lockcheck_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct jobrun		*jr = w->data;
	struct lockcheck	*lc = &jr->lock;
	char			 junk[512];
	ssize_t			 n;

	if (lc->len < sizeof(lc->out) - 1)
		n = read(w->fd, lc->out + lc->len, sizeof(lc->out) - 1 -
		    lc->len);
	else
		n = read(w->fd, junk, sizeof(junk));
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n > 0) {
		if (lc->len < sizeof(lc->out) - 1)
			lc->len += n;
		return;
	}
	ev_io_stop(loop, w);
	close(w->fd);
	lc->eof = 1;
	if (lc->reaped)
		lockcheck_done(jr);
}

static void
lockcheck_child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct jobrun		*jr = w->data;
	struct lockcheck	*lc = &jr->lock;

	ev_child_stop(loop, w);
	lc->status = w->rstatus;
	lc->reaped = 1;
	if (lc->eof)
		lockcheck_done(jr);
}

static void
lockcheck_limit_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct jobrun		*jr = w->data;
	struct lockcheck	*lc = &jr->lock;

	if (lc->pid > 0 && !lc->reaped) {
		log_warnx("lock check: git log still runs after 10 s, killed");
		lc->killed = 1;
		(void)kill(-lc->pid, SIGKILL);
	}
}

/* In the child: git's stdout on the pipe, the repository user's identity. */
static __dead void
lockcheck_exec(struct jobrun *jr, int out)
{
	char		*argv[] = { "git", "-C", jr->repo_dir, "log", "-1",
			    "--format=%ci", "--", "flake.lock", NULL };
	sigset_t	 none;
	int		 null;

	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setpgid(0, 0);
	if ((null = open("/dev/null", O_RDWR)) == -1 || dup2(null, 0) == -1 ||
	    dup2(out, 1) == -1 || dup2(null, 2) == -1)
		_exit(126);
	closefrom(3);
	if (jr->user_uid != 0 && geteuid() == 0 &&
	    (setgroups(1, &jr->user_gid) == -1 ||
	    setgid(jr->user_gid) == -1 || setuid(jr->user_uid) == -1))
		_exit(126);
	execvp(argv[0], argv);
	_exit(errno == ENOENT ? 127 : 126);
}

void
jobrun_lock_check(struct jobrun *jr)
{
	struct lockcheck	*lc = &jr->lock;
	char			 path[IPC_PATH_MAX + 16];
	int			 p[2];

	if (!jr->configured || lc->pid > 0 || jr->repo_dir[0] != '/')
		return;
	snprintf(path, sizeof(path), "%s/flake.lock", jr->repo_dir);
	if (access(path, F_OK) == -1) {
		jobs_lock_verdict(&jr->sc.lock, 0, 0, NULL, NULL, time(NULL));
		jobrun_send_state(jr);
		lockcheck_then(lc);
		return;
	}
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) == -1) {
		log_warn("lock check");
		lockcheck_then(lc);
		return;
	}
	switch ((lc->pid = fork())) {
	case -1:
		log_warn("lock check: fork");
		close(p[0]);
		close(p[1]);
		lockcheck_then(lc);
		return;
	case 0:
		lockcheck_exec(jr, p[1]);
	default:
		break;
	}
	setpgid(lc->pid, lc->pid);
	close(p[1]);
	lc->len = 0;
	lc->eof = lc->reaped = lc->killed = 0;
	ev_io_init(&lc->io, lockcheck_read_cb, p[0], EV_READ);
	lc->io.data = jr;
	ev_io_start(jr->e->loop, &lc->io);
	ev_child_init(&lc->child, lockcheck_child_cb, lc->pid, 0);
	lc->child.data = jr;
	ev_child_start(jr->e->loop, &lc->child);
	ev_timer_init(&lc->limit, lockcheck_limit_cb, LOCKCHECK_LIMIT, 0);
	lc->limit.data = jr;
	ev_timer_start(jr->e->loop, &lc->limit);
}

static void
lockcheck_tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	jobrun_lock_check(w->data);
}

/*
 * Every 5 minutes from the configuration on; the first check waits for
 * the repository (jobrun_lock_first), which a clone may still be making.
 */
void
jobrun_lock_start(struct jobrun *jr)
{
	struct lockcheck	*lc = &jr->lock;

	if (!lc->ticking) {
		lc->pid = -1;
		ev_timer_init(&lc->tick, lockcheck_tick_cb, LOCKCHECK_PERIOD,
		    LOCKCHECK_PERIOD);
		lc->tick.data = jr;
		ev_timer_start(jr->e->loop, &lc->tick);
		lc->ticking = 1;
	}
}

void
jobrun_lock_first(struct jobrun *jr, void (*then)(void *), void *arg)
{
	struct lockcheck	*lc = &jr->lock;

	lc->then = then;
	lc->then_arg = arg;
	if (lc->pid > 0)
		return;		/* a check runs: then() follows it */
	jobrun_lock_check(jr);
	if (lc->pid <= 0)
		lockcheck_then(lc);	/* not started: nothing to wait for */
}
