/* SPDX-License-Identifier: MIT */
/*
 * transmission.c - the transmission phase of one connection: its reader,
 * its request slots, its replies.
 *
 * The reader parses requests out of a 256 KiB receive buffer, turns each
 * into a bio in one of the connection's request slots (max_inflight, 128
 * by default; buffers grow on demand and are reused, so the data path does
 * not allocate in steady state, within a byte budget per connection and in
 * total, see slot_get) and hands them to the export's queue in
 * batches: it submits whenever it would otherwise block on the socket or
 * the batch is full - the userspace form of plugging, so a burst of
 * adjacent requests meets in the elevator and merges.
 *
 * Replies are queued by whichever thread ends the bio (end_io) and sent
 * without blocking, header and data in one sendmsg (outq.c; spec G: one
 * writev per reply).  Replies go out in completion order (spec E.4 allows
 * it).  The reader never sleeps on the socket's read side alone: it polls
 * for POLLOUT too while replies wait.  A failed send marks the connection
 * dead and shuts the socket, which ends the reader; conn.c then waits
 * until every slot has come back before it frees the connection.
 *
 * Protocol rules enforced here (spec E.4-E.6): unknown command -> EINVAL;
 * flags not valid for the command or not advertised -> EINVAL; writes on a
 * read-only export -> EPERM; misaligned requests under O_DIRECT -> EINVAL.
 * A bad request magic, or a WRITE payload over 32 MiB (which cannot be
 * skipped safely), closes this connection with a log line and touches
 * nothing else.  BLOCK_STATUS is answered inline from the backend's extents.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server.h"
#include "tls.h"
#include "ob/clock.h"

#define RBUF_SIZE (256u << 10)
#define BATCH 64
#define META_ALLOC_ID 1
#define MAX_EXTENTS 1024

/* ---- slots and their budget ------------------------------------------ */

static uint64_t total_bytes(struct blkd_server *srv)
{
	return __atomic_load_n(&srv->buf_bytes, __ATOMIC_RELAXED);
}

/* Free slot s's buffer (c->lock held) and give its bytes back. */
static void __slot_drop_buf(struct blkd_conn *c, struct blkd_slot *s)
{
	c->buf_bytes -= s->cap;
	__atomic_sub_fetch(&c->srv->buf_bytes, s->cap, __ATOMIC_RELAXED);
	free(s->bio.buf);
	s->bio.buf = NULL;
	s->cap = 0;
}

/* Free the buffers of this connection's idle slots (c->lock held);
 * returns the bytes given back. */
static uint64_t __reclaim_idle(struct blkd_conn *c)
{
	uint64_t freed = 0;

	for (struct blkd_slot *s = c->free_slots; s; s = s->next_free)
		if (s->cap) {
			freed += s->cap;
			__slot_drop_buf(c, s);
		}
	return freed;
}

/* Before the reader sleeps with nothing in flight: when the server is near
 * its limit, an idle connection keeps no buffers others may need. */
static void trim_idle(struct blkd_conn *c)
{
	struct blkd_server *srv = c->srv;

	if (total_bytes(srv) <= srv->max_total_bytes / 2)
		return;
	pthread_mutex_lock(&c->lock);
	if (!c->inflight)
		__reclaim_idle(c);
	pthread_mutex_unlock(&c->lock);
}

/* Room for grow more bytes of buffers (c->lock held)? */
static bool __budget_take(struct blkd_conn *c, uint64_t grow)
{
	struct blkd_server *srv = c->srv;

	if (c->buf_bytes + grow > srv->max_conn_bytes || total_bytes(srv) + grow > srv->max_total_bytes)
		return false;
	c->buf_bytes += grow;
	__atomic_add_fetch(&srv->buf_bytes, grow, __ATOMIC_RELAXED);
	return true;
}

