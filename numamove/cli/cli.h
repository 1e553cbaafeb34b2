/* SPDX-License-Identifier: MIT */
/* cli.h - what the numamove front end's files share: exit codes, the parsed
 * command line, the shared steps (cli.c) and the output helpers (report.c).
 * Only the front end prints or exits.
 */
#ifndef NM_CLI_H
#define NM_CLI_H

#include "numamove.h"

#include <stdio.h>

/* Exit statuses (documented in --help and the README; tests check each one). */
enum nm_exit {
	NM_EXIT_OK = 0,		/* everything asked for is on the target nodes */
	NM_EXIT_ERROR = 1,	/* unexpected failure (message says which) */
	NM_EXIT_RESIDUE = 2,	/* the move ran but some pages stayed behind */
	NM_EXIT_NOPROC = 3,	/* no such process */
	NM_EXIT_PERM = 4,	/* not permitted (ptrace, CAP_SYS_NICE, cpuset) */
	NM_EXIT_NODE = 5,	/* unknown, offline or memoryless node */
	NM_EXIT_ONENODE = 6,	/* single-node machine: nowhere to move to */
	NM_EXIT_NOMEM = 7,	/* not enough free memory on the target (plan) */
	NM_EXIT_USAGE = 64,	/* bad command line */
};

/* A move reads the target's policies (numa_maps) only up to this many
 * mappings: about 0.2 s of kernel time in a TCG guest, where 50,000 took
 * 0.7-2.6 s, as long as migratepages' whole move (issue 21). */
#define NM_CLI_NUMA_MAPS_MAX	8192

struct nm_cli {
	const char *cmd;		/* "move", "inspect", "vacate", "follow" */
	pid_t pid;
	int node;			/* vacate NODE */
	const char *from_s, *to_s;
	struct nm_mask from, to;
	bool have_from, have_to;
	bool dry_run, json, quiet, policy, own_only, force;
	int progress;			/* -1 auto (a terminal), 0 off, 1 on */
	unsigned int retries, budget_ms;
	const char *cgroup;		/* vacate --cgroup */
	unsigned int interval_ms;	/* follow */
	int rounds;			/* follow: 0 = until the process exits */
	double min_mib;			/* follow: hysteresis */
	struct nm_host host;
	struct nm_mask nodes;		/* online nodes with memory */
	FILE *out;
	bool json_open;			/* the command's JSON object is begun */
	char error[1024];		/* the failure reported, if any */
};

/* Report a refusal or failure: "numamove: <message>" on stderr, and with
 * --json one object {"command","pid","error","exit"} on stdout unless the
 * command has begun its own (json_open: it adds nm_cli_json_error() to
 * it).  Returns status. */
int nm_cli_error(struct nm_cli *c, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* nm_cli_error for a library error: "<object>: <reason>" with the exit
 * status that fits err->code (ESRCH -> 3, EPERM/EACCES -> 4, ...). */
int nm_cli_fail(struct nm_cli *c, const char *object, const struct ob_err *err);
int nm_cli_exit_for(int code);
/* ",\"error\":\"...\"" when an error was reported, else nothing. */
void nm_cli_json_error(const struct nm_cli *c);

/* Validate a node set against the machine: 5 or 6 on error, 0 when fine. */
int nm_cli_check_nodes(struct nm_cli *c, const struct nm_mask *m, const char *what);

bool nm_cli_have_cap_sys_nice(void);

/* report.c */
void nm_json_str(FILE *f, const char *s);
void nm_print_mask(FILE *f, const struct nm_mask *m);
const char *nm_size(uint64_t bytes, char *buf, size_t len);
void nm_report_text(FILE *f, const struct nm_cli *c, const struct nm_report *rep);
/* Prints "{...,"residue":[...]" without the closing brace: callers add
 * their own fields. */
void nm_report_json(FILE *f, const struct nm_cli *c, const struct nm_report *rep);
void nm_progress_bar(void *arg, const struct nm_progress *pr);
void nm_progress_end(void);

/* Subcommands; each returns an exit status. */
int nm_cmd_move(struct nm_cli *c);
int nm_cmd_inspect(struct nm_cli *c);
int nm_cmd_vacate(struct nm_cli *c);
int nm_cmd_follow(struct nm_cli *c);

/* Shared by move, vacate and follow: fill opts from the command line. */
void nm_cli_move_opts(const struct nm_cli *c, struct nm_move_opts *o);

#endif
