/* SPDX-License-Identifier: MIT */
/* nm-int.h - the one private header of libnumamove: kernel constants we do
 * not take from libnuma, file helpers shared by the readers, and the clock.
 */
#ifndef NM_INT_H
#define NM_INT_H

#include "numamove.h"

#include <time.h>

/* include/uapi/linux/mempolicy.h */
#define NM_MPOL_MF_MOVE		(1 << 1)
#define NM_MPOL_MF_MOVE_ALL	(1 << 2)

/* Read a whole small file (sysfs, procfs) under h->root into buf, NUL
 * terminated.  Returns the length or -errno. */
ssize_t nm_read_file(const struct nm_host *h, char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Open a file under h->root. */
FILE *nm_fopen(const struct nm_host *h, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int nm_open(const struct nm_host *h, int flags, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static inline uint64_t nm_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Bytes a page entry stands for. */
static inline uint64_t nm_page_bytes(const struct nm_proc *p, const struct nm_page *pg)
{
	return p->vmas[pg->vma].pagesize;
}

#endif
