/*
 * jobs.c: the fixed table of fleet jobs (nixfleet-protocol.md §6.3) and
 * the pure rules around it: which request runs (§6.2), how a job is
 * interrupted.  Templates hold words and @-placeholders; a
 * placeholder is replaced by one configuration value, checked first, as
 * one whole argv element, so no value can add or split an argument.
 * What a finished job means is in jobs_verdict.c.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compat.h"
#include "jobs.h"

#define JOBS_LINE_PULL		"━━━ Step 1/4: Git pull ━━━"
#define JOBS_LINE_FLAKE		"━━━ Step 2/4: Update nixfleet input ━━━"
#define JOBS_LINE_REBUILD	"━━━ Step 3/4: Rebuild ━━━"
#define JOBS_ALNUM	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" \
			    "0123456789"

#define K(k, n, f, ph, ph2, af, ok) \
	[k] = { k, n, f, ph, ph2, af, ok }
static const struct jobs_kind_info jobs_kinds[JOB_KIND_MAX] = {
	K(JOB_PULL, "pull", JOBS_KF_ARGV | JOBS_KF_LOCK_CHECK | JOBS_KF_PULLS,
	    JOB_PHASE_PULL, 0, JOB_AFTER_NONE, NULL),
	K(JOB_SWITCH, "switch", JOBS_KF_ARGV | JOBS_KF_SWITCHES,
	    JOB_PHASE_SYSTEM, 0, JOB_AFTER_EXIT_SWITCH, NULL),
	K(JOB_PULL_SWITCH, "pull-switch", JOBS_KF_ARGV | JOBS_KF_LOCK_CHECK |
	    JOBS_KF_SWITCHES, JOB_PHASE_PULL, JOB_PHASE_SYSTEM,
	    JOB_AFTER_EXIT_SWITCH, NULL),
	K(JOB_TEST, "test", JOBS_KF_TESTS,
	    JOB_PHASE_TESTS, 0, JOB_AFTER_NONE, NULL),
	K(JOB_STOP, "stop", JOBS_KF_BYPASS | JOBS_KF_INTERRUPT,
	    0, 0, JOB_AFTER_NONE, NULL),
	K(JOB_RESTART, "restart", JOBS_KF_BYPASS,
	    0, 0, JOB_AFTER_EXIT, "restarting"),
	K(JOB_REBOOT, "reboot", JOBS_KF_BYPASS | JOBS_KF_ARGV,
	    0, 0, JOB_AFTER_REBOOT, "rebooting"),
	K(JOB_ROLLBACK, "rollback", JOBS_KF_ARGV | JOBS_KF_SWITCHES,
	    0, 0, JOB_AFTER_NONE, NULL),
	K(JOB_UPDATE, "update", JOBS_KF_ARGV | JOBS_KF_LOCK_CHECK,
	    0, 0, JOB_AFTER_NONE, NULL),
	K(JOB_FORCE_UPDATE, "force-update", JOBS_KF_ARGV |
	    JOBS_KF_LOCK_CHECK | JOBS_KF_SWITCHES, 0, 0, JOB_AFTER_NONE,
	    "force update complete"),
	K(JOB_FORCE_REBUILD, "force-rebuild", JOBS_KF_ARGV |
	    JOBS_KF_LOCK_CHECK | JOBS_KF_SWITCHES, 0, 0, JOB_AFTER_NONE,
	    "force update complete"),
	K(JOB_BUMP_FLAKE, "bump-flake", JOBS_KF_ARGV | JOBS_KF_LOCK_CHECK,
	    0, 0, JOB_AFTER_NONE, "nixfleet input updated"),
	K(JOB_CHECK_VERSION, "check-version", 0,
	    0, 0, JOB_AFTER_NONE, NULL),
	K(JOB_REFRESH_GIT, "refresh-git", 0,
	    0, 0, JOB_AFTER_NONE, "git status check is dashboard-side"),
	K(JOB_REFRESH_LOCK, "refresh-lock", JOBS_KF_LOCK_CHECK,
	    0, 0, JOB_AFTER_NONE, NULL),
	K(JOB_REFRESH_SYSTEM, "refresh-system", JOBS_KF_SYSTEM_CHECK,
	    0, 0, JOB_AFTER_NONE, NULL),
	K(JOB_REFRESH_ALL, "refresh-all", JOBS_KF_LOCK_CHECK |
	    JOBS_KF_SYSTEM_CHECK, 0, 0, JOB_AFTER_NONE, "all refreshed"),
	K(JOB_KILL, "kill", JOBS_KF_BYPASS | JOBS_KF_INTERRUPT,
	    0, 0, JOB_AFTER_NONE, NULL),
	K(JOB_UPDATE_AGENT, "update-agent", JOBS_KF_DETACHED,
	    0, 0, JOB_AFTER_NONE, NULL),
};
#undef K

/*
 * One step of a template.  Placeholders: @dir, @branch, @origin
 * (origin/<branch>), @flake (<dir>#<host>), @here (.#<host>), @toplevel
 * and @activation (the flake outputs refresh-system dry-builds).
 */
