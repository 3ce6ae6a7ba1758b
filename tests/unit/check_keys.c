/*
 * check_keys.c: key sync's local half (socketio-protocol.md §6.3): line
 * validation, filtering a fetched body, merging into authorized_keys with
 * owner and modes checked on disk, and no write when nothing is new.
 */
#include <sys/stat.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keys.h"
#include "testlib.h"

#define ED1	"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f"
#define ED2	"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g"
#define RSA	"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAABADBAgM="
#define SK	"sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABHNzaDo="

static int
valid(const char *s)
{
	const char	*why = NULL;

	return keys_line_valid(s, strlen(s), &why);
}

START_TEST(user_names)
{
	char	u[KEYS_USER_MAX + 1];

	ck_assert_int_eq(keys_user_check("  octocat\t", u), 0);
	ck_assert_str_eq(u, "octocat");
	ck_assert_int_eq(keys_user_check("a-b-9", u), 0);
	ck_assert_int_eq(keys_user_check("", u), -1);
	ck_assert_int_eq(keys_user_check("a_b", u), -1);
	ck_assert_int_eq(keys_user_check("../x", u), -1);
	ck_assert_int_eq(keys_user_check(
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", u), 0);	/* 39 */
	ck_assert_int_eq(keys_user_check(
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", u), -1);	/* 40 */
}
END_TEST

START_TEST(line_validation)
{
	char		*big;
	const char	*why;

	ck_assert(valid(ED1));
	ck_assert(valid(ED1 " user@host"));
	ck_assert(valid(ED1 "\tcomment with spaces"));
	ck_assert(valid(RSA));
	ck_assert(valid(SK));
	ck_assert(!valid("ssh-ed25519"));			/* 1 field */
	ck_assert(!valid("ssh-dss AAAAB3NzaC1kc3MAAAA="));	/* type */
	ck_assert(!valid("from=\"1.2.3.4\" " ED1));		/* options */
	ck_assert(!valid("command=\"id\" " ED1));
	ck_assert(!valid("ssh-ed25519 AAAA$$$$"));		/* base64 */
	ck_assert(!valid("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAABAgM"));
	/* Body of an RSA key under an ed25519 name. */
	ck_assert(!valid("ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQABAAAABADBAgM="));
	ck_assert(!valid(ED1 " bad\x01" "comment"));		/* control */
	ck_assert(!valid(ED1 " \x7f"));
	ck_assert(!valid(""));
	ck_assert(!valid("ssh-ed25519 YQ=="));			/* short blob */
	big = malloc(KEYS_LINE_MAX + 2);
	memset(big, 'c', KEYS_LINE_MAX + 1);
	memcpy(big, ED1 " ", strlen(ED1) + 1);
	big[KEYS_LINE_MAX] = '\0';
	ck_assert(keys_line_valid(big, KEYS_LINE_MAX, &why));
	big[KEYS_LINE_MAX] = 'c';
	big[KEYS_LINE_MAX + 1] = '\0';
	ck_assert(!keys_line_valid(big, KEYS_LINE_MAX + 1, &why));
	ck_assert_str_eq(why, "line too long");
	free(big);
}
END_TEST

START_TEST(filter_body)
{
	const char		*body = "\r\n" ED1 " a\r\n  \n# comment\n"
	    "garbage\n" ED1 " b\n" RSA "\r\n" ED1 " a\n" ED2;
	struct keys_list	 l;

	ck_assert_int_eq(keys_filter(body, strlen(body), &l), 0);
	ck_assert_uint_eq(l.n, 3);
	ck_assert_str_eq(l.lines[0], ED1 " a");
	ck_assert_str_eq(l.lines[1], RSA);
	ck_assert_str_eq(l.lines[2], ED2);
	keys_list_free(&l);
	ck_assert_int_eq(keys_filter("nope\n\n", 6, &l), 0);
	ck_assert_uint_eq(l.n, 0);
	keys_list_free(&l);
}
END_TEST

static char *
slurp(const char *path)
{
	static char	buf[65536];
	FILE		*f = fopen(path, "r");
	size_t		 n;

	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int
entries(const char *dir)
{
	DIR		*d = opendir(dir);
	struct dirent	*de;
	int		 n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

START_TEST(install_merge)
{
	char			*home = tl_mkdtemp(), *ssh, *ak, err[256];
	const char		*body = ED1 " new-comment\n" ED2 "\n" RSA "\n";
	struct keys_list	 l;
	struct stat		 st, st2;
	int			 added;
	uid_t			 uid = 65534;
	gid_t			 gid = 65534;

	ck_assert_int_eq(geteuid(), 0);
	ssh = tl_path(home, ".ssh");
	ak = tl_path(ssh, "authorized_keys");
	ck_assert_int_eq(keys_filter(body, strlen(body), &l), 0);

	/* Missing .ssh: created 0700 for the user, file 0600 for the user. */
	ck_assert_int_eq(keys_install(home, uid, gid, &l, &added, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(added, 3);
	ck_assert_int_eq(lstat(ssh, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0700);
	ck_assert_int_eq(st.st_uid, uid);
	ck_assert_int_eq(st.st_gid, gid);
	ck_assert_int_eq(lstat(ak, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(st.st_uid, uid);
	ck_assert_str_eq(slurp(ak), ED1 " new-comment\n" ED2 "\n" RSA "\n");

	/* Nothing new: no write at all, same inode and mtime. */
	sleep(1);
	ck_assert_int_eq(keys_install(home, uid, gid, &l, &added, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(added, 0);
	ck_assert_int_eq(lstat(ak, &st2), 0);
	ck_assert_int_eq(st.st_ino, st2.st_ino);
	ck_assert_int_eq(st.st_mtime, st2.st_mtime);
	keys_list_free(&l);

	/* Existing lines keep their order and options; same key with
	 * another comment or options counts as present. */
	tl_write_file(ak, "\n  from=\"10.0.0.1\" " ED2 " old \r\n\n" "# note\n",
	    0600);
	ck_assert_int_eq(chown(ak, uid, gid), 0);
	body = ED2 " other\n" ED1 "\n" ED1 " dup\n";
	ck_assert_int_eq(keys_filter(body, strlen(body), &l), 0);
	ck_assert_int_eq(keys_install(home, uid, gid, &l, &added, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(added, 1);
	ck_assert_str_eq(slurp(ak), "from=\"10.0.0.1\" " ED2 " old\n"
	    "# note\n" ED1 "\n");
	ck_assert_int_eq(lstat(ak, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(st.st_uid, uid);
	keys_list_free(&l);

	ck_assert_int_eq(entries(ssh), 1);	/* no temp file left */
	free(ssh);
	free(ak);
	tl_rmtree(home);
	free(home);
}
END_TEST

START_TEST(install_refusals)
{
	char			*home = tl_mkdtemp(), *ssh, *ak, *other, err[256];
	struct keys_list	 l;
	int			 added;

	ssh = tl_path(home, ".ssh");
	ak = tl_path(ssh, "authorized_keys");
	other = tl_path(home, "elsewhere");
	ck_assert_int_eq(keys_filter(ED1 "\n", strlen(ED1) + 1, &l), 0);

	/* A symlinked .ssh. */
	ck_assert_int_eq(mkdir(other, 0700), 0);
	ck_assert_int_eq(symlink(other, ssh), 0);
	ck_assert_int_eq(keys_install(home, getuid(), getgid(), &l, &added,
	    err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "refusing"));
	ck_assert_int_eq(unlink(ssh), 0);

	/* A symlinked authorized_keys: refused, and its target untouched. */
	ck_assert_int_eq(mkdir(ssh, 0700), 0);
	ck_assert_int_eq(rmdir(other), 0);
	free(other);
	other = tl_path(home, "target");
	tl_write_file(other, "keep\n", 0600);
	ck_assert_int_eq(symlink(other, ak), 0);
	ck_assert_int_eq(keys_install(home, getuid(), getgid(), &l, &added,
	    err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "symlink"));
	ck_assert_str_eq(slurp(other), "keep\n");
	ck_assert_int_eq(unlink(ak), 0);

	/* A .ssh owned by someone else. */
	ck_assert_int_eq(chown(ssh, 65534, 65534), 0);
	ck_assert_int_eq(keys_install(home, getuid(), getgid(), &l, &added,
	    err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not owned"));
	ck_assert_int_eq(access(ak, F_OK), -1);
	keys_list_free(&l);
	free(ssh);
	free(ak);
	free(other);
	tl_rmtree(home);
	free(home);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("keys");
	TCase	*tc = tcase_create("keys");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, user_names);
	tcase_add_test(tc, line_validation);
	tcase_add_test(tc, filter_body);
	tcase_add_test(tc, install_merge);
	tcase_add_test(tc, install_refusals);
	suite_add_tcase(s, tc);
	return tl_run(s);
}
