/*
 * stats.c: the §5.3 stats sample, the portable part: the text parsers,
 * addresses and networks from getifaddrs, uname, load and the assembly.
 * What the OS keeps elsewhere is in stats_linux.c (or stats_darwin.c).
 * Nothing sleeps: the CPU share is the delta between two readings taken
 * by the caller's timer.
 */
#include <sys/socket.h>
#include <sys/utsname.h>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "stats.h"

int
stats_parse_cpu(const char *text, struct stats_cpu *c)
{
	uint64_t	v[8];
	const char	*p;

	for (p = text; p != NULL; p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (strncmp(p, "cpu ", 4) == 0)
			break;
	if (p == NULL || sscanf(p + 4, "%" SCNu64 " %" SCNu64 " %" SCNu64
	    " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64,
	    &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) != 8)
		return -1;
	/* idle = idle + iowait; total = user..steal (guest is in user). */
	c->total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
	c->busy = c->total - v[3] - v[4];
	return 0;
}

uint32_t
stats_cpu_usage(const struct stats_cpu *a, const struct stats_cpu *b)
{
	uint64_t	dt, db;

	if (b->total <= a->total || b->busy < a->busy)
		return 0;
	dt = b->total - a->total;
	db = b->busy - a->busy;
	if (db > dt)
		db = dt;
	return (uint32_t)((db * 10000 + dt / 2) / dt);
}

static int
stats_kb(const char *text, const char *key, uint64_t *out)
{
	const char	*p = text;
	size_t		 kl = strlen(key);

	for (; p != NULL; p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (strncmp(p, key, kl) == 0 && p[kl] == ':')
			return sscanf(p + kl + 1, "%" SCNu64, out) == 1 ? 0 : -1;
	return -1;
}

int
stats_parse_meminfo(const char *text, struct ipc_stats *s)
{
	uint64_t	total, mfree, buffers = 0, cached = 0, srecl = 0, used;

	if (stats_kb(text, "MemTotal", &total) == -1 ||
	    stats_kb(text, "MemFree", &mfree) == -1)
		return -1;
	(void)stats_kb(text, "Buffers", &buffers);
	(void)stats_kb(text, "Cached", &cached);
	(void)stats_kb(text, "SReclaimable", &srecl);
	used = total - mfree - buffers - cached - srecl;
	/* Never negative, whatever the kernel's accounting says. */
	if (mfree + buffers + cached + srecl > total)
		used = 0;
	s->mem_total = total * 1024;
	s->mem_free = mfree * 1024;
	s->mem_used = used * 1024;
	s->flags |= IPC_STATS_HAVE_MEM;
	return 0;
}

static void
stats_os_value(const char *text, const char *key, char *out, size_t size)
{
	const char	*p = text, *v, *e;
	size_t		 kl = strlen(key), n;

	out[0] = '\0';
	for (; p != NULL; p = strchr(p, '\n'), p = p ? p + 1 : p) {
		if (strncmp(p, key, kl) != 0 || p[kl] != '=')
			continue;
		v = p + kl + 1;
		e = strchr(v, '\n');
		n = e != NULL ? (size_t)(e - v) : strlen(v);
		if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0])
			v++, n -= 2;
		if (n >= size)
			n = size - 1;
		memcpy(out, v, n);
		out[n] = '\0';
		return;
	}
}

void
stats_parse_os_release(const char *text, struct ipc_stats *s)
{
	stats_os_value(text, "ID", s->platform, sizeof(s->platform));
	stats_os_value(text, "VERSION_ID", s->release, sizeof(s->release));
}

int
stats_fs_nodev(const char *text, const char *fstype)
{
	const char	*p = text, *e, *name;
	size_t		 n, fl = strlen(fstype);

	for (; p != NULL && *p != '\0'; p = e != NULL ? e + 1 : NULL) {
		e = strchr(p, '\n');
		n = e != NULL ? (size_t)(e - p) : strlen(p);
		if ((name = memchr(p, '\t', n)) == NULL)
			continue;
		name++;
		if ((size_t)(p + n - name) == fl &&
		    memcmp(name, fstype, fl) == 0)
			return strncmp(p, "nodev", 5) == 0;
	}
	/*
	 * Not in the kernel's list (fuse subtypes such as fuse.sshfs): not
	 * marked nodev there, so kept (socketio 5.3).
	 */
	return 0;
}

int
stats_network(int family, const void *addr, unsigned prefix, char *out,
    size_t size)
{
	unsigned char	b[16];
	size_t		n = family == AF_INET ? 4 : 16, i;
	char		txt[INET6_ADDRSTRLEN];

	if (prefix > n * 8)
		return -1;
	memcpy(b, addr, n);
	for (i = 0; i < n; i++) {
		if (prefix >= (i + 1) * 8)
			continue;
		if (prefix <= i * 8)
			b[i] = 0;
		else
			b[i] &= (unsigned char)(0xff << (8 - (prefix - i * 8)));
	}
	if (inet_ntop(family, b, txt, sizeof(txt)) == NULL)
		return -1;
	snprintf(out, size, "%s/%u", txt, prefix);
	return 0;
}

