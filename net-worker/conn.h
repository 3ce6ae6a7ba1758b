/*
 * conn.h: one WebSocket connection of the net-worker, from a connected
 * socket the supervisor passed us to a closed socket: optional HTTP
 * CONNECT tunnel, TLS (mbedTLS), the upgrade, wslay, keepalive, close.
 *
 * The connection never dials and never retries: when it ends, for any
 * reason, it calls cb->closed once and goes back to idle; net.c decides
 * when to ask the supervisor for the next socket.
 */
#ifndef CONN_H
#define CONN_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

struct conn;

struct conn_params {
	const char	*url;		/* ws:// or wss://, verbatim */
	const char	*headers;	/* extra "Name: value\r\n" lines */
	const char	*user_agent;	/* NULL: none */
	const char	*proxy_auth;	/* Proxy-Authorization value or NULL */
	int		 skip_verify;	/* logs a warning per connection */
	int		 allow_http;	/* ws:// to non-loopback allowed */
	const uint8_t	(*pins)[32];	/* SPKI SHA-256 pins */
	int		 npins;
	uint32_t	 ping_ms;	/* 0: no keepalive pings */
	uint32_t	 dead_ms;	/* silence that kills; 0: none */
	uint32_t	 handshake_ms;	/* tunnel + TLS + upgrade */
	uint32_t	 close_ms;	/* wait for the peer's close; 0: 5 s */
	uint32_t	 stall_ms;	/* output without progress; 0: 10 s */
	uint32_t	 max_msg;	/* larger incoming: close 1009 */
	size_t		 highwater;	/* outgoing queue, bytes; 0: no limit */
	uint32_t	 msg_ms;	/* a fragmented message's deadline; 0: 30 s */
	uint32_t	 max_frags;	/* frames per message; 0: 1024 */
};

/* Why a connection ended, for the reconnect policy and the logs. */
enum conn_end {
	CONN_END_ERROR = 1,	/* network, TLS, protocol */
	CONN_END_AUTH,		/* HTTP 401/403 at the upgrade */
	CONN_END_CLOSED,	/* close handshake completed or peer closed */
	CONN_END_DEAD,		/* keepalive deadline */
	CONN_END_TIMEOUT,	/* handshake deadline */
};

struct conn_cb {
	void	(*open)(struct conn *, void *arg);
	void	(*message)(struct conn *, const char *data, size_t len,
		    int binary, void *arg);
	/* Once per conn_start, whatever happened; why is human text. */
	void	(*closed)(struct conn *, int end, const char *why, void *arg);
};

/* Parses the CA bundle (PEM or DER, may be NULL with skip_verify). */
struct conn	*conn_new(struct ev_loop *, const struct conn_params *,
		    const struct conn_cb *, void *arg,
		    const uint8_t *ca, size_t calen, const char **why);
/* No closed() for a running attempt; safe inside a callback. */
void		 conn_free(struct conn *);
/*
 * Take a connected socket (the connection closes it).  via_proxy: it
 * reaches the proxy, tunnel to target ("host:port"; NULL: the URL's)
 * with CONNECT first.  Never calls closed() before returning.
 */
void		 conn_start(struct conn *, int fd, int via_proxy,
		    const char *target);
int		 conn_is_open(const struct conn *);
int		 conn_is_idle(const struct conn *);
/* Queue one text message; -1 if not open or above the high-water mark. */
int		 conn_send_text(struct conn *, const char *, size_t);
size_t		 conn_queued(const struct conn *);
/* Close handshake; closed() follows after the peer's close or close_ms. */
void		 conn_close(struct conn *, uint16_t code, const char *reason);
/* Drop the socket now; closed() follows. */
void		 conn_abort(struct conn *, const char *why);
/*
 * The request target of the next attempts ("/path?query"), for dialects
 * that sign each upgrade (socketio); -1 (EINVAL) while an attempt runs.
 */
int		 conn_set_path(struct conn *, const char *path);

#endif
