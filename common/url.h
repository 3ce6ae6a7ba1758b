/*
 * url.h: the strict URL parser every process shares (configuration
 * checks, connect-on-behalf, the upgrade request).
 */
#ifndef URL_H
#define URL_H

#include <stdint.h>

struct url {
	char		scheme[8];	/* lower case: ws wss http https */
	char		host[256];	/* no brackets for IPv6 literals */
	uint16_t	port;		/* explicit or the scheme's default */
	int		port_given;
	int		ipv6;		/* host was a [literal] */
	char		userinfo[256];	/* raw, still percent-encoded */
	char		path[1024];	/* path + "?" + query; "/" if empty */
	int		tls;		/* wss or https */
};

/* 0, or -1 with *why set to a static phrase ("scheme must be ..."). */
int	url_parse(const char *, struct url *, const char **why);
/* Host header / CONNECT authority: host[:port], brackets for IPv6. */
void	url_authority(const struct url *, char *buf, size_t size);
/* 1 if host is localhost, 127.0.0.0/8 or ::1. */
int	url_is_loopback(const char *host);

#endif
