// SPDX-License-Identifier: MIT
/* test-pager.c - libmmpager against a model: random read, write, evict,
 * flush and prefetch sequences over every store and several page sizes,
 * with every page checked after each sequence; eviction write-back (the
 * file holds what was written); a store that fails gives SIGBUS; the
 * configuration from UMap's variables; refusals at map time. */
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "mmp-test.h"

#define RW (PROT_READ | PROT_WRITE)

/* Run nops random operations on region m (len bytes) against model. */
static void random_ops(struct mmp_pager *p, uint8_t *m, uint8_t *model, size_t len,
		       size_t psize, bool writable, long nops, uint64_t seed)
{
	struct ob_err err = { 0 };

	for (long i = 0; i < nops; i++) {
		size_t off = mt_rand(&seed) % len;
		unsigned op = mt_rand(&seed) % 100;

		if (op < 45 && writable) {
			uint8_t v = (uint8_t)mt_rand(&seed);

			m[off] = v;
			model[off] = v;
		} else if (op < 90) {
			if (m[off] != model[off])
				fail_msg("byte %zu: %u, model %u (op %ld)", off, m[off], model[off], i);
		} else if (op < 96) {
			size_t n = psize * (1 + mt_rand(&seed) % 4);

			off -= off % psize;
			if (off + n > len)
				n = len - off;
			if (mmp_evict(p, m + off, n, &err) < 0)
				fail_msg("evict: %s", err.msg);
		} else if (op < 98) {
			if (mmp_flush(p, &err) < 0)
				fail_msg("flush: %s", err.msg);
		} else {
			off -= off % psize;
			if (mmp_prefetch(p, m + off, psize < len - off ? psize : len - off, &err) < 0)
				fail_msg("prefetch: %s", err.msg);
		}
	}
	assert_memory_equal(m, model, len);
}

static void model_file(uint64_t psize, uint64_t buf_pages, enum mmp_ptl_mode ptl,
		       size_t npages, long nops)
{
	size_t len = npages * psize + 4096 * 3;	/* a partial last page */
	struct mmp_pager *p = mt_pager(psize, buf_pages, 2, 1, ptl);
	struct mmp_map_args a = { .len = len, .prot = RW };
	struct mmp_stats st;
	uint8_t *model, *back;
	void *m;
	int fd;

	if (!p)
		return;
	fd = mt_file(len, 11, (void **)&model);
	assert_int_equal(mmp_store_file(fd, &a.store, NULL), 0);
	assert_int_equal(mmp_map(p, &a, &m, NULL), 0);
	random_ops(p, m, model, len, psize, true, nops, psize ^ buf_pages);
	mmp_stats(p, &st);
	assert_true(st.wp_faults > 0);	/* read first, written later: dirty tracking */
	assert_true(st.writebacks > 0);
	assert_int_equal(mmp_unmap(p, m, len, NULL), 0);
	back = malloc(len);
	assert_int_equal(pread(fd, back, len, 0), (ssize_t)len);
	assert_memory_equal(back, model, len);
	free(back);
	free(model);
	close(fd);
	mmp_pager_free(p);
}

static void test_model_file_4k(void **s)
{
	model_file(4096, 16, MMP_PTL_SPLIT, 64, 10000);
}

static void test_model_file_16k_global(void **s)
{
	model_file(16384, 8, MMP_PTL_GLOBAL, 64, 10000);
}

static void test_model_file_64k(void **s)
{
	model_file(65536, 4, MMP_PTL_SPLIT, 32, 5000);
}

static void test_model_file_2m(void **s)
{
	model_file(2 << 20, 3, MMP_PTL_SPLIT, 5, 600);
}

static void test_model_zero(void **s)
{
	size_t len = 256 * 4096;
	struct mmp_pager *p = mt_pager(8192, 16, 2, 1, MMP_PTL_SPLIT);
	struct mmp_map_args a = { .len = len, .prot = RW };
	uint8_t *model = calloc(1, len);
	struct mmp_stats st;
	void *m;

	if (!p)
		return;
	assert_int_equal(mmp_store_zero(NULL, &a.store, NULL), 0);
	assert_int_equal(mmp_map(p, &a, &m, NULL), 0);
	random_ops(p, m, model, len, 8192, true, 10000, 3);
	mmp_stats(p, &st);
	assert_true(st.zero_fills > 0);
	assert_true(st.writebacks > 0);
	assert_int_equal(mmp_unmap(p, m, len, NULL), 0);
	free(model);
	mmp_pager_free(p);
}

