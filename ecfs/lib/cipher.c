// SPDX-License-Identifier: MIT
/* cipher.c - the kernel's eCryptfs ciphers behind one thread-safe API.
 *
 * Job: map the cipher codes of a Tag 3 packet (spec §3.6) to ciphers, expand
 * keys once (struct ecfs_ckey), and run ECB (the FEK wrap, §4) and CBC (one
 * 4096-byte extent per call, §5.3) with them.  A mount unwraps a FEK once and
 * then any number of FUSE threads encrypt and decrypt extents with the same
 * ckey, so a ckey is immutable after ecfs_ckey_new() and ecfs_ckey_ecb() and
 * ecfs_ckey_cbc() may run on it from many threads at once.
 *
 * Which library serves which cipher, and why:
 *
 *   cipher      codes          library            why
 *   aes         0x07 0x08 0x09 OpenSSL 3 EVP      AES-NI, pipelined CBC decrypt
 *   des3_ede    0x02           OpenSSL 3 EVP      default provider
 *   blowfish    0x04           OpenSSL 3 EVP      legacy provider
 *   cast5       0x03           OpenSSL 3 EVP      legacy provider
 *   twofish     0x0a           nettle             OpenSSL has no Twofish
 *   cast6       0x0b           Botan 2 (C FFI)    neither OpenSSL nor nettle
 *                                                 has CAST-256
 *
 * Each library is one backend: a static const struct cipher_ops at the bottom
 * of the file.  The generic ecfs_ckey_* functions check the arguments once and
 * call through ck->ops; a backend without a CBC hook gets CBC chained here
 * over its ECB hook (cbc_chain()).
 *
 * OpenSSL context pool.  An EVP_CIPHER_CTX carries per-message state (the
 * chaining value), so one context cannot serve two threads, and creating one
 * per call would allocate and re-run the key schedule on every extent.  So
 * each OpenSSL ckey keeps free lists of contexts whose key is already set: one
 * list per (mode, direction), because ECB and CBC are different EVP_CIPHERs
 * and an AES context keyed for encryption holds a different schedule from one
 * keyed for decryption.  A call pops a context (or makes one when the list is
 * empty), re-initialises only the IV, runs, and pushes it back.  The mutex is
 * held only for the pop and the push, so at steady state (no more than
 * POOL_MAX threads in one list at once) a call takes the lock twice and
 * allocates nothing.  The ECB lists stay empty unless ECB is used.
 *
 * The OpenSSL providers live in a private OSSL_LIB_CTX, loaded once
 * (pthread_once): Blowfish and CAST5 are only in the "legacy" provider, and
 * loading it into the process's default library context would change what
 * every other OpenSSL user in the process sees.  The EVP_CIPHERs are fetched
 * once there too; both stay for the life of the process (read-only after the
 * once routine).
 *
 * nettle's twofish_encrypt() and Botan's BlockCipher::encrypt_n() take their
 * key schedule const and keep no per-call state, so those backends share one
 * expanded key between threads with no lock at all.
 *
 * Key material: the ckey is allocated with ob_secure_alloc() (locked, never
 * dumped) and wiped by ob_secure_free(); that covers the raw key kept for
 * keying new OpenSSL contexts and nettle's whole schedule.  OpenSSL's
 * contexts, schedules included, are allocated in the same pool (keymem.c).
 * Botan's CAST-256 schedule lives in Botan's own memory, which it wipes on
 * free (the man page says so).
 * Error messages give cipher names and key sizes, never key bytes.
 *
 * Known gaps:
 *  - The kernel sets CRYPTO_TFM_REQ_FORBID_WEAK_KEYS; OpenSSL does not check
 *    3DES keys for weak or K1 == K2 halves, so ecfs accepts FEKs the kernel
 *    would refuse.  Random 24-byte FEKs are weak with negligible probability.
 *  - blowfish accepts 4..56-byte keys and cast5 5..16 (the kernel's and
 *    OpenSSL's limits); ecryptfs-utils only offers multiples of 8 for
 *    blowfish (16..56) and 16 for cast5.
 *  - twofish and cast6 take 16, 24 or 32 bytes; the kernel cannot wrap a
 *    24-byte key with a 16-byte block cipher (§3.6), that check belongs to
 *    the wrap code, not here.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <botan/ffi.h>
#include <nettle/twofish.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>

#include "ecfs-int.h"
#include "ob/secmem.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Contexts kept per (mode, direction) list of one OpenSSL ckey: more threads
 * than this in one list at once still work, the extra contexts are freed. */
