/* cli.h - what the ecfs subcommands share: key input, key options, output.
 *
 * Secrets (passphrases, login passwords) come from a no-echo prompt on the
 * terminal, a file (--passphrase-file, "-" for stdin) or a command's output
 * (--extpass); never from argv or the environment.  They are held in locked
 * memory and wiped as soon as the key is derived.
 */
#ifndef ECFS_CLI_H
#define ECFS_CLI_H

#include <stdbool.h>
#include <getopt.h>
#include <stdio.h>

#include "ecfs.h"

#define ECFS_PROG "ecfs"

/* Exit statuses of every subcommand. */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,		/* the operation failed; a message says why */
	EXIT_USAGE = 2,		/* bad command line */
};

/* Where a secret comes from. */
struct secret_source {
	const char *file;	/* --passphrase-file (or "-" = stdin) */
	const char *extpass;	/* --extpass: a command printing it */
};

/* A secret in locked memory, NUL-terminated. */
struct secret {
	char *buf;		/* ob_secure_alloc'd, ECFS_SECRET_MAX + 1 */
	size_t len;
};
#define ECFS_SECRET_MAX 512

/* Read one secret: from src->file, src->extpass, or a no-echo prompt on
 * /dev/tty.  One trailing newline is stripped.  -ENOKEY when there is no
 * source and no terminal.  Free with secret_free(). */
int secret_read(const struct secret_source *src, const char *prompt,
		struct secret *s, struct ob_err *err);
void secret_free(struct secret *s);

/* Key options shared by the subcommands that need keys. */
struct key_opts {
	struct secret_source src;
	const char *salt_hex;		/* --salt */
	const char *rc_path;		/* --ecryptfsrc; default ~/.ecryptfsrc */
	const char *extra_files[8];	/* --extra-passphrase-file (more keys) */
	int nextra;
	bool fnek;			/* --fnek: names, ecryptfs-utils FNEK */
	bool fnek_same;			/* --fnek-same-key: FNEK = content key */
	const char *fnek_file;		/* --fnek-passphrase-file (crouton) */
	uint8_t key_sigs[8][ECFS_SIG_BYTES];	/* --key-sig: keyring tokens */
	int nkey_sigs;

	/* keys beyond passphrases (keyopts-pk.c) */
	const char *key_files[8];	/* --key-file: a passphrase-equivalent key file */
	int nkey_files;
	const char *key_extpass;	/* --key-extpass: a command printing a key */
	const char *gpg_keys[8];	/* --gpg-key: a GPG-wrapped key file */
	int ngpg_keys;
	const char *tpm_keys[8];	/* --tpm-key: a TPM-sealed key file */
	int ntpm_keys;
	const char *tcti;		/* --tpm-tcti */
	const char *rsa_keys[8];	/* --rsa-key: PEM, private opens, any wraps */
	int nrsa;
	struct secret_source rsa_pass;	/* --rsa-passphrase-file/-extpass */
	const char *escrow_key;		/* --escrow-key: public PEM (default: key dir) */
	const char *gpg_recipients[8];	/* --gpg-recipient (ecfs keyfile) */
	int ngpg_recipients;
	const char *policy;		/* --policy (default: key dir) */
	const char *keys_dir;		/* --keys-dir */
	bool no_keys_dir;		/* --no-keys-dir: ignore the key dir */
	const char *lower;		/* the lower dir, set by the subcommand */
};

/* Keys made from key_opts: content keys (first = the main passphrase) and
 * the filename-key candidates (both salts when reading). */
struct cli_keys {
	struct ecfs_keyset *keys;
	struct ecfs_fnek *fneks[8];
	size_t nfneks;
	struct ecfs_fnek *write_fnek;	/* the FNEK for new names, or NULL */

	/* keys beyond passphrases (keyopts-pk.c) */
	struct ecfs_pubkey *pub[10];	/* --rsa-key and the escrow key: all wrap
					 * new files, those with a private half
					 * open them */
	size_t npub;
	bool has_escrow;		/* pub[npub - 1] is the escrow key */
	struct ecfs_policy *policy;	/* --policy or the key dir's */
};

