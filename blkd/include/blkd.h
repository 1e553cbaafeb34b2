/* SPDX-License-Identifier: MIT */
/*
 * blkd.h - the public contract of libblkd, a userspace block layer.
 *
 * A submitter (the NBD server, or a unit test) hands struct blkd_bio units to
 * a struct blkd_queue, one queue per export.  The queue passes each bio
 * through the I/O scheduler (elevator, spec B.2/B.4), merges adjacent bios
 * into larger requests (spec B.3), moves requests onto the one generic
 * dispatch queue shared by all schedulers (spec B.1), turns FLUSH and FUA
 * bios into the ordered sequence the backend needs (spec A.2/A.6), and lets
 * a pool of worker threads issue requests to the backend.  Each bio ends
 * with its end_io callback, called with no queue lock held.
 *
 * Conventions: every function returns 0 or -errno unless said otherwise;
 * on error nothing was changed.  The library never prints and never exits.
 */
#ifndef BLKD_H
#define BLKD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "ob/err.h"

struct blkd_queue;
struct blkd_backend;

/* ---- bios: what a submitter hands in -------------------------------- */

enum blkd_op {
	BLKD_OP_READ,
	BLKD_OP_WRITE,
	BLKD_OP_FLUSH,		/* empty pre-flush (NBD_CMD_FLUSH, spec E.6) */
	BLKD_OP_TRIM,
	BLKD_OP_ZERO,		/* NBD_CMD_WRITE_ZEROES */
	BLKD_OP_CACHE,		/* prefetch hint */
	BLKD_OP_NR,
};

#define BLKD_F_FUA	(1u << 0)	/* durable before completion (REQ_FUA) */
#define BLKD_F_NOHOLE	(1u << 1)	/* ZERO: allocate, do not punch */
#define BLKD_F_FASTZERO	(1u << 2)	/* ZERO: fail -EOPNOTSUPP unless fast */

struct blkd_client;

struct blkd_bio {
	enum blkd_op op;
	unsigned flags;			/* BLKD_F_* */
	uint64_t off;
	uint32_t len;
	void *buf;			/* READ/WRITE data, len bytes */
	int error;			/* 0 or -errno, set before end_io */
	struct blkd_client *client;	/* stats and fair-queue key; may be NULL */
	uint64_t t_submit;		/* ns, set by blkd_queue_submit() */
	void (*end_io)(struct blkd_bio *bio);
	void *private;			/* the submitter's */
	struct blkd_bio *bi_next;	/* owned by the queue while queued */
};

/* ---- backends: the driver interface ---------------------------------- */

/*
 * Ordered modes, 2.6.16 bit encoding (spec A.2).  A backend declares one;
 * flush.c turns FLUSH/FUA bios into the matching sequence.
 */
#define BLKD_ORDERED_NONE	0x00
#define BLKD_ORDERED_BY_DRAIN	0x01
#define BLKD_ORDERED_BY_TAG	0x02
#define BLKD_ORDERED_PREFLUSH	0x10
#define BLKD_ORDERED_POSTFLUSH	0x20
#define BLKD_ORDERED_FUA	0x40
#define BLKD_ORDERED_DRAIN	 BLKD_ORDERED_BY_DRAIN
#define BLKD_ORDERED_DRAIN_FLUSH (BLKD_ORDERED_BY_DRAIN | BLKD_ORDERED_PREFLUSH | BLKD_ORDERED_POSTFLUSH)
#define BLKD_ORDERED_DRAIN_FUA	 (BLKD_ORDERED_BY_DRAIN | BLKD_ORDERED_PREFLUSH | BLKD_ORDERED_FUA)
#define BLKD_ORDERED_TAG	 BLKD_ORDERED_BY_TAG
#define BLKD_ORDERED_TAG_FLUSH	 (BLKD_ORDERED_BY_TAG | BLKD_ORDERED_PREFLUSH | BLKD_ORDERED_POSTFLUSH)
#define BLKD_ORDERED_TAG_FUA	 (BLKD_ORDERED_BY_TAG | BLKD_ORDERED_PREFLUSH | BLKD_ORDERED_FUA)

/* Parse "none", "drain", "drain-flush", "drain-fua", "tag", "tag-flush",
 * "tag-fua".  Returns the mode or -EINVAL. */
int blkd_ordered_parse(const char *s);
/* Name of a mode; "?" for an invalid one.  Cannot fail. */
const char *blkd_ordered_name(int mode);

