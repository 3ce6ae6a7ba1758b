/*
 * worker.c: start, watch and restart the net-worker and the exec-worker.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "log.h"
#include "proto.h"
#include "supervisor.h"

extern char	**environ;

#define WORKER_ARGS	16
#define WORKER_ENVS	32

/* What a worker may see of our environment; secrets are not on it. */
static const char *const worker_env_exec[] = {
	"PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "TMPDIR",
	"NIX_PATH", "LOCALE_ARCHIVE", "STATE_DIRECTORY", "INVOCATION_ID",
	"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS",
};
static const char *const worker_env_net[] = {
	"TZ", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS",
};

static void	worker_child_cb(struct ev_loop *, ev_child *, int);
static void	worker_log_cb(struct ev_loop *, ev_io *, int);
static void	worker_restart_cb(struct ev_loop *, ev_timer *, int);
static void	worker_kill_cb(struct ev_loop *, ev_timer *, int);

/*
 * Run from the build tree, the workers are beside us in the tree; else
 * they are in the configured libexec directory.
 */
int
worker_find_paths(struct sup *s)
{
	char		 exe[4096], dir[4096], *d;
	ssize_t		 n;
	int		 i;
	static const char *const names[W_COUNT] = {
		[W_NET] = "net-worker/nixfleet-agent-net",
		[W_EXEC] = "exec-worker/nixfleet-agent-exec",
	};

	s->w[W_NET].name = "net-worker";
	s->w[W_EXEC].name = "exec-worker";
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) == -1)
		fatal("readlink /proc/self/exe");
	exe[n] = '\0';
	strlcpy(dir, exe, sizeof(dir));
	d = dirname(dir);
	for (i = 0; i < W_COUNT; i++) {
		if (strcmp(basename(d), "supervisor") == 0) {
			snprintf(s->w[i].path, sizeof(s->w[i].path),
			    "%s/../%s", d, names[i]);
			if (access(s->w[i].path, X_OK) == 0)
				continue;
		}
		snprintf(s->w[i].path, sizeof(s->w[i].path), "%s/%s",
		    s->cfg.libexec_dir, strchr(names[i], '/') + 1);
		if (access(s->w[i].path, X_OK) == -1) {
			log_warn("%s binary %s", s->w[i].name, s->w[i].path);
			return -1;
		}
	}
	return 0;
}

static void
worker_build_env(char **envp, const char *const *names, size_t n)
{
	const char	*v;
	size_t		 i, k = 0;
	char		*e;

	for (i = 0; i < n && k < WORKER_ENVS - 1; i++) {
		if ((v = getenv(names[i])) == NULL)
			continue;
		if (asprintf(&e, "%s=%s", names[i], v) == -1)
			fatal(NULL);
		envp[k++] = e;
	}
	envp[k] = NULL;
}

static void
worker_free_strv(char **v)
{
	for (; *v != NULL; v++)
		free(*v);
}

/*
 * Between fork and execve we are a copy of a process that may have
 * resolver threads: only async-signal-safe calls from here on.
 */
static __dead void
worker_exec_child(const char *path, char **argv, char **envp, int chan,
    int peer, int logfd)
{
	sigset_t	 none;
	int		 sig, fds[3], i, null;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	/* Out of the way of 0-4 first, then onto the fixed numbers. */
	fds[0] = fcntl(chan, F_DUPFD_CLOEXEC, 10);
	fds[1] = fcntl(peer, F_DUPFD_CLOEXEC, 10);
	fds[2] = fcntl(logfd, F_DUPFD_CLOEXEC, 10);
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	for (i = 0; i < 3; i++)
		if (fds[i] == -1)
			_exit(126);
	if (null == -1 || dup2(null, STDIN_FILENO) == -1 ||
	    dup2(fds[2], STDOUT_FILENO) == -1 ||
	    dup2(fds[2], STDERR_FILENO) == -1 ||
	    dup2(fds[0], IPC_FD_SUP) == -1 ||
	    dup2(fds[1], IPC_FD_PEER) == -1)
		_exit(126);
	closefrom(IPC_FD_PEER + 1);
	/* Our terminal's ^C is for the supervisor, which stops us cleanly. */
	setsid();
	execve(path, argv, envp);
	(void)!write(STDERR_FILENO, "execve failed\n", 14);
	_exit(127);
}

