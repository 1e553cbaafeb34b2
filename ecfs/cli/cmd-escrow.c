// SPDX-License-Identifier: MIT
/* cmd-escrow.c - "ecfs escrow setup|recover": key escrow for a lower directory.
 *
 * setup puts an escrow PUBLIC key into the lower directory's key dir
 * (escrow.pem, see keyopts-pk.c); every mount of that directory then adds
 * a Tag 1 packet for it to every new file, and ecfs fsck --add-escrow adds
 * it to older files.  The private key stays offline with whoever holds the
 * escrow.  recover decrypts a tree with the escrow private key alone: no
 * passphrase.  Names encrypted with a filename key cannot be recovered by
 * the escrow key (the kernel derives that key from a passphrase, and a name
 * has no room for a public-key packet); such files are written under their
 * lower names, which is still enough to restore the data.
 */
#include "cli.h"
#include "walk.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char escrow_help[] =
	"usage: ecfs escrow setup --escrow-key PUB.pem [--keys-dir D] LOWER\n"
	"       ecfs escrow recover --rsa-key PRIV.pem [--rsa-passphrase-file F] LOWER OUTDIR\n\n"
	"setup    make PUB.pem the escrow key of LOWER: it is copied to the key dir\n"
	"         (default LOWER/../.ecfs-NAME/escrow.pem) and every new file written\n"
	"         through ecfs mount gets a key packet for it (ecfs fsck --add-escrow\n"
	"         adds it to existing files)\n"
	"recover  decrypt every file under LOWER that the escrow private key opens into\n"
	"         OUTDIR (lower names are kept when names are encrypted)\n\n";

static int setup(struct key_opts *ko, const char *lower)
{
	struct ecfs_pubkey *pk = NULL;
	struct ob_err err = { 0 };
	char dir[PATH_MAX], path[PATH_MAX + 16], tmp[PATH_MAX + 32], hex[ECFS_SIG_HEX];
	uint8_t buf[65536];
	ssize_t n;
	int in, out, rc;

	if (!ko->escrow_key) {
		cli_msg("escrow setup: give the escrow public key with --escrow-key PEM");
		return EXIT_USAGE;
	}
	ko->lower = lower;
	if (cli_keys_dir(ko, dir, sizeof(dir))) {
		cli_msg("escrow setup: %s: cannot place its key dir (give --keys-dir)", lower);
		return EXIT_FAIL;
	}
	rc = ecfs_pubkey_load(ko->escrow_key, NULL, 0, false, &pk, &err);
	if (rc) {
		cli_error(ko->escrow_key, &err);
		return EXIT_FAIL;
	}
	if (ecfs_pubkey_has_private(pk)) {
		cli_msg("%s: a private key; give the escrow PUBLIC key (openssl pkey -pubout) "
			"and keep the private key offline", ko->escrow_key);
		ecfs_pubkey_free(pk);
		return EXIT_FAIL;
	}
	ecfs_sig_to_hex(ecfs_pubkey_id(pk), hex);
	ecfs_pubkey_free(pk);
	if (mkdir(dir, 0700) && errno != EEXIST) {
		cli_msg("%s: %s", dir, strerror(errno));
		return EXIT_FAIL;
	}
	snprintf(path, sizeof(path), "%s/escrow.pem", dir);
	snprintf(tmp, sizeof(tmp), "%s/.escrow.pem.tmp", dir);
	in = open(ko->escrow_key, O_RDONLY | O_CLOEXEC);
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	n = in < 0 ? -1 : read(in, buf, sizeof(buf));
	if (in < 0 || out < 0 || n <= 0 || write(out, buf, (size_t)n) != n || fsync(out) ||
	    rename(tmp, path)) {
		cli_msg("%s: %s", path, strerror(errno));
		if (in >= 0)
			close(in);
		if (out >= 0)
			close(out);
		unlink(tmp);
		return EXIT_FAIL;
	}
	close(in);
	close(out);
	printf("escrow key %s -> %s\n", hex, path);
	return EXIT_OK;
}

/* ------------------------------------------------------------ recover */

struct escrow_rec {
	struct ecfs_keys keys;
	const char *root, *out;
	unsigned long ok, failed, skipped;
};

static int copy_plain(struct ecfs_file *f, int out, struct ob_err *err)
{
	static uint8_t buf[1 << 20];
	uint64_t off = 0;

	while (off < f->hdr.size) {
		ssize_t n = ecfs_file_pread(f, buf, sizeof(buf), off, err);

		if (n <= 0)
			return n < 0 ? (int)n : ob_err_set(err, -EIO, "short file");
		if (write(out, buf, (size_t)n) != n)
			return ob_err_set(err, -errno, "write");
		off += (uint64_t)n;
	}
	return 0;
}

