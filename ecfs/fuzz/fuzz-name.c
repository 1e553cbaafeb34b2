// SPDX-License-Identifier: MIT
/* fuzz-name.c - encrypted lower names and symlink targets, and the base64.
 *
 * What it checks: the input is a lower directory entry name (up to its
 * first NUL).  ecfs_name_decrypt, ecfs_target_decrypt and ecfs_name_sig
 * must never read or write out of bounds, whatever the prefix, alphabet,
 * Tag 70 length, signature, cipher code and ciphertext length say, with a
 * roomy and with a tight output buffer; a success must yield a terminated
 * name of the reported length that is a legal name (no '/', not "." or
 * "..") for ecfs_name_decrypt, and re-encrypting it must decrypt to the
 * same name.  ecfs_b64_decode gets the raw input too, into a buffer of
 * exactly the documented len * 3 / 4 bytes, and decode(encode(d)) == d.
 *
 * Why: names come straight from readdir() of a directory anybody with write
 * access to the lower filesystem controls; a name that decrypts to "../x"
 * or overruns a buffer would be a path traversal or a crash of the mount
 * (spec §7).
 *
 * FNEKs: the filename keys of corpus cases b (AES-256), d (AES-192) and e
 * (AES-128), each made once at start-up (65536 SHA-512 rounds per key),
 * plus a Blowfish key on case b's token so names carrying another cipher
 * code take the temporary-key path of tag70_decrypt.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ecfs.h"
#include "fuzz-util.h"

#define NFNEKS 4
#define NAME_BUF (ECFS_LOWER_NAME_MAX + 1)

static struct ecfs_fnek *fneks[NFNEKS];

/* The FNEKs live in locked memory (mmap), which LeakSanitizer does not
 * scan, so the OpenSSL contexts their ckeys pool would look leaked: free
 * them at exit, and fill each pool once at start-up (warm_up) so that no
 * input makes one grow. */
static void free_fneks(void)
{
	for (size_t i = 0; i < NFNEKS; i++)
		ecfs_fnek_free(fneks[i]);
}

static void warm_up(const struct ecfs_fnek *fn)
{
	char lower[ECFS_LOWER_NAME_MAX], back[16];
	struct ob_err err = {0};

	FUZZ_CHECK(ecfs_name_encrypt(fn, "a", 1, ECFS_NAME_MAX, lower,
				     sizeof(lower), &err) > 0);
	FUZZ_CHECK(ecfs_name_decrypt(fneks, NFNEKS, lower, back, sizeof(back),
				     &err) == 1);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const struct {
		const char *pass;
		size_t key_bytes;
		const char *cipher;
	} keys[NFNEKS] = {
		{ FUZZ_PASS_B, 32, "aes" },
		{ FUZZ_PASS_D, 24, "aes" },
		{ FUZZ_PASS_E, 16, "aes" },
		{ FUZZ_PASS_B, 16, "blowfish" },
	};
	struct ecfs_key tok;
	struct ob_err err = {0};

	(void)argc;
	(void)argv;
	for (size_t i = 0; i < NFNEKS; i++) {
		const struct ecfs_cipher_info *ci =
			ecfs_cipher_by_name(keys[i].cipher, keys[i].key_bytes);

		FUZZ_CHECK(ci);
		fuzz_derive(&tok, keys[i].pass, ecfs_fnek_salt);
		FUZZ_CHECK(ecfs_fnek_new(&tok, ci, keys[i].key_bytes, &fneks[i], &err) == 0);
	}
	for (size_t i = 0; i < NFNEKS; i++)
		warm_up(fneks[i]);
	atexit(free_fneks);
	return 0;
}

static void check_decrypted(const char *out, ssize_t n, size_t outlen, bool name)
{
	FUZZ_CHECK(n > 0 && (size_t)n < outlen);
	FUZZ_CHECK(strlen(out) == (size_t)n);
	if (name) {
		FUZZ_CHECK(!strchr(out, '/'));
		FUZZ_CHECK(strcmp(out, ".") && strcmp(out, ".."));
	}
}

