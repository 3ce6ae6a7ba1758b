/*
 * check_nixfleet.c: the nixfleet dialect codec.  Encoded messages are
 * parsed back with jansson and compared with the tables of spec §2.1 and
 * §2.3 (keys, order, JSON types, presence rules); the decoder is fed the
 * frames a dashboard sends and the ones a hostile peer could.
 */
#include <check.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "dialect_nixfleet.h"
#include "testlib.h"

static Suite	*nixfleet_suite(void);

static const char *const register_keys[] = {
	"hostname", "host_type", "agent_version", "os_version",
	"nixpkgs_version", "generation", "theme_color", "heartbeat_interval",
	"location", "device_type", "repo_url", "repo_dir", "source_commit",
	"store_path", "binary_hash",
};

static const char *const heartbeat_keys[] = {
	"generation", "nixpkgs_version", "pending_command", "command_pid",
	"metrics", "update_status", "source_commit", "store_path",
	"binary_hash", "lock_hash",
};

static void
set_facts(struct ipc_facts *f)
{
	memset(f, 0, sizeof(*f));
	strlcpy(f->hostname, "web01", sizeof(f->hostname));
	strlcpy(f->host_type, "nixos", sizeof(f->host_type));
	strlcpy(f->os_version, "24.11", sizeof(f->os_version));
	strlcpy(f->nixpkgs_version, "24.11.20241201.abc1234",
	    sizeof(f->nixpkgs_version));
	strlcpy(f->generation, "c9e6e0d", sizeof(f->generation));
	strlcpy(f->repo_dir, "/var/lib/nixfleet-agent/repo",
	    sizeof(f->repo_dir));
	strlcpy(f->store_path, "/nix/store/x-nixfleet-agent/bin/nixfleet-agent",
	    sizeof(f->store_path));
	strlcpy(f->binary_hash, "5031d2ff98", sizeof(f->binary_hash));
	strlcpy(f->source_commit, "2c4ef43", sizeof(f->source_commit));
	strlcpy(f->lock_hash, "ca3d16", sizeof(f->lock_hash));
}

static void
set_cfg(struct ipc_net_config *c)
{
	memset(c, 0, sizeof(*c));
	c->interval_s = 5;
	strlcpy(c->repo_url, "git@github.com:example/nixcfg.git",
	    sizeof(c->repo_url));
	strlcpy(c->location, "home", sizeof(c->location));
	strlcpy(c->device_type, "server", sizeof(c->device_type));
}

/* Parse an encoded message, check its envelope, return the payload. */
static json_t *
payload_of(char *text, const char *type)
{
	json_error_t	 jerr;
	json_t		*root, *p;
	void		*it;

	ck_assert_ptr_nonnull(text);
	root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	ck_assert_msg(root != NULL, "%s: %s", text, jerr.text);
	free(text);
	ck_assert_int_eq(json_object_size(root), 2);
	it = json_object_iter(root);
	ck_assert_str_eq(json_object_iter_key(it), "type");
	ck_assert_str_eq(json_string_value(json_object_iter_value(it)), type);
	it = json_object_iter_next(root, it);
	ck_assert_str_eq(json_object_iter_key(it), "payload");
	p = json_object_iter_value(it);
	ck_assert(json_is_object(p));
	json_incref(p);
	json_decref(root);
	return p;
}

/* The object's keys are exactly keys[0..n), in that order. */
static void
assert_keys(json_t *o, const char *const *keys, size_t n)
{
	void	*it;
	size_t	 i = 0;

	for (it = json_object_iter(o); it != NULL;
	    it = json_object_iter_next(o, it), i++) {
		ck_assert_msg(i < n, "extra key %s", json_object_iter_key(it));
		ck_assert_str_eq(json_object_iter_key(it), keys[i]);
	}
	ck_assert_uint_eq(i, n);
}

static const char *
str_of(json_t *o, const char *key)
{
	json_t	*v = json_object_get(o, key);

	ck_assert_msg(json_is_string(v), "%s is not a string", key);
	return json_string_value(v);
}

static void
decode(const char *text, struct nixfleet_in *in)
{
	nixfleet_decode(text, strlen(text), in);
}

static void
assert_invalid(const char *text, const char *why)
{
	struct nixfleet_in	 in;

	decode(text, &in);
	ck_assert_msg(in.type == NF_IN_INVALID, "accepted: %s", text);
	ck_assert_msg(strstr(in.error, why) != NULL, "%s: error \"%s\"",
	    text, in.error);
}

/* A command no job has: decoded, kind JOB_NONE, why in error. */
static void
assert_odd(const char *text, const char *why, const char *name)
{
	struct nixfleet_in	 in;

	decode(text, &in);
	ck_assert_msg(in.type == NF_IN_COMMAND, "not a command: %s", text);
	ck_assert_int_eq(in.kind, JOB_NONE);
	ck_assert_msg(strstr(in.error, why) != NULL, "%s: error \"%s\"",
	    text, in.error);
	if (name != NULL)
		ck_assert_str_eq(in.command, name);
	ck_assert_uint_le(strlen(in.command), 63);
}

/* ---------------------------------------------------------------- */

START_TEST(test_nixfleet_register_fields)
{
	struct ipc_facts	 f;
	struct ipc_net_config	 c;
	json_t			*p;
	size_t			 i;

	set_facts(&f);
	set_cfg(&c);
	p = payload_of(nixfleet_register(&f, &c), "register");
	assert_keys(p, register_keys, nitems(register_keys));
	for (i = 0; i < nitems(register_keys); i++)
		if (strcmp(register_keys[i], "heartbeat_interval") != 0)
			(void)str_of(p, register_keys[i]);
	ck_assert(json_is_integer(json_object_get(p, "heartbeat_interval")));
	ck_assert_int_eq(json_integer_value(json_object_get(p,
	    "heartbeat_interval")), 5);
	ck_assert_str_eq(str_of(p, "hostname"), "web01");
	ck_assert_str_eq(str_of(p, "agent_version"), AGENT_VERSION);
	ck_assert_str_eq(str_of(p, "generation"), "c9e6e0d");
	ck_assert_str_eq(str_of(p, "theme_color"), "");
	ck_assert_str_eq(str_of(p, "device_type"), "server");
	ck_assert_str_eq(str_of(p, "repo_url"),
	    "git@github.com:example/nixcfg.git");
	ck_assert_str_eq(str_of(p, "binary_hash"), "5031d2ff98");
	json_decref(p);
}
END_TEST

/* Byte for byte as upstream's encoder writes it (§1.3). */
START_TEST(test_nixfleet_register_exact)
{
	struct ipc_facts	 f;
	struct ipc_net_config	 c;
	char			*s;

	set_facts(&f);
	set_cfg(&c);
	s = nixfleet_register(&f, &c);
	ck_assert_str_eq(s, "{\"type\":\"register\",\"payload\":{"
	    "\"hostname\":\"web01\",\"host_type\":\"nixos\","
	    "\"agent_version\":\"" AGENT_VERSION "\","
	    "\"os_version\":\"24.11\","
	    "\"nixpkgs_version\":\"24.11.20241201.abc1234\","
	    "\"generation\":\"c9e6e0d\",\"theme_color\":\"\","
	    "\"heartbeat_interval\":5,\"location\":\"home\","
	    "\"device_type\":\"server\","
	    "\"repo_url\":\"git@github.com:example/nixcfg.git\","
	    "\"repo_dir\":\"/var/lib/nixfleet-agent/repo\","
	    "\"source_commit\":\"2c4ef43\","
	    "\"store_path\":\"/nix/store/x-nixfleet-agent/bin/nixfleet-agent\","
	    "\"binary_hash\":\"5031d2ff98\"}}");
	free(s);
}
END_TEST

