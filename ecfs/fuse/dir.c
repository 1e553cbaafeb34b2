// SPDX-License-Identifier: MIT
/* dir.c - directory entries: readdir(plus), mkdir, mknod, symlink, link,
 * unlink, rmdir, rename, readlink.
 *
 * Everything here is the lower operation under the lower name: the
 * plaintext name encrypted with the mount's FNEK when filename encryption
 * is on (§7), unchanged otherwise.  Encrypted names are deterministic, so a
 * rename or link is one lower renameat2/linkat; no file content depends on
 * its name (§7.5).  Symlink targets are encrypted like names (§7.4).
 *
 * readdir hides lower names that do not decrypt (lost+found, names of a
 * key we lack); offsets are the lower directory's own, so hidden entries
 * do not disturb telldir/seekdir.
 */
#include "ecfs-fuse.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Reply with the entry of lname in parent. */
static void reply_entry(fuse_req_t req, struct ef_inode *parent, const char *lname)
{
	struct fuse_entry_param e;
	int rc = ef_do_lookup(ef_fs(req), parent, lname, &e);

	if (rc)
		fuse_reply_err(req, rc);
	else if (fuse_reply_entry(req, &e) == -ENOENT)
		ef_unref(ef_fs(req), (struct ef_inode *)(uintptr_t)e.ino, 1);
}

/* Reply with the entry of a freshly made lower object, which is the
 * caller's.  Only what the call made: a link's target keeps its owner. */
static void reply_new_entry(fuse_req_t req, struct ef_inode *parent, const char *lname)
{
	ef_chown_new(ef_fs(req), req, parent->fd, lname);
	reply_entry(req, parent, lname);
}

/* Common start of every op that makes or removes a name: the lower name,
 * or an error already replied (returns false). */
static bool lower_for(fuse_req_t req, const char *name, char *lname, size_t len,
		      bool modifies)
{
	struct ef_fs *fs = ef_fs(req);
	int rc = modifies && fs->ro ? EROFS : ef_lower_name(fs, name, lname, len);

	if (rc)
		fuse_reply_err(req, rc);
	return rc == 0;
}

void ef_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct ef_inode *dir = ef_inode(req, parent);
	char lname[ECFS_LOWER_NAME_MAX];

	if (!lower_for(req, name, lname, sizeof(lname), true))
		return;
	if (mkdirat(dir->fd, lname, mode & 07777)) {
		fuse_reply_err(req, errno);
		return;
	}
	reply_new_entry(req, dir, lname);
}

void ef_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		 mode_t mode, dev_t rdev)
{
	struct ef_fs *fs = ef_fs(req);
	struct ef_inode *dir = ef_inode(req, parent);
	char lname[ECFS_LOWER_NAME_MAX];

	if (S_ISREG(mode)) {
		/* A regular file still gets its header, as create does. */
		struct fuse_entry_param e;
		int rc = ef_create_file(fs, req, dir, name, mode, false, true, &e);

		if (rc)
			fuse_reply_err(req, rc);
		else if (fuse_reply_entry(req, &e) == -ENOENT)
			ef_unref(fs, (struct ef_inode *)(uintptr_t)e.ino, 1);
		return;
	}
	if (!lower_for(req, name, lname, sizeof(lname), true))
		return;
	if (mknodat(dir->fd, lname, mode, rdev)) {
		fuse_reply_err(req, errno);
		return;
	}
	reply_new_entry(req, dir, lname);
}

