/*
 * repo.c: the repository at the exec-worker's start (nixfleet-protocol.md
 * §4.2, T09).  Runs git as a child on the event loop; see repo.h.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "jobs.h"
#include "log.h"
#include "repo.h"

#define REPO_CHECK_S		60	/* git rev-parse */
#define REPO_LINES_MAX		200	/* git output lines logged per run */
#define REPO_DEPTH_MAX		256	/* directory levels of a removal */

extern char	**environ;

static struct repo	*repo_atexit_r;

static void	repo_finish(struct repo *, int);
static void	repo_clone(struct repo *, int);

/* A git still running when the exec-worker exits goes with it. */
static void
repo_atexit(void)
{
	if (repo_atexit_r != NULL && repo_atexit_r->pid > 0)
		(void)kill(-repo_atexit_r->pid, SIGKILL);
}

/* ---------------------------------------------------------------- */
/* pure parts */

int
repo_may_remove(const char *dir, const char *state_dir)
{
	size_t	 n, sn;

	if (dir == NULL || dir[0] != '/')
		return 0;
	for (n = strlen(dir); n > 1 && dir[n - 1] == '/'; n--)
		;
	if (n <= 1)
		return 0;
	if (state_dir == NULL || state_dir[0] == '\0')
		return 1;
	for (sn = strlen(state_dir); sn > 1 && state_dir[sn - 1] == '/'; sn--)
		;
	/* The state directory itself, or one of its ancestors. */
	if (sn >= n && strncmp(state_dir, dir, n) == 0 &&
	    (sn == n || state_dir[n] == '/'))
		return 0;
	return 1;
}

void
repo_redact_url(const char *url, char *buf, size_t size, char *secret,
    size_t secret_size)
{
	const char	*scheme_end, *host, *at, *colon;
	int		 http;

	secret[0] = '\0';
	snprintf(buf, size, "%s", url);
	if ((scheme_end = strstr(url, "://")) == NULL)
		return;		/* scp-like git@host:path: no secret */
	host = scheme_end + 3;
	at = memchr(host, '@', strcspn(host, "/?#"));
	if (at == NULL)
		return;
	http = strncasecmp(url, "http", 4) == 0;
	colon = memchr(host, ':', (size_t)(at - host));
	if (colon != NULL) {
		snprintf(secret, secret_size, "%.*s", (int)(at - colon - 1),
		    colon + 1);
		snprintf(buf, size, "%.*s:***%s", (int)(colon - url), url, at);
	} else if (http) {
		/* A bare user name over http(s) is usually a token. */
		snprintf(secret, secret_size, "%.*s", (int)(at - host), host);
		snprintf(buf, size, "%.*s***%s", (int)(host - url), url, at);
	}
}

void
repo_scrub(const char *line, const char *secret, char *buf, size_t size)
{
	size_t		 o = 0, sl = strlen(secret);

	if (size == 0)
		return;
	while (*line != '\0' && o + 1 < size) {
		if (sl > 0 && strncmp(line, secret, sl) == 0) {
			o += strlcpy(buf + o, "***", size - o);
			if (o >= size)
				o = size - 1;
			line += sl;
			continue;
		}
		buf[o++] = *line++;
	}
	buf[o] = '\0';
}

void
repo_clone_argv(const struct repo *r, const char **argv)
{
	int	 i = 0;

	argv[i++] = "git";
	argv[i++] = "clone";
	argv[i++] = "--branch";
	argv[i++] = r->branch;
	argv[i++] = "--single-branch";
	argv[i++] = r->url;	/* never "-...": checked in repo_start */
	argv[i++] = r->dir;
	argv[i] = NULL;
}

/* ---------------------------------------------------------------- */
/* the child: prepare (as the agent), then git (as the repo user) */

/* Remove name under dfd; never follows a symlink, never leaves dev. */
static int
repo_rmtree_at(int dfd, const char *name, dev_t dev, int depth)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	int		 fd;

	if (depth > REPO_DEPTH_MAX) {
		errno = ELOOP;
		return -1;
	}
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd == -1) {
		if (errno == ENOTDIR || errno == ELOOP)
			return unlinkat(dfd, name, 0);
		return -1;
	}
	if (fstat(fd, &st) == -1 || st.st_dev != dev) {
		close(fd);
		errno = EXDEV;
		return -1;
	}
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (repo_rmtree_at(dirfd(d), de->d_name, dev, depth + 1) ==
		    -1) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return unlinkat(dfd, name, AT_REMOVEDIR);
}

