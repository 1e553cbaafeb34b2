// SPDX-License-Identifier: MIT
/* cmd-vacate.c - "numamove vacate NODE": empty a node of process memory.
 *
 * Every process (or those of --cgroup DIR) that has pages on NODE gets the
 * same batched, verified move as "numamove PID": from NODE to --to, or by
 * default to the nearest other node with memory (ties: most free memory).
 * Processes that exit meanwhile are skipped; processes we may not touch and
 * pages that stay are reported per PID.  Kernel threads have no memory and
 * are passed over.  Exit 0 when the node holds no movable process page
 * afterwards, 2 otherwise.
 */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int nearest_node(struct nm_cli *c, int node)
{
	int best = -1, bestd = 1 << 30, n;
	uint64_t bestfree = 0;

	nm_mask_for_each(n, &c->nodes) {
		uint64_t total = 0, free_kb = 0;
		int d;

		if (n == node)
			continue;
		d = nm_host_distance(&c->host, node, n, NULL);
		if (d < 0)
			d = 1 << 29;
		nm_host_node_mem(&c->host, n, &total, &free_kb, NULL);
		if (d < bestd || (d == bestd && free_kb > bestfree)) {
			best = n;
			bestd = d;
			bestfree = free_kb;
		}
	}
	return best;
}

/* The PIDs to look at: a cgroup's, or every numeric /proc entry. */
static int list_pids(struct nm_cli *c, pid_t **out, size_t *nr)
{
	size_t cap = 256, n = 0;
	pid_t *v = malloc(cap * sizeof(*v));

	if (!v)
		return -ENOMEM;
	if (c->cgroup) {
		char path[4096];
		FILE *f;
		long pid;

		snprintf(path, sizeof(path), "%s/cgroup.procs", c->cgroup);
		f = fopen(path, "re");
		if (!f) {
			int rc = -errno;

			free(v);
			return rc;
		}
		while (fscanf(f, "%ld", &pid) == 1) {
			if (n == cap) {
				pid_t *nv = realloc(v, (cap *= 2) * sizeof(*v));

				if (!nv) {
					fclose(f);
					free(v);
					return -ENOMEM;
				}
				v = nv;
			}
			v[n++] = (pid_t)pid;
		}
		fclose(f);
	} else {
		DIR *d = opendir("/proc");
		struct dirent *e;

		if (!d) {
			free(v);
			return -errno;
		}
		while ((e = readdir(d))) {
			char *end;
			long pid = strtol(e->d_name, &end, 10);

			if (*end || pid <= 0)
				continue;
			if (n == cap) {
				pid_t *nv = realloc(v, (cap *= 2) * sizeof(*v));

				if (!nv) {
					closedir(d);
					free(v);
					return -ENOMEM;
				}
				v = nv;
			}
			v[n++] = (pid_t)pid;
		}
		closedir(d);
	}
	*out = v;
	*nr = n;
	return 0;
}

int nm_cmd_vacate(struct nm_cli *c)
{
	struct nm_move_opts o;
	pid_t *pids = NULL, self = getpid();
	size_t nr = 0, nmoved = 0, nfail = 0;
	uint64_t moved = 0, left = 0;
	char a[32], b[32];
	bool first = true;
	int rc, ex = NM_EXIT_OK;

	nm_mask_zero(&c->from);
	nm_mask_set(&c->from, c->node);
	c->from_s = NULL;
	rc = nm_cli_check_nodes(c, &c->from, "source");
	if (rc)
		return rc;
	if (!c->have_to) {
		int t = nearest_node(c, c->node);

		nm_mask_zero(&c->to);
		nm_mask_set(&c->to, t);
	} else {
		rc = nm_cli_check_nodes(c, &c->to, "target");
		if (rc)
			return rc;
		if (nm_mask_isset(&c->to, c->node))
			return nm_cli_error(c, NM_EXIT_USAGE, "vacate: --to includes the node "
					    "being vacated (%d)", c->node);
	}
	rc = list_pids(c, &pids, &nr);
	if (rc) {
		struct ob_err err = { 0 };

		ob_err_set(&err, rc, "cannot list processes");
		return nm_cli_fail(c, c->cgroup ? c->cgroup : "/proc", &err);
	}
	nm_cli_move_opts(c, &o);
	o.progress = NULL;
	if (c->json) {
		fprintf(c->out, "{\"node\":%d,\"processes\":[", c->node);
		c->json_open = true;
	}
	for (size_t i = 0; i < nr; i++) {
		struct nm_report rep;
		struct ob_err err = { 0 };

		if (pids[i] == self)
			continue;
		rc = nm_move(&c->host, &nm_sys_default, pids[i], &o, &rep, &err);
		if (rc == -ESRCH || rc == -EINVAL) {
			/* Gone, or a kernel thread without memory. */
			nm_report_free(&rep);
			continue;
		}
		if (rc) {
			char object[32];

			snprintf(object, sizeof(object), "pid %d", pids[i]);
			ob_err_print("numamove", object, &err);
			nfail++;
			nm_report_free(&rep);
			continue;
		}
		if (!rep.bytes_candidate && !rep.bytes_left && !rep.nr_res) {
			nm_report_free(&rep);
			continue;
		}
		nmoved++;
		moved += rep.bytes_moved;
		left += rep.bytes_left;
		if (c->json) {
			fprintf(c->out, "%s", first ? "" : ",");
			nm_report_json(c->out, c, &rep);
			fprintf(c->out, "}");
			first = false;
		} else if (!c->quiet || rep.bytes_left) {
			nm_report_text(c->out, c, &rep);
		}
		nm_report_free(&rep);
	}
	free(pids);
	if (left || nfail)
		ex = NM_EXIT_RESIDUE;
	if (c->json) {
		fprintf(c->out, "],\"to\":\"");
		nm_print_mask(c->out, &c->to);
		fprintf(c->out, "\",\"bytes_moved\":%llu,\"bytes_left\":%llu,\"failed\":%zu,"
			"\"exit\":%d}\n", (unsigned long long)moved, (unsigned long long)left,
			nfail, ex);
	} else {
		fprintf(c->out, "numamove: vacate node %d: %zu processes, moved %s, %s stayed, "
			"%zu processes could not be moved\n", c->node, nmoved,
			nm_size(moved, a, sizeof(a)), nm_size(left, b, sizeof(b)), nfail);
	}
	return ex;
}
