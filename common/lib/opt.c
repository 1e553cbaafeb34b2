// SPDX-License-Identifier: MIT
/* opt.c - the command-line parser behind ob/opt.h.
 *
 * Written out instead of wrapping getopt_long() for two reasons: getopt
 * accepts any unique abbreviation, which turned "--passphrase SECRET" into
 * --passphrase-file and echoed the secret in the error; and its tables have
 * no room for help text, so each program kept a second, drifting copy.
 * The grammar otherwise follows GNU getopt_long, permutation included.
 */
#include "ob/opt.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define HELP_COLUMN 28

static int usage_status(const struct ob_cmd *cmd)
{
	return cmd->usage_status ? cmd->usage_status : 2;
}

int ob_opt_usage(const struct ob_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", cmd->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", cmd->prog);
	return usage_status(cmd);
}

/* ---- lookup ---- */

#define for_each_opt(cmd, t, o) \
	for (const struct ob_opt *const *t = (cmd)->tables; *t; t++) \
		for (const struct ob_opt *o = *t; o->name || o->help; o++)

static const struct ob_opt *find_exact(const struct ob_cmd *cmd, const char *name, size_t len)
{
	for_each_opt(cmd, t, o)
		if (o->name && strlen(o->name) == len && !strncmp(o->name, name, len))
			return o;
	return NULL;
}

static const struct ob_opt *find_short(const struct ob_cmd *cmd, int c)
{
	for_each_opt(cmd, t, o)
		if (o->name && o->short_name == c)
			return o;
	return NULL;
}

/* Exact match first, then a unique prefix among options that allow one.
 * *ambiguous is set when several options share the prefix. */
static const struct ob_opt *find_long(const struct ob_cmd *cmd, const char *name, size_t len,
				      bool *ambiguous)
{
	const struct ob_opt *hit = find_exact(cmd, name, len);

	*ambiguous = false;
	if (hit)
		return hit;
	for_each_opt(cmd, t, o) {
		if (!o->name || (o->flags & OB_OPT_EXACT) || strncmp(o->name, name, len))
			continue;
		if (hit && hit->key != o->key) {
			*ambiguous = true;
			return NULL;
		}
		hit = o;
	}
	return hit;
}

/* ---- --help ---- */

static void print_indented(FILE *f, const char *text, int indent)
{
	for (const char *p = text; *p; ) {
		const char *nl = strchr(p, '\n');
		int n = nl ? (int)(nl - p) : (int)strlen(p);

		if (p != text)
			fprintf(f, "%*s", indent, "");
		fprintf(f, "%.*s\n", n, p);
		p += n + (nl ? 1 : 0);
	}
}

void ob_opt_print_table(const struct ob_opt *table, FILE *f)
{
	for (const struct ob_opt *o = table; o->name || o->help; o++) {
		char left[96];
		int n;

		if (!o->name) {
			fprintf(f, "\n%s\n", o->help);
			continue;
		}
		if (o->flags & OB_OPT_HIDDEN)
			continue;
		if (o->short_name)
			n = snprintf(left, sizeof(left), "-%c, --%s%s%s", o->short_name, o->name,
				     o->arg ? " " : "", o->arg ? o->arg : "");
		else
			n = snprintf(left, sizeof(left), "    --%s%s%s", o->name,
				     o->arg ? " " : "", o->arg ? o->arg : "");
		if (!o->help || !*o->help) {
			fprintf(f, "  %s\n", left);
			continue;
		}
		if (n > HELP_COLUMN)
			fprintf(f, "  %s\n%*s", left, HELP_COLUMN + 3, "");
		else
			fprintf(f, "  %-*s ", HELP_COLUMN, left);
		print_indented(f, o->help, HELP_COLUMN + 3);
	}
}

static bool claims_help(const struct ob_cmd *cmd, bool is_short)
{
	return is_short ? find_short(cmd, 'h') != NULL : find_exact(cmd, "help", 4) != NULL;
}

