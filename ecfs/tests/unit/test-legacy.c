// SPDX-License-Identifier: MIT
/* test-legacy.c - lib/legacy.c: Private.sig parsing (table-driven), the
 * Synology .key vector of legacy-ecryptfs.md §1.4, the auth-token layout
 * (offsets of ecryptfs-format.md §1, round trip), Synology's size copy on a
 * real file's xattr, and the crouton key-file split.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <cmocka.h>

#include "ecfs.h"

static size_t unhex(const char *hex, uint8_t *out)
{
	size_t n = 0;

	for (; hex[0] && hex[1]; hex += 2)
		sscanf(hex, "%2hhx", &out[n++]);
	return n;
}

static void test_private_sig_table(void **state)
{
	static const struct {
		const char *text;
		int want;		/* count, or -errno */
	} cases[] = {
		{ "41969f3a42c59455\nc2b348a0b0b58059\n", 2 },
		{ "41969f3a42c59455\n", 1 },
		{ "41969f3a42c59455", 1 },
		{ "41969F3A42C59455  trailing\n", 1 },
		{ "41969f3a42c59455\n\n", 1 },
		{ "41969f3a42c59455\nc2b348a0b0b58059\nextra\n", 2 },
		{ "", -EINVAL },
		{ "41969f3a42c5945\n", -EINVAL },
		{ "41969f3a42c59455\nnothex0000000000\n", -EINVAL },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t sigs[2][ECFS_SIG_BYTES];
		struct ob_err err = {0};
		int rc = ecfs_private_sig_parse(cases[i].text, strlen(cases[i].text), sigs, &err);

		if (rc != cases[i].want)
			fail_msg("case %zu: got %d want %d", i, rc, cases[i].want);
		if (rc < 0)
			assert_true(err.msg[0] != '\0');	/* a failure says why */
		if (rc >= 1) {
			char hex[ECFS_SIG_HEX];

			ecfs_sig_to_hex(sigs[0], hex);
			assert_string_equal(hex, "41969f3a42c59455");
		}
	}
}

static void test_synology_key_vector(void **state)
{
	uint8_t file[64];
	size_t n = unhex("3332333338326233633466316336643231b2f8ad3a6454ea8738af537d132b28", file);
	char pass[ECFS_MAX_PASSPHRASE + 1];
	struct ob_err err = {0};

	(void)state;
	assert_true(ecfs_syno_key_probe(file, n));
	assert_int_equal(ecfs_syno_key_unwrap(file, n, pass, &err), 0);
	assert_string_equal(pass, "Secret-Key-123");
	/* An ordinary wrapped file is not taken for a Synology key... */
	memcpy(file, "0000000000000000", 16);
	assert_false(ecfs_syno_key_probe(file, n));
	assert_int_equal(ecfs_syno_key_unwrap(file, n, pass, &err), -EKEYREJECTED);
	/* ...and an OpenSSL blob is named for what it is. */
	memcpy(file, "Salted__", 8);
	assert_int_equal(ecfs_syno_key_unwrap(file, n, pass, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "Salted__"));
}

static void test_auth_tok_layout_and_round_trip(void **state)
{
	struct ecfs_key k, back;
	uint8_t tok[ECFS_AUTH_TOK_BYTES];
	struct ob_err err = {0};
	uint16_t v16;
	uint32_t v32;

	(void)state;
	assert_int_equal(ecfs_key_derive(&k, "test pass 1", 11, ecfs_default_salt, &err), 0);
	ecfs_auth_tok_pack(&k, tok);
	memcpy(&v16, tok + 0, 2);
	assert_int_equal(v16, 0x0004);
	memcpy(&v32, tok + 632, 4);
	assert_int_equal(v32, 10);			/* PGP SHA-512 */
	memcpy(&v32, tok + 640, 4);
	assert_int_equal(v32, 64);
	memcpy(&v32, tok + 644, 4);
	assert_int_equal(v32, 2);			/* KEK set */
	assert_memory_equal(tok + 648, k.kek, 64);
	assert_memory_equal(tok + 712, "239d63b4eac0878b", 17);	/* ecfs sig of it, + NUL */
	assert_memory_equal(tok + 729, ecfs_default_salt, 8);
	assert_int_equal(ecfs_auth_tok_unpack(tok, sizeof(tok), &back, &err), 0);
	assert_memory_equal(&back, &k, sizeof(k));
	tok[0] = 5;
	assert_int_equal(ecfs_auth_tok_unpack(tok, sizeof(tok), &back, &err), -EINVAL);
	assert_int_equal(ecfs_auth_tok_unpack(tok, 739, &back, &err), -EINVAL);
}

static void test_synology_size_copy(void **state)
{
	char path[] = "/tmp/test-legacy-XXXXXX";
	int fd = mkstemp(path);
	uint8_t v[16] = {0}, got[16];
	uint64_t size = 0;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(ecfs_syno_size_read(fd, &size), 0);		/* none */
	assert_int_equal(ecfs_syno_size_sync(fd, 5, NULL), 0);
	v[7] = 100;
	memset(v + 8, 0x11, 8);
	if (fsetxattr(fd, ECFS_XATTR_NAME, v, 16, 0)) {
		close(fd);
		unlink(path);
		skip();						/* no user xattrs here */
	}
	assert_int_equal(ecfs_syno_size_read(fd, &size), 1);
	assert_int_equal(size, 100);
	assert_int_equal(ecfs_syno_size_sync(fd, 6000, NULL), 1);
	assert_int_equal(fgetxattr(fd, ECFS_XATTR_NAME, got, sizeof(got)), 16);
	assert_int_equal(got[6], 6000 >> 8);
	assert_int_equal(got[7], 6000 & 0xff);
	assert_memory_equal(got + 8, v + 8, 8);			/* marker kept */
	assert_int_equal(ecfs_syno_size_sync(fd, 6000, NULL), 0);	/* already right */
	/* A full xattr-mode header is not a copy: left alone. */
	uint8_t full[64] = {0};
	assert_int_equal(fsetxattr(fd, ECFS_XATTR_NAME, full, sizeof(full), 0), 0);
	assert_int_equal(ecfs_syno_size_read(fd, &size), 0);
	assert_int_equal(ecfs_syno_size_sync(fd, 1, NULL), 0);
	close(fd);
	unlink(path);
}

static void test_crouton_split(void **state)
{
	uint8_t buf[200];
	const uint8_t *parts[2];
	struct ob_err err = {0};

	(void)state;
	memset(buf, 'x', sizeof(buf));
	buf[0] = '\n';
	memcpy(buf + 1 + 39, "0123456789abcdef", 16);
	memcpy(buf + 1 + 39 + 80, "fedcba9876543210", 16);
	assert_int_equal(ecfs_crouton_keyfile_split(buf + 1, 199, parts, &err), 0);
	assert_ptr_equal(parts[0], buf + 40);
	assert_ptr_equal(parts[1], buf + 120);
	assert_int_equal(ecfs_crouton_keyfile_split(buf, 100, parts, &err), -EINVAL);
	buf[125] = 'z';
	assert_int_equal(ecfs_crouton_keyfile_split(buf + 1, 199, parts, &err), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_private_sig_table),
		cmocka_unit_test(test_synology_key_vector),
		cmocka_unit_test(test_auth_tok_layout_and_round_trip),
		cmocka_unit_test(test_synology_size_copy),
		cmocka_unit_test(test_crouton_split),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
