/*
 * check_facts.c: host facts (nixfleet-protocol.md §3) against real git
 * repositories made by the git command, and files in temp directories.
 */
#include <sys/stat.h>
#include <sys/time.h>

#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "facts.h"
#include "testlib.h"

#define GIT	"git -c user.name=t -c user.email=t@t -c init.defaultBranch=main"

static const char *const abc_sha256 =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
static const char *const empty_sha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
static const char *const million_a_sha256 =
    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

/* ---------------------------------------------------------------- */
/* helpers */

static int
run(const char *fmt, ...)
{
	va_list	 ap;
	char	*cmd;
	int	 rc, n;

	va_start(ap, fmt);
	n = vasprintf(&cmd, fmt, ap);
	va_end(ap);
	ck_assert_int_ne(n, -1);
	rc = system(cmd);
	free(cmd);
	return rc;
}

#define SH(...)	ck_assert_int_eq(run(__VA_ARGS__), 0)

/* First line of a command's output, trimmed; the command must succeed. */
static void
capture(char *buf, size_t size, const char *fmt, ...)
{
	va_list	 ap;
	char	*cmd;
	FILE	*fp;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(&cmd, fmt, ap);
	va_end(ap);
	ck_assert_int_ne(n, -1);
	fp = popen(cmd, "r");
	ck_assert_ptr_nonnull(fp);
	buf[0] = '\0';
	if (fgets(buf, (int)size, fp) == NULL)
		buf[0] = '\0';
	ck_assert_msg(pclose(fp) == 0, "%s failed", cmd);
	buf[strcspn(buf, "\r\n")] = '\0';
	free(cmd);
}

/* The first 7 characters of what git itself says rev is. */
static void
git_short(const char *repo, const char *rev, char out[8])
{
	char	 full[128];

	capture(full, sizeof(full), GIT " -C '%s' rev-parse '%s'", repo, rev);
	ck_assert_msg(strlen(full) == 40 || strlen(full) == 64, "%s", full);
	memcpy(out, full, 7);
	out[7] = '\0';
}

/* A repository on branch main with n commits. */
static char *
mkrepo(const char *dir, const char *name, int commits)
{
	char	*repo = tl_path(dir, name);
	int	 i;

	SH(GIT " init -q -b main '%s'", repo);
	for (i = 0; i < commits; i++)
		SH("echo %d > '%s/f' && " GIT " -C '%s' add f && "
		    GIT " -C '%s' commit -q -m c%d", i, repo, repo, repo, i);
	return repo;
}

static void
write_at(const char *dir, const char *name, const char *data)
{
	char	*p = tl_path(dir, name);

	tl_write_file(p, data, 0644);
	free(p);
}

static int
exists(const char *dir, const char *name)
{
	char	*p = tl_path(dir, name);
	int	 rc;

	rc = access(p, F_OK) == 0;
	free(p);
	return rc;
}

/* Expect "" and -1, whatever out held before. */
static void
assert_no_generation(const char *repo)
{
	char	 out[8];

	memcpy(out, "zzzzzzz", 8);
	ck_assert_int_eq(facts_generation(repo, out), -1);
	ck_assert_str_eq(out, "");
}

static void
assert_generation(const char *repo, const char *want)
{
	char	 out[8];

	memcpy(out, "zzzzzzz", 8);
	ck_assert_int_eq(facts_generation(repo, out), 0);
	ck_assert_str_eq(out, want);
}

static void
set_age(const char *dir, const char *name, int seconds)
{
	struct timeval	 tv[2];
	char		*p = tl_path(dir, name);

	ck_assert_int_eq(gettimeofday(&tv[0], NULL), 0);
	tv[0].tv_sec -= seconds;
	tv[1] = tv[0];
	ck_assert_int_eq(utimes(p, tv), 0);
	free(p);
}

static void
write_stasysmo(const char *dir, const char *cpu, const char *ram,
    const char *swap, const char *load)
{
	write_at(dir, "cpu", cpu);
	write_at(dir, "ram", ram);
	write_at(dir, "swap", swap);
	write_at(dir, "load", load);
}

static void
assert_metrics(const int32_t *m, int32_t cpu, int32_t ram, int32_t swap,
    int32_t load)
{
	ck_assert_int_eq(m[FACTS_CPU], cpu);
	ck_assert_int_eq(m[FACTS_RAM], ram);
	ck_assert_int_eq(m[FACTS_SWAP], swap);
	ck_assert_int_eq(m[FACTS_LOAD], load);
}

static void
assert_native_range(const int32_t *m)
{
	int	 i;

	for (i = FACTS_CPU; i <= FACTS_SWAP; i++) {
		ck_assert_int_ge(m[i], 0);
		ck_assert_int_le(m[i], 100000);
	}
	ck_assert_int_ge(m[FACTS_LOAD], 0);
	/* Rounded to one decimal: whole hundreds of thousandths. */
	for (i = 0; i < FACTS_NMETRICS; i++)
		ck_assert_int_eq(m[i] % 100, 0);
}

static uint64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#define STR_TERMINATED(f)	(memchr((f), '\0', sizeof(f)) != NULL)

