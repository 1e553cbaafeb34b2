/* SPDX-License-Identifier: MIT */
/*
 * elv-noop.c - the noop scheduler: a FIFO, as after the 2.6.15 rework
 * (spec B.4).  Dispatch takes the oldest request and sort-inserts it with
 * blkd_dispatch_sort, so "noop" still merges (merge.c) and gets the one-way
 * elevator of the dispatch queue; it makes no decision of its own.
 */
#include <errno.h>
#include <stdlib.h>

#include "blkd-int.h"

struct noop_data {
	struct list_head fifo;
};

static int noop_init(struct blkd_queue *q)
{
	struct noop_data *nd = malloc(sizeof(*nd));

	if (!nd)
		return -ENOMEM;
	list_init(&nd->fifo);
	q->elv_data = nd;
	return 0;
}

static void noop_exit(struct blkd_queue *q)
{
	free(q->elv_data);
	q->elv_data = NULL;
}

static void noop_add_request(struct blkd_queue *q, struct blkd_request *rq)
{
	struct noop_data *nd = q->elv_data;

	list_add_tail(&rq->elv_node[0], &nd->fifo);
}

static int noop_dispatch(struct blkd_queue *q, int force)
{
	struct noop_data *nd = q->elv_data;
	struct blkd_request *rq;

	(void)force;
	if (list_empty(&nd->fifo))
		return 0;
	rq = list_first_entry(&nd->fifo, struct blkd_request, elv_node[0]);
	list_del_init(&rq->elv_node[0]);
	blkd_dispatch_sort(q, rq);
	return 1;
}

static void noop_merge_requests(struct blkd_queue *q, struct blkd_request *rq,
				struct blkd_request *next)
{
	(void)q;
	(void)rq;
	list_del_init(&next->elv_node[0]);
}

const struct blkd_elevator_ops blkd_elv_noop = {
	.name = "noop",
	.init = noop_init,
	.exit = noop_exit,
	.add_request = noop_add_request,
	.dispatch = noop_dispatch,
	.merge_requests = noop_merge_requests,
};
