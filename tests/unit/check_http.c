/*
 * check_http.c: the upgrade and CONNECT exchanges (http.c), and a whole
 * connection (conn.c) against a scripted WebSocket server written here:
 * a child process on the other end of a socketpair, bounded by alarm(),
 * that reports what it saw through its exit status.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <check.h>
#include <poll.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <mbedtls/base64.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha1.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>

#include "conn.h"
#include "http.h"
#include "testlib.h"
#include "tls.h"
#include "url.h"

#define KEY	"dGhlIHNhbXBsZSBub25jZQ=="	/* RFC 6455 section 1.3 */
#define ACCEPT	"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
#define OK101	"HTTP/1.1 101 Switching Protocols\r\n" \
		"Upgrade: websocket\r\n" \
		"Connection: Upgrade\r\n" \
		"Sec-WebSocket-Accept: " ACCEPT "\r\n"

/* ------------------------------------------------------------------ */
/* http.c */

static int
feed_all(struct http_resp *r, const char *s, size_t *used)
{
	return http_resp_feed(r, (const uint8_t *)s, strlen(s), used);
}

static int
parse(int kind, const char *s, struct http_resp *r)
{
	size_t	 used;
	int	 rv;

	http_resp_init(r, kind, kind == HTTP_UPGRADE ? KEY : NULL);
	rv = feed_all(r, s, &used);
	if (rv == HTTP_MORE)
		rv = http_resp_finish(r);
	return rv;
}

START_TEST(test_http_ws_key_accept)
{
	char	 key[HTTP_KEY_SIZE], accept[HTTP_ACCEPT_SIZE];

	http_ws_key((const uint8_t *)"the sample nonce", key);
	ck_assert_str_eq(key, KEY);
	http_ws_accept(key, accept);
	ck_assert_str_eq(accept, ACCEPT);
}
END_TEST

static char *
request_for(const char *url, const char *ua, const char *headers)
{
	struct url	 u;
	const char	*why;
	char		*req;
	size_t		 len;

	ck_assert_msg(url_parse(url, &u, &why) == 0, "%s: %s", url, why);
	req = http_upgrade_request(&u, KEY, ua, headers, &len);
	if (req != NULL)
		ck_assert_uint_eq(strlen(req), len);
	return req;
}

START_TEST(test_http_request_contents)
{
	char	*req;

	req = request_for("wss://dash.example.com/ws", "agent/1.0",
	    "Authorization: Bearer t0k3n\r\n");
	ck_assert_ptr_nonnull(req);
	ck_assert_msg(strncmp(req, "GET /ws HTTP/1.1\r\n", 18) == 0, "%s",
	    req);
	ck_assert_ptr_nonnull(strstr(req, "\r\nHost: dash.example.com\r\n"));
	ck_assert_ptr_nonnull(strstr(req, "\r\nUpgrade: websocket\r\n"));
	ck_assert_ptr_nonnull(strstr(req, "\r\nConnection: Upgrade\r\n"));
	ck_assert_ptr_nonnull(strstr(req, "\r\nSec-WebSocket-Key: " KEY
	    "\r\n"));
	ck_assert_ptr_nonnull(strstr(req, "\r\nSec-WebSocket-Version: 13\r\n"));
	ck_assert_ptr_nonnull(strstr(req, "\r\nUser-Agent: agent/1.0\r\n"));
	ck_assert_ptr_nonnull(strstr(req,
	    "\r\nAuthorization: Bearer t0k3n\r\n"));
	ck_assert_ptr_null(strcasestr(req, "origin"));
	ck_assert_ptr_null(strcasestr(req, "Sec-WebSocket-Protocol"));
	ck_assert_ptr_null(strcasestr(req, "Sec-WebSocket-Extensions"));
	/* One blank line, at the end. */
	ck_assert_ptr_eq(strstr(req, "\r\n\r\n"), req + strlen(req) - 4);
	free(req);

	/* No User-Agent unless given; the query goes along verbatim. */
	req = request_for("ws://10.0.0.5:3000/socket.io/?EIO=4&transport="
	    "websocket", NULL, NULL);
	ck_assert_ptr_nonnull(req);
	ck_assert_msg(strncmp(req, "GET /socket.io/?EIO=4&transport="
	    "websocket HTTP/1.1\r\n", 52) == 0, "%s", req);
	ck_assert_ptr_nonnull(strstr(req, "\r\nHost: 10.0.0.5:3000\r\n"));
	ck_assert_ptr_null(strcasestr(req, "user-agent"));
	free(req);
}
END_TEST

START_TEST(test_http_request_host)
{
	char	*req;

	req = request_for("wss://dash.example.com:8443/ws", NULL, NULL);
	ck_assert_ptr_nonnull(strstr(req, "\r\nHost: dash.example.com:8443"
	    "\r\n"));
	free(req);
	req = request_for("ws://[::1]:9000/ws", NULL, NULL);
	ck_assert_ptr_nonnull(strstr(req, "\r\nHost: [::1]:9000\r\n"));
	free(req);
	req = request_for("wss://[2001:db8::1]/ws", NULL, NULL);
	ck_assert_ptr_nonnull(strstr(req, "\r\nHost: [2001:db8::1]\r\n"));
	free(req);
	req = request_for("ws://localhost", NULL, NULL);
	ck_assert_msg(strncmp(req, "GET / HTTP/1.1\r\nHost: localhost\r\n",
	    33) == 0, "%s", req);
	free(req);
}
END_TEST

START_TEST(test_http_request_injection)
{
	static const char *const bad[] = {
		"Origin: https://evil\r\n",	/* never sent */
		"origin: x\r\n",
		"Sec-WebSocket-Protocol: chat\r\n",
		"Host: other\r\n",
		"X-A: 1",			/* no line end */
		"X-A: 1\n",			/* bare LF */
		"X-A: 1\r\n\r\nGET / HTTP/1.1\r\n",	/* ends early */
		"X A: 1\r\n",
		": 1\r\n",
		"X-A 1\r\n",
		"X-A: a\rb\r\n",
	};
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		ck_assert_msg(request_for("wss://h/ws", NULL, bad[i]) == NULL,
		    "accepted %zu", i);
		ck_assert_int_eq(errno, EINVAL);
	}
	ck_assert_ptr_null(request_for("wss://h/ws", "ua\r\nOrigin: x",
	    NULL));
	ck_assert_ptr_null(request_for("wss://h/ws", "ua\n", NULL));
}
END_TEST

START_TEST(test_http_response_valid_split)
{
	static const char *const resp[] = {
		OK101 "\r\n",
		"HTTP/1.1 101 Switching Protocols\r\n"
		"upgrade: WebSocket\r\n"
		"connection: keep-alive,  upgrade \r\n"
		"Sec-WebSocket-Accept:" ACCEPT "  \r\n"
		"Server: x\r\n"
		"Sec-WebSocket-Extensions: \r\n"
		"\r\n",
		"HTTP/1.1 101\r\n"		/* no reason phrase */
		"Upgrade: websocket\r\n"
		"Connection: Upgrade\r\n"
		"Sec-WebSocket-Accept: " ACCEPT "\r\n\r\n",
	};
	const char	*extra = "\x81\x05hello\x88\x00";
	struct http_resp r;
	char		 buf[1024];
	size_t		 i, k, n, used, elen = 9, hlen;
	int		 rv;

	for (i = 0; i < sizeof(resp) / sizeof(resp[0]); i++) {
		hlen = strlen(resp[i]);
		n = snprintf(buf, sizeof(buf), "%s", resp[i]);
		memcpy(buf + n, extra, elen);
		n += elen;
		/* Two pieces, split at every position. */
		for (k = 0; k <= n; k++) {
			http_resp_init(&r, HTTP_UPGRADE, KEY);
			rv = http_resp_feed(&r, (uint8_t *)buf, k, &used);
			if (rv == HTTP_MORE) {
				ck_assert_uint_eq(used, k);
				ck_assert_uint_lt(k, hlen);
				rv = http_resp_feed(&r, (uint8_t *)buf + k,
				    n - k, &used);
				used += k;
			}
			ck_assert_msg(rv == HTTP_DONE, "%zu/%zu: %s", i, k,
			    r.why);
			/* Exactly the headers: the frames stay for wslay. */
			ck_assert_uint_eq(used, hlen);
			ck_assert_int_eq(r.status, 101);
		}
		/* Byte by byte. */
		http_resp_init(&r, HTTP_UPGRADE, KEY);
		for (k = 0; k < n; k++) {
			rv = http_resp_feed(&r, (uint8_t *)buf + k, 1, &used);
			if (rv != HTTP_MORE)
				break;
		}
		ck_assert_int_eq(rv, HTTP_DONE);
		ck_assert_uint_eq(k + 1, hlen);
		ck_assert_uint_eq(used, 1);
		/* Sticky. */
		ck_assert_int_eq(http_resp_feed(&r, (uint8_t *)"x", 1, &used),
		    HTTP_DONE);
		ck_assert_uint_eq(used, 0);
	}
}
END_TEST

static void
assert_fails(const char *resp, const char *why)
{
	struct http_resp r;

	ck_assert_int_eq(parse(HTTP_UPGRADE, resp, &r), HTTP_FAIL);
	ck_assert_msg(strstr(r.why, why) != NULL, "\"%s\" lacks \"%s\"",
	    r.why, why);
	ck_assert_int_eq(r.auth, 0);
}

