/* SPDX-License-Identifier: MIT */
/* test-wrapped-file.c - ecfs_wrapped_unwrap_file / ecfs_wrapped_rewrap_file:
 * a rewrap keeps the mount passphrase, the new password opens the file and
 * the old one no longer does, a wrong old password or a damaged file
 * changes nothing, and no temporary file is left beside it.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "ecfs.h"

#define MOUNT_PASS "5f3a9c1e7b2d4860a1c3e5f7092b4d6e"

struct fixture {
	char dir[64], path[96];
};

static int entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static void slurp(const char *path, uint8_t *buf, size_t *len)
{
	FILE *f = fopen(path, "rb");

	assert_non_null(f);
	*len = fread(buf, 1, 256, f);
	fclose(f);
}

static int setup(void **state)
{
	static const uint8_t salt[ECFS_SALT_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8};
	struct fixture *fx = calloc(1, sizeof(*fx));
	uint8_t out[ECFS_WRAPPED_MAX];
	size_t len;
	FILE *f;

	strcpy(fx->dir, "/tmp/test-wrapped-file.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->path, sizeof(fx->path), "%s/wrapped-passphrase", fx->dir);
	assert_int_equal(ecfs_wrapped_wrap(MOUNT_PASS, strlen(MOUNT_PASS), "old", 3, salt,
					   out, &len, NULL), 0);
	f = fopen(fx->path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(out, 1, len, f), len);
	fclose(f);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	if (system(cmd))
		return -1;
	free(fx);
	return 0;
}

static void test_rewrap_changes_the_password_only(void **state)
{
	struct fixture *fx = *state;
	char pass[ECFS_MAX_PASSPHRASE + 1];
	struct ob_err err = {0};
	struct stat st;

	assert_int_equal(ecfs_wrapped_rewrap_file(fx->path, "old", 3, "new password", 12,
						  ecfs_default_salt, &err), 0);
	assert_int_equal(ecfs_wrapped_unwrap_file(fx->path, "new password", 12,
						  ecfs_default_salt, pass, &err), 0);
	assert_string_equal(pass, MOUNT_PASS);
	assert_int_equal(ecfs_wrapped_unwrap_file(fx->path, "old", 3, ecfs_default_salt,
						  pass, &err), -EKEYREJECTED);
	assert_int_equal(stat(fx->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(entries(fx->dir), 1);
}

static void test_wrong_old_password_changes_nothing(void **state)
{
	struct fixture *fx = *state;
	uint8_t before[256], after[256];
	size_t lb, la;
	struct ob_err err = {0};

	slurp(fx->path, before, &lb);
	assert_int_equal(ecfs_wrapped_rewrap_file(fx->path, "not it", 6, "new", 3,
						  ecfs_default_salt, &err), -EKEYREJECTED);
	assert_non_null(strstr(err.msg, "signature mismatch"));
	slurp(fx->path, after, &la);
	assert_int_equal(la, lb);
	assert_memory_equal(after, before, lb);
	assert_int_equal(entries(fx->dir), 1);
}

static void test_damaged_or_missing_file(void **state)
{
	struct fixture *fx = *state;
	char pass[ECFS_MAX_PASSPHRASE + 1], missing[128];
	struct ob_err err = {0};
	FILE *f = fopen(fx->path, "wb");

	fputs("garbage, not a wrapped passphrase\n", f);
	fclose(f);
	assert_int_equal(ecfs_wrapped_rewrap_file(fx->path, "old", 3, "new", 3,
						  ecfs_default_salt, &err), -EINVAL);
	snprintf(missing, sizeof(missing), "%s/none", fx->dir);
	assert_int_equal(ecfs_wrapped_unwrap_file(missing, "old", 3, ecfs_default_salt,
						  pass, &err), -ENOENT);
	assert_non_null(strstr(err.msg, missing));
	assert_int_equal(entries(fx->dir), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rewrap_changes_the_password_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_old_password_changes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_or_missing_file, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
