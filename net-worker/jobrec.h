/*
 * jobrec.h: the net-worker's checks of the job records the exec-worker
 * sends (proto.h, "Jobs").  The exec-worker is the more trusted side, but
 * a record that breaks the contract is a protocol violation all the same:
 * the caller drops the channel rather than encode what it cannot vouch
 * for.  Each returns 0 when the record holds every promise of proto.h,
 * -1 otherwise.
 */
#ifndef JOBREC_H
#define JOBREC_H

#include <stddef.h>

#include "proto.h"

/* The head and the number of line bytes that followed it. */
int	jobrec_check_output(const struct ipc_job_output *, size_t tail);
int	jobrec_check_progress(const struct ipc_job_progress *);
int	jobrec_check_status(const struct ipc_job_status *);
int	jobrec_check_answer(const struct ipc_job_answer *);
int	jobrec_check_state(const struct ipc_job_state *);
int	jobrec_check_notice(const struct ipc_job_notice *);
int	jobrec_check_dropped(const struct ipc_job_dropped *);

/*
 * Whether a job's record at seq comes in order: the next one, or after
 * a drop notice any one up to the line after its last dropped one
 * (*gap_to, 0 for none).  1: accepted, *expected and *gap_to move on;
 * 0: a duplicate or out of order, to be ignored.
 */
int	jobrec_accept(uint64_t *expected, uint64_t *gap_to, uint64_t seq);

#endif