void blkd_slots_put(struct blkd_conn *c, struct blkd_slot *s, unsigned n)
{
	struct blkd_server *srv = c->srv;

	pthread_mutex_lock(&c->lock);
	for (struct blkd_slot *next; s; s = next) {
		next = s->next_pending;
		s->next_pending = NULL;
		/* near the server's limit, big buffers are not kept for reuse */
		if (s->cap > BLKD_BIG_REPLY && total_bytes(srv) > srv->max_total_bytes / 4 * 3)
			__slot_drop_buf(c, s);
		s->next_free = c->free_slots;
		c->free_slots = s;
	}
	c->inflight -= n;
	pthread_cond_broadcast(&c->cond);
	if (c->reader_waits)
		blkd_conn_kick(c);
	pthread_mutex_unlock(&c->lock);
	/* c may be freed from here on */
}

static void slot_put(struct blkd_conn *c, struct blkd_slot *s)
{
	s->next_pending = NULL;
	blkd_slots_put(c, s, 1);
}

/* Build the reply for slot s in s->hdr / s->iov. */
static void reply_build(struct blkd_conn *c, struct blkd_slot *s, int error)
{
	uint8_t *hdr = s->hdr;
	uint32_t err = nbd_errno(error);

	s->iov[0].iov_base = hdr;
	s->niov = 1;
	if (s->type == NBD_CMD_READ && c->structured) {
		if (err) {
			nbd_chunk_write(hdr, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_ERROR, s->cookie, 6);
			nbd_put32(hdr + NBD_CHUNK_SIZE, err);
			nbd_put16(hdr + NBD_CHUNK_SIZE + 4, 0);
			s->iov[0].iov_len = NBD_CHUNK_SIZE + 6;
		} else if (s->bio.len == 0) {
			nbd_chunk_write(hdr, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_NONE, s->cookie, 0);
			s->iov[0].iov_len = NBD_CHUNK_SIZE;
		} else {
			nbd_chunk_write(hdr, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_OFFSET_DATA, s->cookie,
					8 + s->bio.len);
			nbd_put64(hdr + NBD_CHUNK_SIZE, s->bio.off);
			s->iov[0].iov_len = NBD_CHUNK_SIZE + 8;
			s->iov[1].iov_base = s->bio.buf;
			s->iov[1].iov_len = s->bio.len;
			s->niov = 2;
		}
	} else {
		nbd_simple_reply_write(hdr, err, s->cookie);
		s->iov[0].iov_len = NBD_SIMPLE_REPLY_SIZE;
		if (s->type == NBD_CMD_READ && !err && s->bio.len) {
			s->iov[1].iov_base = s->bio.buf;
			s->iov[1].iov_len = s->bio.len;
			s->niov = 2;
		}
	}
}

static void reply(struct blkd_conn *c, struct blkd_slot *s, int error)
{
	reply_build(c, s, error);
	blkd_outq_add(c, s, true);
}

/*
 * end_io of every bio: runs on a worker thread or on the reader; the queue
 * lock is not held.  While the reader runs a batch (corked), small replies
 * wait for the cork, a helping worker's too: the reader uncorks before it
 * blocks again, so none waits longer than the batch (outq.c).
 */
static void conn_bio_end(struct blkd_bio *bio)
{
	struct blkd_slot *s = bio->private;

	reply_build(s->conn, s, bio->error);
	blkd_outq_add(s->conn, s, s->bio.len < BLKD_BIG_REPLY);
}

/* ---- the reader ---------------------------------------------------- */

/* Kept between steps (c->rd): a step that would block returns -EAGAIN
 * and the next one goes on from here. */
struct reader {
	struct blkd_conn *c;
	uint8_t *buf;		/* NULL while idle between requests */
	size_t pos, len;
	struct blkd_bio *batch[BATCH];
	unsigned nb;
	unsigned heavy;		/* bios in the batch that write or read big */
	/* the request being taken in */
	bool have_rq;
	bool charged;		/* it passed the client's limits */
	struct nbd_request rq;
	struct blkd_slot *s;	/* its slot, once it has one */
	int err;		/* the answer it gets instead of I/O */
	size_t pdone;		/* payload bytes taken so far */
};

static bool bio_is_heavy(const struct blkd_conn *c, const struct blkd_bio *bio)
{
	if (bio->len >= BLKD_BIG_REPLY)
		return true;
	if (bio->op == BLKD_OP_READ)
		return false;
	/* A small write into a mapping is a memcpy: sharing it would cost
	 * more than it saves (random writes +10%, -15% server CPU). */
	return !(bio->op == BLKD_OP_WRITE && (c->exp->be->caps & BLKD_CAP_MEMCOPY));
}

