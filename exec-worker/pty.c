/*
 * pty.c: PTY shells (socketio-protocol.md §6.6).  The exec-worker owns
 * the master; the shell runs on the slave as a session leader.  Keystrokes
 * must feel local, so nothing is batched: input is written the moment it
 * arrives, output goes out as each read() returns (at most 4 KiB, an
 * unfinished UTF-8 sequence carried to the next chunk).
 */
#include <sys/ioctl.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "admin.h"
#include "compat.h"
#include "log.h"
#include "remote.h"

#define PTY_QUEUE_MAX	(1024 * 1024)	/* input queued per session */
#define PTY_KILL_S	2.0		/* SIGHUP, then SIGKILL */
#define PTY_ARGS_MAX	64

extern char	**environ;

struct shell {
	LIST_ENTRY(shell)	 entry;
	struct remote		*r;
	char			 session[IPC_SESSION_MAX];
	pid_t			 pid;
	int			 master;	/* -1 once closed */
	unsigned char		 carry[4];
	size_t			 ncarry;
	char			*q;		/* input not yet written */
	size_t			 qlen;
	int			 closing;
	int			 orphan;	/* its session ended: mute */
	ev_io			 rd, wr;
	ev_child		 child;
	ev_timer		 kill_t, idle_t;
};

int
pty_size_valid(uint32_t cols, uint32_t rows)
{
	return cols >= 1 && cols <= IPC_SHELL_DIM_MAX &&
	    rows >= 1 && rows <= IPC_SHELL_DIM_MAX;
}

size_t
pty_utf8_tail(const unsigned char *b, size_t n)
{
	size_t	 k, need;

	for (k = 1; k <= 3 && k <= n; k++) {
		unsigned char	c = b[n - k];

		if ((c & 0xc0) == 0x80)
			continue;		/* continuation: look further */
		if (c >= 0xc2 && c <= 0xdf)
			need = 2;
		else if ((c & 0xf0) == 0xe0)
			need = 3;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 4;
		else
			return 0;		/* ASCII or invalid: nothing */
		return k < need ? k : 0;
	}
	return 0;
}

static void
pty_send_closed(struct remote *r, const char *session, int code,
    const char *reason, const char *signal)
{
	struct ipc_shell_closed	 c;

	memset(&c, 0, sizeof(c));
	strlcpy(c.session, session, sizeof(c.session));
	c.code = code;
	strlcpy(c.reason, reason, sizeof(c.reason));
	strlcpy(c.signal, signal != NULL ? signal : "", sizeof(c.signal));
	if (ipcev_active(r->net))
		ipcev_compose(r->net, IPC_EN_SHELL_CLOSED, 0, -1, &c,
		    sizeof(c));
}

static void
pty_send_output(struct shell *s, const unsigned char *b, size_t n)
{
	struct ipc_shell	 h;
	struct iovec		 iov[2];

	if (n == 0 || s->orphan || !ipcev_active(s->r->net))
		return;
	memset(&h, 0, sizeof(h));
	strlcpy(h.session, s->session, sizeof(h.session));
	h.len = n;
	iov[0].iov_base = &h;
	iov[0].iov_len = sizeof(h);
	iov[1].iov_base = (void *)b;
	iov[1].iov_len = n;
	ipcev_composev(s->r->net, IPC_EN_SHELL_OUTPUT, 0, -1, iov, 2);
}

static struct shell *
pty_find(struct remote *r, const char *session)
{
	struct shell	*s;

	/* An orphan is not found: a new session may reuse its id. */
	LIST_FOREACH(s, &r->shells, entry)
		if (!s->orphan && strcmp(s->session, session) == 0)
			return s;
	return NULL;
}

static void
pty_close_master(struct shell *s)
{
	ev_io_stop(s->r->loop, &s->rd);
	ev_io_stop(s->r->loop, &s->wr);
	if (s->master != -1) {
		close(s->master);
		s->master = -1;
	}
	free(s->q);
	s->q = NULL;
	s->qlen = 0;
}

/* One read, one chunk: never wait for more before sending. */
static int
pty_read_once(struct shell *s)
{
	unsigned char	 buf[IPC_SHELL_CHUNK];
	ssize_t		 n;
	size_t		 have, keep;

	memcpy(buf, s->carry, s->ncarry);
	n = read(s->master, buf + s->ncarry, sizeof(buf) - s->ncarry);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 1;
	if (n <= 0) {
		/* EOF, or EIO once the slave side is gone: the end. */
		pty_send_output(s, s->carry, s->ncarry);
		s->ncarry = 0;
		return 0;
	}
	have = s->ncarry + (size_t)n;
	keep = pty_utf8_tail(buf, have);
	if (keep == have && have < sizeof(buf))
		keep = have;		/* only a lead so far: wait for it */
	else if (keep == have)
		keep = 0;
	pty_send_output(s, buf, have - keep);
	memcpy(s->carry, buf + have - keep, keep);
	s->ncarry = keep;
	ev_timer_again(s->r->loop, &s->idle_t);
	return 1;
}

