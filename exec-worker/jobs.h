/*
 * jobs.h: the job vocabulary of the exec-worker, as pure functions
 * (nixfleet-protocol.md §6).  A job kind (proto.h enum job_kind) becomes
 * a plan of fixed argv templates filled only with configuration values;
 * nothing a dashboard sent reaches an argv, an environment or a shell.
 * The runner and journal that execute a plan live elsewhere; this file
 * decides what runs, as whom, and what is said about it.
 */
#ifndef JOBS_H
#define JOBS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "proto.h"

enum jobs_platform {
	JOBS_NIXOS = 1,			/* Linux: nixos-rebuild */
	JOBS_MACOS = 2,			/* Darwin: home-manager */
};

/*
 * Who a step runs as.  REPO_USER: when the agent is root and a repository
 * user is configured, that user with its HOME; otherwise the agent's own
 * identity.  ROOT: the agent's own identity; the argv keeps the sudo of
 * the spec's table, so an agent run as the user with upstream's sudo rules
 * still works, and root's sudo is a no-op.
 */
enum jobs_runas {
	JOBS_AS_REPO_USER = 1,
	JOBS_AS_ROOT = 2,
};

/* The configuration a plan is filled from; the caller owns the strings. */
struct jobs_conf {
	int		 platform;	/* enum jobs_platform */
	int		 isolated;	/* NIXFLEET_REPO_URL set */
	int		 agent_root;	/* the exec-worker runs as uid 0 */
	const char	*repo_dir;	/* absolute */
	const char	*branch;
	const char	*hostname;	/* the flake attribute */
	const char	*ssh_key;	/* NULL or "": none */
	const char	*user;		/* NIXFLEET_USER; NULL or "": none */
	const char	*user_home;	/* that user's home (getpwnam) */
	const char	*home;		/* the agent's $HOME (macOS paths) */
	const char	*agent_user;	/* the agent's $USER */
	const char	*state_dir;	/* <state> */
};

/* jobs_step.flags */
#define JOBS_SF_SSH		0x0001	/* GIT_SSH_COMMAND when a key is set */
#define JOBS_SF_WARN_ONLY	0x0002	/* failure is a warning line only */

#define JOBS_ARGV_MAX		16
#define JOBS_STEPS_MAX		6

struct jobs_step {
	int		 runs_as;	/* enum jobs_runas, as the table says */
	int		 as_user;	/* 1: switch to the repo user */
	int		 flags;		/* JOBS_SF_* */
	const char	*banner;	/* output line before it, or NULL */
	char		*argv[JOBS_ARGV_MAX + 1];	/* malloc'd, NULL-ended */
};

struct jobs_plan;

/* jobs_kind_info.flags */
#define JOBS_KF_BYPASS		0x0001	/* §6.2 */
#define JOBS_KF_ARGV		0x0002	/* runs fixed argv steps */
#define JOBS_KF_LOCK_CHECK	0x0004	/* lock re-check afterwards (§3.5) */
#define JOBS_KF_SYSTEM_CHECK	0x0008	/* refresh-system's dry run */
#define JOBS_KF_TESTS		0x0010	/* per-script test run (§6.4) */
#define JOBS_KF_DETACHED	0x0020	/* survives the agent (§6.5) */
#define JOBS_KF_INTERRUPT	0x0040	/* stop, kill: signals the job */
#define JOBS_KF_SWITCHES	0x0080	/* system working -> ok/error */
#define JOBS_KF_PULLS		0x0100	/* system outdated after success */

/* What is fixed about a kind, whatever the configuration. */
struct jobs_kind_info {
	int		 kind;
	const char	*name;		/* nixfleet's command name */
	int		 flags;		/* JOBS_KF_* */
	int		 phase;		/* enum job_phase of its progress, 0 */
	int		 phase2;	/* pull-switch: system after pull */
	int		 after;		/* enum job_after on success */
	const char	*ok_message;	/* status message on success, or NULL */
};

