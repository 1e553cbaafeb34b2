/* SPDX-License-Identifier: MIT */
/*
 * control.c - run-time access to a running server: statistics as JSON (for
 * the control socket and the --stats file), scheduler switching, and the
 * --trace event log.
 *
 * Control socket protocol: the client sends one line, the server answers
 * and closes.
 *   stats                       -> one JSON object (below), newline
 *   scheduler EXPORT            -> the export's scheduler name
 *   scheduler EXPORT NAME       -> "ok" after switching, or "error: ..."
 *   limit EXPORT                -> "export riops=.. wiops=.. rbps=.. wbps=..",
 *                                  then "client ..." (max: none)
 *   limit EXPORT export|client KEY=VAL,...
 *                               -> "ok": changes the keys named, at once
 *   paths EXPORT                -> the multipath state as JSON (mpath.c)
 *   fail_path EXPORT N, reinstate_path EXPORT N, switch_group EXPORT G,
 *   queue_if_no_path EXPORT, fail_if_no_path EXPORT
 *                               -> "ok" or "error: ..." (dm's message names)
 *   (EXPORT is a name, "-" for the default export "", or "*" for all
 *   where it makes sense: scheduler)
 * Stats JSON: {"exports":[{"name","scheduler","ordered","size",
 *   "stats":{...},"clients":[{"name","stats":{...}}]}]} with the fields of
 *   blkd_stats_json().
 *
 * Multipath exports add "multipath":{active_group, queue_if_no_path, held,
 *   groups:[{group, selector, paths}], paths:[{index, uri, group, state,
 *   connected, admin_down, fail_count, in_flight, ios, bytes, errors,
 *   requeues, last_error}]} to their export object.
 *
 * --trace DIR writes blktrace files (lib/trace.c), device BLKD_TRACE_MAJOR
 * (43, nbd) with the export's index as minor.  --trace-text FILE keeps the
 * text lines below.
 *
 * Trace lines (one per queue event, spec D.4 letters), for tests that
 * observe what the backend was asked to do:
 *   EXPORT EV KIND OFFSET LENGTH STEP ERROR NR_BIOS
 * e.g. "disk D W 0 65536 bar 0 1", "disk D FL 0 0 pre 0 0"; STEP is "-" for
 * plain requests.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "server.h"

#define OUT(...) do { \
		int r_ = snprintf(buf + n, n < len ? len - n : 0, __VA_ARGS__); \
		if (r_ > 0) n += (size_t)r_; \
	} while (0)

static void json_str(char *buf, size_t len, size_t *np, const char *s)
{
	size_t n = *np;

	OUT("\"");
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			OUT("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			OUT("\\u%04x", *s);
		else
			OUT("%c", *s);
	}
	OUT("\"");
	*np = n;
}

size_t blkd_server_stats_json(struct blkd_server *srv, char *buf, size_t len)
{
	struct blkd_stats st;
	size_t n = 0;

	pthread_mutex_lock(&srv->lock);
	/* request buffers held by every connection (--max-inflight-bytes) */
	OUT("{\"connections\":%u,\"buffer_bytes\":%llu,\"exports\":[", srv->nr_conns,
	    (unsigned long long)__atomic_load_n(&srv->buf_bytes, __ATOMIC_RELAXED));
	for (unsigned i = 0; i < srv->nr_exports; i++) {
		struct blkd_export *e = &srv->exports[i];
		bool first = true;

		OUT("%s{\"name\":", i ? "," : "");
		json_str(buf, len, &n, e->name);
		OUT(",\"scheduler\":\"%s\",\"ordered\":\"%s\",\"size\":%llu,\"stats\":",
		    blkd_queue_scheduler(e->q), blkd_ordered_name(blkd_queue_ordered(e->q)),
		    (unsigned long long)e->be->size);
		blkd_queue_stats(e->q, NULL, &st);
		n += blkd_stats_json(&st, buf + n, n < len ? len - n : 0);
		if (blkd_backend_is_mpath(e->be)) {
			OUT(",\"multipath\":");
			n += blkd_mpath_json(e->be, buf + n, n < len ? len - n : 0);
		}
		OUT(",\"clients\":[");
		for (struct blkd_conn *c = srv->conns; c; c = c->next) {
			if (c->exp != e)
				continue;
			blkd_queue_stats(e->q, &c->client, &st);
			st.throttled_us = __atomic_load_n(&c->throttled_ns, __ATOMIC_RELAXED) / 1000;
			OUT("%s{\"name\":", first ? "" : ",");
			json_str(buf, len, &n, c->client.name);
			OUT(",\"stats\":");
			n += blkd_stats_json(&st, buf + n, n < len ? len - n : 0);
			OUT("}");
			first = false;
		}
		OUT("]}");
	}
	pthread_mutex_unlock(&srv->lock);
	OUT("]}\n");
	if (len)
		buf[n < len ? n : len - 1] = '\0';
	return n < len ? n : (len ? len - 1 : 0);
}

