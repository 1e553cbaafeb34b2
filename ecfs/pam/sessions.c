/* SPDX-License-Identifier: MIT */
/* sessions.c - how many sessions a user has open, counted so that a
 * session that crashed stops counting.
 *
 * pam_ecryptfs keeps a bare counter: a session whose process is killed
 * never decrements it, and the user's directory then stays mounted until
 * reboot.  We keep one empty file per session instead, in
 * /run/ecfs-pam/UID/, named "PID-STARTTIME" after the process that opened
 * the session (login, sshd's monitor, su: the process that stays for the
 * whole session and calls close_session).  A record whose process is gone,
 * or whose pid now belongs to a process started at another time, is
 * removed whenever the count is taken.  An flock on /run/ecfs-pam/UID/lock
 * serialises sessions of one user, so that two logins at once mount once
 * and a logout never unmounts under a login in progress.
 */
#include "pam-ecfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Field 22 of /proc/PID/stat: start time in clock ticks since boot;
 * 0 when the process does not exist. */
static unsigned long long start_time(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long t = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* The command name may hold spaces and ')': skip to the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	for (int field = 2; p && field < 22; field++) {
		p = strchr(p + 1, ' ');
	}
	if (p)
		t = strtoull(p + 1, NULL, 10);
	return t;
}

int pe_sessions_lock(struct pe_sessions *s, const char *state, uid_t uid)
{
	char path[PATH_MAX];

	s->lock_fd = -1;
	if (mkdir(state, 0700) && errno != EEXIST)
		return -errno;
	snprintf(s->dir, sizeof(s->dir), "%.3000s/%u", state, (unsigned)uid);
	if (mkdir(s->dir, 0700) && errno != EEXIST)
		return -errno;
	snprintf(path, sizeof(path), "%.3000s/lock", s->dir);
	s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s->lock_fd < 0)
		return -errno;
	while (flock(s->lock_fd, LOCK_EX)) {
		if (errno != EINTR) {
			int e = -errno;

			close(s->lock_fd);
			s->lock_fd = -1;
			return e;
		}
	}
	return 0;
}

void pe_sessions_unlock(struct pe_sessions *s)
{
	if (s->lock_fd >= 0)
		close(s->lock_fd);	/* drops the flock */
	s->lock_fd = -1;
}

int pe_sessions_add(struct pe_sessions *s, char *id, size_t len)
{
	char path[PATH_MAX];
	pid_t pid = getpid();
	int fd;

	snprintf(id, len, "%d-%llu", (int)pid, start_time(pid));
	snprintf(path, sizeof(path), "%.3000s/%s", s->dir, id);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

void pe_sessions_remove(struct pe_sessions *s, const char *id)
{
	char path[PATH_MAX];

	if (!id[0] || strchr(id, '/'))
		return;
	snprintf(path, sizeof(path), "%.3000s/%s", s->dir, id);
	unlink(path);
}

/* Is the record "PID-STARTTIME" still a running process? */
static bool record_live(const char *name)
{
	unsigned long long t;
	char *end;
	long pid = strtol(name, &end, 10);

	if (end == name || *end != '-' || pid <= 0)
		return false;
	t = strtoull(end + 1, &end, 10);
	return *end == '\0' && t != 0 && start_time((pid_t)pid) == t;
}

int pe_sessions_count(struct pe_sessions *s)
{
	DIR *d = opendir(s->dir);
	struct dirent *e;
	int live = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || !strcmp(e->d_name, "lock"))
			continue;
		if (record_live(e->d_name))
			live++;
		else
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
	return live;
}