#define POOL_MAX	64
/* Bytes the generic CBC decrypt hands to the backend per call. */
#define CHAIN_CHUNK	512
/* EVP_CipherUpdate() takes an int length: longer buffers go in pieces of
 * this many bytes (a multiple of every block size). */
#define EVP_PIECE	(1u << 30)
#define BLOCK_MAX	16

enum { MODE_ECB, MODE_CBC, MODE_COUNT };

struct ecfs_ckey;

/* One backend.  Hooks get arguments already checked by the generic code:
 * key_len valid for the cipher, len a nonzero multiple of the block size. */
struct cipher_ops {
	/* Expand key into ck (zeroed secure memory, ci/idx/key_len set).  On
	 * failure undo everything done so far; fill err. */
	int (*init)(struct ecfs_ckey *ck, const uint8_t *key, size_t key_len,
		    struct ob_err *err);
	/* Optional: release what init acquired outside ck itself. */
	void (*fini)(struct ecfs_ckey *ck);
	int (*ecb)(const struct ecfs_ckey *ck, bool enc, const uint8_t *in,
		   uint8_t *out, size_t len);
	/* Optional: CBC from iv (block bytes); NULL = cbc_chain() over ecb. */
	int (*cbc)(const struct ecfs_ckey *ck, bool enc, const uint8_t *iv,
		   const uint8_t *in, uint8_t *out, size_t len);
};

static const struct cipher_ops openssl_ops, nettle_ops, botan_ops;

/* ------------------------------------------------------------ the table */

/* Ordered by code; by_name() relies on "aes" 0x07 (the default size)
 * coming before 0x08 and 0x09. */
static const struct ecfs_cipher_info cipher_table[] = {
	{ .name = "des3_ede", .code = ECFS_CIPHER_DES3_EDE, .block = 8,
	  .key_min = 24, .key_max = 24, .key_step = 1, .key_default = 24 },
	{ .name = "cast5", .code = ECFS_CIPHER_CAST5, .block = 8,
	  .key_min = 5, .key_max = 16, .key_step = 1, .key_default = 16 },
	{ .name = "blowfish", .code = ECFS_CIPHER_BLOWFISH, .block = 8,
	  .key_min = 4, .key_max = 56, .key_step = 1, .key_default = 16 },
	{ .name = "aes", .code = ECFS_CIPHER_AES_128, .block = 16,
	  .key_min = 16, .key_max = 16, .key_step = 1, .key_default = 16 },
	{ .name = "aes", .code = ECFS_CIPHER_AES_192, .block = 16,
	  .key_min = 24, .key_max = 24, .key_step = 1, .key_default = 24 },
	{ .name = "aes", .code = ECFS_CIPHER_AES_256, .block = 16,
	  .key_min = 32, .key_max = 32, .key_step = 1, .key_default = 32 },
	{ .name = "twofish", .code = ECFS_CIPHER_TWOFISH, .block = 16,
	  .key_min = 16, .key_max = 32, .key_step = 8, .key_default = 16 },
	{ .name = "cast6", .code = ECFS_CIPHER_CAST6, .block = 16,
	  .key_min = 16, .key_max = 32, .key_step = 8, .key_default = 16 },
};

#define N_CIPHERS ARRAY_SIZE(cipher_table)

