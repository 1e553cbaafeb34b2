/* test-err.c - reasons, prefixes and the printed line format. */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ob/err.h"
#include "ob/secmem.h"

static char captured[8192];

static void capture(const char *line)
{
	snprintf(captured, sizeof(captured), "%s", line);
}

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), t = strlen(tail);

	return n >= t && !strcmp(s + n - t, tail);
}

/* A path longer than any line buffer: the reason still ends the line. */
static void test_long_object_keeps_reason(void **state)
{
	char object[5000], small[10];
	struct ob_err e = {0};

	memset(object, 'd', sizeof(object) - 1);
	object[sizeof(object) - 1] = '\0';
	for (size_t i = 100; i < sizeof(object) - 1; i += 100)
		object[i] = '/';
	ob_err_set(&e, -EIO, "bad marker (expected 3c81b7f5, got 00000000)");
	ob_err_sink = capture;
	ob_err_print("ecfs", object, &e);
	assert_int_equal(strlen(captured), strlen("ecfs: ") + strlen(object) +
			 strlen(": bad marker (expected 3c81b7f5, got 00000000): Input/output error"));
	assert_true(ends_with(captured, ": bad marker (expected 3c81b7f5, got 00000000): "
			      "Input/output error"));
	/* ob_err_format() says how long the whole line is, as snprintf. */
	assert_int_equal(ob_err_format(small, sizeof(small), "ecfs", object, &e),
			 strlen(captured));
	assert_string_equal(small, "ecfs: ddd");
}

/* Prefixes that do not fit are cut, never the reason under them. */
static void test_long_prefix_keeps_reason(void **state)
{
	char prefix[600];
	struct ob_err e = {0};

	memset(prefix, 'p', sizeof(prefix) - 1);
	prefix[sizeof(prefix) - 1] = '\0';
	ob_err_set(&e, -EIO, "extent 3 is short");
	ob_err_prefix(&e, "%s", prefix);
	assert_int_equal(strlen(e.msg), OB_ERR_MSG - 1);
	assert_true(ends_with(e.msg, "...: extent 3 is short"));
	assert_int_equal(e.code, -EIO);
	ob_err_prefix(&e, "%s", prefix);	/* again: still there */
	assert_true(ends_with(e.msg, "...: extent 3 is short"));
	memset(e.msg, 'r', OB_ERR_MSG - 1);	/* a reason that fills it all */
	e.msg[OB_ERR_MSG - 1] = '\0';
	ob_err_prefix(&e, "more");
	assert_int_equal(strlen(e.msg), OB_ERR_MSG - 1);
	assert_int_equal(e.msg[0], 'r');
}

static void test_set_returns_code(void **state)
{
	struct ob_err e = {0};

	assert_int_equal(ob_err_set(&e, -EINVAL, "bad marker (expected %08x, got %08x)",
				    0x3c81b7f5u, 0u), -EINVAL);
	assert_string_equal(e.msg, "bad marker (expected 3c81b7f5, got 00000000)");
	assert_int_equal(ob_err_set(NULL, -EIO, "x"), -EIO);
}

static void test_prefix_and_print(void **state)
{
	struct ob_err e = {0};

	ob_err_set(&e, -EIO, "extent 3 is short");
	ob_err_prefix(&e, "decrypt");
	ob_err_sink = capture;
	ob_err_print("ecfs", "lower/a.bin", &e);
	assert_string_equal(captured,
		"ecfs: lower/a.bin: decrypt: extent 3 is short: Input/output error");
	ob_err_clear(&e);
	ob_err_print("ecfs", NULL, &e);
	assert_string_equal(captured, "ecfs");
}

static void test_strerror_not_repeated(void **state)
{
	struct ob_err e = {0};

	ob_err_set(&e, -ENOENT, "open: No such file or directory");
	ob_err_sink = capture;
	ob_err_print("ecfs", "f", &e);
	assert_string_equal(captured, "ecfs: f: open: No such file or directory");
}

static void test_secure_alloc(void **state)
{
	uint8_t *p = ob_secure_alloc(100);
	uint8_t zero[100] = {0};

	assert_non_null(p);
	assert_memory_equal(p, zero, sizeof(zero));
	memset(p, 0xab, 100);
	assert_int_equal(ob_ct_memcmp(p, p, 100), 0);
	assert_int_not_equal(ob_ct_memcmp(p, zero, 100), 0);
	ob_secure_free(p);
	ob_secure_free(NULL);
}

static void test_secure_pool_reuse_and_count(void **state)
{
	long base = ob_secure_live();
	uint8_t *a = ob_secure_alloc(100), *b, *big = ob_secure_alloc(100000);
	uint8_t zero[128] = {0};

	assert_non_null(a);
	assert_non_null(big);
	assert_int_equal(ob_secure_live(), base + 2);
	memset(a, 0x77, 100);
	big[99999] = 1;
	ob_secure_free(a);
	b = ob_secure_alloc(120);		/* same class: the wiped chunk again */
	assert_ptr_equal(a, b);
	assert_memory_equal(b, zero, 128);
	ob_secure_free(b);
	ob_secure_free(big);
	assert_int_equal(ob_secure_live(), base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_returns_code),
		cmocka_unit_test(test_prefix_and_print),
		cmocka_unit_test(test_strerror_not_repeated),
		cmocka_unit_test(test_long_object_keeps_reason),
		cmocka_unit_test(test_long_prefix_keeps_reason),
		cmocka_unit_test(test_secure_alloc),
		cmocka_unit_test(test_secure_pool_reuse_and_count),
	};
	return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
