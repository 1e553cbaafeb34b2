// SPDX-License-Identifier: MIT
/* test-scan.c - smaps and numa_maps parsing, and a real scan of ourselves.
 *
 * The parser cases are real lines from Debian 6.1 and 6.12 kernels,
 * including the policy spellings with spaces ("prefer (many):1",
 * "weighted interleave:0-1") and flags ("bind=static:0").  The last test
 * scans this very process on the one-node CI machine: a buffer we wrote
 * must be present, on node 0, exclusively ours, and [vdso] must be marked
 * special.  The lean scan (issue 21) reads a fake /proc/42.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "numamove.h"
#include "nm-int.h"
#include "fake-tree.h"

static const char smaps[] =
	"55d0c4a00000-55d0c4a02000 r--p 00000000 08:01 131090                     /usr/bin/cat\n"
	"Size:                  8 kB\n"
	"KernelPageSize:        4 kB\n"
	"Rss:                   8 kB\n"
	"VmFlags: rd mr mw me dw sd \n"
	"7f0000000000-7f0004000000 rw-p 00000000 00:00 0 \n"
	"Size:              65536 kB\n"
	"KernelPageSize:        4 kB\n"
	"Rss:               65536 kB\n"
	"Locked:            65536 kB\n"
	"VmFlags: rd wr mr mw me lo ac sd nh \n"
	"7f1000000000-7f1000400000 rw-p 00000000 00:0f 4242                       /anon_hugepage (deleted)\n"
	"Size:               4096 kB\n"
	"KernelPageSize:     2048 kB\n"
	"Rss:                   0 kB\n"
	"VmFlags: rd wr mr mw me de ht sd \n"
	"7f2000000000-7f2000001000 rw-s 00000000 00:01 77                         /dev/shm/x\n"
	"Size:                  4 kB\n"
	"KernelPageSize:        4 kB\n"
	"Rss:                   4 kB\n"
	"VmFlags: rd wr sh mr mw me ms sd \n"
	"7ffd1000000-7ffd1002000 r--p 00000000 00:00 0                          [vvar]\n"
	"KernelPageSize:        4 kB\n"
	"VmFlags: rd mr pf io de dd sd \n"
	"7ffd1002000-7ffd1004000 r-xp 00000000 00:00 0                          [vdso]\n"
	"KernelPageSize:        4 kB\n"
	"Rss:                   4 kB\n"
	"VmFlags: rd ex mr mw me de sd \n"
	"55d0c5000000-55d0c5021000 rw-p 00000000 00:00 0                          [heap]\n"
	"VmFlags: rd wr mr mw me ac sd \n";

static void test_smaps_flags_and_names(void **state)
{
	FILE *f = fmemopen((void *)smaps, sizeof(smaps) - 1, "r");
	struct nm_vma *v;
	size_t n;

	assert_non_null(f);
	assert_int_equal(nm_smaps_parse(f, &v, &n, NULL), 0);
	fclose(f);
	assert_int_equal(n, 7);
	assert_true(v[0].flags & NM_VMA_FILE);
	assert_string_equal(v[0].name, "/usr/bin/cat");
	assert_int_equal(v[0].start, 0x55d0c4a00000UL);
	assert_int_equal(v[1].flags & (NM_VMA_LOCKED | NM_VMA_NOHUGE), NM_VMA_LOCKED | NM_VMA_NOHUGE);
	assert_string_equal(v[1].name, "");
	assert_int_equal(v[1].rss_kb, 65536);
	assert_true(v[2].flags & NM_VMA_HUGETLB);
	assert_int_equal(v[2].pagesize, 2 << 20);
	assert_true(v[3].flags & NM_VMA_SHARED);
	assert_true(v[4].flags & NM_VMA_IO);
	assert_true(v[4].flags & NM_VMA_SPECIAL);
	assert_true(v[5].flags & NM_VMA_SPECIAL);
	assert_false(v[5].flags & NM_VMA_IO);
	assert_true(v[6].flags & NM_VMA_HEAP);
	assert_string_equal(v[0].policy, "?");
	nm_vmas_free(v, n);
}

static void test_numa_maps_lines(void **state)
{
	static const struct {
		const char *line;
		unsigned long start;
		const char *policy;
		uint64_t n0, n1, kps;
	} cases[] = {
		{ "7f0000000000 default anon=16384 dirty=16384 N0=16384 kernelpagesize_kB=4\n",
		  0x7f0000000000UL, "default", 16384, 0, 4096 },
		{ "7f4a10cb6000 bind:1 anon=17408 dirty=17408 active=0 N1=17408 kernelpagesize_kB=4",
		  0x7f4a10cb6000UL, "bind:1", 0, 17408, 4096 },
		{ "7f1000000000 prefer (many):0-1 file=/anon_hugepage\\040(deleted) huge dirty=2 "
		  "N0=1 N1=1 kernelpagesize_kB=2048", 0x7f1000000000UL, "prefer (many):0-1", 1, 1,
		  2 << 20 },
		{ "1000 weighted interleave:0-1 anon=3 N0=2 N1=1", 0x1000, "weighted interleave:0-1",
		  2, 1, 4096 },
		{ "2000 bind=static:0 heap anon=1 N0=1", 0x2000, "bind=static:0", 1, 0, 4096 },
		{ "3000 interleave:0-1 stack anon=4 N0=2 N1=2", 0x3000, "interleave:0-1", 2, 2,
		  4096 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		static uint64_t counts[NM_MASK_BITS];
		char policy[NM_POLICY_LEN];
		unsigned long start;
		uint64_t kps;

		memset(counts, 0, sizeof(counts));
		assert_int_equal(nm_numa_maps_line(cases[i].line, &start, policy, sizeof(policy),
						   counts, &kps), 0);
		assert_int_equal(start, cases[i].start);
		assert_string_equal(policy, cases[i].policy);
		assert_int_equal(counts[0], cases[i].n0);
		assert_int_equal(counts[1], cases[i].n1);
		assert_int_equal(kps, cases[i].kps);
	}
	{
		unsigned long start;

		assert_int_equal(nm_numa_maps_line("zz default", &start, NULL, 0, NULL, NULL),
				 -EINVAL);
	}
}

static void test_numa_maps_merge_by_address(void **state)
{
	static const char nm[] =
		"55d0c4a00000 default file=/usr/bin/cat mapped=2 N0=2 kernelpagesize_kB=4\n"
		"7f0000000000 bind:0 anon=16384 dirty=16384 N0=16000 N1=384 kernelpagesize_kB=4\n"
		"7f2000000000 default file=/dev/shm/x dirty=1 mapmax=2 N0=1 kernelpagesize_kB=4\n";
	FILE *f = fmemopen((void *)smaps, sizeof(smaps) - 1, "r");
	struct nm_vma *v;
	size_t n;

	assert_int_equal(nm_smaps_parse(f, &v, &n, NULL), 0);
	fclose(f);
	f = fmemopen((void *)nm, sizeof(nm) - 1, "r");
	assert_int_equal(nm_numa_maps_parse(f, v, n, NULL), 0);
	fclose(f);
	assert_string_equal(v[0].policy, "default");
	assert_int_equal(v[0].nm_pages, 2);
	assert_string_equal(v[1].policy, "bind:0");
	assert_int_equal(v[1].nm_pages, 16384);
	assert_string_equal(v[2].policy, "?");	/* no numa_maps line */
	assert_int_equal(v[3].nm_pages, 1);
	nm_vmas_free(v, n);
}

