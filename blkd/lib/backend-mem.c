/* SPDX-License-Identifier: MIT */
/*
 * backend-mem.c - a RAM disk: one anonymous private mapping, sparse until
 * written (MAP_NORESERVE), so a 1 TiB disk costs only what is touched.
 *
 * There is no volatile cache below it: a write is as durable as the memory
 * ever gets when memcpy returns.  It therefore declares DRAIN (spec A.6:
 * "a RAM backend is NONE/DRAIN").  Its flush and FUA are accepted no-ops so
 * that every ordered mode can be forced on it (--ordered) and observed in a
 * trace - which is how the ordering tests check each mode's sequence.
 * Trim and zero give whole pages back with madvise(MADV_DONTNEED) and
 * memset the edges.  Concurrent writers to the same bytes race exactly as
 * on a real disk; NBD leaves that ordering to the client.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "blkd-int.h"

#define PAGE 4096ull

static char *mem(struct blkd_backend *be)
{
	return be->priv;
}

static int mem_preadv(struct blkd_backend *be, const struct iovec *iov, int cnt, uint64_t off)
{
	for (int i = 0; i < cnt; i++) {
		memcpy(iov[i].iov_base, mem(be) + off, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	return 0;
}

static int mem_pwritev(struct blkd_backend *be, const struct iovec *iov, int cnt, uint64_t off,
		       bool fua)
{
	(void)fua;
	for (int i = 0; i < cnt; i++) {
		memcpy(mem(be) + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	return 0;
}

static int mem_flush(struct blkd_backend *be)
{
	(void)be;
	return 0;
}

static int mem_zero(struct blkd_backend *be, uint64_t off, uint64_t len, unsigned flags)
{
	uint64_t a = (off + PAGE - 1) & ~(PAGE - 1), b = (off + len) & ~(PAGE - 1);

	(void)flags;
	if (a >= b) {
		memset(mem(be) + off, 0, len);
		return 0;
	}
	memset(mem(be) + off, 0, a - off);
	if (madvise(mem(be) + a, b - a, MADV_DONTNEED))
		memset(mem(be) + a, 0, b - a);
	memset(mem(be) + b, 0, off + len - b);
	return 0;
}

static int mem_trim(struct blkd_backend *be, uint64_t off, uint64_t len)
{
	return mem_zero(be, off, len, 0);
}

static void mem_destroy(struct blkd_backend *be)
{
	munmap(be->priv, (be->size + PAGE - 1) & ~(PAGE - 1));
	free(be);
}

static const struct blkd_backend_ops mem_ops = {
	.name = "memory",
	.preadv = mem_preadv,
	.pwritev = mem_pwritev,
	.flush = mem_flush,
	.trim = mem_trim,
	.zero = mem_zero,
	.destroy = mem_destroy,
};

int blkd_backend_mem_create(uint64_t size, struct blkd_backend **out)
{
	struct blkd_backend *be;
	uint64_t map = (size + PAGE - 1) & ~(PAGE - 1);
	void *p;

	if (!size)
		return -EINVAL;
	be = calloc(1, sizeof(*be));
	if (!be)
		return -ENOMEM;
	p = mmap(NULL, map, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		 -1, 0);
	if (p == MAP_FAILED) {
		free(be);
		return -ENOMEM;
	}
	be->ops = &mem_ops;
	be->priv = p;
	be->size = size;
	be->caps = BLKD_CAP_FLUSH | BLKD_CAP_FUA | BLKD_CAP_TRIM | BLKD_CAP_ZERO |
		   BLKD_CAP_FAST_ZERO | BLKD_CAP_ORDER | BLKD_CAP_MEMCOPY;
	be->ordered = BLKD_ORDERED_DRAIN;
	*out = be;
	return 0;
}
