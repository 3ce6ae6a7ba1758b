/*
 * ipc.c: framed messages over stream sockets.
 *
 * A stream has no message boundaries, and the kernel hands a descriptor
 * to whichever recvmsg() first copies a byte of the sendmsg() that carried
 * it.  So every received descriptor is tagged with the stream offsets that
 * recvmsg() returned, and a frame with IPC_F_FD may only claim a
 * descriptor that arrived together with the frame's first byte.  The
 * sending side makes this hold by starting every sendmsg() that carries a
 * descriptor at the first byte of that descriptor's frame.
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"
#include "proto.h"

/*
 * Legitimately at most one descriptor waits for its frame once the owner
 * has drained ipcbuf_get(); a few more cover reads done back to back.
 */
#define IPC_FDQ_MAX	8
/* SCM_MAX_FD: room for all a peer can send, so none are lost unclosed. */
#define IPC_CMSG_FDS	253
/* Bytes handed to one sendmsg(). */
#define IPC_IOV_MAX	64

struct ipcfd {
	int		 fd;
	/* Stream offsets of the bytes read with it: [start, end). */
	uint64_t	 start;
	uint64_t	 end;
};

struct ipcout {
	TAILQ_ENTRY(ipcout)	 entry;
	size_t			 len;
	size_t			 off;		/* bytes already sent */
	int			 fd;		/* -1 once sent or if none */
	unsigned char		 data[];
};

struct ipcbuf {
	int			 fd;
	int			 fdsend;	/* we may send descriptors */
	int			 fdrecv;	/* the peer may send us some */
	int			 eof;
	int			 error;		/* sticky violation errno */
	size_t			 maxsize;
	size_t			 highwater;

	unsigned char		*rbuf;		/* maxsize bytes */
	size_t			 roff;		/* first unparsed byte */
	size_t			 rlen;		/* one past the last byte */
	uint64_t		 rstream;	/* offset of rbuf[roff] */

	struct ipcfd		 fdq[IPC_FDQ_MAX];
	int			 nfdq;

	TAILQ_HEAD(, ipcout)	 outq;
	size_t			 queued;
};

struct ipcmsg {
	struct ipc_hdr		 hdr;
	int			 fd;
	unsigned char		 data[];
};

static int	ipcbuf_violation(struct ipcbuf *, int);
static void	ipcbuf_compact(struct ipcbuf *);
static int	ipcbuf_take_fd(struct ipcbuf *, int *);
static void	ipcbuf_sent(struct ipcbuf *, size_t);

struct ipcbuf *
ipcbuf_new(int fd, size_t maxsize)
{
	struct ipcbuf	*buf;

	if (maxsize < IPC_HDR_SIZE || maxsize > UINT32_MAX) {
		errno = EINVAL;
		return NULL;
	}
	if ((buf = calloc(1, sizeof(*buf))) == NULL)
		fatal(NULL);
	if ((buf->rbuf = malloc(maxsize)) == NULL)
		fatal(NULL);
	buf->fd = fd;
	buf->maxsize = maxsize;
	buf->highwater = IPC_HIGHWATER_DEFAULT;
	TAILQ_INIT(&buf->outq);
	return buf;
}

void
ipcbuf_free(struct ipcbuf *buf)
{
	struct ipcout	*o;
	int		 i;

	if (buf == NULL)
		return;
	for (i = 0; i < buf->nfdq; i++)
		close(buf->fdq[i].fd);
	while ((o = TAILQ_FIRST(&buf->outq)) != NULL) {
		TAILQ_REMOVE(&buf->outq, o, entry);
		if (o->fd != -1)
			close(o->fd);
		free(o);
	}
	free(buf->rbuf);
	free(buf);
}

void
ipcbuf_allow_fdpass(struct ipcbuf *buf)
{
	buf->fdsend = buf->fdrecv = 1;
}

void
ipcbuf_allow_fdsend(struct ipcbuf *buf)
{
	buf->fdsend = 1;
}

void
ipcbuf_allow_fdrecv(struct ipcbuf *buf)
{
	buf->fdrecv = 1;
}

