// SPDX-License-Identifier: MIT
/* cmd-recover.c - "ecfs recover": ecryptfs-recover-private without the kernel.
 *
 * Finds the lower directory and the key material kept beside it, checks
 * the key against every signature on record before mounting, and mounts
 * read-only (by default) at a fresh directory, printing where.
 *
 * Layouts (shared/spec/legacy-ecryptfs.md §5, §1, §4):
 *   L1 Ubuntu 9.10+ home      /home/.ecryptfs/USER/{.Private,.ecryptfs/}
 *   L2 ~/Private              ~/.Private + ~/.ecryptfs/
 *   L3 Ubuntu 9.04 home       /home/USER/.Private + /var/lib/ecryptfs/USER/
 *   L4 Synology/Asustor share @Share@ (+ Share.key exported by DSM)
 *   L5 crouton chroot         <chroot>/ with a key file <chroot>/.ecryptfs
 * A PATH that is none of these but holds them is searched (a disk's root).
 *
 * Key checks, in order; each failure names the key that is wrong:
 *   K1 the login password against the wrapped file's signature;
 *   K2 the content key (FEKEK) against Private.sig line 1 and the Tag 3
 *      signatures of sampled files (the files win: Private.sig may be stale);
 *   K3 the filename key: both candidates (ASCII "99887766" salt as
 *      ecryptfs-utils, and the content key as mount.ecryptfs) against the
 *      Tag 70 signatures of sampled names, then Private.sig line 2.  A wrong
 *      line 2 is reported and the matching candidate is used.
 *
 * Divisions of this file: discovery (finding layouts under PATH), sampling
 * (files and names to check keys against), keys (K1-K3), mount (through
 * cli_mount_argv, as "ecfs mount"), main (the command line).
 */
#include "cli.h"
#include "legacy-cli.h"
#include "walk.h"

#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ob/secmem.h"

#define MAX_FOUND	32
#define SAMPLE_MAX	64	/* files and names inspected for signatures */
#define WALK_MAX	4000	/* lower entries visited while sampling */
#define SEARCH_DEPTH	6

enum layout { LAY_UBUNTU, LAY_904, LAY_SYNO, LAY_CROUTON, LAY_BARE };

static const char *const layout_names[] = {
	[LAY_UBUNTU] = "Ubuntu/Mint encrypted home or Private directory",
	[LAY_904] = "Ubuntu 9.04 encrypted home (config in /var/lib/ecryptfs)",
	[LAY_SYNO] = "Synology/Asustor encrypted shared folder",
	[LAY_CROUTON] = "crouton encrypted chroot",
	[LAY_BARE] = "eCryptfs lower directory (no config found beside it)",
};

struct found {
	char lower[PATH_MAX];
	char conf[PATH_MAX];		/* .ecryptfs dir, or crouton key file; "" = none */
	char keyfile[PATH_MAX];		/* Synology .key */
	enum layout lay;
};

struct recover {
	struct key_opts ko;		/* --passphrase-file/--extpass = mount passphrase */
	struct secret_source login;	/* --login-password-file/--login-extpass */
	const char *mnt, *wrapped, *sigfile, *keyfile, *root;
	char root_buf[PATH_MAX];	/* a disk root found by disk_link() */
	bool rw, yes, check_only;
	char errobj[PATH_MAX];		/* the file an error is about */
	struct found found[MAX_FOUND];
	int nfound;
};

/* Signatures seen in the lower tree. */
struct sample {
	uint8_t file_sigs[8][ECFS_SIG_BYTES];
	int nfile_sigs;
	uint8_t file_cipher;		/* Tag 3 cipher code of the first file */
	uint16_t file_ekey_len;		/* ... and its wrapped key's length */
	uint8_t name_sigs[8][ECFS_SIG_BYTES];
	int nname_sigs;
	uint8_t name_cipher;		/* Tag 70 cipher code of the first name */
	char name[ECFS_LOWER_NAME_MAX];	/* the first name, to find its key size */
	unsigned files, names, visited;
};

/* ------------------------------------------------------------ discovery */

static bool is_dir(const char *p)
{
	struct stat st;

	return !stat(p, &st) && S_ISDIR(st.st_mode);
}

static bool is_file(const char *p)
{
	struct stat st;

	return !stat(p, &st) && S_ISREG(st.st_mode);
}

/* snprintf into a PATH_MAX buffer; over-long paths are cut (and then
 * simply not found). */
__attribute__((format(printf, 2, 3)))
static void pathf(char *out, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, PATH_MAX, fmt, ap);
	va_end(ap);
}

static void join(char *out, const char *a, const char *b)
{
	pathf(out, "%s/%s", a, b);
}

static void parent_of(char *out, const char *p)
{
	char *s;

	snprintf(out, PATH_MAX, "%s", p);
	while ((s = strrchr(out, '/')) && s[1] == '\0' && s != out)
		*s = '\0';
	s = strrchr(out, '/');
	if (!s)
		snprintf(out, PATH_MAX, ".");
	else if (s == out)
		out[1] = '\0';
	else
		*s = '\0';
}

