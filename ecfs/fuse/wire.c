// SPDX-License-Identifier: MIT
/* wire.c - a thin hook on the /dev/fuse transport, for four things libfuse
 * 3.14 (Debian 12) does not do (libfuse 3.17.1 does the first two, 3.18 the
 * fourth), and one of ours, the fifth.
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
 *   3. It polls for the next request before it sleeps.  A program that
 *      changes a tree (tar -x, rm -r, cp -r) makes one request after
 *      another and waits for each reply; a reader asleep in read() costs
 *      it a wake-up on another CPU per request, which on a VM without
 *      halt polling is tens of microseconds, more than the work asked
 *      for.  So after a request that changes the tree, one thread at a
 *      time keeps asking the device (poll, no timeout) for up to spin
 *      microseconds (default 50) before it blocks, as QEMU's iothreads and
 *      blkd's readers do: tar -x of a kernel tree took 10% less time, rm
 *      -r 12% less.  Not after reads, opens, lookups or releases: polling
 *      there made a cold md5sum of the same tree 12% slower (readahead
 *      nobody waits for, and a sleeping thread woken for each request the
 *      poller then takes).  A quiet mount costs one window; with one CPU,
 *      or on battery unless spin= was given (ob/power.h), it never polls.
 *      (Requests from io_uring have idlepoll.c instead.  Those pollers
 *      were tried on /dev/fuse too, kicked after each reply to a request
 *      that changes the tree: on a busy 2-CPU machine (load 2 to 4,
 *      io_uring=off) tar -x of 2,869 files took a median 2.70 s
 *      [2.17-3.29] against 2.60 s [1.85-3.70] without them, 2,000 creates
 *      1.73 s against 1.62 (5 runs each, taking turns), for 15-70% more
 *      daemon CPU; so not here.)
 *   4. It offers FUSE over io_uring in the INIT reply when the kernel offers
 *      it and ring.c has a thread with a ring ready for every CPU, and it
 *      routes the replies of requests that came from a ring back to ring.c
 *      (the writev hook sees every reply libfuse makes).
 *   5. It tells colocate.c of every request it reads and every reply, so
 *      that a program's requests are served on the program's own CPU.
 *
 * File capabilities need nothing here: the daemon's own writes, truncates
 * and chowns of the lower file make the lower filesystem drop them.
 */
#include "ecfs-fuse.h"

#include <errno.h>
#include <linux/fuse.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ob/clock.h"
#include "ob/power.h"

/* The request this thread serves: libfuse processes a request on the
 * thread that read it, before that thread reads the next one.  Everything
 * shared between threads is in the mount's struct ef_wire. */
static _Thread_local bool kill_suidgid;
static _Thread_local uint32_t last_opcode;

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

/* How many bytes the READ or WRITE in buf moves; 0 for other requests. */
static uint32_t transfer_size(const void *buf, size_t len)
{
	const struct fuse_in_header *in = buf;
	const uint8_t *arg = (const uint8_t *)buf + sizeof(*in);
	size_t alen = len - sizeof(*in);

	switch (in->opcode) {
	case FUSE_READ:
		return ARG_FIELD(arg, alen, fuse_read_in, size);
	case FUSE_WRITE:
		return ARG_FIELD(arg, alen, fuse_write_in, size);
	}
	return 0;
}

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

/* The requests of a program that creates, writes or removes one file
 * after another; GETXATTR is the kernel's capability check before a write
 * or chown. */
bool ef_wire_changes_tree(uint32_t opcode)
{
	switch (opcode) {
	case FUSE_CREATE: case FUSE_MKNOD: case FUSE_MKDIR: case FUSE_SYMLINK:
	case FUSE_LINK: case FUSE_UNLINK: case FUSE_RMDIR: case FUSE_RENAME:
	case FUSE_RENAME2: case FUSE_SETATTR: case FUSE_WRITE: case FUSE_GETXATTR:
	case FUSE_SETXATTR: case FUSE_REMOVEXATTR:
		return true;
	}
	return false;
}

bool ef_wire_may_poll(struct ef_wire *w)
{
	return !w->power_aware || !ob_power_on_battery(&w->power, ob_mono_ns());
}

/* Wait for a request by polling, for at most spin_ns, if the last request
 * changed the tree and no other thread polls already.  Whatever happens,
 * read() follows: if a sleeping reader took the request meanwhile, this
 * one just sleeps in its place. */
static void spin_for_request(struct ef_wire *w, int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t end;

	/* Not while requests are served on their caller's CPU (colocate.c),
	 * unless spin= asks: a thread polling at SCHED_IDLE there keeps that
	 * CPU from looking free when a reply wakes the caller, which then
	 * moves; tar -x took 4.6-4.9 s with the window, 2.6-2.8 without. */
	if (!w->spin_ns || (w->coloc.enabled && !w->fs->o->spin_set) ||
	    !ef_wire_changes_tree(last_opcode) || !ef_wire_may_poll(w) ||
	    __atomic_exchange_n(&w->spinning, 1, __ATOMIC_ACQUIRE))
		return;
	end = ob_mono_ns() + w->spin_ns;
	while (poll(&p, 1, 0) == 0 && ob_mono_ns() < end)
		;
	__atomic_store_n(&w->spinning, 0, __ATOMIC_RELEASE);
}

#define INIT_IN_FLAGS_END	(offsetof(struct fuse_init_in, flags) + 4)
#define INIT_IN_FLAGS2_END	(offsetof(struct fuse_init_in, flags2) + 4)

