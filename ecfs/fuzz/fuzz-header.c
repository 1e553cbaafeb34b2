// SPDX-License-Identifier: MIT
/* fuzz-header.c - ecfs_header_parse on hostile bytes, and its writer.
 *
 * What it checks: the input is the start of a lower file (in-file mode)
 * and, separately, a user.ecryptfs xattr value (xattr mode).  Parsing must
 * never read outside the input or crash, whatever the lengths, tags and
 * extent fields say, and a failure must come with a terminated reason.
 * Whatever parses must survive the writer: ecfs_header_write either fits
 * it (or says -ENOSPC: the kernel's reader accepts a packet set that fills
 * the whole first extent, the writer needs a terminator byte after it) and
 * parse(write(parse(x))) == parse(x), except the version, which the writer
 * always makes 3.  A second write of the re-parsed header must give the
 * same bytes (the writer is a function of the parsed fields only).
 *
 * Why: the header is the first thing ecfs reads from every lower file, and
 * the mount rewrites it on every size change, so a damaged or malicious
 * header must be refused cleanly, and one that is accepted must keep every
 * key packet it had when written back (spec §2, §3).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ecfs.h"
#include "fuzz-util.h"

#define REGION_MAX	(16u << 20)	/* header.c's HDR_MAX_REGION */

static uint8_t *wbuf1, *wbuf2;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	wbuf1 = malloc(REGION_MAX);
	wbuf2 = malloc(REGION_MAX);
	FUZZ_CHECK(wbuf1 && wbuf2);
	return 0;
}

static void same_packets(const struct ecfs_header *a, const struct ecfs_header *b)
{
	FUZZ_CHECK(a->npackets == b->npackets);
	for (unsigned i = 0; i < a->npackets; i++) {
		const struct ecfs_packet *p = &a->packets[i], *q = &b->packets[i];

		FUZZ_CHECK(p->tag == q->tag);
		FUZZ_CHECK(!memcmp(p->sig, q->sig, ECFS_SIG_BYTES));
		FUZZ_CHECK(p->cipher_code == q->cipher_code);
		FUZZ_CHECK(!memcmp(p->salt, q->salt, ECFS_SALT_BYTES));
		FUZZ_CHECK(p->ekey_len == q->ekey_len && p->ekey_len <= ECFS_MAX_EKEY);
		FUZZ_CHECK(!memcmp(p->ekey, q->ekey, p->ekey_len));
	}
}

/* Everything parse reports, except the version (the writer writes 3). */
static void same_header(const struct ecfs_header *a, const struct ecfs_header *b)
{
	FUZZ_CHECK(a->size == b->size);
	FUZZ_CHECK(a->marker_a == b->marker_a);
	FUZZ_CHECK(a->flags == b->flags);
	FUZZ_CHECK(a->header_extent_size == b->header_extent_size);
	FUZZ_CHECK(a->num_header_extents == b->num_header_extents);
	FUZZ_CHECK(a->in_xattr == b->in_xattr);
	FUZZ_CHECK(a->data_offset == b->data_offset);
	same_packets(a, b);
}

static void round_trip(const uint8_t *data, size_t size, bool in_xattr)
{
	static struct ecfs_header h1, h2, h3;
	struct ob_err err = {0};
	size_t buflen;
	ssize_t n, n2;
	int rc;

	rc = ecfs_header_parse(data, size, in_xattr, &h1, &err);
	fuzz_check_err(&err);
	if (rc) {
		FUZZ_CHECK(rc == -EINVAL);
		return;
	}
	FUZZ_CHECK(h1.npackets >= 1 && h1.npackets <= ECFS_MAX_PACKETS);
	FUZZ_CHECK(h1.version <= 3);
	FUZZ_CHECK(in_xattr ? h1.data_offset == 0 :
		   h1.data_offset >= ECFS_EXTENT_SIZE && h1.data_offset <= REGION_MAX);
	FUZZ_CHECK(in_xattr || ecfs_header_probe(data, size));

	buflen = in_xattr ? ECFS_EXTENT_SIZE : (size_t)h1.data_offset;
	n = ecfs_header_write(&h1, wbuf1, buflen, &err);
	fuzz_check_err(&err);
	if (n < 0) {
		FUZZ_CHECK(n == -ENOSPC);
		return;
	}
	FUZZ_CHECK(in_xattr ? (size_t)n < ECFS_EXTENT_SIZE : (size_t)n == buflen);

	rc = ecfs_header_parse(wbuf1, (size_t)n, in_xattr, &h2, &err);
	fuzz_check_err(&err);
	FUZZ_CHECK(rc == 0);
	FUZZ_CHECK(h2.version == 3);
	same_header(&h1, &h2);

	n2 = ecfs_header_write(&h2, wbuf2, buflen, &err);
	FUZZ_CHECK(n2 == n);
	FUZZ_CHECK(!memcmp(wbuf1, wbuf2, (size_t)n));
	FUZZ_CHECK(ecfs_header_parse(wbuf2, (size_t)n2, in_xattr, &h3, &err) == 0);
	same_header(&h2, &h3);
	FUZZ_CHECK(h3.version == 3);
}

/* libFuzzer hands us exactly size heap bytes: ASan sees any read past them. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	(void)ecfs_header_probe(data, size);
	round_trip(data, size, false);
	round_trip(data, size, true);
	return 0;
}
