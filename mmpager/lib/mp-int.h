/* SPDX-License-Identifier: MIT */
/* mp-int.h - libmmpager's internal structures: the pager, its regions and
 * their two-level page tables.
 *
 * Lock order (the same text is in mmpager.h):
 *   1. pager->regions_lock  rwlock over the sorted region index
 *   2. region->dir_lock     only to allocate or free a table page
 *   3. table-page lock      tp->lock: the table page's own lock in split
 *                           mode, &pager->global_ptl in global mode
 *   Leaves: pager->lru_lock, pager->buf_lock.  No two table-page locks are
 *   ever held together, and no lock is held across a store read or write,
 *   a UFFDIO_* call or a wait, except the wait on tp->cond, which releases
 *   tp->lock.
 *
 * Page states (enum mp_state), changed only under the table-page lock:
 *   EMPTY -> FILLING -> CLEAN|DIRTY        a fill (fault, prefetch)
 *   CLEAN -> BUSY -> DIRTY                 a write-protect fault
 *   DIRTY -> BUSY -> CLEAN                 a write-back (flush)
 *   CLEAN|DIRTY -> EVICTING -> EMPTY       an eviction
 * FILLING, BUSY and EVICTING belong to one thread; whoever meets one of them
 * waits on tp->cond and looks again.  That is how a fault on a page being
 * evicted is served: it waits until the write-back and MADV_DONTNEED are
 * done, then fills the page from the store, which now holds what was
 * written.  A flush waits for FILLING pages too: UFFDIO_COPY wakes the
 * faulting thread before the filler marks the page DIRTY, so a write may
 * already be in a page that is still FILLING.
 */
#ifndef MP_INT_H
#define MP_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "mmpager.h"

#define MP_PT_ENTRIES	512	/* entries per table page */
#define MP_HUGE_SIZE	(2u << 20)
#define MP_GIGA_SIZE	((size_t)1 << 30)

/* ---- counted locks (lock.c) ------------------------------------------ */

struct mp_lock {
	pthread_mutex_t mu;
	_Atomic uint64_t acq;
	_Atomic uint64_t contended;
	_Atomic uint64_t wait_ns;
};

/* Wait on cv (with mu held) for at most ms milliseconds. */
void mp_cond_wait_ms(pthread_cond_t *cv, pthread_mutex_t *mu, long ms);

void mp_lock_init(struct mp_lock *l);
void mp_lock_destroy(struct mp_lock *l);
void mp_lock(struct mp_lock *l);
void mp_unlock(struct mp_lock *l);
/* Add l's counters into s (and count l as one lock). */
void mp_lock_account(const struct mp_lock *l, struct mmp_lock_stats *s);

struct mp_rwlock {
	pthread_rwlock_t rw;
	_Atomic uint64_t acq;
	_Atomic uint64_t contended;
	_Atomic uint64_t wait_ns;
};

void mp_rwlock_init(struct mp_rwlock *l);
void mp_rwlock_destroy(struct mp_rwlock *l);
void mp_rdlock(struct mp_rwlock *l);
void mp_wrlock(struct mp_rwlock *l);
void mp_rwunlock(struct mp_rwlock *l);
void mp_rwlock_account(const struct mp_rwlock *l, struct mmp_lock_stats *s);

/* ---- the page table (ptab.c) ----------------------------------------- */

enum mp_state {
	MP_EMPTY = 0,
	MP_FILLING,
	MP_CLEAN,
	MP_DIRTY,
	MP_BUSY,
	MP_EVICTING,
};

#define MP_F_PINNED	0x1	/* fetch_and_pin: never evicted */
#define MP_F_WRITTEN	0x2	/* written back at least once (zero store) */
#define MP_F_POISONED	0x4	/* the store failed; faults get SIGBUS */

struct mp_pte {
	uint8_t state;
	uint8_t flags;
};

struct mp_tpage {
	struct mp_lock own;	/* split mode: this table page's lock */
	struct mp_lock *lock;	/* &own, or the pager's global table lock */
	pthread_cond_t cond;	/* a FILLING/BUSY/EVICTING entry changed */
	unsigned used;		/* entries not EMPTY (under lock) */
	struct mp_pte pte[MP_PT_ENTRIES];
};

