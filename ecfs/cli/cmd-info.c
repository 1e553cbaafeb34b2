// SPDX-License-Identifier: MIT
/* cmd-info.c - "ecfs info FILE...": what a lower file's header says.
 *
 * Needs no key: the header is plaintext.  With key options it also says
 * whether (and with which packet) the given passphrase opens the file.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static void print_flags(uint32_t flags)
{
	static const struct { uint32_t bit; const char *name; } names[] = {
		{ ECFS_FLAG_HMAC, "HMAC" },
		{ ECFS_FLAG_ENCRYPTED, "ENCRYPTED" },
		{ ECFS_FLAG_METADATA_IN_XATTR, "METADATA_IN_XATTR" },
		{ ECFS_FLAG_ENCRYPT_FILENAMES, "ENCRYPT_FILENAMES" },
	};

	printf("flags:       0x%02x", flags);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (flags & names[i].bit)
			printf(" %s", names[i].name);
	printf("\n");
}

static void print_packet(unsigned i, const struct ecfs_packet *pk)
{
	char sig[ECFS_SIG_HEX], salt[ECFS_SIG_HEX];

	ecfs_sig_to_hex(pk->sig, sig);
	if (pk->tag == ECFS_PKT_TAG1) {
		printf("packet %u:    Tag 1 (public key), key id %s, %u-byte blob (RSA-%u; the cipher is inside)\n",
		       i + 1, sig, pk->ekey_len, pk->ekey_len * 8u);
		return;
	}
	const struct ecfs_cipher_info *ci = ecfs_cipher_by_code(pk->cipher_code);
	unsigned kb = pk->cipher_code == ECFS_CIPHER_AES_192 ? 24 : pk->ekey_len;

	ecfs_sig_to_hex(pk->salt, salt);
	printf("packet %u:    Tag 3 (passphrase), key signature %s, cipher %s (code 0x%02x, %u-byte key), salt %s\n",
	       i + 1, sig, ci ? ci->name : "unknown", pk->cipher_code, kb, salt);
}

static int info_one(const char *path, const struct ecfs_keychain *ck)
{
	struct ecfs_header h;
	struct ob_err err = {0};
	struct stat st;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ob_err_set(&err, -errno, "open");
		cli_error(path, &err);
		return EXIT_FAIL;
	}
	rc = ecfs_metadata_read(fd, ECFS_OPEN_XATTR_OK, &h, &err);
	if (rc || fstat(fd, &st)) {
		if (!rc)
			ob_err_set(&err, -errno, "stat");
		cli_error(path, &err);
		close(fd);
		return EXIT_FAIL;
	}
	printf("file:        %s\n", path);
	printf("version:     %u\n", h.version);
	print_flags(h.flags);
	if (h.in_xattr)
		printf("metadata:    in the %s xattr; data from offset 0\n", ECFS_XATTR_NAME);
	else
		printf("metadata:    in the file, %llu bytes (%u x %u)\n",
		       (unsigned long long)h.data_offset, h.num_header_extents,
		       h.header_extent_size);
	printf("size:        %llu\n", (unsigned long long)h.size);
	printf("lower size:  %lld (expected %llu)\n", (long long)st.st_size,
	       (unsigned long long)ecfs_lower_size(&h, h.size));
	for (unsigned i = 0; i < h.npackets; i++)
		print_packet(i, &h.packets[i]);
	if (ck) {
		struct ecfs_fek *fek = NULL;
		int which = -1;

		struct ecfs_keys keys = ecfs_keychain_keys(ck);	/* + RSA private keys */

		rc = ecfs_fek_unwrap_any(&h, &keys, &fek, &which, &err);
		if (rc) {
			cli_error(path, &err);
			close(fd);
			return EXIT_FAIL;
		}
		printf("opens with:  packet %d (%s, %s, %zu-byte key)\n", which + 1,
		       h.packets[which].tag == ECFS_PKT_TAG1 ? "RSA key" : "passphrase",
		       ecfs_fek_cipher(fek)->name, ecfs_fek_key_bytes(fek));
		ecfs_fek_free(fek);
	}
	close(fd);
	return EXIT_OK;
}

static const struct ob_opt info_opts[] = {
	{ "check", 'c', 'c', NULL, NULL, 0 },
	{ OB_OPT_END },
};

int cmd_info(int argc, char **argv)
{
	struct key_opts ko = {0};
	struct ecfs_keychain ck;
	bool check = false;
	const struct cli_cmd cmd = {
		.prog = "ecfs info",
		.help = "usage: ecfs info [--check [KEY OPTIONS]] LOWER_FILE...\n\n"
			"Show each lower file's header: format version, flags, where the\n"
			"metadata is, the plaintext size, and every key packet (cipher, key\n"
			"signature).  No key is needed.  With --check, also unwrap the file key.\n",
		.own = info_opts, .ko = &ko, .fn = cli_opt_flag, .ctx = &check,
	};
	int first, status = EXIT_OK;

	first = cli_parse(&cmd, argc, argv, &status);
	if (first < 0)
		return status;
	if (first >= argc) {
		cli_msg("info: no file given (usage: ecfs info [--check] LOWER_FILE...)");
		return EXIT_USAGE;
	}
	if (check || ko.src.file || ko.src.extpass || ko.nrsa || key_opts_ext_count(&ko)) {
		struct ob_err err = {0};

		if (cli_keys_load(&ko, NULL, 0, &ck, &err)) {
			cli_error(NULL, &err);
			return EXIT_FAIL;
		}
		check = true;
	}
	for (int i = first; i < argc; i++) {
		if (i > first)
			printf("\n");
		if (info_one(argv[i], check ? &ck : NULL))
			status = EXIT_FAIL;
	}
	if (check)
		ecfs_keychain_free(&ck);
	return status;
}
