// SPDX-License-Identifier: MIT
/* pager.c - configuration (UMap's variables and defaults), the pager's
 * life cycle, statistics and the log hook.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ob/err.h"
#include "mp-int.h"

int mp_unmap_all(struct mmp_pager *p);

static _Atomic(mmp_log_fn) log_fn;
static pid_t owner_pid;	/* one process owns pagers; see region.c on fork */

void mmp_set_log(mmp_log_fn fn)
{
	atomic_store(&log_fn, fn);
}

void mp_log(const char *fmt, ...)
{
	mmp_log_fn fn = atomic_load(&log_fn);
	char line[512];
	va_list ap;

	if (!fn)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fn(line);
}

/* ---- configuration ---------------------------------------------------- */

static uint64_t mem_free_bytes(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[128];
	uint64_t kb = 0;

	if (!f)
		return 1ull << 30;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemFree: %" SCNu64, &kb) == 1)
			break;
	fclose(f);
	return kb ? kb * 1024 : 1ull << 30;
}

void mmp_config_default(struct mmp_config *cfg)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	long sys_page = sysconf(_SC_PAGESIZE);

	*cfg = (struct mmp_config){
		.page_size = sys_page > 0 ? (uint64_t)sys_page : 4096,
		.fillers = cpus > 0 ? (unsigned)cpus : 16,
		.evictors = cpus > 0 ? (unsigned)cpus : 16,
		.high_water = 90,
		.low_water = 70,
		.max_fault_events = 256,
		.read_ahead = 0,
		.ptl = MMP_PTL_SPLIT,
	};
	cfg->buf_pages = mem_free_bytes() / cfg->page_size * 90 / 100;
}

/* UMap's reading of its variables: a number, where an unset, unparsable or
 * zero value means "the default". */
static bool env_u64(const char *name, uint64_t *out)
{
	const char *s = getenv(name);
	char *end;
	unsigned long long v;

	if (!s || !*s)
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || v == 0)
		return false;
	*out = v;
	return true;
}

int mmp_config_from_env(struct mmp_config *cfg, struct ob_err *err)
{
	uint64_t v;
	const char *ptl = getenv("MMPAGER_PTL");
	bool bufsize_set = env_u64("UMAP_BUFSIZE", &v);

	if (bufsize_set)
		cfg->buf_pages = v;
	if (env_u64("UMAP_PAGESIZE", &v)) {
		/* The default buffer is in pages of the default size: keep
		 * its bytes when only the page size changes. */
		if (!bufsize_set)
			cfg->buf_pages = cfg->buf_pages * cfg->page_size / v;
		cfg->page_size = v;
	}
	if (env_u64("UMAP_PAGE_FILLERS", &v))
		cfg->fillers = (unsigned)v;
	if (env_u64("UMAP_PAGE_EVICTORS", &v))
		cfg->evictors = (unsigned)v;
	if (env_u64("UMAP_EVICT_HIGH_WATER_THRESHOLD", &v))
		cfg->high_water = (unsigned)v;
	if (env_u64("UMAP_EVICT_LOW_WATER_THRESHOLD", &v))
		cfg->low_water = (unsigned)v;
	if (env_u64("UMAP_MAX_FAULT_EVENTS", &v))
		cfg->max_fault_events = (unsigned)v;
	if (env_u64("UMAP_READ_AHEAD", &v))
		cfg->read_ahead = (unsigned)v;
	if (env_u64("MMPAGER_PUBLISH", &v))
		cfg->publish = v == 1;
	if (ptl && *ptl) {
		if (!strcmp(ptl, "split"))
			cfg->ptl = MMP_PTL_SPLIT;
		else if (!strcmp(ptl, "global"))
			cfg->ptl = MMP_PTL_GLOBAL;
		else
			return ob_err_set(err, -EINVAL, "MMPAGER_PTL=%.32s: expected "
					  "\"split\" or \"global\"", ptl);
	}
	return mmp_config_check(cfg, err);
}

int mmp_config_check(const struct mmp_config *c, struct ob_err *err)
{
	if (c->page_size < 4096 || c->page_size > MP_HUGE_SIZE || c->page_size % 4096)
		return ob_err_set(err, -EINVAL, "page size %" PRIu64 " is not a multiple "
				  "of 4096 between 4 KiB and 2 MiB", c->page_size);
	if (!c->buf_pages)
		return ob_err_set(err, -EINVAL, "buffer of 0 pages");
	if (c->buf_pages > UINT64_MAX / c->page_size)
		return ob_err_set(err, -EINVAL, "buffer of %" PRIu64 " pages is too large",
				  c->buf_pages);
	if (!c->fillers || !c->evictors || c->fillers > 1024 || c->evictors > 1024)
		return ob_err_set(err, -EINVAL, "fillers (%u) and evictors (%u) must be "
				  "1..1024", c->fillers, c->evictors);
	if (c->high_water > 100 || c->low_water > c->high_water)
		return ob_err_set(err, -EINVAL, "water marks high %u%% low %u%%: need "
				  "low <= high <= 100", c->high_water, c->low_water);
	if (!c->max_fault_events || c->max_fault_events > 65536)
		return ob_err_set(err, -EINVAL, "max fault events %u: must be 1..65536",
				  c->max_fault_events);
	return 0;
}

