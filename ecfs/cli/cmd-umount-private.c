// SPDX-License-Identifier: MIT
/* cmd-umount-private.c - "ecfs umount-private", as ecryptfs-umount-private:
 * unmount the directory named in ~/.ecryptfs/Private.mnt.
 */
#include "cli.h"
#include "legacy-cli.h"

#include <string.h>

static const struct ob_opt umount_private_opts[] = {
	{ "home", 0, 'H', "DIR", NULL, 0 },
	{ OB_OPT_END },
};

int cmd_umount_private(int argc, char **argv)
{
	const char *home = NULL, *alias = NULL;
	struct ob_err err = {0};
	struct lc_private p;
	char *uargv[4];
	const struct cli_cmd cmd = {
		.prog = "ecfs umount-private",
		.help = "usage: ecfs umount-private [--home DIR] [ALIAS]\n\n"
			"Unmount the encrypted private directory (the path in\n"
			"~/.ecryptfs/ALIAS.mnt, default ~/Private), as ecryptfs-umount-private.\n",
		.own = umount_private_opts, .fn = cli_opt_value, .ctx = &home,
	};
	int first, rc;

	first = cli_parse(&cmd, argc, argv, &rc);
	if (first < 0)
		return rc;
	if (argc - first > 1) {
		cli_msg("umount-private: unexpected '%s' (see 'ecfs umount-private --help')",
			argv[first + 1]);
		return EXIT_USAGE;
	}
	if (first < argc)
		alias = argv[first];
	if (lc_private_paths(home, alias, &p, &err)) {
		cli_error(NULL, &err);
		return EXIT_FAIL;
	}
	uargv[0] = "umount";
	uargv[1] = p.mnt;
	uargv[2] = NULL;
	return cmd_umount(2, uargv);
}
