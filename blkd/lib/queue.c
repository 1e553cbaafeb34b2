/* SPDX-License-Identifier: MIT */
/*
 * queue.c - the request queue: one per export, the life of every request.
 *
 * Lifecycle (the blktrace letters of spec D.4 go to the trace hook through
 * trace.c; requests come from request.c, the elevator from elevator.c):
 *
 *   submit  Q   bio arrives; it is validated, then
 *           M/F merged into a request held by the elevator (merge.c), or
 *           G   a request is taken from the free list, and
 *           I   inserted: SORT into the elevator, or BACK for a request that
 *               asks for an ordered sequence (FLUSH or FUA; spec B.1: a
 *               barrier is forced from SORT to BACK, which first drains the
 *               elevator onto the dispatch queue).
 *   fetch   D   a worker takes the head of the generic dispatch queue
 *               (dispatch.c), after flush.c had its say (drain, steps).
 *   end     C   the backend returned; bios end with the request's error,
 *               or, for a step of an ordered sequence, when the sequence ends.
 *   requeue R   the driver gave an issued request back (front insertion).
 *
 * Workers: nr_threads threads per queue each loop fetch -> issue to the
 * backend with q->lock dropped -> end.  A submitter wakes one idle worker
 * per batch; a worker that leaves work behind wakes one more, so the pool
 * grows only while requests wait (and no submitter runs the queue itself,
 * see direct issue below).  With zero threads the caller pumps the
 * queue with blkd_queue_run_once() (unit tests, with a fake clock).
 *
 * Requests come from a free list refilled in chunks of 64 (request.c), so
 * the data path does not allocate in steady state.  Bio callbacks never run
 * under the lock: ended bios are chained on q->done_head and called after
 * unlock.
 *
 * Asynchronous backends (.submit, the NBD upstream and multipath of
 * mpath.c) take the request and return at once; the worker goes on
 * fetching, and the backend later calls blkd_io_end() (C) or
 * blkd_io_requeue() (R: failover, the request is issued again, D, and the
 * backend picks another path).  Then one worker keeps many requests in
 * flight, and the drain of flush.c still counts them in in_flight.
 *
 * Known gaps: tag modes are honoured by issuing from a single worker (see
 * flush.c), which an async backend does not guarantee: mpath declares drain
 * modes only.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blkd-int.h"
#include "ob/clock.h"



static uint64_t clock_monotonic(void *arg)
{
	(void)arg;
	return ob_mono_ns();
}

void blkd_queue_opts_init(struct blkd_queue_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->scheduler = "deadline";
	o->ordered = -1;
	o->max_merge = BLKD_MAX_MERGE_DEFAULT;
	o->threads = 4;
}


/* ---- ending bios ---------------------------------------------------------- */

void __blkd_bio_end(struct blkd_queue *q, struct blkd_bio *bio, int err)
{
	bio->error = err;
	__blkd_stats_end(q, bio, err, blkd_now(q));
	bio->bi_next = NULL;
	if (q->done_tail)
		q->done_tail->bi_next = bio;
	else
		q->done_head = bio;
	q->done_tail = bio;
}

void __blkd_rq_end_bios(struct blkd_queue *q, struct blkd_request *rq, int err)
{
	struct blkd_bio *bio = rq->bio, *next;

	for (; bio; bio = next) {
		next = bio->bi_next;
		__blkd_bio_end(q, bio, err);
	}
	rq->bio = rq->biotail = NULL;
}

/* Take the ended bios off the queue (q->lock held); call them back with
 * run_bios once it is dropped. */
static struct blkd_bio *__blkd_take_done(struct blkd_queue *q)
{
	struct blkd_bio *bio = q->done_head;

	q->done_head = q->done_tail = NULL;
	return bio;
}

static void run_bios(struct blkd_bio *bio)
{
	for (struct blkd_bio *next; bio; bio = next) {
		next = bio->bi_next;
		bio->bi_next = NULL;
		bio->end_io(bio);
	}
}

