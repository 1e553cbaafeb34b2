// SPDX-License-Identifier: MIT
/* numamove.c - the numamove command: argv, checks, exit statuses.
 *
 *   numamove PID --from NODES --to NODES [--dry-run] [--policy] [--json]
 *   numamove inspect PID [--json]
 *   numamove vacate NODE [--to NODES] [--cgroup DIR] [--dry-run] [--json]
 *   numamove follow PID [--interval MS] [--once] [--json]
 *
 * Options, their argument names and their help text come from one table
 * (opts[] below); getopt_long's table and the --help text are built from
 * it.  An unknown option or a stray argument is a usage error (exit 64)
 * naming the offender.  Before any work the nodes are checked against the
 * machine: a single-node machine (6) and an unknown node (5) are refused
 * up front, so nothing is ever half done because of a typo.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum opt_id {
	O_FROM = 'f', O_TO = 't', O_DRY = 'n', O_JSON = 'j', O_QUIET = 'q', O_HELP = 'h',
	O_POLICY = 256, O_OWN_ONLY, O_RETRIES, O_BUDGET, O_PROGRESS, O_NO_PROGRESS,
	O_CGROUP, O_INTERVAL, O_ONCE, O_ROUNDS, O_MIN_MIB, O_FORCE, O_VERSION,
};

static const struct opt {
	const char *name;
	int has_arg;
	int id;
	const char *arg;
	const char *help;
} opts[] = {
	{ "from", 1, O_FROM, "NODES", "source nodes, e.g. 0 or 0-1 (move)" },
	{ "to", 1, O_TO, "NODES", "target nodes; several keep their layout as migrate_pages(2)" },
	{ "dry-run", 0, O_DRY, NULL, "plan only: permissions, cpuset, free memory, balancing" },
	{ "policy", 0, O_POLICY, NULL, "also move the memory policy (cgroup-v2 cpuset.mems), "
	  "so new faults land on the target" },
	{ "own-only", 0, O_OWN_ONLY, NULL, "never use MOVE_ALL: leave pages shared with other "
	  "processes (default: use it when we have CAP_SYS_NICE)" },
	{ "retries", 1, O_RETRIES, "N", "retry passes for busy pages (default 5)" },
	{ "budget-ms", 1, O_BUDGET, "MS", "work per move_pages call (default 20)" },
	{ "json", 0, O_JSON, NULL, "one JSON object on stdout" },
	{ "progress", 0, O_PROGRESS, NULL, "progress bar on stderr (default: on a terminal)" },
	{ "no-progress", 0, O_NO_PROGRESS, NULL, "no progress bar" },
	{ "quiet", 0, O_QUIET, NULL, "print only problems" },
	{ "force", 0, O_FORCE, NULL, "move even when the target looks too full" },
	{ "cgroup", 1, O_CGROUP, "DIR", "vacate: only the processes of this cgroup-v2 directory" },
	{ "interval", 1, O_INTERVAL, "MS", "follow: time between rounds (default 2000)" },
	{ "once", 0, O_ONCE, NULL, "follow: one round, then exit" },
	{ "rounds", 1, O_ROUNDS, "N", "follow: stop after N rounds" },
	{ "min-mib", 1, O_MIN_MIB, "MIB", "follow: move only when at least this much is off-node" },
	{ "help", 0, O_HELP, NULL, "this text" },
	{ "version", 0, O_VERSION, NULL, "print the version" },
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static void usage(FILE *f)
{
	fprintf(f,
		"usage: numamove PID --from NODES --to NODES [options]\n"
		"       numamove inspect PID [--json]\n"
		"       numamove vacate NODE [--to NODES] [--cgroup DIR] [options]\n"
		"       numamove follow PID [--interval MS] [--once] [options]\n"
		"\nMoves a process's memory between NUMA nodes with bounded move_pages(2)\n"
		"batches and retries, re-checks every page and says why pages stayed.\n\n");
	for (size_t i = 0; i < NOPTS; i++) {
		char left[64];

		snprintf(left, sizeof(left), "--%s%s%s", opts[i].name, opts[i].arg ? " " : "",
			 opts[i].arg ? opts[i].arg : "");
		fprintf(f, "  %-22s %s\n", left, opts[i].help);
	}
	fprintf(f,
		"\nexit status: 0 all moved; 2 pages stayed behind; 3 no such process;\n"
		"4 not permitted; 5 unknown node; 6 single-node machine; 7 target too full;\n"
		"64 usage; 1 other errors.\n");
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "numamove: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'numamove --help'.\n");
	return NM_EXIT_USAGE;
}

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

static int parse_pid(const char *s, pid_t *pid)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v <= 0 || v > 0x3fffffff)
		return -EINVAL;
	*pid = (pid_t)v;
	return 0;
}

static int parse_uint(const char *s, unsigned int *v)
{
	char *end;
	unsigned long x;

	errno = 0;
	x = strtoul(s, &end, 10);
	if (errno || *end || end == s || x > 1000000)
		return -EINVAL;
	*v = (unsigned int)x;
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

int main(int argc, char **argv)
{
	struct option lopts[NOPTS + 1];
	struct nm_cli c = {
		.progress = -1, .retries = (unsigned int)-1, .interval_ms = 2000,
		.host = { .root = "" }, .out = stdout,
	};
	struct ob_err err = { 0 };
	const char *pos[2] = { NULL, NULL };
	int npos = 0, opt, rc;

	for (size_t i = 0; i < NOPTS; i++)
		lopts[i] = (struct option){ opts[i].name, opts[i].has_arg, NULL, opts[i].id };
	memset(&lopts[NOPTS], 0, sizeof(lopts[NOPTS]));

	/* "+" stops at nothing but lets options follow positionals. */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "-f:t:njqh", lopts, NULL)) != -1) {
		unsigned int v;

		switch (opt) {
		case 1:
			if (npos == 2)
				return usage_error("unexpected argument '%s'", optarg);
			pos[npos++] = optarg;
			break;
		case O_FROM:
			c.from_s = optarg;
			break;
		case O_TO:
			c.to_s = optarg;
			break;
		case O_DRY:
			c.dry_run = true;
			break;
		case O_JSON:
			c.json = true;
			break;
		case O_QUIET:
			c.quiet = true;
			break;
		case O_POLICY:
			c.policy = true;
			break;
		case O_OWN_ONLY:
			c.own_only = true;
			break;
		case O_FORCE:
			c.force = true;
			break;
		case O_PROGRESS:
			c.progress = 1;
			break;
		case O_NO_PROGRESS:
			c.progress = 0;
			break;
		case O_RETRIES:
			if (parse_uint(optarg, &c.retries) || c.retries > 30)
				return usage_error("--retries: bad number '%s' (0-30)", optarg);
			break;
		case O_BUDGET:
			if (parse_uint(optarg, &c.budget_ms) || !c.budget_ms)
				return usage_error("--budget-ms: bad number '%s'", optarg);
			break;
		case O_CGROUP:
			c.cgroup = optarg;
			break;
		case O_INTERVAL:
			if (parse_uint(optarg, &c.interval_ms) || !c.interval_ms)
				return usage_error("--interval: bad number '%s'", optarg);
			break;
		case O_ONCE:
			c.rounds = 1;
			break;
		case O_ROUNDS:
			if (parse_uint(optarg, &v) || !v)
				return usage_error("--rounds: bad number '%s'", optarg);
			c.rounds = (int)v;
			break;
		case O_MIN_MIB:
			c.min_mib = strtod(optarg, NULL);
			break;
		case O_HELP:
			usage(stdout);
			return NM_EXIT_OK;
		case O_VERSION:
			printf("numamove 0.1\n");
			return NM_EXIT_OK;
		case ':':
			return usage_error("option '%s' needs an argument", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (!npos)
		return usage_error("%s", "missing PID (or a command: inspect, vacate, follow)");
	if (!strcmp(pos[0], "inspect") || !strcmp(pos[0], "vacate") ||
	    !strcmp(pos[0], "follow") || !strcmp(pos[0], "move")) {
		c.cmd = pos[0];
		if (npos < 2)
			return usage_error("%s: missing argument", c.cmd);
		pos[0] = pos[1];
	} else {
		c.cmd = "move";
		if (npos > 1)
			return usage_error("unexpected argument '%s'", pos[1]);
	}
	if (!strcmp(c.cmd, "vacate")) {
		unsigned int n;

		if (parse_uint(pos[0], &n) || n >= NM_MASK_BITS)
			return usage_error("vacate: bad node '%s'", pos[0]);
		c.node = (int)n;
	} else if (parse_pid(pos[0], &c.pid)) {
		return usage_error("bad PID '%s'", pos[0]);
	}
	if (c.from_s) {
		if (nm_mask_parse(c.from_s, &c.from, &err) || !nm_mask_weight(&c.from))
			return usage_error("--from: bad node list '%s'", c.from_s);
		c.have_from = true;
	}
	if (c.to_s) {
		if (nm_mask_parse(c.to_s, &c.to, &err) || !nm_mask_weight(&c.to))
			return usage_error("--to: bad node list '%s'", c.to_s);
		c.have_to = true;
	}
	if (!strcmp(c.cmd, "move")) {
		if (!c.have_from || !c.have_to)
			return usage_error("%s", "move needs --from NODES and --to NODES");
		if (nm_mask_equal(&c.from, &c.to))
			return usage_error("--from and --to are the same nodes (%s)", c.from_s);
	}
	/* A missing process is the more specific error: check it first. */
	if (c.pid && kill(c.pid, 0) && errno == ESRCH) {
		fprintf(stderr, "numamove: pid %d: no such process\n", c.pid);
		return NM_EXIT_NOPROC;
	}
	rc = nm_host_nodes(&c.host, &c.nodes, &err);
	if (rc)
		return nm_cli_fail("nodes", &err);

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
