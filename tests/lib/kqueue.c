/*
 * kqueue.c: kqueue(2) and kevent(2) for the tests on Linux, the vnode
 * filter only, on inotify (declarations in kqueue/sys/event.h).  Enough
 * to run exec-worker/follow-kqueue.c under the follower's unit tests;
 * the semantics are the ones macOS documents, as far as inotify can see
 * them.  kqueue follows descriptors and inotify follows inodes, so:
 *
 * - EV_ADD watches /proc/self/fd/<ident> (the descriptor's inode) and,
 *   for NOTE_DELETE and NOTE_RENAME, the parent directory for the name
 *   the descriptor had: inotify tells a watch nothing when its directory
 *   is removed while open, nor IN_DELETE_SELF while a file is open.
 *   The parent's other events wake the descriptor for nothing, which
 *   kqueue would not: a watched directory's parent should be private
 *   to the test (not /tmp itself).
 * - A knote whose descriptor was closed, or now is another inode, is
 *   dropped at the next kevent(), as the kernel drops it at close().
 * - The kqueue descriptor is the inotify descriptor: readable while
 *   inotify holds events.  Events fold per knote (EV_CLEAR); those past
 *   the caller's room stay pending for the next call.
 *
 * Mapping: on a directory IN_CREATE, IN_DELETE, IN_MOVED_FROM and
 * IN_MOVED_TO are NOTE_WRITE; on a file IN_MODIFY is NOTE_WRITE, plus
 * NOTE_EXTEND when the size grew; IN_ATTRIB is NOTE_ATTRIB, plus
 * NOTE_DELETE when the link count is 0; the parent's IN_DELETE of the
 * name is NOTE_DELETE (link count 0), its IN_MOVED_FROM NOTE_RENAME.
 */
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/event.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KQ_MAX		8
#define KNOTE_MAX	128

struct knote {
	int		 used;
	struct kevent	 kev;		/* as added: ident, fflags, udata */
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	int		 isdir;
	int		 wd, pwd;	/* its inode's watch, its parent's */
	char		 name[NAME_MAX + 1];
	uint32_t	 pending;
};

struct kq {
	int		 used, fd;
	struct knote	 k[KNOTE_MAX];
};

static struct kq	 kqs[KQ_MAX];

