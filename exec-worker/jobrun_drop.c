/*
 * jobrun_drop.c: §6.7's limit in a replay (jobdrop.h): how much output
 * the journal got since the link went down, and where the cut falls.
 */
#include <sys/queue.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exec.h"
#include "jobdrop.h"
#include "jobplan.h"
#include "jobrun.h"
#include "journal.h"
#include "log.h"

#include "jobrun_priv.h"

/* Counting the backlog: the output lines past skip, nothing sent. */
struct job_count {
	struct jobdrop	 dr;
	uint64_t	 skip;
	uint64_t	 since;		/* disconnected since */
	uint64_t	 rec_ns;	/* the journal record being derived */
};

static void
count_output(void *arg, uint64_t seq, int stream, const char *s, size_t len)
{
	struct job_count	*c = arg;

	if (seq > c->skip && c->rec_ns >= c->since)
		jobdrop_add(&c->dr, seq, len);
}

static void
count_progress(void *arg, const struct ipc_job_progress *p)
{
}

static void
count_status(void *arg, const struct ipc_job_status *st)
{
}

/*
 * §6.7: the output queued while disconnected is what the journal holds
 * past skip, written since the link went down (down_ns; lines written
 * while it was up, stalled or not, are all sent).  Over 20 000 lines or
 * 4 MiB, this replay skips the oldest of them (JOB_DROPPED stands for
 * them); what the job writes from now on is streamed, never dropped.
 */
void
job_backlog(struct job *j, uint64_t skip)
{
	static const struct jobderive_out	 o = { count_output,
						    count_progress,
						    count_status, NULL };
	struct jobderive_out	 out = o;
	struct jobderive_ctx	 ctx;
	struct journal_reader	 rd;
	struct journal_rec	 r;
	struct jobderive	*d;
	struct job_count	 c;

	j->dropping = 0;
	if (j->immediate || !j->rd_open)
		return;
	if ((d = malloc(sizeof(*d))) == NULL || jobdrop_init(&c.dr, 0,
	    0) == -1) {
		free(d);
		log_warn("job %u: counting the backlog", j->id);
		return;
	}
	c.skip = skip;
	c.since = j->down_ns;
	out.arg = &c;
	job_ctx(j, &ctx);
	ctx.sc = NULL;		/* the real pass sets the compartments */
	jobderive_init(d, j->meta, j->id);
	if (journal_reader_open(&rd, j->dir, 0) == 0) {
		while (!d->ended && journal_read(&rd, &r) == JOURNAL_REC) {
			c.rec_ns = r.mono_ns;
			jobderive_rec(d, &r, &ctx, &out);
		}
		journal_reader_close(&rd);
	}
	if (jobdrop_cut(&c.dr, &j->drop) == 1) {
		j->dropping = 1;
		log_info("job %u: %llu undelivered lines, %llu bytes: the "
		    "oldest %llu are skipped (%llu to %llu)", j->id,
		    (unsigned long long)c.dr.lines,
		    (unsigned long long)c.dr.bytes,
		    (unsigned long long)j->drop.lines,
		    (unsigned long long)j->drop.first,
		    (unsigned long long)j->drop.upto);
	}
	jobdrop_free(&c.dr);
	free(d);
}

/*
 * An adopted job's dashboard is away since its last delivery, as far as
 * we know: the ack marker's time, on the monotonic clock; 0 (all of it)
 * without a marker.
 */
uint64_t
jobrun_ack_age(const struct job *j)
{
	struct stat	 st;
	struct timespec	 now;
	uint64_t	 mono = jobrun_mono_ns(), wall, at, age;

	if (j->dirfd == -1 || fstatat(j->dirfd, JOURNAL_ACK, &st, 0) == -1)
		return 0;
	clock_gettime(CLOCK_REALTIME, &now);
	wall = (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec;
	at = (uint64_t)st.st_mtim.tv_sec * 1000000000ULL +
	    (uint64_t)st.st_mtim.tv_nsec;
	age = wall > at ? wall - at : 0;
	return mono > age ? mono - age : 0;
}
