/*
 * runner.c: the per-job runner, nixfleet-agent-runner.
 *
 *	nixfleet-agent-runner [-s] [-n name] [-C dir] jobdir command [arg ...]
 *
 * Started detached by the exec-worker (jobs_launch.c): in its own
 * session, or as a transient systemd unit.  It is the job's parent: it
 * starts the command in a process group of its own, stdin /dev/null,
 * stdout and stderr on two pipes, and writes what they carry into
 * <jobdir>/journal, one record per line, then the exit status.  It only
 * ever writes to that file, so nothing downstream can slow the job, and
 * it holds <jobdir>/lock for its whole life, so a reader can tell a
 * runner that is still writing from one that died.
 *
 * SIGTERM to the runner is passed on to the job's process group, SIGUSR1
 * becomes SIGKILL to it: the exec-worker's `stop` and `kill` go through
 * the runner, whose pid its lock vouches for, never through a job pid
 * that may have been reaped and reused.
 *
 * The runner links no event library: one poll() loop over two pipes and
 * a self-pipe for SIGCHLD.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <err.h>
#include <grp.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"
#include "runner.h"

/*
 * After the command exits, a process it left behind may still hold the
 * pipes open (a daemon that did not close stdout).  The job is over when
 * the command is: read for this long more, then stop.
 */
#define RUNNER_DRAIN_MS	2000

struct runner_stream {
	int		 fd;		/* -1 once closed */
	int		 type;		/* JOURNAL_STDOUT, JOURNAL_STDERR */
	size_t		 len;
	uint8_t		 line[JOURNAL_DATA_MAX];
};

/* One command: the whole job, or one step of a plan. */
struct runner_step {
	const char	*cwd;		/* NULL: ours */
	char		**argv;
	char		**envp;		/* NULL: ours */
	uid_t		 uid;		/* (uid_t)-1: ours */
	gid_t		 gid;
	int		 flags;		/* RUNNER_SF_* */
	unsigned long	 timeout_ms;	/* 0: none; then SIGKILL to the group */
	const char	*log;		/* text copy of the output, or NULL */
};
#define RUNNER_SF_CONTINUE	0x0001	/* a failure does not end the plan */

struct runner {
	struct journal_writer	 w;
	struct runner_stream	 out, err;
	pid_t			 child;
	int			 reaped;
	int			 status;
	uint64_t		 start_ns, end_ns;
	uint64_t		 deadline_ns;	/* the step's limit, 0: none */
	int			 timed_out;
	int			 logfd;		/* the step's text log, -1 */
	int			 signals_logged[2];
};

static int	runner_sigfd = -1;	/* write end of the self-pipe */
static pid_t	runner_job = -1;	/* the job's process group */
static pid_t	runner_pid;
static volatile sig_atomic_t runner_signals[2];	/* TERM, USR1 received */

static uint64_t
runner_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

static void
runner_signal(int sig)
{
	int	 save = errno;

	if (sig == SIGCHLD)
		(void)write(runner_sigfd, "c", 1);
	else if (sig == SIGTERM || sig == SIGUSR1) {
		/* We go on recording; a plan starts no further step. */
		if (runner_job > 0)
			(void)kill(-runner_job, sig == SIGTERM ? SIGTERM :
			    SIGKILL);
		runner_signals[sig == SIGTERM ? 0 : 1]++;
		(void)write(runner_sigfd, "s", 1);
	}
	errno = save;
}

/* "2026-12-01T20:07:40.123Z " (the form of journal_print()). */
static void
runner_log_time(char *buf, size_t size)
{
	struct timespec	 ts;
	struct tm	 tm;
	size_t		 n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, size - n, ".%03ldZ ", ts.tv_nsec / 1000000);
}

/*
 * The step's text log (nixfleet §6.5: update-agent's log file), one line
 * per record: a split line stays split here, the journal has it whole.
 */
