/*
 * jobdrop.h: §6.7's limit on output queued while disconnected.
 *
 * After a reconnect (or a restart) the exec-worker sends a job's
 * undelivered records again from its journal.  When they hold more than
 * 20 000 output lines or 4 MiB of them, the oldest lines are skipped and
 * one notice stands where they were ("[nixfleet-agent] <k> output lines
 * dropped while disconnected"); the journal keeps them all.  jobdrop
 * counts the backlog's lines as they are derived (only the newest
 * max_lines are remembered) and says where the cut falls.  Pure data.
 */
#ifndef JOBDROP_H
#define JOBDROP_H

#include <stddef.h>
#include <stdint.h>

#define JOBDROP_MAX_LINES	20000		/* §6.7, per job */
#define JOBDROP_MAX_BYTES	(4 * 1024 * 1024)

struct jobdrop {
	size_t		 max_lines, max_bytes;
	uint64_t	*seq;		/* ring of the newest max_lines lines */
	uint32_t	*len;
	size_t		 head, n;	/* next slot; entries held */
	uint64_t	 lines;		/* every line added */
	uint64_t	 first;		/* the first one's seq */
	uint64_t	 bytes;		/* of every line added */
};

struct jobdrop_cut {
	uint64_t	 first;		/* the first line skipped */
	uint64_t	 upto;		/* the last line skipped */
	uint64_t	 lines;		/* how many lines that is (k) */
};

/* 0 limits take §6.7's; -1 on allocation failure. */
int	 jobdrop_init(struct jobdrop *, size_t max_lines, size_t max_bytes);
void	 jobdrop_free(struct jobdrop *);
/* One output line of the backlog, in order. */
void	 jobdrop_add(struct jobdrop *, uint64_t seq, size_t len);
/*
 * 1 and *cut when the backlog exceeds a limit: the newest lines that fit
 * in max_lines - 1 (the notice is a line too) and max_bytes stay, the
 * rest is skipped; 0 when everything fits.
 */
int	 jobdrop_cut(const struct jobdrop *, struct jobdrop_cut *);

#endif
