// SPDX-License-Identifier: MIT
/* mount.c - one mount's life: the keys it was given, the lower directory,
 * the mount-time key check, the FUSE session, and the teardown.
 *
 * The front end (cli/cmd-mount.c) has parsed the options, gone to the
 * background and built the key chain; ef_mount_run takes it from there:
 *   1. pick the keys that wrap new files (ecryptfs_sig=) and the name key
 *      (ecryptfs_fnek_sig=, --fnek);
 *   2. open the lower directory and run the key check (probe.c);
 *   3. fuse_session_new + mount; tell the front end (it leaves the
 *      terminal then, logs go to syslog) and run the multi-threaded loop;
 *   4. on unmount (fusermount3 -u, ecfs umount, SIGTERM) free everything,
 *      so sanitizers can account for every byte.
 */
#include "ecfs-fuse.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <syslog.h>
#include <unistd.h>

struct mount_ctx {
	struct ef_opts *o;
	struct ef_fs fs;
	int root_fd;
	ef_mounted_fn mounted;
	void *mounted_arg;
};

/* Settled options into the mount's own copy of them. */
static void settle_fs(struct mount_ctx *c)
{
	struct ef_opts *o = c->o;
	struct ef_fs *fs = &c->fs;

	fs->cipher = o->cipher;
	fs->key_bytes = o->cipher_key_bytes;
	fs->o = o;
	fs->ro = o->ro;
	fs->xattr = o->xattr_metadata;
	fs->passthrough = o->passthrough;
	fs->view = o->encrypted_view;
	fs->new_files = o->new_files;
	fs->timeout = o->timeout;
	fs->is_root = geteuid() == 0;
}

