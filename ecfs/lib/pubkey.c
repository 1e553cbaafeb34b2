// SPDX-License-Identifier: MIT
/* pubkey.c - RSA public keys as Tag 1 packets, compatible with ecryptfs-utils.
 *
 * The kernel cannot use a public key itself: for a Tag 1 packet it asks the
 * ecryptfsd daemon (Tag 64..67 messages over /dev/ecryptfs) and the daemon's
 * key module does the RSA.  With ecryptfs-utils' openssl key module the
 * packet's blob is (spec §3.5)
 *
 *     RSA-OAEP( cipher_code(1) ‖ FEK(key_bytes) ‖ checksum(2, BE) )
 *
 * with RSA_PKCS1_OAEP_PADDING, i.e. OAEP with SHA-1, MGF1-SHA-1 and an
 * empty label; the checksum is the sum of the FEK bytes mod 65536.  The
 * packet's 8-byte key identifier is the module's key "signature":
 *
 *     SHA-1( 0x99 ‖ u16 len ‖ 0x04 ‖ 00 00 00 00 ‖ 0x02 ‖ MPI(n) ‖ MPI(e) )[0..7]
 *
 * where MPI(x) = u16 bit count ‖ big-endian bytes, and len counts the bytes
 * after the length field (10 + |n| + |e|).  It is the shape of an OpenPGP
 * v4 key packet with a zero creation time, which is why it is not simply a
 * hash of the DER key.
 *
 * Here also the mixed key set (struct ecfs_keys): a file is wrapped by every
 * passphrase key (Tag 3 first) and every public key (Tag 1 after), and any
 * one opens it.  The kernel tries the packets last-parsed first; a Tag 1
 * whose key id is in no keyring is skipped, so a file with Tag 3 + Tag 1
 * stays readable by the kernel with the passphrase (tested in
 * tests/test_keys_kernel.py).
 *
 * Keys come from PEM files through OpenSSL 3's decoders, which take every
 * RSA PEM form (SPKI, PKCS#1 public, PKCS#8, encrypted PKCS#8, traditional
 * with a DEK-Info header).  A private key file is read into locked memory.
 */
#include "ecfs-int.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "ob/secmem.h"

#define PEM_MAX		(64 * 1024)

struct ecfs_pubkey {
	EVP_PKEY *pkey;
	uint8_t id[ECFS_SIG_BYTES];
	bool priv;
	size_t bytes;		/* modulus size = blob size */
};

/* ------------------------------------------------------------ key id */

int ecfs_rsa_key_id(const uint8_t *n, size_t n_len, const uint8_t *e,
		    size_t e_len, uint8_t id[ECFS_SIG_BYTES])
{
	uint8_t buf[3 + 10 + ECFS_MAX_EKEY + 16];
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	size_t nbits, ebits, len, i = 0;

	while (n_len && !*n) {
		n++;
		n_len--;
	}
	while (e_len && !*e) {
		e++;
		e_len--;
	}
	if (!n_len || !e_len || n_len > ECFS_MAX_EKEY || e_len > 16)
		return -EINVAL;
	/* Bit counts of the magnitudes, as BN_num_bits gives them. */
	nbits = n_len * 8 - (size_t)__builtin_clz(n[0]) + 24;
	ebits = e_len * 8 - (size_t)__builtin_clz(e[0]) + 24;
	len = 10 + n_len + e_len;
	buf[i++] = 0x99;
	buf[i++] = (uint8_t)(len >> 8);
	buf[i++] = (uint8_t)len;
	buf[i++] = 0x04;
	memset(buf + i, 0, 4);
	i += 4;
	buf[i++] = 0x02;
	buf[i++] = (uint8_t)(nbits >> 8);
	buf[i++] = (uint8_t)nbits;
	memcpy(buf + i, n, n_len);
	i += n_len;
	buf[i++] = (uint8_t)(ebits >> 8);
	buf[i++] = (uint8_t)ebits;
	memcpy(buf + i, e, e_len);
	i += e_len;
	if (!EVP_Digest(buf, i, md, &mdlen, EVP_sha1(), NULL))
		return -EIO;
	memcpy(id, md, ECFS_SIG_BYTES);
	return 0;
}

/* n and e of an RSA EVP_PKEY as big-endian bytes. */
static int key_id_of(EVP_PKEY *pkey, uint8_t id[ECFS_SIG_BYTES], size_t *bytes)
{
	BIGNUM *n = NULL, *e = NULL;
	uint8_t nb[ECFS_MAX_EKEY], eb[16];
	int nl, el, rc = -EINVAL;

	if (!EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n) ||
	    !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e))
		goto out;
	nl = BN_num_bytes(n);
	el = BN_num_bytes(e);
	if (nl <= 0 || nl > (int)sizeof(nb) || el <= 0 || el > (int)sizeof(eb))
		goto out;
	BN_bn2bin(n, nb);
	BN_bn2bin(e, eb);
	*bytes = (size_t)nl;
	rc = ecfs_rsa_key_id(nb, (size_t)nl, eb, (size_t)el, id);
