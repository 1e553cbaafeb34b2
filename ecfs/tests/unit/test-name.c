// SPDX-License-Identifier: MIT
/* test-name.c - encrypted file names: spec vectors, lengths, every cipher,
 * error cases, garbage input, and names written by the real kernel.
 *
 * Vectors: spec §14.3 (pecryptfs and iqb/ecryptfs, both made by the kernel),
 * the §7.4 length table, and the corpus cases b-aes256-fnek and
 * e-private-wrapped (kernel 6.1 in QEMU), found through $OB_ROOT or the
 * current directory and skipped when absent.
 *
 * Divisions of this file: helpers, base64, spec §14.3 vectors, lengths
 * (§7.4), ciphers, errors (and garbage input), corpus.
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
#include "ecfs-int.h"

#define P ECFS_FNEK_PREFIX

/* Keys derived once: the derivation runs SHA-512 65,536 times. */
struct keys {
	struct ecfs_key test_default;	/* "Test", 0011..77 */
	struct ecfs_key test_lc_fnek;	/* "test", ASCII 99887766 */
	struct ecfs_key golden_b;	/* "golden-passphrase-B", ASCII 99887766 */
	struct ecfs_key private_e;	/* corpus e mount passphrase, ASCII salt */
};

static struct keys *K;

static void derive(struct ecfs_key *k, const char *pass,
		   const uint8_t salt[ECFS_SALT_BYTES])
{
	struct ob_err e = {0};

	assert_int_equal(ecfs_key_derive(k, pass, strlen(pass), salt, &e), 0);
}

static int group_setup(void **state)
{
	K = calloc(1, sizeof(*K));
	if (!K)
		return -1;
	derive(&K->test_default, "Test", ecfs_default_salt);
	derive(&K->test_lc_fnek, "test", ecfs_fnek_salt);
	derive(&K->golden_b, "golden-passphrase-B", ecfs_fnek_salt);
	derive(&K->private_e, "5f3a9c1e7b2d4860a1c3e5f7092b4d6e", ecfs_fnek_salt);
	return 0;
}

static int group_teardown(void **state)
{
	free(K);
	return 0;
}

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

static struct ecfs_fnek *fnek_aes(const struct ecfs_key *k, size_t key_bytes)
{
	struct ecfs_fnek *fn = NULL;
	struct ob_err e = {0};

	assert_int_equal(ecfs_fnek_new(k, NULL, key_bytes, &fn, &e), 0);
	assert_non_null(fn);
	return fn;
}

/* Encrypt name and compare with the expected lower name, then decrypt. */
static void check_pair(struct ecfs_fnek *fn, const char *name, const char *lower)
{
	char out[ECFS_LOWER_NAME_MAX], back[ECFS_LOWER_NAME_MAX];
	struct ob_err e = {0};
	ssize_t n;

	n = ecfs_name_encrypt(fn, name, strlen(name), ECFS_NAME_MAX, out,
			      sizeof(out), &e);
	assert_int_equal(n, (ssize_t)strlen(lower));
	assert_string_equal(out, lower);
	n = ecfs_name_decrypt(&fn, 1, lower, back, sizeof(back), &e);
	assert_int_equal(n, (ssize_t)strlen(name));
	assert_string_equal(back, name);
}

/* ------------------------------------------------------------- base64 */

static void test_b64_edges(void **state)
{
	char enc[16];
	uint8_t dec[16];
	const uint8_t ff = 0xff, abc[3] = {0x00, 0x10, 0x83};

	assert_int_equal(ecfs_b64_encode(NULL, 0, enc), 0);
	assert_int_equal(ecfs_b64_encode(&ff, 1, enc), 4);
	assert_memory_equal(enc, "zk--", 4);	/* zero pad -> trailing '-' */
	assert_int_equal(ecfs_b64_encode(abc, 3, enc), 4);
	assert_memory_equal(enc, "-.01", 4);	/* the alphabet starts "-.01" */
	/* Decoding keeps floor(6n/8) bytes: the pad comes back as zeros. */
	assert_int_equal(ecfs_b64_decode("zk--", 4, dec), 3);
	assert_int_equal(dec[0], 0xff);
	assert_int_equal(dec[1], 0);
	assert_int_equal(dec[2], 0);
	assert_int_equal(ecfs_b64_decode("zk", 2, dec), 1);
	assert_int_equal(dec[0], 0xff);
	assert_int_equal(ecfs_b64_decode("z", 1, dec), 0);
	assert_int_equal(ecfs_b64_decode("", 0, dec), 0);
	assert_int_equal(ecfs_b64_decode("zz", 2, dec), 1);
	assert_int_equal(dec[0], 0xff);
}

static void test_b64_invalid_chars(void **state)
{
	static const char *bad[] = {
		"ab=c", "ab+c", "ab/c", "ab c", "ab_c", "ab\x80" "c", "ab\xff",
	};
	uint8_t dec[16];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ecfs_b64_decode(bad[i], strlen(bad[i]), dec), -EINVAL);
	assert_int_equal(ecfs_b64_decode("ab\0c", 4, dec), -EINVAL);
}

static void test_b64_roundtrip_every_length(void **state)
{
	static const char alpha[] = "-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "abcdefghijklmnopqrstuvwxyz";
	uint8_t in[64], dec[128];
	char enc[128];

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 37 + 11);
	for (size_t len = 0; len <= sizeof(in); len++) {
		size_t n = ecfs_b64_encode(in, len, enc);

		assert_int_equal(n, 4 * ((len + 2) / 3));
		assert_int_equal(ecfs_b64_decode(enc, n, dec), (ssize_t)(n * 6 / 8));
		assert_memory_equal(dec, in, len);
		for (size_t j = len; j < n * 6 / 8; j++)
			assert_int_equal(dec[j], 0);
	}
	/* The whole alphabet decodes and re-encodes to itself. */
	assert_int_equal(ecfs_b64_decode(alpha, 64, dec), 48);
	assert_int_equal(ecfs_b64_encode(dec, 48, enc), 64);
	assert_memory_equal(enc, alpha, 64);
	/* "-.01" is 0, 1, 2, 3: bytes 00 10 83. */
	assert_int_equal(dec[0], 0x00);
	assert_int_equal(dec[1], 0x10);
	assert_int_equal(dec[2], 0x83);
}

