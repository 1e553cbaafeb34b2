// SPDX-License-Identifier: MIT
/* fuzz-file.c - a whole lower file image, opened and read, then written.
 *
 * What it checks: the input is the complete contents of a lower file.  It
 * goes into an anonymous file (memfd) that ecfs_file_open opens with a
 * fixed key set (corpus cases a, d, e, h).  Whatever the header says about
 * the size, the header region and the key packets, and however short the
 * file is, opening and then reading must not crash, read out of bounds or
 * hang: ecfs_file_pread of whole-file, boundary and pseudo-random ranges
 * returns at most the bytes asked for and never more than the size field
 * allows, or an error with a reason.  Then, on a separate copy of the image
 * opened the same way, a small pwrite and two truncates (down and up by a
 * bounded amount) run; they may fail (a size field pointing past the
 * extents gives EIO), but must not crash.  Ranges come from a small PRNG
 * seeded by the input, so every run of one input does the same.
 *
 * Why: "ecfs decrypt" and the mount do exactly this with files from
 * disks that may be damaged or written by an attacker (issue 6).  Sizes
 * are bounded (a write or truncate moves at most 64 KiB) so that a huge
 * size field cannot make the harness itself write gigabytes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ecfs.h"
#include "fuzz-util.h"

#define READ_MAX	(64u << 10)
#define MOVE_MAX	(64u << 10)

/* Keys are derived once; the key set is made afresh for every input
 * (cheap: it only copies them), because it caches expanded KEKs, per
 * cipher, in locked memory that LeakSanitizer cannot see into: a set that
 * lived across inputs would grow with them and look leaked. */
static const char *const passes[] = {
	FUZZ_PASS_A, FUZZ_PASS_D, FUZZ_PASS_E, FUZZ_PASS_H1,
};
#define NKEYS (sizeof(passes) / sizeof(passes[0]))
static struct ecfs_key keys[NKEYS];
static struct ecfs_keyset *ks;
static uint8_t *rbuf;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	rbuf = malloc(READ_MAX);
	FUZZ_CHECK(rbuf);
	for (size_t i = 0; i < NKEYS; i++)
		fuzz_derive(&keys[i], passes[i], ecfs_default_salt);
	return 0;
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void read_one(struct ecfs_file *f, uint64_t off, size_t len)
{
	struct ob_err err = {0};
	uint64_t size = f->hdr.size;
	ssize_t n;

	if (len > READ_MAX)
		len = READ_MAX;
	n = ecfs_file_pread(f, rbuf, len, off, &err);
	fuzz_check_err(&err);
	if (n < 0)
		return;
	FUZZ_CHECK((size_t)n <= len);
	FUZZ_CHECK(off >= size ? n == 0 : (uint64_t)n <= size - off);
}

static void reads(struct ecfs_file *f, uint64_t *seed)
{
	uint64_t size = f->hdr.size;
	const uint64_t offs[] = { 0, 1, 4095, 4096, size - 1, size, size + 1,
				  size / 2, UINT64_MAX - 1 };

	read_one(f, 0, READ_MAX);
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++)
		read_one(f, offs[i], 1 + rng_next(seed) % 8192);
	for (int i = 0; i < 4; i++) {
		uint64_t r = rng_next(seed);
		uint64_t off = (r & 1) ? r % (size + 8192) : rng_next(seed);

		read_one(f, off, rng_next(seed) % READ_MAX);
	}
}

static void writes(struct ecfs_file *f, uint64_t *seed)
{
	static const uint8_t patch[256] = { 0x5a };
	struct ob_err err = {0};
	uint64_t size = f->hdr.size;
	uint64_t off = size ? rng_next(seed) % size : 0;
	uint64_t down = size - (size ? rng_next(seed) % (size < MOVE_MAX ? size : MOVE_MAX) : 0);
	ssize_t n;

	n = ecfs_file_pwrite(f, patch, 1 + rng_next(seed) % sizeof(patch), off, &err);
	fuzz_check_err(&err);
	if (n >= 0)
		read_one(f, off, (size_t)n);
	if (ecfs_file_truncate(f, down, &err) == 0)
		FUZZ_CHECK(f->hdr.size == down);
	fuzz_check_err(&err);
	size = f->hdr.size;
	if (size < UINT64_MAX - MOVE_MAX) {
		uint64_t up = size + rng_next(seed) % MOVE_MAX;

		if (ecfs_file_truncate(f, up, &err) == 0)
			FUZZ_CHECK(f->hdr.size == up);
		fuzz_check_err(&err);
	}
	read_one(f, 0, READ_MAX);
}

/* Open a fresh memfd of the image; -1 when it does not open. */
static int open_image(const uint8_t *data, size_t size, struct ecfs_file *f)
{
	struct ob_err err = {0};
	int fd = fuzz_memfd(data, size), rc;

	FUZZ_CHECK(fd >= 0);
	rc = ecfs_file_open(f, fd, ECFS_OPEN_XATTR_OK, ks, &err);
	fuzz_check_err(&err);
	if (rc) {
		FUZZ_CHECK(rc < 0);
		FUZZ_CHECK(f->fek == NULL);
		close(fd);
		return -1;
	}
	FUZZ_CHECK(f->fek != NULL);
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ecfs_file f;
	uint64_t seed = 0xcbf29ce484222325ull;
	int fd;

	for (size_t i = 0; i < size && i < 64; i++)
		seed = (seed ^ data[i]) * 0x100000001b3ull;
	ks = ecfs_keyset_new();
	FUZZ_CHECK(ks);
	for (size_t i = 0; i < NKEYS; i++)
		FUZZ_CHECK(ecfs_keyset_add(ks, &keys[i]) == 0);
	fd = open_image(data, size, &f);
	if (fd < 0)
		goto out;
	reads(&f, &seed);
	ecfs_file_close(&f);
	close(fd);

	fd = open_image(data, size, &f);
	FUZZ_CHECK(fd >= 0);	/* it opened a moment ago */
	writes(&f, &seed);
	ecfs_file_close(&f);
	close(fd);
out:
	ecfs_keyset_free(ks);
	ks = NULL;
	return 0;
}