START_TEST(test_http_response_invalid_upgrade)
{
	assert_fails("HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n",
	    "Sec-WebSocket-Accept does not match");
	assert_fails(OK101 "Sec-WebSocket-Accept: " ACCEPT "\r\n\r\n",
	    "Sec-WebSocket-Accept does not match");	/* twice */
	assert_fails("HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
	    "without Sec-WebSocket-Accept");
	assert_fails("HTTP/1.1 101 Switching Protocols\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: " ACCEPT "\r\n\r\n",
	    "without \"Upgrade: websocket\"");
	assert_fails("HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: h2c\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: " ACCEPT "\r\n\r\n",
	    "without \"Upgrade: websocket\"");
	assert_fails("HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\n"
	    "Sec-WebSocket-Accept: " ACCEPT "\r\n\r\n",
	    "without \"Connection: upgrade\"");
	assert_fails("HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\nConnection: keep-alive, upgraded\r\n"
	    "Sec-WebSocket-Accept: " ACCEPT "\r\n\r\n",
	    "without \"Connection: upgrade\"");
	assert_fails(OK101 "Sec-WebSocket-Extensions: permessage-deflate\r\n"
	    "\r\n", "extension we did not offer");
	assert_fails(OK101 "Sec-WebSocket-Protocol: chat\r\n\r\n",
	    "subprotocol we did not offer");
	assert_fails("HTTP/1.0 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: " ACCEPT "\r\n\r\n", "HTTP/1.0");
	assert_fails("HTTP/1.1 100 Continue\r\n\r\n", "interim");
	assert_fails(OK101, "closed before the upgrade response");
}
END_TEST

START_TEST(test_http_response_auth)
{
	struct http_resp r;

	ck_assert_int_eq(parse(HTTP_UPGRADE, "HTTP/1.1 401 Unauthorized\r\n"
	    "Content-Length: 12\r\n\r\nunauthorized", &r), HTTP_FAIL);
	ck_assert_str_eq(r.why, "authentication failed: 401 Unauthorized");
	ck_assert_int_eq(r.auth, 1);
	ck_assert_int_eq(r.status, 401);
	ck_assert_uint_eq(r.bodylen, 12);

	ck_assert_int_eq(parse(HTTP_UPGRADE, "HTTP/1.1 403 Forbidden\r\n"
	    "Content-Length: 0\r\n\r\n", &r), HTTP_FAIL);
	ck_assert_str_eq(r.why, "authentication failed: 403 Forbidden");
	ck_assert_int_eq(r.auth, 1);

	/* The refusal is known at the end of the headers: no waiting. */
	http_resp_init(&r, HTTP_UPGRADE, KEY);
	ck_assert_int_eq(feed_all(&r, "HTTP/1.1 401 Unauthorized\r\n"
	    "Content-Length: 0\r\n\r\n", &(size_t){ 0 }), HTTP_FAIL);
}
END_TEST

START_TEST(test_http_response_refused)
{
	struct http_resp r;
	char		 big[2048];
	size_t		 used;

	ck_assert_int_eq(parse(HTTP_UPGRADE, "HTTP/1.1 500 Internal Server "
	    "Error\r\nContent-Length: 4\r\n\r\nboom", &r), HTTP_FAIL);
	ck_assert_str_eq(r.why,
	    "upgrade refused: HTTP 500 Internal Server Error: boom");
	ck_assert_int_eq(r.auth, 0);

	/* engine.io's refusal, split: the body arrives later. */
	http_resp_init(&r, HTTP_UPGRADE, KEY);
	ck_assert_int_eq(feed_all(&r, "HTTP/1.1 400 Bad Request\r\n"
	    "Content-Length: 34\r\n\r\n{\"code\":3,", &used), HTTP_MORE);
	ck_assert_int_eq(http_resp_in_body(&r), 1);
	ck_assert_int_eq(feed_all(&r, "\"message\":\"Bad request\"}", &used),
	    HTTP_FAIL);
	ck_assert_str_eq(r.why, "upgrade refused: HTTP 400 Bad Request: "
	    "{\"code\":3,\"message\":\"Bad request\"}");

	/* Without a length the body ends at EOF (or the caller's wait). */
	http_resp_init(&r, HTTP_UPGRADE, KEY);
	ck_assert_int_eq(feed_all(&r, "HTTP/1.1 502 Bad Gateway\r\n\r\n"
	    "upstream\r\ndown\x01", &used), HTTP_MORE);
	ck_assert_int_eq(http_resp_finish(&r), HTTP_FAIL);
	ck_assert_str_eq(r.why,
	    "upgrade refused: HTTP 502 Bad Gateway: upstream  down?");

	/* At most HTTP_BODY_MAX bytes are kept, then it is decided. */
	memset(big, 'x', sizeof(big));
	http_resp_init(&r, HTTP_UPGRADE, KEY);
	ck_assert_int_eq(feed_all(&r, "HTTP/1.1 404 Not Found\r\n"
	    "Content-Length: 2048\r\n\r\n", &used), HTTP_MORE);
	ck_assert_int_eq(http_resp_feed(&r, (uint8_t *)big, sizeof(big),
	    &used), HTTP_FAIL);
	ck_assert_uint_eq(r.bodylen, HTTP_BODY_MAX);
	ck_assert_ptr_nonnull(strstr(r.why, "HTTP 404 Not Found: xxx"));

	/* A chunked body is not waited for. */
	http_resp_init(&r, HTTP_UPGRADE, KEY);
	ck_assert_int_eq(feed_all(&r, "HTTP/1.1 503 Service Unavailable\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", &used), HTTP_FAIL);
	ck_assert_str_eq(r.why,
	    "upgrade refused: HTTP 503 Service Unavailable");
}
END_TEST

START_TEST(test_http_response_limits)
{
	struct http_resp r;
	char		*s, *p;
	size_t		 used;
	int		 i;

	/* 16 KiB of well-formed headers is the end. */
	s = malloc(HTTP_HEADERS_MAX + 1024);
	p = s + sprintf(s, "HTTP/1.1 101 Switching Protocols\r\n");
	for (i = 0; i < 90; i++)
		p += sprintf(p, "X-Pad-%02d: %0180d\r\n", i, 0);
	ck_assert_int_eq(parse(HTTP_UPGRADE, s, &r), HTTP_FAIL);
	ck_assert_ptr_nonnull(strstr(r.why, "larger than 16384"));

	/* One line longer than HTTP_LINE_MAX. */
	p = s + sprintf(s, "HTTP/1.1 101 Switching Protocols\r\nX-Long: ");
	memset(p, 'a', HTTP_LINE_MAX);
	strcpy(p + HTTP_LINE_MAX, "\r\n\r\n");
	ck_assert_int_eq(parse(HTTP_UPGRADE, s, &r), HTTP_FAIL);
	ck_assert_ptr_nonnull(strstr(r.why, "line longer"));

	/* Too many lines, each short. */
	p = s + sprintf(s, "HTTP/1.1 101 Switching Protocols\r\n");
	for (i = 0; i <= HTTP_FIELDS_MAX; i++)
		p += sprintf(p, "X-%d: 1\r\n", i);
	ck_assert_int_eq(parse(HTTP_UPGRADE, s, &r), HTTP_FAIL);
	ck_assert_ptr_nonnull(strstr(r.why, "header lines"));

	/* The limit counts the bytes that arrive, fed in any pieces. */
	p = s + sprintf(s, "HTTP/1.1 101 Switching Protocols\r\n");
	for (i = 0; i < 90; i++)
		p += sprintf(p, "X-Pad-%02d: %0180d\r\n", i, 0);
	http_resp_init(&r, HTTP_UPGRADE, KEY);
	for (i = 0; s[i] != '\0'; i++)
		if (http_resp_feed(&r, (const uint8_t *)s + i, 1, &used) !=
		    HTTP_MORE)
			break;
	ck_assert_int_eq(r.result, HTTP_FAIL);
	ck_assert_int_eq(i, HTTP_HEADERS_MAX);
	ck_assert_ptr_nonnull(strstr(r.why, "larger than 16384"));
	free(s);
}
END_TEST

START_TEST(test_http_response_garbage)
{
	assert_fails("HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade:\r\n websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: " ACCEPT "\r\n\r\n", "folded");
	assert_fails("HTTP/1.1 101 Switching Protocols\n"
	    "Upgrade: websocket\n\n", "bare LF");
	assert_fails("HTTP/1.1 101 Switching Protocols\r\r\n", "bare CR");
	assert_fails("HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade : websocket\r\n\r\n", "malformed header");
	assert_fails("HTTP/1.1 101 Switching Protocols\r\n"
	    ": websocket\r\n\r\n", "malformed header");
	assert_fails("HTTP/1.1 101 Switching Protocols\r\n"
	    "no colon here\r\n\r\n", "malformed header");
	assert_fails("HTTP/1.1 101 Switching Protocols\r\n"
	    "X-A: a\x01z\r\n\r\n", "control byte");
	assert_fails("HTTP/2 101 Switching Protocols\r\n\r\n",
	    "not an HTTP/1.1 response");
	assert_fails("SSH-2.0-OpenSSH_9.2\r\n", "not an HTTP/1.1 response");
	/* A TLS server's alert to our plain text: no need to wait for more. */
	assert_fails("\x15\x03\x03", "not an HTTP/1.1 response");
	assert_fails("HTTP/1.", "closed before the upgrade response");
	assert_fails("HTTP/1.1 1O1 Switching Protocols\r\n\r\n",
	    "malformed status line");
	assert_fails("HTTP/1.1  101 Switching Protocols\r\n\r\n",
	    "malformed status line");
	assert_fails("HTTP/1.1 1010 Switching Protocols\r\n\r\n",
	    "malformed status line");
	assert_fails("HTTP/1.1 101 Switching\x7fProtocols\r\n\r\n",
	    "malformed status line");

	/* A NUL can hide the rest of a line from a C string reader. */
	{
		struct http_resp r;
		const char	 nul[] = "HTTP/1.1 101 A\r\nX-A: a\0b\r\n\r\n";
		size_t		 used;

		http_resp_init(&r, HTTP_UPGRADE, KEY);
		ck_assert_int_eq(http_resp_feed(&r, (const uint8_t *)nul,
		    sizeof(nul) - 1, &used), HTTP_FAIL);
		ck_assert_ptr_nonnull(strstr(r.why, "NUL"));
	}
}
END_TEST

