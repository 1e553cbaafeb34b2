// SPDX-License-Identifier: MIT
/* fill.c - filler threads: read fault events from the one userfaultfd and
 * resolve them.
 *
 * Every filler has its own epoll instance watching the uffd with
 * EPOLLEXCLUSIVE, so one event wakes one filler rather than all of them,
 * and the stop eventfd, which wakes all.  A missing fault becomes a fill
 * (store read into a bounce buffer, UFFDIO_COPY); a write-protect fault
 * marks the page dirty and lifts the protection.  A fill the store cannot
 * serve poisons the page (UFFDIO_POISON): the faulting thread gets SIGBUS
 * and the log says why, instead of a thread that waits for ever (UMap #109).
 */
#include <errno.h>
#include <linux/userfaultfd.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mp-int.h"

#define RELAXED memory_order_relaxed

int mp_bounce_get(struct mp_worker_buf *b, size_t size)
{
	void *page;

	if (b->size >= size && !b->mapped)
		return 0;
	if (size > MP_HUGE_SIZE) {
		/* A 1 GiB page: a fresh (so zero) mapping each time, given
		 * back after the fill, so a filler never sits on a GiB */
		mp_bounce_free(b);
		page = mmap(NULL, size, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (page == MAP_FAILED)
			return -ENOMEM;
		b->mapped = true;
	} else if (posix_memalign(&page, 4096, size)) {
		return -ENOMEM;
	} else {
		mp_bounce_free(b);
	}
	b->page = page;
	b->size = size;
	return 0;
}

void mp_bounce_free(struct mp_worker_buf *b)
{
	if (b->mapped)
		munmap(b->page, b->size);
	else
		free(b->page);
	b->page = NULL;
	b->size = 0;
	b->mapped = false;
}

/* Drop a 1 GiB bounce buffer once its page is copied in. */
void mp_bounce_trim(struct mp_worker_buf *b)
{
	if (b->mapped)
		mp_bounce_free(b);
}

static void *page_addr(const struct mp_region *r, uint64_t idx)
{
	return r->base + idx * r->psize;
}

/* Claim page idx for filling: 0 when this thread now owns it (FILLING),
 * 1 when it is already resident (pinned now if pin), -errno when it cannot
 * be filled.  Called and returns with tp locked. */
static int fill_claim(struct mp_region *r, struct mp_tpage *tp, struct mp_pte *e,
		      uint64_t idx, bool pin)
{
	for (;;) {
		if (e->flags & MP_F_POISONED)	/* the store failed before */
			return -EHWPOISON;
		switch (e->state) {
		case MP_EMPTY:
			mp_pte_set(tp, e, MP_FILLING);
			return 0;
		case MP_CLEAN:
		case MP_DIRTY:
			if (pin && !(e->flags & MP_F_PINNED)) {
				e->flags |= MP_F_PINNED;
				atomic_fetch_add(&r->pager->pinned, mp_page_len(r, idx));
			}
			return 1;
		default:	/* FILLING, BUSY, EVICTING: someone else's */
			mp_tp_wait(tp);
		}
	}
}

/* Give page idx back as EMPTY after a failed fill. */
static void fill_abort(struct mp_region *r, struct mp_tpage *tp, struct mp_pte *e,
		       size_t len, bool poisoned)
{
	mp_tp_lock(tp);
	mp_pte_set(tp, e, MP_EMPTY);
	if (poisoned)
		e->flags |= MP_F_POISONED;
	mp_tp_wake(tp);
	mp_tp_unlock(tp);
	mp_buf_release(r->pager, len);
}

/* Make the faulting thread see SIGBUS: a poisoned page (Linux 6.6), whose
 * every later access raises SIGBUS in the kernel; before 6.6, SIGBUS sent
 * to the thread itself, which interrupts its wait for the fault.  With no
 * thread to send it to (a prefetch), the caller gets the error instead. */
static int raise_sigbus(struct mp_region *r, uint64_t idx, pid_t tid)
{
	struct mmp_pager *p = r->pager;
	int rc = -EOPNOTSUPP;

	if (p->features & MP_FEATURE_POISON) {
		rc = mp_uffd_poison(p->uffd, page_addr(r, idx), mp_page_len(r, idx));
		if (rc == 0)
			atomic_fetch_add_explicit(&p->n_poison, 1, RELAXED);
	} else if (tid > 0) {
		rc = syscall(SYS_tgkill, getpid(), tid, SIGBUS) < 0 ? -errno : 0;
	}
	if (rc < 0 && tid > 0)
		mp_log("mmpager: cannot raise SIGBUS for page %p (%s): the faulting "
		       "thread stays blocked", page_addr(r, idx), strerror(-rc));
	return rc;
}

/* The store failed: say why first, since the faulting thread may die as
 * soon as it gets SIGBUS. */
static void fill_failed(struct mp_region *r, uint64_t idx, size_t len, int rc,
			pid_t tid)
{
	struct mmp_pager *p = r->pager;

	atomic_fetch_add_explicit(&p->n_store_err, 1, RELAXED);
	mp_log("mmpager: %s store read of %zu bytes at offset %llu failed (%s); "
	       "page %p poisoned: access raises SIGBUS", r->store->kind, len,
	       (unsigned long long)(r->offset + idx * r->psize), strerror(-rc),
	       page_addr(r, idx));
	raise_sigbus(r, idx, tid);
}

int mp_fill_page(struct mp_region *r, uint64_t idx, bool write, bool pin,
		 struct mp_worker_buf *b)
{
	struct mmp_pager *p = r->pager;
	struct mp_tpage *tp = mp_ptab_get(&r->pt, idx);
	size_t len = mp_page_len(r, idx);
	struct mp_pte *e;
	bool zero, wp;
	int rc;

	if (!tp)
		return -ENOMEM;
	e = mp_pte_of(tp, idx);
	mp_tp_lock(tp);
	rc = fill_claim(r, tp, e, idx, pin);
	zero = r->store->zero_fresh && !(e->flags & MP_F_WRITTEN);
	mp_tp_unlock(tp);
	if (rc != 0)
		return rc;

	mp_buf_reserve(p, len);
	rc = mp_bounce_get(b, r->psize);
	if (rc == 0 && !zero) {
		rc = r->store->ops->read(r->store, b->page, len, r->offset + idx * r->psize);
		if (rc < 0) {
			mp_bounce_trim(b);
			fill_abort(r, tp, e, len, true);
			fill_failed(r, idx, len, rc, b->tid);
			return -EIO;
		}
		atomic_fetch_add_explicit(&p->n_rd_bytes, len, RELAXED);
	} else if (rc == 0 && !b->mapped) {	/* a fresh mapping is zero */
		memset(b->page, 0, len);
	}
	/* A write fault maps the page writable at once: it is dirty anyway,
	 * and that saves the write-protect fault that would follow. */
	wp = r->writable && !write;
	/* Counted before the copy wakes the faulting thread, so a program
	 * that reads its statistics after a touch sees the fill. */
	atomic_fetch_add_explicit(&p->n_fills, 1, RELAXED);
	if (zero)
		atomic_fetch_add_explicit(&p->n_zero, 1, RELAXED);
	if (rc == 0) {
		if (zero && !r->writable && !r->hugetlb)	/* no hugetlb ZEROPAGE */
			rc = mp_uffd_zeropage(p->uffd, page_addr(r, idx), len);
		else
			rc = mp_uffd_copy(p->uffd, page_addr(r, idx), b->page, len, wp);
		mp_bounce_trim(b);
		if (rc == -EEXIST) {	/* present after all: treat as dirty */
			wp = false;
			rc = 0;
		}
	}
	if (rc < 0) {
		atomic_fetch_sub_explicit(&p->n_fills, 1, RELAXED);
		if (zero)
			atomic_fetch_sub_explicit(&p->n_zero, 1, RELAXED);
		fill_abort(r, tp, e, len, false);
		return rc;
	}

	mp_tp_lock(tp);
	mp_pte_set(tp, e, (wp || !r->writable) ? MP_CLEAN : MP_DIRTY);
	if (pin)
		e->flags |= MP_F_PINNED;
	mp_tp_wake(tp);
	mp_tp_unlock(tp);
	if (pin)
		atomic_fetch_add(&p->pinned, len);
	else
		mp_lru_push(p, r, idx);
	return 0;
}

int mp_wp_fault(struct mp_region *r, uint64_t idx)
{
	struct mmp_pager *p = r->pager;
	struct mp_tpage *tp = mp_ptab_peek(&r->pt, idx);
	size_t len = mp_page_len(r, idx);
	struct mp_pte *e;
	int rc;

	if (!tp)
		return mp_uffd_wake(p->uffd, page_addr(r, idx), len);
	e = mp_pte_of(tp, idx);
	mp_tp_lock(tp);
	for (;;) {
		if (e->state == MP_CLEAN)
			break;
		if (e->state == MP_DIRTY || e->state == MP_EMPTY) {
			/* Already writable, or gone (the retry takes a missing
			 * fault and refills from the store). */
			mp_tp_unlock(tp);
			return mp_uffd_wake(p->uffd, page_addr(r, idx), len);
		}
		mp_tp_wait(tp);
	}
	mp_pte_set(tp, e, MP_BUSY);
	mp_tp_unlock(tp);

	rc = mp_uffd_wp(p->uffd, page_addr(r, idx), len, false);

	mp_tp_lock(tp);
	mp_pte_set(tp, e, rc == 0 ? MP_DIRTY : MP_CLEAN);
	mp_tp_wake(tp);
	mp_tp_unlock(tp);
	if (rc == 0)
		atomic_fetch_add_explicit(&p->n_wp, 1, RELAXED);
	return rc;
}

/* A missing fault that could not be filled for another reason than the
 * store (no memory for a table page, a UFFDIO_COPY error). */
static void fault_unserved(struct mp_region *r, uint64_t idx, int rc, pid_t tid)
{
	mp_log("mmpager: fault on page %p not served (%s); access raises SIGBUS",
	       page_addr(r, idx), strerror(-rc));
	raise_sigbus(r, idx, tid);
}

static void handle_fault(struct mmp_pager *p, const struct uffd_msg *m,
			 struct mp_worker_buf *b)
{
	uint64_t addr = m->arg.pagefault.address;
	uint64_t flags = m->arg.pagefault.flags;
	struct mp_region *r = mp_region_get(p, (void *)(uintptr_t)addr);
	uint64_t idx, npages;
	int rc;

	if (!r) {	/* a region being unmapped: let the thread retry */
		mp_uffd_wake(p->uffd, (void *)(uintptr_t)(addr & ~4095ull), 4096);
		return;
	}
	idx = (addr - (uintptr_t)r->base) / r->psize;
	if (flags & UFFD_PAGEFAULT_FLAG_WP) {
		rc = mp_wp_fault(r, idx);
		if (rc < 0 && rc != -ENOENT)
			mp_log("mmpager: write-protect fault at %p: %s",
			       (void *)(uintptr_t)addr, strerror(-rc));
		mp_region_put(r);
		return;
	}
	atomic_fetch_add_explicit(&p->n_faults, 1, RELAXED);
	b->tid = (pid_t)m->arg.pagefault.feat.ptid;
	rc = mp_fill_page(r, idx, flags & UFFD_PAGEFAULT_FLAG_WRITE, false, b);
	b->tid = 0;
	if (rc == 1)	/* filled meanwhile by someone else */
		mp_uffd_wake(p->uffd, r->base + idx * r->psize, mp_page_len(r, idx));
	else if (rc == -EHWPOISON && !(p->features & MP_FEATURE_POISON))
		/* an earlier store failure, not poisoned in the kernel */
		raise_sigbus(r, idx, (pid_t)m->arg.pagefault.feat.ptid);
	else if (rc < 0 && rc != -EIO && rc != -EHWPOISON && rc != -ENOENT)
		/* Never leave the thread waiting: SIGBUS, with the reason. */
		fault_unserved(r, idx, rc, (pid_t)m->arg.pagefault.feat.ptid);
	npages = mp_region_npages(r);
	for (unsigned i = 1; rc >= 0 && i <= p->cfg.read_ahead && idx + i < npages; i++)
		if (mp_fill_page(r, idx + i, false, false, b) < 0)
			break;
	mp_region_put(r);
}

struct filler {
	struct mmp_pager *p;
	int epfd;
};

static void *filler_main(void *arg)
{
	struct mmp_pager *p = arg;
	struct mp_worker_buf b = { 0 };
	size_t nmsg = p->cfg.max_fault_events ? p->cfg.max_fault_events : 1;
	struct uffd_msg *msgs = calloc(nmsg, sizeof(*msgs));
	struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.u32 = 0 };
	int epfd = epoll_create1(EPOLL_CLOEXEC);

	if (!msgs || epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, p->uffd, &ev) < 0) {
		mp_log("mmpager: filler thread cannot start: %s", strerror(errno));
		goto out;
	}
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u32 = 1 };
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, p->stop_fd, &ev) < 0)
		goto out;
	for (;;) {
		struct epoll_event got[2];
		ssize_t len = read(p->uffd, msgs, nmsg * sizeof(*msgs));
		bool stop = false;
		int n;

		if (len > 0) {	/* busy: read again before sleeping */
			for (size_t i = 0; i < (size_t)len / sizeof(*msgs); i++)
				if (msgs[i].event == UFFD_EVENT_PAGEFAULT)
					handle_fault(p, &msgs[i], &b);
			continue;
		}
		n = epoll_wait(epfd, got, 2, -1);
		for (int i = 0; i < n; i++)
			stop |= got[i].data.u32 == 1;
		if (stop)
			break;
	}
out:
	if (epfd >= 0)
		close(epfd);
	free(msgs);
	mp_bounce_free(&b);
	return NULL;
}

int mp_fillers_start(struct mmp_pager *p, struct ob_err *err)
{
	p->fillers = calloc(p->cfg.fillers, sizeof(*p->fillers));
	if (!p->fillers)
		return -ENOMEM;
	for (unsigned i = 0; i < p->cfg.fillers; i++) {
		int rc = pthread_create(&p->fillers[i], NULL, filler_main, p);

		if (rc)
			return -rc;
		p->nfillers++;
	}
	return 0;
}

void mp_fillers_stop(struct mmp_pager *p)
{
	uint64_t one = 1;

	if (p->nfillers && write(p->stop_fd, &one, sizeof(one)) != sizeof(one))
		mp_log("mmpager: cannot stop the filler threads: %s", strerror(errno));
	for (unsigned i = 0; i < p->nfillers; i++)
		pthread_join(p->fillers[i], NULL);
	free(p->fillers);
	p->fillers = NULL;
	p->nfillers = 0;
}
