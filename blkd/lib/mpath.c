/* SPDX-License-Identifier: MIT */
/*
 * mpath.c - request-based multipath over NBD upstreams (spec C): several
 * NBD servers exporting the same storage become the paths of one device.
 *
 * Place in the stack (Mike Christie's design, spec C.1): the device is an
 * asynchronous backend (.submit), so it sits below the elevator and the
 * generic dispatch queue.  It sees whole, merged requests; a request that
 * fails on a path goes back on the dispatch queue (blkd_io_requeue: R in
 * the trace) and is issued again (D) to another path, in the normal
 * stream, with the first error detail still known here.
 *
 * Objects: a device has priority groups (1 = preferred), each with a path
 * selector (ops table at the bottom: round-robin, queue-length,
 * service-time, spec C.3); a path is one libnbd handle.  Threads: one
 * poller per path runs the handle's state machine (poll on its socket and
 * an eventfd that submitters kick when libnbd has bytes left to send); one
 * checker per device reconnects and probes failed paths, expires requests
 * held with no path and runs delayed failback.  Queue workers submit
 * straight into libnbd (nbd_aio_*) - no hand-off thread on the way in.
 *
 * Classification of a path's answer (spec C.5):
 *   M1  success: done.  If other paths answered this request with EIO,
 *       they are failed now - a sibling proved the range readable.
 *   M2  ENOSPC, EPERM, EINVAL, EOVERFLOW, ENOTSUP, EROFS, EDQUOT, EFBIG:
 *       the data's answer; it goes back to the client as it is.
 *   M3  EIO: the path is remembered on the request (io->bpriv[0]) and the
 *       request is requeued; it goes to a path that has not said EIO.  When
 *       every usable path said EIO, the range is bad everywhere: EIO goes
 *       back to the client and no path is failed.
 *   M4  anything else (ENOTCONN, ESHUTDOWN, ECONNRESET, a timeout): a
 *       transport error.  The path fails, its connection is torn down, its
 *       in-flight requests are requeued; the checker reconnects it.
 *   M5  no usable path: with queue_if_no_path the request is held (at most
 *       queue_max of them, at most queue_if_no_path_ms each), else EIO.
 *       Held requests are requeued when a path is reinstated.
 *
 * Flush (spec A.4 item 7, C.5 last row): an NBD FLUSH covers writes the
 * server acknowledged.  Each path counts writes completed on it (wgen) and
 * the count its last good flush covered.  A FLUSH goes to every usable path
 * with uncovered writes; if a path with uncovered writes is not usable, the
 * flush also goes to one usable path (the paths share the storage: that is
 * the premise of multipath) and covers the failed path when it succeeds.
 * A flush is answered only when all of its parts succeeded; a part that
 * fails with a path error fails that path and the whole flush is requeued
 * (at most 2 * paths + 2 times, then EIO).  The queue's drain modes keep
 * one flush in flight at a time, which the cover bookkeeping relies on.
 * FUA writes carry NBD's FUA flag to the one path that takes them.
 *
 * Locking: m->lock guards every field marked so, path states, counters and
 * slots.  It is never held across a libnbd call or a queue call.  A
 * submitter counts itself in p->users while it is inside nbd_aio_* on
 * p->h; teardown (poller thread only) waits for users == 0 before it
 * closes the handle.  Completion callbacks run in the poller or in a
 * submitter (libnbd may read replies while sending); they take m->lock,
 * drop it, then end or requeue the request.
 *
 * Known gaps: no hardware handler / pg_init (NBD has none); relative
 * throughput is 1 for every path (service-time then ranks by in-flight
 * bytes); checker connects block the checker thread (a server that accepts
 * but never answers the handshake stalls probing of other paths).
 */
#include <errno.h>
#include <libnbd.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "blkd-int.h"
#include "ob/clock.h"

#define MP_MAX_PATHS	32
#define MP_MAX_GROUPS	16
#define MP_SLOTS	1024		/* commands in flight per path */
#define MP_POLL_MS	100

enum slot_state { SLOT_FREE, SLOT_BUSY, SLOT_ABANDONED };
enum path_state { PATH_ACTIVE, PATH_FAILED };

struct mp_path;

struct mp_slot {
	struct mp_path *p;
	struct blkd_io *io;		/* NULL for a checker probe */
	enum slot_state state;
	uint64_t t_issue;
	uint64_t bytes;
	uint64_t gen;			/* flush: p->wgen when sent */
	void *bounce;			/* gather/scatter buffer, kept */
	size_t cap;
	struct mp_slot *next_free;
};

struct mp_path {
	struct mpath *m;
	unsigned idx, group;		/* group: index into m->groups */
	char *uri;
	pthread_t thread;
	int efd;			/* kicks the poller */
	/* ---- guarded by m->lock ---- */
	struct nbd_handle *h;		/* NULL while disconnected */
	enum path_state state;
	bool admin_down;		/* fail_path: the checker leaves it alone */
	bool want_down;			/* the poller must tear the connection down */
	unsigned users;			/* submitters inside nbd_aio_* on h */
	bool probe_done;
	int probe_err;
	unsigned in_flight;
	uint64_t inflight_bytes;
	unsigned rel_tput;		/* service-time weight (1) */
	uint64_t wgen, flushed_gen, cover_gen;
	uint64_t ios, bytes, errors, requeues, fail_count;
	struct mp_slot *slots, *free_slots;
	char last_err[96];
};

struct mp_group;
struct mpath;

/* A path selector (spec C.3).  select() returns a usable path of g not in
 * the exclude mask, or NULL; it is called with m->lock held. */
struct mp_selector_ops {
	const char *name;
	struct mp_path *(*select)(struct mpath *m, struct mp_group *g, const struct blkd_io *io,
				  uint64_t exclude);
};

struct mp_group {
	const struct mp_selector_ops *sel;
	unsigned rr_next;		/* rotation point (round-robin, ties) */
	unsigned nr;
	unsigned paths[MP_MAX_PATHS];	/* indexes into m->paths */
};

struct mpath {
	struct blkd_backend be;
	struct blkd_mpath_opts o;
	unsigned nr_paths, nr_groups;
	struct mp_path paths[MP_MAX_PATHS];
	struct mp_group groups[MP_MAX_GROUPS];
	pthread_t checker;
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* users, probes, slots, checker wake-ups */
	/* ---- guarded by lock ---- */
	int cur;			/* current group, -1 = none chosen */
	bool queue_if_no_path;
	struct blkd_io *held_head, *held_tail;	/* chained through bpriv[3] */
	unsigned nr_held;
	uint64_t failback_at;		/* delayed failback due (ns), 0 = none */
	unsigned slot_waiters;
	bool stopping;
};

