/* SPDX-License-Identifier: MIT */
/*
 * listen.c - the server's listening sockets (Unix and TCP) and the accept
 * of a new client, which becomes a connection (conn.c).
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "server.h"

/*
 * A socket file left by a server that died is taken over; one that a live
 * server listens on is not (nbdkit does the same): connecting to it tells
 * the two apart.  0 when path is free to bind, -EADDRINUSE when live.
 */
static int unix_path_free(const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, rc = 0;

	if (lstat(sa->sun_path, &st) || !S_ISSOCK(st.st_mode))
		return 0;		/* bind reports anything else */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (!connect(fd, (const struct sockaddr *)sa, sizeof(*sa)))
		rc = -EADDRINUSE;
	else if (errno == ECONNREFUSED)
		unlink(sa->sun_path);	/* stale */
	close(fd);
	return rc;
}

int blkd_listen_unix(const char *path, struct blkd_unix_owner *own)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "blkd: %s: socket path too long\n", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	rc = unix_path_free(&sa);
	if (rc) {
		fprintf(stderr, "blkd: %s: cannot listen: %s (another server listens there)\n",
			path, strerror(-rc));
		return rc;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 128)) {
		int e = errno;

		fprintf(stderr, "blkd: %s: cannot listen: %s\n", path, strerror(e));
		if (fd >= 0)
			close(fd);
		return -e;
	}
	if (!lstat(path, &st)) {
		own->dev = st.st_dev;
		own->ino = st.st_ino;
	}
	return fd;
}

void blkd_unlink_own(const char *path, const struct blkd_unix_owner *own)
{
	struct stat st;

	/* another server may have replaced a socket we lost: leave it */
	if (!lstat(path, &st) && st.st_dev == own->dev && st.st_ino == own->ino)
		unlink(path);
}

int blkd_listen_tcp(const char *ip, const char *port, int *fds, int max)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE };
	struct addrinfo *res, *ai;
	int n = 0, rc, one = 1;

	rc = getaddrinfo(ip, port, &hints, &res);
	if (rc) {
		fprintf(stderr, "blkd: %s:%s: %s\n", ip, port, gai_strerror(rc));
		return -EINVAL;
	}
	/* Port 0: the kernel picks one for the first address; the others
	 * would get different ones, so only the first is used. */
	if (!strcmp(port, "0"))
		max = 1;
	for (ai = res; ai && n < max; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);

		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 128)) {
			fprintf(stderr, "blkd: %s:%s: cannot listen: %s\n", ip, port, strerror(errno));
			close(fd);
			continue;
		}
		fds[n++] = fd;
	}
	freeaddrinfo(res);
	return n ? n : -EADDRNOTAVAIL;
}


int blkd_accept(struct blkd_server *srv, int lfd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char peer[64] = "unix", host[48], serv[16];
	int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (ss.ss_family != AF_UNIX &&
	    !getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), serv, sizeof(serv),
			 NI_NUMERICHOST | NI_NUMERICSERV))
		snprintf(peer, sizeof(peer), "%s:%s", host, serv);
	blkd_conn_start(srv, fd, peer);
	return 0;
}


unsigned blkd_listen_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl))
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}