static pid_t
worker_spawn(struct sup *s, struct worker *w, char **argv, char **envp,
    int chan, int peer, int *logfd)
{
	int	 lp[2];
	pid_t	 pid;

	if (pipe2(lp, O_CLOEXEC) == -1)
		return -1;
	switch ((pid = fork())) {
	case -1:
		close(lp[0]);
		close(lp[1]);
		return -1;
	case 0:
		worker_exec_child(w->path, argv, envp, chan, peer, lp[1]);
	}
	close(lp[1]);
	fcntl(lp[0], F_SETFL, O_NONBLOCK);
	*logfd = lp[0];
	w->pid = pid;
	w->ready = 0;
	w->told_stop = 0;
	w->ping_sent = w->ping_seen = 0;
	w->loglen = 0;
	ev_child_init(&w->child, worker_child_cb, pid, 0);
	w->child.data = s;
	ev_child_start(s->loop, &w->child);
	ev_io_init(&w->logio, worker_log_cb, lp[0], EV_READ);
	w->logio.data = w;
	ev_io_start(s->loop, &w->logio);
	log_info("%s started (pid %d)", w->name, (int)pid);
	return pid;
}

/*
 * The name a worker's relayed lines carry: the one its own logger uses,
 * taken from what we started, never from what it writes.
 */
static const char *
worker_log_name(const struct worker *w)
{
	return strcmp(w->name, "net-worker") == 0 ? "net" : "exec";
}

static void
worker_log_flush(struct worker *w, int all)
{
	const char	*name = worker_log_name(w);
	char		*nl, *p = w->logbuf;
	size_t		 left = w->loglen;

	while ((nl = memchr(p, '\n', left)) != NULL) {
		*nl = '\0';
		log_relay(name, p);
		left -= nl + 1 - p;
		p = nl + 1;
	}
	/* A line longer than the buffer, or the last words of a worker. */
	if (left > 0 && (all || left == sizeof(w->logbuf) - 1)) {
		p[left] = '\0';
		log_relay(name, p);
		left = 0;
	}
	memmove(w->logbuf, p, left);
	w->loglen = left;
}

static void
worker_log_close(struct ev_loop *loop, struct worker *w)
{
	if (!ev_is_active(&w->logio))
		return;
	worker_log_flush(w, 1);
	ev_io_stop(loop, &w->logio);
	close(w->logio.fd);
}

static void
worker_log_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct worker	*w = io->data;
	ssize_t		 n;
	int		 rounds;

	for (rounds = 0; rounds < 16; rounds++) {
		n = read(io->fd, w->logbuf + w->loglen,
		    sizeof(w->logbuf) - 1 - w->loglen);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			worker_log_close(loop, w);
			return;
		}
		w->loglen += n;
		worker_log_flush(w, 0);
	}
}

/*
 * Start the workers in mask (1 << W_NET, 1 << W_EXEC), each with a new
 * channel to us and, as its fd 4, the end of the net<->exec pair it holds
 * in peerfd (closed here).
 */
static int
worker_start(struct sup *s, int mask)
{
	char		*argv[W_COUNT][WORKER_ARGS], *envp[W_COUNT][WORKER_ENVS];
	char		 lvl[8], uid[16], gid[16];
	int		 sp[W_COUNT][2], logfd[W_COUNT], i, k;

	for (i = 0; i < W_COUNT; i++) {
		sp[i][0] = sp[i][1] = -1;
		if (!(mask & (1 << i)))
			continue;
		worker_log_close(s->loop, &s->w[i]);
		if (s->w[i].peerfd == -1 || socketpair(AF_UNIX,
		    SOCK_STREAM | SOCK_CLOEXEC, 0, sp[i]) == -1) {
			log_warn("socketpair");
			return -1;
		}
	}
	snprintf(lvl, sizeof(lvl), "%d", log_getlevel());
	snprintf(uid, sizeof(uid), "%u", (unsigned)s->net_uid);
	snprintf(gid, sizeof(gid), "%u", (unsigned)s->net_gid);
	k = 0;
	argv[W_NET][k++] = "nixfleet-agent-net";
	argv[W_NET][k++] = "-l";
	argv[W_NET][k++] = lvl;
	if (s->root) {
		/* The worker drops to these itself, after its setup. */
		argv[W_NET][k++] = "-u";
		argv[W_NET][k++] = uid;
		argv[W_NET][k++] = "-g";
		argv[W_NET][k++] = gid;
		argv[W_NET][k++] = "-r";
		argv[W_NET][k++] = s->cfg.privsep_dir;
	}
	argv[W_NET][k] = NULL;
	k = 0;
	argv[W_EXEC][k++] = "nixfleet-agent-exec";
	argv[W_EXEC][k++] = "-l";
	argv[W_EXEC][k++] = lvl;
	argv[W_EXEC][k] = NULL;
	worker_build_env(envp[W_NET], worker_env_net, nitems(worker_env_net));
	worker_build_env(envp[W_EXEC], worker_env_exec,
	    nitems(worker_env_exec));

	for (i = 0; i < W_COUNT; i++) {
		if ((mask & (1 << i)) && worker_spawn(s, &s->w[i], argv[i],
		    envp[i], sp[i][1], s->w[i].peerfd, &logfd[i]) == -1)
			log_warn("fork");
	}
	for (i = 0; i < W_COUNT; i++) {
		worker_free_strv(envp[i]);
		if (!(mask & (1 << i)))
			continue;
		close(sp[i][1]);
		close(s->w[i].peerfd);
		s->w[i].peerfd = -1;
		fcntl(sp[i][0], F_SETFL, O_NONBLOCK);
		sup_channel_init(s, i, sp[i][0]);
	}
	for (i = 0; i < W_COUNT; i++)
		if ((mask & (1 << i)) && s->w[i].pid <= 0)
			sup_worker_lost(s, i, "cannot start a worker");
	return 0;
}

