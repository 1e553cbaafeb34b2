/* SPDX-License-Identifier: MIT */
/*
 * test-elv-deadline.c - deadline's promises on a fake clock: one request is
 * served per 1 ms tick, so waits are counted in ticks, not measured.
 */
#include "harness.h"

#define MS 1000000ull
#define READ_EXPIRE (500 * MS)
#define FIFO_BATCH 16

static uint64_t rnd_state = 88172645463325252ull;
static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* A write flood (two new writes per tick against one served) never makes a
 * read wait past read_expire; in fact reads are preferred, so they wait at
 * most one write batch.  Writes still get served (writes_starved). */
static void test_deadline_read_not_starved_by_write_flood(void **state)
{
	enum { TICKS = 3000, NW = 2 * TICKS + 64, NR = TICKS / 10 + 1 };
	struct tbio *w = calloc(NW, sizeof(*w)), *r = calloc(NR, sizeof(*r));
	uint64_t t_sub[NR], worst = 0;
	unsigned nw = 0, nr = 0, wdone = 0;
	struct rec rec;
	struct blkd_queue *q;

	(void)state;
	fake_now = 0;
	rec_init(&rec, BLKD_ORDERED_DRAIN);
	q = queue_new(&rec, "deadline", -1, 0);
	for (; nw < 64; nw++) {
		tbio_init(&w[nw], BLKD_OP_WRITE, 0, (rnd() % 200000) * 4096, 4096, NULL);
		submit1(q, &w[nw]);
	}
	for (unsigned t = 0; t < TICKS; t++) {
		for (int k = 0; k < 2; k++, nw++) {
			tbio_init(&w[nw], BLKD_OP_WRITE, 0, (rnd() % 200000) * 4096, 4096, NULL);
			submit1(q, &w[nw]);
		}
		if (t % 10 == 0 && t < TICKS - 100) {
			tbio_init(&r[nr], BLKD_OP_READ, 0, (rnd() % 200000) * 4096, 4096, NULL);
			t_sub[nr] = fake_now;
			submit1(q, &r[nr]);
			nr++;
		}
		blkd_queue_run_once(q);
		fake_now += MS;
	}
	for (unsigned i = 0; i < nr; i++) {
		assert_true(r[i].done);
		if (r[i].t_end - t_sub[i] > worst)
			worst = r[i].t_end - t_sub[i];
	}
	for (unsigned i = 0; i < nw; i++)
		wdone += w[i].done;
	print_message("worst read wait %llu ticks, writes served %u of %u\n",
		      (unsigned long long)(worst / MS), wdone, nw);
	assert_true(worst <= READ_EXPIRE);
	assert_true(worst <= (FIFO_BATCH + 1) * MS);
	/* writes_starved = 2: at least one write batch per three decisions */
	assert_true(wdone > TICKS / 2);
	blkd_queue_destroy(q);
	free(w);
	free(r);
}

/* A read behind the head position, while a sequential read stream keeps
 * the sorted order busy, is served once its FIFO deadline expires. */
static void test_deadline_expired_read_jumps_the_sorted_stream(void **state)
{
	enum { TICKS = 1500, NS = 2 * TICKS + 32 };
	struct tbio *s = calloc(NS, sizeof(*s)), x;
	unsigned ns = 0;
	uint64_t t_x = 0, next_off = 1ull << 29;
	struct rec rec;
	struct blkd_queue *q;

	(void)state;
	fake_now = 0;
	rec_init(&rec, BLKD_ORDERED_DRAIN);
	q = queue_new(&rec, "deadline", -1, 0);
	for (; ns < 32; ns++, next_off += 8192) {
		tbio_init(&s[ns], BLKD_OP_READ, 0, next_off, 4096, NULL);
		submit1(q, &s[ns]);
	}
	for (unsigned t = 0; t < TICKS; t++) {
		if (t == 5) {
			tbio_init(&x, BLKD_OP_READ, 0, 0, 4096, NULL);
			t_x = fake_now;
			submit1(q, &x);
		}
		for (int k = 0; k < 2; k++, ns++, next_off += 8192) {
			tbio_init(&s[ns], BLKD_OP_READ, 0, next_off, 4096, NULL);
			submit1(q, &s[ns]);
		}
		blkd_queue_run_once(q);
		fake_now += MS;
	}
	assert_true(x.done);
	print_message("read at offset 0 waited %llu ticks\n",
		      (unsigned long long)((x.t_end - t_x) / MS));
	/* it did wait for its expiry (the stream was preferred) ... */
	assert_true(x.t_end - t_x >= READ_EXPIRE);
	/* ... and no longer than one batch past it */
	assert_true(x.t_end - t_x <= READ_EXPIRE + (FIFO_BATCH + 1) * MS);
	blkd_queue_destroy(q);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deadline_read_not_starved_by_write_flood),
		cmocka_unit_test(test_deadline_expired_read_jumps_the_sorted_stream),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
