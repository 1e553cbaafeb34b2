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
 * Keys.  recover takes every key option "ecfs mount" takes, with the same
 * meaning (keyopts.c), plus the legacy secrets: the login password and
 * wrapped files.  --key-file F that holds a wrapped passphrase (a Synology
 * .key, a wrapped-passphrase v1/v2) rather than an ecfs key file is the
 * wrapped file K1 unwraps.  The key chain is made ONCE (lc_keys_make, the
 * mount's own cli_keys_load), checked, and handed to the mount: no secret
 * is read twice, so a pipe or an --extpass command works as for the mount.
 *
 * Key checks, in order; each failure names the key that is wrong:
 *   K1 the login password against the wrapped file's signature (skipped
 *      when only key files, GPG/TPM/RSA keys or keyring keys are given);
 *   K2 the content key against Private.sig line 1 and the Tag 3
 *      signatures (or Tag 1 RSA key ids) of sampled files (the files win:
 *      Private.sig may be stale);
 *   K3 the filename key: the chain's candidates (ASCII "99887766" salt as
 *      ecryptfs-utils, and the content key as mount.ecryptfs) against the
 *      Tag 70 signatures of sampled names, then Private.sig line 2.  A wrong
 *      line 2 is reported and the matching candidate is used.
 *
 * Divisions of this file: discovery (finding layouts under PATH), sampling
 * (files and names to check keys against), keys (K1-K3), mount (through
 * cli_mount_argv, as "ecfs mount", with the checked chain), main (the
 * command line).
 */
#include "cli.h"
#include "legacy-cli.h"
#include "walk.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
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
	char keyfile[PATH_MAX];		/* Synology .key found beside it */
	enum layout lay;
};