/*
 * operation_progress of a phase (§2.8), as upstream sends it: at the
 * start 0/T in_progress, on success T/T complete, otherwise 0/T error,
 * with T 4 (pull), 3 (system), 8 (tests).  state is enum
 * job_phase_state; -1 for a phase we never send.
 */
int	jobs_progress(int phase, int state, uint32_t *current, uint32_t *total);

/*
 * A step failed with exit_code (-1: a signal).  0: go on (a warning-only
 * step, its line in msg); -1: the job ends, with *status, *exit and msg:
 * a failed pull of pull-switch is exit 1 "pull failed (exit N)", any
 * other failure the child's code and "command failed".
 */
int	jobs_step_failed(const struct jobs_plan *, int step, int exit_code,
	    int *status, int *exit, char *msg, size_t size);

/* NULL for JOB_NONE and anything out of range. */
const struct jobs_kind_info *jobs_kind(int kind);
/* Kind by nixfleet command name, exact bytes; JOB_NONE if unknown. */
int	jobs_kind_by_name(const char *name, size_t len);

/*
 * A whole job: the steps in order.  pull-switch is the pull steps, then
 * the switch; force-update the pull, the flake update, the switch, each
 * with its banner.  Kinds without argv (stop, kill, restart, refresh-git,
 * the checks) have no steps; what they do is in their info and below.
 */
struct jobs_plan {
	int		 kind;
	int		 nsteps;
	struct jobs_step step[JOBS_STEPS_MAX];
	const char	*pre_line;	/* output line before anything runs */
	const char	*post_line;	/* output line after the last step */
	int		 step_delay_ms;	/* reboot: between status and step */
	char		*ssh_command;	/* GIT_SSH_COMMAND value, or NULL */
};

/*
 * Build the plan of kind from conf.  0, or -1 with *why (a static text
 * naming the setting) when conf cannot be passed safely: a relative or
 * odd repository directory, a branch git would read as an option, a host
 * name that is no flake attribute, a key path with control characters.
 * A plan is freed with jobs_plan_free() whatever the result.
 */
int	jobs_plan_build(const struct jobs_conf *, int kind, struct jobs_plan *,
	    const char **why);
void	jobs_plan_free(struct jobs_plan *);

/*
 * The environment of a step: base (the agent's, NULL-terminated) without
 * NIXFLEET_TOKEN and NIXFLEET_TOKEN_FILE, with GIT_SSH_COMMAND for SSH
 * steps when a key is set, and HOME, USER, LOGNAME of the repo user when
 * the step switches to it.  malloc'd array of malloc'd strings; NULL with
 * errno on allocation failure.  jobs_env_free() frees it.
 */
char	**jobs_env_build(char *const *base, const struct jobs_conf *,
	    const struct jobs_plan *, const struct jobs_step *);
void	jobs_env_free(char **);

/*
 * GIT_SSH_COMMAND for a key: "ssh -i <key> -o StrictHostKeyChecking=no"
 * with the key shell-quoted when it needs it (git hands the value to a
 * shell).  NULL with errno EINVAL for an empty or relative path or one
 * with control characters, ENOMEM on allocation failure.
 */
char	*jobs_ssh_command(const char *key);
/* Each checks one configuration value; 0 if it can be passed safely. */
int	jobs_valid_dir(const char *);
int	jobs_valid_branch(const char *);
int	jobs_valid_host(const char *);

/* test (§6.4): the directory, and the argv of one script in it. */
char	*jobs_test_dir(const struct jobs_conf *);
int	jobs_test_argv(const struct jobs_conf *, const char *path,
	    struct jobs_step *);
/* Whether a directory entry is a test candidate: "<x>.sh", x not "". */
int	jobs_test_name(const char *);

/* The output lines of a test run (§6.4). */
enum jobs_test_line {
	JOBS_TL_START = 1,	/* "▶ <name>" */
	JOBS_TL_PASSED,		/* "✅ <name> passed" */
	JOBS_TL_FAILED,		/* "❌ <name> failed (exit N)" */
	JOBS_TL_SKIPPED,	/* "⏭ <name> skipped (not executable)" */
	JOBS_TL_NONE,		/* "no tests" */
};
void	jobs_test_line(int which, const char *name, int exit_code, char *buf,
	    size_t size);

