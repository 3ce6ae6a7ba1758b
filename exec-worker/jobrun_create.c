/*
 * jobrun_create.c: a new job's directory, meta and plan, and its runner
 * started (jobrun.h; the files are docs/journal.md's).
 */
#include <sys/queue.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exec.h"
#include "follow.h"
#include "jobplan.h"
#include "jobrun.h"
#include "jobrun_priv.h"
#include "jobs.h"
#include "jobs_launch.h"
#include "journal.h"
#include "log.h"

extern char	**environ;

/* A file of the job, written whole and synced before the runner starts. */
static int
job_put_file(const char *dir, const char *name, const char *text,
    size_t len)
{
	char	 path[IPC_PATH_MAX + 16];
	int	 fd;
	ssize_t	 n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1)
		return -1;
	while (len > 0) {
		if ((n = write(fd, text, len)) <= 0) {
			close(fd);
			return -1;
		}
		text += n;
		len -= n;
	}
	if (fsync(fd) == -1) {
		close(fd);
		return -1;
	}
	return close(fd);
}

int
jobrun_read_file(int dirfd, const char *name, char **text, size_t *len)
{
	struct stat	 sb;
	char		*b;
	int		 fd;
	ssize_t		 n;

	if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &sb) == -1 || sb.st_size > 4 * 1024 * 1024 ||
	    (b = malloc(sb.st_size + 1)) == NULL) {
		close(fd);
		return -1;
	}
	n = read(fd, b, sb.st_size);
	close(fd);
	if (n != sb.st_size) {
		free(b);
		return -1;
	}
	b[n] = '\0';
	*text = b;
	*len = n;
	return 0;
}

/* The steps of a plan as the runner's plan steps. */
struct build {
	struct jobplan_step	 st[JM_STEPS_MAX];
	char			**env[JM_STEPS_MAX];
	int			 n;
};

static int
build_add(struct jobrun *jr, struct build *b, struct jobmeta *m,
    const struct jobs_plan *p, const struct jobs_step *st, int flags,
    const char *label)
{
	struct jobmeta_step	*ms;
	struct jobplan_step	*ps;

	if (b->n >= JM_STEPS_MAX)
		return -1;
	ms = &m->step[m->nsteps++];
	ps = &b->st[b->n];
	if ((b->env[b->n] = jobs_env_build(environ, &jr->conf, p, st)) ==
	    NULL)
		return -1;
	b->n++;
	ps->argv = st->argv;
	ps->envp = b->env[b->n - 1];
	ps->cwd = jr->repo_dir;
	ps->uid = ps->gid = -1;
	if (st->as_user) {
		ps->uid = jr->user_uid;
		ps->gid = jr->user_gid;
	}
	ms->flags = flags;
	if (st->flags & JOBS_SF_WARN_ONLY) {
		ms->flags |= JM_SF_WARN;
		ps->cont = 1;
		snprintf(ms->warn, sizeof(ms->warn), "⚠️ %s %s failed (exit ",
		    st->argv[0], st->argv[1] != NULL && strcmp(st->argv[1],
		    "-C") == 0 && st->argv[3] != NULL ? st->argv[3] : "");
	}
	if (flags & JM_SF_TEST)
		ps->cont = 1;
	if (label != NULL)
		strlcpy(ms->label, label, sizeof(ms->label));
	else if (st->banner != NULL) {
		ms->flags |= JM_SF_BANNER;
		strlcpy(ms->label, st->banner, sizeof(ms->label));
	}
	return 0;
}

static void
build_free(struct build *b)
{
	for (int i = 0; i < b->n; i++)
		jobs_env_free(b->env[i]);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* test (§6.4): every *.sh in byte order; the executable ones run. */
static int
build_tests(struct jobrun *jr, struct build *b, struct jobmeta *m,
    struct jobs_step *steps, int max)
{
	char		*dir, *names[JM_STEPS_MAX], path[IPC_PATH_MAX * 2];
	char		 line[JM_TEXT_MAX];
	struct dirent	*de;
	struct stat	 sb;
	struct jobs_plan p;
	DIR		*dp;
	int		 n = 0, k = 0;

	memset(&p, 0, sizeof(p));
	p.kind = JOB_TEST;
	if ((dir = jobs_test_dir(&jr->conf)) == NULL)
		return -1;
	if ((dp = opendir(dir)) != NULL) {
		while ((de = readdir(dp)) != NULL && n < JM_STEPS_MAX)
			if (jobs_test_name(de->d_name) &&
			    (names[n] = strdup(de->d_name)) != NULL)
				n++;
		closedir(dp);
	}
	qsort(names, n, sizeof(names[0]), name_cmp);
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (stat(path, &sb) == -1 || !S_ISREG(sb.st_mode))
			continue;
		if ((sb.st_mode & 0111) == 0 || k >= max) {
			jobs_test_line(JOBS_TL_SKIPPED, names[i], 0, line,
			    sizeof(line));
			if (m->npre < JM_PRE_MAX)
				strlcpy(m->pre[m->npre++], line, JM_TEXT_MAX);
			continue;
		}
		if (jobs_test_argv(&jr->conf, path, &steps[k]) == -1 ||
		    build_add(jr, b, m, &p, &steps[k], JM_SF_TEST,
		    names[i]) == -1) {
			k++;
			break;
		}
		k++;
	}
	m->ntests = m->nsteps;
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(dir);
	return k;
}

