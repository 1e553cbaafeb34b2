// SPDX-License-Identifier: MIT
/* nm-target.c - a process with the kinds of pages numamove must handle.
 *
 * The integration tests and the benchmark start it inside the numa-vm
 * guest, move its memory with numamove or migratepages, and compare what
 * the tool says with what is true.  It maps (each optional):
 *   --mib N        N MiB anonymous, written, MADV_NOHUGEPAGE unless --thp
 *   --bind NODE    mbind(MPOL_BIND) of that region before the first touch
 *   --mlock        mlock() it
 *   --fork-shared  fork a child that keeps the region mapped (COW-shared)
 *   --hugetlb N    N 2 MiB hugetlb pages
 *   --vmsplice N   N pages of the region held by a pipe (a pinned reference)
 *   --zero N       N pages only read (the shared zero page)
 *   --zero-alone N N zero pages in a read-only mapping of their own, so
 *                  the mapping holds nothing else (no Rss, no numa_maps count)
 *   --maps N       N one-page mappings, each written (neighbours differ in
 *                  protection so the kernel cannot merge them)
 *   --threads N    N more threads that only sleep
 *   --stall        a thread that maps, writes and unmaps a page every
 *                  millisecond and records the largest gap between two of
 *                  its clock readings (it waits whenever the mmap_lock is
 *                  held; the gap includes the 1 ms sleep)
 * It writes "ready PID" to --ready FILE when set up.  SIGUSR1 faults in
 * --extra-mib more MiB of the bound region and appends the nodes of those
 * new pages ("new node0=.. node1=.. other=..") to --out; SIGTERM writes
 * "maxgap_us N" (with --stall) to --out and exits.  Not a unit test: the
 * build names it nm-target so tests/run-all does not run it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MPOL_BIND 2
#define PAGE 4096UL

struct target {
	size_t mib, extra_mib;
	int bind, mlock_it, fork_shared, thp, stall, hugetlb, vmsplice_n, zero_n;
	int zero_alone, maps, threads;
	const char *ready, *out;
	char *region;
	size_t len, touched;
	volatile int stop;
	uint64_t maxgap_us;
	pid_t child;
};

static volatile sig_atomic_t got_usr1, got_term;

static void on_sig(int sig)
{
	if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		got_term = 1;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void *stall_thread(void *arg)
{
	struct target *t = arg;
	uint64_t last = now_us();

	while (!t->stop) {
		uint64_t n;
		char *p;

		/* mmap and munmap take the target's mmap_lock for writing:
		 * migrate_pages(2) holds it for reading for the whole job
		 * (spec 1.1), move_pages(2) only for one call.  A write to the
		 * fresh page adds a page fault, as a working thread has. */
		p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED) {
			p[0] = 1;
			munmap(p, PAGE);
		}
		/* A working thread, not a spinning one: a thread that maps in
		 * a tight loop makes every per-page mmap_read_lock of
		 * move_pages(2) queue behind it (measured: 128 MiB took 31 s
		 * instead of 0.6 s), a load no real program puts on itself. */
		usleep(1000);
		n = now_us();
		if (n - last > t->maxgap_us)
			t->maxgap_us = n - last;
		last = n;
	}
	return NULL;
}

static void report_new(struct target *t, size_t from, size_t len)
{
	size_t n = len / PAGE, cnt[3] = { 0, 0, 0 };
	void **pages = calloc(n, sizeof(*pages));
	int *status = calloc(n, sizeof(*status));
	FILE *f;

	for (size_t i = 0; i < n; i++)
		pages[i] = t->region + from + i * PAGE;
	if (syscall(SYS_move_pages, 0, n, pages, NULL, status, 0) == 0)
		for (size_t i = 0; i < n; i++)
			cnt[status[i] == 0 ? 0 : status[i] == 1 ? 1 : 2]++;
	f = fopen(t->out, "a");
	if (f) {
		fprintf(f, "new node0=%zu node1=%zu other=%zu\n", cnt[0], cnt[1], cnt[2]);
		fclose(f);
	}
	free(pages);
	free(status);
}

static void *sleeper_thread(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

/* n pages that only read: each maps the shared zero page. */
static int zero_pages(size_t n, int prot)
{
	volatile char *z = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				-1, 0);
	int sum = 0;

	if (z == MAP_FAILED)
		return -1;
	madvise((void *)z, n * PAGE, MADV_NOHUGEPAGE);
	for (size_t i = 0; i < n; i++)
		sum += z[i * PAGE];
	(void)sum;
	return prot == (PROT_READ | PROT_WRITE) ? 0 : mprotect((void *)z, n * PAGE, prot);
}

/* n written one-page mappings: every other page read-only splits one
 * mapping into n. */
static int many_maps(size_t n)
{
	char *m = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		return -1;
	madvise(m, n * PAGE, MADV_NOHUGEPAGE);
	for (size_t i = 0; i < n; i++)
		m[i * PAGE] = 1;
	for (size_t i = 0; i < n; i += 2)
		if (mprotect(m + i * PAGE, PAGE, PROT_READ))
			return -1;
	return 0;
}

static int opt_num(const char *s)
{
	return atoi(s);
}