/* One regular file (name in dfd) into dst; path is what messages call it. */
static void recover_file(struct escrow_rec *rec, int dfd, const char *name, const char *path,
			 const char *dst)
{
	struct ecfs_file ef;
	struct ob_err err = { 0 };
	int fd, out, rc;

	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	rc = ecfs_file_open_ex(&ef, fd, ECFS_OPEN_XATTR_OK, &rec->keys, &err);
	if (rc == -ENODATA) {
		rec->skipped++;
		close(fd);
		return;
	}
	if (rc) {
		rec->failed++;
		cli_error(path, &err);
		close(fd);
		return;
	}
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		ob_err_set(&err, -errno, "creating %s", dst);
		rc = err.code;
	} else {
		rc = copy_plain(&ef, out, &err);
		close(out);
	}
	if (rc) {
		rec->failed++;
		cli_error(path, &err);
	} else {
		rec->ok++;
	}
	ecfs_file_close(&ef);
	close(fd);
}

static int recover_visit(const struct walk_entry *e, void **child, void *ctx)
{
	struct escrow_rec *rec = ctx;
	char *path = NULL, *dst = NULL;

	if (!e->st || (!S_ISDIR(e->st->st_mode) && !S_ISREG(e->st->st_mode)))
		return 0;
	if (asprintf(&path, "%s/%s", rec->root, e->path) < 0 ||
	    asprintf(&dst, "%s/%s", rec->out, e->path) < 0) {
		free(path);
		return -ENOMEM;
	}
	if (S_ISDIR(e->st->st_mode)) {
		if (mkdir(dst, 0700) && errno != EEXIST)
			cli_msg("%s: %s", dst, strerror(errno));
	} else {
		recover_file(rec, e->dfd, e->name, path, dst);
	}
	free(path);
	free(dst);
	return 0;
}

static bool any_private(const struct ecfs_keychain *ck)
{
	for (size_t i = 0; i < ck->npub; i++)
		if (ecfs_pubkey_has_private(ck->pub[i]))
			return true;
	return false;
}

static int recover(struct key_opts *ko, const char *lower, const char *outdir)
{
	static const struct walk_ops ops = { .visit = recover_visit };
	struct escrow_rec rec = { 0 };
	struct ecfs_keychain ck;
	struct ob_err err = { 0 };
	int fd, rc;

	/* Usually --rsa-key alone; any key option works (tests use that). */
	ko->no_keys_dir = true;
	if (cli_keys_load(ko, NULL, 0, &ck, &err)) {
		cli_error(NULL, &err);
		return EXIT_FAIL;
	}
	if (!ecfs_keyset_count(ck.keys) && !any_private(&ck)) {
		cli_msg("escrow recover: %s is a public key; recovering needs the escrow PRIVATE "
			"key (the one kept offline)", ko->nrsa ? ko->rsa_keys[0] : "the key given");
		ecfs_keychain_free(&ck);
		return EXIT_FAIL;
	}
	if (mkdir(outdir, 0700) && errno != EEXIST) {
		cli_msg("%s: %s", outdir, strerror(errno));
		ecfs_keychain_free(&ck);
		return EXIT_FAIL;
	}
	rec.keys = ecfs_keychain_keys(&ck);
	rec.root = lower;
	rec.out = outdir;
	fd = open(lower, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	rc = fd < 0 ? -errno : walk_tree(fd, NULL, &ops, &rec);
	if (rc)
		cli_msg("%s: %s", lower, strerror(-rc));
	printf("escrow recover: %lu file%s recovered, %lu failed, %lu not eCryptfs\n",
	       rec.ok, rec.ok == 1 ? "" : "s", rec.failed, rec.skipped);
	ecfs_keychain_free(&ck);
	return rec.failed ? EXIT_FAIL : EXIT_OK;
}

int cmd_escrow(int argc, char **argv)
{
	struct key_opts ko = { 0 };
	const struct cli_cmd cmd = { .prog = "ecfs escrow", .help = escrow_help, .ko = &ko };
	const char *sub;
	int first, status;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		printf("%s", escrow_help);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	sub = argv[1];
	argc--;
	argv++;
	first = cli_parse(&cmd, argc, argv, &status);
	if (first < 0)
		return status;
	if (!strcmp(sub, "setup") && argc - first == 1)
		return setup(&ko, argv[first]);
	if (!strcmp(sub, "recover") && argc - first == 2)
		return recover(&ko, argv[first], argv[first + 1]);
	cli_msg("escrow: expected 'setup LOWER' or 'recover LOWER OUTDIR' (see ecfs escrow --help)");
	return EXIT_USAGE;
}