struct jobs_tmpl {
	int		 runs_as;
	int		 flags;
	const char	*banner;
	const char	*argv[JOBS_ARGV_MAX + 1];
};

#define U	JOBS_AS_REPO_USER
#define R	JOBS_AS_ROOT

static const struct jobs_tmpl t_fetch = { U, JOBS_SF_SSH, NULL,
    { "git", "-C", "@dir", "fetch", "origin", "@branch" } };
static const struct jobs_tmpl t_reset = { U, 0, NULL,
    { "git", "-C", "@dir", "reset", "--hard", "@origin" } };
static const struct jobs_tmpl t_clean = { U, JOBS_SF_WARN_ONLY, NULL,
    { "git", "-C", "@dir", "clean", "-fd" } };
static const struct jobs_tmpl t_pull_legacy = { U, JOBS_SF_SSH, NULL,
    { "git", "-C", "@dir", "pull" } };
static const struct jobs_tmpl t_switch_nixos = { R, 0, NULL,
    { "sudo", "nixos-rebuild", "switch", "--flake", "@flake" } };
static const struct jobs_tmpl t_switch_macos = { U, 0, NULL,
    { "home-manager", "switch", "--flake", "@flake" } };
static const struct jobs_tmpl t_rollback_nixos = { R, 0, NULL,
    { "sudo", "nixos-rebuild", "--rollback", "switch" } };
static const struct jobs_tmpl t_reboot = { R, 0, NULL,
    { "sudo", "reboot" } };
static const struct jobs_tmpl t_update = { U, 0, NULL,
    { "nix", "flake", "update" } };
static const struct jobs_tmpl t_bump = { U, 0, NULL,
    { "nix", "flake", "update", "nixfleet" } };
/* force-update: upstream's cwd-relative forms, cwd being <dir>. */
static const struct jobs_tmpl t_fu_pull = { U, JOBS_SF_SSH, JOBS_LINE_PULL,
    { "git", "pull" } };
static const struct jobs_tmpl t_fu_fetch = { U, JOBS_SF_SSH, JOBS_LINE_PULL,
    { "git", "-C", "@dir", "fetch", "origin", "@branch" } };
static const struct jobs_tmpl t_fu_flake = { U, 0, JOBS_LINE_FLAKE,
    { "nix", "flake", "update", "nixfleet" } };
static const struct jobs_tmpl t_fu_nixos = { R, 0, JOBS_LINE_REBUILD,
    { "sudo", "nixos-rebuild", "switch", "--flake", "@here", "--option",
    "narinfo-cache-negative-ttl", "0" } };
static const struct jobs_tmpl t_fu_macos = { U, 0, JOBS_LINE_REBUILD,
    { "home-manager", "switch", "--flake", "@here", "--option",
    "narinfo-cache-negative-ttl", "0" } };
static const struct jobs_tmpl t_lock = { U, 0, NULL,
    { "git", "-C", "@dir", "log", "-1", "--format=%ci", "--",
    "flake.lock" } };
static const struct jobs_tmpl t_sys_nixos = { U, 0, NULL,
    { "nix", "build", "--experimental-features", "nix-command flakes",
    "--dry-run", "--json", "@toplevel" } };
static const struct jobs_tmpl t_sys_macos = { U, 0, NULL,
    { "nix", "build", "--experimental-features", "nix-command flakes",
    "--dry-run", "--json", "@activation" } };

#undef U
#undef R

/* Bytes a POSIX shell word may hold unquoted; anything else is quoted. */
static const char jobs_shell_safe[] =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    "_@%+=:,./-";

static const char jobs_test_sh_macos[] =
    "if [ -f \"$HOME/.nix-profile/etc/profile.d/nix.sh\" ]; then "
    ". \"$HOME/.nix-profile/etc/profile.d/nix.sh\"; fi; exec \"$1\"";

