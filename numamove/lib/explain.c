// SPDX-License-Identifier: MIT
/* explain.c - why a page stayed on its source node.
 *
 * The kernel's answer for a page is the move_pages(2) status, but spec 1.2
 * shows it cannot be taken alone: a group that failed to migrate leaves its
 * status slots unwritten (a held reference, e.g. vmsplice or O_DIRECT), THP
 * sub-pages report EBUSY although they moved, and EFAULT means "zero page"
 * as well as "special page".  So a reason is decided here from three facts,
 * in this order of precedence (the first that applies wins):
 *
 *   R1  the mapping can never move: [vdso]/[vvar]/VM_IO/PFNMAP -> special;
 *       a mapping too large to walk -> unscanned.
 *   R2  the page was never tried (it appeared after the scan) -> new; a
 *       policy that still points to the source is the usual cause.
 *   R3  a hugetlb mapping -> hugetlb (no free huge page on the target).
 *   R4  the last status: EACCES -> shared (needs MOVE_ALL), EFAULT -> zero
 *       page, ENOMEM -> target full, EIO/EINVAL -> filesystem cannot
 *       migrate, ENOENT -> new (was not present when tried).
 *   R5  EBUSY or no status at all: mlocked when the mapping is locked (the
 *       2005 reason; today mlocked pages do migrate, spec 1.7, so this only
 *       names what the page has), else busy (EBUSY) or pinned (no status:
 *       somebody holds a reference).
 * Verification (verify.c) only asks for a reason for pages that a re-query
 * found still on a source node.
 */
#include "nm-int.h"

#include <errno.h>

static const struct {
	const char *name;
	const char *text;
	bool failure;
} reasons[NM_R__COUNT] = {
	[NM_R_NONE] = { "moved", "moved", false },
	[NM_R_SHARED] = { "shared", "mapped by other processes; moving needs MOVE_ALL "
			  "(CAP_SYS_NICE)", true },
	[NM_R_MLOCKED] = { "mlocked", "in an mlocked mapping and busy", true },
	[NM_R_PINNED] = { "pinned", "a reference is held (GUP pin, vmsplice, O_DIRECT, "
			  "RDMA); the kernel gave no status", true },
	[NM_R_BUSY] = { "busy", "EBUSY after every retry (page locked or under I/O)", true },
	[NM_R_HUGETLB] = { "hugetlb", "hugetlb page; no free huge page on the target node",
			   true },
	[NM_R_ZERO] = { "zero-page", "the shared zero page (read, never written); nothing "
			"to move", false },
	[NM_R_SPECIAL] = { "special", "kernel-owned special mapping ([vdso], [vvar], VM_IO, "
			   "PFNMAP); never movable", false },
	[NM_R_NOMEM] = { "no-memory", "target node had no free memory (ENOMEM)", true },
	[NM_R_IO] = { "io", "dirty page the filesystem cannot migrate (EIO/EINVAL)", true },
	[NM_R_NEW] = { "new", "faulted in on a source node after the scan (the memory "
		       "policy still points there?)", true },
	[NM_R_UNSCANNED] = { "unscanned", "mapping too large to walk page by page", true },
	[NM_R_OTHER] = { "other", "unexpected status from move_pages", true },
};

const char *nm_reason_name(enum nm_reason r)
{
	return (unsigned int)r < NM_R__COUNT ? reasons[r].name : "?";
}

const char *nm_reason_text(enum nm_reason r)
{
	return (unsigned int)r < NM_R__COUNT ? reasons[r].text : "?";
}

bool nm_reason_is_failure(enum nm_reason r)
{
	return (unsigned int)r < NM_R__COUNT && reasons[r].failure;
}

enum nm_reason nm_classify(const struct nm_vma *v, const struct nm_page *pg, bool move_all)
{
	int st = pg->status;

	/* R1 */
	if (v->flags & (NM_VMA_SPECIAL | NM_VMA_IO))
		return NM_R_SPECIAL;
	if (v->flags & NM_VMA_SKIPPED)
		return NM_R_UNSCANNED;
	/* R2 */
	if (!pg->tries)
		return NM_R_NEW;
	/* R3 */
	if (v->flags & NM_VMA_HUGETLB)
		return NM_R_HUGETLB;
	/* R4 */
	switch (st) {
	case -EACCES:
		return move_all ? NM_R_OTHER : NM_R_SHARED;
	case -EFAULT:
		return NM_R_ZERO;
	case -ENOMEM:
		return NM_R_NOMEM;
	case -EIO:
	case -EINVAL:
		return NM_R_IO;
	case -ENOENT:
		return NM_R_NEW;
	case -EBUSY:
	case -EAGAIN:
	case NM_STATUS_UNSET:
		/* R5 */
		if (v->flags & NM_VMA_LOCKED)
			return NM_R_MLOCKED;
		return st == NM_STATUS_UNSET ? NM_R_PINNED : NM_R_BUSY;
	default:
		/* A node number: the kernel said "done" but the page is still
		 * on the source, i.e. it was moved back or re-faulted. */
		if (st >= 0)
			return NM_R_NEW;
		return NM_R_OTHER;
	}
}
