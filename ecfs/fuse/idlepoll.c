// SPDX-License-Identifier: MIT
/* idlepoll.c - keep the CPUs awake for a moment after a request that
 * changes the tree, while requests come through io_uring.
 *
 * Why: the ring threads serve a program on its own CPU, but when they
 * reply, the scheduler often wakes the program on the other CPU, because
 * that one is idle and ours is still busy with the reply.  On a VM without
 * halt polling an idle vCPU is halted, and waking it costs tens of
 * microseconds, per request.  tar -x of a kernel tree took 3.2 to 5.1 s
 * that way, with 26,000 wake-up IPIs per CPU, and 2.4 to 2.5 s with next to
 * none while a busy loop at the lowest priority ran on every CPU (2-core
 * VM, guest_halt_poll_ns=0).  With these pollers: 2.3 to 2.8 s.
 *
 * So each CPU gets a poller thread at SCHED_IDLE: any other thread that
 * wants the CPU preempts it at once, and while both run it gets a sliver
 * (weight 3 against 1024).  After a reply to a request that changes the
 * tree (wire.c's list), the pollers spin for spin= microseconds; then they
 * sleep on a futex until the next such reply.  This is the /dev/fuse
 * transport's poll window (wire.c) on every CPU instead of one thread: a
 * tree-changing program keeps all CPUs busy, a quiet mount spends one
 * window and then nothing: every poller sleeps on the futex, with no
 * timeout, until the next kick (ecfs/tests: an idle mount's threads make
 * no context switch at all).  No kicks while on battery unless spin= was
 * given (wire.c, ef_wire_may_poll).
 */
#include "ecfs-fuse.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ob/clock.h"


static void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static bool window_open(struct ef_idlepoll *p)
{
	return ob_mono_ns() < __atomic_load_n(&p->until_ns, __ATOMIC_SEQ_CST);
}

struct ef_poller_arg {
	struct ef_idlepoll *p;
	unsigned cpu;
};

static void *poller_main(void *arg)
{
	struct ef_poller_arg *pa = arg;
	struct ef_idlepoll *p = pa->p;
	unsigned cpu = pa->cpu;
	struct sched_param sp = { 0 };
	cpu_set_t set;
	char name[16];

	snprintf(name, sizeof(name), "ecfs-poll%u", cpu);
	(void)pthread_setname_np(pthread_self(), name);
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	/* At normal priority a spinning thread would take CPU time from the
	 * program it waits for: without SCHED_IDLE, or off its CPU, no poller. */
	if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp) ||
	    pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
		return NULL;
	while (!__atomic_load_n(&p->stop, __ATOMIC_SEQ_CST)) {
		uint32_t kicks = __atomic_load_n(&p->kicks, __ATOMIC_SEQ_CST);

		if (window_open(p)) {
			relax();
			continue;
		}
		/* A kick after our check either sees us counted as sleeping
		 * and bumps kicks (the wait returns at once), or came before
		 * we counted and opened the window we check again here. */
		__atomic_add_fetch(&p->sleeping, 1, __ATOMIC_SEQ_CST);
		if (!window_open(p) && !__atomic_load_n(&p->stop, __ATOMIC_SEQ_CST))
			ef_futex(&p->kicks, FUTEX_WAIT, kicks);
		__atomic_sub_fetch(&p->sleeping, 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

void ef_idlepoll_kick(struct ef_idlepoll *p)
{
	if (!__atomic_load_n(&p->n, __ATOMIC_RELAXED))
		return;
	__atomic_store_n(&p->until_ns, ob_mono_ns() + p->window_ns, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&p->sleeping, __ATOMIC_SEQ_CST)) {
		__atomic_add_fetch(&p->kicks, 1, __ATOMIC_SEQ_CST);
		ef_futex(&p->kicks, FUTEX_WAKE, INT_MAX);
	}
}

void ef_idlepoll_start(struct ef_idlepoll *p, unsigned cpus, uint64_t window_ns)
{
	sigset_t all, old;
	unsigned started = 0;

	if (p->tids || cpus < 2 || !window_ns)
		return;
	p->tids = calloc(cpus, sizeof(*p->tids));
	p->args = calloc(cpus, sizeof(*p->args));
	if (!p->tids || !p->args) {
		free(p->tids);
		free(p->args);
		p->tids = NULL;
		p->args = NULL;
		return;
	}
	p->window_ns = window_ns;
	p->stop = false;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (; started < cpus; started++) {
		p->args[started] = (struct ef_poller_arg){ .p = p, .cpu = started };
		if (pthread_create(&p->tids[started], NULL, poller_main, &p->args[started]))
			break;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	__atomic_store_n(&p->n, started, __ATOMIC_SEQ_CST);
}

void ef_idlepoll_stop(struct ef_idlepoll *p)
{
	unsigned n = p->n;

	if (!p->tids)
		return;
	__atomic_store_n(&p->n, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&p->stop, true, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&p->kicks, 1, __ATOMIC_SEQ_CST);
	ef_futex(&p->kicks, FUTEX_WAKE, INT_MAX);
	for (unsigned i = 0; i < n; i++)
		pthread_join(p->tids[i], NULL);
	free(p->tids);
	free(p->args);
	p->tids = NULL;
	p->args = NULL;
}
