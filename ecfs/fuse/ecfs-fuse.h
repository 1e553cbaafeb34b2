/* SPDX-License-Identifier: MIT */
/* ecfs-fuse.h - the one private header of the FUSE mount: every struct, lock
 * and helper that the files of ecfs/fuse share (fs.c, inode.c, dir.c,
 * file.c, xattr.c, probe.c, readahead.c, mount.c, and the transport:
 * wire.c, ring.c, idlepoll.c).  What the front end may use is in
 * ecfs-mount.h; nothing here comes from ecfs/cli.
 *
 * Shape (passthrough_ll.c style, libfuse low-level API):
 *   - struct ef_fs is the whole mount: options, keys (the key chain it
 *     took), the inode table, the transport (struct ef_wire).  It is the
 *     session's userdata; nothing is global but the state of the request a
 *     thread serves.
 *   - struct ef_inode is one lower object, keyed by lower (st_dev, st_ino)
 *     and holding an O_PATH fd to it.  The FUSE node id is the pointer.
 *     Its life is the kernel's lookup count (nlookup): lookup, create,
 *     mkdir, link, readdirplus add one; forget removes n.
 *   - A regular file opened through the mount gets one struct ef_data,
 *     shared by every open handle of that inode: a read-write lower fd, the
 *     parsed header and the unwrapped FEK (struct ecfs_file).  It lives
 *     from the first open to the last release, so headers are parsed and
 *     FEKs unwrapped once per open file, never per request, and keys are
 *     never derived after mount time.
 *
 * Locks, and their order (take them top-down, never upwards):
 *   1. ef_inode.io   rwlock: shared for read, exclusive for write, truncate,
 *                    fallocate.  The library requires writes to be
 *                    serialised against reads of the same extents; one lock
 *                    per file is the simple way to get that (and keeps a
 *                    file written by several processes coherent).
 *   2. ef_inode.m    mutex: nopen, data, kind, size.  Held briefly,
 *                    except around the (rare) first open of a file.
 *   3. ef_fs.tlock   the inode table, every nlookup and logged.
 *   4. ef_fs.probe_lock  the probe cache (inode.c).
 *
 * Spec references (§n) are to shared/spec/ecryptfs-format.md.
 */
#ifndef ECFS_FUSE_H
#define ECFS_FUSE_H

#define FUSE_USE_VERSION 312

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <linux/futex.h>
#include <unistd.h>

#include "ecfs-mount.h"
#include "ob/power.h"

#define EF_PROG		"ecfs"		/* messages start with it */
#define EF_IO_MAX	(1u << 20)	/* max_write and readahead: 1 MiB */
#define EF_STREAM_MIN	(512 * 1024)	/* writes this large start writeback */
#define EF_VIEW_HDR	8192		/* header synthesised by encrypted view */

/* "ecfs: <printf>" to stderr: mount-time errors, before the daemon leaves
 * the terminal (fs.c). */
void ef_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

enum ef_kind {
	EF_UNKNOWN,	/* regular file not probed yet (or unreadable for us) */
	EF_ENC,		/* eCryptfs file: size = plaintext size */
	EF_PLAIN,	/* no metadata: plaintext with passthrough, else EIO */
	EF_BAD,		/* damaged metadata: EIO */
};

/* The shared open state of one regular file (see the top of this file). */
struct ef_data {
	struct ecfs_file f;	/* f.fd: the lower data fd; f.fek NULL unless EF_ENC */
	bool writable;		/* f.fd is O_RDWR */
	uint8_t *view_hdr;	/* encrypted view of an xattr-metadata file */
};

struct ef_inode {
	/* immutable after creation */
	int fd;			/* O_PATH|O_NOFOLLOW to the lower object */
	dev_t dev;
	ino_t ino;
	mode_t type;		/* S_IFMT bits */

	/* ef_fs.tlock */
	struct ef_inode *hnext;
	uint64_t nlookup;

	pthread_rwlock_t io;

	/* m */
	pthread_mutex_t m;
	unsigned nopen;		/* open handles (+ temporary users, e.g. truncate) */
	struct ef_data *data;	/* non-NULL iff nopen > 0 */
	int kind;		/* enum ef_kind, regular files only */
	bool view_xattr;	/* encrypted view: header comes from the xattr */
	uint64_t size;		/* plaintext size when kind == EF_ENC */
	bool no_caps;		/* lower has no security.capability (we asked) */
	bool logged;		/* tlock: one log line per broken file */
};

/* SCHED_IDLE pollers that keep CPUs awake after a ring request that
 * changes the tree (idlepoll.c). */
struct ef_idlepoll {
	uint64_t window_ns;
	uint64_t until_ns;	/* spin until then */
	uint32_t kicks;		/* futex word: bumped to wake sleepers */
	int sleeping;		/* pollers asleep on kicks */
	bool stop;
	unsigned n;
	pthread_t *tids;
	struct ef_poller_arg *args;
};

