/*
 * jobplan.c: a job's plan and meta files, and the derivation of the
 * dialect's records from meta and the journal (jobplan.h).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "jobplan.h"
#include "utf8.h"

/* ---------------------------------------------------------------- */
/* Text files */

struct sbuf {
	char	*s;
	size_t	 len, cap;
	int	 bad;
};

static void
sb_add(struct sbuf *b, const char *key, const char *val)
{
	size_t	 need = strlen(key) + 1 + (val ? strlen(val) : 0) + 2;
	char	*n;

	if (b->bad)
		return;
	if (val != NULL && strchr(val, '\n') != NULL) {
		b->bad = EINVAL;
		return;
	}
	if (b->len + need + 1 > b->cap) {
		b->cap = (b->len + need + 1) * 2;
		if ((n = realloc(b->s, b->cap)) == NULL) {
			b->bad = ENOMEM;
			return;
		}
		b->s = n;
	}
	b->len += snprintf(b->s + b->len, b->cap - b->len, "%s%s%s\n", key,
	    val != NULL ? " " : "", val != NULL ? val : "");
}

static char *
sb_done(struct sbuf *b, size_t *len)
{
	if (b->bad) {
		free(b->s);
		errno = b->bad;
		return NULL;
	}
	if (len != NULL)
		*len = b->len;
	return b->s;
}

char *
jobmeta_encode(const struct jobmeta *m, size_t *len)
{
	struct sbuf	 b = { NULL, 0, 0, 0 };
	char		 num[32];

	snprintf(num, sizeof(num), "%d", m->kind);
	sb_add(&b, "kind", num);
	snprintf(num, sizeof(num), "%d", m->ntests);
	sb_add(&b, "tests", num);
	for (int i = 0; i < m->npre; i++)
		sb_add(&b, "pre", m->pre[i]);
	if (m->post[0] != '\0')
		sb_add(&b, "post", m->post);
	if (m->log[0] != '\0')
		sb_add(&b, "log", m->log);
	for (int i = 0; i < m->nsteps; i++) {
		snprintf(num, sizeof(num), "%d", m->step[i].flags);
		sb_add(&b, "step", num);
		if (m->step[i].label[0] != '\0')
			sb_add(&b, "label", m->step[i].label);
		if (m->step[i].warn[0] != '\0')
			sb_add(&b, "warn", m->step[i].warn);
	}
	return sb_done(&b, len);
}

int
jobmeta_decode(const char *text, size_t len, struct jobmeta *m)
{
	const char	*p = text, *end = text + len, *nl, *sp;
	char		 key[16];
	size_t		 klen, vlen;
	char		 val[JM_TEXT_MAX];
	struct jobmeta_step *st = NULL;

	memset(m, 0, sizeof(*m));
	while (p < end) {
		if ((nl = memchr(p, '\n', end - p)) == NULL)
			return -1;
		if ((sp = memchr(p, ' ', nl - p)) == NULL)
			return -1;
		klen = sp - p;
		vlen = nl - sp - 1;
		if (klen >= sizeof(key) || vlen >= sizeof(val))
			return -1;
		memcpy(key, p, klen);
		key[klen] = '\0';
		memcpy(val, sp + 1, vlen);
		val[vlen] = '\0';
		p = nl + 1;
		if (strcmp(key, "kind") == 0)
			m->kind = atoi(val);
		else if (strcmp(key, "tests") == 0)
			m->ntests = atoi(val);
		else if (strcmp(key, "pre") == 0 && m->npre < JM_PRE_MAX)
			strlcpy(m->pre[m->npre++], val, JM_TEXT_MAX);
		else if (strcmp(key, "post") == 0)
			strlcpy(m->post, val, sizeof(m->post));
		else if (strcmp(key, "log") == 0)
			strlcpy(m->log, val, sizeof(m->log));
		else if (strcmp(key, "step") == 0 && m->nsteps < JM_STEPS_MAX) {
			st = &m->step[m->nsteps++];
			st->flags = atoi(val);
		} else if (strcmp(key, "label") == 0 && st != NULL)
			strlcpy(st->label, val, sizeof(st->label));
		else if (strcmp(key, "warn") == 0 && st != NULL)
			strlcpy(st->warn, val, sizeof(st->warn));
		else
			return -1;
	}
	if (jobs_kind(m->kind) == NULL || m->ntests < 0 ||
	    m->ntests > m->nsteps)
		return -1;
	return 0;
}

