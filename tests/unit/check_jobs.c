/*
 * check_jobs.c: the job table of the exec-worker.  Every kind's argv is
 * compared element by element with spec §6.3 on NixOS and macOS, in both
 * repository modes; the environment of a step is compared whole; values
 * that cannot be passed safely are refused; the busy/bypass matrix, the
 * interrupt data, the test verdict and the compartments are pinned to the
 * texts of §3.5, §6.2 and §6.4.
 */
#include <check.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "dialect_nixfleet.h"
#include "jobrec.h"
#include "jobs.h"
#include "testlib.h"

#define DIR	"/var/lib/nixfleet-agent/repo"

static Suite	*jobs_suite(void);

static struct jobs_conf
conf(int platform, int isolated)
{
	struct jobs_conf	 c;

	memset(&c, 0, sizeof(c));
	c.platform = platform;
	c.isolated = isolated;
	c.agent_root = 1;
	c.repo_dir = DIR;
	c.branch = "main";
	c.hostname = "web01";
	c.user = "alice";
	c.user_home = "/home/alice";
	c.home = "/Users/alice";
	c.agent_user = "alice";
	c.state_dir = "/var/lib/nixfleet-agent";
	return c;
}

/* The step's argv is exactly the NULL-terminated list that follows. */
static void
assert_argv(const struct jobs_step *st, ...)
{
	va_list		 ap;
	const char	*w;
	size_t		 i = 0;

	va_start(ap, st);
	while ((w = va_arg(ap, const char *)) != NULL) {
		ck_assert_msg(st->argv[i] != NULL, "argv[%zu] missing, want %s",
		    i, w);
		ck_assert_str_eq(st->argv[i], w);
		i++;
	}
	va_end(ap);
	ck_assert_msg(st->argv[i] == NULL, "extra argv[%zu] %s", i,
	    st->argv[i]);
}

static void
build(const struct jobs_conf *c, int kind, struct jobs_plan *p)
{
	const char	*why;

	ck_assert_msg(jobs_plan_build(c, kind, p, &why) == 0, "kind %d: %s",
	    kind, why);
}

/* ---------------------------------------------------------------- */

START_TEST(test_jobs_pull_isolated)
{
	struct jobs_conf	 c = conf(_i ? JOBS_MACOS : JOBS_NIXOS, 1);
	struct jobs_plan	 p;

	build(&c, JOB_PULL, &p);
	ck_assert_int_eq(p.nsteps, 3);
	assert_argv(&p.step[0], "git", "-C", DIR, "fetch", "origin", "main",
	    NULL);
	assert_argv(&p.step[1], "git", "-C", DIR, "reset", "--hard",
	    "origin/main", NULL);
	assert_argv(&p.step[2], "git", "-C", DIR, "clean", "-fd", NULL);
	ck_assert_int_eq(p.step[0].flags, JOBS_SF_SSH);
	ck_assert_int_eq(p.step[1].flags, 0);
	ck_assert_int_eq(p.step[2].flags, JOBS_SF_WARN_ONLY);
	ck_assert_int_eq(p.step[0].runs_as, JOBS_AS_REPO_USER);
	ck_assert_int_eq(p.step[0].as_user, 1);
	ck_assert_ptr_null(p.step[0].banner);
	ck_assert_ptr_null(p.ssh_command);
	ck_assert_int_eq(jobs_kind(JOB_PULL)->phase, JOB_PHASE_PULL);
	ck_assert(jobs_kind(JOB_PULL)->flags & JOBS_KF_LOCK_CHECK);
	jobs_plan_free(&p);
}
END_TEST

START_TEST(test_jobs_pull_legacy)
{
	struct jobs_conf	 c = conf(_i ? JOBS_MACOS : JOBS_NIXOS, 0);
	struct jobs_plan	 p;

	c.branch = "release/24.11";
	build(&c, JOB_PULL, &p);
	ck_assert_int_eq(p.nsteps, 1);
	assert_argv(&p.step[0], "git", "-C", DIR, "pull", NULL);
	ck_assert_int_eq(p.step[0].flags, JOBS_SF_SSH);
	jobs_plan_free(&p);
}
END_TEST

START_TEST(test_jobs_switch)
{
	struct jobs_conf	 c = conf(JOBS_NIXOS, 1);
	struct jobs_plan	 p;

	build(&c, JOB_SWITCH, &p);
	ck_assert_int_eq(p.nsteps, 1);
	assert_argv(&p.step[0], "sudo", "nixos-rebuild", "switch", "--flake",
	    DIR "#web01", NULL);
	ck_assert_int_eq(p.step[0].runs_as, JOBS_AS_ROOT);
	ck_assert_int_eq(p.step[0].as_user, 0);
	ck_assert_int_eq(jobs_kind(JOB_SWITCH)->after, JOB_AFTER_EXIT_SWITCH);
	jobs_plan_free(&p);

	c = conf(JOBS_MACOS, 0);
	build(&c, JOB_SWITCH, &p);
	ck_assert_int_eq(p.nsteps, 1);
	assert_argv(&p.step[0], "home-manager", "switch", "--flake",
	    DIR "#web01", NULL);
	ck_assert_int_eq(p.step[0].runs_as, JOBS_AS_REPO_USER);
	jobs_plan_free(&p);
}
END_TEST

START_TEST(test_jobs_pull_switch)
{
	struct jobs_conf	 c = conf(JOBS_NIXOS, 1);
	struct jobs_plan	 p;
	char			 msg[128];
	int			 st, ex;

	build(&c, JOB_PULL_SWITCH, &p);
	ck_assert_int_eq(p.nsteps, 4);
	assert_argv(&p.step[0], "git", "-C", DIR, "fetch", "origin", "main",
	    NULL);
	assert_argv(&p.step[2], "git", "-C", DIR, "clean", "-fd", NULL);
	assert_argv(&p.step[3], "sudo", "nixos-rebuild", "switch", "--flake",
	    DIR "#web01", NULL);
	/* Its pull fails with exit 1 and says so; the switch its own way. */
	ck_assert_int_eq(jobs_step_failed(&p, 1, 128, &st, &ex, msg,
	    sizeof(msg)), -1);
	ck_assert_int_eq(st, JOB_ST_ERROR);
	ck_assert_int_eq(ex, 1);
	ck_assert_str_eq(msg, "pull failed (exit 128)");
	/* A failing clean is only a warning line. */
	ck_assert_int_eq(jobs_step_failed(&p, 2, 1, &st, &ex, msg,
	    sizeof(msg)), 0);
	ck_assert_str_eq(msg, "⚠️ git clean failed (exit 1), continuing");
	ck_assert_int_eq(jobs_step_failed(&p, 3, 2, &st, &ex, msg,
	    sizeof(msg)), -1);
	ck_assert_int_eq(ex, 2);
	ck_assert_str_eq(msg, "command failed");
	ck_assert_int_eq(jobs_step_failed(&p, 4, 2, &st, &ex, msg,
	    sizeof(msg)), -1);
	ck_assert_int_eq(jobs_kind(JOB_PULL_SWITCH)->phase, JOB_PHASE_PULL);
	ck_assert_int_eq(jobs_kind(JOB_PULL_SWITCH)->phase2,
	    JOB_PHASE_SYSTEM);
	jobs_plan_free(&p);

	/* Elsewhere a failed step ends the job with the child's code. */
	build(&c, JOB_SWITCH, &p);
	ck_assert_int_eq(jobs_step_failed(&p, 0, -1, &st, &ex, msg,
	    sizeof(msg)), -1);
	ck_assert_int_eq(ex, -1);
	ck_assert_str_eq(msg, "command failed");
	jobs_plan_free(&p);

	c = conf(JOBS_MACOS, 0);
	build(&c, JOB_PULL_SWITCH, &p);
	ck_assert_int_eq(p.nsteps, 2);
	assert_argv(&p.step[0], "git", "-C", DIR, "pull", NULL);
	assert_argv(&p.step[1], "home-manager", "switch", "--flake",
	    DIR "#web01", NULL);
	jobs_plan_free(&p);
}
END_TEST

