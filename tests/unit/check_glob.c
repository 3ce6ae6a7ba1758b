/*
 * check_glob.c: ignore globs (socketio-protocol.md §6.4 step 4), the
 * backup plan walker on a temp tree with symlinks, special files and
 * ignored directories, and the persisted plan.
 */
#include <sys/stat.h>

#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "glob.h"
#include "testlib.h"
#include "walk.h"

START_TEST(glob_cases)
{
	static const struct {
		const char	*pat, *path;
		int		 ok;
	} c[] = {
		/* The spec's example. */
		{ "**/*.log", "docs/a/b.log", 1 },
		{ "docs/**", "docs/a/b.log", 1 },
		{ "**/a/**", "docs/a/b.log", 1 },
		{ "*.log", "docs/a/b.log", 0 },
		{ "docs/*.log", "docs/a/b.log", 0 },
		/* ** spans zero segments too. */
		{ "**/*.log", "b.log", 1 },
		{ "docs/**/b.log", "docs/b.log", 1 },
		{ "docs/**", "docs", 1 },
		{ "**", "x/y/z", 1 },
		{ "a/**/b/**/c", "a/x/b/y/z/c", 1 },
		{ "a/**/b/**/c", "a/x/b/y/z/d", 0 },
		/* * and ? stay in a segment; the whole path must match. */
		{ "*", "a/b", 0 },
		{ "a?c", "abc", 1 },
		{ "a?c", "a/c", 0 },
		{ "a*", "abc/d", 0 },
		{ "*.tmp", "x.tmp", 1 },
		{ "x.tm", "x.tmp", 0 },
		{ "X.TMP", "x.tmp", 0 },		/* case-sensitive */
		{ "a**b", "axxb", 1 },			/* not a whole segment */
		{ "a**b", "ax/xb", 0 },
		/* Classes, negation, ranges. */
		{ "[abc].txt", "b.txt", 1 },
		{ "[abc].txt", "d.txt", 0 },
		{ "[!a].txt", "b.txt", 1 },
		{ "[!a].txt", "a.txt", 0 },
		{ "[^a].txt", "a.txt", 0 },
		{ "file[0-9]", "file7", 1 },
		{ "file[0-9]", "filex", 0 },
		{ "[]]", "]", 1 },
		{ "[a-]", "-", 1 },
		/* Braces, nested. */
		{ "*.{jpg,png}", "a.png", 1 },
		{ "*.{jpg,png}", "a.gif", 0 },
		{ "{cache,tmp}/**", "tmp/x/y", 1 },
		{ "{a,b{c,d}}", "bd", 1 },
		{ "{a,b{c,d}}", "b", 0 },
		{ "x{,.bak}", "x", 1 },
		{ "{[,]}x", ",x", 1 },			/* a class in a group */
		{ "{[,]}x", "[x", 0 },
		/* Escapes. */
		{ "\\*", "*", 1 },
		{ "\\*", "a", 0 },
		/* What does not parse never matches. */
		{ "[abc", "[abc", 0 },
		{ "{a,b", "a", 0 },
		{ "a}", "a}", 0 },
		{ "a\\", "a\\", 0 },
	};
	size_t	i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		ck_assert_msg(glob_match(c[i].pat, c[i].path) == c[i].ok,
		    "%s vs %s", c[i].pat, c[i].path);
}
END_TEST

