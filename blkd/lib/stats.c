/* SPDX-License-Identifier: MIT */
/*
 * stats.c - per-export and per-client counters: requests and bytes by op,
 * errors, merges, backend I/Os, queue depth (now and peak) and a latency
 * histogram from submission to end in log2 microsecond buckets (bucket i
 * counts latencies below 2^i us).  Updated under q->lock by queue.c and
 * merge.c; read with blkd_queue_stats() and printed as JSON for the
 * server's stats file and control socket.
 */
#include <errno.h>
#include <stdio.h>

#include "blkd-int.h"

static void submit_one(struct blkd_stats *s, const struct blkd_bio *bio)
{
	s->ops[bio->op < BLKD_OP_NR ? bio->op : 0]++;
	s->bytes[bio->op < BLKD_OP_NR ? bio->op : 0] += bio->len;
	if (++s->queued > s->max_queued)
		s->max_queued = s->queued;
}

void __blkd_stats_submit(struct blkd_queue *q, const struct blkd_bio *bio)
{
	submit_one(&q->stats, bio);
	if (bio->client)
		submit_one(&bio->client->stats, bio);
}

static unsigned lat_bucket(uint64_t ns)
{
	uint64_t us = ns / 1000;
	unsigned b = us ? 64 - (unsigned)__builtin_clzll(us) : 0;

	return b < BLKD_LAT_BUCKETS ? b : BLKD_LAT_BUCKETS - 1;
}

static void end_one(struct blkd_stats *s, int err, unsigned bucket)
{
	s->queued--;
	if (err == -ECANCELED)
		s->cancelled++;
	else if (err)
		s->errors++;
	s->lat[bucket]++;
}

void __blkd_stats_end(struct blkd_queue *q, const struct blkd_bio *bio, int err, uint64_t now)
{
	unsigned b = lat_bucket(now > bio->t_submit ? now - bio->t_submit : 0);

	end_one(&q->stats, err, b);
	if (bio->client)
		end_one(&bio->client->stats, err, b);
}

size_t blkd_stats_json(const struct blkd_stats *s, char *buf, size_t len)
{
	size_t n = 0;

#define OUT(...) do { \
		int r_ = snprintf(buf + n, n < len ? len - n : 0, __VA_ARGS__); \
		if (r_ > 0) n += (size_t)r_; \
	} while (0)
	OUT("{\"ops\":{");
	for (int i = 0; i < BLKD_OP_NR; i++)
		OUT("%s\"%s\":%llu", i ? "," : "", blkd_op_name(i), (unsigned long long)s->ops[i]);
	OUT("},\"bytes\":{");
	for (int i = 0; i < BLKD_OP_NR; i++)
		OUT("%s\"%s\":%llu", i ? "," : "", blkd_op_name(i), (unsigned long long)s->bytes[i]);
	OUT("},\"errors\":%llu,\"cancelled\":%llu,\"throttled_us\":%llu,\"merges\":%llu,\"backend_ios\":%llu,"
	    "\"queue_depth\":%llu,\"max_queue_depth\":%llu,\"latency_us_log2\":[",
	    (unsigned long long)s->errors, (unsigned long long)s->cancelled,
	    (unsigned long long)s->throttled_us,
	    (unsigned long long)s->merges,
	    (unsigned long long)s->backend_ios, (unsigned long long)s->queued,
	    (unsigned long long)s->max_queued);
	for (int i = 0; i < BLKD_LAT_BUCKETS; i++)
		OUT("%s%llu", i ? "," : "", (unsigned long long)s->lat[i]);
	OUT("]}");
#undef OUT
	if (len)
		buf[n < len ? n : len - 1] = '\0';
	return n < len ? n : (len ? len - 1 : 0);
}
