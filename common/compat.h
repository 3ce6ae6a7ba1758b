/*
 * compat.h: the one place where portability #ifdefs live.
 */
#ifndef COMPAT_H
#define COMPAT_H

#include <stddef.h>
#include <sys/types.h>

#include "config_build.h"

#ifndef nitems
#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#endif

#ifndef __dead
#define __dead		__attribute__((__noreturn__))
#endif

#ifndef __printflike
#define __printflike(f, a) __attribute__((__format__(__printf__, f, a)))
#endif

#if !HAVE_STRLCPY
size_t	strlcpy(char *, const char *, size_t);
size_t	strlcat(char *, const char *, size_t);
#endif
#if !HAVE_CLOSEFROM
void	closefrom(int);
#endif

/* macOS has no /dev/shm; the stasysmo daemon writes to /tmp there. */
#ifdef __APPLE__
#define STASYSMO_DIR_DEFAULT	"/tmp/stasysmo"
#else
#define STASYSMO_DIR_DEFAULT	"/dev/shm/stasysmo"
#endif

/* Constant-time comparison for secrets. */
int	timingsafe_bcmp(const void *, const void *, size_t);

#endif
