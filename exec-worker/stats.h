/*
 * stats.h: the socketio `stats` sample (socketio-protocol.md §5.3),
 * gathered in the exec-worker and encoded as JSON by the net-worker.
 * struct stats_sample is meant to travel over IPC as it is: fixed-width
 * fields, fixed strings (NUL-terminated), fixed-point numbers, explicit
 * padding, no pointers.  Proposed payload of an IPC_EN_STATS message.
 */
#ifndef STATS_H
#define STATS_H

#include <stddef.h>
#include <stdint.h>

#define STATS_DISK_MAX		16
#define STATS_IFACE_MAX		16

/* Fixed point: hundredths, so 7.25 % is 725 and load 0.42 is 42. */
struct stats_disk {
	char		mount[128];
	char		fsname[128];
	char		fstype[32];
	uint64_t	used;			/* bytes */
	uint64_t	avail;			/* bytes */
	uint32_t	capacity_centi;		/* used / (used + avail) */
	uint32_t	pad;
};
_Static_assert(sizeof(struct stats_disk) == 312, "stats_disk");

struct stats_iface {
	char		name[32];
	char		address[48];		/* numeric, no scope */
	char		cidr[56];		/* network/prefix */
	uint8_t		family;			/* 4 or 6 */
	uint8_t		internal;		/* private range */
	uint8_t		pad[6];
};
_Static_assert(sizeof(struct stats_iface) == 144, "stats_iface");

#define STATS_HAVE_MEM		0x01	/* mem{} present */

struct stats_sample {
	uint32_t	flags;			/* STATS_HAVE_* */
	uint32_t	cpu_centi;		/* busy share, 0..10000 */
	uint64_t	mem_used, mem_free, mem_total;	/* bytes */
	uint32_t	load_centi[3];		/* 1m, 5m, 15m */
	uint32_t	cpus;			/* online logical CPUs, 0 unknown */
	uint64_t	uptime_s;		/* 0: lastReboot omitted */
	int64_t		ts;			/* Unix seconds, UTC */
	int64_t		last_reboot;		/* ts - uptime_s */
	uint32_t	ndisk, niface;
	char		hostname[256];
	char		platform[64];		/* os-release ID, "" unknown */
	char		release[64];		/* os-release VERSION_ID */
	char		arch[64];		/* uname machine */
	char		kernel[128];		/* uname release */
	char		agent_version[32];
	struct stats_disk  disk[STATS_DISK_MAX];
	struct stats_iface iface[STATS_IFACE_MAX];
};
_Static_assert(sizeof(struct stats_sample) == 7984, "stats_sample");

/* /proc/stat aggregate, kept by the caller between two samples. */
struct stats_cpu {
	uint64_t	busy, total;
};

/* Parse the `cpu ` line of /proc/stat text; -1 when absent or short. */
int	 stats_parse_cpu(const char *, struct stats_cpu *);
/* Busy share between two readings in hundredths of a percent. */
uint32_t stats_cpu_usage(const struct stats_cpu *, const struct stats_cpu *);
/* /proc/meminfo text into mem_*; sets STATS_HAVE_MEM; -1 if unusable. */
int	 stats_parse_meminfo(const char *, struct stats_sample *);
/* os-release text: ID and VERSION_ID, quotes removed. */
void	 stats_parse_os_release(const char *, struct stats_sample *);
/* Is fstype marked nodev in this /proc/filesystems text? */
int	 stats_fs_nodev(const char *, const char *);
/* Network of addr/prefix: 192.168.1.20/24 -> 192.168.1.0/24. */
int	 stats_network(int, const void *, unsigned, char *, size_t);
/* -1 skipped (loopback, link-local), 1 private (internal), 0 public. */
int	 stats_addr_class(int, const unsigned char *);
/* RFC 3339 UTC, whole seconds: 2023-11-14T22:13:20Z. */
void	 stats_rfc3339(int64_t, char [32]);

/* Per OS: stats_linux.c here, stats_darwin.c on macOS. */
int	 stats_read_cpu(struct stats_cpu *);
void	 stats_os_mem(struct stats_sample *);
void	 stats_os_disks(struct stats_sample *);
void	 stats_os_release(struct stats_sample *);
uint64_t stats_os_uptime(void);

/*
 * Fill a whole sample without blocking.  prev is the caller's previous
 * CPU reading (the one taken at agent start for the first sample); cur
 * receives this one for next time.
 */
void	 stats_collect(struct stats_sample *, const struct stats_cpu *,
	    struct stats_cpu *, const char *);

#endif
