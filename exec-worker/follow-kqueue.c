/*
 * follow-kqueue.c: follow.h with kqueue (macOS).  kqueue watches
 * descriptors, not names, so each job has two vnode filters:
 *
 * - its directory (NOTE_WRITE: an entry was added or removed, which is
 *   how the journal's creation shows, and when it appears it is opened
 *   and watched; NOTE_DELETE, NOTE_REVOKE: the job is gone);
 * - its journal, once it exists (NOTE_WRITE, NOTE_EXTEND: a record;
 *   NOTE_DELETE, NOTE_REVOKE: gone, the watch is closed).
 *
 * Once the journal is open, directory events call nobody: they are our
 * own delivery marker ("ack" and its temporary) being replaced, as the
 * inotify follower drops them by name.
 *
 * A runner that ends normally writes its exit record, a NOTE_EXTEND.
 * One killed outright writes nothing, and macOS has no event for a
 * file's last close, which is how inotify hears it (IN_CLOSE_WRITE;
 * NOTE_CLOSE_WRITE is used where the kernel has it, FreeBSD). macOS's
 * NOTE_FUNLOCK on the lock is no way either: the reader's own probe of
 * the lock (journal_runner_alive) raises it, so every read would call
 * back again. So while any job is followed and the kernel lacks
 * NOTE_CLOSE_WRITE, a tick every FOLLOW_TICK_S calls back every job: the
 * caller's read answers JOURNAL_WAIT from the runner's lock while it
 * lives, and a job already derived to its end returns at once, so a
 * tick costs one flock per running job. Its calls are counted in ticks,
 * not calls.
 */
#include <sys/types.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * ev.h (through follow.h) before sys/event.h: libev's enum has an
 * EV_ERROR that the kernel header's macro would break; after it, the
 * macro (kevent's flag) wins in this file, as in libev's own kqueue code.
 */
#include "follow.h"
#include "journal.h"
#include "log.h"

#include <sys/event.h>

/*
 * The journal for events only where the kernel has that (no hold on the
 * volume); the directory for reading, as openat() needs it.
 */
#ifdef O_EVTONLY
#define FOLLOW_OPEN	(O_EVTONLY | O_CLOEXEC)
#else
#define FOLLOW_OPEN	(O_RDONLY | O_CLOEXEC)
#endif
#define FOLLOW_OPEN_DIR	(O_RDONLY | O_DIRECTORY | O_CLOEXEC)

#define FOLLOW_GONE	(NOTE_DELETE | NOTE_REVOKE)
#define FOLLOW_DIR	(NOTE_WRITE | FOLLOW_GONE)
#ifdef NOTE_CLOSE_WRITE
#define FOLLOW_JOURNAL	(NOTE_WRITE | NOTE_EXTEND | NOTE_CLOSE_WRITE | \
			    FOLLOW_GONE)
#define FOLLOW_TICK_S	0.0		/* the kernel tells us */
#else
#define FOLLOW_JOURNAL	(NOTE_WRITE | NOTE_EXTEND | FOLLOW_GONE)
#define FOLLOW_TICK_S	2.0
#endif

#define FOLLOW_BATCH	64

static int
follow_kq_add(struct follow *f, int fd, unsigned int notes)
{
	struct kevent	 kev;

	EV_SET(&kev, fd, EVFILT_VNODE, EV_ADD | EV_CLEAR, notes, 0, NULL);
	return kevent(f->fd, &kev, 1, NULL, 0, NULL);
}

/* Closing a descriptor removes its filter. */
static void
follow_unwatch(struct follow_watch *w)
{
	if (w->jfd != -1)
		close(w->jfd);
	if (w->wd != -1)
		close(w->wd);
	w->jfd = w->wd = -1;
}

/* Open and watch the journal if it exists now: 1 if it is new. */
static int
follow_journal(struct follow *f, struct follow_watch *w)
{
	int	 fd;

	if (w->jfd != -1 || w->wd == -1)
		return 0;
	if ((fd = openat(w->wd, JOURNAL_FILE, FOLLOW_OPEN)) == -1) {
		if (errno != ENOENT)
			log_warn("%s: job %llu", __func__,
			    (unsigned long long)w->id);
		return 0;
	}
	if (follow_kq_add(f, fd, FOLLOW_JOURNAL) == -1) {
		log_warn("%s: job %llu: kevent", __func__,
		    (unsigned long long)w->id);
		close(fd);
		return 0;
	}
	w->jfd = fd;
	return 1;
}

static struct follow_watch *
follow_find_fd(struct follow *f, uintptr_t fd, int *journal)
{
	for (size_t i = 0; i < f->nw; i++) {
		if (f->w[i].wd != -1 && (uintptr_t)f->w[i].wd == fd) {
			*journal = 0;
			return &f->w[i];
		}
		if (f->w[i].jfd != -1 && (uintptr_t)f->w[i].jfd == fd) {
			*journal = 1;
			return &f->w[i];
		}
	}
	return NULL;
}

/* Whether this event is news for the job; closes what is gone. */
static int
follow_event(struct follow *f, struct follow_watch *w, int journal,
    unsigned int notes)
{
	if (journal) {
		if (notes & FOLLOW_GONE) {
			close(w->jfd);
			w->jfd = -1;
		}
		return 1;
	}
	if (notes & FOLLOW_GONE) {
		follow_unwatch(w);	/* the directory is gone */
		return 1;
	}
	/* An entry changed: the journal's creation, or only our marker. */
	return follow_journal(f, w);
}

