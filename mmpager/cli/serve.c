// SPDX-License-Identifier: MIT
/* serve.c - "mmpager serve --snapshot FILE --socket PATH": a page-fault
 * handler for the lazy restore of a memory snapshot, speaking the protocol
 * Firecracker documents for its uffd handlers: listen on a Unix socket;
 * the restoring process connects and sends, in one message, its
 * userfaultfd (SCM_RIGHTS) and the JSON layout of its regions (layout.c);
 * then pages are served on demand and prefetched in the background
 * (lib/restore.c) until that process exits.  Every wait before the
 * hand-over is bounded by --timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ob/err.h"
#include "ob/opt.h"
#include "layout.h"
#include "serve.h"

#define PROG "mmpager serve"
#define MSG_MAX (256 << 10)

enum { K_SNAPSHOT = 1, K_SOCKET, K_NO_PREFETCH, K_TIMEOUT };

static const struct ob_opt serve_opts[] = {
	{ "snapshot", 's', K_SNAPSHOT, "FILE", "the memory snapshot the regions' offsets "
	  "point into", 0 },
	{ "socket", 'S', K_SOCKET, "PATH", "Unix socket to listen on (created; must not "
	  "exist)", 0 },
	{ "no-prefetch", 0, K_NO_PREFETCH, NULL, "serve faults only; no background copy", 0 },
	{ "timeout", 't', K_TIMEOUT, "TIME", "wait at most this long for the process to "
	  "connect and send its uffd and layout (default 30s; forever)", 0 },
	{ OB_OPT_END },
};

static const struct ob_opt *const serve_tables[] = { serve_opts, NULL };

static const struct ob_cmd serve_cmd = {
	.prog = PROG,
	.synopsis = PROG " --snapshot FILE --socket PATH [OPTION]...",
	.about = "Serve FILE's pages to one process that connects to PATH and sends its "
		 "userfaultfd with SCM_RIGHTS and its regions as Firecracker does: a JSON "
		 "array of {\"base_host_virt_addr\", \"size\", \"offset\", \"page_size\"}.  "
		 "Pages are served when touched and copied in ahead in the background; "
		 "ends when the process exits, printing one line of counters.",
	.tables = serve_tables,
	.operands_min = 0,
	.operands_max = 0,
};

struct serve_args {
	const char *snapshot, *socket;
	bool no_prefetch;
	int64_t timeout_ms;
};

static int serve_opt(const struct ob_cmd *cmd, const struct ob_opt *opt, const char *arg,
		     void *ctx)
{
	struct serve_args *a = ctx;

	switch (opt->key) {
	case K_SNAPSHOT:
		a->snapshot = arg;
		return 0;
	case K_SOCKET:
		if (strlen(arg) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return ob_opt_usage(cmd, "--socket %s: path too long", arg);
		a->socket = arg;
		return 0;
	case K_NO_PREFETCH:
		a->no_prefetch = true;
		return 0;
	case K_TIMEOUT:
		if (ob_parse_time_ms(arg, true, &a->timeout_ms) < 0)
			return ob_opt_usage(cmd, "--timeout %s: a time such as 30s", arg);
		return 0;
	}
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for fd to turn readable until the deadline (-1: none). */
static int wait_readable(int fd, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int64_t left = deadline < 0 ? -1 : deadline - now_ms();
	int n;

	if (deadline >= 0 && left <= 0)
		return -ETIMEDOUT;
	n = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
	if (n < 0)
		return -errno;
	return n ? 0 : -ETIMEDOUT;
}