START_TEST(glob_bounded)
{
	char	pat[512], path[512];
	int	i;

	/* Many ** against a deep non-matching path: the table, no blow-up. */
	pat[0] = path[0] = '\0';
	for (i = 0; i < 40; i++) {
		strcat(pat, "**/");
		strcat(path, "d/");
	}
	strcat(pat, "x");
	strcat(path, "y");
	ck_assert(!glob_match(pat, path));
	/* 2^9 brace alternatives exceed the budget: no match, no hang. */
	ck_assert(!glob_match("{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}",
	    "bbbbbbbbb"));
	ck_assert(glob_match("{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}", "bbbbbb"));
	ck_assert(glob_match("{a,b}{a,b}{a,b}", "bab"));
	/* 2^30 alternatives: the budget stops the expansion, not the end. */
	{
		time_t	t0 = time(NULL);

		pat[0] = '\0';
		for (i = 0; i < 30; i++)
			strcat(pat, "{a,b}");
		ck_assert(!glob_match(pat, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"));
		ck_assert_int_le(time(NULL) - t0, 2);
	}
}
END_TEST

static char	*root;

static void
mk(const char *rel, const char *data)
{
	char	*p = tl_path(root, rel);

	if (data == NULL)
		ck_assert_int_eq(mkdir(p, 0700), 0);
	else
		tl_write_file(p, data, 0600);
	free(p);
}

static void
tree(void)
{
	char	*p, *q;

	root = tl_mkdtemp();
	p = realpath(root, NULL);
	free(root);
	root = p;
	mk("src", NULL);
	mk("src/b.txt", "bb");
	mk("src/a.txt", "a");
	mk("src/docs", NULL);
	mk("src/docs/x.log", "12345");
	mk("src/docs/y.md", "yy");
	mk("src/cache", NULL);
	mk("src/cache/big", "0123456789");
	mk("outside", NULL);
	mk("outside/secret", "s3cret");
	p = tl_path(root, "src/link-out");
	q = tl_path(root, "outside");
	ck_assert_int_eq(symlink(q, p), 0);
	free(p);
	p = tl_path(root, "src/file-link");
	free(q);
	q = tl_path(root, "outside/secret");
	ck_assert_int_eq(symlink(q, p), 0);
	free(p);
	free(q);
	p = tl_path(root, "src/fifo");
	ck_assert_int_eq(mkfifo(p, 0600), 0);
	free(p);
	p = tl_path(root, "srclink");
	q = tl_path(root, "src");
	ck_assert_int_eq(symlink(q, p), 0);
	free(p);
	free(q);
}

static void
req(struct walk_request *r, char **srcs, size_t n, char **globs, size_t ng)
{
	memset(r, 0, sizeof(*r));
	r->plan_id = "plan/1 x";
	r->host = "";
	r->user = "";
	r->dest_root = "/backups";
	r->sources = srcs;
	r->nsources = n;
	r->globs = globs;
	r->nglobs = ng;
}

START_TEST(walk_tree)
{
	struct walk_request	r;
	struct walk_policy	pol = { NULL, 0, NULL, 0 };
	struct walk_plan	p;
	char			err[WALK_ERROR_MAX], *src[1], *globs[3];

	tree();
	src[0] = tl_path(root, "src");
	globs[0] = "  src/cache/** ";
	globs[1] = "";
	globs[2] = "**/*.log";
	req(&r, src, 1, globs, 3);
	ck_assert_int_eq(walk_plan_make(&r, &pol, &p, err, sizeof(err)), 0);
	/* Sorted by name; symlinks, the fifo and ignored files skipped. */
	ck_assert_uint_eq(p.nfiles, 3);
	ck_assert_str_eq(p.files[0].rel, "src/a.txt");
	ck_assert_str_eq(p.files[1].rel, "src/b.txt");
	ck_assert_str_eq(p.files[2].rel, "src/docs/y.md");
	ck_assert_uint_eq(p.total_files, 3);
	ck_assert_uint_eq(p.total_bytes, 1 + 2 + 2);
	ck_assert_uint_eq(p.files[2].size, 2);
	ck_assert(strstr(p.files[0].source, "/src/a.txt") != NULL);
	ck_assert_str_eq(p.req.plan_id, "plan/1 x");
	walk_plan_free(&p);

	/* Without globs everything regular counts. */
	req(&r, src, 1, NULL, 0);
	ck_assert_int_eq(walk_plan_make(&r, &pol, &p, err, sizeof(err)), 0);
	ck_assert_uint_eq(p.total_files, 5);
	ck_assert_uint_eq(p.total_bytes, 1 + 2 + 10 + 5 + 2);
	walk_plan_free(&p);
	free(src[0]);
	tl_rmtree(root);
	free(root);
}
END_TEST

static void
plan_err(char **src, size_t n, const struct walk_policy *pol,
    const char *dest, const char *want)
{
	struct walk_request	r;
	struct walk_plan	p;
	char			err[WALK_ERROR_MAX];

	req(&r, src, n, NULL, 0);
	r.dest_root = (char *)dest;
	ck_assert_int_eq(walk_plan_make(&r, pol, &p, err, sizeof(err)), -1);
	ck_assert_str_eq(err, want);
}

START_TEST(walk_refusals)
{
	struct walk_policy	 none = { NULL, 0, NULL, 0 }, pol;
	const char		*sroots[1], *droots[1];
	char			*src[1], want[PATH_MAX + 100], *sub, *dot;

	tree();
	src[0] = tl_path(root, "srclink");
	snprintf(want, sizeof(want), "source directory \"%s\" resolves "
	    "through symlinks; refusing", src[0]);
	plan_err(src, 1, &none, "/backups", want);
	/* A symlink in the middle of the path counts too. */
	free(src[0]);
	src[0] = tl_path(root, "srclink/docs");
	snprintf(want, sizeof(want), "source directory \"%s\" resolves "
	    "through symlinks; refusing", src[0]);
	plan_err(src, 1, &none, "/backups", want);
	free(src[0]);
	src[0] = tl_path(root, "nope");
	snprintf(want, sizeof(want), "resolve source directory \"%s\": "
	    "No such file or directory", src[0]);
	plan_err(src, 1, &none, "/backups", want);
	plan_err(src, 0, &none, "/backups", "no source directories provided");
	plan_err(src, 1, &none, "  ", "destRoot required");
	free(src[0]);
	src[0] = "  ";
	plan_err(src, 1, &none, "/backups", "empty source directory");

	/* Roots: component-wise, realpath'd; .. cleaned before the check. */
	sub = tl_path(root, "src");
	sroots[0] = sub;
	droots[0] = "/backups/host";
	pol.source_roots = sroots;
	pol.nsource_roots = 1;
	pol.dest_roots = droots;
	pol.ndest_roots = 1;
	src[0] = tl_path(root, "outside");
	snprintf(want, sizeof(want), "source directory \"%s\" not allowed",
	    src[0]);
	plan_err(src, 1, &pol, "/backups/host/x", want);
	free(src[0]);
	src[0] = sub;
	plan_err(src, 1, &pol, "/backups/hostile",
	    "destRoot \"/backups/hostile\" not allowed");
	plan_err(src, 1, &pol, "/backups/host/../other",
	    "destRoot \"/backups/host/../other\" not allowed");
	dot = tl_path(root, "src/docs/../../outside");
	src[0] = dot;
	snprintf(want, sizeof(want), "source directory \"%s\" not allowed",
	    dot);
	plan_err(src, 1, &pol, "/backups/host", want);
	free(dot);
	free(sub);
	tl_rmtree(root);
	free(root);
}
END_TEST

START_TEST(plan_store)
{
	struct walk_request	 r;
	struct walk_policy	 pol = { NULL, 0, NULL, 0 };
	struct walk_plan	 p, q;
	char			 err[WALK_ERROR_MAX], *src[1], *globs[1];
	char			 safe[WALK_SAFE_MAX], *base, *dir, *path;
	struct stat		 st;
	size_t			 i;

	walk_safe_name("plan/1 x", safe);
	ck_assert_str_eq(safe, "plan_1_x");
	walk_safe_name("a//..//b", safe);
	ck_assert_str_eq(safe, "a_.._b");
	walk_safe_name("", safe);
	ck_assert_str_eq(safe, "unknown");
	walk_safe_name("..", safe);
	ck_assert_str_eq(safe, "unknown");

	tree();
	mk("src/sp ace%\t.txt", "xyz");
	base = tl_mkdtemp();
	src[0] = tl_path(root, "src");
	globs[0] = "**/cache/**";
	req(&r, src, 1, globs, 1);
	r.port = 2222;
	ck_assert_int_eq(walk_plan_make(&r, &pol, &p, err, sizeof(err)), 0);
	ck_assert_int_eq(walk_plan_save(base, &p, err, sizeof(err)), 0);
	dir = tl_path(base, "compute-agent/backup-plans");
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	path = tl_path(dir, "plan_1_x.plan");
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);

	ck_assert_int_eq(walk_plan_load(base, "plan/1 x", &q, err,
	    sizeof(err)), 0);
	ck_assert_str_eq(q.req.plan_id, "plan/1 x");
	ck_assert_str_eq(q.req.dest_root, "/backups");
	ck_assert_str_eq(q.req.host, "");
	ck_assert_int_eq(q.req.port, 2222);
	ck_assert_uint_eq(q.req.nsources, 1);
	ck_assert_str_eq(q.req.sources[0], src[0]);
	ck_assert_uint_eq(q.req.nglobs, 1);
	ck_assert_str_eq(q.req.globs[0], "**/cache/**");
	ck_assert_uint_eq(q.nfiles, p.nfiles);
	ck_assert_uint_eq(q.total_bytes, p.total_bytes);
	for (i = 0; i < p.nfiles; i++) {
		ck_assert_str_eq(q.files[i].rel, p.files[i].rel);
		ck_assert_str_eq(q.files[i].source, p.files[i].source);
		ck_assert_uint_eq(q.files[i].size, p.files[i].size);
	}
	ck_assert(strcmp(q.files[4].rel, "src/sp ace%\t.txt") == 0);
	walk_plan_free(&q);

	/* Another id that maps to the same file name is not this plan. */
	ck_assert_int_eq(walk_plan_load(base, "plan_1_x", &q, err,
	    sizeof(err)), -1);
	ck_assert_str_eq(err, "unknown plan plan_1_x");
	ck_assert_int_eq(walk_plan_load(base, "other", &q, err,
	    sizeof(err)), -1);
	ck_assert_str_eq(err, "unknown plan other");
	/* A torn file (no end line) does not load. */
	ck_assert_int_eq(truncate(path, st.st_size - 4), 0);
	ck_assert_int_eq(walk_plan_load(base, "plan/1 x", &q, err,
	    sizeof(err)), -1);
	/* A plan directory owned by someone else is refused. */
	ck_assert_int_eq(chown(dir, 65534, 65534), 0);
	ck_assert_int_eq(walk_plan_save(base, &p, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "refusing"));
	ck_assert_int_eq(chown(dir, 0, 0), 0);
	ck_assert_int_eq(walk_plan_save(base, &p, err, sizeof(err)), 0);
	ck_assert_int_eq(truncate(path, st.st_size - 4), 0);
	/* A group-writable plan directory is refused. */
	ck_assert_int_eq(chmod(dir, 0770), 0);
	ck_assert_int_eq(walk_plan_save(base, &p, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "refusing"));
	walk_plan_free(&p);
	free(path);
	free(dir);
	free(src[0]);
	tl_rmtree(base);
	free(base);
	tl_rmtree(root);
	free(root);
}
END_TEST

static char *
slurp(const char *path)
{
	static char	 buf[4096];
	FILE		*f;
	size_t		 n;

	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

START_TEST(state_store)
{
	struct walk_state	 st = { "plan/1 x", "data/a \"q\"\\.txt", 1234,
	    1795505706 };
	char			 err[WALK_ERROR_MAX], *base, *dir, *path;
	struct stat		 sb;

	base = tl_mkdtemp();
	ck_assert_int_eq(walk_state_save(base, &st, err, sizeof(err)), 0);
	dir = tl_path(base, "compute-agent/backup-plans");
	path = tl_path(dir, "plan_1_x.state.json");
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	ck_assert_str_eq(slurp(path), "{\"planId\":\"plan/1 x\",\"file\":"
	    "\"data/a \\\"q\\\"\\\\.txt\",\"transferredBytes\":1234,"
	    "\"ts\":\"2026-11-24T07:35:06Z\"}\n");
	/* Replaced, not appended; control bytes and bad UTF-8 escaped. */
	st.file = "x\001\xff\xc3\xa9\xe0\x80\x80";
	st.transferred = 0;
	ck_assert_int_eq(walk_state_save(base, &st, err, sizeof(err)), 0);
	ck_assert_str_eq(slurp(path), "{\"planId\":\"plan/1 x\",\"file\":"
	    "\"x\\u0001\\ufffd\xc3\xa9\\ufffd\\ufffd\\ufffd\","
	    "\"transferredBytes\":0,\"ts\":\"2026-11-24T07:35:06Z\"}\n");
	/* The plan directory's rules hold here too. */
	ck_assert_int_eq(chmod(dir, 0770), 0);
	ck_assert_int_eq(walk_state_save(base, &st, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "refusing"));
	free(path);
	free(dir);
	tl_rmtree(base);
	free(base);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("glob");
	TCase	*tc = tcase_create("glob");

	tcase_add_test(tc, glob_cases);
	tcase_add_test(tc, glob_bounded);
	tcase_add_test(tc, walk_tree);
	tcase_add_test(tc, walk_refusals);
	tcase_add_test(tc, plan_store);
	tcase_add_test(tc, state_store);
	suite_add_tcase(s, tc);
	return tl_run(s);
}
