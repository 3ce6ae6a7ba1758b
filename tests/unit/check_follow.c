/*
 * check_follow.c: the journal follower (follow.h), the same cases for
 * every backend: built as check_follow with the build's own (inotify
 * here) and, with -DFOLLOW_KQUEUE, as check_follow_kqueue with
 * follow-kqueue.c on tests/lib/kqueue.c (kqueue's vnode filter on
 * inotify).  A journal appended to, our delivery marker ignored, the
 * runner's end, a job that appears after its watch, two jobs told
 * apart, a deleted job, a removed watch.
 *
 * f.calls counts the callbacks events made, f.ticks those of the
 * kqueue follower's liveness tick (always 0 with inotify).
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "follow.h"
#include "journal.h"
#include "testlib.h"

#ifdef FOLLOW_KQUEUE
#define BACKEND		"kqueue"
#else
#define BACKEND		"native"
#endif

static char	*tmp;

static void
setup(void)
{
	tmp = tl_mkdtemp();
}

static void
teardown(void)
{
	tl_rmtree(tmp);
	free(tmp);
}

struct fx {
	struct ev_loop	*loop;
	struct follow	 f;
	uint64_t	 id[4];		/* ids seen, and how often */
	int		 n[4];		/* callbacks */
	int		 e[4];		/* of them, made by events */
	uint64_t	 last_calls;
	uint64_t	 wait_id;
	int		 wait_n, wait_ev;
	ev_timer	 check, guard;
};

static int
fx_count(struct fx *x, uint64_t id)
{
	for (size_t i = 0; i < nitems(x->id); i++)
		if (x->id[i] == id)
			return x->n[i];
	return 0;
}

/* The callbacks an event made (not the kqueue follower's tick). */
static int
fx_events(struct fx *x, uint64_t id)
{
	for (size_t i = 0; i < nitems(x->id); i++)
		if (x->id[i] == id)
			return x->e[i];
	return 0;
}

static void
fx_cb(uint64_t id, void *arg)
{
	struct fx	*x = arg;
	size_t		 i;

	for (i = 0; i < nitems(x->id) && x->id[i] != id && x->id[i] != 0; i++)
		;
	ck_assert_uint_lt(i, nitems(x->id));
	x->id[i] = id;
	x->n[i]++;
	/* The follower counts a call before it makes it. */
	if (x->f.calls != x->last_calls)
		x->e[i]++;
	x->last_calls = x->f.calls;
}

static void
fx_check_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct fx	*x = t->data;

	if (x->wait_n > 0 && (x->wait_ev ? fx_events(x, x->wait_id) :
	    fx_count(x, x->wait_id)) >= x->wait_n)
		ev_break(loop, EVBREAK_ALL);
}

static void
fx_guard_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

static void
fx_init(struct fx *x)
{
	memset(x, 0, sizeof(*x));
	x->loop = ev_loop_new(EVFLAG_AUTO);
	ck_assert_int_eq(follow_init(&x->f, x->loop, fx_cb, x), 0);
	ev_timer_init(&x->check, fx_check_cb, 0.01, 0.01);
	x->check.data = x;
	ev_timer_init(&x->guard, fx_guard_cb, 0, 0);
}

static void
fx_run(struct fx *x, double secs)
{
	ev_timer_start(x->loop, &x->check);
	ev_timer_set(&x->guard, secs, 0);
	ev_timer_start(x->loop, &x->guard);
	ev_run(x->loop, 0);
	ev_timer_stop(x->loop, &x->check);
	ev_timer_stop(x->loop, &x->guard);
}

/* Run until id has had n callbacks (or secs); its count. */
static int
fx_wait(struct fx *x, uint64_t id, int n, double secs)
{
	x->wait_id = id;
	x->wait_n = n;
	fx_run(x, secs);
	x->wait_n = 0;
	return fx_count(x, id);
}

/* The same for callbacks made by events. */
static int
fx_wait_ev(struct fx *x, uint64_t id, int n, double secs)
{
	x->wait_ev = 1;
	fx_wait(x, id, n, secs);
	x->wait_ev = 0;
	return fx_events(x, id);
}

/* Only run the loop for secs. */
static void
fx_idle(struct fx *x, double secs)
{
	x->wait_n = 0;
	fx_run(x, secs);
}

static void
fx_done(struct fx *x)
{
	follow_close(&x->f);
	ev_loop_destroy(x->loop);
}

static char *
jobdir(const char *name)
{
	char	*p = tl_path(tmp, name);

	ck_assert_int_eq(mkdir(p, 0700), 0);
	return p;
}

