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

/* Append extra (NULL-terminated) to a table opt_table built. */
static inline void opt_table_add(struct option *out, const struct option *extra)
{
	size_t n = 0;

	while (out[n].name)
		n++;
	for (size_t i = 0; extra[i].name; i++)
		out[n++] = extra[i];
	memset(&out[n], 0, sizeof(out[n]));
}

/* --cipher, --key-bytes, --fn-cipher, --fn-key-bytes (cipher-opts.c). */
#define CIPHER_OPT_BASE 1200
struct cipher_opts {
	const char *cipher, *fn_cipher;		/* NULL: aes; the content's */
	size_t key_bytes, fn_key_bytes;		/* 0: the cipher's default; the content's */
};
struct cipher_choice {
	const struct ecfs_cipher_info *cipher, *fn_cipher;
	size_t key_bytes, fn_key_bytes;
};
extern const struct option cipher_long_opts[];
extern const char cipher_opts_help[];
/* 1: opt was one of ours, 0: not, -1: bad value (printed). */
int cipher_opts_handle(struct cipher_opts *co, int opt, const char *arg);
/* Look the names up; -1 after printing why. */
int cipher_opts_resolve(const struct cipher_opts *co, struct cipher_choice *out);

#endif
