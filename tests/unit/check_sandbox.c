/*
 * check_sandbox.c: what the net-worker can no longer do once
 * net_sandbox() returns.  Each case runs in a child process, because the
 * sandbox cannot be undone.  A forbidden call must kill the child by
 * SIGSYS after one report line naming the call, which the supervisor's
 * own functions (worker.c) must turn into the call's name.  The chroot,
 * the user switch and the same-uid victims need root; CI runs as root;
 * without root those cases fail rather than pass empty.
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/io_uring.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/random.h>

#include "log.h"
#include "net.h"
#include "proto.h"
#include "supervisor.h"
#include "testlib.h"

/* The sandbox every child applies: set by each test before forking. */
static const char	*sb_root;
static id_t		 sb_id = 65534;
static pid_t		 sb_victim;	/* a process with the sandbox's uid */

#define EXPECT(cond)	do { if (!(cond)) _exit(__LINE__ % 250 + 1); } while (0)

static void
sb_apply(void)
{
	log_init(LOG_LVL_ERROR, 1);
	net_sandbox(sb_id, sb_id, sb_root, 0);
}

/* Run fn in a sandboxed child; its wait status, its stderr in out. */
static int
sb_run(void (*fn)(void), char *out, size_t size)
{
	int	 p[2], status;
	size_t	 len = 0;
	ssize_t	 n;
	pid_t	 pid;

	ck_assert_int_eq(pipe(p), 0);
	if ((pid = fork()) == 0) {
		alarm(10);
		close(p[0]);
		dup2(p[1], STDERR_FILENO);
		sb_apply();
		fn();
		_exit(0);
	}
	ck_assert_int_ne(pid, -1);
	close(p[1]);
	while (len < size - 1 && (n = read(p[0], out + len,
	    size - 1 - len)) > 0)
		len += n;
	out[len] = '\0';
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

/* A process of the sandbox's uid that only waits, to be aimed at. */
static pid_t
sb_victim_start(void)
{
	pid_t	 pid;

	if ((pid = fork()) == 0) {
		alarm(20);
		if (setresgid(sb_id, sb_id, sb_id) == -1 ||
		    setresuid(sb_id, sb_id, sb_id) == -1)
			_exit(3);
		for (;;)
			pause();
	}
	ck_assert_int_ne(pid, -1);
	return pid;
}

/* Until pid's real uid is id (it switches after the fork). */
static void
sb_victim_wait(pid_t pid, id_t id)
{
	char		 path[64], line[256];
	unsigned long	 uid;
	FILE		*fp;
	int		 i;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	for (i = 0; i < 500; i++) {
		ck_assert_ptr_nonnull(fp = fopen(path, "r"));
		uid = (unsigned long)-1;
		while (fgets(line, sizeof(line), fp) != NULL)
			if (sscanf(line, "Uid: %lu", &uid) == 1)
				break;
		fclose(fp);
		if (uid == (unsigned long)id)
			return;
		usleep(10000);
	}
	ck_abort_msg("pid %d never took uid %u", (int)pid, (unsigned)id);
}

static void
sb_victim_stop(pid_t pid)
{
	int	 status;

	/* Still there: nothing the sandboxed child did reached it. */
	ck_assert_int_eq(waitpid(pid, &status, WNOHANG), 0);
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
}

/* ---------------------------------------------------- forbidden calls */

static void
f_io_uring(void)
{
	struct io_uring_params	 p;

	memset(&p, 0, sizeof(p));
	syscall(__NR_io_uring_setup, 8, &p);
}

static void f_socket_inet(void) { socket(AF_INET, SOCK_STREAM, 0); }
static void f_socket_unix(void) { socket(AF_UNIX, SOCK_STREAM, 0); }
static void f_open(void) { open("/etc/passwd", O_RDONLY); }
static void f_creat(void) { open("/tmp/x", O_WRONLY | O_CREAT, 0600); }
static void f_fork(void) { fork(); }
static void f_clone3(void) { syscall(__NR_clone3, NULL, 0); }
static void f_setuid(void) { setuid(0); }
static void f_kill(void) { kill(sb_victim, SIGKILL); }
static void f_setpriority(void) { setpriority(PRIO_PROCESS, sb_victim, 19); }
static void f_ptrace(void) { ptrace(PTRACE_ATTACH, sb_victim, 0, 0); }
static void f_fcntl_dup(void) { fcntl(0, F_DUPFD, 0); }
static void f_signal(void) { signal(SIGSYS, SIG_IGN); }

static void
f_execve(void)
{
	char	*argv[] = { "/bin/true", NULL };

	execve(argv[0], argv, NULL);
}

static void
f_pidfd_signal(void)
{
	/* pidfd_open itself is off the list: the first trap names it. */
	int	 fd = syscall(__NR_pidfd_open, sb_victim, 0);

	syscall(__NR_pidfd_send_signal, fd, SIGKILL, NULL, 0);
}

static void
f_prlimit(void)
{
	struct rlimit	 rl = { 0, 0 };

	prlimit(sb_victim, RLIMIT_NOFILE, &rl, NULL);
}

static void
f_prlimit_self_set(void)
{
	struct rlimit	 rl = { 1 << 20, 1 << 20 };

	setrlimit(RLIMIT_NOFILE, &rl);
}

static void
f_tgkill(void)
{
	syscall(__NR_tgkill, sb_victim, sb_victim, SIGKILL);
}

static void
f_mmap_exec(void)
{
	mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
	    -1, 0);
}

