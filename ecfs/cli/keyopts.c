// SPDX-License-Identifier: MIT
/* keyopts.c - the key options every keyed subcommand takes, and gathering
 * the secrets they name.
 *
 * Each source of keys (the passphrase, the salt, extra passphrases, the
 * filename key, keyring tokens here; key files, GPG, TPM, RSA, escrow and
 * the key dir in keyopts-pk.c) is one struct key_source_ops: its option
 * rows, how it takes them, the secrets it yields or the keys it loads.
 * key_sources[] lists them once; parsing (cli_parse), --help and
 * cli_keys_load walk that table, so every keyed subcommand parses and
 * prints them the same.  What the secrets become (content keys, both
 * filename-key candidates) is libecfs's business (lib/keychain.c).
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ob/secmem.h"

/* Secret-carrying options are OB_OPT_EXACT: never guessed from a prefix. */

/* ---- --passphrase-file, --extpass: the main passphrase ---- */

static int passphrase_take(struct key_opts *ko, int key, const char *arg)
{
	if (key == KO_EXTPASS)
		ko->src.extpass = arg;
	else
		ko->src.file = arg;
	return 0;
}

static const struct ob_opt passphrase_opts[] = {
	{ OB_OPT_HEADING("Key options:") },
	{ "passphrase-file", 0, KO_PASSFILE, "F", "read the passphrase from F ('-' = stdin)",
	  OB_OPT_EXACT },
	{ "extpass", 0, KO_EXTPASS, "CMD",
	  "run CMD (via /bin/sh) and read the passphrase from its output\n"
	  "(default: prompt on the terminal without echo)", OB_OPT_EXACT },
	{ OB_OPT_END },
};

static const struct key_source_ops ks_passphrase = {
	.name = "passphrase", .opts = passphrase_opts, .take = passphrase_take,
};

/* ---- --salt, --ecryptfsrc: the salt every passphrase is derived with ---- */

static int salt_take(struct key_opts *ko, int key, const char *arg)
{
	if (key == KO_RC)
		ko->rc_path = arg;
	else
		ko->salt_hex = arg;
	return 0;
}

static const struct ob_opt salt_opts[] = {
	{ "salt", 0, KO_SALT, "HEX",
	  "16 hex digits: the key salt (default: salt= from\n"
	  "~/.ecryptfsrc, else 0011223344556677)", 0 },
	{ "ecryptfsrc", 0, KO_RC, "FILE", "read salt= from FILE instead of ~/.ecryptfsrc", 0 },
	{ OB_OPT_END },
};

static const struct key_source_ops ks_salt = {
	.name = "salt", .opts = salt_opts, .take = salt_take,
};

/* ---- --extra-passphrase-file ---- */

static int extra_take(struct key_opts *ko, int key, const char *arg)
{
	if (ko->nextra == (int)(sizeof(ko->extra_files) / sizeof(ko->extra_files[0]))) {
		cli_msg("too many --extra-passphrase-file options");
		return EXIT_USAGE;
	}
	ko->extra_files[ko->nextra++] = arg;
	return 0;
}

static const struct ob_opt extra_opts[] = {
	{ "extra-passphrase-file", 0, KO_EXTRA, "F",
	  "one more key (repeatable): new files get one key\n"
	  "packet per key, and any key opens a file", OB_OPT_EXACT },
	{ OB_OPT_END },
};

static const struct key_source_ops ks_extra = {
	.name = "extra-passphrase-file", .opts = extra_opts, .take = extra_take,
};

/* ---- --fnek, --fnek-same-key, --fnek-passphrase-file: the names' key ---- */

static int fnek_take(struct key_opts *ko, int key, const char *arg)
{
	if (key == KO_FNEK)
		ko->fnek = true;
	else if (key == KO_FNEK_SAME)
		ko->fnek_same = true;
	else
		ko->fnek_file = arg;
	return 0;
}

static const struct ob_opt fnek_opts[] = {
	{ "fnek", 0, KO_FNEK, NULL,
	  "encrypt new names with the filename key of\n"
	  "ecryptfs-add-passphrase --fnek (ecryptfs-setup-private)", 0 },
	{ "fnek-same-key", 0, KO_FNEK_SAME, NULL,
	  "encrypt new names with the content key (mount.ecryptfs)", 0 },
	{ "fnek-passphrase-file", 0, KO_FNEK_PASSFILE, "F",
	  "the filename key comes from this passphrase, not the\n"
	  "main one (crouton: two passphrases)", OB_OPT_EXACT },
	{ OB_OPT_END },
};

static const struct key_source_ops ks_fnek = {
	.name = "fnek", .opts = fnek_opts, .take = fnek_take,
};

/* ---- --key-sig: tokens already in the kernel keyring (keyring.c) ---- */

