// SPDX-License-Identifier: MIT
/* name.c - encrypted file names: FNEKs, Tag 70 packets, eCryptfs base64.
 *
 * With filename encryption on, every lower directory entry (and every
 * symlink target) is "ECRYPTFS_FNEK_ENCRYPTED." followed by a Tag 70 packet
 * in eCryptfs's own base64 (spec §7.2, §7.3):
 *
 *   0x46 | len (§3.1) | FNEK sig[8] | cipher code | ECB(prefix ‖ 0x00 ‖ name)
 *
 * The "random" prefix the kernel comments talk about is deterministic: an
 * MD5 chain over all 64 KEK bytes with 0x00 turned into 0x42 (§7.2 step 2,
 * §12 item 11).  Getting it byte-exact matters even though decryption
 * ignores it: the same plaintext name must give the same lower name as the
 * kernel's, or lookups of existing files miss.  We compute the 32 bytes of
 * chain once per FNEK (the prefix is never longer than 31 bytes: nrand is at
 * most 17 + 15).
 *
 * The plaintext is padded only in front: nrand starts at 17 and grows until
 * nrand + name length is a multiple of the block size, so the name ends the
 * last block and decryption finds it after the FIRST 0x00 (§12 item 11).
 *
 * Decryption follows ecryptfs_parse_tag_70_packet(): the cipher comes from
 * the packet's code.  The kernel takes the key length from the mount's
 * fn_key_bytes (§7.2 "Decrypt"), and a wrong one gives garbage names; we
 * try that length first, then the others the cipher takes, and accept a
 * result only when its prefix is the FNEK's MD5 chain, which no wrong key
 * reproduces.  On top of the kernel we refuse decrypted names containing '/' or NUL, and "." / "..":
 * the kernel never writes them, and a front end would turn them into a path
 * traversal.  Symlink targets (ecfs_target_*) are the same packet but may
 * hold '/' and be "." or ".." (§7.4); only NUL is refused there.
 *
 * Errors: -EINVAL for anything that is not a well-formed encrypted name
 * (callers hide those, as the kernel's filldir does, §7.5); -ENOKEY when the
 * name is well-formed but no FNEK has its signature; -EBADMSG when that FNEK
 * decrypts it to nothing valid at any key size; -EOPNOTSUPP for
 * "ECRYPTFS_FEK_ENCRYPTED." names, which the kernel defines but never
 * writes (§7.1).
 */
#include "ecfs-int.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <string.h>

#include "ob/secmem.h"

#define FNEK_PREFIX_LEN		(sizeof(ECFS_FNEK_PREFIX) - 1)	/* 24 */
#define FEK_PREFIX_LEN		(sizeof(ECFS_FEK_PREFIX) - 1)	/* 23 */
#define TAG70			0x46
#define TAG70_NRAND_MIN		17	/* prefix + separator, before alignment */
#define TAG70_HEAD_BODY		(ECFS_SIG_BYTES + 1)	/* sig + cipher code */
#define NAME_PREFIX_MAX		32	/* two MD5 blocks cover nrand - 1 <= 31 */
#define CIPHER_CODES		(ECFS_CIPHER_CAST6 + 1)	/* codes index learned[] */
/* Bytes the longest lower name we accept (ECFS_LOWER_NAME_MAX - 1 chars)
 * decodes to; bounds every packet and plaintext buffer. */
#define PKT_MAX			((ECFS_LOWER_NAME_MAX - 1 - FNEK_PREFIX_LEN) * 3 / 4)

struct ecfs_fnek {
	const struct ecfs_cipher_info *cipher;	/* code written into Tag 70 */
	size_t key_bytes;			/* the mount's fn_key_bytes */
	struct ecfs_ckey *ckey;			/* cipher, kek[0..key_bytes) */
	uint8_t kek[ECFS_KEK_BYTES];		/* for names made with another cipher */
	uint8_t sig[ECFS_SIG_BYTES];
	uint8_t prefix[NAME_PREFIX_MAX];	/* MD5 chain, 0x00 -> 0x42 */
	/* Per cipher code: the key length names last decrypted with (0 =
	 * none yet); a hint shared by the mount's threads, hence atomic. */
	_Atomic uint8_t learned[CIPHER_CODES];
};

/* A parsed Tag 70 packet; ct points into the decoded buffer. */
struct tag70 {
	uint8_t sig[ECFS_SIG_BYTES];
	uint8_t code;
	const uint8_t *ct;
	size_t ct_len;
};

