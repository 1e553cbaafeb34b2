// SPDX-License-Identifier: MIT
/* test-move.c - the mover's passes, batching and reasons, against a fake
 * move_pages (struct nm_sys) that behaves as spec 1.2 observed the kernel:
 * EBUSY that clears after some tries, a held reference that makes the call
 * return a positive count and leave status[] unwritten, THP sub-pages that
 * say EBUSY although they moved, EACCES for shared pages without MOVE_ALL,
 * and whole-call errors.  The last test moves this process's own pages to
 * node 0 with the real system call (the CI machine has one node).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "numamove.h"

#define NPAGES 1000
#define BASE 0x100000000UL

struct fake {
	int node[NPAGES];
	int busy_left[NPAGES];		/* EBUSY this many more tries */
	bool pinned[NPAGES];		/* held reference: fails, no status */
	bool shared[NPAGES];		/* EACCES without MOVE_ALL */
	bool bogus[NPAGES];		/* moves but says EBUSY (THP) */
	int call_err;			/* whole-call error for move calls */
	unsigned int move_calls, max_count;
	unsigned int target_runs;	/* runs of one target node within calls */
};

static long fake_move_pages(void *priv, int pid, unsigned long count, void **pages,
			    const int *nodes, int *status, int flags)
{
	struct fake *f = priv;
	long failed = 0;
	bool group_failed = false;

	for (unsigned long j = 0; j < count; j++) {
		size_t i = ((unsigned long)pages[j] - BASE) / 4096;

		if (!nodes) {
			status[j] = f->node[i];
			continue;
		}
		if (f->pinned[i])
			group_failed = true;
	}
	if (!nodes)
		return 0;
	f->move_calls++;
	for (unsigned long j = 0; j < count; j++)
		f->target_runs += j == 0 || nodes[j] != nodes[j - 1];
	if (count > f->max_count)
		f->max_count = (unsigned int)count;
	if (f->call_err)
		return f->call_err;
	for (unsigned long j = 0; j < count; j++) {
		size_t i = ((unsigned long)pages[j] - BASE) / 4096;

		/* Errors found while isolating are written at once. */
		if (f->shared[i] && !(flags & (1 << 2))) {
			status[j] = -EACCES;
		} else if (f->busy_left[i] > 0) {
			f->busy_left[i]--;
			status[j] = -EBUSY;
		} else if (f->pinned[i]) {
			failed++;
		} else if (f->bogus[i]) {
			f->node[i] = nodes[j];
			status[j] = -EBUSY;
		} else {
			f->node[i] = nodes[j];
			if (!group_failed)
				status[j] = nodes[j];
		}
	}
	return failed;
}

struct world {
	struct fake f;
	struct nm_sys sys;
	struct nm_proc p;
	struct nm_vma vma;
	struct nm_move_opts o;
	struct nm_report rep;
};

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));

	w->sys = (struct nm_sys){ .move_pages = fake_move_pages, .priv = &w->f };
	w->vma = (struct nm_vma){ .start = BASE, .end = BASE + NPAGES * 4096UL,
				  .pagesize = 4096, .name = (char *)"" };
	w->p.pid = getpid();	/* alive: a dead target turns errors into ESRCH */
	w->p.vmas = &w->vma;
	w->p.nr_vmas = 1;
	w->p.pages = calloc(NPAGES, sizeof(*w->p.pages));
	w->p.nr_pages = NPAGES;
	for (size_t i = 0; i < NPAGES; i++) {
		w->p.pages[i] = (struct nm_page){ .addr = BASE + i * 4096, .node = 0, .target = 1,
						  .status = NM_STATUS_UNSET, .pm = NM_PM_PRESENT };
		w->f.node[i] = 0;
	}
	nm_move_opts_init(&w->o);
	w->o.backoff_ms = 0;
	w->o.flags = NM_F_MOVE_ALL;
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;

	free(w->p.pages);
	free(w);
	return 0;
}

static size_t on_node(struct world *w, int node)
{
	size_t n = 0;

	for (size_t i = 0; i < NPAGES; i++)
		n += w->f.node[i] == node && w->p.pages[i].node == node;
	return n;
}

static void test_plain_move_is_one_pass(void **state)
{
	struct world *w = *state;

	assert_int_equal(nm_move_pages(&w->p, &w->sys, &w->o, &w->rep, NULL), 0);
	assert_int_equal(on_node(w, 1), NPAGES);
	assert_int_equal(w->rep.passes, 1);
	assert_true(w->f.max_count <= w->o.batch_max);
}

static void test_pages_for_two_targets_go_in_one_group_each(void **state)
{
	struct world *w = *state;

	/* Address order alternates the targets: the mover must sort. */
	for (size_t i = 0; i < NPAGES; i++)
		w->p.pages[i].target = (int16_t)(1 + i % 2);
	assert_int_equal(nm_move_pages(&w->p, &w->sys, &w->o, &w->rep, NULL), 0);
	assert_int_equal(w->f.move_calls, 1);
	assert_int_equal(w->f.target_runs, 2);
	for (size_t i = 0; i < NPAGES; i++)
		assert_int_equal(w->f.node[i], 1 + (int)(i % 2));
}