/* The new net<->exec pair: an end for each worker's next start. */
static int
worker_new_pair(struct sup *s)
{
	int	 ne[2], i;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ne) == -1) {
		log_warn("socketpair");
		return -1;
	}
	for (i = 0; i < W_COUNT; i++) {
		if (s->w[i].peerfd != -1)
			close(s->w[i].peerfd);
		s->w[i].peerfd = ne[i];
	}
	return 0;
}

void
worker_init(struct sup *s)
{
	int	 i;

	for (i = 0; i < W_COUNT; i++) {
		s->w[i].peerfd = -1;
		s->w[i].backoff_s = 1;
		ev_timer_init(&s->w[i].restart_timer, worker_restart_cb, 0, 0);
		ev_timer_init(&s->w[i].kill_timer, worker_kill_cb, 0, 0);
		s->w[i].restart_timer.data = s->w[i].kill_timer.data = s;
	}
}

int
worker_start_all(struct sup *s)
{
	if (worker_new_pair(s) == -1)
		return -1;
	return worker_start(s, (1 << W_NET) | (1 << W_EXEC));
}

int
worker_running(const struct sup *s)
{
	int	 i;

	for (i = 0; i < W_COUNT; i++)
		if (s->w[i].pid > 0)
			return 1;
	return 0;
}

void
worker_stop_all(struct sup *s, int sig)
{
	int	 i;

	for (i = 0; i < W_COUNT; i++)
		if (s->w[i].pid > 0)
			kill(s->w[i].pid, sig);
}

void
worker_stop_timers(struct sup *s)
{
	int	 i;

	for (i = 0; i < W_COUNT; i++) {
		ev_timer_stop(s->loop, &s->w[i].restart_timer);
		ev_timer_stop(s->loop, &s->w[i].kill_timer);
	}
}

static void
worker_child_cb(struct ev_loop *loop, ev_child *c, int revents)
{
	struct sup	*s = c->data;
	struct worker	*w = NULL;
	char		 why[128];
	int		 i, id = 0;

	for (i = 0; i < W_COUNT; i++)
		if (&s->w[i].child == c) {
			w = &s->w[i];
			id = i;
		}
	ev_child_stop(loop, c);
	if (w == NULL)
		return;
	if (WIFSIGNALED(c->rstatus))
		snprintf(why, sizeof(why), "%s (pid %d) killed by signal %d",
		    w->name, c->rpid, WTERMSIG(c->rstatus));
	else
		snprintf(why, sizeof(why), "%s (pid %d) exited with status "
		    "%d", w->name, c->rpid, WEXITSTATUS(c->rstatus));
	w->pid = 0;
	w->ready = 0;
	if (ev_is_active(&w->logio))	/* its last words */
		worker_log_cb(loop, &w->logio, EV_READ);
	if (s->stopping || s->reload || w->restarting)
		log_info("%s", why);
	sup_worker_lost(s, id, why);
}

int
worker_note_restart(struct worker *w, ev_tstamp now)
{
	int	 i, recent = 0;

	if (w->nrestarts > 0 &&
	    now - w->restarts[w->nrestarts - 1] > SUP_RESTART_WINDOW)
		w->backoff_s = 1;
	if (w->nrestarts == (int)nitems(w->restarts)) {
		memmove(w->restarts, w->restarts + 1,
		    sizeof(w->restarts[0]) * (w->nrestarts - 1));
		w->nrestarts--;
	}
	w->restarts[w->nrestarts++] = now;
	for (i = 0; i < w->nrestarts; i++)
		if (now - w->restarts[i] <= SUP_RESTART_WINDOW)
			recent++;
	return recent;
}

