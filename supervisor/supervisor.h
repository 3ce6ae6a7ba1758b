/*
 * supervisor.h: the root supervisor's modules.
 */
#ifndef SUPERVISOR_H
#define SUPERVISOR_H

int	sup_main(int, char **);

#endif
