// SPDX-License-Identifier: MIT
/* keyring.c - eCryptfs passphrase tokens in the kernel keyring.
 *
 * ecryptfs-add-passphrase stores a 740-byte struct ecryptfs_auth_tok as a
 * key of type "user" whose description is the key's 16-hex signature, in
 * the user keyring (ecryptfs-format.md §1).  "ecfs add-passphrase" writes
 * the same, and "--key-sig SIG" reads one back so that a key a user already
 * inserted (by pam_ecryptfs or by hand) opens an ecfs mount.  We call the
 * syscalls directly: no libkeyutils at run time.
 */
#include "cli.h"
#include "legacy-cli.h"

#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ob/secmem.h"

#define KEY_SPEC_USER_KEYRING	-4
#define KEYCTL_READ		11

long keyring_add(const char *desc, const void *payload, size_t len)
{
	return syscall(SYS_add_key, "user", desc, payload, len, KEY_SPEC_USER_KEYRING);
}

long keyring_find(const char *desc)
{
	/* request_key searches the thread, process, session and (through the
	 * session keyring's usual link) user keyrings, as the kernel does
	 * for a mount. */
	long id = syscall(SYS_request_key, "user", desc, NULL, 0);

	if (id < 0 && errno == ENOKEY)
		id = syscall(SYS_keyctl, 10 /* KEYCTL_SEARCH */, KEY_SPEC_USER_KEYRING,
			     "user", desc, 0);
	return id;
}

int keyring_read_key(const uint8_t sig[ECFS_SIG_BYTES], struct ecfs_key *key,
		     struct ob_err *err)
{
	char hex[ECFS_SIG_HEX];
	uint8_t *buf;
	long id, n;
	int rc;

	ecfs_sig_to_hex(sig, hex);
	id = keyring_find(hex);
	if (id < 0)
		return ob_err_set(err, errno == ENOKEY || errno == ENOENT ? -ENOKEY : -errno,
				  "key %s is not in your keyrings (add it with 'ecfs add-passphrase'; "
				  "'keyctl show @u' lists them)", hex);
	buf = ob_secure_alloc(ECFS_AUTH_TOK_BYTES + 16);
	if (!buf)
		return ob_err_set(err, -ENOMEM, "allocating locked memory");
	n = syscall(SYS_keyctl, KEYCTL_READ, id, buf, ECFS_AUTH_TOK_BYTES + 16);
	if (n < 0) {
		rc = ob_err_set(err, -errno, "reading key %s from the keyring", hex);
	} else {
		rc = ecfs_auth_tok_unpack(buf, (size_t)n, key, err);
		if (rc)
			ob_err_prefix(err, "keyring key %s", hex);
		else if (memcmp(key->sig, sig, ECFS_SIG_BYTES))
			rc = ob_err_set(err, -EKEYREJECTED,
					"keyring key %s holds a token with another signature", hex);
	}
	ob_secure_free(buf);
	return rc;
}

int keyring_keys_load(const struct key_opts *ko, struct ecfs_keychain *kc,
		      struct ob_err *err)
{
	struct ecfs_key *tmp;
	int rc = 0;

	if (!ko->nkey_sigs)
		return 0;
	tmp = ob_secure_alloc(sizeof(*tmp));
	if (!tmp)
		return ob_err_set(err, -ENOMEM, "allocating locked memory");
	for (int i = 0; i < ko->nkey_sigs && !rc; i++) {
		rc = keyring_read_key(ko->key_sigs[i], tmp, err);
		if (!rc)
			rc = ecfs_keychain_add_token(kc, tmp, err);
	}
	ob_secure_free(tmp);
	return rc;
}
