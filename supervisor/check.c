/*
 * check.c: --check, a one-shot operator command: is the dashboard's base
 * URL reachable?  ws:// becomes http://, wss:// https://, a trailing /ws
 * or /ws/agent is dropped, and one GET is sent with a 10 s budget (TLS
 * verified as for the real connection).  No token is sent, no upgrade is
 * made, no worker is started.
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>

#include "compat.h"
#include "log.h"
#include "supervisor.h"
#include "url.h"

#define CHECK_TIMEOUT_MS	10000

/* ws://h/x/ws -> http://h/x/ ; the query is dropped. */
int
check_base_url(const char *ws_url, char *out, size_t size)
{
	struct url	 u;
	const char	*why, *scheme;
	char		 path[1024], *q;
	size_t		 n;

	if (url_parse(ws_url, &u, &why) == -1)
		return -1;
	if (strcmp(u.scheme, "ws") == 0 || strcmp(u.scheme, "http") == 0)
		scheme = "http";
	else
		scheme = "https";
	strlcpy(path, u.path, sizeof(path));
	if ((q = strchr(path, '?')) != NULL)
		*q = '\0';
	n = strlen(path);
	if (n >= 9 && strcmp(path + n - 9, "/ws/agent") == 0)
		path[n - 9] = '\0';
	else if (n >= 3 && strcmp(path + n - 3, "/ws") == 0)
		path[n - 3] = '\0';
	if (path[0] == '\0')
		strlcpy(path, "/", sizeof(path));
	url_authority(&u, out, size);
	{
		char	 auth[300];

		strlcpy(auth, out, sizeof(auth));
		if ((size_t)snprintf(out, size, "%s://%s%s", scheme, auth,
		    path) >= size)
			return -1;
	}
	return 0;
}

static long
check_ms_left(const struct timeval *start)
{
	struct timeval	 now;

	gettimeofday(&now, NULL);
	return CHECK_TIMEOUT_MS - ((now.tv_sec - start->tv_sec) * 1000 +
	    (now.tv_usec - start->tv_usec) / 1000);
}

static int
check_dial(const struct url *u, const struct timeval *start)
{
	struct addrinfo	 hints, *res, *ai;
	struct pollfd	 pfd;
	char		 port[8];
	socklen_t	 len = sizeof(int);
	int		 fd = -1, err, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%u", u->port);
	if ((rc = getaddrinfo(u->host, port, &hints, &res)) != 0) {
		fprintf(stderr, "check: cannot resolve %s: %s\n", u->host,
		    gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd == -1)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1 &&
		    errno != EINPROGRESS)
			goto next;
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, check_ms_left(start)) != 1)
			errno = ETIMEDOUT;
		else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
		    err == 0)
			break;
		else
			errno = err;
 next:
		fprintf(stderr, "check: connect %s port %s: %s\n", u->host,
		    port, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd != -1)
		fcntl(fd, F_SETFL, 0);	/* blocking, with socket timeouts */
	return fd;
}

static void
check_timeouts(int fd, const struct timeval *start)
{
	struct timeval	 tv;
	long		 ms = check_ms_left(start);

	if (ms < 1)
		ms = 1;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int
check_endpoint(const struct config *cfg, const char *ca, size_t calen)
{
	const char		*src = cfg->dialect == DIALECT_NIXFLEET ?
				    cfg->url : cfg->server_url;
	char			 base[1400], req[1600], buf[1024], auth[300];
	char			 err[128];
	struct url		 u;
	const char		*why;
	struct timeval		 start;
	mbedtls_net_context	 net;
	mbedtls_ssl_context	 ssl;
	mbedtls_ssl_config	 conf;
	mbedtls_x509_crt	 chain;
	mbedtls_entropy_context	 entropy;
	mbedtls_ctr_drbg_context drbg;
	int			 fd, rc = -1, n, status = 0, got = 0;

	if (check_base_url(src, base, sizeof(base)) == -1 ||
	    url_parse(base, &u, &why) == -1) {
		fprintf(stderr, "check: cannot derive a base URL from %s\n",
		    src);
		return -1;
	}
	printf("check: GET %s\n", base);
	fflush(stdout);
	gettimeofday(&start, NULL);
	if ((fd = check_dial(&u, &start)) == -1)
		return -1;
	check_timeouts(fd, &start);
	url_authority(&u, auth, sizeof(auth));
	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\n"
	    "User-Agent: nixfleet-agent/%s\r\nConnection: close\r\n\r\n",
	    u.path, auth, AGENT_VERSION);

	mbedtls_net_init(&net);
	net.fd = fd;
	mbedtls_ssl_init(&ssl);
	mbedtls_ssl_config_init(&conf);
	mbedtls_x509_crt_init(&chain);
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	if (u.tls) {
		if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func,
		    &entropy, NULL, 0) != 0 ||
		    mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT,
		    MBEDTLS_SSL_TRANSPORT_STREAM,
		    MBEDTLS_SSL_PRESET_DEFAULT) != 0)
			goto done;
		mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
		mbedtls_ssl_conf_min_tls_version(&conf,
		    MBEDTLS_SSL_VERSION_TLS1_2);
