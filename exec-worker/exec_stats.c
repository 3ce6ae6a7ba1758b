/*
 * exec_stats.c: the exec-worker's side of IPC_NE_STATS_REQ (socketio
 * stats, socketio-protocol.md §5.3).  Requests coalesce like facts
 * requests do: one pending answer, at most one per IPC_STATS_MIN_MS, so a
 * net-worker asking in a loop costs a few samples, not one each.  The
 * CPU share is the delta since the previous sample (the first: since
 * exec_stats_init); stats_collect() reads /proc and never sleeps.
 */
#include <string.h>

#include "exec.h"
#include "log.h"
#include "proto.h"
#include "stats.h"

static void
exec_stats_send(struct exec *e)
{
	struct ipc_stats	 s;
	struct stats_cpu	 cur;

	e->stats_pending = 0;
	e->stats_last = ev_now(e->loop);
	memset(&cur, 0, sizeof(cur));
	stats_collect(&s, &e->stats_prev, &cur, AGENT_VERSION);
	if (cur.total != 0)
		e->stats_prev = cur;
	ipcev_compose(&e->net, IPC_EN_STATS, 0, -1, &s, sizeof(s));
}

static void
exec_stats_answer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct exec	*e = w->data;

	if (e->stats_pending && ipcev_active(&e->net))
		exec_stats_send(e);
}

void
exec_stats_init(struct exec *e)
{
	memset(&e->stats_prev, 0, sizeof(e->stats_prev));
	(void)stats_read_cpu(&e->stats_prev);	/* the agent's start */
	e->stats_pending = 0;
	e->stats_last = 0;
	ev_timer_init(&e->stats_answer, exec_stats_answer_cb, 0, 0);
	e->stats_answer.data = e;
}

void
exec_stats_request(struct exec *e)
{
	ev_tstamp	 wait;

	e->stats_pending = 1;
	if (ev_is_active(&e->stats_answer))
		return;
	wait = e->stats_last + IPC_STATS_MIN_MS / 1000.0 - ev_now(e->loop);
	ev_timer_set(&e->stats_answer, wait > 0 ? wait : 0, 0);
	ev_timer_start(e->loop, &e->stats_answer);
}
