/*
 * check_remote.c: remote administration's pure parts: the PTY chunker's
 * UTF-8 carry, resize bounds, session ids, the backup request payload,
 * the GitHub user check, and the net-worker's mapping of events to IPC
 * and back (netrem over a real socketpair, the exec-worker played here).
 */
#include <sys/socket.h>

#include <check.h>
#include <ev.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc.h"
#include "ipcev.h"
#include "netrem.h"
#include "proto.h"
#include "remote.h"
#include "testlib.h"

#define U(s)	((const unsigned char *)(s))

START_TEST(utf8_tail)
{
	ck_assert_uint_eq(pty_utf8_tail(U(""), 0), 0);
	ck_assert_uint_eq(pty_utf8_tail(U("abc"), 3), 0);
	ck_assert_uint_eq(pty_utf8_tail(U("a\xc3"), 2), 1);
	ck_assert_uint_eq(pty_utf8_tail(U("a\xc3\xa9"), 3), 0);
	ck_assert_uint_eq(pty_utf8_tail(U("\xe2\x82"), 2), 2);
	ck_assert_uint_eq(pty_utf8_tail(U("\xe2\x82\xac"), 3), 0);
	ck_assert_uint_eq(pty_utf8_tail(U("x\xf0\x9f\x98"), 4), 3);
	ck_assert_uint_eq(pty_utf8_tail(U("\xf0\x9f\x98\x80"), 4), 0);
	/* Invalid anyway: nothing is held back. */
	ck_assert_uint_eq(pty_utf8_tail(U("\x80\x80\x80"), 3), 0);
	ck_assert_uint_eq(pty_utf8_tail(U("\xff"), 1), 0);
	ck_assert_uint_eq(pty_utf8_tail(U("\xc0"), 1), 0);
	ck_assert_uint_eq(pty_utf8_tail(U("\xf5\x80"), 2), 0);
	ck_assert_uint_eq(pty_utf8_tail(U("\x80\x80\x80\x80"), 4), 0);
}
END_TEST

START_TEST(resize_bounds)
{
	ck_assert(!pty_size_valid(0, 24));
	ck_assert(!pty_size_valid(80, 0));
	ck_assert(pty_size_valid(1, 1));
	ck_assert(pty_size_valid(80, 24));
	ck_assert(pty_size_valid(65535, 65535));
	ck_assert(!pty_size_valid(65536, 24));
	ck_assert(!pty_size_valid(80, 0xffffffffU));
}
END_TEST

START_TEST(session_ids)
{
	char	s[IPC_SESSION_MAX];

	memset(s, 0, sizeof(s));
	ck_assert(!remote_session_valid(s, sizeof(s)));
	strlcpy(s, "6f1c-uuid", sizeof(s));
	ck_assert(remote_session_valid(s, sizeof(s)));
	s[2] = '\n';
	ck_assert(!remote_session_valid(s, sizeof(s)));
	memset(s, 'a', sizeof(s));
	ck_assert(!remote_session_valid(s, sizeof(s)));	/* no NUL */
	s[sizeof(s) - 1] = '\0';
	ck_assert(remote_session_valid(s, sizeof(s)));
}
END_TEST

static size_t
backup_payload(char *buf, uint32_t nsrc, uint32_t nglob, const char *tail,
    size_t tlen, uint32_t port)
{
	struct ipc_backup_req	 h = { port, IPC_BKF_DEST, nsrc, nglob };

	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), tail, tlen);
	return sizeof(h) + tlen;
}

