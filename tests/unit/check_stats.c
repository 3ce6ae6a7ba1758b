/*
 * check_stats.c: the stats sample of socketio-protocol.md §5.3: the
 * parsers on fixed texts, then a live sample checked for plausibility.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stats.h"
#include "testlib.h"

START_TEST(parse_cpu)
{
	struct stats_cpu	a, b;

	ck_assert_int_eq(stats_parse_cpu("intr 1\ncpu  100 0 100 700 100 0 0 0 5 0\n"
	    "cpu0 1 2 3 4 5 6 7 8\n", &a), 0);
	ck_assert_uint_eq(a.total, 1000);
	ck_assert_uint_eq(a.busy, 200);
	ck_assert_int_eq(stats_parse_cpu("cpu  300 0 200 1200 200 20 10 20 0 0\n",
	    &b), 0);
	/* delta busy 350 of total 950. */
	ck_assert_uint_eq(stats_cpu_usage(&a, &b), 3684);
	ck_assert_uint_eq(stats_cpu_usage(&b, &b), 0);
	ck_assert_uint_eq(stats_cpu_usage(&b, &a), 0);
	ck_assert_int_eq(stats_parse_cpu("cpu0 1 2 3 4 5 6 7 8\n", &a), -1);
	ck_assert_int_eq(stats_parse_cpu("cpu  1 2 3\n", &a), -1);
}
END_TEST

START_TEST(parse_meminfo)
{
	struct ipc_stats	s;

	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(stats_parse_meminfo("MemTotal:  8000 kB\n"
	    "MemFree:   2000 kB\nMemAvailable: 5000 kB\nBuffers:  500 kB\n"
	    "Cached:   1000 kB\nSwapCached: 7 kB\nSReclaimable: 300 kB\n",
	    &s), 0);
	ck_assert(s.flags & IPC_STATS_HAVE_MEM);
	ck_assert_uint_eq(s.mem_total, 8000 * 1024);
	ck_assert_uint_eq(s.mem_free, 2000 * 1024);
	ck_assert_uint_eq(s.mem_used, (8000 - 2000 - 500 - 1000 - 300) * 1024);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(stats_parse_meminfo("MemFree: 1 kB\n", &s), -1);
	ck_assert(!(s.flags & IPC_STATS_HAVE_MEM));
}
END_TEST