static void
assert_terminated(const struct ipc_facts *out)
{
	ck_assert(STR_TERMINATED(out->hostname));
	ck_assert(STR_TERMINATED(out->host_type));
	ck_assert(STR_TERMINATED(out->os_version));
	ck_assert(STR_TERMINATED(out->nixpkgs_version));
	ck_assert(STR_TERMINATED(out->generation));
	ck_assert(STR_TERMINATED(out->repo_dir));
	ck_assert(STR_TERMINATED(out->store_path));
	ck_assert(STR_TERMINATED(out->binary_hash));
	ck_assert(STR_TERMINATED(out->source_commit));
	ck_assert(STR_TERMINATED(out->lock_hash));
	ck_assert_uint_eq(out->pad, 0);
}

/* ---------------------------------------------------------------- */
/* §3.3 generation */

START_TEST(test_facts_generation_loose)
{
	char	*tmp = tl_mkdtemp(), *repo, want[8];

	repo = mkrepo(tmp, "repo", 1);
	ck_assert(exists(repo, ".git/refs/heads/main"));
	git_short(repo, "HEAD", want);
	assert_generation(repo, want);

	/* Re-read each time: a new commit is seen at once. */
	SH("echo new > '%s/g' && " GIT " -C '%s' add g && "
	    GIT " -C '%s' commit -q -m c2", repo, repo, repo);
	git_short(repo, "HEAD", want);
	assert_generation(repo, want);
	free(repo);
	tl_rmtree(tmp);
	free(tmp);
}
END_TEST

START_TEST(test_facts_generation_packed)
{
	char	*tmp = tl_mkdtemp(), *repo, want[8], peeled[8];

	repo = mkrepo(tmp, "repo", 2);
	/* An annotated tag puts a "^" peeled line into packed-refs. */
	SH(GIT " -C '%s' tag -a v1 -m v1 HEAD~1", repo);
	SH(GIT " -C '%s' pack-refs --all", repo);
	ck_assert(!exists(repo, ".git/refs/heads/main"));
	ck_assert(!exists(repo, ".git/refs/tags/v1"));
	SH("grep -q '^\\^' '%s/.git/packed-refs'", repo);
	SH("grep -q '^# pack-refs' '%s/.git/packed-refs'", repo);
	git_short(repo, "HEAD", want);
	assert_generation(repo, want);

	/* HEAD at the packed tag: the tag object, not its "^" line. */
	git_short(repo, "refs/tags/v1", want);
	git_short(repo, "v1^{commit}", peeled);
	ck_assert_str_ne(peeled, want);
	write_at(repo, ".git/HEAD", "ref: refs/tags/v1\n");
	assert_generation(repo, want);
	free(repo);
	tl_rmtree(tmp);
	free(tmp);
}
END_TEST

START_TEST(test_facts_generation_worktree)
{
	char		*tmp = tl_mkdtemp(), *repo, *wt, want[8], mainh[8];
	struct stat	 st;

	repo = mkrepo(tmp, "repo", 2);
	wt = tl_path(tmp, "wt");
	SH(GIT " -C '%s' worktree add -q -b feature '%s'", repo, wt);
	SH("echo wt > '%s/h' && " GIT " -C '%s' add h && "
	    GIT " -C '%s' commit -q -m w1", wt, wt, wt);
	ck_assert(exists(repo, ".git/worktrees/wt/commondir"));
	{
		char	*dotgit = tl_path(wt, ".git");

		ck_assert_int_eq(stat(dotgit, &st), 0);
		ck_assert(S_ISREG(st.st_mode));
		free(dotgit);
	}
	git_short(wt, "HEAD", want);
	git_short(repo, "HEAD", mainh);
	ck_assert_str_ne(want, mainh);
	assert_generation(wt, want);
	assert_generation(repo, mainh);

	/* The branch now lives only in the common dir's packed-refs. */
	SH(GIT " -C '%s' pack-refs --all", repo);
	ck_assert(!exists(repo, ".git/refs/heads/feature"));
	assert_generation(wt, want);

	/* A relative gitdir (as submodules write) is relative to the tree. */
	write_at(wt, ".git", "gitdir: ../repo/.git/worktrees/wt\n");
	assert_generation(wt, want);

	/* A detached HEAD is per worktree. */
	SH(GIT " -C '%s' checkout -q --detach HEAD~1", wt);
	git_short(wt, "HEAD", want);
	assert_generation(wt, want);
	assert_generation(repo, mainh);
	free(wt);
	free(repo);
	tl_rmtree(tmp);
	free(tmp);
}
END_TEST

START_TEST(test_facts_generation_detached)
{
	char	*tmp = tl_mkdtemp(), *repo, want[8], head[128];

	repo = mkrepo(tmp, "repo", 2);
	SH(GIT " -C '%s' checkout -q --detach HEAD~1", repo);
	capture(head, sizeof(head), "cat '%s/.git/HEAD'", repo);
	ck_assert_uint_eq(strlen(head), 40);
	git_short(repo, "HEAD", want);
	assert_generation(repo, want);

	/* Uppercase hex is accepted and reported lowercase. */
	write_at(repo, ".git/HEAD",
	    "ABCDEF0123456789ABCDEF0123456789ABCDEF01\n");
	assert_generation(repo, "abcdef0");
	free(repo);
	tl_rmtree(tmp);
	free(tmp);
}
END_TEST

