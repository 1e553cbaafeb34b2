/* cmd-rewrap-passphrase.c - "ecfs rewrap-passphrase", as
 * ecryptfs-rewrap-passphrase: after a login password change made outside
 * pam_ecryptfs, unwrap with the old password and wrap again with the new
 * one.  The result is always version 2 (a version-1 file is upgraded, as
 * pam_ecryptfs does at login), with a new random salt.
 */
#include "cli.h"
#include "legacy-cli.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ob/secmem.h"

static const char rewrap_help[] =
	"usage: ecfs rewrap-passphrase [OPTIONS] [FILE]\n\n"
	"Change the LOGIN password that wraps FILE (default ~/.ecryptfs/wrapped-passphrase),\n"
	"as ecryptfs-rewrap-passphrase does; the mount passphrase inside stays the same.\n"
	"The file is rewritten in version 2.\n\n"
	"  --login-password-file F      the old login password ('-' = stdin)\n"
	"  --login-extpass CMD          ... from the output of CMD (default: ask)\n"
	"  --new-login-password-file F  the new login password\n"
	"  --new-login-extpass CMD      ... from the output of CMD (default: ask twice)\n"
	"  --wrapping-salt HEX          16 hex digits instead of a random salt\n"
	"  --salt HEX, --ecryptfsrc F   version-1 salt of the old file\n"
	"  -h, --help                   this help\n";

int cmd_rewrap_passphrase(int argc, char **argv)
{
	enum { O_OLD = 1, O_OLD_EXT, O_NEW, O_NEW_EXT, O_WSALT };
	static const struct option opts[] = {
		{ "login-password-file", required_argument, NULL, O_OLD },
		{ "login-extpass", required_argument, NULL, O_OLD_EXT },
		{ "new-login-password-file", required_argument, NULL, O_NEW },
		{ "new-login-extpass", required_argument, NULL, O_NEW_EXT },
		{ "wrapping-salt", required_argument, NULL, O_WSALT },
		{ "salt", required_argument, NULL, KEY_OPT_BASE + 2 },
		{ "ecryptfsrc", required_argument, NULL, KEY_OPT_BASE + 3 },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct key_opts ko = {0};
	struct secret_source old_src = {0}, new_src = {0};
	struct secret nw = {0}, again = {0};
	struct ob_err err = {0};
	const char *wsalt = NULL;
	char path[PATH_MAX], *pass;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_OLD: old_src.file = optarg; break;
		case O_OLD_EXT: old_src.extpass = optarg; break;
		case O_NEW: new_src.file = optarg; break;
		case O_NEW_EXT: new_src.extpass = optarg; break;
		case O_WSALT: wsalt = optarg; break;
		case 'h':
			fputs(rewrap_help, stdout);
			return EXIT_OK;
		default:
			if (c >= KEY_OPT_BASE) {
				key_opts_handle(&ko, c, optarg);
				break;
			}
			goto usage;
		}
	}
	if (argc - optind > 1)
		goto usage;
	cli_wrapped_path(optind < argc ? argv[optind] : NULL, path, sizeof(path));
	pass = ob_secure_alloc(ECFS_MAX_PASSPHRASE + 1);
	if (!pass) {
		cli_msg("out of locked memory");
		return EXIT_FAIL;
	}
	rc = lc_unwrap_file(path, &old_src, &ko, "Old login password: ", pass, &err);
	if (!rc)
		rc = secret_read(&new_src, "New login password: ", &nw, &err);
	if (!rc && !new_src.file && !new_src.extpass) {
		rc = secret_read(&new_src, "New login password again: ", &again, &err);
		if (!rc && (again.len != nw.len || memcmp(again.buf, nw.buf, nw.len)))
			rc = ob_err_set(&err, -EINVAL, "the new passwords differ; nothing changed");
		secret_free(&again);
	}
	if (!rc)
		rc = lc_wrap_to_file(path, pass, strlen(pass), nw.buf, nw.len, wsalt, &err);
	secret_free(&nw);
	ob_secure_free(pass);
	if (rc) {
		cli_error(path, &err);
		return EXIT_FAIL;
	}
	return EXIT_OK;
usage:
	cli_msg("rewrap-passphrase: bad command line (see 'ecfs rewrap-passphrase --help')");
	return EXIT_USAGE;
}
