// SPDX-License-Identifier: MIT
/* test-opt.c - the shared option parser: grammar, permutation, abbreviations,
 * secret options, usage errors, --help and the value parsers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "ob/opt.h"

enum { K_FILE = 256, K_VERBOSE, K_PASSFILE, K_PORT, K_PASSWORD_HINT };

static const struct ob_opt own[] = {
	{ "file", 'f', K_FILE, "FILE", "read from FILE", 0 },
	{ "verbose", 'v', K_VERBOSE, NULL, "say more\nand more", 0 },
	{ "port", 'p', K_PORT, "PORT", "listen on PORT", 0 },
	{ OB_OPT_END },
};
static const struct ob_opt keys[] = {
	{ OB_OPT_HEADING("Key options:") },
	{ "passphrase-file", 0, K_PASSFILE, "F", "the passphrase", OB_OPT_EXACT },
	{ "password-hint", 0, K_PASSWORD_HINT, "TEXT", "a hint", 0 },
	{ OB_OPT_END },
};
static const struct ob_opt *const tables[] = { own, keys, NULL };
static const struct ob_cmd cmd = {
	.prog = "prog sub", .synopsis = "prog sub [OPTION]... A [B]",
	.tables = tables, .operands_min = 1, .operands_max = 2,
};

struct seen {
	char log[512];
};

static int record(const struct ob_cmd *c, const struct ob_opt *o, const char *arg, void *ctx)
{
	struct seen *s = ctx;
	size_t n = strlen(s->log);

	if (o->key == K_PORT && arg && !strcmp(arg, "bad"))
		return ob_opt_usage(c, "--port: bad");
	snprintf(s->log + n, sizeof(s->log) - n, "%s=%s;", o->name, arg ? arg : "-");
	return 0;
}

/* Run the parser with stderr sent to a buffer. */
static int parse(char **argv, struct seen *s, int *status, char *err, size_t errlen)
{
	int argc = 0, rc, saved = dup(2);
	FILE *tmp = tmpfile();

	while (argv[argc])
		argc++;
	memset(s, 0, sizeof(*s));
	fflush(stderr);
	dup2(fileno(tmp), 2);
	rc = ob_opt_parse(&cmd, argc, argv, record, s, status);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	err[fread(err, 1, errlen - 1, tmp)] = '\0';
	fclose(tmp);
	return rc;
}

static void test_grammar_and_permutation(void **state)
{
	char *argv[] = { "prog", "A", "-vf", "x", "--port=9", "B", "--file", "y", NULL };
	struct seen s;
	char err[256];
	int status = -1;
	int first = parse(argv, &s, &status, err, sizeof(err));

	assert_int_equal(first, 6);
	assert_string_equal(s.log, "verbose=-;file=x;port=9;file=y;");
	assert_string_equal(argv[6], "A");
	assert_string_equal(argv[7], "B");
	assert_string_equal(err, "");
}

static void test_double_dash_ends_options(void **state)
{
	char *argv[] = { "prog", "-v", "--", "-f", NULL };
	struct seen s;
	char err[256];
	int status = -1;
	int first = parse(argv, &s, &status, err, sizeof(err));

	assert_int_equal(first, 3);
	assert_string_equal(argv[3], "-f");
	assert_string_equal(s.log, "verbose=-;");
}

static void test_abbreviation_but_not_of_secrets(void **state)
{
	char *ok[] = { "prog", "--verb", "--pass=h", "A", NULL };
	char *secret[] = { "prog", "--passphrase", "SECRET", "A", NULL };
	struct seen s;
	char err[256];
	int status = -1;

	/* "--pass" matches only the hint: the secret option takes no prefix. */
	assert_int_equal(parse(ok, &s, &status, err, sizeof(err)), 3);
	assert_string_equal(s.log, "verbose=-;password-hint=h;");

	assert_int_equal(parse(secret, &s, &status, err, sizeof(err)), -1);
	assert_int_equal(status, 2);
	assert_string_equal(s.log, "");
	assert_non_null(strstr(err, "prog sub: unrecognized option '--passphrase'"));
	assert_null(strstr(err, "SECRET"));
}

