/*
 * keysrc.h: the SSH key fetch (socketio-protocol.md §6.3 step 2).
 *
 * One GET <prefix>/<user>.keys at a time, in arrival order, over a
 * socket the supervisor connects for IPC_EP_KEYSRC (the configured key
 * host; we never name an address), with a TLS session of its own (always
 * verified, SNI and the name check against the configured host), a total
 * deadline on a libev timer and a body cap.  It shares the event loop
 * with the dashboard connection and touches nothing of it.
 */
#ifndef KEYSRC_H
#define KEYSRC_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "ipcev.h"
#include "proto.h"

#define KEYSRC_QUEUE_MAX	8	/* fetches waiting; more: refused */
/* Between two connect requests: the supervisor's bucket is shared. */
#define KEYSRC_GAP_MS		500

struct keysrc;

/*
 * The end of one fetch: error NULL and the body (body_len bytes, not
 * owned), or error set (the keys_sync_result text).
 */
typedef void	(*keysrc_done_fn)(void *, uint32_t id, const char *body,
		    size_t body_len, uint32_t ms, const char *error);

struct keysrc	*keysrc_new(struct ev_loop *, struct ipcev *sup,
		    keysrc_done_fn, void *);
void		 keysrc_free(struct keysrc *);
/*
 * IPC_SN_KEYSRC_CONFIG, checked (-1: malformed); then, when ca_size is
 * not 0, keysrc_ca() until keysrc_ca_missing() is 0.
 */
int		 keysrc_config(struct keysrc *, const struct ipc_keysrc_config *);
int		 keysrc_ca(struct keysrc *, const void *, size_t);
size_t		 keysrc_ca_missing(const struct keysrc *);
/* The dashboard's bundle, used when the key source has none of its own. */
void		 keysrc_default_ca(struct keysrc *, const uint8_t *, size_t);
int		 keysrc_enabled(const struct keysrc *);
/* Queue a fetch for a checked login: 0, or -1 when too many wait. */
int		 keysrc_fetch(struct keysrc *, const char *login, uint32_t id);
/* 1 while an IPC_SN_CONNECTED for IPC_EP_KEYSRC is owed to us. */
int		 keysrc_awaiting(const struct keysrc *);
/* That answer (fd -1 on failure); the caller checked the strings. */
void		 keysrc_connected(struct keysrc *, const struct ipc_connected *,
		    int fd);

#endif
