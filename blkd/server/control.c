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
 *   (EXPORT is a name, "-" for the default export "", or "*" for all)
 * Stats JSON: {"exports":[{"name","scheduler","ordered","size",
 *   "stats":{...},"clients":[{"name","stats":{...}}]}]} with the fields of
 *   blkd_stats_json().
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

	OUT("{\"exports\":[");
	pthread_mutex_lock(&srv->lock);
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
		OUT(",\"clients\":[");
		for (struct blkd_conn *c = srv->conns; c; c = c->next) {
			if (c->exp != e)
				continue;
			blkd_queue_stats(e->q, &c->client, &st);
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
	else {
		snprintf(out, outlen, "error: unknown command (try: stats | scheduler EXPORT [NAME])\n");
		rc = -EINVAL;
	}
	blkd_write_full(fd, out, strlen(out));
	free(out);
	return rc;
}

void blkd_trace_line(void *arg, const struct blkd_trace_rec *r)
{
	struct blkd_export *e = arg;
	struct blkd_server *srv = e->srv;

	pthread_mutex_lock(&srv->trace_lock);
	fprintf(srv->trace, "%s %c %s %llu %llu %s %d %u\n", e->name[0] ? e->name : "-",
		(char)r->ev, r->kind, (unsigned long long)r->off, (unsigned long long)r->len,
		r->step[0] ? r->step : "-", r->error, r->nr_bios);
	pthread_mutex_unlock(&srv->trace_lock);
}
