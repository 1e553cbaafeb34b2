/* SPDX-License-Identifier: MIT */
/* mmpager.h - the one public header of libmmpager (native API, mmp_*).
 *
 * libmmpager is demand paging in userspace (issue 24): a region of memory
 * whose pages come from a store (a file or block device, a sparse store of
 * many files, zero-filled memory, a read-only memory snapshot) the first
 * time they are touched, through userfaultfd(2).  At most a bounded number
 * of bytes is resident; evictor threads write dirty pages back and drop
 * pages between a high and a low water mark.  Dirty tracking uses
 * userfaultfd write-protect faults: a page is dirty once a write fault was
 * taken on it since its last write-back.
 *
 * The pieces, one per file in lib/:
 *   lock.c      counted locks (acquisitions, contended, wait time)
 *   ptab.c      the pager's own two-level page table with split locks
 *   uffd.c      userfaultfd: open, features, register, copy/zero/wp/poison
 *   store-*.c   the stores
 *   region.c    map/unmap, the region index, hugetlb pool check
 *   fill.c      filler threads: fault events -> fills
 *   evict.c     the resident buffer, evictor threads, write-back, flush
 *   pager.c     configuration, life cycle, statistics
 *
 * Lock order (also in lib/mp-int.h, where the locks live):
 *   1. pager->regions_lock (rwlock: the address -> region index)
 *   2. region->dir_lock     (only to allocate or free a table page)
 *   3. table-page lock      (one per table page of 512 entries; in
 *                            MMPAGER_PTL=global mode, the one pager-wide
 *                            table lock stands for every table-page lock)
 *   Leaves, never held while another pager lock is taken:
 *      pager->lru_lock (the eviction queue), pager->buf_lock (resident
 *      accounting waits).
 *   Never two table-page locks at once; never a pager lock across a store
 *   read/write or a blocking wait other than the table page's own condvar.
 *
 * Thread safety: every function may be called from any thread.  Functions
 * return 0 or -errno and fill struct ob_err when given one; the library
 * never prints, except through the log callback a front end installs.
 */
#ifndef MMPAGER_H
#define MMPAGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ob_err;
struct mmp_pager;
struct mmp_region;

/* ---- stores ---------------------------------------------------------- */

/* A store serves page contents.  read() must fill all len bytes (zeros past
 * the end of the data); write() must store all len bytes.  Both return 0 or
 * -errno; they are called from several threads at once for different
 * offsets.  A store is owned by the region it is mapped with once mmp_map()
 * succeeds (destroy() is called at unmap); on failure the caller keeps it. */
struct mmp_store;
struct mmp_store_ops {
	int (*read)(struct mmp_store *st, void *buf, size_t len, uint64_t off);
	int (*write)(struct mmp_store *st, const void *buf, size_t len, uint64_t off);
	int (*sync)(struct mmp_store *st);		/* may be NULL */
	void (*destroy)(struct mmp_store *st);
};

struct mmp_store {
	const struct mmp_store_ops *ops;
	const char *kind;	/* "file", "zero", "snapshot", "sparse", ... */
	bool writable;		/* write() may be called */
	bool zero_fresh;	/* never-written pages read as zeros: skip read() */
};

/* A file or block device; pread/pwrite at off + region offset.  The fd is
 * duplicated, so the caller may close its own.  writable follows the fd's
 * access mode. */
int mmp_store_file(int fd, struct mmp_store **out, struct ob_err *err);
/* Zero-filled memory: pages read as zeros until written; dirty pages that
 * are evicted go to an unlinked temporary file in dir (NULL: $TMPDIR or
 * /tmp). */
int mmp_store_zero(const char *dir, struct mmp_store **out, struct ob_err *err);
/* A read-only snapshot of len bytes at mem (not copied: mem must outlive
 * the region).  Regions over it must be mapped without PROT_WRITE. */
int mmp_store_snapshot(const void *mem, size_t len, struct mmp_store **out,
		       struct ob_err *err);
/* A sparse store of many files (as UMap's SparseStore): directory dir holds
 * one file per file_size bytes of the store, named by its index, created on
 * first write; absent files read as zeros.  dir is created when missing. */
int mmp_store_sparse(const char *dir, uint64_t file_size, bool writable,
		     struct mmp_store **out, struct ob_err *err);
/* An NBD export (libnbd): uri is nbd://HOST[:PORT][/EXPORT],
 * nbd+unix:///EXPORT?socket=PATH or nbds:// (TLS), as in nbd_connect_uri(3).
 * The store keeps a pool of connections (libnbd serialises the commands of
 * one handle) and waits at most timeout_ms for any reply; a connection that
 * fails or times out is dropped, and the fills it would serve raise SIGBUS.
 * writable follows the export's read-only flag; pages past the export's end
 * read as zeros; sync flushes every connection.  o may be NULL. */