/*
 * Unplug.  The reader runs the batch itself, corked, so its replies leave
 * in a few sendmsg calls (fewer wake-ups for the client) and a page-cache
 * read costs no thread handoff.  A batch with writes that are system calls
 * (no mapping, or big) also wakes one worker to share it: a buffered 4 KiB
 * pwrite spends most of its time in the kernel (ext4_block_write_begin was
 * 67% of the server's profile), so two threads on two cores pay - 0.58x
 * nbdkit's random-write IOPS inline alone, ~1.1x handing every write to
 * the pool (a futex wake and a context switch per request, 18% idle), more
 * with the reader and one worker.
 *
 * submit_batch_to_pool is for when the reader is about to be busy itself
 * (a big WRITE payload to take in): the batch then goes to the workers,
 * so writing the last payload overlaps with receiving the next.
 */
static void submit_batch_to_pool(struct reader *r)
{
	if (!r->nb)
		return;
	blkd_queue_submit(r->c->exp->q, r->batch, r->nb);
	r->nb = 0;
	r->heavy = 0;
}

static void submit_batch(struct reader *r)
{
	struct blkd_conn *c = r->c;

	if (!r->nb)
		return;
	pthread_mutex_lock(&c->send_lock);
	c->corked = true;
	pthread_mutex_unlock(&c->send_lock);
	if (r->heavy)
		blkd_queue_submit_shared(c->exp->q, r->batch, r->nb);
	else
		blkd_queue_submit_direct(c->exp->q, r->batch, r->nb);
	r->nb = 0;
	r->heavy = 0;
	pthread_mutex_lock(&c->send_lock);
	c->corked = false;
	pthread_mutex_unlock(&c->send_lock);
	blkd_outq_push(c);
}

/*
 * Before the reader sleeps on an empty socket, it polls it for a while
 * (--poll, 50 us by default; QEMU's iothreads poll up to 32 us the same
 * way).  A sleep and a wake-up cost both sides tens of microseconds on a
 * VM: at queue depth 1 a 4 KiB read took 52 us with sleeping and 25 us
 * with polling, for the same server CPU per request; at depth 16 the
 * client saves the wake-ups (+5% IOPS).  A quiet client costs one poll
 * window after its last request, nothing more.  With --poll 0 it is one
 * more try: requests may have come in while the batch ran.
 */
static ssize_t recv_poll(struct reader *r)
{
	uint64_t end = ob_mono_ns() + (uint64_t)r->c->srv->poll_us * 1000;
	ssize_t n;

	do {
		n = blkd_conn_recv(r->c, r->buf + r->len, RBUF_SIZE - r->len);
		if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			return n;
	} while (ob_mono_ns() < end);
	return n;
}

/* Make at least need bytes available in the receive buffer. */
static int fill(struct reader *r, size_t need)
{
	while (r->len - r->pos < need) {
		ssize_t n;

		if (r->pos && r->pos == r->len)
			r->pos = r->len = 0;
		if (RBUF_SIZE - r->len < need) {
			memmove(r->buf, r->buf + r->pos, r->len - r->pos);
			r->len -= r->pos;
			r->pos = 0;
		}
		n = blkd_conn_recv(r->c, r->buf + r->len, RBUF_SIZE - r->len);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			submit_batch(r);	/* about to block: unplug */
			n = recv_poll(r);	/* at least one more try */
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return -EAGAIN;		/* the next step goes on */
		if (n <= 0)
			n = n ? -errno : -ECONNRESET;
		if (n < 0)
			return (int)n;
		r->len += (size_t)n;
	}
	return 0;
}

/* Receive into dst until it has len bytes, without blocking: 0, -EAGAIN
 * (r->pdone says how far it got) or -errno. */
static int recv_direct(struct reader *r, char *dst, size_t len)
{
	while (r->pdone < len) {
		ssize_t n = blkd_conn_recv(r->c, dst + r->pdone, len - r->pdone);

		if (n == 0)
			return -ECONNRESET;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -EAGAIN
											   : -errno;
		r->pdone += (size_t)n;
	}
	return 0;
}

