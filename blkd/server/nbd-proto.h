/* SPDX-License-Identifier: MIT */
/*
 * nbd-proto.h - the NBD wire format in one place (spec E; NBD doc/proto.md).
 * Every layout is a table here next to its struct; nbd-proto.c has the
 * parse/write pairs and test-nbd-proto round-trips them.  All integers are
 * big-endian on the wire.
 */
#ifndef BLKD_NBD_PROTO_H
#define BLKD_NBD_PROTO_H

#include <stddef.h>
#include <stdint.h>

/* Handshake (spec E.1) */
#define NBD_MAGIC		0x4e42444d41474943ull	/* "NBDMAGIC" */
#define NBD_IHAVEOPT		0x49484156454F5054ull	/* "IHAVEOPT" */
#define NBD_REP_MAGIC		0x0003e889045565a9ull
#define NBD_FLAG_FIXED_NEWSTYLE	(1u << 0)		/* server handshake flags */
#define NBD_FLAG_NO_ZEROES	(1u << 1)
#define NBD_FLAG_C_FIXED_NEWSTYLE (1u << 0)		/* client flags */
#define NBD_FLAG_C_NO_ZEROES	(1u << 1)

/* Options (spec E.2) */
#define NBD_OPT_EXPORT_NAME	1
#define NBD_OPT_ABORT		2
#define NBD_OPT_LIST		3
#define NBD_OPT_STARTTLS	5
#define NBD_OPT_INFO		6
#define NBD_OPT_GO		7
#define NBD_OPT_STRUCTURED_REPLY 8
#define NBD_OPT_LIST_META_CONTEXT 9
#define NBD_OPT_SET_META_CONTEXT 10
#define NBD_OPT_EXTENDED_HEADERS 11

#define NBD_REP_ACK		1
#define NBD_REP_SERVER		2
#define NBD_REP_INFO		3
#define NBD_REP_META_CONTEXT	4
#define NBD_REP_ERR(n)		((1u << 31) + (n))
#define NBD_REP_ERR_UNSUP	NBD_REP_ERR(1)
#define NBD_REP_ERR_POLICY	NBD_REP_ERR(2)
#define NBD_REP_ERR_INVALID	NBD_REP_ERR(3)
#define NBD_REP_ERR_PLATFORM	NBD_REP_ERR(4)
#define NBD_REP_ERR_TLS_REQD	NBD_REP_ERR(5)
#define NBD_REP_ERR_UNKNOWN	NBD_REP_ERR(6)
#define NBD_REP_ERR_SHUTDOWN	NBD_REP_ERR(7)
#define NBD_REP_ERR_TOO_BIG	NBD_REP_ERR(9)

#define NBD_INFO_EXPORT		0
#define NBD_INFO_NAME		1
#define NBD_INFO_DESCRIPTION	2
#define NBD_INFO_BLOCK_SIZE	3

/* Transmission flags (spec E.3) */
#define NBD_FLAG_HAS_FLAGS	(1u << 0)
#define NBD_FLAG_READ_ONLY	(1u << 1)
#define NBD_FLAG_SEND_FLUSH	(1u << 2)
#define NBD_FLAG_SEND_FUA	(1u << 3)
#define NBD_FLAG_ROTATIONAL	(1u << 4)
#define NBD_FLAG_SEND_TRIM	(1u << 5)
#define NBD_FLAG_SEND_WRITE_ZEROES (1u << 6)
#define NBD_FLAG_SEND_DF	(1u << 7)
#define NBD_FLAG_CAN_MULTI_CONN	(1u << 8)
#define NBD_FLAG_SEND_CACHE	(1u << 10)
#define NBD_FLAG_SEND_FAST_ZERO	(1u << 11)

