/*
 * http.c: the WebSocket upgrade and the proxy CONNECT, both directions.
 *
 * The response parser is strict on purpose: it reads what a dashboard,
 * a socket.io server or a proxy really sends (RFC 9112 syntax with CRLF
 * line ends) and refuses the ambiguous rest (bare CR or LF, folded
 * lines, whitespace before the colon, NUL, control bytes), because
 * every byte it misplaces would be handed to wslay as a frame.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mbedtls/base64.h>
#include <mbedtls/sha1.h>
#include <mbedtls/version.h>

#include "http.h"
#include "log.h"
#include "url.h"

#define HTTP_WS_GUID	"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

enum http_state {
	HTTP_ST_STATUS,
	HTTP_ST_HEADERS,
	HTTP_ST_BODY,
	HTTP_ST_END,
};

/* http_resp.seen */
#define HTTP_SEEN_UPGRADE	0x0001	/* Upgrade: websocket */
#define HTTP_SEEN_UPGRADE_BAD	0x0002	/* Upgrade: something else */
#define HTTP_SEEN_CONN_UPGRADE	0x0004	/* Connection lists upgrade */
#define HTTP_SEEN_ACCEPT	0x0008
#define HTTP_SEEN_ACCEPT_BAD	0x0010	/* wrong value, or twice */
#define HTTP_SEEN_EXT		0x0020
#define HTTP_SEEN_PROTO		0x0040
#define HTTP_SEEN_TE		0x0080
#define HTTP_SEEN_CLEN_BAD	0x0100
#define HTTP_SEEN_V10		0x0200	/* HTTP/1.0 status line */

static int	http_fail(struct http_resp *, const char *, ...)
		    __printflike(2, 3);
static int	http_line(struct http_resp *);
static int	http_status_line(struct http_resp *);
static int	http_field(struct http_resp *);
static int	http_headers_done(struct http_resp *);
static int	http_refuse(struct http_resp *);

