/*
 * url.c: a strict parser for the dashboard and proxy URLs.
 *
 * Only what the agent dials is accepted: ws, wss, http and https with a
 * host.  Everything the parser lets through ends up in a Host header, a
 * TLS server name or an HTTP request line, so the character sets are
 * RFC 3986's and nothing looser: no spaces, no control characters, no
 * non-ASCII bytes, no percent-encoded host names, no zone ids.
 */
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compat.h"
#include "url.h"

static const struct {
	const char	*name;
	uint16_t	 port;
	int		 tls;
} url_schemes[] = {
	{ "ws", 80, 0 },
	{ "wss", 443, 1 },
	{ "http", 80, 0 },
	{ "https", 443, 1 },
};

#define URL_ALPHA	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define URL_DIGIT	"0123456789"
#define URL_UNRESERVED	URL_ALPHA URL_DIGIT "-._~"
#define URL_SUBDELIMS	"!$&'()*+,;="
/* pchar plus '/' and '?', which is what a path and a query may hold. */
#define URL_PATHCHARS	URL_UNRESERVED URL_SUBDELIMS ":@/?%"
#define URL_USERCHARS	URL_UNRESERVED URL_SUBDELIMS ":%"
/* DNS names, and the underscores container and service names use. */
#define URL_HOSTCHARS	URL_ALPHA URL_DIGIT "-._"

static int
url_ishex(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

/* s[0..len) holds only chars from set, and every '%' starts an escape. */
static int
url_span_ok(const char *s, size_t len, const char *set)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		if (s[i] == '\0' || strchr(set, s[i]) == NULL)
			return 0;
		if (s[i] == '%' && (i + 2 >= len ||
		    !url_ishex((unsigned char)s[i + 1]) ||
		    !url_ishex((unsigned char)s[i + 2])))
			return 0;
	}
	return 1;
}

static int
url_scheme(const char *s, size_t len, struct url *u)
{
	size_t	 i;

	for (i = 0; i < nitems(url_schemes); i++) {
		if (strlen(url_schemes[i].name) != len ||
		    strncasecmp(s, url_schemes[i].name, len) != 0)
			continue;
		strlcpy(u->scheme, url_schemes[i].name, sizeof(u->scheme));
		u->port = url_schemes[i].port;
		u->tls = url_schemes[i].tls;
		return 0;
	}
	return -1;
}

/* A reg-name or a dotted quad; labels are non-empty, at most 63 bytes. */
static int
url_host_name(const char *h, const char **why)
{
	struct in_addr	 a;
	const char	*p, *dot;
	size_t		 len = strlen(h);

	if (!url_span_ok(h, len, URL_HOSTCHARS)) {
		*why = "bad character in host";
		return -1;
	}
	/*
	 * All digits and dots must be a dotted quad: the resolver would
	 * read "127.1" or "2130706433" as addresses no check here sees.
	 */
	if (strspn(h, URL_DIGIT ".") == len) {
		if (inet_pton(AF_INET, h, &a) != 1) {
			*why = "bad IPv4 address";
			return -1;
		}
		return 0;
	}
	for (p = h; ; p = dot + 1) {
		dot = strchr(p, '.');
		len = dot != NULL ? (size_t)(dot - p) : strlen(p);
		if (len == 0 || len > 63) {
			*why = "bad host name";
			return -1;
		}
		if (dot == NULL)
			return 0;
	}
}

static int
url_host(const char *s, size_t len, struct url *u, const char **why)
{
	struct in6_addr	 a6;
	if (len >= sizeof(u->host)) {
		*why = "host too long";
		return -1;
	}
	if (len > 0 && s[0] == '[') {
		if (len < 2 || s[len - 1] != ']') {
			*why = "bad IPv6 literal";
			return -1;
		}
		memcpy(u->host, s + 1, len - 2);
		u->host[len - 2] = '\0';
		if (u->host[0] == '\0') {
			*why = "host is empty";
			return -1;
		}
		/* No zone ids: they name a local interface, not a peer. */
		if (strspn(u->host, URL_DIGIT "abcdefABCDEF:.") != len - 2 ||
		    inet_pton(AF_INET6, u->host, &a6) != 1) {
			*why = "bad IPv6 literal";
			return -1;
		}
		u->ipv6 = 1;
		return 0;
	}
	if (memchr(s, ']', len) != NULL) {
		*why = "bad IPv6 literal";
		return -1;
	}
	memcpy(u->host, s, len);
	u->host[len] = '\0';
	if (u->host[0] == '\0') {
		*why = "host is empty";
		return -1;
	}
	return url_host_name(u->host, why);
}

