// SPDX-License-Identifier: MIT
/* test-pubkey.c - Tag 1 (RSA) packets, key ids, mixed key sets, policy and
 * in-place re-keying (lib/pubkey.c, policy.c, rekey.c).
 *
 * The key id vector was computed independently from the formula in spec
 * §3.5 (Python hashlib over the same n and e).  The Tag 1 blob is checked
 * byte by byte against §3.5 and decrypted with plain OpenSSL EVP OAEP
 * (SHA-1, as RSA_PKCS1_OAEP_PADDING), i.e. as ecryptfs-utils' openssl key
 * module would, to show the plaintext is cipher_code ‖ FEK ‖ checksum.
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

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "ecfs.h"
#include "ecfs-int.h"

static void test_key_id_known_answer(void **state)
{
	uint8_t n[128], e[] = { 1, 0, 1 }, id[8], zn[129];
	char hex[ECFS_SIG_HEX];

	n[0] = 0xc3;
	for (int i = 1; i < 128; i++)
		n[i] = (uint8_t)((i - 1) * 37 + 11);
	assert_int_equal(ecfs_rsa_key_id(n, sizeof(n), e, sizeof(e), id), 0);
	ecfs_sig_to_hex(id, hex);
	assert_string_equal(hex, "fcac3d418976870c");
	/* leading zero bytes are not part of the MPI */
	zn[0] = 0;
	memcpy(zn + 1, n, sizeof(n));
	assert_int_equal(ecfs_rsa_key_id(zn, sizeof(zn), e, sizeof(e), id), 0);
	ecfs_sig_to_hex(id, hex);
	assert_string_equal(hex, "fcac3d418976870c");
}

static void test_tag1_plaintext(void **state)
{
	uint8_t key[16], out[ECFS_MAX_KEY_BYTES + 3], back[ECFS_MAX_KEY_BYTES], code;
	size_t kb;

	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	assert_int_equal(ecfs_tag1_plain_pack(0x07, key, 16, out), 19);
	assert_int_equal(out[0], 0x07);
	assert_memory_equal(out + 1, key, 16);
	assert_int_equal(out[17], 0x00);	/* sum 0..15 = 120 = 0x0078 */
	assert_int_equal(out[18], 0x78);
	assert_int_equal(ecfs_tag1_plain_unpack(out, 19, &code, back, &kb, NULL), 0);
	assert_int_equal(kb, 16);
	assert_memory_equal(back, key, 16);
	out[18] ^= 1;
	assert_int_equal(ecfs_tag1_plain_unpack(out, 19, &code, back, &kb, NULL), -EKEYREJECTED);
	out[18] ^= 1;
	out[0] = 0x09;		/* AES-256 with a 16-byte key: refused */
	assert_int_equal(ecfs_tag1_plain_unpack(out, 19, &code, back, &kb, NULL), -EKEYREJECTED);
}

static char pem_path[64];
static EVP_PKEY *raw;

