/* wire.c - a thin hook on the /dev/fuse transport, for two things libfuse
 * 3.14 (Debian 12) does not do; libfuse 3.17.1 does both.
 *
 *   1. It never passes FUSE_PARALLEL_DIROPS or the KILLPRIV flags on to the
 *      kernel in the INIT reply.  We add FUSE_PARALLEL_DIROPS (lookups and
 *      readdirs of one directory may run at once; ours are safe to) and
 *      FUSE_HANDLE_KILLPRIV_V2.  The latter is the one that matters: without
 *      it the kernel asks for security.capability before every write() and
 *      re-reads the attributes before every chown, because FUSE mounts
 *      cannot mark an inode as having no privileges to drop (SB_NOSEC).  A
 *      tar extract sent ~14 requests per file, three of them for this.
 *   2. With HANDLE_KILLPRIV_V2 the filesystem drops suid/sgid itself when
 *      the writer lacks CAP_FSETID: the kernel says so with a flag in
 *      WRITE, SETATTR (truncate), OPEN and CREATE (O_TRUNC), which libfuse
 *      3.14 drops before the ops see the request.  The read side keeps that
 *      flag per thread: libfuse processes a request on the thread that
 *      read it, before that thread reads the next one.
 *
 * File capabilities need nothing here: the daemon's own writes, truncates
 * and chowns of the lower file make the lower filesystem drop them.
 */
#include "ecfs-fuse.h"

#include <errno.h>
#include <linux/fuse.h>
#include <stddef.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static _Thread_local bool kill_suidgid;

static uint64_t init_unique;		/* the INIT request, once seen */
static uint32_t init_kernel_flags;	/* what the kernel offered */

bool ef_req_kill_suidgid(void)
{
	return kill_suidgid;
}

/* The 32-bit field at off of a request argument of size need, or 0 when
 * the argument is shorter (libfuse rejects such requests itself). */
static uint32_t arg_u32(const uint8_t *arg, size_t alen, size_t need, size_t off)
{
	uint32_t v;

	if (alen < need)
		return 0;
	memcpy(&v, arg + off, sizeof(v));
	return v;
}

#define ARG_FIELD(arg, alen, type, field) \
	arg_u32(arg, alen, sizeof(struct type), offsetof(struct type, field))

/* Does the request in buf carry "drop suid/sgid"? */
static bool wants_kill(const void *buf, size_t len)
{
	const struct fuse_in_header *in = buf;
	const uint8_t *arg = (const uint8_t *)buf + sizeof(*in);
	size_t alen = len - sizeof(*in);

	switch (in->opcode) {
	case FUSE_WRITE:
		return ARG_FIELD(arg, alen, fuse_write_in, write_flags) & FUSE_WRITE_KILL_SUIDGID;
	case FUSE_SETATTR:
		return ARG_FIELD(arg, alen, fuse_setattr_in, valid) & FATTR_KILL_SUIDGID;
	case FUSE_OPEN:
		return ARG_FIELD(arg, alen, fuse_open_in, open_flags) & FUSE_OPEN_KILL_SUIDGID;
	case FUSE_CREATE:
		return ARG_FIELD(arg, alen, fuse_create_in, open_flags) & FUSE_OPEN_KILL_SUIDGID;
	}
	return false;
}

static ssize_t wire_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t n = read(fd, buf, len);
	const struct fuse_in_header *in = buf;

	kill_suidgid = false;
	if (n < (ssize_t)sizeof(*in))
		return n;
	kill_suidgid = wants_kill(buf, (size_t)n);
	if (in->opcode == FUSE_INIT && (size_t)n >= sizeof(*in) + 16) {
		struct fuse_init_in init = {0};

		memcpy(&init, in + 1, 16);	/* major, minor, readahead, flags */
		__atomic_store_n(&init_kernel_flags, init.flags, __ATOMIC_RELAXED);
		__atomic_store_n(&init_unique, in->unique, __ATOMIC_RELEASE);
	}
	return n;
}

static ssize_t wire_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	const struct fuse_out_header *out = iov[0].iov_base;
	uint64_t unique = __atomic_load_n(&init_unique, __ATOMIC_ACQUIRE);
	struct fuse_init_out init;

	if (unique && count == 2 && iov[0].iov_len == sizeof(*out) && out->unique == unique &&
	    out->error == 0 && iov[1].iov_len >= offsetof(struct fuse_init_out, flags) + 4) {
		uint32_t offered = __atomic_load_n(&init_kernel_flags, __ATOMIC_RELAXED);
		size_t n = iov[1].iov_len < sizeof(init) ? iov[1].iov_len : sizeof(init);
		struct iovec patched[2] = { iov[0], { &init, n } };

		memset(&init, 0, sizeof(init));
		memcpy(&init, iov[1].iov_base, n);
		init.flags |= offered & (FUSE_PARALLEL_DIROPS | FUSE_HANDLE_KILLPRIV_V2);
		__atomic_store_n(&init_unique, 0, __ATOMIC_RELAXED);
		return writev(fd, patched, 2);
	}
	return writev(fd, iov, count);
}

int ef_wire_install(struct fuse_session *se)
{
	static const struct fuse_custom_io io = {
		.read = wire_read,
		.writev = wire_writev,
	};

	return fuse_session_custom_io(se, &io, fuse_session_fd(se));
}
