/*
 * backoff.c: reconnect delays, exponential with full jitter.
 *
 * Full jitter keeps a fleet that lost its dashboard at the same moment
 * from coming back in lockstep; the floor keeps a lucky draw of zero
 * from turning into a busy loop against a refusing server.
 */
#include <stdint.h>

#include "backoff.h"

void
backoff_init(struct backoff *b, uint32_t base_ms, uint32_t max_ms)
{
	b->base_ms = base_ms;
	b->max_ms = max_ms < base_ms ? base_ms : max_ms;
	backoff_reset(b);
}

void
backoff_reset(struct backoff *b)
{
	b->step_ms = b->base_ms;
}

uint32_t
backoff_next(struct backoff *b, uint32_t (*rnd)(void))
{
	uint32_t	 step = b->step_ms, wait;

	/*
	 * Multiply and shift maps 32 random bits onto [0, step] without the
	 * modulo's division; the bias is below 2^-32 per value.
	 */
	wait = (uint32_t)(((uint64_t)rnd() * ((uint64_t)step + 1)) >> 32);
	if (wait < BACKOFF_FLOOR_MS)
		wait = BACKOFF_FLOOR_MS;
	if (step == 0)
		b->step_ms = BACKOFF_FLOOR_MS < b->max_ms ? BACKOFF_FLOOR_MS :
		    b->max_ms;
	else if (step > b->max_ms - step)	/* step * 2 > max, unwrapped */
		b->step_ms = b->max_ms;
	else
		b->step_ms = step * 2;
	return wait;
}