static void test_model_snapshot(void **s)
{
	size_t len = 100 * 4096 + 123;
	uint8_t *snap = malloc(len);
	uint8_t *model = calloc(1, len + 4096);
	struct mmp_pager *p = mt_pager(4096, 8, 1, 1, MMP_PTL_SPLIT);
	struct mmp_map_args a = { .len = len + 4000, .prot = RW };
	struct ob_err err = { 0 };
	uint64_t seed = 17;
	void *m;

	if (!p)
		return;
	for (size_t i = 0; i < len; i++)
		snap[i] = model[i] = (uint8_t)mt_rand(&seed);
	assert_int_equal(mmp_store_snapshot(snap, len, &a.store, NULL), 0);
	/* read-only store: a writable mapping is refused, and says why */
	assert_int_equal(mmp_map(p, &a, &m, &err), -EROFS);
	assert_non_null(strstr(err.msg, "read-only"));
	a.prot = PROT_READ;
	assert_int_equal(mmp_map(p, &a, &m, NULL), 0);
	random_ops(p, m, model, a.len, 4096, false, 10000, 5);
	assert_int_equal(mmp_unmap(p, m, 0, NULL), 0);
	free(snap);
	free(model);
	mmp_pager_free(p);
}

static void test_model_sparse(void **s)
{
	char dir[] = "/tmp/mmp-sparse-XXXXXX";
	size_t len = 64 * 16384;
	struct mmp_pager *p = mt_pager(16384, 6, 2, 1, MMP_PTL_SPLIT);
	struct mmp_map_args a = { .len = len, .prot = RW };
	struct ob_err err = { 0 };
	uint8_t *model = calloc(1, len);
	struct stat sb;
	char path[64];
	void *m;
	int files = 0;

	if (!p)
		return;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(mmp_store_sparse(dir, 65536, true, &a.store, NULL), 0);
	assert_int_equal(mmp_map(p, &a, &m, NULL), 0);
	memset((uint8_t *)m + 5 * 65536 + 10, 0xab, 100);	/* one file only */
	memset(model + 5 * 65536 + 10, 0xab, 100);
	assert_int_equal(mmp_unmap(p, m, len, NULL), 0);
	for (int i = 0; i < 16; i++) {
		snprintf(path, sizeof(path), "%s/%d", dir, i);
		files += stat(path, &sb) == 0;
	}
	assert_int_equal(files, 1);	/* sparse: only the written file */

	/* reopened: the data is there; random work; reopened again */
	assert_int_equal(mmp_store_sparse(dir, 65536, true, &a.store, NULL), 0);
	assert_int_equal(mmp_map(p, &a, &m, NULL), 0);
	random_ops(p, m, model, len, 16384, true, 10000, 9);
	assert_int_equal(mmp_unmap(p, m, len, NULL), 0);
	assert_int_equal(mmp_store_sparse(dir, 65536, false, &a.store, NULL), 0);
	a.prot = PROT_READ;
	assert_int_equal(mmp_map(p, &a, &m, NULL), 0);
	assert_memory_equal(m, model, len);
	assert_int_equal(mmp_unmap(p, m, len, NULL), 0);
	/* another file size would read the wrong offsets: refused */
	assert_int_equal(mmp_store_sparse(dir, 8192, true, &a.store, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "65536"));
	mmp_pager_free(p);
	free(model);
	for (int i = 0; i < 16; i++) {
		snprintf(path, sizeof(path), "%s/%d", dir, i);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/mmpager-sparse", dir);
	unlink(path);
	rmdir(dir);
}

/* Writes to a file four times the buffer: while still mapped, the pages
 * the evictors dropped are in the file already; after unmap, all are. */
static void test_eviction_writeback(void **s)
{
	size_t npages = 128, len = npages * 4096;
	struct mmp_pager *p = mt_pager(4096, npages / 4, 1, 1, MMP_PTL_SPLIT);
	struct mmp_map_args a = { .len = len, .prot = RW };
	struct mmp_stats st;
	uint64_t *back, v;
	size_t in_file = 0;
	uint64_t *m;
	void *addr;
	int fd;

	if (!p)
		return;
	fd = mt_file(len, 0, NULL);
	assert_int_equal(mmp_store_file(fd, &a.store, NULL), 0);
	assert_int_equal(mmp_map(p, &a, &addr, NULL), 0);
	m = addr;
	for (size_t i = 0; i < npages; i++)
		for (size_t w = 0; w < 512; w += 64)
			m[i * 512 + w] = i * 1000 + w + 1;
	mmp_stats(p, &st);
	assert_true(st.peak_resident_bytes <= st.buffer_bytes);
	assert_true(st.writebacks >= npages - npages / 4);
	for (size_t i = 0; i < npages; i++) {
		assert_int_equal(pread(fd, &v, 8, (off_t)(i * 4096)), 8);
		in_file += v == i * 1000 + 1;
	}
	assert_true(in_file >= npages - npages / 4);
	assert_int_equal(mmp_unmap(p, addr, len, NULL), 0);
	back = malloc(len);
	assert_int_equal(pread(fd, back, len, 0), (ssize_t)len);
	for (size_t i = 0; i < npages; i++)
		for (size_t w = 0; w < 512; w++)
			assert_int_equal(back[i * 512 + w], w % 64 ? 0 : i * 1000 + w + 1);
	free(back);
	close(fd);
	mmp_pager_free(p);
}

/* A region of a length that is not a multiple of 4 KiB: write-back stops
 * at that length, so the file never grows. */
static void test_partial_page_length(void **s)
{
	struct mmp_pager *p = mt_pager(4096, 16, 1, 1, MMP_PTL_SPLIT);
	struct mmp_map_args a = { .len = 10000, .prot = RW };
	uint8_t *content, *m, back[10000];
	struct stat sb;
	void *addr;
	int fd;

	if (!p)
		return;
	fd = mt_file(10000, 8, (void **)&content);
	assert_int_equal(mmp_store_file(fd, &a.store, NULL), 0);
	assert_int_equal(mmp_map(p, &a, &addr, NULL), 0);
	m = addr;
	m[0] = content[0] = 1;
	m[9999] = content[9999] = 2;
	assert_int_equal(mmp_evict(p, m, 10000, NULL), 0);
	assert_int_equal(m[9999], 2);
	m[8192] = content[8192] = 3;
	assert_int_equal(mmp_unmap(p, addr, 10000, NULL), 0);
	assert_int_equal(fstat(fd, &sb), 0);
	assert_int_equal(sb.st_size, 10000);
	assert_int_equal(pread(fd, back, sizeof(back), 0), 10000);
	assert_memory_equal(back, content, 10000);
	free(content);
	close(fd);
	mmp_pager_free(p);
}

/* A store that cannot serve: the faulting thread gets SIGBUS (through
 * UFFDIO_POISON) and the log says why; no thread hangs. */
static int failing_read(struct mmp_store *st, void *buf, size_t len, uint64_t off)
{
	return off >= 8192 ? -EIO : (memset(buf, 7, len), 0);
}

static int failing_write(struct mmp_store *st, const void *buf, size_t len, uint64_t off)
{
	return -EIO;
}

static void failing_destroy(struct mmp_store *st)
{
	free(st);
}

static const struct mmp_store_ops failing_ops = {
	.read = failing_read, .write = failing_write, .destroy = failing_destroy,
};

static char logged[512];

static void log_to_buf(const char *line)
{
	snprintf(logged, sizeof(logged), "%s", line);
}

static void on_sigbus(int sig)
{
	_exit(strstr(logged, "poisoned") ? 42 : 43);
}

static void store_error_sigbus(bool poison)
{
	int status;
	pid_t pid;
	uint64_t f;

	if (mmp_uffd_features(&f, NULL) < 0)
		skip();
	pid = fork();
	if (pid == 0) {
		if (!poison)	/* as on a kernel before 6.6: tgkill(SIGBUS) */
			setenv("MMPAGER_NO_POISON", "1", 1);
		struct mmp_pager *p = mt_pager(4096, 16, 1, 1, MMP_PTL_SPLIT);
		struct mmp_store *st = calloc(1, sizeof(*st));
		struct mmp_map_args a = { .len = 16 * 4096, .prot = PROT_READ, .store = st };
		volatile uint8_t *m;
		void *addr;

		st->ops = &failing_ops;
		st->kind = "failing";
		mmp_set_log(log_to_buf);
		signal(SIGBUS, on_sigbus);
		if (mmp_map(p, &a, &addr, NULL) < 0)
			_exit(2);
		m = addr;
		if (m[0] != 7)
			_exit(3);
		(void)m[3 * 4096];	/* the store fails here */
		_exit(4);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 42);
}

static void test_store_error_sigbus(void **s)
{
	store_error_sigbus(true);
}

static void test_store_error_sigbus_before_poison(void **s)
{
	store_error_sigbus(false);
}

static void test_config_env(void **s)
{
	struct mmp_config c;
	struct ob_err err = { 0 };

	mmp_config_default(&c);
	assert_int_equal(c.high_water, 90);
	assert_int_equal(c.low_water, 70);
	assert_int_equal(c.max_fault_events, 256);
	assert_int_equal(c.read_ahead, 0);
	assert_int_equal(c.page_size, (uint64_t)sysconf(_SC_PAGESIZE));
	assert_int_equal(c.fillers, (unsigned)sysconf(_SC_NPROCESSORS_ONLN));
	setenv("UMAP_PAGESIZE", "65536", 1);
	setenv("UMAP_BUFSIZE", "123", 1);
	setenv("UMAP_PAGE_FILLERS", "3", 1);
	setenv("UMAP_PAGE_EVICTORS", "0", 1);	/* 0 keeps the default, as UMap */
	setenv("UMAP_EVICT_HIGH_WATER_THRESHOLD", "80", 1);
	setenv("UMAP_EVICT_LOW_WATER_THRESHOLD", "50", 1);
	setenv("UMAP_MAX_FAULT_EVENTS", "32", 1);
	setenv("UMAP_READ_AHEAD", "2", 1);
	setenv("MMPAGER_PTL", "global", 1);
	assert_int_equal(mmp_config_from_env(&c, &err), 0);
	assert_int_equal(c.page_size, 65536);
	assert_int_equal(c.buf_pages, 123);
	assert_int_equal(c.fillers, 3);
	assert_int_equal(c.evictors, (unsigned)sysconf(_SC_NPROCESSORS_ONLN));
	assert_int_equal(c.high_water, 80);
	assert_int_equal(c.low_water, 50);
	assert_int_equal(c.max_fault_events, 32);
	assert_int_equal(c.read_ahead, 2);
	assert_int_equal(c.ptl, MMP_PTL_GLOBAL);
	setenv("MMPAGER_PTL", "gobal", 1);
	assert_int_equal(mmp_config_from_env(&c, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "MMPAGER_PTL=gobal"));
	setenv("MMPAGER_PTL", "split", 1);
	setenv("UMAP_PAGESIZE", "5000", 1);
	assert_int_equal(mmp_config_from_env(&c, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "5000"));
	unsetenv("UMAP_PAGESIZE");
	unsetenv("UMAP_BUFSIZE");
	unsetenv("UMAP_PAGE_FILLERS");
	unsetenv("UMAP_PAGE_EVICTORS");
	unsetenv("UMAP_EVICT_HIGH_WATER_THRESHOLD");
	unsetenv("UMAP_EVICT_LOW_WATER_THRESHOLD");
	unsetenv("UMAP_MAX_FAULT_EVENTS");
	unsetenv("UMAP_READ_AHEAD");
	unsetenv("MMPAGER_PTL");
}

static void test_map_refusals(void **s)
{
	struct mmp_pager *p = mt_pager(4096, 16, 1, 1, MMP_PTL_SPLIT);
	struct mmp_map_args a = { .len = 4 * 4096, .prot = RW };
	struct ob_err err = { 0 };
	void *m, *m2;
	int fd;

	if (!p)
		return;
	fd = open("/etc/hostname", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(mmp_store_file(fd, &a.store, NULL), 0);
	assert_int_equal(mmp_map(p, &a, &m, &err), -EROFS);	/* O_RDONLY fd */
	a.prot = PROT_READ;
	a.offset = 100;
	assert_int_equal(mmp_map(p, &a, &m, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "offset 100"));
	a.offset = 0;
	assert_int_equal(mmp_map(p, &a, &m, NULL), 0);
	/* a fixed mapping over a mapped region is refused, not clobbered */
	assert_int_equal(mmp_store_file(fd, &a.store, NULL), 0);
	a.addr = (char *)m + 4096;
	a.flags = MMP_MAP_FIXED;
	assert_int_equal(mmp_map(p, &a, &m2, &err), -EEXIST);
	mmp_store_destroy(a.store);
	assert_int_equal(mmp_unmap(p, (char *)m + 4096, 0, &err), -EINVAL);
	assert_int_equal(mmp_unmap(p, m, 3 * 4096, &err), -EINVAL);
	assert_int_equal(mmp_unmap(p, m, 4 * 4096, NULL), 0);
	assert_int_equal(mmp_unmap(p, m, 4 * 4096, &err), -EINVAL);
	close(fd);
	mmp_pager_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model_file_4k),
		cmocka_unit_test(test_model_file_16k_global),
		cmocka_unit_test(test_model_file_64k),
		cmocka_unit_test(test_model_file_2m),
		cmocka_unit_test(test_model_zero),
		cmocka_unit_test(test_model_snapshot),
		cmocka_unit_test(test_model_sparse),
		cmocka_unit_test(test_eviction_writeback),
		cmocka_unit_test(test_partial_page_length),
		cmocka_unit_test(test_store_error_sigbus),
		cmocka_unit_test(test_store_error_sigbus_before_poison),
		cmocka_unit_test(test_config_env),
		cmocka_unit_test(test_map_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