static void test_busy_pages_are_retried_until_they_move(void **state)
{
	struct world *w = *state;

	w->f.busy_left[7] = 3;
	w->f.busy_left[500] = 1;
	assert_int_equal(nm_move_pages(&w->p, &w->sys, &w->o, &w->rep, NULL), 0);
	assert_int_equal(on_node(w, 1), NPAGES);
	assert_int_equal(w->rep.passes, 4);
}

static void test_busy_forever_is_reported_busy(void **state)
{
	struct world *w = *state;

	w->f.busy_left[9] = 1000;
	w->o.retries = 3;
	assert_int_equal(nm_move_pages(&w->p, &w->sys, &w->o, &w->rep, NULL), 0);
	assert_int_equal(w->rep.passes, 4);
	assert_int_equal(w->p.pages[9].node, 0);
	assert_int_equal(nm_classify(&w->vma, &w->p.pages[9], true), NM_R_BUSY);
	w->vma.flags |= NM_VMA_LOCKED;
	assert_int_equal(nm_classify(&w->vma, &w->p.pages[9], true), NM_R_MLOCKED);
}

static void test_unwritten_status_means_pinned_and_others_still_move(void **state)
{
	struct world *w = *state;

	/* The whole batch's status[] stays unwritten, but only the re-query
	 * says which pages really stayed. */
	w->f.pinned[100] = true;
	assert_int_equal(nm_move_pages(&w->p, &w->sys, &w->o, &w->rep, NULL), 0);
	assert_int_equal(on_node(w, 1), NPAGES - 1);
	assert_int_equal(w->p.pages[100].node, 0);
	assert_int_equal(w->p.pages[100].status, NM_STATUS_UNSET);
	assert_int_equal(nm_classify(&w->vma, &w->p.pages[100], true), NM_R_PINNED);
}

static void test_bogus_ebusy_is_not_a_residue(void **state)
{
	struct world *w = *state;

	for (size_t i = 0; i < 31; i++)
		w->f.bogus[i * 16] = true;
	assert_int_equal(nm_move_pages(&w->p, &w->sys, &w->o, &w->rep, NULL), 0);
	assert_int_equal(on_node(w, 1), NPAGES);
	assert_int_equal(w->rep.bogus_status, 31);
	assert_int_equal(w->rep.passes, 1);
}

static void test_shared_without_move_all_is_final(void **state)
{
	struct world *w = *state;

	w->o.flags = 0;
	w->f.shared[3] = w->f.shared[4] = true;
	assert_int_equal(nm_move_pages(&w->p, &w->sys, &w->o, &w->rep, NULL), 0);
	assert_int_equal(on_node(w, 1), NPAGES - 2);
	/* EACCES is not retried. */
	assert_int_equal(w->p.pages[3].tries, 1);
	assert_int_equal(nm_classify(&w->vma, &w->p.pages[3], false), NM_R_SHARED);
}

static void test_whole_call_errors_stop_with_a_reason(void **state)
{
	static const struct {
		int rc;
		const char *words;
	} cases[] = {
		{ -ESRCH, "exited" },
		{ -EPERM, "CAP_SYS_NICE" },
		{ -EACCES, "cpuset" },
		{ -ENODEV, "no memory" },
	};
	struct world *w = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ob_err err = { 0 };

		w->f.call_err = cases[i].rc;
		assert_int_equal(nm_move_pages(&w->p, &w->sys, &w->o, &w->rep, &err), cases[i].rc);
		assert_non_null(strstr(err.msg, cases[i].words));
	}
}

static void test_enomem_marks_the_batch_and_continues(void **state)
{
	struct world *w = *state;
	struct ob_err err = { 0 };

	w->f.call_err = -ENOMEM;
	w->o.retries = 1;
	assert_int_equal(nm_move_pages(&w->p, &w->sys, &w->o, &w->rep, &err), 0);
	assert_int_equal(w->p.pages[0].status, -ENOMEM);
	assert_int_equal(nm_classify(&w->vma, &w->p.pages[0], true), NM_R_NOMEM);
}

static void test_batch_follows_the_time_budget(void **state)
{
	struct nm_move_opts o;

	nm_move_opts_init(&o);
	o.call_budget_us = 20000;
	/* 2048 pages in 40 ms -> half as many for a 20 ms budget. */
	assert_int_equal(nm_batch_next(&o, 2048, 40000, 0), 1024);
	/* Fast calls grow the batch, at most twofold. */
	assert_int_equal(nm_batch_next(&o, 2048, 1000, 0), 4096);
	assert_int_equal(nm_batch_next(&o, 2048, 0, 0), 4096);
	/* Clamped to the limits. */
	assert_int_equal(nm_batch_next(&o, 1024, 10000000, 0), o.batch_min);
	assert_int_equal(nm_batch_next(&o, o.batch_max - 1, 1, 0), o.batch_max);
}

