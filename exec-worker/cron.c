/*
 * cron.c: the dashboard cron editor's flows (socketio-protocol.md §6.2).
 * The write arrives as a shell pipeline; it is matched exactly against
 * the spec's pattern, decoded here and fed to `crontab -` on stdin.
 */
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "cron.h"

/* RE2's \s: [\t\n\f\r ] (no \v). */
static int
cron_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

static int
cron_b64_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/';
}

static int
cron_b64_val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : 63;
}

int
cron_b64_decode(const char *s, size_t len, unsigned char **out,
    size_t *outlen)
{
	unsigned char	*o;
	size_t		 i, n = 0, pad = 0;
	uint32_t	 v;
	int		 k;

	*out = NULL;
	*outlen = 0;
	if (len == 0 || len % 4 != 0)
		return -1;
	if (s[len - 1] == '=')
		pad++;
	if (s[len - 2] == '=')
		pad++;
	if (pad == 1 && s[len - 2] == '=')
		return -1;
	for (i = 0; i < len - pad; i++)
		if (!cron_b64_char((unsigned char)s[i]))
			return -1;
	if ((o = malloc(len / 4 * 3 + 1)) == NULL)
		return -1;
	for (i = 0; i < len; i += 4) {
		v = 0;
		for (k = 0; k < 4; k++)
			v = v << 6 | (s[i + k] == '=' ? 0 :
			    (uint32_t)cron_b64_val((unsigned char)s[i + k]));
		o[n++] = v >> 16;
		if (s[i + 2] != '=')
			o[n++] = (v >> 8) & 0xff;
		if (s[i + 3] != '=')
			o[n++] = v & 0xff;
	}
	o[n] = '\0';
	*out = o;
	*outlen = n;
	return 0;
}

/* Skip \s*, or \s+ when need is set; NULL when a needed space is absent. */
static const char *
cron_skip(const char *p, const char *end, int need)
{
	const char	*q = p;

	while (q < end && cron_space((unsigned char)*q))
		q++;
	return need && q == p ? NULL : q;
}

static const char *
cron_word(const char *p, const char *end, const char *w)
{
	size_t	n = strlen(w);

	if (p == NULL || (size_t)(end - p) < n || memcmp(p, w, n) != 0)
		return NULL;
	return p + n;
}

/*
 * ^\s*echo\s+['"]?([A-Za-z0-9+/=]+)['"]?\s*\|\s*base64\s+-d\s*\|
 * \s*crontab\s+-\s*$, by hand: the group is the maximal run of its
 * charset, as the greedy regex takes it (nothing after it may be in it).
 */
static int
cron_match_write(const char *s, size_t len, const char **b64, size_t *b64len)
{
	const char	*p = s, *end = s + len, *g;

	p = cron_word(cron_skip(p, end, 0), end, "echo");
	if (p == NULL || (p = cron_skip(p, end, 1)) == NULL)
		return 0;
	if (p < end && (*p == '\'' || *p == '"'))
		p++;
	for (g = p; p < end && (cron_b64_char((unsigned char)*p) ||
	    *p == '='); p++)
		;
	if (p == g)
		return 0;
	*b64 = g;
	*b64len = (size_t)(p - g);
	if (p < end && (*p == '\'' || *p == '"'))
		p++;
	p = cron_word(cron_skip(p, end, 0), end, "|");
	if (p == NULL)
		return 0;
	p = cron_word(cron_skip(p, end, 0), end, "base64");
	if (p == NULL || (p = cron_skip(p, end, 1)) == NULL)
		return 0;
	p = cron_word(p, end, "-d");
	if (p == NULL)
		return 0;
	p = cron_word(cron_skip(p, end, 0), end, "|");
	if (p == NULL)
		return 0;
	p = cron_word(cron_skip(p, end, 0), end, "crontab");
	if (p == NULL || (p = cron_skip(p, end, 1)) == NULL)
		return 0;
	p = cron_word(p, end, "-");
	if (p == NULL)
		return 0;
	return cron_skip(p, end, 0) == end;
}

static int
cron_match_read(const char *s, size_t len)
{
	const char	*p, *end = s + len;

	p = cron_word(cron_skip(s, end, 0), end, "crontab");
	if (p == NULL || (p = cron_skip(p, end, 1)) == NULL)
		return 0;
	p = cron_word(p, end, "-l");
	return p != NULL && cron_skip(p, end, 0) == end;
}

int
cron_match(const char *s, size_t len, unsigned char **data, size_t *dlen)
{
	const char	*b64;
	size_t		 b64len;

	*data = NULL;
	*dlen = 0;
	if (s == NULL)
		return CRON_NONE;
	if (cron_match_read(s, len))
		return CRON_READ;
	if (!cron_match_write(s, len, &b64, &b64len))
		return CRON_NONE;
	/* A payload that does not decode is no cron write (§6.2 step 1). */
	if (cron_b64_decode(b64, b64len, data, dlen) == -1)
		return CRON_NONE;
	return CRON_WRITE;
}

/* crontab [-u user] <op>, with stdin_data on its stdin when not NULL. */
static int
cron_run(const char *user, char *op, const void *stdin_data, size_t len,
    int timeout_s, struct admin_result *res)
{
	struct admin_spawn	 sp;
	char			*argv[5];
	size_t			 n = 0;

	argv[n++] = "crontab";
	if (user != NULL) {
		argv[n++] = "-u";
		argv[n++] = (char *)user;
	}
	argv[n++] = op;
	argv[n] = NULL;
	memset(&sp, 0, sizeof(sp));
	sp.argv = argv;
	sp.stdin_data = stdin_data;
	sp.stdin_len = len;
	return admin_exec(&sp, timeout_s, res);
}

int
cron_install(const char *user, const void *data, size_t len, int timeout_s,
    struct admin_result *res)
{
	/* A pipe even for an empty crontab: stdin must not be /dev/null. */
	return cron_run(user, "-", data != NULL ? data : "", len, timeout_s,
	    res);
}

int
cron_list(const char *user, int timeout_s, struct admin_result *res)
{
	return cron_run(user, "-l", NULL, 0, timeout_s, res);
}
