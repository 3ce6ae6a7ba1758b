/*
 * jobs_verdict.c: what a finished job or check means (nixfleet-protocol.md
 * §3.5, §6.3, §6.4): the test verdict, the update_status compartments, the
 * lock and system checks, check-version.  Pure functions of what the
 * runner observed; the texts are the spec's, byte for byte.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compat.h"
#include "jobs.h"

#define JOBS_SYSTEM_STALE_S	(5 * 60)

static int	 jobs_parse_ci(const char *, time_t *);
static int	 jobs_parse_rfc3339(const char *, time_t *);

void
jobs_test_verdict(const struct jobs_test_result *r, size_t n, size_t total,
    int stopped, struct jobs_verdict *v)
{
	size_t	 i, off;
	int	 failed = 0;

	memset(v, 0, sizeof(*v));
	for (i = 0; i < n; i++) {
		if (r[i].exit_code == 0)
			v->passed++;
		else
			failed++;
	}
	v->total = (int)total;
	v->phase_state = JOB_PS_ERROR;
	if (stopped) {
		v->status = JOB_ST_STOPPED;
		v->exit_code = 130;
		v->result = JOB_TR_STOPPED;
		strlcpy(v->message, "Stopped by user", sizeof(v->message));
		v->sc_status = "unknown";
		snprintf(v->sc_message, sizeof(v->sc_message),
		    "Tests stopped (%d/%d passed)", v->passed, v->total);
		return;
	}
	v->result = JOB_TR_COUNTED;
	if (total == 0) {
		v->status = JOB_ST_OK;
		v->result = JOB_TR_NO_TESTS;
		v->phase_state = JOB_PS_COMPLETE;
		v->phase_current = 8;
		strlcpy(v->message, "no tests", sizeof(v->message));
		v->sc_status = "ok";
		strlcpy(v->sc_message, "No tests defined",
		    sizeof(v->sc_message));
		return;
	}
	if (failed == 0 && n == total) {
		v->status = JOB_ST_OK;
		v->phase_state = JOB_PS_COMPLETE;
		v->phase_current = 8;
		snprintf(v->message, sizeof(v->message), "%d/%d passed",
		    v->passed, v->total);
		v->sc_status = "ok";
		strlcpy(v->sc_message, "All tests passed",
		    sizeof(v->sc_message));
		return;
	}
	v->status = JOB_ST_ERROR;
	v->exit_code = 1;
	off = (size_t)snprintf(v->message, sizeof(v->message),
	    "%d/%d passed; failed:", v->passed, v->total);
	for (i = 0, failed = 0; i < n; i++) {
		if (r[i].exit_code == 0)
			continue;
		/* Keep room for ", ..." should the next name not fit. */
		if (off + strlen(r[i].name) + 3 + 6 >= sizeof(v->message)) {
			strlcat(v->message, failed ? ", ..." : " ...",
			    sizeof(v->message));
			break;
		}
		off += (size_t)snprintf(v->message + off,
		    sizeof(v->message) - off, "%s %s", failed ? "," : "",
		    r[i].name);
		failed++;
	}
	v->sc_status = "error";
	snprintf(v->sc_message, sizeof(v->sc_message),
	    "Tests failed (%d/%d passed)", v->passed, v->total);
}

void
jobs_sc_set(struct ipc_sc *sc, const char *status, const char *msg,
    time_t now)
{
	struct tm	 tm;

	strlcpy(sc->status, status, sizeof(sc->status));
	strlcpy(sc->message, msg, sizeof(sc->message));
	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(sc->checked_at, sizeof(sc->checked_at),
	    "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		sc->checked_at[0] = '\0';
}

void
jobs_sc_start(struct jobs_compartments *c, int kind, time_t now)
{
	const struct jobs_kind_info	*k = jobs_kind(kind);

	if (k == NULL)
		return;
	if (k->flags & JOBS_KF_SWITCHES)
		jobs_sc_set(&c->system, "working", "Switch in progress...",
		    now);
	if (kind == JOB_TEST)
		jobs_sc_set(&c->tests, "working", "Tests running...", now);
	if (kind == JOB_REFRESH_LOCK)
		jobs_sc_set(&c->lock, "working", "Refreshing lock...", now);
}

void
jobs_sc_end(struct jobs_compartments *c, int kind, int exit_code,
    int stopped, time_t now)
{
	const struct jobs_kind_info	*k = jobs_kind(kind);
	char				 msg[64];

	if (k == NULL)
		return;
	if (k->flags & JOBS_KF_SWITCHES) {
		if (exit_code == 0 && !stopped) {
			jobs_sc_set(&c->system, "ok", "Switch completed", now);
			jobs_sc_set(&c->tests, "outdated",
			    "System changed - tests need re-run", now);
		} else {
			snprintf(msg, sizeof(msg), "Switch failed (exit %d)",
			    stopped ? 130 : exit_code);
			jobs_sc_set(&c->system, "error", msg, now);
		}
	} else if ((k->flags & JOBS_KF_PULLS) && exit_code == 0 && !stopped)
		jobs_sc_set(&c->system, "outdated",
		    "Pull completed - rebuild needed", now);
}

/* "2026-01-20T07:42:27Z" */
static int
jobs_parse_rfc3339(const char *s, time_t *t)
{
	struct tm	 tm;
	const char	*e;

	memset(&tm, 0, sizeof(tm));
	if ((e = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm)) == NULL ||
	    *e != '\0')
		return -1;
	*t = timegm(&tm);
	return 0;
}

