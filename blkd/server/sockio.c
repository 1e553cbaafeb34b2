/* SPDX-License-Identifier: MIT */
/*
 * sockio.c - whole-buffer reads and writes on a blocking socket, for the
 * handshake and the control socket (the transmission phase has its own
 * buffered reader, transmission.c, and its output queue, outq.c).
 */
#include <errno.h>
#include <sys/socket.h>

#include "server.h"
#include "tls.h"

/* One read or write: through c's TLS session when it has one (c may be
 * NULL), else the socket itself, blocking. */
static ssize_t read_some(int fd, struct blkd_conn *c, void *buf, size_t len)
{
	return c && c->tls ? blkd_tls_recv(c, buf, len) : recv(fd, buf, len, 0);
}

static ssize_t write_some(int fd, struct blkd_conn *c, const void *buf, size_t len)
{
	return c && c->tls ? blkd_tls_send(c, buf, len) : send(fd, buf, len, MSG_NOSIGNAL);
}

static int read_full(int fd, struct blkd_conn *c, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t r = read_some(fd, c, p, len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ECONNRESET;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

static int write_full(int fd, struct blkd_conn *c, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t r = write_some(fd, c, p, len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

int blkd_read_full(int fd, void *buf, size_t len)
{
	return read_full(fd, NULL, buf, len);
}

int blkd_write_full(int fd, const void *buf, size_t len)
{
	return write_full(fd, NULL, buf, len);
}

int blkd_conn_read_full(struct blkd_conn *c, void *buf, size_t len)
{
	return read_full(c->fd, c, buf, len);
}

int blkd_conn_write_full(struct blkd_conn *c, const void *buf, size_t len)
{
	return write_full(c->fd, c, buf, len);
}

ssize_t blkd_conn_recv(struct blkd_conn *c, void *buf, size_t len)
{
	if (c->tls)
		return blkd_tls_recv(c, buf, len);
	return recv(c->fd, buf, len, MSG_DONTWAIT);
}
