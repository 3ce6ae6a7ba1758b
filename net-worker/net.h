/*
 * net.h: the net-worker's entry and sandbox.
 */
#ifndef NET_H
#define NET_H

#include <sys/types.h>

#include "compat.h"

__dead void	net_main(int, char **);
/* root NULL: not started by root, nothing to drop but what we can. */
void		net_sandbox(uid_t, gid_t, const char *root);
/* The syscall filter, last step of net_sandbox (a file per variant). */
void		sandbox_filter(void);

#endif
