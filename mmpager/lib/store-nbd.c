// SPDX-License-Identifier: MIT
/* store-nbd.c - a store on an NBD export, through libnbd (issue 25): far
 * memory over an existing network block protocol.
 *
 * libnbd takes a lock on a handle for every call, and a synchronous call
 * holds it until the reply, so one handle would serialise every filler and
 * evictor.  The store therefore opens a small pool of connections, each
 * with its own mutex; a caller takes the first free one.  Every command is
 * issued with the aio API and waited for with nbd_poll() under a deadline,
 * so a server that stops answering costs a bounded wait and an error (the
 * pager turns a failed fill into SIGBUS), never a stuck filler.  A
 * connection that failed or timed out is marked dead and never polled
 * again: libnbd only touches a command's buffer inside its own calls, so
 * a buffer the pager reuses is safe.  Pages past the end of the export
 * read as zeros; writes past it fail with ENOSPC.
 */
#include <errno.h>
#include <libnbd.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ob/err.h"
#include "mp-int.h"

#define NBD_DEFAULT_CONNS	4
#define NBD_DEFAULT_TIMEOUT_MS	30000

struct nbd_conn {
	pthread_mutex_t mu;
	struct nbd_handle *h;
	bool dead;
};

struct nbd_store {
	struct mmp_store st;
	char *uri;
	uint64_t size;
	unsigned timeout_ms;
	bool can_flush;
	unsigned nconns;
	struct nbd_conn conns[];
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The connection is lost: say so once, with libnbd's reason. */
static int conn_fail(struct nbd_store *ns, struct nbd_conn *c, int rc, const char *why)
{
	if (!c->dead)
		mp_log("mmpager: nbd store %s: connection %u lost: %s", ns->uri,
		       (unsigned)(c - ns->conns), why);
	c->dead = true;
	return rc;
}

/* Wait for command cookie on c (locked) until done or the deadline. */
static int conn_wait(struct nbd_store *ns, struct nbd_conn *c, int64_t cookie)
{
	long long deadline = now_ms() + ns->timeout_ms;

	if (cookie < 0)
		return conn_fail(ns, c, -EIO, nbd_get_error());
	for (;;) {
		int done = nbd_aio_command_completed(c->h, (uint64_t)cookie);
		long long left = deadline - now_ms();

		if (done == 1)
			return 0;
		if (done < 0) {
			int e = nbd_get_errno();

			/* a server's error reply leaves the connection usable */
			if (!nbd_aio_is_dead(c->h) && !nbd_aio_is_closed(c->h))
				return -(e ? e : EIO);
			return conn_fail(ns, c, -EIO, nbd_get_error());
		}
		if (left <= 0)
			return conn_fail(ns, c, -ETIMEDOUT, "no reply within the timeout");
		if (nbd_poll(c->h, (int)(left > 1000 ? 1000 : left)) < 0)
			return conn_fail(ns, c, -EIO, nbd_get_error());
	}
}

/* Take a connection: the first free one, else wait for one by turns. */
static struct nbd_conn *conn_get(struct nbd_store *ns)
{
	static _Atomic unsigned next;

	for (unsigned i = 0; i < ns->nconns; i++)
		if (pthread_mutex_trylock(&ns->conns[i].mu) == 0)
			return &ns->conns[i];
	struct nbd_conn *c = &ns->conns[atomic_fetch_add(&next, 1) % ns->nconns];

