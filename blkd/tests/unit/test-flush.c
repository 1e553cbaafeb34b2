/* SPDX-License-Identifier: MIT */
/*
 * test-flush.c - the ordered sequences of flush.c, mode by mode (spec A.2):
 * what the backend is asked to do, in which order, what may be in flight
 * at the same time, and which error the asking request sees.
 */
#include "harness.h"

#define MB (1u << 20)

struct seq_case {
	int mode;
	const char *fua_log;	/* plain W0 in flight, FUA W8192, then R1M */
	const char *flush_log;	/* plain W0 in flight, FLUSH */
};

static const struct seq_case cases[] = {
	{ BLKD_ORDERED_DRAIN,       "W0+4096 W8192+4096 R1048576+4096",             "W0+4096" },
	{ BLKD_ORDERED_DRAIN_FLUSH, "W0+4096 FLUSH W8192+4096 FLUSH R1048576+4096", "W0+4096 FLUSH" },
	{ BLKD_ORDERED_DRAIN_FUA,   "W0+4096 FLUSH W8192+4096F R1048576+4096",      "W0+4096 FLUSH" },
	{ BLKD_ORDERED_TAG,         "W0+4096 W8192+4096 R1048576+4096",             "W0+4096" },
	{ BLKD_ORDERED_TAG_FLUSH,   "W0+4096 FLUSH W8192+4096 FLUSH R1048576+4096", "W0+4096 FLUSH" },
	{ BLKD_ORDERED_TAG_FUA,     "W0+4096 FLUSH W8192+4096F R1048576+4096",      "W0+4096 FLUSH" },
};

/* Fetch everything that may be issued now, without completing anything. */
static unsigned fetch_all(struct blkd_queue *q, struct blkd_request **out, unsigned max)
{
	unsigned n = 0;

	while (n < max && (out[n] = blkd_queue_fetch(q)))
		n++;
	return n;
}

static void fua_write_sequence(const struct seq_case *c)
{
	struct tbio a, b, r;
	struct blkd_request *rq[8], *first;
	struct rec rec;
	struct blkd_queue *q;
	bool drain = c->mode & BLKD_ORDERED_BY_DRAIN;
	unsigned n;

	rec_init(&rec, c->mode);
	q = queue_new(&rec, "noop", -1, 0);
	tbio_init(&a, BLKD_OP_WRITE, 0, 0, 4096, NULL);
	tbio_init(&b, BLKD_OP_WRITE, BLKD_F_FUA, 8192, 4096, NULL);
	tbio_init(&r, BLKD_OP_READ, 0, MB, 4096, NULL);
	submit1(q, &a);
	first = blkd_queue_fetch(q);		/* A is in flight */
	assert_non_null(first);
	submit1(q, &b);
	submit1(q, &r);
	n = fetch_all(q, rq, 8);
	if (drain) {
		/* O2: nothing passes the barrier while A is in flight */
		assert_int_equal(n, 0);
		blkd_queue_execute(q, first);
		/* then one step at a time: each fetch yields one request and the
		 * next fetch is empty until it completes */
		while ((first = blkd_queue_fetch(q))) {
			assert_null(blkd_queue_fetch(q));
			if (!b.done)
				assert_false(r.done);
			blkd_queue_execute(q, first);
		}
	} else {
		/* tag: the steps and the read behind them go out back to back */
		unsigned steps = 1 + !!(c->mode & BLKD_ORDERED_PREFLUSH) +
				 ((c->mode & BLKD_ORDERED_POSTFLUSH) ? 1 : 0);

		assert_int_equal(n, steps + 1);
		blkd_queue_execute(q, first);
		for (unsigned i = 0; i < n; i++)
			blkd_queue_execute(q, rq[i]);
	}
	assert_string_equal(rec.log, c->fua_log);
	assert_true(a.done && b.done && r.done);
	assert_int_equal(b.error, 0);
	if (drain)
		assert_true(b.order < r.order);	/* the read waited for the barrier */
	blkd_queue_destroy(q);
}

static void flush_sequence(const struct seq_case *c)
{
	struct tbio a, f;
	struct rec rec;
	struct blkd_queue *q;
	struct blkd_request *first;

	rec_init(&rec, c->mode);
	q = queue_new(&rec, "deadline", -1, 0);
	tbio_init(&a, BLKD_OP_WRITE, 0, 0, 4096, NULL);
	tbio_init(&f, BLKD_OP_FLUSH, 0, 0, 0, NULL);
	submit1(q, &a);
	first = blkd_queue_fetch(q);
	submit1(q, &f);
	if (c->mode & BLKD_ORDERED_BY_DRAIN) {
		assert_null(blkd_queue_fetch(q));
		assert_false(f.done);		/* a flush never overtakes A */
	}
	blkd_queue_execute(q, first);
	run_all(q);
	print_message("mode %s: %s\n", blkd_ordered_name(c->mode), rec.log);
	assert_string_equal(rec.log, c->flush_log);
	assert_true(f.done);
	assert_int_equal(f.error, 0);
	blkd_queue_destroy(q);
}

