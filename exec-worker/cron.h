/*
 * cron.h: the dashboard's two cron flows (socketio-protocol.md §6.2).
 * The write pipeline `echo <b64> | base64 -d | crontab -` is recognised
 * and performed natively; it never reaches a shell.
 */
#ifndef CRON_H
#define CRON_H

#include <stddef.h>

#include "admin.h"

enum cron_kind {
	CRON_NONE = 0,	/* not a cron flow (or a write that does not decode) */
	CRON_READ,	/* exactly `crontab -l`, after trimming */
	CRON_WRITE,	/* the pipeline, with a valid base64 payload */
};

/*
 * Classify a raw command.  For CRON_WRITE, *data (malloc'd, NUL-terminated
 * for convenience) and *len hold the decoded crontab.  -1 when out of
 * memory, else the kind.
 */
int	 cron_match(const char *, size_t, unsigned char **, size_t *);
/*
 * Strict standard base64: [A-Za-z0-9+/], length a multiple of 4, padding
 * only at the end.  0 on success with *out malloc'd (NUL added); -1 else.
 */
int	 cron_b64_decode(const char *, size_t, unsigned char **, size_t *);
/*
 * Install data as the crontab of user (NULL: the caller's own, which is
 * what admin_run does) by running `crontab [-u user] -` with the bytes on
 * stdin, and read one back with `crontab [-u user] -l`.  As admin_exec.
 */
int	 cron_install(const char *, const void *, size_t, int,
	    struct admin_result *);
int	 cron_list(const char *, int, struct admin_result *);

#endif
