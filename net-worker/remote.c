/*
 * remote.c: remote administration events <-> the exec-worker's IPC
 * (proto.h IPC_NE_ADMIN_RUN ... IPC_EN_BACKUP_DONE).
 *
 * The net-worker decides nothing here: it checks shapes and bounds,
 * forwards, and keeps what an answer must echo (token, command, user,
 * the backup job) so that none of it makes the round trip through the
 * exec-worker.  Policy (allowlists, enableShell, the command token) lives
 * in the exec-worker alone.
 */
#include <sys/types.h>
#include <sys/uio.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "dialect_nixfleet.h"
#include "dialect_socketio.h"
#include "log.h"
#include "proto.h"
#include "netrem.h"

#define NR_FRAME_MAX	(IPC_MAX_NE - 64)	/* payload room in a frame */

struct netrem_pending {
	TAILQ_ENTRY(netrem_pending) entry;
	uint32_t	 id;
	uint32_t	 answer;	/* the IPC_EN_ type expected */
	json_t		*echo;
};

void
netrem_init(struct netrem *nr, struct ipcev *exec, netrem_emit_fn emit,
    void *arg)
{
	memset(nr, 0, sizeof(*nr));
	nr->exec = exec;
	nr->emit = emit;
	nr->arg = arg;
	TAILQ_INIT(&nr->pending);
}

void
netrem_permit(struct permit *pm)
{
	static const uint32_t	 types[] = { IPC_EN_ADMIN_RESULT,
	    IPC_EN_SHELL_OUTPUT, IPC_EN_SHELL_CLOSED, IPC_EN_KEYS_RESULT,
	    IPC_EN_BACKUP_PLAN, IPC_EN_BACKUP_PROGRESS, IPC_EN_BACKUP_DONE };
	size_t			 i;

	for (i = 0; i < nitems(types); i++)
		permit_set(pm, types[i], PERMIT_ALLOW);
}

void
netrem_clear(struct netrem *nr)
{
	struct netrem_pending	*p;

	while ((p = TAILQ_FIRST(&nr->pending)) != NULL) {
		TAILQ_REMOVE(&nr->pending, p, entry);
		json_decref(p->echo);
		free(p);
	}
	nr->npending = 0;
}

static void
netrem_emit(struct netrem *nr, const char *event, json_t *payload)
{
	if (payload == NULL) {
		log_warnx("%s: out of memory, dropped", event);
		return;
	}
	nr->emit(nr->arg, event, payload);
}

/* A JSON string of any bytes: invalid UTF-8 becomes U+FFFD (§2.8). */
static json_t *
netrem_str(const char *s, size_t len)
{
	json_t	*j;
	char	*clean;
	size_t	 n;

	if ((clean = nixfleet_utf8_sanitize(s, len, &n)) == NULL)
		return NULL;
	j = json_stringn(clean, n);
	free(clean);
	return j;
}

/* Remember the echo under a new id; 0 when too many wait (refuse). */
static uint32_t
netrem_track(struct netrem *nr, uint32_t answer, json_t *echo)
{
	struct netrem_pending	*p;

	if (nr->npending >= IPC_ADMIN_PENDING_MAX || echo == NULL ||
	    (p = calloc(1, sizeof(*p))) == NULL) {
		json_decref(echo);
		return 0;
	}
	if (++nr->next_id == 0)
		nr->next_id = 1;
	p->id = nr->next_id;
	p->answer = answer;
	p->echo = echo;
	TAILQ_INSERT_TAIL(&nr->pending, p, entry);
	nr->npending++;
	return p->id;
}

/* The echo of id, taken off the list; NULL: no such request. */
static json_t *
netrem_untrack(struct netrem *nr, uint32_t id, uint32_t answer)
{
	struct netrem_pending	*p;
	json_t			*echo;

	TAILQ_FOREACH(p, &nr->pending, entry)
		if (p->id == id && p->answer == answer)
			break;
	if (p == NULL)
		return NULL;
	TAILQ_REMOVE(&nr->pending, p, entry);
	nr->npending--;
	echo = p->echo;
	free(p);
	return echo;
}

static void
netrem_forget(struct netrem *nr, uint32_t id, uint32_t answer)
{
	json_decref(netrem_untrack(nr, id, answer));
}

/* ---------------------------------------------------------------- */
/* Events -> IPC */

