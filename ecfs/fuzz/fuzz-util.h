/* SPDX-License-Identifier: MIT */
/* fuzz-util.h - what the libFuzzer harnesses share: fixed keys, input files.
 *
 * Keys are derived once per process (65536 SHA-512 rounds each, tens of
 * milliseconds), from the passphrases of the kernel-written corpus cases,
 * so that seeds copied from those cases get past signature checks and the
 * fuzzer mutates what lies behind them.  Anything that fails here is a bug
 * in the harness, not in the code under test: it aborts loudly.
 */
#ifndef ECFS_FUZZ_UTIL_H
#define ECFS_FUZZ_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ecfs.h"

/* The corpus cases' passphrases (ecfs/fuzz/corpus seeds come from them). */
#define FUZZ_PASS_A	"golden-passphrase-A"		/* AES-128, plain names */
#define FUZZ_PASS_B	"golden-passphrase-B"		/* AES-256, FNEK */
#define FUZZ_PASS_D	"golden-passphrase-D-aes-24"	/* AES-192, FNEK */
#define FUZZ_PASS_E	"5f3a9c1e7b2d4860a1c3e5f7092b4d6e" /* ~/Private */
#define FUZZ_PASS_H1	"golden-passphrase-H1"		/* two keys */
#define FUZZ_LOGIN_E	"correct horse battery staple"	/* wraps PASS_E */

#define FUZZ_CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: harness check failed: %s\n", \
			__FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

static inline void fuzz_derive(struct ecfs_key *key, const char *pass,
			       const uint8_t salt[ECFS_SALT_BYTES])
{
	struct ob_err err = {0};

	if (ecfs_key_derive(key, pass, strlen(pass), salt, &err)) {
		fprintf(stderr, "key derivation failed: %s\n", err.msg);
		abort();
	}
}

/* An anonymous file holding data, offset 0; -1 when memfd_create fails. */
static inline int fuzz_memfd(const uint8_t *data, size_t size)
{
	int fd = memfd_create("ecfs-fuzz", MFD_CLOEXEC);
	size_t done = 0;

	if (fd < 0)
		return -1;
	while (done < size) {
		ssize_t n = write(fd, data + done, size - done);

		if (n <= 0) {
			close(fd);
			return -1;
		}
		done += (size_t)n;
	}
	return fd;
}

/* An ob_err reason must always be a terminated string that fits. */
static inline void fuzz_check_err(const struct ob_err *err)
{
	FUZZ_CHECK(memchr(err->msg, '\0', sizeof(err->msg)) != NULL);
}

#endif
