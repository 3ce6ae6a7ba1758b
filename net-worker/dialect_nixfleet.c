/*
 * dialect_nixfleet.c: JSON for the nixfleet dashboard (spec
 * nixfleet-protocol.md §1.3, §2).  Outgoing messages are built from the
 * exec-worker's facts in upstream's field order; incoming frames are
 * parsed once, checked, and reduced to struct nixfleet_in so that no JSON
 * value outlives this file.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "compat.h"
#include "dialect_nixfleet.h"

/*
 * Metrics are thousandths sent as reals: 15 significant digits print
 * 480/1000.0 as 0.48, where jansson's default of 17 prints
 * 0.47999999999999998, and still hold every int32 milli value exactly.
 * Objects keep insertion order, which is upstream's struct order.
 */
#define NF_DUMP_FLAGS	(JSON_COMPACT | JSON_PRESERVE_ORDER | \
			    JSON_REAL_PRECISION(15))

/*
 * Duplicate keys are refused: which of two "command" values a lenient
 * parser picks is exactly the ambiguity a hostile frame would exploit.
 * NUL is allowed inside strings because Go's decoder allows it; the
 * fields we use are checked byte by byte anyway.  Any JSON value is
 * parsed, so that a scalar frame is reported as "not a JSON object".
 */
#define NF_LOAD_FLAGS	(JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | \
			    JSON_DECODE_ANY)

#define NF_COMMAND_MAX	63	/* bytes, as struct nixfleet_in.command */
#define NF_SIGNAL_MAX	15

/* The fixed-size arrays of proto.h: bounded even if not terminated. */
#define NF_ARRAY(a)	(a), sizeof(a)

static size_t	 utf8_seqlen(const unsigned char *, size_t);
static json_t	*nixfleet_json_bytes(const char *, size_t);
static int	 nixfleet_put_str(json_t *, const char *, const char *,
		    size_t, int);
static json_t	*nixfleet_metrics(const struct ipc_facts *);
static json_t	*nixfleet_update_status(const struct nixfleet_update *);
static char	*nixfleet_envelope(const char *, json_t *);
static void	 nixfleet_invalid(struct nixfleet_in *, const char *, ...)
		    __printflike(2, 3);
static void	 nixfleet_copy_printable(char *, size_t, const char *,
		    size_t);
static void	 nixfleet_copy_utf8(char *, size_t, const char *, size_t);
static int	 nixfleet_is(const char *, size_t, const char *);
static void	 nixfleet_decode_registered(struct nixfleet_in *, json_t *);
static void	 nixfleet_decode_command(struct nixfleet_in *, json_t *);
static void	 nixfleet_decode_kill(struct nixfleet_in *, json_t *);

/* ---------------------------------------------------------------- */
/* UTF-8 */

/*
 * Length of the valid UTF-8 sequence at p (n > 0 bytes left), or 0 if the
 * byte at p does not start one.  The second-byte ranges are those of
 * RFC 3629 §4, which exclude overlong forms, surrogates and code points
 * above U+10FFFF; they are also what Go's utf8.DecodeRune accepts.
 */
