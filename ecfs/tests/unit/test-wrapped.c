// SPDX-License-Identifier: MIT
/* test-wrapped.c - wrapped-passphrase files v1/v2: version detection,
 * ecryptfs-utils vectors, wrap/unwrap round trips, bad files, and the files
 * of corpus case e-private-wrapped (written by ecryptfs-utils 111).
 *
 * Vectors: spec §14.4 (ecryptfs-utils 106 tests/userspace/
 * v1-to-v2-wrapped-passphrase/wpNN, all v1) and the spec's model v2 file.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "ecfs.h"

static size_t unhex(const char *hex, uint8_t *out)
{
	size_t n = 0;

	for (; hex[0] && hex[1]; hex += 2) {
		while (*hex == ' ')
			hex++;
		sscanf(hex, "%2hhx", &out[n++]);
	}
	return n;
}

static const uint8_t salt_0123[8] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
static const uint8_t salt_model[8] = {1, 2, 3, 4, 5, 6, 7, 8};

#define WP01 "36656535313736316439313031396537 b13ab36766a41b1ae37c07ba48465d94"
#define WP04 "33303862376563363563363964653662 2479add8d3417ce636a316c7bfc02ac9"
#define WP05 "62656639343537653437343061383535 cfb39b273936340fb9f71318ac89be70"
#define V2_MODEL "3a02 0102030405060708 39633937666635316363303332373539" \
		 "89835a3cd5f636018e823e44684ac586"

static int unwrap_hex(const char *hex, const char *wrap_pass,
		      const uint8_t *salt, char pass[ECFS_MAX_PASSPHRASE + 1],
		      struct ob_err *e)
{
	uint8_t buf[128];
	size_t n = unhex(hex, buf);

	return ecfs_wrapped_unwrap(buf, n, wrap_pass, strlen(wrap_pass), salt,
				   pass, e);
}

static void test_version(void **state)
{
	uint8_t buf[128];
	struct ob_err e = {0};
	size_t n;

	n = unhex(WP01, buf);
	assert_int_equal(ecfs_wrapped_version(buf, n, &e), 1);
	n = unhex(V2_MODEL, buf);
	assert_int_equal(ecfs_wrapped_version(buf, n, &e), 2);
	buf[1] = 3;
	assert_int_equal(ecfs_wrapped_version(buf, n, &e), -ENOTSUP);
	buf[1] = 1;
	assert_int_equal(ecfs_wrapped_version(buf, n, &e), -ENOTSUP);
	/* Fewer than 16 bytes: invalid whatever they are. */
	assert_int_equal(ecfs_wrapped_version(buf, 15, &e), -EINVAL);
	assert_int_equal(ecfs_wrapped_version(buf, 0, &e), -EINVAL);
	/* No ':' and not 16 hex digits. */
	n = unhex(WP01, buf);
	buf[15] = 'g';
	assert_int_equal(ecfs_wrapped_version(buf, n, &e), -EINVAL);
	memcpy(buf, "ABCDEF0123456789", 16);	/* upper case is still hex */
	assert_int_equal(ecfs_wrapped_version(buf, n, &e), 1);
}

static void test_v1_vectors(void **state)
{
	char pass[ECFS_MAX_PASSPHRASE + 1];
	struct ob_err e = {0};

	assert_int_equal(unwrap_hex(WP01, "Wrapping pass", ecfs_default_salt, pass, &e), 0);
	assert_string_equal(pass, "This is test #1");
	/* NULL = the default salt. */
	memset(pass, 'x', sizeof(pass));
	assert_int_equal(unwrap_hex(WP01, "Wrapping pass", NULL, pass, &e), 0);
	assert_string_equal(pass, "This is test #1");
	assert_int_equal(unwrap_hex(WP04, "*", ecfs_default_salt, pass, &e), 0);
	assert_string_equal(pass, "!");
	assert_int_equal(unwrap_hex(WP05, "*", salt_0123, pass, &e), 0);
	assert_string_equal(pass, "!");
	/* wp05 under the default salt: wrong key, not garbage. */
	assert_int_equal(unwrap_hex(WP05, "*", NULL, pass, &e), -EKEYREJECTED);
}

