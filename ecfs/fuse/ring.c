// SPDX-License-Identifier: MIT
/* ring.c - FUSE over io_uring: requests reach the daemon through per-CPU
 * queues of ring entries instead of read() and writev() on /dev/fuse.
 *
 * Why: a program that creates or removes one file after another waits for
 * every reply, so each request is two wake-ups, and with /dev/fuse each
 * lands on whichever CPU is idle: the daemon wakes on one, the program on
 * the other, and on a VM every such wake-up of an idle vCPU costs tens of
 * microseconds.  With io_uring the kernel puts a request on the queue of
 * the CPU its sender runs on, and the threads serving that queue are pinned
 * to that CPU, so the hand-over to the daemon stays on one CPU (except
 * during long runs of reads and writes: follow_workload()).  A reply and
 * the fetch of the next request are also one system call, not two.
 *
 * Kernels from 6.14 offer it when the fuse module's enable_uring parameter
 * is on; libfuse learned it in 3.18, Debian 12 ships 3.14, so this file
 * speaks the protocol itself (include/uapi/linux/fuse.h, "fuse-io-uring")
 * and hands each request to libfuse as if read from the device:
 *
 *   - INIT still comes through /dev/fuse.  Before wire.c lets the INIT
 *     reply offer FUSE_OVER_IO_URING, ef_ring_prepare() starts the threads
 *     and each sets up its ring and buffers; only if all of them could does
 *     the reply say yes.  This matters: once the kernel has been told yes,
 *     it holds every request until each CPU's queue has an entry, so a
 *     queue that never registers would hang the mount.  (A REGISTER the
 *     kernel refuses is fine: it falls back to /dev/fuse by itself.)
 *   - A request arrives as fuse_in_header + the op's fixed argument in a
 *     header buffer and the rest (names, write data) in a payload buffer.
 *     The payload buffer sits just after some slack, where the two headers
 *     are copied, so libfuse sees the usual contiguous request without the
 *     data being copied.
 *   - The reply goes through wire.c's writev hook, which gives it to
 *     ef_ring_reply() when it answers the request this thread is serving;
 *     notifications and replies to requests from /dev/fuse go to the device.
 *   - FORGET and INTERRUPT still come through /dev/fuse, served by libfuse's
 *     own threads.
 *
 * Each CPU's queue gets RING_THREADS threads with one entry each.  The
 * kernel gives a new request to the entry freed most recently, so one hot
 * thread serves a sequential program and the others take what arrives
 * while it is busy.
 */
#include "ecfs-fuse.h"

#include <errno.h>
#include <stddef.h>
#include <liburing.h>
#include <poll.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

/* The io_uring part of the FUSE protocol (kernel ABI 7.42); Debian 12's
 * linux/fuse.h predates it. */
#define RING_OVER_IO_URING	(1ULL << 41)
#define RING_CMD_REGISTER	1
#define RING_CMD_COMMIT_AND_FETCH 2
#define RING_HDR_SZ		128

struct ring_ent_in_out {
	uint64_t flags;
	uint64_t commit_id;
	uint32_t payload_sz;
	uint32_t padding;
	uint64_t reserved;
};

struct ring_req_header {
	uint8_t in_out[RING_HDR_SZ];	/* fuse_in_header, then fuse_out_header */
	uint8_t op_in[RING_HDR_SZ];	/* the op's fixed argument */
	struct ring_ent_in_out ent;
};

struct ring_cmd_req {
	uint64_t flags;
	uint64_t commit_id;
	uint16_t qid;
	uint8_t padding[6];
};

#define RING_THREADS	2		/* per CPU */
#define RING_DATA_RUN	512		/* reads/writes in a row that unpin, */
#define RING_DATA_UNIT	65536		/* each counting once more per 64 KiB */
#define TAG_REQUEST	1		/* user_data of our ring commands */
#define TAG_STOP	2

enum ring_phase { RP_SETUP, RP_READY, RP_GO, RP_CANCEL };

struct ring_thread {
	struct ef_ring *r;		/* the rings of this mount */
	pthread_t tid;
	unsigned qid;
	struct io_uring ring;
	bool ring_up;
	struct ring_req_header hdr;
	struct iovec iov[2];		/* hdr and payload, for REGISTER */
	uint8_t *mem;			/* slack, then the payload */
	size_t mem_len;
	uint8_t *payload;
	size_t payload_len;
	uint64_t unique;		/* of the request being served */
	bool replied;
	bool pinned;			/* to CPU qid */
	unsigned data_run;		/* reads and writes in a row */
	cpu_set_t anywhere;		/* the affinity we started with */
};