static void
pty_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct shell	*s = w->data;

	if (pty_read_once(s) == 0)
		pty_close_master(s);
}

/* Output of a shell whose session ended goes nowhere. */
static void
pty_discard_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct shell	*s = w->data;
	char		 buf[IPC_SHELL_CHUNK];
	ssize_t		 n;

	if ((n = read(s->master, buf, sizeof(buf))) == 0 ||
	    (n == -1 && errno != EAGAIN && errno != EINTR))
		pty_close_master(s);
}

static void
pty_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct shell	*s = w->data;
	ssize_t		 n;

	while (s->qlen > 0) {
		n = write(s->master, s->q, s->qlen);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n <= 0) {
			s->qlen = 0;
			break;
		}
		memmove(s->q, s->q + n, s->qlen - n);
		s->qlen -= n;
	}
	ev_io_stop(loop, w);
}

static void
pty_hangup(struct shell *s)
{
	if (s->closing)
		return;
	s->closing = 1;
	(void)kill(-s->pid, SIGHUP);
	ev_timer_start(s->r->loop, &s->kill_t);
}

static void
pty_kill_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct shell	*s = w->data;

	(void)kill(-s->pid, SIGKILL);
}

static void
pty_idle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct shell	*s = w->data;

	log_info("shell %s idle for %us: closing", s->session,
	    s->r->cfg.shell_idle_s);
	pty_hangup(s);
}

static void
pty_child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct shell	*s = w->data;
	struct remote	*r = s->r;
	char		 reason[256], lower[200];
	const char	*name = NULL;
	int		 st = w->rstatus, code, i;

	ev_child_stop(loop, w);
	ev_timer_stop(loop, &s->kill_t);
	ev_timer_stop(loop, &s->idle_t);
	/* Drain what the shell wrote before it went. */
	if (s->master != -1)
		while (pty_read_once(s) == 1 && s->master != -1) {
			int	 avail = 0;

			if (ioctl(s->master, FIONREAD, &avail) == -1 ||
			    avail <= 0)
				break;
		}
	pty_close_master(s);
	if (WIFEXITED(st)) {
		code = WEXITSTATUS(st);
		if (code == 0)
			strlcpy(reason, "exit", sizeof(reason));
		else
			snprintf(reason, sizeof(reason), "exit status %d",
			    code);
	} else {
		code = -1;
		strlcpy(lower, strsignal(WTERMSIG(st)), sizeof(lower));
		for (i = 0; lower[i] != '\0'; i++)
			if (lower[i] >= 'A' && lower[i] <= 'Z')
				lower[i] += 'a' - 'A';
		snprintf(reason, sizeof(reason), "signal: %s", lower);
		name = admin_signame(WTERMSIG(st));
	}
	log_info("shell %s ended: %s", s->session, reason);
	if (!s->orphan)
		pty_send_closed(r, s->session, code, reason, name);
	LIST_REMOVE(s, entry);
	free(s);
	remote_slot_free(r);
}

/* The login user of a shell: what the child needs of the passwd entry. */
struct pty_user {
	char	 name[IPC_SHORT_MAX];
	char	 home[IPC_PATH_MAX];
	uid_t	 uid;
	gid_t	 gid;
};

static int
pty_env_skip(const char *e)
{
	static const char *const over[] = { "TERM=", "HOME=", "USER=" };
	size_t	 i;

	for (i = 0; i < nitems(over); i++)
		if (strncmp(e, over[i], strlen(over[i])) == 0)
			return 1;
	return 0;
}

/*
 * The child: session leader on the slave, §6.1's reduced environment with
 * TERM=xterm-256color; for a configured user also its groups, ids, home
 * (as the cwd too), USER, LOGNAME and SHELL, as a login would set them.
 */
static __dead void
pty_child(struct remote *r, const char *slave, int rep,
    const struct pty_user *u, pid_t ppid)
{
	char		*argv[PTY_ARGS_MAX + 2], *envp[ADMIN_ENV_MAX + 8];
	char		*red[ADMIN_ENV_MAX + 1], home[IPC_PATH_MAX + 8];
	char		 user[IPC_SHORT_MAX + 8], logname[IPC_SHORT_MAX + 8];
	char		 shell[IPC_PATH_MAX + 8];
	const char *const *args;
	size_t		 nargs, i, k = 0;
	int		 fd, sig, e;
	sigset_t	 all;

	for (sig = 1; sig < NSIG; sig++)
		(void)signal(sig, SIG_DFL);
	sigemptyset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, NULL);
	if (setsid() == -1 || (fd = open(slave, O_RDWR)) == -1)
		goto fail;
	(void)ioctl(fd, TIOCSCTTY, 0);
	if (dup2(fd, 0) == -1 || dup2(fd, 1) == -1 || dup2(fd, 2) == -1)
		goto fail;
	if (rep != 3 && (dup2(rep, 3) == -1 || fcntl(3, F_SETFD,
	    FD_CLOEXEC) == -1))
		goto fail;
	closefrom(4);
	if (u != NULL && (initgroups(u->name, u->gid) == -1 ||
	    setgid(u->gid) == -1 || setuid(u->uid) == -1))
		goto fail;