static int setup_rsa(void **state)
{
	FILE *f;
	int fd;

	raw = EVP_RSA_gen(2048);
	strcpy(pem_path, "/tmp/test-pubkey-XXXXXX");
	fd = mkstemp(pem_path);
	if (!raw || fd < 0)
		return -1;
	f = fdopen(fd, "w");
	PEM_write_PrivateKey(f, raw, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	return 0;
}

static int teardown_rsa(void **state)
{
	unlink(pem_path);
	EVP_PKEY_free(raw);
	return 0;
}

static void test_tag1_layout_and_round_trip(void **state)
{
	const struct ecfs_cipher_info *ci = ecfs_cipher_by_name("aes", 32);
	struct ecfs_pubkey *pk = NULL;
	struct ecfs_header h, back;
	struct ecfs_fek *fek = NULL, *fek2 = NULL;
	struct ecfs_keys keys = { 0 };
	uint8_t buf[8192], plain[512], want[ECFS_MAX_KEY_BYTES + 3];
	size_t plen = sizeof(plain);
	EVP_PKEY_CTX *ctx;
	int idx = -1;

	assert_int_equal(ecfs_pubkey_load(pem_path, NULL, 0, true, &pk, NULL), 0);
	assert_true(ecfs_pubkey_has_private(pk));
	assert_int_equal(ecfs_pubkey_bytes(pk), 256);
	keys.pub = &pk;
	keys.npub = 1;
	assert_int_equal(ecfs_header_init(&h, false, false, NULL), 0);
	assert_int_equal(ecfs_fek_create_ex(ci, 32, &keys, &h, &fek, NULL), 0);
	assert_int_equal(h.npackets, 1);
	assert_int_equal(ecfs_header_write(&h, buf, sizeof(buf), NULL), 8192);
	/* §3.5: 01, length 266 in the 2-byte form (c0 4a), 03, key id, 01, blob */
	assert_int_equal(buf[26], 0x01);
	assert_int_equal(buf[27], 0xc0);
	assert_int_equal(buf[28], 0x4a);
	assert_int_equal(buf[29], 0x03);
	assert_memory_equal(buf + 30, ecfs_pubkey_id(pk), 8);
	assert_int_equal(buf[38], 0x01);
	assert_int_equal(buf[39 + 256], 0x00);	/* the packet set's terminator */
	/* The blob is plain RSA-OAEP (SHA-1) of code ‖ FEK ‖ checksum. */
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, raw, NULL);
	assert_true(EVP_PKEY_decrypt_init(ctx) > 0);
	assert_true(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) > 0);
	assert_true(EVP_PKEY_decrypt(ctx, plain, &plen, buf + 39, 256) > 0);
	EVP_PKEY_CTX_free(ctx);
	assert_int_equal(plen, 35);
	ecfs_tag1_plain_pack(ECFS_CIPHER_AES_256, fek->key, 32, want);
	assert_memory_equal(plain, want, 35);
	/* parse back and unwrap with the private key */
	assert_int_equal(ecfs_header_parse(buf, sizeof(buf), false, &back, NULL), 0);
	assert_int_equal(ecfs_fek_unwrap_any(&back, &keys, &fek2, &idx, NULL), 0);
	assert_int_equal(idx, 0);
	assert_int_equal(ecfs_fek_key_bytes(fek2), 32);
	assert_memory_equal(fek2->key, fek->key, 32);
	/* a passphrase-only key set cannot open it */
	{
		struct ecfs_keyset *ks = ecfs_keyset_new();
		struct ecfs_key k;
		struct ecfs_keys pass = { .pass = ks };
		struct ecfs_fek *none = NULL;

		assert_int_equal(ecfs_key_derive(&k, "x", 1, ecfs_default_salt, NULL), 0);
		ecfs_keyset_add(ks, &k);
		assert_int_equal(ecfs_fek_unwrap_any(&back, &pass, &none, NULL, NULL), -ENOKEY);
		ecfs_keyset_free(ks);
	}
	ecfs_fek_free(fek);
	ecfs_fek_free(fek2);
	ecfs_pubkey_free(pk);
}

static void test_mixed_create_and_rekey_in_place(void **state)
{
	const struct ecfs_cipher_info *ci = ecfs_cipher_by_name("aes", 16);
	struct ecfs_keyset *ks = ecfs_keyset_new(), *ks2 = ecfs_keyset_new();
	struct ecfs_pubkey *pk = NULL;
	struct ecfs_key a, b;
	struct ecfs_file f;
	struct ecfs_header h;
	char path[] = "/tmp/test-rekey-XXXXXX";
	int fd = mkstemp(path);
	bool changed = false;

	assert_int_equal(ecfs_pubkey_load(pem_path, NULL, 0, false, &pk, NULL), 0);
	assert_int_equal(ecfs_key_derive(&a, "alpha", 5, ecfs_default_salt, NULL), 0);
	assert_int_equal(ecfs_key_derive(&b, "beta", 4, ecfs_default_salt, NULL), 0);
	ecfs_keyset_add(ks, &a);
	ecfs_keyset_add(ks2, &b);
	{
		struct ecfs_keys wrap = { .pass = ks, .pub = &pk, .npub = 1 };

		assert_int_equal(ecfs_file_create_ex(&f, fd, ci, 0, &wrap, false, false, NULL), 0);
		assert_int_equal(ecfs_file_pwrite(&f, "hello", 5, 0, NULL), 5);
		ecfs_file_close(&f);
	}
	{
		struct ecfs_keys open = { .pass = ks }, add = { .pass = ks2 };
		uint8_t rm[1][ECFS_SIG_BYTES];
		struct ecfs_rekey rk = { .open_keys = &open, .add = &add, .remove = rm, .nremove = 1 };

		memcpy(rm[0], a.sig, 8);
		rk.dry_run = true;
		assert_int_equal(ecfs_rekey_fd(fd, &rk, &changed, NULL), 0);
		assert_true(changed);
		rk.dry_run = false;
		assert_int_equal(ecfs_rekey_fd(fd, &rk, &changed, NULL), 0);
		/* a is gone, but the same swap again is done, not a failure */
		assert_int_equal(ecfs_rekey_fd(fd, &rk, &changed, NULL), 0);
		assert_false(changed);
		/* a swap that still has work and that no given key opens fails */
		rk.add = &open;		/* a to add back: needs the FEK, a is gone */
		rk.nremove = 0;
		assert_int_equal(ecfs_rekey_fd(fd, &rk, &changed, NULL), -ENOKEY);
	}
	{
		struct ecfs_keys only_b = { .pass = ks2 };
		char got[6] = { 0 };

		assert_int_equal(ecfs_metadata_read(fd, 0, &h, NULL), 0);
		assert_int_equal(h.npackets, 2);	/* Tag 1 kept, Tag 3 a -> b */
		assert_int_equal(h.packets[0].tag, ECFS_PKT_TAG1);
		assert_int_equal(h.size, 5);
		assert_int_equal(ecfs_file_open_ex(&f, fd, 0, &only_b, NULL), 0);
		assert_int_equal(ecfs_file_pread(&f, got, 5, 0, NULL), 5);
		assert_string_equal(got, "hello");
		ecfs_file_close(&f);
	}
	close(fd);
	unlink(path);
	ecfs_pubkey_free(pk);
	ecfs_keyset_free(ks);
	ecfs_keyset_free(ks2);
}