/*
 * Empty the directory (a corrupt checkout), keeping the directory itself:
 * its owner, the user git runs as, may then do it without a capability,
 * and clones into it again.
 */
static int
repo_empty(const char *dir)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	int		 fd;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || (d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (repo_rmtree_at(dirfd(d), de->d_name, st.st_dev, 1) == -1) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return 0;
}

/*
 * The directories a clone needs: the parents (0700), and the directory
 * itself, so that git, run as the repo user, clones into a directory of
 * its own.  What we create belongs to the user git runs as.
 */
static int
repo_mkdirs(const struct repo *r)
{
	char	 p[IPC_PATH_MAX];
	size_t	 i;

	strlcpy(p, r->dir, sizeof(p));
	for (i = 1; p[i] != '\0'; i++) {
		if (p[i] != '/')
			continue;
		p[i] = '\0';
		if (mkdir(p, 0700) == 0) {
			if (r->as_user && chown(p, r->uid, r->gid) == -1)
				return -1;
		} else if (errno != EEXIST)
			return -1;
		p[i] = '/';
	}
	if (mkdir(p, 0700) == 0) {
		if (r->as_user && chown(p, r->uid, r->gid) == -1)
			return -1;
	} else if (errno != EEXIST)
		return -1;
	return 0;
}

static __dead void
repo_child(const struct repo *r, int out, const char **argv, char **env)
{
	struct stat	 st;
	sigset_t	 none;
	int		 null, sig;

	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Its own group (killed whole) and no terminal (no prompts). */
	(void)setsid();
#ifdef PR_SET_PDEATHSIG
	prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
	if ((null = open("/dev/null", O_RDONLY)) == -1 ||
	    dup2(null, 0) == -1 || dup2(out, 1) == -1 || dup2(out, 2) == -1)
		_exit(126);
	closefrom(3);
	if (r->state == REPO_CLONING && repo_mkdirs(r) == -1) {
		dprintf(2, "creating %s: %s\n", r->dir, strerror(errno));
		_exit(125);
	}
	if (r->as_user && (setgroups(1, &r->gid) == -1 ||
	    setgid(r->gid) == -1 || setuid(r->uid) == -1)) {
		dprintf(2, "switching to %s: %s\n", r->user, strerror(errno));
		_exit(126);
	}
	/* As the owner: no capability needed (the unit has no CAP_FOWNER). */
	if (r->state == REPO_CLONING && r->remove && repo_empty(r->dir) == -1) {
		dprintf(2, "removing what %s holds: %s\n", r->dir,
		    strerror(errno));
		_exit(125);
	}
	if (r->state == REPO_CLONING && (lstat(r->dir, &st) == -1 ||
	    ((st.st_mode & 07777) != 0700 && chmod(r->dir, 0700) == -1))) {
		dprintf(2, "chmod 0700 %s: %s\n", r->dir, strerror(errno));
		_exit(125);
	}
	if (chdir("/") == -1)
		_exit(126);
	environ = env;
	execvp(argv[0], (char *const *)argv);
	dprintf(2, "%s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* ---------------------------------------------------------------- */
/* the parent: output, exit, time bound */

static void
repo_log_line(struct repo *r)
{
	char	 clean[sizeof(r->line)];

	if (r->len == 0)
		return;
	r->line[r->len] = '\0';
	r->len = 0;
	repo_scrub(r->line, r->secret, clean, sizeof(clean));
	if (++r->lines > REPO_LINES_MAX) {
		if (r->lines == REPO_LINES_MAX + 1)
			log_info("git: further output not logged");
		return;
	}
	/* The check's output is ".git" and a hash when all is well. */
	if (r->state == REPO_CHECKING) {
		log_debug("git: %s", clean);
		strlcpy(r->last, clean, sizeof(r->last));
	} else
		log_info("git: %s", clean);
}

/*
 * 1: read some; 2: nothing there now; 0: end of output (the descriptor
 * is closed).
 */
static int
repo_read(struct repo *r)
{
	char	 buf[4096];
	ssize_t	 n, i;

	n = read(r->fd, buf, sizeof(buf));
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 2;
	if (n <= 0) {
		ev_io_stop(r->loop, &r->io);
		close(r->fd);
		r->fd = -1;
		repo_log_line(r);
		return 0;
	}
	for (i = 0; i < n; i++) {
		if (buf[i] == '\n' || buf[i] == '\r') {
			repo_log_line(r);
			continue;
		}
		r->line[r->len++] = buf[i];
		if (r->len == sizeof(r->line) - 1)
			repo_log_line(r);
	}
	return 1;
}

static void
repo_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)repo_read(w->data);
}

