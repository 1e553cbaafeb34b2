// SPDX-License-Identifier: MIT
/* um-prog.c - UMap-API programs of this project's own, one per subcommand,
 * written only against <umap/umap.h> as a UMap user would; pytest
 * (test_umap_api.py) runs them against libumap and checks what they print
 * and what they leave in files.
 *
 *   cfg                         print the umapcfg_get_* values
 *   rw FILE OPS SEED THREADS    random 8-byte writes and reads over FILE
 *                               (threads on disjoint slices) checked against
 *                               a model; flush; uunmap; FILE checked again
 *   sort FILE                   sort FILE's uint64 values in place, as
 *                               UMap's umapsort does, and check the order
 *   regions N                   map N small regions of one file, touch and
 *                               check each, unmap them all
 *   sigbus DIR                  map a store that cannot be read (a
 *                               directory): the touch must die of SIGBUS
 *   fork FILE                   fork: the child's umap() is refused and the
 *                               region is absent in the child (SIGSEGV)
 *   pin FILE                    umap_fetch_and_pin + umap_prefetch
 *   hold FILE                   map and read FILE, print "ready", wait for
 *                               stdin to close, unmap (for "mmpager stat")
 *
 * Exit status 0 on success, 1 with a line on stderr naming what differed.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "umap/umap.h"

static int die(const char *what)
{
	fprintf(stderr, "um-prog: %s\n", what);
	return 1;
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static int open_sized(const char *path, off_t *size)
{
	struct stat sb;
	int fd = open(path, O_RDWR);

	if (fd < 0 || fstat(fd, &sb) < 0)
		return -1;
	*size = sb.st_size;
	return fd;
}

static int cmd_cfg(void)
{
	printf("page_size %llu\n", (unsigned long long)umapcfg_get_umap_page_size());
	printf("max_pages_in_buffer %llu\n",
	       (unsigned long long)umapcfg_get_max_pages_in_buffer());
	printf("fillers %llu\n", (unsigned long long)umapcfg_get_num_fillers());
	printf("evictors %llu\n", (unsigned long long)umapcfg_get_num_evictors());
	printf("high_water %d\n", umapcfg_get_evict_high_water_threshold());
	printf("low_water %d\n", umapcfg_get_evict_low_water_threshold());
	printf("max_fault_events %llu\n", (unsigned long long)umapcfg_get_max_fault_events());
	printf("read_ahead %llu\n", (unsigned long long)umapcfg_get_read_ahead());
	printf("write_support %d\n", umap_has_write_support());
	return 0;
}

struct rw_job {
	uint64_t *region, *model;
	size_t first, count;	/* slice of 8-byte words */
	long ops;
	uint64_t seed;
	int bad;
	size_t bad_word;	/* the first bad read: where, what, when */
	uint64_t bad_want, bad_got;
	long bad_op;
};

/* Name the first word where got and want differ, with the pager page it
 * is in, so that a failure says which page lost what. */
static int die_at(const char *what, const uint64_t *got, const uint64_t *want,
		  size_t words)
{
	size_t w = 0, psize = (size_t)umapcfg_get_umap_page_size();
	size_t ndiff = 0;

	while (w < words && got[w] == want[w])
		w++;
	for (size_t i = w; i < words; i++)
		ndiff += got[i] != want[i];
	fprintf(stderr, "um-prog: %s: first at byte offset %zu (page %zu of %zu bytes, word "
		"%zu in it): expected %#018llx, got %#018llx; %zu words differ\n", what,
		w * 8, w * 8 / psize, psize, w % (psize / 8), (unsigned long long)want[w],
		(unsigned long long)got[w], ndiff);
	return 1;
}

static void *rw_thread(void *arg)
{
	struct rw_job *j = arg;
	uint64_t s = j->seed;

	for (long i = 0; i < j->ops; i++) {
		size_t w = j->first + xorshift(&s) % j->count;

		if (xorshift(&s) % 3) {
			uint64_t v = xorshift(&s);

			j->region[w] = v;
			j->model[w] = v;
		} else if (j->region[w] != j->model[w]) {
			if (!j->bad++) {
				j->bad_word = w;
				j->bad_want = j->model[w];
				j->bad_got = j->region[w];
				j->bad_op = i;
			}
		}
	}
	return NULL;
}

