/*
 * tls.c: mbedTLS client sessions for the net-worker.
 *
 * The socket is non-blocking and owned by conn.c; the BIO callbacks
 * below map EAGAIN to MBEDTLS_ERR_SSL_WANT_* so a handshake or a record
 * resumes on the next event.  Writes use sendmsg(MSG_NOSIGNAL), so a
 * dead peer is an error code, never a SIGPIPE.
 */
#include <sys/socket.h>
#include <sys/uio.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/asn1.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#include <psa/crypto.h>
#endif

#include "log.h"
#include "tls.h"

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#define TLS_FIELD(s, f)	((s)->MBEDTLS_PRIVATE(f))
#else
#define TLS_FIELD(s, f)	((s)->f)
#endif

#define TLS_PINS_MAX	8

struct tls_config {
	mbedtls_ssl_config	 conf;
	mbedtls_x509_crt	 ca;
	int			 skip_verify;
	uint8_t			 pins[TLS_PINS_MAX][TLS_PIN_LEN];
	int			 npins;
};

struct tls {
	mbedtls_ssl_context	 ssl;
	struct tls_config	*cfg;
	int			 fd;
	int			 sys_errno;	/* from the last BIO failure */
	int			 eof;		/* the BIO saw EOF */
	int			 done;		/* handshake complete */
	uint8_t			 ip[16];	/* host as an address */
	size_t			 iplen;		/* 0: host is a name */
	char			 why[160];
	char			 desc[128];
};

static mbedtls_entropy_context	 tls_entropy;
static mbedtls_ctr_drbg_context	 tls_drbg;
static int			 tls_seeded;

int
tls_global_init(void)
{
	static const char	 pers[] = "nixfleet-agent net";
	int			 rv;

	if (tls_seeded)
		return 0;
#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_PSA_CRYPTO_C)
	/* TLS 1.3 and the PSA-based key exchange draw from PSA's RNG. */
	if (psa_crypto_init() != PSA_SUCCESS) {
		log_warnx("%s: psa_crypto_init failed", __func__);
		return -1;
	}
#endif
	mbedtls_entropy_init(&tls_entropy);
	mbedtls_ctr_drbg_init(&tls_drbg);
	if ((rv = mbedtls_ctr_drbg_seed(&tls_drbg, mbedtls_entropy_func,
	    &tls_entropy, (const unsigned char *)pers, sizeof(pers) - 1)) !=
	    0) {
		log_warnx("%s: DRBG seed failed: -0x%04x", __func__, -rv);
		return -1;
	}
	/*
	 * A reseed would read entropy from inside the sandbox, where the
	 * getrandom fallback (/dev/urandom) does not exist.  AES-256
	 * CTR_DRBG stays sound far beyond INT_MAX requests (SP 800-90A
	 * allows 2^48), so the one seed lasts the process's life.
	 */
	mbedtls_ctr_drbg_set_reseed_interval(&tls_drbg, INT_MAX);
	tls_seeded = 1;
	return 0;
}

void
tls_random(void *buf, size_t len)
{
	uint8_t	*p = buf;
	size_t	 n;

	if (!tls_seeded)
		fatalx("%s: DRBG not seeded", __func__);
	for (; len > 0; p += n, len -= n) {
		n = len < MBEDTLS_CTR_DRBG_MAX_REQUEST ? len :
		    MBEDTLS_CTR_DRBG_MAX_REQUEST;
		if (mbedtls_ctr_drbg_random(&tls_drbg, p, n) != 0)
			fatalx("%s: DRBG failed", __func__);
	}
}

uint32_t
tls_random32(void)
{
	uint32_t	 v;

	tls_random(&v, sizeof(v));
	return v;
}