static size_t
utf8_seqlen(const unsigned char *p, size_t n)
{
	unsigned char	 lo = 0x80, hi = 0xbf;
	size_t		 need, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		need = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		need = 3;
		if (p[0] == 0xe0)
			lo = 0xa0;
		else if (p[0] == 0xed)
			hi = 0x9f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		need = 4;
		if (p[0] == 0xf0)
			lo = 0x90;
		else if (p[0] == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n < need || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < need; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return need;
}

int
nixfleet_utf8_valid(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, k;

	while (i < len) {
		if ((k = utf8_seqlen(p + i, len - i)) == 0)
			return 0;
		i += k;
	}
	return 1;
}

char *
nixfleet_utf8_sanitize(const char *s, size_t len, size_t *outlen)
{
	static const char	 fffd[] = "\xef\xbf\xbd";
	const unsigned char	*p = (const unsigned char *)s;
	char			*out;
	size_t			 i, k, n = 0;

	/* Each replaced byte grows to 3: size the copy first. */
	if (len > (SIZE_MAX - 1) / 3) {
		errno = ENOMEM;
		return NULL;
	}
	for (i = 0; i < len; i += k) {
		if ((k = utf8_seqlen(p + i, len - i)) == 0) {
			k = 1;
			n += 3;
		} else
			n += k;
	}
	if ((out = malloc(n + 1)) == NULL)
		return NULL;
	n = 0;
	for (i = 0; i < len; i += k) {
		if ((k = utf8_seqlen(p + i, len - i)) == 0) {
			k = 1;
			memcpy(out + n, fffd, 3);
			n += 3;
		} else {
			memcpy(out + n, s + i, k);
			n += k;
		}
	}
	out[n] = '\0';
	if (outlen != NULL)
		*outlen = n;
	return out;
}

/* ---------------------------------------------------------------- */
/* Encoding */

/*
 * A JSON string of at most max bytes of s (NULL is ""), made valid UTF-8
 * first: jansson refuses invalid text, and §1.3 wants U+FFFD instead.
 */
json_t *
nixfleet_json_str(const char *s, size_t max)
{
	json_t	*j;
	char	*clean;
	size_t	 len, n;

	if (s == NULL)
		s = "";
	/* SIZE_MAX means "no bound": strnlen's bound must fit an object. */
	len = max == SIZE_MAX ? strlen(s) : strnlen(s, max);
	if (nixfleet_utf8_valid(s, len))
		return json_stringn_nocheck(s, len);
	if ((clean = nixfleet_utf8_sanitize(s, len, &n)) == NULL)
		return NULL;
	j = json_stringn_nocheck(clean, n);
	free(clean);
	return j;
}

/* The same for len bytes that may hold NUL (a child's output line). */
static json_t *
nixfleet_json_bytes(const char *s, size_t len)
{
	json_t	*j;
	char	*clean;
	size_t	 n;

	if (s == NULL)
		return json_string("");
	if (nixfleet_utf8_valid(s, len))
		return json_stringn_nocheck(s, len);
	if ((clean = nixfleet_utf8_sanitize(s, len, &n)) == NULL)
		return NULL;
	j = json_stringn_nocheck(clean, n);
	free(clean);
	return j;
}

/* Set o[key]; omitempty leaves an empty string out (§1.3). */
static int
nixfleet_put_str(json_t *o, const char *key, const char *s, size_t max,
    int omitempty)
{
	if (omitempty && (s == NULL || max == 0 || s[0] == '\0'))
		return 0;
	return json_object_set_new(o, key, nixfleet_json_str(s, max));
}

/* {"cpu","ram","swap","load"} from thousandths, or null (§2.3, §3.4). */
static json_t *
nixfleet_metrics(const struct ipc_facts *f)
{
	json_t	*m;

	if ((f->flags & IPC_FACTF_METRICS) == 0)
		return json_null();
	if ((m = json_object()) == NULL)
		return NULL;
	if (json_object_set_new(m, "cpu", json_real(f->cpu_milli / 1000.0)) ||
	    json_object_set_new(m, "ram", json_real(f->ram_milli / 1000.0)) ||
	    json_object_set_new(m, "swap",
	    json_real(f->swap_milli / 1000.0)) ||
	    json_object_set_new(m, "load",
	    json_real(f->load_milli / 1000.0))) {
		json_decref(m);
		return NULL;
	}
	return m;
}

/* Always the full object, four SCs of three keys each (§2.3). */
static json_t *
nixfleet_update_status(const struct nixfleet_update *u)
{
	static const char *const	 names[NF_SC_MAX] = {
		[NF_SC_GIT] = "git",
		[NF_SC_LOCK] = "lock",
		[NF_SC_SYSTEM] = "system",
		[NF_SC_TESTS] = "tests",
	};
	const struct nixfleet_sc	*c;
	json_t				*us, *sc;
	size_t				 i;

	if ((us = json_object()) == NULL)
		return NULL;
	for (i = 0; i < NF_SC_MAX; i++) {
		c = u != NULL ? u->sc[i] : NULL;
		/* us holds the reference; sc stays valid while we fill it. */
		if ((sc = json_object()) == NULL ||
		    json_object_set_new(us, names[i], sc) == -1)
			goto fail;
		if (nixfleet_put_str(sc, "status",
		    c != NULL ? c->status : NULL, SIZE_MAX, 0) == -1 ||
		    nixfleet_put_str(sc, "message",
		    c != NULL ? c->message : NULL, SIZE_MAX, 0) == -1 ||
		    nixfleet_put_str(sc, "checked_at",
		    c != NULL ? c->checked_at : NULL, SIZE_MAX, 0) == -1)
			goto fail;
	}
	return us;
 fail:
	json_decref(us);
	return NULL;
}

/* {"type":type,"payload":payload} as text; takes payload's reference. */
static char *
nixfleet_envelope(const char *type, json_t *payload)
{
	json_t	*root;
	char	*s = NULL;

	if (payload == NULL)
		return NULL;
	if ((root = json_object()) == NULL) {
		json_decref(payload);
		return NULL;
	}
	if (json_object_set_new(root, "type", json_string(type)) == -1) {
		json_decref(payload);
		goto fail;
	}
	if (json_object_set_new(root, "payload", payload) == -1)
		goto fail;
	s = json_dumps(root, NF_DUMP_FLAGS);
 fail:
	json_decref(root);
	return s;
}

char *
nixfleet_event(const char *type, json_t *payload)
{
	return nixfleet_envelope(type, payload);
}

char *
nixfleet_register(const struct ipc_facts *f, const struct ipc_net_config *cfg)
{
	return nixfleet_register_as(f, cfg, NULL);
}

/* §2.1, in the table's order. */
char *
nixfleet_register_as(const struct ipc_facts *f,
    const struct ipc_net_config *cfg, const char *version)
{
	json_t	*p;

	if (version == NULL || version[0] == '\0')
		version = AGENT_VERSION;

	if ((p = json_object()) == NULL)
		return NULL;
	if (nixfleet_put_str(p, "hostname", NF_ARRAY(f->hostname), 0) ||
	    nixfleet_put_str(p, "host_type", NF_ARRAY(f->host_type), 0) ||
	    nixfleet_put_str(p, "agent_version", version, IPC_SHORT_MAX, 0) ||
	    nixfleet_put_str(p, "os_version", NF_ARRAY(f->os_version), 0) ||
	    nixfleet_put_str(p, "nixpkgs_version",
	    NF_ARRAY(f->nixpkgs_version), 0) ||
	    nixfleet_put_str(p, "generation", NF_ARRAY(f->generation), 0) ||
	    nixfleet_put_str(p, "theme_color",
	    NF_ARRAY(cfg->theme_color), 0) ||
	    json_object_set_new(p, "heartbeat_interval",
	    json_integer(cfg->interval_s)) ||
	    nixfleet_put_str(p, "location", NF_ARRAY(cfg->location), 0) ||
	    nixfleet_put_str(p, "device_type",
	    NF_ARRAY(cfg->device_type), 0) ||
	    nixfleet_put_str(p, "repo_url", NF_ARRAY(cfg->repo_url), 0) ||
	    nixfleet_put_str(p, "repo_dir", NF_ARRAY(f->repo_dir), 0) ||
	    nixfleet_put_str(p, "source_commit",
	    NF_ARRAY(f->source_commit), 1) ||
	    nixfleet_put_str(p, "store_path", NF_ARRAY(f->store_path), 1) ||
	    nixfleet_put_str(p, "binary_hash", NF_ARRAY(f->binary_hash), 1)) {
		json_decref(p);
		return NULL;
	}
	return nixfleet_envelope("register", p);
}

char *
nixfleet_heartbeat(const struct ipc_facts *f, const struct nixfleet_busy *b)
{
	return nixfleet_heartbeat_update(f, b, NULL);
}

/* §2.3, in the table's order. */
char *
nixfleet_heartbeat_update(const struct ipc_facts *f,
    const struct nixfleet_busy *b, const struct nixfleet_update *u)
{
	json_t	*p;
	int	 busy = b != NULL && b->command != NULL;

	if ((p = json_object()) == NULL)
		return NULL;
	/* Each value is made inside the call that takes it: nothing leaks. */
	if (nixfleet_put_str(p, "generation", NF_ARRAY(f->generation), 0) ||
	    nixfleet_put_str(p, "nixpkgs_version",
	    NF_ARRAY(f->nixpkgs_version), 0) ||
	    json_object_set_new(p, "pending_command", busy ?
	    nixfleet_json_str(b->command, SIZE_MAX) : json_null()) ||
	    json_object_set_new(p, "command_pid", b != NULL && b->pid > 0 ?
	    json_integer(b->pid) : json_null()) ||
	    json_object_set_new(p, "metrics", nixfleet_metrics(f)) ||
	    json_object_set_new(p, "update_status",
	    nixfleet_update_status(u)) ||
	    nixfleet_put_str(p, "source_commit",
	    NF_ARRAY(f->source_commit), 1) ||
	    nixfleet_put_str(p, "store_path", NF_ARRAY(f->store_path), 1) ||
	    nixfleet_put_str(p, "binary_hash", NF_ARRAY(f->binary_hash), 1) ||
	    ((f->flags & IPC_FACTF_LOCK) != 0 &&
	    nixfleet_put_str(p, "lock_hash", NF_ARRAY(f->lock_hash), 1))) {
		json_decref(p);
		return NULL;
	}
	return nixfleet_envelope("heartbeat", p);
}

/* ---------------------------------------------------------------- */
/* Decoding */

/* Mark in invalid; the text reaches the log, so it is made printable. */
static void
nixfleet_invalid(struct nixfleet_in *in, const char *fmt, ...)
{
	va_list	 ap;
	char	 buf[sizeof(in->error)];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	nixfleet_copy_printable(in->error, sizeof(in->error), buf,
	    strlen(buf));
	in->type = NF_IN_INVALID;
}

/* Copy at most size-1 bytes, each outside printable ASCII as '?'. */
static void
nixfleet_copy_printable(char *dst, size_t size, const char *s, size_t len)
{
	size_t		 i;
	unsigned char	 c;

	for (i = 0; i < len && i + 1 < size; i++) {
		c = (unsigned char)s[i];
		dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[i] = '\0';
}

/*
 * Copy valid UTF-8 (jansson checked it) without cutting a character,
 * control characters (C0, DEL, C1) as '?', so the text is safe to log.
 */
static void
nixfleet_copy_utf8(char *dst, size_t size, const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, o = 0, k;

	while (i < len) {
		if ((k = utf8_seqlen(p + i, len - i)) == 0)
			k = 1;	/* not reached after jansson */
		if (p[i] < 0x20 || p[i] == 0x7f ||
		    (k == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0) ||
		    (k == 1 && p[i] >= 0x80)) {
			if (o + 1 >= size)
				break;
			dst[o++] = '?';
		} else {
			if (o + k >= size)
				break;
			memcpy(dst + o, s + i, k);
			o += k;
		}
		i += k;
	}
	dst[o] = '\0';
}

static int
nixfleet_is(const char *s, size_t len, const char *lit)
{
	return len == strlen(lit) && memcmp(s, lit, len) == 0;
}

/* §2.2: any host_id is accepted; a missing one is "". */
static void
nixfleet_decode_registered(struct nixfleet_in *in, json_t *payload)
{
	json_t	*id;

	in->type = NF_IN_REGISTERED;
	if (payload == NULL || (id = json_object_get(payload, "host_id")) ==
	    NULL)
		return;
	if (!json_is_string(id)) {
		nixfleet_invalid(in, "registered: host_id is not a string");
		return;
	}
	nixfleet_copy_utf8(in->host_id, sizeof(in->host_id),
	    json_string_value(id), json_string_length(id));
}

/*
 * §2.4: "command" is required and a string; "args" is ignored.  A name
 * that is empty, longer than NF_COMMAND_MAX or not printable ASCII is
 * no job's name: it is still a command, answered "unknown command" (or
 * rejected while busy), under a short printable copy of the name, since
 * it ends up in log lines and replies.  in->error says why it was odd.
 */
static void
nixfleet_decode_command(struct nixfleet_in *in, json_t *payload)
{
	json_t			*c;
	const unsigned char	*s;
	size_t			 len, i;

	if (payload == NULL || (c = json_object_get(payload, "command")) ==
	    NULL) {
		nixfleet_invalid(in, "command: no command");
		return;
	}
	if (!json_is_string(c)) {
		nixfleet_invalid(in, "command: command is not a string");
		return;
	}
	s = (const unsigned char *)json_string_value(c);
	len = json_string_length(c);
	in->type = NF_IN_COMMAND;
	in->kind = JOB_NONE;
	nixfleet_copy_printable(in->command, sizeof(in->command),
	    (const char *)s, len);
	if (len == 0 || len > NF_COMMAND_MAX) {
		snprintf(in->error, sizeof(in->error), "command: length %zu "
		    "not in 1..%d", len, NF_COMMAND_MAX);
		return;
	}
	for (i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] >= 0x7f) {
			snprintf(in->error, sizeof(in->error), "command: "
			    "non-printable byte at offset %zu", i);
			return;
		}
	in->kind = nixfleet_kind_by_name(in->command, len);
}

/*
 * §2.10: a signal name and a pid (0: the current job).  The name is kept
 * as given; whether it is one we send is the job code's decision.
 */
static void
nixfleet_decode_kill(struct nixfleet_in *in, json_t *payload)
{
	json_t		*sig, *pid;
	const char	*s;
	size_t		 len, i;
	json_int_t	 v;

	if (payload == NULL ||
	    (sig = json_object_get(payload, "signal")) == NULL ||
	    !json_is_string(sig)) {
		nixfleet_invalid(in, "kill_command: signal is not a string");
		return;
	}
	s = json_string_value(sig);
	len = json_string_length(sig);
	if (len == 0 || len > NF_SIGNAL_MAX) {
		nixfleet_invalid(in, "kill_command: signal length %zu not in "
		    "1..%d", len, NF_SIGNAL_MAX);
		return;
	}
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9'))) {
			nixfleet_invalid(in, "kill_command: bad signal name");
			return;
		}
	if ((pid = json_object_get(payload, "pid")) == NULL ||
	    !json_is_integer(pid)) {
		nixfleet_invalid(in, "kill_command: pid is not an integer");
		return;
	}
	v = json_integer_value(pid);
	if (v < 0 || v > INT32_MAX) {
		nixfleet_invalid(in, "kill_command: pid %lld out of range",
		    (long long)v);
		return;
	}
	memcpy(in->signal, s, len);
	in->signal[len] = '\0';
	if (nixfleet_is(s, len, "SIGTERM"))
		in->signo = JOB_SIG_TERM;
	else if (nixfleet_is(s, len, "SIGKILL"))
		in->signo = JOB_SIG_KILL;
	in->pid = (int)v;
	in->type = NF_IN_KILL_COMMAND;
}

