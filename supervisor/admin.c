/*
 * admin.c: the remote administration settings the supervisor hands the
 * exec-worker (proto.h IPC_SE_ADMIN_*), right after its CONFIG.  The
 * command token travels here only: the net-worker never learns it, nor
 * the allowlists it could otherwise probe without running anything.
 */
#include <string.h>

#include "compat.h"
#include "log.h"
#include "proto.h"
#include "supervisor.h"

/* The config layer refuses what would not fit (config.h). */
_Static_assert(CONFIG_LIST_MAX <= IPC_ADMIN_ITEMS_MAX, "admin list count");
_Static_assert(CONFIG_ITEM_MAX < sizeof(((struct ipc_admin_item *)0)->value),
    "admin list item");

static int
sup_admin_list(struct ipcev *iev, uint32_t list, const struct config_list *l,
    const char *name)
{
	struct ipc_admin_item	 it;
	int			 i;

	for (i = 0; i < l->n; i++) {
		if (i >= IPC_ADMIN_ITEMS_MAX) {
			log_warnx("%s: entries after the %dth ignored", name,
			    IPC_ADMIN_ITEMS_MAX);
			break;
		}
		memset(&it, 0, sizeof(it));
		it.list = list;
		if (strlcpy(it.value, l->v[i], sizeof(it.value)) >=
		    sizeof(it.value)) {
			log_warnx("%s: entry %d longer than %zu bytes ignored",
			    name, i + 1, sizeof(it.value) - 1);
			continue;
		}
		if (ipcev_compose(iev, IPC_SE_ADMIN_ITEM, 0, -1, &it,
		    sizeof(it)) == -1)
			return -1;
	}
	return 0;
}

/* The ssh settings of remote backups (docs/admin.md). */
static int
sup_backup_config(struct ipcev *iev, const struct config *cfg)
{
	struct ipc_backup_config	 bc;

	memset(&bc, 0, sizeof(bc));
	if (cfg->backup_ssh_skip_hostkey)
		bc.flags |= IPC_BKCF_SKIP_HOSTKEY;
	if (cfg->backup_ssh_identity != NULL)
		strlcpy(bc.identity, cfg->backup_ssh_identity,
		    sizeof(bc.identity));
	if (cfg->backup_ssh_known_hosts != NULL)
		strlcpy(bc.known_hosts, cfg->backup_ssh_known_hosts,
		    sizeof(bc.known_hosts));
	return ipcev_compose(iev, IPC_SE_BACKUP_CONFIG, 0, -1, &bc,
	    sizeof(bc));
}

int
sup_send_admin(struct ipcev *iev, const struct config *cfg)
{
	struct ipc_admin_config	 ac;
	int			 rc;

	memset(&ac, 0, sizeof(ac));
	if (cfg->enable_shell)
		ac.flags |= IPC_ADMINF_SHELL;
	if (cfg->require_token)
		ac.flags |= IPC_ADMINF_REQ_TOKEN;
	ac.max_concurrent = cfg->max_concurrent > 0 ? cfg->max_concurrent : 1;
	ac.default_timeout_s = cfg->default_timeout > 0 ?
	    cfg->default_timeout : 30;
	ac.rate_max = cfg->rate_limit_max > 0 ? cfg->rate_limit_max : 0;
	ac.rate_window_s = cfg->rate_limit_window > 0 ?
	    cfg->rate_limit_window : 60;
	ac.shell_idle_s = cfg->shell_idle > 0 ? cfg->shell_idle : 0;
	if (cfg->shell_command != NULL)
		strlcpy(ac.shell, cfg->shell_command, sizeof(ac.shell));
	if (cfg->command_token != NULL)
		strlcpy(ac.token, cfg->command_token, sizeof(ac.token));
	if (cfg->keys_user != NULL)
		strlcpy(ac.keys_user, cfg->keys_user, sizeof(ac.keys_user));
	if (cfg->shell_user != NULL)
		strlcpy(ac.shell_user, cfg->shell_user, sizeof(ac.shell_user));
	rc = ipcev_compose(iev, IPC_SE_ADMIN_CONFIG, 0, -1, &ac, sizeof(ac));
	explicit_bzero(&ac, sizeof(ac));
	if (rc == -1 || sup_backup_config(iev, cfg) == -1 ||
	    sup_admin_list(iev, IPC_AL_COMMAND, &cfg->allowed_commands,
	    "admin.allowedCommands") == -1 ||
	    sup_admin_list(iev, IPC_AL_CWD, &cfg->allowed_cwds,
	    "admin.allowedCwds") == -1 ||
	    sup_admin_list(iev, IPC_AL_SHELL_ARG, &cfg->shell_args,
	    "shell.args") == -1 ||
	    sup_admin_list(iev, IPC_AL_SRC_ROOT, &cfg->backup_source_roots,
	    "backup.allowedSourceRoots") == -1 ||
	    sup_admin_list(iev, IPC_AL_DST_ROOT, &cfg->backup_dest_roots,
	    "backup.allowedDestRoots") == -1)
		return -1;
	return ipcev_compose(iev, IPC_SE_ADMIN_END, 0, -1, NULL, 0);
}
