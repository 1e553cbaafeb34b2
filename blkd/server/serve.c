/* SPDX-License-Identifier: MIT */
/*
 * serve.c - "blkd serve": daemon mode, signals, the accept loop, the stats
 * file, and an orderly stop.
 *
 * Without -f the server forks before any thread starts, and the parent
 * exits 0 only once the child listens and has written its pid file, so
 * "blkd serve ... && client" never races.  A detached server lets go of
 * stdin, stdout and, once ready, stderr; run with -f to keep its log lines.
 * SIGTERM/SIGINT: stop listening, let every connection's in-flight requests
 * finish and be answered, flush each backend, remove socket and pid file.
 * Sockets systemd hands over (blkd.socket, LISTEN_FDS) are served too
 * (sd-listen.c); then --unix and --port may be left out.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "sd-listen.h"
#include "server.h"
#include "tls.h"
#include "ob/clock.h"

#define MAX_LISTEN 16

static int sigpipe_fds[2] = { -1, -1 };	/* async-signal handoff only */

static void on_signal(int sig)
{
	char c = (char)sig;
	ssize_t r = write(sigpipe_fds[1], &c, 1);

	(void)r;
}


static void write_stats_file(struct blkd_server *srv, const char *path)
{
	size_t len = 1 << 20;
	char *buf = malloc(len), tmp[PATH_MAX];
	FILE *f;

	if (!buf)
		return;
	blkd_server_stats_json(srv, buf, len);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (f) {
		fputs(buf, f);
		if (fclose(f) == 0)
			rename(tmp, path);
	}
	free(buf);
}


/* Out of descriptors or memory: accepting again at once would fail again
 * (a busy loop of accept4 calls).  The listeners rest for a second; the
 * first time, and again after a success, it is logged once. */
#define ACCEPT_BACKOFF_MS 1000

static bool accept_exhausted(int err)
{
	return err == -EMFILE || err == -ENFILE || err == -ENOBUFS || err == -ENOMEM;
}

/* Accept on every ready listener; false when the listeners must rest. */
static bool accept_ready(struct blkd_server *srv, struct pollfd *pfd, int nl, bool *logged)
{
	bool rest = false;

	for (int i = 0; i < nl; i++) {
		int rc;

		if (!(pfd[i].revents & POLLIN))
			continue;
		rc = blkd_accept(srv, pfd[i].fd);
		if (!rc) {
			*logged = false;
		} else if (accept_exhausted(rc)) {
			if (!*logged)
				blkd_log("accept: %s; not accepting for %d ms at a time until "
					 "connections close", strerror(-rc), ACCEPT_BACKOFF_MS);
			*logged = true;
			rest = true;
		}
	}
	return !rest;
}

/* Listeners are switched off by negating their fds (poll skips them). */
static void listeners_enable(struct pollfd *pfd, int nl, bool on)
{
	for (int i = 0; i < nl; i++)
		if ((pfd[i].fd >= 0) != on)
			pfd[i].fd = -pfd[i].fd - 1;
}

static int serve(struct blkd_server *srv, const struct blkd_config *cfg, int *lfds, int nl, int cfd)
{
	struct pollfd pfd[MAX_LISTEN + 2];
	time_t last_stats = 0;
	uint64_t resume_ns = 0;
	bool logged = false;
	int n = 0;

	for (int i = 0; i < nl; i++)
		pfd[n++] = (struct pollfd){ .fd = lfds[i], .events = POLLIN };
	if (cfd >= 0)
		pfd[n++] = (struct pollfd){ .fd = cfd, .events = POLLIN };
	pfd[n++] = (struct pollfd){ .fd = sigpipe_fds[0], .events = POLLIN };
	for (;;) {
		int timeout = cfg->stats ? 1000 : -1;
		int r;

		if (resume_ns) {
			uint64_t now = ob_mono_ns();

			if (now >= resume_ns) {
				listeners_enable(pfd, nl, true);
				resume_ns = 0;
			} else {
				timeout = (int)((resume_ns - now) / 1000000) + 1;
			}
		}
		r = poll(pfd, (nfds_t)n, timeout);

		if (r < 0 && errno != EINTR)
			return -errno;
		if (cfg->stats && time(NULL) != last_stats) {
			last_stats = time(NULL);
			write_stats_file(srv, cfg->stats);
		}
		if (r <= 0)
			continue;
		if (pfd[n - 1].revents)
			return 0;
		if (!accept_ready(srv, pfd, nl, &logged)) {
			listeners_enable(pfd, nl, false);
			resume_ns = ob_mono_ns() + ACCEPT_BACKOFF_MS * 1000000ull;
		}
		if (cfd >= 0 && pfd[nl].revents & POLLIN) {
			int fd = accept4(cfd, NULL, NULL, SOCK_CLOEXEC);

			if (fd >= 0) {
				blkd_control_handle(srv, fd);
				close(fd);
			}
		}
	}
}

static void stop_connections(struct blkd_server *srv)
{
	struct timespec ts;

	pthread_mutex_lock(&srv->lock);
	srv->stopping = true;
	for (struct blkd_conn *c = srv->conns; c; c = c->next)
		shutdown(c->fd, SHUT_RD);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	while (srv->nr_conns)
		if (pthread_cond_timedwait(&srv->conns_changed, &srv->lock, &ts) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&srv->lock);
}


