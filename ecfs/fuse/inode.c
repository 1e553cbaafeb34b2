// SPDX-License-Identifier: MIT
/* inode.c - the inode table, lookup/forget, names, getattr/setattr.
 *
 * Every lower object the kernel knows about is one struct ef_inode, found
 * by lower (st_dev, st_ino) in a chained hash table, so hard links share an
 * inode and st_ino is the lower inode number (stable across mounts).  The
 * O_PATH fd keeps the lower inode alive, so its number cannot be reused
 * while we hold it.
 *
 * Sizes: a regular eCryptfs file's st_size is the plaintext size from its
 * header (§5.4).  It is read once, when the inode is first looked up, and
 * from then on kept up to date by our own writes and truncates, so getattr
 * never touches a header.  This relies on the rule that nobody else writes
 * the lower tree while it is mounted (§12 item 23).
 *
 * Probe cache: when the kernel forgets an inode (memory pressure, or a
 * drop_caches before a cold "ls -lR" or "find | xargs md5sum"), the next
 * lookup would open the lower file and read its header again.  A
 * direct-mapped cache keyed by (dev, ino) remembers the kind and plaintext
 * size of forgotten files together with the lower file's size, mtime and
 * ctime at that moment; a lookup whose fstat still matches all of them uses
 * the cached answer.  Any write to the lower file changes its ctime, so a
 * stale entry is never used.  65536 entries of 56 bytes: 3.5 MiB at most.
 */
#include "ecfs-fuse.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROBE_CACHE_SLOTS 65536

struct probe_entry {
	dev_t dev;
	ino_t ino;
	off_t lower_size;
	struct timespec mtime, ctime;
	uint64_t size;		/* plaintext size */
	int kind;		/* EF_ENC or EF_PLAIN; 0 = empty slot */
	bool view_xattr;
};

static struct probe_entry *probe_slot(struct ef_fs *fs, dev_t dev, ino_t ino)
{
	uint64_t h = ((uint64_t)dev * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)ino * 0xc2b2ae3d27d4eb4full);

	return &fs->probe_cache[(h ^ (h >> 31)) & (PROBE_CACHE_SLOTS - 1)];
}

