// SPDX-License-Identifier: MIT
/* cmd-fsck.c - "ecfs fsck LOWERDIR": every file and name that will not
 * decrypt, and why.
 *
 * One walk of the lower tree (no mount).  Each problem has a kind, so
 * scripts can count them (--json), and a reason that says what to do:
 *
 *   kind              found when                                 repair
 *   no_key            no key for any Tag 3 packet of the header  -
 *   bad_header        a marker but a damaged header / packets    -
 *   no_header         a regular file without eCryptfs metadata   -
 *   truncated         the lower file ends inside an extent       -
 *   size_past_end     the size field points past the extents     size := what the extents hold
 *   stale_size_copy   Synology's user.ecryptfs size != header    copy := header size
 *   no_name_key       an encrypted name whose FNEK we lack       -
 *   bad_name          an "ECRYPTFS_FNEK_ENCRYPTED." name that    -
 *                     does not decode
 *   no_escrow         the key dir has an escrow key, the file    --add-escrow: add its packet
 *                     has no packet for it                       (lib/rekey.c, atomic)
 *
 * Repairs never destroy data: they change 8-byte size fields only, print
 * the old value, and happen only after a yes on the terminal (or --yes).
 * Shrinking the size to the extents present keeps every byte the file
 * still has; the old size is in the report if someone wants it back.
 */
#include "cli.h"
#include "walk.h"
#include "legacy-cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

enum kind {
	K_NO_KEY, K_BAD_HEADER, K_NO_HEADER, K_TRUNCATED, K_SIZE_PAST_END,
	K_STALE_COPY, K_NO_NAME_KEY, K_BAD_NAME, K_NO_ESCROW, K_COUNT
};

static const char *const kind_names[K_COUNT] = {
	"no_key", "bad_header", "no_header", "truncated", "size_past_end",
	"stale_size_copy", "no_name_key", "bad_name", "no_escrow",
};

struct problem {
	char *lower, *upper, *reason;
	enum kind kind;
	bool repaired;
};

struct fsck {
	const char *root;
	bool json, repair, yes, keys_loaded, progress;
	bool add_escrow;		/* --add-escrow (keys beyond passphrases) */
	struct ecfs_keychain ck;
	struct problem *p;
	size_t np, cap;
	unsigned counts[K_COUNT];
	unsigned files, dirs, names, other, repaired;
	unsigned long total, done;
};

