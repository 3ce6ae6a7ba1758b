/*
 * journal.c: the job journal's record format, its writer (the runner)
 * and its reader (the exec-worker).  docs/journal.md is the reference.
 *
 * A record is one write(2) to a file opened O_APPEND, so readers see a
 * prefix of it at worst; the CRC catches what a crash of the machine
 * leaves behind (a size that grew over blocks that were never written).
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"

/* ---------------------------------------------------------------- */
/* Format */

static uint32_t	 crc_table[256];

static void
crc_init(void)
{
	uint32_t	 c;

	for (uint32_t i = 0; i < 256; i++) {
		c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? 0xedb88320U ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

/* CRC-32 as in zlib and IEEE 802.3; chain with the previous result. */
uint32_t
journal_crc32(uint32_t crc, const void *p, size_t len)
{
	const uint8_t	*b = p;

	if (crc_table[1] == 0)
		crc_init();
	crc = ~crc;
	while (len-- > 0)
		crc = crc_table[(crc ^ *b++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static void
put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

static void
put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = v >> (8 * i);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint64_t
get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* The CRC covers the whole record with its own field read as zero. */
static uint32_t
rec_crc(const uint8_t *rec, size_t total)
{
	static const uint8_t	 zero[4];
	uint32_t		 crc;

	crc = journal_crc32(0, rec, 8);
	crc = journal_crc32(crc, zero, 4);
	return journal_crc32(crc, rec + 12, total - 12);
}

/* Encode r into buf; returns the record's size, 0 if it does not fit. */
size_t
journal_encode(uint8_t *buf, size_t size, const struct journal_rec *r)
{
	size_t	 total = JOURNAL_HDR_SIZE + r->len;

	if (r->len > JOURNAL_DATA_MAX || size < total)
		return 0;
	put32(buf, JOURNAL_MAGIC);
	put32(buf + 4, r->len);
	put32(buf + 8, 0);		/* crc, below */
	buf[12] = r->type;
	buf[13] = r->flags;
	buf[14] = buf[15] = 0;
	put64(buf + 16, r->seq);
	put64(buf + 24, r->mono_ns);
	put64(buf + 32, r->wall_ns);
	if (r->len > 0)
		memcpy(buf + JOURNAL_HDR_SIZE, r->data, r->len);
	put32(buf + 8, rec_crc(buf, total));
	return total;
}

/*
 * Decode the record at the start of buf.  JOURNAL_SHORT: a prefix of a
 * record (or nothing); JOURNAL_BAD: bytes no writer produces.  On
 * JOURNAL_REC, *used is the record's size and r->data points into buf.
 */
int
journal_decode(const uint8_t *buf, size_t len, struct journal_rec *r,
    size_t *used)
{
	uint32_t	 plen;
	size_t		 total;

	if (len < 4)
		return len == 0 || memcmp(buf, "NFJ1", len) == 0 ?
		    JOURNAL_SHORT : JOURNAL_BAD;
	if (get32(buf) != JOURNAL_MAGIC)
		return JOURNAL_BAD;
	if (len < JOURNAL_HDR_SIZE)
		return JOURNAL_SHORT;
	plen = get32(buf + 4);
	if (plen > JOURNAL_DATA_MAX)
		return JOURNAL_BAD;
	total = JOURNAL_HDR_SIZE + plen;
	if (len < total)
		return JOURNAL_SHORT;
	if (get32(buf + 8) != rec_crc(buf, total))
		return JOURNAL_BAD;
	r->type = buf[12];
	r->flags = buf[13];
	if (r->type < JOURNAL_START || r->type > JOURNAL_TYPE_MAX ||
	    (r->flags & ~JOURNAL_F_EOL) != 0 || buf[14] != 0 || buf[15] != 0)
		return JOURNAL_BAD;
	r->len = plen;
	r->seq = get64(buf + 16);
	r->mono_ns = get64(buf + 24);
	r->wall_ns = get64(buf + 32);
	r->data = buf + JOURNAL_HDR_SIZE;
	*used = total;
	return JOURNAL_REC;
}

int
journal_parse_start(const struct journal_rec *r, struct journal_start *s)
{
	size_t	 n;

	if (r->type != JOURNAL_START || r->len < JOURNAL_START_SIZE) {
		errno = EINVAL;
		return -1;
	}
	s->runner_pid = get32(r->data);
	s->child_pid = get32(r->data + 4);
	s->start_wall_ns = get64(r->data + 8);
	n = r->len - JOURNAL_START_SIZE;
	memcpy(s->name, r->data + JOURNAL_START_SIZE, n);
	s->name[n] = '\0';
	return 0;
}

int
journal_parse_exit(const struct journal_rec *r, struct journal_exit *x)
{
	if (r->type != JOURNAL_EXIT || r->len != JOURNAL_EXIT_SIZE) {
		errno = EINVAL;
		return -1;
	}
	x->how = get32(r->data);
	x->value = (int32_t)get32(r->data + 4);
	x->duration_ns = get64(r->data + 8);
	if (x->how != JOURNAL_EXITED && x->how != JOURNAL_SIGNALED) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- */
/* Writer */

static uint64_t
now_ns(clockid_t clk)
{
	struct timespec	 ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

/* O_EXCL: a journal has one writer, ever; a second runner stops here. */
int
journal_writer_open(struct journal_writer *w, int dirfd)
{
	memset(w, 0, sizeof(*w));
	w->fd = openat(dirfd, JOURNAL_FILE,
	    O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
	if (w->fd == -1)
		return -1;
	w->last_sync_ns = now_ns(CLOCK_MONOTONIC);
	return 0;
}

/*
 * Append one record.  A failed or short write (a full disk) is cut back
 * off, so the file stays a sequence of whole records, and the record is
 * counted as dropped; its sequence number is used by the next one.  The
 * start and exit records are synced at once, the rest at most every
 * JOURNAL_SYNC_MS (journal_sync() from the runner's loop).
 */
int
journal_append(struct journal_writer *w, int type, int flags,
    const void *data, size_t len)
{
	uint8_t			 buf[JOURNAL_REC_MAX];
	struct journal_rec	 r;
	size_t			 n;
	ssize_t			 wr;

	r.seq = w->seq;
	r.mono_ns = now_ns(CLOCK_MONOTONIC);
	r.wall_ns = now_ns(CLOCK_REALTIME);
	r.type = type;
	r.flags = flags;
	r.len = len;
	r.data = data;
	if ((n = journal_encode(buf, sizeof(buf), &r)) == 0) {
		errno = EMSGSIZE;
		return -1;
	}
	while ((wr = write(w->fd, buf, n)) == -1 && errno == EINTR)
		;
	if (wr != (ssize_t)n) {
		if (wr >= 0)
			errno = ENOSPC;
		w->dropped++;
		if (wr > 0) {
			int	 save = errno;

			(void)ftruncate(w->fd, (off_t)w->off);
			errno = save;
		}
		return -1;
	}
	w->seq++;
	w->off += n;
	w->dirty = 1;
	if (w->always_sync || type == JOURNAL_START || type == JOURNAL_EXIT)
		return journal_sync(w, 1);
	return journal_sync(w, 0);
}

/* fdatasync if forced, or if dirty and the interval has passed. */
int
journal_sync(struct journal_writer *w, int force)
{
	uint64_t	 now = now_ns(CLOCK_MONOTONIC);

	if (!w->dirty)
		return 0;
	if (!force && now - w->last_sync_ns <
	    (uint64_t)JOURNAL_SYNC_MS * 1000000)
		return 0;
	w->last_sync_ns = now;
	w->dirty = 0;
	return fdatasync(w->fd);
}

void
journal_writer_close(struct journal_writer *w)
{
	if (w->fd != -1) {
		(void)journal_sync(w, 1);
		close(w->fd);
		w->fd = -1;
	}
}

/* ---------------------------------------------------------------- */
/* Reader */

/*
 * 1: the runner holds <jobdir>/lock; 0: the lock file exists and is
 * free; -1 with ENOENT: no runner has started; -1: error.  The runner
 * locks the file before it gives it this name, so a free lock means a
 * runner that has ended; the probe's shared lock is dropped at once.
 */
int
journal_runner_alive(int dirfd)
{
	int	 fd, rv = 0;

	if ((fd = openat(dirfd, JOURNAL_LOCK, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (flock(fd, LOCK_SH | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK)
			rv = 1;
		else
			rv = -1;
	}
	close(fd);
	return rv;
}

int
journal_reader_open(struct journal_reader *r, const char *jobdir,
    uint64_t from_seq)
{
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	r->from_seq = from_seq;
	r->dirfd = open(jobdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->dirfd == -1)
		return -1;
	if ((r->buf = malloc(JOURNAL_WINDOW)) == NULL) {
		close(r->dirfd);
		return -1;
	}
	return 0;
}

void
journal_reader_close(struct journal_reader *r)
{
	if (r->fd != -1)
		close(r->fd);
	if (r->dirfd != -1)
		close(r->dirfd);
	free(r->buf);
	r->buf = NULL;
	r->fd = r->dirfd = -1;
}

/* Slide the window to the first undecoded byte and read more. */
static ssize_t
reader_fill(struct journal_reader *r)
{
	ssize_t	 n;

	if (r->fd == -1) {
		r->fd = openat(r->dirfd, JOURNAL_FILE, O_RDONLY | O_CLOEXEC);
		if (r->fd == -1)
			return errno == ENOENT ? 0 : -1;
	}
	if (r->pos > 0) {
		memmove(r->buf, r->buf + r->pos, r->fill - r->pos);
		r->off += r->pos;
		r->fill -= r->pos;
		r->pos = 0;
	}
	if (r->fill == JOURNAL_WINDOW)
		return 0;
	while ((n = pread(r->fd, r->buf + r->fill, JOURNAL_WINDOW - r->fill,
	    (off_t)(r->off + r->fill))) == -1 && errno == EINTR)
		;
	if (n > 0)
		r->fill += n;
	return n;
}

/*
 * The next record at or after from_seq.  Records stay valid until the
 * next call.  At a record that is incomplete or fails its check the
 * answer depends on the runner: alive, JOURNAL_WAIT (call again when the
 * follower says so); gone, one last read, then JOURNAL_TRUNCATED: its
 * exit record can never come.
 */
int
journal_read(struct journal_reader *r, struct journal_rec *rec)
{
	size_t	 used;
	ssize_t	 n;
	int	 st, checked = 0, alive;

	for (;;) {
		if (r->ended)
			return JOURNAL_END;
		st = journal_decode(r->buf + r->pos, r->fill - r->pos, rec,
		    &used);
		if (st == JOURNAL_REC && rec->seq != r->next_seq)
			st = JOURNAL_BAD;
		if (st == JOURNAL_REC) {
			r->pos += used;
			r->next_seq++;
			if (rec->type == JOURNAL_EXIT)
				r->ended = 1;
			if (rec->seq < r->from_seq)
				continue;
			return JOURNAL_REC;
		}
		if (st == JOURNAL_SHORT) {
			if ((n = reader_fill(r)) == -1)
				return JOURNAL_ERROR;
			if (n > 0)
				continue;
		}
		if (checked)
			return JOURNAL_TRUNCATED;
		/* Decide before the last read, so no tail is missed. */
		alive = journal_runner_alive(r->dirfd);
		if (alive == -1 && errno == ENOENT && r->fd == -1)
			return JOURNAL_WAIT;	/* not started yet */
		if (alive == -1 && errno != ENOENT)
			return JOURNAL_ERROR;
		if (alive == 1)
			return JOURNAL_WAIT;
		checked = 1;
		if (st == JOURNAL_BAD)
			return JOURNAL_TRUNCATED;
	}
}
