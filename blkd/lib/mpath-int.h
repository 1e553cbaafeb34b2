/* SPDX-License-Identifier: MIT */
/*
 * mpath-int.h - what the files of the multipath device share: the device,
 * its groups, its paths and their command slots, and the calls between
 * the layers.  The layers, each calling only those below it:
 *
 *   mpath.c         the device: create/destroy, control messages, JSON
 *   mpath-check.c   the checker thread: reconnect, probe, held-request
 *                   expiry, delayed failback
 *   mpath-io.c      requests on paths: submission, classification (M1-M5),
 *                   completions, flush cover, one poller thread per path
 *   mpath-path.c    path and group state, the held list, command slots,
 *                   choosing a path
 *   mpath-select.c  the path selectors (round-robin, queue-length,
 *                   service-time)
 *
 * Locking is described in mpath.c; every "__" function here wants m->lock.
 */
#ifndef BLKD_MPATH_INT_H
#define BLKD_MPATH_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "blkd-int.h"

struct nbd_handle;

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


/* mpath-path.c */
void mp_log(struct mpath *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline bool __path_usable(const struct mp_path *p)
{
	return p->state == PATH_ACTIVE && p->h && !p->want_down && !p->admin_down;
}
bool __mp_group_usable(struct mpath *m, unsigned g);
void __mp_path_fail(struct mp_path *p, const char *why, bool teardown);
void __mp_hold(struct mpath *m, struct blkd_io *io);
struct blkd_io *__mp_take_held(struct mpath *m);
void mp_requeue_list(struct blkd_io *io, const char *why);
void __mp_path_reinstate(struct mp_path *p);
struct mp_path *__mp_choose_path(struct mpath *m, const struct blkd_io *io, uint64_t exclude);
bool __mp_any_usable(struct mpath *m);
struct mp_slot *__mp_slot_get(struct mp_path *p);
void __mp_slot_put(struct mp_path *p, struct mp_slot *s);
int mp_slot_bounce(struct mp_slot *s, size_t len);
/* mpath-io.c */
int mp_path_send(struct mp_path *p, struct nbd_handle *h, struct mp_slot *s,
		     struct blkd_io *io);
void __mp_users_put(struct mp_path *p);
void *mp_path_poller(void *arg);
void mp_submit(struct blkd_backend *be, struct blkd_io *io);
/* mpath-check.c */
int mp_path_connect(struct mpath *m, struct mp_path *p, bool first, struct ob_err *err);
void *mp_checker_main(void *arg);
/* mpath-select.c */
const struct mp_selector_ops *mp_selector_find(const char *name);

#endif