START_TEST(backup_parse)
{
	static const char	 ok[] =
	    "p1\0\0\0/dst\0/src/a\0/src/b\0**/*.log";
	struct walk_request	 rq;
	char			 buf[512];
	uint32_t		 flags;
	size_t			 n;

	n = backup_payload(buf, 2, 1, ok, sizeof(ok), 22);
	ck_assert_int_eq(backup_req_parse(buf, n, &rq, &flags), 0);
	ck_assert_str_eq(rq.plan_id, "p1");
	ck_assert_str_eq(rq.host, "");
	ck_assert_str_eq(rq.dest_root, "/dst");
	ck_assert_uint_eq(rq.nsources, 2);
	ck_assert_str_eq(rq.sources[1], "/src/b");
	ck_assert_uint_eq(rq.nglobs, 1);
	ck_assert_str_eq(rq.globs[0], "**/*.log");
	ck_assert_int_eq(rq.port, 22);
	ck_assert_uint_eq(flags, IPC_BKF_DEST);
	walk_request_free(&rq);
	/* One string short, one too many, no final NUL, a bad port. */
	n = backup_payload(buf, 3, 1, ok, sizeof(ok), 0);
	ck_assert_int_eq(backup_req_parse(buf, n, &rq, &flags), -1);
	n = backup_payload(buf, 1, 1, ok, sizeof(ok), 0);
	ck_assert_int_eq(backup_req_parse(buf, n, &rq, &flags), -1);
	n = backup_payload(buf, 2, 1, ok, sizeof(ok) - 1, 0);
	ck_assert_int_eq(backup_req_parse(buf, n, &rq, &flags), -1);
	n = backup_payload(buf, 2, 1, ok, sizeof(ok), 65536);
	ck_assert_int_eq(backup_req_parse(buf, n, &rq, &flags), -1);
	ck_assert_int_eq(backup_req_parse(buf, 8, &rq, &flags), -1);
	n = backup_payload(buf, 100000, 1, ok, sizeof(ok), 0);
	ck_assert_int_eq(backup_req_parse(buf, n, &rq, &flags), -1);
}
END_TEST

START_TEST(github_user)
{
	char	out[40];

	ck_assert_int_eq(netrem_user_check(" octo-cat\r\n", 11, out), 0);
	ck_assert_str_eq(out, "octo-cat");
	ck_assert_int_eq(netrem_user_check("", 0, out), -1);
	ck_assert_int_eq(netrem_user_check("a/b", 3, out), -1);
	ck_assert_int_eq(netrem_user_check("a_b", 3, out), -1);
	ck_assert_int_eq(netrem_user_check(
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 39, out), 0);
	ck_assert_int_eq(netrem_user_check(
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 40, out), -1);
}
END_TEST

/* ---- the net-worker's mapping, with this test as the exec-worker ---- */

struct harness {
	struct ev_loop	*loop;
	struct ipcev	 iev;
	struct ipcbuf	*peer;		/* the exec-worker's end */
	int		 fds[2];
	struct netrem	 nr;
	char		 event[64];
	json_t		*out;		/* the last emitted payload */
	int		 nout;
};

static void
h_dispatch(struct ipcev *iev, struct ipcmsg *m)
{
}

static void
h_emit(void *arg, const char *event, json_t *payload)
{
	struct harness	*h = arg;

	strlcpy(h->event, event, sizeof(h->event));
	json_decref(h->out);
	h->out = payload;
	h->nout++;
}

static void
h_init(struct harness *h)
{
	memset(h, 0, sizeof(*h));
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, h->fds), 0);
	h->loop = ev_loop_new(EVFLAG_AUTO);
	ipcev_init(&h->iev, h->loop, h->fds[0], IPC_MAX_NE, "exec",
	    h_dispatch, h);
	h->peer = ipcbuf_new(h->fds[1], IPC_MAX_NE);
	netrem_init(&h->nr, &h->iev, h_emit, h);
}

static void
h_free(struct harness *h)
{
	netrem_clear(&h->nr);
	ipcev_close(&h->iev);
	ipcbuf_free(h->peer);
	close(h->fds[1]);
	ev_loop_destroy(h->loop);
	json_decref(h->out);
}

/* The next frame the exec-worker would get. */
static struct ipcmsg *
h_next(struct harness *h)
{
	struct ipcmsg	*m;
	int		 i;

	ck_assert_int_eq(ipcev_flush_sync(&h->iev, 1000), 0);
	for (i = 0; i < 100; i++) {
		if (ipcbuf_get(h->peer, &m) == 1)
			return m;
		ck_assert_int_eq(ipcbuf_read(h->peer), 1);
	}
	ck_abort_msg("no frame");
	return NULL;
}

/* An answer as if from the exec-worker, through the same framing. */
static struct ipcmsg *
h_frame(uint32_t type, uint32_t id, const struct iovec *iov, int n)
{
	struct ipcbuf	*out, *in;
	struct ipcmsg	*m;
	int		 sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	out = ipcbuf_new(sv[0], IPC_MAX_NE);
	in = ipcbuf_new(sv[1], IPC_MAX_NE);
	ck_assert_int_eq(ipcbuf_composev(out, type, id, -1, iov, n), 0);
	ck_assert_int_eq(ipcbuf_flush(out), 1);
	ck_assert_int_eq(ipcbuf_read(in), 1);
	ck_assert_int_eq(ipcbuf_get(in, &m), 1);
	ipcbuf_free(out);
	ipcbuf_free(in);
	close(sv[0]);
	close(sv[1]);
	return m;
}

