/* keyopts.c - the key options every keyed subcommand takes, and gathering
 * the secrets they name.
 *
 * One table of options (--passphrase-file, --extpass, --salt, --ecryptfsrc,
 * --extra-passphrase-file, --fnek, --fnek-same-key) is spliced into each
 * subcommand's getopt_long table, so they behave the same everywhere.
 * The secrets are read here, in the order the options define; what they
 * become (content keys, both filename-key candidates) is libecfs's
 * business (lib/keychain.c).
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ob/secmem.h"

enum {
	OPT_PASSFILE = KEY_OPT_BASE,
	OPT_EXTPASS,
	OPT_SALT,
	OPT_RC,
	OPT_EXTRA,
	OPT_FNEK,
	OPT_FNEK_SAME,
	OPT_FNEK_PASSFILE,	/* legacy: crouton's separate filename passphrase */
	OPT_KEY_SIG,		/* legacy: a token already in the kernel keyring */
};

const struct option key_long_opts[] = {
	{ "passphrase-file", required_argument, NULL, OPT_PASSFILE },
	{ "extpass", required_argument, NULL, OPT_EXTPASS },
	{ "salt", required_argument, NULL, OPT_SALT },
	{ "ecryptfsrc", required_argument, NULL, OPT_RC },
	{ "extra-passphrase-file", required_argument, NULL, OPT_EXTRA },
	{ "fnek", no_argument, NULL, OPT_FNEK },
	{ "fnek-same-key", no_argument, NULL, OPT_FNEK_SAME },
	{ "fnek-passphrase-file", required_argument, NULL, OPT_FNEK_PASSFILE },
	{ "key-sig", required_argument, NULL, OPT_KEY_SIG },
	/* ---- keys beyond passphrases: handled in keyopts-pk.c ---- */
	{ "key-file", required_argument, NULL, KEY_OPT_PK_BASE + 0 },
	{ "key-extpass", required_argument, NULL, KEY_OPT_PK_BASE + 1 },
	{ "gpg-key", required_argument, NULL, KEY_OPT_PK_BASE + 2 },
	{ "tpm-key", required_argument, NULL, KEY_OPT_PK_BASE + 3 },
	{ "tpm-tcti", required_argument, NULL, KEY_OPT_PK_BASE + 4 },
	{ "rsa-key", required_argument, NULL, KEY_OPT_PK_BASE + 5 },
	{ "rsa-passphrase-file", required_argument, NULL, KEY_OPT_PK_BASE + 6 },
	{ "rsa-passphrase-extpass", required_argument, NULL, KEY_OPT_PK_BASE + 7 },
	{ "escrow-key", required_argument, NULL, KEY_OPT_PK_BASE + 8 },
	{ "gpg-recipient", required_argument, NULL, KEY_OPT_PK_BASE + 9 },
	{ "policy", required_argument, NULL, KEY_OPT_PK_BASE + 10 },
	{ "keys-dir", required_argument, NULL, KEY_OPT_PK_BASE + 11 },
	{ "no-keys-dir", no_argument, NULL, KEY_OPT_PK_BASE + 12 },
};
const size_t key_long_opts_count = sizeof(key_long_opts) / sizeof(key_long_opts[0]);