struct recover {
	struct key_opts ko;		/* the mount's key options */
	struct secret_source login;	/* --login-password-file/--login-extpass */
	const char *mnt, *wrapped, *sigfile, *root;
	const char *keyfile;		/* --key-file holding a wrapped passphrase */
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
	uint8_t pub_ids[8][ECFS_SIG_BYTES];	/* Tag 1: RSA key ids */
	int npub_ids;
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
		for (unsigned i = 0; i < h->npackets; i++) {
			if (h->packets[i].tag == ECFS_PKT_TAG1)
				add_sig(s->pub_ids, &s->npub_ids, h->packets[i].sig);
			if (h->packets[i].tag == ECFS_PKT_TAG3) {
				if (!s->nfile_sigs) {
					s->file_cipher = h->packets[i].cipher_code;
					s->file_ekey_len = h->packets[i].ekey_len;
				}
				add_sig(s->file_sigs, &s->nfile_sigs, h->packets[i].sig);
			}
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

static bool sig_in(const uint8_t sigs[][ECFS_SIG_BYTES], int n, const uint8_t *sig)
{
	for (int i = 0; i < n; i++)
		if (!memcmp(sigs[i], sig, ECFS_SIG_BYTES))
			return true;
	return false;
}

/* -------------------------------------------------------------- keys */

/* The secrets of one attempt, in locked memory, and the keys made from
 * them (the chain's own key memory is locked too). */
struct keys {
	char pass[ECFS_MAX_PASSPHRASE + 1];	/* mount passphrase / share password */
	char fpass[ECFS_MAX_PASSPHRASE + 1];	/* crouton filename passphrase */
	struct ecfs_keychain kc;
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

/* What the mount gets: the ciphers the sampled files and names were
 * written with, and the keys that opened them. */
struct plan {
	bool have_sig;			/* a passphrase key opens the files */
	uint8_t content_sig[ECFS_SIG_BYTES];
	bool content_pub;		/* ... or an RSA key does (Tag 1) */
	bool fnek;
	uint8_t fnek_sig[ECFS_SIG_BYTES];
	struct lc_ciphers ci;		/* as -o ecryptfs_cipher= and friends */
};

/* The ciphers of the sample: contents from the first file's Tag 3 packet,
 * names from the first name's Tag 70 packet (its key size is known for
 * AES only: the others' are taken from the files, checked by
 * names_key_bytes once there are keys). */
static void plan_ciphers(const struct found *f, const struct sample *s, struct plan *pl)
{
	const struct ecfs_cipher_info *ci = s->file_cipher ?
		ecfs_cipher_by_code(s->file_cipher) : NULL;
	const struct ecfs_cipher_info *fci = s->name_cipher ?
		ecfs_cipher_by_code(s->name_cipher) : NULL;
	size_t kb = ci ? ci->key_default : (f->lay == LAY_SYNO ? 32 : 16);

	if (ci && !strcmp(ci->name, "aes"))
		kb = s->file_cipher == ECFS_CIPHER_AES_256 ? 32 :
		     s->file_cipher == ECFS_CIPHER_AES_192 ? 24 : 16;
	else if (ci && ecfs_cipher_by_name(ci->name, s->file_ekey_len))
		kb = s->file_ekey_len;		/* the FEK, unpadded */
	pl->ci.cipher = ci ? ci->name : "aes";
	pl->ci.key_bytes = kb;
	pl->ci.fn_cipher = fci ? fci->name : pl->ci.cipher;
	pl->ci.fn_key_bytes = kb;
	if (fci && !strcmp(fci->name, "aes"))
		pl->ci.fn_key_bytes = s->name_cipher == ECFS_CIPHER_AES_256 ? 32 :
				      s->name_cipher == ECFS_CIPHER_AES_192 ? 24 : 16;
	else if (fci && !ecfs_cipher_by_name(fci->name, kb))
		pl->ci.fn_key_bytes = fci->key_default;
}

/* The key size the sampled name was written with: blowfish, cast6 and
 * twofish take several, and Tag 70 does not say which (the decoder tries
 * them all and reports the one that validates).  guess when it does not
 * decode. */
static size_t names_key_bytes(const struct ecfs_keychain *kc, const char *name, size_t guess)
{
	char plain[ECFS_LOWER_NAME_MAX];
	size_t used = guess;

	if (!name[0] || ecfs_name_decrypt_sized(kc->fneks, kc->nfneks, name, plain,
						sizeof(plain), &used, NULL) < 0)
		used = guess;
	ob_wipe(plain, sizeof(plain));
	return used;
}

/* The key chain, made once for this directory (lc_keys_make, the mount's
 * own way): the passphrase(s) of K1 when it ran, and every key option.
 * Names written with another key size than the files need a chain made
 * for that size: the only second one, from the same secrets in memory. */
static int make_keys(struct recover *r, struct found *f, struct keys *k, bool have_pass,
		     bool fnek_sep, const struct sample *s, struct plan *pl)
{
	struct ob_err err = {0};
	size_t kb;

	r->ko.lower = f->lower;
	if (lc_keys_make(&r->ko, have_pass ? k->pass : NULL, fnek_sep ? k->fpass : NULL,
			 &pl->ci, &k->kc, &err))
		goto fail;
	if (!strcmp(pl->ci.fn_cipher, "aes"))
		return 0;
	kb = names_key_bytes(&k->kc, s->name, pl->ci.fn_key_bytes);
	if (kb == pl->ci.fn_key_bytes || !have_pass || key_opts_ext_count(&r->ko))
		return 0;
	pl->ci.fn_key_bytes = kb;
	ecfs_keychain_free(&k->kc);
	if (lc_keys_make(&r->ko, k->pass, fnek_sep ? k->fpass : NULL, &pl->ci, &k->kc, &err))
		goto fail;
	return 0;
fail:
	cli_error(f->lower, &err);
	return -EINVAL;
}

/* "this passphrase gives key sig X" (one key) or "the keys given have
 * sigs X, Y" (the chain's passphrase keys), for messages. */
static const char *chain_sigs(const struct ecfs_keychain *kc, char *buf, size_t len)
{
	size_t n = ecfs_keyset_count(kc->keys), o;
	char a[ECFS_SIG_HEX];

	if (n == 1 && !kc->npub)
		o = (size_t)snprintf(buf, len, "this passphrase gives key sig ");
	else
		o = (size_t)snprintf(buf, len, "the keys given have sig%s ", n == 1 ? "" : "s");
	if (!n)
		snprintf(buf + o, len - o, "none (RSA keys only)");
	for (size_t i = 0; i < n && i < 4 && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? ", " : "",
				      hexs(ecfs_keyset_get(kc->keys, i)->sig, a));
	return buf;
}

/* K2: the content key.  A passphrase key whose signature the files carry
 * (Tag 3), else an RSA private key they name (Tag 1); with no file to
 * check, the main key.  0, or -EKEYREJECTED after saying why. */
static int check_content(struct found *f, const struct ecfs_keychain *kc,
			 const struct sample *s, const uint8_t psig[][ECFS_SIG_BYTES], int npsig,
			 const char *sigpath, struct plan *pl)
{
	char a[ECFS_SIG_HEX], b[ECFS_SIG_HEX], have[160];
	size_t n = ecfs_keyset_count(kc->keys);

	for (size_t i = 0; i < n && !pl->have_sig; i++)
		if (sig_in(s->file_sigs, s->nfile_sigs,
			   ecfs_keyset_get(kc->keys, i)->sig)) {
			pl->have_sig = true;
			memcpy(pl->content_sig, ecfs_keyset_get(kc->keys, i)->sig, ECFS_SIG_BYTES);
		}
	for (size_t i = 0; i < kc->npub && !pl->have_sig && !pl->content_pub; i++)
		if (ecfs_pubkey_has_private(kc->pub[i]) &&
		    sig_in(s->pub_ids, s->npub_ids,
			   ecfs_pubkey_id(kc->pub[i]))) {
			pl->content_pub = true;
			memcpy(pl->content_sig, ecfs_pubkey_id(kc->pub[i]), ECFS_SIG_BYTES);
		}
	if (!s->nfile_sigs && !s->npub_ids && n) {
		pl->have_sig = true;
		memcpy(pl->content_sig, ecfs_keyset_get(kc->keys, 0)->sig, ECFS_SIG_BYTES);
	}
	if ((s->nfile_sigs || s->npub_ids) && !pl->have_sig && !pl->content_pub) {
		cli_msg("%s: wrong key: %s, but the files need %s%s",
			f->lower, chain_sigs(kc, have, sizeof(have)),
			hexs(s->nfile_sigs ? s->file_sigs[0] : s->pub_ids[0], b),
			s->nfile_sigs + s->npub_ids > 1 ? " (or another of theirs)" : "");
		if (f->lay == LAY_UBUNTU || f->lay == LAY_904 || f->lay == LAY_BARE)
			cli_msg("try: the 32-hex MOUNT passphrase (--passphrase-file) instead of the "
				"login password, or the other way round (--login-password-file); a "
				"custom salt= in the old ~/.ecryptfsrc needs --ecryptfsrc or --salt");
		else if (f->lay == LAY_SYNO)
			cli_msg("try: the share's encryption key exactly as typed in DSM, or its "
				"exported .key file with --key-file");
		return -EKEYREJECTED;
	}
	if (npsig >= 1 && pl->have_sig && memcmp(psig[0], pl->content_sig, ECFS_SIG_BYTES) &&
	    !ecfs_keyset_find(kc->keys, psig[0])) {
		if (!s->nfile_sigs) {
			cli_msg("%s: wrong key: %s, but Private.sig "
				"line 1 says %s (and there is no file to check against); try the "
				"other secret (login password vs 32-hex mount passphrase)",
				f->lower, chain_sigs(kc, have, sizeof(have)), hexs(psig[0], b));
			return -EKEYREJECTED;
		}
		cli_msg("warning: %s line 1 says %s but the files use %s, which this key opens; "
			"going on", sigpath, hexs(psig[0], a), hexs(pl->content_sig, b));
	}
	return 0;
}

/* A name-key candidate of the chain made with the content salt (its
 * signature is its owner's: mount.ecryptfs, crouton's filename
 * passphrase), not with ecryptfs-utils' FNEK salt. */
static bool fnek_same_salt(const struct ecfs_keychain *kc, size_t i)
{
	return !memcmp(ecfs_fnek_sig(kc->fneks[i]), kc->fnek_owner[i], ECFS_SIG_BYTES);
}

static const char *fnek_how(bool same, bool fnek_sep)
{
	if (!same)
		return "ecryptfs-utils filename key (salt \"99887766\")";
	return fnek_sep ? "filename passphrase with the default salt" :
			  "content key used for names (mount.ecryptfs default)";
}

/* The chain's candidate whose signature the names carry, the usual kind of
 * the layout first; -1 if none. */
static int find_name_key(const struct ecfs_keychain *kc, const struct sample *s, bool pref_same)
{
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < kc->nfneks; i++)
			if ((fnek_same_salt(kc, i) == pref_same) == (pass == 0) &&
			    sig_in(s->name_sigs, s->nname_sigs,
				   ecfs_fnek_sig(kc->fneks[i])))
				return (int)i;
	return -1;
}

/* K3: the filename key.  0, or -EKEYREJECTED after saying why. */
static int check_names(struct found *f, const struct ecfs_keychain *kc, const struct sample *s,
		       const uint8_t psig[][ECFS_SIG_BYTES], int npsig, const char *sigpath,
		       bool fnek_sep, struct plan *pl)
{
	char a[ECFS_SIG_HEX], b[ECFS_SIG_HEX], cands[128];
	int i = find_name_key(kc, s, f->lay == LAY_SYNO || fnek_sep);
	size_t o = 0;

	if (s->nname_sigs && i >= 0) {
		pl->fnek = true;
		memcpy(pl->fnek_sig, ecfs_fnek_sig(kc->fneks[i]), ECFS_SIG_BYTES);
		if (npsig == 2 && memcmp(psig[1], pl->fnek_sig, ECFS_SIG_BYTES))
			cli_msg("warning: %s line 2 (filename key sig %s) does not match "
				"the names; they use %s, the %s; using that", sigpath,
				hexs(psig[1], a), hexs(pl->fnek_sig, b),
				fnek_how(fnek_same_salt(kc, (size_t)i), fnek_sep));
		return 0;
	}
	if (s->nname_sigs) {
		cands[0] = '\0';
		for (size_t j = 0; j < kc->nfneks && o < sizeof(cands) - 20; j++)
			if (!strstr(cands, hexs(ecfs_fnek_sig(kc->fneks[j]), a)))
				o += (size_t)snprintf(cands + o, sizeof(cands) - o, "%s%s",
						      o ? ", " : "", a);
		cli_msg("%s: wrong filename key: the names need sig %s; the keys given make "
			"filename keys %s", f->lower, hexs(s->name_sigs[0], a),
			cands[0] ? cands : "none");
		cli_msg("try: the filename passphrase of this tree (crouton keeps a second "
			"one), or mount with 'ecfs mount -o nokey' to see what is readable");
		return -EKEYREJECTED;
	}
	if (npsig < 2)
		return 0;
	for (size_t j = 0; j < kc->nfneks && !pl->fnek; j++)
		if (!memcmp(psig[1], ecfs_fnek_sig(kc->fneks[j]), ECFS_SIG_BYTES)) {
			pl->fnek = true;
			memcpy(pl->fnek_sig, psig[1], ECFS_SIG_BYTES);
		}
	for (size_t j = 0; j < kc->nfneks && !pl->fnek; j++)
		if (!fnek_same_salt(kc, j)) {
			cli_msg("warning: %s line 2 (filename key sig %s) matches no filename "
				"key of the keys given; there are no encrypted names to check; new "
				"names will be written with the ecryptfs-utils key", sigpath,
				hexs(psig[1], a));
			pl->fnek = true;
			memcpy(pl->fnek_sig, ecfs_fnek_sig(kc->fneks[j]), ECFS_SIG_BYTES);
		}
	return 0;
}

/* Private.sig beside the directory (or --sig-file): its signatures. */
static int read_private_sig(struct recover *r, struct found *f, char *sigpath,
			    uint8_t psig[2][ECFS_SIG_BYTES])
{
	struct ob_err err = {0};
	char buf[256];
	size_t len;
	int npsig;

	sigpath[0] = '\0';
	if (r->sigfile)
		snprintf(sigpath, PATH_MAX, "%s", r->sigfile);
	else if (f->conf[0] && f->lay != LAY_CROUTON)
		join(sigpath, f->conf, "Private.sig");
	if (!sigpath[0] || !is_file(sigpath))
		return 0;
	if (lc_read_small(sigpath, (uint8_t *)buf, sizeof(buf), &len, &err) ||
	    (npsig = ecfs_private_sig_parse(buf, len, psig, &err)) < 0) {
		cli_msg("%s: %s (ignoring it; the files' own signatures decide)", sigpath, err.msg);
		return 0;
	}
	return npsig;
}

/* K2 and K3 against the sample s.  0 with a plan, or -EKEYREJECTED after
 * printing why. */
static int check_keys(struct recover *r, struct found *f, const struct ecfs_keychain *kc,
		      const struct sample *s, bool fnek_sep, struct plan *pl)
{
	uint8_t psig[2][ECFS_SIG_BYTES];
	char a[ECFS_SIG_HEX], b[ECFS_SIG_HEX], sigpath[PATH_MAX];
	int npsig = read_private_sig(r, f, sigpath, psig);

	if (check_content(f, kc, s, (const uint8_t (*)[ECFS_SIG_BYTES])psig, npsig, sigpath, pl) ||
	    check_names(f, kc, s, (const uint8_t (*)[ECFS_SIG_BYTES])psig, npsig, sigpath,
			fnek_sep, pl))
		return -EKEYREJECTED;
	printf("Key check passed for %s: %s %s (%u file%s checked)", f->lower,
	       pl->content_pub ? "RSA key" : "content key", hexs(pl->content_sig, a), s->files,
	       s->files == 1 ? "" : "s");
	if (pl->fnek)
		printf(", filename key %s (%u name%s checked)", hexs(pl->fnek_sig, b), s->names,
		       s->names == 1 ? "" : "s");
	printf("\n");
	return 0;
}

/* ----------------------------------------------------------------- mount */

/* The mount point: --mountpoint (made if missing) or a fresh temporary
 * directory.  *made when we made it. */
static int mount_point(struct recover *r, char mnt[PATH_MAX], bool *made)
{
	const char *tmp = getenv("TMPDIR");

	*made = false;
	if (r->mnt) {
		snprintf(mnt, PATH_MAX, "%s", r->mnt);
		if (mkdir(mnt, 0700) == 0)
			*made = true;
		else if (errno != EEXIST) {
			cli_msg("%s: cannot create the mount point: %s", mnt, strerror(errno));
			return -1;
		}
		return 0;
	}
	snprintf(mnt, PATH_MAX, "%s/" LC_RECOVER_DIR "XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(mnt)) {
		cli_msg("%s: cannot create a mount point: %s (give one with --mountpoint)",
			mnt, strerror(errno));
		return -1;
	}
	*made = true;
	return 0;
}

/* Mount with the chain the check used: the mount reads no secret again. */
static int do_mount(struct recover *r, struct found *f, struct keys *k, const struct plan *pl)
{
	char mnt[PATH_MAX], opts[512], a[ECFS_SIG_HEX], b[ECFS_SIG_HEX];
	const char *args[4];
	bool made;
	int rc;

	if (mount_point(r, mnt, &made))
		return EXIT_FAIL;
	snprintf(opts, sizeof(opts), "%s,ecryptfs_cipher=%s,ecryptfs_key_bytes=%zu,"
		 "ecryptfs_fn_cipher=%s,ecryptfs_fn_key_bytes=%zu", r->rw ? "rw" : "ro",
		 pl->ci.cipher, pl->ci.key_bytes, pl->ci.fn_cipher, pl->ci.fn_key_bytes);
	if (pl->have_sig)
		snprintf(opts + strlen(opts), sizeof(opts) - strlen(opts), ",ecryptfs_sig=%s",
			 hexs(pl->content_sig, a));
	if (pl->fnek)
		snprintf(opts + strlen(opts), sizeof(opts) - strlen(opts), ",ecryptfs_fnek_sig=%s",
			 hexs(pl->fnek_sig, b));
	args[0] = "-o";
	args[1] = opts;
	args[2] = NULL;
	rc = lc_spawn_mount(f->lower, mnt, &k->kc, args);
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

/* K1 runs unless the key options alone name keys (a key file, GPG, TPM,
 * RSA, the keyring) and nothing asks for a passphrase or a wrapped file. */
static bool wants_passphrase(const struct recover *r, const struct found *f)
{
	const struct key_opts *ko = &r->ko;

	if (ko->src.file || ko->src.extpass || r->login.file || r->login.extpass ||
	    r->wrapped || r->keyfile || f->lay == LAY_CROUTON)
		return true;
	return !key_opts_ext_count(ko) && !ko->nrsa && !ko->nkey_sigs;
}

/* K1, the key chain, K2, K3 and the mount, for one directory. */
static int recover_keys(struct recover *r, struct found *f, struct keys *k)
{
	struct ob_err err = {0};
	struct sample s = {0};
	struct plan pl = {0};
	bool fnek_sep = false, have_pass = wants_passphrase(r, f);
	int rc, dfd;

	r->errobj[0] = '\0';
	rc = have_pass ? get_passphrase(r, f, k, &fnek_sep, &err) : 0;
	if (rc) {
		cli_error(r->errobj[0] ? r->errobj : NULL, &err);
		if (rc == -EKEYREJECTED)
			say_wanted_sig(f);
		return EXIT_FAIL;
	}
	dfd = open(f->lower, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		cli_msg("%s: %s", f->lower, strerror(errno));
		return EXIT_FAIL;
	}
	sample_dir(&s, dfd);
	plan_ciphers(f, &s, &pl);
	if (make_keys(r, f, k, have_pass, fnek_sep, &s, &pl) ||
	    check_keys(r, f, &k->kc, &s, fnek_sep, &pl))
		return EXIT_FAIL;
	return r->check_only ? EXIT_OK : do_mount(r, f, k, &pl);
}

static int recover_one(struct recover *r, struct found *f)
{
	struct keys *k = ob_secure_alloc(sizeof(*k));
	int rc;

	if (!k) {
		cli_msg("out of locked memory");
		return EXIT_FAIL;
	}
	printf("Found %s: %s\n", layout_names[f->lay], f->lower);
	if (f->conf[0])
		printf("  keys from: %s\n", f->conf);
	if (f->keyfile[0])
		printf("  key file: %s\n", f->keyfile);
	fflush(stdout);
	rc = recover_keys(r, f, k);
	ecfs_keychain_free(&k->kc);
	ob_secure_free(k);
	return rc;
}

/* ------------------------------------------------------------------ main */

static const char recover_help[] =
	"usage: ecfs recover [OPTIONS] [KEY OPTIONS] [PATH]\n\n"
	"Open eCryptfs data without the kernel module, as ecryptfs-recover-private does:\n"
	"find the encrypted directory and the keys kept beside it, check the key against\n"
	"the stored signatures, and mount read-only at a fresh directory (printed).\n\n"
	"PATH (default: /) may be a .Private directory, /home/.ecryptfs/USER, a home\n"
	"directory, a Synology '@Share@' directory, a crouton chroot, or the root of a\n"
	"disk to search.  Understood layouts: Ubuntu/Mint homes and ~/Private\n"
	"(.ecryptfs/wrapped-passphrase, Private.sig), Ubuntu 9.04 (/var/lib/ecryptfs/USER),\n"
	"Synology/Asustor shares (share password or the exported .key file), crouton.\n\n"
	"Which secret?  The LOGIN password unwraps .ecryptfs/wrapped-passphrase; the\n"
	"MOUNT passphrase (32 hex digits) is what that file holds.  Either works.\n"
	"The key options are the mount's, with the same meaning (ecfs mount --help):\n"
	"--passphrase-file/--extpass give the MOUNT passphrase (or a NAS share's\n"
	"password); --key-file, --gpg-key, --tpm-key, --rsa-key, --key-sig add keys.\n"
	"With only such keys (no passphrase option), no passphrase is asked for.\n"
	"--key-file F is recognised by its content: an ecfs key file (64 hex digits)\n"
	"is a key as for the mount; a Synology/Asustor .key or a wrapped-passphrase\n"
	"file (v1 or v2) is unwrapped (a .key without a password, a wrapped-passphrase\n"
	"with the login password).  A pipe or FIFO is read once, as an ecfs key file.\n"
	"Every secret is read once: the keys checked are the keys mounted with.\n\n"
	"Options:\n"
	"  --login-password-file F  the login password (unwraps wrapped-passphrase; for a\n"
	"                           crouton chroot its passphrase; for a .key file its password)\n"
	"  --login-extpass CMD      the same from a command's output\n"
	"  --wrapped-passphrase F   use this wrapped-passphrase file (e.g. from a backup)\n"
	"  --sig-file F             use this Private.sig\n"
	"  --mountpoint DIR         mount there (default: a new /tmp/ecfs-recover.XXXXXX)\n"
	"  --rw                     mount read-write\n"
	"  --check                  check the keys, do not mount\n"
	"  -y, --yes                do not ask which directory: take the first found\n"
	"Without a passphrase or key option it asks on the terminal.\n";

enum { O_LOGIN = 1, O_LOGIN_EXT, O_WRAPPED, O_SIGF, O_MNT, O_RW, O_CHECK, O_YES };

static const struct ob_opt recover_opts[] = {
	{ "login-password-file", 0, O_LOGIN, "F", NULL, OB_OPT_EXACT },
	{ "login-extpass", 0, O_LOGIN_EXT, "CMD", NULL, OB_OPT_EXACT },
	{ "wrapped-passphrase", 0, O_WRAPPED, "F", NULL, 0 },
	{ "sig-file", 0, O_SIGF, "F", NULL, 0 },
	{ "mountpoint", 0, O_MNT, "DIR", NULL, 0 },
	{ "rw", 0, O_RW, NULL, NULL, 0 },
	{ "check", 0, O_CHECK, NULL, NULL, 0 },
	{ "yes", 'y', O_YES, NULL, NULL, 0 },
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
	case O_MNT: r->mnt = arg; break;
	case O_RW: r->rw = true; break;
	case O_CHECK: r->check_only = true; break;
	case O_YES: r->yes = true; break;
	}
	return 0;
}

/* Does the regular file path hold a wrapped passphrase (a Synology/Asustor
 * .key, a wrapped-passphrase v1/v2) rather than an ecfs key file (64 hex
 * digits)?  Anything else is left to the key-file layer to judge. */
static bool holds_wrapped_passphrase(const char *path)
{
	uint8_t *buf = ob_secure_alloc(ECFS_WRAPPED_MAX + 1);
	size_t len = 0, hex = 0;
	bool wrapped = false;

	if (!buf || !is_file(path) ||
	    lc_read_small(path, buf, ECFS_WRAPPED_MAX + 1, &len, NULL)) {
		ob_secure_free(buf);
		return false;
	}
	while (hex < len && isxdigit((unsigned char)buf[hex]))
		hex++;
	if (!(hex == ECFS_KEYFILE_CHARS && (len == hex || (len == hex + 1 && buf[hex] == '\n'))))
		wrapped = ecfs_syno_key_probe(buf, len) || ecfs_wrapped_version(buf, len, NULL) > 0;
	ob_secure_free(buf);
	return wrapped;
}

/* --key-file means what it means to the mount, except that a wrapped
 * passphrase given to it (issue 20: an explicit Synology .key) is the
 * one K1 unwraps.  At most one of those. */
static int sort_key_files(struct recover *r)
{
	struct key_opts *ko = &r->ko;
	int n = 0;

	for (int i = 0; i < ko->nkey_files; i++) {
		const char *kf = ko->key_files[i];

		if (!holds_wrapped_passphrase(kf)) {
			ko->key_files[n++] = kf;
			continue;
		}
		if (r->keyfile) {
			cli_msg("%s: a second wrapped key file (after %s); give one", kf, r->keyfile);
			return -1;
		}
		r->keyfile = kf;
	}
	ko->nkey_files = n;
	return 0;
}

int cmd_recover(int argc, char **argv)
{
	struct recover *r = calloc(1, sizeof(*r));
	const struct cli_cmd cmd = {
		.prog = "ecfs recover", .help = recover_help, .own = recover_opts,
		.ko = &r->ko, .fn = recover_opt, .ctx = r,
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
	if (argc - first > 1 || sort_key_files(r))
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
