// SPDX-License-Identifier: MIT
/* move.c - the mover: batched move_pages(2) passes with retries.
 *
 * Why not migrate_pages(2): it holds the target's mmap_lock for the whole
 * job and returns only a count (spec 1.1).  move_pages takes the lock per
 * page, so the target only ever waits for one page's lookup (katalyst-core
 * cut block time "from minutes to milliseconds" this way).
 *
 * The job, with numbered steps the code cites:
 *
 *   M1  scan: every present page and its node (scan.c); a caller that
 *       checks the plan first moves it with nm_move_planned, so one scan
 *       serves both (a scan is the costly part at many mappings);
 *   M2  plan: page on source node s gets target map[s] (mask.c,
 *       migrate_pages semantics); special mappings are left out unless
 *       NM_F_SPECIAL, since they fail forever (spec 1.2);
 *   M3  pass 0 moves every planned page, "easy pages first": a batch of
 *       pages sorted by target so the kernel sees one group per target.
 *       Batch size follows the measured cost (nm_batch_next) so the part
 *       of a call that grows with its size stays near call_budget_us
 *       (default 1 s; 16,384 pages first, at most 65,536); the fixed part
 *       (lru_cache_disable) is not held against it, since a smaller batch
 *       cannot shrink it.  The budget sets how often we see progress (and
 *       how soon a signal stops us), not how long the target waits: the
 *       kernel takes the target's mmap_lock per page
 *       (add_page_for_migration) and migrates with it dropped, so the
 *       target's mmap/munmap wait for one page, not for our batch.  Every
 *       call pays the fixed part once, so calls are few and large: 50,000
 *       scattered pages took 60 calls at a 20 ms budget and 7 to 19 at
 *       200 ms in a TCG guest, for no shorter stall (issue 21);
 *   M4  after a pass, re-query the node of every page of that pass whose
 *       status is not its target; status[] errors are not the truth (THP
 *       sub-pages say EBUSY yet moved; a failed group writes no status).
 *       A page on its target is done; a page that is gone or elsewhere is
 *       no longer ours; EACCES and EFAULT are final;
 *   M5  pages still on a source are retried after a back-off of
 *       backoff_ms * 2^(pass-1) (10, 20, 40, ... ms, the 2005 "wait on
 *       locked pages" in user space), up to `retries` passes;
 *   M6  verify (verify.c): a fresh scan of the whole process, so pages that
 *       appeared meanwhile are seen too, and reasons for what stayed.
 *
 * Whole-call errors stop the job: ESRCH (exited), EPERM (ptrace, or
 * MOVE_ALL without CAP_SYS_NICE), EACCES (target outside the cpuset),
 * EINVAL/ENODEV (node without memory).  ENOMEM from a call only marks that
 * batch: what fit has moved and the re-query says which.
 */
#include "nm-int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void nm_move_opts_init(struct nm_move_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->retries = 5;
	o->call_budget_us = 1000000;
	o->backoff_ms = 10;
	o->batch_min = 512;
	o->batch_max = 65536;
	o->batch_first = 16384;
}

unsigned int nm_batch_next(const struct nm_move_opts *o, unsigned int n, uint64_t us,
			   uint64_t fixed_us)
{
	uint64_t next, var;

	/* Every call pays a fixed cost whatever its size: move_pages(2)
	 * starts with lru_cache_disable(), an expedited RCU grace period and
	 * a drain on every CPU (measured: up to ~100 ms in a TCG guest whose
	 * CPUs are busy), none of it under the target's mmap_lock.  Only the
	 * part that grows with n is held against the budget; shrinking the
	 * batch below that would only multiply the fixed cost. */
	var = us > fixed_us ? us - fixed_us : 1;
	next = (uint64_t)n * o->call_budget_us / var;
	/* At most double per call: one fast call (all pages already there)
	 * must not make the next one huge. */
	if (next > 2ULL * n)
		next = 2ULL * n;
	if (next < o->batch_min)
		next = o->batch_min;
	if (next > o->batch_max)
		next = o->batch_max;
	return (unsigned int)next;
}

