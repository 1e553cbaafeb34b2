// SPDX-License-Identifier: MIT
/* keychain.c - secrets into keys: the salt, content keys, the filename-key
 * candidates, RSA and escrow keys, the cipher policy (ecfs-keychain.h).
 *
 * Reading names needs the right filename key, and users rarely know which
 * salt made theirs (spec §1): ecryptfs-utils' FNEK uses the ASCII bytes
 * "99887766", mount.ecryptfs by hand uses the content key itself.  We make
 * both candidates and let each name's signature pick.
 */
#include "ecfs-keychain.h"

#include <errno.h>
#include <string.h>

#include "ob/secmem.h"

static const size_t aes_sizes[] = { 16, 24, 32 };

int ecfs_keychain_init(struct ecfs_keychain *kc, const struct ecfs_cipher_info *fn_cipher,
		       size_t fn_key_bytes, struct ob_err *err)
{
	memset(kc, 0, sizeof(*kc));
	kc->fn_cipher = fn_cipher;
	kc->fn_key_bytes = fn_key_bytes;
	kc->keys = ecfs_keyset_new();
	if (!kc->keys)
		return ob_err_set(err, -ENOMEM, "allocating locked memory");
	return 0;
}

void ecfs_keychain_free(struct ecfs_keychain *kc)
{
	for (size_t i = 0; i < kc->nfneks; i++)
		ecfs_fnek_free(kc->fneks[i]);
	for (size_t i = 0; i < kc->npub; i++)
		ecfs_pubkey_free(kc->pub[i]);
	ecfs_policy_free(kc->policy);
	ecfs_keyset_free(kc->keys);
	memset(kc, 0, sizeof(*kc));
}

int ecfs_keychain_salt(const char *salt_hex, const char *rc_path,
		       uint8_t salt[ECFS_SALT_BYTES], struct ob_err *err)
{
	int rc;

	if (salt_hex) {
		/* A salt is 8 bytes, the same shape as a signature. */
		if (ecfs_sig_from_hex(salt_hex, salt))
			return ob_err_set(err, -EINVAL, "--salt must be 16 hex digits");
		return 0;
	}
	if (!rc_path) {
		memcpy(salt, ecfs_default_salt, ECFS_SALT_BYTES);
		return 0;
	}
	rc = ecfs_rc_salt(rc_path, salt, err);
	return rc < 0 ? rc : 0;
}

static int add_fnek(struct ecfs_keychain *kc, const struct ecfs_key *tok,
		    const uint8_t *owner, const struct ecfs_cipher_info *ci, size_t kb,
		    struct ecfs_fnek **made, struct ob_err *err)
{
	int rc;

	if (kc->nfneks == ECFS_KEYCHAIN_FNEKS)
		return ob_err_set(err, -ENOSPC, "too many filename keys");
	rc = ecfs_fnek_new(tok, ci, kb, &kc->fneks[kc->nfneks], err);
	if (rc)
		return rc;
	if (made)
		*made = kc->fneks[kc->nfneks];
	memcpy(kc->fnek_owner[kc->nfneks], owner, ECFS_SIG_BYTES);
	kc->nfneks++;
	return 0;
}

/* Name-key candidates: both salts, every AES size (the name's cipher code
 * tells them apart), plus the requested name cipher.  tok[0] has the
 * content salt, tok[1] ecryptfs-utils' FNEK salt. */
static int add_fnek_candidates(struct ecfs_keychain *kc, const struct ecfs_key tok[2],
			       unsigned flags, struct ob_err *err)
{
	const struct ecfs_cipher_info *want = kc->fn_cipher ? kc->fn_cipher :
		ecfs_cipher_by_name("aes", kc->fn_key_bytes);
	size_t want_kb = kc->fn_key_bytes ? kc->fn_key_bytes : (want ? want->key_default : 16);
	int rc = 0;

	if (!want)
		return ob_err_set(err, -EINVAL, "no AES name cipher with a %zu-byte key",
				  kc->fn_key_bytes);
	for (int t = 0; t < 2 && !rc; t++) {
		const struct ecfs_key *key = &tok[t == 0 ? 1 : 0];
		bool writer = flags & (t == 0 ? ECFS_KC_WRITE_FNEK : ECFS_KC_WRITE_SAME);
		struct ecfs_fnek **made = writer ? &kc->write_fnek : NULL;

		rc = add_fnek(kc, key, tok[0].sig, want, want_kb, made, err);
		for (size_t i = 0; i < 3 && !rc; i++) {
			const struct ecfs_cipher_info *aes = ecfs_cipher_by_name("aes", aes_sizes[i]);

			if (aes != want || aes_sizes[i] != want_kb)
				rc = add_fnek(kc, key, tok[0].sig, aes, aes_sizes[i], NULL, err);
		}
	}
	return rc;
}

