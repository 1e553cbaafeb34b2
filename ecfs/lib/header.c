// SPDX-License-Identifier: MIT
/* header.c - the eCryptfs metadata: header fields and key packets (spec §2, §3).
 *
 * Layout of the metadata region (format version 3, all integers big-endian):
 *
 *   0   u64  plaintext size
 *   8   u32  marker A (random)          12  u32  marker B = A ^ 0x3c81b7f5
 *   16  u8   version  17 u16 reserved   19  u8   flags (ECFS_FLAG_*)
 *   20  u32  header extent size         24  u16  number of header extents
 *   26  ...  key packet set: { Tag 3 + Tag 11 | Tag 1 }*, then one 0x00
 *
 * Version 0 has no extent fields: packets start at 20 and the region is
 * 8192 bytes.  The region size is always the product of the two extent
 * fields (never assumed), except in xattr mode where data starts at 0.
 *
 * Packets are kept verbatim in struct ecfs_packet, so a file rewritten by
 * ecfs keeps every key packet the kernel (or another tool) put there.  The
 * parser is written for hostile input: every length is checked against the
 * bytes that remain before it is used.
 */
#include "ecfs-int.h"

#include <errno.h>
#include <string.h>

#define TAG3_BYTE	0x8c
#define TAG11_BYTE	0xed
#define TAG1_BYTE	0x01
#define TAG3_VERSION	0x04
#define TAG1_VERSION	0x03
#define S2K_SALTED_ITER	0x03
#define HASH_MD5	0x01
#define ITER_BYTE_65536	0x60
#define TAG11_BODY	22
#define TAG11_FILENAME	"_CONSOLE"
#define HDR_PACKETS_V1	26
#define HDR_PACKETS_V0	20
#define HDR_MAX_REGION	(16u << 20)	/* 64 KiB pages need 65536; be generous */

bool ecfs_header_probe(const uint8_t *buf, size_t len)
{
	if (len < 16)
		return false;
	return (ecfs_get_be32(buf + 8) ^ ECFS_MARKER_XOR) == ecfs_get_be32(buf + 12);
}

void ecfs_header_put_size(uint8_t out[8], uint64_t size)
{
	ecfs_put_be64(out, size);
}

/* Tag 11 must follow every Tag 3 and carry exactly the 8-byte signature. */
static int parse_tag11(const uint8_t *p, size_t avail, uint8_t sig[ECFS_SIG_BYTES],
		       size_t *used, struct ob_err *err)
{
	size_t body;
	int n;

	if (avail < 2 || p[0] != TAG11_BYTE)
		return ob_err_set(err, -EINVAL, "Tag 3 packet not followed by a Tag 11 signature packet");
	n = ecfs_packet_len_parse(p + 1, avail - 1, &body);
	if (n < 0 || 1 + (size_t)n + body > avail)
		return ob_err_set(err, -EINVAL, "Tag 11 packet length runs past the header");
	if (body < 14 || body - 14 != ECFS_SIG_BYTES)
		return ob_err_set(err, -EINVAL, "Tag 11 packet holds %zu bytes of data (expected 8)",
				  body < 14 ? 0 : body - 14);
	p += 1 + n;
	if (p[0] != 0x62 || p[1] != 0x08)
		return ob_err_set(err, -EINVAL, "Tag 11 packet has format 0x%02x, name length %u (expected 0x62, 8)",
				  p[0], p[1]);
	memcpy(sig, p + 14, ECFS_SIG_BYTES);
	*used = 1 + (size_t)n + body;
	return 0;
}

