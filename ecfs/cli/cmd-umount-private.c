// SPDX-License-Identifier: MIT
/* cmd-umount-private.c - "ecfs umount-private", as ecryptfs-umount-private:
 * unmount the directory named in ~/.ecryptfs/Private.mnt.
 */
#include "cli.h"
#include "legacy-cli.h"

#include <string.h>

int cmd_umount_private(int argc, char **argv)
{
	const char *home = NULL, *alias = NULL;
	struct ob_err err = {0};
	struct lc_private p;
	char *uargv[4];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("usage: ecfs umount-private [--home DIR] [ALIAS]\n\n"
			       "Unmount the encrypted private directory (the path in\n"
			       "~/.ecryptfs/ALIAS.mnt, default ~/Private), as ecryptfs-umount-private.\n");
			return EXIT_OK;
		} else if (!strcmp(argv[i], "--home") && i + 1 < argc) {
			home = argv[++i];
		} else if (!alias && argv[i][0] != '-') {
			alias = argv[i];
		} else {
			cli_msg("umount-private: unexpected '%s' (see 'ecfs umount-private --help')",
				argv[i]);
			return EXIT_USAGE;
		}
	}
	if (lc_private_paths(home, alias, &p, &err)) {
		cli_error(NULL, &err);
		return EXIT_FAIL;
	}
	uargv[0] = "umount";
	uargv[1] = p.mnt;
	uargv[2] = NULL;
	return cmd_umount(2, uargv);
}