static const char *base_of(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

/* A Synology lower dir is "@Name@" (not "@eaDir" and friends). */
static bool syno_name(const char *name)
{
	size_t n = strlen(name);

	return n > 2 && name[0] == '@' && name[n - 1] == '@';
}

/* The directory an absolute symlink at p names on the disk it came from.
 * ecryptfs-setup-private makes ~/.Private and ~/.ecryptfs absolute links
 * into /home/.ecryptfs/USER, which dangle (or, worse, name this machine's
 * files) once the old disk is mounted elsewhere.  Try the target under the
 * disk root found so far, then under each ancestor of p, deepest first,
 * and as it stands last; the first ancestor that works becomes the disk
 * root.  0 with out set; -1 when p is no such link or nothing is there. */
static int disk_link(struct recover *r, const char *p, char *out)
{
	char target[PATH_MAX], anc[PATH_MAX], up[PATH_MAX];
	ssize_t n = readlink(p, target, sizeof(target) - 1);

	if (n <= 0 || target[0] != '/')
		return -1;
	target[n] = '\0';
	if (r->root) {
		pathf(out, "%s%s", r->root, target);
		if (is_dir(out))
			return 0;
	}
	parent_of(anc, p);
	while (anc[0] == '/' && anc[1]) {
		pathf(out, "%s%s", anc, target);
		if (is_dir(out)) {
			if (!r->root) {
				snprintf(r->root_buf, sizeof(r->root_buf), "%s", anc);
				r->root = r->root_buf;
			}
			return 0;
		}
		parent_of(up, anc);
		memcpy(anc, up, sizeof(anc));
	}
	snprintf(out, PATH_MAX, "%s", target);
	return is_dir(out) ? 0 : -1;
}

/* Config beside a .Private: ../.ecryptfs, or, through an absolute symlink
 * from the original system, the same path under the disk root. */
static void find_conf(struct recover *r, struct found *f)
{
	char dir[PATH_MAX], p[PATH_MAX], target[PATH_MAX], user[NAME_MAX + 1];
	ssize_t n;

	parent_of(dir, f->lower);
	join(p, dir, ".ecryptfs");
	if (is_dir(p)) {
		snprintf(f->conf, PATH_MAX, "%s", p);
		return;
	}
	n = readlink(p, target, sizeof(target) - 1);
	if (n > 0 && target[0] == '/' && r->root) {
		target[n] = '\0';
		pathf(p, "%s%s", r->root, target);
		if (is_dir(p)) {
			snprintf(f->conf, PATH_MAX, "%s", p);
			if (strstr(target, "/var/lib/ecryptfs/"))
				f->lay = LAY_904;
			return;
		}
	}
	/* 9.04: /home/USER/.Private, config /var/lib/ecryptfs/USER; the disk
	 * root is two levels above /home/USER. */
	snprintf(user, sizeof(user), "%.*s", NAME_MAX, base_of(dir));
	parent_of(p, dir);		/* .../home */
	parent_of(target, p);		/* the disk root */
	pathf(p, "%s/var/lib/ecryptfs/%s", strcmp(target, "/") ? target : "", user);
	if (is_dir(p)) {
		snprintf(f->conf, PATH_MAX, "%s", p);
		f->lay = LAY_904;
	}
}

/* The same directory reached twice (through ~/.Private and directly). */
static bool already_found(const struct recover *r, const char *lower)
{
	char a[PATH_MAX], b[PATH_MAX];

	if (!realpath(lower, a))
		return false;
	for (int i = 0; i < r->nfound; i++)
		if (realpath(r->found[i].lower, b) && !strcmp(a, b))
			return true;
	return false;
}

static void add_found(struct recover *r, const char *lower, enum layout lay)
{
	struct found *f;

	if (r->nfound == MAX_FOUND || already_found(r, lower))
		return;
	f = &r->found[r->nfound++];
	memset(f, 0, sizeof(*f));
	snprintf(f->lower, PATH_MAX, "%s", lower);
	f->lay = lay;
	if (lay == LAY_UBUNTU)
		find_conf(r, f);
	if (lay == LAY_CROUTON)
		join(f->conf, lower, ".ecryptfs");
	if (lay == LAY_SYNO) {
		char dir[PATH_MAX], name[NAME_MAX + 1], p[PATH_MAX];

		parent_of(dir, lower);
		snprintf(name, sizeof(name), "%.*s", NAME_MAX, base_of(lower) + 1);
		name[strlen(name) - 1] = '\0';
		pathf(p, "%s/%s.key", dir, name);
		if (is_file(p))
			snprintf(f->keyfile, PATH_MAX, "%s", p);
	}
	if (lay == LAY_UBUNTU && !f->conf[0])
		f->lay = LAY_BARE;
}

/* Does dir hold eCryptfs names at its top level? */
static bool has_ecryptfs_names(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool yes = false;

	if (!d)
		return false;
	while (!yes && (e = readdir(d)))
		yes = !strncmp(e->d_name, ECFS_FNEK_PREFIX, strlen(ECFS_FNEK_PREFIX));
	closedir(d);
	return yes;
}

static bool skip_dir(const char *path)
{
	static const char *const skip[] = { "/proc", "/sys", "/dev", "/run" };

	for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
		if (!strcmp(path, skip[i]))
			return true;
	return false;
}

/* The layout search: the walker's context. */
struct search {
	struct recover *r;
	const char *root;
};

/* One entry below the search root: a lower directory by its layout, or a
 * directory to look into (at most SEARCH_DEPTH levels down, never into a
 * lower tree or a pseudo file system). */
static int search_visit(const struct walk_entry *e, void **child_data, void *ctx)
{
	struct search *sr = ctx;
	struct recover *r = sr->r;
	char p[PATH_MAX];

	if (r->nfound == MAX_FOUND)
		return -1;			/* enough: end the walk */
	if (!e->st)
		return WALK_SKIP;
	snprintf(p, sizeof(p), "%s/%s", strcmp(sr->root, "/") ? sr->root : "", e->path);
	if (S_ISLNK(e->st->st_mode) && !strcmp(e->name, ".Private")) {
		char real[PATH_MAX];

		if (!disk_link(r, p, real))
			add_found(r, real, LAY_UBUNTU);
		return WALK_SKIP;
	}
	if (!S_ISDIR(e->st->st_mode))
		return WALK_SKIP;
	if (!strcmp(e->name, ".Private")) {
		add_found(r, p, LAY_UBUNTU);
		return WALK_SKIP;
	}
	if (syno_name(e->name) && has_ecryptfs_names(p)) {
		add_found(r, p, LAY_SYNO);
		return WALK_SKIP;
	}
	if (!strncmp(e->name, ECFS_FNEK_PREFIX, strlen(ECFS_FNEK_PREFIX)))
		return WALK_SKIP;		/* inside a lower tree already */
	if (e->depth > SEARCH_DEPTH || r->nfound == MAX_FOUND || skip_dir(p))
		return WALK_SKIP;
	return 0;
}

static void search(struct recover *r, const char *dir)
{
	static const struct walk_ops ops = { .visit = search_visit };
	struct search sr = { .r = r, .root = dir };
	int fd;

	if (r->nfound == MAX_FOUND || skip_dir(dir))
		return;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0)
		(void)walk_tree(fd, NULL, &ops, &sr);
}

