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
 * Files (mpath-int.h has the layering): this one is the device (create,
 * destroy, control messages, JSON); mpath-check.c the checker thread;
 * mpath-io.c submission, completions and the pollers; mpath-path.c path,
 * group and slot state; mpath-select.c the selectors.
 *
 * Objects: a device has priority groups (1 = preferred), each with a path
 * selector (round-robin, queue-length, service-time, spec C.3); a path is
 * one libnbd handle.  Threads: one
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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "mpath-int.h"

static const struct blkd_backend_ops mpath_ops;

/* ---- control ------------------------------------------------------------------------------------ */

bool blkd_backend_is_mpath(const struct blkd_backend *be)
{
	return be && be->ops == &mpath_ops;
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

int blkd_mpath_message(struct blkd_backend *be, const char *msg, struct ob_err *err)
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
			__mp_path_fail(&m->paths[i], "failed by the operator", false);
		}
	} else if (!strcmp(word, "reinstate_path")) {
		if ((rc = parse_index(arg, m->nr_paths, &i)) == 0) {
			struct mp_path *p = &m->paths[i];

			p->admin_down = false;
			if (p->h && !p->want_down) {
				__mp_path_reinstate(p);
				held = __mp_take_held(m);
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
		held = __mp_take_held(m);
		fail_held = true;
	} else {
		rc = -EINVAL;
	}
	pthread_mutex_unlock(&m->lock);
	if (rc == -EINVAL)
		ob_err_set(err, rc, "unknown message '%s' (expected fail_path N, reinstate_path N, "
			   "switch_group G, queue_if_no_path, fail_if_no_path)", msg);
	else if (rc == -ENOENT)
		ob_err_set(err, rc, "no such path or group '%s'", arg);
	if (fail_held) {
		while (held) {
			struct blkd_io *next = (struct blkd_io *)(uintptr_t)held->bpriv[3];

			blkd_io_end(held, -EIO);
			held = next;
		}
	} else {
		mp_requeue_list(held, "mpath: path reinstated, requeue held request");
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

int blkd_mpath_create(const struct blkd_mpath_opts *o, struct blkd_backend **out,
		      struct ob_err *err)
{
	struct mpath *m;
	pthread_condattr_t ca;
	struct ob_err perr = { 0 };
	unsigned started = 0, connected = 0;
	int rc = -EINVAL, first_err = 0;

	if (!o->nr_paths || o->nr_paths > MP_MAX_PATHS) {
		return ob_err_set(err, -EINVAL, "expected 1 to %d paths, got %u", MP_MAX_PATHS,
				  o->nr_paths);
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
			ob_err_set(err, -EINVAL, "path %u: group %u out of 1..%d", i, g, MP_MAX_GROUPS);
			goto err;
		}
		if (g > m->nr_groups)
			m->nr_groups = g;
	}
	for (unsigned g = 0; g < m->nr_groups; g++) {
		const char *name = o->selectors[g] ? o->selectors[g] : "service-time";

		m->groups[g].sel = mp_selector_find(name);
		if (!m->groups[g].sel) {
			ob_err_set(err, -EINVAL, "group %u: unknown path selector '%s' (expected "
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
			rc = ob_err_set(err, -EINVAL, "group %u has no path", g + 1);
			goto err;
		}
	/* connect: the first that answers sets size and capabilities */
	for (unsigned i = 0; i < m->nr_paths; i++) {
		struct mp_path *p = &m->paths[i];

		rc = mp_path_connect(m, p, connected == 0, &perr);
		if (rc) {
			snprintf(p->last_err, sizeof(p->last_err), "connect: %.80s", perr.msg);
			if (!first_err) {
				first_err = rc;
				ob_err_set(err, rc, "%s: %s", p->uri, perr.msg);
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
		rc = -pthread_create(&m->paths[i].thread, NULL, mp_path_poller, &m->paths[i]);
		if (rc)
			goto err_threads;
		started++;
	}
	rc = -pthread_create(&m->checker, NULL, mp_checker_main, m);
	if (rc)
		goto err_threads;
	*out = &m->be;
	return 0;
err_threads:
	ob_err_set(err, rc, "cannot start path threads");
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

static const struct blkd_backend_ops mpath_ops = {
	.name = "mpath",
	.submit = mp_submit,
	.destroy = mp_destroy,
};

