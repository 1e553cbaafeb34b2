/* test-err.c - reasons, prefixes and the printed line format. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ob/err.h"
#include "ob/secmem.h"

static char captured[1024];

static void capture(const char *line)
{
	snprintf(captured, sizeof(captured), "%s", line);
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
		cmocka_unit_test(test_secure_alloc),
		cmocka_unit_test(test_secure_pool_reuse_and_count),
	};
	return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
