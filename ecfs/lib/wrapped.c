// SPDX-License-Identifier: MIT
/* wrapped.c - ecryptfs-utils wrapped-passphrase files, v1 and v2 (spec §10.2).
 *
 * ~/.ecryptfs/wrapped-passphrase holds the mount passphrase encrypted with
 * the login (wrapping) passphrase:
 *
 *   v1:  sig_w hex[16] | ciphertext (16..64)               salt not stored
 *   v2:  ':' 0x02 | salt[8] | sig_w hex[16] | ciphertext    since utils 106
 *
 * KEK64_w and sig_w come from the wrapping passphrase and salt as for any
 * passphrase (§1); the cipher is AES-128-ECB keyed with the FIRST 16 bytes
 * of KEK64_w (§12 item 21); the plaintext is the mount passphrase zero
 * padded to whole blocks, with no extra block when it already is.  The
 * signature is the only check that the wrapping passphrase is right, so a
 * mismatch is -EKEYREJECTED and we compare it in constant time.
 *
 * We follow ecryptfs-utils (key_management.c) where it is lenient: version
 * detection looks at exactly 16 bytes, the signature is compared as the
 * lowercase hex the tools write, at most 64 bytes of ciphertext are read
 * (anything after them is ignored), and the passphrase ends at the first
 * NUL.  Where the tools would feed NSS a partial block we say -EINVAL.
 *
 * Key material (the wrapping KEK and the plaintext) lives in one locked,
 * wipe-on-free allocation for the duration of a call.
 */
#include "ecfs-int.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "ob/secmem.h"

#define WRAP_KEY_BYTES		16	/* AES-128: KEK64_w[0..15] */
#define WRAP_BLOCK		16
#define WRAP_SIG_HEX		(2 * ECFS_SIG_BYTES)
#define WRAP_CT_MAX		ECFS_MAX_PASSPHRASE
#define V1_HEAD			WRAP_SIG_HEX			/* 16 */
#define V2_HEAD			(2 + ECFS_SALT_BYTES + WRAP_SIG_HEX)	/* 26 */
#define V2_MAGIC		':'

/* The parts of a wrapped file; pointers into the caller's buffer. */
struct wrapped_view {
	const uint8_t *salt;
	const uint8_t *sig_hex;		/* WRAP_SIG_HEX ASCII bytes */
	const uint8_t *ct;
	size_t ct_len;
};

/* Per-call secrets, kept together in locked memory. */
struct wrap_secrets {
	struct ecfs_key key;		/* KEK64_w, sig_w */
	uint8_t plain[WRAP_CT_MAX];
	uint8_t ct[WRAP_CT_MAX];	/* wrap: out stays untouched on failure */
};

int ecfs_wrapped_version(const uint8_t *buf, size_t len, struct ob_err *err)
{
	if (len < WRAP_SIG_HEX)
		return ob_err_set(err, -EINVAL,
				  "wrapped passphrase too short (%zu bytes, need %d)",
				  len, WRAP_SIG_HEX);
	if (buf[0] == V2_MAGIC) {
		if (buf[1] != 2)
			return ob_err_set(err, -ENOTSUP,
					  "wrapped passphrase version %u (expected 2)",
					  buf[1]);
		return 2;
	}
	for (size_t i = 0; i < WRAP_SIG_HEX; i++)
		if (!isxdigit(buf[i]))
			return ob_err_set(err, -EINVAL,
					  "not a wrapped passphrase (no ':' and no hex signature)");
	return 1;
}

/* Split buf into salt, signature and ciphertext. */
static int wrapped_split(const uint8_t *buf, size_t len,
			 const uint8_t v1_salt[ECFS_SALT_BYTES],
			 struct wrapped_view *v, struct ob_err *err)
{
	int version = ecfs_wrapped_version(buf, len, err);
	size_t head;

	if (version < 0)
		return version;
	if (version == 2) {
		head = V2_HEAD;
		v->salt = buf + 2;
		v->sig_hex = buf + 2 + ECFS_SALT_BYTES;
	} else {
		head = V1_HEAD;
		v->salt = v1_salt ? v1_salt : ecfs_default_salt;
		v->sig_hex = buf;
	}
	if (len <= head)
		return ob_err_set(err, -EINVAL,
				  "v%d wrapped passphrase has no ciphertext (%zu bytes)",
				  version, len);
	v->ct = buf + head;
	v->ct_len = len - head < WRAP_CT_MAX ? len - head : WRAP_CT_MAX;
	if (v->ct_len % WRAP_BLOCK)
		return ob_err_set(err, -EINVAL,
				  "wrapped ciphertext of %zu bytes is not whole AES blocks",
				  v->ct_len);
	return 0;
}

