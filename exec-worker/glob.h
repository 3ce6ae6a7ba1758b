/*
 * glob.h: backup ignore globs (socketio-protocol.md §6.4 step 4), with
 * doublestar semantics: the pattern matches the whole path, `*` and `?`
 * stay within a segment, `**` as a whole segment spans zero or more
 * segments, `[abc]` `[!a]` `[a-z]` classes, `{a,b}` alternatives and `\`
 * escapes.  A pattern that does not parse, or whose braces expand
 * beyond GLOB_EXPAND_MAX steps, never matches.
 */
#ifndef GLOB_H
#define GLOB_H

#include <stddef.h>

#define GLOB_EXPAND_MAX	256	/* brace expansion steps per match */
#define GLOB_SEGS_MAX	256

/* 1 when pattern matches path; 0 when not, or when it does not parse. */
int	 glob_match(const char *, const char *);
/* 1 when the pattern parses (balanced [] and {}, no dangling escape). */
int	 glob_valid(const char *);

/* Trimmed, non-blank patterns; matching any of them ignores a path. */
struct glob_set {
	size_t	  n;
	char	**pats;
};
int	 glob_set_add(struct glob_set *, const char *);	/* -1 no memory */
int	 glob_set_match(const struct glob_set *, const char *);
void	 glob_set_free(struct glob_set *);

#endif
