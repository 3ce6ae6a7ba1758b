/*
 * bench_ipc.c: how fast the framing layer moves frames over a socketpair,
 * in one thread: compose a batch, flush, read, get, free.  Prints frames
 * per second and payload throughput for a few payload sizes.
 */
#include <sys/socket.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ipc.h"
#include "proto.h"

int	main(int, char **);

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
run(size_t payload, long frames)
{
	struct ipcbuf	*w, *r;
	struct ipcmsg	*m;
	char		*data;
	int		 sv[2];
	long		 sent = 0, got = 0;
	double		 t0, dt;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		err(1, "socketpair");
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	w = ipcbuf_new(sv[0], IPC_MAX_NE);
	r = ipcbuf_new(sv[1], IPC_MAX_NE);
	if ((data = calloc(1, payload)) == NULL)
		err(1, NULL);
	t0 = now();
	while (got < frames) {
		while (sent < frames && sent - got < 256 &&
		    ipcbuf_compose(w, IPC_EN_FACTS, (uint32_t)sent, -1, data,
		    payload) == 0)
			sent++;
		if (ipcbuf_flush(w) == -1)
			err(1, "flush");
		if (ipcbuf_read(r) == -1 && errno != EAGAIN)
			err(1, "read");
		while (ipcbuf_get(r, &m) == 1) {
			if (ipc_get_len(m) != payload)
				errx(1, "short frame");
			ipc_free(m);
			got++;
		}
	}
	dt = now() - t0;
	printf("payload %6zu B: %9.0f frames/s, %8.1f MiB/s\n", payload,
	    frames / dt, frames * (double)payload / dt / (1024 * 1024));
	ipcbuf_free(w);
	ipcbuf_free(r);
	free(data);
}

int
main(int argc, char **argv)
{
	long	 frames = argc > 1 ? atol(argv[1]) : 200000;

	run(16, frames);
	run(sizeof(struct ipc_facts), frames);
	run(32768, frames / 10);
	return 0;
}
