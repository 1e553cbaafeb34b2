// SPDX-License-Identifier: MIT
/* lowerlock.c - one writer per lower directory: the lock a mount holds on it.
 *
 * Each daemon caches what it knows of the lower tree (plaintext sizes, the
 * probe cache, the open FEKs), so a second daemon writing the same lower
 * files makes both wrong: appends fsync'd through one mount were lost when
 * the other rewrote the size field from its own cache (issue 19).  So a
 * mount takes an flock on the lower directory for its whole life:
 *   read-write mount  LOCK_EX: alone;
 *   read-only mount   LOCK_SH: with other read-only mounts only (a writer
 *                     would change sizes and files under its caches).
 * The kernel drops an flock when the last descriptor of it closes, so a
 * daemon killed with SIGKILL never blocks the next mount, and there is no
 * lock file in the lower tree (which the kernel's eCryptfs would show).
 *
 * A refused mount names the daemon holding the lock: its pid from
 * /proc/locks and its mount point from mountinfo, when they can be found.
 */
#include "ecfs-fuse.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* The pid holding an flock on (dev, ino) other than ours, from /proc/locks;
 * 0 when none is listed. */
static long lock_holder(dev_t dev, ino_t ino)
{
	FILE *f = fopen("/proc/locks", "re");
	char line[256];
	long found = 0;

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned maj, min;
		unsigned long long i;
		long pid;
		char type[16];

		/* "1: FLOCK  ADVISORY  WRITE 1234 fe:00:5678 0 EOF"; a waiter
		 * line starts "1: -> FLOCK" and does not match. */
		if (sscanf(line, "%*d: %15s %*s %*s %ld %x:%x:%llu", type, &pid, &maj, &min,
			   &i) == 5 && !strcmp(type, "FLOCK") && makedev(maj, min) == dev &&
		    i == (unsigned long long)ino && pid != getpid())
			found = pid;
	}
	fclose(f);
	return found;
}

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] && s[3]) {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/* The mount point of an ecfs mount whose source (fsname) is the directory
 * (dev, ino), into out; false when none is found. */
static bool ecfs_mount_of(dev_t dev, ino_t ino, char *out, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[PATH_MAX * 2 + 512];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char mnt[PATH_MAX], fstype[64], src[PATH_MAX];
		const char *tail = strstr(line, " - ");
		struct stat st;

		if (!tail || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(tail, " - %63s %4095s", fstype, src) != 2 ||
		    strcmp(fstype, "fuse.ecfs"))
			continue;
		unescape(src);
		unescape(mnt);
		if (!stat(src, &st) && st.st_dev == dev && st.st_ino == ino &&
		    (size_t)snprintf(out, len, "%s", mnt) < len)
			found = true;
	}
	fclose(f);
	return found;
}

int ef_lower_lock(struct ef_fs *fs, const char *lower, int root_fd, bool ro)
{
	char mnt[PATH_MAX], who[PATH_MAX + 64];
	struct stat st;
	long pid;
	int fd;

	/* An flock needs a real open (root_fd is O_PATH); "." is the very
	 * directory we serve, whatever happens to the path meanwhile. */
	fd = openat(root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		ef_msg("%s: cannot open the lower directory to lock it: %s", lower,
			strerror(errno));
		goto fail;
	}
	if (!flock(fd, (ro ? LOCK_SH : LOCK_EX) | LOCK_NB)) {
		fs->lower_lock_fd = fd + 1;
		return 0;
	}
	if (errno != EWOULDBLOCK) {
		ef_msg("%s: cannot lock the lower directory: %s", lower, strerror(errno));
		goto fail;
	}
	pid = lock_holder(st.st_dev, st.st_ino);
	if (ecfs_mount_of(st.st_dev, st.st_ino, mnt, sizeof(mnt)))
		snprintf(who, sizeof(who), "by the ecfs mount at %s", mnt);
	else
		snprintf(who, sizeof(who), "by another ecfs daemon");
	if (pid) {
		size_t n = strlen(who);

		snprintf(who + n, sizeof(who) - n, " (pid %ld)", pid);
	}
	ef_msg("%s: already in use %s; %s", lower, who,
		ro ? "a read-only mount cannot share it with a read-write one"
		   : "a second read-write mount of one lower directory loses data "
		     "(unmount the other first)");
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

void ef_lower_unlock(struct ef_fs *fs)
{
	if (fs->lower_lock_fd > 0)
		close(fs->lower_lock_fd - 1);
	fs->lower_lock_fd = 0;
}
