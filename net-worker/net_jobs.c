/*
 * net_jobs.c: fleet commands and job records in the net-worker.
 *
 * A dashboard's command becomes a closed request to the exec-worker
 * (JOB_START or JOB_SIGNAL: a kind, a signal word, a pid; nothing else),
 * or an answer of our own (command_rejected, unknown command, no command
 * running) when the dialect can decide alone.  The exec-worker's records
 * come in journal order; each is encoded once into its frame and kept in
 * the window (replay.c) until wslay has written the whole frame to a
 * live socket, which is the acknowledgement (JOB_ACK) of §6.7.  A link
 * that drops loses the frames in flight: the window is reset, and after
 * the next registered and its heartbeat the exec-worker is asked to
 * replay each job from its last acknowledged record (JOB_REPLAY).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dialect_nixfleet.h"
#include "jobrec.h"
#include "log.h"
#include "net_priv.h"

/*
 * The exec-worker has at most 512 records of a job in flight (jobrun.c),
 * so the window never reaches these limits: nothing is dropped here.
 * §6.7's limit on a backlog is the exec-worker's (jobdrop.c): a replay
 * over it starts with JOB_DROPPED, after which seq may skip the lines
 * it stands for (jobrec_accept).
 */
#define NETJOBS_WIN_LINES	100000
#define NETJOBS_WIN_BYTES	(64 * 1024 * 1024)
#define NETJOBS_CONN_MAX	(1024 * 1024)	/* queued in the connection */

static void	netjobs_pump(struct net *);

const struct ipc_job_state *
netjobs_state(const struct net *n)
{
	return n->jobs.have_js ? &n->jobs.js : NULL;
}

static void
netjobs_new_window(struct net *n)
{
	replay_free(n->jobs.win);
	if ((n->jobs.win = replay_new(NETJOBS_WIN_LINES,
	    NETJOBS_WIN_BYTES)) == NULL)
		fatal(NULL);
	n->jobs.nhanded = 0;
}

void
netjobs_init(struct net *n)
{
	memset(&n->jobs, 0, sizeof(n->jobs));
	netjobs_new_window(n);
}

/* A new exec-worker streams every job again from its own markers. */
void
netjobs_reset(struct net *n)
{
	netjobs_new_window(n);
	memset(n->jobs.job, 0, sizeof(n->jobs.job));
	memset(n->jobs.req, 0, sizeof(n->jobs.req));
	n->jobs.have_js = 0;
}

static struct netjob *
netjobs_find(struct net *n, uint32_t id)
{
	for (int i = 0; i < NETJOBS_MAX; i++)
		if (n->jobs.job[i].id == id)
			return &n->jobs.job[i];
	return NULL;
}

/* An announced job; the oldest slot makes room (its records are out). */
static struct netjob *
netjobs_add(struct net *n, uint32_t id, int kind)
{
	struct netjob	*j, *old = NULL;

	if ((j = netjobs_find(n, id)) != NULL) {
		j->kind = kind;
		return j;
	}
	for (int i = 0; i < NETJOBS_MAX; i++) {
		j = &n->jobs.job[i];
		if (j->id == 0 || old == NULL || j->id < old->id)
			old = j;
		if (j->id == 0)
			break;
	}
	memset(old, 0, sizeof(*old));
	old->id = id;
	old->kind = kind;
	old->expected = 0;	/* the first record says where it resumes */
	return old;
}

void
netjobs_link_down(struct net *n)
{
	struct netjob	*j;

	netjobs_new_window(n);
	n->jobs.hold = 1;
	if (n->jobs.up) {
		struct ipc_link_down	 d;
		struct timespec		 ts;

		n->jobs.up = 0;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		d.mono_ns = (uint64_t)ts.tv_sec * 1000000000ULL +
		    (uint64_t)ts.tv_nsec;
		ipcev_compose(&n->exec, IPC_NE_LINK_DOWN, 0, -1, &d,
		    sizeof(d));
	}
	for (int i = 0; i < NETJOBS_MAX; i++) {
		j = &n->jobs.job[i];
		if (j->id == 0)
			continue;
		if (j->expected == 0)
			continue;
		/*
		 * Every job is replayed after the next registered, lost
		 * records or not: the replay decides §6.7's limit on what
		 * was written meanwhile.  Until it begins, the job's records
		 * are ignored.
		 */
		j->need_replay = 1;
		j->discard = 1;
		j->expected = j->acked + 1;
		j->gap_to = 0;
	}
}

