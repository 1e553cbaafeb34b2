// SPDX-License-Identifier: MIT
/* colocate.c - serve a program's requests on the CPU the program runs on,
 * while requests come through /dev/fuse.
 *
 * Why: a program that makes one request after another (tar -x, cp -r, a
 * build) waits for each reply.  Served by a thread on another CPU, every
 * request costs two wake-ups across CPUs: the kernel wakes our reader on
 * the idle CPU, and our reply wakes the program back on its own, now idle,
 * CPU.  On a VM an idle vCPU is halted, and each such wake-up is an IPI
 * through the hypervisor: tens of microseconds, more than the work asked
 * for.  With the program and the daemon pinned to one CPU by hand, a tar -x
 * of a kernel tree took a third of the time.
 *
 * So the thread that reads a request moves to the CPU its caller last ran
 * on (/proc/PID/stat, looked at again at most every CALLER_CPU_NS) and runs
 * at SCHED_IDLE.  Moving makes the kernel wake it there; the idle policy
 * makes the scheduler count that CPU as free when our reply wakes the
 * caller, so the caller stays where it was instead of moving to the other
 * CPU.  The caller sleeps while we serve it, so the CPU is ours meanwhile.
 * Not for requests nobody waits for (RELEASE, FORGET), and not for READs
 * and WRITEs over FOLLOW_BYTES_MAX: read-ahead runs while the reader goes
 * on, and large transfers are better done beside the program than after
 * it; their thread goes back to normal.
 *
 * The price is a hazard: a thread at SCHED_IDLE pinned to a CPU that
 * another busy program keeps busy gets well under 1% of it, and every
 * request waits for it (2,000 creates beside a busy loop: 36-46 s against
 * 1.4-7 s unpinned).  Two guards.  Each caller's own waits for its CPU are
 * looked at every CONTENDED_WINDOW_NS (check_contention): a caller that
 * waits much longer than it runs shares its CPU with another program and is
 * served anywhere, at normal priority, for CONTENDED_OFF_NS.  And a
 * watchdog thread looks every WATCH_TICK_NS while requests come: a serving
 * thread that holds a request its caller sleeps on for over STARVED_NS (or
 * any thread, when requests waited in the device through a tick with none
 * read), runnable at two ticks in a row with under a tenth of the tick in
 * CPU time, waits for a CPU somebody else keeps.  Then every serving thread
 * goes back to SCHED_OTHER on the daemon's own CPUs (a line in the log
 * with -d: the log is for faults), and nothing moves again for a back-off
 * that doubles each time (OFF_FIRST_NS, at most OFF_MAX_NS).  Going back
 * needs the right to leave
 * SCHED_IDLE (root, CAP_SYS_NICE or RLIMIT_NICE): a daemon without it never
 * starts the arrangement, nor one with a single CPU or started at another
 * policy.  A quiet mount's watchdog sleeps on a futex with no timeout.
 */
#include "ecfs-fuse.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <linux/fuse.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ob/clock.h"

#define WATCH_TICK_NS	(10 * 1000000ull)
#define STARVED_NS	(2 * 1000000ull)
#define QUIET_TICKS	20		/* then the watchdog sleeps */
#define CALLER_CPU_NS	(2 * 1000000ull)	/* re-read the caller's CPU */
#define FOLLOW_BYTES_MAX	(32u << 10)	/* larger transfers run anywhere */
#define CONTENDED_WINDOW_NS	(20 * 1000000ull)
#define CONTENDED_OFF_NS	(1000000000ull)
#define OFF_FIRST_NS	(1000000000ull)
#define OFF_MAX_NS	(64 * 1000000000ull)

/* This thread's part (libfuse serves a request on the thread that read it). */
static _Thread_local struct {
	uint32_t epoch;			/* the arrangement this thread follows */
	int slot;			/* its slot in ef_colocate.slots, or -1 */
	int cpu;			/* pinned there; -1: not pinned */
	bool idle;			/* at SCHED_IDLE */
	bool init;
} me;