/* reboot (§6.3): the line when sudo reboot failed, on stderr. */
void	jobs_reboot_failed(const char *why, char *buf, size_t size);

/*
 * rollback on macOS: of the names in a profiles directory, the link
 * "home-manager-<N>-link" with the second-highest numeric N; its index,
 * or -1 when there are fewer than two generations.
 */
int	jobs_hm_previous(const char *const *names, size_t n);
/* <home>/.local/state/nix/profiles; 0 or -1 (no home, no room). */
int	jobs_hm_profiles(const struct jobs_conf *, char *buf, size_t size);
/*
 * The macOS rollback step from that directory's names: <profiles>/
 * home-manager-<N>-link/activate of jobs_hm_previous(), as the repository
 * user.  0, or -1 when there is no previous generation (the job then
 * ends with JOBS_HM_NO_PREVIOUS) or on allocation failure.
 */
#define JOBS_HM_NO_PREVIOUS	"no previous Home Manager generation"
int	jobs_hm_rollback(const struct jobs_conf *, const char *const *names,
	    size_t n, struct jobs_step *);

/*
 * The net-worker's requests, checked before anything else: kind a real
 * kind, flags, arg and padding zero; a signal request JOB_STOP with
 * SIGTERM or JOB_KILL with either, pid not negative.  0 or -1 (a protocol
 * violation: drop the channel).
 */
int	jobs_check_start(const struct ipc_job_start *);
int	jobs_check_signal(const struct ipc_job_signal *);

/*
 * §6.2: what to do with kind while running (JOB_NONE: idle) runs.  The
 * busy check comes before the name lookup, so an unknown kind is BUSY
 * while a job runs and UNKNOWN while idle.
 */
enum jobs_admit {
	JOBS_RUN = 1,		/* start it */
	JOBS_BUSY,		/* command_rejected */
	JOBS_UNKNOWN,		/* status error "unknown command" */
	JOBS_INTERRUPT,		/* stop/kill the running job */
	JOBS_NO_JOB,		/* stop/kill while idle: "no command running" */
	JOBS_AGENT,		/* restart/reboot: done by the agent now */
};
int	jobs_admit(int running, int kind);

/*
 * Interrupting a job, as data (§2.10, §6.4, §6.5): the first signal to
 * the job's process group, the one that follows if it is still alive
 * after grace_ms (0: none), the banner (printf with the job's command and
 * the signal name) and the status the job then ends with.
 */
struct jobs_interrupt {
	int		 how;		/* JOB_STOP | JOB_KILL */
	int		 first;		/* enum job_signal */
	int		 then;		/* enum job_signal, or JOB_SIG_NONE */
	int		 grace_ms;
	int		 status;	/* enum job_status_code */
	int		 exit_code;	/* 130, or -1: the child's (§2.6) */
};
/* how: JOB_STOP or JOB_KILL; sig: the requested one; NULL otherwise. */
const struct jobs_interrupt *jobs_interrupt(int how, int sig);
/* The output line that announces it, for the job named command. */
void	jobs_interrupt_banner(const struct jobs_interrupt *,
	    const char *command, char *buf, size_t size);
/*
 * The one status of the interrupted job: child_status is its exit code
 * (-1 when a signal ended it), last_sig the last signal we sent.
 */
void	jobs_interrupt_status(const struct jobs_interrupt *, int last_sig,
	    int child_status, int *status, int *exit_code, char *msg,
	    size_t size);
/* What a v2.2 kill_command does (§2.10), checked against our own state. */
enum jobs_kill_check {
	JOBS_KC_SIGNAL = 1,	/* signal the job's process group */
	JOBS_KC_IDLE,		/* no job: log it, send nothing */
	JOBS_KC_OTHER_PID,	/* neither 0 nor the job's child: log, ignore */
	JOBS_KC_BAD_SIGNAL,	/* not SIGTERM or SIGKILL: log, ignore */
};
int	jobs_kill_check(int running, int child_pid, int pid, int sig);
/*
 * D1: a process group we may signal: a real group (> 1) that is not our
 * own, so a stop can never take the agent down.
 */
