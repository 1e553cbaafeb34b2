/* SPDX-License-Identifier: MIT */
/* ecfs-mount.h - what the FUSE mount offers its front end: the options of
 * one mount, parsed, and the one entry point that serves it.
 *
 * The front end (ecfs/cli) parses the command line, reads the secrets,
 * builds the key chain and goes to the background; this layer checks the
 * keys against the lower tree and serves it.  Nothing here reads a secret
 * or parses an argument.
 */
#ifndef ECFS_MOUNT_H
#define ECFS_MOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ecfs.h"
#include "ecfs-keychain.h"

#define EF_MAX_SIGS	8

/* What to do with new regular files (new_files=). */
enum ef_new_files {
	EF_NEW_ENCRYPT,		/* encrypted with the mount keys (the kernel's way) */
	EF_NEW_PLAIN,		/* plaintext lower files (needs ecryptfs_passthrough) */
	EF_NEW_DENY,		/* EACCES: e.g. a nokey mount */
};

/* Mount options, parsed once by the front end (cli/mount-opts.c,
 * cli/cmd-mount.c); read-only after mount time. */
struct ef_opts {
	const char *lower, *mnt;	/* as given */
	bool foreground, debug;
	bool ro, allow_other, allow_root;
	const char *cipher_name;	/* ecryptfs_cipher */
	size_t key_bytes;		/* ecryptfs_key_bytes, 0 = cipher default */
	const char *fn_cipher_name;	/* ecryptfs_fn_cipher, NULL = content cipher */
	size_t fn_key_bytes;		/* ecryptfs_fn_key_bytes, 0 = key_bytes */
	uint8_t sigs[EF_MAX_SIGS][ECFS_SIG_BYTES];	/* ecryptfs_sig */
	int nsigs;
	bool fnek_sig_set;
	uint8_t fnek_sig[ECFS_SIG_BYTES];		/* ecryptfs_fnek_sig */
	bool xattr_metadata, passthrough, encrypted_view, check_dev_ruid;
	bool nokey;
	int new_files;			/* enum ef_new_files, -1 = default */
	double timeout;			/* entry/attr timeout, seconds */
	unsigned spin_us;		/* poll window for the next request */
	bool spin_set;			/* spin= was given: also on battery */
	bool no_uring;			/* io_uring=off */
	bool no_colocate;		/* colocate=off */
	unsigned readahead_kb;		/* 0: the kernel's default */
	bool readahead_set;		/* readahead= was given */
	char fuse_opts[1024];		/* generic mount options for libfuse */
	/* settled by the front end from the above */
	const struct ecfs_cipher_info *cipher;	/* content cipher of new files */
	size_t cipher_key_bytes;		/* and its key size */
};

/* Called once the mount is in place, before requests are served: a front
 * end that goes to the background leaves the terminal here. */
typedef void (*ef_mounted_fn)(void *arg);

/* Serve o->lower at o->mnt until it is unmounted (fusermount3 -u, SIGTERM).
 * kc: the keys, taken (the mount wipes and frees them at the end; kc is
 * left empty); ignored for a nokey mount.  Without o->foreground, messages
 * after mounted() go to syslog.  Returns 0 after a clean unmount, or -1
 * after printing why the mount failed. */
int ef_mount_run(struct ef_opts *o, struct ecfs_keychain *kc, ef_mounted_fn mounted,
		 void *arg);

#endif
