// SPDX-License-Identifier: MIT
/* fek.c - the per-file encryption key: unwrap, create, IVs, extent crypto.
 *
 * Every lower file has its own random FEK, stored once per authorised key
 * as a Tag 3 packet: ECB(cipher of the file, KEK[0..key_bytes-1], FEK)
 * (spec §4).  AES-192 is the odd one: the FEK is padded with 8 zero bytes
 * to 32, and those zeros are the only check that a key was right.
 *
 * Data is CBC in 4096-byte extents, extent n with IV_n = MD5(root_iv ||
 * decimal(n) zero-padded to 16 bytes), root_iv = MD5(FEK) (§5.2).  The
 * decimal is the kernel's "%lld": extents 0..9 are one digit, which is why
 * a reimplementation that adds n to '0' works until the 41st KiB.
 *
 * A struct ecfs_fek is immutable once built and its ckey is thread-safe,
 * so a mount unwraps a file's key once and crypts from any thread.
 */
#include "ecfs-int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <pthread.h>
#include <sched.h>

#include "ob/secmem.h"

/* Key size of a Tag 3 packet: 24 for code 0x08, else the EFEK length. */
static size_t packet_key_bytes(const struct ecfs_packet *pk)
{
	return pk->cipher_code == ECFS_CIPHER_AES_192 ? 24 : pk->ekey_len;
}

static bool key_size_ok(const struct ecfs_cipher_info *ci, size_t n)
{
	return n >= ci->key_min && n <= ci->key_max &&
	       (ci->key_step == 0 || (n - ci->key_min) % ci->key_step == 0);
}

/* Wrapped length of a key: AES-192 pads to 32, others must fill blocks. */
static size_t wrapped_len(const struct ecfs_cipher_info *ci, size_t key_bytes)
{
	if (ci->code == ECFS_CIPHER_AES_192)
		return 32;
	return key_bytes % ci->block ? 0 : key_bytes;
}

int ecfs_fek_build(const struct ecfs_cipher_info *ci, const uint8_t *key,
		   size_t key_bytes, struct ecfs_fek **out, struct ob_err *err)
{
	struct ecfs_fek *fek = ob_secure_alloc(sizeof(*fek));
	int rc;

	if (!fek)
		return ob_err_set(err, -ENOMEM, "allocating a file key");
	fek->cipher = ci;
	fek->key_bytes = key_bytes;
	memcpy(fek->key, key, key_bytes);
	ecfs_md5(fek->key, key_bytes, fek->root_iv);
	rc = ecfs_ckey_new(ci, fek->key, key_bytes, &fek->ckey, err);
	if (rc) {
		ob_secure_free(fek);
		return rc;
	}
	*out = fek;
	return 0;
}

/* Try one Tag 3 packet with its matching key. */
static int unwrap_one(const struct ecfs_packet *pk, const struct ecfs_keyset *ks,
		      const struct ecfs_key *key, struct ecfs_fek **out, struct ob_err *err)
{
	const struct ecfs_cipher_info *ci = ecfs_cipher_by_code(pk->cipher_code);
	uint8_t plain[ECFS_MAX_EKEY];
	struct ecfs_ckey *kek = NULL;
	bool owned;
	size_t kb;
	int rc;

	if (!ci)
		return ob_err_set(err, -EOPNOTSUPP, "unknown cipher code 0x%02x", pk->cipher_code);
	kb = packet_key_bytes(pk);
	if (!key_size_ok(ci, kb) || kb > ECFS_KEK_BYTES || pk->ekey_len % ci->block ||
	    pk->ekey_len < kb || wrapped_len(ci, kb) != pk->ekey_len)
		return ob_err_set(err, -EINVAL, "%s key packet with a %u-byte wrapped key (key size %zu)",
				  ci->name, pk->ekey_len, kb);
	kek = ecfs_keyset_kek(ks, key, ci, kb, &owned, err);
	if (!kek)
		return err ? err->code : -ENOMEM;
	rc = ecfs_ckey_ecb(kek, false, pk->ekey, plain, pk->ekey_len);
	if (owned)
		ecfs_ckey_free(kek);
	if (rc) {
		ob_err_set(err, rc, "unwrapping the file key");
		goto out;
	}
	if (pk->ekey_len > kb) {
		static const uint8_t zero[ECFS_MAX_EKEY];

		/* Only AES-192 pads; the padding must decrypt to zeros. */
		if (ob_ct_memcmp(plain + kb, zero, pk->ekey_len - kb)) {
			rc = ob_err_set(err, -EKEYREJECTED, "the key with this signature does not open the file key");
			goto out;
		}
	}
	rc = ecfs_fek_build(ci, plain, kb, out, err);
out:
	ob_wipe(plain, sizeof(plain));
	return rc;
}

