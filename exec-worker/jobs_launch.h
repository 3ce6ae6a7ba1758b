/*
 * jobs_launch.h: start a job's runner detached from the agent.
 *
 * Where systemd runs the agent and the agent is privileged, the runner
 * becomes a transient unit, nixfleet-agent-job-<id>, outside the
 * service's cgroup, so a restart or stop of the service leaves it alone.
 * Otherwise it is double-forked into a session and process group of its
 * own, reparented away from the agent.  Either way the agent can die at
 * any moment after jobs_launch() returns and the job goes on.
 */
#ifndef JOBS_LAUNCH_H
#define JOBS_LAUNCH_H

#include <sys/types.h>

#include <stdint.h>

#include "compat.h"

enum jobs_launch_mode {
	JOBS_DETACH = 0,	/* double fork, setsid */
	JOBS_SYSTEMD = 1,	/* systemd-run --unit=... --collect */
};

#define JOBS_UNIT_PREFIX	"nixfleet-agent-job-"
#define JOBS_UNIT_UPDATE	"nixfleet-agent-update"	/* §6.5 */

struct jobs_launch {
	uint64_t	 id;
	const char	*runner;	/* path of nixfleet-agent-runner */
	const char	*systemd_run;	/* NULL: "systemd-run" from PATH */
	const char	*jobdir;
	const char	*name;		/* command name, for the start record */
	const char	*cwd;		/* NULL: the runner's own */
	const char	*plan;		/* -P: a plan file in jobdir, or NULL */
	char *const	*argv;		/* the job (NULL with a plan) */
	char *const	*envp;		/* the job's whole environment */
	const char	*unit;		/* NULL: JOBS_UNIT_PREFIX<id> */
};

int	 jobs_launch_mode(const char *, const char *, uid_t);
char	**jobs_launch_argv(const struct jobs_launch *, int);
void	 jobs_launch_free(char **);
pid_t	 jobs_launch(const struct jobs_launch *, int);
pid_t	 jobs_launch_start(const struct jobs_launch *, int);

#endif
