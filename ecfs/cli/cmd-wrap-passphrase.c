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

int cmd_wrap_passphrase(int argc, char **argv)
{
	enum { O_LOGIN = 1, O_LOGIN_EXT, O_SALT };
	static const struct option opts[] = {
		{ "passphrase-file", required_argument, NULL, KEY_OPT_BASE },
		{ "extpass", required_argument, NULL, KEY_OPT_BASE + 1 },
		{ "login-password-file", required_argument, NULL, O_LOGIN },
		{ "login-extpass", required_argument, NULL, O_LOGIN_EXT },
		{ "wrapping-salt", required_argument, NULL, O_SALT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct key_opts ko = {0};
	struct secret_source login_src = {0};
	struct secret mp = {0}, login = {0};
	struct ob_err err = {0};
	const char *salt_hex = NULL;
	char path[PATH_MAX];
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == O_LOGIN)
			login_src.file = optarg;
		else if (c == O_LOGIN_EXT)
			login_src.extpass = optarg;
		else if (c == O_SALT)
			salt_hex = optarg;
		else if (c >= KEY_OPT_BASE)
			key_opts_handle(&ko, c, optarg);
		else if (c == 'h') {
			fputs(wrap_help, stdout);
			return EXIT_OK;
		} else
			goto usage;
	}
	if (argc - optind > 1)
		goto usage;
	cli_wrapped_path(optind < argc ? argv[optind] : NULL, path, sizeof(path));
	rc = secret_read(&ko.src, "Mount passphrase to wrap: ", &mp, &err);
	if (!rc && mp.len > ECFS_MAX_PASSPHRASE)
		rc = ob_err_set(&err, -EINVAL, "the mount passphrase is longer than %d bytes",
				ECFS_MAX_PASSPHRASE);
	if (!rc)
		rc = secret_read(&login_src, "Login password (wrapping passphrase): ", &login, &err);
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
