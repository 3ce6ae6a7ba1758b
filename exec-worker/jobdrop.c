/*
 * jobdrop.c: where §6.7's limit cuts a job's backlog (jobdrop.h).
 */
#include <stdlib.h>
#include <string.h>

#include "jobdrop.h"

int
jobdrop_init(struct jobdrop *d, size_t max_lines, size_t max_bytes)
{
	memset(d, 0, sizeof(*d));
	d->max_lines = max_lines != 0 ? max_lines : JOBDROP_MAX_LINES;
	d->max_bytes = max_bytes != 0 ? max_bytes : JOBDROP_MAX_BYTES;
	if (d->max_lines < 2)
		d->max_lines = 2;	/* a notice and one line */
	d->seq = calloc(d->max_lines, sizeof(*d->seq));
	d->len = calloc(d->max_lines, sizeof(*d->len));
	if (d->seq == NULL || d->len == NULL) {
		jobdrop_free(d);
		return -1;
	}
	return 0;
}

void
jobdrop_free(struct jobdrop *d)
{
	free(d->seq);
	free(d->len);
	d->seq = NULL;
	d->len = NULL;
	d->n = d->head = 0;
}

void
jobdrop_add(struct jobdrop *d, uint64_t seq, size_t len)
{
	if (d->seq == NULL)
		return;
	if (d->lines++ == 0)
		d->first = seq;
	d->bytes += len;
	d->seq[d->head] = seq;
	d->len[d->head] = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
	d->head = (d->head + 1) % d->max_lines;
	if (d->n < d->max_lines)
		d->n++;
}

int
jobdrop_cut(const struct jobdrop *d, struct jobdrop_cut *cut)
{
	size_t		 kept = 0, slot;
	uint64_t	 bytes = 0;

	if (d->seq == NULL || (d->lines <= d->max_lines &&
	    d->bytes <= d->max_bytes))
		return 0;
	/*
	 * Newest first, while one more line fits beside the notice.  Some
	 * line is always left over: there are more lines than fit, or more
	 * bytes than all of them may have.
	 */
	for (; kept < d->n; kept++) {
		slot = (d->head + d->max_lines - 1 - kept) % d->max_lines;
		if (kept + 1 > d->max_lines - 1 ||
		    bytes + d->len[slot] > d->max_bytes)
			break;
		bytes += d->len[slot];
	}
	slot = (d->head + d->max_lines - 1 - kept) % d->max_lines;
	memset(cut, 0, sizeof(*cut));
	cut->first = d->first;
	cut->upto = d->seq[slot];
	cut->lines = d->lines - kept;
	return 1;
}
