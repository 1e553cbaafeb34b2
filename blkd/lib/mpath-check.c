/* SPDX-License-Identifier: MIT */
/*
 * mpath-check.c - the checker thread of a multipath device: it reconnects
 * failed paths and probes them with a one-sector read before they are
 * reinstated, ends requests held longer than queue_if_no_path allows and
 * runs delayed failback.  Connecting is synchronous (a known gap: a server
 * that never finishes the handshake stalls the other probes).
 */
#include <errno.h>
#include <libnbd.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mpath-int.h"
#include "ob/clock.h"

/* ---- connecting and the checker ---------------------------------------------------------------- */

/* Connect p (no lock held).  0, or -errno with the reason in err. */
int mp_path_connect(struct mpath *m, struct mp_path *p, bool first, struct ob_err *err)
{
	struct nbd_handle *h = nbd_create();
	int64_t size;

	if (!h) {
		return ob_err_set(err, -ENOMEM, "nbd_create: %s", nbd_get_error());
	}
	if ((m->o.tls_certificates && nbd_set_tls_certificates(h, m->o.tls_certificates) == -1) ||
	    (m->o.tls_psk_file && nbd_set_tls_psk_file(h, m->o.tls_psk_file) == -1) ||
	    nbd_connect_uri(h, p->uri) == -1) {
		int e = nbd_get_errno();

		ob_err_set(err, -(e ? e : EIO), "%s", nbd_get_error());
		nbd_close(h);
		return err->code;
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
		ob_err_set(err, -EINVAL, "size %lld, expected %llu", (long long)size,
			   (unsigned long long)m->be.size);
		nbd_close(h);
		return -EINVAL;
	} else if (((m->be.caps & BLKD_CAP_FUA) && nbd_can_fua(h) != 1) ||
		   ((m->be.caps & BLKD_CAP_FLUSH) && nbd_can_flush(h) != 1)) {
		ob_err_set(err, -EINVAL, "lacks flush or FUA, which the device advertises");
		nbd_close(h);
		return -EINVAL;
	}
	pthread_mutex_lock(&m->lock);
	p->h = h;
	pthread_cond_broadcast(&m->cond);	/* the poller */
	pthread_mutex_unlock(&m->lock);
	return 0;
}

/* Read the probe sector (0 unless told) through p (checker thread); 0 or
 * the NBD error. */
static int path_probe(struct mpath *m, struct mp_path *p, uint64_t wait_ms)
{
	struct timespec ts;
	struct mp_slot *s;
	struct nbd_handle *h;
	int rc;

	pthread_mutex_lock(&m->lock);
	if (!p->h || p->want_down || !(s = __mp_slot_get(p))) {
		pthread_mutex_unlock(&m->lock);
		return ENOTCONN;
	}
	s->io = NULL;
	s->bytes = 0;
	p->probe_done = false;
	p->users++;
	h = p->h;
	pthread_mutex_unlock(&m->lock);
	rc = mp_path_send(p, h, s, NULL);
	pthread_mutex_lock(&m->lock);
	__mp_users_put(p);
	if (rc) {
		__mp_slot_put(p, s);
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
	struct ob_err err = { 0 };

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
			int rc = mp_path_connect(m, p, false, &err);

			if (rc) {
				pthread_mutex_lock(&m->lock);
				snprintf(p->last_err, sizeof(p->last_err), "reconnect: %.80s", err.msg);
				pthread_mutex_unlock(&m->lock);
				continue;
			}
		}
		int perr = path_probe(m, p, m->o.io_timeout_ms < 5000 ? m->o.io_timeout_ms : 5000);
		struct blkd_io *held = NULL;

		pthread_mutex_lock(&m->lock);
		if (!perr && p->h && !p->want_down && !p->admin_down) {
			__mp_path_reinstate(p);
			held = __mp_take_held(m);
		} else if (perr) {
			snprintf(p->last_err, sizeof(p->last_err), "probe: %s", strerror(perr));
		}
		pthread_mutex_unlock(&m->lock);
		mp_requeue_list(held, "mpath: path reinstated, requeue held request");
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
			if (__mp_group_usable(m, g)) {
				mp_log(m, "failback to group %u (delayed)", g + 1);
				m->cur = (int)g;
				break;
			}
	}
	held = __mp_take_held(m);
	while (held) {			/* keep the young ones, in order */
		struct blkd_io *io = held, *next = (struct blkd_io *)(uintptr_t)io->bpriv[3];

		held = next;
		if (m->o.queue_if_no_path_ms >= 0 && now - io->bpriv[2] >= limit) {
			io->bpriv[3] = (uint64_t)(uintptr_t)expired;
			expired = io;
			continue;
		}
		__mp_hold(m, io);
	}
	pthread_mutex_unlock(&m->lock);
	while (expired) {
		struct blkd_io *next = (struct blkd_io *)(uintptr_t)expired->bpriv[3];

		blkd_io_end(expired, -EIO);
		expired = next;
	}
}

void *mp_checker_main(void *arg)
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
