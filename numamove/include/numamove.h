/* SPDX-License-Identifier: MIT */
/* numamove.h - the one public header of libnumamove.
 *
 * libnumamove moves the memory of a running process between NUMA nodes and
 * says exactly what did not move (issue 9; spec ../shared/spec/memory.md
 * sections 1.2, 1.7 and 1.8).  The pieces, one per file in lib/:
 *
 *   mask.c     node and CPU masks: parse "0-2,5", format, migrate_pages-style
 *              node remapping (spec 1.1: several nodes keep their layout)
 *   nodes.c    the host: online nodes, free memory, CPUs of a node, balancing
 *   scan.c     one process: its mappings (maps + numa_maps), its present
 *              pages (pagemap) and the node of each page (move_pages query)
 *   move.c     the mover: batched move_pages passes with retries (the state
 *              machine is described at the top of move.c)
 *   explain.c  why a page stayed: status + mapping -> enum nm_reason
 *   verify.c   re-query after moving and group what stayed into residues
 *   policy.c   memory policies (numa_maps) and the cgroup-v2 cpuset rebind
 *   sys.c      the syscall table (sqlite's aSyscall idea) so tests inject
 *              faults into move_pages
 *
 * Contract for every function below: it returns 0 (or a count) on success
 * and a negative errno on failure, fills *err (which may be NULL) with a
 * one-line reason, never prints and never exits.  "On error nothing is
 * allocated" unless stated: objects filled in on failure are released.
 */
#ifndef NUMAMOVE_H
#define NUMAMOVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "ob/err.h"

/* ------------------------------------------------------------------ masks */

#define NM_MASK_BITS	4096	/* nodes and CPUs; the kernel's MAX_NUMNODES is 1024 */
#define NM_LONG_BITS	(8 * sizeof(unsigned long))

struct nm_mask {
	unsigned long bits[NM_MASK_BITS / (8 * sizeof(unsigned long))];
};

static inline void nm_mask_zero(struct nm_mask *m)
{
	for (size_t i = 0; i < sizeof(m->bits) / sizeof(m->bits[0]); i++)
		m->bits[i] = 0;
}

static inline void nm_mask_set(struct nm_mask *m, int bit)
{
	m->bits[bit / NM_LONG_BITS] |= 1UL << (bit % NM_LONG_BITS);
}

static inline void nm_mask_clear(struct nm_mask *m, int bit)
{
	m->bits[bit / NM_LONG_BITS] &= ~(1UL << (bit % NM_LONG_BITS));
}

static inline bool nm_mask_isset(const struct nm_mask *m, int bit)
{
	if (bit < 0 || bit >= NM_MASK_BITS)
		return false;
	return m->bits[bit / NM_LONG_BITS] >> (bit % NM_LONG_BITS) & 1;
}

/* Number of set bits.  Cannot fail. */
int nm_mask_weight(const struct nm_mask *m);
/* First set bit at or after bit, or -1.  Cannot fail. */
int nm_mask_next(const struct nm_mask *m, int bit);
/* Bit i of out = a & ~b (andnot), a | b (or), a & b (and).  Cannot fail. */
void nm_mask_andnot(struct nm_mask *out, const struct nm_mask *a, const struct nm_mask *b);
void nm_mask_or(struct nm_mask *out, const struct nm_mask *a, const struct nm_mask *b);
void nm_mask_and(struct nm_mask *out, const struct nm_mask *a, const struct nm_mask *b);
bool nm_mask_equal(const struct nm_mask *a, const struct nm_mask *b);
bool nm_mask_subset(const struct nm_mask *sub, const struct nm_mask *super);

#define nm_mask_for_each(bit, m) \
	for ((bit) = nm_mask_next((m), 0); (bit) >= 0; (bit) = nm_mask_next((m), (bit) + 1))