/* The passphrase keys of ck (ck->keys) and its RSA keys as one set. */
static inline struct ecfs_keys cli_keys_all(const struct cli_keys *ck)
{
	struct ecfs_keys k = { .pass = ck->keys, .pub = ck->pub, .npub = ck->npub };

	return k;
}

/* getopt_long entries for the key options, and their handler: returns 1
 * when opt was a key option, 0 when not, -1 on a bad value. */
#define KEY_OPT_BASE 1000
extern const struct option key_long_opts[];
extern const size_t key_long_opts_count;
int key_opts_handle(struct key_opts *ko, int opt, const char *arg);
extern const char key_opts_help[];

/* Read the secret(s) and derive every key; fn_cipher/fn_key_bytes set the
 * filename cipher (NULL/0 = aes-16).  Prints nothing; err says why. */
int cli_keys_load(const struct key_opts *ko, const struct ecfs_cipher_info *fn_cipher,
		  size_t fn_key_bytes, struct cli_keys *ck, struct ob_err *err);
void cli_keys_free(struct cli_keys *ck);

/* keyring.c: tokens of --key-sig from the kernel keyring into ck->keys,
 * each also a filename-key candidate; tmp is scratch locked memory. */
int keyring_keys_load(const struct key_opts *ko, struct cli_keys *ck,
		      const struct ecfs_cipher_info *fn_cipher, size_t fn_key_bytes,
		      struct ecfs_key *tmp, struct ob_err *err);
/* Read the token with description hex(sig) of type "user" from the
 * keyrings this process can search (request_key), into key. */
int keyring_read_key(const uint8_t sig[ECFS_SIG_BYTES], struct ecfs_key *key,
		     struct ob_err *err);

/* keyopts-pk.c: the options of keys beyond passphrases.  handle: as
 * key_opts_handle.  ext_count/ext_secret: the key-file-layer keys (key
 * files, --key-extpass, GPG- and TPM-wrapped key files) in order, each a
 * passphrase-equivalent secret.  load_pk: RSA keys, the escrow key and the
 * policy into ck.  keys_dir: the lower dir's key dir into buf (0), or
 * -ENOENT when there is none to use. */
int key_opts_handle_pk(struct key_opts *ko, int opt, const char *arg);
int key_opts_ext_count(const struct key_opts *ko);
int key_opts_ext_secret(const struct key_opts *ko, int i, struct secret *s,
			struct ob_err *err);
int cli_keys_load_pk(const struct key_opts *ko, struct cli_keys *ck, struct ob_err *err);
void cli_keys_free_pk(struct cli_keys *ck);
int cli_keys_dir(const struct key_opts *ko, char *buf, size_t len);
#define KEY_OPT_PK_BASE 1100

/* The wrapped-passphrase file a command works on: arg when given, else
 * ~/.ecryptfs/wrapped-passphrase (as ecryptfs-utils). */
void cli_wrapped_path(const char *arg, char *out, size_t len);

/* Print "ecfs: object: reason" for err. */
void cli_error(const char *object, const struct ob_err *err);
/* Print "ecfs: <printf>" to stderr. */
void cli_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Subcommands. */
int cmd_info(int argc, char **argv);
int cmd_decrypt(int argc, char **argv);
int cmd_encrypt(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_sig(int argc, char **argv);
int cmd_unwrap(int argc, char **argv);
int cmd_wrap(int argc, char **argv);
int cmd_mount(int argc, char **argv);
int cmd_umount(int argc, char **argv);
/* legacy eCryptfs workflows (cmd-<name>.c) */
int cmd_recover(int argc, char **argv);
int cmd_unwrap_passphrase(int argc, char **argv);
int cmd_wrap_passphrase(int argc, char **argv);
int cmd_rewrap_passphrase(int argc, char **argv);
int cmd_add_passphrase(int argc, char **argv);
int cmd_fsck(int argc, char **argv);
int cmd_setup_private(int argc, char **argv);
int cmd_migrate_home(int argc, char **argv);
int cmd_mount_private(int argc, char **argv);
int cmd_umount_private(int argc, char **argv);
/* keys beyond passphrases */
int cmd_escrow(int argc, char **argv);
int cmd_rekey(int argc, char **argv);
int cmd_keyfile(int argc, char **argv);

#endif
