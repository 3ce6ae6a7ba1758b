/*
 * walk.h: backup planning (socketio-protocol.md §6.4): request checks,
 * the native walker and the persisted plan that backup_start reads after
 * a restart.  The exec-worker has no JSON library, so the plan file is a
 * line format (docs/admin.md); the net-worker encodes the reply.
 */
#ifndef WALK_H
#define WALK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define WALK_SAMPLE_MAX	25
#define WALK_DEPTH_MAX	128
#define WALK_ERROR_MAX	512
#define WALK_SAFE_MAX	256

/* The seven known fields of backup_plan / backup_start. */
struct walk_request {
	char		 *plan_id, *host, *user, *dest_root;
	int		  port;
	size_t		  nsources, nglobs;
	char		**sources, **globs;
};

struct walk_file {
	char		*source;	/* absolute path of the file */
	char		*rel;		/* basename(root)/path, `/`-separated */
	uint64_t	 size;
};

struct walk_plan {
	struct walk_request	 req;
	size_t			 nfiles;
	struct walk_file	*files;	/* in walk order; files[0..24] sample */
	uint64_t		 total_files, total_bytes;
};

/* Allowed roots; empty lists mean no restriction. */
struct walk_policy {
	const char *const	*source_roots;
	size_t			 nsource_roots;
	const char *const	*dest_roots;
	size_t			 ndest_roots;
};

/* Lexical clean (//, ., ..) of an absolute path; relative ones are joined
 * to the process cwd first.  -1 when it does not fit. */
int	 walk_clean(const char *, char *, size_t);
/*
 * Steps 1-3: check the request and walk every source.  0 with the plan
 * filled (it copies the request), or -1 with err set to the spec's text.
 */
int	 walk_plan_make(const struct walk_request *, const struct walk_policy *,
	    struct walk_plan *, char *, size_t);
void	 walk_plan_free(struct walk_plan *);
void	 walk_request_free(struct walk_request *);
int	 walk_request_copy(struct walk_request *, const struct walk_request *);
/* planId with each run outside [A-Za-z0-9_.-] as `_`; `unknown` if empty. */
void	 walk_safe_name(const char *, char [WALK_SAFE_MAX]);
/*
 * <base>/compute-agent/backup-plans/<safe>.plan, directories 0700 and the
 * file 0600, written atomically; a directory not owned by the caller's
 * uid or writable by group or others is refused.  base is the state
 * directory (backup.c).
 */
int	 walk_plan_save(const char *, const struct walk_plan *, char *, size_t);
/*
 * §6.5's progress file <safe>.state.json next to the plan, replaced
 * atomically like it: {"planId","file","transferredBytes","ts"}, ts as
 * RFC 3339 UTC; strings that are not UTF-8 get U+FFFD.
 */
struct walk_state {
	const char	*plan_id;
	const char	*file;
	uint64_t	 transferred;
	time_t		 ts;
};
int	 walk_state_save(const char *, const struct walk_state *, char *,
	    size_t);
/* 0 loaded; -1 with err ("unknown plan <id>" when there is no file). */
int	 walk_plan_load(const char *, const char *, struct walk_plan *, char *,
	    size_t);

#endif
