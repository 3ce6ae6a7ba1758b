/*
 * jobs_launch.c: build the command that starts a job's runner, and run
 * it detached (jobs_launch.h).
 */
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobs_launch.h"
#include "log.h"

/*
 * systemd-run only where it can work and is needed: systemd started us
 * (it sets INVOCATION_ID, and NOTIFY_SOCKET for Type=notify) and we may
 * talk to the system manager.  An unprivileged agent (Home Manager, a
 * developer) double-forks; its unit then needs KillMode=process.
 */
int
jobs_launch_mode(const char *invocation_id, const char *notify_socket,
    uid_t euid)
{
	int	 systemd;

	systemd = (invocation_id != NULL && *invocation_id != '\0') ||
	    (notify_socket != NULL && *notify_socket != '\0');
	return systemd && euid == 0 ? JOBS_SYSTEMD : JOBS_DETACH;
}

struct vec {
	char	**v;
	size_t	 n, cap;
};

static void
vec_add(struct vec *a, char *s)
{
	char	**nv;

	if (s == NULL)
		fatal(NULL);
	if (a->n + 2 > a->cap) {
		a->cap = a->cap ? a->cap * 2 : 32;
		if ((nv = reallocarray(a->v, a->cap, sizeof(*nv))) == NULL)
			fatal(NULL);
		a->v = nv;
	}
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

static void
vec_addf(struct vec *a, const char *fmt, ...) __printflike(2, 3);

static void
vec_addf(struct vec *a, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		s = NULL;
	va_end(ap);
	vec_add(a, s);
}

/*
 * The argv to execute, every string malloc'd (jobs_launch_free()).  Each
 * configuration value and each element of the job's argv stays one
 * argument: nothing here is ever joined into a shell line.
 */
char **
jobs_launch_argv(const struct jobs_launch *l, int mode)
{
	struct vec	 a = { NULL, 0, 0 };

	if (mode == JOBS_SYSTEMD) {
		vec_add(&a, strdup(l->systemd_run ? l->systemd_run :
		    "systemd-run"));
		if (l->unit != NULL)
			vec_addf(&a, "--unit=%s", l->unit);
		else
			vec_addf(&a, "--unit=%s%" PRIu64, JOBS_UNIT_PREFIX,
			    l->id);
		vec_add(&a, strdup("--collect"));
		vec_add(&a, strdup("--quiet"));
		vec_add(&a, strdup("--no-ask-password"));
		/* Fail here, not silently later, if the runner cannot run. */
		vec_add(&a, strdup("--service-type=exec"));
		/* The unit starts with systemd's environment, not ours. */
		for (char *const *e = l->envp; e != NULL && *e != NULL; e++)
			vec_addf(&a, "--setenv=%s", *e);
		vec_add(&a, strdup("--"));
	}
	vec_add(&a, strdup(l->runner));
	if (l->name != NULL && *l->name != '\0') {
		vec_add(&a, strdup("-n"));
		vec_add(&a, strdup(l->name));
	}
	if (l->cwd != NULL) {
		vec_add(&a, strdup("-C"));
		vec_add(&a, strdup(l->cwd));
	}
	if (l->plan != NULL) {
		vec_add(&a, strdup("-P"));
		vec_add(&a, strdup(l->plan));
	}
	vec_add(&a, strdup(l->jobdir));
	for (char *const *p = l->argv; p != NULL && *p != NULL; p++)
		vec_add(&a, strdup(*p));
	return a.v;
}

void
jobs_launch_free(char **v)
{
	if (v == NULL)
		return;
	for (char **p = v; *p != NULL; p++)
		free(*p);
	free(v);
}

/* In a child about to execute: no inherited handlers, mask or fds. */
static void
launch_child_reset(int keep)
{
	sigset_t	 none;
	int		 null;

	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if ((null = open("/dev/null", O_RDWR)) != -1) {
		dup2(null, 0);
		dup2(null, 1);
		if (keep != 2)
			dup2(null, 2);
	}
	if (keep > 2 && keep != 3) {
		if (dup3(keep, 3, O_CLOEXEC) == -1)
			_exit(126);
	}
	closefrom(keep > 2 ? 4 : 3);
}

/* Read exactly len bytes, or fewer at EOF. */
static ssize_t
launch_read(int fd, void *buf, size_t len)
{
	size_t	 got = 0;
	ssize_t	 n;

	while (got < len) {
		n = read(fd, (char *)buf + got, len - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == -1 ? -1 : (ssize_t)got;
		got += n;
	}
	return got;
}

/*
 * Double fork: the middle process makes a new session and exits at once,
 * so the runner is nobody's child in the agent and init (or the nearest
 * subreaper) reaps it.  A close-on-exec pipe carries back the runner's
 * pid, then either EOF (it executed) or the errno of a failed execve.
 */
static pid_t
launch_detach(char **argv, char *const *envp)
{
	pid_t	 mid, runner = -1;
	int	 p[2], st, e = 0;

	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	switch ((mid = fork())) {
	case -1:
		close(p[0]);
		close(p[1]);
		return -1;
	case 0:
		close(p[0]);
		if (setsid() == -1)
			_exit(1);
		switch ((runner = fork())) {
		case -1:
			_exit(1);
		case 0:
			launch_child_reset(p[1]);
			execve(argv[0], argv, envp);
			e = errno;
			(void)write(3, &e, sizeof(e));
			_exit(127);
		default:
			(void)write(p[1], &runner, sizeof(runner));
			_exit(0);
		}
	default:
		break;
	}
	close(p[1]);
	while (waitpid(mid, &st, 0) == -1 && errno == EINTR)
		;
	if (launch_read(p[0], &runner, sizeof(runner)) != sizeof(runner)) {
		close(p[0]);
		errno = ECHILD;
		return -1;
	}
	if (launch_read(p[0], &e, sizeof(e)) == sizeof(e)) {
		close(p[0]);
		errno = e;
		return -1;
	}
	close(p[0]);
	return runner;
}

/* systemd-run returns once the unit's process executed the runner. */
static pid_t
launch_systemd(char **argv)
{
	pid_t	 pid;
	int	 st;

	switch ((pid = fork())) {
	case -1:
		return -1;
	case 0:
		launch_child_reset(2);	/* its complaints reach our log */
		execvp(argv[0], argv);
		_exit(127);
	default:
		break;
	}
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			return -1;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		log_warnx("%s: %s exited with %d", __func__, argv[0],
		    WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st));
		errno = ECHILD;
		return -1;
	}
	return 0;
}