static int
find_exe(const char *name, char *out, size_t size)
{
	const char	*path = getenv("PATH"), *p, *c;

	if (strchr(name, '/') != NULL) {
		strlcpy(out, name, size);
		return access(name, X_OK);
	}
	for (p = path != NULL ? path : "/usr/bin:/bin"; *p != '\0'; p = c) {
		size_t	 l;

		c = strchr(p, ':');
		l = c != NULL ? (size_t)(c - p) : strlen(p);
		snprintf(out, size, "%.*s/%s", (int)l, p, name);
		if (l > 0 && access(out, X_OK) == 0)
			return 0;
		c = c != NULL ? c + 1 : p + l;
	}
	return -1;
}

/* The time limits of the checks' captured steps (§3.5). */
static void
check_limit(struct jobplan_step *ps, int flags)
{
	if (flags & JM_SF_SYSTEM)
		ps->timeout_ms = JM_SYSTEM_TIMEOUT_MS;
	else if (flags & JM_SF_LOCK)
		ps->timeout_ms = JM_LOCK_TIMEOUT_MS;
}

static int
log_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * nixfleet §6.1 (T03-S6): the newest `keep` text logs stay.  Their names
 * start with the UTC time, so name order is age order; update-agent's
 * logs (update-agent-<UTC>.log) are not counted.
 */
static void
logs_retain(const char *logs, size_t keep)
{
	DIR		*d;
	struct dirent	*de;
	char		**v = NULL, **nv, path[IPC_PATH_MAX + 300];
	size_t		 n = 0, i;

	if ((d = opendir(logs)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9' ||
		    (nv = reallocarray(v, n + 1, sizeof(*v))) == NULL)
			continue;
		v = nv;
		if ((v[n] = strdup(de->d_name)) != NULL)
			n++;
	}
	closedir(d);
	if (n > 0)
		qsort(v, n, sizeof(*v), log_name_cmp);
	for (i = 0; i < n; i++) {
		if (i + keep < n) {
			snprintf(path, sizeof(path), "%s/%s", logs, v[i]);
			if (unlink(path) == -1 && errno != ENOENT)
				log_warn("%s", path);
		}
		free(v[i]);
	}
	free(v);
}

/*
 * The job's text log, <state>/logs/<UTC>-<command>.log (§6.1): named in
 * m->log and made ready.  -1 (logged) when it cannot be: the job runs
 * anyway, its journal keeps everything.
 */
static int
job_text_log(struct jobrun *jr, struct jobmeta *m, int kind)
{
	char	 logs[IPC_PATH_MAX + 8];

	if (jobs_log_path(&jr->conf, kind, time(NULL), m->log,
	    sizeof(m->log)) == -1) {
		m->log[0] = '\0';
		return -1;
	}
	snprintf(logs, sizeof(logs), "%s/logs", jr->state_dir);
	if (mkdir(logs, 0700) == -1 && errno != EEXIST) {
		log_warn("%s", logs);
		m->log[0] = '\0';
		return -1;
	}
	if (kind != JOB_UPDATE_AGENT)
		logs_retain(logs, jr->keep > 0 ? jr->keep - 1 : 0);
	return 0;
}

/*
 * update-agent (§6.5): the script as the one step, its banner naming the
 * text log the runner writes beside the journal.  0, or -1 (*why set
 * unless out of memory).
 */
