// SPDX-License-Identifier: MIT
/* verify.c - never trust the return value: look again and explain.
 *
 * After the passes (move.c M6) we scan the process again: mappings may have
 * come and gone, and pages may have been faulted in on a source node while
 * we worked (a bind policy pointing back does that).  Every page is looked
 * up afresh; numa_maps is read again only when the mappings changed or a
 * policy was moved (nm_proc_reopen), as it costs most at many mappings.
 * After a lean scan (many mappings, nm_proc_open_lean) maps is not read
 * again either: the scan's mappings are walked afresh, so pages that came
 * or went in them are seen, but a mapping made during the move is not
 * (issue 21: maps was half of the verification at 50,000 mappings).  The
 * fresh scan is merged with the old one by address (both are sorted) so a
 * page keeps the status and try count of its last move, then every page
 * still on a source node gets a reason (explain.c) and is added to a residue
 * group (mapping, reason, node).
 *
 * Totals, all in bytes (a hugetlb entry counts its whole huge page):
 *   moved    planned pages now on their target node;
 *   left     on a source node for a reason that is a failure;
 *   ignored  on a source node but never movable (special mapping), plus
 *            zero pages (no node of their own);
 *   gone     planned pages no longer present (unmapped, freed, swapped).
 */
#include "nm-int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int residue_add(struct nm_report *rep, size_t *cap, uint32_t vma, enum nm_reason r,
		       int node, const struct nm_page *pg, uint64_t pages)
{
	struct nm_residue *x;

	/* Pages come in address order, so a match is among the last few. */
	for (size_t i = rep->nr_res; i-- > 0 && rep->res[i].vma == vma;) {
		x = &rep->res[i];
		if (x->reason == r && x->node == node) {
			x->pages += pages;
			return 0;
		}
	}
	if (rep->nr_res == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct nm_residue *n = realloc(rep->res, ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		rep->res = n;
		*cap = ncap;
	}
	x = &rep->res[rep->nr_res++];
	x->vma = vma;
	x->reason = r;
	x->node = node;
	x->last_status = pg->status;
	x->pages = pages;
	x->first_addr = pg->addr;
	return 0;
}

int nm_verify(const struct nm_host *h, const struct nm_sys *sys, const struct nm_move_opts *o,
	      struct nm_report *rep, struct ob_err *err)
{
	struct nm_proc fresh, *old = &rep->proc;
	size_t cap = 0, j = 0;
	int *map;
	int rc;

	map = malloc(NM_MASK_BITS * sizeof(*map));
	if (!map)
		return ob_err_set(err, -ENOMEM, "node map");
	rc = nm_nodemap_build(&o->from, &o->to, map, err);
	if (rc)
		goto out_map;
	rc = nm_proc_reopen(&fresh, old, h, o->flags & NM_F_POLICY_MOVED, err);
	if (rc)
		goto out_map;
	rc = nm_proc_scan_pages(&fresh, h, sys, err);
	if (rc)
		goto out_fresh;
	/* Reasons need smaps' flags (mlocked, VM_IO); only read it when a page
	 * is still on a source node, or has no node outside an anonymous
	 * mapping (the zero page is the only such page of those). */
	for (size_t i = 0; i < fresh.nr_pages; i++) {
		const struct nm_vma *v = &fresh.vmas[fresh.pages[i].vma];
		int node = fresh.pages[i].node;

		if (v->flags & NM_VMA_SPECIAL)
			continue;	/* [vdso]: "special" whatever smaps says */
		if ((node >= 0 && node < NM_MASK_BITS && map[node] >= 0) ||
		    (node == -EFAULT && !nm_vma_may_hold_zero_pages(v))) {
			rc = nm_proc_read_smaps(&fresh, h, err);
			if (rc)
				goto out_fresh;
			break;
		}
	}

	free(rep->res);
	rep->res = NULL;
	rep->nr_res = 0;
	rep->bytes_moved = rep->bytes_left = rep->bytes_ignored = rep->bytes_gone = 0;

	/* Planned pages of the old scan: moved, or gone? */
	for (size_t i = 0; i < old->nr_pages; i++) {
		const struct nm_page *pg = &old->pages[i];

		if (pg->target < 0)
			continue;
		while (j < fresh.nr_pages && fresh.pages[j].addr < pg->addr)
			j++;
		if (j == fresh.nr_pages || fresh.pages[j].addr != pg->addr ||
		    fresh.pages[j].node < 0) {
			rep->bytes_gone += nm_page_bytes(old, pg);
			continue;
		}
		if (fresh.pages[j].node == pg->target)
			rep->bytes_moved += nm_page_bytes(old, pg);
	}

	/* Everything still on a source node in the fresh scan. */
	j = 0;
	for (size_t i = 0; i < fresh.nr_pages; i++) {
		struct nm_page *pg = &fresh.pages[i];
		const struct nm_vma *v = &fresh.vmas[pg->vma];
		uint64_t base = v->pagesize / 4096 ? v->pagesize / 4096 : 1;
		enum nm_reason r;
		int node = pg->node;

		while (j < old->nr_pages && old->pages[j].addr < pg->addr)
			j++;
		if (j < old->nr_pages && old->pages[j].addr == pg->addr) {
			pg->status = old->pages[j].status;
			pg->tries = old->pages[j].tries;
			pg->target = old->pages[j].target;
		}
		if (node == -EFAULT && (pg->pm & NM_PM_PRESENT) && nm_vma_may_hold_zero_pages(v)) {
			r = NM_R_ZERO;
			node = -1;
		} else if (node < 0 || node >= NM_MASK_BITS || map[node] < 0) {
			continue;
		} else {
			r = nm_classify(v, pg, o->flags & NM_F_MOVE_ALL);
		}
		if (nm_reason_is_failure(r))
			rep->bytes_left += v->pagesize;
		else
			rep->bytes_ignored += v->pagesize;
		rc = residue_add(rep, &cap, pg->vma, r, node, pg, base);
		if (rc) {
			ob_err_set(err, rc, "residue list");
			goto out_fresh;
		}
	}
	/* Mappings we could not walk hold pages we cannot vouch for. */
	for (size_t i = 0; i < fresh.nr_vmas; i++) {
		struct nm_page fake = { .addr = fresh.vmas[i].start, .status = NM_STATUS_UNSET };

		if (!(fresh.vmas[i].flags & NM_VMA_SKIPPED))
			continue;
		rep->bytes_left += fresh.vmas[i].nm_pages * 4096;
		rc = residue_add(rep, &cap, (uint32_t)i, NM_R_UNSCANNED, -1, &fake,
				 fresh.vmas[i].nm_pages);
		if (rc) {
			ob_err_set(err, rc, "residue list");
			goto out_fresh;
		}
	}
	/* The report now describes the fresh scan. */
	nm_proc_close(old);
	*old = fresh;
	free(map);
	return 0;

out_fresh:
	nm_proc_close(&fresh);
out_map:
	free(map);
	return rc;
}
