/*
 * admin.c: the admin_run policy of socketio-protocol.md §6.1: tokenising
 * without a shell, the forbidden characters, the operator's allowlist,
 * the cwd allowlist, the reduced environment, the rate limit and the
 * command token; then the output caps.  The runner is in admin_exec.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

#include "admin.h"
#include "compat.h"
#include "cron.h"

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#define ADMIN_SHA256(b, n, o)	mbedtls_sha256((b), (n), (o), 0)
#else
#define ADMIN_SHA256(b, n, o)	mbedtls_sha256_ret((b), (n), (o), 0)
#endif

static int
admin_isspace(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	    c == '\v' || c == '\f';
}

int
admin_blank(const char *s, size_t len)
{
	size_t	i;

	if (s == NULL)
		return 1;
	for (i = 0; i < len; i++)
		if (!admin_isspace((unsigned char)s[i]))
			return 0;
	return 1;
}

int
admin_forbidden(const char *s, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++) {
		switch (s[i]) {
		case ';': case '|': case '`': case '$':
		case '\r': case '\n': case '\0':
			return 1;
		case '&':
			if (i + 1 < len && s[i + 1] == '&')
				return 1;
			break;
		}
	}
	return 0;
}

/*
 * One allocation: the pointer array, then the token bytes.  A command of
 * len bytes has at most len / 2 + 1 tokens (they need a separator), and
 * their bytes plus NULs fit in 2 * len + 1.
 */
int
admin_tokenise(const char *s, size_t len, struct admin_argv *av,
    const char **why)
{
	size_t	 maxtok = len / 2 + 1, n = 0, i;
	char	*block, *o, *start, **argv;
	int	 sq = 0, dq = 0, esc = 0, intok = 0;

	av->argc = 0;
	av->argv = NULL;
	block = malloc((maxtok + 1) * sizeof(char *) + 2 * len + 1);
	if (block == NULL) {
		*why = "out of memory";
		return -1;
	}
	argv = (char **)(void *)block;
	o = start = block + (maxtok + 1) * sizeof(char *);
	for (i = 0; i < len; i++) {
		char	c = s[i];

		if (esc) {
			*o++ = c;
			esc = 0;
			intok = 1;
		} else if (c == '\\' && !sq) {
			esc = 1;
			intok = 1;
		} else if (c == '\'' && !dq) {
			sq = !sq;
			intok = 1;
		} else if (c == '"' && !sq) {
			dq = !dq;
			intok = 1;
		} else if ((c == ' ' || c == '\t') && !sq && !dq) {
			if (intok && o > start) {
				*o++ = '\0';
				argv[n++] = start;
				start = o;
			}
			intok = 0;
		} else {
			*o++ = c;
			intok = 1;
		}
	}
	if (esc || sq || dq) {
		free(block);
		*why = esc ? "dangling escape" : "unclosed quote";
		return -1;
	}
	/* Empty tokens (`""`) are dropped: only a token with bytes counts. */
	if (o > start) {
		*o++ = '\0';
		argv[n++] = start;
	}
	argv[n] = NULL;
	av->argc = n;
	av->argv = argv;
	return 0;
}

void
admin_argv_free(struct admin_argv *av)
{
	free(av->argv);
	av->argv = NULL;
	av->argc = 0;
}

/* ---- allowlist ---- */

int
admin_allow_add(struct admin_allow *al, const char *entry, const char **why)
{
	struct admin_argv	 av, *ne;
	size_t			 len;

	while (admin_isspace((unsigned char)*entry))
		entry++;
	len = strlen(entry);
	while (len > 0 && admin_isspace((unsigned char)entry[len - 1]))
		len--;
	if (len == 0) {
		*why = "empty entry";
		return -1;
	}
	if (admin_tokenise(entry, len, &av, why) == -1)
		return -1;
	if (av.argc == 0) {
		admin_argv_free(&av);
		*why = "empty entry";
		return -1;
	}
	ne = reallocarray(al->entries, al->n + 1, sizeof(*ne));
	if (ne == NULL) {
		admin_argv_free(&av);
		*why = "out of memory";
		return -1;
	}
	al->entries = ne;
	al->entries[al->n++] = av;
	return 0;
}

