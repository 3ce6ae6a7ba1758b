/*
 * supervisor.h: the root supervisor's modules.
 *
 * supervisor.c	entry, signals, channel dispatch, shutdown
 * worker.c	start, watch and restart the two workers
 * connect.c	resolve and connect for the net-worker (and the proxy rules)
 * notify.c	systemd notifications, written natively
 * check.c	--check: is the dashboard endpoint reachable
 */
#ifndef SUPERVISOR_H
#define SUPERVISOR_H

#include <sys/types.h>

#include <ev.h>
#include <netdb.h>

#include "config.h"
#include "ipcev.h"
#include "permit.h"
#include "url.h"

#define SUP_RESTART_MAX		5	/* more within the window: give up */
#define SUP_RESTART_WINDOW	60	/* seconds */
#define SUP_BACKOFF_MAX		30	/* seconds */
#define SUP_STOP_GRACE_MS	4500	/* SIGTERM to exit, within 5 s */
/*
 * Without a netUser of its own the net-worker gets the first id from here
 * that no user, group or process has: above systemd's dynamic users
 * (61184-65519) and its container range (524288-1879048191), below
 * 2^31 (signed-uid trouble) and the foreign-uid range at 0x7ffe0000.
 */
#define WORKER_NET_ID_BASE	2000000000U
#define WORKER_NET_ID_COUNT	1000

enum worker_id {
	W_NET = 0,
	W_EXEC = 1,
	W_COUNT
};

struct worker {
	const char	*name;		/* "net", "exec" */
	char		 path[4096];	/* the binary */
	pid_t		 pid;		/* 0: not running */
	struct ipcev	 iev;		/* channel to it */
	ev_child	 child;
	ev_io		 logio;		/* its stderr */
	int		 logfd;
	char		 logbuf[4096];
	size_t		 loglen;
	int		 ready;		/* HELLO seen */
	int		 told_stop;	/* shutdown requested */
	uint32_t	 ping_sent;	/* watchdog sequence */
	uint32_t	 ping_seen;
	int		 sigsys_seen;	/* its sandbox reported a call */
	long		 sigsys_nr;
	uint32_t	 sigsys_arch;

	/* restart policy, per worker (worker.c) */
	int		 peerfd;	/* its end of the next net<->exec */
	int		 restarting;	/* lost; stopping or in its backoff */
	ev_timer	 restart_timer;	/* the backoff */
	ev_timer	 kill_timer;	/* SIGKILL if SIGTERM is not enough */
	ev_tstamp	 restarts[SUP_RESTART_MAX + 1];
	int		 nrestarts;
	int		 backoff_s;
};

struct connector;

struct sup {
	struct ev_loop	*loop;
	struct config	 cfg;
	struct config_args args;
	struct worker	 w[W_COUNT];
	int		 root;		/* running as uid 0 */
	uid_t		 net_uid;
	gid_t		 net_gid;
	int		 net_id_free;	/* a free id, not a user's */
	char		*ca;		/* CA bundle bytes, NUL-terminated */
	size_t		 calen;		/* including the NUL */
	char		 dash_url[1024];	/* what the net-worker dials */
	struct url	 dash;
	char		 proxy_auth[512];
	struct connector *conn;		/* the connect in flight */
	struct connector *kconn;	/* the key source's (connect.c) */
	struct url	 keys;		/* admin.keysSourceUrl */
	char		*keys_ca;	/* admin.keysCaFile, or NULL */
	size_t		 keys_calen;
	double		 conn_tokens;	/* connect rate limit (connect.c) */
	ev_tstamp	 conn_stamp;	/* when conn_tokens was computed */
	double		 sign_tokens;	/* socketio sign rate (signreq.c) */
	ev_tstamp	 sign_stamp;
	struct permit	 net_permit;
	struct permit	 exec_permit;

	int		 reload;	/* SIGHUP: restart both, no backoff */

	/* shutdown and notifications */
	ev_signal	 sigterm, sigint, sighup;
	ev_timer	 stop_timer;
	ev_timer	 watchdog;
	int		 stopping;
	int		 notified_ready;
	int		 exit_status;
};

