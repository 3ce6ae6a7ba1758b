/*
 * replay.h: the net-worker's bounded window of job records that have not
 * been written to a live socket yet (nixfleet-protocol.md §6.7).
 *
 * Records arrive from the exec-worker in journal order: encoded frames
 * of output lines, progress and statuses, each with its job id and
 * sequence number.  They leave from the head once their frame has been
 * written whole to a live socket (replay_pop), which is the delivery
 * acknowledgement; replay_acked() says how far the exec-worker may
 * forget a job's journal.  While the dashboard is away the window fills:
 * beyond its limits the oldest output lines of the job are dropped and
 * one marker stands where they were, a status is never dropped, and the
 * net-worker's memory stays bounded.  Pure data, no I/O; the dialect
 * encodes, the caller writes.
 */
#ifndef REPLAY_H
#define REPLAY_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#define REPLAY_MAX_LINES	20000		/* §6.7, per job */
#define REPLAY_MAX_BYTES	(4 * 1024 * 1024)
#define REPLAY_MAX_PROGRESS	256		/* later ones supersede */

enum replay_kind {
	REPLAY_OUTPUT = 1,	/* droppable */
	REPLAY_PROGRESS,	/* droppable, oldest first, beyond 256 */
	REPLAY_STATUS,		/* never dropped */
	REPLAY_DROPPED,		/* marker: dropped lines of the job */
};

struct replay_rec {
	TAILQ_ENTRY(replay_rec)	 entry;
	uint32_t		 job_id;
	int			 kind;		/* enum replay_kind */
	uint64_t		 seq;		/* DROPPED: the first line's */
	uint32_t		 dropped;	/* DROPPED: how many lines */
	size_t			 len;
	char			 data[];	/* the frame; NUL after len */
};

struct replay;

/* 0 limits take the §6.7 values.  NULL on allocation failure. */
struct replay	*replay_new(size_t max_lines, size_t max_bytes);
void		 replay_free(struct replay *);

/*
 * Append a copy of a record.  1 when seq is not above the last one of
 * that job (a replayed duplicate: ignored), 0 when queued, -1 with errno
 * (EINVAL for a DROPPED kind or len 0, ENOMEM).  May drop older records
 * of the job to stay within the limits.
 */
int		 replay_push(struct replay *, uint32_t job_id, uint64_t seq,
		    int kind, const void *data, size_t len);
/* The oldest record, to be written next; NULL when empty. */
const struct replay_rec *replay_head(const struct replay *);
/* Its frame has been written to a live socket: forget it. */
void		 replay_pop(struct replay *);
/*
 * The highest seq of job_id below which nothing of the job is left in
 * the window (every record up to it was written or dropped); 0 if the
 * window never saw the job.  What JOB_ACK carries.
 */
uint64_t	 replay_acked(const struct replay *, uint32_t job_id);

/* Queued output lines and their bytes, all jobs; records in the window. */
size_t		 replay_lines(const struct replay *);
size_t		 replay_bytes(const struct replay *);
size_t		 replay_count(const struct replay *);

#endif
