/*
 * check_jobplan.c: a job's meta and plan files, and the records derived
 * from meta and a journal (exec-worker/jobplan.c): exact lines, progress
 * and status per kind, the same sequence numbers on every derivation.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobplan.h"
#include "testlib.h"

#define MAXREC	128

struct got {
	int		 n;
	char		 type[MAXREC];	/* o, p, s */
	uint64_t	 seq[MAXREC];
	char		 text[MAXREC][256];
	size_t		 olen[MAXREC];		/* output bytes */
	char		 otail[MAXREC][8];	/* their last 4 */
	struct ipc_job_status st;
	int		 nstatus;
};

static void
g_output(void *arg, uint64_t seq, int stream, const char *s, size_t len)
{
	struct got	*g = arg;

	ck_assert_int_lt(g->n, MAXREC);
	g->type[g->n] = 'o';
	g->seq[g->n] = seq;
	snprintf(g->text[g->n], sizeof(g->text[0]), "%d %.*s", stream,
	    (int)len, s);
	g->olen[g->n] = len;
	memcpy(g->otail[g->n], s + (len > 4 ? len - 4 : 0), len > 4 ? 4 : len);
	g->n++;
}

static void
g_progress(void *arg, const struct ipc_job_progress *p)
{
	struct got	*g = arg;

	g->type[g->n] = 'p';
	g->seq[g->n] = p->seq;
	snprintf(g->text[g->n], sizeof(g->text[0]), "%u %u/%u %u p%u r%u %u",
	    p->phase, p->current, p->total, p->state, p->passed, p->running,
	    p->result);
	g->n++;
}

static void
g_status(void *arg, const struct ipc_job_status *s)
{
	struct got	*g = arg;

	g->type[g->n] = 's';
	g->seq[g->n] = s->seq;
	snprintf(g->text[g->n], sizeof(g->text[0]), "%u %d %s", s->status,
	    s->exit_code, s->message);
	g->st = *s;
	g->nstatus++;
	g->n++;
}

static const struct jobderive_out	 out = {
	g_output, g_progress, g_status, NULL
};

/* A journal as a list of records. */
struct feed {
	struct journal_rec	 r[64];
	uint8_t			 buf[64][32];
	int			 n;
};

static void
put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

static void
f_add(struct feed *f, int type, int flags, const void *data, size_t len)
{
	struct journal_rec	*r = &f->r[f->n];

	memset(r, 0, sizeof(*r));
	r->seq = f->n;
	r->type = type;
	r->flags = flags;
	r->len = len;
	r->data = data;
	f->n++;
}

static void
f_start(struct feed *f)
{
	memset(f->buf[f->n], 0, 16);
	put32(f->buf[f->n], 100);
	put32(f->buf[f->n] + 4, 101);
	f_add(f, JOURNAL_START, 0, f->buf[f->n], 16);
}

static void
f_step(struct feed *f, int type, int i, uint32_t a, uint32_t b)
{
	uint8_t	*p = f->buf[f->n];

	memset(p, 0, 16);
	put32(p, i);
	put32(p + 4, a);
	put32(p + 8, b);
	f_add(f, type, 0, p, type == JOURNAL_STEP_BEGIN ? 8 : 16);
}

static void
f_line(struct feed *f, int type, const char *s)
{
	f_add(f, type, JOURNAL_F_EOL, s, strlen(s));
}

static void
f_signal(struct feed *f, int sig)
{
	memset(f->buf[f->n], 0, 8);
	put32(f->buf[f->n], sig);
	f_add(f, JOURNAL_SIGNAL, 0, f->buf[f->n], 8);
}

static void
f_exit(struct feed *f, int how, int value)
{
	memset(f->buf[f->n], 0, 16);
	put32(f->buf[f->n], how);
	put32(f->buf[f->n] + 4, value);
	f_add(f, JOURNAL_EXIT, 0, f->buf[f->n], 16);
}

static void
derive(const struct jobmeta *m, const struct feed *f,
    const struct jobderive_ctx *ctx, struct got *g)
{
	struct jobderive	*d = malloc(sizeof(*d));
	struct jobderive_out	 o = out;

	ck_assert_ptr_nonnull(d);
	memset(g, 0, sizeof(*g));
	o.arg = g;
	jobderive_init(d, m, 7);
	for (int i = 0; i < f->n; i++)
		jobderive_rec(d, &f->r[i], ctx, &o);
	free(d);
}