/* How each table entry is served; same index as cipher_table. */
static const struct cipher_impl {
	const struct cipher_ops *ops;
	const char *algo[MODE_COUNT];	/* OpenSSL names; [0] for Botan */
	bool legacy;			/* needs OpenSSL's legacy provider */
} cipher_impls[N_CIPHERS] = {
	{ &openssl_ops, { "DES-EDE3-ECB", "DES-EDE3-CBC" }, false },
	{ &openssl_ops, { "CAST5-ECB", "CAST5-CBC" }, true },
	{ &openssl_ops, { "BF-ECB", "BF-CBC" }, true },
	{ &openssl_ops, { "AES-128-ECB", "AES-128-CBC" }, false },
	{ &openssl_ops, { "AES-192-ECB", "AES-192-CBC" }, false },
	{ &openssl_ops, { "AES-256-ECB", "AES-256-CBC" }, false },
	{ &nettle_ops, { NULL, NULL }, false },
	{ &botan_ops, { "CAST-256", NULL }, false },
};

_Static_assert(ARRAY_SIZE(cipher_impls) == N_CIPHERS, "one impl per cipher");

/* ------------------------------------------------------------- the ckey */

/* Free contexts, all keyed with the ckey's key for one mode and direction. */
struct ctx_list {
	unsigned int n;
	EVP_CIPHER_CTX *ctx[POOL_MAX];
};

struct evp_key {
	/* The only mutable part of a ckey.  lock guards lists[][] and is held
	 * only to pop or push one context; nothing else is done under it. */
	pthread_mutex_t lock;
	struct ctx_list lists[MODE_COUNT][2];	/* [mode][encrypt] */
	uint8_t key[ECFS_MAX_KEY_BYTES];	/* to key contexts made later */
};

struct ecfs_ckey {
	const struct ecfs_cipher_info *ci;	/* entry of cipher_table */
	const struct cipher_ops *ops;
	size_t idx;				/* ci - cipher_table */
	size_t key_len;
	union {
		struct evp_key evp;
		struct twofish_ctx twofish;
		botan_block_cipher_t botan;
	} u;
};

/* ------------------------------------------------------------- lookups */

static bool key_len_ok(const struct ecfs_cipher_info *ci, size_t n)
{
	return n >= ci->key_min && n <= ci->key_max &&
	       (n - ci->key_min) % ci->key_step == 0;
}

const struct ecfs_cipher_info *ecfs_cipher_by_code(uint8_t code)
{
	for (size_t i = 0; i < N_CIPHERS; i++)
		if (cipher_table[i].code == code)
			return &cipher_table[i];
	return NULL;
}

const struct ecfs_cipher_info *ecfs_cipher_by_name(const char *name,
						   size_t key_bytes)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < N_CIPHERS; i++) {
		const struct ecfs_cipher_info *ci = &cipher_table[i];

		if (strcmp(ci->name, name) != 0)
			continue;
		/* aes: the next entry may take this size (§3.6, the writer's
		 * ecryptfs_code_for_cipher_string()). */
		if (key_bytes == 0 || key_len_ok(ci, key_bytes))
			return ci;
	}
	return NULL;
}

size_t ecfs_cipher_list(const struct ecfs_cipher_info **out)
{
	*out = cipher_table;
	return N_CIPHERS;
}

/* Index of ci in the table; callers may pass a copy of an entry, so fall
 * back to its code.  -1 when neither matches. */
static int cipher_index(const struct ecfs_cipher_info *ci)
{
	const struct ecfs_cipher_info *byc;

	for (size_t i = 0; i < N_CIPHERS; i++)
		if (ci == &cipher_table[i])
			return (int)i;
	byc = ecfs_cipher_by_code(ci->code);
	if (!byc || strcmp(byc->name, ci->name ? ci->name : "") != 0)
		return -1;
	return (int)(byc - cipher_table);
}

/* ---------------------------------------------------- OpenSSL backend */

