/*
 * notify.c: the systemd notification protocol, without libsystemd: one
 * datagram to $NOTIFY_SOCKET per state change.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "log.h"
#include "proto.h"
#include "supervisor.h"

void
notify_send(const char *state)
{
	struct sockaddr_un	 sun;
	const char		*path = getenv("NOTIFY_SOCKET");
	socklen_t		 len;
	int			 fd;

	if (path == NULL || *path == '\0')
		return;
	if ((*path != '/' && *path != '@') ||
	    strlen(path) >= sizeof(sun.sun_path)) {
		log_debug("%s: unusable NOTIFY_SOCKET", __func__);
		return;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path));
	if (sun.sun_path[0] == '@')	/* abstract namespace */
		sun.sun_path[0] = '\0';
	len = offsetof(struct sockaddr_un, sun_path) + strlen(path);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1) {
		log_warn("%s: socket", __func__);
		return;
	}
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL,
	    (struct sockaddr *)&sun, len) == -1)
		log_warn("%s: sendto %s", __func__, path);
	close(fd);
}

/*
 * The notification socket reads "KEY=value" lines: a newline in a value
 * would be a new assignment (WATCHDOG=1, READY=1, MAINPID=...).  So text
 * from anywhere else is cut down to printable ASCII, everything else
 * written as \xNN, and bounded, before it becomes a STATUS.
 */
void
notify_escape(const char *in, char *out, size_t size)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*p = (const unsigned char *)in;
	size_t			 n = 0;

	if (size == 0)
		return;
	for (; *p != '\0'; p++) {
		if (*p >= 0x20 && *p < 0x7f && *p != '\\') {
			if (n + 1 >= size)
				break;
			out[n++] = (char)*p;
			continue;
		}
		if (n + 4 >= size)
			break;
		out[n++] = '\\';
		out[n++] = 'x';
		out[n++] = hex[*p >> 4];
		out[n++] = hex[*p & 0xf];
	}
	out[n] = '\0';
}

void
notify_status(const char *text)
{
	char	 buf[8 + IPC_STATUS_MAX + 1], esc[IPC_STATUS_MAX + 1];

	notify_escape(text, esc, sizeof(esc));
	snprintf(buf, sizeof(buf), "STATUS=%s", esc);
	notify_send(buf);
}

/* WATCHDOG_USEC, if systemd asked us (and not some other pid) for it. */
uint64_t
notify_watchdog_usec(void)
{
	const char	*usec = getenv("WATCHDOG_USEC");
	const char	*pid = getenv("WATCHDOG_PID");
	char		*end;
	unsigned long long v;

	if (usec == NULL)
		return 0;
	if (pid != NULL && strtol(pid, NULL, 10) != getpid())
		return 0;
	errno = 0;
	v = strtoull(usec, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0)
		return 0;
	return v;
}