static int listen_on(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(sa.sun_path, path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0) {
		fprintf(stderr, PROG ": %s: cannot listen: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Read the hand-over: the uffd and a complete JSON layout into buf. */
static int receive(int conn, int64_t deadline, int *uffd, char *buf, size_t cap)
{
	size_t len = 0;

	*uffd = -1;
	while (*uffd < 0 || !layout_complete(buf, len)) {
		char cbuf[CMSG_SPACE(4 * sizeof(int))];
		struct iovec iov = { buf + len, cap - 1 - len };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
		ssize_t n;
		int rc;

		if (len == cap - 1)
			return -EMSGSIZE;
		rc = wait_readable(conn, deadline);
		if (rc < 0)
			return rc;
		n = recvmsg(conn, &mh, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			int nfd = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			int fds[4];

			memcpy(fds, CMSG_DATA(c), (size_t)nfd * sizeof(int));
			for (int i = 0; i < nfd; i++) {
				if (*uffd < 0)
					*uffd = fds[i];
				else
					close(fds[i]);	/* only the first is the uffd */
			}
		}
		if (n == 0)
			return -ENODATA;
		len += (size_t)n;
		buf[len] = '\0';
	}
	return 0;
}

static int map_snapshot(const char *path, void **mem, size_t *len)
{
	struct stat sb;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &sb) < 0) {
		fprintf(stderr, PROG ": %s: cannot open: %s\n", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(sb.st_mode) || sb.st_size < 4096) {
		fprintf(stderr, PROG ": %s: not a regular file of at least 4 KiB\n", path);
		goto fail;
	}
	*len = (size_t)sb.st_size;
	*mem = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (*mem == MAP_FAILED) {
		fprintf(stderr, PROG ": %s: cannot map: %s\n", path, strerror(errno));
		goto fail;
	}
	close(fd);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

static void log_stderr(const char *line)
{
	fprintf(stderr, "%s\n", line);
}

/* Serve one connected process until it exits. */
static int serve_conn(int conn, const struct serve_args *a, const void *snap, size_t snap_len)
{
	struct mmp_restore_region *regs = NULL;
	struct mmp_restore *rs = NULL;
	struct mmp_restore_stats st;
	struct ob_err err = { 0 };
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	int64_t deadline = a->timeout_ms < 0 ? -1 : now_ms() + a->timeout_ms;
	char *buf = malloc(MSG_MAX), why[160];
	int uffd = -1, pidfd = -1, rc = 1, r;
	unsigned n;

	if (!buf)
		goto out;
	r = receive(conn, deadline, &uffd, buf, MSG_MAX);
	if (r < 0) {
		fprintf(stderr, PROG ": %s: no uffd and layout from the process: %s\n", a->socket,
			r == -ENODATA ? "it closed the connection" : strerror(-r));
		goto out;
	}
	if (layout_parse(buf, &regs, &n, why, sizeof(why)) < 0) {
		fprintf(stderr, PROG ": %s: bad region layout: %s\n", a->socket, why);
		goto out;
	}
	if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0)
		pidfd = (int)syscall(SYS_pidfd_open, cred.pid, 0);
	if (mmp_restore_start(uffd, snap, snap_len, regs, n, !a->no_prefetch, &rs, &err) < 0) {
		ob_err_print(PROG, a->snapshot, &err);
		goto out;
	}
	printf("serving pid=%d regions=%u\n", pidfd >= 0 ? (int)cred.pid : -1, n);
	fflush(stdout);
	/* without a pidfd, the end of the connection stands for the exit */
	mmp_restore_wait(rs, pidfd >= 0 ? pidfd : conn, -1);
	mmp_restore_stats(rs, &st);
	printf("served faults=%" PRIu64 " fault_pages=%" PRIu64 " prefetched=%" PRIu64
	       " zeroed=%" PRIu64 " errors=%" PRIu64 " all_in_ms=%.1f\n", st.faults,
	       st.fault_pages, st.prefetched, st.zeroed, st.errors,
	       st.all_in_ns < 0 ? -1.0 : st.all_in_ns / 1e6);
	rc = st.errors ? 1 : 0;
out:
	mmp_restore_free(rs);
	if (pidfd >= 0)
		close(pidfd);
	if (uffd >= 0)
		close(uffd);
	free(regs);
	free(buf);
	return rc;
}

int cmd_serve(int argc, char **argv)
{
	struct serve_args a = { .timeout_ms = 30000 };
	int64_t deadline;
	void *snap;
	size_t snap_len;
	int status, lfd, conn, rc;

	mmp_set_log(log_stderr);
	if (ob_opt_parse(&serve_cmd, argc, argv, serve_opt, &a, &status) < 0)
		return status;
	if (!a.snapshot || !a.socket)
		return ob_opt_usage(&serve_cmd, "--snapshot and --socket are required");
	if (map_snapshot(a.snapshot, &snap, &snap_len) < 0)
		return 1;
	lfd = listen_on(a.socket);
	if (lfd < 0) {
		munmap(snap, snap_len);
		return 1;
	}
	printf("listening socket=%s\n", a.socket);
	fflush(stdout);
	deadline = a.timeout_ms < 0 ? -1 : now_ms() + a.timeout_ms;
	rc = wait_readable(lfd, deadline);
	conn = rc < 0 ? -1 : accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0) {
		fprintf(stderr, PROG ": %s: no process connected: %s\n", a.socket,
			strerror(rc < 0 ? -rc : errno));
		rc = 1;
	} else {
		rc = serve_conn(conn, &a, snap, snap_len);
		close(conn);
	}
	close(lfd);
	unlink(a.socket);
	munmap(snap, snap_len);
	return rc;
}
