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
#include "facts.h"
#include "ipcev.h"
#include "log.h"
#include "permit.h"
#include "proto.h"

struct exec {
	struct ev_loop	*loop;
	struct ipcev	 sup;
	struct ipcev	 net;
	struct permit	 sup_permit;
	struct permit	 net_permit;
	struct facts	 facts;
	int		 configured;
	int		 facts_wanted;	/* asked before the configuration */
	ev_signal	 sigterm;
};

static struct exec	 ex;

static void
exec_send_facts(struct exec *e)
{
	struct ipc_facts	 f;

	if (!e->configured) {
		e->facts_wanted = 1;
		return;
	}
	e->facts_wanted = 0;
	facts_collect(&e->facts, &f);
	ipcev_compose(&e->net, IPC_EN_FACTS, 0, -1, &f, sizeof(f));
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
	e->configured = 1;
	permit_set(&e->sup_permit, IPC_SE_PING, PERMIT_ALLOW);
	permit_set(&e->sup_permit, IPC_SE_SHUTDOWN, PERMIT_ALLOW);
	if (e->facts_wanted && ipcev_active(&e->net))
		exec_send_facts(e);
}

/* The supervisor is trusted: anything unexpected from it is fatal. */
static void
exec_dispatch_sup(struct ipcev *iev, struct ipcmsg *m)
{
	struct exec	*e = iev->data;
	uint32_t	 type;

	if (m == NULL)
		fatalx("lost the supervisor");
	type = ipc_get_type(m);
	if (type == IPC_HELLO) {
		permit_set(&e->sup_permit, IPC_SE_CONFIG, PERMIT_ONCE);
		return;
	}
	if (!permit_check(&e->sup_permit, type))
		fatalx("%s: unexpected %s (len %zu)", __func__,
		    ipc_type_name(type), ipc_get_len(m));
	switch (type) {
	case IPC_SE_CONFIG:
		exec_handle_config(e, m);
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

static void
exec_dispatch_net(struct ipcev *iev, struct ipcmsg *m)
{
	struct exec	*e = iev->data;
	uint32_t	 type;

	if (m == NULL) {
		/* Dropped or gone: the supervisor restarts or stops us both. */
		log_debug("net-worker channel closed");
		return;
	}
	type = ipc_get_type(m);
	if (type == IPC_HELLO) {
		permit_set(&e->net_permit, IPC_NE_FACTS_REQ, PERMIT_ALLOW);
		return;
	}
	if (!permit_check(&e->net_permit, type))
		goto bad;
	switch (type) {
	case IPC_NE_FACTS_REQ:
		if (ipc_get_len(m) != 0)
			goto bad;
		exec_send_facts(e);
		break;
	default:
		goto bad;
	}
	return;
 bad:
	ipcev_drop(iev, "%s: %s (len %zu) from %s", __func__,
	    ipc_type_name(type), ipc_get_len(m), iev->name);
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

	e->loop = ev_default_loop(EVFLAG_AUTO);
	fcntl(IPC_FD_SUP, F_SETFL, O_NONBLOCK);
	fcntl(IPC_FD_PEER, F_SETFL, O_NONBLOCK);
	permit_init(&e->sup_permit, IPC_SE);
	permit_init(&e->net_permit, IPC_NE);
	ipcev_init(&e->sup, e->loop, IPC_FD_SUP, IPC_MAX_SE, "supervisor",
	    exec_dispatch_sup, e);
	ipcev_init(&e->net, e->loop, IPC_FD_PEER, IPC_MAX_NE, "net-worker",
	    exec_dispatch_net, e);
	ipcev_hello(&e->sup, IPC_ROLE_EXEC);
	ipcev_hello(&e->net, IPC_ROLE_EXEC);
	ev_signal_init(&e->sigterm, exec_sigterm_cb, SIGTERM);
	e->sigterm.data = e;
	ev_signal_start(e->loop, &e->sigterm);
	ev_run(e->loop, 0);
	exit(0);
}