char *
jobplan_encode(const struct jobplan_step *s, int n, size_t *len)
{
	struct sbuf	 b = { NULL, 0, 0, 0 };
	char		 num[32];

	sb_add(&b, "nixfleet-plan 1", NULL);
	for (int i = 0; i < n; i++) {
		sb_add(&b, "step", NULL);
		snprintf(num, sizeof(num), "%d", s[i].cont ? 1 : 0);
		sb_add(&b, "flags", num);
		if (s[i].uid >= 0) {
			snprintf(num, sizeof(num), "%ld", s[i].uid);
			sb_add(&b, "uid", num);
			snprintf(num, sizeof(num), "%ld", s[i].gid);
			sb_add(&b, "gid", num);
		}
		if (s[i].cwd != NULL)
			sb_add(&b, "dir", s[i].cwd);
		if (s[i].timeout_ms > 0) {
			snprintf(num, sizeof(num), "%lu", s[i].timeout_ms);
			sb_add(&b, "timeout", num);
		}
		if (s[i].log != NULL)
			sb_add(&b, "log", s[i].log);
		for (char *const *a = s[i].argv; *a != NULL; a++)
			sb_add(&b, "arg", *a);
		for (char *const *e = s[i].envp; e != NULL && *e != NULL; e++)
			if (strchr(*e, '\n') == NULL)
				sb_add(&b, "env", *e);
		sb_add(&b, "end", NULL);
	}
	return sb_done(&b, len);
}

int
jobplan_interrupt_parse(const char *s, int *how, int *sig)
{
	if (sscanf(s, "%d %d", how, sig) != 2 ||
	    jobs_interrupt(*how, *sig) == NULL)
		return -1;
	return 0;
}

/* ---------------------------------------------------------------- */
/* Derivation */

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static void
d_out(struct jobderive *d, const struct jobderive_out *o, int stream,
    const char *s, size_t len)
{
	d->seq++;
	if (o->output != NULL)
		o->output(o->arg, d->seq, stream, s, len);
}

static void
d_line(struct jobderive *d, const struct jobderive_out *o, int stream,
    const char *s)
{
	d_out(d, o, stream, s, strlen(s));
}

static void
d_progress(struct jobderive *d, const struct jobderive_out *o, int phase,
    int state)
{
	struct ipc_job_progress	 p;

	memset(&p, 0, sizeof(p));
	if (jobs_progress(phase, state, &p.current, &p.total) == -1)
		return;
	p.job_id = d->job_id;
	p.phase = phase;
	p.state = state;
	p.seq = ++d->seq;
	if (o->progress != NULL)
		o->progress(o->arg, &p);
}

static void
d_test_progress(struct jobderive *d, const struct jobderive_out *o,
    uint32_t current, int running, int result)
{
	struct ipc_job_progress	 p;

	memset(&p, 0, sizeof(p));
	p.job_id = d->job_id;
	p.phase = JOB_PHASE_TEST_SCRIPT;
	p.current = current;
	p.total = d->m->ntests;
	p.passed = d->passed;
	p.running = running;
	p.result = result;
	p.seq = ++d->seq;
	if (o->progress != NULL)
		o->progress(o->arg, &p);
}

static void
d_status(struct jobderive *d, const struct jobderive_out *o, int status,
    int exit_code, const char *msg, int after)
{
	struct ipc_job_status	 s;

	memset(&s, 0, sizeof(s));
	s.job_id = d->job_id;
	s.kind = d->m->kind;
	s.status = status;
	s.exit_code = exit_code;
	s.after = after;
	if (msg != NULL)
		strlcpy(s.message, msg, sizeof(s.message));
	s.seq = ++d->seq;
	d->ended = 1;
	if (o->status != NULL)
		o->status(o->arg, &s);
}

void
jobderive_init(struct jobderive *d, const struct jobmeta *m, uint32_t id)
{
	memset(d, 0, sizeof(*d));
	d->m = m;
	d->job_id = id;
	d->step = -1;
}

