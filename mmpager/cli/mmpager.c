// SPDX-License-Identifier: MIT
/* mmpager.c - the mmpager command.
 *
 *   mmpager bench FILE|URI [--workload W]... [--page-size N] [--buffer SIZE]
 *                 [--fillers N] [--evictors N] [--ptl split|global]
 *                 [--threads N] [--ops N] [--engine mmpager|mmap]
 *   mmpager stat PID
 *   mmpager serve --snapshot FILE --socket PATH [...]   (serve.c)
 *
 * bench runs the workloads of bench/workloads.c on FILE through libmmpager
 * (or plain mmap, for reference), or on an NBD export named by URI
 * (nbd://, nbd+unix://, nbds://) through the NBD store, and prints one key=value line per
 * workload, with the pager's lock counters.  stat prints the statistics a
 * running pager publishes (MMPAGER_PUBLISH=1).  Exit status: 0, 1 on a
 * failure (named on stderr), 2 on a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ob/err.h"
#include "ob/opt.h"
#include "mmpager.h"
#include "../bench/workloads.h"
#include "serve.h"

#define PROG "mmpager"

enum { K_WORKLOAD = 1, K_PSIZE, K_BUFFER, K_FILLERS, K_EVICTORS, K_PTL, K_THREADS,
       K_OPS, K_ENGINE };

static const struct ob_opt bench_opts[] = {
	{ "workload", 'w', K_WORKLOAD, "W", "randread, seqscan, randwrite or sort; may be "
	  "repeated (default: all four)", 0 },
	{ "page-size", 'p', K_PSIZE, "SIZE", "pager page, 4K..2M (default: UMAP_PAGESIZE "
	  "or the system page)", 0 },
	{ "buffer", 'b', K_BUFFER, "SIZE", "resident buffer in bytes (default: UMAP_BUFSIZE "
	  "pages, or 90% of free memory)", 0 },
	{ "fillers", 'f', K_FILLERS, "N", "filler threads", 0 },
	{ "evictors", 'e', K_EVICTORS, "N", "evictor threads", 0 },
	{ "ptl", 0, K_PTL, "MODE", "split (a lock per table page) or global (one lock)", 0 },
	{ "threads", 't', K_THREADS, "N", "application threads (default 1)", 0 },
	{ "ops", 'n', K_OPS, "N", "4 KiB operations of the random workloads (default: "
	  "pages of FILE)", 0 },
	{ "engine", 0, K_ENGINE, "E", "mmpager (default) or mmap (the kernel, for reference)", 0 },
	{ OB_OPT_END },
};

static const struct ob_opt *const bench_tables[] = { bench_opts, NULL };
static const struct ob_opt no_opts[] = { { OB_OPT_END } };
static const struct ob_opt *const no_tables[] = { no_opts, NULL };

static const struct ob_cmd bench_cmd = {
	.prog = PROG " bench",
	.synopsis = PROG " bench FILE|URI [OPTION]...",
	.about = "Run the benchmark workloads on FILE, or on the NBD export URI "
		 "(nbd://, nbd+unix:///?socket=PATH, nbds://; it is modified by randwrite and "
		 "sort) and print one line per workload with throughput, peak RSS and "
		 "the pager's lock counters.  Defaults come from UMap's variables.",
	.tables = bench_tables,
	.operands_min = 1,
	.operands_max = 1,
};

static const struct ob_cmd stat_cmd = {
	.prog = PROG " stat",
	.synopsis = PROG " stat PID",
	.about = "Print the statistics of a running pager in process PID, which must "
		 "run with MMPAGER_PUBLISH=1 (they are refreshed every 250 ms).",
	.tables = no_tables,
	.operands_min = 1,
	.operands_max = 1,
};

struct bench_args {
	struct mmp_config cfg;
	const char *workloads[4];
	unsigned nworkloads, threads;
	uint64_t ops;
	uint64_t buffer;
	bool use_mmap;
};

static int bench_opt(const struct ob_cmd *cmd, const struct ob_opt *opt, const char *arg,
		     void *ctx)
{
	struct bench_args *a = ctx;
	uint64_t v;

	switch (opt->key) {
	case K_WORKLOAD:
		if (!wl_known(arg))
			return ob_opt_usage(cmd, "unknown workload '%s'", arg);
		if (a->nworkloads == 4)
			return ob_opt_usage(cmd, "at most four workloads");
		a->workloads[a->nworkloads++] = arg;
		return 0;
	case K_PSIZE:
		if (ob_parse_size(arg, 4096, 2 << 20, &v) < 0 || v % 4096)
			return ob_opt_usage(cmd, "--page-size %s: a multiple of 4K from 4K to 2M", arg);
		a->cfg.page_size = v;
		return 0;
	case K_BUFFER:
		if (ob_parse_size(arg, 4096, UINT64_MAX, &a->buffer) < 0)
			return ob_opt_usage(cmd, "--buffer %s: a size such as 64M", arg);
		return 0;
	case K_FILLERS:
	case K_EVICTORS:
	case K_THREADS:
		if (ob_parse_uint(arg, 1, opt->key == K_THREADS ? 64 : 1024, &v) < 0)
			return ob_opt_usage(cmd, "--%s %s: a count from 1", opt->name, arg);
		if (opt->key == K_FILLERS)
			a->cfg.fillers = (unsigned)v;
		else if (opt->key == K_EVICTORS)
			a->cfg.evictors = (unsigned)v;
		else
			a->threads = (unsigned)v;
		return 0;
	case K_PTL:
		if (strcmp(arg, "split") && strcmp(arg, "global"))
			return ob_opt_usage(cmd, "--ptl %s: split or global", arg);
		a->cfg.ptl = strcmp(arg, "split") ? MMP_PTL_GLOBAL : MMP_PTL_SPLIT;
		return 0;
	case K_OPS:
		if (ob_parse_uint(arg, 1, UINT64_MAX, &a->ops) < 0)
			return ob_opt_usage(cmd, "--ops %s: a count from 1", arg);
		return 0;
	case K_ENGINE:
		if (strcmp(arg, "mmpager") && strcmp(arg, "mmap"))
			return ob_opt_usage(cmd, "--engine %s: mmpager or mmap", arg);
		a->use_mmap = !strcmp(arg, "mmap");
		return 0;
	}
	return 0;
}

/* ---- the two engines --------------------------------------------------- */

