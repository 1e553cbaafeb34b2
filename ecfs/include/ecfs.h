/* SPDX-License-Identifier: MIT */
/* ecfs.h - libecfs: the eCryptfs on-disk format, byte-compatible with Linux.
 *
 * The one public header of libecfs.  Front ends (the ecfs tool, the FUSE
 * mount) use only what is declared here.  The format is described in
 * shared/spec/ecryptfs-format.md; section numbers below (§n) refer to it.
 *
 * Layers, bottom up:
 *   keys      passphrase -> 64-byte KEK and signature (§1), key sets
 *   wrapped   ecryptfs-utils wrapped-passphrase files v1/v2 (§10.2)
 *   cipher    the kernel's ciphers by code, expanded keys, ECB and CBC (§3.6)
 *   header    format-3 header and key packets, parse and write (§2, §3)
 *   fek       per-file key: unwrap/create, IVs, extent crypto (§4, §5)
 *   name      encrypted file names, Tag 70 and eCryptfs base64 (§7)
 *   file      a lower file opened for plaintext I/O: read, write, truncate
 *
 * Conventions: functions return 0 (or a count) on success and -errno on
 * failure; when they take a struct ob_err * they also fill it with a
 * one-line reason that never contains key material.  "Nothing changed" on
 * failure unless a comment says otherwise.  Objects are immutable after
 * creation unless marked, and immutable objects are safe to share between
 * threads: a mount parses a header and unwraps a FEK once, then any number
 * of threads encrypt and decrypt extents with it.
 */
#ifndef ECFS_H
#define ECFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ob/err.h"

#define ECFS_SIG_BYTES		8
#define ECFS_SIG_HEX		17	/* 16 hex digits + NUL */
#define ECFS_KEK_BYTES		64
#define ECFS_SALT_BYTES		8
#define ECFS_MAX_PASSPHRASE	64
#define ECFS_MAX_KEY_BYTES	64
#define ECFS_EXTENT_SIZE	4096
#define ECFS_IV_BYTES		16
#define ECFS_METADATA_SIZE	8192	/* what we write; never assumed on read */
#define ECFS_MIN_METADATA_SIZE	8192
#define ECFS_NAME_MAX		143	/* longest plaintext name with FNEK */
#define ECFS_XATTR_NAME		"user.ecryptfs"
#define ECFS_FNEK_PREFIX	"ECRYPTFS_FNEK_ENCRYPTED."
#define ECFS_FEK_PREFIX		"ECRYPTFS_FEK_ENCRYPTED."

/* ------------------------------------------------------------------ keys */

extern const uint8_t ecfs_default_salt[ECFS_SALT_BYTES];	/* 00 11 .. 77 */
extern const uint8_t ecfs_fnek_salt[ECFS_SALT_BYTES];		/* ASCII "99887766" */

/* A passphrase token, the kernel's "auth tok": the 64-byte KEK derived from
 * a passphrase, its signature and the salt used.  Keep it in memory from
 * ecfs_keyset (locked, wiped). */
struct ecfs_key {
	uint8_t kek[ECFS_KEK_BYTES];
	uint8_t sig[ECFS_SIG_BYTES];
	uint8_t salt[ECFS_SALT_BYTES];
};

/* KEK = SHA-512^65536(salt || pass), sig = SHA-512(KEK)[0..7] (§1).
 * pass is 1..64 bytes.  -EINVAL for an empty or too long passphrase. */
int ecfs_key_derive(struct ecfs_key *key, const char *pass, size_t len,
		    const uint8_t salt[ECFS_SALT_BYTES], struct ob_err *err);

void ecfs_sig_to_hex(const uint8_t sig[ECFS_SIG_BYTES], char hex[ECFS_SIG_HEX]);
/* 16 hex digits (either case) -> 8 bytes; -EINVAL otherwise. */
int ecfs_sig_from_hex(const char *hex, uint8_t sig[ECFS_SIG_BYTES]);

/* Salt from an ~/.ecryptfsrc-style file: the value of "salt=" when it is
 * exactly 16 hex digits.  Returns 1 when found, 0 when the file or the line
 * is absent (salt = the default), -errno on a read error or a malformed
 * salt= value. */
int ecfs_rc_salt(const char *rc_path, uint8_t salt[ECFS_SALT_BYTES],
		 struct ob_err *err);

/* A set of keys in locked memory; signatures unique (adding a key already
 * present is a no-op).  Not thread-safe while being built; read-only use
 * afterwards is. */
