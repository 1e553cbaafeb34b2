// SPDX-License-Identifier: MIT
/* region.c - map and unmap regions; the sorted region index; the hugetlb
 * pool check (2 MiB pages, and 1 GiB pages where the machine has them).
 *
 * Each region is its own anonymous private mapping registered with the
 * pager's one userfaultfd (missing faults, plus write-protect faults when
 * writable).  The index is a sorted array under a rwlock: faults look
 * regions up with a binary search under the read lock, so 10,000 regions
 * cost a few comparisons per fault (UMap refuses past ~900, its #91).
 *
 * Regions are MADV_DONTFORK: a child of fork() gets no copy of them.
 * Without it the child would see the pages that were never filled as
 * zeros, silently (the uffd registration is not inherited); with it an
 * access in the child is a plain SIGSEGV, and the pager refuses to be
 * used from the child (-ECHILD).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "ob/err.h"
#include "mp-int.h"

#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB	(21 << 26)	/* log2(2 MiB) << MAP_HUGE_SHIFT */
#endif
#ifndef MAP_HUGE_1GB
#define MAP_HUGE_1GB	(30 << 26)	/* log2(1 GiB) << MAP_HUGE_SHIFT */
#endif
#define HUGETLBFS_MAGIC_NR	0x958458f6
#define GIGA_POOL	"/sys/kernel/mm/hugepages/hugepages-1048576kB"

int mp_pager_check_owner(struct mmp_pager *p, struct ob_err *err);

/* ---- the index -------------------------------------------------------- */