static void
repo_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct repo	*r = w->data;

	if (r->pid > 0) {
		r->timed_out = 1;
		(void)kill(-r->pid, SIGKILL);
	}
}

/* Whether the corrupt directory may go; 0, or -1 after the error line. */
static int
repo_removable(struct repo *r)
{
	struct stat	 st;
	char		 rd[PATH_MAX], rs[PATH_MAX];
	const char	*why = NULL;

	if (lstat(r->dir, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		why = strerror(errno);
	} else if (!S_ISDIR(st.st_mode))
		why = "it is not a directory";
	else if (st.st_uid != r->uid)
		why = "it does not belong to the user git runs as";
	else if (realpath(r->dir, rd) == NULL)
		why = strerror(errno);
	else {
		if (realpath(r->state_dir, rs) == NULL)
			strlcpy(rs, r->state_dir, sizeof(rs));
		if (!repo_may_remove(rd, rs))
			why = "it is / or the state directory or holds it";
	}
	if (why == NULL)
		return 0;
	log_error("repository %s (%s): not removing it: %s", r->dir,
	    r->origin, why);
	return -1;
}

static void
repo_child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct repo	*r = w->data;
	char		 url[IPC_REPO_URL_MAX], sec[IPC_REPO_URL_MAX];
	struct stat	 st;
	int		 ws = w->rstatus, i;

	ev_child_stop(loop, w);
	ev_timer_stop(loop, &r->timer);
	r->pid = -1;
	r->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
	if (r->fd != -1) {
		/* What it wrote last, not waiting for a helper holding it. */
		for (i = 0; i < 64 && r->fd != -1 && repo_read(r) == 1; i++)
			;
		if (r->fd != -1) {
			repo_log_line(r);
			ev_io_stop(loop, &r->io);
			close(r->fd);
			r->fd = -1;
		}
	}
	if (r->state == REPO_CHECKING) {
		if (r->status == 0) {
			log_debug("repository %s checked", r->dir);
			repo_finish(r, 1);
			return;
		}
		/*
		 * Only git's own "fatal" (128) says corrupt: git missing
		 * (127), a hang or a signal must never cost the checkout.
		 */
		if (r->status != 128) {
			if (r->timed_out || r->status == -1)
				log_error("repository %s: git rev-parse %s",
				    r->dir, r->timed_out ? "did not finish in "
				    "time" : "was killed");
			else
				log_error("repository %s: git rev-parse "
				    "exited %d (is git installed?)", r->dir,
				    r->status);
			repo_finish(r, 0);
			return;
		}
		if (r->last[0] != '\0')
			log_warnx("git rev-parse: %s", r->last);
		log_warnx("repository appears corrupt, re-cloning");
		if (repo_removable(r) == -1) {
			repo_finish(r, 0);
			return;
		}
		repo_clone(r, 1);
		return;
	}
	if (r->status == 0) {
		/* Made 0700 before git ran; checked, as git may not keep it. */
		if (stat(r->dir, &st) == -1 || ((st.st_mode & 07777) != 0700 &&
		    chmod(r->dir, 0700) == -1))
			log_warn("chmod 0700 %s", r->dir);
		log_info("repository cloned into %s (branch %s)", r->dir,
		    r->branch);
		repo_finish(r, 1);
		return;
	}
	repo_redact_url(r->url, url, sizeof(url), sec, sizeof(sec));
	if (r->timed_out)
		log_error("cloning %s into %s: git did not finish within "
		    "%d s", url, r->dir, IPC_REPO_CLONE_S);
	else if (r->status == -1)
		log_error("cloning %s into %s: git was killed by signal %d",
		    url, r->dir, WTERMSIG(ws));
	else
		log_error("cloning %s (branch %s) into %s failed (exit %d)",
		    url, r->branch, r->dir, r->status);
	repo_finish(r, 0);
}