static void
runner_log(struct runner *r, const char *what, const uint8_t *p, size_t n)
{
	char		 t[40];
	struct iovec	 iov[4];

	if (r->logfd == -1)
		return;
	runner_log_time(t, sizeof(t));
	iov[0].iov_base = t;
	iov[0].iov_len = strlen(t);
	iov[1].iov_base = (void *)what;
	iov[1].iov_len = strlen(what);
	iov[2].iov_base = (void *)p;
	iov[2].iov_len = n;
	iov[3].iov_base = "\n";
	iov[3].iov_len = 1;
	(void)writev(r->logfd, iov, 4);
}

static void
runner_emit(struct runner *r, struct runner_stream *s, int flags)
{
	if (journal_append(&r->w, s->type, flags, s->line, s->len) == -1)
		warn("journal append");
	runner_log(r, s->type == JOURNAL_STDOUT ? "stdout " : "stderr ",
	    s->line, s->len);
	s->len = 0;
}

/* Cut bytes into lines; a line that fills a record is split there. */
static void
runner_feed(struct runner *r, struct runner_stream *s, const uint8_t *p,
    size_t n)
{
	while (n > 0) {
		if (*p == '\n') {
			runner_emit(r, s, JOURNAL_F_EOL);
		} else {
			s->line[s->len++] = *p;
			if (s->len == sizeof(s->line))
				runner_emit(r, s, 0);
		}
		p++;
		n--;
	}
}

static void
runner_close(struct runner *r, struct runner_stream *s)
{
	if (s->fd == -1)
		return;
	close(s->fd);
	s->fd = -1;
	if (s->len > 0)		/* a last line without a newline */
		runner_emit(r, s, 0);
}

static void
runner_read(struct runner *r, struct runner_stream *s)
{
	uint8_t	 buf[16384];
	ssize_t	 n;

	n = read(s->fd, buf, sizeof(buf));
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0)
		runner_close(r, s);
	else
		runner_feed(r, s, buf, n);
}

static void
runner_reap(struct runner *r)
{
	pid_t	 pid;
	int	 st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (pid == r->child && !r->reaped) {
			r->reaped = 1;
			r->status = st;
			r->end_ns = runner_now();
		}
	}
}

/* In the child: the job's own process group, then the command. */
static __dead void
runner_exec(int out, int errp, const struct runner_step *st)
{
	extern char	**environ;
	sigset_t	 all;
	int		 null, e;
	const char	*cwd = st->cwd;
	char		**argv = st->argv;

	/* First, so the death signal below finds the default action. */
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	setpgid(0, 0);
#ifdef PR_SET_PDEATHSIG
	/* A runner killed outright takes the job's leader with it. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
	if (getppid() != runner_pid)	/* it died before the line above */
		_exit(126);
	if ((null = open("/dev/null", O_RDONLY)) == -1 ||
	    dup2(null, 0) == -1 || dup2(out, 1) == -1 || dup2(errp, 2) == -1)
		_exit(126);
	closefrom(3);
	/* A plan step may run as the repository user (nixfleet §6.1). */
	if (st->gid != (gid_t)-1 && (setgroups(1, &st->gid) == -1 ||
	    setgid(st->gid) == -1)) {
		dprintf(2, "nixfleet-agent-runner: setgid: %s\n",
		    strerror(errno));
		_exit(126);
	}
	if (st->uid != (uid_t)-1 && setuid(st->uid) == -1) {
		dprintf(2, "nixfleet-agent-runner: setuid: %s\n",
		    strerror(errno));
		_exit(126);
	}
	if (st->envp != NULL)
		environ = st->envp;
	if (cwd != NULL && chdir(cwd) == -1) {
		dprintf(2, "nixfleet-agent-runner: %s: %s\n", cwd,
		    strerror(errno));
		_exit(126);
	}
	execvp(argv[0], argv);
	e = errno;
	dprintf(2, "nixfleet-agent-runner: %s: %s\n", argv[0], strerror(e));
	_exit(e == ENOENT ? 127 : 126);
}

