/* SPDX-License-Identifier: MIT */
/* pam-ecfs.h - what the parts of pam_ecfs.so share: the user a PAM call is
 * about, the module's options, the per-user session records, and the work
 * done in a child process that runs as the user.
 *
 * Split: pam_ecfs.c holds the PAM entry points and the pam data; layout.c
 * finds a user's ~/.ecryptfs files; sessions.c counts sessions; as-user.c
 * runs the mount, unmount and rewrap as the user.
 */
#ifndef PAM_ECFS_H
#define PAM_ECFS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define PE_NAME		"pam_ecfs"
#define PE_MAX_GROUPS	256
#define PE_MSG		256

#ifndef PE_ECFS_PROG		/* the installed ecfs; the Makefile sets it */
#define PE_ECFS_PROG	"/usr/local/bin/ecfs"
#endif
#define PE_STATE_DIR	"/run/ecfs-pam"

/* The account a PAM call is about, copied out of getpwnam()'s buffer. */
struct pe_user {
	char name[256];
	char home[PATH_MAX];
	uid_t uid;
	gid_t gid;
	gid_t groups[PE_MAX_GROUPS];
	int ngroups;
};

/* Module arguments (pam_ecfs(8)). */
struct pe_opts {
	const char *ecfs;		/* ecfs=PATH */
	const char *state;		/* state=DIR: session records */
	bool debug;
};

/* Where a user's encrypted directory and its ~/.ecryptfs files are. */
struct pe_layout {
	char conf[PATH_MAX];		/* the .ecryptfs directory */
	char lower[PATH_MAX];		/* .Private, symlinks resolved */
	char mnt[PATH_MAX];		/* Private.mnt, else ~/Private */
	char sigfile[PATH_MAX], wrapped[PATH_MAX], rc[PATH_MAX];
	bool home_encrypted;		/* /home/.ecryptfs/USER/.Private */
	bool auto_mount, auto_umount;
};

/* layout.c: does the user have eCryptfs files at all (a cheap stat, made
 * before anything else so that other accounts are left alone)? */
bool pe_has_ecryptfs(const struct pe_user *u);
/* Fill l for u; run as the user.  0, or -errno with a reason in msg. */
int pe_layout_find(const struct pe_user *u, struct pe_layout *l, char *msg, size_t len);
/* Is an ecfs (fuse.ecfs) filesystem mounted at path? */
bool pe_is_mounted(const char *path);

/* sessions.c: one record per open session, named after the process that
 * opened it (pid and start time), so that a session whose process died
 * without closing stops counting.  All calls hold the user's lock. */
struct pe_sessions {
	char dir[PATH_MAX];
	int lock_fd;
};
int pe_sessions_lock(struct pe_sessions *s, const char *state, uid_t uid);
void pe_sessions_unlock(struct pe_sessions *s);
/* Record the calling process; id gets the record's name. */
int pe_sessions_add(struct pe_sessions *s, char *id, size_t len);
void pe_sessions_remove(struct pe_sessions *s, const char *id);
/* Live records after removing those of dead processes. */
int pe_sessions_count(struct pe_sessions *s);

/* as-user.c: each forks a child that takes on the user's uid, gids and
 * groups and does the work.  The result is one of enum pe_result; msg gets
 * the child's one-line reason (no secret ever goes there). */
enum pe_result {
	PE_MOUNTED = 0,		/* mounted now */
	PE_FAILED = 1,		/* wrong password, bad file, mount failed */
	PE_ALREADY = 10,	/* was mounted: nothing to do */
	PE_NOT_WANTED = 11,	/* no auto-mount / auto-umount, no .ecryptfs */
	PE_UNMOUNTED = 12,
	PE_REWRAPPED = 13,
};
int pe_mount_as_user(const struct pe_user *u, const struct pe_opts *o,
		     const char *login, size_t login_len, char *msg, size_t len);
int pe_umount_as_user(const struct pe_user *u, char *msg, size_t len);
int pe_rewrap_as_user(const struct pe_user *u, const char *old_pw, size_t old_len,
		      const char *new_pw, size_t new_len, char *msg, size_t len);

#endif
