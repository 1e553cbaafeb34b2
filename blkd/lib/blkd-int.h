/* SPDX-License-Identifier: MIT */
/*
 * blkd-int.h - the private header of libblkd's block layer: the request,
 * the queue, the elevator ops table (and, at the end, the only calls into
 * it, where optional hooks are checked) and the ordered-sequence state,
 * plus the small list helpers every file uses.  The multipath device has
 * its own, mpath-int.h.
 *
 * Locking: one mutex per queue (q->lock) guards everything in struct
 * blkd_queue below the "guarded by lock" line, every request that is not
 * in flight, and the per-client stats.  Functions named __blkd_* expect the
 * caller to hold q->lock; the thin blkd_* wrappers take it.  Backend hooks
 * and bio end_io callbacks are always called with q->lock dropped.
 */
#ifndef BLKD_INT_H
#define BLKD_INT_H

#include <pthread.h>
#include "blkd.h"

/* ---- intrusive doubly linked list ------------------------------------ */
struct list_head {
	struct list_head *next, *prev;
};

static inline void list_init(struct list_head *h)
{
	h->next = h->prev = h;
}
static inline int list_empty(const struct list_head *h)
{
	return h->next == h;
}
static inline void __list_add(struct list_head *n, struct list_head *prev, struct list_head *next)
{
	next->prev = n;
	n->next = next;
	n->prev = prev;
	prev->next = n;
}
static inline void list_add(struct list_head *n, struct list_head *h)
{
	__list_add(n, h, h->next);
}
static inline void list_add_tail(struct list_head *n, struct list_head *h)
{
	__list_add(n, h->prev, h);
}
static inline void list_del_init(struct list_head *e)
{
	e->next->prev = e->prev;
	e->prev->next = e->next;
	list_init(e);
}
#define list_entry(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))
#define list_first_entry(h, type, member) list_entry((h)->next, type, member)

/* ---- guarded-copy.c ---------------------------------------------------- */

/* Install the SIGBUS handler (once per process); 0 or -errno. */
int blkd_guard_install(void);
/* memcpy that returns -EFAULT instead of dying if a mapping faults. */
int blkd_guarded_copy(void *dst, const void *src, size_t len);

/* ---- requests --------------------------------------------------------- */

#define RQ_SORTED	(1u << 0)	/* went through the elevator (SORT insert) */
#define RQ_SOFTBARRIER	(1u << 1)	/* dispatch_sort must not pass it */
#define RQ_STARTED	(1u << 2)	/* the driver has it (in flight) */
#define RQ_NOMERGE	(1u << 3)
#define RQ_ORDERED	(1u << 4)	/* asks for an ordered sequence (flush.c) */
#define RQ_FUA		(1u << 5)	/* issue with native FUA */
#define RQ_PROXY	(1u << 6)	/* a queue-owned pre/post flush step */
#define RQ_HASHED	(1u << 7)	/* in the merge hashes */
#define RQ_REQUEUED	(1u << 8)	/* given back while a drain sequence ran:
					   it was issued before the barrier, so it
					   goes out again ahead of the steps (flush.c) */
#define RQ_CHARGED	(1u << 10)	/* passed the export's limit (throttle.c) */
#define RQ_REQUEUED_ONCE (1u << 9)	/* an async backend gave it back: keep io.bpriv */

/* Ordered steps a request can stand for (flush.c). */
enum blkd_step { STEP_NONE, STEP_PRE, STEP_BAR, STEP_POST };

struct blkd_request {
	struct list_head queuelist;	/* dispatch queue, or free list */
	struct list_head elv_node[2];	/* the elevator's (fifo, sort...) */
	struct blkd_request *hnext_end;	/* merge hash chains (merge.c) */
	struct blkd_request *hnext_start;
	enum blkd_op op;
	unsigned flags;			/* RQ_* */
	enum blkd_step step;
	uint64_t off, len;
	struct blkd_bio *bio, *biotail;
	unsigned nr_bios;
	uint64_t t_insert;		/* ns, entering the elevator */
	uint64_t deadline;		/* ns, deadline scheduler */
	struct blkd_client *client;
	void *elv_priv;			/* fair: the client's queue */
	unsigned elv_gen;		/* q->elv_gen when sorted in */
	int error;
	struct blkd_queue *q;
	/* ---- not cleared at allocation: set at each async issue ---- */
	struct blkd_io io;		/* what an async backend sees (.submit) */
	struct iovec iov[BLKD_MAX_SEGMENTS];
};
#define RQ_CLEAR_SIZE offsetof(struct blkd_request, io)