static bool same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* Remember what we know of a regular file the kernel is forgetting. */
static void probe_cache_put(struct ef_fs *fs, struct ef_inode *ino)
{
	struct probe_entry *e;
	struct stat st;

	if (!fs->probe_cache || ino->type != S_IFREG ||
	    (ino->kind != EF_ENC && ino->kind != EF_PLAIN))
		return;
	if (fstatat(ino->fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		return;
	pthread_mutex_lock(&fs->probe_lock);
	e = probe_slot(fs, ino->dev, ino->ino);
	e->dev = ino->dev;
	e->ino = ino->ino;
	e->lower_size = st.st_size;
	e->mtime = st.st_mtim;
	e->ctime = st.st_ctim;
	e->size = ino->size;
	e->kind = ino->kind;
	e->view_xattr = ino->view_xattr;
	pthread_mutex_unlock(&fs->probe_lock);
}

/* Fill ino's kind and size from the cache if st still matches. */
static bool probe_cache_get(struct ef_fs *fs, struct ef_inode *ino, const struct stat *st)
{
	struct probe_entry *e;
	bool hit = false;

	if (!fs->probe_cache)
		return false;
	pthread_mutex_lock(&fs->probe_lock);
	e = probe_slot(fs, st->st_dev, st->st_ino);
	if (e->kind && e->dev == st->st_dev && e->ino == st->st_ino &&
	    e->lower_size == st->st_size && same_time(&e->mtime, &st->st_mtim) &&
	    same_time(&e->ctime, &st->st_ctim)) {
		ino->kind = e->kind;
		ino->size = e->size;
		ino->view_xattr = e->view_xattr;
		hit = true;
	}
	pthread_mutex_unlock(&fs->probe_lock);
	return hit;
}

static size_t hash_of(dev_t dev, ino_t ino, size_t n)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ull ^ (uint64_t)dev;

	return (size_t)(h ^ (h >> 29)) & (n - 1);
}

int ef_table_init(struct ef_fs *fs, int root_fd, const struct stat *st)
{
	pthread_mutex_init(&fs->tlock, NULL);
	pthread_mutex_init(&fs->probe_lock, NULL);
	/* calloc of this size is fresh zero pages: memory only as slots fill. */
	fs->probe_cache = calloc(PROBE_CACHE_SLOTS, sizeof(*fs->probe_cache));
	fs->nbuckets = 1024;
	fs->buckets = calloc(fs->nbuckets, sizeof(*fs->buckets));
	if (!fs->buckets)
		return -ENOMEM;
	fs->root.fd = root_fd;
	fs->root.dev = st->st_dev;
	fs->root.ino = st->st_ino;
	fs->root.type = S_IFDIR;
	fs->root.nlookup = 2;
	pthread_rwlock_init(&fs->root.io, NULL);
	pthread_mutex_init(&fs->root.m, NULL);
	return 0;
}

static void inode_free(struct ef_inode *ino)
{
	if (ino->data) {
		ecfs_file_close(&ino->data->f);
		close(ino->data->f.fd);
		free(ino->data->view_hdr);
		free(ino->data);
	}
	close(ino->fd);
	pthread_rwlock_destroy(&ino->io);
	pthread_mutex_destroy(&ino->m);
	free(ino);
}

void ef_table_destroy(struct ef_fs *fs)
{
	for (size_t i = 0; i < fs->nbuckets && fs->buckets; i++) {
		struct ef_inode *p = fs->buckets[i], *next;

		for (; p; p = next) {
			next = p->hnext;
			inode_free(p);
		}
	}
	free(fs->buckets);
	fs->buckets = NULL;
	free(fs->probe_cache);
	fs->probe_cache = NULL;
	pthread_mutex_destroy(&fs->probe_lock);
	pthread_rwlock_destroy(&fs->root.io);
	pthread_mutex_destroy(&fs->root.m);
	pthread_mutex_destroy(&fs->tlock);
}

/* Double the table when it gets crowded (tlock held).  On ENOMEM the table
 * simply stays as it is: longer chains, still correct. */
static void table_grow(struct ef_fs *fs)
{
	size_t n = fs->nbuckets * 2;
	struct ef_inode **b = calloc(n, sizeof(*b));

	if (!b)
		return;
	for (size_t i = 0; i < fs->nbuckets; i++) {
		struct ef_inode *p = fs->buckets[i], *next;

		for (; p; p = next) {
			size_t h = hash_of(p->dev, p->ino, n);

			next = p->hnext;
			p->hnext = b[h];
			b[h] = p;
		}
	}
	free(fs->buckets);
	fs->buckets = b;
	fs->nbuckets = n;
}

static struct ef_inode *table_find_locked(struct ef_fs *fs, dev_t dev, ino_t ino)
{
	struct ef_inode *p = fs->buckets[hash_of(dev, ino, fs->nbuckets)];

	for (; p; p = p->hnext)
		if (p->ino == ino && p->dev == dev)
			return p;
	return NULL;
}

/* The known inode of a lower object, with one more lookup counted. */
static struct ef_inode *table_ref(struct ef_fs *fs, dev_t dev, ino_t ino)
{
	struct ef_inode *found;

	pthread_mutex_lock(&fs->tlock);
	found = table_find_locked(fs, dev, ino);
	if (found)
		found->nlookup++;
	pthread_mutex_unlock(&fs->tlock);
	return found;
}

void ef_unref(struct ef_fs *fs, struct ef_inode *ino, uint64_t n)
{
	struct ef_inode **pp;

	if (!ino || ino == &fs->root)
		return;
	pthread_mutex_lock(&fs->tlock);
	ino->nlookup -= n < ino->nlookup ? n : ino->nlookup;
	if (ino->nlookup) {
		pthread_mutex_unlock(&fs->tlock);
		return;
	}
	pp = &fs->buckets[hash_of(ino->dev, ino->ino, fs->nbuckets)];
	while (*pp && *pp != ino)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = ino->hnext;
	fs->ninodes--;
	/* Still under tlock: once the lock is dropped a lookup may make a new
	 * inode of the same file and change it, and a put after that would
	 * pair the new lower stat with our old size, a stale entry that
	 * matches. */
	probe_cache_put(fs, ino);
	pthread_mutex_unlock(&fs->tlock);
	inode_free(ino);
}

/* Read a regular file's metadata for its kind and plaintext size (m held;
 * datafd is any readable fd of the lower file).  Errors here are not
 * reported: open reports them, once, with the reason. */
void ef_probe_locked(struct ef_fs *fs, struct ef_inode *ino, int datafd)
{
	struct ecfs_header *h = malloc(sizeof(*h));
	int rc;

	if (!h)
		return;
	rc = ecfs_metadata_read(datafd, ECFS_OPEN_XATTR_OK, h, NULL);
	if (rc == 0 && !ef_size_possible(h->size))
		rc = -EIO;
	if (rc == 0) {
		ino->kind = EF_ENC;
		ino->size = h->size;
		ino->view_xattr = h->in_xattr;
	} else {
		ino->kind = rc == -ENODATA ? EF_PLAIN : EF_BAD;
	}
	free(h);
}

static void probe_new(struct ef_fs *fs, struct ef_inode *ino, struct ef_inode *parent,
		      const char *lname, const struct stat *st)
{
	char path[64];
	int fd;

	if (probe_cache_get(fs, ino, st))
		return;
	/* Relative to the parent is one path step; /proc/self/fd is several. */
	fd = openat(parent->fd, lname, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
	if (fd < 0) {
		ef_procpath(path, ino->fd);
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	}
	if (fd < 0)
		return;		/* EF_UNKNOWN: open will tell */
	ef_probe_locked(fs, ino, fd);
	close(fd);
}

static int stat_fixup(struct ef_fs *fs, struct ef_inode *ino, struct stat *st);

int ef_stat(struct ef_fs *fs, struct ef_inode *ino, struct stat *st)
{
	if (fstatat(ino->fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		return errno;
	return stat_fixup(fs, ino, st);
}

/* The upper view of a lower stat: plaintext size, decrypted target length. */
static int stat_fixup(struct ef_fs *fs, struct ef_inode *ino, struct stat *st)
{
	if (S_ISREG(st->st_mode)) {
		pthread_mutex_lock(&ino->m);
		if (fs->view) {
			if (ino->kind == EF_ENC && ino->view_xattr)
				st->st_size += EF_VIEW_HDR;
		} else if (ino->kind == EF_ENC) {
			st->st_size = (off_t)ino->size;
		}
		pthread_mutex_unlock(&ino->m);
	} else if (S_ISLNK(st->st_mode) && fs->fnek) {
		char buf[PATH_MAX];
		ssize_t n = ef_link_target(fs, ino, buf, sizeof(buf));

		if (n >= 0)
			st->st_size = n;
	}
	return 0;
}

int ef_do_lookup(struct ef_fs *fs, struct ef_inode *parent, const char *lname,
		 struct fuse_entry_param *e)
{
	return ef_do_lookup_known(fs, parent, lname, e, EF_UNKNOWN, 0);
}

int ef_do_lookup_known(struct ef_fs *fs, struct ef_inode *parent, const char *lname,
		       struct fuse_entry_param *e, int kind, uint64_t size)
{
	struct ef_inode *ino, *found;
	struct stat st;
	int fd, rc;

	memset(e, 0, sizeof(*e));
	e->attr_timeout = fs->timeout;
	e->entry_timeout = fs->timeout;
	/* Most lookups are of objects the kernel already knows (a lookup after
	 * the entry timed out, readdirplus reading a directory again): a stat
	 * of the name finds those in one system call instead of three.  The
	 * table holds an fd on each object, so a (dev, ino) found there cannot
	 * have been reused for another.  What we just made is never known. */
	if (kind == EF_UNKNOWN) {
		if (fstatat(parent->fd, lname, &st, AT_SYMLINK_NOFOLLOW))
			return errno;
		ino = table_ref(fs, st.st_dev, st.st_ino);
		if (ino)
			goto known;
	}
	fd = openat(parent->fd, lname, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno;
	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) {
		rc = errno;
		close(fd);
		return rc;
	}
	found = table_ref(fs, st.st_dev, st.st_ino);
	if (found) {
		close(fd);
		ino = found;
	} else {
		ino = calloc(1, sizeof(*ino));
		if (!ino) {
			close(fd);
			return ENOMEM;
		}
		ino->fd = fd;
		ino->dev = st.st_dev;
		ino->ino = st.st_ino;
		ino->type = st.st_mode & S_IFMT;
		ino->nlookup = 1;
		pthread_rwlock_init(&ino->io, NULL);
		pthread_mutex_init(&ino->m, NULL);
		if (S_ISREG(st.st_mode) && kind != EF_UNKNOWN) {
			/* We just made it: no header to read back. */
			ino->kind = kind;
			ino->size = size;
		} else if (S_ISREG(st.st_mode)) {
			probe_new(fs, ino, parent, lname, &st);
		}
		/* Another thread may have added the same object meanwhile. */
		pthread_mutex_lock(&fs->tlock);
		found = table_find_locked(fs, st.st_dev, st.st_ino);
		if (found) {
			found->nlookup++;
		} else {
			size_t h = hash_of(ino->dev, ino->ino, fs->nbuckets);

			ino->hnext = fs->buckets[h];
			fs->buckets[h] = ino;
			if (++fs->ninodes > fs->nbuckets * 2)
				table_grow(fs);
		}
		pthread_mutex_unlock(&fs->tlock);
		if (found) {
			inode_free(ino);
			ino = found;
		}
	}
known:
	/* st was taken a moment ago from this very object: no second stat. */
	e->attr = st;
	rc = stat_fixup(fs, ino, &e->attr);
	if (rc) {
		ef_unref(fs, ino, 1);
		return rc;
	}
	e->ino = (uintptr_t)ino;
	return 0;
}

int ef_lower_name(struct ef_fs *fs, const char *name, char *out, size_t len)
{
	size_t n = strlen(name);
	ssize_t r;

	if (!fs->fnek || !strcmp(name, ".") || !strcmp(name, "..")) {
		if (n >= len)
			return ENAMETOOLONG;
		memcpy(out, name, n + 1);
		return 0;
	}
	r = ecfs_name_encrypt(fs->fnek, name, n, ECFS_NAME_MAX, out, len, NULL);
	return r < 0 ? (int)-r : 0;
}

int ef_upper_name(struct ef_fs *fs, const char *lname, char *out, size_t len)
{
	size_t n = strlen(lname);
	ssize_t r;

	if (!fs->fnek || !strcmp(lname, ".") || !strcmp(lname, "..")) {
		if (n >= len)
			return ENAMETOOLONG;
		memcpy(out, lname, n + 1);
		return 0;
	}
	/* As the kernel (§7.5): names without the prefix (lost+found) and
	 * malformed ones are hidden.  So are names of a key we do not have;
	 * the kernel would stop the listing there instead. */
	if (strncmp(lname, ECFS_FNEK_PREFIX, strlen(ECFS_FNEK_PREFIX)))
		return 1;
	r = ecfs_name_decrypt(fs->ck.fneks, fs->ck.nfneks, lname, out, len, NULL);
	return r < 0 ? 1 : 0;
}

void ef_chown_new(struct ef_fs *fs, fuse_req_t req, int dirfd, const char *lname)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct stat dst;
	gid_t gid = ctx->gid;

	if (!fs->is_root)
		return;
	/* Made by us for ourselves (root creating as root): nothing to change. */
	if (ctx->uid == geteuid() && ctx->gid == getegid())
		return;
	/* A setgid directory hands its group down; the lower fs did that. */
	if (!fstatat(dirfd, "", &dst, AT_EMPTY_PATH) && (dst.st_mode & S_ISGID))
		gid = (gid_t)-1;
	/* The create itself succeeded; a lower fs that refuses chown (root
	 * squashed, no such id) leaves it root's, which the user must hear
	 * of, once per mount rather than per file. */
	if (fchownat(dirfd, lname, ctx->uid, gid, AT_SYMLINK_NOFOLLOW) &&
	    !__atomic_exchange_n(&fs->chown_warned, true, __ATOMIC_RELAXED))
		ef_log(fs, &fs->root, "cannot give new lower files to uid %u gid %d: %s; "
		       "they stay root's", (unsigned)ctx->uid, (int)gid, strerror(errno));
}

/* ------------------------------------------------------------------ ops */

void ef_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct ef_fs *fs = ef_fs(req);
	struct fuse_entry_param e;
	char lname[ECFS_LOWER_NAME_MAX];
	int rc = ef_lower_name(fs, name, lname, sizeof(lname));

	if (!rc)
		rc = ef_do_lookup(fs, ef_inode(req, parent), lname, &e);
	if (rc == ENOENT) {
		/* A negative entry, cached like a positive one. */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = fs->timeout;
		fuse_reply_entry(req, &e);
		return;
	}
	if (rc)
		fuse_reply_err(req, rc);
	else
		fuse_reply_entry(req, &e);
}

void ef_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	ef_unref(ef_fs(req), ef_inode(req, ino), nlookup);
	fuse_reply_none(req);
}

void ef_op_forget_multi(fuse_req_t req, size_t count,
			struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		ef_unref(ef_fs(req), ef_inode(req, forgets[i].ino), forgets[i].nlookup);
	fuse_reply_none(req);
}

void ef_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ef_fs *fs = ef_fs(req);
	struct stat st;
	int rc = ef_stat(fs, ef_inode(req, ino), &st);

	if (rc)
		fuse_reply_err(req, rc);
	else
		fuse_reply_attr(req, &st, fs->timeout);
}