int ecfs_keychain_add_passphrase(struct ecfs_keychain *kc, const char *pass, size_t len,
				 const uint8_t salt[ECFS_SALT_BYTES], unsigned flags,
				 struct ob_err *err)
{
	struct ecfs_key *k = ob_secure_alloc(2 * sizeof(*k));
	int rc;

	if (!k)
		return ob_err_set(err, -ENOMEM, "allocating locked memory");
	rc = ecfs_key_derive(&k[0], pass, len, salt, err);
	if (!rc && (flags & ECFS_KC_NAMES))
		rc = ecfs_key_derive(&k[1], pass, len, ecfs_fnek_salt, err);
	if (!rc && (flags & ECFS_KC_CONTENT))
		rc = ecfs_keyset_add(kc->keys, &k[0]);
	if (!rc && (flags & ECFS_KC_NAMES))
		rc = add_fnek_candidates(kc, k, flags, err);
	ob_secure_free(k);
	return rc;
}

int ecfs_keychain_add_token(struct ecfs_keychain *kc, const struct ecfs_key *tok,
			    struct ob_err *err)
{
	const struct ecfs_cipher_info *fn_cipher = kc->fn_cipher;
	int rc;

	rc = ecfs_keyset_add(kc->keys, tok);
	/* A token may be the filename key (ecryptfs-add-passphrase --fnek
	 * adds two); the mount's ecryptfs_fnek_sig= picks.  Candidates past
	 * the chain's room are left out. */
	if (!rc && fn_cipher && strcmp(fn_cipher->name, "aes") &&
	    kc->nfneks < ECFS_KEYCHAIN_FNEKS)
		rc = add_fnek(kc, tok, tok->sig, fn_cipher, kc->fn_key_bytes, NULL, err);
	for (size_t s = 0; s < 3 && !rc && kc->nfneks < ECFS_KEYCHAIN_FNEKS; s++)
		rc = add_fnek(kc, tok, tok->sig, ecfs_cipher_by_name("aes", aes_sizes[s]),
			      aes_sizes[s], NULL, err);
	return rc;
}

int ecfs_keychain_add_pubkey(struct ecfs_keychain *kc, struct ecfs_pubkey *pk,
			     bool escrow, struct ob_err *err)
{
	for (size_t i = 0; i < kc->npub; i++)
		if (!memcmp(ecfs_pubkey_id(kc->pub[i]), ecfs_pubkey_id(pk), ECFS_SIG_BYTES)) {
			ecfs_pubkey_free(pk);	/* the same key twice */
			if (escrow)
				kc->has_escrow = true;
			return 0;
		}
	if (kc->npub == ECFS_KEYCHAIN_PUBS) {
		ecfs_pubkey_free(pk);
		return ob_err_set(err, -ENOSPC, "too many RSA keys");
	}
	kc->pub[kc->npub++] = pk;
	if (escrow)
		kc->has_escrow = true;
	return 0;
}

int ecfs_keychain_load_escrow(struct ecfs_keychain *kc, const char *path,
			      struct ob_err *err)
{
	struct ecfs_pubkey *pk;
	int rc = ecfs_pubkey_load(path, NULL, 0, false, &pk, err);

	return rc ? rc : ecfs_keychain_add_pubkey(kc, pk, true, err);
}

int ecfs_keychain_load_policy(struct ecfs_keychain *kc, const char *path,
			      struct ob_err *err)
{
	ecfs_policy_free(kc->policy);
	kc->policy = NULL;
	return ecfs_policy_load(path, &kc->policy, err);
}
