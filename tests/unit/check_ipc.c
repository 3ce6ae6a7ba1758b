/*
 * check_ipc.c: framing (ipc.c) and its libev glue (ipcev.c), driven over
 * real AF_UNIX stream socketpairs.
 */
#include <sys/socket.h>
#include <sys/uio.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ipc.h"
#include "ipcev.h"
#include "proto.h"
#include "testlib.h"

Suite	*ipc_suite(void);
int	 main(void);

#define T_MAX		4096
#define T_TYPE		IPC_NE_FACTS_REQ
/* Upper bound for every wait in this file. */
#define T_GUARD_S	5.0

/* ---------------------------------------------------------------- */
/* helpers */

static void
t_pair(int sv[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sv), 0);
}

static void
t_close_pair(int sv[2])
{
	if (sv[0] != -1)
		close(sv[0]);
	if (sv[1] != -1)
		close(sv[1]);
	sv[0] = sv[1] = -1;
}

static int
t_count_fds(void)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	d = opendir("/proc/self/fd");
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* One raw frame, laid out by hand so that tests can lie in the header. */
static size_t
t_frame(unsigned char *out, uint32_t type, uint32_t len, uint32_t id,
    uint32_t flags, const void *payload, size_t plen)
{
	struct ipc_hdr	 h;

	h.type = type;
	h.len = len;
	h.id = id;
	h.flags = flags;
	memcpy(out, &h, sizeof(h));
	if (plen > 0)
		memcpy(out + sizeof(h), payload, plen);
	return sizeof(h) + plen;
}

static void
t_write(int fd, const void *data, size_t len)
{
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
}

/* sendmsg() with nfds descriptors attached. */
static void
t_sendfds(int sock, const void *data, size_t len, const int *fds, int nfds)
{
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int) * 4)];
	}		 cbuf;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cmsg;

	ck_assert_int_le(nfds, 4);
	memset(&msg, 0, sizeof(msg));
	memset(&cbuf, 0, sizeof(cbuf));
	iov.iov_base = (void *)(uintptr_t)data;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (nfds > 0) {
		msg.msg_control = cbuf.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
	}
	ck_assert_int_eq(sendmsg(sock, &msg, MSG_NOSIGNAL), (ssize_t)len);
}

/* Everything the peer wrote has arrived; read it and return one frame. */
static struct ipcmsg *
t_read_one(struct ipcbuf *b)
{
	struct ipcmsg	*m;

	ck_assert_int_eq(ipcbuf_read(b), 1);
	ck_assert_int_eq(ipcbuf_get(b, &m), 1);
	return m;
}

static double
t_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------- */
/* framing */

