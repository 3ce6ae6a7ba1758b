/*
 * dialect_nixfleet.h: the nixfleet dialect's messages (JSON in text
 * frames, {"type":..., "payload":{...}}), encoded from the facts the
 * exec-worker sends and decoded into a closed set of requests.
 */
#ifndef DIALECT_NIXFLEET_H
#define DIALECT_NIXFLEET_H

#include <stddef.h>

#include "proto.h"

/* Job state shown in heartbeats; no command running until jobs exist. */
struct nixfleet_busy {
	const char	*command;	/* NULL: idle -> null */
	int		 pid;		/* <= 0: null */
};

/*
 * One update_status compartment (spec §2.3, §3.5).  A NULL member is sent
 * as "", so a compartment never written is all empty strings.
 */
struct nixfleet_sc {
	const char	*status;	/* ok, outdated, error, unknown, ... */
	const char	*message;
	const char	*checked_at;	/* RFC 3339, UTC, whole seconds */
};

/* Compartments in wire order. */
enum nixfleet_sc_slot {
	NF_SC_GIT = 0,		/* the dashboard computes it: leave NULL */
	NF_SC_LOCK,
	NF_SC_SYSTEM,
	NF_SC_TESTS,
	NF_SC_MAX
};

struct nixfleet_update {
	const struct nixfleet_sc *sc[NF_SC_MAX];	/* NULL: empty SC */
};

/* malloc'd JSON text, or NULL on allocation failure. */
char	*nixfleet_register(const struct ipc_facts *,
	    const struct ipc_net_config *);
char	*nixfleet_heartbeat(const struct ipc_facts *,
	    const struct nixfleet_busy *);
/* The same, with compartment values; a NULL update sends four empty SCs. */
char	*nixfleet_heartbeat_update(const struct ipc_facts *,
	    const struct nixfleet_busy *, const struct nixfleet_update *);

/*
 * A malloc'd, NUL-terminated copy of len bytes of s in which every byte
 * that does not start a valid UTF-8 sequence (overlong forms, surrogates
 * and code points above U+10FFFF included) is replaced by U+FFFD, byte by
 * byte as Go's encoder does.  *outlen, if not NULL, gets the length
 * without the NUL.  NULL with errno set on allocation failure.
 */
char	*nixfleet_utf8_sanitize(const char *s, size_t len, size_t *outlen);
/* Whether len bytes of s are valid UTF-8 (NUL bytes are valid). */
int	 nixfleet_utf8_valid(const char *s, size_t len);

enum nixfleet_in_type {
	NF_IN_INVALID = 0,	/* not JSON, not an object, no type */
	NF_IN_UNKNOWN,		/* a type we do not know: log, ignore */
	NF_IN_REGISTERED,
	NF_IN_COMMAND,
	NF_IN_KILL_COMMAND,
};

/* Larger frames are NF_IN_INVALID without being parsed. */
#define NIXFLEET_IN_MAX		(1024 * 1024)

/*
 * Every string is NUL-terminated and safe to log: type_name has its
 * non-printable bytes replaced by '?', host_id its control characters
 * (it stays UTF-8); command and signal are checked printable ASCII.
 */
struct nixfleet_in {
	int		 type;		/* enum nixfleet_in_type */
	char		 type_name[64];	/* as received, for logs */
	char		 host_id[256];	/* registered */
	char		 command[64];	/* command */
	char		 signal[16];	/* kill_command */
	int		 pid;		/* kill_command */
	char		 error[128];	/* NF_IN_INVALID: why */
};

/* Never fails: bad input gives NF_IN_INVALID with error set. */
void	nixfleet_decode(const char *data, size_t len, struct nixfleet_in *);

#endif
