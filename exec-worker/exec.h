/*
 * exec.h: the exec-worker's entry and sandbox.
 */
#ifndef EXEC_H
#define EXEC_H

#include "compat.h"

__dead void	exec_main(int, char **);
void		exec_sandbox(void);

#endif