START_TEST(test_facts_generation_symref)
{
	char	*tmp = tl_mkdtemp(), *repo, want[8];

	repo = mkrepo(tmp, "repo", 1);
	git_short(repo, "main", want);
	SH(GIT " -C '%s' symbolic-ref refs/heads/alias refs/heads/main", repo);
	SH(GIT " -C '%s' symbolic-ref refs/heads/alias2 refs/heads/alias",
	    repo);
	SH(GIT " -C '%s' symbolic-ref HEAD refs/heads/alias2", repo);
	assert_generation(repo, want);
	/* Symbolic refs stay loose; their target moves to packed-refs. */
	SH(GIT " -C '%s' pack-refs --all", repo);
	ck_assert(!exists(repo, ".git/refs/heads/main"));
	assert_generation(repo, want);

	/* Five levels are followed (HEAD -> l1 .. l4 -> main) ... */
	write_at(repo, ".git/refs/heads/l4", "ref: refs/heads/main\n");
	write_at(repo, ".git/refs/heads/l3", "ref: refs/heads/l4\n");
	write_at(repo, ".git/refs/heads/l2", "ref: refs/heads/l3\n");
	write_at(repo, ".git/refs/heads/l1", "ref: refs/heads/l2\n");
	write_at(repo, ".git/HEAD", "ref: refs/heads/l1\n");
	assert_generation(repo, want);
	/* ... and a sixth is not. */
	write_at(repo, ".git/refs/heads/l0", "ref: refs/heads/l1\n");
	write_at(repo, ".git/HEAD", "ref: refs/heads/l0\n");
	assert_no_generation(repo);

	/* A loop ends at the depth limit. */
	write_at(repo, ".git/refs/heads/a", "ref: refs/heads/b\n");
	write_at(repo, ".git/refs/heads/b", "ref: refs/heads/a\n");
	write_at(repo, ".git/HEAD", "ref: refs/heads/a\n");
	assert_no_generation(repo);
	free(repo);
	tl_rmtree(tmp);
	free(tmp);
}
END_TEST

START_TEST(test_facts_generation_unborn)
{
	char	*tmp = tl_mkdtemp(), *repo;

	repo = mkrepo(tmp, "repo", 0);
	ck_assert_int_ne(run(GIT " -C '%s' rev-parse -q --verify HEAD "
	    ">/dev/null", repo), 0);
	assert_no_generation(repo);

	/* Also after pack-refs, which writes a packed-refs without main. */
	SH(GIT " -C '%s' pack-refs --all", repo);
	assert_no_generation(repo);
	free(repo);
	tl_rmtree(tmp);
	free(tmp);
}
END_TEST

START_TEST(test_facts_generation_corrupt)
{
	static const char *const heads[] = {
		"garbage\n",
		"",
		"\n",
		"0123456789abcdef0123456789abcdef0123456\n",	/* 39 */
		"0123456789abcdef0123456789abcdef012345678\n",	/* 41 */
		"0123456789abcdef0123456789abcdef0123456g\n",
		"0123456 789abcdef0123456789abcdef01234567\n",
		"ref:\n",
		"ref: \n",
		"ref refs/heads/main\n",
		"ref: refs/heads/nosuch\n",
	};
	char	*tmp = tl_mkdtemp(), *repo, *other, *big;
	size_t	 i;

	repo = mkrepo(tmp, "repo", 1);
	for (i = 0; i < nitems(heads); i++) {
		write_at(repo, ".git/HEAD", heads[i]);
		assert_no_generation(repo);
	}

	/* A ref whose contents are not a hash. */
	write_at(repo, ".git/HEAD", "ref: refs/heads/main\n");
	write_at(repo, ".git/refs/heads/main", "not a hash\n");
	assert_no_generation(repo);

	/* A HEAD too long to be one. */
	big = malloc(8192);
	ck_assert_ptr_nonnull(big);
	memset(big, 'a', 8191);
	big[8191] = '\0';
	write_at(repo, ".git/HEAD", big);
	assert_no_generation(repo);
	free(big);

	/* A FIFO for HEAD must not block the caller. */
	SH("rm '%s/.git/HEAD' && mkfifo '%s/.git/HEAD'", repo, repo);
	assert_no_generation(repo);

	/* .git files that do not say "gitdir:", or point nowhere. */
	other = mkrepo(tmp, "other", 0);
	SH("rm -rf '%s/.git'", other);
	write_at(other, ".git", "/somewhere/else\n");
	assert_no_generation(other);
	write_at(other, ".git", "gitdir: \n");
	assert_no_generation(other);
	write_at(other, ".git", "gitdir: ../nosuch/.git\n");
	assert_no_generation(other);

	/* Not a repository at all. */
	assert_no_generation(tmp);
	assert_no_generation("/nonexistent/nfa-test");
	assert_no_generation("");
	assert_no_generation(NULL);
	free(other);
	free(repo);
	tl_rmtree(tmp);
	free(tmp);
}
END_TEST

