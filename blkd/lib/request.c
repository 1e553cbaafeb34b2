/* SPDX-License-Identifier: MIT */
/*
 * request.c - where requests come from: a per-queue free list refilled in
 * chunks of 64 (freed with the queue), so the data path does not allocate
 * in steady state; the embedded pre/post-flush proxies of flush.c are
 * never freed.  Also the names of bio operations.  q->lock held.
 */
#include <stdlib.h>
#include <string.h>

#include "blkd-int.h"

#define RQ_CHUNK 64

static const char *const op_names[BLKD_OP_NR] = {
	[BLKD_OP_READ] = "read", [BLKD_OP_WRITE] = "write", [BLKD_OP_FLUSH] = "flush",
	[BLKD_OP_TRIM] = "trim", [BLKD_OP_ZERO] = "zero", [BLKD_OP_CACHE] = "cache",
};

const char *blkd_op_name(enum blkd_op op)
{
	return (unsigned)op < BLKD_OP_NR ? op_names[op] : "?";
}

/* ---- request allocation ------------------------------------------------ */

struct rq_chunk {
	struct list_head node;
	struct blkd_request rqs[RQ_CHUNK];
};

struct blkd_request *__blkd_rq_alloc(struct blkd_queue *q)
{
	struct blkd_request *rq;

	if (list_empty(&q->free_rqs)) {
		struct rq_chunk *c = calloc(1, sizeof(*c));

		if (!c)
			return NULL;
		list_add(&c->node, &q->chunks);
		for (int i = 0; i < RQ_CHUNK; i++)
			list_add_tail(&c->rqs[i].queuelist, &q->free_rqs);
	}
	rq = list_first_entry(&q->free_rqs, struct blkd_request, queuelist);
	list_del_init(&rq->queuelist);
	memset(rq, 0, RQ_CLEAR_SIZE);
	rq->q = q;
	list_init(&rq->queuelist);
	list_init(&rq->elv_node[0]);
	list_init(&rq->elv_node[1]);
	return rq;
}

void __blkd_rq_free(struct blkd_queue *q, struct blkd_request *rq)
{
	if (rq->flags & RQ_PROXY)
		return;
	if (q->last_merge == rq)
		q->last_merge = NULL;
	list_add(&rq->queuelist, &q->free_rqs);
}

void __blkd_rq_init_from_bio(struct blkd_request *rq, struct blkd_bio *bio)
{
	rq->op = bio->op;
	rq->off = bio->off;
	rq->len = bio->len;
	rq->bio = rq->biotail = bio;
	bio->bi_next = NULL;
	rq->nr_bios = 1;
	rq->client = bio->client;
}

/* Give back every chunk; the queue is going away and holds no request. */
void blkd_rq_free_all(struct blkd_queue *q)
{
	while (!list_empty(&q->chunks)) {
		struct rq_chunk *c = list_entry(q->chunks.next, struct rq_chunk, node);

		list_del_init(&c->node);
		free(c);
	}
}
