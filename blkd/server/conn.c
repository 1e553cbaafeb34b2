/* SPDX-License-Identifier: MIT */
/*
 * conn.c - the life of one NBD client connection: accepted socket, its
 * thread, handshake (nbd-handshake.c), transmission (transmission.c), and
 * the wait for its last request before it is freed.
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

static void conn_free(struct blkd_conn *c)
{
	for (unsigned i = 0; c->slots && i < c->srv->max_inflight; i++)
		free(c->slots[i].bio.buf);
	__atomic_sub_fetch(&c->srv->buf_bytes, c->buf_bytes, __ATOMIC_RELAXED);
	free(c->slots);
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

/* The client left or said DISC: wait until every request has come back,
 * sending the replies it may still read.  One that reads nothing for
 * DRAIN_MS loses them (the connection is declared dead, which drops them). */
static void conn_drain(struct blkd_conn *c)
{
	uint64_t give_up = ob_mono_ns() + DRAIN_MS * 1000000ull;

	for (;;) {
		bool waits = blkd_outq_push(c);

		pthread_mutex_lock(&c->lock);
		if (!c->inflight) {
			pthread_mutex_unlock(&c->lock);
			return;
		}
		c->reader_waits = true;
		pthread_mutex_unlock(&c->lock);
		if (waits && ob_mono_ns() > give_up) {
			pthread_mutex_lock(&c->send_lock);
			c->dead = true;
			shutdown(c->fd, SHUT_RDWR);
			pthread_mutex_unlock(&c->send_lock);
			continue;
		}
		blkd_conn_wait(c, false, 1000);
	}
}

static void *conn_main(void *arg)
{
	struct blkd_conn *c = arg;
	struct blkd_server *srv = c->srv;
	int rc;

	pthread_setname_np(pthread_self(), "blkd-conn");	/* blktrace process notes */
	set_timeouts(c->fd, srv->handshake_ms);
	rc = blkd_handshake(c);
	set_timeouts(c->fd, 0);
	if (rc == -EAGAIN || rc == -EWOULDBLOCK) {
		blkd_log("conn %lu: %s: handshake timed out after %u ms", c->id, c->peer,
			 srv->handshake_ms);
		goto out;
	}
	if (rc) {
		if (srv->verbose || (rc != -ECONNRESET && rc != -ECONNABORTED))
			blkd_log("conn %lu: %s: handshake ended: %s", c->id, c->peer, strerror(-rc));
		goto out;
	}
	c->tflags = blkd_export_tflags(c->exp, c->structured);
	snprintf(c->client.name, sizeof(c->client.name), "%lu:%.40s", c->id, c->peer);
	if (srv->verbose)
		blkd_log("conn %lu: %s: serving export '%s'", c->id, c->peer, c->exp->name);
	rc = blkd_transmission(c);
	if (rc && rc != -ECONNRESET)
		blkd_log("conn %lu: %s: connection closed: %s", c->id, c->peer, strerror(-rc));
	conn_drain(c);
	blkd_queue_client_gone(c->exp->q, &c->client);
	if (srv->verbose)
		blkd_log("conn %lu: %s: closed", c->id, c->peer);
out:
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
	conn_free(c);
	return NULL;
}

void blkd_conn_start(struct blkd_server *srv, int fd, const char *peer)
{
	struct blkd_conn *c = calloc(1, sizeof(*c));
	pthread_attr_t attr;
	pthread_t tid;
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
	if (!c->slots || c->wake_fd < 0) {
		conn_free(c);
		return;
	}
	for (unsigned i = 0; i < srv->max_inflight; i++) {
		c->slots[i].conn = c;
		c->slots[i].next_free = c->free_slots;
		c->free_slots = &c->slots[i];
	}
	pthread_mutex_lock(&srv->lock);
	c->id = ++srv->next_id;
	c->next = srv->conns;
	if (c->next)
		c->next->prev = c;
	srv->conns = c;
	srv->nr_conns++;
	pthread_mutex_unlock(&srv->lock);

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&tid, &attr, conn_main, c)) {
		blkd_log("conn %lu: cannot start thread, closing", c->id);
		pthread_mutex_lock(&srv->lock);
		srv->conns = c->next;
		if (c->next)
			c->next->prev = NULL;
		srv->nr_conns--;
		pthread_mutex_unlock(&srv->lock);
		conn_free(c);
	}
	pthread_attr_destroy(&attr);
}