/* Backend capabilities (what may be advertised to clients). */
#define BLKD_CAP_FLUSH		(1u << 0)
#define BLKD_CAP_FUA		(1u << 1)	/* native FUA on WRITE */
#define BLKD_CAP_TRIM		(1u << 2)
#define BLKD_CAP_ZERO		(1u << 3)
#define BLKD_CAP_FAST_ZERO	(1u << 4)
#define BLKD_CAP_CACHE		(1u << 5)
#define BLKD_CAP_EXTENTS	(1u << 6)	/* holes are known */
#define BLKD_CAP_READONLY	(1u << 7)
#define BLKD_CAP_ORDER		(1u << 8)	/* keeps issue order (tag modes) */
#define BLKD_CAP_MEMCOPY	(1u << 9)	/* small writes are mostly a memcpy */

/* One extent for block status: length and whether it is a hole/zero. */
#define BLKD_EXTENT_HOLE 1u
#define BLKD_EXTENT_ZERO 2u
typedef int (*blkd_extent_fn)(void *arg, uint64_t len, uint32_t flags);

/*
 * The driver interface.  Synchronous hooks return 0 or -errno and are
 * called from worker threads concurrently, so they must be thread-safe.
 * Optional hooks may be NULL (the cap bit must then be clear); the queue
 * checks them in one place (queue.c: blkd_backend_issue).
 *
 * An asynchronous backend (the NBD upstream / multipath device, mpath.c)
 * sets .submit instead of the data hooks: the queue hands it a struct
 * blkd_io and goes on; the backend later ends it with blkd_io_end() or
 * gives it back with blkd_io_requeue() (failover: the request goes back on
 * the dispatch queue, shows as R, and is issued again).  .submit is called
 * with no queue lock held and must not block for long.
 */
struct blkd_io;
struct blkd_backend_ops {
	const char *name;
	int (*preadv)(struct blkd_backend *be, const struct iovec *iov, int cnt, uint64_t off);
	int (*pwritev)(struct blkd_backend *be, const struct iovec *iov, int cnt, uint64_t off,
		       bool fua);
	int (*flush)(struct blkd_backend *be);
	int (*trim)(struct blkd_backend *be, uint64_t off, uint64_t len);
	int (*zero)(struct blkd_backend *be, uint64_t off, uint64_t len, unsigned flags);
	int (*cache)(struct blkd_backend *be, uint64_t off, uint64_t len);
	int (*extents)(struct blkd_backend *be, uint64_t off, uint64_t len,
		       blkd_extent_fn fn, void *arg);
	void (*submit)(struct blkd_backend *be, struct blkd_io *io);
	void (*destroy)(struct blkd_backend *be);
};

/*
 * One request as an asynchronous backend sees it.  It lives inside the
 * queue's request; fields are stable until blkd_io_end/requeue.  bpriv is
 * the backend's scratch space and survives a requeue (mpath keeps the set
 * of paths that answered EIO there).
 */
struct blkd_io {
	enum blkd_op op;
	bool fua;
	unsigned zflags;		/* BLKD_F_NOHOLE / BLKD_F_FASTZERO for ZERO */
	uint64_t off, len;
	const struct iovec *iov;	/* READ/WRITE data */
	int iovcnt;
	unsigned requeues;		/* times given back by the backend */
	uint64_t bpriv[4];
};

/* End io with 0 or -errno.  Takes the queue lock: call it with no lock the
 * queue could need (any backend lock is fine).  Cannot fail. */
void blkd_io_end(struct blkd_io *io, int err);
/* Put io back on the dispatch queue to be issued again (INSERT_REQUEUE);
 * why, if not NULL, goes into the trace as a message.  Cannot fail. */