out:
	BN_free(n);
	BN_free(e);
	return rc;
}

/* ----------------------------------------------------------- loading */

static int read_pem(const char *path, uint8_t **out, size_t *len, struct ob_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t *buf;
	size_t got = 0;

	if (fd < 0)
		return ob_err_set(err, -errno, "opening key file %s", path);
	buf = ob_secure_alloc(PEM_MAX + 1);
	if (!buf) {
		close(fd);
		return ob_err_set(err, -ENOMEM, "allocating locked memory");
	}
	for (;;) {
		ssize_t n = read(fd, buf + got, PEM_MAX - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = -errno;

			close(fd);
			ob_secure_free(buf);
			return ob_err_set(err, e, "reading key file %s", path);
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got == PEM_MAX) {
			close(fd);
			ob_secure_free(buf);
			return ob_err_set(err, -EFBIG, "key file %s is over %d bytes", path, PEM_MAX);
		}
	}
	close(fd);
	*out = buf;
	*len = got;
	return 0;
}

int ecfs_pubkey_load(const char *path, const char *pass, size_t pass_len,
		     bool want_private, struct ecfs_pubkey **out,
		     struct ob_err *err)
{
	OSSL_DECODER_CTX *dctx = NULL;
	EVP_PKEY *pkey = NULL;
	BIGNUM *d = NULL;
	struct ecfs_pubkey *pk = NULL;
	uint8_t *pem = NULL;
	size_t len = 0;
	BIO *bio = NULL;
	bool encrypted;
	int rc;

	rc = read_pem(path, &pem, &len, err);
	if (rc)
		return rc;
	pem[len] = 0;
	encrypted = strstr((char *)pem, "ENCRYPTED") != NULL;
	bio = BIO_new_mem_buf(pem, (int)len);
	dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, NULL, NULL, "RSA", 0, NULL, NULL);
	if (!bio || !dctx) {
		rc = ob_err_set(err, -ENOMEM, "allocating a key decoder");
		goto out;
	}
	if (pass && pass_len &&
	    !OSSL_DECODER_CTX_set_passphrase(dctx, (const unsigned char *)pass, pass_len)) {
		rc = ob_err_set(err, -ENOMEM, "setting the key passphrase");
		goto out;
	}
	ecfs_keymem_begin();	/* the private key's numbers: in the locked pool */
	rc = OSSL_DECODER_from_bio(dctx, bio);
	ecfs_keymem_end();
	if (!rc || !pkey) {
		if (encrypted)
			rc = ob_err_set(err, -EKEYREJECTED, "%s: %s", path, pass_len ?
					"wrong passphrase for the private key" :
					"the private key is encrypted; give its passphrase (--rsa-passphrase-file)");
		else
			rc = ob_err_set(err, -EINVAL, "%s: not an RSA key in PEM form", path);
		goto out;
	}
	pk = ob_secure_alloc(sizeof(*pk));
	if (!pk) {
		rc = ob_err_set(err, -ENOMEM, "allocating locked memory");
		goto out;
	}
	pk->priv = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_D, &d) == 1;
	BN_clear_free(d);
	if (want_private && !pk->priv) {
		rc = ob_err_set(err, -ENOKEY, "%s: a public key; opening files needs the private key", path);
		goto out;
	}
	rc = key_id_of(pkey, pk->id, &pk->bytes);
	if (rc || pk->bytes > ECFS_MAX_EKEY || pk->bytes < 128) {
		rc = ob_err_set(err, -EINVAL, "%s: RSA modulus of %zu bytes (expected 1024..4096 bits)",
				path, pk->bytes);
		goto out;
	}
	pk->pkey = pkey;
	pkey = NULL;
	*out = pk;
	pk = NULL;
out:
	ob_secure_free(pk);
	EVP_PKEY_free(pkey);
	OSSL_DECODER_CTX_free(dctx);
	BIO_free(bio);
	ob_secure_free(pem);
	return rc;
}

void ecfs_pubkey_free(struct ecfs_pubkey *pk)
{
	if (!pk)
		return;
	EVP_PKEY_free(pk->pkey);
	ob_secure_free(pk);
}

const uint8_t *ecfs_pubkey_id(const struct ecfs_pubkey *pk)
{
	return pk->id;
}

bool ecfs_pubkey_has_private(const struct ecfs_pubkey *pk)
{
	return pk->priv;
}

size_t ecfs_pubkey_bytes(const struct ecfs_pubkey *pk)
{
	return pk->bytes;
}