static json_t *
netrem_admin_reply(const char *token, size_t tlen, const char *cmd,
    size_t clen, int code, const char *err_text, const char *error)
{
	return json_pack("{s:o,s:o,s:{s:s,s:s,s:{s:i,s:i},s:s}}",
	    "token", netrem_str(token, tlen), "command", netrem_str(cmd, clen),
	    "result", "stdout", "", "stderr", err_text, "summary", "code",
	    code, "durationMs", 0, "error", error);
}

static void
netrem_admin_run(struct netrem *nr, const struct sio_in *in)
{
	struct ipc_admin_run	 h;
	struct iovec		 iov[4];
	const char		*tok = in->token.s != NULL ? in->token.s : "";
	const char		*cmd = in->command.s != NULL ?
				    in->command.s : "";
	size_t			 tlen = in->token.s != NULL ? in->token.len : 0;
	size_t			 clen = in->command.len;
	size_t			 cwdlen = in->cwd.s != NULL ? in->cwd.len : 0;
	uint32_t		 id;

	memset(&h, 0, sizeof(h));
	if (tlen > IPC_TOKEN_MAX)
		tlen = IPC_TOKEN_MAX;	/* cannot match a configured token */
	if (sizeof(h) + tlen + clen + cwdlen > NR_FRAME_MAX ||
	    cwdlen > IPC_PATH_MAX) {
		netrem_emit(nr, "admin_result", netrem_admin_reply(tok,
		    in->token.len, cmd, clen, 126,
		    "command blocked: invalid command",
		    "invalid command: too long"));
		return;
	}
	id = netrem_track(nr, IPC_EN_ADMIN_RESULT, json_pack("{s:o,s:o}",
	    "token", netrem_str(tok, in->token.s != NULL ? in->token.len : 0),
	    "command", netrem_str(cmd, clen)));
	if (id == 0) {
		netrem_emit(nr, "admin_result", netrem_admin_reply(tok,
		    in->token.len, cmd, clen, 429, "rate limited",
		    "rate limited"));
		return;
	}
	h.timeout_s = in->timeout_sec <= 0 ? 0 : in->timeout_sec > 604800 ?
	    604800 : (uint32_t)in->timeout_sec;
	h.flags = (in->token.s != NULL ? IPC_ARF_TOKEN : 0) |
	    (in->cwd.s != NULL && in->cwd.len > 0 ? IPC_ARF_CWD : 0);
	h.token_len = tlen;
	h.command_len = clen;
	h.cwd_len = cwdlen;
	iov[0].iov_base = &h;
	iov[0].iov_len = sizeof(h);
	iov[1].iov_base = (void *)tok;
	iov[1].iov_len = tlen;
	iov[2].iov_base = (void *)cmd;
	iov[2].iov_len = clen;
	iov[3].iov_base = (void *)(in->cwd.s != NULL ? in->cwd.s : "");
	iov[3].iov_len = cwdlen;
	if (ipcev_composev(nr->exec, IPC_NE_ADMIN_RUN, id, -1, iov, 4) == -1)
		netrem_forget(nr, id, IPC_EN_ADMIN_RESULT);
}

static int
netrem_session(const struct sio_in *in, struct ipc_shell *sh)
{
	size_t	 i;

	memset(sh, 0, sizeof(*sh));
	if (in->session.s == NULL)
		return 0;		/* "": the exec-worker's refusal */
	if (in->session.len >= sizeof(sh->session))
		return -1;
	for (i = 0; i < in->session.len; i++)
		if ((unsigned char)in->session.s[i] < 0x20 ||
		    in->session.s[i] == 0x7f)
			return -1;
	memcpy(sh->session, in->session.s, in->session.len);
	return 0;
}

