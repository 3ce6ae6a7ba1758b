/*
 * exec.h: the exec-worker's entry and sandbox.
 */
#ifndef EXEC_H
#define EXEC_H

#include <ev.h>

#include "compat.h"
#include "facts.h"
#include "ipcev.h"
#include "permit.h"
#include "stats.h"
#include "remote.h"
#include "repo.h"

struct exec {
	struct ev_loop	*loop;
	struct ipcev	 sup;
	struct ipcev	 net;
	struct permit	 sup_permit;
	struct permit	 net_permit;
	struct facts	 facts;
	int		 configured;
	int		 facts_wanted;	/* asked before the configuration */
	int		 facts_pending;	/* a request waits for the answer timer */
	ev_tstamp	 facts_last;	/* when the last answer went out */
	ev_timer	 facts_answer;	/* coalesces requests */
	ev_timer	 cpu_tick;	/* CPU samples between requests */
	ipcev_dispatch_fn netfn;	/* the net channel's dispatch */
	int		 peer_fresh;	/* a new net channel, no HELLO yet */
	ev_timer	 peer_wait;	/* lost the net channel: the deadline */
	ev_signal	 sigterm;
	struct remote	 remote;	/* remote administration */
	struct stats_cpu stats_prev;	/* socketio stats: the last reading */
	int		 stats_pending;
	ev_tstamp	 stats_last;	/* when the last sample went out */
	ev_timer	 stats_answer;	/* coalesces stats requests */
	struct jobrun	*jobs;
	int		 net_hello;	/* the net-worker said HELLO */
	int		 jobs_configured; /* IPC_SE_JOBS_CONFIG came */
	struct ipc_exec_config ecfg;
	struct repo	 repo;		/* checked (cloned) before any facts */
	int		 repo_ready;
};

__dead void	exec_main(int, char **);
void		exec_sandbox(void);
void		exec_init(struct exec *, struct ev_loop *, int supfd,
		    int netfd, ipcev_dispatch_fn netfn);
/* The channels' dispatch functions, reachable for the fuzzers. */
void		exec_dispatch_sup(struct ipcev *, struct ipcmsg *);
void		exec_dispatch_net(struct ipcev *, struct ipcmsg *);
/* A new net channel from the supervisor replaces the old one. */
void		exec_replace_peer(struct exec *, int fd);
/* exec_stats.c: IPC_NE_STATS_REQ */
void		exec_stats_init(struct exec *);
void		exec_stats_request(struct exec *);

#endif