static void discover(struct recover *r, const char *path)
{
	char p[PATH_MAX], real[PATH_MAX];

	join(p, path, ".ecryptfs");
	if (is_file(p)) {
		add_found(r, path, LAY_CROUTON);
		return;
	}
	if (syno_name(base_of(path))) {
		add_found(r, path, LAY_SYNO);
		return;
	}
	if (!strcmp(base_of(path), ".Private") || (has_ecryptfs_names(path) &&
						    !is_dir((join(p, path, ".Private"), p)))) {
		add_found(r, path, LAY_UBUNTU);
		return;
	}
	join(p, path, ".Private");
	if (!disk_link(r, p, real)) {		/* an Ubuntu home: a link */
		add_found(r, real, LAY_UBUNTU);
		return;
	}
	if (is_dir(p)) {
		add_found(r, p, LAY_UBUNTU);
		return;
	}
	if (!r->root)
		r->root = path;		/* absolute config symlinks resolve here */
	search(r, path);
}

/* --------------------------------------------------------------- sampling */

static void add_sig(uint8_t sigs[8][ECFS_SIG_BYTES], int *n, const uint8_t *sig)
{
	for (int i = 0; i < *n; i++)
		if (!memcmp(sigs[i], sig, ECFS_SIG_BYTES))
			return;
	if (*n < 8)
		memcpy(sigs[(*n)++], sig, ECFS_SIG_BYTES);
}

/* Cipher code of a Tag 70 name: after 0x46, the packet length (1 or 2
 * bytes) and the 8-byte sig. */
static int name_cipher(const char *lower)
{
	const char *b = lower + strlen(ECFS_FNEK_PREFIX);
	uint8_t raw[64];
	size_t blen = strlen(b);
	ssize_t n;
	int off;

	if (blen > 80)
		blen = 80;
	n = ecfs_b64_decode(b, blen, raw);
	if (n < 12 || raw[0] != 0x46)
		return -1;
	off = raw[1] < 192 ? 2 : 3;
	return off + ECFS_SIG_BYTES < n ? raw[off + ECFS_SIG_BYTES] : -1;
}

/* A regular file's Tag 3 packets into the sample. */
static void sample_file(struct sample *s, int dfd, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	struct ecfs_header *h;

	if (fd < 0)
		return;
	h = malloc(sizeof(*h));
	if (h && !ecfs_metadata_read(fd, ECFS_OPEN_XATTR_OK, h, NULL)) {
		for (unsigned i = 0; i < h->npackets; i++)
			if (h->packets[i].tag == ECFS_PKT_TAG3) {
				if (!s->nfile_sigs) {
					s->file_cipher = h->packets[i].cipher_code;
					s->file_ekey_len = h->packets[i].ekey_len;
				}
				add_sig(s->file_sigs, &s->nfile_sigs, h->packets[i].sig);
			}
		s->files++;
	}
	free(h);
	close(fd);
}

/* One entry of the lower tree: its name's and (a file's) packets'
 * signatures, up to WALK_MAX entries and 8 levels down. */
