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

/* A wrapped key file, opened by unwrap, as a secret. */
static int unwrapped_secret(const char *path, const char *tcti,
			    int (*unwrap)(const char *tcti, const uint8_t *blob, size_t blen,
					  uint8_t **plain, size_t *plen, struct ob_err *err),
			    struct secret *s, struct ob_err *err)
{
	uint8_t *blob = NULL, *plain = NULL;
	size_t blen = 0, plen = 0;
	int rc;

	rc = read_small(path, &blob, &blen, err);
	if (!rc)
		rc = unwrap(tcti, blob, blen, &plain, &plen, err);
	free(blob);
	if (rc) {
		ob_err_prefix(err, "%s", path);
		return rc;
	}
	return to_secret(plain, plen, s, path, err);
}

/* ---- --key-file ---- */

static int key_file_take(struct key_opts *ko, int key, const char *arg)
{
	return push(ko->key_files, &ko->nkey_files, arg, "--key-file");
}

static int key_file_count(const struct key_opts *ko)
{
	return ko->nkey_files;
}

static int key_file_collect(const struct key_opts *ko, int i, struct secret *s,
			    struct ob_err *err)
{
	struct secret_source src = { .file = ko->key_files[i] };

	return secret_read(&src, NULL, s, err);
}

static const struct ob_opt key_file_opts[] = {
	{ OB_OPT_HEADING("Keys beyond passphrases (each repeatable; any one opens a file, new files get\n"
			 "one key packet per key; with only these, no passphrase is asked for):") },
	{ "key-file", 0, KO_KEY_FILE, "F",
	  "a key file (ecfs keyfile create): a random key used as\n"
	  "a passphrase, so the kernel reads files with it too", OB_OPT_EXACT },
	{ OB_OPT_END },
};

const struct key_source_ops ks_key_file = {
	.name = "key-file", .opts = key_file_opts, .take = key_file_take,
	.count = key_file_count, .collect = key_file_collect, .cleanup = secret_free,
};

/* ---- --key-extpass ---- */

static int key_extpass_take(struct key_opts *ko, int key, const char *arg)
{
	ko->key_extpass = arg;
	return 0;
}

static int key_extpass_count(const struct key_opts *ko)
{
	return ko->key_extpass ? 1 : 0;
}

static int key_extpass_collect(const struct key_opts *ko, int i, struct secret *s,
			       struct ob_err *err)
{
	struct secret_source src = { .extpass = ko->key_extpass };

	return secret_read(&src, NULL, s, err);
}

static const struct ob_opt key_extpass_opts[] = {
	{ "key-extpass", 0, KO_KEY_EXTPASS, "CMD",
	  "run CMD for a key file's content (e.g. a password store)", OB_OPT_EXACT },
	{ OB_OPT_END },
};

const struct key_source_ops ks_key_extpass = {
	.name = "key-extpass", .opts = key_extpass_opts, .take = key_extpass_take,
	.count = key_extpass_count, .collect = key_extpass_collect, .cleanup = secret_free,
};

/* ---- --gpg-key ---- */

static int gpg_key_take(struct key_opts *ko, int key, const char *arg)
{
	return push(ko->gpg_keys, &ko->ngpg_keys, arg, "--gpg-key");
}

static int gpg_key_count(const struct key_opts *ko)
{
	return ko->ngpg_keys;
}

static int gpg_unwrap(const char *tcti, const uint8_t *blob, size_t blen, uint8_t **plain,
		      size_t *plen, struct ob_err *err)
{
	return ecfs_gpg_decrypt(blob, blen, plain, plen, ECFS_SECRET_MAX + 1, err);
}

static int gpg_key_collect(const struct key_opts *ko, int i, struct secret *s,
			   struct ob_err *err)
{
	return unwrapped_secret(ko->gpg_keys[i], NULL, gpg_unwrap, s, err);
}

