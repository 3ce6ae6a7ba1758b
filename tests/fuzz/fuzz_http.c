/*
 * fuzz_http.c: the upgrade and CONNECT response parsers on arbitrary
 * bytes, fed whole and in chunks: both ways must agree, never read or
 * claim a byte beyond the input, and explain every failure in printable
 * text.  The same bytes, as extra header lines, must never let a
 * request end early or grow a line of its own.
 *
 * Input: byte 0 picks the parser (bit 0) and the chunk size (bits 1-6);
 * the rest is the response.  Key: the RFC 6455 example nonce.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "url.h"

#define FUZZ_KEY	"dGhlIHNhbXBsZSBub25jZQ=="

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_check_why(const struct http_resp *r)
{
	const char	*p;

	if (r->why[0] == '\0')
		abort();
	for (p = r->why; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			abort();
	if (r->auth && (r->kind != HTTP_UPGRADE ||
	    (r->status != 401 && r->status != 403)))
		abort();
}

/* Feed in chunks of step bytes; returns the result, *total consumed. */
static int
fuzz_feed(struct http_resp *r, const uint8_t *d, size_t n, size_t step,
    size_t *total)
{
	size_t	 off = 0, len, used;
	int	 rv = HTTP_MORE;

	*total = 0;
	while (off < n) {
		len = n - off < step ? n - off : step;
		rv = http_resp_feed(r, d + off, len, &used);
		if (used > len)
			abort();
		*total += used;
		if (rv == HTTP_MORE && used != len)
			abort();
		if (rv != HTTP_MORE)
			break;
		off += len;
	}
	/* Sticky: once decided, more bytes change nothing. */
	if (rv != HTTP_MORE) {
		if (http_resp_feed(r, (const uint8_t *)"x", 1, &used) != rv ||
		    used != 0)
			abort();
	}
	if (rv == HTTP_MORE) {
		if (http_resp_finish(r) != HTTP_FAIL)
			abort();
		rv = HTTP_FAIL;
	}
	if (rv == HTTP_FAIL)
		fuzz_check_why(r);
	return rv;
}

static void
fuzz_request(const uint8_t *d, size_t n)
{
	struct url	 u;
	const char	*why, *end;
	char		*h, *req;
	size_t		 len, i;

	if ((h = malloc(n + 1)) == NULL)
		return;
	memcpy(h, d, n);
	h[n] = '\0';
	if (url_parse("wss://example.com:8443/ws?x=1", &u, &why) == -1)
		abort();
	if ((req = http_upgrade_request(&u, FUZZ_KEY, "ua/1", h,
	    &len)) != NULL) {
		/* One blank line, at the very end; every LF after a CR. */
		end = strstr(req, "\r\n\r\n");
		if (end == NULL || (size_t)(end - req) + 4 != len ||
		    strlen(req) != len)
			abort();
		for (i = 0; i < len; i++)
			if ((req[i] == '\r' && req[i + 1] != '\n') ||
			    (req[i] == '\n' && (i == 0 || req[i - 1] != '\r')))
				abort();
		free(req);
	}
	if ((req = http_connect_request(h, h, NULL, &len)) != NULL) {
		end = strstr(req, "\r\n\r\n");
		if (end == NULL || (size_t)(end - req) + 4 != len)
			abort();
		free(req);
	}
	free(h);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_resp	 a, b;
	size_t			 ta, tb, step;
	int			 kind, ra, rb;

	if (size < 1)
		return 0;
	kind = (data[0] & 1) ? HTTP_CONNECT : HTTP_UPGRADE;
	step = ((data[0] >> 1) & 0x3f) + 1;
	data++;
	size--;

	http_resp_init(&a, kind, kind == HTTP_UPGRADE ? FUZZ_KEY : NULL);
	http_resp_init(&b, kind, kind == HTTP_UPGRADE ? FUZZ_KEY : NULL);
	ra = fuzz_feed(&a, data, size, size > 0 ? size : 1, &ta);
	rb = fuzz_feed(&b, data, size, step, &tb);
	if (ra != rb || (ra == HTTP_DONE && ta != tb) || a.status != b.status ||
	    a.auth != b.auth || strcmp(a.why, b.why) != 0)
		abort();
	if (ra == HTTP_DONE && (ta > size || a.status == 0 ||
	    (kind == HTTP_UPGRADE && a.status != 101) ||
	    (kind == HTTP_CONNECT && a.status / 100 != 2)))
		abort();

	fuzz_request(data, size);
	return 0;
}