/* Called with q->lock held; drops it to run the callbacks, retakes it. */
static bool __blkd_run_done(struct blkd_queue *q)
{
	bool ran = q->done_head != NULL;

	while (q->done_head) {
		struct blkd_bio *bio = __blkd_take_done(q);

		pthread_mutex_unlock(&q->lock);
		run_bios(bio);
		pthread_mutex_lock(&q->lock);
	}
	return ran;
}

/* ---- submission ------------------------------------------------------------ */

static int bio_check(struct blkd_queue *q, const struct blkd_bio *bio)
{
	const struct blkd_backend *be = q->be;
	bool write = bio->op == BLKD_OP_WRITE || bio->op == BLKD_OP_TRIM || bio->op == BLKD_OP_ZERO;

	if ((unsigned)bio->op >= BLKD_OP_NR)
		return -EINVAL;
	if (write && (be->caps & BLKD_CAP_READONLY))
		return -EPERM;
	if (bio->op == BLKD_OP_FLUSH)
		return q->ordered == BLKD_ORDERED_NONE ? -EOPNOTSUPP : 0;
	if ((bio->flags & BLKD_F_FUA) && q->ordered == BLKD_ORDERED_NONE)
		return -EOPNOTSUPP;
	if (bio->off > be->size || bio->len > be->size - bio->off)
		return bio->op == BLKD_OP_WRITE || bio->op == BLKD_OP_ZERO ? -ENOSPC : -EINVAL;
	if (!bio->len && (bio->op == BLKD_OP_TRIM || bio->op == BLKD_OP_ZERO))
		return -EINVAL;		/* the backends' fallocate would say so, later */
	if ((bio->op == BLKD_OP_TRIM && !be->ops->trim) ||
	    (bio->op == BLKD_OP_ZERO && !be->ops->zero))
		return -EOPNOTSUPP;
	return 0;
}

static void __blkd_submit_one(struct blkd_queue *q, struct blkd_bio *bio)
{
	struct blkd_request *rq;
	int rc;

	bio->t_submit = blkd_now(q);
	bio->bi_next = NULL;
	__blkd_stats_submit(q, bio);
	__blkd_trace(q, BLKD_EV_QUEUE, NULL, bio);
	rc = bio_check(q, bio);
	if (rc)
		goto fail;
	if (__blkd_ordered_wants(q, bio)) {
		rq = __blkd_rq_alloc(q);
		rc = -ENOMEM;
		if (!rq)
			goto fail;
		__blkd_rq_init_from_bio(rq, bio);
		rq->flags |= RQ_ORDERED | RQ_NOMERGE;
		__blkd_trace(q, BLKD_EV_GETRQ, rq, NULL);
		__blkd_insert(q, rq, BLKD_INSERT_BACK);
		return;
	}
	if (__blkd_merge_bio(q, bio))
		return;
	rq = __blkd_rq_alloc(q);
	rc = -ENOMEM;
	if (!rq)
		goto fail;
	__blkd_rq_init_from_bio(rq, bio);
	if (bio->op != BLKD_OP_READ && bio->op != BLKD_OP_WRITE)
		rq->flags |= RQ_NOMERGE;
	__blkd_trace(q, BLKD_EV_GETRQ, rq, NULL);
	__blkd_insert(q, rq, BLKD_INSERT_SORT);
	return;
fail:
	__blkd_bio_end(q, bio, rc);
}

/* Submit a batch; a batch of more than one bio is a plug (P ... U). */
static void __blkd_submit_batch(struct blkd_queue *q, struct blkd_bio **bios, unsigned n)
{
	if (n > 1)
		__blkd_trace_batch(q, BLKD_EV_PLUG, n);
	for (unsigned i = 0; i < n; i++)
		__blkd_submit_one(q, bios[i]);
	if (n > 1)
		__blkd_trace_batch(q, BLKD_EV_UNPLUG, n);
}

void blkd_queue_submit(struct blkd_queue *q, struct blkd_bio **bios, unsigned n)
{
	pthread_mutex_lock(&q->lock);
	__blkd_submit_batch(q, bios, n);
	if (q->idle_workers)
		pthread_cond_signal(&q->work);
	__blkd_run_done(q);
	pthread_mutex_unlock(&q->lock);
}

