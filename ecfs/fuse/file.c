// SPDX-License-Identifier: MIT
/* file.c - regular files: open/create, read/write, truncate, fsync, fallocate.
 *
 * The first open of an inode opens one lower data fd (read-write when we
 * may, else read-only and upgraded in place with dup3 when a writer comes),
 * reads the header and unwraps the FEK; later opens share it; the last
 * release closes it (struct ef_data, see ecfs-fuse.h).  The extent layout,
 * holes and sizes are the library's job (ecfs_file_*): this file only
 * serialises calls to it with the inode's io lock and keeps the cached
 * plaintext size in step.
 *
 * What open does with a lower file, as the kernel's
 * read_or_initialize_metadata() (§11):
 *   header (in the file or user.ecryptfs)   -> encrypted file
 *   none, ecryptfs_passthrough              -> plaintext, as it is
 *   none, 0 bytes, not xattr mode, writable -> gets a fresh header
 *   none otherwise, damaged, wrong key      -> EIO (ENOKEY for a key we do
 *                                              not have, EACCES on a mount
 *                                              with public keys only), one
 *                                              log line
 * Encrypted view (ecryptfs_encrypted_view) shows lower bytes; a file whose
 * metadata is in the xattr gets the 8192-byte header the kernel would
 * synthesise in front of its extents (§6).
 */
#include "ecfs-fuse.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "ob/secmem.h"

/* -------------------------------------------------------- read buffers */

/* One plaintext buffer per FUSE thread, so reads allocate nothing. */
static pthread_key_t rbuf_key;
static pthread_once_t rbuf_once = PTHREAD_ONCE_INIT;

struct rbuf {
	size_t len;
	uint8_t data[];
};

static void rbuf_free(void *p)
{
	struct rbuf *b = p;

	ob_wipe(b->data, b->len);
	free(b);
}

static void rbuf_init(void)
{
	(void)pthread_key_create(&rbuf_key, rbuf_free);
}

static uint8_t *rbuf(size_t len)
{
	struct rbuf *b;

	pthread_once(&rbuf_once, rbuf_init);
	b = pthread_getspecific(rbuf_key);
	if (b && b->len >= len)
		return b->data;
	if (len < EF_IO_MAX)
		len = EF_IO_MAX;
	if (b)
		rbuf_free(b);
	b = malloc(sizeof(*b) + len);
	if (b)
		b->len = len;
	pthread_setspecific(rbuf_key, b);
	return b ? b->data : NULL;
}

/* ------------------------------------------------------ shared open data */

static int reopen(struct ef_inode *ino, int flags)
{
	char path[64];

	ef_procpath(path, ino->fd);
	return open(path, flags | O_CLOEXEC | O_NONBLOCK);
}

/* The kernel's header synthesis for the encrypted view of an xattr file. */
static int view_header(struct ef_data *d, struct ef_inode *ino)
{
	ssize_t n;

	d->view_hdr = calloc(1, EF_VIEW_HDR);
	if (!d->view_hdr)
		return ENOMEM;
	n = fgetxattr(d->f.fd, ECFS_XATTR_NAME, d->view_hdr, ECFS_EXTENT_SIZE);
	if (n < 26)
		return EIO;
	d->view_hdr[19] &= (uint8_t)~ECFS_FLAG_METADATA_IN_XATTR;
	d->view_hdr[20] = 0;
	d->view_hdr[21] = 0;
	d->view_hdr[22] = ECFS_EXTENT_SIZE >> 8;
	d->view_hdr[23] = 0;
	d->view_hdr[24] = 0;
	d->view_hdr[25] = EF_VIEW_HDR / ECFS_EXTENT_SIZE;
	return 0;
}

/* A new file's header: one key packet per mount key (passphrases: Tag 3,
 * RSA and escrow keys: Tag 1), the cipher the policy picks for name (NULL:
 * the mount's). */
static int ef_new_header(struct ef_fs *fs, struct ecfs_file *f, int fd, const char *name,
			 bool xattr, struct ob_err *err)
{
	struct ecfs_keys keys = { .pass = fs->wrap_keys, .pub = fs->ck.pub, .npub = fs->ck.npub };
	const struct ecfs_cipher_info *ci = fs->cipher;
	size_t kb = fs->key_bytes;

	int rc;

	if (name)
		ecfs_policy_match(fs->ck.policy, name, &ci, &kb);
	rc = ecfs_file_create_ex(f, fd, ci, kb, &keys, xattr, fs->fnek != NULL, err);
	f->helper = fs->crypt;
	return rc;
}