static int sample_visit(const struct walk_entry *e, void **child_data, void *ctx)
{
	struct sample *s = ctx;
	uint8_t sig[ECFS_SIG_BYTES];

	if (s->visited >= WALK_MAX)
		return -1;			/* enough: end the walk */
	s->visited++;
	if (s->names < SAMPLE_MAX && !ecfs_name_sig(e->name, sig)) {
		if (!s->nname_sigs) {
			int c = name_cipher(e->name);

			s->name_cipher = c < 0 ? 0 : (uint8_t)c;
			snprintf(s->name, sizeof(s->name), "%s", e->name);
		}
		add_sig(s->name_sigs, &s->nname_sigs, sig);
		s->names++;
	}
	if (!e->st)
		return WALK_SKIP;
	if (S_ISDIR(e->st->st_mode))
		return e->depth <= 8 ? 0 : WALK_SKIP;
	if (S_ISREG(e->st->st_mode) && s->files < SAMPLE_MAX)
		sample_file(s, e->dfd, e->name);
	return WALK_SKIP;
}

/* Sample the lower tree dfd (taken). */
static void sample_dir(struct sample *s, int dfd)
{
	static const struct walk_ops ops = { .visit = sample_visit };

	(void)walk_tree(dfd, NULL, &ops, s);
}

static bool sig_in(uint8_t sigs[][ECFS_SIG_BYTES], int n, const uint8_t *sig)
{
	for (int i = 0; i < n; i++)
		if (!memcmp(sigs[i], sig, ECFS_SIG_BYTES))
			return true;
	return false;
}

/* -------------------------------------------------------------- keys */

/* The secrets of one attempt, in locked memory. */
struct keys {
	char pass[ECFS_MAX_PASSPHRASE + 1];	/* mount passphrase / share password */
	char fpass[ECFS_MAX_PASSPHRASE + 1];	/* crouton filename passphrase */
	struct ecfs_key content, fnek_ascii, fnek_same;
};

static const char *hexs(const uint8_t *sig, char buf[ECFS_SIG_HEX])
{
	ecfs_sig_to_hex(sig, buf);
	return buf;
}

static int read_mount_pass(struct recover *r, struct keys *k, const char *prompt,
			   struct ob_err *err)
{
	struct secret s;
	int rc = secret_read(&r->ko.src, prompt, &s, err);

	if (rc)
		return rc;
	if (s.len > ECFS_MAX_PASSPHRASE) {
		secret_free(&s);
		return ob_err_set(err, -EINVAL, "passphrase longer than %d bytes",
				  ECFS_MAX_PASSPHRASE);
	}
	memcpy(k->pass, s.buf, s.len + 1);
	secret_free(&s);
	return 0;
}

/* K1: the passphrase(s) for one found directory.  *fnek_sep for crouton. */
static int get_passphrase(struct recover *r, struct found *f, struct keys *k,
			  bool *fnek_sep, struct ob_err *err)
{
	char wp[PATH_MAX];
	bool have_login = r->login.file || r->login.extpass;
	bool have_mount = r->ko.src.file || r->ko.src.extpass;

	*fnek_sep = false;
	if (f->lay == LAY_CROUTON) {
		uint8_t buf[4096];
		const uint8_t *parts[2];
		uint8_t salt[ECFS_SALT_BYTES];
		struct secret login;
		size_t len;
		int rc = lc_read_small(f->conf, buf, sizeof(buf), &len, err);

		if (!rc)
			rc = ecfs_crouton_keyfile_split(buf, len, parts, err);
		if (!rc)
			rc = lc_v1_salt(&r->ko, salt, err);
		if (rc) {
			snprintf(r->errobj, PATH_MAX, "%s", f->conf);
			return rc;
		}
		rc = secret_read(have_login ? &r->login : &r->ko.src,
				 "crouton encryption passphrase: ", &login, err);
		if (rc)
			return rc;
		rc = ecfs_wrapped_unwrap(parts[0], ECFS_CROUTON_WRAPPED, login.buf, login.len,
					 salt, k->pass, err);
		if (!rc)
			rc = ecfs_wrapped_unwrap(parts[1], ECFS_CROUTON_WRAPPED, login.buf,
						 login.len, salt, k->fpass, err);
		secret_free(&login);
		if (rc == -EKEYREJECTED)
			ob_err_set(err, rc, "wrong passphrase: it does not unwrap the chroot's keys "
				   "(it is the one you gave 'crouton -e')");
		snprintf(r->errobj, PATH_MAX, "%s", f->conf);
		*fnek_sep = !rc;
		return rc;
	}
	/* An explicit --key-file wins whatever the directory looks like (a
	 * share copied under another name is not "@Name@" any more). */
	if (f->lay == LAY_SYNO || r->keyfile) {
		const char *kf = r->keyfile ? r->keyfile : (f->keyfile[0] && !have_mount ?
							    f->keyfile : NULL);

		if (kf) {
			int rc = lc_unwrap_file(kf, have_login ? &r->login : &r->ko.src,
						&r->ko, "Password of the key file: ", k->pass, err);

			if (rc)
				snprintf(r->errobj, PATH_MAX, "%s", kf);
			else
				printf("Using the share password from %s\n", kf);
			return rc;
		}
		return read_mount_pass(r, k, "Share encryption key (password): ", err);
	}
	wp[0] = '\0';
	if (r->wrapped)
		snprintf(wp, sizeof(wp), "%s", r->wrapped);
	else if (f->conf[0])
		join(wp, f->conf, "wrapped-passphrase");
	if (wp[0] && !is_file(wp)) {
		if (r->wrapped)
			return ob_err_set(err, -ENOENT, "%s: no such file", wp);
		wp[0] = '\0';
	}
	if (have_login && !wp[0]) {
		snprintf(r->errobj, PATH_MAX, "%s", f->conf[0] ? f->conf : f->lower);
		return ob_err_set(err, -ENOENT, "no wrapped-passphrase file here, so a login "
				  "password cannot help: give the 32-hex mount passphrase "
				  "(--passphrase-file) or the file (--wrapped-passphrase)");
	}
	if (wp[0] && (have_login || (!have_mount && lc_have_tty() &&
				     lc_ask("Do you know your LOGIN password (the one you log in with)?",
					    true)))) {
		int rc = lc_unwrap_file(wp, &r->login, &r->ko, "LOGIN password: ", k->pass, err);

		if (rc)
			snprintf(r->errobj, PATH_MAX, "%s", wp);
		return rc;
	}
	return read_mount_pass(r, k, "MOUNT passphrase (32 hex digits, from "
			       "ecryptfs-unwrap-passphrase): ", err);
}

