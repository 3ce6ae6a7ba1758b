/*
 * proto.h: the whole cross-process contract of nixfleet-agent.
 *
 * Three processes talk over three socketpairs:
 *
 *	supervisor (root)  <-- sup<->net -->  net-worker (sandboxed)
 *	supervisor (root)  <-- sup<->exec --> exec-worker
 *	net-worker         <-- net<->exec --> exec-worker
 *
 * Every frame is a struct ipc_hdr (ipc.h) and a payload of the fixed-width
 * structs below.  The high byte of a type names channel and direction; a
 * receiver rejects any type outside its range, any type its permit table
 * does not allow in the current state, and any payload whose size is not
 * exact.  Values are never reused: a changed payload gets a new type or a
 * new IPC_VERSION.  Read top to bottom; docs/protocol.md follows this file.
 */
#ifndef PROTO_H
#define PROTO_H

#include <stdint.h>

#define IPC_VERSION		1

/* Descriptors a worker finds at exec time; everything else is closed. */
#define IPC_FD_SUP		3	/* channel to the supervisor */
#define IPC_FD_PEER		4	/* channel to the other worker */
/* stderr (2) is a pipe the supervisor reads and relays into its log. */

/* Largest frame, header included, per channel. */
#define IPC_MAX_SN		(16 * 1024)	/* sup <-> net */
#define IPC_MAX_SE		(4 * 1024)	/* sup <-> exec */
#define IPC_MAX_NE		(64 * 1024)	/* net <-> exec */

enum ipc_range {			/* high byte: channel and direction */
	IPC_ANY = 0x0000,		/* HELLO only */
	IPC_NS = 0x1000,		/* net -> sup */
	IPC_SN = 0x1100,		/* sup -> net */
	IPC_ES = 0x2000,		/* exec -> sup */
	IPC_SE = 0x2100,		/* sup -> exec */
	IPC_NE = 0x3000,		/* net -> exec */
	IPC_EN = 0x3100,		/* exec -> net */
};
#define IPC_RANGE(t)		((t) & 0xff00)

enum ipc_type {
	IPC_HELLO = IPC_ANY | 0x01,

	IPC_NS_CONNECT = IPC_NS | 0x01,
	IPC_NS_STATE = IPC_NS | 0x02,
	IPC_NS_PONG = IPC_NS | 0x03,
	IPC_NS_SIGN = IPC_NS | 0x04,		/* socketio */

	IPC_SN_CONFIG = IPC_SN | 0x01,
	IPC_SN_CA_BEGIN = IPC_SN | 0x02,
	IPC_SN_CA_CHUNK = IPC_SN | 0x03,
	IPC_SN_CA_END = IPC_SN | 0x04,
	IPC_SN_CONNECTED = IPC_SN | 0x05,
	IPC_SN_PING = IPC_SN | 0x06,
	IPC_SN_SHUTDOWN = IPC_SN | 0x07,
	IPC_SN_SIGNED = IPC_SN | 0x08,		/* socketio */
	IPC_SN_PEER = IPC_SN | 0x10,		/* a new exec channel + fd */
	IPC_SN_SIO_CONFIG = IPC_SN | 0x18,	/* socketio, after CONFIG */
	IPC_SN_JOBS_CONFIG = IPC_SN | 0x20,	/* jobs: after CONFIG */
	IPC_SN_KEYSRC_CONFIG = IPC_SN | 0x28,	/* key source: after CONFIG */
	IPC_SN_KEYSRC_CA = IPC_SN | 0x29,	/* its own CA bundle, chunks */

	IPC_ES_PONG = IPC_ES | 0x01,
	IPC_ES_EXIT = IPC_ES | 0x30,		/* jobs: exit with a code */

	IPC_SE_CONFIG = IPC_SE | 0x01,
	IPC_SE_PING = IPC_SE | 0x02,
	IPC_SE_SHUTDOWN = IPC_SE | 0x03,
	IPC_SE_PEER = IPC_SE | 0x10,		/* a new net channel + fd */
	IPC_SE_ADMIN_CONFIG = IPC_SE | 0x20,	/* remote administration */
	IPC_SE_ADMIN_ITEM = IPC_SE | 0x21,
	IPC_SE_ADMIN_END = IPC_SE | 0x22,
	IPC_SE_JOBS_CONFIG = IPC_SE | 0x30,	/* jobs: after CONFIG */
	IPC_SE_BACKUP_CONFIG = IPC_SE | 0x40,	/* backups: after ADMIN_CONFIG */
	IPC_SE_REPO_CONFIG = IPC_SE | 0x48,	/* repo: after JOBS_CONFIG */

	IPC_NE_FACTS_REQ = IPC_NE | 0x01,
	IPC_NE_JOB_START = IPC_NE | 0x10,
	IPC_NE_JOB_SIGNAL = IPC_NE | 0x11,
	IPC_NE_JOB_ACK = IPC_NE | 0x12,
	IPC_NE_JOB_REPLAY = IPC_NE | 0x13,
	IPC_NE_STATS_REQ = IPC_NE | 0x20,	/* socketio */
	IPC_NE_ADMIN_RUN = IPC_NE | 0x30,	/* remote administration */
	IPC_NE_SHELL_START = IPC_NE | 0x31,
	IPC_NE_SHELL_INPUT = IPC_NE | 0x32,
	IPC_NE_SHELL_RESIZE = IPC_NE | 0x33,
	IPC_NE_SHELL_CLOSE = IPC_NE | 0x34,
	IPC_NE_KEYS_INSTALL = IPC_NE | 0x35,
	IPC_NE_BACKUP_PLAN = IPC_NE | 0x36,
	IPC_NE_BACKUP_START = IPC_NE | 0x37,
	IPC_NE_SESSION_END = IPC_NE | 0x38,
	IPC_NE_LINK_DOWN = IPC_NE | 0x60,	/* §6.7: disconnected since */

