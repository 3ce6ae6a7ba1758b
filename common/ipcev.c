/*
 * ipcev.c: read, reassemble, check HELLO, dispatch, free; once, for every
 * channel of every process.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ipcev.h"
#include "log.h"
#include "proto.h"

/*
 * A dispatch function may close, drop, re-initialise or even free the
 * channel whose frame it is handling.  Each running callback keeps a
 * frame on the C stack; closing a channel marks its frames, and the
 * callback then returns without touching the ipcev again.
 */
struct ipcev_frame {
	struct ipcev		*iev;
	int			 closed;
	struct ipcev_frame	*next;
};

static struct ipcev_frame	*ipcev_frames;

static void	ipcev_lost(struct ipcev *, int, const char *);
static void	ipcev_io_cb(struct ev_loop *, ev_io *, int);
static void	ipcev_read(struct ipcev *, struct ipcev_frame *);
static int	ipcev_check_hello(struct ipcev *, struct ipcmsg *);
static void	ipcev_update(struct ipcev *);
static void	ipcev_forget(struct ipcev *);
static void	ipcev_shut(struct ipcev *);

void
ipcev_init(struct ipcev *iev, struct ev_loop *loop, int fd, size_t maxsize,
    const char *name, ipcev_dispatch_fn dispatch, void *data)
{
	ipcev_forget(iev);
	memset(iev, 0, sizeof(*iev));
	if ((iev->buf = ipcbuf_new(fd, maxsize)) == NULL)
		fatal("%s: %s", __func__, name);
	iev->loop = loop;
	iev->dispatch = dispatch;
	iev->data = data;
	iev->name = name;
	iev->fd = fd;
	iev->events = EV_READ;
	ev_io_init(&iev->io, ipcev_io_cb, fd, EV_READ);
	iev->io.data = iev;
	ev_io_start(loop, &iev->io);
}

int
ipcev_active(const struct ipcev *iev)
{
	return iev->buf != NULL;
}

void
ipcev_expect_role(struct ipcev *iev, uint32_t role)
{
	iev->expect_role = role;
}

int
ipcev_hello(struct ipcev *iev, uint32_t role)
{
	struct ipc_hello	 h;

	memset(&h, 0, sizeof(h));
	h.version = IPC_VERSION;
	h.role = role;
	h.pid = (uint32_t)getpid();
	return ipcev_compose(iev, IPC_HELLO, 0, -1, &h, sizeof(h));
}

int
ipcev_compose(struct ipcev *iev, uint32_t type, uint32_t id, int fd,
    const void *data, size_t len)
{
	struct iovec	 iov;

	iov.iov_base = (void *)(uintptr_t)data;
	iov.iov_len = len;
	return ipcev_composev(iev, type, id, fd, &iov, len > 0 ? 1 : 0);
}

int
ipcev_composev(struct ipcev *iev, uint32_t type, uint32_t id, int fd,
    const struct iovec *iov, int iovcnt)
{
	int	 saved;

	if (!ipcev_active(iev)) {
		/* Same ownership rule as ipcbuf_composev(). */
		if (fd >= 0)
			close(fd);
		errno = EPIPE;
		return -1;
	}
	if (ipcbuf_composev(iev->buf, type, id, fd, iov, iovcnt) == -1) {
		saved = errno;
		ipcev_drop(iev, "can't queue %s: %s", ipc_type_name(type),
		    strerror(saved));
		errno = saved;
		return -1;
	}
	ipcev_update(iev);
	return 0;
}

int
ipcev_flush_sync(struct ipcev *iev, int timeout_ms)
{
	struct timespec	 now, end;
	struct pollfd	 pfd;
	long		 left;
	int		 r;

	if (!ipcev_active(iev)) {
		errno = EPIPE;
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += timeout_ms / 1000;
	end.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (end.tv_nsec >= 1000000000) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000;
	}
	for (;;) {
		r = ipcbuf_flush(iev->buf);
		ipcev_update(iev);
		if (r == 1)
			return 0;
		if (r == -1)
			return -1;
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = (long)(end.tv_sec - now.tv_sec) * 1000 +
		    (end.tv_nsec - now.tv_nsec) / 1000000;
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		pfd.fd = iev->fd;
		pfd.events = POLLOUT;
		pfd.revents = 0;
		if (poll(&pfd, 1, (int)left) == -1 && errno != EINTR)
			return -1;
	}
}

void
ipcev_drop(struct ipcev *iev, const char *fmt, ...)
{
	va_list			 ap;
	char			 reason[512];

	if (!ipcev_active(iev))
		return;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	ipcev_lost(iev, LOG_LVL_WARN, reason);
}