/* Copy a payload of len bytes into dst (NULL: discard it): buffered part,
 * then straight in.  Resumes after -EAGAIN from r->pdone. */
static int read_payload(struct reader *r, char *dst, size_t len)
{
	size_t have;

	/* Small payloads go through the buffer, so a payload split across
	 * socket reads does not unplug the batch (fill only unplugs when it
	 * would block). */
	if (len <= RBUF_SIZE / 2) {
		int rc = fill(r, len);

		if (rc)
			return rc;
		if (dst)
			memcpy(dst, r->buf + r->pos, len);
		r->pos += len;
		return 0;
	}
	have = r->len - r->pos;
	if (have > len - r->pdone)
		have = len - r->pdone;
	if (dst)
		memcpy(dst + r->pdone, r->buf + r->pos, have);
	r->pos += have;
	r->pdone += have;
	if (r->pdone == len)
		return 0;
	submit_batch_to_pool(r);
	if (dst)
		return recv_direct(r, dst, len);
	while (r->pdone < len) {	/* discard */
		int rc = fill(r, 1);
		size_t n = r->len - r->pos < len - r->pdone ? r->len - r->pos : len - r->pdone;

		if (rc)
			return rc;
		r->pos += n;
		r->pdone += n;
	}
	return 0;
}

/*
 * A free slot whose buffer holds need bytes.  Buffers are kept for reuse
 * (the data path does not allocate in steady state), but their capacity is
 * budgeted per connection and in total (--max-inflight-bytes): a client
 * over its budget waits here - and so is not read from - until its replies
 * have left; other clients are not held up.  NULL when it must wait (the
 * connection is parked until a slot or bytes come back).
 */
static struct blkd_slot *slot_get(struct reader *r, size_t need)
{
	struct blkd_conn *c = r->c;
	size_t cap = (need + 65535) & ~(size_t)65535;
	struct blkd_slot *s = NULL;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		s = c->free_slots;
		if (s && (cap <= s->cap || __budget_take(c, cap)))
			break;
		if (s && __reclaim_idle(c))
			continue;
		/* Park: a slot coming back kicks the wake fd; bytes other
		 * connections give back are looked for every tick. */
		c->reader_waits = true;
		__atomic_store_n(&c->budget_wait, true, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&c->lock);
		submit_batch(r);
		return NULL;
	}
	c->reader_waits = false;
	__atomic_store_n(&c->budget_wait, false, __ATOMIC_RELAXED);
	c->free_slots = s->next_free;
	c->inflight++;
	if (cap > s->cap || (s->cap > (4u << 20) && need <= (1u << 20))) {
		void *p = NULL;

		/* cap was taken from the budget above when it is bigger */
		if (cap > s->cap) {
			c->buf_bytes -= cap;
			__atomic_sub_fetch(&c->srv->buf_bytes, cap, __ATOMIC_RELAXED);
		}
		__slot_drop_buf(c, s);
		if (cap && posix_memalign(&p, 4096, cap) == 0) {
			s->bio.buf = p;
			s->cap = cap;
			c->buf_bytes += cap;
			__atomic_add_fetch(&c->srv->buf_bytes, cap, __ATOMIC_RELAXED);
		}
	}
	pthread_mutex_unlock(&c->lock);
	return s;
}

struct extent_ctx {
	uint8_t *buf;
	unsigned n, max;
	uint64_t left;
};

static int extent_add(void *arg, uint64_t len, uint32_t flags)
{
	struct extent_ctx *x = arg;

	if (x->n >= x->max || !x->left)
		return 1;
	if (len > x->left)
		len = x->left;
	if (len > 0xfffff000u)
		len = 0xfffff000u;
	if (x->n && nbd_get32(x->buf + 4 + 8 * (x->n - 1) + 4) == flags) {
		uint8_t *p = x->buf + 4 + 8 * (x->n - 1);
		uint64_t sum = (uint64_t)nbd_get32(p) + len;

		if (sum <= 0xfffff000u) {
			nbd_put32(p, (uint32_t)sum);
			x->left -= len;
			return 0;
		}
	}
	nbd_put32(x->buf + 4 + 8 * x->n, (uint32_t)len);
	nbd_put32(x->buf + 4 + 8 * x->n + 4, flags);
	x->n++;
	x->left -= len;
	return 0;
}