static int key_sig_take(struct key_opts *ko, int key, const char *arg)
{
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

static const struct ob_opt key_sig_opts[] = {
	{ "key-sig", 0, KO_KEY_SIG, "SIG",
	  "use the key already in the kernel keyring under SIG\n"
	  "(ecfs add-passphrase, ecryptfs-add-passphrase); repeatable;\n"
	  "without a passphrase source no passphrase is asked for", 0 },
	{ OB_OPT_END },
};

static const struct key_source_ops ks_key_sig = {
	.name = "key-sig", .opts = key_sig_opts, .take = key_sig_take,
	.load_early = keyring_keys_load,
};

const struct key_source_ops *const key_sources[] = {
	&ks_passphrase, &ks_salt, &ks_extra, &ks_fnek, &ks_key_sig,
	&ks_key_file, &ks_key_extpass, &ks_gpg_key, &ks_tpm_key,
	&ks_rsa_key, &ks_escrow_key, &ks_gpg_recipient, &ks_policy, &ks_keys_dir,
	NULL,
};
#define NSOURCES (sizeof(key_sources) / sizeof(key_sources[0]) - 1)

/* The source whose rows hold key, or NULL. */
static const struct key_source_ops *source_of(int key)
{
	for (const struct key_source_ops *const *ks = key_sources; *ks; ks++)
		for (const struct ob_opt *o = (*ks)->opts; o->name || o->help; o++)
			if (o->name && o->key == key)
				return *ks;
	return NULL;
}

int key_opts_handle(struct key_opts *ko, int key, const char *arg)
{
	const struct key_source_ops *ks = source_of(key);

	return ks ? ks->take(ko, key, arg) : EXIT_USAGE;
}

int key_opts_ext_count(const struct key_opts *ko)
{
	int n = 0;

	for (const struct key_source_ops *const *ks = key_sources; *ks; ks++)
		if ((*ks)->count)
			n += (*ks)->count(ko);
	return n;
}

/* The source holding key-file-layer secret number *i, *i made its own. */
static const struct key_source_ops *ext_source(const struct key_opts *ko, int *i)
{
	for (const struct key_source_ops *const *ks = key_sources; *ks; ks++) {
		int n = (*ks)->count ? (*ks)->count(ko) : 0;

		if (*i < n)
			return *ks;
		*i -= n;
	}
	return NULL;
}

int key_opts_ext_secret(const struct key_opts *ko, int i, struct secret *s,
			struct ob_err *err)
{
	const struct key_source_ops *ks = ext_source(ko, &i);

	if (!ks)
		return ob_err_set(err, -ENOKEY, "no key number %d", i);
	return ks->collect(ko, i, s, err);
}

void key_opts_ext_free(const struct key_opts *ko, int i, struct secret *s)
{
	const struct key_source_ops *ks = ext_source(ko, &i);

	if (ks && ks->cleanup)
		ks->cleanup(s);
	else
		secret_free(s);
}

/* Every source's own loading, early or late. */
static int load_sources(const struct key_opts *ko, struct ecfs_keychain *kc, bool early,
			struct ob_err *err)
{
	for (const struct key_source_ops *const *ks = key_sources; *ks; ks++) {
		int (*load)(const struct key_opts *, struct ecfs_keychain *, struct ob_err *) =
			early ? (*ks)->load_early : (*ks)->load;
		int rc = load ? load(ko, kc, err) : 0;

		if (rc)
			return rc;
	}
	return 0;
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
		/* Each table starts with its heading, which brings its
		 * own blank line. */
		if (c->co)
			ob_opt_print_table(cipher_opt_table, stdout);
		if (c->ko) {
			for (const struct key_source_ops *const *ks = key_sources; *ks; ks++)
				ob_opt_print_table((*ks)->opts, stdout);
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
	const struct ob_opt *tables[4 + NSOURCES];
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
		for (const struct key_source_ops *const *ks = key_sources; *ks; ks++)
			tables[n++] = (*ks)->opts;
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
	if (src)
		secret_free(&s);
	else
		key_opts_ext_free(ko, ext, &s);
	return rc;
}

int cli_keys_load(const struct key_opts *ko, const struct ecfs_cipher_info *fn_cipher,
		  size_t fn_key_bytes, struct ecfs_keychain *kc, struct ob_err *err)
{
	uint8_t salt[ECFS_SALT_BYTES];
	unsigned names = ECFS_KC_NAMES | (ko->fnek ? ECFS_KC_WRITE_FNEK : 0) |
			 (ko->fnek_same ? ECFS_KC_WRITE_SAME : 0);
	int rc, ext0 = 0;
	bool no_pass = !ko->src.file && !ko->src.extpass && !ko->src.mem;
	bool fnek_sep = ko->fnek_file || ko->fnek_mem;

	rc = ecfs_keychain_init(kc, fn_cipher, fn_key_bytes, err);
	if (rc)
		return rc;
	rc = content_salt(ko, salt, err);
	if (rc)
		goto fail;
	/* Keys from the kernel keyring; with no passphrase source, only them. */
	rc = load_sources(ko, kc, true, err);
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
	rc = load_sources(ko, kc, false, err);
	if (rc)
		goto fail;
	return 0;
fail:
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

	va_start(ap, fmt);
	ob_msgv(ECFS_PROG, fmt, ap);
	va_end(ap);
}
