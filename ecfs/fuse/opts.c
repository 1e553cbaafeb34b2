/* opts.c - the -o options of "ecfs mount": one table gives each option's
 * name, its handler and its help line.
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
#include "ecfs-fuse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct ef_opt {
	const char *name;	/* "name" or "name=" when it takes a value */
	int (*set)(struct ef_opts *o, const char *name, const char *val);
	const char *arg;	/* the value's name in the help */
	const char *help;	/* NULL: accepted, not listed (aliases, noise) */
};

static int bad(const char *name, const char *val, const char *why)
{
	cli_msg("mount option '%s=%s': %s", name, val, why);
	return -1;
}

static int set_sig(struct ef_opts *o, const char *name, const char *val)
{
	if (o->nsigs == EF_MAX_SIGS)
		return bad(name, val, "too many keys");
	if (ecfs_sig_from_hex(val, o->sigs[o->nsigs]))
		return bad(name, val, "a key signature is 16 hex digits");
	o->nsigs++;
	return 0;
}

static int set_fnek_sig(struct ef_opts *o, const char *name, const char *val)
{
	if (ecfs_sig_from_hex(val, o->fnek_sig))
		return bad(name, val, "a key signature is 16 hex digits");
	o->fnek_sig_set = true;
	return 0;
}

/* A decimal number in [min, max], or -1 with why said. */
static int parse_ulong(const char *name, const char *val, unsigned long min,
		       unsigned long max, const char *why, unsigned long *out)
{
	char *end;
	unsigned long v = strtoul(val, &end, 10);

	if (!*val || *end || *val == '-' || v < min || v > max)
		return bad(name, val, why);
	*out = v;
	return 0;
}

static int parse_size(const char *name, const char *val, size_t *out)
{
	unsigned long v;

	if (parse_ulong(name, val, 1, ECFS_MAX_KEY_BYTES, "not a key size in bytes", &v))
		return -1;
	*out = v;
	return 0;
}

static int set_cipher(struct ef_opts *o, const char *name, const char *val)
{
	o->cipher_name = val;
	return 0;
}

static int set_key_bytes(struct ef_opts *o, const char *name, const char *val)
{
	return parse_size(name, val, &o->key_bytes);
}

static int set_fn_cipher(struct ef_opts *o, const char *name, const char *val)
{
	o->fn_cipher_name = val;
	return 0;
}

static int set_fn_key_bytes(struct ef_opts *o, const char *name, const char *val)
{
	return parse_size(name, val, &o->fn_key_bytes);
}

static int set_flag(struct ef_opts *o, const char *name, const char *val)
{
	static const struct { const char *name; size_t off; } flags[] = {
		{ "ecryptfs_xattr_metadata", offsetof(struct ef_opts, xattr_metadata) },
		{ "ecryptfs_passthrough", offsetof(struct ef_opts, passthrough) },
		{ "ecryptfs_encrypted_view", offsetof(struct ef_opts, encrypted_view) },
		{ "ecryptfs_check_dev_ruid", offsetof(struct ef_opts, check_dev_ruid) },
		{ "nokey", offsetof(struct ef_opts, nokey) },
		{ "fnek", offsetof(struct ef_opts, ko.fnek) },
		{ "fnek_same_key", offsetof(struct ef_opts, ko.fnek_same) },
		{ "allow_other", offsetof(struct ef_opts, allow_other) },
		{ "allow_root", offsetof(struct ef_opts, allow_root) },
		{ "ro", offsetof(struct ef_opts, ro) },
	};

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (!strcmp(flags[i].name, name))
			*(bool *)((char *)o + flags[i].off) = true;
	return 0;
}

static int set_rw(struct ef_opts *o, const char *name, const char *val)
{
	o->ro = false;
	return 0;
}

static int set_ignored(struct ef_opts *o, const char *name, const char *val)
{
	return 0;
}

static int set_passfile(struct ef_opts *o, const char *name, const char *val)
{
	o->ko.src.file = val;
	return 0;
}

static int set_extpass(struct ef_opts *o, const char *name, const char *val)
{
	o->ko.src.extpass = val;
	return 0;
}

static int set_extra(struct ef_opts *o, const char *name, const char *val)
{
	if (o->ko.nextra == (int)(sizeof(o->ko.extra_files) / sizeof(o->ko.extra_files[0])))
		return bad(name, val, "too many extra keys");
	o->ko.extra_files[o->ko.nextra++] = val;
	return 0;
}

static int set_salt(struct ef_opts *o, const char *name, const char *val)
{
	o->ko.salt_hex = val;
	return 0;
}