/* Parse a kernel list ("0", "0-3,8", "1,3-4", "" is empty; spaces and a
 * trailing newline are allowed).  -EINVAL with the offending text in *err;
 * *m is unspecified then. */
int nm_mask_parse(const char *s, struct nm_mask *m, struct ob_err *err);

/* Format as a kernel list ("0-3,8"); "" when empty.  Returns the length, or
 * -ENOSPC when buf is too small (buf then holds a truncated string). */
int nm_mask_format(const struct nm_mask *m, char *buf, size_t len);

/* migrate_pages(2) semantics (mm/mempolicy.c do_migrate_pages and
 * node_remap): source node s in from goes to the (ord(s) mod |to|)-th node
 * of to; when |from| != |to| a source that is also in to stays put.  map[s]
 * is the target of s or -1 (not moved).  map has NM_MASK_BITS entries.
 * -EINVAL when from or to is empty. */
int nm_nodemap_build(const struct nm_mask *from, const struct nm_mask *to, int *map,
		     struct ob_err *err);

/* ------------------------------------------------------------------ host */

/* Where /sys and /proc are; root "" is the real machine, tests point it at a
 * fake tree. */
struct nm_host {
	const char *root;
};

/* Online nodes with memory (N_MEMORY: has_memory, else online). */
int nm_host_nodes(const struct nm_host *h, struct nm_mask *nodes, struct ob_err *err);
/* MemTotal and MemFree of a node in KiB. -ENOENT for an unknown node. */
int nm_host_node_mem(const struct nm_host *h, int node, uint64_t *total_kb,
		     uint64_t *free_kb, struct ob_err *err);
/* Memory a migration to node may still take, in KiB: per zone, the free
 * pages above the min watermark (+ boost) and the lowmem reserve, from
 * /proc/zoneinfo.  The kernel fails migrations with ENOMEM below that line,
 * so this, not MemFree, predicts "target full" (issue 21; measured in a
 * 512 MiB guest node: min was 22 MiB).  Page cache the kernel could reclaim
 * is not counted.  -ENOENT for an unknown node. */
int nm_host_node_avail(const struct nm_host *h, int node, uint64_t *avail_kb,
		       struct ob_err *err);
/* CPUs of a node (nodeN/cpulist). */
int nm_host_node_cpus(const struct nm_host *h, int node, struct nm_mask *cpus,
		      struct ob_err *err);
/* Nodes whose CPUs intersect cpus. */
int nm_host_cpus_to_nodes(const struct nm_host *h, const struct nm_mask *cpus,
			  struct nm_mask *nodes, struct ob_err *err);
/* Distance from a to b (nodeA/distance); -ENOENT when unknown. */
int nm_host_distance(const struct nm_host *h, int a, int b, struct ob_err *err);
/* kernel.numa_balancing: 0 off, 1 normal, 2 tiering, 3 both; -ENOENT when
 * the kernel has no NUMA balancing. */
int nm_host_numa_balancing(const struct nm_host *h);
/* pgmigrate_success and pgmigrate_fail from /proc/vmstat (sub-pages). */
int nm_host_vmstat_migrate(const struct nm_host *h, uint64_t *success, uint64_t *fail);

/* ------------------------------------------------------------------ syscalls */

/* Every system call that moves or queries pages goes through this table so
 * unit tests can return EBUSY, positive counts with unwritten statuses, or
 * whole-call errors (style.md habit 10).  nm_sys_default is the real thing. */
struct nm_sys {
	long (*move_pages)(void *priv, int pid, unsigned long count, void **pages,
			   const int *nodes, int *status, int flags);
	void *priv;
};
extern const struct nm_sys nm_sys_default;

/* ------------------------------------------------------------------ scan */