static struct jobmeta *
meta_tests(int n)
{
	struct jobmeta	*m = calloc(1, sizeof(*m));

	m->kind = JOB_TEST;
	for (int i = 0; i < n; i++) {
		m->step[i].flags = JM_SF_TEST;
		snprintf(m->step[i].label, sizeof(m->step[i].label), "%c.sh",
		    'a' + i);
	}
	m->nsteps = m->ntests = n;
	return m;
}

START_TEST(test_meta_roundtrip)
{
	struct jobmeta	*m = meta_tests(2), *b = calloc(1, sizeof(*b));
	char		*t;
	size_t		 len;

	strlcpy(m->pre[m->npre++], "⏭ c.sh skipped (not executable)",
	    JM_TEXT_MAX);
	strlcpy(m->step[1].warn, "⚠️ git clean failed (exit ", JM_TEXT_MAX);
	strlcpy(m->log, "/s/logs/update-agent-20261202T002000Z.log",
	    sizeof(m->log));
	ck_assert_ptr_nonnull(t = jobmeta_encode(m, &len));
	ck_assert_int_eq(jobmeta_decode(t, len, b), 0);
	ck_assert_int_eq(b->kind, JOB_TEST);
	ck_assert_int_eq(b->nsteps, 2);
	ck_assert_int_eq(b->ntests, 2);
	ck_assert_str_eq(b->pre[0], m->pre[0]);
	ck_assert_str_eq(b->step[1].label, "b.sh");
	ck_assert_str_eq(b->step[1].warn, m->step[1].warn);
	ck_assert_str_eq(b->log, m->log);
	/* Cut anywhere, or an unknown key: refused, never half-read. */
	ck_assert_int_eq(jobmeta_decode(t, len - 1, b), -1);
	ck_assert_int_eq(jobmeta_decode("kind 4\nbogus 1\n", 15, b), -1);
	ck_assert_int_eq(jobmeta_decode("kind 99\n", 8, b), -1);
	/* A newline in a text cannot be encoded. */
	strlcpy(m->post, "a\nb", sizeof(m->post));
	ck_assert_ptr_null(jobmeta_encode(m, &len));
	free(t);
	free(m);
	free(b);
}
END_TEST

START_TEST(test_plan_encode)
{
	char			*argv[] = { "git", "-C", "/r", "pull", NULL };
	char			*env[] = { "PATH=/bin", "BAD=a\nb", NULL };
	char			*bad[] = { "echo", "x\ny", NULL };
	struct jobplan_step	 s[2];
	char			*t;
	size_t			 len;

	memset(s, 0, sizeof(s));
	s[0].argv = argv;
	s[0].envp = env;
	s[0].cwd = "/r";
	s[0].uid = 1000;
	s[0].gid = 100;
	s[1].argv = argv;
	s[1].uid = s[1].gid = -1;
	s[1].cont = 1;
	s[1].timeout_ms = 60000;
	s[1].log = "/s/l";
	ck_assert_ptr_nonnull(t = jobplan_encode(s, 2, &len));
	ck_assert_str_eq(t, "nixfleet-plan 1\nstep\nflags 0\nuid 1000\n"
	    "gid 100\ndir /r\narg git\narg -C\narg /r\narg pull\n"
	    "env PATH=/bin\nend\nstep\nflags 1\ntimeout 60000\nlog /s/l\n"
	    "arg git\narg -C\narg /r\n"
	    "arg pull\nend\n");
	free(t);
	s[0].argv = bad;
	ck_assert_ptr_null(jobplan_encode(s, 1, &len));
}
END_TEST