/* Fill d for ino (m held): metadata, FEK, kind, size.  Returns 0 or errno. */
static int data_open_locked(struct ef_fs *fs, struct ef_inode *ino, struct ef_data *d)
{
	struct ob_err err = {0};
	struct stat st;
	int rc;

	if (fs->view) {
		ef_probe_locked(fs, ino, d->f.fd);
		return ino->kind == EF_ENC && ino->view_xattr ? view_header(d, ino) : 0;
	}
	struct ecfs_keys keys = ecfs_keychain_keys(&fs->ck);

	rc = ecfs_file_open_ex(&d->f, d->f.fd, ECFS_OPEN_XATTR_OK, &keys, &err);
	d->f.helper = fs->crypt;
	if (rc == 0 && !ef_size_possible(d->f.hdr.size))
		rc = ob_err_set(&err, -EIO, "size field %llu is past the largest file size",
				(unsigned long long)d->f.hdr.size);
	if (rc == 0) {
		ino->kind = EF_ENC;
		ino->size = d->f.hdr.size;
		return 0;
	}
	if (rc == -ENODATA) {
		if (fs->passthrough) {
			ino->kind = EF_PLAIN;
			return 0;
		}
		if (!fstat(d->f.fd, &st) && st.st_size == 0 && !fs->xattr && d->writable &&
		    fs->new_files == EF_NEW_ENCRYPT) {
			rc = ef_new_header(fs, &d->f, d->f.fd, NULL, false, &err);
			if (rc == 0) {
				ino->kind = EF_ENC;
				ino->size = 0;
				return 0;
			}
			/* A header cut short would make it a damaged file. */
			(void)ftruncate(d->f.fd, 0);
		} else {
			ino->kind = EF_PLAIN;
			ef_log_once(fs, ino, "no eCryptfs metadata (mount with "
				    "ecryptfs_passthrough to use plaintext files)");
			return EIO;
		}
	}
	if (rc == -ENOKEY) {
		ef_log_once(fs, ino, "%s", err.msg);
		return fs->write_only ? EACCES : ENOKEY;
	}
	/* Out of space or memory says nothing about the file: the opener gets
	 * that errno, as a write would, and the next open tries again. */
	if (rc == -ENOSPC || rc == -EDQUOT || rc == -ENOMEM)
		return -rc;
	ino->kind = EF_BAD;
	ef_log_once(fs, ino, "%s", err.msg);
	return EIO;
}

int ef_data_get(struct ef_fs *fs, struct ef_inode *ino, bool write,
		struct ef_data **out)
{
	struct ef_data *d;
	int rc = 0;

	if (write && fs->ro)
		return EROFS;
	pthread_mutex_lock(&ino->m);
	d = ino->data;
	if (d) {
		if (write && !d->writable) {
			/* Upgrade in place: readers keep using the same fd number. */
			int fd = reopen(ino, O_RDWR);

			if (fd < 0) {
				rc = errno;
				goto out;
			}
			dup3(fd, d->f.fd, O_CLOEXEC);
			close(fd);
			d->writable = true;
		}
		goto got;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		rc = ENOMEM;
		goto out;
	}
	d->f.fd = fs->ro ? -1 : reopen(ino, O_RDWR);
	d->writable = d->f.fd >= 0;
	if (d->f.fd < 0 && !write)
		d->f.fd = reopen(ino, O_RDONLY);
	if (d->f.fd < 0) {
		rc = errno;
		free(d);
		goto out;
	}
	rc = data_open_locked(fs, ino, d);
	if (rc) {
		ecfs_file_close(&d->f);
		close(d->f.fd);
		free(d->view_hdr);
		free(d);
		goto out;
	}
	ino->data = d;
got:
	ino->nopen++;
	*out = d;
out:
	pthread_mutex_unlock(&ino->m);
	return rc;
}

void ef_data_put(struct ef_fs *fs, struct ef_inode *ino)
{
	struct ef_data *d = NULL;

	pthread_mutex_lock(&ino->m);
	if (--ino->nopen == 0) {
		d = ino->data;
		ino->data = NULL;
	}
	pthread_mutex_unlock(&ino->m);
	if (d) {
		ecfs_file_close(&d->f);
		close(d->f.fd);
		free(d->view_hdr);
		free(d);
	}
}

