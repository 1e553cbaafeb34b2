// SPDX-License-Identifier: MIT
/* store-zero.c - zero-filled memory that can be larger than the buffer.
 *
 * Pages read as zeros until written (the pager maps them without reading,
 * see zero_fresh); a dirty page that is evicted is kept in an unlinked
 * temporary file, whose holes read as zeros too, so it is just a file store
 * nobody else can see.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "ob/err.h"
#include "mp-int.h"

int mp_store_file_own(int fd, bool writable, const char *kind, struct mmp_store **out);

int mmp_store_zero(const char *dir, struct mmp_store **out, struct ob_err *err)
{
	int fd, rc;

	if (!dir)
		dir = getenv("TMPDIR");
	if (!dir || !*dir)
		dir = "/tmp";
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return ob_err_set(err, -errno, "zero store: cannot create a temporary "
				  "file in %s", dir);
	rc = mp_store_file_own(fd, true, "zero", out);
	if (rc < 0) {
		close(fd);
		return ob_err_set(err, rc, "zero store: out of memory");
	}
	(*out)->zero_fresh = true;
	return 0;
}
