/* SPDX-License-Identifier: MIT */
/* workloads.h - the benchmark workloads, over any way of mapping a file
 * (libmmpager, UMap's C API, plain mmap), so every engine runs the very
 * same loops.  Plain C with no project headers: bench/mmpager-vs-umap
 * also compiles it against UMap's own library. */
#ifndef MMP_WORKLOADS_H
#define MMP_WORKLOADS_H

#include <stddef.h>
#include <stdint.h>

struct wl_mapper {
	const char *name;
	/* Map len bytes of fd read-write; NULL on failure (reason printed). */
	void *(*map)(void *ctx, int fd, size_t len);
	int (*flush)(void *ctx, void *addr, size_t len);
	int (*unmap)(void *ctx, void *addr, size_t len);
	void *ctx;
};

struct wl_params {
	const char *workload;	/* randread, seqscan, randwrite, sort */
	unsigned threads;
	uint64_t ops;		/* random workloads: 4 KiB operations in all */
	uint64_t seed;
};

struct wl_result {
	double seconds;
	uint64_t bytes;		/* bytes read or written by the workload */
	uint64_t ops;
	long vmhwm_kb;		/* peak resident set of the process */
	uint64_t check;		/* a checksum, so the loops cannot be elided */
};

/* Plain kernel mmap (MAP_SHARED), the reference engine. */
extern const struct wl_mapper wl_mmap_mapper;

/* Run one workload on fd (len bytes).  0, or -1 with why filled. */
int wl_run(const struct wl_mapper *m, int fd, size_t len, const struct wl_params *p,
	   struct wl_result *r, char *why, size_t whylen);
/* "randread" etc. is known. */
int wl_known(const char *workload);
void wl_print(const char *engine, const struct wl_params *p, const struct wl_result *r);

#endif
