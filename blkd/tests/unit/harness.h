/* SPDX-License-Identifier: MIT */
/*
 * harness.h - shared by the blkd unit tests: a recording backend (every
 * call the queue makes, in order, as text, with injectable errors), a fake
 * clock, and bios that record when and how they ended.  Queues are built
 * with zero worker threads, so a test pumps them with blkd_queue_fetch /
 * blkd_queue_execute and sees exactly which request may be issued when.
 */
#ifndef BLKD_TEST_HARNESS_H
#define BLKD_TEST_HARNESS_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "blkd.h"

struct rec {
	struct blkd_backend be;
	char log[8192];
	int fail_flush;		/* -errno for the next flush */
	int fail_write;		/* -errno for the next write */
	unsigned nr_calls;
	int max_iov;
};

static inline __attribute__((format(printf, 2, 3))) void rec_add(struct rec *r, const char *fmt, ...)
{
	size_t n = strlen(r->log);
	va_list ap;

	r->nr_calls++;
	if (n + 64 >= sizeof(r->log))	/* long runs only count calls */
		return;
	if (n)
		r->log[n++] = ' ';
	va_start(ap, fmt);
	vsnprintf(r->log + n, sizeof(r->log) - n, fmt, ap);
	va_end(ap);
}

static inline int rec_preadv(struct blkd_backend *be, const struct iovec *iov, int cnt, uint64_t off)
{
	struct rec *r = be->priv;
	size_t len = 0;

	for (int i = 0; i < cnt; i++) {
		memset(iov[i].iov_base, 0, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	if (cnt > r->max_iov)
		r->max_iov = cnt;
	rec_add(r, "R%llu+%zu", (unsigned long long)off, len);
	return 0;
}

static inline int rec_pwritev(struct blkd_backend *be, const struct iovec *iov, int cnt, uint64_t off,
		       bool fua)
{
	struct rec *r = be->priv;
	size_t len = 0;
	int rc = r->fail_write;

	for (int i = 0; i < cnt; i++)
		len += iov[i].iov_len;
	if (cnt > r->max_iov)
		r->max_iov = cnt;
	rec_add(r, "W%llu+%zu%s", (unsigned long long)off, len, fua ? "F" : "");
	r->fail_write = 0;
	return rc;
}

static inline int rec_flush(struct blkd_backend *be)
{
	struct rec *r = be->priv;
	int rc = r->fail_flush;

	rec_add(r, "FLUSH");
	r->fail_flush = 0;
	return rc;
}

static inline int rec_trim(struct blkd_backend *be, uint64_t off, uint64_t len)
{
	rec_add(be->priv, "T%llu+%llu", (unsigned long long)off, (unsigned long long)len);
	return 0;
}

static inline int rec_zero(struct blkd_backend *be, uint64_t off, uint64_t len, unsigned flags)
{
	rec_add(be->priv, "Z%llu+%llu", (unsigned long long)off, (unsigned long long)len);
	return 0;
}

static const struct blkd_backend_ops rec_ops = {
	.name = "recording",
	.preadv = rec_preadv,
	.pwritev = rec_pwritev,
	.flush = rec_flush,
	.trim = rec_trim,
	.zero = rec_zero,
};

static inline void rec_init(struct rec *r, int ordered)
{
	memset(r, 0, sizeof(*r));
	r->be.ops = &rec_ops;
	r->be.priv = r;
	r->be.size = 1ull << 30;
	r->be.caps = BLKD_CAP_FLUSH | BLKD_CAP_FUA | BLKD_CAP_TRIM | BLKD_CAP_ZERO;
	r->be.ordered = ordered;
}

/* ---- fake clock ---- */
static uint64_t fake_now;
static inline uint64_t fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
}

static inline struct blkd_queue *queue_new(struct rec *r, const char *sched, int ordered,
				    uint32_t max_merge)
{
	struct blkd_queue_opts o;
	struct blkd_queue *q = NULL;
	struct ob_err err = { 0 };

	blkd_queue_opts_init(&o);
	o.scheduler = sched;
	o.ordered = ordered;
	o.max_merge = max_merge;
	o.threads = 0;
	o.clock = fake_clock;
	assert_int_equal(blkd_queue_create(&r->be, &o, &q, &err), 0);
	return q;
}

/* ---- bios that remember how they ended ---- */
struct tbio {
	struct blkd_bio bio;
	bool done;
	int error;
	uint64_t t_end;
	unsigned order;		/* n-th bio to end */
	char data[4096];
};
static unsigned end_counter;

static inline void tbio_end(struct blkd_bio *bio)
{
	struct tbio *t = (struct tbio *)bio;

	t->done = true;
	t->error = bio->error;
	t->t_end = fake_now;
	t->order = ++end_counter;
}

static inline void tbio_init(struct tbio *t, enum blkd_op op, unsigned flags, uint64_t off, uint32_t len,
		      struct blkd_client *c)
{
	memset(&t->bio, 0, sizeof(t->bio));
	t->done = false;
	t->bio.op = op;
	t->bio.flags = flags;
	t->bio.off = off;
	t->bio.len = len;
	t->bio.buf = t->data;
	t->bio.client = c;
	t->bio.end_io = tbio_end;
}

static inline void submit1(struct blkd_queue *q, struct tbio *t)
{
	struct blkd_bio *b = &t->bio;

	blkd_queue_submit(q, &b, 1);
}

static inline void run_all(struct blkd_queue *q)
{
	while (blkd_queue_run_once(q))
		;
}

#endif
