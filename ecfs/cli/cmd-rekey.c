/* cmd-rekey.c - "ecfs rekey": add or remove keys in every header of a tree.
 *
 * No data is re-encrypted: each file keeps its FEK and gets a new packet
 * list (lib/rekey.c replaces a header in one atomic write), so revoking a
 * key is a pass over the headers, and an interrupted run leaves every file
 * with either its old key set or its new one; run it again to finish.
 * The key options open the files; --add-* name the keys to add, --remove
 * the signatures/key ids to drop (as ecfs info prints them).
 */
#include "cli.h"
#include "cli-opts.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
	OPT_ADD_PASS = 'A',
	OPT_ADD_RSA = 'R',
	OPT_REMOVE = 'r',
	OPT_DRY = 'n',
	OPT_PROGRESS = 'p',
	OPT_ADD_GPG = 2000,
	OPT_ADD_TPM,
};

static const char rekey_help[] =
	"usage: ecfs rekey [KEY OPTIONS] [--add-key-file F]... [--add-rsa PEM]...\n"
	"                  [--remove SIG]... [--dry-run] [--progress] LOWER...\n\n"
	"Add keys to, or remove keys from, the header of every eCryptfs file under\n"
	"LOWER, without re-encrypting data.  The key options must open the files.\n"
	"Each header is replaced in one atomic write: an interrupted run leaves every\n"
	"file readable by the keys it had or the keys it will have; run it again.\n\n"
	"  --add-key-file F          add a passphrase or key file (Tag 3; repeatable)\n"
	"  --add-passphrase-file F   the same\n"
	"  --add-gpg-key F           add a GPG-wrapped key file's key\n"
	"  --add-tpm-key F           add a TPM-sealed key file's key\n"
	"  --add-rsa PEM             add an RSA public key (Tag 1, e.g. an escrow key)\n"
	"  --remove SIG              remove the packet(s) with this key signature or\n"
	"                            RSA key id (16 hex digits; see ecfs info)\n"
	"  -n, --dry-run             say what would change, write nothing\n"
	"  -p, --progress            a progress line on stderr\n\n";

struct rekey_job {
	struct ecfs_keys open, add;
	struct ecfs_rekey rk;
	bool progress, dry;
	unsigned long total, done, changed, same, plain, failed;
};

static struct rekey_job *job;	/* nftw has no user pointer */

static int count_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
	if (type == FTW_F && S_ISREG(st->st_mode))
		job->total++;
	return 0;
}

static int rekey_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
	struct ob_err err = { 0 };
	bool changed = false;
	int fd, rc;

	if (type != FTW_F || !S_ISREG(st->st_mode))
		return 0;
	job->done++;
	fd = open(path, (job->dry ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		ob_err_set(&err, -errno, "open");
		rc = err.code;
	} else {
		rc = ecfs_rekey_fd(fd, &job->rk, &changed, &err);
		close(fd);
	}
	if (rc == -ENODATA) {
		job->plain++;
	} else if (rc) {
		job->failed++;
		cli_error(path, &err);
	} else if (changed) {
		job->changed++;
		if (job->dry)
			printf("would change: %s\n", path);
	} else {
		job->same++;
	}
	if (job->progress)
		fprintf(stderr, "\rrekey: %lu/%lu files", job->done, job->total);
	return 0;
}

