/*
 * netrem.h: the net-worker's side of remote administration.  It maps the
 * events of socketio-protocol.md §5 (admin_run, shell_*, sync_keys,
 * backup_*) to the exec-worker's IPC requests and its answers back to
 * event payloads.  Dialect-neutral: an event name and its JSON object
 * in, an event name and a JSON object out through the dialect's emit
 * function; the socketio dialect calls netrem_event for its events, the
 * nixfleet dialect for {"type":..., "payload":{...}} frames of the same
 * names (netrem_nixfleet).
 */
#ifndef NET_REMOTE_H
#define NET_REMOTE_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ipcev.h"
#include "permit.h"

/* Sends one event; takes the payload's reference. */
typedef void	(*netrem_emit_fn)(void *, const char *event, json_t *);
/*
 * Starts the key fetch of sync_keys for a checked login (keysrc.c);
 * netrem_keys_fetched() reports its end.  0, or -1: refused (busy).
 */
typedef int	(*netrem_fetch_fn)(void *, const char *login, uint32_t id);

struct netrem_pending;

struct netrem {
	struct ipcev		*exec;
	netrem_emit_fn		 emit;
	void			*arg;
	size_t			 max_frame;	/* shell_output; 0: none */
	netrem_fetch_fn		 fetch;		/* NULL: key sync off */
	void			*fetch_arg;
	uint32_t		 next_id;
	size_t			 npending;
	TAILQ_HEAD(, netrem_pending) pending;
};

void	netrem_init(struct netrem *, struct ipcev *exec, netrem_emit_fn,
	    void *);
/* At the exec-worker's HELLO: the answers it may send. */
void	netrem_permit(struct permit *);
/*
 * One inbound event.  1: it is one of ours (handled, answered or sent
 * on); 0: not ours, the dialect carries on.  payload is borrowed.
 */
int	netrem_event(struct netrem *, const char *name, json_t *payload);
/* A nixfleet text frame: 1 when its type is one of ours (handled). */
int	netrem_nixfleet(struct netrem *, const char *, size_t);
/* An IPC_EN_ remote administration answer; -1: a violation. */
int	netrem_dispatch_exec(struct netrem *, struct ipcmsg *);
void	netrem_clear(struct netrem *);
/*
 * The end of the fetch started for request id: the body goes on to the
 * exec-worker (IPC_NE_KEYS_INSTALL), an error to the dashboard.
 */
void	netrem_keys_fetched(struct netrem *, uint32_t id, const char *body,
	    size_t len, uint32_t ms, const char *error);
/* The dashboard session ended: the exec-worker hangs up every shell. */
void	netrem_session_end(struct netrem *);

/* Pure helpers, for the tests. */
/* §6.3 step 1: the trimmed user into out; -1 unless ^[A-Za-z0-9-]{1,39}$ */
int	netrem_user_check(const char *, size_t, char out[40]);

#endif