void
jobs_sc_expire(struct jobs_compartments *c, int kind, time_t now)
{
	const struct jobs_kind_info	*k = jobs_kind(kind);
	time_t				 at;

	if (strcmp(c->system.status, "working") != 0 ||
	    (k != NULL && (k->flags & JOBS_KF_SWITCHES)))
		return;
	if (jobs_parse_rfc3339(c->system.checked_at, &at) == -1 ||
	    now - at > JOBS_SYSTEM_STALE_S)
		jobs_sc_set(&c->system, "unknown", c->system.message, now);
}

/* git's %ci: "2026-01-20 08:42:27 +0100", as an instant. */
static int
jobs_parse_ci(const char *s, time_t *t)
{
	struct tm	 tm;
	const char	*e;
	int		 sign, hh, mm, n;

	memset(&tm, 0, sizeof(tm));
	if ((e = strptime(s, "%Y-%m-%d %H:%M:%S ", &tm)) == NULL ||
	    (e[0] != '+' && e[0] != '-'))
		return -1;
	sign = e[0] == '-' ? -1 : 1;
	if (sscanf(e + 1, "%2d%2d%n", &hh, &mm, &n) != 2 || n != 4 ||
	    e[1 + n] != '\0' || hh > 23 || mm > 59)
		return -1;
	*t = timegm(&tm) - sign * (hh * 3600 + mm * 60);
	return 0;
}

void
jobs_lock_verdict(struct ipc_sc *sc, int has_lock, int git_status,
    const char *why, const char *out, time_t now)
{
	char		 buf[200], msg[240];
	time_t		 at;
	long long	 days;
	size_t		 a, b;

	if (!has_lock) {
		jobs_sc_set(sc, "unknown", "flake.lock not found", now);
		return;
	}
	if (git_status != 0) {
		if (git_status > 0)
			snprintf(buf, sizeof(buf), "exit status %d",
			    git_status);
		else
			strlcpy(buf, why != NULL ? why : "signal: killed",
			    sizeof(buf));
		snprintf(msg, sizeof(msg), "Failed to check flake.lock: %s",
		    buf);
		jobs_sc_set(sc, "error", msg, now);
		return;
	}
	if (out == NULL)
		out = "";
	for (a = 0; out[a] == ' ' || out[a] == '\t' || out[a] == '\n' ||
	    out[a] == '\r'; a++)
		;
	for (b = strlen(out); b > a && (out[b - 1] == ' ' ||
	    out[b - 1] == '\t' || out[b - 1] == '\n' || out[b - 1] == '\r');
	    b--)
		;
	if (a == b) {
		jobs_sc_set(sc, "unknown", "flake.lock has no git history",
		    now);
		return;
	}
	snprintf(buf, sizeof(buf), "%.*s", (int)(b - a), out + a);
	if (jobs_parse_ci(buf, &at) == -1) {
		snprintf(msg, sizeof(msg), "Failed to parse lock date: "
		    "parsing time \"%.150s\"", buf);
		jobs_sc_set(sc, "error", msg, now);
		return;
	}
	days = now >= at ? (long long)(now - at) / 86400 : 0;
	if (days == 0)
		jobs_sc_set(sc, "ok", "Updated today", now);
	else if (days == 1)
		jobs_sc_set(sc, "ok", "Updated yesterday", now);
	else {
		snprintf(msg, sizeof(msg), "Updated %lld days ago%s", days,
		    days <= 7 ? "" : days <= 30 ? " - consider updating" :
		    " - needs update");
		jobs_sc_set(sc, days <= 7 ? "ok" : "outdated", msg, now);
	}
}

