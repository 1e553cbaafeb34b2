// SPDX-License-Identifier: MIT
/* evict.c - the bounded resident buffer: accounting, the eviction queue,
 * evictor threads, write-back and flush.
 *
 * Resident bytes are one atomic counter: a fill reserves its page before
 * reading the store and waits (buf_lock, buf_space) only when the buffer is
 * full.  Evictors sleep until the buffer passes the high-water mark or a
 * filler waits, then evict in FIFO order (the queue is a ring of
 * (region, page) pairs) until it is under the low-water mark.
 *
 * Write-back order is what keeps written data: the page is write-protected
 * first, then written to the store, then dropped.  A write that lands
 * before the protection is in the data written; one after it takes a
 * write-protect fault, which waits for the eviction to end and then finds
 * the page gone, so the retry refills it from the store.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "mp-int.h"

#define RELAXED memory_order_relaxed

/* ---- buffer accounting ------------------------------------------------ */

static void wake_evictors(struct mmp_pager *p)
{
	mp_lock(&p->buf_lock);
	pthread_cond_broadcast(&p->buf_evict);
	mp_unlock(&p->buf_lock);
}

void mp_buf_reserve(struct mmp_pager *p, size_t n)
{
	size_t cur = atomic_load(&p->resident), peak;

	for (;;) {
		if (cur + n <= p->buf_bytes || n > p->buf_bytes) {
			if (atomic_compare_exchange_weak(&p->resident, &cur, cur + n))
				break;
			continue;
		}
		mp_lock(&p->buf_lock);
		atomic_fetch_add(&p->space_waiters, 1);
		pthread_cond_broadcast(&p->buf_evict);
		while (!p->stopping && atomic_load(&p->resident) + n > p->buf_bytes)
			mp_cond_wait_ms(&p->buf_space, &p->buf_lock.mu, 100);
		atomic_fetch_sub(&p->space_waiters, 1);
		mp_unlock(&p->buf_lock);
		cur = atomic_load(&p->resident);
	}
	cur += n;
	peak = atomic_load_explicit(&p->peak, RELAXED);
	while (cur > peak && !atomic_compare_exchange_weak(&p->peak, &peak, cur))
		;
	if (cur >= p->high_bytes && cur - n < p->high_bytes)
		wake_evictors(p);
}

void mp_buf_release(struct mmp_pager *p, size_t n)
{
	atomic_fetch_sub(&p->resident, n);
	if (atomic_load(&p->space_waiters)) {
		mp_lock(&p->buf_lock);
		pthread_cond_broadcast(&p->buf_space);
		mp_unlock(&p->buf_lock);
	}
}

/* ---- the eviction queue ----------------------------------------------- */

int mp_lru_push(struct mmp_pager *p, struct mp_region *r, uint64_t idx)
{
	int rc = 0;

	mp_lock(&p->lru_lock);
	if (atomic_load(&r->dying))
		goto out;
	if (p->lru_len == p->lru_cap) {
		size_t ncap = p->lru_cap ? p->lru_cap * 2 : 1024;
		struct mp_lru_item *n = malloc(ncap * sizeof(*n));

		if (!n) {
			rc = -ENOMEM;	/* the page stays, unevictable */
			goto out;
		}
		for (size_t i = 0; i < p->lru_len; i++)
			n[i] = p->lru[(p->lru_head + i) % p->lru_cap];
		free(p->lru);
		p->lru = n;
		p->lru_cap = ncap;
		p->lru_head = 0;
	}
	p->lru[(p->lru_head + p->lru_len) % p->lru_cap] = (struct mp_lru_item){ r, idx };
	p->lru_len++;
out:
	mp_unlock(&p->lru_lock);
	return rc;
}

/* The oldest queued page, with a reference on its region. */
static bool lru_pop(struct mmp_pager *p, struct mp_lru_item *it)
{
	bool got = false;

	mp_lock(&p->lru_lock);
	if (p->lru_len) {
		*it = p->lru[p->lru_head];
		p->lru_head = (p->lru_head + 1) % p->lru_cap;
		p->lru_len--;
		atomic_fetch_add(&it->r->refs, 1);
		got = true;
	}
	mp_unlock(&p->lru_lock);
	return got;
}

void mp_lru_forget(struct mmp_pager *p, struct mp_region *r)
{
	size_t kept = 0;

	mp_lock(&p->lru_lock);
	atomic_store(&r->dying, true);
	for (size_t i = 0; i < p->lru_len; i++) {
		struct mp_lru_item it = p->lru[(p->lru_head + i) % p->lru_cap];

		if (it.r != r)
			p->lru[(p->lru_head + kept++) % p->lru_cap] = it;
	}
	p->lru_len = kept;
	mp_unlock(&p->lru_lock);
}

/* ---- write-back and eviction ------------------------------------------ */

/* Write a page the caller owns (BUSY or EVICTING) to the store, protected
 * first.  On failure the protection is lifted again, so the page stays
 * writable and dirty: never a page that is dirty and protected, which
 * would fault for ever. */