struct plan {
	uint8_t content_sig[ECFS_SIG_BYTES];
	bool fnek;
	uint8_t fnek_sig[ECFS_SIG_BYTES];
	size_t key_bytes, fn_key_bytes;
	const char *cipher;
	char salt_hex[ECFS_SIG_HEX];
};

/* The key size names were written with: blowfish, cast6 and twofish take
 * several, and Tag 70 does not say which (the decoder tries them all and
 * reports the one that validates).  guess when the name does not decode. */
static size_t name_key_bytes(const struct ecfs_key *key, const struct ecfs_cipher_info *ci,
			     size_t guess, const char *name)
{
	char plain[ECFS_LOWER_NAME_MAX];
	struct ecfs_fnek *fn = NULL;
	size_t used = guess;

	if (!name[0] || ecfs_fnek_new(key, ci, 0, &fn, NULL))
		return guess;
	if (ecfs_name_decrypt_sized(&fn, 1, name, plain, sizeof(plain), &used, NULL) < 0)
		used = guess;
	ecfs_fnek_free(fn);
	ob_wipe(plain, sizeof(plain));
	return used;
}

/* K2 and K3.  0 with a plan, or -EKEYREJECTED after printing why. */
static int check_keys(struct recover *r, struct found *f, struct keys *k, bool fnek_sep,
		      struct plan *pl)
{
	uint8_t salt[ECFS_SALT_BYTES], psig[2][ECFS_SIG_BYTES];
	char a[ECFS_SIG_HEX], b[ECFS_SIG_HEX], sigpath[PATH_MAX];
	struct ob_err err = {0};
	struct sample s = {0};
	const char *fp = fnek_sep ? k->fpass : k->pass;
	int npsig = 0, dfd;
	const struct ecfs_key *cands[2], *name_key = NULL;
	const char *cand_how[2];

	if (lc_v1_salt(&r->ko, salt, &err)) {
		cli_error(NULL, &err);
		return -EINVAL;
	}
	ecfs_sig_to_hex(salt, pl->salt_hex);
	if (ecfs_key_derive(&k->content, k->pass, strlen(k->pass), salt, &err) ||
	    ecfs_key_derive(&k->fnek_ascii, fp, strlen(fp), ecfs_fnek_salt, &err) ||
	    ecfs_key_derive(&k->fnek_same, fp, strlen(fp), salt, &err)) {
		cli_error(f->lower, &err);
		return -EINVAL;
	}
	sigpath[0] = '\0';
	if (r->sigfile)
		snprintf(sigpath, sizeof(sigpath), "%s", r->sigfile);
	else if (f->conf[0] && f->lay != LAY_CROUTON)
		join(sigpath, f->conf, "Private.sig");
	if (sigpath[0] && is_file(sigpath)) {
		char buf[256];
		size_t len;

		if (lc_read_small(sigpath, (uint8_t *)buf, sizeof(buf), &len, &err) ||
		    (npsig = ecfs_private_sig_parse(buf, len, psig, &err)) < 0) {
			cli_msg("%s: %s (ignoring it; the files' own signatures decide)",
				sigpath, err.msg);
			npsig = 0;
		}
	}
	dfd = open(f->lower, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		cli_msg("%s: %s", f->lower, strerror(errno));
		return -EINVAL;
	}
	sample_dir(&s, dfd);

	/* K2: content key. */
	memcpy(pl->content_sig, k->content.sig, ECFS_SIG_BYTES);
	if (s.nfile_sigs && !sig_in(s.file_sigs, s.nfile_sigs, k->content.sig)) {
		cli_msg("%s: wrong key: this passphrase gives key sig %s, but the files need %s%s",
			f->lower, hexs(k->content.sig, a), hexs(s.file_sigs[0], b),
			s.nfile_sigs > 1 ? " (or another of theirs)" : "");
		if (f->lay == LAY_UBUNTU || f->lay == LAY_904 || f->lay == LAY_BARE)
			cli_msg("try: the 32-hex MOUNT passphrase (--passphrase-file) instead of the "
				"login password, or the other way round (--login-password-file); a "
				"custom salt= in the old ~/.ecryptfsrc needs --ecryptfsrc or --salt");
		else if (f->lay == LAY_SYNO)
			cli_msg("try: the share's encryption key exactly as typed in DSM, or its "
				"exported .key file with --key-file");
		return -EKEYREJECTED;
	}
	if (npsig >= 1 && memcmp(psig[0], k->content.sig, ECFS_SIG_BYTES)) {
		if (!s.nfile_sigs) {
			cli_msg("%s: wrong key: this passphrase gives key sig %s, but Private.sig "
				"line 1 says %s (and there is no file to check against); try the "
				"other secret (login password vs 32-hex mount passphrase)",
				f->lower, hexs(k->content.sig, a), hexs(psig[0], b));
			return -EKEYREJECTED;
		}
		cli_msg("warning: %s line 1 says %s but the files use %s, which this key opens; "
			"going on", sigpath, hexs(psig[0], a), hexs(k->content.sig, b));
	}

