// SPDX-License-Identifier: MIT
/* test-hugetlb.c - hugetlb demand paging: a MAP_HUGETLB (or hugetlbfs
 * file) region instantiates nothing at map time and fills each 2 MiB page
 * from the store on first touch (HugePages_Free falls only as pages are
 * touched); a short pool is refused at map time naming
 * /proc/sys/vm/nr_hugepages and the count needed; eviction works at
 * huge-page granularity.  The group setup adds 8 pages to the pool and
 * the teardown gives them back. */
#include <sys/mman.h>

#include "mmp-test.h"

#define HUGE (2u << 20)
#define NR_HUGEPAGES "/proc/sys/vm/nr_hugepages"

static long pool_before = -1;

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

static int pool_set(long n)
{
	return mt_write_long(NR_HUGEPAGES, n);
}

static long pool_get(void)
{
	FILE *f = fopen(NR_HUGEPAGES, "r");
	long n = -1;

	if (f) {
		if (fscanf(f, "%ld", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

static int setup(void **state)
{
	pool_before = pool_get();
	if (pool_before < 0 || meminfo("Hugepagesize") != 2048)
		return 0;
	if (pool_set(pool_before + 8) < 0 || meminfo("HugePages_Free") < 8) {
		pool_set(pool_before);
		pool_before = -1;
	}
	return 0;
}

static int teardown(void **state)
{
	if (pool_before >= 0)
		pool_set(pool_before);
	return 0;
}

static void need_pool(void)
{
	uint64_t f;

	if (pool_before < 0 || mmp_uffd_features(&f, NULL) < 0)
		skip();
}

static void map_huge(struct mmp_pager *p, int fd, size_t len, const char *hugetlbfs,
		     void **m)
{
	struct mmp_map_args a = { .len = len, .prot = PROT_READ | PROT_WRITE,
				  .flags = MMP_MAP_HUGETLB, .hugetlbfs_file = hugetlbfs };
	struct ob_err err = { 0 };

	assert_int_equal(mmp_store_file(fd, &a.store, NULL), 0);
	if (mmp_map(p, &a, m, &err) < 0)
		fail_msg("map: %s (%d)", err.msg, err.code);
}

static void file_equals(int fd, const uint8_t *content, size_t len)
{
	uint8_t *back = malloc(len);

	assert_int_equal(pread(fd, back, len, 0), (ssize_t)len);
	assert_memory_equal(back, content, len);
	free(back);
}

/* Touch page by page: the pool's free count falls by one per first touch,
 * and each page holds the file's bytes. */
static void demand_paging(const char *hugetlbfs)
{
	struct mmp_pager *p = mt_pager(4096, 16 * 512, 1, 1, MMP_PTL_SPLIT);
	size_t len = 6 * (size_t)HUGE;
	uint8_t *content, *m;
	long free0, free_map;
	void *addr;
	int fd;

	fd = mt_file(len, 21, (void **)&content);
	free0 = meminfo("HugePages_Free");
	map_huge(p, fd, len, hugetlbfs, &addr);
	m = addr;
	free_map = meminfo("HugePages_Free");
	assert_int_equal(free_map, free0);	/* nothing instantiated */
	for (int i = 0; i < 6; i++) {
		volatile uint8_t b = m[(size_t)i * HUGE + 12345];

		(void)b;
		assert_int_equal(meminfo("HugePages_Free"), free0 - (i + 1));
		assert_int_equal(meminfo("HugePages_Free"), free0 - (i + 1));	/* a second read, no change */
		assert_memory_equal(m + (size_t)i * HUGE, content + (size_t)i * HUGE, HUGE);
	}
	m[3 * (size_t)HUGE + 7] ^= 0xff;
	content[3 * (size_t)HUGE + 7] ^= 0xff;
	assert_int_equal(mmp_unmap(p, addr, len, NULL), 0);
	assert_int_equal(meminfo("HugePages_Free"), free0);
	file_equals(fd, content, len);
	free(content);
	close(fd);
	mmp_pager_free(p);
}

static void test_map_hugetlb_demand(void **state)
{
	need_pool();
	demand_paging(NULL);
}

static void test_hugetlbfs_file_demand(void **state)
{
	need_pool();
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

	need_pool();
	p = mt_pager(4096, 4 * 512, 1, 1, MMP_PTL_SPLIT);
	assert_int_equal(mmp_store_zero(NULL, &a.store, NULL), 0);
	assert_int_equal(mmp_map(p, &a, &addr, NULL), 0);
	m = addr;
	assert_int_equal(m[HUGE + 5], 0);
	mmp_stats(p, &st);
	assert_int_equal(st.zero_fills, 1);
	assert_int_equal(st.poisoned, 0);
	assert_int_equal(mmp_unmap(p, addr, a.len, NULL), 0);
	mmp_pager_free(p);
}

/* A pool too small: refused at map time, with the file and the count. */
static void test_short_pool_refused(void **state)
{
	struct mmp_pager *p;
	struct mmp_map_args a = { .len = 64 * (size_t)HUGE, .prot = PROT_READ,
				  .flags = MMP_MAP_HUGETLB };
	struct ob_err err = { 0 };
	long free_now;
	void *m;

	need_pool();
	p = mt_pager(4096, 128 * 512, 1, 1, MMP_PTL_SPLIT);	/* 256 MiB buffer */
	free_now = meminfo("HugePages_Free") - meminfo("HugePages_Rsvd");
	assert_true(free_now < 64);
	assert_int_equal(mmp_store_zero(NULL, &a.store, NULL), 0);
	assert_int_equal(mmp_map(p, &a, &m, &err), -ENOMEM);
	assert_non_null(strstr(err.msg, "/proc/sys/vm/nr_hugepages"));
	assert_non_null(strstr(err.msg, "needs 64 free 2 MiB huge pages"));
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

	need_pool();
	p = mt_pager(4096, 2 * 512, 1, 1, MMP_PTL_SPLIT);	/* 2 huge pages */
	fd = mt_file(len, 0, (void **)&content);
	map_huge(p, fd, len, NULL, &addr);
	m = addr;
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < 6; i++) {
			m[(size_t)i * HUGE + (size_t)round * 4096] = (uint8_t)(i * 10 + round + 1);
			content[(size_t)i * HUGE + (size_t)round * 4096] = (uint8_t)(i * 10 + round + 1);
		}
	mmp_stats(p, &st);
	assert_true(st.evictions >= 4);
	assert_true(st.peak_resident_bytes <= 2 * (size_t)HUGE);
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