/* Tokens compare trimmed and ASCII lower-cased (a quoted " x" is "x"). */
static int
admin_token_eq(const char *a, const char *b)
{
	size_t		la, lb, i;
	unsigned char	ca, cb;

	while (admin_isspace((unsigned char)*a))
		a++;
	while (admin_isspace((unsigned char)*b))
		b++;
	la = strlen(a);
	lb = strlen(b);
	while (la > 0 && admin_isspace((unsigned char)a[la - 1]))
		la--;
	while (lb > 0 && admin_isspace((unsigned char)b[lb - 1]))
		lb--;
	if (la != lb)
		return 0;
	for (i = 0; i < la; i++) {
		ca = (unsigned char)a[i];
		cb = (unsigned char)b[i];
		if (ca >= 'A' && ca <= 'Z')
			ca += 'a' - 'A';
		if (cb >= 'A' && cb <= 'Z')
			cb += 'a' - 'A';
		if (ca != cb)
			return 0;
	}
	return 1;
}

int
admin_allow_match(const struct admin_allow *al, char *const *argv,
    size_t argc)
{
	size_t	i, j;

	for (i = 0; i < al->n; i++) {
		const struct admin_argv	*e = &al->entries[i];

		if (e->argc == 0 || e->argc > argc)
			continue;
		for (j = 0; j < e->argc; j++)
			if (!admin_token_eq(e->argv[j], argv[j]))
				break;
		if (j == e->argc)
			return 1;
	}
	return 0;
}

void
admin_allow_free(struct admin_allow *al)
{
	size_t	i;

	for (i = 0; i < al->n; i++)
		admin_argv_free(&al->entries[i]);
	free(al->entries);
	al->entries = NULL;
	al->n = 0;
}

/* ---- cwd ---- */

int
admin_path_under(const char *path, const char *root)
{
	size_t	rl = strlen(root);

	while (rl > 1 && root[rl - 1] == '/')
		rl--;
	if (rl == 1 && root[0] == '/')
		return path[0] == '/';
	if (strncmp(path, root, rl) != 0)
		return 0;
	return path[rl] == '\0' || path[rl] == '/';
}

enum admin_cwd
admin_cwd_check(const char *cwd, const char *const *allowed, size_t n,
    char resolved[PATH_MAX], int *err)
{
	char	root[PATH_MAX];
	size_t	i;

	*err = 0;
	/* realpath() resolves a relative path against the process cwd. */
	if (realpath(cwd, resolved) == NULL) {
		*err = errno;
		return ADMIN_CWD_INVALID;
	}
	for (i = 0; i < n; i++) {
		if (allowed[i] == NULL || allowed[i][0] == '\0' ||
		    realpath(allowed[i], root) == NULL)
			continue;
		if (admin_path_under(resolved, root))
			return ADMIN_CWD_OK;
	}
	return ADMIN_CWD_DENIED;
}

/* ---- environment ---- */

size_t
admin_env_build(char *const *env, char **out)
{
	static const char *const keep[ADMIN_ENV_MAX] = {
		"PATH", "HOME", "USER", "LANG", "LC_ALL", "TERM", "TMPDIR",
		"TEMP",
	};
	size_t	n = 0, i, kl;
	char	*const *e;

	for (i = 0; i < nitems(keep); i++) {
		kl = strlen(keep[i]);
		for (e = env; e != NULL && *e != NULL; e++) {
			if (strncmp(*e, keep[i], kl) == 0 && (*e)[kl] == '=') {
				out[n++] = *e;
				break;
			}
		}
	}
	out[n] = NULL;
	return n;
}

/* ---- rate limit ---- */

void
admin_rate_init(struct admin_rate *r, int max, int window_s, uint64_t now)
{
	if (window_s <= 0)
		window_s = ADMIN_RATE_WINDOW_DEFAULT;
	r->max = max > 0 ? (uint64_t)max : 0;
	r->window_ms = (uint64_t)window_s * 1000;
	r->start_ms = now;
	r->count = 0;
}