static inline int rq_dir(const struct blkd_request *rq)
{	/* deadline's two directions: reads (and prefetch) vs writes */
	return rq->op == BLKD_OP_READ || rq->op == BLKD_OP_CACHE ? 0 : 1;
}
static inline uint64_t rq_end(const struct blkd_request *rq)
{
	return rq->off + rq->len;
}

/* ---- elevator ops (spec B.2) ------------------------------------------ */
enum { ELV_MERGE_BACK = 1, ELV_MERGE_FRONT = 2 };

struct blkd_elevator_ops {
	const char *name;
	int (*init)(struct blkd_queue *q);			/* sets q->elv_data */
	void (*exit)(struct blkd_queue *q);
	void (*add_request)(struct blkd_queue *q, struct blkd_request *rq);
	/* Move requests to the dispatch queue; return how many (0 = nothing
	 * now).  force: move everything, no idling. */
	int (*dispatch)(struct blkd_queue *q, int force);
	/* optional: */
	void (*merged)(struct blkd_queue *q, struct blkd_request *rq, int type);
	void (*merge_requests)(struct blkd_queue *q, struct blkd_request *rq,
			       struct blkd_request *next);
	bool (*allow_merge)(struct blkd_queue *q, struct blkd_request *rq,
			    const struct blkd_bio *bio);
	void (*completed)(struct blkd_queue *q, struct blkd_request *rq);
	void (*client_gone)(struct blkd_queue *q, struct blkd_client *c);
};

extern const struct blkd_elevator_ops blkd_elv_noop;
extern const struct blkd_elevator_ops blkd_elv_deadline;
extern const struct blkd_elevator_ops blkd_elv_fair;

/* ---- ordered sequence state (flush.c, spec A.4) ----------------------- */
#define SEQ_STARTED	0x01
#define SEQ_DRAIN	0x02
#define SEQ_PREFLUSH	0x04
#define SEQ_BAR		0x08
#define SEQ_POSTFLUSH	0x10
#define SEQ_DONE	0x20

struct blkd_ordered {
	unsigned seq;			/* 0 = no sequence running */
	unsigned issued;		/* step bits handed to the driver (tag modes) */
	struct blkd_request *orig;	/* the request that asked */
	struct blkd_request pre_rq, post_rq;	/* embedded, like 2.6.16 */
	int err;			/* first error of the sequence */
	int werr;			/* a write of a bio without a client failed
					   since the last flush (O4) */
};

/* ---- the queue -------------------------------------------------------- */
#define BLKD_HASH_BITS 8
#define BLKD_HASH_SIZE (1u << BLKD_HASH_BITS)

struct blkd_queue {
	struct blkd_backend *be;
	int ordered;			/* effective BLKD_ORDERED_* mode */
	uint32_t max_merge;
	uint64_t (*clock)(void *arg);
	void *clock_arg;
	blkd_trace_fn trace;
	void *trace_arg;
	unsigned nr_threads;
	pthread_t *threads;

	pthread_mutex_t lock;
	pthread_cond_t work;		/* workers wait here */
	pthread_cond_t idle;		/* destroy waits for in-flight work */
	/* ---- guarded by lock ---- */
	const struct blkd_elevator_ops *elv;
	void *elv_data;
	unsigned elv_gen;		/* bumped at each scheduler switch */
	struct list_head dispatch;	/* the generic dispatch queue */
	unsigned nr_dispatch;
	unsigned nr_sorted;		/* requests held by the elevator */
	unsigned in_flight;		/* issued to the backend, not ended */
	unsigned nr_requeued;		/* RQ_REQUEUED requests on the dispatch queue */
	uint64_t end_off;		/* boundary of the one-way elevator */
	uint64_t wake_at;		/* ns: elevator wants a re-run (idling) */
	struct blkd_limit limit;	/* export-wide limits (throttle.c) */
	struct blkd_throttle thr;
	uint64_t thr_at;		/* ns: the limit lets the next one go (0: none held) */
	struct blkd_request *last_merge;
	struct blkd_request *hash_end[BLKD_HASH_SIZE];
	struct blkd_request *hash_start[BLKD_HASH_SIZE];
	struct blkd_ordered ord;
	struct list_head free_rqs;
	struct list_head chunks;	/* allocation chunks of requests */
	unsigned idle_workers;
	unsigned nr_direct;		/* submitters running the queue themselves */
	bool stopping;
	struct blkd_stats stats;
	/* bios ended under the lock, to be called back after unlock */
	struct blkd_bio *done_head, *done_tail;
};

/* Wake one idle worker if there is something to fetch; a worker that
 * fetches wakes the next (queue.c, unless a submitter runs the queue
 * itself), so one signal is enough.  Broadcasting
 * here cost five futex calls per request on a write+flush load. */