START_TEST(test_nixfleet_register_omitempty)
{
	static const char *const always[] = {
		"hostname", "host_type", "agent_version", "os_version",
		"nixpkgs_version", "generation", "theme_color",
		"heartbeat_interval", "location", "device_type", "repo_url",
		"repo_dir",
	};
	struct ipc_facts	 f;
	struct ipc_net_config	 c;
	json_t			*p;

	memset(&f, 0, sizeof(f));
	memset(&c, 0, sizeof(c));
	p = payload_of(nixfleet_register(&f, &c), "register");
	/* "always" keys stay even when "" or 0; the last three go. */
	assert_keys(p, always, nitems(always));
	ck_assert_str_eq(str_of(p, "hostname"), "");
	ck_assert_str_eq(str_of(p, "repo_dir"), "");
	ck_assert_int_eq(json_integer_value(json_object_get(p,
	    "heartbeat_interval")), 0);
	json_decref(p);

	/* Each omitempty key on its own. */
	strlcpy(f.store_path, "/x", sizeof(f.store_path));
	p = payload_of(nixfleet_register(&f, &c), "register");
	ck_assert_uint_eq(json_object_size(p), nitems(always) + 1);
	ck_assert_str_eq(str_of(p, "store_path"), "/x");
	ck_assert_ptr_null(json_object_get(p, "source_commit"));
	ck_assert_ptr_null(json_object_get(p, "binary_hash"));
	json_decref(p);
}
END_TEST

/* A field that lost its NUL is cut at its array's end, not read past. */
START_TEST(test_nixfleet_register_unterminated)
{
	struct ipc_facts	 f;
	struct ipc_net_config	 c;
	json_t			*p;

	set_facts(&f);
	set_cfg(&c);
	memset(f.hostname, 'a', sizeof(f.hostname));
	memset(c.location, 'b', sizeof(c.location));
	p = payload_of(nixfleet_register(&f, &c), "register");
	ck_assert_uint_eq(strlen(str_of(p, "hostname")), sizeof(f.hostname));
	ck_assert_uint_eq(strlen(str_of(p, "location")), sizeof(c.location));
	ck_assert_str_eq(str_of(p, "host_type"), "nixos");
	json_decref(p);
}
END_TEST

START_TEST(test_nixfleet_register_utf8)
{
	struct ipc_facts	 f;
	struct ipc_net_config	 c;
	json_t			*p;

	set_facts(&f);
	set_cfg(&c);
	strlcpy(f.hostname, "web\xff" "01", sizeof(f.hostname));
	strlcpy(c.theme_color, "\xf0\x9f\x9a\x80", sizeof(c.theme_color));
	p = payload_of(nixfleet_register(&f, &c), "register");
	ck_assert_str_eq(str_of(p, "hostname"), "web\xef\xbf\xbd" "01");
	ck_assert_str_eq(str_of(p, "theme_color"), "\xf0\x9f\x9a\x80");
	json_decref(p);
}
END_TEST

START_TEST(test_nixfleet_heartbeat_idle)
{
	static const char *const sc_keys[] = {
		"status", "message", "checked_at",
	};
	static const char *const compartments[] = {
		"git", "lock", "system", "tests",
	};
	struct ipc_facts	 f;
	struct nixfleet_busy	 idle = { NULL, 0 };
	json_t			*p, *us, *sc;
	size_t			 i, j;

	set_facts(&f);
	/* lock_hash is filled, but without IPC_FACTF_LOCK it is not valid. */
	p = payload_of(nixfleet_heartbeat(&f, &idle), "heartbeat");
	assert_keys(p, heartbeat_keys, nitems(heartbeat_keys) - 1);
	ck_assert_str_eq(str_of(p, "generation"), "c9e6e0d");
	ck_assert_str_eq(str_of(p, "nixpkgs_version"),
	    "24.11.20241201.abc1234");
	ck_assert(json_is_null(json_object_get(p, "pending_command")));
	ck_assert(json_is_null(json_object_get(p, "command_pid")));
	ck_assert(json_is_null(json_object_get(p, "metrics")));
	ck_assert_str_eq(str_of(p, "source_commit"), "2c4ef43");
	us = json_object_get(p, "update_status");
	ck_assert(json_is_object(us));
	assert_keys(us, compartments, nitems(compartments));
	for (i = 0; i < nitems(compartments); i++) {
		sc = json_object_get(us, compartments[i]);
		ck_assert(json_is_object(sc));
		assert_keys(sc, sc_keys, nitems(sc_keys));
		for (j = 0; j < nitems(sc_keys); j++)
			ck_assert_str_eq(str_of(sc, sc_keys[j]), "");
	}
	json_decref(p);

	/* No busy state at all is idle too. */
	p = payload_of(nixfleet_heartbeat(&f, NULL), "heartbeat");
	ck_assert(json_is_null(json_object_get(p, "pending_command")));
	ck_assert(json_is_null(json_object_get(p, "command_pid")));
	json_decref(p);
}
END_TEST

START_TEST(test_nixfleet_heartbeat_busy)
{
	struct ipc_facts	 f;
	struct nixfleet_busy	 busy = { "test", 16286 };
	struct nixfleet_busy	 starting = { "switch", 0 };
	json_t			*p;

	set_facts(&f);
	f.flags = IPC_FACTF_LOCK;
	p = payload_of(nixfleet_heartbeat(&f, &busy), "heartbeat");
	assert_keys(p, heartbeat_keys, nitems(heartbeat_keys));
	ck_assert_str_eq(str_of(p, "pending_command"), "test");
	ck_assert(json_is_integer(json_object_get(p, "command_pid")));
	ck_assert_int_eq(json_integer_value(json_object_get(p,
	    "command_pid")), 16286);
	ck_assert_str_eq(str_of(p, "lock_hash"), "ca3d16");
	json_decref(p);

	/* Before the first child starts: a name but no pid. */
	p = payload_of(nixfleet_heartbeat(&f, &starting), "heartbeat");
	ck_assert_str_eq(str_of(p, "pending_command"), "switch");
	ck_assert(json_is_null(json_object_get(p, "command_pid")));
	json_decref(p);
}
END_TEST

START_TEST(test_nixfleet_heartbeat_omitempty)
{
	struct ipc_facts	 f;
	json_t			*p;

	memset(&f, 0, sizeof(f));
	/* The flag alone does not send an empty lock_hash. */
	f.flags = IPC_FACTF_LOCK;
	p = payload_of(nixfleet_heartbeat(&f, NULL), "heartbeat");
	assert_keys(p, heartbeat_keys, 6);
	ck_assert_str_eq(str_of(p, "generation"), "");
	json_decref(p);
}
END_TEST

START_TEST(test_nixfleet_heartbeat_metrics)
{
	static const char *const metric_keys[] = {
		"cpu", "ram", "swap", "load",
	};
	struct ipc_facts	 f;
	json_t			*p, *m;
	char			*s;

	set_facts(&f);
	f.flags = IPC_FACTF_METRICS;
	f.cpu_milli = 15500;
	f.ram_milli = 480;
	f.swap_milli = 0;
	f.load_milli = 2000;
	s = nixfleet_heartbeat(&f, NULL);
	ck_assert_ptr_nonnull(s);
	/* The text itself: shortest form, not 0.47999999999999998. */
	ck_assert_ptr_nonnull(strstr(s, "\"cpu\":15.5,"));
	ck_assert_ptr_nonnull(strstr(s, "\"ram\":0.48,"));
	p = payload_of(s, "heartbeat");
	m = json_object_get(p, "metrics");
	ck_assert(json_is_object(m));
	assert_keys(m, metric_keys, nitems(metric_keys));
	ck_assert(json_is_number(json_object_get(m, "swap")));
	ck_assert(json_is_number(json_object_get(m, "load")));
	ck_assert(json_number_value(json_object_get(m, "cpu")) == 15.5);
	ck_assert(json_number_value(json_object_get(m, "ram")) == 0.48);
	ck_assert(json_number_value(json_object_get(m, "swap")) == 0.0);
	ck_assert(json_number_value(json_object_get(m, "load")) == 2.0);
	json_decref(p);

	/* Extremes stay finite numbers. */
	f.cpu_milli = INT32_MAX;
	f.load_milli = INT32_MIN;
	p = payload_of(nixfleet_heartbeat(&f, NULL), "heartbeat");
	m = json_object_get(p, "metrics");
	ck_assert(json_number_value(json_object_get(m, "cpu")) ==
	    INT32_MAX / 1000.0);
	ck_assert(json_number_value(json_object_get(m, "load")) ==
	    INT32_MIN / 1000.0);
	json_decref(p);
}
END_TEST