struct ecfs_keyset;
struct ecfs_keyset *ecfs_keyset_new(void);		/* NULL on ENOMEM */
void ecfs_keyset_free(struct ecfs_keyset *ks);		/* wipes; ks may be NULL */
int ecfs_keyset_add(struct ecfs_keyset *ks, const struct ecfs_key *key); /* -ENOSPC when full */
size_t ecfs_keyset_count(const struct ecfs_keyset *ks);
const struct ecfs_key *ecfs_keyset_get(const struct ecfs_keyset *ks, size_t i);
/* Constant-time in the signature compare; NULL when absent. */
const struct ecfs_key *ecfs_keyset_find(const struct ecfs_keyset *ks,
					const uint8_t sig[ECFS_SIG_BYTES]);

/* --------------------------------------------------------------- wrapped */

#define ECFS_WRAPPED_MAX 90	/* 26-byte v2 head + 64 bytes of ciphertext */

/* Version of a wrapped-passphrase file: 1 or 2; -EINVAL for neither,
 * -ENOTSUP for ":"+other version (§10.2). */
int ecfs_wrapped_version(const uint8_t *buf, size_t len, struct ob_err *err);

/* Unwrap with the wrapping (login) passphrase.  v1 files use v1_salt (from
 * ~/.ecryptfsrc or ecfs_default_salt); v2 files carry their own.  pass gets
 * the mount passphrase, NUL-terminated; -EKEYREJECTED when the wrapping
 * passphrase is wrong (signature mismatch), -EINVAL when the file is bad. */
int ecfs_wrapped_unwrap(const uint8_t *buf, size_t len,
			const char *wrap_pass, size_t wrap_len,
			const uint8_t v1_salt[ECFS_SALT_BYTES],
			char pass[ECFS_MAX_PASSPHRASE + 1], struct ob_err *err);

/* Build a v2 file (as ecryptfs-wrap-passphrase writes) with the given salt
 * (callers pass 8 random bytes).  *out_len gets the file length. */
int ecfs_wrapped_wrap(const char *pass, size_t pass_len,
		      const char *wrap_pass, size_t wrap_len,
		      const uint8_t salt[ECFS_SALT_BYTES],
		      uint8_t out[ECFS_WRAPPED_MAX], size_t *out_len,
		      struct ob_err *err);

/* The same on disk (lib/wrapped-file.c).  unwrap_file: read path and unwrap
 * it, as ecfs_wrapped_unwrap.  rewrap_file: unwrap path with old_pass and
 * write the same mount passphrase wrapped with new_pass (v2, random salt)
 * to a temporary file beside it, fsync, rename over path, fsync the
 * directory: killed at any moment, path opens with the old or the new
 * password.  Nothing changes unless old_pass opens the file. */
int ecfs_wrapped_unwrap_file(const char *path, const char *wrap_pass,
			     size_t wrap_len, const uint8_t v1_salt[ECFS_SALT_BYTES],
			     char pass[ECFS_MAX_PASSPHRASE + 1], struct ob_err *err);
int ecfs_wrapped_rewrap_file(const char *path, const char *old_pass, size_t old_len,
			     const char *new_pass, size_t new_len,
			     const uint8_t v1_salt[ECFS_SALT_BYTES], struct ob_err *err);

/* ---------------------------------------------------------------- cipher */

enum ecfs_cipher_code {
	ECFS_CIPHER_DES3_EDE	= 0x02,
	ECFS_CIPHER_CAST5	= 0x03,
	ECFS_CIPHER_BLOWFISH	= 0x04,
	ECFS_CIPHER_AES_128	= 0x07,
	ECFS_CIPHER_AES_192	= 0x08,
	ECFS_CIPHER_AES_256	= 0x09,
	ECFS_CIPHER_TWOFISH	= 0x0a,
	ECFS_CIPHER_CAST6	= 0x0b,
};

struct ecfs_cipher_info {
	const char *name;	/* kernel name: "aes", "blowfish", ... */
	uint8_t code;
	uint8_t block;		/* block size in bytes: 8 or 16 */
	uint8_t key_min, key_max, key_step;	/* accepted key sizes */
	uint8_t key_default;	/* what ecfs uses when none is given */
};

/* Lookups; NULL when unknown.  by_name takes key_bytes because "aes" has
 * one code per key size (0 = the default size). */
const struct ecfs_cipher_info *ecfs_cipher_by_code(uint8_t code);
const struct ecfs_cipher_info *ecfs_cipher_by_name(const char *name, size_t key_bytes);
/* All ciphers, for listings and tests: returns the count, *out the table. */
size_t ecfs_cipher_list(const struct ecfs_cipher_info **out);

