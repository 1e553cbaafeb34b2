/* SPDX-License-Identifier: MIT */
/*
 * flush.c - the 2005 "ordered" sequences: how FLUSH and FUA requests reach
 * a backend with the right pre-flush, write and post-flush (spec A.2-A.4).
 *
 * A backend declares one mode (blkd.h, 2.6.16 bit encoding).  An NBD FLUSH
 * is an empty barrier, an NBD write with FUA is a barrier write; both are
 * inserted BACK (dispatch.c), so every request queued before them is ahead
 * of them on the dispatch queue.  When such a request reaches the head and
 * no sequence runs, start_ordered() takes it off the queue and pushes its
 * steps on the front in reverse order, exactly as 2.6.16 did:
 *
 *   mode         FLUSH                  FUA write (or trim/zero with FUA)
 *   DRAIN        drain                  drain => write
 *   DRAIN_FLUSH  drain => pre           drain => pre => write => post
 *   DRAIN_FUA    drain => pre           drain => pre => write(FUA)   [*]
 *   TAG          -                      write
 *   TAG_FLUSH    pre                    pre -> write -> post
 *   TAG_FUA      pre                    pre -> write(FUA)            [*]
 *   NONE         -EOPNOTSUPP            -EOPNOTSUPP (queue.c refuses them)
 *
 *   [*] native FUA exists only for WRITE; trim/zero take the post-flush.
 *   "=>" waits for the previous step to complete, "->" issues right after.
 *
 * Sequence state is q->ord.seq, the 2005 bits (STARTED, DRAIN, PREFLUSH,
 * BAR, POSTFLUSH, DONE); the current step is the lowest bit not yet set,
 * and steps a request does not need are set at start.  Conditions:
 *
 *   O1  one sequence at a time: an ordered request at the head waits while
 *       another runs (both mode families).
 *   O2  drain modes: nothing is issued until in_flight drops to 0 (the DRAIN
 *       bit, set by __blkd_ordered_check_drain on completion), then only the
 *       current step's request, and requests behind the barrier wait until
 *       DONE.  Tag modes skip the drain and issue steps back to back; the
 *       queue then runs one worker (queue.c), so issue order is execution
 *       order - the "device keeps the order" promise of an ordered tag.
 *   O3  errors: the first error of any step is kept and reported on the
 *       request that asked, once all steps ended; a failed pre-flush does
 *       not abort the sequence (2.6.16 behaviour).
 *   O4  the known hole of barrier.txt (spec A.4 item 7): a write that failed
 *       since the last flush makes the next FLUSH fail with -EIO, so nobody
 *       is told that lost data is durable.
 *   O5  failover (mpath.c): a request issued before the barrier and given
 *       back by the backend (requeue) goes out again ahead of the steps,
 *       and the drain is not over until it has completed.
 *
 * NBD's rule (spec E.6) follows from O2: every write answered before a
 * FLUSH started completed before the drain ended, and the pre-flush that
 * runs after the drain makes it durable.  A FUA write is answered only
 * after its FUA write or post-flush.  All functions expect q->lock held.
 */
#include <errno.h>
#include <string.h>

#include "blkd-int.h"

static const struct { const char *name; int mode; } ordered_names[] = {
	{ "none", BLKD_ORDERED_NONE },
	{ "drain", BLKD_ORDERED_DRAIN },
	{ "drain-flush", BLKD_ORDERED_DRAIN_FLUSH },
	{ "drain-fua", BLKD_ORDERED_DRAIN_FUA },
	{ "tag", BLKD_ORDERED_TAG },
	{ "tag-flush", BLKD_ORDERED_TAG_FLUSH },
	{ "tag-fua", BLKD_ORDERED_TAG_FUA },
};

int blkd_ordered_parse(const char *s)
{
	for (size_t i = 0; i < sizeof(ordered_names) / sizeof(ordered_names[0]); i++)
		if (!strcmp(s, ordered_names[i].name))
			return ordered_names[i].mode;
	return -EINVAL;
}