/* §6.4: two scripts, the second fails: lines, progress, verdict. */
START_TEST(test_derive_tests)
{
	struct jobmeta		*m = meta_tests(2);
	struct jobderive_ctx	 ctx;
	struct feed		 f;
	struct got		 g, g2;

	memset(&ctx, 0, sizeof(ctx));
	memset(&f, 0, sizeof(f));
	f_start(&f);
	f_step(&f, JOURNAL_STEP_BEGIN, 0, 101, 0);
	f_line(&f, JOURNAL_STDOUT, "hello");
	f_step(&f, JOURNAL_STEP_END, 0, JOURNAL_EXITED, 0);
	f_step(&f, JOURNAL_STEP_BEGIN, 1, 102, 0);
	f_line(&f, JOURNAL_STDERR, "oops");
	f_step(&f, JOURNAL_STEP_END, 1, JOURNAL_EXITED, 2);
	f_exit(&f, JOURNAL_EXITED, 0);
	derive(m, &f, &ctx, &g);
	ck_assert_int_eq(g.n, 12);
	ck_assert_str_eq(g.text[0], "4 0/8 2 p0 r0 0");
	ck_assert_str_eq(g.text[1], "5 1/2 0 p0 r1 0");
	ck_assert_str_eq(g.text[2], "3 ▶ a.sh");
	ck_assert_str_eq(g.text[3], "1 hello");
	ck_assert_str_eq(g.text[4], "3 ✅ a.sh passed");
	ck_assert_str_eq(g.text[5], "5 2/2 0 p1 r1 0");
	ck_assert_str_eq(g.text[6], "3 ▶ b.sh");
	ck_assert_str_eq(g.text[7], "2 oops");
	ck_assert_str_eq(g.text[8], "4 ❌ b.sh failed (exit 2)");
	ck_assert_str_eq(g.text[9], "5 2/2 0 p1 r0 1");
	ck_assert_str_eq(g.text[10], "4 0/8 4 p0 r0 0");
	ck_assert_str_eq(g.text[11], "2 1 1/2 passed; failed: b.sh");
	ck_assert_int_eq(g.nstatus, 1);
	for (int i = 0; i < g.n; i++)
		ck_assert_uint_eq(g.seq[i], (uint64_t)i + 1);
	/* Derived again from the start: the same records, the same numbers. */
	derive(m, &f, &ctx, &g2);
	ck_assert_int_eq(g2.n, g.n);
	for (int i = 0; i < g.n; i++) {
		ck_assert_uint_eq(g2.seq[i], g.seq[i]);
		ck_assert_str_eq(g2.text[i], g.text[i]);
	}
	free(m);
}
END_TEST

/* §6.4 stop: the banner where the signal was recorded, one status. */
START_TEST(test_derive_stop)
{
	struct jobmeta		*m = meta_tests(1);
	struct jobderive_ctx	 ctx;
	struct feed		 f;
	struct got		 g;

	memset(&ctx, 0, sizeof(ctx));
	ctx.how = JOB_STOP;
	ctx.sig = JOB_SIG_TERM;
	memset(&f, 0, sizeof(f));
	f_start(&f);
	f_step(&f, JOURNAL_STEP_BEGIN, 0, 101, 0);
	f_signal(&f, SIGTERM);
	f_signal(&f, SIGKILL);
	f_step(&f, JOURNAL_STEP_END, 0, JOURNAL_SIGNALED, 9);
	f_exit(&f, JOURNAL_SIGNALED, 9);
	derive(m, &f, &ctx, &g);
	ck_assert_int_eq(g.nstatus, 1);
	ck_assert_str_eq(g.text[3], "3 ⏹ Stopping test (SIGTERM)");
	ck_assert_str_eq(g.text[g.n - 3], "5 1/1 0 p0 r0 3");
	ck_assert_str_eq(g.text[g.n - 1], "3 130 Stopped by user");
	free(m);
	/* kill of a switch: error, -1, killed by SIGTERM. */
	m = calloc(1, sizeof(*m));
	m->kind = JOB_SWITCH;
	m->nsteps = 1;
	ctx.how = JOB_KILL;
	memset(&f, 0, sizeof(f));
	f_start(&f);
	f_step(&f, JOURNAL_STEP_BEGIN, 0, 101, 0);
	f_signal(&f, SIGTERM);
	f_step(&f, JOURNAL_STEP_END, 0, JOURNAL_SIGNALED, 15);
	f_exit(&f, JOURNAL_SIGNALED, 15);
	derive(m, &f, &ctx, &g);
	ck_assert_int_eq(g.nstatus, 1);
	ck_assert_str_eq(g.text[1], "3 ⚠️ Received kill command (SIGTERM)");
	ck_assert_str_eq(g.text[g.n - 1], "2 -1 killed by SIGTERM");
	free(m);
}
END_TEST

