/* SPDX-License-Identifier: MIT */
/*
 * test-elv-fair.c - the fair scheduler's share between competing clients,
 * on a fake clock (one request served per 1 ms tick).
 */
#include "harness.h"

#define MS 1000000ull
#define TICKS 3000

struct client_load {
	struct blkd_client c;
	struct tbio *bios;
	unsigned submitted, depth;
	uint64_t next_off;
};

static unsigned done_count(struct client_load *l)
{
	unsigned n = 0;

	for (unsigned i = 0; i < l->submitted; i++)
		n += l->bios[i].done;
	return n;
}

static void top_up(struct blkd_queue *q, struct client_load *l)
{
	while (l->submitted - done_count(l) < l->depth) {
		struct tbio *t = &l->bios[l->submitted++];

		tbio_init(t, BLKD_OP_READ, 0, l->next_off, 4096, &l->c);
		l->next_off += 1 << 20;
		submit1(q, t);
	}
}

/* Runs two clients at the given depths; returns client b's share in %. */
static unsigned run_pair(const char *sched, unsigned da, unsigned db, unsigned *a_done,
			 unsigned *b_done)
{
	struct client_load a = { .depth = da, .next_off = 0 };
	struct client_load b = { .depth = db, .next_off = 1ull << 40 };
	struct rec rec;
	struct blkd_queue *q;

	fake_now = 0;
	rec_init(&rec, BLKD_ORDERED_DRAIN);
	rec.be.size = 1ull << 50;
	a.bios = calloc(TICKS + da + 8, sizeof(struct tbio));
	b.bios = calloc(TICKS + db + 8, sizeof(struct tbio));
	strcpy(a.c.name, "a");
	strcpy(b.c.name, "b");
	q = queue_new(&rec, sched, -1, 0);
	for (unsigned t = 0; t < TICKS; t++) {
		top_up(q, &a);
		top_up(q, &b);
		blkd_queue_run_once(q);
		fake_now += MS;
	}
	*a_done = done_count(&a);
	*b_done = done_count(&b);
	blkd_queue_client_gone(q, &a.c);
	blkd_queue_client_gone(q, &b.c);
	blkd_queue_destroy(q);
	free(a.bios);
	free(b.bios);
	return *b_done * 100 / (*a_done + *b_done);
}

/* Two greedy clients at the same depth split the disk 50/50 within 10. */
static void test_fair_two_greedy_clients_share_evenly(void **state)
{
	unsigned a, b, share = run_pair("fair", 32, 32, &a, &b);

	(void)state;
	print_message("fair: a %u, b %u (b %u%%)\n", a, b, share);
	assert_in_range(share, 40, 60);
}

/* A client with one request in flight against one with 64 still gets a
 * fair share, thanks to slice idling; under deadline (one FIFO) it gets
 * about 1/65 of the disk. */
static void test_fair_depth1_client_not_starved_by_depth64(void **state)
{
	unsigned a, b, fair_share, dl_share;

	(void)state;
	fair_share = run_pair("fair", 64, 1, &a, &b);
	print_message("fair: depth-64 %u, depth-1 %u (%u%%)\n", a, b, fair_share);
	dl_share = run_pair("deadline", 64, 1, &a, &b);
	print_message("deadline: depth-64 %u, depth-1 %u (%u%%)\n", a, b, dl_share);
	assert_in_range(fair_share, 35, 65);
	assert_true(dl_share < 10);
}

/* Adjacent requests of different clients are not merged under fair. */
static void test_fair_never_merges_across_clients(void **state)
{
	struct blkd_client c1 = { .name = "1" }, c2 = { .name = "2" };
	struct tbio x, y, z;
	struct rec rec;
	struct blkd_queue *q;

	(void)state;
	rec_init(&rec, BLKD_ORDERED_DRAIN);
	q = queue_new(&rec, "fair", -1, 1 << 20);
	tbio_init(&x, BLKD_OP_WRITE, 0, 0, 4096, &c1);
	tbio_init(&y, BLKD_OP_WRITE, 0, 4096, 4096, &c2);
	tbio_init(&z, BLKD_OP_WRITE, 0, 8192, 4096, &c1);
	submit1(q, &x);
	submit1(q, &y);
	submit1(q, &z);
	for (int i = 0; i < 10; i++) {	/* past any slice idling */
		run_all(q);
		fake_now += 10 * MS;
	}
	assert_true(x.done && y.done && z.done);
	assert_int_equal(rec.nr_calls, 3);
	blkd_queue_client_gone(q, &c1);
	blkd_queue_client_gone(q, &c2);
	blkd_queue_destroy(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fair_two_greedy_clients_share_evenly),
		cmocka_unit_test(test_fair_depth1_client_not_starved_by_depth64),
		cmocka_unit_test(test_fair_never_merges_across_clients),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
