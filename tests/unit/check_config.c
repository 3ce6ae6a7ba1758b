/*
 * check_config.c: sources and their precedence, dialect choice, every
 * validation rule, secret files, redaction and the command line.
 */
#include <sys/stat.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "testlib.h"

/* nixfleet §4.2: the isolated repository's default directory. */
#ifdef __APPLE__
#define REPO_DEFAULT	"/nonexistent/.local/state/nixfleet-agent/repo"
#define REPO_DEFAULT_SRC SRC_DERIVED
#else
#define REPO_DEFAULT	"/var/lib/nixfleet-agent/repo"
#define REPO_DEFAULT_SRC SRC_DEFAULT
#endif

#define TOKEN		"tok-SECRET-4f1e"
#define URL		"NIXFLEET_URL=wss://fleet.example/ws"
#define STATE		"STATE_DIRECTORY=/var/lib/nfa-test"
#define NIX_BASE	URL, "NIXFLEET_TOKEN=" TOKEN, \
			"NIXFLEET_REPO_URL=git@example.com:fleet.git", STATE
#define SIO_BASE	"SERVER_URL=https://control.example:8443/", \
			"CLIENT_ID=host-01", "AUTH_TOKEN=" TOKEN, STATE

static Suite	*config_suite(void);

static char	*tdir;

struct run {
	struct config	 cfg;
	char		*out;		/* everything written to err */
	size_t		 len;
	int		 n;		/* problems */
};

static void
setup(void)
{
	tdir = tl_mkdtemp();
	/* The default file is ./agent-config.json: start where none is. */
	ck_assert_int_eq(chdir(tdir), 0);
}

static void
teardown(void)
{
	(void)!chdir("/");
	tl_rmtree(tdir);
	free(tdir);
}

static int
load_args(struct run *r, const struct config_args *a, const char **env)
{
	struct config_args	 none;
	FILE			*f;

	memset(r, 0, sizeof(*r));
	if (a == NULL) {
		memset(&none, 0, sizeof(none));
		a = &none;
	}
	f = open_memstream(&r->out, &r->len);
	ck_assert_ptr_nonnull(f);
	r->n = config_load(&r->cfg, a, (char *const *)env, f);
	fclose(f);
	return r->n;
}

static int
load(struct run *r, const char **env)
{
	return load_args(r, NULL, env);
}

static void
done(struct run *r)
{
	config_free(&r->cfg);
	free(r->out);
}

/* The output holds this line (or substring), formatted. */
static void
has(const struct run *r, const char *fmt, ...) __printflike(2, 3);

static void
has(const struct run *r, const char *fmt, ...)
{
	char	 want[1024];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(want, sizeof(want), fmt, ap);
	va_end(ap);
	ck_assert_msg(strstr(r->out, want) != NULL, "missing [%s] in [%s]",
	    want, r->out);
}

#define ENV_MAX	24

/* Set NAME=value in env, replacing NAME: an environment holds it once. */
static void
env_put(const char **env, const char *var)
{
	size_t	 n = strcspn(var, "=") + 1, k;

	for (k = 0; env[k] != NULL; k++) {
		if (strncmp(env[k], var, n) == 0) {
			env[k] = var;
			return;
		}
	}
	ck_assert_uint_lt(k + 1, ENV_MAX);
	env[k] = var;
	env[k + 1] = NULL;
}

static char *
write_file(const char *name, const char *data, int mode)
{
	char	*p = tl_path(tdir, name);

	tl_write_file(p, data, mode);
	return p;
}

static char *
print_cfg(const struct config *cfg)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	config_print(cfg, f);
	fclose(f);
	return buf;
}

/* --- each source alone ------------------------------------------------ */

START_TEST(test_config_defaults)
{
	const char	*env[] = { NIX_BASE, NULL };
	struct run	 r;

	ck_assert_int_eq(load(&r, env), 0);
	ck_assert_str_eq(r.out, "");
	ck_assert_int_eq(r.cfg.dialect, DIALECT_NIXFLEET);
	ck_assert_ptr_null(r.cfg.config_path);
	ck_assert_str_eq(r.cfg.url, "wss://fleet.example/ws");
	ck_assert_str_eq(r.cfg.token, TOKEN);
	ck_assert_int_eq(r.cfg.interval, 5);
	ck_assert_str_eq(r.cfg.branch, "main");
	ck_assert_str_eq(r.cfg.location, "home");
	ck_assert_str_eq(r.cfg.device_type, "desktop");
	ck_assert_str_eq(r.cfg.hostname, "");
	ck_assert_str_eq(r.cfg.theme_color, "");
	ck_assert_ptr_null(r.cfg.ssh_key);
	ck_assert_int_eq(r.cfg.log_level, LOG_LVL_INFO);
	ck_assert_ptr_null(r.cfg.log_file);
	ck_assert_uint_eq(r.cfg.max_message, 1024 * 1024);
	ck_assert_uint_eq(r.cfg.ping_ms, 10000);
	ck_assert_uint_eq(r.cfg.dead_ms, 45000);
	ck_assert_uint_eq(r.cfg.handshake_ms, 10000);
	ck_assert_str_eq(r.cfg.ca_file, "");
	ck_assert_int_eq(r.cfg.npins, 0);
	ck_assert_int_eq(r.cfg.skip_verify, 0);
	ck_assert_int_eq(r.cfg.allow_insecure_http, 0);
	ck_assert_int_eq(r.cfg.allow_open_secrets, 0);
	ck_assert_str_eq(r.cfg.state_dir, "/var/lib/nfa-test");
	ck_assert_str_eq(r.cfg.net_user, "nixfleet-agent");
	ck_assert_str_eq(r.cfg.libexec_dir, LIBEXECDIR);
	ck_assert_str_eq(r.cfg.privsep_dir, PRIVSEP_DIR);
	ck_assert_str_eq(r.cfg.stasysmo_dir, "/dev/shm/stasysmo");
	ck_assert_int_eq(config_source_of(&r.cfg, "NIXFLEET_URL"), SRC_ENV);
	ck_assert_int_eq(config_source_of(&r.cfg, "NIXFLEET_INTERVAL"),
	    SRC_DEFAULT);
	ck_assert_int_eq(config_source_of(&r.cfg, "stateDir"), SRC_ENV);
	ck_assert_int_eq(config_source_of(&r.cfg, "protocol"), SRC_DERIVED);
	done(&r);
}
END_TEST

START_TEST(test_config_state_directory_first_entry)
{
	const char	*env[] = { URL, "NIXFLEET_TOKEN=" TOKEN,
	    "NIXFLEET_REPO_URL=x", "STATE_DIRECTORY=/a/b:/c/d", NULL };
	const char	*env2[] = { URL, "NIXFLEET_TOKEN=" TOKEN,
	    "NIXFLEET_REPO_URL=x", "STATE_DIRECTORY=/a/b",
	    "NIXFLEET_STATE_DIR=/srv/nfa", NULL };
	struct run	 r;

	ck_assert_int_eq(load(&r, env), 0);
	ck_assert_str_eq(r.cfg.state_dir, "/a/b");
	/* §4.2: the isolated default is not under the state directory. */
	ck_assert_str_eq(r.cfg.repo_dir, REPO_DEFAULT);
	done(&r);
	ck_assert_int_eq(load(&r, env2), 0);
	ck_assert_str_eq(r.cfg.state_dir, "/srv/nfa");
	ck_assert_int_eq(config_source_of(&r.cfg, "NIXFLEET_STATE_DIR"),
	    SRC_ENV);
	done(&r);
}
END_TEST

START_TEST(test_config_file_alone)
{
	char		*p;
	struct run	 r;
	struct config_args a;
	const char	*env[] = { NULL };

	p = write_file("agent.json",
	    "{\"nixfleet\":{\"url\":\"ws://127.0.0.1:8000/ws\","
	    "\"token\":\"" TOKEN "\",\"repoDir\":\"/etc/nixos\","
	    "\"branch\":\"prod\",\"sshKey\":\"/k\",\"interval\":30,"
	    "\"hostname\":\"h1\",\"nixpkgsVersion\":\"24.11\","
	    "\"themeColor\":\"#fff\",\"location\":\"cloud\","
	    "\"deviceType\":\"server\"},"
	    "\"transport\":{\"caFile\":\"/ca.pem\",\"skipTlsVerify\":true,"
	    "\"maxMessageBytes\":2048,\"pingIntervalMs\":500,"
	    "\"readTimeoutMs\":1500,\"handshakeTimeoutMs\":700},"
	    "\"stateDir\":\"/st\",\"netUser\":\"nobody\","
	    "\"logging\":{\"file\":\"/l.log\",\"level\":\"debug\"},"
	    "\"allowInsecureTokenFile\":true,\"libexecDir\":\"/le\","
	    "\"privsepDir\":\"/ps\",\"stasysmoDir\":\"/sm\"}", 0600);
	memset(&a, 0, sizeof(a));
	a.config_path = p;
	ck_assert_int_eq(load_args(&r, &a, env), 0);
	ck_assert_str_eq(r.out, "");
	ck_assert_str_eq(r.cfg.config_path, p);
	ck_assert_int_eq(r.cfg.dialect, DIALECT_NIXFLEET);
	ck_assert_str_eq(r.cfg.url, "ws://127.0.0.1:8000/ws");
	ck_assert_str_eq(r.cfg.token, TOKEN);
	ck_assert_int_eq(r.cfg.isolated, 0);
	ck_assert_str_eq(r.cfg.repo_dir, "/etc/nixos");
	ck_assert_str_eq(r.cfg.branch, "prod");
	ck_assert_str_eq(r.cfg.ssh_key, "/k");
	ck_assert_int_eq(r.cfg.interval, 30);
	ck_assert_str_eq(r.cfg.hostname, "h1");
	ck_assert_str_eq(r.cfg.nixpkgs_version, "24.11");
	ck_assert_str_eq(r.cfg.theme_color, "#fff");
	ck_assert_str_eq(r.cfg.location, "cloud");
	ck_assert_str_eq(r.cfg.device_type, "server");
	ck_assert_str_eq(r.cfg.ca_file, "/ca.pem");
	ck_assert_int_eq(r.cfg.skip_verify, 1);
	ck_assert_uint_eq(r.cfg.max_message, 2048);
	ck_assert_uint_eq(r.cfg.ping_ms, 500);
	ck_assert_uint_eq(r.cfg.dead_ms, 1500);
	ck_assert_uint_eq(r.cfg.handshake_ms, 700);
	ck_assert_str_eq(r.cfg.state_dir, "/st");
	ck_assert_str_eq(r.cfg.net_user, "nobody");
	ck_assert_str_eq(r.cfg.log_file, "/l.log");
	ck_assert_int_eq(r.cfg.log_level, LOG_LVL_DEBUG);
	ck_assert_int_eq(r.cfg.allow_open_secrets, 1);
	ck_assert_str_eq(r.cfg.libexec_dir, "/le");
	ck_assert_str_eq(r.cfg.privsep_dir, "/ps");
	ck_assert_str_eq(r.cfg.stasysmo_dir, "/sm");
	ck_assert_int_eq(config_source_of(&r.cfg, "NIXFLEET_URL"), SRC_FILE);
	ck_assert_int_eq(config_source_of(&r.cfg, "nixfleet.interval"),
	    SRC_FILE);
	ck_assert_int_eq(config_source_of(&r.cfg, "transport.caFile"),
	    SRC_FILE);
	done(&r);
	free(p);
}
END_TEST