static void
f_mprotect_exec(void)
{
	static char	 page[8192] __attribute__((aligned(4096)));

	mprotect(page, 4096, PROT_READ | PROT_EXEC);
}

struct forbidden {
	const char	*what;
	void		(*fn)(void);
	long		 nr;		/* the call the report must name */
	const char	*name;		/* and its name */
	int		 victim;	/* needs a same-uid process */
};

static const struct forbidden forbidden[] = {
	{ "io_uring", f_io_uring, __NR_io_uring_setup, "io_uring_setup", 0 },
	{ "socket inet", f_socket_inet, __NR_socket, "socket", 0 },
	{ "socket unix", f_socket_unix, __NR_socket, "socket", 0 },
	{ "open", f_open, __NR_openat, "openat", 0 },
	{ "create", f_creat, __NR_openat, "openat", 0 },
	{ "execve", f_execve, __NR_execve, "execve", 0 },
	{ "fork", f_fork, __NR_clone, "clone", 0 },
	{ "clone3", f_clone3, __NR_clone3, "clone3", 0 },
	{ "setuid", f_setuid, __NR_setuid, "setuid", 0 },
	{ "kill", f_kill, __NR_kill, "kill", 1 },
	{ "pidfd", f_pidfd_signal, __NR_pidfd_open, "pidfd_open", 1 },
	{ "prlimit other", f_prlimit, __NR_prlimit64, "prlimit64", 1 },
	{ "prlimit set", f_prlimit_self_set, __NR_prlimit64, "prlimit64", 0 },
	{ "setpriority", f_setpriority, __NR_setpriority, "setpriority", 1 },
	{ "ptrace", f_ptrace, __NR_ptrace, "ptrace", 1 },
	{ "tgkill other", f_tgkill, __NR_tgkill, "tgkill", 1 },
	{ "mmap exec", f_mmap_exec, __NR_mmap, "mmap", 0 },
	{ "mprotect exec", f_mprotect_exec, __NR_mprotect, "mprotect", 0 },
	{ "fcntl dupfd", f_fcntl_dup, __NR_fcntl, "fcntl", 0 },
	{ "sigaction", f_signal, __NR_rt_sigaction, "rt_sigaction", 0 },
};