/* §6.5: a fixed text; every value is a positional argument. */
/*
 * One line: a plan's values hold no newline (docs/journal.md).  set -e
 * ends the script at the first failed step with its exit status.
 */
#define JOBS_UPDATE_PULL \
    "set -eu; cd \"$1\"; " \
    "if [ \"$2\" = isolated ]; then " \
    "git fetch origin \"$3\"; git reset --hard \"origin/$3\"; " \
    "git clean -fd || echo 'warning: git clean failed' >&2; " \
    "else git pull; fi; " \
    "nix flake update nixfleet; "
static const char jobs_update_nixos[] = JOBS_UPDATE_PULL
    "sudo nixos-rebuild switch --flake \"$1#$4\"";
static const char jobs_update_macos[] = JOBS_UPDATE_PULL
    "home-manager switch --flake \"$1#$4\"";

static const struct jobs_interrupt jobs_interrupts[] = {
	{ JOB_STOP, JOB_SIG_TERM, JOB_SIG_KILL, 3000, JOB_ST_STOPPED, 130 },
	{ JOB_KILL, JOB_SIG_TERM, JOB_SIG_KILL, 5000, JOB_ST_ERROR, -1 },
	{ JOB_KILL, JOB_SIG_KILL, JOB_SIG_NONE, 0, JOB_ST_ERROR, -1 },
};

static int	 jobs_ctl(const char *);
static char	*jobs_fill(const struct jobs_conf *, const char *);
static int	 jobs_add(struct jobs_plan *, const struct jobs_conf *,
		    const struct jobs_tmpl *);
static int	 jobs_add_pull(struct jobs_plan *, const struct jobs_conf *,
		    int);
static int	 jobs_env_take(char ***, size_t *, char *);
static int	 jobs_env_put(char ***, size_t *, const char *, const char *);

/* ---------------------------------------------------------------- */
/* Kinds */

const struct jobs_kind_info *
jobs_kind(int kind)
{
	if (kind <= JOB_NONE || kind >= JOB_KIND_MAX)
		return NULL;
	return &jobs_kinds[kind];
}

int
jobs_kind_by_name(const char *name, size_t len)
{
	int	 k;

	for (k = JOB_NONE + 1; k < JOB_KIND_MAX; k++)
		if (strlen(jobs_kinds[k].name) == len &&
		    memcmp(jobs_kinds[k].name, name, len) == 0)
			return k;
	return JOB_NONE;
}

int
jobs_check_start(const struct ipc_job_start *js)
{
	if (js->kind <= JOB_NONE || js->kind >= JOB_KIND_MAX ||
	    js->flags != 0 || js->arg != 0 || js->pad != 0)
		return -1;
	return 0;
}

int
jobs_check_signal(const struct ipc_job_signal *sg)
{
	if (sg->pad != 0 || sg->pid < 0 ||
	    (sg->signal != JOB_SIG_TERM && sg->signal != JOB_SIG_KILL))
		return -1;
	if (sg->how == JOB_STOP)
		return sg->signal == JOB_SIG_TERM ? 0 : -1;
	return sg->how == JOB_KILL ? 0 : -1;
}

int
jobs_admit(int running, int kind)
{
	if (kind == JOB_STOP || kind == JOB_KILL)
		return running != JOB_NONE ? JOBS_INTERRUPT : JOBS_NO_JOB;
	if (JOB_KIND_BYPASS(kind))
		return JOBS_AGENT;
	/* Before the lookup: a busy agent rejects unknown names too. */
	if (running != JOB_NONE)
		return JOBS_BUSY;
	if (jobs_kind(kind) == NULL)
		return JOBS_UNKNOWN;
	return JOBS_RUN;
}

int
jobs_progress(int phase, int state, uint32_t *current, uint32_t *total)
{
	switch (phase) {
	case JOB_PHASE_PULL:
		*total = 4;
		break;
	case JOB_PHASE_SYSTEM:
		*total = 3;
		break;
	case JOB_PHASE_TESTS:
		*total = 8;
		break;
	default:
		return -1;
	}
	*current = state == JOB_PS_COMPLETE ? *total : 0;
	return state >= JOB_PS_PENDING && state <= JOB_PS_ERROR ? 0 : -1;
}