__attribute__((format(printf, 5, 6)))
static void problem(struct fsck *f, enum kind k, const char *lower, const char *upper,
		    const char *fmt, ...)
{
	char reason[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (f->np == f->cap) {
		size_t ncap = f->cap ? 2 * f->cap : 64;
		struct problem *n = realloc(f->p, ncap * sizeof(*n));

		if (!n)
			return;
		f->p = n;
		f->cap = ncap;
	}
	f->p[f->np++] = (struct problem){ strdup(lower), strdup(upper), strdup(reason), k, false };
	f->counts[k]++;
}

static void progress(struct fsck *f)
{
	if (!f->progress || !f->total)
		return;
	f->done++;
	if (f->done % 16 && f->done != f->total)
		return;
	int w = 30, filled = (int)(w * f->done / f->total);

	fprintf(stderr, "\r[%.*s%*s] %lu/%lu entries", filled,
		"##############################", w - filled, "", f->done, f->total);
	if (f->done == f->total)
		fputs("\r\033[K", stderr);
}

static int count_one(const struct walk_entry *e, void **child, void *ctx)
{
	(*(unsigned long *)ctx)++;
	return 0;
}

/* Entries under dfd (not taken), for the progress line. */
static unsigned long count_entries(int dfd)
{
	static const struct walk_ops ops = { .visit = count_one };
	int own = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	unsigned long n = 0;

	if (own >= 0)
		(void)walk_tree(own, NULL, &ops, &n);
	return n;
}

/* Lower name -> its plaintext for the report (the lower name if unknown). */
static void check_name(struct fsck *f, const char *lpath, const char *uparent,
		       const char *name, char *uname, size_t ulen)
{
	uint8_t sig[ECFS_SIG_BYTES];
	char hex[ECFS_SIG_HEX];
	struct ob_err err = {0};
	ssize_t n;

	snprintf(uname, ulen, "%s", name);
	if (strncmp(name, ECFS_FNEK_PREFIX, strlen(ECFS_FNEK_PREFIX)))
		return;
	f->names++;
	if (ecfs_name_sig(name, sig)) {
		problem(f, K_BAD_NAME, lpath, uparent, "encrypted name does not decode "
			"(damaged or cut short); the object itself may still be intact");
		return;
	}
	if (!f->keys_loaded)
		return;
	n = ecfs_name_decrypt(f->ck.fneks, f->ck.nfneks, name, uname, ulen, &err);
	if (n == -ENOKEY) {
		ecfs_sig_to_hex(sig, hex);
		problem(f, K_NO_NAME_KEY, lpath, uparent, "no filename key with sig %s (give the "
			"passphrase that made it; crouton-style trees: --fnek-passphrase-file)", hex);
	} else if (n < 0) {
		problem(f, K_BAD_NAME, lpath, uparent, "encrypted name does not decrypt: %s",
			err.msg);
	}
	if (n < 0)
		snprintf(uname, ulen, "%s", name);
}

static bool confirm(struct fsck *f, const char *what)
{
	if (f->yes)
		return true;
	if (!lc_have_tty()) {
		cli_msg("%s: not repaired (no terminal to confirm on; add --yes)", what);
		return false;
	}
	return lc_ask(what, false);
}

static int write_size(int fd, const struct ecfs_header *h, uint64_t size)
{
	uint8_t be[8];

	ecfs_header_put_size(be, size);
	if (!h->in_xattr)
		return pwrite(fd, be, 8, 0) == 8 && !fsync(fd) ? 0 : -errno;
	{
		uint8_t buf[4096];
		ssize_t n = fgetxattr(fd, ECFS_XATTR_NAME, buf, sizeof(buf));

		if (n < 8)
			return -EIO;
		memcpy(buf, be, 8);
		return fsetxattr(fd, ECFS_XATTR_NAME, buf, (size_t)n, XATTR_REPLACE) ? -errno : 0;
	}
}

/* no_escrow: the key dir's escrow key (the last of ck.pub) has no packet. */
static void check_escrow(struct fsck *f, int dfd, const char *name,
			 const struct ecfs_header *h, const char *lpath, const char *upath)
{
	const struct ecfs_pubkey *esc = f->ck.pub[f->ck.npub - 1];
	struct ecfs_keys open = ecfs_keychain_keys(&f->ck), add = { .pub = &f->ck.pub[f->ck.npub - 1], .npub = 1 };
	struct ecfs_rekey rk = { .open_keys = &open, .add = &add };
	struct ob_err err = {0};
	char hex[ECFS_SIG_HEX];
	int fd;

	for (unsigned i = 0; i < h->npackets; i++)
		if (h->packets[i].tag == ECFS_PKT_TAG1 &&
		    !memcmp(h->packets[i].sig, ecfs_pubkey_id(esc), ECFS_SIG_BYTES))
			return;
	ecfs_sig_to_hex(ecfs_pubkey_id(esc), hex);
	problem(f, K_NO_ESCROW, lpath, upath, "no escrow packet for escrow key %s%s", hex,
		f->add_escrow ? "" : " (--add-escrow adds it)");
	if (!f->add_escrow)
		return;
	fd = openat(dfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || ecfs_rekey_fd(fd, &rk, NULL, &err)) {
		cli_msg("%s: adding the escrow packet failed: %s", lpath,
			fd < 0 ? strerror(errno) : err.msg);
	} else {
		f->p[f->np - 1].repaired = true;
		f->repaired++;
	}
	if (fd >= 0)
		close(fd);
}

static void check_file(struct fsck *f, int dfd, const char *name, const char *lpath,
		       const char *upath)
{
	int fd = openat(dfd, name, (f->repair ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW);
	struct ecfs_header *h = NULL;
	struct ecfs_fek *fek = NULL;
	struct ob_err err = {0};
	char hex[ECFS_SIG_HEX];
	uint64_t copy, have;
	struct stat st;
	int rc;

	f->files++;
	if (fd < 0 && f->repair)
		fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st) || !(h = malloc(sizeof(*h)))) {
		problem(f, K_NO_HEADER, lpath, upath, "cannot read: %s", strerror(errno));
		goto out;
	}
	rc = ecfs_metadata_read(fd, ECFS_OPEN_XATTR_OK, h, &err);
	if (rc == -ENODATA) {
		problem(f, K_NO_HEADER, lpath, upath, st.st_size == 0 ?
			"0-byte lower file: no header yet (a create cut short; empty: the kernel "
			"and ecfs give it a header on a read-write open, decrypt reads it as empty)" :
			"no eCryptfs header: a plain file, or its first bytes were overwritten");
		goto out;
	}
	if (rc) {
		problem(f, K_BAD_HEADER, lpath, upath, "bad header: %s", err.msg);
		goto out;
	}
	if (f->keys_loaded) {
		struct ecfs_keys all = ecfs_keychain_keys(&f->ck);	/* private keys too */

		rc = ecfs_fek_unwrap_any(h, &all, &fek, NULL, &err);
		if (rc == -ENOKEY) {
			ecfs_sig_to_hex(h->packets[0].sig, hex);
			problem(f, K_NO_KEY, lpath, upath, "no matching key: the file needs sig %s%s "
				"(give that passphrase, or --extra-passphrase-file)", hex,
				h->npackets > 1 ? " (or another of its packets)" : "");
		} else if (rc) {
			problem(f, K_BAD_HEADER, lpath, upath, "file key does not unwrap: %s", err.msg);
		}
	}
	if (f->keys_loaded && f->ck.has_escrow)
		check_escrow(f, dfd, name, h, lpath, upath);
	/* Sizes: the data after the header must be whole extents, and hold
	 * the plaintext size. */
	uint64_t data = (uint64_t)st.st_size > h->data_offset ? (uint64_t)st.st_size - h->data_offset : 0;

	have = data / ECFS_EXTENT_SIZE * ECFS_EXTENT_SIZE;
	if (data % ECFS_EXTENT_SIZE)
		problem(f, K_TRUNCATED, lpath, upath, "truncated extents: the lower file ends %llu "
			"bytes into extent %llu (copy cut short?); the last part cannot be decrypted",
			(unsigned long long)(data % ECFS_EXTENT_SIZE),
			(unsigned long long)(data / ECFS_EXTENT_SIZE));
	if (h->size > have) {
		problem(f, K_SIZE_PAST_END, lpath, upath, "size past the end: the size field says "
			"%llu bytes, the extents hold only %llu%s",
			(unsigned long long)h->size, (unsigned long long)have,
			f->repair ? "" : " (--repair sets the size to what is there)");
		if (f->repair) {
			char q[PATH_MAX + 128];

			snprintf(q, sizeof(q), "%s: set size %llu -> %llu?", lpath,
				 (unsigned long long)h->size, (unsigned long long)have);
			if (confirm(f, q)) {
				rc = write_size(fd, h, have);
				if (rc)
					cli_msg("%s: repair failed: %s", lpath, strerror(-rc));
				else {
					f->p[f->np - 1].repaired = true;
					f->repaired++;
					h->size = have;
					ecfs_syno_size_sync(fd, have, NULL);
				}
			}
		}
	}
	if (!h->in_xattr && ecfs_syno_size_read(fd, &copy) == 1 && copy != h->size) {
		problem(f, K_STALE_COPY, lpath, upath, "Synology's size copy in %s says %llu, the "
			"header %llu: the NAS would show the wrong size%s", ECFS_XATTR_NAME,
			(unsigned long long)copy, (unsigned long long)h->size,
			f->repair ? "" : " (--repair updates the copy)");
		if (f->repair) {
			char q[PATH_MAX + 128];

			snprintf(q, sizeof(q), "%s: update Synology's size copy %llu -> %llu?",
				 lpath, (unsigned long long)copy, (unsigned long long)h->size);
			if (confirm(f, q)) {
				rc = ecfs_syno_size_sync(fd, h->size, &err);
				if (rc < 0)
					cli_error(lpath, &err);
				else {
					f->p[f->np - 1].repaired = true;
					f->repaired++;
				}
			}
		}
	}
out:
	ecfs_fek_free(fek);
	free(h);
	if (fd >= 0)
		close(fd);
}