	IPC_EN_FACTS = IPC_EN | 0x01,
	IPC_EN_JOB_ANSWER = IPC_EN | 0x10,
	IPC_EN_JOB_OUTPUT = IPC_EN | 0x11,
	IPC_EN_JOB_PROGRESS = IPC_EN | 0x12,
	IPC_EN_JOB_STATUS = IPC_EN | 0x13,
	IPC_EN_JOB_STATE = IPC_EN | 0x14,
	IPC_EN_JOB_NOTICE = IPC_EN | 0x15,	/* a line after the status */
	IPC_EN_STATS = IPC_EN | 0x20,		/* socketio */
	IPC_EN_ADMIN_RESULT = IPC_EN | 0x30,	/* remote administration */
	IPC_EN_SHELL_OUTPUT = IPC_EN | 0x31,
	IPC_EN_SHELL_CLOSED = IPC_EN | 0x32,
	IPC_EN_KEYS_RESULT = IPC_EN | 0x33,
	IPC_EN_BACKUP_PLAN = IPC_EN | 0x34,
	IPC_EN_BACKUP_PROGRESS = IPC_EN | 0x35,
	IPC_EN_BACKUP_DONE = IPC_EN | 0x36,
	IPC_EN_JOB_DROPPED = IPC_EN | 0x60,	/* §6.7 drop notice */
	IPC_EN_JOB_REPLAYING = IPC_EN | 0x61,	/* a JOB_REPLAY begins */
};

/* Header flags. */
#define IPC_F_FD		0x0001	/* a descriptor rides with this frame */

/* Which process a HELLO comes from. */
enum ipc_role {
	IPC_ROLE_SUP = 1,
	IPC_ROLE_NET = 2,
	IPC_ROLE_EXEC = 3,
};

/*
 * IPC_HELLO, any direction, first frame on every channel, once.  A
 * version mismatch is fatal for the channel (ipcev drops it).
 */
struct ipc_hello {
	uint32_t	version;		/* IPC_VERSION */
	uint32_t	role;			/* enum ipc_role */
	uint32_t	pid;
	uint32_t	pad;
};
_Static_assert(sizeof(struct ipc_hello) == 16, "ipc_hello");

/* ---------------------------------------------------------------- */
/* sup <-> net */

enum ipc_dialect {
	IPC_DIALECT_NIXFLEET = 1,
	IPC_DIALECT_SOCKETIO = 2,
};

/* Endpoints the net-worker may ask for: words, never addresses. */
enum ipc_endpoint {
	IPC_EP_DASHBOARD = 1,		/* the configured dashboard URL */
	IPC_EP_KEYSRC = 2,		/* the SSH key source (keysrc) */
};
#define IPC_EP_MAX		IPC_EP_KEYSRC	/* above: a violation */

#define IPC_URL_MAX		1024
#define IPC_TOKEN_MAX		1024
#define IPC_PINS_MAX		4
#define IPC_SHORT_MAX		64

/* ipc_net_config.flags */
#define IPC_NETF_SKIP_VERIFY	0x0001	/* operator opted out of TLS checks */
#define IPC_NETF_ALLOW_HTTP	0x0002	/* ws:// to non-loopback allowed */
#define IPC_NETF_PROXY_AUTH	0x0004	/* proxy_auth holds a header value */

/*
 * IPC_SN_CONFIG, sup -> net, once after HELLO.  Everything the net-worker
 * needs and nothing more: no file paths, no addresses.  The CA bundle
 * follows as IPC_SN_CA_BEGIN, CHUNK..., END; after END the worker starts.
 * Strings are NUL-terminated within their arrays.
 */
struct ipc_net_config {
	uint32_t	dialect;		/* enum ipc_dialect */
	uint32_t	flags;			/* IPC_NETF_* */
	uint32_t	interval_s;		/* heartbeat period */
	uint32_t	ping_ms;		/* keepalive ping period */
	uint32_t	dead_ms;		/* silence that kills the link */
	uint32_t	handshake_ms;		/* TCP+TLS+upgrade deadline */
	uint32_t	close_ms;		/* wait for the peer's close */
	uint32_t	max_msg;		/* largest incoming message */
	uint32_t	backoff_max_ms;		/* reconnect ceiling */
	uint32_t	npins;			/* used entries of pins */
	uint8_t		pins[IPC_PINS_MAX][32];	/* SHA-256 of the SPKI */
	char		url[IPC_URL_MAX];	/* dashboard URL, verbatim */
	char		token[IPC_TOKEN_MAX];	/* bearer token (nixfleet) */
	char		proxy_auth[512];	/* "Basic ..." for CONNECT */
	char		repo_url[IPC_URL_MAX];	/* register.repo_url */
	char		location[IPC_SHORT_MAX];
	char		device_type[IPC_SHORT_MAX];
	char		theme_color[IPC_SHORT_MAX];
};
_Static_assert(sizeof(struct ipc_net_config) == 3944, "ipc_net_config");

/* IPC_SN_CA_BEGIN: total bundle size; CHUNK: raw bytes; END: empty. */
struct ipc_ca_begin {
	uint32_t	size;			/* <= IPC_CA_MAX */
	uint32_t	pad;
};
_Static_assert(sizeof(struct ipc_ca_begin) == 8, "ipc_ca_begin");
#define IPC_CA_MAX		(4 * 1024 * 1024)
#define IPC_CA_CHUNK		(IPC_MAX_SN - 64)

/*
 * IPC_NS_CONNECT, net -> sup, while no connect is outstanding.  The
 * supervisor resolves and connects (through the proxy if the environment
 * says so) and answers IPC_SN_CONNECTED.
 */
struct ipc_connect {
	uint32_t	endpoint;		/* enum ipc_endpoint */
	uint32_t	timeout_ms;		/* 0: the supervisor's default */
};
_Static_assert(sizeof(struct ipc_connect) == 8, "ipc_connect");
/*
 * Bounds on IPC_NS_CONNECT; outside them the net-worker is dropped.
 * timeout_ms above the maximum is a violation; within it, the configured
 * handshake timeout caps it.  Requests draw on a token bucket of
 * IPC_CONNECT_BURST tokens refilled one per IPC_CONNECT_FLOOR_MS (the
 * net-worker's own backoff floor): asking faster is a violation.
 */
#define IPC_CONNECT_TIMEOUT_MAX_MS	3600000
#define IPC_CONNECT_FLOOR_MS		100
#define IPC_CONNECT_BURST		5

/*
 * IPC_SN_CONNECTED, sup -> net, the answer to IPC_NS_CONNECT.  error 0:
 * the connected socket rides along (IPC_F_FD); via_proxy 1: it is a
 * connection to the proxy, and the net-worker tunnels with CONNECT to
 * target.  Otherwise error is an errno value and reason says why.
 */
struct ipc_connected {
	uint32_t	endpoint;
	int32_t		error;
	uint32_t	via_proxy;
	uint32_t	pad;
	char		target[256];		/* host:port for CONNECT */
	char		reason[256];
};
_Static_assert(sizeof(struct ipc_connected) == 528, "ipc_connected");

