// SPDX-License-Identifier: MIT
/* mount-opts.c - the -o options of "ecfs mount": one ob/opt.h table gives
 * each option's name, whether it takes a value, and its help line; the
 * shared parser (ob_opt_parse_list) splits the list and checks the shape.
 *
 * Three groups:
 *   - the kernel's eCryptfs options (§8), same names, same defaults;
 *   - key sources for the mount.fuse3 / fstab form, where no --options can
 *     be given: they name a file or a command, never the secret itself;
 *   - generic mount options handed to libfuse (ro, allow_other, ...), and
 *     fstab words that mean nothing here (ignored).
 * An unknown option is an error that names it (unlike the kernel, which
 * only warns).
 */
#include "cmd-mount.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ob/opt.h"

enum {
	MO_SIG = 1, MO_CIPHER, MO_KEY_BYTES, MO_FNEK_SIG, MO_FN_CIPHER, MO_FN_KEY_BYTES,
	MO_XATTR, MO_PASSTHROUGH, MO_VIEW, MO_CHECK_RUID, MO_NEW_FILES, MO_NOKEY,
	MO_PASSFILE, MO_EXTPASS, MO_EXTRA, MO_SALT, MO_RC, MO_FNEK, MO_FNEK_SAME,
	MO_TIMEOUT, MO_SPIN, MO_READAHEAD, MO_IO_URING, MO_COLOCATE, MO_RO, MO_RW, MO_ALLOW_OTHER,
	MO_ALLOW_ROOT, MO_FUSE, MO_IGNORED,
};

/* A flag handed to libfuse as it is, or accepted and ignored: not listed. */
#define FUSE_FLAG(n)	{ n, 0, MO_FUSE, NULL, NULL, OB_OPT_HIDDEN }
#define FUSE_VALUE(n)	{ n, 0, MO_FUSE, "V", NULL, OB_OPT_HIDDEN }
#define IGNORED(n)	{ n, 0, MO_IGNORED, NULL, NULL, OB_OPT_HIDDEN }

