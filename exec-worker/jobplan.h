/*
 * jobplan.h: a job's files besides its journal, and the records of the
 * dialect derived from them (pure code, no I/O of its own).
 *
 * The exec-worker writes two files into <jobdir> before it starts the
 * runner: "plan", the steps the runner executes (argv, environment,
 * identity, directory), and "meta", what the exec-worker needs to say
 * about them (the kind, banners, test script names, which steps may fail
 * or are only read for a verdict).  Every record sent to the net-worker
 * (output lines, progress, the status) is then derived from meta and the
 * journal alone, in order, numbered from 1: a new exec-worker that reads
 * the same journal from its start derives the same records with the same
 * sequence numbers, so delivery can resume at the acknowledged one.
 */
#ifndef JOBPLAN_H
#define JOBPLAN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "jobs.h"
#include "journal.h"
#include "proto.h"

#define JOBPLAN_FILE		"plan"
#define JOBPLAN_META		"meta"
#define JOBPLAN_INTERRUPT	"interrupt"

#define JM_STEPS_MAX		256	/* as the runner's limit */
#define JM_PRE_MAX		64	/* lines before the first step */
#define JM_TEXT_MAX		512

/* jobmeta_step.flags */
#define JM_SF_WARN		0x0001	/* failure is a warning line */
#define JM_SF_CAPTURE		0x0002	/* output read for a verdict only */
#define JM_SF_TEST		0x0004	/* a test script; label its name */
#define JM_SF_PHASE2		0x0008	/* pull-switch: the switch step */
#define JM_SF_BANNER		0x0010	/* label is a line before it */
#define JM_SF_LOCK		0x0020	/* the lock check's git log */
#define JM_SF_SYSTEM		0x0040	/* refresh-system's dry run */
#define JM_SF_VERSION		0x0080	/* check-version's --version */
#define JM_SF_PULLSTEP		0x0100	/* pull-switch: part of the pull */

/* Limits of the captured checks (§3.5), in the plan's "timeout". */
#define JM_LOCK_TIMEOUT_MS	10000	/* the lock check's git log */
#define JM_SYSTEM_TIMEOUT_MS	60000	/* refresh-system's dry run */

struct jobmeta_step {
	int		 flags;
	char		 label[JM_TEXT_MAX];	/* banner or script name */
	char		 warn[JM_TEXT_MAX];	/* JM_SF_WARN: line prefix */
};

struct jobmeta {
	int			 kind;
	int			 nsteps;
	int			 ntests;	/* test: scripts that run */
	int			 npre;
	char			 pre[JM_PRE_MAX][JM_TEXT_MAX];
	char			 post[JM_TEXT_MAX];
	char			 log[JM_TEXT_MAX];	/* update-agent's log */
	struct jobmeta_step	 step[JM_STEPS_MAX];
};

/*
 * meta as text: "kind N", "pre TEXT", "post TEXT", "log PATH", then per step "step
 * FLAGS", "label TEXT", "warn TEXT".  Texts must hold no newline.
 * Encode: malloc'd text, NULL with errno.  Decode: 0 or -1.
 */
char	*jobmeta_encode(const struct jobmeta *, size_t *);
int	 jobmeta_decode(const char *, size_t, struct jobmeta *);

/* Name of a kind as the dashboard sent it (jobs.c's table), or "". */
const char *jobplan_name(int kind);

/* One step of the runner's plan (runner.c reads it). */
struct jobplan_step {
	char *const	*argv;
	char *const	*envp;
	const char	*cwd;
	long		 uid, gid;	/* -1: the runner's own */
	int		 cont;		/* a failure does not end the plan */
	unsigned long	 timeout_ms;	/* 0: none; then SIGKILL */
	const char	*log;		/* text copy of its output, or NULL */
};
/*
 * The plan text: malloc'd, NULL with errno EINVAL when a value holds a
 * newline (environment entries that do are left out instead).
 */
char	*jobplan_encode(const struct jobplan_step *, int n, size_t *);

/* "interrupt": "<how> <signal>\n", enum values of proto.h. */
int	 jobplan_interrupt_parse(const char *, int *how, int *sig);

/* What the derivation needs from outside the journal, at its end. */
struct jobderive_ctx {
	int			 how, sig;	/* interrupt file; 0: none */
	const char		*version;	/* our real version */
	const char		*current;	/* system store path, or NULL */
	int			 no_lock;	/* <dir>/flake.lock is missing */
	time_t			 now;
	struct jobs_compartments *sc;		/* set at the end, or NULL */
};

struct jobderive_out {
	void	(*output)(void *, uint64_t, int stream, const char *,
		    size_t);
	void	(*progress)(void *, const struct ipc_job_progress *);
	void	(*status)(void *, const struct ipc_job_status *);
	void	*arg;
};

#define JD_CAP_MAX		4096

struct jobderive_line {
	char		 buf[IPC_JOB_LINE_MAX];
	size_t		 len;
	int		 open;		/* pieces without EOL so far */
};

struct jobderive {
	const struct jobmeta	*m;
	uint32_t		 job_id;
	uint64_t		 seq;		/* of the last derived record */
	int			 step;		/* running step, -1 */
	int			 started;	/* start record seen */
	int			 ended;		/* status derived */
	int			 runner_pid, child_pid;
	int			 passed, ran;
	int			 rc[JM_STEPS_MAX];	/* scripts' exits */
	int			 failed;	/* a step ended the job */
	int			 fail_code;	/* its exit code (-1 signal) */
	int			 fail_step;
	int			 phase2;	/* pull-switch: switch began */
	int			 last_sig;	/* JOB_SIG_*, SIGNAL records */
	int			 cap_status[2];	/* captured steps' exit */
	size_t			 caplen[2];
	char			 cap[2][JD_CAP_MAX];
	char			 cap_err[2][256];	/* last stderr line */
	struct jobderive_line	 line[2];	/* stdout, stderr */
};

void	 jobderive_init(struct jobderive *, const struct jobmeta *,
	    uint32_t job_id);
/* One journal record; records derived go to out with their seq. */
void	 jobderive_rec(struct jobderive *, const struct journal_rec *,
	    const struct jobderive_ctx *, const struct jobderive_out *);
/* The journal ended (truncated 1: without an exit record). */
void	 jobderive_end(struct jobderive *, int truncated,
	    const struct jobderive_ctx *, const struct jobderive_out *);
/*
 * A job without a runner (restart, refresh-git, test without scripts,
 * the checks that need no command): its records from meta alone.
 */
void	 jobderive_immediate(struct jobderive *, const struct jobderive_ctx *,
	    const struct jobderive_out *, int has_lock, int found);

#endif
