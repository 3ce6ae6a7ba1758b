/*
 * jobrun.c: durable jobs in the exec-worker (jobrun.h, docs/journal.md).
 *
 * A job is a directory under <state>/jobs: the plan the runner executes,
 * the meta the records are derived from, the runner's journal, our ack
 * marker and, once stop or kill was asked for, "interrupt".  We never
 * wait for a job: the runner is started detached, its journal is read
 * when inotify says it grew, and at most JOBRUN_AHEAD records past the
 * last acknowledged one are in flight, so a dashboard that is away or
 * slow costs the net-worker bounded memory and the job nothing.
 */
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exec.h"
#include "follow.h"
#include "jobplan.h"
#include "jobrun.h"
#include "jobs.h"
#include "jobs_launch.h"
#include "journal.h"
#include "log.h"

#include "jobrun_priv.h"

static void	job_read(struct job *);
static void	job_free(struct job *);

/* ---------------------------------------------------------------- */
/* Sending */

static void
job_announce(struct job *j)
{
	struct ipc_job_answer	 a;

	if (j->announced)
		return;
	j->announced = 1;
	memset(&a, 0, sizeof(a));
	a.result = JOB_ANS_STARTED;
	a.job_id = j->id;
	a.kind = j->meta->kind;
	a.current_kind = j->jr->cur != NULL && j->jr->cur->status_seq == 0 ?
	    (uint32_t)j->jr->cur->meta->kind : JOB_NONE;
	a.current_pid = j->jr->cur != NULL ? j->jr->cur->d.child_pid : 0;
	if (a.current_kind == JOB_NONE)
		a.current_pid = 0;
	ipcev_compose(&j->jr->e->net, IPC_EN_JOB_ANSWER, 0, -1, &a,
	    sizeof(a));
}

/* A record went out: its bytes count until it is acknowledged. */
static void
job_sent(struct job *j, uint64_t seq, size_t len)
{
	j->sent_bytes += len;
	j->cum[seq % JOBRUN_AHEAD] = j->sent_bytes;
}

static int
job_may_read(const struct job *j)
{
	uint64_t	 base = j->acked;

	/*
	 * update-agent (§6.5): the agent that started it says only its
	 * banner and exits; the next one streams the rest and the status.
	 */
	if (j->detach && j->d.started && !j->d.ended)
		return 0;
	/* Skipped lines are not in flight. */
	if (j->dropping && j->drop.upto > base)
		base = j->drop.upto;
	return j->d.seq < base + JOBRUN_AHEAD &&
	    j->sent_bytes - j->acked_bytes < JOBRUN_AHEAD_BYTES &&
	    ipcbuf_queued(j->jr->e->net.buf) < JOBRUN_IPC_MAX;
}

static void
out_output(void *arg, uint64_t seq, int stream, const char *s, size_t len)
{
	struct job		*j = arg;
	struct ipc_job_output	 o;
	struct iovec		 iov[2];

	if (seq <= j->skip)
		return;
	job_announce(j);
	if (j->dropping && seq >= j->drop.first && seq <= j->drop.upto) {
		struct ipc_job_dropped	 dr;

		if (seq != j->drop.first)
			return;
		/* §6.7: one notice where the first skipped line was. */
		memset(&dr, 0, sizeof(dr));
		dr.job_id = j->id;
		dr.lines = j->drop.lines > UINT32_MAX ? UINT32_MAX :
		    (uint32_t)j->drop.lines;
		dr.seq = j->drop.first;
		dr.upto = j->drop.upto;
		ipcev_compose(&j->jr->e->net, IPC_EN_JOB_DROPPED, 0, -1, &dr,
		    sizeof(dr));
		job_sent(j, seq, sizeof(dr));
		return;
	}
	memset(&o, 0, sizeof(o));
	o.job_id = j->id;
	o.stream = stream;
	o.seq = seq;
	o.len = len;
	iov[0].iov_base = &o;
	iov[0].iov_len = sizeof(o);
	iov[1].iov_base = (void *)s;
	iov[1].iov_len = len;
	ipcev_composev(&j->jr->e->net, IPC_EN_JOB_OUTPUT, 0, -1, iov,
	    len > 0 ? 2 : 1);
	job_sent(j, seq, sizeof(o) + len);
}