void
nixfleet_decode(const char *data, size_t len, struct nixfleet_in *in)
{
	json_error_t	 jerr;
	json_t		*root, *type, *payload;
	const char	*name;
	size_t		 nlen;

	memset(in, 0, sizeof(*in));
	in->type = NF_IN_INVALID;
	/* The parser is linear in the input and its depth is capped. */
	if (len > NIXFLEET_IN_MAX) {
		nixfleet_invalid(in, "message too large (%zu bytes)", len);
		return;
	}
	if (data == NULL)
		data = "";
	if ((root = json_loadb(data, len, NF_LOAD_FLAGS, &jerr)) == NULL) {
		nixfleet_invalid(in, "invalid JSON: %s (line %d col %d)",
		    jerr.text, jerr.line, jerr.column);
		return;
	}
	if (!json_is_object(root)) {
		nixfleet_invalid(in, "not a JSON object");
		goto done;
	}
	if ((type = json_object_get(root, "type")) == NULL) {
		nixfleet_invalid(in, "no type");
		goto done;
	}
	if (!json_is_string(type)) {
		nixfleet_invalid(in, "type is not a string");
		goto done;
	}
	name = json_string_value(type);
	nlen = json_string_length(type);
	nixfleet_copy_printable(in->type_name, sizeof(in->type_name), name,
	    nlen);
	payload = json_object_get(root, "payload");
	if (payload != NULL && !json_is_object(payload)) {
		nixfleet_invalid(in, "%s: payload is not an object",
		    in->type_name);
		goto done;
	}
	if (nixfleet_is(name, nlen, "registered"))
		nixfleet_decode_registered(in, payload);
	else if (nixfleet_is(name, nlen, "command"))
		nixfleet_decode_command(in, payload);
	else if (nixfleet_is(name, nlen, "kill_command"))
		nixfleet_decode_kill(in, payload);
	else
		in->type = NF_IN_UNKNOWN;
 done:
	json_decref(root);
}