static int
dopen(const char *path)
{
	int	 fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	ck_assert_msg(fd != -1, "open %s", path);
	return fd;
}

/* <dir>/lock held as a runner holds it; close the fd to release it. */
static int
hold_lock(int dfd)
{
	int	 fd = openat(dfd, JOURNAL_LOCK, O_RDWR | O_CREAT | O_CLOEXEC,
	    0600);

	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(flock(fd, LOCK_EX | LOCK_NB), 0);
	return fd;
}

static void
unlink_in(const char *dir, const char *name)
{
	char	*p = tl_path(dir, name);

	ck_assert_msg(unlink(p) == 0, "unlink %s", p);
	free(p);
}

static void
append(struct journal_writer *w)
{
	ck_assert_int_eq(journal_append(w, JOURNAL_STDOUT, JOURNAL_F_EOL,
	    "x", 1), 0);
}

START_TEST(test_follow_append)
{
	struct fx		 x;
	struct journal_writer	 w;
	struct journal_ack	 a = { 1, 0 };
	char			*dir = jobdir("0000000001");
	int			 dfd = dopen(dir), lfd = hold_lock(dfd);
	uint64_t		 calls, ticks, wakeups;

	ck_assert_int_eq(journal_writer_open(&w, dfd), 0);
	fx_init(&x);
	ck_assert_int_eq(follow_add(&x.f, 1, dir), 0);
	/* One at a time, so a loaded machine cannot fold two. */
	for (int i = 1; i <= 5; i++) {
		append(&w);
		ck_assert_msg(fx_wait_ev(&x, 1, fx_events(&x, 1) + 1, 5) >= i,
		    BACKEND ": append %d unheard", i);
	}
	ck_assert_msg(x.f.calls >= 5 && x.f.calls <= 7, BACKEND ": calls %"
	    PRIu64, x.f.calls);
	ck_assert_uint_le(x.f.wakeups, x.f.calls + 1);

	/* Our own delivery marker, replaced every 50 ms: no call. */
	calls = x.f.calls;
	for (int i = 0; i < 6; i++) {
		a.next_seq = i + 1;
		ck_assert_int_eq(journal_ack_write(dfd, &a), 0);
		fx_idle(&x, 0.05);
	}
	fx_idle(&x, 0.2);
	ck_assert_msg(x.f.calls == calls, BACKEND ": %" PRIu64 " calls for "
	    "the marker", x.f.calls - calls);

	/* The runner ends without a record: heard within 3 s. */
	calls = x.f.calls + x.f.ticks;
	journal_writer_close(&w);
	close(lfd);
	x.wait_id = 1;
	fx_wait(&x, 1, fx_count(&x, 1) + 1, 3);
	ck_assert_msg(x.f.calls + x.f.ticks > calls, BACKEND ": the runner's "
	    "end unheard");

	/* Removed: silent, the tick included. */
	follow_remove(&x.f, 1);
	calls = x.f.calls;
	ticks = x.f.ticks;
	wakeups = x.f.wakeups;
	{
		int	 fd = openat(dfd, JOURNAL_FILE, O_WRONLY | O_APPEND);

		ck_assert_int_ne(fd, -1);
		ck_assert_int_eq(write(fd, "zz", 2), 2);
		close(fd);
	}
	fx_idle(&x, 2.5);
	ck_assert_uint_eq(x.f.calls, calls);
	ck_assert_uint_eq(x.f.ticks, ticks);
	ck_assert_uint_le(x.f.wakeups, wakeups + 1);
	fx_done(&x);
	close(dfd);
	free(dir);
}
END_TEST