/* pull-switch: a failed pull step is exit 1, and a warning step is not. */
START_TEST(test_derive_pull_switch)
{
	struct jobmeta		*m = calloc(1, sizeof(*m));
	struct jobderive_ctx	 ctx;
	struct feed		 f;
	struct got		 g;

	m->kind = JOB_PULL_SWITCH;
	m->nsteps = 3;
	m->step[0].flags = JM_SF_PULLSTEP;
	m->step[1].flags = JM_SF_PULLSTEP | JM_SF_WARN;
	strlcpy(m->step[1].warn, "⚠️ git clean failed (exit ", JM_TEXT_MAX);
	m->step[2].flags = JM_SF_PHASE2;
	memset(&ctx, 0, sizeof(ctx));
	memset(&f, 0, sizeof(f));
	f_start(&f);
	f_step(&f, JOURNAL_STEP_BEGIN, 0, 101, 0);
	f_step(&f, JOURNAL_STEP_END, 0, JOURNAL_EXITED, 0);
	f_step(&f, JOURNAL_STEP_BEGIN, 1, 102, 0);
	f_step(&f, JOURNAL_STEP_END, 1, JOURNAL_EXITED, 1);
	f_step(&f, JOURNAL_STEP_BEGIN, 2, 103, 0);
	f_step(&f, JOURNAL_STEP_END, 2, JOURNAL_EXITED, 0);
	f_exit(&f, JOURNAL_EXITED, 0);
	derive(m, &f, &ctx, &g);
	ck_assert_str_eq(g.text[0], "1 0/4 2 p0 r0 0");
	ck_assert_str_eq(g.text[1], "4 ⚠️ git clean failed (exit 1), "
	    "continuing");
	ck_assert_str_eq(g.text[2], "1 4/4 3 p0 r0 0");
	ck_assert_str_eq(g.text[3], "3 0/3 2 p0 r0 0");
	ck_assert_str_eq(g.text[4], "3 3/3 3 p0 r0 0");
	ck_assert_str_eq(g.text[5], "1 0 ");
	ck_assert_uint_eq(g.st.after, JOB_AFTER_EXIT_SWITCH);

	memset(&f, 0, sizeof(f));
	f_start(&f);
	f_step(&f, JOURNAL_STEP_BEGIN, 0, 101, 0);
	f_step(&f, JOURNAL_STEP_END, 0, JOURNAL_EXITED, 128);
	f_exit(&f, JOURNAL_EXITED, 128);
	derive(m, &f, &ctx, &g);
	ck_assert_str_eq(g.text[g.n - 2], "1 0/4 4 p0 r0 0");
	ck_assert_str_eq(g.text[g.n - 1], "2 1 pull failed (exit 128)");
	ck_assert_uint_eq(g.st.after, JOB_AFTER_NONE);
	free(m);
}
END_TEST

/* §6.5: update-agent's banner, its lines, and the status with the log. */
START_TEST(test_derive_update_agent)
{
	struct jobmeta		*m = calloc(1, sizeof(*m));
	struct jobderive_ctx	 ctx;
	struct feed		 f;
	struct got		 g;

	m->kind = JOB_UPDATE_AGENT;
	m->nsteps = 1;
	strlcpy(m->pre[m->npre++], "⬆️ Agent update started (detached); "
	    "log: /s/logs/u.log", JM_TEXT_MAX);
	strlcpy(m->log, "/s/logs/u.log", sizeof(m->log));
	memset(&ctx, 0, sizeof(ctx));
	memset(&f, 0, sizeof(f));
	f_start(&f);
	f_step(&f, JOURNAL_STEP_BEGIN, 0, 101, 0);
	f_line(&f, JOURNAL_STDOUT, "pulling");
	f_step(&f, JOURNAL_STEP_END, 0, JOURNAL_EXITED, 3);
	f_exit(&f, JOURNAL_EXITED, 3);
	derive(m, &f, &ctx, &g);
	ck_assert_int_eq(g.n, 3);
	ck_assert_str_eq(g.text[0], "3 ⬆️ Agent update started (detached); "
	    "log: /s/logs/u.log");
	ck_assert_str_eq(g.text[1], "1 pulling");
	ck_assert_str_eq(g.text[2], "2 3 update failed (exit 3), see "
	    "/s/logs/u.log");
	ck_assert_uint_eq(g.st.after, JOB_AFTER_NONE);

	memset(&f, 0, sizeof(f));
	f_start(&f);
	f_step(&f, JOURNAL_STEP_BEGIN, 0, 101, 0);
	f_step(&f, JOURNAL_STEP_END, 0, JOURNAL_EXITED, 0);
	f_exit(&f, JOURNAL_EXITED, 0);
	derive(m, &f, &ctx, &g);
	ck_assert_str_eq(g.text[g.n - 1], "1 0 update complete, restarting");
	/* Exit 101 (0 on macOS) once the status is out, as after a switch. */
	ck_assert_uint_eq(g.st.after, JOB_AFTER_EXIT_SWITCH);
	free(m);
}
END_TEST

