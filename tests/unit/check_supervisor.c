/*
 * check_supervisor.c: the supervisor's pure rules: which proxy a
 * connection uses, NO_PROXY matching, the proxy's credentials, the
 * --check base URL, loopback addresses, and the systemd watchdog value.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

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
#undef T
	return s;
}

int
main(void)
{
	return tl_run(supervisor_suite());
}
