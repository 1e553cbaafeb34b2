// SPDX-License-Identifier: MIT
/* test-format.c - known answers for keys, headers, packets, FEKs and IVs.
 *
 * Vectors from shared/spec/ecryptfs-format.md §14 (checked there against
 * files written by the real kernel), plus hostile-header cases: every
 * malformed header must give -EINVAL with a reason, never a crash.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "ecfs.h"
#include "ecfs-int.h"

static void unhex(const char *hex, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		sscanf(hex + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

static void assert_hex(const uint8_t *got, const char *want_hex)
{
	size_t n = strlen(want_hex) / 2;
	uint8_t *want = malloc(n);

	unhex(want_hex, want, n);
	assert_memory_equal(got, want, n);
	free(want);
}

static void derive(const char *pass, const uint8_t *salt, struct ecfs_key *k)
{
	assert_int_equal(ecfs_key_derive(k, pass, strlen(pass), salt, NULL), 0);
}

/* §14.1 */
static void test_key_derivation_vectors(void **state)
{
	struct ecfs_key k;
	char hex[ECFS_SIG_HEX];

	derive("Test", ecfs_default_salt, &k);
	ecfs_sig_to_hex(k.sig, hex);
	assert_string_equal(hex, "3515cca9baaea1f4");
	assert_hex(k.kek, "0f38a537ffd1804fb13c6ce714b09c7ba1ef58961f63f01d1355a24b752effcd"
		   "1d9842eab112238ad1f5790883feb891b5dd7fb48b8aff20a1ae9e01c711b7ea");
	derive("Password", ecfs_default_salt, &k);
	ecfs_sig_to_hex(k.sig, hex);
	assert_string_equal(hex, "326bd307c877876f");
	derive("test", ecfs_fnek_salt, &k);
	ecfs_sig_to_hex(k.sig, hex);
	assert_string_equal(hex, "be877764c5918621");
	derive("Test", ecfs_fnek_salt, &k);
	ecfs_sig_to_hex(k.sig, hex);
	assert_string_equal(hex, "37b7af1b2b2ef27a");
}

static void test_key_limits(void **state)
{
	struct ecfs_key k;
	struct ob_err err = {0};
	char long_pass[66];

	memset(long_pass, 'a', 65);
	long_pass[65] = 0;
	assert_int_equal(ecfs_key_derive(&k, "", 0, ecfs_default_salt, &err), -EINVAL);
	assert_int_equal(ecfs_key_derive(&k, long_pass, 65, ecfs_default_salt, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "1 to 64 bytes"));
	assert_int_equal(ecfs_key_derive(&k, long_pass, 64, ecfs_default_salt, NULL), 0);
}

static void test_sig_hex(void **state)
{
	uint8_t sig[8];
	char hex[ECFS_SIG_HEX];

	assert_int_equal(ecfs_sig_from_hex("2011849452C26F92", sig), 0);
	ecfs_sig_to_hex(sig, hex);
	assert_string_equal(hex, "2011849452c26f92");
	assert_int_equal(ecfs_sig_from_hex("2011849452c26f9", sig), -EINVAL);
	assert_int_equal(ecfs_sig_from_hex("2011849452c26f9g", sig), -EINVAL);
}

static void test_rc_salt(void **state)
{
	char path[] = "/tmp/ecfs-rc-XXXXXX";
	uint8_t salt[8];
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	fprintf(f, "# comment\nsalt = 5a175a175a175a17\n");
	fclose(f);
	assert_int_equal(ecfs_rc_salt(path, salt, NULL), 1);
	assert_hex(salt, "5a175a175a175a17");
	f = fopen(path, "w");
	fprintf(f, "salt=xyz\n");
	fclose(f);
	assert_int_equal(ecfs_rc_salt(path, salt, NULL), -EINVAL);
	/* A salt= past column 511 of a comment is still a comment. */
	f = fopen(path, "w");
	fprintf(f, "#");
	for (int i = 0; i < 510; i++)	/* fgets(512) would split here */
		fputc('x', f);
	fprintf(f, "salt=5a175a175a175a17\n");
	fclose(f);
	assert_int_equal(ecfs_rc_salt(path, salt, NULL), 0);
	unlink(path);
	assert_int_equal(ecfs_rc_salt(path, salt, NULL), 0);
	assert_memory_equal(salt, ecfs_default_salt, 8);
}