static const struct ob_opt mount_opt_table[] = {
	{ "ecryptfs_sig", 0, MO_SIG, "SIG",
	  "a key that wraps the FEK of new files (repeatable; one packet each;\n"
	  "default: every key given)", 0 },
	{ "sig", 0, MO_SIG, "SIG", NULL, OB_OPT_HIDDEN },
	{ "ecryptfs_cipher", 0, MO_CIPHER, "NAME",
	  "content cipher of new files: aes (default), blowfish, des3_ede,\n"
	  "cast5, cast6, twofish", 0 },
	{ "cipher", 0, MO_CIPHER, "NAME", NULL, OB_OPT_HIDDEN },
	{ "ecryptfs_key_bytes", 0, MO_KEY_BYTES, "N",
	  "key size of new files (default: the cipher's; aes 16)", 0 },
	{ "ecryptfs_fnek_sig", 0, MO_FNEK_SIG, "SIG",
	  "encrypt names with this filename key (or --fnek)", 0 },
	{ "ecryptfs_fn_cipher", 0, MO_FN_CIPHER, "NAME", "name cipher (default: ecryptfs_cipher)", 0 },
	{ "ecryptfs_fn_key_bytes", 0, MO_FN_KEY_BYTES, "N",
	  "name key size (default: ecryptfs_key_bytes)", 0 },
	{ "ecryptfs_xattr_metadata", 0, MO_XATTR, NULL,
	  "new files keep their header in the user.ecryptfs xattr", 0 },
	{ "ecryptfs_passthrough", 0, MO_PASSTHROUGH, NULL,
	  "lower files without eCryptfs metadata are plaintext files", 0 },
	{ "ecryptfs_encrypted_view", 0, MO_VIEW, NULL,
	  "read-only view of the lower bytes, for backups (no key needed;\n"
	  "xattr-metadata files get their header put in front)", 0 },
	{ "ecryptfs_check_dev_ruid", 0, MO_CHECK_RUID, NULL,
	  "refuse unless LOWER belongs to the real uid", 0 },
	IGNORED("ecryptfs_unlink_sigs"),
	IGNORED("ecryptfs_mount_auth_tok_only"),
	{ "new_files", 0, MO_NEW_FILES, "MODE",
	  "new regular files: encrypt (default), plain (needs\n"
	  "ecryptfs_passthrough) or deny (EACCES)", 0 },
	{ "nokey", 0, MO_NOKEY, NULL,
	  "no passphrase: encrypted files give ENOKEY, names stay encrypted,\n"
	  "new_files defaults to deny", 0 },
	{ "passphrase_file", 0, MO_PASSFILE, "F", "read the passphrase from file F (for fstab)", 0 },
	{ "extpass", 0, MO_EXTPASS, "CMD", "run CMD for the passphrase (for fstab; no commas)", 0 },
	{ "extra_passphrase_file", 0, MO_EXTRA, "F", "one more key (repeatable)", 0 },
	{ "salt", 0, MO_SALT, "HEX", "the key salt (default: ~/.ecryptfsrc, else 0011223344556677)", 0 },
	{ "passphrase_salt", 0, MO_SALT, "HEX", NULL, OB_OPT_HIDDEN },
	{ "ecryptfsrc", 0, MO_RC, "F", "read salt= from F", 0 },
	{ "fnek", 0, MO_FNEK, NULL, "encrypt names (the ecryptfs-add-passphrase --fnek key)", 0 },
	{ "fnek_same_key", 0, MO_FNEK_SAME, NULL, "encrypt names with the content key (mount.ecryptfs)", 0 },
	{ "timeout", 0, MO_TIMEOUT, "SECONDS", "kernel attribute and entry cache time (default 1)", 0 },
	{ "spin", 0, MO_SPIN, "USEC",
	  "after a request that changes the tree, poll this long for the next\n"
	  "one before sleeping (default 50, none on battery; 0 = never)", 0 },
	{ "readahead", 0, MO_READAHEAD, "KIB",
	  "read-ahead window of the mount (default 1024, so sequential reads\n"
	  "come as 1 MiB requests; 0 = the kernel's 128 KiB; root only)", 0 },
	{ "io_uring", 0, MO_IO_URING, "auto|off",
	  "take requests through FUSE over io_uring when the kernel offers it\n"
	  "(fuse module parameter enable_uring=1, Linux 6.14+; default auto)", 0 },
	{ "colocate", 0, MO_COLOCATE, "auto|off",
	  "through /dev/fuse, serve a program on the CPU it runs on (default\n"
	  "auto: when the daemon may raise its priority again, e.g. root)", 0 },
	{ "ro", 0, MO_RO, NULL, "read-only", 0 },
	{ "rw", 0, MO_RW, NULL, NULL, OB_OPT_HIDDEN },
	{ "allow_other", 0, MO_ALLOW_OTHER, NULL,
	  "let other users in (non-root: user_allow_other in fuse.conf)", 0 },
	{ "allow_root", 0, MO_ALLOW_ROOT, NULL, NULL, OB_OPT_HIDDEN },
	FUSE_FLAG("auto_unmount"),
	FUSE_FLAG("dev"), FUSE_FLAG("nodev"), FUSE_FLAG("suid"), FUSE_FLAG("nosuid"),
	FUSE_FLAG("exec"), FUSE_FLAG("noexec"), FUSE_FLAG("atime"), FUSE_FLAG("noatime"),
	FUSE_FLAG("nodiratime"), FUSE_FLAG("relatime"), FUSE_FLAG("norelatime"),
	FUSE_FLAG("strictatime"), FUSE_FLAG("sync"), FUSE_FLAG("async"), FUSE_FLAG("dirsync"),
	FUSE_VALUE("fsname"), FUSE_VALUE("subtype"),
	IGNORED("default_permissions"),
	IGNORED("defaults"), IGNORED("auto"), IGNORED("noauto"), IGNORED("user"),
	IGNORED("users"), IGNORED("nouser"), IGNORED("owner"), IGNORED("group"),
	IGNORED("_netdev"), IGNORED("nofail"),
	{ "comment", 0, MO_IGNORED, "V", NULL, OB_OPT_HIDDEN },
	{ OB_OPT_END },
};

static const struct ob_opt *const mount_opt_tables[] = { mount_opt_table, NULL };