static int
build_update(struct jobrun *jr, struct build *b, struct jobmeta *m,
    const struct jobs_plan *p, const char **why)
{
	if (p->nsteps != 1 || m->npre >= JM_PRE_MAX ||
	    job_text_log(jr, m, JOB_UPDATE_AGENT) == -1) {
		*why = "cannot create the update log under NIXFLEET_STATE_DIR";
		return -1;
	}
	jobs_update_started(m->log, m->pre[m->npre], JM_TEXT_MAX);
	m->npre++;
	if (build_add(jr, b, m, p, &p->step[0], 0, NULL) == -1)
		return -1;
	b->st[b->n - 1].log = m->log;
	return 0;
}

#ifdef __APPLE__
/* rollback on macOS (§6.3): the previous Home Manager generation. */
static int
hm_rollback(struct jobrun *jr, struct jobs_step *st)
{
	char		 dir[IPC_PATH_MAX], *names[JM_STEPS_MAX];
	struct dirent	*de;
	DIR		*dp;
	size_t		 n = 0;
	int		 rv;

	if (jobs_hm_profiles(&jr->conf, dir, sizeof(dir)) == -1 ||
	    (dp = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(dp)) != NULL && n < JM_STEPS_MAX)
		if ((names[n] = strdup(de->d_name)) != NULL)
			n++;
	closedir(dp);
	rv = jobs_hm_rollback(&jr->conf, (const char *const *)names, n, st);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	return rv;
}
#endif

/*
 * Make the job: meta and plan into a new job directory, then the runner.
 * 0, or -1 with *why for REFUSED.
 */