START_TEST(test_follow_new_job)
{
	struct fx		 x;
	struct journal_writer	 w7, w8;
	char			*d7 = jobdir("0000000007");
	char			*d8 = jobdir("0000000008");
	char			*meta = tl_path(d7, "meta");
	int			 f7 = dopen(d7), f8 = dopen(d8), l7, l8;
	uint64_t		 wakeups;
	int			 n7;

	/*
	 * As jobrun_create(): the directory and its meta exist, the watch
	 * is added, then the runner takes its lock and creates its journal.
	 */
	tl_write_file(meta, "kind=test\n", 0600);
	fx_init(&x);
	ck_assert_int_eq(follow_add(&x.f, 7, d7), 0);
	ck_assert_int_eq(follow_add(&x.f, 8, d8), 0);
	fx_idle(&x, 0.1);
	ck_assert_int_eq(fx_count(&x, 7) + fx_count(&x, 8), 0);

	/* Nothing happens: nothing wakes us (the tick is no wakeup). */
	wakeups = x.f.wakeups;
	fx_idle(&x, 0.5);
	ck_assert_uint_eq(x.f.wakeups, wakeups);

	l7 = hold_lock(f7);
	ck_assert_int_eq(journal_writer_open(&w7, f7), 0);
	ck_assert_msg(fx_wait_ev(&x, 7, 1, 5) >= 1, BACKEND ": the "
	    "journal's creation unheard");
	n7 = fx_events(&x, 7);
	append(&w7);
	ck_assert_msg(fx_wait_ev(&x, 7, n7 + 1, 5) > n7, BACKEND ": a record "
	    "of the new job unheard");

	/* The other job's records call back the other id only. */
	n7 = fx_events(&x, 7);
	l8 = hold_lock(f8);
	ck_assert_int_eq(journal_writer_open(&w8, f8), 0);
	append(&w8);
	ck_assert_int_ge(fx_wait_ev(&x, 8, 1, 5), 1);
	fx_idle(&x, 0.1);
	ck_assert_int_eq(fx_events(&x, 7), n7);
	n7 = fx_events(&x, 8);
	append(&w8);
	ck_assert_int_gt(fx_wait_ev(&x, 8, n7 + 1, 5), n7);

	journal_writer_close(&w7);
	journal_writer_close(&w8);
	close(l7);
	close(l8);
	fx_done(&x);
	close(f7);
	close(f8);
	free(meta);
	free(d7);
	free(d8);
}
END_TEST

START_TEST(test_follow_deleted)
{
	struct fx		 x;
	struct journal_writer	 w;
	struct journal_ack	 a = { 3, 1 };
	char			*dir = jobdir("0000000009");
	int			 dfd = dopen(dir), lfd = hold_lock(dfd);
	uint64_t		 calls;

	/* An ended, delivered job, as retention finds it. */
	ck_assert_int_eq(journal_writer_open(&w, dfd), 0);
	append(&w);
	journal_writer_close(&w);
	close(lfd);
	ck_assert_int_eq(journal_ack_write(dfd, &a), 0);
	close(dfd);
	fx_init(&x);
	ck_assert_int_eq(follow_add(&x.f, 9, dir), 0);
	fx_idle(&x, 0.1);

	/*
	 * Removed from under the watch, as retention does it: the files,
	 * then the directory, whose removal is heard on its own. No crash,
	 * and the watch is dead after it. kqueue also hears the journal's
	 * unlink (it holds the journal open); inotify's watch takes no
	 * IN_DELETE (retention removes only jobs nobody follows any more).
	 */
	calls = fx_events(&x, 9);
	unlink_in(dir, JOURNAL_FILE);
#ifdef FOLLOW_KQUEUE
	ck_assert_msg(fx_wait_ev(&x, 9, calls + 1, 5) > (int)calls, BACKEND
	    ": the journal's deletion unheard");
#endif
	unlink_in(dir, JOURNAL_ACK);
	unlink_in(dir, JOURNAL_LOCK);
	fx_idle(&x, 0.2);
	calls = fx_events(&x, 9);
	ck_assert_int_eq(rmdir(dir), 0);
	ck_assert_msg(fx_wait_ev(&x, 9, calls + 1, 5) > (int)calls, BACKEND
	    ": the directory's deletion unheard");

	/* A new directory by the same name is not the old job's. */
	fx_idle(&x, 0.2);
	calls = x.f.calls;
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	dfd = dopen(dir);
	lfd = hold_lock(dfd);
	ck_assert_int_eq(journal_writer_open(&w, dfd), 0);
	append(&w);
	fx_idle(&x, 0.3);
	ck_assert_uint_eq(x.f.calls, calls);
	follow_remove(&x.f, 9);
	follow_remove(&x.f, 12345);	/* unknown: nothing */
	journal_writer_close(&w);
	close(lfd);
	close(dfd);
	fx_done(&x);
	free(dir);
}
END_TEST

START_TEST(test_follow_missing)
{
	struct fx	 x;
	char		*dir = tl_path(tmp, "absent");

	fx_init(&x);
	errno = 0;
	ck_assert_int_eq(follow_add(&x.f, 3, dir), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_uint_eq(x.f.nw, 0);
	fx_done(&x);
	free(dir);
}
END_TEST

static Suite *
follow_suite(void)
{
	Suite	*s = suite_create("follow-" BACKEND);
	TCase	*tc = tcase_create("follow");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_follow_append);
	tcase_add_test(tc, test_follow_new_job);
	tcase_add_test(tc, test_follow_deleted);
	tcase_add_test(tc, test_follow_missing);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tl_run(follow_suite());
}