static int parse_tag3(const uint8_t *p, size_t avail, struct ecfs_packet *pk,
		      size_t *used, struct ob_err *err)
{
	size_t body, t11 = 0;
	int n, rc;

	n = ecfs_packet_len_parse(p + 1, avail - 1, &body);
	if (n < 0 || 1 + (size_t)n + body > avail)
		return ob_err_set(err, -EINVAL, "Tag 3 packet length runs past the header");
	if (body < ECFS_SALT_BYTES + 5 || body - (ECFS_SALT_BYTES + 5) > ECFS_MAX_EKEY)
		return ob_err_set(err, -EINVAL, "Tag 3 packet body of %zu bytes (expected 14..%d)",
				  body, ECFS_MAX_EKEY + ECFS_SALT_BYTES + 5);
	p += 1 + n;
	if (p[0] != TAG3_VERSION)
		return ob_err_set(err, -EINVAL, "Tag 3 packet version %u (expected 4)", p[0]);
	if (p[2] != S2K_SALTED_ITER || p[3] != HASH_MD5)
		return ob_err_set(err, -EINVAL, "Tag 3 packet S2K %u, hash %u (expected 3, 1)",
				  p[2], p[3]);
	memset(pk, 0, sizeof(*pk));
	pk->tag = ECFS_PKT_TAG3;
	pk->cipher_code = p[1];
	memcpy(pk->salt, p + 4, ECFS_SALT_BYTES);
	pk->ekey_len = (uint16_t)(body - (ECFS_SALT_BYTES + 5));
	memcpy(pk->ekey, p + 13, pk->ekey_len);
	*used = 1 + (size_t)n + body;
	rc = parse_tag11(p + body, avail - *used, pk->sig, &t11, err);
	if (rc)
		return rc;
	*used += t11;
	return 0;
}

static int parse_tag1(const uint8_t *p, size_t avail, struct ecfs_packet *pk,
		      size_t *used, struct ob_err *err)
{
	size_t body;
	int n;

	n = ecfs_packet_len_parse(p + 1, avail - 1, &body);
	if (n < 0 || 1 + (size_t)n + body > avail)
		return ob_err_set(err, -EINVAL, "Tag 1 packet length runs past the header");
	if (body < 10 || body - 10 > ECFS_MAX_EKEY)
		return ob_err_set(err, -EINVAL, "Tag 1 packet body of %zu bytes (expected 11..%d)",
				  body, ECFS_MAX_EKEY + 10);
	p += 1 + n;
	if (p[0] != TAG1_VERSION)
		return ob_err_set(err, -EINVAL, "Tag 1 packet version %u (expected 3)", p[0]);
	memset(pk, 0, sizeof(*pk));
	pk->tag = ECFS_PKT_TAG1;
	memcpy(pk->sig, p + 1, ECFS_SIG_BYTES);
	pk->ekey_len = (uint16_t)(body - 10);
	memcpy(pk->ekey, p + 10, pk->ekey_len);
	*used = 1 + (size_t)n + body;
	return 0;
}

static int parse_packet_set(const uint8_t *buf, size_t len, size_t pos,
			    struct ecfs_header *h, struct ob_err *err)
{
	while (pos < len) {
		struct ecfs_packet *pk = &h->packets[h->npackets];
		size_t used = 0;
		int rc;

		if (buf[pos] != TAG3_BYTE && buf[pos] != TAG1_BYTE) {
			if (buf[pos] == TAG11_BYTE)
				return ob_err_set(err, -EINVAL,
						  "Tag 11 packet at offset %zu without a Tag 3 before it", pos);
			break;		/* the 0x00 terminator, or end of set */
		}
		if (h->npackets == ECFS_MAX_PACKETS)
			return ob_err_set(err, -EINVAL, "more than %d key packets",
					  ECFS_MAX_PACKETS);
		if (buf[pos] == TAG3_BYTE)
			rc = parse_tag3(buf + pos, len - pos, pk, &used, err);
		else
			rc = parse_tag1(buf + pos, len - pos, pk, &used, err);
		if (rc) {
			ob_err_prefix(err, "key packet %u at offset %zu", h->npackets + 1, pos);
			return rc;
		}
		h->npackets++;
		pos += used;
	}
	if (h->npackets == 0)
		return ob_err_set(err, -EINVAL, "no key packets in the header");
	return 0;
}

int ecfs_header_parse(const uint8_t *buf, size_t len, bool in_xattr,
		      struct ecfs_header *h, struct ob_err *err)
{
	uint32_t word;
	size_t pos;

