/*
 * jobrun.h: the exec-worker's side of durable jobs.  A JOB_START becomes
 * a job directory with its plan and meta, a detached runner, and a
 * followed journal whose derived records go to the net-worker in order;
 * JOB_ACK moves the delivery marker; after a restart the jobs directory
 * is scanned and every running or undelivered job is adopted.
 */
#ifndef JOBRUN_H
#define JOBRUN_H

#include "proto.h"

struct exec;
struct jobrun;

struct jobrun	*jobrun_new(struct exec *);
/* The supervisor's settings: build the configuration, adopt old jobs. */
void		 jobrun_configure(struct jobrun *,
		    const struct ipc_exec_config *, const struct ipc_exec_jobs *);
int		 jobrun_configured(const struct jobrun *);
/* The net-worker's requests, already size-checked; -1: a violation. */
int		 jobrun_start(struct jobrun *, uint32_t id,
		    const struct ipc_job_start *);
int		 jobrun_signal(struct jobrun *, uint32_t id,
		    const struct ipc_job_signal *);
int		 jobrun_ack(struct jobrun *, const struct ipc_job_ack *);
int		 jobrun_replay(struct jobrun *, const struct ipc_job_ack *);
/* The dashboard is away since mono_ns (0: now), for §6.7's limit. */
void		 jobrun_link_down(struct jobrun *, uint64_t mono_ns);
/* JOB_STATE now (with every facts snapshot and at every change). */
void		 jobrun_send_state(struct jobrun *);
/*
 * The first lock check, once the repository is there (nixfleet §3.5,
 * T02-S8): then(arg) when its verdict is in the compartments.
 */
void		 jobrun_lock_first(struct jobrun *, void (*then)(void *),
		    void *arg);
/* The net-worker said HELLO: announce and stream every job we hold. */
void		 jobrun_net_ready(struct jobrun *);

#endif
