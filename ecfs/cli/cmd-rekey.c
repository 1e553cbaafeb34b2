// SPDX-License-Identifier: MIT
/* cmd-rekey.c - "ecfs rekey": add or remove keys in every header of a tree.
 *
 * No data is re-encrypted: each file keeps its FEK and gets a new packet
 * list (lib/rekey.c replaces a header in one atomic write), so revoking a
 * key is a pass over the headers, and an interrupted run leaves every file
 * with either its old key set or its new one; run it again to finish.
 * The key options open the files; --add-* name the keys to add, --remove
 * the signatures/key ids to drop (as ecfs info prints them).
 *
 * Names made with a removed key's filename key move to a staying key's
 * (rekey-names.c).  Then the run is three passes, in the one order that
 * leaves, at every instant, some key that opens every file and every name
 * (a mount given both passphrases, e.g. --extra-passphrase-file, reads all):
 *   1. add the new packets to every header, remove nothing: each file opens
 *      with the old key and the new one; names still use the old FNEK;
 *   2. re-encrypt the names, one atomic rename each: each name opens with
 *      the old or the new FNEK, each file with either key;
 *   3. remove the old packets: every name already uses the new FNEK.
 * A pass with failures stops the run before the next, so no packet is
 * removed while a file lacks the new one or a name the new FNEK.  Run the
 * same command again to finish: files that already have the new key and
 * not the old open with the added keys and count as unchanged, names
 * already moved are left alone.  Without such names the run is one pass.
 */
#include "cli.h"
#include "rekey-names.h"
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
	"file readable by the keys it had or the keys it will have; run it again.\n"
	"Names made with the filename key of a removed key move to the added\n"
	"passphrase's filename key (one rename each, before any key is removed).\n\n"
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

/* One pass of header rewrites over every root. */
static int rekey_pass(struct rekey_job *j, char **roots, int n)
{
	int status = EXIT_OK;

	j->done = j->changed = j->same = j->plain = j->failed = 0;
	for (int i = 0; i < n; i++) {
		int rc = rekey_tree(j, roots[i], false);

		if (rc) {
			cli_msg("%s: %s", roots[i], strerror(-rc));
			status = EXIT_FAIL;
		}
	}
	if (j->progress)
		fputc('\n', stderr);
	return j->failed ? EXIT_FAIL : status;
}

/* Count (rn->apply false) or move the names under a removed FNEK. */
static int names_pass(struct rekey_names *rn, char **roots, int n)
{
	int status = EXIT_OK;

	for (int i = 0; i < n; i++) {
		int rc = rekey_names_tree(rn, roots[i]);

		if (rc) {
			cli_msg("%s: %s", roots[i], strerror(-rc));
			status = EXIT_FAIL;
		}
	}
	return rn->failed ? EXIT_FAIL : status;
}

/* The passes in the order the head comment gives. */
static int rekey_run(struct rekey_job *j, const struct ecfs_keychain *ck,
		     const struct ecfs_keychain *ca, char **roots, int n)
{
	struct rekey_names rn = {
		.open = ck, .add = ca, .remove = j->rk.remove, .nremove = j->rk.nremove,
	};
	int status = EXIT_OK;
	char hex[ECFS_SIG_HEX];

	if (rn.nremove)
		status = names_pass(&rn, roots, n);
	if (!status && rn.no_target) {
		cli_msg("rekey: %lu name%s made with the filename key of a key --remove revokes, "
			"and no key that stays has a filename key to re-encrypt them with; nothing "
			"changed (add the new passphrase with --add-key-file, or keep that key)",
			rn.no_target, rn.no_target == 1 ? " is" : "s are");
		return EXIT_FAIL;
	}
	if (status) {
		cli_msg("rekey: nothing changed (names under a removed key could not all be read)");
		return status;
	}
	if (!rn.stale || j->dry) {
		status = rekey_pass(j, roots, n);
	} else {
		j->rk.nremove = 0;
		status = rekey_pass(j, roots, n);
		rn.apply = true;
		rn.stale = rn.unknown = 0;
		if (!status)
			status = names_pass(&rn, roots, n);
		j->rk.nremove = rn.nremove;
		if (!status)
			status = rekey_pass(j, roots, n);
		else
			cli_msg("rekey: no key removed yet, so that every file and name still opens; "
				"fix the errors above and run the same command again");
	}
	printf("rekey: %lu file%s %s, %lu unchanged, %lu not eCryptfs, %lu failed\n",
	       j->changed, j->changed == 1 ? "" : "s", j->dry ? "would change" : "changed",
	       j->same, j->plain, j->failed);
	if (rn.stale)
		printf("rekey: %lu name%s %s\n", j->dry ? rn.stale : rn.renamed,
		       (j->dry ? rn.stale : rn.renamed) == 1 ? "" : "s",
		       j->dry ? "would be re-encrypted" : "re-encrypted");
	if (rn.unknown) {
		ecfs_sig_to_hex(rn.unknown_sig, hex);
		cli_msg("rekey: %lu name%s made with a filename key none of the given keys makes "
			"(signature %s) left as %s; give its passphrase to re-encrypt %s",
			rn.unknown, rn.unknown == 1 ? "" : "s", hex,
			rn.unknown == 1 ? "it was" : "they were", rn.unknown == 1 ? "it" : "them");
	}
	return status;
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
	status = rekey_run(&j, &ck, &ca, argv + first, argc - first);
	ecfs_keychain_free(&ca);
	ecfs_keychain_free(&ck);
	return status;
}
