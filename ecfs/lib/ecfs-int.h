/* SPDX-License-Identifier: MIT */
/* ecfs-int.h - the one private header of libecfs: shared internals.
 *
 * Byte-order helpers, the FEK object (shared by fek.c and file.c), hashing
 * and randomness wrappers.  Nothing here is part of the public contract.
 */
#ifndef ECFS_INT_H
#define ECFS_INT_H

#include "ecfs.h"

#include <stdint.h>

static inline uint32_t ecfs_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline uint16_t ecfs_get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint64_t ecfs_get_be64(const uint8_t *p)
{
	return (uint64_t)ecfs_get_be32(p) << 32 | ecfs_get_be32(p + 4);
}

static inline void ecfs_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static inline void ecfs_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static inline void ecfs_put_be64(uint8_t *p, uint64_t v)
{
	ecfs_put_be32(p, v >> 32);
	ecfs_put_be32(p + 4, (uint32_t)v);
}

#define ECFS_MARKER_XOR		0x3c81b7f5u
#define ECFS_FILE_VERSION	3

/* Per-file key state; lives in locked memory (ob_secure_alloc). */
struct ecfs_fek {
	const struct ecfs_cipher_info *cipher;
	size_t key_bytes;
	uint8_t key[ECFS_MAX_KEY_BYTES];
	uint8_t root_iv[ECFS_IV_BYTES];
	struct ecfs_ckey *ckey;		/* CBC with key */
};

/* Write h as fd's metadata: the whole region (a new file) or only the first
 * extent (a rewrite: one atomic 4 KiB write), or the xattr; then fdatasync
 * when asked.  Goes through the ob_sys table, so faults can be injected. */
int ecfs_md_write(int fd, const struct ecfs_header *h, bool whole, bool sync,
		  struct ob_err *err);

/* A FEK object from raw key bytes: root IV and expanded key made here. */
int ecfs_fek_build(const struct ecfs_cipher_info *ci, const uint8_t *key,
		   size_t key_bytes, struct ecfs_fek **out, struct ob_err *err);

/* The KEK of key (a member of ks, or any key) expanded for ci/key_bytes,
 * from the set's cache.  *owned says whether the caller must free it (a key
 * outside the set, or a full cache).  NULL with err set on failure. */
struct ecfs_ckey *ecfs_keyset_kek(const struct ecfs_keyset *ks, const struct ecfs_key *key,
				  const struct ecfs_cipher_info *ci, size_t key_bytes,
				  bool *owned, struct ob_err *err);

/* MD5 and SHA-512 of a buffer (nettle; no allocation, thread-safe). */
void ecfs_md5(const void *in, size_t len, uint8_t out[16]);
void ecfs_sha512(const void *in, size_t len, uint8_t out[64]);

/* keymem.c: what OpenSSL allocates between begin and end on this thread
 * (a context being keyed, a private key being decoded) goes to the locked,
 * never-dumped pool.  active: OpenSSL took our allocator at load time. */
void ecfs_keymem_begin(void);
void ecfs_keymem_end(void);
bool ecfs_keymem_active(void);

/* Cryptographically random bytes (getrandom); -errno on failure. */
int ecfs_random(void *buf, size_t len);

/* Packet length field (§3.1): write returns bytes used (1 or 2) or -EINVAL
 * past 8383; parse returns bytes consumed and sets *len, -EINVAL when the
 * field is malformed or does not fit in avail bytes. */
int ecfs_packet_len_write(uint8_t *out, size_t len);
int ecfs_packet_len_parse(const uint8_t *in, size_t avail, size_t *len);

#endif