struct mp_ptab {
	struct mp_lock dir_lock;
	struct mp_lock *global;		/* NULL in split mode */
	uint64_t npages;
	uint64_t ndir;
	_Atomic(struct mp_tpage *) *dir;
	struct mmp_lock_stats freed;	/* counters of table pages freed */
};

int mp_ptab_init(struct mp_ptab *t, uint64_t npages, struct mp_lock *global);
/* Free every table page; no other thread may use t. */
void mp_ptab_fini(struct mp_ptab *t);
/* The table page holding page idx, allocated under the directory lock the
 * first time; NULL only when out of memory. */
struct mp_tpage *mp_ptab_get(struct mp_ptab *t, uint64_t idx);
/* The table page holding idx if it exists (never allocates). */
struct mp_tpage *mp_ptab_peek(struct mp_ptab *t, uint64_t idx);
static inline struct mp_pte *mp_pte_of(struct mp_tpage *tp, uint64_t idx)
{
	return &tp->pte[idx % MP_PT_ENTRIES];
}
/* Lock tp and return the entry of idx. */
void mp_tp_lock(struct mp_tpage *tp);
void mp_tp_unlock(struct mp_tpage *tp);
void mp_tp_wait(struct mp_tpage *tp);
void mp_tp_wake(struct mp_tpage *tp);
/* Set an entry's state, keeping tp->used right; under the lock. */
void mp_pte_set(struct mp_tpage *tp, struct mp_pte *e, enum mp_state s);
void mp_ptab_account(struct mp_ptab *t, struct mmp_lock_stats *table,
		     struct mmp_lock_stats *dir);

/* ---- userfaultfd (uffd.c) -------------------------------------------- */

#define MP_FEATURE_POISON	(1ull << 14)	/* UFFD_FEATURE_POISON, Linux 6.6 */

int mp_uffd_open(uint64_t *features, struct ob_err *err);
int mp_uffd_register(int uffd, void *addr, size_t len, bool wp, struct ob_err *err);
int mp_uffd_unregister(int uffd, void *addr, size_t len);
int mp_uffd_copy(int uffd, void *dst, const void *src, size_t len, bool wp);
int mp_uffd_zeropage(int uffd, void *dst, size_t len);
int mp_uffd_wp(int uffd, void *addr, size_t len, bool protect);
int mp_uffd_wake(int uffd, void *addr, size_t len);
int mp_uffd_poison(int uffd, void *addr, size_t len);

/* ---- store helpers (store-file.c) ----------------------------------- */

/* Read len bytes at off, zeros past end of file; 0 or -errno. */
int mp_pread_full(int fd, void *buf, size_t len, uint64_t off);
int mp_pwrite_full(int fd, const void *buf, size_t len, uint64_t off);

/* ---- regions (region.c) ---------------------------------------------- */

struct mp_region {
	struct mmp_pager *pager;
	char *base;
	size_t len;		/* mapped length (a multiple of 4 KiB) */
	size_t data_len;	/* the length asked for: write-back stops here */
	size_t psize;		/* this region's pager page size */
	uint64_t offset;	/* in the store */
	struct mmp_store *store;
	bool writable;		/* PROT_WRITE: write-protect tracking on */
	bool hugetlb;
	int hugetlb_fd;		/* hugetlbfs file, or -1 */
	struct mp_ptab pt;
	_Atomic unsigned refs;	/* lookups in flight (fillers, evictors) */
	_Atomic bool dying;
	pthread_mutex_t ref_mu;	/* with ref_cv: unmap waits for refs == 0 */
	pthread_cond_t ref_cv;
};

static inline uint64_t mp_region_npages(const struct mp_region *r)
{
	return (r->len + r->psize - 1) / r->psize;
}

static inline size_t mp_page_len(const struct mp_region *r, uint64_t idx)
{
	size_t left = r->len - idx * r->psize;

	return left < r->psize ? left : r->psize;
}

/* Bytes of page idx that belong to the store: a region whose length is
 * not a multiple of 4 KiB never writes past that length. */
static inline size_t mp_store_len(const struct mp_region *r, uint64_t idx)
{
	size_t start = idx * r->psize, len = mp_page_len(r, idx);

	if (start >= r->data_len)
		return 0;
	return r->data_len - start < len ? r->data_len - start : len;
}