/* --------------------------------------------------------- spec §14.3 */

static const char *test_file_aes[3] = {
	P "FWYp3QmdieuVx-ReNM93cFJhZmQKb9S.7xyoDzbVOSbBh3ttRUURq5F-zE--",
	P "FWYp3QmdieuVx-UP0Bp5ZhSV8z0l0qmRIVPgjmpEsGWRgxIcl0sTzLZcs---",
	P "FWYp3QmdieuVx-aK6fArd1FkXCt3ijqL6Arsiu3IFxKKhksWZXxt2HR.i---",
};

static void test_vector_testfile_aes(void **state)
{
	static const size_t kb[3] = {16, 24, 32};

	for (int i = 0; i < 3; i++) {
		struct ecfs_fnek *fn = fnek_aes(&K->test_default, kb[i]);

		check_pair(fn, "TestFile", test_file_aes[i]);
		ecfs_fnek_free(fn);
	}
}

static void test_vector_intermediates(void **state)
{
	uint8_t kek[64], md5[16], want[64], pkt[128], plain[32];
	const struct ecfs_cipher_info *aes = ecfs_cipher_by_name("aes", 16);
	struct ecfs_ckey *ck = NULL;
	const char *enc = test_file_aes[0] + strlen(P);
	uint8_t sig[ECFS_SIG_BYTES];
	char hex[ECFS_SIG_HEX];
	ssize_t n;

	unhex("0f38a537ffd1804fb13c6ce714b09c7ba1ef58961f63f01d1355a24b752effcd"
	      "1d9842eab112238ad1f5790883feb891b5dd7fb48b8aff20a1ae9e01c711b7ea", kek);
	assert_memory_equal(K->test_default.kek, kek, 64);
	ecfs_md5(kek, 64, md5);
	unhex("327329844f262b695a83a5d04109e381", want);
	assert_memory_equal(md5, want, 16);

	n = ecfs_b64_decode(enc, strlen(enc), pkt);
	assert_true(n >= 43);
	unhex("46 29 3515cca9baaea1f4 07 6a6582c5a1156d9727169cb78127dfb4"
	      "3ff9e169e9cdb45e7976081dd87440fd", want);
	assert_memory_equal(pkt, want, 43);

	assert_non_null(aes);
	assert_int_equal(ecfs_ckey_new(aes, kek, 16, &ck, NULL), 0);
	assert_int_equal(ecfs_ckey_ecb(ck, false, pkt + 11, plain, 32), 0);
	unhex("327329844f262b695a83a5d04109e381 51fb13664296b4 00 5465737446696c65",
	      want);
	assert_memory_equal(plain, want, 32);
	ecfs_ckey_free(ck);

	assert_int_equal(ecfs_name_sig(test_file_aes[0], sig), 0);
	ecfs_sig_to_hex(sig, hex);
	assert_string_equal(hex, "3515cca9baaea1f4");
}

static void test_vector_iqb_ascii_salt(void **state)
{
	struct ecfs_fnek *fn = fnek_aes(&K->test_lc_fnek, 32);
	char hex[ECFS_SIG_HEX];

	ecfs_sig_to_hex(ecfs_fnek_sig(fn), hex);
	assert_string_equal(hex, "be877764c5918621");
	check_pair(fn, "loremipsum.txt",
		   P "FWayVrRYlN446EY.WUc7GBFqG9GB6qF3eRmJZ7NYS7ANeS4Gfi9c34ZDTU--");
	check_pair(fn, "test",
		   P "FWayVrRYlN446EY.WUc7GBFqG9GB6qF3eRmJwLxTOkMu8UtE6MkSWHGsZE--");
	ecfs_fnek_free(fn);
}

/* ------------------------------------------------------ lengths (§7.4) */

static size_t lower_len(struct ecfs_fnek *fn, size_t n, size_t max_plain,
			ssize_t *rc)
{
	char name[400], out[ECFS_LOWER_NAME_MAX];

	memset(name, 'n', n);
	*rc = ecfs_name_encrypt(fn, name, n, max_plain, out, sizeof(out), NULL);
	return *rc > 0 ? strlen(out) : 0;
}

static void test_lengths_block16(void **state)
{
	static const struct { size_t lo, hi, len; } table[] = {
		{1, 15, 84}, {16, 31, 104}, {32, 47, 124}, {48, 63, 148},
		{64, 79, 168}, {80, 95, 188}, {96, 111, 212}, {112, 127, 232},
		{128, 143, 252},
	};
	struct ecfs_fnek *fn = fnek_aes(&K->test_default, 16);
	ssize_t rc;

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		for (size_t n = table[i].lo; n <= table[i].hi; n++) {
			assert_int_equal(lower_len(fn, n, ECFS_NAME_MAX, &rc),
					 table[i].len);
			assert_int_equal(rc, (ssize_t)table[i].len);
		}
	lower_len(fn, 144, ECFS_NAME_MAX, &rc);
	assert_int_equal(rc, -ENAMETOOLONG);
	/* Past 143 only with a larger limit (symlink targets): 276. */
	assert_int_equal(lower_len(fn, 144, 300, &rc), 276);
	ecfs_fnek_free(fn);
}