struct mmp_nbd_opts {
	unsigned connections;	/* 0: 4 */
	unsigned timeout_ms;	/* 0: 30000 */
};
int mmp_store_nbd(const char *uri, const struct mmp_nbd_opts *o, struct mmp_store **out,
		  struct ob_err *err);
/* The export's size in bytes (0 when st is not an NBD store). */
uint64_t mmp_store_nbd_size(const struct mmp_store *st);
void mmp_store_destroy(struct mmp_store *st);

/* ---- configuration --------------------------------------------------- */

enum mmp_ptl_mode { MMP_PTL_SPLIT = 0, MMP_PTL_GLOBAL = 1 };

struct mmp_config {
	uint64_t page_size;	/* pager page: multiple of 4 KiB, 4 KiB..2 MiB */
	uint64_t buf_pages;	/* resident buffer, in pager pages */
	unsigned fillers;	/* filler threads */
	unsigned evictors;	/* evictor threads */
	unsigned high_water;	/* percent of the buffer: start evicting */
	unsigned low_water;	/* percent of the buffer: stop evicting */
	unsigned max_fault_events;	/* fault messages read per read(2) */
	unsigned read_ahead;	/* pages filled after a faulting page */
	enum mmp_ptl_mode ptl;	/* split (default) or one global table lock */
	bool publish;		/* keep MMP_STAT_DIR/mmpager.PID.stat current,
				 * for "mmpager stat PID" (MMPAGER_PUBLISH=1) */
};

/* Where a publishing pager writes its statistics (every 250 ms). */
#define MMP_STAT_DIR "/dev/shm"


/* Defaults, with UMap's meanings: page size = system page, buffer = 90 % of
 * MemFree, fillers = evictors = online CPUs, high 90 %, low 70 %, 256 fault
 * events, no read-ahead, split locks. */
void mmp_config_default(struct mmp_config *cfg);
/* Apply UMAP_PAGESIZE, UMAP_BUFSIZE, UMAP_PAGE_FILLERS, UMAP_PAGE_EVICTORS,
 * UMAP_EVICT_HIGH_WATER_THRESHOLD, UMAP_EVICT_LOW_WATER_THRESHOLD,
 * UMAP_MAX_FAULT_EVENTS, UMAP_READ_AHEAD, MMPAGER_PTL and MMPAGER_PUBLISH
 * from the
 * environment on top of cfg.  As in UMap, an unset, unparsable or zero
 * UMAP_* value keeps the default; a bad MMPAGER_PTL is an error. */
int mmp_config_from_env(struct mmp_config *cfg, struct ob_err *err);
/* Check a configuration; -EINVAL with the reason. */
int mmp_config_check(const struct mmp_config *cfg, struct ob_err *err);

/* ---- pager ----------------------------------------------------------- */

/* Log callback for what happens on pager threads that no caller can be
 * told of (a store error that poisoned a page, a failed write-back).
 * One line, no newline.  Default: none. */
typedef void (*mmp_log_fn)(const char *line);
void mmp_set_log(mmp_log_fn fn);

int mmp_pager_new(const struct mmp_config *cfg, struct mmp_pager **out,
		  struct ob_err *err);
/* Unmaps (flushing) every region still mapped, stops the threads. */
void mmp_pager_free(struct mmp_pager *p);
void mmp_pager_config(const struct mmp_pager *p, struct mmp_config *cfg);

/* ---- regions --------------------------------------------------------- */

#define MMP_MAP_FIXED	0x1	/* addr is the address, as MAP_FIXED */
#define MMP_MAP_HUGETLB	0x2	/* back with 2 MiB huge pages (MAP_HUGETLB) */
#define MMP_MAP_HUGE_1GB 0x4	/* with MMP_MAP_HUGETLB: 1 GiB pages instead
				 * (MAP_HUGE_1GB, or a pagesize=1G mount) */

struct mmp_map_args {
	void *addr;		/* hint, or the address with MMP_MAP_FIXED */
	size_t len;
	int prot;		/* PROT_READ, optionally | PROT_WRITE */
	unsigned flags;		/* MMP_MAP_* */
	uint64_t offset;	/* in the store; a multiple of 4 KiB */
	struct mmp_store *store;
	const char *hugetlbfs_file;	/* with MMP_MAP_HUGETLB: map a fresh
					 * file in this hugetlbfs directory
					 * instead of MAP_HUGETLB anonymous */
};

/* Map a region; its address in *addr_out.  Nothing is read at map time. */
int mmp_map(struct mmp_pager *p, const struct mmp_map_args *a, void **addr_out,
	    struct ob_err *err);
/* Flush the region's dirty pages, unregister it and unmap it.  addr is the
 * start of a region; len, when not 0, must be its length. */
