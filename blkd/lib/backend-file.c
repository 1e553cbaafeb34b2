/* SPDX-License-Identifier: MIT */
/*
 * backend-file.c - a regular file or block device as a disk, with its real
 * capabilities (spec A.6):
 *
 *   read/write   preadv/pwritev on one shared fd (thread-safe by offset);
 *                pages read or written before are copied through a shared
 *                mapping instead (map_copy; --no-mmap turns it off);
 *   FUA          native: pwritev2(RWF_DSYNC), so the mode is DRAIN_FUA; with
 *                fua_emulate the mode is DRAIN_FLUSH and flush.c adds a
 *                post-flush instead (Linux >= 4.7 has RWF_DSYNC);
 *   flush        fdatasync - the page cache is the write-back cache;
 *   trim         fallocate(PUNCH_HOLE|KEEP_SIZE), BLKDISCARD on devices;
 *   zero         PUNCH_HOLE (reads back zeroes) unless NO_HOLE, then
 *                ZERO_RANGE, BLKZEROOUT on devices; with FAST_ZERO a missing
 *                fast path is -EOPNOTSUPP instead of a written loop;
 *   cache        posix_fadvise(WILLNEED);
 *   extents      SEEK_DATA/SEEK_HOLE (holes are known: base:allocation).
 *
 * O_DIRECT is an option; the server then aligns buffers and advertises a
 * 4 KiB minimum block.  Errors are -errno; a short read past EOF of a
 * growing file reads as zeroes.  ENODEV from fallocate (old kernels, some
 * filesystems) is mapped to -EOPNOTSUPP so callers test one errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blkd-int.h"

/* Largest disk copied through a mapping: a mapping costs page tables of
 * 1/512 of what it touches, 128 MiB at most here. */
#define MAP_MAX (64ull << 30)
#define PAGE_SHIFT_4K 12

struct file_priv {
	int fd;
	bool blockdev;
	bool can_punch;
	bool can_zero_range;
	uint8_t *map;		/* the whole disk, MAP_SHARED, or NULL */
	uint64_t map_len;
	uint8_t *seen;		/* per 4 KiB page: flush epoch of its last use, 0 never */
	uint8_t epoch;		/* 1..255, advanced by every flush */
};

static struct file_priv *fp(struct blkd_backend *be)
{
	return be->priv;
}

static size_t iov_total(const struct iovec *iov, int cnt)
{
	size_t t = 0;

	for (int i = 0; i < cnt; i++)
		t += iov[i].iov_len;
	return t;
}

/* Advance iov past done bytes; returns the new count. */
static int iov_advance(struct iovec *iov, int cnt, size_t done, struct iovec **start)
{
	while (cnt && done >= iov->iov_len) {
		done -= iov->iov_len;
		iov++;
		cnt--;
	}
	if (cnt) {
		iov->iov_base = (char *)iov->iov_base + done;
		iov->iov_len -= done;
	}
	*start = iov;
	return cnt;
}

/*
 * Which pages the mapping may copy: a read, any page blkd has read or
 * written (it is in the page cache, unless reclaimed since); a write, only
 * pages used since the last flush.  fdatasync write-protects the pages it
 * cleans, so the first store after it faults - and on ext4 that fault
 * walks the folio's buffer heads twice, dearer than one pwrite (write +
 * flush pairs: 0.87x with the mapping, 1.0x without).  Epochs wrap after
 * 255 flushes; a stale match only costs one such fault.
 */
static bool range_seen(struct file_priv *p, uint64_t off, size_t len, bool write)
{
	uint8_t epoch = __atomic_load_n(&p->epoch, __ATOMIC_RELAXED);

	for (uint64_t pg = off >> PAGE_SHIFT_4K; pg <= (off + len - 1) >> PAGE_SHIFT_4K; pg++) {
		uint8_t e = __atomic_load_n(&p->seen[pg], __ATOMIC_RELAXED);

		if (!e || (write && e != epoch))
			return false;
	}
	return true;
}

static void mark_seen(struct file_priv *p, uint64_t off, size_t len)
{
	uint8_t epoch = __atomic_load_n(&p->epoch, __ATOMIC_RELAXED);

	for (uint64_t pg = off >> PAGE_SHIFT_4K; pg <= (off + len - 1) >> PAGE_SHIFT_4K; pg++)
		__atomic_store_n(&p->seen[pg], epoch, __ATOMIC_RELAXED);
}

/*
 * A request for pages that are already in the page cache is a memcpy
 * through the mapping: no system call, no i_rwsem, and for a write no walk
 * of a large folio's buffer heads (ext4_block_write_begin was 42-67% of
 * the server's profile on random 4 KiB writes).  Only pages range_seen
 * allows are copied this way - a store to a page that is not cached would
 * read it from disk first, where pwrite of whole blocks does not.  0 if
 * done, -EAGAIN to use pread/pwrite instead (which, after a SIGBUS, also
 * says why).
 */
