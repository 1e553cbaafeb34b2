/* SPDX-License-Identifier: MIT */
/*
 * main.c - the blkd program: picks the command.
 *
 *   blkd serve [OPTION]... FILE...     serve each FILE (or memory:SIZE, nbd:URI,
 *                                      or mpath: the --path options); serve.c
 *   blkd ctl SOCKET COMMAND...         talk to a running server's control
 *                                      socket; ctl-client.c
 *
 * Usage errors exit 2, runtime failures 1.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "server.h"

int main(int argc, char **argv)
{
	if (argc < 2)
		return blkd_usage_error("expected a command: serve or ctl");
	if (!strcmp(argv[1], "serve"))
		return blkd_cmd_serve(argc - 1, argv + 1);
	if (!strcmp(argv[1], "ctl"))
		return blkd_cmd_ctl(argc - 1, argv + 1);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		blkd_usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("blkd %s\n", BLKD_VERSION);
		return 0;
	}
	return blkd_usage_error("unknown command '%s' (expected serve or ctl)", argv[1]);
}

