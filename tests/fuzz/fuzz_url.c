/*
 * fuzz_url.c: url_parse on arbitrary bytes.  What it accepts must hold
 * the invariants the connect code relies on, and must survive a round
 * trip through the pieces the agent puts on the wire.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "url.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_check_text(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct url	 u, v;
	const char	*why = NULL;
	char		*s, auth[300], again[2048];

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	(void)url_is_loopback(s);

	if (url_parse(s, &u, &why) == -1) {
		if (why == NULL || *why == '\0')
			abort();
		free(s);
		return 0;
	}
	if (strcmp(u.scheme, "ws") != 0 && strcmp(u.scheme, "wss") != 0 &&
	    strcmp(u.scheme, "http") != 0 && strcmp(u.scheme, "https") != 0)
		abort();
	if (u.tls != (strcmp(u.scheme, "wss") == 0 ||
	    strcmp(u.scheme, "https") == 0))
		abort();
	if (u.host[0] == '\0' || u.port == 0 || u.path[0] != '/')
		abort();
	if (!u.port_given && u.port != (u.tls ? 443 : 80))
		abort();
	fuzz_check_text(u.host);
	fuzz_check_text(u.userinfo);
	fuzz_check_text(u.path);
	if (strchr(u.path, '#') != NULL || strchr(u.host, '@') != NULL ||
	    strchr(u.host, '/') != NULL || (!u.ipv6 && strchr(u.host, ':')))
		abort();
	(void)url_is_loopback(u.host);

	/* Reassemble what goes on the wire; it must parse the same. */
	url_authority(&u, auth, sizeof(auth));
	snprintf(again, sizeof(again), "%s://%s%s%s%s", u.scheme, u.userinfo,
	    u.userinfo[0] != '\0' ? "@" : "", auth, u.path);
	if (url_parse(again, &v, &why) == -1)
		abort();
	if (strcmp(u.scheme, v.scheme) != 0 || strcmp(u.host, v.host) != 0 ||
	    u.port != v.port || u.ipv6 != v.ipv6 ||
	    strcmp(u.userinfo, v.userinfo) != 0 ||
	    strcmp(u.path, v.path) != 0 || u.tls != v.tls)
		abort();
	free(s);
	return 0;
}
