// SPDX-License-Identifier: MIT
/* xattr.c - extended attributes pass through to the lower object, except
 * user.ecryptfs: that one holds a file's metadata in xattr mode (§6), so
 * it is hidden from listings and cannot be read, set or removed through
 * the mount.  POSIX ACL xattrs are refused: the kernel checks permissions
 * from the mode bits (default_permissions) and would not enforce them.
 *
 * Security labels (security.selinux, .SMACK64*, .apparmor) are refused
 * too, with EOPNOTSUPP.  A running LSM answers for its own label without
 * asking the filesystem, so such a request only reaches us when no LSM
 * uses that label here; lower labels would then be meaningless.  It also
 * matters for speed: ls -l asks for security.selinux on every file unless
 * the filesystem says "not supported" once (coreutils caches that per
 * device); that was one round trip per name of every ls -l.
 */
#include "ecfs-fuse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

static bool hidden(const char *name)
{
	return !strcmp(name, ECFS_XATTR_NAME);
}

static bool refused(const char *name)
{
	return !strncmp(name, "system.posix_acl_", 17) ||
	       !strcmp(name, "security.selinux") || !strncmp(name, "security.SMACK64", 16) ||
	       !strcmp(name, "security.apparmor");
}

/*
 * The kernel asks for security.capability before every write() and chown
 * of a file (to drop file capabilities), and FUSE gives no way to tell it
 * once that there are none: a tar extract sends about four per file.  We
 * remember per inode that the lower file has none until a setxattr or
 * removexattr through the mount (the lower tree does not change behind
 * the mount, fs.c), and answer those from memory.
 */
static bool is_caps(const char *name)
{
	return !strcmp(name, "security.capability");
}

static bool caps_known_absent(struct ef_inode *ino)
{
	bool absent;

	pthread_mutex_lock(&ino->m);
	absent = ino->no_caps;
	pthread_mutex_unlock(&ino->m);
	return absent;
}

static void caps_absent(struct ef_inode *ino, bool absent)
{
	pthread_mutex_lock(&ino->m);
	ino->no_caps = absent;
	pthread_mutex_unlock(&ino->m);
}

struct get_args {
	const char *name;
	void *buf;
	size_t size;
};

static ssize_t get_fd(int fd, void *arg)
{
	struct get_args *a = arg;

	return fgetxattr(fd, a->name, a->buf, a->size);
}

static ssize_t get_path(const char *path, void *arg)
{
	struct get_args *a = arg;

	return getxattr(path, a->name, a->buf, a->size);
}

void ef_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct ef_inode *inode = ef_inode(req, ino);
	char *buf = NULL;
	ssize_t n;

	if (hidden(name) || refused(name)) {
		fuse_reply_err(req, hidden(name) ? ENODATA : EOPNOTSUPP);
		return;
	}
	if (is_caps(name) && caps_known_absent(inode)) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	if (size && !(buf = malloc(size))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = ef_lower_call(ef_fs(req), inode, get_fd, get_path,
			  &(struct get_args){ name, buf, size });
	if (n == -ENODATA && is_caps(name))
		caps_absent(inode, true);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else if (size)
		fuse_reply_buf(req, buf, (size_t)n);
	else
		fuse_reply_xattr(req, (size_t)n);
	free(buf);
}

void ef_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char path[64], *buf, *out, *p;
	ssize_t n;
	size_t len = 0;

	ef_procpath(path, ef_inode(req, ino)->fd);
	n = listxattr(path, NULL, 0);
	if (n < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	buf = malloc((size_t)n + 1);
	out = malloc((size_t)n + 1);
	if (!buf || !out) {
		fuse_reply_err(req, ENOMEM);
		goto out;
	}
	n = listxattr(path, buf, (size_t)n);
	if (n < 0) {
		fuse_reply_err(req, errno == ERANGE ? EAGAIN : errno);
		goto out;
	}
	for (p = buf; p < buf + n; p += strlen(p) + 1) {
		if (hidden(p) || refused(p))
			continue;
		memcpy(out + len, p, strlen(p) + 1);
		len += strlen(p) + 1;
	}
	if (!size)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, out, len);
out:
	free(buf);
	free(out);
}

void ef_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		    const char *value, size_t size, int flags)
{
	char path[64];

	if (ef_fs(req)->ro) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (hidden(name) || refused(name)) {
		fuse_reply_err(req, hidden(name) ? EPERM : EOPNOTSUPP);
		return;
	}
	caps_absent(ef_inode(req, ino), false);
	ef_procpath(path, ef_inode(req, ino)->fd);
	fuse_reply_err(req, setxattr(path, name, value, size, flags) ? errno : 0);
}

void ef_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	char path[64];

	if (ef_fs(req)->ro) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (hidden(name) || refused(name)) {
		fuse_reply_err(req, hidden(name) ? EPERM : EOPNOTSUPP);
		return;
	}
	caps_absent(ef_inode(req, ino), false);
	ef_procpath(path, ef_inode(req, ino)->fd);
	fuse_reply_err(req, removexattr(path, name) ? errno : 0);
}