/* The CPU task tid last ran on (/proc/TID/stat field 39), or -1. */
static int task_cpu(pid_t tid, char *state)
{
	char path[64], buf[1024], *p, *save = NULL;
	int fd, field, cpu = -1;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')');		/* the name may hold spaces and parens */
	if (!p)
		return -1;
	for (field = 3, p = strtok_r(p + 1, " ", &save); p; p = strtok_r(NULL, " ", &save), field++) {
		if (field == 3 && state)
			*state = *p;
		if (field == 39) {
			cpu = atoi(p);
			break;
		}
	}
	return cpu;
}

/* How long task tid has run and waited for a CPU (/proc/TID/schedstat,
 * first two fields; the kernel brings them up to date every scheduler
 * tick); false when they cannot be read. */
static bool task_times(pid_t tid, uint64_t *ran_ns, uint64_t *waited_ns)
{
	char path[64], buf[128];
	unsigned long long ran, waited;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	if (sscanf(buf, "%llu %llu", &ran, &waited) != 2)
		return false;
	*ran_ns = ran;
	*waited_ns = waited;
	return true;
}

/* task_times, and whether the task is runnable. */
static bool task_progress(pid_t tid, uint64_t *ran_ns, uint64_t *waited_ns, bool *runnable)
{
	char state = 0;

	if (task_cpu(tid, &state) < 0 || !task_times(tid, ran_ns, waited_ns))
		return false;
	*runnable = state == 'R';
	return true;
}

static int set_policy(pid_t tid, int policy)
{
	struct sched_param sp = { 0 };

	return sched_setscheduler(tid, policy, &sp);
}

/* Back to what the daemon was given: SCHED_OTHER on its own CPUs. */
static void set_free(struct ef_colocate *c, pid_t tid)
{
	(void)set_policy(tid, SCHED_OTHER);
	(void)sched_setaffinity(tid, sizeof(c->cpus), &c->cpus);
}

static void slot_free(void *arg)
{
	struct ef_colocate *c = arg;

	if (me.slot >= 0)
		__atomic_store_n(&c->slots[me.slot].tid, 0, __ATOMIC_RELEASE);
	me.slot = -1;
}