/* nm_vma.flags: from smaps VmFlags, the perms column and the name. */
#define NM_VMA_LOCKED	0x0001	/* lo: mlocked */
#define NM_VMA_SHARED	0x0002	/* MAP_SHARED (perms 's') */
#define NM_VMA_IO	0x0004	/* io or pf: VM_IO / VM_PFNMAP, never movable */
#define NM_VMA_HUGETLB	0x0008	/* ht: hugetlbfs */
#define NM_VMA_SPECIAL	0x0010	/* [vdso] [vvar] [vsyscall] [vectors]: kernel pages */
#define NM_VMA_FILE	0x0020	/* backed by a file */
#define NM_VMA_HEAP	0x0040
#define NM_VMA_STACK	0x0080
#define NM_VMA_NOHUGE	0x0100	/* nh: MADV_NOHUGEPAGE */
#define NM_VMA_HUGEPAGE	0x0200	/* hg: MADV_HUGEPAGE */
#define NM_VMA_SKIPPED	0x0400	/* too large to walk page by page (see scan.c) */

#define NM_POLICY_LEN	64

struct nm_vma {
	unsigned long start, end;
	unsigned long pagesize;		/* KernelPageSize in bytes */
	unsigned int flags;		/* NM_VMA_* */
	char perms[5];
	char policy[NM_POLICY_LEN];	/* numa_maps policy: "default", "bind:0", ... */
	char *name;			/* path or [heap]; "" for anonymous */
	uint64_t nm_pages;		/* pages numa_maps counts on any node */
	uint64_t rss_kb;		/* smaps Rss */
};

/* One present page (or one huge page of a hugetlb mapping). */
struct nm_page {
	unsigned long addr;
	uint32_t vma;			/* index in nm_proc.vmas */
	uint16_t pm;			/* NM_PM_* from pagemap */
	int16_t target;			/* node we want it on, -1 = leave */
	int node;			/* last known node, or -errno from the query */
	int status;			/* last move status (see NM_STATUS_UNSET) */
	uint8_t tries;
};

#define NM_PM_PRESENT	0x1
#define NM_PM_SWAPPED	0x2
#define NM_PM_EXCLUSIVE	0x4	/* mapped by exactly one process (bit 56) */
#define NM_PM_FILE	0x8	/* file page or shared anon (bit 61) */

/* move_pages leaves status[] alone for a group that failed to migrate
 * (spec 1.2), so every slot is pre-filled with this value. */
#define NM_STATUS_UNSET	(-0x7fff0000)

struct nm_proc {
	pid_t pid;
	char comm[64];
	struct nm_mask mems_allowed;	/* cpuset limit on target nodes */
	struct nm_mask cpus_allowed;	/* main thread */
	uid_t uid;
	struct nm_vma *vmas;
	size_t nr_vmas;
	struct nm_page *pages;		/* present pages, by address */
	size_t nr_pages;
	uint64_t hugetlb_kb;		/* status' HugetlbPages, UINT64_MAX if absent */
	bool lean;			/* numa_maps not read (nm_proc_open_lean) */
};

/* Read /proc/PID/{maps,numa_maps,status}.  -ESRCH when the process does not
 * exist or has exited, -EACCES/-EPERM when ptrace rules forbid reading it.
 * The VmFlags only smaps has (mlocked, VM_IO/PFNMAP, THP advice) and Rss
 * are left out; nm_proc_read_smaps adds them. */
int nm_proc_open(struct nm_proc *p, const struct nm_host *h, pid_t pid, struct ob_err *err);
/* nm_proc_open that leaves numa_maps out for a process of more than
 * numa_maps_max mappings (0: never leaves it out).  At 50,000 mappings the
 * kernel takes as long to format numa_maps as migrate_pages(2) takes for
 * the whole move (issue 21), and only the policies need it, for warnings.
 * It is still read when what only it says is needed: the size of hugetlb
 * pages (status' HugetlbPages is not 0) and the page count of a mapping too
 * large to walk.  Left out, p->lean is set, every policy reads "?" and
 * every mapping is walked. */