static void
out_progress(void *arg, const struct ipc_job_progress *p)
{
	struct job	*j = arg;

	if (p->seq <= j->skip)
		return;
	job_announce(j);
	ipcev_compose(&j->jr->e->net, IPC_EN_JOB_PROGRESS, 0, -1, p,
	    sizeof(*p));
	job_sent(j, p->seq, sizeof(*p));
}

static void
out_status(void *arg, const struct ipc_job_status *st)
{
	struct job		*j = arg;
	struct jobrun		*jr = j->jr;
	struct ipc_job_status	 s = *st;
	char			 gen[8];

	j->status_seq = s.seq;
	j->after = s.after;
	if (jr->cur == j)
		jr->cur = NULL;
	if (s.seq <= j->skip)
		return;
	job_announce(j);
	/*
	 * The compartments the job's end set (the lock re-check, §3.5) go
	 * first: the heartbeat that follows the status carries them.
	 */
	jobrun_send_state(jr);
	/* §2.6: the generation is the one when the status is sent. */
	if (facts_generation(jr->repo_dir, gen) == 0)
		strlcpy(s.generation, gen, sizeof(s.generation));
	ipcev_compose(&jr->e->net, IPC_EN_JOB_STATUS, 0, -1, &s, sizeof(s));
	job_sent(j, s.seq, sizeof(s));
	log_info("job %u (%s): status %s, exit %d", j->id,
	    jobplan_name(s.kind), s.status == JOB_ST_OK ? "ok" :
	    s.status == JOB_ST_STOPPED ? "stopped" : s.status ==
	    JOB_ST_WARNING ? "warning" : "error", s.exit_code);
}

static const struct jobderive_out *
job_out(struct job *j)
{
	static struct jobderive_out	 o;

	o.output = out_output;
	o.progress = out_progress;
	o.status = out_status;
	o.arg = j;
	return &o;
}

void
jobrun_send_state(struct jobrun *jr)
{
	struct ipc_job_state	 st;

	if (jr == NULL || !ipcev_active(&jr->e->net))
		return;
	memset(&st, 0, sizeof(st));
	if (jr->cur != NULL) {
		st.job_id = jr->cur->id;
		st.kind = jr->cur->meta->kind;
		st.pid = jr->cur->d.child_pid > 0 ? jr->cur->d.child_pid : 0;
		jr->cur->last_pid = st.pid;
	}
	/* The running job's kind: a switch owns its working state. */
	jobs_sc_expire(&jr->sc, jr->cur != NULL ? (int)jr->cur->meta->kind :
	    JOB_NONE, time(NULL));
	st.lock = jr->sc.lock;
	st.system = jr->sc.system;
	st.tests = jr->sc.tests;
	ipcev_compose(&jr->e->net, IPC_EN_JOB_STATE, 0, -1, &st, sizeof(st));
}

static void
job_answer(struct jobrun *jr, uint32_t id, int result, uint32_t job_id,
    uint32_t kind)
{
	struct ipc_job_answer	 a;

	memset(&a, 0, sizeof(a));
	a.result = result;
	a.job_id = job_id;
	a.kind = kind;
	if (jr->cur != NULL) {
		a.current_kind = jr->cur->meta->kind;
		a.current_pid = jr->cur->d.child_pid > 0 ?
		    jr->cur->d.child_pid : 0;
		if (a.job_id == 0)
			a.job_id = jr->cur->id;
	}
	ipcev_compose(&jr->e->net, IPC_EN_JOB_ANSWER, id, -1, &a, sizeof(a));
}

/* ---------------------------------------------------------------- */
/* Reading a journal */

