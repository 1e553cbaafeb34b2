// SPDX-License-Identifier: MIT
/* ecfs.c - the ecfs command: one table of subcommands, each in its own file.
 *
 * Offline subcommands work on lower files directly (no mount, no kernel);
 * "mount" serves a lower directory through FUSE.  Every subcommand takes
 * --help, exits 0 on success, 1 on failure (with one line per problem on
 * stderr naming the file and the reason), 2 on a bad command line.
 */
#include "cli.h"

#include <string.h>
#include <sys/stat.h>

#include "ob/secmem.h"

struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct subcommand subcommands[] = {
	{ "mount",   cmd_mount,   "mount an eCryptfs lower directory through FUSE" },
	{ "umount",  cmd_umount,  "unmount an ecfs mount" },
	{ "info",    cmd_info,    "show a lower file's header: version, flags, cipher, key signatures, size" },
	{ "decrypt", cmd_decrypt, "decrypt a lower file or tree" },
	{ "encrypt", cmd_encrypt, "encrypt a file or tree into lower files the kernel can read" },
	{ "ls",      cmd_ls,      "list a lower directory with plaintext names beside encrypted ones" },
	{ "sig",     cmd_sig,     "print the key signature(s) of a passphrase" },
	{ "unwrap",  cmd_unwrap,  "unwrap a wrapped-passphrase file (print the mount passphrase)" },
	{ "wrap",    cmd_wrap,    "write a wrapped-passphrase file (version 2)" },
	/* legacy eCryptfs workflows */
	{ "recover", cmd_recover, "find and mount an encrypted home, Private dir or NAS share (read-only)" },
	{ "unwrap-passphrase", cmd_unwrap_passphrase, "print the mount passphrase of a wrapped-passphrase or Synology .key file" },
	{ "wrap-passphrase", cmd_wrap_passphrase, "wrap a mount passphrase with the login password (ecryptfs-utils v2)" },
	{ "rewrap-passphrase", cmd_rewrap_passphrase, "change the login password that wraps the mount passphrase" },
	{ "fsck", cmd_fsck, "report every file and name of a lower tree that will not decrypt, and why" },
	{ "add-passphrase", cmd_add_passphrase, "put a passphrase's key into the kernel keyring (ecryptfs-add-passphrase)" },
	{ "setup-private", cmd_setup_private, "set up an encrypted ~/Private as ecryptfs-setup-private does" },
	{ "mount-private", cmd_mount_private, "mount ~/Private from ~/.ecryptfs (ecryptfs-mount-private)" },
	{ "umount-private", cmd_umount_private, "unmount ~/Private (ecryptfs-umount-private)" },
	{ "migrate-home", cmd_migrate_home, "encrypt a user's existing home (ecryptfs-migrate-home)" },
	/* keys beyond passphrases */
	{ "rekey", cmd_rekey, "add or remove keys in every header of a tree (no re-encryption)" },
	{ "escrow", cmd_escrow, "set up an escrow public key, or recover files with the escrow private key" },
	{ "keyfile", cmd_keyfile, "create, GPG-wrap, TPM-seal and unwrap key files; print key ids" },
};

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void usage(FILE *out)
{
	fprintf(out, "usage: ecfs COMMAND [OPTIONS] ...\n\n"
		"eCryptfs in userspace: read and write eCryptfs directories without the kernel module.\n\n"
		"Commands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(out, "  %-17s %s\n", subcommands[i].name, subcommands[i].summary);
	fprintf(out, "\nRun 'ecfs COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	/* Keys pass through this process: keep it out of core dumps. */
	ob_secure_process();
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (!strcmp(argv[1], subcommands[i].name))
			return subcommands[i].run(argc - 1, argv + 1);
	/* mount.fuse3 runs "ecfs LOWER MOUNTPOINT -o OPTIONS" for fuse.ecfs. */
	if (argc >= 3 && argv[1][0] != '-' && is_dir(argv[1]))
		return cmd_mount(argc, argv);
	cli_msg("unknown command '%s' (try 'ecfs --help')", argv[1]);
	return EXIT_USAGE;
}
