// SPDX-License-Identifier: MIT
/* test-cipher.c - every eCryptfs cipher against published known answers,
 * CBC semantics (in place, 8-byte IVs), lookups, argument errors, and many
 * threads sharing one ckey.  Everything goes through the public ecfs_ckey_*
 * API, so these also check the table-to-backend wiring in cipher.c. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ecfs.h"

/* ------------------------------------------------------------- helpers */

static size_t unhex(const char *s, uint8_t *out, size_t max)
{
	size_t n = 0;

	while (*s) {
		unsigned int v;

		if (*s == ' ') {
			s++;
			continue;
		}
		assert_true(n < max);
		assert_int_equal(sscanf(s, "%2x", &v), 1);
		out[n++] = (uint8_t)v;
		s += 2;
	}
	return n;
}

static struct ecfs_ckey *ckey_or_fail(const struct ecfs_cipher_info *ci,
				      const uint8_t *key, size_t len)
{
	struct ecfs_ckey *ck = NULL;
	struct ob_err err = {0};
	int rc;

	assert_non_null(ci);
	rc = ecfs_ckey_new(ci, key, len, &ck, &err);
	if (rc)
		fail_msg("%s/%zu: ecfs_ckey_new: %d (%s)", ci->name, len, rc,
			 err.msg);
	/* always the table's entry, also when ci is a copy of it */
	assert_ptr_equal(ecfs_ckey_cipher(ck), ecfs_cipher_by_code(ci->code));
	return ck;
}

/* A deterministic, non-repeating pattern for keys and plaintexts. */
static void fill(uint8_t *p, size_t len, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}

/* ------------------------------------------------- known-answer tests */

struct kat {
	const char *src;	/* where the vector is published */
	const char *cipher;
	const char *key, *pt, *ct;
	const char *iv;		/* NULL: ECB; else CBC from this IV */
};

