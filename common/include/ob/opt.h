/* SPDX-License-Identifier: MIT */
/* opt.h - one command-line parser for every Outboard program.
 *
 * A command is described once, as tables of struct ob_opt; the same tables
 * drive parsing, the --help text, usage errors and the refusal of unknown
 * options, so the three can never disagree.  Several tables can be chained
 * (a subcommand's own options, then the key options every keyed subcommand
 * takes); a table may contain heading rows that only shape --help.
 *
 * The grammar is GNU's: "--name VALUE", "--name=VALUE", "-x VALUE", "-xVALUE",
 * bundled flags ("-fd"), "--" ends the options, and operands may sit between
 * options unless OB_CMD_STOP_AT_OPERAND is set (subcommand dispatch).  Long
 * names may be abbreviated to any unique prefix, except options marked
 * OB_OPT_EXACT: a secret-carrying option must never be guessed from a typo,
 * and an unknown option is reported by name only, never with its value.
 *
 * The same tables also parse mount-style option strings ("a,b=1,c")
 * with ob_opt_parse_list(), so "-o" options get the same checks.
 */
#ifndef OB_OPT_H
#define OB_OPT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* ob_opt.flags */
#define OB_OPT_EXACT	0x1	/* never matched by an abbreviation */
#define OB_OPT_HIDDEN	0x2	/* parsed, but not listed in --help */

struct ob_opt {
	const char *name;	/* long name without "--"; NULL = heading row */
	int short_name;		/* 'x', or 0 for none */
	int key;		/* handed to the callback; unique per command */
	const char *arg;	/* metavariable ("FILE") or NULL: takes no value */
	const char *help;	/* may hold '\n'; for a heading row, the heading */
	unsigned flags;
};

/* The end of a table: { OB_OPT_END } */
#define OB_OPT_END NULL, 0, 0, NULL, NULL, 0
/* A heading row in --help: { OB_OPT_HEADING("Key options:") } */
#define OB_OPT_HEADING(text) NULL, 0, 0, NULL, text, 0

/* ob_cmd.flags */
#define OB_CMD_STOP_AT_OPERAND	0x1	/* the first operand ends the options */

struct ob_cmd;

/* Called once per option found, in command-line order.  arg is the value or
 * NULL.  Return 0 to go on, or an exit status (usually ob_opt_usage()'s) to
 * stop parsing. */
typedef int (*ob_opt_fn)(const struct ob_cmd *cmd, const struct ob_opt *opt,
			 const char *arg, void *ctx);

struct ob_cmd {
	const char *prog;	/* "ecfs mount": errors and --help name it */
	const char *synopsis;	/* "ecfs mount [OPTION]... LOWER MNT"; may hold '\n' */
	const char *about;	/* paragraph after the synopsis, or NULL */
	const struct ob_opt *const *tables;	/* NULL-terminated list */
	const char *epilog;	/* text after the options, or NULL */
	int operands_min;	/* operand count checked after parsing */
	int operands_max;	/* -1: any number */
	int usage_status;	/* exit status of a usage error; 0 means 2 */
	unsigned flags;
};

/* Parse argv[1..argc-1].  Operands are moved, in order, behind the options
 * (as GNU getopt permutes), and the index of the first is returned.  When
 * the caller must exit instead, returns -1 with *status set: 0 after --help
 * (printed to stdout), the usage status after a usage error (printed to
 * stderr), or whatever non-zero value the callback returned.  --help and -h
 * are handled here unless a table claims them. */
int ob_opt_parse(const struct ob_cmd *cmd, int argc, char **argv, ob_opt_fn fn,
		 void *ctx, int *status);

/* Parse "a,b=1,c" against the same tables (long names, exact match only):
 * options with an arg need "=VALUE", flags must not have one.  An unknown
 * name calls unknown(), when given, which returns 0 to accept it; otherwise
 * it is a usage error.  Returns 0 or an exit status as the callback does. */
int ob_opt_parse_list(const struct ob_cmd *cmd, const char *list, ob_opt_fn fn,
		      int (*unknown)(const struct ob_cmd *cmd, const char *name,
				     const char *value, void *ctx),
		      void *ctx);

/* Print "prog: <message>\nTry 'prog --help'.\n" to stderr and return the
 * command's usage status, so a callback can "return ob_opt_usage(...)". */
int ob_opt_usage(const struct ob_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The whole --help text: synopsis, about, every table, epilog. */
void ob_opt_help(const struct ob_cmd *cmd, FILE *f);

/* Just the option lines of one table, as --help shows them. */
void ob_opt_print_table(const struct ob_opt *table, FILE *f);

/* Value parsers shared by every program; each returns 0 or -EINVAL (or
 * -ERANGE outside [min, max]) and never prints. */

/* Decimal unsigned integer in [min, max], no suffix. */
int ob_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* "4096", "64K", "1M", "2G", "1T" (powers of 1024; "KiB", "KB" and "B"
 * spellings accepted), in [min, max]. */
int ob_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* "2" or "2s" (seconds, fractions allowed), "500ms"; "forever" gives -1
 * when forever_ok.  Result in milliseconds, at most a day. */
int ob_parse_time_ms(const char *s, bool forever_ok, int64_t *out_ms);

#endif
