/* SPDX-License-Identifier: MIT */
/*
 * elv-deadline.c - Jens Axboe's deadline scheduler (spec B.4), on the
 * generic dispatch queue.
 *
 * Two directions (reads and prefetch; writes, trims and zeroes), each with
 * a FIFO stamped "insert time + expire" and a list sorted by offset.  The
 * kernel's defaults: read_expire 500 ms, write_expire 5 s, fifo_batch 16,
 * writes_starved 2.  Dispatch, step by step as deadline_dispatch_requests:
 *
 *   1. a batch runs: if the next request in offset order (same direction)
 *      exists and fewer than fifo_batch were dispatched, take it;
 *   2. otherwise pick a direction: reads, unless writes are waiting and
 *      reads were already preferred writes_starved times in a row;
 *   3. if that direction's FIFO head has expired (or there is no next
 *      request in offset order) restart from the FIFO head, else continue
 *      in offset order; start a new batch;
 *   4. append the request with blkd_dispatch_add_tail (order is chosen).
 *
 * Expiry is checked between batches only, so a read waits at most its
 * expiry plus one batch of writes (the test-elv-deadline bound).  The
 * sorted lists are linked lists with O(n) insertion from the tail; the
 * elevator holds at most a few hundred requests here (queue depths of
 * 16-128 per client), and an rbtree is the fix if that ever changes.
 */
#include <errno.h>
#include <stdlib.h>

#include "blkd-int.h"

#define MS 1000000ull

struct deadline_data {
	struct list_head fifo[2];	/* elv_node[0] */
	struct list_head sort[2];	/* elv_node[1], ascending offset */
	struct blkd_request *next_rq[2];
	unsigned batching;
	unsigned starved;
	uint64_t expire[2];
	unsigned fifo_batch;
	unsigned writes_starved;
};

static int deadline_init(struct blkd_queue *q)
{
	struct deadline_data *dd = calloc(1, sizeof(*dd));

	if (!dd)
		return -ENOMEM;
	for (int d = 0; d < 2; d++) {
		list_init(&dd->fifo[d]);
		list_init(&dd->sort[d]);
	}
	dd->expire[0] = 500 * MS;
	dd->expire[1] = 5000 * MS;
	dd->fifo_batch = 16;
	dd->writes_starved = 2;
	q->elv_data = dd;
	return 0;
}

static void deadline_exit(struct blkd_queue *q)
{
	free(q->elv_data);
	q->elv_data = NULL;
}

static void sort_add(struct deadline_data *dd, struct blkd_request *rq)
{
	struct list_head *head = &dd->sort[rq_dir(rq)], *pos;

	for (pos = head->prev; pos != head; pos = pos->prev)
		if (list_entry(pos, struct blkd_request, elv_node[1])->off <= rq->off)
			break;
	__list_add(&rq->elv_node[1], pos, pos->next);
}

static struct blkd_request *sort_next(struct deadline_data *dd, struct blkd_request *rq)
{
	struct list_head *n = rq->elv_node[1].next;

	return n == &dd->sort[rq_dir(rq)] ? NULL : list_entry(n, struct blkd_request, elv_node[1]);
}

static void deadline_add_request(struct blkd_queue *q, struct blkd_request *rq)
{
	struct deadline_data *dd = q->elv_data;
	int dir = rq_dir(rq);

	sort_add(dd, rq);
	rq->deadline = rq->t_insert + dd->expire[dir];
	list_add_tail(&rq->elv_node[0], &dd->fifo[dir]);
}

static void deadline_remove(struct deadline_data *dd, struct blkd_request *rq)
{
	int dir = rq_dir(rq);

	if (dd->next_rq[dir] == rq)
		dd->next_rq[dir] = sort_next(dd, rq);
	list_del_init(&rq->elv_node[0]);
	list_del_init(&rq->elv_node[1]);
}

static void deadline_merged(struct blkd_queue *q, struct blkd_request *rq, int type)
{
	struct deadline_data *dd = q->elv_data;

	if (type == ELV_MERGE_FRONT) {		/* its key changed: re-sort */
		if (dd->next_rq[rq_dir(rq)] == rq)
			dd->next_rq[rq_dir(rq)] = NULL;
		list_del_init(&rq->elv_node[1]);
		sort_add(dd, rq);
	}
}

static void deadline_merge_requests(struct blkd_queue *q, struct blkd_request *rq,
				    struct blkd_request *next)
{
	struct deadline_data *dd = q->elv_data;

	/* keep the earlier deadline, and that FIFO position */
	if (next->deadline < rq->deadline) {
		list_del_init(&rq->elv_node[0]);
		__list_add(&rq->elv_node[0], &next->elv_node[0], next->elv_node[0].next);
		rq->deadline = next->deadline;
	}
	deadline_remove(dd, next);
}

static bool fifo_expired(struct blkd_queue *q, struct deadline_data *dd, int dir)
{
	struct blkd_request *rq;

	if (list_empty(&dd->fifo[dir]))
		return false;
	rq = list_first_entry(&dd->fifo[dir], struct blkd_request, elv_node[0]);
	return blkd_now(q) >= rq->deadline;
}

static void move_request(struct blkd_queue *q, struct deadline_data *dd, struct blkd_request *rq)
{
	int dir = rq_dir(rq);

	dd->next_rq[0] = dd->next_rq[1] = NULL;
	dd->next_rq[dir] = sort_next(dd, rq);
	list_del_init(&rq->elv_node[0]);
	list_del_init(&rq->elv_node[1]);
	blkd_dispatch_add_tail(q, rq);
}

static int deadline_dispatch(struct blkd_queue *q, int force)
{
	struct deadline_data *dd = q->elv_data;
	bool reads = !list_empty(&dd->fifo[0]), writes = !list_empty(&dd->fifo[1]);
	struct blkd_request *rq;
	int dir;

	(void)force;	/* each call moves one request; force just loops */
	rq = dd->next_rq[1] ? dd->next_rq[1] : dd->next_rq[0];
	if (rq && dd->batching < dd->fifo_batch)
		goto dispatch;			/* step 1 */
	if (reads) {				/* step 2 */
		if (writes && dd->starved++ >= dd->writes_starved)
			goto dispatch_writes;
		dir = 0;
		goto find;
	}
	if (writes) {
dispatch_writes:
		dd->starved = 0;
		dir = 1;
		goto find;
	}
	return 0;
find:						/* step 3 */
	if (fifo_expired(q, dd, dir) || !dd->next_rq[dir])
		rq = list_first_entry(&dd->fifo[dir], struct blkd_request, elv_node[0]);
	else
		rq = dd->next_rq[dir];
	dd->batching = 0;
dispatch:					/* step 4 */
	dd->batching++;
	move_request(q, dd, rq);
	return 1;
}

const struct blkd_elevator_ops blkd_elv_deadline = {
	.name = "deadline",
	.init = deadline_init,
	.exit = deadline_exit,
	.add_request = deadline_add_request,
	.dispatch = deadline_dispatch,
	.merged = deadline_merged,
	.merge_requests = deadline_merge_requests,
};