/* ---------------------------------------------------------------- */
/* Jobs */

/* §6.3's names; the index is the kind (proto.h values never change). */
static const char *const nixfleet_kinds[JOB_KIND_MAX] = {
	[JOB_PULL] = "pull",
	[JOB_SWITCH] = "switch",
	[JOB_PULL_SWITCH] = "pull-switch",
	[JOB_TEST] = "test",
	[JOB_STOP] = "stop",
	[JOB_RESTART] = "restart",
	[JOB_REBOOT] = "reboot",
	[JOB_ROLLBACK] = "rollback",
	[JOB_UPDATE] = "update",
	[JOB_FORCE_UPDATE] = "force-update",
	[JOB_FORCE_REBUILD] = "force-rebuild",
	[JOB_BUMP_FLAKE] = "bump-flake",
	[JOB_CHECK_VERSION] = "check-version",
	[JOB_REFRESH_GIT] = "refresh-git",
	[JOB_REFRESH_LOCK] = "refresh-lock",
	[JOB_REFRESH_SYSTEM] = "refresh-system",
	[JOB_REFRESH_ALL] = "refresh-all",
	[JOB_KILL] = "kill",
	[JOB_UPDATE_AGENT] = "update-agent",
};

int
nixfleet_kind_by_name(const char *s, size_t len)
{
	int	 k;

	for (k = JOB_NONE + 1; k < JOB_KIND_MAX; k++)
		if (nixfleet_kinds[k] != NULL &&
		    nixfleet_is(s, len, nixfleet_kinds[k]))
			return k;
	return JOB_NONE;
}