int cmd_rekey(int argc, char **argv)
{
	static const struct option own[] = {
		{ "add-key-file", required_argument, NULL, OPT_ADD_PASS },
		{ "add-passphrase-file", required_argument, NULL, OPT_ADD_PASS },
		{ "add-gpg-key", required_argument, NULL, OPT_ADD_GPG },
		{ "add-tpm-key", required_argument, NULL, OPT_ADD_TPM },
		{ "add-rsa", required_argument, NULL, OPT_ADD_RSA },
		{ "remove", required_argument, NULL, OPT_REMOVE },
		{ "dry-run", no_argument, NULL, OPT_DRY },
		{ "progress", no_argument, NULL, OPT_PROGRESS },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct option opts[OPT_TABLE_MAX];
	struct key_opts ko = { 0 }, ka = { 0 };
	struct ecfs_keychain ck = { 0 }, ca = { 0 };
	uint8_t remove[16][ECFS_SIG_BYTES];
	struct rekey_job j = { 0 };
	struct ob_err err = { 0 };
	int c, status = EXIT_OK;

	opt_table(opts, own, 1);
	while ((c = getopt_long(argc, argv, "hnp", opts, NULL)) != -1) {
		int k = key_opts_handle(&ko, c, optarg);

		if (k > 0)
			continue;
		if (k < 0)
			return EXIT_USAGE;
		switch (c) {
		case OPT_ADD_PASS:
			if (key_opts_handle(&ka, KEY_OPT_PK_BASE + 0, optarg) < 0)
				return EXIT_USAGE;
			break;
		case OPT_ADD_GPG:
			if (key_opts_handle(&ka, KEY_OPT_PK_BASE + 2, optarg) < 0)
				return EXIT_USAGE;
			break;
		case OPT_ADD_TPM:
			if (key_opts_handle(&ka, KEY_OPT_PK_BASE + 3, optarg) < 0)
				return EXIT_USAGE;
			break;
		case OPT_ADD_RSA:
			if (key_opts_handle(&ka, KEY_OPT_PK_BASE + 5, optarg) < 0)
				return EXIT_USAGE;
			break;
		case OPT_REMOVE:
			if (j.rk.nremove == 16 || ecfs_sig_from_hex(optarg, remove[j.rk.nremove])) {
				cli_msg("--remove %s: a key signature is 16 hex digits (at most 16)", optarg);
				return EXIT_USAGE;
			}
			j.rk.nremove++;
			break;
		case OPT_DRY:
			j.dry = true;
			break;
		case OPT_PROGRESS:
			j.progress = true;
			break;
		case 'h':
			printf("%s%s", rekey_help, key_opts_help);
			return EXIT_OK;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		cli_msg("rekey: no lower directory given (see ecfs rekey --help)");
		return EXIT_USAGE;
	}
	if (!ka.nkey_files && !ka.ngpg_keys && !ka.ntpm_keys && !ka.nrsa && !j.rk.nremove) {
		cli_msg("rekey: nothing to do (give --add-* or --remove)");
		return EXIT_USAGE;
	}
	ko.lower = argv[optind];
	if (cli_keys_load(&ko, NULL, 0, &ck, &err)) {
		cli_error(NULL, &err);
		return EXIT_FAIL;
	}
	if (ka.nkey_files || ka.ngpg_keys || ka.ntpm_keys || ka.nrsa) {
		/* Added passphrase keys use the salt the opening keys use. */
		ka.salt_hex = ko.salt_hex;
		ka.rc_path = ko.rc_path;
		ka.tcti = ko.tcti;
		ka.rsa_pass = ko.rsa_pass;
		ka.no_keys_dir = true;
		if (cli_keys_load(&ka, NULL, 0, &ca, &err)) {
			cli_error("--add", &err);
			ecfs_keychain_free(&ck);
			return EXIT_FAIL;
		}
	}
	j.open = ecfs_keychain_keys(&ck);
	j.add = ecfs_keychain_keys(&ca);
	j.rk.open_keys = &j.open;
	j.rk.add = &j.add;
	j.rk.remove = (const uint8_t (*)[ECFS_SIG_BYTES])remove;
	j.rk.dry_run = j.dry;
	job = &j;
	for (int i = optind; i < argc && j.progress; i++)
		nftw(argv[i], count_one, 32, FTW_PHYS);
	for (int i = optind; i < argc; i++)
		if (nftw(argv[i], rekey_one, 32, FTW_PHYS)) {
			cli_msg("%s: %s", argv[i], strerror(errno));
			status = EXIT_FAIL;
		}
	if (j.progress)
		fputc('\n', stderr);
	printf("rekey: %lu file%s %s, %lu unchanged, %lu not eCryptfs, %lu failed\n",
	       j.changed, j.changed == 1 ? "" : "s", j.dry ? "would change" : "changed",
	       j.same, j.plain, j.failed);
	if (j.failed)
		status = EXIT_FAIL;
	ecfs_keychain_free(&ca);
	ecfs_keychain_free(&ck);
	return status;
}
