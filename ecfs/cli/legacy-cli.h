/* SPDX-License-Identifier: MIT */
/* legacy-cli.h - what the legacy subcommands (recover, fsck, the
 * *-passphrase and *-private commands) share: small files, atomic writes,
 * yes/no questions, and starting "ecfs mount" with keys made already.
 */
#ifndef ECFS_LEGACY_CLI_H
#define ECFS_LEGACY_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <sys/types.h>

#include "cli.h"

/* Read at most cap bytes of path.  -errno with a reason. */
int lc_read_small(const char *path, uint8_t *buf, size_t cap, size_t *len,
		  struct ob_err *err);

/* As ecryptfs-utils: a private temp file "<path>-XXXXXX", fsync, rename. */
int lc_write_atomic(const char *path, const void *buf, size_t len, mode_t mode,
		    struct ob_err *err);

/* The v1 wrapping salt: --salt, else salt= of --ecryptfsrc/~/.ecryptfsrc,
 * else the default. */
int lc_v1_salt(const struct key_opts *ko, uint8_t salt[ECFS_SALT_BYTES],
	       struct ob_err *err);

/* Ask on /dev/tty; without a terminal the answer is def. */
bool lc_ask(const char *question, bool def);
bool lc_have_tty(void);

/* Unwrap a wrapped-passphrase (or Synology .key) file with a login password
 * from src; pass gets the mount passphrase (locked memory, 65 bytes). */
int lc_unwrap_file(const char *path, const struct secret_source *src,
		   const struct key_opts *ko, const char *prompt, char *pass,
		   struct ob_err *err);

/* The cipher options a legacy command gives the mount (NULL/0 = unset). */
struct lc_ciphers {
	const char *cipher, *fn_cipher;
	size_t key_bytes, fn_key_bytes;
};

/* The key chain a mount with ciphers c and the key options ko makes, the
 * passphrase (if not NULL) and the filename passphrase (if not NULL) given
 * in memory: what recover checks and mount-private mounts with, made the
 * one way (cli_keys_load).  Free kc with ecfs_keychain_free. */
int lc_keys_make(const struct key_opts *ko, const char *pass, const char *fnek_pass,
		 const struct lc_ciphers *c, struct ecfs_keychain *kc, struct ob_err *err);

/* Mount as "ecfs mount [args...] LOWER MNT" would, with the key chain kc
 * (if not NULL; else args name the keys, e.g. --key-sig), made for the
 * name cipher args settle on (cli_mount_fn_cipher); returns once it is
 * mounted (the daemon runs in a child), with the mount's exit status.  The
 * caller frees kc. */
int lc_spawn_mount(const char *lower, const char *mnt, struct ecfs_keychain *kc,
		   const char *const *args);

/* recover's temporary mount points: LC_RECOVER_DIR "XXXXXX" in $TMPDIR;
 * "ecfs umount" removes one (if empty) after unmounting it. */
#define LC_RECOVER_DIR		"ecfs-recover."
void lc_remove_recover_dir(const char *mnt);

/* ~/.ecryptfs/<alias>.sig and .mnt, as mount.ecryptfs_private reads them:
 * fills the paths for HOME (or --home) and alias (default "Private"). */
struct lc_private {
	char home[PATH_MAX], conf[PATH_MAX], lower[PATH_MAX], mnt[PATH_MAX];
	char sigfile[PATH_MAX], mntfile[PATH_MAX], wrapped[PATH_MAX];
};
int lc_private_paths(const char *home, const char *alias, struct lc_private *p,
		     struct ob_err *err);

/* cmd-wrap-passphrase.c: wrap pass with login into a v2 file at path
 * (salt_hex NULL = random), written atomically with mode 0600. */
int lc_wrap_to_file(const char *path, const char *pass, size_t pass_len,
		    const char *login, size_t login_len, const char *salt_hex,
		    struct ob_err *err);

/* keyring.c */
long keyring_add(const char *desc, const void *payload, size_t len);
long keyring_find(const char *desc);

#endif