void ef_wire_note_request(const void *buf, size_t len)
{
	const struct fuse_in_header *in = buf;

	last_opcode = in->opcode;
	kill_suidgid = wants_kill(buf, len);
}

/* userdata: the session's, our struct ef_fs. */
static ssize_t wire_read(int fd, void *buf, size_t len, void *userdata)
{
	struct ef_wire *w = &((struct ef_fs *)userdata)->wire;
	const struct fuse_in_header *in = buf;
	ssize_t n;

	spin_for_request(w, fd);
	n = read(fd, buf, len);
	kill_suidgid = false;
	last_opcode = 0;
	if (n < (ssize_t)sizeof(*in))
		return n;
	ef_wire_note_request(buf, (size_t)n);
	ef_colocate_request(&w->coloc, in->pid, in->opcode, transfer_size(buf, (size_t)n));
	if (in->opcode == FUSE_INIT && (size_t)n >= sizeof(*in) + INIT_IN_FLAGS_END) {
		struct fuse_init_in init = {0};

		/* major, minor, readahead, flags and, if sent, flags2 */
		memcpy(&init, in + 1, (size_t)n >= sizeof(*in) + INIT_IN_FLAGS2_END ?
				      INIT_IN_FLAGS2_END : INIT_IN_FLAGS_END);
		__atomic_store_n(&w->init_kernel_flags, init.flags, __ATOMIC_RELAXED);
		__atomic_store_n(&w->init_kernel_flags2, init.flags2, __ATOMIC_RELAXED);
		__atomic_store_n(&w->init_unique, in->unique, __ATOMIC_RELEASE);
	}
	return n;
}

/* Offer FUSE over io_uring in the INIT reply if the kernel offered it and
 * every queue's threads are ready for it (ring.c). */
static bool offer_ring(struct ef_wire *w, int fd, const struct fuse_init_out *init, size_t n)
{
	uint32_t flags = __atomic_load_n(&w->init_kernel_flags, __ATOMIC_RELAXED);
	uint32_t flags2 = __atomic_load_n(&w->init_kernel_flags2, __ATOMIC_RELAXED);
	size_t payload = EF_RING_MIN_PAYLOAD, page = (size_t)sysconf(_SC_PAGESIZE);

	if (!w->use_ring || !(flags & FUSE_INIT_EXT) || !(flags2 & EF_RING_INIT_FLAG2) ||
	    n < offsetof(struct fuse_init_out, flags2) + sizeof(init->flags2))
		return false;
	if (init->max_write > payload)
		payload = init->max_write;
	if (init->max_pages * page > payload)
		payload = init->max_pages * page;
	return ef_ring_prepare(w, fd, payload) == 0;
}

static ssize_t wire_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct ef_wire *w = &((struct ef_fs *)userdata)->wire;
	const struct fuse_out_header *out = iov[0].iov_base;
	uint64_t unique = __atomic_load_n(&w->init_unique, __ATOMIC_ACQUIRE);
	struct fuse_init_out init;
	ssize_t res;

	if (ef_ring_reply(iov, count, &res))
		return res;
	ef_colocate_replied(&w->coloc);
	if (unique && count == 2 && iov[0].iov_len == sizeof(*out) && out->unique == unique &&
	    out->error == 0 && iov[1].iov_len >= offsetof(struct fuse_init_out, flags) + 4) {
		uint32_t offered = __atomic_load_n(&w->init_kernel_flags, __ATOMIC_RELAXED);
		size_t n = iov[1].iov_len < sizeof(init) ? iov[1].iov_len : sizeof(init);
		struct iovec patched[2] = { iov[0], { &init, n } };
		bool ring;

		memset(&init, 0, sizeof(init));
		memcpy(&init, iov[1].iov_base, n);
		init.flags |= offered & (FUSE_PARALLEL_DIROPS | FUSE_HANDLE_KILLPRIV_V2);
		ring = offer_ring(w, fd, &init, n);
		if (ring) {
			init.flags |= FUSE_INIT_EXT;
			init.flags2 |= EF_RING_INIT_FLAG2;
		}
		__atomic_store_n(&w->init_unique, 0, __ATOMIC_RELAXED);
		res = writev(fd, patched, 2);
		if (ring)
			ef_ring_go(w, res >= 0);
		if (res >= 0)	/* the kernel took it, and with it the 128 KiB cap */
			ef_readahead_set(w->fs);
		return res;
	}
	return writev(fd, iov, count);
}

int ef_wire_install(struct ef_wire *w, struct fuse_session *se, struct ef_fs *fs,
		    unsigned spin_us, bool ring)
{
	static const struct fuse_custom_io io = {
		.read = wire_read,
		.writev = wire_writev,
	};
	int rc;

	memset(w, 0, sizeof(*w));
	w->se = se;
	w->fs = fs;
	w->use_ring = ring;
	w->power_aware = !fs->o->spin_set;
	if (sysconf(_SC_NPROCESSORS_ONLN) > 1)
		w->spin_ns = (uint64_t)spin_us * 1000;
	ef_colocate_start(&w->coloc, fs, fuse_session_fd(se));
	rc = fuse_session_custom_io(se, &io, fuse_session_fd(se));
	if (rc)
		ef_colocate_stop(&w->coloc);
	return rc;
}

void ef_wire_stop(struct ef_wire *w)
{
	ef_ring_stop(w);
	ef_colocate_stop(&w->coloc);
}
