/* SPDX-License-Identifier: MIT */
/*
 * test-blktrace.c - the records trace.c writes, read back byte by byte
 * against the version-7 layout of spec D.1/D.2: magic, sequence from 1,
 * the timestamp and process notes, action codes with their categories,
 * sectors, error on completion and the unplug payload.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "blkd.h"

struct rec {			/* spec D.1, 48 bytes */
	uint32_t magic, sequence;
	uint64_t time, sector;
	uint32_t bytes, action, pid, device, cpu;
	uint16_t error, pdu_len;
};

static void test_records_round_trip(void **state)
{
	char dir[] = "/tmp/blkd-bt-XXXXXX", path[64];
	struct ob_err err = { 0 };
	struct blkd_blktrace *bt;
	struct blkd_trace_rec q = { .ev = BLKD_EV_QUEUE, .op = BLKD_OP_WRITE, .off = 4096,
				    .len = 8192, .step = "", .kind = "W" };
	struct blkd_trace_rec c = q, fl = q, u = { .ev = BLKD_EV_UNPLUG, .count = 3 };
	unsigned char buf[4096];
	struct rec r;
	size_t off = 0;
	ssize_t n;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(blkd_blktrace_open(dir, "t", &bt, &err), 0);
	c.ev = BLKD_EV_COMPLETE;
	c.error = -EIO;
	c.fua = true;
	fl.op = BLKD_OP_FLUSH;
	fl.off = fl.len = 0;
	blkd_blktrace_event(bt, BLKD_BLKTRACE_DEV(43, 2), &q);
	blkd_blktrace_event(bt, BLKD_BLKTRACE_DEV(43, 2), &c);
	blkd_blktrace_event(bt, BLKD_BLKTRACE_DEV(43, 2), &fl);
	blkd_blktrace_event(bt, BLKD_BLKTRACE_DEV(43, 2), &u);
	assert_int_equal(blkd_blktrace_close(bt), 0);

	snprintf(path, sizeof(path), "%s/t.blktrace.0", dir);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	/* timestamp note, process note, Q, C, flush Q, unplug */
	static const uint32_t actions[] = { 0x04000001, 0x04000000, 0x00120001,
					    0x808a0008, 0x001e0001, 0x0010000a };
	for (unsigned i = 0; i < 6; i++) {
		assert_true(off + sizeof(r) <= (size_t)n);
		memcpy(&r, buf + off, sizeof(r));
		assert_int_equal(r.magic, 0x65617407);
		assert_int_equal(r.sequence, i + 1);
		assert_int_equal(r.action, actions[i]);
		assert_int_equal(r.device, (43u << 20) | 2);
		assert_int_equal(r.cpu, 0);
		if (i == 2) {
			assert_int_equal(r.sector, 8);
			assert_int_equal(r.bytes, 8192);
		}
		assert_int_equal(r.error, i == 3 ? EIO : 0);
		assert_int_equal(r.pdu_len, i == 0 ? 8 : i == 1 ? 16 : i == 5 ? 8 : 0);
		if (i == 5)
			assert_int_equal(buf[off + sizeof(r) + 7], 3);	/* big-endian count */
		off += sizeof(r) + r.pdu_len;
	}
	assert_int_equal(off, (size_t)n);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_records_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
