/* cmd-unwrap-passphrase.c - "ecfs unwrap-passphrase", as
 * ecryptfs-unwrap-passphrase: print the mount passphrase kept in a
 * wrapped-passphrase file (v1 or v2, spec §10.2), or the share password in
 * a Synology .key file (recognised by its fixed wrapping signature and
 * unwrapped without asking, legacy §1.4).
 */
#include "cli.h"
#include "legacy-cli.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ob/secmem.h"

static const char unwrap_help[] =
	"usage: ecfs unwrap-passphrase [OPTIONS] [FILE]\n\n"
	"Print the MOUNT passphrase stored in FILE (default ~/.ecryptfs/wrapped-passphrase),\n"
	"unwrapped with your LOGIN password, as ecryptfs-unwrap-passphrase does.  Reads\n"
	"version 1 and 2 files.  A Synology .key file is recognised and unwrapped with\n"
	"DSM's fixed passphrase: the output is the shared folder's password.\n\n"
	"  --login-password-file F  read the login (wrapping) password from F ('-' = stdin)\n"
	"  --login-extpass CMD      ... from the output of CMD (default: ask on the terminal)\n"
	"  --salt HEX               version-1 salt (default: salt= of ~/.ecryptfsrc, else\n"
	"                           0011223344556677)\n"
	"  --ecryptfsrc F           read salt= from F\n"
	"  -h, --help               this help\n";

int cmd_unwrap_passphrase(int argc, char **argv)
{
	enum { O_LOGIN = 1, O_LOGIN_EXT };
	static const struct option opts[] = {
		{ "login-password-file", required_argument, NULL, O_LOGIN },
		{ "login-extpass", required_argument, NULL, O_LOGIN_EXT },
		{ "salt", required_argument, NULL, KEY_OPT_BASE + 2 },
		{ "ecryptfsrc", required_argument, NULL, KEY_OPT_BASE + 3 },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct key_opts ko = {0};
	struct secret_source login = {0};
	struct ob_err err = {0};
	char path[PATH_MAX], *pass;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == O_LOGIN)
			login.file = optarg;
		else if (c == O_LOGIN_EXT)
			login.extpass = optarg;
		else if (c >= KEY_OPT_BASE)
			key_opts_handle(&ko, c, optarg);
		else if (c == 'h') {
			fputs(unwrap_help, stdout);
			return EXIT_OK;
		} else
			goto usage;
	}
	if (argc - optind > 1)
		goto usage;
	cli_wrapped_path(optind < argc ? argv[optind] : NULL, path, sizeof(path));
	pass = ob_secure_alloc(ECFS_MAX_PASSPHRASE + 1);
	if (!pass) {
		cli_msg("out of locked memory");
		return EXIT_FAIL;
	}
	rc = lc_unwrap_file(path, &login, &ko, "Login password: ", pass, &err);
	if (rc) {
		cli_error(path, &err);
		if (rc == -ENOENT)
			cli_msg("the file lives in ~/.ecryptfs (on 9.10+ homes: "
				"/home/.ecryptfs/USER/.ecryptfs, on 9.04: /var/lib/ecryptfs/USER)");
	} else {
		printf("%s\n", pass);
	}
	ob_secure_free(pass);
	return rc ? EXIT_FAIL : EXIT_OK;
usage:
	cli_msg("unwrap-passphrase: bad command line (see 'ecfs unwrap-passphrase --help')");
	return EXIT_USAGE;
}