static void
check_forbidden(const struct forbidden *f)
{
	char		 out[4096], why[256], *line, *save;
	long		 nr = -1;
	uint32_t	 arch = 0;
	int		 status, lines = 0;

	sb_victim = getpid();
	if (f->victim) {
		sb_victim = sb_victim_start();
		sb_victim_wait(sb_victim, sb_id);
	}
	status = sb_run(f->fn, out, sizeof(out));
	if (f->victim)
		sb_victim_stop(sb_victim);
#if SECCOMP_DEBUG
	/* -Dseccomp_debug=true: allowed, and left to the kernel's log. */
	ck_assert_msg(!WIFSIGNALED(status) || WTERMSIG(status) != SIGSYS,
	    "%s: killed in a debug build: %s", f->what, out);
	return;
#endif
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS,
	    "%s: child not killed by SIGSYS (status 0x%x): %s", f->what,
	    status, out);
	/* One report line, read as the supervisor reads it. */
	for (line = strtok_r(out, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		if (worker_sigsys_parse(line, &nr, &arch))
			lines++;
	ck_assert_msg(lines == 1, "%s: %d report lines", f->what, lines);
	ck_assert_msg(nr == f->nr, "%s: reported %ld, not %ld", f->what, nr,
	    f->nr);
	worker_death_reason("net-worker", 42, status, nr, arch, why,
	    sizeof(why));
	ck_assert_msg(strstr(why, "killed by its sandbox") != NULL &&
	    strstr(why, f->name) != NULL, "%s: %s", f->what, why);
}

START_TEST(test_forbidden_unprivileged)
{
	const struct forbidden	*f = &forbidden[_i];

	sb_root = NULL;
	if (f->victim)
		return;		/* the root case aims at a same-uid process */
	check_forbidden(f);
}
END_TEST

START_TEST(test_forbidden_root)
{
	char	*dir = tl_mkdtemp();
	id_t	 id;

	ck_assert_msg(geteuid() == 0, "the chroot case needs root");
	ck_assert_int_eq(chmod(dir, 0755), 0);
	ck_assert_int_eq(worker_pick_free_id(WORKER_NET_ID_BASE,
	    WORKER_NET_ID_COUNT, 0, &id), 0);
	sb_root = dir;
	sb_id = id;
	check_forbidden(&forbidden[_i]);
	tl_rmtree(dir);
	free(dir);
}
END_TEST

/* ------------------------------------------------ what still works */

static int	 sb_sp[2];	/* a socketpair made before, as the channels */
static int	 sb_abi;	/* the kernel's Landlock ABI, probed before */

static void
allowed(void)
{
	struct rlimit	 rl;
	struct timespec	 ts;
	char		 b[16], *m;
	int		*sp = sb_sp;

	/* What the worker needs: its descriptors, memory, time, entropy. */
	EXPECT(write(STDOUT_FILENO, "", 0) == 0);
	EXPECT((m = malloc(8 << 20)) != NULL);
	memset(m, 1, 8 << 20);
	free(m);
	EXPECT(mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0) != MAP_FAILED);
	EXPECT(clock_gettime(CLOCK_MONOTONIC, &ts) == 0);
	EXPECT(getrandom(b, sizeof(b), 0) == sizeof(b));
	EXPECT(fcntl(sp[0], F_SETFL, O_NONBLOCK) == 0);
	EXPECT(write(sp[0], "x", 1) == 1 && read(sp[1], b, 1) == 1);
	/* Its own limits, readable. */
	EXPECT(getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_max == 0);
	EXPECT(getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_max == 0);
	EXPECT(getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max == NET_NOFILE);
#ifndef NET_SANITIZER
	EXPECT(getrlimit(RLIMIT_DATA, &rl) == 0 &&
	    rl.rlim_max == NET_DATA_BASE + NET_DATA_CA_FACTOR * IPC_CA_MAX +
	    NET_DATA_QUEUE_FACTOR * NET_HIGHWATER +
	    NET_DATA_MSG_FACTOR * NET_MAX_MSG_DEFAULT);
	/* More than the limit: malloc fails, the process lives. */
	EXPECT(malloc((size_t)rl.rlim_max) == NULL);
#endif
	EXPECT(strstr(net_sandbox_level(), SECCOMP_DEBUG ?
	    "seccomp(allow-list, log only: debug build)" :
	    "seccomp(allow-list, kill)") != NULL);
	snprintf(b, sizeof(b), "landlock abi %d", sb_abi);
	EXPECT(strstr(net_sandbox_level(), sb_abi > 0 ? b : "no landlock") !=
	    NULL);
}

