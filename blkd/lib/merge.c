/* SPDX-License-Identifier: MIT */
/*
 * merge.c - front and back merging of bios into requests held by the
 * elevator (spec B.3).
 *
 * A bio back-merges when it starts where a request ends and front-merges
 * when it ends where a request starts; same op (READ or WRITE only), no
 * FUA, the result within q->max_merge bytes and BLKD_MAX_SEGMENTS bios (one
 * iovec each, so the backend does one preadv/pwritev).  After a bio merge
 * the grown request is tried against its new neighbour (attempt_back_merge
 * / attempt_front_merge), and the elevator hears of it through merged and
 * merge_requests.  The elevator may veto with allow_merge (the fair
 * scheduler keeps clients apart).
 *
 * Lookups, cheapest first, as in 2.6.19's elevator core:
 *   1. q->last_merge, a one-hit cache;
 *   2. a hash of requests by end offset (back merges) and one by start
 *      offset (front merges), 256 buckets each, chained through the
 *      request.  Only requests still in the elevator are hashed; dispatch
 *      unhashes (dispatch.c).  Chains are short: the elevator holds at most
 *      a few hundred requests (queue depth 16-128 per client), so deletion
 *      by walking a chain is cheap.
 * All functions expect q->lock held.
 */
#include "blkd-int.h"

static unsigned hash_off(uint64_t off)
{
	uint64_t h = (off >> 9) * 0x9e3779b97f4a7c15ull;

	return (unsigned)(h >> (64 - BLKD_HASH_BITS));
}

void __blkd_hash_add(struct blkd_queue *q, struct blkd_request *rq)
{
	unsigned he = hash_off(rq_end(rq)), hs = hash_off(rq->off);

	rq->hnext_end = q->hash_end[he];
	q->hash_end[he] = rq;
	rq->hnext_start = q->hash_start[hs];
	q->hash_start[hs] = rq;
	rq->flags |= RQ_HASHED;
}

void __blkd_hash_del(struct blkd_queue *q, struct blkd_request *rq)
{
	struct blkd_request **pp;

	if (!(rq->flags & RQ_HASHED))
		return;
	for (pp = &q->hash_end[hash_off(rq_end(rq))]; *pp; pp = &(*pp)->hnext_end)
		if (*pp == rq) {
			*pp = rq->hnext_end;
			break;
		}
	for (pp = &q->hash_start[hash_off(rq->off)]; *pp; pp = &(*pp)->hnext_start)
		if (*pp == rq) {
			*pp = rq->hnext_start;
			break;
		}
	rq->flags &= ~RQ_HASHED;
}

static struct blkd_request *hash_find_end(struct blkd_queue *q, uint64_t end)
{
	for (struct blkd_request *rq = q->hash_end[hash_off(end)]; rq; rq = rq->hnext_end)
		if (rq_end(rq) == end)
			return rq;
	return NULL;
}

static struct blkd_request *hash_find_start(struct blkd_queue *q, uint64_t off)
{
	for (struct blkd_request *rq = q->hash_start[hash_off(off)]; rq; rq = rq->hnext_start)
		if (rq->off == off)
			return rq;
	return NULL;
}

static bool rq_can_take(struct blkd_queue *q, const struct blkd_request *rq, enum blkd_op op,
			uint64_t len, unsigned nr_bios, struct blkd_client *client)
{
	if (rq->flags & (RQ_NOMERGE | RQ_STARTED) || !(rq->flags & RQ_HASHED) || rq->op != op)
		return false;
	if (rq->len + len > q->max_merge || rq->nr_bios + nr_bios > BLKD_MAX_SEGMENTS)
		return false;
	(void)client;
	return true;
}

static bool bio_allowed(struct blkd_queue *q, struct blkd_request *rq, const struct blkd_bio *bio)
{
	if (!rq_can_take(q, rq, bio->op, bio->len, 1, bio->client))
		return false;
	return elv_allow_merge(q, rq, bio);
}