static pthread_once_t evp_once = PTHREAD_ONCE_INIT;
static OSSL_LIB_CTX *evp_libctx;
static bool evp_default_ok, evp_legacy_ok;
static EVP_CIPHER *evp_ciphers[N_CIPHERS][MODE_COUNT];

static void evp_load(void)
{
	evp_libctx = OSSL_LIB_CTX_new();
	if (!evp_libctx)
		return;
	/* Loading any provider explicitly stops the default one from being
	 * loaded implicitly, so name both. */
	evp_default_ok = OSSL_PROVIDER_load(evp_libctx, "default") != NULL;
	evp_legacy_ok = OSSL_PROVIDER_load(evp_libctx, "legacy") != NULL;
	for (size_t i = 0; i < N_CIPHERS; i++) {
		if (cipher_impls[i].ops != &openssl_ops)
			continue;
		for (int m = 0; m < MODE_COUNT; m++)
			evp_ciphers[i][m] = EVP_CIPHER_fetch(evp_libctx,
						cipher_impls[i].algo[m], NULL);
	}
	/* A missing legacy provider is reported per cipher in evp_init(); do
	 * not leave its errors on this thread's queue for someone else. */
	ERR_clear_error();
}

static int evp_ctx_new_keyed(const struct ecfs_ckey *ck, int mode, int enc,
			     EVP_CIPHER_CTX **out);

/* A new context for (mode, enc) with ck's key set: OpenSSL allocates it and
 * the key schedule in it from the locked pool (keymem.c). */
static int evp_ctx_new(const struct ecfs_ckey *ck, int mode, int enc,
		       EVP_CIPHER_CTX **out)
{
	int rc;

	ecfs_keymem_begin();
	rc = evp_ctx_new_keyed(ck, mode, enc, out);
	ecfs_keymem_end();
	return rc;
}

/* The same, whatever the allocator; padding off (with padding on, a
 * decrypt would hold back the last block). */
static int evp_ctx_new_keyed(const struct ecfs_ckey *ck, int mode, int enc,
			     EVP_CIPHER_CTX **out)
{
	const EVP_CIPHER *c = evp_ciphers[ck->idx][mode];
	EVP_CIPHER_CTX *ctx;

	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return -ENOMEM;
	if (!EVP_CipherInit_ex2(ctx, c, NULL, NULL, enc, NULL))
		goto fail;
	/* Only Blowfish and CAST5 have a variable key length (default 16);
	 * it must be set before the key, or OpenSSL takes 16 bytes of it.
	 * For AES and 3DES key_len_ok() already matched the fixed length. */
	if ((size_t)EVP_CIPHER_get_key_length(c) != ck->key_len &&
	    !EVP_CIPHER_CTX_set_key_length(ctx, (int)ck->key_len))
		goto fail;
	if (!EVP_CipherInit_ex2(ctx, NULL, ck->u.evp.key, NULL, enc, NULL))
		goto fail;
	EVP_CIPHER_CTX_set_padding(ctx, 0);
	*out = ctx;
	return 0;
fail:
	EVP_CIPHER_CTX_free(ctx);
	ERR_clear_error();
	return -EIO;
}

/* The pool is logically part of the ckey's implementation, not its value:
 * the one place a const ckey is written, always under its lock. */
static struct evp_key *evp_pool(const struct ecfs_ckey *ck)
{
	return (struct evp_key *)&ck->u.evp;
}

static int evp_get(const struct ecfs_ckey *ck, int mode, bool enc,
		   EVP_CIPHER_CTX **out)
{
	struct evp_key *ek = evp_pool(ck);
	struct ctx_list *l = &ek->lists[mode][enc];
	EVP_CIPHER_CTX *ctx = NULL;

	pthread_mutex_lock(&ek->lock);
	if (l->n)
		ctx = l->ctx[--l->n];
	pthread_mutex_unlock(&ek->lock);
	if (ctx) {
		*out = ctx;
		return 0;
	}
	return evp_ctx_new(ck, mode, enc, out);
}