static const struct ob_opt gpg_key_opts[] = {
	{ "gpg-key", 0, KO_GPG_KEY, "F", "a key file wrapped to GnuPG keys (opened via gpg-agent)",
	  OB_OPT_EXACT },
	{ OB_OPT_END },
};

const struct key_source_ops ks_gpg_key = {
	.name = "gpg-key", .opts = gpg_key_opts, .take = gpg_key_take,
	.count = gpg_key_count, .collect = gpg_key_collect, .cleanup = secret_free,
};

/* ---- --tpm-key, --tpm-tcti ---- */

static int tpm_key_take(struct key_opts *ko, int key, const char *arg)
{
	if (key == KO_TPM_TCTI) {
		ko->tcti = arg;
		return 0;
	}
	return push(ko->tpm_keys, &ko->ntpm_keys, arg, "--tpm-key");
}

static int tpm_key_count(const struct key_opts *ko)
{
	return ko->ntpm_keys;
}

static int tpm_unwrap(const char *tcti, const uint8_t *blob, size_t blen, uint8_t **plain,
		      size_t *plen, struct ob_err *err)
{
	return ecfs_tpm_unseal(tcti, blob, blen, plain, plen, err);
}

static int tpm_key_collect(const struct key_opts *ko, int i, struct secret *s,
			   struct ob_err *err)
{
	return unwrapped_secret(ko->tpm_keys[i], ko->tcti, tpm_unwrap, s, err);
}

static const struct ob_opt tpm_key_opts[] = {
	{ "tpm-key", 0, KO_TPM_KEY, "F", "a key file sealed by this machine's TPM 2.0", OB_OPT_EXACT },
	{ "tpm-tcti", 0, KO_TPM_TCTI, "CONF",
	  "TPM access, e.g. swtpm:host=127.0.0.1,port=2321\n"
	  "(default: the tss2 default, /dev/tpmrm0)", 0 },
	{ OB_OPT_END },
};

const struct key_source_ops ks_tpm_key = {
	.name = "tpm-key", .opts = tpm_key_opts, .take = tpm_key_take,
	.count = tpm_key_count, .collect = tpm_key_collect, .cleanup = secret_free,
};

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

/* ---- --rsa-key ---- */

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

static int rsa_key_take(struct key_opts *ko, int key, const char *arg)
{
	switch (key) {
	case KO_RSA_PASSFILE:
		ko->rsa_pass.file = arg;
		return 0;
	case KO_RSA_EXTPASS:
		ko->rsa_pass.extpass = arg;
		return 0;
	}
	return push(ko->rsa_keys, &ko->nrsa, arg, "--rsa-key");
}

static int rsa_key_load(const struct key_opts *ko, struct ecfs_keychain *kc, struct ob_err *err)
{
	struct secret pass = { 0 };
	struct ecfs_pubkey *pk;
	int rc = 0;

	for (int i = 0; i < ko->nrsa && !rc; i++) {
		rc = load_rsa(ko, ko->rsa_keys[i], &pass, &pk, err);
		if (!rc)
			rc = ecfs_keychain_add_pubkey(kc, pk, false, err);
	}
	secret_free(&pass);
	return rc;
}

static const struct ob_opt rsa_key_opts[] = {
	{ "rsa-key", 0, KO_RSA_KEY, "PEM",
	  "an RSA key (Tag 1 packets, ecryptfs-utils' openssl module):\n"
	  "a public key wraps new files, a private key also opens", OB_OPT_EXACT },
	{ "rsa-passphrase-file", 0, KO_RSA_PASSFILE, "F", "the private key's passphrase from F",
	  OB_OPT_EXACT },
	{ "rsa-passphrase-extpass", 0, KO_RSA_EXTPASS, "CMD",
	  "... or from CMD's output (default: prompt)", OB_OPT_EXACT },
	{ OB_OPT_END },
};

const struct key_source_ops ks_rsa_key = {
	.name = "rsa-key", .opts = rsa_key_opts, .take = rsa_key_take, .load = rsa_key_load,
};

/* ---- --escrow-key, --policy: given, else found in the key dir ---- */

