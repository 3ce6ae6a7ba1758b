/*
 * worker.c: start, watch and restart the net-worker and the exec-worker.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
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
	"TEMP", "TERM",			/* the admin child's set (socketio 6.1) */
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
	w->sigsys_seen = 0;
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
		if (worker_sigsys_parse(p, &w->sigsys_nr, &w->sigsys_arch))
			w->sigsys_seen = 1;
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
	char		 lvl[8], uid[16], gid[16], maxmsg[16];
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
	snprintf(maxmsg, sizeof(maxmsg), "%u", (unsigned)s->cfg.max_message);
	k = 0;
	argv[W_NET][k++] = "nixfleet-agent-net";
	argv[W_NET][k++] = "-l";
	argv[W_NET][k++] = lvl;
	/* It sizes its memory limit from this before the config arrives. */
	argv[W_NET][k++] = "-m";
	argv[W_NET][k++] = maxmsg;
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
	char		 why[256];
	int		 i, id = 0;

	for (i = 0; i < W_COUNT; i++)
		if (&s->w[i].child == c) {
			w = &s->w[i];
			id = i;
		}
	ev_child_stop(loop, c);
	if (w == NULL)
		return;
	w->pid = 0;
	w->ready = 0;
	/* Its last words first: they may name the call the sandbox denied. */
	if (ev_is_active(&w->logio))
		worker_log_cb(loop, &w->logio, EV_READ);
	worker_death_reason(w->name, c->rpid, c->rstatus, w->sigsys_seen ?
	    w->sigsys_nr : -1, w->sigsys_arch, why, sizeof(why));
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

/*
 * "<3>net: sandbox: forbidden system call 41 arch 0xc000003e", the line
 * the net-worker's SIGSYS handler writes (sandbox-seccomp.c).  1 and the
 * number and audit architecture if line is one.
 */
int
worker_sigsys_parse(const char *line, long *nr, uint32_t *arch)
{
	const char	*p;
	char		*end;
	unsigned long	 a;
	long		 n;

	if ((p = strstr(line, IPC_SIGSYS_LINE)) == NULL)
		return 0;
	p += strlen(IPC_SIGSYS_LINE);
	if (!isdigit((unsigned char)*p))
		return 0;
	errno = 0;
	n = strtol(p, &end, 10);
	if (errno != 0 || n < 0 || strncmp(end, " arch 0x", 8) != 0)
		return 0;
	p = end + 8;
	if (!isxdigit((unsigned char)*p))
		return 0;
	a = strtoul(p, &end, 16);
	if (*end != '\0' || a > UINT32_MAX)
		return 0;
	*nr = n;
	*arch = (uint32_t)a;
	return 1;
}

/*
 * Why a worker ended, from its wait status and, for SIGSYS, the call its
 * last line named (nr -1: none).
 */
void
worker_death_reason(const char *name, pid_t pid, int status, long nr,
    uint32_t arch, char *buf, size_t size)
{
	char	 call[64];

	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS && nr >= 0)
		snprintf(buf, size, "%s (pid %d) killed by its sandbox: "
		    "forbidden system call %s (%ld, arch 0x%x)", name,
		    (int)pid, worker_syscall_name(nr, arch, call, sizeof(call)),
		    nr, arch);
	else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
		snprintf(buf, size, "%s (pid %d) killed by its sandbox "
		    "(SIGSYS, the call not reported)", name, (int)pid);
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "%s (pid %d) killed by signal %d", name,
		    (int)pid, WTERMSIG(status));
	else
		snprintf(buf, size, "%s (pid %d) exited with status %d", name,
		    (int)pid, WEXITSTATUS(status));
}

/*
 * A process whose real, effective, saved or file-system uid (or gid) is
 * id, other than except: its pid, else 0.  /proc shows every process to
 * root.
 */