START_TEST(test_facts_generation_sha256)
{
	char	*tmp = tl_mkdtemp(), *repo, full[128], want[8];

	repo = tl_path(tmp, "repo");
	if (run(GIT " init -q -b main --object-format=sha256 '%s' "
	    "2>/dev/null", repo) == 0) {
		SH("echo x > '%s/f' && " GIT " -C '%s' add f && "
		    GIT " -C '%s' commit -q -m c", repo, repo, repo);
		capture(full, sizeof(full), GIT " -C '%s' rev-parse HEAD",
		    repo);
		ck_assert_uint_eq(strlen(full), 64);
		git_short(repo, "HEAD", want);
		assert_generation(repo, want);
		SH(GIT " -C '%s' pack-refs --all", repo);
		assert_generation(repo, want);
		SH(GIT " -C '%s' checkout -q --detach HEAD", repo);
		assert_generation(repo, want);
	} else {
		/* A git without SHA-256 support: the same layout by hand. */
		SH("mkdir -p '%s/.git/refs/heads'", repo);
		write_at(repo, ".git/HEAD", "ref: refs/heads/main\n");
		write_at(repo, ".git/packed-refs", "# pack-refs with: peeled\n"
		    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0"
		    "f00a08 refs/heads/main\n");
		assert_generation(repo, "9f86d08");
		write_at(repo, ".git/HEAD", "9F86D081884C7D659A2FEAA0C55AD015"
		    "A3BF4F1B2B0B822CD15D6C15B0F00A08\n");
		assert_generation(repo, "9f86d08");
	}
	free(repo);
	tl_rmtree(tmp);
	free(tmp);
}
END_TEST

START_TEST(test_facts_generation_hostile)
{
	static const char *const hash =
	    "deadbeefdeadbeefdeadbeefdeadbeefdeadbeef\n";
	char	*tmp = tl_mkdtemp(), *repo, *outside, *link, head[PATH_MAX + 8];

	repo = mkrepo(tmp, "repo", 1);
	outside = tl_path(tmp, "outside");
	tl_write_file(outside, hash, 0644);
	/* Each of these paths, taken literally, reaches the planted hash. */
	ck_assert(exists(repo, ".git/../../outside"));
	ck_assert(exists(repo, ".git/refs/../../../outside"));
	ck_assert(exists(repo, ".git/refs/heads/../../../../outside"));

	write_at(repo, ".git/HEAD", "ref: ../../outside\n");
	assert_no_generation(repo);
	write_at(repo, ".git/HEAD", "ref: refs/../../../outside\n");
	assert_no_generation(repo);
	write_at(repo, ".git/HEAD", "ref: refs/heads/../../../../outside\n");
	assert_no_generation(repo);
	snprintf(head, sizeof(head), "ref: %s\n", outside);
	write_at(repo, ".git/HEAD", head);
	assert_no_generation(repo);
	write_at(repo, ".git/HEAD", "ref: ../../etc/passwd\n");
	assert_no_generation(repo);
	write_at(repo, ".git/HEAD", "ref: /etc/passwd\n");
	assert_no_generation(repo);

	/* The same from a ref further down the chain. */
	write_at(repo, ".git/HEAD", "ref: refs/heads/main\n");
	write_at(repo, ".git/refs/heads/main", "ref: ../../../outside\n");
	assert_no_generation(repo);

	/* A loose ref that is a symlink out of the repository. */
	link = tl_path(repo, ".git/refs/heads/main");
	ck_assert_int_eq(unlink(link), 0);
	ck_assert_int_eq(symlink(outside, link), 0);
	assert_no_generation(repo);
	free(link);
	free(outside);
	free(repo);
	tl_rmtree(tmp);
	free(tmp);
}
END_TEST

/* ---------------------------------------------------------------- */
/* §3.4 StaSysMo */

START_TEST(test_facts_stasysmo_fresh)
{
	char	*tmp = tl_mkdtemp();
	int32_t	 m[4];

	write_stasysmo(tmp, "15.5\n", "  41.2 \n", "0", "0.48\n");
	ck_assert_int_eq(facts_stasysmo(tmp, m), 0);
	assert_metrics(m, 15500, 41200, 0, 480);

	/* Thousandths are exact; a fourth decimal rounds. */
	write_stasysmo(tmp, "100", "12.3456", "7.0005\n", "\t3\t");
	ck_assert_int_eq(facts_stasysmo(tmp, m), 0);
	assert_metrics(m, 100000, 12346, 7001, 3000);
	write_stasysmo(tmp, "0.1", ".7", "99.999", "1.");
	ck_assert_int_eq(facts_stasysmo(tmp, m), 0);
	assert_metrics(m, 100, 700, 99999, 1000);
	/* Passed through as written, sign included. */
	write_stasysmo(tmp, "+2", "-1.25", "-0.0004", "2147483.647");
	ck_assert_int_eq(facts_stasysmo(tmp, m), 0);
	assert_metrics(m, 2000, -1250, 0, INT32_MAX);
	tl_rmtree(tmp);
	free(tmp);
}
END_TEST

START_TEST(test_facts_stasysmo_stale)
{
	char	*tmp = tl_mkdtemp();
	int32_t	 m[4];

	write_stasysmo(tmp, "15.5", "41.2", "1", "0.48");
	set_age(tmp, "cpu", 60);
	set_age(tmp, "ram", 60);
	set_age(tmp, "swap", 60);
	set_age(tmp, "load", 60);
	ck_assert_int_eq(facts_stasysmo(tmp, m), -1);
	assert_metrics(m, 0, 0, 0, 0);
	set_age(tmp, "ram", 31);
	ck_assert_int_eq(facts_stasysmo(tmp, m), -1);

	/* The newest file decides. */
	set_age(tmp, "load", 5);
	ck_assert_int_eq(facts_stasysmo(tmp, m), 0);
	assert_metrics(m, 15500, 41200, 1000, 480);
	tl_rmtree(tmp);
	free(tmp);
}
END_TEST

