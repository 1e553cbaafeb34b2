// SPDX-License-Identifier: MIT
/* test-hugetlb-1g.c - 1 GiB hugetlb demand paging: a MAP_HUGE_1GB (or
 * pagesize=1G hugetlbfs file) region instantiates nothing at map time,
 * fills its 1 GiB page from the store on first touch (the process holds
 * one GiB of huge pages), writes it back on flush, evicts it whole; a
 * short 1G pool is refused naming its own nr_hugepages.
 *
 * main() adds a page to the 1G pool and runs the tests in a child; the
 * pool's record is shared with the child, so what either added is given
 * back even when a test crashes.  When the kernel cannot find a free GiB
 * (fragmented memory) the tests that touch a page skip; the refusals at
 * map time still run. */
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "mmp-test.h"
#include "mp-int.h"

#define GIB		((size_t)1 << 30)
#define GIB_KB		(1L << 20)
#define NR_PAGES	"/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages"

/* Known bytes of the sparse store file, spread over the page. */
static const size_t known_off[] = { 0, 3 * 4096 + 5, GIB / 2 + 7, GIB - 1 };
static const uint8_t known_val[] = { 0x11, 0x22, 0x33, 0x44 };

static struct mt_pool *pool;	/* shared with the child that runs the tests */
static bool pool_ready;

static void need_pool(void)
{
	uint64_t f;

	if (!pool_ready || mmp_uffd_features(&f, NULL) < 0 || mt_pool_ensure(pool, 1) < 0)
		skip();
}

/* The refusals need the 1G pool to exist, not to hold a page. */
static void need_1g_support(void)
{
	if (!pool)
		skip();
}

/* A 1 GiB sparse file with known_val at known_off. */
static int sparse_store_file(void)
{
	char path[] = "/tmp/mmp-1g-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(ftruncate(fd, (off_t)GIB), 0);
	for (size_t i = 0; i < sizeof(known_off) / sizeof(known_off[0]); i++)
		assert_int_equal(pwrite(fd, &known_val[i], 1, (off_t)known_off[i]), 1);
	return fd;
}

static uint8_t file_byte(int fd, size_t off)
{
	uint8_t b = 0;

	assert_int_equal(pread(fd, &b, 1, (off_t)off), 1);
	return b;
}

static void check_known(const volatile uint8_t *m)
{
	for (size_t i = 0; i < sizeof(known_off) / sizeof(known_off[0]); i++)
		assert_int_equal(m[known_off[i]], known_val[i]);
	assert_int_equal(m[GIB / 4], 0);
}

static void demand_paging(const char *hugetlbfs)
{
	struct mmp_pager *p = mt_pager(4096, GIB / 4096, 1, 1, MMP_PTL_SPLIT);
	struct mmp_map_args a = { .len = GIB, .prot = PROT_READ | PROT_WRITE,
				  .flags = MMP_MAP_HUGETLB | MMP_MAP_HUGE_1GB,
				  .hugetlbfs_file = hugetlbfs };
	volatile uint8_t *m;
	const size_t woff = 700 * ((size_t)1 << 20) + 1;
	void *addr;
	int fd = sparse_store_file();

	assert_int_equal(mmp_store_file(fd, &a.store, NULL), 0);
	addr = mt_map_huge(p, &a, pool, 1);
	assert_int_equal((uintptr_t)addr % GIB, 0);
	m = addr;
	assert_int_equal(mt_hugetlb_kb(), 0);			/* nothing instantiated */
	assert_int_equal(m[known_off[2]], known_val[2]);	/* first touch */
	assert_int_equal(mt_hugetlb_kb(), GIB_KB);
	check_known(m);
	assert_int_equal(mt_hugetlb_kb(), GIB_KB);		/* one page holds it all */

	m[woff] = 0x5a;
	assert_int_equal(file_byte(fd, woff), 0);
	assert_int_equal(mmp_flush(p, NULL), 0);
	assert_int_equal(file_byte(fd, woff), 0x5a);
	assert_int_equal(file_byte(fd, known_off[3]), known_val[3]);

	/* evicted whole, and filled again from what was written back */
	assert_int_equal(mmp_evict(p, addr, GIB, NULL), 0);
	assert_int_equal(mt_hugetlb_kb(), 0);
	assert_int_equal(m[woff], 0x5a);
	assert_int_equal(mt_hugetlb_kb(), GIB_KB);
	check_known(m);

	assert_int_equal(mmp_unmap(p, addr, GIB, NULL), 0);
	assert_int_equal(mt_hugetlb_kb(), 0);
	close(fd);
	mmp_pager_free(p);
}

static void test_map_huge_1gb_demand(void **state)
{
	need_pool();
	demand_paging(NULL);
}

static void test_hugetlbfs_1g_file_demand(void **state)
{
	need_pool();
	mt_on_hugetlbfs("1G", demand_paging);
}