int nm_proc_open_lean(struct nm_proc *p, const struct nm_host *h, pid_t pid,
		      size_t numa_maps_max, struct ob_err *err);
/* Add smaps' VmFlags, KernelPageSize and Rss to p's mappings (those whose
 * range is unchanged).  smaps costs as much as the rest of a scan at many
 * mappings, so callers read it only when they need it. */
int nm_proc_read_smaps(struct nm_proc *p, const struct nm_host *h, struct ob_err *err);
/* Fill p->pages with every present page (pagemap) and its node (query).
 * VMAs with NM_VMA_SPECIAL or NM_VMA_IO are included (so they can be
 * reported), VMAs larger than NM_SCAN_MAX_BYTES that numa_maps says hold
 * pages are marked NM_VMA_SKIPPED instead of walked. */
#define NM_SCAN_MAX_BYTES	(64ULL << 30)
int nm_proc_scan_pages(struct nm_proc *p, const struct nm_host *h, const struct nm_sys *sys,
		       struct ob_err *err);
void nm_proc_close(struct nm_proc *p);

/* Query the node of n pages (move_pages with nodes == NULL) in batches;
 * pages[i].node receives the node or -errno.  Returns 0 or a whole-call
 * -errno (e.g. -ESRCH when the process exited). */
int nm_query_nodes(const struct nm_sys *sys, pid_t pid, struct nm_page *pages, size_t n,
		   struct ob_err *err);

/* Parsers, public for unit tests.  nm_smaps_parse reads an smaps stream and
 * appends VMAs; nm_numa_maps_parse merges policies and page counts into
 * VMAs matched by start address. */
int nm_smaps_parse(FILE *f, struct nm_vma **vmas, size_t *nr, struct ob_err *err);
int nm_numa_maps_parse(FILE *f, struct nm_vma *vmas, size_t nr, struct ob_err *err);
/* One numa_maps line: start address, policy, and per-node counts into
 * counts[] (NM_MASK_BITS entries, may be NULL). */
int nm_numa_maps_line(const char *line, unsigned long *start, char *policy, size_t plen,
		      uint64_t *counts, uint64_t *kpagesize);
void nm_vmas_free(struct nm_vma *vmas, size_t nr);

/* ------------------------------------------------------------------ reasons */

enum nm_reason {
	NM_R_NONE = 0,		/* moved or already on a target node */
	NM_R_SHARED,		/* EACCES: mapped by other processes, no MOVE_ALL right */
	NM_R_MLOCKED,		/* stayed, in an mlocked mapping */
	NM_R_PINNED,		/* held reference (GUP pin, vmsplice, O_DIRECT): no status */
	NM_R_BUSY,		/* EBUSY after every retry */
	NM_R_HUGETLB,		/* a hugetlb page that found no huge page on the target */
	NM_R_ZERO,		/* the shared zero page (EFAULT on a present page) */
	NM_R_SPECIAL,		/* [vdso]/[vvar]/VM_IO/PFNMAP: kernel pages, never movable */
	NM_R_NOMEM,		/* ENOMEM: target node full */
	NM_R_IO,		/* EIO/EINVAL: dirty page the filesystem cannot migrate */
	NM_R_NEW,		/* faulted in on a source node after the scan */
	NM_R_UNSCANNED,		/* mapping too large to walk (NM_VMA_SKIPPED) */
	NM_R_OTHER,		/* any other errno */
	NM_R__COUNT
};

/* Short name ("shared") and one-line explanation.  Cannot fail. */
const char *nm_reason_name(enum nm_reason r);
const char *nm_reason_text(enum nm_reason r);
/* False for pages no tool can move (special mappings, the zero page): they
 * are reported but do not make a move fail. */
bool nm_reason_is_failure(enum nm_reason r);
/* Why page pg of mapping v is still on a source node, given its last move
 * status (NM_STATUS_UNSET when the kernel did not write one, or when it was
 * never tried) and whether MOVE_ALL was used.  Pure; cannot fail. */
