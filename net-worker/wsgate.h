/*
 * wsgate.h: the frame gate between a WebSocket client's transport and
 * wslay.  It reads the raw bytes, checks every frame header before wslay
 * sees any of it (a bad one fails the link with its close code), keeps
 * pings and pongs from wslay, which would queue one pong per ping, counts
 * fragments and control frames, and holds a receive budget per step so
 * that one peer cannot hold the event loop.
 *
 * It hands wslay one frame at a time: a frame's bytes never share a read
 * with the next frame's, so the frame budget holds whatever wslay buffers.
 */
#ifndef WSGATE_H
#define WSGATE_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#define WSGATE_CTRL_MAX		125		/* RFC 6455 5.5 */
#define WSGATE_RECV_BYTES	(64 * 1024)	/* read in one step */
#define WSGATE_RECV_FRAMES	256		/* frames in one step */
#define WSGATE_CTRL_PER_S	100		/* pings + pongs a second */

/* wsgate_read beyond the transport's own results (>0, 0 EOF, <0). */
#define WSGATE_YIELD		(-100)		/* budget spent */
#define WSGATE_FAILED		(-101)		/* fail() was called */

struct wsgate_cb {
	/* Transport read: bytes, 0 at EOF, or a negative code passed on. */
	ssize_t	(*fill)(void *arg, uint8_t *, size_t);
	/* A whole ping came: its payload (the latest ping wins). */
	void	(*ping)(void *arg, const uint8_t *, size_t);
	/* A fragmented message opened (1) or completed (0). */
	void	(*msg)(void *arg, int open);
	/* The link fails: send a close with code; why is printable. */
	void	(*fail)(void *arg, uint16_t code, const char *why);
};

struct wsgate {
	const struct wsgate_cb	*cb;
	void			*arg;
	uint32_t		 max_frags;
	double			 now;		/* for the control frame rate */

	uint8_t			 buf[16384];	/* read, not yet handed on */
	size_t			 off;
	size_t			 len;
	uint8_t			 hdr[14];	/* the current frame's header */
	size_t			 hlen;		/* bytes of it collected */
	size_t			 hneed;		/* its length, 2 until known */
	size_t			 hout;		/* bytes of it given to wslay */
	int			 payload;	/* header done, payload next */
	int			 op;
	uint64_t		 rest;		/* payload bytes still to come */
	int			 swallow;	/* ping or pong: not for wslay */
	uint8_t			 ctl[WSGATE_CTRL_MAX];
	size_t			 ctllen;
	int			 in_msg;	/* a fragmented message is open */
	uint32_t		 frags;
	double			 ctl_t0;	/* control frame rate window */
	uint32_t		 nctl;
	int			 failed;
	size_t			 rbytes;	/* this step's budget, used */
	unsigned int		 rframes;
};

void	wsgate_init(struct wsgate *, uint32_t max_frags,
	    const struct wsgate_cb *, void *arg);
/* A new receive step: a fresh budget; now is the loop's time, seconds. */
void	wsgate_step(struct wsgate *, double now);
/* wslay's recv callback: bytes for wslay, or a code (see above). */
ssize_t	wsgate_read(struct wsgate *, uint8_t *, size_t);

#endif