/* An error chunk for a request answered by the reader itself. */
static void chunk_error(struct blkd_conn *c, struct blkd_slot *s, uint64_t cookie, int err)
{
	nbd_chunk_write(s->hdr, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_ERROR, cookie, 6);
	nbd_put32(s->hdr + NBD_CHUNK_SIZE, nbd_errno(err));
	nbd_put16(s->hdr + NBD_CHUNK_SIZE + 4, 0);
	s->iov[0] = (struct iovec){ s->hdr, NBD_CHUNK_SIZE + 6 };
	s->niov = 1;
	blkd_outq_add(c, s, true);
}

/* BLOCK_STATUS, answered inline from the backend's extents into slot s
 * (its buffer holds the descriptors). */
static void block_status(struct blkd_conn *c, struct blkd_slot *s, const struct nbd_request *rq)
{
	struct blkd_backend *be = c->exp->be;
	struct extent_ctx x = { .max = rq->flags & NBD_CMD_FLAG_REQ_ONE ? 1 : MAX_EXTENTS,
				.left = rq->length, .buf = s->bio.buf };
	int rc = -EINVAL;

	if (rq->offset <= be->size && rq->length <= be->size - rq->offset && rq->length) {
		rc = x.buf ? be->ops->extents(be, rq->offset, rq->length, extent_add, &x) : -ENOMEM;
		if (rc > 0)
			rc = 0;
		if (!rc && !x.n)
			rc = -EIO;
	}
	if (rc) {
		chunk_error(c, s, rq->cookie, rc);
		return;
	}
	nbd_put32(x.buf, META_ALLOC_ID);
	nbd_chunk_write(s->hdr, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_BLOCK_STATUS, rq->cookie,
			4 + 8 * x.n);
	s->iov[0] = (struct iovec){ s->hdr, NBD_CHUNK_SIZE };
	s->iov[1] = (struct iovec){ x.buf, 4 + 8 * (size_t)x.n };
	s->niov = 2;
	blkd_outq_add(c, s, true);
}

/* The range against the export (spec: ENOSPC for a write past the end,
 * EINVAL otherwise), and no zero-length TRIM, WRITE_ZEROES or CACHE: a
 * backend would fail them (fallocate says EINVAL), and a request the
 * client got wrong must never reach the queue, where a failed backend call
 * counts as a lost write. */
static int range_check(const struct blkd_export *e, const struct nbd_request *rq)
{
	uint64_t size = e->be->size;

	if (rq->offset > size || rq->length > size - rq->offset)
		return rq->type == NBD_CMD_WRITE || rq->type == NBD_CMD_WRITE_ZEROES ? -ENOSPC
										      : -EINVAL;
	if (!rq->length && rq->type != NBD_CMD_READ && rq->type != NBD_CMD_WRITE)
		return -EINVAL;
	return 0;
}

/* Protocol-level checks: 0 or the -errno to answer with. */
static int request_check(struct blkd_conn *c, const struct nbd_request *rq)
{
	uint16_t tf = c->tflags, allowed = 0;
	struct blkd_export *e = c->exp;
	bool is_write = false;

	switch (rq->type) {
	case NBD_CMD_READ:
		allowed = NBD_CMD_FLAG_DF;
		break;
	case NBD_CMD_WRITE:
		is_write = true;
		break;
	case NBD_CMD_FLUSH:
		if (!(tf & NBD_FLAG_SEND_FLUSH))
			return -EINVAL;
		break;
	case NBD_CMD_TRIM:
		is_write = true;
		if (!(tf & NBD_FLAG_SEND_TRIM) && !e->readonly)
			return -EINVAL;
		break;
	case NBD_CMD_WRITE_ZEROES:
		is_write = true;
		allowed = NBD_CMD_FLAG_NO_HOLE | NBD_CMD_FLAG_FAST_ZERO;
		if (!(tf & NBD_FLAG_SEND_WRITE_ZEROES) && !e->readonly)
			return -EINVAL;
		if ((rq->flags & NBD_CMD_FLAG_FAST_ZERO) && !(tf & NBD_FLAG_SEND_FAST_ZERO))
			return -EINVAL;
		break;
	case NBD_CMD_CACHE:
		break;
	default:
		return -EINVAL;
	}
	if (tf & NBD_FLAG_SEND_FUA)
		allowed |= NBD_CMD_FLAG_FUA;
	if (rq->flags & ~allowed)
		return -EINVAL;
	if (is_write && e->readonly)
		return -EPERM;
	if (rq->type == NBD_CMD_FLUSH)
		return 0;
	if (e->min_block > 1 && ((rq->offset | rq->length) & (e->min_block - 1)))
		return -EINVAL;
	return range_check(e, rq);
}

