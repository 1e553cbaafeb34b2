/* SPDX-License-Identifier: MIT */
/* sd-listen.c - socket activation: listening sockets handed over by
 * systemd (blkd.socket), so that blkd starts on the first connection and a
 * restart never drops the socket clients connect to.
 *
 * The protocol (sd_listen_fds(3)) is three environment variables, so no
 * libsystemd: LISTEN_PID is the pid meant to take the sockets (a child of
 * ours must not take them again), LISTEN_FDS how many there are, from fd 3
 * on.  We check each is a listening stream socket, mark it close-on-exec
 * and remove the variables, as sd_listen_fds(1) does.
 */
#include "sd-listen.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SD_LISTEN_FDS_START 3
#define SD_MAX 16

static int taken = -1;			/* -1: not yet */
static int sd_fds[SD_MAX];

static long env_number(const char *name)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (!v || !*v)
		return -1;
	errno = 0;
	n = strtol(v, &end, 10);
	return errno || *end || n < 0 ? -1 : n;
}

int blkd_sd_listen_take(void)
{
	long pid = env_number("LISTEN_PID"), n = env_number("LISTEN_FDS");
	int on, fd;
	socklen_t len = sizeof(on);

	if (taken >= 0)
		return taken;
	taken = 0;
	if (pid != (long)getpid() || n <= 0)
		return 0;
	if (n > SD_MAX) {
		fprintf(stderr, "blkd: systemd passed %ld sockets, at most %d are served\n", n, SD_MAX);
		return -1;
	}
	for (long i = 0; i < n; i++) {
		fd = SD_LISTEN_FDS_START + (int)i;
		errno = 0;
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) || !on) {
			fprintf(stderr, "blkd: systemd socket fd %d: not a listening socket%s%s\n",
				fd, errno ? ": " : "", errno ? strerror(errno) : "");
			return -1;
		}
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		sd_fds[taken++] = fd;
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return taken;
}

int blkd_sd_listen_fds(int *fds, int max)
{
	int n = 0;

	for (; taken > 0 && n < taken && n < max; n++)
		fds[n] = sd_fds[n];
	return n;
}