START_TEST(test_allowed)
{
	char	 out[4096];
	int	*sp = sb_sp, status;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	sb_abi = sandbox_landlock_abi();
	sb_root = NULL;
	status = sb_run(allowed, out, sizeof(out));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "status 0x%x: %s", status, out);
	close(sp[0]);
	close(sp[1]);
}
END_TEST

/* ------------------------------ the sandboxed process, seen from outside */

static int	 sb_hold[2];

static void
hold(void)
{
	char	 c;

	/* Tell the parent we are sandboxed, then wait to be looked at. */
	EXPECT(write(sb_hold[1], "r", 1) == 1);
	EXPECT(read(sb_hold[0], &c, 1) >= 0);
}

static char *
proc_field(pid_t pid, const char *file, const char *key, char *buf,
    size_t size)
{
	char	 path[64], line[512];
	FILE	*fp;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	ck_assert_ptr_nonnull(fp = fopen(path, "r"));
	buf[0] = '\0';
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, key, strlen(key)) == 0) {
			strlcpy(buf, line + strlen(key), size);
			buf[strcspn(buf, "\n")] = '\0';
			break;
		}
	fclose(fp);
	return buf + strspn(buf, " \t");
}

START_TEST(test_state)
{
	char	*dir = tl_mkdtemp(), buf[256], idbuf[64], c;
	int	 to[2], from[2], status;
	id_t	 id;
	pid_t	 pid;

	ck_assert_msg(geteuid() == 0, "the user switch needs root");
	ck_assert_int_eq(chmod(dir, 0755), 0);
	ck_assert_int_eq(worker_pick_free_id(WORKER_NET_ID_BASE,
	    WORKER_NET_ID_COUNT, 0, &id), 0);
	sb_root = dir;
	sb_id = id;
	ck_assert_int_eq(pipe(to), 0);
	ck_assert_int_eq(pipe(from), 0);
	if ((pid = fork()) == 0) {
		alarm(10);
		sb_hold[0] = to[0];
		sb_hold[1] = from[1];
		sb_apply();
		hold();
		_exit(0);
	}
	ck_assert_int_eq(read(from[0], &c, 1), 1);
	snprintf(idbuf, sizeof(idbuf), "%u\t%u\t%u\t%u", (unsigned)id,
	    (unsigned)id, (unsigned)id, (unsigned)id);
	ck_assert_str_eq(proc_field(pid, "status", "Uid:", buf, sizeof(buf)),
	    idbuf);
	ck_assert_str_eq(proc_field(pid, "status", "Gid:", buf, sizeof(buf)),
	    idbuf);
	/* The one supplementary group is its own. */
	ck_assert_uint_eq(strtoul(proc_field(pid, "status", "Groups:", buf,
	    sizeof(buf)), NULL, 10), id);
	ck_assert_str_eq(proc_field(pid, "status", "CapBnd:", buf,
	    sizeof(buf)), "0000000000000000");
	ck_assert_str_eq(proc_field(pid, "status", "CapPrm:", buf,
	    sizeof(buf)), "0000000000000000");
	ck_assert_str_eq(proc_field(pid, "status", "CapEff:", buf,
	    sizeof(buf)), "0000000000000000");
	ck_assert_str_eq(proc_field(pid, "status", "CapAmb:", buf,
	    sizeof(buf)), "0000000000000000");
	ck_assert_str_eq(proc_field(pid, "status", "NoNewPrivs:", buf,
	    sizeof(buf)), "1");
	ck_assert_str_eq(proc_field(pid, "status", "Seccomp:", buf,
	    sizeof(buf)), "2");
	ck_assert_ptr_nonnull(strstr(proc_field(pid, "limits",
	    "Max open files", buf, sizeof(buf)), "16                   16 "));
	ck_assert_ptr_nonnull(strstr(proc_field(pid, "limits",
	    "Max processes", buf, sizeof(buf)), "0                    0"));
	/* Nobody else has the id (the sandboxed child is the only one). */
	ck_assert_int_eq(worker_id_in_use(id, pid), 0);
	ck_assert_int_eq(worker_id_in_use(id, 0), pid);
	ck_assert_int_eq(write(to[1], "g", 1), 1);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "status 0x%x", status);
	close(to[0]);
	close(to[1]);
	close(from[0]);
	close(from[1]);
	tl_rmtree(dir);
	free(dir);
}
END_TEST

