/*
 * admin.h: the admin_run policy (socketio-protocol.md §6.1) and a child
 * runner.  Pure functions except admin_cwd_check (realpath) and the
 * admin_spawn family; nothing here touches libev, so the exec-worker can
 * drive a child from its own watchers or call admin_exec off the loop.
 */
#ifndef ADMIN_H
#define ADMIN_H

#include <sys/types.h>

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#define ADMIN_OUT_CAP		(256 * 1024)	/* per stream, D5 */
#define ADMIN_TIMEOUT_DEFAULT	30
#define ADMIN_RATE_WINDOW_DEFAULT 60
#define ADMIN_ERROR_MAX		256

/* A token list: argv[argc] is NULL; argv points into one allocation. */
struct admin_argv {
	size_t	  argc;
	char	**argv;
};

/*
 * Split a command without a shell.  0 on success (argc may be 0);
 * -1 with *why "unclosed quote" or "dangling escape"; -1 with *why
 * "out of memory".  The input may hold NUL bytes (len counts them).
 */
int	 admin_tokenise(const char *, size_t, struct admin_argv *,
	    const char **);
void	 admin_argv_free(struct admin_argv *);
/* 1 when the raw command holds ; | ` $ CR LF NUL, "&&" or "||". */
int	 admin_forbidden(const char *, size_t);
/* 1 when the string is empty or holds only spaces and tabs (and CR LF). */
int	 admin_blank(const char *, size_t);

/* The operator's allowlist, tokenised once at startup. */
struct admin_allow {
	size_t			 n;
	struct admin_argv	*entries;
};
/* 0 added; -1 skipped with *why ("empty entry", a tokeniser text). */
int	 admin_allow_add(struct admin_allow *, const char *, const char **);
/* Token-prefix match after ASCII lower-casing; an empty list matches none. */
int	 admin_allow_match(const struct admin_allow *, char *const *, size_t);
void	 admin_allow_free(struct admin_allow *);

enum admin_cwd {
	ADMIN_CWD_OK = 0,
	ADMIN_CWD_INVALID,	/* realpath failed; *err holds errno */
	ADMIN_CWD_DENIED,	/* not equal to or under an allowed root */
};
/*
 * Resolve cwd (relative to the process cwd) with realpath() and check it
 * component-wise against the realpath of each allowed entry.  resolved
 * receives the real path on ADMIN_CWD_OK.
 */
enum admin_cwd admin_cwd_check(const char *, const char *const *, size_t,
	    char [PATH_MAX], int *);
/* 1 when path equals root or lies under it, comparing components. */
int	 admin_path_under(const char *, const char *);

/*
 * The reduced child environment: PATH HOME USER LANG LC_ALL TERM TMPDIR
 * TEMP, copied from env when set.  out gets pointers into env and a
 * terminating NULL; it must hold ADMIN_ENV_MAX + 1 entries.
 */
#define ADMIN_ENV_MAX	8
size_t	 admin_env_build(char *const *, char **);

/*
 * Fixed window (socketio spec 6.1): max requests per window; the window
 * starts with the first request after the last one elapsed.  The clock is
 * the caller's (milliseconds, monotonic).  max 0 turns it off.
 */
struct admin_rate {
	uint64_t	max;
	uint64_t	window_ms;
	uint64_t	start_ms;	/* when the current window began */
	uint64_t	count;		/* requests counted in it */
};
void	 admin_rate_init(struct admin_rate *, int, int, uint64_t);
/* 1 when the request may run (and is counted), 0 when rate limited. */
int	 admin_rate_take(struct admin_rate *, uint64_t);

/* 1 when the token is accepted: not required, or equal in constant time. */
int	 admin_token_ok(int, const char *, const char *);

struct admin_policy {
	int			 require_token;
	const char		*command_token;
	struct admin_allow	 allow;
	const char *const	*cwds;
	size_t			 ncwds;
	struct admin_rate	 rate;
};

struct admin_request {
	const char	*token;		/* NULL: absent */
	const char	*command;	/* NULL: absent */
	size_t		 command_len;
	const char	*cwd;		/* NULL or "": none */
};

/*
 * The outcome of steps 1-9.  On allow, argv is what to run (for a cron
 * write ["crontab","-"] and stdin_data holds the decoded crontab), cwd is
 * the resolved directory or "".  On refusal, code, stderr_text and error
 * are the admin_result fields verbatim (durationMs 0, stdout "").
 */