/* PEM if it looks like PEM; else one or more DER certificates. */
static int
tls_parse_ca(mbedtls_x509_crt *chain, const uint8_t *ca, size_t calen)
{
	const char	 begin[] = "-----BEGIN ";
	unsigned char	*p, *end, *copy;
	size_t		 len;
	int		 rv;

	if (calen >= sizeof(begin) - 1 && memmem(ca, calen, begin,
	    sizeof(begin) - 1) != NULL) {
		/* mbedTLS reads PEM only with the NUL counted in. */
		if ((copy = malloc(calen + 1)) == NULL)
			fatal(NULL);
		memcpy(copy, ca, calen);
		copy[calen] = '\0';
		len = calen + (ca[calen - 1] != '\0');
		rv = mbedtls_x509_crt_parse(chain, copy, len);
		free(copy);
		/* > 0: that many certificates were skipped, not fatal. */
		if (rv > 0)
			log_debug("%s: %d CA certificates not understood",
			    __func__, rv);
		return rv < 0 ? rv : 0;
	}
	p = (unsigned char *)ca;
	end = p + calen;
	while (p < end) {
		unsigned char	*start = p;

		if ((rv = mbedtls_asn1_get_tag(&p, end, &len,
		    MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)) != 0)
			return rv;
		p += len;
		if ((rv = mbedtls_x509_crt_parse_der(chain, start,
		    p - start)) != 0)
			return rv;
	}
	return 0;
}