START_TEST(test_jobs_rollback_reboot)
{
	struct jobs_conf	 c = conf(JOBS_NIXOS, 1);
	struct jobs_plan	 p;

	build(&c, JOB_ROLLBACK, &p);
	ck_assert_str_eq(p.pre_line,
	    "🔄 Rolling back to previous generation...");
	ck_assert_int_eq(p.nsteps, 1);
	assert_argv(&p.step[0], "sudo", "nixos-rebuild", "--rollback",
	    "switch", NULL);
	ck_assert_int_eq(p.step[0].runs_as, JOBS_AS_ROOT);
	jobs_plan_free(&p);

	/* macOS: jobrun_create() adds the step (jobs_hm_rollback). */
	c = conf(JOBS_MACOS, 1);
	build(&c, JOB_ROLLBACK, &p);
	ck_assert_int_eq(p.nsteps, 0);
	ck_assert_ptr_nonnull(p.pre_line);
	jobs_plan_free(&p);

	c = conf(_i ? JOBS_MACOS : JOBS_NIXOS, 1);
	build(&c, JOB_REBOOT, &p);
	/* Two spaces after the emoji, as upstream. */
	ck_assert_str_eq(p.pre_line, "⚠️  Reboot command received. System "
	    "will reboot in 3 seconds...");
	ck_assert_int_eq(p.step_delay_ms, 3000);
	ck_assert_int_eq(p.nsteps, 1);
	assert_argv(&p.step[0], "sudo", "reboot", NULL);
	ck_assert_int_eq(p.step[0].runs_as, JOBS_AS_ROOT);
	ck_assert_int_eq(jobs_kind(JOB_REBOOT)->after, JOB_AFTER_REBOOT);
	ck_assert_str_eq(jobs_kind(JOB_REBOOT)->ok_message, "rebooting");
	ck_assert_int_eq(jobs_kind(JOB_RESTART)->after, JOB_AFTER_EXIT);
	ck_assert_str_eq(jobs_kind(JOB_RESTART)->ok_message, "restarting");
	jobs_plan_free(&p);
}
END_TEST

START_TEST(test_jobs_flake_updates)
{
	struct jobs_conf	 c = conf(_i ? JOBS_MACOS : JOBS_NIXOS, 1);
	struct jobs_plan	 p;

	build(&c, JOB_UPDATE, &p);
	ck_assert_int_eq(p.nsteps, 1);
	assert_argv(&p.step[0], "nix", "flake", "update", NULL);
	jobs_plan_free(&p);
	build(&c, JOB_BUMP_FLAKE, &p);
	ck_assert_int_eq(p.nsteps, 1);
	assert_argv(&p.step[0], "nix", "flake", "update", "nixfleet", NULL);
	ck_assert_int_eq(p.step[0].runs_as, JOBS_AS_REPO_USER);
	ck_assert_str_eq(jobs_kind(JOB_BUMP_FLAKE)->ok_message,
	    "nixfleet input updated");
	jobs_plan_free(&p);
}
END_TEST

START_TEST(test_jobs_force_update)
{
	static const int	 kinds[] = { JOB_FORCE_UPDATE,
	    JOB_FORCE_REBUILD };
	struct jobs_conf	 c;
	struct jobs_plan	 p;
	size_t			 k;

	for (k = 0; k < nitems(kinds); k++) {
		c = conf(JOBS_NIXOS, 0);
		build(&c, kinds[k], &p);
		ck_assert_int_eq(p.nsteps, 3);
		assert_argv(&p.step[0], "git", "pull", NULL);
		ck_assert_str_eq(p.step[0].banner,
		    "━━━ Step 1/4: Git pull ━━━");
		ck_assert_int_eq(p.step[0].flags, JOBS_SF_SSH);
		assert_argv(&p.step[1], "nix", "flake", "update", "nixfleet",
		    NULL);
		ck_assert_str_eq(p.step[1].banner,
		    "━━━ Step 2/4: Update nixfleet input ━━━");
		assert_argv(&p.step[2], "sudo", "nixos-rebuild", "switch",
		    "--flake", ".#web01", "--option",
		    "narinfo-cache-negative-ttl", "0", NULL);
		ck_assert_str_eq(p.step[2].banner, "━━━ Step 3/4: Rebuild ━━━");
		ck_assert_int_eq(p.step[2].runs_as, JOBS_AS_ROOT);
		jobs_plan_free(&p);

		/* Isolated: fetch, reset, clean instead of the pull. */
		c = conf(JOBS_MACOS, 1);
		build(&c, kinds[k], &p);
		ck_assert_int_eq(p.nsteps, 5);
		assert_argv(&p.step[0], "git", "-C", DIR, "fetch", "origin",
		    "main", NULL);
		ck_assert_str_eq(p.step[0].banner,
		    "━━━ Step 1/4: Git pull ━━━");
		assert_argv(&p.step[1], "git", "-C", DIR, "reset", "--hard",
		    "origin/main", NULL);
		assert_argv(&p.step[2], "git", "-C", DIR, "clean", "-fd",
		    NULL);
		assert_argv(&p.step[4], "home-manager", "switch", "--flake",
		    ".#web01", "--option", "narinfo-cache-negative-ttl", "0",
		    NULL);
		ck_assert_str_eq(jobs_kind(kinds[k])->ok_message,
		    "force update complete");
		ck_assert_str_eq(p.post_line, "━━━ Step 4/4: Done ━━━");
		jobs_plan_free(&p);
	}
}
END_TEST

START_TEST(test_jobs_refresh)
{
	struct jobs_conf	 c = conf(JOBS_NIXOS, 1);
	struct jobs_plan	 p;
	const char		*sys = DIR "#nixosConfigurations.web01.config."
	    "system.build.toplevel";

	build(&c, JOB_REFRESH_LOCK, &p);
	ck_assert_int_eq(p.nsteps, 1);
	assert_argv(&p.step[0], "git", "-C", DIR, "log", "-1",
	    "--format=%ci", "--", "flake.lock", NULL);
	jobs_plan_free(&p);
	build(&c, JOB_REFRESH_SYSTEM, &p);
	ck_assert_int_eq(p.nsteps, 1);
	assert_argv(&p.step[0], "nix", "build", "--experimental-features",
	    "nix-command flakes", "--dry-run", "--json", sys, NULL);
	jobs_plan_free(&p);
	build(&c, JOB_REFRESH_ALL, &p);
	ck_assert_int_eq(p.nsteps, 2);
	ck_assert_str_eq(p.step[0].argv[3], "log");
	ck_assert_str_eq(p.step[1].argv[6], sys);
	ck_assert_str_eq(jobs_kind(JOB_REFRESH_ALL)->ok_message,
	    "all refreshed");
	jobs_plan_free(&p);

	c = conf(JOBS_MACOS, 0);
	build(&c, JOB_REFRESH_SYSTEM, &p);
	assert_argv(&p.step[0], "nix", "build", "--experimental-features",
	    "nix-command flakes", "--dry-run", "--json",
	    DIR "#homeConfigurations.web01.activationPackage", NULL);
	jobs_plan_free(&p);
	ck_assert_str_eq(jobs_kind(JOB_REFRESH_GIT)->ok_message,
	    "git status check is dashboard-side");
	build(&c, JOB_REFRESH_GIT, &p);
	ck_assert_int_eq(p.nsteps, 0);
	ck_assert_str_eq(p.pre_line,
	    "Git status is checked by dashboard (GitHub API)");
	jobs_plan_free(&p);
}
END_TEST