START_TEST(test_config_flags_alone)
{
	const char	*env[] = { NIX_BASE, NULL };
	char		*argv[] = { "nixfleet-agent", "--insecure",
	    "--log-level", "debug", "--protocol=nixfleet", NULL };
	struct config_args a;
	struct run	 r;

	ck_assert_int_eq(config_parse_args(&a, 5, argv, stderr), 0);
	ck_assert_int_eq(load_args(&r, &a, env), 0);
	ck_assert_int_eq(r.cfg.skip_verify, 1);
	ck_assert_int_eq(r.cfg.log_level, LOG_LVL_DEBUG);
	ck_assert_int_eq(r.cfg.dialect, DIALECT_NIXFLEET);
	ck_assert_int_eq(config_source_of(&r.cfg, "--insecure"), SRC_FLAG);
	ck_assert_int_eq(config_source_of(&r.cfg, "logging.level"), SRC_FLAG);
	ck_assert_int_eq(config_source_of(&r.cfg, "protocol"), SRC_FLAG);
	done(&r);
}
END_TEST

/* --- precedence ------------------------------------------------------- */

START_TEST(test_config_precedence)
{
	char		*p;
	struct config_args a;
	struct run	 r;
	const char	*env[] = { NIX_BASE, "NIXFLEET_INTERVAL=9",
	    "LOG_LEVEL=warn", "NIXFLEET_CA_FILE=/env-ca", NULL };
	const char	*env2[] = { NIX_BASE, "LOG_LEVEL=warn",
	    "NIXFLEET_LOG_LEVEL=error", "AGENT_SKIP_TLS_VERIFY=false", NULL };

	p = write_file("a.json", "{\"nixfleet\":{\"interval\":7,"
	    "\"branch\":\"file-branch\"},\"logging\":{\"level\":\"debug\"},"
	    "\"transport\":{\"caFile\":\"/file-ca\",\"skipTlsVerify\":true}}",
	    0600);
	memset(&a, 0, sizeof(a));
	a.config_path = p;
	/* file < environment */
	ck_assert_int_eq(load_args(&r, &a, env), 0);
	ck_assert_int_eq(r.cfg.interval, 9);
	ck_assert_int_eq(config_source_of(&r.cfg, "NIXFLEET_INTERVAL"),
	    SRC_ENV);
	ck_assert_str_eq(r.cfg.branch, "file-branch");
	ck_assert_int_eq(config_source_of(&r.cfg, "NIXFLEET_BRANCH"),
	    SRC_FILE);
	ck_assert_int_eq(r.cfg.log_level, LOG_LVL_WARN);
	ck_assert_str_eq(r.cfg.ca_file, "/env-ca");
	ck_assert_int_eq(r.cfg.skip_verify, 1);
	done(&r);

	/* NIXFLEET_LOG_LEVEL beats LOG_LEVEL; env false beats file true */
	ck_assert_int_eq(load_args(&r, &a, env2), 0);
	ck_assert_int_eq(r.cfg.log_level, LOG_LVL_ERROR);
	ck_assert_int_eq(r.cfg.skip_verify, 0);
	ck_assert_int_eq(config_source_of(&r.cfg, "transport.skipTlsVerify"),
	    SRC_ENV);
	done(&r);

	/* environment < flags */
	a.log_level = "info";
	a.insecure = 1;
	ck_assert_int_eq(load_args(&r, &a, env2), 0);
	ck_assert_int_eq(r.cfg.log_level, LOG_LVL_INFO);
	ck_assert_int_eq(r.cfg.skip_verify, 1);
	ck_assert_int_eq(config_source_of(&r.cfg, "logging.level"), SRC_FLAG);
	done(&r);
	free(p);
}
END_TEST

START_TEST(test_config_precedence_aliases)
{
	const char	*env[] = { NIX_BASE, "LOG_FILE=/a.log",
	    "NIXFLEET_LOG_FILE=/b.log", "AGENT_SKIP_TLS_VERIFY=true",
	    "NIXFLEET_INSECURE=0", NULL };
	const char	*env2[] = { NIX_BASE, "LOG_FILE=/a.log", NULL };
	struct run	 r;
	char		*p, *out;

	ck_assert_int_eq(load(&r, env), 0);
	ck_assert_str_eq(r.cfg.log_file, "/b.log");
	ck_assert_int_eq(r.cfg.skip_verify, 0);
	out = print_cfg(&r.cfg);
	ck_assert_ptr_nonnull(strstr(out, "logging.file = /b.log  "
	    "(environment NIXFLEET_LOG_FILE)\n"));
	free(out);
	done(&r);

	/* LOG_FILE wins over logging.file (socketio D10). */
	p = write_file("agent-config.json", "{\"logging\":{\"file\":"
	    "\"/file.log\"}}", 0600);
	ck_assert_int_eq(load(&r, env2), 0);
	ck_assert_str_eq(r.cfg.config_path, "./agent-config.json");
	ck_assert_str_eq(r.cfg.log_file, "/a.log");
	done(&r);
	free(p);
}
END_TEST

/* --- the configuration file ------------------------------------------ */

START_TEST(test_config_file_path_order)
{
	char		*p1, *p2, *p3, e2[300], e3[300];
	struct config_args a;
	struct run	 r;
	const char	*env[] = { NIX_BASE, e2, e3, NULL };

	p1 = write_file("1.json", "{\"nixfleet\":{\"interval\":1}}", 0600);
	p2 = write_file("2.json", "{\"nixfleet\":{\"interval\":2}}", 0600);
	p3 = write_file("3.json", "{\"nixfleet\":{\"interval\":3}}", 0600);
	free(write_file("agent-config.json", "{\"nixfleet\":{\"interval\":4}}",
	    0600));
	snprintf(e2, sizeof(e2), "CLIENT_CONFIG_PATH=%s", p2);
	snprintf(e3, sizeof(e3), "NIXFLEET_CONFIG=%s", p3);
	memset(&a, 0, sizeof(a));
	a.config_path = p1;
	ck_assert_int_eq(load_args(&r, &a, env), 0);
	ck_assert_int_eq(r.cfg.interval, 1);
	done(&r);
	ck_assert_int_eq(load(&r, env), 0);
	ck_assert_int_eq(r.cfg.interval, 2);
	ck_assert_str_eq(r.cfg.config_path, p2);
	done(&r);
	env[4] = e3;
	env[5] = NULL;
	ck_assert_int_eq(load(&r, env), 0);
	ck_assert_int_eq(r.cfg.interval, 3);
	done(&r);
	env[4] = NULL;
	ck_assert_int_eq(load(&r, env), 0);
	ck_assert_int_eq(r.cfg.interval, 4);
	ck_assert_str_eq(r.cfg.config_path, "./agent-config.json");
	done(&r);
	free(p1);
	free(p2);
	free(p3);
}
END_TEST

START_TEST(test_config_file_missing)
{
	struct config_args a;
	struct run	 r;
	const char	*env[] = { NIX_BASE, NULL };
	const char	*env2[] = { NIX_BASE,
	    "CLIENT_CONFIG_PATH=/nonexistent/c.json", NULL };

	/* The default file may be absent. */
	ck_assert_int_eq(load(&r, env), 0);
	ck_assert_ptr_null(r.cfg.config_path);
	done(&r);

	memset(&a, 0, sizeof(a));
	a.config_path = "/nonexistent/agent.json";
	ck_assert_int_eq(load_args(&r, &a, env), 1);
	has(&r, "--config (flag): cannot read /nonexistent/agent.json: "
	    "No such file or directory\n");
	done(&r);

	ck_assert_int_eq(load(&r, env2), 1);
	has(&r, "CLIENT_CONFIG_PATH (environment): cannot read "
	    "/nonexistent/c.json: No such file or directory\n");
	done(&r);

	/* A directory is not a configuration file. */
	a.config_path = tdir;
	ck_assert_int_eq(load_args(&r, &a, env), 1);
	has(&r, "--config (flag): %s is not a regular file", tdir);
	done(&r);
}
END_TEST

START_TEST(test_config_file_invalid_json)
{
	char		*p;
	struct config_args a;
	struct run	 r;
	const char	*env[] = { NIX_BASE, NULL };

	memset(&a, 0, sizeof(a));
	p = write_file("bad.json", "{\n  \"nixfleet\": {\n    \"interval\": ,\n"
	    "}}\n", 0600);
	a.config_path = p;
	ck_assert_int_eq(load_args(&r, &a, env), 1);
	has(&r, "--config (flag): %s: invalid JSON at line 3, column ", p);
	done(&r);
	free(p);

	p = write_file("dup.json", "{\"stateDir\":\"/a\",\"stateDir\":\"/b\"}",
	    0600);
	a.config_path = p;
	ck_assert_int_eq(load_args(&r, &a, env), 1);
	has(&r, "invalid JSON at line 1");
	has(&r, "duplicate");
	done(&r);
	free(p);

	p = write_file("arr.json", "[1,2]", 0600);
	a.config_path = p;
	ck_assert_int_eq(load_args(&r, &a, env), 1);
	has(&r, "--config (flag): %s must hold a JSON object (got an array)",
	    p);
	done(&r);
	free(p);

	/* The default file, present but broken, is a problem too. */
	p = write_file("agent-config.json", "{", 0600);
	ck_assert_int_eq(load(&r, env), 1);
	has(&r, "config file (default): ./agent-config.json: invalid JSON");
	done(&r);
	free(p);
}
END_TEST

START_TEST(test_config_unknown_keys_warn)
{
	char		*p;
	struct config_args a;
	struct run	 r;
	const char	*env[] = { NIX_BASE, NULL };

	p = write_file("u.json", "{\"foo\":1,\"nixfleet\":{\"bar\":2},"
	    "\"transport\":{\"caFile\":\"/ca\",\"zap\":true},"
	    "\"dirBrowse\":{\"roots\":[\"/\"]},\"updateCheckEnabled\":true,"
	    "\"connectivity\":{\"x\":1},\"openHardwareMonitorPort\":8085,"
	    "\"updateCheckIntervalHours\":6}", 0600);
	memset(&a, 0, sizeof(a));
	a.config_path = p;
	ck_assert_int_eq(load_args(&r, &a, env), 0);
	has(&r, "config: unknown key \"foo\" in %s, ignored\n", p);
	has(&r, "config: unknown key \"nixfleet.bar\" in %s, ignored\n", p);
	has(&r, "config: unknown key \"transport.zap\" in %s, ignored\n", p);
	ck_assert_ptr_null(strstr(r.out, "dirBrowse"));
	ck_assert_ptr_null(strstr(r.out, "updateCheck"));
	ck_assert_ptr_null(strstr(r.out, "connectivity"));
	ck_assert_ptr_null(strstr(r.out, "openHardware"));
	ck_assert_str_eq(r.cfg.ca_file, "/ca");
	done(&r);
	free(p);
}
END_TEST

START_TEST(test_config_file_wrong_types)
{
	char		*p;
	struct config_args a;
	struct run	 r;
	const char	*env[] = { NIX_BASE, NULL };

	p = write_file("t.json", "{\"nixfleet\":{\"interval\":\"5\","
	    "\"branch\":7},\"transport\":{\"skipTlsVerify\":\"yes\","
	    "\"pinnedPubkeys\":\"x\",\"maxMessageBytes\":1.5},"
	    "\"logging\":5,\"stateDir\":[]}", 0600);
	memset(&a, 0, sizeof(a));
	a.config_path = p;
	ck_assert_int_eq(load_args(&r, &a, env), 7);
	has(&r, "nixfleet.interval (file %s): must be an integer (got a "
	    "string)\n", p);
	has(&r, "nixfleet.branch (file %s): must be a string (got an "
	    "integer)\n", p);
	has(&r, "transport.skipTlsVerify (file %s): must be true or false "
	    "(got a string)\n", p);
	has(&r, "transport.pinnedPubkeys (file %s): must be an array of "
	    "strings (got a string)\n", p);
	has(&r, "transport.maxMessageBytes (file %s): must be an integer "
	    "(got a real number)\n", p);
	has(&r, "logging (file %s): must be an object (got an integer)\n", p);
	has(&r, "stateDir (file %s): must be a string (got an array)\n", p);
	done(&r);
	free(p);
}
END_TEST

/* --- dialect selection ------------------------------------------------- */