#ifdef __linux__
	/* A crashed worker runs no atexit: the kernel hangs up for it. */
	if (prctl(PR_SET_PDEATHSIG, SIGHUP) == -1 || getppid() != ppid)
		goto fail;
#endif
	args = remote_strv(r, IPC_AL_SHELL_ARG, &nargs);
	argv[0] = r->cfg.shell;
	for (i = 0; i < nargs && i < PTY_ARGS_MAX; i++)
		argv[i + 1] = (char *)args[i];
	argv[i + 1] = NULL;
	admin_env_build(environ, red);
	for (i = 0; red[i] != NULL; i++)
		if (u == NULL ? strncmp(red[i], "TERM=", 5) != 0 :
		    !pty_env_skip(red[i]))
			envp[k++] = red[i];
	envp[k++] = "TERM=xterm-256color";
	if (u != NULL) {
		snprintf(home, sizeof(home), "HOME=%s", u->home);
		snprintf(user, sizeof(user), "USER=%s", u->name);
		snprintf(logname, sizeof(logname), "LOGNAME=%s", u->name);
		snprintf(shell, sizeof(shell), "SHELL=%s", r->cfg.shell);
		envp[k++] = home;
		envp[k++] = user;
		envp[k++] = logname;
		envp[k++] = shell;
		if (chdir(u->home) == -1)
			(void)chdir("/");
	}
	envp[k] = NULL;
	execve(argv[0], argv, envp);
 fail:
	e = errno;
	(void)write(3, &e, sizeof(e));
	_exit(127);
}

static int
pty_refuse(struct remote *r, const char *session, const char *reason)
{
	log_info("shell_start %s refused: %s", session, reason);
	pty_send_closed(r, session, 1, reason, NULL);
	return 0;
}

int
pty_start(struct remote *r, const struct ipc_shell *sh)
{
	struct shell	*s;
	struct winsize	 ws = { .ws_row = 24, .ws_col = 80 };
	struct pty_user	 pu, *u = NULL;
	struct passwd	*pw;
	char		*slave, err[256];
	int		 master, rep[2], e = 0, st;
	ssize_t		 n;
	pid_t		 pid;

	if (!r->ready || !(r->cfg.flags & IPC_ADMINF_SHELL))
		return pty_refuse(r, sh->session, "shell access disabled");
	if (!admin_rate_take(&r->pol.rate, admin_now_ms()))
		return pty_refuse(r, sh->session, "rate limited");
	if (sh->session[0] == '\0')
		return pty_refuse(r, sh->session, "session id required");
	if (pty_find(r, sh->session) != NULL) {
		log_info("shell_start %s: already live, ignored", sh->session);
		return 0;
	}
	if (r->cfg.shell_user[0] != '\0') {
		if ((pw = getpwnam(r->cfg.shell_user)) == NULL) {
			snprintf(err, sizeof(err), "exec: \"%s\": unknown user "
			    "\"%s\"", r->cfg.shell, r->cfg.shell_user);
			return pty_refuse(r, sh->session, err);
		}
		memset(&pu, 0, sizeof(pu));
		strlcpy(pu.name, pw->pw_name, sizeof(pu.name));
		strlcpy(pu.home, pw->pw_dir, sizeof(pu.home));
		pu.uid = pw->pw_uid;
		pu.gid = pw->pw_gid;
		u = &pu;
	}
	if (remote_slot_take(r) == -1)
		return pty_refuse(r, sh->session,
		    "too many concurrent sessions");
	if ((master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)) == -1 ||
	    grantpt(master) == -1 || unlockpt(master) == -1 ||
	    (slave = ptsname(master)) == NULL ||
	    ioctl(master, TIOCSWINSZ, &ws) == -1) {
		log_warn("shell_start %s: pty", sh->session);
		if (master != -1)
			close(master);
		remote_slot_free(r);
		return pty_refuse(r, sh->session, "pty unavailable");
	}
	if (pipe2(rep, O_CLOEXEC) == -1 || (pid = fork()) == -1) {
		e = errno;
		close(master);
		remote_slot_free(r);
		snprintf(err, sizeof(err), "exec: \"%s\": %s", r->cfg.shell,
		    strerror(e));
		return pty_refuse(r, sh->session, err);
	}
	if (pid == 0)
		pty_child(r, slave, rep[1], u, r->pid);
	close(rep[1]);
	while ((n = read(rep[0], &e, sizeof(e))) == -1 && errno == EINTR)
		;
	close(rep[0]);
	if (n == sizeof(e)) {
		while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
			;
		close(master);
		remote_slot_free(r);
		snprintf(err, sizeof(err), "exec: \"%s\": %s", r->cfg.shell,
		    strerror(e));
		return pty_refuse(r, sh->session, err);
	}
	(void)fcntl(master, F_SETFL, O_NONBLOCK);
	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal(NULL);
	s->r = r;
	s->pid = pid;
	s->master = master;
	strlcpy(s->session, sh->session, sizeof(s->session));
	ev_io_init(&s->rd, pty_read_cb, master, EV_READ);
	ev_io_init(&s->wr, pty_write_cb, master, EV_WRITE);
	ev_child_init(&s->child, pty_child_cb, pid, 0);
	ev_timer_init(&s->kill_t, pty_kill_cb, PTY_KILL_S, 0);
	ev_init(&s->idle_t, pty_idle_cb);
	s->idle_t.repeat = r->cfg.shell_idle_s;
	s->rd.data = s->wr.data = s->child.data = s->kill_t.data =
	    s->idle_t.data = s;
	ev_io_start(r->loop, &s->rd);
	ev_child_start(r->loop, &s->child);
	if (r->cfg.shell_idle_s > 0)
		ev_timer_again(r->loop, &s->idle_t);
	LIST_INSERT_HEAD(&r->shells, s, entry);
	log_info("shell %s started: %s, pid %d", s->session, r->cfg.shell,
	    (int)pid);
	return 0;
}