int ef_data_fd(struct ef_inode *ino)
{
	int fd = -1;

	pthread_mutex_lock(&ino->m);
	if (ino->data) {
		ino->nopen++;
		fd = ino->data->f.fd;
	}
	pthread_mutex_unlock(&ino->m);
	return fd;
}

/* Record the size after a write or truncate (io held exclusively). */
static void size_update(struct ef_inode *ino, struct ef_data *d)
{
	pthread_mutex_lock(&ino->m);
	ino->size = d->f.hdr.size;
	pthread_mutex_unlock(&ino->m);
}

static int io_error(struct ef_fs *fs, struct ef_inode *ino, int rc,
		    const struct ob_err *err)
{
	rc = rc < 0 ? -rc : rc;
	if (rc == ENOSPC || rc == EDQUOT || rc == EFBIG || rc == ENOMEM)
		return rc;
	ef_log_once(fs, ino, "%s", err->msg[0] ? err->msg : strerror(rc));
	return EIO;
}

/* Truncate the file (io taken here).  For EF_PLAIN the lower file itself. */
static int truncate_locked(struct ef_fs *fs, struct ef_inode *ino,
			   struct ef_data *d, uint64_t size)
{
	struct ob_err err = {0};
	int rc;

	if (ino->kind == EF_PLAIN)
		return ftruncate(d->f.fd, (off_t)size) ? errno : 0;
	rc = ecfs_file_truncate(&d->f, size, &err);
	size_update(ino, d);
	return rc ? io_error(fs, ino, rc, &err) : 0;
}

int ef_truncate(struct ef_fs *fs, struct ef_inode *ino, uint64_t size)
{
	struct ef_data *d;
	int rc = ef_data_get(fs, ino, true, &d);

	if (rc)
		return rc;
	pthread_rwlock_wrlock(&ino->io);
	rc = truncate_locked(fs, ino, d, size);
	pthread_rwlock_unlock(&ino->io);
	ef_data_put(fs, ino);
	return rc;
}

/* ------------------------------------------------------------ create */

/* Make the lower file for a new regular file, with its header (or as plain
 * with new_files=plain).  Returns the data fd, or -errno; *created false
 * (and 0 returned) when it existed and excl was not asked. */
static int create_lower(struct ef_fs *fs, fuse_req_t req, struct ef_inode *parent,
			const char *name, const char *lname, mode_t mode, bool excl,
			struct ef_data *d, bool *created)
{
	struct ob_err err = {0};
	int fd, rc;

	*created = false;
	fd = openat(parent->fd, lname, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC | O_NOFOLLOW,
		    mode & 07777);
	if (fd < 0)
		return (errno == EEXIST && !excl) ? 0 : -errno;
	*created = true;
	ef_chown_new(fs, req, parent->fd, lname);
	d->f.fd = fd;
	d->writable = true;
	if (fs->new_files == EF_NEW_PLAIN)
		return fd;
	rc = ef_new_header(fs, &d->f, fd, name, fs->xattr, &err);
	if (rc) {
		ef_log(fs, parent, "creating a file here: %s", err.msg);
		unlinkat(parent->fd, lname, 0);
		close(fd);
		return rc == -ENOSPC || rc == -EDQUOT ? rc : -EIO;
	}
	return fd;
}

int ef_create_file(struct ef_fs *fs, fuse_req_t req, struct ef_inode *parent,
		   const char *name, mode_t mode, bool want_data, bool excl,
		   struct fuse_entry_param *e)
{
	char lname[ECFS_LOWER_NAME_MAX];
	struct ef_data *d;
	struct ef_inode *ino;
	bool created;
	int rc, fd;