START_TEST(test_jobs_update_agent)
{
	struct jobs_conf	 c = conf(JOBS_NIXOS, 1);
	struct jobs_plan	 p;
	char			 log[256], buf[512];
	int			 st;

	build(&c, JOB_UPDATE_AGENT, &p);
	ck_assert_int_eq(p.nsteps, 1);
	ck_assert_str_eq(p.step[0].argv[0], "sh");
	ck_assert_str_eq(p.step[0].argv[1], "-c");
	ck_assert_ptr_nonnull(strstr(p.step[0].argv[2],
	    "; sudo nixos-rebuild switch --flake \"$1#$4\""));
	ck_assert_ptr_nonnull(strstr(p.step[0].argv[2],
	    "; nix flake update nixfleet; "));
	ck_assert_ptr_nonnull(strstr(p.step[0].argv[2], "; cd \"$1\"; "));
	/* A plan's values are lines: the script must be one. */
	ck_assert_ptr_null(strchr(p.step[0].argv[2], '\n'));
	/* The values are positional arguments, never part of the text. */
	ck_assert_ptr_null(strstr(p.step[0].argv[2], DIR));
	ck_assert_ptr_null(strstr(p.step[0].argv[2], "web01"));
	ck_assert_str_eq(p.step[0].argv[3], "nixfleet-agent-update");
	ck_assert_str_eq(p.step[0].argv[4], DIR);
	ck_assert_str_eq(p.step[0].argv[5], "isolated");
	ck_assert_str_eq(p.step[0].argv[6], "main");
	ck_assert_str_eq(p.step[0].argv[7], "web01");
	ck_assert_ptr_null(p.step[0].argv[8]);
	ck_assert_int_eq(p.step[0].flags, JOBS_SF_SSH);
	ck_assert(jobs_kind(JOB_UPDATE_AGENT)->flags & JOBS_KF_DETACHED);
	jobs_plan_free(&p);

	ck_assert_int_eq(jobs_log_path(&c, JOB_UPDATE_AGENT, 1768894947, log,
	    sizeof(log)), 0);
	ck_assert_str_eq(log, "/var/lib/nixfleet-agent/logs/update-agent-"
	    "20260120T074227Z.log");
	jobs_update_started(log, buf, sizeof(buf));
	ck_assert_str_eq(buf, "⬆️ Agent update started (detached); log: "
	    "/var/lib/nixfleet-agent/logs/update-agent-20260120T074227Z.log");
	jobs_update_result(0, log, &st, buf, sizeof(buf));
	ck_assert_int_eq(st, JOB_ST_OK);
	ck_assert_str_eq(buf, "update complete, restarting");
	jobs_update_result(3, log, &st, buf, sizeof(buf));
	ck_assert_int_eq(st, JOB_ST_ERROR);
	ck_assert_str_eq(buf, "update failed (exit 3), see /var/lib/"
	    "nixfleet-agent/logs/update-agent-20260120T074227Z.log");
	ck_assert_int_eq(jobs_log_path(&c, JOB_PULL_SWITCH, 1768894947, log,
	    sizeof(log)), 0);
	ck_assert_str_eq(log, "/var/lib/nixfleet-agent/logs/"
	    "20260120T074227Z-pull-switch.log");
	ck_assert_int_eq(jobs_log_path(&c, JOB_PULL, 0, log, 20), -1);
	ck_assert_int_eq(jobs_log_path(&c, JOB_NONE, 0, log, sizeof(log)),
	    -1);
	c.state_dir = "state";
	ck_assert_int_eq(jobs_log_path(&c, JOB_PULL, 0, log, sizeof(log)),
	    -1);

	c = conf(JOBS_MACOS, 0);
	build(&c, JOB_UPDATE_AGENT, &p);
	ck_assert_ptr_nonnull(strstr(p.step[0].argv[2],
	    "; home-manager switch --flake \"$1#$4\""));
	ck_assert_ptr_null(strstr(p.step[0].argv[2], "sudo"));
	ck_assert_str_eq(p.step[0].argv[5], "legacy");
	jobs_plan_free(&p);
}
END_TEST

/* Every kind builds everywhere; the agent-side ones have no argv. */
START_TEST(test_jobs_all_kinds)
{
	static const int	 none[] = { JOB_TEST, JOB_STOP, JOB_KILL,
	    JOB_RESTART, JOB_CHECK_VERSION, JOB_REFRESH_GIT };
	struct jobs_conf	 c;
	struct jobs_plan	 p;
	const char		*why;
	int			 k, plat, iso, i, j;
	size_t			 n;

	for (k = JOB_NONE + 1; k < JOB_KIND_MAX; k++)
		for (plat = JOBS_NIXOS; plat <= JOBS_MACOS; plat++)
			for (iso = 0; iso <= 1; iso++) {
				c = conf(plat, iso);
				build(&c, k, &p);
				for (i = 0; i < p.nsteps; i++) {
					ck_assert_ptr_nonnull(
					    p.step[i].argv[0]);
					for (j = 0; p.step[i].argv[j] != NULL;
					    j++)
						ck_assert_int_ne(
						    p.step[i].argv[j][0], '@');
				}
				for (n = 0; n < nitems(none); n++)
					if (none[n] == k)
						ck_assert_int_eq(p.nsteps, 0);
				jobs_plan_free(&p);
			}
	c = conf(JOBS_NIXOS, 1);
	ck_assert_int_eq(jobs_plan_build(&c, JOB_NONE, &p, &why), -1);
	jobs_plan_free(&p);
	ck_assert_int_eq(jobs_plan_build(&c, JOB_KIND_MAX, &p, &why), -1);
	jobs_plan_free(&p);
	c.platform = 0;
	ck_assert_int_eq(jobs_plan_build(&c, JOB_PULL, &p, &why), -1);
	jobs_plan_free(&p);
}
END_TEST

/* The names of both tables agree, and each maps back to its kind. */
START_TEST(test_jobs_names)
{
	static const char *const names[] = { "pull", "switch", "pull-switch",
	    "test", "stop", "restart", "reboot", "rollback", "update",
	    "force-update", "force-rebuild", "bump-flake", "check-version",
	    "refresh-git", "refresh-lock", "refresh-system", "refresh-all",
	    "kill", "update-agent" };
	int	 k;

	ck_assert_int_eq(nitems(names), JOB_KIND_MAX - 1);
	for (k = JOB_NONE + 1; k < JOB_KIND_MAX; k++) {
		ck_assert_str_eq(jobs_kind(k)->name, names[k - 1]);
		ck_assert_int_eq(jobs_kind(k)->kind, k);
		ck_assert_str_eq(nixfleet_kind_name(k), names[k - 1]);
		ck_assert_int_eq(jobs_kind_by_name(names[k - 1],
		    strlen(names[k - 1])), k);
	}
	ck_assert_int_eq(jobs_kind_by_name("pul", 3), JOB_NONE);
	ck_assert_int_eq(jobs_kind_by_name("pull ", 5), JOB_NONE);
	ck_assert_int_eq(jobs_kind_by_name("PULL", 4), JOB_NONE);
	ck_assert_ptr_null(jobs_kind(JOB_NONE));
	ck_assert_ptr_null(jobs_kind(-1));
	ck_assert_ptr_null(jobs_kind(JOB_KIND_MAX));
}
END_TEST

/* Who runs what: the repo user only for a root agent that has one. */
START_TEST(test_jobs_runs_as)
{
	struct jobs_conf	 c = conf(JOBS_NIXOS, 1);
	struct jobs_plan	 p;
	struct jobs_step	 st;

	c.agent_root = 0;
	build(&c, JOB_PULL_SWITCH, &p);
	ck_assert_int_eq(p.step[0].as_user, 0);
	ck_assert_int_eq(p.step[3].as_user, 0);
	jobs_plan_free(&p);
	c.agent_root = 1;
	c.user = "";
	build(&c, JOB_PULL_SWITCH, &p);
	ck_assert_int_eq(p.step[0].as_user, 0);
	jobs_plan_free(&p);
	c.user = "alice";
	build(&c, JOB_PULL_SWITCH, &p);
	ck_assert_int_eq(p.step[0].as_user, 1);
	ck_assert_int_eq(p.step[1].as_user, 1);
	ck_assert_int_eq(p.step[2].as_user, 1);
	ck_assert_int_eq(p.step[3].as_user, 0);
	jobs_plan_free(&p);
	/* Tests run as the user too. */
	ck_assert_int_eq(jobs_test_argv(&c, DIR "/hosts/web01/tests/a.sh",
	    &st), 0);
	ck_assert_int_eq(st.as_user, 1);
	free(st.argv[0]);
}
END_TEST

static void
assert_env(char **env, const char *const *want)
{
	size_t	 i;

	ck_assert_ptr_nonnull(env);
	for (i = 0; want[i] != NULL; i++) {
		ck_assert_msg(env[i] != NULL, "env[%zu] missing, want %s", i,
		    want[i]);
		ck_assert_str_eq(env[i], want[i]);
	}
	ck_assert_msg(env[i] == NULL, "extra env[%zu] %s", i, env[i]);
	jobs_env_free(env);
}

