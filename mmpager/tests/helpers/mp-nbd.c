// SPDX-License-Identifier: MIT
/* mp-nbd.c - the NBD store under test, driven by test_nbd.py.
 *
 *   mp-nbd model URI INITIAL OUT SEED OPS
 *	map the export (whose contents INITIAL holds) with a 16-page buffer,
 *	run OPS random reads, writes, evictions and flushes checked against an
 *	in-memory model, then unmap (flushing) and write the model to OUT so
 *	the test can compare it with what the server stored.
 *   mp-nbd touch URI
 *	map the export read-only, read its first page, print "ready", wait for
 *	a line on stdin (the test kills the server meanwhile), then read every
 *	page: the reads the server can no longer serve must raise SIGBUS.
 *
 * Exit status: 0, 1 on a mismatch or failure (said on stderr), 2 on usage.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ob/err.h"
#include "mmpager.h"

#define PG 4096

static void log_stderr(const char *line)
{
	fprintf(stderr, "%s\n", line);
	fflush(stderr);
}

static int open_pager(const char *uri, uint64_t buf_pages, struct mmp_pager **p,
		      struct mmp_store **st, uint64_t *size)
{
	struct mmp_nbd_opts o = { .connections = 2, .timeout_ms = 20000 };
	struct mmp_config cfg;
	struct ob_err err = { 0 };

	mmp_config_default(&cfg);
	cfg.page_size = PG;
	cfg.buf_pages = buf_pages;
	cfg.fillers = 2;
	cfg.evictors = 1;
	if (mmp_store_nbd(uri, &o, st, &err) < 0 || mmp_pager_new(&cfg, p, &err) < 0) {
		fprintf(stderr, "mp-nbd: %s\n", err.msg);
		return -1;
	}
	*size = mmp_store_nbd_size(*st);
	return 0;
}

static int map_all(struct mmp_pager *p, struct mmp_store *st, uint64_t size, int prot,
		   char **base)
{
	struct mmp_map_args a = { .len = size, .prot = prot, .store = st };
	struct ob_err err = { 0 };

	if (mmp_map(p, &a, (void **)base, &err) < 0) {
		fprintf(stderr, "mp-nbd: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static char *slurp(const char *path, uint64_t size)
{
	char *buf = malloc(size);
	int fd = open(path, O_RDONLY);

	if (!buf || fd < 0 || pread(fd, buf, size, 0) != (ssize_t)size) {
		fprintf(stderr, "mp-nbd: %s: cannot read %" PRIu64 " bytes\n", path, size);
		free(buf);
		buf = NULL;
	}
	if (fd >= 0)
		close(fd);
	return buf;
}

/* One random step; 0, or -1 after saying what differed. */
static int model_step(struct mmp_pager *p, char *base, char *model, uint64_t npages)
{
	uint64_t pg = (uint64_t)rand() % npages;
	size_t at = (size_t)pg * PG + (size_t)(rand() % (PG - 64));
	struct ob_err err = { 0 };
	int op = rand() % 100;

	if (op < 45) {
		if (memcmp(base + pg * PG, model + pg * PG, PG)) {
			fprintf(stderr, "mp-nbd: page %" PRIu64 " differs from the model\n", pg);
			return -1;
		}
	} else if (op < 90) {
		for (int i = 0; i < 64; i++)
			model[at + i] = base[at + i] = (char)rand();
	} else if (op < 97) {
		if (mmp_evict(p, base + pg * PG, 4 * PG > (npages - pg) * PG ? PG : 4 * PG,
			      &err) < 0)
			goto fail;
	} else if (mmp_flush(p, &err) < 0) {
		goto fail;
	}
	return 0;
fail:
	fprintf(stderr, "mp-nbd: %s\n", err.msg);
	return -1;
}

static int cmd_model(char **argv)
{
	struct mmp_pager *p = NULL;
	struct mmp_store *st = NULL;
	struct ob_err err = { 0 };
	uint64_t size, ops = strtoull(argv[5], NULL, 0);
	char *base, *model = NULL;
	int rc = 1;
	FILE *out;

	srand((unsigned)strtoul(argv[4], NULL, 0));
	if (open_pager(argv[1], 16, &p, &st, &size) < 0)
		goto out;
	if (size < PG || !(model = slurp(argv[2], size)))
		goto out;
	if (map_all(p, st, size, PROT_READ | PROT_WRITE, &base) < 0)
		goto out;
	st = NULL;	/* the region owns it */
	for (uint64_t i = 0; i < ops; i++)
		if (model_step(p, base, model, size / PG) < 0)
			goto out;
	if (memcmp(base, model, size)) {
		fprintf(stderr, "mp-nbd: the mapping differs from the model at the end\n");
		goto out;
	}
	if (mmp_unmap(p, base, size, &err) < 0) {
		fprintf(stderr, "mp-nbd: %s\n", err.msg);
		goto out;
	}
	out = fopen(argv[3], "we");
	if (!out || fwrite(model, 1, size, out) != size || fclose(out)) {
		fprintf(stderr, "mp-nbd: %s: cannot write the model\n", argv[3]);
		goto out;
	}
	rc = 0;
out:
	mmp_store_destroy(st);
	if (p)
		mmp_pager_free(p);
	free(model);
	return rc;
}

static int cmd_touch(char **argv)
{
	struct mmp_pager *p;
	struct mmp_store *st;
	uint64_t size, sum = 0;
	char line[16], *base;

	if (open_pager(argv[1], 1024, &p, &st, &size) < 0)
		return 1;
	if (map_all(p, st, size, PROT_READ, &base) < 0)
		return 1;
	sum += (unsigned char)base[0];
	printf("ready %" PRIu64 "\n", size);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	for (uint64_t off = 0; off < size; off += PG)
		sum += (unsigned char)((volatile char *)base)[off];
	printf("read every page (sum %" PRIu64 ")\n", sum);
	mmp_pager_free(p);
	return 0;
}

int main(int argc, char **argv)
{
	mmp_set_log(log_stderr);
	if (argc == 7 && !strcmp(argv[1], "model"))
		return cmd_model(argv + 1);
	if (argc == 3 && !strcmp(argv[1], "touch"))
		return cmd_touch(argv + 1);
	fprintf(stderr, "usage: mp-nbd model URI INITIAL OUT SEED OPS | mp-nbd touch URI\n");
	return 2;
}
