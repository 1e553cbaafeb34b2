/* clock.h - the monotonic clock in nanoseconds, for deadlines and elapsed
 * times (poll windows, trace timestamps, path timeouts).  A vDSO call, so
 * cheap enough for a polling loop. */
#ifndef OB_CLOCK_H
#define OB_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t ob_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