struct bench_ctx {
	struct mmp_pager *pager;
	const char *uri;	/* an NBD export instead of the file */
};

static void *mp_map(void *ctx, int fd, size_t len)
{
	struct bench_ctx *bc = ctx;
	struct mmp_map_args a = { .len = len, .prot = PROT_READ | PROT_WRITE };
	struct ob_err err = { 0 };
	void *out;
	int rc = bc->uri ? mmp_store_nbd(bc->uri, NULL, &a.store, &err)
			 : mmp_store_file(fd, &a.store, &err);

	if (rc < 0 || mmp_map(bc->pager, &a, &out, &err) < 0) {
		mmp_store_destroy(a.store);
		ob_err_print(PROG, "bench", &err);
		return NULL;
	}
	return out;
}

static int mp_flush(void *ctx, void *addr, size_t len)
{
	struct ob_err err = { 0 };

	if (mmp_flush(((struct bench_ctx *)ctx)->pager, &err) < 0) {
		ob_err_print(PROG, "bench", &err);
		return -1;
	}
	return 0;
}

static int mp_unmap(void *ctx, void *addr, size_t len)
{
	struct ob_err err = { 0 };

	if (mmp_unmap(((struct bench_ctx *)ctx)->pager, addr, len, &err) < 0) {
		ob_err_print(PROG, "bench", &err);
		return -1;
	}
	return 0;
}

static void log_stderr(const char *line)
{
	fprintf(stderr, "%s\n", line);
}

/* The size of FILE (opened into *fd) or of the export at URI (*fd = -1). */
static int bench_target(const char *target, int *fd, uint64_t *size)
{
	struct ob_err err = { 0 };
	struct mmp_store *st;
	struct stat sb;

	*fd = -1;
	if (strstr(target, "://")) {
		if (mmp_store_nbd(target, NULL, &st, &err) < 0) {
			ob_err_print(PROG, "bench", &err);
			return -1;
		}
		*size = mmp_store_nbd_size(st);
		mmp_store_destroy(st);
	} else {
		*fd = open(target, O_RDWR | O_CLOEXEC);
		if (*fd < 0 || fstat(*fd, &sb) < 0) {
			fprintf(stderr, PROG ": %s: cannot open: %s\n", target, strerror(errno));
			return -1;
		}
		*size = (uint64_t)sb.st_size;
	}
	if (*size < 4096) {
		fprintf(stderr, PROG ": %s: smaller than 4 KiB\n", target);
		return -1;
	}
	return 0;
}