START_TEST(test_nixfleet_heartbeat_update_status)
{
	struct ipc_facts	 f;
	struct nixfleet_sc	 lock = { "ok", "Updated today",
	    "2026-01-20T07:42:27Z" };
	struct nixfleet_sc	 tests = { "working", NULL, NULL };
	struct nixfleet_update	 u = { { NULL } };
	json_t			*p, *us, *sc;

	set_facts(&f);
	u.sc[NF_SC_LOCK] = &lock;
	u.sc[NF_SC_TESTS] = &tests;
	p = payload_of(nixfleet_heartbeat_update(&f, NULL, &u), "heartbeat");
	us = json_object_get(p, "update_status");
	sc = json_object_get(us, "lock");
	ck_assert_str_eq(str_of(sc, "status"), "ok");
	ck_assert_str_eq(str_of(sc, "message"), "Updated today");
	ck_assert_str_eq(str_of(sc, "checked_at"), "2026-01-20T07:42:27Z");
	sc = json_object_get(us, "tests");
	ck_assert_str_eq(str_of(sc, "status"), "working");
	ck_assert_str_eq(str_of(sc, "message"), "");
	ck_assert_str_eq(str_of(sc, "checked_at"), "");
	ck_assert_str_eq(str_of(json_object_get(us, "git"), "status"), "");
	ck_assert_str_eq(str_of(json_object_get(us, "system"), "message"),
	    "");
	json_decref(p);
}
END_TEST