static void
netrem_shell(struct netrem *nr, const struct sio_in *in)
{
	struct ipc_shell	 sh;
	struct iovec		 iov[2];
	size_t			 off, n;

	if (netrem_session(in, &sh) == -1) {
		log_warnx("%s: session id refused (%zu bytes)", in->name,
		    in->session.len);
		if (in->type == SIO_IN_SHELL_START)
			netrem_emit(nr, "shell_closed", sio_enc_shell_closed(
			    "", 1, "session id too long or not printable",
			    NULL));
		return;
	}
	switch (in->type) {
	case SIO_IN_SHELL_START:
		ipcev_compose(nr->exec, IPC_NE_SHELL_START, 0, -1, &sh,
		    sizeof(sh));
		break;
	case SIO_IN_SHELL_CLOSE:
		if (sh.session[0] != '\0')
			ipcev_compose(nr->exec, IPC_NE_SHELL_CLOSE, 0, -1, &sh,
			    sizeof(sh));
		break;
	case SIO_IN_SHELL_RESIZE:
		if (in->cols <= 0 || in->rows <= 0 || sh.session[0] == '\0')
			break;		/* §5.1: ignored */
		sh.cols = in->cols;
		sh.rows = in->rows;
		ipcev_compose(nr->exec, IPC_NE_SHELL_RESIZE, 0, -1, &sh,
		    sizeof(sh));
		break;
	case SIO_IN_SHELL_INPUT:
		if (sh.session[0] == '\0' || in->data.s == NULL)
			break;
		/* At once, in as few frames as the channel allows. */
		for (off = 0; off < in->data.len; off += n) {
			n = in->data.len - off;
			if (n > IPC_SHELL_IN_MAX)
				n = IPC_SHELL_IN_MAX;
			sh.len = n;
			iov[0].iov_base = &sh;
			iov[0].iov_len = sizeof(sh);
			iov[1].iov_base = (void *)(in->data.s + off);
			iov[1].iov_len = n;
			if (ipcev_composev(nr->exec, IPC_NE_SHELL_INPUT, 0, -1,
			    iov, 2) == -1)
				break;
		}
		break;
	}
}

int
netrem_user_check(const char *s, size_t len, char out[40])
{
	size_t	 i;

	while (len > 0 && (*s == ' ' || *s == '\t' || *s == '\r' ||
	    *s == '\n')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' ||
	    s[len - 1] == '\r' || s[len - 1] == '\n'))
		len--;
	if (len < 1 || len > 39)
		return -1;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return -1;
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

static void
netrem_keys_fail(struct netrem *nr, json_t *user, const char *error)
{
	netrem_emit(nr, "keys_sync_result", json_pack("{s:o,s:b,s:s}",
	    "user", user, "ok", 0, "error", error));
}

/*
 * §6.3: check the login (step 1) before anything is requested, then the
 * fetch (step 2, keysrc.c); netrem_keys_fetched() carries the body on.
 */
static void
netrem_sync_keys(struct netrem *nr, const struct sio_in *in)
{
	json_t			*user;
	char			 login[40], err[128];
	uint32_t		 id;

	user = netrem_str(in->user.s != NULL ? in->user.s : "",
	    in->user.s != NULL ? in->user.len : 0);
	if (in->user.s == NULL ||
	    netrem_user_check(in->user.s, in->user.len, login) == -1) {
		snprintf(err, sizeof(err), "invalid github user \"%.*s\"",
		    (int)(in->user.s != NULL && in->user.len < 64 ?
		    in->user.len : 64), in->user.s != NULL ? in->user.s : "");
		netrem_keys_fail(nr, user, err);
		return;
	}
	if (nr->fetch == NULL) {
		netrem_keys_fail(nr, user, "key sync disabled");
		return;
	}
	if ((id = netrem_track(nr, IPC_EN_KEYS_RESULT,
	    json_incref(user))) == 0) {
		netrem_keys_fail(nr, user, "too many requests");
		return;
	}
	if (nr->fetch(nr->fetch_arg, login, id) == -1) {
		netrem_forget(nr, id, IPC_EN_KEYS_RESULT);
		netrem_keys_fail(nr, user, "too many key syncs waiting");
		return;
	}
	json_decref(user);
}

void
netrem_keys_fetched(struct netrem *nr, uint32_t id, const char *body,
    size_t len, uint32_t ms, const char *error)
{
	struct ipc_keys_install	 h;
	struct iovec		 iov[2];
	struct netrem_pending	*p;
	json_t			*user;

	TAILQ_FOREACH(p, &nr->pending, entry)
		if (p->id == id && p->answer == IPC_EN_KEYS_RESULT)
			break;
	if (p == NULL)
		return;		/* the exec-worker was replaced meanwhile */
	if (error == NULL && len > IPC_KEYS_BODY_MAX)
		error = "key list too large";
	if (error == NULL && !ipcev_active(nr->exec))
		error = "no exec-worker";
	if (error != NULL) {
		if ((user = netrem_untrack(nr, id, IPC_EN_KEYS_RESULT)) != NULL)
			netrem_keys_fail(nr, user, error);
		return;
	}
	memset(&h, 0, sizeof(h));
	h.body_len = (uint32_t)len;
	h.fetch_ms = ms;
	iov[0].iov_base = &h;
	iov[0].iov_len = sizeof(h);
	iov[1].iov_base = (void *)body;
	iov[1].iov_len = len;
	if (ipcev_composev(nr->exec, IPC_NE_KEYS_INSTALL, id, -1, iov,
	    2) == -1)
		netrem_forget(nr, id, IPC_EN_KEYS_RESULT);
}