	if (fs->ro)
		return EROFS;
	if (fs->new_files == EF_NEW_DENY)
		return EACCES;
	rc = ef_lower_name(fs, name, lname, sizeof(lname));
	if (rc)
		return rc;
	d = calloc(1, sizeof(*d));
	if (!d)
		return ENOMEM;
	fd = create_lower(fs, req, parent, name, lname, mode, excl, d, &created);
	if (fd < 0) {
		free(d);
		return -fd;
	}
	rc = created ? ef_do_lookup_known(fs, parent, lname, e, fs->new_files == EF_NEW_PLAIN ?
						     EF_PLAIN : EF_ENC, 0)
		     : ef_do_lookup(fs, parent, lname, e);
	if (rc) {
		if (created) {
			ecfs_file_close(&d->f);
			close(fd);
		}
		free(d);
		return rc;
	}
	ino = (struct ef_inode *)(uintptr_t)e->ino;
	if (!created) {
		/* It existed: an ordinary open of it. */
		free(d);
		if (want_data) {
			rc = ef_data_get(fs, ino, true, &d);
			if (rc)
				ef_unref(fs, ino, 1);
		}
		return rc;
	}
	pthread_mutex_lock(&ino->m);
	ino->kind = fs->new_files == EF_NEW_PLAIN ? EF_PLAIN : EF_ENC;
	ino->size = 0;
	ino->no_caps = true;		/* we just made it: nothing set it yet */
	if (want_data && !ino->data) {
		ino->data = d;
		ino->nopen++;
		d = NULL;
	} else if (want_data) {
		ino->nopen++;
	}
	pthread_mutex_unlock(&ino->m);
	if (d) {
		ecfs_file_close(&d->f);
		close(d->f.fd);
		free(d);
	}
	e->attr.st_size = 0;
	return 0;
}

/* --------------------------------------------------------------- ops */

static void open_reply_flags(struct fuse_file_info *fi)
{
	/* We are the only writer of the lower tree while mounted, so the
	 * page cache stays valid across opens. */
	fi->keep_cache = 1;
	if (fi->flags & O_DIRECT)
		fi->direct_io = 1;
}

void ef_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ef_fs *fs = ef_fs(req);
	struct ef_inode *inode = ef_inode(req, ino);
	bool write = (fi->flags & O_ACCMODE) != O_RDONLY;
	struct ef_data *d;
	int rc = ef_data_get(fs, inode, write, &d);

	if (rc) {
		fuse_reply_err(req, rc);
		return;
	}
	if ((fi->flags & O_TRUNC) && write) {
		pthread_rwlock_wrlock(&inode->io);
		rc = truncate_locked(fs, inode, d, 0);
		pthread_rwlock_unlock(&inode->io);
		if (rc) {
			ef_data_put(fs, inode);
			fuse_reply_err(req, rc);
			return;
		}
		if (ef_req_kill_suidgid())
			ef_drop_suidgid(fs, inode);
	}
	open_reply_flags(fi);
	if (fuse_reply_open(req, fi) == -ENOENT)
		ef_data_put(fs, inode);		/* the opener was interrupted */
}

void ef_op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		  mode_t mode, struct fuse_file_info *fi)
{
	struct ef_fs *fs = ef_fs(req);
	struct fuse_entry_param e;
	struct ef_inode *ino;
	int rc = ef_create_file(fs, req, ef_inode(req, parent), name, mode, true,
				(fi->flags & O_EXCL) != 0, &e);

	if (rc) {
		fuse_reply_err(req, rc);
		return;
	}
	ino = (struct ef_inode *)(uintptr_t)e.ino;
	if ((fi->flags & O_TRUNC) && e.attr.st_size) {
		rc = ef_truncate(fs, ino, 0);
		if (rc) {
			ef_data_put(fs, ino);
			ef_unref(fs, ino, 1);
			fuse_reply_err(req, rc);
			return;
		}
		e.attr.st_size = 0;
		if (ef_req_kill_suidgid()) {
			ef_drop_suidgid(fs, ino);
			(void)ef_stat(fs, ino, &e.attr);
		}
	}
	open_reply_flags(fi);
	if (fuse_reply_create(req, &e, fi) == -ENOENT) {
		ef_data_put(fs, ino);
		ef_unref(fs, ino, 1);
	}
}

