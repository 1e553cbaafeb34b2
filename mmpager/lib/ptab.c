// SPDX-License-Identifier: MIT
/* ptab.c - the pager's own page table: a directory of table pages of 512
 * entries, one lock per table page (the 2005 split page-table lock).
 *
 * As in the kernel, the directory lock is taken only to allocate a table
 * page (and to free them at unmap); finding an existing table page is one
 * acquire load, so faults in different table pages never meet on a lock.
 * In global mode (MMPAGER_PTL=global) every table page points at one
 * pager-wide lock instead of its own, which is UMap's single buffer mutex:
 * the same code, so the two modes compare only the locking.
 *
 * Table pages are freed only when the region is unmapped and no thread can
 * hold a pointer to one; an empty table page costs ~1.2 KiB until then.
 */
#include <errno.h>
#include <stdlib.h>

#include "mp-int.h"

int mp_ptab_init(struct mp_ptab *t, uint64_t npages, struct mp_lock *global)
{
	t->npages = npages;
	t->ndir = (npages + MP_PT_ENTRIES - 1) / MP_PT_ENTRIES;
	t->global = global;
	t->freed = (struct mmp_lock_stats){ 0 };
	t->dir = calloc(t->ndir ? t->ndir : 1, sizeof(*t->dir));
	if (!t->dir)
		return -ENOMEM;
	mp_lock_init(&t->dir_lock);
	return 0;
}

static void tpage_free(struct mp_ptab *t, struct mp_tpage *tp)
{
	if (!t->global)
		mp_lock_account(&tp->own, &t->freed);
	mp_lock_destroy(&tp->own);
	pthread_cond_destroy(&tp->cond);
	free(tp);
}

void mp_ptab_fini(struct mp_ptab *t)
{
	mp_lock(&t->dir_lock);
	for (uint64_t i = 0; i < t->ndir; i++) {
		struct mp_tpage *tp = atomic_load_explicit(&t->dir[i], memory_order_relaxed);

		if (tp)
			tpage_free(t, tp);
		atomic_store_explicit(&t->dir[i], NULL, memory_order_relaxed);
	}
	mp_unlock(&t->dir_lock);
	mp_lock_destroy(&t->dir_lock);
	free(t->dir);
	t->dir = NULL;
}

struct mp_tpage *mp_ptab_peek(struct mp_ptab *t, uint64_t idx)
{
	return atomic_load_explicit(&t->dir[idx / MP_PT_ENTRIES], memory_order_acquire);
}

struct mp_tpage *mp_ptab_get(struct mp_ptab *t, uint64_t idx)
{
	uint64_t d = idx / MP_PT_ENTRIES;
	struct mp_tpage *tp = atomic_load_explicit(&t->dir[d], memory_order_acquire);

	if (tp)
		return tp;
	mp_lock(&t->dir_lock);
	tp = atomic_load_explicit(&t->dir[d], memory_order_relaxed);
	if (!tp) {
		tp = calloc(1, sizeof(*tp));
		if (tp) {
			mp_lock_init(&tp->own);
			tp->lock = t->global ? t->global : &tp->own;
			pthread_cond_init(&tp->cond, NULL);
			atomic_store_explicit(&t->dir[d], tp, memory_order_release);
		}
	}
	mp_unlock(&t->dir_lock);
	return tp;
}

void mp_tp_lock(struct mp_tpage *tp)
{
	mp_lock(tp->lock);
}

void mp_tp_unlock(struct mp_tpage *tp)
{
	mp_unlock(tp->lock);
}

/* Not counted as an acquisition: the wait gives the lock back and takes
 * it again inside pthread_cond_wait. */
void mp_tp_wait(struct mp_tpage *tp)
{
	pthread_cond_wait(&tp->cond, &tp->lock->mu);
}

void mp_tp_wake(struct mp_tpage *tp)
{
	pthread_cond_broadcast(&tp->cond);
}

void mp_pte_set(struct mp_tpage *tp, struct mp_pte *e, enum mp_state s)
{
	if (e->state == MP_EMPTY && s != MP_EMPTY)
		tp->used++;
	else if (e->state != MP_EMPTY && s == MP_EMPTY)
		tp->used--;
	e->state = (uint8_t)s;
}

void mp_ptab_account(struct mp_ptab *t, struct mmp_lock_stats *table,
		     struct mmp_lock_stats *dir)
{
	mp_lock_account(&t->dir_lock, dir);
	table->locks += t->freed.locks;
	table->acquisitions += t->freed.acquisitions;
	table->contended += t->freed.contended;
	table->wait_ns += t->freed.wait_ns;
	if (t->global)
		return;
	for (uint64_t i = 0; i < t->ndir; i++) {
		struct mp_tpage *tp = atomic_load_explicit(&t->dir[i], memory_order_acquire);

		if (tp)
			mp_lock_account(&tp->own, table);
	}
}
