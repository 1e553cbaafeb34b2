// SPDX-License-Identifier: MIT
/* store-file.c - the file and block-device store: pread/pwrite on a
 * duplicate of the caller's descriptor.  Past the end of the file pages
 * read as zeros, as a mmap of a file would; write-back past the end
 * extends the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ob/err.h"
#include "mp-int.h"

struct file_store {
	struct mmp_store st;
	int fd;
};

int mp_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	char *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0) {
			memset(p, 0, len);
			return 0;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int mp_pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	const char *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int file_read(struct mmp_store *st, void *buf, size_t len, uint64_t off)
{
	return mp_pread_full(((struct file_store *)st)->fd, buf, len, off);
}

static int file_write(struct mmp_store *st, const void *buf, size_t len, uint64_t off)
{
	return mp_pwrite_full(((struct file_store *)st)->fd, buf, len, off);
}

static int file_sync(struct mmp_store *st)
{
	return fdatasync(((struct file_store *)st)->fd) < 0 ? -errno : 0;
}

static void file_destroy(struct mmp_store *st)
{
	struct file_store *fs = (struct file_store *)st;

	close(fs->fd);
	free(fs);
}

static const struct mmp_store_ops file_ops = {
	.read = file_read, .write = file_write, .sync = file_sync,
	.destroy = file_destroy,
};

/* Shared with store-zero.c: a file store over fd, taking ownership of it. */
int mp_store_file_own(int fd, bool writable, const char *kind, struct mmp_store **out);

int mp_store_file_own(int fd, bool writable, const char *kind, struct mmp_store **out)
{
	struct file_store *fs = calloc(1, sizeof(*fs));

	if (!fs)
		return -ENOMEM;
	fs->st.ops = &file_ops;
	fs->st.kind = kind;
	fs->st.writable = writable;
	fs->fd = fd;
	*out = &fs->st;
	return 0;
}

int mmp_store_file(int fd, struct mmp_store **out, struct ob_err *err)
{
	int fl = fcntl(fd, F_GETFL);
	int dup_fd, rc;

	if (fl < 0)
		return ob_err_set(err, -errno, "file store: fd %d is not open", fd);
	if ((fl & O_ACCMODE) == O_WRONLY)
		return ob_err_set(err, -EBADF, "file store: fd %d is write-only; "
				  "pages must be read", fd);
	dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (dup_fd < 0)
		return ob_err_set(err, -errno, "file store: cannot duplicate fd %d", fd);
	rc = mp_store_file_own(dup_fd, (fl & O_ACCMODE) == O_RDWR, "file", out);
	if (rc < 0) {
		close(dup_fd);
		return ob_err_set(err, rc, "file store: out of memory");
	}
	return 0;
}

void mmp_store_destroy(struct mmp_store *st)
{
	if (st)
		st->ops->destroy(st);
}