/* ---- life cycle ------------------------------------------------------- */


int mp_pager_check_owner(struct mmp_pager *p, struct ob_err *err);

int mp_pager_check_owner(struct mmp_pager *p, struct ob_err *err)
{
	if (getpid() != owner_pid)
		return ob_err_set(err, -ECHILD, "this pager belongs to process %d: regions "
				  "and pager threads are not inherited across fork()",
				  (int)owner_pid);
	return 0;
}

static void pager_init_locks(struct mmp_pager *p)
{
	mp_rwlock_init(&p->regions_lock);
	mp_lock_init(&p->global_ptl);
	mp_lock_init(&p->buf_lock);
	mp_lock_init(&p->lru_lock);
	pthread_cond_init(&p->buf_space, NULL);
	pthread_cond_init(&p->buf_evict, NULL);
	pthread_mutex_init(&p->pub_mu, NULL);
}

void mmp_stat_path(int pid, char *buf, size_t len)
{
	snprintf(buf, len, "%s/mmpager.%d.stat", MMP_STAT_DIR, pid);
}

/* Write the statistics to a temporary name and rename it over the
 * published file, so a reader never sees half of them. */
static void publish_once(struct mmp_pager *p)
{
	char path[128], tmp[160], buf[4096];
	struct mmp_stats st;
	FILE *f;

	mmp_stats(p, &st);
	mmp_stats_format(&st, buf, sizeof(buf));
	mmp_stat_path((int)getpid(), path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	pthread_mutex_lock(&p->pub_mu);
	f = p->unpublished ? NULL : fopen(tmp, "we");
	if (f) {
		fputs(buf, f);
		if (fclose(f) == 0)
			rename(tmp, path);
		else
			unlink(tmp);
	}
	pthread_mutex_unlock(&p->pub_mu);
}

void mmp_pager_unpublish(struct mmp_pager *p)
{
	char path[128];

	pthread_mutex_lock(&p->pub_mu);
	if (p->has_publisher && !p->unpublished && getpid() == owner_pid) {
		mmp_stat_path((int)getpid(), path, sizeof(path));
		unlink(path);
	}
	p->unpublished = true;
	pthread_mutex_unlock(&p->pub_mu);
}

static void *publisher_main(void *arg)
{
	struct mmp_pager *p = arg;

	mp_lock(&p->buf_lock);
	while (!p->stopping) {
		mp_unlock(&p->buf_lock);
		publish_once(p);
		mp_lock(&p->buf_lock);
		if (!p->stopping)
			mp_cond_wait_ms(&p->buf_evict, &p->buf_lock.mu, 250);
	}
	mp_unlock(&p->buf_lock);
	return NULL;
}

static void pager_destroy(struct mmp_pager *p)
{
	mp_fillers_stop(p);
	mp_evictors_stop(p);	/* sets stopping: the publisher ends too */
	if (p->has_publisher) {
		pthread_join(p->publisher, NULL);
		mmp_pager_unpublish(p);
	}
	pthread_mutex_destroy(&p->pub_mu);
	if (p->uffd >= 0)
		close(p->uffd);
	if (p->stop_fd >= 0)
		close(p->stop_fd);
	mp_rwlock_destroy(&p->regions_lock);
	mp_lock_destroy(&p->global_ptl);
	mp_lock_destroy(&p->buf_lock);
	mp_lock_destroy(&p->lru_lock);
	pthread_cond_destroy(&p->buf_space);
	pthread_cond_destroy(&p->buf_evict);
	free(p->regions);
	free(p->lru);
	free(p);
}

int mmp_pager_new(const struct mmp_config *cfg, struct mmp_pager **out,
		  struct ob_err *err)
{
	struct mmp_pager *p;
	int rc = mmp_config_check(cfg, err);

	if (rc < 0)
		return rc;
	p = calloc(1, sizeof(*p));
	if (!p)
		return ob_err_set(err, -ENOMEM, "pager: out of memory");
	p->cfg = *cfg;
	p->uffd = p->stop_fd = -1;
	pager_init_locks(p);
	p->buf_bytes = cfg->buf_pages * cfg->page_size;
	p->high_bytes = p->buf_bytes / 100 * cfg->high_water;
	p->low_bytes = p->buf_bytes / 100 * cfg->low_water;
	owner_pid = getpid();

	rc = mp_uffd_open(&p->features, err);
	if (rc < 0)
		goto fail;
	p->uffd = rc;
	p->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->stop_fd < 0) {
		rc = ob_err_set(err, -errno, "pager: eventfd failed");
		goto fail;
	}
	rc = mp_evictors_start(p, err);
	if (rc == 0)
		rc = mp_fillers_start(p, err);
	if (rc == 0 && cfg->publish) {
		rc = -pthread_create(&p->publisher, NULL, publisher_main, p);
		p->has_publisher = rc == 0;
	}
	if (rc < 0) {
		ob_err_set(err, rc, "pager: cannot start %u fillers and %u evictors",
			   cfg->fillers, cfg->evictors);
		goto fail;
	}
	*out = p;
	return 0;
fail:
	pager_destroy(p);
	return rc;
}