/* ------------------------------------------------------------- base64 */

static const char b64_chars[] =
	"-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* Index of c in b64_chars, -1 when absent. */
static int b64_value(unsigned char c)
{
	if (c == '-')
		return 0;
	if (c == '.')
		return 1;
	if (c >= '0' && c <= '9')
		return c - '0' + 2;
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 12;
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 38;
	return -1;
}

/* 4 chars per 3 bytes, MSB first; a short last group is zero padded,
 * which shows up as trailing '-' (there is no '=', §7.3). */
size_t ecfs_b64_encode(const uint8_t *in, size_t len, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i += 3) {
		uint8_t b0 = in[i];
		uint8_t b1 = i + 1 < len ? in[i + 1] : 0;
		uint8_t b2 = i + 2 < len ? in[i + 2] : 0;

		out[o++] = b64_chars[b0 >> 2];
		out[o++] = b64_chars[(b0 & 3) << 4 | b1 >> 4];
		out[o++] = b64_chars[(b1 & 15) << 2 | b2 >> 6];
		out[o++] = b64_chars[b2 & 63];
	}
	return o;
}

/* floor(6 * len / 8) bytes into out (which needs len * 3 / 4 bytes); a
 * trailing partial byte is dropped, as the kernel does.  The kernel maps
 * unknown chars to 0; we refuse them (before writing anything) so that
 * garbage is told apart from names. */
ssize_t ecfs_b64_decode(const char *in, size_t len, uint8_t *out)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t o = 0;

	for (size_t i = 0; i < len; i++)
		if (b64_value((unsigned char)in[i]) < 0)
			return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		acc = (acc << 6 | (uint32_t)b64_value((unsigned char)in[i])) & 0xfff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return (ssize_t)o;
}

/* --------------------------------------------------------------- FNEK */

/* H0 = MD5(KEK64), H(k+1) = MD5(Hk); byte j = H(j/16)[j%16]; 0x00 -> 0x42
 * so that the separator is the first NUL (§7.2 step 2). */
static void fnek_prefix(const uint8_t kek[ECFS_KEK_BYTES],
			uint8_t prefix[NAME_PREFIX_MAX])
{
	ecfs_md5(kek, ECFS_KEK_BYTES, prefix);
	for (size_t k = 16; k < NAME_PREFIX_MAX; k += 16)
		ecfs_md5(prefix + k - 16, 16, prefix + k);
	for (size_t j = 0; j < NAME_PREFIX_MAX; j++)
		if (prefix[j] == 0x00)
			prefix[j] = 0x42;
}

/* The cipher entry whose code the kernel writes for (name, key_bytes):
 * for "aes" the code depends on the key size (§3.6). */
static const struct ecfs_cipher_info *
fnek_cipher(const struct ecfs_cipher_info *ci, size_t *key_bytes,
	    struct ob_err *err)
{
	const char *name = ci ? ci->name : "aes";
	const struct ecfs_cipher_info *found;

	if (*key_bytes == 0)
		*key_bytes = ci ? ci->key_default : 16;
	if (*key_bytes > ECFS_KEK_BYTES) {
		ob_err_set(err, -EINVAL, "filename key of %zu bytes (max %d)",
			   *key_bytes, ECFS_KEK_BYTES);
		return NULL;
	}
	found = ecfs_cipher_by_name(name, *key_bytes);
	if (!found)
		ob_err_set(err, -EINVAL, "no filename cipher %s with %zu-byte keys",
			   name, *key_bytes);
	return found;
}

int ecfs_fnek_new(const struct ecfs_key *tok, const struct ecfs_cipher_info *ci,
		  size_t key_bytes, struct ecfs_fnek **out, struct ob_err *err)
{
	struct ecfs_fnek *fn;
	int rc;

	ci = fnek_cipher(ci, &key_bytes, err);
	if (!ci)
		return -EINVAL;
	fn = ob_secure_alloc(sizeof(*fn));
	if (!fn)
		return ob_err_set(err, -ENOMEM, "no memory for a filename key");
	rc = ecfs_ckey_new(ci, tok->kek, key_bytes, &fn->ckey, err);
	if (rc < 0)
		goto err_free;
	fn->cipher = ci;
	fn->key_bytes = key_bytes;
	memcpy(fn->kek, tok->kek, ECFS_KEK_BYTES);
	memcpy(fn->sig, tok->sig, ECFS_SIG_BYTES);
	fnek_prefix(tok->kek, fn->prefix);
	*out = fn;
	return 0;

err_free:
	ob_secure_free(fn);
	return rc;
}

