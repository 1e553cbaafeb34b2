/* SPDX-License-Identifier: MIT */
/*
 * nbd-load.c - the load generator of bench/blkd-vs-nbdkit's TLS rows.
 *
 * Keeps DEPTH reads or writes of BS bytes in flight on one libnbd
 * connection - any URI libnbd takes, so TLS with a PSK or certificate
 * file too, which fio's nbd engine refuses - for a fixed time, at random
 * (BS-aligned) or sequential offsets, and prints one JSON line: requests
 * done, seconds, and the CPU time this process used.  That last figure is
 * why it exists: the earlier generator was libnbd's Python bindings, which
 * spent more CPU per 4 KiB request than either server, so both servers
 * measured alike.  Near one CPU-second per second here means the client
 * is the limit and a ratio says little; the script prints it.
 */
#include <errno.h>
#include <inttypes.h>
#include <libnbd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "ob/opt.h"

struct load {
	struct nbd_handle *h;
	uint64_t bs, blocks, next, done, rng;
	unsigned depth;
	int64_t ms;
	bool write, seq;
	int error;
	void *buf;
};

enum { OPT_WRITE = 1, OPT_SEQ, OPT_BS, OPT_DEPTH, OPT_TIME };

static const struct ob_opt load_opts[] = {
	{ "write", 'w', OPT_WRITE, NULL, "write instead of read", 0 },
	{ "seq", 0, OPT_SEQ, NULL, "sequential offsets (default: random)", 0 },
	{ "bs", 's', OPT_BS, "SIZE", "request size (default 4K)", 0 },
	{ "depth", 'd', OPT_DEPTH, "N", "requests in flight (default 16)", 0 },
	{ "time", 't', OPT_TIME, "TIME", "how long (default 5s)", 0 },
	{ OB_OPT_END },
};

static const struct ob_opt *const load_tables[] = { load_opts, NULL };

static const struct ob_cmd load_cmd = {
	.prog = "nbd-load",
	.synopsis = "nbd-load [OPTION]... URI",
	.about = "Keep DEPTH requests in flight on one NBD connection; print\n"
		 "{\"requests\", \"seconds\", \"cpu_seconds\"} as JSON.",
	.tables = load_tables,
	.operands_min = 1,
	.operands_max = 1,
};

static int load_opt(const struct ob_cmd *cmd, const struct ob_opt *opt, const char *arg,
		    void *ctx)
{
	struct load *l = ctx;
	uint64_t v;

	switch (opt->key) {
	case OPT_WRITE:
		l->write = true;
		break;
	case OPT_SEQ:
		l->seq = true;
		break;
	case OPT_BS:
		if (ob_parse_size(arg, 512, 32u << 20, &l->bs))
			return ob_opt_usage(cmd, "--bs: expected 512..32M, got '%s'", arg);
		break;
	case OPT_DEPTH:
		if (ob_parse_uint(arg, 1, 64, &v))
			return ob_opt_usage(cmd, "--depth: expected 1..64, got '%s'", arg);
		l->depth = (unsigned)v;
		break;
	case OPT_TIME:
		if (ob_parse_time_ms(arg, false, &l->ms) || l->ms <= 0)
			return ob_opt_usage(cmd, "--time: expected a duration, got '%s'", arg);
		break;
	}
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int completed(void *user_data, int *error)
{
	struct load *l = user_data;

	if (*error && !l->error)
		l->error = *error;
	l->done++;
	return 1;			/* retire the command */
}

/* xorshift64: offsets need to be scattered, not unpredictable */
static uint64_t next_offset(struct load *l)
{
	uint64_t b;

	if (l->seq) {
		b = l->next;
		l->next = (l->next + 1) % l->blocks;
	} else {
		l->rng ^= l->rng << 13;
		l->rng ^= l->rng >> 7;
		l->rng ^= l->rng << 17;
		b = l->rng % l->blocks;
	}
	return b * l->bs;
}

static int issue(struct load *l)
{
	nbd_completion_callback cb = { .callback = completed, .user_data = l };
	uint64_t off = next_offset(l);

	if (l->write)
		return nbd_aio_pwrite(l->h, l->buf, l->bs, off, cb, 0) < 0 ? -1 : 0;
	return nbd_aio_pread(l->h, l->buf, l->bs, off, cb, 0) < 0 ? -1 : 0;
}

/* Run for l->ms; *secs is the time the counted requests took. */
static int run(struct load *l, uint64_t *requests, double *secs)
{
	double t0 = now_s(), end = t0 + (double)l->ms / 1000;
	double t = t0;

	while (t < end && !l->error) {
		while (nbd_aio_in_flight(l->h) < (int)l->depth)
			if (issue(l))
				return -1;
		if (nbd_poll(l->h, -1) < 0)
			return -1;
		t = now_s();
	}
	*requests = l->done;
	*secs = t - t0;
	while (nbd_aio_in_flight(l->h) > 0)
		if (nbd_poll(l->h, -1) < 0)
			return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct load l = { .bs = 4096, .depth = 16, .ms = 5000, .rng = 0x9e3779b97f4a7c15ull };
	uint64_t requests = 0;
	double secs = 0, cpu0;
	int status, first, rc = 1;
	int64_t size;

	first = ob_opt_parse(&load_cmd, argc, argv, load_opt, &l, &status);
	if (first < 0)
		return status;
	l.h = nbd_create();
	if (!l.h || nbd_set_uri_allow_local_file(l.h, true) ||
	    nbd_connect_uri(l.h, argv[first]) || (size = nbd_get_size(l.h)) < 0)
		goto nbd_fail;
	l.blocks = (uint64_t)size / l.bs;
	if (!l.blocks) {
		fprintf(stderr, "nbd-load: %s: export smaller than one request\n", argv[first]);
		goto out;
	}
	l.buf = malloc(l.bs);
	if (!l.buf) {
		fprintf(stderr, "nbd-load: out of memory\n");
		goto out;
	}
	memset(l.buf, 0xa5, l.bs);
	cpu0 = cpu_s();
	if (run(&l, &requests, &secs))
		goto nbd_fail;
	if (l.error) {
		fprintf(stderr, "nbd-load: %s: a request failed: %s\n", argv[first], strerror(l.error));
		goto out;
	}
	printf("{\"requests\": %" PRIu64 ", \"seconds\": %.4f, \"cpu_seconds\": %.4f}\n",
	       requests, secs, cpu_s() - cpu0);
	nbd_shutdown(l.h, 0);
	rc = 0;
	goto out;
nbd_fail:
	fprintf(stderr, "nbd-load: %s: %s\n", argv[first], nbd_get_error());
out:
	free(l.buf);
	nbd_close(l.h);
	return rc;
}