/* An expanded key for one cipher: immutable, thread-safe. */
struct ecfs_ckey;
int ecfs_ckey_new(const struct ecfs_cipher_info *ci, const uint8_t *key,
		  size_t key_len, struct ecfs_ckey **out, struct ob_err *err);
void ecfs_ckey_free(struct ecfs_ckey *ck);	/* wipes; ck may be NULL */
const struct ecfs_cipher_info *ecfs_ckey_cipher(const struct ecfs_ckey *ck);

/* ECB over len bytes (a multiple of the block size; -EINVAL otherwise). */
int ecfs_ckey_ecb(const struct ecfs_ckey *ck, bool encrypt, const uint8_t *in,
		  uint8_t *out, size_t len);
/* CBC over len bytes from iv (only its first block-size bytes are used, as
 * the kernel does for 8-byte ciphers).  in == out is allowed. */
int ecfs_ckey_cbc(const struct ecfs_ckey *ck, bool encrypt,
		  const uint8_t iv[ECFS_IV_BYTES], const uint8_t *in,
		  uint8_t *out, size_t len);

/* ---------------------------------------------------------------- header */

#define ECFS_FLAG_HMAC			0x01
#define ECFS_FLAG_ENCRYPTED		0x02
#define ECFS_FLAG_METADATA_IN_XATTR	0x04
#define ECFS_FLAG_ENCRYPT_FILENAMES	0x08

#define ECFS_MAX_PACKETS	16
#define ECFS_MAX_EKEY		512

enum ecfs_packet_tag {
	ECFS_PKT_TAG3 = 3,	/* passphrase-wrapped FEK (+ Tag 11 signature) */
	ECFS_PKT_TAG1 = 1,	/* public-key-wrapped FEK */
};

/* One key packet as it stands in the header; kept verbatim so a rewritten
 * header carries every packet the file had. */
struct ecfs_packet {
	uint8_t tag;			/* enum ecfs_packet_tag */
	uint8_t sig[ECFS_SIG_BYTES];	/* Tag 11 sig or Tag 1 key identifier */
	uint8_t cipher_code;		/* Tag 3; 0 for Tag 1 (inside the blob) */
	uint8_t salt[ECFS_SALT_BYTES];	/* Tag 3 salt field (informational) */
	uint16_t ekey_len;
	uint8_t ekey[ECFS_MAX_EKEY];	/* EFEK (Tag 3) or encrypted blob (Tag 1) */
};

struct ecfs_header {
	uint64_t size;			/* plaintext size (bytes 0..7) */
	uint32_t marker_a;		/* random; B = A ^ 0x3c81b7f5 */
	uint8_t version;		/* 0..3 accepted, 3 written */
	uint32_t flags;			/* ECFS_FLAG_*, low 24 bits of word 16 */
	uint32_t header_extent_size;
	uint16_t num_header_extents;
	bool in_xattr;			/* metadata came from / goes to the xattr */
	uint64_t data_offset;		/* lower offset of extent 0 */
	unsigned npackets;
	struct ecfs_packet packets[ECFS_MAX_PACKETS];
};

/* True when buf (>= 16 bytes) starts with a valid size + marker (§2.1). */
bool ecfs_header_probe(const uint8_t *buf, size_t len);

/* Parse metadata from the first bytes of a lower file (in_xattr false;
 * pass at least the first 4096 bytes) or from a user.ecryptfs value.
 * -EINVAL with a reason for anything malformed: no marker, version > 3,
 * bad packet lengths, Tag 3 without Tag 11, no key packet at all. */
int ecfs_header_parse(const uint8_t *buf, size_t len, bool in_xattr,
		      struct ecfs_header *h, struct ob_err *err);

/* Serialise h into buf.  In-file: fills exactly h->data_offset bytes (the
 * whole metadata region, zero padded, with the 0x00 after the packet set)
 * and returns that length.  xattr (h->in_xattr): returns 26 + packet bytes,
 * the xattr value.  -ENOSPC when buf is too small or the packets do not fit
 * in the first extent. */
ssize_t ecfs_header_write(const struct ecfs_header *h, uint8_t *buf,
			  size_t buflen, struct ob_err *err);

/* Encode just the 8-byte size field. */
void ecfs_header_put_size(uint8_t out[8], uint64_t size);

/* A new header for a new file: random marker, version 3, flags ENCRYPTED
 * (+FILENAMES, +XATTR as asked), 4096 x 2, no packets yet. */
