/*
 * eio.c: Engine.IO v4 / Socket.IO v5 packets (socketio-protocol.md §1.3,
 * §1.4, §2.1).  The decoder follows socket.io-parser's order of steps, so
 * a frame means here what it means to the server that wrote it, and is
 * stricter where the spec says so: bounded attachment counts, ack ids and
 * nesting, one JSON value with nothing but whitespace after it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "eio.h"

/*
 * Duplicate keys are refused: which of two "command" values a lenient
 * parser picks is what a hostile frame would exploit.  NUL is allowed in
 * strings so that §2.7 #13 can be told apart from broken JSON.
 */
#define EIO_LOAD_FLAGS	(JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | \
			    JSON_DECODE_ANY)

static void	 eio_printable(char *, size_t, const char *, size_t);
static int	 eio_json_depth_ok(const char *, size_t);
static json_t	*eio_json_load(const char *, size_t, char *, size_t);
static int	 eio_get_ms(json_t *, const char *, int64_t *, char *,
		    size_t);
static int	 eio_path_append(char *, size_t, size_t *, const char *,
		    size_t);
static int	 sio_verdict(struct sio_packet *, int, const char *, ...)
		    __printflike(3, 4);
static int	 sio_check_payload(struct sio_packet *);
static void	 sio_take_reason(struct sio_packet *, json_t *);
static int	 sio_encode_fixed(char *, size_t, const char *);

static const char *const sio_reserved[] = {
	"connect", "connect_error", "disconnect", "disconnecting",
	"newListener", "removeListener",
};