const char *
nixfleet_kind_name(int kind)
{
	if (kind <= JOB_NONE || kind >= JOB_KIND_MAX)
		return NULL;
	return nixfleet_kinds[kind];
}

/*
 * §6.2: bypass commands first, then the busy check, then the name: an
 * unknown name is rejected while busy (it is not a bypass command) and
 * answered "unknown command" while idle.
 */
int
nixfleet_command_action(int running, int kind)
{
	if (kind == JOB_STOP || kind == JOB_KILL)
		return running != JOB_NONE ? NF_ACT_SIGNAL : NF_ACT_NO_JOB;
	if (JOB_KIND_BYPASS(kind))
		return NF_ACT_AGENT;
	if (running != JOB_NONE)
		return NF_ACT_REJECT;
	if (nixfleet_kind_name(kind) == NULL)
		return NF_ACT_UNKNOWN;
	return NF_ACT_START;
}

char *
nixfleet_command_reply(const struct nixfleet_in *in, int running, int pid,
    const char *generation, int *action)
{
	*action = nixfleet_command_action(running, in->kind);
	switch (*action) {
	case NF_ACT_REJECT:
		return nixfleet_command_rejected(nixfleet_kind_name(running),
		    pid);
	case NF_ACT_UNKNOWN:
		return nixfleet_status(in->command, JOB_ST_ERROR, 1,
		    "unknown command", generation);
	case NF_ACT_NO_JOB:
		return nixfleet_status(in->command, JOB_ST_ERROR, 1,
		    "no command running", generation);
	default:
		return NULL;
	}
}

