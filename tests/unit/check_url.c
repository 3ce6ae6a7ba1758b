/*
 * check_url.c: the URL parser, its authority form and the loopback test.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "url.h"

static Suite	*url_suite(void);

struct url_good {
	const char	*in;
	const char	*scheme;
	const char	*host;
	unsigned	 port;
	int		 port_given;
	int		 ipv6;
	const char	*userinfo;
	const char	*path;
	int		 tls;
	const char	*authority;
};

static const struct url_good url_goods[] = {
	{ "wss://fleet.example.com/ws", "wss", "fleet.example.com", 443, 0, 0,
	    "", "/ws", 1, "fleet.example.com" },
	{ "ws://localhost:8000/ws", "ws", "localhost", 8000, 1, 0,
	    "", "/ws", 0, "localhost:8000" },
	{ "WSS://Fleet.Example.COM", "wss", "Fleet.Example.COM", 443, 0, 0,
	    "", "/", 1, "Fleet.Example.COM" },
	{ "HtTpS://example.com:8443/", "https", "example.com", 8443, 1, 0,
	    "", "/", 1, "example.com:8443" },
	{ "http://10.0.0.5:3000", "http", "10.0.0.5", 3000, 1, 0,
	    "", "/", 0, "10.0.0.5:3000" },
	{ "https://example.com/api?x=1&y=2", "https", "example.com", 443, 0,
	    0, "", "/api?x=1&y=2", 1, "example.com" },
	{ "https://example.com?x=1", "https", "example.com", 443, 0, 0,
	    "", "/?x=1", 1, "example.com" },
	{ "https://example.com/p#frag", "https", "example.com", 443, 0, 0,
	    "", "/p", 1, "example.com" },
	{ "https://example.com#frag", "https", "example.com", 443, 0, 0,
	    "", "/", 1, "example.com" },
	{ "ws://[::1]:8080/ws", "ws", "::1", 8080, 1, 1,
	    "", "/ws", 0, "[::1]:8080" },
	{ "wss://[2001:db8::1]/", "wss", "2001:db8::1", 443, 0, 1,
	    "", "/", 1, "[2001:db8::1]" },
	{ "wss://[::ffff:192.0.2.1]:444", "wss", "::ffff:192.0.2.1", 444, 1,
	    1, "", "/", 1, "[::ffff:192.0.2.1]:444" },
	{ "http://user:p%40ss@proxy.example:3128", "http", "proxy.example",
	    3128, 1, 0, "user:p%40ss", "/", 0, "proxy.example:3128" },
	{ "http://user@proxy.example", "http", "proxy.example", 80, 0, 0,
	    "user", "/", 0, "proxy.example" },
	/* An explicit default port is remembered but not repeated. */
	{ "wss://h.example:443/ws", "wss", "h.example", 443, 1, 0,
	    "", "/ws", 1, "h.example" },
	{ "ws://h.example:443/", "ws", "h.example", 443, 1, 0,
	    "", "/", 0, "h.example:443" },
	{ "http://h:65535", "http", "h", 65535, 1, 0, "", "/", 0, "h:65535" },
	{ "http://h:1", "http", "h", 1, 1, 0, "", "/", 0, "h:1" },
	{ "ws://my_service-1:80/a/b/", "ws", "my_service-1", 80, 1, 0,
	    "", "/a/b/", 0, "my_service-1" },
	{ "wss://h/%7Euser/a%20b", "wss", "h", 443, 0, 0,
	    "", "/%7Euser/a%20b", 1, "h" },
};

struct url_bad {
	const char	*in;
	const char	*why;	/* a substring of the reason */
};

