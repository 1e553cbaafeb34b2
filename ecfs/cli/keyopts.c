// SPDX-License-Identifier: MIT
/* keyopts.c - the key options every keyed subcommand takes, and gathering
 * the secrets they name.
 *
 * One ob/opt.h table of options (--passphrase-file, --extpass, --salt,
 * --ecryptfsrc, --extra-passphrase-file, --fnek, --fnek-same-key and the
 * keys beyond passphrases) follows each keyed subcommand's own table
 * (cli_parse), so they parse and print the same everywhere.
 * The secrets are read here, in the order the options define; what they
 * become (content keys, both filename-key candidates) is libecfs's
 * business (lib/keychain.c).
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ob/secmem.h"

/* Secret-carrying options are OB_OPT_EXACT: never guessed from a prefix. */
const struct ob_opt key_opt_table[] = {
	{ OB_OPT_HEADING("Key options:") },
	{ "passphrase-file", 0, KO_PASSFILE, "F", "read the passphrase from F ('-' = stdin)",
	  OB_OPT_EXACT },
	{ "extpass", 0, KO_EXTPASS, "CMD",
	  "run CMD (via /bin/sh) and read the passphrase from its output\n"
	  "(default: prompt on the terminal without echo)", OB_OPT_EXACT },
	{ "salt", 0, KO_SALT, "HEX",
	  "16 hex digits: the key salt (default: salt= from\n"
	  "~/.ecryptfsrc, else 0011223344556677)", 0 },
	{ "ecryptfsrc", 0, KO_RC, "FILE", "read salt= from FILE instead of ~/.ecryptfsrc", 0 },
	{ "extra-passphrase-file", 0, KO_EXTRA, "F",
	  "one more key (repeatable): new files get one key\n"
	  "packet per key, and any key opens a file", OB_OPT_EXACT },
	{ "fnek", 0, KO_FNEK, NULL,
	  "encrypt new names with the filename key of\n"
	  "ecryptfs-add-passphrase --fnek (ecryptfs-setup-private)", 0 },
	{ "fnek-same-key", 0, KO_FNEK_SAME, NULL,
	  "encrypt new names with the content key (mount.ecryptfs)", 0 },
	{ "fnek-passphrase-file", 0, KO_FNEK_PASSFILE, "F",
	  "the filename key comes from this passphrase, not the\n"
	  "main one (crouton: two passphrases)", OB_OPT_EXACT },
	{ "key-sig", 0, KO_KEY_SIG, "SIG",
	  "use the key already in the kernel keyring under SIG\n"
	  "(ecfs add-passphrase, ecryptfs-add-passphrase); repeatable;\n"
	  "without a passphrase source no passphrase is asked for", 0 },
	{ OB_OPT_HEADING("Keys beyond passphrases (each repeatable; any one opens a file, new files get\n"
			 "one key packet per key; with only these, no passphrase is asked for):") },
	{ "key-file", 0, KO_KEY_FILE, "F",
	  "a key file (ecfs keyfile create): a random key used as\n"
	  "a passphrase, so the kernel reads files with it too", OB_OPT_EXACT },
	{ "key-extpass", 0, KO_KEY_EXTPASS, "CMD",
	  "run CMD for a key file's content (e.g. a password store)", OB_OPT_EXACT },
	{ "gpg-key", 0, KO_GPG_KEY, "F", "a key file wrapped to GnuPG keys (opened via gpg-agent)",
	  OB_OPT_EXACT },
	{ "tpm-key", 0, KO_TPM_KEY, "F", "a key file sealed by this machine's TPM 2.0", OB_OPT_EXACT },
	{ "tpm-tcti", 0, KO_TPM_TCTI, "CONF",
	  "TPM access, e.g. swtpm:host=127.0.0.1,port=2321\n"
	  "(default: the tss2 default, /dev/tpmrm0)", 0 },
	{ "rsa-key", 0, KO_RSA_KEY, "PEM",
	  "an RSA key (Tag 1 packets, ecryptfs-utils' openssl module):\n"
	  "a public key wraps new files, a private key also opens", OB_OPT_EXACT },
	{ "rsa-passphrase-file", 0, KO_RSA_PASSFILE, "F", "the private key's passphrase from F",
	  OB_OPT_EXACT },
	{ "rsa-passphrase-extpass", 0, KO_RSA_EXTPASS, "CMD",
	  "... or from CMD's output (default: prompt)", OB_OPT_EXACT },
	{ "escrow-key", 0, KO_ESCROW_KEY, "PEM",
	  "escrow public key added to every new file (default:\n"
	  "escrow.pem in the key dir)", 0 },
	{ "gpg-recipient", 0, KO_GPG_RECIPIENT, "ID", "a GnuPG key to wrap to (ecfs keyfile)", 0 },
	{ "policy", 0, KO_POLICY, "F", "per-file cipher policy (default: policy in the key dir)", 0 },
	{ "keys-dir", 0, KO_KEYS_DIR, "D",
	  "the lower dir's key dir (default: .ecfs-NAME beside\n"
	  "LOWER, i.e. LOWER/../.ecfs-NAME); --no-keys-dir: none", 0 },
	{ "no-keys-dir", 0, KO_NO_KEYS_DIR, NULL, NULL, 0 },
	{ OB_OPT_END },
};

