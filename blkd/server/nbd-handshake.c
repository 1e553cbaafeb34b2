/* SPDX-License-Identifier: MIT */
/*
 * nbd-handshake.c - fixed-newstyle negotiation (spec E.1, E.2), run on a
 * connection thread with blocking I/O once the client has sent its flags,
 * so a slow or hostile client holds up that thread for --handshake-timeout
 * at most (conn.c).
 *
 * Supported: EXPORT_NAME, ABORT, LIST, INFO, GO, STRUCTURED_REPLY,
 * LIST_META_CONTEXT and SET_META_CONTEXT (base:allocation, when the
 * backend knows its holes), STARTTLS with --tls (tls.c; under --tls require
 * every option before it but ABORT gets ERR_TLS_REQD).  EXTENDED_HEADERS
 * (spec E.7) and anything unknown get ERR_UNSUP and negotiation goes on.  Unknown client
 * flags, option data over NBD_MAX_OPTION_LEN, a bad magic or an unknown
 * EXPORT_NAME hang up, with a log line naming what was wrong.
 * INFO answers exactly as a following GO would (true size included).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "tls.h"

#define META_ALLOC_ID 1
#define META_ALLOC_NAME "base:allocation"

static int opt_reply(struct blkd_conn *c, uint32_t opt, uint32_t type, const void *data,
		     uint32_t len)
{
	uint8_t hdr[NBD_OPT_REPLY_SIZE];
	int rc;

	nbd_opt_reply_write(hdr, opt, type, len);
	rc = blkd_conn_write_full(c, hdr, sizeof(hdr));
	if (!rc && len)
		rc = blkd_conn_write_full(c, data, len);
	return rc;
}

static int opt_error(struct blkd_conn *c, uint32_t opt, uint32_t type, const char *msg)
{
	return opt_reply(c, opt, type, msg, (uint32_t)strlen(msg));
}

static int send_info_export(struct blkd_conn *c, uint32_t opt, struct blkd_export *e)
{
	uint8_t b[12];

	nbd_put16(b, NBD_INFO_EXPORT);
	nbd_put64(b + 2, e->be->size);
	nbd_put16(b + 10, blkd_export_tflags(e, c->structured));
	return opt_reply(c, opt, NBD_REP_INFO, b, sizeof(b));
}

static int send_info_string(struct blkd_conn *c, uint32_t opt, uint16_t type, const char *s)
{
	size_t n = strlen(s);
	uint8_t *b = malloc(2 + n);
	int rc;

	if (!b)
		return -ENOMEM;
	nbd_put16(b, type);
	memcpy(b + 2, s, n);
	rc = opt_reply(c, opt, NBD_REP_INFO, b, (uint32_t)(2 + n));
	free(b);
	return rc;
}

static int send_info_block_size(struct blkd_conn *c, uint32_t opt, struct blkd_export *e)
{
	uint8_t b[14];

	nbd_put16(b, NBD_INFO_BLOCK_SIZE);
	nbd_put32(b + 2, e->min_block);
	nbd_put32(b + 6, 4096);
	nbd_put32(b + 10, NBD_MAX_PAYLOAD);
	return opt_reply(c, opt, NBD_REP_INFO, b, sizeof(b));
}

/* INFO and GO: name, then a list of info requests. */
static int do_info_go(struct blkd_conn *c, uint32_t opt, const uint8_t *d, uint32_t len)
{
	bool want_name = false, want_desc = false;
	struct blkd_export *e;
	uint32_t nlen;
	uint16_t n;
	char *name;
	int rc;

	if (len < 6)
		return opt_error(c, opt, NBD_REP_ERR_INVALID, "option too short");
	nlen = nbd_get32(d);
	if (nlen > len - 6 || nlen > NBD_MAX_NAME)
		return opt_error(c, opt, NBD_REP_ERR_INVALID, "bad name length");
	n = nbd_get16(d + 4 + nlen);
	if (len != 6 + nlen + 2u * n)
		return opt_error(c, opt, NBD_REP_ERR_INVALID, "bad information request count");
	for (uint16_t i = 0; i < n; i++) {
		uint16_t t = nbd_get16(d + 6 + nlen + 2 * i);

		want_name |= t == NBD_INFO_NAME;
		want_desc |= t == NBD_INFO_DESCRIPTION;
	}
	name = strndup((const char *)d + 4, nlen);
	if (!name)
		return -ENOMEM;
	e = blkd_export_find(c->srv, name);
	if (!e) {
		blkd_log("conn %lu: %s: no export named '%s'", c->id, nbd_opt_name(opt), name);
		free(name);
		return opt_error(c, opt, NBD_REP_ERR_UNKNOWN, "unknown export");
	}
	free(name);
	rc = send_info_export(c, opt, e);
	if (!rc && want_name)
		rc = send_info_string(c, opt, NBD_INFO_NAME, e->name);
	if (!rc && want_desc && e->desc)
		rc = send_info_string(c, opt, NBD_INFO_DESCRIPTION, e->desc);
	if (!rc)
		rc = send_info_block_size(c, opt, e);
	if (!rc)
		rc = opt_reply(c, opt, NBD_REP_ACK, NULL, 0);
	if (!rc && opt == NBD_OPT_GO) {
		c->exp = e;
		if (c->meta_alloc && (!c->meta_export || strcmp(c->meta_export, e->name) ||
				      !(e->be->caps & BLKD_CAP_EXTENTS)))
			c->meta_alloc = false;
		return 1;
	}
	return rc;
}