static void slot_take(struct ef_colocate *c)
{
	pid_t tid = (pid_t)syscall(SYS_gettid);

	me.init = true;
	me.slot = -1;
	me.cpu = -1;
	/* a worker libfuse starts inherits its starter's policy and CPUs */
	me.idle = true;
	for (int i = 0; i < EF_COLOCATE_SLOTS; i++) {
		pid_t none = 0;

		if (__atomic_compare_exchange_n(&c->slots[i].tid, &none, tid, false,
						__ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
			me.slot = i;
			(void)pthread_setspecific(c->key, c);
			return;
		}
	}
}

/* The watchdog's notes on the threads it suspects. */
struct watch {
	uint64_t tick;
	pid_t tid[EF_COLOCATE_SLOTS];	/* each slot as last read: */
	uint64_t tick_of[EF_COLOCATE_SLOTS];	/* when */
	uint64_t ran[EF_COLOCATE_SLOTS];	/* its CPU time */
	bool runnable[EF_COLOCATE_SLOTS];
};

/* Waiting four times as long as it ran, and a tenth of the time: a woken
 * program that only has to wait for our thread to yield waits about as long
 * as it runs (tar -x); beside a busy loop, for most of that loop's slice. */
static bool contended(uint64_t waited, uint64_t ran, uint64_t window)
{
	return waited > 4 * ran && waited > window / 10;
}

/* Has caller, since the entry's baseline CONTENDED_WINDOW_NS or more ago,
 * waited for its CPU much longer than it ran (contended())?  Served on its
 * own CPU it wakes at once (our thread there yields); so another program
 * keeps that CPU busy, and a thread of ours at SCHED_IDLE there waits
 * longer still, before it can even read the next request.  Such a caller
 * is served anywhere, at normal priority, for CONTENDED_OFF_NS. */
static void check_contention(struct ef_caller *e, pid_t pid, bool same, uint64_t now)
{
	uint64_t ran, waited, base = __atomic_load_n(&e->base_ns, __ATOMIC_RELAXED);

	if (same && now - base < CONTENDED_WINDOW_NS)
		return;
	if (!task_times(pid, &ran, &waited))
		return;
	if (same && contended(waited - __atomic_load_n(&e->base_waited_ns, __ATOMIC_RELAXED),
			      ran - __atomic_load_n(&e->base_ran_ns, __ATOMIC_RELAXED), now - base))
		__atomic_store_n(&e->off_until_ns, now + CONTENDED_OFF_NS, __ATOMIC_RELAXED);
	else if (!same)
		__atomic_store_n(&e->off_until_ns, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&e->base_waited_ns, waited, __ATOMIC_RELAXED);
	__atomic_store_n(&e->base_ran_ns, ran, __ATOMIC_RELAXED);
	__atomic_store_n(&e->base_ns, now, __ATOMIC_RELAXED);
}

/* Where caller last ran, or -1 when unknown or it should not be followed
 * (check_contention), from the mount's small cache of callers (one entry
 * per pid hash; threads share it, so each caller costs a read of /proc per
 * CALLER_CPU_NS however many threads serve it). */
static int caller_cpu(struct ef_colocate *c, pid_t pid, uint64_t now)
{
	struct ef_caller *e = &c->callers[(uint32_t)pid % EF_COLOCATE_CALLERS];
	uint64_t v = __atomic_load_n(&e->pid_cpu, __ATOMIC_ACQUIRE);
	bool same = (pid_t)(v >> 32) == pid;
	int cpu;

	if (!same || now - __atomic_load_n(&e->checked_ns, __ATOMIC_RELAXED) > CALLER_CPU_NS) {
		check_contention(e, pid, same, now);
		cpu = task_cpu(pid, NULL);
		__atomic_store_n(&e->checked_ns, now, __ATOMIC_RELAXED);
		v = (uint64_t)(uint32_t)pid << 32 | (uint32_t)cpu;
		__atomic_store_n(&e->pid_cpu, v, __ATOMIC_RELEASE);
	}
	if (now < __atomic_load_n(&e->off_until_ns, __ATOMIC_RELAXED))
		return -1;
	return (int32_t)(uint32_t)v;
}

static void wake_watchdog(struct ef_colocate *c)
{
	if (!__atomic_load_n(&c->active, __ATOMIC_RELAXED) &&
	    !__atomic_exchange_n(&c->active, 1, __ATOMIC_ACQ_REL))
		ef_futex(&c->active, FUTEX_WAKE, 1);
}

/* Requests the caller does not wait for: the kernel sends RELEASE after
 * close() returned, FORGETs whenever it drops an inode. */
static bool caller_waits(uint32_t opcode)
{
	switch (opcode) {
	case FUSE_FORGET: case FUSE_BATCH_FORGET: case FUSE_INTERRUPT:
	case FUSE_RELEASE: case FUSE_RELEASEDIR:
		return false;
	}
	return true;
}

/* This thread back to normal, if it followed a caller. */
static void let_go(struct ef_colocate *c)
{
	if (me.idle)
		set_free(c, 0);
	me.idle = false;
	me.cpu = -1;
}

/* Move this thread to the CPU the caller last ran on, at SCHED_IDLE. */
static void follow(struct ef_colocate *c, pid_t caller, uint64_t now)
{
	int cpu = caller_cpu(c, caller, now);
	cpu_set_t one;

	if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &c->cpus)) {
		let_go(c);
		return;
	}
	if (!me.idle && set_policy(0, SCHED_IDLE) == 0)
		me.idle = true;
	if (cpu == me.cpu)
		return;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (sched_setaffinity(0, sizeof(one), &one) == 0)
		me.cpu = cpu;
}