static void test_usage_errors(void **state)
{
	char *unknown[] = { "prog", "--nope=1", "A", NULL };
	char *noarg[] = { "prog", "A", "--file", NULL };
	char *extra[] = { "prog", "A", "B", "C", NULL };
	char *missing[] = { "prog", "-v", NULL };
	char *flagval[] = { "prog", "--verbose=1", "A", NULL };
	char *cb[] = { "prog", "-p", "bad", "A", NULL };
	struct seen s;
	char err[256];
	int status;

	assert_int_equal(parse(unknown, &s, &status, err, sizeof(err)), -1);
	assert_string_equal(err, "prog sub: unrecognized option '--nope'\nTry 'prog sub --help'.\n");
	assert_int_equal(parse(noarg, &s, &status, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "option '--file' requires an argument"));
	assert_int_equal(parse(extra, &s, &status, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "extra operand 'C'"));
	assert_int_equal(parse(missing, &s, &status, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "missing operand"));
	assert_int_equal(parse(flagval, &s, &status, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "doesn't allow an argument"));
	assert_int_equal(parse(cb, &s, &status, err, sizeof(err)), -1);
	assert_int_equal(status, 2);
	assert_non_null(strstr(err, "prog sub: --port: bad"));
}

static void test_help_lists_every_table(void **state)
{
	char buf[2048] = "";
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	ob_opt_help(&cmd, f);
	fclose(f);
	assert_non_null(strstr(buf, "Usage: prog sub [OPTION]... A [B]\n"));
	assert_non_null(strstr(buf, "  -f, --file FILE              read from FILE\n"));
	assert_non_null(strstr(buf, "say more\n                               and more\n"));
	assert_non_null(strstr(buf, "\nKey options:\n"));
	assert_non_null(strstr(buf, "--passphrase-file F"));
	assert_non_null(strstr(buf, "-h, --help"));
}

static int list_unknown(const struct ob_cmd *c, const char *name, const char *value, void *ctx)
{
	return strcmp(name, "allow_other") ? ob_opt_usage(c, "unknown option '%s'", name) : 0;
}

static void test_option_list(void **state)
{
	struct seen s;

	memset(&s, 0, sizeof(s));
	assert_int_equal(ob_opt_parse_list(&cmd, "verbose,file=a,allow_other", record,
					   list_unknown, &s), 0);
	assert_string_equal(s.log, "verbose=-;file=a;");
	assert_int_equal(ob_opt_parse_list(&cmd, "file", record, NULL, &s), 2);
	assert_int_equal(ob_opt_parse_list(&cmd, "verb", record, NULL, &s), 2);
}

static void test_values(void **state)
{
	uint64_t v;
	int64_t ms;

	assert_int_equal(ob_parse_uint("42", 1, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(ob_parse_uint("0", 1, 100, &v), -ERANGE);
	assert_int_equal(ob_parse_uint("-1", 0, 100, &v), -EINVAL);
	assert_int_equal(ob_parse_uint("4k", 0, 100, &v), -EINVAL);
	assert_int_equal(ob_parse_size("64K", 0, UINT64_MAX, &v), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(ob_parse_size("1MiB", 0, UINT64_MAX, &v), 0);
	assert_int_equal(v, 1 << 20);
	assert_int_equal(ob_parse_size("2G", 0, 1 << 30, &v), -ERANGE);
	assert_int_equal(ob_parse_size("1X", 0, UINT64_MAX, &v), -EINVAL);
	assert_int_equal(ob_parse_size("99999999999T", 0, UINT64_MAX, &v), -EINVAL);
	assert_int_equal(ob_parse_time_ms("500ms", false, &ms), 0);
	assert_int_equal(ms, 500);
	assert_int_equal(ob_parse_time_ms("1.5", false, &ms), 0);
	assert_int_equal(ms, 1500);
	assert_int_equal(ob_parse_time_ms("forever", true, &ms), 0);
	assert_int_equal(ms, -1);
	assert_int_equal(ob_parse_time_ms("forever", false, &ms), -EINVAL);
	assert_int_equal(ob_parse_time_ms("2d", false, &ms), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grammar_and_permutation),
		cmocka_unit_test(test_double_dash_ends_options),
		cmocka_unit_test(test_abbreviation_but_not_of_secrets),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_help_lists_every_table),
		cmocka_unit_test(test_option_list),
		cmocka_unit_test(test_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
