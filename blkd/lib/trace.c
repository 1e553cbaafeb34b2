/* SPDX-License-Identifier: MIT */
/*
 * trace.c - queue events as blktrace files, so the stock blkparse and btt
 * read them (spec D).
 *
 * Record: struct blk_io_trace, protocol version 7, 48 bytes, native byte
 * order (blkparse swaps a stream whose magic reads backwards):
 *
 *   off size field     what we put there
 *    0   4   magic     0x65617400 | 7
 *    4   4   sequence  per file, from 1, +1 per record (notes included)
 *    8   8   time      ns since blkd_blktrace_open (CLOCK_MONOTONIC)
 *   16   8   sector    offset / 512
 *   24   4   bytes     length
 *   28   4   action    code | category bits << 16 (tables below)
 *   32   4   pid       the logging thread's tid
 *   36   4   device    major << 20 | minor (BLKD_BLKTRACE_DEV)
 *   40   4   cpu       the file's N
 *   44   2   error     positive errno on C
 *   46   2   pdu_len   payload bytes that follow
 *
 * Files: NAME.blktrace.N, one per thread that logs.  A thread takes a file
 * at its first event and gives it back when it exits (a pthread key
 * destructor), so the next new thread continues that file: N stays small
 * and contiguous, which blkparse -i NAME needs (it stops at the first
 * missing N).  Each thread writes only its own file, stamping each record
 * as it writes it, so times inside a file never go back.  A file begins
 * with a timestamp note (wall clock at time 0); a thread's first record in
 * a file is preceded by a process note carrying its name.
 *
 * The end of the file turns the queue's events into trace records for
 * the hook a queue was given (__blkd_trace and friends, q->lock held).
 *
 * Cost: one clock read, a 48-byte copy into a 64 KiB per-thread buffer, a
 * write(2) per 64 KiB; no lock on the way (bench/blkd-multipath measures).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "blkd-int.h"
#include "ob/clock.h"

/* ---- the format (blktrace_api.h, version 7) ------------------------------ */
#define BT_MAGIC	0x65617400u
#define BT_VERSION	0x07u

struct bt_record {
	uint32_t magic, sequence;
	uint64_t time, sector;
	uint32_t bytes, action, pid, device, cpu;
	uint16_t error, pdu_len;
};
_Static_assert(sizeof(struct bt_record) == 48, "blk_io_trace is 48 bytes");

/* categories, as they sit in the top 16 bits of action */
#define TC_READ		(1u << 0)
#define TC_WRITE	(1u << 1)
#define TC_FLUSH	(1u << 2)
#define TC_SYNC		(1u << 3)
#define TC_QUEUE	(1u << 4)
#define TC_REQUEUE	(1u << 5)
#define TC_ISSUE	(1u << 6)
#define TC_COMPLETE	(1u << 7)
#define TC_NOTIFY	(1u << 10)
#define TC_AHEAD	(1u << 11)
#define TC_DISCARD	(1u << 13)
#define TC_FUA		(1u << 15)
#define TC_ACT(c)	((uint32_t)(c) << 16)

/* action codes */
enum { TA_QUEUE = 1, TA_BACKMERGE, TA_FRONTMERGE, TA_GETRQ, TA_SLEEPRQ, TA_REQUEUE,
       TA_ISSUE, TA_COMPLETE, TA_PLUG, TA_UNPLUG_IO, TA_UNPLUG_TIMER, TA_INSERT };
enum { TN_PROCESS = 0, TN_TIMESTAMP = 1, TN_MESSAGE = 2 };

