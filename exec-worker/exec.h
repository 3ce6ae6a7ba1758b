/*
 * exec.h: the exec-worker's entry.
 */
#ifndef EXEC_H
#define EXEC_H

#include "compat.h"

__dead void	exec_main(int, char **);

#endif