/*
 * §3.5: the lock re-check is the captured last step of a pull; its
 * verdict is in the compartment before the status, its output is not
 * sent, and a failing git only changes the compartment.
 */
START_TEST(test_derive_lock_recheck)
{
	struct jobmeta			*m = calloc(1, sizeof(*m));
	struct jobs_compartments	 sc;
	struct jobderive_ctx		 ctx;
	struct feed			 f;
	struct got			 g;

	m->kind = JOB_UPDATE;
	m->nsteps = 2;
	m->step[1].flags = JM_SF_CAPTURE | JM_SF_LOCK;
	memset(&sc, 0, sizeof(sc));
	memset(&ctx, 0, sizeof(ctx));
	ctx.sc = &sc;
	ctx.now = 1764634800;			/* 2025-12-02 00:20:00Z */
	memset(&f, 0, sizeof(f));
	f_start(&f);
	f_step(&f, JOURNAL_STEP_BEGIN, 0, 101, 0);
	f_line(&f, JOURNAL_STDOUT, "updated");
	f_step(&f, JOURNAL_STEP_END, 0, JOURNAL_EXITED, 0);
	f_step(&f, JOURNAL_STEP_BEGIN, 1, 102, 0);
	f_line(&f, JOURNAL_STDOUT, "2025-11-29 10:00:00 +0100");
	f_line(&f, JOURNAL_STDERR, "noise");
	f_step(&f, JOURNAL_STEP_END, 1, JOURNAL_EXITED, 0);
	f_exit(&f, JOURNAL_EXITED, 0);
	derive(m, &f, &ctx, &g);
	ck_assert_int_eq(g.n, 2);
	ck_assert_str_eq(g.text[0], "1 updated");
	ck_assert_str_eq(g.text[1], "1 0 ");
	ck_assert_str_eq(sc.lock.status, "ok");
	ck_assert_str_eq(sc.lock.message, "Updated 2 days ago");
	ck_assert_str_eq(sc.lock.checked_at, "2025-12-02T00:20:00Z");
	/* flake.lock gone by the end: not found, whatever git said. */
	ctx.no_lock = 1;
	derive(m, &f, &ctx, &g);
	ck_assert_str_eq(sc.lock.message, "flake.lock not found");
	/* git killed at its limit. */
	ctx.no_lock = 0;
	memset(&f, 0, sizeof(f));
	f_start(&f);
	f_step(&f, JOURNAL_STEP_BEGIN, 0, 101, 0);
	f_step(&f, JOURNAL_STEP_END, 0, JOURNAL_EXITED, 0);
	f_step(&f, JOURNAL_STEP_BEGIN, 1, 102, 0);
	f_step(&f, JOURNAL_STEP_END, 1, JOURNAL_SIGNALED, SIGKILL);
	f_exit(&f, JOURNAL_EXITED, 0);
	derive(m, &f, &ctx, &g);
	ck_assert_str_eq(g.text[g.n - 1], "1 0 ");
	ck_assert_str_eq(sc.lock.status, "error");
	ck_assert_str_eq(sc.lock.message, "Failed to check flake.lock: "
	    "signal: killed");
	free(m);
}
END_TEST