static void test_lengths_block8(void **state)
{
	static const struct { size_t n, len; } points[] = {
		{1, 72}, {7, 72}, {8, 84}, {15, 84}, {16, 92}, {23, 92},
		{24, 104}, {31, 104}, {136, 252}, {143, 252},
	};
	const struct ecfs_cipher_info *bf = ecfs_cipher_by_name("blowfish", 16);
	struct ecfs_fnek *fn = NULL;
	ssize_t rc;

	assert_non_null(bf);
	assert_int_equal(bf->block, 8);
	assert_int_equal(ecfs_fnek_new(&K->test_default, bf, 16, &fn, NULL), 0);
	for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++)
		assert_int_equal(lower_len(fn, points[i].n, ECFS_NAME_MAX, &rc),
				 points[i].len);
	/* Every length against the closed form of §7.4. */
	for (size_t n = 1; n <= 143; n++) {
		size_t nrand = 17 + (8 - (17 + n) % 8) % 8;

		assert_int_equal(lower_len(fn, n, ECFS_NAME_MAX, &rc),
				 24 + 4 * ((2 + 9 + nrand + n + 2) / 3));
	}
	lower_len(fn, 144, ECFS_NAME_MAX, &rc);
	assert_int_equal(rc, -ENAMETOOLONG);
	assert_int_equal(lower_len(fn, 144, 144, &rc), 264);
	ecfs_fnek_free(fn);
}

/* Long symlink-style plaintexts take the two-byte Tag 70 length (§3.1). */
static void test_long_plaintext_two_byte_length(void **state)
{
	struct ecfs_fnek *fn = fnek_aes(&K->test_default, 16);
	char name[3100], out[ECFS_LOWER_NAME_MAX], back[ECFS_LOWER_NAME_MAX];
	size_t sizes[] = {175, 200, 1000, 2900};
	ssize_t n;

	for (size_t i = 0; i < sizeof(name); i++)
		name[i] = (char)('a' + i % 26);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		n = ecfs_name_encrypt(fn, name, sizes[i], 4000, out, sizeof(out), NULL);
		assert_true(n > 0);
		assert_true(n < ECFS_LOWER_NAME_MAX);
		n = ecfs_name_decrypt(&fn, 1, out, back, sizeof(back), NULL);
		assert_int_equal(n, (ssize_t)sizes[i]);
		assert_memory_equal(back, name, sizes[i]);
	}
	/* Beyond what a 4095-byte lower name can hold. */
	n = ecfs_name_encrypt(fn, name, 3100, 4000, out, sizeof(out), NULL);
	assert_int_equal(n, -ENAMETOOLONG);
	ecfs_fnek_free(fn);
}

/* Symlink targets: same packet, '/' and "." / ".." allowed, NUL not. */
static void test_targets(void **state)
{
	static const char *targets[] = {
		"dir1/dir2/dir3/deep.bin", "/nonexistent/absolute/target/path",
		"..", ".", "/", "../../x", "plain",
	};
	struct ecfs_fnek *fn = fnek_aes(&K->test_default, 16);
	char out[ECFS_LOWER_NAME_MAX], back[ECFS_LOWER_NAME_MAX];
	char big[ECFS_TARGET_MAX + 1];
	struct ob_err e = {0};
	ssize_t n;

	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		size_t len = strlen(targets[i]);

		n = ecfs_target_encrypt(fn, targets[i], len, out, sizeof(out), &e);
		assert_true(n > 0);
		assert_int_equal(ecfs_target_decrypt(&fn, 1, out, back, sizeof(back), &e),
				 (ssize_t)len);
		assert_string_equal(back, targets[i]);
		/* As a directory entry the same lower name is refused. */
		if (strcmp(targets[i], "plain"))
			assert_int_equal(ecfs_name_decrypt(&fn, 1, out, back,
							   sizeof(back), &e), -EINVAL);
	}
	assert_int_equal(ecfs_target_encrypt(fn, "", 0, out, sizeof(out), &e), -EINVAL);
	assert_int_equal(ecfs_target_encrypt(fn, "a\0b", 3, out, sizeof(out), &e), -EINVAL);
	memset(big, 'q', sizeof(big));
	assert_true(ecfs_target_encrypt(fn, big, ECFS_TARGET_MAX, out, sizeof(out), &e) > 0);
	assert_int_equal(ecfs_target_decrypt(&fn, 1, out, back, sizeof(back), &e),
			 ECFS_TARGET_MAX);
	assert_int_equal(ecfs_target_encrypt(fn, big, ECFS_TARGET_MAX + 1, out,
					     sizeof(out), &e), -ENAMETOOLONG);
	/* Names and targets share the rest: -ENOKEY, -EINVAL for garbage. */
	assert_int_equal(ecfs_target_decrypt(&fn, 1, "lost+found", back, sizeof(back), &e),
			 -EINVAL);
	ecfs_fnek_free(fn);
}

/* ----------------------------------------------------------- ciphers */

static void test_roundtrip_every_cipher(void **state)
{
	const struct ecfs_cipher_info *list;
	size_t count = ecfs_cipher_list(&list);
	char name[ECFS_NAME_MAX], out[ECFS_LOWER_NAME_MAX], back[ECFS_LOWER_NAME_MAX];

	assert_true(count >= 8);
	for (size_t c = 0; c < count; c++) {
		struct ecfs_fnek *fn = NULL;
		struct ob_err e = {0};

		assert_int_equal(ecfs_fnek_new(&K->test_default, &list[c],
					       list[c].key_default, &fn, &e), 0);
		for (size_t len = 1; len <= ECFS_NAME_MAX; len++) {
			ssize_t n;

			/* Every byte value but NUL and '/', UTF-8 included. */
			for (size_t i = 0; i < len; i++) {
				uint8_t b = (uint8_t)(1 + (i * 7 + len + c) % 255);

				name[i] = (char)(b == '/' ? 'S' : b);
			}
			if (len <= 2 && name[0] == '.' && (len == 1 || name[1] == '.'))
				name[0] = 'd';
			n = ecfs_name_encrypt(fn, name, len, ECFS_NAME_MAX, out,
					      sizeof(out), &e);
			assert_true(n > 0 && n <= 252);
			n = ecfs_name_decrypt(&fn, 1, out, back, sizeof(back), &e);
			assert_int_equal(n, (ssize_t)len);
			assert_memory_equal(back, name, len);
		}
		ecfs_fnek_free(fn);
	}
}

