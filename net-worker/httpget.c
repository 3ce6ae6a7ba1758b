/*
 * httpget.c: the key fetch's HTTP/1.1 GET request and its response
 * parser (httpget.h).  Strict where being lenient could let the key
 * source make us misread the stream (folded lines, two lengths, an
 * unknown transfer coding, bytes that are not text), lenient only where
 * nothing can be smuggled (a bare LF for CRLF, chunk extensions, 1xx
 * interim responses).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compat.h"
#include "httpget.h"

enum hg_state {
	S_STATUS = 0,	/* the status line */
	S_HEADER,	/* header lines */
	S_BODY,		/* Content-Length bytes (chunk counts down) */
	S_CLOSE,	/* everything until the connection closes */
	S_CSIZE,	/* a chunk-size line */
	S_CDATA,	/* chunk bytes (chunk counts down) */
	S_CDATA_END,	/* the CRLF after a chunk */
	S_TRAILER,	/* trailer lines after the last chunk */
	S_END,
};

#define HG_SEEN_CLEN	0x01
#define HG_SEEN_CHUNKED	0x02
#define HG_SEEN_INTERIM	0x04	/* the headers of a 1xx, skipped */

static int	hg_fail(struct hg_resp *, const char *, ...)
		    __printflike(2, 3);

char *
hg_request(const char *host, uint16_t port, const char *path,
    const char *ua, size_t *len)
{
	const char	*p;
	char		*req, auth[300];
	int		 n;

	if (host == NULL || *host == '\0' || strlen(host) > 255 ||
	    path == NULL || path[0] != '/' || ua == NULL) {
		errno = EINVAL;
		return NULL;
	}
	for (p = path; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
			errno = EINVAL;
			return NULL;
		}
	for (p = host; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    *p == '/' || *p == '@' || *p == '[' || *p == ']') {
			errno = EINVAL;
			return NULL;
		}
	for (p = ua; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) {
			errno = EINVAL;
			return NULL;
		}
	if (strchr(host, ':') != NULL)		/* an IPv6 literal */
		n = port == 443 ? snprintf(auth, sizeof(auth), "[%s]", host) :
		    snprintf(auth, sizeof(auth), "[%s]:%u", host, port);
	else
		n = port == 443 ? snprintf(auth, sizeof(auth), "%s", host) :
		    snprintf(auth, sizeof(auth), "%s:%u", host, port);
	if (n < 0 || (size_t)n >= sizeof(auth)) {
		errno = EINVAL;
		return NULL;
	}
	n = asprintf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n"
	    "Accept: text/plain, */*\r\nAccept-Encoding: identity\r\n"
	    "Connection: close\r\n\r\n", path, auth, ua);
	if (n == -1)
		return NULL;
	*len = (size_t)n;
	return req;
}

int
hg_init(struct hg_resp *r, size_t body_max)
{
	memset(r, 0, sizeof(*r));
	r->clen = -1;
	r->body_max = body_max;
	if ((r->body = malloc(body_max + 1)) == NULL)
		return -1;
	r->body[0] = '\0';
	return 0;
}

void
hg_free(struct hg_resp *r)
{
	free(r->body);
	r->body = NULL;
}

static int
hg_fail(struct hg_resp *r, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	r->state = S_END;
	return r->result = HG_FAIL;
}

static int
hg_done(struct hg_resp *r)
{
	r->state = S_END;
	r->body[r->bodylen] = '\0';
	return r->result = HG_DONE;
}