static bool blkd_backend_issue(struct blkd_queue *q, struct blkd_request *rq, int *errp);
static void __blkd_rq_end(struct blkd_queue *q, struct blkd_request *rq, int err);

/* rq ended where it was issued (q->lock held): a backend I/O unless it was
 * cancelled before it reached the backend (-ECANCELED, which the stats
 * count as cancelled, not as an error). */
static void __blkd_issued_end(struct blkd_queue *q, struct blkd_request *rq, int err)
{
	if (err != -ECANCELED)
		q->stats.backend_ios++;
	__blkd_rq_end(q, rq, err);
}

/*
 * Direct issue: the submitter runs the queue itself, so a request served
 * from the page cache costs no thread handoff (two context switches and a
 * futex wake per batch - what kept the first version at 0.66x nbdkit's
 * 4 KiB IOPS).  The elevator, merging and flush.c still decide what comes
 * next; only the thread differs.  As soon as one request takes longer than
 * BLKD_SLOW_NS (a real disk, O_DIRECT, fdatasync) or the budget is spent,
 * the rest goes to the worker pool so slow I/O still overlaps.
 *
 * With helper set, one idle worker is woken at once and shares the batch
 * with the submitter (buffered writes: each costs a few microseconds in
 * the kernel, so two threads on two cores pay, while a handoff of every
 * request to the pool cost a futex wake and a context switch each).
 * While a submitter runs the queue, a worker does not wake further workers
 * (q->nr_direct): the submitter is the second pair of hands, and the
 * wake chain made four workers take one request per wake-up.
 */
#define BLKD_SLOW_NS 200000ull
#define BLKD_DIRECT_BUDGET 256

static void queue_run_direct(struct blkd_queue *q, struct blkd_bio **bios, unsigned n, bool helper)
{
	unsigned budget = BLKD_DIRECT_BUDGET;

	pthread_mutex_lock(&q->lock);
	__blkd_submit_batch(q, bios, n);
	if (helper && q->idle_workers && q->nr_dispatch + q->nr_sorted > 1)
		pthread_cond_signal(&q->work);
	q->nr_direct++;
	while (budget--) {
		struct blkd_request *rq = __blkd_dispatch_fetch(q);
		struct blkd_bio *done = __blkd_take_done(q);
		uint64_t t0;
		int err;
		bool sync;

		pthread_mutex_unlock(&q->lock);
		run_bios(done);
		if (!rq) {
			pthread_mutex_lock(&q->lock);
			if (q->done_head)
				continue;	/* a sequence ended at fetch time */
			break;
		}
		t0 = blkd_now(q);
		sync = blkd_backend_issue(q, rq, &err);
		t0 = blkd_now(q) - t0;
		pthread_mutex_lock(&q->lock);
		if (!sync)
			continue;	/* ends later through blkd_io_end */
		__blkd_issued_end(q, rq, err);
		if (t0 > BLKD_SLOW_NS)
			break;
	}
	q->nr_direct--;
	__blkd_run_done(q);
	if (q->idle_workers && (__blkd_has_work(q) || q->wake_at || q->thr_at))
		pthread_cond_signal(&q->work);
	pthread_mutex_unlock(&q->lock);
}

void blkd_queue_submit_direct(struct blkd_queue *q, struct blkd_bio **bios, unsigned n)
{
	queue_run_direct(q, bios, n, false);
}

void blkd_queue_submit_shared(struct blkd_queue *q, struct blkd_bio **bios, unsigned n)
{
	/* Tag modes keep order by issuing from one thread (flush.c). */
	if (q->ordered & BLKD_ORDERED_BY_TAG)
		blkd_queue_submit(q, bios, n);
	else
		queue_run_direct(q, bios, n, true);
}

/* ---- issuing to the backend --------------------------------------------------- */

/* Fill rq's iovec from its bios; returns the count. */
static int rq_map_iov(struct blkd_request *rq)
{
	int n = 0;

	for (struct blkd_bio *b = rq->bio; b && n < BLKD_MAX_SEGMENTS; b = b->bi_next) {
		rq->iov[n].iov_base = b->buf;
		rq->iov[n].iov_len = b->len;
		n++;
	}
	return n;
}