static const struct url_bad url_bads[] = {
	{ "", "scheme" },
	{ "fleet.example.com/ws", "scheme" },
	{ "ftp://example.com/", "scheme must be ws://, wss://, http:// or "
	    "https://" },
	{ "wss:/example.com", "scheme" },
	{ "wss:example.com", "scheme" },
	{ "://example.com", "scheme" },
	{ "wsss://example.com", "scheme" },
	{ "wss://", "host is empty" },
	{ "wss:///ws", "host is empty" },
	{ "wss://:443/ws", "host is empty" },
	{ "wss://user@/ws", "host is empty" },
	{ "wss://[]/", "host is empty" },
	{ "wss://exa mple.com/", "spaces" },
	{ "wss://example.com/a b", "spaces" },
	{ "wss://example.com/\tws", "control" },
	{ "wss://exam\nple.com/", "control" },
	{ "wss://example.com/\x7f", "control" },
	{ "wss://ex\xc3\xa4mple.com/", "non-ASCII" },
	{ "wss://example.com:0/", "bad port" },
	{ "wss://example.com:65536/", "bad port" },
	{ "wss://example.com:99999/", "bad port" },
	{ "wss://example.com:123456/", "bad port" },
	{ "wss://example.com:/", "bad port" },
	{ "wss://example.com:-1/", "bad port" },
	{ "wss://example.com:8a/", "bad port" },
	{ "wss://example.com:80:80/", "bad port" },
	{ "wss://[::1/", "IPv6" },
	{ "wss://::1/", "host is empty" },
	{ "wss://[::1]x/", "IPv6" },
	{ "wss://[fe80::1%25eth0]/", "IPv6" },
	{ "wss://[not-v6]/", "IPv6" },
	{ "wss://[1.2.3.4]/", "IPv6" },
	{ "wss://a]b/", "IPv6" },
	{ "wss://a@b@c/", "userinfo" },
	{ "wss://us[er@h/", "userinfo" },
	{ "wss://u%zz@h/", "userinfo" },
	{ "wss://127.1/", "IPv4" },
	{ "wss://2130706433/", "IPv4" },
	{ "wss://1.2.3.256/", "IPv4" },
	{ "wss://1.2.3.4./", "IPv4" },
	{ "wss://a..b/", "host name" },
	{ "wss://.a/", "host name" },
	{ "wss://a./", "host name" },
	{ "wss://ex%41mple.com/", "host" },
	{ "wss://ex!ample.com/", "host" },
	{ "wss://h/a%2", "path" },
	{ "wss://h/a%g0", "path" },
	{ "wss://h/a\\b", "path" },
	{ "wss://h/a<b>", "path" },
	{ "wss://h/{x}", "path" },
	{ "wss://h/a\"b", "path" },
};

START_TEST(test_url_good)
{
	const struct url_good	*g = &url_goods[_i];
	struct url		 u;
	const char		*why = NULL;
	char			 auth[300];

	ck_assert_msg(url_parse(g->in, &u, &why) == 0, "%s: %s", g->in,
	    why ? why : "?");
	ck_assert_str_eq(u.scheme, g->scheme);
	ck_assert_str_eq(u.host, g->host);
	ck_assert_uint_eq(u.port, g->port);
	ck_assert_int_eq(u.port_given, g->port_given);
	ck_assert_int_eq(u.ipv6, g->ipv6);
	ck_assert_str_eq(u.userinfo, g->userinfo);
	ck_assert_str_eq(u.path, g->path);
	ck_assert_int_eq(u.tls, g->tls);
	url_authority(&u, auth, sizeof(auth));
	ck_assert_str_eq(auth, g->authority);
}
END_TEST

START_TEST(test_url_bad)
{
	const struct url_bad	*b = &url_bads[_i];
	struct url		 u;
	const char		*why = NULL;

	ck_assert_msg(url_parse(b->in, &u, &why) == -1, "accepted \"%s\"",
	    b->in);
	ck_assert_ptr_nonnull(why);
	ck_assert_msg(strstr(why, b->why) != NULL, "\"%s\": \"%s\" lacks %s",
	    b->in, why, b->why);
}
END_TEST

START_TEST(test_url_limits)
{
	struct url	 u;
	const char	*why;
	char		*s;
	size_t		 n;

	/* A 255-byte host fits; 256 does not. */
	n = 255;
	s = malloc(n + 16);
	ck_assert_ptr_nonnull(s);
	strcpy(s, "ws://");
	for (size_t i = 0; i < n; i++)
		s[5 + i] = (i % 50 == 49) ? '.' : 'a';
	strcpy(s + 5 + n, "/");
	ck_assert_int_eq(url_parse(s, &u, &why), 0);
	ck_assert_uint_eq(strlen(u.host), n);
	s[5 + n] = 'a';
	strcpy(s + 6 + n, "/");
	ck_assert_int_eq(url_parse(s, &u, &why), -1);
	ck_assert_str_eq(why, "host too long");
	free(s);

	/* A 64-byte label is one too many. */
	s = malloc(128);
	ck_assert_ptr_nonnull(s);
	strcpy(s, "ws://");
	memset(s + 5, 'b', 63);
	strcpy(s + 68, ".example/");
	ck_assert_int_eq(url_parse(s, &u, &why), 0);
	memset(s + 5, 'b', 64);
	strcpy(s + 69, ".example/");
	ck_assert_int_eq(url_parse(s, &u, &why), -1);
	free(s);

	/* The path buffer holds 1023 bytes and its NUL. */
	s = malloc(2048);
	ck_assert_ptr_nonnull(s);
	strcpy(s, "ws://h/");
	memset(s + 7, 'p', 1022);
	s[7 + 1022] = '\0';
	ck_assert_int_eq(url_parse(s, &u, &why), 0);
	ck_assert_uint_eq(strlen(u.path), 1023);
	strcat(s, "p");
	ck_assert_int_eq(url_parse(s, &u, &why), -1);
	ck_assert_str_eq(why, "path too long");
	/* A query without a path gains the '/', which must fit too. */
	strcpy(s, "ws://h?");
	memset(s + 7, 'q', 1021);
	s[7 + 1021] = '\0';
	ck_assert_int_eq(url_parse(s, &u, &why), 0);
	ck_assert_uint_eq(strlen(u.path), 1023);
	ck_assert_int_eq(u.path[0], '/');
	ck_assert_int_eq(u.path[1], '?');
	strcat(s, "q");
	ck_assert_int_eq(url_parse(s, &u, &why), -1);
	free(s);

	/* userinfo: 255 bytes fit. */
	s = malloc(600);
	ck_assert_ptr_nonnull(s);
	strcpy(s, "http://");
	memset(s + 7, 'u', 255);
	strcpy(s + 7 + 255, "@h/");
	ck_assert_int_eq(url_parse(s, &u, &why), 0);
	ck_assert_uint_eq(strlen(u.userinfo), 255);
	strcpy(s + 7 + 255, "u@h/");
	ck_assert_int_eq(url_parse(s, &u, &why), -1);
	ck_assert_str_eq(why, "userinfo too long");
	free(s);
}
END_TEST

