/*
 * log.h: one logger for all three processes.
 *
 * The supervisor owns the sinks: stderr (journald priority prefixes when
 * JOURNAL_STREAM is set, timestamps otherwise) and the optional log file,
 * rotated at 10 MiB.  A worker's stderr is a pipe to the supervisor: it
 * writes "<P>name: message" lines and the supervisor relays them, so one
 * file holds every process's lines, each naming its process.
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>

#include "compat.h"

enum log_level {
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

#define LOG_ROTATE_SIZE	(10 * 1024 * 1024)
#define LOG_REPEAT_FLUSH_S	10	/* a running repeat count is written */

void	log_init(int level, int worker);
void	log_procinit(const char *name);
void	log_setlevel(int level);
int	log_getlevel(void);
int	log_level_parse(const char *);
const char *log_level_name(int);
int	log_set_file(const char *path);
void	log_relay(const char *name, const char *line);
/* Escape controls and non-UTF-8 bytes as \xNN; returns the length. */
size_t	log_escape(const char *in, char *out, size_t size);

void	log_warn(const char *, ...) __printflike(1, 2);
void	log_warnx(const char *, ...) __printflike(1, 2);
void	log_info(const char *, ...) __printflike(1, 2);
void	log_debug(const char *, ...) __printflike(1, 2);
void	log_error(const char *, ...) __printflike(1, 2);
void	vlog(int level, const char *, va_list) __printflike(2, 0);
__dead void fatal(const char *, ...) __printflike(1, 2);
__dead void fatalx(const char *, ...) __printflike(1, 2);

#endif
