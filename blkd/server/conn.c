/* SPDX-License-Identifier: MIT */
/*
 * conn.c - the life of one NBD client connection: accepted socket,
 * handshake (nbd-handshake.c), transmission (transmission.c), and the wait
 * for its last request before it is freed - in steps that a connection
 * thread runs until the next would block (evloop.c parks it meanwhile).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server.h"
#include "tls.h"
#include "ob/clock.h"

#define DRAIN_MS 30000

void blkd_conn_free(struct blkd_conn *c)
{
	for (unsigned i = 0; c->slots && i < c->srv->max_inflight; i++)
		free(c->slots[i].bio.buf);
	__atomic_sub_fetch(&c->srv->buf_bytes, c->buf_bytes, __ATOMIC_RELAXED);
	free(c->slots);
	blkd_transmission_end(c);
	blkd_tls_end(c);
	if (c->wake_fd >= 0)
		close(c->wake_fd);
	free(c->meta_export);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->send_lock);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

/* Bound every blocking send and receive of the handshake (0: no bound), so
 * a client that connects and says nothing lets go of its thread. */
static void set_timeouts(int fd, unsigned ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* A connection's step found nothing to do: park it.  An active one first
 * lingers on its own socket, up to 2 ms at a time, while no other
 * connection waits for a thread - at queue depth 1 the next request is
 * tens of microseconds away, and an epoll round trip would cost two more
 * context switches.  False once a wait timed out: then it parks. */
#define LINGER_MS 2

static bool linger(struct blkd_conn *c)
{
	uint64_t t0;

	if (blkd_pool_busy(c->srv) || c->deadline_ns)
		return false;
	t0 = ob_mono_ns();
	blkd_conn_wait(c, !__atomic_load_n(&c->budget_wait, __ATOMIC_RELAXED), LINGER_MS);
	return ob_mono_ns() - t0 < LINGER_MS * 1000000ull;	/* woken: go on */
}

/* 1: the client has sent something, 0: not yet, -errno: it hung up. */
static int peek(struct blkd_conn *c)
{
	char b;
	ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

	if (n > 0)
		return 1;
	if (n == 0)
		return -ECONNRESET;
	return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
}

/*
 * A negotiation holds its thread until it ends, so at most half the pool
 * negotiates at once: clients that speak a byte and stall (or a TLS
 * handshake that crawls) cannot take every thread from the connections
 * already transmitting.  One over the cap waits parked, for the tick.
 */
static bool handshake_enter(struct blkd_conn *c)
{
	struct blkd_server *srv = c->srv;
	unsigned n = __atomic_load_n(&srv->nr_handshakes, __ATOMIC_RELAXED);

	do {
		if (n >= srv->max_handshakes) {
			__atomic_store_n(&c->hs_wait, true, __ATOMIC_RELAXED);
			return false;
		}
	} while (!__atomic_compare_exchange_n(&srv->nr_handshakes, &n, n + 1, false,
					      __ATOMIC_ACQUIRE, __ATOMIC_RELAXED));
	__atomic_store_n(&c->hs_wait, false, __ATOMIC_RELAXED);
	return true;
}

static void handshake_leave(struct blkd_conn *c)
{
	__atomic_sub_fetch(&c->srv->nr_handshakes, 1, __ATOMIC_RELEASE);
}

/* The handshake runs blocking (bounded by SO_RCVTIMEO), but only once the
 * client has said something: a client that connects and stays silent
 * holds no thread, only its place in the epoll set. */
static int step_handshake(struct blkd_conn *c)
{
	struct blkd_server *srv = c->srv;
	uint64_t now = ob_mono_ns();
	int rc;

	if (now >= c->deadline_ns) {
		rc = -ETIMEDOUT;
	} else if ((rc = peek(c)) == 0) {
		return -EAGAIN;
	} else if (rc > 0) {
		if (!handshake_enter(c))
			return -EAGAIN;
		set_timeouts(c->fd, (unsigned)((c->deadline_ns - now) / 1000000) + 1);
		rc = blkd_handshake(c);
		set_timeouts(c->fd, 0);
		handshake_leave(c);
	}
	if (rc == -EAGAIN || rc == -EWOULDBLOCK || rc == -ETIMEDOUT) {
		blkd_log("conn %lu: %s: handshake timed out after %u ms", c->id, c->peer,
			 srv->handshake_ms);
		return -ETIMEDOUT;	/* not -EAGAIN: that would park it */
	}
	if (rc) {
		if (srv->verbose || (rc != -ECONNRESET && rc != -ECONNABORTED))
			blkd_log("conn %lu: %s: handshake ended: %s", c->id, c->peer, strerror(-rc));
		return rc;
	}
	c->deadline_ns = 0;
	c->tflags = blkd_export_tflags(c->exp, c->structured);
	snprintf(c->client.name, sizeof(c->client.name), "%lu:%.40s", c->id, c->peer);
	if (srv->verbose)
		blkd_log("conn %lu: %s: serving export '%s'", c->id, c->peer, c->exp->name);
	c->phase = BLKD_PHASE_TRANSMISSION;
	return 0;
}

/* The client left or said DISC: wait until every request has come back,
 * sending the replies it may still read.  One that reads nothing for
 * DRAIN_MS loses them (the connection is declared dead, which drops them).
 * A client that left without DISC will read no reply: its requests still
 * queued are cancelled before they reach the backend. */
static void drain_begin(struct blkd_conn *c, int rc)
{
	bool stopping;

	if (rc)
		blkd_log("conn %lu: %s: connection closed: %s", c->id, c->peer, strerror(-rc));
	blkd_transmission_end(c);
	pthread_mutex_lock(&c->srv->lock);
	stopping = c->srv->stopping;	/* our own SHUT_RD: the client still reads */
	pthread_mutex_unlock(&c->srv->lock);
	if (!c->disc && !stopping)
		blkd_client_cancel(&c->client);
	c->deadline_ns = ob_mono_ns() + DRAIN_MS * 1000000ull;
	c->phase = BLKD_PHASE_DRAIN;
}

static int step_drain(struct blkd_conn *c)
{
	for (;;) {
		bool waits = blkd_outq_push(c);

		pthread_mutex_lock(&c->lock);
		if (!c->inflight) {
			pthread_mutex_unlock(&c->lock);
			break;
		}
		c->reader_waits = true;
		pthread_mutex_unlock(&c->lock);
		if (waits && ob_mono_ns() > c->deadline_ns) {
			pthread_mutex_lock(&c->send_lock);
			c->dead = true;
			shutdown(c->fd, SHUT_RDWR);
			pthread_mutex_unlock(&c->send_lock);
			continue;
		}
		return -EAGAIN;
	}
	blkd_queue_client_gone(c->exp->q, &c->client);
	if (c->srv->verbose)
		blkd_log("conn %lu: %s: closed", c->id, c->peer);
	return 0;
}

static void conn_end(struct blkd_conn *c)
{
	struct blkd_server *srv = c->srv;

	pthread_mutex_lock(&srv->lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->nr_conns--;
	pthread_cond_broadcast(&srv->conns_changed);
	pthread_mutex_unlock(&srv->lock);
	blkd_conn_retire(c);
}

static void eat_kicks(struct blkd_conn *c)
{
	uint64_t v;
	ssize_t r = read(c->wake_fd, &v, sizeof(v));

	(void)r;
}

/* What a parked c waits for: readable only while it would read (not over
 * its budget or limit, nor waiting for a handshake thread, whose unread
 * bytes would wake it at once: a kick or the tick does), writable only
 * while replies wait. */
static bool park(struct blkd_conn *c)
{
	c->want_in = (c->phase == BLKD_PHASE_HANDSHAKE &&
		      !__atomic_load_n(&c->hs_wait, __ATOMIC_RELAXED)) ||
		     (c->phase == BLKD_PHASE_TRANSMISSION && !c->deadline_ns &&
		      !__atomic_load_n(&c->budget_wait, __ATOMIC_RELAXED));
	pthread_mutex_lock(&c->send_lock);
	c->want_out = c->out_head && !c->dead;
	pthread_mutex_unlock(&c->send_lock);
	return false;
}

bool blkd_conn_step(struct blkd_conn *c)
{
	int rc;

	eat_kicks(c);
	for (;;) {
		switch (c->phase) {
		case BLKD_PHASE_HANDSHAKE:
			rc = step_handshake(c);
			if (rc == -EAGAIN)
				return park(c);
			if (rc)
				goto end;
			break;
		case BLKD_PHASE_TRANSMISSION:
			rc = blkd_transmission_step(c);
			if (rc != -EAGAIN) {
				drain_begin(c, rc);
				break;
			}
			if (!linger(c))
				return park(c);
			break;
		case BLKD_PHASE_DRAIN:
			if (step_drain(c) == -EAGAIN)
				return park(c);
			goto end;
		}
	}
end:
	conn_end(c);
	return true;
}

/* The greeting (spec E.1) goes out at once: a fresh socket's buffer
 * takes its 18 bytes without blocking. */
static int greet(int fd)
{
	uint8_t b[18];

	nbd_put64(b, NBD_MAGIC);
	nbd_put64(b + 8, NBD_IHAVEOPT);
	nbd_put16(b + 16, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
	return send(fd, b, sizeof(b), MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)sizeof(b) ? 0 : -1;
}

void blkd_conn_start(struct blkd_server *srv, int fd, const char *peer)
{
	struct blkd_conn *c = calloc(1, sizeof(*c));
	int one = 1;

	if (!c) {
		close(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));	/* fails on AF_UNIX */
	c->srv = srv;
	c->fd = fd;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	pthread_mutex_init(&c->send_lock, NULL);
	c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	c->slots = calloc(srv->max_inflight, sizeof(*c->slots));
	if (!c->slots || c->wake_fd < 0 || greet(fd)) {
		blkd_conn_free(c);
		return;
	}
	for (unsigned i = 0; i < srv->max_inflight; i++) {
		c->slots[i].conn = c;
		c->slots[i].next_free = c->free_slots;
		c->free_slots = &c->slots[i];
	}
	c->phase = BLKD_PHASE_HANDSHAKE;
	c->deadline_ns = ob_mono_ns() + srv->handshake_ms * 1000000ull;
	c->sched = BLKD_SCHED_PARKED;
	pthread_mutex_lock(&srv->lock);
	c->id = ++srv->next_id;
	c->next = srv->conns;
	if (c->next)
		c->next->prev = c;
	srv->conns = c;
	srv->nr_conns++;
	if (blkd_conn_watch(c)) {	/* the first event starts its handshake */
		blkd_log("conn %lu: cannot watch its socket, closing", c->id);
		srv->conns = c->next;
		if (c->next)
			c->next->prev = NULL;
		srv->nr_conns--;
		pthread_mutex_unlock(&srv->lock);
		blkd_conn_free(c);
		return;
	}
	pthread_mutex_unlock(&srv->lock);
}