/* "HTTP/1.x NNN reason" */
static int
hg_status_line(struct hg_resp *r, const char *l, size_t n)
{
	size_t	 i, k = 0;

	if (n < 12 || memcmp(l, "HTTP/1.", 7) != 0 ||
	    (l[7] != '0' && l[7] != '1') || l[8] != ' ' ||
	    l[9] < '1' || l[9] > '5' || l[10] < '0' || l[10] > '9' ||
	    l[11] < '0' || l[11] > '9' || (n > 12 && l[12] != ' '))
		return hg_fail(r, "malformed status line");
	r->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
	for (i = 13; i < n && k < sizeof(r->reason) - 1; i++)
		r->reason[k++] = (unsigned char)l[i] >= 0x20 &&
		    (unsigned char)l[i] < 0x7f ? l[i] : '?';
	r->reason[k] = '\0';
	if (r->status == 101)
		return hg_fail(r, "unexpected 101 Switching Protocols");
	if (r->status < 200) {		/* 100 Continue and friends */
		r->seen |= HG_SEEN_INTERIM;
		r->status = 0;
		r->state = S_HEADER;
		return HG_MORE;
	}
	if (r->status != 200)
		return hg_done(r);	/* the caller reports it */
	r->state = S_HEADER;
	return HG_MORE;
}

