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

/* malloc'd JSON text, or NULL on allocation failure. */
char	*nixfleet_register(const struct ipc_facts *,
	    const struct ipc_net_config *);
char	*nixfleet_heartbeat(const struct ipc_facts *,
	    const struct nixfleet_busy *);

enum nixfleet_in_type {
	NF_IN_INVALID = 0,	/* not JSON, not an object, no type */
	NF_IN_UNKNOWN,		/* a type we do not know: log, ignore */
	NF_IN_REGISTERED,
	NF_IN_COMMAND,
	NF_IN_KILL_COMMAND,
};

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
