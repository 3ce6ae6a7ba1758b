/*
 * runner.h: the per-job runner's entry (runner.c).
 */
#ifndef RUNNER_H
#define RUNNER_H

#include "compat.h"

__dead void	runner_main(int, char **);

#endif