enum nm_reason nm_classify(const struct nm_vma *v, const struct nm_page *pg, bool move_all);

/* ------------------------------------------------------------------ move */

#define NM_F_MOVE_ALL	0x1	/* MPOL_MF_MOVE_ALL: shared pages too (CAP_SYS_NICE) */
#define NM_F_DRY_RUN	0x2	/* scan and plan only */
#define NM_F_SPECIAL	0x4	/* try special mappings too (they always fail) */
#define NM_F_POLICY_MOVED 0x8	/* policies changed since the scan (cpuset rebind):
				 * verification reads them again */

struct nm_progress {
	uint64_t bytes_done, bytes_total;
	unsigned int pass;
	double elapsed_s;
};

struct nm_move_opts {
	struct nm_mask from, to;
	unsigned int flags;		/* NM_F_* */
	unsigned int retries;		/* passes after the first; default 5 */
	unsigned int call_budget_us;	/* work per move_pages call; default 1000000 */
	unsigned int backoff_ms;	/* first back-off; doubles each pass; default 10 */
	unsigned int batch_min, batch_max, batch_first;	/* pages per call: 512, 65536, 16384 */
	size_t numa_maps_max;		/* scan: nm_proc_open_lean; default 0 (always read) */
	void (*progress)(void *arg, const struct nm_progress *pr);
	void *progress_arg;
};

/* Fill o with the defaults above and empty masks.  Cannot fail. */
void nm_move_opts_init(struct nm_move_opts *o);

/* A group of pages that stayed: one per (mapping, reason, node). */
struct nm_residue {
	uint32_t vma;
	enum nm_reason reason;
	int node;
	int last_status;		/* a representative kernel status */
	uint64_t pages;			/* base pages */
	unsigned long first_addr;
};

struct nm_report {
	pid_t pid;
	struct nm_proc proc;		/* the scan the report refers to */
	/* plan */
	uint64_t bytes_candidate;	/* on a source node at the scan */
	uint64_t bytes_per_target[NM_MASK_BITS];	/* planned bytes per target node */
	uint64_t shared_pages;		/* candidates mapped by several processes */
	/* result */
	uint64_t bytes_moved;		/* verified on a target node */
	uint64_t bytes_left;		/* still on a source node and counted as failure */
	uint64_t bytes_ignored;		/* still there, but never movable (special, zero) */
	uint64_t bytes_gone;		/* unmapped while we worked */
	uint64_t bogus_status;		/* status said error but the page moved (THP) */
	unsigned int passes, calls;
	unsigned int batch_last;
	uint64_t longest_call_us;
	/* Where the time went (issue 21): the scan (M1: maps, numa_maps,
	 * pagemap, the query), the passes (M3-M5) and the verification (M6). */
	uint64_t scan_us, move_us, verify_us;
	double elapsed_s;
	uint64_t started_us;		/* CLOCK_MONOTONIC at the scan */
	uint64_t vm_success, vm_fail;	/* /proc/vmstat deltas (sub-pages); after a
					 * dry run, the counters at the scan */
	struct nm_residue *res;
	size_t nr_res;
};

/* Move pages of pid on o->from to o->to; rep is filled in even when the
 * result is partial.  Returns 0 when the move ran (check rep->bytes_left),
 * or a whole-call -errno: -ESRCH (process gone), -EPERM/-EACCES (ptrace,
 * MOVE_ALL without CAP_SYS_NICE, target outside the cpuset), -EINVAL
 * (bad nodes).  Release rep with nm_report_free either way. */
int nm_move(const struct nm_host *h, const struct nm_sys *sys, pid_t pid,
	    const struct nm_move_opts *o, struct nm_report *rep, struct ob_err *err);
void nm_report_free(struct nm_report *rep);