static const struct ob_cmd mount_opt_cmd = {
	.prog = "ecfs mount",
	.tables = mount_opt_tables,
	.usage_status = EXIT_USAGE,
};

static int bad(const char *name, const char *val, const char *why)
{
	cli_msg("mount option '%s=%s': %s", name, val, why);
	return EXIT_USAGE;
}

static int set_sig(uint8_t (*sigs)[ECFS_SIG_BYTES], int *n, const char *name, const char *val)
{
	if (*n == EF_MAX_SIGS)
		return bad(name, val, "too many keys");
	if (ecfs_sig_from_hex(val, sigs[*n]))
		return bad(name, val, "a key signature is 16 hex digits");
	(*n)++;
	return 0;
}

/* A decimal number in [min, max], or a usage error with why said. */
static int number(const char *name, const char *val, uint64_t min, uint64_t max,
		  const char *why, uint64_t *out)
{
	return ob_parse_uint(val, min, max, out) ? bad(name, val, why) : 0;
}

static int key_size(const char *name, const char *val, size_t *out)
{
	uint64_t v;
	int rc = number(name, val, 1, ECFS_MAX_KEY_BYTES, "not a key size in bytes", &v);

	if (!rc)
		*out = (size_t)v;
	return rc;
}

static int set_new_files(struct ef_opts *o, const char *name, const char *val)
{
	static const char *const words[] = { "encrypt", "plain", "deny" };

	for (int i = 0; i < 3; i++)
		if (!strcmp(val, words[i])) {
			o->new_files = i;
			return 0;
		}
	return bad(name, val, "expected encrypt, plain or deny");
}

static int set_timeout(struct ef_opts *o, const char *name, const char *val)
{
	char *end;
	double t = strtod(val, &end);

	if (!*val || *end || t < 0 || t > 86400)
		return bad(name, val, "expected seconds, 0 to 86400");
	o->timeout = t;
	return 0;
}

/* Handed to libfuse as they are. */
static int add_fuse(struct ef_opts *o, const char *name, const char *val)
{
	size_t len = strlen(o->fuse_opts);
	int n = snprintf(o->fuse_opts + len, sizeof(o->fuse_opts) - len, ",%s%s%s",
			 name, val ? "=" : "", val ? val : "");

	if (n < 0 || (size_t)n >= sizeof(o->fuse_opts) - len) {
		cli_msg("too many mount options");
		return EXIT_USAGE;
	}
	return 0;
}

/* The strings that outlive the parse: values point into them. */
static const char *keep(struct mount_args *a, const char *val)
{
	char *copy;

	if (a->nowned == (int)(sizeof(a->owned) / sizeof(a->owned[0])))
		return NULL;
	copy = strdup(val);
	if (copy)
		a->owned[a->nowned++] = copy;
	return copy;
}

static int set_string(struct mount_args *a, const char **field, const char *val)
{
	const char *v = keep(a, val);

	if (!v) {
		cli_msg("too many -o options");
		return EXIT_USAGE;
	}
	*field = v;
	return 0;
}

