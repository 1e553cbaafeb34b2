// SPDX-License-Identifier: MIT
/* key.c - passphrase keys: derivation, signatures, ~/.ecryptfsrc salt, key sets.
 *
 * ecryptfs-utils turns a mount passphrase into the 64-byte "session key
 * encryption key" with SHA-512 run 65,536 times over salt || passphrase;
 * the key's signature is the first 8 bytes of one more SHA-512 over it
 * (spec §1).  The kernel never sees the passphrase, only the KEK, and names
 * keys by signature.  Two salts matter: the FEKEK salt (default
 * 0011223344556677, or salt= in ~/.ecryptfsrc) and the FNEK salt, which
 * ecryptfs-utils gets wrong on purpose-by-accident: the ASCII bytes
 * "99887766" (spec §1 table, §12 item 2).
 *
 * Key sets live in one locked, wipe-on-free allocation; a mount holds a
 * handful of keys, so lookups are a linear, constant-time-compare scan.
 */
#include "ecfs-int.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <nettle/md5.h>
#include <nettle/sha2.h>

#include "ob/secmem.h"

const uint8_t ecfs_default_salt[ECFS_SALT_BYTES] = {
	0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
};
const uint8_t ecfs_fnek_salt[ECFS_SALT_BYTES] = {
	'9', '9', '8', '8', '7', '7', '6', '6',
};

#define ECFS_HASH_ITERATIONS	65536
#define ECFS_KEYSET_MAX		32

void ecfs_md5(const void *in, size_t len, uint8_t out[16])
{
	struct md5_ctx c;

	md5_init(&c);
	md5_update(&c, len, in);
	md5_digest(&c, MD5_DIGEST_SIZE, out);
}

void ecfs_sha512(const void *in, size_t len, uint8_t out[64])
{
	struct sha512_ctx c;

	sha512_init(&c);
	sha512_update(&c, len, in);
	sha512_digest(&c, SHA512_DIGEST_SIZE, out);
}

int ecfs_random(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int ecfs_key_derive(struct ecfs_key *key, const char *pass, size_t len,
		    const uint8_t salt[ECFS_SALT_BYTES], struct ob_err *err)
{
	struct sha512_ctx c;
	uint8_t d[SHA512_DIGEST_SIZE];

	if (len == 0 || len > ECFS_MAX_PASSPHRASE)
		return ob_err_set(err, -EINVAL,
				  "passphrase must be 1 to %d bytes (got %zu)",
				  ECFS_MAX_PASSPHRASE, len);
	sha512_init(&c);
	sha512_update(&c, ECFS_SALT_BYTES, salt);
	sha512_update(&c, len, (const uint8_t *)pass);
	sha512_digest(&c, sizeof(d), d);
	for (int i = 1; i < ECFS_HASH_ITERATIONS; i++)
		ecfs_sha512(d, sizeof(d), d);
	memcpy(key->kek, d, sizeof(key->kek));
	memcpy(key->salt, salt, ECFS_SALT_BYTES);
	ecfs_sha512(key->kek, sizeof(key->kek), d);
	memcpy(key->sig, d, ECFS_SIG_BYTES);
	ob_wipe(d, sizeof(d));
	ob_wipe(&c, sizeof(c));
	return 0;
}

void ecfs_sig_to_hex(const uint8_t sig[ECFS_SIG_BYTES], char hex[ECFS_SIG_HEX])
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < ECFS_SIG_BYTES; i++) {
		hex[2 * i] = digits[sig[i] >> 4];
		hex[2 * i + 1] = digits[sig[i] & 15];
	}
	hex[2 * ECFS_SIG_BYTES] = '\0';
}