static void test_v2_model_vector(void **state)
{
	char pass[ECFS_MAX_PASSPHRASE + 1];
	uint8_t want[128], out[ECFS_WRAPPED_MAX];
	size_t n = unhex(V2_MODEL, want), out_len = 0;
	struct ob_err e = {0};

	/* v2 carries its own salt: the v1 salt argument is ignored. */
	assert_int_equal(unwrap_hex(V2_MODEL, "Wrapping pass", salt_0123, pass, &e), 0);
	assert_string_equal(pass, "This is test #1");
	assert_int_equal(ecfs_wrapped_wrap("This is test #1", 15, "Wrapping pass", 13,
					   salt_model, out, &out_len, &e), 0);
	assert_int_equal(out_len, n);
	assert_memory_equal(out, want, n);
}

static void test_v2_roundtrip_lengths(void **state)
{
	static const size_t lens[] = {1, 15, 16, 17, 31, 32, 33, 48, 63, 64};
	char src[ECFS_MAX_PASSPHRASE], pass[ECFS_MAX_PASSPHRASE + 1];
	uint8_t out[ECFS_WRAPPED_MAX];
	struct ob_err e = {0};

	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (char)('!' + i % 90);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t out_len = 0, ct = (lens[i] + 15) / 16 * 16;

		assert_int_equal(ecfs_wrapped_wrap(src, lens[i], "login", 5,
						   salt_0123, out, &out_len, &e), 0);
		/* Zero padding, no extra block when already whole. */
		assert_int_equal(out_len, 26 + ct);
		assert_int_equal(out[0], ':');
		assert_int_equal(out[1], 2);
		assert_memory_equal(out + 2, salt_0123, 8);
		assert_int_equal(ecfs_wrapped_version(out, out_len, &e), 2);
		assert_int_equal(ecfs_wrapped_unwrap(out, out_len, "login", 5, NULL,
						     pass, &e), 0);
		assert_int_equal(strlen(pass), lens[i]);
		assert_memory_equal(pass, src, lens[i]);
	}
}

/* 64 x 'a' wrapped by 64 x 'z' is four identical ECB blocks (wp02). */
static void test_v2_ecb_blocks(void **state)
{
	char a[64], z[64], pass[ECFS_MAX_PASSPHRASE + 1];
	uint8_t out[ECFS_WRAPPED_MAX];
	size_t out_len = 0;

	memset(a, 'a', sizeof(a));
	memset(z, 'z', sizeof(z));
	assert_int_equal(ecfs_wrapped_wrap(a, 64, z, 64, ecfs_default_salt, out,
					   &out_len, NULL), 0);
	assert_int_equal(out_len, 90);
	for (int b = 1; b < 4; b++)
		assert_memory_equal(out + 26, out + 26 + 16 * b, 16);
	assert_int_equal(ecfs_wrapped_unwrap(out, out_len, z, 64, NULL, pass, NULL), 0);
	assert_int_equal(strlen(pass), 64);
}

static void test_wrong_passphrase(void **state)
{
	char pass[ECFS_MAX_PASSPHRASE + 1];
	uint8_t out[ECFS_WRAPPED_MAX];
	size_t out_len = 0;
	struct ob_err e = {0};

	assert_int_equal(unwrap_hex(WP01, "Wrapping pasS", NULL, pass, &e), -EKEYREJECTED);
	assert_int_equal(e.code, -EKEYREJECTED);
	assert_null(strstr(e.msg, "Wrapping"));
	assert_int_equal(unwrap_hex(V2_MODEL, "wrong", NULL, pass, &e), -EKEYREJECTED);
	assert_int_equal(ecfs_wrapped_wrap("secret", 6, "right", 5, salt_0123, out,
					   &out_len, &e), 0);
	assert_int_equal(ecfs_wrapped_unwrap(out, out_len, "righ", 4, NULL, pass, &e),
			 -EKEYREJECTED);
	/* A damaged signature is a wrong key too, as for ecryptfs-utils. */
	out[10] ^= 1;
	assert_int_equal(ecfs_wrapped_unwrap(out, out_len, "right", 5, NULL, pass, &e),
			 -EKEYREJECTED);
}