/* refresh-system (§3.5): up to date, nix's error text, the time limit. */
START_TEST(test_derive_system)
{
	struct jobmeta			*m = calloc(1, sizeof(*m));
	struct jobs_compartments	 sc;
	struct jobderive_ctx		 ctx;
	struct feed			 f;
	struct got			 g;

	m->kind = JOB_REFRESH_SYSTEM;
	m->nsteps = 1;
	m->step[0].flags = JM_SF_CAPTURE | JM_SF_SYSTEM;
	memset(&sc, 0, sizeof(sc));
	memset(&ctx, 0, sizeof(ctx));
	ctx.sc = &sc;
	ctx.current = "/nix/store/abc-sys";
	memset(&f, 0, sizeof(f));
	f_start(&f);
	f_step(&f, JOURNAL_STEP_BEGIN, 0, 101, 0);
	f_line(&f, JOURNAL_STDOUT, "[{\"out\":\"/nix/store/abc-sys\"}]");
	f_step(&f, JOURNAL_STEP_END, 0, JOURNAL_EXITED, 0);
	f_exit(&f, JOURNAL_EXITED, 0);
	derive(m, &f, &ctx, &g);
	ck_assert_str_eq(g.text[g.n - 1], "1 0 System up to date");
	ck_assert_str_eq(sc.system.status, "ok");
	ctx.current = "/nix/store/def-sys";
	derive(m, &f, &ctx, &g);
	ck_assert_str_eq(g.text[g.n - 1], "1 0 Rebuild needed");
	ck_assert_str_eq(sc.system.status, "outdated");

	memset(&f, 0, sizeof(f));
	f_start(&f);
	f_step(&f, JOURNAL_STEP_BEGIN, 0, 101, 0);
	f_line(&f, JOURNAL_STDERR, "error: flake has no");
	f_line(&f, JOURNAL_STDERR, "error: no such attr");
	f_step(&f, JOURNAL_STEP_END, 0, JOURNAL_EXITED, 1);
	f_exit(&f, JOURNAL_EXITED, 0);
	derive(m, &f, &ctx, &g);
	ck_assert_int_eq(g.n, 1);
	ck_assert_str_eq(g.text[0], "1 0 error: no such attr");
	ck_assert_str_eq(sc.system.status, "error");

	memset(&f, 0, sizeof(f));
	f_start(&f);
	f_step(&f, JOURNAL_STEP_BEGIN, 0, 101, 0);
	f_step(&f, JOURNAL_STEP_END, 0, JOURNAL_SIGNALED, SIGKILL);
	f_exit(&f, JOURNAL_SIGNALED, SIGKILL);
	derive(m, &f, &ctx, &g);
	ck_assert_str_eq(g.text[g.n - 1], "1 0 timed out after 60s");
	ck_assert_str_eq(sc.system.status, "error");
	free(m);
}
END_TEST

/* macOS rollback without a previous generation: a clear error. */
START_TEST(test_derive_rollback_none)
{
	struct jobmeta			*m = calloc(1, sizeof(*m));
	struct jobs_compartments	 sc;
	struct jobderive_ctx		 ctx;
	struct jobderive		*d = malloc(sizeof(*d));
	struct jobderive_out		 o = out;
	struct got			 g;

	m->kind = JOB_ROLLBACK;
	strlcpy(m->pre[m->npre++], "🔄 Rolling back to previous "
	    "generation...", JM_TEXT_MAX);
	memset(&sc, 0, sizeof(sc));
	memset(&ctx, 0, sizeof(ctx));
	ctx.sc = &sc;
	memset(&g, 0, sizeof(g));
	o.arg = &g;
	jobderive_init(d, m, 7);
	jobderive_immediate(d, &ctx, &o, 1, 1);
	ck_assert_int_eq(g.n, 2);
	ck_assert_str_eq(g.text[0], "3 🔄 Rolling back to previous "
	    "generation...");
	ck_assert_str_eq(g.text[1], "2 1 no previous Home Manager generation");
	ck_assert_str_eq(sc.system.status, "error");
	ck_assert_str_eq(sc.system.message, "Switch failed (exit 1)");
	free(d);
	free(m);
}
END_TEST

