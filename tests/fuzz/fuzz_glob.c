/*
 * fuzz_glob.c: backup ignore globs come from the dashboard.  The input
 * is a pattern and a path separated by the first LF; matching must end
 * quickly whatever the pattern, and a pattern that does not parse never
 * matches.  A pattern without specials matches exactly itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "glob.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*buf, *nl, *pat, *path;
	int	 m;

	if (size > 4096 || (buf = malloc(size + 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	pat = buf;
	path = "";
	if ((nl = strchr(buf, '\n')) != NULL) {
		*nl = '\0';
		path = nl + 1;
	}
	m = glob_match(pat, path);
	if (m && !glob_valid(pat))
		abort();
	if (strpbrk(pat, "*?[]{}\\,") == NULL && m != (strcmp(pat, path) == 0))
		abort();
	free(buf);
	return 0;
}