static const struct mp_selector_ops *const selectors[];

static void mp_log(struct mpath *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void mp_log(struct mpath *m, const char *fmt, ...)
{
	char buf[300];
	va_list ap;

	if (!m->o.log)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	m->o.log(m->o.log_arg, buf);
}

/* ---- path state (m->lock held) --------------------------------------------- */

static bool __path_usable(const struct mp_path *p)
{
	return p->state == PATH_ACTIVE && p->h && !p->want_down && !p->admin_down;
}

static bool __group_usable(struct mpath *m, unsigned g)
{
	for (unsigned i = 0; i < m->groups[g].nr; i++)
		if (__path_usable(&m->paths[m->groups[g].paths[i]]))
			return true;
	return false;
}

static void __path_fail(struct mp_path *p, const char *why, bool teardown)
{
	if (teardown && p->h && !p->want_down) {
		p->want_down = true;
		uint64_t one = 1;
		ssize_t w = write(p->efd, &one, sizeof(one));
		(void)w;
	}
	if (p->state == PATH_FAILED)
		return;
	p->state = PATH_FAILED;
	p->fail_count++;
	snprintf(p->last_err, sizeof(p->last_err), "%s", why);
	mp_log(p->m, "path %u (%s) failed: %s", p->idx, p->uri, why);
	pthread_cond_broadcast(&p->m->cond);	/* the checker */
}

/* Requeue every held request (a path came back).  Returns the list. */
static struct blkd_io *__take_held(struct mpath *m)
{
	struct blkd_io *head = m->held_head;

	m->held_head = m->held_tail = NULL;
	m->nr_held = 0;
	return head;
}

static void requeue_list(struct blkd_io *io, const char *why)
{
	while (io) {
		struct blkd_io *next = (struct blkd_io *)(uintptr_t)io->bpriv[3];

		io->bpriv[3] = 0;
		blkd_io_requeue(io, why);
		io = next;
	}
}

static void __path_reinstate(struct mp_path *p)
{
	struct mpath *m = p->m;

	if (p->state == PATH_ACTIVE)
		return;
	p->state = PATH_ACTIVE;
	p->last_err[0] = '\0';
	mp_log(m, "path %u (%s) reinstated", p->idx, p->uri);
	if (m->cur >= 0 && p->group < (unsigned)m->cur) {
		switch (m->o.failback) {
		case BLKD_FAILBACK_IMMEDIATE:
			mp_log(m, "failback to group %u", p->group + 1);
			m->cur = (int)p->group;
			break;
		case BLKD_FAILBACK_DELAY:
			if (!m->failback_at)
				m->failback_at = ob_mono_ns() + m->o.failback_delay_ms * 1000000ull;
			break;
		case BLKD_FAILBACK_MANUAL:
			break;
		}
	}
}

/* The group to use now: the current one if it has a usable path, else the
 * best group that has one (failover between groups).  -1 if none. */
static int __current_group(struct mpath *m)
{
	if (m->cur >= 0 && __group_usable(m, (unsigned)m->cur))
		return m->cur;
	for (unsigned g = 0; g < m->nr_groups; g++)
		if (__group_usable(m, g)) {
			if (m->cur != (int)g)
				mp_log(m, "switching to group %u", g + 1);
			m->cur = (int)g;
			return (int)g;
		}
	return -1;
}

/* A path for io, avoiding the paths in exclude; NULL if none. */
static struct mp_path *__choose_path(struct mpath *m, const struct blkd_io *io, uint64_t exclude)
{
	int g = __current_group(m);

	if (g < 0)
		return NULL;
	struct mp_path *p = m->groups[g].sel->select(m, &m->groups[g], io, exclude);
	if (p)
		return p;
	/* the current group has only excluded paths: try the others */
	for (unsigned i = 0; i < m->nr_groups; i++)
		if ((int)i != g && (p = m->groups[i].sel->select(m, &m->groups[i], io, exclude)))
			return p;
	return NULL;
}

static bool __any_usable(struct mpath *m)
{
	for (unsigned i = 0; i < m->nr_paths; i++)
		if (__path_usable(&m->paths[i]))
			return true;
	return false;
}

/* ---- slots --------------------------------------------------------------------- */

static struct mp_slot *__slot_get(struct mp_path *p)
{
	struct mp_slot *s = p->free_slots;

	if (s) {
		p->free_slots = s->next_free;
		s->state = SLOT_BUSY;
		s->t_issue = ob_mono_ns();
	}
	return s;
}

static void __slot_put(struct mp_path *p, struct mp_slot *s)
{
	s->state = SLOT_FREE;
	s->io = NULL;
	s->next_free = p->free_slots;
	p->free_slots = s;
	if (p->m->slot_waiters)
		pthread_cond_broadcast(&p->m->cond);
}

static int slot_bounce(struct mp_slot *s, size_t len)
{
	if (s->cap >= len)
		return 0;
	void *b = realloc(s->bounce, len);
	if (!b)
		return -ENOMEM;
	s->bounce = b;
	s->cap = len;
	return 0;
}

/* ---- classification (M1-M4) ------------------------------------------------------ */

static bool data_error(int err)
{
	switch (err) {
	case ENOSPC: case EPERM: case EINVAL: case EOVERFLOW: case ENOTSUP:
	case EROFS: case EDQUOT: case EFBIG:
		return true;
	default:
		return false;
	}
}

static bool is_write(enum blkd_op op)
{
	return op == BLKD_OP_WRITE || op == BLKD_OP_ZERO || op == BLKD_OP_TRIM;
}

/* ---- completions ------------------------------------------------------------------- */

enum action { ACT_NONE, ACT_END, ACT_REQUEUE };

/* One part of a FLUSH finished (m->lock held).  bpriv[1] counts parts still
 * out, bpriv[2] is 1 when a part hit a path error, bpriv[0] the first data
 * error. */
static enum action __flush_part_done(struct mpath *m, struct mp_path *p, struct blkd_io *io,
				     uint64_t gen, int err, int *errp)
{
	if (!err) {
		if (gen > p->flushed_gen)
			p->flushed_gen = gen;
	} else if (data_error(err)) {
		if (!io->bpriv[0])
			io->bpriv[0] = (uint64_t)err;
	} else {
		char why[64];

		snprintf(why, sizeof(why), "flush: %s", strerror(err));
		__path_fail(p, why, err != EIO);
		io->bpriv[2] = 1;
	}
	if (--io->bpriv[1])
		return ACT_NONE;
	if (io->bpriv[2]) {
		if (io->requeues > 2 * m->nr_paths + 2) {
			*errp = -EIO;
			return ACT_END;
		}
		return ACT_REQUEUE;
	}
	if (io->bpriv[0]) {
		*errp = -(int)io->bpriv[0];
		return ACT_END;
	}
	/* every part succeeded: paths that were not usable are covered too */
	for (unsigned i = 0; i < m->nr_paths; i++) {
		struct mp_path *q = &m->paths[i];

		if (q->cover_gen > q->flushed_gen)
			q->flushed_gen = q->cover_gen;
		q->cover_gen = 0;
	}
	*errp = 0;
	return ACT_END;
}

/* A data request finished on p (m->lock held): M1-M4. */
static enum action __io_done(struct mpath *m, struct mp_path *p, struct blkd_io *io, int err,
			     int *errp)
{
	char why[64];

	if (!err) {
		p->ios++;
		p->bytes += io->len;
		if (is_write(io->op))
			p->wgen++;
		for (unsigned i = 0; io->bpriv[0] && i < m->nr_paths; i++)	/* M1 */
			if (io->bpriv[0] & (1ull << i))
				__path_fail(&m->paths[i], "EIO where a sibling path succeeded", false);
		*errp = 0;
		return ACT_END;
	}
	p->errors++;
	if (data_error(err)) {						/* M2 */
		*errp = -err;
		return ACT_END;
	}
	if (err == EIO) {						/* M3 */
		io->bpriv[0] |= 1ull << p->idx;
		p->requeues++;
		return ACT_REQUEUE;
	}
	snprintf(why, sizeof(why), "%s", strerror(err));		/* M4 */
	__path_fail(p, why, true);
	p->requeues++;
	return ACT_REQUEUE;
}

static void act(struct blkd_io *io, enum action a, int err, const char *why)
{
	if (a == ACT_END)
		blkd_io_end(io, err);
	else if (a == ACT_REQUEUE)
		blkd_io_requeue(io, why);
}

static int mp_complete(void *user_data, int *error)
{
	struct mp_slot *s = user_data;
	struct mp_path *p = s->p;
	struct mpath *m = p->m;
	struct blkd_io *io;
	enum action a = ACT_NONE;
	int err = *error, rc = 0;
	char why[80];

	pthread_mutex_lock(&m->lock);
	if (s->state != SLOT_BUSY) {	/* abandoned at teardown: already requeued */
		pthread_mutex_unlock(&m->lock);
		return 1;
	}
	io = s->io;
	if (!io) {			/* a probe */
		p->probe_err = err;
		p->probe_done = true;
		__slot_put(p, s);
		pthread_cond_broadcast(&m->cond);
		pthread_mutex_unlock(&m->lock);
		return 1;
	}
	pthread_mutex_unlock(&m->lock);
	/* a gathered read goes back to the request's segments */
	if (!err && io->op == BLKD_OP_READ && io->iovcnt > 1) {
		size_t off = 0;

		for (int i = 0; i < io->iovcnt; i++) {
			memcpy(io->iov[i].iov_base, (char *)s->bounce + off, io->iov[i].iov_len);
			off += io->iov[i].iov_len;
		}
	}
	pthread_mutex_lock(&m->lock);
	p->in_flight--;
	p->inflight_bytes -= s->bytes;
	if (io->op == BLKD_OP_FLUSH)
		a = __flush_part_done(m, p, io, s->gen, err, &rc);
	else
		a = __io_done(m, p, io, err, &rc);
	__slot_put(p, s);
	pthread_mutex_unlock(&m->lock);
	snprintf(why, sizeof(why), "mpath: path %u: %s, requeue", p->idx, strerror(err));
	act(io, a, rc, why);
	return 1;
}

/* ---- submission ------------------------------------------------------------------------ */

/* Send one command for io (or a probe when io is NULL) on slot s of p;
 * called without m->lock, with p->users counted.  Returns 0 or -errno. */
static int path_send(struct mp_path *p, struct nbd_handle *h, struct mp_slot *s,
		     struct blkd_io *io)
{
	nbd_completion_callback cb = { .callback = mp_complete, .user_data = s };
	uint32_t fua = io && io->fua ? LIBNBD_CMD_FLAG_FUA : 0;
	int64_t r;

	if (!io) {
		if (slot_bounce(s, 512))
			return -ENOMEM;
		r = nbd_aio_pread(h, s->bounce, p->m->be.size < 512 ? p->m->be.size : 512, 0, cb, 0);
		goto out;
	}
	switch (io->op) {
	case BLKD_OP_READ:
	case BLKD_OP_WRITE: {
		void *buf = io->iovcnt == 1 ? io->iov[0].iov_base : NULL;

		if (!buf) {
			if (slot_bounce(s, io->len))
				return -ENOMEM;
			buf = s->bounce;
			if (io->op == BLKD_OP_WRITE) {
				size_t off = 0;

				for (int i = 0; i < io->iovcnt; i++) {
					memcpy((char *)buf + off, io->iov[i].iov_base, io->iov[i].iov_len);
					off += io->iov[i].iov_len;
				}
			}
		}
		if (io->op == BLKD_OP_READ)
			r = nbd_aio_pread(h, buf, io->len, io->off, cb, 0);
		else
			r = nbd_aio_pwrite(h, buf, io->len, io->off, cb, fua);
		break;
	}
	case BLKD_OP_FLUSH:
		r = nbd_aio_flush(h, cb, 0);
		break;
	case BLKD_OP_TRIM:
		r = nbd_aio_trim(h, io->len, io->off, cb, fua);
		break;
	case BLKD_OP_ZERO:
		r = nbd_aio_zero(h, io->len, io->off, cb, fua |
				 (io->zflags & BLKD_F_NOHOLE ? LIBNBD_CMD_FLAG_NO_HOLE : 0) |
				 (io->zflags & BLKD_F_FASTZERO ? LIBNBD_CMD_FLAG_FAST_ZERO : 0));
		break;
	case BLKD_OP_CACHE:
		r = nbd_aio_cache(h, io->len, io->off, cb, 0);
		break;
	default:
		return -EINVAL;
	}
out:
	if (r < 0) {
		int e = nbd_get_errno();

		return -(e ? e : EIO);
	}
	/* libnbd sends what it can at once; the poller must see the rest */
	if (nbd_aio_get_direction(h) & LIBNBD_AIO_DIRECTION_WRITE) {
		uint64_t one = 1;
		ssize_t w = write(p->efd, &one, sizeof(one));
		(void)w;
	}
	return 0;
}

/* Take a slot on p for io (m->lock held); waits while p's slots are all
 * out.  Returns NULL if p stopped being usable meanwhile. */
static struct mp_slot *__slot_wait(struct mpath *m, struct mp_path *p)
{
	struct mp_slot *s;

	while (!(s = __slot_get(p))) {
		m->slot_waiters++;
		pthread_cond_wait(&m->cond, &m->lock);
		m->slot_waiters--;
		if (!__path_usable(p))
			return NULL;
	}
	return s;
}

/* After path_send failed (m->lock held): the slot goes back. */
static void __send_failed(struct mp_path *p, struct mp_slot *s, int rc)
{
	char why[64];

	p->in_flight--;
	p->inflight_bytes -= s->bytes;
	__slot_put(p, s);
	if (rc != -ENOMEM) {
		snprintf(why, sizeof(why), "send: %s", strerror(-rc));
		__path_fail(p, why, true);
	}
}

static void __users_put(struct mp_path *p)
{
	if (!--p->users && p->want_down)
		pthread_cond_broadcast(&p->m->cond);
}

/* No usable path for io (M5); m->lock held.  Returns the action. */
static enum action __no_path(struct mpath *m, struct blkd_io *io, int *errp)
{
	if (!m->queue_if_no_path || m->nr_held >= m->o.queue_max || m->stopping) {
		*errp = -EIO;
		return ACT_END;
	}
	io->bpriv[2] = ob_mono_ns();
	io->bpriv[3] = 0;
	if (m->held_tail)
		m->held_tail->bpriv[3] = (uint64_t)(uintptr_t)io;
	else
		m->held_head = io;
	m->held_tail = io;
	m->nr_held++;
	return ACT_NONE;
}

static void mp_submit_flush(struct mpath *m, struct blkd_io *io)
{
	struct mp_path *targets[MP_MAX_PATHS];
	struct mp_slot *slots[MP_MAX_PATHS];
	struct nbd_handle *hs[MP_MAX_PATHS];
	unsigned n = 0;
	bool cover = false;
	enum action a = ACT_NONE;
	int err = 0;

	pthread_mutex_lock(&m->lock);
	for (unsigned i = 0; i < m->nr_paths; i++) {
		struct mp_path *p = &m->paths[i];

		if (p->wgen <= p->flushed_gen)
			continue;
		if (__path_usable(p))
			targets[n++] = p;
		else {
			p->cover_gen = p->wgen;
			cover = true;
		}
	}
	if (cover || !n) {		/* one usable path flushes the shared storage */
		struct mp_path *p = __choose_path(m, io, 0);

		if (!p) {
			a = __no_path(m, io, &err);
			pthread_mutex_unlock(&m->lock);
			act(io, a, err, NULL);
			return;
		}
		bool have = false;
		for (unsigned i = 0; i < n; i++)
			have |= targets[i] == p;
		if (!have)
			targets[n++] = p;
	}
	io->bpriv[0] = 0;
	io->bpriv[1] = n;
	io->bpriv[2] = 0;
	for (unsigned i = 0; i < n; i++) {
		struct mp_path *p = targets[i];

		slots[i] = __slot_wait(m, p);
		hs[i] = p->h;
		if (slots[i]) {
			slots[i]->io = io;
			slots[i]->bytes = 0;
			slots[i]->gen = p->wgen;
			p->in_flight++;
			p->users++;
		}
	}
	pthread_mutex_unlock(&m->lock);
	for (unsigned i = 0; i < n; i++) {
		struct mp_path *p = targets[i];
		int rc = slots[i] ? path_send(p, hs[i], slots[i], io) : -ENOTCONN;

		pthread_mutex_lock(&m->lock);
		if (slots[i])
			__users_put(p);
		if (rc) {
			if (slots[i])
				__send_failed(p, slots[i], rc);
			else
				__path_fail(p, "no slot", false);
			a = __flush_part_done(m, p, io, 0, rc == -ENOMEM ? ENOMEM : ENOTCONN, &err);
		}
		pthread_mutex_unlock(&m->lock);
		if (a != ACT_NONE)
			act(io, a, err, "mpath: flush part failed, requeue");
	}
}

static void mp_submit(struct blkd_backend *be, struct blkd_io *io)
{
	struct mpath *m = be->priv;
	struct mp_path *p;
	struct mp_slot *s;
	struct nbd_handle *h;
	enum action a;
	int err = 0, rc;

	if (io->op == BLKD_OP_FLUSH) {
		mp_submit_flush(m, io);
		return;
	}
	pthread_mutex_lock(&m->lock);
	for (;;) {
		p = __choose_path(m, io, io->bpriv[0]);
		if (!p) {
			if (io->bpriv[0] && __any_usable(m)) {	/* M3: EIO everywhere */
				a = ACT_END;
				err = -EIO;
			} else {
				a = __no_path(m, io, &err);
			}
			pthread_mutex_unlock(&m->lock);
			act(io, a, err, NULL);
			return;
		}
		s = __slot_wait(m, p);
		if (s)
			break;
	}
	s->io = io;
	s->bytes = io->len;
	p->in_flight++;
	p->inflight_bytes += io->len;
	p->users++;
	h = p->h;
	pthread_mutex_unlock(&m->lock);
	if (io->requeues)
		blkd_io_message(io, "mpath: issue to path %u (retry %u)", p->idx, io->requeues);
	rc = path_send(p, h, s, io);
	pthread_mutex_lock(&m->lock);
	__users_put(p);
	if (rc)
		__send_failed(p, s, rc);
	pthread_mutex_unlock(&m->lock);
	if (rc == -ENOMEM)
		blkd_io_end(io, rc);
	else if (rc)
		blkd_io_requeue(io, "mpath: send failed, requeue");
}

/* ---- the poller: one per path --------------------------------------------------------------- */

/* Tear the connection down (poller thread only): in-flight requests are
 * requeued, the handle closed.  M4. */
static void path_teardown(struct mp_path *p)
{
	struct mpath *m = p->m;
	struct blkd_io *list = NULL, *tail = NULL;
	struct nbd_handle *h;

	pthread_mutex_lock(&m->lock);
	p->want_down = true;
	while (p->users)
		pthread_cond_wait(&m->cond, &m->lock);
	for (unsigned i = 0; i < MP_SLOTS; i++) {
		struct mp_slot *s = &p->slots[i];

		if (s->state != SLOT_BUSY)
			continue;
		s->state = SLOT_ABANDONED;
		if (!s->io) {
			p->probe_err = ENOTCONN;
			p->probe_done = true;
			continue;
		}
		if (s->io->op == BLKD_OP_FLUSH) {
			/* one part of a flush: finish it as a path error */
			int err;
			enum action a = __flush_part_done(m, p, s->io, 0, ENOTCONN, &err);

			if (a == ACT_REQUEUE) {
				s->io->bpriv[3] = 0;
				if (tail) tail->bpriv[3] = (uint64_t)(uintptr_t)s->io; else list = s->io;
				tail = s->io;
			} else if (a == ACT_END) {
				/* cannot happen for ENOTCONN (always a path error) */
			}
			continue;
		}
		s->io->bpriv[3] = 0;
		if (tail)
			tail->bpriv[3] = (uint64_t)(uintptr_t)s->io;
		else
			list = s->io;
		tail = s->io;
		p->requeues++;
	}
	h = p->h;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	nbd_close(h);			/* no callback can touch our buffers after this */
	pthread_mutex_lock(&m->lock);
	for (unsigned i = 0; i < MP_SLOTS; i++)
		if (p->slots[i].state == SLOT_ABANDONED)
			__slot_put(p, &p->slots[i]);
	p->h = NULL;
	p->want_down = false;
	p->in_flight = 0;
	p->inflight_bytes = 0;
	pthread_mutex_unlock(&m->lock);
	requeue_list(list, "mpath: path lost, requeue");
}

static void *path_poller(void *arg)
{
	struct mp_path *p = arg;
	struct mpath *m = p->m;
	uint64_t last_scan = 0, timeout = m->o.io_timeout_ms * 1000000ull;
	char name[16];

	snprintf(name, sizeof(name), "blkd-path%u", p->idx);
	pthread_setname_np(pthread_self(), name);
	for (;;) {
		struct nbd_handle *h;
		struct pollfd pfd[2];
		unsigned dir;
		bool down = false;

		pthread_mutex_lock(&m->lock);
		while (!p->h && !m->stopping)
			pthread_cond_wait(&m->cond, &m->lock);
		if (!p->h) {
			pthread_mutex_unlock(&m->lock);
			break;
		}
		h = p->h;
		down = p->want_down || m->stopping;
		pthread_mutex_unlock(&m->lock);
		if (down) {
			path_teardown(p);
			continue;
		}
		dir = nbd_aio_get_direction(h);
		pfd[0] = (struct pollfd){ .fd = nbd_aio_get_fd(h), .events = 0 };
		if (dir & LIBNBD_AIO_DIRECTION_READ)
			pfd[0].events |= POLLIN;
		if (dir & LIBNBD_AIO_DIRECTION_WRITE)
			pfd[0].events |= POLLOUT;
		pfd[1] = (struct pollfd){ .fd = p->efd, .events = POLLIN };
		if (pfd[0].fd < 0) {
			pthread_mutex_lock(&m->lock);
			__path_fail(p, "connection closed", true);
			pthread_mutex_unlock(&m->lock);
			continue;
		}
		if (poll(pfd, 2, MP_POLL_MS) > 0) {
			if (pfd[1].revents & POLLIN) {
				uint64_t v;
				ssize_t r = read(p->efd, &v, sizeof(v));
				(void)r;
			}
			if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))
				nbd_aio_notify_read(h);
			else if (pfd[0].revents & POLLOUT)
				nbd_aio_notify_write(h);
		}
		if (nbd_aio_is_dead(h) || nbd_aio_is_closed(h)) {
			pthread_mutex_lock(&m->lock);
			__path_fail(p, "connection lost", true);
			pthread_mutex_unlock(&m->lock);
		}
		uint64_t now = ob_mono_ns();
		if (now - last_scan > MP_POLL_MS * 1000000ull) {	/* O(slots) per 100 ms */
			last_scan = now;
			pthread_mutex_lock(&m->lock);
			for (unsigned i = 0; p->in_flight && i < MP_SLOTS; i++)
				if (p->slots[i].state == SLOT_BUSY &&
				    now - p->slots[i].t_issue > timeout) {
					__path_fail(p, "request timed out", true);
					break;
				}
			pthread_mutex_unlock(&m->lock);
		}
	}
	return NULL;
}

