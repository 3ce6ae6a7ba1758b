/*
 * stats_darwin.c: the per-OS parts of the stats sample on macOS, where
 * there is no /proc: Mach host statistics for CPU and memory, sysctl for
 * the boot time and product version, getmntinfo for local mounts.
 * meson selects this file instead of stats_linux.c on darwin hosts; it
 * is not built on Linux.
 */
#include <sys/param.h>
#include <sys/mount.h>
#include <sys/sysctl.h>
#include <sys/time.h>

#include <mach/mach.h>
#include <string.h>
#include <time.h>

#include "compat.h"
#include "stats.h"

int
stats_read_cpu(struct stats_cpu *c)
{
	host_cpu_load_info_data_t	info;
	mach_msg_type_number_t		count = HOST_CPU_LOAD_INFO_COUNT;
	uint64_t			t = 0;
	int				i;

	if (host_statistics(mach_host_self(), HOST_CPU_LOAD_INFO,
	    (host_info_t)&info, &count) != KERN_SUCCESS)
		return -1;
	for (i = 0; i < CPU_STATE_MAX; i++)
		t += info.cpu_ticks[i];
	c->total = t;
	c->busy = t - info.cpu_ticks[CPU_STATE_IDLE];
	return 0;
}

void
stats_os_mem(struct ipc_stats *s)
{
	vm_statistics64_data_t	vm;
	mach_msg_type_number_t	count = HOST_VM_INFO64_COUNT;
	uint64_t		total = 0, used;
	size_t			len = sizeof(total);
	vm_size_t		page;

	if (sysctlbyname("hw.memsize", &total, &len, NULL, 0) == -1 ||
	    host_page_size(mach_host_self(), &page) != KERN_SUCCESS ||
	    host_statistics64(mach_host_self(), HOST_VM_INFO64,
	    (host_info64_t)&vm, &count) != KERN_SUCCESS)
		return;
	/* Linux's used excludes caches; here: active + wired + compressed. */
	used = ((uint64_t)vm.active_count + vm.wire_count +
	    vm.compressor_page_count) * page;
	s->mem_total = total;
	s->mem_free = (uint64_t)vm.free_count * page;
	s->mem_used = used > total ? total : used;
	s->flags |= IPC_STATS_HAVE_MEM;
}

void
stats_os_disks(struct ipc_stats *s)
{
	struct statfs		*m;
	struct ipc_stats_disk	*d;
	uint64_t		 used, avail;
	int			 n, i;

	if ((n = getmntinfo(&m, MNT_NOWAIT)) <= 0)
		return;
	for (i = 0; i < n && s->ndisk < IPC_STATS_DISK_MAX; i++) {
		/* The counterpart of Linux's nodev: local, browsable mounts. */
		if (!(m[i].f_flags & MNT_LOCAL) ||
		    (m[i].f_flags & MNT_DONTBROWSE) ||
		    m[i].f_fstypename[0] == '\0' || m[i].f_mntonname[0] == '\0')
			continue;
		d = &s->disk[s->ndisk++];
		strlcpy(d->mount, m[i].f_mntonname, sizeof(d->mount));
		strlcpy(d->fsname, m[i].f_mntfromname, sizeof(d->fsname));
		strlcpy(d->fstype, m[i].f_fstypename, sizeof(d->fstype));
		used = (uint64_t)(m[i].f_blocks - m[i].f_bfree) * m[i].f_bsize;
		avail = (uint64_t)m[i].f_bavail * m[i].f_bsize;
		d->used = used;
		d->avail = avail;
		d->capacity_centi = used + avail == 0 ? 0 :
		    (uint32_t)((double)used / (double)(used + avail) * 10000);
	}
}

void
stats_os_release(struct ipc_stats *s)
{
	size_t	len = sizeof(s->release);

	strlcpy(s->platform, "darwin", sizeof(s->platform));
	if (sysctlbyname("kern.osproductversion", s->release, &len, NULL,
	    0) == -1)
		s->release[0] = '\0';
}

uint64_t
stats_os_uptime(void)
{
	struct timeval	boot;
	size_t		len = sizeof(boot);
	time_t		now = time(NULL);

	if (sysctlbyname("kern.boottime", &boot, &len, NULL, 0) == -1 ||
	    boot.tv_sec <= 0 || boot.tv_sec > now)
		return 0;
	return (uint64_t)(now - boot.tv_sec);
}
