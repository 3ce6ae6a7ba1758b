/*
 * config_cli.c: the command line's side of the settings table.
 *
 * Parsing argv, --help and --print-config only read the table and a
 * loaded struct config; they are kept apart from config.c, which builds
 * one, so each file stays a size that can be read in one sitting.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <mbedtls/base64.h>

#include "compat.h"
#include "config.h"
#include "config_priv.h"
#include "log.h"

static void
cfg_print_list(FILE *fp, const struct config_list *l)
{
	json_t	*a;
	char	*s;
	int	 i;

	if ((a = json_array()) == NULL)
		fatal(NULL);
	for (i = 0; i < l->n; i++)
		json_array_append_new(a, json_string(l->v[i]));
	if ((s = json_dumps(a, JSON_COMPACT)) == NULL)
		fatal(NULL);
	fputs(s, fp);
	free(s);
	json_decref(a);
}

static void
cfg_print_value(const struct config *cfg, int i, FILE *fp)
{
	const struct cfg_setting *st = &cfg_settings[i];
	struct config_list l = { NULL, 0 };
	unsigned char	 b64[64];
	size_t		 olen;
	const void	*f = (st->flags & F_SRCS) ?
	    (const char *)cfg->srcs + st->off : (const char *)cfg + st->off;
	const char	*s;
	int		 k;

	switch (st->type) {
	case T_STR:
		s = *(char *const *)f;
		fputs(s == NULL ? "(none)" : *s == '\0' ? "\"\"" : s, fp);
		break;
	case T_SECRET:
		fputs(*(char *const *)f != NULL ? "(redacted)" : "(none)", fp);
		break;
	case T_INT:
		fprintf(fp, "%d", *(const int *)f);
		break;
	case T_U32:
		fprintf(fp, "%u", *(const uint32_t *)f);
		break;
	case T_BOOL:
		fputs(*(const int *)f ? "true" : "false", fp);
		break;
	case T_LIST:
		cfg_print_list(fp, f);
		break;
	case T_PINS:
		for (k = 0; k < cfg->npins; k++) {
			strlcpy((char *)b64, "sha256//", sizeof(b64));
			mbedtls_base64_encode(b64 + 8, sizeof(b64) - 8, &olen,
			    cfg->pins[k], 32);
			cfg_list_add(&l, (char *)b64, strlen((char *)b64));
		}
		cfg_print_list(fp, &l);
		cfg_list_free(&l);
		break;
	case T_LEVEL:
		fputs(log_level_name(*(const int *)f), fp);
		break;
	case T_PROTO:
		fputs(cfg->dialect == DIALECT_NIXFLEET ? "nixfleet" :
		    cfg->dialect == DIALECT_SOCKETIO ? "socketio" : "(none)",
		    fp);
		break;
	}
}

static void
cfg_print_src(const struct config *cfg, int src, const char *via,
    const char *name, FILE *fp)
{
	char	 buf[4200];

	if (src == SRC_ENV && via != NULL && strcmp(via, name) != 0)
		fprintf(fp, "  (environment %s)\n", via);
	else if (src == SRC_FLAG && via != NULL)
		fprintf(fp, "  (flag %s)\n", via);
	else if (src == SRC_DERIVED && via != NULL)
		fprintf(fp, "  (derived from %s)\n", via);
	else
		fprintf(fp, "  (%s)\n", cfg_srctext(cfg, src, buf,
		    sizeof(buf)));
}

const char *
config_origin(const struct config *cfg, const char *name, char *buf,
    size_t size)
{
	const struct cfg_setting *st;
	const char	*via;
	char		 src[4200];
	int		 i;

	snprintf(buf, size, "%s", name);
	if (cfg->srcs == NULL)
		return buf;
	for (i = 0; i < C_MAX; i++) {
		st = &cfg_settings[i];
		if (strcmp(name, st->name) != 0)
			continue;
		via = cfg->srcs->via[i];
		switch (cfg->srcs->src[i]) {
		case SRC_FILE:
			snprintf(buf, size, "%s (%s)", via != NULL ? via :
			    st->key, cfg_srctext(cfg, SRC_FILE, src,
			    sizeof(src)));
			break;
		case SRC_DERIVED:
			snprintf(buf, size, "%s (derived from %s)", name,
			    via != NULL ? via : "other settings");
			break;
		default:
			snprintf(buf, size, "%s (%s)", via != NULL ? via : name,
			    config_source_name(cfg->srcs->src[i]));
			break;
		}
		break;
	}
	return buf;
}

void
config_print(const struct config *cfg, FILE *fp)
{
	const struct cfg_setting *st;
	int		 i;

	if (cfg->srcs == NULL)
		return;
	fprintf(fp, "config file = %s", cfg->config_path != NULL ?
	    cfg->config_path : "(none)");
	cfg_print_src(cfg, cfg->srcs->path_src, cfg->srcs->path_via,
	    "config file", fp);
	for (i = 0; i < C_MAX; i++) {
		st = &cfg_settings[i];
		if (!cfg_in_scope(st, cfg->dialect))
			continue;
		fprintf(fp, "%s = ", st->name);
		cfg_print_value(cfg, i, fp);
		cfg_print_src(cfg, cfg->srcs->src[i], cfg->srcs->via[i],
		    st->name, fp);
		if (i == C_NIXCFG)
			fprintf(fp, "repo mode = %s  (derived from "
			    "NIXFLEET_REPO_URL)\n", cfg->isolated ?
			    "isolated" : "legacy");
	}
}

void
config_usage(FILE *fp)
{
	const struct cfg_setting *st;
	size_t		 i, k;

	fprintf(fp,
	    "usage: nixfleet-agent [--config PATH] [--protocol NAME] "
	    "[--log-level LEVEL]\n"
	    "                      [--insecure] [--check | --print-config | "
	    "-v | -h]\n\n"
	    "  --config PATH      JSON configuration file\n"
	    "  --protocol NAME    nixfleet or socketio\n"
	    "  --log-level LEVEL  debug, info, warn or error\n"
	    "  --insecure         do not verify the server's certificate\n"
	    "  --check            validate the configuration, probe the "
	    "dashboard\n"
	    "  --print-config     print the effective configuration\n"
	    "  -v, --version      print the version\n"
	    "  -h, --help         print this help\n\n"
	    "Precedence: defaults < file < environment < flags.\n\n"
	    "Environment:\n"
	    "  %-30s %s\n  %-30s %s\n  %-30s %s\n",
	    "CLIENT_CONFIG_PATH", "configuration file",
	    "NIXFLEET_CONFIG", "configuration file (if no CLIENT_CONFIG_PATH)",
	    "STATE_DIRECTORY", "default state directory (systemd)");
	for (i = 0; i < C_MAX; i++) {
		st = &cfg_settings[i];
		for (k = 0; k < nitems(st->env); k++)
			if (st->env[k] != NULL)
				fprintf(fp, "  %-30s %s%s\n", st->env[k],
				    st->help, st->scope == S_NIX ?
				    " (nixfleet)" : st->scope == S_SIO ?
				    " (socketio)" : "");
	}
	fprintf(fp, "  %-30s %s\n\n"
	    "Exit status: 0 success, 1 usage or runtime error, "
	    "78 configuration error.\n",
	    "NIXFLEET_TOKEN_CACHE", "accepted and ignored");
}

static int
cfg_optarg(const char *opt, int argc, char **argv, int *i, const char **val)
{
	size_t	 len = strlen(opt);

	if (strncmp(argv[*i], opt, len) != 0)
		return 0;
	if (argv[*i][len] == '=')
		*val = argv[*i] + len + 1;
	else if (argv[*i][len] != '\0')
		return 0;
	else if (*i + 1 < argc)
		*val = argv[++*i];
	else
		*val = NULL;
	return *val == NULL || **val == '\0' ? -1 : 1;
}

int
config_parse_args(struct config_args *a, int argc, char **argv, FILE *err)
{
	static const struct {
		const char	*opt;
		int		 action;
	} acts[] = {
		{ "--check", ACTION_CHECK }, { "--print-config", ACTION_PRINT },
		{ "-v", ACTION_VERSION }, { "--version", ACTION_VERSION },
		{ "-h", ACTION_HELP }, { "--help", ACTION_HELP },
	};
	static const char *const vopts[] = { "--config", "--log-level",
	    "--protocol" };
	const char	*val, **dst[3];
	char		 q[300];
	size_t		 k;
	int		 i, r = 0;

	memset(a, 0, sizeof(*a));
	dst[0] = &a->config_path;
	dst[1] = &a->log_level;
	dst[2] = &a->protocol;
	for (i = 1; i < argc; i++) {
		for (k = 0; k < nitems(acts); k++)
			if (strcmp(argv[i], acts[k].opt) == 0)
				break;
		if (k < nitems(acts)) {
			if (a->action != ACTION_RUN &&
			    a->action != acts[k].action) {
				fprintf(err, "nixfleet-agent: only one of "
				    "--check, --print-config, --version and "
				    "--help\n");
				goto usage;
			}
			a->action = acts[k].action;
			continue;
		}
		if (strcmp(argv[i], "--insecure") == 0) {
			a->insecure = 1;
			continue;
		}
		for (k = 0; k < nitems(vopts); k++)
			if ((r = cfg_optarg(vopts[k], argc, argv, &i,
			    &val)) != 0)
				break;
		if (r == -1) {
			fprintf(err, "nixfleet-agent: %s needs a value\n",
			    vopts[k]);
			goto usage;
		}
		if (r == 1) {
			*dst[k] = val;
			continue;
		}
		fprintf(err, "nixfleet-agent: %s %s\n", argv[i][0] == '-' ?
		    "unknown option" : "unexpected argument",
		    cfg_quote(argv[i], q, sizeof(q)));
		goto usage;
	}
	return 0;
 usage:
	config_usage(err);
	return -1;
}

const char *
config_source_name(int src)
{
	switch (src) {
	case SRC_DEFAULT:	return "default";
	case SRC_FILE:		return "file";
	case SRC_ENV:		return "environment";
	case SRC_FLAG:		return "flag";
	case SRC_DERIVED:	return "derived";
	default:		return "unknown";
	}
}
