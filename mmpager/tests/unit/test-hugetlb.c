// SPDX-License-Identifier: MIT
/* test-hugetlb.c - hugetlb demand paging: a MAP_HUGETLB (or hugetlbfs
 * file) region instantiates nothing at map time and fills each 2 MiB page
 * from the store on first touch (the process holds one more huge page per
 * page touched); a short pool is refused at map time naming
 * /proc/sys/vm/nr_hugepages and the count needed; eviction works at
 * huge-page granularity.  The group setup adds up to 8 pages to the pool
 * and the teardown gives back what it added. */
#include <sys/mman.h>

#include "mmp-test.h"

#define HUGE (2u << 20)
#define HUGE_KB 2048L

static struct mt_pool pool;
static bool pool_ready;

static long meminfo(const char *key)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	long v = -1;
	size_t n = strlen(key);

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':')
			v = strtol(line + n + 1, NULL, 10);
	fclose(f);
	return v;
}

/* The library pages 2 MiB regions from the default pool only. */
static int setup(void **state)
{
	if (meminfo("Hugepagesize") != HUGE_KB || mt_pool_open(&pool, HUGE_KB) < 0)
		return 0;
	pool_ready = mt_pool_ensure(&pool, 8) == 0;
	return 0;
}

static int teardown(void **state)
{
	mt_pool_give_back(&pool);
	return 0;
}

static void need_pool(long pages)
{
	uint64_t f;

	if (!pool_ready || mmp_uffd_features(&f, NULL) < 0 || mt_pool_ensure(&pool, pages) < 0)
		skip();
}

/* Map len bytes of fd, with pages of the pool held for it. */
static void map_huge(struct mmp_pager *p, int fd, size_t len, long pages,
		     const char *hugetlbfs, void **m)
{
	struct mmp_map_args a = { .len = len, .prot = PROT_READ | PROT_WRITE,
				  .flags = MMP_MAP_HUGETLB, .hugetlbfs_file = hugetlbfs };

	assert_int_equal(mmp_store_file(fd, &a.store, NULL), 0);
	*m = mt_map_huge(p, &a, &pool, pages);
}

static void file_equals(int fd, const uint8_t *content, size_t len)
{
	uint8_t *back = malloc(len);

	assert_int_equal(pread(fd, back, len, 0), (ssize_t)len);
	assert_memory_equal(back, content, len);
	free(back);
}

/* Touch page by page: the process holds one more huge page per first
 * touch, and each page holds the file's bytes. */
static void demand_paging(const char *hugetlbfs)
{
	struct mmp_pager *p = mt_pager(4096, 16 * 512, 1, 1, MMP_PTL_SPLIT);
	size_t len = 6 * (size_t)HUGE;
	uint8_t *content, *m;
	void *addr;
	int fd;

	fd = mt_file(len, 21, (void **)&content);
	map_huge(p, fd, len, 6, hugetlbfs, &addr);
	m = addr;
	assert_int_equal(mt_hugetlb_kb(), 0);	/* nothing instantiated */
	for (int i = 0; i < 6; i++) {
		volatile uint8_t b = m[(size_t)i * HUGE + 12345];

		(void)b;
		assert_int_equal(mt_hugetlb_kb(), (i + 1) * HUGE_KB);
		assert_int_equal(mt_hugetlb_kb(), (i + 1) * HUGE_KB);	/* a second read, no change */
		assert_memory_equal(m + (size_t)i * HUGE, content + (size_t)i * HUGE, HUGE);
	}
	m[3 * (size_t)HUGE + 7] ^= 0xff;
	content[3 * (size_t)HUGE + 7] ^= 0xff;
	assert_int_equal(mmp_unmap(p, addr, len, NULL), 0);
	assert_int_equal(mt_hugetlb_kb(), 0);
	file_equals(fd, content, len);
	free(content);
	close(fd);
	mmp_pager_free(p);
}

static void test_map_hugetlb_demand(void **state)
{
	need_pool(6);
	demand_paging(NULL);
}