struct tls_config *
tls_config_new(const uint8_t *ca, size_t calen, int skip_verify,
    const uint8_t (*pins)[TLS_PIN_LEN], int npins, const char **why)
{
	struct tls_config	*cfg;
	int			 rv;

	if (!tls_seeded) {
		*why = "DRBG not seeded";
		return NULL;
	}
	if (npins < 0 || npins > TLS_PINS_MAX) {
		*why = "too many pins";
		return NULL;
	}
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL)
		fatal(NULL);
	mbedtls_ssl_config_init(&cfg->conf);
	mbedtls_x509_crt_init(&cfg->ca);
	cfg->skip_verify = skip_verify;
	if (npins > 0)
		memcpy(cfg->pins, pins, npins * sizeof(pins[0]));
	cfg->npins = npins;

	if (ca != NULL && calen > 0 && tls_parse_ca(&cfg->ca, ca, calen) !=
	    0) {
		*why = "CA bundle not understood";
		goto fail;
	}
	if (!skip_verify && cfg->ca.raw.p == NULL) {
		*why = "no CA certificates";
		goto fail;
	}
	if ((rv = mbedtls_ssl_config_defaults(&cfg->conf, MBEDTLS_SSL_IS_CLIENT,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
		*why = "TLS configuration failed";
		goto fail;
	}
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	mbedtls_ssl_conf_min_tls_version(&cfg->conf,
	    MBEDTLS_SSL_VERSION_TLS1_2);
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
	mbedtls_ssl_conf_max_tls_version(&cfg->conf,
	    MBEDTLS_SSL_VERSION_TLS1_3);
#endif
#else
	mbedtls_ssl_conf_min_version(&cfg->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_3);
#endif
	mbedtls_ssl_conf_rng(&cfg->conf, mbedtls_ctr_drbg_random, &tls_drbg);
	mbedtls_ssl_conf_authmode(&cfg->conf, skip_verify ?
	    MBEDTLS_SSL_VERIFY_NONE : MBEDTLS_SSL_VERIFY_REQUIRED);
	if (cfg->ca.raw.p != NULL)
		mbedtls_ssl_conf_ca_chain(&cfg->conf, &cfg->ca, NULL);
	return cfg;
 fail:
	tls_config_free(cfg);
	return NULL;
}

void
tls_config_free(struct tls_config *cfg)
{
	if (cfg == NULL)
		return;
	mbedtls_ssl_config_free(&cfg->conf);
	mbedtls_x509_crt_free(&cfg->ca);
	explicit_bzero(cfg->pins, sizeof(cfg->pins));
	free(cfg);
}

static int
tls_bio_send(void *arg, const unsigned char *buf, size_t len)
{
	struct tls	*t = arg;
	struct iovec	 iov;
	struct msghdr	 msg;
	ssize_t		 n;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = (void *)buf;
	iov.iov_len = len > INT_MAX ? INT_MAX : len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	do {
		n = sendmsg(t->fd, &msg, MSG_NOSIGNAL);
	} while (n == -1 && errno == EINTR);
	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	t->sys_errno = errno;
	return errno == EPIPE || errno == ECONNRESET ?
	    MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_SEND_FAILED;
}

static int
tls_bio_recv(void *arg, unsigned char *buf, size_t len)
{
	struct tls	*t = arg;
	ssize_t		 n;

	do {
		n = read(t->fd, buf, len > INT_MAX ? INT_MAX : len);
	} while (n == -1 && errno == EINTR);
	if (n > 0)
		return (int)n;
	if (n == 0) {
		t->eof = 1;
		return 0;	/* mbedTLS: MBEDTLS_ERR_SSL_CONN_EOF */
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return MBEDTLS_ERR_SSL_WANT_READ;
	t->sys_errno = errno;
	return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET :
	    MBEDTLS_ERR_NET_RECV_FAILED;
}

/*
 * mbedTLS 2.28 compares the host name with every subjectAltName entry
 * as text (and with the CN when there is no SAN), so an IP literal only
 * matches a dNSName spelling it, never an iPAddress entry.  For IP
 * literals it gets no name at all, and this callback requires an
 * iPAddress entry with the same bytes, as RFC 6125 and browsers do.
 */
static int
tls_verify_cb(void *arg, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	struct tls			*t = arg;
	const mbedtls_x509_sequence	*san;

	if (depth != 0 || t->iplen == 0)
		return 0;
	for (san = &crt->subject_alt_names; san != NULL; san = san->next)
		if (san->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7) &&
		    san->buf.len == t->iplen &&
		    memcmp(san->buf.p, t->ip, t->iplen) == 0)
			return 0;
	*flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
	return 0;
}

struct tls *
tls_new(struct tls_config *cfg, int fd, const char *host)
{
	struct tls	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		fatal(NULL);
	t->cfg = cfg;
	t->fd = fd;
	mbedtls_ssl_init(&t->ssl);
	if (mbedtls_ssl_setup(&t->ssl, &cfg->conf) != 0)
		fatalx("%s: mbedtls_ssl_setup", __func__);
	if (inet_pton(AF_INET, host, t->ip) == 1)
		t->iplen = 4;
	else if (inet_pton(AF_INET6, host, t->ip) == 1)
		t->iplen = 16;
	/*
	 * A name goes to SNI and the certificate check.  An address must
	 * not be sent as SNI (RFC 6066 section 3); it is checked by
	 * tls_verify_cb instead.
	 */
	if (mbedtls_ssl_set_hostname(&t->ssl, t->iplen ? NULL : host) != 0)
		fatalx("%s: mbedtls_ssl_set_hostname", __func__);
	mbedtls_ssl_set_verify(&t->ssl, tls_verify_cb, t);
	mbedtls_ssl_set_bio(&t->ssl, t, tls_bio_send, tls_bio_recv, NULL);
	return t;
}

void
tls_free(struct tls *t)
{
	if (t == NULL)
		return;
	mbedtls_ssl_free(&t->ssl);
	free(t);
}

static const struct {
	int		 code;
	const char	*name;
} tls_alerts[] = {
	{ 0, "close_notify" }, { 10, "unexpected_message" },
	{ 20, "bad_record_mac" }, { 22, "record_overflow" },
	{ 40, "handshake_failure" }, { 42, "bad_certificate" },
	{ 43, "unsupported_certificate" }, { 44, "certificate_revoked" },
	{ 45, "certificate_expired" }, { 46, "certificate_unknown" },
	{ 47, "illegal_parameter" }, { 48, "unknown_ca" },
	{ 49, "access_denied" }, { 50, "decode_error" },
	{ 51, "decrypt_error" }, { 70, "protocol_version" },
	{ 71, "insufficient_security" }, { 80, "internal_error" },
	{ 86, "inappropriate_fallback" }, { 90, "user_canceled" },
	{ 109, "missing_extension" }, { 110, "unsupported_extension" },
	{ 112, "unrecognized_name" }, { 116, "certificate_required" },
	{ 120, "no_application_protocol" },
};

static void
tls_alert_why(struct tls *t)
{
	const unsigned char	*msg = TLS_FIELD(&t->ssl, in_msg);
	const char		*name = "unknown";
	size_t			 i;
	int			 code;

	/* mbedTLS leaves the alert record in in_msg: level, description. */
	if (msg == NULL) {
		snprintf(t->why, sizeof(t->why), "alert received");
		return;
	}
	code = msg[1];
	for (i = 0; i < nitems(tls_alerts); i++)
		if (tls_alerts[i].code == code)
			name = tls_alerts[i].name;
	snprintf(t->why, sizeof(t->why), "alert received: %d (%s)", code,
	    name);
}

static void
tls_verify_why(struct tls *t)
{
	uint32_t	 flags = mbedtls_ssl_get_verify_result(&t->ssl);
	char		 info[256], *nl;

	/* The most fundamental problem first: trust, then time, then name. */
	if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED)
		snprintf(t->why, sizeof(t->why), "unknown CA");
	else if (flags & MBEDTLS_X509_BADCERT_REVOKED)
		snprintf(t->why, sizeof(t->why), "certificate revoked");
	else if (flags & MBEDTLS_X509_BADCERT_EXPIRED)
		snprintf(t->why, sizeof(t->why), "certificate expired");
	else if (flags & MBEDTLS_X509_BADCERT_FUTURE)
		snprintf(t->why, sizeof(t->why), "certificate not yet valid");
	else if (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH)
		snprintf(t->why, sizeof(t->why), "hostname mismatch");
	else {
		if (mbedtls_x509_crt_verify_info(info, sizeof(info), "",
		    flags) < 0)
			info[0] = '\0';
		if ((nl = strchr(info, '\n')) != NULL)
			*nl = '\0';
		snprintf(t->why, sizeof(t->why), "certificate rejected: %s "
		    "(flags 0x%x)", info, flags);
	}
}