/* Keys: take the chain; pick the write keys and the name key. */
static int choose_keys(struct mount_ctx *c, struct ecfs_keychain *kc)
{
	struct ef_opts *o = c->o;
	struct ef_fs *fs = &c->fs;
	char hex[ECFS_SIG_HEX];

	if (o->nokey)
		return 0;
	fs->ck = *kc;
	memset(kc, 0, sizeof(*kc));
	fs->wrap_keys = fs->ck.keys;
	if (o->nsigs) {
		fs->wrap_keys = ecfs_keyset_new();
		fs->wrap_keys_owned = true;
		if (!fs->wrap_keys) {
			ef_msg("out of memory");
			return -1;
		}
		for (int i = 0; i < o->nsigs; i++) {
			const struct ecfs_key *k = ecfs_keyset_find(fs->ck.keys, o->sigs[i]);

			ecfs_sig_to_hex(o->sigs[i], hex);
			if (!k) {
				ef_msg("ecryptfs_sig=%s: no passphrase given makes this key "
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
			ef_msg("ecryptfs_fnek_sig=%s: neither filename key of this passphrase "
				"(--fnek salt or the content key) has this signature", hex);
			return -1;
		}
	}
	return 0;
}

static int open_lower(struct mount_ctx *c)
{
	struct stat st;

	c->root_fd = open(c->o->lower, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (c->root_fd < 0 || fstat(c->root_fd, &st)) {
		ef_msg("%s: %s", c->o->lower, strerror(errno));
		return -1;
	}
	if (c->o->check_dev_ruid && st.st_uid != getuid()) {
		ef_msg("%s: ecryptfs_check_dev_ruid: owned by uid %u, not by you (%u)",
			c->o->lower, (unsigned)st.st_uid, (unsigned)getuid());
		return -1;
	}
	if (ef_lower_lock(&c->fs, c->o->lower, c->root_fd, c->o->ro))
		return -1;
	if (ef_table_init(&c->fs, c->root_fd, &st)) {
		ef_msg("out of memory");
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
	return c->o->allow_other || geteuid() != 0;
}

static int run_session(struct mount_ctx *c)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_loop_config *cfg = NULL;
	char *fo = NULL;
	int rc = -1, lrc;

	if (fuse_opt_add_arg(&args, EF_PROG) ||
	    fuse_opt_add_opt(&fo, "subtype=ecfs") ||
	    (kernel_checks_permissions(c) && fuse_opt_add_opt(&fo, "default_permissions")) ||
	    fsname_opt(&fo, c->o->lower))
		goto out_args;
	if ((c->o->ro && fuse_opt_add_opt(&fo, "ro")) ||
	    (c->o->allow_other && fuse_opt_add_opt(&fo, "allow_other")) ||
	    (c->o->allow_root && fuse_opt_add_opt(&fo, "allow_root")) ||
	    (c->o->fuse_opts[0] && fuse_opt_add_opt(&fo, c->o->fuse_opts + 1)) ||
	    fuse_opt_add_arg(&args, "-o") || fuse_opt_add_arg(&args, fo) ||
	    (c->o->debug && fuse_opt_add_arg(&args, "-d")))
		goto out_args;
	c->fs.se = fuse_session_new(&args, &ef_ops, sizeof(ef_ops), &c->fs);
	if (!c->fs.se)
		goto out_args;		/* libfuse said why */
	if (fuse_set_signal_handlers(c->fs.se))
		goto out_session;
	/* for readahead.c; once mounted, resolving would ask this daemon */
	c->fs.mnt_path = realpath(c->o->mnt, NULL);
	if (fuse_session_mount(c->fs.se, c->o->mnt)) {
		ef_msg("%s: could not mount (see the message above)", c->o->mnt);
		goto out_signals;
	}
	if (ef_wire_install(&c->fs.wire, c->fs.se, &c->fs, c->o->spin_us, !c->o->no_uring)) {
		ef_msg("%s: could not hook the FUSE device", c->o->mnt);
		goto out_unmount;
	}
	if (c->mounted)
		c->mounted(c->mounted_arg);
	c->fs.use_syslog = !c->o->foreground;
	cfg = fuse_loop_cfg_create();
	if (!cfg)
		goto out_wire;
	/* With colocation, max = idle: libfuse ends a worker when more than
	 * idle_threads wait and starts one when none does; serving threads
	 * that their caller preempts right after the reply make it do both
	 * hundreds of times a second, and each worker that waits is one more
	 * that may wake on a CPU the program has left.  Eight, for good. */
	fuse_loop_cfg_set_max_threads(cfg, c->fs.wire.coloc.enabled ? 8 : 16);
	fuse_loop_cfg_set_idle_threads(cfg, 8);
	lrc = fuse_session_loop_mt(c->fs.se, cfg);
	fuse_loop_cfg_destroy(cfg);
	rc = lrc == 0 || lrc == -EINTR || lrc == SIGTERM || lrc == SIGINT ? 0 : -1;
out_wire:
	ef_wire_stop(&c->fs.wire);
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

int ef_mount_run(struct ef_opts *o, struct ecfs_keychain *kc, ef_mounted_fn mounted,
		 void *arg)
{
	struct mount_ctx c = { .o = o, .root_fd = -1, .mounted = mounted, .mounted_arg = arg };
	struct ob_err err = {0};
	int rc = -1;

	settle_fs(&c);
	if (choose_keys(&c, kc) || open_lower(&c))
		goto out_keys;
	if (ef_probe_keys(&c.fs, c.fs.root.fd))
		goto out_table;
	raise_nofile();
	umask(0);		/* the kernel applied the caller's umask already */
	if (ecfs_crypt_helper_new(&c.fs.crypt, &err)) {
		ef_msg("%s", err.msg);
		goto out_table;
	}
	rc = run_session(&c);
	ecfs_crypt_helper_free(c.fs.crypt);
out_table:
	ef_dirs_close(&c.fs);
	ef_table_destroy(&c.fs);
	close(c.fs.root.fd);
out_keys:
	ef_lower_unlock(&c.fs);
	if (c.root_fd >= 0)
		close(c.root_fd);
	if (c.fs.wrap_keys_owned)
		ecfs_keyset_free(c.fs.wrap_keys);
	ecfs_keychain_free(&c.fs.ck);
	if (c.fs.use_syslog)
		closelog();
	return rc;
}
