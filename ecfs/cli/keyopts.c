/* keyopts.c - the key options every keyed subcommand takes, and key loading.
 *
 * One table of options (--passphrase-file, --extpass, --salt, --ecryptfsrc,
 * --extra-passphrase-file, --fnek, --fnek-same-key) is spliced into each
 * subcommand's getopt_long table, so they behave the same everywhere.
 *
 * Reading names needs the right filename key, and users rarely know which
 * salt made theirs (spec §1): ecryptfs-utils' FNEK uses the ASCII bytes
 * "99887766", mount.ecryptfs by hand uses the content key itself.  We make
 * both candidates and let each name's signature pick.
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
	const char *home;
	int rc;

	if (ko->salt_hex) {
		/* A salt is 8 bytes, the same shape as a signature. */
		if (ecfs_sig_from_hex(ko->salt_hex, salt))
			return ob_err_set(err, -EINVAL, "--salt must be 16 hex digits");
		return 0;
	}
	if (ko->rc_path) {
		rc = ecfs_rc_salt(ko->rc_path, salt, err);
		return rc < 0 ? rc : 0;
	}
	home = getenv("HOME");
	if (!home) {
		memcpy(salt, ecfs_default_salt, ECFS_SALT_BYTES);
		return 0;
	}
	snprintf(path, sizeof(path), "%s/.ecryptfsrc", home);
	rc = ecfs_rc_salt(path, salt, err);
	return rc < 0 ? rc : 0;
}

/* src NULL: the key-file-layer key number ext (keyopts-pk.c). */
static int derive_from(const struct secret_source *src, const char *prompt,
		       const uint8_t salt[ECFS_SALT_BYTES], struct ecfs_key *key,
		       struct ecfs_key *fnek_key, struct ob_err *err,
		       const struct key_opts *ko, int ext)
{
	struct secret s;
	int rc;

	rc = src ? secret_read(src, prompt, &s, err) : key_opts_ext_secret(ko, ext, &s, err);
	if (rc)
		return rc;
	rc = ecfs_key_derive(key, s.buf, s.len, salt, err);
	if (!rc && fnek_key)
		rc = ecfs_key_derive(fnek_key, s.buf, s.len, ecfs_fnek_salt, err);
	secret_free(&s);
	return rc;
}

static int add_fnek(struct cli_keys *ck, const struct ecfs_key *tok,
		    const struct ecfs_cipher_info *ci, size_t kb,
		    struct ecfs_fnek **made, struct ob_err *err)
{
	int rc;

	if (ck->nfneks == sizeof(ck->fneks) / sizeof(ck->fneks[0]))
		return ob_err_set(err, -ENOSPC, "too many filename keys");
	rc = ecfs_fnek_new(tok, ci, kb, &ck->fneks[ck->nfneks], err);
	if (rc)
		return rc;
	if (made)
		*made = ck->fneks[ck->nfneks];
	ck->nfneks++;
	return 0;
}

static int add_fnek_candidates(struct cli_keys *ck, const struct ecfs_key tok[2],
			       const struct ecfs_cipher_info *fn_cipher, size_t fn_key_bytes,
			       const struct key_opts *ko, struct ob_err *err)
{
	static const size_t aes_sizes[] = { 16, 24, 32 };
	const struct ecfs_cipher_info *want = fn_cipher ? fn_cipher :
		ecfs_cipher_by_name("aes", fn_key_bytes);
	size_t want_kb = fn_key_bytes ? fn_key_bytes : (want ? want->key_default : 16);
	int rc = 0;

	if (!want)
		return ob_err_set(err, -EINVAL, "no AES name cipher with a %zu-byte key", fn_key_bytes);
	for (int t = 0; t < 2 && !rc; t++) {
		/* tok[1] has ecryptfs-utils' FNEK salt, tok[0] is the content key. */
		const struct ecfs_key *key = &tok[t == 0 ? 1 : 0];
		bool writer = t == 0 ? ko->fnek : ko->fnek_same;
		struct ecfs_fnek **made = writer ? &ck->write_fnek : NULL;

		rc = add_fnek(ck, key, want, want_kb, made, err);
		for (size_t i = 0; i < 3 && !rc; i++) {
			const struct ecfs_cipher_info *aes = ecfs_cipher_by_name("aes", aes_sizes[i]);

			if (aes != want || aes_sizes[i] != want_kb)
				rc = add_fnek(ck, key, aes, aes_sizes[i], NULL, err);
		}
	}
	return rc;
}

int cli_keys_load(const struct key_opts *ko, const struct ecfs_cipher_info *fn_cipher,
		  size_t fn_key_bytes, struct cli_keys *ck, struct ob_err *err)
{
	uint8_t salt[ECFS_SALT_BYTES];
	struct ecfs_key *k;
	int rc, ext0 = 0;
	bool no_pass = !ko->src.file && !ko->src.extpass;

	memset(ck, 0, sizeof(*ck));
	ck->keys = ecfs_keyset_new();
	k = ob_secure_alloc(4 * sizeof(*k));
	if (!ck->keys || !k) {
		rc = ob_err_set(err, -ENOMEM, "allocating locked memory");
		goto fail;
	}
	rc = content_salt(ko, salt, err);
	if (rc)
		goto fail;
	/* Keys from the kernel keyring; with no passphrase source, only them. */
	rc = keyring_keys_load(ko, ck, fn_cipher, fn_key_bytes, &k[2], err);
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
	rc = derive_from(ext0 ? NULL : &ko->src, "Passphrase: ", salt, &k[0], &k[1], err, ko, 0);
	if (rc)
		goto fail;
	rc = ecfs_keyset_add(ck->keys, &k[0]);
	if (rc)
		goto fail;
	if (ko->fnek_file) {
		struct secret_source fsrc = { .file = ko->fnek_file };

		rc = derive_from(&fsrc, "Filename passphrase: ", salt, &k[0], &k[1], err, ko, 0);
		if (rc)
			goto fail;
	}
	/* Name-key candidates: both salts, every AES size (the name's cipher
	 * code tells them apart), plus the requested name cipher. */
	rc = add_fnek_candidates(ck, k, fn_cipher, fn_key_bytes, ko, err);
	if (rc)
		goto fail;
extra:
	for (int i = 0; i < ko->nextra; i++) {
		struct secret_source src = { .file = ko->extra_files[i] };

		rc = derive_from(&src, "Extra passphrase: ", salt, &k[0], NULL, err, ko, 0);
		if (!rc)
			rc = ecfs_keyset_add(ck->keys, &k[0]);
		if (rc)
			goto fail;
	}
	/* keys beyond passphrases */
	for (int i = ext0; i < key_opts_ext_count(ko); i++) {
		rc = derive_from(NULL, NULL, salt, &k[0], NULL, err, ko, i);
		if (!rc)
			rc = ecfs_keyset_add(ck->keys, &k[0]);
		if (rc)
			goto fail;
	}
	rc = cli_keys_load_pk(ko, ck, err);
	if (rc)
		goto fail;
	ob_secure_free(k);
	return 0;
fail:
	ob_secure_free(k);
	cli_keys_free(ck);
	return rc;
}

void cli_keys_free(struct cli_keys *ck)
{
	for (size_t i = 0; i < ck->nfneks; i++)
		ecfs_fnek_free(ck->fneks[i]);
	cli_keys_free_pk(ck);
	ecfs_keyset_free(ck->keys);
	memset(ck, 0, sizeof(*ck));
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