static int check_file(int fd, const uint64_t *model, size_t size, const char *what)
{
	uint64_t *buf = malloc(size);
	int rc = 0;

	if (!buf || pread(fd, buf, size, 0) != (ssize_t)size)
		rc = die("cannot read the file back");
	else if (memcmp(buf, model, size))
		rc = die_at(what, buf, model, size / 8);
	free(buf);
	return rc;
}

static int cmd_rw(const char *path, long ops, uint64_t seed, int nthreads)
{
	off_t size;
	int fd = open_sized(path, &size), rc = 0;
	uint64_t *model, *region;
	struct rw_job jobs[16];
	pthread_t tid[16];
	size_t words;

	if (fd < 0 || nthreads < 1 || nthreads > 16)
		return die("bad arguments");
	words = (size_t)size / 8;
	model = malloc((size_t)size);
	if (!model || pread(fd, model, (size_t)size, 0) != size)
		return die("cannot read the file");
	region = umap(NULL, (size_t)size, PROT_READ | PROT_WRITE, UMAP_PRIVATE, fd, 0);
	if (region == UMAP_FAILED)
		return die("umap failed");
	for (int t = 0; t < nthreads; t++) {
		jobs[t] = (struct rw_job){ .region = region, .model = model,
					   .first = words / nthreads * t,
					   .count = words / nthreads, .ops = ops / nthreads,
					   .seed = seed + t + 1 };
		pthread_create(&tid[t], NULL, rw_thread, &jobs[t]);
	}
	for (int t = 0; t < nthreads; t++) {
		pthread_join(tid[t], NULL);
		if (jobs[t].bad) {
			fprintf(stderr, "um-prog: thread %d: %d reads returned something else "
				"than the last write; the first, at op %ld: byte offset %zu "
				"(page %zu): expected %#018llx, got %#018llx\n", t, jobs[t].bad,
				jobs[t].bad_op, jobs[t].bad_word * 8, jobs[t].bad_word * 8 /
				(size_t)umapcfg_get_umap_page_size(),
				(unsigned long long)jobs[t].bad_want,
				(unsigned long long)jobs[t].bad_got);
			rc = 1;
		}
	}
	if (!rc && memcmp(region, model, (size_t)size))
		rc = die_at("region content differs from the model", region, model, words);
	if (!rc && umap_flush() != 0)
		rc = die("umap_flush failed");
	if (!rc)
		rc = check_file(fd, model, (size_t)size,
				"after umap_flush, the file differs from what was written");
	if (uunmap(region, (size_t)size) != 0)
		rc = die("uunmap failed");
	if (!rc)
		rc = check_file(fd, model, (size_t)size,
				"after uunmap, the file differs from what was written");
	free(model);
	close(fd);
	if (!rc)
		printf("rw ok\n");
	return rc;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmd_sort(const char *path)
{
	off_t size;
	int fd = open_sized(path, &size), rc = 0;
	uint64_t *v;
	size_t n;

	if (fd < 0)
		return die("cannot open the file");
	n = (size_t)size / 8;
	v = umap(NULL, (size_t)size, PROT_READ | PROT_WRITE, UMAP_PRIVATE, fd, 0);
	if (v == UMAP_FAILED)
		return die("umap failed");
	qsort(v, n, 8, cmp_u64);
	for (size_t i = 1; i < n && !rc; i++)
		if (v[i - 1] > v[i])
			rc = die("not sorted in the region");
	if (uunmap(v, (size_t)size) != 0)
		rc = die("uunmap failed");
	close(fd);
	if (!rc)
		printf("sort ok %zu\n", n);
	return rc;
}

static int cmd_regions(const char *path, long n)
{
	int fd = open(path, O_RDWR);
	char **r = calloc((size_t)n, sizeof(*r));
	long page = sysconf(_SC_PAGESIZE);

	if (fd < 0 || !r)
		return die("bad arguments");
	for (long i = 0; i < n; i++) {
		r[i] = umap(NULL, (size_t)page, PROT_READ | PROT_WRITE, UMAP_PRIVATE, fd,
			    (off_t)(i * page));
		if (r[i] == UMAP_FAILED) {
			fprintf(stderr, "um-prog: umap of region %ld failed: %s\n", i,
				strerror(errno));
			return 1;
		}
	}
	for (long i = 0; i < n; i++) {
		if (*(uint32_t *)r[i] != (uint32_t)i) {
			fprintf(stderr, "um-prog: region %ld reads %u\n", i, *(uint32_t *)r[i]);
			return 1;
		}
		*(uint32_t *)r[i] = (uint32_t)(i * 3);
	}
	for (long i = 0; i < n; i++)
		if (uunmap(r[i], (size_t)page) != 0) {
			free(r);
			return die("uunmap failed");
		}
	free(r);
	close(fd);
	printf("regions ok %ld\n", n);
	return 0;
}

static int cmd_sigbus(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	volatile char *p;

	if (fd < 0)
		return die("cannot open the directory");
	p = umap(NULL, 1 << 20, PROT_READ, UMAP_PRIVATE, fd, 0);
	if (p == UMAP_FAILED)
		return die("umap failed");
	fprintf(stderr, "um-prog: touching\n");
	printf("read %d\n", p[4096]);	/* must not return */
	return die("the read of an unreadable store returned");
}

static int cmd_fork(const char *path)
{
	int fd = open(path, O_RDWR), status;
	volatile char *p;
	pid_t pid;

	if (fd < 0)
		return die("cannot open the file");
	p = umap(NULL, 1 << 20, PROT_READ | PROT_WRITE, UMAP_PRIVATE, fd, 0);
	if (p == UMAP_FAILED)
		return die("umap failed");
	p[0] = 'P';
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		void *q = umap(NULL, 1 << 20, PROT_READ, UMAP_PRIVATE, fd, 0);

		if (q != UMAP_FAILED || errno != ECHILD)
			_exit(3);
		signal(SIGSEGV, SIG_DFL);
		(void)p[4096];	/* the region is not in the child */
		_exit(4);
	}
	if (waitpid(pid, &status, 0) < 0)
		return die("waitpid failed");
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSEGV) {
		fprintf(stderr, "um-prog: child status %#x, expected SIGSEGV\n", status);
		return 1;
	}
	if (p[0] != 'P' || uunmap((void *)p, 1 << 20) != 0)
		return die("the parent's region changed");
	printf("fork ok\n");
	return 0;
}

