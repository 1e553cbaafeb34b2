// SPDX-License-Identifier: MIT
/* fs.c - the filesystem as libfuse sees it: connection setup, statfs,
 * logging, and the ops table (at the bottom).
 *
 * Kernel settings (init): 1 MiB writes and readahead; no writeback cache
 * (the kernel writes through, so the size in every header is current and
 * O_APPEND stays atomic); POSIX and flock locks left to the kernel (no
 * lock ops, so it handles them locally); HANDLE_KILLPRIV_V2 and
 * PARALLEL_DIROPS, which libfuse 3.14 cannot negotiate (wire.c), so we
 * drop suid/sgid for the kernel.  Permissions: the kernel checks mode bits
 * (default_permissions) except on a root-only mount, where access(2) comes
 * here instead (mount.c says why).
 *
 * Round trips are what a small-file workload pays for (perf: the daemon's
 * time goes to waking and switching, not to crypto), so the readers poll
 * for the next request before they sleep (wire.c) and the ops avoid
 * extra ones and make the unavoidable ones cheap: security.capability
 * answered from memory and security labels refused (xattr.c, so ls -l
 * asks once per mount, not per file), attributes set on the open lower fd
 * (inode.c), large writes start their own writeback (file.c).
 *
 * No flush op: writes reach the lower file before we reply, so there is
 * nothing to do at close(); libfuse answers ENOSYS once and the kernel then
 * stops sending FLUSH, one round trip less per close.
 *
 * What is left is the kernel's to decide (bench/fuse-request-mix, Linux
 * 6.18): tar -x sends 12.9 requests per file, 4.6 WRITE (tar writes 10 KiB
 * records and without a writeback cache each write(2) is one), 3.1 SETATTR
 * (times, owner, mode), 2 GETXATTR of security.capability (before the
 * first write, since CREATE's attributes clear S_NOSEC, and before every
 * chown, which asks whatever S_NOSEC says; both answered from memory,
 * xattr.c), and one each of LOOKUP (the negative one before CREATE),
 * CREATE and RELEASE.  Python's open() adds an IOCTL (isatty), which the
 * kernel sends again for every file whatever the answer.  ls -lR of a
 * fresh mount is two READDIRPLUS per directory and no LOOKUP.  perf of the
 * daemon during a tar -x through /dev/fuse: 27% of its time is being woken
 * in read(), 18% waking tar in the reply's write, 3% crypto.
 *
 * Known gaps (deliberate, for now):
 *   - no writeback cache: every write is a FUSE request (up to 1 MiB);
 *     reads keep their page cache across opens (keep_cache);
 *   - readdir hides names made with a filename key we do not have; the
 *     kernel stops the listing there instead;
 *   - no lseek (SEEK_DATA/SEEK_HOLE see one data extent: there are no
 *     holes in an eCryptfs file anyway) and no copy_file_range (the kernel
 *     falls back to reads and writes);
 *   - the lower tree must not change behind the mount (sizes are cached),
 *     the rule the kernel's eCryptfs has too (§12 item 23);
 *   - POSIX ACL xattrs are refused (permissions are the mode bits).
 */
#include "ecfs-fuse.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/statvfs.h>
#include <syslog.h>
#include <unistd.h>

static void vlog(struct ef_fs *fs, struct ef_inode *ino, const char *fmt, va_list ap)
{
	char path[64], lower[4096], msg[512];
	ssize_t n;

	ef_procpath(path, ino->fd);
	n = readlink(path, lower, sizeof(lower) - 1);
	if (n < 0)
		n = snprintf(lower, sizeof(lower), "(lower inode %llu)",
			     (unsigned long long)ino->ino);
	lower[n] = '\0';
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (fs->use_syslog)
		syslog(LOG_ERR, "%s: %s", lower, msg);
	else
		fprintf(stderr, "%s: %s: %s\n", EF_PROG, lower, msg);
}

void ef_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ob_msgv(EF_PROG, fmt, ap);
	va_end(ap);
}

void ef_log(struct ef_fs *fs, struct ef_inode *ino, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(fs, ino, fmt, ap);
	va_end(ap);
}

void ef_log_once(struct ef_fs *fs, struct ef_inode *ino, const char *fmt, ...)
{
	va_list ap;
	bool first;

	pthread_mutex_lock(&fs->tlock);	/* m may be held by the caller */
	first = !ino->logged;
	ino->logged = true;
	pthread_mutex_unlock(&fs->tlock);
	if (!first)
		return;
	va_start(ap, fmt);
	vlog(fs, ino, fmt, ap);
	va_end(ap);
}

static void ef_init(void *userdata, struct fuse_conn_info *conn)
{
	conn->max_write = EF_IO_MAX;
	conn->max_readahead = EF_IO_MAX;
	conn->want &= ~(unsigned)(FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_HANDLE_KILLPRIV |
				  FUSE_CAP_FLOCK_LOCKS | FUSE_CAP_POSIX_LOCKS);
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
}

static void ef_destroy(void *userdata)
{
	/* Inodes are freed by the caller of the session (mount.c), after the
	 * loop has stopped, so nothing is in flight. */
}

/*
 * access(2): asked only when the kernel does not check permissions itself
 * (a root-only mount, mount.c).  The daemon is root then, so checking the
 * lower object with our own credentials is what root's check would be:
 * everything but X_OK on a file without an exec bit.
 */
static void ef_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	char path[64];

	ef_procpath(path, ef_inode(req, ino)->fd);
	fuse_reply_err(req, faccessat(AT_FDCWD, path, mask, AT_EACCESS) ? errno : 0);
}

static void ef_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct ef_fs *fs = ef_fs(req);
	struct statvfs st;

	if (fstatvfs(ef_inode(req, ino)->fd, &st)) {
		fuse_reply_err(req, errno);
		return;
	}
	/* The kernel's ecryptfs_set_f_namelen(): 143 when names are encrypted. */
	if (fs->fnek)
		st.f_namemax = ECFS_NAME_MAX;
	fuse_reply_statfs(req, &st);
}

const struct fuse_lowlevel_ops ef_ops = {
	.init		= ef_init,
	.destroy	= ef_destroy,
	.lookup		= ef_op_lookup,
	.forget		= ef_op_forget,
	.forget_multi	= ef_op_forget_multi,
	.getattr	= ef_op_getattr,
	.setattr	= ef_op_setattr,
	.readlink	= ef_op_readlink,
	.mknod		= ef_op_mknod,
	.mkdir		= ef_op_mkdir,
	.unlink		= ef_op_unlink,
	.rmdir		= ef_op_rmdir,
	.symlink	= ef_op_symlink,
	.rename		= ef_op_rename,
	.link		= ef_op_link,
	.open		= ef_op_open,
	.read		= ef_op_read,
	.write		= ef_op_write,
	.release	= ef_op_release,
	.fsync		= ef_op_fsync,
	.opendir	= ef_op_opendir,
	.readdir	= ef_op_readdir,
	.readdirplus	= ef_op_readdirplus,
	.releasedir	= ef_op_releasedir,
	.fsyncdir	= ef_op_fsyncdir,
	.statfs		= ef_statfs,
	.access		= ef_access,
	.setxattr	= ef_op_setxattr,
	.getxattr	= ef_op_getxattr,
	.listxattr	= ef_op_listxattr,
	.removexattr	= ef_op_removexattr,
	.create		= ef_op_create,
	.fallocate	= ef_op_fallocate,
};
