/*
 * glob.c: doublestar-style matching for backup ignore globs.  Braces are
 * expanded first (bounded), then pattern and path are split on `/` and
 * matched segment by segment with a table, so `**` costs O(segments²)
 * rather than backtracking exponentially.
 */
#include <stdlib.h>
#include <string.h>

#include "glob.h"

/* Index just past the class starting at p[0] == '[', or 0 if unclosed. */
static size_t
glob_class_end(const char *p, size_t n)
{
	size_t	i = 1;

	if (i < n && (p[i] == '!' || p[i] == '^'))
		i++;
	if (i < n && p[i] == ']')
		i++;
	for (; i < n; i++) {
		if (p[i] == '\\') {
			if (++i == n)
				return 0;
		} else if (p[i] == ']')
			return i + 1;
	}
	return 0;
}

int
glob_valid(const char *p)
{
	size_t	n = strlen(p), i, e;
	int	depth = 0;

	for (i = 0; i < n; i++) {
		if (p[i] == '\\') {
			if (++i == n)
				return 0;
		} else if (p[i] == '[') {
			if ((e = glob_class_end(p + i, n - i)) == 0)
				return 0;
			i += e - 1;
		} else if (p[i] == '{')
			depth++;
		else if (p[i] == '}' && --depth < 0)
			return 0;
	}
	return depth == 0;
}

/* Does c match the class p[0..n) (p[0] == '[')? */
static int
glob_class(const char *p, size_t n, unsigned char c)
{
	size_t		i = 1;
	int		neg = 0, hit = 0;
	unsigned char	lo, hi;

	if (p[i] == '!' || p[i] == '^')
		neg = 1, i++;
	for (; i < n - 1; i++) {
		if (i > 1 + (size_t)neg && p[i] == ']')
			break;
		if (p[i] == '\\')
			i++;
		lo = (unsigned char)p[i];
		hi = lo;
		if (i + 2 < n - 1 && p[i + 1] == '-' && p[i + 2] != ']') {
			i += 2;
			if (p[i] == '\\')
				i++;
			hi = (unsigned char)p[i];
		}
		if (c >= lo && c <= hi)
			hit = 1;
	}
	return hit != neg;
}

/* One segment against one segment; no `/` in either. */
static int
glob_seg(const char *p, size_t pn, const char *s, size_t sn)
{
	size_t	pi = 0, si = 0, star_p = (size_t)-1, star_s = 0, e;

	while (si < sn) {
		if (pi < pn && p[pi] == '*') {
			while (pi < pn && p[pi] == '*')
				pi++;
			star_p = pi;
			star_s = si;
			continue;
		}
		if (pi < pn && p[pi] == '?') {
			pi++, si++;
			continue;
		}
		if (pi < pn && p[pi] == '[' &&
		    (e = glob_class_end(p + pi, pn - pi)) != 0) {
			if (glob_class(p + pi, e, (unsigned char)s[si])) {
				pi += e, si++;
				continue;
			}
		} else if (pi < pn) {
			size_t	q = pi;

			if (p[q] == '\\' && q + 1 < pn)
				q++;
			if (p[q] == s[si]) {
				pi = q + 1, si++;
				continue;
			}
		}
		if (star_p == (size_t)-1)
			return 0;
		pi = star_p;
		si = ++star_s;
	}
	while (pi < pn && p[pi] == '*')
		pi++;
	return pi == pn;
}

struct glob_segs {
	size_t		 n;
	const char	*s[GLOB_SEGS_MAX];
	size_t		 len[GLOB_SEGS_MAX];
};

static int
glob_split(const char *s, struct glob_segs *g)
{
	const char	*p = s, *q;

	g->n = 0;
	for (;;) {
		if (g->n == GLOB_SEGS_MAX)
			return -1;
		q = strchr(p, '/');
		g->s[g->n] = p;
		g->len[g->n++] = q == NULL ? strlen(p) : (size_t)(q - p);
		if (q == NULL)
			return 0;
		p = q + 1;
	}
}

static int
glob_is_dstar(const struct glob_segs *g, size_t i)
{
	return g->len[i] == 2 && g->s[i][0] == '*' && g->s[i][1] == '*';
}

