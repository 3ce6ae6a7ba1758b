/*
 * dialect_nixfleet.h: the nixfleet dialect's messages (JSON in text
 * frames, {"type":..., "payload":{...}}), encoded from the facts the
 * exec-worker sends and decoded into a closed set of requests.
 */
#ifndef DIALECT_NIXFLEET_H
#define DIALECT_NIXFLEET_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

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

/*
 * {"type":type,"payload":payload} (remote administration events, which
 * carry the socketio dialect's payloads); takes payload's reference.
 */
struct json_t;
char	*nixfleet_event(const char *type, struct json_t *payload);

/* malloc'd JSON text, or NULL on allocation failure. */
char	*nixfleet_register(const struct ipc_facts *,
	    const struct ipc_net_config *);
/*
 * The same with agent_version = version (NIXFLEET_REPORT_VERSION) when it
 * is non-empty, our own version otherwise (§2.1).
 */
char	*nixfleet_register_as(const struct ipc_facts *,
	    const struct ipc_net_config *, const char *version);
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
/* A JSON string of at most max bytes of s (NULL: ""), bad UTF-8 as U+FFFD. */
json_t	*nixfleet_json_str(const char *s, size_t max);

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
	int		 kind;		/* command: enum job_kind, JOB_NONE */
	int		 signo;		/* kill_command: enum job_signal */
};

/* Never fails: bad input gives NF_IN_INVALID with error set. */
void	nixfleet_decode(const char *data, size_t len, struct nixfleet_in *);

/* ---------------------------------------------------------------- */
/* Jobs (§2.5 - §2.9, §6) */

/* Kind of a command name, exact bytes; JOB_NONE when unknown. */
int	 nixfleet_kind_by_name(const char *, size_t);
/* The command name of a kind, or NULL. */
const char *nixfleet_kind_name(int kind);

/* What the dialect does with a decoded command (§6.2, busy first). */
enum nixfleet_action {
	NF_ACT_START = 1,	/* send JOB_START */
	NF_ACT_REJECT,		/* command_rejected */
	NF_ACT_UNKNOWN,		/* status error "unknown command" */
	NF_ACT_SIGNAL,		/* stop/kill: send JOB_SIGNAL */
	NF_ACT_NO_JOB,		/* stop/kill while idle: status error */
	NF_ACT_AGENT,		/* restart/reboot: JOB_START, bypassing */
};
/* running: the current job's kind, JOB_NONE when idle. */
int	 nixfleet_command_action(int running, int kind);
/*
 * The whole answer to a decoded command while running (pid: its child,
 * 0 if none yet) runs: *action as above, and the frame the dialect sends
 * at once (command_rejected, or status error "unknown command" / "no
 * command running" under the name as received), or NULL when the
 * exec-worker takes it from here (START, SIGNAL, AGENT).  NULL with
 * *action REJECT, UNKNOWN or NO_JOB means out of memory.
 */
char	*nixfleet_command_reply(const struct nixfleet_in *, int running,
	    int pid, const char *generation, int *action);

/*
 * Bytes of the first piece of a line of len bytes that fits max bytes
 * without cutting a UTF-8 sequence (§2.5); len itself when it fits.  A
 * piece is never empty unless len is 0.
 */
size_t	 nixfleet_line_piece(const char *, size_t len, size_t max);

/*
 * §2.5 output: one line (no newline) of the job named command.  stream
 * is enum job_stream; stderr and agent error lines get is_error true.
 */
char	*nixfleet_output(const char *command, int stream, const char *line,
	    size_t len);
/*
 * The same for a line of any length: repaired first (U+FFFD), then split
 * into pieces of at most IPC_JOB_LINE_MAX bytes at UTF-8 boundaries, one
 * frame each, in order (an empty line is one frame).  Returns the number
 * of frames in the malloc'd *frames (free each, then the array), or -1
 * on allocation failure.
 */
int	 nixfleet_output_frames(const char *command, int stream,
	    const char *line, size_t len, char ***frames);
/* §6.7: "[nixfleet-agent] <k> output lines dropped while disconnected" */
char	*nixfleet_dropped(const char *command, uint32_t k);
/* §2.6; message and generation NULL or "" are left out. */
char	*nixfleet_status(const char *command, int status, int exit_code,
	    const char *message, const char *generation);
/* §2.7; current_command NULL/"" and current_pid <= 0 are left out. */
char	*nixfleet_command_rejected(const char *current_command,
	    int current_pid);
/* §2.8: phase is enum job_phase (not TEST_SCRIPT), state job_phase_state. */
char	*nixfleet_operation_progress(int phase, uint32_t current,
	    uint32_t total, int state);
/* §2.9: result is enum job_test_result. */
char	*nixfleet_test_progress(uint32_t current, uint32_t total,
	    uint32_t passed, int running, int result);

/* The same from the exec-worker's records; command is the job's name. */
char	*nixfleet_job_output(const char *command,
	    const struct ipc_job_output *, const char *data);
char	*nixfleet_job_status(const char *command,
	    const struct ipc_job_status *);
char	*nixfleet_job_progress(const struct ipc_job_progress *);
/*
 * A heartbeat from facts and the job state: pending_command is the kind's
 * name while a job runs, command_pid its pid, the compartments js's
 * (git always empty).  js NULL: idle, empty compartments.
 */
char	*nixfleet_heartbeat_job(const struct ipc_facts *,
	    const struct ipc_job_state *);

#endif
