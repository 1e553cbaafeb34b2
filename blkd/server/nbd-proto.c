/* SPDX-License-Identifier: MIT */
/*
 * nbd-proto.c - parse and write the fixed-size NBD records laid out in
 * nbd-proto.h, and map errno values to NBD errors (spec E.5).  Pure
 * functions, no I/O: the round-trip unit test covers every record here.
 */
#include <errno.h>

#include "nbd-proto.h"

void nbd_request_parse(const uint8_t *b, struct nbd_request *r)
{
	r->magic = nbd_get32(b);
	r->flags = nbd_get16(b + 4);
	r->type = nbd_get16(b + 6);
	r->cookie = nbd_get64(b + 8);
	r->offset = nbd_get64(b + 16);
	r->length = nbd_get32(b + 24);
}

void nbd_request_write(uint8_t *b, const struct nbd_request *r)
{
	nbd_put32(b, r->magic);
	nbd_put16(b + 4, r->flags);
	nbd_put16(b + 6, r->type);
	nbd_put64(b + 8, r->cookie);
	nbd_put64(b + 16, r->offset);
	nbd_put32(b + 24, r->length);
}

void nbd_simple_reply_write(uint8_t *b, uint32_t error, uint64_t cookie)
{
	nbd_put32(b, NBD_SIMPLE_REPLY_MAGIC);
	nbd_put32(b + 4, error);
	nbd_put64(b + 8, cookie);
}

void nbd_chunk_write(uint8_t *b, uint16_t flags, uint16_t type, uint64_t cookie, uint32_t len)
{
	nbd_put32(b, NBD_STRUCTURED_REPLY_MAGIC);
	nbd_put16(b + 4, flags);
	nbd_put16(b + 6, type);
	nbd_put64(b + 8, cookie);
	nbd_put32(b + 16, len);
}

void nbd_opt_reply_write(uint8_t *b, uint32_t opt, uint32_t type, uint32_t len)
{
	nbd_put64(b, NBD_REP_MAGIC);
	nbd_put32(b + 8, opt);
	nbd_put32(b + 12, type);
	nbd_put32(b + 16, len);
}

uint32_t nbd_errno(int err)
{
	switch (err < 0 ? -err : err) {
	case 0:		return 0;
	case EPERM:
	case EROFS:	return NBD_EPERM;
	case ENOMEM:	return NBD_ENOMEM;
	case EINVAL:	return NBD_EINVAL;
	case ENOSPC:
	case EDQUOT:
	case EFBIG:	return NBD_ENOSPC;
	case EOVERFLOW:	return NBD_EOVERFLOW;
	case EOPNOTSUPP: return NBD_ENOTSUP;
	case ESHUTDOWN:	return NBD_ESHUTDOWN;
	default:	return NBD_EIO;
	}
}

const char *nbd_cmd_name(unsigned type)
{
	static const char *const n[] = { "READ", "WRITE", "DISC", "FLUSH", "TRIM", "CACHE",
					 "WRITE_ZEROES", "BLOCK_STATUS" };
	return type < sizeof(n) / sizeof(n[0]) ? n[type] : "?";
}

const char *nbd_opt_name(unsigned opt)
{
	static const char *const n[] = { "?", "EXPORT_NAME", "ABORT", "LIST", "PEEK_EXPORT",
					 "STARTTLS", "INFO", "GO", "STRUCTURED_REPLY",
					 "LIST_META_CONTEXT", "SET_META_CONTEXT",
					 "EXTENDED_HEADERS" };
	return opt < sizeof(n) / sizeof(n[0]) ? n[opt] : "?";
}