static const struct kat kats[] = {
	/* FIPS-197 Appendix C.1-C.3 */
	{ "FIPS-197 C.1", "aes", "000102030405060708090a0b0c0d0e0f",
	  "00112233445566778899aabbccddeeff",
	  "69c4e0d86a7b0430d8cdb78070b4c55a", NULL },
	{ "FIPS-197 C.2", "aes",
	  "000102030405060708090a0b0c0d0e0f1011121314151617",
	  "00112233445566778899aabbccddeeff",
	  "dda97ca4864cdfe06eaf70a0ec0d7191", NULL },
	{ "FIPS-197 C.3", "aes",
	  "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
	  "00112233445566778899aabbccddeeff",
	  "8ea2b7ca516745bfeafc49904b496089", NULL },
	/* NIST SP 800-38A F.2.1 / F.2.2 CBC-AES128 */
	{ "SP 800-38A F.2.1", "aes", "2b7e151628aed2a6abf7158809cf4f3c",
	  "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51"
	  "30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710",
	  "7649abac8119b246cee98e9b12e9197d 5086cb9b507219ee95db113a917678b2"
	  "73bed6b8e3c1743b7116e69e22229516 3ff1caa1681fac09120eca307586e1a7",
	  "000102030405060708090a0b0c0d0e0f" },

	/* NIST SP 800-67 Rev. 1 B.1: "The qufck brown fox jump" */
	{ "SP 800-67 B.1", "des3_ede",
	  "0123456789abcdef 23456789abcdef01 456789abcdef0123",
	  "5468652071756663 6b2062726f776e20 666f78206a756d70",
	  "a826fd8ce53b855f cce21c8112256fe6 68d5c05dd9b6b900", NULL },

	/* Eric Young's Blowfish vectors (Schneier's page): variable key and
	 * set_key tests, and the CBC chaining test ("7654321 Now is the time
	 * for " with its NUL, zero-padded to 32 bytes; 8-byte IV). */
	{ "Blowfish ecb #1", "blowfish", "0000000000000000",
	  "0000000000000000", "4ef997456198dd78", NULL },
	{ "Blowfish ecb #2", "blowfish", "ffffffffffffffff",
	  "ffffffffffffffff", "51866fd5b85ecb8a", NULL },
	{ "Blowfish set_key k[16]", "blowfish",
	  "f0e1d2c3b4a5968778695a4b3c2d1e0f",
	  "fedcba9876543210", "93142887ee3be15c", NULL },
	{ "Blowfish set_key k[24]", "blowfish",
	  "f0e1d2c3b4a5968778695a4b3c2d1e0f0011223344556677",
	  "fedcba9876543210", "05044b62fa52d080", NULL },
	{ "Blowfish cbc", "blowfish", "0123456789abcdeff0e1d2c3b4a59687",
	  "37363534333231204e6f77206973207468652074696d6520666f722000000000",
	  "6b77b4d63006dee605b156e27403979358deb9e7154616d959f1652bd5ff92cc",
	  "fedcba9876543210" },
	/* Linux crypto/testmgr.h, 448-bit key */
	{ "Blowfish 448-bit (testmgr)", "blowfish",
	  "f0e1d2c3b4a5968778695a4b3c2d1e0f0011223344556677"
	  "04689104c2fd3b2f584023641aba61761f1f1f1f0e0e0e0e"
	  "ffffffffffffffff",
	  "fedcba9876543210", "c04504012e4e1f53", NULL },
	/* GnuPG: key "abcdefghijklmnopqrstuvwxyz", plaintext "BLOWFISH" */
	{ "Blowfish 208-bit (GnuPG)", "blowfish",
	  "6162636465666768696a6b6c6d6e6f707172737475767778797a",
	  "424c4f5746495348", "324ed0fef413a203", NULL },

	/* RFC 2144 B.1 */
	{ "RFC 2144 B.1 128-bit", "cast5", "0123456712345678234567893456789a",
	  "0123456789abcdef", "238b4fe5847e44b2", NULL },
	{ "RFC 2144 B.1 80-bit", "cast5", "01234567123456782345",
	  "0123456789abcdef", "eb6a711a2c02271b", NULL },
	{ "RFC 2144 B.1 40-bit", "cast5", "0123456712",
	  "0123456789abcdef", "7ac816d16e9b302e", NULL },

	/* Twofish paper, Appendix A.1 (ecb_tbl.txt I=1 and the counting keys) */
	{ "Twofish 128", "twofish", "00000000000000000000000000000000",
	  "00000000000000000000000000000000",
	  "9f589f5cf6122c32b6bfec2f2ae8c35a", NULL },
	{ "Twofish 192", "twofish",
	  "0123456789abcdeffedcba98765432100011223344556677",
	  "00000000000000000000000000000000",
	  "cfd1d2e5a9be9cdf501f13b892bd2248", NULL },
	{ "Twofish 256", "twofish",
	  "0123456789abcdeffedcba987654321000112233445566778899aabbccddeeff",
	  "00000000000000000000000000000000",
	  "37527be0052334b89f0cfccae87cfa20", NULL },

	/* RFC 2612 Appendix B */
	{ "RFC 2612 B 128-bit", "cast6", "2342bb9efa38542c0af75647f29f615d",
	  "00000000000000000000000000000000",
	  "c842a08972b43d20836c91d1b7530f6b", NULL },
	{ "RFC 2612 B 192-bit", "cast6",
	  "2342bb9efa38542cbed0ac83940ac298bac77a7717942863",
	  "00000000000000000000000000000000",
	  "1b386c0210dcadcbdd0e41aa08a7a7e8", NULL },
	{ "RFC 2612 B 256-bit", "cast6",
	  "2342bb9efa38542cbed0ac83940ac2988d7c47ce264908461cc1b5137ae6b604",
	  "00000000000000000000000000000000",
	  "4f6a2038286897b9c9870136553317fa", NULL },
};

