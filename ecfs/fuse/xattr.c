/* xattr.c - extended attributes pass through to the lower object, except
 * user.ecryptfs: that one holds a file's metadata in xattr mode (§6), so
 * it is hidden from listings and cannot be read, set or removed through
 * the mount.  POSIX ACL xattrs are refused: the kernel checks permissions
 * from the mode bits (default_permissions) and would not enforce them.
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
	return !strncmp(name, "system.posix_acl_", 17);
}

void ef_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	char path[64], *buf = NULL;
	ssize_t n;

	if (hidden(name) || refused(name)) {
		fuse_reply_err(req, hidden(name) ? ENODATA : EOPNOTSUPP);
		return;
	}
	ef_procpath(path, ef_inode(req, ino)->fd);
	if (size && !(buf = malloc(size))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = getxattr(path, name, buf, size);
	if (n < 0)
		fuse_reply_err(req, errno);
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
	ef_procpath(path, ef_inode(req, ino)->fd);
	fuse_reply_err(req, removexattr(path, name) ? errno : 0);
}
