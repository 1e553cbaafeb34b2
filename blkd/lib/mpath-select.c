/* SPDX-License-Identifier: MIT */
/*
 * mpath-select.c - the path selectors of spec C.3, one ops table each:
 * round-robin, queue-length and service-time.  Called with m->lock held;
 * they only read path counters and move a group's rotation point.
 */
#include <string.h>

#include "mpath-int.h"

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


const struct mp_selector_ops *mp_selector_find(const char *name)
{
	for (unsigned i = 0; selectors[i]; i++)
		if (!strcmp(selectors[i]->name, name))
			return selectors[i];
	return NULL;
}
