// SPDX-License-Identifier: MIT
/* fuzz-wrapped.c - ecryptfs-utils wrapped-passphrase files (spec §10.2).
 *
 * What it checks: the input is a whole ~/.ecryptfs/wrapped-passphrase file.
 * ecfs_wrapped_version and ecfs_wrapped_unwrap (with the corpus case e
 * login password) must never read past the input or write past the
 * 65-byte passphrase buffer, whatever the length, magic, version, hex
 * signature and ciphertext; a success must give a terminated passphrase of
 * 1..64 bytes, and wrapping it again (ecfs_wrapped_wrap with the file's
 * salt) must unwrap to the same passphrase.
 *
 * Why: the file sits in the user's home directory, is read before any key
 * exists, and its length and version fields decide how much is copied
 * into fixed buffers.
 *
 * Speed: every unwrap derives the wrapping key, 65536 SHA-512 rounds
 * (~40 ms), which would hold the fuzzer to ~25 exec/s.  The harness is
 * linked with -Wl,--wrap=ecfs_key_derive, so wrapped.c's calls land in
 * __wrap_ecfs_key_derive below: it returns keys derived for real at
 * start-up for the two salts the seeds use (case e's v2 salt and the
 * default salt of v1 files) and, for any other salt, a stand-in key of a
 * single SHA-512 with the same input checks.  The parser, the signature
 * compare, the AES and the passphrase extraction all run unchanged; only
 * the stretching of the key is skipped.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ecfs.h"
#include "ecfs-int.h"
#include "fuzz-util.h"

/* Case e's v2 file salt (manifest: dot-ecryptfs/wrapped-passphrase). */
static const uint8_t salt_e[ECFS_SALT_BYTES] = {
	0xd8, 0xdf, 0xa2, 0xc0, 0xfe, 0x55, 0x20, 0x5c,
};

struct memo {
	struct ecfs_key key;
	const char *pass;
};
static struct memo memo[2];

int __real_ecfs_key_derive(struct ecfs_key *key, const char *pass, size_t len,
			   const uint8_t salt[ECFS_SALT_BYTES], struct ob_err *err);
int __wrap_ecfs_key_derive(struct ecfs_key *key, const char *pass, size_t len,
			   const uint8_t salt[ECFS_SALT_BYTES], struct ob_err *err);

int __wrap_ecfs_key_derive(struct ecfs_key *key, const char *pass, size_t len,
			   const uint8_t salt[ECFS_SALT_BYTES], struct ob_err *err)
{
	uint8_t in[ECFS_SALT_BYTES + ECFS_MAX_PASSPHRASE], d[64];

	if (len == 0 || len > ECFS_MAX_PASSPHRASE)
		return __real_ecfs_key_derive(key, pass, len, salt, err);
	for (size_t i = 0; i < sizeof(memo) / sizeof(memo[0]); i++)
		if (memo[i].pass && strlen(memo[i].pass) == len &&
		    !memcmp(memo[i].pass, pass, len) &&
		    !memcmp(memo[i].key.salt, salt, ECFS_SALT_BYTES)) {
			*key = memo[i].key;
			return 0;
		}
	memcpy(in, salt, ECFS_SALT_BYTES);
	memcpy(in + ECFS_SALT_BYTES, pass, len);
	ecfs_sha512(in, ECFS_SALT_BYTES + len, key->kek);
	memcpy(key->salt, salt, ECFS_SALT_BYTES);
	ecfs_sha512(key->kek, sizeof(key->kek), d);
	memcpy(key->sig, d, ECFS_SIG_BYTES);
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct ob_err err = {0};

	(void)argc;
	(void)argv;
	FUZZ_CHECK(__real_ecfs_key_derive(&memo[0].key, FUZZ_LOGIN_E,
					  strlen(FUZZ_LOGIN_E), salt_e, &err) == 0);
	FUZZ_CHECK(__real_ecfs_key_derive(&memo[1].key, FUZZ_LOGIN_E,
					  strlen(FUZZ_LOGIN_E), ecfs_default_salt,
					  &err) == 0);
	memo[0].pass = memo[1].pass = FUZZ_LOGIN_E;
	return 0;
}

/* wrap(unwrap(x)) unwraps to the same passphrase. */
static void rewrap(const uint8_t *data, size_t size, int version, const char *pass)
{
	uint8_t out[ECFS_WRAPPED_MAX];
	char back[ECFS_MAX_PASSPHRASE + 1];
	const uint8_t *salt = version == 2 ? data + 2 : ecfs_default_salt;
	struct ob_err err = {0};
	size_t out_len = 0;

	(void)size;
	FUZZ_CHECK(ecfs_wrapped_wrap(pass, strlen(pass), FUZZ_LOGIN_E,
				     strlen(FUZZ_LOGIN_E), salt, out, &out_len,
				     &err) == 0);
	FUZZ_CHECK(out_len > 26 && out_len <= ECFS_WRAPPED_MAX);
	FUZZ_CHECK(ecfs_wrapped_version(out, out_len, &err) == 2);
	FUZZ_CHECK(ecfs_wrapped_unwrap(out, out_len, FUZZ_LOGIN_E,
				       strlen(FUZZ_LOGIN_E), ecfs_default_salt,
				       back, &err) == 0);
	FUZZ_CHECK(!strcmp(back, pass));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Exactly the documented size, on the heap: ASan sees an overrun. */
	char *pass = malloc(ECFS_MAX_PASSPHRASE + 1);
	struct ob_err err = {0};
	int version, rc;

	FUZZ_CHECK(pass);
	version = ecfs_wrapped_version(data, size, &err);
	fuzz_check_err(&err);
	FUZZ_CHECK(version == 1 || version == 2 || version == -EINVAL ||
		   version == -ENOTSUP);
	rc = ecfs_wrapped_unwrap(data, size, FUZZ_LOGIN_E, strlen(FUZZ_LOGIN_E),
				 ecfs_default_salt, pass, &err);
	fuzz_check_err(&err);
	if (version < 0)
		FUZZ_CHECK(rc == version);
	if (rc == 0) {
		size_t plen = strnlen(pass, ECFS_MAX_PASSPHRASE + 1);

		FUZZ_CHECK(plen >= 1 && plen <= ECFS_MAX_PASSPHRASE);
		rewrap(data, size, version, pass);
	} else {
		FUZZ_CHECK(rc == -EINVAL || rc == -ENOTSUP || rc == -EKEYREJECTED);
	}
	free(pass);
	return 0;
}