static void test_fua_write_each_mode(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("mode %s\n", blkd_ordered_name(cases[i].mode));
		fua_write_sequence(&cases[i]);
	}
}

static void test_flush_each_mode(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		flush_sequence(&cases[i]);
}

static void test_none_refuses_flush_and_fua(void **state)
{
	struct tbio f, w;
	struct rec rec;
	struct blkd_queue *q;

	(void)state;
	rec_init(&rec, BLKD_ORDERED_NONE);
	q = queue_new(&rec, "noop", -1, 0);
	tbio_init(&f, BLKD_OP_FLUSH, 0, 0, 0, NULL);
	tbio_init(&w, BLKD_OP_WRITE, BLKD_F_FUA, 0, 4096, NULL);
	submit1(q, &f);
	submit1(q, &w);
	assert_true(f.done && w.done);
	assert_int_equal(f.error, -EOPNOTSUPP);
	assert_int_equal(w.error, -EOPNOTSUPP);
	assert_string_equal(rec.log, "");
	blkd_queue_destroy(q);
}

/* O3: a failed pre-flush does not stop the write, and the FUA write reports it */
static void test_preflush_error_reported_on_barrier(void **state)
{
	struct tbio b;
	struct rec rec;
	struct blkd_queue *q;

	(void)state;
	rec_init(&rec, BLKD_ORDERED_DRAIN_FLUSH);
	q = queue_new(&rec, "deadline", -1, 0);
	rec.fail_flush = -EIO;
	tbio_init(&b, BLKD_OP_WRITE, BLKD_F_FUA, 0, 4096, NULL);
	submit1(q, &b);
	run_all(q);
	assert_string_equal(rec.log, "FLUSH W0+4096 FLUSH");
	assert_int_equal(b.error, -EIO);
	blkd_queue_destroy(q);
}

static void test_postflush_error_fails_fua_write(void **state)
{
	struct tbio a, b;
	struct rec rec;
	struct blkd_queue *q;

	(void)state;
	rec_init(&rec, BLKD_ORDERED_DRAIN_FLUSH);
	q = queue_new(&rec, "deadline", -1, 0);
	tbio_init(&a, BLKD_OP_FLUSH, 0, 0, 0, NULL);
	submit1(q, &a);
	run_all(q);				/* a clean flush first */
	tbio_init(&b, BLKD_OP_WRITE, BLKD_F_FUA, 0, 4096, NULL);
	submit1(q, &b);
	assert_int_equal(blkd_queue_run_once(q), 1);	/* pre */
	assert_int_equal(blkd_queue_run_once(q), 1);	/* write */
	rec.fail_flush = -ENOSPC;
	assert_int_equal(blkd_queue_run_once(q), 1);	/* post fails */
	assert_true(b.done);
	assert_int_equal(b.error, -ENOSPC);
	blkd_queue_destroy(q);
}

/* O4: the barrier.txt hole - a failed write makes the next flush fail once */
static void test_failed_write_fails_next_flush(void **state)
{
	struct tbio w, f1, f2;
	struct rec rec;
	struct blkd_queue *q;

	(void)state;
	rec_init(&rec, BLKD_ORDERED_DRAIN_FUA);
	q = queue_new(&rec, "noop", -1, 0);
	rec.fail_write = -EIO;
	tbio_init(&w, BLKD_OP_WRITE, 0, 0, 4096, NULL);
	submit1(q, &w);
	run_all(q);
	assert_int_equal(w.error, -EIO);
	tbio_init(&f1, BLKD_OP_FLUSH, 0, 0, 0, NULL);
	submit1(q, &f1);
	run_all(q);
	assert_int_equal(f1.error, -EIO);
	tbio_init(&f2, BLKD_OP_FLUSH, 0, 0, 0, NULL);
	submit1(q, &f2);
	run_all(q);
	assert_int_equal(f2.error, 0);
	blkd_queue_destroy(q);
}

/* O4 per client: a lost write is reported to the FLUSH of the client that
 * wrote, not to another's; a refusal (EINVAL) is no lost write at all. */