/* ------------------------------------------------- Tag 1 plaintext */

size_t ecfs_tag1_plain_pack(uint8_t code, const uint8_t *key, size_t key_bytes,
			    uint8_t out[ECFS_MAX_KEY_BYTES + 3])
{
	unsigned sum = 0;

	out[0] = code;
	memcpy(out + 1, key, key_bytes);
	for (size_t i = 0; i < key_bytes; i++)
		sum += key[i];
	ecfs_put_be16(out + 1 + key_bytes, (uint16_t)sum);
	return key_bytes + 3;
}

int ecfs_tag1_plain_unpack(const uint8_t *in, size_t len, uint8_t *code,
			   uint8_t key[ECFS_MAX_KEY_BYTES], size_t *key_bytes,
			   struct ob_err *err)
{
	const struct ecfs_cipher_info *ci;
	unsigned sum = 0;
	size_t kb;

	if (len < 4 || len - 3 > ECFS_MAX_KEY_BYTES)
		return ob_err_set(err, -EKEYREJECTED, "Tag 1 plaintext of %zu bytes (expected 4..%d)",
				  len, ECFS_MAX_KEY_BYTES + 3);
	kb = len - 3;
	ci = ecfs_cipher_by_code(in[0]);
	if (!ci || kb < ci->key_min || kb > ci->key_max)
		return ob_err_set(err, -EKEYREJECTED, "Tag 1 plaintext names cipher 0x%02x with a %zu-byte key",
				  in[0], kb);
	for (size_t i = 0; i < kb; i++)
		sum += in[1 + i];
	if ((uint16_t)sum != ecfs_get_be16(in + 1 + kb))
		return ob_err_set(err, -EKEYREJECTED, "Tag 1 key checksum mismatch");
	*code = in[0];
	memcpy(key, in + 1, kb);
	*key_bytes = kb;
	return 0;
}

/* ------------------------------------------------------- RSA-OAEP */