START_TEST(test_url_clears_output)
{
	struct url	 u;
	const char	*why;

	ck_assert_int_eq(url_parse("http://user@a.example:81/x", &u, &why),
	    0);
	ck_assert_int_eq(url_parse("wss://b.example", &u, &why), 0);
	ck_assert_str_eq(u.userinfo, "");
	ck_assert_int_eq(u.port_given, 0);
	ck_assert_uint_eq(u.port, 443);
	ck_assert_str_eq(u.path, "/");
}
END_TEST

START_TEST(test_url_authority_truncates)
{
	struct url	 u;
	const char	*why;
	char		 buf[8];

	ck_assert_int_eq(url_parse("ws://abcdefghij:81/", &u, &why), 0);
	memset(buf, 'X', sizeof(buf));
	url_authority(&u, buf, sizeof(buf));
	ck_assert_str_eq(buf, "abcdefg");
	/* A zero-sized buffer is left alone. */
	buf[0] = 'Z';
	url_authority(&u, buf, 0);
	ck_assert_int_eq(buf[0], 'Z');
}
END_TEST

static const struct {
	const char	*host;
	int		 loopback;
} url_loops[] = {
	{ "localhost", 1 },
	{ "LocalHost", 1 },
	{ "127.0.0.1", 1 },
	{ "127.255.255.254", 1 },
	{ "127.1.2.3", 1 },
	{ "::1", 1 },
	{ "0:0:0:0:0:0:0:1", 1 },
	{ "[::1]", 1 },
	{ "::ffff:127.0.0.1", 1 },
	{ "128.0.0.1", 0 },
	{ "126.255.255.255", 0 },
	{ "10.0.0.1", 0 },
	{ "0.0.0.0", 0 },
	{ "::", 0 },
	{ "::2", 0 },
	{ "::ffff:10.0.0.1", 0 },
	{ "localhost.example.com", 0 },
	{ "a.localhost", 0 },
	{ "localhos", 0 },
	{ "example.com", 0 },
	{ "", 0 },
	{ "[]", 0 },
	{ "127.1", 0 },
};

START_TEST(test_url_loopback)
{
	ck_assert_msg(url_is_loopback(url_loops[_i].host) ==
	    url_loops[_i].loopback, "%s", url_loops[_i].host);
}
END_TEST

START_TEST(test_url_loopback_null)
{
	ck_assert_int_eq(url_is_loopback(NULL), 0);
}
END_TEST

static Suite *
url_suite(void)
{
	Suite	*s = suite_create("url");
	TCase	*tc;

	tc = tcase_create("good");
	tcase_add_loop_test(tc, test_url_good, 0, (int)(sizeof(url_goods) /
	    sizeof(url_goods[0])));
	tcase_add_test(tc, test_url_clears_output);
	suite_add_tcase(s, tc);

	tc = tcase_create("bad");
	tcase_add_loop_test(tc, test_url_bad, 0, (int)(sizeof(url_bads) /
	    sizeof(url_bads[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_test(tc, test_url_limits);
	suite_add_tcase(s, tc);

	tc = tcase_create("authority");
	tcase_add_test(tc, test_url_authority_truncates);
	suite_add_tcase(s, tc);

	tc = tcase_create("loopback");
	tcase_add_loop_test(tc, test_url_loopback, 0, (int)(sizeof(url_loops) /
	    sizeof(url_loops[0])));
	tcase_add_test(tc, test_url_loopback_null);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tl_run(url_suite());
}