static json_t *
netrem_strs_or_empty(json_t *a)
{
	return a != NULL ? json_incref(a) : json_array();
}

static void
netrem_backup_error(struct netrem *nr, const struct sio_in *in,
    const char *error)
{
	netrem_emit(nr, "backup_error", json_pack("{s:o,s:s}", "planId",
	    netrem_str(in->plan_id.s != NULL ? in->plan_id.s : "",
	    in->plan_id.s != NULL ? in->plan_id.len : 0), "error", error));
}

static void
netrem_backup(struct netrem *nr, const struct sio_in *in)
{
	struct ipc_backup_req	 h;
	struct iovec		*iov;
	const struct sio_str	*fixed[4] = { &in->plan_id, &in->host,
				    &in->user, &in->dest_root };
	json_t			*lists[2] = { in->source_dirs,
				    in->ignore_globs };
	json_t			*job, *e;
	size_t			 n, i, k = 0, j, total = sizeof(h);
	uint32_t		 id, answer;

	if (in->plan_id.len >= IPC_PLAN_ID_MAX) {
		netrem_backup_error(nr, in, "planId too long");
		return;
	}
	memset(&h, 0, sizeof(h));
	h.port = (uint32_t)in->port;
	h.nsrc = in->source_dirs != NULL ? json_array_size(in->source_dirs) : 0;
	h.nglob = in->ignore_globs != NULL ?
	    json_array_size(in->ignore_globs) : 0;
	if (h.nsrc > IPC_BACKUP_LIST_MAX || h.nglob > IPC_BACKUP_LIST_MAX) {
		netrem_backup_error(nr, in, "too many directories or globs");
		return;
	}
#define HAS(k)	(json_object_get(in->payload, (k)) != NULL)
	h.flags = (HAS("host") ? IPC_BKF_HOST : 0) |
	    (HAS("user") ? IPC_BKF_USER : 0) |
	    (HAS("port") ? IPC_BKF_PORT : 0) |
	    (HAS("destRoot") ? IPC_BKF_DEST : 0) |
	    (HAS("sourceDirs") ? IPC_BKF_SRC : 0) |
	    (HAS("ignoreGlobs") ? IPC_BKF_GLOB : 0);
#undef HAS
	n = 1 + 4 + h.nsrc + h.nglob;
	if ((iov = calloc(n, sizeof(*iov))) == NULL) {
		netrem_backup_error(nr, in, "out of memory");
		return;
	}
	iov[k].iov_base = &h;
	iov[k++].iov_len = sizeof(h);
	/* Strings carry their NUL: sio_decode_event refused inner ones. */
	for (i = 0; i < 4; i++) {
		iov[k].iov_base = (void *)(fixed[i]->s != NULL ?
		    fixed[i]->s : "");
		iov[k].iov_len = (fixed[i]->s != NULL ? fixed[i]->len : 0) + 1;
		total += iov[k++].iov_len;
	}
	for (i = 0; i < 2; i++)
		json_array_foreach(lists[i], j, e) {
			iov[k].iov_base = (void *)json_string_value(e);
			iov[k].iov_len = json_string_length(e) + 1;
			total += iov[k++].iov_len;
		}
	if (total > NR_FRAME_MAX) {
		free(iov);
		netrem_backup_error(nr, in, "request too large");
		return;
	}
	answer = in->type == SIO_IN_BACKUP_PLAN ? IPC_EN_BACKUP_PLAN :
	    IPC_EN_BACKUP_DONE;
	/* The job of §5.2, echoed with "", 0 and [] for what is absent. */
	job = json_pack("{s:o,s:o,s:o,s:I,s:o,s:o,s:o}",
	    "planId", netrem_str(in->plan_id.s ? in->plan_id.s : "",
	    in->plan_id.len), "host", netrem_str(in->host.s ? in->host.s : "",
	    in->host.len), "user", netrem_str(in->user.s ? in->user.s : "",
	    in->user.len), "port", (json_int_t)in->port,
	    "sourceDirs", netrem_strs_or_empty(in->source_dirs),
	    "destRoot", netrem_str(in->dest_root.s ? in->dest_root.s : "",
	    in->dest_root.len),
	    "ignoreGlobs", netrem_strs_or_empty(in->ignore_globs));
	if ((id = netrem_track(nr, answer, job)) == 0) {
		free(iov);
		netrem_backup_error(nr, in, "too many requests");
		return;
	}
	if (ipcev_composev(nr->exec, in->type == SIO_IN_BACKUP_PLAN ?
	    IPC_NE_BACKUP_PLAN : IPC_NE_BACKUP_START, id, -1, iov,
	    (int)k) == -1)
		netrem_forget(nr, id, answer);
	free(iov);
}

