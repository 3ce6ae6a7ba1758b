/*
 * keys.h: key sync (socketio-protocol.md §6.3) after the fetch: validate
 * the fetched lines, merge them into a user's authorized_keys, write it
 * atomically with the right owner and modes, or write nothing.
 */
#ifndef KEYS_H
#define KEYS_H

#include <sys/types.h>

#include <stddef.h>

#define KEYS_LINE_MAX	8192
#define KEYS_USER_MAX	39
#define KEYS_FILE_MAX	(4 * 1024 * 1024)	/* existing file read cap */
#define KEYS_ERROR_MAX	256

/*
 * Trim user and check ^[A-Za-z0-9-]{1,39}$; out gets the trimmed name.
 * 0 valid, -1 not.
 */
int	 keys_user_check(const char *, char [KEYS_USER_MAX + 1]);
/*
 * One trimmed line: at most 8192 bytes, no control characters except
 * tab, field 1 an allowed key type (so no options), field 2 strict
 * base64 that decodes to an SSH key blob whose embedded type string is
 * field 1.  1 valid; 0 invalid with *why set.
 */
int	 keys_line_valid(const char *, size_t, const char **);

struct keys_list {
	size_t	  n;
	char	**lines;		/* NUL-terminated, trimmed */
};
/*
 * Split a fetched body on LF, trim each line (CR included), keep the
 * valid ones, dropping repeats of the same type and body.  0, or -1 out
 * of memory.  An empty result is the caller's "no valid keys found".
 */
int	 keys_filter(const char *, size_t, struct keys_list *);
void	 keys_list_free(struct keys_list *);

/*
 * Merge keys into <home>/.ssh/authorized_keys for uid:gid.  .ssh is made
 * 0700 (owned by uid) when missing; a symlinked .ssh or authorized_keys,
 * or a .ssh owned by someone else, is refused.  A key counts as present
 * when an existing line equals it once trimmed or carries the same type
 * and body (options and comments aside).  With nothing new, nothing is
 * written.  0 with *added set, or -1 with err filled.
 */
int	 keys_install(const char *, uid_t, gid_t, const struct keys_list *,
	    int *, char *, size_t);

#endif
