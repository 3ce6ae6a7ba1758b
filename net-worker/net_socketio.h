/*
 * net_socketio.h: the net-worker's socketio session (socketio-protocol.md):
 * sio.c's state machine on top of conn.c, the signed dial through the
 * supervisor, stats from the exec-worker.  net.c hands over the messages
 * that belong to this dialect and nothing else changes for nixfleet.
 */
#ifndef NET_SOCKETIO_H
#define NET_SOCKETIO_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "ipcev.h"
#include "netrem.h"
#include "permit.h"
#include "proto.h"

struct sionet_env {
	struct ev_loop			*loop;
	struct ipcev			*sup;
	struct ipcev			*exec;
	struct permit			*sup_permit;
	struct permit			*exec_permit;
	const struct ipc_net_config	*cfg;	/* url is serverUrl */
	const struct ipc_sio_config	*scfg;
	struct netrem			*remote;	/* admin events */
	const uint8_t			*ca;
	size_t				 calen;
	void				(*exit)(int);	/* never returns */
};

/* Check IPC_SN_SIO_CONFIG; fatalx if the supervisor sent nonsense. */
void	sionet_check_config(const struct ipc_sio_config *);
/* Everything is configured: build the connection and dial. */
void	sionet_start(const struct sionet_env *);
/* IPC_SN_SIGNED, IPC_SN_CONNECTED (checked by net.c), IPC_EN_STATS. */
void	sionet_signed(struct ipcmsg *);
void	sionet_connected(const struct ipc_connected *, int fd);
void	sionet_stats(struct ipcmsg *);
/* netrem's emit: one event on /agents; takes the payload's reference. */
void	sionet_emit(const char *event, json_t *);
/* SIGTERM: 41/agents, close 1000, exit.  -1 if never started. */
int	sionet_shutdown(void);

#endif
