// SPDX-License-Identifier: MIT
/* umap.c - libumap: UMap's C API on one process-wide pager.
 *
 * The pager starts at the first call that needs it, configured from the
 * environment as UMap is.  UMap prints its errors; so does this front end
 * (one "umap: ..." line on stderr) and sets errno.  At exit it writes back
 * every dirty page, so a program that forgets uunmap() loses nothing, and
 * with MMPAGER_STATS=1 prints the statistics.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ob/err.h"
#include "mmpager.h"
#include "umap/umap.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct mmp_pager *pager;
static struct mmp_config config;
static int start_errno;

static void log_stderr(const char *line)
{
	fprintf(stderr, "%s\n", line);
}

static void fail(const char *fn, const struct ob_err *err)
{
	fprintf(stderr, "umap: %s: %s%s%s\n", fn, err->msg,
		err->code ? ": " : "", err->code ? strerror(-err->code) : "");
	errno = err->code ? -err->code : EINVAL;
}

static void at_exit(void)
{
	const char *s = getenv("MMPAGER_STATS");
	struct ob_err err = { 0 };

	if (!pager)
		return;
	mmp_pager_unpublish(pager);
	if (mmp_flush(pager, &err) < 0 && err.code != -ECHILD)
		fail("exit", &err);
	if (s && !strcmp(s, "1")) {
		struct mmp_stats st;
		char buf[4096];

		mmp_stats(pager, &st);
		mmp_stats_format(&st, buf, sizeof(buf));
		fprintf(stderr, "mmpager statistics (pid %d):\n%s", (int)getpid(), buf);
	}
}

static void start(void)
{
	struct ob_err err = { 0 };

	mmp_set_log(log_stderr);
	mmp_config_default(&config);
	if (mmp_config_from_env(&config, &err) < 0 ||
	    mmp_pager_new(&config, &pager, &err) < 0) {
		fail("start", &err);
		start_errno = errno;
		pager = NULL;
		return;
	}
	atexit(at_exit);
}

static struct mmp_pager *get_pager(void)
{
	pthread_once(&once, start);
	if (!pager)
		errno = start_errno;
	return pager;
}

void *umap(void *addr, size_t length, int prot, int flags, int fd, off_t offset)
{
	struct mmp_pager *p = get_pager();
	struct ob_err err = { 0 };
	struct mmp_map_args a = {
		.addr = addr, .len = length, .prot = prot, .offset = (uint64_t)offset,
	};
	struct mmp_store *st = NULL;
	void *out;

	if (!p)
		return UMAP_FAILED;
	if (!(flags & UMAP_PRIVATE) || (flags & ~(UMAP_PRIVATE | UMAP_FIXED))) {
		ob_err_set(&err, -EINVAL, "flags %#x: only UMAP_PRIVATE, optionally with "
			   "UMAP_FIXED, are supported", (unsigned)flags);
		goto fail;
	}
	if (offset < 0) {
		ob_err_set(&err, -EINVAL, "negative offset");
		goto fail;
	}
	if (flags & UMAP_FIXED)
		a.flags |= MMP_MAP_FIXED;
	if (mmp_store_file(fd, &st, &err) < 0)
		goto fail;
	a.store = st;
	if (mmp_map(p, &a, &out, &err) < 0)
		goto fail;
	return out;
fail:
	mmp_store_destroy(st);
	fail("umap", &err);
	return UMAP_FAILED;
}

int uunmap(void *addr, size_t length)
{
	struct mmp_pager *p = get_pager();
	struct ob_err err = { 0 };

	if (!p)
		return -1;
	if (mmp_unmap(p, addr, length, &err) < 0) {
		fail("uunmap", &err);
		return -1;
	}
	return 0;
}

int umap_flush(void)
{
	struct mmp_pager *p = get_pager();
	struct ob_err err = { 0 };

	if (!p)
		return -1;
	if (mmp_flush(p, &err) < 0) {
		fail("umap_flush", &err);
		return -1;
	}
	return 0;
}

int umap_has_write_support(void)
{
	uint64_t f;

	return mmp_uffd_features(&f, NULL) == 0 && (f & 1 /* PAGEFAULT_FLAG_WP */);
}

void umap_prefetch(int npages, struct umap_prefetch_item *page_array)
{
	struct mmp_pager *p = get_pager();
	struct ob_err err = { 0 };

	for (int i = 0; p && i < npages; i++)
		if (mmp_prefetch(p, page_array[i].page_base_addr, config.page_size, &err) < 0) {
			fail("umap_prefetch", &err);
			return;
		}
}

void umap_fetch_and_pin(char *paddr, uint64_t size)
{
	struct mmp_pager *p = get_pager();
	struct ob_err err = { 0 };

	if (p && mmp_fetch_and_pin(p, paddr, size, &err) < 0)
		fail("umap_fetch_and_pin", &err);
}

static const struct mmp_config *cfg(void)
{
	get_pager();
	return &config;
}

long umapcfg_get_system_page_size(void)
{
	return sysconf(_SC_PAGESIZE);
}

uint64_t umapcfg_get_umap_page_size(void)
{
	return cfg()->page_size;
}

uint64_t umapcfg_get_max_fault_events(void)
{
	return cfg()->max_fault_events;
}

uint64_t umapcfg_get_num_fillers(void)
{
	return cfg()->fillers;
}

uint64_t umapcfg_get_num_evictors(void)
{
	return cfg()->evictors;
}

uint64_t umapcfg_get_max_pages_in_buffer(void)
{
	return cfg()->buf_pages;
}

uint64_t umapcfg_get_read_ahead(void)
{
	return cfg()->read_ahead;
}

int umapcfg_get_evict_low_water_threshold(void)
{
	return (int)cfg()->low_water;
}

int umapcfg_get_evict_high_water_threshold(void)
{
	return (int)cfg()->high_water;
}
