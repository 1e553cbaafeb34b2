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

int blkd_read_full(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t r = recv(fd, p, len, 0);

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

int blkd_write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t r = send(fd, p, len, MSG_NOSIGNAL);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

int blkd_conn_read_full(struct blkd_conn *c, void *buf, size_t len)
{
	char *p = buf;

	if (!c->tls)
		return blkd_read_full(c->fd, buf, len);
	while (len) {
		ssize_t r = blkd_tls_recv(c, p, len);

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

int blkd_conn_write_full(struct blkd_conn *c, const void *buf, size_t len)
{
	const char *p = buf;

	if (!c->tls)
		return blkd_write_full(c->fd, buf, len);
	while (len) {
		ssize_t r = blkd_tls_send(c, p, len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

ssize_t blkd_conn_recv(struct blkd_conn *c, void *buf, size_t len)
{
	if (c->tls)
		return blkd_tls_recv(c, buf, len);
	return recv(c->fd, buf, len, MSG_DONTWAIT);
}
