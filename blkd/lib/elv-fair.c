/* SPDX-License-Identifier: MIT */
/*
 * elv-fair.c - a CFQ-style fair scheduler: one queue per client connection,
 * served round robin in time slices (spec B.4, CFQ v3 of 2.6.13-16).
 *
 * Each struct blkd_client gets its own struct fair_queue (created when its
 * first request arrives, freed when the connection goes).  Busy queues wait
 * on a round-robin list; the active queue owns the disk for one slice
 * (slice_sync = 100 ms) and moves at most quantum (4) requests per dispatch
 * call onto the dispatch queue with blkd_dispatch_sort.  A slice ends when
 * it expires, or when the queue is empty and has idled slice_idle (8 ms)
 * without a new request - the wait that lets a client with one request in
 * flight (think time close to zero) keep its slice instead of losing it to
 * a greedy neighbour with a deep queue.  Idling is done by returning 0 from
 * dispatch and setting q->wake_at, so workers re-run the queue then.
 *
 * Merges never cross clients (allow_merge), as CFQ merged only within a
 * process's queue.  One greedy client can therefore not starve another:
 * each busy client gets one slice per round (test-elv-fair checks a 50/50
 * split within 10 points for two greedy clients, and that a client at queue
 * depth 1 still gets a share against a client at depth 64).
 *
 * Not done: I/O priorities and classes, async slices, per-queue sort.
 */
#include <errno.h>
#include <stdlib.h>

#include "blkd-int.h"

#define MS 1000000ull

struct fair_queue {
	struct list_head node;		/* all queues */
	struct list_head rr;		/* round-robin list while busy */
	struct list_head fifo;		/* requests, elv_node[0] */
	struct blkd_client *client;
	unsigned queued;
	unsigned in_flight;
	uint64_t slice_end;
	uint64_t idle_until;
	uint64_t last_complete;
	bool on_rr;
};

struct fair_data {
	struct list_head queues;
	struct list_head rr;
	struct fair_queue *active;
	uint64_t slice;
	uint64_t slice_idle;
	unsigned quantum;
	struct fair_queue anon;		/* client == NULL, and allocation failures */
};

static void fq_init(struct fair_queue *fq, struct blkd_client *c)
{
	list_init(&fq->node);
	list_init(&fq->rr);
	list_init(&fq->fifo);
	fq->client = c;
	fq->queued = fq->in_flight = 0;
	fq->slice_end = fq->idle_until = fq->last_complete = 0;
	fq->on_rr = false;
}

static int fair_init(struct blkd_queue *q)
{
	struct fair_data *fd = calloc(1, sizeof(*fd));

	if (!fd)
		return -ENOMEM;
	list_init(&fd->queues);
	list_init(&fd->rr);
	fq_init(&fd->anon, NULL);
	fd->slice = 100 * MS;
	fd->slice_idle = 8 * MS;
	fd->quantum = 4;
	q->elv_data = fd;
	return 0;
}

static void fair_exit(struct blkd_queue *q)
{
	struct fair_data *fd = q->elv_data;

	while (!list_empty(&fd->queues)) {
		struct fair_queue *fq = list_first_entry(&fd->queues, struct fair_queue, node);

		list_del_init(&fq->node);
		free(fq);
	}
	free(fd);
	q->elv_data = NULL;
}

static struct fair_queue *fq_find(struct fair_data *fd, struct blkd_client *c)
{
	struct fair_queue *fq;

	if (!c)
		return &fd->anon;
	for (struct list_head *p = fd->queues.next; p != &fd->queues; p = p->next) {
		fq = list_entry(p, struct fair_queue, node);
		if (fq->client == c)
			return fq;
	}
	fq = malloc(sizeof(*fq));
	if (!fq)
		return &fd->anon;
	fq_init(fq, c);
	list_add_tail(&fq->node, &fd->queues);
	return fq;
}

static void fair_add_request(struct blkd_queue *q, struct blkd_request *rq)
{
	struct fair_data *fd = q->elv_data;
	struct fair_queue *fq = fq_find(fd, rq->client);

	rq->elv_priv = fq;
	list_add_tail(&rq->elv_node[0], &fq->fifo);
	fq->queued++;
	if (fq != fd->active && !fq->on_rr) {
		list_add_tail(&fq->rr, &fd->rr);
		fq->on_rr = true;
	}
	if (fq == fd->active && fq->idle_until) {	/* the wait paid off */
		fq->idle_until = 0;
		q->wake_at = 0;
	}
}