int ecfs_fek_unwrap(const struct ecfs_header *h, const struct ecfs_keyset *ks,
		    struct ecfs_fek **out, int *packet_index, struct ob_err *err)
{
	int rc = -ENOKEY;
	bool tag1_only = true;
	struct ob_err last = {0};

	/* The kernel pushes each parsed packet at the head of a list and
	 * tries the last one parsed first. */
	for (int i = (int)h->npackets - 1; i >= 0; i--) {
		const struct ecfs_packet *pk = &h->packets[i];
		const struct ecfs_key *key;

		if (pk->tag != ECFS_PKT_TAG3)
			continue;
		tag1_only = false;
		key = ecfs_keyset_find(ks, pk->sig);
		if (!key)
			continue;
		rc = unwrap_one(pk, ks, key, out, &last);
		if (rc == 0) {
			if (packet_index)
				*packet_index = i;
			return 0;
		}
	}
	if (tag1_only)
		return ob_err_set(err, -EOPNOTSUPP, "only public-key (Tag 1) packets; no passphrase key can open it");
	if (rc == -ENOKEY) {
		char hex[ECFS_SIG_HEX];

		ecfs_sig_to_hex(h->packets[h->npackets - 1].sig, hex);
		return ob_err_set(err, -ENOKEY, "no key for this file (it wants key signature %s%s)",
				  hex, h->npackets > 1 ? " or another of its packets" : "");
	}
	if (err)
		*err = last;
	return rc;
}

/* Wrap fek for key into a new Tag 3 packet of h; ks (may be NULL) caches
 * the expanded KEK. */
static int wrap_into(const struct ecfs_fek *fek, const struct ecfs_keyset *ks,
		     const struct ecfs_key *key, struct ecfs_header *h, struct ob_err *err)
{
	const struct ecfs_cipher_info *ci = fek->cipher;
	size_t wl = wrapped_len(ci, fek->key_bytes);
	uint8_t plain[ECFS_MAX_EKEY] = {0};
	struct ecfs_ckey *kek = NULL;
	struct ecfs_packet *pk;
	bool owned = true;
	int rc;

	if (h->npackets == ECFS_MAX_PACKETS)
		return ob_err_set(err, -ENOSPC, "the header already has %d key packets",
				  ECFS_MAX_PACKETS);
	if (wl == 0)
		return ob_err_set(err, -EINVAL, "a %zu-byte %s key does not fill whole %u-byte blocks",
				  fek->key_bytes, ci->name, ci->block);
	if (ks) {
		kek = ecfs_keyset_kek(ks, key, ci, fek->key_bytes, &owned, err);
		rc = kek ? 0 : (err ? err->code : -ENOMEM);
	} else {
		rc = ecfs_ckey_new(ci, key->kek, fek->key_bytes, &kek, err);
	}
	if (rc)
		return rc;
	memcpy(plain, fek->key, fek->key_bytes);
	pk = &h->packets[h->npackets];
	memset(pk, 0, sizeof(*pk));
	pk->tag = ECFS_PKT_TAG3;
	pk->cipher_code = ci->code;
	memcpy(pk->sig, key->sig, ECFS_SIG_BYTES);
	memcpy(pk->salt, key->salt, ECFS_SALT_BYTES);
	pk->ekey_len = (uint16_t)wl;
	rc = ecfs_ckey_ecb(kek, true, plain, pk->ekey, wl);
	ob_wipe(plain, sizeof(plain));
	if (owned)
		ecfs_ckey_free(kek);
	if (rc)
		return ob_err_set(err, rc, "wrapping the file key");
	h->npackets++;
	return 0;
}