void ef_colocate_request(struct ef_colocate *c, uint32_t caller_pid, uint32_t opcode,
			 uint32_t bytes)
{
	uint32_t epoch;
	uint64_t now;

	if (!c->enabled)
		return;
	if (!me.init)
		slot_take(c);
	epoch = __atomic_load_n(&c->epoch, __ATOMIC_ACQUIRE);
	if (me.epoch != epoch) {	/* the watchdog ended the last one */
		let_go(c);
		me.epoch = epoch;
	}
	__atomic_add_fetch(&c->served, 1, __ATOMIC_RELAXED);
	wake_watchdog(c);
	if (me.slot < 0)		/* unwatched threads never move */
		return;
	if (bytes > FOLLOW_BYTES_MAX) {
		/* read-ahead and large writes: the caller may run meanwhile,
		 * and the work may run beside it on another CPU */
		let_go(c);
		return;
	}
	if (!caller_pid || !caller_waits(opcode))
		return;		/* nobody waits: a late RELEASE harms no one */
	now = ob_mono_ns();
	if (now >= __atomic_load_n(&c->off_until_ns, __ATOMIC_RELAXED))
		follow(c, (pid_t)caller_pid, now);
	if (me.idle) {
		__atomic_store_n(&c->slots[me.slot].caller, (pid_t)caller_pid, __ATOMIC_RELAXED);
		__atomic_store_n(&c->slots[me.slot].held_since_ns, now, __ATOMIC_RELEASE);
	}
}

void ef_colocate_replied(struct ef_colocate *c)
{
	if (c->enabled && me.slot >= 0)
		__atomic_store_n(&c->slots[me.slot].held_since_ns, 0, __ATOMIC_RELEASE);
}

/* Is the caller of the request slot i holds asleep, waiting for it?  A
 * caller that runs is not kept waiting by us: it is what keeps our thread
 * from its CPU (the request is one it did not wait for, or came from
 * another of its threads). */
static bool caller_waits_for_us(struct ef_colocate *c, int i)
{
	pid_t caller = __atomic_load_n(&c->slots[i].caller, __ATOMIC_RELAXED);
	char state = 0;

	return caller && task_cpu(caller, &state) >= 0 && state != 'R';
}

/* Is a serving thread starved?  Suspect one that has held a request its
 * caller sleeps on for over STARVED_NS, and every thread when requests
 * waited in the device through a tick with none read; a suspect that was
 * runnable at the last tick and still is, having had under a tenth of the
 * tick in CPU time, waits for a CPU somebody else keeps. */
static bool starved(struct ef_colocate *c, struct watch *wt, uint64_t now, bool stuck)
{
	bool found = false;

	wt->tick++;
	for (int i = 0; i < EF_COLOCATE_SLOTS; i++) {
		pid_t tid = __atomic_load_n(&c->slots[i].tid, __ATOMIC_ACQUIRE);
		uint64_t since = __atomic_load_n(&c->slots[i].held_since_ns, __ATOMIC_ACQUIRE);
		uint64_t ran, waited;
		bool runnable;

		if (!tid || !(stuck || (since && now - since > STARVED_NS && caller_waits_for_us(c, i))) ||
		    !task_progress(tid, &ran, &waited, &runnable))
			continue;
		if (runnable && wt->tid[i] == tid && wt->tick_of[i] == wt->tick - 1 &&
		    wt->runnable[i] && ran - wt->ran[i] < WATCH_TICK_NS / 10)
			found = true;
		wt->tid[i] = tid;
		wt->ran[i] = ran;
		wt->runnable[i] = runnable;
		wt->tick_of[i] = wt->tick;
	}
	return found;
}

static bool any_held(struct ef_colocate *c)
{
	for (int i = 0; i < EF_COLOCATE_SLOTS; i++)
		if (__atomic_load_n(&c->slots[i].held_since_ns, __ATOMIC_RELAXED))
			return true;
	return false;
}

static bool requests_waiting(struct ef_colocate *c)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* End the arrangement: every thread back to normal, nothing moves for a
 * while. */