START_TEST(test_jobs_environment)
{
	static const char *const	 base[] = {
	    "PATH=/run/wrappers/bin:/bin",
	    "HOME=/root", "NIXFLEET_TOKEN=secret", "NIXFLEET_TOKEN_FILE=/t",
	    "GIT_SSH_COMMAND=ssh -F /evil", "USER=root", "LANG=C.UTF-8",
	    "NIXFLEET_TOKENX=kept", "noequals", NULL };
	static const char *const	 fetch[] = {
	    "PATH=/run/wrappers/bin:/bin", "LANG=C.UTF-8",
	    "NIXFLEET_TOKENX=kept",
	    "GIT_SSH_COMMAND=ssh -i /run/keys/deploy -o "
	    "StrictHostKeyChecking=no", "HOME=/home/alice", "USER=alice",
	    "LOGNAME=alice", NULL };
	static const char *const	 root[] = {
	    "PATH=/run/wrappers/bin:/bin", "HOME=/root",
	    "GIT_SSH_COMMAND=ssh -F /evil", "USER=root", "LANG=C.UTF-8",
	    "NIXFLEET_TOKENX=kept", NULL };
	static const char *const	 nokey[] = {
	    "PATH=/run/wrappers/bin:/bin", "GIT_SSH_COMMAND=ssh -F /evil",
	    "LANG=C.UTF-8", "NIXFLEET_TOKENX=kept", "HOME=/home/alice",
	    "USER=alice", "LOGNAME=alice", NULL };
	struct jobs_conf		 c = conf(JOBS_NIXOS, 1);
	struct jobs_plan		 p;

	c.ssh_key = "/run/keys/deploy";
	build(&c, JOB_PULL_SWITCH, &p);
	ck_assert_str_eq(p.ssh_command,
	    "ssh -i /run/keys/deploy -o StrictHostKeyChecking=no");
	/* fetch: the key, the user; the token never. */
	assert_env(jobs_env_build((char *const *)base, &c, &p, &p.step[0]),
	    fetch);
	/* switch: root's own environment, without the token. */
	assert_env(jobs_env_build((char *const *)base, &c, &p, &p.step[3]),
	    root);
	jobs_plan_free(&p);

	/* Without a key the agent's own GIT_SSH_COMMAND passes through. */
	c.ssh_key = NULL;
	build(&c, JOB_PULL, &p);
	ck_assert_ptr_null(p.ssh_command);
	assert_env(jobs_env_build((char *const *)base, &c, &p, &p.step[0]),
	    nokey);
	jobs_plan_free(&p);
}
END_TEST

START_TEST(test_jobs_ssh_quoting)
{
	static const struct {
		const char	*key, *want;
	} ok[] = {
		{ "/run/keys/id_ed25519", "ssh -i /run/keys/id_ed25519 -o "
		    "StrictHostKeyChecking=no" },
		{ "/home/a b/.ssh/id", "ssh -i '/home/a b/.ssh/id' -o "
		    "StrictHostKeyChecking=no" },
		{ "/k/it's", "ssh -i '/k/it'\\''s' -o "
		    "StrictHostKeyChecking=no" },
		{ "/k/$(reboot)`x`;|&", "ssh -i '/k/$(reboot)`x`;|&' -o "
		    "StrictHostKeyChecking=no" },
		{ "/k/é", "ssh -i '/k/é' -o StrictHostKeyChecking=no" },
	};
	static const char *const bad[] = { "", "id_rsa", "./id", "~/id",
	    "/k/a\nb", "/k/\x01", "/k/\x7f", "-i/x" };
	struct jobs_conf	 c = conf(JOBS_NIXOS, 1);
	struct jobs_plan	 p;
	const char		*why;
	char			*s;
	size_t			 i;

	for (i = 0; i < nitems(ok); i++) {
		s = jobs_ssh_command(ok[i].key);
		ck_assert_ptr_nonnull(s);
		ck_assert_str_eq(s, ok[i].want);
		free(s);
	}
	for (i = 0; i < nitems(bad); i++) {
		ck_assert_ptr_null(jobs_ssh_command(bad[i]));
		c.ssh_key = bad[i];
		if (bad[i][0] == '\0')
			continue;	/* "" is "no key" in the plan */
		ck_assert_int_eq(jobs_plan_build(&c, JOB_PULL, &p, &why), -1);
		ck_assert_ptr_nonnull(strstr(why, "NIXFLEET_SSH_KEY"));
		jobs_plan_free(&p);
	}
}
END_TEST

START_TEST(test_jobs_refuse_values)
{
	static const char *const dirs[] = { "repo", "./repo", "", "/a#b",
	    "/a?b", "/a\nb", "/a\tb" };
	static const char *const branches[] = { "", "-b", "--upload-pack=x",
	    "a..b", "a b", "x.lock", "a@{1}", "a/", "/a", ".a", "a//b",
	    "a/.b", "a\nb", "a~1", "a^", "a:b", "a*", "a\\b", "@" };
	static const char *const hosts[] = { "", "-x", "../x", "a/b", "a b",
	    ".x", "a..b", "a#b", "a\n" };
	static const char *const good_branches[] = { "main",
	    "release/24.11", "feature-x_1", "v1.2+3" };
	struct jobs_conf	 c;
	struct jobs_plan	 p;
	const char		*why;
	size_t			 i;

	for (i = 0; i < nitems(dirs); i++) {
		c = conf(JOBS_NIXOS, 1);
		c.repo_dir = dirs[i];
		ck_assert_int_eq(jobs_plan_build(&c, JOB_SWITCH, &p, &why), -1);
		ck_assert_ptr_nonnull(strstr(why, "NIXFLEET_REPO_DIR"));
		jobs_plan_free(&p);
	}
	c = conf(JOBS_NIXOS, 1);
	c.repo_dir = NULL;
	ck_assert_int_eq(jobs_plan_build(&c, JOB_SWITCH, &p, &why), -1);
	jobs_plan_free(&p);
	for (i = 0; i < nitems(branches); i++) {
		c = conf(JOBS_NIXOS, 1);
		c.branch = branches[i];
		ck_assert_msg(jobs_plan_build(&c, JOB_PULL, &p, &why) == -1,
		    "accepted branch %s", branches[i]);
		ck_assert_ptr_nonnull(strstr(why, "NIXFLEET_BRANCH"));
		jobs_plan_free(&p);
	}
	for (i = 0; i < nitems(good_branches); i++)
		ck_assert_int_eq(jobs_valid_branch(good_branches[i]), 0);
	for (i = 0; i < nitems(hosts); i++) {
		c = conf(JOBS_MACOS, 1);
		c.hostname = hosts[i];
		ck_assert_msg(jobs_plan_build(&c, JOB_TEST, &p, &why) == -1,
		    "accepted host %s", hosts[i]);
		ck_assert_ptr_nonnull(strstr(why, "NIXFLEET_HOSTNAME"));
		jobs_plan_free(&p);
		ck_assert_ptr_null(jobs_test_dir(&c));
	}
	ck_assert_int_eq(jobs_valid_host("web-01.lan"), 0);
	ck_assert_int_eq(jobs_valid_dir("/home/a b/nixcfg"), 0);
	/* A root agent with a user needs that user's home. */
	c = conf(JOBS_NIXOS, 1);
	c.user_home = NULL;
	ck_assert_int_eq(jobs_plan_build(&c, JOB_PULL, &p, &why), -1);
	ck_assert_ptr_nonnull(strstr(why, "NIXFLEET_USER"));
	jobs_plan_free(&p);
	c.user_home = "home/alice";
	ck_assert_int_eq(jobs_plan_build(&c, JOB_PULL, &p, &why), -1);
	jobs_plan_free(&p);
	c.agent_root = 0;
	ck_assert_int_eq(jobs_plan_build(&c, JOB_PULL, &p, &why), 0);
	jobs_plan_free(&p);
}
END_TEST

START_TEST(test_jobs_test_scripts)
{
	struct jobs_conf	 c = conf(JOBS_NIXOS, 1);
	struct jobs_step	 st;
	char			*d, buf[128];
	size_t			 i;

	d = jobs_test_dir(&c);
	ck_assert_str_eq(d, DIR "/hosts/web01/tests");
	free(d);
	ck_assert_int_eq(jobs_test_argv(&c, DIR "/hosts/web01/tests/a.sh",
	    &st), 0);
	assert_argv(&st, DIR "/hosts/web01/tests/a.sh", NULL);
	free(st.argv[0]);
	c.platform = JOBS_MACOS;
	ck_assert_int_eq(jobs_test_argv(&c, "/t/a b.sh", &st), 0);
	assert_argv(&st, "sh", "-c", "if [ -f \"$HOME/.nix-profile/etc/"
	    "profile.d/nix.sh\" ]; then . \"$HOME/.nix-profile/etc/profile.d/"
	    "nix.sh\"; fi; exec \"$1\"", "sh", "/t/a b.sh", NULL);
	for (i = 0; st.argv[i] != NULL; i++)
		free(st.argv[i]);
	ck_assert_int_eq(jobs_test_argv(&c, "a.sh", &st), -1);
	jobs_test_line(JOBS_TL_START, "a.sh", 0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "▶ a.sh");
	jobs_test_line(JOBS_TL_PASSED, "a.sh", 0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "✅ a.sh passed");
	jobs_test_line(JOBS_TL_FAILED, "b.sh", 3, buf, sizeof(buf));
	ck_assert_str_eq(buf, "❌ b.sh failed (exit 3)");
	jobs_test_line(JOBS_TL_SKIPPED, "c.sh", 0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "⏭ c.sh skipped (not executable)");
	jobs_test_line(JOBS_TL_NONE, NULL, 0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "no tests");
	jobs_reboot_failed("sudo: a password is required", buf, sizeof(buf));
	ck_assert_str_eq(buf, "❌ Reboot failed: sudo: a password is required");
	ck_assert_int_eq(jobs_test_name("a.sh"), 1);
	ck_assert_int_eq(jobs_test_name(".sh"), 0);
	ck_assert_int_eq(jobs_test_name("a.sh~"), 0);
	ck_assert_int_eq(jobs_test_name("a.bash"), 0);
}
END_TEST

