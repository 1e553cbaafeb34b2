// SPDX-License-Identifier: MIT
/* fuzz-rc.c - the salt= line of an ~/.ecryptfsrc-style file.
 *
 * What it checks: the input is the whole rc file, read by ecfs_rc_salt
 * from an anonymous file (memfd, through /proc/self/fd).  Whatever the
 * lines, their length (longer than the 512-byte line buffer), NULs,
 * whitespace and hex say, it must not crash or read out of bounds; it
 * returns 1 with some salt, or 0 or -EINVAL with the default salt in place,
 * and a reason on failure.
 *
 * Why: the file lives in the user's home directory and decides the salt
 * of every key ecfs derives (spec §1); a damaged one must be an error
 * message, not a crash or a silently wrong key.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ecfs.h"
#include "fuzz-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t salt[ECFS_SALT_BYTES];
	struct ob_err err = {0};
	char path[64];
	int fd = fuzz_memfd(data, size), rc;

	FUZZ_CHECK(fd >= 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rc = ecfs_rc_salt(path, salt, &err);
	fuzz_check_err(&err);
	FUZZ_CHECK(rc == 0 || rc == 1 || rc == -EINVAL);
	if (rc != 1)
		FUZZ_CHECK(!memcmp(salt, ecfs_default_salt, ECFS_SALT_BYTES));
	if (rc < 0)
		FUZZ_CHECK(err.code == rc && err.msg[0]);
	close(fd);
	return 0;
}