/* our event letter -> action code with its category */
static uint32_t ev_action(enum blkd_trace_event ev)
{
	switch (ev) {
	case BLKD_EV_QUEUE: return TA_QUEUE | TC_ACT(TC_QUEUE);
	case BLKD_EV_BACKMERGE: return TA_BACKMERGE | TC_ACT(TC_QUEUE);
	case BLKD_EV_FRONTMERGE: return TA_FRONTMERGE | TC_ACT(TC_QUEUE);
	case BLKD_EV_GETRQ: return TA_GETRQ | TC_ACT(TC_QUEUE);
	case BLKD_EV_INSERT: return TA_INSERT | TC_ACT(TC_QUEUE);
	case BLKD_EV_ISSUE: return TA_ISSUE | TC_ACT(TC_ISSUE);
	case BLKD_EV_COMPLETE: return TA_COMPLETE | TC_ACT(TC_COMPLETE);
	case BLKD_EV_REQUEUE: return TA_REQUEUE | TC_ACT(TC_REQUEUE);
	case BLKD_EV_PLUG: return TA_PLUG | TC_ACT(TC_QUEUE);
	case BLKD_EV_UNPLUG: return TA_UNPLUG_IO | TC_ACT(TC_QUEUE);
	default: return 0;
	}
}

/* op -> rwbs categories, the kernel's conventions (spec D.2): a flush is
 * an empty write with FLUSH and SYNC ("FWS"), FUA implies SYNC ("WFS"), a
 * discard is a write with DISCARD ("D"), a prefetch a read-ahead ("RA") */
static uint32_t op_categories(enum blkd_op op, bool fua)
{
	uint32_t c;

	switch (op) {
	case BLKD_OP_READ: c = TC_READ; break;
	case BLKD_OP_CACHE: c = TC_READ | TC_AHEAD; break;
	case BLKD_OP_FLUSH: c = TC_WRITE | TC_FLUSH | TC_SYNC; break;
	case BLKD_OP_TRIM: c = TC_WRITE | TC_DISCARD; break;
	default: c = TC_WRITE; break;
	}
	if (fua)
		c |= TC_FUA | TC_SYNC;
	return TC_ACT(c);
}

/* ---- files and per-thread buffers ---------------------------------------- */
#define BT_BUF (64u << 10)

struct bt_file {
	struct blkd_blktrace *bt;
	int fd;
	unsigned cpu;
	uint32_t seq;
	pid_t tid;			/* the thread whose name was last noted */
	size_t used;
	struct bt_file *next_free;	/* bt->free, under bt->lock */
	struct bt_file *next_all;
	unsigned char buf[BT_BUF];
};

struct blkd_blktrace {
	char *dir, *name;
	uint64_t t0;			/* CLOCK_MONOTONIC ns at open */
	struct timespec wall0;		/* CLOCK_REALTIME at open */
	pthread_key_t key;
	pthread_mutex_t lock;
	/* guarded by lock */
	struct bt_file *all, *free;
	unsigned nr_files;
	int err;
};

static void set_err(struct blkd_blktrace *bt, int err)
{
	pthread_mutex_lock(&bt->lock);
	if (!bt->err)
		bt->err = err;
	pthread_mutex_unlock(&bt->lock);
}

static void file_flush(struct bt_file *f)
{
	size_t off = 0;

	while (off < f->used) {
		ssize_t w = write(f->fd, f->buf + off, f->used - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			set_err(f->bt, -errno);
			break;
		}
		off += (size_t)w;
	}
	f->used = 0;
}

/* Append one record and its payload. */
static void file_put(struct bt_file *f, uint64_t time, uint64_t off, uint32_t bytes,
		     uint32_t action, uint32_t dev, int error, const void *pdu, uint16_t pdu_len)
{
	struct bt_record r = {
		.magic = BT_MAGIC | BT_VERSION, .sequence = ++f->seq, .time = time,
		.sector = off >> 9, .bytes = bytes, .action = action, .pid = (uint32_t)f->tid,
		.device = dev, .cpu = f->cpu, .error = (uint16_t)(error < 0 ? -error : error),
		.pdu_len = pdu_len,
	};

	if (f->used + sizeof(r) + pdu_len > BT_BUF)
		file_flush(f);
	memcpy(f->buf + f->used, &r, sizeof(r));
	if (pdu_len)
		memcpy(f->buf + f->used + sizeof(r), pdu, pdu_len);
	f->used += sizeof(r) + pdu_len;
}

