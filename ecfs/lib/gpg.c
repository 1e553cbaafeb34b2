// SPDX-License-Identifier: MIT
/* gpg.c - key files, and key files wrapped to GnuPG keys through GPGME.
 *
 * eCryptfs's designers meant "public-key encryption with each user's GPG
 * keyring", but the kernel only ever understood passphrase packets and the
 * daemon's RSA module.  A GPG key therefore cannot be a packet in the file
 * header that the kernel reads.  Instead it protects a KEY FILE: 32 random
 * bytes written as 64 hex digits, which is a valid passphrase (64 bytes is
 * the kernel's maximum).  Files carry an ordinary Tag 3 packet for it, so
 *     gpg -d key.gpg | ecryptfs-add-passphrase -
 * makes the kernel read them, and ecfs --gpg-key key.gpg does the same
 * through gpg-agent (pinentry, smartcard, YubiKey: whatever the user's gpg
 * setup does).  Revoking a GPG recipient = ecfs rekey --remove of the key
 * file's signature (and a new key file), as for any passphrase.
 *
 * The decrypted key goes straight from GPGME into locked memory through a
 * data callback; it never lands in GPGME's own (unlocked) buffers.
 */
#include "ecfs-int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <gpgme.h>

#include "ob/secmem.h"

int ecfs_keyfile_generate(char out[ECFS_KEYFILE_CHARS + 1], struct ob_err *err)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t raw[ECFS_KEYFILE_CHARS / 2];
	int rc = ecfs_random(raw, sizeof(raw));

	if (rc)
		return ob_err_set(err, rc, "getrandom");
	for (size_t i = 0; i < sizeof(raw); i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[ECFS_KEYFILE_CHARS] = 0;
	ob_wipe(raw, sizeof(raw));
	return 0;
}

static int gpg_errno(gpgme_error_t e)
{
	switch (gpgme_err_code(e)) {
	case GPG_ERR_NO_SECKEY:
		return -ENOKEY;
	case GPG_ERR_BAD_PASSPHRASE:
	case GPG_ERR_DECRYPT_FAILED:
		return -EKEYREJECTED;
	case GPG_ERR_CANCELED:
		return -ECANCELED;
	case GPG_ERR_ENOMEM:
		return -ENOMEM;
	case GPG_ERR_NO_DATA:
	case GPG_ERR_INV_VALUE:
		return -EINVAL;
	default:
		return -EIO;
	}
}

static int ctx_new(gpgme_ctx_t *ctx, struct ob_err *err)
{
	gpgme_error_t e;

	gpgme_check_version(NULL);
	e = gpgme_new(ctx);
	if (!e)
		e = gpgme_set_protocol(*ctx, GPGME_PROTOCOL_OpenPGP);
	if (e)
		return ob_err_set(err, gpg_errno(e), "GPGME: %s", gpgme_strerror(e));
	gpgme_set_armor(*ctx, 1);
	return 0;
}

/* The one usable encryption key for a user id or fingerprint. */
static int find_key(gpgme_ctx_t ctx, const char *id, gpgme_key_t *out, struct ob_err *err)
{
	gpgme_key_t k = NULL;
	gpgme_error_t e = gpgme_op_keylist_start(ctx, id, 0);

	*out = NULL;
	while (!e && !(e = gpgme_op_keylist_next(ctx, &k))) {
		if (k->can_encrypt && !k->revoked && !k->expired && !k->disabled && !*out) {
			*out = k;
			continue;
		}
		gpgme_key_unref(k);
	}
	gpgme_op_keylist_end(ctx);
	if (!*out)
		return ob_err_set(err, -ENOKEY, "no usable GnuPG encryption key for '%s'", id);
	return 0;
}

int ecfs_gpg_encrypt(const uint8_t *in, size_t len, const char *const *recipients,
		     size_t nrecipients, uint8_t **out, size_t *out_len,
		     struct ob_err *err)
{
	gpgme_ctx_t ctx = NULL;
	gpgme_key_t keys[9] = { 0 };
	gpgme_data_t din = NULL, dout = NULL;
	gpgme_error_t e;
	char *mem = NULL;
	size_t n = 0;
	int rc;

	if (nrecipients == 0 || nrecipients > 8)
		return ob_err_set(err, -EINVAL, "1 to 8 GnuPG recipients (got %zu)", nrecipients);
	rc = ctx_new(&ctx, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < nrecipients && !rc; i++)
		rc = find_key(ctx, recipients[i], &keys[i], err);
	if (rc)
		goto out;
	e = gpgme_data_new_from_mem(&din, (const char *)in, len, 0);
	if (!e)
		e = gpgme_data_new(&dout);
	if (!e)
		e = gpgme_op_encrypt(ctx, keys, GPGME_ENCRYPT_ALWAYS_TRUST, din, dout);
	if (e) {
		rc = ob_err_set(err, gpg_errno(e), "GnuPG encryption: %s", gpgme_strerror(e));
		goto out;
	}
	mem = gpgme_data_release_and_get_mem(dout, &n);
	dout = NULL;
	*out = malloc(n ? n : 1);
	if (!*out || !mem) {
		free(*out);
		rc = ob_err_set(err, -ENOMEM, "GnuPG output");
		goto out;
	}
	memcpy(*out, mem, n);
	*out_len = n;
out:
	gpgme_free(mem);
	gpgme_data_release(din);
	gpgme_data_release(dout);
	for (size_t i = 0; i < nrecipients; i++)
		if (keys[i])
			gpgme_key_unref(keys[i]);
	gpgme_release(ctx);
	return rc;
}

/* Plaintext sink in locked memory. */
struct sink {
	uint8_t *buf;
	size_t len, max;
	bool overflow;
};

static ssize_t sink_write(void *handle, const void *buf, size_t n)
{
	struct sink *s = handle;

	if (n > s->max - s->len) {
		s->overflow = true;
		errno = ENOSPC;
		return -1;
	}
	memcpy(s->buf + s->len, buf, n);
	s->len += n;
	return (ssize_t)n;
}

int ecfs_gpg_decrypt(const uint8_t *in, size_t len, uint8_t **out,
		     size_t *out_len, size_t max, struct ob_err *err)
{
	static struct gpgme_data_cbs cbs = { .write = sink_write };
	struct sink s = { .max = max };
	gpgme_ctx_t ctx = NULL;
	gpgme_data_t din = NULL, dout = NULL;
	gpgme_error_t e;
	int rc;

	s.buf = ob_secure_alloc(max ? max : 1);
	if (!s.buf)
		return ob_err_set(err, -ENOMEM, "allocating locked memory");
	rc = ctx_new(&ctx, err);
	if (rc)
		goto out;
	e = gpgme_data_new_from_mem(&din, (const char *)in, len, 0);
	if (!e)
		e = gpgme_data_new_from_cbs(&dout, &cbs, &s);
	if (!e)
		e = gpgme_op_decrypt(ctx, din, dout);
	if (e) {
		rc = ob_err_set(err, gpg_errno(e), "GnuPG decryption: %s", gpgme_strerror(e));
		goto out;
	}
	if (s.overflow) {
		rc = ob_err_set(err, -EINVAL, "GnuPG plaintext longer than %zu bytes", max);
		goto out;
	}
	*out = s.buf;
	*out_len = s.len;
	s.buf = NULL;
out:
	ob_secure_free(s.buf);
	gpgme_data_release(din);
	gpgme_data_release(dout);
	gpgme_release(ctx);
	return rc;
}