static void test_batch_ignores_the_fixed_cost_of_a_call(void **state)
{
	struct nm_move_opts o;

	nm_move_opts_init(&o);
	o.call_budget_us = 20000;
	/* 100 ms per call whatever the size: 1024 pages in 110 ms means
	 * 10 ms of real work, so the batch may double, not shrink. */
	assert_int_equal(nm_batch_next(&o, 1024, 110000, 100000), 2048);
	/* 40 ms of work on top of the fixed cost: halve. */
	assert_int_equal(nm_batch_next(&o, 1024, 140000, 100000), 512);
}

static void test_classify_table(void **state)
{
	static const struct {
		unsigned int vflags;
		int status, tries;
		bool move_all;
		enum nm_reason want;
	} cases[] = {
		{ NM_VMA_SPECIAL, -EBUSY, 1, true, NM_R_SPECIAL },
		{ NM_VMA_IO, NM_STATUS_UNSET, 0, true, NM_R_SPECIAL },
		{ NM_VMA_SKIPPED, NM_STATUS_UNSET, 0, true, NM_R_UNSCANNED },
		{ 0, NM_STATUS_UNSET, 0, true, NM_R_NEW },
		{ NM_VMA_HUGETLB, -EBUSY, 1, true, NM_R_HUGETLB },
		{ NM_VMA_HUGETLB, NM_STATUS_UNSET, 2, true, NM_R_HUGETLB },
		{ 0, -EACCES, 1, false, NM_R_SHARED },
		{ 0, -EFAULT, 1, true, NM_R_ZERO },
		{ 0, -ENOMEM, 1, true, NM_R_NOMEM },
		{ 0, -EIO, 1, true, NM_R_IO },
		{ 0, -EINVAL, 1, true, NM_R_IO },
		{ 0, -ENOENT, 1, true, NM_R_NEW },
		{ 0, -EBUSY, 6, true, NM_R_BUSY },
		{ NM_VMA_LOCKED, -EBUSY, 6, true, NM_R_MLOCKED },
		{ 0, NM_STATUS_UNSET, 6, true, NM_R_PINNED },
		{ NM_VMA_LOCKED, NM_STATUS_UNSET, 6, true, NM_R_MLOCKED },
		{ 0, 1, 1, true, NM_R_NEW },
		{ 0, -EXDEV, 1, true, NM_R_OTHER },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct nm_vma v = { .flags = cases[i].vflags, .pagesize = 4096 };
		struct nm_page pg = { .status = cases[i].status, .tries = (uint8_t)cases[i].tries };

		assert_int_equal(nm_classify(&v, &pg, cases[i].move_all), cases[i].want);
	}
	assert_false(nm_reason_is_failure(NM_R_SPECIAL));
	assert_false(nm_reason_is_failure(NM_R_ZERO));
	assert_true(nm_reason_is_failure(NM_R_SHARED));
	for (int r = 0; r < NM_R__COUNT; r++) {
		assert_non_null(nm_reason_name((enum nm_reason)r));
		assert_true(strlen(nm_reason_text((enum nm_reason)r)) > 4);
	}
}

static void test_real_move_of_own_pages_to_node0(void **state)
{
	size_t len = 4 << 20, n = len / 4096;
	char *buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct nm_vma v = { .pagesize = 4096, .name = (char *)"" };
	struct nm_proc p = { .pid = getpid(), .vmas = &v, .nr_vmas = 1 };
	struct nm_move_opts o;
	struct nm_report rep;
	struct ob_err err = { 0 };

	assert_true(buf != MAP_FAILED);
	madvise(buf, len, MADV_NOHUGEPAGE);
	memset(buf, 7, len);
	v.start = (unsigned long)buf;
	v.end = v.start + len;
	p.pages = calloc(n, sizeof(*p.pages));
	p.nr_pages = n;
	for (size_t i = 0; i < n; i++)
		p.pages[i] = (struct nm_page){ .addr = v.start + i * 4096, .target = 0, .node = 1,
					       .status = NM_STATUS_UNSET, .pm = NM_PM_PRESENT };
	nm_move_opts_init(&o);
	memset(&rep, 0, sizeof(rep));
	assert_int_equal(nm_move_pages(&p, &nm_sys_default, &o, &rep, &err), 0);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(p.pages[i].node, 0);
		assert_int_equal(p.pages[i].status, 0);
	}
	assert_true(rep.calls >= 1);
	assert_int_equal(buf[len - 1], 7);
	free(p.pages);
	munmap(buf, len);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_plain_move_is_one_pass, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pages_for_two_targets_go_in_one_group_each,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_busy_pages_are_retried_until_they_move, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_busy_forever_is_reported_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unwritten_status_means_pinned_and_others_still_move,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_bogus_ebusy_is_not_a_residue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_without_move_all_is_final, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_whole_call_errors_stop_with_a_reason, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_enomem_marks_the_batch_and_continues, setup,
						teardown),
		cmocka_unit_test(test_batch_follows_the_time_budget),
		cmocka_unit_test(test_batch_ignores_the_fixed_cost_of_a_call),
		cmocka_unit_test(test_classify_table),
		cmocka_unit_test(test_real_move_of_own_pages_to_node0),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