/* Fork and execute one step; the streams are fresh pipes. */
static void
runner_spawn(struct runner *r, const struct runner_step *st)
{
	int		 po[2], pe[2];

	if (pipe2(po, O_CLOEXEC) == -1 || pipe2(pe, O_CLOEXEC) == -1)
		err(1, "pipe");
	runner_pid = getpid();
	r->reaped = 0;
	r->status = 0;
	r->out.len = r->err.len = 0;
	switch ((r->child = fork())) {
	case -1:
		err(1, "fork");
	case 0:
		runner_exec(po[1], pe[1], st);
	default:
		break;
	}
	setpgid(r->child, r->child);	/* whichever side runs first */
	runner_job = r->child;
	close(po[1]);
	close(pe[1]);
	r->out.fd = po[0];
	r->out.type = JOURNAL_STDOUT;
	r->err.fd = pe[0];
	r->err.type = JOURNAL_STDERR;
}

static void
runner_start(struct runner *r, const char *name)
{
	uint8_t		 start[JOURNAL_DATA_MAX];
	struct timespec	 ts;
	uint64_t	 wall;
	size_t		 nlen = strlen(name);

	clock_gettime(CLOCK_REALTIME, &ts);
	wall = (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
	if (nlen > sizeof(start) - JOURNAL_START_SIZE)
		nlen = sizeof(start) - JOURNAL_START_SIZE;
	for (int i = 0; i < 4; i++) {
		start[i] = (uint32_t)getpid() >> (8 * i);
		start[4 + i] = (uint32_t)r->child >> (8 * i);
	}
	for (int i = 0; i < 8; i++)
		start[8 + i] = wall >> (8 * i);
	memcpy(start + JOURNAL_START_SIZE, name, nlen);
	if (journal_append(&r->w, JOURNAL_START, 0, start,
	    JOURNAL_START_SIZE + nlen) == -1)
		warn("journal start record");
}

static void
put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

/* A signal the exec-worker sent us goes into the journal, in order. */
static void
runner_note_signals(struct runner *r)
{
	static const int	 nums[2] = { SIGTERM, SIGKILL };
	uint8_t			 b[JOURNAL_SIGNAL_SIZE];

	for (int i = 0; i < 2; i++) {
		while (r->signals_logged[i] < runner_signals[i]) {
			r->signals_logged[i]++;
			memset(b, 0, sizeof(b));
			put32(b, nums[i]);
			if (journal_append(&r->w, JOURNAL_SIGNAL, 0, b,
			    sizeof(b)) == -1)
				warn("journal signal record");
		}
	}
}

static int
runner_timeout(struct runner *r)
{
	uint64_t	 now = runner_now(), t = UINT64_MAX;

	if (r->w.dirty)
		t = r->w.last_sync_ns + (uint64_t)JOURNAL_SYNC_MS * 1000000;
	if (r->reaped && r->end_ns + (uint64_t)RUNNER_DRAIN_MS * 1000000 < t)
		t = r->end_ns + (uint64_t)RUNNER_DRAIN_MS * 1000000;
	if (!r->reaped && r->deadline_ns != 0 && !r->timed_out &&
	    r->deadline_ns < t)
		t = r->deadline_ns;
	if (t == UINT64_MAX)
		return -1;
	return t <= now ? 0 : (int)((t - now) / 1000000) + 1;
}

static void
runner_loop(struct runner *r, int sigrd)
{
	struct pollfd	 pfd[3];
	char		 junk[64];

	while (!r->reaped || r->out.fd != -1 || r->err.fd != -1) {
		pfd[0].fd = r->out.fd;
		pfd[1].fd = r->err.fd;
		pfd[2].fd = sigrd;
		for (int i = 0; i < 3; i++)
			pfd[i].events = POLLIN;
		if (poll(pfd, 3, runner_timeout(r)) == -1 && errno != EINTR)
			err(1, "poll");
		if (pfd[2].revents & POLLIN)
			while (read(sigrd, junk, sizeof(junk)) > 0)
				;
		runner_reap(r);
		runner_note_signals(r);
		if (!r->reaped && r->deadline_ns != 0 && !r->timed_out &&
		    runner_now() >= r->deadline_ns) {
			/* The step's limit: it ends as killed by SIGKILL. */
			r->timed_out = 1;
			if (runner_job > 0)
				(void)kill(-runner_job, SIGKILL);
		}
		if (r->out.fd != -1 && pfd[0].revents != 0)
			runner_read(r, &r->out);
		if (r->err.fd != -1 && pfd[1].revents != 0)
			runner_read(r, &r->err);
		if (journal_sync(&r->w, 0) == -1)
			warn("journal sync");
		if (r->reaped && runner_now() >= r->end_ns +
		    (uint64_t)RUNNER_DRAIN_MS * 1000000) {
			runner_close(r, &r->out);
			runner_close(r, &r->err);
		}
	}
}

/* A step's wait status as the journal says it. */
static void
runner_result(int st, uint32_t *how, uint32_t *value)
{
	if (WIFSIGNALED(st)) {
		*how = JOURNAL_SIGNALED;
		*value = WTERMSIG(st);
	} else {
		*how = JOURNAL_EXITED;
		*value = WEXITSTATUS(st);
	}
}

/*
 * The plan (docs/journal.md): "nixfleet-plan 1", then per step a line
 * "step", lines "flags N", "uid N", "gid N", "dir PATH", "arg VALUE",
 * "env NAME=VALUE", "timeout MS", "log PATH", and "end".  Written by the exec-worker, so anything
 * else is an error and the runner exits before it runs anything.
 */
#define RUNNER_PLAN_MAX		(1024 * 1024)
#define RUNNER_STEPS_MAX	256

struct runner_plan {
	struct runner_step	 step[RUNNER_STEPS_MAX];
	int			 n;
};

static void
plan_push(char ***v, size_t *n, char *s)
{
	char	**nv;

	if ((nv = reallocarray(*v, *n + 2, sizeof(*nv))) == NULL)
		err(1, "plan");
	nv[(*n)++] = s;
	nv[*n] = NULL;
	*v = nv;
}

static void
runner_plan_read(int dirfd, const char *path, struct runner_plan *p)
{
	struct runner_step	*st = NULL;
	char			*buf, *line, *next, *val;
	size_t			 nargs = 0, nenv = 0;
	ssize_t			 n, got = 0;
	int			 fd;

	if ((fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC)) == -1)
		err(1, "%s", path);
	if ((buf = malloc(RUNNER_PLAN_MAX + 1)) == NULL)
		err(1, NULL);
	while ((n = read(fd, buf + got, RUNNER_PLAN_MAX - got)) > 0)
		got += n;
	if (n == -1)
		err(1, "%s", path);
	close(fd);
	buf[got] = '\0';
	if (strncmp(buf, "nixfleet-plan 1\n", 16) != 0)
		errx(1, "%s: not a plan", path);
	for (line = buf + 16; *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) == NULL)
			errx(1, "%s: unterminated line", path);
		*next++ = '\0';
		val = strchr(line, ' ');
		if (val != NULL)
			*val++ = '\0';
		if (strcmp(line, "step") == 0) {
			if (st != NULL || p->n == RUNNER_STEPS_MAX)
				errx(1, "%s: bad step", path);
			st = &p->step[p->n];
			st->uid = (uid_t)-1;
			st->gid = (gid_t)-1;
			nargs = nenv = 0;
			continue;
		}
		if (st == NULL || (val == NULL && strcmp(line, "end") != 0))
			errx(1, "%s: \"%s\" outside a step", path, line);
		if (strcmp(line, "end") == 0) {
			if (nargs == 0)
				errx(1, "%s: step without a command", path);
			p->n++;
			st = NULL;
		} else if (strcmp(line, "flags") == 0)
			st->flags = atoi(val);
		else if (strcmp(line, "uid") == 0)
			st->uid = (uid_t)strtoul(val, NULL, 10);
		else if (strcmp(line, "gid") == 0)
			st->gid = (gid_t)strtoul(val, NULL, 10);
		else if (strcmp(line, "dir") == 0)
			st->cwd = val;
		else if (strcmp(line, "timeout") == 0)
			st->timeout_ms = strtoul(val, NULL, 10);
		else if (strcmp(line, "log") == 0 && val[0] == '/')
			st->log = val;
		else if (strcmp(line, "arg") == 0)
			plan_push(&st->argv, &nargs, val);
		else if (strcmp(line, "env") == 0)
			plan_push(&st->envp, &nenv, val);
		else
			errx(1, "%s: unknown line \"%s\"", path, line);
	}
	if (st != NULL || p->n == 0)
		errx(1, "%s: no complete step", path);
	/* buf stays: the steps point into it */
}