int ecfs_header_init(struct ecfs_header *h, bool in_xattr, bool fnek,
		     struct ob_err *err);

/* ------------------------------------------------------------------- fek */

/* The file encryption key of one file, ready for extent crypto.  Immutable
 * and thread-safe once made. */
struct ecfs_fek;

/* Unwrap a FEK from h's Tag 3 packets with any key in ks, trying packets in
 * the kernel's order (last parsed first).  *packet_index (may be NULL) gets
 * the packet used.  -ENOKEY when no packet's signature is in ks;
 * -EKEYREJECTED when a key matched but the unwrapped key failed the AES-192
 * padding check; -EOPNOTSUPP for an unknown cipher code or a Tag 1 only
 * header. */
int ecfs_fek_unwrap(const struct ecfs_header *h, const struct ecfs_keyset *ks,
		    struct ecfs_fek **out, int *packet_index, struct ob_err *err);

/* A new random FEK of key_bytes for cipher ci, wrapped once for every key in
 * wrap_keys (in order) into h's packet list (Tag 3 + Tag 11 each). */
int ecfs_fek_create(const struct ecfs_cipher_info *ci, size_t key_bytes,
		    const struct ecfs_keyset *wrap_keys, struct ecfs_header *h,
		    struct ecfs_fek **out, struct ob_err *err);

/* Add one Tag 3 packet for key to h, wrapping this FEK (re-keying). */
int ecfs_fek_wrap_into(const struct ecfs_fek *fek, const struct ecfs_key *key,
		       struct ecfs_header *h, struct ob_err *err);

void ecfs_fek_free(struct ecfs_fek *fek);	/* wipes; may be NULL */
const struct ecfs_cipher_info *ecfs_fek_cipher(const struct ecfs_fek *fek);
size_t ecfs_fek_key_bytes(const struct ecfs_fek *fek);

/* IV of extent n: MD5(root_iv || decimal(n) zero-padded to 16) (§5.2). */
void ecfs_fek_extent_iv(const struct ecfs_fek *fek, uint64_t n,
			uint8_t iv[ECFS_IV_BYTES]);

/* Encrypt or decrypt count whole extents, the first being extent number
 * first.  in == out is allowed. */
int ecfs_fek_crypt_extents(const struct ecfs_fek *fek, bool encrypt,
			   uint64_t first, const uint8_t *in, uint8_t *out,
			   size_t count);

/* A second thread for long runs of extents (fek.c says why), created and
 * owned by the caller: a mount makes one and frees it at unmount.  *out is
 * NULL (and 0 returned) with a single CPU online: there is nothing to spare.
 * One helper serves any number of threads; free it after the last user. */
struct ecfs_crypt_helper;
int ecfs_crypt_helper_new(struct ecfs_crypt_helper **out, struct ob_err *err);
void ecfs_crypt_helper_free(struct ecfs_crypt_helper *h);	/* may be NULL */
/* ecfs_fek_crypt_extents, giving half of a long run to h when it is free;
 * h may be NULL. */
int ecfs_fek_crypt_extents_with(struct ecfs_crypt_helper *h, const struct ecfs_fek *fek,
				bool encrypt, uint64_t first, const uint8_t *in,
				uint8_t *out, size_t count);

/* ------------------------------------------------------------------ name */

/* A filename key (FNEK): the token, the name cipher and its key length. */
struct ecfs_fnek;
/* ci NULL = AES with key_bytes (0 = 16).  The key is the first key_bytes of
 * tok->kek; the deterministic prefix is derived from all 64 bytes. */
int ecfs_fnek_new(const struct ecfs_key *tok, const struct ecfs_cipher_info *ci,
		  size_t key_bytes, struct ecfs_fnek **out, struct ob_err *err);
void ecfs_fnek_free(struct ecfs_fnek *fn);
const uint8_t *ecfs_fnek_sig(const struct ecfs_fnek *fn);

/* Longest lower name buffer needed for any plaintext name (+NUL). */
#define ECFS_LOWER_NAME_MAX	4096

/* name (len bytes, no '/', not "." or "..") -> "ECRYPTFS_FNEK_ENCRYPTED.…",
 * NUL-terminated in out.  -ENAMETOOLONG past max_plain bytes (pass
 * ECFS_NAME_MAX for names, larger for symlink targets) or when out is too
 * small.  Returns the lower name length. */
ssize_t ecfs_name_encrypt(const struct ecfs_fnek *fn, const char *name,
			  size_t len, size_t max_plain, char *out,
			  size_t outlen, struct ob_err *err);

