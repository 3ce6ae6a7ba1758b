/*
 * net.h: the net-worker's entry and sandbox.
 */
#ifndef NET_H
#define NET_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "compat.h"

/* An ASan build (the unit tests' second run): its runtime needs more. */
#if defined(__SANITIZE_ADDRESS__)
#define NET_SANITIZER	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NET_SANITIZER	1
#endif
#endif

/* The WebSocket's outgoing queue stops taking messages at this size. */
#define NET_HIGHWATER		(4 * 1024 * 1024)
/* NIXFLEET_MAX_MESSAGE's default, when the supervisor passes none. */
#define NET_MAX_MSG_DEFAULT	(1024 * 1024)

/*
 * RLIMIT_DATA (heap and private writable mappings) =
 *	NET_DATA_BASE				libraries' data, stdio, libev,
 *						mbedTLS contexts and record
 *						buffers, with room to spare
 *	+ NET_DATA_CA_FACTOR * IPC_CA_MAX	the CA bundle as received and
 *						as parsed certificates
 *	+ NET_DATA_QUEUE_FACTOR * NET_HIGHWATER	the outgoing queue and the
 *						frame being built
 *	+ NET_DATA_MSG_FACTOR * max message	the message being reassembled,
 *						its copy, and its JSON tree
 *						(small values cost ~30x text)
 * 120 MiB with the default 1 MiB message limit.
 */
#define NET_DATA_BASE		(64ULL * 1024 * 1024)
#define NET_DATA_CA_FACTOR	4
#define NET_DATA_QUEUE_FACTOR	2
#define NET_DATA_MSG_FACTOR	32

/*
 * RLIMIT_NOFILE: stdio (3), the two channels, epoll, libev's signal pipe
 * (2), the TLS socket and one arriving during a reconnect, the key
 * source's socket (keysrc.c, one at a time): 11, and slack.
 */
#define NET_NOFILE		16

__dead void	net_main(int, char **);
/*
 * root NULL: not started by root, nothing to drop but what we can.
 * max_msg: the configured incoming message limit (0: the default), which
 * sizes the memory limit.  Logs the level reached, once.
 */
void		net_sandbox(uid_t, gid_t, const char *root, uint32_t max_msg);
/* What net_sandbox() applied, as logged ("chroot+uid 123+..."). */
const char	*net_sandbox_level(void);
/* The syscall filter, last step of net_sandbox (a file per variant). */
const char	*sandbox_filter(void);
/* Landlock: the kernel's ABI version (0: none), and applying it. */
int		 sandbox_landlock_abi(void);
void		 sandbox_landlock(char *, size_t);

#endif