START_TEST(test_config_dialect_selection)
{
	char		*p;
	struct config_args a;
	struct run	 r;
	const char	*nix[] = { NIX_BASE, NULL };
	const char	*sio[] = { SIO_BASE, NULL };
	const char	*both[] = { NIX_BASE, "SERVER_URL=https://c.example/",
	    "CLIENT_ID=h", "AUTH_TOKEN=x", NULL };
	const char	*both_p[] = { NIX_BASE, "SERVER_URL=https://c.example/",
	    "CLIENT_ID=h", "AUTH_TOKEN=x", "NIXFLEET_PROTOCOL=socketio",
	    NULL };
	const char	*none[] = { STATE, NULL };

	ck_assert_int_eq(load(&r, nix), 0);
	ck_assert_int_eq(r.cfg.dialect, DIALECT_NIXFLEET);
	done(&r);

	ck_assert_int_eq(load(&r, sio), 0);
	ck_assert_int_eq(r.cfg.dialect, DIALECT_SOCKETIO);
	ck_assert_int_eq(config_source_of(&r.cfg, "protocol"), SRC_DERIVED);
	done(&r);

	ck_assert_int_eq(load(&r, both), 1);
	has(&r, "protocol (not set): both NIXFLEET_URL and SERVER_URL");
	has(&r, "NIXFLEET_PROTOCOL or --protocol");
	done(&r);

	ck_assert_int_eq(load(&r, both_p), 0);
	ck_assert_int_eq(r.cfg.dialect, DIALECT_SOCKETIO);
	ck_assert_int_eq(config_source_of(&r.cfg, "NIXFLEET_PROTOCOL"),
	    SRC_ENV);
	done(&r);

	memset(&a, 0, sizeof(a));
	a.protocol = "nixfleet";
	ck_assert_int_eq(load_args(&r, &a, both_p), 0);
	ck_assert_int_eq(r.cfg.dialect, DIALECT_NIXFLEET);
	done(&r);

	/* Neither: nixfleet, and its URL is what is missing. */
	ck_assert_int_eq(load(&r, none), 3);
	ck_assert_int_eq(r.cfg.dialect, DIALECT_NIXFLEET);
	has(&r, "NIXFLEET_URL (not set): required\n");
	has(&r, "NIXFLEET_TOKEN (not set): required; set NIXFLEET_TOKEN or "
	    "NIXFLEET_TOKEN_FILE\n");
	has(&r, "NIXFLEET_REPO_DIR (not set): no repository");
	done(&r);

	/* serverUrl in the file selects socketio as well. */
	p = write_file("agent-config.json", "{\"serverUrl\":"
	    "\"https://c.example/\",\"clientId\":\"c1\",\"authToken\":\"k\"}",
	    0600);
	ck_assert_int_eq(load(&r, none), 0);
	ck_assert_int_eq(r.cfg.dialect, DIALECT_SOCKETIO);
	done(&r);
	free(p);

	a.protocol = "mqtt";
	ck_assert_int_eq(load_args(&r, &a, nix), 1);
	has(&r, "--protocol (flag): must be nixfleet or socketio (got "
	    "\"mqtt\")\n");
	done(&r);
}
END_TEST

START_TEST(test_config_dialect_scopes)
{
	const char	*env[] = { NIX_BASE, "STATS_INTERVAL_SEC=zz",
	    "CLIENT_ID=bad id", NULL };
	struct run	 r;

	/* socketio settings are not validated in the nixfleet dialect. */
	ck_assert_int_eq(load(&r, env), 0);
	ck_assert_ptr_null(r.cfg.client_id);
	done(&r);
}
END_TEST

/* --- validation -------------------------------------------------------- */

struct bad_env {
	const char	*var;		/* one extra NAME=value */
	const char	*msg;		/* the whole expected line */
};

static const struct bad_env bad_envs[] = {
	{ "NIXFLEET_USER=-root", "NIXFLEET_USER (environment): must be a "
	    "user name (got \"-root\")" },
	{ "NIXFLEET_USER=a b", "NIXFLEET_USER (environment): must be a "
	    "user name (got \"a b\")" },
	{ "NIXFLEET_REPORT_VERSION=3.1.5\t", "NIXFLEET_REPORT_VERSION "
	    "(environment): must not contain control characters "
	    "(got \"3.1.5\\x09\")" },
	{ "NIXFLEET_REPORT_VERSION=0123456789012345678901234567890123456789"
	    "012345678901234567890123", "NIXFLEET_REPORT_VERSION "
	    "(environment): must be at most 63 bytes (got \"01234567890123"
	    "45678901234567890123456789012345678901234567890123\")" },
	{ "NIXFLEET_INTERVAL=0", "NIXFLEET_INTERVAL (environment): must be an "
	    "integer >= 1 (got \"0\")" },
	{ "NIXFLEET_INTERVAL=-3", "NIXFLEET_INTERVAL (environment): must be an "
	    "integer >= 1 (got \"-3\")" },
	{ "NIXFLEET_INTERVAL=86401", "NIXFLEET_INTERVAL (environment): must be "
	    "an integer <= 86400 (got \"86401\")" },
	{ "NIXFLEET_INTERVAL=5s", "NIXFLEET_INTERVAL (environment): must be an "
	    "integer (got \"5s\")" },
	{ "NIXFLEET_INTERVAL= 5", "NIXFLEET_INTERVAL (environment): must be an "
	    "integer (got \" 5\")" },
	{ "NIXFLEET_INTERVAL=99999999999999999999", "NIXFLEET_INTERVAL "
	    "(environment): must be an integer "
	    "(got \"99999999999999999999\")" },
	{ "NIXFLEET_URL=https://fleet.example/ws", "NIXFLEET_URL "
	    "(environment): scheme must be ws:// or wss:// (got \"https\")" },
	{ "NIXFLEET_URL=fleet.example/ws", "NIXFLEET_URL (environment): "
	    "scheme must be ws:// or wss:// (got \"fleet.example/ws\")" },
	{ "NIXFLEET_URL=wss:///ws", "NIXFLEET_URL (environment): host is "
	    "empty (got \"wss:///ws\")" },
	{ "NIXFLEET_URL=wss://h:0/", "NIXFLEET_URL (environment): bad port "
	    "(got \"wss://h:0/\")" },
	{ "NIXFLEET_URL=ws://192.0.2.10/ws", "NIXFLEET_URL (environment): "
	    "ws:// to 192.0.2.10 is not encrypted; use wss:// or set "
	    "NIXFLEET_ALLOW_INSECURE_HTTP=1 (transport.allowInsecureHttp)" },
	{ "NIXFLEET_URL=ws://[2001:db8::1]:80/ws", "NIXFLEET_URL "
	    "(environment): ws:// to 2001:db8::1 is not encrypted; use wss:// "
	    "or set NIXFLEET_ALLOW_INSECURE_HTTP=1 "
	    "(transport.allowInsecureHttp)" },
	{ "NIXFLEET_LOG_LEVEL=verbose", "NIXFLEET_LOG_LEVEL (environment): "
	    "must be debug, info, warn or error (got \"verbose\")" },
	{ "NIXFLEET_LOG_LEVEL=warning", "NIXFLEET_LOG_LEVEL (environment): "
	    "must be debug, info, warn or error (got \"warning\")" },
	{ "NIXFLEET_LOG_LEVEL=INFO", "NIXFLEET_LOG_LEVEL (environment): "
	    "must be debug, info, warn or error (got \"INFO\")" },
	{ "NIXFLEET_INSECURE=yes", "NIXFLEET_INSECURE (environment): "
	    "must be a boolean: 1, t, true, 0, f or false (got \"yes\")" },
	{ "NIXFLEET_ALLOW_INSECURE_HTTP=2", "NIXFLEET_ALLOW_INSECURE_HTTP "
	    "(environment): must be a boolean: 1, t, true, 0, f or false "
	    "(got \"2\")" },
	{ "NIXFLEET_MAX_MESSAGE=1023", "NIXFLEET_MAX_MESSAGE (environment): "
	    "must be an integer >= 1024 (got \"1023\")" },
	{ "NIXFLEET_MAX_MESSAGE=268435457", "NIXFLEET_MAX_MESSAGE "
	    "(environment): must be an integer <= 268435456 "
	    "(got \"268435457\")" },
	{ "NIXFLEET_PING_INTERVAL_MS=50000", "transport.readTimeoutMs "
	    "(default): must be longer than transport.pingIntervalMs (50000)" },
	{ "NIXFLEET_READ_TIMEOUT_MS=10000", "NIXFLEET_READ_TIMEOUT_MS "
	    "(environment): must be longer than transport.pingIntervalMs "
	    "(10000)" },
	{ "NIXFLEET_HANDSHAKE_TIMEOUT_MS=x", "NIXFLEET_HANDSHAKE_TIMEOUT_MS "
	    "(environment): must be an integer (got \"x\")" },
	{ "NIXFLEET_STATE_DIR=var/lib/x", "NIXFLEET_STATE_DIR (environment): "
	    "must be an absolute path (got \"var/lib/x\")" },
	{ "NIXFLEET_LIBEXEC_DIR=libexec", "NIXFLEET_LIBEXEC_DIR "
	    "(environment): must be an absolute path (got \"libexec\")" },
	{ "NIXFLEET_PRIVSEP_DIR=.", "NIXFLEET_PRIVSEP_DIR (environment): must "
	    "be an absolute path (got \".\")" },
	{ "NIXFLEET_STASYSMO_DIR=x", "NIXFLEET_STASYSMO_DIR (environment): "
	    "must be an absolute path (got \"x\")" },
	{ "NIXFLEET_REPO_DIR=repo", "NIXFLEET_REPO_DIR (environment): must be "
	    "an absolute path (got \"repo\")" },
	{ "NIXFLEET_NET_USER=-root", "NIXFLEET_NET_USER (environment): must be "
	    "a user name (got \"-root\")" },
	{ "NIXFLEET_NET_USER=a b", "NIXFLEET_NET_USER (environment): must be a "
	    "user name (got \"a b\")" },
	{ "NIXFLEET_BRANCH=--upload-pack=x", "NIXFLEET_BRANCH (environment): "
	    "must not start with '-' or contain spaces (got "
	    "\"--upload-pack=x\")" },
	{ "NIXFLEET_BRANCH=a b", "NIXFLEET_BRANCH (environment): must not "
	    "start with '-' or contain spaces (got \"a b\")" },
	{ "NIXFLEET_HOSTNAME=h\x1b[31m", "NIXFLEET_HOSTNAME (environment): "
	    "must not contain control characters (got \"h\\x1b[31m\")" },
	{ "NIXFLEET_TOKEN=a\tb", "NIXFLEET_TOKEN (environment): must not "
	    "contain control characters (got a value with control "
	    "characters)" },
	{ "NIXFLEET_PROTOCOL=Nixfleet", "NIXFLEET_PROTOCOL (environment): must "
	    "be nixfleet or socketio (got \"Nixfleet\")" },
	{ "NIXFLEET_PINNED_PUBKEY=abc", "NIXFLEET_PINNED_PUBKEY (environment): "
	    "pin 1 must be sha256//<base64 of 32 bytes> or 64 hex digits "
	    "(got \"abc\")" },
	{ "NIXFLEET_TOKEN_FILE=/nonexistent/tok", "NIXFLEET_TOKEN_FILE "
	    "(environment): /nonexistent/tok cannot be opened: No such file "
	    "or directory" },
	{ "ADMIN_KEYS_SOURCE_URL=http://github.com", "ADMIN_KEYS_SOURCE_URL "
	    "(environment): scheme must be https:// (got \"http://github.com\")" },
	{ "ADMIN_KEYS_SOURCE_URL=github.com", "ADMIN_KEYS_SOURCE_URL "
	    "(environment): scheme must be https:// (got \"github.com\")" },
	{ "ADMIN_KEYS_SOURCE_URL=wss://github.com", "ADMIN_KEYS_SOURCE_URL "
	    "(environment): scheme must be https:// (got \"wss://github.com\")" },
	{ "ADMIN_KEYS_SOURCE_URL=https://u:p@keys.example", "ADMIN_KEYS_SOURCE_URL "
	    "(environment): must not hold credentials (got "
	    "\"https://u:p@keys.example\")" },
	{ "ADMIN_KEYS_SOURCE_URL=https://keys.example/m?x=1",
	    "ADMIN_KEYS_SOURCE_URL (environment): must not have a query or "
	    "fragment (got \"https://keys.example/m?x=1\")" },
	{ "ADMIN_KEYS_SOURCE_URL=https:///keys", "ADMIN_KEYS_SOURCE_URL "
	    "(environment): host is empty (got \"https:///keys\")" },
};

