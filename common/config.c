/*
 * config.c: defaults < JSON file < environment < flags, from one table.
 *
 * Every setting is a row of cfg_settings: its canonical name, JSON key,
 * environment names, flag, type and default.  config_load() walks the
 * table once per source in rising precedence, remembering for each
 * setting which source won, then checks what only makes sense across
 * settings (token or token file, repository mode, dialect choice).  Every
 * problem is written to err and counted, so an operator fixes them all in
 * one round instead of one per restart.  The command line, --help and
 * --print-config are in config_cli.c.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>
#include <mbedtls/base64.h>

#include "compat.h"
#include "config.h"
#include "config_priv.h"
#include "log.h"
#include "url.h"

#define CFG_STATE_DIR		"/var/lib/nixfleet-agent"
#define CFG_DEFAULT_FILE	"./agent-config.json"
#define CFG_SECRET_MAX		(64 * 1024)
#define CFG_MIB			(1024 * 1024)
#define CFG_KEYS_PATH_MAX	900	/* proto.h ipc_keysrc_config.path */

#define O(f)	offsetof(struct config, f)
#define OS(f)	offsetof(struct config_srcs, f)

const struct cfg_setting cfg_settings[C_MAX] = {
	[C_PROTOCOL] = { "protocol", "protocol", { "NIXFLEET_PROTOCOL" },
	    "--protocol", T_PROTO, S_BOTH, 0, O(dialect), .help =
	    "dialect: nixfleet or socketio" },

	[C_URL] = { "NIXFLEET_URL", "nixfleet.url", { "NIXFLEET_URL" }, NULL,
	    T_STR, S_NIX, 0, O(url), .help = "dashboard URL, ws:// or wss://" },
	[C_TOKEN] = { "NIXFLEET_TOKEN", "nixfleet.token", { "NIXFLEET_TOKEN" },
	    NULL, T_SECRET, S_NIX, 0, O(token), .help = "bearer token" },
	[C_TOKEN_FILE] = { "NIXFLEET_TOKEN_FILE", "nixfleet.tokenFile",
	    { "NIXFLEET_TOKEN_FILE" }, NULL, T_STR, S_NIX, 0, O(token_file),
	    .help = "file holding the bearer token" },
	[C_REPO_URL] = { "NIXFLEET_REPO_URL", "nixfleet.repoUrl",
	    { "NIXFLEET_REPO_URL" }, NULL, T_STR, S_NIX, 0, O(repo_url),
	    .help = "repository to clone (isolated mode)" },
	[C_REPO_DIR] = { "NIXFLEET_REPO_DIR", "nixfleet.repoDir",
	    { "NIXFLEET_REPO_DIR" }, NULL, T_STR, S_NIX, F_ABSPATH,
	    O(repo_dir), .help = "repository directory" },
	[C_NIXCFG] = { "NIXFLEET_NIXCFG", "nixfleet.nixcfg",
	    { "NIXFLEET_NIXCFG" }, NULL, T_STR, S_NIX, F_SRCS | F_ABSPATH,
	    OS(nixcfg), .help = "repository directory (legacy name)" },
	[C_BRANCH] = { "NIXFLEET_BRANCH", "nixfleet.branch",
	    { "NIXFLEET_BRANCH" }, NULL, T_STR, S_NIX, 0, O(branch), "main",
	    .help = "branch to clone and fetch" },
	[C_SSH_KEY] = { "NIXFLEET_SSH_KEY", "nixfleet.sshKey",
	    { "NIXFLEET_SSH_KEY" }, NULL, T_STR, S_NIX, 0, O(ssh_key),
	    .help = "private key for git over SSH" },
	[C_INTERVAL] = { "NIXFLEET_INTERVAL", "nixfleet.interval",
	    { "NIXFLEET_INTERVAL" }, NULL, T_INT, S_NIX, 0, O(interval), NULL,
	    5, 0, 1, 86400, "heartbeat interval, seconds" },
	[C_HOSTNAME] = { "NIXFLEET_HOSTNAME", "nixfleet.hostname",
	    { "NIXFLEET_HOSTNAME" }, NULL, T_STR, S_NIX, 0, O(hostname), "",
	    .help = "host name to report (default: detected)" },
	[C_NIXPKGS] = { "NIXFLEET_NIXPKGS_VERSION", "nixfleet.nixpkgsVersion",
	    { "NIXFLEET_NIXPKGS_VERSION" }, NULL, T_STR, S_NIX, 0,
	    O(nixpkgs_version), "", .help = "nixpkgs version to report" },
	[C_THEME] = { "NIXFLEET_THEME_COLOR", "nixfleet.themeColor",
	    { "NIXFLEET_THEME_COLOR" }, NULL, T_STR, S_NIX, 0,
	    O(theme_color), "", .help = "dashboard colour" },
	[C_LOCATION] = { "NIXFLEET_LOCATION", "nixfleet.location",
	    { "NIXFLEET_LOCATION" }, NULL, T_STR, S_NIX, 0, O(location),
	    "home", .help = "home, work or cloud" },
	[C_DEVICE] = { "NIXFLEET_DEVICE_TYPE", "nixfleet.deviceType",
	    { "NIXFLEET_DEVICE_TYPE" }, NULL, T_STR, S_NIX, 0,
	    O(device_type), "desktop", .help =
	    "server, desktop, laptop or gaming" },

	[C_CLIENT_ID] = { "clientId", "clientId", { "CLIENT_ID" }, NULL,
	    T_STR, S_SIO, 0, O(client_id), .help = "agent id [A-Za-z0-9._:-]" },
	[C_SERVER_URL] = { "serverUrl", "serverUrl", { "SERVER_URL" }, NULL,
	    T_STR, S_SIO, 0, O(server_url), .help = "control plane URL" },
	[C_AUTH_TOKEN] = { "authToken", "authToken", { "AUTH_TOKEN" }, NULL,
	    T_SECRET, S_SIO, 0, O(auth_token), .help = "HMAC key" },
	[C_AUTH_TOKEN_FILE] = { "authTokenFile", "authTokenFile",
	    { "AUTH_TOKEN_FILE" }, NULL, T_STR, S_SIO, 0, O(auth_token_file),
	    .help = "file holding the HMAC key" },
	[C_STATS] = { "statsIntervalSec", "statsIntervalSec",
	    { "STATS_INTERVAL_SEC" }, NULL, T_INT, S_SIO, F_POSDEF,
	    O(stats_interval), NULL, 60, 0, 1, 86400, "stats period, seconds" },
	[C_HEARTBEAT] = { "heartbeatIntervalSec", "heartbeatIntervalSec",
	    { "HEARTBEAT_INTERVAL_SEC" }, NULL, T_INT, S_SIO, F_POSDEF,
	    O(heartbeat_interval), NULL, 20, 0, 1, 86400,
	    "idle check period, seconds" },
	[C_PONG] = { "pongTimeoutSec", "pongTimeoutSec",
	    { "PONG_TIMEOUT_SEC" }, NULL, T_INT, S_SIO, F_POSDEF,
	    O(pong_timeout), NULL, 90, 0, 1, 86400,
	    "server eviction time, seconds" },
	[C_SHELL_ON] = { "admin.enableShell", "admin.enableShell",
	    { "ENABLE_SHELL" }, NULL, T_BOOL, S_BOTH, 0, O(enable_shell),
	    .help = "allow PTY shells" },
	[C_COMMANDS] = { "admin.allowedCommands", "admin.allowedCommands",
	    { "ADMIN_ALLOWED_COMMANDS" }, NULL, T_LIST, S_BOTH, 0,
	    O(allowed_commands), .help = "admin_run allowlist (comma list)" },
	[C_CWDS] = { "admin.allowedCwds", "admin.allowedCwds",
	    { "ADMIN_ALLOWED_CWDS" }, NULL, T_LIST, S_BOTH, 0,
	    O(allowed_cwds), .help = "admin_run cwd allowlist (comma list)" },
	[C_MAXCONC] = { "admin.maxConcurrent", "admin.maxConcurrent",
	    { "ADMIN_MAX_CONCURRENT" }, NULL, T_INT, S_BOTH, F_POSDEF,
	    O(max_concurrent), NULL, 1, 0, 1, 64, "concurrent admin_run" },
	[C_TIMEOUT] = { "admin.defaultTimeoutSec", "admin.defaultTimeoutSec",
	    { "ADMIN_DEFAULT_TIMEOUT_SEC" }, NULL, T_INT, S_BOTH, F_POSDEF,
	    O(default_timeout), NULL, 30, 0, 1, 604800,
	    "admin_run timeout, seconds" },
	[C_REQTOKEN] = { "admin.requireToken", "admin.requireToken",
	    { "REQUIRE_COMMAND_TOKEN" }, NULL, T_BOOL, S_BOTH, 0,
	    O(require_token), .help = "admin_run needs the command token" },
	[C_CMDTOKEN] = { "admin.commandToken", "admin.commandToken",
	    { "COMMAND_TOKEN" }, NULL, T_SECRET, S_BOTH, 0, O(command_token),
	    .help = "admin_run command token" },
	[C_RLMAX] = { "admin.rateLimitMax", "admin.rateLimitMax", { NULL },
	    NULL, T_INT, S_BOTH, F_POSDEF, O(rate_limit_max), NULL, 0, 0, 0,
	    1000000, NULL },
	[C_RLWIN] = { "admin.rateLimitWindowSec", "admin.rateLimitWindowSec",
	    { NULL }, NULL, T_INT, S_BOTH, F_POSDEF, O(rate_limit_window), NULL,
	    60, 0, 1, 86400, NULL },
	[C_BKSRC] = { "backup.allowedSourceRoots", "backup.allowedSourceRoots",
	    { "BACKUP_SOURCE_ROOTS" }, NULL, T_LIST, S_BOTH, 0,
	    O(backup_source_roots), .help = "backup sources (comma list)" },
	[C_BKDST] = { "backup.allowedDestRoots", "backup.allowedDestRoots",
	    { "BACKUP_DEST_ROOTS" }, NULL, T_LIST, S_BOTH, 0,
	    O(backup_dest_roots), .help = "backup destinations (comma list)" },
	[C_BKSSHID] = { "backup.sshIdentityFile", "backup.sshIdentityFile",
	    { "BACKUP_SSH_IDENTITY_FILE" }, NULL, T_STR, S_BOTH, F_ABSPATH,
	    O(backup_ssh_identity), "", .help =
	    "private key for remote backups (default: ssh's)" },
	[C_BKSSHKH] = { "backup.sshKnownHostsFile", "backup.sshKnownHostsFile",
	    { "BACKUP_SSH_KNOWN_HOSTS_FILE" }, NULL, T_STR, S_BOTH, F_ABSPATH,
	    O(backup_ssh_known_hosts), "", .help =
	    "known_hosts for remote backups (default: ssh's)" },
	[C_BKSSHSKIP] = { "backup.sshSkipHostKeyCheck",
	    "backup.sshSkipHostKeyCheck", { "BACKUP_SSH_SKIP_HOST_KEY_CHECK" },
	    NULL, T_BOOL, S_BOTH, 0, O(backup_ssh_skip_hostkey), .help =
	    "no host key checks for remote backups (insecure)" },
	[C_TPATH] = { "transport.path", "transport.path", { "TRANSPORT_PATH" },
	    NULL, T_STR, S_SIO, 0, O(transport_path), "/socket.io",
	    .help = "Engine.IO path" },
	[C_SHELL_CMD] = { "shell.command", "shell.command", { NULL }, NULL,
	    T_STR, S_BOTH, 0, O(shell_command), "/bin/bash",
	    .help = "PTY shell" },
	[C_SHELL_ARGS] = { "shell.args", "shell.args", { NULL }, NULL, T_LIST,
	    S_BOTH, 0, O(shell_args), .help = "PTY shell arguments" },

	[C_CA] = { "transport.caFile", "transport.caFile",
	    { "NIXFLEET_CA_FILE" }, NULL, T_STR, S_BOTH, 0, O(ca_file), "",
	    .help = "CA bundle (default: the system's)" },
	[C_PINS] = { "transport.pinnedPubkeys", "transport.pinnedPubkeys",
	    { "NIXFLEET_PINNED_PUBKEY" }, NULL, T_PINS, S_BOTH, 0, 0,
	    .help = "public key pins: sha256//<base64> or hex (comma list)" },
	[C_SKIP] = { "transport.skipTlsVerify", "transport.skipTlsVerify",
	    { "AGENT_SKIP_TLS_VERIFY", "NIXFLEET_INSECURE" }, "--insecure",
	    T_BOOL, S_BOTH, 0, O(skip_verify), .help =
	    "no certificate checks (insecure)" },
	[C_PLAIN] = { "transport.allowInsecureHttp",
	    "transport.allowInsecureHttp", { "NIXFLEET_ALLOW_INSECURE_HTTP" },
	    NULL, T_BOOL, S_BOTH, 0, O(allow_insecure_http), .help =
	    "allow ws:// and http:// to non-loopback hosts" },
	[C_MAXMSG] = { "transport.maxMessageBytes", "transport.maxMessageBytes",
	    { "NIXFLEET_MAX_MESSAGE" }, NULL, T_U32, S_BOTH, 0, O(max_message),
	    NULL, CFG_MIB, 16 * CFG_MIB, 1024, 256 * CFG_MIB,
	    "largest inbound message, bytes" },
	[C_PING] = { "transport.pingIntervalMs", "transport.pingIntervalMs",
	    { "NIXFLEET_PING_INTERVAL_MS" }, NULL, T_U32, S_BOTH, 0, O(ping_ms),
	    NULL, 10000, 0, 100, 3600000, "WebSocket ping period, ms" },
	[C_READ] = { "transport.readTimeoutMs", "transport.readTimeoutMs",
	    { "NIXFLEET_READ_TIMEOUT_MS" }, NULL, T_U32, S_BOTH, 0, O(dead_ms),
	    NULL, 45000, 0, 100, 3600000, "silence before reconnecting, ms" },
	[C_HANDSHAKE] = { "transport.handshakeTimeoutMs",
	    "transport.handshakeTimeoutMs", { "NIXFLEET_HANDSHAKE_TIMEOUT_MS" },
	    NULL, T_U32, S_BOTH, 0, O(handshake_ms), NULL, 10000, 20000, 100,
	    3600000, "connect + TLS + upgrade deadline, ms" },

	[C_STATE] = { "stateDir", "stateDir", { "NIXFLEET_STATE_DIR" }, NULL,
	    T_STR, S_BOTH, F_ABSPATH, O(state_dir), .help = "state directory" },
	[C_NETUSER] = { "netUser", "netUser", { "NIXFLEET_NET_USER" }, NULL,
	    T_STR, S_BOTH, 0, O(net_user), "nixfleet-agent",
	    .help = "user the network worker runs as" },
	[C_LOGFILE] = { "logging.file", "logging.file",
	    { "LOG_FILE", "NIXFLEET_LOG_FILE" }, NULL, T_STR, S_BOTH, 0,
	    O(log_file), .help = "log file" },
	[C_LOGLEVEL] = { "logging.level", "logging.level",
	    { "LOG_LEVEL", "NIXFLEET_LOG_LEVEL" }, "--log-level", T_LEVEL,
	    S_BOTH, 0, O(log_level), .help = "debug, info, warn or error" },
	[C_OPEN] = { "allowInsecureTokenFile", "allowInsecureTokenFile",
	    { "NIXFLEET_ALLOW_INSECURE_TOKEN_FILE" }, NULL, T_BOOL, S_BOTH, 0,
	    O(allow_open_secrets), .help =
	    "accept group/world-readable secret files" },
	[C_LIBEXEC] = { "libexecDir", "libexecDir", { "NIXFLEET_LIBEXEC_DIR" },
	    NULL, T_STR, S_BOTH, F_ABSPATH, O(libexec_dir), LIBEXECDIR,
	    .help = "where the worker binaries are" },
	[C_PRIVSEP] = { "privsepDir", "privsepDir", { "NIXFLEET_PRIVSEP_DIR" },
	    NULL, T_STR, S_BOTH, F_ABSPATH, O(privsep_dir), PRIVSEP_DIR,
	    .help = "empty root-owned chroot directory" },
	[C_STASYSMO] = { "stasysmoDir", "stasysmoDir",
	    { "NIXFLEET_STASYSMO_DIR" }, NULL, T_STR, S_BOTH, F_ABSPATH,
	    O(stasysmo_dir), STASYSMO_DIR_DEFAULT, .help = "stasysmo metrics" },

	[C_REPORT_VERSION] = { "NIXFLEET_REPORT_VERSION",
	    "nixfleet.reportVersion", { "NIXFLEET_REPORT_VERSION" }, NULL,
	    T_STR, S_NIX, 0, O(report_version), "", .help =
	    "agent_version to register with (default: ours)" },
	[C_REPO_USER] = { "NIXFLEET_USER", "nixfleet.user",
	    { "NIXFLEET_USER" }, NULL, T_STR, S_NIX, 0, O(repo_user), "",
	    .help = "user for git and tests when run as root" },
	[C_KEYS_USER] = { "admin.keysUser", "admin.keysUser",
	    { "ADMIN_KEYS_USER" }, NULL, T_STR, S_BOTH, 0, O(keys_user), "",
	    .help = "account whose authorized_keys sync_keys fills "
	    "(\"\": key sync off)" },
	[C_SHELL_IDLE] = { "admin.shellIdleSec", "admin.shellIdleSec",
	    { "ADMIN_SHELL_IDLE_SEC" }, NULL, T_INT, S_BOTH, F_POSDEF,
	    O(shell_idle), NULL, 1800, 0, 1, 604800,
	    "PTY shell idle timeout, seconds" },
	[C_SHELL_USER] = { "shell.user", "shell.user", { "ADMIN_SHELL_USER" },
	    NULL, T_STR, S_BOTH, 0, O(shell_user), "",
	    .help = "account PTY shells run as (\"\": the agent's)" },
	[C_KEYS_URL] = { "admin.keysSourceUrl", "admin.keysSourceUrl",
	    { "ADMIN_KEYS_SOURCE_URL" }, NULL, T_STR, S_BOTH, 0, O(keys_url),
	    "https://github.com", .help = "where sync_keys fetches "
	    "<url>/<user>.keys (https:// only)" },
	[C_KEYS_CA] = { "admin.keysCaFile", "admin.keysCaFile",
	    { "ADMIN_KEYS_CA_FILE" }, NULL, T_STR, S_BOTH, 0,
	    O(keys_ca_file), "", .help = "CA bundle for the key source "
	    "(default: the dashboard's)" },
};

