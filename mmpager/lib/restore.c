// SPDX-License-Identifier: MIT
/* restore.c - lazy restore of a memory snapshot into another process
 * (issue 25), as a VMM's page-fault handler does it: the process hands over
 * a userfaultfd with its regions registered, and this serves each missing
 * page from the snapshot the moment it is touched, while a prefetch thread
 * copies the rest in the background, so the process runs at once and all
 * its memory arrives soon after.
 *
 * Two threads: the fault thread reads fault events and answers them with
 * UFFDIO_COPY; the prefetcher walks every region in order.  When both copy
 * the same page one gets EEXIST, which is fine; the fault thread then wakes
 * the faulting thread itself (UFFDIO_COPY woke nobody).  A range the
 * process gave back with madvise(MADV_DONTNEED) (UFFD_EVENT_REMOVE, when
 * the process asked for it) is answered with zeros afterwards, as the
 * userfaultfd documentation asks of a non-cooperative handler.  The
 * process's exit (the uffd reads as closed, or a copy fails with ESRCH)
 * ends the serving without error.
 */
#include <errno.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ob/err.h"
#include "mp-int.h"

#define PREFETCH_CHUNK	16	/* pages per UFFDIO_COPY of the prefetcher */

struct restore_region {
	struct mmp_restore_region r;
	_Atomic unsigned char *removed;	/* per page: given back, serve zeros */
};

struct mmp_restore {
	int uffd;
	const char *snap;
	size_t snap_len;
	void *zeros;		/* a zero huge page, for given-back huge pages */
	struct restore_region *regs;
	unsigned nregs;
	bool prefetch;
	pthread_t fault_tid, prefetch_tid;
	bool prefetch_started;
	_Atomic bool gone;	/* the process exited */
	_Atomic bool stop;
	_Atomic uint64_t faults, fault_pages, prefetched, zeroed, errors;
	_Atomic int64_t all_in_ns;	/* when the prefetcher finished */
	int64_t start_ns;
};

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct restore_region *region_of(struct mmp_restore *rs, uint64_t addr)
{
	for (unsigned i = 0; i < rs->nregs; i++) {
		const struct mmp_restore_region *r = &rs->regs[i].r;

		if (addr >= r->base && addr - r->base < r->size)
			return &rs->regs[i];
	}
	return NULL;
}

/* Copy page idx of rr in (or zeros, if it was given back).  1 when it was
 * already there, 0 when copied, -errno. */
static int serve_page(struct mmp_restore *rs, struct restore_region *rr, uint64_t idx)
{
	const struct mmp_restore_region *r = &rr->r;
	void *dst = (void *)(uintptr_t)(r->base + idx * r->page_size);
	int rc;

	if (atomic_load(&rr->removed[idx])) {
		/* hugetlb has no UFFDIO_ZEROPAGE: copy zeros */
		rc = r->page_size == 4096 ? mp_uffd_zeropage(rs->uffd, dst, r->page_size)
					  : mp_uffd_copy(rs->uffd, dst, rs->zeros, r->page_size,
							 false);
		if (rc == 0)
			atomic_fetch_add(&rs->zeroed, 1);
	} else {
		rc = mp_uffd_copy(rs->uffd, dst, rs->snap + r->offset + idx * r->page_size,
				  r->page_size, false);
	}
	if (rc == -EEXIST)
		return 1;
	if (rc == -ESRCH)
		atomic_store(&rs->gone, true);
	return rc;
}

static void on_fault(struct mmp_restore *rs, uint64_t addr)
{
	struct restore_region *rr = region_of(rs, addr);
	uint64_t idx;
	int rc;

	atomic_fetch_add(&rs->faults, 1);
	if (!rr) {
		mp_log("mmpager serve: fault at 0x%llx outside every region",
		       (unsigned long long)addr);
		atomic_fetch_add(&rs->errors, 1);
		return;
	}
	idx = (addr - rr->r.base) / rr->r.page_size;
	rc = serve_page(rs, rr, idx);
	if (rc == 1)	/* the prefetcher won: wake the faulting thread */
		rc = mp_uffd_wake(rs->uffd, (void *)(uintptr_t)(rr->r.base +
					     idx * rr->r.page_size), rr->r.page_size);
	else if (rc == 0)
		atomic_fetch_add(&rs->fault_pages, 1);
	if (rc < 0 && rc != -ESRCH) {
		atomic_fetch_add(&rs->errors, 1);
		mp_log("mmpager serve: page at 0x%llx not served: %s",
		       (unsigned long long)addr, strerror(-rc));
	}
}