int mmp_unmap(struct mmp_pager *p, void *addr, size_t len, struct ob_err *err);
/* Write back every dirty page of every region (pages stay resident). */
int mmp_flush(struct mmp_pager *p, struct ob_err *err);
/* Fill the pages covering [addr, addr+len) now, as if touched. */
int mmp_prefetch(struct mmp_pager *p, void *addr, size_t len, struct ob_err *err);
/* Fill and pin: never evicted until unmap.  -ENOSPC when the pinned pages
 * would not leave room in the buffer. */
int mmp_fetch_and_pin(struct mmp_pager *p, void *addr, size_t len,
		      struct ob_err *err);
/* Evict the pages covering [addr, addr+len) now (dirty ones written back):
 * what the evictors do, on demand; for tests and for programs that know. */
int mmp_evict(struct mmp_pager *p, void *addr, size_t len, struct ob_err *err);

/* ---- statistics ------------------------------------------------------ */

struct mmp_lock_stats {
	uint64_t locks;		/* how many locks of this class exist(ed) */
	uint64_t acquisitions;
	uint64_t contended;	/* acquisitions whose trylock failed first */
	uint64_t wait_ns;	/* total time spent waiting for the lock */
};

struct mmp_stats {
	uint64_t faults;	/* missing-page faults read from the uffd */
	uint64_t wp_faults;	/* write-protect faults (a page turned dirty) */
	uint64_t fills;		/* pages filled (faults, read-ahead, prefetch) */
	uint64_t zero_fills;	/* of which zero pages, no store read */
	uint64_t evictions;
	uint64_t writebacks;	/* dirty pages written to the store */
	uint64_t bytes_read;	/* from stores */
	uint64_t bytes_written;	/* to stores */
	uint64_t store_errors;
	uint64_t poisoned;	/* faults answered with SIGBUS */
	uint64_t resident_bytes;
	uint64_t peak_resident_bytes;
	uint64_t buffer_bytes;
	uint64_t regions;
	enum mmp_ptl_mode ptl;
	struct mmp_lock_stats table;	/* table-page locks, or the global lock */
	struct mmp_lock_stats dir;	/* directory locks */
	struct mmp_lock_stats regions_lock;
	struct mmp_lock_stats lru;	/* eviction queue */
};

void mmp_stats(struct mmp_pager *p, struct mmp_stats *st);
/* Stop publishing and remove the published file (at exit: the pager
 * itself may outlive the program's last use of it). */
void mmp_pager_unpublish(struct mmp_pager *p);
/* The path a publishing process pid writes its statistics to. */
void mmp_stat_path(int pid, char *buf, size_t len);
/* Print st as "name value" lines, one per counter. */
void mmp_stats_format(const struct mmp_stats *st, char *buf, size_t len);

/* ---- lazy restore into another process -------------------------------- */

/* One region of a process that handed its userfaultfd over (the layout
 * Firecracker sends its page-fault handler): page_size bytes per page, 4096
 * or 2 MiB; the region's contents are size bytes at offset in the snapshot. */
struct mmp_restore_region {
	uint64_t base;		/* base_host_virt_addr, in the other process */
	uint64_t size;
	uint64_t offset;
	uint64_t page_size;
};

struct mmp_restore;
struct mmp_restore_stats {
	uint64_t faults;	/* fault events read */
	uint64_t fault_pages;	/* pages copied in for a fault */
	uint64_t prefetched;	/* pages copied in by the prefetcher */
	uint64_t zeroed;	/* given-back pages answered with zeros */
	uint64_t errors;	/* pages not served (each logged) */
	int64_t all_in_ns;	/* from start until the prefetcher had copied
				 * every page in; -1 before (or without it) */
};

/* Serve the snapshot's snap_len bytes at snap (not copied: it must outlive
 * the serving) to the process whose regions regs are registered (missing
 * mode) with uffd, on a fault thread and, with prefetch, a thread that
 * copies every page in, in order.  uffd stays the caller's. */
int mmp_restore_start(int uffd, const void *snap, size_t snap_len,
		      const struct mmp_restore_region *regs, unsigned nregs, bool prefetch,
		      struct mmp_restore **out, struct ob_err *err);
/* Wait until the process has gone: exit_fd (a pidfd of it, or -1) turns
 * readable, or a copy finds its memory gone.  (Its uffd never reads as
 * closed: the handler holds it open.)  -ETIMEDOUT after timeout_ms (-1:
 * no limit). */
int mmp_restore_wait(struct mmp_restore *rs, int exit_fd, int64_t timeout_ms);
void mmp_restore_stats(struct mmp_restore *rs, struct mmp_restore_stats *st);
/* Stop serving and free. */
void mmp_restore_free(struct mmp_restore *rs);

/* ---- environment ------------------------------------------------------ */

/* The kernel's userfaultfd features (UFFDIO_API), or -errno. */
int mmp_uffd_features(uint64_t *features, struct ob_err *err);

#endif