size_t
nixfleet_line_piece(const char *s, size_t len, size_t max)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n;

	if (len <= max)
		return len;
	/*
	 * p[n] starts the next piece: back off at most 3 continuation bytes
	 * to a lead byte.  A longer run is invalid UTF-8, cut anywhere.
	 */
	for (n = max; n > 0 && max - n < 3 && (p[n] & 0xc0) == 0x80; n--)
		;
	if (n == 0 || (p[n] & 0xc0) == 0x80)
		n = max;
	return n;
}

static int
nixfleet_put_int(json_t *o, const char *key, json_int_t v)
{
	return json_object_set_new(o, key, json_integer(v));
}

char *
nixfleet_output(const char *command, int stream, const char *line,
    size_t len)
{
	json_t	*p;
	int	 err = stream == JOB_STREAM_STDERR ||
	    stream == JOB_STREAM_AGENT_ERR;

	if ((p = json_object()) == NULL)
		return NULL;
	if (json_object_set_new(p, "line", nixfleet_json_bytes(line, len)) ||
	    json_object_set_new(p, "stream", json_string(err ? "stderr" :
	    "stdout")) ||
	    nixfleet_put_str(p, "command", command, NF_COMMAND_MAX, 0) ||
	    json_object_set_new(p, "is_error", json_boolean(err))) {
		json_decref(p);
		return NULL;
	}
	return nixfleet_envelope("output", p);
}