const char key_opts_help[] =
	"Key options:\n"
	"  --passphrase-file F      read the passphrase from F ('-' = stdin)\n"
	"  --extpass CMD            run CMD (via /bin/sh) and read the passphrase from its output\n"
	"                           (default: prompt on the terminal without echo)\n"
	"  --salt HEX               16 hex digits: the key salt (default: salt= from\n"
	"                           ~/.ecryptfsrc, else 0011223344556677)\n"
	"  --ecryptfsrc FILE        read salt= from FILE instead of ~/.ecryptfsrc\n"
	"  --extra-passphrase-file F  one more key (repeatable): new files get one key\n"
	"                           packet per key, and any key opens a file\n"
	"  --fnek                   encrypt new names with the filename key of\n"
	"                           ecryptfs-add-passphrase --fnek (ecryptfs-setup-private)\n"
	"  --fnek-same-key          encrypt new names with the content key (mount.ecryptfs)\n"
	"  --fnek-passphrase-file F the filename key comes from this passphrase, not the\n"
	"                           main one (crouton: two passphrases)\n"
	"  --key-sig SIG            use the key already in the kernel keyring under SIG\n"
	"                           (ecfs add-passphrase, ecryptfs-add-passphrase); repeatable;\n"
	"                           without a passphrase source no passphrase is asked for\n"
	"Keys beyond passphrases (each repeatable; any one opens a file, new files get\n"
	"one key packet per key; with only these, no passphrase is asked for):\n"
	"  --key-file F             a key file (ecfs keyfile create): a random key used as\n"
	"                           a passphrase, so the kernel reads files with it too\n"
	"  --key-extpass CMD        run CMD for a key file's content (e.g. a password store)\n"
	"  --gpg-key F              a key file wrapped to GnuPG keys (opened via gpg-agent)\n"
	"  --tpm-key F              a key file sealed by this machine's TPM 2.0\n"
	"  --tpm-tcti CONF          TPM access, e.g. swtpm:host=127.0.0.1,port=2321\n"
	"                           (default: the tss2 default, /dev/tpmrm0)\n"
	"  --rsa-key PEM            an RSA key (Tag 1 packets, ecryptfs-utils' openssl module):\n"
	"                           a public key wraps new files, a private key also opens\n"
	"  --rsa-passphrase-file F  the private key's passphrase from F\n"
	"  --rsa-passphrase-extpass CMD  ... or from CMD's output (default: prompt)\n"
	"  --escrow-key PEM         escrow public key added to every new file (default:\n"
	"                           escrow.pem in the key dir)\n"
	"  --policy F               per-file cipher policy (default: policy in the key dir)\n"
	"  --keys-dir D             the lower dir's key dir (default: .ecfs-NAME beside\n"
	"                           LOWER, i.e. LOWER/../.ecfs-NAME); --no-keys-dir: none\n";

int key_opts_handle(struct key_opts *ko, int opt, const char *arg)
{
	switch (opt) {
	case OPT_PASSFILE:
		ko->src.file = arg;
		return 1;
	case OPT_EXTPASS:
		ko->src.extpass = arg;
		return 1;
	case OPT_SALT:
		ko->salt_hex = arg;
		return 1;
	case OPT_RC:
		ko->rc_path = arg;
		return 1;
	case OPT_EXTRA:
		if (ko->nextra == (int)(sizeof(ko->extra_files) / sizeof(ko->extra_files[0]))) {
			cli_msg("too many --extra-passphrase-file options");
			return -1;
		}
		ko->extra_files[ko->nextra++] = arg;
		return 1;
	case OPT_FNEK:
		ko->fnek = true;
		return 1;
	case OPT_FNEK_SAME:
		ko->fnek_same = true;
		return 1;
	case OPT_FNEK_PASSFILE:
		ko->fnek_file = arg;
		return 1;
	case OPT_KEY_SIG:
		if (ko->nkey_sigs == (int)(sizeof(ko->key_sigs) / sizeof(ko->key_sigs[0]))) {
			cli_msg("too many --key-sig options");
			return -1;
		}
		if (ecfs_sig_from_hex(arg, ko->key_sigs[ko->nkey_sigs])) {
			cli_msg("--key-sig %s: a key signature is 16 hex digits", arg);
			return -1;
		}
		ko->nkey_sigs++;
		return 1;
	}
	return key_opts_handle_pk(ko, opt, arg);
}

static int content_salt(const struct key_opts *ko, uint8_t salt[ECFS_SALT_BYTES],
			struct ob_err *err)
{
	char path[4096];
	const char *home = getenv("HOME");

	if (ko->salt_hex || ko->rc_path || !home)
		return ecfs_keychain_salt(ko->salt_hex, ko->rc_path, salt, err);
	snprintf(path, sizeof(path), "%s/.ecryptfsrc", home);
	return ecfs_keychain_salt(NULL, path, salt, err);
}

/* Read one secret and give it to the chain.  src NULL: the key-file-layer
 * key number ext (keyopts-pk.c). */