void ecfs_fnek_free(struct ecfs_fnek *fn)
{
	if (!fn)
		return;
	ecfs_ckey_free(fn->ckey);
	ob_secure_free(fn);		/* wipes kek and prefix */
}

const uint8_t *ecfs_fnek_sig(const struct ecfs_fnek *fn)
{
	return fn->sig;
}

/* ------------------------------------------------------------ encrypt */

/* What a plaintext is: a directory entry name or a symlink target. */
enum plain_kind { PLAIN_NAME, PLAIN_TARGET };

/* Both: 1+ bytes, no NUL.  Names also: no '/', not "." or "..". */
static int check_plain(const char *name, size_t len, enum plain_kind kind,
		       struct ob_err *err)
{
	if (len == 0)
		return ob_err_set(err, -EINVAL, "empty name");
	if (memchr(name, '\0', len))
		return ob_err_set(err, -EINVAL, "name contains a NUL byte");
	if (kind == PLAIN_TARGET)
		return 0;
	if ((len == 1 && name[0] == '.') ||
	    (len == 2 && name[0] == '.' && name[1] == '.'))
		return ob_err_set(err, -EINVAL, "\".\" and \"..\" are not encrypted");
	if (memchr(name, '/', len))
		return ob_err_set(err, -EINVAL, "name contains '/'");
	return 0;
}

/* nrand of §7.2 step 1: at least 17, aligned so that nrand + len fills
 * whole blocks. */
static size_t tag70_nrand(size_t len, size_t block)
{
	size_t nrand = TAG70_NRAND_MIN;
	size_t rem = (nrand + len) % block;

	if (rem)
		nrand += block - rem;
	return nrand;
}

/* Build the Tag 70 packet for name into pkt (PKT_MAX bytes); returns its
 * length.  The caller has checked the name and that the packet fits. */
static ssize_t tag70_write(const struct ecfs_fnek *fn, const char *name,
			   size_t len, uint8_t *pkt, struct ob_err *err)
{
	uint8_t plain[PKT_MAX];
	size_t nrand = tag70_nrand(len, fn->cipher->block);
	size_t a = nrand + len;
	size_t off = 1;
	int n, rc;

	pkt[0] = TAG70;
	n = ecfs_packet_len_write(pkt + off, TAG70_HEAD_BODY + a);
	if (n < 0)
		return ob_err_set(err, -ENAMETOOLONG, "Tag 70 body of %zu bytes",
				  TAG70_HEAD_BODY + a);
	off += (size_t)n;
	memcpy(pkt + off, fn->sig, ECFS_SIG_BYTES);
	off += ECFS_SIG_BYTES;
	pkt[off++] = fn->cipher->code;

	memcpy(plain, fn->prefix, nrand - 1);
	plain[nrand - 1] = 0x00;
	memcpy(plain + nrand, name, len);
	rc = ecfs_ckey_ecb(fn->ckey, true, plain, pkt + off, a);
	ob_wipe(plain, a);		/* the prefix is derived from the KEK */
	if (rc < 0)
		return ob_err_set(err, rc, "ECB encryption of a %zu-byte name", len);
	return (ssize_t)(off + a);
}

/* Packet bytes for a len-byte name: tag, 1 or 2 length bytes, body. */
static size_t tag70_size(size_t len, size_t block)
{
	size_t body = TAG70_HEAD_BODY + tag70_nrand(len, block) + len;

	return 1 + (body < 192 ? 1 : 2) + body;
}

static ssize_t do_encrypt(const struct ecfs_fnek *fn, const char *name,
			  size_t len, size_t max_plain, enum plain_kind kind,
			  char *out, size_t outlen, struct ob_err *err)
{
	uint8_t pkt[PKT_MAX];
	size_t need, o;
	ssize_t plen;
	int rc;

	rc = check_plain(name, len, kind, err);
	if (rc < 0)
		return rc;
	if (len > max_plain)
		return ob_err_set(err, -ENAMETOOLONG,
				  "name of %zu bytes (max %zu)", len, max_plain);
	if (len > PKT_MAX || tag70_size(len, fn->cipher->block) > PKT_MAX)
		return ob_err_set(err, -ENAMETOOLONG,
				  "name of %zu bytes does not fit a lower name", len);
	need = FNEK_PREFIX_LEN + 4 * ((tag70_size(len, fn->cipher->block) + 2) / 3);
	if (need >= ECFS_LOWER_NAME_MAX)
		return ob_err_set(err, -ENAMETOOLONG,
				  "name of %zu bytes does not fit a lower name", len);
	if (need + 1 > outlen)
		return ob_err_set(err, -ENAMETOOLONG,
				  "lower name needs %zu bytes (buffer %zu)",
				  need + 1, outlen);
	plen = tag70_write(fn, name, len, pkt, err);
	if (plen < 0)
		return plen;
	memcpy(out, ECFS_FNEK_PREFIX, FNEK_PREFIX_LEN);
	o = FNEK_PREFIX_LEN + ecfs_b64_encode(pkt, (size_t)plen,
					      out + FNEK_PREFIX_LEN);
	out[o] = '\0';
	return (ssize_t)o;
}

