/*
 * check_httpget.c: the key fetch's GET request and response parser
 * (net-worker/httpget.c): status lines, headers, the three body
 * delimitations, truncation and the size caps, each fed whole and one
 * byte at a time (both must agree).
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpget.h"
#include "testlib.h"

#define MAX	64

/* Parse text whole (step 0) or in steps of step bytes; then eof if asked. */
static int
parse(struct hg_resp *r, const char *text, size_t step, int eof, size_t max)
{
	size_t	 n = strlen(text), off, k;
	int	 rv = HG_MORE;

	ck_assert_int_eq(hg_init(r, max), 0);
	if (step == 0)
		step = n > 0 ? n : 1;
	for (off = 0; off < n && rv == HG_MORE; off += k) {
		k = n - off < step ? n - off : step;
		rv = hg_feed(r, (const uint8_t *)text + off, k);
	}
	if (eof)
		rv = hg_eof(r);
	return rv;
}

/* Both ways; returns the whole-feed result, r holds it. */
static int
parse2(struct hg_resp *r, const char *text, int eof, size_t max)
{
	struct hg_resp	 b;
	int		 rv, rv1;

	rv1 = parse(&b, text, 1, eof, max);
	rv = parse(r, text, 0, eof, max);
	ck_assert_int_eq(rv, rv1);
	ck_assert_int_eq(r->status, b.status);
	/* A failure may come after more or less of the body was taken. */
	if (rv == HG_DONE) {
		ck_assert_uint_eq(r->bodylen, b.bodylen);
		ck_assert_int_eq(memcmp(r->body, b.body, r->bodylen), 0);
	}
	ck_assert_str_eq(r->why, b.why);
	hg_free(&b);
	return rv;
}

START_TEST(test_request)
{
	char	*q;
	size_t	 len;

	q = hg_request("github.com", 443, "/octocat.keys", "ua/1", &len);
	ck_assert_ptr_nonnull(q);
	ck_assert_str_eq(q, "GET /octocat.keys HTTP/1.1\r\nHost: github.com\r\n"
	    "User-Agent: ua/1\r\nAccept: text/plain, */*\r\n"
	    "Accept-Encoding: identity\r\nConnection: close\r\n\r\n");
	ck_assert_uint_eq(len, strlen(q));
	free(q);
	q = hg_request("localhost", 8443, "/m/u.keys", "ua", &len);
	ck_assert_ptr_nonnull(strstr(q, "\r\nHost: localhost:8443\r\n"));
	free(q);
	q = hg_request("::1", 8443, "/u.keys", "ua", &len);
	ck_assert_ptr_nonnull(strstr(q, "\r\nHost: [::1]:8443\r\n"));
	free(q);
	errno = 0;
	ck_assert_ptr_null(hg_request("a b", 443, "/u.keys", "ua", &len));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(hg_request("h", 443, "u.keys", "ua", &len));
	ck_assert_ptr_null(hg_request("h", 443, "/u\r\nX: y", "ua", &len));
	ck_assert_ptr_null(hg_request("h", 443, "/u", "ua\r\nX: y", &len));
	ck_assert_ptr_null(hg_request("", 443, "/u", "ua", &len));
}
END_TEST

START_TEST(test_content_length)
{
	struct hg_resp	 r;

	ck_assert_int_eq(parse2(&r, "HTTP/1.1 200 OK\r\nContent-Type: text/"
	    "plain\r\nContent-Length: 5\r\n\r\nab\ncdTRAILING", 0, MAX),
	    HG_DONE);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.reason, "OK");
	ck_assert_uint_eq(r.bodylen, 5);
	ck_assert_str_eq(r.body, "ab\ncd");
	hg_free(&r);
	/* Empty body, bare LF line ends, HTTP/1.0, no reason. */
	ck_assert_int_eq(parse2(&r, "HTTP/1.0 200\nContent-Length: 0\n\n", 0,
	    MAX), HG_DONE);
	ck_assert_uint_eq(r.bodylen, 0);
	hg_free(&r);
	/* The same length twice is fine, two different ones are not. */
	ck_assert_int_eq(parse2(&r, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
	    "content-length: 1\r\n\r\nx", 0, MAX), HG_DONE);
	hg_free(&r);
	ck_assert_int_eq(parse2(&r, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
	    "Content-Length: 2\r\n\r\nxy", 0, MAX), HG_FAIL);
	ck_assert_str_eq(r.why, "two different Content-Length");
	hg_free(&r);
	ck_assert_int_eq(parse2(&r, "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n"
	    "\r\n", 0, MAX), HG_FAIL);
	ck_assert_str_eq(r.why, "bad Content-Length");
	hg_free(&r);
}
END_TEST

