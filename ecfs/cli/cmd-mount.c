// SPDX-License-Identifier: MIT
/* cmd-mount.c - "ecfs mount" and "ecfs umount": the command line, going to
 * the background, the secrets; the mount itself is ecfs/fuse's
 * (ef_mount_run).
 *
 * Order of work, so that every failure is reported on the terminal with an
 * exit status, never later as EIO:
 *   1. parse argv and -o (mount-opts.c); resolve the cipher and name cipher;
 *   2. without -f: fork; the parent waits on a pipe and exits 0 once the
 *      child says "mounted", or with the child's status.  The child keeps
 *      the terminal until then (passphrase prompt, error messages).  We
 *      fork before any key exists because mlock()ed key memory is not
 *      locked in a child (recover and mount-private hand over a chain
 *      made before the fork: the child locks it again, step 3);
 *   3. lock all memory as it is touched (mlockall with MCL_ONFAULT), so
 *      the key schedules OpenSSL keeps in its own heap never reach swap
 *      either; best effort (it needs the memlock limit, which root has);
 *      read the passphrase(s), derive every key (the only key derivation
 *      of the mount's life), choose the keys for new files and names;
 *   4. ef_mount_run (fuse/mount.c): the key check (probe.c), then
 *      fuse_session_new + mount; then detach (background_detach: setsid,
 *      stdio to /dev/null, logs to syslog) and run the multi-threaded loop;
 *   5. on unmount (fusermount3 -u, ecfs umount, SIGTERM) free everything
 *      and exit 0, so sanitizers can account for every byte.
 *
 * The mount(8) form: "mount -t fuse.ecfs LOWER MNT -o opts" runs
 * mount.fuse3, which runs "ecfs LOWER MNT -o opts" (or our own helper
 * mount.fuse.ecfs, which runs "ecfs mount ...").  cmd_mount accepts both
 * argv shapes and ignores the helper flags -n, -v, -s and -t TYPE.
 */
#include "cmd-mount.h"
#include "legacy-cli.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

static const char mount_help[] =
	"usage: ecfs mount [KEY OPTIONS] [-f] [-o OPTIONS] LOWER MOUNTPOINT\n"
	"       mount -t fuse.ecfs LOWER MOUNTPOINT -o passphrase_file=F[,OPTIONS]\n\n"
	"Serve the eCryptfs lower directory LOWER, decrypted, read-write at MOUNTPOINT,\n"
	"exactly as the kernel's eCryptfs would: files written here are read by the\n"
	"kernel and the other way round.  Runs in the background unless -f is given;\n"
	"'ecfs umount MOUNTPOINT' (or fusermount3 -u) ends it.\n\n"
	"  -f, --foreground   stay in the foreground, log to stderr\n"
	"  -d, --debug        foreground, with libfuse's request log\n"
	"  -o OPTIONS         comma-separated mount options, below\n\n";

/* The pipe on which a background daemon tells the waiting parent. */
struct background {
	int notify_fd;
};

/* -------------------------------------------------------- background */

/* Fork.  The child returns 0 and goes on to mount; the parent returns 1
 * with *status the child's verdict: EXIT_OK once it says "mounted", else
 * its exit status.  -1 when there is no child. */