/* Decrypt a lower name with whichever of fneks[0..n) matches its signature.
 * Returns the plaintext length (out NUL-terminated).  -EINVAL: not an
 * encrypted name or malformed (callers hide such names, as the kernel does);
 * -ENOKEY: well-formed but no FNEK with its signature; -EBADMSG: that FNEK
 * does not decrypt it with the packet's cipher at any key size (a wrong
 * passphrase behind the same signature, or damage).  The FNEK's key length
 * is tried first, then every other one the cipher takes: the packet does
 * not carry it. */
ssize_t ecfs_name_decrypt(struct ecfs_fnek *const *fneks, size_t n,
			  const char *lower, char *out, size_t outlen,
			  struct ob_err *err);
/* The same, and *key_bytes = the filename key length that decrypted it
 * (differs from ecfs_fnek_key_bytes() when the tree was written with
 * another ecryptfs_fn_key_bytes). */
ssize_t ecfs_name_decrypt_sized(struct ecfs_fnek *const *fneks, size_t n,
				const char *lower, char *out, size_t outlen,
				size_t *key_bytes, struct ob_err *err);
size_t ecfs_fnek_key_bytes(const struct ecfs_fnek *fn);

/* Symlink targets use the same packet and encoding as names, but may hold
 * '/' and be longer (up to ECFS_TARGET_MAX bytes of plaintext). */
#define ECFS_TARGET_MAX		2048
ssize_t ecfs_target_encrypt(const struct ecfs_fnek *fn, const char *target,
			    size_t len, char *out, size_t outlen,
			    struct ob_err *err);
ssize_t ecfs_target_decrypt(struct ecfs_fnek *const *fneks, size_t n,
			    const char *lower, char *out, size_t outlen,
			    struct ob_err *err);

/* The FNEK signature a lower name was made with; -EINVAL if not one. */
int ecfs_name_sig(const char *lower, uint8_t sig[ECFS_SIG_BYTES]);

/* Which of fneks[0..n) decrypts the lower name (or symlink target): its
 * index, -EINVAL if not an encrypted name, -ENOKEY if none. */
int ecfs_name_fnek_index(struct ecfs_fnek *const *fneks, size_t n, const char *lower);

/* a and b write names with the same cipher and key length. */
bool ecfs_fnek_same_cipher(const struct ecfs_fnek *a, const struct ecfs_fnek *b);

/* eCryptfs's own base64 (§7.3).  encode returns chars written (no NUL);
 * decode returns bytes written, -EINVAL for a char outside the alphabet. */
size_t ecfs_b64_encode(const uint8_t *in, size_t len, char *out);
ssize_t ecfs_b64_decode(const char *in, size_t len, uint8_t *out);

/* ------------------------------------------------------------------ file */

/* A lower regular file opened for plaintext I/O.  The object owns nothing
 * but its header and FEK: fd stays the caller's.  Reads may run
 * concurrently; writes and truncates must be serialised by the caller
 * against each other and against reads of the extents they touch. */
struct ecfs_file {
	int fd;			/* lower file, O_RDWR or O_RDONLY */
	struct ecfs_header hdr;	/* hdr.size is the current plaintext size */
	struct ecfs_fek *fek;
	bool syno_size_copy;	/* a Synology size copy in user.ecryptfs to keep right */
	struct ecfs_crypt_helper *helper;	/* the caller's, or NULL; set after open */
};

enum ecfs_open_flags {
	ECFS_OPEN_XATTR_OK = 1 << 0,	/* accept metadata from user.ecryptfs */
};

/* Read and parse fd's metadata (in-file header, else the xattr when
 * allowed) into h.  -ENODATA when there is no eCryptfs metadata at all
 * (a plain file), -EINVAL when it is damaged. */
int ecfs_metadata_read(int fd, unsigned flags, struct ecfs_header *h,
		       struct ob_err *err);

/* Open: read metadata and unwrap the FEK with ks. */
int ecfs_file_open(struct ecfs_file *f, int fd, unsigned flags,
		   const struct ecfs_keyset *ks, struct ob_err *err);

/* Create: make a FEK for ci/key_bytes wrapped by every key of wrap_keys and
 * write the metadata to the (empty) lower file fd or its xattr. */
int ecfs_file_create(struct ecfs_file *f, int fd,
		     const struct ecfs_cipher_info *ci, size_t key_bytes,
		     const struct ecfs_keyset *wrap_keys, bool in_xattr,
		     bool fnek, struct ob_err *err);