/* Names are deterministic: same name, same FNEK -> same lower name. */
static void test_deterministic(void **state)
{
	struct ecfs_fnek *a = fnek_aes(&K->test_default, 16);
	struct ecfs_fnek *b = fnek_aes(&K->test_default, 16);
	char x[ECFS_LOWER_NAME_MAX], y[ECFS_LOWER_NAME_MAX];

	assert_true(ecfs_name_encrypt(a, "same", 4, ECFS_NAME_MAX, x, sizeof(x), NULL) > 0);
	assert_true(ecfs_name_encrypt(b, "same", 4, ECFS_NAME_MAX, y, sizeof(y), NULL) > 0);
	assert_string_equal(x, y);
	ecfs_fnek_free(a);
	ecfs_fnek_free(b);
}

/* ------------------------------------------------------------ errors */

static void test_encrypt_refuses(void **state)
{
	struct ecfs_fnek *fn = fnek_aes(&K->test_default, 16);
	char out[ECFS_LOWER_NAME_MAX], big[200];
	struct ob_err e = {0};

	assert_int_equal(ecfs_name_encrypt(fn, ".", 1, ECFS_NAME_MAX, out, sizeof(out), &e), -EINVAL);
	assert_int_equal(ecfs_name_encrypt(fn, "..", 2, ECFS_NAME_MAX, out, sizeof(out), &e), -EINVAL);
	assert_int_equal(ecfs_name_encrypt(fn, "a/b", 3, ECFS_NAME_MAX, out, sizeof(out), &e), -EINVAL);
	assert_int_equal(ecfs_name_encrypt(fn, "/", 1, ECFS_NAME_MAX, out, sizeof(out), &e), -EINVAL);
	assert_int_equal(ecfs_name_encrypt(fn, "", 0, ECFS_NAME_MAX, out, sizeof(out), &e), -EINVAL);
	assert_int_equal(ecfs_name_encrypt(fn, "a\0b", 3, ECFS_NAME_MAX, out, sizeof(out), &e), -EINVAL);
	assert_int_equal(e.code, -EINVAL);
	/* "..." and ".x" are ordinary names. */
	assert_true(ecfs_name_encrypt(fn, "...", 3, ECFS_NAME_MAX, out, sizeof(out), &e) > 0);
	assert_true(ecfs_name_encrypt(fn, ".x", 2, ECFS_NAME_MAX, out, sizeof(out), &e) > 0);
	memset(big, 'b', sizeof(big));
	assert_int_equal(ecfs_name_encrypt(fn, big, 144, ECFS_NAME_MAX, out, sizeof(out), &e),
			 -ENAMETOOLONG);
	assert_non_null(strstr(e.msg, "144"));
	/* Too small an output buffer: 84 chars + NUL needed. */
	assert_int_equal(ecfs_name_encrypt(fn, "x", 1, ECFS_NAME_MAX, out, 84, &e), -ENAMETOOLONG);
	assert_int_equal(ecfs_name_encrypt(fn, "x", 1, ECFS_NAME_MAX, out, 85, &e), 84);
	ecfs_fnek_free(fn);
}

static void test_fnek_new_refuses(void **state)
{
	struct ecfs_fnek *fn = NULL;
	struct ob_err e = {0};

	assert_int_equal(ecfs_fnek_new(&K->test_default, NULL, 20, &fn, &e), -EINVAL);
	assert_null(fn);
	assert_int_equal(ecfs_fnek_new(&K->test_default, NULL, 65, &fn, &e), -EINVAL);
	/* 0 = AES-128; the code written is the AES-128 one. */
	assert_int_equal(ecfs_fnek_new(&K->test_default, NULL, 0, &fn, &e), 0);
	check_pair(fn, "TestFile", test_file_aes[0]);
	ecfs_fnek_free(fn);
	ecfs_fnek_free(NULL);
}

static void test_decrypt_enokey(void **state)
{
	struct ecfs_fnek *other = fnek_aes(&K->test_lc_fnek, 16);
	struct ecfs_fnek *right = fnek_aes(&K->test_default, 16);
	struct ecfs_fnek *both[3] = {other, NULL, right};
	char out[ECFS_LOWER_NAME_MAX];
	struct ob_err e = {0};

	assert_int_equal(ecfs_name_decrypt(&other, 1, test_file_aes[0], out,
					   sizeof(out), &e), -ENOKEY);
	assert_non_null(strstr(e.msg, "3515cca9baaea1f4"));
	assert_int_equal(ecfs_name_decrypt(NULL, 0, test_file_aes[0], out,
					   sizeof(out), &e), -ENOKEY);
	assert_int_equal(ecfs_name_decrypt(both, 3, test_file_aes[0], out,
					   sizeof(out), &e), 8);
	assert_string_equal(out, "TestFile");
	/* Too small an output buffer. */
	assert_int_equal(ecfs_name_decrypt(both, 3, test_file_aes[0], out, 8, &e),
			 -ENAMETOOLONG);
	ecfs_fnek_free(other);
	ecfs_fnek_free(right);
}

/* ecfs_name_fnek_index: the FNEK that decrypts a name, among same-signature
 * candidates the one whose cipher code matches (rekey moves names by it). */
static void test_fnek_index(void **state)
{
	struct ecfs_fnek *other = fnek_aes(&K->test_lc_fnek, 16);
	struct ecfs_fnek *r32 = fnek_aes(&K->test_default, 32);
	struct ecfs_fnek *r16 = fnek_aes(&K->test_default, 16);
	struct ecfs_fnek *list[3] = {other, r32, r16};

	assert_int_equal(ecfs_name_fnek_index(list, 3, test_file_aes[0]), 2);
	assert_int_equal(ecfs_name_fnek_index(list, 2, test_file_aes[0]), 1);
	assert_int_equal(ecfs_name_fnek_index(list, 1, test_file_aes[0]), -ENOKEY);
	assert_int_equal(ecfs_name_fnek_index(list, 3, "plain-name"), -EINVAL);
	assert_true(ecfs_fnek_same_cipher(r16, other));
	assert_false(ecfs_fnek_same_cipher(r16, r32));
	ecfs_fnek_free(other);
	ecfs_fnek_free(r32);
	ecfs_fnek_free(r16);
}