/* limit EXPORT [export|client SPEC]: show both, or change one. */
static int limit_command(struct blkd_server *srv, int argc, char **argv, char *out,
			 size_t outlen)
{
	const char *exp = strcmp(argv[1], "-") ? argv[1] : "";
	bool all = !strcmp(exp, "*"), found = false;
	bool client = argc == 4 && !strcmp(argv[2], "client");
	struct ob_err err = { 0 };
	size_t n = 0;

	if (argc == 3 || (argc == 4 && !client && strcmp(argv[2], "export"))) {
		snprintf(out, outlen, "error: expected: limit EXPORT [export|client KEY=VAL,...]\n");
		return -EINVAL;
	}
	out[0] = '\0';
	for (unsigned i = 0; i < srv->nr_exports; i++) {
		struct blkd_export *e = &srv->exports[i];
		struct blkd_limit lim;

		if (!all && strcmp(e->name, exp))
			continue;
		found = true;
		if (argc == 2) {
			blkd_queue_get_limit(e->q, &lim);
			n += (size_t)snprintf(out + n, outlen - n, "export ");
			n += blkd_limit_format(&lim, out + n, outlen - n);
			blkd_client_limit_get(e, &lim);
			n += (size_t)snprintf(out + n, outlen - n, "\nclient ");
			n += blkd_limit_format(&lim, out + n, outlen - n);
			n += (size_t)snprintf(out + n, outlen - n, "\n");
			continue;
		}
		if (client)
			blkd_client_limit_get(e, &lim);
		else
			blkd_queue_get_limit(e->q, &lim);
		if (blkd_limit_parse(argv[3], &lim, &err)) {
			snprintf(out, outlen, "error: %s\n", err.msg);
			return -EINVAL;
		}
		if (client)
			blkd_client_limit_set(e, &lim);
		else
			blkd_queue_set_limit(e->q, &lim);
		blkd_log("export '%s': %s limit now %s", e->name, argv[2], argv[3]);
	}
	if (!found) {
		snprintf(out, outlen, "error: no export '%s'\n", exp);
		return -ENOENT;
	}
	if (argc == 4)
		snprintf(out, outlen, "ok\n");
	return 0;
}

static int set_scheduler(struct blkd_server *srv, const char *exp, const char *sched,
			 char *out, size_t outlen)
{
	bool all = !strcmp(exp, "*"), found = false;

	if (!strcmp(exp, "-"))
		exp = "";
	for (unsigned i = 0; i < srv->nr_exports; i++) {
		struct blkd_export *e = &srv->exports[i];

		if (!all && strcmp(e->name, exp))
			continue;
		found = true;
		if (!sched) {
			snprintf(out, outlen, "%s\n", blkd_queue_scheduler(e->q));
			return 0;
		}
		if (blkd_queue_set_scheduler(e->q, sched)) {
			snprintf(out, outlen, "error: unknown scheduler '%s'\n", sched);
			return -EINVAL;
		}
		blkd_log("export '%s': scheduler now %s", e->name, sched);
	}
	if (!found) {
		snprintf(out, outlen, "error: no export '%s'\n", exp);
		return -ENOENT;
	}
	snprintf(out, outlen, "ok\n");
	return 0;
}

static struct blkd_export *find_mpath(struct blkd_server *srv, const char *exp, char *out,
				      size_t outlen)
{
	struct blkd_export *e = blkd_export_find(srv, strcmp(exp, "-") ? exp : "");

	if (!e)
		snprintf(out, outlen, "error: no export '%s'\n", exp);
	else if (!blkd_backend_is_mpath(e->be))
		snprintf(out, outlen, "error: export '%s' has no paths\n", exp);
	else
		return e;
	return NULL;
}