START_TEST(parse_misc)
{
	struct ipc_stats	 s;
	const char		*fs = "nodev\tsysfs\nnodev\tproc\n\text4\n"
	    "\tvfat\nnodev\ttmpfs\n";
	unsigned char		 a4[4] = { 192, 168, 1, 20 }, a6[16];
	char			 out[64];

	memset(&s, 0, sizeof(s));
	stats_parse_os_release("NAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n"
	    "ID=debian\nIDLIKE=x\n", &s);
	ck_assert_str_eq(s.platform, "debian");
	ck_assert_str_eq(s.release, "12");
	ck_assert(!stats_fs_nodev(fs, "ext4"));
	ck_assert(!stats_fs_nodev(fs, "vfat"));
	ck_assert(stats_fs_nodev(fs, "tmpfs"));
	ck_assert(stats_fs_nodev(fs, "proc"));
	/* Only what the list marks nodev is virtual (5.3). */
	ck_assert(!stats_fs_nodev(fs, "ext"));
	ck_assert(!stats_fs_nodev(fs, "fuse.sshfs"));
	ck_assert_int_eq(stats_network(AF_INET, a4, 24, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "192.168.1.0/24");
	ck_assert_int_eq(stats_network(AF_INET, a4, 20, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "192.168.0.0/20");
	ck_assert_int_eq(stats_network(AF_INET, a4, 32, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "192.168.1.20/32");
	ck_assert_int_eq(stats_network(AF_INET, a4, 33, out, sizeof(out)), -1);
	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8:1:2::5", a6), 1);
	ck_assert_int_eq(stats_network(AF_INET6, a6, 64, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "2001:db8:1:2::/64");
	{
		static const struct {
			int		 fam;
			const char	*addr;
			int		 want;
		} c[] = {
			{ AF_INET, "127.0.0.1", -1 }, { AF_INET, "169.254.3.4", -1 },
			{ AF_INET, "10.1.2.3", 1 }, { AF_INET, "172.16.0.1", 1 },
			{ AF_INET, "172.31.255.1", 1 }, { AF_INET, "172.32.0.1", 0 },
			{ AF_INET, "192.168.1.20", 1 }, { AF_INET, "8.8.8.8", 0 },
			{ AF_INET, "169.253.0.1", 0 },
			{ AF_INET6, "::1", -1 }, { AF_INET6, "fe80::1", -1 },
			{ AF_INET6, "febf::1", -1 }, { AF_INET6, "fec0::1", 0 },
			{ AF_INET6, "fc00::1", 1 }, { AF_INET6, "fd12::1", 1 },
			{ AF_INET6, "2001:db8::1", 0 },
		};
		size_t	i;

		for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
			ck_assert_int_eq(inet_pton(c[i].fam, c[i].addr, a6), 1);
			ck_assert_msg(stats_addr_class(c[i].fam, a6) == c[i].want,
			    "%s", c[i].addr);
		}
	}
	stats_rfc3339(1700000000, out);
	ck_assert_str_eq(out, "2023-11-14T22:13:20Z");
}
END_TEST

START_TEST(live_sample)
{
	struct stats_cpu	 start, cur;
	struct ipc_stats	*s = malloc(sizeof(*s));
	volatile unsigned long	 spin = 0;
	time_t			 now = time(NULL);
	uint32_t		 i;
	int			 root = 0;

	ck_assert_int_eq(stats_read_cpu(&start), 0);
	while (time(NULL) < now + 2)	/* burn some CPU between samples */
		spin++;
	stats_collect(s, &start, &cur, "1.2.3");
	ck_assert_uint_le(s->cpu_centi, 10000);
	ck_assert_uint_gt(cur.total, start.total);
	ck_assert(s->flags & IPC_STATS_HAVE_MEM);
	ck_assert_uint_gt(s->mem_total, 16 * 1024 * 1024);
	ck_assert_uint_le(s->mem_used + s->mem_free, s->mem_total);
	ck_assert_uint_lt(s->load_centi[0], 100000);
	ck_assert_uint_ge(s->cpus, 1);
	ck_assert_uint_eq(s->cpus, (uint32_t)sysconf(_SC_NPROCESSORS_ONLN));
	ck_assert_uint_gt(s->uptime_s, 0);
	ck_assert(s->ts >= now && s->ts <= now + 60);
	ck_assert(s->last_reboot == s->ts - (int64_t)s->uptime_s);
	ck_assert_str_ne(s->hostname, "");
	ck_assert_str_ne(s->arch, "");
	ck_assert_str_ne(s->kernel, "");
	ck_assert_str_eq(s->platform, "debian");
	ck_assert_str_eq(s->agent_version, "1.2.3");
	ck_assert_uint_le(s->ndisk, IPC_STATS_DISK_MAX);
	for (i = 0; i < s->ndisk; i++) {
		ck_assert_str_ne(s->disk[i].mount, "");
		ck_assert_str_ne(s->disk[i].fstype, "proc");
		ck_assert_str_ne(s->disk[i].fstype, "tmpfs");
		ck_assert_uint_le(s->disk[i].capacity_centi, 10000);
		root |= strcmp(s->disk[i].mount, "/") == 0;
	}
	(void)root;	/* / may be an overlay (nodev) in a container */
	for (i = 0; i < s->niface; i++) {
		ck_assert(s->iface[i].family == 4 || s->iface[i].family == 6);
		ck_assert_str_ne(s->iface[i].address, "127.0.0.1");
		ck_assert_str_ne(s->iface[i].address, "::1");
		ck_assert_ptr_nonnull(strchr(s->iface[i].cidr, '/'));
		ck_assert(strncmp(s->iface[i].address, "fe80", 4) != 0);
	}
	free(s);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("stats");
	TCase	*tc = tcase_create("stats");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, parse_cpu);
	tcase_add_test(tc, parse_meminfo);
	tcase_add_test(tc, parse_misc);
	tcase_add_test(tc, live_sample);
	suite_add_tcase(s, tc);
	return tl_run(s);
}