void ecfs_file_close(struct ecfs_file *f);	/* frees the FEK; not the fd */

/* Plaintext I/O.  pread returns bytes read (short only at EOF).  pwrite
 * writes all of len or fails; writing past EOF fills the gap with
 * encrypted zeros; the size field is updated when the file grows.
 * truncate shrinks or grows, zeroing the tail of the last extent. */
ssize_t ecfs_file_pread(struct ecfs_file *f, void *buf, size_t len,
			uint64_t off, struct ob_err *err);
ssize_t ecfs_file_pwrite(struct ecfs_file *f, const void *buf, size_t len,
			 uint64_t off, struct ob_err *err);
int ecfs_file_truncate(struct ecfs_file *f, uint64_t size, struct ob_err *err);

/* Lower file size the kernel would leave for a plaintext size. */
uint64_t ecfs_lower_size(const struct ecfs_header *h, uint64_t plain_size);

/* ---------------------------------------------------------------- legacy */
/* Files kept beside legacy lower directories (lib/legacy.c;
 * shared/spec/legacy-ecryptfs.md, ecryptfs-format.md §1 and §10.1). */

/* ~/.ecryptfs/Private.sig: line 1 the content-key sig, optional line 2 the
 * filename-key sig.  Returns the number of sigs (1 or 2), -EINVAL with the
 * bad line's number otherwise. */
int ecfs_private_sig_parse(const char *buf, size_t len,
			   uint8_t sigs[2][ECFS_SIG_BYTES], struct ob_err *err);

/* Synology DSM's exported shared-folder .key: an ecryptfs-utils wrapped-
 * passphrase file wrapped with a fixed passphrase (legacy §1.4).  A v1 file
 * starts with the fixed wrapping signature. */
#define ECFS_SYNO_WRAP_PASS	"$1$5YN01o9y"
#define ECFS_SYNO_WRAP_SIG	"323382b3c4f1c6d2"
extern const char ecfs_syno_wrap_pass[];
bool ecfs_syno_key_probe(const uint8_t *buf, size_t len);
/* pass gets the share's passphrase.  -EKEYREJECTED when the file is not
 * wrapped with the fixed passphrase, -EINVAL for another format. */
int ecfs_syno_key_unwrap(const uint8_t *buf, size_t len,
			 char pass[ECFS_MAX_PASSPHRASE + 1], struct ob_err *err);

/* The kernel keyring payload of a passphrase key: struct ecryptfs_auth_tok,
 * 740 bytes, host endian, as ecryptfs-utils' generate_payload() fills it.
 * pack cannot fail; unpack gives -EINVAL/-EOPNOTSUPP with a reason. */
#define ECFS_AUTH_TOK_BYTES	740
void ecfs_auth_tok_pack(const struct ecfs_key *key, uint8_t out[ECFS_AUTH_TOK_BYTES]);
int ecfs_auth_tok_unpack(const uint8_t *buf, size_t len, struct ecfs_key *key,
			 struct ob_err *err);

/* Synology's copy of the plaintext size: a user.ecryptfs xattr of 8 or 16
 * bytes (size BE + marker) beside an in-file header (legacy §1.6).
 * read: 1 and *size when present, 0 when absent (or when the xattr is full
 * xattr-mode metadata), -errno on an I/O error.
 * sync: rewrite its first 8 bytes with size; 1 when it was changed, 0 when
 * there is no copy or it was already right, -errno on failure. */
int ecfs_syno_size_read(int fd, uint64_t *size);
int ecfs_syno_size_sync(int fd, uint64_t size, struct ob_err *err);

/* crouton's <chroot>/.ecryptfs: whatever first line, then two 80-byte v1
 * wrapped passphrases (content key, filename key).  parts point into buf. */
#define ECFS_CROUTON_WRAPPED	80
int ecfs_crouton_keyfile_split(const uint8_t *buf, size_t len,
			       const uint8_t *parts[2], struct ob_err *err);

/* ------------------------------------------- keys beyond passphrases */
/* Public keys (Tag 1, lib/pubkey.c), key sets that mix them with
 * passphrase keys, per-file cipher policy (lib/policy.c), in-place header
 * re-keying (lib/rekey.c), and the key-file layer: a random passphrase-
 * equivalent key kept in a file, optionally wrapped to GnuPG keys
 * (lib/gpg.c) or sealed by a TPM 2.0 (lib/tpm.c).  Spec §3.5 for Tag 1. */

