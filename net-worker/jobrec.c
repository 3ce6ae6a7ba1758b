/*
 * jobrec.c: every job record from the exec-worker checked against
 * proto.h before the dialect encodes it: enums in range, padding zero,
 * strings terminated inside their arrays, sizes that add up.
 */
#include <string.h>

#include "jobrec.h"

#define TERMINATED(a)	(memchr((a), '\0', sizeof(a)) != NULL)

static int
jobrec_kind(uint32_t k, int none_ok)
{
	return (k > JOB_NONE && k < JOB_KIND_MAX) || (none_ok && k == JOB_NONE);
}

int
jobrec_check_output(const struct ipc_job_output *o, size_t tail)
{
	if (o->job_id == 0 || o->seq == 0 || o->len != tail ||
	    o->len > IPC_JOB_LINE_MAX)
		return -1;
	switch (o->stream) {
	case JOB_STREAM_STDOUT:
	case JOB_STREAM_STDERR:
	case JOB_STREAM_AGENT:
	case JOB_STREAM_AGENT_ERR:
		return o->dropped == 0 ? 0 : -1;
	case JOB_STREAM_DROPPED:
		return o->len == 0 && o->dropped > 0 ? 0 : -1;
	default:
		return -1;
	}
}

int
jobrec_check_dropped(const struct ipc_job_dropped *d)
{
	if (d->job_id == 0 || d->seq == 0 || d->lines == 0 ||
	    d->upto < d->seq || d->upto - d->seq + 1 < d->lines)
		return -1;
	return 0;
}

int
jobrec_accept(uint64_t *expected, uint64_t *gap_to, uint64_t seq)
{
	if (seq != *expected && (*gap_to == 0 || seq < *expected ||
	    seq > *gap_to + 1))
		return 0;
	*expected = seq + 1;
	if (*gap_to != 0 && seq > *gap_to)
		*gap_to = 0;
	return 1;
}

int
jobrec_check_progress(const struct ipc_job_progress *p)
{
	if (p->job_id == 0 || p->seq == 0)
		return -1;
	if (p->phase == JOB_PHASE_TEST_SCRIPT)
		return p->running <= 1 && p->result <= JOB_TR_STOPPED &&
		    p->passed <= p->total && p->current <= p->total &&
		    (p->running == 0) == (p->result != JOB_TR_RUNNING) ? 0 : -1;
	if (p->phase < JOB_PHASE_PULL || p->phase > JOB_PHASE_TESTS ||
	    p->state < JOB_PS_PENDING || p->state > JOB_PS_ERROR ||
	    p->current > p->total || p->passed != 0 || p->running != 0 ||
	    p->result != 0)
		return -1;
	return 0;
}

int
jobrec_check_status(const struct ipc_job_status *s)
{
	if (s->job_id == 0 || s->seq == 0 || !jobrec_kind(s->kind, 0) ||
	    s->status < JOB_ST_OK || s->status > JOB_ST_WARNING ||
	    s->after > JOB_AFTER_REBOOT || s->pad != 0 ||
	    !TERMINATED(s->message) || !TERMINATED(s->generation))
		return -1;
	/* §2.6: ok and warning carry 0, stopped 130. */
	if ((s->status == JOB_ST_OK || s->status == JOB_ST_WARNING) &&
	    s->exit_code != 0)
		return -1;
	if (s->status == JOB_ST_STOPPED && s->exit_code != 130)
		return -1;
	if (s->status == JOB_ST_ERROR && s->exit_code == 0)
		return -1;
	if (s->after != JOB_AFTER_NONE && s->status != JOB_ST_OK)
		return -1;
	return 0;
}

int
jobrec_check_answer(const struct ipc_job_answer *a)
{
	if (a->result < JOB_ANS_STARTED || a->result > JOB_ANS_REFUSED ||
	    a->pad != 0 || a->kind > JOB_KIND_MAX ||
	    !jobrec_kind(a->current_kind, 1) || a->current_pid < 0)
		return -1;
	if (a->result == JOB_ANS_STARTED && a->job_id == 0)
		return -1;
	/* BUSY names the job that runs; the bypass kinds are never BUSY. */
	if (a->result == JOB_ANS_BUSY && (a->current_kind == JOB_NONE ||
	    JOB_KIND_BYPASS(a->kind)))
		return -1;
	return 0;
}

static int
jobrec_sc(const struct ipc_sc *sc)
{
	return TERMINATED(sc->status) && TERMINATED(sc->message) &&
	    TERMINATED(sc->checked_at) ? 0 : -1;
}

int
jobrec_check_notice(const struct ipc_job_notice *nt)
{
	if (!jobrec_kind(nt->kind, 0) || (nt->stream != JOB_STREAM_AGENT &&
	    nt->stream != JOB_STREAM_AGENT_ERR) || !TERMINATED(nt->text))
		return -1;
	return 0;
}

int
jobrec_check_state(const struct ipc_job_state *st)
{
	if (!jobrec_kind(st->kind, 1) || st->pid < 0 || st->pad != 0 ||
	    (st->kind == JOB_NONE) != (st->job_id == 0) ||
	    (st->kind == JOB_NONE && st->pid != 0))
		return -1;
	return jobrec_sc(&st->lock) == 0 && jobrec_sc(&st->system) == 0 &&
	    jobrec_sc(&st->tests) == 0 ? 0 : -1;
}