START_TEST(test_http_connect)
{
	struct http_resp r;
	char		*req;
	size_t		 len, used;
	const char	*ok = "HTTP/1.0 200 Connection established\r\n"
			    "Proxy-Agent: test\r\n\r\n";

	req = http_connect_request("dash.example.com:443",
	    "Basic dXNlcjpwYXNz", NULL, &len);
	ck_assert_str_eq(req, "CONNECT dash.example.com:443 HTTP/1.1\r\n"
	    "Host: dash.example.com:443\r\n"
	    "Proxy-Authorization: Basic dXNlcjpwYXNz\r\n\r\n");
	ck_assert_uint_eq(len, strlen(req));
	free(req);
	req = http_connect_request("[2001:db8::1]:8443", NULL, "ua/2",
	    &len);
	ck_assert_str_eq(req, "CONNECT [2001:db8::1]:8443 HTTP/1.1\r\n"
	    "Host: [2001:db8::1]:8443\r\nUser-Agent: ua/2\r\n\r\n");
	free(req);
	ck_assert_ptr_null(http_connect_request("host", NULL, NULL, &len));
	ck_assert_ptr_null(http_connect_request("a b:1", NULL, NULL, &len));
	ck_assert_ptr_null(http_connect_request("h:1\r\nX: y", NULL, NULL,
	    &len));
	ck_assert_ptr_null(http_connect_request("h:12x", NULL, NULL, &len));
	ck_assert_ptr_null(http_connect_request("h:443", "Basic x\r\nA: b",
	    NULL, &len));

	/* 2xx: up, and not a byte further. */
	http_resp_init(&r, HTTP_CONNECT, NULL);
	ck_assert_int_eq(http_resp_feed(&r, (const uint8_t *)ok, strlen(ok),
	    &used), HTTP_DONE);
	ck_assert_uint_eq(used, strlen(ok));
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(parse(HTTP_CONNECT, "HTTP/1.1 200 OK\r\n"
	    "Content-Length: 100\r\n\r\n", &r), HTTP_DONE);

	/* Refusals carry the status and some body; never "auth". */
	ck_assert_int_eq(parse(HTTP_CONNECT, "HTTP/1.1 407 Proxy "
	    "Authentication Required\r\nContent-Length: 6\r\n\r\ndenied", &r),
	    HTTP_FAIL);
	ck_assert_str_eq(r.why, "proxy refused CONNECT: HTTP 407 Proxy "
	    "Authentication Required: denied");
	ck_assert_int_eq(r.auth, 0);
	ck_assert_int_eq(parse(HTTP_CONNECT, "HTTP/1.1 403 Forbidden\r\n"
	    "Content-Length: 0\r\n\r\n", &r), HTTP_FAIL);
	ck_assert_str_eq(r.why, "proxy refused CONNECT: HTTP 403 Forbidden");
	ck_assert_int_eq(r.auth, 0);
	/* A 101 is no answer to CONNECT. */
	ck_assert_int_eq(parse(HTTP_CONNECT, OK101 "\r\n", &r), HTTP_FAIL);
}
END_TEST

/* ------------------------------------------------------------------ */
/* conn.c against a scripted server */

#define SRV_FAIL(code)	_exit(code)

static mbedtls_ssl_context	*srv_ssl;	/* the TLS servers below */