static int
url_port(const char *s, size_t len, struct url *u, const char **why)
{
	unsigned long	 v = 0;
	size_t		 i;

	if (len == 0 || len > 5) {
		*why = "bad port";
		return -1;
	}
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9') {
			*why = "bad port";
			return -1;
		}
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < 1 || v > 65535) {
		*why = "bad port";
		return -1;
	}
	u->port = (uint16_t)v;
	u->port_given = 1;
	return 0;
}

/* Split the authority into userinfo, host and port. */
static int
url_authority_parse(const char *s, size_t len, struct url *u,
    const char **why)
{
	const char	*at, *hp, *colon, *p;
	size_t		 hlen;

	if ((at = memchr(s, '@', len)) != NULL) {
		/* A second '@' would leave the reader guessing the host. */
		if (memchr(at + 1, '@', len - (size_t)(at - s) - 1) != NULL ||
		    !url_span_ok(s, (size_t)(at - s), URL_USERCHARS)) {
			*why = "bad userinfo";
			return -1;
		}
		if ((size_t)(at - s) >= sizeof(u->userinfo)) {
			*why = "userinfo too long";
			return -1;
		}
		memcpy(u->userinfo, s, (size_t)(at - s));
		u->userinfo[at - s] = '\0';
		hp = at + 1;
	} else
		hp = s;
	hlen = len - (size_t)(hp - s);

	/* The port follows the last ':' outside an IPv6 literal. */
	colon = NULL;
	if (hlen > 0 && hp[0] == '[') {
		if ((p = memchr(hp, ']', hlen)) == NULL) {
			*why = "bad IPv6 literal";
			return -1;
		}
		if ((size_t)(p - hp) + 1 < hlen) {
			if (p[1] != ':') {
				*why = "bad IPv6 literal";
				return -1;
			}
			colon = p + 1;
		}
	} else
		colon = memchr(hp, ':', hlen);

	if (colon != NULL) {
		if (url_host(hp, (size_t)(colon - hp), u, why) == -1)
			return -1;
		return url_port(colon + 1, hlen - (size_t)(colon - hp) - 1,
		    u, why);
	}
	return url_host(hp, hlen, u, why);
}

int
url_parse(const char *s, struct url *u, const char **why)
{
	const char	*p, *auth, *rest;
	size_t		 alen, plen, slash;

	memset(u, 0, sizeof(*u));
	for (p = s; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
			*why = "contains spaces, control or non-ASCII "
			    "characters";
			return -1;
		}
	}
	if ((p = strstr(s, "://")) == NULL ||
	    url_scheme(s, (size_t)(p - s), u) == -1) {
		*why = "scheme must be ws://, wss://, http:// or https://";
		return -1;
	}
	auth = p + 3;
	alen = strcspn(auth, "/?#");
	if (url_authority_parse(auth, alen, u, why) == -1)
		return -1;

	/* Path and query; the fragment never leaves the client. */
	rest = auth + alen;
	plen = strcspn(rest, "#");
	if (!url_span_ok(rest, plen, URL_PATHCHARS)) {
		*why = "bad character in path";
		return -1;
	}
	slash = plen == 0 || rest[0] == '?';
	if (slash + plen + 1 > sizeof(u->path)) {
		*why = "path too long";
		return -1;
	}
	if (slash)
		u->path[0] = '/';
	memcpy(u->path + slash, rest, plen);
	u->path[slash + plen] = '\0';
	return 0;
}

void
url_authority(const struct url *u, char *buf, size_t size)
{
	uint16_t	 def = u->tls ? 443 : 80;

	if (size == 0)
		return;
	if (u->port != def)
		snprintf(buf, size, u->ipv6 ? "[%s]:%u" : "%s:%u", u->host,
		    (unsigned)u->port);
	else
		snprintf(buf, size, u->ipv6 ? "[%s]" : "%s", u->host);
}

int
url_is_loopback(const char *host)
{
	struct in_addr	 a4;
	struct in6_addr	 a6;
	char		 buf[64];
	size_t		 len;

	if (host == NULL)
		return 0;
	len = strlen(host);
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
		if (len - 2 >= sizeof(buf))
			return 0;
		memcpy(buf, host + 1, len - 2);
		buf[len - 2] = '\0';
		host = buf;
	}
	if (strcasecmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1) {
		if (IN6_IS_ADDR_LOOPBACK(&a6))
			return 1;
		/* ::ffff:127.x.y.z is IPv4 loopback reached over AF_INET6. */
		return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
	}
	return 0;
}