int
jobs_step_failed(const struct jobs_plan *p, int step, int exit_code,
    int *status, int *exit, char *msg, size_t size)
{
	const struct jobs_step	*st;

	if (step < 0 || step >= p->nsteps)
		return -1;
	st = &p->step[step];
	if (st->flags & JOBS_SF_WARN_ONLY) {
		snprintf(msg, size, "⚠️ %s %s failed (exit %d), continuing",
		    st->argv[0], st->argv[1] != NULL && strcmp(st->argv[1],
		    "-C") == 0 && st->argv[3] != NULL ? st->argv[3] : "",
		    exit_code);
		return 0;
	}
	*status = JOB_ST_ERROR;
	/* pull-switch: every step but the last is its pull. */
	if (p->kind == JOB_PULL_SWITCH && step < p->nsteps - 1) {
		*exit = 1;
		snprintf(msg, size, "pull failed (exit %d)", exit_code);
	} else {
		*exit = exit_code;
		strlcpy(msg, "command failed", size);
	}
	return -1;
}

/* ---------------------------------------------------------------- */
/* Configuration values */

static int
jobs_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/*
 * An absolute directory without control characters; '#' and '?' would
 * end the path part of the flake reference <dir>#<host>.
 */
int
jobs_valid_dir(const char *s)
{
	if (s == NULL || s[0] != '/' || strlen(s) >= IPC_PATH_MAX ||
	    jobs_ctl(s) || strpbrk(s, "#?") != NULL)
		return -1;
	return 0;
}

/* git check-ref-format's rules, and never an option: no leading '-'. */
int
jobs_valid_branch(const char *s)
{
	size_t	 len, i;

	if (s == NULL || (len = strlen(s)) == 0 || len > 200 ||
	    s[0] == '-' || s[0] == '.' || s[0] == '/' || s[len - 1] == '/' ||
	    s[len - 1] == '.' || strstr(s, "..") != NULL ||
	    strstr(s, "//") != NULL || strstr(s, "/.") != NULL ||
	    strstr(s, "@{") != NULL || strcmp(s, "@") == 0 ||
	    (len >= 5 && strcmp(s + len - 5, ".lock") == 0))
		return -1;
	for (i = 0; i < len; i++)
		if (strchr(JOBS_ALNUM "._/-+@", s[i]) == NULL)
			return -1;
	return 0;
}

/*
 * The host name is a flake attribute and a path component
 * (hosts/<host>/tests): letters, digits, '-', '_', '.', never "." or
 * "..", never a leading '-' or '.'.
 */
int
jobs_valid_host(const char *s)
{
	size_t	 len, i;

	if (s == NULL || (len = strlen(s)) == 0 || len > 253 ||
	    s[0] == '-' || s[0] == '.' || strstr(s, "..") != NULL)
		return -1;
	for (i = 0; i < len; i++)
		if (strchr(JOBS_ALNUM "-_.", s[i]) == NULL)
			return -1;
	return 0;
}

char *
jobs_ssh_command(const char *key)
{
	static const char	 pre[] = "ssh -i ", post[] =
	    " -o StrictHostKeyChecking=no";
	char			*out, *o;
	size_t			 n, i;

	if (key == NULL || key[0] != '/' || jobs_ctl(key) ||
	    strlen(key) >= IPC_PATH_MAX) {
		errno = EINVAL;
		return NULL;
	}
	/* Worst case: every byte a quote, 4 bytes each, plus two quotes. */
	n = sizeof(pre) + 4 * strlen(key) + 2 + sizeof(post);
	if ((out = malloc(n)) == NULL)
		return NULL;
	o = out + strlcpy(out, pre, n);
	if (strspn(key, jobs_shell_safe) == strlen(key))
		strlcpy(o, key, n - (size_t)(o - out));
	else {
		*o++ = '\'';
		for (i = 0; key[i] != '\0'; i++) {
			if (key[i] == '\'') {
				memcpy(o, "'\\''", 4);
				o += 4;
			} else
				*o++ = key[i];
		}
		*o++ = '\'';
		*o = '\0';
	}
	strlcat(out, post, n);
	return out;
}

/* One argv element from a template word; NULL with errno. */
static char *
jobs_fill(const struct jobs_conf *c, const char *w)
{
	char	*s = NULL;
	int	 r = 0;

	if (w[0] != '@')
		s = strdup(w);
	else if (strcmp(w, "@dir") == 0)
		s = strdup(c->repo_dir);
	else if (strcmp(w, "@branch") == 0)
		s = strdup(c->branch);
	else if (strcmp(w, "@origin") == 0)
		r = asprintf(&s, "origin/%s", c->branch);
	else if (strcmp(w, "@flake") == 0)
		r = asprintf(&s, "%s#%s", c->repo_dir, c->hostname);
	else if (strcmp(w, "@here") == 0)
		r = asprintf(&s, ".#%s", c->hostname);
	else if (strcmp(w, "@toplevel") == 0)
		r = asprintf(&s, "%s#nixosConfigurations.%s.config.system."
		    "build.toplevel", c->repo_dir, c->hostname);
	else if (strcmp(w, "@activation") == 0)
		r = asprintf(&s, "%s#homeConfigurations.%s.activationPackage",
		    c->repo_dir, c->hostname);
	else {
		errno = EINVAL;
		return NULL;
	}
	if (r == -1)
		return NULL;
	return s;
}

