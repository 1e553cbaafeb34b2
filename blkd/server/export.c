/* SPDX-License-Identifier: MIT */
/*
 * export.c - the server's exports: opening each FILE of the command line
 * as a backend with its queue, looking one up by name, and the
 * transmission flags it advertises.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "server.h"
#include "ob/opt.h"

struct blkd_export *blkd_export_find(struct blkd_server *srv, const char *name)
{
	for (unsigned i = 0; i < srv->nr_exports; i++)
		if (!strcmp(srv->exports[i].name, name))
			return &srv->exports[i];
	return NULL;
}

#define SYNCS (BLKD_ORDERED_PREFLUSH | BLKD_ORDERED_POSTFLUSH | BLKD_ORDERED_FUA)

/*
 * FLUSH and FUA are advertised when they do what a client takes them for.
 * A mode that never syncs (none, drain, tag) forced on a backend with a
 * write-back cache (a file: its own mode syncs) would make them no-ops
 * while the data may still sit in the page cache: the client is told
 * there is no flush instead.  A backend without a cache (memory:) declares
 * drain itself, and there a FLUSH that only orders is the truth.
 */
static bool flush_means_something(const struct blkd_export *e)
{
	int mode = blkd_queue_ordered(e->q);

	if (mode == BLKD_ORDERED_NONE)
		return false;
	return (mode & SYNCS) || !(e->be->ordered & SYNCS);
}

uint16_t blkd_export_tflags(const struct blkd_export *e, bool structured)
{
	unsigned caps = e->be->caps;
	uint16_t f = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_CACHE;

	/* One queue and one backend per export serve every connection, and a
	 * flush drains that queue and syncs that backend: multi-conn holds. */
	f |= NBD_FLAG_CAN_MULTI_CONN;
	if (flush_means_something(e))
		f |= NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA;
	if (e->readonly) {
		f |= NBD_FLAG_READ_ONLY;
	} else {
		if (caps & BLKD_CAP_TRIM)
			f |= NBD_FLAG_SEND_TRIM;
		if (caps & BLKD_CAP_ZERO)
			f |= NBD_FLAG_SEND_WRITE_ZEROES;
		if ((caps & BLKD_CAP_ZERO) && (caps & BLKD_CAP_FAST_ZERO))
			f |= NBD_FLAG_SEND_FAST_ZERO;
	}
	if (structured)
		f |= NBD_FLAG_SEND_DF;
	return f;
}


/* ---- opening ------------------------------------------------------------ */

static void log_path_event(void *arg, const char *msg)
{
	blkd_log("%s: %s", (const char *)arg, msg);
}

/* "mpath" (the --path options), "nbd:URI" or a bare nbd URI (one path). */
static int open_mpath(const struct blkd_config *cfg, const char *file, struct blkd_backend **be,
		      struct ob_err *err)
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
	mo.tls_certificates = cfg->tls_dir;	/* the same credentials upstream */
	mo.tls_psk_file = cfg->tls_psk;
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
	mo.probe_sector = cfg->probe_sector;
	mo.log = log_path_event;
	mo.log_arg = (void *)file;
	return blkd_mpath_create(&mo, be, err);
}

/* e->name: the next --export-name, else "" for the first unnamed export,
 * else the file's base name.  Names are unique. */
static int export_name(struct blkd_server *srv, const struct blkd_config *cfg, unsigned i,
		       const char *file)
{
	struct blkd_export *e = &srv->exports[i];

	srv->nr_exports = i;		/* blkd_export_find sees the named ones */
	if (i < cfg->nr_names) {
		e->name = strdup(cfg->names[i]);
	} else if (!blkd_export_find(srv, "")) {
		e->name = strdup("");
	} else {
		const char *b = strrchr(file, '/');

		e->name = strdup(b ? b + 1 : file);
	}
	srv->nr_exports = i + 1;
	if (!e->name)
		return -ENOMEM;
	for (unsigned j = 0; j < i; j++)
		if (!strcmp(srv->exports[j].name, e->name)) {
			fprintf(stderr, "blkd: %s: export name '%s' used twice\n", file, e->name);
			return -EINVAL;
		}
	return 0;
}