/* The region holding addr with a reference taken, or NULL. */
struct mp_region *mp_region_get(struct mmp_pager *p, const void *addr);
void mp_region_put(struct mp_region *r);

/* ---- fills and evictions (fill.c, evict.c) --------------------------- */

struct mp_worker_buf {
	void *page;		/* bounce buffer, one pager page (or 2 MiB) */
	size_t size;
	bool mapped;		/* page is an mmap of a 1 GiB page: dropped
				 * after each fill (see mp_bounce_trim) */
	pid_t tid;		/* the faulting thread (UFFD_FEATURE_THREAD_ID), or 0 */
};

int mp_bounce_get(struct mp_worker_buf *b, size_t size);
void mp_bounce_free(struct mp_worker_buf *b);
void mp_bounce_trim(struct mp_worker_buf *b);

/* Make page idx of r resident (wait if another thread is on it).  write
 * says the fault was a write (map it writable and dirty).  Returns 0 or
 * -errno (the page was poisoned when the store failed). */
int mp_fill_page(struct mp_region *r, uint64_t idx, bool write, bool pin,
		 struct mp_worker_buf *b);
/* Resolve a write-protect fault on page idx. */
int mp_wp_fault(struct mp_region *r, uint64_t idx);

int mp_fillers_start(struct mmp_pager *p, struct ob_err *err);
void mp_fillers_stop(struct mmp_pager *p);
int mp_evictors_start(struct mmp_pager *p, struct ob_err *err);
void mp_evictors_stop(struct mmp_pager *p);

/* Reserve n bytes of the resident buffer, waiting for the evictors. */
void mp_buf_reserve(struct mmp_pager *p, size_t n);
void mp_buf_release(struct mmp_pager *p, size_t n);
/* Queue a resident page for eviction. */
int mp_lru_push(struct mmp_pager *p, struct mp_region *r, uint64_t idx);
/* Forget every queued page of r (before r is freed). */
void mp_lru_forget(struct mmp_pager *p, struct mp_region *r);
/* Evict page idx of r: write back if dirty, drop.  -EAGAIN when the page is
 * busy or pinned, 0 when evicted or not resident. */
int mp_evict_page(struct mp_region *r, uint64_t idx, bool wait);
/* Write back page idx if dirty (it stays resident). */
int mp_writeback_page(struct mp_region *r, uint64_t idx);
int mp_region_flush(struct mp_region *r);
/* Unmap time, r unregistered and unreachable: write back what is dirty;
 * return the resident bytes (and pinned bytes in *pinned). */
int mp_region_final_writeback(struct mp_region *r, size_t *resident, size_t *pinned);

void mp_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- the pager (pager.c) --------------------------------------------- */

struct mp_lru_item {
	struct mp_region *r;
	uint64_t idx;
};

struct mmp_pager {
	struct mmp_config cfg;
	int uffd;
	uint64_t features;
	int stop_fd;		/* eventfd: tells fillers to stop */

	struct mp_rwlock regions_lock;
	struct mp_region **regions;	/* sorted by base */
	size_t nregions, cap_regions;

	struct mp_lock global_ptl;	/* global mode: every table page's lock */

	/* resident buffer */
	size_t buf_bytes, high_bytes, low_bytes;
	_Atomic size_t resident;
	_Atomic size_t pinned;
	_Atomic size_t peak;
	struct mp_lock buf_lock;
	pthread_cond_t buf_space;	/* resident fell: fillers waiting */
	pthread_cond_t buf_evict;	/* above high water: evictors */
	_Atomic unsigned space_waiters;	/* fillers waiting for room */
	bool stopping;			/* under buf_lock */

	/* eviction queue: a FIFO ring of resident pages */
	struct mp_lock lru_lock;
	struct mp_lru_item *lru;
	size_t lru_cap, lru_head, lru_len;

	pthread_t *fillers, *evictors, publisher;
	bool has_publisher;
	pthread_mutex_t pub_mu;		/* a publication against unpublish */
	bool unpublished;		/* under pub_mu */
	unsigned nfillers, nevictors;

	/* counters */
	_Atomic uint64_t n_faults, n_wp, n_fills, n_zero, n_evict, n_wb;
	_Atomic uint64_t n_rd_bytes, n_wr_bytes, n_store_err, n_poison;
	struct mmp_lock_stats gone_table, gone_dir;	/* of unmapped regions */
};

#endif