/* An RSA key for Tag 1 packets: always the public half (to wrap), the
 * private half when loaded from a private key (to unwrap).  Its key id is
 * the openssl key module's signature (§3.5).  Immutable, thread-safe. */
struct ecfs_pubkey;

/* Load a PEM file: a public key ("PUBLIC KEY" or "RSA PUBLIC KEY") or a
 * private key (PKCS#8, encrypted PKCS#8 or traditional "RSA PRIVATE KEY"),
 * pass/pass_len (may be NULL/0) its passphrase.  want_private: refuse a
 * public-only file with -ENOKEY.  -EKEYREJECTED for a wrong passphrase,
 * -EINVAL for a file that is not an RSA key. */
int ecfs_pubkey_load(const char *path, const char *pass, size_t pass_len,
		     bool want_private, struct ecfs_pubkey **out,
		     struct ob_err *err);
void ecfs_pubkey_free(struct ecfs_pubkey *pk);	/* may be NULL */
const uint8_t *ecfs_pubkey_id(const struct ecfs_pubkey *pk);	/* 8 bytes */
bool ecfs_pubkey_has_private(const struct ecfs_pubkey *pk);
size_t ecfs_pubkey_bytes(const struct ecfs_pubkey *pk);	/* modulus size */

/* The key id of the RSA key (n, e), big-endian magnitudes: the first 8
 * bytes of SHA-1(0x99 ‖ len16 ‖ 04 00000000 02 ‖ MPI(n) ‖ MPI(e)).
 * -EINVAL for sizes the MPI header cannot express. */
int ecfs_rsa_key_id(const uint8_t *n, size_t n_len, const uint8_t *e,
		    size_t e_len, uint8_t id[ECFS_SIG_BYTES]);

/* The plaintext inside a Tag 1 blob: cipher_code ‖ FEK ‖ checksum (u16 BE,
 * sum of the FEK bytes).  pack returns its length (key_bytes + 3); unpack
 * checks length, cipher and checksum (-EKEYREJECTED when it fails). */
size_t ecfs_tag1_plain_pack(uint8_t code, const uint8_t *key, size_t key_bytes,
			    uint8_t out[ECFS_MAX_KEY_BYTES + 3]);
int ecfs_tag1_plain_unpack(const uint8_t *in, size_t len, uint8_t *code,
			   uint8_t key[ECFS_MAX_KEY_BYTES], size_t *key_bytes,
			   struct ob_err *err);

/* Add one Tag 1 packet for pk to h: RSA-OAEP (SHA-1, MGF1-SHA-1, no label,
 * as RSA_PKCS1_OAEP_PADDING) of the Tag 1 plaintext of fek. */
int ecfs_fek_wrap_pub(const struct ecfs_fek *fek, const struct ecfs_pubkey *pk,
		      struct ecfs_header *h, struct ob_err *err);

/* Every key a file may be wrapped with or opened with: passphrase keys
 * (Tag 3) and RSA keys (Tag 1).  Any member may be NULL/0. */
struct ecfs_keys {
	const struct ecfs_keyset *pass;
	struct ecfs_pubkey *const *pub;
	size_t npub;
};

/* Unwrap h's FEK with any key: Tag 3 packets first (as ecfs_fek_unwrap),
 * then Tag 1 packets whose key id is one of keys->pub with a private half.
 * Errors as ecfs_fek_unwrap; -ENOKEY when no packet matches any key. */
int ecfs_fek_unwrap_any(const struct ecfs_header *h, const struct ecfs_keys *keys,
			struct ecfs_fek **out, int *packet_index,
			struct ob_err *err);

/* A new FEK wrapped by every passphrase key (Tag 3, first) and every
 * public key (Tag 1, after).  -ENOKEY when keys holds no key at all. */
int ecfs_fek_create_ex(const struct ecfs_cipher_info *ci, size_t key_bytes,
		       const struct ecfs_keys *keys, struct ecfs_header *h,
		       struct ecfs_fek **out, struct ob_err *err);

/* ecfs_file_open/ecfs_file_create with a mixed key set. */
int ecfs_file_open_ex(struct ecfs_file *f, int fd, unsigned flags,
		      const struct ecfs_keys *keys, struct ob_err *err);
int ecfs_file_create_ex(struct ecfs_file *f, int fd,
			const struct ecfs_cipher_info *ci, size_t key_bytes,
			const struct ecfs_keys *keys, bool in_xattr, bool fnek,
			struct ob_err *err);

