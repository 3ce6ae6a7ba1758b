/*
 * replay.c: the bounded window of undelivered job records (§6.7).  One
 * job runs at a time, so the window holds at most the tail of a previous
 * job and the current one; the limits apply per job, counted for the job
 * of the newest record and recounted on the rare change of job.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"

TAILQ_HEAD(replay_q, replay_rec);

/* What is known about one job: the newest, and the last acknowledged. */
struct replay_job {
	uint32_t	 id;
	int		 seen;
	uint64_t	 last_seq;	/* highest pushed */
	size_t		 lines, bytes, progress;	/* in the window */
	struct replay_rec *marker;	/* its DROPPED record, if queued */
};

struct replay {
	struct replay_q	 q;
	size_t		 max_lines, max_bytes;
	size_t		 count, lines, bytes;	/* whole window */
	struct replay_job cur, prev;	/* newest job, and the one before */
};

static struct replay_job *
replay_job(struct replay *w, uint32_t id)
{
	if (w->cur.seen && w->cur.id == id)
		return &w->cur;
	if (w->prev.seen && w->prev.id == id)
		return &w->prev;
	return NULL;
}

static const struct replay_job *
replay_cjob(const struct replay *w, uint32_t id)
{
	return replay_job((struct replay *)w, id);
}

struct replay *
replay_new(size_t max_lines, size_t max_bytes)
{
	struct replay	*w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	TAILQ_INIT(&w->q);
	w->max_lines = max_lines != 0 ? max_lines : REPLAY_MAX_LINES;
	w->max_bytes = max_bytes != 0 ? max_bytes : REPLAY_MAX_BYTES;
	return w;
}

void
replay_free(struct replay *w)
{
	struct replay_rec	*r;

	if (w == NULL)
		return;
	while ((r = TAILQ_FIRST(&w->q)) != NULL) {
		TAILQ_REMOVE(&w->q, r, entry);
		free(r);
	}
	free(w);
}

/* Take r out of the window and its job's counts; the caller frees it. */
static void
replay_unlink(struct replay *w, struct replay_rec *r)
{
	struct replay_job	*j = replay_job(w, r->job_id);

	TAILQ_REMOVE(&w->q, r, entry);
	w->count--;
	if (r->kind == REPLAY_OUTPUT) {
		w->lines--;
		w->bytes -= r->len;
	}
	if (j == NULL)
		return;
	if (r->kind == REPLAY_OUTPUT) {
		j->lines--;
		j->bytes -= r->len;
	} else if (r->kind == REPLAY_PROGRESS)
		j->progress--;
	else if (r->kind == REPLAY_DROPPED && j->marker == r)
		j->marker = NULL;
}

/* The job's oldest record of kind, or NULL. */
static struct replay_rec *
replay_oldest(struct replay *w, uint32_t id, int kind)
{
	struct replay_rec	*r;

	TAILQ_FOREACH(r, &w->q, entry)
		if (r->job_id == id && r->kind == kind)
			return r;
	return NULL;
}

/*
 * Make room for one more line of len bytes: drop the job's oldest lines,
 * in one pass from the head.  The first drop leaves a marker in its place;
 * later ones are counted on that marker, which still stands before every
 * line that is left.  The newest line always stays, even alone too big.
 */
static int
replay_make_room(struct replay *w, struct replay_job *j, size_t len)
{
	struct replay_rec	*r, *next, *m;

	for (r = TAILQ_FIRST(&w->q); r != NULL && j->lines > 0 &&
	    (j->lines + 1 > w->max_lines || j->bytes + len > w->max_bytes);
	    r = next) {
		next = TAILQ_NEXT(r, entry);
		if (r->job_id != j->id || r->kind != REPLAY_OUTPUT)
			continue;
		if ((m = j->marker) == NULL) {
			if ((m = calloc(1, sizeof(*m) + 1)) == NULL)
				return -1;
			m->job_id = j->id;
			m->kind = REPLAY_DROPPED;
			m->seq = r->seq;
			TAILQ_INSERT_BEFORE(r, m, entry);
			w->count++;
			j->marker = m;
		}
		m->dropped++;
		replay_unlink(w, r);
		free(r);
	}
	return 0;
}