static int cmd_pin(const char *path)
{
	off_t size;
	int fd = open_sized(path, &size);
	uint64_t psize = umapcfg_get_umap_page_size();
	struct umap_prefetch_item items[2];
	unsigned char *p, *copy = malloc((size_t)size);

	if (fd < 0 || !copy || pread(fd, copy, (size_t)size, 0) != size)
		return die("cannot read the file");
	p = umap(NULL, (size_t)size, PROT_READ, UMAP_PRIVATE, fd, 0);
	if (p == UMAP_FAILED)
		return die("umap failed");
	umap_fetch_and_pin((char *)p, psize * 2);
	items[0].page_base_addr = p + psize * 4;
	items[1].page_base_addr = p + psize * 5;
	umap_prefetch(2, items);
	if (memcmp(p, copy, (size_t)size))
		return die("pinned or prefetched content differs from the file");
	if (uunmap(p, (size_t)size) != 0)
		return die("uunmap failed");
	free(copy);
	printf("pin ok\n");
	return 0;
}

static int cmd_hold(const char *path)
{
	off_t size;
	int fd = open_sized(path, &size);
	volatile unsigned char *p;
	unsigned sum = 0;
	char c;

	if (fd < 0)
		return die("cannot open the file");
	p = umap(NULL, (size_t)size, PROT_READ, UMAP_PRIVATE, fd, 0);
	if (p == UMAP_FAILED)
		return die("umap failed");
	for (off_t i = 0; i < size; i += 4096)
		sum += p[i];
	printf("ready %u\n", sum);
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	return uunmap((void *)p, (size_t)size) ? die("uunmap failed") : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "cfg"))
		return cmd_cfg();
	if (argc == 6 && !strcmp(argv[1], "rw"))
		return cmd_rw(argv[2], atol(argv[3]), strtoull(argv[4], NULL, 0), atoi(argv[5]));
	if (argc == 3 && !strcmp(argv[1], "sort"))
		return cmd_sort(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "regions"))
		return cmd_regions(argv[2], atol(argv[3]));
	if (argc == 3 && !strcmp(argv[1], "sigbus"))
		return cmd_sigbus(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "fork"))
		return cmd_fork(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "pin"))
		return cmd_pin(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "hold"))
		return cmd_hold(argv[2]);
	fprintf(stderr, "usage: um-prog cfg|rw|sort|regions|sigbus|fork|pin|hold ...\n");
	return 2;
}
