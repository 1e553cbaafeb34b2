/* SPDX-License-Identifier: MIT */
/*
 * main.c - the blkd command line, in the style of nbdkit and qemu-nbd.
 *
 *   blkd serve [OPTION]... FILE...     serve each FILE (or memory:SIZE, nbd:URI,
 *                                      or mpath: the --path options, mpath.c)
 *   blkd ctl SOCKET COMMAND...         talk to a running server's control socket
 *
 * Options come from one table (opts[]), which also prints --help.  Unknown
 * options and bad values are errors that name the option; usage errors
 * exit 2, runtime failures 1.  Without -f the server forks before any
 * thread starts, and the parent exits 0 only once the child listens and has
 * written its pid file, so "blkd serve ... && client" never races.
 * A detached server lets go of stdin, stdout and, once ready, stderr; run
 * with -f to keep its log lines.
 * Sockets systemd hands over (blkd.socket, LISTEN_FDS) are served too
 * (sd-listen.c); then --unix and --port may be left out.
 * SIGTERM/SIGINT: stop listening, let every connection's in-flight requests
 * finish and be answered, flush each backend, remove socket and pid file.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "sd-listen.h"
#include "server.h"

#define BLKD_VERSION "0.1"
#define MAX_LISTEN 16

enum {
	OPT_MAX_MERGE = 256, OPT_ORDERED, OPT_DIRECT, OPT_FUA, OPT_STATS, OPT_TRACE,
	OPT_MAX_INFLIGHT, OPT_TRACE_TEXT, OPT_TRACE_NAME, OPT_PATH, OPT_SELECTOR, OPT_FAILBACK,
	OPT_QUEUE_NO_PATH, OPT_QUEUE_MAX, OPT_CHECKER, OPT_IO_TIMEOUT, OPT_NO_MMAP,
	OPT_POLL,
};

static const struct opt_desc {
	const char *name;
	int val;
	int has_arg;
	const char *arg;
	const char *help;
} opts[] = {
	{ "unix", 'U', 1, "PATH", "listen on a Unix socket" },
	{ "port", 'p', 1, "PORT", "listen on a TCP port" },
	{ "ip", 'i', 1, "ADDR", "address for --port (default 127.0.0.1)" },
	{ "export-name", 'x', 1, "NAME", "name of the next FILE's export, once per FILE in order "
	  "(default: \"\" for the first, the file's base name after)" },
	{ "description", 'd', 1, "TEXT", "description sent with every export" },
	{ "scheduler", 's', 1, "NAME", "I/O scheduler: noop, deadline, fair (default deadline)" },
	{ "read-only", 'r', 0, NULL, "serve read-only" },
	{ "foreground", 'f', 0, NULL, "do not fork into the background" },
	{ "pidfile", 'P', 1, "PATH", "write the server's pid here once listening" },
	{ "threads", 't', 1, "N", "worker threads per export (default 4)" },
	{ "max-merge", OPT_MAX_MERGE, 1, "SIZE", "largest merged request (default 1M; 0: no merging)" },
	{ "ordered", OPT_ORDERED, 1, "MODE", "force an ordered mode: none, drain, drain-flush, "
	  "drain-fua, tag, tag-flush, tag-fua (default: the backend's)" },
	{ "direct", OPT_DIRECT, 0, NULL, "open files with O_DIRECT" },
	{ "no-mmap", OPT_NO_MMAP, 0, NULL, "never copy through a shared mapping of the file "
	  "(default: cached pages of files up to 64 GiB are)" },
	{ "fua", OPT_FUA, 1, "native|emulate", "FUA by RWF_DSYNC (native) or a post-flush" },
	{ "max-inflight", OPT_MAX_INFLIGHT, 1, "N", "requests in flight per connection (default 128)" },
	{ "poll", OPT_POLL, 1, "USEC", "after a batch, poll the socket this long before sleeping "
	  "(default 50; 0: sleep at once)" },
	{ "control", 'C', 1, "PATH", "control socket: stats, scheduler switching" },
	{ "stats", OPT_STATS, 1, "FILE", "rewrite FILE with JSON statistics every second" },
	{ "trace", OPT_TRACE, 1, "DIR", "write blktrace files DIR/NAME.blktrace.N (blkparse, btt)" },
	{ "trace-name", OPT_TRACE_NAME, 1, "NAME", "base name of the blktrace files (default blkd)" },
	{ "trace-text", OPT_TRACE_TEXT, 1, "FILE", "log every request event (Q M F G I D C R) as text" },
	{ "path", OPT_PATH, 1, "[G:]URI", "add an NBD path (nbd://, nbd+unix://) in priority group G "
	  "(default 1 = preferred) to the export FILE \"mpath\"" },
	{ "selector", OPT_SELECTOR, 1, "[G:]NAME", "path selector of group G: round-robin, "
	  "queue-length, service-time (default)" },
	{ "failback", OPT_FAILBACK, 1, "WHEN", "back to a better group: immediate (default), manual, "
	  "or a delay in seconds" },
	{ "queue-if-no-path", OPT_QUEUE_NO_PATH, 1, "TIME", "hold I/O this long with no path "
	  "(default 30s; 0 = fail at once; forever)" },
	{ "queue-max", OPT_QUEUE_MAX, 1, "N", "most requests held with no path (default 4096)" },
	{ "checker-interval", OPT_CHECKER, 1, "TIME", "probe failed paths this often (default 1s)" },
	{ "io-timeout", OPT_IO_TIMEOUT, 1, "TIME", "a request older than this fails its path "
	  "(default 30s)" },
	{ "verbose", 'v', 0, NULL, "log connections" },
	{ "help", 'h', 0, NULL, "show this help" },
	{ "version", 'V', 0, NULL, "show the version" },
};
#define NR_OPTS (sizeof(opts) / sizeof(opts[0]))

struct config {
	const char *unix_path;
	const char *port;
	const char *ip;
	const char *names[64];
	unsigned nr_names;
	const char *desc;
	const char *scheduler;
	bool readonly;
	bool foreground;
	const char *pidfile;
	unsigned threads;
	uint32_t max_merge;
	int ordered;
	bool direct;
	bool no_map;
	bool fua_emulate;
	unsigned max_inflight;
	unsigned poll_us;
	const char *control;
	const char *stats;
	const char *trace;
	const char *trace_name;
	const char *trace_text;
	const char *paths[32];
	unsigned path_groups[32];
	unsigned nr_paths;
	const char *selectors[16];
	enum blkd_failback failback;
	unsigned failback_ms;
	int queue_no_path_ms;
	unsigned queue_max;
	unsigned checker_ms;
	unsigned io_timeout_ms;
	bool verbose;
	char **files;
	int nr_files;
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: blkd serve [OPTION]... FILE...\n"
		   "       blkd ctl SOCKET stats | scheduler EXPORT [NAME] | paths EXPORT\n"
		   "                | fail_path EXPORT N | reinstate_path EXPORT N | switch_group EXPORT G\n"
		   "                | queue_if_no_path EXPORT | fail_if_no_path EXPORT\n\n"
		   "Serve files, block devices, memory:SIZE disks, NBD upstreams (nbd:URI) or a\n"
		   "multipath device over NBD paths (mpath + --path) over NBD through a block\n"
		   "layer with I/O schedulers, request merging and ordered flushes.\n\n");
	for (size_t i = 0; i < NR_OPTS; i++) {
		char left[64];

		if (opts[i].val < 256)
			snprintf(left, sizeof(left), "-%c, --%s%s%s", opts[i].val, opts[i].name,
				 opts[i].arg ? " " : "", opts[i].arg ? opts[i].arg : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s", opts[i].name,
				 opts[i].arg ? " " : "", opts[i].arg ? opts[i].arg : "");
		fprintf(f, "  %-30s %s\n", left, opts[i].help);
	}
}

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "blkd: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'blkd serve --help'.\n");
	return 2;
}

/* "4096", "64K", "1M", "2G", "1T" (powers of 1024).  -EINVAL on junk. */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	int shift = 0;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	}
	if (*end == 'i' && end[1] == 'B')
		end += 2;
	else if (*end == 'B')
		end++;
	if (*end || (shift && v > (~0ull >> shift)))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