void
netjobs_registered(struct net *n)
{
	struct ipc_job_ack	 a;
	struct netjob		*j;

	n->jobs.hold = 0;
	n->jobs.up = 1;
	for (int i = 0; i < NETJOBS_MAX; i++) {
		j = &n->jobs.job[i];
		if (j->id == 0 || !j->need_replay)
			continue;
		j->need_replay = 0;
		memset(&a, 0, sizeof(a));
		a.job_id = j->id;
		a.seq = j->acked;
		if (++j->replay_no == 0)
			j->replay_no = 1;
		a.pad = j->replay_no;
		log_debug("job %u: replay after %llu", j->id,
		    (unsigned long long)j->acked);
		ipcev_compose(&n->exec, IPC_NE_JOB_REPLAY, 0, -1, &a,
		    sizeof(a));
	}
	netjobs_pump(n);
}

/* Hand the window's next frames to the connection, in order. */
static void
netjobs_pump(struct net *n)
{
	struct netjobs		*nj = &n->jobs;
	const struct replay_rec	*r = replay_head(nj->win);
	struct netjob		*j;
	uint64_t		*v;
	char			*frame = NULL;
	size_t			 i;
	int			 rv;

	if (n->state != NET_REGISTERED || nj->hold || n->conn == NULL)
		return;
	for (i = 0; r != NULL && i < nj->nhanded; i++)
		r = TAILQ_NEXT(r, entry);
	for (; r != NULL; r = TAILQ_NEXT(r, entry)) {
		if (conn_queued(n->conn) > NETJOBS_CONN_MAX)
			break;
		if (r->kind == REPLAY_DROPPED) {
			j = netjobs_find(n, r->job_id);
			frame = nixfleet_dropped(j != NULL ?
			    nixfleet_kind_name(j->kind) : "", r->dropped);
			rv = frame != NULL ? conn_send_text(n->conn, frame,
			    strlen(frame)) : -1;
			free(frame);
		} else
			rv = conn_send_text(n->conn, r->data, r->len);
		if (rv == -1)
			break;
		if (nj->nhanded == nj->cap) {
			nj->cap = nj->cap ? nj->cap * 2 : 64;
			if ((v = reallocarray(nj->msgno, nj->cap,
			    sizeof(*v))) == NULL)
				fatal(NULL);
			nj->msgno = v;
		}
		nj->msgno[nj->nhanded++] = conn_msgs_queued(n->conn);
		if (r->kind == REPLAY_STATUS) {
			/* D7: the heartbeat after a status shows no job. */
			if (nj->have_js && nj->js.job_id == r->job_id) {
				nj->js.job_id = 0;
				nj->js.kind = JOB_NONE;
				nj->js.pid = 0;
			}
			net_send_heartbeat(n);
		}
	}
}

/* The first count messages of this link are written: acknowledge. */
void
netjobs_sent(struct net *n, uint64_t count)
{
	struct netjobs		*nj = &n->jobs;
	const struct replay_rec	*r;
	struct ipc_job_ack	 a;
	struct netjob		*j;
	size_t			 k = 0;

	while (k < nj->nhanded && nj->msgno[k] <= count &&
	    (r = replay_head(nj->win)) != NULL) {
		if ((j = netjobs_find(n, r->job_id)) != NULL &&
		    r->seq > j->acked) {
			j->acked = r->kind == REPLAY_DROPPED ?
			    r->seq + r->dropped - 1 : r->seq;
			j->ack_dirty = 1;
		}
		replay_pop(nj->win);
		k++;
	}
	if (k == 0)
		return;
	memmove(nj->msgno, nj->msgno + k, (nj->nhanded - k) *
	    sizeof(*nj->msgno));
	nj->nhanded -= k;
	for (int i = 0; i < NETJOBS_MAX; i++) {
		j = &nj->job[i];
		if (j->id == 0 || !j->ack_dirty)
			continue;
		j->ack_dirty = 0;
		memset(&a, 0, sizeof(a));
		a.job_id = j->id;
		a.seq = j->acked;
		ipcev_compose(&n->exec, IPC_NE_JOB_ACK, 0, -1, &a, sizeof(a));
	}
	netjobs_pump(n);
}

/* A record in order goes into the window; anything else is dropped. */
static void
netjobs_record(struct net *n, uint32_t id, uint64_t seq, int kind,
    char *frame, uint64_t gap_to)
{
	struct netjob	*j = netjobs_find(n, id);

	if (frame == NULL)
		fatal("encoding a job record");
	if (j != NULL && j->expected == 0) {
		/* A new exec-worker resumes after what it knows delivered. */
		j->expected = seq;
		j->acked = seq - 1;
	}
	if (j == NULL || j->discard ||
	    !jobrec_accept(&j->expected, &j->gap_to, seq)) {
		/* A duplicate, or ahead of a replay we asked for. */
		free(frame);
		return;
	}
	if (kind == REPLAY_DROPPED) {
		/* The lines it stands for will not come: skip over them. */
		j->gap_to = gap_to > seq ? gap_to : 0;
		kind = REPLAY_OUTPUT;
	}
	if (replay_push(n->jobs.win, id, seq, kind, frame,
	    strlen(frame)) == -1)
		fatal("job record window");
	free(frame);
	netjobs_pump(n);
}