static json_t *
J(const char *s)
{
	json_t	*j = json_loads(s, 0, NULL);

	ck_assert_ptr_nonnull(j);
	return j;
}

START_TEST(netrem_admin_round_trip)
{
	struct harness		 h;
	struct ipc_admin_run	 run;
	struct ipc_admin_result	 res;
	struct ipcmsg		*m;
	struct iovec		 iov[2];
	const char		*p;
	json_t			*pl;
	char			*s;

	h_init(&h);
	pl = J("{\"token\":\"tk\",\"cmd\":{\"command\":\"echo a\","
	    "\"timeoutSec\":5,\"cwd\":\"/tmp\",\"env\":{\"X\":1}}}");
	ck_assert_int_eq(netrem_event(&h.nr, "admin_run", pl), 1);
	json_decref(pl);
	m = h_next(&h);
	ck_assert_uint_eq(ipc_get_type(m), IPC_NE_ADMIN_RUN);
	ck_assert_uint_ne(ipc_get_id(m), 0);
	memcpy(&run, ipc_get_ptr(m), sizeof(run));
	ck_assert_uint_eq(run.timeout_s, 5);
	ck_assert_uint_eq(run.flags, IPC_ARF_TOKEN | IPC_ARF_CWD);
	ck_assert_uint_eq(run.token_len, 2);
	ck_assert_uint_eq(run.command_len, 6);
	ck_assert_uint_eq(run.cwd_len, 4);
	ck_assert_uint_eq(ipc_get_len(m), sizeof(run) + 12);
	p = (const char *)ipc_get_ptr(m) + sizeof(run);
	ck_assert(memcmp(p, "tkecho a/tmp", 12) == 0);

	/* The answer: echoed token and command, the spec's shape. */
	memset(&res, 0, sizeof(res));
	res.code = 124;
	res.duration_ms = 1000;
	res.flags = IPC_ADMRF_TRUNCATED;
	res.stdout_len = 3;
	res.stderr_len = 1;
	strlcpy(res.error, "timed out after 5s", sizeof(res.error));
	iov[0].iov_base = &res;
	iov[0].iov_len = sizeof(res);
	iov[1].iov_base = "ab\xff" "e";
	iov[1].iov_len = 4;
	ipc_free(m);
	m = h_frame(IPC_EN_ADMIN_RESULT, 1, iov, 2);
	ck_assert_int_eq(netrem_dispatch_exec(&h.nr, m), 0);
	ck_assert_str_eq(h.event, "admin_result");
	s = json_dumps(h.out, JSON_COMPACT | JSON_SORT_KEYS);
	ck_assert_str_eq(s, "{\"command\":\"echo a\",\"result\":{\"error\":"
	    "\"timed out after 5s\",\"stderr\":\"e\","
	    "\"stdout\":\"ab\xef\xbf\xbd\",\"summary\":{\"code\":124,"
	    "\"durationMs\":1000},\"truncated\":true},"
	    "\"token\":\"tk\"}");
	free(s);
	/* The same id twice is a violation: nothing waits for it. */
	ck_assert_int_eq(netrem_dispatch_exec(&h.nr, m), -1);
	ipc_free(m);
	h_free(&h);
}
END_TEST