int ecfs_fek_wrap_into(const struct ecfs_fek *fek, const struct ecfs_key *key,
		       struct ecfs_header *h, struct ob_err *err)
{
	return wrap_into(fek, NULL, key, h, err);
}

int ecfs_fek_create(const struct ecfs_cipher_info *ci, size_t key_bytes,
		    const struct ecfs_keyset *wrap_keys, struct ecfs_header *h,
		    struct ecfs_fek **out, struct ob_err *err)
{
	uint8_t key[ECFS_MAX_KEY_BYTES];
	struct ecfs_fek *fek = NULL;
	size_t n = ecfs_keyset_count(wrap_keys);
	int rc;

	if (key_bytes == 0)
		key_bytes = ci->key_default;
	if (!key_size_ok(ci, key_bytes) || wrapped_len(ci, key_bytes) == 0)
		return ob_err_set(err, -EINVAL, "%s does not take a %zu-byte key", ci->name, key_bytes);
	if (n == 0)
		return ob_err_set(err, -ENOKEY, "no key to wrap the new file's key with");
	rc = ecfs_random(key, key_bytes);
	if (rc)
		return ob_err_set(err, rc, "getrandom");
	rc = ecfs_fek_build(ci, key, key_bytes, &fek, err);
	ob_wipe(key, sizeof(key));
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		rc = wrap_into(fek, wrap_keys, ecfs_keyset_get(wrap_keys, i), h, err);
		if (rc)
			goto fail;
	}
	*out = fek;
	return 0;
fail:
	ecfs_fek_free(fek);
	return rc;
}

void ecfs_fek_free(struct ecfs_fek *fek)
{
	if (!fek)
		return;
	ecfs_ckey_free(fek->ckey);
	ob_secure_free(fek);
}

const struct ecfs_cipher_info *ecfs_fek_cipher(const struct ecfs_fek *fek)
{
	return fek->cipher;
}

size_t ecfs_fek_key_bytes(const struct ecfs_fek *fek)
{
	return fek->key_bytes;
}

void ecfs_fek_extent_iv(const struct ecfs_fek *fek, uint64_t n,
			uint8_t iv[ECFS_IV_BYTES])
{
	uint8_t src[2 * ECFS_IV_BYTES] = {0};

	memcpy(src, fek->root_iv, ECFS_IV_BYTES);
	/* The kernel formats a signed 64-bit "%lld" into 16 bytes. */
	snprintf((char *)src + ECFS_IV_BYTES, ECFS_IV_BYTES, "%" PRId64, (int64_t)n);
	ecfs_md5(src, sizeof(src), iv);
}

static int crypt_run(const struct ecfs_fek *fek, bool encrypt, uint64_t first,
		     const uint8_t *in, uint8_t *out, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		uint8_t iv[ECFS_IV_BYTES];
		size_t off = i * ECFS_EXTENT_SIZE;
		int rc;

		ecfs_fek_extent_iv(fek, first + i, iv);
		rc = ecfs_ckey_cbc(fek->ckey, encrypt, iv, in + off, out + off,
				   ECFS_EXTENT_SIZE);
		if (rc)
			return rc;
	}
	return 0;
}

/*
 * A helper thread for big runs of extents.  Each extent is its own CBC
 * message, so a 1 MiB FUSE write is 256 independent jobs; CBC encryption
 * is serial within an extent, and with one write in flight (dd, cp) one
 * core encrypts while the other idles (measured: 46% idle on 2 cores; with
 * the helper a 1 GiB dd took 1.36 s instead of 1.67-1.81 s).
 * Reads are the same when the FUSE daemon serves each request on the CPU
 * of the program that made it (FUSE over io_uring): the kernel's readahead
 * asks for 1 MiB at a time and, decrypted on the reader's CPU alone, a
 * cold dd read ran at 856-1035 MiB/s against 1816 through /dev/fuse.
 * Runs of at least CRYPT_SPLIT_MIN extents give their second half to the
 * helper when the caller has one (ecfs_crypt_helper_new: a mount makes one
 * and frees it at unmount; the library starts no thread of its own) and it
 * is free, and do the first half themselves; when another thread has the
 * helper, the caller simply does all of it.  One helper is
 * enough: the machines this is tuned for have two cores, and concurrent
 * requests already spread over the FUSE threads.
 */
#define CRYPT_SPLIT_MIN 32