/* Hand rq to an asynchronous backend (.submit). */
static void blkd_backend_submit(struct blkd_backend *be, struct blkd_request *rq)
{
	struct blkd_io *io = &rq->io;
	unsigned requeues = rq->flags & RQ_REQUEUED_ONCE ? io->requeues : 0;

	if (!(rq->flags & RQ_REQUEUED_ONCE))
		memset(io->bpriv, 0, sizeof(io->bpriv));
	io->op = rq->op;
	io->fua = rq->flags & RQ_FUA;
	io->zflags = rq->op == BLKD_OP_ZERO && rq->bio ? rq->bio->flags : 0;
	io->off = rq->off;
	io->len = rq->len;
	io->iov = rq->iov;
	io->iovcnt = rq->op == BLKD_OP_READ || rq->op == BLKD_OP_WRITE ? rq_map_iov(rq) : 0;
	io->requeues = requeues;
	be->ops->submit(be, io);
}

/*
 * Issue rq; called without q->lock.  The one place optional backend hooks
 * are checked.  Returns true when the request ended here with *errp, false
 * when an asynchronous backend took it (it ends through blkd_io_end).
 */
void blkd_client_cancel(struct blkd_client *c)
{
	__atomic_store_n(&c->cancelled, true, __ATOMIC_RELEASE);
}

/* Every bio of rq belongs to a client that left (a merged request with a
 * live client's bio runs).  A FLUSH is never cancelled: it may stand for
 * others' writes (flush.c). */
static bool rq_cancelled(const struct blkd_request *rq)
{
	if (rq->op == BLKD_OP_FLUSH || !rq->bio)
		return false;
	for (const struct blkd_bio *bio = rq->bio; bio; bio = bio->bi_next)
		if (!bio->client || !__atomic_load_n(&bio->client->cancelled, __ATOMIC_ACQUIRE))
			return false;
	return true;
}

static bool blkd_backend_issue(struct blkd_queue *q, struct blkd_request *rq, int *errp)
{
	struct blkd_backend *be = q->be;
	const struct blkd_backend_ops *ops = be->ops;
	int n;

	if (rq_cancelled(rq)) {
		*errp = -ECANCELED;
		return true;
	}
	if (ops->submit) {
		blkd_backend_submit(be, rq);
		return false;
	}
	switch (rq->op) {
	case BLKD_OP_READ:
	case BLKD_OP_WRITE:
		n = rq_map_iov(rq);
		if (rq->op == BLKD_OP_READ)
			*errp = ops->preadv(be, rq->iov, n, rq->off);
		else
			*errp = ops->pwritev(be, rq->iov, n, rq->off, rq->flags & RQ_FUA);
		break;
	case BLKD_OP_FLUSH:
		*errp = ops->flush ? ops->flush(be) : 0;
		break;
	case BLKD_OP_TRIM:
		*errp = ops->trim ? ops->trim(be, rq->off, rq->len) : -EOPNOTSUPP;
		break;
	case BLKD_OP_ZERO:
		*errp = ops->zero ? ops->zero(be, rq->off, rq->len, rq->bio ? rq->bio->flags : 0)
				  : -EOPNOTSUPP;
		break;
	case BLKD_OP_CACHE:
		*errp = ops->cache ? ops->cache(be, rq->off, rq->len) : 0;
		break;
	default:
		*errp = -EINVAL;
	}
	return true;
}

static void __blkd_rq_end(struct blkd_queue *q, struct blkd_request *rq, int err)
{
	rq->error = err;
	q->in_flight--;
	rq->flags &= ~RQ_STARTED;
	__blkd_trace(q, BLKD_EV_COMPLETE, rq, NULL);
	elv_completed(q, rq);
	__blkd_note_write_error(q, rq, err);
	if (!__blkd_ordered_complete(q, rq, err)) {
		__blkd_rq_end_bios(q, rq, err);
		__blkd_rq_free(q, rq);
	}
	__blkd_ordered_check_drain(q);	/* wakes workers when a drain ends */
	if (q->in_flight == 0)
		pthread_cond_broadcast(&q->idle);
}