static int write_page(struct mp_region *r, uint64_t idx)
{
	struct mmp_pager *p = r->pager;
	char *addr = r->base + idx * r->psize;
	size_t len = mp_page_len(r, idx), slen = mp_store_len(r, idx);
	int rc = mp_uffd_wp(p->uffd, addr, len, true);

	if (rc == 0 && slen) {
		rc = r->store->ops->write(r->store, addr, slen, r->offset + idx * r->psize);
		if (rc < 0) {
			atomic_fetch_add_explicit(&p->n_store_err, 1, RELAXED);
			mp_log("mmpager: %s store write of %zu bytes at offset %llu failed "
			       "(%s); the page stays resident and dirty", r->store->kind, len,
			       (unsigned long long)(r->offset + idx * r->psize), strerror(-rc));
			mp_uffd_wp(p->uffd, addr, len, false);
		}
	}
	if (rc == 0) {
		atomic_fetch_add_explicit(&p->n_wb, 1, RELAXED);
		atomic_fetch_add_explicit(&p->n_wr_bytes, slen, RELAXED);
	}
	return rc;
}

int mp_writeback_page(struct mp_region *r, uint64_t idx)
{
	struct mp_tpage *tp = mp_ptab_peek(&r->pt, idx);
	struct mp_pte *e;
	int rc;

	if (!tp)
		return 0;
	e = mp_pte_of(tp, idx);
	mp_tp_lock(tp);
	for (;;) {
		if (e->state == MP_DIRTY)
			break;
		if (e->state == MP_CLEAN || e->state == MP_EMPTY) {
			mp_tp_unlock(tp);
			return 0;
		}
		/* FILLING, BUSY, or EVICTING: an eviction writes the page
		 * back itself, but a flush returns only once it has; a fill
		 * for a write ends DIRTY, and is written back here then. */
		mp_tp_wait(tp);
	}
	mp_pte_set(tp, e, MP_BUSY);
	mp_tp_unlock(tp);

	rc = write_page(r, idx);

	mp_tp_lock(tp);
	mp_pte_set(tp, e, rc == 0 ? MP_CLEAN : MP_DIRTY);
	if (rc == 0)
		e->flags |= MP_F_WRITTEN;
	mp_tp_wake(tp);
	mp_tp_unlock(tp);
	return rc;
}

int mp_evict_page(struct mp_region *r, uint64_t idx, bool wait)
{
	struct mmp_pager *p = r->pager;
	struct mp_tpage *tp = mp_ptab_peek(&r->pt, idx);
	char *addr = r->base + idx * r->psize;
	size_t len = mp_page_len(r, idx);
	struct mp_pte *e;
	bool dirty, written = false;
	int rc = 0;

	if (!tp)
		return 0;
	e = mp_pte_of(tp, idx);
	mp_tp_lock(tp);
	for (;;) {
		if (e->state == MP_EMPTY) {
			mp_tp_unlock(tp);
			return 0;
		}
		if (e->state == MP_CLEAN || e->state == MP_DIRTY)
			break;
		if (!wait) {
			mp_tp_unlock(tp);
			return -EAGAIN;
		}
		mp_tp_wait(tp);
	}
	if (e->flags & MP_F_PINNED) {
		mp_tp_unlock(tp);
		return -EBUSY;
	}
	dirty = e->state == MP_DIRTY;
	mp_pte_set(tp, e, MP_EVICTING);
	mp_tp_unlock(tp);

	if (dirty) {
		rc = write_page(r, idx);
		written = rc == 0;
	}
	if (rc == 0 && madvise(addr, len, MADV_DONTNEED) < 0)
		rc = -errno;

	mp_tp_lock(tp);
	if (written)
		e->flags |= MP_F_WRITTEN;
	/* Written back and write-protected, the page is CLEAN even when the
	 * drop failed: left DIRTY, its next write would fault for ever (a
	 * write-protect fault on a DIRTY page only wakes the thread). */
	if (rc == 0)
		mp_pte_set(tp, e, MP_EMPTY);
	else
		mp_pte_set(tp, e, dirty && !written ? MP_DIRTY : MP_CLEAN);
	mp_tp_wake(tp);
	mp_tp_unlock(tp);
	if (rc == 0) {
		mp_buf_release(p, len);
		atomic_fetch_add_explicit(&p->n_evict, 1, RELAXED);
	}
	return rc;
}

/* Indices of the pages of one table page that are dirty, on their way to
 * the store, or being filled (under its lock): a flush must also wait for
 * those.  A FILLING page may already hold a write: UFFDIO_COPY wakes the
 * faulting thread before the filler takes this lock again to mark the page
 * DIRTY, so that thread can write and call a flush in between. */
static unsigned dirty_in(struct mp_tpage *tp, uint64_t first, uint64_t npages,
			 uint64_t *out)
{
	unsigned n = 0;

	mp_tp_lock(tp);
	for (uint64_t i = 0; i < MP_PT_ENTRIES && first + i < npages; i++)
		if (tp->pte[i].state != MP_EMPTY && tp->pte[i].state != MP_CLEAN)
			out[n++] = first + i;
	mp_tp_unlock(tp);
	return n;
}