int blkd_cmd_serve(int argc, char **argv)
{
	struct blkd_config cfg;
	struct blkd_unix_owner unix_own = { 0 }, ctl_own = { 0 };
	bool own_unix = false;
	struct blkd_server srv = { 0 };
	int lfds[MAX_LISTEN], nl = 0, cfd = -1, ready[2] = { -1, -1 }, rc;
	struct sigaction sa = { .sa_handler = on_signal };

	if (blkd_config_parse(&cfg, argc, argv, &rc))
		return rc;
	if (!cfg.foreground) {
		pid_t pid;

		if (pipe(ready)) {
			perror("blkd: pipe");
			return 1;
		}
		pid = fork();
		if (pid < 0) {
			perror("blkd: fork");
			return 1;
		}
		if (pid > 0) {		/* parent: wait until the child listens */
			char c;

			close(ready[1]);
			return read(ready[0], &c, 1) == 1 ? 0 : 1;
		}
		close(ready[0]);
		setsid();
		int devnull = open("/dev/null", O_RDWR);
		if (devnull >= 0) {	/* stdout stays until ready: -p 0 prints there */
			dup2(devnull, 0);
			close(devnull);
		}
	}
	signal(SIGPIPE, SIG_IGN);
	if (pipe2(sigpipe_fds, O_CLOEXEC | O_NONBLOCK)) {
		perror("blkd: pipe");
		return 1;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	pthread_mutex_init(&srv.lock, NULL);
	pthread_cond_init(&srv.conns_changed, NULL);
	pthread_mutex_init(&srv.trace_lock, NULL);
	srv.max_inflight = cfg.max_inflight;
	srv.poll_us = cfg.poll_us;
	srv.max_conn_bytes = cfg.max_conn_bytes;
	srv.max_total_bytes = cfg.max_total_bytes;
	srv.handshake_ms = cfg.handshake_ms;
	srv.tls_mode = cfg.tls_mode;
	srv.verbose = cfg.verbose;
	rc = 1;
	if (cfg.trace_text) {
		srv.trace = fopen(cfg.trace_text, "w");
		if (!srv.trace) {
			fprintf(stderr, "blkd: %s: %s\n", cfg.trace_text, strerror(errno));
			goto out;
		}
		setvbuf(srv.trace, NULL, _IOLBF, 0);
	}
	if (cfg.trace) {
		struct ob_err err = { 0 };

		if (blkd_blktrace_open(cfg.trace, cfg.trace_name, &srv.blktrace, &err)) {
			ob_err_print("blkd", "--trace", &err);
			goto out;
		}
	}
	if (cfg.tls_mode != BLKD_TLS_OFF) {
		struct ob_err err = { 0 };

		if (blkd_tls_init(&srv.tls, cfg.tls_dir, cfg.tls_psk, cfg.tls_verify_peer, &err)) {
			ob_err_print("blkd", "--tls", &err);
			goto out;
		}
	}
	if (blkd_open_exports(&srv, &cfg))
		goto out_exports;
	if (blkd_evloop_start(&srv, cfg.conn_threads))
		goto out_exports;
	if (cfg.unix_path) {
		int fd = blkd_listen_unix(cfg.unix_path, &unix_own);

		if (fd < 0)
			goto out_listen;
		lfds[nl++] = fd;
		own_unix = true;
	}
	if (cfg.port) {
		int n = blkd_listen_tcp(cfg.ip, cfg.port, lfds + nl, MAX_LISTEN - nl);

		if (n < 0)
			goto out_listen;
		if (!strcmp(cfg.port, "0")) {	/* say which port the kernel chose */
			printf("%u\n", blkd_listen_port(lfds[nl]));
			fflush(stdout);
		}
		nl += n;
	}
	nl += blkd_sd_listen_fds(lfds + nl, MAX_LISTEN - nl);	/* blkd.socket */
	if (cfg.control) {
		cfd = blkd_listen_unix(cfg.control, &ctl_own);
		if (cfd < 0)
			goto out_listen;
	}
	if (cfg.pidfile) {
		FILE *f = fopen(cfg.pidfile, "w");

		if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f)) {
			fprintf(stderr, "blkd: %s: cannot write pid file\n", cfg.pidfile);
			goto out_listen;
		}
	}
	if (cfg.verbose)
		blkd_log("serving %u export(s)", srv.nr_exports);
	if (ready[1] >= 0) {
		ssize_t w = write(ready[1], "1", 1);
		int devnull = open("/dev/null", O_WRONLY);

		(void)w;
		close(ready[1]);
		ready[1] = -1;
		/* detached: let go of the caller's stdout and stderr (use -f to
		 * keep logs) */
		if (devnull >= 0) {
			dup2(devnull, 1);
			dup2(devnull, 2);
			close(devnull);
		}
	}
	rc = serve(&srv, &cfg, lfds, nl, cfd) ? 1 : 0;
	if (cfg.pidfile)
		unlink(cfg.pidfile);
out_listen:
	for (int i = 0; i < nl; i++)
		close(lfds[i]);
	if (own_unix)
		blkd_unlink_own(cfg.unix_path, &unix_own);
	if (cfd >= 0) {
		close(cfd);
		blkd_unlink_own(cfg.control, &ctl_own);
	}
	stop_connections(&srv);
	blkd_evloop_stop(&srv);
out_exports:
	blkd_close_exports(&srv);
out:
	blkd_tls_free(srv.tls);
	if (srv.trace)
		fclose(srv.trace);
	if (srv.blktrace && blkd_blktrace_close(srv.blktrace))
		fprintf(stderr, "blkd: %s: writing the trace failed\n", cfg.trace);
	return rc;
}

