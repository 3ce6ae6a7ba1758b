/*
 * follow.h: wake the exec-worker when a job's journal grows or its runner
 * ends, without polling: one kernel notification fd (inotify on Linux,
 * kqueue on macOS) in the libev loop, one watch per job directory.
 *
 * The callback says "job <id> may have news": the caller then reads the
 * job's journal until JOURNAL_WAIT, JOURNAL_END or JOURNAL_TRUNCATED.
 * Events that arrive together are folded into one call per job.  Read
 * once after follow_add(): records written before the watch existed
 * raise no event.
 */
#ifndef FOLLOW_H
#define FOLLOW_H

#include <stdint.h>

#include <ev.h>

typedef void	(*follow_cb)(uint64_t, void *);

struct follow_watch {
	uint64_t	 id;
	int		 wd;		/* kqueue: the directory's fd */
	int		 jfd;		/* kqueue: the journal's, or -1 */
};

struct follow {
	struct ev_loop		*loop;
	ev_io			 io;
	int			 fd;
	follow_cb		 cb;
	void			*arg;
	struct follow_watch	*w;
	size_t			 nw, cap;
	uint64_t		 wakeups;	/* fd readable, for tests */
	uint64_t		 calls;		/* callbacks made */
	ev_timer		 tick;		/* kqueue: see follow-kqueue.c */
	uint64_t		 ticks;		/* callbacks made by the tick */
};

int	follow_init(struct follow *, struct ev_loop *, follow_cb, void *);
int	follow_add(struct follow *, uint64_t, const char *);
void	follow_remove(struct follow *, uint64_t);
void	follow_close(struct follow *);

#endif
