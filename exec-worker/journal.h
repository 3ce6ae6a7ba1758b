/*
 * journal.h: the job journal, <state>/jobs/<id>/journal (docs/journal.md).
 *
 * The runner appends self-delimiting records (a 40-byte little-endian
 * header with length and CRC-32, then the bytes); the exec-worker reads
 * them back from any sequence onward, in a bounded window, while the
 * runner is still writing.  A job directory also holds the runner's lock
 * (held for its whole life) and the exec-worker's delivery marker, "ack".
 */
#ifndef JOURNAL_H
#define JOURNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "compat.h"

#define JOURNAL_MAGIC		0x314a464eU	/* "NFJ1" little-endian */
#define JOURNAL_HDR_SIZE	40
#define JOURNAL_DATA_MAX	4096		/* payload bytes per record */
#define JOURNAL_REC_MAX		(JOURNAL_HDR_SIZE + JOURNAL_DATA_MAX)
#define JOURNAL_WINDOW		(64 * 1024)	/* reader buffer */
#define JOURNAL_SYNC_MS		1000		/* fsync at most this often */
#define JOURNAL_KEEP_DEFAULT	100		/* retention: newest N jobs */
#define JOURNAL_ID_DIGITS	10		/* 0000000042 */

#define JOURNAL_FILE		"journal"
#define JOURNAL_LOCK		"lock"
#define JOURNAL_ACK		"ack"
#define JOURNAL_NEXT_ID		"next-id"

enum journal_type {
	JOURNAL_START = 1,		/* runner and child pids, job name */
	JOURNAL_STDOUT = 2,		/* bytes of one line, no '\n' */
	JOURNAL_STDERR = 3,
	JOURNAL_EXIT = 4,		/* the last record */
	JOURNAL_STEP_BEGIN = 5,		/* plan mode: step index, its pid */
	JOURNAL_STEP_END = 6,		/* plan mode: step index, result */
	JOURNAL_SIGNAL = 7,		/* the runner was told to signal */
};
#define JOURNAL_TYPE_MAX	JOURNAL_SIGNAL

#define JOURNAL_F_EOL		0x01	/* the line ended with '\n' */

enum journal_how {
	JOURNAL_EXITED = 1,		/* value: exit status */
	JOURNAL_SIGNALED = 2,		/* value: signal number */
};

/*
 * Fixed payloads of the plan-mode records, little-endian: STEP_BEGIN
 * u32 index, u32 pid (the step's process group); STEP_END u32 index,
 * u32 how (enum journal_how), i32 value, u32 0; SIGNAL u32 signal, u32 0.
 */
#define JOURNAL_STEP_BEGIN_SIZE	8
#define JOURNAL_STEP_END_SIZE	16
#define JOURNAL_SIGNAL_SIZE	8

/* A decoded record; data points into the decoder's buffer. */
struct journal_rec {
	uint64_t	 seq;
	uint64_t	 mono_ns;	/* CLOCK_MONOTONIC */
	uint64_t	 wall_ns;	/* CLOCK_REALTIME, since the epoch */
	uint8_t		 type;		/* enum journal_type */
	uint8_t		 flags;
	uint32_t	 len;
	const uint8_t	*data;
};

#define JOURNAL_START_SIZE	16	/* fixed part; the name follows */
struct journal_start {
	uint32_t	 runner_pid;
	uint32_t	 child_pid;	/* also the job's process group */
	uint64_t	 start_wall_ns;
	char		 name[JOURNAL_DATA_MAX - JOURNAL_START_SIZE + 1];
};

#define JOURNAL_EXIT_SIZE	16
struct journal_exit {
	uint32_t	 how;		/* enum journal_how */
	int32_t		 value;
	uint64_t	 duration_ns;
};

/* journal_decode() and journal_read() results. */
enum journal_status {
	JOURNAL_REC = 0,	/* *rec holds a record */
	JOURNAL_SHORT,		/* decode: more bytes needed */
	JOURNAL_BAD,		/* decode: not a valid record */
	JOURNAL_WAIT,		/* read: nothing new yet, the runner lives */
	JOURNAL_END,		/* read: the exit record was read */
	JOURNAL_TRUNCATED,	/* read: torn or missing tail, runner gone */
	JOURNAL_ERROR = -1,	/* read: I/O error, errno set */
};

/* Format. */
uint32_t journal_crc32(uint32_t, const void *, size_t);
size_t	 journal_encode(uint8_t *, size_t, const struct journal_rec *);
int	 journal_decode(const uint8_t *, size_t, struct journal_rec *,
	    size_t *);
int	 journal_parse_start(const struct journal_rec *,
	    struct journal_start *);
int	 journal_parse_exit(const struct journal_rec *, struct journal_exit *);

/* Writer: the runner, the only one that writes a journal. */
struct journal_writer {
	int		 fd;
	uint64_t	 seq;		/* of the next record */
	uint64_t	 off;		/* end of the last whole record */
	uint64_t	 last_sync_ns;
	int		 dirty;
	int		 always_sync;	/* fsync every record (measurement) */
	uint64_t	 dropped;	/* records lost to write errors */
};

int	 journal_writer_open(struct journal_writer *, int);
int	 journal_append(struct journal_writer *, int, int, const void *,
	    size_t);
int	 journal_sync(struct journal_writer *, int);
void	 journal_writer_close(struct journal_writer *);

/* Reader: bounded memory, incremental, from any sequence. */
struct journal_reader {
	int		 dirfd;
	int		 fd;		/* -1 until the journal exists */
	uint64_t	 off;		/* file offset of buf[0] */
	uint64_t	 next_seq;	/* expected in the file */
	uint64_t	 from_seq;	/* records below it are skipped */
	size_t		 pos, fill;	/* decoded up to pos, read up to fill */
	int		 ended;
	uint8_t		*buf;		/* JOURNAL_WINDOW bytes */
};

int	 journal_reader_open(struct journal_reader *, const char *, uint64_t);
int	 journal_read(struct journal_reader *, struct journal_rec *);
void	 journal_reader_close(struct journal_reader *);
int	 journal_runner_alive(int);

/* The local command log (§6.1) rendered from a journal. */
#define JOURNAL_TEXT_LINE_MAX	32768		/* as an output message */
int	 journal_print(const char *, FILE *);

/* The delivery marker: <jobdir>/ack, replaced atomically. */
struct journal_ack {
	uint64_t	 next_seq;	/* first record not yet delivered */
	int		 done;		/* the status was delivered */
};

int	 journal_ack_read(int, struct journal_ack *);
int	 journal_ack_write(int, const struct journal_ack *);
/* sync 0: replaced without fsync (a machine crash may keep the old). */
int	 journal_ack_write_sync(int, const struct journal_ack *, int sync);

/* The jobs directory, <state>/jobs. */
struct journal_job {
	uint64_t	 id;
	int		 running;	/* the runner holds its lock */
	int		 started;	/* a runner created the lock */
	struct journal_ack ack;
};

int	 journal_job_create(const char *, uint64_t *, char *, size_t);
int	 journal_job_path(const char *, uint64_t, char *, size_t);
int	 journal_scan(const char *, struct journal_job **, size_t *);
int	 journal_retain(const char *, size_t);

#endif