START_TEST(test_jobs_hm_previous)
{
	static const char *const n1[] = { "home-manager-9-link",
	    "home-manager-10-link", "home-manager", "home-manager-2-link",
	    "home-manager-x-link", "home-manager-11-linkx", "foo" };
	static const char *const n2[] = { "home-manager-3-link",
	    "home-manager" };
	static const char *const n3[] = { "home-manager-10-link",
	    "home-manager-100-link", "home-manager-99-link" };

	/* Numeric, not lexical: 9 < 10. */
	ck_assert_int_eq(jobs_hm_previous(n1, nitems(n1)), 0);
	ck_assert_int_eq(jobs_hm_previous(n2, nitems(n2)), -1);
	ck_assert_int_eq(jobs_hm_previous(n3, nitems(n3)), 2);
	ck_assert_int_eq(jobs_hm_previous(NULL, 0), -1);
}
END_TEST

/* §6.3 macOS rollback: <profiles>/<previous link>/activate, as the user. */
START_TEST(test_jobs_hm_rollback)
{
	static const char *const gaps[] = { "home-manager-12-link",
	    "home-manager", "home-manager-3-link", "home-manager-100-link",
	    "home-manager-20-link", "channels" };
	static const char *const one[] = { "home-manager-7-link",
	    "home-manager" };
	struct jobs_conf	 c = conf(JOBS_MACOS, 0);
	struct jobs_step	 st;
	char			 dir[256];

	ck_assert_int_eq(jobs_hm_rollback(&c, gaps, nitems(gaps), &st), 0);
	assert_argv(&st, "/home/alice/.local/state/nix/profiles/"
	    "home-manager-20-link/activate", NULL);
	ck_assert_int_eq(st.runs_as, JOBS_AS_REPO_USER);
	ck_assert_int_eq(st.as_user, 1);
	free(st.argv[0]);
	/* An agent run as the user: its own home. */
	c.agent_root = 0;
	ck_assert_int_eq(jobs_hm_profiles(&c, dir, sizeof(dir)), 0);
	ck_assert_str_eq(dir, "/Users/alice/.local/state/nix/profiles");
	ck_assert_int_eq(jobs_hm_rollback(&c, gaps, nitems(gaps), &st), 0);
	assert_argv(&st, "/Users/alice/.local/state/nix/profiles/"
	    "home-manager-20-link/activate", NULL);
	ck_assert_int_eq(st.as_user, 0);
	free(st.argv[0]);
	/* Fewer than two generations: nothing to run. */
	ck_assert_int_eq(jobs_hm_rollback(&c, one, nitems(one), &st), -1);
	ck_assert_ptr_null(st.argv[0]);
	ck_assert_int_eq(jobs_hm_rollback(&c, NULL, 0, &st), -1);
	c.home = "relative";
	ck_assert_int_eq(jobs_hm_profiles(&c, dir, sizeof(dir)), -1);
	ck_assert_int_eq(jobs_hm_rollback(&c, gaps, nitems(gaps), &st), -1);
	ck_assert_str_eq(JOBS_HM_NO_PREVIOUS,
	    "no previous Home Manager generation");
}
END_TEST

/* §6.2, every pair: the busy check comes before the name lookup. */
START_TEST(test_jobs_admit)
{
	static const int	 running[] = { JOB_NONE, JOB_TEST, JOB_SWITCH,
	    JOB_UPDATE_AGENT };
	int			 r, k, a, n;
	size_t			 i;

	for (i = 0; i < nitems(running); i++) {
		r = running[i];
		for (k = -1; k <= JOB_KIND_MAX + 1; k++) {
			a = jobs_admit(r, k);
			n = nixfleet_command_action(r, k);
			if (k == JOB_STOP || k == JOB_KILL) {
				ck_assert_int_eq(a, r ? JOBS_INTERRUPT :
				    JOBS_NO_JOB);
				ck_assert_int_eq(n, r ? NF_ACT_SIGNAL :
				    NF_ACT_NO_JOB);
			} else if (k == JOB_RESTART || k == JOB_REBOOT) {
				ck_assert_int_eq(a, JOBS_AGENT);
				ck_assert_int_eq(n, NF_ACT_AGENT);
			} else if (r != JOB_NONE) {
				ck_assert_int_eq(a, JOBS_BUSY);
				ck_assert_int_eq(n, NF_ACT_REJECT);
			} else if (k <= JOB_NONE || k >= JOB_KIND_MAX) {
				ck_assert_int_eq(a, JOBS_UNKNOWN);
				ck_assert_int_eq(n, NF_ACT_UNKNOWN);
			} else {
				ck_assert_int_eq(a, JOBS_RUN);
				ck_assert_int_eq(n, NF_ACT_START);
			}
			/* A bypass command is never rejected. */
			if (JOB_KIND_BYPASS(k))
				ck_assert_int_ne(a, JOBS_BUSY);
			ck_assert_int_eq(JOB_KIND_BYPASS(k) != 0,
			    k > JOB_NONE && k < JOB_KIND_MAX &&
			    (jobs_kind(k)->flags & JOBS_KF_BYPASS) != 0);
		}
	}
}
END_TEST