START_TEST(test_config_validation)
{
	const char	*env[ENV_MAX] = { NIX_BASE };
	struct run	 r;

	env_put(env, bad_envs[_i].var);

	ck_assert_int_eq(load(&r, env), 1);
	has(&r, "%s\n", bad_envs[_i].msg);
	/* One line, one problem. */
	ck_assert_ptr_eq(strchr(r.out, '\n'), r.out + r.len - 1);
	done(&r);
}
END_TEST

static const char *const accept_envs[] = {
	"NIXFLEET_INTERVAL=1", "NIXFLEET_INTERVAL=86400",
	"NIXFLEET_URL=ws://localhost:8000/ws",
	"NIXFLEET_URL=ws://127.0.0.1:8000/ws",
	"NIXFLEET_URL=ws://[::1]:8000/ws",
	/* A name is judged by its addresses when the agent connects. */
	"NIXFLEET_URL=ws://fleet.example/ws",
	"NIXFLEET_URL=WSS://Fleet.Example/ws",
	"NIXFLEET_LOG_LEVEL=warn", "AGENT_SKIP_TLS_VERIFY=T",
	"NIXFLEET_MAX_MESSAGE=1024", "NIXFLEET_BRANCH=release/24.11",
	"NIXFLEET_TOKEN_CACHE=/var/lib/nixfleet-agent/token",
	"NIXFLEET_NET_USER=_nfa.net-1",
	"NIXFLEET_USER=alice", "NIXFLEET_REPORT_VERSION=3.1.5",
	"NIXFLEET_REPORT_VERSION=",
	"ADMIN_KEYS_SOURCE_URL=https://keys.example:8443/mirror/",
	"ADMIN_KEYS_SOURCE_URL=https://[::1]:8443",
	"ADMIN_KEYS_CA_FILE=/etc/ssl/mirror.pem",
};

/* The key source: GitHub unless configured, in both dialects. */
START_TEST(test_config_key_source)
{
	const char	*env[ENV_MAX] = { NIX_BASE };
	struct run	 r;

	ck_assert_int_eq(load(&r, env), 0);
	ck_assert_str_eq(r.cfg.keys_url, "https://github.com");
	ck_assert_str_eq(r.cfg.keys_ca_file, "");
	ck_assert_int_eq(config_source_of(&r.cfg, "admin.keysSourceUrl"),
	    SRC_DEFAULT);
	done(&r);
	env_put(env, "ADMIN_KEYS_SOURCE_URL=https://localhost:4443/k");
	env_put(env, "ADMIN_KEYS_CA_FILE=/tmp/ca.pem");
	ck_assert_int_eq(load(&r, env), 0);
	ck_assert_str_eq(r.cfg.keys_url, "https://localhost:4443/k");
	ck_assert_str_eq(r.cfg.keys_ca_file, "/tmp/ca.pem");
	ck_assert_int_eq(config_source_of(&r.cfg, "admin.keysCaFile"),
	    SRC_ENV);
	done(&r);
}
END_TEST

START_TEST(test_config_validation_accepts)
{
	const char	*env[ENV_MAX] = { NIX_BASE };
	struct run	 r;

	env_put(env, accept_envs[_i]);

	ck_assert_int_eq(load(&r, env), 0);
	ck_assert_str_eq(r.out, "");
	done(&r);
}
END_TEST

/* Both job settings reach struct config; unset they are "". */
START_TEST(test_config_job_settings)
{
	const char	*env[ENV_MAX] = { NIX_BASE };
	struct run	 r;

	ck_assert_int_eq(load(&r, env), 0);
	ck_assert_str_eq(r.cfg.report_version, "");
	ck_assert_str_eq(r.cfg.repo_user, "");
	ck_assert_int_eq(config_source_of(&r.cfg, "NIXFLEET_USER"),
	    SRC_DEFAULT);
	done(&r);
	env_put(env, "NIXFLEET_REPORT_VERSION=3.1.5");
	env_put(env, "NIXFLEET_USER=alice");
	ck_assert_int_eq(load(&r, env), 0);
	ck_assert_str_eq(r.cfg.report_version, "3.1.5");
	ck_assert_str_eq(r.cfg.repo_user, "alice");
	ck_assert_int_eq(config_source_of(&r.cfg, "NIXFLEET_REPORT_VERSION"),
	    SRC_ENV);
	done(&r);
}
END_TEST

START_TEST(test_config_insecure_http_allowed)
{
	const char	*env[ENV_MAX] = { NIX_BASE,
	    "NIXFLEET_ALLOW_INSECURE_HTTP=true" };
	struct run	 r;

	env_put(env, "NIXFLEET_URL=ws://192.0.2.10/ws");

	ck_assert_int_eq(load(&r, env), 0);
	ck_assert_int_eq(r.cfg.allow_insecure_http, 1);
	done(&r);
}
END_TEST

START_TEST(test_config_file_problem_names_file)
{
	char		*p;
	struct config_args a;
	struct run	 r;
	const char	*env[] = { NIX_BASE, NULL };

	p = write_file("i.json", "{\"nixfleet\":{\"interval\":0}}", 0600);
	memset(&a, 0, sizeof(a));
	a.config_path = p;
	ck_assert_int_eq(load_args(&r, &a, env), 1);
	has(&r, "nixfleet.interval (file %s): must be an integer >= 1 "
	    "(got 0)\n", p);
	done(&r);
	free(p);
}
END_TEST

START_TEST(test_config_all_problems_at_once)
{
	const char	*env[] = { "NIXFLEET_URL=https://x/",
	    "NIXFLEET_INTERVAL=0",
	    "NIXFLEET_LOG_LEVEL=loud", "NIXFLEET_MAX_MESSAGE=1",
	    "NIXFLEET_INSECURE=maybe", "NIXFLEET_STATE_DIR=rel", NULL };
	struct run	 r;

	/* Six bad values, a missing token, no repository. */
	ck_assert_int_eq(load(&r, env), 8);
	has(&r, "NIXFLEET_URL (environment): scheme must be ws:// or wss://");
	has(&r, "NIXFLEET_INTERVAL (environment): must be an integer >= 1");
	has(&r, "NIXFLEET_LOG_LEVEL (environment): must be debug");
	has(&r, "NIXFLEET_MAX_MESSAGE (environment): must be an integer >= "
	    "1024");
	has(&r, "NIXFLEET_INSECURE (environment): must be a boolean");
	has(&r, "NIXFLEET_STATE_DIR (environment): must be an absolute path");
	has(&r, "NIXFLEET_TOKEN (not set): required");
	has(&r, "NIXFLEET_REPO_DIR (not set): no repository");
	done(&r);
}
END_TEST

START_TEST(test_config_lenient_log_level)
{
	const char	*env[] = { NIX_BASE, "LOG_LEVEL=loud", NULL };
	const char	*env2[] = { NIX_BASE, "LOG_LEVEL=WARNING", NULL };
	char		*argv[] = { "nixfleet-agent", "--log-level", "Warn",
	    NULL };
	struct config_args a;
	struct run	 r;

	ck_assert_int_eq(load(&r, env), 0);
	ck_assert_int_eq(r.cfg.log_level, LOG_LVL_INFO);
	has(&r, "config: LOG_LEVEL (environment): unknown log level "
	    "\"loud\", using info\n");
	done(&r);
	ck_assert_int_eq(load(&r, env2), 0);
	ck_assert_int_eq(r.cfg.log_level, LOG_LVL_WARN);
	done(&r);
	/* The flag is strict. */
	ck_assert_int_eq(config_parse_args(&a, 3, argv, stderr), 0);
	ck_assert_int_eq(load_args(&r, &a, env2), 1);
	has(&r, "--log-level (flag): must be debug, info, warn or error (got "
	    "\"Warn\")\n");
	done(&r);
}
END_TEST

/* --- tokens and secret files -------------------------------------------- */

static char *
secret(const char *data, int mode, const char *name, int allow,
    const char **why)
{
	char	*p = write_file("secret", data, mode);
	char	*s;

	*why = NULL;
	s = config_read_secret(p, name, allow, why);
	free(p);
	return s;
}

struct secret_case {
	const char	*data;
	const char	*name;
	const char	*want;		/* NULL: refused */
	const char	*why;
};

static const struct secret_case secret_cases[] = {
	{ "tok\n", "NIXFLEET_TOKEN", "tok", NULL },
	{ "tok", "NIXFLEET_TOKEN", "tok", NULL },
	{ "  tok  \r\n", "NIXFLEET_TOKEN", "tok", NULL },
	{ "# comment\n\n   \ntok\n# more\n", "NIXFLEET_TOKEN", "tok", NULL },
	{ "NIXFLEET_TOKEN=tok\n", "NIXFLEET_TOKEN", "tok", NULL },
	{ "NIXFLEET_TOKEN=\"tok en\"\n", "NIXFLEET_TOKEN", "tok en", NULL },
	{ "NIXFLEET_TOKEN='tok'\n", "NIXFLEET_TOKEN", "tok", NULL },
	{ "  NIXFLEET_TOKEN=  tok  \n", "NIXFLEET_TOKEN", "tok", NULL },
	{ "OTHER=1\nNIXFLEET_TOKEN=tok\nbare line\n", "NIXFLEET_TOKEN", "tok",
	    NULL },
	{ "NIXFLEET_TOKEN=a\nNIXFLEET_TOKEN=b\n", "NIXFLEET_TOKEN", "b", NULL },
	{ "AUTH_TOKEN=k3y\n", "AUTH_TOKEN", "k3y", NULL },
	{ "NIXFLEET_TOKEN=tok\n", "AUTH_TOKEN", "NIXFLEET_TOKEN=tok", NULL },
	{ "NIXFLEET_TOKENX=tok\n", "NIXFLEET_TOKEN", "NIXFLEET_TOKENX=tok",
	    NULL },
	{ "NIXFLEET_TOKEN=\"\"\n", "NIXFLEET_TOKEN", NULL, "empty token" },
	{ "NIXFLEET_TOKEN=\"tok\n", "NIXFLEET_TOKEN", "\"tok", NULL },
	{ "", "NIXFLEET_TOKEN", NULL, "holds no token" },
	{ "\n  \n# only a comment\n", "NIXFLEET_TOKEN", NULL,
	    "holds no token" },
	{ "one\ntwo\n", "NIXFLEET_TOKEN", NULL, "more than one line" },
	{ "NIXFLEET_TOKEN=\n", "NIXFLEET_TOKEN", NULL, "empty token" },
	{ "NIXFLEET_TOKEN=''\n", "NIXFLEET_TOKEN", NULL, "empty token" },
	{ "to\x01k\n", "NIXFLEET_TOKEN", NULL, "control characters" },
	{ "NIXFLEET_TOKEN=\"a\tb\"\n", "NIXFLEET_TOKEN", NULL,
	    "control characters" },
};

START_TEST(test_config_secret_forms)
{
	const struct secret_case *sc = &secret_cases[_i];
	const char	*why;
	char		*s;

	s = secret(sc->data, 0600, sc->name, 0, &why);
	if (sc->want != NULL) {
		ck_assert_msg(s != NULL, "case %d: %s", _i, why);
		ck_assert_str_eq(s, sc->want);
		free(s);
	} else {
		ck_assert_ptr_null(s);
		ck_assert_int_eq(errno, EINVAL);
		ck_assert_msg(strstr(why, sc->why) != NULL, "case %d: %s", _i,
		    why);
	}
}
END_TEST

