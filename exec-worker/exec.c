/*
 * exec.c: the exec-worker, nixfleet-agent-exec.
 *
 * Collects host facts and metrics for the heartbeat; later it runs the
 * closed vocabulary of fleet jobs.  It never talks to the network and it
 * trusts nothing the net-worker says: every request is re-validated here.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec.h"
#include "jobrun.h"
#include "log.h"
#include "proto.h"

static struct exec	 ex;

static void
exec_send_facts(struct exec *e)
{
	struct ipc_facts	 f;

	/* The generation comes from the repository: it must be there. */
	if (!e->configured || !e->repo_ready) {
		e->facts_wanted = 1;
		return;
	}
	e->facts_wanted = 0;
	e->facts_pending = 0;
	e->facts_last = ev_now(e->loop);
	facts_collect(&e->facts, &f);
	ipcev_compose(&e->net, IPC_EN_FACTS, 0, -1, &f, sizeof(f));
	if (jobrun_configured(e->jobs))
		jobrun_send_state(e->jobs);
}

static void
exec_facts_answer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct exec	*e = w->data;

	if (e->facts_pending && ipcev_active(&e->net))
		exec_send_facts(e);
}

/*
 * Requests coalesce: however many arrive, one is pending, and answers go
 * out at most one per IPC_FACTS_MIN_MS, each from the latest sample.  A
 * burst costs a few snapshots, not one each, and never blocks the loop.
 */
static void
exec_request_facts(struct exec *e)
{
	ev_tstamp	 wait;

	e->facts_pending = 1;
	if (ev_is_active(&e->facts_answer))
		return;
	wait = e->facts_last + IPC_FACTS_MIN_MS / 1000.0 - ev_now(e->loop);
	ev_timer_set(&e->facts_answer, wait > 0 ? wait : 0, 0);
	ev_timer_start(e->loop, &e->facts_answer);
}

static void
exec_cpu_tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct exec	*e = w->data;

	if (e->configured)
		(void)facts_cpu_tick(&e->facts);
}

static void
exec_handle_config(struct exec *e, struct ipcmsg *m)
{
	struct ipc_exec_config	 c;

	if (ipc_get_data(m, &c, sizeof(c)) == -1 ||
	    !ipc_str_valid(c.hostname, sizeof(c.hostname)) ||
	    !ipc_str_valid(c.nixpkgs_version, sizeof(c.nixpkgs_version)) ||
	    !ipc_str_valid(c.repo_dir, sizeof(c.repo_dir)) ||
	    !ipc_str_valid(c.state_dir, sizeof(c.state_dir)) ||
	    !ipc_str_valid(c.stasysmo_dir, sizeof(c.stasysmo_dir)) ||
	    !ipc_str_valid(c.agent_exe, sizeof(c.agent_exe)) ||
	    !ipc_str_valid(c.source_commit, sizeof(c.source_commit)))
		fatalx("%s: bad configuration from the supervisor", __func__);
	facts_init(&e->facts, &c);
	e->ecfg = c;
	strlcpy(e->remote.state_dir, c.state_dir, sizeof(e->remote.state_dir));
	e->configured = 1;
	permit_set(&e->sup_permit, IPC_SE_JOBS_CONFIG, PERMIT_ONCE);
	ev_timer_again(e->loop, &e->cpu_tick);
	permit_set(&e->sup_permit, IPC_SE_PING, PERMIT_ALLOW);
	permit_set(&e->sup_permit, IPC_SE_SHUTDOWN, PERMIT_ALLOW);
	if (e->facts_wanted && ipcev_active(&e->net))
		exec_send_facts(e);
}

static void
exec_handle_jobs_config(struct exec *e, struct ipcmsg *m)
{
	struct ipc_exec_jobs	 j;

	if (ipc_get_data(m, &j, sizeof(j)) == -1 ||
	    !ipc_str_valid(j.branch, sizeof(j.branch)) ||
	    !ipc_str_valid(j.ssh_key, sizeof(j.ssh_key)) ||
	    !ipc_str_valid(j.user, sizeof(j.user)))
		fatalx("%s: bad jobs configuration from the supervisor",
		    __func__);
	jobrun_configure(e->jobs, &e->ecfg, &j);
	repo_configure(&e->repo, &e->ecfg, &j);
	permit_set(&e->sup_permit, IPC_SE_REPO_CONFIG, PERMIT_ONCE);
	e->jobs_configured = 1;
	if (e->net_hello)
		jobrun_net_ready(e->jobs);
}

