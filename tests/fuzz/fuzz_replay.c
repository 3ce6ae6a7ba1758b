/*
 * fuzz_replay.c: arbitrary sequences of pushes, duplicates and pops on
 * the replay window of two alternating jobs, with small limits.  Checked
 * throughout: each job's lines stay within the limit, every status that
 * went in comes out, each job's records leave in rising order, and how
 * far a job is acknowledged never goes back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FZ_LINES	8
#define FZ_BYTES	200

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct replay		*w = replay_new(FZ_LINES, FZ_BYTES);
	const struct replay_rec	*r;
	uint64_t		 seq[2] = { 0, 0 }, out[2] = { 0, 0 };
	uint64_t		 acked[2] = { 0, 0 }, a;
	size_t			 i, in_status = 0, out_status = 0;
	char			 buf[256];
	int			 j, rv;

	if (w == NULL)
		abort();
	memset(buf, 'z', sizeof(buf));
	for (i = 0; i < size; i++) {
		j = (data[i] >> 2) & 1;
		switch (data[i] & 3) {
		case 0:
		case 1:
		case 2:
			/* Bit 3: an old record again, to be ignored. */
			if ((data[i] & 8) && seq[j] > 0) {
				if (replay_push(w, (uint32_t)j + 1, seq[j],
				    REPLAY_OUTPUT, "d", 1) != 1)
					abort();
				break;
			}
			rv = replay_push(w, (uint32_t)j + 1, ++seq[j],
			    (data[i] & 3) == 0 ? REPLAY_OUTPUT :
			    (data[i] & 3) == 1 ? REPLAY_PROGRESS :
			    REPLAY_STATUS, buf, 1 + (data[i] >> 4) * 15);
			if (rv != 0)
				abort();
			if ((data[i] & 3) == 2)
				in_status++;
			break;
		default:
			if ((r = replay_head(w)) == NULL)
				break;
			j = (int)r->job_id - 1;
			if (r->seq <= out[j] && r->kind != REPLAY_DROPPED)
				abort();
			if (r->kind == REPLAY_DROPPED && r->dropped == 0)
				abort();
			out[j] = r->seq;
			if (r->kind == REPLAY_STATUS)
				out_status++;
			replay_pop(w);
			break;
		}
		/* Two jobs: each within the limits, plus one line's bytes. */
		if (replay_lines(w) > 2 * FZ_LINES ||
		    replay_bytes(w) > 2 * (FZ_BYTES + 241))
			abort();
		for (j = 0; j < 2; j++) {
			if ((a = replay_acked(w, (uint32_t)j + 1)) < acked[j] ||
			    a > seq[j])
				abort();
			acked[j] = a;
		}
	}
	while ((r = replay_head(w)) != NULL) {
		if (r->kind == REPLAY_STATUS)
			out_status++;
		replay_pop(w);
	}
	if (in_status != out_status || replay_count(w) != 0 ||
	    replay_lines(w) != 0 || replay_bytes(w) != 0)
		abort();
	replay_free(w);
	return 0;
}