enum ipc_net_state_code {
	IPC_NET_DISCONNECTED = 1,
	IPC_NET_CONNECTED = 2,		/* upgrade done */
	IPC_NET_REGISTERED = 3,		/* the dashboard accepted us */
};
#define IPC_NET_STATE_MAX	IPC_NET_REGISTERED	/* above: a violation */

/*
 * detail may carry the dashboard's words (a close reason, a host id), so
 * it is escaped, not trusted: sd_notify STATUS gets printable ASCII only,
 * at most IPC_STATUS_MAX bytes; the log gets log.c's escaping.
 */
#define IPC_STATUS_MAX		200

/* IPC_NS_STATE, net -> sup, at every change (logs, sd_notify STATUS). */
struct ipc_net_state {
	uint32_t	state;			/* enum ipc_net_state_code */
	uint32_t	pad;
	char		detail[256];
};
_Static_assert(sizeof(struct ipc_net_state) == 264, "ipc_net_state");

/*
 * IPC_SN_PING / IPC_SE_PING, sup -> worker, empty, header id = sequence;
 * answered by IPC_NS_PONG / IPC_ES_PONG with the same id.  The systemd
 * watchdog is fed only while both answer.  A PONG for a ping not sent, or
 * older than the last one answered, is a violation.
 *
 * IPC_SN_SHUTDOWN / IPC_SE_SHUTDOWN, sup -> worker, empty: finish (close
 * 1000 "shutdown") and exit 0.  The supervisor kills at its deadline.
 */

/*
 * IPC_NS_SIGN, net -> sup, socketio dialect, empty, header id = attempt
 * sequence: before every connection attempt (socketio-protocol.md §3).
 * The supervisor holds authToken, takes ts from its own CLOCK_REALTIME
 * (so the net-worker cannot have future timestamps signed) and answers
 * IPC_SN_SIGNED with the same id.  Admitted only in the socketio
 * dialect, on a token bucket of its own with IPC_CONNECT_BURST and
 * IPC_CONNECT_FLOOR_MS, like IPC_NS_CONNECT; a payload drops the peer.
 */
#define IPC_SIGN_QUERY_MAX	512

/*
 * IPC_SN_SIGNED: "clientId=<id>&ts=<ms>&sig=<64 hex>", NUL-terminated;
 * empty (and ts_ms 0) when the supervisor could not sign: that attempt
 * fails.
 */
struct ipc_signed {
	int64_t		ts_ms;			/* the signed ts */
	char		query[IPC_SIGN_QUERY_MAX];
};
_Static_assert(sizeof(struct ipc_signed) == 520, "ipc_signed");

/*
 * IPC_SN_SIO_CONFIG, sup -> net, socketio dialect only, once, right after
 * IPC_SN_CONFIG (whose url is serverUrl and whose token stays empty: the
 * key never leaves the supervisor).  The settings of socketio-protocol.md
 * §7.2 the session needs.  Strings are NUL-terminated.
 */
struct ipc_sio_config {
	uint32_t	stats_s;		/* statsIntervalSec */
	uint32_t	heartbeat_s;		/* heartbeatIntervalSec */
	uint32_t	pong_timeout_s;		/* pongTimeoutSec */
	uint32_t	pad;
	char		client_id[136];		/* for logs and the status */
	char		transport_path[256];	/* transport.path */
};
_Static_assert(sizeof(struct ipc_sio_config) == 408, "ipc_sio_config");

/* ---------------------------------------------------------------- */
/* sup <-> exec */

#define IPC_PATH_MAX		1024

/*
 * IPC_SE_CONFIG, sup -> exec, once after HELLO.  Empty strings mean
 * "detect": hostname, nixpkgs_version.
 */
struct ipc_exec_config {
	uint32_t	interval_s;		/* facts snapshot period */
	uint32_t	pad;
	char		hostname[256];		/* NIXFLEET_HOSTNAME */
	char		nixpkgs_version[128];	/* NIXFLEET_NIXPKGS_VERSION */
	char		repo_dir[IPC_PATH_MAX];
	char		state_dir[IPC_PATH_MAX];
	char		stasysmo_dir[256];
	char		agent_exe[IPC_PATH_MAX];	/* main binary */
	char		source_commit[IPC_SHORT_MAX];
};
_Static_assert(sizeof(struct ipc_exec_config) == 3784, "ipc_exec_config");

/*
 * IPC_SN_PEER / IPC_SE_PEER, sup -> worker, empty, id 0, with a
 * descriptor (IPC_F_FD): the worker's end of a new net<->exec socketpair,
 * after the other worker died.  The supervisor makes the pair when it
 * sees the death and sends this end at once; the other end goes to the
 * replacement worker, as its fd 4, when the backoff ends.  The receiver
 * closes its old peer channel, says HELLO on the new one and re-syncs
 * (the net-worker asks for facts, the exec-worker sends its state).
 * Permitted any time after HELLO; the only frames besides
 * IPC_SN_CONNECTED that may carry a descriptor, and they must: a
 * descriptor on any other frame, or none on these, is fatal.  The
 * exec-worker that loses its net channel waits IPC_PEER_WAIT_MS for
 * IPC_SE_PEER; none in time, or losing the new channel before its HELLO,
 * is an exit (status 1), and the supervisor restarts it alone.
 */
#define IPC_PEER_WAIT_MS	10000

/* ---------------------------------------------------------------- */
/* net <-> exec */

/*
 * IPC_NE_FACTS_REQ, net -> exec, empty: send a snapshot now (at every
 * register).  Permitted after HELLO.  Requests coalesce: at most one is
 * pending, answered from the latest CPU sample, at most one answer per
 * IPC_FACTS_MIN_MS; the exec-worker samples /proc/stat every
 * IPC_FACTS_SAMPLE_MS on a timer and never sleeps in a request.
 */
#define IPC_FACTS_MIN_MS	100
#define IPC_FACTS_SAMPLE_MS	1000

/* ipc_facts.flags */
#define IPC_FACTF_METRICS	0x0001	/* cpu, ram, swap, load are valid */
#define IPC_FACTF_LOCK		0x0002	/* lock_hash is valid */

/*
 * IPC_EN_FACTS, exec -> net, every interval and on request: the host
 * facts and metrics the heartbeat carries.  Metrics are in thousandths
 * (15.5 % is 15500) so that StaSysMo values pass through exactly.
 */