START_TEST(test_nixfleet_utf8_sanitize)
{
	static const struct {
		const char	*in;
		size_t		 len;
		const char	*out;
	} cases[] = {
		{ "plain", 5, "plain" },
		{ "abc\xff", 4, "abc\xef\xbf\xbd" },
		/* Emoji and a variation selector pass through as raw UTF-8. */
		{ "\xe2\x9a\xa0\xef\xb8\x8f \xf0\x9f\x9a\x80", 11,
		    "\xe2\x9a\xa0\xef\xb8\x8f \xf0\x9f\x9a\x80" },
		/* Truncated sequence: one U+FFFD per byte, as Go. */
		{ "\xe2\x82" "A", 3, "\xef\xbf\xbd\xef\xbf\xbd" "A" },
		/* Overlong "/". */
		{ "\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd" },
		/* Surrogate U+D800. */
		{ "\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		/* U+110000, beyond Unicode. */
		{ "\xf4\x90\x80\x80", 4, "\xef\xbf\xbd\xef\xbf\xbd"
		    "\xef\xbf\xbd\xef\xbf\xbd" },
		/* The edges that are valid. */
		{ "\xf4\x8f\xbf\xbf\xed\x9f\xbf\xc2\x80", 9,
		    "\xf4\x8f\xbf\xbf\xed\x9f\xbf\xc2\x80" },
		{ "\x80x", 2, "\xef\xbf\xbdx" },
		{ "", 0, "" },
	};
	char	*s;
	size_t	 i, n;

	for (i = 0; i < nitems(cases); i++) {
		s = nixfleet_utf8_sanitize(cases[i].in, cases[i].len, &n);
		ck_assert_ptr_nonnull(s);
		ck_assert_str_eq(s, cases[i].out);
		ck_assert_uint_eq(n, strlen(cases[i].out));
		ck_assert_int_eq(nixfleet_utf8_valid(cases[i].in,
		    cases[i].len), strcmp(cases[i].in, cases[i].out) == 0);
		ck_assert(nixfleet_utf8_valid(s, n));
		free(s);
	}
	/* A NUL byte is valid UTF-8 and is kept; the length says so. */
	s = nixfleet_utf8_sanitize("a\0\xff", 3, &n);
	ck_assert_uint_eq(n, 5);
	ck_assert_mem_eq(s, "a\0\xef\xbf\xbd", 6);
	free(s);
}
END_TEST

START_TEST(test_nixfleet_heartbeat_utf8)
{
	struct ipc_facts	 f;
	struct nixfleet_busy	 busy = { "te\xfest", 7 };
	json_t			*p;

	set_facts(&f);
	p = payload_of(nixfleet_heartbeat(&f, &busy), "heartbeat");
	ck_assert_str_eq(str_of(p, "pending_command"), "te\xef\xbf\xbdst");
	json_decref(p);
}
END_TEST

START_TEST(test_nixfleet_decode_registered)
{
	struct nixfleet_in	 in;
	char			 big[1024], *o;
	size_t			 i;

	decode("{\"type\":\"registered\",\"payload\":{\"host_id\":\"web01\"}}",
	    &in);
	ck_assert_int_eq(in.type, NF_IN_REGISTERED);
	ck_assert_str_eq(in.type_name, "registered");
	ck_assert_str_eq(in.host_id, "web01");

	/* Missing payload or host_id, unknown fields: accepted. */
	decode("{\"type\":\"registered\"}", &in);
	ck_assert_int_eq(in.type, NF_IN_REGISTERED);
	ck_assert_str_eq(in.host_id, "");
	decode("{\"payload\":{\"x\":[1]},\"type\":\"registered\",\"y\":2}",
	    &in);
	ck_assert_int_eq(in.type, NF_IN_REGISTERED);
	ck_assert_str_eq(in.host_id, "");

	/* Safe to log: control characters become '?', UTF-8 stays. */
	decode("{\"type\":\"registered\",\"payload\":"
	    "{\"host_id\":\"a\\u001b[2Jb\\u0000c\\u0085d\\u00e9\"}}", &in);
	ck_assert_int_eq(in.type, NF_IN_REGISTERED);
	ck_assert_str_eq(in.host_id, "a?[2Jb?c?d\xc3\xa9");

	/* Too long: cut at a character boundary, still valid UTF-8. */
	o = big + snprintf(big, sizeof(big),
	    "{\"type\":\"registered\",\"payload\":{\"host_id\":\"");
	for (i = 0; i < 300; i++)
		o += snprintf(o, big + sizeof(big) - o, "\xc3\xa9");
	snprintf(o, big + sizeof(big) - o, "\"}}");
	decode(big, &in);
	ck_assert_int_eq(in.type, NF_IN_REGISTERED);
	ck_assert_uint_eq(strlen(in.host_id), 254);
	ck_assert(nixfleet_utf8_valid(in.host_id, strlen(in.host_id)));

	assert_invalid("{\"type\":\"registered\",\"payload\":{\"host_id\":7}}",
	    "host_id");
}
END_TEST

START_TEST(test_nixfleet_decode_command)
{
	struct nixfleet_in	 in;
	char			 buf[256];

	decode("{\"type\":\"command\",\"payload\":{\"command\":\"switch\"}}",
	    &in);
	ck_assert_int_eq(in.type, NF_IN_COMMAND);
	ck_assert_str_eq(in.command, "switch");
	/* v2 sends args; ignored. */
	decode("{\"type\":\"command\",\"payload\":{\"command\":\"pull\","
	    "\"args\":[\"--x\"]}}", &in);
	ck_assert_int_eq(in.type, NF_IN_COMMAND);
	ck_assert_str_eq(in.command, "pull");
	decode("{\"type\":\"command\",\"payload\":"
	    "{\"command\":\"update-agent\",\"args\":null}}", &in);
	ck_assert_int_eq(in.type, NF_IN_COMMAND);
	ck_assert_str_eq(in.command, "update-agent");

	/* 63 bytes fit, 64 do not. */
	snprintf(buf, sizeof(buf), "{\"type\":\"command\",\"payload\":"
	    "{\"command\":\"%063d\"}}", 0);
	decode(buf, &in);
	ck_assert_int_eq(in.type, NF_IN_COMMAND);
	ck_assert_uint_eq(strlen(in.command), 63);
	ck_assert_int_eq(in.kind, JOB_NONE);	/* no job's name */
	snprintf(buf, sizeof(buf), "{\"type\":\"command\",\"payload\":"
	    "{\"command\":\"%064d\"}}", 0);
	assert_odd(buf, "length 64", NULL);
}
END_TEST

START_TEST(test_nixfleet_decode_command_bad)
{
	assert_invalid("{\"type\":\"command\"}", "no command");
	assert_invalid("{\"type\":\"command\",\"payload\":{}}", "no command");
	assert_invalid("{\"type\":\"command\",\"payload\":{\"command\":null}}",
	    "not a string");
	assert_invalid("{\"type\":\"command\",\"payload\":"
	    "{\"command\":[\"pull\"]}}", "not a string");
	/* A string no job has: an unknown command, named printably (2.4). */
	assert_odd("{\"type\":\"command\",\"payload\":{\"command\":\"\"}}",
	    "length 0", "");
	assert_odd("{\"type\":\"command\",\"payload\":"
	    "{\"command\":\"pull\\nreboot\"}}", "non-printable byte at "
	    "offset 4", "pull?reboot");
	assert_odd("{\"type\":\"command\",\"payload\":"
	    "{\"command\":\"pull\\u0000\"}}", "offset 4", "pull?");
	assert_odd("{\"type\":\"command\",\"payload\":"
	    "{\"command\":\"\\u007f\"}}", "offset 0", "?");
	assert_odd("{\"type\":\"command\",\"payload\":"
	    "{\"command\":\"p\xc3\xbcll\"}}", "offset 1", "p??ll");
}
END_TEST

START_TEST(test_nixfleet_decode_kill_command)
{
	struct nixfleet_in	 in;

	decode("{\"type\":\"kill_command\",\"payload\":{\"signal\":\"SIGTERM\","
	    "\"pid\":0}}", &in);
	ck_assert_int_eq(in.type, NF_IN_KILL_COMMAND);
	ck_assert_str_eq(in.signal, "SIGTERM");
	ck_assert_int_eq(in.pid, 0);
	decode("{\"type\":\"kill_command\",\"payload\":{\"pid\":2147483647,"
	    "\"signal\":\"SIGKILL\"}}", &in);
	ck_assert_int_eq(in.type, NF_IN_KILL_COMMAND);
	ck_assert_str_eq(in.signal, "SIGKILL");
	ck_assert_int_eq(in.pid, INT32_MAX);
	decode("{\"type\":\"kill_command\",\"payload\":{\"signal\":"
	    "\"SIGRTMIN15ABCDE\",\"pid\":4242}}", &in);
	ck_assert_int_eq(in.type, NF_IN_KILL_COMMAND);
	ck_assert_str_eq(in.signal, "SIGRTMIN15ABCDE");
	ck_assert_int_eq(in.pid, 4242);

	assert_invalid("{\"type\":\"kill_command\",\"payload\":{\"signal\":"
	    "\"SIGRTMIN15ABCDEF\",\"pid\":1}}", "length 16");
	assert_invalid("{\"type\":\"kill_command\",\"payload\":{\"signal\":"
	    "\"\",\"pid\":1}}", "length 0");
	assert_invalid("{\"type\":\"kill_command\",\"payload\":{\"signal\":"
	    "\"sigterm\",\"pid\":1}}", "bad signal");
	assert_invalid("{\"type\":\"kill_command\",\"payload\":{\"signal\":"
	    "\"SIG-TERM\",\"pid\":1}}", "bad signal");
	assert_invalid("{\"type\":\"kill_command\",\"payload\":{\"signal\":"
	    "15,\"pid\":1}}", "signal");
	assert_invalid("{\"type\":\"kill_command\",\"payload\":{\"pid\":1}}",
	    "signal");
	assert_invalid("{\"type\":\"kill_command\"}", "signal");
	assert_invalid("{\"type\":\"kill_command\",\"payload\":{\"signal\":"
	    "\"SIGTERM\",\"pid\":-1}}", "out of range");
	assert_invalid("{\"type\":\"kill_command\",\"payload\":{\"signal\":"
	    "\"SIGTERM\",\"pid\":2147483648}}", "out of range");
	assert_invalid("{\"type\":\"kill_command\",\"payload\":{\"signal\":"
	    "\"SIGTERM\",\"pid\":\"12\"}}", "pid");
	assert_invalid("{\"type\":\"kill_command\",\"payload\":{\"signal\":"
	    "\"SIGTERM\",\"pid\":12.0}}", "pid");
	assert_invalid("{\"type\":\"kill_command\",\"payload\":{\"signal\":"
	    "\"SIGTERM\"}}", "pid");
}
END_TEST

START_TEST(test_nixfleet_decode_malformed)
{
	struct nixfleet_in	 in;
	const char		*p;

	decode("this is not valid json", &in);
	ck_assert_int_eq(in.type, NF_IN_INVALID);
	ck_assert_msg(strncmp(in.error, "invalid JSON: ", 14) == 0, "%s",
	    in.error);
	ck_assert_ptr_nonnull(strstr(in.error, "(line 1 col "));

	assert_invalid("", "invalid JSON: ");
	assert_invalid("{\"type\":\"registered\"", "invalid JSON: ");
	assert_invalid("{\"type\":\"registered\"} {}", "invalid JSON: ");
	assert_invalid("{\"type\":\"registered\",}", "invalid JSON: ");
	/* Invalid UTF-8 inside a string. */
	assert_invalid("{\"type\":\"regi\xff\"}", "invalid JSON: ");

	nixfleet_decode(NULL, 0, &in);
	ck_assert_int_eq(in.type, NF_IN_INVALID);

	/* The error quotes input; it must still be safe to log. */
	decode("\x1b[31m\x07\xc3\xa9", &in);
	ck_assert_int_eq(in.type, NF_IN_INVALID);
	for (p = in.error; *p != '\0'; p++)
		ck_assert(*p >= 0x20 && *p < 0x7f);
}
END_TEST

START_TEST(test_nixfleet_decode_not_object)
{
	assert_invalid("[{\"type\":\"registered\"}]", "not a JSON object");
	assert_invalid("\"registered\"", "not a JSON object");
	assert_invalid("42", "not a JSON object");
	assert_invalid("null", "not a JSON object");
}
END_TEST

START_TEST(test_nixfleet_decode_type)
{
	assert_invalid("{}", "no type");
	assert_invalid("{\"payload\":{\"command\":\"pull\"}}", "no type");
	assert_invalid("{\"type\":5,\"payload\":{}}", "type is not a string");
	assert_invalid("{\"type\":null}", "type is not a string");
	assert_invalid("{\"type\":[\"command\"]}", "type is not a string");
	/* Case matters. */
	{
		struct nixfleet_in	 in;

		decode("{\"type\":\"Registered\"}", &in);
		ck_assert_int_eq(in.type, NF_IN_UNKNOWN);
	}
}
END_TEST

START_TEST(test_nixfleet_decode_unknown)
{
	struct nixfleet_in	 in;
	char			 buf[512];

	decode("{\"type\":\"ping\"}", &in);
	ck_assert_int_eq(in.type, NF_IN_UNKNOWN);
	ck_assert_str_eq(in.type_name, "ping");
	decode("{\"type\":\"command_complete\",\"payload\":{\"x\":1}}", &in);
	ck_assert_int_eq(in.type, NF_IN_UNKNOWN);
	ck_assert_str_eq(in.type_name, "command_complete");

	/* A NUL does not make a known type out of an unknown one. */
	decode("{\"type\":\"registered\\u0000x\"}", &in);
	ck_assert_int_eq(in.type, NF_IN_UNKNOWN);
	ck_assert_str_eq(in.type_name, "registered?x");

	decode("{\"type\":\"a\\nb\\u001b\xc3\xa9\"}", &in);
	ck_assert_int_eq(in.type, NF_IN_UNKNOWN);
	ck_assert_str_eq(in.type_name, "a?b???");

	snprintf(buf, sizeof(buf), "{\"type\":\"%0200d\"}", 7);
	decode(buf, &in);
	ck_assert_int_eq(in.type, NF_IN_UNKNOWN);
	ck_assert_uint_eq(strlen(in.type_name), sizeof(in.type_name) - 1);
	ck_assert_int_eq(in.type_name[0], '0');
}
END_TEST

START_TEST(test_nixfleet_decode_payload)
{
	assert_invalid("{\"type\":\"command\",\"payload\":\"switch\"}",
	    "payload is not an object");
	assert_invalid("{\"type\":\"command\",\"payload\":[\"switch\"]}",
	    "payload is not an object");
	assert_invalid("{\"type\":\"registered\",\"payload\":null}",
	    "payload is not an object");
	assert_invalid("{\"type\":\"registered\",\"payload\":\"web01\"}",
	    "payload is not an object");
	assert_invalid("{\"type\":\"kill_command\",\"payload\":0}",
	    "payload is not an object");
	assert_invalid("{\"type\":\"ping\",\"payload\":1}",
	    "payload is not an object");
}
END_TEST

START_TEST(test_nixfleet_decode_duplicates)
{
	assert_invalid("{\"type\":\"command\",\"payload\":"
	    "{\"command\":\"pull\",\"command\":\"reboot\"}}", "duplicate");
	assert_invalid("{\"type\":\"ping\",\"type\":\"command\","
	    "\"payload\":{\"command\":\"reboot\"}}", "duplicate");
	assert_invalid("{\"type\":\"command\",\"payload\":"
	    "{\"command\":\"pull\"},\"payload\":{\"command\":\"reboot\"}}",
	    "duplicate");
}
END_TEST

START_TEST(test_nixfleet_decode_bounds)
{
	struct nixfleet_in	 in;
	char			*big;
	size_t			 n = NIXFLEET_IN_MAX + 1, i;

	/* Refused by size before any parsing. */
	big = malloc(n);
	ck_assert_ptr_nonnull(big);
	memset(big, ' ', n);
	memcpy(big, "{\"type\":\"ping\"}", 15);
	nixfleet_decode(big, n, &in);
	ck_assert_int_eq(in.type, NF_IN_INVALID);
	ck_assert_ptr_nonnull(strstr(in.error, "too large"));
	/* One byte less is parsed: trailing whitespace is fine. */
	nixfleet_decode(big, n - 1, &in);
	ck_assert_int_eq(in.type, NF_IN_UNKNOWN);

	/* Deep nesting ends in an error, not a stack overflow. */
	for (i = 0; i < 200000; i++)
		big[i] = '[';
	nixfleet_decode(big, 200000, &in);
	ck_assert_int_eq(in.type, NF_IN_INVALID);
	ck_assert_ptr_nonnull(strstr(in.error, "invalid JSON: "));
	free(big);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Jobs */

static void
assert_text(char *got, const char *want)
{
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, want);
	free(got);
}

START_TEST(test_nixfleet_decode_command_kinds)
{
	static const struct {
		const char	*name;
		int		 kind;
	} names[] = {
		{ "pull", JOB_PULL }, { "switch", JOB_SWITCH },
		{ "pull-switch", JOB_PULL_SWITCH }, { "test", JOB_TEST },
		{ "stop", JOB_STOP }, { "restart", JOB_RESTART },
		{ "reboot", JOB_REBOOT }, { "rollback", JOB_ROLLBACK },
		{ "update", JOB_UPDATE }, { "force-update", JOB_FORCE_UPDATE },
		{ "force-rebuild", JOB_FORCE_REBUILD },
		{ "bump-flake", JOB_BUMP_FLAKE },
		{ "check-version", JOB_CHECK_VERSION },
		{ "refresh-git", JOB_REFRESH_GIT },
		{ "refresh-lock", JOB_REFRESH_LOCK },
		{ "refresh-system", JOB_REFRESH_SYSTEM },
		{ "refresh-all", JOB_REFRESH_ALL }, { "kill", JOB_KILL },
		{ "update-agent", JOB_UPDATE_AGENT },
		/* Unknown names are commands of no kind: §6.2 decides. */
		{ "bogus", JOB_NONE }, { "PULL", JOB_NONE },
		{ "pull ", JOB_NONE }, { " pull", JOB_NONE },
		{ "pul", JOB_NONE }, { "merge-pr", JOB_NONE },
		{ "kill_command", JOB_NONE }, { "status", JOB_NONE },
	};
	struct nixfleet_in	 in;
	char			 buf[256];
	size_t			 i;

	for (i = 0; i < nitems(names); i++) {
		snprintf(buf, sizeof(buf), "{\"type\":\"command\",\"payload\":"
		    "{\"command\":\"%s\"}}", names[i].name);
		decode(buf, &in);
		ck_assert_int_eq(in.type, NF_IN_COMMAND);
		ck_assert_str_eq(in.command, names[i].name);
		ck_assert_int_eq(in.kind, names[i].kind);
		if (names[i].kind != JOB_NONE) {
			ck_assert_str_eq(nixfleet_kind_name(names[i].kind),
			    names[i].name);
			ck_assert_int_eq(nixfleet_kind_by_name(names[i].name,
			    strlen(names[i].name)), names[i].kind);
		}
	}
	ck_assert_ptr_null(nixfleet_kind_name(JOB_NONE));
	ck_assert_ptr_null(nixfleet_kind_name(JOB_KIND_MAX));
	ck_assert_ptr_null(nixfleet_kind_name(-3));
	/* Extra fields of any type are ignored; the name still counts. */
	decode("{\"payload\":{\"force\":true,\"args\":{\"a\":[1,2]},"
	    "\"command\":\"test\",\"signal\":\"SIGKILL\"},\"type\":\"command\","
	    "\"id\":7}", &in);
	ck_assert_int_eq(in.type, NF_IN_COMMAND);
	ck_assert_int_eq(in.kind, JOB_TEST);
	/* A name with a NUL after a known one is not that name. */
	assert_odd("{\"type\":\"command\",\"payload\":"
	    "{\"command\":\"pull\\u0000x\"}}", "offset 4", "pull?x");
}
END_TEST

START_TEST(test_nixfleet_decode_command_huge)
{
	struct nixfleet_in	 in;
	size_t			 n = 600 * 1024, off;
	char			*big = malloc(n + 128);

	ck_assert_ptr_nonnull(big);
	/* A huge command name: unknown, under its first 63 bytes. */
	off = (size_t)sprintf(big, "{\"type\":\"command\",\"payload\":"
	    "{\"command\":\"");
	memset(big + off, 'a', n);
	strcpy(big + off + n, "\"}}");
	decode(big, &in);
	ck_assert_int_eq(in.type, NF_IN_COMMAND);
	ck_assert_int_eq(in.kind, JOB_NONE);
	ck_assert_ptr_nonnull(strstr(in.error, "length 614400 not in"));
	ck_assert_uint_eq(strlen(in.command), 63);
	/* A huge extra field does not hide the command. */
	off = (size_t)sprintf(big, "{\"type\":\"command\",\"payload\":"
	    "{\"command\":\"switch\",\"junk\":\"");
	memset(big + off, 'b', n);
	strcpy(big + off + n, "\"}}");
	decode(big, &in);
	ck_assert_int_eq(in.type, NF_IN_COMMAND);
	ck_assert_int_eq(in.kind, JOB_SWITCH);
	free(big);
}
END_TEST

START_TEST(test_nixfleet_decode_kill_signals)
{
	struct nixfleet_in	 in;

	decode("{\"type\":\"kill_command\",\"payload\":{\"signal\":\"SIGTERM\","
	    "\"pid\":0}}", &in);
	ck_assert_int_eq(in.signo, JOB_SIG_TERM);
	decode("{\"type\":\"kill_command\",\"payload\":{\"signal\":\"SIGKILL\","
	    "\"pid\":12}}", &in);
	ck_assert_int_eq(in.signo, JOB_SIG_KILL);
	/* Decoded, but no signal we send: the job code ignores it. */
	decode("{\"type\":\"kill_command\",\"payload\":{\"signal\":\"SIGHUP\","
	    "\"pid\":0,\"extra\":[]}}", &in);
	ck_assert_int_eq(in.type, NF_IN_KILL_COMMAND);
	ck_assert_int_eq(in.signo, JOB_SIG_NONE);
	decode("{\"type\":\"kill_command\",\"payload\":{\"signal\":"
	    "\"SIGTERMX\","
	    "\"pid\":0}}", &in);
	ck_assert_int_eq(in.signo, JOB_SIG_NONE);
}
END_TEST

/* Decode, decide, answer: the frames §2.6, §2.7 and §6.2 ask for. */
START_TEST(test_nixfleet_command_reply)
{
	static const char	 f[] =
	    "{\"type\":\"command\",\"payload\":{\"command\":\"%s\"}}";
	struct nixfleet_in	 in;
	char			 buf[128];
	int			 act;

#define CMD(name) do {							\
	snprintf(buf, sizeof(buf), f, name);				\
	decode(buf, &in);						\
	ck_assert_int_eq(in.type, NF_IN_COMMAND);			\
} while (0)
	CMD("bogus");
	assert_text(nixfleet_command_reply(&in, JOB_NONE, 0, "c9e6e0d", &act),
	    "{\"type\":\"status\",\"payload\":{\"status\":\"error\","
	    "\"command\":\"bogus\",\"exit_code\":1,\"message\":"
	    "\"unknown command\",\"generation\":\"c9e6e0d\"}}");
	ck_assert_int_eq(act, NF_ACT_UNKNOWN);
	/* Busy first: an unknown name is rejected while a job runs. */
	assert_text(nixfleet_command_reply(&in, JOB_TEST, 16286, "c9e6e0d",
	    &act), "{\"type\":\"command_rejected\",\"payload\":{"
	    "\"reason\":\"command already running\",\"current_command\":"
	    "\"test\",\"current_pid\":16286}}");
	ck_assert_int_eq(act, NF_ACT_REJECT);
	CMD("switch");
	assert_text(nixfleet_command_reply(&in, JOB_TEST, 16286, NULL, &act),
	    "{\"type\":\"command_rejected\",\"payload\":{\"reason\":"
	    "\"command already running\",\"current_command\":\"test\","
	    "\"current_pid\":16286}}");
	ck_assert_ptr_null(nixfleet_command_reply(&in, JOB_NONE, 0, NULL,
	    &act));
	ck_assert_int_eq(act, NF_ACT_START);
	CMD("stop");
	assert_text(nixfleet_command_reply(&in, JOB_NONE, 0, "", &act),
	    "{\"type\":\"status\",\"payload\":{\"status\":\"error\","
	    "\"command\":\"stop\",\"exit_code\":1,\"message\":"
	    "\"no command running\"}}");
	ck_assert_int_eq(act, NF_ACT_NO_JOB);
	ck_assert_ptr_null(nixfleet_command_reply(&in, JOB_SWITCH, 0, NULL,
	    &act));
	ck_assert_int_eq(act, NF_ACT_SIGNAL);
	CMD("kill");
	assert_text(nixfleet_command_reply(&in, JOB_NONE, 0, NULL, &act),
	    "{\"type\":\"status\",\"payload\":{\"status\":\"error\","
	    "\"command\":\"kill\",\"exit_code\":1,\"message\":"
	    "\"no command running\"}}");
	ck_assert_ptr_null(nixfleet_command_reply(&in, JOB_TEST, 1, NULL,
	    &act));
	ck_assert_int_eq(act, NF_ACT_SIGNAL);
	/* restart and reboot are never rejected, busy or not. */
	CMD("restart");
	ck_assert_ptr_null(nixfleet_command_reply(&in, JOB_TEST, 1, NULL,
	    &act));
	ck_assert_int_eq(act, NF_ACT_AGENT);
	CMD("reboot");
	ck_assert_ptr_null(nixfleet_command_reply(&in, JOB_SWITCH, 1, NULL,
	    &act));
	ck_assert_int_eq(act, NF_ACT_AGENT);
#undef CMD
}
END_TEST