static bool is_nbd_file(const char *file)
{
	return !strcmp(file, "mpath") || !strncmp(file, "nbd:", 4) || !strncmp(file, "nbd+", 4) ||
	       !strncmp(file, "nbds", 4);
}

/* The backend of FILE: memory:SIZE, an NBD upstream or multipath, or a
 * file or block device. */
static int open_backend(const struct blkd_config *cfg, struct blkd_export *e, const char *file,
			struct ob_err *err)
{
	int rc;

	if (!strncmp(file, "memory:", 7)) {
		uint64_t size;

		if (ob_parse_size(file + 7, 1, UINT64_MAX, &size))
			return ob_err_set(err, -EINVAL, "bad memory size");
		rc = blkd_backend_mem_create(size, &e->be);
		if (rc)
			return ob_err_set(err, rc, "cannot create");
		if (cfg->readonly)
			e->be->caps |= BLKD_CAP_READONLY;
		e->min_block = 1;
		return 0;
	}
	if (is_nbd_file(file)) {
		e->min_block = 1;
		return open_mpath(cfg, file, &e->be, err);
	}
	struct blkd_file_opts fo = { .readonly = cfg->readonly, .direct = cfg->direct,
				     .fua_emulate = cfg->fua_emulate, .no_map = cfg->no_map };

	return blkd_backend_file_open(file, &fo, &e->be, err);
}

static int open_queue(struct blkd_server *srv, const struct blkd_config *cfg,
		      struct blkd_export *e, struct ob_err *err)
{
	struct blkd_queue_opts qo;
	int rc;

	blkd_queue_opts_init(&qo);
	if (cfg->scheduler)
		qo.scheduler = cfg->scheduler;
	qo.ordered = cfg->ordered;
	qo.max_merge = cfg->max_merge;
	qo.threads = cfg->threads;
	if (srv->trace || srv->blktrace) {
		qo.trace = blkd_trace_event;
		qo.trace_arg = e;
	}
	rc = blkd_queue_create(e->be, &qo, &e->q, err);
	if (!rc) {
		blkd_queue_set_limit(e->q, &cfg->export_limit);
		blkd_client_limit_set(e, &cfg->client_limit);
	}
	return rc;
}

/* Open every FILE of the command line; errors are printed, naming it. */
int blkd_open_exports(struct blkd_server *srv, const struct blkd_config *cfg)
{
	struct ob_err err = { 0 };
	int rc;

	srv->exports = calloc((size_t)cfg->nr_files, sizeof(*srv->exports));
	if (!srv->exports)
		return -ENOMEM;
	for (unsigned i = 0; i < (unsigned)cfg->nr_files; i++) {
		struct blkd_export *e = &srv->exports[i];
		const char *file = cfg->files[i];

		e->srv = srv;
		e->index = i;
		rc = export_name(srv, cfg, i, file);
		if (rc)
			return rc;
		e->path = strdup(file);
		e->desc = cfg->desc ? strdup(cfg->desc) : NULL;
		e->readonly = cfg->readonly;
		e->min_block = cfg->direct ? 4096 : 1;
		rc = open_backend(cfg, e, file, &err);
		if (!rc)
			rc = open_queue(srv, cfg, e, &err);
		if (rc) {
			ob_err_print("blkd", file, &err);
			return rc;
		}
	}
	return 0;
}

void blkd_close_exports(struct blkd_server *srv)
{
	for (unsigned i = 0; i < srv->nr_exports; i++) {
		struct blkd_export *e = &srv->exports[i];
		struct ob_err err = { 0 };

		/* requests held for a path that may never come back end now */
		if (e->be && blkd_backend_is_mpath(e->be))
			blkd_mpath_message(e->be, "fail_if_no_path", &err);
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