/* The repo user is used only by a root agent that has one configured. */
static int
jobs_switches_user(const struct jobs_conf *c, int runs_as)
{
	return runs_as == JOBS_AS_REPO_USER && c->agent_root &&
	    c->user != NULL && c->user[0] != '\0';
}

static int
jobs_add(struct jobs_plan *p, const struct jobs_conf *c,
    const struct jobs_tmpl *t)
{
	struct jobs_step	*st;
	size_t			 i;

	if (p->nsteps >= JOBS_STEPS_MAX) {
		errno = E2BIG;
		return -1;
	}
	st = &p->step[p->nsteps++];
	st->runs_as = t->runs_as;
	st->as_user = jobs_switches_user(c, t->runs_as);
	st->flags = t->flags;
	st->banner = t->banner;
	for (i = 0; t->argv[i] != NULL; i++)
		if ((st->argv[i] = jobs_fill(c, t->argv[i])) == NULL)
			return -1;
	return 0;
}

/* The pull of the configured mode; banner on its first step. */
static int
jobs_add_pull(struct jobs_plan *p, const struct jobs_conf *c, int forced)
{
	if (!c->isolated)
		return jobs_add(p, c, forced ? &t_fu_pull : &t_pull_legacy);
	if (jobs_add(p, c, forced ? &t_fu_fetch : &t_fetch) == -1 ||
	    jobs_add(p, c, &t_reset) == -1 || jobs_add(p, c, &t_clean) == -1)
		return -1;
	return 0;
}

int
jobs_plan_build(const struct jobs_conf *c, int kind, struct jobs_plan *p,
    const char **why)
{
	int	 macos = c->platform == JOBS_MACOS;
	int	 r = 0;

	memset(p, 0, sizeof(*p));
	p->kind = kind;
	*why = NULL;
	if (jobs_kind(kind) == NULL) {
		*why = "unknown job kind";
		return -1;
	}
	if (c->platform != JOBS_NIXOS && c->platform != JOBS_MACOS)
		*why = "unknown platform";
	else if (jobs_valid_dir(c->repo_dir) == -1)
		*why = "NIXFLEET_REPO_DIR: not an absolute path that can be "
		    "passed safely";
	else if (jobs_valid_branch(c->branch) == -1)
		*why = "NIXFLEET_BRANCH: not a branch name git accepts";
	else if (jobs_valid_host(c->hostname) == -1)
		*why = "NIXFLEET_HOSTNAME: not usable as a flake attribute";
	else if (c->user != NULL && c->user[0] != '\0' && c->agent_root &&
	    (c->user_home == NULL || c->user_home[0] != '/' ||
	    jobs_ctl(c->user_home) || jobs_ctl(c->user)))
		*why = "NIXFLEET_USER: no usable home directory";
	if (*why != NULL)
		return -1;
	if (c->ssh_key != NULL && c->ssh_key[0] != '\0' &&
	    (p->ssh_command = jobs_ssh_command(c->ssh_key)) == NULL) {
		*why = errno == EINVAL ? "NIXFLEET_SSH_KEY: not an absolute "
		    "path that can be passed safely" : "out of memory";
		return -1;
	}

	switch (kind) {
	case JOB_PULL:
		r = jobs_add_pull(p, c, 0);
		break;
	case JOB_SWITCH:
		r = jobs_add(p, c, macos ? &t_switch_macos : &t_switch_nixos);
		break;
	case JOB_PULL_SWITCH:
		if ((r = jobs_add_pull(p, c, 0)) == 0)
			r = jobs_add(p, c, macos ? &t_switch_macos :
			    &t_switch_nixos);
		break;
	case JOB_ROLLBACK:
		p->pre_line = "🔄 Rolling back to previous generation...";
		/* macOS: jobrun_create() adds it (jobs_hm_rollback). */
		if (!macos)
			r = jobs_add(p, c, &t_rollback_nixos);
		break;
	case JOB_REBOOT:
		p->pre_line = "⚠️  Reboot command received. System will "
		    "reboot in 3 seconds...";
		p->step_delay_ms = 3000;
		r = jobs_add(p, c, &t_reboot);
		break;
	case JOB_UPDATE:
		r = jobs_add(p, c, &t_update);
		break;
	case JOB_BUMP_FLAKE:
		r = jobs_add(p, c, &t_bump);
		break;
	case JOB_FORCE_UPDATE:
	case JOB_FORCE_REBUILD:
		if ((r = jobs_add_pull(p, c, 1)) == 0 &&
		    (r = jobs_add(p, c, &t_fu_flake)) == 0)
			r = jobs_add(p, c, macos ? &t_fu_macos : &t_fu_nixos);
		p->post_line = "━━━ Step 4/4: Done ━━━";
		break;
	case JOB_REFRESH_GIT:
		p->pre_line = "Git status is checked by dashboard (GitHub API)";
		break;
	case JOB_REFRESH_LOCK:
		r = jobs_add(p, c, &t_lock);
		break;
	case JOB_REFRESH_SYSTEM:
		r = jobs_add(p, c, macos ? &t_sys_macos : &t_sys_nixos);
		break;
	case JOB_REFRESH_ALL:
		if ((r = jobs_add(p, c, &t_lock)) == 0)
			r = jobs_add(p, c, macos ? &t_sys_macos :
			    &t_sys_nixos);
		break;
	case JOB_UPDATE_AGENT:
		if (p->nsteps < JOBS_STEPS_MAX &&
		    (r = jobs_update_script(c, &p->step[p->nsteps])) == 0)
			p->nsteps++;
		break;
	default:
		/* stop, kill, restart, test, check-version, refresh-git */
		break;
	}
	if (r == -1) {
		*why = "out of memory";
		return -1;
	}
	return 0;
}