static EVP_PKEY_CTX *oaep_ctx(EVP_PKEY *pkey, bool encrypt)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);

	if (!ctx)
		return NULL;
	if ((encrypt ? EVP_PKEY_encrypt_init(ctx) : EVP_PKEY_decrypt_init(ctx)) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha1()) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha1()) <= 0) {
		EVP_PKEY_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int ecfs_fek_wrap_pub(const struct ecfs_fek *fek, const struct ecfs_pubkey *pk,
		      struct ecfs_header *h, struct ob_err *err)
{
	uint8_t plain[ECFS_MAX_KEY_BYTES + 3];
	struct ecfs_packet *p;
	EVP_PKEY_CTX *ctx;
	size_t plen, outlen = ECFS_MAX_EKEY;
	int ok;

	if (h->npackets == ECFS_MAX_PACKETS)
		return ob_err_set(err, -ENOSPC, "the header already has %d key packets",
				  ECFS_MAX_PACKETS);
	ctx = oaep_ctx(pk->pkey, true);
	if (!ctx)
		return ob_err_set(err, -EIO, "setting up RSA-OAEP");
	p = &h->packets[h->npackets];
	memset(p, 0, sizeof(*p));
	plen = ecfs_tag1_plain_pack(fek->cipher->code, fek->key, fek->key_bytes, plain);
	ok = EVP_PKEY_encrypt(ctx, p->ekey, &outlen, plain, plen) > 0;
	ob_wipe(plain, sizeof(plain));
	EVP_PKEY_CTX_free(ctx);
	if (!ok || outlen != pk->bytes)
		return ob_err_set(err, -EIO, "RSA-OAEP encryption of the file key failed");
	p->tag = ECFS_PKT_TAG1;
	memcpy(p->sig, pk->id, ECFS_SIG_BYTES);
	p->ekey_len = (uint16_t)outlen;
	h->npackets++;
	return 0;
}

static int unwrap_tag1(const struct ecfs_packet *p, const struct ecfs_pubkey *pk,
		       struct ecfs_fek **out, struct ob_err *err)
{
	uint8_t plain[ECFS_MAX_EKEY], key[ECFS_MAX_KEY_BYTES], code = 0;
	size_t plen = sizeof(plain), kb = 0;
	EVP_PKEY_CTX *ctx;
	int rc, ok;

	if (p->ekey_len != pk->bytes)
		return ob_err_set(err, -EKEYREJECTED, "Tag 1 blob of %u bytes for a %zu-byte RSA key",
				  p->ekey_len, pk->bytes);
	ecfs_keymem_begin();	/* blinding and CRT temporaries of the private key */
	ctx = oaep_ctx(pk->pkey, false);
	ok = ctx && EVP_PKEY_decrypt(ctx, plain, &plen, p->ekey, p->ekey_len) > 0;
	EVP_PKEY_CTX_free(ctx);
	ecfs_keymem_end();
	if (!ctx)
		return ob_err_set(err, -EIO, "setting up RSA-OAEP");
	if (!ok) {
		rc = ob_err_set(err, -EKEYREJECTED, "RSA-OAEP decryption failed (not this key's packet?)");
		goto out;
	}
	rc = ecfs_tag1_plain_unpack(plain, plen, &code, key, &kb, err);
	if (!rc)
		rc = ecfs_fek_build(ecfs_cipher_by_code(code), key, kb, out, err);
out:
	ob_wipe(plain, sizeof(plain));
	ob_wipe(key, sizeof(key));
	return rc;
}

/* ---------------------------------------------------- mixed key sets */

int ecfs_fek_unwrap_any(const struct ecfs_header *h, const struct ecfs_keys *keys,
			struct ecfs_fek **out, int *packet_index,
			struct ob_err *err)
{
	struct ob_err t3 = {0}, last = {0};
	int rc = -ENOKEY, rc3 = -ENOKEY;

	if (keys->pass && ecfs_keyset_count(keys->pass)) {
		rc3 = ecfs_fek_unwrap(h, keys->pass, out, packet_index, &t3);
		if (rc3 == 0)
			return 0;
	}
	for (int i = (int)h->npackets - 1; i >= 0; i--) {
		const struct ecfs_packet *p = &h->packets[i];

		if (p->tag != ECFS_PKT_TAG1)
			continue;
		for (size_t k = 0; k < keys->npub; k++) {
			const struct ecfs_pubkey *pk = keys->pub[k];

			if (!pk->priv || ob_ct_memcmp(pk->id, p->sig, ECFS_SIG_BYTES))
				continue;
			rc = unwrap_tag1(p, pk, out, &last);
			if (rc == 0) {
				if (packet_index)
					*packet_index = i;
				return 0;
			}
		}
	}
	if (rc != -ENOKEY) {		/* a private key matched but failed */
		if (err)
			*err = last;
		return rc;
	}
	/* fek_unwrap's -EOPNOTSUPP means "only Tag 1 packets" unless there is a
	 * Tag 3 packet (then it is an unknown cipher, worth reporting). */
	bool has_tag3 = false;

	for (unsigned i = 0; i < h->npackets; i++)
		has_tag3 |= h->packets[i].tag == ECFS_PKT_TAG3;
	if (rc3 != -ENOKEY && (rc3 != -EOPNOTSUPP || has_tag3)) {
		if (err)
			*err = t3;
		return rc3;
	}
	{
		char hex[ECFS_SIG_HEX];

		ecfs_sig_to_hex(h->packets[h->npackets ? h->npackets - 1 : 0].sig, hex);
		return ob_err_set(err, -ENOKEY, "no key for this file (it wants key signature or id %s%s)",
				  hex, h->npackets > 1 ? " or another of its packets" : "");
	}
}

int ecfs_fek_create_ex(const struct ecfs_cipher_info *ci, size_t key_bytes,
		       const struct ecfs_keys *keys, struct ecfs_header *h,
		       struct ecfs_fek **out, struct ob_err *err)
{
	uint8_t key[ECFS_MAX_KEY_BYTES];
	struct ecfs_fek *fek = NULL;
	size_t npass = keys->pass ? ecfs_keyset_count(keys->pass) : 0;
	int rc;

	if (npass == 0 && keys->npub == 0)
		return ob_err_set(err, -ENOKEY, "no key to wrap the new file's key with");
	if (key_bytes == 0)
		key_bytes = ci->key_default;
	if (npass) {
		/* fek.c checks the size and writes the Tag 3 packets. */
		rc = ecfs_fek_create(ci, key_bytes, keys->pass, h, &fek, err);
		if (rc)
			return rc;
	} else {
		/* The same sizes the kernel could wrap with a passphrase, so a
		 * passphrase can be added later (ecfs rekey --add). */
		if (key_bytes < ci->key_min || key_bytes > ci->key_max ||
		    (ci->key_step && (key_bytes - ci->key_min) % ci->key_step) ||
		    (ci->code != ECFS_CIPHER_AES_192 && key_bytes % ci->block))
			return ob_err_set(err, -EINVAL, "%s does not take a %zu-byte key",
					  ci->name, key_bytes);
		rc = ecfs_random(key, key_bytes);
		if (rc)
			return ob_err_set(err, rc, "getrandom");
		rc = ecfs_fek_build(ci, key, key_bytes, &fek, err);
		ob_wipe(key, sizeof(key));
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < keys->npub; i++) {
		rc = ecfs_fek_wrap_pub(fek, keys->pub[i], h, err);
		if (rc) {
			ecfs_fek_free(fek);
			return rc;
		}
	}
	*out = fek;
	return 0;
}