const char *blkd_ordered_name(int mode)
{
	for (size_t i = 0; i < sizeof(ordered_names) / sizeof(ordered_names[0]); i++)
		if (ordered_names[i].mode == mode)
			return ordered_names[i].name;
	return "?";
}

bool __blkd_ordered_wants(struct blkd_queue *q, const struct blkd_bio *bio)
{
	(void)q;
	return bio->op == BLKD_OP_FLUSH || (bio->flags & BLKD_F_FUA);
}

static unsigned cur_step(const struct blkd_ordered *ord)
{
	for (unsigned bit = SEQ_DRAIN; bit < SEQ_DONE; bit <<= 1)
		if (!(ord->seq & bit))
			return bit;
	return SEQ_DONE;
}

static unsigned step_bit(const struct blkd_request *rq)
{
	static const unsigned bits[] = { [STEP_NONE] = 0, [STEP_PRE] = SEQ_PREFLUSH,
					 [STEP_BAR] = SEQ_BAR, [STEP_POST] = SEQ_POSTFLUSH };
	return bits[rq->step];
}

static void push_step(struct blkd_queue *q, struct blkd_request *rq, enum blkd_step step)
{
	if (rq->flags & RQ_PROXY) {
		memset(rq, 0, RQ_CLEAR_SIZE);
		rq->q = q;
		rq->op = BLKD_OP_FLUSH;
		rq->flags = RQ_PROXY | RQ_NOMERGE;
		list_init(&rq->elv_node[0]);
		list_init(&rq->elv_node[1]);
	}
	rq->step = step;
	__blkd_insert(q, rq, BLKD_INSERT_FRONT);
}

/* Where a lost write of client c is remembered until its next FLUSH: on
 * the client, or on the queue for bios without one (library users). */
static int *werr_slot(struct blkd_queue *q, struct blkd_client *c)
{
	return c ? &c->werr : &q->ord.werr;
}

/*
 * O4, per client: a write, zero or trim that failed in the backend is
 * reported to the next FLUSH of each client that had a bio in it - never to
 * another client's flush.  A refusal (EINVAL, EOPNOTSUPP, EPERM, EROFS)
 * wrote nothing the client could think durable: it is answered on the
 * request itself and not remembered.
 */
void __blkd_note_write_error(struct blkd_queue *q, struct blkd_request *rq, int err)
{
	if (!err || err == -EINVAL || err == -EOPNOTSUPP || err == -EPERM || err == -EROFS ||
	    err == -ECANCELED)
		return;
	if (rq->op != BLKD_OP_WRITE && rq->op != BLKD_OP_ZERO && rq->op != BLKD_OP_TRIM)
		return;
	if (!rq->bio) {
		q->ord.werr = err;
		return;
	}
	for (struct blkd_bio *bio = rq->bio; bio; bio = bio->bi_next)
		*werr_slot(q, bio->client) = err;
}

/* The sequence ended: report on the request that asked (O3, O4). */
static void ordered_finish(struct blkd_queue *q)
{
	struct blkd_ordered *ord = &q->ord;
	struct blkd_request *rq = ord->orig;
	int err = ord->err;

	if (rq->op == BLKD_OP_FLUSH) {
		int *werr = werr_slot(q, rq->bio ? rq->bio->client : NULL);

		if (*werr && !err)
			err = -EIO;
		*werr = 0;
	}
	ord->seq = 0;
	ord->orig = NULL;
	rq->step = STEP_NONE;
	if (rq->op == BLKD_OP_FLUSH) {	/* never issued itself: close its Q with a C */
		rq->error = err;
		__blkd_trace(q, BLKD_EV_COMPLETE, rq, NULL);
	}
	__blkd_rq_end_bios(q, rq, err);
	__blkd_rq_free(q, rq);
	__blkd_kick(q);
}

