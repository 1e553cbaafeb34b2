/* SPDX-License-Identifier: MIT */
/*
 * evloop.c - who runs a connection: one epoll thread watches every
 * connection that has nothing to do, a bounded pool of connection threads
 * runs those that do.
 *
 * A thread per connection made 2,000 idle clients 2,000 threads.  Now a
 * connection owns no thread while it waits: when its step (conn.c) would
 * block it is parked, its socket and wake eventfd are armed in the epoll
 * set (one-shot, for what the step waits for: c->want_in, c->want_out),
 * and the first event queues it for the pool.  The state (c->sched, under
 * pool_lock) makes sure one connection is run by one thread at a time: an
 * event for a running connection only asks that thread to go round once
 * more (c->again).
 *
 * Every 100 ms the loop also queues the parked connections that wait for a
 * deadline (handshake, drain), for bytes other connections may give back
 * (the total buffer budget) or for a thread to negotiate on (conn.c), which
 * no event announces.
 *
 * A finished connection is freed here, after the batch of events in hand,
 * because that batch may still name it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "server.h"
#include "ob/clock.h"

#define TICK_MS 100
#define MAX_EVENTS 256

/* pool_lock held */
static void __runq_add(struct blkd_server *srv, struct blkd_conn *c)
{
	c->sched = BLKD_SCHED_QUEUED;
	c->run_next = NULL;
	if (srv->runq_tail)
		srv->runq_tail->run_next = c;
	else
		srv->runq_head = c;
	srv->runq_tail = c;
	srv->runq_len++;
	if (srv->pool_idle)
		pthread_cond_signal(&srv->pool_cond);
}

void blkd_conn_schedule(struct blkd_conn *c)
{
	struct blkd_server *srv = c->srv;

	pthread_mutex_lock(&srv->pool_lock);
	if (c->sched == BLKD_SCHED_PARKED)
		__runq_add(srv, c);
	else if (c->sched == BLKD_SCHED_RUNNING)
		c->again = true;
	pthread_mutex_unlock(&srv->pool_lock);
}

bool blkd_pool_busy(struct blkd_server *srv)
{
	return __atomic_load_n(&srv->runq_len, __ATOMIC_RELAXED) != 0;
}

/* Arm c's one-shot events for what its step said it waits for (pool_lock
 * held, c parked).  Readiness is looked at as they are armed, so nothing
 * that happened while it ran is missed; a running connection causes no
 * events at all (an edge per request woke this thread for nothing and
 * cost a fifth of the 4 KiB IOPS). */
static void __conn_arm(struct blkd_conn *c)
{
	struct epoll_event ev = { .data.ptr = c };

	ev.events = EPOLLONESHOT | EPOLLRDHUP | (c->want_in ? EPOLLIN : 0) |
		    (c->want_out ? EPOLLOUT : 0);
	epoll_ctl(c->srv->epfd, EPOLL_CTL_MOD, c->fd, &ev);
	ev.events = EPOLLONESHOT | EPOLLIN;
	epoll_ctl(c->srv->epfd, EPOLL_CTL_MOD, c->wake_fd, &ev);
}

int blkd_conn_watch(struct blkd_conn *c)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT, .data.ptr = c };

	if (epoll_ctl(c->srv->epfd, EPOLL_CTL_ADD, c->fd, &ev))
		return -errno;
	ev.events = EPOLLIN | EPOLLONESHOT;
	if (epoll_ctl(c->srv->epfd, EPOLL_CTL_ADD, c->wake_fd, &ev)) {
		int e = errno;

		epoll_ctl(c->srv->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		return -e;
	}
	return 0;
}