int
kqueue(void)
{
	int	 fd;

	if ((fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		return -1;
	for (int i = 0; i < KQ_MAX; i++)
		if (!kqs[i].used || kqs[i].fd == fd) {
			memset(&kqs[i], 0, sizeof(kqs[i]));
			kqs[i].used = 1;
			kqs[i].fd = fd;
			return fd;
		}
	close(fd);
	errno = EMFILE;
	return -1;
}

static struct kq *
kq_find(int fd)
{
	for (int i = 0; i < KQ_MAX; i++)
		if (kqs[i].used && kqs[i].fd == fd)
			return &kqs[i];
	return NULL;
}

/* The descriptor still open on the same inode (else closed: drop it). */
static int
knote_valid(struct knote *k, struct stat *st)
{
	if (fstat((int)k->kev.ident, st) == -1 || st->st_dev != k->dev ||
	    st->st_ino != k->ino) {
		k->used = 0;
		return 0;
	}
	return 1;
}

static uint32_t
knote_map(struct knote *k, const struct inotify_event *ev)
{
	struct stat	 st;
	uint32_t	 n = 0;

	if (!knote_valid(k, &st))
		return 0;
	if (ev->mask & IN_Q_OVERFLOW)
		return k->kev.fflags;
	if (ev->wd == k->wd) {
		if (k->isdir && ev->len > 0 && (ev->mask & (IN_CREATE |
		    IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO)))
			n |= NOTE_WRITE;
		if (!k->isdir && (ev->mask & IN_MODIFY)) {
			n |= NOTE_WRITE;
			if (st.st_size > k->size)
				n |= NOTE_EXTEND;
		}
		if (ev->mask & IN_ATTRIB)
			n |= NOTE_ATTRIB | (st.st_nlink == 0 ? NOTE_DELETE : 0);
		if (ev->mask & IN_DELETE_SELF)
			n |= NOTE_DELETE;
		if (ev->mask & IN_MOVE_SELF)
			n |= NOTE_RENAME;
	}
	if (ev->wd == k->pwd && ev->len > 0 && strcmp(ev->name, k->name) == 0) {
		if ((ev->mask & IN_DELETE) && st.st_nlink == 0)
			n |= NOTE_DELETE;
		if (ev->mask & IN_MOVED_FROM)
			n |= NOTE_RENAME;
	}
	k->size = st.st_size;
	return n & k->kev.fflags;
}

static void
kq_drain(struct kq *q)
{
	char	 buf[8192]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	ssize_t	 n;

	while ((n = read(q->fd, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			for (int i = 0; i < KNOTE_MAX; i++)
				if (q->k[i].used)
					q->k[i].pending |= knote_map(&q->k[i],
					    ev);
		}
}

static int
kq_add(struct kq *q, const struct kevent *kev)
{
	struct knote	*k = NULL;
	struct stat	 st;
	char		 fdpath[64], path[PATH_MAX], *slash;
	ssize_t		 n;
	uint32_t	 mask;

	kq_drain(q);	/* what happened before the add is not for it */
	for (int i = 0; i < KNOTE_MAX && k == NULL; i++)
		if (q->k[i].used && q->k[i].kev.ident == kev->ident &&
		    knote_valid(&q->k[i], &st))
			k = &q->k[i];
	for (int i = 0; i < KNOTE_MAX && k == NULL; i++)
		if (!q->k[i].used)
			k = &q->k[i];
	if (k == NULL) {
		errno = ENOMEM;
		return -1;
	}
	if (fstat((int)kev->ident, &st) == -1)
		return -1;
	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", (int)kev->ident);
	if ((n = readlink(fdpath, path, sizeof(path) - 1)) == -1)
		return -1;
	path[n] = '\0';
	memset(k, 0, sizeof(*k));
	k->kev = *kev;
	k->dev = st.st_dev;
	k->ino = st.st_ino;
	k->size = st.st_size;
	k->isdir = S_ISDIR(st.st_mode);
	k->pwd = -1;
	mask = IN_MASK_ADD | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF |
	    (k->isdir ? IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO :
	    IN_MODIFY);
	if ((k->wd = inotify_add_watch(q->fd, fdpath, mask)) == -1)
		return -1;
	if ((slash = strrchr(path, '/')) != NULL && slash[1] != '\0' &&
	    strlen(slash + 1) < sizeof(k->name)) {
		strcpy(k->name, slash + 1);
		*slash = '\0';
		k->pwd = inotify_add_watch(q->fd, path[0] ? path : "/",
		    IN_MASK_ADD | IN_DELETE | IN_MOVED_FROM | IN_ONLYDIR);
	}
	k->used = 1;
	return 0;
}

static int
kq_del(struct kq *q, const struct kevent *kev)
{
	for (int i = 0; i < KNOTE_MAX; i++)
		if (q->k[i].used && q->k[i].kev.ident == kev->ident) {
			q->k[i].used = 0;	/* its watches just go quiet */
			return 0;
		}
	errno = ENOENT;
	return -1;
}

static int
kq_collect(struct kq *q, struct kevent *out, int nout)
{
	struct stat	 st;
	int		 n = 0;

	for (int i = 0; i < KNOTE_MAX && n < nout; i++) {
		struct knote	*k = &q->k[i];

		if (!k->used || k->pending == 0 || !knote_valid(k, &st))
			continue;
		out[n] = k->kev;
		out[n].flags = 0;
		out[n].fflags = k->pending;
		out[n].data = 0;
		k->pending = 0;
		n++;
	}
	return n;
}

int
kevent(int kq, const struct kevent *changes, int nchanges,
    struct kevent *events, int nevents, const struct timespec *timeout)
{
	struct kq	*q;
	struct pollfd	 pfd;
	int		 n, ms;

	if ((q = kq_find(kq)) == NULL) {
		errno = EBADF;
		return -1;
	}
	for (int i = 0; i < nchanges; i++) {
		if (changes[i].filter != EVFILT_VNODE) {
			errno = EINVAL;
			return -1;
		}
		if ((changes[i].flags & EV_ADD) && kq_add(q, &changes[i]) == -1)
			return -1;
		if ((changes[i].flags & EV_DELETE) &&
		    kq_del(q, &changes[i]) == -1)
			return -1;
	}
	if (nevents <= 0)
		return 0;
	kq_drain(q);
	if ((n = kq_collect(q, events, nevents)) > 0)
		return n;
	if (timeout != NULL && timeout->tv_sec == 0 && timeout->tv_nsec == 0)
		return 0;
	ms = timeout == NULL ? -1 : (int)(timeout->tv_sec * 1000 +
	    timeout->tv_nsec / 1000000);
	pfd.fd = q->fd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, ms) == -1)
		return -1;
	kq_drain(q);
	return kq_collect(q, events, nevents);
}
