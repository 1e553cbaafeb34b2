/* SPDX-License-Identifier: MIT */
/*
 * outq.c - replies on their way to the socket.
 *
 * Every reply goes through its connection's output queue (send_lock), in
 * the order its bytes leave.  Nothing ever blocks on the socket: sendmsg
 * with MSG_DONTWAIT takes what the socket buffer holds, the rest waits in
 * the queue until the socket is writable again - which the connection's
 * reader notices, as it polls for POLLOUT while the queue is not empty (a
 * worker that leaves bytes behind wakes it through c->wake_fd).  So a
 * client that does not read its replies holds its own slots and budget,
 * never a worker thread that other clients' requests need (279 unread
 * 32 MiB READs used to park every worker in sendmsg).
 *
 * Through TLS, the queue's bytes are cut into records as full as possible
 * (tls_sendv below).
 *
 * Corking: while the reader runs a batch, small replies are appended
 * without a send and leave together, a few per sendmsg, when the reader
 * uncorks or CORK_MAX have gathered (random writes: +3-10% IOPS, less
 * CPU).  A reply of BLKD_BIG_REPLY or more is pushed at once: the client
 * starts taking it while the next request is read.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server.h"
#include "tls.h"

#define CORK_MAX 16
#define PUSH_IOV (2 * CORK_MAX)

static size_t slot_bytes(const struct blkd_slot *s)
{
	size_t n = 0;

	for (int i = 0; i < s->niov; i++)
		n += s->iov[i].iov_len;
	return n;
}

void blkd_conn_kick(struct blkd_conn *c)
{
	uint64_t one = 1;
	ssize_t w = write(c->wake_fd, &one, sizeof(one));

	(void)w;
}

/* Gather the queue's unsent bytes into iov; returns the count. */
static int gather(struct blkd_conn *c, struct iovec *iov)
{
	size_t skip = c->out_head->sent;
	int n = 0, first = 0;

	for (struct blkd_slot *p = c->out_head; p && n + 2 <= PUSH_IOV; p = p->next_pending)
		for (int i = 0; i < p->niov; i++)
			iov[n++] = p->iov[i];
	while (skip >= iov[first].iov_len) {
		skip -= iov[first].iov_len;
		first++;
	}
	iov[first].iov_base = (char *)iov[first].iov_base + skip;
	iov[first].iov_len -= skip;
	for (int i = first; i < n; i++)
		iov[i - first] = iov[i];
	return n - first;
}

/* Take took bytes off the head of the queue; fully sent slots move to
 * the done chain. */
static void consume(struct blkd_conn *c, size_t took, struct blkd_slot **done,
		    struct blkd_slot **dtail, unsigned *n)
{
	while (c->out_head) {
		struct blkd_slot *p = c->out_head;
		size_t left = slot_bytes(p) - p->sent;

		if (took < left) {
			p->sent += took;
			return;
		}
		took -= left;
		c->out_head = p->next_pending;
		if (!c->out_head)
			c->out_tail = NULL;
		p->next_pending = NULL;
		if (*dtail)
			(*dtail)->next_pending = p;
		else
			*done = p;
		*dtail = p;
		(*n)++;
	}
}

/*
 * sendmsg through the TLS session, one record (at most TLS_RECORD bytes)
 * per gnutls_record_send, and each record as full as the queue allows:
 * pieces shorter than a record (a reply's header, a 4 KiB payload, the tail
 * of a long one) are gathered with what follows into one record, so a
 * 4 KiB read's header and data leave as one record and one send(), not
 * two, and a corked batch of them as a few records.  Long payloads are
 * encrypted in place, a record at a time.
 *
 * A record GnuTLS could not push whole (EAGAIN) stays with it, encrypted;
 * c->tls_held says so, and the next push finishes it first with
 * gnutls_record_send(NULL, 0), which returns the bytes that record took -
 * the head of the queue, whatever was gathered for it.
 */
#define TLS_RECORD 16384

/* Copy up to TLS_RECORD bytes of iov into rec; returns how many. */
static size_t record_gather(char *rec, const struct iovec *iov, int n)
{
	size_t len = 0;

	for (int i = 0; i < n && len < TLS_RECORD; i++) {
		size_t k = iov[i].iov_len < TLS_RECORD - len ? iov[i].iov_len : TLS_RECORD - len;

		memcpy(rec + len, iov[i].iov_base, k);
		len += k;
	}
	return len;
}