/* One read of the client's bytes, through TLS when it is on. */
static ssize_t
srv_read(int fd, void *p, size_t len)
{
	int	 rv;

	if (srv_ssl == NULL)
		return read(fd, p, len);
	do {
		rv = mbedtls_ssl_read(srv_ssl, p, len);
	} while (rv == MBEDTLS_ERR_SSL_WANT_READ);
	if (rv == 0 || rv == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
		return 0;
	return rv > 0 ? rv : -1;
}

static void
srv_write(int fd, const void *p, size_t len)
{
	const uint8_t	*b = p;
	ssize_t		 n;

	while (len > 0) {
		if (srv_ssl != NULL)
			n = mbedtls_ssl_write(srv_ssl, b, len);
		else
			n = send(fd, b, len, MSG_NOSIGNAL);
		if (n <= 0)
			SRV_FAIL(20);
		b += n;
		len -= n;
	}
}

static void
srv_read_full(int fd, void *p, size_t len)
{
	uint8_t	*b = p;
	ssize_t	 n;

	while (len > 0) {
		if ((n = srv_read(fd, b, len)) <= 0)
			SRV_FAIL(21);
		b += n;
		len -= n;
	}
}

/* Read through the blank line; one byte at a time, never beyond. */
static void
srv_read_head(int fd, char *buf, size_t size)
{
	size_t	 n = 0;

	while (n < 4 || memcmp(buf + n - 4, "\r\n\r\n", 4) != 0) {
		if (n + 1 >= size || srv_read(fd, buf + n, 1) != 1)
			SRV_FAIL(22);
		n++;
	}
	buf[n] = '\0';
}

static void
srv_accept(const char *req, char accept[HTTP_ACCEPT_SIZE])
{
	const char	*k;
	unsigned char	 in[64 + 36], md[20];
	size_t		 olen;

	if ((k = strstr(req, "\r\nSec-WebSocket-Key: ")) == NULL)
		SRV_FAIL(23);
	k += 21;
	memcpy(in, k, 24);
	memcpy(in + 24, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", 36);
	if (mbedtls_sha1_ret(in, 60, md) != 0 || mbedtls_base64_encode(
	    (unsigned char *)accept, HTTP_ACCEPT_SIZE, &olen, md, 20) != 0)
		SRV_FAIL(24);
}

/* Read the upgrade, check it, answer 101 and any extra bytes at once. */
static void
srv_upgrade(int fd, const uint8_t *extra, size_t elen)
{
	static char	 resp[32768];
	char		 req[4096], accept[HTTP_ACCEPT_SIZE];
	int		 n;

	srv_read_head(fd, req, sizeof(req));
	if (strncmp(req, "GET /ws HTTP/1.1\r\n", 18) != 0 ||
	    strcasestr(req, "\r\nOrigin:") != NULL ||
	    strstr(req, "\r\nSec-WebSocket-Version: 13\r\n") == NULL ||
	    strstr(req, "\r\nX-Test: yes\r\n") == NULL)
		SRV_FAIL(25);
	srv_accept(req, accept);
	n = snprintf(resp, sizeof(resp), "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: %s\r\n\r\n", accept);
	if (elen > sizeof(resp) - n)
		SRV_FAIL(29);
	if (elen > 0)
		memcpy(resp + n, extra, elen);
	srv_write(fd, resp, n + elen);
}

static size_t
frame_head(uint8_t *h, int fin, int op, size_t len)
{
	h[0] = (fin ? 0x80 : 0) | op;
	if (len < 126) {
		h[1] = len;
		return 2;
	}
	if (len < 65536) {
		h[1] = 126;
		h[2] = len >> 8;
		h[3] = len & 0xff;
		return 4;
	}
	h[1] = 127;
	memset(h + 2, 0, 4);
	h[6] = len >> 24;
	h[7] = len >> 16;
	h[8] = len >> 8;
	h[9] = len;
	return 10;
}

static void
srv_frame(int fd, int fin, int op, const void *p, size_t len)
{
	uint8_t	 h[10];

	srv_write(fd, h, frame_head(h, fin, op, len));
	srv_write(fd, p, len);
}

static void
srv_close(int fd, uint16_t code, const char *reason)
{
	uint8_t	 b[128];
	size_t	 n = strlen(reason);

	b[0] = code >> 8;
	b[1] = code & 0xff;
	memcpy(b + 2, reason, n);
	srv_frame(fd, 1, 8, b, n + 2);
}

/* One client frame, which must be masked; -1 at EOF. */
static int
srv_read_frame(int fd, int *op, uint8_t *buf, size_t size, size_t *len)
{
	uint8_t	 h[8], mask[4];
	uint64_t n;
	size_t	 i;
	ssize_t	 r;

	if ((r = srv_read(fd, h, 1)) == 0)
		return -1;
	if (r != 1)
		SRV_FAIL(26);
	srv_read_full(fd, h + 1, 1);
	if (!(h[1] & 0x80) || !(h[0] & 0x80))	/* masked, unfragmented */
		SRV_FAIL(27);
	*op = h[0] & 0x0f;
	n = h[1] & 0x7f;
	if (n == 126) {
		srv_read_full(fd, h, 2);
		n = (h[0] << 8) | h[1];
	} else if (n == 127) {
		srv_read_full(fd, h, 8);
		for (n = 0, i = 0; i < 8; i++)
			n = n << 8 | h[i];
	}
	if (n > size)
		SRV_FAIL(28);
	srv_read_full(fd, mask, 4);
	srv_read_full(fd, buf, n);
	for (i = 0; i < n; i++)
		buf[i] ^= mask[i % 4];
	*len = n;
	return 0;
}

/* Expect a close frame with this code (and reason, if not NULL). */
static void
srv_expect_close(int fd, uint16_t code, const char *reason, int failcode)
{
	uint8_t	 b[256];
	size_t	 n;
	int	 op;

	do {
		if (srv_read_frame(fd, &op, b, sizeof(b), &n) == -1)
			SRV_FAIL(failcode);
	} while (op == 9 || op == 10);	/* pings and pongs may come first */
	if (op != 8 || n < 2 || ((b[0] << 8) | b[1]) != code)
		SRV_FAIL(failcode);
	if (reason != NULL && (n - 2 != strlen(reason) ||
	    memcmp(b + 2, reason, n - 2) != 0))
		SRV_FAIL(failcode + 1);
}

/* Wait until the client hangs up. */
static void
srv_wait_eof(int fd)
{
	uint8_t	 b[4096];

	while (srv_read(fd, b, sizeof(b)) > 0)
		;
}

struct run {
	struct ev_loop	*loop;
	struct conn	*c;
	int		 opened;
	int		 nclosed;
	int		 end;
	char		 why[512];
	char		 msgs[8][64];
	size_t		 lens[8];
	int		 binary[8];
	int		 nmsgs;
	ev_tstamp	 t_open;
	ev_tstamp	 t_closed;
	void		(*on_open)(struct run *);
	void		(*on_closed)(struct run *);
	int		 send_rv[4];
	int		 send_errno[4];
	size_t		 ack_len;	/* answer a message this long */
	const uint8_t	*ca;		/* CA bundle for wss */
	size_t		 calen;
};

static struct run	 R;

static void
run_open(struct conn *c, void *arg)
{
	struct run	*r = arg;

	r->opened++;
	r->t_open = ev_now(r->loop);
	ck_assert_int_eq(conn_is_open(c), 1);
	if (r->on_open != NULL)
		r->on_open(r);
}

static void
run_message(struct conn *c, const char *data, size_t len, int binary,
    void *arg)
{
	struct run	*r = arg;

	if (r->nmsgs < 8) {
		snprintf(r->msgs[r->nmsgs], sizeof(r->msgs[0]), "%.*s",
		    (int)len, data);
		r->lens[r->nmsgs] = len;
		r->binary[r->nmsgs] = binary;
	}
	r->nmsgs++;
	if (r->ack_len > 0 && len == r->ack_len)
		conn_send_text(c, "got it", 6);
}

static void
run_closed(struct conn *c, int end, const char *why, void *arg)
{
	struct run	*r = arg;

	r->nclosed++;
	r->end = end;
	snprintf(r->why, sizeof(r->why), "%s", why);
	r->t_closed = ev_now(r->loop);
	ck_assert_int_eq(conn_is_idle(c), 1);
	ck_assert_int_eq(conn_is_open(c), 0);
	if (r->on_closed != NULL)
		r->on_closed(r);
	else
		ev_break(r->loop, EVBREAK_ALL);
}

static void
run_guard_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

static const struct conn_cb	 run_cb = { run_open, run_message,
				    run_closed };

static void
params_default(struct conn_params *p)
{
	memset(p, 0, sizeof(*p));
	p->url = "ws://127.0.0.1/ws";
	p->headers = "X-Test: yes\r\n";
	p->user_agent = "check_http/1";
	p->handshake_ms = 3000;
	p->close_ms = 2000;
	p->max_msg = 64 * 1024;
	p->highwater = 1024 * 1024;
}

static pid_t
spawn(void (*server)(int), int *cfd)
{
	int	 sv[2];
	pid_t	 pid;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	if ((pid = fork()) == 0) {
		close(sv[0]);
		alarm(10);	/* never outlive a broken test */
		server(sv[1]);
		_exit(0);
	}
	ck_assert_int_ne(pid, -1);
	close(sv[1]);
	*cfd = sv[0];
	return pid;
}

static int
reap(pid_t pid)
{
	int	 status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "server killed by signal %d",
	    WTERMSIG(status));
	return WEXITSTATUS(status);
}

/* Run one connection against server; returns the server's status. */
static int
run_conn(const struct conn_params *p, void (*server)(int), int via_proxy,
    const char *target)
{
	ev_timer	 guard;
	const char	*why = NULL;
	pid_t		 pid;
	int		 fd, rv;

	ck_assert_int_eq(tls_global_init(), 0);
	R.loop = ev_loop_new(EVFLAG_AUTO);
	R.c = conn_new(R.loop, p, &run_cb, &R, R.ca, R.calen, &why);
	ck_assert_msg(R.c != NULL, "conn_new: %s", why);
	pid = spawn(server, &fd);
	conn_start(R.c, fd, via_proxy, target);
	ck_assert_int_eq(conn_is_idle(R.c), 0);
	ev_timer_init(&guard, run_guard_cb, 8., 0.);
	ev_timer_start(R.loop, &guard);
	ev_run(R.loop, 0);
	ev_timer_stop(R.loop, &guard);
	ck_assert_msg(R.nclosed == 1, "closed() %d times", R.nclosed);
	conn_free(R.c);
	ev_loop_destroy(R.loop);
	rv = reap(pid);
	/* The connection closed its socket: nothing is left open. */
	ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
	return rv;
}

/* Open, a message each way, fragments with a ping inside, peer close. */
static void
srv_text(int fd)
{
	static const uint8_t	 hello[] = "\x81\x05hello";
	uint8_t			 b[256];
	size_t			 n;
	int			 op;

	srv_upgrade(fd, hello, sizeof(hello) - 1);
	if (srv_read_frame(fd, &op, b, sizeof(b), &n) == -1 || op != 1 ||
	    n != 11 || memcmp(b, "from client", 11) != 0)
		SRV_FAIL(30);
	srv_frame(fd, 0, 1, "frag", 4);
	srv_frame(fd, 1, 9, "p", 1);		/* ping between fragments */
	srv_frame(fd, 0, 0, "ment", 4);
	srv_frame(fd, 1, 0, "ed", 2);
	srv_frame(fd, 1, 2, "\x01\x02", 2);	/* binary */
	if (srv_read_frame(fd, &op, b, sizeof(b), &n) == -1 || op != 10 ||
	    n != 1 || b[0] != 'p')
		SRV_FAIL(31);
	srv_close(fd, 1000, "bye");
	srv_expect_close(fd, 1000, "bye", 32);	/* wslay echoes it */
	srv_wait_eof(fd);
}

static void
open_send(struct run *r)
{
	r->send_rv[0] = conn_send_text(r->c, "from client", 11);
}

START_TEST(test_conn_text_both_ways)
{
	struct conn_params	 p;

	memset(&R, 0, sizeof(R));
	R.on_open = open_send;
	params_default(&p);
	ck_assert_int_eq(run_conn(&p, srv_text, 0, NULL), 0);
	ck_assert_int_eq(R.opened, 1);
	ck_assert_int_eq(R.send_rv[0], 0);
	ck_assert_int_eq(R.nmsgs, 3);
	ck_assert_str_eq(R.msgs[0], "hello");	/* came with the 101 */
	ck_assert_int_eq(R.binary[0], 0);
	ck_assert_str_eq(R.msgs[1], "fragmented");
	ck_assert_str_eq(R.msgs[2], "\x01\x02");
	ck_assert_int_eq(R.binary[2], 1);
	ck_assert_int_eq(R.end, CONN_END_CLOSED);
	ck_assert_str_eq(R.why, "connection closed by peer (1000 bye)");
}
END_TEST

static void
srv_too_big(int fd)
{
	uint8_t	 big[2000];

	memset(big, 'z', sizeof(big));
	srv_upgrade(fd, NULL, 0);
	srv_frame(fd, 1, 1, "small", 5);
	srv_frame(fd, 1, 2, big, sizeof(big));
	srv_expect_close(fd, 1009, NULL, 40);
	srv_close(fd, 1009, "");
	srv_wait_eof(fd);
}

/* The limit counts the whole message, not one fragment. */
static void
srv_too_big_fragments(int fd)
{
	uint8_t	 part[400];

	memset(part, 'y', sizeof(part));
	srv_upgrade(fd, NULL, 0);
	srv_frame(fd, 0, 1, part, sizeof(part));
	srv_frame(fd, 0, 0, part, sizeof(part));
	srv_frame(fd, 1, 0, part, sizeof(part));
	srv_expect_close(fd, 1009, NULL, 40);
	/* No close back: the client still ends, when we hang up. */
	close(fd);
}

START_TEST(test_conn_message_too_big)
{
	struct conn_params	 p;

	memset(&R, 0, sizeof(R));
	params_default(&p);
	p.max_msg = 1024;
	ck_assert_int_eq(run_conn(&p, srv_too_big, 0, NULL), 0);
	ck_assert_int_eq(R.nmsgs, 1);
	ck_assert_str_eq(R.msgs[0], "small");
	ck_assert_int_eq(R.end, CONN_END_ERROR);
	ck_assert_str_eq(R.why, "message too big (close 1009)");

	memset(&R, 0, sizeof(R));
	ck_assert_int_eq(run_conn(&p, srv_too_big_fragments, 0, NULL), 0);
	ck_assert_int_eq(R.nmsgs, 0);
	ck_assert_int_eq(R.end, CONN_END_ERROR);
	ck_assert_str_eq(R.why, "message too big (close 1009)");
}
END_TEST

/* Six messages 100 ms apart, then silence. */
static void
srv_then_silent(int fd)
{
	int	 i;

	srv_upgrade(fd, NULL, 0);
	for (i = 0; i < 6; i++) {
		usleep(100 * 1000);
		srv_frame(fd, 1, 1, "k", 1);
	}
	srv_wait_eof(fd);	/* pings go unanswered */
}

START_TEST(test_conn_dead_deadline)
{
	struct conn_params	 p;

	memset(&R, 0, sizeof(R));
	params_default(&p);
	p.dead_ms = 400;
	p.ping_ms = 150;	/* pings do not count as traffic */
	ck_assert_int_eq(run_conn(&p, srv_then_silent, 0, NULL), 0);
	/* Every message re-armed the deadline: all six arrived. */
	ck_assert_int_eq(R.nmsgs, 6);
	ck_assert_int_eq(R.end, CONN_END_DEAD);
	ck_assert_str_eq(R.why, "no traffic for 400 ms");
	ck_assert_msg(R.t_closed - R.t_open >= 0.95, "dead after %.3f s",
	    R.t_closed - R.t_open);
	ck_assert_msg(R.t_closed - R.t_open < 5., "dead after %.3f s",
	    R.t_closed - R.t_open);
}
END_TEST

/* Upgrade, then never read: the client's output backs up. */
static void
srv_no_read(int fd)
{
	struct pollfd	 pfd = { .fd = fd, .events = 0 };

	srv_upgrade(fd, NULL, 0);
	(void)poll(&pfd, 1, 5000);	/* until the client hangs up */
}

static void
open_flood(struct run *r)
{
	static char	 big[64 * 1024];
	int		 i;

	memset(big, 'x', sizeof(big));
	for (i = 0; i < 64; i++)
		ck_assert_int_eq(conn_send_text(r->c, big, sizeof(big)), 0);
}

START_TEST(test_conn_write_stall)
{
	struct conn_params	 p;

	memset(&R, 0, sizeof(R));
	R.on_open = open_flood;
	params_default(&p);
	p.highwater = 8 * 1024 * 1024;
	p.stall_ms = 300;
	ck_assert_int_eq(run_conn(&p, srv_no_read, 0, NULL), 0);
	ck_assert_int_eq(R.end, CONN_END_DEAD);
	ck_assert_str_eq(R.why, "no write progress for 300 ms");
	ck_assert_msg(R.t_closed - R.t_open >= 0.29, "dead after %.3f s",
	    R.t_closed - R.t_open);
	ck_assert_msg(R.t_closed - R.t_open < 3., "dead after %.3f s",
	    R.t_closed - R.t_open);
}
END_TEST

/* At least two empty pings from the client within 400 ms. */
static void
srv_pings(int fd)
{
	uint8_t	 b[128];
	size_t	 n;
	int	 op, pings = 0;

	srv_upgrade(fd, NULL, 0);
	while (pings < 2) {
		if (srv_read_frame(fd, &op, b, sizeof(b), &n) == -1)
			SRV_FAIL(50);
		if (op != 9 || n != 0)
			SRV_FAIL(51);
		pings++;
		srv_frame(fd, 1, 10, "", 0);
	}
	srv_close(fd, 1001, "going away");
	srv_expect_close(fd, 1001, "going away", 52);
	srv_wait_eof(fd);
}

START_TEST(test_conn_keepalive_ping)
{
	struct conn_params	 p;

	memset(&R, 0, sizeof(R));
	params_default(&p);
	p.ping_ms = 100;
	p.dead_ms = 2000;
	ck_assert_int_eq(run_conn(&p, srv_pings, 0, NULL), 0);
	ck_assert_int_eq(R.end, CONN_END_CLOSED);
	ck_assert_str_eq(R.why, "connection closed by peer (1001 going away)");
	ck_assert_msg(R.t_closed - R.t_open >= 0.19, "after %.3f s",
	    R.t_closed - R.t_open);
}
END_TEST

static void
srv_close_reply(int fd)
{
	srv_upgrade(fd, NULL, 0);
	srv_expect_close(fd, 1000, "shutdown", 60);
	srv_close(fd, 1000, "shutdown");
	srv_wait_eof(fd);
}

static void
srv_close_no_reply(int fd)
{
	srv_upgrade(fd, NULL, 0);
	srv_expect_close(fd, 1000, "shutdown", 60);
	srv_wait_eof(fd);
}

static void
open_close(struct run *r)
{
	conn_close(r->c, 1000, "shutdown");
	/* Nothing more is accepted once closing. */
	r->send_rv[0] = conn_send_text(r->c, "late", 4);
	r->send_errno[0] = errno;
}

START_TEST(test_conn_close_handshake)
{
	struct conn_params	 p;

	memset(&R, 0, sizeof(R));
	R.on_open = open_close;
	params_default(&p);
	ck_assert_int_eq(run_conn(&p, srv_close_reply, 0, NULL), 0);
	ck_assert_int_eq(R.send_rv[0], -1);
	ck_assert_int_eq(R.send_errno[0], ENOTCONN);
	ck_assert_int_eq(R.end, CONN_END_CLOSED);
	ck_assert_str_eq(R.why, "connection closed (1000 shutdown)");

	/* A peer that never answers costs close_ms, no more. */
	memset(&R, 0, sizeof(R));
	R.on_open = open_close;
	p.close_ms = 300;
	ck_assert_int_eq(run_conn(&p, srv_close_no_reply, 0, NULL), 0);
	ck_assert_int_eq(R.end, CONN_END_CLOSED);
	ck_assert_str_eq(R.why, "connection closed (1000 shutdown), no "
	    "answer from the peer");
	ck_assert_msg(R.t_closed - R.t_open >= 0.29 &&
	    R.t_closed - R.t_open < 3., "closed after %.3f s",
	    R.t_closed - R.t_open);
}
END_TEST

static void
srv_401(int fd)
{
	char	 req[4096];

	srv_read_head(fd, req, sizeof(req));
	srv_write(fd, "HTTP/1.1 401 Unauthorized\r\nContent-Length: 12\r\n"
	    "\r\nunauthorized", 61);
	srv_wait_eof(fd);
}

static void
srv_500_no_length(int fd)
{
	char	 req[4096];

	srv_read_head(fd, req, sizeof(req));
	srv_write(fd, "HTTP/1.1 500 Internal Server Error\r\n\r\nbroken", 44);
	close(fd);	/* the body ends here */
}

static void
srv_bad_accept(int fd)
{
	char	 req[4096];
	const char *resp = "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: " ACCEPT "\r\n\r\n";

	srv_read_head(fd, req, sizeof(req));
	srv_write(fd, resp, strlen(resp));
	srv_wait_eof(fd);
}

START_TEST(test_conn_upgrade_refused)
{
	struct conn_params	 p;

	memset(&R, 0, sizeof(R));
	params_default(&p);
	ck_assert_int_eq(run_conn(&p, srv_401, 0, NULL), 0);
	ck_assert_int_eq(R.opened, 0);
	ck_assert_int_eq(R.end, CONN_END_AUTH);
	ck_assert_str_eq(R.why, "authentication failed: 401 Unauthorized");

	memset(&R, 0, sizeof(R));
	ck_assert_int_eq(run_conn(&p, srv_500_no_length, 0, NULL), 0);
	ck_assert_int_eq(R.end, CONN_END_ERROR);
	ck_assert_str_eq(R.why,
	    "upgrade refused: HTTP 500 Internal Server Error: broken");

	/* A fixed accept cannot match the random key we sent. */
	memset(&R, 0, sizeof(R));
	ck_assert_int_eq(run_conn(&p, srv_bad_accept, 0, NULL), 0);
	ck_assert_int_eq(R.opened, 0);
	ck_assert_int_eq(R.end, CONN_END_ERROR);
	ck_assert_str_eq(R.why, "Sec-WebSocket-Accept does not match the key");
}
END_TEST

static void
srv_mute(int fd)
{
	char	 req[4096];

	srv_read_head(fd, req, sizeof(req));
	srv_wait_eof(fd);
}

static void
srv_refusal_body_trickle(int fd)
{
	char	 req[4096];

	srv_read_head(fd, req, sizeof(req));
	/* Promises 100 bytes of body, sends 5, then keeps the socket. */
	srv_write(fd, "HTTP/1.1 503 Service Unavailable\r\n"
	    "Content-Length: 100\r\n\r\nbusy.", 62);
	srv_wait_eof(fd);
}

START_TEST(test_conn_handshake_timeout)
{
	struct conn_params	 p;
	ev_tstamp		 t0;

	memset(&R, 0, sizeof(R));
	params_default(&p);
	p.handshake_ms = 250;
	ck_assert_int_eq(run_conn(&p, srv_mute, 0, NULL), 0);
	ck_assert_int_eq(R.end, CONN_END_TIMEOUT);
	ck_assert_str_eq(R.why, "handshake timeout");

	/* A refusal's missing body is waited for briefly, then reported. */
	memset(&R, 0, sizeof(R));
	p.handshake_ms = 20000;
	t0 = ev_time();
	ck_assert_int_eq(run_conn(&p, srv_refusal_body_trickle, 0, NULL), 0);
	ck_assert_int_eq(R.end, CONN_END_ERROR);
	ck_assert_str_eq(R.why,
	    "upgrade refused: HTTP 503 Service Unavailable: busy.");
	ck_assert_msg(ev_time() - t0 < 6., "took %.3f s", ev_time() - t0);
}
END_TEST

static void
srv_proxy(int fd)
{
	static const uint8_t	 msg[] = "\x81\x09via proxy";
	char			 req[4096];

	srv_read_head(fd, req, sizeof(req));
	if (strcmp(req, "CONNECT 127.0.0.1:8080 HTTP/1.1\r\n"
	    "Host: 127.0.0.1:8080\r\n"
	    "Proxy-Authorization: Basic dXNlcjpwYXNz\r\n"
	    "User-Agent: check_http/1\r\n\r\n") != 0)
		SRV_FAIL(70);
	srv_write(fd, "HTTP/1.0 200 Connection established\r\n\r\n", 39);
	srv_upgrade(fd, msg, sizeof(msg) - 1);
	srv_close(fd, 1000, "done");
	srv_expect_close(fd, 1000, "done", 71);
	srv_wait_eof(fd);
}

static void
srv_proxy_407(int fd)
{
	char	 req[4096];

	srv_read_head(fd, req, sizeof(req));
	srv_write(fd, "HTTP/1.1 407 Proxy Authentication Required\r\n"
	    "Content-Length: 0\r\n\r\n", 65);
	srv_wait_eof(fd);
}

START_TEST(test_conn_proxy_connect)
{
	struct conn_params	 p;

	memset(&R, 0, sizeof(R));
	params_default(&p);
	p.url = "ws://127.0.0.1:8080/ws";
	p.proxy_auth = "Basic dXNlcjpwYXNz";
	ck_assert_int_eq(run_conn(&p, srv_proxy, 1, NULL), 0);
	ck_assert_int_eq(R.nmsgs, 1);
	ck_assert_str_eq(R.msgs[0], "via proxy");
	ck_assert_int_eq(R.end, CONN_END_CLOSED);

	memset(&R, 0, sizeof(R));
	ck_assert_int_eq(run_conn(&p, srv_proxy_407, 1, "127.0.0.1:8080"), 0);
	ck_assert_int_eq(R.opened, 0);
	ck_assert_int_eq(R.end, CONN_END_ERROR);
	ck_assert_str_eq(R.why, "proxy refused CONNECT: HTTP 407 Proxy "
	    "Authentication Required");
}
END_TEST

static void
srv_eof_after_open(int fd)
{
	srv_upgrade(fd, NULL, 0);
	close(fd);
}

static void
srv_hello_then_eof(int fd)
{
	static const uint8_t	 hello[] = "\x81\x02hi";

	srv_upgrade(fd, hello, sizeof(hello) - 1);
	close(fd);
}

static pid_t	 second_pid;

/* closed() starts the next attempt at once, as net.c's policy may. */
static void
closed_restart(struct run *r)
{
	int	 fd;

	if (r->nclosed == 1) {
		ck_assert_str_eq(r->why,
		    "connection closed by peer (no close frame)");
		second_pid = spawn(srv_hello_then_eof, &fd);
		conn_start(r->c, fd, 0, NULL);
		ck_assert_int_eq(conn_is_idle(r->c), 0);
		return;
	}
	ev_break(r->loop, EVBREAK_ALL);
}

START_TEST(test_conn_restart_from_closed)
{
	struct conn_params	 p;
	ev_timer		 guard;
	const char		*why;
	pid_t			 pid;
	int			 fd;

	memset(&R, 0, sizeof(R));
	R.on_closed = closed_restart;
	params_default(&p);
	ck_assert_int_eq(tls_global_init(), 0);
	R.loop = ev_loop_new(EVFLAG_AUTO);
	R.c = conn_new(R.loop, &p, &run_cb, &R, NULL, 0, &why);
	ck_assert_ptr_nonnull(R.c);
	pid = spawn(srv_eof_after_open, &fd);
	conn_start(R.c, fd, 0, NULL);
	ev_timer_init(&guard, run_guard_cb, 8., 0.);
	ev_timer_start(R.loop, &guard);
	ev_run(R.loop, 0);
	ck_assert_int_eq(R.nclosed, 2);
	ck_assert_int_eq(R.opened, 2);
	ck_assert_int_eq(R.nmsgs, 1);
	ck_assert_str_eq(R.msgs[0], "hi");
	ck_assert_int_eq(R.end, CONN_END_CLOSED);
	conn_free(R.c);
	ev_loop_destroy(R.loop);
	ck_assert_int_eq(reap(pid), 0);
	ck_assert_int_eq(reap(second_pid), 0);
}
END_TEST

static void
srv_highwater(int fd)
{
	uint8_t	 b[64];
	size_t	 n;
	int	 op;

	srv_upgrade(fd, NULL, 0);
	if (srv_read_frame(fd, &op, b, sizeof(b), &n) == -1 || op != 1 ||
	    n != 8)
		SRV_FAIL(80);
	srv_close(fd, 1000, "");
	srv_expect_close(fd, 1000, NULL, 81);
	srv_wait_eof(fd);
}

static void
open_highwater(struct run *r)
{
	r->send_rv[0] = conn_send_text(r->c, "12345678", 8);
	ck_assert_uint_eq(conn_queued(r->c), 8);
	r->send_rv[1] = conn_send_text(r->c, "abcdefgh", 8);
	r->send_errno[1] = errno;
}

START_TEST(test_conn_send_limits)
{
	struct conn_params	 p;
	const char		*why;
	struct conn		*c;
	struct ev_loop		*loop;

	memset(&R, 0, sizeof(R));
	R.on_open = open_highwater;
	params_default(&p);
	p.highwater = 10;
	ck_assert_int_eq(run_conn(&p, srv_highwater, 0, NULL), 0);
	ck_assert_int_eq(R.send_rv[0], 0);
	ck_assert_int_eq(R.send_rv[1], -1);
	ck_assert_int_eq(R.send_errno[1], ENOBUFS);
	ck_assert_str_eq(R.why, "connection closed by peer (1000)");

	/* Not open: refused, nothing queued. */
	ck_assert_int_eq(tls_global_init(), 0);
	loop = ev_loop_new(EVFLAG_AUTO);
	c = conn_new(loop, &p, &run_cb, &R, NULL, 0, &why);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(conn_send_text(c, "x", 1), -1);
	ck_assert_int_eq(errno, ENOTCONN);
	ck_assert_uint_eq(conn_queued(c), 0);
	ck_assert_int_eq(conn_is_idle(c), 1);
	conn_close(c, 1000, "x");	/* idle: nothing happens */
	conn_abort(c, "x");
	conn_free(c);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(test_conn_new_policy)
{
	struct conn_params	 p;
	const char		*why = NULL;
	struct conn		*c;
	struct ev_loop		*loop;

	ck_assert_int_eq(tls_global_init(), 0);
	loop = ev_loop_new(EVFLAG_AUTO);
	params_default(&p);

	/* The supervisor vetted the address; clear text is only warned. */
	p.url = "ws://dash.example.com/ws";
	ck_assert_ptr_nonnull(c = conn_new(loop, &p, &run_cb, &R, NULL, 0,
	    &why));
	conn_free(c);

	p.url = "https://dash.example.com/ws";
	ck_assert_ptr_null(conn_new(loop, &p, &run_cb, &R, NULL, 0, &why));
	p.url = "ws://";
	ck_assert_ptr_null(conn_new(loop, &p, &run_cb, &R, NULL, 0, &why));

	/* wss needs a CA unless verification is off. */
	p.url = "wss://dash.example.com/ws";
	ck_assert_ptr_null(conn_new(loop, &p, &run_cb, &R, NULL, 0, &why));
	ck_assert_str_eq(why, "no CA certificates");
	ck_assert_ptr_null(conn_new(loop, &p, &run_cb, &R,
	    (const uint8_t *)"junk", 4, &why));
	p.skip_verify = 1;
	ck_assert_ptr_nonnull(c = conn_new(loop, &p, &run_cb, &R, NULL, 0,
	    &why));
	conn_free(c);
	ev_loop_destroy(loop);
}
END_TEST

/* ------------------------------------------------------------------ */
/* conn.c over TLS: an mbedTLS server in the child */

/*
 * Test-only certificates, made with the openssl command for this file
 * (valid until 2126): a CA, and a leaf for DNS:localhost and
 * IP:127.0.0.1 with its key, which protects nothing.
 */
static const char ca_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBljCCAT2gAwIBAgIUXWa6Ojh8KrpwjPyQKrso5P7NcAgwCgYIKoZIzj0EAwIw\n"
    "GDEWMBQGA1UEAwwNY2hlY2tfaHR0cCBDQTAgFw0yNjExMjQwOTE0MTNaGA8yMTI2\n"
    "MTAzMTA5MTQxM1owGDEWMBQGA1UEAwwNY2hlY2tfaHR0cCBDQTBZMBMGByqGSM49\n"
    "AgEGCCqGSM49AwEHA0IABNw9ndXk4hg5a2pvtlhBU4HjjNkFHUazOn2sFp1U00zq\n"
    "AkBjMWTYPpipjK8LgCcg13vzMoYGQ8BTVuxr/aRoXp2jYzBhMB0GA1UdDgQWBBQk\n"
    "Gg+y3jHa7wrBHHbBQ5Psg1yhmTAfBgNVHSMEGDAWgBQkGg+y3jHa7wrBHHbBQ5Ps\n"
    "g1yhmTAPBgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB/wQEAwICBDAKBggqhkjOPQQD\n"
    "AgNHADBEAiAb9GT5X9irncEEra41/Dcwfbla0mo1AdD/cnXFBxr2bwIgbZbPWQwE\n"
    "AOWkpfnBZXpELrdNPc7eQA7BimrWAJLMijc=\n"
    "-----END CERTIFICATE-----\n";
static const char leaf_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBwzCCAWmgAwIBAgIUMGHRH5L2RqBaoBk3aFhjksz80h0wCgYIKoZIzj0EAwIw\n"
    "GDEWMBQGA1UEAwwNY2hlY2tfaHR0cCBDQTAgFw0yNjExMjQwOTE0MTNaGA8yMTI2\n"
    "MTAzMTA5MTQxM1owFDESMBAGA1UEAwwJbG9jYWxob3N0MFkwEwYHKoZIzj0CAQYI\n"
    "KoZIzj0DAQcDQgAE6AC06mCPFd3TeUarr1YGD0ZwfpcBIxIch1tBscTAiUh4oon7\n"
    "1cAK+X2Fw1T46qtcKcXAwBcA7YDQrCGkcZ1EB6OBkjCBjzAMBgNVHRMBAf8EAjAA\n"
    "MA4GA1UdDwEB/wQEAwIHgDATBgNVHSUEDDAKBggrBgEFBQcDATAaBgNVHREEEzAR\n"
    "gglsb2NhbGhvc3SHBH8AAAEwHQYDVR0OBBYEFOVVgTn21m73uMEkx+4KkE+uvOhC\n"
    "MB8GA1UdIwQYMBaAFCQaD7LeMdrvCsEcdsFDk+yDXKGZMAoGCCqGSM49BAMCA0gA\n"
    "MEUCIA9d49A7Ez7FIh6k0bEiuH1vDiDfkkAeocrNJJ7HN+5qAiEA3aU7/6Rz7b/s\n"
    "GeydpcDwNoyztyWnUUBnrfy6hdrHaMk=\n"
    "-----END CERTIFICATE-----\n";
static const char leaf_key[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgqGIkyrwk9kKnnnyE\n"
    "KoqdMseiMBQtST2OfgaVT0rpCGShRANCAAToALTqYI8V3dN5RquvVgYPRnB+lwEj\n"
    "EhyHW0GxxMCJSHiiifvVwAr5fYXDVPjqq1wpxcDAFwDtgNCsIaRxnUQH\n"
    "-----END PRIVATE KEY-----\n";
/* A CA that signed nothing here. */
static const char other_ca_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBjjCCATWgAwIBAgIURZyf65oe0FlOehAhrmYe0//kxAswCgYIKoZIzj0EAwIw\n"
    "HTEbMBkGA1UEAwwSY2hlY2tfaHR0cCB0ZXN0IENBMB4XDTI2MTEyNDA5MTM1NFoX\n"
    "DTM2MTEyMTA5MTM1NFowHTEbMBkGA1UEAwwSY2hlY2tfaHR0cCB0ZXN0IENBMFkw\n"
    "EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAElCG6AlGpCDv3ZR9EyiymOGEhL+xxo7Up\n"
    "bGtIvqXSqL/D3DtmSMobEqqTvH9/liGvcafJdcm+RnIEXsy0BEwySqNTMFEwHQYD\n"
    "VR0OBBYEFNwxMVcEVmA2zZ3gLNxdhruSbZllMB8GA1UdIwQYMBaAFNwxMVcEVmA2\n"
    "zZ3gLNxdhruSbZllMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIg\n"
    "cU//theanGK+VDFwn4Q9cZzfSRVtROVNvVZL8a5z7H0CIB2uwwFH9+xetik1ewME\n"
    "iNkZl650frCtrypz57zY+Rl7\n"
    "-----END CERTIFICATE-----\n";
/* SHA-256 of the leaf's SPKI, from openssl pkey -pubin -outform DER. */
static const uint8_t leaf_pin[32] = {
	0x7f, 0x4f, 0x0d, 0xdd, 0x18, 0x9b, 0x63, 0x18, 0xa3, 0x1b, 0xd7,
	0x82, 0x1e, 0x65, 0xa9, 0x0c, 0xcf, 0x4b, 0x76, 0xdb, 0x27, 0x39,
	0x37, 0x5d, 0x3d, 0x1e, 0x66, 0x74, 0x31, 0xd9, 0x5a, 0x30,
};

static char	 srv_sni[256];
static int	 srv_sni_seen;

static int
srv_sni_cb(void *arg, mbedtls_ssl_context *ssl, const unsigned char *name,
    size_t len)
{
	srv_sni_seen = 1;
	snprintf(srv_sni, sizeof(srv_sni), "%.*s", (int)len, name);
	return 0;
}

/* Handshake as the leaf; 0 if the client completed it. */
static int
srv_tls_handshake(int fd)
{
	static mbedtls_ssl_context	 ssl;
	static mbedtls_ssl_config	 conf;
	static mbedtls_x509_crt		 crt;
	static mbedtls_pk_context	 key;
	static mbedtls_entropy_context	 ent;
	static mbedtls_ctr_drbg_context	 drbg;
	static mbedtls_net_context	 net;
	int				 rv;

	mbedtls_ssl_init(&ssl);
	mbedtls_ssl_config_init(&conf);
	mbedtls_x509_crt_init(&crt);
	mbedtls_pk_init(&key);
	mbedtls_entropy_init(&ent);
	mbedtls_ctr_drbg_init(&drbg);
	if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &ent, NULL,
	    0) != 0 ||
	    mbedtls_x509_crt_parse(&crt, (const uint8_t *)leaf_pem,
	    sizeof(leaf_pem)) != 0 ||
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	    mbedtls_pk_parse_key(&key, (const uint8_t *)leaf_key,
	    sizeof(leaf_key), NULL, 0, mbedtls_ctr_drbg_random, &drbg) != 0 ||
#else
	    mbedtls_pk_parse_key(&key, (const uint8_t *)leaf_key,
	    sizeof(leaf_key), NULL, 0) != 0 ||
#endif
	    mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_SERVER,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT) != 0)
		SRV_FAIL(90);
	mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
	mbedtls_ssl_conf_sni(&conf, srv_sni_cb, NULL);
	if (mbedtls_ssl_conf_own_cert(&conf, &crt, &key) != 0 ||
	    mbedtls_ssl_setup(&ssl, &conf) != 0)
		SRV_FAIL(91);
	net.fd = fd;
	mbedtls_ssl_set_bio(&ssl, &net, mbedtls_net_send, mbedtls_net_recv,
	    NULL);
	while ((rv = mbedtls_ssl_handshake(&ssl)) ==
	    MBEDTLS_ERR_SSL_WANT_READ || rv == MBEDTLS_ERR_SSL_WANT_WRITE)
		;
	if (rv != 0)
		return -1;
	srv_ssl = &ssl;
	return 0;
}