struct mover {
	const struct nm_sys *sys;
	const struct nm_move_opts *o;
	struct nm_report *rep;
	struct nm_proc *p;
	int flags;
	unsigned int batch;
	uint64_t fixed_us;		/* shortest call so far: the fixed cost */
	size_t *idx;			/* pages of the current pass */
	void **addrs;
	int *nodes, *status;
	uint64_t t0;
	uint64_t bytes_done;
};

/* Is page pg still to be moved (on a source node, not final)? */
static bool page_pending(const struct nm_page *pg)
{
	if (pg->target < 0 || pg->node < 0 || pg->node == pg->target)
		return false;
	if (pg->tries && (pg->status == -EACCES || pg->status == -EFAULT))
		return false;
	return true;
}

static int cmp_target(const void *a, const void *b, void *arg)
{
	const struct nm_page *pages = arg;
	const struct nm_page *x = &pages[*(const size_t *)a], *y = &pages[*(const size_t *)b];

	if (x->target != y->target)
		return x->target - y->target;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* Already in cmp_target order?  With one target node (the usual move) the
 * pages are, being in address order, and a check is one comparison a page
 * where glibc's merge sort makes ~16 at 50,000 pages, under emulation a
 * visible part of the move phase. */
static bool by_target(const size_t *idx, size_t n, const struct nm_page *pages)
{
	for (size_t i = 1; i < n; i++)
		if (cmp_target(&idx[i - 1], &idx[i], (void *)pages) > 0)
			return false;
	return true;
}

static int call_error(struct mover *m, long rc, unsigned int n, struct ob_err *err)
{
	pid_t pid = m->p->pid;

	/* A target torn down while we worked answers EINVAL (no mm). */
	if (rc != -ESRCH && nm_proc_gone(NULL, pid))
		rc = -ESRCH;
	switch (rc) {
	case -ESRCH:
		return ob_err_set(err, -ESRCH, "process %d exited during the move", pid);
	case -EPERM:
		if (m->flags & NM_MPOL_MF_MOVE_ALL)
			return ob_err_set(err, -EPERM, "process %d: moving shared pages "
					  "(MOVE_ALL) needs CAP_SYS_NICE", pid);
		return ob_err_set(err, -EPERM, "process %d: not permitted (ptrace access rules)",
				  pid);
	case -EACCES:
		return ob_err_set(err, -EACCES, "process %d: a target node is outside its "
				  "cpuset (Mems_allowed)", pid);
	case -EINVAL:
	case -ENODEV:
		return ob_err_set(err, (int)rc, "process %d: a target node is offline or has no "
				  "memory", pid);
	default:
		return ob_err_set(err, (int)rc, "move_pages of process %d (%u pages)", pid, n);
	}
}

static void progress(struct mover *m, unsigned int pass)
{
	struct nm_progress pr;

	if (!m->o->progress)
		return;
	pr.bytes_done = m->bytes_done;
	pr.bytes_total = m->rep->bytes_candidate;
	pr.pass = pass;
	pr.elapsed_s = (double)(nm_now_us() - m->t0) / 1e6;
	m->o->progress(m->o->progress_arg, &pr);
}

/* M3: one batch of n pages starting at m->idx[first]. */
static int move_batch(struct mover *m, size_t first, unsigned int n, struct ob_err *err)
{
	struct nm_page *pages = m->p->pages;
	uint64_t t, us;
	long rc;

	for (unsigned int j = 0; j < n; j++) {
		struct nm_page *pg = &pages[m->idx[first + j]];

		m->addrs[j] = (void *)pg->addr;
		m->nodes[j] = pg->target;
		m->status[j] = NM_STATUS_UNSET;
	}
	t = nm_now_us();
	rc = m->sys->move_pages(m->sys->priv, m->p->pid, n, m->addrs, m->nodes, m->status,
				m->flags);
	us = nm_now_us() - t;
	m->rep->calls++;
	if (us > m->rep->longest_call_us)
		m->rep->longest_call_us = us;
	if (rc < 0 && rc != -ENOMEM)
		return call_error(m, rc, n, err);
	for (unsigned int j = 0; j < n; j++) {
		struct nm_page *pg = &pages[m->idx[first + j]];

		pg->status = rc == -ENOMEM && m->status[j] == NM_STATUS_UNSET ? -ENOMEM
									     : m->status[j];
		if (pg->tries < 255)
			pg->tries++;
		if (pg->status == pg->target)
			m->bytes_done += nm_page_bytes(m->p, pg);
	}
	if (us < m->fixed_us)
		m->fixed_us = us;
	m->batch = nm_batch_next(m->o, n, us, m->fixed_us);
	return 0;
}

/* M4: re-query the pages of the pass the kernel did not report moved, and
 * settle each page.  A status naming the target is written only after the
 * page's group migrated, so it is believed (M6 checks every page anyway);
 * error statuses and unwritten ones are not. */
static int settle(struct mover *m, size_t n, struct ob_err *err)
{
	struct nm_page *pages = m->p->pages;
	struct nm_page *tmp;
	size_t *which, k = 0;
	int rc;

	tmp = malloc(n * (sizeof(*tmp) + sizeof(*which)));
	if (!tmp)
		return ob_err_set(err, -ENOMEM, "re-query of %zu pages", n);
	which = (size_t *)(tmp + n);
	for (size_t i = 0; i < n; i++) {
		struct nm_page *pg = &pages[m->idx[i]];

		if (pg->status == pg->target) {
			pg->node = pg->target;
			continue;
		}
		which[k] = m->idx[i];
		tmp[k++] = *pg;
	}
	rc = nm_query_nodes(m->sys, m->p->pid, tmp, k, err);
	if (rc)
		goto out;
	m->bytes_done = 0;
	for (size_t i = 0; i < k; i++) {
		struct nm_page *pg = &pages[which[i]];

		if (tmp[i].node == pg->target)
			m->rep->bogus_status++;
		pg->node = tmp[i].node;
	}
	for (size_t i = 0; i < m->p->nr_pages; i++) {
		struct nm_page *pg = &pages[i];

		if (pg->target >= 0 && pg->node == pg->target)
			m->bytes_done += nm_page_bytes(m->p, pg);
	}
out:
	free(tmp);
	return rc;
}

/* M3-M5 over the planned pages of p (pg->target >= 0). */
int nm_move_pages(struct nm_proc *p, const struct nm_sys *sys, const struct nm_move_opts *o,
		  struct nm_report *rep, struct ob_err *err)
{
	struct mover m = {
		.sys = sys, .o = o, .rep = rep, .p = p,
		.flags = NM_MPOL_MF_MOVE | (o->flags & NM_F_MOVE_ALL ? NM_MPOL_MF_MOVE_ALL : 0),
		.batch = o->batch_first ? o->batch_first : 256,
		.t0 = nm_now_us(),
		.fixed_us = UINT64_MAX,
	};
	unsigned int bmax = o->batch_max ? o->batch_max : 16384;
	int rc = 0;

	m.idx = malloc(p->nr_pages * sizeof(*m.idx) + 1);
	m.addrs = malloc(bmax * sizeof(*m.addrs));
	m.nodes = malloc(bmax * sizeof(*m.nodes));
	m.status = malloc(bmax * sizeof(*m.status));
	if (!m.idx || !m.addrs || !m.nodes || !m.status) {
		rc = ob_err_set(err, -ENOMEM, "move buffers for %zu pages", p->nr_pages);
		goto out;
	}
	for (unsigned int pass = 0; pass <= o->retries; pass++) {
		size_t n = 0;

		for (size_t i = 0; i < p->nr_pages; i++)
			if (page_pending(&p->pages[i]))
				m.idx[n++] = i;
		if (!n)
			break;
		if (pass > 0) {
			/* M5 */
			unsigned int ms = o->backoff_ms << (pass - 1 < 10 ? pass - 1 : 10);

			usleep(ms * 1000);
		}
		rep->passes = pass + 1;
		if (!by_target(m.idx, n, p->pages))
			qsort_r(m.idx, n, sizeof(*m.idx), cmp_target, p->pages);
		for (size_t i = 0; i < n;) {
			unsigned int k = m.batch;

			if (k > bmax)
				k = bmax;
			if (k > n - i)
				k = (unsigned int)(n - i);
			rc = move_batch(&m, i, k, err);
			if (rc)
				goto out;
			i += k;
			progress(&m, pass);
		}
		rc = settle(&m, n, err);	/* M4 */
		if (rc)
			goto out;
		progress(&m, pass);
	}
out:
	rep->batch_last = m.batch;
	free(m.status);
	free(m.nodes);
	free(m.addrs);
	free(m.idx);
	return rc;
}

/* M2: give each page on a source node its target; fill in the plan. */
static void plan(struct nm_proc *p, const int *map, const struct nm_move_opts *o,
		 struct nm_report *rep)
{
	for (size_t i = 0; i < p->nr_pages; i++) {
		struct nm_page *pg = &p->pages[i];
		const struct nm_vma *v = &p->vmas[pg->vma];
		uint64_t bytes = v->pagesize;

		pg->target = -1;
		if (pg->node < 0 || pg->node >= NM_MASK_BITS || map[pg->node] < 0)
			continue;
		if ((v->flags & (NM_VMA_SPECIAL | NM_VMA_IO)) && !(o->flags & NM_F_SPECIAL))
			continue;
		pg->target = (int16_t)map[pg->node];
		rep->bytes_candidate += bytes;
		rep->bytes_per_target[pg->target] += bytes;
		if (!(pg->pm & NM_PM_EXCLUSIVE))
			rep->shared_pages++;
	}
}

void nm_report_free(struct nm_report *rep)
{
	nm_proc_close(&rep->proc);
	free(rep->res);
	rep->res = NULL;
	rep->nr_res = 0;
}

int nm_move(const struct nm_host *h, const struct nm_sys *sys, pid_t pid,
	    const struct nm_move_opts *o, struct nm_report *rep, struct ob_err *err)
{
	uint64_t t0 = nm_now_us();
	int *map;
	int rc;

	memset(rep, 0, sizeof(*rep));
	rep->pid = pid;
	rep->started_us = t0;
	if (!sys)
		sys = &nm_sys_default;
	map = malloc(NM_MASK_BITS * sizeof(*map));
	if (!map)
		return ob_err_set(err, -ENOMEM, "node map");
	rc = nm_nodemap_build(&o->from, &o->to, map, err);
	if (rc)
		goto out;
	/* Counters before the job; nm_move_planned turns them into deltas. */
	nm_host_vmstat_migrate(h, &rep->vm_success, &rep->vm_fail);
	rc = nm_proc_open_lean(&rep->proc, h, pid, o->numa_maps_max, err);	/* M1 */
	if (rc)
		goto out;
	rc = nm_proc_scan_pages(&rep->proc, h, sys, err);
	if (rc)
		goto out;
	rep->scan_us = nm_now_us() - t0;
	plan(&rep->proc, map, o, rep);			/* M2 */
	if (o->flags & NM_F_DRY_RUN)
		goto out;
	free(map);
	return nm_move_planned(h, sys, o, rep, err);
out:
	rep->elapsed_s = (double)(nm_now_us() - t0) / 1e6;
	free(map);
	return rc;
}

int nm_move_planned(const struct nm_host *h, const struct nm_sys *sys,
		    const struct nm_move_opts *o, struct nm_report *rep, struct ob_err *err)
{
	uint64_t vs0 = rep->vm_success, vf0 = rep->vm_fail, vs1, vf1, t = nm_now_us();
	int rc;

	if (!sys)
		sys = &nm_sys_default;
	rep->vm_success = rep->vm_fail = 0;
	rc = nm_move_pages(&rep->proc, sys, o, rep, err);	/* M3-M5 */
	rep->move_us = nm_now_us() - t;
	if (!rc) {
		t = nm_now_us();
		rc = nm_verify(h, sys, o, rep, err);		/* M6 */
		rep->verify_us = nm_now_us() - t;
	}
	if (!rc && !nm_host_vmstat_migrate(h, &vs1, &vf1)) {
		rep->vm_success = vs1 - vs0;
		rep->vm_fail = vf1 - vf0;
	}
	rep->elapsed_s = (double)(nm_now_us() - rep->started_us) / 1e6;
	return rc;
}