int main(int argc, char **argv)
{
	struct target t = { .mib = 64, .extra_mib = 4, .bind = -1, .out = "/dev/stdout" };
	struct sigaction sa = { .sa_handler = on_sig };
	pthread_t th;
	int pfd[2] = { -1, -1 };

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "0";

		if (!strcmp(a, "--mib")) t.mib = (size_t)opt_num(v), i++;
		else if (!strcmp(a, "--extra-mib")) t.extra_mib = (size_t)opt_num(v), i++;
		else if (!strcmp(a, "--bind")) t.bind = opt_num(v), i++;
		else if (!strcmp(a, "--hugetlb")) t.hugetlb = opt_num(v), i++;
		else if (!strcmp(a, "--vmsplice")) t.vmsplice_n = opt_num(v), i++;
		else if (!strcmp(a, "--zero")) t.zero_n = opt_num(v), i++;
		else if (!strcmp(a, "--zero-alone")) t.zero_alone = opt_num(v), i++;
		else if (!strcmp(a, "--maps")) t.maps = opt_num(v), i++;
		else if (!strcmp(a, "--threads")) t.threads = opt_num(v), i++;
		else if (!strcmp(a, "--ready")) t.ready = v, i++;
		else if (!strcmp(a, "--out")) t.out = v, i++;
		else if (!strcmp(a, "--mlock")) t.mlock_it = 1;
		else if (!strcmp(a, "--fork-shared")) t.fork_shared = 1;
		else if (!strcmp(a, "--thp")) t.thp = 1;
		else if (!strcmp(a, "--stall")) t.stall = 1;
		else {
			fprintf(stderr, "nm-target: unknown option %s\n", a);
			return 64;
		}
	}
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	t.touched = t.mib << 20;
	t.len = (t.mib + t.extra_mib) << 20;
	t.region = mmap(NULL, t.len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (t.region == MAP_FAILED) {
		perror("nm-target: mmap");
		return 1;
	}
	madvise(t.region, t.len, t.thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	if (t.bind >= 0) {
		unsigned long mask[16] = { 0 };

		mask[t.bind / 64] = 1UL << (t.bind % 64);
		if (syscall(SYS_mbind, t.region, t.len, MPOL_BIND, mask, 1025, 0)) {
			perror("nm-target: mbind");
			return 1;
		}
	}
	memset(t.region, 0x5a, t.touched);
	if (t.mlock_it && mlock(t.region, t.touched)) {
		perror("nm-target: mlock");
		return 1;
	}
	if (t.hugetlb) {
		size_t hl = (size_t)t.hugetlb << 21;
		char *h = mmap(NULL, hl, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);

		if (h == MAP_FAILED) {
			perror("nm-target: mmap hugetlb");
			return 1;
		}
		memset(h, 1, hl);
	}
	if (t.zero_n && zero_pages((size_t)t.zero_n, PROT_READ | PROT_WRITE)) {
		perror("nm-target: zero pages");
		return 1;
	}
	if (t.zero_alone && zero_pages((size_t)t.zero_alone, PROT_READ)) {
		perror("nm-target: zero-page mapping");
		return 1;
	}
	if (t.maps && many_maps((size_t)t.maps)) {
		perror("nm-target: mappings");
		return 1;
	}
	for (int i = 0; i < t.threads; i++) {
		pthread_t sl;
		pthread_attr_t at;

		pthread_attr_init(&at);
		pthread_attr_setstacksize(&at, 64 << 10);
		if (pthread_create(&sl, &at, sleeper_thread, NULL)) {
			fprintf(stderr, "nm-target: thread %d of %d failed\n", i, t.threads);
			return 1;
		}
		pthread_attr_destroy(&at);
	}
	if (t.vmsplice_n) {
		struct iovec iov = { t.region, (size_t)t.vmsplice_n * PAGE };

		if (pipe(pfd) || fcntl(pfd[1], F_SETPIPE_SZ, (int)((size_t)t.vmsplice_n * PAGE * 2)) < 0 ||
		    vmsplice(pfd[1], &iov, 1, 0) < 0) {
			perror("nm-target: vmsplice");
			return 1;
		}
	}
	if (t.fork_shared) {
		t.child = fork();
		if (t.child == 0) {
			for (;;)
				pause();
		}
	}
	if (t.stall)
		pthread_create(&th, NULL, stall_thread, &t);
	if (t.ready) {
		char tmp[4096];
		FILE *f;

		snprintf(tmp, sizeof(tmp), "%s.tmp", t.ready);
		f = fopen(tmp, "w");
		if (f) {
			fprintf(f, "ready %d\n", getpid());
			fclose(f);
			rename(tmp, t.ready);
		}
	} else {
		printf("ready %d\n", getpid());
		fflush(stdout);
	}
	while (!got_term) {
		pause();
		if (got_usr1) {
			got_usr1 = 0;
			memset(t.region + t.touched, 0x33, t.extra_mib << 20);
			report_new(&t, t.touched, t.extra_mib << 20);
		}
	}
	t.stop = 1;
	if (t.stall) {
		FILE *f;

		pthread_join(th, NULL);
		f = fopen(t.out, "a");
		if (f) {
			fprintf(f, "maxgap_us %llu\n", (unsigned long long)t.maxgap_us);
			fclose(f);
		}
	}
	if (t.child > 0) {
		kill(t.child, SIGKILL);
		waitpid(t.child, NULL, 0);
	}
	return 0;
}
