/*
 * jobrun_reboot.c: `sudo reboot` 3 s after reboot's status (nixfleet
 * §6.3), as a job of its own outside the agent's unit, and what happens
 * when it fails: nothing can report a reboot that worked, but one that
 * did not gets the output line "❌ Reboot failed: <error>" (stderr) and
 * a log line, and no second status.
 *
 * The runner is no child of ours (it has its own session, or is a
 * transient unit), so its journal says how it ended: read once a second
 * until the exit record, for at most REBOOT_WATCH_S (a reboot that works
 * ends this process long before).
 */
#include <sys/queue.h>

#include <stdio.h>
#include <string.h>

#include "exec.h"
#include "jobrun.h"
#include "jobrun_priv.h"
#include "jobs.h"
#include "jobs_launch.h"
#include "journal.h"
#include "log.h"

#define REBOOT_WATCH_S	60

extern char	**environ;

static void
reboot_failed(struct jobrun *jr, const char *why)
{
	struct ipc_job_notice	 nt;

	memset(&nt, 0, sizeof(nt));
	nt.kind = JOB_REBOOT;
	nt.stream = JOB_STREAM_AGENT_ERR;
	jobs_reboot_failed(why, nt.text, sizeof(nt.text));
	log_warnx("reboot failed: %s", why);
	if (ipcev_active(&jr->e->net))
		ipcev_compose(&jr->e->net, IPC_EN_JOB_NOTICE, 0, -1, &nt,
		    sizeof(nt));
}

/* 1: the journal says how it ended (and *why is set on a failure). */
static int
reboot_ended(const char *dir, char *why, size_t size)
{
	struct journal_reader	 rd;
	struct journal_rec	 rec;
	struct journal_exit	 x;
	char			 last[256] = "";
	int			 rc, ended = 0;

	why[0] = '\0';
	if (journal_reader_open(&rd, dir, 0) == -1)
		return 0;
	while ((rc = journal_read(&rd, &rec)) == JOURNAL_REC ||
	    rc == JOURNAL_END) {
		if (rec.type == JOURNAL_STDERR && rec.len > 0)
			snprintf(last, sizeof(last), "%.*s", (int)rec.len,
			    (const char *)rec.data);
		if (rec.type == JOURNAL_EXIT) {
			ended = 1;
			if (journal_parse_exit(&rec, &x) == -1)
				snprintf(why, size, "unreadable exit record");
			else if (x.how != JOURNAL_EXITED || x.value != 0)
				snprintf(why, size, "%s", last[0] != '\0' ?
				    last : x.how == JOURNAL_EXITED ?
				    "sudo reboot exited with an error" :
				    "sudo reboot was killed");
			break;
		}
		if (rc == JOURNAL_END)
			break;
	}
	if (rc == JOURNAL_TRUNCATED) {
		ended = 1;
		snprintf(why, size, "%s", last[0] != '\0' ? last :
		    "its runner ended without an exit status");
	}
	journal_reader_close(&rd);
	return ended;
}

static void
reboot_watch_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct jobrun	*jr = w->data;
	char		 why[300];

	if (reboot_ended(jr->reboot_dir, why, sizeof(why))) {
		ev_timer_stop(loop, w);
		if (why[0] != '\0')
			reboot_failed(jr, why);
		return;
	}
	if (++jr->reboot_ticks >= REBOOT_WATCH_S)
		ev_timer_stop(loop, w);
}

void
jobrun_reboot(struct jobrun *jr)
{
	static char *const	 argv[] = { "sudo", "reboot", NULL };
	struct jobs_launch	 l;
	uint64_t		 id;

	if (journal_job_create(jr->jobsdir, &id, jr->reboot_dir,
	    sizeof(jr->reboot_dir)) == -1) {
		log_warn("reboot: %s", jr->jobsdir);
		reboot_failed(jr, "cannot create its job directory");
		return;
	}
	memset(&l, 0, sizeof(l));
	l.id = id;
	l.runner = jr->runner;
	l.jobdir = jr->reboot_dir;
	l.name = "reboot";
	l.argv = argv;
	l.envp = environ;
	l.cwd = "/";
	log_info("rebooting: sudo reboot");
	if (jobs_launch(&l, jr->mode) == -1) {
		reboot_failed(jr, "cannot start sudo reboot");
		return;
	}
	jr->reboot_ticks = 0;
	ev_timer_init(&jr->reboot_watch, reboot_watch_cb, 1., 1.);
	jr->reboot_watch.data = jr;
	ev_timer_start(jr->e->loop, &jr->reboot_watch);
}
