/* mount.c - "ecfs mount" and "ecfs umount": options, keys, the mount-time
 * checks, going to the background, and the FUSE session.
 *
 * Order of work, so that every failure is reported on the terminal with an
 * exit status, never later as EIO:
 *   1. parse argv and -o (opts.c); resolve the cipher and name cipher;
 *   2. without -f: fork; the parent waits on a pipe and exits 0 once the
 *      child says "mounted", or with the child's status.  The child keeps
 *      the terminal until then (passphrase prompt, error messages).  We
 *      fork before any key exists because mlock()ed key memory is not
 *      locked in a child;
 *   3. lock all memory as it is touched (mlockall with MCL_ONFAULT), so
 *      the key schedules OpenSSL keeps in its own heap never reach swap
 *      either; best effort (it needs the memlock limit, which root has);
 *      read the passphrase(s), derive every key (the only key derivation
 *      of the mount's life), choose the keys for new files and names;
 *   4. the key check (probe.c);
 *   5. fuse_session_new + mount; then detach (setsid, stdio to /dev/null,
 *      logs to syslog) and run the multi-threaded loop;
 *   6. on unmount (fusermount3 -u, ecfs umount, SIGTERM) free everything
 *      and exit 0, so sanitizers can account for every byte.
 *
 * The mount(8) form: "mount -t fuse.ecfs LOWER MNT -o opts" runs
 * mount.fuse3, which runs "ecfs LOWER MNT -o opts" (or our own helper
 * mount.fuse.ecfs, which runs "ecfs mount ...").  cmd_mount accepts both
 * argv shapes and ignores the helper flags -n, -v, -s and -t TYPE.
 */
#include "ecfs-fuse.h"
#include "../cli/cli-opts.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/mman.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
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

struct mount_ctx {
	struct ef_opts o;
	struct ef_fs fs;
	int root_fd;
	int notify_fd;		/* background: pipe to the waiting parent */
};

/* -------------------------------------------------------- background */

