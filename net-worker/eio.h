/*
 * eio.h: the Engine.IO v4 and Socket.IO v5 packet codec of the socketio
 * dialect (socketio-protocol.md §1, §2).  Pure functions: text in,
 * verdicts and packets out.  What to do with a packet is sio.c's.
 */
#ifndef EIO_H
#define EIO_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Engine.IO packet types: the first byte of a text frame, minus '0'. */
enum eio_type {
	EIO_OPEN = 0,
	EIO_CLOSE = 1,
	EIO_PING = 2,
	EIO_PONG = 3,
	EIO_MESSAGE = 4,
	EIO_UPGRADE = 5,
	EIO_NOOP = 6,
};

#define EIO_MAX_PAYLOAD_DEFAULT	1000000		/* open without maxPayload */
#define EIO_FRAME_MAX		(16 * 1024 * 1024)	/* inbound, §1.4 */
#define EIO_PING_MAX_MS		INT32_MAX	/* keeps the sum in range */

struct eio_open {
	char		sid[64];	/* for logs; printable, may be cut */
	int64_t		ping_interval_ms;
	int64_t		ping_timeout_ms;
	int64_t		max_payload;	/* EIO_MAX_PAYLOAD_DEFAULT if absent */
};

/* enum eio_type of a text frame, or -1 if empty or unknown (§2.7 #1, #2). */
int	eio_frame_type(const char *frame, size_t len);
/*
 * The open packet's JSON (the frame after its '0').  0, or -1 with why
 * set: not an object, no sid, ping values missing, <= 0 or not integers.
 */
int	eio_open_decode(const char *data, size_t len, struct eio_open *,
	    char *why, size_t whysize);

/*
 * The request target of §1.1: url_path (struct url's path; any query or
 * fragment is dropped) cleaned and without a trailing '/', transport_path
 * with its slashes trimmed, a mandatory trailing '/', then
 * "?EIO=4&transport=websocket" and "&" auth_query if that is not empty.
 * Its length, or -1 (ENOSPC).
 */
int	eio_target(char *buf, size_t size, const char *url_path,
	    const char *transport_path, const char *auth_query);

/* Socket.IO packet types (§2.1). */
enum sio_ptype {
	SIO_CONNECT = 0,
	SIO_DISCONNECT = 1,
	SIO_EVENT = 2,
	SIO_ACK = 3,
	SIO_CONNECT_ERROR = 4,
	SIO_BINARY_EVENT = 5,
	SIO_BINARY_ACK = 6,
};

#define SIO_NSP			"/agents"
#define SIO_ATTACH_MAX		16
#define SIO_ACK_DIGITS_MAX	15
#define SIO_JSON_DEPTH_MAX	32

enum sio_verdict {
	SIO_V_OK = 0,		/* a valid packet for /agents */
	SIO_V_OTHER_NSP,	/* well-formed, another namespace: ignore */
	SIO_V_DROP,		/* a fault inside the packet: log, drop */
	SIO_V_CLOSE,		/* a protocol error: close, reconnect */
};

struct sio_packet {
	int		 type;		/* enum sio_ptype, -1 unknown */
	int		 nattach;	/* types 5/6: attachments that follow */
	int64_t		 ack;		/* -1: no ack id */
	char		 nsp[64];	/* printable, for logs */
	json_t		*data;		/* the payload, NULL if absent */
	const char	*event;		/* EVENT/BINARY_EVENT: args[0] */
	json_t		*arg;		/* args[1] (borrowed), NULL if absent */
	char		 reason[256];	/* CONNECT_ERROR; DISCONNECT message */
	char		 error[128];	/* SIO_V_DROP, SIO_V_CLOSE: why */
};

/*
 * Decode the Socket.IO packet s (an Engine.IO message without its '4').
 * Never fails: the verdict says what to do; p->nattach is set whenever
 * the header could be read, so attachments are consumed even for a
 * dropped or foreign packet.  Call sio_packet_clear afterwards.
 */
int	sio_packet_decode(const char *s, size_t len, struct sio_packet *p);
void	sio_packet_clear(struct sio_packet *);
/* Whether a name is reserved by Socket.IO (§2.1). */
int	sio_reserved_name(const char *);

/*
 * Complete Engine.IO text frames for /agents, the only four the agent
 * sends (§2.1).  Length, or -1 (ENOSPC).
 */
int	sio_encode_connect(char *buf, size_t size);		/* 40/agents, */
int	sio_encode_disconnect(char *buf, size_t size);	/* 41/agents, */
/* 43/agents,<id>[] */
int	sio_encode_ack(char *buf, size_t size, int64_t id);
/*
 * 42/agents,["<name>",<payload>] in malloc'd memory; payload must be an
 * object (§2.8 rules hold for jansson's compact output of valid UTF-8).
 * NULL with errno set (EINVAL, ENOMEM).
 */
char	*sio_encode_event(const char *name, const json_t *payload,
	    size_t *lenp);

#endif