static int background_fork(struct background *bg, int *status)
{
	int pfd[2];
	pid_t pid;
	char ok;

	if (pipe2(pfd, O_CLOEXEC)) {
		cli_msg("pipe: %s", strerror(errno));
		return -1;
	}
	fflush(NULL);		/* or the daemon would write it again */
	pid = fork();
	if (pid < 0) {
		cli_msg("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		close(pfd[0]);
		bg->notify_fd = pfd[1];
		return 0;
	}
	close(pfd[1]);
	if (read(pfd[0], &ok, 1) == 1 && ok == 0) {
		close(pfd[0]);
		*status = EXIT_OK;
		return 1;
	}
	close(pfd[0]);
	for (;;) {
		int st;

		if (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			continue;
		*status = WIFEXITED(st) && WEXITSTATUS(st) ? WEXITSTATUS(st) : EXIT_FAIL;
		return 1;
	}
}

/* Mounted: tell the parent, leave the terminal. */
static void background_detach(void *arg)
{
	struct background *bg = arg;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	char ok = 0;

	(void)setsid();
	if (chdir("/"))
		(void)0;
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	openlog(ECFS_PROG, LOG_PID, LOG_DAEMON);
	if (write(bg->notify_fd, &ok, 1) != 1)
		(void)0;
	close(bg->notify_fd);
	bg->notify_fd = -1;
}

/* ------------------------------------------------------------- setup */

/* The mount(8) helper flags -n, -v, -s and -t TYPE are taken and ignored.
 * Operands may come first: mount.fuse3 puts -o after the paths. */
static const struct ob_opt mount_argv_opts[] = {
	{ "foreground", 'f', 'f', NULL, NULL, 0 },
	{ "debug", 'd', 'd', NULL, NULL, 0 },
	{ "options", 'o', 'o', "OPTIONS", NULL, 0 },
	{ "mount-n", 'n', 'n', NULL, NULL, OB_OPT_HIDDEN },
	{ "mount-v", 'v', 'v', NULL, NULL, OB_OPT_HIDDEN },
	{ "mount-s", 's', 's', NULL, NULL, OB_OPT_HIDDEN },
	{ "mount-t", 't', 't', "TYPE", NULL, OB_OPT_HIDDEN },
	{ OB_OPT_END },
};

static int mount_argv_opt(const struct ob_cmd *cmd, const struct ob_opt *opt, const char *arg,
			  void *ctx)
{
	struct mount_args *a = ctx;

	switch (opt->key) {
	case 'f':
		a->o.foreground = true;
		break;
	case 'd':
		a->o.foreground = a->o.debug = true;
		break;
	case 'o':
		if (mount_opts_parse(a, arg))
			return EXIT_USAGE;
		break;
	}
	return 0;
}

/* -1 to go on, else the exit status. */
static int parse_argv(struct mount_args *a, int argc, char **argv)
{
	const struct cli_cmd cmd = {
		.prog = "ecfs mount", .help = mount_help, .own = mount_argv_opts, .ko = &a->ko,
		.fn = mount_argv_opt, .ctx = a, .more_help = mount_opts_print_help,
	};
	int first, status;

	first = cli_parse(&cmd, argc, argv, &status);
	if (first < 0)
		return status;
	if (argc - first != 2) {
		cli_msg("mount: expected LOWER and MOUNTPOINT (see 'ecfs mount --help')");
		return EXIT_USAGE;
	}
	a->o.lower = argv[first];
	a->o.mnt = argv[first + 1];
	return -1;	/* go on */
}

const struct ecfs_cipher_info *cli_mount_fn_cipher(const char *cipher, size_t key_bytes,
						   const char *fn_cipher, size_t fn_key_bytes,
						   size_t *fn_kb)
{
	const char *name = cipher ? cipher : "aes";
	const struct ecfs_cipher_info *ci = ecfs_cipher_by_name(name, key_bytes);

	if (!ci)
		return NULL;
	*fn_kb = fn_key_bytes ? fn_key_bytes : key_bytes ? key_bytes : ci->key_default;
	return ecfs_cipher_by_name(fn_cipher ? fn_cipher : name, *fn_kb);
}

/* Cipher choices and cross-option rules (the config-complete step). */
static int settle_options(struct ef_opts *o, const struct ecfs_cipher_info **fn_ci,
			  size_t *fn_kb)
{
	const char *name = o->cipher_name ? o->cipher_name : "aes";

	o->cipher = ecfs_cipher_by_name(name, o->key_bytes);
	if (!o->cipher) {
		cli_msg("ecryptfs_cipher=%s with a %zu-byte key: not a cipher eCryptfs knows",
			name, o->key_bytes);
		return -1;
	}
	o->cipher_key_bytes = o->key_bytes ? o->key_bytes : o->cipher->key_default;
	*fn_ci = cli_mount_fn_cipher(name, o->key_bytes, o->fn_cipher_name, o->fn_key_bytes,
				     fn_kb);
	if (!*fn_ci) {
		cli_msg("ecryptfs_fn_cipher=%s with a %zu-byte key: not a cipher eCryptfs knows",
			o->fn_cipher_name ? o->fn_cipher_name : name, *fn_kb);
		return -1;
	}
	if (o->encrypted_view) {
		/* As the kernel: read-only; and it needs no key at all. */
		o->ro = true;
		o->nokey = true;
	}
	if (o->new_files < 0)
		o->new_files = o->nokey ? EF_NEW_DENY : EF_NEW_ENCRYPT;
	if (o->new_files == EF_NEW_PLAIN && !o->passthrough) {
		cli_msg("new_files=plain needs ecryptfs_passthrough (else they could not be read back)");
		return -1;
	}
	if (o->new_files == EF_NEW_ENCRYPT && o->nokey) {
		cli_msg("nokey: new files cannot be encrypted; use new_files=deny or plain");
		return -1;
	}
	return 0;
}

/* Lock every page the process touches from now on.  Our key objects are in
 * locked memory already; this covers OpenSSL's expanded key schedules and
 * the plaintext passing through the I/O buffers.  MCL_ONFAULT locks pages
 * as they are used, so reserved but untouched memory costs nothing. */
void cli_lock_memory(void)
{
	(void)mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT);
}

void mount_args_init(struct mount_args *a)
{
	memset(a, 0, sizeof(*a));
	a->o.new_files = -1;
	a->o.timeout = 1.0;
	a->o.spin_us = 50;
	a->o.readahead_kb = 1024;
}

void mount_args_free(struct mount_args *a)
{
	for (int i = 0; i < a->nowned; i++)
		free(a->owned[i]);
	a->nowned = 0;
}

/* The keys of the mount: made here from a->ko, or the chain handed over.
 * A chain made for another name cipher would pick no name key. */
static int mount_keys(struct mount_args *a, const struct ecfs_cipher_info *fn_ci,
		      size_t fn_kb, struct ecfs_keychain *kc)
{
	struct ob_err err = {0};

	if (a->kc) {
		if (a->kc->fn_cipher != fn_ci || a->kc->fn_key_bytes != fn_kb) {
			cli_msg("%s: the keys were made for another filename cipher", a->o.lower);
			return -1;
		}
		*kc = *a->kc;
		memset(a->kc, 0, sizeof(*a->kc));
		return 0;
	}
	a->ko.lower = a->o.lower;	/* its key dir: escrow key, policy */
	if (cli_keys_load(&a->ko, fn_ci, fn_kb, kc, &err)) {
		cli_error(NULL, &err);
		return -1;
	}
	return 0;
}

int cli_mount(struct mount_args *a)
{
	struct background bg = { .notify_fd = -1 };
	const struct ecfs_cipher_info *fn_ci = NULL;
	struct ecfs_keychain kc = {0};
	size_t fn_kb = 0;
	int rc = EXIT_FAIL;

	if (settle_options(&a->o, &fn_ci, &fn_kb))
		return EXIT_USAGE;
	if (!a->o.foreground) {
		/* A chain handed over exists in both processes from here on:
		 * the parent's caller wipes its copy, the daemon wipes its own
		 * on unmount.  mlock() is not inherited; cli_lock_memory()
		 * locks the daemon's copy again, first thing. */
		int forked = background_fork(&bg, &rc);

		if (forked)
			return forked < 0 ? EXIT_FAIL : rc;
	}
	cli_lock_memory();
	if (!a->o.nokey && mount_keys(a, fn_ci, fn_kb, &kc))
		goto out;
	rc = ef_mount_run(&a->o, &kc, a->o.foreground ? NULL : background_detach, &bg) ?
		EXIT_FAIL : EXIT_OK;
out:
	ecfs_keychain_free(&kc);
	if (!a->o.foreground) {
		/* The daemon: its caller's work is the parent's. */
		if (a->kc)
			ecfs_keychain_free(a->kc);
		mount_args_free(a);
		exit(rc);
	}
	return rc;
}

int cli_mount_argv(int argc, char **argv, struct ecfs_keychain *kc)
{
	struct mount_args a;
	int rc;

	mount_args_init(&a);
	rc = parse_argv(&a, argc, argv);
	if (rc < 0) {
		a.kc = kc;
		rc = cli_mount(&a);
	}
	mount_args_free(&a);
	return rc;
}

int cmd_mount(int argc, char **argv)
{
	return cli_mount_argv(argc, argv, NULL);
}

/* ------------------------------------------------------------ umount */

static const struct ob_opt umount_opts[] = {
	{ "lazy", 'z', 'z', NULL, NULL, 0 },
	{ OB_OPT_END },
};

int cmd_umount(int argc, char **argv)
{
	bool lazy = false;
	const struct cli_cmd cmd = {
		.prog = "ecfs umount",
		.help = "usage: ecfs umount [-z|--lazy] MOUNTPOINT\n\n"
			"Unmount an ecfs mount (fusermount3 -u); the daemon then exits.\n"
			"  -z, --lazy   detach now even if the mount is busy\n",
		.own = umount_opts, .fn = cli_opt_flag, .ctx = &lazy,
	};
	const char *mnt;
	pid_t pid;
	int first, st;

	first = cli_parse(&cmd, argc, argv, &st);
	if (first < 0)
		return st;
	if (argc - first > 1) {
		cli_msg("umount: unexpected '%s' (see 'ecfs umount --help')", argv[first + 1]);
		return EXIT_USAGE;
	}
	if (argc - first < 1) {
		cli_msg("umount: expected MOUNTPOINT");
		return EXIT_USAGE;
	}
	mnt = argv[first];
	pid = fork();
	if (pid == 0) {
		execlp("fusermount3", "fusermount3", lazy ? "-uz" : "-u", "--", mnt, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0) {
		cli_msg("umount: %s", strerror(errno));
		return EXIT_FAIL;
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		goto unmounted;
	/* No fusermount3 (or it refused): root can unmount directly. */
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127 && geteuid() == 0) {
		if (umount2(mnt, lazy ? MNT_DETACH : 0) == 0)
			goto unmounted;
		cli_msg("umount: %s: %s", mnt, strerror(errno));
	}
	return EXIT_FAIL;
unmounted:
	lc_remove_recover_dir(mnt);
	return EXIT_OK;
}