static void
runner_step_record(struct runner *r, int type, int i, uint32_t a,
    uint32_t b)
{
	uint8_t	 x[JOURNAL_STEP_END_SIZE];
	size_t	 len = type == JOURNAL_STEP_BEGIN ? JOURNAL_STEP_BEGIN_SIZE :
	    JOURNAL_STEP_END_SIZE;

	memset(x, 0, sizeof(x));
	put32(x, i);
	put32(x + 4, a);
	put32(x + 8, b);
	if (journal_append(&r->w, type, 0, x, len) == -1)
		warn("journal step record");
}

/* A step with a text log: appended to, created 0600. */
static void
runner_step_log(struct runner *r, const struct runner_step *st)
{
	if (r->logfd != -1)
		close(r->logfd);
	r->logfd = -1;
	if (st->log != NULL && (r->logfd = open(st->log, O_WRONLY |
	    O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600)) == -1)
		warn("%s", st->log);
}

static void
runner_step_log_end(struct runner *r, uint32_t how, uint32_t value)
{
	char	 t[40];

	if (r->logfd == -1)
		return;
	runner_log_time(t, sizeof(t));
	dprintf(r->logfd, "%sstatus %s=%u\n", t, how == JOURNAL_EXITED ?
	    "exit" : "signal", value);
	(void)fsync(r->logfd);
	close(r->logfd);
	r->logfd = -1;
}

