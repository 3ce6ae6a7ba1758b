/*
 * fuzz_command.c: the command path of the nixfleet dialect.  A frame is
 * decoded; a command must come out as a name that maps to its kind and
 * back, and §6.2's decision for it must never reject a bypass command.
 * Then every job encoder is fed the same bytes (as the job's name, a
 * line, a message) and its output read back with jansson: one object,
 * the right type, the text carried unchanged after U+FFFD repair, and
 * the decoder sees our own frames as a type it does not take.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dialect_nixfleet.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Parse our frame; abort unless it is {"type":type,"payload":{...}}. */
static json_t *
fuzz_payload(char *text, const char *type)
{
	struct nixfleet_in	 in;
	json_t			*root, *p;

	if (text == NULL)
		abort();
	if ((root = json_loads(text, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
	    NULL)) == NULL ||
	    json_object_size(root) != 2 ||
	    strcmp(json_string_value(json_object_get(root, "type")),
	    type) != 0 ||
	    !json_is_object(p = json_object_get(root, "payload")))
		abort();
	/* What we send is nothing we would act on if it came back. */
	nixfleet_decode(text, strlen(text), &in);
	if (in.type != NF_IN_UNKNOWN)
		abort();
	free(text);
	json_incref(p);
	json_decref(root);
	return p;
}

/* s[0..len) after repair equals the JSON string v. */
static void
fuzz_same_text(const json_t *v, const char *s, size_t len)
{
	char	*clean;
	size_t	 n;

	if ((clean = nixfleet_utf8_sanitize(s, len, &n)) == NULL)
		abort();
	if (!json_is_string(v) || json_string_length(v) != n ||
	    memcmp(json_string_value(v), clean, n) != 0)
		abort();
	free(clean);
}

static void
fuzz_check_command(const struct nixfleet_in *in)
{
	const char	*name;
	int		 k = in->kind, a;

	if (in->type != NF_IN_COMMAND) {
		if (in->kind != JOB_NONE)
			abort();
		return;
	}
	if (nixfleet_kind_by_name(in->command, strlen(in->command)) != k)
		abort();
	if (k != JOB_NONE && ((name = nixfleet_kind_name(k)) == NULL ||
	    strcmp(name, in->command) != 0))
		abort();
	a = nixfleet_command_action(JOB_TEST, k);
	if (JOB_KIND_BYPASS(k) != (a != NF_ACT_REJECT))
		abort();
	a = nixfleet_command_action(JOB_NONE, k);
	if (a == NF_ACT_REJECT || (k == JOB_NONE) != (a == NF_ACT_UNKNOWN))
		abort();
}

/* Every encoder, with the input as name, line and message. */
static void
fuzz_check_encoders(const char *s, size_t len, const struct nixfleet_in *in)
{
	const char	*cmd = in->type == NF_IN_COMMAND ? in->command : "pull";
	char		*msg;
	size_t		 piece;
	json_t		*p, *v;
	uint32_t	 a = len, b = len > 0 ? (uint8_t)s[0] : 0;

	piece = nixfleet_line_piece(s, len, 64);
	if (piece > len || (len > 0 && piece == 0) || (len <= 64 &&
	    piece != len) || (len > 64 && (piece > 64 || piece < 61)))
		abort();
	p = fuzz_payload(nixfleet_output(cmd, (int)(b % 6), s, len),
	    "output");
	fuzz_same_text(json_object_get(p, "line"), s, len);
	fuzz_same_text(json_object_get(p, "command"), cmd, strlen(cmd));
	if (!json_is_boolean(json_object_get(p, "is_error")))
		abort();
	json_decref(p);

	if ((msg = strndup(s, len)) == NULL)
		abort();
	p = fuzz_payload(nixfleet_status(cmd, (int)(b % 5), (int)a - 1, msg,
	    msg), "status");
	if (!json_is_integer(json_object_get(p, "exit_code")) ||
	    json_integer_value(json_object_get(p, "exit_code")) !=
	    (json_int_t)((int)a - 1))
		abort();
	if ((v = json_object_get(p, "message")) != NULL)
		fuzz_same_text(v, msg, strnlen(msg, IPC_JOB_MSG_MAX));
	else if (msg[0] != '\0')
		abort();
	json_decref(p);
	p = fuzz_payload(nixfleet_command_rejected(msg, (int)b - 100),
	    "command_rejected");
	if (strcmp(json_string_value(json_object_get(p, "reason")),
	    "command already running") != 0)
		abort();
	json_decref(p);
	free(msg);

	p = fuzz_payload(nixfleet_test_progress(a, b, a ^ b, a & 1,
	    (int)(b % 5)), "test_progress");
	if (json_object_size(p) != 5 ||
	    !json_is_string(json_object_get(p, "result")))
		abort();
	json_decref(p);
	if ((msg = nixfleet_operation_progress((int)(b % 7), a, b,
	    (int)(a % 6))) != NULL)
		json_decref(fuzz_payload(msg, "operation_progress"));
	else if (b % 7 >= 1 && b % 7 <= 4 && a % 6 >= 1 && a % 6 <= 4)
		abort();
	json_decref(fuzz_payload(nixfleet_dropped(cmd, a), "output"));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nixfleet_in	 in;

	nixfleet_decode((const char *)data, size, &in);
	fuzz_check_command(&in);
	if (size <= 4096)
		fuzz_check_encoders((const char *)data, size, &in);
	return 0;
}