static int set_rc(struct ef_opts *o, const char *name, const char *val)
{
	o->ko.rc_path = val;
	return 0;
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

static int set_spin(struct ef_opts *o, const char *name, const char *val)
{
	unsigned long us;

	if (parse_ulong(name, val, 0, 10000, "expected microseconds, 0 to 10000", &us))
		return -1;
	o->spin_us = (unsigned)us;
	return 0;
}

static int set_readahead(struct ef_opts *o, const char *name, const char *val)
{
	unsigned long kib;

	if (parse_ulong(name, val, 0, 65536, "expected KiB, 0 to 65536", &kib))
		return -1;
	o->readahead_kb = (unsigned)kib;
	o->readahead_set = true;
	return 0;
}

static int set_io_uring(struct ef_opts *o, const char *name, const char *val)
{
	if (!strcmp(val, "auto"))
		o->no_uring = false;
	else if (!strcmp(val, "off"))
		o->no_uring = true;
	else
		return bad(name, val, "expected auto or off");
	return 0;
}

/* Handed to libfuse as they are. */
static int set_fuse(struct ef_opts *o, const char *name, const char *val)
{
	size_t len = strlen(o->fuse_opts);
	int n = snprintf(o->fuse_opts + len, sizeof(o->fuse_opts) - len, ",%s%s%s",
			 name, val ? "=" : "", val ? val : "");

	if (n < 0 || (size_t)n >= sizeof(o->fuse_opts) - len) {
		cli_msg("too many mount options");
		return -1;
	}
	return 0;
}

static const struct ef_opt ef_opt_table[] = {
	{ "ecryptfs_sig=", set_sig, "SIG",
	  "a key that wraps the FEK of new files (repeatable; one packet each;\n"
	  "default: every key given)" },
	{ "sig=", set_sig, NULL, NULL },
	{ "ecryptfs_cipher=", set_cipher, "NAME",
	  "content cipher of new files: aes (default), blowfish, des3_ede,\n"
	  "cast5, cast6, twofish" },
	{ "cipher=", set_cipher, NULL, NULL },
	{ "ecryptfs_key_bytes=", set_key_bytes, "N", "key size of new files (default: the cipher's; aes 16)" },
	{ "ecryptfs_fnek_sig=", set_fnek_sig, "SIG", "encrypt names with this filename key (or --fnek)" },
	{ "ecryptfs_fn_cipher=", set_fn_cipher, "NAME", "name cipher (default: ecryptfs_cipher)" },
	{ "ecryptfs_fn_key_bytes=", set_fn_key_bytes, "N", "name key size (default: ecryptfs_key_bytes)" },
	{ "ecryptfs_xattr_metadata", set_flag, NULL, "new files keep their header in the user.ecryptfs xattr" },
	{ "ecryptfs_passthrough", set_flag, NULL, "lower files without eCryptfs metadata are plaintext files" },
	{ "ecryptfs_encrypted_view", set_flag, NULL,
	  "read-only view of the lower bytes, for backups (no key needed;\n"
	  "xattr-metadata files get their header put in front)" },
	{ "ecryptfs_check_dev_ruid", set_flag, NULL, "refuse unless LOWER belongs to the real uid" },
	{ "ecryptfs_unlink_sigs", set_ignored, NULL, NULL },
	{ "ecryptfs_mount_auth_tok_only", set_ignored, NULL, NULL },
	{ "new_files=", set_new_files, "MODE",
	  "new regular files: encrypt (default), plain (needs\n"
	  "ecryptfs_passthrough) or deny (EACCES)" },
	{ "nokey", set_flag, NULL,
	  "no passphrase: encrypted files give ENOKEY, names stay encrypted,\n"
	  "new_files defaults to deny" },
	{ "passphrase_file=", set_passfile, "F", "read the passphrase from file F (for fstab)" },
	{ "extpass=", set_extpass, "CMD", "run CMD for the passphrase (for fstab; no commas)" },
	{ "extra_passphrase_file=", set_extra, "F", "one more key (repeatable)" },
	{ "salt=", set_salt, "HEX", "the key salt (default: ~/.ecryptfsrc, else 0011223344556677)" },
	{ "passphrase_salt=", set_salt, NULL, NULL },
	{ "ecryptfsrc=", set_rc, "F", "read salt= from F" },
	{ "fnek", set_flag, NULL, "encrypt names (the ecryptfs-add-passphrase --fnek key)" },
	{ "fnek_same_key", set_flag, NULL, "encrypt names with the content key (mount.ecryptfs)" },
	{ "timeout=", set_timeout, "SECONDS", "kernel attribute and entry cache time (default 1)" },
	{ "spin=", set_spin, "USEC",
	  "after a request that changes the tree, poll this long for the next\n"
	  "one before sleeping (default 50; 0 = never)" },
	{ "readahead=", set_readahead, "KIB",
	  "read-ahead window of the mount (default 1024, so sequential reads\n"
	  "come as 1 MiB requests; 0 = the kernel's 128 KiB; root only)" },
	{ "io_uring=", set_io_uring, "auto|off",
	  "take requests through FUSE over io_uring when the kernel offers it\n"
	  "(fuse module parameter enable_uring=1, Linux 6.14+; default auto)" },
	{ "ro", set_flag, NULL, "read-only" },
	{ "rw", set_rw, NULL, NULL },
	{ "allow_other", set_flag, NULL, "let other users in (non-root: user_allow_other in fuse.conf)" },
	{ "allow_root", set_flag, NULL, NULL },
	{ "auto_unmount", set_fuse, NULL, NULL },
	{ "dev", set_fuse, NULL, NULL }, { "nodev", set_fuse, NULL, NULL },
	{ "suid", set_fuse, NULL, NULL }, { "nosuid", set_fuse, NULL, NULL },
	{ "exec", set_fuse, NULL, NULL }, { "noexec", set_fuse, NULL, NULL },
	{ "atime", set_fuse, NULL, NULL }, { "noatime", set_fuse, NULL, NULL },
	{ "nodiratime", set_fuse, NULL, NULL }, { "relatime", set_fuse, NULL, NULL },
	{ "norelatime", set_fuse, NULL, NULL }, { "strictatime", set_fuse, NULL, NULL },
	{ "sync", set_fuse, NULL, NULL }, { "async", set_fuse, NULL, NULL },
	{ "dirsync", set_fuse, NULL, NULL },
	{ "fsname=", set_fuse, NULL, NULL }, { "subtype=", set_fuse, NULL, NULL },
	{ "default_permissions", set_ignored, NULL, NULL },
	{ "defaults", set_ignored, NULL, NULL }, { "auto", set_ignored, NULL, NULL },
	{ "noauto", set_ignored, NULL, NULL }, { "user", set_ignored, NULL, NULL },
	{ "users", set_ignored, NULL, NULL }, { "nouser", set_ignored, NULL, NULL },
	{ "owner", set_ignored, NULL, NULL }, { "group", set_ignored, NULL, NULL },
	{ "_netdev", set_ignored, NULL, NULL }, { "nofail", set_ignored, NULL, NULL },
	{ "comment=", set_ignored, NULL, NULL },
};

void ef_opts_print_help(FILE *out)
{
	fputs("Mount options (-o, comma separated; the kernel's names and defaults):\n", out);
	for (size_t i = 0; i < sizeof(ef_opt_table) / sizeof(ef_opt_table[0]); i++) {
		const struct ef_opt *t = &ef_opt_table[i];
		char head[64];
		const char *h, *nl;

		if (!t->help)
			continue;
		snprintf(head, sizeof(head), "%s%s", t->name, t->arg ? t->arg : "");
		fprintf(out, "  %-28s", head);
		for (h = t->help; (nl = strchr(h, '\n')); h = nl + 1)
			fprintf(out, "%.*s\n  %-28s", (int)(nl - h), h, "");
		fprintf(out, "%s\n", h);
	}
	fputs("  also: auto_unmount, [no]dev, [no]suid, [no]exec, [no]atime, relatime,\n"
	      "  sync, dirsync (as mount(8)); fstab words (defaults, nofail, x-*) are ignored\n",
	      out);
}

static int opt_one(struct ef_opts *o, char *word)
{
	char *eq = strchr(word, '=');
	size_t nlen = eq ? (size_t)(eq - word) : strlen(word);

	if (!nlen)
		return 0;		/* ",," */
	if (!strncmp(word, "x-", 2))
		return 0;		/* fstab x-systemd.* and friends */
	for (size_t i = 0; i < sizeof(ef_opt_table) / sizeof(ef_opt_table[0]); i++) {
		const struct ef_opt *t = &ef_opt_table[i];
		size_t tl = strlen(t->name);
		bool takes = t->name[tl - 1] == '=';

		if ((takes ? tl - 1 : tl) != nlen || strncmp(t->name, word, nlen))
			continue;
		if (takes != (eq != NULL)) {
			cli_msg("mount option '%.*s' %s", (int)nlen, word,
				takes ? "needs a value (name=value)" : "takes no value");
			return -1;
		}
		if (eq)
			*eq = '\0';
		return t->set(o, word, eq ? eq + 1 : NULL);
	}
	cli_msg("unknown mount option '%.*s' (see 'ecfs mount --help')", (int)nlen, word);
	return -1;
}

int ef_opts_parse(struct ef_opts *o, const char *list)
{
	char *copy, *save = NULL, *w;

	if (o->nowned == (int)(sizeof(o->owned) / sizeof(o->owned[0]))) {
		cli_msg("too many -o options");
		return -1;
	}
	copy = strdup(list);
	if (!copy) {
		cli_msg("out of memory");
		return -1;
	}
	o->owned[o->nowned++] = copy;	/* option values point into it */
	for (w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save))
		if (opt_one(o, w))
			return -1;
	return 0;
}

void ef_opts_free(struct ef_opts *o)
{
	for (int i = 0; i < o->nowned; i++)
		free(o->owned[i]);
	o->nowned = 0;
}
