// SPDX-License-Identifier: MIT
/* legacy-cli.c - helpers shared by the legacy subcommands (legacy-cli.h).
 *
 * lc_spawn_mount(): recover and mount-private make the key chain
 * themselves (from an unwrapped passphrase, key files, ...: the secrets
 * are read once); they mount through the same path as "ecfs mount"
 * (cli_mount_argv), handing that chain over.
 */
#include "legacy-cli.h"
#include "cmd-mount.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ob/secmem.h"

int lc_read_small(const char *path, uint8_t *buf, size_t cap, size_t *len,
		  struct ob_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;

	if (fd < 0)
		return ob_err_set(err, -errno, "cannot open");
	while (got < cap) {
		ssize_t n = read(fd, buf + got, cap - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = -errno;

			close(fd);
			return ob_err_set(err, e, "cannot read");
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	*len = got;
	return 0;
}

int lc_write_atomic(const char *path, const void *buf, size_t len, mode_t mode,
		    struct ob_err *err)
{
	char tmp[PATH_MAX + 16];
	int fd, rc = 0;

	snprintf(tmp, sizeof(tmp), "%s-XXXXXX", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return ob_err_set(err, -errno, "cannot create a temporary file beside it");
	if (fchmod(fd, mode) || write(fd, buf, len) != (ssize_t)len || fsync(fd))
		rc = ob_err_set(err, errno ? -errno : -EIO, "writing %s", tmp);
	close(fd);
	if (!rc && rename(tmp, path))
		rc = ob_err_set(err, -errno, "renaming %s over it", tmp);
	if (rc)
		unlink(tmp);
	return rc;
}

int lc_v1_salt(const struct key_opts *ko, uint8_t salt[ECFS_SALT_BYTES],
	       struct ob_err *err)
{
	char path[PATH_MAX];
	const char *home = getenv("HOME");
	int rc;

	if (ko->salt_hex)
		return ecfs_sig_from_hex(ko->salt_hex, salt) ?
		       ob_err_set(err, -EINVAL, "--salt must be 16 hex digits") : 0;
	snprintf(path, sizeof(path), "%s/.ecryptfsrc", home ? home : ".");
	rc = ecfs_rc_salt(ko->rc_path ? ko->rc_path : path, salt, err);
	return rc < 0 ? rc : 0;
}

bool lc_have_tty(void)
{
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

bool lc_ask(const char *question, bool def)
{
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	char line[16];
	ssize_t n;

	if (fd < 0)
		return def;
	dprintf(fd, "%s [%s] ", question, def ? "Y/n" : "y/N");
	n = read(fd, line, sizeof(line) - 1);
	close(fd);
	if (n <= 0 || line[0] == '\n')
		return def;
	return line[0] == 'y' || line[0] == 'Y';
}

int lc_unwrap_file(const char *path, const struct secret_source *src,
		   const struct key_opts *ko, const char *prompt, char *pass,
		   struct ob_err *err)
{
	uint8_t file[256], salt[ECFS_SALT_BYTES];
	struct secret login;
	size_t len;
	int rc;

	rc = lc_read_small(path, file, sizeof(file), &len, err);
	if (rc)
		return rc;
	if (ecfs_syno_key_probe(file, len))
		return ecfs_syno_key_unwrap(file, len, pass, err);
	/* A version-2 file carries a random salt, which hides the fixed
	 * signature the probe looks for: try DSM's wrapping passphrase before
	 * asking for one (one key derivation; no other file unwraps with it). */
	if (ecfs_syno_key_unwrap(file, len, pass, NULL) == 0)
		return 0;
	rc = lc_v1_salt(ko, salt, err);
	if (rc)
		return rc;
	rc = secret_read(src, prompt, &login, err);
	if (rc)
		return rc;
	rc = ecfs_wrapped_unwrap(file, len, login.buf, login.len, salt, pass, err);
	secret_free(&login);
	if (rc == -EKEYREJECTED)
		ob_err_set(err, rc, "wrong login password (signature mismatch); try an older "
			   "password, or the 32-hex mount passphrase (--passphrase-file)");
	return rc;
}

int lc_keys_make(const struct key_opts *ko, const char *pass, const char *fnek_pass,
		 const struct lc_ciphers *c, struct ecfs_keychain *kc, struct ob_err *err)
{
	struct key_opts k = *ko;
	const struct ecfs_cipher_info *fn_ci;
	size_t fn_kb;

	fn_ci = cli_mount_fn_cipher(c->cipher, c->key_bytes, c->fn_cipher, c->fn_key_bytes,
				    &fn_kb);
	if (!fn_ci)
		return ob_err_set(err, -EINVAL, "no cipher %s with %zu-byte keys",
				  c->fn_cipher ? c->fn_cipher : c->cipher, c->fn_key_bytes);
	cli_lock_memory();	/* the chain's cipher contexts live in OpenSSL's heap */
	if (pass)
		k.src = (struct secret_source){ .mem = pass };
	if (fnek_pass) {
		k.fnek_file = NULL;
		k.fnek_mem = fnek_pass;
	}
	return cli_keys_load(&k, fn_ci, fn_kb, kc, err);
}

int lc_spawn_mount(const char *lower, const char *mnt, struct ecfs_keychain *kc,
		   const char *const *args)
{
	const char *argv[48];
	int n = 0;

	argv[n++] = "mount";
	for (; args && *args && n < 45; args++)
		argv[n++] = *args;
	argv[n++] = lower;
	argv[n++] = mnt;
	argv[n] = NULL;
	return cli_mount_argv(n, (char **)argv, kc);
}

int lc_private_paths(const char *home, const char *alias, struct lc_private *p,
		     struct ob_err *err)
{
	char buf[PATH_MAX];
	size_t len = 0;

	if (!home)
		home = getenv("HOME");
	if (!home || !*home)
		return ob_err_set(err, -EINVAL, "HOME is not set (use --home DIR)");
	if (!alias)
		alias = "Private";
	if (strchr(alias, '/'))
		return ob_err_set(err, -EINVAL, "alias '%s' has a '/'", alias);
	snprintf(p->home, PATH_MAX, "%s", home);
	snprintf(p->conf, PATH_MAX, "%.3000s/.ecryptfs", home);
	snprintf(p->lower, PATH_MAX, "%.3000s/.%.255s", home, alias);
	snprintf(p->sigfile, PATH_MAX, "%.3000s/%.255s.sig", p->conf, alias);
	snprintf(p->mntfile, PATH_MAX, "%.3000s/%.255s.mnt", p->conf, alias);
	snprintf(p->wrapped, PATH_MAX, "%.3000s/wrapped-passphrase", p->conf);
	/* main.c: ecryptfs_fetch_private_mnt(): first line, default ~/Private */
	if (!lc_read_small(p->mntfile, (uint8_t *)buf, sizeof(buf) - 1, &len, NULL) && len) {
		buf[len] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		snprintf(p->mnt, PATH_MAX, "%s", buf);
	} else {
		snprintf(p->mnt, PATH_MAX, "%.3000s/%.255s", home, alias);
	}
	return 0;
}

/* The mount point recover made (ecfs-recover.XXXXXX, mkdtemp) goes once
 * it is unmounted; rmdir leaves it alone if anything is in it. */
void lc_remove_recover_dir(const char *mnt)
{
	const char *base = strrchr(mnt, '/');

	base = base ? base + 1 : mnt;
	if (!strncmp(base, LC_RECOVER_DIR, strlen(LC_RECOVER_DIR)) &&
	    strlen(base) == strlen(LC_RECOVER_DIR) + 6)
		(void)rmdir(mnt);
}
