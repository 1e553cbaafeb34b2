/* SPDX-License-Identifier: MIT */
/*
 * dispatch.c - the generic dispatch queue shared by all schedulers.
 *
 * Tejun Heo's 2.6.15 design (spec B.1): the backend takes requests only
 * from q->dispatch; when it is empty the elevator's dispatch hook moves
 * one or more requests in, and returning 0 means "nothing now" (that is
 * how the fair scheduler idles).  Four insertion points:
 *
 *   FRONT   head of the queue, marked SOFTBARRIER (special requests);
 *   BACK    force-drain the elevator onto the queue, then append, marked
 *           SOFTBARRIER; used for FLUSH/FUA requests, so everything queued
 *           before them is ahead of them (what flush.c's drain relies on);
 *   SORT    hand the request to the elevator (add_request), mark SORTED;
 *   REQUEUE like FRONT, but behind the steps of a running ordered
 *           sequence that are still queued, so sequence order is kept.
 *
 * Schedulers that have chosen an order append with blkd_dispatch_add_tail
 * (deadline); those that want a one-way elevator use blkd_dispatch_sort
 * (noop, fair), which walks back from the tail and stops at a SOFTBARRIER.
 * Both record the boundary end_off, as elv_dispatch_add_tail did.
 *
 * Fetch asks flush.c (blkd_do_ordered) about the head first: it may start
 * a sequence, substitute a step, or hold everything back while draining.
 * All functions here expect q->lock held.
 */
#include "blkd-int.h"

static void dispatch_taken_from_elv(struct blkd_queue *q, struct blkd_request *rq)
{
	__blkd_hash_del(q, rq);
	if (q->last_merge == rq)
		q->last_merge = NULL;
	q->nr_sorted--;
	q->nr_dispatch++;
}

void blkd_dispatch_add_tail(struct blkd_queue *q, struct blkd_request *rq)
{
	dispatch_taken_from_elv(q, rq);
	q->end_off = rq_end(rq);
	list_add_tail(&rq->queuelist, &q->dispatch);
}

/*
 * One-way elevator insertion (elv_dispatch_sort).  Requests at or beyond
 * the boundary go first in ascending order, wrapped ones after them.
 * O(n) in the dispatch queue length, which the elevators keep to a quantum.
 */
void blkd_dispatch_sort(struct blkd_queue *q, struct blkd_request *rq)
{
	uint64_t boundary = q->end_off;
	struct list_head *entry;

	dispatch_taken_from_elv(q, rq);
	for (entry = q->dispatch.prev; entry != &q->dispatch; entry = entry->prev) {
		struct blkd_request *pos = list_entry(entry, struct blkd_request, queuelist);

		if (pos->flags & (RQ_SOFTBARRIER | RQ_STARTED) || pos->step != STEP_NONE)
			break;
		if (rq->off >= boundary) {
			if (pos->off < boundary)
				continue;
		} else {
			if (pos->off >= boundary)
				break;
		}
		if (rq->off >= pos->off)
			break;
	}
	__list_add(&rq->queuelist, entry, entry->next);
}

/* Move everything the elevator holds onto the dispatch queue. */
void __blkd_elv_drain(struct blkd_queue *q)
{
	while (q->nr_sorted && elv_dispatch(q, 1) > 0)
		;
}

