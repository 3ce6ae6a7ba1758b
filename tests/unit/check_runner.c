/*
 * check_runner.c: the per-job runner as a real process (integration
 * suite): lines on both streams, exit codes and signals, long lines, a
 * command that cannot run, the launcher killed outright (the runner and
 * its job go on), the runner killed outright at random points (the
 * journal stays readable, the job ends), SIGTERM, a job that leaves a
 * process holding its pipes, and the follower on a live runner.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "follow.h"
#include "jobs_launch.h"
#include "journal.h"
#include "testlib.h"

static char	*tmp;
static char	*jobdir;

static const char *
runner_path(void)
{
	const char	*p = getenv("RUNNER");

	ck_assert_msg(p != NULL && access(p, X_OK) == 0,
	    "RUNNER not set or not executable");
	return p;
}

static void
setup(void)
{
	tmp = tl_mkdtemp();
	jobdir = tl_path(tmp, "0000000001");
	ck_assert_int_eq(mkdir(jobdir, 0700), 0);
}

static void
teardown(void)
{
	tl_rmtree(tmp);
	free(tmp);
	free(jobdir);
}

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
msleep(int ms)
{
	struct timespec	 ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Start the runner as our child on jobdir running `sh -c script`. */
static pid_t
start_runner(const char *script)
{
	pid_t	 pid;

	if ((pid = fork()) == 0) {
		execl(runner_path(), "nixfleet-agent-runner", "-n", "test",
		    jobdir, "sh", "-c", script, (char *)NULL);
		_exit(99);
	}
	ck_assert_int_gt(pid, 0);
	return pid;
}