int
admin_rate_take(struct admin_rate *r, uint64_t now)
{
	if (r->max == 0)
		return 1;
	/* A clock that steps back keeps the window it is in. */
	if (now >= r->start_ms && now - r->start_ms >= r->window_ms) {
		r->start_ms = now;
		r->count = 0;
	}
	if (r->count >= r->max)
		return 0;
	r->count++;
	return 1;
}

/* ---- token ---- */

/* Digests first, so neither the content nor the length leaks in time. */
int
admin_token_ok(int require, const char *want, const char *got)
{
	unsigned char	a[32], b[32];

	if (!require)
		return 1;
	if (want == NULL || want[0] == '\0')
		return 0;
	if (got == NULL)
		got = "";
	if (ADMIN_SHA256((const unsigned char *)want, strlen(want), a) != 0 ||
	    ADMIN_SHA256((const unsigned char *)got, strlen(got), b) != 0)
		return 0;
	return timingsafe_bcmp(a, b, sizeof(a)) == 0;
}

/* ---- decision ---- */

static void
admin_refuse(struct admin_decision *d, int code, const char *stderr_text,
    const char *error)
{
	d->allow = 0;
	d->code = code;
	d->stderr_text = stderr_text;
	strlcpy(d->error, error, sizeof(d->error));
}

static int
admin_decide_cwd(struct admin_policy *p, const struct admin_request *rq,
    struct admin_decision *d)
{
	int	err;

	if (rq->cwd == NULL || rq->cwd[0] == '\0')
		return 0;
	switch (admin_cwd_check(rq->cwd, p->cwds, p->ncwds, d->cwd, &err)) {
	case ADMIN_CWD_OK:
		return 0;
	case ADMIN_CWD_INVALID:
		admin_refuse(d, 126, "command blocked: invalid cwd", "");
		snprintf(d->error, sizeof(d->error), "invalid cwd: %s",
		    strerror(err));
		break;
	case ADMIN_CWD_DENIED:
		admin_refuse(d, 126, "command blocked: cwd not allowed",
		    "cwd not allowed");
		break;
	}
	d->cwd[0] = '\0';
	return -1;
}

static int
admin_decide_cron(struct admin_decision *d)
{
	static const char	cron_tokens[] = "crontab -";
	const char		*why;

	if (admin_tokenise(cron_tokens, sizeof(cron_tokens) - 1, &d->argv,
	    &why) == -1)
		return -1;
	d->cron_write = 1;
	return 0;
}

int
admin_decide(struct admin_policy *p, const struct admin_request *rq,
    uint64_t now, struct admin_decision *d)
{
	const char	*why;
	int		 kind;

	memset(d, 0, sizeof(*d));
	d->stderr_text = "";
	if (!admin_token_ok(p->require_token, p->command_token, rq->token)) {
		admin_refuse(d, 401, "unauthorized", "unauthorized");
		return 0;
	}
	if (admin_blank(rq->command, rq->command_len)) {
		admin_refuse(d, 1, "", "empty command");
		return 0;
	}
	if (!admin_rate_take(&p->rate, now)) {
		admin_refuse(d, 429, "rate limited", "rate limited");
		return 0;
	}
	kind = cron_match(rq->command, rq->command_len, &d->stdin_data,
	    &d->stdin_len);
	if (kind == -1)
		return -1;
	if (kind == CRON_WRITE) {
		if (admin_decide_cron(d) == -1)
			return -1;
	} else if (admin_forbidden(rq->command, rq->command_len)) {
		admin_refuse(d, 126, "command blocked: forbidden characters",
		    "command contains forbidden characters");
		return 0;
	} else if (admin_tokenise(rq->command, rq->command_len, &d->argv,
	    &why) == -1) {
		if (strcmp(why, "out of memory") == 0)
			return -1;
		admin_refuse(d, 126, "command blocked: invalid command", "");
		snprintf(d->error, sizeof(d->error), "invalid command: %s",
		    why);
		return 0;
	} else if (d->argv.argc == 0) {
		admin_refuse(d, 126, "command blocked: invalid command",
		    "invalid command: no tokens");
		return 0;
	}
	if (!admin_allow_match(&p->allow, d->argv.argv, d->argv.argc)) {
		admin_refuse(d, 126, "command blocked by allowlist",
		    "command not allowed");
		return 0;
	}
	if (admin_decide_cwd(p, rq, d) == -1)
		return 0;
	d->allow = 1;
	return 0;
}