static void on_remove(struct mmp_restore *rs, uint64_t start, uint64_t end)
{
	for (unsigned i = 0; i < rs->nregs; i++) {
		struct restore_region *rr = &rs->regs[i];
		const struct mmp_restore_region *r = &rr->r;
		uint64_t lo = start > r->base ? start : r->base;
		uint64_t hi = end < r->base + r->size ? end : r->base + r->size;

		for (uint64_t a = lo; a < hi; a += r->page_size)
			atomic_store(&rr->removed[(a - r->base) / r->page_size], 1);
	}
}

static void *fault_thread(void *arg)
{
	struct mmp_restore *rs = arg;
	struct uffd_msg msg[32];

	while (!atomic_load(&rs->stop) && !atomic_load(&rs->gone)) {
		struct pollfd pfd = { .fd = rs->uffd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 200) <= 0)
			continue;
		if (pfd.revents & (POLLHUP | POLLERR)) {
			atomic_store(&rs->gone, true);
			break;
		}
		n = read(rs->uffd, msg, sizeof(msg));
		if (n <= 0) {
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			atomic_store(&rs->gone, true);
			break;
		}
		for (size_t i = 0; i < (size_t)n / sizeof(msg[0]); i++) {
			if (msg[i].event == UFFD_EVENT_PAGEFAULT)
				on_fault(rs, msg[i].arg.pagefault.address);
			else if (msg[i].event == UFFD_EVENT_REMOVE)
				on_remove(rs, msg[i].arg.remove.start, msg[i].arg.remove.end);
		}
	}
	return NULL;
}

/* Copy a chunk of pages of rr; on EEXIST go page by page. */
static int prefetch_chunk(struct mmp_restore *rs, struct restore_region *rr,
			  uint64_t idx, uint64_t n)
{
	const struct mmp_restore_region *r = &rr->r;
	int rc = -EEXIST;

	for (uint64_t i = 0; i < n; i++)
		if (atomic_load(&rr->removed[idx + i]))
			goto one_by_one;
	rc = mp_uffd_copy(rs->uffd, (void *)(uintptr_t)(r->base + idx * r->page_size),
			  rs->snap + r->offset + idx * r->page_size, n * r->page_size, false);
	if (rc == 0) {
		atomic_fetch_add(&rs->prefetched, n);
		return 0;
	}
	if (rc != -EEXIST)
		return rc;
one_by_one:
	for (uint64_t i = 0; i < n; i++) {
		rc = serve_page(rs, rr, idx + i);
		if (rc < 0)
			return rc;
		if (rc == 0)
			atomic_fetch_add(&rs->prefetched, 1);
	}
	return 0;
}

static void *prefetch_thread(void *arg)
{
	struct mmp_restore *rs = arg;

	for (unsigned i = 0; i < rs->nregs; i++) {
		struct restore_region *rr = &rs->regs[i];
		uint64_t pages = rr->r.size / rr->r.page_size;

		for (uint64_t idx = 0; idx < pages; idx += PREFETCH_CHUNK) {
			uint64_t n = pages - idx < PREFETCH_CHUNK ? pages - idx : PREFETCH_CHUNK;
			int rc;

			if (atomic_load(&rs->stop) || atomic_load(&rs->gone))
				return NULL;
			rc = prefetch_chunk(rs, rr, idx, n);
			if (rc == -ESRCH)
				return NULL;
			if (rc < 0) {
				atomic_fetch_add(&rs->errors, 1);
				mp_log("mmpager serve: prefetch at 0x%llx failed: %s",
				       (unsigned long long)(rr->r.base + idx * rr->r.page_size),
				       strerror(-rc));
				return NULL;
			}
		}
	}
	atomic_store(&rs->all_in_ns, mono_ns() - rs->start_ns);
	return NULL;
}