static void test_packet_length(void **state)
{
	uint8_t b[2];
	size_t len;

	assert_int_equal(ecfs_packet_len_write(b, 191), 1);
	assert_int_equal(b[0], 191);
	assert_int_equal(ecfs_packet_len_write(b, 192), 2);
	assert_int_equal(b[0], 192);
	assert_int_equal(b[1], 0);
	assert_int_equal(ecfs_packet_len_parse(b, 2, &len), 2);
	assert_int_equal(len, 192);
	assert_int_equal(ecfs_packet_len_write(b, 266), 2);	/* Tag 1, RSA-2048 */
	assert_int_equal(ecfs_packet_len_parse(b, 2, &len), 2);
	assert_int_equal(len, 266);
	assert_int_equal(ecfs_packet_len_write(b, 8383), 2);
	assert_int_equal(ecfs_packet_len_parse(b, 2, &len), 2);
	assert_int_equal(len, 8383);
	assert_int_equal(ecfs_packet_len_write(b, 8384), -EINVAL);
	b[0] = 224;
	assert_int_equal(ecfs_packet_len_parse(b, 2, &len), -EINVAL);
	b[0] = 200;
	assert_int_equal(ecfs_packet_len_parse(b, 1, &len), -EINVAL);
}

/* §2.2: a kernel-written AES-128 header, passphrase "Test". */
static const char example_header[] =
	"000000000000000c378881cc0b093639"
	"0300000200001000 00028c1d04070301"
	"0011223344556677604048 11d3601cad"
	"796515bd4f09f7cac0ed1662085f434f"
	"4e534f4c45000000003515cca9baaea1"
	"f400";

static size_t load_example(uint8_t *buf, size_t cap)
{
	size_t n = 0;

	memset(buf, 0, cap);
	for (const char *p = example_header; *p; ) {
		unsigned v;

		if (*p == ' ') {
			p++;
			continue;
		}
		sscanf(p, "%2x", &v);
		buf[n++] = (uint8_t)v;
		p += 2;
	}
	return n;
}

static void test_header_parse_example(void **state)
{
	uint8_t buf[8192];
	struct ecfs_header h;
	struct ecfs_keyset *ks = ecfs_keyset_new();
	struct ecfs_key k;
	struct ecfs_fek *fek = NULL;
	uint8_t iv[16];

	load_example(buf, sizeof(buf));
	assert_true(ecfs_header_probe(buf, sizeof(buf)));
	assert_int_equal(ecfs_header_parse(buf, sizeof(buf), false, &h, NULL), 0);
	assert_int_equal(h.size, 12);
	assert_int_equal(h.version, 3);
	assert_int_equal(h.flags, ECFS_FLAG_ENCRYPTED);
	assert_int_equal(h.data_offset, 8192);
	assert_int_equal(h.npackets, 1);
	assert_int_equal(h.packets[0].cipher_code, ECFS_CIPHER_AES_128);
	assert_int_equal(h.packets[0].ekey_len, 16);
	assert_hex(h.packets[0].sig, "3515cca9baaea1f4");

	derive("Test", ecfs_default_salt, &k);
	ecfs_keyset_add(ks, &k);
	assert_int_equal(ecfs_fek_unwrap(&h, ks, &fek, NULL, NULL), 0);
	/* §14.2 intermediates */
	ecfs_fek_extent_iv(fek, 0, iv);
	assert_hex(iv, "8f4f3411dacaa96027fc8662abd77f1c");
	ecfs_fek_extent_iv(fek, 1, iv);
	assert_hex(iv, "3f0395fee13a45dfa4648efd325e1950");
	ecfs_fek_extent_iv(fek, 10, iv);
	assert_hex(iv, "71777bcc41b994ea14b14ed3de8d0682");
	assert_int_equal(ecfs_fek_key_bytes(fek), 16);
	ecfs_fek_free(fek);
	ecfs_keyset_free(ks);
}

static void test_header_roundtrip(void **state)
{
	uint8_t buf[8192], again[8192];
	struct ecfs_header h, h2;
	ssize_t n;

	load_example(buf, sizeof(buf));
	assert_int_equal(ecfs_header_parse(buf, sizeof(buf), false, &h, NULL), 0);
	n = ecfs_header_write(&h, again, sizeof(again), NULL);
	assert_int_equal(n, 8192);
	assert_memory_equal(buf, again, 8192);
	/* xattr form: 26 + 31 + 24 bytes, no terminator, data at 0. */
	h.in_xattr = true;
	h.flags |= ECFS_FLAG_METADATA_IN_XATTR;
	n = ecfs_header_write(&h, again, sizeof(again), NULL);
	assert_int_equal(n, 81);
	assert_int_equal(ecfs_header_parse(again, (size_t)n, true, &h2, NULL), 0);
	assert_int_equal(h2.data_offset, 0);
	assert_int_equal(h2.npackets, 1);
	assert_int_equal(h2.size, 12);
}

