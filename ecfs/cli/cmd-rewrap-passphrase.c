// SPDX-License-Identifier: MIT
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

enum { O_OLD = 1, O_OLD_EXT, O_NEW, O_NEW_EXT, O_WSALT };

static const struct ob_opt rewrap_opts[] = {
	{ "login-password-file", 0, O_OLD, "F", NULL, OB_OPT_EXACT },
	{ "login-extpass", 0, O_OLD_EXT, "CMD", NULL, OB_OPT_EXACT },
	{ "new-login-password-file", 0, O_NEW, "F", NULL, OB_OPT_EXACT },
	{ "new-login-extpass", 0, O_NEW_EXT, "CMD", NULL, OB_OPT_EXACT },
	{ "wrapping-salt", 0, O_WSALT, "HEX", NULL, 0 },
	{ "salt", 0, KO_SALT, "HEX", NULL, 0 },
	{ "ecryptfsrc", 0, KO_RC, "F", NULL, 0 },
	{ OB_OPT_END },
};

struct rewrap_args {
	struct key_opts ko;
	struct secret_source old_src, new_src;
	const char *wsalt;
};

static int rewrap_opt(const struct ob_cmd *cmd, const struct ob_opt *opt, const char *arg,
		      void *ctx)
{
	struct rewrap_args *a = ctx;

	switch (opt->key) {
	case O_OLD: a->old_src.file = arg; break;
	case O_OLD_EXT: a->old_src.extpass = arg; break;
	case O_NEW: a->new_src.file = arg; break;
	case O_NEW_EXT: a->new_src.extpass = arg; break;
	case O_WSALT: a->wsalt = arg; break;
	default: return key_opts_handle(&a->ko, opt->key, arg);
	}
	return 0;
}

int cmd_rewrap_passphrase(int argc, char **argv)
{
	struct rewrap_args a = {0};
	const struct cli_cmd cmd = {
		.prog = "ecfs rewrap-passphrase", .help = rewrap_help, .own = rewrap_opts,
		.fn = rewrap_opt, .ctx = &a,
	};
	struct key_opts *kop = &a.ko;
	struct secret_source old_src, new_src;
	struct secret nw = {0}, again = {0};
	struct ob_err err = {0};
	const char *wsalt;
	char path[PATH_MAX], *pass;
	int first, rc;

	first = cli_parse(&cmd, argc, argv, &rc);
	if (first < 0)
		return rc;
	old_src = a.old_src;
	new_src = a.new_src;
	wsalt = a.wsalt;
	if (argc - first > 1)
		goto usage;
	cli_wrapped_path(first < argc ? argv[first] : NULL, path, sizeof(path));
	pass = ob_secure_alloc(ECFS_MAX_PASSPHRASE + 1);
	if (!pass) {
		cli_msg("out of locked memory");
		return EXIT_FAIL;
	}
	rc = lc_unwrap_file(path, &old_src, kop, "Old login password: ", pass, &err);
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
