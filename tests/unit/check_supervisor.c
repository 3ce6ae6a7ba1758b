/*
 * check_supervisor.c: the supervisor's pure rules: which proxy a
 * connection uses, NO_PROXY matching, the proxy's credentials, the
 * --check base URL, loopback addresses, the systemd watchdog value, and
 * the restart policy: limits and backoff per worker, and the new
 * net<->exec channel a survivor is handed.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

#include "log.h"
#include "proto.h"
#include "supervisor.h"
#include "testlib.h"

static struct url
target(const char *s)
{
	struct url	 u;
	const char	*why;

	ck_assert_msg(url_parse(s, &u, &why) == 0, "%s: %s", s, why);
	return u;
}

START_TEST(test_supervisor_proxy_selection)
{
	struct url	 t = target("wss://fleet.example.com/ws"), p;
	const char	*why;
	char *const	 none[] = { "PATH=/bin", NULL };
	char *const	 https[] = { "HTTPS_PROXY=http://proxy:8080", NULL };
	char *const	 lower[] = { "https_proxy=http://lower:1",
	    "HTTPS_PROXY=http://upper:2", NULL };
	char *const	 plain_only[] = { "HTTP_PROXY=http://p:3", NULL };
	char *const	 noscheme[] = { "https_proxy=squid.lan", NULL };
	char *const	 socks[] = { "https_proxy=socks5://s:1080", NULL };
	char *const	 bad[] = { "https_proxy=http://", NULL };

	ck_assert_int_eq(connect_proxy_for(&t, none, &p, &why), 0);
	ck_assert_int_eq(connect_proxy_for(&t, https, &p, &why), 1);
	ck_assert_str_eq(p.host, "proxy");
	ck_assert_uint_eq(p.port, 8080);
	ck_assert_int_eq(connect_proxy_for(&t, lower, &p, &why), 1);
	ck_assert_str_eq(p.host, "lower");
	/* wss:// does not use the plain-HTTP proxy variable. */
	ck_assert_int_eq(connect_proxy_for(&t, plain_only, &p, &why), 0);
	t = target("ws://fleet.example.com/ws");
	ck_assert_int_eq(connect_proxy_for(&t, plain_only, &p, &why), 1);
	ck_assert_uint_eq(p.port, 3);
	t = target("wss://fleet.example.com/ws");
	ck_assert_int_eq(connect_proxy_for(&t, noscheme, &p, &why), 1);
	ck_assert_str_eq(p.host, "squid.lan");
	ck_assert_uint_eq(p.port, 3128);
	ck_assert_int_eq(connect_proxy_for(&t, socks, &p, &why), -1);
	ck_assert_ptr_nonnull(strstr(why, "http://"));
	ck_assert_int_eq(connect_proxy_for(&t, bad, &p, &why), -1);
}
END_TEST

START_TEST(test_supervisor_no_proxy)
{
	struct url	 t = target("wss://fleet.example.com:8443/ws"), p;
	const char	*why;
	char *const	 env[] = { "HTTPS_PROXY=http://proxy:8080",
	    "NO_PROXY=.example.com", NULL };

	ck_assert_int_eq(connect_proxy_for(&t, env, &p, &why), 0);
	ck_assert(connect_no_proxy_match("*", "anything", 1));
	ck_assert(connect_no_proxy_match("example.com", "example.com", 443));
	ck_assert(connect_no_proxy_match("example.com", "a.b.example.com",
	    443));
	ck_assert(!connect_no_proxy_match("example.com", "badexample.com",
	    443));
	ck_assert(connect_no_proxy_match("a, b ,example.com", "x.example.com",
	    1));
	ck_assert(connect_no_proxy_match("Example.COM", "fleet.example.com",
	    1));
	ck_assert(connect_no_proxy_match("fleet:8443", "fleet", 8443));
	ck_assert(!connect_no_proxy_match("fleet:8443", "fleet", 443));
	ck_assert(connect_no_proxy_match("10.0.0.0/8", "10.1.2.3", 1));
	ck_assert(!connect_no_proxy_match("10.0.0.0/8", "11.1.2.3", 1));
	ck_assert(connect_no_proxy_match("127.0.0.1", "127.0.0.1", 1));
	ck_assert(connect_no_proxy_match("::1", "::1", 1));
	ck_assert(connect_no_proxy_match("[::1]:443", "::1", 443));
	ck_assert(!connect_no_proxy_match("", "x", 1));
	ck_assert(!connect_no_proxy_match(NULL, "x", 1));
	ck_assert(!connect_no_proxy_match(".", "x", 1));
}
END_TEST

