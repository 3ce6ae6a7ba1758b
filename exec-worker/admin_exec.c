/*
 * admin_exec.c: running an admin_run child (socketio-protocol.md §6.1,
 * steps 11-14): argv[0] on PATH, no shell, its own process group, the
 * reduced environment, capped output, SIGKILL to the group at the
 * deadline.  The step functions suit libev watchers; admin_exec is the
 * same thing as one blocking poll loop for callers off the event loop.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "compat.h"

extern char **environ;

uint64_t
admin_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
admin_close(int *fd)
{
	if (*fd != -1) {
		close(*fd);
		*fd = -1;
	}
}

static int
admin_nonblock(int fd)
{
	int	fl = fcntl(fd, F_GETFL);

	return fl == -1 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/*
 * execvp without glibc's fallback of running a file that is not an
 * executable through /bin/sh.  PATH is the worker's own (the agent's,
 * passed on by the supervisor); only fixed buffers, as after fork.
 */
static void
admin_execvp(const char *file, char *const *argv, char *const *envp)
{
	const char	*path, *p, *q;
	char		 buf[PATH_MAX];
	size_t		 dl, fl = strlen(file);
	int		 eacces = 0;

	if (strchr(file, '/') != NULL) {
		execve(file, argv, envp);
		return;
	}
	if ((path = getenv("PATH")) == NULL || *path == '\0')
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; ; p = q + 1) {
		if ((q = strchr(p, ':')) == NULL)
			q = p + strlen(p);
		dl = (size_t)(q - p);
		if (dl + fl + 2 <= sizeof(buf)) {
			memcpy(buf, dl == 0 ? "." : p, dl == 0 ? 1 : dl);
			dl = dl == 0 ? 1 : dl;
			buf[dl] = '/';
			memcpy(buf + dl + 1, file, fl + 1);
			execve(buf, argv, envp);
			if (errno == EACCES)
				eacces = 1;
			else if (errno != ENOENT && errno != ENOTDIR &&
			    errno != ELOOP && errno != ENAMETOOLONG)
				return;
		}
		if (*q == '\0')
			break;
	}
	errno = eacces ? EACCES : ENOENT;
}

/* In the child: never returns. */
static void __dead
admin_child(const struct admin_spawn *sp, char *const *envp, int in_fd,
    int out_fd, int err_fd, int rep_fd)
{
	sigset_t	all;
	int		sig, e;

	(void)setpgid(0, 0);
	for (sig = 1; sig < NSIG; sig++)
		(void)signal(sig, SIG_DFL);
	sigemptyset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, NULL);
	if (dup2(in_fd, 0) == -1 || dup2(out_fd, 1) == -1 ||
	    dup2(err_fd, 2) == -1)
		goto fail;
	/* The report pipe goes to fd 3, close-on-exec; the rest are closed. */
	if (rep_fd != 3 && dup2(rep_fd, 3) == -1)
		goto fail;
	if (fcntl(3, F_SETFD, FD_CLOEXEC) == -1)
		goto fail;
	closefrom(4);
	if (sp->cwd != NULL && sp->cwd[0] != '\0' && chdir(sp->cwd) == -1)
		goto fail;
	admin_execvp(sp->argv[0], sp->argv, envp);
fail:
	e = errno;
	(void)write(3, &e, sizeof(e));
	_exit(127);
}

static void
admin_buf_init(struct admin_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = ADMIN_OUT_CAP;
	b->truncated = 0;
}