/* AES-128-ECB with the first 16 bytes of the wrapping KEK. */
static int wrap_ecb(const struct ecfs_key *key, bool encrypt, const uint8_t *in,
		    uint8_t *out, size_t len, struct ob_err *err)
{
	const struct ecfs_cipher_info *ci = ecfs_cipher_by_code(ECFS_CIPHER_AES_128);
	struct ecfs_ckey *ck;
	int rc;

	if (!ci)
		return ob_err_set(err, -ENOSYS, "AES-128 is not available");
	rc = ecfs_ckey_new(ci, key->kek, WRAP_KEY_BYTES, &ck, err);
	if (rc < 0)
		return rc;
	rc = ecfs_ckey_ecb(ck, encrypt, in, out, len);
	ecfs_ckey_free(ck);
	if (rc < 0)
		return ob_err_set(err, rc, "AES-128-ECB over %zu bytes", len);
	return 0;
}

/* Derive the wrapping key and check it against the file's signature. */
static int wrap_key_check(const char *wrap_pass, size_t wrap_len,
			  const struct wrapped_view *v, struct ecfs_key *key,
			  struct ob_err *err)
{
	char hex[ECFS_SIG_HEX];
	int rc;

	rc = ecfs_key_derive(key, wrap_pass, wrap_len, v->salt, err);
	if (rc < 0) {
		ob_err_prefix(err, "wrapping passphrase");
		return rc;
	}
	ecfs_sig_to_hex(key->sig, hex);
	if (ob_ct_memcmp(hex, v->sig_hex, WRAP_SIG_HEX))
		return ob_err_set(err, -EKEYREJECTED,
				  "wrong wrapping passphrase (signature mismatch)");
	return 0;
}

/* The passphrase is the plaintext up to the first NUL (§10.2). */
static int wrap_take_pass(const uint8_t *plain, size_t len,
			  char pass[ECFS_MAX_PASSPHRASE + 1], struct ob_err *err)
{
	const uint8_t *nul = memchr(plain, 0x00, len);
	size_t plen = nul ? (size_t)(nul - plain) : len;

	if (plen == 0)
		return ob_err_set(err, -EINVAL, "wrapped passphrase is empty");
	memcpy(pass, plain, plen);
	pass[plen] = '\0';
	return 0;
}

int ecfs_wrapped_unwrap(const uint8_t *buf, size_t len,
			const char *wrap_pass, size_t wrap_len,
			const uint8_t v1_salt[ECFS_SALT_BYTES],
			char pass[ECFS_MAX_PASSPHRASE + 1], struct ob_err *err)
{
	struct wrapped_view v = {0};
	struct wrap_secrets *s;
	int rc;

	rc = wrapped_split(buf, len, v1_salt, &v, err);
	if (rc < 0)
		return rc;
	s = ob_secure_alloc(sizeof(*s));
	if (!s)
		return ob_err_set(err, -ENOMEM, "no memory for the wrapping key");
	rc = wrap_key_check(wrap_pass, wrap_len, &v, &s->key, err);
	if (rc < 0)
		goto out_free;
	rc = wrap_ecb(&s->key, false, v.ct, s->plain, v.ct_len, err);
	if (rc < 0)
		goto out_free;
	rc = wrap_take_pass(s->plain, v.ct_len, pass, err);
out_free:
	ob_secure_free(s);
	return rc;
}

int ecfs_wrapped_wrap(const char *pass, size_t pass_len,
		      const char *wrap_pass, size_t wrap_len,
		      const uint8_t salt[ECFS_SALT_BYTES],
		      uint8_t out[ECFS_WRAPPED_MAX], size_t *out_len,
		      struct ob_err *err)
{
	struct wrap_secrets *s;
	size_t ct_len;
	char hex[ECFS_SIG_HEX];
	int rc;

	if (pass_len == 0 || pass_len > ECFS_MAX_PASSPHRASE)
		return ob_err_set(err, -EINVAL,
				  "passphrase must be 1 to %d bytes (got %zu)",
				  ECFS_MAX_PASSPHRASE, pass_len);
	/* Unwrapping stops at the first NUL, so one inside would truncate. */
	if (memchr(pass, '\0', pass_len))
		return ob_err_set(err, -EINVAL, "passphrase contains a NUL byte");
	s = ob_secure_alloc(sizeof(*s));
	if (!s)
		return ob_err_set(err, -ENOMEM, "no memory for the wrapping key");
	rc = ecfs_key_derive(&s->key, wrap_pass, wrap_len, salt, err);
	if (rc < 0) {
		ob_err_prefix(err, "wrapping passphrase");
		goto out_free;
	}
	/* Zero padding to whole blocks; no extra block when already whole. */
	ct_len = (pass_len + WRAP_BLOCK - 1) / WRAP_BLOCK * WRAP_BLOCK;
	memcpy(s->plain, pass, pass_len);
	rc = wrap_ecb(&s->key, true, s->plain, s->ct, ct_len, err);
	if (rc < 0)
		goto out_free;
	memcpy(out + V2_HEAD, s->ct, ct_len);
	out[0] = V2_MAGIC;
	out[1] = 2;
	memcpy(out + 2, salt, ECFS_SALT_BYTES);
	ecfs_sig_to_hex(s->key.sig, hex);
	memcpy(out + 2 + ECFS_SALT_BYTES, hex, WRAP_SIG_HEX);
	*out_len = V2_HEAD + ct_len;
out_free:
	ob_secure_free(s);
	return rc;
}