/* Requests served on their caller's CPU (colocate.c). */
#define EF_COLOCATE_SLOTS 64
#define EF_COLOCATE_CALLERS 64
struct ef_caller {
	uint64_t pid_cpu;		/* pid << 32 | the CPU it last ran on */
	uint64_t checked_ns;
	uint64_t base_ns;		/* since then it waited for a CPU */
	uint64_t base_waited_ns;	/* its CPU wait and run time then */
	uint64_t base_ran_ns;
	uint64_t off_until_ns;		/* not followed until then */
};
struct ef_colocate {
	bool enabled;
	struct ef_fs *fs;		/* for the log */
	int fd;				/* /dev/fuse, to see requests waiting */
	cpu_set_t cpus;			/* the daemon's own CPUs */
	uint32_t epoch;			/* bumped when the watchdog gives up */
	uint64_t off_until_ns;		/* no moving until then */
	uint64_t off_ns;		/* the next back-off */
	uint64_t served;		/* requests read */
	uint32_t active;		/* futex word: the watchdog watches */
	bool stop;
	pthread_key_t key;		/* frees a thread's slot when it ends */
	pthread_t watchdog;
	struct {
		pid_t tid;		/* 0: free */
		uint64_t held_since_ns;	/* serving a request since; 0: not */
		pid_t caller;		/* who waits for it */
	} slots[EF_COLOCATE_SLOTS];
	struct ef_caller callers[EF_COLOCATE_CALLERS];
};

/* The FUSE transport of one mount: the /dev/fuse hooks (wire.c), the
 * io_uring queues (ring.c) and the pollers (idlepoll.c).  Part of struct
 * ef_fs; set up by ef_wire_install, torn down by ef_wire_stop. */
struct ef_wire {
	struct fuse_session *se;
	struct ef_fs *fs;
	uint64_t spin_ns;		/* poll window; 0: never poll */
	bool power_aware;		/* no polling while on battery */
	struct ob_power power;		/* on battery? (cached) */
	int spinning;			/* a thread is polling now */
	uint64_t init_unique;		/* the INIT request, once seen */
	uint32_t init_kernel_flags;	/* what the kernel offered */
	uint32_t init_kernel_flags2;
	bool use_ring;			/* try FUSE over io_uring */
	struct ef_ring *ring;		/* ring.c; NULL without io_uring */
	struct ef_idlepoll idle;
	struct ef_colocate coloc;
};

struct ef_fs {
	struct ef_opts *o;
	struct fuse_session *se;
	char *mnt_path;			/* the mount point, resolved (or NULL) */

	/* keys: read with keys (all), write new files with wrap_keys; the
	 * mount owns the chain (ef_mount_run took it) */
	struct ecfs_keychain ck;
	struct ecfs_keyset *wrap_keys;	/* == ck.keys unless ecryptfs_sig= chose */
	bool wrap_keys_owned;
	struct ecfs_fnek *fnek;		/* names are encrypted with it; NULL = off */
	bool write_only;		/* public keys only: old files give EACCES */
	const struct ecfs_cipher_info *cipher;
	size_t key_bytes;
	int new_files;			/* enum ef_new_files */
	bool ro, xattr, passthrough, view;
	bool use_syslog;
	double timeout;
	bool is_root;			/* chown new objects to the caller */
	bool chown_warned;		/* said once that the lower fs refused */
	struct ecfs_crypt_helper *crypt;	/* every open file's (fek.c), or NULL */
	struct ef_wire wire;		/* the transport */
	int lower_lock_fd;		/* lowerlock.c: fd + 1, 0 = none */

	struct ef_inode root;

	pthread_mutex_t tlock;
	struct ef_dir *open_dirs;	/* tlock: opened, not yet released */
	struct ef_inode **buckets;
	size_t nbuckets, ninodes;

	/* kind and size of forgotten regular files (inode.c); probe_lock */
	pthread_mutex_t probe_lock;
	struct probe_entry *probe_cache;
};