static bool rqs_allowed(struct blkd_queue *q, struct blkd_request *rq, struct blkd_request *next)
{
	if (!rq_can_take(q, rq, next->op, next->len, next->nr_bios, next->client) ||
	    (next->flags & (RQ_NOMERGE | RQ_STARTED)) || !(next->flags & RQ_HASHED))
		return false;
	return elv_allow_merge(q, rq, next->bio);
}

static void account_merge(struct blkd_queue *q, struct blkd_client *c)
{
	q->stats.merges++;
	if (c)
		c->stats.merges++;
}

/* next (which starts where rq ends) joins rq and leaves the elevator. */
static void merge_requests(struct blkd_queue *q, struct blkd_request *rq, struct blkd_request *next)
{
	__blkd_hash_del(q, rq);
	__blkd_hash_del(q, next);
	rq->biotail->bi_next = next->bio;
	rq->biotail = next->biotail;
	rq->len += next->len;
	rq->nr_bios += next->nr_bios;
	if (next->t_insert < rq->t_insert)
		rq->t_insert = next->t_insert;
	elv_merge_requests(q, rq, next);
	account_merge(q, next->client);
	q->nr_sorted--;
	next->bio = next->biotail = NULL;
	__blkd_rq_free(q, next);
	__blkd_hash_add(q, rq);
}

static void back_merge(struct blkd_queue *q, struct blkd_request *rq, struct blkd_bio *bio)
{
	struct blkd_request *next;

	__blkd_hash_del(q, rq);
	rq->biotail->bi_next = bio;
	rq->biotail = bio;
	bio->bi_next = NULL;
	rq->len += bio->len;
	rq->nr_bios++;
	__blkd_hash_add(q, rq);
	__blkd_trace(q, BLKD_EV_BACKMERGE, NULL, bio);
	elv_merged(q, rq, ELV_MERGE_BACK);
	next = hash_find_start(q, rq_end(rq));
	if (next && next != rq && rqs_allowed(q, rq, next))
		merge_requests(q, rq, next);
}

static void front_merge(struct blkd_queue *q, struct blkd_request *rq, struct blkd_bio *bio)
{
	struct blkd_request *prev;

	__blkd_hash_del(q, rq);
	bio->bi_next = rq->bio;
	rq->bio = bio;
	rq->off = bio->off;
	rq->len += bio->len;
	rq->nr_bios++;
	__blkd_hash_add(q, rq);
	__blkd_trace(q, BLKD_EV_FRONTMERGE, NULL, bio);
	elv_merged(q, rq, ELV_MERGE_FRONT);
	prev = hash_find_end(q, rq->off);
	if (prev && prev != rq && rqs_allowed(q, prev, rq)) {
		merge_requests(q, prev, rq);
		rq = prev;
	}
	q->last_merge = rq;
}

/* Try to merge bio into a queued request.  Returns true if it did. */
bool __blkd_merge_bio(struct blkd_queue *q, struct blkd_bio *bio)
{
	struct blkd_request *rq;

	if (!q->max_merge || bio->flags || (bio->op != BLKD_OP_READ && bio->op != BLKD_OP_WRITE))
		return false;
	rq = q->last_merge;
	if (rq && rq_end(rq) == bio->off && bio_allowed(q, rq, bio))
		goto back;
	if (rq && bio->off + bio->len == rq->off && bio_allowed(q, rq, bio))
		goto front;
	rq = hash_find_end(q, bio->off);
	if (rq && bio_allowed(q, rq, bio))
		goto back;
	rq = hash_find_start(q, bio->off + bio->len);
	if (rq && bio_allowed(q, rq, bio))
		goto front;
	return false;
back:
	back_merge(q, rq, bio);
	q->last_merge = rq->flags & RQ_HASHED ? rq : NULL;
	account_merge(q, bio->client);
	return true;
front:
	front_merge(q, rq, bio);
	account_merge(q, bio->client);
	return true;
}