void mmp_pager_free(struct mmp_pager *p)
{
	if (!p)
		return;
	if (getpid() == owner_pid)
		mp_unmap_all(p);
	pager_destroy(p);
}

void mmp_pager_config(const struct mmp_pager *p, struct mmp_config *cfg)
{
	*cfg = p->cfg;
}

/* ---- statistics ------------------------------------------------------- */

static void add_lock_stats(struct mmp_lock_stats *a, const struct mmp_lock_stats *b)
{
	a->locks += b->locks;
	a->acquisitions += b->acquisitions;
	a->contended += b->contended;
	a->wait_ns += b->wait_ns;
}

void mmp_stats(struct mmp_pager *p, struct mmp_stats *st)
{
	*st = (struct mmp_stats){
		.faults = atomic_load(&p->n_faults),
		.wp_faults = atomic_load(&p->n_wp),
		.fills = atomic_load(&p->n_fills),
		.zero_fills = atomic_load(&p->n_zero),
		.evictions = atomic_load(&p->n_evict),
		.writebacks = atomic_load(&p->n_wb),
		.bytes_read = atomic_load(&p->n_rd_bytes),
		.bytes_written = atomic_load(&p->n_wr_bytes),
		.store_errors = atomic_load(&p->n_store_err),
		.poisoned = atomic_load(&p->n_poison),
		.resident_bytes = atomic_load(&p->resident),
		.peak_resident_bytes = atomic_load(&p->peak),
		.buffer_bytes = p->buf_bytes,
		.ptl = p->cfg.ptl,
	};
	mp_rdlock(&p->regions_lock);
	st->regions = p->nregions;
	for (size_t i = 0; i < p->nregions; i++)
		mp_ptab_account(&p->regions[i]->pt, &st->table, &st->dir);
	mp_rwunlock(&p->regions_lock);
	mp_lock(&p->lru_lock);
	add_lock_stats(&st->table, &p->gone_table);
	add_lock_stats(&st->dir, &p->gone_dir);
	mp_unlock(&p->lru_lock);
	if (p->cfg.ptl == MMP_PTL_GLOBAL)
		mp_lock_account(&p->global_ptl, &st->table);
	mp_rwlock_account(&p->regions_lock, &st->regions_lock);
	mp_lock_account(&p->lru_lock, &st->lru);
}

static size_t put_lock(char *buf, size_t len, const char *name,
		       const struct mmp_lock_stats *l)
{
	int n = snprintf(buf, len, "%s_locks %" PRIu64 "\n%s_acquisitions %" PRIu64
			 "\n%s_contended %" PRIu64 "\n%s_wait_ns %" PRIu64 "\n",
			 name, l->locks, name, l->acquisitions, name, l->contended,
			 name, l->wait_ns);

	return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len;
}

void mmp_stats_format(const struct mmp_stats *st, char *buf, size_t len)
{
	size_t off = 0;
	int n;

	if (!len)
		return;
	n = snprintf(buf, len,
		     "ptl_mode %s\nregions %" PRIu64 "\nfaults %" PRIu64 "\nwp_faults %" PRIu64
		     "\nfills %" PRIu64 "\nzero_fills %" PRIu64 "\nevictions %" PRIu64
		     "\nwritebacks %" PRIu64 "\nbytes_read %" PRIu64 "\nbytes_written %" PRIu64
		     "\nstore_errors %" PRIu64 "\npoisoned %" PRIu64 "\nresident_bytes %" PRIu64
		     "\npeak_resident_bytes %" PRIu64 "\nbuffer_bytes %" PRIu64 "\n",
		     st->ptl == MMP_PTL_GLOBAL ? "global" : "split", st->regions, st->faults,
		     st->wp_faults, st->fills, st->zero_fills, st->evictions, st->writebacks,
		     st->bytes_read, st->bytes_written, st->store_errors, st->poisoned,
		     st->resident_bytes, st->peak_resident_bytes, st->buffer_bytes);
	off = n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
	off += put_lock(buf + off, len - off, "table_lock", &st->table);
	off += put_lock(buf + off, len - off, "dir_lock", &st->dir);
	off += put_lock(buf + off, len - off, "regions_lock", &st->regions_lock);
	put_lock(buf + off, len - off, "lru_lock", &st->lru);
}