static void evp_put(const struct ecfs_ckey *ck, int mode, bool enc,
		    EVP_CIPHER_CTX *ctx)
{
	struct evp_key *ek = evp_pool(ck);
	struct ctx_list *l = &ek->lists[mode][enc];

	pthread_mutex_lock(&ek->lock);
	if (l->n < POOL_MAX) {
		l->ctx[l->n++] = ctx;
		ctx = NULL;
	}
	pthread_mutex_unlock(&ek->lock);
	EVP_CIPHER_CTX_free(ctx);	/* only when the list was full */
}

static void evp_fini(struct ecfs_ckey *ck)
{
	struct evp_key *ek = &ck->u.evp;

	for (int m = 0; m < MODE_COUNT; m++)
		for (int e = 0; e < 2; e++)
			for (unsigned int i = 0; i < ek->lists[m][e].n; i++)
				EVP_CIPHER_CTX_free(ek->lists[m][e].ctx[i]);
	pthread_mutex_destroy(&ek->lock);
}

static int evp_init(struct ecfs_ckey *ck, const uint8_t *key, size_t key_len,
		    struct ob_err *err)
{
	const struct cipher_impl *im = &cipher_impls[ck->idx];
	EVP_CIPHER_CTX *ctx;
	int rc;

	pthread_once(&evp_once, evp_load);
	if (!evp_libctx)
		return ob_err_set(err, -ENOMEM, "%s: cannot create an OpenSSL "
				  "library context", ck->ci->name);
	if (im->legacy && !evp_legacy_ok)
		return ob_err_set(err, -EOPNOTSUPP, "%s: needs OpenSSL's legacy "
				  "provider, which could not be loaded (is "
				  "ossl-modules/legacy.so installed?)",
				  ck->ci->name);
	if (!im->legacy && !evp_default_ok)
		return ob_err_set(err, -EOPNOTSUPP, "%s: OpenSSL's default "
				  "provider could not be loaded", ck->ci->name);
	for (int m = 0; m < MODE_COUNT; m++)
		if (!evp_ciphers[ck->idx][m])
			return ob_err_set(err, -EOPNOTSUPP, "%s: OpenSSL has no "
					  "%s", ck->ci->name, im->algo[m]);

	memcpy(ck->u.evp.key, key, key_len);
	rc = -pthread_mutex_init(&ck->u.evp.lock, NULL);
	if (rc)
		return ob_err_set(err, rc, "%s: cannot create the context "
				  "pool lock", ck->ci->name);

	/* Key one context now, so that a key OpenSSL refuses fails here with
	 * a reason rather than later as -EIO; CBC decrypt is the commonest
	 * operation (every extent read), so it goes into that list. */
	rc = evp_ctx_new(ck, MODE_CBC, 0, &ctx);
	if (rc) {
		ob_err_set(err, rc, "%s: OpenSSL refused a key of %zu bytes",
			   ck->ci->name, key_len);
		goto fail_lock;
	}
	ck->u.evp.lists[MODE_CBC][0].ctx[0] = ctx;
	ck->u.evp.lists[MODE_CBC][0].n = 1;
	return 0;

fail_lock:
	pthread_mutex_destroy(&ck->u.evp.lock);
	return rc;
}

/* One message: re-initialise only the IV (NULL for ECB) of a pooled,
 * already keyed context, then run len bytes through it. */
static int evp_run(const struct ecfs_ckey *ck, int mode, bool enc,
		   const uint8_t *iv, const uint8_t *in, uint8_t *out,
		   size_t len)
{
	EVP_CIPHER_CTX *ctx;
	int rc, outl;

	rc = evp_get(ck, mode, enc, &ctx);
	if (rc)
		return rc;
	if (!EVP_CipherInit_ex(ctx, NULL, NULL, NULL, iv, enc))
		goto fail;
	while (len) {
		size_t n = len < EVP_PIECE ? len : EVP_PIECE;

		if (!EVP_CipherUpdate(ctx, out, &outl, in, (int)n) ||
		    (size_t)outl != n)
			goto fail;
		in += n;
		out += n;
		len -= n;
	}
	evp_put(ck, mode, enc, ctx);
	return 0;

fail:
	/* Its state is unknown now: do not return it to the pool. */
	EVP_CIPHER_CTX_free(ctx);
	ERR_clear_error();
	return -EIO;
}

