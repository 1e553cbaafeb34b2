// SPDX-License-Identifier: MIT
/* file.c - plaintext I/O on one lower file, laid out exactly as the kernel does.
 *
 * Invariants kept for every file this code touches (spec §5.4):
 *   I1  the lower file is the metadata region plus whole 4096-byte extents;
 *   I2  every extent below ceil(size/4096) exists and decrypts (no lower
 *       holes: a gap written past EOF becomes encrypted zeros);
 *   I3  plaintext bytes past EOF inside the last extent are zero;
 *   I4  the size field never points past the extents on disk.
 *
 * I4 fixes the write order: when a file grows, data extents go first and the
 * size field after; when it shrinks, the size field goes first, then the
 * tail extent is re-zeroed, then the lower file is cut.  A crash between
 * steps leaves a file that is valid, with either the old or the new size.
 * (A crash between the size and the re-zeroing of a shrink leaves stale
 * bytes past EOF in the last extent: I3 briefly false.  They never show:
 * reads stop at the size, and every grow, ours or the kernel's, zero-fills
 * from the size field first.)
 *
 * The whole order, as the FUSE mount (ecfs/fuse) drives it, for a SIGKILL
 * of the daemon at any instant (tested by ecfs/tests/test_crash.py):
 *   W1  create: openat(O_CREAT|O_EXCL) under the final name, chown, then
 *       the header (one 8192-byte pwrite, or the user.ecryptfs xattr), then
 *       the reply.  A kill in between leaves a 0-byte lower file.  The
 *       kernel makes files the same way, and both it and ecfs give a 0-byte
 *       lower file a fresh header on its first read-write open (in-header
 *       mode, §11); `ecfs decrypt` reads it as empty, `ecfs fsck` names it.
 *   W2  write: extents (one pwrite per FUSE request of up to 1 MiB, each
 *       extent page-aligned), then the size field if the file grew, then
 *       the reply.  No writeback cache, so every acknowledged write(2) is in
 *       the lower file.  A kill can stop a large pwrite at a page boundary:
 *       each extent is then wholly old or wholly new, and the size is the
 *       old one.
 *   W3  truncate and O_TRUNC: as shrink/grow above; a shrink reads its new
 *       last extent before it writes anything, so one that fails (EIO)
 *       leaves the file, size field included, as it was.
 *   W4  rename, link, unlink, mkdir, symlink: one lower call each, atomic in
 *       the lower filesystem; the header never changes on rename (the FEK
 *       is not tied to the name).
 *   W5  fsync: fsync(2) of the lower data fd, which covers header and
 *       extents (and the xattr, in xattr mode); fdatasync for datasync.
 * A SIGKILL loses nothing the lower page cache holds.  Power loss is
 * another matter: between fsyncs the lower filesystem may write the size
 * field before the extents, so only data covered by a completed fsync is
 * promised then (the kernel's eCryptfs promises no more).
 *
 * Extents are processed in chunks of up to ECFS_CHUNK_EXTENTS through a
 * per-thread scratch buffer, so one 1 MiB FUSE write is one lower pwrite
 * and no request allocates.  Only partial extents at the ends of a range
 * are read back (read-modify-write); whole extents are encrypted straight
 * from the caller's data.
 */
#include "ecfs-int.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "ob/secmem.h"
#include "ob/sys.h"

#define ECFS_CHUNK_EXTENTS	256	/* 1 MiB */
#define ECFS_CHUNK_BYTES	(ECFS_CHUNK_EXTENTS * ECFS_EXTENT_SIZE)
#define XATTR_MAX		ECFS_EXTENT_SIZE

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *p)
{
	/* Plaintext passes through here: wipe before it goes back to malloc. */
	ob_wipe(p, ECFS_CHUNK_BYTES);
	free(p);
}

static void scratch_init(void)
{
	(void)pthread_key_create(&scratch_key, scratch_free);
}

/* The calling thread's chunk buffer, allocated on first use. */
static uint8_t *scratch(void)
{
	uint8_t *p;

	pthread_once(&scratch_once, scratch_init);
	p = pthread_getspecific(scratch_key);
	if (!p) {
		if (posix_memalign((void **)&p, 4096, ECFS_CHUNK_BYTES))
			return NULL;
		if (pthread_setspecific(scratch_key, p)) {
			free(p);
			return NULL;
		}
	}
	return p;
}

