/* SPDX-License-Identifier: MIT */
/* mmp-test.h - what the mmpager unit tests share: a pager with a given
 * configuration, a temporary file of a given pattern, and a skip when
 * userfaultfd is not available to this user. */
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