	pthread_mutex_lock(&c->mu);
	return c;
}

static int nbd_io(struct nbd_store *ns, void *buf, size_t len, uint64_t off, bool write)
{
	struct nbd_conn *c = conn_get(ns);
	int64_t cookie;
	int rc;

	if (c->dead) {
		pthread_mutex_unlock(&c->mu);
		return -EIO;
	}
	if (write)
		cookie = nbd_aio_pwrite(c->h, buf, len, off, NBD_NULL_COMPLETION, 0);
	else
		cookie = nbd_aio_pread(c->h, buf, len, off, NBD_NULL_COMPLETION, 0);
	rc = conn_wait(ns, c, cookie);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static int nbd_read(struct mmp_store *st, void *buf, size_t len, uint64_t off)
{
	struct nbd_store *ns = (struct nbd_store *)st;
	size_t in = off >= ns->size ? 0 : (size_t)(ns->size - off < len ? ns->size - off : len);

	if (in < len)
		memset((char *)buf + in, 0, len - in);
	return in ? nbd_io(ns, buf, in, off, false) : 0;
}

static int nbd_write(struct mmp_store *st, const void *buf, size_t len, uint64_t off)
{
	struct nbd_store *ns = (struct nbd_store *)st;

	if (off > ns->size || len > ns->size - off)
		return -ENOSPC;
	return nbd_io(ns, (void *)buf, len, off, true);
}

/* Flush every connection: without NBD_FLAG_CAN_MULTI_CONN a flush only
 * covers the writes that went over its own connection. */
static int nbd_sync(struct mmp_store *st)
{
	struct nbd_store *ns = (struct nbd_store *)st;
	int rc = 0;

	if (!ns->can_flush)
		return 0;
	for (unsigned i = 0; i < ns->nconns; i++) {
		struct nbd_conn *c = &ns->conns[i];
		int r = -EIO;

		pthread_mutex_lock(&c->mu);
		if (!c->dead)
			r = conn_wait(ns, c, nbd_aio_flush(c->h, NBD_NULL_COMPLETION, 0));
		pthread_mutex_unlock(&c->mu);
		if (r < 0 && rc == 0)
			rc = r;
	}
	return rc;
}

static void nbd_destroy(struct mmp_store *st)
{
	struct nbd_store *ns = (struct nbd_store *)st;

	for (unsigned i = 0; i < ns->nconns; i++) {
		if (ns->conns[i].h) {
			if (!ns->conns[i].dead)
				nbd_shutdown(ns->conns[i].h, 0);
			nbd_close(ns->conns[i].h);
		}
		pthread_mutex_destroy(&ns->conns[i].mu);
	}
	free(ns->uri);
	free(ns);
}

static const struct mmp_store_ops nbd_ops = {
	.read = nbd_read, .write = nbd_write, .sync = nbd_sync, .destroy = nbd_destroy,
};

/* Connect one handle to uri, bounded by the store's timeout. */
static int conn_open(struct nbd_store *ns, struct nbd_conn *c, struct ob_err *err)
{
	long long deadline = now_ms() + ns->timeout_ms;

	c->h = nbd_create();
	if (!c->h)
		return ob_err_set(err, -ENOMEM, "nbd store %s: %s", ns->uri, nbd_get_error());
	if (nbd_supports_uri(c->h) != 1)
		return ob_err_set(err, -ENOTSUP, "nbd store %s: this libnbd cannot parse URIs",
				  ns->uri);
	if (nbd_aio_connect_uri(c->h, ns->uri) < 0)
		goto fail;
	while (nbd_aio_is_connecting(c->h)) {
		long long left = deadline - now_ms();

		if (left <= 0)
			return ob_err_set(err, -ETIMEDOUT, "nbd store %s: no answer within %u ms",
					  ns->uri, ns->timeout_ms);
		if (nbd_poll(c->h, (int)(left > 1000 ? 1000 : left)) < 0)
			goto fail;
	}
	if (nbd_aio_is_ready(c->h))
		return 0;
fail:
	return ob_err_set(err, nbd_get_errno() ? -nbd_get_errno() : -EIO, "nbd store %s: %s",
			  ns->uri, nbd_get_error() ? nbd_get_error() : "connection failed");
}

/* Size, access mode and flush support, from the first connection. */
static int export_probe(struct nbd_store *ns, struct ob_err *err)
{
	struct nbd_handle *h = ns->conns[0].h;
	int64_t size = nbd_get_size(h);
	int ro = nbd_is_read_only(h);

	if (size < 0 || ro < 0)
		return ob_err_set(err, -EIO, "nbd store %s: %s", ns->uri, nbd_get_error());
	ns->size = (uint64_t)size;
	ns->st.writable = !ro;
	ns->can_flush = nbd_can_flush(h) == 1;
	return 0;
}

int mmp_store_nbd(const char *uri, const struct mmp_nbd_opts *o, struct mmp_store **out,
		  struct ob_err *err)
{
	unsigned n = o && o->connections ? o->connections : NBD_DEFAULT_CONNS;
	struct nbd_store *ns;
	int rc;

	if (!uri || !*uri)
		return ob_err_set(err, -EINVAL, "nbd store: no URI");
	if (n > 64)
		return ob_err_set(err, -EINVAL, "nbd store %s: %u connections (at most 64)", uri, n);
	ns = calloc(1, sizeof(*ns) + n * sizeof(ns->conns[0]));
	if (!ns || !(ns->uri = strdup(uri))) {
		free(ns);
		return ob_err_set(err, -ENOMEM, "nbd store %s: out of memory", uri);
	}
	ns->st.ops = &nbd_ops;
	ns->st.kind = "nbd";
	ns->timeout_ms = o && o->timeout_ms ? o->timeout_ms : NBD_DEFAULT_TIMEOUT_MS;
	ns->nconns = n;
	for (unsigned i = 0; i < n; i++)
		pthread_mutex_init(&ns->conns[i].mu, NULL);
	for (unsigned i = 0; i < n; i++) {
		rc = conn_open(ns, &ns->conns[i], err);
		if (rc < 0)
			goto fail;
	}
	rc = export_probe(ns, err);
	if (rc < 0)
		goto fail;
	*out = &ns->st;
	return 0;
fail:
	for (unsigned i = 0; i < n; i++)
		ns->conns[i].dead = true;	/* no shutdown handshake on failure */
	nbd_destroy(&ns->st);
	return rc;
}

uint64_t mmp_store_nbd_size(const struct mmp_store *st)
{
	return st && st->ops == &nbd_ops ? ((const struct nbd_store *)st)->size : 0;
}