/* fs.c */
extern const struct fuse_lowlevel_ops ef_ops;
/* "ecfs: <lower path of ino>: <reason>" to stderr or syslog. */
void ef_log(struct ef_fs *fs, struct ef_inode *ino, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The same, at most once per inode (a broken file logs once). */
void ef_log_once(struct ef_fs *fs, struct ef_inode *ino, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static inline struct ef_fs *ef_fs(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static inline struct ef_inode *ef_inode(fuse_req_t req, fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return &ef_fs(req)->root;
	return (struct ef_inode *)(uintptr_t)ino;
}

static inline fuse_ino_t ef_ino_id(struct ef_fs *fs, struct ef_inode *ino)
{
	return ino == &fs->root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)ino;
}

/* "/proc/self/fd/N" for an O_PATH fd (reopen, xattrs, times). */
static inline void ef_procpath(char buf[64], int fd)
{
	snprintf(buf, 64, "/proc/self/fd/%d", fd);
}

/* inode.c */
int ef_table_init(struct ef_fs *fs, int root_fd, const struct stat *st);
void ef_table_destroy(struct ef_fs *fs);
/* dir.c: close the directories the kernel never released */
void ef_dirs_close(struct ef_fs *fs);
/* Look up lower name lname in parent: fills e (attr with the plaintext
 * size, timeouts) and takes one lookup reference.  Returns 0 or errno. */
int ef_do_lookup(struct ef_fs *fs, struct ef_inode *parent, const char *lname,
		 struct fuse_entry_param *e);
/* The same for an object we just created: a regular file's kind and size
 * are given (kind != EF_UNKNOWN) instead of read back from its header. */
int ef_do_lookup_known(struct ef_fs *fs, struct ef_inode *parent, const char *lname,
		       struct fuse_entry_param *e, int kind, uint64_t size);
void ef_unref(struct ef_fs *fs, struct ef_inode *ino, uint64_t n);
/* stat of ino as the upper view shows it.  Returns 0 or errno. */
int ef_stat(struct ef_fs *fs, struct ef_inode *ino, struct stat *st);
/* Plaintext name -> lower name (encrypted with FNEK).  0 or errno. */
int ef_lower_name(struct ef_fs *fs, const char *name, char *out, size_t len);
/* Lower name -> plaintext: 0 ok, 1 hide it, or an errno. */
int ef_upper_name(struct ef_fs *fs, const char *lname, char *out, size_t len);
/* Give a new lower object the caller's ownership when we run as root. */
void ef_chown_new(struct ef_fs *fs, fuse_req_t req, int dirfd, const char *lname);
/* A call on the lower object: on_fd on the open data fd when a handle is
 * open (f*() calls: tar sets times, owner and mode on the file it just
 * wrote), else on_path on /proc/self/fd/N, which costs a path walk.
 * Returns what the call returned, or -errno. */
typedef ssize_t (*ef_fd_call)(int fd, void *arg);
typedef ssize_t (*ef_path_call)(const char *path, void *arg);
ssize_t ef_lower_call(struct ef_fs *fs, struct ef_inode *ino, ef_fd_call on_fd,
		      ef_path_call on_path, void *arg);
/* Drop suid, and sgid when group-executable, as the kernel would. */
void ef_drop_suidgid(struct ef_fs *fs, struct ef_inode *ino);
/* Can a file have this plaintext size?  The kernel refuses an attribute
 * past the largest loff_t with EIO, and a name it cannot stat cannot be
 * renamed or removed either: a header with such a size is damaged. */
static inline bool ef_size_possible(uint64_t size)
{
	return size <= (uint64_t)INT64_MAX - ECFS_METADATA_SIZE;
}
/* Probe a regular file's metadata for kind and size (caller holds m). */
void ef_probe_locked(struct ef_fs *fs, struct ef_inode *ino, int datafd);

/* wire.c */
/* Hook the /dev/fuse transport (after fuse_session_mount) into w, the
 * mount's; ring: offer FUSE over io_uring when the kernel does.  0 or
 * -errno. */
int ef_wire_install(struct ef_wire *w, struct fuse_session *se, struct ef_fs *fs,
		    unsigned spin_us, bool ring);
/* The session loop has ended: stop the rings and pollers, free them. */
void ef_wire_stop(struct ef_wire *w);
/* May the daemon poll now (spin window, pollers)?  No while on battery,
 * unless spin= was given. */
bool ef_wire_may_poll(struct ef_wire *w);
/* Take note of a request about to be processed (its opcode and flags). */
void ef_wire_note_request(const void *buf, size_t len);
/* Must the request being processed drop suid/sgid (writer without
 * CAP_FSETID: WRITE, truncating SETATTR, OPEN/CREATE with O_TRUNC)? */
bool ef_req_kill_suidgid(void);
/* Is this a request of a program that creates, writes or removes one file
 * after another (the ones after which the daemon polls)? */
bool ef_wire_changes_tree(uint32_t opcode);

/* A private futex on one 32-bit word, for the transport's sleepers
 * (idlepoll.c's pollers, colocate.c's watchdog): FUTEX_WAIT or FUTEX_WAKE. */
static inline void ef_futex(uint32_t *word, int op, uint32_t val)
{
	(void)syscall(SYS_futex, word, op | FUTEX_PRIVATE_FLAG, val, NULL, NULL, 0);
}

/* colocate.c */
void ef_colocate_start(struct ef_colocate *c, struct ef_fs *fs, int devfd);
/* Called on the thread that read a request; bytes: a READ's or WRITE's size. */
void ef_colocate_request(struct ef_colocate *c, uint32_t caller_pid, uint32_t opcode,
			 uint32_t bytes);
void ef_colocate_replied(struct ef_colocate *c);
void ef_colocate_stop(struct ef_colocate *c);

/* idlepoll.c */
/* Start a SCHED_IDLE poller on each of CPUs 0..cpus-1 (not for one CPU or
 * window 0). */
void ef_idlepoll_start(struct ef_idlepoll *p, unsigned cpus, uint64_t window_ns);
/* A request that changes the tree was served: keep every CPU awake for the
 * window. */
void ef_idlepoll_kick(struct ef_idlepoll *p);
void ef_idlepoll_stop(struct ef_idlepoll *p);

/* readahead.c */
/* Set the mount's read-ahead window to readahead= (the kernel took the
 * INIT reply); a failure is logged when the option was given. */
void ef_readahead_set(struct ef_fs *fs);

/* ring.c */
#define EF_RING_INIT_FLAG2	(1u << 9)	/* FUSE_OVER_IO_URING, in flags2 */
#define EF_RING_MIN_PAYLOAD	8192		/* the kernel's FUSE_MIN_READ_BUFFER */
/* Start w's ring threads and set up their rings, with payload buffers of
 * payload_len bytes: 0 when all are ready to register, else -1 (logged). */
int ef_ring_prepare(struct ef_wire *w, int devfd, size_t payload_len);
/* The INIT reply offering io_uring went out (or failed): register or quit. */
void ef_ring_go(struct ef_wire *w, bool init_sent);
/* The reply of the request this thread serves from a ring, if it is one:
 * copied into the ring entry, *res set as writev() would.  Else false. */
bool ef_ring_reply(const struct iovec *iov, int count, ssize_t *res);
/* Where the reply's data can be built in place, if this thread serves a
 * ring request and len bytes fit there; else NULL.  Valid until the reply. */
uint8_t *ef_ring_reply_buffer(size_t len);
/* Stop w's ring threads (the session loop has ended) and free them. */
void ef_ring_stop(struct ef_wire *w);

/* file.c */
/* Open the shared data of ino (first opener reads the header); nopen++. */
int ef_data_get(struct ef_fs *fs, struct ef_inode *ino, bool write,
		struct ef_data **out);
void ef_data_put(struct ef_fs *fs, struct ef_inode *ino);
/* The open data fd of ino with a reference (put it with ef_data_put), or
 * -1 when no handle is open: f*() calls on it skip a /proc path walk. */
int ef_data_fd(struct ef_inode *ino);
int ef_truncate(struct ef_fs *fs, struct ef_inode *ino, uint64_t size);
/* Create a regular file in parent; returns 0 or errno.  With want_data the
 * new inode's data stays open (one nopen reference) for create(). */
int ef_create_file(struct ef_fs *fs, fuse_req_t req, struct ef_inode *parent,
		   const char *name, mode_t mode, bool want_data, bool excl,
		   struct fuse_entry_param *e);
void ef_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void ef_op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		  mode_t mode, struct fuse_file_info *fi);
void ef_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi);
void ef_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		 off_t off, struct fuse_file_info *fi);
void ef_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void ef_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		 struct fuse_file_info *fi);
void ef_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
		     off_t len, struct fuse_file_info *fi);

