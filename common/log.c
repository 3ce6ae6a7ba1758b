/*
 * log.c: leveled logging that never clobbers errno.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdint.h>
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

/* The last line emitted, for collapsing repeats. */
static char		 log_last[4200 * 4];
static int		 log_last_level;
static unsigned int	 log_repeats;
static time_t		 log_repeat_since;

static size_t	log_utf8_len(const unsigned char *);

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

/*
 * Make a line safe for a log file and a terminal: C0 controls but tab,
 * DEL, C1 controls (raw or UTF-8 encoded) and bytes that are not UTF-8
 * become \xNN, so no escape sequence reaches a terminal and no line can
 * be split.  Well-formed UTF-8 text passes as it is.
 */
size_t
log_escape(const char *in, char *out, size_t size)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*p = (const unsigned char *)in;
	size_t			 n = 0, k, len;

	if (size == 0)
		return 0;
	while (*p != '\0') {
		len = log_utf8_len(p);
		if (len > 1 && !(p[0] == 0xc2 && p[1] < 0xa0)) {
			if (n + len >= size)
				break;
			for (k = 0; k < len; k++)
				out[n++] = (char)*p++;
			continue;
		}
		if (len == 1 && (*p >= 0x20 || *p == '\t') && *p != 0x7f) {
			if (n + 1 >= size)
				break;
			out[n++] = (char)*p++;
			continue;
		}
		/* A control, or an encoded C1 (two bytes): each byte escaped. */
		for (k = 0; k < (len > 1 ? len : 1); k++) {
			if (n + 4 >= size)
				goto done;
			out[n++] = '\\';
			out[n++] = 'x';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 0xf];
			p++;
		}
	}
 done:
	out[n] = '\0';
	return n;
}

/* Length of the well-formed UTF-8 sequence at p; 1 for ASCII or a bad byte. */
static size_t
log_utf8_len(const unsigned char *p)
{
	size_t	 len, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		cp = p[0] & 0x07;
	} else
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	/* Overlong forms, surrogates and beyond U+10FFFF are not text. */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/* Write one escaped line (without newline) to the supervisor's sinks. */
static void
log_write(int level, const char *line)
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

static void
log_repeat_flush(void)
{
	char	 buf[64];

	if (log_repeats == 0)
		return;
	snprintf(buf, sizeof(buf), "last message repeated %u time%s",
	    log_repeats, log_repeats == 1 ? "" : "s");
	log_repeats = 0;
	log_write(log_last_level, buf);
}

/*
 * Emit one line: escaped, and a run of the same line collapsed into a
 * count, written when another line comes or every LOG_REPEAT_FLUSH_S, so
 * that a flood cannot rotate the startup lines out of the log file.
 */
static void
log_emit(int level, const char *line)
{
	char	 esc[sizeof(log_last)];
	time_t	 now = time(NULL);

	log_escape(line, esc, sizeof(esc));
	if (log_last[0] != '\0' && level == log_last_level &&
	    strcmp(esc, log_last) == 0) {
		if (log_repeats++ == 0)
			log_repeat_since = now;
		if (now - log_repeat_since >= LOG_REPEAT_FLUSH_S)
			log_repeat_flush();
		return;
	}
	log_repeat_flush();
	strlcpy(log_last, esc, sizeof(log_last));
	log_last_level = level;
	log_write(level, esc);
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
 * A line read from a worker's stderr pipe; name is the worker's name as
 * the supervisor knows it.  "<P>" lines came from log.c: P sets only the
 * level, and the worker's own "name: " is dropped when it is ours, so a
 * worker cannot pass for another process.  Anything else (a sanitizer
 * report, a library's complaint) is a warning.  Every line is escaped.
 */
void
log_relay(const char *name, const char *line)
{
	char	 buf[4200];
	int	 level = LOG_LVL_WARN;
	size_t	 i, n = strlen(name);

	if (line[0] == '<' && line[1] >= '0' && line[1] <= '7' &&
	    line[2] == '>') {
		for (i = 0; i < nitems(log_prio); i++)
			if (log_prio[i] >= line[1] - '0') {
				level = (int)i;
				break;
			}
		if (level > log_level)
			return;
		line += 3;
		if (strncmp(line, name, n) == 0 && line[n] == ':' &&
		    line[n + 1] == ' ')
			line += n + 2;
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