int
pty_input(struct remote *r, const struct ipc_shell *sh, const void *data,
    size_t len)
{
	struct shell	*s;
	ssize_t		 n = 0;
	char		*q;

	if ((s = pty_find(r, sh->session)) == NULL || s->master == -1) {
		log_debug("shell_input for unknown session ignored");
		return 0;
	}
	ev_timer_again(r->loop, &s->idle_t);
	if (s->qlen == 0) {
		/* Straight to the master: no queue, no delay. */
		while ((n = write(s->master, data, len)) == -1 &&
		    errno == EINTR)
			;
		if (n == -1 && errno != EAGAIN)
			return 0;
		if (n == -1)
			n = 0;
		if ((size_t)n == len)
			return 0;
	}
	if (s->qlen + (len - n) > PTY_QUEUE_MAX) {
		log_warnx("shell %s: input queue full, %zu bytes dropped",
		    s->session, len - n);
		return 0;
	}
	if ((q = realloc(s->q, s->qlen + (len - n))) == NULL)
		fatal(NULL);
	memcpy(q + s->qlen, (const char *)data + n, len - n);
	s->q = q;
	s->qlen += len - n;
	ev_io_start(r->loop, &s->wr);
	return 0;
}

int
pty_resize(struct remote *r, const struct ipc_shell *sh)
{
	struct shell	*s;
	struct winsize	 ws;

	if (!pty_size_valid(sh->cols, sh->rows))
		return -1;
	if ((s = pty_find(r, sh->session)) == NULL || s->master == -1)
		return 0;
	memset(&ws, 0, sizeof(ws));
	ws.ws_col = sh->cols;
	ws.ws_row = sh->rows;
	if (ioctl(s->master, TIOCSWINSZ, &ws) == -1)
		log_warn("shell %s: resize", s->session);
	return 0;
}

int
pty_close(struct remote *r, const struct ipc_shell *sh)
{
	struct shell	*s;

	if ((s = pty_find(r, sh->session)) != NULL)
		pty_hangup(s);
	return 0;
}

void
pty_hangup_all(struct remote *r)
{
	struct shell	*s;

	LIST_FOREACH(s, &r->shells, entry) {
		if (s->orphan)
			continue;
		s->orphan = 1;
		log_info("shell %s: the session ended, hanging up", s->session);
		if (s->master != -1) {
			ev_io_stop(r->loop, &s->rd);
			ev_io_set(&s->rd, s->master, EV_READ);
			ev_set_cb(&s->rd, pty_discard_cb);
			ev_io_start(r->loop, &s->rd);
		}
		pty_hangup(s);
	}
}

void
pty_stop_all(struct remote *r)
{
	struct shell	*s;

	LIST_FOREACH(s, &r->shells, entry) {
		(void)kill(-s->pid, SIGHUP);
		(void)kill(-s->pid, SIGKILL);
	}
}
