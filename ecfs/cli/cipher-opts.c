// SPDX-License-Identifier: MIT
/* cipher-opts.c - --cipher, --key-bytes, --fn-cipher, --fn-key-bytes: the
 * mount's ecryptfs_cipher / ecryptfs_key_bytes / ecryptfs_fn_cipher /
 * ecryptfs_fn_key_bytes for the offline commands (cli_cmd.co).
 *
 * The names' cipher and key size default to the content's, as the kernel's
 * mount options do.  encrypt writes with them; the readers (decrypt, ls,
 * fsck) try them first when decoding names, which matters because a Tag 70
 * packet names its cipher but not its key size (the decoder then tries the
 * others, lib/name.c).
 */
#include "cli.h"


const struct ob_opt cipher_opt_table[] = {
	{ OB_OPT_HEADING("Cipher options (as the mount's ecryptfs_cipher= and friends):") },
	{ "cipher", 0, CO_CIPHER, "NAME",
	  "aes (default), blowfish, des3_ede, cast5, cast6, twofish", 0 },
	{ "key-bytes", 0, CO_KEY_BYTES, "N", "key size (default: the cipher's; aes 16)", 0 },
	{ "fn-cipher", 0, CO_FN_CIPHER, "NAME", "the names' cipher (default: --cipher)", 0 },
	{ "fn-key-bytes", 0, CO_FN_KEY_BYTES, "N",
	  "the names' key size (default: --key-bytes); names of\n"
	  "other sizes are still read, tried after this one", 0 },
	{ OB_OPT_END },
};

static int parse_size(const char *opt, const char *arg, size_t *out)
{
	uint64_t v;

	if (ob_parse_uint(arg, 1, ECFS_MAX_KEY_BYTES, &v)) {
		cli_msg("--%s: '%s' is not a key size (1..%d)", opt, arg, ECFS_MAX_KEY_BYTES);
		return EXIT_USAGE;
	}
	*out = (size_t)v;
	return 0;
}

int cipher_opts_handle(struct cipher_opts *co, int key, const char *arg)
{
	switch (key) {
	case CO_CIPHER:
		co->cipher = arg;
		return 0;
	case CO_KEY_BYTES:
		return parse_size("key-bytes", arg, &co->key_bytes);
	case CO_FN_CIPHER:
		co->fn_cipher = arg;
		return 0;
	case CO_FN_KEY_BYTES:
		return parse_size("fn-key-bytes", arg, &co->fn_key_bytes);
	}
	return EXIT_USAGE;
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
		return EXIT_USAGE;
	out->fn_key_bytes = co->fn_key_bytes ? co->fn_key_bytes : out->key_bytes;
	out->fn_cipher = lookup("fn-cipher", co->fn_cipher ? co->fn_cipher : out->cipher->name,
				&out->fn_key_bytes);
	return out->fn_cipher ? 0 : EXIT_USAGE;
}
