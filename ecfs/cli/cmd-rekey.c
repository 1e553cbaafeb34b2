// SPDX-License-Identifier: MIT
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
#include "walk.h"

#include <errno.h>
#include <fcntl.h>
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

/* One regular file, name in dfd; path is what messages call it. */
static void rekey_one(struct rekey_job *job, int dfd, const char *name, const char *path)
{
	struct ob_err err = { 0 };
	bool changed = false;
	int fd, rc;

	job->done++;
	fd = openat(dfd, name, (job->dry ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOFOLLOW);
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
}

struct rekey_walk {
	struct rekey_job *job;
	const char *root;
	bool count;		/* only count the files (--progress) */
};

static int rekey_visit(const struct walk_entry *e, void **child, void *ctx)
{
	struct rekey_walk *w = ctx;
	char *path;

	if (!e->st || !S_ISREG(e->st->st_mode))
		return 0;
	if (w->count) {
		w->job->total++;
		return 0;
	}
	if (asprintf(&path, "%s/%s", w->root, e->path) < 0)
		return -ENOMEM;
	rekey_one(w->job, e->dfd, e->name, path);
	free(path);
	return 0;
}

/* Every regular file under root (or root itself): 0 or -errno. */
static int rekey_tree(struct rekey_job *job, const char *root, bool count)
{
	static const struct walk_ops ops = { .visit = rekey_visit };
	struct rekey_walk w = { job, root, count };
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;

	if (fd >= 0)
		return walk_tree(fd, NULL, &ops, &w);
	if (errno != ENOTDIR)
		return -errno;
	if (lstat(root, &st))
		return -errno;
	if (S_ISREG(st.st_mode)) {
		if (count)
			job->total++;
		else
			rekey_one(job, AT_FDCWD, root, root);
	}
	return 0;
}

/* --add-*: the key options of the keys to add, into their own key_opts. */
static const struct ob_opt rekey_opts[] = {
	{ "add-key-file", 0, OPT_ADD_PASS, "F", NULL, OB_OPT_EXACT },
	{ "add-passphrase-file", 0, OPT_ADD_PASS, "F", NULL, OB_OPT_EXACT },
	{ "add-gpg-key", 0, OPT_ADD_GPG, "F", NULL, OB_OPT_EXACT },
	{ "add-tpm-key", 0, OPT_ADD_TPM, "F", NULL, OB_OPT_EXACT },
	{ "add-rsa", 0, OPT_ADD_RSA, "PEM", NULL, OB_OPT_EXACT },
	{ "remove", 0, OPT_REMOVE, "SIG", NULL, 0 },
	{ "dry-run", 'n', OPT_DRY, NULL, NULL, 0 },
	{ "progress", 'p', OPT_PROGRESS, NULL, NULL, 0 },
	{ OB_OPT_END },
};

struct rekey_args {
	struct key_opts *ka;
	struct rekey_job *j;
	uint8_t (*remove)[ECFS_SIG_BYTES];
};

static int rekey_opt(const struct ob_cmd *cmd, const struct ob_opt *opt, const char *arg,
		     void *ctx)
{
	struct rekey_args *a = ctx;

	switch (opt->key) {
	case OPT_ADD_PASS:
		return key_opts_handle(a->ka, KO_KEY_FILE, arg);
	case OPT_ADD_GPG:
		return key_opts_handle(a->ka, KO_GPG_KEY, arg);
	case OPT_ADD_TPM:
		return key_opts_handle(a->ka, KO_TPM_KEY, arg);
	case OPT_ADD_RSA:
		return key_opts_handle(a->ka, KO_RSA_KEY, arg);
	case OPT_REMOVE:
		if (a->j->rk.nremove == 16 || ecfs_sig_from_hex(arg, a->remove[a->j->rk.nremove])) {
			cli_msg("--remove %s: a key signature is 16 hex digits (at most 16)", arg);
			return EXIT_USAGE;
		}
		a->j->rk.nremove++;
		return 0;
	case OPT_DRY:
		a->j->dry = true;
		return 0;
	case OPT_PROGRESS:
		a->j->progress = true;
		return 0;
	}
	return EXIT_USAGE;
}

int cmd_rekey(int argc, char **argv)
{
	struct key_opts ko = { 0 }, ka = { 0 };
	struct ecfs_keychain ck = { 0 }, ca = { 0 };
	uint8_t remove[16][ECFS_SIG_BYTES];
	struct rekey_job j = { 0 };
	struct ob_err err = { 0 };
	struct rekey_args a = { .ka = &ka, .j = &j, .remove = remove };
	const struct cli_cmd cmd = {
		.prog = "ecfs rekey", .help = rekey_help, .own = rekey_opts, .ko = &ko,
		.fn = rekey_opt, .ctx = &a,
	};
	int first, status = EXIT_OK;

	first = cli_parse(&cmd, argc, argv, &status);
	if (first < 0)
		return status;
	if (first >= argc) {
		cli_msg("rekey: no lower directory given (see ecfs rekey --help)");
		return EXIT_USAGE;
	}
	if (!ka.nkey_files && !ka.ngpg_keys && !ka.ntpm_keys && !ka.nrsa && !j.rk.nremove) {
		cli_msg("rekey: nothing to do (give --add-* or --remove)");
		return EXIT_USAGE;
	}
	ko.lower = argv[first];
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
	for (int i = first; i < argc && j.progress; i++)
		(void)rekey_tree(&j, argv[i], true);
	for (int i = first; i < argc; i++) {
		int rc = rekey_tree(&j, argv[i], false);

		if (rc) {
			cli_msg("%s: %s", argv[i], strerror(-rc));
			status = EXIT_FAIL;
		}
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
