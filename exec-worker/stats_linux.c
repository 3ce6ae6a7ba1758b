/*
 * stats_linux.c: the parts of the stats sample that Linux keeps in
 * /proc (stat, meminfo, uptime, filesystems, the mount table) and in
 * /etc/os-release, plus statvfs for each kept mount (§5.3).
 */
#include <sys/statvfs.h>

#include <inttypes.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "stats.h"

#define STATS_TEXT_MAX	65536

/* A small /proc file as text; "" when unreadable. */
static char *
stats_slurp(const char *path)
{
	FILE	*f;
	char	*buf;
	size_t	 n;

	if ((buf = malloc(STATS_TEXT_MAX)) == NULL)
		return NULL;
	buf[0] = '\0';
	if ((f = fopen(path, "re")) == NULL)
		return buf;
	n = fread(buf, 1, STATS_TEXT_MAX - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

int
stats_read_cpu(struct stats_cpu *c)
{
	char	*t = stats_slurp("/proc/stat");
	int	 rc;

	if (t == NULL)
		return -1;
	rc = stats_parse_cpu(t, c);
	free(t);
	return rc;
}

void
stats_os_mem(struct ipc_stats *s)
{
	char	*t = stats_slurp("/proc/meminfo");

	if (t != NULL)
		(void)stats_parse_meminfo(t, s);
	free(t);
}

void
stats_os_release(struct ipc_stats *s)
{
	char	*t = stats_slurp("/etc/os-release");

	if (t != NULL)
		stats_parse_os_release(t, s);
	free(t);
}

uint64_t
stats_os_uptime(void)
{
	char	*t = stats_slurp("/proc/uptime");
	double	 up = 0;

	if (t == NULL || sscanf(t, "%lf", &up) != 1 || up < 0)
		up = 0;
	free(t);
	return (uint64_t)up;
}

void
stats_os_disks(struct ipc_stats *s)
{
	struct statvfs	 vfs;
	struct mntent	 ent, *m;
	struct ipc_stats_disk *d;
	char		 buf[4096], *fs;
	FILE		*f;
	uint64_t	 used, avail;

	fs = stats_slurp("/proc/filesystems");
	if (fs == NULL || (f = setmntent("/proc/self/mounts", "re")) == NULL) {
		free(fs);
		return;
	}
	while (s->ndisk < IPC_STATS_DISK_MAX &&
	    (m = getmntent_r(f, &ent, buf, sizeof(buf))) != NULL) {
		if (m->mnt_type[0] == '\0' || m->mnt_dir[0] == '\0' ||
		    stats_fs_nodev(fs, m->mnt_type) ||
		    strncmp(m->mnt_dir, "/snap/", 6) == 0 ||
		    strncmp(m->mnt_dir, "/var/snap/", 10) == 0 ||
		    statvfs(m->mnt_dir, &vfs) == -1)
			continue;
		d = &s->disk[s->ndisk++];
		strlcpy(d->mount, m->mnt_dir, sizeof(d->mount));
		strlcpy(d->fsname, m->mnt_fsname, sizeof(d->fsname));
		strlcpy(d->fstype, m->mnt_type, sizeof(d->fstype));
		used = (uint64_t)(vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize;
		avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
		d->used = used;
		d->avail = avail;
		d->capacity_centi = used + avail == 0 ? 0 :
		    (uint32_t)((double)used / (double)(used + avail) * 10000);
	}
	endmntent(f);
	free(fs);
}