/* Brace-free pattern against path: dp[i][j] = pat[i..] matches path[j..]. */
static int
glob_match_plain(const char *pat, const char *path)
{
	struct glob_segs	*gp, *gs;
	unsigned char		*dp;
	size_t			 i, j, w, k;
	int			 rc = 0;

	gp = malloc(sizeof(*gp));
	gs = malloc(sizeof(*gs));
	if (gp == NULL || gs == NULL || glob_split(pat, gp) == -1 ||
	    glob_split(path, gs) == -1)
		goto out;
	w = gs->n + 1;
	if ((dp = calloc((gp->n + 1) * w, 1)) == NULL)
		goto out;
	dp[gp->n * w + gs->n] = 1;
	for (i = gp->n; i-- > 0;) {
		for (j = gs->n + 1; j-- > 0;) {
			if (glob_is_dstar(gp, i)) {
				for (k = j; k <= gs->n && !dp[i * w + j]; k++)
					dp[i * w + j] = dp[(i + 1) * w + k];
			} else if (j < gs->n)
				dp[i * w + j] = dp[(i + 1) * w + j + 1] &&
				    glob_seg(gp->s[i], gp->len[i], gs->s[j],
				    gs->len[j]);
		}
	}
	rc = dp[0];
	free(dp);
out:
	free(gp);
	free(gs);
	return rc;
}

/* Closing brace and the top-level commas of the group at p[0] == '{'. */
static size_t
glob_brace_end(const char *p)
{
	size_t	i;
	int	depth = 0;

	for (i = 0; p[i] != '\0'; i++) {
		if (p[i] == '\\' && p[i + 1] != '\0')
			i++;
		else if (p[i] == '[') {
			size_t	e = glob_class_end(p + i, strlen(p + i));

			if (e != 0)
				i += e - 1;
		} else if (p[i] == '{')
			depth++;
		else if (p[i] == '}' && --depth == 0)
			return i;
	}
	return 0;
}

static int
glob_expand(const char *pat, const char *path, int *budget)
{
	const char	*b = NULL, *alt;
	char		*buf;
	size_t		 i, end, plen = strlen(pat), blen;
	int		 depth, rc = 0;

	/*
	 * Every call costs one, not only the leaves: a substitution can
	 * leave a group that no longer closes, and such dead ends must not
	 * be free, or the tree is walked in full.
	 */
	if (--*budget < 0)
		return 0;
	for (i = 0; pat[i] != '\0'; i++) {
		if (pat[i] == '\\' && pat[i + 1] != '\0')
			i++;
		else if (pat[i] == '[') {
			size_t	e = glob_class_end(pat + i, plen - i);

			if (e != 0)
				i += e - 1;
		} else if (pat[i] == '{') {
			b = pat + i;
			break;
		}
	}
	if (b == NULL)
		return glob_match_plain(pat, path);
	if ((end = glob_brace_end(b)) == 0 || (buf = malloc(plen + 1)) == NULL)
		return 0;
	/* Each top-level alternative replaces the group, then recurse. */
	for (alt = b + 1; rc == 0 && *budget >= 0 && alt <= b + end; alt++) {
		const char	*a = alt;

		for (depth = 0; alt < b + end; alt++) {
			size_t	e;

			if (*alt == '\\')
				alt++;
			else if (*alt == '[' && (e = glob_class_end(alt,
			    (size_t)(b + end - alt))) != 0)
				alt += e - 1;	/* a comma in a class is no split */
			else if (*alt == '{')
				depth++;
			else if (*alt == '}')
				depth--;
			else if (*alt == ',' && depth == 0)
				break;
		}
		blen = (size_t)(b - pat);
		memcpy(buf, pat, blen);
		memcpy(buf + blen, a, (size_t)(alt - a));
		strcpy(buf + blen + (alt - a), b + end + 1);
		rc = glob_expand(buf, path, budget);
		if (*budget < 0)
			rc = 0;
	}
	free(buf);
	return rc;
}

int
glob_match(const char *pat, const char *path)
{
	int	budget = GLOB_EXPAND_MAX;

	if (!glob_valid(pat))
		return 0;
	return glob_expand(pat, path, &budget);
}

static int
glob_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
	    c == '\v' || c == '\f';
}

int
glob_set_add(struct glob_set *g, const char *pat)
{
	char	**np, *d;
	size_t	  len;

	while (glob_space((unsigned char)*pat))
		pat++;
	len = strlen(pat);
	while (len > 0 && glob_space((unsigned char)pat[len - 1]))
		len--;
	if (len == 0)
		return 0;
	if ((d = strndup(pat, len)) == NULL)
		return -1;
	if ((np = reallocarray(g->pats, g->n + 1, sizeof(*np))) == NULL) {
		free(d);
		return -1;
	}
	g->pats = np;
	g->pats[g->n++] = d;
	return 0;
}

int
glob_set_match(const struct glob_set *g, const char *path)
{
	size_t	i;

	for (i = 0; i < g->n; i++)
		if (glob_match(g->pats[i], path))
			return 1;
	return 0;
}

void
glob_set_free(struct glob_set *g)
{
	size_t	i;

	for (i = 0; i < g->n; i++)
		free(g->pats[i]);
	free(g->pats);
	g->pats = NULL;
	g->n = 0;
}