/*
 * Open over TLS; with the 101, in the same TLS record, a short message
 * and a 10000-byte one.  The client reads the response in 4 KiB, so
 * mbedTLS holds the rest decrypted, where epoll cannot see it, and the
 * server sends nothing more until the client answers the long message.
 */
static void
srv_tls_name(int fd, const char *want_sni)
{
	static uint8_t	 extra[11 + 4 + 10000];
	uint8_t		 b[64];
	size_t		 n;
	int		 op;

	if (srv_tls_handshake(fd) != 0)
		SRV_FAIL(92);
	if (want_sni == NULL ? srv_sni_seen : strcmp(want_sni, "*") != 0 &&
	    strcmp(srv_sni, want_sni) != 0)
		SRV_FAIL(93);
	memcpy(extra, "\x81\x09hello tls", 11);
	n = frame_head(extra + 11, 1, 1, 10000);
	memset(extra + 11 + n, 'T', 10000);
	srv_upgrade(fd, extra, 11 + n + 10000);
	if (srv_read_frame(fd, &op, b, sizeof(b), &n) == -1 || op != 1 ||
	    n != 6 || memcmp(b, "got it", 6) != 0)
		SRV_FAIL(95);
	srv_close(fd, 1000, "bye");
	srv_expect_close(fd, 1000, "bye", 94);
	srv_wait_eof(fd);
}

