/* SPDX-License-Identifier: MIT */
/*
 * config.c - the "blkd serve" command line, in the style of nbdkit and
 * qemu-nbd: one option table (ob/opt.h) gives parsing, --help and usage
 * errors.  Unknown options and bad values are errors that name the option
 * and exit 2; nothing here opens or listens (export.c, serve.c do).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "sd-listen.h"
#include "nbd-proto.h"
#include "tls.h"
#include "ob/opt.h"

enum {
	OPT_MAX_MERGE = 256, OPT_ORDERED, OPT_DIRECT, OPT_FUA, OPT_STATS, OPT_TRACE,
	OPT_MAX_INFLIGHT, OPT_TRACE_TEXT, OPT_TRACE_NAME, OPT_PATH, OPT_SELECTOR, OPT_FAILBACK,
	OPT_QUEUE_NO_PATH, OPT_QUEUE_MAX, OPT_CHECKER, OPT_IO_TIMEOUT, OPT_NO_MMAP,
	OPT_POLL, OPT_VERSION, OPT_PROBE_SECTOR, OPT_HANDSHAKE_TIMEOUT, OPT_MAX_BYTES, OPT_CONN_THREADS, OPT_LIMIT,
	OPT_TLS, OPT_TLS_CERTS, OPT_TLS_PSK, OPT_TLS_VERIFY,
};

static const struct ob_opt serve_opts[] = {
	{ "unix", 'U', 'U', "PATH", "listen on a Unix socket", 0 },
	{ "port", 'p', 'p', "PORT", "listen on a TCP port (0: a free one, printed on stdout)", 0 },
	{ "ip", 'i', 'i', "ADDR", "address for --port (default 127.0.0.1)", 0 },
	{ "export-name", 'x', 'x', "NAME", "name of the next FILE's export, once per FILE in\n"
	  "order (default: \"\" for the first, the file's base\nname after)", 0 },
	{ "description", 'd', 'd', "TEXT", "description sent with every export", 0 },
	{ "scheduler", 's', 's', "NAME", "I/O scheduler: noop, deadline, fair (default deadline)", 0 },
	{ "read-only", 'r', 'r', NULL, "serve read-only", 0 },
	{ "foreground", 'f', 'f', NULL, "do not fork into the background", 0 },
	{ "pidfile", 'P', 'P', "PATH", "write the server's pid here once listening", 0 },
	{ "threads", 't', 't', "N", "worker threads per export (default 4)", 0 },
	{ "max-merge", 0, OPT_MAX_MERGE, "SIZE", "largest merged request (default 1M; 0: no merging)", 0 },
	{ "ordered", 0, OPT_ORDERED, "MODE", "force an ordered mode: none, drain, drain-flush,\n"
	  "drain-fua, tag, tag-flush, tag-fua (default: the backend's);\n"
	  "none, drain and tag never sync, so a file served so\n"
	  "advertises no FLUSH or FUA; tag modes are refused for\n"
	  "NBD upstreams and multipath", 0 },
	{ "direct", 0, OPT_DIRECT, NULL, "open files with O_DIRECT", 0 },
	{ "no-mmap", 0, OPT_NO_MMAP, NULL, "never copy through a shared mapping of the file\n"
	  "(default: cached pages of files up to 64 GiB are)", 0 },
	{ "fua", 0, OPT_FUA, "native|emulate", "FUA by RWF_DSYNC (native) or a post-flush", 0 },
	{ "max-inflight", 0, OPT_MAX_INFLIGHT, "N", "requests in flight per connection (default 128)", 0 },
	{ "max-inflight-bytes", 0, OPT_MAX_BYTES, "CONN[,TOTAL]", "request buffers per connection\n"
	  "and for all together (default 64M,1G; CONN at least 32M):\n"
	  "a client over its budget is not read from until its\n"
	  "replies have left", 0 },
	{ "poll", 0, OPT_POLL, "USEC", "after a batch, poll the socket this long before sleeping\n"
	  "(default 50; 0: sleep at once)", 0 },
	{ "limit", 0, OPT_LIMIT, "export|client:KEY=VAL,...", "I/O limits per export or per\n"
	  "client of each export, as cgroup io.max: riops, wiops\n"
	  "(requests/s), rbps, wbps (bytes/s, SIZE), max: none;\n"
	  "TRIM and WRITE_ZEROES count as write requests; changed\n"
	  "at run time with: blkd ctl SOCKET limit EXPORT ...", 0 },
	{ "conn-threads", 0, OPT_CONN_THREADS, "N", "threads that serve connections' requests, however\n"
	  "many clients there are (default 16); idle ones use none", 0 },
	{ "handshake-timeout", 0, OPT_HANDSHAKE_TIMEOUT, "TIME", "a client that has not finished\n"
	  "negotiating after this long is dropped (default 10s)", 0 },
	{ "control", 'C', 'C', "PATH", "control socket: stats, scheduler switching", 0 },
	{ "stats", 0, OPT_STATS, "FILE", "rewrite FILE with JSON statistics every second", 0 },
	{ "trace", 0, OPT_TRACE, "DIR", "write blktrace files DIR/NAME.blktrace.N (blkparse, btt)", 0 },
	{ "trace-name", 0, OPT_TRACE_NAME, "NAME", "base name of the blktrace files (default blkd)", 0 },
	{ "trace-text", 0, OPT_TRACE_TEXT, "FILE", "log every request event (Q M F G I D C R) as text", 0 },
	{ OB_OPT_HEADING("TLS (NBD_OPT_STARTTLS, GnuTLS):") },
	{ "tls", 0, OPT_TLS, "off|on|require", "offer TLS (on) or insist on it (require:\n"
	  "options before STARTTLS are refused); default off", 0 },
	{ "tls-certificates", 0, OPT_TLS_CERTS, "DIR", "X.509: DIR/server-cert.pem, server-key.pem\n"
	  "and, to verify clients, ca-cert.pem (as nbdkit, qemu-nbd)", 0 },
	{ "tls-psk", 0, OPT_TLS_PSK, "FILE", "pre-shared keys, username:hexkey lines (psktool)",
	  OB_OPT_EXACT },
	{ "tls-verify-peer", 0, OPT_TLS_VERIFY, NULL, "X.509: require a client certificate signed\n"
	  "by DIR/ca-cert.pem", 0 },
	{ OB_OPT_HEADING("Multipath (FILE \"mpath\"):") },
	{ "path", 0, OPT_PATH, "[G:]URI", "add an NBD path (nbd://, nbd+unix://, nbds://,\nnbds+unix:// with the --tls-* credentials) in priority group G\n"
	  "(default 1 = preferred) to the export FILE \"mpath\"", 0 },
	{ "selector", 0, OPT_SELECTOR, "[G:]NAME", "path selector of group G: round-robin,\n"
	  "queue-length, service-time (default)", 0 },
	{ "failback", 0, OPT_FAILBACK, "WHEN", "back to a better group: immediate (default), manual,\n"
	  "or a delay in seconds", 0 },
	{ "queue-if-no-path", 0, OPT_QUEUE_NO_PATH, "TIME", "hold I/O this long with no path\n"
	  "(default 30s; 0 = fail at once; forever)", 0 },
	{ "queue-max", 0, OPT_QUEUE_MAX, "N", "most requests held with no path (default 4096)", 0 },
	{ "checker-interval", 0, OPT_CHECKER, "TIME", "probe failed paths this often (default 1s)", 0 },
	{ "io-timeout", 0, OPT_IO_TIMEOUT, "TIME", "a request older than this fails its path\n"
	  "(default 30s)", 0 },
	{ "checker-sector", 0, OPT_PROBE_SECTOR, "N", "the 512-byte sector the checker reads to\n"
	  "probe a failed path (default 0)", 0 },
	{ OB_OPT_HEADING("Other:") },
	{ "verbose", 'v', 'v', NULL, "log connections", 0 },
	{ "version", 'V', OPT_VERSION, NULL, "show the version", 0 },
	{ OB_OPT_END },
};

static const struct ob_opt *const serve_tables[] = { serve_opts, NULL };

static const struct ob_cmd serve_cmd = {
	.prog = "blkd serve",
	.synopsis = "blkd serve [OPTION]... FILE...",
	.about = "Serve files, block devices, memory:SIZE disks, NBD upstreams (nbd:URI) or a\n"
		 "multipath device over NBD paths (mpath + --path) over NBD through a block\n"
		 "layer with I/O schedulers, request merging and ordered flushes.",
	.tables = serve_tables,
	.operands_min = 0,
	.operands_max = -1,
};

int blkd_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "blkd: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'blkd --help'.\n");
	return 2;
}

void blkd_usage(FILE *f)
{
	fprintf(f, "Usage: blkd serve [OPTION]... FILE...\n"
		   "       blkd ctl SOCKET stats | scheduler EXPORT [NAME] | paths EXPORT\n"
		   "                | fail_path EXPORT N | reinstate_path EXPORT N | switch_group EXPORT G\n"
		   "                | queue_if_no_path EXPORT | fail_if_no_path EXPORT\n\n");
	ob_opt_help(&serve_cmd, f);
}

/* "[G:]REST" with G in 1..16; G defaults to 1. */
static int split_group(const char *s, unsigned *g, const char **rest)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (end != s && *end == ':' && end[1] != '/') {
		if (v < 1 || v > BLKD_MAX_GROUPS)
			return -EINVAL;
		*g = (unsigned)v;
		*rest = end + 1;
	} else {
		*g = 1;
		*rest = s;
	}
	return 0;
}