START_TEST(test_jobs_interrupt)
{
	const struct jobs_interrupt	*in;
	char				 buf[128];
	int				 st, ex;

	in = jobs_interrupt(JOB_STOP, JOB_SIG_KILL);	/* stop is gentle */
	ck_assert_ptr_nonnull(in);
	ck_assert_int_eq(in->first, JOB_SIG_TERM);
	ck_assert_int_eq(in->then, JOB_SIG_KILL);
	ck_assert_int_eq(in->grace_ms, 3000);
	jobs_interrupt_banner(in, "test", buf, sizeof(buf));
	ck_assert_str_eq(buf, "⏹ Stopping test (SIGTERM)");
	jobs_interrupt_status(in, JOB_SIG_KILL, -1, &st, &ex, buf,
	    sizeof(buf));
	ck_assert_int_eq(st, JOB_ST_STOPPED);
	ck_assert_int_eq(ex, 130);
	ck_assert_str_eq(buf, "Stopped by user");

	in = jobs_interrupt(JOB_KILL, JOB_SIG_TERM);
	ck_assert_ptr_nonnull(in);
	ck_assert_int_eq(in->then, JOB_SIG_KILL);
	ck_assert_int_eq(in->grace_ms, 5000);
	jobs_interrupt_banner(in, "switch", buf, sizeof(buf));
	ck_assert_str_eq(buf, "⚠️ Received kill command (SIGTERM)");
	jobs_interrupt_status(in, JOB_SIG_TERM, -1, &st, &ex, buf,
	    sizeof(buf));
	ck_assert_int_eq(st, JOB_ST_ERROR);
	ck_assert_int_eq(ex, -1);
	ck_assert_str_eq(buf, "killed by SIGTERM");
	/* It ignored SIGTERM; SIGKILL ended it 5 s later. */
	jobs_interrupt_status(in, JOB_SIG_KILL, -1, &st, &ex, buf,
	    sizeof(buf));
	ck_assert_str_eq(buf, "killed by SIGKILL");
	/* It exited by itself on SIGTERM with its own code. */
	jobs_interrupt_status(in, JOB_SIG_TERM, 143, &st, &ex, buf,
	    sizeof(buf));
	ck_assert_int_eq(ex, 143);

	in = jobs_interrupt(JOB_KILL, JOB_SIG_KILL);
	ck_assert_ptr_nonnull(in);
	ck_assert_int_eq(in->first, JOB_SIG_KILL);
	ck_assert_int_eq(in->then, JOB_SIG_NONE);
	ck_assert_int_eq(in->grace_ms, 0);
	jobs_interrupt_banner(in, "switch", buf, sizeof(buf));
	ck_assert_str_eq(buf, "⚠️ Received kill command (SIGKILL)");

	/* kill_command: never an arbitrary PID, never while idle. */
	ck_assert_int_eq(jobs_kill_check(JOB_NONE, 0, 0, JOB_SIG_TERM),
	    JOBS_KC_IDLE);
	ck_assert_int_eq(jobs_kill_check(JOB_TEST, 4242, 0, JOB_SIG_TERM),
	    JOBS_KC_SIGNAL);
	ck_assert_int_eq(jobs_kill_check(JOB_TEST, 4242, 4242, JOB_SIG_KILL),
	    JOBS_KC_SIGNAL);
	ck_assert_int_eq(jobs_kill_check(JOB_TEST, 4242, 1, JOB_SIG_KILL),
	    JOBS_KC_OTHER_PID);
	ck_assert_int_eq(jobs_kill_check(JOB_TEST, 0, 4242, JOB_SIG_KILL),
	    JOBS_KC_OTHER_PID);
	ck_assert_int_eq(jobs_kill_check(JOB_TEST, 4242, 0, JOB_SIG_NONE),
	    JOBS_KC_BAD_SIGNAL);
	ck_assert_int_eq(jobs_may_signal(4242, 100), 1);
	ck_assert_int_eq(jobs_may_signal(100, 100), 0);
	ck_assert_int_eq(jobs_may_signal(1, 100), 0);
	ck_assert_int_eq(jobs_may_signal(0, 100), 0);
	ck_assert_int_eq(jobs_may_signal(-5, 100), 0);
	ck_assert_ptr_null(jobs_interrupt(JOB_KILL, JOB_SIG_NONE));
	ck_assert_ptr_null(jobs_interrupt(JOB_TEST, JOB_SIG_TERM));
	ck_assert_int_eq(jobs_signal_number(JOB_SIG_TERM), SIGTERM);
	ck_assert_int_eq(jobs_signal_number(JOB_SIG_KILL), SIGKILL);
	ck_assert_int_eq(jobs_signal_number(7), 0);
	ck_assert_ptr_null(jobs_signal_name(0));
}
END_TEST

START_TEST(test_jobs_test_verdict)
{
	struct jobs_test_result	 all[5] = { { "a.sh", 0 }, { "b.sh", 0 },
	    { "c.sh", 0 }, { "d.sh", 0 }, { "e.sh", 0 } };
	struct jobs_verdict	 v;
	struct jobs_test_result	*many;
	char			 names[200][16];
	size_t			 i;

	jobs_test_verdict(all, 5, 5, 0, &v);
	ck_assert_int_eq(v.status, JOB_ST_OK);
	ck_assert_int_eq(v.exit_code, 0);
	ck_assert_int_eq(v.passed, 5);
	ck_assert_str_eq(v.message, "5/5 passed");
	ck_assert_int_eq(v.result, JOB_TR_COUNTED);
	ck_assert_int_eq(v.phase_state, JOB_PS_COMPLETE);
	ck_assert_int_eq(v.phase_current, 8);
	ck_assert_str_eq(v.sc_status, "ok");
	ck_assert_str_eq(v.sc_message, "All tests passed");

	/* A failure followed by a pass is still a failure (D2). */
	all[1].exit_code = 1;
	all[3].exit_code = -1;
	jobs_test_verdict(all, 5, 5, 0, &v);
	ck_assert_int_eq(v.status, JOB_ST_ERROR);
	ck_assert_int_eq(v.exit_code, 1);
	ck_assert_int_eq(v.passed, 3);
	ck_assert_str_eq(v.message, "3/5 passed; failed: b.sh, d.sh");
	ck_assert_int_eq(v.phase_state, JOB_PS_ERROR);
	ck_assert_int_eq(v.phase_current, 0);
	ck_assert_str_eq(v.sc_status, "error");
	ck_assert_str_eq(v.sc_message, "Tests failed (3/5 passed)");

	jobs_test_verdict(NULL, 0, 0, 0, &v);
	ck_assert_int_eq(v.status, JOB_ST_OK);
	ck_assert_int_eq(v.exit_code, 0);
	ck_assert_str_eq(v.message, "no tests");
	ck_assert_int_eq(v.result, JOB_TR_NO_TESTS);
	ck_assert_int_eq(v.phase_state, JOB_PS_COMPLETE);
	ck_assert_int_eq(v.phase_current, 8);
	ck_assert_str_eq(v.sc_status, "ok");
	ck_assert_str_eq(v.sc_message, "No tests defined");

	/* Stopped during the third: two ran, one of them failed. */
	jobs_test_verdict(all, 2, 5, 1, &v);
	ck_assert_int_eq(v.status, JOB_ST_STOPPED);
	ck_assert_int_eq(v.exit_code, 130);
	ck_assert_str_eq(v.message, "Stopped by user");
	ck_assert_int_eq(v.passed, 1);
	ck_assert_int_eq(v.total, 5);
	ck_assert_int_eq(v.result, JOB_TR_STOPPED);
	ck_assert_int_eq(v.phase_state, JOB_PS_ERROR);
	ck_assert_str_eq(v.sc_status, "unknown");
	ck_assert_str_eq(v.sc_message, "Tests stopped (1/5 passed)");

	/* Fewer results than tests without a stop: not a pass. */
	all[1].exit_code = 0;
	all[3].exit_code = 0;
	jobs_test_verdict(all, 4, 5, 0, &v);
	ck_assert_int_eq(v.status, JOB_ST_ERROR);
	ck_assert_str_eq(v.message, "4/5 passed; failed:");

	/* 200 failures: the message stays bounded and says it is cut. */
	many = calloc(200, sizeof(*many));
	ck_assert_ptr_nonnull(many);
	for (i = 0; i < 200; i++) {
		snprintf(names[i], sizeof(names[i]), "test-%03zu.sh", i);
		many[i].name = names[i];
		many[i].exit_code = 2;
	}
	jobs_test_verdict(many, 200, 200, 0, &v);
	ck_assert_uint_lt(strlen(v.message), sizeof(v.message));
	ck_assert_ptr_nonnull(strstr(v.message, "0/200 passed; failed: "
	    "test-000.sh, test-001.sh"));
	ck_assert_str_eq(v.message + strlen(v.message) - 5, ", ...");
	free(many);
}
END_TEST

START_TEST(test_jobs_progress)
{
	uint32_t	 cur, tot;

	ck_assert_int_eq(jobs_progress(JOB_PHASE_PULL, JOB_PS_IN_PROGRESS,
	    &cur, &tot), 0);
	ck_assert_uint_eq(cur, 0);
	ck_assert_uint_eq(tot, 4);
	ck_assert_int_eq(jobs_progress(JOB_PHASE_PULL, JOB_PS_COMPLETE, &cur,
	    &tot), 0);
	ck_assert_uint_eq(cur, 4);
	ck_assert_int_eq(jobs_progress(JOB_PHASE_SYSTEM, JOB_PS_COMPLETE,
	    &cur, &tot), 0);
	ck_assert_uint_eq(cur, 3);
	ck_assert_uint_eq(tot, 3);
	ck_assert_int_eq(jobs_progress(JOB_PHASE_SYSTEM, JOB_PS_ERROR, &cur,
	    &tot), 0);
	ck_assert_uint_eq(cur, 0);
	ck_assert_int_eq(jobs_progress(JOB_PHASE_TESTS, JOB_PS_COMPLETE, &cur,
	    &tot), 0);
	ck_assert_uint_eq(cur, 8);
	ck_assert_uint_eq(tot, 8);
	ck_assert_int_eq(jobs_progress(JOB_PHASE_LOCK, JOB_PS_COMPLETE, &cur,
	    &tot), -1);
	ck_assert_int_eq(jobs_progress(JOB_PHASE_PULL, 0, &cur, &tot), -1);
}
END_TEST

