/*
 * ipcev.h: the libev glue for a channel, written once.
 *
 * ipcev reads, reassembles, checks HELLO (first frame, once, right
 * version), hands every frame to the owner's dispatch function and frees
 * it after.  Any error, violation or EOF becomes one dispatch(iev, NULL)
 * after the channel is closed; the owner decides what the loss means.
 * EV_WRITE is armed only while output is queued.
 */
#ifndef IPCEV_H
#define IPCEV_H

#include <ev.h>

#include "compat.h"
#include "ipc.h"

struct ipcev;
typedef void	(*ipcev_dispatch_fn)(struct ipcev *, struct ipcmsg *);

struct ipcev {
	struct ev_loop		*loop;
	ev_io			 io;
	struct ipcbuf		*buf;
	ipcev_dispatch_fn	 dispatch;
	void			*data;		/* the owner's object */
	const char		*name;		/* peer, for logs */
	int			 fd;
	int			 events;
	int			 hello;		/* peer's HELLO seen */
	uint32_t		 expect_role;	/* 0: any */
	uint32_t		 peer_role;
	uint32_t		 peer_pid;
};

/* Takes ownership of fd (closed by ipcev_close/ipcev_drop). */
void	ipcev_init(struct ipcev *, struct ev_loop *, int fd, size_t maxsize,
	    const char *name, ipcev_dispatch_fn, void *data);
int	ipcev_active(const struct ipcev *);
/*
 * The role the peer's HELLO must name (enum ipc_role); another role drops
 * the peer.  Call right after init.
 */
void	ipcev_expect_role(struct ipcev *, uint32_t role);
/* Queue our HELLO (role from proto.h); call right after init. */
int	ipcev_hello(struct ipcev *, uint32_t role);
/* Queue a frame and arm EV_WRITE; on failure the peer is dropped. */
int	ipcev_compose(struct ipcev *, uint32_t type, uint32_t id, int fd,
	    const void *data, size_t len);
int	ipcev_composev(struct ipcev *, uint32_t type, uint32_t id, int fd,
	    const struct iovec *, int);
/*
 * Write everything queued, blocking up to timeout_ms (for shutdown).  -1
 * with ETIMEDOUT or the write's errno; the channel is left open.
 */
int	ipcev_flush_sync(struct ipcev *, int timeout_ms);
/* Log why, close, then dispatch(iev, NULL). */
void	ipcev_drop(struct ipcev *, const char *fmt, ...) __printflike(2, 3);
/* Close quietly, without dispatch. */
void	ipcev_close(struct ipcev *);

#endif
