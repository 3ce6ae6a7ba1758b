/*
 * net.h: the net-worker's entry and sandbox.
 */
#ifndef NET_H
#define NET_H

#include "compat.h"

__dead void	net_main(int, char **);
void		net_sandbox(void);

#endif