/* The rings of one mount, owned by its transport (struct ef_wire). */
struct ef_ring {
	struct ef_wire *w;
	struct fuse_session *se;
	struct ef_fs *fs;
	int devfd;
	int stopfd;			/* eventfd: written once to stop */
	unsigned nthreads;
	struct ring_thread *threads;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned ready, failed;		/* threads done with setup */
	int setup_err;			/* the first failure's errno */
	enum ring_phase phase;
};

static _Thread_local struct ring_thread *serving;

/* What num_possible_cpus() is in the kernel: queues are indexed by CPU.
 * Only the usual "0" or "0-N": with holes in the mask a CPU number could
 * be past the queue count, and a queue we do not register would hold up
 * every request, so then no rings (0). */
static unsigned possible_cpus(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/possible", "re");
	char line[64], *p = line, *q;
	unsigned long lo, hi;

	if (!f)
		return 0;
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	lo = hi = strtoul(line, &p, 10);
	if (p == line)
		return 0;
	if (*p == '-') {
		hi = strtoul(q = p + 1, &p, 10);
		if (p == q)
			return 0;
	}
	if (*p != '\n' && *p != '\0')
		return 0;		/* "0-3,5": a hole */
	return lo == 0 && hi < 4096 ? (unsigned)hi + 1 : 0;
}

