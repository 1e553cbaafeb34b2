// SPDX-License-Identifier: MIT
/* keyopts-pk.c - key options beyond passphrases, and the lower dir's key dir.
 *
 * Two kinds of keys join the passphrases of keyopts.c:
 *   - the key-file layer: --key-file, --key-extpass, --gpg-key, --tpm-key.
 *     Each yields a secret that is used exactly like a passphrase (Tag 3,
 *     derived with the same salt), so the kernel can read the files when
 *     the user feeds it the unwrapped key file as a passphrase;
 *   - RSA keys (--rsa-key, --escrow-key): Tag 1 packets (lib/pubkey.c).
 *
 * The key dir.  What belongs to a lower directory but must not be inside
 * it (the kernel would show any extra lower file as an undecryptable entry
 * or refuse it): its escrow public key and its cipher policy.  It lives
 * BESIDE the lower directory, LOWER/../.ecfs-<name of LOWER>, unless
 * --keys-dir says otherwise (e.g. ~/.ecfs/private for a read-only parent).
 * Files there:
 *     escrow.pem   the escrow public key, added to every new file
 *     policy       the cipher policy (lib/policy.c)
 * Key files themselves (plain, .gpg, .tpm) can be kept anywhere; ecfs
 * keyfile puts them in the key dir by default.  Nothing in the key dir is
 * secret except a plain key file, which is written mode 0600.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ob/secmem.h"

#define WRAPPED_MAX	(64 * 1024)

static int push(const char **list, int *n, const char *arg, const char *what)
{
	if (*n == 8) {
		cli_msg("too many %s options (at most 8)", what);
		return EXIT_USAGE;
	}
	list[(*n)++] = arg;
	return 0;
}

int key_opts_handle_pk(struct key_opts *ko, int key, const char *arg)
{
	switch (key) {
	case KO_KEY_FILE:
		return push(ko->key_files, &ko->nkey_files, arg, "--key-file");
	case KO_KEY_EXTPASS:
		ko->key_extpass = arg;
		return 0;
	case KO_GPG_KEY:
		return push(ko->gpg_keys, &ko->ngpg_keys, arg, "--gpg-key");
	case KO_TPM_KEY:
		return push(ko->tpm_keys, &ko->ntpm_keys, arg, "--tpm-key");
	case KO_TPM_TCTI:
		ko->tcti = arg;
		return 0;
	case KO_RSA_KEY:
		return push(ko->rsa_keys, &ko->nrsa, arg, "--rsa-key");
	case KO_RSA_PASSFILE:
		ko->rsa_pass.file = arg;
		return 0;
	case KO_RSA_EXTPASS:
		ko->rsa_pass.extpass = arg;
		return 0;
	case KO_ESCROW_KEY:
		ko->escrow_key = arg;
		return 0;
	case KO_GPG_RECIPIENT:
		return push(ko->gpg_recipients, &ko->ngpg_recipients, arg, "--gpg-recipient");
	case KO_POLICY:
		ko->policy = arg;
		return 0;
	case KO_KEYS_DIR:
		ko->keys_dir = arg;
		return 0;
	case KO_NO_KEYS_DIR:
		ko->no_keys_dir = true;
		return 0;
	}
	return EXIT_USAGE;
}

int key_opts_ext_count(const struct key_opts *ko)
{
	return ko->nkey_files + (ko->key_extpass ? 1 : 0) + ko->ngpg_keys + ko->ntpm_keys;
}

/* A whole (non-secret) file into malloc'd memory. */
static int read_small(const char *path, uint8_t **out, size_t *len, struct ob_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t *buf;
	size_t got = 0;

	if (fd < 0)
		return ob_err_set(err, -errno, "opening %s", path);
	buf = malloc(WRAPPED_MAX);
	if (!buf) {
		close(fd);
		return ob_err_set(err, -ENOMEM, "reading %s", path);
	}
	for (;;) {
		ssize_t n = read(fd, buf + got, WRAPPED_MAX - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || (got += (size_t)n) == WRAPPED_MAX) {
			int e = n < 0 ? -errno : got == WRAPPED_MAX ? -EFBIG : 0;

			close(fd);
			if (e) {
				free(buf);
				return ob_err_set(err, e, "reading %s", path);
			}
			break;
		}
	}
	*out = buf;
	*len = got;
	return 0;
}