static void
follow_calls(struct follow *f, const uint64_t *hit, size_t nhit, int tick)
{
	/* The callback may add or remove watches: ids, not pointers. */
	for (size_t i = 0; i < nhit; i++) {
		if (tick)
			f->ticks++;
		else
			f->calls++;
		f->cb(hit[i], f->arg);
	}
}

static size_t
follow_all(struct follow *f, uint64_t *hit, size_t max)
{
	size_t	 n = 0;

	for (size_t i = 0; i < f->nw && n < max; i++)
		hit[n++] = f->w[i].id;
	return n;
}

static void
follow_io_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct follow		*f = io->data;
	struct follow_watch	*w;
	struct kevent		 ev[FOLLOW_BATCH];
	struct timespec		 zero = { 0, 0 };
	uint64_t		 hit[64];
	size_t			 nhit = 0, i;
	int			 n, k, journal, all = 0;

	f->wakeups++;
	do {
		if ((n = kevent(f->fd, NULL, 0, ev, FOLLOW_BATCH,
		    &zero)) == -1) {
			if (errno != EINTR)
				log_warn("%s: kevent", __func__);
			break;
		}
		for (k = 0; k < n; k++) {
			if ((ev[k].flags & EV_ERROR) ||
			    ev[k].filter != EVFILT_VNODE ||
			    (w = follow_find_fd(f, ev[k].ident,
			    &journal)) == NULL ||
			    !follow_event(f, w, journal, ev[k].fflags))
				continue;
			for (i = 0; i < nhit && hit[i] != w->id; i++)
				;
			if (i == nhit && nhit < nitems(hit))
				hit[nhit++] = w->id;
			else if (i == nhit)
				all = 1;
		}
	} while (n == FOLLOW_BATCH);
	if (all)
		nhit = follow_all(f, hit, nitems(hit));
	follow_calls(f, hit, nhit, 0);
}

static void
follow_tick_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct follow	*f = t->data;
	uint64_t	 hit[64];
	size_t		 off = 0, n;

	/* In batches: a callback may change the table. */
	while (off < f->nw) {
		n = 0;
		for (size_t i = off; i < f->nw && n < nitems(hit); i++)
			hit[n++] = f->w[i].id;
		off += n;
		follow_calls(f, hit, n, 1);
	}
	if (f->nw == 0)
		ev_timer_stop(loop, t);
}

int
follow_init(struct follow *f, struct ev_loop *loop, follow_cb cb, void *arg)
{
	memset(f, 0, sizeof(*f));
	if ((f->fd = kqueue()) == -1)
		return -1;
	(void)fcntl(f->fd, F_SETFD, FD_CLOEXEC);
	f->loop = loop;
	f->cb = cb;
	f->arg = arg;
	ev_io_init(&f->io, follow_io_cb, f->fd, EV_READ);
	f->io.data = f;
	ev_io_start(loop, &f->io);
	ev_timer_init(&f->tick, follow_tick_cb, FOLLOW_TICK_S, FOLLOW_TICK_S);
	f->tick.data = f;
	return 0;
}

int
follow_add(struct follow *f, uint64_t id, const char *jobdir)
{
	struct follow_watch	*w = NULL, *nw;
	int			 dfd;

	if ((dfd = open(jobdir, FOLLOW_OPEN_DIR)) == -1)
		return -1;
	if (follow_kq_add(f, dfd, FOLLOW_DIR) == -1) {
		close(dfd);
		return -1;
	}
	for (size_t i = 0; i < f->nw && w == NULL; i++)
		if (f->w[i].id == id) {
			w = &f->w[i];
			follow_unwatch(w);
		}
	if (w == NULL) {
		if (f->nw == f->cap) {
			/* realloc: macOS has no reallocarray. */
			f->cap = f->cap ? f->cap * 2 : 8;
			if (f->cap > SIZE_MAX / sizeof(*nw) ||
			    (nw = realloc(f->w, f->cap * sizeof(*nw))) == NULL)
				fatal(NULL);
			f->w = nw;
		}
		w = &f->w[f->nw++];
		w->id = id;
	}
	w->wd = dfd;
	w->jfd = -1;
	(void)follow_journal(f, w);
	if (FOLLOW_TICK_S > 0 && !ev_is_active(&f->tick))
		ev_timer_start(f->loop, &f->tick);
	return 0;
}

void
follow_remove(struct follow *f, uint64_t id)
{
	for (size_t i = 0; i < f->nw; i++) {
		if (f->w[i].id != id)
			continue;
		follow_unwatch(&f->w[i]);
		f->w[i] = f->w[--f->nw];
		break;
	}
	if (f->nw == 0)
		ev_timer_stop(f->loop, &f->tick);
}

void
follow_close(struct follow *f)
{
	if (f->fd == -1)
		return;
	ev_io_stop(f->loop, &f->io);
	ev_timer_stop(f->loop, &f->tick);
	for (size_t i = 0; i < f->nw; i++)
		follow_unwatch(&f->w[i]);
	close(f->fd);
	f->fd = -1;
	free(f->w);
	f->w = NULL;
	f->nw = f->cap = 0;
}
