// SPDX-License-Identifier: MIT
/* cli.c - the steps every numamove subcommand shares: turning a library
 * error into a message (and, with --json, an object) and an exit status, checking node sets against the
 * machine, and turning the command line into nm_move_opts.
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int nm_cli_exit_for(int code)
{
	switch (code) {
	case 0:
		return NM_EXIT_OK;
	case -ESRCH:
		return NM_EXIT_NOPROC;
	case -EPERM:
	case -EACCES:
		return NM_EXIT_PERM;
	case -ENODEV:
		return NM_EXIT_NODE;
	default:
		return NM_EXIT_ERROR;
	}
}

int nm_cli_error(struct nm_cli *c, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->error, sizeof(c->error), fmt, ap);
	va_end(ap);
	fprintf(stderr, "numamove: %s\n", c->error);
	/* A script reading --json output gets one object whatever happened;
	 * a command that has begun its own object adds the error to it. */
	if (c->json && !c->json_open) {
		fprintf(c->out, "{\"command\":\"%s\"", c->cmd ? c->cmd : "");
		if (c->pid)
			fprintf(c->out, ",\"pid\":%d", c->pid);
		fprintf(c->out, ",\"error\":");
		nm_json_str(c->out, c->error);
		fprintf(c->out, ",\"exit\":%d}\n", status);
	}
	return status;
}

int nm_cli_fail(struct nm_cli *c, const char *object, const struct ob_err *err)
{
	static const char prog[] = "numamove: ";
	char line[1024];

	ob_err_format(line, sizeof(line), "numamove", object, err);
	return nm_cli_error(c, nm_cli_exit_for(err->code), "%s", line + sizeof(prog) - 1);
}

void nm_cli_json_error(const struct nm_cli *c)
{
	if (!c->error[0])
		return;
	fprintf(c->out, ",\"error\":");
	nm_json_str(c->out, c->error);
}

bool nm_cli_have_cap_sys_nice(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	bool yes = geteuid() == 0;

	if (!f)
		return yes;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "CapEff:", 7))
			yes = strtoull(line + 7, NULL, 16) >> 23 & 1;	/* CAP_SYS_NICE */
	fclose(f);
	return yes;
}

int nm_cli_check_nodes(struct nm_cli *c, const struct nm_mask *m, const char *what)
{
	char buf[256], have[256];
	struct nm_mask bad;

	nm_mask_format(&c->nodes, have, sizeof(have));
	if (nm_mask_weight(&c->nodes) < 2)
		return nm_cli_error(c, NM_EXIT_ONENODE, "this machine has a single NUMA node "
				    "with memory (%s); there is nowhere to move memory to", have);
	nm_mask_andnot(&bad, m, &c->nodes);
	if (nm_mask_weight(&bad)) {
		nm_mask_format(&bad, buf, sizeof(buf));
		return nm_cli_error(c, NM_EXIT_NODE, "%s node %s: no such node with memory "
				    "(online with memory: %s)", what, buf, have);
	}
	return 0;
}

void nm_cli_move_opts(const struct nm_cli *c, struct nm_move_opts *o)
{
	nm_move_opts_init(o);
	o->from = c->from;
	o->to = c->to;
	if (!c->own_only && nm_cli_have_cap_sys_nice())
		o->flags |= NM_F_MOVE_ALL;
	if (c->dry_run)
		o->flags |= NM_F_DRY_RUN;
	if (c->retries != (unsigned int)-1)
		o->retries = c->retries;
	if (c->budget_ms)
		o->call_budget_us = c->budget_ms * 1000;
	/* Policies only feed warnings in a move, and at many mappings reading
	 * them (numa_maps) costs as much as the move itself (issue 21); a dry
	 * run and --policy, which need them, always read them. */
	if (!c->dry_run && !c->policy)
		o->numa_maps_max = NM_CLI_NUMA_MAPS_MAX;
	if (c->progress == 1 || (c->progress == -1 && !c->json && !c->quiet && isatty(2))) {
		o->progress = nm_progress_bar;
		o->progress_arg = NULL;
	}
}
