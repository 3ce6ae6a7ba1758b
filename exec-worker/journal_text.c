/*
 * journal_text.c: a job's journal as the local command log of
 * nixfleet-protocol.md §6.1: "<RFC 3339 time> <stdout|stderr> <line>",
 * one line per output line, then the final status.  Pieces of a split
 * line are joined again (up to JOURNAL_TEXT_LINE_MAX bytes, where the
 * line is cut with a "[...]" mark); the bytes are written as the job
 * wrote them.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "journal.h"

struct text_line {
	size_t		 len;
	int		 cut;
	uint64_t	 wall_ns;	/* of the line's first piece */
	char		 buf[JOURNAL_TEXT_LINE_MAX];
};

static void
text_time(uint64_t ns, char *buf, size_t size)
{
	struct tm	 tm;
	time_t		 t = (time_t)(ns / 1000000000);
	char		 s[32];

	gmtime_r(&t, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%03uZ", s,
	    (unsigned)(ns % 1000000000 / 1000000));
}

static void
text_flush(FILE *out, const char *stream, struct text_line *l)
{
	char	 when[40];

	text_time(l->wall_ns, when, sizeof(when));
	fprintf(out, "%s %s ", when, stream);
	fwrite(l->buf, 1, l->len, out);
	fputs(l->cut ? " [...]\n" : "\n", out);
	l->len = 0;
	l->cut = 0;
}

static void
text_add(FILE *out, const char *stream, struct text_line *l,
    const struct journal_rec *r)
{
	size_t	 n = r->len;

	if (l->len == 0 && !l->cut)
		l->wall_ns = r->wall_ns;
	if (n > sizeof(l->buf) - l->len) {
		n = sizeof(l->buf) - l->len;
		l->cut = 1;
	}
	memcpy(l->buf + l->len, r->data, n);
	l->len += n;
	if (r->flags & JOURNAL_F_EOL)
		text_flush(out, stream, l);
}

/*
 * Print what the journal holds now.  Returns the journal_read() result
 * it stopped at: JOURNAL_END or JOURNAL_TRUNCATED (the status line was
 * printed), JOURNAL_WAIT (the job still runs), or JOURNAL_ERROR.
 */
int
journal_print(const char *jobdir, FILE *out)
{
	static struct text_line	 lines[2];
	struct journal_reader	 rd;
	struct journal_rec	 r;
	struct journal_exit	 x;
	struct text_line	*l;
	char			 when[40];
	uint64_t		 last = 0;
	int			 st;

	memset(lines, 0, sizeof(lines));
	if (journal_reader_open(&rd, jobdir, 0) == -1)
		return JOURNAL_ERROR;
	while ((st = journal_read(&rd, &r)) == JOURNAL_REC) {
		last = r.wall_ns;
		if (r.type == JOURNAL_STDOUT || r.type == JOURNAL_STDERR) {
			l = &lines[r.type == JOURNAL_STDERR];
			text_add(out, r.type == JOURNAL_STDERR ? "stderr" :
			    "stdout", l, &r);
			continue;
		}
		if (r.type != JOURNAL_EXIT)
			continue;
		/* Last lines without a newline end with the job. */
		for (int i = 0; i < 2; i++)
			if (lines[i].len > 0 || lines[i].cut)
				text_flush(out, i ? "stderr" : "stdout",
				    &lines[i]);
		text_time(r.wall_ns, when, sizeof(when));
		if (journal_parse_exit(&r, &x) == -1)
			fprintf(out, "%s status unknown\n", when);
		else if (x.how == JOURNAL_SIGNALED)
			fprintf(out, "%s status signal=%d duration=%.3fs\n",
			    when, x.value, x.duration_ns / 1e9);
		else
			fprintf(out, "%s status exit=%d duration=%.3fs\n",
			    when, x.value, x.duration_ns / 1e9);
	}
	if (st == JOURNAL_TRUNCATED) {
		for (int i = 0; i < 2; i++)
			if (lines[i].len > 0 || lines[i].cut)
				text_flush(out, i ? "stderr" : "stdout",
				    &lines[i]);
		text_time(last, when, sizeof(when));
		fprintf(out, "%s status truncated (the runner ended without "
		    "an exit record)\n", when);
	}
	journal_reader_close(&rd);
	return st;
}