/* The kind's first words: phase, pre-lines. */
static void
d_begin(struct jobderive *d, const struct jobderive_out *o)
{
	const struct jobs_kind_info	*k = jobs_kind(d->m->kind);

	if (k->phase != 0)
		d_progress(d, o, k->phase, JOB_PS_IN_PROGRESS);
	for (int i = 0; i < d->m->npre; i++)
		d_line(d, o, JOB_STREAM_AGENT, d->m->pre[i]);
}

static int
d_capturing(const struct jobderive *d)
{
	return d->step >= 0 && d->step < d->m->nsteps &&
	    (d->m->step[d->step].flags & JM_SF_CAPTURE);
}

/* Journal pieces of a line joined up to the wire's limit (§2.5). */
static void
d_piece(struct jobderive *d, const struct jobderive_out *o, int type,
    const struct journal_rec *r)
{
	int			 i = type == JOURNAL_STDERR;
	struct jobderive_line	*l = &d->line[i];
	int			 stream = i ? JOB_STREAM_STDERR :
				    JOB_STREAM_STDOUT;
	size_t			 n = r->len, room;

	if (d_capturing(d)) {
		int	 c = d->step > 0 ? 1 : 0;

		if (i == 0) {
			room = JD_CAP_MAX - 1 - d->caplen[c];
			if (n > room)
				n = room;
			memcpy(d->cap[c] + d->caplen[c], r->data, n);
			d->caplen[c] += n;
			if ((r->flags & JOURNAL_F_EOL) && d->caplen[c] <
			    JD_CAP_MAX - 1)
				d->cap[c][d->caplen[c]++] = '\n';
			d->cap[c][d->caplen[c]] = '\0';
		} else if (n > 0) {
			/* The error text of a check that fails (§3.5). */
			if (n >= sizeof(d->cap_err[c]))
				n = sizeof(d->cap_err[c]) - 1;
			memcpy(d->cap_err[c], r->data, n);
			d->cap_err[c][n] = '\0';
		}
		return;
	}
	while (n > 0 || r->len == 0) {
		room = sizeof(l->buf) - l->len;
		if (room == 0) {
			/* A long line is split, never inside a character. */
			size_t	 cut = utf8_whole(l->buf, l->len);

			if (cut == 0)
				cut = l->len;
			d_out(d, o, stream, l->buf, cut);
			memmove(l->buf, l->buf + cut, l->len - cut);
			l->len -= cut;
			continue;
		}
		if (n < room)
			room = n;
		memcpy(l->buf + l->len, r->data + (r->len - n), room);
		l->len += room;
		n -= room;
		if (r->len == 0)
			break;
	}
	if (r->flags & JOURNAL_F_EOL) {
		/* CRLF output: the final \r goes with the \n (2.5). */
		if (l->len > 0 && l->buf[l->len - 1] == '\r')
			l->len--;
		d_out(d, o, stream, l->buf, l->len);
		l->len = 0;
		l->open = 0;
	} else
		l->open = 1;
}

static void
d_flush_lines(struct jobderive *d, const struct jobderive_out *o)
{
	for (int i = 0; i < 2; i++) {
		if (!d->line[i].open)
			continue;
		d_out(d, o, i ? JOB_STREAM_STDERR : JOB_STREAM_STDOUT,
		    d->line[i].buf, d->line[i].len);
		d->line[i].len = 0;
		d->line[i].open = 0;
	}
}

static void
d_step_begin(struct jobderive *d, const struct jobderive_out *o, int i,
    int pid)
{
	const struct jobmeta_step	*st;
	const struct jobs_kind_info	*k = jobs_kind(d->m->kind);
	char				 line[JM_TEXT_MAX + 64];

	if (i < 0 || i >= d->m->nsteps)
		return;
	d->step = i;
	if (pid > 0)
		d->child_pid = pid;
	st = &d->m->step[i];
	if ((st->flags & JM_SF_PHASE2) && !d->phase2) {
		d->phase2 = 1;
		d_progress(d, o, k->phase, JOB_PS_COMPLETE);
		d_progress(d, o, k->phase2, JOB_PS_IN_PROGRESS);
	}
	if (st->flags & JM_SF_TEST) {
		d_test_progress(d, o, d->ran + 1, 1, JOB_TR_RUNNING);
		jobs_test_line(JOBS_TL_START, st->label, 0, line, sizeof(line));
		d_line(d, o, JOB_STREAM_AGENT, line);
	} else if (st->flags & JM_SF_BANNER)
		d_line(d, o, JOB_STREAM_AGENT, st->label);
}