struct ipc_facts {
	uint32_t	flags;			/* IPC_FACTF_* */
	int32_t		cpu_milli;
	int32_t		ram_milli;
	int32_t		swap_milli;
	int32_t		load_milli;
	uint32_t	pad;
	char		hostname[256];
	char		host_type[16];		/* "nixos" | "macos" */
	char		os_version[64];
	char		nixpkgs_version[128];
	char		generation[16];		/* 7 hex or "" */
	char		repo_dir[IPC_PATH_MAX];
	char		store_path[IPC_PATH_MAX];
	char		binary_hash[72];	/* 64 hex */
	char		source_commit[IPC_SHORT_MAX];
	char		lock_hash[72];		/* 64 hex */
};
_Static_assert(sizeof(struct ipc_facts) == 2760, "ipc_facts");

/*
 * IPC_NE_STATS_REQ, net -> exec, socketio dialect, empty, id 0: send a
 * stats sample (socketio-protocol.md §5.3) now, at each hello_ack and
 * stats tick.  Requests coalesce as IPC_NE_FACTS_REQ do: one pending, at
 * most one answer per IPC_STATS_MIN_MS; the CPU share is measured since
 * the previous sample (the first: since the exec-worker started) and
 * nothing sleeps.
 *
 * IPC_EN_STATS, exec -> net: struct ipc_stats.  Fixed point in
 * hundredths (7.25 % is 725, load 0.42 is 42); strings NUL-terminated;
 * ndisk, niface at most the array sizes; family 4 or 6.  Anything else
 * drops the exec-worker.
 */
#define IPC_STATS_MIN_MS	250
#define IPC_STATS_DISK_MAX	16
#define IPC_STATS_IFACE_MAX	16
#define IPC_STATS_HAVE_MEM	0x01	/* mem_* are valid */

struct ipc_stats_disk {
	char		mount[128];
	char		fsname[128];
	char		fstype[32];
	uint64_t	used;			/* bytes */
	uint64_t	avail;			/* bytes */
	uint32_t	capacity_centi;		/* used / (used + avail) */
	uint32_t	pad;
};
_Static_assert(sizeof(struct ipc_stats_disk) == 312, "ipc_stats_disk");

struct ipc_stats_iface {
	char		name[32];
	char		address[48];		/* numeric, no scope */
	char		cidr[56];		/* network/prefix */
	uint8_t		family;			/* 4 or 6 */
	uint8_t		internal;		/* private range */
	uint8_t		pad[6];
};
_Static_assert(sizeof(struct ipc_stats_iface) == 144, "ipc_stats_iface");

struct ipc_stats {
	uint32_t	flags;			/* IPC_STATS_HAVE_* */
	uint32_t	cpu_centi;		/* busy share, 0..10000 */
	uint64_t	mem_used, mem_free, mem_total;	/* bytes */
	uint32_t	load_centi[3];		/* 1m, 5m, 15m */
	uint32_t	cpus;			/* online logical CPUs, 0 unknown */
	uint64_t	uptime_s;		/* 0: lastReboot omitted */
	int64_t		ts;			/* Unix seconds, UTC */
	int64_t		last_reboot;		/* ts - uptime_s */
	uint32_t	ndisk, niface;
	char		hostname[256];
	char		platform[64];		/* os-release ID, "" unknown */
	char		release[64];		/* os-release VERSION_ID */
	char		arch[64];		/* uname machine */
	char		kernel[128];		/* uname release */
	char		agent_version[32];
	struct ipc_stats_disk  disk[IPC_STATS_DISK_MAX];
	struct ipc_stats_iface iface[IPC_STATS_IFACE_MAX];
};
_Static_assert(sizeof(struct ipc_stats) == 7984, "ipc_stats");

/* ---------------------------------------------------------------- */
/* Jobs, net <-> exec: IPC_NE_JOB_*, IPC_EN_JOB_* */

/*
 * The closed vocabulary of fleet jobs.  A dialect maps the names its
 * dashboard sends to these numbers; nothing else about a job crosses from
 * the net-worker.  The exec-worker turns a kind into fixed argv templates
 * filled only from its own configuration (exec-worker/jobs.c), and checks
 * the request against its own state again.  Values are never reused; the
 * socketio dialect's admin jobs will be added at the end.
 */
enum job_kind {
	JOB_NONE = 0,			/* no job; an unknown name */
	JOB_PULL = 1,
	JOB_SWITCH = 2,
	JOB_PULL_SWITCH = 3,
	JOB_TEST = 4,
	JOB_STOP = 5,			/* bypass: interrupts the job */
	JOB_RESTART = 6,		/* bypass */
	JOB_REBOOT = 7,			/* bypass */
	JOB_ROLLBACK = 8,
	JOB_UPDATE = 9,
	JOB_FORCE_UPDATE = 10,
	JOB_FORCE_REBUILD = 11,		/* force-update under its own name */
	JOB_BUMP_FLAKE = 12,
	JOB_CHECK_VERSION = 13,
	JOB_REFRESH_GIT = 14,
	JOB_REFRESH_LOCK = 15,
	JOB_REFRESH_SYSTEM = 16,
	JOB_REFRESH_ALL = 17,
	JOB_KILL = 18,			/* bypass: interrupts the job */
	JOB_UPDATE_AGENT = 19,		/* detached, survives the agent */
	JOB_KIND_MAX
};

/*
 * nixfleet §6.2: these never meet the busy check and are never answered
 * with command_rejected, on either side of the channel.
 */
#define JOB_KIND_BYPASS(k)	((k) == JOB_STOP || (k) == JOB_RESTART || \
				    (k) == JOB_REBOOT || (k) == JOB_KILL)

/* Signals, as words: the exec-worker picks the number. */
enum job_signal {
	JOB_SIG_NONE = 0,
	JOB_SIG_TERM = 1,
	JOB_SIG_KILL = 2,
};

/*
 * net -> exec JOB_START, header id = request id (echoed in the answer).
 * flags must be 0 until a flag is defined; the exec-worker refuses any
 * other bit.  arg is a number whose meaning the kind defines (later: an
 * admin job's index into the operator's allowlist, never its text); 0 for
 * every kind above.
 */
struct ipc_job_start {
	uint32_t	kind;			/* enum job_kind */
	uint32_t	flags;			/* none defined yet: 0 */
	uint32_t	arg;			/* 0 for the kinds above */
	uint32_t	pad;
};
_Static_assert(sizeof(struct ipc_job_start) == 16, "ipc_job_start");

/*
 * net -> exec JOB_SIGNAL: stop, kill, or a v2.2 kill_command.  how is
 * JOB_STOP or JOB_KILL; signal is JOB_SIG_TERM or JOB_SIG_KILL (stop and
 * kill: TERM); pid 0 is the current job, anything else must equal the
 * job's current child or the request is logged and ignored (§2.10).
 */
