/*
 * follow-inotify.c: follow.h on Linux.  The watch is on the job
 * directory, not the journal file, so a job whose runner has not created
 * its journal yet can be followed, and the runner's end is seen: the
 * kernel closes its journal and lock, which raises IN_CLOSE_WRITE even
 * when the runner was killed outright.  The delivery marker ("ack", and
 * its temporary) lives in the same directory; its events are dropped
 * without a call, so our own writes never make us re-read a journal.
 */
#include <sys/inotify.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "follow.h"
#include "journal.h"
#include "log.h"

#define FOLLOW_MASK	(IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | \
			    IN_MOVED_TO | IN_DELETE_SELF | IN_ONLYDIR)

static struct follow_watch *
follow_find_wd(struct follow *f, int wd)
{
	for (size_t i = 0; i < f->nw; i++)
		if (f->w[i].wd == wd)
			return &f->w[i];
	return NULL;
}

static int
follow_wanted(const struct inotify_event *ev)
{
	if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_Q_OVERFLOW))
		return 1;
	if (ev->len == 0)
		return 0;
	return strcmp(ev->name, JOURNAL_FILE) == 0 ||
	    strcmp(ev->name, JOURNAL_LOCK) == 0;
}

static void
follow_io_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct follow		*f = io->data;
	struct follow_watch	*w;
	const struct inotify_event *ev;
	char			 buf[8192]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	uint64_t		 hit[64];
	size_t			 nhit = 0, i;
	ssize_t			 n;
	int			 all = 0;

	f->wakeups++;
	while ((n = read(f->fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;
		    p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			if (ev->mask & IN_Q_OVERFLOW)
				all = 1;	/* lost events: tell everyone */
			if (!follow_wanted(ev) ||
			    (w = follow_find_wd(f, ev->wd)) == NULL)
				continue;
			for (i = 0; i < nhit && hit[i] != w->id; i++)
				;
			if (i == nhit && nhit < nitems(hit))
				hit[nhit++] = w->id;
			else if (i == nhit)
				all = 1;
			if (ev->mask & IN_IGNORED)
				w->wd = -1;	/* the directory is gone */
		}
	}
	if (n == -1 && errno != EAGAIN && errno != EINTR)
		log_warn("%s: inotify read", __func__);
	if (all) {
		nhit = 0;
		for (i = 0; i < f->nw && nhit < nitems(hit); i++)
			hit[nhit++] = f->w[i].id;
	}
	/* The callback may add or remove watches: ids, not pointers. */
	for (i = 0; i < nhit; i++) {
		f->calls++;
		f->cb(hit[i], f->arg);
	}
}

int
follow_init(struct follow *f, struct ev_loop *loop, follow_cb cb, void *arg)
{
	memset(f, 0, sizeof(*f));
	if ((f->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		return -1;
	f->loop = loop;
	f->cb = cb;
	f->arg = arg;
	ev_io_init(&f->io, follow_io_cb, f->fd, EV_READ);
	f->io.data = f;
	ev_io_start(loop, &f->io);
	return 0;
}

int
follow_add(struct follow *f, uint64_t id, const char *jobdir)
{
	struct follow_watch	*nw;
	int			 wd;

	if ((wd = inotify_add_watch(f->fd, jobdir, FOLLOW_MASK)) == -1)
		return -1;
	for (size_t i = 0; i < f->nw; i++)
		if (f->w[i].id == id) {
			f->w[i].wd = wd;
			return 0;
		}
	if (f->nw == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 8;
		if ((nw = reallocarray(f->w, f->cap, sizeof(*nw))) == NULL)
			fatal(NULL);
		f->w = nw;
	}
	f->w[f->nw].id = id;
	f->w[f->nw].wd = wd;
	f->w[f->nw].jfd = -1;
	f->nw++;
	return 0;
}

void
follow_remove(struct follow *f, uint64_t id)
{
	for (size_t i = 0; i < f->nw; i++) {
		if (f->w[i].id != id)
			continue;
		if (f->w[i].wd != -1)
			(void)inotify_rm_watch(f->fd, f->w[i].wd);
		f->w[i] = f->w[--f->nw];
		return;
	}
}

void
follow_close(struct follow *f)
{
	if (f->fd == -1)
		return;
	ev_io_stop(f->loop, &f->io);
	close(f->fd);
	f->fd = -1;
	free(f->w);
	f->w = NULL;
	f->nw = f->cap = 0;
}