static unsigned
stats_prefix(const unsigned char *m, size_t n)
{
	unsigned	bits = 0;
	size_t		i;
	int		k;

	for (i = 0; i < n; i++)
		for (k = 7; k >= 0; k--)
			bits += (m[i] >> k) & 1;
	return bits;
}

int
stats_addr_class(int family, const unsigned char *a)
{
	if (family == AF_INET) {
		if (a[0] == 127 || (a[0] == 169 && a[1] == 254))
			return -1;
		return a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) ||
		    (a[0] == 192 && a[1] == 168);
	}
	if (IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)(const void *)a) ||
	    (a[0] == 0xfe && (a[1] & 0xc0) == 0x80))
		return -1;
	return (a[0] & 0xfe) == 0xfc;
}

static void
stats_iface_add(struct ipc_stats *s, const struct ifaddrs *ifa)
{
	const unsigned char	*a, *m = NULL;
	struct ipc_stats_iface	*e;
	int			 fam = ifa->ifa_addr->sa_family, internal;
	size_t			 n;

	if (fam == AF_INET) {
		a = (const unsigned char *)&((const struct sockaddr_in *)
		    (const void *)ifa->ifa_addr)->sin_addr;
		if (ifa->ifa_netmask != NULL)
			m = (const unsigned char *)&((const struct sockaddr_in *)
			    (const void *)ifa->ifa_netmask)->sin_addr;
		n = 4;
	} else {
		a = ((const struct sockaddr_in6 *)(const void *)
		    ifa->ifa_addr)->sin6_addr.s6_addr;
		if (ifa->ifa_netmask != NULL)
			m = ((const struct sockaddr_in6 *)(const void *)
			    ifa->ifa_netmask)->sin6_addr.s6_addr;
		n = 16;
	}
	if ((internal = stats_addr_class(fam, a)) == -1)
		return;
	e = &s->iface[s->niface];
	memset(e, 0, sizeof(*e));
	strlcpy(e->name, ifa->ifa_name, sizeof(e->name));
	e->family = fam == AF_INET ? 4 : 6;
	e->internal = (uint8_t)internal;
	if (inet_ntop(fam, a, e->address, sizeof(e->address)) == NULL ||
	    stats_network(fam, a, m != NULL ? stats_prefix(m, n) :
	    (unsigned)n * 8, e->cidr, sizeof(e->cidr)) == -1)
		return;
	s->niface++;
}

static void
stats_ifaces(struct ipc_stats *s)
{
	struct ifaddrs	*all, *ifa;

	if (getifaddrs(&all) == -1)
		return;
	for (ifa = all; ifa != NULL && s->niface < IPC_STATS_IFACE_MAX;
	    ifa = ifa->ifa_next) {
		if (ifa->ifa_addr == NULL || (ifa->ifa_flags & IFF_LOOPBACK) ||
		    (ifa->ifa_addr->sa_family != AF_INET &&
		    ifa->ifa_addr->sa_family != AF_INET6))
			continue;
		stats_iface_add(s, ifa);
	}
	freeifaddrs(all);
}

void
stats_rfc3339(int64_t t, char out[32])
{
	struct tm	tm;
	time_t		tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		strlcpy(out, "1970-01-01T00:00:00Z", 32);
}

void
stats_collect(struct ipc_stats *s, const struct stats_cpu *prev,
    struct stats_cpu *cur, const char *version)
{
	struct utsname	 u;
	double		 load[3];
	long		 n;
	int		 i;

	memset(s, 0, sizeof(*s));
	s->ts = (int64_t)time(NULL);
	if (stats_read_cpu(cur) == 0)
		s->cpu_centi = stats_cpu_usage(prev, cur);
	stats_os_mem(s);
	if (getloadavg(load, 3) == 3)
		for (i = 0; i < 3; i++)
			s->load_centi[i] = (uint32_t)(load[i] * 100 + 0.5);
	stats_os_disks(s);
	stats_ifaces(s);
	if (gethostname(s->hostname, sizeof(s->hostname) - 1) == -1)
		s->hostname[0] = '\0';
	stats_os_release(s);
	if (uname(&u) == 0) {
		strlcpy(s->arch, u.machine, sizeof(s->arch));
		strlcpy(s->kernel, u.release, sizeof(s->kernel));
	}
	if ((n = sysconf(_SC_NPROCESSORS_ONLN)) > 0)
		s->cpus = (uint32_t)n;
	s->uptime_s = stats_os_uptime();
	if (s->uptime_s > 0)
		s->last_reboot = s->ts - (int64_t)s->uptime_s;
	strlcpy(s->agent_version, version != NULL ? version : "",
	    sizeof(s->agent_version));
}