struct ipc_job_signal {
	uint32_t	how;			/* JOB_STOP | JOB_KILL */
	uint32_t	signal;			/* enum job_signal */
	int32_t		pid;
	uint32_t	pad;
};
_Static_assert(sizeof(struct ipc_job_signal) == 16, "ipc_job_signal");

/* ipc_job_answer.result */
enum job_answer {
	JOB_ANS_STARTED = 1,		/* job_id now runs */
	JOB_ANS_BUSY = 2,		/* another job runs: command_rejected */
	JOB_ANS_UNKNOWN = 3,		/* no such kind (idle) */
	JOB_ANS_NO_JOB = 4,		/* stop/kill while idle */
	JOB_ANS_REFUSED = 5,		/* configuration cannot run it */
};

/*
 * exec -> net, the answer to JOB_START or JOB_SIGNAL, header id = the
 * request id.  The current_* fields describe the running job (busy, and
 * every answer while one runs); current_pid 0: no child yet.
 */
struct ipc_job_answer {
	uint32_t	result;			/* enum job_answer */
	uint32_t	job_id;			/* the new or the running job */
	uint32_t	kind;			/* as requested */
	uint32_t	current_kind;		/* JOB_NONE when idle */
	int32_t		current_pid;
	uint32_t	pad;
};
_Static_assert(sizeof(struct ipc_job_answer) == 24, "ipc_job_answer");

/*
 * Job records, exec -> net, in journal order.  Every record of a job
 * carries its job id (never 0) and a sequence number that starts at 1
 * and rises by one per record (output, progress and status share it), so
 * that the net-worker can acknowledge delivery (JOB_ACK) and ask for a
 * replay from a point.
 */
#define IPC_JOB_LINE_MAX	32768	/* nixfleet §2.5: split beyond */

enum job_stream {
	JOB_STREAM_STDOUT = 1,
	JOB_STREAM_STDERR = 2,
	JOB_STREAM_AGENT = 3,		/* our banner: stdout on the wire */
	JOB_STREAM_AGENT_ERR = 4,	/* our error line: stderr */
	JOB_STREAM_DROPPED = 5,		/* lines lost; count in the record */
};

/*
 * exec -> net JOB_OUTPUT: the head, then exactly len bytes of one line
 * (no newline; possibly invalid UTF-8, which the dialect repairs).  For
 * JOB_STREAM_DROPPED len is 0 and dropped counts the lines.
 */
struct ipc_job_output {
	uint32_t	job_id;
	uint32_t	stream;			/* enum job_stream */
	uint64_t	seq;
	uint32_t	len;			/* <= IPC_JOB_LINE_MAX */
	uint32_t	dropped;
};
_Static_assert(sizeof(struct ipc_job_output) == 24, "ipc_job_output");

enum job_phase {
	JOB_PHASE_PULL = 1,
	JOB_PHASE_LOCK = 2,		/* defined, never sent (§2.8) */
	JOB_PHASE_SYSTEM = 3,
	JOB_PHASE_TESTS = 4,
	JOB_PHASE_TEST_SCRIPT = 5,	/* per-script test_progress (§2.9) */
};

enum job_phase_state {
	JOB_PS_PENDING = 1,
	JOB_PS_IN_PROGRESS = 2,
	JOB_PS_COMPLETE = 3,
	JOB_PS_ERROR = 4,
};

/* ipc_job_progress.result, for JOB_PHASE_TEST_SCRIPT */
enum job_test_result {
	JOB_TR_RUNNING = 0,		/* "" */
	JOB_TR_COUNTED = 1,		/* "<p>/<n> passed" */
	JOB_TR_NO_TESTS = 2,		/* "no tests" */
	JOB_TR_STOPPED = 3,		/* "Stopped (<p>/<n> passed)" */
};

/*
 * exec -> net JOB_PROGRESS: operation_progress (phases) or test_progress
 * (JOB_PHASE_TEST_SCRIPT: passed, running and result count); numbers
 * only, the dialect writes the text.
 */
struct ipc_job_progress {
	uint32_t	job_id;
	uint32_t	phase;			/* enum job_phase */
	uint64_t	seq;
	uint32_t	current;
	uint32_t	total;
	uint32_t	state;			/* enum job_phase_state */
	uint32_t	passed;			/* test script */
	uint32_t	running;		/* test script: 0 in the last */
	uint32_t	result;			/* enum job_test_result */
};
_Static_assert(sizeof(struct ipc_job_progress) == 40, "ipc_job_progress");

enum job_status_code {
	JOB_ST_OK = 1,
	JOB_ST_ERROR = 2,
	JOB_ST_STOPPED = 3,		/* exit 130 */
	JOB_ST_WARNING = 4,		/* exit 0 (check-version mismatch) */
};

/* ipc_job_status.after: what the agent does once the status is out */
enum job_after {
	JOB_AFTER_NONE = 0,
	JOB_AFTER_EXIT = 1,		/* restart: close 1000, exit 0 */
	JOB_AFTER_EXIT_SWITCH = 2,	/* 500 ms, close 1000, exit 101/0 */
	JOB_AFTER_REBOOT = 3,		/* 3 s, then sudo reboot */
};

#define IPC_JOB_MSG_MAX		1024

/*
 * exec -> net JOB_STATUS: the one status of a job, last record of its
 * journal.  The dialect sends it, then one heartbeat built with the job
 * already cleared.  message and generation are NUL-terminated ("" is
 * left out on the wire).
 */
struct ipc_job_status {
	uint32_t	job_id;
	uint32_t	kind;			/* enum job_kind */
	uint64_t	seq;
	uint32_t	status;			/* enum job_status_code */
	int32_t		exit_code;		/* -1: killed by a signal */
	uint32_t	after;			/* enum job_after */
	uint32_t	pad;
	char		message[IPC_JOB_MSG_MAX];
	char		generation[16];
};
_Static_assert(sizeof(struct ipc_job_status) == 1072, "ipc_job_status");

/*
 * net -> exec JOB_ACK: every record of job_id up to seq has been
 * written to a live socket (§6.7); the journal may forget them.  net ->
 * exec JOB_REPLAY (same struct) after registered: send the records of
 * job_id after seq again, then follow the journal.
 */
struct ipc_job_ack {
	uint32_t	job_id;
	uint32_t	pad;		/* JOB_REPLAY(ING): the replay's number */
	uint64_t	seq;
};
_Static_assert(sizeof(struct ipc_job_ack) == 16, "ipc_job_ack");