ssize_t ef_lower_call(struct ef_fs *fs, struct ef_inode *ino, ef_fd_call on_fd,
		      ef_path_call on_path, void *arg)
{
	int fd = S_ISREG(ino->type) ? ef_data_fd(ino) : -1;
	char path[64];
	ssize_t n;

	if (fd >= 0) {
		n = on_fd(fd, arg);
		if (n < 0)
			n = -errno;
		ef_data_put(fs, ino);
		return n;
	}
	ef_procpath(path, ino->fd);
	n = on_path(path, arg);
	return n < 0 ? -errno : n;
}

/* chmod and utimens through ef_lower_call: 0 or an errno. */
static int lower_attr_call(struct ef_fs *fs, struct ef_inode *ino, ef_fd_call on_fd,
			   ef_path_call on_path, void *arg)
{
	ssize_t n = ef_lower_call(fs, ino, on_fd, on_path, arg);

	return n < 0 ? (int)-n : 0;
}

static ssize_t times_fd(int fd, void *tv)
{
	return futimens(fd, tv);
}

static ssize_t times_path(const char *path, void *tv)
{
	/* A symlink's O_PATH fd: the magic link lands on the link itself. */
	return utimensat(AT_FDCWD, path, tv, 0);
}

static ssize_t mode_fd(int fd, void *mode)
{
	return fchmod(fd, *(mode_t *)mode);
}