/* Whether <dir>/flake.lock is missing (the lock check's first case). */
static int
jobrun_no_lock(const struct jobrun *jr)
{
	char	 path[IPC_PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/flake.lock", jr->repo_dir);
	return access(path, F_OK) == -1;
}

void
job_ctx(struct job *j, struct jobderive_ctx *c)
{
	char	 buf[64];
	ssize_t	 n;
	int	 fd;
	static char	 current[IPC_PATH_MAX];

	memset(c, 0, sizeof(*c));
	c->version = AGENT_VERSION;
	c->now = time(NULL);
	c->sc = &j->jr->sc;
	if (realpath("/run/current-system", current) != NULL)
		c->current = current;
	c->no_lock = jobrun_no_lock(j->jr);
	if (j->dirfd == -1 ||
	    (fd = openat(j->dirfd, JOBPLAN_INTERRUPT, O_RDONLY |
	    O_CLOEXEC)) == -1)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	if (jobplan_interrupt_parse(buf, &c->how, &c->sig) == -1)
		c->how = c->sig = 0;
}

static void
job_read(struct job *j)
{
	struct jobderive_ctx	 ctx;
	struct journal_rec	 r;
	int			 rv, pid = j->d.child_pid;

	if (j->immediate || !j->rd_open || j->d.ended)
		return;
	job_ctx(j, &ctx);
	while (!j->d.ended && job_may_read(j)) {
		rv = journal_read(&j->rd, &r);
		if (rv == JOURNAL_REC) {
			jobderive_rec(&j->d, &r, &ctx, job_out(j));
			continue;
		}
		if (rv == JOURNAL_TRUNCATED) {
			log_warnx("job %u: its runner died without an exit "
			    "record", j->id);
			jobderive_end(&j->d, 1, &ctx, job_out(j));
		} else if (rv == JOURNAL_ERROR)
			log_warn("job %u: reading the journal", j->id);
		break;
	}
	if (j->d.ended || pid != j->d.child_pid)
		jobrun_send_state(j->jr);
}

static void
jobrun_follow_cb(uint64_t id, void *arg)
{
	struct jobrun	*jr = arg;
	struct job	*j;

	LIST_FOREACH(j, &jr->jobs, entry)
		if (j->id == id) {
			job_read(j);
			return;
		}
}

/* Re-derive from the start; the net-worker has everything up to skip. */
static void
job_rewind(struct job *j, uint64_t skip)
{
	struct jobderive_ctx	 ctx;

	j->skip = skip;
	j->dropping = 0;
	j->announced = 0;
	j->status_seq = 0;
	j->sent_bytes = j->acked_bytes = 0;
	jobderive_init(&j->d, j->meta, j->id);
	if (j->immediate) {
		job_ctx(j, &ctx);
		jobderive_immediate(&j->d, &ctx, job_out(j), j->has_lock,
		    j->found);
		return;
	}
	if (j->rd_open)
		journal_reader_close(&j->rd);
	j->rd_open = journal_reader_open(&j->rd, j->dir, 0) == 0;
	if (!j->rd_open)
		log_warn("job %u: %s", j->id, j->dir);
	if (skip != UINT64_MAX)
		job_backlog(j, skip);
	job_read(j);
}

/* ---------------------------------------------------------------- */
/* Delivery */

static void
job_write_ack(struct job *j, int done)
{
	struct journal_ack	 a;
	uint64_t		 now;
	int			 sync;

	if (j->dirfd == -1)
		return;
	a.next_seq = j->acked + 1;
	a.done = done;
	/*
	 * Synced at most once a second, as the journal itself: the marker
	 * is written whole at every acknowledgement, so a crash of the
	 * agent resends nothing, and a crash of the machine resends at
	 * most that second's records.  The status's marker is synced.
	 */
	now = jobrun_mono_ns();
	sync = done || now - j->ack_synced >= JOURNAL_SYNC_MS * 1000000ULL;
	if (sync)
		j->ack_synced = now;
	if (journal_ack_write_sync(j->dirfd, &a, sync) == -1)
		log_warn("job %u: ack marker", j->id);
}

static void
jobrun_after_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct jobrun	*jr = w->data;
	struct ipc_exit	 x;

	if (jr->after_kind == JOB_AFTER_REBOOT) {
		jobrun_reboot(jr);
		return;
	}
	memset(&x, 0, sizeof(x));
	x.code = jr->after_code;
	log_info("exiting with %u after the job's status", x.code);
	ipcev_compose(&jr->e->sup, IPC_ES_EXIT, 0, -1, &x, sizeof(x));
}

/* The status is on the wire: what the agent does next (§6.3, §6.4). */
static void
job_after(struct jobrun *jr, uint32_t after)
{
	double	 delay = 0;

	switch (after) {
	case JOB_AFTER_EXIT:
		jr->after_code = 0;
		break;
	case JOB_AFTER_EXIT_SWITCH:
		delay = 0.5;
#ifdef __APPLE__
		jr->after_code = 0;
#else
		jr->after_code = 101;
#endif
		break;
	case JOB_AFTER_REBOOT:
		delay = 3.0;
		break;
	default:
		return;
	}
	jr->after_kind = after;
	ev_timer_stop(jr->e->loop, &jr->after_timer);
	ev_timer_set(&jr->after_timer, delay, 0);
	ev_timer_start(jr->e->loop, &jr->after_timer);
}