/* The environment of git: the jobs' (no token; key; the repo user's). */
static char **
repo_env(const struct repo *r, int ceiling)
{
	struct jobs_conf	 c;
	struct jobs_plan	 p;
	struct jobs_step	 st;
	char			**env, **v, *s;
	size_t			 n;

	memset(&c, 0, sizeof(c));
	memset(&p, 0, sizeof(p));
	memset(&st, 0, sizeof(st));
	c.agent_root = geteuid() == 0;
	c.user = r->user;
	c.user_home = r->home;
	st.runs_as = JOBS_AS_REPO_USER;
	st.as_user = r->as_user;
	st.flags = JOBS_SF_SSH;
	if (r->ssh_key[0] != '\0' &&
	    (p.ssh_command = jobs_ssh_command(r->ssh_key)) == NULL)
		return NULL;
	env = jobs_env_build(environ, &c, &p, &st);
	free(p.ssh_command);
	if (env == NULL || !ceiling)
		return env;
	/* A broken .git must not make git find a repository above it. */
	for (n = 0; env[n] != NULL; n++)
		;
	s = strrchr(r->dir, '/');
	if ((v = reallocarray(env, n + 2, sizeof(*env))) == NULL ||
	    asprintf(&v[n], "GIT_CEILING_DIRECTORIES=%.*s",
	    s == r->dir ? 1 : (int)(s - r->dir), r->dir) == -1) {
		jobs_env_free(v != NULL ? v : env);
		return NULL;
	}
	v[n + 1] = NULL;
	return v;
}

static void
repo_spawn(struct repo *r, const char **argv, int bound_s)
{
	char	**env;
	int	 pp[2];
	pid_t	 pid;

	r->lines = 0;
	r->len = 0;
	r->last[0] = '\0';
	r->timed_out = 0;
	if ((env = repo_env(r, r->state == REPO_CHECKING)) == NULL) {
		log_warn("git environment");
		repo_finish(r, 0);
		return;
	}
	if (pipe2(pp, O_CLOEXEC) == -1 || (pid = fork()) == -1) {
		log_warn("starting git");
		jobs_env_free(env);
		repo_finish(r, 0);
		return;
	}
	if (pid == 0)
		repo_child(r, pp[1], argv, env);
	jobs_env_free(env);
	close(pp[1]);
	r->pid = pid;
	r->fd = pp[0];
	fcntl(r->fd, F_SETFL, O_NONBLOCK);
	ev_io_set(&r->io, r->fd, EV_READ);
	ev_io_start(r->loop, &r->io);
	ev_child_set(&r->child, pid, 0);
	ev_child_start(r->loop, &r->child);
	ev_timer_set(&r->timer, bound_s, 0);
	ev_timer_start(r->loop, &r->timer);
}

/*
 * §4.2's check, git rev-parse --git-dir, and HEAD with it: a clone killed
 * half-way (the agent stopped, the host lost power) has a git directory
 * whose branch was never written, and must be cloned again too.
 */
static void
repo_check(struct repo *r)
{
	const char	*argv[] = { "git", "-C", r->dir, "rev-parse",
	    "--git-dir", "HEAD", NULL };

	r->state = REPO_CHECKING;
	log_debug("checking the repository in %s", r->dir);
	repo_spawn(r, argv, REPO_CHECK_S);
}

static void
repo_clone(struct repo *r, int remove)
{
	const char	*argv[10];
	char		 url[IPC_REPO_URL_MAX], sec[IPC_REPO_URL_MAX];

	r->state = REPO_CLONING;
	r->remove = remove;
	repo_redact_url(r->url, url, sizeof(url), sec, sizeof(sec));
	log_info("git clone --branch %s --single-branch %s %s%s%s (at most "
	    "%d s)", r->branch, url, r->dir, r->as_user ? " as " : "",
	    r->as_user ? r->user : "", IPC_REPO_CLONE_S);
	repo_clone_argv(r, argv);
	repo_spawn(r, argv, IPC_REPO_CLONE_S);
}

