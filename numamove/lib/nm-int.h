/* SPDX-License-Identifier: MIT */
/* nm-int.h - the one private header of libnumamove: kernel constants we do
 * not take from libnuma, file helpers shared by the readers, what scan.c
 * shares with verify.c (second looks, dead targets, zero-page mappings),
 * and the clock.
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

/* nm_proc_open for a second look at the same process (verify.c): when its
 * mappings are the ones of old (same ranges and permissions) and no policy
 * was changed meanwhile, page counts, sizes and policies are taken from old
 * instead of numa_maps, the costliest file of a scan at many mappings; after
 * a lean scan (old->lean) without policies_changed the mappings themselves
 * are taken from old, maps is not read, and only status is.  Pages
 * themselves are always looked up afresh (pagemap, move_pages). */
int nm_proc_reopen(struct nm_proc *p, const struct nm_proc *old, const struct nm_host *h,
		   bool policies_changed, struct ob_err *err);

/* Has pid exited: no /proc entry, or a zombie not yet reaped?  A dying
 * target makes the kernel answer EINVAL ("no mm") instead of ESRCH, and
 * shows an empty smaps; callers turn both into -ESRCH with this. */
bool nm_proc_gone(const struct nm_host *h, pid_t pid);

static inline uint64_t nm_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Reading a private anonymous mapping maps the shared zero page, which
 * neither Rss nor numa_maps counts: such a mapping may hold nothing else and
 * still has pages to list (issue 21).  No other mapping holds zero pages. */
static inline bool nm_vma_may_hold_zero_pages(const struct nm_vma *v)
{
	return v->perms[0] == 'r' &&
	       !(v->flags & (NM_VMA_FILE | NM_VMA_SHARED | NM_VMA_HUGETLB | NM_VMA_SPECIAL |
			     NM_VMA_IO));
}

/* Bytes a page entry stands for. */
static inline uint64_t nm_page_bytes(const struct nm_proc *p, const struct nm_page *pg)
{
	return p->vmas[pg->vma].pagesize;
}

#endif
