// SPDX-License-Identifier: MIT
/* store-sparse.c - a store made of many files, as UMap's SparseStore: a
 * directory with one file per file_size bytes of the store, named by its
 * index ("0", "1", ...), created on first write, so a huge sparse region
 * costs only the files that were written.  A file "mmpager-sparse" records
 * file_size; reopening with another size is refused rather than read at
 * the wrong offsets.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ob/err.h"
#include "mp-int.h"

#define SPARSE_META "mmpager-sparse"

struct sparse_store {
	struct mmp_store st;
	int dirfd;
	uint64_t file_size;
	pthread_mutex_t mu;	/* guards fds/nfds; fds stay open until destroy */
	int *fds;		/* -1: not opened yet */
	size_t nfds;
};

/* The descriptor of file idx; -ENOENT when it does not exist and create is
 * false. */
static int sparse_fd(struct sparse_store *s, uint64_t idx, bool create)
{
	char name[32];
	int fd;

	pthread_mutex_lock(&s->mu);
	if (idx >= s->nfds) {
		size_t n = s->nfds ? s->nfds : 64;
		int *fds;

		while (n <= idx)
			n *= 2;
		fds = realloc(s->fds, n * sizeof(*fds));
		if (!fds) {
			pthread_mutex_unlock(&s->mu);
			return -ENOMEM;
		}
		for (size_t i = s->nfds; i < n; i++)
			fds[i] = -1;
		s->fds = fds;
		s->nfds = n;
	}
	fd = s->fds[idx];
	if (fd < 0) {
		snprintf(name, sizeof(name), "%" PRIu64, idx);
		fd = openat(s->dirfd, name, (s->st.writable ? O_RDWR : O_RDONLY) | O_CLOEXEC |
			    (create ? O_CREAT : 0), 0644);
		if (fd < 0)
			fd = -errno;
		else
			s->fds[idx] = fd;
	}
	pthread_mutex_unlock(&s->mu);
	return fd;
}

static int sparse_io(struct mmp_store *st, void *buf, size_t len, uint64_t off, bool wr)
{
	struct sparse_store *s = (struct sparse_store *)st;
	char *p = buf;

	while (len) {
		uint64_t idx = off / s->file_size, in = off % s->file_size;
		size_t n = s->file_size - in < len ? (size_t)(s->file_size - in) : len;
		int fd = sparse_fd(s, idx, wr);
		int rc;

		if (fd == -ENOENT && !wr) {
			memset(p, 0, n);
			rc = 0;
		} else if (fd < 0) {
			rc = fd;
		} else {
			rc = wr ? mp_pwrite_full(fd, p, n, in) : mp_pread_full(fd, p, n, in);
		}
		if (rc < 0)
			return rc;
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

static int sparse_read(struct mmp_store *st, void *buf, size_t len, uint64_t off)
{
	return sparse_io(st, buf, len, off, false);
}

static int sparse_write(struct mmp_store *st, const void *buf, size_t len, uint64_t off)
{
	return sparse_io(st, (void *)buf, len, off, true);
}

static int sparse_sync(struct mmp_store *st)
{
	struct sparse_store *s = (struct sparse_store *)st;
	int rc = 0;

	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->nfds; i++)
		if (s->fds[i] >= 0 && fdatasync(s->fds[i]) < 0 && !rc)
			rc = -errno;
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static void sparse_destroy(struct mmp_store *st)
{
	struct sparse_store *s = (struct sparse_store *)st;

	for (size_t i = 0; i < s->nfds; i++)
		if (s->fds[i] >= 0)
			close(s->fds[i]);
	free(s->fds);
	close(s->dirfd);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static const struct mmp_store_ops sparse_ops = {
	.read = sparse_read, .write = sparse_write, .sync = sparse_sync,
	.destroy = sparse_destroy,
};

/* Write or check the recorded file size. */
static int sparse_meta(int dirfd, uint64_t file_size, bool writable, const char *dir,
		       struct ob_err *err)
{
	char buf[32];
	uint64_t have;
	int fd = openat(dirfd, SPARSE_META, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		buf[n > 0 ? n : 0] = '\0';
		if (sscanf(buf, "%" SCNu64, &have) != 1)
			return ob_err_set(err, -EINVAL, "sparse store %s: unreadable %s",
					  dir, SPARSE_META);
		if (have != file_size)
			return ob_err_set(err, -EINVAL, "sparse store %s: made with files of "
					  "%" PRIu64 " bytes, not %" PRIu64, dir, have, file_size);
		return 0;
	}
	if (!writable)
		return 0;
	fd = openat(dirfd, SPARSE_META, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return ob_err_set(err, -errno, "sparse store %s: cannot create %s",
				  dir, SPARSE_META);
	n = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", file_size);
	if (write(fd, buf, (size_t)n) != n) {
		close(fd);
		return ob_err_set(err, -EIO, "sparse store %s: cannot write %s", dir, SPARSE_META);
	}
	close(fd);
	return 0;
}

int mmp_store_sparse(const char *dir, uint64_t file_size, bool writable,
		     struct mmp_store **out, struct ob_err *err)
{
	struct sparse_store *s;
	int dirfd, rc;

	if (!file_size || file_size % 4096)
		return ob_err_set(err, -EINVAL, "sparse store %s: file size %" PRIu64
				  " is not a positive multiple of 4096", dir, file_size);
	if (writable && mkdir(dir, 0755) < 0 && errno != EEXIST)
		return ob_err_set(err, -errno, "sparse store %s: cannot create it", dir);
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return ob_err_set(err, -errno, "sparse store %s: cannot open it", dir);
	rc = sparse_meta(dirfd, file_size, writable, dir, err);
	if (rc < 0)
		goto fail;
	s = calloc(1, sizeof(*s));
	if (!s) {
		rc = ob_err_set(err, -ENOMEM, "sparse store %s: out of memory", dir);
		goto fail;
	}
	s->st.ops = &sparse_ops;
	s->st.kind = "sparse";
	s->st.writable = writable;
	s->dirfd = dirfd;
	s->file_size = file_size;
	pthread_mutex_init(&s->mu, NULL);
	*out = &s->st;
	return 0;
fail:
	close(dirfd);
	return rc;
}
