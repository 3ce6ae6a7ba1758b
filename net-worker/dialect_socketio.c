/*
 * dialect_socketio.c: payloads of the socketio dialect (socketio-
 * protocol.md §4, §5).  Outgoing objects follow the field order of the
 * spec's examples; incoming ones are checked field by field against
 * §5.1, and a wrong type or a NUL where no NUL belongs drops the event
 * (§2.7 #11, #13) instead of reaching the exec-worker half-understood.
 */
#include <errno.h>
#include <math.h>	/* isfinite: a macro, no libm */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compat.h"
#include "dialect_nixfleet.h"
#include "dialect_socketio.h"
#include "eio.h"

#define SIO_OUTPUT_FRAME_MIN	64	/* room for the frame's own keys */

static json_t	*sio_json_str(const char *);
static int	 sio_put_str(json_t *, const char *, const char *);
static void	 sio_rfc3339(char *, size_t, int64_t);
static json_t	*sio_enc_load(const double *);
static json_t	*sio_enc_disks(const struct sio_stats *, double *, int *);
static json_t	*sio_enc_netifs(const struct sio_stats *);
static size_t	 sio_utf8_cut(const char *, size_t, size_t);
static size_t	 sio_escaped_len(const char *, size_t);
static void	 sio_in_invalid(struct sio_in *, const char *, ...)
		    __printflike(2, 3);
static int	 sio_get_str(struct sio_in *, json_t *, const char *, int,
		    struct sio_str *);
static int	 sio_get_int(struct sio_in *, json_t *, const char *,
		    int64_t *);
static int	 sio_get_strs(struct sio_in *, json_t *, const char *,
		    json_t **);
static void	 sio_decode_admin(struct sio_in *, json_t *);
static void	 sio_decode_backup(struct sio_in *, json_t *);
static void	 sio_decode_one(const char *, json_t *, struct sio_in *, int);

static const struct {
	const char	*name;
	int		 type;
} sio_catalogue[] = {
	{ "hello_ack", SIO_IN_HELLO_ACK },
	{ "ping", SIO_IN_PING },
	{ "pong", SIO_IN_PONG },
	{ "admin_run", SIO_IN_ADMIN_RUN },
	{ "shell_start", SIO_IN_SHELL_START },
	{ "shell_input", SIO_IN_SHELL_INPUT },
	{ "shell_resize", SIO_IN_SHELL_RESIZE },
	{ "shell_close", SIO_IN_SHELL_CLOSE },
	{ "backup_plan", SIO_IN_BACKUP_PLAN },
	{ "backup_start", SIO_IN_BACKUP_START },
	{ "sync_keys", SIO_IN_SYNC_KEYS },
	/* later generations (§5.1): known, ignored */
	{ "signed_command", SIO_IN_LATER },
	{ "log_tail_start", SIO_IN_LATER },
	{ "log_tail_stop", SIO_IN_LATER },
	{ "agent_update", SIO_IN_LATER },
	{ "check_updates", SIO_IN_LATER },
	{ "dir_list_request", SIO_IN_LATER },
};

/* ---------------------------------------------------------------- */
/* Encoding */

/* Valid UTF-8, bad bytes replaced by U+FFFD one by one (§2.8). */
static json_t *
sio_json_str(const char *s)
{
	return nixfleet_json_str(s, SIZE_MAX);
}

/* Optional strings are omitted when NULL or empty (§2.8). */
static int
sio_put_str(json_t *o, const char *key, const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	return json_object_set_new(o, key, sio_json_str(s));
}

json_t *
sio_json_real(double v)
{
	/* NaN and infinities are written as 0; six decimals at most. */
	if (!isfinite(v))
		v = 0;
	else if (v < 1e12 && v > -1e12)
		v = (double)(long long)(v * 1e6 + (v < 0 ? -0.5 : 0.5)) / 1e6;
	return json_real(v);
}

