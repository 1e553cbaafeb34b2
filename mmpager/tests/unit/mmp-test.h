/* SPDX-License-Identifier: MIT */
/* mmp-test.h - what the mmpager unit tests share: a pager with a given
 * configuration, a temporary file of a given pattern, a skip when
 * userfaultfd is not available to this user, and hugetlb pools shared
 * with the rest of the machine. */
#ifndef MMP_TEST_H
#define MMP_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <cmocka.h>

#include "ob/err.h"
#include "mmpager.h"

static inline uint64_t mt_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* A pager with page size psize, buf_pages pages of buffer, the given
 * threads and lock mode; skips the test without userfaultfd. */
static inline struct mmp_pager *mt_pager(uint64_t psize, uint64_t buf_pages,
					 unsigned fillers, unsigned evictors,
					 enum mmp_ptl_mode ptl)
{
	struct mmp_config cfg;
	struct mmp_pager *p = NULL;
	struct ob_err err = { 0 };
	uint64_t f;

	if (mmp_uffd_features(&f, NULL) < 0) {
		skip();
		return NULL;
	}
	mmp_config_default(&cfg);
	cfg.page_size = psize;
	cfg.buf_pages = buf_pages;
	cfg.fillers = fillers;
	cfg.evictors = evictors;
	cfg.ptl = ptl;
	if (mmp_pager_new(&cfg, &p, &err) < 0)
		fail_msg("mmp_pager_new: %s (%d)", err.msg, err.code);
	return p;
}

/* An unlinked temporary file of len bytes filled from seed (0: zeros). */
static inline int mt_file(size_t len, uint64_t seed, void **content)
{
	char path[] = "/tmp/mmp-unit-XXXXXX";
	int fd = mkstemp(path);
	uint64_t *buf = calloc(1, len);

	assert_true(fd >= 0);
	assert_non_null(buf);
	unlink(path);
	for (size_t i = 0; seed && i < len / 8; i++)
		buf[i] = mt_rand(&seed);
	assert_int_equal(pwrite(fd, buf, len, 0), (ssize_t)len);
	if (content)
		*content = buf;
	else
		free(buf);
	return fd;
}

/* Write n to a sysctl or sysfs file (a hugepage pool's size); 0 or -1. */
static inline int mt_write_long(const char *path, long n)
{
	FILE *f = fopen(path, "w");
	int rc;

	if (!f)
		return -1;
	rc = fprintf(f, "%ld\n", n) < 0;
	rc |= fclose(f) != 0;
	return rc ? -1 : 0;
}

/* ---- hugetlb pools ------------------------------------------------------
 * A pool is the host kernel's, shared with every container on the machine:
 * other test runs grow, use and shrink it while ours runs.  So a test gives
 * back the pages it added (never an absolute size it read before), tops the
 * pool up again right before it maps, and counts its own huge pages
 * (HugetlbPages of /proc/self/status), never the pool's free count. */
struct mt_pool {
	char dir[96];		/* /sys/kernel/mm/hugepages/hugepages-<kB>kB */
	long added;		/* pages this run added, to give back */
};

static inline long mt_pool_read(const struct mt_pool *pool, const char *name)
{
	char path[160];
	FILE *f;
	long n = -1;

	snprintf(path, sizeof(path), "%s/%s", pool->dir, name);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

/* The pool of kb-sized pages; -1 when this kernel has none. */
static inline int mt_pool_open(struct mt_pool *pool, long kb)
{
	snprintf(pool->dir, sizeof(pool->dir), "/sys/kernel/mm/hugepages/hugepages-%ldkB", kb);
	pool->added = 0;
	return mt_pool_read(pool, "nr_hugepages") < 0 ? -1 : 0;
}

static inline long mt_pool_unreserved(const struct mt_pool *pool)
{
	return mt_pool_read(pool, "free_hugepages") - mt_pool_read(pool, "resv_hugepages");
}

static inline int mt_pool_set(const struct mt_pool *pool, long nr)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/nr_hugepages", pool->dir);
	return mt_write_long(path, nr);
}

/* Grow the pool until pages of it are free and unreserved; 0, or -1 when
 * the kernel cannot (not root, or no free contiguous memory). */
static inline int mt_pool_ensure(struct mt_pool *pool, long pages)
{
	long avail = mt_pool_unreserved(pool), nr, now;

	if (avail >= pages)
		return 0;
	nr = mt_pool_read(pool, "nr_hugepages");
	if (nr < 0 || mt_pool_set(pool, nr + pages - avail) < 0)
		return -1;
	now = mt_pool_read(pool, "nr_hugepages");
	if (now > nr)
		pool->added += now - nr;
	return mt_pool_unreserved(pool) >= pages ? 0 : -1;
}

/* Give back what this run added, whatever others did to the pool since. */
static inline void mt_pool_give_back(struct mt_pool *pool)
{
	long nr = mt_pool_read(pool, "nr_hugepages");

	if (pool->added <= 0 || nr < 0)
		return;
	if (mt_pool_set(pool, nr > pool->added ? nr - pool->added : 0) < 0)
		fprintf(stderr, "could not give %ld pages back to %s\n", pool->added, pool->dir);
	pool->added = 0;
}

/* kB of huge pages this process has instantiated: its own count, which
 * no other process on the machine moves. */
static inline long mt_hugetlb_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[128];
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "HugetlbPages:", 13))
			kb = strtol(line + 13, NULL, 10);
	fclose(f);
	return kb;
}

/* mmp_map a hugetlb region of pages huge pages; a page another process
 * took from the pool between the top-up and the map is topped up again. */
static inline void *mt_map_huge(struct mmp_pager *p, const struct mmp_map_args *a,
				struct mt_pool *pool, long pages)
{
	struct ob_err err = { 0 };
	void *addr = NULL;
	int rc = -ENOMEM;

	for (int i = 0; i < 5 && rc == -ENOMEM; i++) {
		mt_pool_ensure(pool, pages);
		rc = mmp_map(p, a, &addr, &err);
	}
	if (rc < 0)
		fail_msg("map: %s (%d)", err.msg, err.code);
	return addr;
}

/* Run run(dir) on a fresh hugetlbfs mount of the given pagesize ("2M",
 * "1G") in a temporary directory; skip when it cannot be mounted. */
static inline void mt_on_hugetlbfs(const char *pagesize, void (*run)(const char *dir))
{
	char dir[] = "/tmp/mmp-hugetlbfs-XXXXXX", opts[32];

	assert_non_null(mkdtemp(dir));
	snprintf(opts, sizeof(opts), "pagesize=%s", pagesize);
	if (mount("mmp-hugetlbfs", dir, "hugetlbfs", 0, opts) < 0) {
		rmdir(dir);
		skip();
	}
	run(dir);
	assert_int_equal(umount(dir), 0);
	rmdir(dir);
}

#endif