void ob_opt_help(const struct ob_cmd *cmd, FILE *f)
{
	fputs("Usage: ", f);
	print_indented(f, cmd->synopsis ? cmd->synopsis : cmd->prog, 7);
	if (cmd->about) {
		fputc('\n', f);
		print_indented(f, cmd->about, 0);
	}
	if (cmd->tables[0]) {
		fputs("\nOptions:\n", f);
		for (const struct ob_opt *const *t = cmd->tables; *t; t++)
			ob_opt_print_table(*t, f);
		if (!claims_help(cmd, false))
			fprintf(f, "  %-*s %s\n", HELP_COLUMN, "-h, --help", "show this help");
	}
	if (cmd->epilog) {
		fputc('\n', f);
		print_indented(f, cmd->epilog, 0);
	}
}

/* ---- argv ---- */

struct parse {
	const struct ob_cmd *cmd;
	int argc;
	char **argv;
	int i;			/* next argv index */
	ob_opt_fn fn;
	void *ctx;
};

/* Hand one option to the callback, or handle an unclaimed --help. */
static int deliver(struct parse *p, const struct ob_opt *o, const char *arg)
{
	return p->fn(p->cmd, o, arg, p->ctx);
}

static int long_option(struct parse *p, const char *word, int *help)
{
	const char *name = word + 2;
	const char *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	const struct ob_opt *o;
	bool ambiguous;

	o = find_long(p->cmd, name, len, &ambiguous);
	if (!o && len && !strncmp("help", name, len) && len <= 4 && !ambiguous &&
	    !claims_help(p->cmd, false)) {
		*help = 1;
		return 0;
	}
	if (ambiguous)
		return ob_opt_usage(p->cmd, "option '--%.*s' is ambiguous", (int)len, name);
	if (!o)
		return ob_opt_usage(p->cmd, "unrecognized option '--%.*s'", (int)len, name);
	if (!o->arg) {
		if (eq)
			return ob_opt_usage(p->cmd, "option '--%s' doesn't allow an argument",
					    o->name);
		return deliver(p, o, NULL);
	}
	if (eq)
		return deliver(p, o, eq + 1);
	if (p->i >= p->argc)
		return ob_opt_usage(p->cmd, "option '--%s' requires an argument", o->name);
	return deliver(p, o, p->argv[p->i++]);
}

static int short_options(struct parse *p, const char *word, int *help)
{
	for (const char *c = word + 1; *c; c++) {
		const struct ob_opt *o = find_short(p->cmd, (unsigned char)*c);
		int rc;

		if (!o) {
			if (*c == 'h' && !claims_help(p->cmd, true)) {
				*help = 1;
				return 0;
			}
			return ob_opt_usage(p->cmd, "invalid option -- '%c'", *c);
		}
		if (!o->arg) {
			rc = deliver(p, o, NULL);
			if (rc)
				return rc;
			continue;
		}
		if (c[1])
			return deliver(p, o, c + 1);
		if (p->i >= p->argc)
			return ob_opt_usage(p->cmd, "option requires an argument -- '%c'", *c);
		return deliver(p, o, p->argv[p->i++]);
	}
	return 0;
}

static int check_operands(const struct ob_cmd *cmd, int n, char **operands)
{
	if (n < cmd->operands_min)
		return ob_opt_usage(cmd, "missing operand");
	if (cmd->operands_max >= 0 && n > cmd->operands_max)
		return ob_opt_usage(cmd, "extra operand '%s'", operands[cmd->operands_max]);
	return 0;
}