int
netrem_event(struct netrem *nr, const char *name, json_t *payload)
{
	struct sio_in	 in;
	int		 ours = 1;

	sio_decode_event(name, payload, &in);
	switch (in.type) {
	case SIO_IN_ADMIN_RUN:
	case SIO_IN_SHELL_START:
	case SIO_IN_SHELL_INPUT:
	case SIO_IN_SHELL_RESIZE:
	case SIO_IN_SHELL_CLOSE:
	case SIO_IN_BACKUP_PLAN:
	case SIO_IN_BACKUP_START:
	case SIO_IN_SYNC_KEYS:
		break;
	case SIO_IN_INVALID:
		/* Ours by name, malformed: log and drop it. */
		log_warnx("malformed %s ignored: %s", in.name, in.error);
		ours = strcmp(name, "admin_run") == 0 ||
		    strncmp(name, "shell_", 6) == 0 ||
		    strncmp(name, "backup_", 7) == 0 ||
		    strcmp(name, "sync_keys") == 0;
		sio_in_clear(&in);
		return ours;
	default:
		sio_in_clear(&in);
		return 0;
	}
	if (!ipcev_active(nr->exec)) {
		log_warnx("%s ignored: no exec-worker", in.name);
		sio_in_clear(&in);
		return 1;
	}
	switch (in.type) {
	case SIO_IN_ADMIN_RUN:
		netrem_admin_run(nr, &in);
		break;
	case SIO_IN_SYNC_KEYS:
		netrem_sync_keys(nr, &in);
		break;
	case SIO_IN_BACKUP_PLAN:
	case SIO_IN_BACKUP_START:
		netrem_backup(nr, &in);
		break;
	default:
		netrem_shell(nr, &in);
		break;
	}
	sio_in_clear(&in);
	return 1;
}

int
netrem_nixfleet(struct netrem *nr, const char *data, size_t len)
{
	json_t		*root, *type, *payload, *empty;
	int		 rc = 0;

	if ((root = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL)) ==
	    NULL)
		return 0;
	type = json_object_get(root, "type");
	payload = json_object_get(root, "payload");
	if (json_is_string(type) && (payload == NULL ||
	    json_is_object(payload))) {
		empty = payload == NULL ? json_object() : NULL;
		rc = netrem_event(nr, json_string_value(type),
		    payload != NULL ? payload : empty);
		json_decref(empty);
	}
	json_decref(root);
	return rc;
}

/* ---------------------------------------------------------------- */
/* IPC -> events */

static int
netrem_admin_result(struct netrem *nr, struct ipcmsg *m)
{
	struct ipc_admin_result	 h;
	const char		*p = ipc_get_ptr(m);
	size_t			 len = ipc_get_len(m);
	json_t			*echo, *res, *sum;

	if (len < sizeof(h))
		return -1;
	memcpy(&h, p, sizeof(h));
	if ((uint64_t)h.stdout_len + h.stderr_len != len - sizeof(h) ||
	    !ipc_str_valid(h.signal, sizeof(h.signal)) ||
	    !ipc_str_valid(h.error, sizeof(h.error)) ||
	    (echo = netrem_untrack(nr, ipc_get_id(m),
	    IPC_EN_ADMIN_RESULT)) == NULL)
		return -1;
	p += sizeof(h);
	sum = json_pack("{s:i,s:I}", "code", (int)h.code, "durationMs",
	    (json_int_t)h.duration_ms);
	if (sum != NULL && h.signal[0] != '\0')
		json_object_set_new(sum, "signal", netrem_str(h.signal,
		    strlen(h.signal)));
	res = json_pack("{s:o,s:o,s:o}", "stdout", netrem_str(p,
	    h.stdout_len), "stderr", netrem_str(p + h.stdout_len,
	    h.stderr_len), "summary", sum);
	if (res != NULL && h.error[0] != '\0')
		json_object_set_new(res, "error", netrem_str(h.error,
		    strlen(h.error)));
	if (res != NULL && (h.flags & IPC_ADMRF_TRUNCATED))
		json_object_set_new(res, "truncated", json_true());
	if (res == NULL || json_object_set_new(echo, "result", res) == -1) {
		json_decref(echo);
		echo = NULL;
	}
	netrem_emit(nr, "admin_result", echo);
	return 0;
}