START_TEST(test_facts_stasysmo_zero)
{
	char	*tmp = tl_mkdtemp();
	int32_t	 m[4];

	write_stasysmo(tmp, "0", "0.0", "0.000\n", " 0 ");
	ck_assert_int_eq(facts_stasysmo(tmp, m), -1);
	assert_metrics(m, 0, 0, 0, 0);
	/* One non-zero value makes the source count. */
	write_at(tmp, "swap", "0.001");
	ck_assert_int_eq(facts_stasysmo(tmp, m), 0);
	assert_metrics(m, 0, 0, 1, 0);
	tl_rmtree(tmp);
	free(tmp);
}
END_TEST

START_TEST(test_facts_stasysmo_unparsable)
{
	char	*tmp = tl_mkdtemp(), big[200];
	int32_t	 m[4];

	write_stasysmo(tmp, "abc", "1.5x", "", "2.5");
	ck_assert_int_eq(facts_stasysmo(tmp, m), 0);
	assert_metrics(m, 0, 0, 0, 2500);

	write_stasysmo(tmp, "nan", "1e3", "--1", "1 2");
	ck_assert_int_eq(facts_stasysmo(tmp, m), -1);
	write_stasysmo(tmp, "15%", "99999999", "0x10", "12.5");
	ck_assert_int_eq(facts_stasysmo(tmp, m), 0);
	assert_metrics(m, 0, 0, 0, 12500);

	/* Longer than any number: not cut to a prefix that parses. */
	memset(big, ' ', sizeof(big) - 1);
	memcpy(big, "12.5", 4);
	memcpy(big + sizeof(big) - 3, "9\n", 3);
	write_stasysmo(tmp, big, "1", "1", "1");
	ck_assert_int_eq(facts_stasysmo(tmp, m), 0);
	assert_metrics(m, 0, 1000, 1000, 1000);
	tl_rmtree(tmp);
	free(tmp);
}
END_TEST

START_TEST(test_facts_stasysmo_missing)
{
	char	*tmp = tl_mkdtemp(), *dir;
	int32_t	 m[4];

	dir = tl_path(tmp, "nosuch");
	ck_assert_int_eq(facts_stasysmo(dir, m), -1);
	assert_metrics(m, 0, 0, 0, 0);
	ck_assert_int_eq(facts_stasysmo(tmp, m), -1);	/* empty */

	/* Missing files count as 0; a FIFO neither blocks nor counts. */
	write_at(tmp, "ram", "50");
	SH("mkfifo '%s/cpu' && mkdir '%s/swap'", tmp, tmp);
	ck_assert_int_eq(facts_stasysmo(tmp, m), 0);
	assert_metrics(m, 0, 50000, 0, 0);
	free(dir);
	tl_rmtree(tmp);
	free(tmp);
}
END_TEST

/* ---------------------------------------------------------------- */
/* §3.4 native */

/*
 * A snapshot never waits for a CPU delta: before the first tick it has no
 * CPU share (0), after ticks at least 100 ms apart it has one.
 */
START_TEST(test_facts_native_range)
{
	struct ipc_exec_config	 cfg;
	struct facts		*f;
	int32_t			 m[4];
	uint64_t		 t0;
	int			 i;

	memset(&cfg, 0, sizeof(cfg));
	f = calloc(1, sizeof(*f));
	ck_assert_ptr_nonnull(f);
	facts_init(f, &cfg);
	t0 = now_ms();
	ck_assert_int_eq(facts_native(f, m), 0);
	ck_assert_uint_lt(now_ms() - t0, 50);
	ck_assert_int_eq(f->cpu_share_valid, 0);
	assert_native_range(m);
	/* A machine running this test has memory in use. */
	ck_assert_int_gt(m[FACTS_RAM], 0);

	for (i = 0; i < 3; i++) {
		usleep(120 * 1000);
		ck_assert_int_eq(facts_cpu_tick(f), 0);
		ck_assert_int_eq(f->cpu_share_valid, 1);
		t0 = now_ms();
		ck_assert_int_eq(facts_native(f, m), 0);
		ck_assert_uint_lt(now_ms() - t0, 50);
		assert_native_range(m);
	}
	free(f);
}
END_TEST

/* A baseline older than 100 ms gives a share at the first snapshot. */
START_TEST(test_facts_native_baseline)
{
	struct ipc_exec_config	 cfg;
	struct facts		*f;
	int32_t			 m[4];
	uint64_t		 t0, before;
	int			 i;

	memset(&cfg, 0, sizeof(cfg));
	f = calloc(1, sizeof(*f));
	ck_assert_ptr_nonnull(f);
	facts_init(f, &cfg);
	ck_assert_int_eq(f->cpu.valid, 1);
	ck_assert_uint_gt(f->cpu.total, 0);
	before = f->cpu.total;

	usleep(150 * 1000);
	t0 = now_ms();
	ck_assert_int_eq(facts_native(f, m), 0);
	ck_assert_uint_lt(now_ms() - t0, 50);
	ck_assert_int_eq(f->cpu_share_valid, 1);
	ck_assert_uint_ge(f->cpu.total, before);
	assert_native_range(m);

	/* Ticks closer than 100 ms keep the baseline. */
	before = f->cpu.at_ms;
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(facts_cpu_tick(f), 0);
	ck_assert_uint_eq(f->cpu.at_ms, before);

	/* A thousand snapshots in a row: no sleeping anywhere. */
	t0 = now_ms();
	for (i = 0; i < 1000; i++)
		ck_assert_int_eq(facts_native(f, m), 0);
	ck_assert_uint_lt(now_ms() - t0, 2000);
	free(f);
}
END_TEST