/* ------------------------------------------ Landlock, on its own */

static void
landlock_only(void)
{
	struct sockaddr_in	 sin;
	char			 buf[128];
	int			 abi = sandbox_landlock_abi(), s, l;
	socklen_t		 sl = sizeof(sin);

	/* A listener made before, a socket to aim at it after. */
	EXPECT((l = socket(AF_INET, SOCK_STREAM, 0)) != -1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	EXPECT(bind(l, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	EXPECT(listen(l, 1) == 0);
	EXPECT(getsockname(l, (struct sockaddr *)&sin, &sl) == 0);
	EXPECT((s = socket(AF_INET, SOCK_STREAM, 0)) != -1);
	EXPECT(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
	sandbox_landlock(buf, sizeof(buf));
	if (abi == 0) {
		EXPECT(strstr(buf, "no landlock") != NULL);
		return;
	}
	EXPECT(strstr(buf, "landlock abi") != NULL);
	errno = 0;
	EXPECT(open("/etc/passwd", O_RDONLY) == -1 && errno == EACCES);
	EXPECT(open("/tmp", O_RDONLY | O_DIRECTORY) == -1 && errno == EACCES);
	EXPECT(mkdir("/tmp/nfa-landlock-test", 0700) == -1 &&
	    errno == EACCES);
	if (abi >= 4)
		EXPECT(connect(s, (struct sockaddr *)&sin, sizeof(sin)) == -1 &&
		    errno == EACCES);
	if (abi >= 6)
		EXPECT(kill(sb_victim, 0) == -1 && errno == EPERM);
}

START_TEST(test_landlock)
{
	int	 status;
	pid_t	 pid;

	ck_assert_msg(geteuid() == 0, "the same-uid victim needs root");
	sb_id = 0;	/* the victim has our own uid: only Landlock stops us */
	sb_victim = sb_victim_start();
	if ((pid = fork()) == 0) {
		alarm(10);
		landlock_only();
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	sb_victim_stop(sb_victim);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "failed at line %d", WEXITSTATUS(status));
	sb_id = 65534;
}
END_TEST

/* ------------------------------------------------- identity */

/* The free id is free of users, groups and processes. */
START_TEST(test_free_id)
{
	id_t	 id, next;
	pid_t	 victim;

	ck_assert_msg(geteuid() == 0, "a process of that uid needs root");
	/*
	 * Two free ids in a row: other agents on this machine (tests run
	 * side by side) hold ids of the range too.
	 */
	id = WORKER_NET_ID_BASE;
	for (int tries = 0; tries < 100; tries++, id++) {
		ck_assert_int_eq(worker_pick_free_id(id, WORKER_NET_ID_BASE +
		    WORKER_NET_ID_COUNT - id, 0, &id), 0);
		if (worker_id_in_use(id + 1, 0) == 0 &&
		    getpwuid(id + 1) == NULL && getgrgid(id + 1) == NULL)
			break;
	}
	ck_assert_uint_ge(id, WORKER_NET_ID_BASE);
	ck_assert_ptr_null(getpwuid(id));
	ck_assert_ptr_null(getgrgid(id));
	ck_assert_int_eq(worker_id_in_use(id, 0), 0);
	/* A process takes it: it is no longer free, the next one is. */
	sb_id = id;
	victim = sb_victim_start();
	sb_victim_wait(victim, id);
	ck_assert_int_eq(worker_id_in_use(id, 0), victim);
	ck_assert_int_eq(worker_pick_free_id(id, 2, 0, &next), 0);
	ck_assert_uint_eq(next, id + 1);
	/* ... unless it is the one process to leave out (our net-worker). */
	ck_assert_int_eq(worker_pick_free_id(id, 2, victim, &next), 0);
	ck_assert_uint_eq(next, id);
	ck_assert_int_eq(worker_pick_free_id(id, 1, 0, &next), -1);
	sb_victim_stop(victim);
	sb_id = 65534;
	/* Users and groups count too: uid 0 and gid 0 are never free. */
	ck_assert_int_eq(worker_pick_free_id(0, 1, 0, &next), -1);
}
END_TEST

/* The supervisor's choice, from the configuration as it loads it. */
static int
identity(struct sup *s, const char *netuser)
{
	struct config_args	 a;
	char			 user[128];
	const char		*env[] = { "NIXFLEET_URL=wss://fleet.example/ws",
		"NIXFLEET_TOKEN=t", "NIXFLEET_REPO_URL=git@example.com:f.git",
		"STATE_DIRECTORY=/var/lib/nfa-test", NULL, NULL };
	FILE			*err;
	char			*dir = tl_mkdtemp();

	/* The default file is ./agent-config.json: start where none is. */
	ck_assert_int_eq(chdir(dir), 0);
	if (netuser != NULL) {
		snprintf(user, sizeof(user), "NIXFLEET_NET_USER=%s", netuser);
		env[4] = user;
	}
	memset(&a, 0, sizeof(a));
	ck_assert_ptr_nonnull(err = fopen("/dev/null", "w"));
	config_free(&s->cfg);
	ck_assert_int_eq(config_load(&s->cfg, &a, (char *const *)env, err), 0);
	fclose(err);
	(void)!chdir("/");
	tl_rmtree(dir);
	free(dir);
	return worker_net_identity(s);
}

START_TEST(test_identity)
{
	struct sup	 s;
	uid_t		 first;
	pid_t		 victim;

	ck_assert_msg(geteuid() == 0, "a process of that uid needs root");
	ck_assert_msg(getpwnam("nixfleet-agent") == NULL, "this case needs "
	    "the default netUser not to exist");
	log_init(LOG_LVL_ERROR, 0);
	memset(&s, 0, sizeof(s));
	/* Configured: it must exist, not be root, run nothing else. */
	ck_assert_int_eq(identity(&s, "nfa-no-such-user"), -1);
	ck_assert_int_eq(identity(&s, "root"), -1);
	sb_id = 65534;
	victim = sb_victim_start();
	sb_victim_wait(victim, 65534);
	ck_assert_int_eq(identity(&s, "nobody"), -1);	/* the shared one */
	sb_victim_stop(victim);
	/* Not configured and missing: a free id, not nobody. */
	ck_assert_int_eq(identity(&s, NULL), 0);
	ck_assert(s.net_id_free);
	ck_assert_uint_eq(s.net_uid, s.net_gid);
	ck_assert_uint_ge(s.net_uid, WORKER_NET_ID_BASE);
	ck_assert_uint_lt(s.net_uid, WORKER_NET_ID_BASE + WORKER_NET_ID_COUNT);
	first = s.net_uid;
	/* A reload keeps it while our own net-worker is what has it... */
	sb_id = first;
	victim = sb_victim_start();
	sb_victim_wait(victim, first);
	s.w[W_NET].pid = victim;
	ck_assert_int_eq(identity(&s, NULL), 0);
	ck_assert_uint_eq(s.net_uid, first);
	/* ... and moves on when another process took it. */
	s.w[W_NET].pid = 0;
	ck_assert_int_eq(identity(&s, NULL), 0);
	ck_assert_uint_ne(s.net_uid, first);
	sb_victim_stop(victim);
	config_free(&s.cfg);
}
END_TEST

/* ------------------------------------------------- the privsep dir */

static void
bad_root(void)
{
	_exit(0);	/* must not get here */
}

/* A root directory others may write is refused before anything else. */
START_TEST(test_sandbox_bad_privsep_dir)
{
	char	*dir = tl_mkdtemp(), out[4096];
	int	 status;

	ck_assert_int_eq(chmod(dir, 0777), 0);
	sb_root = dir;
	status = sb_run(bad_root, out, sizeof(out));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	ck_assert_int_eq(chmod(dir, 0755), 0);
	sb_root = "/nonexistent/empty";
	status = sb_run(bad_root, out, sizeof(out));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	tl_rmtree(dir);
	free(dir);
}
END_TEST

/* ------------------------------------------------- the report */

START_TEST(test_report_parse)
{
	long		 nr;
	uint32_t	 arch;
	char		 why[256];

	ck_assert(worker_sigsys_parse("<3>net: " IPC_SIGSYS_LINE
	    "41 arch 0xc000003e", &nr, &arch));
	ck_assert_int_eq(nr, 41);
	ck_assert_uint_eq(arch, 0xc000003e);
	ck_assert(!worker_sigsys_parse("<3>net: " IPC_SIGSYS_LINE "x", &nr,
	    &arch));
	ck_assert(!worker_sigsys_parse("<3>net: " IPC_SIGSYS_LINE
	    "41 arch 0xc000003e trailing", &nr, &arch));
	ck_assert(!worker_sigsys_parse("<6>net: connected", &nr, &arch));
	/* No report: still said to be the sandbox, not a crash. */
	worker_death_reason("net-worker", 7, SIGSYS, -1, 0, why, sizeof(why));
	ck_assert_ptr_nonnull(strstr(why, "killed by its sandbox"));
	worker_death_reason("net-worker", 7, SIGSEGV, -1, 0, why, sizeof(why));
	ck_assert_str_eq(why, "net-worker (pid 7) killed by signal 11");
}
END_TEST

static Suite *
sandbox_suite(void)
{
	Suite	*s = suite_create("sandbox");
	TCase	*tc;
	int	 n = (int)nitems(forbidden);

	tc = tcase_create("forbidden_unprivileged");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_forbidden_unprivileged, 0, n);
	suite_add_tcase(s, tc);
	tc = tcase_create("forbidden_root");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_forbidden_root, 0, n);
	suite_add_tcase(s, tc);
	tc = tcase_create("allowed");
	tcase_add_test(tc, test_allowed);
	suite_add_tcase(s, tc);
	tc = tcase_create("state");
	tcase_add_test(tc, test_state);
	suite_add_tcase(s, tc);
	tc = tcase_create("landlock");
	tcase_add_test(tc, test_landlock);
	suite_add_tcase(s, tc);
	tc = tcase_create("free_id");
	tcase_add_test(tc, test_free_id);
	suite_add_tcase(s, tc);
	tc = tcase_create("identity");
	tcase_add_test(tc, test_identity);
	suite_add_tcase(s, tc);
	tc = tcase_create("bad_privsep_dir");
	tcase_add_test(tc, test_sandbox_bad_privsep_dir);
	suite_add_tcase(s, tc);
	tc = tcase_create("report");
	tcase_add_test(tc, test_report_parse);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tl_run(sandbox_suite());
}