static void
srv_tls_localhost(int fd)
{
	srv_tls_name(fd, "localhost");
}

static void
srv_tls_ip(int fd)
{
	srv_tls_name(fd, NULL);	/* no SNI for an address */
}

static void
srv_tls_any(int fd)
{
	srv_tls_name(fd, "*");
}

/* The client refuses us: during the handshake, or right after it. */
static void
srv_tls_refused(int fd)
{
	(void)srv_tls_handshake(fd);
	srv_wait_eof(fd);
}

START_TEST(test_conn_tls_open)
{
	struct conn_params	 p;

	/* PEM without its NUL, a pin that matches. */
	memset(&R, 0, sizeof(R));
	R.ca = (const uint8_t *)ca_pem;
	R.calen = strlen(ca_pem);
	params_default(&p);
	p.url = "wss://localhost/ws";
	p.pins = &leaf_pin;
	p.npins = 1;
	R.ack_len = 10000;
	ck_assert_int_eq(run_conn(&p, srv_tls_localhost, 0, NULL), 0);
	ck_assert_int_eq(R.opened, 1);
	ck_assert_int_eq(R.nmsgs, 2);
	ck_assert_str_eq(R.msgs[0], "hello tls");
	ck_assert_uint_eq(R.lens[1], 10000);
	ck_assert_int_eq(R.end, CONN_END_CLOSED);
	ck_assert_str_eq(R.why, "connection closed by peer (1000 bye)");
}
END_TEST