static void test_policy(void **state)
{
	static const char text[] = "# comment\n*.kdbx aes 32\n\n*.tgz\tblowfish 56  # big\nx* cast6\n* aes\n";
	const struct ecfs_cipher_info *ci = NULL;
	struct ecfs_policy *p = NULL;
	struct ob_err err = { 0 };
	size_t kb = 0;

	assert_int_equal(ecfs_policy_parse(text, strlen(text), &p, NULL), 0);
	assert_int_equal(ecfs_policy_count(p), 4);
	assert_int_equal(ecfs_policy_match(p, "db.kdbx", &ci, &kb), 1);
	assert_int_equal(ci->code, ECFS_CIPHER_AES_256);
	assert_int_equal(kb, 32);
	assert_int_equal(ecfs_policy_match(p, "a.tgz", &ci, &kb), 1);
	assert_string_equal(ci->name, "blowfish");
	assert_int_equal(kb, 56);
	assert_int_equal(ecfs_policy_match(p, "xy", &ci, &kb), 1);
	assert_string_equal(ci->name, "cast6");
	assert_int_equal(ecfs_policy_match(p, ".hidden", &ci, &kb), 1);
	assert_int_equal(ci->code, ECFS_CIPHER_AES_128);
	ecfs_policy_free(p);
	assert_int_equal(ecfs_policy_match(NULL, "a", &ci, &kb), 0);
	/* what the kernel could not wrap is refused, with the line number */
	assert_int_equal(ecfs_policy_parse("* aes 16\n* twofish 24\n", 22, &p, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "line 2"));
	assert_int_equal(ecfs_policy_parse("* rot13\n", 8, &p, NULL), -EINVAL);
	assert_int_equal(ecfs_policy_parse("*\n", 2, &p, NULL), -EINVAL);
	assert_int_equal(ecfs_policy_parse("* aes 16 extra\n", 15, &p, NULL), -EINVAL);
}

static void test_keyfile_is_a_64_byte_passphrase(void **state)
{
	char k1[ECFS_KEYFILE_CHARS + 1], k2[ECFS_KEYFILE_CHARS + 1];
	struct ecfs_key key;

	assert_int_equal(ecfs_keyfile_generate(k1, NULL), 0);
	assert_int_equal(ecfs_keyfile_generate(k2, NULL), 0);
	assert_int_equal(strlen(k1), 64);
	assert_int_equal(strspn(k1, "0123456789abcdef"), 64);
	assert_string_not_equal(k1, k2);
	assert_int_equal(ecfs_key_derive(&key, k1, 64, ecfs_default_salt, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_id_known_answer),
		cmocka_unit_test(test_tag1_plaintext),
		cmocka_unit_test(test_tag1_layout_and_round_trip),
		cmocka_unit_test(test_mixed_create_and_rekey_in_place),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_keyfile_is_a_64_byte_passphrase),
	};

	return cmocka_run_group_tests(tests, setup_rsa, teardown_rsa);
}
