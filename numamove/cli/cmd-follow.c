// SPDX-License-Identifier: MIT
/* cmd-follow.c - "numamove follow PID": keep memory where the CPUs are.
 *
 * The seed's "after the process is moved" case: a scheduler (or taskset,
 * or a cpuset) changes where a process may run; its memory should follow.
 * Each round:
 *   F1  read Cpus_allowed_list of every thread (/proc/PID/task/TID/status)
 *       and map the CPUs to nodes (nodeN/cpulist); the union is the set of
 *       nodes the process runs on, restricted to nodes with memory;
 *   F2  every other node with memory is a source; if the planned bytes are
 *       at least --min-mib (hysteresis, so a few stray pages do not cause a
 *       move every round), move them with the usual passes and verify;
 *   F3  sleep --interval ms; stop after --rounds or when the process exits.
 * Threads share one address space, so "each thread's memory" is the
 * process's memory placed on the union of its threads' nodes; with several
 * target nodes the mapping is migrate_pages' (source i -> target i mod n).
 *
 * SIGINT and SIGTERM end the loop after the current round: the flag below
 * is the one piece of global state in numamove, as a signal handler needs.
 */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t follow_stop;

static void on_signal(int sig)
{
	follow_stop = 1;
}

/* F1 */
static int thread_nodes(struct nm_cli *c, struct nm_mask *nodes, struct ob_err *err)
{
	struct nm_mask cpus, one;
	char path[64], line[8192];
	struct dirent *e;
	DIR *d;

	nm_mask_zero(&cpus);
	snprintf(path, sizeof(path), "/proc/%d/task", c->pid);
	d = opendir(path);
	if (!d)
		return ob_err_set(err, errno == ENOENT ? -ESRCH : -errno, "%s", path);
	while ((e = readdir(d))) {
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/status", c->pid, e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			if (!strncmp(line, "Cpus_allowed_list:", 18) &&
			    !nm_mask_parse(line + 18, &one, NULL))
				nm_mask_or(&cpus, &cpus, &one);
		fclose(f);
	}
	closedir(d);
	if (!nm_mask_weight(&cpus))
		return ob_err_set(err, -ESRCH, "no process %d", c->pid);
	if (nm_host_cpus_to_nodes(&c->host, &cpus, &one, err))
		return err->code;
	nm_mask_and(nodes, &one, &c->nodes);
	return 0;
}

int nm_cmd_follow(struct nm_cli *c)
{
	struct sigaction sa = { .sa_handler = on_signal };
	char object[32], a[32];
	int round = 0, ex = NM_EXIT_OK, rc;

	snprintf(object, sizeof(object), "pid %d", c->pid);
	if (nm_mask_weight(&c->nodes) < 2)
		return nm_cli_check_nodes(c, &c->nodes, "");
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (c->json) {
		fprintf(c->out, "{\"pid\":%d,\"rounds\":[", c->pid);
		c->json_open = true;
	}
	while (!follow_stop) {
		struct nm_move_opts o;
		struct nm_report rep;
		struct ob_err err = { 0 };
		struct nm_mask want;

		rc = thread_nodes(c, &want, &err);
		if (rc == -ESRCH && round > 0)
			break;	/* the process ended: our job is done */
		if (rc) {
			ex = nm_cli_fail(c, object, &err);
			goto out;
		}
		if (!nm_mask_weight(&want))
			goto next;	/* its CPUs are on memoryless nodes */
		nm_mask_andnot(&c->from, &c->nodes, &want);			/* F2 */
		c->to = want;
		if (!nm_mask_weight(&c->from))
			goto next;	/* it may run everywhere: nothing to follow */
		nm_cli_move_opts(c, &o);
		o.progress = NULL;
		o.flags |= NM_F_DRY_RUN;
		rc = nm_move(&c->host, &nm_sys_default, c->pid, &o, &rep, &err);
		if (!rc && (double)rep.bytes_candidate >= c->min_mib * 1048576.0 &&
		    rep.bytes_candidate) {
			o.flags &= ~NM_F_DRY_RUN;
			rc = nm_move_planned(&c->host, &nm_sys_default, &o, &rep, &err);
			if (!rc) {
				ex = rep.bytes_left ? NM_EXIT_RESIDUE : NM_EXIT_OK;
				if (c->json) {
					fprintf(c->out, "%s", round ? "," : "");
					nm_report_json(c->out, c, &rep);
					fprintf(c->out, ",\"round\":%d}", round + 1);
				} else {
					fprintf(c->out, "numamove: follow round %d: threads run on "
						"node ", round + 1);
					nm_print_mask(c->out, &want);
					fprintf(c->out, "; %s moved there\n",
						nm_size(rep.bytes_moved, a, sizeof(a)));
					nm_report_text(c->out, c, &rep);
				}
				fflush(c->out);
			}
		}
		nm_report_free(&rep);
		if (rc == -ESRCH)
			break;
		if (rc) {
			ex = nm_cli_fail(c, object, &err);
			goto out;
		}
next:
		if (c->rounds && ++round >= c->rounds)
			break;
		if (!c->rounds)
			round++;
		usleep(c->interval_ms * 1000);				/* F3 */
	}
out:
	if (c->json) {
		fprintf(c->out, "]");
		nm_cli_json_error(c);
		fprintf(c->out, ",\"exit\":%d}\n", ex);
	}
	return ex;
}