static int kat_crypt(const struct ecfs_ckey *ck, const struct kat *k, bool enc,
		 const uint8_t *iv, const uint8_t *in, uint8_t *out,
		 size_t len)
{
	if (k->iv)
		return ecfs_ckey_cbc(ck, enc, iv, in, out, len);
	return ecfs_ckey_ecb(ck, enc, in, out, len);
}

/* Encrypt and decrypt, out of place and in place.  A published IV shorter
 * than 16 bytes (8-byte ciphers) is followed by junk the cipher must
 * ignore. */
static void run_kat(const struct kat *k)
{
	uint8_t key[64], pt[64], ct[64], buf[64], iv[ECFS_IV_BYTES];
	size_t klen, len;
	struct ecfs_ckey *ck;

	klen = unhex(k->key, key, sizeof(key));
	len = unhex(k->pt, pt, sizeof(pt));
	assert_int_equal(unhex(k->ct, ct, sizeof(ct)), len);
	memset(iv, 0xa5, sizeof(iv));
	if (k->iv)
		unhex(k->iv, iv, sizeof(iv));

	ck = ckey_or_fail(ecfs_cipher_by_name(k->cipher, klen), key, klen);
	assert_int_equal(kat_crypt(ck, k, true, iv, pt, buf, len), 0);
	if (memcmp(buf, ct, len) != 0)
		fail_msg("%s: encrypt does not match", k->src);
	assert_int_equal(kat_crypt(ck, k, false, iv, ct, buf, len), 0);
	if (memcmp(buf, pt, len) != 0)
		fail_msg("%s: decrypt does not match", k->src);

	memcpy(buf, pt, len);
	assert_int_equal(kat_crypt(ck, k, true, iv, buf, buf, len), 0);
	if (memcmp(buf, ct, len) != 0)
		fail_msg("%s: in-place encrypt does not match", k->src);
	assert_int_equal(kat_crypt(ck, k, false, iv, buf, buf, len), 0);
	if (memcmp(buf, pt, len) != 0)
		fail_msg("%s: in-place decrypt does not match", k->src);
	ecfs_ckey_free(ck);
}

static void run_kats(const char *cipher)
{
	size_t n = 0;

	for (size_t i = 0; i < sizeof(kats) / sizeof(kats[0]); i++) {
		if (strcmp(kats[i].cipher, cipher) != 0)
			continue;
		run_kat(&kats[i]);
		n++;
	}
	assert_true(n > 0);
}

static void test_kat_aes(void **state) { run_kats("aes"); }
static void test_kat_des3_ede(void **state) { run_kats("des3_ede"); }
static void test_kat_blowfish(void **state) { run_kats("blowfish"); }
static void test_kat_cast5(void **state) { run_kats("cast5"); }
static void test_kat_twofish(void **state) { run_kats("twofish"); }
static void test_kat_cast6(void **state) { run_kats("cast6"); }

/* ------------------------------------------------------ CBC semantics */

#define EXTENT ECFS_EXTENT_SIZE

/* Key sizes worth trying for one cipher: min, default, max. */
static size_t key_sizes(const struct ecfs_cipher_info *ci, size_t out[3])
{
	size_t n = 0;

	out[n++] = ci->key_min;
	if (ci->key_default != ci->key_min)
		out[n++] = ci->key_default;
	if (ci->key_max != ci->key_default)
		out[n++] = ci->key_max;
	return n;
}

/* CBC by hand over the cipher's ECB: the reference for ecfs_ckey_cbc. */
static void cbc_by_ecb(const struct ecfs_ckey *ck, const uint8_t *iv,
		       const uint8_t *in, uint8_t *out, size_t len)
{
	size_t bs = ecfs_ckey_cipher(ck)->block;
	uint8_t prev[16], x[16];

	memcpy(prev, iv, bs);
	for (size_t off = 0; off < len; off += bs) {
		for (size_t i = 0; i < bs; i++)
			x[i] = in[off + i] ^ prev[i];
		assert_int_equal(ecfs_ckey_ecb(ck, true, x, out + off, bs), 0);
		memcpy(prev, out + off, bs);
	}
}