/* Turn an mbedTLS error into words, once, for tls_error(). */
static void
tls_set_why(struct tls *t, int rv)
{
	char	 buf[128];

	if (rv == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED)
		tls_verify_why(t);
	else if (rv == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE)
		tls_alert_why(t);
#ifdef MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION
	else if (rv == MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION)
#else
	else if (rv == MBEDTLS_ERR_SSL_BAD_PROTOCOL_VERSION)
#endif
		snprintf(t->why, sizeof(t->why), "server does not offer TLS "
		    "1.2 or newer");
	else if (rv == MBEDTLS_ERR_SSL_INVALID_RECORD)
		snprintf(t->why, sizeof(t->why), "invalid TLS record (is the "
		    "server speaking TLS?)");
	else if (rv == MBEDTLS_ERR_SSL_CONN_EOF || (rv ==
	    MBEDTLS_ERR_NET_RECV_FAILED && t->eof))
		snprintf(t->why, sizeof(t->why), t->done ? "connection closed "
		    "by peer" : "connection closed during the TLS handshake");
	else if ((rv == MBEDTLS_ERR_NET_CONN_RESET || rv ==
	    MBEDTLS_ERR_NET_SEND_FAILED || rv == MBEDTLS_ERR_NET_RECV_FAILED) &&
	    t->sys_errno != 0) {
		snprintf(t->why, sizeof(t->why), "%s", strerror(t->sys_errno));
		if (t->why[0] >= 'A' && t->why[0] <= 'Z')
			t->why[0] += 'a' - 'A';
	} else {
		mbedtls_strerror(rv, buf, sizeof(buf));
		snprintf(t->why, sizeof(t->why), "TLS error: %s (-0x%04x)",
		    buf, (unsigned int)-rv);
	}
}