/* The packet's cipher code picks the cipher, the FNEK's key_bytes the key
 * length (§7.2): an AES-128 FNEK reads a name whose code says AES-256 with
 * a 16-byte key, and a blowfish FNEK reads an AES name as the kernel would. */
static void test_decrypt_cipher_from_code(void **state)
{
	struct ecfs_fnek *a16 = fnek_aes(&K->test_default, 16);
	struct ecfs_fnek *a32 = fnek_aes(&K->test_default, 32);
	struct ecfs_fnek *bf = NULL;
	char lower[ECFS_LOWER_NAME_MAX], out[ECFS_LOWER_NAME_MAX];
	uint8_t pkt[128];
	const char *enc = test_file_aes[0] + strlen(P);
	ssize_t n = ecfs_b64_decode(enc, strlen(enc), pkt);
	size_t o;

	assert_int_equal(ecfs_fnek_new(&K->test_default,
				       ecfs_cipher_by_name("blowfish", 16), 16,
				       &bf, NULL), 0);
	pkt[10] = ECFS_CIPHER_AES_256;	/* code says 32, the key is 16 */
	memcpy(lower, P, strlen(P));
	o = strlen(P) + ecfs_b64_encode(pkt, (size_t)n, lower + strlen(P));
	lower[o] = '\0';
	assert_int_equal(ecfs_name_decrypt(&a16, 1, lower, out, sizeof(out), NULL), 8);
	assert_string_equal(out, "TestFile");
	/* With a 32-byte key the same bytes are garbage (the kernel would
	 * show them); the other AES sizes are tried and 16 validates. */
	n = ecfs_name_decrypt(&a32, 1, lower, out, sizeof(out), NULL);
	assert_int_equal(n, 8);
	assert_string_equal(out, "TestFile");
	/* Blowfish FNEK with key_bytes 16 reads the AES-128 name. */
	assert_int_equal(ecfs_name_decrypt(&bf, 1, test_file_aes[0], out,
					   sizeof(out), NULL), 8);
	assert_string_equal(out, "TestFile");
	ecfs_fnek_free(a16);
	ecfs_fnek_free(a32);
	ecfs_fnek_free(bf);
}

/* Re-encode pkt[0..len) as a lower name and decrypt it with fn. */
static ssize_t decrypt_packet(struct ecfs_fnek *fn, const uint8_t *pkt, size_t len,
			      char *out, size_t outlen, struct ob_err *e)
{
	char lower[ECFS_LOWER_NAME_MAX + 8];
	size_t o;

	memcpy(lower, P, strlen(P));
	o = strlen(P) + ecfs_b64_encode(pkt, len, lower + strlen(P));
	lower[o] = '\0';
	return ecfs_name_decrypt(&fn, 1, lower, out, outlen, e);
}

/* A Tag 70 packet for an arbitrary plaintext (no checks), for bad names. */
static size_t forge(struct ecfs_fnek *fn, const struct ecfs_key *k,
		    const uint8_t *plain, size_t len, uint8_t *pkt)
{
	const struct ecfs_cipher_info *aes = ecfs_cipher_by_name("aes", 16);
	struct ecfs_ckey *ck = NULL;

	pkt[0] = 0x46;
	pkt[1] = (uint8_t)(9 + len);
	memcpy(pkt + 2, ecfs_fnek_sig(fn), 8);
	pkt[10] = aes->code;
	assert_int_equal(ecfs_ckey_new(aes, k->kek, 16, &ck, NULL), 0);
	assert_int_equal(ecfs_ckey_ecb(ck, true, plain, pkt + 11, len), 0);
	ecfs_ckey_free(ck);
	return 11 + len;
}

static void test_decrypt_einval(void **state)
{
	static const char *bad[] = {
		"lost+found", "", ".", "..", P, P "-", "ECRYPTFS_FNEK_ENCRYPTED",
		"ecryptfs_fnek_encrypted.FWYp3QmdieuVx-ReNM93cFJhZmQKb9S.7xyoDzbVOSbBh3ttRUURq5F-zE--",
		P "FWYp3QmdieuVx-ReNM93cFJhZmQKb9S.7xyoDzbVOSbBh3ttRUURq5F-zE-!",
		P "FWYp3QmdieuVx-ReNM93cFJhZmQKb9S.7xyoDzbVOSbBh3ttRUURq",	/* truncated */
		P "FWYp3QmdieuVx-ReNM93cF",	/* truncated before the ciphertext */
		P "----------------------------------------",	/* tag 0x00 */
		P "GWYp3QmdieuVx-ReNM93cFJhZmQKb9S.7xyoDzbVOSbBh3ttRUURq5F-zE--",	/* tag 0x4a */
	};
	struct ecfs_fnek *fn = fnek_aes(&K->test_default, 16);
	char out[ECFS_LOWER_NAME_MAX];
	uint8_t sig[8];
	struct ob_err e = {0};

	static const struct { uint8_t b[16]; size_t len; } badpkt[] = {
		{{0x46}, 1},				/* no length */
		{{0x46, 0xdf, 0xff, 1, 2, 3}, 6},	/* 2-byte length 8383 */
		{{0x46, 0xc0}, 2},			/* 2-byte length cut */
		{{0x46, 0xff, 0, 0, 0, 20}, 16},	/* 5-byte form */
		{{0x46, 0xe0, 1}, 16},			/* partial length */
		{{0x46, 9, 1, 2, 3, 4, 5, 6, 7, 8, 7}, 16},	/* no ciphertext */
		{{0x46, 5, 1, 2, 3, 4, 5}, 16},		/* body shorter than sig */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ecfs_name_decrypt(&fn, 1, bad[i], out, sizeof(out), &e),
				 -EINVAL);
		assert_int_equal(ecfs_name_sig(bad[i], sig), -EINVAL);
	}
	for (size_t i = 0; i < sizeof(badpkt) / sizeof(badpkt[0]); i++)
		assert_int_equal(decrypt_packet(fn, badpkt[i].b, badpkt[i].len, out,
						sizeof(out), &e), -EINVAL);
	ecfs_fnek_free(fn);
}

