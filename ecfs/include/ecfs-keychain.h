/* SPDX-License-Identifier: MIT */
/* ecfs-keychain.h - every key a mount or a tool works with, made from the
 * secrets a front end gathered (libecfs, lib/keychain.c).
 *
 * Getting a secret (a prompt, a file, an --extpass command, a key file, the
 * kernel keyring) is the front end's business; what a secret becomes is
 * format knowledge and lives here: the salt, the content key, both filename
 * key candidates (ecryptfs-utils' FNEK salt and the content key itself, in
 * every AES size plus the requested name cipher), the FNEK that encrypts new
 * names, RSA and escrow keys, and the cipher policy of new files.
 *
 * A chain is built once (not thread-safe while built) and read from any
 * thread afterwards.  The key memory is locked and wiped on free.
 */
#ifndef ECFS_KEYCHAIN_H
#define ECFS_KEYCHAIN_H

#include "ecfs.h"

#define ECFS_KEYCHAIN_FNEKS	64	/* 6 to 8 per passphrase with names */
#define ECFS_KEYCHAIN_PUBS	10

struct ecfs_keychain {
	struct ecfs_keyset *keys;	/* content keys; the first is the main one */
	struct ecfs_fnek *fneks[ECFS_KEYCHAIN_FNEKS];	/* name-key candidates */
	/* the content-key signature of the secret each candidate comes from
	 * (its own signature for a content-salt candidate or a token): what
	 * "ecfs rekey --remove" revokes takes these names with it */
	uint8_t fnek_owner[ECFS_KEYCHAIN_FNEKS][ECFS_SIG_BYTES];
	size_t nfneks;
	struct ecfs_fnek *write_fnek;	/* the FNEK for new names, or NULL */
	struct ecfs_pubkey *pub[ECFS_KEYCHAIN_PUBS];	/* RSA keys and the escrow
					 * key: all wrap new files, those with a
					 * private half open them */
	size_t npub;
	bool has_escrow;		/* pub[npub - 1] is the escrow key */
	struct ecfs_policy *policy;	/* cipher of new files by name, or NULL */

	/* the name cipher asked for (NULL/0: AES-128) */
	const struct ecfs_cipher_info *fn_cipher;
	size_t fn_key_bytes;
};

/* An empty chain whose name keys use fn_cipher/fn_key_bytes (NULL/0 = AES
 * with 16-byte keys).  0 or -ENOMEM. */
int ecfs_keychain_init(struct ecfs_keychain *kc, const struct ecfs_cipher_info *fn_cipher,
		       size_t fn_key_bytes, struct ob_err *err);
void ecfs_keychain_free(struct ecfs_keychain *kc);	/* wipes; zeroes kc */

/* The content-key salt: salt_hex (16 hex digits) when given, else salt= of
 * the ~/.ecryptfsrc-style file rc_path (when given and present), else
 * ecfs_default_salt.  -EINVAL for a malformed value. */
int ecfs_keychain_salt(const char *salt_hex, const char *rc_path,
		       uint8_t salt[ECFS_SALT_BYTES], struct ob_err *err);

/* What a passphrase adds (ecfs_keychain_add_passphrase flags). */
#define ECFS_KC_CONTENT		0x1	/* a content key (salt as given) */
#define ECFS_KC_NAMES		0x2	/* the filename-key candidates */
#define ECFS_KC_WRITE_FNEK	0x4	/* new names: the FNEK-salt candidate
					 * (ecryptfs-add-passphrase --fnek) */
#define ECFS_KC_WRITE_SAME	0x8	/* new names: the content-key candidate
					 * (mount.ecryptfs); wins over WRITE_FNEK */

/* Derive from pass/len with salt what flags ask for. */
int ecfs_keychain_add_passphrase(struct ecfs_keychain *kc, const char *pass, size_t len,
				 const uint8_t salt[ECFS_SALT_BYTES], unsigned flags,
				 struct ob_err *err);

/* A ready token (a kernel keyring key): a content key and, since a token
 * may be a filename key, a name-key candidate in every AES size (and the
 * requested name cipher when it is not AES). */
int ecfs_keychain_add_token(struct ecfs_keychain *kc, const struct ecfs_key *tok,
			    struct ob_err *err);

/* Take pk (freed on error, and when the same key is there already). */
int ecfs_keychain_add_pubkey(struct ecfs_keychain *kc, struct ecfs_pubkey *pk,
			     bool escrow, struct ob_err *err);

/* Load the escrow public key / the cipher policy from a file. */
int ecfs_keychain_load_escrow(struct ecfs_keychain *kc, const char *path,
			      struct ob_err *err);
int ecfs_keychain_load_policy(struct ecfs_keychain *kc, const char *path,
			      struct ob_err *err);

/* The content keys and the RSA keys as one set. */
static inline struct ecfs_keys ecfs_keychain_keys(const struct ecfs_keychain *kc)
{
	struct ecfs_keys k = { .pass = kc->keys, .pub = kc->pub, .npub = kc->npub };

	return k;
}

#endif