struct admin_decision {
	int			 allow;
	int			 code;
	const char		*stderr_text;
	char			 error[ADMIN_ERROR_MAX];
	int			 cron_write;
	unsigned char		*stdin_data;
	size_t			 stdin_len;
	struct admin_argv	 argv;
	char			 cwd[PATH_MAX];
};
/* 0 decided (see allow); -1 out of memory. */
int	 admin_decide(struct admin_policy *, const struct admin_request *,
	    uint64_t, struct admin_decision *);
void	 admin_decision_free(struct admin_decision *);

/*
 * The longest prefix of buf not longer than cap that does not end inside
 * a UTF-8 sequence (a sequence that is invalid anyway is not protected).
 */
size_t	 admin_utf8_cut(const char *, size_t, size_t);
/* Bytes buf takes as a JSON string body under §2.8 (U+FFFD, \u00XX). */
size_t	 admin_json_len(const char *, size_t);
/*
 * Caps for stdout and stderr so that fixed + both JSON-encoded streams
 * fit in max_payload: start at ADMIN_OUT_CAP, halve both until it fits.
 * Returns 1 when anything was cut (result.truncated).
 */
int	 admin_fit(const char *, size_t, const char *, size_t, size_t, size_t,
	    size_t *, size_t *);

/*
 * Log texts (§6.1 Logging): a command cut at 120 bytes (UTF-8 safe,
 * control bytes as `?`, `…` when cut), a cron write as `cron update
 * pipeline (redacted)`; a token in full up to 10 bytes, else abcd…wxyz.
 */
#define ADMIN_PREVIEW_MAX	128
#define ADMIN_WARN_EMPTY	\
	"admin.allowedCommands is empty: all admin_run commands will be refused"
void	 admin_log_preview(const char *, size_t, char [ADMIN_PREVIEW_MAX]);
void	 admin_log_token(const char *, char [ADMIN_PREVIEW_MAX]);

/* ---- running a child ---- */

struct admin_spawn {
	char *const	*argv;
	char *const	*envp;		/* NULL: the reduced set of environ */
	const char	*cwd;		/* NULL or "": inherited */
	const void	*stdin_data;	/* NULL: /dev/null */
	size_t		 stdin_len;
};

struct admin_buf {
	char		*data;
	size_t		 len;
	size_t		 cap;		/* kept bytes at most */
	int		 truncated;
};

struct admin_proc {
	pid_t		 pid;
	int		 out_fd, err_fd, in_fd;	/* -1 when closed */
	struct admin_buf out, err;
	const unsigned char *in_data;
	size_t		 in_len, in_off;
	uint64_t	 start_ms;
};

struct admin_result {
	int		 code;		/* summary.code */
	char		 signal[16];	/* summary.signal, "" if none */
	char		 error[ADMIN_ERROR_MAX];	/* "" if none */
	uint64_t	 duration_ms;
	int		 truncated;
	char		*out, *err;	/* malloc'd, may hold any bytes */
	size_t		 out_len, err_len;
};

/*
 * Fork and exec argv[0] looked up on PATH, in its own process group, stdin
 * from /dev/null or a pipe, stdout/stderr on non-blocking pipes, other fds
 * closed, signals reset.  0 on success; -1 with *errp the exec or setup
 * errno (the child has been reaped then).
 */
int	 admin_spawn(const struct admin_spawn *, struct admin_proc *, int *);
/* Read what is there on fd (out_fd or err_fd); 0 at EOF (fd closed). */
int	 admin_proc_read(struct admin_proc *, int);
/* Write what stdin takes now; 0 when all is written (fd closed). */
int	 admin_proc_write(struct admin_proc *);
/* Kill the group and close everything; for teardown without a result. */
void	 admin_proc_abort(struct admin_proc *);
/* Fill res from a waitpid status; moves the buffers out of p. */
void	 admin_proc_result(struct admin_proc *, int, int, int,
	    struct admin_result *);
/*
 * Blocking runner: spawn, poll until EOF and exit or the timeout (SIGKILL
 * to the group, code 124), reap.  Spawn failure gives code 1 and
 * `exec: "<argv0>": <strerror>`.  Returns -1 only when out of memory.
 */
int	 admin_exec(const struct admin_spawn *, int, struct admin_result *);
/*
 * The same with an absolute deadline (admin_now_ms clock): §6.1 counts
 * the timeout from receipt, so time spent waiting for a slot is used up.
 * timeout_s only feeds the `timed out after <N>s` text.
 */
int	 admin_exec_until(const struct admin_spawn *, uint64_t, int,
	    struct admin_result *);
void	 admin_result_free(struct admin_result *);
uint64_t admin_now_ms(void);
/* "SIGHUP" for SIGHUP; NULL for a signal without a name here. */
const char *admin_signame(int);

#endif