int ob_opt_parse(const struct ob_cmd *cmd, int argc, char **argv, ob_opt_fn fn,
		 void *ctx, int *status)
{
	struct parse p = { cmd, argc, argv, 1, fn, ctx };
	int *operands = calloc((size_t)argc + 1, sizeof(*operands));
	char **operand_words = calloc((size_t)argc + 1, sizeof(*operand_words));
	int nops = 0, help = 0, rc = 0, first;

	if (!operands || !operand_words) {
		free(operands);
		free(operand_words);
		fprintf(stderr, "%s: out of memory\n", cmd->prog);
		*status = 1;
		return -1;
	}
	while (p.i < argc && !rc && !help) {
		char *word = argv[p.i];

		if (word[0] != '-' || !word[1]) {
			if (cmd->flags & OB_CMD_STOP_AT_OPERAND)
				break;
			operand_words[nops] = word;
			operands[nops++] = p.i++;
			continue;
		}
		p.i++;
		if (!strcmp(word, "--"))
			break;
		rc = word[1] == '-' ? long_option(&p, word, &help) : short_options(&p, word, &help);
	}
	if (help) {
		ob_opt_help(cmd, stdout);
		rc = 0;
		goto out_exit;
	}
	if (rc)
		goto out_exit;

	/* Options first, then the operands in order, as getopt leaves them. */
	first = p.i - nops;
	{
		int w = 1, k = 0;

		for (int j = 1; j < p.i; j++) {
			if (k < nops && operands[k] == j)
				k++;
			else
				argv[w++] = argv[j];
		}
		for (k = 0; k < nops; k++)
			argv[first + k] = operand_words[k];
	}
	if (!(cmd->flags & OB_CMD_STOP_AT_OPERAND)) {
		rc = check_operands(cmd, argc - first, argv + first);
		if (rc)
			goto out_exit;
	}
	free(operands);
	free(operand_words);
	return first;

out_exit:
	free(operands);
	free(operand_words);
	*status = rc;
	return -1;
}

/* ---- "a,b=1,c" ---- */

int ob_opt_parse_list(const struct ob_cmd *cmd, const char *list, ob_opt_fn fn,
		      int (*unknown)(const struct ob_cmd *cmd, const char *name,
				     const char *value, void *ctx),
		      void *ctx)
{
	char *copy = strdup(list), *save = NULL;
	int rc = 0;

	if (!copy) {
		fprintf(stderr, "%s: out of memory\n", cmd->prog);
		return 1;
	}
	for (char *tok = strtok_r(copy, ",", &save); tok && !rc; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		const struct ob_opt *o;

		if (eq)
			*eq = '\0';
		o = find_exact(cmd, tok, strlen(tok));
		if (!o) {
			rc = unknown ? unknown(cmd, tok, eq ? eq + 1 : NULL, ctx)
				     : ob_opt_usage(cmd, "unknown option '%s'", tok);
			continue;
		}
		if (o->arg && !eq)
			rc = ob_opt_usage(cmd, "option '%s' needs a value (%s=%s)", tok, tok, o->arg);
		else if (!o->arg && eq)
			rc = ob_opt_usage(cmd, "option '%s' takes no value", tok);
		else
			rc = fn(cmd, o, eq ? eq + 1 : NULL, ctx);
	}
	explicit_bzero(copy, strlen(list));
	free(copy);
	return rc;
}

/* ---- values ---- */

int ob_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int ob_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;
	int shift = 0;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	}
	if (shift && end[0] == 'i' && end[1] == 'B')
		end += 2;
	else if (*end == 'B')
		end++;
	if (*end || (shift && v > (~0ull >> shift)))
		return -EINVAL;
	v <<= shift;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int ob_parse_time_ms(const char *s, bool forever_ok, int64_t *out_ms)
{
	char *end;
	double v;

	if (!s)
		return -EINVAL;
	if (forever_ok && !strcmp(s, "forever")) {
		*out_ms = -1;
		return 0;
	}
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v))
		return -EINVAL;
	if (!strcmp(end, "ms"))
		v /= 1000;
	else if (*end && strcmp(end, "s"))
		return -EINVAL;
	if (v * 1000 > 86400000.0)
		return -ERANGE;
	*out_ms = (int64_t)(v * 1000 + 0.5);
	return 0;
}