static int check_region(const struct mmp_restore_region *r, size_t snap_len,
			struct ob_err *err)
{
	if (r->page_size != 4096 && r->page_size != (2u << 20))
		return ob_err_set(err, -EINVAL, "region at 0x%llx: page size %llu (4096 or "
				  "2097152)", (unsigned long long)r->base,
				  (unsigned long long)r->page_size);
	if (!r->size || r->size % r->page_size || r->base % r->page_size)
		return ob_err_set(err, -EINVAL, "region at 0x%llx: base and size %llu must be "
				  "multiples of its page size", (unsigned long long)r->base,
				  (unsigned long long)r->size);
	if (r->offset > snap_len || r->size > snap_len - r->offset)
		return ob_err_set(err, -EINVAL, "region at 0x%llx: offset %llu + size %llu is "
				  "past the end of the snapshot (%zu bytes)",
				  (unsigned long long)r->base, (unsigned long long)r->offset,
				  (unsigned long long)r->size, snap_len);
	return 0;
}

int mmp_restore_start(int uffd, const void *snap, size_t snap_len,
		      const struct mmp_restore_region *regs, unsigned nregs, bool prefetch,
		      struct mmp_restore **out, struct ob_err *err)
{
	struct mmp_restore *rs;
	int rc;

	if (!nregs)
		return ob_err_set(err, -EINVAL, "no regions");
	for (unsigned i = 0; i < nregs; i++) {
		rc = check_region(&regs[i], snap_len, err);
		if (rc < 0)
			return rc;
	}
	rs = calloc(1, sizeof(*rs));
	if (!rs || !(rs->regs = calloc(nregs, sizeof(rs->regs[0]))))
		goto nomem;
	rs->uffd = uffd;
	rs->snap = snap;
	rs->snap_len = snap_len;
	rs->nregs = nregs;
	rs->prefetch = prefetch;
	rs->start_ns = mono_ns();
	atomic_store(&rs->all_in_ns, -1);
	for (unsigned i = 0; i < nregs; i++) {
		if (regs[i].page_size > 4096 && !rs->zeros &&
		    !(rs->zeros = calloc(1, regs[i].page_size)))
			goto nomem;
		rs->regs[i].r = regs[i];
		rs->regs[i].removed = calloc(regs[i].size / regs[i].page_size, 1);
		if (!rs->regs[i].removed)
			goto nomem;
	}
	rc = pthread_create(&rs->fault_tid, NULL, fault_thread, rs);
	if (rc)
		goto thread;
	if (prefetch) {
		rc = pthread_create(&rs->prefetch_tid, NULL, prefetch_thread, rs);
		if (rc) {
			atomic_store(&rs->stop, true);
			pthread_join(rs->fault_tid, NULL);
			goto thread;
		}
		rs->prefetch_started = true;
	}
	*out = rs;
	return 0;
thread:
	rc = ob_err_set(err, -rc, "cannot start the serving threads");
	goto fail;
nomem:
	rc = ob_err_set(err, -ENOMEM, "out of memory");
fail:
	if (rs && rs->regs)
		for (unsigned i = 0; i < nregs; i++)
			free(rs->regs[i].removed);
	if (rs) {
		free(rs->regs);
		free(rs->zeros);
	}
	free(rs);
	return rc;
}

int mmp_restore_wait(struct mmp_restore *rs, int exit_fd, int64_t timeout_ms)
{
	int64_t deadline = mono_ns() + timeout_ms * 1000000;

	while (!atomic_load(&rs->gone)) {
		struct pollfd pfd = { .fd = exit_fd, .events = POLLIN };

		if (timeout_ms >= 0 && mono_ns() >= deadline)
			return -ETIMEDOUT;
		if (exit_fd >= 0 && poll(&pfd, 1, 20) > 0)
			atomic_store(&rs->gone, true);
		else if (exit_fd < 0)
			usleep(20000);
	}
	return 0;
}

void mmp_restore_stats(struct mmp_restore *rs, struct mmp_restore_stats *st)
{
	st->faults = atomic_load(&rs->faults);
	st->fault_pages = atomic_load(&rs->fault_pages);
	st->prefetched = atomic_load(&rs->prefetched);
	st->zeroed = atomic_load(&rs->zeroed);
	st->errors = atomic_load(&rs->errors);
	st->all_in_ns = atomic_load(&rs->all_in_ns);
}

void mmp_restore_free(struct mmp_restore *rs)
{
	if (!rs)
		return;
	atomic_store(&rs->stop, true);
	pthread_join(rs->fault_tid, NULL);
	if (rs->prefetch_started)
		pthread_join(rs->prefetch_tid, NULL);
	for (unsigned i = 0; i < rs->nregs; i++)
		free(rs->regs[i].removed);
	free(rs->regs);
	free(rs->zeros);
	free(rs);
}
