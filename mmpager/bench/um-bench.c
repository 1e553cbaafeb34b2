// SPDX-License-Identifier: MIT
/* um-bench.c - the benchmark workloads through UMap's C API, or plain
 * mmap.  Written only against <umap/umap.h>: bench/mmpager-vs-umap builds
 * it unchanged against UMap's library and against this project's libumap.
 *
 *   um-bench WORKLOAD FILE THREADS OPS [mmap]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "umap/umap.h"
#include "workloads.h"

static void *um_map(void *ctx, int fd, size_t len)
{
	void *p = umap(NULL, len, PROT_READ | PROT_WRITE, UMAP_PRIVATE, fd, 0);

	return p == UMAP_FAILED ? NULL : p;
}

static int um_flush(void *ctx, void *addr, size_t len)
{
	return umap_flush();
}

static int um_unmap(void *ctx, void *addr, size_t len)
{
	return uunmap(addr, len);
}

int main(int argc, char **argv)
{
	struct wl_mapper um = { "umap", um_map, um_flush, um_unmap, NULL };
	struct wl_params p;
	struct wl_result r;
	struct stat sb;
	char why[256];
	int fd, use_mmap;

	if (argc < 5 || argc > 6 || !wl_known(argv[1])) {
		fprintf(stderr, "usage: um-bench randread|seqscan|randwrite|sort FILE THREADS OPS [mmap]\n");
		return 2;
	}
	use_mmap = argc == 6;
	p.workload = argv[1];
	p.threads = (unsigned)atoi(argv[3]);
	p.ops = strtoull(argv[4], NULL, 10);
	p.seed = 1;
	fd = open(argv[2], O_RDWR);
	if (fd < 0 || fstat(fd, &sb) < 0) {
		perror(argv[2]);
		return 1;
	}
	if (wl_run(use_mmap ? &wl_mmap_mapper : &um, fd, (size_t)sb.st_size, &p, &r, why, sizeof(why))) {
		fprintf(stderr, "um-bench: %s\n", why);
		return 1;
	}
	wl_print(use_mmap ? "mmap" : "umap", &p, &r);
	close(fd);
	return 0;
}