static void
exec_repo_locked(void *arg)
{
	struct exec	*e = arg;

	e->repo_ready = 1;
	if (e->facts_wanted && ipcev_active(&e->net))
		exec_send_facts(e);
}

/* nixfleet §4.2: the repository is there, or the agent exits 1. */
static void
exec_repo_done(void *arg, int ok)
{
	struct exec	*e = arg;
	struct ipc_exit	 x;

	if (!ok) {
		memset(&x, 0, sizeof(x));
		x.code = 1;
		ipcev_compose(&e->sup, IPC_ES_EXIT, 0, -1, &x, sizeof(x));
		return;
	}
	/* The first facts wait for the lock check too (T02-S8). */
	if (jobrun_configured(e->jobs))
		jobrun_lock_first(e->jobs, exec_repo_locked, e);
	else
		exec_repo_locked(e);
}

static void
exec_handle_repo_config(struct exec *e, struct ipcmsg *m)
{
	struct ipc_exec_repo	 r;

	if (ipc_get_data(m, &r, sizeof(r)) == -1 || r.pad != 0 ||
	    r.mode > IPC_REPO_ISOLATED ||
	    !ipc_str_valid(r.url, sizeof(r.url)) ||
	    !ipc_str_valid(r.origin, sizeof(r.origin)))
		fatalx("%s: bad repository configuration from the supervisor",
		    __func__);
	repo_start(&e->repo, &r);
}

/*
 * The net channel is gone (the net-worker died, or we dropped it): the
 * supervisor sends a new one (IPC_SE_PEER) as soon as it sees the death,
 * so wait for it, running what runs.  No new channel in time, or losing
 * the new one before its HELLO, is an exit: the supervisor restarts us.
 */
static void
exec_peer_lost(struct exec *e)
{
	remote_peer_lost(&e->remote);
	if (e->peer_fresh) {
		log_warnx("lost the new net-worker channel before its HELLO, "
		    "exiting");
		ipcev_flush_sync(&e->sup, 500);
		exit(1);
	}
	log_info("lost the net-worker channel, waiting for a new one");
	jobrun_link_down(e->jobs, 0);	/* now */
	ev_timer_set(&e->peer_wait, IPC_PEER_WAIT_MS / 1000.0, 0);
	ev_timer_start(e->loop, &e->peer_wait);
}

static void
exec_peer_wait_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct exec	*e = w->data;

	log_warnx("no new net-worker channel within %d ms, exiting",
	    IPC_PEER_WAIT_MS);
	ipcev_flush_sync(&e->sup, 500);
	exit(1);
}

void
exec_replace_peer(struct exec *e, int fd)
{
	ev_timer_stop(e->loop, &e->peer_wait);
	ipcev_close(&e->net);	/* quietly: the old one is dead */
	remote_peer_lost(&e->remote);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	permit_init(&e->net_permit, IPC_NE);
	ipcev_init(&e->net, e->loop, fd, IPC_MAX_NE, "net-worker", e->netfn,
	    e);
	ipcbuf_set_highwater(e->net.buf, 4 * 1024 * 1024);
	ipcev_expect_role(&e->net, IPC_ROLE_NET);
	ipcev_hello(&e->net, IPC_ROLE_EXEC);
	e->peer_fresh = 1;
	log_info("new net-worker channel");
}

/*
 * The new net-worker knows nothing of ours: send the state it would have
 * asked for.  The facts go through the coalescing path, so its own
 * request after our HELLO costs no second snapshot.
 */
static void
exec_peer_resync(struct exec *e)
{
	e->peer_fresh = 0;
	if (e->configured)
		exec_request_facts(e);
}