/* A decrypted name, encrypted again with fn and decrypted, is itself. */
static void reencrypt(const struct ecfs_fnek *fn, const char *plain, size_t len,
		      bool name)
{
	static char lower[NAME_BUF], back[NAME_BUF];
	struct ob_err err = {0};
	ssize_t n;

	n = name ? ecfs_name_encrypt(fn, plain, len, ECFS_NAME_MAX, lower,
				     sizeof(lower), &err)
		 : ecfs_target_encrypt(fn, plain, len, lower, sizeof(lower), &err);
	fuzz_check_err(&err);
	if (n < 0) {
		/* Decryption accepts what the kernel accepts; we write less. */
		FUZZ_CHECK(n == -ENAMETOOLONG);
		return;
	}
	n = name ? ecfs_name_decrypt(fneks, NFNEKS, lower, back, sizeof(back), &err)
		 : ecfs_target_decrypt(fneks, NFNEKS, lower, back, sizeof(back), &err);
	FUZZ_CHECK(n == (ssize_t)len && !memcmp(back, plain, len));
}

/* The FNEK whose signature the name carries (the one that decrypted it). */
static const struct ecfs_fnek *fnek_of(const char *lower)
{
	uint8_t sig[ECFS_SIG_BYTES];

	FUZZ_CHECK(ecfs_name_sig(lower, sig) == 0);
	for (size_t i = 0; i < NFNEKS; i++)
		if (!memcmp(ecfs_fnek_sig(fneks[i]), sig, ECFS_SIG_BYTES))
			return fneks[i];
	abort();
}

static void decrypt_both(const char *lower, size_t tight)
{
	static char out[NAME_BUF];
	struct ob_err err = {0};
	ssize_t n;

	n = ecfs_name_decrypt(fneks, NFNEKS, lower, out, sizeof(out), &err);
	fuzz_check_err(&err);
	if (n >= 0) {
		check_decrypted(out, n, sizeof(out), true);
		reencrypt(fnek_of(lower), out, (size_t)n, true);
	}
	n = ecfs_target_decrypt(fneks, NFNEKS, lower, out, sizeof(out), &err);
	fuzz_check_err(&err);
	if (n >= 0) {
		check_decrypted(out, n, sizeof(out), false);
		reencrypt(fnek_of(lower), out, (size_t)n, false);
	}
	/* A tight buffer on the heap, so ASan sees a one-byte overrun. */
	char *small = malloc(tight);

	FUZZ_CHECK(small);
	n = ecfs_name_decrypt(fneks, NFNEKS, lower, small, tight, &err);
	if (n >= 0)
		check_decrypted(small, n, tight, true);
	n = ecfs_target_decrypt(fneks, NFNEKS, lower, small, tight, &err);
	if (n >= 0)
		check_decrypted(small, n, tight, false);
	free(small);
}

static void b64(const uint8_t *data, size_t size)
{
	size_t dmax = size * 3 / 4;
	uint8_t *dec = malloc(dmax ? dmax : 1);
	ssize_t n;

	FUZZ_CHECK(dec);
	n = ecfs_b64_decode((const char *)data, size, dec);
	FUZZ_CHECK(n == -EINVAL || (n >= 0 && (size_t)n <= dmax));
	if (n > 0) {
		size_t elen = 4 * (((size_t)n + 2) / 3);
		char *enc = malloc(elen);
		uint8_t *back = malloc(elen * 3 / 4);

		FUZZ_CHECK(enc && back);
		FUZZ_CHECK(ecfs_b64_encode(dec, (size_t)n, enc) == elen);
		FUZZ_CHECK(ecfs_b64_decode(enc, elen, back) == (ssize_t)(elen * 3 / 4));
		FUZZ_CHECK(!memcmp(back, dec, (size_t)n));
		free(enc);
		free(back);
	}
	free(dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The name as readdir would give it: a C string, on the heap. */
	char *lower = malloc(size + 1);
	size_t tight;

	FUZZ_CHECK(lower);
	memcpy(lower, data, size);
	lower[size] = '\0';
	tight = 1 + (size ? data[size - 1] % 64 : 0);
	decrypt_both(lower, tight);
	b64(data, size);
	free(lower);
	return 0;
}