/* Drop bytes off the front of iov; returns the pieces used up. */
static int iov_advance(struct iovec *iov, int n, size_t bytes)
{
	int i = 0;

	while (i < n && bytes >= iov[i].iov_len)
		bytes -= iov[i++].iov_len;
	if (i < n) {
		iov[i].iov_base = (char *)iov[i].iov_base + bytes;
		iov[i].iov_len -= bytes;
	}
	return i;
}

static ssize_t tls_sendv(struct blkd_conn *c, struct iovec *iov, int n)
{
	char rec[TLS_RECORD];
	ssize_t total = 0;

	while (n > 0) {
		const void *p = iov[0].iov_base;
		size_t len = iov[0].iov_len;
		ssize_t r;
		int used;

		if (c->tls_held) {
			p = NULL;
			len = 0;
		} else if (len < TLS_RECORD && n > 1) {
			len = record_gather(rec, iov, n);
			p = rec;
		}
		r = blkd_tls_send(c, p, len);
		if (r < 0) {
			c->tls_held = errno == EAGAIN || errno == EINTR;
			return total ? total : -1;
		}
		c->tls_held = false;
		total += r;
		used = iov_advance(iov, n, (size_t)r);
		iov += used;
		n -= used;
	}
	return total;
}

/* Send what the socket takes now (send_lock held); returns the slots whose
 * replies left, *n of them.  After a send error the connection is dead and
 * every queued reply is dropped (its slot comes back all the same). */
static struct blkd_slot *__outq_push(struct blkd_conn *c, unsigned *n)
{
	struct blkd_slot *done = NULL, *dtail = NULL;

	*n = 0;
	c->nout_unpushed = 0;
	while (c->out_head) {
		struct iovec iov[PUSH_IOV];
		struct msghdr mh = { .msg_iov = iov };
		ssize_t r = -1;

		if (!c->dead) {
			mh.msg_iovlen = (size_t)gather(c, iov);
			r = c->tls ? tls_sendv(c, iov, (int)mh.msg_iovlen)
				   : sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				break;
			if (r < 0) {	/* no reply will reach it: drop what is queued */
				c->dead = true;
				blkd_client_cancel(&c->client);
				shutdown(c->fd, SHUT_RDWR);
			}
		}
		consume(c, r < 0 ? SIZE_MAX : (size_t)r, &done, &dtail, n);
	}
	return done;
}

void blkd_outq_add(struct blkd_conn *c, struct blkd_slot *s, bool corkable)
{
	struct blkd_slot *done = NULL;
	bool waits = false;
	unsigned n = 0;

	pthread_mutex_lock(&c->send_lock);
	s->sent = 0;
	s->next_pending = NULL;
	if (c->out_tail)
		c->out_tail->next_pending = s;
	else
		c->out_head = s;
	c->out_tail = s;
	if (!(c->corked && corkable) || ++c->nout_unpushed >= CORK_MAX) {
		done = __outq_push(c, &n);
		waits = c->out_head != NULL;
	}
	pthread_mutex_unlock(&c->send_lock);
	if (done)
		blkd_slots_put(c, done, n);
	if (waits)		/* the socket is full: the reader takes over */
		blkd_conn_kick(c);
}

bool blkd_outq_push(struct blkd_conn *c)
{
	struct blkd_slot *done;
	bool waits;
	unsigned n;

	pthread_mutex_lock(&c->send_lock);
	done = __outq_push(c, &n);
	waits = c->out_head != NULL;
	pthread_mutex_unlock(&c->send_lock);
	if (done)
		blkd_slots_put(c, done, n);
	return waits;
}

int blkd_conn_wait(struct blkd_conn *c, bool want_read, int timeout_ms)
{
	struct pollfd p[2];
	bool pending;

	if (want_read && blkd_tls_pending(c))
		return 0;		/* decrypted bytes wait: poll would not say */
	pthread_mutex_lock(&c->send_lock);
	pending = c->out_head && !c->dead;
	pthread_mutex_unlock(&c->send_lock);
	p[0] = (struct pollfd){ .fd = c->fd,
				.events = (short)((want_read ? POLLIN : 0) | (pending ? POLLOUT : 0)) };
	p[1] = (struct pollfd){ .fd = c->wake_fd, .events = POLLIN };
	if (poll(p, 2, timeout_ms) < 0)
		return errno == EINTR ? 0 : -errno;
	if (p[1].revents & POLLIN) {
		uint64_t v;
		ssize_t r = read(c->wake_fd, &v, sizeof(v));

		(void)r;
	}
	if (p[0].revents & (POLLOUT | POLLERR | POLLHUP))
		blkd_outq_push(c);
	return 0;
}