START_TEST(test_jobs_compartments)
{
	struct jobs_compartments	 c;
	time_t				 t0 = 1768894947;

	/* t0 is 2026-01-20T07:42:27Z. */

	memset(&c, 0, sizeof(c));
	jobs_sc_start(&c, JOB_SWITCH, t0);
	ck_assert_str_eq(c.system.status, "working");
	ck_assert_str_eq(c.system.message, "Switch in progress...");
	ck_assert_str_eq(c.system.checked_at, "2026-01-20T07:42:27Z");
	jobs_sc_end(&c, JOB_SWITCH, 0, 0, t0 + 60);
	ck_assert_str_eq(c.system.status, "ok");
	ck_assert_str_eq(c.system.message, "Switch completed");
	ck_assert_str_eq(c.system.checked_at, "2026-01-20T07:43:27Z");
	ck_assert_str_eq(c.tests.status, "outdated");
	ck_assert_str_eq(c.tests.message,
	    "System changed - tests need re-run");
	jobs_sc_start(&c, JOB_ROLLBACK, t0);
	jobs_sc_end(&c, JOB_ROLLBACK, 4, 0, t0);
	ck_assert_str_eq(c.system.status, "error");
	ck_assert_str_eq(c.system.message, "Switch failed (exit 4)");
	jobs_sc_end(&c, JOB_PULL, 0, 0, t0);
	ck_assert_str_eq(c.system.status, "outdated");
	ck_assert_str_eq(c.system.message, "Pull completed - rebuild needed");
	jobs_sc_set(&c.system, "ok", "x", t0);
	jobs_sc_end(&c, JOB_PULL, 1, 0, t0);
	ck_assert_str_eq(c.system.status, "ok");
	jobs_sc_start(&c, JOB_TEST, t0);
	ck_assert_str_eq(c.tests.status, "working");
	ck_assert_str_eq(c.tests.message, "Tests running...");
	jobs_sc_start(&c, JOB_REFRESH_LOCK, t0);
	ck_assert_str_eq(c.lock.status, "working");
	ck_assert_str_eq(c.lock.message, "Refreshing lock...");

	/* A stale working state nobody owns turns unknown after 5 min. */
	jobs_sc_start(&c, JOB_SWITCH, t0);
	jobs_sc_expire(&c, JOB_NONE, t0 + 299);
	ck_assert_str_eq(c.system.status, "working");
	jobs_sc_expire(&c, JOB_SWITCH, t0 + 3600);
	ck_assert_str_eq(c.system.status, "working");
	jobs_sc_expire(&c, JOB_TEST, t0 + 301);
	ck_assert_str_eq(c.system.status, "unknown");
}
END_TEST

START_TEST(test_jobs_lock_verdict)
{
	/* 2026-01-20 23:00:00 UTC */
	const time_t	 at = 1768950000;
	struct ipc_sc	 sc;

	jobs_lock_verdict(&sc, 0, 0, NULL, NULL, at);
	ck_assert_str_eq(sc.status, "unknown");
	ck_assert_str_eq(sc.message, "flake.lock not found");
	jobs_lock_verdict(&sc, 1, 128, NULL, "", at);
	ck_assert_str_eq(sc.status, "error");
	ck_assert_str_eq(sc.message, "Failed to check flake.lock: exit "
	    "status 128");
	jobs_lock_verdict(&sc, 1, -1, NULL, "", at);
	ck_assert_str_eq(sc.message, "Failed to check flake.lock: signal: "
	    "killed");
	jobs_lock_verdict(&sc, 1, -1, "exec: \"git\": executable file not "
	    "found in $PATH", "", at);
	ck_assert_str_eq(sc.message, "Failed to check flake.lock: exec: "
	    "\"git\": executable file not found in $PATH");
	jobs_lock_verdict(&sc, 1, 0, NULL, " \n", at);
	ck_assert_str_eq(sc.status, "unknown");
	ck_assert_str_eq(sc.message, "flake.lock has no git history");
	jobs_lock_verdict(&sc, 1, 0, NULL, "yesterday-ish\n", at);
	ck_assert_str_eq(sc.status, "error");
	ck_assert_ptr_nonnull(strstr(sc.message,
	    "Failed to parse lock date: "));

	/* 23:00 one evening is still "today" at 09:00 the next morning. */
	jobs_lock_verdict(&sc, 1, 0, NULL, "2026-01-20 23:00:00 +0000\n",
	    at + 10 * 3600);
	ck_assert_str_eq(sc.status, "ok");
	ck_assert_str_eq(sc.message, "Updated today");
	ck_assert_str_eq(sc.checked_at, "2026-01-21T09:00:00Z");
	/* The offset counts: 23:00 +0100 is 22:00 UTC. */
	jobs_lock_verdict(&sc, 1, 0, NULL, "2026-01-20 23:00:00 +0100",
	    at + 23 * 3600);
	ck_assert_str_eq(sc.message, "Updated yesterday");
	jobs_lock_verdict(&sc, 1, 0, NULL, "2026-01-20 23:00:00 -0100",
	    at + 24 * 3600);
	ck_assert_str_eq(sc.message, "Updated today");
	jobs_lock_verdict(&sc, 1, 0, NULL, "2026-01-20 23:00:00 +0000",
	    at + 7 * 86400);
	ck_assert_str_eq(sc.status, "ok");
	ck_assert_str_eq(sc.message, "Updated 7 days ago");
	jobs_lock_verdict(&sc, 1, 0, NULL, "2026-01-20 23:00:00 +0000",
	    at + 8 * 86400);
	ck_assert_str_eq(sc.status, "outdated");
	ck_assert_str_eq(sc.message, "Updated 8 days ago - consider updating");
	jobs_lock_verdict(&sc, 1, 0, NULL, "2026-01-20 23:00:00 +0000",
	    at + 30 * 86400 + 1);
	ck_assert_str_eq(sc.message, "Updated 30 days ago - consider updating");
	jobs_lock_verdict(&sc, 1, 0, NULL, "2026-01-20 23:00:00 +0000",
	    at + 31 * 86400);
	ck_assert_str_eq(sc.message, "Updated 31 days ago - needs update");
	/* A commit from the future counts as today. */
	jobs_lock_verdict(&sc, 1, 0, NULL, "2026-01-20 23:00:00 +0000",
	    at - 5 * 86400);
	ck_assert_str_eq(sc.message, "Updated today");
}
END_TEST

START_TEST(test_jobs_check_version)
{
	struct jobs_conf	 c = conf(JOBS_MACOS, 1);
	char			 msg[256], paths[4][IPC_PATH_MAX];
	int			 st, n;

	jobs_check_version("0.1.0", "nixfleet-agent 0.1.0\n", 1, &st, msg,
	    sizeof(msg));
	ck_assert_int_eq(st, JOB_ST_OK);
	ck_assert_str_eq(msg, "running=0.1.0 installed=0.1.0");
	jobs_check_version("0.1.0", "nixfleet-agent 0.2.0\n", 1, &st, msg,
	    sizeof(msg));
	ck_assert_int_eq(st, JOB_ST_WARNING);
	ck_assert_str_eq(msg, "mismatch: running=0.1.0 installed=0.2.0");
	jobs_check_version("0.1.0", NULL, 0, &st, msg, sizeof(msg));
	ck_assert_int_eq(st, JOB_ST_ERROR);
	ck_assert_str_eq(msg, "installed binary not found");

	n = jobs_version_candidates(&c, paths, 4);
	ck_assert_int_eq(n, 4);
	ck_assert_str_eq(paths[0], "/Users/alice/.nix-profile/bin/"
	    "nixfleet-agent");
	ck_assert_str_eq(paths[1], "/run/current-system/sw/bin/"
	    "nixfleet-agent");
	ck_assert_str_eq(paths[2], "/etc/profiles/per-user/alice/bin/"
	    "nixfleet-agent");
	ck_assert_str_eq(paths[3], "nixfleet-agent");
	c = conf(JOBS_NIXOS, 1);
	n = jobs_version_candidates(&c, paths, 4);
	ck_assert_int_eq(n, 3);
	ck_assert_str_eq(paths[0], "/run/current-system/sw/bin/"
	    "nixfleet-agent");
}
END_TEST

