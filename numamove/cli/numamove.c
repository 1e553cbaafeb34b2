// SPDX-License-Identifier: MIT
/* numamove.c - the numamove command: its option table, the operands, and
 * the dispatch to a subcommand.
 *
 *   numamove PID --from NODES --to NODES [--dry-run] [--policy] [--json]
 *   numamove inspect PID [--json]
 *   numamove vacate NODE [--to NODES] [--cgroup DIR] [--dry-run] [--json]
 *   numamove follow PID [--interval MS] [--once] [--json]
 *
 * The options come from one table (opts[] below) that the shared parser
 * (ob/opt.h) turns into parsing, --help and usage errors; every usage
 * error is exit 64 naming the offender.  Before any work the nodes are
 * checked against the machine: a single-node machine (6) and an unknown
 * node (5) are refused up front, so nothing is ever half done because of
 * a typo.  The checks and helpers the subcommands share are in cli.c.
 */
#include "cli.h"

#include "ob/opt.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

enum opt_key {
	O_FROM = 256, O_TO, O_DRY, O_JSON, O_QUIET, O_POLICY, O_OWN_ONLY, O_RETRIES,
	O_BUDGET, O_PROGRESS, O_NO_PROGRESS, O_CGROUP, O_INTERVAL, O_ONCE, O_ROUNDS,
	O_MIN_MIB, O_FORCE, O_VERSION,
};

#define NM_NUM_MAX 1000000	/* bound of every numeric option */

static const struct ob_opt opts[] = {
	{ "from", 'f', O_FROM, "NODES", "source nodes, e.g. 0 or 0-1 (move)", 0 },
	{ "to", 't', O_TO, "NODES", "target nodes; several keep their layout as "
	  "migrate_pages(2)", 0 },
	{ "dry-run", 'n', O_DRY, NULL, "plan only: permissions, cpuset, free memory, "
	  "balancing", 0 },
	{ "policy", 0, O_POLICY, NULL, "also move the memory policy (cgroup-v2 "
	  "cpuset.mems),\nso new faults land on the target", 0 },
	{ "own-only", 0, O_OWN_ONLY, NULL, "never use MOVE_ALL: leave pages shared with "
	  "other\nprocesses (default: use it when we have CAP_SYS_NICE)", 0 },
	{ "retries", 0, O_RETRIES, "N", "retry passes for busy pages (default 5)", 0 },
	{ "budget-ms", 0, O_BUDGET, "MS", "work per move_pages call (default 1000)", 0 },
	{ "json", 'j', O_JSON, NULL, "one JSON object on stdout", 0 },
	{ "progress", 0, O_PROGRESS, NULL, "progress bar on stderr (default: on a "
	  "terminal)", 0 },
	{ "no-progress", 0, O_NO_PROGRESS, NULL, "no progress bar", 0 },
	{ "quiet", 'q', O_QUIET, NULL, "print only problems", 0 },
	{ "force", 0, O_FORCE, NULL, "move even when the target looks too full", 0 },
	{ "cgroup", 0, O_CGROUP, "DIR", "vacate: only the processes of this cgroup-v2 "
	  "directory", 0 },
	{ "interval", 0, O_INTERVAL, "MS", "follow: time between rounds (default 2000)", 0 },
	{ "once", 0, O_ONCE, NULL, "follow: one round, then exit", 0 },
	{ "rounds", 0, O_ROUNDS, "N", "follow: stop after N rounds", 0 },
	{ "min-mib", 0, O_MIN_MIB, "MIB", "follow: move only when at least this much is "
	  "off-node", 0 },
	{ "version", 0, O_VERSION, NULL, "print the version", 0 },
	{ OB_OPT_END },
};

static const struct ob_opt *const tables[] = { opts, NULL };

static const struct ob_cmd cmd = {
	.prog = "numamove",
	.synopsis = "numamove PID --from NODES --to NODES [options]\n"
		    "numamove inspect PID [--json]\n"
		    "numamove vacate NODE [--to NODES] [--cgroup DIR] [options]\n"
		    "numamove follow PID [--interval MS] [--once] [options]",
	.about = "Moves a process's memory between NUMA nodes with bounded move_pages(2)\n"
		 "batches and retries, re-checks every page and says why pages stayed.",
	.tables = tables,
	.epilog = "exit status: 0 all moved; 2 pages stayed behind; 3 no such process;\n"
		  "4 not permitted; 5 unknown node; 6 single-node machine; 7 target too full;\n"
		  "64 usage; 1 other errors.",
	.operands_min = 0,
	.operands_max = -1,
	.usage_status = NM_EXIT_USAGE,
};

/* A numeric option in [min, NM_NUM_MAX], or a usage error naming it. */
static int opt_uint(const struct ob_opt *o, const char *arg, uint64_t min, uint64_t max,
		    unsigned int *out)
{
	uint64_t v;

	if (ob_parse_uint(arg, min, max, &v)) {
		if (max < NM_NUM_MAX)
			return ob_opt_usage(&cmd, "--%s: bad number '%s' (%llu-%llu)", o->name,
					    arg, (unsigned long long)min, (unsigned long long)max);
		return ob_opt_usage(&cmd, "--%s: bad number '%s'", o->name, arg);
	}
	*out = (unsigned int)v;
	return 0;
}