/*
 * net -> exec LINK_DOWN, id 0, when a registered session ends: the
 * CLOCK_MONOTONIC time from which output counts as produced while
 * disconnected (§6.7's limit applies to that output only; what was
 * written while the link was up, stalled or not, is all sent).
 */
struct ipc_link_down {
	uint64_t	mono_ns;
};
_Static_assert(sizeof(struct ipc_link_down) == 8, "ipc_link_down");

/*
 * exec -> net JOB_REPLAYING (struct ipc_job_ack), the answer to
 * JOB_REPLAY before the replayed records: the job's records after seq
 * follow.  The net-worker ignores the job's records from the link's end
 * to this one (they were sent before the replay and it brings them
 * again, possibly with a drop notice in their place).
 */

/*
 * exec -> net JOB_DROPPED, in a replay whose backlog (the output produced
 * since LINK_DOWN and not delivered) exceeds §6.7's limit (20 000 lines
 * or 4 MiB): the output lines of job_id from seq to
 * upto are skipped (the journal keeps them), and this notice of `lines`
 * dropped lines stands at seq, where the first of them was.  The records
 * that follow may skip sequence numbers up to upto + 1 (the dropped
 * lines); progress records among them still come, in order.  The
 * notice's acknowledgement is its seq.
 */
struct ipc_job_dropped {
	uint32_t	job_id;
	uint32_t	lines;			/* k, > 0 */
	uint64_t	seq;			/* the first dropped line's */
	uint64_t	upto;			/* the last dropped line's */
};
_Static_assert(sizeof(struct ipc_job_dropped) == 24, "ipc_job_dropped");

/*
 * exec -> net JOB_STATE, with every facts snapshot and at every change:
 * the running job for the heartbeat (pending_command, command_pid) and
 * the lock, system and tests compartments (nixfleet §3.5).  Strings are
 * NUL-terminated; "" where never set.
 */
struct ipc_sc {
	char		status[16];		/* ok, outdated, error, ... */
	char		message[240];
	char		checked_at[32];		/* RFC 3339, UTC, seconds */
};
_Static_assert(sizeof(struct ipc_sc) == 288, "ipc_sc");

struct ipc_job_state {
	uint32_t	job_id;			/* 0: idle */
	uint32_t	kind;			/* JOB_NONE: idle */
	int32_t		pid;			/* 0: no child yet */
	uint32_t	pad;
	struct ipc_sc	lock;
	struct ipc_sc	system;
	struct ipc_sc	tests;
};
_Static_assert(sizeof(struct ipc_job_state) == 880, "ipc_job_state");

/*
 * exec -> net IPC_EN_JOB_NOTICE: one output line of a job whose status
 * went out already (nixfleet §6.3: "❌ Reboot failed: <error>" after
 * reboot's status), sent as it comes, never replayed: it has no place
 * in the journal's records.  text is NUL-terminated UTF-8.
 */
struct ipc_job_notice {
	uint32_t	kind;			/* enum job_kind, not JOB_NONE */
	uint32_t	stream;			/* enum job_stream */
	char		text[512];
};
_Static_assert(sizeof(struct ipc_job_notice) == 520, "ipc_job_notice");

/* ---------------------------------------------------------------- */
/* Remote administration (socketio-protocol.md §6.1 - §6.6, docs/admin.md) */

/*
 * sup -> exec, after IPC_SE_CONFIG: IPC_SE_ADMIN_CONFIG once, then any
 * number of IPC_SE_ADMIN_ITEM (the lists, one entry each, in order, at
 * most IPC_ADMIN_ITEMS_MAX per list), then IPC_SE_ADMIN_END, after which
 * the exec-worker builds its policy.  Until END every request is refused
 * as if nothing were configured.  The command token goes here and never
 * to the net-worker.
 */
#define IPC_ADMINF_SHELL	0x0001	/* admin.enableShell */
#define IPC_ADMINF_REQ_TOKEN	0x0002	/* admin.requireToken */
#define IPC_ADMIN_ITEMS_MAX	256

struct ipc_admin_config {
	uint32_t	flags;			/* IPC_ADMINF_* */
	uint32_t	max_concurrent;		/* 1..64 */
	uint32_t	default_timeout_s;	/* 1..86400 */
	uint32_t	rate_max;		/* 0: off */
	uint32_t	rate_window_s;
	uint32_t	shell_idle_s;		/* 0: no idle timeout */
	char		shell[IPC_PATH_MAX];	/* shell.command */
	char		token[IPC_TOKEN_MAX];	/* admin.commandToken, secret */
	char		keys_user[IPC_SHORT_MAX];	/* "" = key sync off */
	char		shell_user[IPC_SHORT_MAX];	/* "" = the worker's */
};
_Static_assert(sizeof(struct ipc_admin_config) == 2200, "ipc_admin_config");

enum ipc_admin_list {
	IPC_AL_COMMAND = 1,		/* admin.allowedCommands */
	IPC_AL_CWD = 2,			/* admin.allowedCwds */
	IPC_AL_SHELL_ARG = 3,		/* shell.args */
	IPC_AL_SRC_ROOT = 4,		/* backup.allowedSourceRoots */
	IPC_AL_DST_ROOT = 5,		/* backup.allowedDestRoots */
};
#define IPC_AL_MAX		IPC_AL_DST_ROOT

/* IPC_SE_ADMIN_ITEM: one list entry, NUL-terminated. */
struct ipc_admin_item {
	uint32_t	list;			/* enum ipc_admin_list */
	uint32_t	pad;
	char		value[IPC_PATH_MAX];
};
_Static_assert(sizeof(struct ipc_admin_item) == 1032, "ipc_admin_item");

/*
 * net -> exec requests carry a request id in the header (never 0), which
 * the answer echoes; the net-worker keeps what it must echo (token,
 * command, user, the backup job) and the exec-worker never sees it
 * again.  A net-worker that sends more than IPC_ADMIN_PENDING_MAX
 * requests without answers is dropped.
 */
#define IPC_ADMIN_PENDING_MAX	64

/*
 * IPC_NE_ADMIN_RUN: the head, then token, command and cwd as one exact
 * tail (token_len + command_len + cwd_len == tail).  The command may hold
 * any bytes, NUL included (D8: refused with 126); token and cwd may not.
 * flags: which of token and cwd were present at all.
 */
#define IPC_ARF_TOKEN		0x0001
#define IPC_ARF_CWD		0x0002

struct ipc_admin_run {
	uint32_t	timeout_s;		/* 0: admin.defaultTimeoutSec */
	uint32_t	flags;			/* IPC_ARF_* */
	uint32_t	token_len;		/* <= IPC_TOKEN_MAX */
	uint32_t	command_len;
	uint32_t	cwd_len;		/* <= IPC_PATH_MAX */
	uint32_t	pad;
};
_Static_assert(sizeof(struct ipc_admin_run) == 24, "ipc_admin_run");