/* 32 bytes of Tag 70 plaintext for a name of len (<= 15) bytes, as the
 * kernel lays it out: the FNEK's MD5-chain prefix (0x00 -> 0x42), 0x00,
 * the name; nrand = 32 - len (AES blocks, spec §7.2). */
static void fnek_plain(uint8_t plain[32], const char *name, size_t len)
{
	uint8_t md5[32];

	ecfs_md5(K->test_default.kek, ECFS_KEK_BYTES, md5);
	ecfs_md5(md5, 16, md5 + 16);
	for (size_t j = 0; j < 32; j++)
		plain[j] = md5[j] ? md5[j] : 0x42;
	plain[31 - len] = 0x00;
	memcpy(plain + 32 - len, name, len);
}

static void test_decrypt_bad_plaintext(void **state)
{
	struct ecfs_fnek *fn = fnek_aes(&K->test_default, 16);
	uint8_t plain[48], pkt[128];
	char out[ECFS_LOWER_NAME_MAX];
	struct ob_err e = {0};
	size_t n;

	/* No separator at all. */
	memset(plain, 'A', 32);
	n = forge(fn, &K->test_default, plain, 32, pkt);
	assert_int_equal(decrypt_packet(fn, pkt, n, out, sizeof(out), &e), -EBADMSG);
	/* Separator in the last byte: empty name. */
	plain[31] = 0;
	n = forge(fn, &K->test_default, plain, 32, pkt);
	assert_int_equal(decrypt_packet(fn, pkt, n, out, sizeof(out), &e), -EBADMSG);
	/* A separator anywhere but where the FNEK's prefix ends: the kernel
	 * would take "ok" (it only looks for a NUL); a wrong key or key size
	 * gives such plaintexts, so we refuse them. */
	memcpy(plain + 29, "\0ok", 3);
	n = forge(fn, &K->test_default, plain, 32, pkt);
	assert_int_equal(decrypt_packet(fn, pkt, n, out, sizeof(out), &e), -EBADMSG);
	/* The right prefix and separator, then a name with '/', a second NUL
	 * or "..": refused as names (-EINVAL), as before. */
	fnek_plain(plain, "a/b", 3);
	n = forge(fn, &K->test_default, plain, 32, pkt);
	assert_int_equal(decrypt_packet(fn, pkt, n, out, sizeof(out), &e), -EINVAL);
	fnek_plain(plain, "a\0b", 3);
	n = forge(fn, &K->test_default, plain, 32, pkt);
	assert_int_equal(decrypt_packet(fn, pkt, n, out, sizeof(out), &e), -EINVAL);
	fnek_plain(plain, "..", 2);
	n = forge(fn, &K->test_default, plain, 32, pkt);
	assert_int_equal(decrypt_packet(fn, pkt, n, out, sizeof(out), &e), -EINVAL);
	/* ... and a good one decodes. */
	fnek_plain(plain, "ok", 2);
	n = forge(fn, &K->test_default, plain, 32, pkt);
	assert_int_equal(decrypt_packet(fn, pkt, n, out, sizeof(out), &e), 2);
	assert_string_equal(out, "ok");
	/* Ciphertext not whole blocks. */
	n = forge(fn, &K->test_default, plain, 32, pkt);
	pkt[1] = 9 + 20;
	assert_int_equal(decrypt_packet(fn, pkt, 11 + 20, out, sizeof(out), &e), -EINVAL);
	/* Unknown cipher code. */
	n = forge(fn, &K->test_default, plain, 32, pkt);
	pkt[10] = 0x42;
	assert_int_equal(decrypt_packet(fn, pkt, n, out, sizeof(out), &e), -EINVAL);
	ecfs_fnek_free(fn);
}

static void test_decrypt_fek_prefix(void **state)
{
	struct ecfs_fnek *fn = fnek_aes(&K->test_default, 16);
	char out[ECFS_LOWER_NAME_MAX];
	struct ob_err e = {0};

	assert_int_equal(ecfs_name_decrypt(&fn, 1,
		ECFS_FEK_PREFIX "FWYp3QmdieuVx-ReNM93cFJhZmQKb9S.7xyoDzbVOSbB",
		out, sizeof(out), &e), -EOPNOTSUPP);
	assert_string_equal(e.msg, "FEK-encrypted names are not supported by Linux either");
	ecfs_fnek_free(fn);
}

