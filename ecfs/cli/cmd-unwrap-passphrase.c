// SPDX-License-Identifier: MIT
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

enum { O_LOGIN = 1, O_LOGIN_EXT };

static const struct ob_opt unwrap_opts[] = {
	{ "login-password-file", 0, O_LOGIN, "F", NULL, OB_OPT_EXACT },
	{ "login-extpass", 0, O_LOGIN_EXT, "CMD", NULL, OB_OPT_EXACT },
	{ "salt", 0, KO_SALT, "HEX", NULL, 0 },
	{ "ecryptfsrc", 0, KO_RC, "F", NULL, 0 },
	{ OB_OPT_END },
};

struct unwrap_args {
	struct key_opts ko;
	struct secret_source login;
};

static int unwrap_opt(const struct ob_cmd *cmd, const struct ob_opt *opt, const char *arg,
		      void *ctx)
{
	struct unwrap_args *a = ctx;

	if (opt->key == O_LOGIN)
		a->login.file = arg;
	else if (opt->key == O_LOGIN_EXT)
		a->login.extpass = arg;
	else
		return key_opts_handle(&a->ko, opt->key, arg);
	return 0;
}

int cmd_unwrap_passphrase(int argc, char **argv)
{
	struct unwrap_args a = {0};
	const struct cli_cmd cmd = {
		.prog = "ecfs unwrap-passphrase", .help = unwrap_help, .own = unwrap_opts,
		.fn = unwrap_opt, .ctx = &a,
	};
	struct key_opts *kop = &a.ko;
	struct secret_source *login = &a.login;
	struct ob_err err = {0};
	char path[PATH_MAX], *pass;
	int first, rc;

	first = cli_parse(&cmd, argc, argv, &rc);
	if (first < 0)
		return rc;
	if (argc - first > 1)
		goto usage;
	cli_wrapped_path(first < argc ? argv[first] : NULL, path, sizeof(path));
	pass = ob_secure_alloc(ECFS_MAX_PASSPHRASE + 1);
	if (!pass) {
		cli_msg("out of locked memory");
		return EXIT_FAIL;
	}
	rc = lc_unwrap_file(path, login, kop, "Login password: ", pass, &err);
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
