/*
 * permit.h: which message types a receiver accepts right now.
 *
 * permit_set() is the only way a table changes, so grep lists every
 * state transition.  PERMIT_ONCE allows a single frame, then denies.
 */
#ifndef PERMIT_H
#define PERMIT_H

#include <stdint.h>

#define PERMIT_DENY	0
#define PERMIT_ALLOW	1
#define PERMIT_ONCE	2

struct permit {
	uint32_t	range;		/* IPC_RANGE of every type here */
	uint8_t		how[256];	/* by the type's low byte */
};

void	permit_init(struct permit *, uint32_t range);
void	permit_set(struct permit *, uint32_t type, int how);
/* 1 if allowed (consuming a PERMIT_ONCE), 0 if not. */
int	permit_check(struct permit *, uint32_t type);

#endif