/* Fork; the parent returns only to exit with the child's verdict. */
static int background_fork(struct mount_ctx *c)
{
	int pfd[2];
	pid_t pid;
	char ok;

	if (pipe2(pfd, O_CLOEXEC)) {
		cli_msg("pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		cli_msg("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		close(pfd[0]);
		c->notify_fd = pfd[1];
		return 0;
	}
	close(pfd[1]);
	if (read(pfd[0], &ok, 1) == 1 && ok == 0)
		_exit(EXIT_OK);
	for (;;) {
		int st;

		if (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			continue;
		_exit(WIFEXITED(st) && WEXITSTATUS(st) ? WEXITSTATUS(st) : EXIT_FAIL);
	}
}

/* Mounted: tell the parent, leave the terminal. */
static void background_detach(struct mount_ctx *c)
{
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
	c->fs.use_syslog = true;
	if (write(c->notify_fd, &ok, 1) != 1)
		(void)0;
	close(c->notify_fd);
	c->notify_fd = -1;
}

/* ------------------------------------------------------------- setup */

static int parse_argv(struct mount_ctx *c, int argc, char **argv)
{
	static const struct option own[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct option opts[OPT_TABLE_MAX];
	int ch;

	opt_table(opts, own, 1);
	optind = 1;
	/* '+' would stop at LOWER; mount.fuse3 puts -o after the paths. */
	while ((ch = getopt_long(argc, argv, "fdho:nvst:", opts, NULL)) != -1) {
		int k = key_opts_handle(&c->o.ko, ch, optarg);

		if (k > 0)
			continue;
		if (k < 0)
			return EXIT_USAGE;
		switch (ch) {
		case 'f':
			c->o.foreground = true;
			break;
		case 'd':
			c->o.foreground = c->o.debug = true;
			break;
		case 'o':
			if (ef_opts_parse(&c->o, optarg))
				return EXIT_USAGE;
			break;
		case 'n': case 'v': case 's': case 't':
			break;		/* mount(8) helper flags */
		case 'h':
			fputs(mount_help, stdout);
			ef_opts_print_help(stdout);
			printf("\n%s", key_opts_help);
			return EXIT_OK;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 2) {
		cli_msg("mount: expected LOWER and MOUNTPOINT (see 'ecfs mount --help')");
		return EXIT_USAGE;
	}
	c->o.lower = argv[optind];
	c->o.mnt = argv[optind + 1];
	return -1;	/* go on */
}

/* Cipher choices and cross-option rules (the config-complete step). */
static int settle_options(struct mount_ctx *c, const struct ecfs_cipher_info **fn_ci,
			  size_t *fn_kb)
{
	struct ef_opts *o = &c->o;
	struct ef_fs *fs = &c->fs;
	const char *name = o->cipher_name ? o->cipher_name : "aes";

	fs->cipher = ecfs_cipher_by_name(name, o->key_bytes);
	if (!fs->cipher) {
		cli_msg("ecryptfs_cipher=%s with a %zu-byte key: not a cipher eCryptfs knows",
			name, o->key_bytes);
		return -1;
	}
	fs->key_bytes = o->key_bytes ? o->key_bytes : fs->cipher->key_default;
	*fn_kb = o->fn_key_bytes ? o->fn_key_bytes : fs->key_bytes;
	*fn_ci = ecfs_cipher_by_name(o->fn_cipher_name ? o->fn_cipher_name : name, *fn_kb);
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
	fs->o = o;
	fs->ro = o->ro;
	fs->xattr = o->xattr_metadata;
	fs->passthrough = o->passthrough;
	fs->view = o->encrypted_view;
	fs->new_files = o->new_files;
	fs->timeout = o->timeout;
	fs->is_root = geteuid() == 0;
	return 0;
}

/* Keys: read and derive; pick the write keys and the name key. */
static int load_keys(struct mount_ctx *c, const struct ecfs_cipher_info *fn_ci, size_t fn_kb)
{
	struct ef_opts *o = &c->o;
	struct ef_fs *fs = &c->fs;
	struct ob_err err = {0};
	char hex[ECFS_SIG_HEX];

	if (o->nokey)
		return 0;
	o->ko.lower = o->lower;		/* its key dir: escrow key, policy */
	if (cli_keys_load(&o->ko, fn_ci, fn_kb, &fs->ck, &err)) {
		cli_error(NULL, &err);
		return -1;
	}
	fs->wrap_keys = fs->ck.keys;
	if (o->nsigs) {
		fs->wrap_keys = ecfs_keyset_new();
		fs->wrap_keys_owned = true;
		if (!fs->wrap_keys) {
			cli_msg("out of memory");
			return -1;
		}
		for (int i = 0; i < o->nsigs; i++) {
			const struct ecfs_key *k = ecfs_keyset_find(fs->ck.keys, o->sigs[i]);

			ecfs_sig_to_hex(o->sigs[i], hex);
			if (!k) {
				cli_msg("ecryptfs_sig=%s: no passphrase given makes this key "
					"(add --extra-passphrase-file?)", hex);
				return -1;
			}
			ecfs_keyset_add(fs->wrap_keys, k);
		}
	}
	fs->fnek = fs->ck.write_fnek;
	if (o->fnek_sig_set) {
		fs->fnek = NULL;
		for (size_t i = 0; i < fs->ck.nfneks && !fs->fnek; i++)
			if (!memcmp(ecfs_fnek_sig(fs->ck.fneks[i]), o->fnek_sig, ECFS_SIG_BYTES))
				fs->fnek = fs->ck.fneks[i];
		if (!fs->fnek) {
			ecfs_sig_to_hex(o->fnek_sig, hex);
			cli_msg("ecryptfs_fnek_sig=%s: neither filename key of this passphrase "
				"(--fnek salt or the content key) has this signature", hex);
			return -1;
		}
	}
	return 0;
}

static int open_lower(struct mount_ctx *c)
{
	struct stat st;

	c->root_fd = open(c->o.lower, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (c->root_fd < 0 || fstat(c->root_fd, &st)) {
		cli_msg("%s: %s", c->o.lower, strerror(errno));
		return -1;
	}
	if (c->o.check_dev_ruid && st.st_uid != getuid()) {
		cli_msg("%s: ecryptfs_check_dev_ruid: owned by uid %u, not by you (%u)",
			c->o.lower, (unsigned)st.st_uid, (unsigned)getuid());
		return -1;
	}
	if (ef_lower_lock(&c->fs, c->o.lower, c->root_fd, c->o.ro))
		return -1;
	if (ef_table_init(&c->fs, c->root_fd, &st)) {
		cli_msg("out of memory");
		return -1;
	}
	c->root_fd = -1;	/* the table owns it now */
	return 0;
}

/* Raise the fd limit: one O_PATH fd per inode the kernel holds. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* "fsname=LOWER", with libfuse's escapes for ',' and '\\'. */
static int fsname_opt(char **fo, const char *lower)
{
	char *buf = malloc(strlen("fsname=") + 2 * strlen(lower) + 1), *p;
	int rc;

	if (!buf)
		return -1;
	p = buf + sprintf(buf, "fsname=");
	for (; *lower; lower++) {
		if (*lower == ',' || *lower == '\\')
			*p++ = '\\';
		*p++ = *lower;
	}
	*p = '\0';
	rc = fuse_opt_add_opt(fo, buf);
	free(buf);
	return rc;
}

/*
 * default_permissions makes the kernel check mode bits itself, which is
 * what lets other users in safely.  Its price: the kernel re-reads the
 * parent directory's attributes (a GETATTR round trip) before every
 * create, unlink, mkdir or rename after the directory changed, about one
 * request in sixteen of a tar extract and one in two of an rm -rf.  A mount
 * by root without allow_other is reachable by root alone, which passes
 * every such check anyway (the kernel still checks exec bits of regular
 * files without it), so that mount does without.
 */
static bool kernel_checks_permissions(const struct mount_ctx *c)
{
	return c->o.allow_other || geteuid() != 0;
}

static int run_session(struct mount_ctx *c)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_loop_config *cfg = NULL;
	char *fo = NULL;
	int rc = EXIT_FAIL, lrc;

	if (fuse_opt_add_arg(&args, ECFS_PROG) ||
	    fuse_opt_add_opt(&fo, "subtype=ecfs") ||
	    (kernel_checks_permissions(c) && fuse_opt_add_opt(&fo, "default_permissions")) ||
	    fsname_opt(&fo, c->o.lower))
		goto out_args;
	if ((c->o.ro && fuse_opt_add_opt(&fo, "ro")) ||
	    (c->o.allow_other && fuse_opt_add_opt(&fo, "allow_other")) ||
	    (c->o.allow_root && fuse_opt_add_opt(&fo, "allow_root")) ||
	    (c->o.fuse_opts[0] && fuse_opt_add_opt(&fo, c->o.fuse_opts + 1)) ||
	    fuse_opt_add_arg(&args, "-o") || fuse_opt_add_arg(&args, fo) ||
	    (c->o.debug && fuse_opt_add_arg(&args, "-d")))
		goto out_args;
	c->fs.se = fuse_session_new(&args, &ef_ops, sizeof(ef_ops), &c->fs);
	if (!c->fs.se)
		goto out_args;		/* libfuse said why */
	if (fuse_set_signal_handlers(c->fs.se))
		goto out_session;
	/* for readahead.c; once mounted, resolving would ask this daemon */
	c->fs.mnt_path = realpath(c->o.mnt, NULL);
	if (fuse_session_mount(c->fs.se, c->o.mnt)) {
		cli_msg("%s: could not mount (see the message above)", c->o.mnt);
		goto out_signals;
	}
	if (ef_wire_install(c->fs.se, &c->fs, c->o.spin_us, !c->o.no_uring)) {
		cli_msg("%s: could not hook the FUSE device", c->o.mnt);
		goto out_unmount;
	}
	if (!c->o.foreground)
		background_detach(c);
	if (c->o.singlethread) {
		lrc = fuse_session_loop(c->fs.se);
	} else {
		cfg = fuse_loop_cfg_create();
		if (!cfg)
			goto out_unmount;
		fuse_loop_cfg_set_max_threads(cfg, 16);
		fuse_loop_cfg_set_idle_threads(cfg, 8);
		lrc = fuse_session_loop_mt(c->fs.se, cfg);
		fuse_loop_cfg_destroy(cfg);
	}
	ef_ring_stop();
	rc = lrc == 0 || lrc == -EINTR || lrc == SIGTERM || lrc == SIGINT ? EXIT_OK : EXIT_FAIL;
out_unmount:
	fuse_session_unmount(c->fs.se);
out_signals:
	fuse_remove_signal_handlers(c->fs.se);
out_session:
	fuse_session_destroy(c->fs.se);
	c->fs.se = NULL;
	free(c->fs.mnt_path);
	c->fs.mnt_path = NULL;
out_args:
	free(fo);
	fuse_opt_free_args(&args);
	return rc;
}

/* Lock every page the daemon touches from now on.  Our key objects are in
 * locked memory already; this covers OpenSSL's expanded key schedules and
 * the plaintext passing through the I/O buffers.  MCL_ONFAULT locks pages
 * as they are used, so reserved but untouched memory costs nothing. */
static void lock_all_memory(void)
{
	(void)mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT);
}

int cmd_mount(int argc, char **argv)
{
	struct mount_ctx c = { .root_fd = -1, .notify_fd = -1 };
	const struct ecfs_cipher_info *fn_ci = NULL;
	size_t fn_kb = 0;
	int rc;

	c.o.new_files = -1;
	c.o.timeout = 1.0;
	c.o.spin_us = 50;
	c.o.readahead_kb = 1024;
	rc = parse_argv(&c, argc, argv);
	if (rc >= 0)
		goto out_opts;
	rc = EXIT_FAIL;
	if (settle_options(&c, &fn_ci, &fn_kb)) {
		rc = EXIT_USAGE;
		goto out_opts;
	}
	if (!c.o.foreground && background_fork(&c))
		goto out_opts;
	lock_all_memory();
	if (load_keys(&c, fn_ci, fn_kb) || open_lower(&c))
		goto out_keys;
	if (ef_probe_keys(&c.fs, c.fs.root.fd))
		goto out_table;
	raise_nofile();
	umask(0);		/* the kernel applied the caller's umask already */
	rc = run_session(&c);
out_table:
	ef_table_destroy(&c.fs);
	close(c.fs.root.fd);
out_keys:
	ef_lower_unlock(&c.fs);
	if (c.root_fd >= 0)
		close(c.root_fd);
	if (c.fs.wrap_keys_owned)
		ecfs_keyset_free(c.fs.wrap_keys);
	if (!c.o.nokey)
		cli_keys_free(&c.fs.ck);
	if (c.fs.use_syslog)
		closelog();
out_opts:
	ef_opts_free(&c.o);
	return rc;
}

/* ------------------------------------------------------------ umount */

int cmd_umount(int argc, char **argv)
{
	bool lazy = false;
	const char *mnt = NULL;
	pid_t pid;
	int st;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-z") || !strcmp(argv[i], "--lazy")) {
			lazy = true;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("usage: ecfs umount [-z|--lazy] MOUNTPOINT\n\n"
			       "Unmount an ecfs mount (fusermount3 -u); the daemon then exits.\n"
			       "  -z, --lazy   detach now even if the mount is busy\n");
			return EXIT_OK;
		} else if (!mnt && argv[i][0] != '-') {
			mnt = argv[i];
		} else {
			cli_msg("umount: unexpected '%s' (see 'ecfs umount --help')", argv[i]);
			return EXIT_USAGE;
		}
	}
	if (!mnt) {
		cli_msg("umount: expected MOUNTPOINT");
		return EXIT_USAGE;
	}
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
		return EXIT_OK;
	/* No fusermount3 (or it refused): root can unmount directly. */
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127 && geteuid() == 0) {
		if (umount2(mnt, lazy ? MNT_DETACH : 0) == 0)
			return EXIT_OK;
		cli_msg("umount: %s: %s", mnt, strerror(errno));
	}
	return EXIT_FAIL;
}