static void
sio_rfc3339(char *buf, size_t size, int64_t sec)
{
	struct tm	 tm;
	time_t		 t = (time_t)sec;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		strlcpy(buf, "1970-01-01T00:00:00Z", size);
}

static json_t *
sio_enc_load(const double *l)
{
	return json_pack("{s:o,s:o,s:o}", "1m", sio_json_real(l[0]),
	    "5m", sio_json_real(l[1]), "15m", sio_json_real(l[2]));
}

/* disk[], and the capacity of "/" for diskPercent. */
static json_t *
sio_enc_disks(const struct sio_stats *st, double *root_cap, int *has_root)
{
	const struct sio_disk	*d;
	json_t			*a, *o;
	double			 cap;
	size_t			 i;

	if ((a = json_array()) == NULL)
		return NULL;
	for (i = 0; i < st->ndisks; i++) {
		d = &st->disks[i];
		cap = d->used + d->avail == 0 ? 0 :
		    (double)d->used / (double)(d->used + d->avail) * 100;
		o = json_pack("{s:o,s:o,s:o,s:I,s:I,s:o}",
		    "mount", sio_json_str(d->mount ? d->mount : ""),
		    "fsname", sio_json_str(d->fsname ? d->fsname : ""),
		    "fstype", sio_json_str(d->fstype ? d->fstype : ""),
		    "used", (json_int_t)d->used, "avail", (json_int_t)d->avail,
		    "capacity", sio_json_real(cap));
		if (o == NULL || json_array_append_new(a, o) == -1) {
			json_decref(a);
			return NULL;
		}
		if (d->mount != NULL && strcmp(d->mount, "/") == 0) {
			*root_cap = cap;
			*has_root = 1;
		}
	}
	return a;
}