void
jobs_plan_free(struct jobs_plan *p)
{
	int	 i;
	size_t	 j;

	for (i = 0; i < p->nsteps && i < JOBS_STEPS_MAX; i++)
		for (j = 0; j < nitems(p->step[i].argv); j++) {
			free(p->step[i].argv[j]);
			p->step[i].argv[j] = NULL;
		}
	free(p->ssh_command);
	p->ssh_command = NULL;
	p->nsteps = 0;
}

/* ---------------------------------------------------------------- */
/* Environment */

/* Append s (taken over) to the NULL-terminated *envp of *n entries. */
static int
jobs_env_take(char ***envp, size_t *n, char *s)
{
	char	**v;

	if (s == NULL)
		return -1;
	if ((v = reallocarray(*envp, *n + 2, sizeof(*v))) == NULL) {
		free(s);
		return -1;
	}
	v[(*n)++] = s;
	v[*n] = NULL;
	*envp = v;
	return 0;
}

static int
jobs_env_put(char ***envp, size_t *n, const char *name, const char *value)
{
	char	*s;

	if (asprintf(&s, "%s=%s", name, value) == -1)
		return -1;
	return jobs_env_take(envp, n, s);
}

/* Whether a "NAME=value" entry names one of the variables we set. */
static int
jobs_env_dropped(const char *e, const struct jobs_plan *p,
    const struct jobs_step *st)
{
	static const char *const	 always[] = {
		"NIXFLEET_TOKEN=", "NIXFLEET_TOKEN_FILE=",
	};
	static const char *const	 user[] = {
		"HOME=", "USER=", "LOGNAME=",
	};
	size_t				 i;

	for (i = 0; i < nitems(always); i++)
		if (strncmp(e, always[i], strlen(always[i])) == 0)
			return 1;
	if (p->ssh_command != NULL && (st->flags & JOBS_SF_SSH) &&
	    strncmp(e, "GIT_SSH_COMMAND=", 16) == 0)
		return 1;
	if (st->as_user)
		for (i = 0; i < nitems(user); i++)
			if (strncmp(e, user[i], strlen(user[i])) == 0)
				return 1;
	return 0;
}

