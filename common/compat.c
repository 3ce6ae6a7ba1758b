/*
 * compat.c: functions glibc 2.36 lacks.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"

#if !HAVE_STRLCPY
size_t
strlcpy(char *dst, const char *src, size_t dsize)
{
	size_t	 len = strlen(src);

	if (dsize != 0) {
		size_t	 n = len >= dsize ? dsize - 1 : len;

		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

size_t
strlcat(char *dst, const char *src, size_t dsize)
{
	size_t	 dlen = strnlen(dst, dsize);

	if (dlen == dsize)
		return dlen + strlen(src);
	return dlen + strlcpy(dst + dlen, src, dsize - dlen);
}
#endif

#if !HAVE_CLOSEFROM
void
closefrom(int lowfd)
{
	DIR		*d;
	struct dirent	*de;
	int		 fd;

	if ((d = opendir("/proc/self/fd")) == NULL) {
		for (fd = lowfd; fd < 1024; fd++)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		fd = atoi(de->d_name);
		if (fd >= lowfd && fd != dirfd(d))
			close(fd);
	}
	closedir(d);
}
#endif

int
timingsafe_bcmp(const void *b1, const void *b2, size_t n)
{
	const unsigned char	*p1 = b1, *p2 = b2;
	unsigned char		 ret = 0;

	for (; n > 0; n--)
		ret |= *p1++ ^ *p2++;
	return ret != 0;
}