struct blkd_request *blkd_queue_fetch(struct blkd_queue *q)
{
	struct blkd_request *rq;

	pthread_mutex_lock(&q->lock);
	rq = __blkd_dispatch_fetch(q);
	__blkd_run_done(q);	/* a sequence may have ended at fetch time */
	pthread_mutex_unlock(&q->lock);
	return rq;
}

void blkd_queue_execute(struct blkd_queue *q, struct blkd_request *rq)
{
	int err;

	if (!blkd_backend_issue(q, rq, &err))
		return;
	pthread_mutex_lock(&q->lock);
	__blkd_issued_end(q, rq, err);
	__blkd_run_done(q);
	pthread_mutex_unlock(&q->lock);
}

int blkd_queue_run_once(struct blkd_queue *q)
{
	struct blkd_request *rq = blkd_queue_fetch(q);

	if (!rq)
		return 0;
	blkd_queue_execute(q, rq);
	return 1;
}

static void __blkd_requeue(struct blkd_queue *q, struct blkd_request *rq)
{
	q->in_flight--;
	rq->flags &= ~RQ_STARTED;
	__blkd_trace(q, BLKD_EV_REQUEUE, rq, NULL);
	__blkd_insert(q, rq, BLKD_INSERT_REQUEUE);
	__blkd_ordered_check_drain(q);
	pthread_cond_signal(&q->work);
}

void blkd_queue_requeue(struct blkd_queue *q, struct blkd_request *rq)
{
	pthread_mutex_lock(&q->lock);
	__blkd_requeue(q, rq);
	pthread_mutex_unlock(&q->lock);
}

/* ---- the asynchronous side (.submit backends) ------------------------------------ */

void blkd_io_end(struct blkd_io *io, int err)
{
	struct blkd_request *rq = list_entry(io, struct blkd_request, io);
	struct blkd_queue *q = rq->q;

	pthread_mutex_lock(&q->lock);
	q->stats.backend_ios++;
	__blkd_rq_end(q, rq, err);
	__blkd_run_done(q);
	if (q->stopping && !q->in_flight)
		pthread_cond_broadcast(&q->work);	/* workers wait for the last one */
	pthread_mutex_unlock(&q->lock);
}

void blkd_io_requeue(struct blkd_io *io, const char *why)
{
	struct blkd_request *rq = list_entry(io, struct blkd_request, io);
	struct blkd_queue *q = rq->q;

	pthread_mutex_lock(&q->lock);
	io->requeues++;
	rq->flags |= RQ_REQUEUED_ONCE;
	if (why)
		__blkd_trace_msg(q, why);
	__blkd_requeue(q, rq);
	pthread_mutex_unlock(&q->lock);
}

void blkd_io_message(struct blkd_io *io, const char *fmt, ...)
{
	struct blkd_request *rq = list_entry(io, struct blkd_request, io);
	struct blkd_queue *q = rq->q;
	char buf[200];
	va_list ap;

	if (!q->trace)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&q->lock);
	__blkd_trace_msg(q, buf);
	pthread_mutex_unlock(&q->lock);
}

/*
 * A worker ends a request, fetches the next and takes the ended bios in
 * one hold of q->lock, then calls the bios back and issues with it
 * dropped: one lock round trip per request instead of three, which
 * mattered when five threads shared the lock on two cores.
 */
