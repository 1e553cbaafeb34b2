// SPDX-License-Identifier: MIT
/* cmd-keyfile.c - "ecfs keyfile": make, wrap, unwrap and identify key files.
 *
 * A key file is a random passphrase-equivalent key (lib/gpg.c explains
 * why): 64 hex digits and a newline.  create writes one, plain (mode 0600),
 * wrapped to GnuPG recipients, or sealed by the TPM, so a plain copy never
 * needs to touch the disk.  unwrap prints the key for the kernel:
 *     ecfs keyfile unwrap --tpm-key k.tpm | ecryptfs-add-passphrase -
 * id prints the key signature of every key given (and RSA key ids), the
 * values ecfs info shows and ecfs rekey --remove takes.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ob/secmem.h"

enum { OPT_TPM = 3000, OPT_PCRS, OPT_OUT };

static const char keyfile_help[] =
	"usage: ecfs keyfile create [--gpg-recipient ID]... [--tpm [--pcrs LIST]] OUT\n"
	"       ecfs keyfile wrap (--gpg-recipient ID... | --tpm [--pcrs LIST]) IN OUT\n"
	"       ecfs keyfile unwrap (--gpg-key F | --tpm-key F | --key-file F)\n"
	"       ecfs keyfile id [KEY OPTIONS]\n\n"
	"create  a new random key file OUT (refuses to overwrite): plain (mode 0600),\n"
	"        wrapped to GnuPG recipients, or sealed by this machine's TPM 2.0\n"
	"        (--pcrs 0,7: only while those SHA-256 PCRs hold today's values)\n"
	"wrap    wrap an existing key or passphrase file the same way\n"
	"unwrap  print the key (e.g. | ecryptfs-add-passphrase - for the kernel)\n"
	"id      print the key signature or RSA key id of every key given\n\n";

static int parse_pcrs(const char *s, uint32_t *mask)
{
	char *end;

	*mask = 0;
	while (*s) {
		unsigned long n = strtoul(s, &end, 10);

		if (end == s || n > 23 || (*end && *end != ','))
			return -1;
		*mask |= 1u << n;
		s = *end ? end + 1 : end;
	}
	return *mask ? 0 : -1;
}

static int write_new(const char *path, const void *buf, size_t len, mode_t mode,
		     struct ob_err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);

	if (fd < 0)
		return ob_err_set(err, -errno, "creating %s", path);
	if (write(fd, buf, len) != (ssize_t)len || fsync(fd)) {
		int e = -errno;

		close(fd);
		unlink(path);
		return ob_err_set(err, e, "writing %s", path);
	}
	close(fd);
	return 0;
}

/* Write secret (len bytes) to out: plain, GPG-wrapped or TPM-sealed. */
static int store(const struct key_opts *ko, bool tpm, uint32_t pcrs, const char *secret,
		 size_t len, const char *out, struct ob_err *err)
{
	uint8_t *blob = NULL;
	size_t blen = 0;
	int rc;

	if (ko->ngpg_recipients)
		rc = ecfs_gpg_encrypt((const uint8_t *)secret, len, ko->gpg_recipients,
				      (size_t)ko->ngpg_recipients, &blob, &blen, err);
	else if (tpm)
		rc = ecfs_tpm_seal(ko->tcti, (const uint8_t *)secret, len, pcrs, &blob, &blen, err);
	else
		return write_new(out, secret, len, 0600, err);
	if (!rc)
		rc = write_new(out, blob, blen, 0644, err);
	free(blob);
	return rc;
}

static int print_ids(struct key_opts *ko)
{
	struct ecfs_keychain ck;
	struct ob_err err = { 0 };
	char hex[ECFS_SIG_HEX];

	ko->no_keys_dir = ko->lower == NULL && ko->keys_dir == NULL;
	if (cli_keys_load(ko, NULL, 0, &ck, &err)) {
		cli_error(NULL, &err);
		return EXIT_FAIL;
	}
	for (size_t i = 0; i < ecfs_keyset_count(ck.keys); i++) {
		ecfs_sig_to_hex(ecfs_keyset_get(ck.keys, i)->sig, hex);
		printf("passphrase key %s\n", hex);
	}
	for (size_t i = 0; i < ck.npub; i++) {
		ecfs_sig_to_hex(ecfs_pubkey_id(ck.pub[i]), hex);
		printf("rsa key %s (%zu bits, %s)\n", hex, ecfs_pubkey_bytes(ck.pub[i]) * 8,
		       ecfs_pubkey_has_private(ck.pub[i]) ? "private" : "public");
	}
	ecfs_keychain_free(&ck);
	return EXIT_OK;
}