/* More pages than the 1G pool has free: refused at map time, naming the
 * 1G pool's knob (not /proc/sys/vm/nr_hugepages) and the count.  A margin
 * of 8 keeps the case a refusal while other users move the pool. */
static void test_short_1g_pool_refused(void **state)
{
	struct mmp_pager *p;
	long need;
	struct mmp_map_args a = { .prot = PROT_READ,
				  .flags = MMP_MAP_HUGETLB | MMP_MAP_HUGE_1GB };
	struct ob_err err = { 0 };
	char want[64];
	void *m;

	need_1g_support();
	need = mt_pool_unreserved(pool) + 8;
	a.len = (size_t)need * GIB;
	p = mt_pager(4096, (size_t)need * (GIB / 4096), 1, 1, MMP_PTL_SPLIT);
	assert_int_equal(mmp_store_zero(NULL, &a.store, NULL), 0);
	assert_int_equal(mmp_map(p, &a, &m, &err), -ENOMEM);
	assert_non_null(strstr(err.msg, NR_PAGES));
	snprintf(want, sizeof(want), "needs %ld free 1 GiB huge pages", need);
	assert_non_null(strstr(err.msg, want));
	mmp_store_destroy(a.store);
	mmp_pager_free(p);
}

/* A buffer smaller than one 1 GiB page cannot page it. */
static void test_1g_needs_1g_buffer(void **state)
{
	struct mmp_pager *p;
	struct mmp_map_args a = { .len = GIB, .prot = PROT_READ,
				  .flags = MMP_MAP_HUGETLB | MMP_MAP_HUGE_1GB };
	struct ob_err err = { 0 };
	void *m;

	need_1g_support();
	p = mt_pager(4096, 512, 1, 1, MMP_PTL_SPLIT);	/* 2 MiB buffer */
	assert_int_equal(mmp_store_zero(NULL, &a.store, NULL), 0);
	assert_int_equal(mmp_map(p, &a, &m, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "smaller than one 1 GiB huge page"));
	mmp_store_destroy(a.store);
	mmp_pager_free(p);
}

/* MMP_MAP_HUGE_1GB means nothing without MMP_MAP_HUGETLB: refused. */
static void test_1g_flag_alone_refused(void **state)
{
	struct mmp_pager *p = mt_pager(4096, 512, 1, 1, MMP_PTL_SPLIT);
	struct mmp_map_args a = { .len = GIB, .prot = PROT_READ, .flags = MMP_MAP_HUGE_1GB };
	struct ob_err err = { 0 };
	void *m;

	assert_int_equal(mmp_store_zero(NULL, &a.store, NULL), 0);
	assert_int_equal(mmp_map(p, &a, &m, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "MMP_MAP_HUGE_1GB"));
	mmp_store_destroy(a.store);
	mmp_pager_free(p);
}

/* A 1 GiB fill's bounce buffer is a fresh zero mapping, given back once
 * the page is copied in: no filler keeps a GiB between faults. */
static void test_1g_bounce_given_back(void **state)
{
	struct mp_worker_buf b = { 0 };
	volatile uint8_t *page;

	for (int round = 0; round < 2; round++) {
		assert_int_equal(mp_bounce_get(&b, GIB), 0);
		assert_true(b.mapped);
		page = b.page;
		assert_int_equal(page[GIB - 1], 0);	/* fresh, even after a write */
		page[GIB - 1] = 0x77;
		mp_bounce_trim(&b);
		assert_null(b.page);
		assert_int_equal(b.size, 0);
	}
	assert_int_equal(mp_bounce_get(&b, 4096), 0);	/* small pages stay */
	mp_bounce_trim(&b);
	assert_non_null(b.page);
	mp_bounce_free(&b);
}

static int run_1g_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_huge_1gb_demand),
		cmocka_unit_test(test_hugetlbfs_1g_file_demand),
		cmocka_unit_test(test_short_1g_pool_refused),
		cmocka_unit_test(test_1g_needs_1g_buffer),
		cmocka_unit_test(test_1g_flag_alone_refused),
		cmocka_unit_test(test_1g_bounce_given_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

int main(void)
{
	int status = 0;
	pid_t pid;

	pool = mmap(NULL, sizeof(*pool), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		    -1, 0);
	if (pool == MAP_FAILED)
		return 1;
	if (mt_pool_open(pool, GIB_KB) < 0) {
		fprintf(stderr, "SKIP: no 1 GiB huge pages here (no %s)\n", NR_PAGES);
		munmap(pool, sizeof(*pool));
		pool = NULL;
	} else if (mt_pool_ensure(pool, 1) < 0) {
		fprintf(stderr, "SKIP: the kernel could not add a 1 GiB page to %s "
			"(not root, or memory too fragmented)\n", NR_PAGES);
	} else {
		pool_ready = true;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0)
		_exit(run_1g_tests());
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		status = 1 << 8;
	if (pool)
		mt_pool_give_back(pool);
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "tests died of signal %d\n", WTERMSIG(status));
		return 1;
	}
	return WEXITSTATUS(status);
}