START_TEST(test_chunked)
{
	struct hg_resp	 r;

	ck_assert_int_eq(parse2(&r, "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	    "Chunked\r\n\r\n3\r\nabc\r\nA;ext=1\r\n0123456789\r\n0\r\n"
	    "X-Trailer: 1\r\n\r\n", 0, MAX), HG_DONE);
	ck_assert_str_eq(r.body, "abc0123456789");
	hg_free(&r);
	ck_assert_int_eq(parse2(&r, "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n", 0, MAX), HG_FAIL);
	ck_assert_str_eq(r.why, "chunk longer than its size");
	hg_free(&r);
	ck_assert_int_eq(parse2(&r, "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	    "chunked\r\n\r\nzz\r\n", 0, MAX), HG_FAIL);
	ck_assert_str_eq(r.why, "malformed chunk size");
	hg_free(&r);
	ck_assert_int_eq(parse2(&r, "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n10000000000000000\r\n", 0, MAX), HG_FAIL);
	ck_assert_str_eq(r.why, "chunk size too long");
	hg_free(&r);
	ck_assert_int_eq(parse2(&r, "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	    "gzip, chunked\r\n\r\n", 0, MAX), HG_FAIL);
	ck_assert_str_eq(r.why, "unsupported Transfer-Encoding");
	hg_free(&r);
	ck_assert_int_eq(parse2(&r, "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	    "chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 0,
	    MAX), HG_FAIL);
	ck_assert_str_eq(r.why, "both Content-Length and Transfer-Encoding");
	hg_free(&r);
}
END_TEST

START_TEST(test_close_delimited)
{
	struct hg_resp	 r;

	ck_assert_int_eq(parse2(&r, "HTTP/1.1 200 OK\r\nServer: x\r\n\r\n"
	    "ssh-ed25519 AAAA\n", 0, MAX), HG_MORE);
	hg_free(&r);
	ck_assert_int_eq(parse2(&r, "HTTP/1.1 200 OK\r\nServer: x\r\n\r\n"
	    "ssh-ed25519 AAAA\n", 1, MAX), HG_DONE);
	ck_assert_str_eq(r.body, "ssh-ed25519 AAAA\n");
	hg_free(&r);
}
END_TEST

START_TEST(test_status)
{
	struct hg_resp	 r;

	/* Not a 200: done at the status line, the caller reports it. */
	ck_assert_int_eq(parse2(&r, "HTTP/1.1 404 Not Found\r\nContent-"
	    "Length: 9\r\n\r\nNot Found", 0, MAX), HG_DONE);
	ck_assert_int_eq(r.status, 404);
	ck_assert_str_eq(r.reason, "Not Found");
	hg_free(&r);
	ck_assert_int_eq(parse2(&r, "HTTP/1.1 301 Moved\x01\r\n", 0, MAX),
	    HG_DONE);
	ck_assert_int_eq(r.status, 301);
	ck_assert_str_eq(r.reason, "Moved?");
	hg_free(&r);
	/* A 100 Continue before the answer is skipped. */
	ck_assert_int_eq(parse2(&r, "HTTP/1.1 100 Continue\r\nX: y\r\n\r\n"
	    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0, MAX),
	    HG_DONE);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "ok");
	hg_free(&r);
	ck_assert_int_eq(parse2(&r, "HTTP/1.1 101 Switching Protocols\r\n\r\n",
	    0, MAX), HG_FAIL);
	hg_free(&r);
	ck_assert_int_eq(parse2(&r, "HTTP/2 200 OK\r\n", 0, MAX), HG_FAIL);
	ck_assert_str_eq(r.why, "malformed status line");
	hg_free(&r);
	ck_assert_int_eq(parse2(&r, "HTTP/1.1 2000 OK\r\n", 0, MAX), HG_FAIL);
	hg_free(&r);
	ck_assert_int_eq(parse2(&r, "SSH-2.0-OpenSSH\r\n", 0, MAX), HG_FAIL);
	hg_free(&r);
}
END_TEST

START_TEST(test_headers)
{
	struct hg_resp	 r;
	char		*big;
	size_t		 i, n;

	ck_assert_int_eq(parse2(&r, "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n",
	    0, MAX), HG_FAIL);
	ck_assert_str_eq(r.why, "folded header line");
	hg_free(&r);
	ck_assert_int_eq(parse2(&r, "HTTP/1.1 200 OK\r\nno colon\r\n\r\n", 0,
	    MAX), HG_FAIL);
	ck_assert_str_eq(r.why, "malformed header line");
	hg_free(&r);
	ck_assert_int_eq(parse2(&r, "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", 0,
	    MAX), HG_FAIL);
	ck_assert_str_eq(r.why, "stray control byte in a line");
	hg_free(&r);
	/* Too many lines, a line too long, too many header bytes. */
	big = malloc(64 * 1024);
	strcpy(big, "HTTP/1.1 200 OK\r\n");
	for (i = 0; i <= HG_FIELDS_MAX; i++)
		strcat(big, "X: y\r\n");
	ck_assert_int_eq(parse2(&r, big, 0, MAX), HG_FAIL);
	ck_assert_str_eq(r.why, "more than 100 header lines");
	hg_free(&r);
	strcpy(big, "HTTP/1.1 200 OK\r\nX: ");
	n = strlen(big);
	memset(big + n, 'a', HG_LINE_MAX + 10);
	big[n + HG_LINE_MAX + 10] = '\0';
	ck_assert_int_eq(parse2(&r, big, 0, MAX), HG_FAIL);
	ck_assert_str_eq(r.why, "line over 8192 bytes");
	hg_free(&r);
	strcpy(big, "HTTP/1.1 200 OK\r\n");
	for (i = 0; i < 3; i++) {
		strcat(big, "X: ");
		n = strlen(big);
		memset(big + n, 'a', 6000);
		big[n + 6000] = '\0';
		strcat(big, "\r\n");
	}
	ck_assert_int_eq(parse2(&r, big, 0, MAX), HG_FAIL);
	ck_assert_str_eq(r.why, "headers over 16384 bytes");
	hg_free(&r);
	free(big);
}
END_TEST

START_TEST(test_truncated)
{
	struct hg_resp	 r;

	ck_assert_int_eq(parse2(&r, "", 1, MAX), HG_FAIL);
	ck_assert_str_eq(r.why, "connection closed before a response");
	hg_free(&r);
	ck_assert_int_eq(parse2(&r, "HTTP/1.1 200 OK\r\nContent-Len", 1, MAX),
	    HG_FAIL);
	hg_free(&r);
	ck_assert_int_eq(parse2(&r, "HTTP/1.1 200 OK\r\nContent-Length: 10"
	    "\r\n\r\nabc", 1, MAX), HG_FAIL);
	ck_assert_str_eq(r.why, "connection closed before the end of the "
	    "response (3 body bytes)");
	hg_free(&r);
	ck_assert_int_eq(parse2(&r, "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n3\r\nabc\r\n", 1, MAX), HG_FAIL);
	hg_free(&r);
}
END_TEST

START_TEST(test_oversize)
{
	struct hg_resp	 r;
	char		 body[200], text[400];

	memset(body, 'k', MAX + 1);
	body[MAX + 1] = '\0';
	snprintf(text, sizeof(text), "HTTP/1.1 200 OK\r\nContent-Length: %d"
	    "\r\n\r\n%s", MAX + 1, body);
	ck_assert_int_eq(parse2(&r, text, 0, MAX), HG_FAIL);
	ck_assert_str_eq(r.why, "body of 65 bytes is over the limit of 64");
	hg_free(&r);
	snprintf(text, sizeof(text), "HTTP/1.1 200 OK\r\n\r\n%s", body);
	ck_assert_int_eq(parse2(&r, text, 1, MAX), HG_FAIL);
	ck_assert_str_eq(r.why, "body over the limit of 64 bytes");
	hg_free(&r);
	snprintf(text, sizeof(text), "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n20\r\n%.32s\r\n21\r\n", body);
	ck_assert_int_eq(parse2(&r, text, 0, MAX), HG_FAIL);
	ck_assert_str_eq(r.why, "body over the limit of 64 bytes");
	hg_free(&r);
	/* Exactly at the cap is fine. */
	body[MAX] = '\0';
	snprintf(text, sizeof(text), "HTTP/1.1 200 OK\r\n\r\n%s", body);
	ck_assert_int_eq(parse2(&r, text, 1, MAX), HG_DONE);
	ck_assert_uint_eq(r.bodylen, MAX);
	hg_free(&r);
}
END_TEST

START_TEST(test_sticky)
{
	struct hg_resp	 r;

	ck_assert_int_eq(parse(&r, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
	    "\r\nx", 0, 0, MAX), HG_DONE);
	ck_assert_int_eq(hg_feed(&r, (const uint8_t *)"more", 4), HG_DONE);
	ck_assert_int_eq(hg_eof(&r), HG_DONE);
	ck_assert_str_eq(r.body, "x");
	hg_free(&r);
	ck_assert_int_eq(parse(&r, "junk\r\n", 0, 0, MAX), HG_FAIL);
	ck_assert_int_eq(hg_feed(&r, (const uint8_t *)"HTTP/1.1 200 OK\r\n",
	    17), HG_FAIL);
	ck_assert_int_eq(hg_eof(&r), HG_FAIL);
	hg_free(&r);
}
END_TEST

static Suite *
httpget_suite(void)
{
	Suite	*s = suite_create("httpget");
	TCase	*tc = tcase_create("parse");

	tcase_add_test(tc, test_request);
	tcase_add_test(tc, test_content_length);
	tcase_add_test(tc, test_chunked);
	tcase_add_test(tc, test_close_delimited);
	tcase_add_test(tc, test_status);
	tcase_add_test(tc, test_headers);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_oversize);
	tcase_add_test(tc, test_sticky);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tl_run(httpget_suite());
}