int	sup_main(int, char **);
/* Worker i died or broke the protocol: restart it alone (or stop). */
void	sup_worker_lost(struct sup *, int i, const char *why);
void	sup_channels_init(struct sup *, int netfd, int execfd);
/* A fresh channel and permit table for a new worker i. */
void	sup_channel_init(struct sup *, int i, int fd);
/*
 * The orderly stop, then exit(status) from sup_main: the net-worker first
 * (it closes the session with 1000 "shutdown"), the exec-worker when the
 * net-worker is gone, SIGKILL at SUP_STOP_GRACE_MS.  SIGTERM and SIGINT
 * call it with 0, the restart limit with 1; an exec-worker's request to
 * end the agent (after a switch, or `restart`) calls it with its code.
 */
void	sup_shutdown(struct sup *, int status);
void	sup_reload(struct sup *);
void	sup_give_up(struct sup *, const char *why);
/* The channels' dispatch functions, reachable for the fuzzers. */
void	sup_dispatch_net(struct ipcev *, struct ipcmsg *);
void	sup_dispatch_exec(struct ipcev *, struct ipcmsg *);
/* signreq.c: IPC_NS_SIGN */
void	signreq_reset(struct sup *);
int	signreq_admit(struct sup *);
void	signreq_answer(struct sup *, uint32_t id);

/* worker.c */
int	worker_find_paths(struct sup *);
void	worker_init(struct sup *);
int	worker_start_all(struct sup *);
void	worker_stop_all(struct sup *, int sig);
int	worker_running(const struct sup *);
void	worker_schedule_restart(struct sup *, int i, const char *why);
void	worker_stop_timers(struct sup *);
/*
 * Note a restart of w at now: the restarts within SUP_RESTART_WINDOW
 * seconds, this one included (more than SUP_RESTART_MAX: give up).  A
 * quiet window before it resets the backoff to 1 s.
 */
int	worker_note_restart(struct worker *, ev_tstamp now);
/* The next backoff delay of w in seconds: 1, 2, 4 ... SUP_BACKOFF_MAX. */
int	worker_next_backoff(struct worker *);
int	worker_net_identity(struct sup *);
pid_t	worker_id_in_use(id_t, pid_t except);
int	worker_pick_free_id(id_t base, unsigned int count, pid_t except,
	    id_t *);
void	worker_print_sandbox(const struct sup *, FILE *);
int	worker_sigsys_parse(const char *line, long *nr, uint32_t *arch);
const char *worker_syscall_name(long nr, uint32_t arch, char *, size_t);
void	worker_death_reason(const char *name, pid_t, int status, long nr,
	    uint32_t arch, char *, size_t);

/* connect.c */
void	connect_request(struct sup *, uint32_t endpoint, uint32_t timeout_ms);
void	connect_cancel(struct sup *);
/* The connect rate limit: take a token (0) or refuse (-1); a new bucket. */
int	connect_admit(struct sup *);
void	connect_limit_reset(struct sup *);
/*
 * The proxy for scheme://host:port under env (HTTPS_PROXY, HTTP_PROXY,
 * NO_PROXY and lower-case forms).  1 and *proxy filled: use it; 0: go
 * direct; -1: the proxy variable is not a valid URL (*why).
 */
int	connect_proxy_for(const struct url *target, char *const *env,
	    struct url *proxy, const char **why);
int	connect_no_proxy_match(const char *no_proxy, const char *host,
	    uint16_t port);
/* "Basic base64(user:pass)" from a proxy URL's userinfo; 0 if none. */
int	connect_proxy_auth(const struct url *proxy, char *out, size_t size);
int	connect_addr_is_loopback(const struct sockaddr *);

/* notify.c */
/* admin.c: the IPC_SE_ADMIN_* sequence, after IPC_SE_CONFIG. */
int	sup_send_admin(struct ipcev *, const struct config *);

void	notify_send(const char *state);
/* "STATUS=text", text escaped to printable ASCII and cut to fit. */
void	notify_status(const char *text);
/* Printable ASCII only: other bytes become \xNN; cut at a whole escape. */
void	notify_escape(const char *in, char *out, size_t size);
uint64_t notify_watchdog_usec(void);

/* check.c */
int	check_endpoint(const struct config *, const char *ca, size_t calen);
int	check_base_url(const char *ws_url, char *out, size_t size);

#endif