static void test_bad_files(void **state)
{
	char pass[ECFS_MAX_PASSPHRASE + 1];
	uint8_t v2[ECFS_WRAPPED_MAX], buf[128];
	size_t v2_len = 0, n;
	struct ob_err e = {0};

	assert_int_equal(ecfs_wrapped_wrap("This is test #1", 15, "Wrapping pass", 13,
					   salt_model, v2, &v2_len, &e), 0);
	/* Truncated v2: inside the head, at the end of the head, mid-block. */
	for (size_t len = 0; len < v2_len; len++)
		assert_int_equal(ecfs_wrapped_unwrap(v2, len, "Wrapping pass", 13,
						     NULL, pass, &e), -EINVAL);
	/* Truncated v1: signature only, half a block. */
	n = unhex(WP01, buf);
	assert_int_equal(ecfs_wrapped_unwrap(buf, 16, "Wrapping pass", 13, NULL,
					     pass, &e), -EINVAL);
	assert_int_equal(ecfs_wrapped_unwrap(buf, n - 8, "Wrapping pass", 13, NULL,
					     pass, &e), -EINVAL);
	/* Garbage. */
	memset(buf, 0xa5, sizeof(buf));
	assert_int_equal(ecfs_wrapped_unwrap(buf, 58, "x", 1, NULL, pass, &e), -EINVAL);
	/* Version ':' 0x03. */
	v2[1] = 3;
	assert_int_equal(ecfs_wrapped_unwrap(v2, v2_len, "Wrapping pass", 13, NULL,
					     pass, &e), -ENOTSUP);
	/* Empty or over-long wrapping passphrase. */
	v2[1] = 2;
	assert_int_equal(ecfs_wrapped_unwrap(v2, v2_len, "", 0, NULL, pass, &e), -EINVAL);
}

/* Like ecryptfs-utils: at most 64 ciphertext bytes are read, and the
 * passphrase ends at the first NUL of the plaintext. */
static void test_trailing_bytes_ignored(void **state)
{
	char pass[ECFS_MAX_PASSPHRASE + 1];
	uint8_t buf[200];
	size_t n = unhex(WP01, buf);

	memcpy(buf + n, buf + 16, 16);		/* a second block */
	assert_int_equal(ecfs_wrapped_unwrap(buf, n + 16, "Wrapping pass", 13,
					     NULL, pass, NULL), 0);
	assert_string_equal(pass, "This is test #1");
	memset(buf + n + 16, 0x33, 100);	/* more than 64 bytes in all */
	assert_int_equal(ecfs_wrapped_unwrap(buf, n + 116, "Wrapping pass", 13,
					     NULL, pass, NULL), 0);
	assert_string_equal(pass, "This is test #1");
}

static void test_wrap_refuses(void **state)
{
	char big[80];
	uint8_t out[ECFS_WRAPPED_MAX];
	size_t out_len = 0;
	struct ob_err e = {0};

	memset(big, 'p', sizeof(big));
	assert_int_equal(ecfs_wrapped_wrap(big, 0, "w", 1, salt_0123, out, &out_len, &e),
			 -EINVAL);
	assert_int_equal(ecfs_wrapped_wrap(big, 65, "w", 1, salt_0123, out, &out_len, &e),
			 -EINVAL);
	assert_int_equal(ecfs_wrapped_wrap("a\0b", 3, "w", 1, salt_0123, out, &out_len, &e),
			 -EINVAL);
	assert_int_equal(ecfs_wrapped_wrap("abc", 3, "", 0, salt_0123, out, &out_len, &e),
			 -EINVAL);
	assert_int_equal(ecfs_wrapped_wrap("abc", 3, big, 65, salt_0123, out, &out_len, &e),
			 -EINVAL);
	assert_int_equal(out_len, 0);
}