/* Unwrapped bytes (locked memory) -> a secret like secret_read() gives. */
static int to_secret(uint8_t *plain, size_t n, struct secret *s, const char *path,
		     struct ob_err *err)
{
	s->len = 0;
	s->buf = ob_secure_alloc(ECFS_SECRET_MAX + 1);
	if (!s->buf) {
		ob_secure_free(plain);
		return ob_err_set(err, -ENOMEM, "allocating locked memory");
	}
	if (n && plain[n - 1] == '\n')
		n--;
	if (n == 0 || n > ECFS_SECRET_MAX) {
		ob_secure_free(plain);
		secret_free(s);
		return ob_err_set(err, -EINVAL, "%s: unwrapped key of %zu bytes", path, n);
	}
	memcpy(s->buf, plain, n);
	s->len = n;
	ob_secure_free(plain);
	return 0;
}

int key_opts_ext_secret(const struct key_opts *ko, int i, struct secret *s,
			struct ob_err *err)
{
	uint8_t *blob = NULL, *plain = NULL;
	size_t blen = 0, plen = 0;
	const char *path;
	int rc;

	if (i < ko->nkey_files) {
		struct secret_source src = { .file = ko->key_files[i] };

		return secret_read(&src, NULL, s, err);
	}
	i -= ko->nkey_files;
	if (ko->key_extpass && i-- == 0) {
		struct secret_source src = { .extpass = ko->key_extpass };

		return secret_read(&src, NULL, s, err);
	}
	if (i < ko->ngpg_keys) {
		path = ko->gpg_keys[i];
		rc = read_small(path, &blob, &blen, err);
		if (!rc)
			rc = ecfs_gpg_decrypt(blob, blen, &plain, &plen, ECFS_SECRET_MAX + 1, err);
	} else {
		path = ko->tpm_keys[i - ko->ngpg_keys];
		rc = read_small(path, &blob, &blen, err);
		if (!rc)
			rc = ecfs_tpm_unseal(ko->tcti, blob, blen, &plain, &plen, err);
	}
	free(blob);
	if (rc) {
		ob_err_prefix(err, "%s", path);
		return rc;
	}
	return to_secret(plain, plen, s, path, err);
}

int cli_keys_dir(const struct key_opts *ko, char *buf, size_t len)
{
	char real[PATH_MAX], *copy, *base, *dir;
	int n;

	if (ko->no_keys_dir)
		return -ENOENT;
	if (ko->keys_dir) {
		n = snprintf(buf, len, "%s", ko->keys_dir);
		return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
	}
	if (!ko->lower || !realpath(ko->lower, real))
		return -ENOENT;
	copy = strdup(real);
	if (!copy)
		return -ENOMEM;
	base = basename(copy);
	dir = dirname(real);
	n = snprintf(buf, len, "%s%s.ecfs-%s", dir, strcmp(dir, "/") ? "/" : "", base);
	free(copy);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* An RSA key; ask for its passphrase only when the file needs one. */
static int load_rsa(const struct key_opts *ko, const char *path, struct secret *pass,
		    struct ecfs_pubkey **out, struct ob_err *err)
{
	int rc = ecfs_pubkey_load(path, pass->buf, pass->len, false, out, err);

	if (rc != -EKEYREJECTED || pass->buf)
		return rc;
	rc = secret_read(&ko->rsa_pass, "RSA key passphrase: ", pass, err);
	if (rc)
		return rc;
	return ecfs_pubkey_load(path, pass->buf, pass->len, false, out, err);
}

int cli_keys_load_pk(const struct key_opts *ko, struct ecfs_keychain *kc, struct ob_err *err)
{
	struct secret pass = { 0 };
	char dir[PATH_MAX], path[PATH_MAX + 32];
	const char *escrow = ko->escrow_key, *policy = ko->policy;
	struct ecfs_pubkey *pk;
	bool have_dir = cli_keys_dir(ko, dir, sizeof(dir)) == 0;
	int rc = 0;

	for (int i = 0; i < ko->nrsa && !rc; i++) {
		rc = load_rsa(ko, ko->rsa_keys[i], &pass, &pk, err);
		if (!rc)
			rc = ecfs_keychain_add_pubkey(kc, pk, false, err);
	}
	secret_free(&pass);
	if (rc)
		return rc;
	if (!escrow && have_dir) {
		snprintf(path, sizeof(path), "%s/escrow.pem", dir);
		if (access(path, F_OK) == 0)
			escrow = path;
	}
	if (escrow) {
		rc = ecfs_keychain_load_escrow(kc, escrow, err);
		if (rc)
			return rc;
	}
	if (!policy && have_dir) {
		snprintf(path, sizeof(path), "%s/policy", dir);
		if (access(path, F_OK) == 0)
			policy = path;
	}
	if (policy)
		rc = ecfs_keychain_load_policy(kc, policy, err);
	return rc;
}