START_TEST(test_config_secret_file_errors)
{
	const char	*why;
	char		*s, *p, *l;
	int		 fd;

	s = config_read_secret("/nonexistent/secret", "NIXFLEET_TOKEN", 0,
	    &why);
	ck_assert_ptr_null(s);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_str_eq(why, "cannot be opened");

	s = config_read_secret(tdir, "NIXFLEET_TOKEN", 0, &why);
	ck_assert_ptr_null(s);
	ck_assert_str_eq(why, "is not a regular file");

	/* A NUL byte would silently cut the token. */
	p = tl_path(tdir, "nul");
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, "ab\0cd\n", 6), 6);
	close(fd);
	ck_assert_ptr_null(config_read_secret(p, "NIXFLEET_TOKEN", 0, &why));
	ck_assert_str_eq(why, "holds a NUL byte");
	free(p);

	/* Symlinks are followed (agenix links secrets from /run). */
	p = write_file("real", "tok\n", 0600);
	l = tl_path(tdir, "link");
	ck_assert_int_eq(symlink(p, l), 0);
	s = config_read_secret(l, "NIXFLEET_TOKEN", 0, &why);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s, "tok");
	free(s);
	free(p);
	free(l);

	/* A huge file is refused rather than read. */
	p = tl_path(tdir, "huge");
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(ftruncate(fd, 65537), 0);
	close(fd);
	ck_assert_ptr_null(config_read_secret(p, "NIXFLEET_TOKEN", 0, &why));
	ck_assert_str_eq(why, "is too large");
	free(p);
}
END_TEST

START_TEST(test_config_secret_permissions)
{
	static const int modes[] = { 0640, 0604, 0620, 0602, 0610, 0601, 0644 };
	const char	*why;
	char		*s;
	size_t		 k;

	for (k = 0; k < sizeof(modes) / sizeof(modes[0]); k++) {
		s = secret("tok\n", modes[k], "NIXFLEET_TOKEN", 0, &why);
		ck_assert_msg(s == NULL, "mode %o accepted", modes[k]);
		ck_assert_ptr_nonnull(strstr(why, "group or others"));
		s = secret("tok\n", modes[k], "NIXFLEET_TOKEN", 1, &why);
		ck_assert_ptr_nonnull(s);
		ck_assert_str_eq(s, "tok");
		free(s);
	}
	s = secret("tok\n", 0400, "NIXFLEET_TOKEN", 0, &why);
	ck_assert_ptr_nonnull(s);
	free(s);
}
END_TEST

START_TEST(test_config_token_file_load)
{
	char		*p, ef[300];
	struct run	 r;
	const char	*env[] = { URL, "NIXFLEET_REPO_URL=x", STATE, ef,
	    NULL };
	const char	*env_open[] = { URL, "NIXFLEET_REPO_URL=x", STATE, ef,
	    "NIXFLEET_ALLOW_INSECURE_TOKEN_FILE=1", NULL };
	const char	*env_same[] = { URL, "NIXFLEET_REPO_URL=x", STATE, ef,
	    "NIXFLEET_TOKEN=" TOKEN, NULL };
	const char	*env_diff[] = { URL, "NIXFLEET_REPO_URL=x", STATE, ef,
	    "NIXFLEET_TOKEN=other-" TOKEN, NULL };
	char		*out;

	p = write_file("token", "NIXFLEET_TOKEN=\"" TOKEN "\"\n", 0600);
	snprintf(ef, sizeof(ef), "NIXFLEET_TOKEN_FILE=%s", p);
	ck_assert_int_eq(load(&r, env), 0);
	ck_assert_str_eq(r.cfg.token, TOKEN);
	ck_assert_str_eq(r.cfg.token_file, p);
	ck_assert_int_eq(config_source_of(&r.cfg, "NIXFLEET_TOKEN"),
	    SRC_DERIVED);
	out = print_cfg(&r.cfg);
	ck_assert_ptr_nonnull(strstr(out, "NIXFLEET_TOKEN = (redacted)  "
	    "(derived from NIXFLEET_TOKEN_FILE)\n"));
	ck_assert_ptr_null(strstr(out, TOKEN));
	free(out);
	done(&r);

	/* Both given and equal: fine.  Different: a problem. */
	ck_assert_int_eq(load(&r, env_same), 0);
	done(&r);
	ck_assert_int_eq(load(&r, env_diff), 1);
	has(&r, "NIXFLEET_TOKEN (environment): both NIXFLEET_TOKEN and "
	    "NIXFLEET_TOKEN_FILE are set and differ; set only one\n");
	ck_assert_ptr_null(strstr(r.out, TOKEN));
	done(&r);

	/* 0640: refused, or accepted with a warning when allowed. */
	ck_assert_int_eq(chmod(p, 0640), 0);
	ck_assert_int_eq(load(&r, env), 1);
	has(&r, "NIXFLEET_TOKEN_FILE (environment): %s is accessible by "
	    "group or others", p);
	ck_assert_ptr_null(strstr(r.out, TOKEN));
	done(&r);
	ck_assert_int_eq(load(&r, env_open), 0);
	ck_assert_str_eq(r.cfg.token, TOKEN);
	has(&r, "config: NIXFLEET_TOKEN_FILE (environment): %s is accessible "
	    "by group or others\n", p);
	done(&r);
	free(p);
}
END_TEST

START_TEST(test_config_token_never_printed)
{
	char		*p, *out;
	struct config_args a;
	struct run	 r;
	const char	*env[] = { SIO_BASE, "COMMAND_TOKEN=cmd-" TOKEN,
	    "REQUIRE_COMMAND_TOKEN=1", NULL };
	const char	*env_nix[] = { NIX_BASE, NULL };
	const char	*env_bad[ENV_MAX] = { NIX_BASE };

	ck_assert_int_eq(load(&r, env), 0);
	out = print_cfg(&r.cfg);
	ck_assert_ptr_null(strstr(out, TOKEN));
	ck_assert_ptr_nonnull(strstr(out, "authToken = (redacted)  "
	    "(environment AUTH_TOKEN)\n"));
	ck_assert_ptr_nonnull(strstr(out, "admin.commandToken = (redacted)  "
	    "(environment COMMAND_TOKEN)\n"));
	free(out);
	done(&r);

	ck_assert_int_eq(load(&r, env_nix), 0);
	out = print_cfg(&r.cfg);
	ck_assert_ptr_null(strstr(out, TOKEN));
	ck_assert_ptr_nonnull(strstr(out, "NIXFLEET_TOKEN = (redacted)  "
	    "(environment)\n"));
	free(out);
	done(&r);

	env_put(env_bad, "NIXFLEET_TOKEN=" TOKEN "\x7f");
	ck_assert_int_eq(load(&r, env_bad), 1);
	ck_assert_ptr_null(strstr(r.out, TOKEN));
	has(&r, "got a value with control characters");
	done(&r);

	/* Nor from the file, when it is of the wrong type. */
	p = write_file("s.json", "{\"nixfleet\":{\"token\":\"" TOKEN "\\u0007"
	    "\"}}", 0600);
	memset(&a, 0, sizeof(a));
	a.config_path = p;
	a.protocol = "nixfleet";
	ck_assert_int_eq(load_args(&r, &a, (const char *[]){ URL,
	    "NIXFLEET_REPO_URL=x", STATE, NULL }), 1);
	ck_assert_ptr_null(strstr(r.out, TOKEN));
	has(&r, "nixfleet.token (file %s): must not contain control "
	    "characters (got a value with control characters)\n", p);
	done(&r);
	free(p);
}
END_TEST

START_TEST(test_config_secret_in_open_file_warns)
{
	char		*p;
	struct config_args a;
	struct run	 r;
	const char	*env[] = { URL, "NIXFLEET_REPO_URL=x", STATE, NULL };

	p = write_file("s.json", "{\"nixfleet\":{\"token\":\"" TOKEN "\"}}",
	    0644);
	memset(&a, 0, sizeof(a));
	a.config_path = p;
	ck_assert_int_eq(load_args(&r, &a, env), 0);
	has(&r, "config: %s holds a secret and is accessible by group or "
	    "others\n", p);
	ck_assert_ptr_null(strstr(r.out, TOKEN));
	done(&r);
	free(p);
}
END_TEST

/* --- repository modes (nixfleet-protocol.md §4.2) ---------------------- */

struct repo_case {
	const char	*url, *dir, *nixcfg;
	int		 isolated;
	const char	*want;
	int		 src;
};

static const struct repo_case repo_cases[] = {
	{ "git@x:f.git", NULL, NULL, 1, REPO_DEFAULT, REPO_DEFAULT_SRC },
	{ "git@x:f.git", "/r", NULL, 1, "/r", SRC_ENV },
	{ "git@x:f.git", NULL, "/n", 1, "/n", SRC_ENV },
	{ "git@x:f.git", "/r", "/n", 1, "/r", SRC_ENV },
	{ NULL, "/r", NULL, 0, "/r", SRC_ENV },
	{ NULL, NULL, "/n", 0, "/n", SRC_ENV },
	{ NULL, "/r", "/n", 0, "/n", SRC_ENV },
};

START_TEST(test_config_repo_modes)
{
	const struct repo_case *rc = &repo_cases[_i];
	char		 u[64], d[64], n[64];
	const char	*env[8] = { URL, "NIXFLEET_TOKEN=" TOKEN, STATE };
	int		 k = 3;
	struct run	 r;

	if (rc->url != NULL) {
		snprintf(u, sizeof(u), "NIXFLEET_REPO_URL=%s", rc->url);
		env[k++] = u;
	}
	if (rc->dir != NULL) {
		snprintf(d, sizeof(d), "NIXFLEET_REPO_DIR=%s", rc->dir);
		env[k++] = d;
	}
	if (rc->nixcfg != NULL) {
		snprintf(n, sizeof(n), "NIXFLEET_NIXCFG=%s", rc->nixcfg);
		env[k++] = n;
	}
	ck_assert_int_eq(load(&r, env), 0);
	ck_assert_int_eq(r.cfg.isolated, rc->isolated);
	ck_assert_str_eq(r.cfg.repo_dir, rc->want);
	ck_assert_int_eq(config_source_of(&r.cfg, "NIXFLEET_REPO_DIR"),
	    rc->src);
	done(&r);
}
END_TEST

START_TEST(test_config_repo_missing)
{
	const char	*env[] = { URL, "NIXFLEET_TOKEN=" TOKEN, STATE, NULL };
	struct run	 r;

	ck_assert_int_eq(load(&r, env), 1);
	has(&r, "NIXFLEET_REPO_DIR (not set): no repository: set "
	    "NIXFLEET_REPO_URL (isolated mode), or NIXFLEET_REPO_DIR or "
	    "NIXFLEET_NIXCFG (legacy mode)\n");
	done(&r);
}
END_TEST

START_TEST(test_config_repo_default_dir)
{
	char	*p;

	p = config_default_repo_dir(0, "/home/alice");
	ck_assert_str_eq(p, "/var/lib/nixfleet-agent/repo");
	free(p);
	p = config_default_repo_dir(1, "/Users/alice");
	ck_assert_str_eq(p, "/Users/alice/.local/state/nixfleet-agent/repo");
	free(p);
	p = config_default_repo_dir(1, "/");
	ck_assert_str_eq(p, "/.local/state/nixfleet-agent/repo");
	free(p);
	ck_assert_ptr_null(config_default_repo_dir(1, NULL));
	ck_assert_ptr_null(config_default_repo_dir(1, "relative"));
}
END_TEST

