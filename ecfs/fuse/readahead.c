// SPDX-License-Identifier: MIT
/* readahead.c - give this mount a read-ahead window that fits the requests
 * it can take.
 *
 * The kernel gives every FUSE mount the default 128 KiB read-ahead, and the
 * INIT reply can only lower it.  So a program that reads a file from start
 * to end reaches the daemon as 128 KiB READs, while a READ can carry 1 MiB
 * (EF_IO_MAX): eight requests, eight lower reads and eight crypto calls
 * where one would do, and the lower reads come in behind the lower
 * filesystem's own read-ahead.  A cold 1 GiB dd through a 1 MiB window ran
 * at 1.2 to 1.9 GiB/s in a dozen tries, with the same daemon CPU time each
 * time; through 128 KiB at 0.8 to 1.9 GiB/s, and some tries spent twice
 * the CPU time copying out of the lower page cache (2-core VM).  Random
 * reads do not grow a window, so they are unchanged.
 *
 * The window is the mount's bdi setting, /sys/class/bdi/MAJ:MIN/read_ahead_kb,
 * which only root may write; so a mount by another user keeps 128 KiB, and
 * says so only when readahead= asked for something else.  It must be set
 * after the kernel took the INIT reply, which would clamp it again.
 */
#include "ecfs-fuse.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Undo mountinfo's octal escapes (\040 for a space and so on) in place. */
static void unescape(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/* The device number ("MAJ:MIN") of the topmost FUSE mount at path, from
 * /proc/self/mountinfo: "id parent MAJ:MIN root MOUNTPOINT opts... - TYPE ...". */
static int mount_devno(const char *path, char *devno, size_t size)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int rc = -ENOENT;

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		char dev[32], mnt[4096], *sep = strstr(line, " - ");

		if (!sep || sscanf(line, "%*u %*u %31s %*s %4095s", dev, mnt) != 2 ||
		    strncmp(sep + 3, "fuse", 4))
			continue;
		unescape(mnt);
		if (strcmp(mnt, path))
			continue;
		snprintf(devno, size, "%s", dev);	/* the last one is on top */
		rc = 0;
	}
	free(line);
	fclose(f);
	return rc;
}

static int write_window(const char *devno, unsigned kib, char *where, size_t size)
{
	char val[16];
	int fd, n, rc = 0;

	snprintf(where, size, "/sys/class/bdi/%s/read_ahead_kb", devno);
	fd = open(where, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = snprintf(val, sizeof(val), "%u", kib);
	if (write(fd, val, (size_t)n) != n)
		rc = -errno;
	close(fd);
	return rc;
}

void ef_readahead_set(struct ef_fs *fs)
{
	const struct ef_opts *o = fs->o;
	char devno[32], where[128];
	int rc;

	if (!o->readahead_kb || !fs->mnt_path)
		return;
	if (mount_devno(fs->mnt_path, devno, sizeof(devno))) {
		if (o->readahead_set)
			ef_log(fs, &fs->root, "readahead=%u not set: no FUSE mount at %s in "
			       "/proc/self/mountinfo", o->readahead_kb, fs->mnt_path);
		return;
	}
	rc = write_window(devno, o->readahead_kb, where, sizeof(where));
	if (rc && o->readahead_set)
		ef_log(fs, &fs->root, "readahead=%u not set (%s: %s); the kernel's 128 KiB stays",
		       o->readahead_kb, where, strerror(-rc));
}
