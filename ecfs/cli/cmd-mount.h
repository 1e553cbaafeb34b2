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
	struct ecfs_keychain *kc;	/* or keys made already (recover,
					 * mount-private): ko is not read */
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
 * the secrets a->ko names (unless a->kc is set) and mount.  Returns the exit
 * status: in the background case once the daemon reports the mount in place
 * (or failed); the daemon itself never returns.  A given a->kc must have
 * been made for the name cipher the options settle on (cli_mount_fn_cipher);
 * the mount takes its keys (the caller frees what is left: nothing after a
 * foreground mount, its own copy after a background one). */
int cli_mount(struct mount_args *a);

/* The name cipher and key length a mount with these -o values settles on
 * (ecryptfs_cipher, _key_bytes, _fn_cipher, _fn_key_bytes; NULL/0 = unset):
 * what a key chain handed to cli_mount is made for.  NULL if none. */
const struct ecfs_cipher_info *cli_mount_fn_cipher(const char *cipher, size_t key_bytes,
						   const char *fn_cipher, size_t fn_key_bytes,
						   size_t *fn_kb);

/* Lock every page of this process, present and future (best effort):
 * before any key is made, so that OpenSSL's key schedules are locked too.
 * A child made by fork() must call it again. */
void cli_lock_memory(void);

/* "ecfs mount" with argv (argv[0] is "mount") and the key chain kc made
 * already (NULL when argv names the keys): recover and mount-private. */
int cli_mount_argv(int argc, char **argv, struct ecfs_keychain *kc);

#endif