static const enum blkd_op cmd_op[] = {
	[NBD_CMD_READ] = BLKD_OP_READ, [NBD_CMD_WRITE] = BLKD_OP_WRITE,
	[NBD_CMD_FLUSH] = BLKD_OP_FLUSH, [NBD_CMD_TRIM] = BLKD_OP_TRIM,
	[NBD_CMD_CACHE] = BLKD_OP_CACHE, [NBD_CMD_WRITE_ZEROES] = BLKD_OP_ZERO,
};

/* A new request header: the checks that hang up; 1 for DISC. */
static int take_header(struct reader *r)
{
	struct blkd_conn *c = r->c;
	struct nbd_request *rq = &r->rq;
	int rc = fill(r, NBD_REQUEST_SIZE);

	if (rc)
		return rc;
	nbd_request_parse(r->buf + r->pos, rq);
	r->pos += NBD_REQUEST_SIZE;
	if (rq->magic != NBD_REQUEST_MAGIC) {
		blkd_log("conn %lu: bad request magic (expected %08x, got %08x), hanging up",
			 c->id, NBD_REQUEST_MAGIC, rq->magic);
		return -EPROTO;
	}
	if (rq->type == NBD_CMD_DISC)
		return 1;
	if (rq->type == NBD_CMD_WRITE && rq->length > NBD_MAX_PAYLOAD) {
		blkd_log("conn %lu: WRITE payload too large (%u > %u), hanging up",
			 c->id, rq->length, NBD_MAX_PAYLOAD);
		return -EPROTO;
	}
	r->have_rq = true;
	r->charged = false;
	r->s = NULL;
	r->pdone = 0;
	return 0;
}

/* Over the client's limits: park until its buckets have room. */
static int client_limit(struct reader *r)
{
	uint64_t wait;

	if (r->charged)
		return 0;
	wait = blkd_client_throttle(r->c, r->rq.type, r->rq.length);
	if (wait) {
		submit_batch(r);
		r->c->deadline_ns = ob_mono_ns() + wait;
		return -EAGAIN;
	}
	r->c->deadline_ns = 0;
	r->charged = true;
	return 0;
}

/* A slot for the request in hand, and what it is answered with if not
 * I/O; -EAGAIN when the budget says wait.  1 when it was answered here. */
static int take_slot(struct reader *r)
{
	struct blkd_conn *c = r->c;
	struct nbd_request *rq = &r->rq;
	struct blkd_slot *s;

	if (rq->type == NBD_CMD_BLOCK_STATUS && c->meta_alloc) {
		s = slot_get(r, 4 + 8 * MAX_EXTENTS);
		if (!s)
			return -EAGAIN;
		if (rq->flags & ~(NBD_CMD_FLAG_REQ_ONE | NBD_CMD_FLAG_FUA))
			chunk_error(c, s, rq->cookie, -EINVAL);
		else
			block_status(c, s, rq);
		return 1;
	}
	r->err = request_check(c, rq);
	if (!r->err && rq->type == NBD_CMD_READ && rq->length > NBD_MAX_PAYLOAD)
		r->err = -EINVAL;
	s = slot_get(r, rq->type == NBD_CMD_READ || rq->type == NBD_CMD_WRITE ? rq->length : 0);
	if (!s)
		return -EAGAIN;
	s->cookie = rq->cookie;
	s->type = rq->type;
	s->nbd_flags = rq->flags;
	r->s = s;
	return 0;
}

/* The request in hand, with its slot and payload, becomes a bio in the
 * batch (or is answered with r->err). */