/* Encrypted view: the synthesised header, then the lower bytes after it. */
static ssize_t view_read(struct ef_data *d, uint8_t *buf, size_t size, off_t off)
{
	size_t done = 0;

	if (d->view_hdr && off < EF_VIEW_HDR) {
		done = EF_VIEW_HDR - (size_t)off < size ? EF_VIEW_HDR - (size_t)off : size;
		memcpy(buf, d->view_hdr + off, done);
	}
	while (done < size) {
		off_t lo = off + (off_t)done - (d->view_hdr ? EF_VIEW_HDR : 0);
		ssize_t n = pread(d->f.fd, buf + done, size - done, lo);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return done ? (ssize_t)done : -errno;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static ssize_t plain_pread(int fd, uint8_t *buf, size_t size, off_t off)
{
	ssize_t n = pread(fd, buf, size, off);

	return n < 0 ? -errno : n;
}

/*
 * A large read (the kernel's readahead of a file read in order) asks the
 * lower filesystem for the range after it before reading its own, so the
 * disk works on the next chunk while this one is decrypted and sent.
 */
static void prefetch_next(const struct ef_data *d, off_t off, size_t len)
{
	if (len < EF_STREAM_MIN)
		return;
	(void)posix_fadvise(d->f.fd, (off_t)d->f.hdr.data_offset + off + (off_t)len,
			    (off_t)len * 2, POSIX_FADV_WILLNEED);
}

void ef_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi)
{
	struct ef_fs *fs = ef_fs(req);
	struct ef_inode *inode = ef_inode(req, ino);
	struct ef_data *d = inode->data;	/* stable: we hold an open handle */
	struct ob_err err = {0};
	uint8_t *buf = ef_ring_reply_buffer(size);	/* no copy into the ring */
	ssize_t n;

	if (!buf)
		buf = rbuf(size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_rwlock_rdlock(&inode->io);
	if (fs->view)
		n = view_read(d, buf, size, off);
	else if (inode->kind == EF_PLAIN)
		n = plain_pread(d->f.fd, buf, size, off);
	else {
		prefetch_next(d, off, size);
		n = ecfs_file_pread(&d->f, buf, size, (uint64_t)off, &err);
	}
	pthread_rwlock_unlock(&inode->io);
	if (n < 0) {
		fuse_reply_err(req, fs->view || inode->kind == EF_PLAIN ? (int)-n :
			       io_error(fs, inode, (int)n, &err));
		return;
	}
	fuse_reply_buf(req, (const char *)buf, (size_t)n);
}

/*
 * After a large write (dd, cp, a backup), two things for the lower file.
 *
 * Start writeback of the lower range it just filled.  Otherwise the whole
 * file sits dirty in the lower page cache until fsync or the kernel's dirty
 * limits, and fsync then writes it all at disk speed after the last write;
 * this way disk writes overlap the encryption of the next chunks.
 * SYNC_FILE_RANGE_WRITE only starts I/O: nothing waits for it and
 * durability is what it was (fsync still decides).
 *
 * Drop the lower pages EF_DROP_LAG behind it, of an encrypted file: what a
 * stream writes is cached above us as plaintext, and its ciphertext below
 * is a second copy that nobody reads back.  Writeback started here has
 * written those pages out by then (POSIX_FADV_DONTNEED never waits for I/O
 * and never drops a page that is dirty or under writeback: on a disk
 * slower than us it drops nothing).  The stream then reuses the pages it
 * freed instead of taking new ones; on a VM that is the difference between
 * memory the host has backed and memory it must first fault in: a 1 GiB dd
 * ran at 0.4 to 0.95 GiB/s, and at 0.84 to 0.91 in six tries with this.
 * Reads keep their lower pages: dropping them cost more CPU than it saved.
 */
#define EF_DROP_LAG	(8 << 20)

static void after_stream_write(const struct ef_inode *inode, off_t off, size_t len)
{
	const struct ef_data *d = inode->data;
	off_t lower = (off_t)d->f.hdr.data_offset + off;

	if (len < EF_STREAM_MIN)
		return;
	(void)sync_file_range(d->f.fd, lower, (off_t)len, SYNC_FILE_RANGE_WRITE);
	if (inode->kind == EF_ENC && off >= EF_DROP_LAG)
		(void)posix_fadvise(d->f.fd, lower - EF_DROP_LAG, (off_t)len,
				    POSIX_FADV_DONTNEED);
}

void ef_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		 off_t off, struct fuse_file_info *fi)
{
	struct ef_fs *fs = ef_fs(req);
	struct ef_inode *inode = ef_inode(req, ino);
	struct ef_data *d = inode->data;
	struct ob_err err = {0};
	ssize_t n;

	pthread_rwlock_wrlock(&inode->io);
	if (inode->kind == EF_PLAIN) {
		n = pwrite(d->f.fd, buf, size, off);
		if (n < 0)
			n = -errno;
	} else {
		n = ecfs_file_pwrite(&d->f, buf, size, (uint64_t)off, &err);
		size_update(inode, d);
	}
	pthread_rwlock_unlock(&inode->io);
	if (n > 0)
		after_stream_write(inode, off, (size_t)n);
	if (n > 0 && ef_req_kill_suidgid())
		ef_drop_suidgid(fs, inode);
	if (n < 0)
		fuse_reply_err(req, inode->kind == EF_PLAIN ? (int)-n :
			       io_error(fs, inode, (int)n, &err));
	else
		fuse_reply_write(req, (size_t)n);
}

void ef_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	ef_data_put(ef_fs(req), ef_inode(req, ino));
	fuse_reply_err(req, 0);
}

