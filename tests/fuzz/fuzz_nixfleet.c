/*
 * fuzz_nixfleet.c: nixfleet_decode on arbitrary frames, and the same
 * bytes through the UTF-8 sanitizer and the heartbeat encoder.  What the
 * decoder hands on must hold the promises of dialect_nixfleet.h; what the
 * encoder writes must be JSON that carries the text back unchanged.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dialect_nixfleet.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* NUL-terminated inside its array, every byte printable ASCII. */
static void
fuzz_check_printable(const char *s, size_t size)
{
	size_t	 i;

	for (i = 0; i < size && s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			abort();
	if (i == size)
		abort();
}

static void
fuzz_check_decoded(const struct nixfleet_in *in)
{
	size_t	 i, n;

	fuzz_check_printable(in->type_name, sizeof(in->type_name));
	fuzz_check_printable(in->error, sizeof(in->error));
	fuzz_check_printable(in->command, sizeof(in->command));
	fuzz_check_printable(in->signal, sizeof(in->signal));
	if ((n = strnlen(in->host_id, sizeof(in->host_id))) ==
	    sizeof(in->host_id) || !nixfleet_utf8_valid(in->host_id, n))
		abort();
	for (i = 0; i < n; i++)
		if ((unsigned char)in->host_id[i] < 0x20 ||
		    in->host_id[i] == 0x7f)
			abort();
	/* Why: for every invalid frame, and for a command no job has. */
	if (in->type == NF_IN_INVALID && in->error[0] == '\0')
		abort();
	if (in->error[0] != '\0' && in->type != NF_IN_INVALID &&
	    (in->type != NF_IN_COMMAND || in->kind != JOB_NONE))
		abort();
	switch (in->type) {
	case NF_IN_INVALID:
	case NF_IN_UNKNOWN:
	case NF_IN_REGISTERED:
		break;
	case NF_IN_COMMAND:
		if (in->command[0] == '\0' && in->error[0] == '\0')
			abort();
		break;
	case NF_IN_KILL_COMMAND:
		n = strlen(in->signal);
		if (n == 0 || in->pid < 0)
			abort();
		for (i = 0; i < n; i++)
			if (!((in->signal[i] >= 'A' && in->signal[i] <= 'Z') ||
			    (in->signal[i] >= '0' && in->signal[i] <= '9')))
				abort();
		break;
	default:
		abort();
	}
	if (in->type != NF_IN_COMMAND && in->command[0] != '\0')
		abort();
	if (in->type != NF_IN_KILL_COMMAND &&
	    (in->signal[0] != '\0' || in->pid != 0))
		abort();
}

/* The same bytes as a job name: sanitized, encoded, read back. */
static void
fuzz_check_encode(const uint8_t *data, size_t size)
{
	struct ipc_facts	 f;
	struct nixfleet_busy	 busy;
	json_t			*root, *cmd;
	char			*name, *clean, *text;
	size_t			 n;

	if ((clean = nixfleet_utf8_sanitize((const char *)data, size, &n)) ==
	    NULL)
		abort();
	if (clean[n] != '\0' || n < size || !nixfleet_utf8_valid(clean, n))
		abort();
	if (nixfleet_utf8_valid((const char *)data, size) !=
	    (n == size && memcmp(clean, data, size) == 0))
		abort();

	if ((name = strndup((const char *)data, size)) == NULL)
		abort();
	memset(&f, 0, sizeof(f));
	memcpy(f.hostname, data, size < sizeof(f.hostname) ?
	    size : sizeof(f.hostname));
	busy.command = name;
	busy.pid = 1;
	if ((text = nixfleet_heartbeat(&f, &busy)) == NULL)
		abort();
	if ((root = json_loads(text, JSON_REJECT_DUPLICATES, NULL)) == NULL)
		abort();
	cmd = json_object_get(json_object_get(root, "payload"),
	    "pending_command");
	free(clean);
	if ((clean = nixfleet_utf8_sanitize(name, strlen(name), &n)) == NULL)
		abort();
	if (!json_is_string(cmd) || json_string_length(cmd) != n ||
	    memcmp(json_string_value(cmd), clean, n) != 0)
		abort();
	json_decref(root);
	free(text);
	if ((text = nixfleet_register(&f, &(struct ipc_net_config){ 0 })) ==
	    NULL)
		abort();
	if ((root = json_loads(text, JSON_REJECT_DUPLICATES, NULL)) == NULL)
		abort();
	json_decref(root);
	free(text);
	free(clean);
	free(name);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nixfleet_in	 in;

	nixfleet_decode((const char *)data, size, &in);
	fuzz_check_decoded(&in);
	if (size <= 4096)
		fuzz_check_encode(data, size);
	return 0;
}