/*
 * Run the steps in order.  A failed step ends the plan unless it may
 * fail; a signal from the exec-worker (stop, kill) ends it after the
 * running step.  The job's result is that of the step that ended it, or
 * 0.
 */
static void
runner_run_plan(struct runner *r, struct runner_plan *p, const char *name,
    int sigrd)
{
	uint32_t	 how, value;
	int		 final = 0;

	for (int i = 0; i < p->n; i++) {
		if (runner_signals[0] || runner_signals[1])
			break;
		runner_step_log(r, &p->step[i]);
		runner_spawn(r, &p->step[i]);
		if (i == 0)
			runner_start(r, name);
		runner_step_record(r, JOURNAL_STEP_BEGIN, i, r->child, 0);
		r->timed_out = 0;
		r->deadline_ns = p->step[i].timeout_ms == 0 ? 0 :
		    runner_now() + (uint64_t)p->step[i].timeout_ms * 1000000;
		runner_loop(r, sigrd);
		runner_result(r->status, &how, &value);
		runner_step_record(r, JOURNAL_STEP_END, i, how, value);
		runner_step_log_end(r, how, value);
		r->deadline_ns = 0;
		runner_job = -1;
		if (how != JOURNAL_EXITED || value != 0) {
			if (!(p->step[i].flags & RUNNER_SF_CONTINUE) ||
			    how != JOURNAL_EXITED) {
				final = r->status;
				break;
			}
		}
	}
	r->status = final;
	r->end_ns = runner_now();
}