/* paths EXPORT | fail_path EXPORT N | reinstate_path EXPORT N |
 * switch_group EXPORT G | queue_if_no_path EXPORT | fail_if_no_path EXPORT */
static int path_command(struct blkd_server *srv, int argc, char **argv, char *out, size_t outlen)
{
	struct blkd_export *e = find_mpath(srv, argv[1], out, outlen);
	struct ob_err err = { 0 };
	char msg[96];
	size_t n;
	int rc;

	if (!e)
		return -ENOENT;
	if (!strcmp(argv[0], "paths")) {
		n = blkd_mpath_json(e->be, out, outlen - 1);
		snprintf(out + n, outlen - n, "\n");
		return 0;
	}
	snprintf(msg, sizeof(msg), "%s%s%s", argv[0], argc > 2 ? " " : "", argc > 2 ? argv[2] : "");
	rc = blkd_mpath_message(e->be, msg, &err);
	if (rc) {
		snprintf(out, outlen, "error: %s\n", err.msg);
		return rc;
	}
	blkd_log("export '%s': %s", e->name, msg);
	snprintf(out, outlen, "ok\n");
	return 0;
}

static bool is_path_command(const char *w, int argc)
{
	static const struct { const char *name; int argc; } cmds[] = {
		{ "paths", 2 }, { "fail_path", 3 }, { "reinstate_path", 3 }, { "switch_group", 3 },
		{ "queue_if_no_path", 2 }, { "fail_if_no_path", 2 },
	};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(w, cmds[i].name))
			return argc == cmds[i].argc;
	return false;
}

int blkd_control_handle(struct blkd_server *srv, int fd)
{
	char line[512], *argv[4], *save = NULL;
	size_t got = 0, outlen = 1 << 20;
	char *out = malloc(outlen);
	int argc = 0, rc = 0;
	struct timeval tv = { .tv_sec = 2 };

	if (!out)
		return -ENOMEM;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (got < sizeof(line) - 1) {
		ssize_t r = recv(fd, line + got, sizeof(line) - 1 - got, 0);

		if (r <= 0)
			break;
		got += (size_t)r;
		if (memchr(line, '\n', got))
			break;
	}
	line[got] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	for (char *t = strtok_r(line, " \t", &save); t && argc < 4; t = strtok_r(NULL, " \t", &save))
		argv[argc++] = t;
	if (argc == 1 && !strcmp(argv[0], "stats"))
		blkd_server_stats_json(srv, out, outlen);
	else if ((argc == 2 || argc == 3) && !strcmp(argv[0], "scheduler"))
		rc = set_scheduler(srv, argv[1], argc == 3 ? argv[2] : NULL, out, outlen);
	else if (argc >= 2 && !strcmp(argv[0], "limit"))
		rc = limit_command(srv, argc, argv, out, outlen);
	else if (argc >= 2 && is_path_command(argv[0], argc))
		rc = path_command(srv, argc, argv, out, outlen);
	else {
		snprintf(out, outlen, "error: unknown command (try: stats | scheduler EXPORT [NAME] | "
			 "limit EXPORT [export|client KEY=VAL,...] | "
			 "paths EXPORT | fail_path EXPORT N | reinstate_path EXPORT N | "
			 "switch_group EXPORT G | queue_if_no_path EXPORT | fail_if_no_path EXPORT)\n");
		rc = -EINVAL;
	}
	blkd_write_full(fd, out, strlen(out));
	free(out);
	return rc;
}

/* The queue's trace hook: a blktrace record and/or a text line. */
void blkd_trace_event(void *arg, const struct blkd_trace_rec *r)
{
	struct blkd_export *e = arg;
	struct blkd_server *srv = e->srv;

	if (srv->blktrace)
		blkd_blktrace_event(srv->blktrace, BLKD_BLKTRACE_DEV(BLKD_TRACE_MAJOR, e->index), r);
	if (!srv->trace || r->ev == BLKD_EV_PLUG || r->ev == BLKD_EV_UNPLUG ||
	    r->ev == BLKD_EV_MESSAGE)
		return;
	pthread_mutex_lock(&srv->trace_lock);
	fprintf(srv->trace, "%s %c %s %llu %llu %s %d %u\n", e->name[0] ? e->name : "-",
		(char)r->ev, r->kind, (unsigned long long)r->off, (unsigned long long)r->len,
		r->step[0] ? r->step : "-", r->error, r->nr_bios);
	pthread_mutex_unlock(&srv->trace_lock);
}