START_TEST(test_config_repo_origin)
{
	const char	*env[] = { URL, "NIXFLEET_TOKEN=" TOKEN, STATE,
	    "NIXFLEET_NIXCFG=/n", NULL };
	const char	*env2[] = { URL, "NIXFLEET_TOKEN=" TOKEN, STATE,
	    "NIXFLEET_REPO_URL=x", NULL };
	char		 buf[256];
	struct run	 r;

	ck_assert_int_eq(load(&r, env), 0);
	ck_assert_str_eq(config_origin(&r.cfg, "NIXFLEET_REPO_DIR", buf,
	    sizeof(buf)), "NIXFLEET_NIXCFG (environment)");
	done(&r);
	ck_assert_int_eq(load(&r, env2), 0);
#ifndef __APPLE__
	ck_assert_str_eq(config_origin(&r.cfg, "NIXFLEET_REPO_DIR", buf,
	    sizeof(buf)), "NIXFLEET_REPO_DIR (default)");
#endif
	done(&r);
}
END_TEST

START_TEST(test_config_repo_url_checked)
{
	static char	 u[2100];
	const char	*env[] = { URL, "NIXFLEET_TOKEN=" TOKEN, STATE, u,
	    NULL };
	struct run	 r;
	int		 n;

	n = snprintf(u, sizeof(u), "NIXFLEET_REPO_URL=https://h/");
	memset(u + n, 'a', sizeof(u) - n - 1);
	ck_assert_int_eq(load(&r, env), 1);
	has(&r, "NIXFLEET_REPO_URL (environment): must be shorter than 2048 "
	    "bytes\n");
	done(&r);
	u[2047 - 1] = '\0';	/* 2047 - 18 bytes of URL */
	ck_assert_int_eq(load(&r, env), 0);
	done(&r);
	/* git would read it as an option. */
	snprintf(u, sizeof(u), "NIXFLEET_REPO_URL=-uupload-pack=touch /x");
	ck_assert_int_eq(load(&r, env), 1);
	has(&r, "NIXFLEET_REPO_URL (environment): must not start with '-'\n");
	done(&r);
}
END_TEST

START_TEST(test_config_repo_print)
{
	const char	*env[] = { URL, "NIXFLEET_TOKEN=" TOKEN, STATE,
	    "NIXFLEET_REPO_DIR=/r", "NIXFLEET_NIXCFG=/n", NULL };
	struct run	 r;
	char		*out;

	ck_assert_int_eq(load(&r, env), 0);
	out = print_cfg(&r.cfg);
	ck_assert_ptr_nonnull(strstr(out, "NIXFLEET_REPO_DIR = /n  "
	    "(environment NIXFLEET_NIXCFG)\n"));
	ck_assert_ptr_nonnull(strstr(out, "repo mode = legacy  (derived from "
	    "NIXFLEET_REPO_URL)\n"));
	free(out);
	done(&r);
}
END_TEST

/* --- pins -------------------------------------------------------------- */

/* sha256 of nothing, the usual test pin */
#define PIN_HEX	"e3b0c44298fc1c149afbf4c8996fb924" \
		"27ae41e4649b934ca495991b7852b855"
#define PIN_B64	"sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

START_TEST(test_config_pins)
{
	static const uint8_t want[32] = {
		0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb,
		0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4,
		0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52,
		0xb8, 0x55,
	};
	const char	*env[] = { NIX_BASE, "NIXFLEET_PINNED_PUBKEY= " PIN_B64
	    " ,, " PIN_HEX ",", NULL };
	const char	*env_upper[] = { NIX_BASE, "NIXFLEET_PINNED_PUBKEY="
	    "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
	    NULL };
	char		*p, *out;
	struct config_args a;
	struct run	 r;

	ck_assert_int_eq(load(&r, env), 0);
	ck_assert_int_eq(r.cfg.npins, 2);
	ck_assert_mem_eq(r.cfg.pins[0], want, 32);
	ck_assert_mem_eq(r.cfg.pins[1], want, 32);
	out = print_cfg(&r.cfg);
	ck_assert_ptr_nonnull(strstr(out, "transport.pinnedPubkeys = [\""
	    PIN_B64 "\",\"" PIN_B64 "\"]  (environment NIXFLEET_PINNED_PUBKEY)"
	    "\n"));
	free(out);
	done(&r);

	ck_assert_int_eq(load(&r, env_upper), 0);
	ck_assert_mem_eq(r.cfg.pins[0], want, 32);
	done(&r);

	p = write_file("p.json", "{\"transport\":{\"pinnedPubkeys\":[\""
	    PIN_HEX "\"]}}", 0600);
	memset(&a, 0, sizeof(a));
	a.config_path = p;
	ck_assert_int_eq(load_args(&r, &a, (const char *[]){ NIX_BASE, NULL }),
	    0);
	ck_assert_int_eq(r.cfg.npins, 1);
	ck_assert_mem_eq(r.cfg.pins[0], want, 32);
	done(&r);
	free(p);
}
END_TEST

static const struct bad_env bad_pins[] = {
	{ "NIXFLEET_PINNED_PUBKEY=" PIN_HEX "," PIN_HEX "," PIN_HEX ","
	    PIN_HEX "," PIN_HEX, "NIXFLEET_PINNED_PUBKEY (environment): at "
	    "most 4 pins (got 5)" },
	/* 31 bytes */
	{ "NIXFLEET_PINNED_PUBKEY=sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZ"
	    "G3hSuA==", "pin 1 must be" },
	/* 33 bytes */
	{ "NIXFLEET_PINNED_PUBKEY=sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZ"
	    "G3hSuFUA", "pin 1 must be" },
	{ "NIXFLEET_PINNED_PUBKEY=sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJ "
	    "ZG3hSuFU=", "pin 1 must be" },
	{ "NIXFLEET_PINNED_PUBKEY=" PIN_HEX ",sha1//abcd", "pin 2 must be" },
	{ "NIXFLEET_PINNED_PUBKEY=" PIN_HEX "00", "pin 1 must be" },
	{ "NIXFLEET_PINNED_PUBKEY=g3b0c44298fc1c149afbf4c8996fb924"
	    "27ae41e4649b934ca495991b7852b855", "pin 1 must be" },
	{ "NIXFLEET_PINNED_PUBKEY=SHA256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZ"
	    "G3hSuFU=", "pin 1 must be" },
};

START_TEST(test_config_pins_bad)
{
	const char	*env[ENV_MAX] = { NIX_BASE };
	struct run	 r;

	env_put(env, bad_pins[_i].var);

	ck_assert_int_eq(load(&r, env), 1);
	has(&r, "%s", bad_pins[_i].msg);
	ck_assert_int_eq(r.cfg.npins, 0);
	done(&r);
}
END_TEST

/* --- socketio ---------------------------------------------------------- */

START_TEST(test_config_socketio_defaults)
{
	const char	*env[] = { SIO_BASE, NULL };
	struct run	 r;
	char		*out;

	ck_assert_int_eq(load(&r, env), 0);
	ck_assert_str_eq(r.out, "");
	ck_assert_int_eq(r.cfg.dialect, DIALECT_SOCKETIO);
	ck_assert_str_eq(r.cfg.client_id, "host-01");
	ck_assert_str_eq(r.cfg.server_url, "https://control.example:8443/");
	ck_assert_str_eq(r.cfg.auth_token, TOKEN);
	ck_assert_int_eq(r.cfg.stats_interval, 60);
	ck_assert_int_eq(r.cfg.heartbeat_interval, 20);
	ck_assert_int_eq(r.cfg.pong_timeout, 90);
	ck_assert_int_eq(r.cfg.enable_shell, 0);
	ck_assert_int_eq(r.cfg.allowed_commands.n, 0);
	ck_assert_int_eq(r.cfg.allowed_cwds.n, 0);
	ck_assert_int_eq(r.cfg.max_concurrent, 1);
	ck_assert_int_eq(r.cfg.default_timeout, 30);
	ck_assert_int_eq(r.cfg.require_token, 0);
	ck_assert_ptr_null(r.cfg.command_token);
	ck_assert_int_eq(r.cfg.rate_limit_max, 0);
	ck_assert_int_eq(r.cfg.rate_limit_window, 60);
	ck_assert_int_eq(r.cfg.backup_source_roots.n, 0);
	ck_assert_str_eq(r.cfg.transport_path, "/socket.io");
	ck_assert_str_eq(r.cfg.shell_command, "/bin/bash");
	ck_assert_int_eq(r.cfg.shell_args.n, 1);
	ck_assert_str_eq(r.cfg.shell_args.v[0], "-l");
	ck_assert_uint_eq(r.cfg.max_message, 16 * 1024 * 1024);
	ck_assert_uint_eq(r.cfg.handshake_ms, 20000);
	ck_assert_ptr_null(r.cfg.log_file);
	/* nixfleet settings stay untouched in this dialect. */
	ck_assert_ptr_null(r.cfg.url);
	ck_assert_ptr_null(r.cfg.branch);
	out = print_cfg(&r.cfg);
	ck_assert_ptr_nonnull(strstr(out, "protocol = socketio  (derived from "
	    "serverUrl)\n"));
	ck_assert_ptr_nonnull(strstr(out, "clientId = host-01  (environment "
	    "CLIENT_ID)\n"));
	ck_assert_ptr_nonnull(strstr(out, "shell.args = [\"-l\"]  "
	    "(default)\n"));
	ck_assert_ptr_nonnull(strstr(out, "admin.allowedCommands = []  "
	    "(default)\n"));
	ck_assert_ptr_nonnull(strstr(out, "transport.maxMessageBytes = "
	    "16777216  (default)\n"));
	ck_assert_ptr_null(strstr(out, "NIXFLEET_URL"));
	free(out);
	done(&r);
}
END_TEST

START_TEST(test_config_socketio_env_parsing)
{
	const char	*env[] = { SIO_BASE, "ENABLE_SHELL=T",
	    "REQUIRE_COMMAND_TOKEN=FALSE", "STATS_INTERVAL_SEC=15",
	    "HEARTBEAT_INTERVAL_SEC=0", "PONG_TIMEOUT_SEC=-7",
	    "ADMIN_ALLOWED_COMMANDS= uptime, crontab -l ,, crontab - ,",
	    "ADMIN_ALLOWED_CWDS=/srv", "ADMIN_MAX_CONCURRENT=3",
	    "ADMIN_DEFAULT_TIMEOUT_SEC=-1", "BACKUP_SOURCE_ROOTS=,,",
	    "BACKUP_DEST_ROOTS=/mnt/a,/mnt/b", "TRANSPORT_PATH=socket.io/",
	    "AGENT_SKIP_TLS_VERIFY=1", "LOG_FILE=/data/agent.log", NULL };
	struct run	 r;

	ck_assert_int_eq(load(&r, env), 0);
	ck_assert_int_eq(r.cfg.enable_shell, 1);
	ck_assert_int_eq(r.cfg.require_token, 0);
	ck_assert_int_eq(r.cfg.stats_interval, 15);
	ck_assert_int_eq(r.cfg.heartbeat_interval, 20);
	ck_assert_int_eq(config_source_of(&r.cfg, "HEARTBEAT_INTERVAL_SEC"),
	    SRC_DEFAULT);
	ck_assert_int_eq(r.cfg.pong_timeout, 90);
	ck_assert_int_eq(r.cfg.allowed_commands.n, 3);
	ck_assert_str_eq(r.cfg.allowed_commands.v[0], "uptime");
	ck_assert_str_eq(r.cfg.allowed_commands.v[1], "crontab -l");
	ck_assert_str_eq(r.cfg.allowed_commands.v[2], "crontab -");
	ck_assert_int_eq(r.cfg.allowed_cwds.n, 1);
	ck_assert_int_eq(r.cfg.max_concurrent, 3);
	ck_assert_int_eq(r.cfg.default_timeout, 30);
	ck_assert_int_eq(r.cfg.backup_source_roots.n, 0);
	ck_assert_int_eq(config_source_of(&r.cfg, "BACKUP_SOURCE_ROOTS"),
	    SRC_ENV);
	ck_assert_int_eq(r.cfg.backup_dest_roots.n, 2);
	ck_assert_str_eq(r.cfg.transport_path, "socket.io/");
	ck_assert_int_eq(r.cfg.skip_verify, 1);
	ck_assert_str_eq(r.cfg.log_file, "/data/agent.log");
	done(&r);
}
END_TEST

