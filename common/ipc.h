/*
 * ipc.h: framed messages over stream sockets, in the shape of OpenBSD's
 * imsg, written for Linux.
 *
 * A frame is a struct ipc_hdr followed by len - 16 payload bytes.  Frames
 * are reassembled from SOCK_STREAM reads; a header with len < 16 or len >
 * the channel's maximum is an error (EBADMSG / EMSGSIZE).  Descriptors
 * ride only in the directions a channel opted in to (ipcbuf_allow_fdsend,
 * ipcbuf_allow_fdrecv, or both with ipcbuf_allow_fdpass); all are received
 * with MSG_CMSG_CLOEXEC and any surplus or unexpected one is closed.
 */
#ifndef IPC_H
#define IPC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct ipc_hdr {
	uint32_t	type;		/* enum ipc_type */
	uint32_t	len;		/* header + payload, <= channel max */
	uint32_t	id;		/* job or PTY id, 0 if none */
	uint32_t	flags;		/* IPC_F_FD: a descriptor rides along */
};
_Static_assert(sizeof(struct ipc_hdr) == 16, "ipc_hdr");

#define IPC_HDR_SIZE		sizeof(struct ipc_hdr)
#define IPC_HIGHWATER_DEFAULT	(1024 * 1024)

struct ipcbuf;
struct ipcmsg;

/* Channel buffers.  The buffer does not own fd: ipcbuf_free leaves it. */
struct ipcbuf	*ipcbuf_new(int fd, size_t maxsize);
void		 ipcbuf_free(struct ipcbuf *);
/* Both directions; or only ours (send) or only the peer's (recv). */
void		 ipcbuf_allow_fdpass(struct ipcbuf *);
void		 ipcbuf_allow_fdsend(struct ipcbuf *);
void		 ipcbuf_allow_fdrecv(struct ipcbuf *);
void		 ipcbuf_set_highwater(struct ipcbuf *, size_t);
int		 ipcbuf_fd(const struct ipcbuf *);
size_t		 ipcbuf_maxsize(const struct ipcbuf *);

/*
 * 1: bytes read; 0: EOF; -1: error (EAGAIN means try later).  Never
 * blocks.  Drain ipcbuf_get() between reads: a buffer holding maxsize
 * unparsed bytes fails with ENOBUFS.  A descriptor on a channel that does
 * not receive them, or more than one in a single read, is a violation (EBADMSG):
 * surplus descriptors are closed, and the buffer fails from then on.
 */
int		 ipcbuf_read(struct ipcbuf *);
/*
 * Append bytes as if read from the socket (for the fuzzers); returns how
 * many fitted, which is fewer than asked only while ipcbuf_get() has
 * frames to hand out.
 */
size_t		 ipcbuf_feed(struct ipcbuf *, const void *, size_t);
/* 1: *m holds a frame; 0: need more bytes; -1: bad frame (errno). */
int		 ipcbuf_get(struct ipcbuf *, struct ipcmsg **m);
/* EOF arrived in the middle of a frame. */
int		 ipcbuf_partial(const struct ipcbuf *);

/*
 * Queue a frame.  fd -1 for none (fd is passed, then closed by us, only
 * when the channel allows sending them).  -1 with EMSGSIZE if the frame is
 * too large, ENOBUFS if the queue is above its high-water mark, EBADF if
 * sending descriptors is off.  The descriptor is ours from the call on: closed once sent, or
 * at once if composing fails.
 */
int		 ipcbuf_compose(struct ipcbuf *, uint32_t type, uint32_t id,
		    int fd, const void *data, size_t len);
int		 ipcbuf_composev(struct ipcbuf *, uint32_t type, uint32_t id,
		    int fd, const struct iovec *iov, int iovcnt);
/* 1: queue empty; 0: more queued (EAGAIN); -1: error (EPIPE ...). */
int		 ipcbuf_flush(struct ipcbuf *);
size_t		 ipcbuf_queued(const struct ipcbuf *);

/* Accessors; payload length excludes the header. */
uint32_t	 ipc_get_type(const struct ipcmsg *);
uint32_t	 ipc_get_id(const struct ipcmsg *);
uint32_t	 ipc_get_flags(const struct ipcmsg *);
size_t		 ipc_get_len(const struct ipcmsg *);
const void	*ipc_get_ptr(const struct ipcmsg *);
/* Copy exactly len payload bytes; -1/EBADMSG unless sizes match. */
int		 ipc_get_data(const struct ipcmsg *, void *, size_t len);
/* Take the descriptor; -1 if none.  ipc_free closes one not taken. */
int		 ipc_get_fd(struct ipcmsg *);
/* The payload is a string: NUL-terminated at its end, no NUL before. */
const char	*ipc_get_string(const struct ipcmsg *);
void		 ipc_free(struct ipcmsg *);

/* A fixed char[] field is a valid C string: a NUL within size. */
int		 ipc_str_valid(const char *, size_t size);

#endif