/*
 * As jobs_launch(), without waiting for systemd-run: JOBS_SYSTEMD returns
 * the pid of systemd-run, which the caller reaps (its exit status 0: the
 * runner was executed).  JOBS_DETACH waits only for the middle process,
 * which exits at once, and for the runner's execve.
 */
pid_t
jobs_launch_start(const struct jobs_launch *l, int mode)
{
	char	**argv;
	pid_t	 pid;
	int	 save;

	if (mode != JOBS_SYSTEMD)
		return jobs_launch(l, mode);
	argv = jobs_launch_argv(l, mode);
	switch ((pid = fork())) {
	case -1:
		break;
	case 0:
		launch_child_reset(2);
		execvp(argv[0], argv);
		_exit(127);
	default:
		break;
	}
	save = errno;
	jobs_launch_free(argv);
	errno = save;
	return pid;
}

/*
 * Start the runner.  Returns its pid (JOBS_DETACH), 0 (JOBS_SYSTEMD: the
 * unit's pid is in the journal's start record) or -1 with errno.  Blocks
 * only until the runner executed.
 */
pid_t
jobs_launch(const struct jobs_launch *l, int mode)
{
	char	**argv;
	pid_t	 pid;
	int	 save;

	argv = jobs_launch_argv(l, mode);
	if (mode == JOBS_SYSTEMD)
		pid = launch_systemd(argv);
	else
		pid = launch_detach(argv, l->envp);
	save = errno;
	jobs_launch_free(argv);
	errno = save;
	return pid;
}
