/*
 * config_priv.h: what config.c and config_cli.c share, and nothing else
 * includes.
 *
 * The settings table drives both loading (config.c) and the command
 * line's usage and --print-config (config_cli.c), so its row type, the
 * per-setting sources and the few helpers both halves use live here
 * rather than in the public config.h.
 */
#ifndef CONFIG_PRIV_H
#define CONFIG_PRIV_H

#include <stddef.h>

#include "config.h"

enum cfg_type {
	T_STR,
	T_SECRET,		/* a string never printed */
	T_INT,			/* int */
	T_U32,			/* uint32_t */
	T_BOOL,			/* int, 0 or 1 */
	T_LIST,			/* struct config_list */
	T_PINS,			/* cfg->pins, cfg->npins */
	T_LEVEL,		/* enum log_level */
	T_PROTO,		/* enum config_dialect */
};

enum cfg_scope {
	S_BOTH = 0,
	S_NIX,
	S_SIO,
};

#define F_SRCS		0x01	/* stored in struct config_srcs */
#define F_POSDEF	0x02	/* socketio §7.1: <= 0 means the default */
#define F_ABSPATH	0x04	/* must be an absolute path */

enum cfg_id {
	C_PROTOCOL,
	C_URL, C_TOKEN, C_TOKEN_FILE, C_REPO_URL, C_REPO_DIR, C_NIXCFG,
	C_BRANCH, C_SSH_KEY, C_INTERVAL, C_HOSTNAME, C_NIXPKGS, C_THEME,
	C_LOCATION, C_DEVICE,
	C_CLIENT_ID, C_SERVER_URL, C_AUTH_TOKEN, C_AUTH_TOKEN_FILE, C_STATS,
	C_HEARTBEAT, C_PONG, C_SHELL_ON, C_COMMANDS, C_CWDS, C_MAXCONC,
	C_TIMEOUT, C_REQTOKEN, C_CMDTOKEN, C_RLMAX, C_RLWIN, C_BKSRC, C_BKDST,
	C_BKSSHID, C_BKSSHKH, C_BKSSHSKIP,
	C_TPATH, C_SHELL_CMD, C_SHELL_ARGS,
	C_CA, C_PINS, C_SKIP, C_PLAIN, C_MAXMSG, C_PING, C_READ, C_HANDSHAKE,
	C_STATE, C_NETUSER, C_LOGFILE, C_LOGLEVEL, C_OPEN, C_LIBEXEC,
	C_PRIVSEP, C_STASYSMO,
	C_REPORT_VERSION, C_REPO_USER,
	C_KEYS_USER, C_SHELL_IDLE, C_SHELL_USER,
	C_KEYS_URL, C_KEYS_CA,
	C_MAX
};

struct cfg_setting {
	const char	*name;		/* canonical: the name its spec uses */
	const char	*key;		/* JSON path, dotted */
	const char	*env[2];	/* rising precedence */
	const char	*flag;
	int		 type;
	int		 scope;
	int		 flags;
	size_t		 off;
	const char	*sdef;
	long long	 ndef;
	long long	 nsio;		/* socketio default, if not 0 */
	long long	 min, max;
	const char	*help;
};

struct config_srcs {
	int		 src[C_MAX];
	const char	*via[C_MAX];	/* the alias that supplied it */
	int		 path_src;	/* how the file was named */
	const char	*path_via;
	char		*nixcfg;	/* NIXFLEET_NIXCFG as given */
};

extern const struct cfg_setting cfg_settings[C_MAX];

void	 cfg_list_free(struct config_list *);
void	 cfg_list_add(struct config_list *, const char *, size_t);
const char *cfg_quote(const char *, char *, size_t);
const char *cfg_srctext(const struct config *, int, char *, size_t);
int	 cfg_in_scope(const struct cfg_setting *, int);

#endif
