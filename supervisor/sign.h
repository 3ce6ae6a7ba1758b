/*
 * sign.h: the socketio dialect's handshake signature (socketio-protocol.md
 * §3).  The supervisor holds authToken; the net-worker asks for a fresh
 * (ts, sig) on every connection attempt and never sees the key.
 */
#ifndef SIGN_H
#define SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define SIGN_CLIENTID_MAX	128
#define SIGN_HEX_LEN		64
/* {"clientId":"<128>","ts":<19 digits: INT64_MAX>} */
#define SIGN_MSG_MAX		(sizeof("{\"clientId\":\"\",\"ts\":}") - 1 + \
				    SIGN_CLIENTID_MAX + 19)
/* clientId=<128, each ":" as %3A>&ts=<19>&sig=<64> */
#define SIGN_QUERY_MAX		(sizeof("clientId=&ts=&sig=") + \
				    3 * SIGN_CLIENTID_MAX + 19 + SIGN_HEX_LEN)

/* 1 if id matches ^[A-Za-z0-9._:-]{1,128}$, else 0. */
int	sign_clientid_valid(const char *id);
/*
 * The canonical signed bytes {"clientId":"<id>","ts":<ts>} into buf;
 * their length, or -1 (EINVAL: bad id or ts <= 0; ENOSPC).
 */
int	sign_message(char *buf, size_t size, const char *id, int64_t ts_ms);
/*
 * hex = lowercase_hex(HMAC-SHA256(key, sign_message(id, ts))), 64
 * characters and a NUL.  0, or -1 with errno set.
 */
int	sign_hmac(const void *key, size_t keylen, const char *id,
	    int64_t ts_ms, char hex[SIGN_HEX_LEN + 1]);
/*
 * "clientId=<id>&ts=<ts>&sig=<hex>", every byte outside [A-Za-z0-9-._~]
 * percent-encoded (§1.1).  Its length, or -1 (EINVAL, ENOSPC).
 */
int	sign_query(char *buf, size_t size, const char *id, int64_t ts_ms,
	    const char *hex);
_Static_assert(SIGN_QUERY_MAX <= IPC_SIGN_QUERY_MAX, "sign query");

/*
 * The answer to IPC_NS_SIGN: out->ts_ms = ts_ms, out->query =
 * sign_query(id, ts_ms, sign_hmac(key, id, ts_ms)).  0, or -1 with errno
 * set and *out zeroed.
 */
int	sign_answer(struct ipc_signed *out, const void *key, size_t keylen,
	    const char *id, int64_t ts_ms);
/* CLOCK_REALTIME in Unix milliseconds, recomputed for every attempt. */
int64_t	sign_now_ms(void);

#endif