/* ---------------------------------------------------------------- */
/* SHA-256 */

START_TEST(test_facts_sha256_known)
{
	char	*tmp = tl_mkdtemp(), *p, out[65], *big;

	p = tl_path(tmp, "abc");
	tl_write_file(p, "abc", 0644);
	ck_assert_int_eq(facts_sha256_file(p, out), 0);
	ck_assert_str_eq(out, abc_sha256);
	free(p);

	p = tl_path(tmp, "empty");
	tl_write_file(p, "", 0644);
	ck_assert_int_eq(facts_sha256_file(p, out), 0);
	ck_assert_str_eq(out, empty_sha256);
	free(p);

	/* Many read() calls' worth. */
	big = malloc(1000001);
	ck_assert_ptr_nonnull(big);
	memset(big, 'a', 1000000);
	big[1000000] = '\0';
	p = tl_path(tmp, "million");
	tl_write_file(p, big, 0644);
	ck_assert_int_eq(facts_sha256_file(p, out), 0);
	ck_assert_str_eq(out, million_a_sha256);
	free(p);
	free(big);

	p = tl_path(tmp, "nosuch");
	memcpy(out, "x", 2);
	ck_assert_int_eq(facts_sha256_file(p, out), -1);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(facts_sha256_file(tmp, out), -1);	/* a dir */
	ck_assert_str_eq(out, "");
	free(p);
	tl_rmtree(tmp);
	free(tmp);
}
END_TEST

/* ---------------------------------------------------------------- */
/* §3.1, §3.2 */

START_TEST(test_facts_os_release)
{
	static const struct {
		const char	*text;
		const char	*want;
		int		 rc;
	} cases[] = {
		{ "NAME=NixOS\nVERSION_ID=\"24.11\"\nID=nixos\n", "24.11", 0 },
		{ "ID=debian\nVERSION_ID=12\n", "12", 0 },
		{ "VERSION_ID='3.19'\n", "3.19", 0 },
		{ "VERSION_ID=\"1\\\"2\"\n", "1\"2", 0 },
		{ "VERSION_ID=  7  ", "7", 0 },
		{ "VERSION_ID=1\nVERSION_ID=2\n", "2", 0 },
		{ "NAME=x\nXVERSION_ID=9\nVERSION=9\n", "unknown", -1 },
		{ "VERSION_ID=\"unterminated\n", "unknown", -1 },
		{ "VERSION_ID=\"\"\n", "unknown", -1 },
		{ "", "unknown", -1 },
	};
	char	*tmp = tl_mkdtemp(), *p, out[64];
	size_t	 i;

	p = tl_path(tmp, "os-release");
	for (i = 0; i < nitems(cases); i++) {
		tl_write_file(p, cases[i].text, 0644);
		ck_assert_int_eq(facts_os_release(p, out, sizeof(out)),
		    cases[i].rc);
		ck_assert_str_eq(out, cases[i].want);
	}
	/* Too long for the buffer: terminated, never overrun. */
	tl_write_file(p, "VERSION_ID=123456789\n", 0644);
	memset(out, 'z', sizeof(out));
	facts_os_release(p, out, 4);
	ck_assert_uint_lt(strlen(out), 4);
	ck_assert_int_eq(out[4], 'z');
	free(p);

	p = tl_path(tmp, "nosuch");
	ck_assert_int_eq(facts_os_release(p, out, sizeof(out)), -1);
	ck_assert_str_eq(out, "unknown");
	free(p);

	/* This machine's own, as the agent reads it. */
	memset(out, 'z', sizeof(out));
	facts_os_version(out, sizeof(out));
	ck_assert(STR_TERMINATED(out));
	ck_assert_uint_gt(strlen(out), 0);
	tl_rmtree(tmp);
	free(tmp);
}
END_TEST