static void fair_merge_requests(struct blkd_queue *q, struct blkd_request *rq,
				struct blkd_request *next)
{
	struct fair_queue *fq = next->elv_priv;

	(void)q;
	(void)rq;
	list_del_init(&next->elv_node[0]);
	fq->queued--;
}

static bool fair_allow_merge(struct blkd_queue *q, struct blkd_request *rq,
			     const struct blkd_bio *bio)
{
	(void)q;
	return rq->client == bio->client;
}

static void fq_expire(struct fair_data *fd)
{
	struct fair_queue *fq = fd->active;

	fd->active = NULL;
	fq->idle_until = 0;
	if (fq->queued && !fq->on_rr) {
		list_add_tail(&fq->rr, &fd->rr);
		fq->on_rr = true;
	}
}

static int fq_move(struct blkd_queue *q, struct fair_queue *fq, unsigned max)
{
	int n = 0;

	while (fq->queued && (unsigned)n < max) {
		struct blkd_request *rq = list_first_entry(&fq->fifo, struct blkd_request, elv_node[0]);

		list_del_init(&rq->elv_node[0]);
		fq->queued--;
		fq->in_flight++;
		blkd_dispatch_sort(q, rq);
		n++;
	}
	return n;
}

static int fair_dispatch(struct blkd_queue *q, int force)
{
	struct fair_data *fd = q->elv_data;
	struct fair_queue *fq = fd->active;
	uint64_t now = blkd_now(q);

	if (force) {
		int n = 0;

		if (fq)
			n += fq_move(q, fq, ~0u);
		n += fq_move(q, &fd->anon, ~0u);
		for (struct list_head *p = fd->queues.next; p != &fd->queues; p = p->next)
			n += fq_move(q, list_entry(p, struct fair_queue, node), ~0u);
		return n;
	}
	if (fq && now >= fq->slice_end) {
		fq_expire(fd);
	} else if (fq && !fq->queued) {
		bool recent = fq->in_flight || now - fq->last_complete < fd->slice_idle;

		if (!fq->idle_until && recent && !list_empty(&fd->rr))
			fq->idle_until = now + fd->slice_idle;
		if (fq->idle_until && now < fq->idle_until) {
			q->wake_at = fq->idle_until;
			return 0;			/* idle: keep the slice */
		}
		fq_expire(fd);
	}
	q->wake_at = 0;
	if (!fd->active) {
		if (list_empty(&fd->rr))
			return 0;
		fq = list_first_entry(&fd->rr, struct fair_queue, rr);
		list_del_init(&fq->rr);
		fq->on_rr = false;
		fq->slice_end = now + fd->slice;
		fq->idle_until = 0;
		fd->active = fq;
	}
	return fq_move(q, fd->active, fd->quantum);
}

static void fair_completed(struct blkd_queue *q, struct blkd_request *rq)
{
	struct fair_queue *fq = rq->elv_priv;

	if (!fq)
		return;
	if (fq->in_flight)
		fq->in_flight--;
	fq->last_complete = blkd_now(q);
}

static void fair_client_gone(struct blkd_queue *q, struct blkd_client *c)
{
	struct fair_data *fd = q->elv_data;

	for (struct list_head *p = fd->queues.next; p != &fd->queues; p = p->next) {
		struct fair_queue *fq = list_entry(p, struct fair_queue, node);

		if (fq->client != c)
			continue;
		if (fd->active == fq)
			fd->active = NULL;
		if (fq->on_rr)
			list_del_init(&fq->rr);
		list_del_init(&fq->node);
		free(fq);
		return;
	}
}

const struct blkd_elevator_ops blkd_elv_fair = {
	.name = "fair",
	.init = fair_init,
	.exit = fair_exit,
	.add_request = fair_add_request,
	.dispatch = fair_dispatch,
	.merge_requests = fair_merge_requests,
	.allow_merge = fair_allow_merge,
	.completed = fair_completed,
	.client_gone = fair_client_gone,
};