static int
http_is_tchar(int c)
{
	/* RFC 9110 token characters */
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Field-value and reason-phrase bytes: VCHAR, SP, HTAB, obs-text. */
static int
http_is_vbyte(int c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

void
http_ws_key(const uint8_t nonce[HTTP_NONCE_LEN], char key[HTTP_KEY_SIZE])
{
	size_t	 olen;

	if (mbedtls_base64_encode((unsigned char *)key, HTTP_KEY_SIZE, &olen,
	    nonce, HTTP_NONCE_LEN) != 0 || olen != HTTP_KEY_SIZE - 1)
		fatalx("%s: base64", __func__);
}

void
http_ws_accept(const char *key, char accept[HTTP_ACCEPT_SIZE])
{
	unsigned char	 buf[HTTP_KEY_SIZE + sizeof(HTTP_WS_GUID)];
	unsigned char	 md[20];
	size_t		 klen = strlen(key), olen;
	int		 rv;

	if (klen >= HTTP_KEY_SIZE)
		fatalx("%s: key too long", __func__);
	memcpy(buf, key, klen);
	memcpy(buf + klen, HTTP_WS_GUID, sizeof(HTTP_WS_GUID) - 1);
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	rv = mbedtls_sha1(buf, klen + sizeof(HTTP_WS_GUID) - 1, md);
#else
	rv = mbedtls_sha1_ret(buf, klen + sizeof(HTTP_WS_GUID) - 1, md);
#endif
	if (rv != 0 || mbedtls_base64_encode((unsigned char *)accept,
	    HTTP_ACCEPT_SIZE, &olen, md, sizeof(md)) != 0 ||
	    olen != HTTP_ACCEPT_SIZE - 1)
		fatalx("%s: sha1/base64", __func__);
}

/* No control byte may reach a request line: that is header injection. */
static int
http_valid_value(const char *s)
{
	for (; *s != '\0'; s++)
		if (!http_is_vbyte((unsigned char)*s))
			return 0;
	return 1;
}

/* Names the request sets itself, or must never carry. */
static const char *const http_reserved[] = {
	"host", "upgrade", "connection", "origin", "sec-websocket-key",
	"sec-websocket-version", "sec-websocket-extensions",
	"sec-websocket-protocol", "content-length", "transfer-encoding",
};

/*
 * The caller's extra lines must be "Name: value\r\n" each, so a token
 * or a configured header can never end the request early or add one we
 * promised not to send.
 */
static int
http_valid_headers(const char *h)
{
	const char	*name, *p;
	size_t		 nlen, i;

	for (p = h; *p != '\0';) {
		for (name = p; http_is_tchar((unsigned char)*p); p++)
			;
		if ((nlen = p - name) == 0 || *p++ != ':')
			return 0;
		for (i = 0; i < nitems(http_reserved); i++)
			if (strlen(http_reserved[i]) == nlen &&
			    strncasecmp(name, http_reserved[i], nlen) == 0)
				return 0;
		while (*p != '\0' && *p != '\r' && http_is_vbyte(
		    (unsigned char)*p))
			p++;
		if (p[0] != '\r' || p[1] != '\n')
			return 0;
		p += 2;
	}
	return 1;
}

char *
http_upgrade_request(const struct url *u, const char *key, const char *ua,
    const char *headers, size_t *len)
{
	char		 host[300];
	char		*s;
	const char	*p;
	int		 n;

	for (p = u->path; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			break;
	if (u->path[0] != '/' || *p != '\0' || strlen(key) !=
	    HTTP_KEY_SIZE - 1 || (ua != NULL && !http_valid_value(ua)) ||
	    (headers != NULL && !http_valid_headers(headers))) {
		errno = EINVAL;
		return NULL;
	}
	url_authority(u, host, sizeof(host));
	if (!http_valid_value(host) || strchr(host, ' ') != NULL) {
		errno = EINVAL;
		return NULL;
	}
	n = asprintf(&s, "GET %s HTTP/1.1\r\n"
	    "Host: %s\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\n"
	    "Sec-WebSocket-Version: 13\r\n"
	    "%s%s%s"
	    "%s"
	    "\r\n",
	    u->path, host, key,
	    ua != NULL ? "User-Agent: " : "", ua != NULL ? ua : "",
	    ua != NULL ? "\r\n" : "",
	    headers != NULL ? headers : "");
	if (n == -1)
		fatal(NULL);
	*len = n;
	return s;
}

/* host:port, host a name, an IPv4 literal or a bracketed IPv6 one. */
static int
http_valid_authority(const char *a)
{
	const char	*colon;
	size_t		 i, len = strlen(a);

	if (len == 0 || len > 300 || (colon = strrchr(a, ':')) == NULL ||
	    colon == a || colon[1] == '\0' || strlen(colon + 1) > 5)
		return 0;
	for (i = 1; colon[i] != '\0'; i++)
		if (colon[i] < '0' || colon[i] > '9')
			return 0;
	for (i = 0; a + i < colon; i++)
		if (!((a[i] >= 'a' && a[i] <= 'z') ||
		    (a[i] >= 'A' && a[i] <= 'Z') ||
		    (a[i] >= '0' && a[i] <= '9') ||
		    strchr("-._:[]%", a[i]) != NULL))
			return 0;
	return 1;
}

char *
http_connect_request(const char *authority, const char *auth,
    const char *ua, size_t *len)
{
	char	*s;
	int	 n;

	if (!http_valid_authority(authority) ||
	    (auth != NULL && !http_valid_value(auth)) ||
	    (ua != NULL && !http_valid_value(ua))) {
		errno = EINVAL;
		return NULL;
	}
	n = asprintf(&s, "CONNECT %s HTTP/1.1\r\n"
	    "Host: %s\r\n"
	    "%s%s%s"
	    "%s%s%s"
	    "\r\n",
	    authority, authority,
	    auth != NULL ? "Proxy-Authorization: " : "",
	    auth != NULL ? auth : "", auth != NULL ? "\r\n" : "",
	    ua != NULL ? "User-Agent: " : "", ua != NULL ? ua : "",
	    ua != NULL ? "\r\n" : "");
	if (n == -1)
		fatal(NULL);
	*len = n;
	return s;
}

void
http_resp_init(struct http_resp *r, int kind, const char *key)
{
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->state = HTTP_ST_STATUS;
	r->result = HTTP_MORE;
	r->clen = -1;
	if (kind == HTTP_UPGRADE)
		http_ws_accept(key, r->accept);
}

static int
http_fail(struct http_resp *r, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	r->state = HTTP_ST_END;
	return r->result = HTTP_FAIL;
}

int
http_resp_feed(struct http_resp *r, const uint8_t *p, size_t n,
    size_t *used)
{
	size_t	 i, take, room;
	int	 c;

	*used = 0;
	for (i = 0; i < n && r->result == HTTP_MORE; i++) {
		if (r->state == HTTP_ST_BODY) {
			take = n - i < r->bodywant ? n - i : r->bodywant;
			room = sizeof(r->body) - r->bodylen;
			memcpy(r->body + r->bodylen, p + i,
			    take < room ? take : room);
			r->bodylen += take < room ? take : room;
			r->bodywant -= take;
			i += take - 1;
			if (r->bodywant == 0)
				http_refuse(r);
			continue;
		}
		c = p[i];
		if (++r->total > HTTP_HEADERS_MAX)
			return http_fail(r, "response headers larger than "
			    "%d bytes", HTTP_HEADERS_MAX);
		/* A TLS alert or an SSH banner is known at its first byte. */
		if (r->state == HTTP_ST_STATUS && r->linelen < 7 &&
		    c != "HTTP/1."[r->linelen])
			return http_fail(r, "not an HTTP/1.1 response");
		if (r->cr) {
			if (c != '\n')
				return http_fail(r, "bare CR in the response");
			r->cr = 0;
			r->line[r->linelen] = '\0';
			if (http_line(r) == HTTP_DONE) {
				*used = i + 1;
				return HTTP_DONE;
			}
			r->linelen = 0;
		} else if (c == '\r')
			r->cr = 1;
		else if (c == '\n')
			return http_fail(r, "bare LF in the response");
		else if (c == '\0')
			return http_fail(r, "NUL byte in the response");
		else if (r->linelen + 2 >= HTTP_LINE_MAX)
			return http_fail(r, "response line longer than %d "
			    "bytes", HTTP_LINE_MAX);
		else
			r->line[r->linelen++] = (char)c;
	}
	*used = i;
	return r->result;
}

static int
http_line(struct http_resp *r)
{
	if (r->state == HTTP_ST_STATUS)
		return http_status_line(r);
	if (r->linelen == 0)
		return http_headers_done(r);
	return http_field(r);
}

/* HTTP/1.x SP 3DIGIT [SP reason-phrase] */
static int
http_status_line(struct http_resp *r)
{
	const char	*l = r->line, *p;
	size_t		 i;

	if (strncmp(l, "HTTP/1.", 7) != 0 || (l[7] != '0' && l[7] != '1'))
		return http_fail(r, "not an HTTP/1.1 response");
	if (l[7] == '0')
		r->seen |= HTTP_SEEN_V10;
	if (l[8] != ' ' || l[9] < '1' || l[9] > '5' || l[10] < '0' ||
	    l[10] > '9' || l[11] < '0' || l[11] > '9' ||
	    (l[12] != ' ' && l[12] != '\0'))
		return http_fail(r, "malformed status line");
	r->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
	p = l[12] == ' ' ? l + 13 : l + 12;
	for (i = 0; p[i] != '\0'; i++) {
		if (!http_is_vbyte((unsigned char)p[i]))
			return http_fail(r, "malformed status line");
		if (i < sizeof(r->reason) - 1)
			r->reason[i] = (unsigned char)p[i] < 0x80 &&
			    p[i] != '\t' ? p[i] : '?';
	}
	r->state = HTTP_ST_HEADERS;
	return HTTP_MORE;
}

/* 1 if the comma-separated list v holds the element t, any case. */
static int
http_has_token(const char *v, const char *t)
{
	size_t	 tlen = strlen(t), n, len;

	while (*v != '\0') {
		while (*v == ' ' || *v == '\t')
			v++;
		for (n = 0; v[n] != '\0' && v[n] != ','; n++)
			;
		for (len = n; len > 0 && (v[len - 1] == ' ' ||
		    v[len - 1] == '\t'); len--)
			;
		if (len == tlen && strncasecmp(v, t, len) == 0)
			return 1;
		v += n;
		if (*v == ',')
			v++;
	}
	return 0;
}

static void
http_content_length(struct http_resp *r, const char *v)
{
	long long	 n = 0;
	const char	*p;

	for (p = v; *p >= '0' && *p <= '9' && n < 1000000000000LL; p++)
		n = n * 10 + (*p - '0');
	if (p == v || *p != '\0' || (r->clen != -1 && r->clen != n))
		r->seen |= HTTP_SEEN_CLEN_BAD;
	else
		r->clen = n;
}

static int
http_field(struct http_resp *r)
{
	char	*name = r->line, *v, *end;

	if (name[0] == ' ' || name[0] == '\t')
		return http_fail(r, "folded header line in the response");
	if (++r->fields > HTTP_FIELDS_MAX)
		return http_fail(r, "more than %d header lines",
		    HTTP_FIELDS_MAX);
	for (v = name; http_is_tchar((unsigned char)*v); v++)
		;
	if (v == name || *v != ':')
		return http_fail(r, "malformed header line in the response");
	*v++ = '\0';
	while (*v == ' ' || *v == '\t')
		v++;
	for (end = v + strlen(v); end > v && (end[-1] == ' ' ||
	    end[-1] == '\t'); end--)
		;
	*end = '\0';
	for (end = v; *end != '\0'; end++)
		if (!http_is_vbyte((unsigned char)*end))
			return http_fail(r, "control byte in header %s", name);

	if (strcasecmp(name, "Content-Length") == 0)
		http_content_length(r, v);
	else if (strcasecmp(name, "Transfer-Encoding") == 0)
		r->seen |= HTTP_SEEN_TE;
	if (r->kind != HTTP_UPGRADE)
		return HTTP_MORE;
	if (strcasecmp(name, "Upgrade") == 0) {
		if (strcasecmp(v, "websocket") == 0)
			r->seen |= HTTP_SEEN_UPGRADE;
		else
			r->seen |= HTTP_SEEN_UPGRADE_BAD;
	} else if (strcasecmp(name, "Connection") == 0) {
		if (http_has_token(v, "upgrade"))
			r->seen |= HTTP_SEEN_CONN_UPGRADE;
	} else if (strcasecmp(name, "Sec-WebSocket-Accept") == 0) {
		if ((r->seen & HTTP_SEEN_ACCEPT) || strcmp(v, r->accept) != 0)
			r->seen |= HTTP_SEEN_ACCEPT_BAD;
		r->seen |= HTTP_SEEN_ACCEPT;
	} else if (strcasecmp(name, "Sec-WebSocket-Extensions") == 0) {
		if (*v != '\0')
			r->seen |= HTTP_SEEN_EXT;
	} else if (strcasecmp(name, "Sec-WebSocket-Protocol") == 0) {
		if (*v != '\0')
			r->seen |= HTTP_SEEN_PROTO;
	}
	return HTTP_MORE;
}

static int
http_upgrade_done(struct http_resp *r)
{
	unsigned int	 s = r->seen;

	if (s & HTTP_SEEN_V10)
		return http_fail(r, "101 from an HTTP/1.0 server");
	if (!(s & HTTP_SEEN_UPGRADE) || (s & HTTP_SEEN_UPGRADE_BAD))
		return http_fail(r, "upgrade response without "
		    "\"Upgrade: websocket\"");
	if (!(s & HTTP_SEEN_CONN_UPGRADE))
		return http_fail(r, "upgrade response without "
		    "\"Connection: upgrade\"");
	if (!(s & HTTP_SEEN_ACCEPT))
		return http_fail(r, "upgrade response without "
		    "Sec-WebSocket-Accept");
	if (s & HTTP_SEEN_ACCEPT_BAD)
		return http_fail(r, "Sec-WebSocket-Accept does not match "
		    "the key");
	if (s & HTTP_SEEN_EXT)
		return http_fail(r, "server chose a WebSocket extension "
		    "we did not offer");
	if (s & HTTP_SEEN_PROTO)
		return http_fail(r, "server chose a subprotocol we did "
		    "not offer");
	r->state = HTTP_ST_END;
	return r->result = HTTP_DONE;
}

static int
http_headers_done(struct http_resp *r)
{
	if (r->kind == HTTP_UPGRADE && r->status == 101)
		return http_upgrade_done(r);
	if (r->kind == HTTP_CONNECT && r->status / 100 == 2) {
		/* A 2xx to CONNECT has no body: the tunnel starts here. */
		r->state = HTTP_ST_END;
		return r->result = HTTP_DONE;
	}
	if (r->status / 100 == 1)
		return http_fail(r, "unexpected interim response %d",
		    r->status);
	/*
	 * A refusal: keep up to HTTP_BODY_MAX bytes of its body for the
	 * log.  A chunked body, or one that says it is empty, is not
	 * waited for; one without a length ends when the server closes,
	 * or when the caller stops waiting (http_resp_finish).
	 */
	if ((r->seen & (HTTP_SEEN_TE | HTTP_SEEN_CLEN_BAD)) ||
	    r->status == 204 || r->status == 304 || r->clen == 0)
		return http_refuse(r);
	r->bodywant = r->clen > 0 && r->clen < HTTP_BODY_MAX ?
	    (size_t)r->clen : HTTP_BODY_MAX;
	r->state = HTTP_ST_BODY;
	return HTTP_MORE;
}

static int
http_refuse(struct http_resp *r)
{
	char	 body[HTTP_BODY_MAX + 1];
	size_t	 i, n = r->bodylen;

	/* The body is the server's text: printable ASCII only in a log. */
	for (i = 0; i < n; i++) {
		unsigned char c = r->body[i];
		if (c == '\r' || c == '\n' || c == '\t')
			body[i] = ' ';
		else if (c < 0x20 || c >= 0x7f)
			body[i] = '?';
		else
			body[i] = (char)c;
	}
	while (n > 0 && body[n - 1] == ' ')
		n--;
	body[n] = '\0';

	if (r->kind == HTTP_UPGRADE && (r->status == 401 ||
	    r->status == 403)) {
		r->auth = 1;
		return http_fail(r, "authentication failed: %d%s%s",
		    r->status, r->reason[0] != '\0' ? " " : "", r->reason);
	}
	return http_fail(r, "%s: HTTP %d%s%s%s%s",
	    r->kind == HTTP_UPGRADE ? "upgrade refused" :
	    "proxy refused CONNECT", r->status,
	    r->reason[0] != '\0' ? " " : "", r->reason,
	    n > 0 ? ": " : "", body);
}

int
http_resp_finish(struct http_resp *r)
{
	if (r->result != HTTP_MORE)
		return r->result;
	if (r->state == HTTP_ST_BODY)
		return http_refuse(r);
	return http_fail(r, "connection closed before the %s response "
	    "was complete", r->kind == HTTP_UPGRADE ? "upgrade" :
	    "proxy's CONNECT");
}

int
http_resp_in_body(const struct http_resp *r)
{
	return r->result == HTTP_MORE && r->state == HTTP_ST_BODY;
}