/* Log at the given level, close, then tell the owner once. */
static void
ipcev_lost(struct ipcev *iev, int level, const char *reason)
{
	ipcev_dispatch_fn	 dispatch;

	if (level == LOG_LVL_WARN)
		log_warnx("%s: %s", iev->name, reason);
	else
		log_info("%s: %s", iev->name, reason);
	dispatch = iev->dispatch;
	ipcev_shut(iev);
	/* The owner may free or re-init iev here: nothing touches it after. */
	dispatch(iev, NULL);
}

void
ipcev_close(struct ipcev *iev)
{
	if (!ipcev_active(iev))
		return;
	ipcev_shut(iev);
}

static void
ipcev_shut(struct ipcev *iev)
{
	ev_io_stop(iev->loop, &iev->io);
	ipcbuf_free(iev->buf);
	close(iev->fd);
	iev->buf = NULL;
	iev->fd = -1;
	iev->events = 0;
	ipcev_forget(iev);
}

/* Tell running callbacks that this channel is gone. */
static void
ipcev_forget(struct ipcev *iev)
{
	struct ipcev_frame	*f;

	for (f = ipcev_frames; f != NULL; f = f->next)
		if (f->iev == iev)
			f->closed = 1;
}

/* The only place the watcher's mask changes. */
static void
ipcev_update(struct ipcev *iev)
{
	int	 events = EV_READ;

	if (ipcbuf_queued(iev->buf) > 0)
		events |= EV_WRITE;
	if (events == iev->events)
		return;
	ev_io_stop(iev->loop, &iev->io);
	ev_io_set(&iev->io, iev->fd, events);
	ev_io_start(iev->loop, &iev->io);
	iev->events = events;
}

static void
ipcev_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ipcev		*iev = w->data;
	struct ipcev_frame	 f;

	f.iev = iev;
	f.closed = 0;
	f.next = ipcev_frames;
	ipcev_frames = &f;

	if (revents & EV_READ)
		ipcev_read(iev, &f);
	if (!f.closed && (revents & EV_WRITE) &&
	    ipcbuf_flush(iev->buf) == -1)
		ipcev_drop(iev, "write: %s", strerror(errno));
	if (!f.closed)
		ipcev_update(iev);

	ipcev_frames = f.next;
}

static void
ipcev_read(struct ipcev *iev, struct ipcev_frame *f)
{
	struct ipcmsg	*m;
	int		 r;

	r = ipcbuf_read(iev->buf);
	if (r == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		ipcev_drop(iev, "read: %s", strerror(errno));
		return;
	}
	if (r == 0) {
		/*
		 * A peer that ends between frames is how every stop looks; the
		 * owner reports what it means.  Mid-frame is a broken peer.
		 */
		if (ipcbuf_partial(iev->buf))
			ipcev_drop(iev, "EOF mid-frame");
		else
			ipcev_lost(iev, LOG_LVL_INFO, "channel closed");
		return;
	}
	/* Bounded: each frame consumes at least a header of what was read. */
	for (;;) {
		r = ipcbuf_get(iev->buf, &m);
		if (r == 0)
			return;
		if (r == -1) {
			ipcev_drop(iev, "bad frame: %s", strerror(errno));
			return;
		}
		if (ipcev_check_hello(iev, m) == -1) {
			ipc_free(m);
			return;
		}
		iev->dispatch(iev, m);
		ipc_free(m);
		if (f->closed)
			return;
	}
}

/* HELLO first, once, at our version; -1 when the peer was dropped. */
static int
ipcev_check_hello(struct ipcev *iev, struct ipcmsg *m)
{
	struct ipc_hello	 h;
	uint32_t		 type = ipc_get_type(m);

	if (iev->hello) {
		if (type == IPC_HELLO) {
			ipcev_drop(iev, "second HELLO");
			return -1;
		}
		return 0;
	}
	if (type != IPC_HELLO) {
		ipcev_drop(iev, "first frame is %s, not HELLO",
		    ipc_type_name(type));
		return -1;
	}
	if (ipc_get_data(m, &h, sizeof(h)) == -1) {
		ipcev_drop(iev, "bad HELLO (len %zu)", ipc_get_len(m));
		return -1;
	}
	if (h.version != IPC_VERSION) {
		ipcev_drop(iev, "version mismatch: peer %u, ours %d",
		    h.version, IPC_VERSION);
		return -1;
	}
	if (iev->expect_role != 0 && h.role != iev->expect_role) {
		ipcev_drop(iev, "HELLO from role %u, expected %u", h.role,
		    iev->expect_role);
		return -1;
	}
	iev->peer_role = h.role;
	iev->peer_pid = h.pid;
	iev->hello = 1;
	return 0;
}