/* Every cipher, every interesting key size: one 4096-byte extent survives
 * the round trip, equals CBC built by hand from ECB, and in == out gives
 * the same bytes as separate buffers. */
static void test_cbc_round_trip_every_cipher(void **state)
{
	const struct ecfs_cipher_info *list;
	size_t n = ecfs_cipher_list(&list);
	static uint8_t pt[EXTENT], ct[EXTENT], ref[EXTENT], buf[EXTENT];
	uint8_t key[ECFS_MAX_KEY_BYTES], iv[ECFS_IV_BYTES];

	fill(pt, sizeof(pt), 1);
	fill(iv, sizeof(iv), 2);
	for (size_t i = 0; i < n; i++) {
		size_t sizes[3], ns = key_sizes(&list[i], sizes);

		for (size_t s = 0; s < ns; s++) {
			struct ecfs_ckey *ck;

			fill(key, sizes[s], 3 + (uint32_t)i);
			ck = ckey_or_fail(&list[i], key, sizes[s]);
			assert_int_equal(ecfs_ckey_cbc(ck, true, iv, pt, ct,
						       EXTENT), 0);
			assert_memory_not_equal(ct, pt, 64);
			cbc_by_ecb(ck, iv, pt, ref, EXTENT);
			if (memcmp(ct, ref, EXTENT) != 0)
				fail_msg("%s/%zu: CBC differs from CBC over ECB",
					 list[i].name, sizes[s]);
			assert_int_equal(ecfs_ckey_cbc(ck, false, iv, ct, buf,
						       EXTENT), 0);
			if (memcmp(buf, pt, EXTENT) != 0)
				fail_msg("%s/%zu: round trip differs",
					 list[i].name, sizes[s]);

			/* in == out */
			memcpy(buf, pt, EXTENT);
			assert_int_equal(ecfs_ckey_cbc(ck, true, iv, buf, buf,
						       EXTENT), 0);
			if (memcmp(buf, ct, EXTENT) != 0)
				fail_msg("%s/%zu: in-place encrypt differs",
					 list[i].name, sizes[s]);
			assert_int_equal(ecfs_ckey_cbc(ck, false, iv, buf, buf,
						       EXTENT), 0);
			if (memcmp(buf, pt, EXTENT) != 0)
				fail_msg("%s/%zu: in-place decrypt differs",
					 list[i].name, sizes[s]);

			/* ECB round trip over the whole extent too */
			assert_int_equal(ecfs_ckey_ecb(ck, true, pt, buf,
						       EXTENT), 0);
			assert_int_equal(ecfs_ckey_ecb(ck, false, buf, buf,
						       EXTENT), 0);
			assert_memory_equal(buf, pt, EXTENT);
			ecfs_ckey_free(ck);
		}
	}
}

/* §5.2: 8-byte-block ciphers use only iv[0..7]; 16-byte ones all of it. */
static void test_cbc_iv_bytes_used(void **state)
{
	const struct ecfs_cipher_info *list;
	size_t n = ecfs_cipher_list(&list);
	uint8_t key[ECFS_MAX_KEY_BYTES], pt[64], a[64], b[64];
	uint8_t iv[ECFS_IV_BYTES], iv2[ECFS_IV_BYTES];

	fill(pt, sizeof(pt), 4);
	fill(iv, sizeof(iv), 5);
	for (size_t i = 0; i < n; i++) {
		const struct ecfs_cipher_info *ci = &list[i];
		struct ecfs_ckey *ck;

		fill(key, ci->key_default, 6);
		ck = ckey_or_fail(ci, key, ci->key_default);
		assert_int_equal(ecfs_ckey_cbc(ck, true, iv, pt, a, 64), 0);

		memcpy(iv2, iv, sizeof(iv2));
		for (size_t j = 8; j < ECFS_IV_BYTES; j++)
			iv2[j] ^= 0xff;
		assert_int_equal(ecfs_ckey_cbc(ck, true, iv2, pt, b, 64), 0);
		if (ci->block == 8)
			assert_memory_equal(a, b, 64);
		else
			assert_memory_not_equal(a, b, 16);

		memcpy(iv2, iv, sizeof(iv2));
		iv2[7] ^= 0x01;
		assert_int_equal(ecfs_ckey_cbc(ck, true, iv2, pt, b, 64), 0);
		assert_memory_not_equal(a, b, ci->block);
		ecfs_ckey_free(ck);
	}
}