static void start_ordered(struct blkd_queue *q, struct blkd_request *rq)
{
	struct blkd_ordered *ord = &q->ord;
	int mode = q->ordered;
	bool cache = mode & BLKD_ORDERED_PREFLUSH;
	bool data = rq->op != BLKD_OP_FLUSH;
	bool fua = data && (rq->bio->flags & BLKD_F_FUA);
	bool bar_fua = fua && cache && (mode & BLKD_ORDERED_FUA) && rq->op == BLKD_OP_WRITE;
	bool need_post = fua && cache && !bar_fua;

	list_del_init(&rq->queuelist);
	q->nr_dispatch--;
	ord->orig = rq;
	ord->err = 0;
	ord->seq = SEQ_STARTED;
	if (!cache)
		ord->seq |= SEQ_PREFLUSH;
	if (!data)
		ord->seq |= SEQ_BAR;
	if (!need_post)
		ord->seq |= SEQ_POSTFLUSH;
	if (bar_fua)
		rq->flags |= RQ_FUA;
	/* front insertion in reverse order: post, barrier, pre (spec A.4 item 2) */
	if (need_post)
		push_step(q, &ord->post_rq, STEP_POST);
	if (data)
		push_step(q, rq, STEP_BAR);
	if (cache)
		push_step(q, &ord->pre_rq, STEP_PRE);
	if ((mode & BLKD_ORDERED_BY_TAG) || q->in_flight == 0)
		ord->seq |= SEQ_DRAIN;
}

/*
 * Called on the head of the dispatch queue.  Returns false when nothing may
 * be issued now; true with *rqp the request to issue, or with *rqp NULL when
 * the caller should look at the head again (a sequence ended at once).
 */
bool __blkd_do_ordered(struct blkd_queue *q, struct blkd_request **rqp)
{
	struct blkd_ordered *ord = &q->ord;
	struct blkd_request *rq = *rqp;

	if (!ord->seq) {
		if (!(rq->flags & RQ_ORDERED))
			return true;
		start_ordered(q, rq);
		if (cur_step(ord) == SEQ_DONE) {
			ordered_finish(q);
			*rqp = NULL;
			return true;
		}
		if (list_empty(&q->dispatch))
			return false;
		rq = list_first_entry(&q->dispatch, struct blkd_request, queuelist);
	}
	if (q->ordered & BLKD_ORDERED_BY_DRAIN) {
		if (rq->flags & RQ_REQUEUED) {			/* O5 */
			*rqp = rq;
			return true;
		}
		if (!(ord->seq & SEQ_DRAIN))			/* O2: draining */
			return false;
		if (rq->step == STEP_NONE || step_bit(rq) != cur_step(ord))
			return false;				/* O2: one step at a time */
	} else if (rq->step == STEP_NONE && (rq->flags & RQ_ORDERED)) {
		return false;					/* O1 */
	}
	*rqp = rq;
	return true;
}

/* A request ended.  Returns true if it was a step (its bios wait for DONE). */
bool __blkd_ordered_complete(struct blkd_queue *q, struct blkd_request *rq, int err)
{
	struct blkd_ordered *ord = &q->ord;

	if (rq->step == STEP_NONE)
		return false;
	if (err && !ord->err)
		ord->err = err;				/* O3: first error wins */
	ord->seq |= step_bit(rq);
	if (cur_step(ord) == SEQ_DONE)
		ordered_finish(q);
	else
		__blkd_kick(q);
	return true;
}

/* After a completion or requeue: has the drain finished (O2)? */
void __blkd_ordered_check_drain(struct blkd_queue *q)
{
	struct blkd_ordered *ord = &q->ord;

	if (!ord->seq || (ord->seq & SEQ_DRAIN) || q->in_flight || q->nr_requeued)
		return;
	ord->seq |= SEQ_DRAIN;
	if (cur_step(ord) == SEQ_DONE)
		ordered_finish(q);
	else
		__blkd_kick(q);
}