START_TEST(test_conn_tls_ip_literal)
{
	struct conn_params	 p;
	mbedtls_x509_crt	 ca;

	/* DER this time; the address is checked against the IP SAN. */
	mbedtls_x509_crt_init(&ca);
	ck_assert_int_eq(mbedtls_x509_crt_parse(&ca, (const uint8_t *)ca_pem,
	    sizeof(ca_pem)), 0);
	memset(&R, 0, sizeof(R));
	R.ca = ca.raw.p;
	R.calen = ca.raw.len;
	params_default(&p);
	p.url = "wss://127.0.0.1/ws";
	R.ack_len = 10000;
	ck_assert_int_eq(run_conn(&p, srv_tls_ip, 0, NULL), 0);
	ck_assert_int_eq(R.opened, 1);
	ck_assert_int_eq(R.end, CONN_END_CLOSED);
	mbedtls_x509_crt_free(&ca);
}
END_TEST

static void
tls_refused(const char *url, const char *ca, const uint8_t (*pin)[32],
    const char *why)
{
	struct conn_params	 p;

	memset(&R, 0, sizeof(R));
	R.ca = (const uint8_t *)ca;
	R.calen = strlen(ca) + 1;	/* with the NUL */
	params_default(&p);
	p.url = url;
	p.pins = pin;
	p.npins = pin != NULL;
	ck_assert_int_eq(run_conn(&p, srv_tls_refused, 0, NULL), 0);
	ck_assert_int_eq(R.opened, 0);
	ck_assert_int_eq(R.end, CONN_END_ERROR);
	ck_assert_str_eq(R.why, why);
}

START_TEST(test_conn_tls_refused)
{
	static const uint8_t	 wrong[32] = { 1 };

	tls_refused("wss://localhost/ws", other_ca_pem, NULL, "unknown CA");
	tls_refused("wss://dash.example.com/ws", ca_pem, NULL,
	    "hostname mismatch");
	tls_refused("wss://127.0.0.2/ws", ca_pem, NULL, "hostname mismatch");
	tls_refused("wss://[::1]/ws", ca_pem, NULL, "hostname mismatch");
	tls_refused("wss://localhost/ws", ca_pem, &wrong, "pin mismatch");
}
END_TEST

START_TEST(test_conn_tls_skip_verify)
{
	struct conn_params	 p;
	static const uint8_t	 wrong[32] = { 1 };

	/* No CA, any name: verification is off. */
	memset(&R, 0, sizeof(R));
	params_default(&p);
	p.url = "wss://dash.example.com/ws";
	p.skip_verify = 1;
	R.ack_len = 10000;
	ck_assert_int_eq(run_conn(&p, srv_tls_any, 0, NULL), 0);
	ck_assert_int_eq(R.opened, 1);
	ck_assert_int_eq(R.end, CONN_END_CLOSED);

	/* Pins still apply. */
	memset(&R, 0, sizeof(R));
	p.pins = &wrong;
	p.npins = 1;
	ck_assert_int_eq(run_conn(&p, srv_tls_refused, 0, NULL), 0);
	ck_assert_int_eq(R.opened, 0);
	ck_assert_str_eq(R.why, "pin mismatch");
}
END_TEST

/* ------------------------------------------------------------------ */
/* conn.c against a hostile server: the bounds */

/* Fifty pings in one write, nothing read: pongs for the first and the last. */
static void
srv_ping_burst(int fd)
{
	uint8_t	 all[50 * 4], b[256];
	size_t	 n, off = 0;
	int	 i, op, pongs = 0;

	for (i = 0; i < 50; i++) {
		off += frame_head(all + off, 1, 9, 2);
		all[off++] = '0' + i / 10;
		all[off++] = '0' + i % 10;
	}
	srv_upgrade(fd, all, off);
	for (;;) {
		if (srv_read_frame(fd, &op, b, sizeof(b), &n) == -1)
			SRV_FAIL(60);
		if (op != 10 || n != 2)
			SRV_FAIL(61);
		pongs++;
		if (memcmp(b, "49", 2) == 0)
			break;
	}
	if (pongs > 3)	/* one a ping would be 50 */
		SRV_FAIL(62);
	srv_close(fd, 1000, "bye");
	srv_expect_close(fd, 1000, "bye", 63);
	srv_wait_eof(fd);
}

