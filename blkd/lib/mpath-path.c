/* SPDX-License-Identifier: MIT */
/*
 * mpath-path.c - the state of a multipath device's paths and groups (m->lock
 * held throughout): failing and reinstating a path, the current group and
 * failback, the list of requests held while no path is usable, the command
 * slots of a path, and choosing the path for a request through the group's
 * selector (mpath-select.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "mpath-int.h"
#include "ob/clock.h"

void mp_log(struct mpath *m, const char *fmt, ...)
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

bool __mp_group_usable(struct mpath *m, unsigned g)
{
	for (unsigned i = 0; i < m->groups[g].nr; i++)
		if (__path_usable(&m->paths[m->groups[g].paths[i]]))
			return true;
	return false;
}

void __mp_path_fail(struct mp_path *p, const char *why, bool teardown)
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
/* Append io to the requests held while no path is usable (M5). */
void __mp_hold(struct mpath *m, struct blkd_io *io)
{
	io->bpriv[3] = 0;
	if (m->held_tail)
		m->held_tail->bpriv[3] = (uint64_t)(uintptr_t)io;
	else
		m->held_head = io;
	m->held_tail = io;
	m->nr_held++;
}

struct blkd_io *__mp_take_held(struct mpath *m)
{
	struct blkd_io *head = m->held_head;

	m->held_head = m->held_tail = NULL;
	m->nr_held = 0;
	return head;
}

void mp_requeue_list(struct blkd_io *io, const char *why)
{
	while (io) {
		struct blkd_io *next = (struct blkd_io *)(uintptr_t)io->bpriv[3];

		io->bpriv[3] = 0;
		blkd_io_requeue(io, why);
		io = next;
	}
}

void __mp_path_reinstate(struct mp_path *p)
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
	if (m->cur >= 0 && __mp_group_usable(m, (unsigned)m->cur))
		return m->cur;
	for (unsigned g = 0; g < m->nr_groups; g++)
		if (__mp_group_usable(m, g)) {
			if (m->cur != (int)g)
				mp_log(m, "switching to group %u", g + 1);
			m->cur = (int)g;
			return (int)g;
		}
	return -1;
}

/* A path for io, avoiding the paths in exclude; NULL if none. */
struct mp_path *__mp_choose_path(struct mpath *m, const struct blkd_io *io, uint64_t exclude)
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

bool __mp_any_usable(struct mpath *m)
{
	for (unsigned i = 0; i < m->nr_paths; i++)
		if (__path_usable(&m->paths[i]))
			return true;
	return false;
}

/* ---- slots --------------------------------------------------------------------- */

struct mp_slot *__mp_slot_get(struct mp_path *p)
{
	struct mp_slot *s = p->free_slots;

	if (s) {
		p->free_slots = s->next_free;
		s->state = SLOT_BUSY;
		s->t_issue = ob_mono_ns();
	}
	return s;
}

void __mp_slot_put(struct mp_path *p, struct mp_slot *s)
{
	s->state = SLOT_FREE;
	s->io = NULL;
	s->next_free = p->free_slots;
	p->free_slots = s;
	if (p->m->slot_waiters)
		pthread_cond_broadcast(&p->m->cond);
}

int mp_slot_bounce(struct mp_slot *s, size_t len)
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

