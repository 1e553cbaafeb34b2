// SPDX-License-Identifier: MIT
/* workloads.c - the four workloads of issue 24's benchmark: random 4 KiB
 * reads, a sequential scan, random 4 KiB writes with write-back (the
 * flush is inside the timed part), and an in-place sort of the file's
 * 64-bit words.  Threads split the operations (or the file, for the scan)
 * evenly; time is wall clock around the whole job.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "workloads.h"

#define WL_PAGE 4096

struct job {
	char *base;
	size_t len;
	uint64_t ops;
	uint64_t seed;
	size_t first, count;	/* seqscan slice */
	int write;
	uint64_t sum;
};

static uint64_t next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static void *random_job(void *arg)
{
	struct job *j = arg;
	size_t pages = j->len / WL_PAGE;
	uint64_t sum = 0;

	for (uint64_t i = 0; i < j->ops; i++) {
		uint64_t *pg = (uint64_t *)(j->base + (next(&j->seed) % pages) * WL_PAGE);

		if (j->write) {
			pg[next(&j->seed) % (WL_PAGE / 8)] = j->seed;
		} else {
			for (size_t w = 0; w < WL_PAGE / 8; w++)
				sum += pg[w];
		}
	}
	j->sum = sum;
	return NULL;
}

static void *scan_job(void *arg)
{
	struct job *j = arg;
	const uint64_t *w = (const uint64_t *)(j->base + j->first);
	uint64_t sum = 0;

	for (size_t i = 0; i < j->count / 8; i++)
		sum += w[i];
	j->sum = sum;
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long vmhwm_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[128];
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static void *mm_map(void *ctx, int fd, size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

static int mm_flush(void *ctx, void *addr, size_t len)
{
	return msync(addr, len, MS_SYNC);
}

static int mm_unmap(void *ctx, void *addr, size_t len)
{
	return munmap(addr, len);
}

const struct wl_mapper wl_mmap_mapper = { "mmap", mm_map, mm_flush, mm_unmap, NULL };

int wl_known(const char *w)
{
	return !strcmp(w, "randread") || !strcmp(w, "seqscan") ||
	       !strcmp(w, "randwrite") || !strcmp(w, "sort");
}

static void run_threads(struct job *jobs, unsigned n, void *(*fn)(void *))
{
	pthread_t tid[64];

	for (unsigned t = 0; t < n; t++)
		pthread_create(&tid[t], NULL, fn, &jobs[t]);
	for (unsigned t = 0; t < n; t++)
		pthread_join(tid[t], NULL);
}

int wl_run(const struct wl_mapper *m, int fd, size_t len, const struct wl_params *p,
	   struct wl_result *r, char *why, size_t whylen)
{
	unsigned n = p->threads ? p->threads : 1;
	struct job jobs[64];
	char *base;
	double t0;

	if (n > 64 || len < WL_PAGE || !wl_known(p->workload)) {
		snprintf(why, whylen, "bad workload, thread count (1..64) or file size");
		return -1;
	}
	memset(r, 0, sizeof(*r));
	memset(jobs, 0, sizeof(jobs));
	t0 = now();
	base = m->map(m->ctx, fd, len);
	if (!base) {
		snprintf(why, whylen, "%s: cannot map the file", m->name);
		return -1;
	}
	for (unsigned t = 0; t < n; t++) {
		jobs[t].base = base;
		jobs[t].len = len;
		jobs[t].ops = p->ops / n;
		jobs[t].seed = p->seed * 1000003 + t + 1;
		jobs[t].first = len / n / WL_PAGE * WL_PAGE * t;
		jobs[t].count = t + 1 == n ? len - jobs[t].first : len / n / WL_PAGE * WL_PAGE;
		jobs[t].write = !strcmp(p->workload, "randwrite");
	}
	if (!strcmp(p->workload, "seqscan")) {
		run_threads(jobs, n, scan_job);
		r->bytes = len;
		r->ops = len / WL_PAGE;
	} else if (!strcmp(p->workload, "sort")) {
		qsort(base, len / 8, 8, cmp_u64);
		r->bytes = len;
		r->ops = len / 8;
		jobs[0].sum = ((uint64_t *)base)[0];
	} else {
		run_threads(jobs, n, random_job);
		r->ops = p->ops / n * n;
		r->bytes = r->ops * (jobs[0].write ? 8 : WL_PAGE);
	}
	if ((jobs[0].write || !strcmp(p->workload, "sort")) && m->flush(m->ctx, base, len)) {
		snprintf(why, whylen, "%s: flush failed", m->name);
		m->unmap(m->ctx, base, len);
		return -1;
	}
	if (m->unmap(m->ctx, base, len)) {
		snprintf(why, whylen, "%s: unmap failed", m->name);
		return -1;
	}
	r->seconds = now() - t0;
	r->vmhwm_kb = vmhwm_kb();
	for (unsigned t = 0; t < n; t++)
		r->check += jobs[t].sum;
	return 0;
}

void wl_print(const char *engine, const struct wl_params *p, const struct wl_result *r)
{
	printf("engine=%s workload=%s threads=%u seconds=%.3f ops=%llu ops_per_s=%.0f "
	       "mib_per_s=%.1f vmhwm_kb=%ld check=%llx\n", engine, p->workload, p->threads,
	       r->seconds, (unsigned long long)r->ops, r->ops / (r->seconds > 0 ? r->seconds : 1e-9),
	       r->bytes / 1048576.0 / (r->seconds > 0 ? r->seconds : 1e-9), r->vmhwm_kb,
	       (unsigned long long)r->check);
	fflush(stdout);
}
