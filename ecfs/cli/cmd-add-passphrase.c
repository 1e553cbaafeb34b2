// SPDX-License-Identifier: MIT
/* cmd-add-passphrase.c - "ecfs add-passphrase", as ecryptfs-add-passphrase:
 * derive the key of a passphrase and put its auth token (740 bytes, spec
 * §1) into the user keyring, type "user", description = the signature, so
 * that the kernel's eCryptfs (ecryptfs_sig=) and "ecfs mount --key-sig"
 * find it.  With --fnek, also the filename key with ecryptfs-utils' ASCII
 * salt.  Output lines are the tool's, word for word, for scripts that parse
 * them (ecryptfs-recover-private does).
 */
#include "cli.h"
#include "legacy-cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ob/secmem.h"

static const char add_help[] =
	"usage: ecfs add-passphrase [--fnek] [KEY OPTIONS]\n\n"
	"Put the key of a passphrase into the kernel's user keyring exactly as\n"
	"ecryptfs-add-passphrase does (same payload, same description), and print its\n"
	"signature.  With --fnek also the filename key (ecryptfs-setup-private style).\n"
	"Then: 'ecfs mount --key-sig SIG ...' or the kernel's mount -t ecryptfs.\n\n"
	"  --fnek                   also add the filename key (salt \"99887766\")\n"
	"  -h, --help               this help\n\n";

static int add_one(const struct ecfs_key *key, struct ob_err *err)
{
	uint8_t *tok = ob_secure_alloc(ECFS_AUTH_TOK_BYTES);
	char hex[ECFS_SIG_HEX];
	long id;

	if (!tok)
		return ob_err_set(err, -ENOMEM, "allocating locked memory");
	ecfs_auth_tok_pack(key, tok);
	ecfs_sig_to_hex(key->sig, hex);
	id = keyring_add(hex, tok, ECFS_AUTH_TOK_BYTES);
	ob_secure_free(tok);
	if (id < 0)
		return ob_err_set(err, -errno, "adding key %s to the user keyring (is there a "
				  "keyring here? 'keyctl show' tells; containers often have none)",
				  hex);
	printf("Inserted auth tok with sig [%s] into the user session keyring\n", hex);
	return 0;
}

int cmd_add_passphrase(int argc, char **argv)
{
	struct key_opts ko = {0};
	const struct cli_cmd cmd = { .prog = "ecfs add-passphrase", .help = add_help, .ko = &ko };
	struct ob_err err = {0};
	struct ecfs_key *k;
	struct secret s;
	uint8_t salt[ECFS_SALT_BYTES];
	int first, rc;

	first = cli_parse(&cmd, argc, argv, &rc);
	if (first < 0)
		return rc;
	if (first != argc) {
		cli_msg("add-passphrase: unexpected '%s' (the passphrase is never an argument: "
			"use --passphrase-file)", argv[first]);
		return EXIT_USAGE;
	}
	k = ob_secure_alloc(2 * sizeof(*k));
	if (!k) {
		cli_msg("out of locked memory");
		return EXIT_FAIL;
	}
	rc = lc_v1_salt(&ko, salt, &err);
	if (!rc)
		rc = secret_read(&ko.src, "Passphrase: ", &s, &err);
	if (!rc) {
		rc = ecfs_key_derive(&k[0], s.buf, s.len, salt, &err);
		if (!rc && ko.fnek)
			rc = ecfs_key_derive(&k[1], s.buf, s.len, ecfs_fnek_salt, &err);
		secret_free(&s);
	}
	if (!rc)
		rc = add_one(&k[0], &err);
	if (!rc && ko.fnek)
		rc = add_one(&k[1], &err);
	ob_secure_free(k);
	if (rc) {
		cli_error(NULL, &err);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}