void
ipcbuf_set_highwater(struct ipcbuf *buf, size_t highwater)
{
	buf->highwater = highwater;
}

int
ipcbuf_fd(const struct ipcbuf *buf)
{
	return buf->fd;
}

size_t
ipcbuf_maxsize(const struct ipcbuf *buf)
{
	return buf->maxsize;
}

/* The channel broke its contract: it stays broken, whatever comes next. */
static int
ipcbuf_violation(struct ipcbuf *buf, int error)
{
	buf->error = error;
	errno = error;
	return -1;
}

static void
ipcbuf_compact(struct ipcbuf *buf)
{
	if (buf->roff == 0)
		return;
	memmove(buf->rbuf, buf->rbuf + buf->roff, buf->rlen - buf->roff);
	buf->rlen -= buf->roff;
	buf->roff = 0;
}

int
ipcbuf_read(struct ipcbuf *buf)
{
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int) * IPC_CMSG_FDS)];
	}		 cmsgbuf;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cmsg;
	int		 fds[IPC_CMSG_FDS];
	int		 nfds = 0, bad = 0, i, k, n;
	uint64_t	 start;
	ssize_t		 r;

	if (buf->error != 0) {
		errno = buf->error;
		return -1;
	}
	ipcbuf_compact(buf);
	if (buf->rlen == buf->maxsize) {
		/* A full buffer holds a whole frame: ipcbuf_get() first. */
		errno = ENOBUFS;
		return -1;
	}
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = buf->rbuf + buf->rlen;
	iov.iov_len = buf->maxsize - buf->rlen;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);
	/*
	 * MSG_DONTWAIT: an event loop must never block here, whatever the
	 * descriptor's mode.
	 */
	do {
		r = recvmsg(buf->fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	} while (r == -1 && errno == EINTR);
	if (r == -1)
		return -1;

	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS) {
			bad = 1;
			continue;
		}
		n = (int)((cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (k = 0; k < n; k++) {
			if (nfds < IPC_CMSG_FDS)
				memcpy(&fds[nfds++], CMSG_DATA(cmsg) +
				    k * sizeof(int), sizeof(int));
		}
	}
	/* The kernel closed what did not fit; the peer sent too many. */
	if (msg.msg_flags & MSG_CTRUNC)
		bad = 1;

	start = buf->rstream + (buf->rlen - buf->roff);
	buf->rlen += (size_t)r;
	if (r == 0) {
		buf->eof = 1;
		for (i = 0; i < nfds; i++)
			close(fds[i]);
		return bad ? ipcbuf_violation(buf, EBADMSG) : 0;
	}
	if (nfds == 0)
		return bad ? ipcbuf_violation(buf, EBADMSG) : 1;

	/*
	 * One frame carries one descriptor, and each sendmsg() carries at
	 * most one frame's descriptor.  More than one is a violation: the
	 * first is kept (ipcbuf_free closes it), the extras closed now.
	 */
	if (!buf->fdrecv || buf->nfdq == IPC_FDQ_MAX) {
		for (i = 0; i < nfds; i++)
			close(fds[i]);
		return ipcbuf_violation(buf, EBADMSG);
	}
	buf->fdq[buf->nfdq].fd = fds[0];
	buf->fdq[buf->nfdq].start = start;
	buf->fdq[buf->nfdq].end = start + (uint64_t)r;
	buf->nfdq++;
	for (i = 1; i < nfds; i++)
		close(fds[i]);
	if (nfds > 1 || bad)
		return ipcbuf_violation(buf, EBADMSG);
	return 1;
}

size_t
ipcbuf_feed(struct ipcbuf *buf, const void *data, size_t len)
{
	ipcbuf_compact(buf);
	if (len > buf->maxsize - buf->rlen)
		len = buf->maxsize - buf->rlen;
	if (len > 0)
		memcpy(buf->rbuf + buf->rlen, data, len);
	buf->rlen += len;
	return len;
}

/*
 * The descriptor for the frame starting at rstream: it must have come
 * with the read that carried the frame's first byte.
 */
