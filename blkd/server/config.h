/* SPDX-License-Identifier: MIT */
/*
 * config.h - what "blkd serve" was asked to do: the parsed command line,
 * filled by config.c and read by export.c (backends and queues) and
 * serve.c (listeners, daemon mode, control).
 */
#ifndef BLKD_CONFIG_H
#define BLKD_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "blkd.h"

#define BLKD_VERSION "0.1"
#define BLKD_MAX_EXPORTS 64
#define BLKD_MAX_PATHS 32
#define BLKD_MAX_GROUPS 16

struct blkd_config {
	const char *unix_path;
	const char *port;		/* decimal, 0..65535 */
	char port_buf[8];
	const char *ip;
	const char *names[BLKD_MAX_EXPORTS];
	unsigned nr_names;
	const char *desc;
	const char *scheduler;
	bool readonly;
	bool foreground;
	const char *pidfile;
	unsigned threads;
	unsigned conn_threads;		/* the connection thread pool */
	struct blkd_limit export_limit;	/* --limit export:... */
	struct blkd_limit client_limit;	/* --limit client:... */
	uint32_t max_merge;
	int ordered;
	bool direct;
	bool no_map;
	bool fua_emulate;
	unsigned max_inflight;
	uint64_t max_conn_bytes;	/* --max-inflight-bytes CONN[,TOTAL] */
	uint64_t max_total_bytes;
	unsigned poll_us;
	unsigned handshake_ms;
	int tls_mode;			/* enum blkd_tls_mode */
	const char *tls_dir;
	const char *tls_psk;
	bool tls_verify_peer;
	const char *control;
	const char *stats;
	const char *trace;
	const char *trace_name;
	const char *trace_text;
	const char *paths[BLKD_MAX_PATHS];
	unsigned path_groups[BLKD_MAX_PATHS];
	unsigned nr_paths;
	const char *selectors[BLKD_MAX_GROUPS];
	enum blkd_failback failback;
	unsigned failback_ms;
	int queue_no_path_ms;
	unsigned queue_max;
	unsigned checker_ms;
	unsigned io_timeout_ms;
	uint64_t probe_sector;
	bool verbose;
	char **files;
	int nr_files;
};

/* Parse "blkd serve" arguments (argv[0] is "serve") into cfg, defaults
 * first.  0 to go on; -1 when the program must exit with *status (0 after
 * --help or --version, 2 after a usage error, already printed). */
int blkd_config_parse(struct blkd_config *cfg, int argc, char **argv, int *status);

/* "blkd: <message>" and a hint, on stderr; returns the usage status 2. */
int blkd_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The whole usage text of blkd (both commands) on f. */
void blkd_usage(FILE *f);

#endif