static const struct bad_env sio_bads[] = {
	{ "STATS_INTERVAL_SEC=86401", "STATS_INTERVAL_SEC (environment): must "
	    "be an integer <= 86400 (got \"86401\")" },
	{ "CLIENT_ID=host 01", "CLIENT_ID (environment): must match "
	    "^[A-Za-z0-9._:-]{1,128}$ (got \"host 01\")" },
	{ "CLIENT_ID=h\xc3\xa9", "CLIENT_ID (environment): must match "
	    "^[A-Za-z0-9._:-]{1,128}$ (got \"h\\xc3\\xa9\")" },
	{ "SERVER_URL=ftp://control.example/", "SERVER_URL (environment): "
	    "scheme must be ws://, wss://, http:// or https:// (got "
	    "\"ftp://control.example/\")" },
	{ "SERVER_URL=https://", "SERVER_URL (environment): host is empty "
	    "(got \"https://\")" },
	{ "SERVER_URL=http://192.0.2.5:3000", "SERVER_URL (environment): "
	    "http:// to 192.0.2.5 is not encrypted; use https:// or set "
	    "NIXFLEET_ALLOW_INSECURE_HTTP=1 (transport.allowInsecureHttp)" },
	{ "TRANSPORT_PATH=/socket.io?x", "TRANSPORT_PATH (environment): must "
	    "be a URL path (got \"/socket.io?x\")" },
	{ "ADMIN_ALLOWED_COMMANDS=ls,rm\x01", "ADMIN_ALLOWED_COMMANDS "
	    "(environment): item 2 must not contain control characters (got "
	    "\"rm\\x01\")" },
	{ "AUTH_TOKEN_FILE=/nonexistent/k", "AUTH_TOKEN_FILE (environment): "
	    "/nonexistent/k cannot be opened: No such file or directory" },
};

START_TEST(test_config_socketio_validation)
{
	const char	*env[ENV_MAX] = { SIO_BASE };
	struct run	 r;

	env_put(env, sio_bads[_i].var);

	ck_assert_int_eq(load(&r, env), 1);
	has(&r, "%s\n", sio_bads[_i].msg);
	ck_assert_ptr_null(strstr(r.out, TOKEN));
	done(&r);
}
END_TEST

START_TEST(test_config_socketio_client_id_length)
{
	char		 id[200];
	const char	*env[ENV_MAX] = { SIO_BASE };
	struct run	 r;

	strcpy(id, "CLIENT_ID=");
	memset(id + 10, 'a', 128);
	id[138] = '\0';
	env_put(env, id);
	ck_assert_int_eq(load(&r, env), 0);
	ck_assert_uint_eq(strlen(r.cfg.client_id), 128);
	done(&r);
	strcat(id, "a");
	ck_assert_int_eq(load(&r, env), 1);
	has(&r, "CLIENT_ID (environment): must match");
	done(&r);
}
END_TEST

/* The compute-agent's variables: unparsable values warn and are ignored. */
START_TEST(test_config_socketio_env_lenient)
{
	const char	*env[ENV_MAX] = { SIO_BASE };
	struct run	 r;

	env_put(env, "STATS_INTERVAL_SEC=ten");
	env_put(env, "ENABLE_SHELL=on");
	env_put(env, "ADMIN_MAX_CONCURRENT=1.5");
	ck_assert_int_eq(load(&r, env), 0);
	has(&r, "STATS_INTERVAL_SEC (environment): not an integer (got "
	    "\"ten\"), ignored\n");
	has(&r, "ENABLE_SHELL (environment): not a boolean: 1, t, true, 0, f "
	    "or false (got \"on\"), ignored\n");
	has(&r, "ADMIN_MAX_CONCURRENT (environment): not an integer (got "
	    "\"1.5\"), ignored\n");
	ck_assert_int_eq(r.cfg.enable_shell, 0);
	ck_assert_int_eq(r.cfg.stats_interval, 60);
	done(&r);
	/* AGENT_SKIP_TLS_VERIFY=yes does not turn verification off. */
	env_put(env, "AGENT_SKIP_TLS_VERIFY=yes");
	ck_assert_int_eq(load(&r, env), 0);
	ck_assert_int_eq(r.cfg.skip_verify, 0);
	done(&r);
	/* Our own names stay strict. */
	env_put(env, "NIXFLEET_INSECURE=maybe");
	ck_assert_int_eq(load(&r, env), 1);
	done(&r);
}
END_TEST

/* A list that would not reach the exec-worker whole is an error. */
START_TEST(test_config_socketio_list_limits)
{
	static char	 v[2048 + 512 * 4];
	const char	*env[ENV_MAX] = { SIO_BASE };
	struct run	 r;
	size_t		 n;
	int		 i;

	n = (size_t)snprintf(v, sizeof(v), "BACKUP_SOURCE_ROOTS=/srv,/");
	memset(v + n, 'a', 1022);
	v[n + 1022] = '\0';
	env_put(env, v);
	ck_assert_int_eq(load(&r, env), 0);
	done(&r);
	strcat(v, "a");
	env_put(env, v);
	ck_assert_int_eq(load(&r, env), 1);
	has(&r, "BACKUP_SOURCE_ROOTS (environment): item 2 is longer than "
	    "1023 bytes (got 1024)\n");
	done(&r);

	n = (size_t)snprintf(v, sizeof(v), "ADMIN_ALLOWED_COMMANDS=");
	for (i = 0; i < 257; i++)
		n += (size_t)snprintf(v + n, sizeof(v) - n, "%sc", i ? "," : "");
	env_put(env, v);
	ck_assert_int_eq(load(&r, env), 1);
	has(&r, "ADMIN_ALLOWED_COMMANDS (environment): at most 256 items "
	    "(got 257)\n");
	done(&r);
}
END_TEST

START_TEST(test_config_socketio_required)
{
	const char	*env[] = { "SERVER_URL=wss://c.example", STATE, NULL };
	struct run	 r;

	ck_assert_int_eq(load(&r, env), 2);
	has(&r, "clientId (not set): required; set clientId or CLIENT_ID\n");
	has(&r, "authToken (not set): required; set authToken, AUTH_TOKEN, "
	    "authTokenFile or AUTH_TOKEN_FILE\n");
	done(&r);
}
END_TEST

START_TEST(test_config_socketio_file)
{
	char		*p, *k, *out, json[1024];
	struct run	 r;
	const char	*env[] = { "CLIENT_ID=from-env", NULL };

	k = write_file("key", "AUTH_TOKEN='" TOKEN "'\n", 0600);
	snprintf(json, sizeof(json), "{\"clientId\":\"host-01\","
	    "\"serverUrl\":\"https://control.example:8443/\","
	    "\"authTokenFile\":\"%s\",\"statsIntervalSec\":0,"
	    "\"heartbeatIntervalSec\":25,\"admin\":{\"enableShell\":"
	    "true,\"allowedCommands\":[\"uptime\",\"crontab -l\"],"
	    "\"maxConcurrent\":2,\"rateLimitMax\":5,"
	    "\"rateLimitWindowSec\":-1,\"requireToken\":true,"
	    "\"commandToken\":\"c-" TOKEN "\"},\"backup\":"
	    "{\"allowedSourceRoots\":[\"/home\"]},\"shell\":"
	    "{\"command\":\"/bin/zsh\"},\"transport\":{\"path\":"
	    "\"/sio\",\"skipTlsVerify\":false},\"logging\":"
	    "{\"level\":\"warning\"}}", k);
	p = write_file("agent-config.json", json, 0600);
	ck_assert_int_eq(load(&r, env), 0);
	ck_assert_str_eq(r.out, "");
	ck_assert_int_eq(r.cfg.dialect, DIALECT_SOCKETIO);
	ck_assert_str_eq(r.cfg.client_id, "from-env");
	ck_assert_str_eq(r.cfg.auth_token, TOKEN);
	ck_assert_int_eq(r.cfg.stats_interval, 60);
	ck_assert_int_eq(r.cfg.heartbeat_interval, 25);
	ck_assert_int_eq(r.cfg.enable_shell, 1);
	ck_assert_int_eq(r.cfg.allowed_commands.n, 2);
	ck_assert_int_eq(r.cfg.max_concurrent, 2);
	ck_assert_int_eq(r.cfg.rate_limit_max, 5);
	ck_assert_int_eq(r.cfg.rate_limit_window, 60);
	ck_assert_int_eq(r.cfg.require_token, 1);
	ck_assert_str_eq(r.cfg.command_token, "c-" TOKEN);
	ck_assert_int_eq(r.cfg.backup_source_roots.n, 1);
	ck_assert_str_eq(r.cfg.shell_command, "/bin/zsh");
	/* A command without args gets no default args. */
	ck_assert_int_eq(r.cfg.shell_args.n, 0);
	ck_assert_str_eq(r.cfg.transport_path, "/sio");
	ck_assert_int_eq(r.cfg.log_level, LOG_LVL_WARN);
	/* agent.log next to the file read */
	ck_assert_str_eq(r.cfg.log_file, "./agent.log");
	ck_assert_int_eq(config_source_of(&r.cfg, "logging.file"),
	    SRC_DERIVED);
	out = print_cfg(&r.cfg);
	ck_assert_ptr_null(strstr(out, TOKEN));
	ck_assert_ptr_nonnull(strstr(out, "admin.allowedCommands = "
	    "[\"uptime\",\"crontab -l\"]  (file ./agent-config.json)\n"));
	ck_assert_ptr_nonnull(strstr(out, "config file = ./agent-config.json  "
	    "(default)\n"));
	free(out);
	done(&r);
	free(p);
	free(k);
}
END_TEST

START_TEST(test_config_socketio_log_file_default)
{
	char		*p, e[300];
	const char	*env[] = { e, NULL };
	struct run	 r;

	p = write_file("c.json", "{\"clientId\":\"c\",\"serverUrl\":"
	    "\"wss://c.example\",\"authToken\":\"k\"}", 0600);
	snprintf(e, sizeof(e), "CLIENT_CONFIG_PATH=%s", p);
	ck_assert_int_eq(load(&r, env), 0);
	ck_assert_ptr_nonnull(r.cfg.log_file);
	ck_assert_int_eq(strncmp(r.cfg.log_file, tdir, strlen(tdir)), 0);
	ck_assert_str_eq(r.cfg.log_file + strlen(tdir), "/agent.log");
	done(&r);
	free(p);
}
END_TEST

START_TEST(test_config_socketio_require_token_warns)
{
	const char	*env[] = { SIO_BASE, "REQUIRE_COMMAND_TOKEN=true",
	    NULL };
	struct run	 r;

	ck_assert_int_eq(load(&r, env), 0);
	has(&r, "config: admin.requireToken is set but admin.commandToken is "
	    "empty");
	done(&r);
}
END_TEST

/* --- printing ----------------------------------------------------------- */