static void test_scan_self_finds_our_buffer_on_node0(void **state)
{
	struct nm_host h = { .root = "" };
	size_t len = 1 << 20, found = 0;
	struct nm_proc p;
	struct ob_err err = { 0 };
	char *buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bool vdso = false;

	assert_true(buf != MAP_FAILED);
	madvise(buf, len, MADV_NOHUGEPAGE);
	memset(buf, 1, len);
	assert_int_equal(nm_proc_open(&p, &h, getpid(), &err), 0);
	assert_int_equal(nm_proc_scan_pages(&p, &h, &nm_sys_default, &err), 0);
	for (size_t i = 0; i < p.nr_pages; i++) {
		const struct nm_page *pg = &p.pages[i];

		if (pg->addr < (unsigned long)buf || pg->addr >= (unsigned long)buf + len)
			continue;
		found++;
		assert_int_equal(pg->node, 0);
		assert_true(pg->pm & NM_PM_PRESENT);
		assert_true(pg->pm & NM_PM_EXCLUSIVE);
	}
	for (size_t i = 0; i < p.nr_vmas; i++)
		if (p.vmas[i].name && !strcmp(p.vmas[i].name, "[vdso]"))
			vdso = p.vmas[i].flags & NM_VMA_SPECIAL;
	assert_int_equal(found, len / 4096);
	assert_true(vdso);
	assert_true(nm_mask_isset(&p.mems_allowed, 0));
	nm_proc_close(&p);
	munmap(buf, len);
}

static void test_open_missing_process(void **state)
{
	struct nm_host h = { .root = "" };
	struct nm_proc p;
	struct ob_err err = { 0 };

	assert_int_equal(nm_proc_open(&p, &h, 0x3ffffffe, &err), -ESRCH);
	assert_non_null(strstr(err.msg, "no process"));
}

/* A process of three mappings, one bound to node 0, as the fake tree's
 * /proc/42 shows it; status_extra goes into status (HugetlbPages), big adds
 * a mapping too large to walk. */
static void fake_process(const char *status_extra, bool big)
{
	char status[256];

	snprintf(status, sizeof(status), "Name:\tfake\nUid:\t0\t0\t0\t0\n%s"
		 "Mems_allowed_list:\t0-1\nCpus_allowed_list:\t0-1\n", status_extra);
	fake_put("proc/42/status", status);
	fake_put("proc/42/stat", "42 (fake) S 1 42 42 0 -1\n");
	fake_put("proc/42/maps",
		 big ? "00010000-00011000 rw-p 00000000 00:00 0 \n"
		       "00020000-00022000 rw-p 00000000 00:00 0 \n"
		       "1000000000-3000000000 ---p 00000000 00:00 0 \n"
		     : "00010000-00011000 rw-p 00000000 00:00 0 \n"
		       "00020000-00022000 rw-p 00000000 00:00 0 \n"
		       "00030000-00031000 r--p 00000000 08:01 12     /usr/lib/x\n");
	fake_put("proc/42/numa_maps",
		 "00010000 bind:0 anon=1 dirty=1 N0=1 kernelpagesize_kB=4\n"
		 "00020000 default anon=2 dirty=2 N1=2 kernelpagesize_kB=4\n"
		 "00030000 default file=/usr/lib/x mapped=1 N0=1 kernelpagesize_kB=4\n"
		 "1000000000 default\n");
}