static void
d_step_end(struct jobderive *d, const struct jobderive_out *o, int i,
    int how, int value)
{
	const struct jobmeta_step	*st;
	char				 line[JM_TEXT_MAX + 64];
	int				 code;

	if (i < 0 || i >= d->m->nsteps)
		return;
	d_flush_lines(d, o);
	st = &d->m->step[i];
	code = how == JOURNAL_EXITED ? value : -1;
	if (st->flags & JM_SF_CAPTURE) {
		d->cap_status[i > 0 ? 1 : 0] = code;
		return;
	}
	if (st->flags & JM_SF_TEST) {
		d->rc[d->ran++] = code;
		if (code == 0) {
			d->passed++;
			jobs_test_line(JOBS_TL_PASSED, st->label, 0, line,
			    sizeof(line));
			d_line(d, o, JOB_STREAM_AGENT, line);
		} else {
			jobs_test_line(JOBS_TL_FAILED, st->label, code, line,
			    sizeof(line));
			d_line(d, o, JOB_STREAM_AGENT_ERR, line);
		}
		return;
	}
	if (code == 0)
		return;
	if ((st->flags & JM_SF_WARN) && how == JOURNAL_EXITED) {
		snprintf(line, sizeof(line), "%s%d), continuing", st->warn,
		    code);
		d_line(d, o, JOB_STREAM_AGENT_ERR, line);
		return;
	}
	d->failed = 1;
	d->fail_code = code;
	d->fail_step = i;
}

void
jobderive_rec(struct jobderive *d, const struct journal_rec *r,
    const struct jobderive_ctx *ctx, const struct jobderive_out *o)
{
	const struct jobs_interrupt	*in;
	char				 line[256];
	int				 sig;

	if (d->ended)
		return;
	switch (r->type) {
	case JOURNAL_START:
		if (r->len >= JOURNAL_START_SIZE) {
			d->runner_pid = get32(r->data);
			d->child_pid = get32(r->data + 4);
		}
		d->started = 1;
		d_begin(d, o);
		break;
	case JOURNAL_STDOUT:
	case JOURNAL_STDERR:
		d_piece(d, o, r->type, r);
		break;
	case JOURNAL_STEP_BEGIN:
		if (r->len == JOURNAL_STEP_BEGIN_SIZE)
			d_step_begin(d, o, get32(r->data), get32(r->data + 4));
		break;
	case JOURNAL_STEP_END:
		if (r->len == JOURNAL_STEP_END_SIZE)
			d_step_end(d, o, get32(r->data), get32(r->data + 4),
			    (int32_t)get32(r->data + 8));
		d->step = -1;
		break;
	case JOURNAL_SIGNAL:
		if (r->len != JOURNAL_SIGNAL_SIZE)
			break;
		sig = get32(r->data) == SIGKILL ? JOB_SIG_KILL : JOB_SIG_TERM;
		if (d->last_sig == 0 && ctx->how != 0 &&
		    (in = jobs_interrupt(ctx->how, ctx->sig)) != NULL) {
			jobs_interrupt_banner(in, jobplan_name(d->m->kind),
			    line, sizeof(line));
			d_line(d, o, JOB_STREAM_AGENT, line);
		}
		d->last_sig = sig;
		break;
	case JOURNAL_EXIT:
		jobderive_end(d, 0, ctx, o);
		break;
	}
}

static void
d_end_test(struct jobderive *d, const struct jobderive_ctx *ctx,
    const struct jobderive_out *o, int stopped, int interrupted)
{
	struct jobs_test_result	 r[JM_STEPS_MAX];
	struct jobs_verdict	 v;
	size_t			 n = 0;

	/* The verdict counts; names of the failed come from the lines. */
	for (int i = 0; i < d->ran && i < JM_STEPS_MAX; i++) {
		r[n].name = d->m->step[i].label;
		r[n].exit_code = d->rc[i];
		n++;
	}
	jobs_test_verdict(r, n, d->m->ntests, stopped, &v);
	d_test_progress(d, o, v.result == JOB_TR_COUNTED ?
	    (uint32_t)d->m->ntests : (uint32_t)d->ran, 0, v.result);
	d_progress(d, o, JOB_PHASE_TESTS, v.phase_state);
	if (ctx->sc != NULL)
		jobs_sc_set(&ctx->sc->tests, v.sc_status, v.sc_message,
		    ctx->now);
	if (interrupted)
		return;
	d_status(d, o, v.status, v.exit_code, v.message, JOB_AFTER_NONE);
}