/* A runner that died: what it wrote, then one error status. */
START_TEST(test_derive_truncated)
{
	struct jobmeta		*m = calloc(1, sizeof(*m));
	struct jobderive_ctx	 ctx;
	struct jobderive	*d = malloc(sizeof(*d));
	struct jobderive_out	 o = out;
	struct feed		 f;
	struct got		 g;

	m->kind = JOB_UPDATE;
	m->nsteps = 1;
	memset(&ctx, 0, sizeof(ctx));
	memset(&f, 0, sizeof(f));
	memset(&g, 0, sizeof(g));
	o.arg = &g;
	f_start(&f);
	f_step(&f, JOURNAL_STEP_BEGIN, 0, 101, 0);
	f_add(&f, JOURNAL_STDOUT, 0, "half a li", 9);
	jobderive_init(d, m, 3);
	for (int i = 0; i < f.n; i++)
		jobderive_rec(d, &f.r[i], &ctx, &o);
	jobderive_end(d, 1, &ctx, &o);
	jobderive_end(d, 1, &ctx, &o);		/* once only */
	ck_assert_int_eq(g.nstatus, 1);
	ck_assert_str_eq(g.text[0], "1 half a li");
	ck_assert_str_eq(g.text[g.n - 1], "2 -1 command failed");
	free(d);
	free(m);
}
END_TEST

/* 2.5: a long line splits between characters; CRLF loses its \r. */
START_TEST(test_derive_split_utf8_crlf)
{
	struct jobmeta		*m = calloc(1, sizeof(*m));
	struct jobderive_ctx	 ctx;
	struct feed		 f;
	struct got		 g;
	static char		 line[IPC_JOB_LINE_MAX + 8];

	m->kind = JOB_UPDATE;
	m->nsteps = 1;
	memset(&ctx, 0, sizeof(ctx));
	memset(&f, 0, sizeof(f));
	/* "é" would straddle the 32 768-byte cut. */
	memset(line, 'a', IPC_JOB_LINE_MAX - 1);
	memcpy(line + IPC_JOB_LINE_MAX - 1, "\xc3\xa9" "b", 3);
	f_start(&f);
	f_step(&f, JOURNAL_STEP_BEGIN, 0, 101, 0);
	f_add(&f, JOURNAL_STDOUT, JOURNAL_F_EOL, line, IPC_JOB_LINE_MAX + 2);
	f_line(&f, JOURNAL_STDOUT, "dos line\r");
	f_line(&f, JOURNAL_STDERR, "\r");
	f_step(&f, JOURNAL_STEP_END, 0, JOURNAL_EXITED, 0);
	f_exit(&f, JOURNAL_EXITED, 0);
	derive(m, &f, &ctx, &g);
	ck_assert_int_ge(g.n, 4);
	ck_assert_uint_eq(g.olen[0], IPC_JOB_LINE_MAX - 1);
	ck_assert_uint_eq(g.olen[1], 3);
	ck_assert_str_eq(g.text[1], "1 \xc3\xa9" "b");
	ck_assert_str_eq(g.text[2], "1 dos line");
	ck_assert_str_eq(g.text[3], "2 ");
	free(m);
}
END_TEST

START_TEST(test_interrupt_parse)
{
	int	 how, sig;

	ck_assert_int_eq(jobplan_interrupt_parse("5 1\n", &how, &sig), 0);
	ck_assert_int_eq(how, JOB_STOP);
	ck_assert_int_eq(jobplan_interrupt_parse("18 2\n", &how, &sig), 0);
	ck_assert_int_eq(jobplan_interrupt_parse("x", &how, &sig), -1);
}
END_TEST

static Suite *
jobplan_suite(void)
{
	Suite	*s = suite_create("jobplan");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, test_meta_roundtrip);
	tcase_add_test(tc, test_plan_encode);
	tcase_add_test(tc, test_derive_tests);
	tcase_add_test(tc, test_derive_split_utf8_crlf);
	tcase_add_test(tc, test_derive_stop);
	tcase_add_test(tc, test_derive_pull_switch);
	tcase_add_test(tc, test_derive_truncated);
	tcase_add_test(tc, test_derive_update_agent);
	tcase_add_test(tc, test_derive_lock_recheck);
	tcase_add_test(tc, test_derive_system);
	tcase_add_test(tc, test_derive_rollback_none);
	tcase_add_test(tc, test_interrupt_parse);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tl_run(jobplan_suite());
}