START_TEST(test_conn_pong_latest_ping)
{
	struct conn_params	 p;

	memset(&R, 0, sizeof(R));
	params_default(&p);
	ck_assert_int_eq(run_conn(&p, srv_ping_burst, 0, NULL), 0);
	ck_assert_int_eq(R.end, CONN_END_CLOSED);
}
END_TEST

/* Writes the frames, expects our close with code, then hangs up. */
static const uint8_t	*srv_bad_bytes;
static size_t		 srv_bad_len;
static uint16_t		 srv_bad_code;

static void
srv_bad(int fd)
{
	srv_upgrade(fd, NULL, 0);
	srv_write(fd, srv_bad_bytes, srv_bad_len);
	srv_expect_close(fd, srv_bad_code, NULL, 64);
	close(fd);
}

static void
run_bad(const void *bytes, size_t len, uint16_t code, const char *why)
{
	struct conn_params	 p;

	memset(&R, 0, sizeof(R));
	params_default(&p);
	srv_bad_bytes = bytes;
	srv_bad_len = len;
	srv_bad_code = code;
	ck_assert_int_eq(run_conn(&p, srv_bad, 0, NULL), 0);
	ck_assert_int_eq(R.end, CONN_END_ERROR);
	ck_assert_str_eq(R.why, why);
}

START_TEST(test_conn_bad_frames)
{
	static const struct {
		const char	*bytes;
		size_t		 len;
		const char	*why;
	} bad[] = {
#define B(s, why)	{ s, sizeof(s) - 1, "protocol error: " why " (close 1002)" }
		B("\x81\x7f\x80\0\0\0\0\0\0\0xx", "frame length over 2^63"),
		B("\x88\x01\x03", "one-byte close payload"),
		B("\x83\x00", "reserved opcode 0x3"),
		B("\x8b\x00", "reserved opcode 0xb"),
		B("\xc1\x01x", "reserved bits set"),
		B("\x81\x81\0\0\0\0x", "masked frame from the server"),
		B("\x09\x00", "fragmented control frame"),
		B("\x89\x7e\x00\x7e", "control frame over 125 bytes"),
		B("\x80\x01x", "continuation frame outside a message"),
		B("\x01\x01x\x81\x01y", "new message inside a fragmented one"),
#undef B
	};
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		run_bad(bad[i].bytes, bad[i].len, 1002, bad[i].why);
	/* What wslay checks itself keeps its code. */
	run_bad("\x88\x02\x03\xed", 4, 1002, "protocol error (close 1002)");
	run_bad("\x81\x02\xc3\x28", 4, 1007,
	    "invalid UTF-8 in a text message (close 1007)");
}
END_TEST

/* 200 pings in a burst: more than 100 a second is a policy violation. */
START_TEST(test_conn_control_flood)
{
	static uint8_t	 pings[200 * 2];
	size_t		 i;

	for (i = 0; i < 200; i++) {
		pings[2 * i] = 0x89;
		pings[2 * i + 1] = 0;
	}
	run_bad(pings, sizeof(pings), 1008, "protocol error: more than 100 "
	    "pings and pongs a second (close 1008)");
}
END_TEST

/* 1,100 one-byte fragments, a small message: over the 1,024 fragments. */
START_TEST(test_conn_fragment_cap)
{
	static uint8_t	 f[1100 * 3];
	size_t		 i;

	for (i = 0; i < 1100; i++) {
		f[3 * i] = i == 0 ? 0x01 : 0x00;
		f[3 * i + 1] = 1;
		f[3 * i + 2] = ' ';
	}
	run_bad(f, sizeof(f), 1008, "protocol error: message in more than "
	    "1024 fragments (close 1008)");
}
END_TEST

/* A message's first fragment, then silence. */
static void
srv_frag_stall(int fd)
{
	srv_upgrade(fd, NULL, 0);
	srv_frame(fd, 0, 1, "{", 1);
	srv_expect_close(fd, 1008, "message not complete after 300 ms", 65);
	srv_close(fd, 1008, "");
	srv_wait_eof(fd);
}

START_TEST(test_conn_message_deadline)
{
	struct conn_params	 p;

	memset(&R, 0, sizeof(R));
	params_default(&p);
	p.msg_ms = 300;
	ck_assert_int_eq(run_conn(&p, srv_frag_stall, 0, NULL), 0);
	ck_assert_int_eq(R.end, CONN_END_ERROR);
	ck_assert_str_eq(R.why, "protocol error: message not complete after "
	    "300 ms (close 1008)");
	ck_assert_msg(R.t_closed - R.t_open >= 0.29, "closed after %.3f s",
	    R.t_closed - R.t_open);
	ck_assert_msg(R.t_closed - R.t_open < 3., "closed after %.3f s",
	    R.t_closed - R.t_open);
}
END_TEST

/*
 * 5,000 messages in the socket at once: the loop gets its turn before
 * the last one is read, and a timer sees part of them.
 */
#define BURST_N	5000

static void
srv_burst(int fd)
{
	static uint8_t	 m[BURST_N * 3];
	size_t		 i;

	for (i = 0; i < BURST_N; i++) {
		m[3 * i] = 0x81;
		m[3 * i + 1] = 1;
		m[3 * i + 2] = 'm';
	}
	srv_upgrade(fd, NULL, 0);
	srv_write(fd, m, sizeof(m));
	srv_close(fd, 1000, "done");
	srv_expect_close(fd, 1000, "done", 66);
	srv_wait_eof(fd);
}

static int	burst_seen;	/* a timer ran with some messages read */

static void
burst_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	if (R.nmsgs > 0 && R.nmsgs < BURST_N)
		burst_seen = 1;
}

static ev_timer	 burst_timer;

static void
burst_open(struct run *r)
{
	ev_timer_init(&burst_timer, burst_timer_cb, 0., 0.0001);
	ev_timer_start(r->loop, &burst_timer);
}

static void
burst_closed(struct run *r)
{
	ev_timer_stop(r->loop, &burst_timer);
	ev_break(r->loop, EVBREAK_ALL);
}

START_TEST(test_conn_receive_budget)
{
	struct conn_params	 p;

	memset(&R, 0, sizeof(R));
	burst_seen = 0;
	R.on_open = burst_open;
	R.on_closed = burst_closed;
	params_default(&p);
	ck_assert_int_eq(run_conn(&p, srv_burst, 0, NULL), 0);
	ck_assert_int_eq(R.nmsgs, BURST_N);
	ck_assert_int_eq(R.end, CONN_END_CLOSED);
	ck_assert_int_eq(burst_seen, 1);
}
END_TEST

static Suite *
http_suite(void)
{
	Suite	*s = suite_create("http");
	TCase	*tc;

	tc = tcase_create("ws_key");
	tcase_add_test(tc, test_http_ws_key_accept);
	suite_add_tcase(s, tc);
	tc = tcase_create("request");
	tcase_add_test(tc, test_http_request_contents);
	tcase_add_test(tc, test_http_request_host);
	tcase_add_test(tc, test_http_request_injection);
	suite_add_tcase(s, tc);
	tc = tcase_create("response_valid");
	tcase_add_test(tc, test_http_response_valid_split);
	suite_add_tcase(s, tc);
	tc = tcase_create("response_invalid");
	tcase_add_test(tc, test_http_response_invalid_upgrade);
	tcase_add_test(tc, test_http_response_garbage);
	suite_add_tcase(s, tc);
	tc = tcase_create("response_refused");
	tcase_add_test(tc, test_http_response_auth);
	tcase_add_test(tc, test_http_response_refused);
	suite_add_tcase(s, tc);
	tc = tcase_create("response_limits");
	tcase_add_test(tc, test_http_response_limits);
	suite_add_tcase(s, tc);
	tc = tcase_create("connect");
	tcase_add_test(tc, test_http_connect);
	suite_add_tcase(s, tc);

	tc = tcase_create("conn_messages");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_conn_text_both_ways);
	tcase_add_test(tc, test_conn_message_too_big);
	tcase_add_test(tc, test_conn_send_limits);
	suite_add_tcase(s, tc);
	tc = tcase_create("conn_deadlines");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_conn_dead_deadline);
	tcase_add_test(tc, test_conn_write_stall);
	tcase_add_test(tc, test_conn_keepalive_ping);
	tcase_add_test(tc, test_conn_handshake_timeout);
	suite_add_tcase(s, tc);
	tc = tcase_create("conn_close");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_conn_close_handshake);
	tcase_add_test(tc, test_conn_restart_from_closed);
	suite_add_tcase(s, tc);
	tc = tcase_create("conn_handshake");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_conn_upgrade_refused);
	tcase_add_test(tc, test_conn_proxy_connect);
	tcase_add_test(tc, test_conn_new_policy);
	suite_add_tcase(s, tc);
	tc = tcase_create("conn_bounds");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_conn_pong_latest_ping);
	tcase_add_test(tc, test_conn_bad_frames);
	tcase_add_test(tc, test_conn_control_flood);
	tcase_add_test(tc, test_conn_fragment_cap);
	tcase_add_test(tc, test_conn_message_deadline);
	tcase_add_test(tc, test_conn_receive_budget);
	suite_add_tcase(s, tc);
	tc = tcase_create("conn_tls");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_conn_tls_open);
	tcase_add_test(tc, test_conn_tls_ip_literal);
	tcase_add_test(tc, test_conn_tls_refused);
	tcase_add_test(tc, test_conn_tls_skip_verify);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	/* The scripted servers hang up on purpose. */
	signal(SIGPIPE, SIG_IGN);
	return tl_run(http_suite());
}
