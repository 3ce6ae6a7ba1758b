/*
 * proto.c: names of the message types, for logs.
 */
#include <stdio.h>

#include "proto.h"

const char *
ipc_type_name(uint32_t type)
{
	static char	 buf[32];

	switch (type) {
#define N(t) case t: return #t
	N(IPC_HELLO);
	N(IPC_NS_CONNECT); N(IPC_NS_STATE); N(IPC_NS_PONG);
	N(IPC_SN_CONFIG); N(IPC_SN_CA_BEGIN); N(IPC_SN_CA_CHUNK);
	N(IPC_SN_CA_END); N(IPC_SN_CONNECTED); N(IPC_SN_PING);
	N(IPC_SN_SHUTDOWN);
	N(IPC_NS_SIGN); N(IPC_SN_SIGNED);
	N(IPC_SN_PEER); N(IPC_SE_PEER);
	N(IPC_ES_PONG);
	N(IPC_SE_CONFIG); N(IPC_SE_PING); N(IPC_SE_SHUTDOWN);
	N(IPC_NE_FACTS_REQ);
	N(IPC_EN_FACTS);
	N(IPC_SN_SIO_CONFIG); N(IPC_NE_STATS_REQ); N(IPC_EN_STATS);
	N(IPC_SN_JOBS_CONFIG); N(IPC_ES_EXIT); N(IPC_SE_JOBS_CONFIG);
	N(IPC_NE_JOB_START); N(IPC_NE_JOB_SIGNAL); N(IPC_NE_JOB_ACK);
	N(IPC_NE_JOB_REPLAY);
	N(IPC_EN_JOB_ANSWER); N(IPC_EN_JOB_OUTPUT); N(IPC_EN_JOB_PROGRESS);
	N(IPC_EN_JOB_STATUS); N(IPC_EN_JOB_STATE);
#undef N
	}
	snprintf(buf, sizeof(buf), "type 0x%04x", type);
	return buf;
}