static int
wait_exit(pid_t pid, double timeout)
{
	double	 end = now() + timeout;
	int	 st;

	while (now() < end) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return st;
		msleep(10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	ck_abort_msg("pid %d did not exit in %.0f s", (int)pid, timeout);
	return -1;
}

/* A process that is gone or a zombie nobody reaped yet. */
static int
gone(pid_t pid)
{
	char	 p[64], buf[512], *s;
	FILE	*f;
	int	 z = 0;

	if (kill(pid, 0) == -1 && errno == ESRCH)
		return 1;
	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	if ((f = fopen(p, "r")) == NULL)
		return 1;
	if (fgets(buf, sizeof(buf), f) != NULL &&
	    (s = strrchr(buf, ')')) != NULL)
		z = s[2] == 'Z' || s[2] == 'X';
	fclose(f);
	return z;
}

struct seen {
	int			 nrec, nout, nerr;
	int			 status;	/* of the last read */
	struct journal_start	 start;
	int			 have_start;
	struct journal_exit	 exit;
	int			 have_exit;
	char			 out[64][64], err[64][64];
	uint64_t		 last_mono;
	int			 out_eol[64];
	uint32_t		 out_len[64];
};

/* Read the whole journal, checking order and clocks on the way. */
static void
read_all(struct seen *s)
{
	struct journal_reader	 rd;
	struct journal_rec	 r;

	memset(s, 0, sizeof(*s));
	ck_assert_int_eq(journal_reader_open(&rd, jobdir, 0), 0);
	while ((s->status = journal_read(&rd, &r)) == JOURNAL_REC) {
		ck_assert_uint_eq(r.seq, (uint64_t)s->nrec);
		ck_assert_uint_ge(r.mono_ns, s->last_mono);
		s->last_mono = r.mono_ns;
		s->nrec++;
		switch (r.type) {
		case JOURNAL_START:
			ck_assert_uint_eq(r.seq, 0);
			ck_assert_int_eq(journal_parse_start(&r, &s->start),
			    0);
			s->have_start = 1;
			break;
		case JOURNAL_STDOUT:
			if (s->nout < 64) {
				snprintf(s->out[s->nout], 64, "%.*s",
				    (int)r.len, r.data);
				s->out_eol[s->nout] = r.flags & JOURNAL_F_EOL;
				s->out_len[s->nout] = r.len;
			}
			s->nout++;
			break;
		case JOURNAL_STDERR:
			if (s->nerr < 64)
				snprintf(s->err[s->nerr], 64, "%.*s",
				    (int)r.len, r.data);
			s->nerr++;
			break;
		case JOURNAL_EXIT:
			ck_assert_int_eq(journal_parse_exit(&r, &s->exit), 0);
			s->have_exit = 1;
			break;
		}
	}
	journal_reader_close(&rd);
}

/* ---------------------------------------------------------------- */

START_TEST(test_runner_lines)
{
	struct seen	 s;
	pid_t		 pid;
	char		 want[32];

	pid = start_runner("i=1; while [ $i -le 50 ]; do echo out $i; "
	    "echo err $i >&2; i=$((i+1)); done; exit 3");
	ck_assert_int_eq(wait_exit(pid, 30), 0);
	read_all(&s);
	ck_assert_int_eq(s.status, JOURNAL_END);
	ck_assert(s.have_start && s.have_exit);
	ck_assert_str_eq(s.start.name, "test");
	ck_assert_uint_eq(s.start.runner_pid, (uint32_t)pid);
	ck_assert_int_eq(s.nout, 50);
	ck_assert_int_eq(s.nerr, 50);
	for (int i = 0; i < 50; i++) {
		snprintf(want, sizeof(want), "out %d", i + 1);
		ck_assert_str_eq(s.out[i], want);
		ck_assert(s.out_eol[i]);
		snprintf(want, sizeof(want), "err %d", i + 1);
		ck_assert_str_eq(s.err[i], want);
	}
	ck_assert_int_eq(s.exit.how, JOURNAL_EXITED);
	ck_assert_int_eq(s.exit.value, 3);
	ck_assert_uint_gt(s.exit.duration_ns, 0);
	ck_assert_uint_lt(s.exit.duration_ns, 30000000000ULL);
}
END_TEST

START_TEST(test_runner_exit_zero_and_signals)
{
	static const struct {
		const char	*script;
		uint32_t	 how;
		int		 value;
	} c[] = {
		{ "exit 0", JOURNAL_EXITED, 0 },
		{ "exit 255", JOURNAL_EXITED, 255 },
		{ "kill -TERM $$", JOURNAL_SIGNALED, SIGTERM },
		{ "kill -KILL $$", JOURNAL_SIGNALED, SIGKILL },
		{ "kill -SEGV $$", JOURNAL_SIGNALED, SIGSEGV },
	};
	struct seen	 s;

	for (size_t i = 0; i < nitems(c); i++) {
		tl_rmtree(jobdir);
		ck_assert_int_eq(mkdir(jobdir, 0700), 0);
		ck_assert_int_eq(wait_exit(start_runner(c[i].script), 30), 0);
		read_all(&s);
		ck_assert_int_eq(s.status, JOURNAL_END);
		ck_assert_msg(s.exit.how == c[i].how &&
		    s.exit.value == c[i].value, "%s: %u %d", c[i].script,
		    s.exit.how, s.exit.value);
	}
}
END_TEST

/* 10000 bytes and a newline: 4096, 4096, 1809; a last line without one. */
START_TEST(test_runner_long_lines)
{
	struct seen	 s;

	ck_assert_int_eq(wait_exit(start_runner("head -c 10000 /dev/zero | "
	    "tr '\\0' a; printf 'x\\n'; printf 'last'"), 30), 0);
	read_all(&s);
	ck_assert_int_eq(s.status, JOURNAL_END);
	ck_assert_int_eq(s.nout, 4);
	ck_assert_uint_eq(s.out_len[0], 4096);
	ck_assert_uint_eq(s.out_len[1], 4096);
	ck_assert_uint_eq(s.out_len[2], 1809);
	ck_assert(!s.out_eol[0] && !s.out_eol[1] && s.out_eol[2]);
	ck_assert_str_eq(s.out[3], "last");
	ck_assert(!s.out_eol[3]);
}
END_TEST

START_TEST(test_runner_exec_fails)
{
	struct seen	 s;
	pid_t		 pid;

	if ((pid = fork()) == 0) {
		execl(runner_path(), "nixfleet-agent-runner", jobdir,
		    "/nonexistent/command", "arg", (char *)NULL);
		_exit(99);
	}
	ck_assert_int_eq(wait_exit(pid, 30), 0);
	read_all(&s);
	ck_assert_int_eq(s.status, JOURNAL_END);
	ck_assert_int_eq(s.nerr, 1);
	ck_assert_ptr_nonnull(strstr(s.err[0], "No such file"));
	ck_assert_int_eq(s.exit.value, 127);

	/* A second runner on the same job directory refuses to write. */
	if ((pid = fork()) == 0) {
		execl(runner_path(), "nixfleet-agent-runner", jobdir, "true",
		    (char *)NULL);
		_exit(99);
	}
	ck_assert_int_eq(WEXITSTATUS(wait_exit(pid, 30)), 1);
	read_all(&s);
	ck_assert_int_eq(s.nrec, 3);
}
END_TEST

/*
 * The agent's side dies: a launcher in its own process group, with two
 * more processes standing in for the agent's three, starts the runner through
 * jobs_launch's detached path, and its whole group is killed with
 * SIGKILL.  The job keeps writing and its exit record arrives.
 */
START_TEST(test_runner_survives_agent)
{
	char *const	 argv[] = { "sh", "-c", "i=1; while [ $i -le 40 ]; "
	    "do echo line $i; i=$((i+1)); sleep 0.05; done; exit 7", NULL };
	char *const	 envp[] = { "PATH=/usr/bin:/bin", NULL };
	struct jobs_launch l = { .id = 1, .runner = runner_path(),
	    .jobdir = jobdir, .name = "switch", .argv = argv, .envp = envp };
	struct seen	 s;
	pid_t		 launcher, runner, sid;
	int		 p[2], st, before;
	double		 end;

	ck_assert_int_eq(pipe(p), 0);
	if ((launcher = fork()) == 0) {
		setpgid(0, 0);
		for (int i = 0; i < 2; i++) {	/* the other two processes */
			if (fork() == 0) {
				alarm(30);	/* bounded if the test fails */
				pause();
				_exit(0);
			}
		}
		alarm(30);
		runner = jobs_launch(&l, JOBS_DETACH);
		(void)write(p[1], &runner, sizeof(runner));
		pause();
		_exit(0);
	}
	setpgid(launcher, launcher);
	close(p[1]);
	ck_assert_int_eq(read(p[0], &runner, sizeof(runner)), sizeof(runner));
	close(p[0]);
	ck_assert_int_gt(runner, 0);
	/* Not our child. */
	ck_assert_int_eq(waitpid(runner, &st, WNOHANG), -1);

	end = now() + 10;
	do {
		msleep(20);
		read_all(&s);
	} while (s.nout < 3 && now() < end);
	ck_assert_int_ge(s.nout, 3);
	sid = getsid(runner);
	ck_assert_int_eq(kill(-launcher, SIGKILL), 0);
	ck_assert_int_eq(waitpid(launcher, &st, 0), launcher);
	ck_assert(WIFSIGNALED(st));
	before = s.nout;

	ck_assert_msg(!gone(runner), "the runner died with the launcher");
	/* Its own session, apart from ours and the launcher's. */
	ck_assert_int_eq(sid, runner);
	ck_assert_int_ne(sid, getsid(0));
	end = now() + 20;
	do {
		msleep(50);
		read_all(&s);
	} while (!s.have_exit && now() < end);
	ck_assert_int_eq(s.status, JOURNAL_END);
	ck_assert_int_gt(s.nout, before);
	ck_assert_int_eq(s.nout, 40);
	ck_assert_int_eq(s.exit.how, JOURNAL_EXITED);
	ck_assert_int_eq(s.exit.value, 7);
	ck_assert_str_eq(s.start.name, "switch");
	end = now() + 5;
	while (!gone(runner) && now() < end)
		msleep(20);
	ck_assert(gone(runner));
}
END_TEST

/*
 * kill -9 of the runner itself, at random points of a job writing as
 * fast as it can on both streams: the journal reads back contiguous up
 * to at most a torn tail, then "truncated"; the job ends on its own.
 */
START_TEST(test_runner_killed)
{
	unsigned	 seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	struct seen	 s;
	pid_t		 pid, child;
	double		 end;

	fprintf(stderr, "test_runner_killed: seed %u\n", seed);
	srand(seed);
	for (int round = 0; round < 6; round++) {
		tl_rmtree(jobdir);
		ck_assert_int_eq(mkdir(jobdir, 0700), 0);
		pid = start_runner("i=0; while :; do echo out $i; "
		    "echo err $i >&2; i=$((i+1)); done");
		end = now() + 10;
		do {
			msleep(5);
			read_all(&s);
		} while (!s.have_start && now() < end);
		ck_assert(s.have_start);
		child = s.start.child_pid;
		msleep(20 + rand() % 300);
		ck_assert_int_eq(kill(pid, SIGKILL), 0);
		ck_assert_int_eq(waitpid(pid, NULL, 0), pid);

		read_all(&s);
		ck_assert_int_eq(s.status, JOURNAL_TRUNCATED);
		ck_assert(!s.have_exit);
		ck_assert_int_gt(s.nrec, 1);
		/* The job's leader got SIGTERM when its runner died. */
		end = now() + 10;
		while (!gone(child) && now() < end)
			msleep(20);
		ck_assert_msg(gone(child), "round %d: job outlived its runner",
		    round);
		kill(-child, SIGKILL);		/* anything it left behind */
	}
}
END_TEST

/* A quiet job (no write to fail with SIGPIPE) also ends with its runner. */
START_TEST(test_runner_killed_quiet)
{
	struct seen	 s;
	pid_t		 pid, child;
	double		 end;

	pid = start_runner("echo started; exec sleep 30");
	end = now() + 10;
	do {
		msleep(10);
		read_all(&s);
	} while (s.nout < 1 && now() < end);
	ck_assert_int_eq(s.nout, 1);
	child = s.start.child_pid;
	ck_assert(!gone(child));
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	end = now() + 10;
	while (!gone(child) && now() < end)
		msleep(20);
	ck_assert_msg(gone(child), "a quiet job outlived its runner");
	kill(-child, SIGKILL);
	read_all(&s);
	ck_assert_int_eq(s.status, JOURNAL_TRUNCATED);
}
END_TEST

/*
 * A free lock means a runner that has ended, from the instant the lock
 * file exists: probe runners from their very start, as fast as we can.
 */
START_TEST(test_runner_lock_race)
{
	struct seen	 s;
	pid_t		 pid;
	long		 probes = 0;
	int		 dfd, alive, st;

	for (int round = 0; round < 20; round++) {
		tl_rmtree(jobdir);
		ck_assert_int_eq(mkdir(jobdir, 0700), 0);
		dfd = open(jobdir, O_RDONLY | O_DIRECTORY);
		ck_assert_int_ne(dfd, -1);
		pid = start_runner("exit 0");
		for (;;) {
			alive = journal_runner_alive(dfd);
			probes++;
			if (alive == 0)
				break;
			ck_assert(alive == 1 || errno == ENOENT);
		}
		read_all(&s);
		ck_assert_msg(s.status == JOURNAL_END,
		    "round %d: lock free before the exit record (%d)", round,
		    s.status);
		ck_assert_int_eq(waitpid(pid, &st, 0), pid);
		close(dfd);
	}
	fprintf(stderr, "lock race: %ld probes\n", probes);
}
END_TEST

/* SIGTERM to the runner stops the job's group; it is recorded. */
START_TEST(test_runner_sigterm)
{
	struct seen	 s;
	pid_t		 pid;
	double		 end, t0;

	pid = start_runner("echo started; sleep 30; echo never");
	end = now() + 10;
	do {
		msleep(10);
		read_all(&s);
	} while (s.nout < 1 && now() < end);
	t0 = now();
	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	ck_assert_int_eq(wait_exit(pid, 10), 0);
	ck_assert_double_lt(now() - t0, 5);
	read_all(&s);
	ck_assert_int_eq(s.status, JOURNAL_END);
	ck_assert_int_eq(s.nout, 1);
	ck_assert_int_eq(s.exit.how, JOURNAL_SIGNALED);
	ck_assert_int_eq(s.exit.value, SIGTERM);
}
END_TEST

/* SIGUSR1 to the runner kills the job's group outright. */
START_TEST(test_runner_sigusr1)
{
	struct seen	 s;
	pid_t		 pid;
	double		 end;

	pid = start_runner("trap '' TERM; echo started; sleep 30 & wait");
	end = now() + 10;
	do {
		msleep(10);
		read_all(&s);
	} while (s.nout < 1 && now() < end);
	ck_assert_int_eq(kill(pid, SIGUSR1), 0);
	ck_assert_int_eq(wait_exit(pid, 10), 0);
	read_all(&s);
	ck_assert_int_eq(s.status, JOURNAL_END);
	ck_assert_int_eq(s.exit.how, JOURNAL_SIGNALED);
	/* The leader ignored SIGTERM: only SIGKILL could end it. */
	ck_assert_int_eq(s.exit.value, SIGKILL);
	kill(-(pid_t)s.start.child_pid, SIGKILL);
}
END_TEST

/*
 * Plan steps: "timeout" kills the step's group with SIGKILL at its
 * limit, and "log" copies each line, then the step's status, as text.
 */
START_TEST(test_runner_plan_timeout_log)
{
	char		*plan, *log, text[1024], buf[4096];
	struct seen	 s;
	double		 t0;
	pid_t		 pid;
	int		 fd;
	ssize_t		 n;

	plan = tl_path(jobdir, "plan");
	log = tl_path(tmp, "step.log");
	snprintf(text, sizeof(text), "nixfleet-plan 1\nstep\nflags 1\n"
	    "log %s\narg sh\narg -c\narg echo first\nend\n"
	    "step\nflags 0\ntimeout 300\nlog %s\narg sh\narg -c\n"
	    "arg echo out; echo err >&2; exec sleep 20\nend\n", log, log);
	tl_write_file(plan, text, 0600);
	t0 = now();
	if ((pid = fork()) == 0) {
		execl(runner_path(), "nixfleet-agent-runner", "-n", "test",
		    "-P", "plan", jobdir, (char *)NULL);
		_exit(99);
	}
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(wait_exit(pid, 15), 0);
	/* Killed at 0.3 s, not after the 20 s of its sleep. */
	ck_assert_msg(now() - t0 < 10, "the limit did not end the step");
	read_all(&s);
	ck_assert_int_eq(s.status, JOURNAL_END);
	ck_assert_int_eq(s.exit.how, JOURNAL_SIGNALED);
	ck_assert_int_eq(s.exit.value, SIGKILL);
	ck_assert_str_eq(s.out[0], "first");
	ck_assert_str_eq(s.out[1], "out");
	ck_assert_str_eq(s.err[0], "err");
	ck_assert_int_ne(fd = open(log, O_RDONLY), -1);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_ptr_nonnull(strstr(buf, "Z stdout first\n"));
	ck_assert_ptr_nonnull(strstr(buf, "Z status exit=0\n"));
	ck_assert_ptr_nonnull(strstr(buf, "Z stdout out\n"));
	ck_assert_ptr_nonnull(strstr(buf, "Z stderr err\n"));
	ck_assert_msg(n > 18 && strcmp(buf + n - 18, "Z status signal=9\n") ==
	    0, "%s", buf);
	/* "2026-12-02T00:27:24.389Z stdout first" */
	ck_assert_int_eq(buf[4], '-');
	ck_assert_int_eq(buf[10], 'T');
	ck_assert_int_eq(buf[19], '.');
	free(plan);
	free(log);
}
END_TEST

/* A process left holding stdout does not keep the job open. */
START_TEST(test_runner_drain)
{
	struct seen	 s;
	double		 t0 = now();

	ck_assert_int_eq(wait_exit(start_runner("sleep 20 & echo started; "
	    "exit 0"), 15), 0);
	ck_assert_double_lt(now() - t0, 10);
	read_all(&s);
	ck_assert_int_eq(s.status, JOURNAL_END);
	ck_assert_int_eq(s.exit.value, 0);
	ck_assert_int_eq(s.nout, 1);
	kill(-(pid_t)s.start.child_pid, SIGKILL);
}
END_TEST

/*
 * The systemd path with a stand-in for systemd-run: it records its
 * arguments and starts what follows "--" detached, as the manager would.
 * Its exit status is the launch's result.
 */
START_TEST(test_runner_launch_systemd)
{
	char *const	 argv[] = { "sh", "-c", "echo via unit", NULL };
	char *const	 envp[] = { "PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8",
	    NULL };
	struct jobs_launch l = { .id = 7, .runner = runner_path(),
	    .jobdir = jobdir, .name = "test", .argv = argv, .envp = envp };
	struct seen	 s;
	char		*fake, *args, script[8192], line[256];
	FILE		*f;
	double		 end;
	int		 n = 0, unit = 0, setenv = 0;

	fake = tl_path(tmp, "systemd-run");
	args = tl_path(tmp, "args");
	snprintf(script, sizeof(script), "#!/bin/sh\n"
	    "printf '%%s\\n' \"$@\" > '%s'\n"
	    "while [ \"$1\" != -- ]; do shift; done; shift\n"
	    "setsid \"$@\" </dev/null >/dev/null 2>&1 &\n"
	    "exit 0\n", args);
	tl_write_file(fake, script, 0755);
	l.systemd_run = fake;
	ck_assert_int_eq(jobs_launch(&l, JOBS_SYSTEMD), 0);
	ck_assert_ptr_nonnull(f = fopen(args, "r"));
	while (fgets(line, sizeof(line), f) != NULL) {
		n++;
		unit += strcmp(line, "--unit=nixfleet-agent-job-7\n") == 0;
		setenv += strcmp(line, "--setenv=LC_ALL=C.UTF-8\n") == 0;
	}
	fclose(f);
	ck_assert_int_eq(unit, 1);
	ck_assert_int_eq(setenv, 1);
	ck_assert_int_gt(n, 10);
	end = now() + 10;
	do {
		msleep(20);
		read_all(&s);
	} while (s.status != JOURNAL_END && now() < end);
	ck_assert_int_eq(s.status, JOURNAL_END);
	ck_assert_str_eq(s.out[0], "via unit");

	/* update-agent's unit has a fixed name (nixfleet §6.5). */
	l.unit = JOBS_UNIT_UPDATE;
	{
		char	**v = jobs_launch_argv(&l, JOBS_SYSTEMD);

		ck_assert_str_eq(v[1], "--unit=nixfleet-agent-update");
		ck_assert_str_eq(v[2], "--collect");
		jobs_launch_free(v);
	}
	l.unit = NULL;

	/* systemd-run failing is the launch failing. */
	tl_write_file(fake, "#!/bin/sh\nexit 1\n", 0755);
	ck_assert_int_eq(jobs_launch(&l, JOBS_SYSTEMD), -1);
	free(fake);
	free(args);
}
END_TEST

/* A runner that cannot be executed: the detached launch says why. */
START_TEST(test_runner_launch_fails)
{
	char *const	 argv[] = { "true", NULL };
	char *const	 envp[] = { NULL };
	struct jobs_launch l = { .id = 1, .runner = "/nonexistent/runner",
	    .jobdir = jobdir, .argv = argv, .envp = envp };

	errno = 0;
	ck_assert_int_eq(jobs_launch(&l, JOBS_DETACH), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

/* The follower on a live runner: woken per line, never while idle. */
struct fr {
	struct ev_loop		*loop;
	struct journal_reader	 rd;
	int			 lines, ended, calls_idle;
	ev_timer		 guard;
};

static void
fr_cb(uint64_t id, void *arg)
{
	struct fr		*f = arg;
	struct journal_rec	 r;
	int			 st;

	ck_assert_uint_eq(id, 1);
	while ((st = journal_read(&f->rd, &r)) == JOURNAL_REC)
		if (r.type == JOURNAL_STDOUT)
			f->lines++;
	ck_assert(st == JOURNAL_WAIT || st == JOURNAL_END);
	if (st == JOURNAL_END) {
		f->ended = 1;
		ev_break(f->loop, EVBREAK_ALL);
	}
}

static void
fr_guard_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

START_TEST(test_runner_follow)
{
	struct follow	 fo;
	struct fr	 f;
	pid_t		 pid;

	memset(&f, 0, sizeof(f));
	f.loop = ev_loop_new(EVFLAG_AUTO);
	ck_assert_int_eq(journal_reader_open(&f.rd, jobdir, 0), 0);
	ck_assert_int_eq(follow_init(&fo, f.loop, fr_cb, &f), 0);
	ck_assert_int_eq(follow_add(&fo, 1, jobdir), 0);
	pid = start_runner("i=1; while [ $i -le 8 ]; do echo $i; "
	    "i=$((i+1)); sleep 0.2; done");
	ev_timer_init(&f.guard, fr_guard_cb, 20, 0);
	ev_timer_start(f.loop, &f.guard);
	ev_run(f.loop, 0);
	ck_assert_int_eq(wait_exit(pid, 10), 0);
	ck_assert(f.ended);
	ck_assert_int_eq(f.lines, 8);
	/*
	 * 10 records over ~1.6 s plus the files' creation and closing: a
	 * poll every 10 ms would be 160 wakeups.
	 */
	fprintf(stderr, "follow: %" PRIu64 " wakeups, %" PRIu64 " calls\n",
	    fo.wakeups, fo.calls);
	ck_assert_uint_ge(fo.calls, 3);	/* lines may fold under load */
	ck_assert_uint_le(fo.wakeups, 30);
	follow_close(&fo);
	journal_reader_close(&f.rd);
	ev_loop_destroy(f.loop);
}
END_TEST

static Suite *
runner_suite(void)
{
	Suite	*s = suite_create("runner");
	TCase	*tc;

	tc = tcase_create("runner");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, test_runner_lines);
	tcase_add_test(tc, test_runner_exit_zero_and_signals);
	tcase_add_test(tc, test_runner_long_lines);
	tcase_add_test(tc, test_runner_exec_fails);
	tcase_add_test(tc, test_runner_survives_agent);
	tcase_add_test(tc, test_runner_killed);
	tcase_add_test(tc, test_runner_killed_quiet);
	tcase_add_test(tc, test_runner_lock_race);
	tcase_add_test(tc, test_runner_sigterm);
	tcase_add_test(tc, test_runner_sigusr1);
	tcase_add_test(tc, test_runner_drain);
	tcase_add_test(tc, test_runner_plan_timeout_log);
	tcase_add_test(tc, test_runner_follow);
	tcase_add_test(tc, test_runner_launch_systemd);
	tcase_add_test(tc, test_runner_launch_fails);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tl_run(runner_suite());
}