static int do_list(struct blkd_conn *c, uint32_t len)
{
	int rc = 0;

	if (len)
		return opt_error(c, NBD_OPT_LIST, NBD_REP_ERR_INVALID, "LIST takes no data");
	for (unsigned i = 0; i < c->srv->nr_exports && !rc; i++) {
		struct blkd_export *e = &c->srv->exports[i];
		size_t n = strlen(e->name), dl = e->desc ? strlen(e->desc) : 0;
		uint8_t *b = malloc(4 + n + dl);

		if (!b)
			return -ENOMEM;
		nbd_put32(b, (uint32_t)n);
		memcpy(b + 4, e->name, n);
		if (dl)
			memcpy(b + 4 + n, e->desc, dl);
		rc = opt_reply(c, NBD_OPT_LIST, NBD_REP_SERVER, b, (uint32_t)(4 + n + dl));
		free(b);
	}
	return rc ? rc : opt_reply(c, NBD_OPT_LIST, NBD_REP_ACK, NULL, 0);
}

static int send_meta_alloc(struct blkd_conn *c, uint32_t opt)
{
	uint8_t b[4 + sizeof(META_ALLOC_NAME) - 1];

	nbd_put32(b, META_ALLOC_ID);
	memcpy(b + 4, META_ALLOC_NAME, sizeof(META_ALLOC_NAME) - 1);
	return opt_reply(c, opt, NBD_REP_META_CONTEXT, b, sizeof(b));
}

/* LIST_META_CONTEXT / SET_META_CONTEXT: only base:allocation exists. */
static int do_meta(struct blkd_conn *c, uint32_t opt, const uint8_t *d, uint32_t len)
{
	uint32_t nlen, nq, pos;
	struct blkd_export *e;
	bool match = false;
	char *name;

	if (!c->structured)
		return opt_error(c, opt, NBD_REP_ERR_INVALID, "structured replies first");
	if (len < 8 || (nlen = nbd_get32(d)) > len - 8 || nlen > NBD_MAX_NAME)
		return opt_error(c, opt, NBD_REP_ERR_INVALID, "bad meta context option");
	name = strndup((const char *)d + 4, nlen);
	if (!name)
		return -ENOMEM;
	e = blkd_export_find(c->srv, name);
	if (!e) {
		free(name);
		return opt_error(c, opt, NBD_REP_ERR_UNKNOWN, "unknown export");
	}
	nq = nbd_get32(d + 4 + nlen);
	pos = 8 + nlen;
	if (nq == 0 && opt == NBD_OPT_LIST_META_CONTEXT)
		match = true;
	for (uint32_t i = 0; i < nq; i++) {
		uint32_t ql;

		if (len - pos < 4 || (ql = nbd_get32(d + pos)) > len - pos - 4) {
			free(name);
			return opt_error(c, opt, NBD_REP_ERR_INVALID, "bad query length");
		}
		const char *qs = (const char *)d + pos + 4;
		if ((ql == sizeof(META_ALLOC_NAME) - 1 && !memcmp(qs, META_ALLOC_NAME, ql)) ||
		    (opt == NBD_OPT_LIST_META_CONTEXT && ql == 5 && !memcmp(qs, "base:", 5)))
			match = true;
		pos += 4 + ql;
	}
	if (opt == NBD_OPT_SET_META_CONTEXT) {
		free(c->meta_export);
		c->meta_export = NULL;
		c->meta_alloc = false;
	}
	int rc = 0;
	if (match && (e->be->caps & BLKD_CAP_EXTENTS)) {
		rc = send_meta_alloc(c, opt);
		if (opt == NBD_OPT_SET_META_CONTEXT) {
			c->meta_alloc = true;
			c->meta_export = name;
			name = NULL;
		}
	}
	free(name);
	return rc ? rc : opt_reply(c, opt, NBD_REP_ACK, NULL, 0);
}

static int do_export_name(struct blkd_conn *c, const uint8_t *d, uint32_t len)
{
	uint8_t b[10 + 124] = { 0 };
	struct blkd_export *e;
	char *name = strndup((const char *)d, len);
	int rc;

	if (!name)
		return -ENOMEM;
	e = blkd_export_find(c->srv, name);
	if (!e) {
		blkd_log("conn %lu: EXPORT_NAME: no export named '%s', hanging up", c->id, name);
		free(name);
		return -ENOENT;
	}
	free(name);
	c->meta_alloc = false;
	nbd_put64(b, e->be->size);
	nbd_put16(b + 8, blkd_export_tflags(e, c->structured));
	rc = blkd_conn_write_full(c, b, c->no_zeroes ? 10 : sizeof(b));
	if (rc)
		return rc;
	c->exp = e;
	return 1;
}

