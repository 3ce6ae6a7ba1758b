/*
 * fuzz_keyline.c: the key-line validator and the body filter on
 * arbitrary bytes.  Every line the filter keeps is valid on its own,
 * trimmed, free of LF and within the length bound.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct keys_list	 l;
	const char		*why = NULL, *s = (const char *)data;
	size_t			 i, n;

	if (!keys_line_valid(s, size, &why) && (why == NULL || *why == '\0'))
		abort();
	if (keys_filter(s, size, &l) == -1)
		return 0;
	for (i = 0; i < l.n; i++) {
		n = strlen(l.lines[i]);
		if (n == 0 || n > KEYS_LINE_MAX || strchr(l.lines[i], '\n') ||
		    l.lines[i][0] == ' ' || l.lines[i][n - 1] == ' ' ||
		    !keys_line_valid(l.lines[i], n, &why))
			abort();
	}
	keys_list_free(&l);
	return 0;
}