START_TEST(test_jobs_system_verdict)
{
	struct ipc_sc	 sc;
	const char	*cur = "/nix/store/abc-nixos-system-web01";

	jobs_system_verdict(&sc, 0, NULL, "[{\"outputs\":{\"out\":"
	    "\"/nix/store/abc-nixos-system-web01\"}}]", cur, 0);
	ck_assert_str_eq(sc.status, "ok");
	ck_assert_str_eq(sc.message, "System up to date");
	jobs_system_verdict(&sc, 0, NULL, "[{\"out\":\"/nix/store/def\"}]",
	    cur, 0);
	ck_assert_str_eq(sc.status, "outdated");
	ck_assert_str_eq(sc.message, "Rebuild needed");
	jobs_system_verdict(&sc, 1, "error: flake has no attribute", "", cur,
	    0);
	ck_assert_str_eq(sc.status, "error");
	ck_assert_str_eq(sc.message, "error: flake has no attribute");
	jobs_system_verdict(&sc, -1, "signal: killed", NULL, cur, 0);
	ck_assert_str_eq(sc.message, "signal: killed");
}
END_TEST

/* Both ends of the channel: requests checked by exec, records by net. */
START_TEST(test_jobs_channel_checks)
{
	struct ipc_job_start	 js;
	struct ipc_job_signal	 sg;
	struct ipc_job_output	 o;
	struct ipc_job_progress	 pr;
	struct ipc_job_status	 st;
	struct ipc_job_answer	 an;
	struct ipc_job_state	 s;

	memset(&js, 0, sizeof(js));
	js.kind = JOB_SWITCH;
	ck_assert_int_eq(jobs_check_start(&js), 0);
	js.kind = JOB_NONE;
	ck_assert_int_eq(jobs_check_start(&js), -1);
	js.kind = JOB_KIND_MAX;
	ck_assert_int_eq(jobs_check_start(&js), -1);
	js.kind = JOB_PULL;
	js.flags = 1;
	ck_assert_int_eq(jobs_check_start(&js), -1);
	js.flags = 0;
	js.arg = 3;
	ck_assert_int_eq(jobs_check_start(&js), -1);
	js.arg = 0;
	js.pad = 1;
	ck_assert_int_eq(jobs_check_start(&js), -1);

	memset(&sg, 0, sizeof(sg));
	sg.how = JOB_STOP;
	sg.signal = JOB_SIG_TERM;
	ck_assert_int_eq(jobs_check_signal(&sg), 0);
	sg.signal = JOB_SIG_KILL;	/* stop is always SIGTERM first */
	ck_assert_int_eq(jobs_check_signal(&sg), -1);
	sg.how = JOB_KILL;
	sg.pid = 4242;
	ck_assert_int_eq(jobs_check_signal(&sg), 0);
	sg.pid = -1;
	ck_assert_int_eq(jobs_check_signal(&sg), -1);
	sg.pid = 0;
	sg.signal = JOB_SIG_NONE;
	ck_assert_int_eq(jobs_check_signal(&sg), -1);
	sg.signal = JOB_SIG_TERM;
	sg.how = JOB_SWITCH;
	ck_assert_int_eq(jobs_check_signal(&sg), -1);

	memset(&o, 0, sizeof(o));
	o.job_id = 1;
	o.seq = 1;
	o.stream = JOB_STREAM_STDERR;
	o.len = 5;
	ck_assert_int_eq(jobrec_check_output(&o, 5), 0);
	ck_assert_int_eq(jobrec_check_output(&o, 4), -1);
	o.len = IPC_JOB_LINE_MAX + 1;
	ck_assert_int_eq(jobrec_check_output(&o, o.len), -1);
	o.len = 0;
	o.stream = JOB_STREAM_DROPPED;
	ck_assert_int_eq(jobrec_check_output(&o, 0), -1);
	o.dropped = 9;
	ck_assert_int_eq(jobrec_check_output(&o, 0), 0);
	o.stream = 9;
	ck_assert_int_eq(jobrec_check_output(&o, 0), -1);

	memset(&pr, 0, sizeof(pr));
	pr.job_id = 1;
	pr.seq = 2;
	pr.phase = JOB_PHASE_SYSTEM;
	pr.total = 3;
	pr.state = JOB_PS_IN_PROGRESS;
	ck_assert_int_eq(jobrec_check_progress(&pr), 0);
	pr.current = 4;
	ck_assert_int_eq(jobrec_check_progress(&pr), -1);
	pr.current = 0;
	pr.state = 0;
	ck_assert_int_eq(jobrec_check_progress(&pr), -1);
	pr.phase = JOB_PHASE_TEST_SCRIPT;
	pr.total = 5;
	pr.current = 5;
	pr.passed = 4;
	pr.result = JOB_TR_COUNTED;
	ck_assert_int_eq(jobrec_check_progress(&pr), 0);
	pr.running = 1;		/* running, yet a final result */
	ck_assert_int_eq(jobrec_check_progress(&pr), -1);

	memset(&st, 0, sizeof(st));
	st.job_id = 1;
	st.seq = 3;
	st.kind = JOB_CHECK_VERSION;
	st.status = JOB_ST_WARNING;
	ck_assert_int_eq(jobrec_check_status(&st), 0);
	st.exit_code = 1;	/* 3.x would call the warning a failure */
	ck_assert_int_eq(jobrec_check_status(&st), -1);
	st.status = JOB_ST_STOPPED;
	ck_assert_int_eq(jobrec_check_status(&st), -1);
	st.exit_code = 130;
	ck_assert_int_eq(jobrec_check_status(&st), 0);
	st.status = JOB_ST_ERROR;
	st.exit_code = 0;
	ck_assert_int_eq(jobrec_check_status(&st), -1);
	st.exit_code = -1;
	ck_assert_int_eq(jobrec_check_status(&st), 0);
	memset(st.message, 'x', sizeof(st.message));
	ck_assert_int_eq(jobrec_check_status(&st), -1);
	st.message[0] = '\0';
	st.kind = JOB_NONE;
	ck_assert_int_eq(jobrec_check_status(&st), -1);
	st.kind = JOB_SWITCH;
	st.after = JOB_AFTER_EXIT_SWITCH;	/* only after a success */
	ck_assert_int_eq(jobrec_check_status(&st), -1);

	memset(&an, 0, sizeof(an));
	an.result = JOB_ANS_BUSY;
	an.kind = JOB_SWITCH;
	an.current_kind = JOB_TEST;
	an.current_pid = 16286;
	ck_assert_int_eq(jobrec_check_answer(&an), 0);
	an.kind = JOB_KILL;	/* a bypass kind is never busy */
	ck_assert_int_eq(jobrec_check_answer(&an), -1);
	an.kind = JOB_SWITCH;
	an.current_kind = JOB_NONE;
	ck_assert_int_eq(jobrec_check_answer(&an), -1);
	an.result = JOB_ANS_STARTED;
	ck_assert_int_eq(jobrec_check_answer(&an), -1);
	an.job_id = 7;
	ck_assert_int_eq(jobrec_check_answer(&an), 0);

	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(jobrec_check_state(&s), 0);
	s.pid = 5;		/* idle with a pid */
	ck_assert_int_eq(jobrec_check_state(&s), -1);
	s.kind = JOB_TEST;
	s.job_id = 2;
	ck_assert_int_eq(jobrec_check_state(&s), 0);
	memset(s.tests.checked_at, '1', sizeof(s.tests.checked_at));
	ck_assert_int_eq(jobrec_check_state(&s), -1);
}
END_TEST

static Suite *
jobs_suite(void)
{
	Suite	*s = suite_create("jobs");
	TCase	*tc;

#define JT(name) do {							\
	tc = tcase_create(#name);					\
	tcase_add_test(tc, test_jobs_##name);				\
	suite_add_tcase(s, tc);						\
} while (0)
#define JL(name) do {							\
	tc = tcase_create(#name);					\
	tcase_add_loop_test(tc, test_jobs_##name, 0, 2);		\
	suite_add_tcase(s, tc);						\
} while (0)
	JL(pull_isolated);
	JL(pull_legacy);
	JT(switch);
	JT(pull_switch);
	JL(rollback_reboot);
	JL(flake_updates);
	JT(force_update);
	JT(refresh);
	JT(update_agent);
	JT(all_kinds);
	JT(names);
	JT(runs_as);
	JT(environment);
	JT(ssh_quoting);
	JT(refuse_values);
	JT(test_scripts);
	JT(hm_previous);
	JT(hm_rollback);
	JT(admit);
	JT(interrupt);
	JT(test_verdict);
	JT(progress);
	JT(compartments);
	JT(lock_verdict);
	JT(check_version);
	JT(system_verdict);
	JT(channel_checks);
#undef JT
#undef JL
	return s;
}

int
main(void)
{
	return tl_run(jobs_suite());
}
