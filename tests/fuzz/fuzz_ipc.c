/*
 * fuzz_ipc.c: frame reassembly and the getters against arbitrary bytes.
 *
 * Input: one mode byte, then chunks.  Each chunk is a control byte and
 * up to 63 data bytes (62 in the control byte's low bits mean "the rest
 * of the input").  Mode bit 0 allows fd passing; bit 1 sends the chunks
 * over a real socketpair, one sendmsg() each, so that control bits 6 and
 * 7 can attach one or two descriptors; otherwise ipcbuf_feed() is used.
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc.h"
#include "proto.h"

#define FUZZ_MAX	4096

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int	fuzz_drain(struct ipcbuf *);
static void	fuzz_getters(struct ipcmsg *);
static void	fuzz_send(int, const uint8_t *, size_t, int);

static int
fuzz_lowest_fd(void)
{
	int	 fd;

	if ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		abort();
	close(fd);
	return fd;
}

static void
fuzz_getters(struct ipcmsg *m)
{
	unsigned char	 copy[FUZZ_MAX];
	const char	*s;
	size_t		 len = ipc_get_len(m);
	const uint8_t	*p = ipc_get_ptr(m);
	int		 fd;

	(void)ipc_get_type(m);
	(void)ipc_get_id(m);
	if (len > sizeof(copy))
		abort();
	if (ipc_get_data(m, copy, len) != 0 || memcmp(copy, p, len) != 0)
		abort();
	if (len > 0 && ipc_get_data(m, copy, len - 1) != -1)
		abort();
	if (len < sizeof(copy) && ipc_get_data(m, copy, len + 1) != -1)
		abort();
	if ((s = ipc_get_string(m)) != NULL && strlen(s) + 1 != len)
		abort();
	if (len > 0 && ipc_str_valid((const char *)p, len) !=
	    (memchr(p, '\0', len) != NULL))
		abort();
	/* Take the descriptor, or leave it to ipc_free: both must be clean. */
	if (ipc_get_id(m) & 1) {
		fd = ipc_get_fd(m);
		if ((fd != -1) != ((ipc_get_flags(m) & IPC_F_FD) != 0))
			abort();
		if (fd != -1 && (fcntl(fd, F_GETFD) & FD_CLOEXEC) == 0)
			abort();
		if (fd != -1)
			close(fd);
		if (ipc_get_fd(m) != -1)
			abort();
	}
	ipc_free(m);
}

/* 0: wants more; -1: the channel failed. */
static int
fuzz_drain(struct ipcbuf *b)
{
	struct ipcmsg	*m;
	int		 r;

	/* Each frame takes at least a header: bounded by the bytes in. */
	while ((r = ipcbuf_get(b, &m)) == 1)
		fuzz_getters(m);
	if (r == -1 && m != NULL)
		abort();
	return r;
}

static void
fuzz_send(int sock, const uint8_t *data, size_t len, int nfds)
{
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int) * 2)];
	}		 cbuf;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cmsg;
	int		 fds[2] = { -1, -1 }, i;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = (void *)(uintptr_t)data;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (nfds > 0) {
		memset(&cbuf, 0, sizeof(cbuf));
		for (i = 0; i < nfds; i++)
			if ((fds[i] = open("/dev/null", O_RDONLY |
			    O_CLOEXEC)) == -1)
				abort();
		msg.msg_control = cbuf.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
	}
	/* Chunks are small and the reader keeps up: never blocks. */
	if (sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)len)
		abort();
	for (i = 0; i < nfds; i++)
		close(fds[i]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipcbuf	*b;
	size_t		 pos = 1, len, n;
	uint8_t		 mode, ctl;
	int		 sv[2] = { -1, -1 }, fdpass, sock, failed = 0, lowest;
	int		 r, i;

	if (size < 1)
		return 0;
	lowest = fuzz_lowest_fd();
	mode = data[0];
	fdpass = mode & 1;
	sock = (mode & 2) != 0;
	if (sock && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sv) == -1)
		abort();
	if ((b = ipcbuf_new(sock ? sv[1] : -1, FUZZ_MAX)) == NULL)
		abort();
	if (fdpass)
		ipcbuf_allow_fdpass(b);

	while (pos < size && !failed) {
		ctl = data[pos++];
		len = ctl & 0x3f;
		if (len == 0x3f || len > size - pos)
			len = size - pos;
		if (!sock) {
			/* Bounded: each pass takes bytes or a frame. */
			for (n = 0; n < len && !failed; ) {
				n += ipcbuf_feed(b, data + pos + n, len - n);
				failed = fuzz_drain(b) == -1;
			}
		} else if (len > 0) {
			fuzz_send(sv[0], data + pos, len,
			    (ctl & 0x80) ? 2 : (ctl & 0x40) ? 1 : 0);
			for (i = 0; i < 64 && !failed; i++) {
				r = ipcbuf_read(b);
				if (r == -1 && errno == EAGAIN)
					break;
				if (r != 1 || fuzz_drain(b) == -1)
					failed = 1;
			}
		}
		pos += len;
	}
	if (sock && !failed) {
		close(sv[0]);
		sv[0] = -1;
		for (i = 0; i < 64; i++) {
			if ((r = ipcbuf_read(b)) != 1)
				break;
			if (fuzz_drain(b) == -1)
				break;
		}
		if (r == 0)
			(void)ipcbuf_partial(b);
	}
	ipcbuf_free(b);
	if (sv[0] != -1)
		close(sv[0]);
	if (sv[1] != -1)
		close(sv[1]);
	/* A descriptor left open by the framing would show here. */
	if (fuzz_lowest_fd() != lowest)
		abort();
	return 0;
}
