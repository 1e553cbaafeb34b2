// SPDX-License-Identifier: MIT
/* cipher-opts.c - --cipher, --key-bytes, --fn-cipher, --fn-key-bytes: the
 * mount's ecryptfs_cipher / ecryptfs_key_bytes / ecryptfs_fn_cipher /
 * ecryptfs_fn_key_bytes for the offline commands.
 *
 * The names' cipher and key size default to the content's, as the kernel's
 * mount options do.  encrypt writes with them; the readers (decrypt, ls,
 * fsck, rekey) try them first when decoding names, which matters because a
 * Tag 70 packet names its cipher but not its key size (the decoder then
 * tries the others, lib/name.c).
 */
#include "cli.h"
#include "cli-opts.h"

#include <stdlib.h>

enum {
	OPT_CIPHER = CIPHER_OPT_BASE,
	OPT_KEY_BYTES,
	OPT_FN_CIPHER,
	OPT_FN_KEY_BYTES,
};

const struct option cipher_long_opts[] = {
	{ "cipher", required_argument, NULL, OPT_CIPHER },
	{ "key-bytes", required_argument, NULL, OPT_KEY_BYTES },
	{ "fn-cipher", required_argument, NULL, OPT_FN_CIPHER },
	{ "fn-key-bytes", required_argument, NULL, OPT_FN_KEY_BYTES },
	{ NULL, 0, NULL, 0 },
};

const char cipher_opts_help[] =
	"Cipher options (as the mount's ecryptfs_cipher= and friends):\n"
	"  --cipher NAME            aes (default), blowfish, des3_ede, cast5, cast6, twofish\n"
	"  --key-bytes N            key size (default: the cipher's; aes 16)\n"
	"  --fn-cipher NAME         the names' cipher (default: --cipher)\n"
	"  --fn-key-bytes N         the names' key size (default: --key-bytes); names of\n"
	"                           other sizes are still read, tried after this one\n";

static int parse_size(const char *opt, const char *arg, size_t *out)
{
	char *end;
	unsigned long v = strtoul(arg, &end, 10);

	if (*end || end == arg || v == 0 || v > ECFS_MAX_KEY_BYTES) {
		cli_msg("--%s: '%s' is not a key size (1..%d)", opt, arg, ECFS_MAX_KEY_BYTES);
		return -1;
	}
	*out = v;
	return 1;
}

int cipher_opts_handle(struct cipher_opts *co, int opt, const char *arg)
{
	switch (opt) {
	case OPT_CIPHER:
		co->cipher = arg;
		return 1;
	case OPT_KEY_BYTES:
		return parse_size("key-bytes", arg, &co->key_bytes);
	case OPT_FN_CIPHER:
		co->fn_cipher = arg;
		return 1;
	case OPT_FN_KEY_BYTES:
		return parse_size("fn-key-bytes", arg, &co->fn_key_bytes);
	}
	return 0;
}

static const struct ecfs_cipher_info *lookup(const char *opt, const char *name, size_t *kb)
{
	const struct ecfs_cipher_info *ci = ecfs_cipher_by_name(name, *kb);

	if (!ci) {
		if (*kb && ecfs_cipher_by_name(name, 0))
			cli_msg("--%s: %s does not take %zu-byte keys", opt, name, *kb);
		else
			cli_msg("--%s: unknown cipher '%s' (eCryptfs knows aes, blowfish, "
				"des3_ede, cast5, cast6, twofish)", opt, name);
		return NULL;
	}
	if (!*kb)
		*kb = ci->key_default;
	return ci;
}

int cipher_opts_resolve(const struct cipher_opts *co, struct cipher_choice *out)
{
	out->key_bytes = co->key_bytes;
	out->cipher = lookup("cipher", co->cipher ? co->cipher : "aes", &out->key_bytes);
	if (!out->cipher)
		return -1;
	out->fn_key_bytes = co->fn_key_bytes ? co->fn_key_bytes : out->key_bytes;
	out->fn_cipher = lookup("fn-cipher", co->fn_cipher ? co->fn_cipher : out->cipher->name,
				&out->fn_key_bytes);
	return out->fn_cipher ? 0 : -1;
}