ssize_t ecfs_name_encrypt(const struct ecfs_fnek *fn, const char *name,
			  size_t len, size_t max_plain, char *out,
			  size_t outlen, struct ob_err *err)
{
	return do_encrypt(fn, name, len, max_plain, PLAIN_NAME, out, outlen, err);
}

ssize_t ecfs_target_encrypt(const struct ecfs_fnek *fn, const char *target,
			    size_t len, char *out, size_t outlen,
			    struct ob_err *err)
{
	return do_encrypt(fn, target, len, ECFS_TARGET_MAX, PLAIN_TARGET, out,
			  outlen, err);
}

/* ------------------------------------------------------------ decrypt */

/* Tag 70 header and ciphertext from decoded bytes; trailing bytes (the
 * base64 zero pad) are ignored, as the kernel does (§12 item 12). */
static int tag70_parse(const uint8_t *buf, size_t len, struct tag70 *t,
		       struct ob_err *err)
{
	size_t body, off = 1;
	int n;

	if (len < 2 || buf[0] != TAG70)
		return ob_err_set(err, -EINVAL, "not a Tag 70 packet");
	n = ecfs_packet_len_parse(buf + off, len - off, &body);
	if (n < 0)
		return ob_err_set(err, -EINVAL, "bad Tag 70 length field");
	off += (size_t)n;
	if (body <= TAG70_HEAD_BODY || body > len - off)
		return ob_err_set(err, -EINVAL,
				  "Tag 70 body of %zu bytes (have %zu)",
				  body, len - off);
	memcpy(t->sig, buf + off, ECFS_SIG_BYTES);
	t->code = buf[off + ECFS_SIG_BYTES];
	t->ct = buf + off + TAG70_HEAD_BODY;
	t->ct_len = body - TAG70_HEAD_BODY;
	return 0;
}

/* Prefix check, base64 decode and Tag 70 parse of a lower name.  buf holds
 * PKT_MAX bytes and keeps the ciphertext t points into. */
static int name_unpack(const char *lower, uint8_t *buf, struct tag70 *t,
		       struct ob_err *err)
{
	size_t len = strnlen(lower, ECFS_LOWER_NAME_MAX);
	ssize_t dlen;

	if (len >= ECFS_LOWER_NAME_MAX)
		return ob_err_set(err, -EINVAL, "lower name longer than %d bytes",
				  ECFS_LOWER_NAME_MAX - 1);
	if (len > FEK_PREFIX_LEN &&
	    !memcmp(lower, ECFS_FEK_PREFIX, FEK_PREFIX_LEN))
		return ob_err_set(err, -EOPNOTSUPP,
				  "FEK-encrypted names are not supported by Linux either");
	if (len <= FNEK_PREFIX_LEN ||
	    memcmp(lower, ECFS_FNEK_PREFIX, FNEK_PREFIX_LEN))
		return ob_err_set(err, -EINVAL, "not an encrypted name");
	dlen = ecfs_b64_decode(lower + FNEK_PREFIX_LEN, len - FNEK_PREFIX_LEN, buf);
	if (dlen < 0)
		return ob_err_set(err, -EINVAL,
				  "character outside the filename alphabet");
	return tag70_parse(buf, (size_t)dlen, t, err);
}

/* The FNEK for t: its signature must match (constant time); among several
 * with that signature, prefer the one whose cipher code matches. */
static struct ecfs_fnek *fnek_find(struct ecfs_fnek *const *fneks, size_t n,
				   const struct tag70 *t)
{
	struct ecfs_fnek *first = NULL;

	for (size_t i = 0; i < n; i++) {
		if (!fneks[i] ||
		    ob_ct_memcmp(fneks[i]->sig, t->sig, ECFS_SIG_BYTES))
			continue;
		if (fneks[i]->cipher->code == t->code)
			return fneks[i];
		if (!first)
			first = fneks[i];
	}
	return first;
}