struct ecfs_crypt_helper {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake, done;
	bool busy, has_job, finished, quit;
	const struct ecfs_fek *fek;
	bool encrypt;
	uint64_t first;
	const uint8_t *in;
	uint8_t *out;
	size_t count;
	int rc;
};

static void *helper_main(void *arg)
{
	struct ecfs_crypt_helper *h = arg;

	(void)pthread_setname_np(pthread_self(), "ecfs-crypt");
	pthread_mutex_lock(&h->lock);
	for (;;) {
		while (!h->has_job && !h->quit)
			pthread_cond_wait(&h->wake, &h->lock);
		if (h->quit)
			break;
		h->has_job = false;
		pthread_mutex_unlock(&h->lock);
		int rc = crypt_run(h->fek, h->encrypt, h->first, h->in, h->out, h->count);
		pthread_mutex_lock(&h->lock);
		h->rc = rc;
		h->finished = true;
		pthread_cond_signal(&h->done);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

int ecfs_crypt_helper_new(struct ecfs_crypt_helper **out, struct ob_err *err)
{
	struct ecfs_crypt_helper *h;
	pthread_attr_t a;
	sigset_t all, old;
	cpu_set_t cpus;
	int rc;

	*out = NULL;
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return 0;		/* nothing to spare: callers do it all */
	h = calloc(1, sizeof(*h));
	if (!h)
		return ob_err_set(err, -ENOMEM, "allocating the crypt helper");
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->wake, NULL);
	pthread_cond_init(&h->done, NULL);
	/* The helper must not take the process's signals (a FUSE daemon's
	 * SIGTERM handler runs in its own threads). */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pthread_attr_init(&a);
	/* Anywhere the process may run, even when the creator is a thread
	 * pinned to one CPU: that is the CPU the helper must spare. */
	if (sched_getaffinity(getpid(), sizeof(cpus), &cpus) == 0)
		(void)pthread_attr_setaffinity_np(&a, sizeof(cpus), &cpus);
	rc = pthread_create(&h->thread, &a, helper_main, h);
	pthread_attr_destroy(&a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		pthread_cond_destroy(&h->done);
		pthread_cond_destroy(&h->wake);
		pthread_mutex_destroy(&h->lock);
		free(h);
		return ob_err_set(err, -rc, "starting the crypt helper thread");
	}
	*out = h;
	return 0;
}

void ecfs_crypt_helper_free(struct ecfs_crypt_helper *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	h->quit = true;
	pthread_cond_signal(&h->wake);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->thread, NULL);
	pthread_cond_destroy(&h->done);
	pthread_cond_destroy(&h->wake);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

int ecfs_fek_crypt_extents(const struct ecfs_fek *fek, bool encrypt,
			   uint64_t first, const uint8_t *in, uint8_t *out,
			   size_t count)
{
	return crypt_run(fek, encrypt, first, in, out, count);
}

int ecfs_fek_crypt_extents_with(struct ecfs_crypt_helper *h, const struct ecfs_fek *fek,
				bool encrypt, uint64_t first, const uint8_t *in,
				uint8_t *out, size_t count)
{
	size_t half = count / 2;
	int rc, rc2;

	if (!h || count < CRYPT_SPLIT_MIN || pthread_mutex_trylock(&h->lock))
		return crypt_run(fek, encrypt, first, in, out, count);
	if (h->busy) {
		pthread_mutex_unlock(&h->lock);
		return crypt_run(fek, encrypt, first, in, out, count);
	}
	h->busy = true;
	h->fek = fek;
	h->encrypt = encrypt;
	h->first = first + half;
	h->in = in + half * ECFS_EXTENT_SIZE;
	h->out = out + half * ECFS_EXTENT_SIZE;
	h->count = count - half;
	h->finished = false;
	h->has_job = true;
	pthread_cond_signal(&h->wake);
	pthread_mutex_unlock(&h->lock);

	rc = crypt_run(fek, encrypt, first, in, out, half);

	pthread_mutex_lock(&h->lock);
	while (!h->finished)
		pthread_cond_wait(&h->done, &h->lock);
	rc2 = h->rc;
	h->busy = false;
	pthread_mutex_unlock(&h->lock);
	return rc ? rc : rc2;
}