/* xorshift: deterministic garbage. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void check_garbage_result(ssize_t n, const char *out)
{
	if (n >= 0) {
		assert_int_equal(strlen(out), (size_t)n);
		assert_null(strchr(out, '/'));
		return;
	}
	assert_true(n == -EINVAL || n == -ENOKEY || n == -EOPNOTSUPP || n == -EBADMSG);
}

static void test_garbage_never_crashes(void **state)
{
	static const char alpha[] =
		"-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	struct ecfs_fnek *fn = fnek_aes(&K->test_default, 16);
	char *lower = malloc(ECFS_LOWER_NAME_MAX * 2);
	char out[ECFS_LOWER_NAME_MAX];
	uint8_t pkt[256], sig[8];
	uint64_t s = 0x9e3779b97f4a7c15ull;

	assert_non_null(lower);
	/* Random alphabet strings after the prefix, up to twice the limit. */
	for (int i = 0; i < 3000; i++) {
		size_t len = rnd(&s) % (i < 2900 ? 300 : ECFS_LOWER_NAME_MAX * 2 - 30);

		memcpy(lower, P, strlen(P));
		for (size_t j = 0; j < len; j++)
			lower[strlen(P) + j] = alpha[rnd(&s) % 64];
		lower[strlen(P) + len] = '\0';
		check_garbage_result(ecfs_name_decrypt(&fn, 1, lower, out,
						       sizeof(out), NULL), out);
		(void)ecfs_name_sig(lower, sig);
	}
	/* Well-formed head with our sig, random length and ciphertext. */
	for (int i = 0; i < 3000; i++) {
		size_t len = 11 + rnd(&s) % 200;
		char *o = lower;

		for (size_t j = 0; j < len; j++)
			pkt[j] = (uint8_t)rnd(&s);
		pkt[0] = 0x46;
		if (i % 2)
			pkt[1] = (uint8_t)(rnd(&s) % 192);
		memcpy(pkt + 2, ecfs_fnek_sig(fn), 8);
		if (i % 3)
			pkt[10] = (uint8_t)(7 + rnd(&s) % 3);
		memcpy(o, P, strlen(P));
		o[strlen(P) + ecfs_b64_encode(pkt, len, o + strlen(P))] = '\0';
		check_garbage_result(ecfs_name_decrypt(&fn, 1, lower, out,
						       sizeof(out), NULL), out);
	}
	/* Arbitrary bytes, no prefix. */
	for (int i = 0; i < 1000; i++) {
		size_t len = rnd(&s) % 100;

		for (size_t j = 0; j < len; j++)
			lower[j] = (char)(1 + rnd(&s) % 255);
		lower[len] = '\0';
		check_garbage_result(ecfs_name_decrypt(&fn, 1, lower, out,
						       sizeof(out), NULL), out);
	}
	free(lower);
	ecfs_fnek_free(fn);
}

/* ------------------------------------------------------------ corpus */

/* shared/corpus/<name> beside the repository: $OB_ROOT/.. or ./.. */
static int corpus_dir(const char *name, char *buf, size_t len)
{
	const char *root = getenv("OB_ROOT");
	struct stat st;

	snprintf(buf, len, "%s/../shared/corpus/%s", root ? root : ".", name);
	return stat(buf, &st) == 0 && S_ISDIR(st.st_mode);
}

/* From corpus b's manifest.json (path -> lower_path, last component). */
static const struct { const char *name, *lower; } corpus_b[] = {
	{"dir1", P "FWZq3rhaZM78Y-YGDmt1jj.l5NT5VkIO6DulKDGtznKjLhOepbNfijZCxk--"},
	{"dir with spaces", P "FWZq3rhaZM78Y-YGDmt1jj.l5NT5VkIO6DulimCSbGKZpBLrxEAd7D4yx---"},
	{"emptydir", P "FWZq3rhaZM78Y-YGDmt1jj.l5NT5VkIO6DuleS4LK7isPVA0.Siy-rA7-k--"},
	{"x", P "FWZq3rhaZM78Y-YGDmt1jj.l5NT5VkIO6DulZwmFiFDH.EUnxqrWYgdxak--"},
	{"len015_abcdefgh", P "FWZq3rhaZM78Y-YGDmt1jj.l5NT5VkIO6DulmNRgsd1zBvf1IXfcwV9LLk--"},
	{"len016_abcdefghi", P "FXZq3rhaZM78Y-YGDmt1jj.l5NT5VkIO6DulvPQPEHWAVIlofUAP0KYO2Ehdy7Iw2wZU4PKCvgUi6X2-"},
	{"len032_abcdefghijklmnopqrstuvwxy", P "FYZq3rhaZM78Y-YGDmt1jj.l5NT5VkIO6DulvPQPEHWAVIlofUAP0KYO2KJJHnHNjkdjmu80GT48n9h3n127ErpGwQH3Wbty0Mus"},
	{"len143_abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz01",
	 P "FeZq3rhaZM78Y-YGDmt1jj.l5NT5VkIO6Dul-VkUd1KzZfzsg9Nc9jhmuYbs43Rjq3S.B2ZsxcSALeh4gNZSbBFtWiuo3vDliy897UA7JR9VtEWq6DcRWwD5ypXG-FIbYWCIzemibT3rJdkWbM-vRkZ3d60WEg4gjgHmejVT6x264vccBzHZidwYQwewIgYLz2afO64rmSRhOMlkEmh3hDuJ-84dVgj1EgWX"},
	{"unicod\xc3\xa9-\xc3\xbc-\xe6\x97\xa5\xe6\x9c\xac.txt", P "FXZq3rhaZM78Y-YGDmt1jj.l5NT5VkIO6Dul2BU.YeUzKEtk6sMk.lxvmVipuCnzU62zjXZORAWOZBY-"},
	{"link-to-dir", P "FWZq3rhaZM78Y-YGDmt1jj.l5NT5VkIO6Dul-nmPEp6OO22acRXgbUlWOk--"},
};

/* Corpus b symlinks whose targets hold '/' (lower name -> target). */
static const struct { const char *lower, *target; } corpus_links[] = {
	{P "FWZq3rhaZM78Y-YGDmt1jj.l5NT5VkIO6Dulm7ypSOXa-JqiAZbuUVysG---",
	 "dir1/dir2/dir3/deep.bin"},
	{P "FXZq3rhaZM78Y-YGDmt1jj.l5NT5VkIO6Dulh-k..uF4KB1EuzjPDBY0H7nAHczrcTqG..Z6x2sJohk-",
	 "/nonexistent/absolute/target/path"},
};

/* A lower symlink's target: the corpus keeps it as a link or as a file
 * holding the target text. */