int
nixfleet_output_frames(const char *command, int stream, const char *line,
    size_t len, char ***frames)
{
	char	**v = NULL, **nv, *clean, *f;
	size_t	 n, off = 0, k;
	int	 count = 0;

	*frames = NULL;
	if ((clean = nixfleet_utf8_sanitize(line != NULL ? line : "", len,
	    &n)) == NULL)
		return -1;
	do {
		k = nixfleet_line_piece(clean + off, n - off,
		    IPC_JOB_LINE_MAX);
		if ((f = nixfleet_output(command, stream, clean + off, k)) ==
		    NULL || (nv = reallocarray(v, (size_t)count + 1,
		    sizeof(*v))) == NULL) {
			free(f);
			goto fail;
		}
		v = nv;
		v[count++] = f;
		off += k;
	} while (off < n);
	free(clean);
	*frames = v;
	return count;
 fail:
	while (count > 0)
		free(v[--count]);
	free(v);
	free(clean);
	return -1;
}

char *
nixfleet_dropped(const char *command, uint32_t k)
{
	char	 buf[96];

	snprintf(buf, sizeof(buf), "[nixfleet-agent] %u output lines dropped "
	    "while disconnected", k);
	return nixfleet_output(command, JOB_STREAM_AGENT, buf, strlen(buf));
}

static const char *
nixfleet_status_word(int status)
{
	switch (status) {
	case JOB_ST_OK:		return "ok";
	case JOB_ST_STOPPED:	return "stopped";
	case JOB_ST_WARNING:	return "warning";
	default:		return "error";
	}
}

char *
nixfleet_status(const char *command, int status, int exit_code,
    const char *message, const char *generation)
{
	json_t	*p;

	if ((p = json_object()) == NULL)
		return NULL;
	if (json_object_set_new(p, "status",
	    json_string(nixfleet_status_word(status))) ||
	    nixfleet_put_str(p, "command", command, NF_COMMAND_MAX, 0) ||
	    nixfleet_put_int(p, "exit_code", exit_code) ||
	    nixfleet_put_str(p, "message", message, IPC_JOB_MSG_MAX, 1) ||
	    nixfleet_put_str(p, "generation", generation, 16, 1)) {
		json_decref(p);
		return NULL;
	}
	return nixfleet_envelope("status", p);
}

char *
nixfleet_command_rejected(const char *current_command, int current_pid)
{
	json_t	*p;

	if ((p = json_object()) == NULL)
		return NULL;
	if (json_object_set_new(p, "reason",
	    json_string("command already running")) ||
	    nixfleet_put_str(p, "current_command", current_command,
	    NF_COMMAND_MAX, 1) ||
	    (current_pid > 0 &&
	    nixfleet_put_int(p, "current_pid", current_pid))) {
		json_decref(p);
		return NULL;
	}
	return nixfleet_envelope("command_rejected", p);
}

char *
nixfleet_operation_progress(int phase, uint32_t current, uint32_t total,
    int state)
{
	static const char *const	 phases[] = {
		[JOB_PHASE_PULL] = "pull", [JOB_PHASE_LOCK] = "lock",
		[JOB_PHASE_SYSTEM] = "system", [JOB_PHASE_TESTS] = "tests",
	};
	static const char *const	 states[] = {
		[JOB_PS_PENDING] = "pending",
		[JOB_PS_IN_PROGRESS] = "in_progress",
		[JOB_PS_COMPLETE] = "complete", [JOB_PS_ERROR] = "error",
	};
	json_t				*p, *prog, *pp;

	if (phase < JOB_PHASE_PULL || phase > JOB_PHASE_TESTS ||
	    state < JOB_PS_PENDING || state > JOB_PS_ERROR)
		return NULL;
	if ((p = json_object()) == NULL)
		return NULL;
	/* p holds each reference before the next object is filled. */
	if ((prog = json_object()) == NULL ||
	    json_object_set_new(p, "progress", prog) ||
	    (pp = json_object()) == NULL ||
	    json_object_set_new(prog, phases[phase], pp) ||
	    nixfleet_put_int(pp, "current", current) ||
	    nixfleet_put_int(pp, "total", total) ||
	    (phase == JOB_PHASE_TESTS &&
	    json_object_set_new(pp, "results", json_null())) ||
	    json_object_set_new(pp, "status", json_string(states[state]))) {
		json_decref(p);
		return NULL;
	}
	return nixfleet_envelope("operation_progress", p);
}