static ssize_t mode_path(const char *path, void *mode)
{
	return chmod(path, *(mode_t *)mode);
}

void ef_drop_suidgid(struct ef_fs *fs, struct ef_inode *ino)
{
	struct stat st;
	mode_t mode;
	int rc;

	if (fstatat(ino->fd, "", &st, AT_EMPTY_PATH) || !S_ISREG(st.st_mode))
		return;
	mode = st.st_mode & 07777 & ~(mode_t)S_ISUID;
	if ((mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
		mode &= ~(mode_t)S_ISGID;
	if (mode == (st.st_mode & 07777))
		return;		/* the common case: nothing to drop */
	rc = lower_attr_call(fs, ino, mode_fd, mode_path, &mode);
	if (rc)
		ef_log(fs, ino, "could not drop suid/sgid: %s", strerror(rc));
	/* The kernel may keep the mode it cached: make it ask again. */
	fuse_lowlevel_notify_inval_inode(fs->se, ef_ino_id(fs, ino), -1, 0);
}

static int set_times(struct ef_fs *fs, struct ef_inode *ino, const struct stat *attr, int valid)
{
	struct timespec tv[2] = {
		{ .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT },
	};

	if (valid & FUSE_SET_ATTR_ATIME_NOW)
		tv[0].tv_nsec = UTIME_NOW;
	else if (valid & FUSE_SET_ATTR_ATIME)
		tv[0] = attr->st_atim;
	if (valid & FUSE_SET_ATTR_MTIME_NOW)
		tv[1].tv_nsec = UTIME_NOW;
	else if (valid & FUSE_SET_ATTR_MTIME)
		tv[1] = attr->st_mtim;
	return lower_attr_call(fs, ino, times_fd, times_path, tv);
}

void ef_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		   int valid, struct fuse_file_info *fi)
{
	struct ef_fs *fs = ef_fs(req);
	struct ef_inode *inode = ef_inode(req, ino);
	int rc = 0;

	if (fs->ro) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (valid & FUSE_SET_ATTR_MODE) {
		mode_t mode = attr->st_mode & 07777;

		rc = lower_attr_call(fs, inode, mode_fd, mode_path, &mode);
		if (rc)
			goto out;
	}
	if (valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		uid_t uid = (valid & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t)-1;
		gid_t gid = (valid & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t)-1;

		if (fchownat(inode->fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) {
			rc = errno;
			goto out;
		}
	}
	if (valid & FUSE_SET_ATTR_SIZE) {
		if (!S_ISREG(inode->type)) {
			rc = S_ISDIR(inode->type) ? EISDIR : EINVAL;
			goto out;
		}
		rc = ef_truncate(fs, inode, (uint64_t)attr->st_size);
		if (rc)
			goto out;
		if (ef_req_kill_suidgid())
			ef_drop_suidgid(fs, inode);
	}
	if (valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME))
		rc = set_times(fs, inode, attr, valid);
out:
	if (rc) {
		fuse_reply_err(req, rc);
		return;
	}
	ef_op_getattr(req, ino, fi);
}