static int
tls_check_pins(struct tls *t)
{
	const mbedtls_x509_crt	*crt;
	unsigned char		 der[4096], md[32];
	int			 i, n, rv;

	if (t->cfg->npins == 0)
		return 0;
	if ((crt = mbedtls_ssl_get_peer_cert(&t->ssl)) == NULL) {
		snprintf(t->why, sizeof(t->why), "pin mismatch (no "
		    "certificate)");
		return -1;
	}
	/* mbedtls_pk_write_pubkey_der writes at the end of the buffer. */
	if ((n = mbedtls_pk_write_pubkey_der((mbedtls_pk_context *)&crt->pk,
	    der, sizeof(der))) <= 0) {
		snprintf(t->why, sizeof(t->why), "pin mismatch (key not "
		    "encodable)");
		return -1;
	}
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	rv = mbedtls_sha256(der + sizeof(der) - n, n, md, 0);
#else
	rv = mbedtls_sha256_ret(der + sizeof(der) - n, n, md, 0);
#endif
	if (rv != 0)
		fatalx("%s: sha256", __func__);
	for (i = 0; i < t->cfg->npins; i++)
		if (memcmp(md, t->cfg->pins[i], sizeof(md)) == 0)
			return 0;
	snprintf(t->why, sizeof(t->why), "pin mismatch");
	return -1;
}

int
tls_handshake(struct tls *t)
{
	int	 rv;

	rv = mbedtls_ssl_handshake(&t->ssl);
	if (rv == MBEDTLS_ERR_SSL_WANT_READ)
		return TLS_WANT_READ;
	if (rv == MBEDTLS_ERR_SSL_WANT_WRITE)
		return TLS_WANT_WRITE;
	if (rv != 0) {
		tls_set_why(t, rv);
		return -1;
	}
	if (tls_check_pins(t) == -1)
		return -1;
	t->done = 1;
	snprintf(t->desc, sizeof(t->desc), "%s %s",
	    mbedtls_ssl_get_version(&t->ssl),
	    mbedtls_ssl_get_ciphersuite(&t->ssl));
	return 0;
}

ssize_t
tls_read(struct tls *t, void *buf, size_t len)
{
	int	 rv;

	for (;;) {
		rv = mbedtls_ssl_read(&t->ssl, buf, len > INT_MAX ? INT_MAX :
		    len);
		if (rv > 0)
			return rv;
		switch (rv) {
		case 0:
		case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
		case MBEDTLS_ERR_SSL_CONN_EOF:
			return 0;
		case MBEDTLS_ERR_SSL_WANT_READ:
			return TLS_WANT_READ;
		case MBEDTLS_ERR_SSL_WANT_WRITE:
			return TLS_WANT_WRITE;
#ifdef MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET
		case MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET:
			continue;	/* TLS 1.3: not data, read on */
#endif
		default:
			tls_set_why(t, rv);
			return -1;
		}
	}
}

ssize_t
tls_write(struct tls *t, const void *buf, size_t len)
{
	int	 rv;

	rv = mbedtls_ssl_write(&t->ssl, buf, len > INT_MAX ? INT_MAX : len);
	if (rv > 0)
		return rv;
	if (rv == MBEDTLS_ERR_SSL_WANT_READ)
		return TLS_WANT_READ;
	if (rv == MBEDTLS_ERR_SSL_WANT_WRITE)
		return TLS_WANT_WRITE;
	if (rv == 0)
		rv = MBEDTLS_ERR_NET_SEND_FAILED;
	tls_set_why(t, rv);
	return -1;
}

size_t
tls_pending(const struct tls *t)
{
	return mbedtls_ssl_get_bytes_avail(&t->ssl);
}

void
tls_close_notify(struct tls *t)
{
	/* One try: a full socket buffer means the peer is not reading. */
	(void)mbedtls_ssl_close_notify(&t->ssl);
}

const char *
tls_error(const struct tls *t)
{
	return t->why[0] != '\0' ? t->why : "TLS error";
}

const char *
tls_describe(const struct tls *t)
{
	return t->desc;
}