void
jobs_system_verdict(struct ipc_sc *sc, int build_status, const char *why,
    const char *out, const char *current, time_t now)
{
	char	 msg[240];

	if (build_status != 0) {
		if (why != NULL && why[0] != '\0')
			strlcpy(msg, why, sizeof(msg));
		else
			snprintf(msg, sizeof(msg), "exit status %d",
			    build_status);
		jobs_sc_set(sc, "error", msg, now);
	} else if (out != NULL && current != NULL && current[0] == '/' &&
	    strstr(out, current) != NULL)
		jobs_sc_set(sc, "ok", "System up to date", now);
	else
		jobs_sc_set(sc, "outdated", "Rebuild needed", now);
}

int
jobs_version_candidates(const struct jobs_conf *c, char out[][IPC_PATH_MAX],
    int max)
{
	const char	*user = c->user != NULL && c->user[0] != '\0' ?
	    c->user : c->agent_user;
	int		 n = 0;

	if (max < 4)
		return 0;
	if (c->platform == JOBS_MACOS && c->home != NULL && c->home[0] == '/')
		snprintf(out[n++], IPC_PATH_MAX, "%s/.nix-profile/bin/"
		    "nixfleet-agent", c->home);
	strlcpy(out[n++], "/run/current-system/sw/bin/nixfleet-agent",
	    IPC_PATH_MAX);
	if (user != NULL && user[0] != '\0' && strspn(user,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	    "._-") == strlen(user))
		snprintf(out[n++], IPC_PATH_MAX, "/etc/profiles/per-user/%s/"
		    "bin/nixfleet-agent", user);
	strlcpy(out[n++], "nixfleet-agent", IPC_PATH_MAX);
	return n;
}

void
jobs_check_version(const char *running, const char *out, int found,
    int *status, char *msg, size_t size)
{
	static const char	 pre[] = "nixfleet-agent ";
	char			 y[128];
	size_t			 a = 0, b;

	if (!found) {
		*status = JOB_ST_ERROR;
		strlcpy(msg, "installed binary not found", size);
		return;
	}
	if (out == NULL)
		out = "";
	while (out[a] == ' ' || out[a] == '\t' || out[a] == '\n')
		a++;
	if (strncmp(out + a, pre, sizeof(pre) - 1) == 0)
		a += sizeof(pre) - 1;
	for (b = a; out[b] != '\0' && out[b] != '\n' && out[b] != '\r'; b++)
		;
	while (b > a && (out[b - 1] == ' ' || out[b - 1] == '\t'))
		b--;
	snprintf(y, sizeof(y), "%.*s", (int)(b - a), out + a);
	if (strcmp(running, y) == 0) {
		*status = JOB_ST_OK;
		snprintf(msg, size, "running=%s installed=%s", running, y);
	} else {
		*status = JOB_ST_WARNING;
		snprintf(msg, size, "mismatch: running=%s installed=%s",
		    running, y);
	}
}

int
jobs_log_path(const struct jobs_conf *c, int kind, time_t start, char *buf,
    size_t size)
{
	const struct jobs_kind_info	*k = jobs_kind(kind);
	struct tm			 tm;
	char				 at[32];
	int				 n;

	if (k == NULL || c->state_dir == NULL || c->state_dir[0] != '/' ||
	    gmtime_r(&start, &tm) == NULL ||
	    strftime(at, sizeof(at), "%Y%m%dT%H%M%SZ", &tm) == 0)
		return -1;
	if (kind == JOB_UPDATE_AGENT)
		n = snprintf(buf, size, "%s/logs/update-agent-%s.log",
		    c->state_dir, at);
	else
		n = snprintf(buf, size, "%s/logs/%s-%s.log", c->state_dir, at,
		    k->name);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

void
jobs_update_started(const char *log, char *buf, size_t size)
{
	snprintf(buf, size, "⬆️ Agent update started (detached); log: %s",
	    log);
}

void
jobs_update_result(int exit_code, const char *log, int *status, char *msg,
    size_t size)
{
	if (exit_code == 0) {
		*status = JOB_ST_OK;
		strlcpy(msg, "update complete, restarting", size);
	} else {
		*status = JOB_ST_ERROR;
		snprintf(msg, size, "update failed (exit %d), see %s",
		    exit_code, log);
	}
}