void blkd_io_requeue(struct blkd_io *io, const char *why);
/* A free-text note for the trace (blktrace 'm' record).  Cannot fail. */
void blkd_io_message(struct blkd_io *io, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

struct blkd_backend {
	const struct blkd_backend_ops *ops;
	uint64_t size;
	unsigned caps;		/* BLKD_CAP_* */
	int ordered;		/* BLKD_ORDERED_* the backend declares */
	void *priv;
};

struct blkd_file_opts {
	bool readonly;
	bool direct;		/* O_DIRECT */
	bool fua_emulate;	/* ignore RWF_DSYNC: declare drain-flush */
	bool no_map;		/* never copy through a shared mapping */
};

/* Open a regular file or block device.  On error *out is untouched and, if
 * err is given, it holds a reason (ob/err.h).  */
int blkd_backend_file_open(const char *path, const struct blkd_file_opts *o,
			   struct blkd_backend **out, struct ob_err *err);
/* A sparse anonymous-memory disk of size bytes (rounded up to 4 KiB). */
int blkd_backend_mem_create(uint64_t size, struct blkd_backend **out);
/* Calls ops->destroy.  NULL is fine.  Cannot fail. */
void blkd_backend_destroy(struct blkd_backend *be);

/* ---- queue ------------------------------------------------------------ */

enum blkd_trace_event {		/* blktrace letters, spec D.4 */
	BLKD_EV_QUEUE = 'Q', BLKD_EV_BACKMERGE = 'M', BLKD_EV_FRONTMERGE = 'F',
	BLKD_EV_GETRQ = 'G', BLKD_EV_INSERT = 'I', BLKD_EV_ISSUE = 'D',
	BLKD_EV_COMPLETE = 'C', BLKD_EV_REQUEUE = 'R',
	BLKD_EV_PLUG = 'P', BLKD_EV_UNPLUG = 'U',	/* a batch submit; count = bios */
	BLKD_EV_MESSAGE = 'm',				/* msg holds free text */
};

/* What a trace hook sees of one event.  kind is "R", "W", "FL" (flush),
 * "T", "Z", "C" (cache), with a trailing "F" for FUA; seq names the ordered
 * step ("pre", "bar", "post") or "" for a plain request.  op and fua say
 * the same for binary writers; msg is set for BLKD_EV_MESSAGE only. */
struct blkd_trace_rec {
	enum blkd_trace_event ev;
	const char *kind;
	const char *step;
	uint64_t off, len;
	int error;
	unsigned nr_bios;
	enum blkd_op op;
	bool fua;
	unsigned count;			/* PLUG/UNPLUG: bios in the batch */
	const char *msg;
};
typedef void (*blkd_trace_fn)(void *arg, const struct blkd_trace_rec *rec);

struct blkd_queue_opts {
	const char *scheduler;		/* "noop", "deadline", "fair"; NULL = deadline */
	int ordered;			/* -1 = the backend's declared mode */
	uint32_t max_merge;		/* bytes; 0 disables merging */
	unsigned threads;		/* worker threads; 0 = none (tests pump) */
	uint64_t (*clock)(void *arg);	/* ns; NULL = CLOCK_MONOTONIC */
	void *clock_arg;
	blkd_trace_fn trace;		/* may be NULL */
	void *trace_arg;
};

#define BLKD_MAX_MERGE_DEFAULT	(1u << 20)
#define BLKD_MAX_SEGMENTS	256

/* Defaults for opts (deadline, backend's mode, 1 MiB merges, 4 threads). */
void blkd_queue_opts_init(struct blkd_queue_opts *o);

/* Create a queue over be (the queue does not own be).  Fails with -EINVAL
 * for an unknown scheduler or an ordered mode that needs a hook be lacks
 * (reason in err), -ENOMEM, or a pthread error. */
int blkd_queue_create(struct blkd_backend *be, const struct blkd_queue_opts *o,
		      struct blkd_queue **out, struct ob_err *err);
/* Stop workers after all queued work ended; free.  NULL is fine. */
void blkd_queue_destroy(struct blkd_queue *q);

/* Submit n bios at once (a plug: merging sees all of them before any worker
 * does).  Bios are validated first; an invalid one ends at once with
 * -EINVAL/-ENOSPC/-EPERM/-EOPNOTSUPP through end_io.  Cannot fail. */
void blkd_queue_submit(struct blkd_queue *q, struct blkd_bio **bios, unsigned n);

/* Like blkd_queue_submit, then run the queue in the caller's thread until
 * it is empty, a request was slow, or a budget is spent; the rest is left
 * to the workers.  The caller must not hold locks its end_io callbacks
 * take.  Cannot fail. */
void blkd_queue_submit_direct(struct blkd_queue *q, struct blkd_bio **bios, unsigned n);
/* Like blkd_queue_submit_direct, but one idle worker is woken at once to
 * share the batch with the caller (for work that costs the CPU, such as
 * buffered writes).  In tag modes it is blkd_queue_submit: order there
 * needs one issuing thread.  Cannot fail. */
void blkd_queue_submit_shared(struct blkd_queue *q, struct blkd_bio **bios, unsigned n);

/* Without worker threads (opts.threads == 0): take the next request the
 * backend should see, issue it synchronously, end it.  Returns 1 if one was
 * issued, 0 if nothing may be issued now.  For tests and tools. */
int blkd_queue_run_once(struct blkd_queue *q);

/* Two-step form of run_once for tests that hold requests in flight:
 * fetch returns an opaque issued request (or NULL) and complete ends it by
 * calling the backend. */
struct blkd_request;
struct blkd_request *blkd_queue_fetch(struct blkd_queue *q);
void blkd_queue_execute(struct blkd_queue *q, struct blkd_request *rq);
/* Give an issued request back (INSERT_REQUEUE, spec B.1). */
void blkd_queue_requeue(struct blkd_queue *q, struct blkd_request *rq);

/* Switch the scheduler at run time: the old one is drained onto the
 * dispatch queue first (force dispatch, spec B.1).  -EINVAL if unknown. */
int blkd_queue_set_scheduler(struct blkd_queue *q, const char *name);
/* Current scheduler name.  Cannot fail. */
const char *blkd_queue_scheduler(struct blkd_queue *q);
int blkd_queue_ordered(struct blkd_queue *q);
struct blkd_backend *blkd_queue_backend(struct blkd_queue *q);

/* Names of all schedulers, NULL-terminated.  Cannot fail. */
const char *const *blkd_scheduler_names(void);

/* ---- I/O limits (throttle.c; cgroup io.max) ---------------------------- */

enum { BLKD_LIM_RIOPS, BLKD_LIM_WIOPS, BLKD_LIM_RBPS, BLKD_LIM_WBPS, BLKD_LIM_NR };

struct blkd_limit {
	uint64_t v[BLKD_LIM_NR];	/* per second; 0 = no limit */
};

/* One limited party's buckets: each the time it is next empty (ns). */
struct blkd_throttle {
	uint64_t tat[BLKD_LIM_NR];
	uint64_t blocked_since;		/* ns; 0 = not held */
	uint64_t throttled_ns;		/* time requests were held, in all */
};

struct ob_err;
/* Parse "riops=N,wbps=SIZE,..." ("max": no limit) into lim, changing only
 * the keys named.  -EINVAL with the reason in err. */
int blkd_limit_parse(const char *spec, struct blkd_limit *lim, struct ob_err *err);
/* "riops=N wiops=max ..." into buf; returns its length. */
size_t blkd_limit_format(const struct blkd_limit *lim, char *buf, size_t len);
bool blkd_limit_any(const struct blkd_limit *lim);
/* May ios requests of bytes in all (writes or not) start at now?  0: yes,
 * and they are charged; else the ns to wait (nothing charged; the hold is
 * timed). */
uint64_t blkd_throttle_check(struct blkd_throttle *t, const struct blkd_limit *lim, bool write,
			     unsigned ios, uint64_t bytes, uint64_t now);
/* WRITE, TRIM and WRITE_ZEROES count against the write limits. */
bool blkd_op_is_write(int op);
/* The export-wide limits of q, taking effect from its next dispatch. */
void blkd_queue_set_limit(struct blkd_queue *q, const struct blkd_limit *lim);
void blkd_queue_get_limit(struct blkd_queue *q, struct blkd_limit *lim);

/* ---- statistics ------------------------------------------------------- */

#define BLKD_LAT_BUCKETS 24	/* log2 microseconds: <1us, <2us, ... <2^23us */

struct blkd_stats {
	uint64_t ops[BLKD_OP_NR];
	uint64_t bytes[BLKD_OP_NR];
	uint64_t errors;
	uint64_t merges;		/* bios or requests that joined another request */
	uint64_t backend_ios;		/* requests issued to the backend */
	uint64_t cancelled;		/* bios of gone clients never issued */
	uint64_t throttled_us;		/* time requests were held by a limit */
	uint64_t queued;		/* bios submitted and not yet ended */
	uint64_t max_queued;
	uint64_t lat[BLKD_LAT_BUCKETS];
};

/* A client (connection) as the queue sees it: stats and its fair queue. */
struct blkd_client {
	char name[64];
	struct blkd_stats stats;	/* guarded by the queue lock */
	int werr;			/* a write of this client failed in the backend
					   since its last FLUSH; queue lock */
	bool cancelled;			/* gone: its queued bios end -ECANCELED (atomic) */
};

/* The client went away without waiting for its replies: its bios still
 * queued end with -ECANCELED when their turn comes instead of reaching the
 * backend (stats count them as cancelled).  Cannot fail. */
void blkd_client_cancel(struct blkd_client *c);

/* Copy the export's (client == NULL) or one client's stats under the queue
 * lock.  Cannot fail. */
void blkd_queue_stats(struct blkd_queue *q, const struct blkd_client *c, struct blkd_stats *out);
/* Append the stats as one JSON object to buf; returns bytes written
 * (truncated safely). */
size_t blkd_stats_json(const struct blkd_stats *s, char *buf, size_t len);
/* A client leaves: the fair scheduler forgets its queue.  Must be called
 * only when none of the client's bios is queued. */
void blkd_queue_client_gone(struct blkd_queue *q, struct blkd_client *c);

/* Name of an op for messages.  Cannot fail. */
const char *blkd_op_name(enum blkd_op op);

/* ---- blktrace output (trace.c, spec D) ---------------------------------- */

/*
 * A set of NAME.blktrace.N files in DIR in the version-7 binary format of
 * struct blk_io_trace, one file per thread that logs events (files are
 * handed back when a thread exits, so N stays small and contiguous).  Each
 * file starts with a timestamp note; each thread's first record in a file
 * is preceded by a process note with its name.  Records are buffered per
 * thread; nothing reaches the disk for sure before blkd_blktrace_close().
 */
struct blkd_blktrace;
/* Create DIR if needed and prepare NAME.blktrace.*; old files of that name
 * are removed.  On error nothing is left open and err says why. */
int blkd_blktrace_open(const char *dir, const char *name, struct blkd_blktrace **out,
		       struct ob_err *err);
/* Log one queue event for device dev (kernel dev_t: major << 20 | minor).
 * Thread-safe.  A write error stops the trace (see blkd_blktrace_error). */
void blkd_blktrace_event(struct blkd_blktrace *bt, uint32_t dev, const struct blkd_trace_rec *r);
/* 0, or the first -errno a write got. */
int blkd_blktrace_error(struct blkd_blktrace *bt);
/* Flush every buffer and close the files; returns blkd_blktrace_error().
 * No thread may log during or after the call.  NULL is fine. */
int blkd_blktrace_close(struct blkd_blktrace *bt);
#define BLKD_BLKTRACE_DEV(major, minor) (((uint32_t)(major) << 20) | (uint32_t)(minor))

/* ---- NBD upstream and multipath (mpath.c, spec C) ----------------------- */

enum blkd_failback { BLKD_FAILBACK_IMMEDIATE, BLKD_FAILBACK_MANUAL, BLKD_FAILBACK_DELAY };

struct blkd_mpath_opts {
	/* paths: uris[i] is in priority group groups[i] (1 = preferred) */
	const char *const *uris;
	const unsigned *groups;
	unsigned nr_paths;
	/* selector per group, index group-1: "round-robin", "queue-length",
	 * "service-time"; NULL entries = service-time */
	const char *selectors[16];
	enum blkd_failback failback;
	unsigned failback_delay_ms;
	int queue_if_no_path_ms;	/* hold I/O this long with no path; 0 = fail, <0 = forever */
	unsigned queue_max;		/* most requests held with no path */
	unsigned checker_ms;		/* probe interval for failed paths */
	unsigned io_timeout_ms;		/* a request older than this fails its path */
	uint64_t probe_sector;		/* the checker reads this 512-byte sector */
	/* TLS credentials for nbds:// and nbds+unix:// paths (libnbd reads
	 * DIR/ca-cert.pem and, if there, client-cert.pem + client-key.pem);
	 * NULL: none */
	const char *tls_certificates;
	const char *tls_psk_file;
	bool readonly;
	void (*log)(void *arg, const char *msg);	/* path events; may be NULL */
	void *log_arg;
};

/* Defaults: service-time, failback immediate, queue 30 s / 4096 requests,
 * checker 1 s, I/O timeout 30 s. */
void blkd_mpath_opts_init(struct blkd_mpath_opts *o);
/* Connect every path (those that fail start failed and are retried by the
 * checker; at least one must answer, to learn the size) and start the
 * path threads.  -EINVAL (bad selector, sizes differ) or -errno of the
 * connection; err says why. */
int blkd_mpath_create(const struct blkd_mpath_opts *o, struct blkd_backend **out,
		      struct ob_err *err);
/* Is be a multipath device? */
bool blkd_backend_is_mpath(const struct blkd_backend *be);
/* Append the paths and groups as JSON ({"active_group":..,"groups":[..],
 * "paths":[..]}); returns bytes written. */
size_t blkd_mpath_json(struct blkd_backend *be, char *buf, size_t len);
/* Control messages (dm's names): "fail_path N", "reinstate_path N",
 * "switch_group G", "queue_if_no_path", "fail_if_no_path".  Returns 0,
 * -EINVAL (bad message) or -ENOENT (no such path/group); err says why. */
int blkd_mpath_message(struct blkd_backend *be, const char *msg, struct ob_err *err);

#endif