	/* K3: filename key. */
	cands[0] = &k->fnek_ascii;
	cand_how[0] = "ecryptfs-utils filename key (salt \"99887766\")";
	cands[1] = &k->fnek_same;
	cand_how[1] = fnek_sep ? "filename passphrase with the default salt" :
			"content key used for names (mount.ecryptfs default)";
	if (f->lay == LAY_SYNO || fnek_sep) {	/* their usual first */
		const struct ecfs_key *t = cands[0];
		const char *th = cand_how[0];

		cands[0] = cands[1];
		cand_how[0] = cand_how[1];
		cands[1] = t;
		cand_how[1] = th;
	}
	pl->fnek = false;
	if (s.nname_sigs) {
		for (int i = 0; i < 2 && !pl->fnek; i++)
			if (sig_in(s.name_sigs, s.nname_sigs, cands[i]->sig)) {
				name_key = cands[i];
				pl->fnek = true;
				memcpy(pl->fnek_sig, cands[i]->sig, ECFS_SIG_BYTES);
				if (npsig == 2 && memcmp(psig[1], cands[i]->sig, ECFS_SIG_BYTES))
					cli_msg("warning: %s line 2 (filename key sig %s) does not match "
						"the names; they use %s, the %s; using that", sigpath,
						hexs(psig[1], a), hexs(cands[i]->sig, b), cand_how[i]);
			}
		if (!pl->fnek) {
			cli_msg("%s: wrong filename key: the names need sig %s; this passphrase "
				"gives %s (%s) and %s (%s)", f->lower, hexs(s.name_sigs[0], a),
				hexs(cands[0]->sig, b), cand_how[0],
				hexs(cands[1]->sig, (char[ECFS_SIG_HEX]){0}), cand_how[1]);
			cli_msg("try: the filename passphrase of this tree (crouton keeps a second "
				"one), or mount with 'ecfs mount -o nokey' to see what is readable");
			return -EKEYREJECTED;
		}
	} else if (npsig == 2) {
		for (int i = 0; i < 2 && !pl->fnek; i++)
			if (!memcmp(psig[1], cands[i]->sig, ECFS_SIG_BYTES)) {
				pl->fnek = true;
				memcpy(pl->fnek_sig, cands[i]->sig, ECFS_SIG_BYTES);
			}
		if (!pl->fnek) {
			cli_msg("warning: %s line 2 (filename key sig %s) matches neither filename "
				"key of this passphrase; there are no encrypted names to check; new "
				"names will be written with the ecryptfs-utils key", sigpath,
				hexs(psig[1], a));
			pl->fnek = true;
			memcpy(pl->fnek_sig, k->fnek_ascii.sig, ECFS_SIG_BYTES);
		}
	}
	{
		const struct ecfs_cipher_info *ci = s.file_cipher ?
			ecfs_cipher_by_code(s.file_cipher) : NULL;
		const struct ecfs_cipher_info *fci = s.name_cipher ?
			ecfs_cipher_by_code(s.name_cipher) : NULL;

		pl->cipher = ci ? ci->name : "aes";
		pl->key_bytes = ci ? ci->key_default : (f->lay == LAY_SYNO ? 32 : 16);
		if (ci && !strcmp(ci->name, "aes"))
			pl->key_bytes = s.file_cipher == ECFS_CIPHER_AES_256 ? 32 :
					s.file_cipher == ECFS_CIPHER_AES_192 ? 24 : 16;
		else if (ci && ecfs_cipher_by_name(ci->name, s.file_ekey_len))
			pl->key_bytes = s.file_ekey_len;	/* the FEK, unpadded */
		pl->fn_key_bytes = pl->key_bytes;
		if (fci && !strcmp(fci->name, "aes"))
			pl->fn_key_bytes = s.name_cipher == ECFS_CIPHER_AES_256 ? 32 :
					   s.name_cipher == ECFS_CIPHER_AES_192 ? 24 : 16;
		else if (fci && name_key)
			pl->fn_key_bytes = name_key_bytes(name_key, fci, pl->fn_key_bytes, s.name);
	}
	printf("Key check passed for %s: content key %s (%u file%s checked)",
	       f->lower, hexs(pl->content_sig, a), s.files, s.files == 1 ? "" : "s");
	if (pl->fnek)
		printf(", filename key %s (%u name%s checked)", hexs(pl->fnek_sig, b), s.names,
		       s.names == 1 ? "" : "s");
	printf("\n");
	return 0;
}

/* ----------------------------------------------------------------- mount */