static struct netjob_req *
netjobs_req(struct net *n, uint32_t id)
{
	for (int i = 0; i < NETJOBS_REQS; i++)
		if (id != 0 && n->jobs.req[i].id == id)
			return &n->jobs.req[i];
	return NULL;
}

static void
netjobs_status_now(struct net *n, const char *command, const char *msg)
{
	net_send(n, nixfleet_status(command, JOB_ST_ERROR, 1, msg,
	    n->facts.generation), "status");
	net_send_heartbeat(n);
}

static void
netjobs_answer(struct net *n, uint32_t id, const struct ipc_job_answer *a)
{
	struct netjob_req	*q;
	struct netjob_req	 r;

	if (a->result == JOB_ANS_STARTED && a->job_id != 0 &&
	    a->kind != JOB_STOP && a->kind != JOB_KILL)
		(void)netjobs_add(n, a->job_id, a->kind);
	if (id == 0 || (q = netjobs_req(n, id)) == NULL)
		return;
	r = *q;
	memset(q, 0, sizeof(*q));
	if (n->state != NET_REGISTERED)
		return;
	switch (a->result) {
	case JOB_ANS_BUSY:
		net_send(n, nixfleet_command_rejected(nixfleet_kind_name(
		    a->current_kind), a->current_pid), "command_rejected");
		break;
	case JOB_ANS_UNKNOWN:
		netjobs_status_now(n, r.command, "unknown command");
		break;
	case JOB_ANS_NO_JOB:
		if (r.kill_command)
			log_info("kill_command: no command is running");
		else
			netjobs_status_now(n, r.command, "no command running");
		break;
	case JOB_ANS_REFUSED:
		if (r.kind == JOB_STOP || r.kind == JOB_KILL)
			log_warnx("%s: the job could not be signalled",
			    r.command);
		else
			netjobs_status_now(n, r.command, "command refused by "
			    "the agent's configuration (see its log)");
		break;
	default:
		break;
	}
}

static uint32_t
netjobs_new_req(struct net *n, int kind, int kc, const char *command)
{
	struct netjob_req	*q = &n->jobs.req[n->jobs.next_req %
				    NETJOBS_REQS];
	uint32_t		 id;

	if ((id = ++n->jobs.next_req) == 0)
		id = ++n->jobs.next_req;
	q->id = id;
	q->kind = kind;
	q->kill_command = kc;
	strlcpy(q->command, command, sizeof(q->command));
	return id;
}

void
netjobs_command(struct net *n, const struct nixfleet_in *in)
{
	struct ipc_job_start	 s;
	struct ipc_job_signal	 sg;
	const struct ipc_job_state *js = netjobs_state(n);
	int			 running, pid, action;
	char			*reply;

	running = js != NULL ? (int)js->kind : JOB_NONE;
	pid = js != NULL ? js->pid : 0;
	memset(&sg, 0, sizeof(sg));
	if (in->type == NF_IN_KILL_COMMAND) {
		if (running == JOB_NONE || in->signo == JOB_SIG_NONE) {
			log_info("kill_command (%s, pid %d): no command is "
			    "running", in->signal, in->pid);
			return;
		}
		sg.how = JOB_KILL;
		sg.signal = in->signo;
		sg.pid = in->pid;
		ipcev_compose(&n->exec, IPC_NE_JOB_SIGNAL, netjobs_new_req(n,
		    JOB_KILL, 1, "kill_command"), -1, &sg, sizeof(sg));
		return;
	}
	log_info("command \"%s\"", in->command);
	if (in->error[0] != '\0')
		log_warnx("%s: no such command", in->error);
	reply = nixfleet_command_reply(in, running, pid, n->facts.generation,
	    &action);
	switch (action) {
	case NF_ACT_REJECT:
		net_send(n, reply, "command_rejected");
		break;
	case NF_ACT_UNKNOWN:
	case NF_ACT_NO_JOB:
		net_send(n, reply, "status");
		net_send_heartbeat(n);
		break;
	case NF_ACT_SIGNAL:
		sg.how = in->kind;
		sg.signal = JOB_SIG_TERM;
		ipcev_compose(&n->exec, IPC_NE_JOB_SIGNAL, netjobs_new_req(n,
		    in->kind, 0, in->command), -1, &sg, sizeof(sg));
		break;
	case NF_ACT_START:
	case NF_ACT_AGENT:
		memset(&s, 0, sizeof(s));
		s.kind = in->kind;
		ipcev_compose(&n->exec, IPC_NE_JOB_START, netjobs_new_req(n,
		    in->kind, 0, in->command), -1, &s, sizeof(s));
		break;
	}
}