void ef_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		   const char *name)
{
	struct ef_fs *fs = ef_fs(req);
	struct ef_inode *dir = ef_inode(req, parent);
	char lname[ECFS_LOWER_NAME_MAX], ltarget[ECFS_LOWER_NAME_MAX];

	if (!lower_for(req, name, lname, sizeof(lname), true))
		return;
	if (fs->fnek) {
		ssize_t n = ecfs_target_encrypt(fs->fnek, link, strlen(link), ltarget,
						sizeof(ltarget), NULL);

		if (n < 0) {
			fuse_reply_err(req, (int)-n);
			return;
		}
	} else if (snprintf(ltarget, sizeof(ltarget), "%s", link) >= (int)sizeof(ltarget)) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	if (symlinkat(ltarget, dir->fd, lname)) {
		fuse_reply_err(req, errno);
		return;
	}
	reply_new_entry(req, dir, lname);
}

ssize_t ef_link_target(struct ef_fs *fs, struct ef_inode *ino, char *out, size_t len)
{
	char lower[PATH_MAX];
	ssize_t n = readlinkat(ino->fd, "", lower, sizeof(lower) - 1);

	if (n < 0)
		return -errno;
	lower[n] = '\0';
	/* Unprefixed targets (made with names off) are shown as they are. */
	if (fs->fnek && !strncmp(lower, ECFS_FNEK_PREFIX, strlen(ECFS_FNEK_PREFIX))) {
		n = ecfs_target_decrypt(fs->ck.fneks, fs->ck.nfneks, lower, out, len, NULL);
		return n < 0 ? -EIO : n;
	}
	if ((size_t)n >= len)
		return -ENAMETOOLONG;
	memcpy(out, lower, (size_t)n + 1);
	return n;
}

void ef_op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[PATH_MAX];
	ssize_t n = ef_link_target(ef_fs(req), ef_inode(req, ino), buf, sizeof(buf));

	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_readlink(req, buf);
}

void ef_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent, const char *name)
{
	struct ef_inode *inode = ef_inode(req, ino), *dir = ef_inode(req, parent);
	char lname[ECFS_LOWER_NAME_MAX], path[64];

	if (!lower_for(req, name, lname, sizeof(lname), true))
		return;
	ef_procpath(path, inode->fd);
	if (linkat(AT_FDCWD, path, dir->fd, lname, AT_SYMLINK_FOLLOW)) {
		fuse_reply_err(req, errno);
		return;
	}
	/* Same lower inode: the lookup finds it and takes the reference.  It
	 * is not new: nothing of it changes but its link count and ctime. */
	reply_entry(req, dir, lname);
}

static void remove_entry(fuse_req_t req, fuse_ino_t parent, const char *name, int flags)
{
	char lname[ECFS_LOWER_NAME_MAX];

	if (!lower_for(req, name, lname, sizeof(lname), true))
		return;
	fuse_reply_err(req, unlinkat(ef_inode(req, parent)->fd, lname, flags) ? errno : 0);
}

void ef_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_entry(req, parent, name, 0);
}

void ef_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_entry(req, parent, name, AT_REMOVEDIR);
}

void ef_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		  fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	char lname[ECFS_LOWER_NAME_MAX], lnew[ECFS_LOWER_NAME_MAX];

	if (!lower_for(req, name, lname, sizeof(lname), true) ||
	    !lower_for(req, newname, lnew, sizeof(lnew), true))
		return;
	if (renameat2(ef_inode(req, parent)->fd, lname, ef_inode(req, newparent)->fd,
		      lnew, flags))
		fuse_reply_err(req, errno);
	else
		fuse_reply_err(req, 0);
}

/* ------------------------------------------------------------- readdir */

struct ef_dir {
	DIR *dp;
	struct dirent *entry;	/* read but not yet returned */
	off_t offset;
	struct ef_dir *prev, *next;	/* fs->open_dirs, under fs->tlock */
};

static void dir_link(struct ef_fs *fs, struct ef_dir *d)
{
	pthread_mutex_lock(&fs->tlock);
	d->prev = NULL;
	d->next = fs->open_dirs;
	if (d->next)
		d->next->prev = d;
	fs->open_dirs = d;
	pthread_mutex_unlock(&fs->tlock);
}