static ssize_t read_target(const char *path, char *buf, size_t len)
{
	struct stat st;
	ssize_t n;
	FILE *f;

	if (lstat(path, &st) < 0)
		return -1;
	if (S_ISLNK(st.st_mode)) {
		n = readlink(path, buf, len - 1);
	} else {
		f = fopen(path, "rb");
		if (!f)
			return -1;
		n = (ssize_t)fread(buf, 1, len - 1, f);
		fclose(f);
	}
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

static void test_corpus_b_kernel_names(void **state)
{
	char dir[4096], path[8192], out[ECFS_LOWER_NAME_MAX], hex[ECFS_SIG_HEX];
	char target[ECFS_LOWER_NAME_MAX];
	struct ecfs_fnek *fn;
	struct dirent *d;
	struct stat st;
	DIR *dh;
	int seen = 0;

	if (!corpus_dir("b-aes256-fnek", dir, sizeof(dir)))
		skip();
	fn = fnek_aes(&K->golden_b, 32);
	ecfs_sig_to_hex(ecfs_fnek_sig(fn), hex);
	assert_string_equal(hex, "76177b6695824a90");
	for (size_t i = 0; i < sizeof(corpus_b) / sizeof(corpus_b[0]); i++) {
		/* The copy of the corpus lost the empty directory. */
		snprintf(path, sizeof(path), "%s/lower/%s", dir, corpus_b[i].lower);
		if (strcmp(corpus_b[i].name, "emptydir"))
			assert_int_equal(stat(path, &st), 0);
		check_pair(fn, corpus_b[i].name, corpus_b[i].lower);
	}
	/* Symlink targets are encrypted names too: link-to-dir -> "dir1". */
	snprintf(path, sizeof(path), "%s/lower/%s", dir, corpus_b[9].lower);
	assert_true(read_target(path, target, sizeof(target)) > 0);
	assert_int_equal(ecfs_name_decrypt(&fn, 1, target, out, sizeof(out), NULL), 4);
	assert_string_equal(out, "dir1");
	for (size_t i = 0; i < sizeof(corpus_links) / sizeof(corpus_links[0]); i++) {
		char again[ECFS_LOWER_NAME_MAX];
		const char *want = corpus_links[i].target;

		snprintf(path, sizeof(path), "%s/lower/%s", dir, corpus_links[i].lower);
		assert_true(read_target(path, target, sizeof(target)) > 0);
		assert_int_equal(ecfs_target_decrypt(&fn, 1, target, out, sizeof(out),
						     NULL), (ssize_t)strlen(want));
		assert_string_equal(out, want);
		assert_true(ecfs_target_encrypt(fn, want, strlen(want), again,
						sizeof(again), NULL) > 0);
		assert_string_equal(again, target);
	}
	/* Every lower entry of the top directory decrypts and re-encrypts. */
	snprintf(path, sizeof(path), "%s/lower", dir);
	dh = opendir(path);
	assert_non_null(dh);
	while ((d = readdir(dh))) {
		char again[ECFS_LOWER_NAME_MAX];
		ssize_t n;

		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		n = ecfs_name_decrypt(&fn, 1, d->d_name, out, sizeof(out), NULL);
		assert_true(n > 0);
		assert_int_equal(ecfs_name_encrypt(fn, out, (size_t)n, ECFS_NAME_MAX,
						   again, sizeof(again), NULL),
				 (ssize_t)strlen(d->d_name));
		assert_string_equal(again, d->d_name);
		seen++;
	}
	closedir(dh);
	assert_true(seen >= 19);
	ecfs_fnek_free(fn);
}

/* Corpus e: the ecryptfs-setup-private layout, AES-128 names. */
static void test_corpus_e_private_names(void **state)
{
	static const struct { const char *name, *lower; } e[] = {
		{"Documents", P "FWb0goWUg9K-KEQVo0AwdqUZJ7MOcZ8R9r-4TWEcS3nB2tKSepehPKAX0E--"},
		{"hello.txt", P "FWb0goWUg9K-KEQVo0AwdqUZJ7MOcZ8R9r-4tSbUunofvG41c8wygey5LU--"},
		{"size-12345.bin", P "FWb0goWUg9K-KEQVo0AwdqUZJ7MOcZ8R9r-4.t9R9pmoGyoLoXx0hjNHWk--"},
		{"notes.txt", P "FWb0goWUg9K-KEQVo0AwdqUZJ7MOcZ8R9r-4ct-zqK.BW7WiZ5.G3QC0Kk--"},
	};
	char dir[4096], hex[ECFS_SIG_HEX];
	struct ecfs_fnek *fn;

	if (!corpus_dir("e-private-wrapped", dir, sizeof(dir)))
		skip();
	fn = fnek_aes(&K->private_e, 16);
	ecfs_sig_to_hex(ecfs_fnek_sig(fn), hex);
	assert_string_equal(hex, "c2b348a0b0b58059");
	for (size_t i = 0; i < sizeof(e) / sizeof(e[0]); i++)
		check_pair(fn, e[i].name, e[i].lower);
	ecfs_fnek_free(fn);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64_edges),
		cmocka_unit_test(test_fnek_index),
		cmocka_unit_test(test_b64_invalid_chars),
		cmocka_unit_test(test_b64_roundtrip_every_length),
		cmocka_unit_test(test_vector_testfile_aes),
		cmocka_unit_test(test_vector_intermediates),
		cmocka_unit_test(test_vector_iqb_ascii_salt),
		cmocka_unit_test(test_lengths_block16),
		cmocka_unit_test(test_lengths_block8),
		cmocka_unit_test(test_long_plaintext_two_byte_length),
		cmocka_unit_test(test_targets),
		cmocka_unit_test(test_roundtrip_every_cipher),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_encrypt_refuses),
		cmocka_unit_test(test_fnek_new_refuses),
		cmocka_unit_test(test_decrypt_enokey),
		cmocka_unit_test(test_decrypt_cipher_from_code),
		cmocka_unit_test(test_decrypt_einval),
		cmocka_unit_test(test_decrypt_bad_plaintext),
		cmocka_unit_test(test_decrypt_fek_prefix),
		cmocka_unit_test(test_garbage_never_crashes),
		cmocka_unit_test(test_corpus_b_kernel_names),
		cmocka_unit_test(test_corpus_e_private_names),
	};
	return cmocka_run_group_tests_name("ecfs-name", tests, group_setup,
					   group_teardown);
}