static struct job *
job_find(struct jobrun *jr, uint32_t id)
{
	struct job	*j;

	LIST_FOREACH(j, &jr->jobs, entry)
		if (j->id == id)
			return j;
	return NULL;
}

int
jobrun_ack(struct jobrun *jr, const struct ipc_job_ack *a)
{
	struct job	*j;
	uint32_t	 after;

	if (a->job_id == 0 || a->pad != 0)
		return -1;
	if ((j = job_find(jr, a->job_id)) == NULL || a->seq <= j->acked)
		return 0;		/* an old job, or nothing new */
	if (a->seq > j->d.seq)
		return 0;		/* never sent: a stale answer */
	j->acked = a->seq;
	if (a->seq > j->skip)
		j->acked_bytes = j->cum[a->seq % JOBRUN_AHEAD];
	if (j->detach && !j->detach_exit && j->status_seq == 0 &&
	    j->acked >= (uint64_t)j->meta->npre) {
		/* §6.5 2: the banner is out; close 1000 and exit 0. */
		j->detach_exit = 1;
		job_write_ack(j, 0);
		log_info("job %u: update-agent runs detached, exiting", j->id);
		job_after(jr, JOB_AFTER_EXIT);
		return 0;
	}
	if (j->status_seq != 0 && j->acked >= j->status_seq) {
		after = j->after;
		job_write_ack(j, 1);
		job_free(j);
		if (journal_retain(jr->jobsdir, jr->keep) == -1)
			log_warn("retention in %s", jr->jobsdir);
		job_after(jr, after);
		return 0;
	}
	/*
	 * At once: a record acknowledged but not yet marked is sent again by
	 * the next exec-worker.  The net-worker acknowledges per write pass,
	 * so a chatty job costs one marker per batch, not per line.
	 */
	job_write_ack(j, 0);
	/* The channel drained some: every job may read on. */
	LIST_FOREACH(j, &jr->jobs, entry)
		job_read(j);
	return 0;
}

int
jobrun_replay(struct jobrun *jr, const struct ipc_job_ack *a)
{
	struct job	*j;

	/* pad numbers the replay; JOB_REPLAYING echoes it. */
	if (a->job_id == 0)
		return -1;
	if ((j = job_find(jr, a->job_id)) == NULL)
		return 0;
	if (a->seq > j->acked) {
		if (a->seq > j->d.seq)
			return -1;
		j->acked = a->seq;
	}
	/* What follows is the replay (the net-worker ignores the rest). */
	ipcev_compose(&jr->e->net, IPC_EN_JOB_REPLAYING, 0, -1, a, sizeof(*a));
	job_rewind(j, a->seq);
	return 0;
}

uint64_t
jobrun_mono_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void
jobrun_link_down(struct jobrun *jr, uint64_t mono_ns)
{
	struct job	*j;

	if (jr == NULL)
		return;
	if (mono_ns == 0)
		mono_ns = jobrun_mono_ns();
	LIST_FOREACH(j, &jr->jobs, entry)
		j->down_ns = mono_ns;
}

void
jobrun_net_ready(struct jobrun *jr)
{
	struct job	*j;

	if (jr == NULL)
		return;
	LIST_FOREACH(j, &jr->jobs, entry)
		job_rewind(j, j->acked);
	jobrun_send_state(jr);
}

/* ---------------------------------------------------------------- */
/* Jobs */

static void
job_free(struct job *j)
{
	struct jobrun	*jr = j->jr;

	if (jr->cur == j)
		jr->cur = NULL;
	LIST_REMOVE(j, entry);
	if (jr->follow_ok && !j->immediate)
		follow_remove(&jr->follow, j->id);
	if (j->rd_open)
		journal_reader_close(&j->rd);
	if (j->dirfd != -1)
		close(j->dirfd);
	ev_timer_stop(jr->e->loop, &j->escalate);
	ev_child_stop(jr->e->loop, &j->launcher);
	free(j->meta);
	free(j);
}