static int on_value(struct mount_args *a, const struct ob_opt *opt, const char *val)
{
	struct ef_opts *o = &a->o;
	struct key_opts *ko = &a->ko;
	const char *name = opt->name;
	uint64_t v;
	int rc;

	switch (opt->key) {
	case MO_SIG:
		return set_sig(o->sigs, &o->nsigs, name, val);
	case MO_FNEK_SIG:
		if (ecfs_sig_from_hex(val, o->fnek_sig))
			return bad(name, val, "a key signature is 16 hex digits");
		o->fnek_sig_set = true;
		return 0;
	case MO_CIPHER:
		return set_string(a, &o->cipher_name, val);
	case MO_KEY_BYTES:
		return key_size(name, val, &o->key_bytes);
	case MO_FN_CIPHER:
		return set_string(a, &o->fn_cipher_name, val);
	case MO_FN_KEY_BYTES:
		return key_size(name, val, &o->fn_key_bytes);
	case MO_NEW_FILES:
		return set_new_files(o, name, val);
	case MO_PASSFILE:
		return set_string(a, &ko->src.file, val);
	case MO_EXTPASS:
		return set_string(a, &ko->src.extpass, val);
	case MO_EXTRA:
		if (ko->nextra == (int)(sizeof(ko->extra_files) / sizeof(ko->extra_files[0])))
			return bad(name, val, "too many extra keys");
		return set_string(a, &ko->extra_files[ko->nextra++], val);
	case MO_SALT:
		return set_string(a, &ko->salt_hex, val);
	case MO_RC:
		return set_string(a, &ko->rc_path, val);
	case MO_TIMEOUT:
		return set_timeout(o, name, val);
	case MO_SPIN:
		rc = number(name, val, 0, 10000, "expected microseconds, 0 to 10000", &v);
		if (!rc) {
			o->spin_us = (unsigned)v;
			o->spin_set = true;
		}
		return rc;
	case MO_READAHEAD:
		rc = number(name, val, 0, 65536, "expected KiB, 0 to 65536", &v);
		if (!rc) {
			o->readahead_kb = (unsigned)v;
			o->readahead_set = true;
		}
		return rc;
	case MO_IO_URING:
		if (strcmp(val, "auto") && strcmp(val, "off"))
			return bad(name, val, "expected auto or off");
		o->no_uring = !strcmp(val, "off");
		return 0;
	case MO_COLOCATE:
		if (strcmp(val, "auto") && strcmp(val, "off"))
			return bad(name, val, "expected auto or off");
		o->no_colocate = !strcmp(val, "off");
		return 0;
	}
	return 0;
}

static int on_option(const struct ob_cmd *cmd, const struct ob_opt *opt, const char *val,
		     void *ctx)
{
	struct mount_args *a = ctx;
	struct ef_opts *o = &a->o;

	switch (opt->key) {
	case MO_XATTR: o->xattr_metadata = true; return 0;
	case MO_PASSTHROUGH: o->passthrough = true; return 0;
	case MO_VIEW: o->encrypted_view = true; return 0;
	case MO_CHECK_RUID: o->check_dev_ruid = true; return 0;
	case MO_NOKEY: o->nokey = true; return 0;
	case MO_FNEK: a->ko.fnek = true; return 0;
	case MO_FNEK_SAME: a->ko.fnek_same = true; return 0;
	case MO_RO: o->ro = true; return 0;
	case MO_RW: o->ro = false; return 0;
	case MO_ALLOW_OTHER: o->allow_other = true; return 0;
	case MO_ALLOW_ROOT: o->allow_root = true; return 0;
	case MO_FUSE: return add_fuse(o, opt->name, val);
	case MO_IGNORED: return 0;
	}
	return on_value(a, opt, val);
}

static int on_unknown(const struct ob_cmd *cmd, const char *name, const char *value, void *ctx)
{
	if (!strncmp(name, "x-", 2))
		return 0;		/* fstab x-systemd.* and friends */
	cli_msg("unknown mount option '%s' (see 'ecfs mount --help')", name);
	return EXIT_USAGE;
}

int mount_opts_parse(struct mount_args *a, const char *list)
{
	return ob_opt_parse_list(&mount_opt_cmd, list, on_option, on_unknown, a) ? -1 : 0;
}

void mount_opts_print_help(FILE *out)
{
	fputs("Mount options (-o, comma separated; the kernel's names and defaults):\n", out);
	for (const struct ob_opt *t = mount_opt_table; t->name; t++) {
		char head[64];
		const char *h, *nl;

		if (t->flags & OB_OPT_HIDDEN)
			continue;
		snprintf(head, sizeof(head), "%s%s%s", t->name, t->arg ? "=" : "",
			 t->arg ? t->arg : "");
		fprintf(out, "  %-28s", head);
		for (h = t->help; (nl = strchr(h, '\n')); h = nl + 1)
			fprintf(out, "%.*s\n  %-28s", (int)(nl - h), h, "");
		fprintf(out, "%s\n", h);
	}
	fputs("  also: auto_unmount, [no]dev, [no]suid, [no]exec, [no]atime, relatime,\n"
	      "  sync, dirsync (as mount(8)); fstab words (defaults, nofail, x-*) are ignored\n",
	      out);
}