START_TEST(netrem_shell_mapping)
{
	struct harness		 h;
	struct ipc_shell	 sh;
	struct ipc_shell_closed	 c;
	struct ipcmsg		*m;
	struct iovec		 iov[2];
	json_t			*pl;
	char			*s, big[70000];

	h_init(&h);
	pl = J("{\"session\":\"s1\",\"cols\":100000,\"rows\":30}");
	ck_assert_int_eq(netrem_event(&h.nr, "shell_resize", pl), 1);
	json_decref(pl);
	m = h_next(&h);
	ck_assert_uint_eq(ipc_get_type(m), IPC_NE_SHELL_RESIZE);
	ck_assert_int_eq(ipc_get_data(m, &sh, sizeof(sh)), 0);
	ck_assert_str_eq(sh.session, "s1");
	ck_assert_uint_eq(sh.cols, 65535);	/* clamped */
	ck_assert_uint_eq(sh.rows, 30);
	ck_assert(pty_size_valid(sh.cols, sh.rows));
	ipc_free(m);

	/* Zero leaves the size alone: nothing is sent. */
	pl = J("{\"session\":\"s1\",\"cols\":0,\"rows\":30}");
	ck_assert_int_eq(netrem_event(&h.nr, "shell_resize", pl), 1);
	json_decref(pl);

	/* Input of any size, split to the channel's bound, in order. */
	memset(big, 'k', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	pl = json_pack("{s:s,s:s}", "session", "s1", "data", big);
	ck_assert_int_eq(netrem_event(&h.nr, "shell_input", pl), 1);
	json_decref(pl);
	m = h_next(&h);
	ck_assert_uint_eq(ipc_get_type(m), IPC_NE_SHELL_INPUT);
	memcpy(&sh, ipc_get_ptr(m), sizeof(sh));
	ck_assert_uint_eq(sh.len, IPC_SHELL_IN_MAX);
	ipc_free(m);
	m = h_next(&h);
	memcpy(&sh, ipc_get_ptr(m), sizeof(sh));
	ck_assert_uint_eq(sh.len, IPC_SHELL_IN_MAX);
	ipc_free(m);
	m = h_next(&h);
	memcpy(&sh, ipc_get_ptr(m), sizeof(sh));
	ck_assert_uint_eq(sh.len, sizeof(big) - 1 - 2 * IPC_SHELL_IN_MAX);
	ipc_free(m);

	/* A session id the channel cannot carry is answered here. */
	memset(big, 'x', 200);
	big[200] = '\0';
	pl = json_pack("{s:s}", "session", big);
	ck_assert_int_eq(netrem_event(&h.nr, "shell_start", pl), 1);
	json_decref(pl);
	ck_assert_str_eq(h.event, "shell_closed");
	ck_assert_int_eq(json_integer_value(json_object_get(h.out, "code")), 1);

	/* Output: one chunk, one event; too long a chunk is a violation. */
	memset(&sh, 0, sizeof(sh));
	strlcpy(sh.session, "s1", sizeof(sh.session));
	sh.len = 3;
	iov[0].iov_base = &sh;
	iov[0].iov_len = sizeof(sh);
	iov[1].iov_base = "hi\n";
	iov[1].iov_len = 3;
	m = h_frame(IPC_EN_SHELL_OUTPUT, 0, iov, 2);
	ck_assert_int_eq(netrem_dispatch_exec(&h.nr, m), 0);
	ipc_free(m);
	s = json_dumps(h.out, JSON_COMPACT | JSON_SORT_KEYS);
	ck_assert_str_eq(s, "{\"data\":\"hi\\n\",\"session\":\"s1\"}");
	free(s);
	sh.len = 2;
	m = h_frame(IPC_EN_SHELL_OUTPUT, 0, iov, 2);
	ck_assert_int_eq(netrem_dispatch_exec(&h.nr, m), -1);
	ipc_free(m);

	memset(&c, 0, sizeof(c));
	strlcpy(c.session, "s1", sizeof(c.session));
	c.code = -1;
	strlcpy(c.reason, "signal: hangup", sizeof(c.reason));
	strlcpy(c.signal, "SIGHUP", sizeof(c.signal));
	iov[0].iov_base = &c;
	iov[0].iov_len = sizeof(c);
	m = h_frame(IPC_EN_SHELL_CLOSED, 0, iov, 1);
	ck_assert_int_eq(netrem_dispatch_exec(&h.nr, m), 0);
	ipc_free(m);
	s = json_dumps(h.out, JSON_COMPACT | JSON_SORT_KEYS);
	ck_assert_str_eq(s, "{\"code\":-1,\"reason\":\"signal: hangup\","
	    "\"session\":\"s1\",\"signal\":\"SIGHUP\"}");
	free(s);

	/* Not ours: the dialect carries on. */
	pl = J("{}");
	ck_assert_int_eq(netrem_event(&h.nr, "hello_ack", pl), 0);
	json_decref(pl);
	h_free(&h);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("remote");
	TCase	*tc = tcase_create("remote");

	tcase_add_test(tc, utf8_tail);
	tcase_add_test(tc, resize_bounds);
	tcase_add_test(tc, session_ids);
	tcase_add_test(tc, backup_parse);
	tcase_add_test(tc, github_user);
	tcase_add_test(tc, netrem_admin_round_trip);
	tcase_add_test(tc, netrem_shell_mapping);
	suite_add_tcase(s, tc);
	return tl_run(s);
}