int mp_region_flush(struct mp_region *r)
{
	uint64_t npages = mp_region_npages(r);
	uint64_t idx[MP_PT_ENTRIES];
	int rc = 0;

	for (uint64_t d = 0; d < r->pt.ndir; d++) {
		struct mp_tpage *tp = mp_ptab_peek(&r->pt, d * MP_PT_ENTRIES);
		unsigned n;

		if (!tp)
			continue;
		n = dirty_in(tp, d * MP_PT_ENTRIES, npages, idx);
		for (unsigned i = 0; i < n; i++) {
			int wrc = mp_writeback_page(r, idx[i]);

			if (wrc < 0 && !rc)
				rc = wrc;
		}
	}
	return rc;
}

int mp_region_final_writeback(struct mp_region *r, size_t *resident, size_t *pinned)
{
	uint64_t npages = mp_region_npages(r);
	int rc = 0;

	*resident = *pinned = 0;
	for (uint64_t idx = 0; idx < npages; idx++) {
		struct mp_tpage *tp = mp_ptab_peek(&r->pt, idx);
		struct mp_pte *e;
		size_t len = mp_page_len(r, idx);

		if (!tp) {
			idx += MP_PT_ENTRIES - 1 - idx % MP_PT_ENTRIES;
			continue;
		}
		e = mp_pte_of(tp, idx);
		if (e->state == MP_EMPTY)
			continue;
		*resident += len;
		if (e->flags & MP_F_PINNED)
			*pinned += len;
		if (e->state == MP_DIRTY && mp_store_len(r, idx)) {
			int wrc = r->store->ops->write(r->store, r->base + idx * r->psize,
						       mp_store_len(r, idx),
						       r->offset + idx * r->psize);

			if (wrc < 0) {
				atomic_fetch_add_explicit(&r->pager->n_store_err, 1, RELAXED);
				if (!rc)
					rc = wrc;
			} else {
				atomic_fetch_add_explicit(&r->pager->n_wb, 1, RELAXED);
				atomic_fetch_add_explicit(&r->pager->n_wr_bytes,
							  mp_store_len(r, idx), RELAXED);
			}
		}
	}
	return rc;
}

/* ---- evictor threads -------------------------------------------------- */

static bool need_evict(struct mmp_pager *p)
{
	return atomic_load(&p->resident) >= p->high_bytes || atomic_load(&p->space_waiters);
}

static bool keep_evicting(struct mmp_pager *p)
{
	return atomic_load(&p->resident) > p->low_bytes || atomic_load(&p->space_waiters);
}

/* Evict until under the low-water mark; false when nothing is evictable. */
static bool evict_some(struct mmp_pager *p)
{
	while (keep_evicting(p)) {
		struct mp_lru_item it;
		int rc;

		if (!lru_pop(p, &it))
			return false;
		rc = mp_evict_page(it.r, it.idx, false);
		if (rc == -EAGAIN || (rc < 0 && rc != -EBUSY))
			mp_lru_push(p, it.r, it.idx);	/* busy now: later */
		mp_region_put(it.r);
		if (rc == -EAGAIN)
			return false;	/* let the owner finish first */
	}
	return true;
}

static void *evictor_main(void *arg)
{
	struct mmp_pager *p = arg;

	for (;;) {
		bool progress;

		mp_lock(&p->buf_lock);
		while (!p->stopping && !need_evict(p))
			mp_cond_wait_ms(&p->buf_evict, &p->buf_lock.mu, 200);
		if (p->stopping) {
			mp_unlock(&p->buf_lock);
			break;
		}
		mp_unlock(&p->buf_lock);
		progress = evict_some(p);
		if (!progress) {	/* everything busy or pinned: a breath */
			mp_lock(&p->buf_lock);
			if (!p->stopping)
				mp_cond_wait_ms(&p->buf_evict, &p->buf_lock.mu, 1);
			mp_unlock(&p->buf_lock);
		}
	}
	return NULL;
}

int mp_evictors_start(struct mmp_pager *p, struct ob_err *err)
{
	p->evictors = calloc(p->cfg.evictors, sizeof(*p->evictors));
	if (!p->evictors)
		return -ENOMEM;
	for (unsigned i = 0; i < p->cfg.evictors; i++) {
		int rc = pthread_create(&p->evictors[i], NULL, evictor_main, p);

		if (rc)
			return -rc;
		p->nevictors++;
	}
	return 0;
}

void mp_evictors_stop(struct mmp_pager *p)
{
	mp_lock(&p->buf_lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->buf_evict);
	pthread_cond_broadcast(&p->buf_space);
	mp_unlock(&p->buf_lock);
	for (unsigned i = 0; i < p->nevictors; i++)
		pthread_join(p->evictors[i], NULL);
	free(p->evictors);
	p->evictors = NULL;
	p->nevictors = 0;
}
