/*
 * net_priv.h: the net-worker's state, shared by net.c (connection,
 * heartbeat, channels) and net_jobs.c (fleet commands and job records).
 */
#ifndef NET_PRIV_H
#define NET_PRIV_H

#include <ev.h>

#include "backoff.h"
#include "conn.h"
#include "dialect_nixfleet.h"
#include "ipcev.h"
#include "netrem.h"
#include "permit.h"
#include "proto.h"
#include "replay.h"

#define NETJOBS_MAX		8	/* jobs with records in flight */
#define NETJOBS_REQS		8	/* requests waiting for an answer */

/* One job whose records the net-worker carries. */
struct netjob {
	uint32_t	 id;		/* 0: free slot */
	int		 kind;
	uint64_t	 acked;		/* written to a live socket */
	uint64_t	 expected;	/* seq of the next record we accept */
	uint64_t	 gap_to;	/* a drop notice's last line, or 0 */
	int		 need_replay;	/* a link ended: replay after the next */
	int		 discard;	/* until JOB_REPLAYING */
	uint32_t	 replay_no;	/* of the last JOB_REPLAY */
	int		 ack_dirty;
};

struct netjob_req {
	uint32_t	 id;		/* 0: free */
	int		 kind;		/* as requested */
	int		 kill_command;	/* a v2.2 kill_command */
	char		 command[64];	/* the name as received */
};

struct netjobs {
	struct replay		*win;	/* records not yet written whole */
	uint64_t		*msgno;	/* conn message number per handed */
	size_t			 nhanded, cap;
	struct netjob		 job[NETJOBS_MAX];
	struct netjob_req	 req[NETJOBS_REQS];
	uint32_t		 next_req;
	struct ipc_job_state	 js;	/* the last JOB_STATE */
	int			 have_js;
	int			 hold;	/* registered, heartbeat not yet out */
	int			 up;	/* registered since the last LINK_DOWN */
};

#define NET_FACTS_WAIT_S	0.25	/* a heartbeat waits this long */
#define NET_STOP_MAX_S		5.0
#define NET_REGISTER_S		30.0	/* register sent, no registered */
#define NET_BAD_LOGGED		5	/* bad messages logged a minute */
#define NET_BAD_WINDOW_S	60.0

enum net_state {
	NET_IDLE,		/* retry timer armed, or not started */
	NET_DIALING,		/* IPC_NS_CONNECT sent */
	NET_HANDSHAKE,		/* conn owns a socket, not yet open */
	NET_OPEN,		/* upgraded, register sent once facts are in */
	NET_REGISTERED,		/* the dashboard accepted us */
};

struct net {
	struct ev_loop		*loop;
	struct ipcev		 sup;
	struct ipcev		 exec;
	struct permit		 sup_permit;
	struct permit		 exec_permit;
	struct ipc_net_config	 cfg;
	struct ipc_sio_config	 sio_cfg;	/* socketio only */
	uint8_t			*ca;
	size_t			 calen;
	size_t			 caoff;
	struct conn		*conn;
	struct backoff		 backoff;
	int			 state;
	int			 register_sent;
	int			 stopping;
	struct ipc_facts	 facts;
	int			 have_facts;
	int			 hb_pending;	/* heartbeat waits for facts */
	ev_timer		 retry;
	ev_timer		 heartbeat;
	ev_timer		 facts_wait;
	ev_timer		 stop_timer;
	ev_timer		 register_wait;	/* the `registered` deadline */
	ev_timer		 bad_window;	/* bad input: summary due */
	unsigned int		 bad_logged;	/* in this window */
	unsigned long		 bad_quiet;	/* not logged in it */
	ev_signal		 sigterm;
	char			 headers[IPC_TOKEN_MAX + 64];
	struct netrem		 remote;	/* remote administration */
	struct keysrc		*keysrc;	/* sync_keys' fetch */
	struct ipc_net_jobs	 jcfg;		/* IPC_SN_JOBS_CONFIG */
	struct netjobs		 jobs;
};

void	net_send(struct net *, char *, const char *);
void	net_send_heartbeat(struct net *);

/* net_jobs.c */
void	netjobs_init(struct net *);
void	netjobs_reset(struct net *);		/* a new exec-worker */
void	netjobs_link_down(struct net *);
void	netjobs_registered(struct net *);	/* after its heartbeat */
void	netjobs_sent(struct net *, uint64_t);
void	netjobs_command(struct net *, const struct nixfleet_in *);
int	netjobs_dispatch(struct net *, uint32_t type, struct ipcmsg *);
const struct ipc_job_state *netjobs_state(const struct net *);

#endif
