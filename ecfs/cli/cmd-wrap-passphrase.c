// SPDX-License-Identifier: MIT
/* cmd-wrap-passphrase.c - "ecfs wrap-passphrase", as
 * ecryptfs-wrap-passphrase: wrap a mount passphrase with the login password
 * into a version-2 file (spec §10.2): ':' 0x02, a random salt, the wrapping
 * signature, AES-128-ECB of the zero-padded passphrase.  Written to a
 * private temp file, fsynced and renamed over FILE, as ecryptfs-utils does.
 */
#include "cli.h"
#include "legacy-cli.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "ob/secmem.h"

static const char wrap_help[] =
	"usage: ecfs wrap-passphrase [OPTIONS] [FILE]\n\n"
	"Write the MOUNT passphrase, wrapped with your LOGIN password, to FILE (default\n"
	"~/.ecryptfs/wrapped-passphrase) in the version-2 format ecryptfs-wrap-passphrase\n"
	"writes (ecryptfs-utils 106 and later read it).\n\n"
	"  --passphrase-file F      the mount passphrase ('-' = stdin)\n"
	"  --extpass CMD            ... from the output of CMD (default: ask)\n"
	"  --login-password-file F  the login (wrapping) password\n"
	"  --login-extpass CMD      ... from the output of CMD (default: ask)\n"
	"  --wrapping-salt HEX      16 hex digits instead of a random salt (reproducible\n"
	"                           files, tests)\n"
	"  -h, --help               this help\n";

/* Shared with rewrap-passphrase: wrap pass with login into path. */
int lc_wrap_to_file(const char *path, const char *pass, size_t pass_len,
		    const char *login, size_t login_len, const char *salt_hex,
		    struct ob_err *err)
{
	uint8_t out[ECFS_WRAPPED_MAX], salt[ECFS_SALT_BYTES];
	size_t len;
	int rc;

	if (salt_hex) {
		if (ecfs_sig_from_hex(salt_hex, salt))
			return ob_err_set(err, -EINVAL, "--wrapping-salt must be 16 hex digits");
	} else if (getrandom(salt, sizeof(salt), 0) != (ssize_t)sizeof(salt)) {
		return ob_err_set(err, -EIO, "getrandom failed");
	}
	rc = ecfs_wrapped_wrap(pass, pass_len, login, login_len, salt, out, &len, err);
	if (!rc)
		rc = lc_write_atomic(path, out, len, 0600, err);
	return rc;
}

enum { O_LOGIN = 1, O_LOGIN_EXT, O_SALT };

static const struct ob_opt wrap_opts[] = {
	{ "passphrase-file", 0, KO_PASSFILE, "F", NULL, OB_OPT_EXACT },
	{ "extpass", 0, KO_EXTPASS, "CMD", NULL, OB_OPT_EXACT },
	{ "login-password-file", 0, O_LOGIN, "F", NULL, OB_OPT_EXACT },
	{ "login-extpass", 0, O_LOGIN_EXT, "CMD", NULL, OB_OPT_EXACT },
	{ "wrapping-salt", 0, O_SALT, "HEX", NULL, 0 },
	{ OB_OPT_END },
};

struct wrap_args {
	struct key_opts ko;
	struct secret_source login_src;
	const char *salt_hex;
};

static int wrap_opt(const struct ob_cmd *cmd, const struct ob_opt *opt, const char *arg,
		    void *ctx)
{
	struct wrap_args *a = ctx;

	if (opt->key == O_LOGIN)
		a->login_src.file = arg;
	else if (opt->key == O_LOGIN_EXT)
		a->login_src.extpass = arg;
	else if (opt->key == O_SALT)
		a->salt_hex = arg;
	else
		return key_opts_handle(&a->ko, opt->key, arg);
	return 0;
}

int cmd_wrap_passphrase(int argc, char **argv)
{
	struct wrap_args a = {0};
	const struct cli_cmd cmd = {
		.prog = "ecfs wrap-passphrase", .help = wrap_help, .own = wrap_opts,
		.fn = wrap_opt, .ctx = &a,
	};
	struct key_opts *kop = &a.ko;
	struct secret_source *login_src = &a.login_src;
	struct secret mp = {0}, login = {0};
	struct ob_err err = {0};
	const char *salt_hex;
	char path[PATH_MAX];
	int first, rc;

	first = cli_parse(&cmd, argc, argv, &rc);
	if (first < 0)
		return rc;
	salt_hex = a.salt_hex;
	if (argc - first > 1)
		goto usage;
	cli_wrapped_path(first < argc ? argv[first] : NULL, path, sizeof(path));
	rc = secret_read(&kop->src, "Mount passphrase to wrap: ", &mp, &err);
	if (!rc && mp.len > ECFS_MAX_PASSPHRASE)
		rc = ob_err_set(&err, -EINVAL, "the mount passphrase is longer than %d bytes",
				ECFS_MAX_PASSPHRASE);
	if (!rc)
		rc = secret_read(login_src, "Login password (wrapping passphrase): ", &login, &err);
	if (!rc)
		rc = lc_wrap_to_file(path, mp.buf, mp.len, login.buf, login.len, salt_hex, &err);
	secret_free(&mp);
	secret_free(&login);
	if (rc) {
		cli_error(path, &err);
		return EXIT_FAIL;
	}
	return EXIT_OK;
usage:
	cli_msg("wrap-passphrase: bad command line (see 'ecfs wrap-passphrase --help')");
	return EXIT_USAGE;
}