/* inode.c ops */
void ef_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void ef_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void ef_op_forget_multi(fuse_req_t req, size_t count,
			struct fuse_forget_data *forgets);
void ef_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void ef_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		   int valid, struct fuse_file_info *fi);

/* dir.c ops */
void ef_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void ef_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		 mode_t mode, dev_t rdev);
void ef_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		   const char *name);
void ef_op_readlink(fuse_req_t req, fuse_ino_t ino);
void ef_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent,
		const char *name);
void ef_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void ef_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void ef_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		  fuse_ino_t newparent, const char *newname, unsigned int flags);
void ef_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void ef_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi);
void ef_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi);
void ef_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void ef_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
		    struct fuse_file_info *fi);
/* Plaintext length of a symlink's target (st_size), or -errno. */
ssize_t ef_link_target(struct ef_fs *fs, struct ef_inode *ino, char *out, size_t len);

/* xattr.c ops */
void ef_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void ef_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void ef_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		    const char *value, size_t size, int flags);
void ef_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

/* lowerlock.c: lock the lower directory for this mount (shared when ro):
 * 0, or -1 after printing which mount holds it. */
int ef_lower_lock(struct ef_fs *fs, const char *lower, int root_fd, bool ro);
void ef_lower_unlock(struct ef_fs *fs);

/* probe.c: the mount-time key check.  0, or -1 after printing why. */
int ef_probe_keys(struct ef_fs *fs, int root_fd);

#endif
