/*
 * stats.h: the socketio `stats` sample (socketio-protocol.md §5.3),
 * gathered in the exec-worker and encoded as JSON by the net-worker.
 * struct ipc_stats travels over IPC as it is: fixed-width fields, fixed
 * strings (NUL-terminated), fixed-point numbers, explicit padding, no
 * pointers: the payload of IPC_EN_STATS.
 */
#ifndef STATS_H
#define STATS_H

#include <stddef.h>
#include <stdint.h>

/* The sample is the IPC_EN_STATS payload itself (proto.h). */
#include "proto.h"

/* /proc/stat aggregate, kept by the caller between two samples. */
struct stats_cpu {
	uint64_t	busy, total;
};

/* Parse the `cpu ` line of /proc/stat text; -1 when absent or short. */
int	 stats_parse_cpu(const char *, struct stats_cpu *);
/* Busy share between two readings in hundredths of a percent. */
uint32_t stats_cpu_usage(const struct stats_cpu *, const struct stats_cpu *);
/* /proc/meminfo text into mem_*; sets IPC_STATS_HAVE_MEM; -1 if unusable. */
int	 stats_parse_meminfo(const char *, struct ipc_stats *);
/* os-release text: ID and VERSION_ID, quotes removed. */
void	 stats_parse_os_release(const char *, struct ipc_stats *);
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
void	 stats_os_mem(struct ipc_stats *);
void	 stats_os_disks(struct ipc_stats *);
void	 stats_os_release(struct ipc_stats *);
uint64_t stats_os_uptime(void);

/*
 * Fill a whole sample without blocking.  prev is the caller's previous
 * CPU reading (the one taken at agent start for the first sample); cur
 * receives this one for next time.
 */
void	 stats_collect(struct ipc_stats *, const struct stats_cpu *,
	    struct stats_cpu *, const char *);

#endif