/* Replace fd's whole metadata with h in one write: one pwrite of the
 * first extent at offset 0 (in-file; the rest of the region is zero and
 * stays so) or one fsetxattr (xattr mode), then fdatasync.  See rekey.c
 * for why that is the atomic unit. */
int ecfs_metadata_write(int fd, const struct ecfs_header *h, struct ob_err *err);

/* Per-file cipher policy: lines "PATTERN CIPHER [KEY_BYTES]", '#'
 * comments; the first pattern (fnmatch(3) on the file's base name) that
 * matches a new file's name picks its cipher.  E.g.
 *     *.kdbx  aes 32      (AES-256 for KeePass files)
 *     [star]  aes 16      (a lone star: everything else) */
struct ecfs_policy;
/* -EINVAL with the line number for a bad line or a cipher/size the kernel
 * cannot use. */
int ecfs_policy_parse(const char *buf, size_t len, struct ecfs_policy **out,
		      struct ob_err *err);
/* Read and parse a file; -ENOENT when absent (callers may ignore that). */
int ecfs_policy_load(const char *path, struct ecfs_policy **out, struct ob_err *err);
void ecfs_policy_free(struct ecfs_policy *p);	/* may be NULL */
/* 1 and *ci and *key_bytes when a rule matches name, else 0 (nothing set).
 * p may be NULL (no policy: 0). */
int ecfs_policy_match(const struct ecfs_policy *p, const char *name,
		      const struct ecfs_cipher_info **ci, size_t *key_bytes);
size_t ecfs_policy_count(const struct ecfs_policy *p);

/* Re-keying one lower file in place (lib/rekey.c).  open_keys must open
 * the FEK; every key of add not already on the file gets a packet; every
 * packet whose sig/key id is in remove goes.  Refuses (-EPERM) to leave a
 * file with no packet, -ENOSPC when the packets would not fit in the first
 * extent.  With dry_run nothing is written.  *changed (may be NULL) says
 * whether the header was (or would be) rewritten. */
struct ecfs_rekey {
	const struct ecfs_keys *open_keys;
	const struct ecfs_keys *add;
	const uint8_t (*remove)[ECFS_SIG_BYTES];
	size_t nremove;
	bool dry_run;
};
int ecfs_rekey_fd(int fd, const struct ecfs_rekey *rk, bool *changed,
		  struct ob_err *err);

/* The key-file layer.  A key file holds a random 32-byte key written as 64
 * lowercase hex digits and a newline: it IS a passphrase (64 bytes, the
 * most the kernel takes), so files made with it stay readable by the
 * kernel (ecryptfs-add-passphrase < keyfile).  GPG and TPM protect that
 * text; what they unwrap is again the passphrase. */
#define ECFS_KEYFILE_CHARS	64
/* 64 hex chars from 32 random bytes, NUL-terminated. */
int ecfs_keyfile_generate(char out[ECFS_KEYFILE_CHARS + 1], struct ob_err *err);

/* GPG (lib/gpg.c, GPGME; decryption goes through gpg-agent, so smartcards
 * work).  encrypt: *out malloc'd (the OpenPGP message, not secret).
 * decrypt: plaintext into locked memory *out (ob_secure_free it), at most
 * max bytes.  -ENOTSUP when built without GPGME. */
int ecfs_gpg_encrypt(const uint8_t *in, size_t len, const char *const *recipients,
		     size_t nrecipients, uint8_t **out, size_t *out_len,
		     struct ob_err *err);
int ecfs_gpg_decrypt(const uint8_t *in, size_t len, uint8_t **out,
		     size_t *out_len, size_t max, struct ob_err *err);

/* TPM 2.0 (lib/tpm.c, tss2-esys).  tcti: a TCTI config string such as
 * "swtpm:host=127.0.0.1,port=2321" or "device:/dev/tpmrm0"; NULL = the
 * tss2 default.  seal: data (<= 128 bytes) sealed under the owner
 * hierarchy's primary key, with pcr_mask (bit n = SHA-256 PCR n; 0 = no
 * PCR policy) binding it to the current PCR values; *out malloc'd blob.
 * unseal: the data into locked memory.  -EKEYREJECTED when the PCR policy
 * fails, -ENOTSUP when built without tss2. */
int ecfs_tpm_seal(const char *tcti, const uint8_t *data, size_t len,
		  uint32_t pcr_mask, uint8_t **out, size_t *out_len,
		  struct ob_err *err);
int ecfs_tpm_unseal(const char *tcti, const uint8_t *blob, size_t blob_len,
		    uint8_t **out, size_t *out_len, struct ob_err *err);

#endif