int	jobs_may_signal(int pgid, int own_pgid);
int	jobs_signal_number(int sig);	/* SIGTERM, SIGKILL, or 0 */
const char *jobs_signal_name(int sig);	/* "SIGTERM", "SIGKILL", NULL */

/* §6.4 test verdict. */
struct jobs_test_result {
	const char	*name;		/* "a.sh" */
	int		 exit_code;	/* 0: passed */
};

struct jobs_verdict {
	int		 status;	/* enum job_status_code */
	int		 exit_code;
	int		 passed, total;
	int		 result;	/* enum job_test_result */
	int		 phase_state;	/* operation_progress tests */
	int		 phase_current;	/* 8 or 0 */
	char		 message[IPC_JOB_MSG_MAX];
	const char	*sc_status;	/* tests compartment */
	char		 sc_message[128];
};
/*
 * n results of the scripts that ran; total the number of tests found;
 * stopped 1 when a stop ended the run.
 */
void	jobs_test_verdict(const struct jobs_test_result *, size_t n,
	    size_t total, int stopped, struct jobs_verdict *);

/* §3.5 compartments owned by the exec-worker. */
struct jobs_compartments {
	struct ipc_sc	 lock, system, tests;
};
/* The compartments a job changes when it starts and when it ends. */
void	jobs_sc_start(struct jobs_compartments *, int kind, time_t now);
/* exit_code of the job (0: success); stopped: ended by stop. */
void	jobs_sc_end(struct jobs_compartments *, int kind, int exit_code,
	    int stopped, time_t now);
/* Set one compartment; checked_at from now. */
void	jobs_sc_set(struct ipc_sc *, const char *status, const char *msg,
	    time_t now);
/* A working system compartment older than 5 min that no job owns. */
void	jobs_sc_expire(struct jobs_compartments *, int kind, time_t now);

/*
 * The lock check (§3.5) from its observations: has_lock 0 when flake.lock
 * is missing; otherwise git's exit status (-1: did not start or was
 * killed, why says how) and stdout.  now is the end of the check.
 */
void	jobs_lock_verdict(struct ipc_sc *, int has_lock, int git_status,
	    const char *why, const char *out, time_t now);

/*
 * refresh-system (§3.5): build_status 0 when the dry run succeeded (why:
 * the error text otherwise), out its output, current the resolved store
 * path of the running system (macOS: the home-manager profile).
 */
void	jobs_system_verdict(struct ipc_sc *, int build_status,
	    const char *why, const char *out, const char *current, time_t now);

/*
 * check-version: the binaries to try, in order, the last one a bare name
 * for a PATH lookup; returns how many (max >= 4).
 */
int	jobs_version_candidates(const struct jobs_conf *,
	    char out[][IPC_PATH_MAX], int max);
/* check-version: ok, warning, or error with the message of §6.3. */
void	jobs_check_version(const char *running, const char *installed_out,
	    int found, int *status, char *msg, size_t size);

/*
 * update-agent (§6.5): the fixed script, and its positional arguments:
 * sh -c <script> nixfleet-agent-update <dir> <mode> <branch> <host>.
 */
int	jobs_update_script(const struct jobs_conf *, struct jobs_step *);

/*
 * Local logs (§6.1, §6.5): <state>/logs/<UTC yyyymmddThhmmssZ>-<name>.log
 * for a job, <state>/logs/update-agent-<UTC>.log for the detached update.
 * 0, or -1 when state_dir is not absolute or the path does not fit.
 */
int	jobs_log_path(const struct jobs_conf *, int kind, time_t start,
	    char *buf, size_t size);
/* update-agent's texts: the line before the agent exits, its statuses. */
void	jobs_update_started(const char *log, char *buf, size_t size);
void	jobs_update_result(int exit_code, const char *log, int *status,
	    char *msg, size_t size);

#endif