static json_t *
sio_enc_netifs(const struct sio_stats *st)
{
	const struct sio_netif	*n;
	json_t			*a, *o;
	size_t			 i;

	if ((a = json_array()) == NULL)
		return NULL;
	for (i = 0; i < st->nnetifs; i++) {
		n = &st->netifs[i];
		o = json_pack("{s:o,s:s,s:o,s:o,s:b}",
		    "name", sio_json_str(n->name ? n->name : ""),
		    "family", n->ipv6 ? "IPv6" : "IPv4",
		    "address", sio_json_str(n->address ? n->address : ""),
		    "cidr", sio_json_str(n->cidr ? n->cidr : ""),
		    "internal", n->internal);
		if (o == NULL || json_array_append_new(a, o) == -1) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

json_t *
sio_enc_stats(const struct sio_stats *st)
{
	json_t	*d, *disks = NULL, *ifs = NULL;
	char	 ts[32];
	double	 root_cap = 0;
	int	 has_root = 0, rc = 0;

	if ((d = json_object()) == NULL)
		return NULL;
	rc |= json_object_set_new(d, "cpu", sio_json_real(st->cpu));
	if (st->has_mem)
		rc |= json_object_set_new(d, "mem", json_pack("{s:I,s:I,s:I}",
		    "used", (json_int_t)st->mem_used,
		    "free", (json_int_t)st->mem_free,
		    "total", (json_int_t)st->mem_total));
	rc |= json_object_set_new(d, "load", sio_enc_load(st->load));
	if (st->ndisks > 0) {
		disks = sio_enc_disks(st, &root_cap, &has_root);
		rc |= json_object_set_new(d, "disk", disks);
	}
	if (st->nnetifs > 0) {
		ifs = sio_enc_netifs(st);
		rc |= json_object_set_new(d, "netIfaces", ifs);
	}
	rc |= sio_put_str(d, "hostname", st->hostname);
	rc |= sio_put_str(d, "platform", st->platform);
	rc |= sio_put_str(d, "release", st->release);
	rc |= sio_put_str(d, "arch", st->arch);
	if (st->cpus > 0)
		rc |= json_object_set_new(d, "cpus", json_integer(st->cpus));
	if (st->uptime_sec > 0) {
		rc |= json_object_set_new(d, "uptimeSec",
		    json_integer(st->uptime_sec));
		sio_rfc3339(ts, sizeof(ts), st->now_sec - st->uptime_sec);
		rc |= json_object_set_new(d, "lastReboot", json_string(ts));
	}
	rc |= sio_put_str(d, "kernelVersion", st->kernel_version);
	rc |= json_object_set_new(d, "agentVersion",
	    sio_json_str(st->agent_version ? st->agent_version : ""));
	sio_rfc3339(ts, sizeof(ts), st->now_sec);
	rc |= json_object_set_new(d, "ts", json_string(ts));
	if (has_root)
		rc |= json_object_set_new(d, "diskPercent",
		    sio_json_real(root_cap));
	if (st->net_latency_ms >= 0)
		rc |= json_object_set_new(d, "netLatencyMs",
		    json_integer(st->net_latency_ms));
	if (rc != 0) {
		json_decref(d);
		return NULL;
	}
	return json_pack("{s:o}", "data", d);
}

json_t *
sio_enc_ping(int64_t now_ms)
{
	return json_pack("{s:I}", "ts", (json_int_t)now_ms);
}

json_t *
sio_enc_pong(const json_t *ts)
{
	/* The same number: jansson keeps every int64 exact (§4.2, I7). */
	if (ts != NULL && json_is_integer(ts))
		return json_pack("{s:I}", "ts",
		    (json_int_t)json_integer_value(ts));
	if (ts != NULL && json_is_real(ts))
		return json_pack("{s:f}", "ts", json_real_value(ts));
	return json_pack("{s:i}", "ts", 0);
}

json_t *
sio_enc_shell_closed(const char *session, int code, const char *reason,
    const char *signal)
{
	json_t	*o;

	o = json_pack("{s:o,s:i,s:o}", "session", sio_json_str(session),
	    "code", code, "reason", sio_json_str(reason ? reason : ""));
	if (o != NULL && sio_put_str(o, "signal", signal) == -1) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/*
 * Cut take bytes of valid UTF-8 (avail in all) back to a sequence
 * boundary: never before a continuation byte.
 */
static size_t
sio_utf8_cut(const char *s, size_t take, size_t avail)
{
	size_t	 t = take;

	while (t > 0 && t < avail && ((unsigned char)s[t] & 0xc0) == 0x80)
		t--;
	return t > 0 ? t : take;
}

/* What len bytes of valid UTF-8 take inside a JSON string. */
static size_t
sio_escaped_len(const char *s, size_t len)
{
	size_t	 i, n = 0;
	unsigned char	 c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c == '"' || c == '\\' || c == '\n' || c == '\r' ||
		    c == '\t' || c == '\b' || c == '\f')
			n += 2;
		else if (c < 0x20 || c == 0x7f)
			n += 6;
		else
			n++;
	}
	return n;
}

int
sio_enc_shell_output(const char *session, const char *data, size_t len,
    size_t max_frame, int (*cb)(void *, const json_t *), void *arg)
{
	json_t	*o, *probe;
	char	*clean, *f;
	size_t	 n, off = 0, fixed, room, take, flen;
	int	 rc = 0;

	/* The frame without data: 42/agents,["shell_output",{...,"data":""}] */
	if ((probe = json_pack("{s:o,s:s}", "session", sio_json_str(session),
	    "data", "")) == NULL)
		return -1;
	f = sio_encode_event("shell_output", probe, &fixed);
	json_decref(probe);
	if (f == NULL)
		return -1;
	free(f);
	if (max_frame <= fixed + 6) {
		errno = EMSGSIZE;
		return -1;
	}
	room = max_frame - fixed;
	if ((clean = nixfleet_utf8_sanitize(data, len, &n)) == NULL)
		return -1;
	while (off < n && rc == 0) {
		/* Grow the piece while its escaped form fits. */
		for (take = 0, flen = 0; off + take < n; take++) {
			flen += sio_escaped_len(clean + off + take, 1);
			if (flen > room)
				break;
		}
		take = sio_utf8_cut(clean + off, take, n - off);
		if (take == 0)
			take = 1;
		o = json_pack("{s:o,s:s%}", "session", sio_json_str(session),
		    "data", clean + off, take);
		if (o == NULL) {
			rc = -1;
			break;
		}
		rc = cb(arg, o);
		json_decref(o);
		off += take;
	}
	free(clean);
	return rc;
}

/* ---------------------------------------------------------------- */
/* Decoding */

static void
sio_in_invalid(struct sio_in *in, const char *fmt, ...)
{
	va_list	 ap;

	in->type = SIO_IN_INVALID;
	va_start(ap, fmt);
	vsnprintf(in->error, sizeof(in->error), fmt, ap);
	va_end(ap);
}

/* An optional string; 0, or -1 with in set invalid. */
static int
sio_get_str(struct sio_in *in, json_t *o, const char *key, int nul_ok,
    struct sio_str *out)
{
	json_t	*v = json_object_get(o, key);

	out->s = NULL;
	out->len = 0;
	if (v == NULL)
		return 0;
	if (!json_is_string(v)) {
		sio_in_invalid(in, "%s: %s is not a string", in->name, key);
		return -1;
	}
	out->s = json_string_value(v);
	out->len = json_string_length(v);
	if (!nul_ok && strlen(out->s) != out->len) {
		sio_in_invalid(in, "%s: NUL in %s", in->name, key);
		return -1;
	}
	return 0;
}

static int
sio_get_int(struct sio_in *in, json_t *o, const char *key, int64_t *out)
{
	json_t	*v = json_object_get(o, key);

	*out = 0;
	if (v == NULL)
		return 0;
	if (!json_is_integer(v)) {
		sio_in_invalid(in, "%s: %s is not an integer", in->name, key);
		return -1;
	}
	*out = json_integer_value(v);
	return 0;
}

/* An optional array of NUL-free strings. */
static int
sio_get_strs(struct sio_in *in, json_t *o, const char *key, json_t **out)
{
	json_t	*v = json_object_get(o, key), *e;
	size_t	 i;

	*out = NULL;
	if (v == NULL)
		return 0;
	if (!json_is_array(v)) {
		sio_in_invalid(in, "%s: %s is not an array", in->name, key);
		return -1;
	}
	json_array_foreach(v, i, e) {
		if (!json_is_string(e) ||
		    strlen(json_string_value(e)) != json_string_length(e)) {
			sio_in_invalid(in, "%s: %s[%zu] is not a string "
			    "without NUL", in->name, key, i);
			return -1;
		}
	}
	*out = v;
	return 0;
}

static void
sio_decode_admin(struct sio_in *in, json_t *p)
{
	json_t	*cmd;

	if (sio_get_str(in, p, "token", 0, &in->token) == -1)
		return;
	if ((cmd = json_object_get(p, "cmd")) == NULL)
		return;		/* the runner answers "empty command" */
	if (!json_is_object(cmd)) {
		sio_in_invalid(in, "admin_run: cmd is not an object");
		return;
	}
	/* NUL in the command is the runner's forbidden character (D8). */
	if (sio_get_str(in, cmd, "command", 1, &in->command) == -1 ||
	    sio_get_str(in, cmd, "cwd", 0, &in->cwd) == -1 ||
	    sio_get_int(in, cmd, "timeoutSec", &in->timeout_sec) == -1)
		return;
	/* cmd.env is ignored, whatever it holds (§5.1). */
}

static void
sio_decode_backup(struct sio_in *in, json_t *p)
{
	/* Unknown keys (clientId, source{}, destination{}) are tolerated. */
	if (sio_get_str(in, p, "planId", 0, &in->plan_id) == -1 ||
	    sio_get_str(in, p, "host", 0, &in->host) == -1 ||
	    sio_get_str(in, p, "user", 0, &in->user) == -1 ||
	    sio_get_int(in, p, "port", &in->port) == -1 ||
	    sio_get_strs(in, p, "sourceDirs", &in->source_dirs) == -1 ||
	    sio_get_str(in, p, "destRoot", 0, &in->dest_root) == -1 ||
	    sio_get_strs(in, p, "ignoreGlobs", &in->ignore_globs) == -1)
		return;
	if (in->port < 0 || in->port > 65535)
		sio_in_invalid(in, "%s: port out of range", in->name);
}

static void
sio_decode_one(const char *name, json_t *p, struct sio_in *in, int nested)
{
	json_t	*t;
	int64_t	 v;
	size_t	 i;

	strlcpy(in->name, name, sizeof(in->name));
	for (i = 0; in->name[i] != '\0'; i++)
		if (in->name[i] < 0x20 || in->name[i] >= 0x7f)
			in->name[i] = '?';
	in->type = SIO_IN_UNKNOWN;
	for (i = 0; i < nitems(sio_catalogue); i++)
		if (strcmp(name, sio_catalogue[i].name) == 0)
			in->type = sio_catalogue[i].type;
	if (in->type == SIO_IN_UNKNOWN && !nested &&
	    strcmp(name, "message") == 0) {
		/* Compatibility wrapper: dispatch on t, otherwise type. */
		if ((t = json_object_get(p, "t")) == NULL ||
		    !json_is_string(t))
			t = json_object_get(p, "type");
		if (t != NULL && json_is_string(t) &&
		    strlen(json_string_value(t)) == json_string_length(t))
			sio_decode_one(json_string_value(t), p, in, 1);
		return;
	}
	switch (in->type) {
	case SIO_IN_PING:
	case SIO_IN_PONG:
		t = json_object_get(p, "ts");
		in->ts = json_is_number(t) ? t : NULL;
		break;
	case SIO_IN_ADMIN_RUN:
		sio_decode_admin(in, p);
		break;
	case SIO_IN_SHELL_INPUT:
		if (sio_get_str(in, p, "data", 1, &in->data) == 0)
			sio_get_str(in, p, "session", 0, &in->session);
		break;
	case SIO_IN_SHELL_START:
	case SIO_IN_SHELL_CLOSE:
		sio_get_str(in, p, "session", 0, &in->session);
		break;
	case SIO_IN_SHELL_RESIZE:
		if (sio_get_str(in, p, "session", 0, &in->session) == -1 ||
		    sio_get_int(in, p, "cols", &v) == -1)
			break;
		in->cols = v <= 0 ? 0 : v > 65535 ? 65535 : (int)v;
		if (sio_get_int(in, p, "rows", &v) == -1)
			break;
		in->rows = v <= 0 ? 0 : v > 65535 ? 65535 : (int)v;
		/* Either one <= 0 leaves the size alone (§5.1). */
		if (in->cols == 0 || in->rows == 0)
			in->cols = in->rows = 0;
		break;
	case SIO_IN_BACKUP_PLAN:
	case SIO_IN_BACKUP_START:
		sio_decode_backup(in, p);
		break;
	case SIO_IN_SYNC_KEYS:
		sio_get_str(in, p, "user", 0, &in->user);
		break;
	}
}

void
sio_decode_event(const char *name, json_t *payload, struct sio_in *in)
{
	memset(in, 0, sizeof(*in));
	if (!json_is_object(payload)) {
		strlcpy(in->name, "?", sizeof(in->name));
		sio_in_invalid(in, "payload is not an object");
		return;
	}
	in->payload = json_incref(payload);
	sio_decode_one(name, payload, in, 0);
}

void
sio_in_clear(struct sio_in *in)
{
	json_decref(in->payload);
	memset(in, 0, sizeof(*in));
}