static void *blkd_worker(void *arg)
{
	struct blkd_queue *q = arg;

	pthread_setname_np(pthread_self(), "blkd-worker");	/* blktrace process notes */
	pthread_mutex_lock(&q->lock);
	for (;;) {
		struct blkd_request *rq = __blkd_dispatch_fetch(q);
		struct blkd_bio *done = __blkd_take_done(q);
		bool sync;
		int err;

		if (!rq && done) {
			pthread_mutex_unlock(&q->lock);
			run_bios(done);
			pthread_mutex_lock(&q->lock);
			continue;	/* the lock was dropped: look again */
		}
		if (!rq) {
			if (q->stopping && !q->nr_sorted && !q->nr_dispatch && !q->in_flight)
				break;
			q->idle_workers++;
			if (q->wake_at || q->thr_at) {
				uint64_t ns = !q->wake_at ? q->thr_at : !q->thr_at ? q->wake_at
					      : q->wake_at < q->thr_at ? q->wake_at : q->thr_at;
				/* CLOCK_MONOTONIC only here */
				struct timespec ts = { .tv_sec = ns / 1000000000ull,
						       .tv_nsec = ns % 1000000000ull };

				pthread_cond_timedwait(&q->work, &q->lock, &ts);
			} else {
				pthread_cond_wait(&q->work, &q->lock);
			}
			q->idle_workers--;
			continue;
		}
		if (q->idle_workers && !q->nr_direct && __blkd_has_work(q))
			pthread_cond_signal(&q->work);
		pthread_mutex_unlock(&q->lock);
		run_bios(done);
		sync = blkd_backend_issue(q, rq, &err);
		pthread_mutex_lock(&q->lock);
		if (!sync)
			continue;
		__blkd_issued_end(q, rq, err);
	}
	pthread_cond_broadcast(&q->work);
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

/* ---- create / destroy ------------------------------------------------------------ */

int blkd_queue_create(struct blkd_backend *be, const struct blkd_queue_opts *o,
		      struct blkd_queue **out, struct ob_err *err)
{
	struct blkd_queue_opts def;
	struct blkd_queue *q;
	pthread_condattr_t ca;
	int rc;

	if (!o) {
		blkd_queue_opts_init(&def);
		o = &def;
	}
	const struct blkd_elevator_ops *elv = blkd_elevator_find(o->scheduler ? o->scheduler : "deadline");
	if (!elv) {
		return ob_err_set(err, -EINVAL, "unknown scheduler '%s' (expected noop, deadline "
				  "or fair)", o->scheduler);
	}
	int mode = o->ordered < 0 ? be->ordered : o->ordered;
	if ((mode & (BLKD_ORDERED_PREFLUSH | BLKD_ORDERED_POSTFLUSH)) && !be->ops->flush &&
	    !be->ops->submit) {
		return ob_err_set(err, -EINVAL, "ordered mode %s needs a flush the %s backend lacks",
				  blkd_ordered_name(mode), be->ops->name);
	}
	if ((mode & BLKD_ORDERED_BY_TAG) && be->ops->submit)
		return ob_err_set(err, -EINVAL, "ordered mode %s needs requests issued in order, "
				  "which the %s backend does not keep (drain modes only)",
				  blkd_ordered_name(mode), be->ops->name);
	if ((mode & BLKD_ORDERED_FUA) && !(be->caps & BLKD_CAP_FUA)) {
		return ob_err_set(err, -EINVAL, "ordered mode %s needs native FUA the %s backend "
				  "lacks", blkd_ordered_name(mode), be->ops->name);
	}
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->be = be;
	q->ordered = mode;
	q->max_merge = o->max_merge;
	q->clock = o->clock ? o->clock : clock_monotonic;
	q->clock_arg = o->clock_arg;
	q->trace = o->trace;
	q->trace_arg = o->trace_arg;
	/* Tag modes rely on issue order being execution order (flush.c). */
	q->nr_threads = (mode & BLKD_ORDERED_BY_TAG) && o->threads ? 1 : o->threads;
	list_init(&q->dispatch);
	list_init(&q->free_rqs);
	list_init(&q->chunks);
	q->ord.pre_rq.flags = q->ord.post_rq.flags = RQ_PROXY;
	pthread_mutex_init(&q->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->work, &ca);
	pthread_cond_init(&q->idle, &ca);
	pthread_condattr_destroy(&ca);
	q->elv = elv;
	rc = elv->init(q);
	if (rc)
		goto err_free;
	if (q->nr_threads) {
		q->threads = calloc(q->nr_threads, sizeof(*q->threads));
		rc = -ENOMEM;
		if (!q->threads)
			goto err_elv;
		for (unsigned i = 0; i < q->nr_threads; i++) {
			rc = -pthread_create(&q->threads[i], NULL, blkd_worker, q);
			if (rc) {
				ob_err_set(err, rc, "cannot start worker thread");
				q->nr_threads = i;
				goto err_threads;
			}
		}
	}
	*out = q;
	return 0;
err_threads:
	blkd_queue_destroy(q);
	return rc;
err_elv:
	elv->exit(q);
err_free:
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->work);
	pthread_cond_destroy(&q->idle);
	free(q);
	return rc;
}

