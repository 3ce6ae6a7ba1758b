/*
 * sio_sign.c: the supervisor's handshake signer on the command line, so
 * that the integration tests connect to the real servers with bytes the
 * C code produced:  SIO_SIGN_KEY=<authToken> sio_sign <clientId> [<ts>]
 * prints sign_answer()'s query ("clientId=..&ts=..&sig=..").  Without
 * ts, the current time is signed.  Test-only; never installed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sign.h"

int
main(int argc, char **argv)
{
	struct ipc_signed	 a;
	const char		*key = getenv("SIO_SIGN_KEY");
	long long		 ts;
	char			*end;

	if (argc < 2 || argc > 3 || key == NULL) {
		fprintf(stderr, "usage: SIO_SIGN_KEY=key sio_sign id [ts]\n");
		return 2;
	}
	ts = sign_now_ms();
	if (argc == 3) {
		errno = 0;
		ts = strtoll(argv[2], &end, 10);
		if (errno != 0 || *end != '\0' || end == argv[2]) {
			fprintf(stderr, "sio_sign: bad ts\n");
			return 2;
		}
	}
	if (sign_answer(&a, key, strlen(key), argv[1], ts) == -1) {
		fprintf(stderr, "sio_sign: %s\n", strerror(errno));
		return 1;
	}
	printf("%s\n", a.query);
	return 0;
}