/* Copy for logs: printable ASCII kept, every other byte becomes '?'. */
static void
eio_printable(char *dst, size_t size, const char *src, size_t len)
{
	size_t	 i;

	if (size == 0)
		return;
	for (i = 0; i < len && i < size - 1; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
	dst[i] = '\0';
}

/*
 * Nesting deeper than SIO_JSON_DEPTH_MAX is refused before parsing
 * (§2.7 #12): no handler needs it, and it bounds the parser's recursion.
 */
static int
eio_json_depth_ok(const char *s, size_t len)
{
	size_t	 i;
	int	 depth = 0, instr = 0;

	for (i = 0; i < len; i++) {
		if (instr) {
			if (s[i] == '\\')
				i++;
			else if (s[i] == '"')
				instr = 0;
			continue;
		}
		switch (s[i]) {
		case '"':
			instr = 1;
			break;
		case '[':
		case '{':
			if (++depth > SIO_JSON_DEPTH_MAX)
				return 0;
			break;
		case ']':
		case '}':
			depth--;
			break;
		}
	}
	return 1;
}

/* One JSON value, only whitespace after it; NULL with why set. */
static json_t *
eio_json_load(const char *s, size_t len, char *why, size_t whysize)
{
	json_error_t	 jerr;
	json_t		*j;

	if (!eio_json_depth_ok(s, len)) {
		snprintf(why, whysize, "JSON nested deeper than %d",
		    SIO_JSON_DEPTH_MAX);
		return NULL;
	}
	if ((j = json_loadb(s, len, EIO_LOAD_FLAGS, &jerr)) == NULL)
		snprintf(why, whysize, "invalid JSON: %s", jerr.text);
	return j;
}

int
eio_frame_type(const char *frame, size_t len)
{
	if (len == 0 || frame[0] < '0' || frame[0] > '6')
		return -1;
	return frame[0] - '0';
}

static int
eio_get_ms(json_t *o, const char *key, int64_t *out, char *why,
    size_t whysize)
{
	json_t	*v = json_object_get(o, key);

	if (v == NULL) {
		snprintf(why, whysize, "open packet without %s", key);
		return -1;
	}
	if (!json_is_integer(v) || json_integer_value(v) <= 0 ||
	    json_integer_value(v) > EIO_PING_MAX_MS) {
		snprintf(why, whysize, "open packet %s is not a positive "
		    "integer", key);
		return -1;
	}
	*out = json_integer_value(v);
	return 0;
}

int
eio_open_decode(const char *data, size_t len, struct eio_open *o,
    char *why, size_t whysize)
{
	json_t	*j, *sid, *mp;
	int	 rc = -1;

	memset(o, 0, sizeof(*o));
	o->max_payload = EIO_MAX_PAYLOAD_DEFAULT;
	if ((j = eio_json_load(data, len, why, whysize)) == NULL)
		return -1;
	if (!json_is_object(j)) {
		snprintf(why, whysize, "open packet is not a JSON object");
		goto done;
	}
	if ((sid = json_object_get(j, "sid")) == NULL || !json_is_string(sid)) {
		snprintf(why, whysize, "open packet without a sid string");
		goto done;
	}
	eio_printable(o->sid, sizeof(o->sid), json_string_value(sid),
	    json_string_length(sid));
	if (eio_get_ms(j, "pingInterval", &o->ping_interval_ms, why,
	    whysize) == -1 ||
	    eio_get_ms(j, "pingTimeout", &o->ping_timeout_ms, why,
	    whysize) == -1)
		goto done;
	/* python-engineio 4.3 leaves maxPayload out (§1.3). */
	if ((mp = json_object_get(j, "maxPayload")) != NULL) {
		if (!json_is_integer(mp) || json_integer_value(mp) <= 0) {
			snprintf(why, whysize, "open packet maxPayload is not "
			    "a positive integer");
			goto done;
		}
		o->max_payload = json_integer_value(mp);
	}
	rc = 0;
 done:
	json_decref(j);
	return rc;
}

/* Append the segments of path[0..len) to buf, cleaned (§1.1). */
static int
eio_path_append(char *buf, size_t size, size_t *off, const char *path,
    size_t len)
{
	size_t	 i = 0, j, base = *off;

	while (i < len) {
		while (i < len && path[i] == '/')
			i++;
		for (j = i; j < len && path[j] != '/'; j++)
			;
		if (j == i || (j - i == 1 && path[i] == '.'))
			;	/* empty or "." */
		else if (j - i == 2 && path[i] == '.' && path[i + 1] == '.') {
			/* "..": back to the previous '/' we wrote */
			while (*off > base && buf[*off - 1] != '/')
				(*off)--;
			if (*off > base)
				(*off)--;
		} else {
			if (*off + 1 + (j - i) >= size)
				return -1;
			buf[(*off)++] = '/';
			memcpy(buf + *off, path + i, j - i);
			*off += j - i;
		}
		i = j;
	}
	buf[*off] = '\0';
	return 0;
}

int
eio_target(char *buf, size_t size, const char *url_path,
    const char *transport_path, const char *auth_query)
{
	static const char	 q[] = "/?EIO=4&transport=websocket";
	size_t			 off = 0, n;
	int			 w;

	if (size == 0)
		goto nospace;
	buf[0] = '\0';
	/* A query or fragment in serverUrl is discarded. */
	n = strcspn(url_path ? url_path : "", "?#");
	if (eio_path_append(buf, size, &off, url_path ? url_path : "", n) ==
	    -1)
		goto nospace;
	n = strlen(transport_path ? transport_path : "");
	if (eio_path_append(buf, size, &off, transport_path ?
	    transport_path : "", n) == -1)
		goto nospace;
	/* The trailing '/': socket.io 4.8 drops /socket.io?EIO=4 (§1.1). */
	w = snprintf(buf + off, size - off, "%s%s%s", q,
	    auth_query && *auth_query ? "&" : "", auth_query ? auth_query : "");
	if (w < 0 || (size_t)w >= size - off)
		goto nospace;
	return (int)(off + (size_t)w);
 nospace:
	errno = ENOSPC;
	return -1;
}

/* ---------------------------------------------------------------- */
/* Socket.IO */

int
sio_reserved_name(const char *name)
{
	size_t	 i;

	for (i = 0; i < nitems(sio_reserved); i++)
		if (strcmp(name, sio_reserved[i]) == 0)
			return 1;
	return 0;
}

static int
sio_verdict(struct sio_packet *p, int v, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(p->error, sizeof(p->error), fmt, ap);
	va_end(ap);
	return v;
}

/* CONNECT_ERROR's reason, or DISCONNECT's message (§2.2, §2.7 #17). */
static void
sio_take_reason(struct sio_packet *p, json_t *d)
{
	json_t	*m = NULL;

	if (json_is_string(d))
		m = d;
	else if (json_is_object(d))
		m = json_object_get(d, "message");
	if (m != NULL && json_is_string(m))
		eio_printable(p->reason, sizeof(p->reason),
		    json_string_value(m), json_string_length(m));
	else
		strlcpy(p->reason, "unknown", sizeof(p->reason));
}

/* Step 8: the payload table of §2.1. */
static int
sio_check_payload(struct sio_packet *p)
{
	json_t		*d = p->data, *name;
	const char	*s;

	switch (p->type) {
	case SIO_CONNECT:
		if (d != NULL && !json_is_object(d))
			return sio_verdict(p, SIO_V_CLOSE,
			    "CONNECT payload is not an object");
		break;
	case SIO_DISCONNECT:
		/* python-socketio's always_connect sends {"message":...} */
		if (d != NULL)
			sio_take_reason(p, d);
		break;
	case SIO_EVENT:
	case SIO_BINARY_EVENT:
		if (d == NULL || !json_is_array(d) || json_array_size(d) == 0)
			return sio_verdict(p, SIO_V_DROP,
			    "event is not a non-empty array");
		name = json_array_get(d, 0);
		if (!json_is_string(name))
			return sio_verdict(p, SIO_V_DROP,
			    "event name is not a string");
		s = json_string_value(name);
		if (strlen(s) != json_string_length(name) || *s == '\0')
			return sio_verdict(p, SIO_V_DROP,
			    "event name is empty or holds NUL");
		if (sio_reserved_name(s))
			return sio_verdict(p, SIO_V_DROP,
			    "reserved event name %.32s", s);
		p->event = s;
		p->arg = json_array_get(d, 1);
		break;
	case SIO_ACK:
	case SIO_BINARY_ACK:
		if (d == NULL || !json_is_array(d))
			return sio_verdict(p, SIO_V_DROP,
			    "ack payload is not an array");
		break;
	case SIO_CONNECT_ERROR:
		sio_take_reason(p, d);
		break;
	}
	return SIO_V_OK;
}

int
sio_packet_decode(const char *s, size_t len, struct sio_packet *p)
{
	size_t	 i = 0, start, n;
	int	 count = 0;

	memset(p, 0, sizeof(*p));
	p->type = -1;
	p->ack = -1;
	strlcpy(p->nsp, "/", sizeof(p->nsp));
	/* Steps 1-2: a type digit. */
	if (len == 0)
		return sio_verdict(p, SIO_V_DROP, "empty message packet");
	if (s[0] < '0' || s[0] > '6')
		return sio_verdict(p, SIO_V_DROP,
		    "Socket.IO type out of range");
	p->type = s[i++] - '0';
	/* Step 3: "<count>-" for binary packets, at most 16. */
	if (p->type == SIO_BINARY_EVENT || p->type == SIO_BINARY_ACK) {
		for (start = i; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			if (count <= SIO_ATTACH_MAX)
				count = count * 10 + (s[i] - '0');
		if (i == start || i == len || s[i] != '-')
			return sio_verdict(p, SIO_V_DROP,
			    "bad attachment header");
		i++;
		if (count > SIO_ATTACH_MAX)
			return sio_verdict(p, SIO_V_CLOSE,
			    "more than %d attachments", SIO_ATTACH_MAX);
		p->nattach = count;
	}
	/* Step 4: the namespace runs to the first ',' or the end. */
	if (i < len && s[i] == '/') {
		for (start = i; i < len && s[i] != ','; i++)
			;
		n = i - start;
		if (i < len)
			i++;	/* the ',' */
		/* Only an exact match is ours; the copy is for logs. */
		if (n == strlen(SIO_NSP) && memcmp(s + start, SIO_NSP, n) == 0)
			strlcpy(p->nsp, SIO_NSP, sizeof(p->nsp));
		else
			eio_printable(p->nsp, sizeof(p->nsp), s + start, n);
	}
	/* Step 5: the ack id, at most 15 digits. */
	for (start = i; i < len && s[i] >= '0' && s[i] <= '9'; i++)
		if (i - start >= SIO_ACK_DIGITS_MAX)
			return sio_verdict(p, SIO_V_DROP,
			    "ack id longer than %d digits",
			    SIO_ACK_DIGITS_MAX);
	if (i > start) {
		p->ack = 0;
		for (n = start; n < i; n++)
			p->ack = p->ack * 10 + (s[n] - '0');
	}
	/* Step 6: one JSON value, or nothing. */
	if (i < len && (p->data = eio_json_load(s + i, len - i, p->error,
	    sizeof(p->error))) == NULL)
		return SIO_V_DROP;
	/* Step 7: another namespace is ignored, attachments still read. */
	if (strcmp(p->nsp, SIO_NSP) != 0)
		return sio_verdict(p, SIO_V_OTHER_NSP, "namespace %s",
		    p->nsp);
	return sio_check_payload(p);
}

void
sio_packet_clear(struct sio_packet *p)
{
	json_decref(p->data);
	p->data = NULL;
	p->event = NULL;
	p->arg = NULL;
}

/* ---------------------------------------------------------------- */
/* Encoding */

static int
sio_encode_fixed(char *buf, size_t size, const char *s)
{
	size_t	 n = strlen(s);

	if (n >= size) {
		errno = ENOSPC;
		return -1;
	}
	memcpy(buf, s, n + 1);
	return (int)n;
}

int
sio_encode_connect(char *buf, size_t size)
{
	/* No auth payload: the credentials are in the URL (§2.2). */
	return sio_encode_fixed(buf, size, "40" SIO_NSP ",");
}

int
sio_encode_disconnect(char *buf, size_t size)
{
	return sio_encode_fixed(buf, size, "41" SIO_NSP ",");
}

int
sio_encode_ack(char *buf, size_t size, int64_t id)
{
	int	 n;

	if (id < 0) {
		errno = EINVAL;
		return -1;
	}
	n = snprintf(buf, size, "43" SIO_NSP ",%" PRId64 "[]", id);
	if (n < 0 || (size_t)n >= size) {
		errno = ENOSPC;
		return -1;
	}
	return n;
}

char *
sio_encode_event(const char *name, const json_t *payload, size_t *lenp)
{
	static const char	 prefix[] = "42" SIO_NSP ",";
	json_t			*a;
	char			*body, *frame;
	size_t			 n;

	if (name == NULL || *name == '\0' || !json_is_object(payload)) {
		errno = EINVAL;
		return NULL;
	}
	/* jansson does not modify what json_pack's "O" only references. */
	if ((a = json_pack("[sO]", name, (json_t *)(uintptr_t)payload)) ==
	    NULL) {
		errno = EINVAL;
		return NULL;
	}
	body = json_dumps(a, JSON_COMPACT | JSON_PRESERVE_ORDER |
	    JSON_REAL_PRECISION(15));
	json_decref(a);
	if (body == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	n = strlen(body);
	if ((frame = malloc(sizeof(prefix) - 1 + n + 1)) == NULL) {
		free(body);
		return NULL;
	}
	memcpy(frame, prefix, sizeof(prefix) - 1);
	memcpy(frame + sizeof(prefix) - 1, body, n + 1);
	free(body);
	if (lenp != NULL)
		*lenp = sizeof(prefix) - 1 + n;
	return frame;
}