/* "2" or "2s" (seconds), "500ms"; "forever" -> -1 when allowed.  ms out. */
static int parse_time_ms(const char *s, bool forever_ok, int *out)
{
	char *end;
	double v;

	if (forever_ok && !strcmp(s, "forever")) {
		*out = -1;
		return 0;
	}
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -EINVAL;
	if (!strcmp(end, "ms"))
		v /= 1000;
	else if (*end && strcmp(end, "s"))
		return -EINVAL;
	if (v * 1000 > 86400000.0)
		return -EINVAL;
	*out = (int)(v * 1000 + 0.5);
	return 0;
}

/* "[G:]REST" with G in 1..16; G defaults to 1. */
static int split_group(const char *s, unsigned *g, const char **rest)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (end != s && *end == ':' && end[1] != '/') {
		if (v < 1 || v > 16)
			return -EINVAL;
		*g = (unsigned)v;
		*rest = end + 1;
	} else {
		*g = 1;
		*rest = s;
	}
	return 0;
}

static int parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
	uint64_t v;

	if (parse_size(s, &v) || v < min || v > max)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

static int parse_args(int argc, char **argv, struct config *cfg)
{
	struct option lo[NR_OPTS + 1];
	char so[3 * NR_OPTS + 2] = "+";
	uint64_t v;
	int c;

	memset(lo, 0, sizeof(lo));
	for (size_t i = 0; i < NR_OPTS; i++) {
		lo[i].name = opts[i].name;
		lo[i].has_arg = opts[i].has_arg ? required_argument : no_argument;
		lo[i].val = opts[i].val;
		if (opts[i].val < 256) {
			size_t n = strlen(so);

			so[n] = (char)opts[i].val;
			so[n + 1] = opts[i].has_arg ? ':' : '\0';
			so[n + 2] = '\0';
		}
	}
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, so, lo, NULL)) != -1) {
		switch (c) {
		case 'U': cfg->unix_path = optarg; break;
		case 'p': cfg->port = optarg; break;
		case 'i': cfg->ip = optarg; break;
		case 'x':
			if (cfg->nr_names >= 64)
				return usage_error("too many --export-name options");
			cfg->names[cfg->nr_names++] = optarg;
			break;
		case 'd': cfg->desc = optarg; break;
		case 's':
			for (const char *const *n = blkd_scheduler_names(); ; n++) {
				if (!*n)
					return usage_error("--scheduler: unknown scheduler '%s' "
							   "(expected noop, deadline or fair)", optarg);
				if (!strcmp(*n, optarg))
					break;
			}
			cfg->scheduler = optarg;
			break;
		case 'r': cfg->readonly = true; break;
		case 'f': cfg->foreground = true; break;
		case 'P': cfg->pidfile = optarg; break;
		case 't':
			if (parse_uint(optarg, 1, 256, &cfg->threads))
				return usage_error("--threads: expected 1..256, got '%s'", optarg);
			break;
		case OPT_MAX_MERGE:
			if (parse_size(optarg, &v) || v > NBD_MAX_PAYLOAD)
				return usage_error("--max-merge: expected a size up to 32M, got '%s'",
						   optarg);
			cfg->max_merge = (uint32_t)v;
			break;
		case OPT_ORDERED:
			cfg->ordered = blkd_ordered_parse(optarg);
			if (cfg->ordered < 0)
				return usage_error("--ordered: unknown mode '%s'", optarg);
			break;
		case OPT_DIRECT: cfg->direct = true; break;
		case OPT_NO_MMAP: cfg->no_map = true; break;
		case OPT_FUA:
			if (!strcmp(optarg, "native"))
				cfg->fua_emulate = false;
			else if (!strcmp(optarg, "emulate"))
				cfg->fua_emulate = true;
			else
				return usage_error("--fua: expected native or emulate, got '%s'", optarg);
			break;
		case OPT_MAX_INFLIGHT:
			if (parse_uint(optarg, 1, 4096, &cfg->max_inflight))
				return usage_error("--max-inflight: expected 1..4096, got '%s'", optarg);
			break;
		case OPT_POLL:
			if (parse_uint(optarg, 0, 1000000, &cfg->poll_us))
				return usage_error("--poll: expected microseconds (0-1000000), got '%s'",
						   optarg);
			break;
		case 'C': cfg->control = optarg; break;
		case OPT_STATS: cfg->stats = optarg; break;
		case OPT_TRACE: cfg->trace = optarg; break;
		case OPT_TRACE_NAME:
			if (!*optarg || strchr(optarg, '/'))
				return usage_error("--trace-name: expected a file name, got '%s'", optarg);
			cfg->trace_name = optarg;
			break;
		case OPT_TRACE_TEXT: cfg->trace_text = optarg; break;
		case OPT_PATH: {
			unsigned g;
			const char *uri;

			if (cfg->nr_paths >= 32)
				return usage_error("--path: at most 32 paths");
			if (split_group(optarg, &g, &uri) || strncmp(uri, "nbd", 3))
				return usage_error("--path: expected [GROUP:]nbd://... or nbd+unix://..., "
						   "got '%s'", optarg);
			cfg->path_groups[cfg->nr_paths] = g;
			cfg->paths[cfg->nr_paths++] = uri;
			break;
		}
		case OPT_SELECTOR: {
			unsigned g;
			const char *name;

			if (split_group(optarg, &g, &name) || (strcmp(name, "round-robin") &&
			    strcmp(name, "queue-length") && strcmp(name, "service-time")))
				return usage_error("--selector: expected [GROUP:]round-robin, queue-length "
						   "or service-time, got '%s'", optarg);
			cfg->selectors[g - 1] = name;
			break;
		}
		case OPT_FAILBACK: {
			int ms;

			if (!strcmp(optarg, "immediate"))
				cfg->failback = BLKD_FAILBACK_IMMEDIATE;
			else if (!strcmp(optarg, "manual"))
				cfg->failback = BLKD_FAILBACK_MANUAL;
			else if (!parse_time_ms(!strncmp(optarg, "delay=", 6) ? optarg + 6 : optarg,
						false, &ms)) {
				cfg->failback = BLKD_FAILBACK_DELAY;
				cfg->failback_ms = (unsigned)ms;
			} else
				return usage_error("--failback: expected immediate, manual or seconds, "
						   "got '%s'", optarg);
			break;
		}
		case OPT_QUEUE_NO_PATH:
			if (!strcmp(optarg, "no"))
				cfg->queue_no_path_ms = 0;
			else if (parse_time_ms(optarg, true, &cfg->queue_no_path_ms))
				return usage_error("--queue-if-no-path: expected a time, 0 or forever, "
						   "got '%s'", optarg);
			break;
		case OPT_QUEUE_MAX:
			if (parse_uint(optarg, 1, 1u << 20, &cfg->queue_max))
				return usage_error("--queue-max: expected 1..1048576, got '%s'", optarg);
			break;
		case OPT_CHECKER:
		case OPT_IO_TIMEOUT: {
			int ms;

			if (parse_time_ms(optarg, false, &ms) || ms < 10)
				return usage_error("--%s: expected a time of at least 10ms, got '%s'",
						   c == OPT_CHECKER ? "checker-interval" : "io-timeout",
						   optarg);
			if (c == OPT_CHECKER)
				cfg->checker_ms = (unsigned)ms;
			else
				cfg->io_timeout_ms = (unsigned)ms;
			break;
		}
		case 'v': cfg->verbose = true; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("blkd %s\n", BLKD_VERSION); exit(0);
		case ':':
			return usage_error("option '%s' needs an argument", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	cfg->files = argv + optind;
	cfg->nr_files = argc - optind;
	if (!cfg->nr_files)
		return usage_error("no FILE to serve");
	if (cfg->nr_files > 64)
		return usage_error("at most 64 exports");
	if (cfg->nr_names > (unsigned)cfg->nr_files)
		return usage_error("%u export names for %d files", cfg->nr_names, cfg->nr_files);
	int sd_socks = blkd_sd_listen_take();	/* before the fork: LISTEN_PID is ours */
	if (sd_socks < 0)
		return 1;
	if (!cfg->unix_path && !cfg->port && !sd_socks)
		return usage_error("nothing to listen on: give --unix PATH and/or --port PORT");
	bool want_paths = false;
	for (int i = 0; i < cfg->nr_files; i++)
		want_paths |= !strcmp(cfg->files[i], "mpath");
	if (cfg->nr_paths && !want_paths)
		return usage_error("--path given but no FILE is \"mpath\"");
	if (want_paths && !cfg->nr_paths)
		return usage_error("FILE \"mpath\" needs at least one --path");
	return 0;
}

/* ---- exports ----------------------------------------------------------- */

static void log_path_event(void *arg, const char *msg)
{
	blkd_log("%s: %s", (const char *)arg, msg);
}

/* "mpath" (the --path options), "nbd:URI" or a bare nbd URI (one path). */
static int open_mpath(const struct config *cfg, const char *file, struct blkd_backend **be,
		      char *err, size_t errlen)
{
	struct blkd_mpath_opts mo;
	const char *one[1];
	unsigned g1[1] = { 1 };

	blkd_mpath_opts_init(&mo);
	if (!strcmp(file, "mpath")) {
		mo.uris = cfg->paths;
		mo.groups = cfg->path_groups;
		mo.nr_paths = cfg->nr_paths;
	} else {
		one[0] = !strncmp(file, "nbd:", 4) && strncmp(file, "nbd://", 6) ? file + 4 : file;
		mo.uris = one;
		mo.groups = g1;
		mo.nr_paths = 1;
	}
	memcpy(mo.selectors, cfg->selectors, sizeof(mo.selectors));
	mo.failback = cfg->failback;
	mo.failback_delay_ms = cfg->failback_ms;
	mo.queue_if_no_path_ms = cfg->queue_no_path_ms;
	if (cfg->queue_max)
		mo.queue_max = cfg->queue_max;
	if (cfg->checker_ms)
		mo.checker_ms = cfg->checker_ms;
	if (cfg->io_timeout_ms)
		mo.io_timeout_ms = cfg->io_timeout_ms;
	mo.readonly = cfg->readonly;
	mo.log = log_path_event;
	mo.log_arg = (void *)file;
	return blkd_mpath_create(&mo, be, err, errlen);
}

static int open_exports(struct blkd_server *srv, const struct config *cfg)
{
	char err[512];
	int rc;

	srv->exports = calloc((size_t)cfg->nr_files, sizeof(*srv->exports));
	if (!srv->exports)
		return -ENOMEM;
	for (int i = 0; i < cfg->nr_files; i++) {
		struct blkd_export *e = &srv->exports[i];
		const char *file = cfg->files[i];
		struct blkd_queue_opts qo;

		e->srv = srv;
		srv->nr_exports = (unsigned)i;	/* blkd_export_find sees the named ones */
		if ((unsigned)i < cfg->nr_names) {
			e->name = strdup(cfg->names[i]);
		} else if (!blkd_export_find(srv, "")) {
			e->name = strdup("");
		} else {
			const char *b = strrchr(file, '/');
			e->name = strdup(b ? b + 1 : file);
		}
		srv->nr_exports = (unsigned)i + 1;
		if (!e->name)
			return -ENOMEM;
		for (int j = 0; j < i; j++)
			if (!strcmp(srv->exports[j].name, e->name)) {
				fprintf(stderr, "blkd: %s: export name '%s' used twice\n", file, e->name);
				return -EINVAL;
			}
		e->path = strdup(file);
		e->desc = cfg->desc ? strdup(cfg->desc) : NULL;
		e->readonly = cfg->readonly;
		e->min_block = cfg->direct ? 4096 : 1;
		if (!strncmp(file, "memory:", 7)) {
			uint64_t size;

			if (parse_size(file + 7, &size) || !size) {
				fprintf(stderr, "blkd: %s: bad memory size\n", file);
				return -EINVAL;
			}
			rc = blkd_backend_mem_create(size, &e->be);
			if (rc) {
				fprintf(stderr, "blkd: %s: %s\n", file, strerror(-rc));
				return rc;
			}
			if (cfg->readonly)
				e->be->caps |= BLKD_CAP_READONLY;
			e->min_block = 1;
		} else if (!strcmp(file, "mpath") || !strncmp(file, "nbd:", 4) ||
			   !strncmp(file, "nbd+", 4) || !strncmp(file, "nbds", 4)) {
			rc = open_mpath(cfg, file, &e->be, err, sizeof(err));
			if (rc) {
				fprintf(stderr, "blkd: %s: %s\n", file, err);
				return rc;
			}
			e->min_block = 1;
		} else {
			struct blkd_file_opts fo = { .readonly = cfg->readonly, .direct = cfg->direct,
						     .fua_emulate = cfg->fua_emulate,
						     .no_map = cfg->no_map };

			rc = blkd_backend_file_open(file, &fo, &e->be, err, sizeof(err));
			if (rc) {
				fprintf(stderr, "blkd: %s\n", err);
				return rc;
			}
		}
		blkd_queue_opts_init(&qo);
		if (cfg->scheduler)
			qo.scheduler = cfg->scheduler;
		qo.ordered = cfg->ordered;
		qo.max_merge = cfg->max_merge;
		qo.threads = cfg->threads;
		e->index = (unsigned)i;
		if (srv->trace || srv->blktrace) {
			qo.trace = blkd_trace_event;
			qo.trace_arg = e;
		}
		rc = blkd_queue_create(e->be, &qo, &e->q, err, sizeof(err));
		if (rc) {
			fprintf(stderr, "blkd: %s: %s\n", file, rc == -EINVAL ? err : strerror(-rc));
			return rc;
		}
	}
	return 0;
}

static void close_exports(struct blkd_server *srv)
{
	for (unsigned i = 0; i < srv->nr_exports; i++) {
		struct blkd_export *e = &srv->exports[i];
		char err[128];

		/* requests held for a path that may never come back end now */
		if (e->be && blkd_backend_is_mpath(e->be))
			blkd_mpath_message(e->be, "fail_if_no_path", err, sizeof(err));
		blkd_queue_destroy(e->q);
		if (e->be && !e->readonly && e->be->ops->flush && e->q)
			e->be->ops->flush(e->be);
		blkd_backend_destroy(e->be);
		free(e->name);
		free(e->desc);
		free(e->path);
	}
	free(srv->exports);
}

/* ---- listening ---------------------------------------------------------- */

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "blkd: %s: socket path too long\n", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	if (!lstat(path, &st) && S_ISSOCK(st.st_mode))
		unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 128)) {
		int e = errno;

		fprintf(stderr, "blkd: %s: cannot listen: %s\n", path, strerror(e));
		if (fd >= 0)
			close(fd);
		return -e;
	}
	return fd;
}