/* The supervisor is trusted: anything unexpected from it is fatal. */
void
exec_dispatch_sup(struct ipcev *iev, struct ipcmsg *m)
{
	struct exec	*e = iev->data;
	uint32_t	 type;
	int		 fd;

	if (m == NULL)
		fatalx("lost the supervisor");
	type = ipc_get_type(m);
	if (type == IPC_HELLO) {
		permit_set(&e->sup_permit, IPC_SE_CONFIG, PERMIT_ONCE);
		permit_set(&e->sup_permit, IPC_SE_PEER, PERMIT_ALLOW);
		return;
	}
	if (!permit_check(&e->sup_permit, type))
		fatalx("%s: unexpected %s (len %zu)", __func__,
		    ipc_type_name(type), ipc_get_len(m));
	/* A descriptor rides on IPC_SE_PEER, always, and on nothing else. */
	if ((type == IPC_SE_PEER) != ((ipc_get_flags(m) & IPC_F_FD) != 0))
		fatalx("%s: %s %s a descriptor", __func__,
		    ipc_type_name(type), type == IPC_SE_PEER ? "without" :
		    "with");
	switch (type) {
	case IPC_SE_PEER:
		if (ipc_get_len(m) != 0 || (fd = ipc_get_fd(m)) == -1)
			fatalx("%s: bad %s", __func__, ipc_type_name(type));
		exec_replace_peer(e, fd);
		break;
	case IPC_SE_CONFIG:
		exec_handle_config(e, m);
		break;
	case IPC_SE_JOBS_CONFIG:
		exec_handle_jobs_config(e, m);
		break;
	case IPC_SE_REPO_CONFIG:
		exec_handle_repo_config(e, m);
		break;
	case IPC_SE_ADMIN_CONFIG:
	case IPC_SE_ADMIN_ITEM:
	case IPC_SE_ADMIN_END:
	case IPC_SE_BACKUP_CONFIG:
		remote_dispatch_sup(&e->remote, &e->sup_permit, m);
		break;
	case IPC_SE_PING:
		ipcev_compose(iev, IPC_ES_PONG, ipc_get_id(m), -1, NULL, 0);
		break;
	case IPC_SE_SHUTDOWN:
		log_debug("shutting down");
		ipcev_flush_sync(iev, 500);
		exit(0);
	default:
		fatalx("%s: unexpected %s", __func__, ipc_type_name(type));
	}
}

/*
 * The net-worker parses the network: nothing it sends is trusted.  Only
 * the permitted types at their exact sizes pass; anything else drops it.
 */
void
exec_dispatch_net(struct ipcev *iev, struct ipcmsg *m)
{
	struct exec		*e = iev->data;
	struct ipc_job_start	 js;
	struct ipc_job_signal	 sg;
	struct ipc_job_ack	 ack;
	struct ipc_link_down	 ld;
	uint32_t		 type;

	if (m == NULL) {
		exec_peer_lost(e);
		return;
	}
	type = ipc_get_type(m);
	if (type == IPC_HELLO) {
		permit_set(&e->net_permit, IPC_NE_FACTS_REQ, PERMIT_ALLOW);
		permit_set(&e->net_permit, IPC_NE_JOB_START, PERMIT_ALLOW);
		permit_set(&e->net_permit, IPC_NE_JOB_SIGNAL, PERMIT_ALLOW);
		permit_set(&e->net_permit, IPC_NE_JOB_ACK, PERMIT_ALLOW);
		permit_set(&e->net_permit, IPC_NE_JOB_REPLAY, PERMIT_ALLOW);
		permit_set(&e->net_permit, IPC_NE_LINK_DOWN, PERMIT_ALLOW);
		e->net_hello = 1;
		if (e->jobs_configured)
			jobrun_net_ready(e->jobs);
		remote_net_hello(&e->remote, &e->net_permit);
		permit_set(&e->net_permit, IPC_NE_STATS_REQ, PERMIT_ALLOW);
		if (e->peer_fresh)
			exec_peer_resync(e);
		return;
	}
	if (!permit_check(&e->net_permit, type))
		goto bad;
	switch (type) {
	case IPC_NE_FACTS_REQ:
		if (ipc_get_len(m) != 0 || ipc_get_id(m) != 0)
			goto bad;
		exec_request_facts(e);
		break;
	case IPC_NE_JOB_START:
		if (ipc_get_data(m, &js, sizeof(js)) == -1 ||
		    jobrun_start(e->jobs, ipc_get_id(m), &js) == -1)
			goto bad;
		break;
	case IPC_NE_JOB_SIGNAL:
		if (ipc_get_data(m, &sg, sizeof(sg)) == -1 ||
		    jobrun_signal(e->jobs, ipc_get_id(m), &sg) == -1)
			goto bad;
		break;
	case IPC_NE_JOB_ACK:
		if (ipc_get_data(m, &ack, sizeof(ack)) == -1 ||
		    ipc_get_id(m) != 0 || jobrun_ack(e->jobs, &ack) == -1)
			goto bad;
		break;
	case IPC_NE_JOB_REPLAY:
		if (ipc_get_data(m, &ack, sizeof(ack)) == -1 ||
		    ipc_get_id(m) != 0 || jobrun_replay(e->jobs, &ack) == -1)
			goto bad;
		break;
	case IPC_NE_LINK_DOWN:
		if (ipc_get_data(m, &ld, sizeof(ld)) == -1 ||
		    ipc_get_id(m) != 0)
			goto bad;
		jobrun_link_down(e->jobs, ld.mono_ns);
		break;
	case IPC_NE_ADMIN_RUN: case IPC_NE_SHELL_START:
	case IPC_NE_SHELL_INPUT: case IPC_NE_SHELL_RESIZE:
	case IPC_NE_SHELL_CLOSE: case IPC_NE_KEYS_INSTALL:
	case IPC_NE_BACKUP_PLAN: case IPC_NE_BACKUP_START:
	case IPC_NE_SESSION_END:
		if (remote_dispatch_net(&e->remote, m) == -1)
			goto bad;
		break;
	case IPC_NE_STATS_REQ:
		if (ipc_get_len(m) != 0 || ipc_get_id(m) != 0)
			goto bad;
		exec_stats_request(e);
		break;
	default:
		goto bad;
	}
	return;
 bad:
	ipcev_drop(iev, "%s: %s (len %zu) from %s", __func__,
	    ipc_type_name(type), ipc_get_len(m), iev->name);
}