char **
jobs_env_build(char *const *base, const struct jobs_conf *c,
    const struct jobs_plan *p, const struct jobs_step *st)
{
	char	**env;
	size_t	 n = 0, i;

	if ((env = calloc(1, sizeof(*env))) == NULL)
		return NULL;
	for (i = 0; base != NULL && base[i] != NULL; i++) {
		if (strchr(base[i], '=') == NULL ||
		    jobs_env_dropped(base[i], p, st))
			continue;
		if (jobs_env_take(&env, &n, strdup(base[i])) == -1)
			goto fail;
	}
	if (p->ssh_command != NULL && (st->flags & JOBS_SF_SSH) &&
	    jobs_env_put(&env, &n, "GIT_SSH_COMMAND", p->ssh_command) == -1)
		goto fail;
	if (st->as_user &&
	    (jobs_env_put(&env, &n, "HOME", c->user_home) == -1 ||
	    jobs_env_put(&env, &n, "USER", c->user) == -1 ||
	    jobs_env_put(&env, &n, "LOGNAME", c->user) == -1))
		goto fail;
	return env;
 fail:
	jobs_env_free(env);
	return NULL;
}

void
jobs_env_free(char **env)
{
	size_t	 i;

	if (env == NULL)
		return;
	for (i = 0; env[i] != NULL; i++)
		free(env[i]);
	free(env);
}

/* ---------------------------------------------------------------- */
/* test, rollback, update-agent */

char *
jobs_test_dir(const struct jobs_conf *c)
{
	char	*s;

	if (jobs_valid_dir(c->repo_dir) == -1 ||
	    jobs_valid_host(c->hostname) == -1) {
		errno = EINVAL;
		return NULL;
	}
	if (asprintf(&s, "%s/hosts/%s/tests", c->repo_dir, c->hostname) == -1)
		return NULL;
	return s;
}

int
jobs_test_name(const char *s)
{
	size_t	 len = strlen(s);

	return len > 3 && strcmp(s + len - 3, ".sh") == 0 &&
	    strchr(s, '/') == NULL;
}

void
jobs_test_line(int which, const char *name, int exit_code, char *buf,
    size_t size)
{
	switch (which) {
	case JOBS_TL_START:
		snprintf(buf, size, "▶ %s", name);
		break;
	case JOBS_TL_PASSED:
		snprintf(buf, size, "✅ %s passed", name);
		break;
	case JOBS_TL_FAILED:
		snprintf(buf, size, "❌ %s failed (exit %d)", name, exit_code);
		break;
	case JOBS_TL_SKIPPED:
		snprintf(buf, size, "⏭ %s skipped (not executable)", name);
		break;
	default:
		strlcpy(buf, "no tests", size);
		break;
	}
}

void
jobs_reboot_failed(const char *why, char *buf, size_t size)
{
	snprintf(buf, size, "❌ Reboot failed: %s", why);
}

/* §6.3: run directly on NixOS; through sh for nix.sh on macOS. */
int
jobs_test_argv(const struct jobs_conf *c, const char *path,
    struct jobs_step *st)
{
	memset(st, 0, sizeof(*st));
	st->runs_as = JOBS_AS_REPO_USER;
	st->as_user = jobs_switches_user(c, st->runs_as);
	if (path == NULL || path[0] != '/' || jobs_ctl(path)) {
		errno = EINVAL;
		return -1;
	}
	if (c->platform != JOBS_MACOS) {
		if ((st->argv[0] = strdup(path)) == NULL)
			return -1;
		return 0;
	}
	if ((st->argv[0] = strdup("sh")) == NULL ||
	    (st->argv[1] = strdup("-c")) == NULL ||
	    (st->argv[2] = strdup(jobs_test_sh_macos)) == NULL ||
	    (st->argv[3] = strdup("sh")) == NULL ||
	    (st->argv[4] = strdup(path)) == NULL)
		return -1;
	return 0;
}

int
jobs_hm_previous(const char *const *names, size_t n)
{
	static const char	 pre[] = "home-manager-", post[] = "-link";
	unsigned long long	 v, best = 0, second = 0;
	int			 ibest = -1, isecond = -1;
	const char		*s;
	char			*end;
	size_t			 i;

	for (i = 0; i < n; i++) {
		s = names[i];
		if (strncmp(s, pre, sizeof(pre) - 1) != 0)
			continue;
		s += sizeof(pre) - 1;
		if (*s < '0' || *s > '9')
			continue;
		errno = 0;
		v = strtoull(s, &end, 10);
		if (errno != 0 || strcmp(end, post) != 0)
			continue;
		if (ibest == -1 || v > best) {
			second = best;
			isecond = ibest;
			best = v;
			ibest = (int)i;
		} else if (v != best && (isecond == -1 || v > second)) {
			second = v;
			isecond = (int)i;
		}
	}
	return isecond;
}

