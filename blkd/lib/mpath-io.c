/* SPDX-License-Identifier: MIT */
/*
 * mpath-io.c - requests on the paths of a multipath device: submission
 * straight into libnbd (nbd_aio_*), the classification of each answer
 * (M1-M5, see mpath.c), flushes with their cover bookkeeping, and the
 * poller thread of each path that runs its handle's state machine and
 * tears a failed connection down.
 */
#include <errno.h>
#include <libnbd.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpath-int.h"
#include "ob/clock.h"

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
		__mp_path_fail(p, why, err != EIO);
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
				__mp_path_fail(&m->paths[i], "EIO where a sibling path succeeded", false);
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
	__mp_path_fail(p, why, true);
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
		__mp_slot_put(p, s);
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
	__mp_slot_put(p, s);
	pthread_mutex_unlock(&m->lock);
	snprintf(why, sizeof(why), "mpath: path %u: %s, requeue", p->idx, strerror(err));
	act(io, a, rc, why);
	return 1;
}

/* ---- submission ------------------------------------------------------------------------ */

/* Send one command for io (or a probe when io is NULL) on slot s of p;
 * called without m->lock, with p->users counted.  Returns 0 or -errno. */
int mp_path_send(struct mp_path *p, struct nbd_handle *h, struct mp_slot *s,
		     struct blkd_io *io)
{
	nbd_completion_callback cb = { .callback = mp_complete, .user_data = s };
	uint32_t fua = io && io->fua ? LIBNBD_CMD_FLAG_FUA : 0;
	int64_t r;

	if (!io) {
		uint64_t off = p->m->o.probe_sector * 512, size = p->m->be.size;

		if (off >= size)	/* a smaller device than the option expected */
			off = 0;
		if (mp_slot_bounce(s, 512))
			return -ENOMEM;
		r = nbd_aio_pread(h, s->bounce, size - off < 512 ? size - off : 512, off, cb, 0);
		goto out;
	}
	switch (io->op) {
	case BLKD_OP_READ:
	case BLKD_OP_WRITE: {
		void *buf = io->iovcnt == 1 ? io->iov[0].iov_base : NULL;

		if (!buf) {
			if (mp_slot_bounce(s, io->len))
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

	while (!(s = __mp_slot_get(p))) {
		m->slot_waiters++;
		pthread_cond_wait(&m->cond, &m->lock);
		m->slot_waiters--;
		if (!__path_usable(p))
			return NULL;
	}
	return s;
}

/* After mp_path_send failed (m->lock held): the slot goes back. */
static void __send_failed(struct mp_path *p, struct mp_slot *s, int rc)
{
	char why[64];

	p->in_flight--;
	p->inflight_bytes -= s->bytes;
	__mp_slot_put(p, s);
	if (rc != -ENOMEM) {
		snprintf(why, sizeof(why), "send: %s", strerror(-rc));
		__mp_path_fail(p, why, true);
	}
}

void __mp_users_put(struct mp_path *p)
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
	__mp_hold(m, io);
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
		struct mp_path *p = __mp_choose_path(m, io, 0);

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
		int rc = slots[i] ? mp_path_send(p, hs[i], slots[i], io) : -ENOTCONN;

		pthread_mutex_lock(&m->lock);
		if (slots[i])
			__mp_users_put(p);
		if (rc) {
			if (slots[i])
				__send_failed(p, slots[i], rc);
			else
				__mp_path_fail(p, "no slot", false);
			a = __flush_part_done(m, p, io, 0, rc == -ENOMEM ? ENOMEM : ENOTCONN, &err);
		}
		pthread_mutex_unlock(&m->lock);
		if (a != ACT_NONE)
			act(io, a, err, "mpath: flush part failed, requeue");
	}
}

void mp_submit(struct blkd_backend *be, struct blkd_io *io)
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
		p = __mp_choose_path(m, io, io->bpriv[0]);
		if (!p) {
			if (io->bpriv[0] && __mp_any_usable(m)) {	/* M3: EIO everywhere */
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
	rc = mp_path_send(p, h, s, io);
	pthread_mutex_lock(&m->lock);
	__mp_users_put(p);
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
			__mp_slot_put(p, &p->slots[i]);
	p->h = NULL;
	p->want_down = false;
	p->in_flight = 0;
	p->inflight_bytes = 0;
	pthread_mutex_unlock(&m->lock);
	mp_requeue_list(list, "mpath: path lost, requeue");
}

void *mp_path_poller(void *arg)
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
			__mp_path_fail(p, "connection closed", true);
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
			__mp_path_fail(p, "connection lost", true);
			pthread_mutex_unlock(&m->lock);
		}
		uint64_t now = ob_mono_ns();
		if (now - last_scan > MP_POLL_MS * 1000000ull) {	/* O(slots) per 100 ms */
			last_scan = now;
			pthread_mutex_lock(&m->lock);
			for (unsigned i = 0; p->in_flight && i < MP_SLOTS; i++)
				if (p->slots[i].state == SLOT_BUSY &&
				    now - p->slots[i].t_issue > timeout) {
					__mp_path_fail(p, "request timed out", true);
					break;
				}
			pthread_mutex_unlock(&m->lock);
		}
	}
	return NULL;
}