static void
job_escalate_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct job	*j = w->data;
	int		 pid = j->d.runner_pid > 0 ? j->d.runner_pid :
			    j->launched_pid;

	if (j->d.ended || j->dirfd == -1 ||
	    journal_runner_alive(j->dirfd) != 1)
		return;
	if (pid > 0 && jobs_may_signal(getpgid(pid), getpgrp())) {
		log_info("job %u: still running, SIGKILL", j->id);
		(void)kill(pid, SIGUSR1);
	}
}

/* The job's end without a runner: what meta says, then an error status. */
static void
job_fail(struct job *j)
{
	struct jobderive_ctx	 ctx;

	if (j->d.ended)
		return;
	job_ctx(j, &ctx);
	jobderive_end(&j->d, 1, &ctx, job_out(j));
	jobrun_send_state(j->jr);
}

static void
job_launcher_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct job	*j = w->data;

	ev_child_stop(loop, w);
	if (WIFEXITED(w->rstatus) && WEXITSTATUS(w->rstatus) == 0)
		return;
	log_warnx("job %u: systemd-run failed (status %d)", j->id,
	    w->rstatus);
	j->launch_failed = 1;
	job_fail(j);
}

struct job *
jobrun_job_new(struct jobrun *jr, uint32_t id, const char *dir,
    struct jobmeta *m)
{
	struct job	*j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		fatal(NULL);
	j->jr = jr;
	j->id = id;
	j->meta = m;
	j->dirfd = -1;
	if (dir != NULL) {
		strlcpy(j->dir, dir, sizeof(j->dir));
		j->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	jobderive_init(&j->d, m, id);
	ev_timer_init(&j->escalate, job_escalate_cb, 0, 0);
	j->escalate.data = j;
	ev_child_init(&j->launcher, job_launcher_cb, 0, 0);
	j->launcher.data = j;
	LIST_INSERT_HEAD(&jr->jobs, j, entry);
	return j;
}

int
jobrun_start(struct jobrun *jr, uint32_t id, const struct ipc_job_start *s)
{
	struct jobderive_ctx	 ctx;
	struct job		*j = NULL;
	const char		*why = NULL;
	int			 running, kind = s->kind;

	if (jobs_check_start(s) == -1)
		return -1;
	running = jr->cur != NULL ? jr->cur->meta->kind : JOB_NONE;
	switch (jobs_admit(running, kind)) {
	case JOBS_BUSY:
		job_answer(jr, id, JOB_ANS_BUSY, 0, kind);
		return 0;
	case JOBS_UNKNOWN:
		job_answer(jr, id, JOB_ANS_UNKNOWN, 0, kind);
		return 0;
	case JOBS_NO_JOB:
		job_answer(jr, id, JOB_ANS_NO_JOB, 0, kind);
		return 0;
	case JOBS_INTERRUPT:
		return -1;	/* stop and kill come as JOB_SIGNAL */
	default:
		break;
	}
	if (!jr->configured || jobrun_create(jr, kind, &j, &why) == -1) {
		log_warnx("%s refused: %s", jobplan_name(kind),
		    why != NULL && jr->configured ? why : "not configured");
		job_answer(jr, id, JOB_ANS_REFUSED, 0, kind);
		return 0;
	}
	log_info("job %u: %s", j->id, jobplan_name(kind));
	/* restart and reboot do not take the busy slot of a running job. */
	if (!JOB_KIND_BYPASS(kind))
		jr->cur = j;
	jobs_sc_start(&jr->sc, kind, time(NULL));
	job_answer(jr, id, JOB_ANS_STARTED, j->id, kind);
	job_announce(j);
	if (jr->cur == j)
		jobrun_send_state(jr);
	if (j->immediate) {
		job_ctx(j, &ctx);
		jobderive_immediate(&j->d, &ctx, job_out(j), j->has_lock,
		    j->found);
		jobrun_send_state(jr);
	} else if (j->launch_failed)
		job_fail(j);
	else
		job_read(j);
	return 0;
}

int
jobrun_signal(struct jobrun *jr, uint32_t id, const struct ipc_job_signal *s)
{
	const struct jobs_interrupt	*in;
	struct job			*j = jr->cur;
	char				 buf[32];
	int				 pid, fd, kc;

	if (jobs_check_signal(s) == -1)
		return -1;
	if (j == NULL) {
		job_answer(jr, id, JOB_ANS_NO_JOB, 0, s->how);
		return 0;
	}
	kc = jobs_kill_check(1, j->d.child_pid, s->pid, s->signal);
	if (kc != JOBS_KC_SIGNAL) {
		log_warnx("kill_command for pid %d ignored: the job's is %d",
		    s->pid, j->d.child_pid);
		job_answer(jr, id, JOB_ANS_REFUSED, 0, s->how);
		return 0;
	}
	in = jobs_interrupt(s->how, s->signal);
	pid = j->d.runner_pid > 0 ? j->d.runner_pid : j->launched_pid;
	if (in == NULL || pid <= 0 || j->dirfd == -1 ||
	    !jobs_may_signal(getpgid(pid), getpgrp()) ||
	    journal_runner_alive(j->dirfd) != 1) {
		log_warnx("job %u: cannot be signalled", j->id);
		job_answer(jr, id, JOB_ANS_REFUSED, 0, s->how);
		return 0;
	}
	/* The first interrupt decides the status; written before the signal. */
	snprintf(buf, sizeof(buf), "%d %d\n", s->how, s->signal);
	if ((fd = openat(j->dirfd, JOBPLAN_INTERRUPT, O_WRONLY | O_CREAT |
	    O_EXCL | O_CLOEXEC, 0600)) != -1) {
		(void)write(fd, buf, strlen(buf));
		(void)fsync(fd);
		close(fd);
	}
	log_info("job %u: %s, %s to runner %d", j->id, s->how == JOB_STOP ?
	    "stop" : "kill", jobs_signal_name(in->first), pid);
	(void)kill(pid, in->first == JOB_SIG_KILL ? SIGUSR1 : SIGTERM);
	if (in->then != JOB_SIG_NONE && !ev_is_active(&j->escalate)) {
		ev_timer_set(&j->escalate, in->grace_ms / 1000.0, 0);
		ev_timer_start(jr->e->loop, &j->escalate);
	}
	job_answer(jr, id, JOB_ANS_STARTED, j->id, s->how);
	return 0;
}

/* ---------------------------------------------------------------- */
/* Configuration and adoption */

static void
jobrun_adopt(struct jobrun *jr)
{
	struct journal_job	*list = NULL;
	struct jobmeta		*m;
	struct job		*j;
	char			 dir[IPC_PATH_MAX], *text = NULL;
	size_t			 n = 0, len = 0;
	int			 fd;

	if (journal_scan(jr->jobsdir, &list, &n) == -1) {
		if (errno != ENOENT)
			log_warn("scanning %s", jr->jobsdir);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (journal_job_path(jr->jobsdir, list[i].id, dir,
		    sizeof(dir)) == -1 ||
		    (fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
			continue;
		if ((m = calloc(1, sizeof(*m))) == NULL)
			fatal(NULL);
		if (jobrun_read_file(fd, JOBPLAN_META, &text, &len) == -1 ||
		    jobmeta_decode(text, len, m) == -1 ||
		    (!list[i].started && m->nsteps > 0)) {
			/* Never ran, or not ours: nothing to report. */
			struct journal_ack	 a = { 0, 1 };

			free(text);
			text = NULL;
			(void)journal_ack_write(fd, &a);
			close(fd);
			free(m);
			continue;
		}
		free(text);
		text = NULL;
		close(fd);
		j = jobrun_job_new(jr, (uint32_t)list[i].id, dir, m);
		j->immediate = m->nsteps == 0;
		j->acked = list[i].ack.next_seq > 0 ?
		    list[i].ack.next_seq - 1 : 0;
		j->skip = j->acked;
		j->down_ns = jobrun_ack_age(j);
		if (!j->immediate) {
			if (jr->follow_ok && follow_add(&jr->follow, j->id,
			    dir) == -1)
				log_warn("job %u: follow", j->id);
			j->rd_open = journal_reader_open(&j->rd, dir, 0) == 0;
		}
		log_info("job %u (%s): adopted, %s, delivered up to %llu",
		    j->id, jobplan_name(m->kind), list[i].running ? "running" :
		    "ended", (unsigned long long)j->acked);
		/*
		 * Derive it all once now, sending nothing, to know whether it
		 * still runs; the net-worker's HELLO streams it from acked.
		 */
		{
			uint64_t	 acked = j->acked;

			j->acked = UINT64_MAX / 2;
			job_rewind(j, UINT64_MAX);
			j->acked = acked;
		}
		if (!j->d.ended && !JOB_KIND_BYPASS(m->kind))
			jr->cur = j;
		j->skip = j->acked;
	}
	free(list);
}

struct jobrun *
jobrun_new(struct exec *e)
{
	struct jobrun	*jr;

	if ((jr = calloc(1, sizeof(*jr))) == NULL)
		fatal(NULL);
	jr->e = e;
	LIST_INIT(&jr->jobs);
	ev_timer_init(&jr->after_timer, jobrun_after_timer_cb, 0, 0);
	jr->after_timer.data = jr;
	return jr;
}

int
jobrun_configured(const struct jobrun *jr)
{
	return jr != NULL && jr->configured;
}

void
jobrun_configure(struct jobrun *jr, const struct ipc_exec_config *ec,
    const struct ipc_exec_jobs *jc)
{
	struct passwd	*pw;
	char		 exe[IPC_PATH_MAX], *slash;
	const char	*s;
	ssize_t		 n;

	strlcpy(jr->repo_dir, ec->repo_dir, sizeof(jr->repo_dir));
	strlcpy(jr->hostname, jr->e->facts.hostname, sizeof(jr->hostname));
	strlcpy(jr->branch, jc->branch[0] ? jc->branch : "main",
	    sizeof(jr->branch));
	strlcpy(jr->ssh_key, jc->ssh_key, sizeof(jr->ssh_key));
	strlcpy(jr->user, jc->user, sizeof(jr->user));
	strlcpy(jr->state_dir, ec->state_dir, sizeof(jr->state_dir));
	if ((s = getenv("HOME")) != NULL)
		strlcpy(jr->home, s, sizeof(jr->home));
	if ((s = getenv("USER")) != NULL)
		strlcpy(jr->agent_user, s, sizeof(jr->agent_user));
	if (jr->user[0] != '\0' && geteuid() == 0) {
		if ((pw = getpwnam(jr->user)) == NULL)
			log_warnx("NIXFLEET_USER %s: no such user", jr->user);
		else {
			strlcpy(jr->user_home, pw->pw_dir,
			    sizeof(jr->user_home));
			jr->user_uid = pw->pw_uid;
			jr->user_gid = pw->pw_gid;
		}
	}
	jr->keep = jc->keep > 0 ? jc->keep : JOURNAL_KEEP_DEFAULT;
	memset(&jr->conf, 0, sizeof(jr->conf));
#ifdef __APPLE__
	jr->conf.platform = JOBS_MACOS;
#else
	jr->conf.platform = JOBS_NIXOS;
#endif
	jr->conf.isolated = jc->isolated != 0;
	jr->conf.agent_root = geteuid() == 0;
	jr->conf.repo_dir = jr->repo_dir;
	jr->conf.branch = jr->branch;
	jr->conf.hostname = jr->hostname;
	jr->conf.ssh_key = jr->ssh_key;
	jr->conf.user = jr->user;
	jr->conf.user_home = jr->user_home;
	jr->conf.home = jr->home;
	jr->conf.agent_user = jr->agent_user;
	jr->conf.state_dir = jr->state_dir;

	/* The runner is installed beside us, as in the build tree. */
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) > 0) {
		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')) != NULL)
			*slash = '\0';
		snprintf(jr->runner, sizeof(jr->runner),
		    "%s/nixfleet-agent-runner", exe);
	}
	jr->mode = jobs_launch_mode(getenv("INVOCATION_ID"),
	    getenv("NOTIFY_SOCKET"), geteuid());
	snprintf(jr->jobsdir, sizeof(jr->jobsdir), "%s/jobs", jr->state_dir);
	if (jr->state_dir[0] == '/') {
		(void)mkdir(jr->state_dir, 0700);
		if (mkdir(jr->jobsdir, 0700) == -1 && errno != EEXIST)
			log_warn("%s", jr->jobsdir);
	}
	if (follow_init(&jr->follow, jr->e->loop, jobrun_follow_cb, jr) == 0)
		jr->follow_ok = 1;
	else
		log_warn("following journals");
	jr->configured = 1;
	jobrun_adopt(jr);
	jobrun_lock_start(jr);
}