void ef_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		 struct fuse_file_info *fi)
{
	struct ef_inode *inode = ef_inode(req, ino);
	struct ef_data *d = inode->data;
	int rc;

	/* In xattr mode the size lives in an xattr: only fsync covers it. */
	if (datasync && !(inode->kind == EF_ENC && d->f.hdr.in_xattr))
		rc = fdatasync(d->f.fd);
	else
		rc = fsync(d->f.fd);
	fuse_reply_err(req, rc ? errno : 0);
}

/* Zero [off, off+len) inside the file, in bounded chunks (io held). */
static int zero_range(struct ef_fs *fs, struct ef_inode *ino, struct ef_data *d,
		      uint64_t off, uint64_t len)
{
	static const uint8_t zeros[64 * 1024];
	struct ob_err err = {0};

	while (len) {
		size_t n = len < sizeof(zeros) ? (size_t)len : sizeof(zeros);
		ssize_t w = ecfs_file_pwrite(&d->f, zeros, n, off, &err);

		if (w < 0)
			return io_error(fs, ino, (int)w, &err);
		off += n;
		len -= n;
	}
	size_update(ino, d);
	return 0;
}

/*
 * fallocate on an encrypted file, in plaintext coordinates:
 *   0                 grow to off+len if shorter (new extents are written
 *                     as encrypted zeros, so they are allocated)
 *   KEEP_SIZE         preallocate the lower extents of the range
 *   PUNCH_HOLE, ZERO_RANGE (+KEEP_SIZE)  write encrypted zeros: a lower
 *                     hole would decrypt to garbage (§5.4)
 */
void ef_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
		     off_t len, struct fuse_file_info *fi)
{
	struct ef_fs *fs = ef_fs(req);
	struct ef_inode *inode = ef_inode(req, ino);
	struct ef_data *d = inode->data;
	uint64_t end = (uint64_t)off + (uint64_t)len, size;
	struct ob_err err = {0};
	int rc = 0;

	if (inode->kind == EF_PLAIN) {
		fuse_reply_err(req, fallocate(d->f.fd, mode, off, len) ? errno : 0);
		return;
	}
	pthread_rwlock_wrlock(&inode->io);
	size = d->f.hdr.size;
	switch (mode) {
	case 0:
		if (end > size) {
			rc = ecfs_file_truncate(&d->f, end, &err);
			size_update(inode, d);
			if (rc)
				rc = io_error(fs, inode, rc, &err);
		}
		break;
	case FALLOC_FL_KEEP_SIZE: {
		uint64_t first = (uint64_t)off / ECFS_EXTENT_SIZE;
		uint64_t last = (end + ECFS_EXTENT_SIZE - 1) / ECFS_EXTENT_SIZE;
		uint64_t base = ecfs_lower_size(&d->f.hdr, 0);

		if (fallocate(d->f.fd, FALLOC_FL_KEEP_SIZE,
			      (off_t)(base + first * ECFS_EXTENT_SIZE),
			      (off_t)((last - first) * ECFS_EXTENT_SIZE)))
			rc = errno;
		break;
	}
	case FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE:
	case FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE:
		if ((uint64_t)off < size)
			rc = zero_range(fs, inode, d, (uint64_t)off,
					(end < size ? end : size) - (uint64_t)off);
		break;
	case FALLOC_FL_ZERO_RANGE:
		if ((uint64_t)off < size)
			rc = zero_range(fs, inode, d, (uint64_t)off,
					(end < size ? end : size) - (uint64_t)off);
		if (!rc && end > d->f.hdr.size) {
			rc = ecfs_file_truncate(&d->f, end, &err);
			size_update(inode, d);
			if (rc)
				rc = io_error(fs, inode, rc, &err);
		}
		break;
	default:
		rc = EOPNOTSUPP;
	}
	pthread_rwlock_unlock(&inode->io);
	fuse_reply_err(req, rc);
}