/* ------------------------------------------------------------ lookups */

static void test_lookup_by_code_and_name(void **state)
{
	const struct ecfs_cipher_info *list, *ci;
	size_t n = ecfs_cipher_list(&list);

	assert_int_equal(n, 8);
	for (size_t i = 0; i < n; i++)
		assert_ptr_equal(ecfs_cipher_by_code(list[i].code), &list[i]);
	assert_null(ecfs_cipher_by_code(0x00));
	assert_null(ecfs_cipher_by_code(0x01));	/* RSA, Tag 1 only */
	assert_null(ecfs_cipher_by_code(0x05));
	assert_null(ecfs_cipher_by_code(0x0c));

	/* aes: one code per key size, 0 = the default (16) */
	ci = ecfs_cipher_by_name("aes", 0);
	assert_non_null(ci);
	assert_int_equal(ci->code, ECFS_CIPHER_AES_128);
	assert_int_equal(ci->key_default, 16);
	assert_int_equal(ci->block, 16);
	assert_int_equal(ecfs_cipher_by_name("aes", 16)->code, 0x07);
	assert_int_equal(ecfs_cipher_by_name("aes", 24)->code, 0x08);
	assert_int_equal(ecfs_cipher_by_name("aes", 32)->code, 0x09);
	assert_null(ecfs_cipher_by_name("aes", 8));
	assert_null(ecfs_cipher_by_name("aes", 20));
	assert_null(ecfs_cipher_by_name("aes", 64));

	struct { const char *name; uint8_t code, block, def; } want[] = {
		{ "des3_ede", 0x02, 8, 24 }, { "cast5", 0x03, 8, 16 },
		{ "blowfish", 0x04, 8, 16 }, { "twofish", 0x0a, 16, 16 },
		{ "cast6", 0x0b, 16, 16 },
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		ci = ecfs_cipher_by_name(want[i].name, 0);
		assert_non_null(ci);
		assert_string_equal(ci->name, want[i].name);
		assert_int_equal(ci->code, want[i].code);
		assert_int_equal(ci->block, want[i].block);
		assert_int_equal(ci->key_default, want[i].def);
		assert_ptr_equal(ecfs_cipher_by_name(want[i].name,
						     want[i].def), ci);
	}

	assert_non_null(ecfs_cipher_by_name("des3_ede", 24));
	assert_null(ecfs_cipher_by_name("des3_ede", 16));
	assert_non_null(ecfs_cipher_by_name("blowfish", 4));
	assert_non_null(ecfs_cipher_by_name("blowfish", 56));
	assert_null(ecfs_cipher_by_name("blowfish", 3));
	assert_null(ecfs_cipher_by_name("blowfish", 57));
	assert_non_null(ecfs_cipher_by_name("cast5", 5));
	assert_null(ecfs_cipher_by_name("cast5", 4));
	assert_null(ecfs_cipher_by_name("cast5", 17));
	assert_non_null(ecfs_cipher_by_name("twofish", 24));
	assert_non_null(ecfs_cipher_by_name("cast6", 32));
	assert_null(ecfs_cipher_by_name("twofish", 20));
	assert_null(ecfs_cipher_by_name("cast6", 64));
	assert_null(ecfs_cipher_by_name("serpent", 0));
	assert_null(ecfs_cipher_by_name("AES", 0));
	assert_null(ecfs_cipher_by_name(NULL, 0));
}