static void thread_gone(void *arg)
{
	struct bt_file *f = arg;
	struct blkd_blktrace *bt = f->bt;

	file_flush(f);
	pthread_mutex_lock(&bt->lock);
	f->next_free = bt->free;
	bt->free = f;
	pthread_mutex_unlock(&bt->lock);
}

/* The calling thread's file, taking a free one or opening a new one. */
static struct bt_file *thread_file(struct blkd_blktrace *bt, uint32_t dev)
{
	struct bt_file *f = pthread_getspecific(bt->key);
	char path[4096];

	if (f)
		return f;
	pthread_mutex_lock(&bt->lock);
	if (bt->err) {
		pthread_mutex_unlock(&bt->lock);
		return NULL;
	}
	f = bt->free;
	if (f) {
		bt->free = f->next_free;
	} else {
		f = calloc(1, sizeof(*f));
		if (!f) {
			bt->err = -ENOMEM;
			pthread_mutex_unlock(&bt->lock);
			return NULL;
		}
		snprintf(path, sizeof(path), "%s/%s.blktrace.%u", bt->dir, bt->name, bt->nr_files);
		f->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (f->fd < 0) {
			bt->err = -errno;
			free(f);
			pthread_mutex_unlock(&bt->lock);
			return NULL;
		}
		f->bt = bt;
		f->cpu = bt->nr_files++;
		f->next_all = bt->all;
		bt->all = f;
		/* the timestamp note: wall clock at trace time 0 */
		uint32_t ts[2] = { (uint32_t)bt->wall0.tv_sec, (uint32_t)bt->wall0.tv_nsec };
		file_put(f, 0, 0, 0, TN_TIMESTAMP | TC_ACT(TC_NOTIFY), dev, 0, ts, sizeof(ts));
	}
	pthread_mutex_unlock(&bt->lock);
	f->tid = 0;
	pthread_setspecific(bt->key, f);
	return f;
}

/* gettid() is a real system call; five events per request made it the
 * largest part of the tracing cost (0.84x IOPS on 4 KiB reads). */
static __thread pid_t my_tid;

void blkd_blktrace_event(struct blkd_blktrace *bt, uint32_t dev, const struct blkd_trace_rec *r)
{
	struct bt_file *f = thread_file(bt, dev);
	uint64_t now;
	pid_t tid;

	if (!f)
		return;
	now = ob_mono_ns() - bt->t0;
	if (!my_tid)
		my_tid = gettid();
	tid = my_tid;
	if (f->tid != tid) {		/* a new thread in this file: name it */
		char name[16] = "blkd";

		f->tid = tid;
		pthread_getname_np(pthread_self(), name, sizeof(name));
		file_put(f, now, 0, 0, TN_PROCESS | TC_ACT(TC_NOTIFY), dev, 0, name, sizeof(name));
	}
	if (r->ev == BLKD_EV_MESSAGE) {
		size_t n = strnlen(r->msg, 200);

		file_put(f, now, 0, 0, TN_MESSAGE | TC_ACT(TC_NOTIFY), dev, 0, r->msg, (uint16_t)n);
		return;
	}
	if (r->ev == BLKD_EV_PLUG || r->ev == BLKD_EV_UNPLUG) {
		/* unplug carries the number of requests, big-endian u64 */
		uint64_t be = __builtin_bswap64((uint64_t)r->count);

		file_put(f, now, 0, 0, ev_action(r->ev), dev, 0, &be,
			 r->ev == BLKD_EV_UNPLUG ? sizeof(be) : 0);
		return;
	}
	file_put(f, now, r->off, (uint32_t)r->len, ev_action(r->ev) | op_categories(r->op, r->fua),
		 dev, r->ev == BLKD_EV_COMPLETE ? r->error : 0, NULL, 0);
}

int blkd_blktrace_open(const char *dir, const char *name, struct blkd_blktrace **out,
		       struct ob_err *err)
{
	struct blkd_blktrace *bt;
	char path[4096];
	int rc;