START_TEST(test_nixfleet_register_report_version)
{
	struct ipc_facts	 f;
	struct ipc_net_config	 c;
	json_t			*p;
	char			*s;

	set_facts(&f);
	set_cfg(&c);
	p = payload_of(nixfleet_register_as(&f, &c, "3.1.5"), "register");
	assert_keys(p, register_keys, nitems(register_keys));
	ck_assert_str_eq(str_of(p, "agent_version"), "3.1.5");
	json_decref(p);
	p = payload_of(nixfleet_register_as(&f, &c, ""), "register");
	ck_assert_str_eq(str_of(p, "agent_version"), AGENT_VERSION);
	json_decref(p);
	p = payload_of(nixfleet_register_as(&f, &c, NULL), "register");
	ck_assert_str_eq(str_of(p, "agent_version"), AGENT_VERSION);
	json_decref(p);
	s = nixfleet_register_as(&f, &c, "3.1.5");
	ck_assert_ptr_nonnull(strstr(s, "\"host_type\":\"nixos\","
	    "\"agent_version\":\"3.1.5\",\"os_version\":"));
	free(s);
}
END_TEST

START_TEST(test_nixfleet_output_exact)
{
	assert_text(nixfleet_output("switch", JOB_STREAM_STDOUT, "building",
	    8), "{\"type\":\"output\",\"payload\":{\"line\":\"building\","
	    "\"stream\":\"stdout\",\"command\":\"switch\",\"is_error\":false}}");
	assert_text(nixfleet_output("switch", JOB_STREAM_STDERR, "warn: x",
	    7), "{\"type\":\"output\",\"payload\":{\"line\":\"warn: x\","
	    "\"stream\":\"stderr\",\"command\":\"switch\",\"is_error\":true}}");
	assert_text(nixfleet_output("test", JOB_STREAM_AGENT, "▶ a.sh",
	    strlen("▶ a.sh")), "{\"type\":\"output\",\"payload\":{\"line\":"
	    "\"▶ a.sh\",\"stream\":\"stdout\",\"command\":\"test\","
	    "\"is_error\":false}}");
	assert_text(nixfleet_output("reboot", JOB_STREAM_AGENT_ERR,
	    "❌ Reboot failed: x", strlen("❌ Reboot failed: x")),
	    "{\"type\":\"output\",\"payload\":{\"line\":\"❌ Reboot failed: "
	    "x\",\"stream\":\"stderr\",\"command\":\"reboot\","
	    "\"is_error\":true}}");
	/* Empty lines, NUL bytes, quotes and invalid UTF-8 (U+FFFD). */
	assert_text(nixfleet_output("pull", JOB_STREAM_STDOUT, "", 0),
	    "{\"type\":\"output\",\"payload\":{\"line\":\"\",\"stream\":"
	    "\"stdout\",\"command\":\"pull\",\"is_error\":false}}");
	assert_text(nixfleet_output("pull", JOB_STREAM_STDOUT, "a\0b\"\xff",
	    5), "{\"type\":\"output\",\"payload\":{\"line\":\"a\\u0000b\\\""
	    "\xef\xbf\xbd\",\"stream\":\"stdout\",\"command\":\"pull\","
	    "\"is_error\":false}}");
	assert_text(nixfleet_dropped("switch", 1234), "{\"type\":\"output\","
	    "\"payload\":{\"line\":\"[nixfleet-agent] 1234 output lines "
	    "dropped while disconnected\",\"stream\":\"stdout\",\"command\":"
	    "\"switch\",\"is_error\":false}}");
}
END_TEST

