// SPDX-License-Identifier: MIT
/* power.c - on battery or on mains, from /sys/class/power_supply (ob/power.h).
 *
 * Unknown means mains: a supply whose files cannot be read is skipped, so a
 * missing or odd sysfs never turns anything off. */
#include "ob/power.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The first line of dir/name/attr into buf (newline cut), or "" on error. */
static void read_attr(int dirfd, const char *name, const char *attr, char *buf, size_t size)
{
	char path[512];
	ssize_t n;
	int fd;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "%s/%s", name, attr);
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

bool ob_on_battery(const char *dir)
{
	bool discharging = false, mains = false;
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return false;
	while ((de = readdir(d))) {
		char type[32], val[32];

		if (de->d_name[0] == '.')
			continue;
		read_attr(dirfd(d), de->d_name, "type", type, sizeof(type));
		if (!strcmp(type, "Battery")) {
			read_attr(dirfd(d), de->d_name, "status", val, sizeof(val));
			discharging |= !strcmp(val, "Discharging");
		} else if (!strcmp(type, "Mains") || !strncmp(type, "USB", 3)) {
			read_attr(dirfd(d), de->d_name, "online", val, sizeof(val));
			mains |= !strcmp(val, "1");
		}
	}
	closedir(d);
	return discharging && !mains;
}

bool ob_power_on_battery(struct ob_power *p, uint64_t now_ns)
{
	uint64_t next = __atomic_load_n(&p->next_ns, __ATOMIC_ACQUIRE);
	bool battery;

	if (next && now_ns < next)
		return __atomic_load_n(&p->battery, __ATOMIC_RELAXED);
	/* One thread looks; the others keep the last answer meanwhile. */
	if (!__atomic_compare_exchange_n(&p->next_ns, &next, now_ns + OB_POWER_RECHECK_NS,
					 false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return __atomic_load_n(&p->battery, __ATOMIC_RELAXED);
	battery = ob_on_battery(p->dir ? p->dir : OB_POWER_SYSFS);
	__atomic_store_n(&p->battery, battery, __ATOMIC_RELEASE);
	return battery;
}