const char *
jobplan_name(int kind)
{
	const struct jobs_kind_info	*k = jobs_kind(kind);

	return k != NULL ? k->name : "";
}

/* refresh-system's verdict from the captured step c. */
static void
d_system(struct jobderive *d, const struct jobderive_ctx *ctx, int c,
    char *msg, size_t size)
{
	struct ipc_sc	 sc;

	memset(&sc, 0, sizeof(sc));
	/* Killed without a stop: the runner's limit (JM_SYSTEM_TIMEOUT_MS). */
	jobs_system_verdict(&sc, d->cap_status[c], d->cap_status[c] == -1 ?
	    "timed out after 60s" : d->cap_err[c], d->cap[c], ctx->current,
	    ctx->now);
	if (ctx->sc != NULL)
		ctx->sc->system = sc;
	strlcpy(msg, sc.message, size);
}

static void
d_end_capture(struct jobderive *d, const struct jobderive_ctx *ctx,
    const struct jobderive_out *o, int has_lock, int found)
{
	const struct jobs_kind_info	*k = jobs_kind(d->m->kind);
	struct ipc_sc			 sc;
	char				 msg[IPC_JOB_MSG_MAX];
	char				 line[300];
	int				 st = JOB_ST_OK;

	memset(&sc, 0, sizeof(sc));
	switch (d->m->kind) {
	case JOB_CHECK_VERSION:
		jobs_check_version(ctx->version, d->cap[0], found &&
		    d->cap_status[0] == 0, &st, msg, sizeof(msg));
		d_status(d, o, st, st == JOB_ST_ERROR ? 1 : 0, msg,
		    JOB_AFTER_NONE);
		return;
	case JOB_REFRESH_LOCK:
	case JOB_REFRESH_ALL:
		jobs_lock_verdict(&sc, has_lock && !ctx->no_lock,
		    d->cap_status[0], NULL, d->cap[0], ctx->now);
		if (ctx->sc != NULL)
			ctx->sc->lock = sc;
		snprintf(line, sizeof(line), "✓ Lock status: %s", sc.message);
		d_line(d, o, JOB_STREAM_AGENT, line);
		strlcpy(msg, sc.message, sizeof(msg));
		if (d->m->kind == JOB_REFRESH_ALL)
			d_system(d, ctx, 1, msg, sizeof(msg));
		break;
	case JOB_REFRESH_SYSTEM:
		d_system(d, ctx, 0, msg, sizeof(msg));
		break;
	default:
		msg[0] = '\0';
		break;
	}
	d_status(d, o, JOB_ST_OK, 0, k->ok_message != NULL ? k->ok_message :
	    msg, JOB_AFTER_NONE);
}

/*
 * The lock re-check after a job that changes the repository (§3.5): its
 * last step is the check's git log, captured; the compartment is set
 * before the status, so the heartbeat after it shows the new state.
 */
static void
d_lock_recheck(struct jobderive *d, const struct jobderive_ctx *ctx)
{
	int	 i = d->m->nsteps - 1;

	if (ctx->sc == NULL || i < 1 ||
	    !(d->m->step[i].flags & JM_SF_LOCK))
		return;
	jobs_lock_verdict(&ctx->sc->lock, !ctx->no_lock, d->cap_status[1],
	    NULL, d->cap[1], ctx->now);
}

