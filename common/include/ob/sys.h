/* sys.h - the lower-filesystem system calls, through one table, with an
 * optional fault plan (sqlite's aSyscall idea, style.md habit 10).
 *
 * Code whose error paths matter (ecfs/lib/file.c) calls ob_sys_pread() and
 * friends instead of pread().  Each wrapper first asks the fault plan
 * whether this call should fail; if not it calls through ob_sys, a table
 * of function pointers that starts out as the real system calls and that a
 * unit test may repoint (save the entry, replace it, restore it).
 *
 * The fault plan is read once, on the first wrapped call, from the
 * environment variable OB_FAULTS:
 *
 *   OB_FAULTS="RULE[;RULE...]"      RULE = OP:ERRNO[:after=N][:count=M][:minlen=L]
 *     OP      pread pwrite fsync ftruncate fsetxattr openat
 *     ERRNO   EIO ENOSPC EDQUOT EROFS EACCES EPERM EFBIG ENOMEM EINTR
 *     after=N the first N calls of OP (that match minlen) succeed;
 *     count=M then M calls fail (default: every later call);
 *     minlen=L only calls moving at least L bytes count (pread/pwrite;
 *             e.g. 4096 skips 8-byte size-field writes).
 *   Example: OB_FAULTS="pwrite:ENOSPC:after=3:count=1"
 *
 * Why compiled in everywhere and not behind -DOB_FAULT_INJECTION: the
 * tests must drive the very binaries that ship (build/ and build-san/),
 * and a plan can only make I/O fail, with an errno the caller must
 * handle anyway; it reveals nothing and is off unless the variable is set.
 * It is ignored in set-user-ID (AT_SECURE) processes, so an installed
 * privileged helper cannot be made to fail by its caller's environment.
 * A plan that does not parse is ignored as a whole, with one line on
 * stderr.  Cost when off: one predictable branch per call.
 */
#ifndef OB_SYS_H
#define OB_SYS_H

#include <sys/types.h>

struct ob_sys_ops {
	ssize_t (*pread)(int fd, void *buf, size_t len, off_t off);
	ssize_t (*pwrite)(int fd, const void *buf, size_t len, off_t off);
	int (*fsync)(int fd);
	int (*ftruncate)(int fd, off_t len);
	int (*fsetxattr)(int fd, const char *name, const void *value, size_t len, int flags);
	int (*openat)(int dirfd, const char *path, int flags, mode_t mode);
};

/* The real calls unless a test repointed an entry. */
extern struct ob_sys_ops ob_sys;

/* Same contracts as the system calls: -1 with errno set on failure. */
ssize_t ob_sys_pread(int fd, void *buf, size_t len, off_t off);
ssize_t ob_sys_pwrite(int fd, const void *buf, size_t len, off_t off);
int ob_sys_fsync(int fd);
int ob_sys_ftruncate(int fd, off_t len);
int ob_sys_fsetxattr(int fd, const char *name, const void *value, size_t len, int flags);
int ob_sys_openat(int dirfd, const char *path, int flags, mode_t mode);

#endif