static ssize_t pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = ob_sys_pread(fd, (uint8_t *)buf + done, len - done, (off_t)(off + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static int pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = ob_sys_pwrite(fd, (const uint8_t *)buf + done, len - done,
				   (off_t)(off + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)n;
	}
	return 0;
}

int ecfs_metadata_read(int fd, unsigned flags, struct ecfs_header *h,
		       struct ob_err *err)
{
	uint8_t buf[ECFS_EXTENT_SIZE];
	ssize_t n;
	int rc = -ENODATA;

	n = pread_full(fd, buf, sizeof(buf), 0);
	if (n < 0)
		return ob_err_set(err, (int)n, "reading the header");
	if (ecfs_header_probe(buf, (size_t)n)) {
		rc = ecfs_header_parse(buf, (size_t)n, false, h, err);
		if (rc == 0 || !(flags & ECFS_OPEN_XATTR_OK))
			return rc;
	}
	if (flags & ECFS_OPEN_XATTR_OK) {
		struct ob_err xerr = {0};

		n = fgetxattr(fd, ECFS_XATTR_NAME, buf, sizeof(buf));
		if (n >= 0)
			return ecfs_header_parse(buf, (size_t)n, true, h, err);
		if (errno != ENODATA && errno != ENOTSUP)
			return ob_err_set(err, -errno, "reading the %s xattr", ECFS_XATTR_NAME);
		(void)xerr;
	}
	if (rc != -ENODATA)
		return rc;		/* a marker but a bad header: keep that reason */
	return ob_err_set(err, -ENODATA, "no eCryptfs metadata (not an eCryptfs file)");
}

int ecfs_file_open_ex(struct ecfs_file *f, int fd, unsigned flags,
		      const struct ecfs_keys *keys, struct ob_err *err)
{
	int rc;

	memset(f, 0, sizeof(*f));
	f->fd = fd;
	rc = ecfs_metadata_read(fd, flags, &f->hdr, err);
	if (rc)
		return rc;
	if (!f->hdr.in_xattr) {
		uint64_t copy;

		f->syno_size_copy = ecfs_syno_size_read(fd, &copy) == 1;
	}
	return ecfs_fek_unwrap_any(&f->hdr, keys, &f->fek, NULL, err);
}

int ecfs_file_open(struct ecfs_file *f, int fd, unsigned flags,
		   const struct ecfs_keyset *ks, struct ob_err *err)
{
	struct ecfs_keys keys = { .pass = ks };

	return ecfs_file_open_ex(f, fd, flags, &keys, err);
}

int ecfs_md_write(int fd, const struct ecfs_header *h, bool whole, bool sync,
		  struct ob_err *err)
{
	size_t len = h->in_xattr ? XATTR_MAX : h->data_offset;
	uint8_t *buf = calloc(1, len < ECFS_EXTENT_SIZE ? ECFS_EXTENT_SIZE : len);
	ssize_t n;
	int rc;

	if (!buf)
		return ob_err_set(err, -ENOMEM, "allocating the header");
	n = ecfs_header_write(h, buf, len, err);
	if (n < 0) {
		rc = (int)n;
		goto out;
	}
	if (h->in_xattr) {
		rc = ob_sys_fsetxattr(fd, ECFS_XATTR_NAME, buf, (size_t)n, 0) ? -errno : 0;
		if (rc) {
			ob_err_set(err, rc, "writing the %s xattr", ECFS_XATTR_NAME);
			goto out;
		}
	} else {
		/* A rewrite touches only the first extent: one atomic 4 KiB write. */
		rc = pwrite_full(fd, buf, whole ? (size_t)n : ECFS_EXTENT_SIZE, 0);
		if (rc) {
			ob_err_set(err, rc, "writing the header");
			goto out;
		}
	}
	if (sync && fdatasync(fd)) {
		rc = ob_err_set(err, -errno, "fdatasync");
		goto out;
	}
	rc = 0;
out:
	free(buf);
	return rc;
}

int ecfs_file_create_ex(struct ecfs_file *f, int fd,
			const struct ecfs_cipher_info *ci, size_t key_bytes,
			const struct ecfs_keys *keys, bool in_xattr, bool fnek,
			struct ob_err *err)
{
	int rc;

	memset(f, 0, sizeof(*f));
	f->fd = fd;
	rc = ecfs_header_init(&f->hdr, in_xattr, fnek, err);
	if (rc)
		return rc;
	rc = ecfs_fek_create_ex(ci, key_bytes, keys, &f->hdr, &f->fek, err);
	if (rc)
		return rc;
	rc = ecfs_md_write(fd, &f->hdr, true, false, err);
	if (rc) {
		ecfs_fek_free(f->fek);
		f->fek = NULL;
	}
	return rc;
}

int ecfs_file_create(struct ecfs_file *f, int fd,
		     const struct ecfs_cipher_info *ci, size_t key_bytes,
		     const struct ecfs_keyset *wrap_keys, bool in_xattr,
		     bool fnek, struct ob_err *err)
{
	struct ecfs_keys keys = { .pass = wrap_keys };

	return ecfs_file_create_ex(f, fd, ci, key_bytes, &keys, in_xattr, fnek, err);
}

void ecfs_file_close(struct ecfs_file *f)
{
	ecfs_fek_free(f->fek);
	f->fek = NULL;
}

/* Persist hdr.size: 8 bytes at offset 0, or the first 8 of the xattr. */
static int size_write(struct ecfs_file *f, uint64_t size, struct ob_err *err)
{
	uint8_t be[8];
	int rc;

	ecfs_header_put_size(be, size);
	if (!f->hdr.in_xattr) {
		rc = pwrite_full(f->fd, be, sizeof(be), 0);
		if (rc)
			return ob_err_set(err, rc, "writing the size field");
		/* Synology DSM shows the size from its copy in the xattr: keep it
		 * right, or drop it so the NAS falls back to the header. */
		if (f->syno_size_copy && ecfs_syno_size_sync(f->fd, size, NULL) < 0) {
			(void)fremovexattr(f->fd, ECFS_XATTR_NAME);
			f->syno_size_copy = false;
		}
	} else {
		uint8_t buf[XATTR_MAX];
		ssize_t n = fgetxattr(f->fd, ECFS_XATTR_NAME, buf, sizeof(buf));

		if (n < 8)
			return ob_err_set(err, n < 0 ? -errno : -EINVAL,
					  "reading the %s xattr to update the size", ECFS_XATTR_NAME);
		memcpy(buf, be, sizeof(be));
		if (ob_sys_fsetxattr(f->fd, ECFS_XATTR_NAME, buf, (size_t)n, 0))
			return ob_err_set(err, -errno, "writing the size into the %s xattr",
					  ECFS_XATTR_NAME);
	}
	f->hdr.size = size;
	return 0;
}

static uint64_t extents_for(uint64_t size)
{
	return (size + ECFS_EXTENT_SIZE - 1) / ECFS_EXTENT_SIZE;
}

static uint64_t extent_lower_off(const struct ecfs_file *f, uint64_t n)
{
	return f->hdr.data_offset + n * ECFS_EXTENT_SIZE;
}

/* Read and decrypt extents [first, first+count) into buf, in place. */
static int extents_read(struct ecfs_file *f, uint64_t first, size_t count,
			uint8_t *buf, struct ob_err *err)
{
	size_t len = count * ECFS_EXTENT_SIZE;
	ssize_t n = pread_full(f->fd, buf, len, extent_lower_off(f, first));
	int rc;

	if (n < 0)
		return ob_err_set(err, (int)n, "reading extent %llu", (unsigned long long)first);
	if ((size_t)n < len)
		return ob_err_set(err, -EIO, "lower file ends inside extent %llu (size field says %llu bytes)",
				  (unsigned long long)(first + (size_t)n / ECFS_EXTENT_SIZE),
				  (unsigned long long)f->hdr.size);
	rc = ecfs_fek_crypt_extents_with(f->helper, f->fek, false, first, buf, buf, count);
	if (rc)
		return ob_err_set(err, rc, "decrypting extent %llu", (unsigned long long)first);
	return 0;
}

/* The chunk of extents that covers [pos, pos+want): its first extent, the
 * offset of pos in it, how many extents (at most a chunk) and how many of
 * the wanted bytes it holds.  Shared by reads and writes. */
struct chunk {
	uint64_t first;
	size_t skip, count, take;
};

static struct chunk chunk_at(uint64_t pos, size_t want)
{
	struct chunk c = {
		.first = pos / ECFS_EXTENT_SIZE,
		.skip = pos % ECFS_EXTENT_SIZE,
	};

	c.count = (c.skip + want + ECFS_EXTENT_SIZE - 1) / ECFS_EXTENT_SIZE;
	if (c.count > ECFS_CHUNK_EXTENTS)
		c.count = ECFS_CHUNK_EXTENTS;
	c.take = c.count * ECFS_EXTENT_SIZE - c.skip;
	if (c.take > want)
		c.take = want;
	return c;
}

ssize_t ecfs_file_pread(struct ecfs_file *f, void *dst, size_t len,
			uint64_t off, struct ob_err *err)
{
	uint8_t *out = dst, *buf;
	size_t done = 0;

	if (off >= f->hdr.size || len == 0)
		return 0;
	if (len > f->hdr.size - off)
		len = (size_t)(f->hdr.size - off);
	buf = scratch();
	if (!buf)
		return ob_err_set(err, -ENOMEM, "allocating the extent buffer");
	while (done < len) {
		struct chunk c = chunk_at(off + done, len - done);
		/* whole extents wanted (a 1 MiB readahead is one such chunk):
		 * read and decrypt them in the caller's buffer itself */
		bool whole = c.skip == 0 && c.take == c.count * ECFS_EXTENT_SIZE;
		int rc = extents_read(f, c.first, c.count, whole ? out + done : buf, err);

		if (rc)
			return rc;
		if (!whole)
			memcpy(out + done, buf + c.skip, c.take);
		done += c.take;
	}
	return (ssize_t)done;
}

/* Encrypt count plaintext extents in buf (in place) and write them. */
static int extents_write(struct ecfs_file *f, uint64_t first, size_t count, uint8_t *buf,
			 struct ob_err *err)
{
	int rc = ecfs_fek_crypt_extents_with(f->helper, f->fek, true, first, buf, buf, count);

	if (rc)
		return ob_err_set(err, rc, "encrypting extent %llu", (unsigned long long)first);
	rc = pwrite_full(f->fd, buf, count * ECFS_EXTENT_SIZE, extent_lower_off(f, first));
	if (rc)
		return ob_err_set(err, rc, "writing extent %llu", (unsigned long long)first);
	return 0;
}

/*
 * Write plaintext (or zeros when src is NULL) at [off, off+len) without
 * touching the size field.  old_size decides which partial extents hold data
 * that must be read back; bytes of a fresh extent outside the range stay
 * zero, which keeps I3.
 */
static int range_write(struct ecfs_file *f, const uint8_t *src, size_t len,
		       uint64_t off, uint64_t old_size, struct ob_err *err)
{
	uint64_t have = extents_for(old_size);
	uint8_t *buf = scratch();
	size_t done = 0;

	if (!buf)
		return ob_err_set(err, -ENOMEM, "allocating the extent buffer");
	while (done < len) {
		struct chunk c = chunk_at(off + done, len - done);
		uint64_t first = c.first;
		size_t skip = c.skip, count = c.count, take = c.take, tail_end;
		uint64_t last;
		int rc;

		last = first + count - 1;
		tail_end = (skip + take) % ECFS_EXTENT_SIZE;

		/* Head extent partly covered: keep the bytes before skip. */
		if (skip || (count == 1 && tail_end)) {
			if (first < have)
				rc = extents_read(f, first, 1, buf, err);
			else
				rc = (memset(buf, 0, ECFS_EXTENT_SIZE), 0);
			if (rc)
				return rc;
		}
		/* Tail extent partly covered (and distinct from the head). */
		if (count > 1 && tail_end) {
			uint8_t *t = buf + (count - 1) * ECFS_EXTENT_SIZE;

			if (last < have)
				rc = extents_read(f, last, 1, t, err);
			else
				rc = (memset(t, 0, ECFS_EXTENT_SIZE), 0);
			if (rc)
				return rc;
		}
		if (src)
			memcpy(buf + skip, src + done, take);
		else
			memset(buf + skip, 0, take);
		rc = extents_write(f, first, count, buf, err);
		if (rc)
			return rc;
		done += take;
	}
	return 0;
}

/*
 * Before zero-filling a gap up to new_size, extend the lower file to its
 * final length with one ftruncate.  That asks the lower filesystem's size
 * limit (s_maxbytes: 16 TiB on ext4) up front, so an impossible size fails
 * at once with EFBIG, as the kernel's inode_newsize_ok() makes it fail,
 * instead of after writing zeros until the disk is full (pjdfstest
 * truncate/12.t).  The extension is a lower hole past the size field, which
 * readers ignore (I4); the zeros then overwrite it, and gap_undo() cuts it
 * off again when the fill fails.  A lower file already shorter than its
 * size field (damaged) is left alone: a hole must not fill that gap.
 */
static int gap_reserve(struct ecfs_file *f, uint64_t new_size, struct ob_err *err)
{
	uint64_t want = ecfs_lower_size(&f->hdr, new_size);
	struct stat st;

	if (fstat(f->fd, &st))
		return ob_err_set(err, -errno, "fstat of the lower file");
	if ((uint64_t)st.st_size >= want ||
	    (uint64_t)st.st_size < ecfs_lower_size(&f->hdr, f->hdr.size))
		return 0;
	if (ob_sys_ftruncate(f->fd, (off_t)want))
		return ob_err_set(err, -errno, "extending the lower file to %llu bytes",
				  (unsigned long long)want);
	return 0;
}

static void gap_undo(struct ecfs_file *f)
{
	(void)ob_sys_ftruncate(f->fd, (off_t)ecfs_lower_size(&f->hdr, f->hdr.size));
}

/* Zero [size, end) after reserving the lower file up to end. */
static int gap_fill(struct ecfs_file *f, uint64_t end, struct ob_err *err)
{
	uint64_t old = f->hdr.size;
	int rc = gap_reserve(f, end, err);

	if (rc)
		return rc;
	rc = range_write(f, NULL, (size_t)(end - old), old, old, err);
	if (rc)
		gap_undo(f);
	return rc;
}

/* Grow to new_size: zero-fill [size, new_size), then record the size. */
static int grow(struct ecfs_file *f, uint64_t new_size, struct ob_err *err)
{
	int rc;

	rc = gap_fill(f, new_size, err);
	if (rc)
		return rc;
	return size_write(f, new_size, err);
}

ssize_t ecfs_file_pwrite(struct ecfs_file *f, const void *src, size_t len,
			 uint64_t off, struct ob_err *err)
{
	uint64_t old = f->hdr.size, end;
	int rc;

	if (len == 0)
		return 0;
	if (off > UINT64_MAX - len || off + len > (uint64_t)INT64_MAX - ECFS_METADATA_SIZE)
		return ob_err_set(err, -EFBIG, "write past the largest file size");
	end = off + len;
	/* A gap between EOF and the write becomes encrypted zeros (I2). */
	if (off > old) {
		rc = gap_fill(f, off, err);
		if (rc)
			return rc;
	}
	rc = range_write(f, src, len, off, old, err);
	if (rc)
		return rc;
	if (end > old) {
		rc = size_write(f, end, err);
		if (rc)
			return rc;
	}
	return (ssize_t)len;
}

int ecfs_file_truncate(struct ecfs_file *f, uint64_t size, struct ob_err *err)
{
	uint64_t old = f->hdr.size;
	size_t tail = size % ECFS_EXTENT_SIZE;
	uint8_t *buf = NULL;
	int rc;

	if (size == old)
		return 0;
	if (size > old)
		return grow(f, size, err);
	/* Shrink: size first (I4), then zero the new tail (I3), then cut (I1).
	 * The tail extent is read before anything changes: a shrink that
	 * cannot read it (an unreadable or missing extent) fails with the
	 * file as it was, size field included. */
	if (tail) {
		buf = scratch();
		if (!buf)
			return ob_err_set(err, -ENOMEM, "allocating the extent buffer");
		rc = extents_read(f, size / ECFS_EXTENT_SIZE, 1, buf, err);
		if (rc)
			return rc;
	}
	rc = size_write(f, size, err);
	if (rc)
		return rc;
	if (tail) {
		memset(buf + tail, 0, ECFS_EXTENT_SIZE - tail);
		rc = extents_write(f, size / ECFS_EXTENT_SIZE, 1, buf, err);
		if (rc)
			return rc;
	}
	if (ob_sys_ftruncate(f->fd, (off_t)ecfs_lower_size(&f->hdr, size)))
		return ob_err_set(err, -errno, "truncating the lower file");
	return 0;
}
