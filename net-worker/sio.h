/*
 * sio.h: the socketio dialect's client state machine (socketio-protocol.md
 * §8.1, §2.4, §4.2, §4.4) as pure code.  Inputs are transport events,
 * decoded frames and the clock; outputs are calls through struct sio_ops
 * (frames to send, a close, events for the dialect).  It opens nothing
 * and arms nothing: the owner runs one timer for sio_next_deadline().
 * Times are monotonic milliseconds.
 */
#ifndef SIO_H
#define SIO_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "eio.h"

enum sio_state {
	SIO_S_BACKOFF = 0,	/* waiting to dial */
	SIO_S_DIALING,		/* fresh ts/sig; TCP, TLS, upgrade */
	SIO_S_EIO_OPENING,	/* upgraded, waiting for 0{...} */
	SIO_S_NS_CONNECTING,	/* 40/agents, sent; EVENTs buffered */
	SIO_S_CONNECTED,	/* namespace joined */
	SIO_S_ACKED,		/* hello_ack seen */
	SIO_S_CLOSING,		/* our close is out; waiting for the end */
	SIO_S_EXIT,		/* shut down */
};

/* The close codes the machine asks for. */
#define SIO_CLOSE_ABORT		0	/* drop TCP, no close frame */
#define SIO_CLOSE_NORMAL	1000
#define SIO_CLOSE_TOO_BIG	1009

#define SIO_BUF_PACKETS		64		/* §2.4 */
#define SIO_BUF_BYTES		(1024 * 1024)
#define SIO_BACKOFF_BASE_MS	1000		/* §4.4 */
#define SIO_BACKOFF_MAX_MS	30000
#define SIO_BACKOFF_FLOOR_MS	100
#define SIO_REJECT_HINT		3		/* §3.4 */

struct sio_timing {
	uint32_t	dial_ms;	/* 20000: TCP + TLS + upgrade */
	uint32_t	open_ms;	/* 20000: upgrade to open packet */
	uint32_t	connect_ms;	/* 20000: CONNECT to its answer */
	uint32_t	close_ms;	/* 5000: our close to the end */
	uint32_t	stats_ms;	/* statsIntervalSec */
	uint32_t	heartbeat_ms;	/* heartbeatIntervalSec */
	uint32_t	idle_ms;	/* pongTimeoutSec / 2 */
};

/*
 * What the owner does for the machine.  Each may call back into sio_emit
 * (event, hello, stats, idle do); none may free the machine.
 */
struct sio_ops {
	/* Start an attempt: new ts/sig, new TCP/TLS, upgrade. */
	void	(*dial)(void *arg);
	/* One text frame; 0, or -1 (the machine closes). */
	int	(*send)(void *arg, const char *frame, size_t len);
	/* Close the WebSocket with code (SIO_CLOSE_ABORT: drop TCP). */
	void	(*close)(void *arg, int code, const char *why);
	/* An inbound event for /agents; payload is always an object. */
	void	(*event)(void *arg, const char *name, json_t *payload);
	/* hello_ack: emit stats now; first is 1 once per session. */
	void	(*hello)(void *arg, int first);
	/* The stats timer fired. */
	void	(*stats)(void *arg);
	/* The idle heartbeat: emit ping {"ts":<now ms>}. */
	void	(*idle)(void *arg);
	/* The session ended: stop its work, kill PTYs (D6). */
	void	(*session_end)(void *arg, int acked);
	/* 32 random bits for the jitter. */
	uint32_t (*rnd)(void *arg);
};

struct sio_early {			/* one packet buffered before the ack */
	char		*text;		/* the packet; NULL: ack only */
	size_t		 len;
	int64_t		 ack;
};

struct sio {
	int			 state;		/* enum sio_state */
	struct sio_timing	 t;
	const struct sio_ops	*ops;
	void			*arg;
	int			 acked;		/* this session saw hello_ack */
	int			 exiting;	/* shutdown asked */
	uint32_t		 base_ms;	/* backoff base */
	uint32_t		 last_delay_ms;	/* for tests and logs */
	int			 rejects;	/* consecutive rejections */
	int			 hints;		/* clock hints logged */
	struct eio_open		 open;
	int			 opened;	/* open packet seen */
	uint64_t		 dl_state;	/* state deadline, 0: none */
	uint64_t		 dl_watchdog;
	uint64_t		 dl_heartbeat;
	uint64_t		 dl_stats;
	uint64_t		 last_traffic;
	int			 attach_left;	/* binary frames still to eat */
	int64_t			 attach_ack;	/* their ack id, or -1 */
	struct sio_early	 early[SIO_BUF_PACKETS];
	int			 nearly;
	size_t			 early_bytes;
	char			 why[160];	/* last session end */
};

void	sio_init(struct sio *, const struct sio_timing *,
	    const struct sio_ops *, void *arg);
void	sio_free(struct sio *);
/* Dial now (the first attempt does not wait). */
void	sio_start(struct sio *, uint64_t now);
/* Transport results. */
void	sio_upgraded(struct sio *, uint64_t now);
/* http_status: the refused upgrade's status, 0 for other failures. */
void	sio_dial_failed(struct sio *, uint64_t now, int http_status,
	    const char *why);
/* The connection is gone (close, EOF, TLS error, or our close done). */
void	sio_transport_closed(struct sio *, uint64_t now, const char *why);
/* Frames. */
void	sio_text(struct sio *, uint64_t now, const char *frame, size_t len);
void	sio_binary(struct sio *, uint64_t now, size_t len);
/* Run every deadline <= now; the next one, 0 if none. */
void	sio_tick(struct sio *, uint64_t now);
uint64_t sio_next_deadline(const struct sio *);
/*
 * Emit an event on /agents.  0, or -1 with errno ENOTCONN (not
 * connected: dropped, §4.3), EMSGSIZE (the frame would exceed
 * maxPayload: refused, nothing sent), or the encoder's error.
 */
int	sio_emit(struct sio *, uint64_t now, const char *name,
	    const json_t *payload);
/* SIGTERM: 41/agents, and close 1000 if connected, then EXIT. */
void	sio_shutdown(struct sio *, uint64_t now);
/* maxPayload of the current session (1,000,000 before one). */
size_t	sio_max_payload(const struct sio *);
const char *sio_state_name(int);

#endif