static int map_copy(struct file_priv *p, const struct iovec *iov, int cnt, uint64_t off,
		    size_t len, bool write)
{
	if (!p->map || !len || off > p->map_len || len > p->map_len - off ||
	    !range_seen(p, off, len, write))
		return -EAGAIN;
	for (int i = 0; i < cnt; i++) {
		uint8_t *m = p->map + off;
		int rc = write ? blkd_guarded_copy(m, iov[i].iov_base, iov[i].iov_len)
			       : blkd_guarded_copy(iov[i].iov_base, m, iov[i].iov_len);

		if (rc)
			return -EAGAIN;
		off += iov[i].iov_len;
	}
	return 0;
}

static int file_preadv(struct blkd_backend *be, const struct iovec *iov_in, int cnt, uint64_t off)
{
	struct iovec copy[BLKD_MAX_SEGMENTS], *iov = copy;
	size_t left = iov_total(iov_in, cnt);
	uint64_t start = off;

	if (map_copy(fp(be), iov_in, cnt, off, left, false) == 0)
		return 0;
	memcpy(copy, iov_in, sizeof(*iov_in) * (size_t)cnt);
	while (left) {
		ssize_t r = preadv(fp(be)->fd, iov, cnt, (off_t)off);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0) {		/* past EOF: zeroes */
			for (int i = 0; i < cnt; i++)
				memset(iov[i].iov_base, 0, iov[i].iov_len);
			return 0;
		}
		left -= (size_t)r;
		off += (uint64_t)r;
		cnt = iov_advance(iov, cnt, (size_t)r, &iov);
	}
	if (fp(be)->map && off > start)
		mark_seen(fp(be), start, off - start);
	return 0;
}

