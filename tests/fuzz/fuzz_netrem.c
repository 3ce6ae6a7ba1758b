/*
 * fuzz_netrem.c: the net-worker's remote administration mapping against
 * arbitrary bytes from both sides.
 *
 * Input: the first byte picks the side.  Even: the rest is a nixfleet
 * text frame from the dashboard (netrem_nixfleet).  Odd: three requests
 * are made first (admin_run, sync_keys, backup_plan: ids 1 to 3 wait
 * for answers), then the rest is cut into frames by ipcbuf at
 * IPC_MAX_NE and handed to netrem_dispatch_exec as the exec-worker's
 * answers.  Every emitted payload must encode as JSON.
 */
#include <sys/socket.h>

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc.h"
#include "ipcev.h"
#include "log.h"
#include "netrem.h"
#include "proto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct ev_loop	*loop;
static struct ipcev	 iev;
static struct netrem	 nr;
static int		 sv[2] = { -1, -1 };

static void
fuzz_dispatch(struct ipcev *e, struct ipcmsg *m)
{
}

static void
fuzz_emit(void *arg, const char *event, json_t *payload)
{
	char	*s;

	if (payload == NULL || event == NULL)
		abort();
	if (!json_is_object(payload) ||
	    (s = json_dumps(payload, JSON_COMPACT)) == NULL)
		abort();
	free(s);
	json_decref(payload);
}

/* The key fetch succeeds at once: its body goes on to the exec-worker. */
static int
fuzz_fetch(void *arg, const char *login, uint32_t id)
{
	static const char	 body[] = "ssh-ed25519 AAAA\n";

	netrem_keys_fetched(&nr, id, body, sizeof(body) - 1, 1, NULL);
	return 0;
}

static void
fuzz_drain(void)
{
	char	buf[65536];

	(void)ipcev_flush_sync(&iev, 0);
	while (read(sv[1], buf, sizeof(buf)) > 0)
		;
}

static void
fuzz_request(const char *text)
{
	if (netrem_nixfleet(&nr, text, strlen(text)) != 1)
		abort();
	fuzz_drain();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipcbuf	*b;
	struct ipcmsg	*m;
	size_t		 off = 1, n;

	if (loop == NULL) {
		log_init(LOG_LVL_ERROR, 1);
		log_procinit("net");
		loop = ev_default_loop(EVFLAG_AUTO);
	}
	if (size == 0)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) == -1)
		abort();
	ipcev_init(&iev, loop, sv[0], IPC_MAX_NE, "exec-worker",
	    fuzz_dispatch, NULL);
	netrem_init(&nr, &iev, fuzz_emit, NULL);
	nr.fetch = fuzz_fetch;
	if ((data[0] & 1) == 0) {
		(void)netrem_nixfleet(&nr, (const char *)data + 1, size - 1);
		fuzz_drain();
		goto out;
	}
	fuzz_request("{\"type\":\"admin_run\",\"payload\":{\"token\":\"t\","
	    "\"cmd\":{\"command\":\"uptime\"}}}");
	fuzz_request("{\"type\":\"sync_keys\",\"payload\":{\"user\":\"u\"}}");
	fuzz_request("{\"type\":\"backup_plan\",\"payload\":{\"planId\":\"p\","
	    "\"sourceDirs\":[\"/s\"],\"destRoot\":\"/d\"}}");
	if ((b = ipcbuf_new(-1, IPC_MAX_NE)) == NULL)
		abort();
	for (;;) {
		if (off < size) {
			n = ipcbuf_feed(b, data + off, size - off);
			off += n;
		}
		if (ipcbuf_get(b, &m) != 1)
			break;
		(void)netrem_dispatch_exec(&nr, m);
		ipc_free(m);
	}
	ipcbuf_free(b);
 out:
	netrem_clear(&nr);
	ipcev_close(&iev);
	close(sv[1]);
	return 0;
}
