/*
 * backoff.h: reconnect delays, exponential with full jitter.
 */
#ifndef BACKOFF_H
#define BACKOFF_H

#include <stdint.h>

#define BACKOFF_FLOOR_MS	100

struct backoff {
	uint32_t	base_ms;	/* first step */
	uint32_t	max_ms;		/* ceiling of the step */
	uint32_t	step_ms;	/* current nominal step */
};

void		backoff_init(struct backoff *, uint32_t base_ms, uint32_t max_ms);
void		backoff_reset(struct backoff *);
/*
 * The wait before the next attempt: uniform in [0, step] (rnd() gives 32
 * random bits), at least BACKOFF_FLOOR_MS; then the step doubles up to
 * max_ms.
 */
uint32_t	backoff_next(struct backoff *, uint32_t (*rnd)(void));

#endif