static int do_mount(struct recover *r, struct found *f, struct keys *k, bool fnek_sep,
		    const struct plan *pl)
{
	char mnt[PATH_MAX], opts[512], a[ECFS_SIG_HEX], b[ECFS_SIG_HEX];
	const char *args[8];
	int n = 0, rc;
	bool made = false;

	if (r->mnt) {
		snprintf(mnt, sizeof(mnt), "%s", r->mnt);
		if (mkdir(mnt, 0700) == 0)
			made = true;
		else if (errno != EEXIST) {
			cli_msg("%s: cannot create the mount point: %s", mnt, strerror(errno));
			return EXIT_FAIL;
		}
	} else {
		const char *tmp = getenv("TMPDIR");

		snprintf(mnt, sizeof(mnt), "%s/" LC_RECOVER_DIR "XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(mnt)) {
			cli_msg("%s: cannot create a mount point: %s (give one with --mountpoint)",
				mnt, strerror(errno));
			return EXIT_FAIL;
		}
		made = true;
	}
	snprintf(opts, sizeof(opts), "%s,ecryptfs_sig=%s,ecryptfs_cipher=%s,ecryptfs_key_bytes=%zu",
		 r->rw ? "rw" : "ro", hexs(pl->content_sig, a), pl->cipher, pl->key_bytes);
	if (pl->fnek)
		snprintf(opts + strlen(opts), sizeof(opts) - strlen(opts),
			 ",ecryptfs_fnek_sig=%s,ecryptfs_fn_key_bytes=%zu",
			 hexs(pl->fnek_sig, b), pl->fn_key_bytes);
	args[n++] = "--salt";
	args[n++] = pl->salt_hex;
	args[n++] = "-o";
	args[n++] = opts;
	args[n] = NULL;
	rc = lc_spawn_mount(f->lower, mnt, k->pass, fnek_sep ? k->fpass : NULL, args);
	if (rc != EXIT_OK) {
		if (made)
			rmdir(mnt);
		cli_msg("%s: the mount failed (see above)", f->lower);
		return EXIT_FAIL;
	}
	printf("Success! Private data mounted %s at %s\n", r->rw ? "read-write" : "read-only",
	       mnt);
	printf("When done: ecfs umount %s\n", mnt);
	return EXIT_OK;
}

/* After a secret that does not unwrap: the key the files want, so that an
 * older password can be told from a wrong file. */
static void say_wanted_sig(struct found *f)
{
	struct sample s = {0};
	char a[ECFS_SIG_HEX];
	int dfd = open(f->lower, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0)
		return;
	sample_dir(&s, dfd);
	if (s.nfile_sigs)
		cli_msg("%s: the files want key sig %s%s (the mount passphrase that gives it)",
			f->lower, hexs(s.file_sigs[0], a),
			s.nfile_sigs > 1 ? " or another of theirs" : "");
}

static int recover_one(struct recover *r, struct found *f)
{
	struct ob_err err = {0};
	struct keys *k = ob_secure_alloc(sizeof(*k));
	struct plan pl;
	bool fnek_sep;
	int rc;

	if (!k) {
		cli_msg("out of locked memory");
		return EXIT_FAIL;
	}
	memset(k, 0, sizeof(*k));
	printf("Found %s: %s\n", layout_names[f->lay], f->lower);
	if (f->conf[0])
		printf("  keys from: %s\n", f->conf);
	if (f->keyfile[0])
		printf("  key file: %s\n", f->keyfile);
	fflush(stdout);
	r->errobj[0] = '\0';
	rc = get_passphrase(r, f, k, &fnek_sep, &err);
	if (rc) {
		cli_error(r->errobj[0] ? r->errobj : NULL, &err);
		if (rc == -EKEYREJECTED)
			say_wanted_sig(f);
		ob_secure_free(k);
		return EXIT_FAIL;
	}
	rc = check_keys(r, f, k, fnek_sep, &pl) ? EXIT_FAIL : EXIT_OK;
	if (rc == EXIT_OK && !r->check_only)
		rc = do_mount(r, f, k, fnek_sep, &pl);
	ob_secure_free(k);
	return rc;
}

/* ------------------------------------------------------------------ main */

static const char recover_help[] =
	"usage: ecfs recover [OPTIONS] [PATH]\n\n"
	"Open eCryptfs data without the kernel module, as ecryptfs-recover-private does:\n"
	"find the encrypted directory and the keys kept beside it, check the key against\n"
	"the stored signatures, and mount read-only at a fresh directory (printed).\n\n"
	"PATH (default: /) may be a .Private directory, /home/.ecryptfs/USER, a home\n"
	"directory, a Synology '@Share@' directory, a crouton chroot, or the root of a\n"
	"disk to search.  Understood layouts: Ubuntu/Mint homes and ~/Private\n"
	"(.ecryptfs/wrapped-passphrase, Private.sig), Ubuntu 9.04 (/var/lib/ecryptfs/USER),\n"
	"Synology/Asustor shares (share password or the exported .key file), crouton.\n\n"
	"Which secret?  The LOGIN password unwraps .ecryptfs/wrapped-passphrase; the\n"
	"MOUNT passphrase (32 hex digits) is what that file holds.  Either works.\n\n"
	"Options:\n"
	"  --login-password-file F  the login password (unwraps wrapped-passphrase; for a\n"
	"                           crouton chroot its passphrase; for a .key file its password)\n"
	"  --login-extpass CMD      the same from a command's output\n"
	"  --passphrase-file F      the MOUNT passphrase, or a NAS share's password\n"
	"  --extpass CMD            the same from a command's output\n"
	"  --wrapped-passphrase F   use this wrapped-passphrase file (e.g. from a backup)\n"
	"  --sig-file F             use this Private.sig\n"
	"  --key-file F             a Synology .key file (unwrapped without a password)\n"
	"  --mountpoint DIR         mount there (default: a new /tmp/ecfs-recover.XXXXXX)\n"
	"  --rw                     mount read-write\n"
	"  --check                  check the keys, do not mount\n"
	"  -y, --yes                do not ask which directory: take the first found\n"
	"  --salt HEX, --ecryptfsrc F  the content-key salt of an old ~/.ecryptfsrc\n"
	"  -h, --help               this help\n\n"
	"Without a passphrase option it asks on the terminal.\n";