void
admin_decision_free(struct admin_decision *d)
{
	admin_argv_free(&d->argv);
	free(d->stdin_data);
	d->stdin_data = NULL;
	d->stdin_len = 0;
}

/* ---- output caps ---- */

/* Length of the UTF-8 sequence starting at s[0], or 0 if invalid. */
static size_t
admin_utf8_seq(const unsigned char *s, size_t len)
{
	size_t		need, i;
	uint32_t	cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		need = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		need = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len < need)
		return 0;
	for (i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need;
}

size_t
admin_utf8_cut(const char *buf, size_t len, size_t cap)
{
	const unsigned char	*s = (const unsigned char *)buf;
	size_t			 i, lead, need;

	if (len <= cap)
		return len;
	i = cap;
	while (i > 0 && cap - i < 3 && (s[i - 1] & 0xc0) == 0x80)
		i--;
	if (i == 0)
		return cap;
	lead = i - 1;
	if (s[lead] >= 0xc2 && s[lead] <= 0xdf)
		need = 2;
	else if (s[lead] >= 0xe0 && s[lead] <= 0xef)
		need = 3;
	else if (s[lead] >= 0xf0 && s[lead] <= 0xf4)
		need = 4;
	else
		return cap;
	/* The sequence straddles the cut when it needs more than is left. */
	return cap - lead < need ? lead : cap;
}

size_t
admin_json_len(const char *buf, size_t len)
{
	const unsigned char	*s = (const unsigned char *)buf;
	size_t			 i = 0, n = 0, k;

	while (i < len) {
		if (s[i] == '"' || s[i] == '\\' || s[i] == '\b' ||
		    s[i] == '\f' || s[i] == '\n' || s[i] == '\r' ||
		    s[i] == '\t') {
			n += 2;
			i++;
		} else if (s[i] < 0x20) {
			n += 6;
			i++;
		} else if ((k = admin_utf8_seq(s + i, len - i)) == 0) {
			n += 3;		/* U+FFFD */
			i++;
		} else {
			n += k;
			i += k;
		}
	}
	return n;
}

int
admin_fit(const char *out, size_t out_len, const char *err, size_t err_len,
    size_t fixed, size_t max_payload, size_t *out_n, size_t *err_n)
{
	size_t	cap = ADMIN_OUT_CAP;

	for (;;) {
		*out_n = admin_utf8_cut(out, out_len, cap);
		*err_n = admin_utf8_cut(err, err_len, cap);
		if (cap == 0 || fixed + admin_json_len(out, *out_n) +
		    admin_json_len(err, *err_n) <= max_payload)
			break;
		cap /= 2;
	}
	return *out_n < out_len || *err_n < err_len;
}

/* ---- logging ---- */

void
admin_log_preview(const char *cmd, size_t len, char out[ADMIN_PREVIEW_MAX])
{
	unsigned char	*data;
	size_t		 n, i, dlen;
	int		 kind;

	kind = cron_match(cmd, len, &data, &dlen);
	free(data);
	if (kind == CRON_WRITE) {
		strlcpy(out, "cron update pipeline (redacted)", ADMIN_PREVIEW_MAX);
		return;
	}
	n = admin_utf8_cut(cmd, len, 120);
	for (i = 0; i < n; i++) {
		unsigned char	c = (unsigned char)cmd[i];

		out[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	if (n < len) {
		memcpy(out + n, "\xe2\x80\xa6", 3);	/* … */
		n += 3;
	}
	out[n] = '\0';
}

void
admin_log_token(const char *tok, char out[ADMIN_PREVIEW_MAX])
{
	size_t	n = tok != NULL ? strlen(tok) : 0;

	if (n <= 10) {
		strlcpy(out, tok != NULL ? tok : "", ADMIN_PREVIEW_MAX);
		return;
	}
	memcpy(out, tok, 4);
	memcpy(out + 4, "\xe2\x80\xa6", 3);
	memcpy(out + 7, tok + n - 4, 4);
	out[11] = '\0';
}