/* A decryption is right when its prefix is the FNEK's MD5 chain up to the
 * separator that tag70_nrand puts where the block size wants it (§7.2).
 * A wrong key or key size passes with odds of about 2^-128, while the
 * kernel's own parse only looks for a NUL: garbage often has one. */
static bool tag70_valid(const struct ecfs_fnek *fn, const uint8_t *plain,
			size_t len, size_t block)
{
	const uint8_t *sep = memchr(plain, 0x00, len);
	size_t nrand = sep ? (size_t)(sep - plain) + 1 : 0;

	if (!sep || nrand >= len || nrand - 1 > NAME_PREFIX_MAX ||
	    tag70_nrand(len - nrand, block) != nrand)
		return false;
	return !ob_ct_memcmp(plain, fn->prefix, nrand - 1);
}

/* ECB-decrypt t->ct with cipher ci and a key_bytes-long FNEK; true when
 * the result validates.  The FNEK's own expanded key when it fits; any
 * other (cipher, size) needs a temporary one. */
static bool tag70_try(const struct ecfs_fnek *fn, const struct tag70 *t,
		      const struct ecfs_cipher_info *ci, size_t key_bytes,
		      uint8_t *plain)
{
	struct ecfs_ckey *tmp = NULL;
	const struct ecfs_ckey *ck = fn->ckey;
	bool ok;

	if (strcmp(ci->name, fn->cipher->name) || key_bytes != fn->key_bytes) {
		const struct ecfs_cipher_info *sized = ecfs_cipher_by_name(ci->name, key_bytes);

		if (!sized || ecfs_ckey_new(sized, fn->kek, key_bytes, &tmp, NULL) < 0)
			return false;
		ck = tmp;
	}
	ok = !ecfs_ckey_ecb(ck, false, t->ct, plain, t->ct_len) &&
	     tag70_valid(fn, plain, t->ct_len, ci->block);
	ecfs_ckey_free(tmp);
	return ok;
}

/* Decrypt t->ct into plain with the packet's cipher.  The key length is
 * not in the packet for most ciphers (§7.2 "Decrypt": the kernel takes the
 * mount's fn_key_bytes), so try the FNEK's, then the one that worked last
 * for this cipher, then the code's default, then every size the cipher
 * takes, largest first; accept only a decryption that validates.  *used gets the
 * key length that worked. */
static int tag70_decrypt(struct ecfs_fnek *fn, const struct tag70 *t,
			 uint8_t *plain, size_t *used, struct ob_err *err)
{
	const struct ecfs_cipher_info *ci = ecfs_cipher_by_code(t->code);
	char hex[ECFS_SIG_HEX];
	size_t first[3];

	if (!ci)
		return ob_err_set(err, -EINVAL, "unknown cipher code 0x%02x", t->code);
	if (t->ct_len % ci->block)
		return ob_err_set(err, -EINVAL,
				  "Tag 70 ciphertext of %zu bytes is not whole %s blocks",
				  t->ct_len, ci->name);
	first[0] = fn->key_bytes;
	first[1] = atomic_load_explicit(&fn->learned[t->code % CIPHER_CODES],
					memory_order_relaxed);
	first[2] = ci->key_default;
	for (size_t i = 0; i < 3 + ECFS_KEK_BYTES; i++) {
		size_t kb = i < 3 ? first[i] : ECFS_KEK_BYTES - (i - 3);
		bool tried = (i >= 1 && kb == first[0]) || (i >= 2 && kb == first[1]) ||
			     (i >= 3 && kb == first[2]);

		/* By name: "aes" has one code per size, and the mount's size
		 * wins over the code's, as in the kernel. */
		if (tried || !kb || !ecfs_cipher_by_name(ci->name, kb))
			continue;
		if (tag70_try(fn, t, ci, kb, plain)) {
			atomic_store_explicit(&fn->learned[t->code % CIPHER_CODES],
					      (uint8_t)kb, memory_order_relaxed);
			*used = kb;
			return 0;
		}
	}
	ecfs_sig_to_hex(t->sig, hex);
	return ob_err_set(err, -EBADMSG,
			  "does not decrypt with filename key %s as %s with any key size "
			  "(wrong passphrase for that signature?)", hex, ci->name);
}

