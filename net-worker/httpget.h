/*
 * httpget.h: the one plain HTTP/1.1 GET the net-worker makes, the SSH key
 * fetch of socketio-protocol.md §6.3 step 2.  The request is built whole;
 * the response is parsed incrementally with hard limits (header size,
 * line length, field count, body size), so a hostile key source can
 * neither grow our memory nor make us misread the stream.  Bodies may be
 * delimited by Content-Length, chunked, or the end of the connection.
 * No libev, no TLS here: keysrc.c feeds the decrypted bytes.
 */
#ifndef HTTPGET_H
#define HTTPGET_H

#include <stddef.h>
#include <stdint.h>

#define HG_HEAD_MAX	(16 * 1024)	/* status line + headers (+ trailers) */
#define HG_LINE_MAX	8192		/* one line, CRLF included */
#define HG_FIELDS_MAX	100		/* header lines */
#define HG_REASON_MAX	128
#define HG_WHY_MAX	192

enum hg_result {
	HG_FAIL = -1,		/* see why */
	HG_MORE = 0,		/* every byte consumed, feed more */
	HG_DONE = 1,		/* the response is complete (or not a 200) */
};

struct hg_resp {
	int		 state;		/* httpget.c: where the parser is */
	int		 result;	/* sticky once DONE or FAIL */
	int		 status;	/* 0 until a final status line is read */
	char		 reason[HG_REASON_MAX];
	size_t		 head;		/* header and trailer bytes so far */
	int		 fields;
	unsigned int	 seen;		/* httpget.c: HG_SEEN_* bits */
	long long	 clen;		/* Content-Length, -1 if none */
	unsigned long long chunk;	/* bytes left in this chunk / body */
	char		 line[HG_LINE_MAX];
	size_t		 linelen;
	size_t		 body_max;
	char		*body;		/* malloc'd, body_max + 1, NUL-ended */
	size_t		 bodylen;
	char		 why[HG_WHY_MAX];
};

/*
 * The request: "GET <path> HTTP/1.1" with Host (host, with :port unless
 * 443, brackets for an IPv6 literal), User-Agent ua, Accept, identity
 * encoding and Connection: close.  path must be an absolute path of
 * visible ASCII.  A malloc'd string and its length, or NULL with errno
 * EINVAL.
 */
char	*hg_request(const char *host, uint16_t port, const char *path,
	    const char *ua, size_t *len);

/* body_max: the largest body accepted (bytes). -1 if out of memory. */
int	 hg_init(struct hg_resp *, size_t body_max);
void	 hg_free(struct hg_resp *);
/*
 * Feed the next n bytes.  HG_MORE: all consumed.  HG_DONE: status is
 * set; for a 200 the whole body is in body/bodylen; for any other final
 * status the parser stops after the status line (the caller reports it).
 * Bytes after the end are ignored.  HG_FAIL: why says what was wrong.
 * Once DONE or FAIL, later calls return the same.
 */
int	 hg_feed(struct hg_resp *, const uint8_t *, size_t);
/*
 * The stream ended: DONE for a body delimited by the close (or one
 * already complete), otherwise FAIL ("connection closed ...").
 */
int	 hg_eof(struct hg_resp *);

#endif