static int
netrem_output_cb(void *arg, const json_t *o)
{
	struct netrem	*nr = arg;

	netrem_emit(nr, "shell_output", json_deep_copy(o));
	return 0;
}

static int
netrem_shell_output(struct netrem *nr, struct ipcmsg *m)
{
	struct ipc_shell	 h;
	const char		*p = ipc_get_ptr(m);
	size_t			 len = ipc_get_len(m);

	if (len < sizeof(h))
		return -1;
	memcpy(&h, p, sizeof(h));
	if (!ipc_str_valid(h.session, sizeof(h.session)) ||
	    h.len != len - sizeof(h) || h.len > IPC_SHELL_CHUNK)
		return -1;
	/* One chunk, one event, split only if the dialect's bound says so. */
	if (sio_enc_shell_output(h.session, p + sizeof(h), h.len,
	    nr->max_frame != 0 ? nr->max_frame : SIZE_MAX / 2,
	    netrem_output_cb, nr) == -1)
		log_warn("shell_output");
	return 0;
}

static int
netrem_shell_closed(struct netrem *nr, struct ipcmsg *m)
{
	struct ipc_shell_closed	 c;

	if (ipc_get_data(m, &c, sizeof(c)) == -1 ||
	    !ipc_str_valid(c.session, sizeof(c.session)) ||
	    !ipc_str_valid(c.reason, sizeof(c.reason)) ||
	    !ipc_str_valid(c.signal, sizeof(c.signal)))
		return -1;
	netrem_emit(nr, "shell_closed", sio_enc_shell_closed(c.session,
	    c.code, c.reason, c.signal[0] != '\0' ? c.signal : NULL));
	return 0;
}

static int
netrem_keys_result(struct netrem *nr, struct ipcmsg *m)
{
	struct ipc_keys_result	 k;
	json_t			*user;

	if (ipc_get_data(m, &k, sizeof(k)) == -1 || k.ok > 1 ||
	    !ipc_str_valid(k.error, sizeof(k.error)) ||
	    (user = netrem_untrack(nr, ipc_get_id(m),
	    IPC_EN_KEYS_RESULT)) == NULL)
		return -1;
	if (k.ok)
		netrem_emit(nr, "keys_sync_result", json_pack(
		    "{s:o,s:b,s:I,s:I}", "user", user, "ok", 1, "added",
		    (json_int_t)k.added, "ms", (json_int_t)k.ms));
	else
		netrem_keys_fail(nr, user, k.error);
	return 0;
}

static int
netrem_backup_plan(struct netrem *nr, struct ipcmsg *m)
{
	struct ipc_backup_plan	 h;
	const char		*p = ipc_get_ptr(m), *end, *nul;
	size_t			 len = ipc_get_len(m);
	json_t			*job, *files, *o;
	uint32_t		 i;

	if (len < sizeof(h))
		return -1;
	memcpy(&h, p, sizeof(h));
	end = p + len;
	p += sizeof(h);
	if (h.nfiles > 25 || (files = json_array()) == NULL)
		return -1;
	for (i = 0; i < h.nfiles; i++, p = nul + 1) {
		if (p >= end || (nul = memchr(p, '\0', end - p)) == NULL) {
			json_decref(files);
			return -1;
		}
		json_array_append_new(files, netrem_str(p, nul - p));
	}
	if (p != end || (job = netrem_untrack(nr, ipc_get_id(m),
	    IPC_EN_BACKUP_PLAN)) == NULL) {
		json_decref(files);
		return -1;
	}
	o = json_pack("{s:O,s:o,s:I,s:I,s:o,s:[]}", "planId",
	    json_object_get(job, "planId"), "job", job, "totalFiles",
	    (json_int_t)h.total_files, "totalBytes",
	    (json_int_t)h.total_bytes, "files", files, "modifies");
	netrem_emit(nr, "backup_plan", o);
	return 0;
}

