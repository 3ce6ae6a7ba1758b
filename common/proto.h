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

	IPC_SN_CONFIG = IPC_SN | 0x01,
	IPC_SN_CA_BEGIN = IPC_SN | 0x02,
	IPC_SN_CA_CHUNK = IPC_SN | 0x03,
	IPC_SN_CA_END = IPC_SN | 0x04,
	IPC_SN_CONNECTED = IPC_SN | 0x05,
	IPC_SN_PING = IPC_SN | 0x06,
	IPC_SN_SHUTDOWN = IPC_SN | 0x07,

	IPC_ES_PONG = IPC_ES | 0x01,

	IPC_SE_CONFIG = IPC_SE | 0x01,
	IPC_SE_PING = IPC_SE | 0x02,
	IPC_SE_SHUTDOWN = IPC_SE | 0x03,

	IPC_NE_FACTS_REQ = IPC_NE | 0x01,

	IPC_EN_FACTS = IPC_EN | 0x01,
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
	IPC_EP_KEYSRC = 2,		/* the SSH key source (later) */
};

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
	uint32_t	timeout_ms;
};
_Static_assert(sizeof(struct ipc_connect) == 8, "ipc_connect");

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
 * watchdog is fed only while both answer.
 *
 * IPC_SN_SHUTDOWN / IPC_SE_SHUTDOWN, sup -> worker, empty: finish (close
 * 1000 "shutdown") and exit 0.  The supervisor kills at its deadline.
 */

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

/* ---------------------------------------------------------------- */
/* net <-> exec */

/*
 * IPC_NE_FACTS_REQ, net -> exec, empty: send a snapshot now (at every
 * register).  Permitted after HELLO.
 */

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
 * The net-worker's last words before the sandbox kills it by SIGSYS, on
 * its stderr: "<3>net: " IPC_SIGSYS_LINE "<nr> arch 0x<audit arch>".  The
 * supervisor names the call from them (worker.c).
 */
#define IPC_SIGSYS_LINE		"sandbox: forbidden system call "

const char	*ipc_type_name(uint32_t);

#endif