int
jobrun_create(struct jobrun *jr, int kind, struct job **out,
    const char **why)
{
	static struct build	 b;
	struct jobs_plan	 p, lp;
	struct jobs_step	 extra[JM_STEPS_MAX];
	struct jobmeta		*m;
	struct jobs_launch	 l;
	char			 dir[IPC_PATH_MAX], cand[8][IPC_PATH_MAX];
	char			 exe[IPC_PATH_MAX], lock[IPC_PATH_MAX + 16];
	char			*text = NULL;
	size_t			 len;
	uint64_t		 id;
	int			 immediate = 0, has_lock = 1, found = 1;
	int			 nextra = 0, nc, rv = -1, detach = 0;
	struct job		*j;
	pid_t			 pid;

	*why = NULL;
	memset(&lp, 0, sizeof(lp));
	memset(&p, 0, sizeof(p));
	memset(extra, 0, sizeof(extra));
	memset(&b, 0, sizeof(b));
	if ((m = calloc(1, sizeof(*m))) == NULL)
		fatal(NULL);
	m->kind = kind;
	if (jobs_plan_build(&jr->conf, kind, &p, why) == -1)
		goto done;
	if (p.pre_line != NULL)
		strlcpy(m->pre[m->npre++], p.pre_line, JM_TEXT_MAX);
	if (p.post_line != NULL)
		strlcpy(m->post, p.post_line, sizeof(m->post));
	switch (kind) {
	case JOB_TEST:
		nextra = build_tests(jr, &b, m, extra, JM_STEPS_MAX);
		if (nextra < 0) {
			*why = "no test directory";
			goto done;
		}
		immediate = m->nsteps == 0;
		break;
	case JOB_CHECK_VERSION:
		nc = jobs_version_candidates(&jr->conf, cand, 8);
		found = 0;
		for (int i = 0; i < nc && !found; i++)
			found = find_exe(cand[i], exe, sizeof(exe)) == 0;
		if (!found) {
			immediate = 1;
			break;
		}
		extra[0].runs_as = JOBS_AS_ROOT;
		if ((extra[0].argv[0] = strdup(exe)) == NULL ||
		    (extra[0].argv[1] = strdup("--version")) == NULL)
			fatal(NULL);
		nextra = 1;
		if (build_add(jr, &b, m, &p, &extra[0], JM_SF_CAPTURE |
		    JM_SF_VERSION, NULL) == -1)
			goto done;
		break;
	case JOB_RESTART:
	case JOB_REBOOT:
	case JOB_REFRESH_GIT:
		immediate = 1;
		break;
	case JOB_UPDATE_AGENT:
		if (build_update(jr, &b, m, &p, why) == -1)
			goto done;
		detach = 1;
		break;
#ifdef __APPLE__
	case JOB_ROLLBACK:
		/* No previous generation: an immediate error status. */
		if (hm_rollback(jr, &extra[0]) == -1) {
			immediate = 1;
			break;
		}
		nextra = 1;
		if (build_add(jr, &b, m, &p, &extra[0], 0, NULL) == -1)
			goto done;
		break;
#endif
	default:
		if (kind == JOB_REFRESH_LOCK) {
			snprintf(lock, sizeof(lock), "%s/flake.lock",
			    jr->repo_dir);
			if (access(lock, F_OK) == -1) {
				has_lock = 0;
				immediate = 1;
				break;
			}
		}
		if (p.nsteps == 0) {
			*why = "nothing to run on this platform";
			goto done;
		}
		for (int i = 0; i < p.nsteps; i++) {
			int	 f = 0;

			if (kind == JOB_PULL_SWITCH)
				f = i == p.nsteps - 1 ? JM_SF_PHASE2 :
				    JM_SF_PULLSTEP;
			if (kind == JOB_REFRESH_LOCK ||
			    kind == JOB_REFRESH_SYSTEM ||
			    kind == JOB_REFRESH_ALL)
				f = JM_SF_CAPTURE;
			if (kind == JOB_REFRESH_SYSTEM || (kind ==
			    JOB_REFRESH_ALL && i == 1))
				f |= JM_SF_SYSTEM;
			else if (f == JM_SF_CAPTURE)
				f |= JM_SF_LOCK;
			if (build_add(jr, &b, m, &p, &p.step[i], f, NULL) ==
			    -1)
				goto done;
			check_limit(&b.st[b.n - 1], f);
		}
		/* §3.5: the lock re-check after a job that may change it. */
		if ((jobs_kind(kind)->flags & JOBS_KF_ARGV) &&
		    (jobs_kind(kind)->flags & JOBS_KF_LOCK_CHECK)) {
			if (jobs_plan_build(&jr->conf, JOB_REFRESH_LOCK, &lp,
			    why) == -1 || lp.nsteps != 1 ||
			    build_add(jr, &b, m, &lp, &lp.step[0],
			    JM_SF_CAPTURE | JM_SF_LOCK, NULL) == -1)
				goto done;
			b.st[b.n - 1].cont = 1;
			check_limit(&b.st[b.n - 1], JM_SF_LOCK);
		}
		break;
	}

	/* Every step of a job that runs anything appends to its text log. */
	if (!immediate && m->log[0] == '\0' &&
	    job_text_log(jr, m, kind) == 0)
		for (int i = 0; i < b.n; i++)
			b.st[i].log = m->log;

	if (journal_job_create(jr->jobsdir, &id, dir, sizeof(dir)) == -1) {
		log_warn("%s", jr->jobsdir);
		*why = "cannot create the job directory";
		goto done;
	}
	if ((text = jobmeta_encode(m, &len)) == NULL ||
	    job_put_file(dir, JOBPLAN_META, text, len) == -1) {
		*why = "cannot write the job's meta";
		goto done;
	}
	free(text);
	text = NULL;
	j = jobrun_job_new(jr, (uint32_t)id, dir, m);
	m = NULL;
	j->immediate = immediate;
	j->detach = detach;
	j->has_lock = has_lock;
	j->found = found;
	*out = j;
	rv = 0;
	if (immediate)
		goto done;
	if ((text = jobplan_encode(b.st, b.n, &len)) == NULL ||
	    job_put_file(dir, JOBPLAN_FILE, text, len) == -1) {
		log_warn("job %u: plan", j->id);
		j->launch_failed = 1;	/* it fails: an error status */
		goto done;
	}
	memset(&l, 0, sizeof(l));
	l.id = id;
	l.runner = jr->runner;
	l.jobdir = dir;
	l.name = jobplan_name(kind);
	if (kind == JOB_UPDATE_AGENT)
		l.unit = JOBS_UNIT_UPDATE;
	l.plan = JOBPLAN_FILE;
	l.envp = b.env[0];
	if (jr->follow_ok && follow_add(&jr->follow, id, dir) == -1)
		log_warn("job %u: follow", j->id);
	j->rd_open = journal_reader_open(&j->rd, dir, 0) == 0;
	if ((pid = jobs_launch_start(&l, jr->mode)) == -1) {
		log_warn("job %u: starting the runner", j->id);
		j->launch_failed = 1;
	} else if (jr->mode == JOBS_SYSTEMD) {
		/* Reaped from the loop: systemd-run is never waited for. */
		ev_child_set(&j->launcher, pid, 0);
		ev_child_start(jr->e->loop, &j->launcher);
	} else
		j->launched_pid = pid;
 done:
	free(text);
	build_free(&b);
	for (int i = 0; i < nextra; i++)
		for (int k = 0; k < JOBS_ARGV_MAX; k++)
			free(extra[i].argv[k]);
	jobs_plan_free(&p);
	jobs_plan_free(&lp);
	free(m);
	return rv;
}