static inline void __blkd_kick(struct blkd_queue *q)
{
	if (q->idle_workers && (q->nr_dispatch || q->nr_sorted))
		pthread_cond_signal(&q->work);
}

static inline uint64_t blkd_now(struct blkd_queue *q)
{
	return q->clock(q->clock_arg);
}

/* request.c */
struct blkd_request *__blkd_rq_alloc(struct blkd_queue *q);
void __blkd_rq_free(struct blkd_queue *q, struct blkd_request *rq);
void __blkd_rq_init_from_bio(struct blkd_request *rq, struct blkd_bio *bio);
void blkd_rq_free_all(struct blkd_queue *q);
/* trace.c: queue events to q->trace (a no-op without a hook) */
void __blkd_trace(struct blkd_queue *q, enum blkd_trace_event ev,
		  const struct blkd_request *rq, const struct blkd_bio *bio);
void __blkd_trace_batch(struct blkd_queue *q, enum blkd_trace_event ev, unsigned n);
void __blkd_trace_msg(struct blkd_queue *q, const char *msg);
/* elevator.c */
const struct blkd_elevator_ops *blkd_elevator_find(const char *name);
/* queue.c */
void __blkd_rq_end_bios(struct blkd_queue *q, struct blkd_request *rq, int err);
void __blkd_bio_end(struct blkd_queue *q, struct blkd_bio *bio, int err);

/* dispatch.c: the generic dispatch queue (spec B.1) */
enum blkd_insert { BLKD_INSERT_FRONT = 1, BLKD_INSERT_BACK = 2, BLKD_INSERT_SORT = 3,
		   BLKD_INSERT_REQUEUE = 4 };
void __blkd_insert(struct blkd_queue *q, struct blkd_request *rq, enum blkd_insert where);
void blkd_dispatch_add_tail(struct blkd_queue *q, struct blkd_request *rq);
void blkd_dispatch_sort(struct blkd_queue *q, struct blkd_request *rq);
struct blkd_request *__blkd_dispatch_fetch(struct blkd_queue *q);
void __blkd_elv_drain(struct blkd_queue *q);
bool __blkd_has_work(struct blkd_queue *q);

/* merge.c (spec B.3) */
bool __blkd_merge_bio(struct blkd_queue *q, struct blkd_bio *bio);
void __blkd_hash_add(struct blkd_queue *q, struct blkd_request *rq);
void __blkd_hash_del(struct blkd_queue *q, struct blkd_request *rq);

/* flush.c (spec A) */
bool __blkd_ordered_wants(struct blkd_queue *q, const struct blkd_bio *bio);
bool __blkd_do_ordered(struct blkd_queue *q, struct blkd_request **rqp);
bool __blkd_ordered_complete(struct blkd_queue *q, struct blkd_request *rq, int err);
void __blkd_ordered_check_drain(struct blkd_queue *q);
void __blkd_note_write_error(struct blkd_queue *q, struct blkd_request *rq, int err);

/* stats.c */
void __blkd_stats_submit(struct blkd_queue *q, const struct blkd_bio *bio);
void __blkd_stats_end(struct blkd_queue *q, const struct blkd_bio *bio, int err, uint64_t now);

/* ---- calls into the elevator ----------------------------------------------
 * The only place that knows which hooks are optional: everything else calls
 * these, never q->elv->... directly.  q->lock held. */
static inline void elv_add_request(struct blkd_queue *q, struct blkd_request *rq)
{
	q->elv->add_request(q, rq);
}

static inline int elv_dispatch(struct blkd_queue *q, int force)
{
	return q->elv->dispatch(q, force);
}

static inline void elv_merged(struct blkd_queue *q, struct blkd_request *rq, int type)
{
	if (q->elv->merged)
		q->elv->merged(q, rq, type);
}

static inline void elv_merge_requests(struct blkd_queue *q, struct blkd_request *rq,
				      struct blkd_request *next)
{
	if (q->elv->merge_requests)
		q->elv->merge_requests(q, rq, next);
}

static inline bool elv_allow_merge(struct blkd_queue *q, struct blkd_request *rq,
				   const struct blkd_bio *bio)
{
	return !q->elv->allow_merge || q->elv->allow_merge(q, rq, bio);
}

/* Only requests the current elevator sorted are its to account for. */
static inline void elv_completed(struct blkd_queue *q, struct blkd_request *rq)
{
	if ((rq->flags & RQ_SORTED) && rq->elv_gen == q->elv_gen && q->elv->completed)
		q->elv->completed(q, rq);
}

static inline void elv_client_gone(struct blkd_queue *q, struct blkd_client *c)
{
	if (q->elv->client_gone)
		q->elv->client_gone(q, c);
}

#endif
