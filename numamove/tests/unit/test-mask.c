// SPDX-License-Identifier: MIT
/* test-mask.c - node lists and migrate_pages-style node remapping.
 *
 * Table-driven: every kernel list form we meet in sysfs, /proc and on the
 * command line, the malformed ones that must fail with a message, the
 * round trip through nm_mask_format, and the remap rules of
 * do_migrate_pages (spec 1.1).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "numamove.h"

static void test_parse_good(void **state)
{
	static const struct {
		const char *in, *canon;
		int weight;
	} cases[] = {
		{ "0", "0", 1 },
		{ "0-3", "0-3", 4 },
		{ "0-3,8", "0-3,8", 5 },
		{ "1,3-4", "1,3-4", 3 },
		{ "5,1,2", "1-2,5", 3 },
		{ "0-1\n", "0-1", 2 },
		{ " 2 ", "2", 1 },
		{ "", "", 0 },
		{ "\n", "", 0 },
		{ "63-64", "63-64", 2 },
		{ "1023", "1023", 1 },
		{ "0,0,0", "0", 1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct nm_mask m;
		struct ob_err err = { 0 };
		char buf[128];

		assert_int_equal(nm_mask_parse(cases[i].in, &m, &err), 0);
		assert_int_equal(nm_mask_weight(&m), cases[i].weight);
		assert_true(nm_mask_format(&m, buf, sizeof(buf)) >= 0);
		assert_string_equal(buf, cases[i].canon);
	}
}

static void test_parse_bad_names_the_input(void **state)
{
	static const char *const bad[] = { "a", "1-", "-1", "3-1", "1,,2", "1;2", "0x1", "99999",
					   "1 2", "1-2-3" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct nm_mask m;
		struct ob_err err = { 0 };
		int rc = nm_mask_parse(bad[i], &m, &err);

		assert_true(rc == -EINVAL || rc == -ERANGE);
		assert_int_equal(err.code, rc);
		assert_non_null(strstr(err.msg, bad[i]));
	}
}

static void test_format_too_small(void **state)
{
	struct nm_mask m;
	char buf[4];

	assert_int_equal(nm_mask_parse("0,2,4,6,8", &m, NULL), 0);
	assert_int_equal(nm_mask_format(&m, buf, sizeof(buf)), -ENOSPC);
}

static void test_set_ops(void **state)
{
	struct nm_mask a, b, c;
	char buf[64];

	nm_mask_parse("0-5", &a, NULL);
	nm_mask_parse("2,4,100", &b, NULL);
	nm_mask_andnot(&c, &a, &b);
	nm_mask_format(&c, buf, sizeof(buf));
	assert_string_equal(buf, "0-1,3,5");
	nm_mask_or(&c, &a, &b);
	nm_mask_format(&c, buf, sizeof(buf));
	assert_string_equal(buf, "0-5,100");
	nm_mask_and(&c, &a, &b);
	nm_mask_format(&c, buf, sizeof(buf));
	assert_string_equal(buf, "2,4");
	assert_true(nm_mask_subset(&c, &a));
	assert_false(nm_mask_subset(&b, &a));
	assert_int_equal(nm_mask_next(&b, 5), 100);
	assert_int_equal(nm_mask_next(&b, 101), -1);
}

/* map[] for from -> to as a string "s>d,..." of moved nodes. */
static void remap(const char *from, const char *to, char *out, size_t len)
{
	struct nm_mask f, t;
	int map[NM_MASK_BITS];
	size_t n = 0;

	nm_mask_parse(from, &f, NULL);
	nm_mask_parse(to, &t, NULL);
	assert_int_equal(nm_nodemap_build(&f, &t, map, NULL), 0);
	out[0] = '\0';
	for (int s = 0; s < 64; s++)
		if (map[s] >= 0)
			n += (size_t)snprintf(out + n, len - n, "%s%d>%d", n ? "," : "", s, map[s]);
}

static void test_nodemap_migrate_pages_semantics(void **state)
{
	static const struct {
		const char *from, *to, *map;
	} cases[] = {
		{ "0", "1", "0>1" },
		{ "1", "0", "1>0" },
		{ "0-1", "2-3", "0>2,1>3" },		/* relative layout kept */
		{ "2-3", "7,9", "2>7,3>9" },		/* the man page's example */
		{ "0-1", "1-2", "0>1,1>2" },		/* equal weights: overlap moves on */
		{ "0-2", "3", "0>3,1>3,2>3" },		/* many to one */
		{ "0", "1-2", "0>1" },			/* one to many: first target */
		{ "0-2", "2-3", "0>2,1>3" },		/* 2 stays: it is a target, weights differ */
		{ "0,3", "0,3", "" },			/* identity */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char got[128];

		remap(cases[i].from, cases[i].to, got, sizeof(got));
		assert_string_equal(got, cases[i].map);
	}
}

static void test_nodemap_empty_is_an_error(void **state)
{
	struct nm_mask f, t;
	struct ob_err err = { 0 };
	int map[NM_MASK_BITS];

	nm_mask_zero(&f);
	nm_mask_parse("1", &t, NULL);
	assert_int_equal(nm_nodemap_build(&f, &t, map, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "source"));
	assert_int_equal(nm_nodemap_build(&t, &f, map, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "target"));
}

static void test_policy_nodes(void **state)
{
	static const struct {
		const char *policy, *nodes;
		int named;
	} cases[] = {
		{ "default", "", 0 },
		{ "local", "", 0 },
		{ "bind:0", "0", 1 },
		{ "bind:0-1", "0-1", 1 },
		{ "bind=static:1", "1", 1 },
		{ "interleave:0,2", "0,2", 1 },
		{ "prefer:1", "1", 1 },
		{ "prefer (many):0-1", "0-1", 1 },
		{ "weighted interleave:0-3", "0-3", 1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct nm_mask m;
		char buf[64];

		assert_int_equal(nm_policy_nodes(cases[i].policy, &m), cases[i].named);
		nm_mask_format(&m, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].nodes);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad_names_the_input),
		cmocka_unit_test(test_format_too_small),
		cmocka_unit_test(test_set_ops),
		cmocka_unit_test(test_nodemap_migrate_pages_semantics),
		cmocka_unit_test(test_nodemap_empty_is_an_error),
		cmocka_unit_test(test_policy_nodes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
