/* SPDX-License-Identifier: MIT */
/* wrapped-file.c - a wrapped-passphrase file on disk: read and unwrap it,
 * and change the login password that wraps it without ever leaving a file
 * that neither password opens.
 *
 * The byte format is wrapped.c's; this file only adds the file handling
 * that pam_ecfs needs at login and at password change.  A rewrap goes
 * through a private temporary file beside the old one ("<path>-XXXXXX",
 * the name ecryptfs-utils uses), which is written, fsynced and renamed
 * over the old file, after which the directory is fsynced too.  Killed
 * before the rename, the old file is intact (old password); after it, the
 * new file is complete on disk (new password).  A stale temporary file may
 * stay behind after a kill; it is never read.
 */
#include "ecfs-int.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ob/secmem.h"

/* The longest file worth reading: a v2 head and 64 bytes of ciphertext,
 * plus slack so that a longer (damaged) file is still read and judged by
 * wrapped.c rather than cut here. */
#define WRAPPED_FILE_CAP	256

static int read_wrapped(const char *path, uint8_t *buf, size_t *len,
			struct ob_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	size_t got = 0;
	ssize_t n;

	if (fd < 0)
		return ob_err_set(err, -errno, "cannot open %s", path);
	while (got < WRAPPED_FILE_CAP) {
		n = read(fd, buf + got, WRAPPED_FILE_CAP - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (n < 0) {
		int e = -errno;

		close(fd);
		return ob_err_set(err, e, "cannot read %s", path);
	}
	close(fd);
	*len = got;
	return 0;
}

int ecfs_wrapped_unwrap_file(const char *path, const char *wrap_pass,
			     size_t wrap_len, const uint8_t v1_salt[ECFS_SALT_BYTES],
			     char pass[ECFS_MAX_PASSPHRASE + 1], struct ob_err *err)
{
	uint8_t buf[WRAPPED_FILE_CAP];
	size_t len = 0;
	int rc;

	rc = read_wrapped(path, buf, &len, err);
	if (rc < 0)
		return rc;
	return ecfs_wrapped_unwrap(buf, len, wrap_pass, wrap_len, v1_salt, pass, err);
}

/* Write len bytes to a new private file beside path and rename it over
 * path; fsync the file before and the directory after the rename. */
static int replace_file(const char *path, const uint8_t *buf, size_t len,
			struct ob_err *err)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	int fd, dfd, rc = 0;

	if (snprintf(tmp, sizeof(tmp), "%s-XXXXXX", path) >= (int)sizeof(tmp))
		return ob_err_set(err, -ENAMETOOLONG, "path too long: %s", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return ob_err_set(err, -errno, "cannot create a temporary file beside %s", path);
	if (fchmod(fd, 0600) || write(fd, buf, len) != (ssize_t)len || fsync(fd))
		rc = ob_err_set(err, errno ? -errno : -EIO, "cannot write %s", tmp);
	if (close(fd) && !rc)
		rc = ob_err_set(err, -errno, "cannot write %s", tmp);
	if (!rc && rename(tmp, path))
		rc = ob_err_set(err, -errno, "cannot rename %s over %s", tmp, path);
	if (rc) {
		unlink(tmp);
		return rc;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd))
		rc = ob_err_set(err, -errno, "renamed, but cannot sync the directory of %s", path);
	if (dfd >= 0)
		close(dfd);
	return rc;
}

int ecfs_wrapped_rewrap_file(const char *path, const char *old_pass, size_t old_len,
			     const char *new_pass, size_t new_len,
			     const uint8_t v1_salt[ECFS_SALT_BYTES], struct ob_err *err)
{
	uint8_t out[ECFS_WRAPPED_MAX], salt[ECFS_SALT_BYTES];
	char *pass;
	size_t out_len = 0;
	int rc;

	if (getrandom(salt, sizeof(salt), 0) != (ssize_t)sizeof(salt))
		return ob_err_set(err, -EIO, "getrandom failed");
	pass = ob_secure_alloc(ECFS_MAX_PASSPHRASE + 1);
	if (!pass)
		return ob_err_set(err, -ENOMEM, "no locked memory for the passphrase");
	rc = ecfs_wrapped_unwrap_file(path, old_pass, old_len, v1_salt, pass, err);
	if (rc < 0)
		goto out;
	rc = ecfs_wrapped_wrap(pass, strlen(pass), new_pass, new_len, salt, out,
			       &out_len, err);
	if (rc < 0)
		goto out;
	rc = replace_file(path, out, out_len, err);
out:
	ob_secure_free(pass);
	ob_wipe(out, sizeof(out));
	return rc;
}
