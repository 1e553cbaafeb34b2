// SPDX-License-Identifier: MIT
/* cmd-keys.c - "ecfs sig", "ecfs unwrap", "ecfs wrap": passphrases and their files.
 *
 * sig prints what ecryptfs-add-passphrase would print: the content key's
 * signature and, with --fnek, the filename key's (ASCII "99887766" salt).
 * unwrap/wrap read and write ecryptfs-utils' wrapped-passphrase files; the
 * login (wrapping) password comes from the usual key options, the mount
 * passphrase for wrap from --mount-passphrase-file.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ob/secmem.h"

/* --mount-passphrase-file of wrap: the only own option here. */
static const struct ob_opt wrap_opts[] = {
	{ "mount-passphrase-file", 0, 'm', "F", NULL, OB_OPT_EXACT },
	{ OB_OPT_END },
};

/* The index of the first operand, or -1 with *status to exit with. */
static int parse_simple(int argc, char **argv, struct key_opts *ko, const char *prog,
			const struct ob_opt *own, const char *help, const char **extra_arg,
			int *status)
{
	const struct cli_cmd c = {
		.prog = prog, .help = help, .own = own, .ko = ko,
		.fn = cli_opt_value, .ctx = extra_arg,
	};

	return cli_parse(&c, argc, argv, status);
}

int cmd_sig(int argc, char **argv)
{
	struct key_opts ko = {0};
	struct ob_err err = {0};
	struct ecfs_keychain ck;
	char hex[ECFS_SIG_HEX];
	int status;
	int i = parse_simple(argc, argv, &ko, "ecfs sig", NULL,
			     "usage: ecfs sig [KEY OPTIONS]\n\n"
			     "Print the key signature of a passphrase, as ecryptfs-add-passphrase does;\n"
			     "with --fnek also the filename key's signature on a second line.\n",
			     NULL, &status);

	if (i < 0)
		return status;
	if (i != argc)
		return EXIT_USAGE;
	if (cli_keys_load(&ko, NULL, 0, &ck, &err)) {
		cli_error(NULL, &err);
		return EXIT_FAIL;
	}
	ecfs_sig_to_hex(ecfs_keyset_get(ck.keys, 0)->sig, hex);
	printf("%s\n", hex);
	if (ko.fnek) {
		ecfs_sig_to_hex(ecfs_fnek_sig(ck.write_fnek), hex);
		printf("%s\n", hex);
	}
	ecfs_keychain_free(&ck);
	return EXIT_OK;
}

static int read_small_file(const char *path, uint8_t *buf, size_t cap, size_t *len,
			   struct ob_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return ob_err_set(err, -errno, "open");
	n = read(fd, buf, cap);
	close(fd);
	if (n < 0)
		return ob_err_set(err, -errno, "read");
	*len = (size_t)n;
	return 0;
}

/* v1 files carry no salt: it is the rc salt, or the default. */
static int v1_salt(const struct key_opts *ko, uint8_t salt[ECFS_SALT_BYTES], struct ob_err *err)
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

int cmd_unwrap(int argc, char **argv)
{
	struct key_opts ko = {0};
	struct ob_err err = {0};
	uint8_t file[128], salt[ECFS_SALT_BYTES];
	char path[PATH_MAX], *pass = NULL;
	struct secret login;
	size_t len = 0;
	int rc, i, status;

	i = parse_simple(argc, argv, &ko, "ecfs unwrap", NULL,
			 "usage: ecfs unwrap [KEY OPTIONS] [WRAPPED_FILE]\n\n"
			 "Print the mount passphrase stored in a wrapped-passphrase file (default\n"
			 "~/.ecryptfs/wrapped-passphrase), unwrapped with the login password read\n"
			 "through the key options.  Version 1 files use salt= from ~/.ecryptfsrc.\n",
			 NULL, &status);
	if (i < 0)
		return status;
	if (argc - i > 1)
		return EXIT_USAGE;
	cli_wrapped_path(i < argc ? argv[i] : NULL, path, sizeof(path));
	rc = read_small_file(path, file, sizeof(file), &len, &err);
	if (!rc)
		rc = v1_salt(&ko, salt, &err);
	if (rc) {
		cli_error(path, &err);
		return EXIT_FAIL;
	}
	rc = secret_read(&ko.src, "Login password: ", &login, &err);
	if (rc) {
		cli_error(NULL, &err);
		return EXIT_FAIL;
	}
	pass = ob_secure_alloc(ECFS_MAX_PASSPHRASE + 1);
	rc = pass ? ecfs_wrapped_unwrap(file, len, login.buf, login.len, salt, pass, &err)
		  : ob_err_set(&err, -ENOMEM, "allocating locked memory");
	secret_free(&login);
	if (rc)
		cli_error(path, &err);
	else
		printf("%s\n", pass);
	ob_secure_free(pass);
	return rc ? EXIT_FAIL : EXIT_OK;
}

int cmd_wrap(int argc, char **argv)
{
	struct key_opts ko = {0};
	struct ob_err err = {0};
	struct secret mount_pass = {0}, login = {0};
	const char *mp_file = NULL;
	uint8_t out[ECFS_WRAPPED_MAX], salt[ECFS_SALT_BYTES];
	char path[PATH_MAX], tmp[PATH_MAX + 16];
	size_t len;
	int rc, i, fd, status;

	i = parse_simple(argc, argv, &ko, "ecfs wrap", wrap_opts,
			 "usage: ecfs wrap --mount-passphrase-file F [KEY OPTIONS] [WRAPPED_FILE]\n\n"
			 "Write the mount passphrase (from F, '-' = stdin) wrapped with the login\n"
			 "password (key options) to WRAPPED_FILE (default\n"
			 "~/.ecryptfs/wrapped-passphrase), in version 2 as ecryptfs-wrap-passphrase.\n",
			 &mp_file, &status);
	if (i < 0)
		return status;
	if (argc - i > 1 || !mp_file) {
		cli_msg("wrap: expected --mount-passphrase-file F [WRAPPED_FILE]");
		return EXIT_USAGE;
	}
	cli_wrapped_path(i < argc ? argv[i] : NULL, path, sizeof(path));
	struct secret_source mp_src = { .file = mp_file };

	rc = secret_read(&mp_src, "Mount passphrase: ", &mount_pass, &err);
	if (!rc)
		rc = secret_read(&ko.src, "Login password: ", &login, &err);
	if (!rc)
		rc = getrandom(salt, sizeof(salt), 0) == (ssize_t)sizeof(salt) ? 0 :
		     ob_err_set(&err, -EIO, "getrandom");
	if (!rc)
		rc = ecfs_wrapped_wrap(mount_pass.buf, mount_pass.len, login.buf, login.len,
				       salt, out, &len, &err);
	secret_free(&mount_pass);
	secret_free(&login);
	if (rc) {
		cli_error(path, &err);
		return EXIT_FAIL;
	}
	/* As ecryptfs-utils: a private temp file, fsync, rename. */
	snprintf(tmp, sizeof(tmp), "%s-XXXXXX", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0 || fchmod(fd, 0600) || write(fd, out, len) != (ssize_t)len || fsync(fd)) {
		ob_err_set(&err, -errno, "writing %s", fd < 0 ? "a temporary file" : tmp);
		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		cli_error(path, &err);
		return EXIT_FAIL;
	}
	close(fd);
	if (rename(tmp, path)) {
		ob_err_set(&err, -errno, "rename");
		unlink(tmp);
		cli_error(path, &err);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}
