/*
 * jobrun_priv.h: the job engine's state, shared by jobrun.c (following,
 * delivery, signals, adoption) and jobrun_create.c (a new job).
 */
#ifndef JOBRUN_PRIV_H
#define JOBRUN_PRIV_H

#include <sys/queue.h>

#include <ev.h>

#include "follow.h"
#include "jobdrop.h"
#include "jobplan.h"
#include "jobs.h"
#include "journal.h"

#define JOBRUN_AHEAD		512	/* records past the acknowledged */
#define JOBRUN_AHEAD_BYTES	(256 * 1024)	/* their bytes, per job */
#define JOBRUN_IPC_MAX		(512 * 1024)	/* queued towards the net */

struct job {
	LIST_ENTRY(job)		 entry;
	struct jobrun		*jr;
	uint32_t		 id;
	char			 dir[IPC_PATH_MAX];
	int			 dirfd;
	struct jobmeta		*meta;
	struct jobderive	 d;
	struct journal_reader	 rd;
	int			 rd_open;
	int			 immediate;	/* no runner: from meta */
	int			 detach;	/* update-agent: exit after its
						   banner, leave the rest to
						   the next agent (§6.5) */
	int			 detach_exit;	/* that exit was asked for */
	int			 has_lock, found;	/* immediate checks */
	uint64_t		 acked;		/* delivered up to here */
	uint64_t		 skip;		/* the net-worker has these */
	uint64_t		 status_seq;	/* 0: not derived yet */
	uint32_t		 after;
	int			 announced;
	int			 launched_pid;
	int			 last_pid;	/* pid in the last state */
	int			 launch_failed;
	uint64_t		 sent_bytes;	/* since the last rewind */
	uint64_t		 acked_bytes;
	uint64_t		 cum[JOBRUN_AHEAD];	/* sent_bytes per seq */
	uint64_t		 down_ns;	/* disconnected since (mono) */
	uint64_t		 ack_synced;	/* last fsync of ack (mono) */
	int			 dropping;	/* this replay skips drop */
	struct jobdrop_cut	 drop;		/* §6.7: lines not sent */
	ev_timer		 escalate;
	ev_child		 launcher;	/* systemd-run, till it ends */
};

/* The lock check outside jobs (lockcheck.c). */
struct lockcheck {
	pid_t			 pid;		/* git, or -1 */
	int			 eof, reaped, killed, ticking;
	int			 status;
	size_t			 len;
	char			 out[512];
	ev_io			 io;
	ev_child		 child;
	ev_timer		 limit;		/* 10 s */
	ev_timer		 tick;		/* every 5 min */
	void			(*then)(void *);	/* after the next one */
	void			*then_arg;
};

struct jobrun {
	struct exec		*e;
	int			 configured;
	struct jobs_conf	 conf;
	char			 repo_dir[IPC_PATH_MAX];
	char			 hostname[256];
	char			 branch[256];
	char			 ssh_key[IPC_PATH_MAX];
	char			 user[IPC_SHORT_MAX];
	char			 user_home[IPC_PATH_MAX];
	char			 home[IPC_PATH_MAX];
	char			 agent_user[64];
	char			 state_dir[IPC_PATH_MAX];
	char			 jobsdir[IPC_PATH_MAX];
	char			 runner[IPC_PATH_MAX];
	uid_t			 user_uid;
	gid_t			 user_gid;
	unsigned		 keep;
	int			 mode;		/* enum jobs_launch_mode */
	struct follow		 follow;
	int			 follow_ok;
	LIST_HEAD(, job)	 jobs;
	struct job		*cur;		/* the job that runs */
	struct jobs_compartments sc;
	ev_timer		 after_timer;
	uint32_t		 after_code;	/* IPC_ES_EXIT code */
	int			 after_kind;
	struct lockcheck	 lock;
	ev_timer		 reboot_watch;	/* jobrun_reboot.c */
	int			 reboot_ticks;
	char			 reboot_dir[IPC_PATH_MAX];
};

/* jobrun.c */
struct job	*jobrun_job_new(struct jobrun *, uint32_t, const char *,
		    struct jobmeta *);
/* jobrun_create.c: 0 and *out, or -1 with *why (a static text). */
int		 jobrun_create(struct jobrun *, int kind, struct job **out,
		    const char **why);
int		 jobrun_read_file(int dirfd, const char *, char **, size_t *);
/* jobrun_reboot.c: sudo reboot, and a line when it fails. */
void		 jobrun_reboot(struct jobrun *);
/* jobrun.c */
void		 job_ctx(struct job *, struct jobderive_ctx *);
uint64_t	 jobrun_mono_ns(void);
/* jobrun_drop.c: §6.7's cut for a replay from skip; the adopted age. */
void		 job_backlog(struct job *, uint64_t skip);
uint64_t	 jobrun_ack_age(const struct job *);
/* lockcheck.c: the check now, and at startup then every 5 min. */
void		 jobrun_lock_check(struct jobrun *);
void		 jobrun_lock_start(struct jobrun *);

#endif
