// SPDX-License-Identifier: MIT
/* legacy.c - the files that ecryptfs-utils, Synology and crouton keep beside
 * an eCryptfs lower directory, and the kernel keyring's auth token.
 *
 * Callers: "ecfs recover", "ecfs add-passphrase", "ecfs fsck", the
 * *-passphrase and *-private subcommands.  Sources: shared/spec/
 * legacy-ecryptfs.md (§1.4 Synology .key, §1.6 Synology's size copy,
 * §4 crouton, §5 Ubuntu layouts) and ecryptfs-format.md (§1 auth token,
 * §10.1 Private.sig).
 *
 * Everything here is parse/pack of small fixed layouts, plus the Synology
 * xattr update, which is the only function that touches a file.
 */
#include "ecfs-int.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <sys/xattr.h>

#include "ob/secmem.h"

/* -------------------------------------------------------------- Private.sig */

int ecfs_private_sig_parse(const char *buf, size_t len,
			   uint8_t sigs[2][ECFS_SIG_BYTES], struct ob_err *err)
{
	size_t pos = 0;
	int n = 0;

	/* mount.ecryptfs_private's fetch_sig(): at most two lines, each cut at
	 * the first whitespace, each 16 hex digits. */
	while (pos < len && n < 2) {
		size_t start = pos, wl;
		char word[ECFS_SIG_HEX];

		while (pos < len && buf[pos] != '\n')
			pos++;
		for (wl = 0; start + wl < pos && !isspace((unsigned char)buf[start + wl]); wl++)
			;
		pos++;
		if (wl == 0 && start + wl == pos - 1 && n > 0)
			break;		/* an empty line ends the list */
		if (wl != 2 * ECFS_SIG_BYTES)
			return ob_err_set(err, -EINVAL,
					  "line %d is not a 16-hex-digit key signature", n + 1);
		memcpy(word, buf + start, wl);
		word[wl] = '\0';
		if (ecfs_sig_from_hex(word, sigs[n]))
			return ob_err_set(err, -EINVAL,
					  "line %d is not a 16-hex-digit key signature", n + 1);
		n++;
	}
	if (n == 0)
		return ob_err_set(err, -EINVAL, "no key signature in it (empty file)");
	return n;
}

/* --------------------------------------------------------- Synology .key */

const char ecfs_syno_wrap_pass[] = ECFS_SYNO_WRAP_PASS;

bool ecfs_syno_key_probe(const uint8_t *buf, size_t len)
{
	return len >= 32 && !memcmp(buf, ECFS_SYNO_WRAP_SIG, 16);
}

int ecfs_syno_key_unwrap(const uint8_t *buf, size_t len,
			 char pass[ECFS_MAX_PASSPHRASE + 1], struct ob_err *err)
{
	int rc;

	if (len >= 8 && !memcmp(buf, "Salted__", 8))
		return ob_err_set(err, -EINVAL,
				  "an OpenSSL 'Salted__' file, not a DSM shared-folder key "
				  "(Cloud Sync keys are another format)");
	/* v1 files use the default salt (DSM has no ~/.ecryptfsrc); v2 carry
	 * their own. */
	rc = ecfs_wrapped_unwrap(buf, len, ecfs_syno_wrap_pass, strlen(ecfs_syno_wrap_pass),
				 ecfs_default_salt, pass, err);
	if (rc == -EKEYREJECTED)
		ob_err_set(err, rc, "not wrapped with Synology's fixed passphrase "
			   "(is it an ecryptfs-utils wrapped-passphrase file? then give the "
			   "password that wraps it)");
	return rc;
}

/* ------------------------------------------------------------ auth token */

/* Offsets in struct ecfs_auth_tok (ecryptfs-format.md §1, packed, host
 * endian). */
#define AT_VERSION	0
#define AT_TYPE		2
#define AT_PW_BYTES	628
#define AT_HASH_ALGO	632
#define AT_HASH_ITER	636
#define AT_KEK_BYTES	640
#define AT_PW_FLAGS	644
#define AT_KEK		648
#define AT_SIG		712
#define AT_SALT		729
#define AT_VERSION_VAL	0x0004	/* major 0, minor 4: what the kernel accepts */
#define AT_PGP_SHA512	10
#define AT_KEK_SET	0x02	/* ECRYPTFS_SESSION_KEY_ENCRYPTION_KEY_SET */

static void put_host16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void put_host32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static uint32_t get_host32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