	if (mkdir(dir, 0755) && errno != EEXIST) {
		return ob_err_set(err, -errno, "%s: cannot create", dir);
	}
	bt = calloc(1, sizeof(*bt));
	if (!bt)
		return -ENOMEM;
	bt->dir = strdup(dir);
	bt->name = strdup(name);
	rc = -ENOMEM;
	if (!bt->dir || !bt->name)
		goto err_free;
	/* stale files of an older run would be read as further CPUs */
	for (unsigned i = 0; ; i++) {
		snprintf(path, sizeof(path), "%s/%s.blktrace.%u", dir, name, i);
		if (unlink(path))
			break;
	}
	rc = -pthread_key_create(&bt->key, thread_gone);
	if (rc) {
		ob_err_set(err, rc, "pthread_key_create");
		goto err_free;
	}
	pthread_mutex_init(&bt->lock, NULL);
	clock_gettime(CLOCK_REALTIME, &bt->wall0);
	bt->t0 = ob_mono_ns();
	*out = bt;
	return 0;
err_free:
	free(bt->dir);
	free(bt->name);
	free(bt);
	return rc;
}

int blkd_blktrace_error(struct blkd_blktrace *bt)
{
	int err;

	pthread_mutex_lock(&bt->lock);
	err = bt->err;
	pthread_mutex_unlock(&bt->lock);
	return err;
}

int blkd_blktrace_close(struct blkd_blktrace *bt)
{
	int err;

	if (!bt)
		return 0;
	pthread_key_delete(bt->key);	/* no destructor runs after this */
	for (struct bt_file *f = bt->all, *next; f; f = next) {
		next = f->next_all;
		file_flush(f);
		if (close(f->fd) && !bt->err)
			bt->err = -errno;
		free(f);
	}
	err = bt->err;
	pthread_mutex_destroy(&bt->lock);
	free(bt->dir);
	free(bt->name);
	free(bt);
	return err;
}

/* ---- queue events to the trace hook ------------------------------------- */

static const char *rq_kind(enum blkd_op op, bool fua)
{
	static const char *const k[BLKD_OP_NR][2] = {
		[BLKD_OP_READ] = { "R", "RF" }, [BLKD_OP_WRITE] = { "W", "WF" },
		[BLKD_OP_FLUSH] = { "FL", "FL" }, [BLKD_OP_TRIM] = { "T", "TF" },
		[BLKD_OP_ZERO] = { "Z", "ZF" }, [BLKD_OP_CACHE] = { "C", "C" },
	};
	return (unsigned)op < BLKD_OP_NR ? k[op][fua] : "?";
}

void __blkd_trace(struct blkd_queue *q, enum blkd_trace_event ev,
		  const struct blkd_request *rq, const struct blkd_bio *bio)
{
	static const char *const steps[] = { "", "pre", "bar", "post" };
	struct blkd_trace_rec r = { .ev = ev, .step = "" };

	if (!q->trace)
		return;
	if (rq) {
		r.op = rq->op;
		r.fua = rq->flags & RQ_FUA;
		r.step = steps[rq->step];
		r.off = rq->off;
		r.len = rq->len;
		r.error = rq->error;
		r.nr_bios = rq->nr_bios;
	} else {
		r.op = bio->op;
		r.fua = bio->flags & BLKD_F_FUA;
		r.off = bio->off;
		r.len = bio->len;
		r.nr_bios = 1;
	}
	r.kind = rq_kind(r.op, r.fua);
	q->trace(q->trace_arg, &r);
}

/* A plug/unplug pair around a batch, or a free-text note. */
void __blkd_trace_batch(struct blkd_queue *q, enum blkd_trace_event ev, unsigned n)
{
	struct blkd_trace_rec r = { .ev = ev, .step = "", .kind = "-", .count = n };

	if (q->trace)
		q->trace(q->trace_arg, &r);
}

void __blkd_trace_msg(struct blkd_queue *q, const char *msg)
{
	struct blkd_trace_rec r = { .ev = BLKD_EV_MESSAGE, .step = "", .kind = "-", .msg = msg };

	if (q->trace)
		q->trace(q->trace_arg, &r);
}