START_TEST(test_nixfleet_status_exact)
{
	assert_text(nixfleet_status("bogus", JOB_ST_ERROR, 1,
	    "unknown command", "c9e6e0d"), "{\"type\":\"status\",\"payload\":{"
	    "\"status\":\"error\",\"command\":\"bogus\",\"exit_code\":1,"
	    "\"message\":\"unknown command\",\"generation\":\"c9e6e0d\"}}");
	/* omitempty: message and generation. */
	assert_text(nixfleet_status("restart", JOB_ST_OK, 0, NULL, ""),
	    "{\"type\":\"status\",\"payload\":{\"status\":\"ok\","
	    "\"command\":\"restart\",\"exit_code\":0}}");
	assert_text(nixfleet_status("test", JOB_ST_STOPPED, 130,
	    "Stopped by user", NULL), "{\"type\":\"status\",\"payload\":{"
	    "\"status\":\"stopped\",\"command\":\"test\",\"exit_code\":130,"
	    "\"message\":\"Stopped by user\"}}");
	assert_text(nixfleet_status("switch", JOB_ST_ERROR, -1,
	    "killed by SIGKILL", "c9e6e0d"), "{\"type\":\"status\","
	    "\"payload\":{\"status\":\"error\",\"command\":\"switch\","
	    "\"exit_code\":-1,\"message\":\"killed by SIGKILL\","
	    "\"generation\":\"c9e6e0d\"}}");
	/* check-version's mismatch: exit 0, or 3.x calls it a failure. */
	assert_text(nixfleet_status("check-version", JOB_ST_WARNING, 0,
	    "mismatch: running=0.1.0 installed=0.2.0", NULL),
	    "{\"type\":\"status\",\"payload\":{\"status\":\"warning\","
	    "\"command\":\"check-version\",\"exit_code\":0,\"message\":"
	    "\"mismatch: running=0.1.0 installed=0.2.0\"}}");
}
END_TEST