int
worker_next_backoff(struct worker *w)
{
	int	 delay = w->backoff_s;

	if (delay < 1)
		delay = 1;
	if ((w->backoff_s = delay * 2) > SUP_BACKOFF_MAX)
		w->backoff_s = SUP_BACKOFF_MAX;
	return delay;
}

/*
 * The survivor of a death keeps running: it gets its end of a new
 * net<->exec pair now (IPC_SN_PEER / IPC_SE_PEER), the dead worker's
 * replacement the other end when its backoff ends.  A survivor that is
 * itself down keeps its end for its own start.
 */
static void
worker_hand_peer(struct sup *s, int i)
{
	struct worker	*o = &s->w[i == W_NET ? W_EXEC : W_NET];
	int		 fd, oi = i == W_NET ? W_EXEC : W_NET;

	if (worker_new_pair(s) == -1) {
		sup_give_up(s, "cannot make a channel between the workers");
		return;
	}
	if (o->restarting || o->pid <= 0 || !ipcev_active(&o->iev))
		return;
	fd = o->peerfd;
	o->peerfd = -1;
	log_info("handing the %s a channel to a new %s", o->name,
	    s->w[i].name);
	ipcev_compose(&o->iev, oi == W_NET ? IPC_SN_PEER : IPC_SE_PEER, 0, fd,
	    NULL, 0);
}

/*
 * A worker goes down alone and comes back after its backoff: 1 s,
 * doubling to 30 s, back to 1 s after a quiet minute; the other one keeps
 * running and gets a channel to the new one.  More than SUP_RESTART_MAX
 * restarts of one worker in SUP_RESTART_WINDOW seconds: give up, so the
 * service manager sees the failure.  A reload restarts both, at once.
 */
void
worker_schedule_restart(struct sup *s, int i, const char *why)
{
	struct worker	*w = &s->w[i];
	char		 msg[96];
	int		 recent, k;
	ev_tstamp	 delay;

	if (!w->restarting) {
		w->restarting = 1;
		ipcev_close(&w->iev);
		w->ready = 0;
		if (!s->reload) {
			log_warnx("%s; restarting the %s", why, w->name);
			recent = worker_note_restart(w, ev_now(s->loop));
			if (recent > SUP_RESTART_MAX) {
				snprintf(msg, sizeof(msg), "%d %s restarts "
				    "within %d s", recent, w->name,
				    SUP_RESTART_WINDOW);
				sup_give_up(s, msg);
				return;
			}
			worker_hand_peer(s, i);
			if (s->stopping)
				return;
		}
		if (w->pid > 0) {
			kill(w->pid, SIGTERM);
			ev_timer_set(&w->kill_timer, 2.0, 0);
			ev_timer_start(s->loop, &w->kill_timer);
		}
	}
	if (w->pid > 0 || ev_is_active(&w->restart_timer))
		return;
	ev_timer_stop(s->loop, &w->kill_timer);
	if (s->reload) {
		/* Both down, then both up on a new pair and configuration. */
		if (worker_running(s))
			return;
		s->reload = 0;
		if (worker_new_pair(s) == -1) {
			sup_give_up(s, "cannot make a channel between the "
			    "workers");
			return;
		}
		for (k = 0; k < W_COUNT; k++) {
			s->w[k].restarting = 1;
			ev_timer_stop(s->loop, &s->w[k].restart_timer);
			ev_timer_set(&s->w[k].restart_timer, 0, 0);
			ev_timer_start(s->loop, &s->w[k].restart_timer);
		}
		return;
	}
	delay = worker_next_backoff(w);
	log_info("restarting the %s in %.0f s", w->name, delay);
	ev_timer_set(&w->restart_timer, delay, 0);
	ev_timer_start(s->loop, &w->restart_timer);
}

static void
worker_kill_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct sup	*s = t->data;
	int		 i;

	for (i = 0; i < W_COUNT; i++)
		if (t == &s->w[i].kill_timer && s->w[i].pid > 0) {
			log_warnx("%s did not stop in time, killing it",
			    s->w[i].name);
			kill(s->w[i].pid, SIGKILL);
		}
}

static void
worker_restart_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct sup	*s = t->data;
	int		 i;

	for (i = 0; i < W_COUNT; i++) {
		if (t != &s->w[i].restart_timer)
			continue;
		s->w[i].restarting = 0;
		if (s->w[i].peerfd == -1)
			worker_hand_peer(s, i);
		if (s->stopping)
			return;
		if (worker_start(s, 1 << i) == -1)
			sup_give_up(s, "cannot start the workers");
	}
}