/* An unsigned option value in [min, max] into *out. */
static int uint_opt(const char *s, unsigned min, unsigned max, unsigned *out)
{
	uint64_t v;

	if (ob_parse_uint(s, min, max, &v))
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

/* A time of at least 10 ms, for the checker interval and the I/O timeout. */
static int time_opt(const char *s, unsigned *out)
{
	int64_t ms;

	if (ob_parse_time_ms(s, false, &ms) || ms < 10)
		return -EINVAL;
	*out = (unsigned)ms;
	return 0;
}

static int opt_scheduler(const struct ob_cmd *cmd, struct blkd_config *cfg, const char *arg)
{
	for (const char *const *n = blkd_scheduler_names(); *n; n++)
		if (!strcmp(*n, arg)) {
			cfg->scheduler = arg;
			return 0;
		}
	return ob_opt_usage(cmd, "--scheduler: unknown scheduler '%s' "
			    "(expected noop, deadline or fair)", arg);
}

static int opt_path(const struct ob_cmd *cmd, struct blkd_config *cfg, const char *arg)
{
	unsigned g;
	const char *uri;

	if (cfg->nr_paths >= BLKD_MAX_PATHS)
		return ob_opt_usage(cmd, "--path: at most %d paths", BLKD_MAX_PATHS);
	if (split_group(arg, &g, &uri) || strncmp(uri, "nbd", 3))
		return ob_opt_usage(cmd, "--path: expected [GROUP:]nbd://... or nbd+unix://..., "
				    "got '%s'", arg);
	cfg->path_groups[cfg->nr_paths] = g;
	cfg->paths[cfg->nr_paths++] = uri;
	return 0;
}

static int opt_selector(const struct ob_cmd *cmd, struct blkd_config *cfg, const char *arg)
{
	unsigned g;
	const char *name;

	if (split_group(arg, &g, &name) || (strcmp(name, "round-robin") &&
	    strcmp(name, "queue-length") && strcmp(name, "service-time")))
		return ob_opt_usage(cmd, "--selector: expected [GROUP:]round-robin, queue-length "
				    "or service-time, got '%s'", arg);
	cfg->selectors[g - 1] = name;
	return 0;
}

static int opt_failback(const struct ob_cmd *cmd, struct blkd_config *cfg, const char *arg)
{
	int64_t ms;

	if (!strcmp(arg, "immediate")) {
		cfg->failback = BLKD_FAILBACK_IMMEDIATE;
	} else if (!strcmp(arg, "manual")) {
		cfg->failback = BLKD_FAILBACK_MANUAL;
	} else if (!ob_parse_time_ms(!strncmp(arg, "delay=", 6) ? arg + 6 : arg, false, &ms)) {
		cfg->failback = BLKD_FAILBACK_DELAY;
		cfg->failback_ms = (unsigned)ms;
	} else {
		return ob_opt_usage(cmd, "--failback: expected immediate, manual or seconds, "
				    "got '%s'", arg);
	}
	return 0;
}

static int opt_queue_no_path(const struct ob_cmd *cmd, struct blkd_config *cfg, const char *arg)
{
	int64_t ms;

	if (!strcmp(arg, "no")) {
		cfg->queue_no_path_ms = 0;
		return 0;
	}
	if (ob_parse_time_ms(arg, true, &ms))
		return ob_opt_usage(cmd, "--queue-if-no-path: expected a time, 0 or forever, "
				    "got '%s'", arg);
	cfg->queue_no_path_ms = (int)ms;
	return 0;
}

/* CONN[,TOTAL]: CONN holds the largest request (32 MiB), TOTAL at least
 * CONN; TOTAL defaults to 16 connections' worth, at least 1 GiB. */
static int opt_max_bytes(const struct ob_cmd *cmd, struct blkd_config *cfg, const char *arg)
{
	char conn[32];
	const char *comma = strchr(arg, ',');
	size_t n = comma ? (size_t)(comma - arg) : strlen(arg);

	if (n >= sizeof(conn) ||
	    (memcpy(conn, arg, n), conn[n] = '\0', ob_parse_size(conn, NBD_MAX_PAYLOAD,
								   UINT64_MAX / 2, &cfg->max_conn_bytes)))
		return ob_opt_usage(cmd, "--max-inflight-bytes: expected a size of at least 32M, "
				    "got '%s'", arg);
	cfg->max_total_bytes = cfg->max_conn_bytes * 16 > (1ull << 30) ?
			       cfg->max_conn_bytes * 16 : 1ull << 30;
	if (comma && ob_parse_size(comma + 1, cfg->max_conn_bytes, UINT64_MAX / 2,
				   &cfg->max_total_bytes))
		return ob_opt_usage(cmd, "--max-inflight-bytes: expected a total of at least "
				    "the per-connection size, got '%s'", comma + 1);
	return 0;
}

static int on_opt(const struct ob_cmd *cmd, const struct ob_opt *o, const char *arg, void *ctx)
{
	struct blkd_config *cfg = ctx;
	uint64_t v;

	switch (o->key) {
	case 'U': cfg->unix_path = arg; break;
	case 'p':
		if (ob_parse_uint(arg, 0, 65535, &v))
			return ob_opt_usage(cmd, "--port: expected a port number 1..65535 (0: any "
					    "free port, printed), got '%s'", arg);
		snprintf(cfg->port_buf, sizeof(cfg->port_buf), "%u", (unsigned)v);
		cfg->port = cfg->port_buf;
		break;
	case 'i': cfg->ip = arg; break;
	case 'x':
		if (cfg->nr_names >= BLKD_MAX_EXPORTS)
			return ob_opt_usage(cmd, "too many --export-name options");
		cfg->names[cfg->nr_names++] = arg;
		break;
	case 'd': cfg->desc = arg; break;
	case 's': return opt_scheduler(cmd, cfg, arg);
	case 'r': cfg->readonly = true; break;
	case 'f': cfg->foreground = true; break;
	case 'P': cfg->pidfile = arg; break;
	case 't':
		if (uint_opt(arg, 1, 256, &cfg->threads))
			return ob_opt_usage(cmd, "--threads: expected 1..256, got '%s'", arg);
		break;
	case OPT_MAX_MERGE:
		if (ob_parse_size(arg, 0, NBD_MAX_PAYLOAD, &v))
			return ob_opt_usage(cmd, "--max-merge: expected a size up to 32M, got '%s'", arg);
		cfg->max_merge = (uint32_t)v;
		break;
	case OPT_ORDERED:
		cfg->ordered = blkd_ordered_parse(arg);
		if (cfg->ordered < 0)
			return ob_opt_usage(cmd, "--ordered: unknown mode '%s'", arg);
		break;
	case OPT_DIRECT: cfg->direct = true; break;
	case OPT_NO_MMAP: cfg->no_map = true; break;
	case OPT_FUA:
		if (!strcmp(arg, "native"))
			cfg->fua_emulate = false;
		else if (!strcmp(arg, "emulate"))
			cfg->fua_emulate = true;
		else
			return ob_opt_usage(cmd, "--fua: expected native or emulate, got '%s'", arg);
		break;
	case OPT_MAX_INFLIGHT:
		if (uint_opt(arg, 1, 4096, &cfg->max_inflight))
			return ob_opt_usage(cmd, "--max-inflight: expected 1..4096, got '%s'", arg);
		break;
	case OPT_TLS:
		if (!strcmp(arg, "off"))
			cfg->tls_mode = BLKD_TLS_OFF;
		else if (!strcmp(arg, "on"))
			cfg->tls_mode = BLKD_TLS_ON;
		else if (!strcmp(arg, "require"))
			cfg->tls_mode = BLKD_TLS_REQUIRE;
		else
			return ob_opt_usage(cmd, "--tls: expected off, on or require, got '%s'", arg);
		break;
	case OPT_TLS_CERTS: cfg->tls_dir = arg; break;
	case OPT_TLS_PSK: cfg->tls_psk = arg; break;
	case OPT_TLS_VERIFY: cfg->tls_verify_peer = true; break;
	case OPT_MAX_BYTES:
		return opt_max_bytes(cmd, cfg, arg);
	case OPT_POLL:
		if (uint_opt(arg, 0, 1000000, &cfg->poll_us))
			return ob_opt_usage(cmd, "--poll: expected microseconds (0-1000000), got '%s'",
					    arg);
		break;
	case 'C': cfg->control = arg; break;
	case OPT_STATS: cfg->stats = arg; break;
	case OPT_TRACE: cfg->trace = arg; break;
	case OPT_TRACE_NAME:
		if (!*arg || strchr(arg, '/'))
			return ob_opt_usage(cmd, "--trace-name: expected a file name, got '%s'", arg);
		cfg->trace_name = arg;
		break;
	case OPT_TRACE_TEXT: cfg->trace_text = arg; break;
	case OPT_PATH: return opt_path(cmd, cfg, arg);
	case OPT_SELECTOR: return opt_selector(cmd, cfg, arg);
	case OPT_FAILBACK: return opt_failback(cmd, cfg, arg);
	case OPT_QUEUE_NO_PATH: return opt_queue_no_path(cmd, cfg, arg);
	case OPT_QUEUE_MAX:
		if (uint_opt(arg, 1, 1u << 20, &cfg->queue_max))
			return ob_opt_usage(cmd, "--queue-max: expected 1..1048576, got '%s'", arg);
		break;
	case OPT_CHECKER:
		if (time_opt(arg, &cfg->checker_ms))
			return ob_opt_usage(cmd, "--checker-interval: expected a time of at least "
					    "10ms, got '%s'", arg);
		break;
	case OPT_IO_TIMEOUT:
		if (time_opt(arg, &cfg->io_timeout_ms))
			return ob_opt_usage(cmd, "--io-timeout: expected a time of at least 10ms, "
					    "got '%s'", arg);
		break;
	case OPT_LIMIT: {
		struct ob_err err = { 0 };
		struct blkd_limit *lim = !strncmp(arg, "export:", 7) ? &cfg->export_limit :
					 !strncmp(arg, "client:", 7) ? &cfg->client_limit : NULL;

		if (!lim)
			return ob_opt_usage(cmd, "--limit '%s': expected export:KEYS or client:KEYS",
					    arg);
		if (blkd_limit_parse(arg + 7, lim, &err))
			return ob_opt_usage(cmd, "--limit '%s': %s", arg, err.msg);
		break;
	}
	case OPT_CONN_THREADS:
		if (uint_opt(arg, 1, 1024, &cfg->conn_threads))
			return ob_opt_usage(cmd, "--conn-threads: expected 1..1024, got '%s'", arg);
		break;
	case OPT_HANDSHAKE_TIMEOUT:
		if (time_opt(arg, &cfg->handshake_ms))
			return ob_opt_usage(cmd, "--handshake-timeout: expected a time of at least "
					    "10ms, got '%s'", arg);
		break;
	case OPT_PROBE_SECTOR:
		if (ob_parse_uint(arg, 0, UINT64_MAX / 512, &cfg->probe_sector))
			return ob_opt_usage(cmd, "--checker-sector: expected a sector number, got '%s'",
					    arg);
		break;
	case 'v': cfg->verbose = true; break;
	case OPT_VERSION:
		printf("blkd %s\n", BLKD_VERSION);
		return -1;	/* exit 0 */
	}
	return 0;
}

/* Does an upstream (FILE or --path) ask for TLS (nbds://, nbds+unix://)? */
static bool tls_upstream(const struct blkd_config *cfg)
{
	for (unsigned i = 0; i < cfg->nr_paths; i++)
		if (!strncmp(cfg->paths[i], "nbds", 4))
			return true;
	for (int i = 0; i < cfg->nr_files; i++)
		if (!strncmp(cfg->files[i], "nbds", 4) || !strncmp(cfg->files[i], "nbd:nbds", 8))
			return true;
	return false;
}

/* Checks that need every option: operands, listeners, paths. */
static int check_config(struct blkd_config *cfg)
{
	bool want_paths = false;
	int sd_socks;

	if (!cfg->nr_files)
		return ob_opt_usage(&serve_cmd, "no FILE to serve");
	if (cfg->nr_files > BLKD_MAX_EXPORTS)
		return ob_opt_usage(&serve_cmd, "at most %d exports", BLKD_MAX_EXPORTS);
	if (cfg->nr_names > (unsigned)cfg->nr_files)
		return ob_opt_usage(&serve_cmd, "%u export names for %d files", cfg->nr_names,
				    cfg->nr_files);
	if (cfg->tls_mode != BLKD_TLS_OFF && !cfg->tls_dir == !cfg->tls_psk)
		return ob_opt_usage(&serve_cmd, "--tls %s needs one of --tls-certificates DIR and "
				    "--tls-psk FILE", cfg->tls_mode == BLKD_TLS_ON ? "on" : "require");
	if (cfg->tls_mode == BLKD_TLS_OFF && (cfg->tls_dir || cfg->tls_psk) && !tls_upstream(cfg))
		return ob_opt_usage(&serve_cmd, "TLS credentials given but --tls is off and no "
				    "path is nbds://");
	if (cfg->tls_dir && cfg->tls_psk)
		return ob_opt_usage(&serve_cmd, "give one of --tls-certificates DIR and --tls-psk "
				    "FILE");
	sd_socks = blkd_sd_listen_take();	/* before the fork: LISTEN_PID is ours */
	if (sd_socks < 0)
		return 1;
	if (!cfg->unix_path && !cfg->port && !sd_socks)
		return ob_opt_usage(&serve_cmd, "nothing to listen on: give --unix PATH and/or "
				    "--port PORT");
	for (int i = 0; i < cfg->nr_files; i++)
		want_paths |= !strcmp(cfg->files[i], "mpath");
	if (cfg->nr_paths && !want_paths)
		return ob_opt_usage(&serve_cmd, "--path given but no FILE is \"mpath\"");
	if (want_paths && !cfg->nr_paths)
		return ob_opt_usage(&serve_cmd, "FILE \"mpath\" needs at least one --path");
	return 0;
}

int blkd_config_parse(struct blkd_config *cfg, int argc, char **argv, int *status)
{
	int first;

	*cfg = (struct blkd_config){ .ip = "127.0.0.1", .threads = 4,
				     .max_merge = BLKD_MAX_MERGE_DEFAULT, .ordered = -1,
				     .max_inflight = 128, .poll_us = 50, .handshake_ms = 10000,
				     .conn_threads = 16,
				     .max_conn_bytes = 64ull << 20, .max_total_bytes = 1ull << 30,
				     .queue_no_path_ms = 30000, .trace_name = "blkd" };
	first = ob_opt_parse(&serve_cmd, argc, argv, on_opt, cfg, status);
	if (first < 0) {
		if (*status < 0)	/* --version */
			*status = 0;
		return -1;
	}
	cfg->files = argv + first;
	cfg->nr_files = argc - first;
	*status = check_config(cfg);
	return *status ? -1 : 0;
}