static int evp_ecb(const struct ecfs_ckey *ck, bool enc, const uint8_t *in,
		   uint8_t *out, size_t len)
{
	return evp_run(ck, MODE_ECB, enc, NULL, in, out, len);
}

/* EVP reads exactly the cipher's IV length, 8 bytes for Blowfish, 3DES and
 * CAST5: the first 8 of the 16-byte eCryptfs IV, as the kernel uses (§5.2). */
static int evp_cbc(const struct ecfs_ckey *ck, bool enc, const uint8_t *iv,
		   const uint8_t *in, uint8_t *out, size_t len)
{
	return evp_run(ck, MODE_CBC, enc, iv, in, out, len);
}

/* ----------------------------------------------------- nettle backend */

static int twofish_init(struct ecfs_ckey *ck, const uint8_t *key,
			size_t key_len, struct ob_err *err)
{
	twofish_set_key(&ck->u.twofish, key_len, key);
	return 0;
}

static int twofish_ecb(const struct ecfs_ckey *ck, bool enc,
		       const uint8_t *in, uint8_t *out, size_t len)
{
	if (enc)
		twofish_encrypt(&ck->u.twofish, len, out, in);
	else
		twofish_decrypt(&ck->u.twofish, len, out, in);
	return 0;
}

/* ------------------------------------------------------ Botan backend */

static int botan_init(struct ecfs_ckey *ck, const uint8_t *key,
		      size_t key_len, struct ob_err *err)
{
	const char *algo = cipher_impls[ck->idx].algo[0];
	botan_block_cipher_t bc;
	int rc;

	if (botan_block_cipher_init(&bc, algo) != 0)
		return ob_err_set(err, -EOPNOTSUPP, "%s: Botan has no %s",
				  ck->ci->name, algo);
	if (botan_block_cipher_set_key(bc, key, key_len) != 0) {
		rc = ob_err_set(err, -EINVAL, "%s: Botan refused a key of %zu "
				"bytes", ck->ci->name, key_len);
		goto fail_cipher;
	}
	ck->u.botan = bc;
	return 0;

fail_cipher:
	botan_block_cipher_destroy(bc);
	return rc;
}

static void botan_fini(struct ecfs_ckey *ck)
{
	botan_block_cipher_destroy(ck->u.botan);
}

static int botan_ecb(const struct ecfs_ckey *ck, bool enc, const uint8_t *in,
		     uint8_t *out, size_t len)
{
	size_t blocks = len / ck->ci->block;
	int rc;

	if (enc)
		rc = botan_block_cipher_encrypt_blocks(ck->u.botan, in, out,
						       blocks);
	else
		rc = botan_block_cipher_decrypt_blocks(ck->u.botan, in, out,
						       blocks);
	return rc ? -EIO : 0;
}

/* ------------------------------------------------------- generic code */

/* CBC over a backend's ECB hook.  Encryption is serial, one block per call.
 * Decryption runs CHAIN_CHUNK bytes per call; the chunk's ciphertext is
 * copied first because out may be in and the XOR needs it afterwards. */
