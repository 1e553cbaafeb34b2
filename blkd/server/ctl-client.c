/* SPDX-License-Identifier: MIT */
/*
 * ctl-client.c - "blkd ctl SOCKET WORDS...": the client side of the
 * control socket (control.c answers): one line out, the answer printed,
 * exit 1 when it starts with "error:".
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "server.h"

/* blkd ctl SOCKET WORDS...: send one line, print the answer. */
int blkd_cmd_ctl(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char line[512] = "", buf[65536];
	int fd, rc = 0;
	ssize_t r;

	if (argc < 3)
		return blkd_usage_error("ctl: expected SOCKET COMMAND...");
	if (strlen(argv[1]) >= sizeof(sa.sun_path))
		return blkd_usage_error("ctl: socket path too long");
	strcpy(sa.sun_path, argv[1]);
	for (int i = 2; i < argc; i++) {
		strncat(line, argv[i], sizeof(line) - strlen(line) - 2);
		strncat(line, i + 1 < argc ? " " : "\n", sizeof(line) - strlen(line) - 1);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr, "blkd: %s: cannot connect: %s\n", argv[1], strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	if (blkd_write_full(fd, line, strlen(line))) {
		close(fd);
		return 1;
	}
	while ((r = read(fd, buf, sizeof(buf))) > 0) {
		if (!strncmp(buf, "error:", 6))
			rc = 1;
		fwrite(buf, 1, (size_t)r, stdout);
	}
	close(fd);
	return rc;
}

