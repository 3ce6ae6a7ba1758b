/*
 * follow-none.c: follow.h where the kernel offers neither inotify nor
 * kqueue.  Following fails with ENOSYS, so the rest of the tree still
 * builds; the exec-worker must not rely on it there.
 */
#include <errno.h>
#include <string.h>

#include "follow.h"

int
follow_init(struct follow *f, struct ev_loop *loop, follow_cb cb, void *arg)
{
	memset(f, 0, sizeof(*f));
	f->fd = -1;
	errno = ENOSYS;
	return -1;
}

int
follow_add(struct follow *f, uint64_t id, const char *jobdir)
{
	errno = ENOSYS;
	return -1;
}

void
follow_remove(struct follow *f, uint64_t id)
{
}

void
follow_close(struct follow *f)
{
}
