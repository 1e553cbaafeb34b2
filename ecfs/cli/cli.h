/* SPDX-License-Identifier: MIT */
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
#include <stdio.h>

#include "ecfs.h"
#include "ecfs-keychain.h"
#include "ob/opt.h"

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
	const char *mem;	/* a secret already in memory (recover, mount-private) */
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
	const char *fnek_mem;		/* ... or that passphrase, in memory */
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

/* The key options' keys (each source's rows carry their own).  Their keys
 * are their own, above any subcommand's. */
enum key_opt {
	KO_PASSFILE = 0x1000, KO_EXTPASS, KO_SALT, KO_RC, KO_EXTRA, KO_FNEK,
	KO_FNEK_SAME, KO_FNEK_PASSFILE, KO_KEY_SIG,
	KO_KEY_FILE, KO_KEY_EXTPASS, KO_GPG_KEY, KO_TPM_KEY, KO_TPM_TCTI, KO_RSA_KEY,
	KO_RSA_PASSFILE, KO_RSA_EXTPASS, KO_ESCROW_KEY, KO_GPG_RECIPIENT, KO_POLICY,
	KO_KEYS_DIR, KO_NO_KEYS_DIR,
	KO_END
};

/* One source of keys.  The generic code (keyopts.c) walks key_sources[]
 * for parsing, --help and loading; a source knows only its own options.
 *   opts:    its option rows, help text included (a heading may lead);
 *   take:    one of its options into ko: 0, or EXIT_USAGE after a message;
 *   count/collect: the passphrase-equivalent secrets it holds (the key-file
 *            layer), in order; collect's secret is freed by cleanup;
 *   load_early/load: keys it puts into the chain itself, before the
 *            passphrases (keyring tokens) or after them (RSA, escrow, policy).
 * Unused ops are NULL. */
struct key_source_ops {
	const char *name;
	const struct ob_opt *opts;
	int (*take)(struct key_opts *ko, int key, const char *arg);
	int (*count)(const struct key_opts *ko);
	int (*collect)(const struct key_opts *ko, int i, struct secret *s, struct ob_err *err);
	void (*cleanup)(struct secret *s);
	int (*load_early)(const struct key_opts *ko, struct ecfs_keychain *kc,
			  struct ob_err *err);
	int (*load)(const struct key_opts *ko, struct ecfs_keychain *kc, struct ob_err *err);
};
/* NULL-terminated, in --help order (keyopts.c) */
extern const struct key_source_ops *const key_sources[];
/* keys beyond passphrases (keyopts-pk.c) */
extern const struct key_source_ops ks_key_file, ks_key_extpass, ks_gpg_key, ks_tpm_key,
	ks_rsa_key, ks_escrow_key, ks_gpg_recipient, ks_policy, ks_keys_dir;

/* Take one key option into ko (the source owning key): 0, or EXIT_USAGE
 * after a message. */
int key_opts_handle(struct key_opts *ko, int key, const char *arg);

/* One subcommand's command line through ob/opt.h: its own table, then the
 * key options (when ko is set), and -h/--help printing help (the text
 * before the options; "usage: ecfs NAME ..." first) and the tables.  own
 * options go to fn(ctx).  Returns the index of the first operand, or -1
 * with *status the exit status (EXIT_OK after --help). */
struct cipher_opts;
struct cli_cmd {
	const char *prog;		/* "ecfs info" */
	const char *help;
	const struct ob_opt *own;	/* may be NULL */
	struct key_opts *ko;		/* NULL: no key options */
	struct cipher_opts *co;		/* NULL: no cipher options (cipher-opts.c) */
	ob_opt_fn fn;
	void *ctx;
	unsigned flags;			/* ob_cmd.flags */
	void (*more_help)(FILE *out);	/* after help, before the key options */
};
int cli_parse(const struct cli_cmd *c, int argc, char **argv, int *status);
/* fns for a command with one own option: a flag (ctx is its bool) or one
 * taking a value (ctx is its const char *). */
int cli_opt_flag(const struct ob_cmd *cmd, const struct ob_opt *opt, const char *arg,
		 void *ctx);
int cli_opt_value(const struct ob_cmd *cmd, const struct ob_opt *opt, const char *arg,
		  void *ctx);

/* --cipher, --key-bytes, --fn-cipher, --fn-key-bytes (cipher-opts.c): the
 * mount's ecryptfs_cipher and friends for the offline commands. */
enum cipher_opt { CO_CIPHER = 0x3000, CO_KEY_BYTES, CO_FN_CIPHER, CO_FN_KEY_BYTES, CO_END };
struct cipher_opts {
	const char *cipher, *fn_cipher;		/* NULL: aes; the content's */
	size_t key_bytes, fn_key_bytes;		/* 0: the cipher's default; the content's */
};
struct cipher_choice {
	const struct ecfs_cipher_info *cipher, *fn_cipher;
	size_t key_bytes, fn_key_bytes;
};
extern const struct ob_opt cipher_opt_table[];
/* Take one cipher option into co: 0, or EXIT_USAGE after a message. */
int cipher_opts_handle(struct cipher_opts *co, int key, const char *arg);
/* Look the names up into out; EXIT_USAGE after printing why, else 0. */
int cipher_opts_resolve(const struct cipher_opts *co, struct cipher_choice *out);

/* Read the secret(s) and hand them to a new key chain (libecfs turns them
 * into keys); fn_cipher/fn_key_bytes set the filename cipher (NULL/0 =
 * aes-16).  Prints nothing; err says why.  Free kc with ecfs_keychain_free. */
int cli_keys_load(const struct key_opts *ko, const struct ecfs_cipher_info *fn_cipher,
		  size_t fn_key_bytes, struct ecfs_keychain *kc, struct ob_err *err);

/* keyring.c: tokens of --key-sig from the kernel keyring into kc. */
int keyring_keys_load(const struct key_opts *ko, struct ecfs_keychain *kc,
		      struct ob_err *err);
/* Read the token with description hex(sig) of type "user" from the
 * keyrings this process can search (request_key), into key. */
int keyring_read_key(const uint8_t sig[ECFS_SIG_BYTES], struct ecfs_key *key,
		     struct ob_err *err);

/* The key-file-layer secrets of all sources (key files, --key-extpass,
 * GPG- and TPM-wrapped key files) in order, each a passphrase-equivalent
 * secret: how many, and number i (free with key_opts_ext_free). */
int key_opts_ext_count(const struct key_opts *ko);
int key_opts_ext_secret(const struct key_opts *ko, int i, struct secret *s,
			struct ob_err *err);
void key_opts_ext_free(const struct key_opts *ko, int i, struct secret *s);
/* keyopts-pk.c: the lower dir's key dir into buf (0), or -ENOENT when
 * there is none to use. */
int cli_keys_dir(const struct key_opts *ko, char *buf, size_t len);

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