	memset(h, 0, sizeof(*h));
	/* The kernel reads one extent of header; packets beyond it are not its. */
	if (len > ECFS_EXTENT_SIZE)
		len = ECFS_EXTENT_SIZE;
	if (len < HDR_PACKETS_V0 || !ecfs_header_probe(buf, len))
		return ob_err_set(err, -EINVAL, "no eCryptfs marker (not an eCryptfs file)");
	h->size = ecfs_get_be64(buf);
	h->marker_a = ecfs_get_be32(buf + 8);
	word = ecfs_get_be32(buf + 16);
	h->version = word >> 24;
	h->flags = word & 0x00ffffff;
	h->in_xattr = in_xattr;
	if (h->version > ECFS_FILE_VERSION)
		return ob_err_set(err, -EINVAL, "file format version %u (supported: 0..3)",
				  h->version);
	if (h->version == 0) {
		h->header_extent_size = ECFS_EXTENT_SIZE;
		h->num_header_extents = 2;
		pos = HDR_PACKETS_V0;
	} else {
		if (len < HDR_PACKETS_V1)
			return ob_err_set(err, -EINVAL, "header is %zu bytes (expected at least 26)", len);
		h->header_extent_size = ecfs_get_be32(buf + 20);
		h->num_header_extents = ecfs_get_be16(buf + 24);
		pos = HDR_PACKETS_V1;
	}
	if (in_xattr) {
		h->data_offset = 0;
	} else {
		uint64_t region = (uint64_t)h->header_extent_size * h->num_header_extents;

		/* The kernel only warns below 8192, but the region must at
		 * least hold the header extent it parsed. */
		if (region < ECFS_EXTENT_SIZE || region > HDR_MAX_REGION)
			return ob_err_set(err, -EINVAL,
					  "header region of %u x %u bytes (expected 4096..%u)",
					  h->header_extent_size, h->num_header_extents,
					  HDR_MAX_REGION);
		h->data_offset = region;
	}
	return parse_packet_set(buf, len, pos, h, err);
}

static ssize_t write_tag3(const struct ecfs_packet *pk, uint8_t *p, size_t avail)
{
	uint8_t lenb[2];
	size_t body = ECFS_SALT_BYTES + 5 + pk->ekey_len;
	int n = ecfs_packet_len_write(lenb, body);
	size_t need;

	if (n < 0)
		return -EINVAL;
	need = 1 + (size_t)n + body + 2 + TAG11_BODY;
	if (need > avail)
		return -ENOSPC;
	*p++ = TAG3_BYTE;
	memcpy(p, lenb, (size_t)n);
	p += n;
	*p++ = TAG3_VERSION;
	*p++ = pk->cipher_code;
	*p++ = S2K_SALTED_ITER;
	*p++ = HASH_MD5;
	memcpy(p, pk->salt, ECFS_SALT_BYTES);
	p += ECFS_SALT_BYTES;
	*p++ = ITER_BYTE_65536;
	memcpy(p, pk->ekey, pk->ekey_len);
	p += pk->ekey_len;
	*p++ = TAG11_BYTE;
	*p++ = TAG11_BODY;
	*p++ = 0x62;
	*p++ = 0x08;
	memcpy(p, TAG11_FILENAME, 8);
	p += 8;
	memset(p, 0, 4);		/* modification date: the kernel writes 0 */
	p += 4;
	memcpy(p, pk->sig, ECFS_SIG_BYTES);
	return (ssize_t)need;
}

static ssize_t write_tag1(const struct ecfs_packet *pk, uint8_t *p, size_t avail)
{
	uint8_t lenb[2];
	size_t body = 10 + pk->ekey_len;
	int n = ecfs_packet_len_write(lenb, body);

	if (n < 0)
		return -EINVAL;
	if (1 + (size_t)n + body > avail)
		return -ENOSPC;
	*p++ = TAG1_BYTE;
	memcpy(p, lenb, (size_t)n);
	p += n;
	*p++ = TAG1_VERSION;
	memcpy(p, pk->sig, ECFS_SIG_BYTES);
	p += ECFS_SIG_BYTES;
	*p++ = 0x01;			/* RSA; ignored on read */
	memcpy(p, pk->ekey, pk->ekey_len);
	return (ssize_t)(1 + (size_t)n + body);
}