static const struct ob_opt keyfile_opts[] = {
	{ "tpm", 0, OPT_TPM, NULL, NULL, 0 },
	{ "pcrs", 0, OPT_PCRS, "LIST", NULL, 0 },
	{ OB_OPT_END },
};

struct keyfile_args {
	bool tpm;
	uint32_t pcrs;
};

static int keyfile_opt(const struct ob_cmd *cmd, const struct ob_opt *opt, const char *arg,
		       void *ctx)
{
	struct keyfile_args *a = ctx;

	if (opt->key == OPT_TPM) {
		a->tpm = true;
	} else if (parse_pcrs(arg, &a->pcrs)) {
		cli_msg("--pcrs %s: expected PCR numbers 0..23, comma separated", arg);
		return EXIT_USAGE;
	}
	return 0;
}

int cmd_keyfile(int argc, char **argv)
{
	struct keyfile_args a = { 0 };
	struct key_opts ko = { 0 };
	const struct cli_cmd cmd = {
		.prog = "ecfs keyfile", .help = keyfile_help, .own = keyfile_opts, .ko = &ko,
		.fn = keyfile_opt, .ctx = &a,
	};
	struct ob_err err = { 0 };
	struct secret s = { 0 };
	char key[ECFS_KEYFILE_CHARS + 2];
	bool tpm;
	uint32_t pcrs;
	const char *sub;
	int first, rc;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		printf("%s", keyfile_help);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	sub = argv[1];
	argc--;
	argv++;
	first = cli_parse(&cmd, argc, argv, &rc);
	if (first < 0)
		return rc;
	tpm = a.tpm;
	pcrs = a.pcrs;
	if (tpm && ko.ngpg_recipients) {
		cli_msg("keyfile: --tpm and --gpg-recipient exclude each other (make two key files)");
		return EXIT_USAGE;
	}
	if (!strcmp(sub, "id"))
		return print_ids(&ko);
	if (!strcmp(sub, "create") && argc - first == 1) {
		rc = ecfs_keyfile_generate(key, &err);
		if (!rc) {
			strcat(key, "\n");
			rc = store(&ko, tpm, pcrs, key, ECFS_KEYFILE_CHARS + 1, argv[first], &err);
		}
		ob_wipe(key, sizeof(key));
		if (rc) {
			cli_error(argv[first], &err);
			return EXIT_FAIL;
		}
		return EXIT_OK;
	}
	if (!strcmp(sub, "wrap") && argc - first == 2) {
		struct secret_source src = { .file = argv[first] };

		if (!tpm && !ko.ngpg_recipients) {
			cli_msg("keyfile wrap: give --gpg-recipient ID or --tpm");
			return EXIT_USAGE;
		}
		rc = secret_read(&src, NULL, &s, &err);
		if (!rc) {
			s.buf[s.len++] = '\n';
			rc = store(&ko, tpm, pcrs, s.buf, s.len, argv[first + 1], &err);
		}
		secret_free(&s);
		if (rc) {
			cli_error(argv[first + 1], &err);
			return EXIT_FAIL;
		}
		return EXIT_OK;
	}
	if (!strcmp(sub, "unwrap") && argc == first && key_opts_ext_count(&ko) == 1) {
		rc = key_opts_ext_secret(&ko, 0, &s, &err);
		if (rc) {
			cli_error(NULL, &err);
			return EXIT_FAIL;
		}
		if (isatty(STDOUT_FILENO))
			cli_msg("keyfile unwrap: printing a key to a terminal");
		rc = printf("%s\n", s.buf) < 0;
		key_opts_ext_free(&ko, 0, &s);
		return rc ? EXIT_FAIL : EXIT_OK;
	}
	cli_msg("keyfile: expected create OUT, wrap IN OUT, unwrap with one key option, or id "
		"(see ecfs keyfile --help)");
	return EXIT_USAGE;
}