static int cbc_chain(const struct ecfs_ckey *ck, bool enc, const uint8_t *iv,
		     const uint8_t *in, uint8_t *out, size_t len)
{
	size_t bs = ck->ci->block;
	uint8_t prev[BLOCK_MAX], buf[CHAIN_CHUNK];
	int rc = 0;

	memcpy(prev, iv, bs);
	if (enc) {
		for (size_t off = 0; off < len; off += bs) {
			for (size_t i = 0; i < bs; i++)
				buf[i] = in[off + i] ^ prev[i];
			rc = ck->ops->ecb(ck, true, buf, out + off, bs);
			if (rc)
				break;
			memcpy(prev, out + off, bs);
		}
		return rc;
	}
	for (size_t off = 0, n; off < len; off += n) {
		n = len - off < sizeof(buf) ? len - off : sizeof(buf);
		memcpy(buf, in + off, n);
		rc = ck->ops->ecb(ck, false, buf, out + off, n);
		if (rc)
			break;
		for (size_t i = 0; i < bs; i++)
			out[off + i] ^= prev[i];
		for (size_t i = bs; i < n; i++)
			out[off + i] ^= buf[i - bs];
		memcpy(prev, buf + n - bs, bs);
	}
	return rc;
}

int ecfs_ckey_new(const struct ecfs_cipher_info *ci, const uint8_t *key,
		  size_t key_len, struct ecfs_ckey **out, struct ob_err *err)
{
	struct ecfs_ckey *ck;
	int idx, rc;

	idx = ci ? cipher_index(ci) : -1;
	if (idx < 0)
		return ob_err_set(err, -EINVAL, "unknown cipher (code 0x%02x)",
				  ci ? ci->code : 0);
	ci = &cipher_table[idx];
	if (!key_len_ok(ci, key_len)) {
		if (ci->key_min == ci->key_max)
			return ob_err_set(err, -EINVAL, "%s: key of %zu bytes "
					  "(expected %u)", ci->name, key_len,
					  ci->key_min);
		return ob_err_set(err, -EINVAL, "%s: key of %zu bytes (expected "
				  "%u..%u in steps of %u)", ci->name, key_len,
				  ci->key_min, ci->key_max, ci->key_step);
	}

	ck = ob_secure_alloc(sizeof(*ck));
	if (!ck)
		return ob_err_set(err, -ENOMEM, "%s: no memory for a key",
				  ci->name);
	ck->ci = ci;
	ck->ops = cipher_impls[idx].ops;
	ck->idx = (size_t)idx;
	ck->key_len = key_len;
	rc = ck->ops->init(ck, key, key_len, err);
	if (rc)
		goto fail_free;
	*out = ck;
	return 0;

fail_free:
	ob_secure_free(ck);
	return rc;
}

void ecfs_ckey_free(struct ecfs_ckey *ck)
{
	if (!ck)
		return;
	if (ck->ops->fini)
		ck->ops->fini(ck);
	ob_secure_free(ck);
}

const struct ecfs_cipher_info *ecfs_ckey_cipher(const struct ecfs_ckey *ck)
{
	return ck->ci;
}

int ecfs_ckey_ecb(const struct ecfs_ckey *ck, bool encrypt, const uint8_t *in,
		  uint8_t *out, size_t len)
{
	if (len % ck->ci->block)
		return -EINVAL;
	if (len == 0)
		return 0;
	return ck->ops->ecb(ck, encrypt, in, out, len);
}

int ecfs_ckey_cbc(const struct ecfs_ckey *ck, bool encrypt,
		  const uint8_t iv[ECFS_IV_BYTES], const uint8_t *in,
		  uint8_t *out, size_t len)
{
	if (len % ck->ci->block)
		return -EINVAL;
	if (len == 0)
		return 0;
	if (ck->ops->cbc)
		return ck->ops->cbc(ck, encrypt, iv, in, out, len);
	return cbc_chain(ck, encrypt, iv, in, out, len);
}

/* ------------------------------------------------------------ backends */

static const struct cipher_ops openssl_ops = {
	.init	= evp_init,
	.fini	= evp_fini,
	.ecb	= evp_ecb,
	.cbc	= evp_cbc,
};

static const struct cipher_ops nettle_ops = {
	.init	= twofish_init,
	.ecb	= twofish_ecb,
};

static const struct cipher_ops botan_ops = {
	.init	= botan_init,
	.fini	= botan_fini,
	.ecb	= botan_ecb,
};