/* Records and answers from the exec-worker; -1 drops it. */
int
netjobs_dispatch(struct net *n, uint32_t type, struct ipcmsg *m)
{
	struct ipc_job_answer	 a;
	struct ipc_job_output	 o;
	struct ipc_job_progress	 p;
	struct ipc_job_status	 st;
	struct ipc_job_notice	 nt;
	struct ipc_job_dropped	 dr;
	struct ipc_job_ack	 ack;
	struct netjob		*j;
	const char		*data, *name;
	size_t			 len = ipc_get_len(m);

	switch (type) {
	case IPC_EN_JOB_ANSWER:
		if (ipc_get_data(m, &a, sizeof(a)) == -1 ||
		    jobrec_check_answer(&a) == -1)
			return -1;
		netjobs_answer(n, ipc_get_id(m), &a);
		return 0;
	case IPC_EN_JOB_OUTPUT:
		if (len < sizeof(o))
			return -1;
		memcpy(&o, ipc_get_ptr(m), sizeof(o));
		if (jobrec_check_output(&o, len - sizeof(o)) == -1)
			return -1;
		data = (const char *)ipc_get_ptr(m) + sizeof(o);
		j = netjobs_find(n, o.job_id);
		name = j != NULL ? nixfleet_kind_name(j->kind) : "";
		netjobs_record(n, o.job_id, o.seq, REPLAY_OUTPUT,
		    nixfleet_job_output(name, &o, data), 0);
		return 0;
	case IPC_EN_JOB_PROGRESS:
		if (ipc_get_data(m, &p, sizeof(p)) == -1 ||
		    jobrec_check_progress(&p) == -1)
			return -1;
		netjobs_record(n, p.job_id, p.seq, REPLAY_PROGRESS,
		    nixfleet_job_progress(&p), 0);
		return 0;
	case IPC_EN_JOB_STATUS:
		if (ipc_get_data(m, &st, sizeof(st)) == -1 ||
		    jobrec_check_status(&st) == -1)
			return -1;
		/*
		 * The status's generation is read when the job ends: newer
		 * than the last facts, it is what the heartbeat after the
		 * status must show too (a pull's new commit, §2.6, T07-S1).
		 */
		if (st.generation[0] != '\0' && strspn(st.generation,
		    "0123456789abcdef") == strlen(st.generation))
			strlcpy(n->facts.generation, st.generation,
			    sizeof(n->facts.generation));
		netjobs_record(n, st.job_id, st.seq, REPLAY_STATUS,
		    nixfleet_job_status(nixfleet_kind_name(st.kind), &st), 0);
		return 0;
	case IPC_EN_JOB_REPLAYING:
		if (ipc_get_data(m, &ack, sizeof(ack)) == -1 || ack.job_id == 0)
			return -1;
		/* Only the answer to the latest replay asked for. */
		if ((j = netjobs_find(n, ack.job_id)) != NULL && j->discard &&
		    ack.pad == j->replay_no && ack.seq == j->acked) {
			j->discard = 0;
			j->expected = ack.seq + 1;
			j->gap_to = 0;
		}
		return 0;
	case IPC_EN_JOB_DROPPED:
		if (ipc_get_data(m, &dr, sizeof(dr)) == -1 ||
		    jobrec_check_dropped(&dr) == -1)
			return -1;
		j = netjobs_find(n, dr.job_id);
		netjobs_record(n, dr.job_id, dr.seq, REPLAY_DROPPED,
		    nixfleet_dropped(j != NULL ? nixfleet_kind_name(j->kind) :
		    "", dr.lines), dr.upto);
		return 0;
	case IPC_EN_JOB_NOTICE:
		if (ipc_get_data(m, &nt, sizeof(nt)) == -1 ||
		    jobrec_check_notice(&nt) == -1)
			return -1;
		/* Live only: a line missed while away is in the log. */
		if (n->state == NET_REGISTERED)
			net_send(n, nixfleet_output(nixfleet_kind_name(nt.kind),
			    (int)nt.stream, nt.text, strlen(nt.text)), "output");
		return 0;
	case IPC_EN_JOB_STATE:
		if (ipc_get_data(m, &n->jobs.js, sizeof(n->jobs.js)) == -1 ||
		    jobrec_check_state(&n->jobs.js) == -1) {
			n->jobs.have_js = 0;
			return -1;
		}
		n->jobs.have_js = 1;
		return 0;
	default:
		return -1;
	}
}
