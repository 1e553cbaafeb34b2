/* SPDX-License-Identifier: MIT */
/* cmd-mount.h - the front end of a mount, shared by "ecfs mount", "ecfs
 * recover" and "ecfs mount-private": the parsed command line, the -o
 * options, and starting the FUSE mount (ecfs/fuse) with a key chain.
 */
#ifndef ECFS_CMD_MOUNT_H
#define ECFS_CMD_MOUNT_H

#include "cli.h"
#include "../fuse/ecfs-mount.h"

struct mount_args {
	struct ef_opts o;		/* what the FUSE mount gets */
	struct key_opts ko;		/* where its secrets come from */
	char *owned[64];		/* strdup'd -o strings the pointers above use */
	int nowned;
};

/* Defaults of every mount option. */
void mount_args_init(struct mount_args *a);
void mount_args_free(struct mount_args *a);

/* mount-opts.c: parse "-o a,b=c" into a.  Returns 0, or -1 after printing
 * a message that names the offending option. */
int mount_opts_parse(struct mount_args *a, const char *list);
void mount_opts_print_help(FILE *out);

/* Check and settle a->o, go to the background unless a->o.foreground, read
 * the secrets a->ko names and mount.  Returns the exit status: in the
 * background case once the daemon reports the mount in place (or failed);
 * the daemon itself never returns. */
int cli_mount(struct mount_args *a);

/* "ecfs mount" with argv (argv[0] is "mount"), the passphrase pass and the
 * filename passphrase fnek_pass (each NULL when argv names the keys) given
 * in memory instead of by file: recover and mount-private. */
int cli_mount_argv(int argc, char **argv, const char *pass, const char *fnek_pass);

#endif