static void queue_request(struct reader *r)
{
	struct blkd_conn *c = r->c;
	struct nbd_request *rq = &r->rq;
	struct blkd_slot *s = r->s;

	if (rq->type == NBD_CMD_WRITE && s->cap < rq->length && !r->err)
		r->err = -ENOMEM;
	else if (rq->type == NBD_CMD_READ && s->cap < rq->length && !r->err)
		r->err = -ENOMEM;
	if (r->err) {
		s->bio.len = 0;
		reply(c, s, r->err);
		return;
	}
	s->bio.op = cmd_op[rq->type];
	s->bio.flags = 0;
	if ((rq->flags & NBD_CMD_FLAG_FUA) && rq->type != NBD_CMD_READ && rq->type != NBD_CMD_CACHE)
		s->bio.flags |= BLKD_F_FUA;
	if (rq->flags & NBD_CMD_FLAG_NO_HOLE)
		s->bio.flags |= BLKD_F_NOHOLE;
	if (rq->flags & NBD_CMD_FLAG_FAST_ZERO)
		s->bio.flags |= BLKD_F_FASTZERO;
	s->bio.off = rq->offset;
	s->bio.len = rq->type == NBD_CMD_FLUSH ? 0 : rq->length;
	s->bio.error = 0;
	s->bio.client = &c->client;
	s->bio.end_io = conn_bio_end;
	s->bio.private = s;
	r->batch[r->nb++] = &s->bio;
	r->heavy += bio_is_heavy(c, &s->bio);
	if (r->nb == BATCH)
		submit_batch(r);
}

/* One request as far as it goes: 0 when queued or answered, 1 for DISC,
 * -EAGAIN, or -errno to hang up. */
static int take_request(struct reader *r)
{
	struct nbd_request *rq = &r->rq;
	int rc;

	if (!r->have_rq) {
		rc = take_header(r);
		if (rc)
			return rc;
	}
	if (!r->s) {
		rc = client_limit(r);
		if (rc)
			return rc;
		rc = take_slot(r);
		if (rc < 0)
			return rc;
		if (rc) {
			r->have_rq = false;
			return 0;
		}
	}
	if (rq->type == NBD_CMD_WRITE) {
		rc = read_payload(r, r->s->cap >= rq->length ? (char *)r->s->bio.buf : NULL,
				  rq->length);
		if (rc)
			return rc;
	}
	r->have_rq = false;
	queue_request(r);
	return 0;
}

/* Between requests with nothing buffered, an idle connection keeps no
 * receive buffer (2,000 idle clients would hold 500 MiB of them). */
static void reader_idle(struct reader *r)
{
	if (!r->have_rq && !r->nb && r->pos == r->len) {
		free(r->buf);
		r->buf = NULL;
		r->pos = r->len = 0;
		if (r->c->tls)
			blkd_tls_idle(r->c);
	}
}

int blkd_transmission_step(struct blkd_conn *c)
{
	struct reader *r = c->rd;
	int rc;

	if (!r) {
		r = c->rd = calloc(1, sizeof(*r));
		if (!r)
			return -ENOMEM;
		r->c = c;
		c->tls_nonblock = true;	/* from here on nothing waits in TLS */
	}
	if (!r->buf) {
		r->buf = malloc(RBUF_SIZE);
		if (!r->buf)
			return -ENOMEM;
	}
	blkd_outq_push(c);		/* woken by POLLOUT, perhaps */
	do
		rc = take_request(r);
	while (!rc);
	if (rc == -EAGAIN) {
		submit_batch(r);	/* never park with requests held back */
		trim_idle(c);
		reader_idle(r);
		return -EAGAIN;
	}
	if (rc == 1) {
		c->disc = true;
		rc = 0;
	}
	if (r->have_rq && r->s) {	/* a payload cut short */
		slot_put(c, r->s);
		r->have_rq = false;
	}
	submit_batch(r);
	return rc == -ECONNRESET ? 0 : rc;
}

void blkd_transmission_end(struct blkd_conn *c)
{
	struct reader *r = c->rd;

	if (!r)
		return;
	submit_batch(r);
	if (r->have_rq && r->s)
		slot_put(c, r->s);
	free(r->buf);
	free(r);
	c->rd = NULL;
}