/* Is the scan of /proc/42 lean with this limit?  Fails the test on error. */
static bool open_is_lean(size_t numa_maps_max, char *policy0, size_t len)
{
	struct nm_host h = { .root = fake_root };
	struct nm_mask from;
	struct nm_proc p;
	struct ob_err err = { 0 };
	bool lean;

	assert_int_equal(nm_proc_open_lean(&p, &h, 42, numa_maps_max, &err), 0);
	lean = p.lean;
	snprintf(policy0, len, "%s", p.vmas[0].policy);
	nm_mask_zero(&from);
	nm_mask_set(&from, 0);
	assert_int_equal(nm_policy_points_back(&p, &from), lean ? 0 : 1);
	nm_proc_close(&p);
	return lean;
}

static void test_lean_open_leaves_numa_maps_out_above_the_limit(void **state)
{
	char pol[NM_POLICY_LEN];

	fake_process("HugetlbPages:\t       0 kB\n", false);
	assert_true(open_is_lean(2, pol, sizeof(pol)));
	assert_string_equal(pol, "?");		/* unknown, not "default" */
	assert_false(open_is_lean(3, pol, sizeof(pol)));
	assert_string_equal(pol, "bind:0");
	assert_false(open_is_lean(0, pol, sizeof(pol)));	/* 0: always read */
	assert_string_equal(pol, "bind:0");
}

static void test_lean_open_reads_numa_maps_when_only_it_can_say(void **state)
{
	char pol[NM_POLICY_LEN];

	/* Huge page sizes are only in numa_maps (or smaps). */
	fake_process("HugetlbPages:\t    2048 kB\n", false);
	assert_false(open_is_lean(1, pol, sizeof(pol)));
	/* A kernel that does not say whether hugetlb pages are mapped. */
	fake_process("", false);
	assert_false(open_is_lean(1, pol, sizeof(pol)));
	/* A mapping too large to walk is reported with numa_maps' count. */
	fake_process("HugetlbPages:\t       0 kB\n", true);
	assert_false(open_is_lean(1, pol, sizeof(pol)));
	assert_string_equal(pol, "bind:0");
}

/* The verification's second look after a lean scan (nm_proc_reopen). */
static void test_lean_second_look_reuses_the_mappings_until_hugetlb_appears(void **state)
{
	struct nm_host h = { .root = fake_root };
	struct nm_proc p, again;
	struct ob_err err = { 0 };

	fake_process("HugetlbPages:\t       0 kB\n", false);
	assert_int_equal(nm_proc_open_lean(&p, &h, 42, 1, &err), 0);
	assert_true(p.lean);
	/* maps is not read again: a mapping that appears now is not seen. */
	fake_put("proc/42/maps", "00010000-00011000 rw-p 00000000 00:00 0 \n");
	assert_int_equal(nm_proc_reopen(&again, &p, &h, false, &err), 0);
	assert_true(again.lean);
	assert_int_equal(again.nr_vmas, 3);
	assert_string_equal(again.vmas[2].name, "/usr/lib/x");
	nm_proc_close(&again);
	/* Huge pages mapped since: their size must come from numa_maps. */
	fake_process("HugetlbPages:\t    2048 kB\n", false);
	assert_int_equal(nm_proc_reopen(&again, &p, &h, false, &err), 0);
	assert_false(again.lean);
	assert_string_equal(again.vmas[0].policy, "bind:0");
	nm_proc_close(&again);
	/* A target that died in between is gone, not empty. */
	fake_put("proc/42/stat", "42 (fake) Z 1 42 42 0 -1\n");
	assert_int_equal(nm_proc_reopen(&again, &p, &h, false, &err), -ESRCH);
	nm_proc_close(&p);
}

static int group_setup(void **state)
{
	return fake_tree_make("scan");
}

static int group_teardown(void **state)
{
	return fake_tree_remove();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_smaps_flags_and_names),
		cmocka_unit_test(test_numa_maps_lines),
		cmocka_unit_test(test_numa_maps_merge_by_address),
		cmocka_unit_test(test_scan_self_finds_our_buffer_on_node0),
		cmocka_unit_test(test_open_missing_process),
		cmocka_unit_test(test_lean_open_leaves_numa_maps_out_above_the_limit),
		cmocka_unit_test(test_lean_open_reads_numa_maps_when_only_it_can_say),
		cmocka_unit_test(test_lean_second_look_reuses_the_mappings_until_hugetlb_appears),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