static void
runner_finish(struct runner *r)
{
	uint8_t		 x[JOURNAL_EXIT_SIZE];
	uint32_t	 how, value;
	uint64_t	 d = r->end_ns - r->start_ns;

	runner_result(r->status, &how, &value);
	for (int i = 0; i < 4; i++) {
		x[i] = how >> (8 * i);
		x[4 + i] = value >> (8 * i);
	}
	for (int i = 0; i < 8; i++)
		x[8 + i] = d >> (8 * i);
	if (journal_append(&r->w, JOURNAL_EXIT, 0, x, sizeof(x)) == -1)
		warn("journal exit record");
	journal_writer_close(&r->w);
}

/*
 * Take <jobdir>/lock for the rest of our life.  The lock is taken on a
 * private name and then linked into place, so "lock" never exists
 * unlocked while we live: a reader that sees it free knows we are gone,
 * even in the instant after we created it.  link() refuses to replace
 * an existing lock, so a second runner on the directory stops here.
 */
static void
runner_lock(int dirfd, const char *dir)
{
	char	 tmp[64];
	int	 fd, e;

	snprintf(tmp, sizeof(tmp), "%s.%ld", JOURNAL_LOCK, (long)getpid());
	fd = openat(dirfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1 || flock(fd, LOCK_EX) == -1)
		err(1, "%s/%s", dir, tmp);
	e = linkat(dirfd, tmp, dirfd, JOURNAL_LOCK, 0) == -1 ? errno : 0;
	(void)unlinkat(dirfd, tmp, 0);
	if (e != 0) {
		errno = e;
		err(1, "%s/%s", dir, JOURNAL_LOCK);
	}
	/* fd stays open, without a name of its own, until we exit. */
}

static __dead void
runner_usage(void)
{
	fprintf(stderr, "usage: nixfleet-agent-runner [-s] [-n name] "
	    "[-C dir] jobdir command [arg ...]\n"
	    "       nixfleet-agent-runner [-s] [-n name] -P plan jobdir\n");
	exit(2);
}

void
runner_main(int argc, char **argv)
{
	static struct runner	 r;
	struct sigaction	 sa;
	static struct runner_plan plan;
	struct runner_step	 one;
	const char		*name = "", *cwd = NULL, *planf = NULL;
	int			 ch, dirfd, sp[2], sync_all = 0;

	while ((ch = getopt(argc, argv, "+C:n:P:s")) != -1) {
		switch (ch) {
		case 'P':
			planf = optarg;
			break;
		case 'C':
			cwd = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 's':
			sync_all = 1;
			break;
		default:
			runner_usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < (planf != NULL ? 1 : 2) || (planf != NULL && argc != 1))
		runner_usage();

	/* Outside the agent's session: its signals and its end are not ours. */
	(void)setsid();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	if (pipe2(sp, O_CLOEXEC | O_NONBLOCK) == -1)
		err(1, "pipe");
	runner_sigfd = sp[1];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = runner_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	if (sigaction(SIGCHLD, &sa, NULL) == -1 ||
	    sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigaction(SIGUSR1, &sa, NULL) == -1)
		err(1, "sigaction");

	if ((dirfd = open(argv[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		err(1, "%s", argv[0]);
	if (planf != NULL)
		runner_plan_read(dirfd, planf, &plan);
	runner_lock(dirfd, argv[0]);
	if (journal_writer_open(&r.w, dirfd) == -1)
		err(1, "%s/%s", argv[0], JOURNAL_FILE);
	r.w.always_sync = sync_all;

	r.logfd = -1;
	r.start_ns = runner_now();
	if (planf != NULL)
		runner_run_plan(&r, &plan, name, sp[0]);
	else {
		memset(&one, 0, sizeof(one));
		one.cwd = cwd;
		one.argv = argv + 1;
		one.uid = (uid_t)-1;
		one.gid = (gid_t)-1;
		runner_spawn(&r, &one);
		runner_start(&r, name);
		runner_loop(&r, sp[0]);
	}
	runner_finish(&r);
	exit(0);		/* the lock goes with us, after the record */
}
