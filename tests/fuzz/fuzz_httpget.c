/*
 * fuzz_httpget.c: the key fetch's response parser (net-worker/httpget.c)
 * on arbitrary bytes, fed whole and in chunks: both ways must agree on
 * the result, the status and (when complete) the body, never keep more than the cap,
 * explain every failure in printable text, and stay decided once done.
 *
 * Input: byte 0 picks the chunk size (bits 0-5, +1), whether the stream
 * then ends (bit 6) and a small cap (bit 7: 64 bytes, else 63 KiB); the
 * rest is the response.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "httpget.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
fuzz_run(struct hg_resp *r, const uint8_t *d, size_t n, size_t step,
    int eof, size_t max)
{
	size_t	 off, k;
	int	 rv = HG_MORE;

	if (hg_init(r, max) == -1)
		abort();
	for (off = 0; off < n && rv == HG_MORE; off += k) {
		k = n - off < step ? n - off : step;
		rv = hg_feed(r, d + off, k);
	}
	if (eof)
		rv = hg_eof(r);
	if (r->bodylen > max)
		abort();
	return rv;
}

static void
fuzz_check(const struct hg_resp *r, int rv)
{
	const char	*p;

	if (rv == HG_FAIL) {
		if (r->why[0] == '\0')
			abort();
		for (p = r->why; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 ||
			    (unsigned char)*p >= 0x7f)
				abort();
	}
	if (rv == HG_DONE && (r->status < 200 || r->status > 599))
		abort();
	for (p = r->reason; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hg_resp	 a, b;
	size_t		 step, max;
	int		 eof, ra, rb;

	if (size == 0)
		return 0;
	step = (data[0] & 0x3f) + 1;
	eof = (data[0] & 0x40) != 0;
	max = (data[0] & 0x80) ? 64 : 63 * 1024;
	ra = fuzz_run(&a, data + 1, size - 1, size, eof, max);
	rb = fuzz_run(&b, data + 1, size - 1, step, eof, max);
	if (ra != rb || a.status != b.status || strcmp(a.why, b.why) != 0)
		abort();
	/* A failure may come after more or less of the body was taken. */
	if (ra == HG_DONE && (a.bodylen != b.bodylen ||
	    memcmp(a.body, b.body, a.bodylen) != 0))
		abort();
	fuzz_check(&a, ra);
	/* Decided is decided. */
	if (ra != HG_MORE && (hg_feed(&a, data, size) != ra ||
	    hg_eof(&a) != ra))
		abort();
	hg_free(&a);
	hg_free(&b);
	return 0;
}
