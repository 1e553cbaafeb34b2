// SPDX-License-Identifier: MIT
/* test-nodes.c - the host's node facts, read from a fake sysfs/procfs tree.
 *
 * nm_host.root points at a directory built here, so a four-node machine
 * with a memoryless CPU node, distances and balancing can be described on
 * the one-node CI machine.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "numamove.h"
#include "fake-tree.h"

static int setup(void **state)
{
	if (fake_tree_make("nodes"))
		return -1;
	fake_put("sys/devices/system/node/online", "0-3\n");
	fake_put("sys/devices/system/node/has_memory", "0-1,3\n");
	fake_put("sys/devices/system/node/node0/cpulist", "0-1\n");
	fake_put("sys/devices/system/node/node1/cpulist", "2-3\n");
	fake_put("sys/devices/system/node/node2/cpulist", "4\n");
	fake_put("sys/devices/system/node/node3/cpulist", "\n");
	fake_put("sys/devices/system/node/node0/distance", "10 20 20 30\n");
	fake_put("sys/devices/system/node/node1/distance", "20 10 30 20\n");
	fake_put("sys/devices/system/node/node0/meminfo",
	         "Node 0 MemTotal:         524288 kB\nNode 0 MemFree:          400000 kB\n"
	         "Node 0 MemUsed:          124288 kB\n");
	/* Node 1 as the two-node guest shows it (6.1): only DMA32 has memory;
	 * node 0 with a DMA zone whose reserve against higher zones hides it. */
	fake_put("proc/zoneinfo",
	         "Node 0, zone      DMA\n  per-node stats\n      nr_free_pages 99\n"
	         "  pages free     3000\n        boost    0\n        min      100\n"
	         "        low      125\n        high     150\n        managed  3900\n"
	         "        protection: (0, 1800, 1800, 1800, 1800)\n"
	         "Node 0, zone    DMA32\n  pages free     50000\n        boost    500\n"
	         "        min      5000\n        low      6000\n        high     7000\n"
	         "        protection: (0, 0, 0, 0, 0)\n      nr_free_pages 50000\n"
	         "Node 0, zone   Normal\n  pages free     0\n        min      0\n"
	         "        protection: (0, 0, 0, 0, 0)\n"
	         "Node 0, zone  Movable\n  pages free     0\n        min      0\n"
	         "        protection: (0, 0, 0, 0, 0)\n"
	         "Node 0, zone   Device\n  pages free     0\n        min      0\n"
	         "        protection: (0, 0, 0, 0, 0)\n"
	         "Node 1, zone      DMA\n  pages free     0\n        min      0\n"
	         "        protection: (0, 0, 0, 0, 0)\n"
	         "Node 1, zone    DMA32\n  pages free     20601\n        boost    0\n"
	         "        min      5686\n        low      7107\n        high     8528\n"
	         "        protection: (0, 0, 0, 0, 0)\n      nr_free_pages 20601\n"
	         "              high:  7107\n"
	         "Node 1, zone   Normal\n  pages free     0\n        min      0\n"
	         "        protection: (0, 0, 0, 0, 0)\n"
	         "Node 1, zone  Movable\n  pages free     0\n        min      0\n"
	         "        protection: (0, 0, 0, 0, 0)\n");
	fake_put("proc/sys/kernel/numa_balancing", "1\n");
	fake_put("proc/vmstat", "nr_free_pages 5\npgmigrate_success 16384\npgmigrate_fail 31\n");
	return 0;
}

static int teardown(void **state)
{
	return fake_tree_remove();
}

static void test_nodes_with_memory(void **state)
{
	struct nm_host h = { .root = fake_root };
	struct nm_mask m;
	char buf[32];

	assert_int_equal(nm_host_nodes(&h, &m, NULL), 0);
	nm_mask_format(&m, buf, sizeof(buf));
	assert_string_equal(buf, "0-1,3");
}

static void test_meminfo(void **state)
{
	struct nm_host h = { .root = fake_root };
	struct ob_err err = { 0 };
	uint64_t total, free_kb;

	assert_int_equal(nm_host_node_mem(&h, 0, &total, &free_kb, &err), 0);
	assert_int_equal(total, 524288);
	assert_int_equal(free_kb, 400000);
	assert_int_equal(nm_host_node_mem(&h, 9, &total, &free_kb, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "node 9"));
}

/* What a migration may take: free pages above min (+ boost) and the
 * zone's reserve against movable allocations, never MemFree. */
static void test_avail_is_free_above_the_min_watermark_and_reserve(void **state)
{
	struct nm_host h = { .root = fake_root };
	struct ob_err err = { 0 };
	uint64_t kb, page_kb = (uint64_t)sysconf(_SC_PAGESIZE) / 1024;

	assert_int_equal(nm_host_node_avail(&h, 1, &kb, &err), 0);
	assert_int_equal(kb, (20601 - 5686) * page_kb);
	/* DMA: 3000 - 100 - 1800; DMA32: 50000 - 5000 - 500. */
	assert_int_equal(nm_host_node_avail(&h, 0, &kb, &err), 0);
	assert_int_equal(kb, (1100 + 44500) * page_kb);
	assert_int_equal(nm_host_node_avail(&h, 5, &kb, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "node 5"));
}

static void test_cpus_to_nodes_includes_cpu_only_nodes(void **state)
{
	struct nm_host h = { .root = fake_root };
	struct nm_mask cpus, nodes;
	char buf[32];

	nm_mask_parse("1,4", &cpus, NULL);
	assert_int_equal(nm_host_cpus_to_nodes(&h, &cpus, &nodes, NULL), 0);
	nm_mask_format(&nodes, buf, sizeof(buf));
	assert_string_equal(buf, "0,2");
}

static void test_distance_row(void **state)
{
	struct nm_host h = { .root = fake_root };

	assert_int_equal(nm_host_distance(&h, 0, 0, NULL), 10);
	assert_int_equal(nm_host_distance(&h, 0, 3, NULL), 30);
	assert_int_equal(nm_host_distance(&h, 1, 3, NULL), 20);
	assert_int_equal(nm_host_distance(&h, 2, 0, NULL), -ENOENT);
}

static void test_balancing_and_vmstat(void **state)
{
	struct nm_host h = { .root = fake_root };
	uint64_t s, f;

	assert_int_equal(nm_host_numa_balancing(&h), 1);
	assert_int_equal(nm_host_vmstat_migrate(&h, &s, &f), 0);
	assert_int_equal(s, 16384);
	assert_int_equal(f, 31);
}

static void test_no_numa_kernel_is_one_node(void **state)
{
	struct nm_host h = { .root = "/nonexistent-root" };
	struct nm_mask m;

	assert_int_equal(nm_host_nodes(&h, &m, NULL), 0);
	assert_int_equal(nm_mask_weight(&m), 1);
	assert_true(nm_mask_isset(&m, 0));
	assert_int_equal(nm_host_numa_balancing(&h), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nodes_with_memory),
		cmocka_unit_test(test_meminfo),
		cmocka_unit_test(test_avail_is_free_above_the_min_watermark_and_reserve),
		cmocka_unit_test(test_cpus_to_nodes_includes_cpu_only_nodes),
		cmocka_unit_test(test_distance_row),
		cmocka_unit_test(test_balancing_and_vmstat),
		cmocka_unit_test(test_no_numa_kernel_is_one_node),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