START_TEST(test_nixfleet_rejected_exact)
{
	assert_text(nixfleet_command_rejected("test", 16286),
	    "{\"type\":\"command_rejected\",\"payload\":{\"reason\":"
	    "\"command already running\",\"current_command\":\"test\","
	    "\"current_pid\":16286}}");
	/* The job's child has not started yet: no current_pid. */
	assert_text(nixfleet_command_rejected("switch", 0),
	    "{\"type\":\"command_rejected\",\"payload\":{\"reason\":"
	    "\"command already running\",\"current_command\":\"switch\"}}");
	assert_text(nixfleet_command_rejected(NULL, -1),
	    "{\"type\":\"command_rejected\",\"payload\":{\"reason\":"
	    "\"command already running\"}}");
}
END_TEST

START_TEST(test_nixfleet_progress_exact)
{
	assert_text(nixfleet_operation_progress(JOB_PHASE_SYSTEM, 0, 3,
	    JOB_PS_IN_PROGRESS), "{\"type\":\"operation_progress\","
	    "\"payload\":{\"progress\":{\"system\":{\"current\":0,"
	    "\"total\":3,\"status\":\"in_progress\"}}}}");
	assert_text(nixfleet_operation_progress(JOB_PHASE_PULL, 4, 4,
	    JOB_PS_COMPLETE), "{\"type\":\"operation_progress\",\"payload\":"
	    "{\"progress\":{\"pull\":{\"current\":4,\"total\":4,\"status\":"
	    "\"complete\"}}}}");
	assert_text(nixfleet_operation_progress(JOB_PHASE_TESTS, 0, 8,
	    JOB_PS_ERROR), "{\"type\":\"operation_progress\",\"payload\":"
	    "{\"progress\":{\"tests\":{\"current\":0,\"total\":8,\"results\":"
	    "null,\"status\":\"error\"}}}}");
	assert_text(nixfleet_operation_progress(JOB_PHASE_LOCK, 0, 1,
	    JOB_PS_PENDING), "{\"type\":\"operation_progress\",\"payload\":"
	    "{\"progress\":{\"lock\":{\"current\":0,\"total\":1,\"status\":"
	    "\"pending\"}}}}");
	ck_assert_ptr_null(nixfleet_operation_progress(JOB_PHASE_TEST_SCRIPT,
	    0, 0, JOB_PS_COMPLETE));
	ck_assert_ptr_null(nixfleet_operation_progress(0, 0, 0,
	    JOB_PS_COMPLETE));
	ck_assert_ptr_null(nixfleet_operation_progress(JOB_PHASE_PULL, 0, 0,
	    0));
	ck_assert_ptr_null(nixfleet_operation_progress(JOB_PHASE_PULL, 0, 0,
	    9));

	assert_text(nixfleet_test_progress(2, 5, 1, 1, JOB_TR_RUNNING),
	    "{\"type\":\"test_progress\",\"payload\":{\"current\":2,"
	    "\"total\":5,\"passed\":1,\"running\":true,\"result\":\"\"}}");
	assert_text(nixfleet_test_progress(5, 5, 4, 0, JOB_TR_COUNTED),
	    "{\"type\":\"test_progress\",\"payload\":{\"current\":5,"
	    "\"total\":5,\"passed\":4,\"running\":false,\"result\":"
	    "\"4/5 passed\"}}");
	assert_text(nixfleet_test_progress(0, 0, 0, 0, JOB_TR_NO_TESTS),
	    "{\"type\":\"test_progress\",\"payload\":{\"current\":0,"
	    "\"total\":0,\"passed\":0,\"running\":false,\"result\":"
	    "\"no tests\"}}");
	assert_text(nixfleet_test_progress(3, 5, 2, 0, JOB_TR_STOPPED),
	    "{\"type\":\"test_progress\",\"payload\":{\"current\":3,"
	    "\"total\":5,\"passed\":2,\"running\":false,\"result\":"
	    "\"Stopped (2/5 passed)\"}}");
}
END_TEST

/* The exec-worker's records, bounded even when a string is not. */
START_TEST(test_nixfleet_job_records)
{
	struct ipc_job_output	 o;
	struct ipc_job_status	 st;
	struct ipc_job_progress	 pr;

	memset(&o, 0, sizeof(o));
	o.stream = JOB_STREAM_STDERR;
	o.len = 3;
	assert_text(nixfleet_job_output("pull", &o, "abcdef"),
	    "{\"type\":\"output\",\"payload\":{\"line\":\"abc\",\"stream\":"
	    "\"stderr\",\"command\":\"pull\",\"is_error\":true}}");
	o.stream = JOB_STREAM_DROPPED;
	o.len = 0;
	o.dropped = 7;
	assert_text(nixfleet_job_output("pull", &o, NULL), "{\"type\":"
	    "\"output\",\"payload\":{\"line\":\"[nixfleet-agent] 7 output "
	    "lines dropped while disconnected\",\"stream\":\"stdout\","
	    "\"command\":\"pull\",\"is_error\":false}}");
	o.stream = JOB_STREAM_STDOUT;
	o.len = IPC_JOB_LINE_MAX + 1;
	ck_assert_ptr_null(nixfleet_job_output("pull", &o, ""));

	memset(&st, 0, sizeof(st));
	st.status = JOB_ST_OK;
	strlcpy(st.message, "3/3 passed", sizeof(st.message));
	strlcpy(st.generation, "c9e6e0d", sizeof(st.generation));
	assert_text(nixfleet_job_status("test", &st), "{\"type\":\"status\","
	    "\"payload\":{\"status\":\"ok\",\"command\":\"test\","
	    "\"exit_code\":0,\"message\":\"3/3 passed\",\"generation\":"
	    "\"c9e6e0d\"}}");
	/* Terminated early, garbage after the NUL: still the text. */
	memset(st.message, 'm', sizeof(st.message));
	memcpy(st.message, "ok\0", 3);
	assert_text(nixfleet_job_status("test", &st), "{\"type\":\"status\","
	    "\"payload\":{\"status\":\"ok\",\"command\":\"test\","
	    "\"exit_code\":0,\"message\":\"ok\",\"generation\":"
	    "\"c9e6e0d\"}}");
	memset(st.message, 'm', sizeof(st.message));
	memset(st.generation, 'g', sizeof(st.generation));
	st.status = 77;		/* no such code: "error", never garbage */
	st.exit_code = 1;
	assert_text(nixfleet_job_status("test", &st), "{\"type\":\"status\","
	    "\"payload\":{\"status\":\"error\",\"command\":\"test\","
	    "\"exit_code\":1}}");

	memset(&pr, 0, sizeof(pr));
	pr.phase = JOB_PHASE_TEST_SCRIPT;
	pr.current = 1;
	pr.total = 2;
	pr.running = 1;
	assert_text(nixfleet_job_progress(&pr), "{\"type\":\"test_progress\","
	    "\"payload\":{\"current\":1,\"total\":2,\"passed\":0,\"running\":"
	    "true,\"result\":\"\"}}");
	pr.phase = JOB_PHASE_SYSTEM;
	pr.current = 3;
	pr.total = 3;
	pr.state = JOB_PS_COMPLETE;
	assert_text(nixfleet_job_progress(&pr), "{\"type\":"
	    "\"operation_progress\",\"payload\":{\"progress\":{\"system\":"
	    "{\"current\":3,\"total\":3,\"status\":\"complete\"}}}}");
}
END_TEST