pid_t
worker_id_in_use(id_t id, pid_t except)
{
	DIR		*d;
	struct dirent	*de;
	FILE		*fp;
	char		 path[64], line[256];
	unsigned long	 v[4];
	pid_t		 pid, found = 0;
	int		 i, n;

	if ((d = opendir("/proc")) == NULL)
		return -1;
	while (found == 0 && (de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = (pid_t)strtol(de->d_name, NULL, 10);
		if (pid == except)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
		if ((fp = fopen(path, "re")) == NULL)
			continue;	/* gone meanwhile */
		while (fgets(line, sizeof(line), fp) != NULL) {
			if (strncmp(line, "Uid:", 4) != 0 &&
			    strncmp(line, "Gid:", 4) != 0)
				continue;
			n = sscanf(line + 4, "%lu %lu %lu %lu", &v[0], &v[1],
			    &v[2], &v[3]);
			for (i = 0; i < n; i++)
				if (v[i] == (unsigned long)id)
					found = pid;
		}
		fclose(fp);
	}
	closedir(d);
	return found;
}

/*
 * The first id in [base, base + count) that no user, no group and no
 * process has (except our own net-worker's, on a reload); -1 if none.
 */
int
worker_pick_free_id(id_t base, unsigned int count, pid_t except, id_t *out)
{
	unsigned int	 i;
	id_t		 id;

	for (i = 0; i < count; i++) {
		id = base + i;
		if (getpwuid(id) != NULL || getgrgid(id) != NULL ||
		    worker_id_in_use(id, except) != 0)
			continue;
		*out = id;
		return 0;
	}
	return -1;
}

/*
 * The net-worker's uid and gid, never one another process has: the
 * configured user (netUser), which must exist and run nothing else; or,
 * when netUser is left at its default and no such user exists, a free id
 * from WORKER_NET_ID_BASE on (supervisor.h), used as both uid and gid.
 */
int
worker_net_identity(struct sup *s)
{
	struct passwd	*pw;
	pid_t		 other, ours = s->w[W_NET].pid;
	id_t		 id;

	if ((pw = getpwnam(s->cfg.net_user)) != NULL) {
		if (pw->pw_uid == 0 || pw->pw_gid == 0) {
			log_error("net-worker user %s has uid or gid 0",
			    pw->pw_name);
			return -1;
		}
		if ((other = worker_id_in_use(pw->pw_uid, ours)) != 0) {
			log_error("net-worker user %s (uid %u) is in use by "
			    "pid %d: give the net-worker a user of its own",
			    pw->pw_name, (unsigned)pw->pw_uid, (int)other);
			return -1;
		}
		s->net_uid = pw->pw_uid;
		s->net_gid = pw->pw_gid;
		s->net_id_free = 0;
		log_info("the net-worker runs as user %s (uid %u, gid %u)",
		    pw->pw_name, (unsigned)s->net_uid, (unsigned)s->net_gid);
		return 0;
	}
	if (config_source_of(&s->cfg, "netUser") != SRC_DEFAULT) {
		log_error("net-worker user %s does not exist", s->cfg.net_user);
		return -1;
	}
	/* A reload keeps the id the running net-worker has, if still free. */
	if (s->net_id_free && getpwuid(s->net_uid) == NULL &&
	    getgrgid(s->net_gid) == NULL &&
	    worker_id_in_use(s->net_uid, ours) == 0)
		return 0;
	if (worker_pick_free_id(WORKER_NET_ID_BASE, WORKER_NET_ID_COUNT, ours,
	    &id) == -1) {
		log_error("no free uid in %u-%u for the net-worker; create "
		    "the user %s", WORKER_NET_ID_BASE, WORKER_NET_ID_BASE +
		    WORKER_NET_ID_COUNT - 1, s->cfg.net_user);
		return -1;
	}
	s->net_uid = (uid_t)id;
	s->net_gid = (gid_t)id;
	s->net_id_free = 1;
	log_info("no user %s: the net-worker runs as uid and gid %u, which "
	    "no user, group or process has", s->cfg.net_user, (unsigned)id);
	return 0;
}

/*
 * --print-config: the sandbox a net-worker started now would get, as far
 * as the supervisor can tell without starting one (the worker logs what
 * it really applied).
 */
void
worker_print_sandbox(const struct sup *s, FILE *fp)
{
	long	 abi;

#ifdef SYS_landlock_create_ruleset
	abi = syscall(SYS_landlock_create_ruleset, NULL, 0, 1U);
#else
	abi = -1;
	errno = ENOSYS;
#endif
	fprintf(fp, "net-worker sandbox = %s+no capabilities+rlimits+%s+",
	    geteuid() == 0 ? "chroot+own uid" : "no chroot, no uid switch "
	    "(unprivileged)",
	    HAVE_SECCOMP ? (SECCOMP_DEBUG ?
	    "seccomp(allow-list, log only: debug build)" :
	    "seccomp(allow-list, kill)") : "no seccomp (built without "
	    "libseccomp)");
	if (abi > 0)
		fprintf(fp, "landlock abi %ld", abi);
	else
		fprintf(fp, "no landlock (%s)", errno == EOPNOTSUPP ?
		    "disabled at boot" : "not in this kernel");
	fprintf(fp, "  (probed by the supervisor)\n");
	fprintf(fp, "net-worker uid = user %s if it exists, else a free id "
	    "from %u to %u  (derived from netUser)\n", s->cfg.net_user,
	    WORKER_NET_ID_BASE, WORKER_NET_ID_BASE + WORKER_NET_ID_COUNT - 1);
}
