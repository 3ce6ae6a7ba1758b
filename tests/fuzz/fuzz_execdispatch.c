/*
 * fuzz_execdispatch.c: the exec-worker's handler for the net-worker's
 * frames against arbitrary bytes.
 *
 * Input: a byte stream cut into frames by ipcbuf at IPC_MAX_NE; each
 * goes to exec_dispatch_net() of a configured exec-worker whose loss of
 * the channel (which exits the real one) only ends the input.  Pending
 * facts answers are sent by running the loop once.
 */
#include <sys/socket.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec.h"
#include "log.h"
#include "proto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct exec	 ex;
static int		 peer[2] = { -1, -1 };
static int		 lost;

static void
fuzz_dispatch_net(struct ipcev *iev, struct ipcmsg *m)
{
	if (m == NULL) {
		lost = 1;
		return;
	}
	exec_dispatch_net(iev, m);
}

static void
fuzz_reset(void)
{
	static struct ipc_exec_config	 cfg;
	struct exec			*e = &ex;
	int				 sv[2][2], i;

	if (e->loop == NULL) {
		facts_init(&e->facts, &cfg);
		e->configured = 1;
	} else {
		ev_timer_stop(e->loop, &e->facts_answer);
		ev_timer_stop(e->loop, &e->cpu_tick);
		ev_timer_stop(e->loop, &e->stats_answer);
		ipcev_close(&e->sup);
		ipcev_close(&e->net);
		for (i = 0; i < 2; i++)
			close(peer[i]);
	}
	for (i = 0; i < 2; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0, sv[i]) == -1)
			abort();
		peer[i] = sv[i][1];
	}
	e->facts_pending = 0;
	e->facts_wanted = 0;
	e->repo_ready = 1;	/* as after the startup check */
	lost = 0;
	exec_init(e, ev_default_loop(EVFLAG_AUTO), sv[0][0], sv[1][0],
	    fuzz_dispatch_net);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int	 init;
	struct ipcbuf	*b;
	struct ipcmsg	*m;
	size_t		 off = 0, n;

	if (!init) {
		log_init(LOG_LVL_ERROR, 1);
		log_procinit("exec");
		init = 1;
	}
	fuzz_reset();
	if ((b = ipcbuf_new(-1, IPC_MAX_NE)) == NULL)
		abort();
	while (!lost) {
		if (off < size) {
			n = ipcbuf_feed(b, data + off, size - off);
			off += n;
		}
		if (ipcbuf_get(b, &m) != 1)
			break;
		ex.net.dispatch(&ex.net, m);
		ipc_free(m);
	}
	ipcbuf_free(b);
	if (!lost)
		ev_run(ex.loop, EVRUN_NOWAIT);
	return 0;
}