void blkd_queue_destroy(struct blkd_queue *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	q->stopping = true;
	pthread_cond_broadcast(&q->work);
	pthread_mutex_unlock(&q->lock);
	for (unsigned i = 0; i < q->nr_threads; i++)
		pthread_join(q->threads[i], NULL);
	free(q->threads);
	/* Without workers, end whatever is still queued with -ESHUTDOWN. */
	pthread_mutex_lock(&q->lock);
	__blkd_elv_drain(q);
	while (!list_empty(&q->dispatch)) {
		struct blkd_request *rq = list_first_entry(&q->dispatch, struct blkd_request, queuelist);

		list_del_init(&rq->queuelist);
		q->nr_dispatch--;
		if (rq->flags & RQ_PROXY)
			continue;
		__blkd_rq_end_bios(q, rq, -ESHUTDOWN);
	}
	if (q->ord.orig && q->ord.orig->bio)
		__blkd_rq_end_bios(q, q->ord.orig, -ESHUTDOWN);
	__blkd_run_done(q);
	q->elv->exit(q);
	pthread_mutex_unlock(&q->lock);
	blkd_rq_free_all(q);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->work);
	pthread_cond_destroy(&q->idle);
	free(q);
}

/* ---- scheduler switch and accessors ------------------------------------------------ */

int blkd_queue_set_scheduler(struct blkd_queue *q, const char *name)
{
	const struct blkd_elevator_ops *elv = blkd_elevator_find(name);
	const struct blkd_elevator_ops *old;
	int rc;

	if (!elv)
		return -EINVAL;
	pthread_mutex_lock(&q->lock);
	__blkd_elv_drain(q);		/* force dispatch: the old one holds nothing */
	old = q->elv;
	old->exit(q);
	q->elv = elv;
	q->elv_gen++;
	q->wake_at = 0;
	rc = elv->init(q);
	if (rc) {			/* fall back to the old one, which cannot fail twice */
		q->elv = old;
		old->init(q);
	}
	pthread_cond_broadcast(&q->work);
	pthread_mutex_unlock(&q->lock);
	return rc;
}

const char *blkd_queue_scheduler(struct blkd_queue *q)
{
	const char *n;

	pthread_mutex_lock(&q->lock);
	n = q->elv->name;
	pthread_mutex_unlock(&q->lock);
	return n;
}

int blkd_queue_ordered(struct blkd_queue *q)
{
	return q->ordered;
}

struct blkd_backend *blkd_queue_backend(struct blkd_queue *q)
{
	return q->be;
}

void blkd_queue_stats(struct blkd_queue *q, const struct blkd_client *c, struct blkd_stats *out)
{
	pthread_mutex_lock(&q->lock);
	*out = c ? c->stats : q->stats;
	pthread_mutex_unlock(&q->lock);
}

void blkd_queue_set_limit(struct blkd_queue *q, const struct blkd_limit *lim)
{
	pthread_mutex_lock(&q->lock);
	q->limit = *lim;
	q->thr_at = 0;
	if (q->idle_workers)
		pthread_cond_broadcast(&q->work);	/* held requests: look again */
	pthread_mutex_unlock(&q->lock);
}

void blkd_queue_get_limit(struct blkd_queue *q, struct blkd_limit *lim)
{
	pthread_mutex_lock(&q->lock);
	*lim = q->limit;
	pthread_mutex_unlock(&q->lock);
}

void blkd_queue_client_gone(struct blkd_queue *q, struct blkd_client *c)
{
	pthread_mutex_lock(&q->lock);
	elv_client_gone(q, c);
	pthread_mutex_unlock(&q->lock);
}

void blkd_backend_destroy(struct blkd_backend *be)
{
	if (be && be->ops->destroy)
		be->ops->destroy(be);
}