START_TEST(test_config_print_format)
{
	char		*p, *out;
	struct config_args a;
	struct run	 r;
	char		 want[512];
	const char	*env[] = { NIX_BASE, NULL };

	p = write_file("f.json", "{\"nixfleet\":{\"interval\":12}}", 0600);
	memset(&a, 0, sizeof(a));
	a.config_path = p;
	a.insecure = 1;
	ck_assert_int_eq(load_args(&r, &a, env), 0);
	out = print_cfg(&r.cfg);
	snprintf(want, sizeof(want), "config file = %s  (flag --config)\n", p);
	ck_assert_ptr_nonnull(strstr(out, want));
	ck_assert_ptr_nonnull(strstr(out, "protocol = nixfleet  (derived from "
	    "NIXFLEET_URL)\n"));
	ck_assert_ptr_nonnull(strstr(out, "NIXFLEET_URL = "
	    "wss://fleet.example/ws  (environment)\n"));
	snprintf(want, sizeof(want), "NIXFLEET_INTERVAL = 12  (file %s)\n", p);
	ck_assert_ptr_nonnull(strstr(out, want));
	ck_assert_ptr_nonnull(strstr(out, "NIXFLEET_BRANCH = main  "
	    "(default)\n"));
	ck_assert_ptr_nonnull(strstr(out, "NIXFLEET_THEME_COLOR = \"\"  "
	    "(default)\n"));
	ck_assert_ptr_nonnull(strstr(out, "NIXFLEET_SSH_KEY = (none)  "
	    "(default)\n"));
	ck_assert_ptr_nonnull(strstr(out, "NIXFLEET_REPO_DIR = "
	    "/var/lib/nixfleet-agent/repo  (default)\n"));
	ck_assert_ptr_nonnull(strstr(out, "repo mode = isolated  (derived "
	    "from NIXFLEET_REPO_URL)\n"));
	ck_assert_ptr_nonnull(strstr(out, "transport.skipTlsVerify = true  "
	    "(flag --insecure)\n"));
	ck_assert_ptr_nonnull(strstr(out, "transport.pinnedPubkeys = []  "
	    "(default)\n"));
	ck_assert_ptr_nonnull(strstr(out, "stateDir = /var/lib/nfa-test  "
	    "(environment STATE_DIRECTORY)\n"));
	ck_assert_ptr_nonnull(strstr(out, "logging.level = info  "
	    "(default)\n"));
	ck_assert_ptr_nonnull(strstr(out, "logging.file = (none)  "
	    "(default)\n"));
	ck_assert_ptr_null(strstr(out, TOKEN));
	ck_assert_ptr_null(strstr(out, "clientId"));
	free(out);
	done(&r);
	free(p);
}
END_TEST

/* --- command line ------------------------------------------------------- */

static int
parse(struct config_args *a, char **out, const char *first, ...)
{
	char		*argv[16];
	const char	*s;
	size_t		 len;
	va_list		 ap;
	FILE		*f;
	int		 argc = 0, rv;

	argv[argc++] = "nixfleet-agent";
	va_start(ap, first);
	for (s = first; s != NULL; s = va_arg(ap, const char *))
		argv[argc++] = (char *)s;
	va_end(ap);
	argv[argc] = NULL;
	*out = NULL;
	f = open_memstream(out, &len);
	ck_assert_ptr_nonnull(f);
	rv = config_parse_args(a, argc, argv, f);
	fclose(f);
	return rv;
}

START_TEST(test_config_args)
{
	struct config_args a;
	char		*out;

	ck_assert_int_eq(parse(&a, &out, (char *)NULL), 0);
	ck_assert_int_eq(a.action, ACTION_RUN);
	ck_assert_ptr_null(a.config_path);
	free(out);
	ck_assert_int_eq(parse(&a, &out, "--config", "/c.json", "--check",
	    "--insecure", "--log-level=debug", "--protocol", "socketio",
	    (char *)NULL), 0);
	ck_assert_str_eq(a.config_path, "/c.json");
	ck_assert_int_eq(a.action, ACTION_CHECK);
	ck_assert_int_eq(a.insecure, 1);
	ck_assert_str_eq(a.log_level, "debug");
	ck_assert_str_eq(a.protocol, "socketio");
	ck_assert_str_eq(out, "");
	free(out);
	ck_assert_int_eq(parse(&a, &out, "--config=/d.json", "--print-config",
	    (char *)NULL), 0);
	ck_assert_str_eq(a.config_path, "/d.json");
	ck_assert_int_eq(a.action, ACTION_PRINT);
	free(out);
	ck_assert_int_eq(parse(&a, &out, "-v", (char *)NULL), 0);
	ck_assert_int_eq(a.action, ACTION_VERSION);
	free(out);
	ck_assert_int_eq(parse(&a, &out, "--version", "-v", (char *)NULL), 0);
	ck_assert_int_eq(a.action, ACTION_VERSION);
	free(out);
	ck_assert_int_eq(parse(&a, &out, "-h", (char *)NULL), 0);
	ck_assert_int_eq(a.action, ACTION_HELP);
	free(out);
	ck_assert_int_eq(parse(&a, &out, "--help", (char *)NULL), 0);
	ck_assert_int_eq(a.action, ACTION_HELP);
	free(out);
}
END_TEST

static const char *const bad_args[][4] = {
	{ "--frobnicate", NULL, NULL, "unknown option \"--frobnicate\"" },
	{ "-x", NULL, NULL, "unknown option \"-x\"" },
	{ "run", NULL, NULL, "unexpected argument \"run\"" },
	{ "--config", NULL, NULL, "--config needs a value" },
	{ "--config=", NULL, NULL, "--config needs a value" },
	{ "--log-level", NULL, NULL, "--log-level needs a value" },
	{ "--protocol", "", NULL, "--protocol needs a value" },
	{ "--configx", NULL, NULL, "unknown option \"--configx\"" },
	{ "--check", "--print-config", NULL, "only one of" },
	{ "-h", "-v", NULL, "only one of" },
	{ "--insecure=1", NULL, NULL, "unknown option" },
};

START_TEST(test_config_args_bad)
{
	struct config_args a;
	char		*out;

	ck_assert_int_eq(parse(&a, &out, bad_args[_i][0], bad_args[_i][1],
	    bad_args[_i][2], (char *)NULL), -1);
	ck_assert_msg(strstr(out, bad_args[_i][3]) != NULL, "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "usage: nixfleet-agent"));
	free(out);
}
END_TEST

START_TEST(test_config_usage)
{
	static const char *const names[] = { "NIXFLEET_URL", "NIXFLEET_TOKEN",
	    "NIXFLEET_TOKEN_FILE", "NIXFLEET_INTERVAL", "NIXFLEET_LOG_LEVEL",
	    "NIXFLEET_NIXCFG", "NIXFLEET_TOKEN_CACHE", "CLIENT_CONFIG_PATH",
	    "SERVER_URL", "AUTH_TOKEN_FILE", "ADMIN_ALLOWED_COMMANDS",
	    "AGENT_SKIP_TLS_VERIFY", "NIXFLEET_INSECURE", "LOG_FILE",
	    "NIXFLEET_PINNED_PUBKEY", "STATE_DIRECTORY", "--print-config",
	    "--check", "--insecure", "78 configuration error" };
	char		*out = NULL;
	size_t		 len, k;
	FILE		*f = open_memstream(&out, &len);

	config_usage(f);
	fclose(f);
	for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
		ck_assert_msg(strstr(out, names[k]) != NULL, "%s", names[k]);
	free(out);
}
END_TEST

START_TEST(test_config_source_names)
{
	struct config	 cfg;
	const char	*env[] = { NIX_BASE, NULL };
	FILE		*f = fopen("/dev/null", "w");

	ck_assert_str_eq(config_source_name(SRC_DEFAULT), "default");
	ck_assert_str_eq(config_source_name(SRC_FILE), "file");
	ck_assert_str_eq(config_source_name(SRC_ENV), "environment");
	ck_assert_str_eq(config_source_name(SRC_FLAG), "flag");
	ck_assert_str_eq(config_source_name(SRC_DERIVED), "derived");
	ck_assert_int_eq(config_load(&cfg, &(struct config_args){ 0 },
	    (char *const *)env, f), 0);
	fclose(f);
	ck_assert_int_eq(config_source_of(&cfg, "NIXFLEET_URL"), SRC_ENV);
	ck_assert_int_eq(config_source_of(&cfg, "nixfleet.url"), SRC_ENV);
	ck_assert_int_eq(config_source_of(&cfg, "no-such-setting"), -1);
	ck_assert_int_eq(config_source_of(&cfg, NULL), -1);
	config_free(&cfg);
	/* Freed twice is harmless: the struct is cleared. */
	config_free(&cfg);
	ck_assert_ptr_null(cfg.srcs);
	ck_assert_int_eq(config_source_of(&cfg, "NIXFLEET_URL"), -1);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite	*s = suite_create("config");
	TCase	*tc;

#define TC(name, ...) do {						\
	tc = tcase_create(name);					\
	tcase_add_checked_fixture(tc, setup, teardown);			\
	__VA_ARGS__;							\
	suite_add_tcase(s, tc);						\
} while (0)
#define LOOP(t, arr)	tcase_add_loop_test(tc, t, 0,			\
	(int)(sizeof(arr) / sizeof((arr)[0])))

	TC("sources", tcase_add_test(tc, test_config_defaults);
	    tcase_add_test(tc, test_config_state_directory_first_entry);
	    tcase_add_test(tc, test_config_file_alone);
	    tcase_add_test(tc, test_config_flags_alone));
	TC("precedence", tcase_add_test(tc, test_config_precedence);
	    tcase_add_test(tc, test_config_precedence_aliases));
	TC("file", tcase_add_test(tc, test_config_file_path_order);
	    tcase_add_test(tc, test_config_file_missing);
	    tcase_add_test(tc, test_config_file_invalid_json);
	    tcase_add_test(tc, test_config_file_wrong_types));
	TC("unknown_keys", tcase_add_test(tc, test_config_unknown_keys_warn));
	TC("dialect", tcase_add_test(tc, test_config_dialect_selection);
	    tcase_add_test(tc, test_config_dialect_scopes));
	TC("validation", LOOP(test_config_validation, bad_envs);
	    LOOP(test_config_validation_accepts, accept_envs);
	    tcase_add_test(tc, test_config_insecure_http_allowed);
	    tcase_add_test(tc, test_config_job_settings);
	    tcase_add_test(tc, test_config_key_source);
	    tcase_add_test(tc, test_config_file_problem_names_file);
	    tcase_add_test(tc, test_config_lenient_log_level));
	TC("all_problems", tcase_add_test(tc,
	    test_config_all_problems_at_once));
	TC("secret_file", LOOP(test_config_secret_forms, secret_cases);
	    tcase_add_test(tc, test_config_secret_file_errors));
	TC("secret_permissions", tcase_add_test(tc,
	    test_config_secret_permissions);
	    tcase_add_test(tc, test_config_secret_in_open_file_warns));
	TC("token", tcase_add_test(tc, test_config_token_file_load));
	TC("redaction", tcase_add_test(tc, test_config_token_never_printed));
	TC("repo", LOOP(test_config_repo_modes, repo_cases);
	    tcase_add_test(tc, test_config_repo_missing);
	    tcase_add_test(tc, test_config_repo_default_dir);
	    tcase_add_test(tc, test_config_repo_origin);
	    tcase_add_test(tc, test_config_repo_url_checked);
	    tcase_add_test(tc, test_config_repo_print));
	TC("pins", tcase_add_test(tc, test_config_pins);
	    LOOP(test_config_pins_bad, bad_pins));
	TC("socketio", tcase_add_test(tc, test_config_socketio_defaults);
	    tcase_add_test(tc, test_config_socketio_env_parsing);
	    LOOP(test_config_socketio_validation, sio_bads);
	    tcase_add_test(tc, test_config_socketio_client_id_length);
	    tcase_add_test(tc, test_config_socketio_list_limits);
	    tcase_add_test(tc, test_config_socketio_env_lenient);
	    tcase_add_test(tc, test_config_socketio_required);
	    tcase_add_test(tc, test_config_socketio_file);
	    tcase_add_test(tc, test_config_socketio_log_file_default);
	    tcase_add_test(tc, test_config_socketio_require_token_warns));
	TC("print", tcase_add_test(tc, test_config_print_format));
	TC("args", tcase_add_test(tc, test_config_args);
	    LOOP(test_config_args_bad, bad_args);
	    tcase_add_test(tc, test_config_usage);
	    tcase_add_test(tc, test_config_source_names));
#undef TC
#undef LOOP
	return s;
}

int
main(void)
{
	return tl_run(config_suite());
}