/* ---- connecting and the checker ---------------------------------------------------------------- */

/* Connect p (no lock held).  0, or -errno with the reason in p->last_err. */
static int path_connect(struct mpath *m, struct mp_path *p, bool first, char *err, size_t errlen)
{
	struct nbd_handle *h = nbd_create();
	int64_t size;

	if (!h) {
		snprintf(err, errlen, "nbd_create: %s", nbd_get_error());
		return -ENOMEM;
	}
	if (nbd_connect_uri(h, p->uri) == -1) {
		int e = nbd_get_errno();

		snprintf(err, errlen, "%s", nbd_get_error());
		nbd_close(h);
		return -(e ? e : EIO);
	}
	size = nbd_get_size(h);
	if (first) {
		m->be.size = (uint64_t)size;
		m->be.caps = BLKD_CAP_CACHE;
		if (nbd_can_trim(h) == 1)
			m->be.caps |= BLKD_CAP_TRIM;
		if (nbd_can_zero(h) == 1)
			m->be.caps |= BLKD_CAP_ZERO;
		if (nbd_can_fast_zero(h) == 1)
			m->be.caps |= BLKD_CAP_FAST_ZERO;
		if (nbd_can_flush(h) == 1)
			m->be.caps |= BLKD_CAP_FLUSH;
		if (nbd_can_fua(h) == 1)
			m->be.caps |= BLKD_CAP_FUA;
		if (nbd_is_read_only(h) == 1 || m->o.readonly)
			m->be.caps |= BLKD_CAP_READONLY;
	} else if ((uint64_t)size != m->be.size) {
		snprintf(err, errlen, "size %lld, expected %llu", (long long)size,
			 (unsigned long long)m->be.size);
		nbd_close(h);
		return -EINVAL;
	} else if (((m->be.caps & BLKD_CAP_FUA) && nbd_can_fua(h) != 1) ||
		   ((m->be.caps & BLKD_CAP_FLUSH) && nbd_can_flush(h) != 1)) {
		snprintf(err, errlen, "lacks flush or FUA, which the device advertises");
		nbd_close(h);
		return -EINVAL;
	}
	pthread_mutex_lock(&m->lock);
	p->h = h;
	pthread_cond_broadcast(&m->cond);	/* the poller */
	pthread_mutex_unlock(&m->lock);
	return 0;
}