static int listen_tcp(const char *ip, const char *port, int *fds, int max)
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

static void accept_one(struct blkd_server *srv, int lfd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char peer[64] = "unix", host[48], serv[16];
	int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (ss.ss_family != AF_UNIX &&
	    !getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), serv, sizeof(serv),
			 NI_NUMERICHOST | NI_NUMERICSERV))
		snprintf(peer, sizeof(peer), "%s:%s", host, serv);
	blkd_conn_start(srv, fd, peer);
}

static int serve(struct blkd_server *srv, const struct config *cfg, int *lfds, int nl, int cfd)
{
	struct pollfd pfd[MAX_LISTEN + 2];
	time_t last_stats = 0;
	int n = 0;

	for (int i = 0; i < nl; i++)
		pfd[n++] = (struct pollfd){ .fd = lfds[i], .events = POLLIN };
	if (cfd >= 0)
		pfd[n++] = (struct pollfd){ .fd = cfd, .events = POLLIN };
	pfd[n++] = (struct pollfd){ .fd = sigpipe_fds[0], .events = POLLIN };
	for (;;) {
		int r = poll(pfd, (nfds_t)n, cfg->stats ? 1000 : -1);

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
		for (int i = 0; i < nl; i++)
			if (pfd[i].revents & POLLIN)
				accept_one(srv, lfds[i]);
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

static int cmd_serve(int argc, char **argv)
{
	struct config cfg = { .ip = "127.0.0.1", .threads = 4, .max_merge = BLKD_MAX_MERGE_DEFAULT,
			      .ordered = -1, .max_inflight = 128, .poll_us = 50, .queue_no_path_ms = 30000,
			      .trace_name = "blkd" };
	struct blkd_server srv = { 0 };
	int lfds[MAX_LISTEN], nl = 0, cfd = -1, ready[2] = { -1, -1 }, rc;
	struct sigaction sa = { .sa_handler = on_signal };

	rc = parse_args(argc, argv, &cfg);
	if (rc)
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
		if (devnull >= 0) {
			dup2(devnull, 0);
			dup2(devnull, 1);
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
		char err[512];

		if (blkd_blktrace_open(cfg.trace, cfg.trace_name, &srv.blktrace, err, sizeof(err))) {
			fprintf(stderr, "blkd: --trace: %s\n", err);
			goto out;
		}
	}
	if (open_exports(&srv, &cfg))
		goto out_exports;
	if (cfg.unix_path) {
		int fd = listen_unix(cfg.unix_path);

		if (fd < 0)
			goto out_listen;
		lfds[nl++] = fd;
	}
	if (cfg.port) {
		int n = listen_tcp(cfg.ip, cfg.port, lfds + nl, MAX_LISTEN - nl);

		if (n < 0)
			goto out_listen;
		nl += n;
	}
	nl += blkd_sd_listen_fds(lfds + nl, MAX_LISTEN - nl);	/* blkd.socket */
	if (cfg.control) {
		cfd = listen_unix(cfg.control);
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
		/* detached: let go of the caller's stderr (use -f to keep logs) */
		if (devnull >= 0) {
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
	if (cfg.unix_path && nl)
		unlink(cfg.unix_path);
	if (cfd >= 0) {
		close(cfd);
		unlink(cfg.control);
	}
	stop_connections(&srv);
out_exports:
	close_exports(&srv);
out:
	if (srv.trace)
		fclose(srv.trace);
	if (srv.blktrace && blkd_blktrace_close(srv.blktrace))
		fprintf(stderr, "blkd: %s: writing the trace failed\n", cfg.trace);
	return rc;
}

/* blkd ctl SOCKET WORDS...: send one line, print the answer. */
static int cmd_ctl(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char line[512] = "", buf[65536];
	int fd, rc = 0;
	ssize_t r;

	if (argc < 3)
		return usage_error("ctl: expected SOCKET COMMAND...");
	if (strlen(argv[1]) >= sizeof(sa.sun_path))
		return usage_error("ctl: socket path too long");
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

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage_error("expected a command: serve or ctl");
	if (!strcmp(argv[1], "serve"))
		return cmd_serve(argc - 1, argv + 1);
	if (!strcmp(argv[1], "ctl"))
		return cmd_ctl(argc - 1, argv + 1);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("blkd %s\n", BLKD_VERSION);
		return 0;
	}
	return usage_error("unknown command '%s' (expected serve or ctl)", argv[1]);
}