/* The name after the first 0x00 of the decrypted packet (§7.2), checked. */
static ssize_t tag70_name(const uint8_t *plain, size_t len,
			  enum plain_kind kind, char *out, size_t outlen,
			  struct ob_err *err)
{
	const uint8_t *sep = memchr(plain, 0x00, len);
	size_t nlen;
	int rc;

	if (!sep)
		return ob_err_set(err, -EINVAL, "no separator in Tag 70 plaintext");
	nlen = len - (size_t)(sep + 1 - plain);
	if (nlen == 0 || nlen >= PATH_MAX)
		return ob_err_set(err, -EINVAL, "decrypted name of %zu bytes", nlen);
	rc = check_plain((const char *)sep + 1, nlen, kind, err);
	if (rc < 0) {
		ob_err_prefix(err, "decrypted name");
		return rc;
	}
	if (nlen + 1 > outlen)
		return ob_err_set(err, -ENAMETOOLONG,
				  "name needs %zu bytes (buffer %zu)", nlen + 1, outlen);
	memcpy(out, sep + 1, nlen);
	out[nlen] = '\0';
	return (ssize_t)nlen;
}

static ssize_t do_decrypt(struct ecfs_fnek *const *fneks, size_t n,
			  const char *lower, enum plain_kind kind, char *out,
			  size_t outlen, size_t *key_bytes, struct ob_err *err)
{
	uint8_t buf[PKT_MAX], plain[PKT_MAX];
	struct ecfs_fnek *fn;
	struct tag70 t;
	char hex[ECFS_SIG_HEX];
	size_t used = 0;
	ssize_t rc;

	rc = name_unpack(lower, buf, &t, err);
	if (rc < 0)
		return rc;
	fn = fnek_find(fneks, n, &t);
	if (!fn) {
		ecfs_sig_to_hex(t.sig, hex);
		return ob_err_set(err, -ENOKEY,
				  "no filename key with signature %s", hex);
	}
	rc = tag70_decrypt(fn, &t, plain, &used, err);
	if (rc == 0)
		rc = tag70_name(plain, t.ct_len, kind, out, outlen, err);
	if (rc >= 0 && key_bytes)
		*key_bytes = used;
	ob_wipe(plain, t.ct_len);	/* holds the KEK-derived prefix */
	return rc;
}

ssize_t ecfs_name_decrypt(struct ecfs_fnek *const *fneks, size_t n,
			  const char *lower, char *out, size_t outlen,
			  struct ob_err *err)
{
	return do_decrypt(fneks, n, lower, PLAIN_NAME, out, outlen, NULL, err);
}

ssize_t ecfs_name_decrypt_sized(struct ecfs_fnek *const *fneks, size_t n,
				const char *lower, char *out, size_t outlen,
				size_t *key_bytes, struct ob_err *err)
{
	return do_decrypt(fneks, n, lower, PLAIN_NAME, out, outlen, key_bytes, err);
}

/* Any length the kernel accepts (PATH_MAX - 1): targets it wrote may be
 * longer than the ECFS_TARGET_MAX we write. */
ssize_t ecfs_target_decrypt(struct ecfs_fnek *const *fneks, size_t n,
			    const char *lower, char *out, size_t outlen,
			    struct ob_err *err)
{
	return do_decrypt(fneks, n, lower, PLAIN_TARGET, out, outlen, NULL, err);
}

size_t ecfs_fnek_key_bytes(const struct ecfs_fnek *fn)
{
	return fn->key_bytes;
}

int ecfs_name_sig(const char *lower, uint8_t sig[ECFS_SIG_BYTES])
{
	uint8_t buf[PKT_MAX];
	struct tag70 t;

	if (name_unpack(lower, buf, &t, NULL) < 0)
		return -EINVAL;
	memcpy(sig, t.sig, ECFS_SIG_BYTES);
	return 0;
}

int ecfs_name_fnek_index(struct ecfs_fnek *const *fneks, size_t n, const char *lower)
{
	uint8_t buf[PKT_MAX];
	const struct ecfs_fnek *fn;
	struct tag70 t;

	if (name_unpack(lower, buf, &t, NULL) < 0)
		return -EINVAL;
	fn = fnek_find(fneks, n, &t);
	for (size_t i = 0; fn && i < n; i++)
		if (fneks[i] == fn)
			return (int)i;
	return -ENOKEY;
}

bool ecfs_fnek_same_cipher(const struct ecfs_fnek *a, const struct ecfs_fnek *b)
{
	return a->cipher == b->cipher && a->key_bytes == b->key_bytes;
}
