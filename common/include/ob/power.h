// SPDX-License-Identifier: MIT
/* power.h - is this machine running on battery?  For the daemons' optional
 * busy-polling (ecfs's spin window, its SCHED_IDLE pollers): a laptop off
 * its charger should not spend CPU time to save microseconds.
 *
 * The answer comes from the kernel's power_supply class
 * (/sys/class/power_supply/NAME/{type,online,status}): on battery means a
 * supply of type Battery says "Discharging" and no Mains or USB supply is
 * online.  A machine with no supplies listed (servers, VMs, most desktops)
 * is on mains.  struct ob_power caches the answer and looks again at most
 * every OB_POWER_RECHECK_NS, lazily, from the caller's thread: nothing
 * wakes up to watch the charger. */
#ifndef OB_POWER_H
#define OB_POWER_H

#include <stdbool.h>
#include <stdint.h>

#define OB_POWER_SYSFS		"/sys/class/power_supply"
#define OB_POWER_RECHECK_NS	(10ull * 1000000000ull)

/* Read dir (OB_POWER_SYSFS, or a copy of it in a test) now. */
bool ob_on_battery(const char *dir);

struct ob_power {
	const char *dir;	/* NULL: OB_POWER_SYSFS */
	uint64_t next_ns;	/* look again at or after this (0: never looked) */
	bool battery;		/* the last answer */
};

/* The cached answer at monotonic time now_ns, refreshed when it is stale.
 * Safe from several threads at once: each sees an answer at most one
 * recheck interval old. */
bool ob_power_on_battery(struct ob_power *p, uint64_t now_ns);

#endif