enum { O_LOGIN = 1, O_LOGIN_EXT, O_WRAPPED, O_SIGF, O_KEYF, O_MNT, O_RW, O_CHECK, O_YES };

static const struct ob_opt recover_opts[] = {
	{ "login-password-file", 0, O_LOGIN, "F", NULL, OB_OPT_EXACT },
	{ "login-extpass", 0, O_LOGIN_EXT, "CMD", NULL, OB_OPT_EXACT },
	{ "wrapped-passphrase", 0, O_WRAPPED, "F", NULL, 0 },
	{ "sig-file", 0, O_SIGF, "F", NULL, 0 },
	{ "key-file", 0, O_KEYF, "F", NULL, OB_OPT_EXACT },
	{ "mountpoint", 0, O_MNT, "DIR", NULL, 0 },
	{ "rw", 0, O_RW, NULL, NULL, 0 },
	{ "check", 0, O_CHECK, NULL, NULL, 0 },
	{ "yes", 'y', O_YES, NULL, NULL, 0 },
	{ "passphrase-file", 0, KO_PASSFILE, "F", NULL, OB_OPT_EXACT },
	{ "extpass", 0, KO_EXTPASS, "CMD", NULL, OB_OPT_EXACT },
	{ "salt", 0, KO_SALT, "HEX", NULL, 0 },
	{ "ecryptfsrc", 0, KO_RC, "F", NULL, 0 },
	{ OB_OPT_END },
};

static int recover_opt(const struct ob_cmd *cmd, const struct ob_opt *opt, const char *arg,
		       void *ctx)
{
	struct recover *r = ctx;

	switch (opt->key) {
	case O_LOGIN: r->login.file = arg; break;
	case O_LOGIN_EXT: r->login.extpass = arg; break;
	case O_WRAPPED: r->wrapped = arg; break;
	case O_SIGF: r->sigfile = arg; break;
	case O_KEYF: r->keyfile = arg; break;
	case O_MNT: r->mnt = arg; break;
	case O_RW: r->rw = true; break;
	case O_CHECK: r->check_only = true; break;
	case O_YES: r->yes = true; break;
	default: return key_opts_handle(&r->ko, opt->key, arg);
	}
	return 0;
}

int cmd_recover(int argc, char **argv)
{
	struct recover *r = calloc(1, sizeof(*r));
	const struct cli_cmd cmd = {
		.prog = "ecfs recover", .help = recover_help, .own = recover_opts,
		.fn = recover_opt, .ctx = r,
	};
	const char *path = "/";
	char linked[PATH_MAX];
	int first, rc = EXIT_FAIL, tried = 0;

	if (!r)
		return EXIT_FAIL;
	first = cli_parse(&cmd, argc, argv, &rc);
	if (first < 0) {
		free(r);
		return rc;
	}
	rc = EXIT_FAIL;
	if (argc - first > 1)
		goto usage;
	if (first < argc)
		path = argv[first];
	if (path[0] == '/' && !disk_link(r, path, linked))
		path = linked;		/* ~/.Private itself, a link into the old disk */
	if (!is_dir(path)) {
		cli_msg("%s: not a directory (give a .Private directory, a home, or a disk's root)",
			path);
		free(r);
		return EXIT_FAIL;
	}
	discover(r, path);
	if (r->nfound == 0) {
		cli_msg("%s: no eCryptfs directory found (looked for .Private, @Share@ and crouton "
			"chroots, %d levels deep); give the encrypted directory itself", path,
			SEARCH_DEPTH);
		free(r);
		return EXIT_FAIL;
	}
	if (r->nfound > 1 && !r->yes && !lc_have_tty()) {
		cli_msg("%s: found %d eCryptfs directories; name one (or use --yes for the first):",
			path, r->nfound);
		for (int i = 0; i < r->nfound; i++)
			fprintf(stderr, "  %s\n", r->found[i].lower);
		free(r);
		return EXIT_FAIL;
	}
	for (int i = 0; i < r->nfound; i++) {
		char q[PATH_MAX + 64];

		if (r->nfound > 1 && !r->yes) {
			snprintf(q, sizeof(q), "Try to recover %s?", r->found[i].lower);
			if (!lc_ask(q, true))
				continue;
		}
		tried++;
		rc = recover_one(r, &r->found[i]);
		if (rc == EXIT_OK || r->yes || r->nfound == 1)
			break;
	}
	if (!tried)
		cli_msg("nothing recovered (every directory declined)");
	free(r);
	return rc;
usage:
	cli_msg("recover: bad command line (see 'ecfs recover --help')");
	free(r);
	return EXIT_USAGE;
}
