/* SPDX-License-Identifier: MIT */
/*
 * test-merge.c - front, back and request-request merging (merge.c): which
 * bios become one backend call, with how many iovecs, under which cap.
 * Table-driven: each case submits bios in order, runs the queue and
 * compares the recording backend's log.
 */
#include "harness.h"

struct bio_spec {
	enum blkd_op op;
	unsigned flags;
	uint64_t off;
	uint32_t len;
};

struct merge_case {
	const char *what;
	const char *sched;
	uint32_t max_merge;
	struct bio_spec bios[6];
	unsigned nr;
	const char *log;
	unsigned merges;
};

#define W(o) { BLKD_OP_WRITE, 0, (o), 4096 }
#define R(o) { BLKD_OP_READ, 0, (o), 4096 }

static const struct merge_case cases[] = {
	{ "back merges", "noop", 1 << 20, { W(0), W(4096), W(8192) }, 3, "W0+12288", 2 },
	{ "front merges", "noop", 1 << 20, { W(8192), W(4096), W(0) }, 3, "W0+12288", 2 },
	{ "bio fills a gap: request-request merge", "deadline", 1 << 20,
	  { W(0), W(8192), W(4096) }, 3, "W0+12288", 2 },
	{ "reads merge too", "deadline", 1 << 20, { R(4096), R(0), R(8192) }, 3, "R0+12288", 2 },
	{ "cap stops growth", "noop", 8192, { W(0), W(4096), W(8192) }, 3, "W0+8192 W8192+4096", 1 },
	{ "merging off", "noop", 0, { W(0), W(4096) }, 2, "W0+4096 W4096+4096", 0 },
	{ "read and write never merge", "noop", 1 << 20, { W(0), R(4096) }, 2,
	  "W0+4096 R4096+4096", 0 },
	{ "FUA never merges", "noop", 1 << 20,
	  { W(0), { BLKD_OP_WRITE, BLKD_F_FUA, 4096, 4096 } }, 2, "W0+4096 FLUSH W4096+4096F", 0 },
	{ "trims never merge", "noop", 1 << 20,
	  { { BLKD_OP_TRIM, 0, 0, 4096 }, { BLKD_OP_TRIM, 0, 4096, 4096 } }, 2,
	  "T0+4096 T4096+4096", 0 },
	{ "deadline: FIFO head first, front-merged request after", "deadline", 1 << 20,
	  { W(65536), W(8192), W(4096) }, 3, "W65536+4096 W4096+8192", 1 },
};

static void test_merge_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct merge_case *c = &cases[i];
		struct tbio t[6];
		struct blkd_stats st;
		struct rec rec;
		struct blkd_queue *q;

		print_message("%s\n", c->what);
		rec_init(&rec, BLKD_ORDERED_DRAIN_FUA);
		q = queue_new(&rec, c->sched, -1, c->max_merge);
		{
			struct blkd_bio *b[6];

			for (unsigned k = 0; k < c->nr; k++) {
				tbio_init(&t[k], c->bios[k].op, c->bios[k].flags, c->bios[k].off,
					  c->bios[k].len, NULL);
				b[k] = &t[k].bio;
			}
			blkd_queue_submit(q, b, c->nr);	/* one plug */
		}
		run_all(q);
		assert_string_equal(rec.log, c->log);
		for (unsigned k = 0; k < c->nr; k++) {
			assert_true(t[k].done);
			assert_int_equal(t[k].error, 0);
		}
		blkd_queue_stats(q, NULL, &st);
		assert_int_equal(st.merges, c->merges);
		assert_int_equal(st.queued, 0);
		blkd_queue_destroy(q);
	}
}

/* 256 adjacent 4 KiB writes: one request per 1 MiB, one iovec per bio. */
static void test_merge_segments_and_size(void **state)
{
	enum { N = 512 };
	struct tbio *t = calloc(N, sizeof(*t));
	struct blkd_bio **b = calloc(N, sizeof(*b));
	struct rec rec;
	struct blkd_queue *q;

	(void)state;
	rec_init(&rec, BLKD_ORDERED_DRAIN);
	q = queue_new(&rec, "deadline", -1, 1 << 20);
	for (unsigned k = 0; k < N; k++) {
		tbio_init(&t[k], BLKD_OP_WRITE, 0, (uint64_t)k * 4096, 4096, NULL);
		b[k] = &t[k].bio;
	}
	blkd_queue_submit(q, b, N);
	run_all(q);
	assert_string_equal(rec.log, "W0+1048576 W1048576+1048576");
	assert_int_equal(rec.max_iov, 256);
	blkd_queue_destroy(q);
	free(t);
	free(b);
}

/* Out-of-range and read-only requests end at once with the NBD errors. */
static void test_bio_checks(void **state)
{
	struct tbio w, r, t;
	struct rec rec;
	struct blkd_queue *q;

	(void)state;
	rec_init(&rec, BLKD_ORDERED_DRAIN);
	rec.be.size = 1 << 20;
	q = queue_new(&rec, "noop", -1, 0);
	tbio_init(&w, BLKD_OP_WRITE, 0, (1 << 20) - 4095, 4096, NULL);
	tbio_init(&r, BLKD_OP_READ, 0, 1 << 20, 1, NULL);
	submit1(q, &w);
	submit1(q, &r);
	assert_int_equal(w.error, -ENOSPC);
	assert_int_equal(r.error, -EINVAL);
	blkd_queue_destroy(q);
	rec.be.caps |= BLKD_CAP_READONLY;
	q = queue_new(&rec, "noop", -1, 0);
	tbio_init(&t, BLKD_OP_TRIM, 0, 0, 4096, NULL);
	submit1(q, &t);
	assert_int_equal(t.error, -EPERM);
	assert_string_equal(rec.log, "");
	blkd_queue_destroy(q);
}

/* Switching schedulers at run time keeps every queued request. */
static void test_scheduler_switch_keeps_requests(void **state)
{
	static const char *const order[] = { "deadline", "fair", "noop", "deadline" };
	struct tbio t[8];
	struct rec rec;
	struct blkd_queue *q;

	(void)state;
	rec_init(&rec, BLKD_ORDERED_DRAIN);
	q = queue_new(&rec, "noop", -1, 0);
	for (int k = 0; k < 8; k++) {
		tbio_init(&t[k], BLKD_OP_READ, 0, (uint64_t)(8 - k) * 65536, 4096, NULL);
		submit1(q, &t[k]);
		assert_int_equal(blkd_queue_set_scheduler(q, order[k % 4]), 0);
		assert_string_equal(blkd_queue_scheduler(q), order[k % 4]);
	}
	assert_int_equal(blkd_queue_set_scheduler(q, "anticipatory"), -EINVAL);
	run_all(q);
	for (int k = 0; k < 8; k++)
		assert_true(t[k].done);
	assert_int_equal(rec.nr_calls, 8);
	blkd_queue_destroy(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge_table),
		cmocka_unit_test(test_merge_segments_and_size),
		cmocka_unit_test(test_bio_checks),
		cmocka_unit_test(test_scheduler_switch_keeps_requests),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