START_TEST(test_ipc_byte_at_a_time)
{
	unsigned char	 wire[256];
	struct ipcbuf	*b;
	struct ipcmsg	*m;
	size_t		 n = 0, i, ends[3];
	uint32_t	 expect = 0;
	int		 sv[2];

	t_pair(sv);
	n += t_frame(wire + n, T_TYPE, 16 + 5, 7, 0, "abcde", 5);
	ends[0] = n;
	n += t_frame(wire + n, T_TYPE, 16, 8, 0, NULL, 0);
	ends[1] = n;
	n += t_frame(wire + n, IPC_EN_FACTS, 16 + 3, 9, 0, "xyz", 3);
	ends[2] = n;
	ck_assert_ptr_nonnull(b = ipcbuf_new(sv[1], T_MAX));

	for (i = 0; i < n; i++) {
		t_write(sv[0], wire + i, 1);
		ck_assert_int_eq(ipcbuf_read(b), 1);
		if (i + 1 != ends[expect]) {
			ck_assert_int_eq(ipcbuf_get(b, &m), 0);
			ck_assert_ptr_null(m);
			continue;
		}
		ck_assert_int_eq(ipcbuf_get(b, &m), 1);
		ck_assert_uint_eq(ipc_get_id(m), 7 + expect);
		switch (expect) {
		case 0:
			ck_assert_uint_eq(ipc_get_type(m), T_TYPE);
			ck_assert_uint_eq(ipc_get_len(m), 5);
			ck_assert_mem_eq(ipc_get_ptr(m), "abcde", 5);
			break;
		case 1:
			ck_assert_uint_eq(ipc_get_len(m), 0);
			break;
		case 2:
			ck_assert_uint_eq(ipc_get_type(m), IPC_EN_FACTS);
			ck_assert_mem_eq(ipc_get_ptr(m), "xyz", 3);
			break;
		}
		ck_assert_uint_eq(ipc_get_flags(m), 0);
		ck_assert_int_eq(ipc_get_fd(m), -1);
		ipc_free(m);
		ck_assert_int_eq(ipcbuf_get(b, &m), 0);
		expect++;
	}
	ck_assert_uint_eq(expect, 3);
	/* Nothing more to read: EAGAIN, never a block. */
	ck_assert_int_eq(ipcbuf_read(b), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ipcbuf_free(b);
	t_close_pair(sv);
}
END_TEST

START_TEST(test_ipc_coalesced)
{
	unsigned char	 wire[1024];
	char		 payload[32];
	struct ipcbuf	*b;
	struct ipcmsg	*m;
	size_t		 n = 0;
	uint32_t	 i;
	int		 sv[2];

	t_pair(sv);
	for (i = 0; i < 10; i++) {
		memset(payload, 'a' + i, i);
		n += t_frame(wire + n, T_TYPE, 16 + i, 100 + i, 0, payload, i);
	}
	t_write(sv[0], wire, n);
	ck_assert_ptr_nonnull(b = ipcbuf_new(sv[1], T_MAX));
	ck_assert_int_eq(ipcbuf_read(b), 1);
	for (i = 0; i < 10; i++) {
		ck_assert_int_eq(ipcbuf_get(b, &m), 1);
		ck_assert_uint_eq(ipc_get_id(m), 100 + i);
		ck_assert_uint_eq(ipc_get_len(m), i);
		memset(payload, 'a' + i, i);
		ck_assert_mem_eq(ipc_get_ptr(m), payload, i);
		ipc_free(m);
	}
	ck_assert_int_eq(ipcbuf_get(b, &m), 0);
	ipcbuf_free(b);
	t_close_pair(sv);
}
END_TEST

START_TEST(test_ipc_bad_len)
{
	static const unsigned char zero[T_MAX];
	unsigned char	 wire[T_MAX + 64];
	struct ipcbuf	*b;
	struct ipcmsg	*m;
	size_t		 n;
	int		 sv[2];

	/* 15: shorter than the header itself. */
	t_pair(sv);
	ck_assert_ptr_nonnull(b = ipcbuf_new(sv[1], T_MAX));
	n = t_frame(wire, T_TYPE, 15, 0, 0, NULL, 0);
	t_write(sv[0], wire, n);
	ck_assert_int_eq(ipcbuf_read(b), 1);
	errno = 0;
	ck_assert_int_eq(ipcbuf_get(b, &m), -1);
	ck_assert_int_eq(errno, EBADMSG);
	ck_assert_ptr_null(m);
	/* Fatal for the channel: it stays failed. */
	errno = 0;
	ck_assert_int_eq(ipcbuf_get(b, &m), -1);
	ck_assert_int_eq(errno, EBADMSG);
	ck_assert_int_eq(ipcbuf_read(b), -1);
	ck_assert_int_eq(errno, EBADMSG);
	ipcbuf_free(b);
	t_close_pair(sv);

	/* maxsize + 1, rejected from the header alone. */
	t_pair(sv);
	ck_assert_ptr_nonnull(b = ipcbuf_new(sv[1], T_MAX));
	n = t_frame(wire, T_TYPE, T_MAX + 1, 0, 0, NULL, 0);
	t_write(sv[0], wire, n);
	ck_assert_int_eq(ipcbuf_read(b), 1);
	errno = 0;
	ck_assert_int_eq(ipcbuf_get(b, &m), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ipcbuf_free(b);
	t_close_pair(sv);

	/* Exactly maxsize is fine. */
	t_pair(sv);
	ck_assert_ptr_nonnull(b = ipcbuf_new(sv[1], T_MAX));
	n = t_frame(wire, T_TYPE, T_MAX, 0, 0, zero, T_MAX - 16);
	t_write(sv[0], wire, n);
	ck_assert_int_eq(ipcbuf_read(b), 1);
	ck_assert_int_eq(ipcbuf_get(b, &m), 1);
	ck_assert_uint_eq(ipc_get_len(m), T_MAX - 16);
	ipc_free(m);
	ipcbuf_free(b);
	t_close_pair(sv);

	/* A flag this side does not know. */
	t_pair(sv);
	ck_assert_ptr_nonnull(b = ipcbuf_new(sv[1], T_MAX));
	n = t_frame(wire, T_TYPE, 16, 0, 0x8000, NULL, 0);
	t_write(sv[0], wire, n);
	ck_assert_int_eq(ipcbuf_read(b), 1);
	errno = 0;
	ck_assert_int_eq(ipcbuf_get(b, &m), -1);
	ck_assert_int_eq(errno, EBADMSG);
	ipcbuf_free(b);
	t_close_pair(sv);

	/* A channel cannot be smaller than a header. */
	errno = 0;
	ck_assert_ptr_null(ipcbuf_new(0, IPC_HDR_SIZE - 1));
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(test_ipc_get_data_exact)
{
	struct ipc_connect	 c, out;
	struct ipcbuf		*s, *r;
	struct ipcmsg		*m;
	unsigned char		 big[sizeof(c) + 1];
	int			 sv[2];

	t_pair(sv);
	ck_assert_ptr_nonnull(s = ipcbuf_new(sv[0], T_MAX));
	ck_assert_ptr_nonnull(r = ipcbuf_new(sv[1], T_MAX));
	c.endpoint = IPC_EP_DASHBOARD;
	c.timeout_ms = 1234;
	ck_assert_int_eq(ipcbuf_compose(s, IPC_NS_CONNECT, 5, -1, &c,
	    sizeof(c)), 0);
	ck_assert_int_eq(ipcbuf_flush(s), 1);
	m = t_read_one(r);

	errno = 0;
	ck_assert_int_eq(ipc_get_data(m, &out, sizeof(out) - 1), -1);
	ck_assert_int_eq(errno, EBADMSG);
	errno = 0;
	ck_assert_int_eq(ipc_get_data(m, big, sizeof(big)), -1);
	ck_assert_int_eq(errno, EBADMSG);
	ck_assert_int_eq(ipc_get_data(m, NULL, 0), -1);
	memset(&out, 0, sizeof(out));
	ck_assert_int_eq(ipc_get_data(m, &out, sizeof(out)), 0);
	ck_assert_uint_eq(out.endpoint, IPC_EP_DASHBOARD);
	ck_assert_uint_eq(out.timeout_ms, 1234);
	ipc_free(m);

	/* An empty payload matches only an empty read. */
	ck_assert_int_eq(ipcbuf_compose(s, IPC_SN_PING, 6, -1, NULL, 0), 0);
	ck_assert_int_eq(ipcbuf_flush(s), 1);
	m = t_read_one(r);
	ck_assert_int_eq(ipc_get_data(m, NULL, 0), 0);
	ck_assert_int_eq(ipc_get_data(m, &out, 1), -1);
	ipc_free(m);

	ipcbuf_free(s);
	ipcbuf_free(r);
	t_close_pair(sv);
}
END_TEST

START_TEST(test_ipc_get_string)
{
	static const struct {
		const char	*data;
		size_t		 len;
		int		 ok;
	} cases[] = {
		{ "hello", 6, 1 },	/* NUL at the end */
		{ "", 1, 1 },		/* just the NUL */
		{ "abc", 3, 0 },	/* no NUL */
		{ "ab\0cd", 6, 0 },	/* NUL before the end */
		{ "ab\0", 4, 0 },	/* two NULs */
		{ "", 0, 0 },		/* empty */
	};
	struct ipcbuf	*s, *r;
	struct ipcmsg	*m;
	const char	*str;
	size_t		 i;
	int		 sv[2];

	t_pair(sv);
	ck_assert_ptr_nonnull(s = ipcbuf_new(sv[0], T_MAX));
	ck_assert_ptr_nonnull(r = ipcbuf_new(sv[1], T_MAX));
	for (i = 0; i < nitems(cases); i++) {
		ck_assert_int_eq(ipcbuf_compose(s, T_TYPE, (uint32_t)i, -1,
		    cases[i].data, cases[i].len), 0);
		ck_assert_int_eq(ipcbuf_flush(s), 1);
		m = t_read_one(r);
		errno = 0;
		str = ipc_get_string(m);
		if (cases[i].ok) {
			ck_assert_msg(str != NULL, "case %zu rejected", i);
			ck_assert_str_eq(str, cases[i].data);
		} else {
			ck_assert_msg(str == NULL, "case %zu accepted", i);
			ck_assert_int_eq(errno, EBADMSG);
		}
		ipc_free(m);
	}
	ipcbuf_free(s);
	ipcbuf_free(r);
	t_close_pair(sv);

	/* Fixed char[] fields. */
	ck_assert_int_eq(ipc_str_valid("abc", 4), 1);
	ck_assert_int_eq(ipc_str_valid("abc", 3), 0);
	ck_assert_int_eq(ipc_str_valid("a\0c", 3), 1);
	ck_assert_int_eq(ipc_str_valid("", 0), 0);
}
END_TEST

START_TEST(test_ipc_fdpass)
{
	struct ipcbuf	*s, *r;
	struct ipcmsg	*m;
	char		 c;
	int		 sv[2], p1[2], p2[2], fd, before, i;

	before = t_count_fds();
	t_pair(sv);
	ck_assert_int_eq(pipe(p1), 0);
	ck_assert_int_eq(pipe(p2), 0);
	ck_assert_ptr_nonnull(s = ipcbuf_new(sv[0], T_MAX));
	ck_assert_ptr_nonnull(r = ipcbuf_new(sv[1], T_MAX));
	ipcbuf_allow_fdpass(s);
	ipcbuf_allow_fdpass(r);

	/*
	 * One flush: a plain frame, two frames with descriptors, a plain
	 * one.  Each descriptor must land on its own frame.
	 */
	ck_assert_int_eq(ipcbuf_compose(s, T_TYPE, 1, -1, "a", 1), 0);
	ck_assert_int_eq(ipcbuf_compose(s, IPC_SN_CONNECTED, 2, p1[1],
	    "b", 1), 0);
	ck_assert_int_eq(ipcbuf_compose(s, IPC_SN_CONNECTED, 3, p2[1],
	    "c", 1), 0);
	ck_assert_int_eq(ipcbuf_compose(s, T_TYPE, 4, -1, "d", 1), 0);
	ck_assert_int_eq(ipcbuf_flush(s), 1);
	ck_assert_uint_eq(ipcbuf_queued(s), 0);
	/* Our copies went with the frames. */
	ck_assert_int_eq(fcntl(p1[1], F_GETFD), -1);
	ck_assert_int_eq(fcntl(p2[1], F_GETFD), -1);

	for (i = 1; i <= 4; i++) {
		struct ipcmsg	*mm;
		int		 got;

		/* Bounded: one read per frame is the worst case. */
		while ((got = ipcbuf_get(r, &mm)) == 0)
			ck_assert_int_eq(ipcbuf_read(r), 1);
		ck_assert_int_eq(got, 1);
		ck_assert_uint_eq(ipc_get_id(mm), (uint32_t)i);
		if (i == 1 || i == 4) {
			ck_assert_uint_eq(ipc_get_flags(mm), 0);
			ck_assert_int_eq(ipc_get_fd(mm), -1);
			ipc_free(mm);
			continue;
		}
		ck_assert_uint_eq(ipc_get_flags(mm), IPC_F_FD);
		fd = ipc_get_fd(mm);
		ck_assert_int_ne(fd, -1);
		ck_assert_int_eq(ipc_get_fd(mm), -1);
		ipc_free(mm);
		ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
		/* It is the write end of the right pipe. */
		c = (char)('0' + i);
		ck_assert_int_eq(write(fd, &c, 1), 1);
		close(fd);
		c = 0;
		ck_assert_int_eq(read(i == 2 ? p1[0] : p2[0], &c, 1), 1);
		ck_assert_int_eq(c, '0' + i);
	}
	ck_assert_int_eq(ipcbuf_get(r, &m), 0);

	/* A frame freed without taking its descriptor closes it. */
	close(p1[0]);
	ck_assert_int_eq(pipe(p1), 0);
	ck_assert_int_eq(ipcbuf_compose(s, IPC_SN_CONNECTED, 5, p1[1],
	    NULL, 0), 0);
	ck_assert_int_eq(ipcbuf_flush(s), 1);
	m = t_read_one(r);
	ck_assert_uint_eq(ipc_get_flags(m), IPC_F_FD);
	ipc_free(m);
	/* Every write end is gone: the read end sees EOF. */
	ck_assert_int_eq(read(p1[0], &c, 1), 0);

	close(p1[0]);
	close(p2[0]);
	ipcbuf_free(s);
	ipcbuf_free(r);
	t_close_pair(sv);
	ck_assert_int_eq(t_count_fds(), before);
}
END_TEST

START_TEST(test_ipc_fd_not_allowed)
{
	unsigned char	 wire[64];
	struct ipcbuf	*b;
	struct ipcmsg	*m;
	size_t		 n;
	int		 sv[2], fd, before;

	before = t_count_fds();
	t_pair(sv);
	ck_assert_ptr_nonnull(b = ipcbuf_new(sv[1], T_MAX));
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ne(fd, -1);
	n = t_frame(wire, IPC_SN_CONNECTED, 16, 0, IPC_F_FD, NULL, 0);
	t_sendfds(sv[0], wire, n, &fd, 1);
	close(fd);

	errno = 0;
	ck_assert_int_eq(ipcbuf_read(b), -1);
	ck_assert_int_eq(errno, EBADMSG);
	ck_assert_int_eq(ipcbuf_get(b, &m), -1);
	ck_assert_int_eq(errno, EBADMSG);
	/* Closed on receipt, not merely at ipcbuf_free. */
	ck_assert_int_eq(t_count_fds(), before + 2);
	ipcbuf_free(b);

	/* The sending side refuses too, and still takes the descriptor. */
	ck_assert_ptr_nonnull(b = ipcbuf_new(sv[0], T_MAX));
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	errno = 0;
	ck_assert_int_eq(ipcbuf_compose(b, T_TYPE, 0, fd, NULL, 0), -1);
	ck_assert_int_eq(errno, EBADF);
	ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
	ck_assert_uint_eq(ipcbuf_queued(b), 0);
	ipcbuf_free(b);

	t_close_pair(sv);
	ck_assert_int_eq(t_count_fds(), before);
}
END_TEST

START_TEST(test_ipc_two_fds)
{
	unsigned char	 wire[64];
	struct ipcbuf	*b;
	struct ipcmsg	*m;
	size_t		 n;
	int		 sv[2], fds[2], before;

	before = t_count_fds();
	t_pair(sv);
	ck_assert_ptr_nonnull(b = ipcbuf_new(sv[1], T_MAX));
	ipcbuf_allow_fdpass(b);
	fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	fds[1] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	n = t_frame(wire, IPC_SN_CONNECTED, 16, 0, IPC_F_FD, NULL, 0);
	t_sendfds(sv[0], wire, n, fds, 2);
	close(fds[0]);
	close(fds[1]);

	errno = 0;
	ck_assert_int_eq(ipcbuf_read(b), -1);
	ck_assert_int_eq(errno, EBADMSG);
	/* The extra is closed at once; the first waits for ipcbuf_free. */
	ck_assert_int_eq(t_count_fds(), before + 3);
	ck_assert_int_eq(ipcbuf_get(b, &m), -1);
	ipcbuf_free(b);
	t_close_pair(sv);
	ck_assert_int_eq(t_count_fds(), before);
}
END_TEST

/*
 * Descriptors per direction: a channel that only sends them (the
 * supervisor's end towards the net-worker) refuses and closes any it
 * receives, even one its frame announces; one that only receives cannot
 * send any.
 */
START_TEST(test_ipc_fd_direction)
{
	unsigned char	 wire[64];
	struct ipcbuf	*b;
	struct ipcmsg	*m;
	size_t		 n;
	int		 sv[2], fd, before;

	before = t_count_fds();
	t_pair(sv);
	ck_assert_ptr_nonnull(b = ipcbuf_new(sv[1], T_MAX));
	ipcbuf_allow_fdsend(b);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	n = t_frame(wire, IPC_NS_STATE, 16, 0, IPC_F_FD, NULL, 0);
	t_sendfds(sv[0], wire, n, &fd, 1);
	close(fd);
	errno = 0;
	ck_assert_int_eq(ipcbuf_read(b), -1);
	ck_assert_int_eq(errno, EBADMSG);
	ck_assert_int_eq(t_count_fds(), before + 2);	/* the pair only */
	ck_assert_int_eq(ipcbuf_get(b, &m), -1);
	/* Sending still works. */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ck_assert_int_eq(ipcbuf_compose(b, T_TYPE, 1, fd, NULL, 0), 0);
	ipcbuf_free(b);

	ck_assert_ptr_nonnull(b = ipcbuf_new(sv[1], T_MAX));
	ipcbuf_allow_fdrecv(b);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	errno = 0;
	ck_assert_int_eq(ipcbuf_compose(b, T_TYPE, 1, fd, NULL, 0), -1);
	ck_assert_int_eq(errno, EBADF);
	ipcbuf_free(b);
	t_close_pair(sv);
	ck_assert_int_eq(t_count_fds(), before);
}
END_TEST

START_TEST(test_ipc_fd_mismatch)
{
	unsigned char	 wire[128];
	struct ipcbuf	*b;
	struct ipcmsg	*m;
	size_t		 n;
	int		 sv[2], fd, before;

	before = t_count_fds();

	/* IPC_F_FD, but nothing rode along. */
	t_pair(sv);
	ck_assert_ptr_nonnull(b = ipcbuf_new(sv[1], T_MAX));
	ipcbuf_allow_fdpass(b);
	n = t_frame(wire, IPC_SN_CONNECTED, 16, 0, IPC_F_FD, NULL, 0);
	t_write(sv[0], wire, n);
	ck_assert_int_eq(ipcbuf_read(b), 1);
	errno = 0;
	ck_assert_int_eq(ipcbuf_get(b, &m), -1);
	ck_assert_int_eq(errno, EBADMSG);
	ipcbuf_free(b);
	t_close_pair(sv);

	/* A descriptor that its frame does not claim. */
	t_pair(sv);
	ck_assert_ptr_nonnull(b = ipcbuf_new(sv[1], T_MAX));
	ipcbuf_allow_fdpass(b);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	n = t_frame(wire, T_TYPE, 16, 1, 0, NULL, 0);
	t_sendfds(sv[0], wire, n, &fd, 1);
	close(fd);
	n = t_frame(wire, T_TYPE, 16, 2, 0, NULL, 0);
	t_write(sv[0], wire, n);
	ck_assert_int_eq(ipcbuf_read(b), 1);
	ck_assert_int_eq(ipcbuf_get(b, &m), 1);
	ck_assert_uint_eq(ipc_get_id(m), 1);
	ipc_free(m);
	errno = 0;
	ck_assert_int_eq(ipcbuf_get(b, &m), -1);
	ck_assert_int_eq(errno, EBADMSG);
	ipcbuf_free(b);
	t_close_pair(sv);

	/* A later frame cannot claim a descriptor sent with an earlier one. */
	t_pair(sv);
	ck_assert_ptr_nonnull(b = ipcbuf_new(sv[1], T_MAX));
	ipcbuf_allow_fdpass(b);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	n = t_frame(wire, T_TYPE, 16, 1, 0, NULL, 0);
	t_sendfds(sv[0], wire, n, &fd, 1);
	close(fd);
	ck_assert_int_eq(ipcbuf_read(b), 1);
	n = t_frame(wire, IPC_SN_CONNECTED, 16, 2, IPC_F_FD, NULL, 0);
	t_write(sv[0], wire, n);
	ck_assert_int_eq(ipcbuf_read(b), 1);
	ck_assert_int_eq(ipcbuf_get(b, &m), 1);
	ipc_free(m);
	ck_assert_int_eq(ipcbuf_get(b, &m), -1);
	ck_assert_int_eq(errno, EBADMSG);
	ipcbuf_free(b);
	t_close_pair(sv);

	ck_assert_int_eq(t_count_fds(), before);
}
END_TEST

START_TEST(test_ipc_eof_mid_frame)
{
	unsigned char	 wire[64];
	struct ipcbuf	*b;
	struct ipcmsg	*m;
	size_t		 n;
	int		 sv[2];

	t_pair(sv);
	ck_assert_ptr_nonnull(b = ipcbuf_new(sv[1], T_MAX));
	n = t_frame(wire, T_TYPE, 16 + 8, 0, 0, "12345678", 8);
	t_write(sv[0], wire, n - 3);
	close(sv[0]);
	sv[0] = -1;
	ck_assert_int_eq(ipcbuf_read(b), 1);
	ck_assert_int_eq(ipcbuf_get(b, &m), 0);
	ck_assert_int_eq(ipcbuf_partial(b), 0);
	ck_assert_int_eq(ipcbuf_read(b), 0);
	ck_assert_int_eq(ipcbuf_partial(b), 1);
	ipcbuf_free(b);
	t_close_pair(sv);

	/* A clean EOF between frames is not partial. */
	t_pair(sv);
	ck_assert_ptr_nonnull(b = ipcbuf_new(sv[1], T_MAX));
	t_write(sv[0], wire, n);
	close(sv[0]);
	sv[0] = -1;
	ck_assert_int_eq(ipcbuf_read(b), 1);
	ck_assert_int_eq(ipcbuf_get(b, &m), 1);
	ipc_free(m);
	ck_assert_int_eq(ipcbuf_read(b), 0);
	ck_assert_int_eq(ipcbuf_partial(b), 0);
	ipcbuf_free(b);
	t_close_pair(sv);
}
END_TEST

START_TEST(test_ipc_epipe)
{
	struct ipcbuf	*b;
	int		 sv[2];

	/* SIGPIPE keeps its default action: raised, it ends this test. */
	t_pair(sv);
	ck_assert_ptr_nonnull(b = ipcbuf_new(sv[0], T_MAX));
	ck_assert_int_eq(ipcbuf_compose(b, T_TYPE, 0, -1, "x", 1), 0);
	close(sv[1]);
	sv[1] = -1;
	errno = 0;
	ck_assert_int_eq(ipcbuf_flush(b), -1);
	ck_assert_int_eq(errno, EPIPE);
	ck_assert_uint_eq(ipcbuf_queued(b), 17);
	ipcbuf_free(b);
	t_close_pair(sv);
}
END_TEST

START_TEST(test_ipc_backpressure)
{
	char		 payload[1000];
	struct ipcbuf	*s, *r;
	struct ipcmsg	*m;
	uint32_t	 sent = 0, got = 0;
	int		 sv[2], sndbuf = 8192, i, full = 0, fr, rr, error = 0;
	double		 t0;

	t_pair(sv);
	ck_assert_int_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf,
	    sizeof(sndbuf)), 0);
	ck_assert_ptr_nonnull(s = ipcbuf_new(sv[0], T_MAX));
	ck_assert_ptr_nonnull(r = ipcbuf_new(sv[1], T_MAX));
	ipcbuf_set_highwater(s, 64 * 1024);

	/* The peer does not read: the kernel fills, then our queue. */
	for (i = 0; i < 100000; i++) {
		memset(payload, (int)(sent & 0xff), sizeof(payload));
		if (ipcbuf_compose(s, T_TYPE, sent, -1, payload,
		    sizeof(payload)) == -1) {
			error = errno;
			break;
		}
		sent++;
		if ((fr = ipcbuf_flush(s)) == 0)
			full = 1;
		ck_assert_int_ne(fr, -1);
	}
	ck_assert_int_lt(i, 100000);
	ck_assert_int_eq(error, ENOBUFS);
	ck_assert_int_eq(full, 1);
	ck_assert_uint_gt(ipcbuf_queued(s), 64 * 1024);
	/* Refusal queued nothing. */
	ck_assert_uint_le(ipcbuf_queued(s), 64 * 1024 + 1016);

	/* Drain: every frame arrives, once, in order. */
	t0 = t_now();
	while (got < sent) {
		ck_assert_msg(t_now() - t0 < T_GUARD_S, "drain timed out");
		fr = ipcbuf_flush(s);
		ck_assert_int_ne(fr, -1);
		rr = ipcbuf_read(r);
		ck_assert_msg(rr == 1 || (rr == -1 && errno == EAGAIN),
		    "read %d", rr);
		while (ipcbuf_get(r, &m) == 1) {
			ck_assert_uint_eq(ipc_get_id(m), got);
			ck_assert_uint_eq(ipc_get_len(m), sizeof(payload));
			memset(payload, (int)(got & 0xff), sizeof(payload));
			ck_assert_mem_eq(ipc_get_ptr(m), payload,
			    sizeof(payload));
			ipc_free(m);
			got++;
		}
	}
	ck_assert_uint_eq(got, sent);
	ck_assert_int_eq(ipcbuf_flush(s), 1);
	ck_assert_uint_eq(ipcbuf_queued(s), 0);
	ck_assert_int_eq(ipcbuf_read(r), -1);
	ck_assert_int_eq(errno, EAGAIN);
	/* Below the mark again: composing works. */
	ck_assert_int_eq(ipcbuf_compose(s, T_TYPE, 0, -1, NULL, 0), 0);

	ipcbuf_free(s);
	ipcbuf_free(r);
	t_close_pair(sv);
}
END_TEST

START_TEST(test_ipc_composev)
{
	char		 big[T_MAX];
	struct iovec	 iov[4];
	struct ipcbuf	*s, *r;
	struct ipcmsg	*m;
	int		 sv[2];

	t_pair(sv);
	ck_assert_ptr_nonnull(s = ipcbuf_new(sv[0], T_MAX));
	ck_assert_ptr_nonnull(r = ipcbuf_new(sv[1], T_MAX));
	iov[0].iov_base = "head:";
	iov[0].iov_len = 5;
	iov[1].iov_base = NULL;
	iov[1].iov_len = 0;
	iov[2].iov_base = "body";
	iov[2].iov_len = 4;
	iov[3].iov_base = ":tail";
	iov[3].iov_len = 6;	/* with the NUL */
	ck_assert_int_eq(ipcbuf_composev(s, T_TYPE, 42, -1, iov, 4), 0);
	ck_assert_uint_eq(ipcbuf_queued(s), 16 + 15);
	ck_assert_int_eq(ipcbuf_flush(s), 1);
	m = t_read_one(r);
	ck_assert_uint_eq(ipc_get_id(m), 42);
	ck_assert_uint_eq(ipc_get_len(m), 15);
	ck_assert_str_eq(ipc_get_string(m), "head:body:tail");
	ipc_free(m);

	/* The header counts towards maxsize. */
	memset(big, 'z', sizeof(big));
	iov[0].iov_base = big;
	iov[0].iov_len = T_MAX - 16 - 100;
	iov[1].iov_base = big;
	iov[1].iov_len = 100;
	ck_assert_int_eq(ipcbuf_composev(s, T_TYPE, 1, -1, iov, 2), 0);
	iov[1].iov_len = 101;
	errno = 0;
	ck_assert_int_eq(ipcbuf_composev(s, T_TYPE, 2, -1, iov, 2), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	errno = 0;
	ck_assert_int_eq(ipcbuf_compose(s, T_TYPE, 3, -1, big,
	    T_MAX - 15), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_uint_eq(ipcbuf_queued(s), T_MAX);
	ck_assert_int_eq(ipcbuf_flush(s), 1);
	m = t_read_one(r);
	ck_assert_uint_eq(ipc_get_id(m), 1);
	ck_assert_uint_eq(ipc_get_len(m), T_MAX - 16);
	ipc_free(m);
	ck_assert_int_eq(ipcbuf_get(r, &m), 0);

	ipcbuf_free(s);
	ipcbuf_free(r);
	t_close_pair(sv);
}
END_TEST

START_TEST(test_ipc_feed)
{
	unsigned char	 wire[64];
	struct ipcbuf	*b;
	struct ipcmsg	*m;
	size_t		 n;

	ck_assert_ptr_nonnull(b = ipcbuf_new(-1, 32));
	n = t_frame(wire, T_TYPE, 16 + 4, 3, 0, "abc", 4);
	n += t_frame(wire + n, T_TYPE, 16 + 4, 4, 0, "def", 4);
	/* 40 bytes, room for 32: the rest waits until a frame is taken. */
	ck_assert_uint_eq(ipcbuf_feed(b, wire, n), 32);
	ck_assert_int_eq(ipcbuf_get(b, &m), 1);
	ck_assert_str_eq(ipc_get_string(m), "abc");
	ipc_free(m);
	ck_assert_int_eq(ipcbuf_get(b, &m), 0);
	ck_assert_uint_eq(ipcbuf_feed(b, wire + 32, n - 32), n - 32);
	ck_assert_int_eq(ipcbuf_get(b, &m), 1);
	ck_assert_str_eq(ipc_get_string(m), "def");
	ipc_free(m);
	ck_assert_int_eq(ipcbuf_get(b, &m), 0);
	ipcbuf_free(b);
}
END_TEST

/* ---------------------------------------------------------------- */
/* ipcev */

struct t_peer {
	struct ev_loop	*loop;
	struct ipcev	*iev;
	int		 nframes;	/* non-NULL dispatches */
	uint32_t	 types[32];
	uint32_t	 ids[32];
	int		 nnull;		/* dispatch(NULL) calls */
	int		 want;		/* break after this many frames */
	int		 drop_at;	/* ipcev_drop at this frame (1-based) */
	int		 close_at;	/* ipcev_close at this frame */
	int		 free_on_null;	/* free(iev) in dispatch(NULL) */
	int		 reinit_fd;	/* ipcev_init on this fd at NULL */
	int		 after_close;	/* frames seen after closing */
	int		 closed;
};

static int	t_timed_out;

static void
t_guard_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	t_timed_out = 1;
	ev_break(loop, EVBREAK_ALL);
}

/*
 * Run until something calls ev_break (flags 0) or for one iteration
 * (EVRUN_ONCE); 0, or -1 when the guard fired.
 */
static int
t_run_flags(struct ev_loop *loop, int flags)
{
	ev_timer	 guard;

	t_timed_out = 0;
	ev_timer_init(&guard, t_guard_cb, T_GUARD_S, 0.);
	ev_timer_start(loop, &guard);
	ev_run(loop, flags);
	ev_timer_stop(loop, &guard);
	return t_timed_out ? -1 : 0;
}

static int
t_run(struct ev_loop *loop)
{
	return t_run_flags(loop, 0);
}

static void
t_dispatch(struct ipcev *iev, struct ipcmsg *m)
{
	struct t_peer	*p = iev->data;

	if (m == NULL) {
		p->nnull++;
		if (p->free_on_null)
			free(iev);
		else if (p->reinit_fd != -1) {
			ipcev_init(iev, p->loop, p->reinit_fd, T_MAX,
			    "reinit", t_dispatch, p);
			p->reinit_fd = -1;
			return;
		}
		ev_break(p->loop, EVBREAK_ALL);
		return;
	}
	if (p->closed)
		p->after_close++;
	if (p->nframes < (int)nitems(p->types)) {
		p->types[p->nframes] = ipc_get_type(m);
		p->ids[p->nframes] = ipc_get_id(m);
	}
	p->nframes++;
	if (p->drop_at == p->nframes) {
		p->closed = 1;
		ipcev_drop(iev, "test drop at frame %d", p->nframes);
		return;
	}
	if (p->close_at == p->nframes) {
		p->closed = 1;
		ipcev_close(iev);
		ev_break(p->loop, EVBREAK_ALL);
		return;
	}
	if (p->want != 0 && p->nframes >= p->want)
		ev_break(p->loop, EVBREAK_ALL);
}

static void
t_peer_init(struct t_peer *p, struct ev_loop *loop, struct ipcev *iev)
{
	memset(p, 0, sizeof(*p));
	p->loop = loop;
	p->iev = iev;
	p->reinit_fd = -1;
}

/* Raw far end: compose and push synchronously. */
static void
t_far_send(struct ipcbuf *far, uint32_t type, uint32_t id, const void *data,
    size_t len)
{
	ck_assert_int_eq(ipcbuf_compose(far, type, id, -1, data, len), 0);
}

static void
t_far_hello(struct ipcbuf *far, uint32_t version)
{
	struct ipc_hello	 h;

	memset(&h, 0, sizeof(h));
	h.version = version;
	h.role = IPC_ROLE_NET;
	h.pid = 4242;
	t_far_send(far, IPC_HELLO, 0, &h, sizeof(h));
}

static void
t_far_flush(struct ipcbuf *far)
{
	ck_assert_int_eq(ipcbuf_flush(far), 1);
}

/* The far end sees the channel closed: EOF, with nothing after it. */
static void
t_far_eof(struct ipcbuf *far)
{
	struct ipcmsg	*m;
	int		 r, i;

	for (i = 0; i < 100; i++) {
		if ((r = ipcbuf_read(far)) != 1)
			break;
		while (ipcbuf_get(far, &m) == 1)
			ipc_free(m);
	}
	ck_assert_int_eq(r, 0);
}

START_TEST(test_ipcev_hello_exchange)
{
	struct ev_loop	*loop;
	struct ipcev	 a, b;
	struct t_peer	 pa, pb;
	int		 sv[2], i;

	ck_assert_ptr_nonnull(loop = ev_loop_new(EVFLAG_AUTO));
	t_pair(sv);
	t_peer_init(&pa, loop, &a);
	t_peer_init(&pb, loop, &b);
	ipcev_init(&a, loop, sv[0], T_MAX, "a", t_dispatch, &pa);
	ipcev_init(&b, loop, sv[1], T_MAX, "b", t_dispatch, &pb);
	ck_assert_int_eq(ipcev_active(&a), 1);
	ck_assert_int_eq(ipcev_hello(&a, IPC_ROLE_NET), 0);
	ck_assert_int_eq(ipcev_hello(&b, IPC_ROLE_EXEC), 0);
	for (i = 1; i <= 3; i++)
		ck_assert_int_eq(ipcev_compose(&a, T_TYPE, (uint32_t)i, -1,
		    NULL, 0), 0);
	pb.want = 4;
	ck_assert_int_eq(t_run(loop), 0);
	if (pa.nframes < 1) {
		pa.want = 1;
		ck_assert_int_eq(t_run(loop), 0);
	}

	ck_assert_int_eq(pb.nframes, 4);
	ck_assert_uint_eq(pb.types[0], IPC_HELLO);
	for (i = 1; i <= 3; i++) {
		ck_assert_uint_eq(pb.types[i], T_TYPE);
		ck_assert_uint_eq(pb.ids[i], (uint32_t)i);
	}
	ck_assert_int_eq(b.hello, 1);
	ck_assert_uint_eq(b.peer_role, IPC_ROLE_NET);
	ck_assert_uint_eq(b.peer_pid, (uint32_t)getpid());
	ck_assert_int_eq(pa.nframes, 1);
	ck_assert_uint_eq(pa.types[0], IPC_HELLO);
	ck_assert_int_eq(a.hello, 1);
	ck_assert_uint_eq(a.peer_role, IPC_ROLE_EXEC);
	ck_assert_int_eq(pa.nnull + pb.nnull, 0);

	ipcev_close(&a);
	ipcev_close(&b);
	ck_assert_int_eq(ipcev_active(&a), 0);
	/* Closing twice, or dropping a closed channel, does nothing. */
	ipcev_close(&a);
	ipcev_drop(&b, "again");
	ck_assert_int_eq(pb.nnull, 0);
	ev_loop_destroy(loop);
}
END_TEST

/* The role the receiving end expects; 0: any. */
static uint32_t	t_expect_role;

/* A far end that says something, and the drop it must cause. */
static void
t_expect_drop(void (*say)(struct ipcbuf *), int want_frames)
{
	struct ev_loop	*loop;
	struct ipcev	 b;
	struct ipcbuf	*far;
	struct t_peer	 pb;
	int		 sv[2];

	ck_assert_ptr_nonnull(loop = ev_loop_new(EVFLAG_AUTO));
	t_pair(sv);
	t_peer_init(&pb, loop, &b);
	ipcev_init(&b, loop, sv[1], T_MAX, "b", t_dispatch, &pb);
	ipcev_expect_role(&b, t_expect_role);
	ck_assert_ptr_nonnull(far = ipcbuf_new(sv[0], T_MAX));
	say(far);
	t_far_flush(far);

	ck_assert_int_eq(t_run(loop), 0);
	ck_assert_int_eq(pb.nnull, 1);
	ck_assert_int_eq(pb.nframes, want_frames);
	ck_assert_int_eq(ipcev_active(&b), 0);
	/* No second dispatch(NULL), whatever else happens. */
	ev_run(loop, EVRUN_NOWAIT);
	ipcev_drop(&b, "again");
	ck_assert_int_eq(pb.nnull, 1);
	t_far_eof(far);

	ipcbuf_free(far);
	close(sv[0]);
	ev_loop_destroy(loop);
}

static void
t_say_not_hello(struct ipcbuf *far)
{
	t_far_send(far, T_TYPE, 1, NULL, 0);
	t_far_hello(far, IPC_VERSION);
}

static void
t_say_wrong_version(struct ipcbuf *far)
{
	t_far_hello(far, IPC_VERSION + 1);
	t_far_send(far, T_TYPE, 1, NULL, 0);
}

static void
t_say_short_hello(struct ipcbuf *far)
{
	t_far_send(far, IPC_HELLO, 0, "\1\0\0\0", 4);
}

static void
t_say_hello_twice(struct ipcbuf *far)
{
	t_far_hello(far, IPC_VERSION);
	t_far_send(far, T_TYPE, 1, NULL, 0);
	t_far_hello(far, IPC_VERSION);
	t_far_send(far, T_TYPE, 2, NULL, 0);
}

static void
t_say_bad_len(struct ipcbuf *far)
{
	t_far_hello(far, IPC_VERSION);
	/* A frame too big for the receiving channel. */
	t_far_send(far, T_TYPE, 1, NULL, 0);
	ck_assert_int_eq(ipcbuf_flush(far), 1);
	{
		unsigned char	 wire[16];

		t_frame(wire, T_TYPE, T_MAX + 1, 2, 0, NULL, 0);
		t_write(ipcbuf_fd(far), wire, sizeof(wire));
	}
}

START_TEST(test_ipcev_not_hello_first)
{
	t_expect_drop(t_say_not_hello, 0);
}
END_TEST

START_TEST(test_ipcev_version_mismatch)
{
	t_expect_drop(t_say_wrong_version, 0);
	t_expect_drop(t_say_short_hello, 0);
}
END_TEST

/* The far end says it is the net-worker; this channel expects exec. */
START_TEST(test_ipcev_wrong_role)
{
	t_expect_role = IPC_ROLE_EXEC;
	t_expect_drop(t_say_hello_twice, 0);
	t_expect_role = IPC_ROLE_SUP;
	t_expect_drop(t_say_hello_twice, 0);
	t_expect_role = 0;
}
END_TEST

START_TEST(test_ipcev_second_hello)
{
	t_expect_drop(t_say_hello_twice, 2);
}
END_TEST

START_TEST(test_ipcev_bad_frame)
{
	t_expect_drop(t_say_bad_len, 2);
}
END_TEST

START_TEST(test_ipcev_eof)
{
	struct ev_loop	*loop;
	struct ipcev	 b;
	struct ipcbuf	*far;
	struct t_peer	 pb;
	unsigned char	 wire[16];
	int		 sv[2], mid;

	for (mid = 0; mid <= 1; mid++) {
		ck_assert_ptr_nonnull(loop = ev_loop_new(EVFLAG_AUTO));
		t_pair(sv);
		t_peer_init(&pb, loop, &b);
		ipcev_init(&b, loop, sv[1], T_MAX, "b", t_dispatch, &pb);
		ck_assert_ptr_nonnull(far = ipcbuf_new(sv[0], T_MAX));
		t_far_hello(far, IPC_VERSION);
		t_far_send(far, T_TYPE, 1, NULL, 0);
		t_far_flush(far);
		if (mid) {
			t_frame(wire, T_TYPE, 32, 2, 0, NULL, 0);
			t_write(sv[0], wire, sizeof(wire));
		}
		ipcbuf_free(far);
		close(sv[0]);

		ck_assert_int_eq(t_run(loop), 0);
		ck_assert_int_eq(pb.nframes, 2);
		ck_assert_uint_eq(pb.types[0], IPC_HELLO);
		ck_assert_uint_eq(pb.types[1], T_TYPE);
		ck_assert_int_eq(pb.nnull, 1);
		ck_assert_int_eq(ipcev_active(&b), 0);
		ev_run(loop, EVRUN_NOWAIT);
		ck_assert_int_eq(pb.nnull, 1);
		ev_loop_destroy(loop);
	}
}
END_TEST

START_TEST(test_ipcev_drop_in_dispatch)
{
	struct ev_loop	*loop;
	struct ipcev	*b;
	struct ipcbuf	*far;
	struct t_peer	 pb;
	int		 sv[2], i;

	ck_assert_ptr_nonnull(loop = ev_loop_new(EVFLAG_AUTO));
	t_pair(sv);
	ck_assert_ptr_nonnull(b = calloc(1, sizeof(*b)));
	t_peer_init(&pb, loop, b);
	/* The owner frees the channel in dispatch(NULL). */
	pb.drop_at = 2;
	pb.free_on_null = 1;
	ipcev_init(b, loop, sv[1], T_MAX, "b", t_dispatch, &pb);
	ck_assert_ptr_nonnull(far = ipcbuf_new(sv[0], T_MAX));
	/* All in one write: the rest sits in the same read. */
	t_far_hello(far, IPC_VERSION);
	for (i = 1; i <= 5; i++)
		t_far_send(far, T_TYPE, (uint32_t)i, NULL, 0);
	t_far_flush(far);

	ck_assert_int_eq(t_run(loop), 0);
	ck_assert_int_eq(pb.nframes, 2);
	ck_assert_int_eq(pb.after_close, 0);
	ck_assert_int_eq(pb.nnull, 1);
	t_far_eof(far);

	ipcbuf_free(far);
	close(sv[0]);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(test_ipcev_close_in_dispatch)
{
	struct ev_loop	*loop;
	struct ipcev	 b;
	struct ipcbuf	*far;
	struct t_peer	 pb;
	int		 sv[2], i;

	ck_assert_ptr_nonnull(loop = ev_loop_new(EVFLAG_AUTO));
	t_pair(sv);
	t_peer_init(&pb, loop, &b);
	pb.close_at = 3;
	ipcev_init(&b, loop, sv[1], T_MAX, "b", t_dispatch, &pb);
	ck_assert_ptr_nonnull(far = ipcbuf_new(sv[0], T_MAX));
	t_far_hello(far, IPC_VERSION);
	for (i = 1; i <= 5; i++)
		t_far_send(far, T_TYPE, (uint32_t)i, NULL, 0);
	t_far_flush(far);

	ck_assert_int_eq(t_run(loop), 0);
	ck_assert_int_eq(pb.nframes, 3);
	ck_assert_int_eq(pb.after_close, 0);
	/* Quietly: no dispatch(NULL). */
	ck_assert_int_eq(pb.nnull, 0);
	ck_assert_int_eq(ipcev_active(&b), 0);
	t_far_eof(far);

	ipcbuf_free(far);
	close(sv[0]);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(test_ipcev_reinit_in_dispatch)
{
	struct ev_loop	*loop;
	struct ipcev	 b;
	struct ipcbuf	*far, *far2;
	struct t_peer	 pb;
	int		 sv[2], sv2[2], i;

	ck_assert_ptr_nonnull(loop = ev_loop_new(EVFLAG_AUTO));
	t_pair(sv);
	t_pair(sv2);
	t_peer_init(&pb, loop, &b);
	/* Dropped at frame 2; dispatch(NULL) reconnects on sv2. */
	pb.drop_at = 2;
	pb.reinit_fd = sv2[1];
	ipcev_init(&b, loop, sv[1], T_MAX, "b", t_dispatch, &pb);
	ck_assert_ptr_nonnull(far = ipcbuf_new(sv[0], T_MAX));
	ck_assert_ptr_nonnull(far2 = ipcbuf_new(sv2[0], T_MAX));
	t_far_hello(far, IPC_VERSION);
	for (i = 1; i <= 5; i++)
		t_far_send(far, T_TYPE, (uint32_t)i, NULL, 0);
	t_far_flush(far);
	/* The new peer has spoken already; the old one's rest is lost. */
	t_far_hello(far2, IPC_VERSION);
	t_far_send(far2, T_TYPE, 100, NULL, 0);
	t_far_flush(far2);

	pb.want = 4;
	ck_assert_int_eq(t_run(loop), 0);
	ck_assert_int_eq(pb.nnull, 1);
	ck_assert_int_eq(pb.nframes, 4);
	ck_assert_uint_eq(pb.types[2], IPC_HELLO);
	ck_assert_uint_eq(pb.ids[3], 100);
	ck_assert_int_eq(ipcev_active(&b), 1);
	ck_assert_int_eq(b.fd, sv2[1]);
	t_far_eof(far);

	ipcev_close(&b);
	t_far_eof(far2);
	ipcbuf_free(far);
	ipcbuf_free(far2);
	close(sv[0]);
	close(sv2[0]);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(test_ipcev_write_armed)
{
	char		 payload[1000];
	struct ev_loop	*loop;
	struct ipcev	 a;
	struct ipcbuf	*far;
	struct ipcmsg	*m;
	struct t_peer	 pa;
	int		 sv[2], sndbuf = 8192, i, got = 0, r;
	double		 t0;

	ck_assert_ptr_nonnull(loop = ev_loop_new(EVFLAG_AUTO));
	t_pair(sv);
	ck_assert_int_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf,
	    sizeof(sndbuf)), 0);
	t_peer_init(&pa, loop, &a);
	ipcev_init(&a, loop, sv[0], T_MAX, "a", t_dispatch, &pa);
	ck_assert_ptr_nonnull(far = ipcbuf_new(sv[1], T_MAX));
	ck_assert_int_eq(a.events, EV_READ);
	ck_assert_int_eq(a.io.events & (EV_READ | EV_WRITE), EV_READ);

	ck_assert_int_eq(ipcev_hello(&a, IPC_ROLE_SUP), 0);
	ck_assert_int_eq(a.events, EV_READ | EV_WRITE);
	ck_assert_int_eq(a.io.events & (EV_READ | EV_WRITE),
	    EV_READ | EV_WRITE);
	ck_assert_int_eq(ev_is_active(&a.io), 1);
	/* One iteration writes it all and disarms. */
	ck_assert_int_eq(t_run_flags(loop, EVRUN_ONCE), 0);
	ck_assert_uint_eq(ipcbuf_queued(a.buf), 0);
	ck_assert_int_eq(a.events, EV_READ);
	ck_assert_int_eq(a.io.events & (EV_READ | EV_WRITE), EV_READ);
	ck_assert_int_eq(ev_is_active(&a.io), 1);

	/* The far end does not read: still armed after the loop ran. */
	memset(payload, 'p', sizeof(payload));
	for (i = 0; i < 64; i++)
		ck_assert_int_eq(ipcev_compose(&a, T_TYPE, (uint32_t)i, -1,
		    payload, sizeof(payload)), 0);
	ev_run(loop, EVRUN_NOWAIT);
	ck_assert_uint_gt(ipcbuf_queued(a.buf), 0);
	ck_assert_int_eq(a.events, EV_READ | EV_WRITE);

	/* Drain the far end until everything arrived, then disarmed. */
	t0 = t_now();
	ck_assert_int_eq(ipcbuf_read(far), 1);
	while (got < 65) {
		ck_assert_msg(t_now() - t0 < T_GUARD_S, "drain timed out");
		while (ipcbuf_get(far, &m) == 1) {
			ipc_free(m);
			got++;
		}
		ev_run(loop, EVRUN_NOWAIT);
		r = ipcbuf_read(far);
		ck_assert(r == 1 || (r == -1 && errno == EAGAIN));
	}
	ck_assert_uint_eq(ipcbuf_queued(a.buf), 0);
	ck_assert_int_eq(a.events, EV_READ);
	ck_assert_int_eq(a.io.events & (EV_READ | EV_WRITE), EV_READ);

	ipcev_close(&a);
	ipcbuf_free(far);
	close(sv[1]);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(test_ipcev_compose_fails)
{
	char		 big[T_MAX];
	struct ev_loop	*loop;
	struct ipcev	 a;
	struct ipcbuf	*far;
	struct t_peer	 pa;
	int		 sv[2], fd;

	ck_assert_ptr_nonnull(loop = ev_loop_new(EVFLAG_AUTO));
	t_pair(sv);
	t_peer_init(&pa, loop, &a);
	ipcev_init(&a, loop, sv[0], T_MAX, "a", t_dispatch, &pa);
	ck_assert_ptr_nonnull(far = ipcbuf_new(sv[1], T_MAX));
	memset(big, 0, sizeof(big));
	errno = 0;
	ck_assert_int_eq(ipcev_compose(&a, T_TYPE, 0, -1, big, sizeof(big)),
	    -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_int_eq(pa.nnull, 1);
	ck_assert_int_eq(ipcev_active(&a), 0);
	t_far_eof(far);

	/* A closed channel refuses, takes the fd, and stays quiet. */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	errno = 0;
	ck_assert_int_eq(ipcev_compose(&a, T_TYPE, 0, fd, NULL, 0), -1);
	ck_assert_int_eq(errno, EPIPE);
	ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
	ck_assert_int_eq(pa.nnull, 1);
	ck_assert_int_eq(ipcev_flush_sync(&a, 10), -1);
	ipcbuf_free(far);
	close(sv[1]);

	/* An fd on a channel without fd passing drops it too. */
	t_pair(sv);
	t_peer_init(&pa, loop, &a);
	ipcev_init(&a, loop, sv[0], T_MAX, "a", t_dispatch, &pa);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	errno = 0;
	ck_assert_int_eq(ipcev_compose(&a, T_TYPE, 0, fd, NULL, 0), -1);
	ck_assert_int_eq(errno, EBADF);
	ck_assert_int_eq(pa.nnull, 1);
	ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
	close(sv[1]);

	/* Above the high-water mark: backpressure drops the peer. */
	t_pair(sv);
	t_peer_init(&pa, loop, &a);
	ipcev_init(&a, loop, sv[0], T_MAX, "a", t_dispatch, &pa);
	ipcbuf_set_highwater(a.buf, 10);
	ck_assert_int_eq(ipcev_compose(&a, T_TYPE, 0, -1, NULL, 0), 0);
	errno = 0;
	ck_assert_int_eq(ipcev_compose(&a, T_TYPE, 0, -1, NULL, 0), -1);
	ck_assert_int_eq(errno, ENOBUFS);
	ck_assert_int_eq(pa.nnull, 1);
	close(sv[1]);

	ev_loop_destroy(loop);
}
END_TEST

START_TEST(test_ipcev_flush_sync)
{
	char		 payload[1000];
	struct ev_loop	*loop;
	struct ipcev	 a;
	struct ipcbuf	*far;
	struct ipcmsg	*m;
	struct t_peer	 pa;
	int		 sv[2], sndbuf = 8192, i, got = 0;
	double		 t0, dt;

	ck_assert_ptr_nonnull(loop = ev_loop_new(EVFLAG_AUTO));
	t_pair(sv);
	t_peer_init(&pa, loop, &a);
	ipcev_init(&a, loop, sv[0], T_MAX, "a", t_dispatch, &pa);
	ck_assert_ptr_nonnull(far = ipcbuf_new(sv[1], T_MAX));
	ck_assert_int_eq(ipcev_hello(&a, IPC_ROLE_SUP), 0);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(ipcev_compose(&a, T_TYPE, (uint32_t)i, -1,
		    "x", 1), 0);
	ck_assert_int_eq(ipcev_flush_sync(&a, 1000), 0);
	ck_assert_uint_eq(ipcbuf_queued(a.buf), 0);
	ck_assert_int_eq(a.events, EV_READ);
	ck_assert_int_eq(ipcbuf_read(far), 1);
	while (ipcbuf_get(far, &m) == 1) {
		ipc_free(m);
		got++;
	}
	ck_assert_int_eq(got, 4);
	ipcev_close(&a);
	ipcbuf_free(far);
	close(sv[1]);

	/* A peer that never reads: the deadline holds. */
	t_pair(sv);
	ck_assert_int_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf,
	    sizeof(sndbuf)), 0);
	t_peer_init(&pa, loop, &a);
	ipcev_init(&a, loop, sv[0], T_MAX, "a", t_dispatch, &pa);
	memset(payload, 'q', sizeof(payload));
	for (i = 0; i < 256; i++)
		ck_assert_int_eq(ipcev_compose(&a, T_TYPE, (uint32_t)i, -1,
		    payload, sizeof(payload)), 0);
	t0 = t_now();
	errno = 0;
	ck_assert_int_eq(ipcev_flush_sync(&a, 200), -1);
	dt = t_now() - t0;
	ck_assert_int_eq(errno, ETIMEDOUT);
	ck_assert_msg(dt >= 0.15 && dt < 2.0, "flush_sync took %.3fs", dt);
	ck_assert_uint_gt(ipcbuf_queued(a.buf), 0);
	ck_assert_int_eq(pa.nnull, 0);
	ipcev_close(&a);
	close(sv[1]);

	ev_loop_destroy(loop);
}
END_TEST

Suite *
ipc_suite(void)
{
	/* START_TEST makes pointer variables, not constants: no static. */
	const struct {
		const char	*name;
		const TTest	*test;
	} tests[] = {
		{ "byte_at_a_time", test_ipc_byte_at_a_time },
		{ "coalesced", test_ipc_coalesced },
		{ "bad_len", test_ipc_bad_len },
		{ "get_data_exact", test_ipc_get_data_exact },
		{ "get_string", test_ipc_get_string },
		{ "fdpass", test_ipc_fdpass },
		{ "fd_not_allowed", test_ipc_fd_not_allowed },
		{ "two_fds", test_ipc_two_fds },
		{ "fd_direction", test_ipc_fd_direction },
		{ "fd_mismatch", test_ipc_fd_mismatch },
		{ "eof_mid_frame", test_ipc_eof_mid_frame },
		{ "epipe", test_ipc_epipe },
		{ "backpressure", test_ipc_backpressure },
		{ "composev", test_ipc_composev },
		{ "feed", test_ipc_feed },
		{ "ev_hello_exchange", test_ipcev_hello_exchange },
		{ "ev_not_hello_first", test_ipcev_not_hello_first },
		{ "ev_version_mismatch", test_ipcev_version_mismatch },
		{ "ev_second_hello", test_ipcev_second_hello },
		{ "ev_wrong_role", test_ipcev_wrong_role },
		{ "ev_bad_frame", test_ipcev_bad_frame },
		{ "ev_eof", test_ipcev_eof },
		{ "ev_drop_in_dispatch", test_ipcev_drop_in_dispatch },
		{ "ev_close_in_dispatch", test_ipcev_close_in_dispatch },
		{ "ev_reinit_in_dispatch", test_ipcev_reinit_in_dispatch },
		{ "ev_write_armed", test_ipcev_write_armed },
		{ "ev_compose_fails", test_ipcev_compose_fails },
		{ "ev_flush_sync", test_ipcev_flush_sync },
	};
	Suite	*s = suite_create("ipc");
	TCase	*tc;
	size_t	 i;

	for (i = 0; i < nitems(tests); i++) {
		tc = tcase_create(tests[i].name);
		/* Above T_GUARD_S, so the guard speaks first. */
		tcase_set_timeout(tc, 30);
		tcase_add_test(tc, tests[i].test);
		suite_add_tcase(s, tc);
	}
	return s;
}

int
main(void)
{
	return tl_run(ipc_suite());
}