/* Accepted without effect (socketio-protocol.md §7.2), children too. */
static const char *const cfg_ignored[] = {
	"updateCheckEnabled", "updateCheckIntervalHours",
	"openHardwareMonitorPort", "connectivity", "dirBrowse",
};

static const char *const cfg_levels[] = { "error", "warn", "info", "debug" };

struct cfg_ctx {
	struct config		*cfg;
	const struct config_args *args;
	char *const		*env;
	FILE			*err;
	json_t			*root;
	int			 problems;
};

static void	cfg_problem(struct cfg_ctx *, const char *, int, const char *,
		    ...) __printflike(4, 5);
static void	cfg_warn(struct cfg_ctx *, const char *, ...)
		    __printflike(2, 3);

static char *
cfg_strdup(const char *s)
{
	char	*p;

	if (s == NULL)
		return NULL;
	if ((p = strdup(s)) == NULL)
		fatal(NULL);
	return p;
}

static void
cfg_free_secret(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void
cfg_list_free(struct config_list *l)
{
	int	 i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void
cfg_list_add(struct config_list *l, const char *s, size_t len)
{
	char	**v;

	if ((v = reallocarray(l->v, l->n + 1, sizeof(*v))) == NULL)
		fatal(NULL);
	l->v = v;
	if ((v[l->n] = strndup(s, len)) == NULL)
		fatal(NULL);
	l->n++;
}

static int
cfg_has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/* A value for a message: quoted, escaped, cut at 64 bytes. */
const char *
cfg_quote(const char *s, char *buf, size_t size)
{
	size_t	 o = 0, n;

	buf[o++] = '"';
	for (n = 0; *s != '\0' && o + 8 < size; s++, n++) {
		if (n == 64) {
			o += snprintf(buf + o, size - o, "...");
			break;
		}
		if (*s == '"' || *s == '\\')
			o += snprintf(buf + o, size - o, "\\%c", *s);
		else if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			o += snprintf(buf + o, size - o, "\\x%02x",
			    (unsigned char)*s);
		else
			buf[o++] = *s;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

static const char *
cfg_jtype(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:	return "an object";
	case JSON_ARRAY:	return "an array";
	case JSON_STRING:	return "a string";
	case JSON_INTEGER:	return "an integer";
	case JSON_REAL:		return "a real number";
	case JSON_TRUE:		return "true";
	case JSON_FALSE:	return "false";
	default:		return "null";
	}
}

const char *
cfg_srctext(const struct config *cfg, int src, char *buf, size_t size)
{
	switch (src) {
	case -1:
		return "not set";
	case SRC_FILE:
		snprintf(buf, size, "file %s", cfg->config_path ?
		    cfg->config_path : "?");
		return buf;
	default:
		return config_source_name(src);
	}
}

/* "<name> (<source>): <what>", the one shape of every problem. */
static void
cfg_problem(struct cfg_ctx *c, const char *name, int src, const char *fmt,
    ...)
{
	char	 buf[4200];
	va_list	 ap;

	fprintf(c->err, "%s (%s): ", name, cfg_srctext(c->cfg, src, buf,
	    sizeof(buf)));
	va_start(ap, fmt);
	vfprintf(c->err, fmt, ap);
	va_end(ap);
	fputc('\n', c->err);
	c->problems++;
}

static void
cfg_warn(struct cfg_ctx *c, const char *fmt, ...)
{
	va_list	 ap;

	fputs("config: ", c->err);
	va_start(ap, fmt);
	vfprintf(c->err, fmt, ap);
	va_end(ap);
	fputc('\n', c->err);
}

/* NAME=value from the env array; empty counts as unset (§7.1). */
static const char *
cfg_env(char *const *env, const char *name)
{
	size_t	 len = strlen(name);

	for (; env != NULL && *env != NULL; env++)
		if (strncmp(*env, name, len) == 0 && (*env)[len] == '=')
			return (*env)[len + 1] != '\0' ? *env + len + 1 : NULL;
	return NULL;
}

static json_t *
cfg_json_get(json_t *root, const char *path)
{
	char		 part[128];
	const char	*dot;
	json_t		*v = root;

	while (v != NULL) {
		if (!json_is_object(v))
			return NULL;
		if ((dot = strchr(path, '.')) == NULL)
			break;
		if ((size_t)(dot - path) >= sizeof(part))
			return NULL;
		memcpy(part, path, dot - path);
		part[dot - path] = '\0';
		v = json_object_get(v, part);
		path = dot + 1;
	}
	if (v == NULL || (v = json_object_get(v, path)) == NULL ||
	    json_is_null(v))
		return NULL;
	return v;
}

static void *
cfg_field(struct config *cfg, int i)
{
	const struct cfg_setting *st = &cfg_settings[i];

	if (st->flags & F_SRCS)
		return (char *)cfg->srcs + st->off;
	return (char *)cfg + st->off;
}

static char **
cfg_strp(struct config *cfg, int i)
{
	return cfg_field(cfg, i);
}

static const char *
cfg_via(const struct config *cfg, int i)
{
	return cfg->srcs->via[i] != NULL ? cfg->srcs->via[i] :
	    cfg_settings[i].name;
}

static void
cfg_mark(struct cfg_ctx *c, int i, int src, const char *via)
{
	c->cfg->srcs->src[i] = src;
	c->cfg->srcs->via[i] = via;
}

int
cfg_in_scope(const struct cfg_setting *st, int dialect)
{
	return st->scope == S_BOTH ||
	    (st->scope == S_NIX && dialect == DIALECT_NIXFLEET) ||
	    (st->scope == S_SIO && dialect == DIALECT_SOCKETIO);
}

static int
cfg_ll_parse(const char *s, long long *v)
{
	char	*end;

	if (*s == '\0' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	*v = strtoll(s, &end, 10);
	return errno != 0 || *end != '\0' ? -1 : 0;
}

static void
cfg_default(struct cfg_ctx *c, int i)
{
	const struct cfg_setting *st = &cfg_settings[i];
	void		*f = cfg_field(c->cfg, i);
	long long	 n = st->ndef;

	if (st->nsio != 0 && c->cfg->dialect == DIALECT_SOCKETIO)
		n = st->nsio;
	switch (st->type) {
	case T_STR:
	case T_SECRET:
		cfg_free_secret(*(char **)f);
		*(char **)f = cfg_strdup(st->sdef);
		break;
	case T_INT:
	case T_BOOL:
		*(int *)f = (int)n;
		break;
	case T_U32:
		*(uint32_t *)f = (uint32_t)n;
		break;
	case T_LIST:
		cfg_list_free(f);
		break;
	case T_PINS:
		c->cfg->npins = 0;
		break;
	case T_LEVEL:
		*(int *)f = LOG_LVL_INFO;
		break;
	case T_PROTO:
		break;
	}
	cfg_mark(c, i, SRC_DEFAULT, NULL);
}

static void
cfg_take_num(struct cfg_ctx *c, int i, int src, const char *via,
    long long v, const char *text)
{
	const struct cfg_setting *st = &cfg_settings[i];

	/* socketio: <= 0 means "use the default", applied after all sources */
	if (v > st->max || (!(st->flags & F_POSDEF) && v < st->min)) {
		cfg_problem(c, via, src, "must be an integer %s %lld (got %s)",
		    v > st->max ? "<=" : ">=", v > st->max ? st->max : st->min,
		    text);
		return;
	}
	if (v < 0)
		v = 0;
	if (st->type == T_U32)
		*(uint32_t *)cfg_field(c->cfg, i) = (uint32_t)v;
	else
		*(int *)cfg_field(c->cfg, i) = (int)v;
	cfg_mark(c, i, src, via);
}

static int
cfg_pin_decode(const char *s, uint8_t out[32])
{
	uint8_t		 buf[48];
	size_t		 olen, len = strlen(s), k;
	unsigned int	 b;

	if (strncmp(s, "sha256//", 8) == 0) {
		s += 8;
		len -= 8;
		if (len != 44 || strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789+/=") != len ||
		    mbedtls_base64_decode(buf, sizeof(buf), &olen,
		    (const unsigned char *)s, len) != 0 || olen != 32)
			return -1;
		memcpy(out, buf, 32);
		return 0;
	}
	if (len != 64 || strspn(s, "0123456789abcdefABCDEF") != len)
		return -1;
	for (k = 0; k < 32; k++) {
		if (sscanf(s + 2 * k, "%2x", &b) != 1)
			return -1;
		out[k] = (uint8_t)b;
	}
	return 0;
}

static void
cfg_take_list(struct cfg_ctx *c, int i, int src, const char *via,
    struct config_list *l)
{
	uint8_t	 pins[CONFIG_PINS_MAX][32];
	char	 q[300];
	int	 k;

	for (k = 0; k < l->n; k++) {
		if (cfg_has_ctl(l->v[k])) {
			cfg_problem(c, via, src, "item %d must not contain "
			    "control characters (got %s)", k + 1,
			    cfg_quote(l->v[k], q, sizeof(q)));
			goto fail;
		}
	}
	/*
	 * The lists travel to the exec-worker item by item: one that would
	 * not arrive whole must fail here, never shrink there (an allowlist
	 * cut down to nothing would mean something else).
	 */
	if (cfg_settings[i].type == T_LIST && l->n > CONFIG_LIST_MAX) {
		cfg_problem(c, via, src, "at most %d items (got %d)",
		    CONFIG_LIST_MAX, l->n);
		goto fail;
	}
	for (k = 0; cfg_settings[i].type == T_LIST && k < l->n; k++) {
		if (strlen(l->v[k]) > CONFIG_ITEM_MAX) {
			cfg_problem(c, via, src, "item %d is longer than %d "
			    "bytes (got %zu)", k + 1, CONFIG_ITEM_MAX,
			    strlen(l->v[k]));
			goto fail;
		}
	}
	if (cfg_settings[i].type == T_PINS) {
		if (l->n > CONFIG_PINS_MAX) {
			cfg_problem(c, via, src, "at most %d pins (got %d)",
			    CONFIG_PINS_MAX, l->n);
			goto fail;
		}
		for (k = 0; k < l->n; k++) {
			if (cfg_pin_decode(l->v[k], pins[k]) == -1) {
				cfg_problem(c, via, src, "pin %d must be "
				    "sha256//<base64 of 32 bytes> or 64 hex "
				    "digits (got %s)", k + 1,
				    cfg_quote(l->v[k], q, sizeof(q)));
				goto fail;
			}
		}
		memcpy(c->cfg->pins, pins, sizeof(pins));
		c->cfg->npins = l->n;
		cfg_list_free(l);
	} else {
		cfg_list_free(cfg_field(c->cfg, i));
		*(struct config_list *)cfg_field(c->cfg, i) = *l;
	}
	cfg_mark(c, i, src, via);
	return;
 fail:
	cfg_list_free(l);
}

static int
cfg_level_strict(const char *s)
{
	size_t	 k;

	for (k = 0; k < nitems(cfg_levels); k++)
		if (strcmp(s, cfg_levels[k]) == 0)
			return (int)k;
	return -1;
}

static void
cfg_take_str(struct cfg_ctx *c, int i, int src, const char *via,
    const char *s)
{
	const struct cfg_setting *st = &cfg_settings[i];
	char		 q[300], q2[300];
	char		**p;
	int		 lvl;

	if (cfg_has_ctl(s)) {
		cfg_problem(c, via, src, "must not contain control characters "
		    "(got %s)", st->type == T_SECRET ?
		    "a value with control characters" : cfg_quote(s, q,
		    sizeof(q)));
		return;
	}
	switch (st->type) {
	case T_PROTO:
		if (strcmp(s, "nixfleet") == 0)
			c->cfg->dialect = DIALECT_NIXFLEET;
		else if (strcmp(s, "socketio") == 0)
			c->cfg->dialect = DIALECT_SOCKETIO;
		else {
			cfg_problem(c, via, src, "must be nixfleet or socketio "
			    "(got %s)", cfg_quote(s, q, sizeof(q)));
			return;
		}
		break;
	case T_LEVEL:
		/* NixFleet's names and the flag are strict, §7.3's lenient. */
		if (src == SRC_FLAG || strncmp(via, "NIXFLEET_", 9) == 0) {
			if ((lvl = cfg_level_strict(s)) == -1) {
				cfg_problem(c, via, src, "must be debug, info, "
				    "warn or error (got %s)", cfg_quote(s, q,
				    sizeof(q)));
				return;
			}
		} else if ((lvl = log_level_parse(s)) == -1) {
			cfg_warn(c, "%s (%s): unknown log level %s, using info",
			    via, cfg_srctext(c->cfg, src, q, sizeof(q)),
			    cfg_quote(s, q2, sizeof(q2)));
			lvl = LOG_LVL_INFO;
		}
		*(int *)cfg_field(c->cfg, i) = lvl;
		break;
	default:
		if ((st->flags & F_ABSPATH) && s[0] != '/') {
			cfg_problem(c, via, src, "must be an absolute path "
			    "(got %s)", cfg_quote(s, q, sizeof(q)));
			return;
		}
		p = cfg_strp(c->cfg, i);
		cfg_free_secret(*p);
		*p = cfg_strdup(s);
		break;
	}
	cfg_mark(c, i, src, via);
}

static void
cfg_split(const char *s, struct config_list *l)
{
	const char	*e, *end;

	for (;;) {
		end = s + strcspn(s, ",");
		for (e = end; e > s && isspace((unsigned char)e[-1]); e--)
			;
		while (s < e && isspace((unsigned char)*s))
			s++;
		if (e > s)
			cfg_list_add(l, s, (size_t)(e - s));
		if (*end == '\0')
			break;
		s = end + 1;
	}
}

/*
 * The compute-agent's variables (socketio spec 7.1): a number or boolean
 * that does not parse is ignored with a warning, as that agent did.  Our
 * own NIXFLEET_* names and the flags stay strict.
 */
static int
cfg_env_lenient(int src, const char *via)
{
	return src == SRC_ENV && strncmp(via, "NIXFLEET_", 9) != 0;
}

/* A value from the environment or a flag: text, parsed per type. */
static void
cfg_from_text(struct cfg_ctx *c, int i, int src, const char *via,
    const char *s)
{
	const struct cfg_setting *st = &cfg_settings[i];
	struct config_list l = { NULL, 0 };
	char		 q[300];
	long long	 v;

	switch (st->type) {
	case T_INT:
	case T_U32:
		if (cfg_ll_parse(s, &v) == -1 && cfg_env_lenient(src, via)) {
			cfg_warn(c, "%s (environment): not an integer (got %s), "
			    "ignored", via, cfg_quote(s, q, sizeof(q)));
			return;
		}
		if (cfg_ll_parse(s, &v) == -1) {
			cfg_problem(c, via, src, "must be an integer (got %s)",
			    cfg_quote(s, q, sizeof(q)));
			return;
		}
		cfg_take_num(c, i, src, via, v, cfg_quote(s, q, sizeof(q)));
		return;
	case T_BOOL:
		if (strcasecmp(s, "1") == 0 || strcasecmp(s, "t") == 0 ||
		    strcasecmp(s, "true") == 0)
			v = 1;
		else if (strcasecmp(s, "0") == 0 || strcasecmp(s, "f") == 0 ||
		    strcasecmp(s, "false") == 0)
			v = 0;
		else if (cfg_env_lenient(src, via)) {
			cfg_warn(c, "%s (environment): not a boolean: 1, t, "
			    "true, 0, f or false (got %s), ignored", via,
			    cfg_quote(s, q, sizeof(q)));
			return;
		} else {
			cfg_problem(c, via, src, "must be a boolean: 1, t, "
			    "true, 0, f or false (got %s)", cfg_quote(s, q,
			    sizeof(q)));
			return;
		}
		*(int *)cfg_field(c->cfg, i) = (int)v;
		cfg_mark(c, i, src, via);
		return;
	case T_LIST:
	case T_PINS:
		cfg_split(s, &l);
		cfg_take_list(c, i, src, via, &l);
		return;
	default:
		cfg_take_str(c, i, src, via, s);
		return;
	}
}

static void
cfg_from_json(struct cfg_ctx *c, int i, json_t *v)
{
	const struct cfg_setting *st = &cfg_settings[i];
	struct config_list l = { NULL, 0 };
	json_t		*e;
	size_t		 k;
	char		 num[32];

	switch (st->type) {
	case T_INT:
	case T_U32:
		if (!json_is_integer(v))
			break;
		snprintf(num, sizeof(num), "%lld",
		    (long long)json_integer_value(v));
		cfg_take_num(c, i, SRC_FILE, st->key, json_integer_value(v),
		    num);
		return;
	case T_BOOL:
		if (!json_is_boolean(v))
			break;
		*(int *)cfg_field(c->cfg, i) = json_is_true(v);
		cfg_mark(c, i, SRC_FILE, st->key);
		return;
	case T_LIST:
	case T_PINS:
		if (!json_is_array(v))
			break;
		json_array_foreach(v, k, e) {
			if (!json_is_string(e)) {
				cfg_problem(c, st->key, SRC_FILE, "must be an "
				    "array of strings (item %zu is %s)", k + 1,
				    cfg_jtype(e));
				cfg_list_free(&l);
				return;
			}
			cfg_list_add(&l, json_string_value(e),
			    json_string_length(e));
		}
		cfg_take_list(c, i, SRC_FILE, st->key, &l);
		return;
	default:
		if (!json_is_string(v))
			break;
		if (strlen(json_string_value(v)) != json_string_length(v)) {
			cfg_problem(c, st->key, SRC_FILE, "must not contain "
			    "control characters (got a value with control "
			    "characters)");
			return;
		}
		if (json_string_length(v) > 0)
			cfg_take_str(c, i, SRC_FILE, st->key,
			    json_string_value(v));
		return;
	}
	cfg_problem(c, st->key, SRC_FILE, "must be %s (got %s)",
	    st->type == T_INT || st->type == T_U32 ? "an integer" :
	    st->type == T_BOOL ? "true or false" :
	    st->type == T_LIST || st->type == T_PINS ? "an array of strings" :
	    "a string", cfg_jtype(v));
}

static const char *
cfg_flag(const struct config_args *a, const char *flag)
{
	if (strcmp(flag, "--insecure") == 0)
		return a->insecure ? "true" : NULL;
	if (strcmp(flag, "--log-level") == 0)
		return a->log_level;
	if (strcmp(flag, "--protocol") == 0)
		return a->protocol;
	return NULL;
}

/* One setting through every source, lowest first. */
static void
cfg_resolve(struct cfg_ctx *c, int i)
{
	const struct cfg_setting *st = &cfg_settings[i];
	json_t		*jv;
	const char	*v;
	size_t		 k;

	cfg_default(c, i);
	if ((jv = cfg_json_get(c->root, st->key)) != NULL)
		cfg_from_json(c, i, jv);
	for (k = 0; k < nitems(st->env); k++)
		if (st->env[k] != NULL &&
		    (v = cfg_env(c->env, st->env[k])) != NULL)
			cfg_from_text(c, i, SRC_ENV, st->env[k], v);
	if (st->flag != NULL && (v = cfg_flag(c->args, st->flag)) != NULL)
		cfg_from_text(c, i, SRC_FLAG, st->flag, v);
	if ((st->flags & F_POSDEF) && *(int *)cfg_field(c->cfg, i) <= 0)
		cfg_default(c, i);
}

/*
 * §6.1: $STATE_DIRECTORY (systemd's StateDirectory=, first entry), else
 * /var/lib/nixfleet-agent where we may write it, else the XDG state
 * directory of a user agent (Home Manager, macOS).
 */
static void
cfg_state_default(struct cfg_ctx *c)
{
	const char	*s, *home;
	char		*p;

	if ((s = cfg_env(c->env, "STATE_DIRECTORY")) != NULL && s[0] == '/') {
		free(c->cfg->state_dir);
		c->cfg->state_dir = strndup(s, strcspn(s, ":"));
		if (c->cfg->state_dir == NULL)
			fatal(NULL);
		cfg_mark(c, C_STATE, SRC_ENV, "STATE_DIRECTORY");
		return;
	}
	if (access(CFG_STATE_DIR, W_OK) == 0 ||
	    (errno == ENOENT && access("/var/lib", W_OK) == 0) ||
	    (home = cfg_env(c->env, "HOME")) == NULL || home[0] != '/') {
		free(c->cfg->state_dir);
		c->cfg->state_dir = cfg_strdup(CFG_STATE_DIR);
		return;
	}
	if (asprintf(&p, "%s/.local/state/nixfleet-agent", home) == -1)
		fatal(NULL);
	free(c->cfg->state_dir);
	c->cfg->state_dir = p;
	cfg_mark(c, C_STATE, SRC_DERIVED, "HOME");
}

static int
cfg_known_group(const char *path)
{
	size_t	 i, len = strlen(path);

	for (i = 0; i < C_MAX; i++)
		if (strncmp(cfg_settings[i].key, path, len) == 0 &&
		    cfg_settings[i].key[len] == '.')
			return 1;
	return 0;
}

static int
cfg_known_key(const char *path)
{
	size_t	 i;

	for (i = 0; i < C_MAX; i++)
		if (strcmp(cfg_settings[i].key, path) == 0)
			return 1;
	return 0;
}

/* Unknown keys are warnings (a newer file, an older agent); shapes are not. */
static void
cfg_walk(struct cfg_ctx *c, json_t *obj, const char *prefix)
{
	const char	*key;
	json_t		*v;
	char		 path[300], q[300];
	size_t		 k;

	json_object_foreach(obj, key, v) {
		if (prefix == NULL) {
			for (k = 0; k < nitems(cfg_ignored); k++)
				if (strcmp(key, cfg_ignored[k]) == 0)
					break;
			if (k < nitems(cfg_ignored))
				continue;
		}
		if ((size_t)snprintf(path, sizeof(path), "%s%s%s",
		    prefix ? prefix : "", prefix ? "." : "", key) >=
		    sizeof(path) || strlen(key) == 0) {
			cfg_warn(c, "unknown key %s in %s, ignored",
			    cfg_quote(key, q, sizeof(q)), c->cfg->config_path);
			continue;
		}
		if (cfg_known_key(path))
			continue;
		if (cfg_known_group(path)) {
			if (json_is_object(v))
				cfg_walk(c, v, path);
			else if (!json_is_null(v))
				cfg_problem(c, path, SRC_FILE, "must be an "
				    "object (got %s)", cfg_jtype(v));
			continue;
		}
		cfg_warn(c, "unknown key %s in %s, ignored",
		    cfg_quote(path, q, sizeof(q)), c->cfg->config_path);
	}
}

static int
cfg_file_has_secret(json_t *root)
{
	return cfg_json_get(root, "nixfleet.token") != NULL ||
	    cfg_json_get(root, "authToken") != NULL ||
	    cfg_json_get(root, "admin.commandToken") != NULL;
}

static void
cfg_load_file(struct cfg_ctx *c)
{
	struct config_srcs *s = c->cfg->srcs;
	struct stat	 st;
	json_error_t	 jerr;
	const char	*path;
	FILE		*fp;

	s->path_src = SRC_DEFAULT;
	s->path_via = "config file";
	if ((path = c->args->config_path) != NULL) {
		s->path_src = SRC_FLAG;
		s->path_via = "--config";
	} else if ((path = cfg_env(c->env, "CLIENT_CONFIG_PATH")) != NULL) {
		s->path_src = SRC_ENV;
		s->path_via = "CLIENT_CONFIG_PATH";
	} else if ((path = cfg_env(c->env, "NIXFLEET_CONFIG")) != NULL) {
		s->path_src = SRC_ENV;
		s->path_via = "NIXFLEET_CONFIG";
	} else
		path = CFG_DEFAULT_FILE;

	if ((fp = fopen(path, "re")) == NULL) {
		/* Only the default file may be absent (socketio D10). */
		if (s->path_src != SRC_DEFAULT || errno != ENOENT)
			cfg_problem(c, s->path_via, s->path_src,
			    "cannot read %s: %s", path, strerror(errno));
		return;
	}
	if (fstat(fileno(fp), &st) == -1 || !S_ISREG(st.st_mode)) {
		cfg_problem(c, s->path_via, s->path_src,
		    "%s is not a regular file", path);
		goto done;
	}
	if ((c->root = json_loadf(fp, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL) {
		cfg_problem(c, s->path_via, s->path_src, "%s: invalid JSON at "
		    "line %d, column %d: %s", path, jerr.line, jerr.column,
		    jerr.text);
		goto done;
	}
	if (!json_is_object(c->root)) {
		cfg_problem(c, s->path_via, s->path_src, "%s must hold a JSON "
		    "object (got %s)", path, cfg_jtype(c->root));
		json_decref(c->root);
		c->root = NULL;
		goto done;
	}
	c->cfg->config_path = cfg_strdup(path);
	if ((st.st_mode & 077) != 0 && cfg_file_has_secret(c->root))
		cfg_warn(c, "%s holds a secret and is accessible by group "
		    "or others", path);
	cfg_walk(c, c->root, NULL);
 done:
	fclose(fp);
}

/* Was a value given at all, even one that was then rejected? */
static int
cfg_given(struct cfg_ctx *c, int i)
{
	const struct cfg_setting *st = &cfg_settings[i];
	json_t		*v;
	size_t		 k;

	for (k = 0; k < nitems(st->env); k++)
		if (st->env[k] != NULL && cfg_env(c->env, st->env[k]) != NULL)
			return 1;
	v = cfg_json_get(c->root, st->key);
	return v != NULL && (!json_is_string(v) || json_string_length(v) > 0);
}

/* The dialect: asked for, or implied by which URL is configured. */
static void
cfg_dialect(struct cfg_ctx *c)
{
	int	 before = c->problems, nix, sio;

	c->cfg->dialect = 0;
	cfg_resolve(c, C_PROTOCOL);
	if (c->problems != before || c->cfg->dialect != 0)
		return;
	nix = cfg_given(c, C_URL);
	sio = cfg_given(c, C_SERVER_URL);
	if (nix && sio) {
		cfg_problem(c, "protocol", -1, "both NIXFLEET_URL and "
		    "SERVER_URL (serverUrl) are configured; set \"protocol\" "
		    "in the file, NIXFLEET_PROTOCOL or --protocol to nixfleet "
		    "or socketio");
		return;
	}
	c->cfg->dialect = sio ? DIALECT_SOCKETIO : DIALECT_NIXFLEET;
	if (nix || sio)
		cfg_mark(c, C_PROTOCOL, SRC_DERIVED,
		    sio ? "serverUrl" : "NIXFLEET_URL");
}

/* The token, or the file holding it; both only when they agree. */
static void
cfg_check_token(struct cfg_ctx *c, int ti, int fi, const char *name,
    const char *hint)
{
	struct config_srcs *s = c->cfg->srcs;
	struct stat	 st;
	const char	*why;
	char		**tok = cfg_strp(c->cfg, ti);
	char		*file = *cfg_strp(c->cfg, fi), *sec;

	if (file != NULL) {
		errno = 0;
		sec = config_read_secret(file, name,
		    c->cfg->allow_open_secrets, &why);
		if (sec == NULL) {
			cfg_problem(c, cfg_via(c->cfg, fi), s->src[fi],
			    "%s %s%s%s", file, why, errno != EINVAL ? ": " : "",
			    errno != EINVAL ? strerror(errno) : "");
			return;
		}
		if (stat(file, &st) == 0 && (st.st_mode & 077) != 0)
			cfg_warn(c, "%s (%s): %s is accessible by group or "
			    "others", cfg_via(c->cfg, fi), config_source_name(
			    s->src[fi]), file);
		if (*tok != NULL) {
			if (strcmp(*tok, sec) != 0)
				cfg_problem(c, cfg_via(c->cfg, ti), s->src[ti],
				    "both %s and %s are set and differ; set "
				    "only one", cfg_via(c->cfg, ti),
				    cfg_via(c->cfg, fi));
			cfg_free_secret(sec);
		} else {
			*tok = sec;
			cfg_mark(c, ti, SRC_DERIVED, cfg_settings[fi].name);
		}
	}
	/* A value given but refused has been reported already. */
	if (*tok == NULL && !cfg_given(c, ti) && !cfg_given(c, fi))
		cfg_problem(c, cfg_settings[ti].name, -1, "required; set %s",
		    hint);
}

/*
 * Plaintext only to loopback, unless the operator said otherwise.  Only an
 * address is judged here; a name is judged by what it resolves to, when
 * the supervisor connects (connect.c).
 */
static void
cfg_check_url(struct cfg_ctx *c, int i, int nixfleet)
{
	const char	*why, *s = *cfg_strp(c->cfg, i);
	struct url	 u;
	char		 q[300];

	if (s == NULL) {
		if (!cfg_given(c, i))
			cfg_problem(c, cfg_settings[i].name, -1, "required");
		return;
	}
	if (url_parse(s, &u, &why) == -1) {
		if (strncmp(why, "scheme", 6) == 0 && nixfleet)
			why = "scheme must be ws:// or wss://";
		cfg_problem(c, cfg_via(c->cfg, i), c->cfg->srcs->src[i],
		    "%s (got %s)", why, cfg_quote(s, q, sizeof(q)));
		return;
	}
	if (nixfleet && strcmp(u.scheme, "ws") != 0 &&
	    strcmp(u.scheme, "wss") != 0) {
		cfg_problem(c, cfg_via(c->cfg, i), c->cfg->srcs->src[i],
		    "scheme must be ws:// or wss:// (got \"%s\")", u.scheme);
		return;
	}
	if (!u.tls && !c->cfg->allow_insecure_http && (u.ipv6 ||
	    strspn(u.host, "0123456789.") == strlen(u.host)) &&
	    !url_is_loopback(u.host))
		cfg_problem(c, cfg_via(c->cfg, i), c->cfg->srcs->src[i],
		    "%s:// to %s is not encrypted; use %s:// or set "
		    "NIXFLEET_ALLOW_INSECURE_HTTP=1 "
		    "(transport.allowInsecureHttp)",
		    u.scheme, u.host, nixfleet ? "wss" : "https");
}

/* nixfleet-protocol.md §4.2 */
static void
cfg_check_repo(struct cfg_ctx *c)
{
	struct config	*cfg = c->cfg;
	struct config_srcs *s = cfg->srcs;
	int		 from;

	cfg->isolated = cfg->repo_url != NULL;
	if (cfg->isolated)
		from = cfg->repo_dir != NULL ? C_REPO_DIR :
		    s->nixcfg != NULL ? C_NIXCFG : -1;
	else
		from = s->nixcfg != NULL ? C_NIXCFG :
		    cfg->repo_dir != NULL ? C_REPO_DIR : -1;
	if (from == C_NIXCFG) {
		free(cfg->repo_dir);
		cfg->repo_dir = cfg_strdup(s->nixcfg);
		cfg_mark(c, C_REPO_DIR, s->src[C_NIXCFG], cfg_via(cfg,
		    C_NIXCFG));
	} else if (from == -1 && cfg->isolated) {
		free(cfg->repo_dir);
#ifdef __APPLE__
		cfg->repo_dir = config_default_repo_dir(1, cfg_env(c->env,
		    "HOME"));
		cfg_mark(c, C_REPO_DIR, SRC_DERIVED, "HOME");
#else
		cfg->repo_dir = config_default_repo_dir(0, NULL);
		cfg_mark(c, C_REPO_DIR, SRC_DEFAULT, NULL);
#endif
		if (cfg->repo_dir == NULL)
			cfg_problem(c, "NIXFLEET_REPO_DIR", -1, "no default "
			    "without an absolute HOME; set NIXFLEET_REPO_DIR");
	} else if (from == -1)
		cfg_problem(c, "NIXFLEET_REPO_DIR", -1, "no repository: set "
		    "NIXFLEET_REPO_URL (isolated mode), or NIXFLEET_REPO_DIR "
		    "or NIXFLEET_NIXCFG (legacy mode)");
	/*
	 * The exec-worker clones it (IPC_SE_REPO_CONFIG): it must fit, and
	 * git must never read it as an option.
	 */
	if (cfg->isolated && strlen(cfg->repo_url) >= CONFIG_REPO_URL_MAX)
		cfg_problem(c, cfg_via(cfg, C_REPO_URL), s->src[C_REPO_URL],
		    "must be shorter than %d bytes", CONFIG_REPO_URL_MAX);
	else if (cfg->isolated && cfg->repo_url[0] == '-')
		cfg_problem(c, cfg_via(cfg, C_REPO_URL), s->src[C_REPO_URL],
		    "must not start with '-'");
}

/*
 * §4.2: the isolated repository's own default, not under the state
 * directory: /var/lib/nixfleet-agent/repo on Linux, the user's
 * ~/.local/state/nixfleet-agent/repo on macOS (NULL without an absolute
 * home).
 */
char *
config_default_repo_dir(int darwin, const char *home)
{
	char	*p;

	if (!darwin)
		return cfg_strdup(CFG_STATE_DIR "/repo");
	if (home == NULL || home[0] != '/')
		return NULL;
	if (asprintf(&p, "%s/.local/state/nixfleet-agent/repo",
	    strcmp(home, "/") == 0 ? "" : home) == -1)
		fatal(NULL);
	return p;
}

static void
cfg_check_nixfleet(struct cfg_ctx *c)
{
	struct config	*cfg = c->cfg;
	char		 q[300];

	cfg_check_url(c, C_URL, 1);
	cfg_check_token(c, C_TOKEN, C_TOKEN_FILE, "NIXFLEET_TOKEN",
	    "NIXFLEET_TOKEN or NIXFLEET_TOKEN_FILE");
	cfg_check_repo(c);
	/* It lands in git's argv: never an option, never two words. */
	if (cfg->branch[0] == '-' || strpbrk(cfg->branch, " \t") != NULL)
		cfg_problem(c, cfg_via(cfg, C_BRANCH), cfg->srcs->src[C_BRANCH],
		    "must not start with '-' or contain spaces (got %s)",
		    cfg_quote(cfg->branch, q, sizeof(q)));
}

static void
cfg_check_socketio(struct cfg_ctx *c)
{
	struct config	*cfg = c->cfg;
	size_t		 len;
	char		 q[300], *dir;

	if (cfg->client_id == NULL) {
		if (!cfg_given(c, C_CLIENT_ID))
			cfg_problem(c, "clientId", -1, "required; set clientId "
			    "or CLIENT_ID");
	} else if ((len = strlen(cfg->client_id)) > 128 ||
	    strspn(cfg->client_id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
	    "opqrstuvwxyz0123456789._:-") != len)
		cfg_problem(c, cfg_via(cfg, C_CLIENT_ID),
		    cfg->srcs->src[C_CLIENT_ID], "must match "
		    "^[A-Za-z0-9._:-]{1,128}$ (got %s)", cfg_quote(
		    cfg->client_id, q, sizeof(q)));
	cfg_check_url(c, C_SERVER_URL, 0);
	cfg_check_token(c, C_AUTH_TOKEN, C_AUTH_TOKEN_FILE, "AUTH_TOKEN",
	    "authToken, AUTH_TOKEN, authTokenFile or AUTH_TOKEN_FILE");
	len = strlen(cfg->transport_path);
	if (strspn(cfg->transport_path, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij"
	    "klmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/") != len)
		cfg_problem(c, cfg_via(cfg, C_TPATH), cfg->srcs->src[C_TPATH],
		    "must be a URL path (got %s)", cfg_quote(
		    cfg->transport_path, q, sizeof(q)));
	if (cfg->require_token && cfg->command_token == NULL)
		cfg_warn(c, "admin.requireToken is set but admin.commandToken "
		    "is empty: every admin_run will be refused");
	if (cfg->log_file == NULL && cfg->config_path != NULL) {
		if ((dir = strdup(cfg->config_path)) == NULL)
			fatal(NULL);
		*(strrchr(dir, '/') != NULL ? strrchr(dir, '/') + 1 : dir) =
		    '\0';
		if (asprintf(&cfg->log_file, "%sagent.log", dir) == -1)
			fatal(NULL);
		free(dir);
		cfg_mark(c, C_LOGFILE, SRC_DERIVED, "config file");
	}
}

/*
 * What the job table needs: a user name the exec-worker can look up, and
 * a reported version that fits register's field (proto.h IPC_SHORT_MAX).
 */
static void
cfg_check_jobs(struct cfg_ctx *c)
{
	struct config	*cfg = c->cfg;
	char		 q[300];

	if (cfg->repo_user != NULL && cfg->repo_user[0] != '\0' &&
	    (cfg->repo_user[0] == '-' || strlen(cfg->repo_user) > 32 ||
	    strspn(cfg->repo_user, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789._-") !=
	    strlen(cfg->repo_user)))
		cfg_problem(c, cfg_via(cfg, C_REPO_USER),
		    cfg->srcs->src[C_REPO_USER], "must be a user name (got %s)",
		    cfg_quote(cfg->repo_user, q, sizeof(q)));
	/* Control characters are refused for every string already. */
	if (cfg->report_version != NULL && strlen(cfg->report_version) > 63)
		cfg_problem(c, cfg_via(cfg, C_REPORT_VERSION),
		    cfg->srcs->src[C_REPORT_VERSION],
		    "must be at most 63 bytes (got %s)",
		    cfg_quote(cfg->report_version, q, sizeof(q)));
}

/*
 * The key source (socketio-protocol.md §6.3 step 2): https:// only, with
 * a host, no credentials, query or fragment; the path is a prefix the
 * user's "/<user>.keys" is appended to.
 */
static void
cfg_check_keys(struct cfg_ctx *c)
{
	struct config	*cfg = c->cfg;
	const char	*why = NULL, *s = cfg->keys_url;
	struct url	 u;
	char		 q[300];

	if (url_parse(s, &u, &why) == -1) {
		if (strncmp(why, "scheme", 6) == 0)
			why = "scheme must be https://";
	} else if (strcmp(u.scheme, "https") != 0)
		why = "scheme must be https://";
	else if (u.userinfo[0] != '\0')
		why = "must not hold credentials";
	else if (strpbrk(u.path, "?#") != NULL)
		why = "must not have a query or fragment";
	else if (strlen(u.path) > CFG_KEYS_PATH_MAX)
		why = "path too long";
	if (why != NULL)
		cfg_problem(c, cfg_via(cfg, C_KEYS_URL),
		    cfg->srcs->src[C_KEYS_URL], "%s (got %s)", why,
		    cfg_quote(s, q, sizeof(q)));
}

static void
cfg_check_common(struct cfg_ctx *c)
{
	struct config	*cfg = c->cfg;
	size_t		 len = strlen(cfg->net_user);
	char		 q[300];

	/* §7.2: args are defaulted only together with the command. */
	if (cfg->srcs->src[C_SHELL_CMD] == SRC_DEFAULT &&
	    cfg->srcs->src[C_SHELL_ARGS] == SRC_DEFAULT)
		cfg_list_add(&cfg->shell_args, "-l", 2);
	if (cfg->dead_ms <= cfg->ping_ms)
		cfg_problem(c, cfg_via(cfg, C_READ), cfg->srcs->src[C_READ],
		    "must be longer than transport.pingIntervalMs (%u)",
		    cfg->ping_ms);
	if (cfg->net_user[0] == '-' || strspn(cfg->net_user,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	    "._-") != len)
		cfg_problem(c, cfg_via(cfg, C_NETUSER),
		    cfg->srcs->src[C_NETUSER], "must be a user name (got %s)",
		    cfg_quote(cfg->net_user, q, sizeof(q)));
	cfg_check_jobs(c);
	cfg_check_keys(c);
}

int
config_load(struct config *cfg, const struct config_args *args,
    char *const *env, FILE *err)
{
	struct cfg_ctx	 c;
	int		 i;

	memset(cfg, 0, sizeof(*cfg));
	if ((cfg->srcs = calloc(1, sizeof(*cfg->srcs))) == NULL)
		fatal(NULL);
	memset(&c, 0, sizeof(c));
	c.cfg = cfg;
	c.args = args;
	c.env = env;
	c.err = err;

	cfg_load_file(&c);
	cfg_dialect(&c);
	for (i = 0; i < C_MAX; i++) {
		if (i == C_PROTOCOL || !cfg_in_scope(&cfg_settings[i],
		    cfg->dialect))
			continue;
		cfg_resolve(&c, i);
		if (i == C_STATE && cfg->srcs->src[i] == SRC_DEFAULT)
			cfg_state_default(&c);
	}
	if (cfg->dialect == DIALECT_NIXFLEET)
		cfg_check_nixfleet(&c);
	else if (cfg->dialect == DIALECT_SOCKETIO)
		cfg_check_socketio(&c);
	cfg_check_common(&c);
	json_decref(c.root);
	return c.problems;
}

/*
 * The bare token (the one line that is neither blank nor a comment), or
 * the value of a NAME= line, which wins over everything else: systemd's
 * EnvironmentFile and launchd's bare file are both accepted.
 */
char *
config_read_secret(const char *path, const char *name, int allow_open,
    const char **why)
{
	struct stat	 st;
	char		*buf, *line, *next, *t, *e, *val = NULL, *bare = NULL;
	char		*res = NULL;
	size_t		 len = 0, nlen = strlen(name);
	ssize_t		 n;
	int		 fd, nbare = 0, saved;

	/* No O_NOFOLLOW: agenix and sops link secrets from /run. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) ==
	    -1) {
		*why = "cannot be opened";
		return NULL;
	}
	if ((buf = malloc(CFG_SECRET_MAX + 1)) == NULL)
		fatal(NULL);
	if (fstat(fd, &st) == -1) {
		*why = "cannot be read";
		goto fail;
	}
	errno = EINVAL;
	if (!S_ISREG(st.st_mode)) {
		*why = "is not a regular file";
		goto fail;
	}
	if ((st.st_mode & 077) != 0 && !allow_open) {
		*why = "is accessible by group or others (chmod 600 it, or set "
		    "NIXFLEET_ALLOW_INSECURE_TOKEN_FILE=1)";
		goto fail;
	}
	while ((n = read(fd, buf + len, CFG_SECRET_MAX + 1 - len)) > 0)
		if ((len += (size_t)n) > CFG_SECRET_MAX)
			break;
	if (n == -1) {
		*why = "cannot be read";
		goto fail;
	}
	errno = EINVAL;
	if (len > CFG_SECRET_MAX) {
		*why = "is too large";
		goto fail;
	}
	buf[len] = '\0';
	if (strlen(buf) != len) {
		*why = "holds a NUL byte";
		goto fail;
	}
	for (line = buf; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		for (t = line; isspace((unsigned char)*t); t++)
			;
		for (e = t + strlen(t); e > t && isspace((unsigned char)e[-1]);
		    e--)
			;
		*e = '\0';
		if (*t == '\0' || *t == '#')
			continue;
		if (strncmp(t, name, nlen) == 0 && t[nlen] == '=') {
			/* Later lines win, as in an EnvironmentFile. */
			val = t + nlen + 1;
			while (isspace((unsigned char)*val))
				val++;
			continue;
		}
		nbare++;
		bare = t;
	}
	if (val != NULL) {
		len = strlen(val);
		if (len >= 2 && (val[0] == '"' || val[0] == '\'') &&
		    val[len - 1] == val[0]) {
			val[len - 1] = '\0';
			val++;
		}
	} else if (nbare == 1)
		val = bare;
	else {
		*why = nbare == 0 ? "holds no token" : "holds more than one "
		    "line; expected the bare token or NAME=token";
		goto fail;
	}
	if (*val == '\0') {
		*why = "holds an empty token";
		goto fail;
	}
	if (cfg_has_ctl(val)) {
		*why = "holds a token with control characters";
		goto fail;
	}
	res = cfg_strdup(val);
 fail:
	saved = errno;
	explicit_bzero(buf, CFG_SECRET_MAX + 1);
	free(buf);
	close(fd);
	errno = saved;
	return res;
}

void
config_free(struct config *cfg)
{
	int	 i;

	if (cfg->srcs != NULL) {
		for (i = 0; i < C_MAX; i++) {
			switch (cfg_settings[i].type) {
			case T_STR:
			case T_SECRET:
				cfg_free_secret(*cfg_strp(cfg, i));
				break;
			case T_LIST:
				cfg_list_free(cfg_field(cfg, i));
				break;
			}
		}
	}
	free(cfg->config_path);
	free(cfg->srcs);
	explicit_bzero(cfg, sizeof(*cfg));
}

int
config_source_of(const struct config *cfg, const char *name)
{
	const struct cfg_setting *st;
	int		 i;

	if (cfg->srcs == NULL || name == NULL)
		return -1;
	for (i = 0; i < C_MAX; i++) {
		st = &cfg_settings[i];
		if (strcmp(name, st->name) == 0 || strcmp(name, st->key) == 0 ||
		    (st->env[0] != NULL && strcmp(name, st->env[0]) == 0) ||
		    (st->env[1] != NULL && strcmp(name, st->env[1]) == 0) ||
		    (st->flag != NULL && strcmp(name, st->flag) == 0))
			return cfg->srcs->src[i];
	}
	return -1;
}