/*
 * IPC_EN_ADMIN_RESULT: the head, then stdout_len + stdout_len bytes as
 * the exact tail, already cut (admin_fit) so that the encoded result
 * fits the frame and the dialect's message.  error and signal are
 * NUL-terminated ("" is left out on the wire).
 */
#define IPC_ADMRF_TRUNCATED	0x0001

struct ipc_admin_result {
	int32_t		code;			/* summary.code */
	uint32_t	duration_ms;
	uint32_t	flags;			/* IPC_ADMRF_* */
	uint32_t	stdout_len;
	uint32_t	stderr_len;
	uint32_t	pad;
	char		signal[16];
	char		error[256];
};
_Static_assert(sizeof(struct ipc_admin_result) == 296, "ipc_admin_result");
/* What an admin result's encoding adds to its streams, at most. */
#define IPC_ADMIN_OUT_MAX	(IPC_MAX_NE - 4096)

/*
 * Shells.  A session id is 1..IPC_SESSION_MAX-1 bytes, NUL-terminated,
 * no control bytes; the net-worker answers a longer one itself.
 * IPC_NE_SHELL_START, _CLOSE: struct ipc_shell.  _RESIZE: the same with
 * cols and rows (both > 0, <= IPC_SHELL_DIM_MAX after the dialect's
 * clamp).  _INPUT and IPC_EN_SHELL_OUTPUT: the same with len, then
 * exactly len bytes (input <= IPC_SHELL_IN_MAX a frame, output <=
 * IPC_SHELL_CHUNK).  IPC_EN_SHELL_CLOSED: exactly once per started
 * session, refusals included.  Header id 0 on all of them.
 */
#define IPC_SESSION_MAX		128
#define IPC_SHELL_CHUNK		4096
#define IPC_SHELL_IN_MAX	(32 * 1024)
#define IPC_SHELL_DIM_MAX	65535

struct ipc_shell {
	char		session[IPC_SESSION_MAX];
	uint32_t	len;			/* input, output: tail bytes */
	uint32_t	cols;			/* resize */
	uint32_t	rows;			/* resize */
	uint32_t	pad;
};
_Static_assert(sizeof(struct ipc_shell) == 144, "ipc_shell");

/*
 * IPC_NE_SESSION_END, empty, id 0: the dashboard session ended (§4.3):
 * every shell gets SIGHUP, SIGKILL 2 s later, and its slot back; its
 * shell_closed is dropped with no session to carry it.  Commands and
 * backups go on.
 */

struct ipc_shell_closed {
	char		session[IPC_SESSION_MAX];
	int32_t		code;
	uint32_t	pad;
	char		reason[256];
	char		signal[16];		/* "" if none */
};
_Static_assert(sizeof(struct ipc_shell_closed) == 408, "ipc_shell_closed");

/*
 * IPC_NE_KEYS_INSTALL: the body the net-worker fetched from the key
 * source (§6.3 step 2) for a user it checked, as the exact tail (at most
 * IPC_KEYS_BODY_MAX).  The exec-worker filters and installs it into
 * admin.keysUser's authorized_keys.  IPC_EN_KEYS_RESULT answers.
 */
#define IPC_KEYS_BODY_MAX	(IPC_MAX_NE - 1024)

struct ipc_keys_install {
	uint32_t	body_len;
	uint32_t	fetch_ms;		/* time the fetch took */
};
_Static_assert(sizeof(struct ipc_keys_install) == 8, "ipc_keys_install");

struct ipc_keys_result {
	uint32_t	ok;
	uint32_t	added;
	uint32_t	ms;
	uint32_t	pad;
	char		error[256];
};
_Static_assert(sizeof(struct ipc_keys_result) == 272, "ipc_keys_result");

/*
 * IPC_NE_BACKUP_PLAN, IPC_NE_BACKUP_START: the head, then 4 + nsrc +
 * nglob NUL-terminated strings as the exact tail: planId, host, user,
 * destRoot, the source dirs, the ignore globs.  flags (start only): the
 * fields that were present, the others fall back to the stored plan.
 */
#define IPC_BKF_HOST		0x0001
#define IPC_BKF_USER		0x0002
#define IPC_BKF_PORT		0x0004
#define IPC_BKF_DEST		0x0008
#define IPC_BKF_SRC		0x0010
#define IPC_BKF_GLOB		0x0020
#define IPC_BACKUP_LIST_MAX	256
#define IPC_PLAN_ID_MAX		256

struct ipc_backup_req {
	uint32_t	port;			/* 0..65535 */
	uint32_t	flags;			/* IPC_BKF_* */
	uint32_t	nsrc;			/* <= IPC_BACKUP_LIST_MAX */
	uint32_t	nglob;			/* <= IPC_BACKUP_LIST_MAX */
};
_Static_assert(sizeof(struct ipc_backup_req) == 16, "ipc_backup_req");

/*
 * IPC_EN_BACKUP_PLAN, the answer to a plan that succeeded: the head,
 * then nfiles (<= 25) NUL-terminated rel paths as the exact tail.
 */
struct ipc_backup_plan {
	uint64_t	total_files;
	uint64_t	total_bytes;
	uint32_t	nfiles;
	uint32_t	pad;
};
_Static_assert(sizeof(struct ipc_backup_plan) == 24, "ipc_backup_plan");

/*
 * IPC_EN_BACKUP_PROGRESS: a running backup.  The first one of a run
 * carries the BACKUP_START's header id (the start is accepted), the rest
 * id 0.
 */
enum ipc_backup_op {
	IPC_BK_COPY = 1,
	IPC_BK_RSYNC = 2,
};

struct ipc_backup_progress {
	uint64_t	transferred;
	uint64_t	total_bytes;
	uint32_t	files_completed;
	uint32_t	op;			/* enum ipc_backup_op */
	char		plan_id[IPC_PLAN_ID_MAX];
	char		file[IPC_PATH_MAX];
};
_Static_assert(sizeof(struct ipc_backup_progress) == 1304,
    "ipc_backup_progress");

/*
 * IPC_EN_BACKUP_DONE: header id = the request's for a plan that failed
 * (backup_error) and for a start refused at once; 0 for the end of a
 * run (backup_complete when ok, else backup_error).
 */