START_TEST(test_facts_plist_version)
{
	char	*tmp = tl_mkdtemp(), *p, out[64];

	p = tl_path(tmp, "SystemVersion.plist");
	tl_write_file(p, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<plist version=\"1.0\">\n<dict>\n"
	    "\t<key>ProductBuildVersion</key>\n\t<string>23F79</string>\n"
	    "\t<key>ProductName</key>\n\t<string>macOS</string>\n"
	    "\t<key>ProductVersion</key>\n\t<string>14.5</string>\n"
	    "</dict>\n</plist>\n", 0644);
	ck_assert_int_eq(facts_plist_version(p, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "14.5");
	tl_write_file(p, "<dict><key>ProductName</key>"
	    "<string>macOS</string></dict>", 0644);
	ck_assert_int_eq(facts_plist_version(p, out, sizeof(out)), -1);
	ck_assert_str_eq(out, "unknown");
	free(p);
	tl_rmtree(tmp);
	free(tmp);
}
END_TEST

START_TEST(test_facts_hostname)
{
	char	 out[256], sys[256], small[4];

	facts_hostname("web01.example.com", out, sizeof(out));
	ck_assert_str_eq(out, "web01.example.com");

	ck_assert_int_eq(gethostname(sys, sizeof(sys)), 0);
	sys[sizeof(sys) - 1] = '\0';
	sys[strcspn(sys, ".")] = '\0';
	facts_hostname("", out, sizeof(out));
	ck_assert_str_eq(out, sys);
	facts_hostname(NULL, out, sizeof(out));
	ck_assert_str_eq(out, sys);
	ck_assert_ptr_null(strchr(out, '.'));

	memset(small, 'z', sizeof(small));
	facts_hostname("abcdefgh", small, sizeof(small));
	ck_assert_str_eq(small, "abc");
}
END_TEST

START_TEST(test_facts_nixpkgs_version)
{
	char	 out[128], want[128];
	FILE	*fp;

	facts_nixpkgs_version("24.11.20241201.abc1234", out, sizeof(out));
	ck_assert_str_eq(out, "24.11.20241201.abc1234");

	/* Without an override: the running NixOS system's, trimmed, or "". */
	want[0] = '\0';
	if ((fp = fopen("/run/current-system/nixos-version", "r")) != NULL) {
		if (fgets(want, sizeof(want), fp) == NULL)
			want[0] = '\0';
		want[strcspn(want, " \t\r\n")] = '\0';
		fclose(fp);
	}
	memset(out, 'z', sizeof(out));
	facts_nixpkgs_version("", out, sizeof(out));
	ck_assert_str_eq(out, want);
}
END_TEST

/* ---------------------------------------------------------------- */
/* the snapshot */

struct fixture {
	char			*tmp;
	char			*repo;
	char			*stasysmo;
	char			*agent;
	struct ipc_exec_config	 cfg;
	struct facts		*f;
};

static void
fixture_make(struct fixture *fx)
{
	char	*link;

	memset(fx, 0, sizeof(*fx));
	fx->tmp = tl_mkdtemp();
	fx->repo = mkrepo(fx->tmp, "repo", 1);
	write_at(fx->repo, "flake.lock", "abc");
	fx->stasysmo = tl_path(fx->tmp, "stasysmo");
	ck_assert_int_eq(mkdir(fx->stasysmo, 0755), 0);
	write_stasysmo(fx->stasysmo, "12.5", "41.2", "0", "0.48");
	/* The configured path is a symlink, as /run/current-system's is. */
	SH("mkdir '%s/bin'", fx->tmp);
	fx->agent = tl_path(fx->tmp, "bin/nixfleet-agent");
	tl_write_file(fx->agent, "abc", 0755);
	link = tl_path(fx->tmp, "agent-link");
	ck_assert_int_eq(symlink(fx->agent, link), 0);

	strlcpy(fx->cfg.hostname, "web01", sizeof(fx->cfg.hostname));
	strlcpy(fx->cfg.repo_dir, fx->repo, sizeof(fx->cfg.repo_dir));
	strlcpy(fx->cfg.stasysmo_dir, fx->stasysmo,
	    sizeof(fx->cfg.stasysmo_dir));
	strlcpy(fx->cfg.agent_exe, link, sizeof(fx->cfg.agent_exe));
	free(link);
	fx->f = calloc(1, sizeof(*fx->f));
	ck_assert_ptr_nonnull(fx->f);
}

static void
fixture_free(struct fixture *fx)
{
	free(fx->f);
	free(fx->agent);
	free(fx->stasysmo);
	free(fx->repo);
	tl_rmtree(fx->tmp);
	free(fx->tmp);
}

START_TEST(test_facts_collect_fields)
{
	struct fixture	 fx;
	struct ipc_facts out;
	char		 want[8], *real;

	fixture_make(&fx);
	facts_init(fx.f, &fx.cfg);
	memset(&out, 0xa5, sizeof(out));
	facts_collect(fx.f, &out);
	assert_terminated(&out);

	ck_assert_str_eq(out.hostname, "web01");
	ck_assert_str_eq(out.host_type, "nixos");
	ck_assert_uint_gt(strlen(out.os_version), 0);
	git_short(fx.repo, "HEAD", want);
	ck_assert_str_eq(out.generation, want);
	ck_assert_str_eq(out.repo_dir, fx.repo);
	real = realpath(fx.agent, NULL);
	ck_assert_ptr_nonnull(real);
	ck_assert_str_eq(out.store_path, real);
	free(real);
	ck_assert_str_eq(out.binary_hash, abc_sha256);
	ck_assert_str_eq(out.source_commit, "unknown");

	ck_assert_uint_eq(out.flags, IPC_FACTF_METRICS | IPC_FACTF_LOCK);
	ck_assert_str_eq(out.lock_hash, abc_sha256);
	ck_assert_int_eq(out.cpu_milli, 12500);
	ck_assert_int_eq(out.ram_milli, 41200);
	ck_assert_int_eq(out.swap_milli, 0);
	ck_assert_int_eq(out.load_milli, 480);
	fixture_free(&fx);
}
END_TEST

START_TEST(test_facts_collect_lock)
{
	struct fixture	 fx;
	struct ipc_facts out;
	char		*p, want[8];

	fixture_make(&fx);
	strlcpy(fx.cfg.source_commit, "2c4ef43", sizeof(fx.cfg.source_commit));
	facts_init(fx.f, &fx.cfg);
	facts_collect(fx.f, &out);
	ck_assert(out.flags & IPC_FACTF_LOCK);
	ck_assert_str_eq(out.source_commit, "2c4ef43");

	/* Gone, then unreadable as a file: no flag, no hash. */
	p = tl_path(fx.repo, "flake.lock");
	ck_assert_int_eq(unlink(p), 0);
	memset(&out, 0xa5, sizeof(out));
	facts_collect(fx.f, &out);
	assert_terminated(&out);
	ck_assert_uint_eq(out.flags & IPC_FACTF_LOCK, 0);
	ck_assert_str_eq(out.lock_hash, "");
	ck_assert_int_eq(mkdir(p, 0755), 0);
	facts_collect(fx.f, &out);
	ck_assert_uint_eq(out.flags & IPC_FACTF_LOCK, 0);
	ck_assert_str_eq(out.lock_hash, "");
	free(p);

	/* The generation follows a new commit without facts_init. */
	SH("echo 2 > '%s/f' && " GIT " -C '%s' commit -q -am c2",
	    fx.repo, fx.repo);
	git_short(fx.repo, "HEAD", want);
	facts_collect(fx.f, &out);
	ck_assert_str_eq(out.generation, want);
	fixture_free(&fx);
}
END_TEST

START_TEST(test_facts_collect_native)
{
	struct fixture	 fx;
	struct ipc_facts out;

	fixture_make(&fx);
	/* StaSysMo stale: native values instead, still flagged. */
	set_age(fx.stasysmo, "cpu", 60);
	set_age(fx.stasysmo, "ram", 60);
	set_age(fx.stasysmo, "swap", 60);
	set_age(fx.stasysmo, "load", 60);
	facts_init(fx.f, &fx.cfg);
	memset(&out, 0xa5, sizeof(out));
	facts_collect(fx.f, &out);
	assert_terminated(&out);
	ck_assert(out.flags & IPC_FACTF_METRICS);
	{
		int32_t	 m[4] = { out.cpu_milli, out.ram_milli,
			     out.swap_milli, out.load_milli };

		assert_native_range(m);
		ck_assert_int_gt(m[FACTS_RAM], 0);
	}

	/* No StaSysMo directory configured at all. */
	fx.cfg.stasysmo_dir[0] = '\0';
	facts_init(fx.f, &fx.cfg);
	facts_collect(fx.f, &out);
	ck_assert(out.flags & IPC_FACTF_METRICS);
	ck_assert_int_gt(out.ram_milli, 0);
	fixture_free(&fx);
}
END_TEST

START_TEST(test_facts_collect_unterminated)
{
	struct ipc_exec_config	 cfg;
	struct ipc_facts	 out;
	struct facts		*f;

	/* Every string field full to the last byte, no NUL anywhere. */
	memset(&cfg, 'x', sizeof(cfg));
	f = calloc(1, sizeof(*f));
	ck_assert_ptr_nonnull(f);
	facts_init(f, &cfg);
	memset(&out, 0xa5, sizeof(out));
	facts_collect(f, &out);
	assert_terminated(&out);
	ck_assert_uint_eq(strlen(out.hostname), sizeof(out.hostname) - 1);
	ck_assert_uint_eq(strlen(out.source_commit),
	    sizeof(out.source_commit) - 1);
	ck_assert_str_eq(out.generation, "");
	ck_assert_str_eq(out.store_path, "");
	ck_assert_str_eq(out.binary_hash, "");
	ck_assert_str_eq(out.lock_hash, "");
	ck_assert_uint_eq(out.flags & IPC_FACTF_LOCK, 0);
	free(f);
}
END_TEST

/* ---------------------------------------------------------------- */

static void
add(Suite *s, const char *name, const TTest *t)
{
	TCase	*tc = tcase_create(name);

	/* git runs several times per test; leave room under sanitizers. */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, t);
	suite_add_tcase(s, tc);
}

