/*
 * log.c: leveled logging that never clobbers errno.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int		 log_level = LOG_LVL_INFO;
static int		 log_worker;	/* lines go to the supervisor's pipe */
static int		 log_journal;	/* stderr is the journal */
static const char	*log_name;
static char		 log_path[4096];
static int		 log_fd = -1;
static off_t		 log_size;

/* syslog priorities, which is what journald reads from "<P>". */
static const int	 log_prio[] = { 3, 4, 6, 7 };
static const char	*log_names[] = { "error", "warn", "info", "debug" };

void
log_init(int level, int worker)
{
	log_level = level;
	log_worker = worker;
	log_journal = getenv("JOURNAL_STREAM") != NULL;
}

void
log_procinit(const char *name)
{
	log_name = name;
}

void
log_setlevel(int level)
{
	log_level = level;
}

int
log_getlevel(void)
{
	return log_level;
}

int
log_level_parse(const char *s)
{
	size_t	 i;

	for (i = 0; i < nitems(log_names); i++)
		if (strcasecmp(s, log_names[i]) == 0)
			return (int)i;
	if (strcasecmp(s, "warning") == 0)
		return LOG_LVL_WARN;
	return -1;
}

const char *
log_level_name(int level)
{
	if (level < 0 || level >= (int)nitems(log_names))
		return "?";
	return log_names[level];
}

int
log_set_file(const char *path)
{
	struct stat	 st;
	int		 fd;

	if (log_fd != -1) {
		close(log_fd);
		log_fd = -1;
	}
	if (path == NULL || *path == '\0')
		return 0;
	if (strlcpy(log_path, path, sizeof(log_path)) >= sizeof(log_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	log_size = fstat(fd, &st) == 0 ? st.st_size : 0;
	log_fd = fd;
	return 0;
}

static void
log_file_write(const char *buf, size_t len)
{
	char	 old[sizeof(log_path) + 2];
	ssize_t	 n;

	if (log_fd == -1)
		return;
	/* Rotate before the write that would pass the limit; keep one. */
	if (log_size + (off_t)len > LOG_ROTATE_SIZE && log_size > 0) {
		snprintf(old, sizeof(old), "%s.1", log_path);
		if (rename(log_path, old) == 0) {
			close(log_fd);
			log_fd = open(log_path,
			    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
			log_size = 0;
			if (log_fd == -1)
				return;
		}
	}
	if ((n = write(log_fd, buf, len)) > 0)
		log_size += n;
}

static void
log_stamp(char *buf, size_t size)
{
	struct timespec	 ts;
	struct tm	 tm;
	size_t		 n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* Emit one finished line (without newline) to the supervisor's sinks. */
static void
log_emit(int level, const char *line)
{
	char	 stamp[40], out[8192];
	int	 n;

	log_stamp(stamp, sizeof(stamp));
	n = snprintf(out, sizeof(out), "%s %s %s\n", stamp,
	    log_level_name(level), line);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(out))
		n = sizeof(out) - 1, out[n - 1] = '\n';
	log_file_write(out, n);
	if (log_journal)
		dprintf(STDERR_FILENO, "<%d>%s\n", log_prio[level], line);
	else
		(void)!write(STDERR_FILENO, out, n);
}

void
vlog(int level, const char *fmt, va_list ap)
{
	char	 msg[4096], line[4200];
	int	 saved = errno;

	if (level > log_level) {
		errno = saved;
		return;
	}
	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* A worker's line must be one line: the relay splits on '\n'. */
	for (char *p = msg; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (log_worker) {
		dprintf(STDERR_FILENO, "<%d>%s: %s\n", log_prio[level],
		    log_name ? log_name : "?", msg);
	} else {
		if (log_name != NULL)
			snprintf(line, sizeof(line), "%s: %s", log_name, msg);
		else
			snprintf(line, sizeof(line), "%s", msg);
		log_emit(level, line);
	}
	errno = saved;
}

/*
 * A line read from a worker's stderr pipe.  "<P>" lines came from log.c;
 * anything else (a sanitizer report, a library's complaint) is passed on
 * as a warning with the worker's name, so nothing a worker says is lost.
 */
void
log_relay(const char *name, const char *line)
{
	char	 buf[4200];
	int	 level = LOG_LVL_WARN;
	size_t	 i;

	if (line[0] == '<' && line[1] >= '0' && line[1] <= '7' &&
	    line[2] == '>') {
		for (i = 0; i < nitems(log_prio); i++)
			if (log_prio[i] == line[1] - '0')
				level = (int)i;
		if (level > log_level)
			return;
		log_emit(level, line + 3);
		return;
	}
	snprintf(buf, sizeof(buf), "%s: %s", name, line);
	log_emit(level, buf);
}

#define LOG_FN(fn, lvl)						\
void									\
fn(const char *fmt, ...)						\
{									\
	va_list	 ap;							\
									\
	va_start(ap, fmt);						\
	vlog(lvl, fmt, ap);						\
	va_end(ap);							\
}
LOG_FN(log_warnx, LOG_LVL_WARN)
LOG_FN(log_info, LOG_LVL_INFO)
LOG_FN(log_debug, LOG_LVL_DEBUG)
LOG_FN(log_error, LOG_LVL_ERROR)

static void
log_for(int level, const char *fmt, ...) __printflike(2, 3);

static void
log_for(int level, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

static void
vlog_errno(int level, int err, const char *fmt, va_list ap)
    __printflike(3, 0);

static void
vlog_errno(int level, int err, const char *fmt, va_list ap)
{
	char	 buf[4096];

	if (fmt == NULL) {
		log_for(level, "%s", strerror(err));
		return;
	}
	vsnprintf(buf, sizeof(buf), fmt, ap);
	log_for(level, "%s: %s", buf, strerror(err));
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	vlog_errno(LOG_LVL_WARN, saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	vlog_errno(LOG_LVL_ERROR, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERROR, fmt, ap);
	va_end(ap);
	exit(1);
}