/* The move of a plan: rep comes from nm_move with NM_F_DRY_RUN and the same
 * o (minus that flag), so a caller can check the plan and then move without
 * scanning the process a second time (a scan is the costly part for a
 * process of many mappings).  Pages that appear in between are found by
 * the verification (reason "new").  Same returns as nm_move. */
int nm_move_planned(const struct nm_host *h, const struct nm_sys *sys,
		    const struct nm_move_opts *o, struct nm_report *rep, struct ob_err *err);

/* The passes alone (move.c M3-M5): move every page of p with target >= 0,
 * re-query and retry; p->pages[].node and .status hold the outcome.  For
 * callers that pick pages themselves (and the unit tests).  Returns 0 or a
 * whole-call -errno. */
int nm_move_pages(struct nm_proc *p, const struct nm_sys *sys, const struct nm_move_opts *o,
		  struct nm_report *rep, struct ob_err *err);

/* Re-query every page of rep->proc's scan plus a fresh scan, and rebuild
 * rep->res and the byte totals (verify.c).  Used by nm_move; public so a
 * caller can re-verify later.  Returns 0 or a whole-call -errno. */
int nm_verify(const struct nm_host *h, const struct nm_sys *sys, const struct nm_move_opts *o,
	      struct nm_report *rep, struct ob_err *err);

/* Batch sizing (move.c), public for unit tests: after a call of n pages that
 * took us microseconds, of which fixed_us (the shortest call seen) is the
 * per-call cost, the next batch keeps the size-dependent part near the
 * budget.  Cannot fail. */
unsigned int nm_batch_next(const struct nm_move_opts *o, unsigned int n, uint64_t us,
			   uint64_t fixed_us);

/* ------------------------------------------------------------------ policy */

/* Nodes named by a numa_maps policy string ("bind:0-1", "prefer:1",
 * "interleave:0,2", "default", "local", "prefer (many):1").  Returns 1 and
 * fills nodes when the policy names nodes, 0 when it does not. */
int nm_policy_nodes(const char *policy, struct nm_mask *nodes);
/* Mappings whose policy still names a node in from (the policy "points
 * back").  Cannot fail. */
size_t nm_policy_points_back(const struct nm_proc *p, const struct nm_mask *from);

/* cgroup v2 cpuset rebind (spec 1.4): put pid's cpuset mems to
 * (mems - from) | to, creating a child cgroup "numamove-PID" under the
 * process's cgroup when that cgroup has processes of other jobs in it or is
 * the root.  The kernel then rebinds every policy (bind:0 -> bind:1).
 * cgroup_root is normally "/sys/fs/cgroup".  *path gets the cgroup used. */
int nm_cpuset_rebind(const struct nm_host *h, pid_t pid, const struct nm_mask *from,
		     const struct nm_mask *to, char *path, size_t plen, struct ob_err *err);

/* nm_cpuset_rebind in two steps: the plan changes nothing (so a dry run can
 * check it: -EBUSY for a cgroup shared with other processes, -EPERM for a
 * target the parent cgroup does not allow, -EOPNOTSUPP without a cpuset
 * controller), the apply creates the cgroup if planned and writes mems. */
struct nm_cpuset_plan {
	char cgroup[1200];		/* the cgroup whose cpuset.mems is written */
	bool create;			/* numamove-PID, made and joined by apply */
	struct nm_mask mems;		/* the cpuset.mems to write */
};
int nm_cpuset_plan(const struct nm_host *h, pid_t pid, const struct nm_mask *from,
		   const struct nm_mask *to, struct nm_cpuset_plan *pl, struct ob_err *err);
int nm_cpuset_apply(const struct nm_host *h, pid_t pid, const struct nm_cpuset_plan *pl,
		    struct ob_err *err);
/* Remove the numamove-PID cgroups no process is left in.  Returns how many
 * went; cannot fail (a cgroup still in use stays). */
int nm_cpuset_sweep(const struct nm_host *h);

#endif
