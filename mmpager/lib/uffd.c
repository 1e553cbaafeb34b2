// SPDX-License-Identifier: MIT
/* uffd.c - the userfaultfd calls the pager makes, each returning 0 or -errno.
 *
 * Debian 12's <linux/userfaultfd.h> is the 6.1 one; the kernel here (6.18)
 * has four more features, of which the pager uses UFFDIO_POISON (6.6): a
 * fault the store cannot serve gets SIGBUS instead of a thread stuck on it.
 * The missing bits are defined below with the kernel's values.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ob/err.h"
#include "mp-int.h"

#ifndef UFFD_FEATURE_POISON
#define UFFD_FEATURE_POISON		(1 << 14)
#endif
#ifndef _UFFDIO_POISON
#define _UFFDIO_POISON			(0x08)
struct uffdio_poison {
	struct uffdio_range range;
#define UFFDIO_POISON_MODE_DONTWAKE	((__u64)1 << 0)
	__u64 mode;
	__s64 updated;
};
#define UFFDIO_POISON	_IOWR(UFFDIO, _UFFDIO_POISON, struct uffdio_poison)
#endif

/* The features the pager asks for when the kernel has them. */
#define MP_WANT_FEATURES (UFFD_FEATURE_PAGEFAULT_FLAG_WP | \
			  UFFD_FEATURE_MISSING_HUGETLBFS | \
			  UFFD_FEATURE_WP_HUGETLBFS_SHMEM | \
			  UFFD_FEATURE_THREAD_ID | \
			  UFFD_FEATURE_POISON)

static int uffd_new(void)
{
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0 && errno == EPERM)	/* then try user-mode-only faults */
		fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	return fd < 0 ? -errno : fd;
}

static int uffd_api(int fd, uint64_t want, uint64_t *got)
{
	struct uffdio_api api = { .api = UFFD_API, .features = want };

	if (ioctl(fd, UFFDIO_API, &api) < 0)
		return -errno;
	*got = api.features;
	return 0;
}

int mmp_uffd_features(uint64_t *features, struct ob_err *err)
{
	int fd = uffd_new();
	int rc;

	if (fd < 0)
		return ob_err_set(err, fd, "userfaultfd: cannot open (root, or "
				  "vm.unprivileged_userfaultfd=1, is needed)");
	rc = uffd_api(fd, 0, features);
	close(fd);
	if (rc < 0)
		return ob_err_set(err, rc, "userfaultfd: UFFDIO_API failed");
	return 0;
}

int mp_uffd_open(uint64_t *features, struct ob_err *err)
{
	uint64_t have;
	int fd, rc;

	rc = mmp_uffd_features(&have, err);
	if (rc < 0)
		return rc;
	/* Test hook: behave as a kernel before 6.6 (no UFFDIO_POISON), so the
	 * tgkill(SIGBUS) fallback is exercised here too. */
	if (getenv("MMPAGER_NO_POISON"))
		have &= ~(uint64_t)UFFD_FEATURE_POISON;
	fd = uffd_new();
	if (fd < 0)
		return ob_err_set(err, fd, "userfaultfd: cannot open");
	rc = uffd_api(fd, have & MP_WANT_FEATURES, features);
	/* UFFDIO_API answers with every feature the kernel has, asked for
	 * or not: the pager may rely only on what it asked for. */
	*features &= have & MP_WANT_FEATURES;
	if (rc < 0) {
		close(fd);
		return ob_err_set(err, rc, "userfaultfd: UFFDIO_API with features %#llx failed",
				  (unsigned long long)(have & MP_WANT_FEATURES));
	}
	return fd;
}

int mp_uffd_register(int uffd, void *addr, size_t len, bool wp, struct ob_err *err)
{
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)addr, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING | (wp ? UFFDIO_REGISTER_MODE_WP : 0),
	};

	if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0)
		return ob_err_set(err, -errno, "UFFDIO_REGISTER of %zu bytes at %p%s failed",
				  len, addr, wp ? " (missing + write-protect)" : "");
	if (!(reg.ioctls & ((uint64_t)1 << _UFFDIO_COPY))) {
		mp_uffd_unregister(uffd, addr, len);
		return ob_err_set(err, -EOPNOTSUPP, "UFFDIO_COPY is not offered for %p", addr);
	}
	return 0;
}

int mp_uffd_unregister(int uffd, void *addr, size_t len)
{
	struct uffdio_range r = { .start = (uintptr_t)addr, .len = len };

	return ioctl(uffd, UFFDIO_UNREGISTER, &r) < 0 ? -errno : 0;
}

int mp_uffd_copy(int uffd, void *dst, const void *src, size_t len, bool wp)
{
	struct uffdio_copy c = {
		.dst = (uintptr_t)dst, .src = (uintptr_t)src, .len = len,
		.mode = wp ? UFFDIO_COPY_MODE_WP : 0,
	};

	while (ioctl(uffd, UFFDIO_COPY, &c) < 0) {
		if (errno != EAGAIN)
			return -errno;
		/* Partial copy (the mm changed under it): go on from there. */
		if (c.copy > 0) {
			c.dst += (uint64_t)c.copy;
			c.src += (uint64_t)c.copy;
			c.len -= (uint64_t)c.copy;
		}
		c.copy = 0;
	}
	return 0;
}

int mp_uffd_zeropage(int uffd, void *dst, size_t len)
{
	struct uffdio_zeropage z = {
		.range = { .start = (uintptr_t)dst, .len = len },
	};

	while (ioctl(uffd, UFFDIO_ZEROPAGE, &z) < 0) {
		if (errno != EAGAIN)
			return -errno;
		z.zeropage = 0;
	}
	return 0;
}

int mp_uffd_wp(int uffd, void *addr, size_t len, bool protect)
{
	struct uffdio_writeprotect w = {
		.range = { .start = (uintptr_t)addr, .len = len },
		.mode = protect ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};

	while (ioctl(uffd, UFFDIO_WRITEPROTECT, &w) < 0)
		if (errno != EAGAIN)
			return -errno;
	return 0;
}

int mp_uffd_wake(int uffd, void *addr, size_t len)
{
	struct uffdio_range r = { .start = (uintptr_t)addr, .len = len };

	return ioctl(uffd, UFFDIO_WAKE, &r) < 0 ? -errno : 0;
}

int mp_uffd_poison(int uffd, void *addr, size_t len)
{
	struct uffdio_poison p = {
		.range = { .start = (uintptr_t)addr, .len = len },
	};

	while (ioctl(uffd, UFFDIO_POISON, &p) < 0)
		if (errno != EAGAIN)
			return -errno;
	return 0;
}