static void
repo_finish(struct repo *r, int ok)
{
	r->state = ok ? REPO_READY : REPO_FAILED;
	if (!ok)
		log_error("the repository is not usable: exiting with status "
		    "1 (the service manager retries)");
	r->done(r->arg, ok);
}

/* ---------------------------------------------------------------- */

void
repo_init(struct repo *r, struct ev_loop *loop, repo_done_fn done, void *arg)
{
	memset(r, 0, sizeof(*r));
	r->loop = loop;
	r->done = done;
	r->arg = arg;
	r->pid = -1;
	r->fd = -1;
	ev_child_init(&r->child, repo_child_cb, 0, 0);
	r->child.data = r;
	ev_io_init(&r->io, repo_io_cb, -1, EV_READ);
	r->io.data = r;
	ev_timer_init(&r->timer, repo_timer_cb, 0, 0);
	r->timer.data = r;
	if (repo_atexit_r == NULL)
		atexit(repo_atexit);
	repo_atexit_r = r;
}

void
repo_configure(struct repo *r, const struct ipc_exec_config *ec,
    const struct ipc_exec_jobs *jc)
{
	struct passwd	*pw;

	strlcpy(r->dir, ec->repo_dir, sizeof(r->dir));
	strlcpy(r->state_dir, ec->state_dir, sizeof(r->state_dir));
	strlcpy(r->branch, jc->branch[0] ? jc->branch : "main",
	    sizeof(r->branch));
	strlcpy(r->ssh_key, jc->ssh_key, sizeof(r->ssh_key));
	strlcpy(r->user, jc->user, sizeof(r->user));
	r->uid = geteuid();
	r->gid = getegid();
	r->as_user = 0;
	r->home[0] = '\0';
	/* As the jobs' git steps: the repo user, when a root agent has one. */
	if (r->user[0] != '\0' && geteuid() == 0 &&
	    (pw = getpwnam(r->user)) != NULL) {
		r->as_user = 1;
		r->uid = pw->pw_uid;
		r->gid = pw->pw_gid;
		strlcpy(r->home, pw->pw_dir, sizeof(r->home));
	}
}

void
repo_start(struct repo *r, const struct ipc_exec_repo *rc)
{
	struct stat	 st;
	char		 git[IPC_PATH_MAX + 8], red[IPC_REPO_URL_MAX];
	const char	*why;

	r->mode = rc->mode;
	strlcpy(r->url, rc->url, sizeof(r->url));
	strlcpy(r->origin, rc->origin, sizeof(r->origin));
	repo_redact_url(r->url, red, sizeof(red), r->secret,
	    sizeof(r->secret));
	if (r->mode == IPC_REPO_NONE) {
		repo_finish(r, 1);
		return;
	}
	if (r->mode == IPC_REPO_LEGACY) {
		if (stat(r->dir, &st) == -1)
			why = strerror(errno);
		else if (!S_ISDIR(st.st_mode))
			why = "not a directory";
		else {
			repo_finish(r, 1);
			return;
		}
		log_error("repository directory %s (%s): %s; create it, or set "
		    "NIXFLEET_REPO_URL to have the agent clone it (isolated "
		    "mode)", r->dir, r->origin, why);
		repo_finish(r, 0);
		return;
	}
	if (jobs_valid_dir(r->dir) == -1 ||
	    jobs_valid_branch(r->branch) == -1 || r->url[0] == '-' ||
	    r->url[0] == '\0') {
		log_error("repository %s (%s), branch %s, URL %s: not usable "
		    "for git", r->dir, r->origin, r->branch, red);
		repo_finish(r, 0);
		return;
	}
	if (r->user[0] != '\0' && geteuid() == 0 && !r->as_user) {
		log_error("NIXFLEET_USER %s: no such user; the repository "
		    "cannot be cloned as it", r->user);
		repo_finish(r, 0);
		return;
	}
	snprintf(git, sizeof(git), "%s/.git", r->dir);
	if (lstat(git, &st) == -1 && errno == ENOENT) {
		log_info("cloning repository (isolated mode)");
		repo_clone(r, 0);
		return;
	}
	repo_check(r);
}

int
repo_ready(const struct repo *r)
{
	return r->state == REPO_READY;
}
