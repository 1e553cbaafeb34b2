// SPDX-License-Identifier: MIT
/* test-ptab.c - the pager's page table under threads: table pages
 * allocated once under races, mutual exclusion on one table page, no
 * contention between different table pages in split mode, and real faults,
 * evictions and unmaps running together on the same and on different table
 * pages, checked word by word against a model. */
#include <pthread.h>
#include <sys/mman.h>

#include "mmp-test.h"
#include "mp-int.h"

#define NTP 64

struct race {
	struct mp_ptab *t;
	struct mp_tpage *seen[NTP];
	unsigned order;
};

static void *get_all(void *arg)
{
	struct race *r = arg;

	for (unsigned i = 0; i < NTP; i++) {
		unsigned d = r->order ? NTP - 1 - i : i;

		r->seen[d] = mp_ptab_get(r->t, (uint64_t)d * MP_PT_ENTRIES + d);
	}
	return NULL;
}

/* Four threads racing to allocate the same table pages get the same ones,
 * and exactly NTP are allocated. */
static void test_alloc_race(void **state)
{
	struct mp_ptab t;
	struct race r[4];
	pthread_t tid[4];
	struct mmp_lock_stats tab = { 0 }, dir = { 0 };

	assert_int_equal(mp_ptab_init(&t, NTP * MP_PT_ENTRIES, NULL), 0);
	for (int i = 0; i < 4; i++) {
		r[i] = (struct race){ .t = &t, .order = i % 2 };
		pthread_create(&tid[i], NULL, get_all, &r[i]);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(tid[i], NULL);
	for (int d = 0; d < NTP; d++) {
		assert_non_null(r[0].seen[d]);
		for (int i = 1; i < 4; i++)
			assert_ptr_equal(r[i].seen[d], r[0].seen[d]);
		assert_ptr_equal(mp_ptab_peek(&t, (uint64_t)d * MP_PT_ENTRIES), r[0].seen[d]);
	}
	mp_ptab_account(&t, &tab, &dir);
	assert_int_equal(tab.locks, NTP);
	/* the directory lock is taken only to allocate: at most once per
	 * table page per thread, at least once per table page */
	assert_true(dir.acquisitions >= NTP && dir.acquisitions <= 4 * NTP);
	mp_ptab_fini(&t);
}

struct hammer {
	struct mp_ptab *t;
	uint64_t idx;
	uint64_t *counter;
	long n;
};

static void *hammer(void *arg)
{
	struct hammer *h = arg;
	struct mp_tpage *tp = mp_ptab_get(h->t, h->idx);

	for (long i = 0; i < h->n; i++) {
		mp_tp_lock(tp);
		(*h->counter)++;	/* plain: the table-page lock guards it */
		mp_tp_unlock(tp);
	}
	return NULL;
}

static void run_hammer(struct mp_ptab *t, uint64_t idx0, uint64_t idx1,
		       uint64_t *c0, uint64_t *c1, long n)
{
	struct hammer h[2] = { { t, idx0, c0, n }, { t, idx1, c1, n } };
	pthread_t tid[2];

	for (int i = 0; i < 2; i++)
		pthread_create(&tid[i], NULL, hammer, &h[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(tid[i], NULL);
}

/* Same table page: the lock excludes (no lost increments), split or global. */
static void test_same_tpage_excludes(void **state)
{
	for (int mode = 0; mode < 2; mode++) {
		struct mp_lock global;
		struct mp_ptab t;
		uint64_t c = 0;

		mp_lock_init(&global);
		assert_int_equal(mp_ptab_init(&t, 4 * MP_PT_ENTRIES, mode ? &global : NULL), 0);
		run_hammer(&t, 3, 7, &c, &c, 200000);
		assert_int_equal(c, 400000);
		mp_ptab_fini(&t);
		mp_lock_destroy(&global);
	}
}

/* Different table pages: in split mode two threads never contend (a
 * count, exactly 0); in global mode they share one lock, and every
 * acquisition is counted on it. */
static void test_split_vs_global_counts(void **state)
{
	struct mp_lock global;
	struct mp_ptab t;
	struct mmp_lock_stats tab = { 0 }, dir = { 0 };
	uint64_t c0 = 0, c1 = 0;

	assert_int_equal(mp_ptab_init(&t, 4 * MP_PT_ENTRIES, NULL), 0);
	mp_ptab_get(&t, 0);
	mp_ptab_get(&t, 3 * MP_PT_ENTRIES);
	run_hammer(&t, 0, 3 * MP_PT_ENTRIES, &c0, &c1, 200000);
	mp_ptab_account(&t, &tab, &dir);
	assert_int_equal(c0 + c1, 400000);
	assert_int_equal(tab.locks, 2);
	assert_int_equal(tab.acquisitions, 400000);
	assert_int_equal(tab.contended, 0);
	mp_ptab_fini(&t);

	mp_lock_init(&global);
	assert_int_equal(mp_ptab_init(&t, 4 * MP_PT_ENTRIES, &global), 0);
	c0 = c1 = 0;
	run_hammer(&t, 0, 3 * MP_PT_ENTRIES, &c0, &c1, 200000);
	tab = (struct mmp_lock_stats){ 0 };
	mp_lock_account(&global, &tab);
	assert_int_equal(tab.acquisitions, 400000);
	assert_true(tab.contended <= tab.acquisitions);
	mp_ptab_fini(&t);
	mp_lock_destroy(&global);
}

/* ---- real faults, evictions and unmaps together ------------------------ */

#define PAGES	(4 * MP_PT_ENTRIES)	/* four table pages of 4 KiB pages */
#define WORDS	(PAGES * 512)		/* 8-byte words */

struct world {
	struct mmp_pager *p;
	uint64_t *region, *model;
	long ops;
	_Atomic bool done;
	int bad;
};

struct writer {
	struct world *w;
	unsigned tpage;		/* which table page it works in */
	unsigned lane, lanes;	/* its words: word % lanes == lane */
	uint64_t seed;
	int bad;
};

static void *writer_main(void *arg)
{
	struct writer *wr = arg;
	struct world *w = wr->w;

	for (long i = 0; i < w->ops; i++) {
		uint64_t page = wr->tpage * MP_PT_ENTRIES + mt_rand(&wr->seed) % MP_PT_ENTRIES;
		uint64_t word = page * 512 + (mt_rand(&wr->seed) % (512 / wr->lanes)) *
				wr->lanes + wr->lane;

		if (mt_rand(&wr->seed) % 2) {
			uint64_t v = mt_rand(&wr->seed);

			w->region[word] = v;
			w->model[word] = v;
		} else if (w->region[word] != w->model[word]) {
			wr->bad++;
		}
	}
	return NULL;
}

static void *evicter_main(void *arg)
{
	struct world *w = arg;
	uint64_t seed = 99;
	struct ob_err err;

	while (!atomic_load(&w->done)) {
		uint64_t tpage = (mt_rand(&seed) % 2) * 2;	/* table page 0 or 2 */
		uint64_t page = tpage * MP_PT_ENTRIES + mt_rand(&seed) % MP_PT_ENTRIES;

		if (mt_rand(&seed) % 16 == 0)
			assert_int_equal(mmp_flush(w->p, &err), 0);
		else
			assert_int_equal(mmp_evict(w->p, (char *)w->region + page * 4096,
						   4096 * (1 + mt_rand(&seed) % 8), &err), 0);
	}
	return NULL;
}

/* Maps, writes, unmaps small regions while the others fault and evict. */
static void *mapper_main(void *arg)
{
	struct world *w = arg;
	unsigned rounds = 0;

	while (!atomic_load(&w->done) || rounds < 4) {
		int fd = mt_file(64 * 4096, 0, NULL);
		struct mmp_store *st;
		struct mmp_map_args a = { .len = 64 * 4096, .prot = PROT_READ | PROT_WRITE };
		uint64_t *m, v;
		void *addr;

		assert_int_equal(mmp_store_file(fd, &st, NULL), 0);
		a.store = st;
		assert_int_equal(mmp_map(w->p, &a, &addr, NULL), 0);
		m = addr;
		for (int i = 0; i < 64; i++)
			m[i * 512 + 1] = rounds * 1000 + (unsigned)i;
		assert_int_equal(mmp_unmap(w->p, addr, a.len, NULL), 0);
		for (int i = 0; i < 64; i++) {
			assert_int_equal(pread(fd, &v, 8, (off_t)(i * 4096 + 8)), 8);
			assert_int_equal(v, rounds * 1000 + (unsigned)i);
		}
		close(fd);
		rounds++;
	}
	return NULL;
}

static void run_world(enum mmp_ptl_mode mode)
{
	struct world w = { .ops = 30000 };
	struct writer wr[3] = {
		{ &w, 0, 0, 2, 1, 0 }, { &w, 0, 1, 2, 2, 0 },	/* same table page */
		{ &w, 2, 0, 1, 3, 0 },				/* another one */
	};
	pthread_t tid[5];
	struct mmp_store *st;
	struct mmp_map_args a = { .len = (size_t)PAGES * 4096, .prot = PROT_READ | PROT_WRITE };
	struct mmp_stats s;
	void *addr;
	int fd;

	w.p = mt_pager(4096, 64, 2, 2, mode);
	if (!w.p)
		return;
	fd = mt_file(a.len, 5, (void **)&w.model);
	assert_int_equal(mmp_store_file(fd, &st, NULL), 0);
	a.store = st;
	assert_int_equal(mmp_map(w.p, &a, &addr, NULL), 0);
	w.region = addr;
	for (int i = 0; i < 3; i++)
		pthread_create(&tid[i], NULL, writer_main, &wr[i]);
	pthread_create(&tid[3], NULL, evicter_main, &w);
	pthread_create(&tid[4], NULL, mapper_main, &w);
	for (int i = 0; i < 3; i++) {
		pthread_join(tid[i], NULL);
		assert_int_equal(wr[i].bad, 0);
	}
	atomic_store(&w.done, true);
	pthread_join(tid[3], NULL);
	pthread_join(tid[4], NULL);
	assert_memory_equal(w.region, w.model, a.len);
	mmp_stats(w.p, &s);
	assert_true(s.evictions > 0);
	assert_true(s.writebacks > 0);
	assert_true(s.peak_resident_bytes <= s.buffer_bytes);
	assert_int_equal(mmp_unmap(w.p, addr, a.len, NULL), 0);
	{
		uint64_t *back = malloc(a.len);

		assert_int_equal(pread(fd, back, a.len, 0), (ssize_t)a.len);
		assert_memory_equal(back, w.model, a.len);
		free(back);
	}
	mmp_pager_free(w.p);
	free(w.model);
	close(fd);
}

static void test_fault_evict_unmap_split(void **state)
{
	run_world(MMP_PTL_SPLIT);
}

static void test_fault_evict_unmap_global(void **state)
{
	run_world(MMP_PTL_GLOBAL);
}

/* ---- a flush right after a write fault -------------------------------- */

/* A writable region of len bytes over a fresh zero file (in *fd). */
static uint64_t *map_zero_file(struct mmp_pager *p, size_t len, int *fd)
{
	struct mmp_map_args a = { .len = len, .prot = PROT_READ | PROT_WRITE };
	void *addr;

	*fd = mt_file(len, 0, NULL);
	assert_int_equal(mmp_store_file(*fd, &a.store, NULL), 0);
	assert_int_equal(mmp_map(p, &a, &addr, NULL), 0);
	return addr;
}

struct holder {
	struct mp_tpage *tp;
	_Atomic bool done;
};

/* Takes and gives back the table page's lock without pause: the filler's
 * last step after UFFDIO_COPY (setting the page DIRTY) and a flush's scan
 * then queue on the lock in either order, which without this is a window
 * of a few instructions that only a preempted filler opens. */
static void *holder_main(void *arg)
{
	struct holder *h = arg;

	while (!atomic_load(&h->done)) {
		mp_tp_lock(h->tp);
		for (volatile int spin = 0; spin < 200; spin++)
			;
		mp_tp_unlock(h->tp);
	}
	return NULL;
}

/* A write that faulted the page in has returned, so a flush started after
 * it must put it in the store, even when the filler has not yet marked the
 * page DIRTY (it woke the writer with UFFDIO_COPY first).  The page is
 * evicted before every write, so every write is a missing fault. */
static void test_flush_after_write_fault(void **state)
{
	enum { NPG = 8, ROUNDS = 3000 };
	struct mmp_pager *p = mt_pager(4096, 64, 2, 1, MMP_PTL_SPLIT);
	struct holder h = { 0 };
	struct mp_region *r;
	pthread_t tid;
	uint64_t *m, v;
	int fd;

	if (!p)
		return;
	m = map_zero_file(p, NPG * 4096, &fd);
	m[0] = 0;	/* the table page exists from here on */
	r = mp_region_get(p, m);
	assert_non_null(r);
	h.tp = mp_ptab_peek(&r->pt, 0);
	pthread_create(&tid, NULL, holder_main, &h);
	for (uint64_t i = 1; i <= ROUNDS; i++) {
		uint64_t pg = i % NPG;

		assert_int_equal(mmp_evict(p, m + pg * 512, 4096, NULL), 0);
		m[pg * 512] = i;
		assert_int_equal(mmp_flush(p, NULL), 0);
		assert_int_equal(pread(fd, &v, 8, (off_t)(pg * 4096)), 8);
		if (v != i) {
			struct mp_pte *e = mp_pte_of(h.tp, pg);

			fail_msg("round %llu: page %llu holds %llu, the store %llu after the "
				 "flush (page state %u now)", (unsigned long long)i,
				 (unsigned long long)pg, (unsigned long long)m[pg * 512],
				 (unsigned long long)v, e->state);
		}
	}
	atomic_store(&h.done, true);
	pthread_join(tid, NULL);
	mp_region_put(r);
	assert_int_equal(mmp_unmap(p, m, NPG * 4096, NULL), 0);
	mmp_pager_free(p);
	close(fd);
}

/* An eviction whose drop fails (MADV_DONTNEED refuses a locked range with
 * EINVAL) after the page was written back leaves it write-protected: it
 * must then be CLEAN, so the next write's write-protect fault lifts the
 * protection.  Left DIRTY, that write would fault for ever. */
static void test_failed_drop_leaves_page_clean(void **state)
{
	enum { LEN = 4 * 4096 };
	struct mmp_pager *p = mt_pager(4096, 64, 1, 1, MMP_PTL_SPLIT);
	struct mp_region *r;
	struct mp_tpage *tp;
	uint64_t *m, v;
	int fd;

	if (!p)
		return;
	m = map_zero_file(p, LEN, &fd);
	if (mlock2(m, LEN, MLOCK_ONFAULT) < 0) {
		mmp_unmap(p, m, LEN, NULL);
		mmp_pager_free(p);
		close(fd);
		skip();
	}
	m[0] = 1;				/* DIRTY */
	assert_int_not_equal(mmp_evict(p, m, 4096, NULL), 0);
	assert_int_equal(pread(fd, &v, 8, 0), 8);
	assert_int_equal(v, 1);			/* written back before the drop */
	r = mp_region_get(p, m);
	tp = mp_ptab_peek(&r->pt, 0);
	mp_tp_lock(tp);
	assert_int_equal(mp_pte_of(tp, 0)->state, MP_CLEAN);
	mp_tp_unlock(tp);
	mp_region_put(r);
	m[0] = 2;				/* a write-protect fault, then DIRTY */
	assert_int_equal(mmp_flush(p, NULL), 0);
	assert_int_equal(pread(fd, &v, 8, 0), 8);
	assert_int_equal(v, 2);
	munlock(m, LEN);
	assert_int_equal(mmp_unmap(p, m, LEN, NULL), 0);
	mmp_pager_free(p);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc_race),
		cmocka_unit_test(test_same_tpage_excludes),
		cmocka_unit_test(test_split_vs_global_counts),
		cmocka_unit_test(test_fault_evict_unmap_split),
		cmocka_unit_test(test_fault_evict_unmap_global),
		cmocka_unit_test(test_flush_after_write_fault),
		cmocka_unit_test(test_failed_drop_leaves_page_clean),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