void
jobderive_end(struct jobderive *d, int truncated,
    const struct jobderive_ctx *ctx, const struct jobderive_out *o)
{
	const struct jobs_kind_info	*k = jobs_kind(d->m->kind);
	const struct jobs_interrupt	*in = NULL;
	char				 msg[IPC_JOB_MSG_MAX];
	int				 st, code, phase;

	if (d->ended)
		return;
	d_flush_lines(d, o);
	if (!d->started)
		d_begin(d, o);
	if (truncated && !d->failed) {
		d->failed = 1;
		d->fail_code = -1;
		d->fail_step = d->step >= 0 ? d->step : 0;
		d_line(d, o, JOB_STREAM_AGENT_ERR, "[nixfleet-agent] the job's "
		    "runner ended without recording the job's end");
	}
	phase = d->phase2 ? k->phase2 : k->phase;
	if (ctx->how != 0 && d->last_sig != 0)
		in = jobs_interrupt(ctx->how, ctx->sig);
	if (in != NULL) {
		if (phase != 0 && d->m->kind != JOB_TEST)
			d_progress(d, o, phase, JOB_PS_ERROR);
		if (d->m->kind == JOB_TEST)
			d_end_test(d, ctx, o, in->how == JOB_STOP, 1);
		jobs_interrupt_status(in, d->last_sig, d->failed ?
		    d->fail_code : -1, &st, &code, msg, sizeof(msg));
		if (st == JOB_ST_ERROR && code == 0)
			code = -1;
		if (ctx->sc != NULL)
			jobs_sc_end(ctx->sc, d->m->kind, code == 0 ? 1 : code,
			    in->how == JOB_STOP, ctx->now);
		d_status(d, o, st, code, msg, JOB_AFTER_NONE);
		return;
	}
	if (d->m->kind == JOB_TEST && !d->failed) {
		d_end_test(d, ctx, o, 0, 0);
		return;
	}
	if (!d->failed && d->m->nsteps > 0 &&
	    (d->m->step[0].flags & JM_SF_CAPTURE)) {
		d_end_capture(d, ctx, o, 1, 1);
		return;
	}
	if (d->m->kind == JOB_UPDATE_AGENT) {
		code = d->failed ? d->fail_code : 0;
		jobs_update_result(code, d->m->log, &st, msg, sizeof(msg));
		d_status(d, o, st, code, msg, code == 0 ?
		    JOB_AFTER_EXIT_SWITCH : JOB_AFTER_NONE);
		return;
	}
	if (d->failed) {
		if (phase != 0)
			d_progress(d, o, phase, JOB_PS_ERROR);
		if (d->m->kind == JOB_PULL_SWITCH &&
		    (d->m->step[d->fail_step].flags & JM_SF_PULLSTEP)) {
			code = 1;
			snprintf(msg, sizeof(msg), "pull failed (exit %d)",
			    d->fail_code);
		} else {
			code = d->fail_code;
			strlcpy(msg, "command failed", sizeof(msg));
		}
		if (ctx->sc != NULL)
			jobs_sc_end(ctx->sc, d->m->kind, code, 0, ctx->now);
		d_status(d, o, JOB_ST_ERROR, code, msg, JOB_AFTER_NONE);
		return;
	}
	if (d->m->post[0] != '\0')
		d_line(d, o, JOB_STREAM_AGENT, d->m->post);
	if (phase != 0)
		d_progress(d, o, phase, JOB_PS_COMPLETE);
	d_lock_recheck(d, ctx);
	if (ctx->sc != NULL)
		jobs_sc_end(ctx->sc, d->m->kind, 0, 0, ctx->now);
	d_status(d, o, JOB_ST_OK, 0, k->ok_message, k->after);
}

void
jobderive_immediate(struct jobderive *d, const struct jobderive_ctx *ctx,
    const struct jobderive_out *o, int has_lock, int found)
{
	const struct jobs_kind_info	*k = jobs_kind(d->m->kind);
	char				 line[128];

	d->started = 1;
	d_begin(d, o);
	switch (d->m->kind) {
	case JOB_TEST:
		jobs_test_line(JOBS_TL_NONE, "", 0, line, sizeof(line));
		d_line(d, o, JOB_STREAM_AGENT, line);
		d_end_test(d, ctx, o, 0, 0);
		return;
	case JOB_CHECK_VERSION:
	case JOB_REFRESH_LOCK:
		d_end_capture(d, ctx, o, has_lock, found);
		return;
	case JOB_ROLLBACK:
		/* macOS without a previous Home Manager generation. */
		if (ctx->sc != NULL)
			jobs_sc_end(ctx->sc, d->m->kind, 1, 0, ctx->now);
		d_status(d, o, JOB_ST_ERROR, 1, JOBS_HM_NO_PREVIOUS,
		    JOB_AFTER_NONE);
		return;
	default:
		break;
	}
	if (d->m->post[0] != '\0')
		d_line(d, o, JOB_STREAM_AGENT, d->m->post);
	d_status(d, o, JOB_ST_OK, 0, k->ok_message, k->after);
}
