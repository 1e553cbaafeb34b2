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
	const char *help;
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

static int parse_size(const char *name, const char *val, size_t *out)
{
	char *end;
	unsigned long v = strtoul(val, &end, 10);

	if (!*val || *end || v == 0 || v > ECFS_MAX_KEY_BYTES)
		return bad(name, val, "not a key size in bytes");
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
	{ "ecryptfs_sig=", set_sig,
	  "SIG    key(s) that wrap the FEK of new files (one packet each); default: every key given" },
	{ "sig=", set_sig, NULL },
	{ "ecryptfs_cipher=", set_cipher, "NAME content cipher of new files: aes (default), blowfish,\n"
	  "                             des3_ede, cast5, cast6, twofish" },
	{ "cipher=", set_cipher, NULL },
	{ "ecryptfs_key_bytes=", set_key_bytes, "N key size of new files (default: the cipher's, aes 16)" },
	{ "ecryptfs_fnek_sig=", set_fnek_sig,
	  "SIG encrypt names with this filename key (see also --fnek)" },
	{ "ecryptfs_fn_cipher=", set_fn_cipher, "NAME name cipher (default: the content cipher)" },
	{ "ecryptfs_fn_key_bytes=", set_fn_key_bytes, "N name key size (default: ecryptfs_key_bytes)" },
	{ "ecryptfs_xattr_metadata", set_flag, "  new files keep their header in the user.ecryptfs xattr" },
	{ "ecryptfs_passthrough", set_flag, "     lower files without eCryptfs metadata read and write as plaintext" },
	{ "ecryptfs_encrypted_view", set_flag, "  read-only view of the lower bytes (xattr headers put in front)" },
	{ "ecryptfs_check_dev_ruid", set_flag, "  refuse unless LOWER belongs to the real uid" },
	{ "ecryptfs_unlink_sigs", set_ignored, NULL },
	{ "ecryptfs_mount_auth_tok_only", set_ignored, NULL },
	{ "new_files=", set_new_files, "MODE         encrypt (default), plain (with ecryptfs_passthrough) or deny" },
	{ "nokey", set_flag, "                  mount without a passphrase: encrypted files give ENOKEY,\n"
	  "                             new files are refused unless new_files=plain" },
	{ "passphrase_file=", set_passfile, "F      read the passphrase from file F (for fstab)" },
	{ "extpass=", set_extpass, "CMD            run CMD for the passphrase (for fstab)" },
	{ "extra_passphrase_file=", set_extra, "F one more key (repeatable)" },
	{ "salt=", set_salt, "HEX               the key salt (default: ~/.ecryptfsrc, else 0011223344556677)" },
	{ "passphrase_salt=", set_salt, NULL },
	{ "ecryptfsrc=", set_rc, "F            read salt= from F" },
	{ "fnek", set_flag, "                   encrypt names (ecryptfs-add-passphrase --fnek key)" },
	{ "fnek_same_key", set_flag, "          encrypt names with the content key (mount.ecryptfs)" },
	{ "timeout=", set_timeout, "SECONDS        kernel attribute and entry cache time (default 1)" },
	{ "ro", set_flag, "                     read-only" },
	{ "rw", set_rw, NULL },
	{ "allow_other", set_flag, "            let other users in (needs user_allow_other for non-root)" },
	{ "allow_root", set_flag, NULL },
	{ "auto_unmount", set_fuse, NULL },
	{ "dev", set_fuse, NULL }, { "nodev", set_fuse, NULL },
	{ "suid", set_fuse, NULL }, { "nosuid", set_fuse, NULL },
	{ "exec", set_fuse, NULL }, { "noexec", set_fuse, NULL },
	{ "atime", set_fuse, NULL }, { "noatime", set_fuse, NULL },
	{ "nodiratime", set_fuse, NULL }, { "relatime", set_fuse, NULL },
	{ "norelatime", set_fuse, NULL }, { "strictatime", set_fuse, NULL },
	{ "sync", set_fuse, NULL }, { "async", set_fuse, NULL },
	{ "dirsync", set_fuse, NULL },
	{ "fsname=", set_fuse, NULL }, { "subtype=", set_fuse, NULL },
	{ "default_permissions", set_ignored, NULL },
	{ "defaults", set_ignored, NULL }, { "auto", set_ignored, NULL },
	{ "noauto", set_ignored, NULL }, { "user", set_ignored, NULL },
	{ "users", set_ignored, NULL }, { "nouser", set_ignored, NULL },
	{ "owner", set_ignored, NULL }, { "group", set_ignored, NULL },
	{ "_netdev", set_ignored, NULL }, { "nofail", set_ignored, NULL },
	{ "comment=", set_ignored, NULL },
};

void ef_opts_print_help(FILE *out)
{
	fputs("Mount options (-o, comma separated; the kernel's names and defaults):\n", out);
	for (size_t i = 0; i < sizeof(ef_opt_table) / sizeof(ef_opt_table[0]); i++) {
		const struct ef_opt *t = &ef_opt_table[i];

		if (t->help)
			fprintf(out, "  %s%s\n", t->name, t->help);
	}
	fputs("  plus: auto_unmount, [no]dev, [no]suid, [no]exec, atime options, sync, dirsync\n",
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
