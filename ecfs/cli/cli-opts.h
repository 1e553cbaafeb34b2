/* cli-opts.h - helpers to build a subcommand's getopt_long table with the key
 * options spliced in, so each subcommand lists only its own options. */
#ifndef ECFS_CLI_OPTS_H
#define ECFS_CLI_OPTS_H

#include <getopt.h>
#include <string.h>

#include "cli.h"

#define OPT_TABLE_MAX 48

/* Concatenate own (NULL-terminated) with the key options when with_keys. */
static inline void opt_table(struct option *out, const struct option *own, int with_keys)
{
	size_t n = 0;

	for (; own[n].name; n++)
		out[n] = own[n];
	if (with_keys)
		for (size_t i = 0; i < key_long_opts_count; i++)
			out[n++] = key_long_opts[i];
	memset(&out[n], 0, sizeof(out[n]));
}

#endif
