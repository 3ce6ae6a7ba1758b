/*
 * remote.h: remote administration in the exec-worker (socketio-protocol.md
 * §6.1 - §6.6): admin_run, cron, key install, backups and PTY shells
 * behind the IPC_*_ADMIN_*, _SHELL_*, _KEYS_* and _BACKUP_* messages of
 * proto.h.  The policy comes from the supervisor only; the net-worker's
 * requests are checked against it here.
 */
#ifndef REMOTE_H
#define REMOTE_H

#include <sys/queue.h>
#include <sys/types.h>

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

#include "admin.h"
#include "ipcev.h"
#include "permit.h"
#include "proto.h"
#include "walk.h"

struct arun;
struct shell;
struct backup;

struct remote_list {
	char		**v;
	size_t		  n;
};

struct remote {
	struct ev_loop		*loop;
	struct ipcev		*net;		/* to the net-worker */
	int			 have_config;	/* IPC_SE_ADMIN_CONFIG seen */
	int			 ready;		/* IPC_SE_ADMIN_END seen */
	struct ipc_admin_config	 cfg;
	struct ipc_backup_config bkcfg;	/* IPC_SE_BACKUP_CONFIG */
	char			 state_dir[IPC_PATH_MAX];	/* plans here */
	struct remote_list	 lists[IPC_AL_MAX + 1];
	struct admin_policy	 pol;
	int			 slots;		/* taken: runs, live shells */
	TAILQ_HEAD(, arun)	 waiting;	/* FIFO for a slot */
	TAILQ_HEAD(, arun)	 running;
	LIST_HEAD(, shell)	 shells;
	LIST_HEAD(, backup)	 backups;
	size_t			 pending;	/* requests without an answer */
	pid_t			 pid;		/* the worker's, for atexit */
	uint32_t		 epoch;		/* net-workers seen, less one */
};

/* exec.c's hooks. */
void	remote_init(struct remote *, struct ev_loop *, struct ipcev *net,
	    struct permit *sup_permit);
void	remote_net_hello(struct remote *, struct permit *net_permit);
void	remote_dispatch_sup(struct remote *, struct permit *, struct ipcmsg *);
/* -1: a violation, the caller drops the net-worker. */
int	remote_dispatch_net(struct remote *, struct ipcmsg *);
/* Every shell and command killed: the agent stops. */
void	remote_stop(struct remote *);
/*
 * The net-worker is gone: its session with it (shells hung up, §4.3);
 * answers it waits for are not sent to the next one.
 */
void	remote_peer_lost(struct remote *);

/* remote.c, for pty.c and backup.c */
int	remote_slot_take(struct remote *);
void	remote_slot_free(struct remote *);
const char *const *remote_strv(struct remote *, int list, size_t *);

/* pty.c */
int	pty_start(struct remote *, const struct ipc_shell *);
int	pty_input(struct remote *, const struct ipc_shell *, const void *,
	    size_t);
int	pty_resize(struct remote *, const struct ipc_shell *);
int	pty_close(struct remote *, const struct ipc_shell *);
void	pty_stop_all(struct remote *);
/* §4.3: the session ended; every shell is hung up, its end not sent. */
void	pty_hangup_all(struct remote *);
/* 1 when both are in 1..IPC_SHELL_DIM_MAX. */
int	pty_size_valid(uint32_t cols, uint32_t rows);
/*
 * Bytes of the trailing incomplete UTF-8 sequence of buf (0..3) that the
 * next chunk should carry over: a lead byte and fewer continuation bytes
 * than it announces.  A sequence that is invalid anyway is not kept.
 */
size_t	pty_utf8_tail(const unsigned char *, size_t);
/* 1 when a session id is 1..IPC_SESSION_MAX-1 printable bytes + NUL. */
int	remote_session_valid(const char *, size_t);

/* backup.c */
int	backup_plan_req(struct remote *, uint32_t id, const void *, size_t);
int	backup_start_req(struct remote *, uint32_t id, const void *, size_t);
void	backup_stop_all(struct remote *);
/*
 * Split an IPC_NE_BACKUP_* payload into a request; -1 when malformed
 * (a violation).  *flags gets the head's flags.
 */
int	backup_req_parse(const void *, size_t, struct walk_request *,
	    uint32_t *);

#endif