static int run_bench(const char *file, struct bench_args *a)
{
	static const char *const all[] = { "randread", "seqscan", "randwrite", "sort" };
	struct bench_ctx bc = { NULL, strstr(file, "://") ? file : NULL };
	struct wl_mapper mp = { "mmpager", mp_map, mp_flush, mp_unmap, &bc };
	struct mmp_pager *pager = NULL;
	struct ob_err err = { 0 };
	uint64_t size;
	int fd, rc = 0;

	if (bench_target(file, &fd, &size) < 0) {
		if (fd >= 0)
			close(fd);
		return 1;
	}
	if (bc.uri && a->use_mmap) {
		fprintf(stderr, PROG ": %s: --engine mmap needs a file\n", file);
		return 1;
	}
	if (a->buffer)
		a->cfg.buf_pages = (a->buffer + a->cfg.page_size - 1) / a->cfg.page_size;
	if (!a->use_mmap && mmp_pager_new(&a->cfg, &pager, &err) < 0) {
		ob_err_print(PROG, "bench", &err);
		if (fd >= 0)
			close(fd);
		return 1;
	}
	bc.pager = pager;
	if (!a->nworkloads)
		for (a->nworkloads = 0; a->nworkloads < 4; a->nworkloads++)
			a->workloads[a->nworkloads] = all[a->nworkloads];
	for (unsigned i = 0; i < a->nworkloads && rc == 0; i++) {
		struct wl_params p = { a->workloads[i], a->threads,
				       a->ops ? a->ops : size / 4096, 1 };
		struct wl_result r;
		char why[256];

		if (wl_run(a->use_mmap ? &wl_mmap_mapper : &mp, fd, (size_t)size, &p, &r, why,
			   sizeof(why))) {
			fprintf(stderr, PROG ": %s: %s\n", file, why);
			rc = 1;
			break;
		}
		wl_print(a->use_mmap ? "mmap" : "mmpager", &p, &r);
	}
	if (pager) {
		struct mmp_stats st;

		mmp_stats(pager, &st);
		printf("ptl=%s table_lock_acquisitions=%" PRIu64 " table_lock_contended=%" PRIu64
		       " table_lock_wait_ns=%" PRIu64 " faults=%" PRIu64 " evictions=%" PRIu64
		       " writebacks=%" PRIu64 " peak_resident_bytes=%" PRIu64 "\n",
		       st.ptl == MMP_PTL_GLOBAL ? "global" : "split", st.table.acquisitions,
		       st.table.contended, st.table.wait_ns, st.faults, st.evictions,
		       st.writebacks, st.peak_resident_bytes);
		mmp_pager_free(pager);
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

static int cmd_bench(int argc, char **argv)
{
	struct bench_args a = { .threads = 1 };
	struct ob_err err = { 0 };
	int first, status;

	mmp_config_default(&a.cfg);
	if (mmp_config_from_env(&a.cfg, &err) < 0) {
		ob_err_print(PROG, "environment", &err);
		return 2;
	}
	first = ob_opt_parse(&bench_cmd, argc, argv, bench_opt, &a, &status);
	if (first < 0)
		return status;
	return run_bench(argv[first], &a);
}

static int cmd_stat(int argc, char **argv)
{
	char path[128], buf[4096];
	uint64_t pid;
	int first, status;
	size_t n;
	FILE *f;

	first = ob_opt_parse(&stat_cmd, argc, argv, NULL, NULL, &status);
	if (first < 0)
		return status;
	if (ob_parse_uint(argv[first], 1, INT32_MAX, &pid) < 0)
		return ob_opt_usage(&stat_cmd, "'%s' is not a process id", argv[first]);
	if (kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
		fprintf(stderr, PROG ": process %" PRIu64 ": no such process\n", pid);
		return 1;
	}
	mmp_stat_path((int)pid, path, sizeof(path));
	f = fopen(path, "re");
	if (!f) {
		fprintf(stderr, PROG ": process %" PRIu64 ": no published statistics (%s: %s); "
			"run it with MMPAGER_PUBLISH=1\n", pid, path, strerror(errno));
		return 1;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	fputs(buf, stdout);
	return 0;
}

/* "mmpager --help" and "mmpager --version": the options before a subcommand. */
enum { K_VERSION = 1 };

static const struct ob_opt top_opts[] = {
	{ "version", 0, K_VERSION, NULL, "print the version", 0 },
	{ OB_OPT_END },
};

static const struct ob_opt *const top_tables[] = { top_opts, NULL };

static const struct ob_cmd top_cmd = {
	.prog = PROG,
	.synopsis = PROG " bench FILE|URI [OPTION]...\n"
		    PROG " stat PID\n"
		    PROG " serve --snapshot FILE --socket PATH [OPTION]...",
	.about = "Demand paging in userspace (libmmpager); see mmpager(1) and "
		 "'" PROG " SUBCOMMAND --help'.",
	.tables = top_tables,
	.operands_min = 0,
	.operands_max = 0,
};

static int top_opt(const struct ob_cmd *cmd, const struct ob_opt *opt, const char *arg,
		   void *ctx)
{
	(void)cmd, (void)arg, (void)ctx;
	if (opt->key == K_VERSION) {
		printf(PROG " 0.1\n");
		return -1;	/* stop: not an error, nothing more to do */
	}
	return 0;
}

static int cmd_top(int argc, char **argv)
{
	int status;

	if (ob_opt_parse(&top_cmd, argc, argv, top_opt, NULL, &status) < 0)
		return status < 0 ? 0 : status;
	return ob_opt_usage(&top_cmd, "a subcommand is needed: bench, stat or serve");
}

int main(int argc, char **argv)
{
	mmp_set_log(log_stderr);
	if (argc >= 2 && !strcmp(argv[1], "bench"))
		return cmd_bench(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "stat"))
		return cmd_stat(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "serve"))
		return cmd_serve(argc - 1, argv + 1);
	if (argc >= 2 && argv[1][0] == '-')
		return cmd_top(argc, argv);
	fprintf(stderr, "usage: " PROG " bench FILE|URI [OPTION]... | " PROG " stat PID | " PROG " serve ...\n");
	return 2;
}