ssize_t ecfs_header_write(const struct ecfs_header *h, uint8_t *buf,
			  size_t buflen, struct ob_err *err)
{
	/* The packet set and its terminator must fit in the first extent,
	 * the only part of the header the kernel reads. */
	size_t limit = ECFS_EXTENT_SIZE - 1, pos = HDR_PACKETS_V1;
	size_t region = h->in_xattr ? 0 : h->data_offset;

	if (!h->in_xattr && (region < ECFS_EXTENT_SIZE || buflen < region))
		return ob_err_set(err, -ENOSPC, "header region of %zu bytes does not fit a %zu-byte buffer",
				  region, buflen);
	if (h->npackets == 0)
		return ob_err_set(err, -EINVAL, "refusing to write a header without key packets");
	if (buflen < HDR_PACKETS_V1 + 1)
		return ob_err_set(err, -ENOSPC, "a %zu-byte buffer cannot hold a header", buflen);
	if (limit > buflen)
		limit = buflen;
	memset(buf, 0, h->in_xattr ? limit : region);
	ecfs_put_be64(buf, h->size);
	ecfs_put_be32(buf + 8, h->marker_a);
	ecfs_put_be32(buf + 12, h->marker_a ^ ECFS_MARKER_XOR);
	ecfs_put_be32(buf + 16, (uint32_t)ECFS_FILE_VERSION << 24 | (h->flags & 0xffffff));
	ecfs_put_be32(buf + 20, h->header_extent_size);
	ecfs_put_be16(buf + 24, h->num_header_extents);
	for (unsigned i = 0; i < h->npackets; i++) {
		const struct ecfs_packet *pk = &h->packets[i];
		ssize_t n;

		if (pk->tag == ECFS_PKT_TAG3)
			n = write_tag3(pk, buf + pos, limit - pos);
		else
			n = write_tag1(pk, buf + pos, limit - pos);
		if (n < 0)
			return ob_err_set(err, (int)n, "key packet %u does not fit in the header", i + 1);
		pos += (size_t)n;
	}
	if (h->in_xattr)
		return (ssize_t)pos;	/* the xattr value has no terminator */
	buf[pos] = 0x00;
	return (ssize_t)region;
}

int ecfs_header_init(struct ecfs_header *h, bool in_xattr, bool fnek,
		     struct ob_err *err)
{
	int rc;

	memset(h, 0, sizeof(*h));
	rc = ecfs_random(&h->marker_a, sizeof(h->marker_a));
	if (rc)
		return ob_err_set(err, rc, "getrandom");
	h->version = ECFS_FILE_VERSION;
	h->flags = ECFS_FLAG_ENCRYPTED;
	if (fnek)
		h->flags |= ECFS_FLAG_ENCRYPT_FILENAMES;
	if (in_xattr)
		h->flags |= ECFS_FLAG_METADATA_IN_XATTR;
	h->in_xattr = in_xattr;
	h->header_extent_size = ECFS_EXTENT_SIZE;
	h->num_header_extents = ECFS_METADATA_SIZE / ECFS_EXTENT_SIZE;
	h->data_offset = in_xattr ? 0 : ECFS_METADATA_SIZE;
	return 0;
}

uint64_t ecfs_lower_size(const struct ecfs_header *h, uint64_t plain_size)
{
	uint64_t extents = plain_size / ECFS_EXTENT_SIZE + (plain_size % ECFS_EXTENT_SIZE != 0);

	/* A damaged size field can be anything: saturate instead of wrapping. */
	if (extents > (UINT64_MAX - h->data_offset) / ECFS_EXTENT_SIZE)
		return UINT64_MAX;
	return h->data_offset + extents * ECFS_EXTENT_SIZE;
}