/* A copy of a table entry still finds its backend (by code). */
static void test_ckey_from_info_copy(void **state)
{
	struct ecfs_cipher_info copy = *ecfs_cipher_by_code(0x0a);
	uint8_t key[16] = {0}, pt[16] = {0}, ct[16], want[16];
	struct ecfs_ckey *ck;

	ck = ckey_or_fail(&copy, key, 16);
	unhex("9f589f5cf6122c32b6bfec2f2ae8c35a", want, sizeof(want));
	assert_int_equal(ecfs_ckey_ecb(ck, true, pt, ct, 16), 0);
	assert_memory_equal(ct, want, 16);
	ecfs_ckey_free(ck);
}

/* ------------------------------------------------------ argument errors */

static void test_bad_length_is_einval(void **state)
{
	const struct ecfs_cipher_info *list;
	size_t n = ecfs_cipher_list(&list);
	uint8_t key[ECFS_MAX_KEY_BYTES] = {0}, buf[64] = {0};
	uint8_t iv[ECFS_IV_BYTES] = {0};

	for (size_t i = 0; i < n; i++) {
		struct ecfs_ckey *ck;
		size_t bs = list[i].block;

		ck = ckey_or_fail(&list[i], key, list[i].key_default);
		assert_int_equal(ecfs_ckey_ecb(ck, true, buf, buf, bs - 1),
				 -EINVAL);
		assert_int_equal(ecfs_ckey_ecb(ck, false, buf, buf, bs + 1),
				 -EINVAL);
		assert_int_equal(ecfs_ckey_cbc(ck, true, iv, buf, buf, 12),
				 -EINVAL);
		assert_int_equal(ecfs_ckey_cbc(ck, false, iv, buf, buf, 33),
				 -EINVAL);
		if (bs == 16)
			assert_int_equal(ecfs_ckey_cbc(ck, true, iv, buf, buf,
						       8), -EINVAL);
		assert_int_equal(ecfs_ckey_ecb(ck, true, buf, buf, 0), 0);
		assert_int_equal(ecfs_ckey_cbc(ck, true, iv, buf, buf, 0), 0);
		ecfs_ckey_free(ck);
	}
}

/* A wrong key size is -EINVAL with a reason naming the cipher and the
 * size, never the key; *out is left alone. */
static void test_bad_key_size(void **state)
{
	struct ecfs_ckey *ck = NULL;
	struct ob_err err = {0};
	uint8_t key[ECFS_MAX_KEY_BYTES];

	memset(key, 0x41, sizeof(key));		/* would show up as "AAAA" */
	assert_int_equal(ecfs_ckey_new(ecfs_cipher_by_code(0x07), key, 24,
				       &ck, &err), -EINVAL);
	assert_null(ck);
	assert_int_equal(err.code, -EINVAL);
	assert_non_null(strstr(err.msg, "aes"));
	assert_non_null(strstr(err.msg, "24"));
	assert_null(strstr(err.msg, "AAAA"));
	assert_null(strstr(err.msg, "4141"));

	assert_int_equal(ecfs_ckey_new(ecfs_cipher_by_code(0x04), key, 57,
				       &ck, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "blowfish"));
	assert_int_equal(ecfs_ckey_new(ecfs_cipher_by_code(0x0b), key, 20,
				       &ck, &err), -EINVAL);
	assert_int_equal(ecfs_ckey_new(ecfs_cipher_by_code(0x02), key, 16,
				       &ck, NULL), -EINVAL);
	assert_null(ck);
	ecfs_ckey_free(NULL);
}

/* -------------------------------------------------------------- threads */

#define THREADS		4
#define MSGS		8	/* distinct extents each thread cycles through */
#define ROUNDS		1000	/* encrypt + decrypt per message slot */

struct shared {
	const struct ecfs_ckey *ck;
	uint8_t pt[THREADS][MSGS][EXTENT];
	uint8_t ct[THREADS][MSGS][EXTENT];	/* single-threaded reference */
	uint8_t iv[THREADS][MSGS][ECFS_IV_BYTES];
	pthread_barrier_t start;
};