/* Recount a job that became the newest again (rare: after a restart). */
static void
replay_recount(struct replay *w, struct replay_job *j)
{
	struct replay_rec	*r;

	j->lines = j->bytes = j->progress = 0;
	j->marker = NULL;
	TAILQ_FOREACH(r, &w->q, entry) {
		if (r->job_id != j->id)
			continue;
		if (r->kind == REPLAY_OUTPUT) {
			j->lines++;
			j->bytes += r->len;
		} else if (r->kind == REPLAY_PROGRESS)
			j->progress++;
		else if (r->kind == REPLAY_DROPPED)
			j->marker = r;
	}
}

int
replay_push(struct replay *w, uint32_t id, uint64_t seq, int kind,
    const void *data, size_t len)
{
	struct replay_job	*j;
	struct replay_rec	*r;

	if ((kind != REPLAY_OUTPUT && kind != REPLAY_PROGRESS &&
	    kind != REPLAY_STATUS) || len == 0 || data == NULL) {
		errno = EINVAL;
		return -1;
	}
	if ((j = replay_job(w, id)) != NULL && seq <= j->last_seq)
		return 1;
	if (j == NULL) {
		/* A new job: the newest becomes the one before. */
		w->prev = w->cur;
		memset(&w->cur, 0, sizeof(w->cur));
		w->cur.id = id;
		w->cur.seen = 1;
		j = &w->cur;
	} else if (j == &w->prev) {
		struct replay_job	 t = w->cur;

		w->cur = w->prev;
		w->prev = t;
		j = &w->cur;
		replay_recount(w, j);
	}
	if ((r = malloc(sizeof(*r) + len + 1)) == NULL)
		return -1;
	memset(r, 0, sizeof(*r));
	r->job_id = id;
	r->kind = kind;
	r->seq = seq;
	r->len = len;
	memcpy(r->data, data, len);
	r->data[len] = '\0';
	j->last_seq = seq;
	if (kind == REPLAY_OUTPUT) {
		if (replay_make_room(w, j, len) == -1) {
			free(r);
			return -1;
		}
		j->lines++;
		j->bytes += len;
		w->lines++;
		w->bytes += len;
	} else if (kind == REPLAY_PROGRESS) {
		struct replay_rec	*old;

		if (j->progress >= REPLAY_MAX_PROGRESS &&
		    (old = replay_oldest(w, id, REPLAY_PROGRESS)) != NULL) {
			replay_unlink(w, old);
			free(old);
		}
		j->progress++;
	}
	TAILQ_INSERT_TAIL(&w->q, r, entry);
	w->count++;
	return 0;
}

const struct replay_rec *
replay_head(const struct replay *w)
{
	return TAILQ_FIRST(&w->q);
}

void
replay_pop(struct replay *w)
{
	struct replay_rec	*r;

	if ((r = TAILQ_FIRST(&w->q)) == NULL)
		return;
	replay_unlink(w, r);
	free(r);
}

uint64_t
replay_acked(const struct replay *w, uint32_t id)
{
	const struct replay_job	*j = replay_cjob(w, id);
	const struct replay_rec	*r;

	if (j == NULL)
		return 0;
	/* Records of a job sit in seq order, a marker at its first line. */
	TAILQ_FOREACH(r, &w->q, entry)
		if (r->job_id == id)
			return r->seq - 1;
	return j->last_seq;
}

size_t
replay_lines(const struct replay *w)
{
	return w->lines;
}

size_t
replay_bytes(const struct replay *w)
{
	return w->bytes;
}

size_t
replay_count(const struct replay *w)
{
	return w->count;
}
