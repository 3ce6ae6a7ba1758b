/*
 * permit.c: per-receiver tables of allowed message types.
 */
#include <string.h>

#include "log.h"
#include "permit.h"
#include "proto.h"

void
permit_init(struct permit *p, uint32_t range)
{
	memset(p, 0, sizeof(*p));
	p->range = range;
}

void
permit_set(struct permit *p, uint32_t type, int how)
{
	if (type > 0xffff || IPC_RANGE(type) != p->range)
		fatalx("%s: %s outside range 0x%04x", __func__,
		    ipc_type_name(type), p->range);
	p->how[type & 0xff] = (uint8_t)how;
}

int
permit_check(struct permit *p, uint32_t type)
{
	uint8_t	*how;

	if (type > 0xffff || IPC_RANGE(type) != p->range)
		return 0;
	how = &p->how[type & 0xff];
	if (*how == PERMIT_ONCE) {
		*how = PERMIT_DENY;
		return 1;
	}
	return *how == PERMIT_ALLOW;
}
