/*
 * sign.c: HMAC-SHA256 over the canonical handshake string (socketio-
 * protocol.md §3.1).  clientId is restricted to a charset that no JSON
 * encoder escapes, so the agent, Go and Node servers all sign the same
 * bytes; this file refuses anything else rather than guess at escaping.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <mbedtls/md.h>

#include "sign.h"

#define SIGN_ID_CHARS	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" \
			    "0123456789._:-"
#define SIGN_UNRESERVED	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" \
			    "0123456789-._~"

static int	sign_put_escaped(char *, size_t, size_t *, const char *);
static int	sign_put_literal(char *, size_t, size_t *, const char *);

int
sign_clientid_valid(const char *id)
{
	size_t	 len;

	if (id == NULL)
		return 0;
	len = strlen(id);
	return len >= 1 && len <= SIGN_CLIENTID_MAX &&
	    strspn(id, SIGN_ID_CHARS) == len;
}

int
sign_message(char *buf, size_t size, const char *id, int64_t ts_ms)
{
	int	 n;

	if (!sign_clientid_valid(id) || ts_ms <= 0) {
		errno = EINVAL;
		return -1;
	}
	n = snprintf(buf, size, "{\"clientId\":\"%s\",\"ts\":%" PRId64 "}",
	    id, ts_ms);
	if (n < 0 || (size_t)n >= size) {
		errno = ENOSPC;
		return -1;
	}
	return n;
}

int
sign_hmac(const void *key, size_t keylen, const char *id, int64_t ts_ms,
    char hex[SIGN_HEX_LEN + 1])
{
	static const char	 digits[] = "0123456789abcdef";
	const mbedtls_md_info_t	*md;
	unsigned char		 mac[32];
	char			 msg[SIGN_MSG_MAX + 1];
	int			 n;
	size_t			 i;

	/* An empty key would sign with a value anyone can reproduce. */
	if (key == NULL || keylen == 0) {
		errno = EINVAL;
		return -1;
	}
	if ((n = sign_message(msg, sizeof(msg), id, ts_ms)) == -1)
		return -1;
	if ((md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256)) == NULL ||
	    mbedtls_md_hmac(md, key, keylen, (const unsigned char *)msg,
	    (size_t)n, mac) != 0) {
		errno = EIO;
		return -1;
	}
	for (i = 0; i < sizeof(mac); i++) {
		hex[2 * i] = digits[mac[i] >> 4];
		hex[2 * i + 1] = digits[mac[i] & 0xf];
	}
	hex[SIGN_HEX_LEN] = '\0';
	explicit_bzero(mac, sizeof(mac));
	return 0;
}

/* Append s to buf at *off, percent-encoding outside the unreserved set. */
static int
sign_put_escaped(char *buf, size_t size, size_t *off, const char *s)
{
	static const char	 digits[] = "0123456789ABCDEF";
	unsigned char		 c;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (strchr(SIGN_UNRESERVED, c) != NULL) {
			if (*off + 1 >= size)
				return -1;
			buf[(*off)++] = (char)c;
			continue;
		}
		if (*off + 3 >= size)
			return -1;
		buf[(*off)++] = '%';
		buf[(*off)++] = digits[c >> 4];
		buf[(*off)++] = digits[c & 0xf];
	}
	buf[*off] = '\0';
	return 0;
}

int
sign_query(char *buf, size_t size, const char *id, int64_t ts_ms,
    const char *hex)
{
	char	 ts[24];
	int	 n;
	size_t	 off;

	if (size == 0 || id == NULL || hex == NULL || ts_ms <= 0) {
		errno = EINVAL;
		return -1;
	}
	snprintf(ts, sizeof(ts), "%" PRId64, ts_ms);
	/* '=' and '&' are the query's own syntax: written as they are. */
	if ((n = snprintf(buf, size, "clientId=")) < 0 || (size_t)n >= size)
		goto nospace;
	off = (size_t)n;
	if (sign_put_escaped(buf, size, &off, id) == -1 ||
	    sign_put_literal(buf, size, &off, "&ts=") == -1 ||
	    sign_put_escaped(buf, size, &off, ts) == -1 ||
	    sign_put_literal(buf, size, &off, "&sig=") == -1 ||
	    sign_put_escaped(buf, size, &off, hex) == -1)
		goto nospace;
	return (int)off;
 nospace:
	errno = ENOSPC;
	return -1;
}

static int
sign_put_literal(char *buf, size_t size, size_t *off, const char *s)
{
	size_t	 n = strlen(s);

	if (*off + n >= size)
		return -1;
	memcpy(buf + *off, s, n + 1);
	*off += n;
	return 0;
}

int
sign_answer(struct ipc_signed *out, const void *key, size_t keylen,
    const char *id, int64_t ts_ms)
{
	char	 hex[SIGN_HEX_LEN + 1];
	int	 rc = -1;

	memset(out, 0, sizeof(*out));
	if (sign_hmac(key, keylen, id, ts_ms, hex) == 0 &&
	    sign_query(out->query, sizeof(out->query), id, ts_ms, hex) != -1) {
		out->ts_ms = ts_ms;
		rc = 0;
	} else
		memset(out, 0, sizeof(*out));
	explicit_bzero(hex, sizeof(hex));
	return rc;
}

int64_t
sign_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
