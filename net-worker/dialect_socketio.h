/*
 * dialect_socketio.h: the socketio dialect's event payloads
 * (socketio-protocol.md §4, §5).  Encoders build the objects the agent
 * emits (sio_emit frames them); the decoder checks an inbound event's
 * object against the catalogue of §5.1 and reduces it to struct sio_in.
 */
#ifndef DIALECT_SOCKETIO_H
#define DIALECT_SOCKETIO_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* ---------------------------------------------------------------- */
/* Agent -> server */

struct sio_disk {
	const char	*mount, *fsname, *fstype;
	uint64_t	 used, avail;
};

struct sio_netif {
	const char	*name;
	int		 ipv6;		/* family "IPv6", else "IPv4" */
	const char	*address;
	const char	*cidr;		/* the network, 192.168.1.0/24 */
	int		 internal;
};

/* One stats sample (§5.3); NULL or empty strings are omitted. */
struct sio_stats {
	double			 cpu;
	int			 has_mem;
	uint64_t		 mem_used, mem_free, mem_total;
	double			 load[3];
	const struct sio_disk	*disks;
	size_t			 ndisks;
	const struct sio_netif	*netifs;
	size_t			 nnetifs;
	const char		*hostname, *platform, *release, *arch,
				*kernel_version, *agent_version;
	int64_t			 cpus;		/* 0: omitted */
	int64_t			 uptime_sec;	/* 0: omitted, no lastReboot */
	int64_t			 now_sec;	/* Unix time of the sample */
	int64_t			 net_latency_ms;	/* < 0: omitted */
};

/* {"data":{...}}, new reference, NULL on allocation failure. */
json_t	*sio_enc_stats(const struct sio_stats *);
/* {"ts":<ts>}: the agent's idle ping (§4.2). */
json_t	*sio_enc_ping(int64_t now_ms);
/*
 * {"ts":<the same number>} for a server ping; ts is the decoded ping's
 * token (an integer or real), NULL or not a number gives 0 (§5.1).
 */
json_t	*sio_enc_pong(const json_t *ts);
/* shell_closed {session, code, reason, signal?} (§5.2). */
json_t	*sio_enc_shell_closed(const char *session, int code,
	    const char *reason, const char *signal);
/*
 * The shell_output payloads for len bytes of PTY output: as many objects
 * as it takes for each 42/agents,["shell_output",{...}] frame to stay
 * within max_frame bytes, cut between UTF-8 sequences where the bytes
 * allow; invalid bytes become U+FFFD (§2.8).  cb gets each one; a -1
 * from cb stops.  0, or -1 (errno EMSGSIZE: max_frame too small for
 * even one byte; ENOMEM; or cb's).
 */
int	sio_enc_shell_output(const char *session, const char *data,
	    size_t len, size_t max_frame,
	    int (*cb)(void *, const json_t *), void *arg);
/* A double written as §2.8 wants: finite, <= 6 fractional digits. */
json_t	*sio_json_real(double);

/* ---------------------------------------------------------------- */
/* Server -> agent */

enum sio_in_type {
	SIO_IN_INVALID = 0,	/* a wrong field type, NUL, ...: drop */
	SIO_IN_UNKNOWN,		/* not in the catalogue: debug, ignore */
	SIO_IN_LATER,		/* a later generation's event: ignore */
	SIO_IN_HELLO_ACK,
	SIO_IN_PING,
	SIO_IN_PONG,
	SIO_IN_ADMIN_RUN,
	SIO_IN_SHELL_START,
	SIO_IN_SHELL_INPUT,
	SIO_IN_SHELL_RESIZE,
	SIO_IN_SHELL_CLOSE,
	SIO_IN_BACKUP_PLAN,
	SIO_IN_BACKUP_START,
	SIO_IN_SYNC_KEYS,
};

/* A string of the payload: valid while the payload lives. */
struct sio_str {
	const char	*s;		/* NULL: absent */
	size_t		 len;
};

/*
 * The decoded event.  Strings point into the payload, which sio_in
 * holds a reference to until sio_in_clear.  NUL is refused in every
 * string except admin_run's command, which the runner refuses with 126
 * (D8), and shell_input's data, which is raw PTY bytes.
 */
struct sio_in {
	int		 type;		/* enum sio_in_type */
	char		 name[64];	/* printable, for logs */
	char		 error[128];	/* SIO_IN_INVALID: why */
	json_t		*payload;
	json_t		*ts;		/* ping, pong: a number or NULL */
	struct sio_str	 token;		/* admin_run; "" if absent */
	struct sio_str	 command;	/* admin_run: cmd.command */
	struct sio_str	 cwd;		/* admin_run */
	int64_t		 timeout_sec;	/* admin_run; <= 0: the default */
	struct sio_str	 session;	/* shell_* */
	struct sio_str	 data;		/* shell_input */
	int		 cols, rows;	/* shell_resize; 0: ignore it */
	struct sio_str	 user;		/* sync_keys, backup_* */
	struct sio_str	 plan_id, host, dest_root;	/* backup_* */
	int64_t		 port;		/* backup_*; 0: default */
	json_t		*source_dirs;	/* backup_*: array of strings */
	json_t		*ignore_globs;	/* backup_*: array of strings */
};

/*
 * Decode an event's name and payload (an object; sio.c guarantees it).
 * message is unwrapped by its t, else type (§5.1).  Never fails: bad
 * input gives SIO_IN_INVALID with error set.
 */
void	sio_decode_event(const char *name, json_t *payload, struct sio_in *);
void	sio_in_clear(struct sio_in *);

#endif
