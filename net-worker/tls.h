/*
 * tls.h: the net-worker's TLS client (mbedTLS), over a socket someone
 * else connected.  Nothing here opens a file or a socket: the CA chain
 * arrives as bytes and the DRBG is seeded before the sandbox closes.
 */
#ifndef TLS_H
#define TLS_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#define TLS_WANT_READ	(-2)	/* retry when the socket is readable */
#define TLS_WANT_WRITE	(-3)	/* retry when the socket is writable */
#define TLS_PIN_LEN	32	/* SHA-256 of the DER SubjectPublicKeyInfo */

struct tls_config;
struct tls;

/*
 * Seed the process's DRBG from the kernel (getrandom).  Once, at start,
 * before the sandbox: afterwards nothing here reads entropy again.
 * Returns 0, or -1 if the kernel gave none.
 */
int		 tls_global_init(void);
/* Random bytes from the DRBG; fatalx if tls_global_init did not run. */
void		 tls_random(void *, size_t);
uint32_t	 tls_random32(void);

/*
 * The settings every attempt shares.  ca: a PEM bundle (NUL-terminated
 * or not) or DER certificates, back to back; may be NULL/0 only with
 * skip_verify.  pins: SHA-256 of the leaf's SPKI, any one must match;
 * they apply with skip_verify too.  NULL with *why on error.
 */
struct tls_config *tls_config_new(const uint8_t *ca, size_t calen,
		    int skip_verify, const uint8_t (*pins)[TLS_PIN_LEN],
		    int npins, const char **why);
void		 tls_config_free(struct tls_config *);

/*
 * One client session over the connected non-blocking socket fd, for
 * host: a name (SNI and certificate name check), or an IPv4/IPv6
 * literal without brackets (no SNI; checked against the iPAddress
 * entries of the certificate's subjectAltName).  Does not own fd.
 */
struct tls	*tls_new(struct tls_config *, int fd, const char *host);
void		 tls_free(struct tls *);
/* 0 when done, TLS_WANT_READ/TLS_WANT_WRITE, -1: see tls_error. */
int		 tls_handshake(struct tls *);
/*
 * Bytes read (> 0), 0 when the peer closed (close_notify or EOF),
 * TLS_WANT_READ/TLS_WANT_WRITE, or -1: see tls_error.
 */
ssize_t		 tls_read(struct tls *, void *, size_t);
/*
 * Bytes written (> 0), TLS_WANT_READ/TLS_WANT_WRITE (call again with
 * the same buffer), or -1: see tls_error.
 */
ssize_t		 tls_write(struct tls *, const void *, size_t);
/* Decrypted bytes mbedTLS holds that the socket will not signal. */
size_t		 tls_pending(const struct tls *);
/* Best effort close_notify; never blocks. */
void		 tls_close_notify(struct tls *);
/*
 * Why the last call failed, in words: "unknown CA", "hostname
 * mismatch", "certificate expired", "certificate not yet valid", "pin
 * mismatch", "alert received: 40 (handshake_failure)", "connection
 * reset by peer", else mbedTLS's own text.
 */
const char	*tls_error(const struct tls *);
/* "TLSv1.2 TLS-ECDHE-..." once the handshake is done, for the log. */
const char	*tls_describe(const struct tls *);

#endif
