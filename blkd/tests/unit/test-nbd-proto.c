/* SPDX-License-Identifier: MIT */
/*
 * test-nbd-proto.c - the wire records of nbd-proto.h: byte-exact layouts
 * (checked against hand-written spec bytes) and parse/write round trips,
 * plus the errno -> NBD error table (spec E.5).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "nbd-proto.h"

static void test_request_layout_and_round_trip(void **state)
{
	static const uint8_t wire[NBD_REQUEST_SIZE] = {
		0x25, 0x60, 0x95, 0x13,		/* magic */
		0x00, 0x01,			/* flags: FUA */
		0x00, 0x01,			/* type: WRITE */
		1, 2, 3, 4, 5, 6, 7, 8,		/* cookie */
		0, 0, 0, 0, 0, 0x10, 0, 0,	/* offset 1 MiB */
		0, 0, 0x10, 0,			/* length 4096 */
	};
	struct nbd_request r;
	uint8_t out[NBD_REQUEST_SIZE];

	(void)state;
	nbd_request_parse(wire, &r);
	assert_int_equal(r.magic, NBD_REQUEST_MAGIC);
	assert_int_equal(r.flags, NBD_CMD_FLAG_FUA);
	assert_int_equal(r.type, NBD_CMD_WRITE);
	assert_true(r.cookie == 0x0102030405060708ull);
	assert_true(r.offset == 1 << 20);
	assert_int_equal(r.length, 4096);
	nbd_request_write(out, &r);
	assert_memory_equal(out, wire, sizeof(wire));
}

static void test_reply_layouts(void **state)
{
	static const uint8_t simple[NBD_SIMPLE_REPLY_SIZE] = {
		0x67, 0x44, 0x66, 0x98, 0, 0, 0, 22, 0, 0, 0, 0, 0, 0, 0, 9 };
	static const uint8_t chunk[NBD_CHUNK_SIZE] = {
		0x66, 0x8e, 0x33, 0xef, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0x10, 8 };
	static const uint8_t optrep[NBD_OPT_REPLY_SIZE] = {
		0, 0x03, 0xe8, 0x89, 0x04, 0x55, 0x65, 0xa9, 0, 0, 0, 7,
		0x80, 0, 0, 6, 0, 0, 0, 0 };
	uint8_t b[32];

	(void)state;
	nbd_simple_reply_write(b, NBD_EINVAL, 9);
	assert_memory_equal(b, simple, sizeof(simple));
	nbd_chunk_write(b, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_OFFSET_DATA, 9, 4096 + 8);
	assert_memory_equal(b, chunk, sizeof(chunk));
	nbd_opt_reply_write(b, NBD_OPT_GO, NBD_REP_ERR_UNKNOWN, 0);
	assert_memory_equal(b, optrep, sizeof(optrep));
}

static void test_errno_table(void **state)
{
	static const struct { int err; uint32_t nbd; } t[] = {
		{ 0, 0 }, { -EPERM, NBD_EPERM }, { -EROFS, NBD_EPERM }, { -EIO, NBD_EIO },
		{ -ENOMEM, NBD_ENOMEM }, { -EINVAL, NBD_EINVAL }, { -ENOSPC, NBD_ENOSPC },
		{ -EDQUOT, NBD_ENOSPC }, { -EFBIG, NBD_ENOSPC }, { -EOVERFLOW, NBD_EOVERFLOW },
		{ -EOPNOTSUPP, NBD_ENOTSUP }, { -ESHUTDOWN, NBD_ESHUTDOWN },
		{ -ENOENT, NBD_EIO }, { -EBADF, NBD_EIO },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_int_equal(nbd_errno(t[i].err), t[i].nbd);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(nbd_cmd_name(NBD_CMD_WRITE_ZEROES), "WRITE_ZEROES");
	assert_string_equal(nbd_cmd_name(99), "?");
	assert_string_equal(nbd_opt_name(NBD_OPT_GO), "GO");
	assert_string_equal(nbd_opt_name(1000), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_layout_and_round_trip),
		cmocka_unit_test(test_reply_layouts),
		cmocka_unit_test(test_errno_table),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
