// SPDX-License-Identifier: MIT
/* cli.c - the steps every numamove subcommand shares: turning a library
 * error into a message and an exit status, checking node sets against the
 * machine, and turning the command line into nm_move_opts.
 */
#include "cli.h"

#include <errno.h>
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

int nm_cli_fail(const char *object, const struct ob_err *err)
{
	ob_err_print("numamove", object, err);
	return nm_cli_exit_for(err->code);
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
	if (nm_mask_weight(&c->nodes) < 2) {
		fprintf(stderr, "numamove: this machine has a single NUMA node with memory (%s); "
			"there is nowhere to move memory to\n", have);
		return NM_EXIT_ONENODE;
	}
	nm_mask_andnot(&bad, m, &c->nodes);
	if (nm_mask_weight(&bad)) {
		nm_mask_format(&bad, buf, sizeof(buf));
		fprintf(stderr, "numamove: %s node %s: no such node with memory (online with "
			"memory: %s)\n", what, buf, have);
		return NM_EXIT_NODE;
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
	if (c->progress == 1 || (c->progress == -1 && !c->json && !c->quiet && isatty(2))) {
		o->progress = nm_progress_bar;
		o->progress_arg = NULL;
	}
}
