/*
 * sys/event.h for the tests on Linux: the part of kqueue(2) that
 * exec-worker/follow-kqueue.c uses, with the names, values and layout of
 * macOS's header, implemented on inotify by tests/lib/kqueue.c.  It lets
 * the macOS follower build and run its unit tests here (Debian 12 ships
 * no libkqueue).  It emulates only the vnode filter, and only what a
 * test can observe from inotify; it is never part of an agent.
 */
#ifndef TESTS_KQUEUE_SYS_EVENT_H
#define TESTS_KQUEUE_SYS_EVENT_H

#include <stdint.h>
#include <time.h>

#define EVFILT_READ	(-1)
#define EVFILT_WRITE	(-2)
#define EVFILT_VNODE	(-4)

#define EV_ADD		0x0001
#define EV_DELETE	0x0002
#define EV_ENABLE	0x0004
#define EV_DISABLE	0x0008
#define EV_ONESHOT	0x0010
#define EV_CLEAR	0x0020
#define EV_ERROR	0x4000
#define EV_EOF		0x8000

#define NOTE_DELETE	0x00000001	/* unlinked */
#define NOTE_WRITE	0x00000002	/* written (a directory: entries changed) */
#define NOTE_EXTEND	0x00000004	/* grew */
#define NOTE_ATTRIB	0x00000008	/* attributes changed */
#define NOTE_LINK	0x00000010	/* link count changed */
#define NOTE_RENAME	0x00000020	/* renamed */
#define NOTE_REVOKE	0x00000040	/* access revoked (unmounted) */

struct kevent {
	uintptr_t	 ident;
	int16_t		 filter;
	uint16_t	 flags;
	uint32_t	 fflags;
	intptr_t	 data;
	void		*udata;
};

#define EV_SET(kevp, a, b, c, d, e, f) do {	\
	struct kevent *__kevp = (kevp);		\
	__kevp->ident = (a);			\
	__kevp->filter = (b);			\
	__kevp->flags = (c);			\
	__kevp->fflags = (d);			\
	__kevp->data = (e);			\
	__kevp->udata = (f);			\
} while (0)

int	kqueue(void);
int	kevent(int, const struct kevent *, int, struct kevent *, int,
	    const struct timespec *);

#endif