static int
ipcbuf_take_fd(struct ipcbuf *buf, int *fd)
{
	if (buf->nfdq == 0 || buf->fdq[0].start > buf->rstream ||
	    buf->fdq[0].end <= buf->rstream)
		return -1;
	*fd = buf->fdq[0].fd;
	buf->nfdq--;
	memmove(&buf->fdq[0], &buf->fdq[1], buf->nfdq * sizeof(buf->fdq[0]));
	return 0;
}

int
ipcbuf_get(struct ipcbuf *buf, struct ipcmsg **m)
{
	struct ipc_hdr	 hdr;
	struct ipcmsg	*msg;
	size_t		 avail, plen;
	int		 fd = -1;

	*m = NULL;
	if (buf->error != 0) {
		errno = buf->error;
		return -1;
	}
	/*
	 * Every frame that started within the read carrying this descriptor
	 * has been parsed and none claimed it.
	 */
	if (buf->nfdq > 0 && buf->fdq[0].end <= buf->rstream)
		return ipcbuf_violation(buf, EBADMSG);

	avail = buf->rlen - buf->roff;
	if (avail < IPC_HDR_SIZE)
		return 0;
	memcpy(&hdr, buf->rbuf + buf->roff, sizeof(hdr));
	/* Checked before the payload arrives: a bad length is final. */
	if (hdr.len < IPC_HDR_SIZE)
		return ipcbuf_violation(buf, EBADMSG);
	if (hdr.len > buf->maxsize)
		return ipcbuf_violation(buf, EMSGSIZE);
	/* Unknown flags would mean a contract we do not speak. */
	if ((hdr.flags & ~(uint32_t)IPC_F_FD) != 0)
		return ipcbuf_violation(buf, EBADMSG);
	if (avail < hdr.len)
		return 0;

	if ((hdr.flags & IPC_F_FD) && ipcbuf_take_fd(buf, &fd) == -1)
		return ipcbuf_violation(buf, EBADMSG);

	plen = hdr.len - IPC_HDR_SIZE;
	if ((msg = malloc(sizeof(*msg) + plen)) == NULL)
		fatal(NULL);
	msg->hdr = hdr;
	msg->fd = fd;
	memcpy(msg->data, buf->rbuf + buf->roff + IPC_HDR_SIZE, plen);

	buf->roff += hdr.len;
	buf->rstream += hdr.len;
	if (buf->roff == buf->rlen)
		buf->roff = buf->rlen = 0;
	*m = msg;
	return 1;
}

int
ipcbuf_partial(const struct ipcbuf *buf)
{
	return buf->eof && buf->rlen > buf->roff;
}

int
ipcbuf_compose(struct ipcbuf *buf, uint32_t type, uint32_t id, int fd,
    const void *data, size_t len)
{
	struct iovec	 iov;

	iov.iov_base = (void *)(uintptr_t)data;
	iov.iov_len = len;
	return ipcbuf_composev(buf, type, id, fd, &iov, len > 0 ? 1 : 0);
}

int
ipcbuf_composev(struct ipcbuf *buf, uint32_t type, uint32_t id, int fd,
    const struct iovec *iov, int iovcnt)
{
	struct ipcout	*o;
	struct ipc_hdr	 hdr;
	size_t		 total = IPC_HDR_SIZE, off;
	int		 i, error;

	if (fd < -1) {
		errno = EBADF;
		return -1;
	}
	if (iovcnt < 0) {
		error = EINVAL;
		goto fail;
	}
	if (fd != -1 && !buf->fdsend) {
		error = EBADF;
		goto fail;
	}
	for (i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > buf->maxsize - total) {
			error = EMSGSIZE;
			goto fail;
		}
		total += iov[i].iov_len;
	}
	if (buf->queued > buf->highwater) {
		error = ENOBUFS;
		goto fail;
	}

	if ((o = malloc(sizeof(*o) + total)) == NULL)
		fatal(NULL);
	hdr.type = type;
	hdr.len = (uint32_t)total;
	hdr.id = id;
	hdr.flags = fd != -1 ? IPC_F_FD : 0;
	memcpy(o->data, &hdr, sizeof(hdr));
	off = sizeof(hdr);
	for (i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > 0)
			memcpy(o->data + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	o->len = total;
	o->off = 0;
	o->fd = fd;
	TAILQ_INSERT_TAIL(&buf->outq, o, entry);
	buf->queued += total;
	return 0;

 fail:
	/* The descriptor was handed over: it is ours to close either way. */
	if (fd != -1)
		close(fd);
	errno = error;
	return -1;
}