static Suite *
facts_suite(void)
{
	Suite	*s = suite_create("facts");

	/* Only our -c options shape the repositories git makes. */
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
	setenv("LC_ALL", "C", 1);

	add(s, "generation_loose", test_facts_generation_loose);
	add(s, "generation_packed", test_facts_generation_packed);
	add(s, "generation_worktree", test_facts_generation_worktree);
	add(s, "generation_detached", test_facts_generation_detached);
	add(s, "generation_symref", test_facts_generation_symref);
	add(s, "generation_unborn", test_facts_generation_unborn);
	add(s, "generation_corrupt", test_facts_generation_corrupt);
	add(s, "generation_sha256", test_facts_generation_sha256);
	add(s, "generation_hostile", test_facts_generation_hostile);
	add(s, "stasysmo_fresh", test_facts_stasysmo_fresh);
	add(s, "stasysmo_stale", test_facts_stasysmo_stale);
	add(s, "stasysmo_zero", test_facts_stasysmo_zero);
	add(s, "stasysmo_unparsable", test_facts_stasysmo_unparsable);
	add(s, "stasysmo_missing", test_facts_stasysmo_missing);
	add(s, "native_range", test_facts_native_range);
	add(s, "native_baseline", test_facts_native_baseline);
	add(s, "sha256_known", test_facts_sha256_known);
	add(s, "os_release", test_facts_os_release);
	add(s, "plist_version", test_facts_plist_version);
	add(s, "hostname", test_facts_hostname);
	add(s, "nixpkgs_version", test_facts_nixpkgs_version);
	add(s, "collect_fields", test_facts_collect_fields);
	add(s, "collect_lock", test_facts_collect_lock);
	add(s, "collect_native", test_facts_collect_native);
	add(s, "collect_unterminated", test_facts_collect_unterminated);
	return s;
}

int
main(void)
{
	return tl_run(facts_suite());
}
