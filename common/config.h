/*
 * config.h: one typed configuration model for both dialects.
 *
 * Sources, in rising precedence: built-in defaults, the JSON file
 * (--config, else CLIENT_CONFIG_PATH, else NIXFLEET_CONFIG), the
 * environment (NIXFLEET_* and the compute-agent names), command-line
 * flags.  Every value remembers where it came from, for --print-config
 * and for error messages.  The supervisor alone loads configuration; the
 * workers receive the parts they need over their channels (proto.h).
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stdint.h>
#include <stdio.h>

#define CONFIG_EX_CONFIG	78	/* sysexits EX_CONFIG */
#define CONFIG_PINS_MAX		4
#define CONFIG_LIST_MAX		256	/* items per list (proto.h) */
#define CONFIG_ITEM_MAX		1023	/* bytes per item (proto.h) */
#define CONFIG_REPO_URL_MAX	2048	/* = IPC_REPO_URL_MAX */

enum config_source {
	SRC_DEFAULT = 0,
	SRC_FILE,
	SRC_ENV,
	SRC_FLAG,
	SRC_DERIVED,		/* computed from other settings */
};

enum config_dialect {
	DIALECT_NIXFLEET = 1,
	DIALECT_SOCKETIO = 2,
};

enum config_action {
	ACTION_RUN = 0,
	ACTION_VERSION,
	ACTION_HELP,
	ACTION_PRINT,		/* --print-config */
	ACTION_CHECK,		/* --check */
};

/* What the command line said, before any file or environment is read. */
struct config_args {
	int		 action;
	const char	*config_path;	/* --config */
	int		 insecure;	/* --insecure */
	const char	*log_level;	/* --log-level */
	const char	*protocol;	/* --protocol */
};

struct config_list {
	char		**v;
	int		  n;
};

struct config {
	int		 dialect;		/* enum config_dialect */
	char		*config_path;		/* the file actually read */

	/* nixfleet dialect (nixfleet-protocol.md §4) */
	char		*url;			/* NIXFLEET_URL */
	char		*token;			/* secret */
	char		*token_file;		/* NIXFLEET_TOKEN_FILE */
	char		*repo_url;
	char		*repo_dir;		/* effective, §4.2 */
	int		 isolated;		/* repo_url set */
	char		*branch;
	char		*ssh_key;
	int		 interval;		/* heartbeat seconds */
	char		*hostname;		/* "" = detect */
	char		*nixpkgs_version;	/* "" = detect */
	char		*theme_color;
	char		*location;
	char		*device_type;
	char		*report_version;	/* "" = our version */
	char		*repo_user;		/* "" = none */

	/* socketio dialect (socketio-protocol.md §7) */
	char		*client_id;
	char		*server_url;
	char		*auth_token;		/* secret */
	char		*auth_token_file;
	int		 stats_interval;
	int		 heartbeat_interval;
	int		 pong_timeout;
	int		 enable_shell;
	struct config_list allowed_commands;
	struct config_list allowed_cwds;
	int		 max_concurrent;
	int		 default_timeout;
	int		 require_token;
	char		*command_token;		/* secret */
	int		 rate_limit_max;
	int		 rate_limit_window;
	struct config_list backup_source_roots;
	struct config_list backup_dest_roots;
	char		*backup_ssh_identity;	/* "" = ssh's default */
	char		*backup_ssh_known_hosts;	/* "" = ssh's default */
	int		 backup_ssh_skip_hostkey;	/* insecure */
	char		*transport_path;
	char		*shell_command;
	struct config_list shell_args;
	char		*keys_user;		/* "" = key sync off */
	int		 shell_idle;		/* seconds */
	char		*shell_user;		/* "" = the agent's */
	char		*keys_url;		/* sync_keys source, https:// */
	char		*keys_ca_file;		/* "" = the dashboard's bundle */

	/* transport, both dialects */
	char		*ca_file;		/* "" = system bundle */
	uint8_t		 pins[CONFIG_PINS_MAX][32];
	int		 npins;
	int		 skip_verify;
	int		 allow_insecure_http;
	uint32_t	 max_message;		/* bytes */
	uint32_t	 ping_ms;
	uint32_t	 dead_ms;
	uint32_t	 handshake_ms;

	/* the agent itself */
	char		*state_dir;
	char		*net_user;
	char		*log_file;
	int		 log_level;		/* enum log_level */
	int		 allow_open_secrets;	/* group/world-readable ok */
	char		*libexec_dir;
	char		*privsep_dir;
	char		*stasysmo_dir;

	struct config_srcs *srcs;		/* config_priv.h: source per name */
};

/*
 * Parse argv.  Returns 0 and fills args, or -1 after printing the problem
 * and usage to err (exit 1).
 */
int	config_parse_args(struct config_args *, int argc, char **argv,
	    FILE *err);
/*
 * Build the configuration from defaults, file, env (a NULL-terminated
 * "NAME=value" array, so tests are hermetic) and args.  Reports every
 * problem, one line each with the setting's name and source, to err (the
 * caller also logs them); returns the number of problems (the caller
 * exits CONFIG_EX_CONFIG).  Warnings (unknown JSON keys, an open secret
 * file that was allowed) are "config: " lines on err and not counted.
 * cfg is initialised here; config_free() it whatever the result.
 */
int	config_load(struct config *, const struct config_args *,
	    char *const *env, FILE *err);
/* Effective configuration, secrets redacted, each with its source. */
void	config_print(const struct config *, FILE *);
void	config_usage(FILE *);
void	config_free(struct config *);
const char *config_source_name(int);
/* The source of a setting by its canonical name, for messages. */
int	config_source_of(const struct config *, const char *name);
/*
 * Where a setting's value came from, for a runtime message: "NIXFLEET_NIXCFG
 * (environment)", "nixfleet.repoDir (file /etc/nixfleet/agent.json)",
 * "NIXFLEET_REPO_DIR (default)".  buf is returned.
 */
const char *config_origin(const struct config *, const char *name, char *buf,
	    size_t size);
/*
 * nixfleet §4.2: the isolated repository's default directory, darwin 0
 * (Linux) or 1 with the user's home; malloc'd, NULL without a home.
 */
char	*config_default_repo_dir(int darwin, const char *home);

/*
 * Read a secret file: the bare token, or a NAME=value line (optionally
 * quoted).  Refuses group- or world-readable files unless allow_open.
 * Returns a malloc'd string, or NULL with *why set and errno: EINVAL when
 * the file was read but refused, the system's error otherwise.
 */
char	*config_read_secret(const char *path, const char *name,
	    int allow_open, const char **why);

#endif