static int on_option(const struct ob_cmd *unused, const struct ob_opt *o, const char *arg,
		     void *ctx)
{
	struct nm_cli *c = ctx;
	unsigned int v = 0;
	int rc;

	switch (o->key) {
	case O_FROM:
		c->from_s = arg;
		return 0;
	case O_TO:
		c->to_s = arg;
		return 0;
	case O_DRY:
		c->dry_run = true;
		return 0;
	case O_JSON:
		c->json = true;
		return 0;
	case O_QUIET:
		c->quiet = true;
		return 0;
	case O_POLICY:
		c->policy = true;
		return 0;
	case O_OWN_ONLY:
		c->own_only = true;
		return 0;
	case O_FORCE:
		c->force = true;
		return 0;
	case O_PROGRESS:
		c->progress = 1;
		return 0;
	case O_NO_PROGRESS:
		c->progress = 0;
		return 0;
	case O_RETRIES:
		return opt_uint(o, arg, 0, 30, &c->retries);
	case O_BUDGET:
		return opt_uint(o, arg, 1, NM_NUM_MAX, &c->budget_ms);
	case O_CGROUP:
		c->cgroup = arg;
		return 0;
	case O_INTERVAL:
		return opt_uint(o, arg, 1, NM_NUM_MAX, &c->interval_ms);
	case O_ONCE:
		c->rounds = 1;
		return 0;
	case O_ROUNDS:
		rc = opt_uint(o, arg, 1, NM_NUM_MAX, &v);
		if (!rc)
			c->rounds = (int)v;
		return rc;
	case O_MIN_MIB:
		c->min_mib = strtod(arg, NULL);
		return 0;
	case O_VERSION:
		printf("numamove 0.1\n");
		return -1;	/* stop: not an error, nothing more to do */
	}
	return 0;
}

/* The operands: "PID", or a subcommand and its PID or NODE. */
static int parse_operands(struct nm_cli *c, int n, char **pos)
{
	uint64_t v;

	if (!n)
		return ob_opt_usage(&cmd, "%s", "missing PID (or a command: inspect, vacate, "
				    "follow)");
	if (!strcmp(pos[0], "inspect") || !strcmp(pos[0], "vacate") ||
	    !strcmp(pos[0], "follow") || !strcmp(pos[0], "move")) {
		c->cmd = pos[0];
		if (n < 2)
			return ob_opt_usage(&cmd, "%s: missing argument", c->cmd);
		if (n > 2)
			return ob_opt_usage(&cmd, "unexpected argument '%s'", pos[2]);
		pos++;
	} else {
		c->cmd = "move";
		if (n > 1)
			return ob_opt_usage(&cmd, "unexpected argument '%s'", pos[1]);
	}
	if (!strcmp(c->cmd, "vacate")) {
		if (ob_parse_uint(pos[0], 0, NM_MASK_BITS - 1, &v))
			return ob_opt_usage(&cmd, "vacate: bad node '%s'", pos[0]);
		c->node = (int)v;
	} else {
		if (ob_parse_uint(pos[0], 1, 0x3fffffff, &v))
			return ob_opt_usage(&cmd, "bad PID '%s'", pos[0]);
		c->pid = (pid_t)v;
	}
	return 0;
}

/* --from and --to as node masks, and what a move needs of them. */
static int parse_nodes(struct nm_cli *c)
{
	struct ob_err err = { 0 };

	if (c->from_s) {
		if (nm_mask_parse(c->from_s, &c->from, &err) || !nm_mask_weight(&c->from))
			return ob_opt_usage(&cmd, "--from: bad node list '%s'", c->from_s);
		c->have_from = true;
	}
	if (c->to_s) {
		if (nm_mask_parse(c->to_s, &c->to, &err) || !nm_mask_weight(&c->to))
			return ob_opt_usage(&cmd, "--to: bad node list '%s'", c->to_s);
		c->have_to = true;
	}
	if (!strcmp(c->cmd, "move")) {
		if (!c->have_from || !c->have_to)
			return ob_opt_usage(&cmd, "%s", "move needs --from NODES and --to NODES");
		if (nm_mask_equal(&c->from, &c->to))
			return ob_opt_usage(&cmd, "--from and --to are the same nodes (%s)",
					    c->from_s);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct nm_cli c = {
		.progress = -1, .retries = (unsigned int)-1, .interval_ms = 2000,
		.host = { .root = "" }, .out = stdout,
	};
	struct ob_err err = { 0 };
	int first, status, rc;

	first = ob_opt_parse(&cmd, argc, argv, on_option, &c, &status);
	if (first < 0)
		return status < 0 ? NM_EXIT_OK : status;	/* --version gives -1 */
	rc = parse_operands(&c, argc - first, argv + first);
	if (!rc)
		rc = parse_nodes(&c);
	if (rc)
		return rc;
	/* A missing process is the more specific error: check it first. */
	if (c.pid && kill(c.pid, 0) && errno == ESRCH)
		return nm_cli_error(&c, NM_EXIT_NOPROC, "pid %d: no such process", c.pid);
	rc = nm_host_nodes(&c.host, &c.nodes, &err);
	if (rc)
		return nm_cli_fail(&c, "nodes", &err);

	if (!strcmp(c.cmd, "inspect"))
		return nm_cmd_inspect(&c);
	if (!strcmp(c.cmd, "vacate"))
		return nm_cmd_vacate(&c);
	if (!strcmp(c.cmd, "follow"))
		return nm_cmd_follow(&c);
	rc = nm_cli_check_nodes(&c, &c.from, "source");
	if (!rc)
		rc = nm_cli_check_nodes(&c, &c.to, "target");
	if (rc)
		return rc;
	return nm_cmd_move(&c);
}