/* n bytes left the queue's head: release what went out whole. */
static void
ipcbuf_sent(struct ipcbuf *buf, size_t n)
{
	struct ipcout	*o;
	size_t		 step;

	while (n > 0 && (o = TAILQ_FIRST(&buf->outq)) != NULL) {
		step = o->len - o->off;
		if (step > n)
			step = n;
		if (o->fd != -1) {
			/* It went with the frame's first byte. */
			close(o->fd);
			o->fd = -1;
		}
		o->off += step;
		buf->queued -= step;
		n -= step;
		if (o->off == o->len) {
			TAILQ_REMOVE(&buf->outq, o, entry);
			free(o);
		}
	}
}

int
ipcbuf_flush(struct ipcbuf *buf)
{
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int))];
	}		 cmsgbuf;
	struct iovec	 iov[IPC_IOV_MAX];
	struct msghdr	 msg;
	struct cmsghdr	*cmsg;
	struct ipcout	*o;
	ssize_t		 r;
	int		 n;

	while ((o = TAILQ_FIRST(&buf->outq)) != NULL) {
		memset(&msg, 0, sizeof(msg));
		if (o->fd != -1) {
			memset(&cmsgbuf, 0, sizeof(cmsgbuf));
			msg.msg_control = cmsgbuf.buf;
			msg.msg_controllen = sizeof(cmsgbuf.buf);
			cmsg = CMSG_FIRSTHDR(&msg);
			cmsg->cmsg_level = SOL_SOCKET;
			cmsg->cmsg_type = SCM_RIGHTS;
			cmsg->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(cmsg), &o->fd, sizeof(int));
		}
		/*
		 * A later frame's descriptor must ride a sendmsg() of its
		 * own that starts at that frame (see the top of the file).
		 */
		n = 0;
		for (; o != NULL && n < IPC_IOV_MAX;
		    o = TAILQ_NEXT(o, entry)) {
			if (n > 0 && o->fd != -1)
				break;
			iov[n].iov_base = o->data + o->off;
			iov[n].iov_len = o->len - o->off;
			n++;
		}
		msg.msg_iov = iov;
		msg.msg_iovlen = n;
		r = sendmsg(buf->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		ipcbuf_sent(buf, (size_t)r);
	}
	return 1;
}

size_t
ipcbuf_queued(const struct ipcbuf *buf)
{
	return buf->queued;
}

uint32_t
ipc_get_type(const struct ipcmsg *m)
{
	return m->hdr.type;
}

uint32_t
ipc_get_id(const struct ipcmsg *m)
{
	return m->hdr.id;
}

uint32_t
ipc_get_flags(const struct ipcmsg *m)
{
	return m->hdr.flags;
}

size_t
ipc_get_len(const struct ipcmsg *m)
{
	return m->hdr.len - IPC_HDR_SIZE;
}

const void *
ipc_get_ptr(const struct ipcmsg *m)
{
	return m->data;
}

int
ipc_get_data(const struct ipcmsg *m, void *data, size_t len)
{
	if (len != ipc_get_len(m)) {
		errno = EBADMSG;
		return -1;
	}
	if (len > 0)
		memcpy(data, m->data, len);
	return 0;
}

int
ipc_get_fd(struct ipcmsg *m)
{
	int	 fd = m->fd;

	m->fd = -1;
	return fd;
}

const char *
ipc_get_string(const struct ipcmsg *m)
{
	size_t	 len = ipc_get_len(m);

	if (len == 0 || m->data[len - 1] != '\0' ||
	    memchr(m->data, '\0', len - 1) != NULL) {
		errno = EBADMSG;
		return NULL;
	}
	return (const char *)m->data;
}

void
ipc_free(struct ipcmsg *m)
{
	if (m == NULL)
		return;
	if (m->fd != -1)
		close(m->fd);
	free(m);
}

int
ipc_str_valid(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}