void blkd_conn_retire(struct blkd_conn *c)
{
	struct blkd_server *srv = c->srv;
	uint64_t one = 1;
	ssize_t w;

	epoll_ctl(srv->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	epoll_ctl(srv->epfd, EPOLL_CTL_DEL, c->wake_fd, NULL);
	pthread_mutex_lock(&srv->pool_lock);
	c->sched = BLKD_SCHED_DEAD;
	c->run_next = srv->retired;
	srv->retired = c;
	pthread_mutex_unlock(&srv->pool_lock);
	w = write(srv->ev_wake, &one, sizeof(one));
	(void)w;
}

static void free_retired(struct blkd_server *srv)
{
	struct blkd_conn *c;

	pthread_mutex_lock(&srv->pool_lock);
	c = srv->retired;
	srv->retired = NULL;
	pthread_mutex_unlock(&srv->pool_lock);
	while (c) {
		struct blkd_conn *next = c->run_next;

		blkd_conn_free(c);
		c = next;
	}
}

/* Queue the parked connections a deadline or the total budget waits on. */
static void tick(struct blkd_server *srv)
{
	uint64_t now = ob_mono_ns();

	pthread_mutex_lock(&srv->lock);
	pthread_mutex_lock(&srv->pool_lock);
	for (struct blkd_conn *c = srv->conns; c; c = c->next)
		if (c->sched == BLKD_SCHED_PARKED &&
		    ((c->deadline_ns && now >= c->deadline_ns) ||
		     __atomic_load_n(&c->budget_wait, __ATOMIC_RELAXED) ||
		     __atomic_load_n(&c->hs_wait, __ATOMIC_RELAXED)))
			__runq_add(srv, c);
	pthread_mutex_unlock(&srv->pool_lock);
	pthread_mutex_unlock(&srv->lock);
}

static void *evloop_main(void *arg)
{
	struct blkd_server *srv = arg;
	struct epoll_event ev[MAX_EVENTS];
	uint64_t next_tick = ob_mono_ns() + TICK_MS * 1000000ull;

	pthread_setname_np(pthread_self(), "blkd-events");
	while (!__atomic_load_n(&srv->pool_stop, __ATOMIC_RELAXED)) {
		int n = epoll_wait(srv->epfd, ev, MAX_EVENTS, TICK_MS);
		uint64_t now;

		for (int i = 0; i < n; i++) {
			uint64_t v;
			ssize_t r;

			if (!ev[i].data.ptr) {	/* our own wake-up */
				r = read(srv->ev_wake, &v, sizeof(v));
				(void)r;
				continue;
			}
			blkd_conn_schedule(ev[i].data.ptr);
		}
		free_retired(srv);
		now = ob_mono_ns();
		if (now >= next_tick) {
			tick(srv);
			next_tick = now + TICK_MS * 1000000ull;
		}
	}
	free_retired(srv);
	return NULL;
}

static void *pool_main(void *arg)
{
	struct blkd_server *srv = arg;

	pthread_setname_np(pthread_self(), "blkd-conn");	/* blktrace process notes */
	pthread_mutex_lock(&srv->pool_lock);
	for (;;) {
		struct blkd_conn *c;
		bool done;

		while (!srv->runq_head && !srv->pool_stop) {
			srv->pool_idle++;
			pthread_cond_wait(&srv->pool_cond, &srv->pool_lock);
			srv->pool_idle--;
		}
		if (!srv->runq_head)
			break;
		c = srv->runq_head;
		srv->runq_head = c->run_next;
		if (!srv->runq_head)
			srv->runq_tail = NULL;
		srv->runq_len--;
		c->sched = BLKD_SCHED_RUNNING;
		c->again = false;
		pthread_mutex_unlock(&srv->pool_lock);
		done = blkd_conn_step(c);
		pthread_mutex_lock(&srv->pool_lock);
		if (done)
			continue;	/* retired by blkd_conn_step */
		if (c->again) {
			__runq_add(srv, c);
		} else {
			c->sched = BLKD_SCHED_PARKED;
			__conn_arm(c);
		}
	}
	pthread_mutex_unlock(&srv->pool_lock);
	return NULL;
}

int blkd_evloop_start(struct blkd_server *srv, unsigned nthreads)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

	pthread_mutex_init(&srv->pool_lock, NULL);
	pthread_cond_init(&srv->pool_cond, NULL);
	srv->epfd = epoll_create1(EPOLL_CLOEXEC);
	srv->ev_wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (srv->epfd < 0 || srv->ev_wake < 0 ||
	    epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->ev_wake, &ev))
		goto fail;
	srv->max_handshakes = nthreads > 1 ? nthreads / 2 : 1;
	srv->pool = calloc(nthreads, sizeof(*srv->pool));
	if (!srv->pool || pthread_create(&srv->ev_thread, NULL, evloop_main, srv))
		goto fail;
	srv->ev_running = true;
	for (; srv->nr_pool < nthreads; srv->nr_pool++)
		if (pthread_create(&srv->pool[srv->nr_pool], NULL, pool_main, srv))
			break;
	if (srv->nr_pool)
		return 0;
fail:
	blkd_log("cannot start the connection threads: %s", strerror(errno));
	blkd_evloop_stop(srv);
	return -1;
}

void blkd_evloop_stop(struct blkd_server *srv)
{
	uint64_t one = 1;
	ssize_t w;

	pthread_mutex_lock(&srv->pool_lock);
	__atomic_store_n(&srv->pool_stop, true, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&srv->pool_cond);
	pthread_mutex_unlock(&srv->pool_lock);
	for (unsigned i = 0; i < srv->nr_pool; i++)
		pthread_join(srv->pool[i], NULL);
	if (srv->ev_running) {
		w = write(srv->ev_wake, &one, sizeof(one));
		(void)w;
		pthread_join(srv->ev_thread, NULL);
	}
	free(srv->pool);
	srv->pool = NULL;
	srv->nr_pool = 0;
	srv->ev_running = false;
	if (srv->epfd >= 0)
		close(srv->epfd);
	if (srv->ev_wake >= 0)
		close(srv->ev_wake);
	srv->epfd = srv->ev_wake = -1;
	pthread_cond_destroy(&srv->pool_cond);
	pthread_mutex_destroy(&srv->pool_lock);
}