static void give_up(struct ef_colocate *c, uint64_t now)
{
	uint64_t off = c->off_ns;

	__atomic_store_n(&c->off_until_ns, now + off, __ATOMIC_RELAXED);
	if (c->off_ns < OFF_MAX_NS)
		c->off_ns *= 2;
	__atomic_add_fetch(&c->epoch, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < EF_COLOCATE_SLOTS; i++) {
		pid_t tid = __atomic_load_n(&c->slots[i].tid, __ATOMIC_ACQUIRE);

		if (tid)
			set_free(c, tid);
	}
	/* not a fault of the mount: said only when asked (-d) */
	if (c->fs->o->debug)
		ef_log(c->fs, &c->fs->root, "a thread serving requests waited for a busy CPU; "
		       "requests are served on any CPU for the next %llu s",
		       (unsigned long long)(off / 1000000000ull));
}

static void *watchdog(void *arg)
{
	struct ef_colocate *c = arg;
	struct watch wt = { 0 };
	const struct timespec tick = { 0, WATCH_TICK_NS };

	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		uint64_t last = __atomic_load_n(&c->served, __ATOMIC_RELAXED);
		unsigned quiet = 0;
		bool stuck;

		ef_futex(&c->active, FUTEX_WAIT, 0);
		while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE) && quiet < QUIET_TICKS) {
			uint64_t served, now;

			nanosleep(&tick, NULL);
			served = __atomic_load_n(&c->served, __ATOMIC_RELAXED);
			now = ob_mono_ns();
			stuck = served == last && requests_waiting(c);
			/* not while a request is held or waits, however long */
			quiet = served == last && !stuck && !any_held(c) ? quiet + 1 : 0;
			last = served;
			if (starved(c, &wt, now, stuck))
				give_up(c, now);
		}
		__atomic_store_n(&c->active, 0, __ATOMIC_RELEASE);
		/* a request between the last tick and now wakes us again */
		if (__atomic_load_n(&c->served, __ATOMIC_RELAXED) != last)
			wake_watchdog(c);
	}
	return NULL;
}

static void *probe(void *arg)
{
	bool *ok = arg;

	*ok = set_policy(0, SCHED_IDLE) == 0 && set_policy(0, SCHED_OTHER) == 0;
	return NULL;
}

/* May a thread of ours leave SCHED_IDLE again?  Asked of a thread that
 * ends right after. */
static bool can_leave_idle(void)
{
	pthread_t t;
	bool ok = false;

	if (pthread_create(&t, NULL, probe, &ok))
		return false;
	pthread_join(t, NULL);
	return ok;
}

void ef_colocate_start(struct ef_colocate *c, struct ef_fs *fs, int devfd)
{
	memset(c, 0, sizeof(*c));
	c->fs = fs;
	c->fd = devfd;
	c->epoch = 1;
	c->off_ns = OFF_FIRST_NS;
	/* a daemon started at another policy keeps it: set_free could not
	 * give it back */
	if (fs->o->no_colocate || sched_getscheduler(0) != SCHED_OTHER ||
	    sched_getaffinity(0, sizeof(c->cpus), &c->cpus) || CPU_COUNT(&c->cpus) < 2 ||
	    !can_leave_idle())
		return;
	if (pthread_key_create(&c->key, slot_free))
		return;
	if (pthread_create(&c->watchdog, NULL, watchdog, c)) {
		pthread_key_delete(c->key);
		return;
	}
	c->enabled = true;
}

void ef_colocate_stop(struct ef_colocate *c)
{
	if (!c->enabled)
		return;
	__atomic_store_n(&c->stop, true, __ATOMIC_RELEASE);
	__atomic_store_n(&c->active, 1, __ATOMIC_RELEASE);
	ef_futex(&c->active, FUTEX_WAKE, 1);
	pthread_join(c->watchdog, NULL);
	pthread_key_delete(c->key);
	c->enabled = false;
}