/* The option's file, else NAME in the key dir if it is there (0 and *out
 * NULL: none). */
static void key_dir_file(const struct key_opts *ko, const char *given, const char *name,
			 char *buf, size_t len, const char **out)
{
	char dir[PATH_MAX];

	*out = given;
	if (given || cli_keys_dir(ko, dir, sizeof(dir)))
		return;
	snprintf(buf, len, "%s/%s", dir, name);
	if (access(buf, F_OK) == 0)
		*out = buf;
}

static int escrow_key_take(struct key_opts *ko, int key, const char *arg)
{
	ko->escrow_key = arg;
	return 0;
}

static int escrow_key_load(const struct key_opts *ko, struct ecfs_keychain *kc,
			   struct ob_err *err)
{
	char path[PATH_MAX + 32];
	const char *escrow;

	key_dir_file(ko, ko->escrow_key, "escrow.pem", path, sizeof(path), &escrow);
	return escrow ? ecfs_keychain_load_escrow(kc, escrow, err) : 0;
}

static const struct ob_opt escrow_key_opts[] = {
	{ "escrow-key", 0, KO_ESCROW_KEY, "PEM",
	  "escrow public key added to every new file (default:\n"
	  "escrow.pem in the key dir)", 0 },
	{ OB_OPT_END },
};

const struct key_source_ops ks_escrow_key = {
	.name = "escrow-key", .opts = escrow_key_opts, .take = escrow_key_take,
	.load = escrow_key_load,
};

/* ---- --gpg-recipient (ecfs keyfile wraps to them; no key to load) ---- */

static int gpg_recipient_take(struct key_opts *ko, int key, const char *arg)
{
	return push(ko->gpg_recipients, &ko->ngpg_recipients, arg, "--gpg-recipient");
}

static const struct ob_opt gpg_recipient_opts[] = {
	{ "gpg-recipient", 0, KO_GPG_RECIPIENT, "ID", "a GnuPG key to wrap to (ecfs keyfile)", 0 },
	{ OB_OPT_END },
};

const struct key_source_ops ks_gpg_recipient = {
	.name = "gpg-recipient", .opts = gpg_recipient_opts, .take = gpg_recipient_take,
};

/* ---- --policy ---- */

static int policy_take(struct key_opts *ko, int key, const char *arg)
{
	ko->policy = arg;
	return 0;
}

static int policy_load(const struct key_opts *ko, struct ecfs_keychain *kc, struct ob_err *err)
{
	char path[PATH_MAX + 32];
	const char *policy;

	key_dir_file(ko, ko->policy, "policy", path, sizeof(path), &policy);
	return policy ? ecfs_keychain_load_policy(kc, policy, err) : 0;
}

static const struct ob_opt policy_opts[] = {
	{ "policy", 0, KO_POLICY, "F", "per-file cipher policy (default: policy in the key dir)", 0 },
	{ OB_OPT_END },
};

const struct key_source_ops ks_policy = {
	.name = "policy", .opts = policy_opts, .take = policy_take, .load = policy_load,
};

/* ---- --keys-dir, --no-keys-dir ---- */

static int keys_dir_take(struct key_opts *ko, int key, const char *arg)
{
	if (key == KO_NO_KEYS_DIR)
		ko->no_keys_dir = true;
	else
		ko->keys_dir = arg;
	return 0;
}

static const struct ob_opt keys_dir_opts[] = {
	{ "keys-dir", 0, KO_KEYS_DIR, "D",
	  "the lower dir's key dir (default: .ecfs-NAME beside\n"
	  "LOWER, i.e. LOWER/../.ecfs-NAME); --no-keys-dir: none", 0 },
	{ "no-keys-dir", 0, KO_NO_KEYS_DIR, NULL, NULL, 0 },
	{ OB_OPT_END },
};

const struct key_source_ops ks_keys_dir = {
	.name = "keys-dir", .opts = keys_dir_opts, .take = keys_dir_take,
};