void __blkd_insert(struct blkd_queue *q, struct blkd_request *rq, enum blkd_insert where)
{
	struct list_head *pos;

	switch (where) {
	case BLKD_INSERT_FRONT:
		rq->flags |= RQ_SOFTBARRIER;
		list_add(&rq->queuelist, &q->dispatch);
		q->nr_dispatch++;
		break;
	case BLKD_INSERT_BACK:
		__blkd_elv_drain(q);
		rq->flags |= RQ_SOFTBARRIER;
		list_add_tail(&rq->queuelist, &q->dispatch);
		q->nr_dispatch++;
		break;
	case BLKD_INSERT_SORT:
		rq->flags |= RQ_SORTED;
		rq->elv_gen = q->elv_gen;
		rq->t_insert = blkd_now(q);
		q->nr_sorted++;
		elv_add_request(q, rq);
		if (!(rq->flags & RQ_NOMERGE)) {
			__blkd_hash_add(q, rq);
			q->last_merge = rq;
		}
		break;
	case BLKD_INSERT_REQUEUE:
		/*
		 * Keep sequence order (spec A.4 item 8).  A step goes back in
		 * front of the later steps.  A plain request given back while a
		 * drain-mode sequence runs was issued before the barrier (nothing
		 * else is issued then), so it goes to the very front and flush.c
		 * lets it out and waits for it before the next step (RQ_REQUEUED).
		 * Otherwise (tag modes, no sequence) it goes behind queued steps.
		 */
		pos = &q->dispatch;
		if (rq->step != STEP_NONE) {
			while (pos->next != &q->dispatch &&
			       list_entry(pos->next, struct blkd_request, queuelist)->step != STEP_NONE &&
			       list_entry(pos->next, struct blkd_request, queuelist)->step < rq->step)
				pos = pos->next;
		} else if (q->ord.seq && (q->ordered & BLKD_ORDERED_BY_DRAIN)) {
			rq->flags |= RQ_REQUEUED;
			q->nr_requeued++;
		} else {
			while (pos->next != &q->dispatch &&
			       list_entry(pos->next, struct blkd_request, queuelist)->step != STEP_NONE)
				pos = pos->next;
		}
		rq->flags |= RQ_SOFTBARRIER;
		__list_add(&rq->queuelist, pos, pos->next);
		q->nr_dispatch++;
		break;
	}
	__blkd_trace(q, BLKD_EV_INSERT, rq, NULL);
}

bool __blkd_has_work(struct blkd_queue *q)
{
	return q->nr_dispatch || q->nr_sorted;
}

/* The export's limit lets rq go (charging it once), or sets q->thr_at to
 * when it will (the workers sleep until then). */
static bool __blkd_throttle_pass(struct blkd_queue *q, struct blkd_request *rq)
{
	uint64_t now, wait;
	unsigned ios = 0;

	if (rq->flags & RQ_CHARGED || !blkd_limit_any(&q->limit) || rq->op == BLKD_OP_FLUSH ||
	    rq->op == BLKD_OP_CACHE)
		return true;
	for (struct blkd_bio *bio = rq->bio; bio; bio = bio->bi_next)
		ios++;
	now = blkd_now(q);
	wait = blkd_throttle_check(&q->thr, &q->limit, blkd_op_is_write(rq->op), ios ? ios : 1,
				   rq->op == BLKD_OP_READ || rq->op == BLKD_OP_WRITE ? rq->len : 0,
				   now);
	if (wait) {
		q->thr_at = now + wait;
		return false;
	}
	q->stats.throttled_us = q->thr.throttled_ns / 1000;
	q->thr_at = 0;
	rq->flags |= RQ_CHARGED;
	return true;
}

/* Next request for the backend, or NULL.  Marks it started (in flight). */
struct blkd_request *__blkd_dispatch_fetch(struct blkd_queue *q)
{
	struct blkd_request *rq;

	for (;;) {
		if (list_empty(&q->dispatch)) {
			if (!q->nr_sorted || elv_dispatch(q, 0) == 0)
				return NULL;
			continue;
		}
		rq = list_first_entry(&q->dispatch, struct blkd_request, queuelist);
		if (!__blkd_throttle_pass(q, rq))
			return NULL;
		if (!__blkd_do_ordered(q, &rq))
			return NULL;
		if (rq)
			break;
	}
	list_del_init(&rq->queuelist);
	q->nr_dispatch--;
	if (rq->flags & RQ_REQUEUED) {
		rq->flags &= ~RQ_REQUEUED;
		q->nr_requeued--;
	}
	rq->flags |= RQ_STARTED;
	q->in_flight++;
	__blkd_trace(q, BLKD_EV_ISSUE, rq, NULL);
	return rq;
}
