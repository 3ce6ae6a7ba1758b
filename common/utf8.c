/*
 * utf8.c: cutting byte strings at character boundaries.
 */
#include "utf8.h"

size_t
utf8_whole(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i, need;

	/* The last lead byte within the longest sequence's reach. */
	for (i = len; i > 0 && len - i < 4; i--) {
		if ((p[i - 1] & 0xc0) == 0x80)
			continue;
		if (p[i - 1] < 0xc2 || p[i - 1] > 0xf4)
			return len;	/* ASCII, or a byte no sequence has */
		need = p[i - 1] < 0xe0 ? 2 : p[i - 1] < 0xf0 ? 3 : 4;
		return len - (i - 1) < need ? i - 1 : len;
	}
	return len;			/* only continuation bytes: invalid */
}
