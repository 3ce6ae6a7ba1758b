/*
 * http.h: the two HTTP/1.1 exchanges of a connection: the WebSocket
 * upgrade (RFC 6455 section 4) and the proxy's CONNECT tunnel (RFC 9110
 * section 9.3.6).  Requests are built whole; responses are parsed
 * incrementally, byte by byte, with hard limits, so a hostile server
 * can neither grow our memory nor make us misread the stream.
 */
#ifndef HTTP_H
#define HTTP_H

#include <stddef.h>
#include <stdint.h>

struct url;

#define HTTP_NONCE_LEN		16	/* random bytes of the key */
#define HTTP_KEY_SIZE		25	/* base64 of the nonce, NUL */
#define HTTP_ACCEPT_SIZE	29	/* base64 of a SHA-1, NUL */
#define HTTP_HEADERS_MAX	(16 * 1024)	/* status line + headers */
#define HTTP_LINE_MAX		8192	/* one line, CRLF included */
#define HTTP_FIELDS_MAX		100	/* header lines */
#define HTTP_BODY_MAX		512	/* refusal body kept for the log */
#define HTTP_REASON_MAX		128
#define HTTP_WHY_MAX		(HTTP_REASON_MAX + HTTP_BODY_MAX + 64)

/* Sec-WebSocket-Key from 16 random bytes. */
void	http_ws_key(const uint8_t nonce[HTTP_NONCE_LEN],
	    char key[HTTP_KEY_SIZE]);
/* The Sec-WebSocket-Accept a server must answer key with. */
void	http_ws_accept(const char *key, char accept[HTTP_ACCEPT_SIZE]);

/*
 * The upgrade request for u: GET path, Host (url_authority), Upgrade,
 * Connection, the key, version 13, User-Agent if ua is not NULL, then
 * headers ("Name: value\r\n" lines, may be NULL).  No Origin, no
 * subprotocol, no extension.  Returns a malloc'd NUL-terminated string
 * and its length, or NULL with errno EINVAL if ua or headers could
 * smuggle a line break or are not well-formed header lines.
 */
char	*http_upgrade_request(const struct url *u, const char *key,
	    const char *ua, const char *headers, size_t *len);
/*
 * "CONNECT authority HTTP/1.1" with Host, and Proxy-Authorization when
 * auth is not NULL.  authority is "host:port" ("[v6]:port").  Returns
 * a malloc'd string or NULL with errno EINVAL.
 */
char	*http_connect_request(const char *authority, const char *auth,
	    const char *ua, size_t *len);

enum http_kind {
	HTTP_UPGRADE = 1,	/* 101 with a valid accept, or a refusal */
	HTTP_CONNECT,		/* 2xx opens the tunnel */
};

enum http_result {
	HTTP_FAIL = -1,		/* see why and auth */
	HTTP_MORE = 0,		/* every byte consumed, feed more */
	HTTP_DONE = 1,		/* *used bytes consumed, the rest is data */
};

struct http_resp {
	int		 kind;		/* enum http_kind */
	int		 state;		/* http.c: where the parser is */
	int		 result;	/* sticky once DONE or FAIL */
	char		 accept[HTTP_ACCEPT_SIZE];	/* expected */
	int		 status;	/* 0 until the status line is read */
	char		 reason[HTTP_REASON_MAX];
	int		 auth;		/* the failure is a 401/403 */
	size_t		 total;		/* header bytes so far */
	int		 fields;
	char		 line[HTTP_LINE_MAX];
	size_t		 linelen;
	int		 cr;		/* last byte was CR */
	unsigned int	 seen;		/* http.c: HTTP_SEEN_* bits */
	long long	 clen;		/* Content-Length, -1 if none */
	size_t		 bodywant;	/* refusal body still to read */
	char		 body[HTTP_BODY_MAX];
	size_t		 bodylen;
	char		 why[HTTP_WHY_MAX];	/* failure, human text */
};

/* key is the request's Sec-WebSocket-Key, NULL for HTTP_CONNECT. */
void	http_resp_init(struct http_resp *, int kind, const char *key);
/*
 * Feed the next n bytes.  HTTP_MORE: all consumed (*used == n).
 * HTTP_DONE: the response was accepted and *used bytes belong to it;
 * what follows belongs to the WebSocket (or tunnelled) stream.
 * HTTP_FAIL: why says what was wrong, auth is set for 401 and 403.
 * Once DONE or FAIL, every later call returns the same, *used 0.
 */
int	http_resp_feed(struct http_resp *, const uint8_t *, size_t n,
	    size_t *used);
/*
 * The stream ended, or the wait for a refusal's body is over: returns
 * HTTP_FAIL with the refusal if its headers were complete, otherwise
 * with "connection closed during the upgrade" (or the CONNECT).
 */
int	http_resp_finish(struct http_resp *);
/* 1 while only the body of a refusal is still awaited. */
int	http_resp_in_body(const struct http_resp *);

#endif