/* NBD_OPT_STARTTLS: ACK, then the TLS handshake on the same socket.  What
 * was negotiated in the clear is forgotten (spec). */
static int do_starttls(struct blkd_conn *c, uint32_t len)
{
	int rc;

	if (c->srv->tls_mode == BLKD_TLS_OFF)
		return opt_error(c, NBD_OPT_STARTTLS, NBD_REP_ERR_UNSUP, "TLS is not configured");
	if (len)
		return opt_error(c, NBD_OPT_STARTTLS, NBD_REP_ERR_INVALID, "takes no data");
	if (c->tls)
		return opt_error(c, NBD_OPT_STARTTLS, NBD_REP_ERR_INVALID, "TLS already on");
	rc = opt_reply(c, NBD_OPT_STARTTLS, NBD_REP_ACK, NULL, 0);
	if (rc)
		return rc;
	c->structured = false;
	c->meta_alloc = false;
	free(c->meta_export);
	c->meta_export = NULL;
	return blkd_tls_start(c);
}

/* --tls require: before STARTTLS only STARTTLS and ABORT are answered;
 * EXPORT_NAME, which has no error reply, hangs up.  1 = go on. */
static int tls_gate(struct blkd_conn *c, uint32_t opt)
{
	if (c->srv->tls_mode != BLKD_TLS_REQUIRE || c->tls || opt == NBD_OPT_STARTTLS ||
	    opt == NBD_OPT_ABORT)
		return 1;
	if (opt == NBD_OPT_EXPORT_NAME) {
		blkd_log("conn %lu: %s: EXPORT_NAME without TLS, which is required; hanging up",
			 c->id, c->peer);
		return -EACCES;
	}
	return opt_error(c, opt, NBD_REP_ERR_TLS_REQD, "TLS is required (NBD_OPT_STARTTLS)");
}

int blkd_handshake(struct blkd_conn *c)
{
	uint8_t b[4], hdr[NBD_OPT_HDR_SIZE], *data = NULL;
	uint32_t cflags;
	int rc;

	/* the greeting went out at accept (conn.c) */
	rc = blkd_conn_read_full(c, b, 4);
	if (rc)
		return rc;
	cflags = nbd_get32(b);
	if (cflags & ~(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES)) {
		blkd_log("conn %lu: unknown client flags 0x%x, hanging up", c->id, cflags);
		return -EPROTO;
	}
	c->no_zeroes = cflags & NBD_FLAG_C_NO_ZEROES;
	for (;;) {
		uint32_t opt, len;

		rc = blkd_conn_read_full(c, hdr, sizeof(hdr));
		if (rc)
			break;
		if (nbd_get64(hdr) != NBD_IHAVEOPT) {
			blkd_log("conn %lu: bad option magic (expected %llx, got %llx), hanging up",
				 c->id, (unsigned long long)NBD_IHAVEOPT,
				 (unsigned long long)nbd_get64(hdr));
			rc = -EPROTO;
			break;
		}
		opt = nbd_get32(hdr + 8);
		len = nbd_get32(hdr + 12);
		if (len > NBD_MAX_OPTION_LEN) {
			blkd_log("conn %lu: option %u data too long (%u > %u), hanging up",
				 c->id, opt, len, NBD_MAX_OPTION_LEN);
			rc = -EPROTO;
			break;
		}
		free(data);
		data = malloc(len ? len : 1);
		rc = -ENOMEM;
		if (!data)
			break;
		rc = blkd_conn_read_full(c, data, len);
		if (rc)
			break;
		rc = tls_gate(c, opt);
		if (rc < 0)
			break;
		if (rc == 0)
			continue;
		switch (opt) {
		case NBD_OPT_STARTTLS:
			rc = do_starttls(c, len);
			break;
		case NBD_OPT_EXPORT_NAME:
			rc = do_export_name(c, data, len);
			break;
		case NBD_OPT_ABORT:
			opt_reply(c, opt, NBD_REP_ACK, NULL, 0);
			rc = -ECONNABORTED;
			break;
		case NBD_OPT_LIST:
			rc = do_list(c, len);
			break;
		case NBD_OPT_INFO:
		case NBD_OPT_GO:
			rc = do_info_go(c, opt, data, len);
			break;
		case NBD_OPT_STRUCTURED_REPLY:
			if (len)
				rc = opt_error(c, opt, NBD_REP_ERR_INVALID, "takes no data");
			else if (c->structured)
				rc = opt_error(c, opt, NBD_REP_ERR_INVALID, "already negotiated");
			else {
				c->structured = true;
				rc = opt_reply(c, opt, NBD_REP_ACK, NULL, 0);
			}
			break;
		case NBD_OPT_LIST_META_CONTEXT:
		case NBD_OPT_SET_META_CONTEXT:
			rc = do_meta(c, opt, data, len);
			break;
		default:
			rc = opt_error(c, opt, NBD_REP_ERR_UNSUP, "option not supported");
			break;
		}
		if (rc)
			break;
	}
	free(data);
	return rc > 0 ? 0 : (rc ? rc : -EPROTO);
}