static void test_wrong_key_and_missing_key(void **state)
{
	uint8_t buf[8192];
	struct ecfs_header h;
	struct ecfs_keyset *ks = ecfs_keyset_new();
	struct ecfs_key k;
	struct ecfs_fek *fek = NULL;
	struct ob_err err = {0};

	load_example(buf, sizeof(buf));
	assert_int_equal(ecfs_header_parse(buf, sizeof(buf), false, &h, NULL), 0);
	derive("Wrong", ecfs_default_salt, &k);
	ecfs_keyset_add(ks, &k);
	assert_int_equal(ecfs_fek_unwrap(&h, ks, &fek, NULL, &err), -ENOKEY);
	assert_non_null(strstr(err.msg, "3515cca9baaea1f4"));
	ecfs_keyset_free(ks);
}

/* Every malformed header is refused with a reason. */
static void test_hostile_headers(void **state)
{
	uint8_t good[8192], buf[8192];
	struct ecfs_header h;
	struct ob_err err;
	size_t n = load_example(good, sizeof(good));
	struct {
		size_t off;
		uint8_t val;
		const char *reason;
	} cases[] = {
		{ 12, 0x00, "marker" },
		{ 16, 0x04, "version" },
		{ 22, 0x00, "header region" },		/* extent size 0 -> region 0 */
		{ 26, 0xed, "Tag 11" },
		{ 27, 0xff, "length" },
		{ 27, 0xc0, "version" },		/* 2-byte length shifts the fields */
		{ 28, 0x05, "version" },
		{ 30, 0x02, "S2K" },
		{ 57, 0x00, "Tag 11" },
		{ 58, 0x15, "Tag 11" },
		{ 26, 0x00, "no key packets" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(buf, good, sizeof(buf));
		buf[cases[i].off] = cases[i].val;
		memset(&err, 0, sizeof(err));
		assert_int_equal(ecfs_header_parse(buf, sizeof(buf), false, &h, &err), -EINVAL);
		if (!strstr(err.msg, cases[i].reason))
			fail_msg("case %zu: reason '%s' lacks '%s'", i, err.msg, cases[i].reason);
	}
	/* Truncated at every length: never reads past the buffer (ASan). */
	for (size_t len = 0; len + 1 < n; len++) {
		uint8_t *p = malloc(len ? len : 1);

		memcpy(p, good, len);
		assert_int_equal(ecfs_header_parse(p, len, false, &h, NULL), -EINVAL);
		free(p);
	}
}

static void test_version0_and_old_extent_fields(void **state)
{
	uint8_t buf[8192];
	struct ecfs_header h;

	/* 2.6.2x kernels wrote 8192 x 1. */
	load_example(buf, sizeof(buf));
	ecfs_put_be32(buf + 20, 8192);
	ecfs_put_be16(buf + 24, 1);
	assert_int_equal(ecfs_header_parse(buf, sizeof(buf), false, &h, NULL), 0);
	assert_int_equal(h.data_offset, 8192);
	/* 64 KiB-page hosts: 4096 x 16. */
	ecfs_put_be32(buf + 20, 4096);
	ecfs_put_be16(buf + 24, 16);
	assert_int_equal(ecfs_header_parse(buf, sizeof(buf), false, &h, NULL), 0);
	assert_int_equal(h.data_offset, 65536);
	/* Version 0: packets at 20, region 8192. */
	load_example(buf, sizeof(buf));
	memmove(buf + 20, buf + 26, 60);
	buf[16] = 0;
	assert_int_equal(ecfs_header_parse(buf, sizeof(buf), false, &h, NULL), 0);
	assert_int_equal(h.version, 0);
	assert_int_equal(h.data_offset, 8192);
	assert_int_equal(h.npackets, 1);
}

/* Create with two keys for every cipher: each key alone opens the file,
 * extents round-trip, and the wrapped key sizes match the kernel's. */
static void test_fek_create_every_cipher(void **state)
{
	const struct ecfs_cipher_info *list;
	size_t n = ecfs_cipher_list(&list);
	struct ecfs_key k1, k2;

	derive("one", ecfs_default_salt, &k1);
	derive("two", ecfs_default_salt, &k2);
	for (size_t i = 0; i < n; i++) {
		struct ecfs_keyset *both = ecfs_keyset_new(), *only2 = ecfs_keyset_new();
		struct ecfs_header h, parsed;
		struct ecfs_fek *fek = NULL, *fek2 = NULL;
		uint8_t hdr[8192];
		uint8_t plain[2 * 4096], enc[2 * 4096], dec[2 * 4096];
		int which = -1;

		ecfs_keyset_add(both, &k1);
		ecfs_keyset_add(both, &k2);
		ecfs_keyset_add(only2, &k2);
		assert_int_equal(ecfs_header_init(&h, false, false, NULL), 0);
		assert_int_equal(ecfs_fek_create(&list[i], 0, both, &h, &fek, NULL), 0);
		assert_int_equal(h.npackets, 2);
		if (list[i].code == ECFS_CIPHER_AES_192)
			assert_int_equal(h.packets[0].ekey_len, 32);
		else
			assert_int_equal(h.packets[0].ekey_len, list[i].key_default);
		assert_int_equal(ecfs_header_write(&h, hdr, sizeof(hdr), NULL), 8192);
		assert_int_equal(ecfs_header_parse(hdr, sizeof(hdr), false, &parsed, NULL), 0);
		assert_int_equal(ecfs_fek_unwrap(&parsed, only2, &fek2, &which, NULL), 0);
		assert_int_equal(which, 1);
		for (size_t j = 0; j < sizeof(plain); j++)
			plain[j] = (uint8_t)(j * 7 + i);
		assert_int_equal(ecfs_fek_crypt_extents(fek, true, 41, plain, enc, 2), 0);
		assert_memory_not_equal(plain, enc, sizeof(plain));
		assert_int_equal(ecfs_fek_crypt_extents(fek2, false, 41, enc, dec, 2), 0);
		assert_memory_equal(plain, dec, sizeof(plain));
		ecfs_fek_free(fek);
		ecfs_fek_free(fek2);
		ecfs_keyset_free(both);
		ecfs_keyset_free(only2);
	}
}

/* Tag 1 (public key) packets: parsed, written back verbatim (two-byte
 * length for an RSA-2048 blob), reported, and refused for opening. */
static void test_tag1_packets(void **state)
{
	uint8_t hdr[8192];
	struct ecfs_header h, parsed;
	struct ecfs_keyset *ks = ecfs_keyset_new();
	struct ecfs_key k;
	struct ecfs_fek *fek = NULL;
	struct ob_err err = {0};

	assert_int_equal(ecfs_header_init(&h, false, false, NULL), 0);
	h.npackets = 1;
	h.packets[0].tag = ECFS_PKT_TAG1;
	memcpy(h.packets[0].sig, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	h.packets[0].ekey_len = 256;
	memset(h.packets[0].ekey, 0x5a, 256);
	assert_int_equal(ecfs_header_write(&h, hdr, sizeof(hdr), NULL), 8192);
	assert_int_equal(hdr[26], 0x01);
	assert_int_equal(hdr[27], 192);		/* 266 = (192-192)*256 + 74 + 192 */
	assert_int_equal(hdr[28], 74);
	assert_int_equal(hdr[29], 0x03);
	assert_int_equal(ecfs_header_parse(hdr, sizeof(hdr), false, &parsed, NULL), 0);
	assert_int_equal(parsed.npackets, 1);
	assert_int_equal(parsed.packets[0].tag, ECFS_PKT_TAG1);
	assert_int_equal(parsed.packets[0].ekey_len, 256);
	assert_memory_equal(parsed.packets[0].sig, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	derive("Test", ecfs_default_salt, &k);
	ecfs_keyset_add(ks, &k);
	assert_int_equal(ecfs_fek_unwrap(&parsed, ks, &fek, NULL, &err), -EOPNOTSUPP);
	assert_non_null(strstr(err.msg, "Tag 1"));
	ecfs_keyset_free(ks);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_derivation_vectors),
		cmocka_unit_test(test_key_limits),
		cmocka_unit_test(test_sig_hex),
		cmocka_unit_test(test_rc_salt),
		cmocka_unit_test(test_packet_length),
		cmocka_unit_test(test_header_parse_example),
		cmocka_unit_test(test_header_roundtrip),
		cmocka_unit_test(test_wrong_key_and_missing_key),
		cmocka_unit_test(test_hostile_headers),
		cmocka_unit_test(test_version0_and_old_extent_fields),
		cmocka_unit_test(test_fek_create_every_cipher),
		cmocka_unit_test(test_tag1_packets),
	};
	return cmocka_run_group_tests_name("ecfs-format", tests, NULL, NULL);
}