struct ipc_backup_done {
	uint32_t	ok;
	uint32_t	ms;
	uint64_t	transferred;
	char		plan_id[IPC_PLAN_ID_MAX];
	char		error[512];
};
_Static_assert(sizeof(struct ipc_backup_done) == 784, "ipc_backup_done");

/*
 * IPC_SE_BACKUP_CONFIG, sup -> exec, once, between IPC_SE_ADMIN_CONFIG
 * and IPC_SE_ADMIN_END: how a remote backup's ssh authenticates
 * (backup.ssh*, docs/admin.md).  "" is unset: ssh's own default.  With
 * all three unset rsync's -e is §6.5's "ssh -p <port>" exactly.
 */
#define IPC_BKCF_SKIP_HOSTKEY	0x0001	/* backup.sshSkipHostKeyCheck */

struct ipc_backup_config {
	uint32_t	flags;			/* IPC_BKCF_* */
	uint32_t	pad;
	char		identity[IPC_PATH_MAX];	/* backup.sshIdentityFile */
	char		known_hosts[IPC_PATH_MAX];	/* .sshKnownHostsFile */
};
_Static_assert(sizeof(struct ipc_backup_config) == 2056,
    "ipc_backup_config");
/*
 * IPC_SE_JOBS_CONFIG, sup -> exec, once, right after IPC_SE_CONFIG: the
 * settings jobs are built from (nixfleet §4.1, §6.1).  Strings are
 * NUL-terminated; "" is unset.  keep is the retention (newest N jobs).
 */
struct ipc_exec_jobs {
	uint32_t	isolated;		/* NIXFLEET_REPO_URL set */
	uint32_t	keep;			/* 0: JOURNAL_KEEP_DEFAULT */
	char		branch[256];		/* NIXFLEET_BRANCH */
	char		ssh_key[IPC_PATH_MAX];	/* NIXFLEET_SSH_KEY */
	char		user[IPC_SHORT_MAX];	/* NIXFLEET_USER */
};
_Static_assert(sizeof(struct ipc_exec_jobs) == 1352, "ipc_exec_jobs");

/*
 * IPC_SN_JOBS_CONFIG, sup -> net, once, right after IPC_SN_CONFIG (before
 * the CA bundle): register.agent_version (NIXFLEET_REPORT_VERSION, ""
 * for our own version).
 */
struct ipc_net_jobs {
	char		report_version[IPC_SHORT_MAX];
};
_Static_assert(sizeof(struct ipc_net_jobs) == 64, "ipc_net_jobs");

/*
 * IPC_ES_EXIT, exec -> sup, after the net-worker acknowledged the status
 * of a restart or a successful switch (§6.3, §6.4): shut down as for
 * SIGTERM (close 1000 "shutdown") and exit with code, 0 or 101.  Code 1
 * at startup: the repository could not be cloned, or the legacy
 * directory is missing (§4.2, IPC_SE_REPO_CONFIG); the service manager
 * retries.
 */
struct ipc_exit {
	uint32_t	code;			/* 0 | 101 | 1 */
	uint32_t	pad;
};
_Static_assert(sizeof(struct ipc_exit) == 8, "ipc_exit");

/*
 * IPC_SE_REPO_CONFIG, sup -> exec, once, right after IPC_SE_JOBS_CONFIG:
 * the repository mode (nixfleet §4.2).  The directory is
 * ipc_exec_config.repo_dir, branch, key and user ipc_exec_jobs'.  Before
 * it answers a facts request, the exec-worker makes sure of the
 * repository: LEGACY, the directory must exist; ISOLATED, a missing
 * checkout is cloned from url, one that git rev-parse calls corrupt is
 * removed and cloned again (exec-worker/repo.c).  On failure it sends
 * IPC_ES_EXIT {1}.  origin names the directory's setting and source for
 * the error message ("NIXFLEET_REPO_DIR (environment)").
 */
enum ipc_repo_mode {
	IPC_REPO_NONE = 0,			/* socketio: no repository */
	IPC_REPO_LEGACY = 1,
	IPC_REPO_ISOLATED = 2,
};
#define IPC_REPO_URL_MAX	2048		/* NUL included */
#define IPC_REPO_CLONE_S	600		/* the clone's time bound */

struct ipc_exec_repo {
	uint32_t	mode;			/* enum ipc_repo_mode */
	uint32_t	pad;
	char		url[IPC_REPO_URL_MAX];	/* NIXFLEET_REPO_URL */
	char		origin[512];
};
_Static_assert(sizeof(struct ipc_exec_repo) == 2568, "ipc_exec_repo");

/*
 * The net-worker's last words before the sandbox kills it by SIGSYS, on
 * its stderr: "<3>net: " IPC_SIGSYS_LINE "<nr> arch 0x<audit arch>".  The
 * supervisor names the call from them (worker.c).
 */
#define IPC_SIGSYS_LINE		"sandbox: forbidden system call "

/*
 * IPC_SN_KEYSRC_CONFIG, sup -> net, once, right after IPC_SN_CONFIG
 * (before IPC_SN_CA_BEGIN): where sync_keys fetches from
 * (socketio-protocol.md §6.3 step 2, admin.keysSourceUrl).  host is for
 * SNI, the certificate check and the Host header only: the supervisor
 * connects IPC_EP_KEYSRC to host:port itself.  The request is GET
 * path "/" <user> ".keys" (path "" for the root, else "/a/b" without a
 * trailing slash).  ca_size 0: verify with the dashboard's bundle;
 * otherwise ca_size bytes follow as IPC_SN_KEYSRC_CA chunks (at most
 * IPC_CA_CHUNK each), also before IPC_SN_CA_BEGIN.  Verification is
 * always on: transport.skipTlsVerify never applies here.
 */
#define IPC_KEYSRCF_ENABLED	0x0001	/* admin.keysUser is set */
#define IPC_KEYSRC_CA_MAX	(1024 * 1024)
#define IPC_KEYSRC_TIMEOUT_MS	10000	/* §6.3: 10 s for the whole fetch */

struct ipc_keysrc_config {
	uint32_t	flags;			/* IPC_KEYSRCF_* */
	uint32_t	port;			/* 1..65535 */
	uint32_t	timeout_ms;		/* 1..IPC_CONNECT_TIMEOUT_MAX_MS */
	uint32_t	ca_size;		/* <= IPC_KEYSRC_CA_MAX */
	char		host[256];		/* no brackets for IPv6 */
	char		path[IPC_URL_MAX];	/* prefix, "" or "/..." */
};
_Static_assert(sizeof(struct ipc_keysrc_config) == 1296,
    "ipc_keysrc_config");

const char	*ipc_type_name(uint32_t);

#endif