void ecfs_auth_tok_pack(const struct ecfs_key *key, uint8_t out[ECFS_AUTH_TOK_BYTES])
{
	char hex[ECFS_SIG_HEX];
	uint16_t version;

	/* ecryptfs-utils main.c: generate_payload(); everything it does not
	 * set is zero. */
	memset(out, 0, ECFS_AUTH_TOK_BYTES);
	version = AT_VERSION_VAL;
	put_host16(out + AT_VERSION, version);
	put_host16(out + AT_TYPE, 0);		/* ECRYPTFS_PASSWORD */
	put_host32(out + AT_HASH_ALGO, AT_PGP_SHA512);
	put_host32(out + AT_KEK_BYTES, ECFS_KEK_BYTES);
	put_host32(out + AT_PW_FLAGS, AT_KEK_SET);
	memcpy(out + AT_KEK, key->kek, ECFS_KEK_BYTES);
	ecfs_sig_to_hex(key->sig, hex);
	memcpy(out + AT_SIG, hex, 2 * ECFS_SIG_BYTES);	/* + the zero after it */
	memcpy(out + AT_SALT, key->salt, ECFS_SALT_BYTES);
}

int ecfs_auth_tok_unpack(const uint8_t *buf, size_t len, struct ecfs_key *key,
			 struct ob_err *err)
{
	uint16_t version, type;
	char hex[ECFS_SIG_HEX];

	if (len != ECFS_AUTH_TOK_BYTES)
		return ob_err_set(err, -EINVAL, "auth token of %zu bytes (expected %d)",
				  len, ECFS_AUTH_TOK_BYTES);
	memcpy(&version, buf + AT_VERSION, sizeof(version));
	memcpy(&type, buf + AT_TYPE, sizeof(type));
	if (version != AT_VERSION_VAL)
		return ob_err_set(err, -EINVAL, "auth token version (expected 0x%04x, got 0x%04x)",
				  AT_VERSION_VAL, version);
	if (type != 0)
		return ob_err_set(err, -EOPNOTSUPP, "auth token type %u (only passphrase tokens)",
				  type);
	if (!(get_host32(buf + AT_PW_FLAGS) & AT_KEK_SET) ||
	    get_host32(buf + AT_KEK_BYTES) != ECFS_KEK_BYTES)
		return ob_err_set(err, -EINVAL, "auth token holds no 64-byte key");
	memcpy(hex, buf + AT_SIG, 2 * ECFS_SIG_BYTES);
	hex[2 * ECFS_SIG_BYTES] = '\0';
	if (ecfs_sig_from_hex(hex, key->sig))
		return ob_err_set(err, -EINVAL, "auth token signature is not 16 hex digits");
	memcpy(key->kek, buf + AT_KEK, ECFS_KEK_BYTES);
	memcpy(key->salt, buf + AT_SALT, ECFS_SALT_BYTES);
	return 0;
}

/* ------------------------------------------------- Synology's size copy */

int ecfs_syno_size_read(int fd, uint64_t *size)
{
	uint8_t buf[32];
	ssize_t n = fgetxattr(fd, ECFS_XATTR_NAME, buf, sizeof(buf));

	if (n < 0)
		return errno == ENODATA || errno == ENOTSUP || errno == ERANGE ? 0 : -errno;
	/* 16 bytes (size + marker) or 8 (size only); anything longer is full
	 * xattr-mode metadata, which is not ours to treat as a copy. */
	if (n != 8 && n != 16)
		return 0;
	*size = ecfs_get_be64(buf);
	return 1;
}

int ecfs_syno_size_sync(int fd, uint64_t size, struct ob_err *err)
{
	uint8_t buf[16];
	ssize_t n = fgetxattr(fd, ECFS_XATTR_NAME, buf, sizeof(buf));

	if (n < 0) {
		if (errno == ENODATA || errno == ENOTSUP || errno == ERANGE)
			return 0;
		return ob_err_set(err, -errno, "reading the %s xattr", ECFS_XATTR_NAME);
	}
	if (n != 8 && n != 16)
		return 0;
	if (ecfs_get_be64(buf) == size)
		return 0;
	ecfs_put_be64(buf, size);
	if (fsetxattr(fd, ECFS_XATTR_NAME, buf, (size_t)n, XATTR_REPLACE))
		return ob_err_set(err, -errno, "updating Synology's size copy in %s",
				  ECFS_XATTR_NAME);
	return 1;
}

/* ----------------------------------------------------------- crouton */

int ecfs_crouton_keyfile_split(const uint8_t *buf, size_t len,
			       const uint8_t *parts[2], struct ob_err *err)
{
	/* Last 160 bytes: two v1 wrapped files of 16 hex + 64 bytes each. */
	if (len < 2 * ECFS_CROUTON_WRAPPED)
		return ob_err_set(err, -EINVAL, "crouton key file of %zu bytes (need at least %d)",
				  len, 2 * ECFS_CROUTON_WRAPPED);
	parts[0] = buf + len - 2 * ECFS_CROUTON_WRAPPED;
	parts[1] = buf + len - ECFS_CROUTON_WRAPPED;
	for (int i = 0; i < 2; i++)
		if (ecfs_wrapped_version(parts[i], ECFS_CROUTON_WRAPPED, NULL) != 1)
			return ob_err_set(err, -EINVAL,
					  "crouton key file: wrapped key %d does not start with a "
					  "16-hex-digit signature", i + 1);
	return 0;
}