int
jobs_hm_profiles(const struct jobs_conf *c, char *buf, size_t size)
{
	const char	*home = c->home;
	int		 n;

	if (c->user != NULL && c->user[0] != '\0' && c->agent_root)
		home = c->user_home;
	if (home == NULL || home[0] != '/' || jobs_ctl(home))
		return -1;
	n = snprintf(buf, size, "%s/.local/state/nix/profiles", home);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

int
jobs_hm_rollback(const struct jobs_conf *c, const char *const *names,
    size_t n, struct jobs_step *st)
{
	char	 dir[1024];
	int	 i;

	memset(st, 0, sizeof(*st));
	st->runs_as = JOBS_AS_REPO_USER;
	st->as_user = jobs_switches_user(c, st->runs_as);
	if ((i = jobs_hm_previous(names, n)) == -1 ||
	    jobs_hm_profiles(c, dir, sizeof(dir)) == -1)
		return -1;
	if (asprintf(&st->argv[0], "%s/%s/activate", dir, names[i]) == -1) {
		st->argv[0] = NULL;
		return -1;
	}
	return 0;
}

int
jobs_update_script(const struct jobs_conf *c, struct jobs_step *st)
{
	const char	*script = c->platform == JOBS_MACOS ?
	    jobs_update_macos : jobs_update_nixos;
	const char	*words[] = { "sh", "-c", script,
	    "nixfleet-agent-update", c->repo_dir,
	    c->isolated ? "isolated" : "legacy", c->branch, c->hostname };
	size_t		 i;

	memset(st, 0, sizeof(*st));
	st->runs_as = JOBS_AS_REPO_USER;
	st->as_user = jobs_switches_user(c, st->runs_as);
	st->flags = JOBS_SF_SSH;
	if (jobs_valid_dir(c->repo_dir) == -1 ||
	    jobs_valid_branch(c->branch) == -1 ||
	    jobs_valid_host(c->hostname) == -1) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < nitems(words); i++)
		if ((st->argv[i] = strdup(words[i])) == NULL)
			return -1;
	return 0;
}

/* ---------------------------------------------------------------- */
/* Interrupts */

const struct jobs_interrupt *
jobs_interrupt(int how, int sig)
{
	size_t	 i;

	if (how == JOB_STOP)
		sig = JOB_SIG_TERM;	/* stop always starts gently */
	for (i = 0; i < nitems(jobs_interrupts); i++)
		if (jobs_interrupts[i].how == how &&
		    jobs_interrupts[i].first == sig)
			return &jobs_interrupts[i];
	return NULL;
}

int
jobs_kill_check(int running, int child_pid, int pid, int sig)
{
	if (running == JOB_NONE)
		return JOBS_KC_IDLE;
	if (pid != 0 && (child_pid <= 0 || pid != child_pid))
		return JOBS_KC_OTHER_PID;
	if (sig != JOB_SIG_TERM && sig != JOB_SIG_KILL)
		return JOBS_KC_BAD_SIGNAL;
	return JOBS_KC_SIGNAL;
}

int
jobs_may_signal(int pgid, int own_pgid)
{
	return pgid > 1 && pgid != own_pgid;
}

int
jobs_signal_number(int sig)
{
	switch (sig) {
	case JOB_SIG_TERM:	return SIGTERM;
	case JOB_SIG_KILL:	return SIGKILL;
	default:		return 0;
	}
}

void
jobs_interrupt_banner(const struct jobs_interrupt *in, const char *command,
    char *buf, size_t size)
{
	if (in->how == JOB_STOP)
		snprintf(buf, size, "⏹ Stopping %s (%s)", command,
		    jobs_signal_name(in->first));
	else
		snprintf(buf, size, "⚠️ Received kill command (%s)",
		    jobs_signal_name(in->first));
}

void
jobs_interrupt_status(const struct jobs_interrupt *in, int last_sig,
    int child_status, int *status, int *exit_code, char *msg, size_t size)
{
	*status = in->status;
	if (in->how == JOB_STOP) {
		*exit_code = 130;
		strlcpy(msg, "Stopped by user", size);
		return;
	}
	*exit_code = child_status;
	snprintf(msg, size, "killed by %s", jobs_signal_name(
	    last_sig != JOB_SIG_NONE ? last_sig : in->first));
}

const char *
jobs_signal_name(int sig)
{
	switch (sig) {
	case JOB_SIG_TERM:	return "SIGTERM";
	case JOB_SIG_KILL:	return "SIGKILL";
	default:		return NULL;
	}
}