static void test_hugetlbfs_file_demand(void **state)
{
	need_pool(6);
	mt_on_hugetlbfs("2M", demand_paging);
}

/* Read-only huge pages of the zero store: hugetlb has no UFFDIO_ZEROPAGE,
 * so they are filled by copy (a fault must never be left unserved). */
static void test_hugetlb_zero_readonly(void **state)
{
	struct mmp_pager *p;
	struct mmp_map_args a = { .len = 2 * (size_t)HUGE, .prot = PROT_READ,
				  .flags = MMP_MAP_HUGETLB };
	struct mmp_stats st;
	uint8_t *m;
	void *addr;

	need_pool(2);
	p = mt_pager(4096, 4 * 512, 1, 1, MMP_PTL_SPLIT);
	assert_int_equal(mmp_store_zero(NULL, &a.store, NULL), 0);
	addr = mt_map_huge(p, &a, &pool, 2);
	m = addr;
	assert_int_equal(m[HUGE + 5], 0);
	mmp_stats(p, &st);
	assert_int_equal(st.zero_fills, 1);
	assert_int_equal(st.poisoned, 0);
	assert_int_equal(mmp_unmap(p, addr, a.len, NULL), 0);
	mmp_pager_free(p);
}

/* A pool too small: refused at map time, with the file and the count.  A
 * margin of 64 keeps the case a refusal while other users move the pool. */
static void test_short_pool_refused(void **state)
{
	struct mmp_pager *p;
	struct mmp_map_args a = { .prot = PROT_READ, .flags = MMP_MAP_HUGETLB };
	struct ob_err err = { 0 };
	char want[64];
	long need;
	void *m;

	need_pool(0);
	need = mt_pool_unreserved(&pool) + 64;
	a.len = (size_t)need * HUGE;
	p = mt_pager(4096, (uint64_t)need * 512, 1, 1, MMP_PTL_SPLIT);
	assert_int_equal(mmp_store_zero(NULL, &a.store, NULL), 0);
	assert_int_equal(mmp_map(p, &a, &m, &err), -ENOMEM);
	assert_non_null(strstr(err.msg, "/proc/sys/vm/nr_hugepages"));
	snprintf(want, sizeof(want), "needs %ld free 2 MiB huge pages", need);
	assert_non_null(strstr(err.msg, want));
	mmp_store_destroy(a.store);
	mmp_pager_free(p);
}

/* A region larger than the buffer: huge pages are evicted and written
 * back, and the pool never holds more than the buffer. */
static void test_hugetlb_eviction(void **state)
{
	struct mmp_pager *p;
	size_t len = 6 * (size_t)HUGE;
	uint8_t *content, *m;
	struct mmp_stats st;
	void *addr;
	int fd;

	need_pool(2);
	p = mt_pager(4096, 2 * 512, 1, 1, MMP_PTL_SPLIT);	/* 2 huge pages */
	fd = mt_file(len, 0, (void **)&content);
	map_huge(p, fd, len, 2, NULL, &addr);
	m = addr;
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < 6; i++) {
			m[(size_t)i * HUGE + (size_t)round * 4096] = (uint8_t)(i * 10 + round + 1);
			content[(size_t)i * HUGE + (size_t)round * 4096] = (uint8_t)(i * 10 + round + 1);
		}
	mmp_stats(p, &st);
	assert_true(st.evictions >= 4);
	assert_true(st.peak_resident_bytes <= 2 * (size_t)HUGE);
	assert_true(mt_hugetlb_kb() <= 2 * HUGE_KB);
	assert_memory_equal(m, content, len);
	assert_int_equal(mmp_unmap(p, addr, len, NULL), 0);
	file_equals(fd, content, len);
	free(content);
	close(fd);
	mmp_pager_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_hugetlb_demand),
		cmocka_unit_test(test_hugetlbfs_file_demand),
		cmocka_unit_test(test_hugetlb_zero_readonly),
		cmocka_unit_test(test_short_pool_refused),
		cmocka_unit_test(test_hugetlb_eviction),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
