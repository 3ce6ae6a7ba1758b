/*
 * signreq.c: the supervisor's answer to IPC_NS_SIGN (socketio dialect,
 * socketio-protocol.md §3).  The net-worker asks before every connection
 * attempt; the supervisor takes ts from its own clock, so a compromised
 * net-worker can never hold a signature for a future time, and the key
 * (authToken) never leaves this process.  The requests draw on a token
 * bucket of their own, sized like the connect one: one signature per
 * attempt, attempts at least the net-worker's backoff floor apart.
 */
#include <string.h>

#include "log.h"
#include "proto.h"
#include "sign.h"
#include "supervisor.h"

void
signreq_reset(struct sup *s)
{
	s->sign_tokens = IPC_CONNECT_BURST;
	s->sign_stamp = s->loop != NULL ? ev_now(s->loop) : 0;
}

int
signreq_admit(struct sup *s)
{
	ev_tstamp	 now = s->loop != NULL ? ev_now(s->loop) : 0;

	if (now > s->sign_stamp) {
		s->sign_tokens += (now - s->sign_stamp) * 1000.0 /
		    IPC_CONNECT_FLOOR_MS;
		if (s->sign_tokens > IPC_CONNECT_BURST)
			s->sign_tokens = IPC_CONNECT_BURST;
	}
	s->sign_stamp = now;
	if (s->sign_tokens < 1.0)
		return -1;
	s->sign_tokens -= 1.0;
	return 0;
}

/*
 * Sign (clientId, now) and answer with the request's id.  A failure here
 * is our own configuration's (checked at load) or the clock's: the answer
 * is then empty (ts 0, no query) and the attempt fails on the net-worker's
 * side, which backs off and asks again.
 */
void
signreq_answer(struct sup *s, uint32_t id)
{
	struct ipc_signed	 out;
	const char		*key = s->cfg.auth_token;

	memset(&out, 0, sizeof(out));
	if (key == NULL || s->cfg.client_id == NULL ||
	    sign_answer(&out, key, strlen(key), s->cfg.client_id,
	    sign_now_ms()) == -1)
		log_warn("cannot sign the socketio handshake");
	else
		log_debug("signed the handshake for attempt %u (ts %lld)", id,
		    (long long)out.ts_ms);
	ipcev_compose(&s->w[W_NET].iev, IPC_SN_SIGNED, id, -1, &out,
	    sizeof(out));
	explicit_bzero(&out, sizeof(out));
}