/*
 * Channels, permits and timers; netfn handles the net-worker's frames
 * (exec_dispatch_net, or a fuzzer's wrapper that survives a drop).
 */
void
exec_init(struct exec *e, struct ev_loop *loop, int supfd, int netfd,
    ipcev_dispatch_fn netfn)
{
	e->loop = loop;
	e->netfn = netfn;
	permit_init(&e->sup_permit, IPC_SE);
	permit_init(&e->net_permit, IPC_NE);
	ipcev_init(&e->sup, e->loop, supfd, IPC_MAX_SE, "supervisor",
	    exec_dispatch_sup, e);
	/* Only IPC_SE_PEER carries one (exec_dispatch_sup checks). */
	ipcbuf_allow_fdrecv(e->sup.buf);
	ipcev_init(&e->net, e->loop, netfd, IPC_MAX_NE, "net-worker",
	    netfn, e);
	/* Job records are bounded per job (jobrun.c); this is the margin. */
	ipcbuf_set_highwater(e->net.buf, 4 * 1024 * 1024);
	ipcev_expect_role(&e->sup, IPC_ROLE_SUP);
	ipcev_expect_role(&e->net, IPC_ROLE_NET);
	ipcev_hello(&e->sup, IPC_ROLE_EXEC);
	ipcev_hello(&e->net, IPC_ROLE_EXEC);
	if (e->jobs == NULL)
		e->jobs = jobrun_new(e);
	ev_timer_init(&e->facts_answer, exec_facts_answer_cb, 0, 0);
	e->facts_answer.data = e;
	ev_timer_init(&e->cpu_tick, exec_cpu_tick_cb, 0,
	    IPC_FACTS_SAMPLE_MS / 1000.0);
	e->cpu_tick.data = e;
	remote_init(&e->remote, e->loop, &e->net, &e->sup_permit);
	exec_stats_init(e);
	ev_timer_init(&e->peer_wait, exec_peer_wait_cb, 0, 0);
	e->peer_wait.data = e;
	repo_init(&e->repo, e->loop, exec_repo_done, e);
}

static void
exec_sigterm_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	log_debug("SIGTERM");
	exit(0);
}

void
exec_main(int argc, char **argv)
{
	struct exec	*e = &ex;
	int		 ch, level = LOG_LVL_INFO;

	while ((ch = getopt(argc, argv, "l:")) != -1) {
		switch (ch) {
		case 'l':
			level = atoi(optarg);
			break;
		default:
			fatalx("usage: nixfleet-agent-exec [-l level]");
		}
	}
	log_init(level, 1);
	log_procinit("exec");
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	exec_sandbox();

	fcntl(IPC_FD_SUP, F_SETFL, O_NONBLOCK);
	fcntl(IPC_FD_PEER, F_SETFL, O_NONBLOCK);
	exec_init(e, ev_default_loop(EVFLAG_AUTO), IPC_FD_SUP, IPC_FD_PEER,
	    exec_dispatch_net);
	ev_signal_init(&e->sigterm, exec_sigterm_cb, SIGTERM);
	e->sigterm.data = e;
	ev_signal_start(e->loop, &e->sigterm);
	ev_run(e->loop, 0);
	exit(0);
}