struct worker {
	struct shared *sh;
	int id;
	int bad;		/* mismatches or errors seen */
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	uint8_t buf[EXTENT];

	pthread_barrier_wait(&sh->start);
	for (int r = 0; r < ROUNDS; r++) {
		int m = (r + w->id) % MSGS;

		if (ecfs_ckey_cbc(sh->ck, true, sh->iv[w->id][m],
				  sh->pt[w->id][m], buf, EXTENT) != 0 ||
		    memcmp(buf, sh->ct[w->id][m], EXTENT) != 0)
			w->bad++;
		/* in place, as the FUSE read path does */
		if (ecfs_ckey_cbc(sh->ck, false, sh->iv[w->id][m], buf, buf,
				  EXTENT) != 0 ||
		    memcmp(buf, sh->pt[w->id][m], EXTENT) != 0)
			w->bad++;
	}
	return NULL;
}

static void run_threads(uint8_t code)
{
	const struct ecfs_cipher_info *ci = ecfs_cipher_by_code(code);
	struct shared *sh = calloc(1, sizeof(*sh));
	struct worker w[THREADS];
	pthread_t th[THREADS];
	uint8_t key[ECFS_MAX_KEY_BYTES];
	struct ecfs_ckey *ck;

	assert_non_null(sh);
	fill(key, ci->key_default, code);
	ck = ckey_or_fail(ci, key, ci->key_default);
	sh->ck = ck;
	for (int t = 0; t < THREADS; t++)
		for (int m = 0; m < MSGS; m++) {
			fill(sh->pt[t][m], EXTENT, (uint32_t)(100 + t * MSGS + m));
			fill(sh->iv[t][m], ECFS_IV_BYTES,
			     (uint32_t)(1000 + t * MSGS + m));
			assert_int_equal(ecfs_ckey_cbc(ck, true, sh->iv[t][m],
						       sh->pt[t][m],
						       sh->ct[t][m], EXTENT), 0);
		}
	assert_int_equal(pthread_barrier_init(&sh->start, NULL, THREADS), 0);
	for (int t = 0; t < THREADS; t++) {
		w[t] = (struct worker){ .sh = sh, .id = t };
		assert_int_equal(pthread_create(&th[t], NULL, worker_run,
						&w[t]), 0);
	}
	for (int t = 0; t < THREADS; t++) {
		pthread_join(th[t], NULL);
		if (w[t].bad)
			fail_msg("%s: thread %d saw %d wrong results", ci->name,
				 t, w[t].bad);
	}
	pthread_barrier_destroy(&sh->start);
	ecfs_ckey_free(ck);
	free(sh);
}

/* One shared ckey per backend: the OpenSSL context pool (aes, blowfish),
 * nettle (twofish) and Botan (cast6). */
static void test_threads_share_one_ckey(void **state)
{
	run_threads(ECFS_CIPHER_AES_128);
	run_threads(ECFS_CIPHER_BLOWFISH);
	run_threads(ECFS_CIPHER_TWOFISH);
	run_threads(ECFS_CIPHER_CAST6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kat_aes),
		cmocka_unit_test(test_kat_des3_ede),
		cmocka_unit_test(test_kat_blowfish),
		cmocka_unit_test(test_kat_cast5),
		cmocka_unit_test(test_kat_twofish),
		cmocka_unit_test(test_kat_cast6),
		cmocka_unit_test(test_cbc_round_trip_every_cipher),
		cmocka_unit_test(test_cbc_iv_bytes_used),
		cmocka_unit_test(test_lookup_by_code_and_name),
		cmocka_unit_test(test_ckey_from_info_copy),
		cmocka_unit_test(test_bad_length_is_einval),
		cmocka_unit_test(test_bad_key_size),
		cmocka_unit_test(test_threads_share_one_ckey),
	};

	return cmocka_run_group_tests_name("ecfs-cipher", tests, NULL, NULL);
}