/* ------------------------------------------------------------ corpus */

static int corpus_file(const char *rel, uint8_t *buf, size_t cap, size_t *len)
{
	const char *root = getenv("OB_ROOT");
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/../shared/corpus/e-private-wrapped/%s",
		 root ? root : ".", rel);
	f = fopen(path, "rb");
	if (!f)
		return -1;
	*len = fread(buf, 1, cap, f);
	fclose(f);
	return 0;
}

#define LOGIN "correct horse battery staple"
#define MOUNTPASS "5f3a9c1e7b2d4860a1c3e5f7092b4d6e"

static void test_corpus_v2_written_by_utils(void **state)
{
	uint8_t buf[256], again[ECFS_WRAPPED_MAX], salt[8];
	char pass[ECFS_MAX_PASSPHRASE + 1];
	size_t len = 0, again_len = 0;
	struct ob_err e = {0};

	if (corpus_file("dot-ecryptfs/wrapped-passphrase", buf, sizeof(buf), &len))
		skip();
	assert_int_equal(len, 58);
	assert_int_equal(ecfs_wrapped_version(buf, len, &e), 2);
	unhex("d8dfa2c0fe55205c", salt);
	assert_memory_equal(buf + 2, salt, 8);
	assert_memory_equal(buf + 10, "dcf415a5b65e5653", 16);
	assert_int_equal(ecfs_wrapped_unwrap(buf, len, LOGIN, strlen(LOGIN), NULL,
					     pass, &e), 0);
	assert_string_equal(pass, MOUNTPASS);
	assert_int_equal(ecfs_wrapped_unwrap(buf, len, "correct horse", 13, NULL,
					     pass, &e), -EKEYREJECTED);
	/* Wrapping again with the file's salt gives the file, byte for byte. */
	assert_int_equal(ecfs_wrapped_wrap(MOUNTPASS, strlen(MOUNTPASS), LOGIN,
					   strlen(LOGIN), salt, again, &again_len, &e), 0);
	assert_int_equal(again_len, len);
	assert_memory_equal(again, buf, len);
}

static void test_corpus_v1(void **state)
{
	uint8_t buf[256];
	char pass[ECFS_MAX_PASSPHRASE + 1];
	size_t len = 0;
	struct ob_err e = {0};

	if (corpus_file("dot-ecryptfs/wrapped-passphrase-v1", buf, sizeof(buf), &len))
		skip();
	assert_int_equal(len, 48);
	assert_int_equal(ecfs_wrapped_version(buf, len, &e), 1);
	assert_memory_equal(buf, "3ab38bb4917daae6", 16);
	assert_int_equal(ecfs_wrapped_unwrap(buf, len, LOGIN, strlen(LOGIN),
					     ecfs_default_salt, pass, &e), 0);
	assert_string_equal(pass, MOUNTPASS);
	assert_int_equal(ecfs_wrapped_unwrap(buf, len, LOGIN, strlen(LOGIN),
					     salt_0123, pass, &e), -EKEYREJECTED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_v1_vectors),
		cmocka_unit_test(test_v2_model_vector),
		cmocka_unit_test(test_v2_roundtrip_lengths),
		cmocka_unit_test(test_v2_ecb_blocks),
		cmocka_unit_test(test_wrong_passphrase),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_trailing_bytes_ignored),
		cmocka_unit_test(test_wrap_refuses),
		cmocka_unit_test(test_corpus_v2_written_by_utils),
		cmocka_unit_test(test_corpus_v1),
	};
	return cmocka_run_group_tests_name("ecfs-wrapped", tests, NULL, NULL);
}
