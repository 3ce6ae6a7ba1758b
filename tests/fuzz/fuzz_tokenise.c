/*
 * fuzz_tokenise.c: the admin_run tokeniser and decision on arbitrary
 * bytes.  Tokens never hold an unescaped blank, never come back empty,
 * and their bytes never outnumber the input's; a command the decision
 * allows is never one with forbidden characters unless it is the cron
 * write, which then always runs ["crontab","-"].
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "cron.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const allow[] = { "echo", "crontab", "ls -l" };
	struct admin_argv	 av;
	struct admin_policy	 p;
	struct admin_request	 rq;
	struct admin_decision	 d;
	const char		*s = (const char *)data, *why;
	size_t			 i, total = 0;

	if (admin_tokenise(s, size, &av, &why) == 0) {
		if (av.argv[av.argc] != NULL)
			abort();
		for (i = 0; i < av.argc; i++) {
			if (av.argv[i][0] == '\0' && memchr(s, '\0', size) == NULL)
				abort();
			total += strlen(av.argv[i]);
		}
		if (total > size)
			abort();
		admin_argv_free(&av);
	} else if (strcmp(why, "unclosed quote") != 0 &&
	    strcmp(why, "dangling escape") != 0)
		abort();

	memset(&p, 0, sizeof(p));
	for (i = 0; i < sizeof(allow) / sizeof(allow[0]); i++)
		(void)admin_allow_add(&p.allow, allow[i], &why);
	admin_rate_init(&p.rate, 0, 0, 0);
	memset(&rq, 0, sizeof(rq));
	rq.command = s;
	rq.command_len = size;
	if (admin_decide(&p, &rq, 0, &d) == 0) {
		if (d.allow && admin_forbidden(s, size) && (!d.cron_write ||
		    d.argv.argc != 2 || strcmp(d.argv.argv[0], "crontab") != 0))
			abort();
		if (!d.allow && d.code != 1 && d.code != 126)
			abort();
		admin_decision_free(&d);
	}
	admin_allow_free(&p.allow);
	return 0;
}