int key_opts_handle(struct key_opts *ko, int key, const char *arg)
{
	switch (key) {
	case KO_PASSFILE:
		ko->src.file = arg;
		return 0;
	case KO_EXTPASS:
		ko->src.extpass = arg;
		return 0;
	case KO_SALT:
		ko->salt_hex = arg;
		return 0;
	case KO_RC:
		ko->rc_path = arg;
		return 0;
	case KO_EXTRA:
		if (ko->nextra == (int)(sizeof(ko->extra_files) / sizeof(ko->extra_files[0]))) {
			cli_msg("too many --extra-passphrase-file options");
			return EXIT_USAGE;
		}
		ko->extra_files[ko->nextra++] = arg;
		return 0;
	case KO_FNEK:
		ko->fnek = true;
		return 0;
	case KO_FNEK_SAME:
		ko->fnek_same = true;
		return 0;
	case KO_FNEK_PASSFILE:
		ko->fnek_file = arg;
		return 0;
	case KO_KEY_SIG:
		if (ko->nkey_sigs == (int)(sizeof(ko->key_sigs) / sizeof(ko->key_sigs[0]))) {
			cli_msg("too many --key-sig options");
			return EXIT_USAGE;
		}
		if (ecfs_sig_from_hex(arg, ko->key_sigs[ko->nkey_sigs])) {
			cli_msg("--key-sig %s: a key signature is 16 hex digits", arg);
			return EXIT_USAGE;
		}
		ko->nkey_sigs++;
		return 0;
	}
	return key_opts_handle_pk(ko, key, arg);
}

/* ---- one subcommand's command line ---- */

enum { CLI_HELP = 0x2000 };

static const struct ob_opt help_table[] = {
	{ "help", 'h', CLI_HELP, NULL, "this help", 0 },
	{ OB_OPT_END },
};

static int cli_dispatch(const struct ob_cmd *cmd, const struct ob_opt *opt, const char *arg,
			void *ctx)
{
	const struct cli_cmd *c = ctx;

	if (opt->key == CLI_HELP) {
		fputs(c->help, stdout);
		if (c->more_help)
			c->more_help(stdout);
		if (c->co) {
			fputc('\n', stdout);
			ob_opt_print_table(cipher_opt_table, stdout);
		}
		if (c->ko) {
			fputc('\n', stdout);
			ob_opt_print_table(key_opt_table, stdout);
		}
		return -1;	/* done: exit 0 */
	}
	if (c->ko && opt->key >= KO_PASSFILE && opt->key < KO_END)
		return key_opts_handle(c->ko, opt->key, arg);
	if (c->co && opt->key >= CO_CIPHER && opt->key < CO_END)
		return cipher_opts_handle(c->co, opt->key, arg);
	return c->fn(cmd, opt, arg, c->ctx);
}

int cli_opt_flag(const struct ob_cmd *cmd, const struct ob_opt *opt, const char *arg,
		 void *ctx)
{
	*(bool *)ctx = true;
	return 0;
}

int cli_opt_value(const struct ob_cmd *cmd, const struct ob_opt *opt, const char *arg,
		  void *ctx)
{
	*(const char **)ctx = arg;
	return 0;
}

int cli_parse(const struct cli_cmd *c, int argc, char **argv, int *status)
{
	const struct ob_opt *tables[5];
	struct ob_cmd cmd = {
		.prog = c->prog,
		.synopsis = c->prog,
		.tables = tables,
		.operands_max = -1,
		.usage_status = EXIT_USAGE,
		.flags = c->flags,
	};
	int n = 0, first;

	if (c->own)
		tables[n++] = c->own;
	if (c->co)
		tables[n++] = cipher_opt_table;
	if (c->ko)
		tables[n++] = key_opt_table;
	tables[n++] = help_table;
	tables[n] = NULL;
	first = ob_opt_parse(&cmd, argc, argv, cli_dispatch, (void *)c, status);
	if (first < 0 && *status == -1)
		*status = EXIT_OK;	/* --help */
	return first;
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

		/* names too: a tree half-way through "ecfs rekey" has names
		 * made with either passphrase's filename key */
		rc = add_secret(kc, &src, "Extra passphrase: ", salt,
				ECFS_KC_CONTENT | ECFS_KC_NAMES, ko, 0, err);
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