static int hex_nibble(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Parse exactly 2*n hex digits into n bytes; -EINVAL otherwise. */
static int hex_decode(const char *hex, size_t hexlen, uint8_t *out, size_t n)
{
	if (hexlen != 2 * n)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		int hi = hex_nibble((unsigned char)hex[2 * i]);
		int lo = hex_nibble((unsigned char)hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int ecfs_sig_from_hex(const char *hex, uint8_t sig[ECFS_SIG_BYTES])
{
	return hex_decode(hex, strlen(hex), sig, ECFS_SIG_BYTES);
}

int ecfs_rc_salt(const char *rc_path, uint8_t salt[ECFS_SALT_BYTES],
		 struct ob_err *err)
{
	char *line = NULL;
	size_t cap = 0;
	FILE *f;
	int rc = 0;

	memcpy(salt, ecfs_default_salt, ECFS_SALT_BYTES);
	f = fopen(rc_path, "re");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		return ob_err_set(err, -errno, "open %s", rc_path);
	}
	/* getline: a long line must not be split into pieces that look like
	 * lines of their own. */
	while (getline(&line, &cap, f) > 0) {
		char *p = line, *v;
		size_t vlen;

		while (isspace((unsigned char)*p))
			p++;
		if (strncmp(p, "salt", 4) != 0)
			continue;
		p += 4;
		while (isspace((unsigned char)*p))
			p++;
		if (*p != '=')
			continue;
		v = p + 1;
		while (isspace((unsigned char)*v))
			v++;
		vlen = strcspn(v, " \t\r\n");
		if (hex_decode(v, vlen, salt, ECFS_SALT_BYTES) < 0) {
			memcpy(salt, ecfs_default_salt, ECFS_SALT_BYTES);
			rc = ob_err_set(err, -EINVAL,
					"%s: salt= must be 16 hex digits", rc_path);
			break;
		}
		rc = 1;
		break;
	}
	free(line);
	fclose(f);
	return rc;
}

/*
 * Wrapping or unwrapping a file key needs the KEK expanded for the file's
 * cipher.  A mount creates and opens thousands of files with the same few
 * keys, so the expanded KEKs are cached here, per key and cipher/key size,
 * for the life of the set.  The cache is the one thing that changes after a
 * set is built, behind its own mutex.
 */
#define KEK_CACHE_SLOTS 4

struct kek_slot {
	const struct ecfs_cipher_info *ci;
	size_t key_bytes;
	struct ecfs_ckey *ck;
};

struct ecfs_keyset {
	size_t count;
	struct ecfs_key keys[ECFS_KEYSET_MAX];
	pthread_mutex_t lock;				/* guards kek */
	struct kek_slot kek[ECFS_KEYSET_MAX][KEK_CACHE_SLOTS];
};

struct ecfs_keyset *ecfs_keyset_new(void)
{
	struct ecfs_keyset *ks = ob_secure_alloc(sizeof(struct ecfs_keyset));

	if (ks)
		pthread_mutex_init(&ks->lock, NULL);
	return ks;
}

void ecfs_keyset_free(struct ecfs_keyset *ks)
{
	if (!ks)
		return;
	for (size_t i = 0; i < ECFS_KEYSET_MAX; i++)
		for (size_t j = 0; j < KEK_CACHE_SLOTS; j++)
			ecfs_ckey_free(ks->kek[i][j].ck);
	pthread_mutex_destroy(&ks->lock);
	ob_secure_free(ks);
}

struct ecfs_ckey *ecfs_keyset_kek(const struct ecfs_keyset *cks, const struct ecfs_key *key,
				  const struct ecfs_cipher_info *ci, size_t key_bytes,
				  bool *owned, struct ob_err *err)
{
	struct ecfs_keyset *ks = (struct ecfs_keyset *)cks;	/* the cache only */
	struct ecfs_ckey *ck = NULL;
	struct kek_slot *free_slot = NULL;
	size_t i = (size_t)(key - ks->keys);

	*owned = false;
	if (key < ks->keys || i >= ks->count) {
		/* Not one of ours: a private expansion the caller frees. */
		*owned = true;
		return ecfs_ckey_new(ci, key->kek, key_bytes, &ck, err) ? NULL : ck;
	}
	pthread_mutex_lock(&ks->lock);
	for (size_t j = 0; j < KEK_CACHE_SLOTS; j++) {
		struct kek_slot *sl = &ks->kek[i][j];

		if (sl->ck && sl->ci == ci && sl->key_bytes == key_bytes) {
			ck = sl->ck;
			break;
		}
		if (!sl->ck && !free_slot)
			free_slot = sl;
	}
	if (!ck && !ecfs_ckey_new(ci, key->kek, key_bytes, &ck, err)) {
		if (free_slot) {
			free_slot->ci = ci;
			free_slot->key_bytes = key_bytes;
			free_slot->ck = ck;
		} else {
			*owned = true;		/* cache full: a one-off */
		}
	}
	pthread_mutex_unlock(&ks->lock);
	return ck;
}

int ecfs_keyset_add(struct ecfs_keyset *ks, const struct ecfs_key *key)
{
	if (ecfs_keyset_find(ks, key->sig))
		return 0;
	if (ks->count == ECFS_KEYSET_MAX)
		return -ENOSPC;
	ks->keys[ks->count++] = *key;
	return 0;
}

size_t ecfs_keyset_count(const struct ecfs_keyset *ks)
{
	return ks ? ks->count : 0;
}

const struct ecfs_key *ecfs_keyset_get(const struct ecfs_keyset *ks, size_t i)
{
	return ks && i < ks->count ? &ks->keys[i] : NULL;
}

const struct ecfs_key *ecfs_keyset_find(const struct ecfs_keyset *ks,
					const uint8_t sig[ECFS_SIG_BYTES])
{
	const struct ecfs_key *found = NULL;

	if (!ks)
		return NULL;
	/* Scan every key so the time does not depend on which one matched. */
	for (size_t i = 0; i < ks->count; i++)
		if (!ob_ct_memcmp(ks->keys[i].sig, sig, ECFS_SIG_BYTES) && !found)
			found = &ks->keys[i];
	return found;
}