/* Run on the queue's CPU only, or anywhere (the mask we started with). */
static void pin(struct ring_thread *t, bool on)
{
	cpu_set_t set;

	if (on) {
		CPU_ZERO(&set);
		CPU_SET(t->qid, &set);
	} else {
		set = t->anywhere;
	}
	/* A CPU that is offline or not ours: the thread stays unpinned. */
	if (!pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
		t->pinned = on;
}

/*
 * Stay on the queue's CPU while requests come as a chain of small ones of
 * every kind (tar -x, rm -r, make); let go after a run of reads and writes
 * only (fio, dd, a database): there the requester would be moved to the
 * other CPU on every reply, which cost more than the wake-ups pinning
 * saves (4 KiB random reads: 27k IOPS pinned, 33k not).  The run is long
 * (512 small requests, or 32 MiB) because tar writes a big file in 10 KiB
 * pieces, and letting go and pinning again inside one extract cost more
 * than either.
 */
static void follow_workload(struct ring_thread *t, const struct fuse_in_header *in)
{
	uint32_t size = 0;

	if (in->opcode != FUSE_READ && in->opcode != FUSE_WRITE) {
		t->data_run = 0;
		if (!t->pinned)
			pin(t, true);
		return;
	}
	_Static_assert(offsetof(struct fuse_read_in, size) == offsetof(struct fuse_write_in, size),
		       "READ and WRITE keep their size in the same place");
	if (in->len >= sizeof(*in) + offsetof(struct fuse_read_in, size) + sizeof(size))
		memcpy(&size, (const uint8_t *)(in + 1) + offsetof(struct fuse_read_in, size),
		       sizeof(size));
	t->data_run += 1 + size / RING_DATA_UNIT;
	if (t->data_run >= RING_DATA_RUN && t->pinned)
		pin(t, false);
}

static void set_phase_locked(struct ef_ring *r, enum ring_phase p)
{
	r->phase = p;
	pthread_cond_broadcast(&r->cond);
}

static int thread_setup(struct ring_thread *t)
{
	struct ef_ring *r = t->r;
	struct io_uring_params p = {
		.flags = IORING_SETUP_SQE128 | IORING_SETUP_SINGLE_ISSUER |
			 IORING_SETUP_DEFER_TASKRUN,
	};
	struct io_uring_sqe *sqe;
	size_t slack = 4096;	/* fuse_in_header + op argument; keeps the payload page-aligned */
	int err;

	err = io_uring_queue_init_params(4, &t->ring, &p);
	if (err)
		return err;
	t->ring_up = true;
	t->mem_len = slack + t->payload_len;
	t->mem = mmap(NULL, t->mem_len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (t->mem == MAP_FAILED) {
		t->mem = NULL;
		return -ENOMEM;
	}
	t->payload = t->mem + slack;
	sqe = io_uring_get_sqe(&t->ring);
	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_add(sqe, r->stopfd, POLLIN);
	io_uring_sqe_set_data64(sqe, TAG_STOP);
	return 0;
}

static void queue_cmd(struct ring_thread *t, uint32_t op)
{
	struct ef_ring *r = t->r;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&t->ring);
	struct ring_cmd_req cmd = {
		.qid = (uint16_t)t->qid,
		.commit_id = op == RING_CMD_COMMIT_AND_FETCH ? t->unique : 0,
	};
	/* An SQE128 slot: the command data runs past struct io_uring_sqe. */
	uint8_t *slot = (uint8_t *)(uintptr_t)sqe;

	/* The ring has room: one command and the stop poll are all it holds. */
	memset(slot, 0, 2 * sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = r->devfd;
	sqe->cmd_op = op;
	t->iov[0] = (struct iovec){ &t->hdr, sizeof(t->hdr) };
	t->iov[1] = (struct iovec){ t->payload, t->payload_len };
	sqe->addr = (uint64_t)(uintptr_t)t->iov;
	sqe->len = 2;
	memcpy(slot + offsetof(struct io_uring_sqe, cmd), &cmd, sizeof(cmd));
	io_uring_sqe_set_data64(sqe, TAG_REQUEST);
}

/* Answer the request in t->hdr without libfuse, with an error. */
static void reply_error(struct ring_thread *t, int err)
{
	struct fuse_out_header out = {
		.len = sizeof(out), .error = -err, .unique = t->unique,
	};

	memcpy(t->hdr.in_out, &out, sizeof(out));
	t->hdr.ent.payload_sz = 0;
	t->replied = true;
}

static void serve(struct ring_thread *t)
{
	struct ef_ring *r = t->r;
	struct fuse_in_header in;
	uint32_t psz = t->hdr.ent.payload_sz;
	size_t oplen;
	uint8_t *req;

	memcpy(&in, t->hdr.in_out, sizeof(in));
	t->unique = in.unique;
	t->replied = false;
	if (in.len < sizeof(in) + (size_t)psz || psz > t->payload_len ||
	    (oplen = in.len - sizeof(in) - psz) > RING_HDR_SZ) {
		ef_log(r->fs, &r->fs->root,
		       "fuse-io-uring: malformed request (opcode %u, length %u, payload %u)",
		       in.opcode, in.len, psz);
		reply_error(t, EIO);
		return;
	}
	req = t->payload - sizeof(in) - oplen;
	memcpy(req, &in, sizeof(in));
	memcpy(req + sizeof(in), t->hdr.op_in, oplen);
	ef_wire_note_request(req, in.len);
	follow_workload(t, (const struct fuse_in_header *)req);
	serving = t;
	fuse_session_process_buf(r->se, &(struct fuse_buf){ .size = in.len, .mem = req });
	serving = NULL;
	if (!t->replied)	/* every op we have replies before it returns */
		reply_error(t, EIO);
	if (ef_wire_changes_tree(in.opcode) && ef_wire_may_poll(r->w))
		ef_idlepoll_kick(&r->w->idle);
}

uint8_t *ef_ring_reply_buffer(size_t len)
{
	struct ring_thread *t = serving;

	return t && len <= t->payload_len ? t->payload : NULL;
}

bool ef_ring_reply(const struct iovec *iov, int count, ssize_t *res)
{
	struct ring_thread *t = serving;
	const struct fuse_out_header *out = iov[0].iov_base;
	size_t len = 0;

	if (!t || t->replied || iov[0].iov_len != sizeof(*out) || out->unique != t->unique)
		return false;
	for (int i = 1; i < count; i++) {
		if (iov[i].iov_len > t->payload_len - len) {
			reply_error(t, EIO);
			*res = -1;
			errno = EINVAL;
			return true;
		}
		if (iov[i].iov_base != t->payload + len)	/* else: built in place */
			memmove(t->payload + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	memcpy(t->hdr.in_out, out, sizeof(*out));
	t->hdr.ent.payload_sz = (uint32_t)len;
	t->replied = true;
	*res = (ssize_t)(sizeof(*out) + len);
	return true;
}

/* Wait for the INIT reply's fate: true when the entries may register. */
static bool wait_for_go(struct ef_ring *r, int setup_err)
{
	bool go;

	pthread_mutex_lock(&r->lock);
	if (setup_err) {
		if (!r->failed++)
			r->setup_err = -setup_err;
	} else {
		r->ready++;
	}
	pthread_cond_broadcast(&r->cond);
	while (r->phase == RP_SETUP || r->phase == RP_READY)
		pthread_cond_wait(&r->cond, &r->lock);
	go = r->phase == RP_GO && !setup_err;
	pthread_mutex_unlock(&r->lock);
	return go;
}

static void *ring_main(void *arg)
{
	struct ring_thread *t = arg;
	struct io_uring_cqe *cqe;
	bool registered = false;
	char name[16];
	int err;

	snprintf(name, sizeof(name), "ecfs-ring%u", t->qid);
	(void)pthread_setname_np(pthread_self(), name);	/* for top -H, ps -L */
	if (pthread_getaffinity_np(pthread_self(), sizeof(t->anywhere), &t->anywhere))
		CPU_ZERO(&t->anywhere);
	pin(t, true);
	err = thread_setup(t);
	if (!wait_for_go(t->r, err))
		goto out;
	queue_cmd(t, RING_CMD_REGISTER);
	for (;;) {
		uint64_t tag;
		int res;

		err = io_uring_submit_and_wait(&t->ring, 1);
		if (err < 0 && err != -EINTR)
			break;
		if (io_uring_peek_cqe(&t->ring, &cqe))
			continue;
		tag = io_uring_cqe_get_data64(cqe);
		res = cqe->res;
		io_uring_cqe_seen(&t->ring, cqe);
		if (tag == TAG_STOP)
			break;
		if (res < 0) {
			/* Refused at REGISTER: the kernel serves /dev/fuse
			 * instead.  Else the connection is going away. */
			if (!registered && res != -ENOTCONN && res != -ECANCELED)
				ef_log(t->r->fs, &t->r->fs->root,
				       "fuse-io-uring: queue %u refused (%s); using /dev/fuse",
				       t->qid, strerror(-res));
			break;
		}
		registered = true;
		serve(t);
		queue_cmd(t, RING_CMD_COMMIT_AND_FETCH);
	}
out:
	if (t->ring_up)
		io_uring_queue_exit(&t->ring);
	if (t->mem)
		munmap(t->mem, t->mem_len);
	return NULL;
}

static void stop_threads(struct ef_ring *r, unsigned started)
{
	uint64_t one = 1;

	if (r->stopfd >= 0)
		(void)!write(r->stopfd, &one, sizeof(one));
	for (unsigned i = 0; i < started; i++)
		pthread_join(r->threads[i].tid, NULL);
	free(r->threads);
	r->threads = NULL;
	r->nthreads = 0;
	if (r->stopfd >= 0)
		close(r->stopfd);
	r->stopfd = -1;
}

static void ring_free(struct ef_wire *w)
{
	struct ef_ring *r = w->ring;

	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	free(r);
	w->ring = NULL;
}

int ef_ring_prepare(struct ef_wire *w, int devfd, size_t payload_len)
{
	unsigned cpus = possible_cpus(), started = 0;
	struct ef_fs *fs = w->fs;
	struct ef_ring *r;
	sigset_t all, old;

	if (!cpus || w->ring)
		return -1;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -1;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	r->stopfd = -1;
	r->w = w;
	r->se = w->se;
	w->ring = r;
	r->fs = fs;
	r->devfd = devfd;
	r->phase = RP_SETUP;
	r->ready = r->failed = 0;
	r->setup_err = EAGAIN;	/* a thread that did not start */
	r->stopfd = eventfd(0, EFD_CLOEXEC);
	r->threads = calloc((size_t)cpus * RING_THREADS, sizeof(*r->threads));
	if (r->stopfd < 0 || !r->threads)
		goto fail;
	r->nthreads = cpus * RING_THREADS;
	/* Signals go to the session loop's thread, as with libfuse's workers:
	 * it is the one that must wake up and end the loop. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (; started < r->nthreads; started++) {
		struct ring_thread *t = &r->threads[started];

		t->r = r;
		t->qid = started / RING_THREADS;
		t->payload_len = payload_len;
		if (pthread_create(&t->tid, NULL, ring_main, t))
			break;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_mutex_lock(&r->lock);
	while (r->ready + r->failed < started)
		pthread_cond_wait(&r->cond, &r->lock);
	if (started == r->nthreads && !r->failed) {
		set_phase_locked(r, RP_READY);
		pthread_mutex_unlock(&r->lock);
		return 0;
	}
	set_phase_locked(r, RP_CANCEL);
	pthread_mutex_unlock(&r->lock);
	ef_log(fs, &fs->root, "fuse-io-uring: cannot set up the rings (%s); using /dev/fuse",
	       strerror(r->setup_err));
	stop_threads(r, started);
	ring_free(w);
	return -1;
fail:
	stop_threads(r, 0);
	ring_free(w);
	return -1;
}

void ef_ring_go(struct ef_wire *w, bool init_sent)
{
	struct ef_ring *r = w->ring;

	if (!r || !r->threads)
		return;
	pthread_mutex_lock(&r->lock);
	set_phase_locked(r, init_sent ? RP_GO : RP_CANCEL);
	pthread_mutex_unlock(&r->lock);
	if (init_sent)
		ef_idlepoll_start(&w->idle, r->nthreads / RING_THREADS, w->spin_ns);
}

void ef_ring_stop(struct ef_wire *w)
{
	struct ef_ring *r = w->ring;

	if (!r)
		return;
	if (r->threads) {
		ef_idlepoll_stop(&w->idle);
		ef_ring_go(w, false);	/* threads still waiting for INIT give up */
		stop_threads(r, r->nthreads);
	}
	ring_free(w);
}