static void test_write_error_goes_to_the_writers_flush(void **state)
{
	struct blkd_client a = { .name = "a" }, b = { .name = "b" };
	struct tbio w, fb, fa, fa2;
	struct rec rec;
	struct blkd_queue *q;

	(void)state;
	rec_init(&rec, BLKD_ORDERED_DRAIN_FUA);
	q = queue_new(&rec, "noop", -1, 0);
	rec.fail_write = -EINVAL;
	tbio_init(&w, BLKD_OP_WRITE, 0, 0, 4096, &b);
	submit1(q, &w);
	run_all(q);
	assert_int_equal(w.error, -EINVAL);
	rec.fail_write = -EIO;
	tbio_init(&w, BLKD_OP_WRITE, 0, 0, 4096, &a);
	submit1(q, &w);
	run_all(q);
	assert_int_equal(w.error, -EIO);
	tbio_init(&fb, BLKD_OP_FLUSH, 0, 0, 0, &b);
	submit1(q, &fb);
	run_all(q);
	assert_int_equal(fb.error, 0);
	tbio_init(&fa, BLKD_OP_FLUSH, 0, 0, 0, &a);
	submit1(q, &fa);
	run_all(q);
	assert_int_equal(fa.error, -EIO);
	tbio_init(&fa2, BLKD_OP_FLUSH, 0, 0, 0, &a);
	submit1(q, &fa2);
	run_all(q);
	assert_int_equal(fa2.error, 0);
	blkd_queue_client_gone(q, &a);
	blkd_queue_client_gone(q, &b);
	blkd_queue_destroy(q);
}

/* O1 and the BACK insertion: writes queued before a flush reach the backend
 * before its pre-flush even when the elevator would sort them after later
 * writes; writes queued after it wait in drain modes. */
static void test_flush_covers_everything_queued_before(void **state)
{
	struct tbio w[4], f, late;
	struct rec rec;
	struct blkd_queue *q;

	(void)state;
	rec_init(&rec, BLKD_ORDERED_DRAIN_FUA);
	q = queue_new(&rec, "noop", -1, 0);	/* noop sort-inserts: ascending */
	for (int i = 0; i < 4; i++) {
		tbio_init(&w[i], BLKD_OP_WRITE, 0, (uint64_t)(3 - i) * MB, 4096, NULL);
		submit1(q, &w[i]);
	}
	tbio_init(&f, BLKD_OP_FLUSH, 0, 0, 0, NULL);
	submit1(q, &f);
	tbio_init(&late, BLKD_OP_WRITE, 0, 0, 4096, NULL);
	submit1(q, &late);
	run_all(q);
	assert_string_equal(rec.log, "W0+4096 W1048576+4096 W2097152+4096 W3145728+4096 FLUSH W0+4096");
	assert_true(f.order > w[0].order && f.order < late.order);
	blkd_queue_destroy(q);
}

static void test_ordered_names_round_trip(void **state)
{
	static const int modes[] = { BLKD_ORDERED_NONE, BLKD_ORDERED_DRAIN, BLKD_ORDERED_DRAIN_FLUSH,
				     BLKD_ORDERED_DRAIN_FUA, BLKD_ORDERED_TAG,
				     BLKD_ORDERED_TAG_FLUSH, BLKD_ORDERED_TAG_FUA };
	(void)state;
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		assert_int_equal(blkd_ordered_parse(blkd_ordered_name(modes[i])), modes[i]);
	assert_int_equal(BLKD_ORDERED_DRAIN_FLUSH, 0x31);	/* 2.6.16 encoding, spec A.2 */
	assert_int_equal(BLKD_ORDERED_DRAIN_FUA, 0x51);
	assert_int_equal(BLKD_ORDERED_TAG_FLUSH, 0x32);
	assert_int_equal(BLKD_ORDERED_TAG_FUA, 0x52);
	assert_int_equal(blkd_ordered_parse("barrier"), -EINVAL);
}

static void test_mode_needing_missing_hook_is_refused(void **state)
{
	struct rec rec;
	struct blkd_queue_opts o;
	struct blkd_queue *q = NULL;
	struct ob_err err = { 0 };

	(void)state;
	rec_init(&rec, BLKD_ORDERED_DRAIN_FLUSH);
	rec.be.caps &= ~BLKD_CAP_FUA;
	blkd_queue_opts_init(&o);
	o.threads = 0;
	o.ordered = BLKD_ORDERED_DRAIN_FUA;
	assert_int_equal(blkd_queue_create(&rec.be, &o, &q, &err), -EINVAL);
	assert_null(q);
	assert_non_null(strstr(err.msg, "drain-fua"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fua_write_each_mode),
		cmocka_unit_test(test_flush_each_mode),
		cmocka_unit_test(test_none_refuses_flush_and_fua),
		cmocka_unit_test(test_preflush_error_reported_on_barrier),
		cmocka_unit_test(test_postflush_error_fails_fua_write),
		cmocka_unit_test(test_failed_write_fails_next_flush),
		cmocka_unit_test(test_write_error_goes_to_the_writers_flush),
		cmocka_unit_test(test_flush_covers_everything_queued_before),
		cmocka_unit_test(test_ordered_names_round_trip),
		cmocka_unit_test(test_mode_needing_missing_hook_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
