/*
 * facts.h: host facts and metrics for heartbeats (nixfleet-protocol.md
 * §3), read natively: no git, no shell.
 */
#ifndef FACTS_H
#define FACTS_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* Index into the milli[4] arrays below; the order of §3.4. */
enum facts_metric {
	FACTS_CPU,
	FACTS_RAM,
	FACTS_SWAP,
	FACTS_LOAD,
	FACTS_NMETRICS,
};

struct facts_cpu {
	uint64_t	busy;
	uint64_t	total;
	uint64_t	at_ms;		/* CLOCK_MONOTONIC of the sample */
	int		valid;
};

struct facts {
	struct ipc_exec_config	 cfg;
	struct facts_cpu	 cpu;		/* last /proc/stat sample */
	int32_t			 cpu_tenths;	/* busy share of the last ticks */
	int			 cpu_share_valid;
	char			 os_version[64];	/* read once */
	char			 nixpkgs_version[128];	/* read once */
	char			 hostname[256];		/* resolved once */
	char			 store_path[IPC_PATH_MAX];
	char			 binary_hash[72];
};

/* Reads what is read once, and takes the first CPU sample. */
void	facts_init(struct facts *, const struct ipc_exec_config *);
/* Fill every field of the snapshot. */
void	facts_collect(struct facts *, struct ipc_facts *);

/* §3.3: 7 lowercase hex of HEAD into out[8]; "" and -1 on failure. */
int	facts_generation(const char *repo_dir, char out[8]);
/* §3.4 StaSysMo: 0 if fresh and non-empty (milli values), else -1. */
int	facts_stasysmo(const char *dir, int32_t milli[4]);
/*
 * A CPU sample, for the exec-worker's timer (IPC_FACTS_SAMPLE_MS): the
 * share since the previous one is what snapshots report.  Never sleeps.
 */
int	facts_cpu_tick(struct facts *);
/*
 * §3.4 native: 0 and milli values (1 decimal), -1 if nothing works.
 * Never sleeps: the CPU share comes from the last two samples.
 */
int	facts_native(struct facts *, int32_t milli[4]);
/* Lowercase hex SHA-256 of a file into out[65]; -1 if unreadable. */
int	facts_sha256_file(const char *path, char out[65]);
/* §3.1 and §3.2. */
void	facts_hostname(const char *override, char *out, size_t size);
void	facts_os_version(char *out, size_t size);
void	facts_nixpkgs_version(const char *override, char *out, size_t size);
/* §3.2 from a given file: os-release VERSION_ID, or macOS's plist. */
int	facts_os_release(const char *path, char *out, size_t size);
int	facts_plist_version(const char *path, char *out, size_t size);

#endif