static int file_pwritev(struct blkd_backend *be, const struct iovec *iov_in, int cnt, uint64_t off,
			bool fua)
{
	struct iovec copy[BLKD_MAX_SEGMENTS], *iov = copy;
	size_t left = iov_total(iov_in, cnt);
	uint64_t start = off;

	if (!fua && map_copy(fp(be), iov_in, cnt, off, left, true) == 0)
		return 0;
	memcpy(copy, iov_in, sizeof(*iov_in) * (size_t)cnt);
	while (left) {
		ssize_t r = pwritev2(fp(be)->fd, iov, cnt, (off_t)off, fua ? RWF_DSYNC : 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		left -= (size_t)r;
		off += (uint64_t)r;
		cnt = iov_advance(iov, cnt, (size_t)r, &iov);
	}
	if (fp(be)->map && off > start)
		mark_seen(fp(be), start, off - start);
	return 0;
}

static int file_flush(struct blkd_backend *be)
{
	struct file_priv *p = fp(be);

	if (p->map) {	/* see range_seen */
		uint8_t e = __atomic_load_n(&p->epoch, __ATOMIC_RELAXED);

		__atomic_store_n(&p->epoch, e == 255 ? 1 : e + 1, __ATOMIC_RELAXED);
	}
	return fdatasync(p->fd) ? -errno : 0;
}

static int do_fallocate(struct file_priv *p, int mode, uint64_t off, uint64_t len)
{
	if (fallocate(p->fd, mode, (off_t)off, (off_t)len) == 0)
		return 0;
	if (errno == ENODEV || errno == ENOSYS || errno == EOPNOTSUPP)
		return -EOPNOTSUPP;
	return -errno;
}

static int file_trim(struct blkd_backend *be, uint64_t off, uint64_t len)
{
	struct file_priv *p = fp(be);

	if (p->blockdev) {
		uint64_t range[2] = { off, len };

		return ioctl(p->fd, BLKDISCARD, range) ? -errno : 0;
	}
	if (!p->can_punch)
		return 0;	/* a hint: ignoring it is allowed */
	return do_fallocate(p, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
}

static int write_zeroes(struct blkd_backend *be, uint64_t off, uint64_t len)
{
	static const char zero[65536];
	struct iovec iov;

	while (len) {
		size_t n = len < sizeof(zero) ? (size_t)len : sizeof(zero);
		int rc;

		iov.iov_base = (void *)zero;
		iov.iov_len = n;
		rc = file_pwritev(be, &iov, 1, off, false);
		if (rc)
			return rc;
		off += n;
		len -= n;
	}
	return 0;
}

static int file_zero(struct blkd_backend *be, uint64_t off, uint64_t len, unsigned flags)
{
	struct file_priv *p = fp(be);
	int rc = -EOPNOTSUPP;

	if (p->blockdev) {
		uint64_t range[2] = { off, len };

		if (!ioctl(p->fd, BLKZEROOUT, range))
			return 0;
		rc = -errno;
	} else {
		if (!(flags & BLKD_F_NOHOLE) && p->can_punch) {
			rc = do_fallocate(p, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
			if (rc == -EOPNOTSUPP)
				p->can_punch = false;
		}
		if (rc && p->can_zero_range) {
			rc = do_fallocate(p, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, off, len);
			if (rc == -EOPNOTSUPP)
				p->can_zero_range = false;
		}
	}
	if (rc != -EOPNOTSUPP && rc != -EINVAL)
		return rc;
	if (flags & BLKD_F_FASTZERO)
		return -EOPNOTSUPP;
	return write_zeroes(be, off, len);
}

static int file_cache(struct blkd_backend *be, uint64_t off, uint64_t len)
{
	return -posix_fadvise(fp(be)->fd, (off_t)off, (off_t)len, POSIX_FADV_WILLNEED);
}

static int file_extents(struct blkd_backend *be, uint64_t off, uint64_t len,
			blkd_extent_fn fn, void *arg)
{
	int fd = fp(be)->fd;
	uint64_t end = off + len;

	while (off < end) {
		off_t data = lseek(fd, (off_t)off, SEEK_DATA);
		uint64_t next;
		int rc;

		if (data < 0 && errno != ENXIO)
			return -errno;
		if (data < 0 || (uint64_t)data >= end) {	/* hole to the end */
			return fn(arg, end - off, BLKD_EXTENT_HOLE | BLKD_EXTENT_ZERO);
		}
		if ((uint64_t)data > off) {
			rc = fn(arg, (uint64_t)data - off, BLKD_EXTENT_HOLE | BLKD_EXTENT_ZERO);
			if (rc)
				return rc;
			off = (uint64_t)data;
		}
		off_t hole = lseek(fd, (off_t)off, SEEK_HOLE);
		next = hole < 0 ? end : (uint64_t)hole;
		if (next > end)
			next = end;
		rc = fn(arg, next - off, 0);
		if (rc)
			return rc;
		off = next;
	}
	return 0;
}

static void file_destroy(struct blkd_backend *be)
{
	struct file_priv *p = fp(be);

	if (p->map)
		munmap(p->map, p->map_len);
	free(p->seen);
	close(p->fd);
	free(be->priv);
	free(be);
}

static const struct blkd_backend_ops file_ops = {
	.name = "file",
	.preadv = file_preadv,
	.pwritev = file_pwritev,
	.flush = file_flush,
	.trim = file_trim,
	.zero = file_zero,
	.cache = file_cache,
	.extents = file_extents,
	.destroy = file_destroy,
};

/* Map the disk for map_copy; without a mapping every request is a pread/pwrite. */
static void map_open(struct file_priv *p, uint64_t size, bool readonly)
{
	int prot = readonly ? PROT_READ : PROT_READ | PROT_WRITE;
	void *m;

	if (!size || size > MAP_MAX || blkd_guard_install())
		return;
	p->seen = calloc((size_t)(size >> PAGE_SHIFT_4K) + 1, 1);
	if (!p->seen)
		return;
	m = mmap(NULL, (size_t)size, prot, MAP_SHARED, p->fd, 0);
	if (m == MAP_FAILED) {
		free(p->seen);
		p->seen = NULL;
		return;
	}
	p->map = m;
	p->map_len = size;
	p->epoch = 1;
}

int blkd_backend_file_open(const char *path, const struct blkd_file_opts *o,
			   struct blkd_backend **out, struct ob_err *err)
{
	struct blkd_file_opts none = { 0 };
	struct blkd_backend *be;
	struct file_priv *p;
	struct stat st;
	int flags, rc;

	if (!o)
		o = &none;
	flags = (o->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | (o->direct ? O_DIRECT : 0);
	be = calloc(1, sizeof(*be));
	p = calloc(1, sizeof(*p));
	rc = -ENOMEM;
	if (!be || !p)
		goto err_free;
	p->fd = open(path, flags);
	if (p->fd < 0) {
		rc = ob_err_set(err, -errno, "cannot open");
		goto err_free;
	}
	if (fstat(p->fd, &st)) {
		rc = ob_err_set(err, -errno, "fstat");
		goto err_close;
	}
	if (S_ISBLK(st.st_mode)) {
		uint64_t sz;

		if (ioctl(p->fd, BLKGETSIZE64, &sz)) {
			rc = ob_err_set(err, -errno, "BLKGETSIZE64");
			goto err_close;
		}
		be->size = sz;
		p->blockdev = true;
	} else if (S_ISREG(st.st_mode)) {
		be->size = (uint64_t)st.st_size;
		p->can_punch = p->can_zero_range = true;
	} else {
		rc = ob_err_set(err, -EINVAL, "not a regular file or block device");
		goto err_close;
	}
	be->ops = &file_ops;
	be->priv = p;
	be->caps = BLKD_CAP_FLUSH | BLKD_CAP_TRIM | BLKD_CAP_ZERO | BLKD_CAP_CACHE |
		   (p->blockdev ? 0 : BLKD_CAP_EXTENTS | BLKD_CAP_FAST_ZERO);
	if (o->readonly)
		be->caps |= BLKD_CAP_READONLY;
	if (!o->fua_emulate)
		be->caps |= BLKD_CAP_FUA;
	be->ordered = o->fua_emulate ? BLKD_ORDERED_DRAIN_FLUSH : BLKD_ORDERED_DRAIN_FUA;
	if (!o->direct && !o->no_map)
		map_open(p, be->size, o->readonly);
	if (p->map)
		be->caps |= BLKD_CAP_MEMCOPY;
	*out = be;
	return 0;
err_close:
	close(p->fd);
err_free:
	free(p);
	free(be);
	return rc;
}