START_TEST(test_supervisor_proxy_auth)
{
	struct url	 p = target("http://user:p%40ss@proxy:3128");
	char		 out[128];

	ck_assert_int_eq(connect_proxy_auth(&p, out, sizeof(out)), 1);
	/* base64("user:p@ss") */
	ck_assert_str_eq(out, "Basic dXNlcjpwQHNz");
	p = target("http://proxy:3128");
	ck_assert_int_eq(connect_proxy_auth(&p, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(test_supervisor_check_base_url)
{
	char	 out[256];

	ck_assert_int_eq(check_base_url("wss://fleet.example.com/ws", out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "https://fleet.example.com/");
	ck_assert_int_eq(check_base_url("ws://localhost:8000/ws", out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "http://localhost:8000/");
	ck_assert_int_eq(check_base_url("wss://h/api/ws/agent?x=1", out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "https://h/api");
	ck_assert_int_eq(check_base_url("wss://h/dash", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "https://h/dash");
	ck_assert_int_eq(check_base_url("wss://[::1]:9/ws", out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "https://[::1]:9/");
	ck_assert_int_eq(check_base_url("ftp://h/", out, sizeof(out)), -1);
}
END_TEST

START_TEST(test_supervisor_loopback)
{
	struct sockaddr_in	 a4;
	struct sockaddr_in6	 a6;

	memset(&a4, 0, sizeof(a4));
	a4.sin_family = AF_INET;
	inet_pton(AF_INET, "127.3.2.1", &a4.sin_addr);
	ck_assert(connect_addr_is_loopback((struct sockaddr *)&a4));
	inet_pton(AF_INET, "10.0.0.1", &a4.sin_addr);
	ck_assert(!connect_addr_is_loopback((struct sockaddr *)&a4));
	memset(&a6, 0, sizeof(a6));
	a6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::1", &a6.sin6_addr);
	ck_assert(connect_addr_is_loopback((struct sockaddr *)&a6));
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &a6.sin6_addr);
	ck_assert(connect_addr_is_loopback((struct sockaddr *)&a6));
	inet_pton(AF_INET6, "2001:db8::1", &a6.sin6_addr);
	ck_assert(!connect_addr_is_loopback((struct sockaddr *)&a6));
}
END_TEST

START_TEST(test_supervisor_watchdog_env)
{
	char	 pid[32];

	unsetenv("WATCHDOG_PID");
	unsetenv("WATCHDOG_USEC");
	ck_assert_uint_eq(notify_watchdog_usec(), 0);
	setenv("WATCHDOG_USEC", "30000000", 1);
	ck_assert_uint_eq(notify_watchdog_usec(), 30000000);
	setenv("WATCHDOG_PID", "1", 1);		/* someone else's */
	ck_assert_uint_eq(notify_watchdog_usec(), 0);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	ck_assert_uint_eq(notify_watchdog_usec(), 30000000);
	setenv("WATCHDOG_USEC", "junk", 1);
	ck_assert_uint_eq(notify_watchdog_usec(), 0);
	unsetenv("WATCHDOG_PID");
	unsetenv("WATCHDOG_USEC");
}
END_TEST

/* STATUS text: printable ASCII, nothing that could start a new line. */
START_TEST(test_supervisor_notify_escape)
{
	char	 out[64], big[1024];

	notify_escape("connected to wss://x:443/ws", out, sizeof(out));
	ck_assert_str_eq(out, "connected to wss://x:443/ws");
	notify_escape("a\nWATCHDOG=1\r\x1b[1m\\\xc3\xa9", out, sizeof(out));
	ck_assert_str_eq(out, "a\\x0aWATCHDOG=1\\x0d\\x1b[1m\\x5c\\xc3\\xa9");
	/* Cut at a whole escape, and never past the buffer. */
	notify_escape("abc\n", out, 7);
	ck_assert_str_eq(out, "abc");
	memset(big, '\n', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	notify_escape(big, out, sizeof(out));
	ck_assert_uint_le(strlen(out), sizeof(out) - 1);
	ck_assert_ptr_null(strchr(out, '\n'));
}
END_TEST

/* The connect bucket: a burst, then one per IPC_CONNECT_FLOOR_MS. */
START_TEST(test_supervisor_connect_admit)
{
	struct sup	*s = calloc(1, sizeof(*s));
	int		 i;

	ck_assert_ptr_nonnull(s);
	s->loop = ev_loop_new(EVFLAG_AUTO);
	connect_limit_reset(s);
	for (i = 0; i < IPC_CONNECT_BURST; i++)
		ck_assert_int_eq(connect_admit(s), 0);
	ck_assert_int_eq(connect_admit(s), -1);
	usleep((IPC_CONNECT_FLOOR_MS + 20) * 1000);
	ev_now_update(s->loop);
	ck_assert_int_eq(connect_admit(s), 0);
	ck_assert_int_eq(connect_admit(s), -1);
	/* A worker that keeps the floor never runs dry. */
	for (i = 0; i < 5; i++) {
		usleep((IPC_CONNECT_FLOOR_MS + 5) * 1000);
		ev_now_update(s->loop);
		ck_assert_int_eq(connect_admit(s), 0);
	}
	ev_loop_destroy(s->loop);
	free(s);
}
END_TEST

/* More than SUP_RESTART_MAX in the window, counted per worker. */
START_TEST(test_supervisor_restart_limit)
{
	struct worker	*net = calloc(1, sizeof(*net));
	struct worker	*ex = calloc(1, sizeof(*ex));
	int		 i;

	ck_assert_ptr_nonnull(net);
	ck_assert_ptr_nonnull(ex);
	net->backoff_s = ex->backoff_s = 1;
	for (i = 0; i < SUP_RESTART_MAX; i++) {
		ck_assert_int_eq(worker_note_restart(net, 100.0 + i), i + 1);
		(void)worker_next_backoff(net);
	}
	/* The other worker's restarts are its own. */
	ck_assert_int_eq(worker_note_restart(ex, 104.5), 1);
	ck_assert_int_gt(worker_note_restart(net, 105.0), SUP_RESTART_MAX);
	/* Old ones leave the window; a quiet window resets the backoff. */
	ck_assert_int_eq(worker_note_restart(net, 100.0 + SUP_RESTART_WINDOW +
	    4.5), 2);
	ck_assert_int_eq(net->backoff_s, SUP_BACKOFF_MAX);
	ck_assert_int_eq(worker_note_restart(net, 300.0), 1);
	ck_assert_int_eq(net->backoff_s, 1);
	free(net);
	free(ex);
}
END_TEST

START_TEST(test_supervisor_backoff)
{
	struct worker	*w = calloc(1, sizeof(*w));
	static const int want[] = { 1, 2, 4, 8, 16, 30, 30 };
	size_t		 i;

	ck_assert_ptr_nonnull(w);
	w->backoff_s = 1;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_int_eq(worker_next_backoff(w), want[i]);
	free(w);
}
END_TEST

/* Bytes written on one descriptor come out of the other. */
static void
assert_pair(int a, int b)
{
	char	 c = 0;

	ck_assert_int_eq(write(a, "x", 1), 1);
	ck_assert_int_eq(read(b, &c, 1), 1);
	ck_assert_int_eq(c, 'x');
}

/*
 * The next frame from the supervisor on a worker's channel; the HELLO
 * first is skipped.  Returns the type; *fd the descriptor, or -1.
 */
static uint32_t
next_frame(struct ipcbuf *b, int *fd)
{
	struct ipcmsg	*m;
	uint32_t	 type;
	int		 r, i;

	for (i = 0; i < 100; i++) {
		while ((r = ipcbuf_get(b, &m)) == 1) {
			type = ipc_get_type(m);
			*fd = ipc_get_fd(m);
			if (type != IPC_HELLO)
				ck_assert_int_eq(ipc_get_len(m), 0);
			ipc_free(m);
			if (type != IPC_HELLO)
				return type;
			if (*fd != -1)
				close(*fd);
		}
		ck_assert_int_eq(r, 0);
		if (ipcbuf_read(b) == -1)
			usleep(10000);
	}
	ck_abort_msg("no frame");
	return 0;
}

/*
 * A death restarts that worker alone: the survivor gets its end of a new
 * pair over its channel (IPC_SN_PEER / IPC_SE_PEER), the dead one keeps
 * the other end for its start, after the backoff.  A survivor that is
 * down itself keeps its end too.
 */
START_TEST(test_supervisor_hand_peer)
{
	struct sup	*s = calloc(1, sizeof(*s));
	struct ipcbuf	*b[W_COUNT];
	int		 sv[W_COUNT][2], i, fd;

	ck_assert_ptr_nonnull(s);
	log_init(LOG_LVL_ERROR, 0);
	s->loop = ev_loop_new(EVFLAG_AUTO);
	s->w[W_NET].name = "net-worker";
	s->w[W_EXEC].name = "exec-worker";
	worker_init(s);
	for (i = 0; i < W_COUNT; i++) {
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM |
		    SOCK_NONBLOCK, 0, sv[i]), 0);
		ck_assert_ptr_nonnull(b[i] = ipcbuf_new(sv[i][1], 64 * 1024));
		ipcbuf_allow_fdrecv(b[i]);
	}
	sup_channels_init(s, sv[W_NET][0], sv[W_EXEC][0]);
	/* Pretend both run: a pid no kill() reaches (only the dead are). */
	s->w[W_NET].pid = s->w[W_EXEC].pid = 0x7ffffff0;

	/* The exec-worker dies: the net-worker gets IPC_SN_PEER + fd. */
	s->w[W_EXEC].pid = 0;
	sup_worker_lost(s, W_EXEC, "test");
	ck_assert(s->w[W_EXEC].restarting);
	ck_assert(!ipcev_active(&s->w[W_EXEC].iev));
	ck_assert(ev_is_active(&s->w[W_EXEC].restart_timer));
	ck_assert_int_eq(s->w[W_NET].peerfd, -1);
	ck_assert_int_ne(s->w[W_EXEC].peerfd, -1);
	for (i = 0; i < 20 && ipcbuf_queued(s->w[W_NET].iev.buf) > 0; i++)
		ipcbuf_flush(s->w[W_NET].iev.buf);
	ck_assert_uint_eq(next_frame(b[W_NET], &fd), IPC_SN_PEER);
	ck_assert_int_ne(fd, -1);
	assert_pair(fd, s->w[W_EXEC].peerfd);
	assert_pair(s->w[W_EXEC].peerfd, fd);
	close(fd);
	ck_assert_int_eq(s->w[W_EXEC].nrestarts, 1);
	ck_assert_int_eq(s->w[W_NET].nrestarts, 0);

	/* Now the net-worker dies while the exec-worker waits: no frame. */
	s->w[W_NET].pid = 0;
	sup_worker_lost(s, W_NET, "test");
	ck_assert(ev_is_active(&s->w[W_NET].restart_timer));
	ck_assert_int_ne(s->w[W_NET].peerfd, -1);
	ck_assert_int_ne(s->w[W_EXEC].peerfd, -1);
	assert_pair(s->w[W_NET].peerfd, s->w[W_EXEC].peerfd);
	assert_pair(s->w[W_EXEC].peerfd, s->w[W_NET].peerfd);
	ck_assert_int_eq(s->w[W_NET].nrestarts, 1);

	worker_stop_timers(s);
	for (i = 0; i < W_COUNT; i++) {
		close(s->w[i].peerfd);
		ipcbuf_free(b[i]);
		close(sv[i][1]);
	}
	ev_loop_destroy(s->loop);
	free(s);
}
END_TEST

static Suite *
supervisor_suite(void)
{
	Suite	*s = suite_create("supervisor");
	TCase	*tc;

#define T(name) \
	tc = tcase_create(#name); \
	tcase_add_test(tc, test_supervisor_##name); \
	suite_add_tcase(s, tc)
	T(proxy_selection);
	T(no_proxy);
	T(proxy_auth);
	T(check_base_url);
	T(loopback);
	T(watchdog_env);
	T(notify_escape);
	T(connect_admit);
	T(restart_limit);
	T(backoff);
	T(hand_peer);
#undef T
	return s;
}

int
main(void)
{
	return tl_run(supervisor_suite());
}