/* Commands (spec E.4) */
#define NBD_REQUEST_MAGIC	0x25609513u
#define NBD_SIMPLE_REPLY_MAGIC	0x67446698u
#define NBD_STRUCTURED_REPLY_MAGIC 0x668e33efu
#define NBD_CMD_READ		0
#define NBD_CMD_WRITE		1
#define NBD_CMD_DISC		2
#define NBD_CMD_FLUSH		3
#define NBD_CMD_TRIM		4
#define NBD_CMD_CACHE		5
#define NBD_CMD_WRITE_ZEROES	6
#define NBD_CMD_BLOCK_STATUS	7
#define NBD_CMD_FLAG_FUA	(1u << 0)
#define NBD_CMD_FLAG_NO_HOLE	(1u << 1)
#define NBD_CMD_FLAG_DF		(1u << 2)
#define NBD_CMD_FLAG_REQ_ONE	(1u << 3)
#define NBD_CMD_FLAG_FAST_ZERO	(1u << 4)

#define NBD_REPLY_FLAG_DONE	(1u << 0)
#define NBD_REPLY_TYPE_NONE	0
#define NBD_REPLY_TYPE_OFFSET_DATA 1
#define NBD_REPLY_TYPE_OFFSET_HOLE 2
#define NBD_REPLY_TYPE_BLOCK_STATUS 5
#define NBD_REPLY_TYPE_ERROR	((1u << 15) + 1)

/* Errors (spec E.5) */
#define NBD_EPERM	1
#define NBD_EIO		5
#define NBD_ENOMEM	12
#define NBD_EINVAL	22
#define NBD_ENOSPC	28
#define NBD_EOVERFLOW	75
#define NBD_ENOTSUP	95
#define NBD_ESHUTDOWN	108

/* Limits we enforce */
#define NBD_MAX_PAYLOAD		(32u << 20)	/* spec E.6: accept <= 32 MiB */
#define NBD_MAX_OPTION_LEN	(64u << 10)	/* longer option data: hang up */
#define NBD_MAX_NAME		4096

/*
 * Request, 28 bytes:
 *   0 u32 magic (0x25609513)   4 u16 flags   6 u16 type
 *   8 u64 cookie              16 u64 offset 24 u32 length
 */
#define NBD_REQUEST_SIZE 28
struct nbd_request {
	uint32_t magic;
	uint16_t flags;
	uint16_t type;
	uint64_t cookie;
	uint64_t offset;
	uint32_t length;
};

/*
 * Simple reply, 16 bytes:  0 u32 magic (0x67446698)  4 u32 error  8 u64 cookie
 * Structured chunk, 20 bytes:
 *   0 u32 magic (0x668e33ef)  4 u16 flags  6 u16 type  8 u64 cookie  16 u32 length
 * Option header from the client, 16 bytes:
 *   0 u64 IHAVEOPT  8 u32 option  12 u32 length
 * Option reply, 20 bytes:
 *   0 u64 NBD_REP_MAGIC  8 u32 option  12 u32 reply type  16 u32 length
 */
#define NBD_SIMPLE_REPLY_SIZE 16
#define NBD_CHUNK_SIZE 20
#define NBD_OPT_HDR_SIZE 16
#define NBD_OPT_REPLY_SIZE 20

static inline void nbd_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void nbd_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}
static inline void nbd_put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}
static inline uint16_t nbd_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}
static inline uint32_t nbd_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t nbd_get64(const uint8_t *p)
{
	return (uint64_t)nbd_get32(p) << 32 | nbd_get32(p + 4);
}

void nbd_request_parse(const uint8_t *buf, struct nbd_request *req);
void nbd_request_write(uint8_t *buf, const struct nbd_request *req);
void nbd_simple_reply_write(uint8_t *buf, uint32_t error, uint64_t cookie);
void nbd_chunk_write(uint8_t *buf, uint16_t flags, uint16_t type, uint64_t cookie, uint32_t len);
void nbd_opt_reply_write(uint8_t *buf, uint32_t opt, uint32_t type, uint32_t len);

/* -errno -> NBD error value (unknown ones become EIO). */
uint32_t nbd_errno(int err);
/* Name of a command or option for log lines; "?" if unknown. */
const char *nbd_cmd_name(unsigned type);
const char *nbd_opt_name(unsigned opt);

#endif
