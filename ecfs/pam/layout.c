/* SPDX-License-Identifier: MIT */
/* layout.c - where a user's encrypted directory is, as pam_ecryptfs and
 * mount.ecryptfs_private find it (shared/spec/legacy-ecryptfs.md §5):
 *
 *   ~/.ecryptfs/            wrapped-passphrase, Private.sig, Private.mnt,
 *                           auto-mount, auto-umount (empty flag files)
 *   ~/.Private              the lower directory of ~/Private
 *   /home/.ecryptfs/USER/   an encrypted home: .Private and .ecryptfs live
 *                           here, ~/.ecryptfs and ~/.Private are symlinks
 *                           to them, and Private.mnt names the home itself
 *
 * Everything but pe_has_ecryptfs() runs in the child that has become the
 * user, so a symlink the user planted can only lead to what the user may
 * read anyway.
 */
#include "pam-ecfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool pe_has_ecryptfs(const struct pe_user *u)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%.3000s/.ecryptfs", u->home);
	if (exists(p))
		return true;
	snprintf(p, sizeof(p), "/home/.ecryptfs/%.255s/.ecryptfs", u->name);
	return exists(p);
}

/* First line of a small file, without its newline; false when absent or
 * empty (mount.ecryptfs_private's fetch of Private.mnt). */
static bool first_line(const char *path, char *out, size_t len)
{
	FILE *f = fopen(path, "re");
	bool ok;

	if (!f)
		return false;
	ok = fgets(out, (int)len, f) != NULL;
	fclose(f);
	if (!ok)
		return false;
	out[strcspn(out, "\n")] = '\0';
	return out[0] != '\0';
}

int pe_layout_find(const struct pe_user *u, struct pe_layout *l, char *msg, size_t len)
{
	char p[PATH_MAX], enc[512];

	memset(l, 0, sizeof(*l));
	snprintf(enc, sizeof(enc), "/home/.ecryptfs/%.255s", u->name);
	snprintf(p, sizeof(p), "%.511s/.Private", enc);
	l->home_encrypted = is_dir(p);
	snprintf(l->conf, sizeof(l->conf), "%.3000s/.ecryptfs", u->home);
	if (!is_dir(l->conf) && l->home_encrypted)
		snprintf(l->conf, sizeof(l->conf), "%.511s/.ecryptfs", enc);
	if (!is_dir(l->conf)) {
		snprintf(msg, len, "%s: no such directory", l->conf);
		return -ENOENT;
	}
	if (!l->home_encrypted)
		snprintf(p, sizeof(p), "%.3000s/.Private", u->home);
	/* The daemon gets the real lower path: once the home is mounted over,
	 * ~/.Private would lead back into the mount. */
	if (!realpath(p, l->lower))
		l->lower[0] = '\0';
	snprintf(l->sigfile, sizeof(l->sigfile), "%.3000s/Private.sig", l->conf);
	snprintf(l->wrapped, sizeof(l->wrapped), "%.3000s/wrapped-passphrase", l->conf);
	snprintf(l->rc, sizeof(l->rc), "%.3000s/.ecryptfsrc", u->home);
	snprintf(p, sizeof(p), "%.3000s/Private.mnt", l->conf);
	if (!first_line(p, l->mnt, sizeof(l->mnt)))
		snprintf(l->mnt, sizeof(l->mnt), "%.3000s%s", u->home,
			 l->home_encrypted ? "" : "/Private");
	/* mountinfo has canonical paths; a dead daemon's mount point fails
	 * with ENOTCONN (or ECANCELED) here, and the path stays as written. */
	if (realpath(l->mnt, p))
		snprintf(l->mnt, sizeof(l->mnt), "%s", p);
	snprintf(p, sizeof(p), "%.3000s/auto-mount", l->conf);
	l->auto_mount = exists(p);
	snprintf(p, sizeof(p), "%.3000s/auto-umount", l->conf);
	l->auto_umount = exists(p);
	return 0;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

bool pe_is_mounted(const char *path)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, *mp, *sep, *fstype;
	size_t cap = 0;
	bool found = false;

	if (!f)
		return false;
	while (!found && getline(&line, &cap, f) > 0) {
		/* id parent maj:min root MOUNTPOINT opts [tags...] - FSTYPE ... */
		mp = line;
		for (int i = 0; i < 4 && mp; i++) {
			mp = strchr(mp, ' ');
			if (mp)
				mp++;
		}
		sep = strstr(line, " - ");
		if (!mp || !sep)
			continue;
		fstype = sep + 3;
		*strchrnul(mp, ' ') = '\0';
		unescape(mp);
		found = strcmp(mp, path) == 0 && strncmp(fstype, "fuse.ecfs ", 10) == 0;
	}
	free(line);
	fclose(f);
	return found;
}