static int add_secret(struct ecfs_keychain *kc, const struct secret_source *src,
		      const char *prompt, const uint8_t salt[ECFS_SALT_BYTES],
		      unsigned flags, const struct key_opts *ko, int ext,
		      struct ob_err *err)
{
	struct secret s;
	int rc;

	rc = src ? secret_read(src, prompt, &s, err) : key_opts_ext_secret(ko, ext, &s, err);
	if (rc)
		return rc;
	rc = ecfs_keychain_add_passphrase(kc, s.buf, s.len, salt, flags, err);
	secret_free(&s);
	return rc;
}

int cli_keys_load(const struct key_opts *ko, const struct ecfs_cipher_info *fn_cipher,
		  size_t fn_key_bytes, struct ecfs_keychain *kc, struct ob_err *err)
{
	uint8_t salt[ECFS_SALT_BYTES];
	struct ecfs_key *tmp;
	unsigned names = ECFS_KC_NAMES | (ko->fnek ? ECFS_KC_WRITE_FNEK : 0) |
			 (ko->fnek_same ? ECFS_KC_WRITE_SAME : 0);
	int rc, ext0 = 0;
	bool no_pass = !ko->src.file && !ko->src.extpass && !ko->src.mem;
	bool fnek_sep = ko->fnek_file || ko->fnek_mem;

	rc = ecfs_keychain_init(kc, fn_cipher, fn_key_bytes, err);
	tmp = ob_secure_alloc(sizeof(*tmp));
	if (!rc && !tmp)
		rc = ob_err_set(err, -ENOMEM, "allocating locked memory");
	if (rc)
		goto fail;
	rc = content_salt(ko, salt, err);
	if (rc)
		goto fail;
	/* Keys from the kernel keyring; with no passphrase source, only them. */
	rc = keyring_keys_load(ko, kc, tmp, err);
	if (rc)
		goto fail;
	if (ko->nkey_sigs && no_pass)
		goto extra;
	/* Keys beyond passphrases and no passphrase source: no prompt; the
	 * first key-file-layer key (if any) plays the main passphrase. */
	if (no_pass && !key_opts_ext_count(ko) && ko->nrsa)
		goto extra;
	if (no_pass && key_opts_ext_count(ko))
		ext0 = 1;
	rc = add_secret(kc, ext0 ? NULL : &ko->src, "Passphrase: ", salt,
			ECFS_KC_CONTENT | (fnek_sep ? 0 : names), ko, 0, err);
	if (rc)
		goto fail;
	if (fnek_sep) {
		struct secret_source fsrc = { .file = ko->fnek_file, .mem = ko->fnek_mem };

		rc = add_secret(kc, &fsrc, "Filename passphrase: ", salt, names, ko, 0, err);
		if (rc)
			goto fail;
	}
extra:
	for (int i = 0; i < ko->nextra; i++) {
		struct secret_source src = { .file = ko->extra_files[i] };

		rc = add_secret(kc, &src, "Extra passphrase: ", salt, ECFS_KC_CONTENT, ko, 0, err);
		if (rc)
			goto fail;
	}
	/* keys beyond passphrases */
	for (int i = ext0; i < key_opts_ext_count(ko); i++) {
		rc = add_secret(kc, NULL, NULL, salt, ECFS_KC_CONTENT, ko, i, err);
		if (rc)
			goto fail;
	}
	rc = cli_keys_load_pk(ko, kc, err);
	if (rc)
		goto fail;
	ob_secure_free(tmp);
	return 0;
fail:
	ob_secure_free(tmp);
	ecfs_keychain_free(kc);
	return rc;
}

void cli_wrapped_path(const char *arg, char *out, size_t len)
{
	const char *home = getenv("HOME");

	if (arg)
		snprintf(out, len, "%s", arg);
	else
		snprintf(out, len, "%s/.ecryptfs/wrapped-passphrase", home ? home : ".");
}

void cli_error(const char *object, const struct ob_err *err)
{
	ob_err_print(ECFS_PROG, object, err);
}

void cli_msg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", ECFS_PROG);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
