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
	/* remote administration */
	N(IPC_SE_ADMIN_CONFIG); N(IPC_SE_ADMIN_ITEM); N(IPC_SE_ADMIN_END);
	N(IPC_NE_ADMIN_RUN); N(IPC_NE_SHELL_START); N(IPC_NE_SHELL_INPUT);
	N(IPC_NE_SHELL_RESIZE); N(IPC_NE_SHELL_CLOSE);
	N(IPC_NE_KEYS_INSTALL); N(IPC_NE_BACKUP_PLAN);
	N(IPC_NE_BACKUP_START); N(IPC_NE_SESSION_END);
	N(IPC_EN_ADMIN_RESULT); N(IPC_EN_SHELL_OUTPUT);
	N(IPC_EN_SHELL_CLOSED); N(IPC_EN_KEYS_RESULT);
	N(IPC_EN_BACKUP_PLAN); N(IPC_EN_BACKUP_PROGRESS);
	N(IPC_EN_BACKUP_DONE);
#undef N
	}
	snprintf(buf, sizeof(buf), "type 0x%04x", type);
	return buf;
}