#else
		mbedtls_ssl_conf_min_version(&conf, MBEDTLS_SSL_MAJOR_VERSION_3,
		    MBEDTLS_SSL_MINOR_VERSION_3);
#endif
		if (cfg->skip_verify) {
			fprintf(stderr, "check: warning: TLS certificate "
			    "verification disabled\n");
			mbedtls_ssl_conf_authmode(&conf,
			    MBEDTLS_SSL_VERIFY_NONE);
		} else {
			if (ca == NULL || mbedtls_x509_crt_parse(&chain,
			    (const unsigned char *)ca, calen) < 0) {
				fprintf(stderr, "check: no usable CA bundle\n");
				goto done;
			}
			mbedtls_ssl_conf_ca_chain(&conf, &chain, NULL);
			mbedtls_ssl_conf_authmode(&conf,
			    MBEDTLS_SSL_VERIFY_REQUIRED);
		}
		if (mbedtls_ssl_setup(&ssl, &conf) != 0 ||
		    mbedtls_ssl_set_hostname(&ssl, u.host) != 0)
			goto done;
		mbedtls_ssl_set_bio(&ssl, &net, mbedtls_net_send,
		    mbedtls_net_recv, NULL);
		if ((rc = mbedtls_ssl_handshake(&ssl)) != 0) {
			uint32_t	 flags = mbedtls_ssl_get_verify_result(&ssl);

			mbedtls_strerror(rc, err, sizeof(err));
			fprintf(stderr, "check: TLS handshake failed: %s%s\n",
			    err, (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) ?
			    " (unknown CA)" : (flags &
			    MBEDTLS_X509_BADCERT_CN_MISMATCH) ?
			    " (hostname mismatch)" : (flags &
			    MBEDTLS_X509_BADCERT_EXPIRED) ?
			    " (certificate expired)" : "");
			rc = -1;
			goto done;
		}
		if (mbedtls_ssl_write(&ssl, (unsigned char *)req, n) != n)
			goto io;
		while (got < (int)sizeof(buf) - 1) {
			n = mbedtls_ssl_read(&ssl, (unsigned char *)buf + got,
			    sizeof(buf) - 1 - got);
			if (n <= 0)
				break;
			got += n;
			if (memchr(buf, '\n', got) != NULL)
				break;
		}
	} else {
		if (write(fd, req, n) != n)
			goto io;
		while (got < (int)sizeof(buf) - 1) {
			n = read(fd, buf + got, sizeof(buf) - 1 - got);
			if (n <= 0)
				break;
			got += n;
			if (memchr(buf, '\n', got) != NULL)
				break;
		}
	}
	buf[got] = '\0';
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) {
 io:
		fprintf(stderr, "check: no HTTP answer from %s within %d s\n",
		    base, CHECK_TIMEOUT_MS / 1000);
		rc = -1;
		goto done;
	}
	buf[strcspn(buf, "\r\n")] = '\0';
	printf("check: %s: %s\n", base, buf);
	rc = status < 400 ? 0 : -1;
 done:
	if (u.tls)
		mbedtls_ssl_close_notify(&ssl);
	mbedtls_net_free(&net);
	mbedtls_ssl_free(&ssl);
	mbedtls_ssl_config_free(&conf);
	mbedtls_x509_crt_free(&chain);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
	return rc;
}