static int
hg_token_char(int ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
	    (ch >= '0' && ch <= '9') || strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static int
hg_headers_end(struct hg_resp *r)
{
	if (r->seen & HG_SEEN_INTERIM) {
		r->seen &= ~HG_SEEN_INTERIM;
		r->fields = 0;
		r->state = S_STATUS;
		return HG_MORE;
	}
	if ((r->seen & HG_SEEN_CHUNKED) && (r->seen & HG_SEEN_CLEN))
		return hg_fail(r, "both Content-Length and Transfer-Encoding");
	if (r->seen & HG_SEEN_CHUNKED) {
		r->state = S_CSIZE;
		return HG_MORE;
	}
	if (r->clen < 0) {
		r->state = S_CLOSE;
		return HG_MORE;
	}
	if ((unsigned long long)r->clen > r->body_max)
		return hg_fail(r, "body of %lld bytes is over the limit of "
		    "%zu", r->clen, r->body_max);
	if (r->clen == 0)
		return hg_done(r);
	r->chunk = (unsigned long long)r->clen;
	r->state = S_BODY;
	return HG_MORE;
}

static int
hg_header_line(struct hg_resp *r, const char *l, size_t n)
{
	const char	*v, *e;
	long long	 len = 0;
	size_t		 i;

	if (n == 0)
		return hg_headers_end(r);
	if (++r->fields > HG_FIELDS_MAX)
		return hg_fail(r, "more than %d header lines", HG_FIELDS_MAX);
	if (l[0] == ' ' || l[0] == '\t')
		return hg_fail(r, "folded header line");
	for (i = 0; i < n && hg_token_char((unsigned char)l[i]); i++)
		;
	if (i == 0 || i == n || l[i] != ':')
		return hg_fail(r, "malformed header line");
	if (r->seen & HG_SEEN_INTERIM)
		return HG_MORE;		/* a 1xx's headers mean nothing here */
	for (v = l + i + 1, e = l + n; v < e && (*v == ' ' || *v == '\t');
	    v++)
		;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	if (i == 14 && strncasecmp(l, "Content-Length", 14) == 0) {
		if (v == e || e - v > 18)
			return hg_fail(r, "bad Content-Length");
		for (; v < e; v++) {
			if (*v < '0' || *v > '9')
				return hg_fail(r, "bad Content-Length");
			len = len * 10 + (*v - '0');
		}
		if ((r->seen & HG_SEEN_CLEN) && len != r->clen)
			return hg_fail(r, "two different Content-Length");
		r->seen |= HG_SEEN_CLEN;
		r->clen = len;
	} else if (i == 17 && strncasecmp(l, "Transfer-Encoding", 17) == 0) {
		if (e - v != 7 || strncasecmp(v, "chunked", 7) != 0 ||
		    (r->seen & HG_SEEN_CHUNKED))
			return hg_fail(r, "unsupported Transfer-Encoding");
		r->seen |= HG_SEEN_CHUNKED;
	}
	return HG_MORE;
}

/* chunk-size [ BWS ";" ext ] */
static int
hg_chunk_line(struct hg_resp *r, const char *l, size_t n)
{
	unsigned long long	 size = 0;
	size_t			 i;
	int			 d;

	for (i = 0; i < n; i++) {
		if (l[i] >= '0' && l[i] <= '9')
			d = l[i] - '0';
		else if ((l[i] | 0x20) >= 'a' && (l[i] | 0x20) <= 'f')
			d = (l[i] | 0x20) - 'a' + 10;
		else
			break;
		if (i == 15)
			return hg_fail(r, "chunk size too long");
		size = size << 4 | (unsigned)d;
	}
	if (i == 0)
		return hg_fail(r, "malformed chunk size");
	while (i < n && (l[i] == ' ' || l[i] == '\t'))
		i++;
	if (i < n && l[i] != ';')
		return hg_fail(r, "malformed chunk size");
	if (size == 0) {
		r->state = S_TRAILER;
		return HG_MORE;
	}
	if (size > r->body_max - r->bodylen)
		return hg_fail(r, "body over the limit of %zu bytes",
		    r->body_max);
	r->chunk = size;
	r->state = S_CDATA;
	return HG_MORE;
}

static int
hg_line(struct hg_resp *r)
{
	const char	*l = r->line;
	size_t		 n = r->linelen;

	r->linelen = 0;
	if (n > 0 && l[n - 1] == '\r')
		n--;
	if (memchr(l, '\r', n) != NULL || memchr(l, '\0', n) != NULL)
		return hg_fail(r, "stray control byte in a line");
	switch (r->state) {
	case S_STATUS:
		return hg_status_line(r, l, n);
	case S_HEADER:
		return hg_header_line(r, l, n);
	case S_CSIZE:
		return hg_chunk_line(r, l, n);
	case S_CDATA_END:
		if (n != 0)
			return hg_fail(r, "chunk longer than its size");
		r->state = S_CSIZE;
		return HG_MORE;
	case S_TRAILER:
		if (n == 0)
			return hg_done(r);
		if (++r->fields > HG_FIELDS_MAX)
			return hg_fail(r, "more than %d header lines",
			    HG_FIELDS_MAX);
		return HG_MORE;
	}
	return hg_fail(r, "parser state");
}

static int
hg_body(struct hg_resp *r, const uint8_t *p, size_t n)
{
	if (n > r->body_max - r->bodylen)
		return hg_fail(r, "body over the limit of %zu bytes",
		    r->body_max);
	memcpy(r->body + r->bodylen, p, n);
	r->bodylen += n;
	return HG_MORE;
}

int
hg_feed(struct hg_resp *r, const uint8_t *p, size_t n)
{
	size_t	 k;
	int	 rv;

	while (n > 0 && r->result == HG_MORE) {
		switch (r->state) {
		case S_BODY:
		case S_CDATA:
			k = n < r->chunk ? n : (size_t)r->chunk;
			if (hg_body(r, p, k) == HG_FAIL)
				break;
			p += k;
			n -= k;
			if ((r->chunk -= k) > 0)
				break;
			if (r->state == S_BODY)
				return hg_done(r);
			r->state = S_CDATA_END;
			break;
		case S_CLOSE:
			(void)hg_body(r, p, n);
			n = 0;
			break;
		default:
			/* Header and trailer bytes count towards one bound. */
			if (r->state != S_CSIZE && r->state != S_CDATA_END &&
			    ++r->head > HG_HEAD_MAX)
				return hg_fail(r, "headers over %d bytes",
				    HG_HEAD_MAX);
			if (r->linelen >= HG_LINE_MAX)
				return hg_fail(r, "line over %d bytes",
				    HG_LINE_MAX);
			r->line[r->linelen++] = (char)*p++;
			n--;
			if (r->line[r->linelen - 1] == '\n') {
				r->linelen--;
				if ((rv = hg_line(r)) != HG_MORE)
					return rv;
			}
			break;
		}
	}
	return r->result;
}

int
hg_eof(struct hg_resp *r)
{
	if (r->result != HG_MORE)
		return r->result;
	if (r->state == S_CLOSE)
		return hg_done(r);
	if (r->status == 0)
		return hg_fail(r, "connection closed before a response");
	return hg_fail(r, "connection closed before the end of the "
	    "response (%zu body bytes)", r->bodylen);
}