int
admin_spawn(const struct admin_spawn *sp, struct admin_proc *p, int *errp)
{
	char	*envbuf[ADMIN_ENV_MAX + 1];
	char	*const *envp = sp->envp;
	int	 in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	int	 rep[2] = { -1, -1 }, e = 0, status;
	ssize_t	 n;

	memset(p, 0, sizeof(*p));
	p->pid = -1;
	p->out_fd = p->err_fd = p->in_fd = -1;
	admin_buf_init(&p->out);
	admin_buf_init(&p->err);
	if (envp == NULL) {
		admin_env_build(environ, envbuf);
		envp = envbuf;
	}
	if (sp->stdin_data != NULL) {
		if (pipe2(in, O_CLOEXEC) == -1)
			goto fail;
	} else if ((in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		goto fail;
	if (pipe2(out, O_CLOEXEC) == -1 || pipe2(err, O_CLOEXEC) == -1 ||
	    pipe2(rep, O_CLOEXEC) == -1)
		goto fail;
	p->start_ms = admin_now_ms();
	if ((p->pid = fork()) == -1)
		goto fail;
	if (p->pid == 0)
		admin_child(sp, envp, in[0], out[1], err[1], rep[1]);
	admin_close(&in[0]);
	admin_close(&out[1]);
	admin_close(&err[1]);
	admin_close(&rep[1]);
	/* EOF on the report pipe means exec succeeded. */
	while ((n = read(rep[0], &e, sizeof(e))) == -1 && errno == EINTR)
		;
	admin_close(&rep[0]);
	if (n == (ssize_t)sizeof(e)) {
		while (waitpid(p->pid, &status, 0) == -1 && errno == EINTR)
			;
		p->pid = -1;
		errno = e;
		goto fail;
	}
	p->in_fd = in[1];
	p->out_fd = out[0];
	p->err_fd = err[0];
	p->in_data = sp->stdin_data;
	p->in_len = sp->stdin_len;
	if (admin_nonblock(p->out_fd) == -1 ||
	    admin_nonblock(p->err_fd) == -1 ||
	    (p->in_fd != -1 && admin_nonblock(p->in_fd) == -1)) {
		e = errno;
		admin_proc_abort(p);
		*errp = e;
		return -1;
	}
	if (p->in_fd != -1 && p->in_len == 0)
		admin_close(&p->in_fd);
	return 0;
fail:
	*errp = errno;
	admin_close(&in[0]);
	admin_close(&in[1]);
	admin_close(&out[0]);
	admin_close(&out[1]);
	admin_close(&err[0]);
	admin_close(&err[1]);
	admin_close(&rep[0]);
	admin_close(&rep[1]);
	return -1;
}

/* Keep up to cap bytes; read and drop the rest, noting it (D5). */
static int
admin_buf_read(struct admin_buf *b, int fd)
{
	char	 tmp[16384], *nd;
	ssize_t	 n;
	size_t	 keep;

	for (;;) {
		n = read(fd, tmp, sizeof(tmp));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return 1;
		if (n <= 0)
			return 0;
		keep = b->cap - b->len < (size_t)n ? b->cap - b->len :
		    (size_t)n;
		if (keep < (size_t)n)
			b->truncated = 1;
		if (keep == 0)
			continue;
		if ((nd = realloc(b->data, b->len + keep + 1)) == NULL) {
			b->truncated = 1;
			continue;
		}
		b->data = nd;
		memcpy(b->data + b->len, tmp, keep);
		b->len += keep;
		b->data[b->len] = '\0';
	}
}

int
admin_proc_read(struct admin_proc *p, int fd)
{
	int	*which = fd == p->out_fd ? &p->out_fd : &p->err_fd;
	int	 rc;

	if (fd == -1)
		return 0;
	rc = admin_buf_read(fd == p->out_fd ? &p->out : &p->err, fd);
	if (rc == 0)
		admin_close(which);
	return rc;
}

/* The caller ignores SIGPIPE (the workers do; admin_exec does itself). */
int
admin_proc_write(struct admin_proc *p)
{
	ssize_t	n;

	while (p->in_fd != -1 && p->in_off < p->in_len) {
		n = write(p->in_fd, p->in_data + p->in_off,
		    p->in_len - p->in_off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return 1;
		if (n <= 0)
			break;
		p->in_off += (size_t)n;
	}
	admin_close(&p->in_fd);
	return 0;
}

void
admin_proc_abort(struct admin_proc *p)
{
	int	status;

	if (p->pid > 0) {
		(void)kill(-p->pid, SIGKILL);
		(void)kill(p->pid, SIGKILL);
		while (waitpid(p->pid, &status, 0) == -1 && errno == EINTR)
			;
		p->pid = -1;
	}
	admin_close(&p->in_fd);
	admin_close(&p->out_fd);
	admin_close(&p->err_fd);
	free(p->out.data);
	free(p->err.data);
	admin_buf_init(&p->out);
	admin_buf_init(&p->err);
}

const char *
admin_signame(int sig)
{
	static const struct {
		int		 sig;
		const char	*name;
	} names[] = {
		{ SIGHUP, "SIGHUP" }, { SIGINT, "SIGINT" },
		{ SIGQUIT, "SIGQUIT" }, { SIGILL, "SIGILL" },
		{ SIGTRAP, "SIGTRAP" }, { SIGABRT, "SIGABRT" },
		{ SIGBUS, "SIGBUS" }, { SIGFPE, "SIGFPE" },
		{ SIGKILL, "SIGKILL" }, { SIGUSR1, "SIGUSR1" },
		{ SIGSEGV, "SIGSEGV" }, { SIGUSR2, "SIGUSR2" },
		{ SIGPIPE, "SIGPIPE" }, { SIGALRM, "SIGALRM" },
		{ SIGTERM, "SIGTERM" }, { SIGCHLD, "SIGCHLD" },
		{ SIGCONT, "SIGCONT" }, { SIGSTOP, "SIGSTOP" },
		{ SIGTSTP, "SIGTSTP" }, { SIGXCPU, "SIGXCPU" },
		{ SIGXFSZ, "SIGXFSZ" }, { SIGSYS, "SIGSYS" },
	};
	size_t	i;

	for (i = 0; i < nitems(names); i++)
		if (names[i].sig == sig)
			return names[i].name;
	return NULL;
}

void
admin_proc_result(struct admin_proc *p, int status, int timed_out,
    int timeout_s, struct admin_result *res)
{
	const char	*name;
	size_t		 i;
	int		 sig;

	memset(res, 0, sizeof(*res));
	res->duration_ms = admin_now_ms() - p->start_ms;
	res->out = p->out.data;
	res->out_len = p->out.len;
	res->err = p->err.data;
	res->err_len = p->err.len;
	res->truncated = p->out.truncated || p->err.truncated;
	admin_buf_init(&p->out);
	admin_buf_init(&p->err);
	if (timed_out) {
		res->code = 124;
		snprintf(res->error, sizeof(res->error), "timed out after %ds",
		    timeout_s);
	} else if (WIFEXITED(status)) {
		res->code = WEXITSTATUS(status);
		if (res->code != 0)
			snprintf(res->error, sizeof(res->error),
			    "exit status %d", res->code);
	} else if (WIFSIGNALED(status)) {
		sig = WTERMSIG(status);
		res->code = -1;
		if ((name = admin_signame(sig)) != NULL)
			strlcpy(res->signal, name, sizeof(res->signal));
		else
			snprintf(res->signal, sizeof(res->signal), "SIG%d",
			    sig);
		snprintf(res->error, sizeof(res->error), "signal: %s",
		    strsignal(sig));
		for (i = sizeof("signal: ") - 1; res->error[i] != '\0'; i++)
			if (res->error[i] >= 'A' && res->error[i] <= 'Z')
				res->error[i] += 'a' - 'A';
	}
}

/* One poll round; -1 once the deadline has passed. */
static int
admin_exec_poll(struct admin_proc *p, uint64_t deadline)
{
	struct pollfd	pfd[3];
	nfds_t		n = 0;
	uint64_t	now = admin_now_ms();
	int		wait;

	if (now >= deadline)
		return -1;
	wait = deadline - now > 100 ? 100 : (int)(deadline - now);
	if (p->out_fd != -1)
		pfd[n].fd = p->out_fd, pfd[n++].events = POLLIN;
	if (p->err_fd != -1)
		pfd[n].fd = p->err_fd, pfd[n++].events = POLLIN;
	if (p->in_fd != -1)
		pfd[n].fd = p->in_fd, pfd[n++].events = POLLOUT;
	if (poll(pfd, n, wait) == -1 && errno != EINTR)
		return -1;
	(void)admin_proc_read(p, p->out_fd);
	(void)admin_proc_read(p, p->err_fd);
	if (p->in_fd != -1)
		(void)admin_proc_write(p);
	return 0;
}

int
admin_exec(const struct admin_spawn *sp, int timeout_s, struct admin_result *res)
{
	if (timeout_s <= 0)
		timeout_s = ADMIN_TIMEOUT_DEFAULT;
	return admin_exec_until(sp, admin_now_ms() + (uint64_t)timeout_s * 1000,
	    timeout_s, res);
}

int
admin_exec_until(const struct admin_spawn *sp, uint64_t deadline,
    int timeout_s, struct admin_result *res)
{
	struct admin_proc	 p;
	struct sigaction	 ign, old;
	pid_t			 r = 0;
	int			 e, status = 0, timed_out = 0;

	memset(res, 0, sizeof(*res));
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigemptyset(&ign.sa_mask);
	(void)sigaction(SIGPIPE, &ign, &old);
	if (admin_spawn(sp, &p, &e) == -1) {
		(void)sigaction(SIGPIPE, &old, NULL);
		res->code = 1;
		snprintf(res->error, sizeof(res->error), "exec: \"%s\": %s",
		    sp->argv[0], strerror(e));
		return 0;
	}
	for (;;) {
		if (p.out_fd == -1 && p.err_fd == -1 &&
		    (r = waitpid(p.pid, &status, WNOHANG)) == p.pid)
			break;
		if (admin_exec_poll(&p, deadline) == -1) {
			timed_out = 1;
			break;
		}
	}
	if (timed_out) {
		(void)kill(-p.pid, SIGKILL);
		(void)admin_proc_read(&p, p.out_fd);
		(void)admin_proc_read(&p, p.err_fd);
		while (waitpid(p.pid, &status, 0) == -1 && errno == EINTR)
			;
	}
	p.pid = -1;
	admin_proc_result(&p, status, timed_out, timeout_s, res);
	admin_proc_abort(&p);
	(void)sigaction(SIGPIPE, &old, NULL);
	return 0;
}

void
admin_result_free(struct admin_result *res)
{
	free(res->out);
	free(res->err);
	res->out = res->err = NULL;
	res->out_len = res->err_len = 0;
}