static void dir_close(struct ef_fs *fs, struct ef_dir *d)
{
	pthread_mutex_lock(&fs->tlock);
	if (d->prev)
		d->prev->next = d->next;
	else
		fs->open_dirs = d->next;
	if (d->next)
		d->next->prev = d->prev;
	pthread_mutex_unlock(&fs->tlock);
	closedir(d->dp);
	free(d);
}

/* The kernel drops the RELEASEDIRs still queued when the mount goes away
 * (a program's closedir() just before fusermount -u): close what is left
 * once the session has stopped. */
void ef_dirs_close(struct ef_fs *fs)
{
	while (fs->open_dirs)
		dir_close(fs, fs->open_dirs);
}

void ef_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ef_dir *d = calloc(1, sizeof(*d));
	int fd, rc;

	if (!d) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fd = openat(ef_inode(req, ino)->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d->dp = fdopendir(fd))) {
		rc = errno;
		if (fd >= 0)
			close(fd);
		free(d);
		fuse_reply_err(req, rc);
		return;
	}
	fi->fh = (uintptr_t)d;
	dir_link(ef_fs(req), d);
	if (fuse_reply_open(req, fi) == -ENOENT)
		dir_close(ef_fs(req), d);
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, bool plus)
{
	struct ef_fs *fs = ef_fs(req);
	struct ef_dir *d = (struct ef_dir *)(uintptr_t)fi->fh;
	char *buf = malloc(size), *p = buf;
	char name[ECFS_LOWER_NAME_MAX];
	size_t rem = size;
	int err = 0;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (off != d->offset) {
		seekdir(d->dp, off);
		d->entry = NULL;
		d->offset = off;
	}
	for (;;) {
		struct fuse_entry_param e;
		fuse_ino_t got = 0;
		size_t entsize;
		off_t next;
		int h;

		if (!d->entry) {
			errno = 0;
			d->entry = readdir(d->dp);
			if (!d->entry) {
				err = errno;
				break;
			}
		}
		next = d->entry->d_off;
		h = ef_upper_name(fs, d->entry->d_name, name, sizeof(name));
		if (h) {
			d->entry = NULL;	/* hidden */
			d->offset = next;
			continue;
		}
		if (plus) {
			if (!strcmp(name, ".") || !strcmp(name, "..")) {
				memset(&e, 0, sizeof(e));
				e.attr.st_ino = d->entry->d_ino;
				e.attr.st_mode = (mode_t)d->entry->d_type << 12;
			} else {
				err = ef_do_lookup(fs, ef_inode(req, ino), d->entry->d_name, &e);
				if (err == ENOENT) {	/* gone meanwhile */
					err = 0;
					d->entry = NULL;
					d->offset = next;
					continue;
				}
				if (err)
					break;
				got = e.ino;
			}
			entsize = fuse_add_direntry_plus(req, p, rem, name, &e, next);
		} else {
			struct stat st = {
				.st_ino = d->entry->d_ino,
				.st_mode = (mode_t)d->entry->d_type << 12,
			};

			entsize = fuse_add_direntry(req, p, rem, name, &st, next);
		}
		if (entsize > rem) {
			if (got)
				ef_unref(fs, (struct ef_inode *)(uintptr_t)got, 1);
			break;
		}
		p += entsize;
		rem -= entsize;
		d->entry = NULL;
		d->offset = next;
	}
	/* An error after entries went into the buffer cannot be reported:
	 * their lookup counts are already taken (as passthrough_ll). */
	if (err && rem == size)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, size - rem);
	free(buf);
}

void ef_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

void ef_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

void ef_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	dir_close(ef_fs(req), (struct ef_dir *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

void ef_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
		    struct fuse_file_info *fi)
{
	int fd = dirfd(((struct ef_dir *)(uintptr_t)fi->fh)->dp);

	fuse_reply_err(req, (datasync ? fdatasync(fd) : fsync(fd)) ? errno : 0);
}