/* Position of the first region with base > addr. */
static size_t index_upper(struct mmp_pager *p, const void *addr)
{
	size_t lo = 0, hi = p->nregions;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if ((const char *)p->regions[mid]->base <= (const char *)addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct mp_region *index_find(struct mmp_pager *p, const void *addr)
{
	size_t i = index_upper(p, addr);
	struct mp_region *r;

	if (i == 0)
		return NULL;
	r = p->regions[i - 1];
	return (const char *)addr < r->base + r->len ? r : NULL;
}

static bool index_overlaps(struct mmp_pager *p, const char *a, size_t len)
{
	size_t i = index_upper(p, a + len - 1);

	return i > 0 && p->regions[i - 1]->base + p->regions[i - 1]->len > a;
}

static int index_insert(struct mmp_pager *p, struct mp_region *r)
{
	size_t i;

	if (p->nregions == p->cap_regions) {
		size_t ncap = p->cap_regions ? p->cap_regions * 2 : 64;
		struct mp_region **n = realloc(p->regions, ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		p->regions = n;
		p->cap_regions = ncap;
	}
	i = index_upper(p, r->base);
	memmove(&p->regions[i + 1], &p->regions[i], (p->nregions - i) * sizeof(*p->regions));
	p->regions[i] = r;
	p->nregions++;
	return 0;
}

static void index_remove(struct mmp_pager *p, struct mp_region *r)
{
	size_t i = index_upper(p, r->base);

	if (i == 0 || p->regions[i - 1] != r)
		return;
	i--;
	memmove(&p->regions[i], &p->regions[i + 1], (p->nregions - i - 1) * sizeof(*p->regions));
	p->nregions--;
}

struct mp_region *mp_region_get(struct mmp_pager *p, const void *addr)
{
	struct mp_region *r;

	mp_rdlock(&p->regions_lock);
	r = index_find(p, addr);
	if (r)
		atomic_fetch_add(&r->refs, 1);
	mp_rwunlock(&p->regions_lock);
	return r;
}

/* Once the region is dying its unmapper waits for refs == 0 and then frees
 * it, so the last put must not touch r after its decrement: the decrement
 * and the wake happen under ref_mu, which the unmapper holds to look.  A
 * put that saw dying == false just before it was set wakes no one; the
 * unmapper's wait is timed for that case. */
void mp_region_put(struct mp_region *r)
{
	if (!atomic_load(&r->dying)) {
		atomic_fetch_sub(&r->refs, 1);
		return;
	}
	pthread_mutex_lock(&r->ref_mu);
	if (atomic_fetch_sub(&r->refs, 1) == 1)
		pthread_cond_broadcast(&r->ref_cv);
	pthread_mutex_unlock(&r->ref_mu);
}

/* ---- hugetlb ---------------------------------------------------------- */

static int meminfo_value(const char *key, uint64_t *out)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[128];
	size_t klen = strlen(key);
	int rc = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			*out = strtoull(line + klen + 1, NULL, 10);
			rc = 0;
			break;
		}
	fclose(f);
	return rc;
}

static uint64_t sysfs_value(const char *name)
{
	char path[128];
	FILE *f;
	unsigned long long v = 0;

	snprintf(path, sizeof(path), GIGA_POOL "/%s", name);
	f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

/* The pool's knob (named in errors) and its counts.  2 MiB pages are the
 * default size, counted in /proc/meminfo; 1 GiB pages have their own pool,
 * which /proc/sys/vm/nr_hugepages does not touch. */
static int pool_counts(size_t hsz, const char **knob, uint64_t *total, uint64_t *free_pages,
		       uint64_t *rsvd, struct ob_err *err)
{
	uint64_t size_kb = 0;

	if (hsz == MP_GIGA_SIZE) {
		if (access(GIGA_POOL, F_OK) < 0)
			return ob_err_set(err, -EOPNOTSUPP, "hugetlb: this machine has no "
					  "1 GiB huge pages (no " GIGA_POOL "; the CPU needs "
					  "pdpe1gb)");
		*knob = GIGA_POOL "/nr_hugepages";
		*total = sysfs_value("nr_hugepages");
		*free_pages = sysfs_value("free_hugepages");
		*rsvd = sysfs_value("resv_hugepages");
		return 0;
	}
	if (meminfo_value("Hugepagesize", &size_kb) < 0 || size_kb * 1024 != MP_HUGE_SIZE)
		return ob_err_set(err, -EOPNOTSUPP, "hugetlb: the default huge page "
				  "size is not 2 MiB (Hugepagesize %" PRIu64 " kB)", size_kb);
	*knob = "/proc/sys/vm/nr_hugepages";
	meminfo_value("HugePages_Total", total);
	meminfo_value("HugePages_Free", free_pages);
	meminfo_value("HugePages_Rsvd", rsvd);
	return 0;
}

static const char *huge_name(size_t hsz)
{
	return hsz == MP_GIGA_SIZE ? "1 GiB" : "2 MiB";
}

/* The pool must hold what can be resident at once: the whole region when it
 * fits in the buffer (then the kernel reserves it at mmap time), else the
 * buffer (then MAP_NORESERVE, and the pager never has more resident). */
static int hugetlb_check(struct mmp_pager *p, size_t len, size_t hsz, bool *noreserve,
			 struct ob_err *err)
{
	uint64_t free_pages = 0, rsvd = 0, total = 0;
	uint64_t region_pages = len / hsz, buf_pages = p->buf_bytes / hsz;
	uint64_t need, avail;
	const char *knob = NULL;
	int rc = pool_counts(hsz, &knob, &total, &free_pages, &rsvd, err);

	if (rc < 0)
		return rc;
	if (buf_pages == 0)
		return ob_err_set(err, -EINVAL, "hugetlb: the buffer (%zu bytes) is "
				  "smaller than one %s huge page", p->buf_bytes, huge_name(hsz));
	*noreserve = region_pages > buf_pages;
	need = *noreserve ? buf_pages : region_pages;
	avail = free_pages > rsvd ? free_pages - rsvd : 0;
	if (avail < need)
		return ob_err_set(err, -ENOMEM, "hugetlb: a region of %zu MiB needs %" PRIu64
				  " free %s huge pages, the pool has %" PRIu64
				  " unreserved; raise %s to at least %" PRIu64, len >> 20,
				  need, huge_name(hsz), avail, knob, total + (need - avail));
	return 0;
}

/* The huge page size a region asks for: a hugetlbfs directory decides by
 * its mount's pagesize, else MMP_MAP_HUGE_1GB picks 1 GiB over 2 MiB. */
static int huge_size(const struct mmp_map_args *a, size_t *hsz, struct ob_err *err)
{
	bool giga = a->flags & MMP_MAP_HUGE_1GB;
	struct statfs sf;

	*hsz = giga ? MP_GIGA_SIZE : MP_HUGE_SIZE;
	if (!a->hugetlbfs_file || statfs(a->hugetlbfs_file, &sf) < 0 ||
	    (unsigned long)sf.f_type != HUGETLBFS_MAGIC_NR)
		return 0;	/* not a mount we can read: the file creation says why */
	if ((size_t)sf.f_bsize == MP_GIGA_SIZE || (size_t)sf.f_bsize == MP_HUGE_SIZE)
		*hsz = (size_t)sf.f_bsize;
	else
		return ob_err_set(err, -EOPNOTSUPP, "hugetlbfs: %s has %ld-byte pages; "
				  "mmpager pages 2 MiB and 1 GiB huge pages",
				  a->hugetlbfs_file, (long)sf.f_bsize);
	if (giga && *hsz != MP_GIGA_SIZE)
		return ob_err_set(err, -EINVAL, "hugetlbfs: 1 GiB pages asked for, but %s "
				  "is mounted with pagesize=2M", a->hugetlbfs_file);
	return 0;
}

/* A fresh unlinked file in the hugetlbfs directory dir. */
static int hugetlbfs_file(const char *dir, size_t len, struct ob_err *err)
{
	char path[4096];
	int fd;

	if (snprintf(path, sizeof(path), "%s/mmpager-XXXXXX", dir) >= (int)sizeof(path))
		return ob_err_set(err, -ENAMETOOLONG, "hugetlbfs directory name too long");
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return ob_err_set(err, -errno, "hugetlbfs: cannot create a file in %s", dir);
	unlink(path);
	if (ftruncate(fd, (off_t)len) < 0) {
		int rc = -errno;

		close(fd);
		return ob_err_set(err, rc, "hugetlbfs: cannot size a file in %s to %zu "
				  "bytes (is it a hugetlbfs mount?)", dir, len);
	}
	return fd;
}

/* ---- map and unmap ---------------------------------------------------- */

static int check_args(struct mmp_pager *p, const struct mmp_map_args *a, size_t hsz,
		      struct ob_err *err)
{
	if (!a->len)
		return ob_err_set(err, -EINVAL, "map: length 0");
	if (!a->store)
		return ob_err_set(err, -EINVAL, "map: no store");
	if (!(a->prot & PROT_READ) || (a->prot & ~(PROT_READ | PROT_WRITE)))
		return ob_err_set(err, -EINVAL, "map: prot must be PROT_READ, optionally "
				  "with PROT_WRITE");
	if ((a->prot & PROT_WRITE) && !a->store->writable)
		return ob_err_set(err, -EROFS, "map: the %s store is read-only; map it "
				  "without PROT_WRITE", a->store->kind);
	if (a->offset % 4096)
		return ob_err_set(err, -EINVAL, "map: offset %" PRIu64 " is not a multiple "
				  "of 4096", a->offset);
	if ((a->flags & MMP_MAP_FIXED) && ((uintptr_t)a->addr % 4096))
		return ob_err_set(err, -EINVAL, "map: fixed address %p is not page aligned",
				  a->addr);
	if ((a->flags & MMP_MAP_HUGE_1GB) && !(a->flags & MMP_MAP_HUGETLB))
		return ob_err_set(err, -EINVAL, "map: MMP_MAP_HUGE_1GB without "
				  "MMP_MAP_HUGETLB");
	if ((a->flags & MMP_MAP_HUGETLB) && ((a->flags & MMP_MAP_FIXED) &&
					     (uintptr_t)a->addr % hsz))
		return ob_err_set(err, -EINVAL, "map: fixed hugetlb address %p is not "
				  "%s aligned", a->addr, huge_name(hsz));
	return 0;
}

static void *map_memory(struct mmp_pager *p, const struct mmp_map_args *a, size_t len,
			size_t hsz, int *hfd, struct ob_err *err)
{
	int flags = MAP_PRIVATE | MAP_NORESERVE;
	bool noreserve = true;
	void *m;
	int fd = -1;

	if (a->flags & MMP_MAP_FIXED)
		flags |= MAP_FIXED;
	if (a->flags & MMP_MAP_HUGETLB) {
		if (hugetlb_check(p, len, hsz, &noreserve, err) < 0)
			return MAP_FAILED;
		if (!noreserve)
			flags &= ~MAP_NORESERVE;
		if (a->hugetlbfs_file) {
			fd = hugetlbfs_file(a->hugetlbfs_file, len, err);
			if (fd < 0)
				return MAP_FAILED;
		} else {
			flags |= MAP_HUGETLB | (hsz == MP_GIGA_SIZE ? MAP_HUGE_1GB
								    : MAP_HUGE_2MB);
		}
	}
	if (fd < 0)
		flags |= MAP_ANONYMOUS;
	m = mmap(a->addr, len, a->prot, flags, fd, 0);
	if (m == MAP_FAILED) {
		ob_err_set(err, -errno, "map: mmap of %zu bytes%s failed%s", len,
			   (a->flags & MMP_MAP_HUGETLB) ? " of huge pages" : "",
			   (a->flags & MMP_MAP_HUGETLB) && errno == ENOMEM ?
			   (hsz == MP_GIGA_SIZE ? " (check " GIGA_POOL "/nr_hugepages)"
			    : " (check /proc/sys/vm/nr_hugepages)") : "");
		if (fd >= 0)
			close(fd);
		return MAP_FAILED;
	}
	*hfd = fd;
	return m;
}

static struct mp_region *region_new(struct mmp_pager *p, const struct mmp_map_args *a,
				    size_t len, size_t hsz)
{
	struct mp_region *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->pager = p;
	r->len = len;
	r->data_len = a->len;
	r->psize = (a->flags & MMP_MAP_HUGETLB) ? hsz : p->cfg.page_size;
	r->offset = a->offset;
	r->store = a->store;
	r->writable = a->prot & PROT_WRITE;
	r->hugetlb = a->flags & MMP_MAP_HUGETLB;
	r->hugetlb_fd = -1;
	atomic_init(&r->refs, 0);
	atomic_init(&r->dying, false);
	pthread_mutex_init(&r->ref_mu, NULL);
	pthread_cond_init(&r->ref_cv, NULL);
	if (mp_ptab_init(&r->pt, mp_region_npages(r),
			 p->cfg.ptl == MMP_PTL_GLOBAL ? &p->global_ptl : NULL) < 0) {
		pthread_mutex_destroy(&r->ref_mu);
		pthread_cond_destroy(&r->ref_cv);
		free(r);
		return NULL;
	}
	return r;
}

static void region_free(struct mp_region *r)
{
	mp_ptab_fini(&r->pt);
	pthread_mutex_destroy(&r->ref_mu);
	pthread_cond_destroy(&r->ref_cv);
	free(r);
}

int mmp_map(struct mmp_pager *p, const struct mmp_map_args *a, void **addr_out,
	    struct ob_err *err)
{
	size_t hsz, len, align;
	struct mp_region *r;
	int rc, hfd = -1;
	void *m;

	rc = mp_pager_check_owner(p, err);
	if (rc < 0)
		return rc;
	rc = huge_size(a, &hsz, err);
	if (rc < 0)
		return rc;
	rc = check_args(p, a, hsz, err);
	if (rc < 0)
		return rc;
	align = (a->flags & MMP_MAP_HUGETLB) ? hsz : 4096;
	if (a->len > SIZE_MAX - align)
		return ob_err_set(err, -EINVAL, "map: length %zu too large", a->len);
	len = (a->len + align - 1) & ~(align - 1);
	if (a->flags & MMP_MAP_FIXED) {
		mp_rdlock(&p->regions_lock);
		rc = index_overlaps(p, a->addr, len);
		mp_rwunlock(&p->regions_lock);
		if (rc)
			return ob_err_set(err, -EEXIST, "map: %p+%zu overlaps a mapped region",
					  a->addr, len);
	}
	m = map_memory(p, a, len, hsz, &hfd, err);
	if (m == MAP_FAILED)
		return err ? err->code : -ENOMEM;
	r = region_new(p, a, len, hsz);
	if (!r) {
		rc = ob_err_set(err, -ENOMEM, "map: out of memory for a region of %zu bytes", len);
		goto fail_unmap;
	}
	r->base = m;
	r->hugetlb_fd = hfd;
	if (madvise(m, len, MADV_DONTFORK) < 0) {
		rc = ob_err_set(err, -errno, "map: madvise(MADV_DONTFORK) failed");
		goto fail_region;
	}
	rc = mp_uffd_register(p->uffd, m, len, r->writable, err);
	if (rc < 0)
		goto fail_region;
	mp_wrlock(&p->regions_lock);
	rc = index_insert(p, r);
	mp_rwunlock(&p->regions_lock);
	if (rc < 0) {
		ob_err_set(err, rc, "map: out of memory for the region index");
		mp_uffd_unregister(p->uffd, m, len);
		goto fail_region;
	}
	*addr_out = m;
	return 0;

fail_region:
	region_free(r);
fail_unmap:
	munmap(m, len);
	if (hfd >= 0)
		close(hfd);
	return rc;
}

static void wait_unreferenced(struct mp_region *r)
{
	pthread_mutex_lock(&r->ref_mu);
	while (atomic_load(&r->refs) != 0)
		mp_cond_wait_ms(&r->ref_cv, &r->ref_mu, 10);
	pthread_mutex_unlock(&r->ref_mu);
}

/* Take region r (starting exactly at addr) out of the index, or NULL. */
static struct mp_region *unlink_region(struct mmp_pager *p, void *addr)
{
	struct mp_region *r;

	mp_wrlock(&p->regions_lock);
	r = index_find(p, addr);
	if (r && r->base == addr)
		index_remove(p, r);
	else
		r = NULL;
	mp_rwunlock(&p->regions_lock);
	return r;
}

/* Tear down an unlinked region: after this no thread can reach it. */
static int region_teardown(struct mmp_pager *p, struct mp_region *r, struct ob_err *err)
{
	size_t resident, pinned;
	int rc;

	mp_lru_forget(p, r);
	wait_unreferenced(r);
	mp_uffd_unregister(p->uffd, r->base, r->len);
	rc = mp_region_final_writeback(r, &resident, &pinned);
	if (rc < 0)
		ob_err_set(err, rc, "unmap: write-back of a dirty page of %p to the %s "
			   "store failed", r->base, r->store->kind);
	munmap(r->base, r->len);
	mp_buf_release(p, resident);
	atomic_fetch_sub(&p->pinned, pinned);
	if (r->hugetlb_fd >= 0)
		close(r->hugetlb_fd);
	mp_lock(&p->lru_lock);	/* gone_* are under lru_lock */
	mp_ptab_account(&r->pt, &p->gone_table, &p->gone_dir);
	mp_unlock(&p->lru_lock);
	mmp_store_destroy(r->store);
	region_free(r);
	return rc;
}

int mmp_unmap(struct mmp_pager *p, void *addr, size_t len, struct ob_err *err)
{
	struct mp_region *r;
	int rc;

	rc = mp_pager_check_owner(p, err);
	if (rc < 0)
		return rc;
	mp_rdlock(&p->regions_lock);
	r = index_find(p, addr);
	rc = !r || r->base != addr ? -EINVAL : 0;
	if (rc == 0 && len && ((len + r->psize - 1) / r->psize) != mp_region_npages(r))
		rc = -ERANGE;
	mp_rwunlock(&p->regions_lock);
	if (rc == -EINVAL)
		return ob_err_set(err, rc, "unmap: no region starts at %p", addr);
	if (rc < 0)
		return ob_err_set(err, -EINVAL, "unmap: %p: length %zu is not the "
				  "region's", addr, len);
	r = unlink_region(p, addr);
	if (!r)
		return ob_err_set(err, -EINVAL, "unmap: no region starts at %p", addr);
	return region_teardown(p, r, err);
}

int mp_unmap_all(struct mmp_pager *p);

int mp_unmap_all(struct mmp_pager *p)
{
	int rc = 0;

	for (;;) {
		struct mp_region *r = NULL;
		int rrc;

		mp_wrlock(&p->regions_lock);
		if (p->nregions) {
			r = p->regions[p->nregions - 1];
			p->nregions--;
		}
		mp_rwunlock(&p->regions_lock);
		if (!r)
			return rc;
		rrc = region_teardown(p, r, NULL);
		if (rrc < 0 && !rc)
			rc = rrc;
	}
}

/* ---- the per-page operations on ranges -------------------------------- */

typedef int (*page_op)(struct mp_region *r, uint64_t idx, void *ctx);

/* Apply op to every page of [addr, addr+len), which must lie in regions. */
static int for_pages(struct mmp_pager *p, void *addr, size_t len, page_op op, void *ctx,
		     const char *what, struct ob_err *err)
{
	char *a = addr, *end = (char *)addr + len;
	int rc = mp_pager_check_owner(p, err);

	while (rc == 0 && a < end) {
		struct mp_region *r = mp_region_get(p, a);
		uint64_t idx, last;

		if (!r)
			return ob_err_set(err, -EINVAL, "%s: %p is not in a mapped region", what, a);
		idx = (uint64_t)(a - r->base) / r->psize;
		last = ((end < r->base + r->len ? end : r->base + r->len) - r->base - 1) / r->psize;
		for (; rc == 0 && idx <= last; idx++)
			rc = op(r, idx, ctx);
		a = r->base + r->len < end ? r->base + r->len : end;
		if (rc < 0)
			ob_err_set(err, rc, "%s: page %p of a %s region: failed", what,
				   r->base + (idx - 1) * r->psize, r->store->kind);
		mp_region_put(r);
	}
	return rc;
}

static int op_prefetch(struct mp_region *r, uint64_t idx, void *ctx)
{
	int rc = mp_fill_page(r, idx, false, false, ctx);

	return rc > 0 ? 0 : rc;
}

static int op_pin(struct mp_region *r, uint64_t idx, void *ctx)
{
	int rc = mp_fill_page(r, idx, false, true, ctx);

	return rc > 0 ? 0 : rc;
}

static int op_evict(struct mp_region *r, uint64_t idx, void *ctx)
{
	int rc = mp_evict_page(r, idx, true);

	return rc == -EBUSY ? 0 : rc;	/* pinned pages stay */
}

int mmp_prefetch(struct mmp_pager *p, void *addr, size_t len, struct ob_err *err)
{
	struct mp_worker_buf b = { 0 };
	int rc = for_pages(p, addr, len, op_prefetch, &b, "prefetch", err);

	mp_bounce_free(&b);
	return rc;
}

int mmp_fetch_and_pin(struct mmp_pager *p, void *addr, size_t len, struct ob_err *err)
{
	struct mp_worker_buf b = { 0 };
	int rc;

	if (atomic_load(&p->pinned) + len + p->cfg.page_size * (p->cfg.fillers + 1) >
	    p->buf_bytes)
		return ob_err_set(err, -ENOSPC, "fetch_and_pin: %zu bytes (%zu already "
				  "pinned) do not fit in the %zu-byte buffer with room left "
				  "for faults", len, (size_t)atomic_load(&p->pinned), p->buf_bytes);
	rc = for_pages(p, addr, len, op_pin, &b, "fetch_and_pin", err);
	mp_bounce_free(&b);
	return rc;
}

int mmp_evict(struct mmp_pager *p, void *addr, size_t len, struct ob_err *err)
{
	return for_pages(p, addr, len, op_evict, NULL, "evict", err);
}

int mmp_flush(struct mmp_pager *p, struct ob_err *err)
{
	size_t i = 0;
	int rc = mp_pager_check_owner(p, err);

	while (rc == 0) {
		struct mp_region *r = NULL;

		mp_rdlock(&p->regions_lock);
		if (i < p->nregions) {
			r = p->regions[i++];
			atomic_fetch_add(&r->refs, 1);
		}
		mp_rwunlock(&p->regions_lock);
		if (!r)
			break;
		rc = mp_region_flush(r);
		if (rc < 0)
			ob_err_set(err, rc, "flush: write-back to the %s store of region %p "
				   "failed", r->store->kind, r->base);
		mp_region_put(r);
	}
	return rc;
}