START_TEST(test_nixfleet_heartbeat_job)
{
	struct ipc_facts	 f;
	struct ipc_job_state	 js;
	json_t			*p, *us;
	char			*s;

	set_facts(&f);
	memset(&js, 0, sizeof(js));
	js.kind = JOB_TEST;
	js.job_id = 3;
	js.pid = 16286;
	strlcpy(js.lock.status, "ok", sizeof(js.lock.status));
	strlcpy(js.lock.message, "Updated today", sizeof(js.lock.message));
	strlcpy(js.lock.checked_at, "2026-01-20T07:42:27Z",
	    sizeof(js.lock.checked_at));
	strlcpy(js.tests.status, "working", sizeof(js.tests.status));
	strlcpy(js.tests.message, "Tests running...",
	    sizeof(js.tests.message));
	strlcpy(js.tests.checked_at, "2026-01-20T07:42:30Z",
	    sizeof(js.tests.checked_at));
	s = nixfleet_heartbeat_job(&f, &js);
	ck_assert_ptr_nonnull(strstr(s, "\"pending_command\":\"test\","
	    "\"command_pid\":16286,"));
	ck_assert_ptr_nonnull(strstr(s, "\"update_status\":{\"git\":{"
	    "\"status\":\"\",\"message\":\"\",\"checked_at\":\"\"},\"lock\":{"
	    "\"status\":\"ok\",\"message\":\"Updated today\",\"checked_at\":"
	    "\"2026-01-20T07:42:27Z\"},\"system\":{\"status\":\"\","
	    "\"message\":\"\",\"checked_at\":\"\"},\"tests\":{\"status\":"
	    "\"working\",\"message\":\"Tests running...\",\"checked_at\":"
	    "\"2026-01-20T07:42:30Z\"}}"));
	free(s);

	/* Idle: nulls, compartments kept; unterminated arrays bounded. */
	js.kind = JOB_NONE;
	js.pid = 0;
	memset(js.system.message, 'x', sizeof(js.system.message));
	p = payload_of(nixfleet_heartbeat_job(&f, &js), "heartbeat");
	ck_assert(json_is_null(json_object_get(p, "pending_command")));
	ck_assert(json_is_null(json_object_get(p, "command_pid")));
	us = json_object_get(p, "update_status");
	ck_assert_uint_eq(strlen(str_of(json_object_get(us, "system"),
	    "message")), sizeof(js.system.message) - 1);
	json_decref(p);
	p = payload_of(nixfleet_heartbeat_job(&f, NULL), "heartbeat");
	ck_assert(json_is_null(json_object_get(p, "pending_command")));
	json_decref(p);
}
END_TEST

START_TEST(test_nixfleet_line_piece)
{
	char	 buf[32800];

	memset(buf, 'a', sizeof(buf));
	ck_assert_uint_eq(nixfleet_line_piece(buf, 10, 32768), 10);
	ck_assert_uint_eq(nixfleet_line_piece(buf, 32768, 32768), 32768);
	ck_assert_uint_eq(nixfleet_line_piece(buf, 32769, 32768), 32768);
	ck_assert_uint_eq(nixfleet_line_piece(buf, 0, 32768), 0);
	/* "é" at 32767..32768 would be cut: the piece ends before it. */
	memcpy(buf + 32767, "\xc3\xa9", 2);
	ck_assert_uint_eq(nixfleet_line_piece(buf, 32780, 32768), 32767);
	/* A 4-byte emoji straddling the cut. */
	memset(buf, 'a', sizeof(buf));
	memcpy(buf + 32766, "\xf0\x9f\x98\x80", 4);
	ck_assert_uint_eq(nixfleet_line_piece(buf, 32780, 32768), 32766);
	/* A run of stray continuation bytes is cut anywhere. */
	memset(buf + 32760, 0x80, 20);
	ck_assert_uint_eq(nixfleet_line_piece(buf, 32790, 32768), 32768);
	ck_assert_uint_eq(nixfleet_line_piece("\x80\x80\x80\x80\x80", 5, 2),
	    2);
}
END_TEST

/* A long line: repaired, then cut; pieces in order, none too long. */
START_TEST(test_nixfleet_output_frames)
{
	char		**fr, *line, *joined;
	size_t		 n = 20000, total = 0, len;
	json_t		*p;
	const char	*l;
	int		 k, i;

	line = malloc(n);
	ck_assert_ptr_nonnull(line);
	memset(line, 0xff, n);		/* 20000 bytes become 60000 */
	memcpy(line, "start", 5);
	joined = malloc(3 * n + 1);
	ck_assert_ptr_nonnull(joined);
	k = nixfleet_output_frames("switch", JOB_STREAM_STDERR, line, n, &fr);
	ck_assert_int_eq(k, 2);
	for (i = 0; i < k; i++) {
		p = payload_of(fr[i], "output");
		l = str_of(p, "line");
		len = strlen(l);
		ck_assert_uint_le(len, IPC_JOB_LINE_MAX);
		ck_assert_str_eq(str_of(p, "command"), "switch");
		ck_assert(json_is_true(json_object_get(p, "is_error")));
		memcpy(joined + total, l, len);
		total += len;
		json_decref(p);
	}
	free(fr);
	ck_assert_uint_eq(total, 5 + 3 * (n - 5));
	ck_assert(memcmp(joined, "start\xef\xbf\xbd", 8) == 0);
	/* Cut between two U+FFFD, never inside one. */
	ck_assert(nixfleet_utf8_valid(joined, total));
	free(joined);
	free(line);

	k = nixfleet_output_frames("pull", JOB_STREAM_STDOUT, "", 0, &fr);
	ck_assert_int_eq(k, 1);
	assert_text(fr[0], "{\"type\":\"output\",\"payload\":{\"line\":"
	    "\"\",\"stream\":\"stdout\",\"command\":\"pull\","
	    "\"is_error\":false}}");
	free(fr);
}
END_TEST

static Suite *
nixfleet_suite(void)
{
	Suite	*s = suite_create("nixfleet");
	TCase	*tc;

#define NF_TCASE(name) do {						\
	tc = tcase_create(#name);					\
	tcase_add_test(tc, test_nixfleet_##name);			\
	suite_add_tcase(s, tc);						\
} while (0)
	NF_TCASE(register_fields);
	NF_TCASE(register_exact);
	NF_TCASE(register_omitempty);
	NF_TCASE(register_unterminated);
	NF_TCASE(register_utf8);
	NF_TCASE(heartbeat_idle);
	NF_TCASE(heartbeat_busy);
	NF_TCASE(heartbeat_omitempty);
	NF_TCASE(heartbeat_metrics);
	NF_TCASE(heartbeat_update_status);
	NF_TCASE(heartbeat_utf8);
	NF_TCASE(utf8_sanitize);
	NF_TCASE(decode_registered);
	NF_TCASE(decode_command);
	NF_TCASE(decode_command_bad);
	NF_TCASE(decode_kill_command);
	NF_TCASE(decode_malformed);
	NF_TCASE(decode_not_object);
	NF_TCASE(decode_type);
	NF_TCASE(decode_unknown);
	NF_TCASE(decode_payload);
	NF_TCASE(decode_duplicates);
	NF_TCASE(decode_bounds);
	NF_TCASE(decode_command_kinds);
	NF_TCASE(decode_command_huge);
	NF_TCASE(decode_kill_signals);
	NF_TCASE(command_reply);
	NF_TCASE(register_report_version);
	NF_TCASE(output_exact);
	NF_TCASE(status_exact);
	NF_TCASE(rejected_exact);
	NF_TCASE(progress_exact);
	NF_TCASE(job_records);
	NF_TCASE(heartbeat_job);
	NF_TCASE(line_piece);
	NF_TCASE(output_frames);
#undef NF_TCASE
	return s;
}

int
main(void)
{
	return tl_run(nixfleet_suite());
}