/* Read sector 0 through p (checker thread); 0 or the NBD error. */
static int path_probe(struct mpath *m, struct mp_path *p, uint64_t wait_ms)
{
	struct timespec ts;
	struct mp_slot *s;
	struct nbd_handle *h;
	int rc;

	pthread_mutex_lock(&m->lock);
	if (!p->h || p->want_down || !(s = __slot_get(p))) {
		pthread_mutex_unlock(&m->lock);
		return ENOTCONN;
	}
	s->io = NULL;
	s->bytes = 0;
	p->probe_done = false;
	p->users++;
	h = p->h;
	pthread_mutex_unlock(&m->lock);
	rc = path_send(p, h, s, NULL);
	pthread_mutex_lock(&m->lock);
	__users_put(p);
	if (rc) {
		__slot_put(p, s);
		pthread_mutex_unlock(&m->lock);
		return -rc;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(wait_ms / 1000);
	ts.tv_nsec += (long)(wait_ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	while (!p->probe_done && !m->stopping)
		if (pthread_cond_timedwait(&m->cond, &m->lock, &ts) == ETIMEDOUT)
			break;
	rc = p->probe_done ? p->probe_err : ETIMEDOUT;	/* a hung probe: the poller's
							   timeout scan tears it down */
	pthread_mutex_unlock(&m->lock);
	return rc;
}

static void check_paths(struct mpath *m)
{
	char err[256];

	for (unsigned i = 0; i < m->nr_paths; i++) {
		struct mp_path *p = &m->paths[i];
		bool connected, failed;

		pthread_mutex_lock(&m->lock);
		connected = p->h && !p->want_down;
		failed = p->state == PATH_FAILED && !p->admin_down;
		pthread_mutex_unlock(&m->lock);
		if (!failed || m->stopping)
			continue;
		if (!connected) {
			int rc = path_connect(m, p, false, err, sizeof(err));

			if (rc) {
				pthread_mutex_lock(&m->lock);
				snprintf(p->last_err, sizeof(p->last_err), "reconnect: %.80s", err);
				pthread_mutex_unlock(&m->lock);
				continue;
			}
		}
		int perr = path_probe(m, p, m->o.io_timeout_ms < 5000 ? m->o.io_timeout_ms : 5000);
		struct blkd_io *held = NULL;

		pthread_mutex_lock(&m->lock);
		if (!perr && p->h && !p->want_down && !p->admin_down) {
			__path_reinstate(p);
			held = __take_held(m);
		} else if (perr) {
			snprintf(p->last_err, sizeof(p->last_err), "probe: %s", strerror(perr));
		}
		pthread_mutex_unlock(&m->lock);
		requeue_list(held, "mpath: path reinstated, requeue held request");
	}
}

/* Held too long (M5), delayed failback. */
static void check_timers(struct mpath *m)
{
	struct blkd_io *expired = NULL, *held;
	uint64_t now = ob_mono_ns();
	uint64_t limit = (uint64_t)m->o.queue_if_no_path_ms * 1000000ull;

	pthread_mutex_lock(&m->lock);
	if (m->failback_at && now >= m->failback_at) {
		m->failback_at = 0;
		for (unsigned g = 0; g < (unsigned)(m->cur < 0 ? 0 : m->cur); g++)
			if (__group_usable(m, g)) {
				mp_log(m, "failback to group %u (delayed)", g + 1);
				m->cur = (int)g;
				break;
			}
	}
	held = __take_held(m);
	while (held) {			/* keep the young ones, in order */
		struct blkd_io *io = held, *next = (struct blkd_io *)(uintptr_t)io->bpriv[3];

		held = next;
		if (m->o.queue_if_no_path_ms >= 0 && now - io->bpriv[2] >= limit) {
			io->bpriv[3] = (uint64_t)(uintptr_t)expired;
			expired = io;
			continue;
		}
		io->bpriv[3] = 0;
		if (m->held_tail)
			m->held_tail->bpriv[3] = (uint64_t)(uintptr_t)io;
		else
			m->held_head = io;
		m->held_tail = io;
		m->nr_held++;
	}
	pthread_mutex_unlock(&m->lock);
	while (expired) {
		struct blkd_io *next = (struct blkd_io *)(uintptr_t)expired->bpriv[3];

		blkd_io_end(expired, -EIO);
		expired = next;
	}
}

static void *checker_main(void *arg)
{
	struct mpath *m = arg;

	pthread_setname_np(pthread_self(), "blkd-checker");
	pthread_mutex_lock(&m->lock);
	while (!m->stopping) {
		struct timespec ts;
		uint64_t wait = m->o.checker_ms;

		if (m->nr_held && wait > 100)
			wait = 100;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += (time_t)(wait / 1000);
		ts.tv_nsec += (long)(wait % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&m->cond, &m->lock, &ts);
		if (m->stopping)
			break;
		pthread_mutex_unlock(&m->lock);
		check_timers(m);
		check_paths(m);
		pthread_mutex_lock(&m->lock);
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

/* ---- control ------------------------------------------------------------------------------------ */

bool blkd_backend_is_mpath(const struct blkd_backend *be)
{
	return be && be->ops->submit == mp_submit;
}

size_t blkd_mpath_json(struct blkd_backend *be, char *buf, size_t len)
{
	struct mpath *m = be->priv;
	size_t n = 0;

#define OUT(...) do { \
		int r_ = snprintf(buf + n, n < len ? len - n : 0, __VA_ARGS__); \
		if (r_ > 0) n += (size_t)r_; \
	} while (0)
	pthread_mutex_lock(&m->lock);
	OUT("{\"active_group\":%d,\"queue_if_no_path\":%s,\"held\":%u,\"groups\":[",
	    m->cur + 1, m->queue_if_no_path ? "true" : "false", m->nr_held);
	for (unsigned g = 0; g < m->nr_groups; g++) {
		OUT("%s{\"group\":%u,\"selector\":\"%s\",\"paths\":[", g ? "," : "", g + 1,
		    m->groups[g].sel->name);
		for (unsigned i = 0; i < m->groups[g].nr; i++)
			OUT("%s%u", i ? "," : "", m->groups[g].paths[i]);
		OUT("]}");
	}
	OUT("],\"paths\":[");
	for (unsigned i = 0; i < m->nr_paths; i++) {
		struct mp_path *p = &m->paths[i];

		OUT("%s{\"index\":%u,\"uri\":\"", i ? "," : "", i);
		for (const char *c = p->uri; *c; c++)
			OUT(*c == '"' || *c == '\\' ? "\\%c" : "%c", *c);
		OUT("\",\"group\":%u,\"state\":\"%s\",\"connected\":%s,\"admin_down\":%s,"
		    "\"fail_count\":%llu,\"in_flight\":%u,\"ios\":%llu,\"bytes\":%llu,"
		    "\"errors\":%llu,\"requeues\":%llu,\"last_error\":\"%s\"}",
		    p->group + 1, p->state == PATH_ACTIVE ? "active" : "failed",
		    p->h ? "true" : "false", p->admin_down ? "true" : "false",
		    (unsigned long long)p->fail_count, p->in_flight, (unsigned long long)p->ios,
		    (unsigned long long)p->bytes, (unsigned long long)p->errors,
		    (unsigned long long)p->requeues, p->last_err);
	}
	OUT("]}");
	pthread_mutex_unlock(&m->lock);
#undef OUT
	if (len)
		buf[n < len ? n : len - 1] = '\0';
	return n < len ? n : (len ? len - 1 : 0);
}

static int parse_index(const char *s, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	if (!s)
		return -EINVAL;
	v = strtoul(s, &end, 10);
	if (end == s || *end || v >= max)
		return -ENOENT;
	*out = (unsigned)v;
	return 0;
}

int blkd_mpath_message(struct blkd_backend *be, const char *msg, char *errbuf, size_t errlen)
{
	struct mpath *m = be->priv;
	char word[32] = "", arg[32] = "";
	struct blkd_io *held = NULL;
	bool fail_held = false;
	unsigned i;
	int rc = 0;

	if (sscanf(msg, "%31s %31s", word, arg) < 1)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	if (!strcmp(word, "fail_path")) {
		if ((rc = parse_index(arg, m->nr_paths, &i)) == 0) {
			m->paths[i].admin_down = true;
			__path_fail(&m->paths[i], "failed by the operator", false);
		}
	} else if (!strcmp(word, "reinstate_path")) {
		if ((rc = parse_index(arg, m->nr_paths, &i)) == 0) {
			struct mp_path *p = &m->paths[i];

			p->admin_down = false;
			if (p->h && !p->want_down) {
				__path_reinstate(p);
				held = __take_held(m);
			}
			pthread_cond_broadcast(&m->cond);	/* the checker reconnects it */
		}
	} else if (!strcmp(word, "switch_group")) {
		if ((rc = parse_index(arg, m->nr_groups + 1, &i)) == 0 && i > 0) {
			m->cur = (int)i - 1;
			m->failback_at = 0;
			mp_log(m, "switch to group %u by the operator", i);
		} else {
			rc = -ENOENT;
		}
	} else if (!strcmp(word, "queue_if_no_path")) {
		m->queue_if_no_path = true;
	} else if (!strcmp(word, "fail_if_no_path")) {
		m->queue_if_no_path = false;
		held = __take_held(m);
		fail_held = true;
	} else {
		rc = -EINVAL;
	}
	pthread_mutex_unlock(&m->lock);
	if (rc == -EINVAL)
		snprintf(errbuf, errlen, "unknown message '%s' (expected fail_path N, reinstate_path N, "
			 "switch_group G, queue_if_no_path, fail_if_no_path)", msg);
	else if (rc == -ENOENT)
		snprintf(errbuf, errlen, "no such path or group '%s'", arg);
	if (fail_held) {
		while (held) {
			struct blkd_io *next = (struct blkd_io *)(uintptr_t)held->bpriv[3];

			blkd_io_end(held, -EIO);
			held = next;
		}
	} else {
		requeue_list(held, "mpath: path reinstated, requeue held request");
	}
	return rc;
}

/* ---- create / destroy ------------------------------------------------------------------------------ */

void blkd_mpath_opts_init(struct blkd_mpath_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->failback = BLKD_FAILBACK_IMMEDIATE;
	o->queue_if_no_path_ms = 30000;
	o->queue_max = 4096;
	o->checker_ms = 1000;
	o->io_timeout_ms = 30000;
}

static void mp_destroy(struct blkd_backend *be)
{
	struct mpath *m = be->priv;

	pthread_mutex_lock(&m->lock);
	m->stopping = true;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->checker, NULL);
	for (unsigned i = 0; i < m->nr_paths; i++) {
		struct mp_path *p = &m->paths[i];
		uint64_t one = 1;
		ssize_t w = write(p->efd, &one, sizeof(one));

		(void)w;
		pthread_join(p->thread, NULL);
		for (unsigned j = 0; j < MP_SLOTS; j++)
			free(p->slots[j].bounce);
		free(p->slots);
		free(p->uri);
		close(p->efd);
	}
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->cond);
	free(m);
}

static const struct blkd_backend_ops mpath_ops;

static const struct mp_selector_ops *selector_find(const char *name)
{
	for (unsigned i = 0; selectors[i]; i++)
		if (!strcmp(selectors[i]->name, name))
			return selectors[i];
	return NULL;
}

int blkd_mpath_create(const struct blkd_mpath_opts *o, struct blkd_backend **out,
		      char *errbuf, size_t errlen)
{
	struct mpath *m;
	pthread_condattr_t ca;
	char err[256];
	unsigned started = 0, connected = 0;
	int rc = -EINVAL, first_err = 0;

	if (!o->nr_paths || o->nr_paths > MP_MAX_PATHS) {
		snprintf(errbuf, errlen, "expected 1 to %d paths, got %u", MP_MAX_PATHS, o->nr_paths);
		return -EINVAL;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->o = *o;
	m->o.uris = NULL;
	m->o.groups = NULL;
	m->be.ops = &mpath_ops;
	m->be.priv = m;
	m->cur = -1;
	m->queue_if_no_path = o->queue_if_no_path_ms != 0;
	pthread_mutex_init(&m->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->cond, &ca);
	pthread_condattr_destroy(&ca);
	for (unsigned i = 0; i < o->nr_paths; i++) {
		unsigned g = o->groups ? o->groups[i] : 1;

		if (g < 1 || g > MP_MAX_GROUPS) {
			snprintf(errbuf, errlen, "path %u: group %u out of 1..%d", i, g, MP_MAX_GROUPS);
			goto err;
		}
		if (g > m->nr_groups)
			m->nr_groups = g;
	}
	for (unsigned g = 0; g < m->nr_groups; g++) {
		const char *name = o->selectors[g] ? o->selectors[g] : "service-time";

		m->groups[g].sel = selector_find(name);
		if (!m->groups[g].sel) {
			snprintf(errbuf, errlen, "group %u: unknown path selector '%s' (expected "
				 "round-robin, queue-length or service-time)", g + 1, name);
			goto err;
		}
	}
	for (unsigned i = 0; i < o->nr_paths; i++) {
		struct mp_path *p = &m->paths[i];
		unsigned g = (o->groups ? o->groups[i] : 1) - 1;

		p->m = m;
		p->idx = i;
		p->group = g;
		p->rel_tput = 1;
		p->state = PATH_FAILED;
		p->efd = -1;
		m->groups[g].paths[m->groups[g].nr++] = i;
		p->uri = strdup(o->uris[i]);
		p->slots = calloc(MP_SLOTS, sizeof(*p->slots));
		p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		rc = -ENOMEM;
		if (!p->uri || !p->slots || p->efd < 0)
			goto err;
		for (unsigned j = MP_SLOTS; j-- > 0; ) {
			p->slots[j].p = p;
			p->slots[j].next_free = p->free_slots;
			p->free_slots = &p->slots[j];
		}
		m->nr_paths = i + 1;
	}
	for (unsigned g = 0; g < m->nr_groups; g++)
		if (!m->groups[g].nr) {
			snprintf(errbuf, errlen, "group %u has no path", g + 1);
			rc = -EINVAL;
			goto err;
		}
	/* connect: the first that answers sets size and capabilities */
	for (unsigned i = 0; i < m->nr_paths; i++) {
		struct mp_path *p = &m->paths[i];

		rc = path_connect(m, p, connected == 0, err, sizeof(err));
		if (rc) {
			snprintf(p->last_err, sizeof(p->last_err), "connect: %.80s", err);
			if (!first_err) {
				first_err = rc;
				snprintf(errbuf, errlen, "%s: %s", p->uri, err);
			}
			if (connected == 0 && rc == -EINVAL)
				goto err;
			continue;
		}
		p->state = PATH_ACTIVE;
		connected++;
	}
	if (!connected) {
		rc = first_err;
		goto err;
	}
	if (m->be.caps & BLKD_CAP_FUA)
		m->be.ordered = BLKD_ORDERED_DRAIN_FUA;
	else if (m->be.caps & BLKD_CAP_FLUSH)
		m->be.ordered = BLKD_ORDERED_DRAIN_FLUSH;
	else
		m->be.ordered = BLKD_ORDERED_DRAIN;
	for (unsigned i = 0; i < m->nr_paths; i++) {
		rc = -pthread_create(&m->paths[i].thread, NULL, path_poller, &m->paths[i]);
		if (rc)
			goto err_threads;
		started++;
	}
	rc = -pthread_create(&m->checker, NULL, checker_main, m);
	if (rc)
		goto err_threads;
	*out = &m->be;
	return 0;
err_threads:
	snprintf(errbuf, errlen, "cannot start path threads: %s", strerror(-rc));
	pthread_mutex_lock(&m->lock);
	m->stopping = true;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	for (unsigned i = 0; i < started; i++)
		pthread_join(m->paths[i].thread, NULL);
err:
	for (unsigned i = 0; i < m->nr_paths; i++) {
		struct mp_path *p = &m->paths[i];

		if (p->h && i >= started)
			nbd_close(p->h);
		free(p->slots);
		free(p->uri);
		if (p->efd >= 0)
			close(p->efd);
	}
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->cond);
	free(m);
	return rc;
}

/* ---- path selectors (spec C.3) --------------------------------------------------------------------- */

static bool candidate(struct mpath *m, unsigned idx, uint64_t exclude)
{
	return !(exclude & (1ull << idx)) && __path_usable(&m->paths[idx]) &&
	       m->paths[idx].free_slots;
}

/* round-robin, repeat_count 1 (the request-based default) */
static struct mp_path *rr_select(struct mpath *m, struct mp_group *g, const struct blkd_io *io,
				 uint64_t exclude)
{
	for (unsigned k = 0; k < g->nr; k++) {
		unsigned j = (g->rr_next + k) % g->nr;

		if (candidate(m, g->paths[j], exclude)) {
			g->rr_next = j + 1;
			return &m->paths[g->paths[j]];
		}
	}
	return NULL;
}

/* Lowest cost wins; ties rotate (dm moves the chosen path to the tail). */
static struct mp_path *select_min(struct mpath *m, struct mp_group *g, uint64_t exclude,
				  uint64_t (*cost)(const struct mp_path *p, const struct blkd_io *io),
				  const struct blkd_io *io)
{
	struct mp_path *best = NULL;
	uint64_t best_cost = 0;
	unsigned best_j = 0;

	for (unsigned k = 0; k < g->nr; k++) {
		unsigned j = (g->rr_next + k) % g->nr;
		struct mp_path *p = &m->paths[g->paths[j]];
		uint64_t c;

		if (!candidate(m, g->paths[j], exclude))
			continue;
		c = cost(p, io);
		if (!best || c < best_cost) {
			best = p;
			best_cost = c;
			best_j = j;
		}
	}
	if (best)
		g->rr_next = best_j + 1;
	return best;
}

static uint64_t ql_cost(const struct mp_path *p, const struct blkd_io *io)
{
	return p->in_flight;
}

static struct mp_path *ql_select(struct mpath *m, struct mp_group *g, const struct blkd_io *io,
				 uint64_t exclude)
{
	return select_min(m, g, exclude, ql_cost, io);
}

/* (in-flight bytes + this request) / relative throughput */
static uint64_t st_cost(const struct mp_path *p, const struct blkd_io *io)
{
	return (p->inflight_bytes + (io ? io->len : 0)) / (p->rel_tput ? p->rel_tput : 1);
}

static struct mp_path *st_select(struct mpath *m, struct mp_group *g, const struct blkd_io *io,
				 uint64_t exclude)
{
	return select_min(m, g, exclude, st_cost, io);
}

static const struct mp_selector_ops sel_round_robin = { .name = "round-robin", .select = rr_select };
static const struct mp_selector_ops sel_queue_length = { .name = "queue-length", .select = ql_select };
static const struct mp_selector_ops sel_service_time = { .name = "service-time", .select = st_select };

static const struct mp_selector_ops *const selectors[] = {
	&sel_round_robin, &sel_queue_length, &sel_service_time, NULL,
};

static const struct blkd_backend_ops mpath_ops = {
	.name = "mpath",
	.submit = mp_submit,
	.destroy = mp_destroy,
};