char *
nixfleet_test_progress(uint32_t current, uint32_t total, uint32_t passed,
    int running, int result)
{
	json_t	*p;
	char	 buf[64] = "";

	switch (result) {
	case JOB_TR_COUNTED:
		snprintf(buf, sizeof(buf), "%u/%u passed", passed, total);
		break;
	case JOB_TR_NO_TESTS:
		strlcpy(buf, "no tests", sizeof(buf));
		break;
	case JOB_TR_STOPPED:
		snprintf(buf, sizeof(buf), "Stopped (%u/%u passed)", passed,
		    total);
		break;
	default:
		break;
	}
	if ((p = json_object()) == NULL)
		return NULL;
	if (nixfleet_put_int(p, "current", current) ||
	    nixfleet_put_int(p, "total", total) ||
	    nixfleet_put_int(p, "passed", passed) ||
	    json_object_set_new(p, "running", json_boolean(running)) ||
	    json_object_set_new(p, "result", json_string(buf))) {
		json_decref(p);
		return NULL;
	}
	return nixfleet_envelope("test_progress", p);
}

char *
nixfleet_job_output(const char *command, const struct ipc_job_output *o,
    const char *data)
{
	if (o->stream == JOB_STREAM_DROPPED)
		return nixfleet_dropped(command, o->dropped);
	if (o->len > IPC_JOB_LINE_MAX)
		return NULL;
	return nixfleet_output(command, (int)o->stream, data, o->len);
}

char *
nixfleet_job_status(const char *command, const struct ipc_job_status *st)
{
	/* An array without its NUL is left out, never read past. */
	return nixfleet_status(command, (int)st->status, st->exit_code,
	    memchr(st->message, '\0', sizeof(st->message)) != NULL ?
	    st->message : NULL,
	    memchr(st->generation, '\0', sizeof(st->generation)) != NULL ?
	    st->generation : NULL);
}

char *
nixfleet_job_progress(const struct ipc_job_progress *pr)
{
	if (pr->phase == JOB_PHASE_TEST_SCRIPT)
		return nixfleet_test_progress(pr->current, pr->total,
		    pr->passed, pr->running != 0, (int)pr->result);
	return nixfleet_operation_progress((int)pr->phase, pr->current,
	    pr->total, (int)pr->state);
}

/* An ipc_sc as a nixfleet_sc, bounded by its arrays. */
static void
nixfleet_sc_of(struct nixfleet_sc *o, const struct ipc_sc *sc, char *buf)
{
	/* Three terminated copies in buf, so no read runs past an array. */
	snprintf(buf, sizeof(sc->status), "%.*s",
	    (int)strnlen(sc->status, sizeof(sc->status) - 1), sc->status);
	snprintf(buf + 16, sizeof(sc->message), "%.*s",
	    (int)strnlen(sc->message, sizeof(sc->message) - 1), sc->message);
	snprintf(buf + 256, sizeof(sc->checked_at), "%.*s",
	    (int)strnlen(sc->checked_at, sizeof(sc->checked_at) - 1),
	    sc->checked_at);
	o->status = buf;
	o->message = buf + 16;
	o->checked_at = buf + 256;
}

char *
nixfleet_heartbeat_job(const struct ipc_facts *f,
    const struct ipc_job_state *js)
{
	struct nixfleet_busy	 b = { NULL, 0 };
	struct nixfleet_sc	 sc[3];
	struct nixfleet_update	 u;
	char			 buf[3][sizeof(struct ipc_sc)];

	memset(&u, 0, sizeof(u));
	if (js == NULL)
		return nixfleet_heartbeat_update(f, &b, NULL);
	if (js->kind != JOB_NONE) {
		b.command = nixfleet_kind_name((int)js->kind);
		b.pid = js->pid;
	}
	nixfleet_sc_of(&sc[0], &js->lock, buf[0]);
	nixfleet_sc_of(&sc[1], &js->system, buf[1]);
	nixfleet_sc_of(&sc[2], &js->tests, buf[2]);
	u.sc[NF_SC_LOCK] = &sc[0];
	u.sc[NF_SC_SYSTEM] = &sc[1];
	u.sc[NF_SC_TESTS] = &sc[2];
	return nixfleet_heartbeat_update(f, &b, &u);
}