/* The plaintext path of an entry: its directory's, then its name. */
static char *upper_path(const char *urel, const char *uname)
{
	char *p;

	if (asprintf(&p, "%s%s%.*s", urel, *urel ? "/" : "", 1024, uname) < 0)
		return NULL;
	return p;
}

/* One lower entry; a directory's value is its plaintext path. */
static int fsck_visit(const struct walk_entry *e, void **child, void *ctx)
{
	struct fsck *f = ctx;
	const char *urel = e->dir_data;
	char uname[ECFS_LOWER_NAME_MAX], *upath;

	progress(f);
	check_name(f, e->path, urel, e->name, uname, sizeof(uname));
	if (!e->st)
		return WALK_SKIP;
	upath = upper_path(urel, uname);
	if (!upath)
		return -ENOMEM;
	if (S_ISDIR(e->st->st_mode)) {
		f->dirs++;
		*child = upath;
		return 0;
	}
	if (S_ISREG(e->st->st_mode))
		check_file(f, e->dfd, e->name, e->path, upath);
	else
		f->other++;
	free(upath);
	return 0;
}

static void fsck_leave(const struct walk_entry *e, void *child, void *ctx)
{
	free(child);
}

static void walk(struct fsck *f, int dfd)
{
	static const struct walk_ops ops = { .visit = fsck_visit, .leave = fsck_leave };

	f->dirs++;	/* the root */
	if (walk_tree(dfd, "", &ops, f) == -ENOMEM)
		cli_msg("%s: out of memory; the report is partial", f->root);
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void report(struct fsck *f)
{
	unsigned open_problems = (unsigned)f->np - f->repaired;

	if (f->json) {
		printf("{\"lower\": ");
		json_str(f->root);
		printf(", \"keys\": %s, \"checked\": {\"files\": %u, \"dirs\": %u, \"names\": %u, "
		       "\"other\": %u}, \"problems\": [", f->keys_loaded ? "true" : "false",
		       f->files, f->dirs, f->names, f->other);
		for (size_t i = 0; i < f->np; i++) {
			printf("%s\n  {\"kind\": \"%s\", \"lower\": ", i ? "," : "",
			       kind_names[f->p[i].kind]);
			json_str(f->p[i].lower);
			printf(", \"path\": ");
			json_str(f->p[i].upper);
			printf(", \"reason\": ");
			json_str(f->p[i].reason);
			printf(", \"repaired\": %s}", f->p[i].repaired ? "true" : "false");
		}
		printf("], \"counts\": {");
		for (int k = 0; k < K_COUNT; k++)
			printf("%s\"%s\": %u", k ? ", " : "", kind_names[k], f->counts[k]);
		printf("}, \"repaired\": %u}\n", f->repaired);
		return;
	}
	for (size_t i = 0; i < f->np; i++)
		printf("%s: %s%s [%s]\n", f->p[i].lower, f->p[i].reason,
		       f->p[i].repaired ? " -- repaired" : "", kind_names[f->p[i].kind]);
	printf("%s: %u files, %u directories, %u encrypted names checked%s: ", f->root,
	       f->files, f->dirs, f->names, f->keys_loaded ? "" : " (no key: structure only)");
	if (!f->np) {
		printf("no problems\n");
		return;
	}
	printf("%zu problem%s", f->np, f->np == 1 ? "" : "s");
	for (int k = 0; k < K_COUNT; k++)
		if (f->counts[k])
			printf(", %s %u", kind_names[k], f->counts[k]);
	if (f->repaired)
		printf("; %u repaired, %u left", f->repaired, open_problems);
	printf("\n");
}

static const char fsck_help[] =
	"usage: ecfs fsck [OPTIONS] [KEY OPTIONS] LOWERDIR\n\n"
	"Check every file and name of an eCryptfs lower directory without mounting it,\n"
	"and report each one that will not decrypt, with the reason: no_key, bad_header,\n"
	"no_header, truncated, size_past_end, stale_size_copy (Synology), no_name_key,\n"
	"bad_name, no_escrow.  Without a key (--nokey, or no passphrase source and no terminal)\n"
	"only the structure is checked.  Exit status: 0 clean, 1 problems left.\n\n"
	"  --json        machine-readable report on stdout\n"
	"  --repair      fix what is safe to fix (size fields only), asking first\n"
	"  -y, --yes     repair without asking\n"
	"  --nokey       do not ask for a passphrase\n"
	"  --add-escrow  add the key dir's escrow key to files that lack it\n"
	"  -h, --help    this help\n\n";

enum { O_JSON = 1, O_REPAIR, O_NOKEY, O_ADD_ESCROW, O_YES };

static const struct ob_opt fsck_opts[] = {
	{ "json", 0, O_JSON, NULL, NULL, 0 },
	{ "repair", 0, O_REPAIR, NULL, NULL, 0 },
	{ "yes", 'y', O_YES, NULL, NULL, 0 },
	{ "nokey", 0, O_NOKEY, NULL, NULL, 0 },
	{ "add-escrow", 0, O_ADD_ESCROW, NULL, NULL, 0 },
	{ OB_OPT_END },
};

struct fsck_args {
	struct fsck *f;
	bool nokey;
};

static int fsck_opt(const struct ob_cmd *cmd, const struct ob_opt *opt, const char *arg,
		    void *ctx)
{
	struct fsck_args *a = ctx;

	switch (opt->key) {
	case O_JSON: a->f->json = true; break;
	case O_REPAIR: a->f->repair = true; break;
	case O_NOKEY: a->nokey = true; break;
	case O_ADD_ESCROW: a->f->add_escrow = true; break;
	case O_YES: a->f->yes = true; break;
	}
	return 0;
}

int cmd_fsck(int argc, char **argv)
{
	struct key_opts ko = {0};
	struct fsck f = {0};
	struct ob_err err = {0};
	struct fsck_args a = { .f = &f };
	struct cipher_opts co = {0};
	struct cipher_choice cc;
	const struct cli_cmd cmd = {
		.prog = "ecfs fsck", .help = fsck_help, .own = fsck_opts, .ko = &ko, .co = &co,
		.fn = fsck_opt, .ctx = &a,
	};
	bool nokey;
	int first, dfd, rc;

	first = cli_parse(&cmd, argc, argv, &rc);
	if (first < 0)
		return rc;
	nokey = a.nokey;
	if (argc - first != 1) {
		cli_msg("fsck: expected LOWERDIR (see 'ecfs fsck --help')");
		return EXIT_USAGE;
	}
	if (cipher_opts_resolve(&co, &cc))
		return EXIT_USAGE;
	f.root = argv[first];
	dfd = open(f.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		cli_msg("%s: %s (give the encrypted lower directory, e.g. ~/.Private)", f.root,
			strerror(errno));
		return EXIT_FAIL;
	}
	ko.lower = f.root;	/* its key dir: the escrow key */
	/* Any key option the mount takes makes fsck check with keys; only
	 * with none at all (and no terminal to ask on) is it structure only. */
	if (!nokey && (ko.src.file || ko.src.extpass || ko.nkey_sigs || ko.nextra ||
		       ko.nrsa || key_opts_ext_count(&ko) || lc_have_tty())) {
		if (cli_keys_load(&ko, cc.fn_cipher, cc.fn_key_bytes, &f.ck, &err)) {
			cli_error(NULL, &err);
			close(dfd);
			return EXIT_FAIL;
		}
		f.keys_loaded = true;
	}
	f.progress = !f.json && isatty(STDERR_FILENO);
	if (f.progress)
		f.total = count_entries(dfd);
	walk(&f, dfd);
	report(&f);
	rc = f.np > f.repaired ? EXIT_FAIL : EXIT_OK;
	for (size_t i = 0; i < f.np; i++) {
		free(f.p[i].lower);
		free(f.p[i].upper);
		free(f.p[i].reason);
	}
	free(f.p);
	if (f.keys_loaded)
		ecfs_keychain_free(&f.ck);
	return rc;
}