static int
netrem_backup_progress(struct netrem *nr, struct ipcmsg *m)
{
	struct ipc_backup_progress	 p;
	json_t				*echo;
	double				 pct;

	if (ipc_get_data(m, &p, sizeof(p)) == -1 ||
	    !ipc_str_valid(p.plan_id, sizeof(p.plan_id)) ||
	    !ipc_str_valid(p.file, sizeof(p.file)) ||
	    (p.op != IPC_BK_COPY && p.op != IPC_BK_RSYNC))
		return -1;
	/* The first progress of a run answers its backup_start. */
	if (ipc_get_id(m) != 0) {
		if ((echo = netrem_untrack(nr, ipc_get_id(m),
		    IPC_EN_BACKUP_DONE)) == NULL)
			return -1;
		json_decref(echo);
	}
	/* §6.5: transferred / max(1, totalBytes); rsync says 0 for 0. */
	pct = p.total_bytes == 0 && p.op == IPC_BK_RSYNC ? 0 :
	    (double)p.transferred * 100.0 / (double)(p.total_bytes > 0 ?
	    p.total_bytes : 1);
	if (pct > 100)
		pct = 100;
	netrem_emit(nr, "backup_progress", json_pack("{s:o,s:o,s:s,s:o,s:I,"
	    "s:I}", "planId", netrem_str(p.plan_id, strlen(p.plan_id)),
	    "file", netrem_str(p.file, strlen(p.file)), "op",
	    p.op == IPC_BK_COPY ? "copy" : "rsync", "percent",
	    sio_json_real(pct), "transferredBytes",
	    (json_int_t)p.transferred, "filesCompleted",
	    (json_int_t)p.files_completed));
	return 0;
}

static int
netrem_backup_done(struct netrem *nr, struct ipcmsg *m)
{
	struct ipc_backup_done	 d;
	uint32_t		 id = ipc_get_id(m);
	json_t			*echo = NULL;

	if (ipc_get_data(m, &d, sizeof(d)) == -1 || d.ok > 1 ||
	    !ipc_str_valid(d.plan_id, sizeof(d.plan_id)) ||
	    !ipc_str_valid(d.error, sizeof(d.error)))
		return -1;
	/* A refused plan or start answers its request; a run's end, 0. */
	if (id != 0 && (echo = netrem_untrack(nr, id, IPC_EN_BACKUP_DONE)) ==
	    NULL && (echo = netrem_untrack(nr, id, IPC_EN_BACKUP_PLAN)) ==
	    NULL)
		return -1;
	json_decref(echo);
	if (d.ok)
		netrem_emit(nr, "backup_complete", json_pack("{s:o,s:b,s:I,"
		    "s:I}", "planId", netrem_str(d.plan_id,
		    strlen(d.plan_id)), "ok", 1, "ms", (json_int_t)d.ms,
		    "transferredBytes", (json_int_t)d.transferred));
	else
		netrem_emit(nr, "backup_error", json_pack("{s:o,s:o}",
		    "planId", netrem_str(d.plan_id, strlen(d.plan_id)),
		    "error", netrem_str(d.error, strlen(d.error))));
	return 0;
}

void
netrem_session_end(struct netrem *nr)
{
	if (ipcev_active(nr->exec))
		ipcev_compose(nr->exec, IPC_NE_SESSION_END, 0, -1, NULL, 0);
}

int
netrem_dispatch_exec(struct netrem *nr, struct ipcmsg *m)
{
	switch (ipc_get_type(m)) {
	case IPC_EN_ADMIN_RESULT:
		return netrem_admin_result(nr, m);
	case IPC_EN_SHELL_OUTPUT:
		return netrem_shell_output(nr, m);
	case IPC_EN_SHELL_CLOSED:
		return netrem_shell_closed(nr, m);
	case IPC_EN_KEYS_RESULT:
		return netrem_keys_result(nr, m);
	case IPC_EN_BACKUP_PLAN:
		return netrem_backup_plan(nr, m);
	case IPC_EN_BACKUP_PROGRESS:
		return netrem_backup_progress(nr, m);
	case IPC_EN_BACKUP_DONE:
		return netrem_backup_done(nr, m);
	}
	return -1;
}
