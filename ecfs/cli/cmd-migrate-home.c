/* SPDX-License-Identifier: MIT */
/* cmd-migrate-home.c - "ecfs migrate-home USER", as ecryptfs-migrate-home:
 * turn a user's plaintext home into an encrypted home laid out as Ubuntu's
 * (/home/.ecryptfs/USER/{.Private,.ecryptfs}, shared/spec/legacy-ecryptfs.md
 * §5.4), which pam_ecfs (or pam_ecryptfs with the kernel module) mounts at
 * the user's next login.
 *
 * Steps; a failure undoes the earlier ones in reverse:
 *   1. checks: root, USER exists and is not root, no process of USER runs
 *      (a logged-in user would write into the old home while we copy), the
 *      home is not encrypted already;
 *   2. the home is renamed to HOME.XXXXXXXX: the backup, which is kept;
 *   3. a new empty home, and "ecfs setup-private" run as USER in
 *      /home/.ecryptfs/USER with a random mount passphrase wrapped with the
 *      login password; Private.mnt names the home itself, and the home holds
 *      the .ecryptfs and .Private links, as ecryptfs-setup-private does;
 *   4. the new home is mounted and the backup copied in, both as USER (a
 *      user's FUSE mount is not open to root), then unmounted.
 * Every program runs as USER through fork + setresuid; the secrets reach
 * them on pipes (/dev/fd/N).
 */
#include "cli.h"
#include "legacy-cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ob/opt.h"
#include "ob/secmem.h"

#define ENC_TOP "/home/.ecryptfs"

enum { O_LOGIN = 1, O_LOGIN_EXT };

static const struct ob_opt mh_opts[] = {
	{ "login-password-file", 0, O_LOGIN, "F",
	  "USER's login password, which will unwrap the new home ('-' = stdin)", OB_OPT_EXACT },
	{ "login-extpass", 0, O_LOGIN_EXT, "CMD", "... from the output of CMD (default: ask)",
	  OB_OPT_EXACT },
	{ OB_OPT_END },
};

static const struct ob_opt *const mh_tables[] = { mh_opts, NULL };

static const struct ob_cmd mh_cmd = {
	.prog = "ecfs migrate-home",
	.synopsis = "ecfs migrate-home [OPTIONS] USER",
	.about = "Encrypt USER's existing home, as ecryptfs-migrate-home does: the home moves to\n"
		 "HOME.XXXXXXXX (kept as a backup), a new encrypted home is set up in\n"
		 "/home/.ecryptfs/USER and the files are copied into it.  Run as root while USER\n"
		 "is logged out; USER must then log in (pam_ecfs mounts the home) before the\n"
		 "backup is removed.",
	.tables = mh_tables,
	.operands_min = 1,
	.operands_max = 1,
};

struct migration {
	char self[PATH_MAX];		/* this ecfs: /proc/self/exe is root's once we drop */
	struct passwd pw;
	char pwbuf[4096];
	char home[PATH_MAX], backup[PATH_MAX + 16], enc[PATH_MAX];
	bool made_enc_top, moved, made_home, mounted;
};

static int mh_option(const struct ob_cmd *cmd, const struct ob_opt *opt, const char *arg,
		     void *ctx)
{
	struct secret_source *login = ctx;

	if (opt->key == O_LOGIN)
		login->file = arg;
	else
		login->extpass = arg;
	return 0;
}

/* First process of uid, or 0. */
static pid_t user_process(uid_t uid)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	struct stat st;
	pid_t found = 0;

	while (d && !found && (e = readdir(d)))
		if (e->d_name[0] >= '1' && e->d_name[0] <= '9' &&
		    !fstatat(dirfd(d), e->d_name, &st, 0) && st.st_uid == uid)
			found = (pid_t)atoi(e->d_name);
	if (d)
		closedir(d);
	return found;
}

/* A pipe holding s whose read end (returned) a child running as owner
 * inherits and opens as /dev/fd/N: a pipe is 0600 to its creator, so it
 * must belong to owner. */
static int pipe_with(const char *s, const struct passwd *owner)
{
	size_t len = strlen(s);
	int p[2];

	if (pipe(p))
		return -1;
	if (fchown(p[0], owner->pw_uid, owner->pw_gid) ||
	    write(p[1], s, len) != (ssize_t)len) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	close(p[1]);
	return p[0];
}

/* Run argv (absolute path) as the user, stdout to /dev/null; exit status. */
static int run_as_user(const struct migration *m, const char *const *argv)
{
	char env_home[PATH_MAX + 8], env_user[300];
	char *env[] = { env_home, env_user, "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	int st, null;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		null = open("/dev/null", O_WRONLY);
		if (null >= 0)
			dup2(null, STDOUT_FILENO);
		if (initgroups(m->pw.pw_name, m->pw.pw_gid) ||
		    setresgid(m->pw.pw_gid, m->pw.pw_gid, m->pw.pw_gid) ||
		    setresuid(m->pw.pw_uid, m->pw.pw_uid, m->pw.pw_uid) || chdir("/"))
			_exit(126);
		/* The user's environment, not root's ($HOME/.ecryptfsrc). */
		snprintf(env_home, sizeof(env_home), "HOME=%s", m->home);
		snprintf(env_user, sizeof(env_user), "USER=%s", m->pw.pw_name);
		execve(argv[0], (char *const *)argv, env);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int check(struct migration *m, const char *user)
{
	struct passwd *res = NULL;
	char p[PATH_MAX + 16];
	struct stat st;
	pid_t pid;

	if (geteuid() != 0) {
		cli_msg("migrate-home: must run as root");
		return EXIT_FAIL;
	}
	if (getpwnam_r(user, &m->pw, m->pwbuf, sizeof(m->pwbuf), &res) || !res) {
		cli_msg("migrate-home: %s: no such user", user);
		return EXIT_FAIL;
	}
	if (m->pw.pw_uid == 0) {
		cli_msg("migrate-home: %s: root's home is not migrated", user);
		return EXIT_FAIL;
	}
	if (!realpath("/proc/self/exe", m->self)) {
		cli_msg("migrate-home: /proc/self/exe: %s", strerror(errno));
		return EXIT_FAIL;
	}
	snprintf(m->home, sizeof(m->home), "%s", m->pw.pw_dir);
	snprintf(m->enc, sizeof(m->enc), ENC_TOP "/%.200s", m->pw.pw_name);
	if (stat(m->home, &st) || !S_ISDIR(st.st_mode)) {
		cli_msg("migrate-home: %s: home %s is not a directory", user, m->home);
		return EXIT_FAIL;
	}
	snprintf(p, sizeof(p), "%.4000s/.ecryptfs", m->home);
	if (!lstat(p, &st) || !lstat(m->enc, &st)) {
		cli_msg("migrate-home: %s: already encrypted (%s or %s exists)", user, p, m->enc);
		return EXIT_FAIL;
	}
	pid = user_process(m->pw.pw_uid);
	if (pid) {
		cli_msg("migrate-home: %s is logged in (process %d runs as %s); log them out "
			"first", user, (int)pid, user);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

/* Step 2: rename the home aside, never over something. */
static int move_aside(struct migration *m)
{
	static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	uint8_t rnd[8];

	for (int tries = 0; tries < 10; tries++) {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return -EIO;
		snprintf(m->backup, sizeof(m->backup), "%s.", m->home);
		for (int i = 0; i < 8; i++)
			m->backup[strlen(m->home) + 1 + i] = set[rnd[i] % (sizeof(set) - 1)];
		m->backup[strlen(m->home) + 9] = '\0';
		if (!renameat2(AT_FDCWD, m->home, AT_FDCWD, m->backup, RENAME_NOREPLACE)) {
			m->moved = true;
			return 0;
		}
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

static int make_dir(const char *path, mode_t mode, const struct passwd *owner)
{
	if (mkdir(path, mode))
		return -errno;
	if (owner && chown(path, owner->pw_uid, owner->pw_gid))
		return -errno;
	return 0;
}

/* Step 3. */
static int set_up(struct migration *m, const char *mount_pass, const char *login)
{
	char fd_a[32], fd_b[32], p[PATH_MAX + 32], q[PATH_MAX + 32], line[PATH_MAX + 1];
	const char *argv[10];
	struct ob_err err = {0};
	int a, b, rc;

	if (make_dir(m->home, 0700, &m->pw))
		return -errno;
	m->made_home = true;
	if (mkdir(ENC_TOP, 0755) == 0)
		m->made_enc_top = true;
	else if (errno != EEXIST)
		return -errno;
	if (make_dir(m->enc, 0700, &m->pw))
		return -errno;
	a = pipe_with(mount_pass, &m->pw);
	b = pipe_with(login, &m->pw);
	if (a < 0 || b < 0)
		return -EIO;
	snprintf(fd_a, sizeof(fd_a), "/dev/fd/%d", a);
	snprintf(fd_b, sizeof(fd_b), "/dev/fd/%d", b);
	argv[0] = m->self;
	argv[1] = "setup-private";
	argv[2] = "--home";
	argv[3] = m->enc;
	argv[4] = "--passphrase-file";
	argv[5] = fd_a;
	argv[6] = "--login-password-file";
	argv[7] = fd_b;
	argv[8] = NULL;
	rc = run_as_user(m, argv);
	close(a);
	close(b);
	if (rc)
		return -EIO;
	snprintf(p, sizeof(p), "%s/Private", m->enc);
	rmdir(p);			/* setup-private's mount point: not ours */
	snprintf(p, sizeof(p), "%s/.ecryptfs/Private.mnt", m->enc);
	snprintf(line, sizeof(line), "%s\n", m->home);
	if (lc_write_atomic(p, line, strlen(line), 0600, &err) ||
	    chown(p, m->pw.pw_uid, m->pw.pw_gid))
		return -EIO;
	for (int i = 0; i < 2; i++) {
		const char *name = i ? ".Private" : ".ecryptfs";

		snprintf(p, sizeof(p), "%s/%s", m->enc, name);
		snprintf(q, sizeof(q), "%s/%s", m->home, name);
		if (symlink(p, q) || lchown(q, m->pw.pw_uid, m->pw.pw_gid))
			return -errno;
	}
	return 0;
}

/* Step 4. */
static int copy_in(struct migration *m, const char *mount_pass)
{
	char fd_a[32], lower[PATH_MAX + 16], from[PATH_MAX + 32];
	const char *argv[10];
	int a, rc;

	a = pipe_with(mount_pass, &m->pw);
	if (a < 0)
		return -EIO;
	snprintf(fd_a, sizeof(fd_a), "/dev/fd/%d", a);
	snprintf(lower, sizeof(lower), "%s/.Private", m->enc);
	argv[0] = m->self;
	argv[1] = "mount";
	argv[2] = "--passphrase-file";
	argv[3] = fd_a;
	argv[4] = "--fnek";
	argv[5] = lower;
	argv[6] = m->home;
	argv[7] = NULL;
	rc = run_as_user(m, argv);
	close(a);
	if (rc)
		return -EIO;
	m->mounted = true;
	snprintf(from, sizeof(from), "%s/.", m->backup);
	argv[0] = "/bin/cp";
	argv[1] = "-a";
	argv[2] = "--";
	argv[3] = from;
	argv[4] = m->home;
	argv[5] = NULL;
	if (run_as_user(m, argv))
		return -EIO;
	argv[0] = "/usr/bin/fusermount3";
	argv[1] = "-u";
	argv[2] = m->home;
	argv[3] = NULL;
	if (run_as_user(m, argv))
		return -EBUSY;
	m->mounted = false;
	return 0;
}

/* rm -rf --one-file-system DIR, as root: only directories this run made
 * (and the user's own FUSE mount, if it is still there, is closed to root). */
static void remove_tree(const char *dir)
{
	const char *argv[] = { "/bin/rm", "-rf", "--one-file-system", "--", dir, NULL };
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
}

/* Undo what was done, newest first; the backup goes back in place. */
static void undo(struct migration *m)
{
	const char *argv[6] = { "/usr/bin/fusermount3", "-u", "-z", m->home, NULL };

	if (m->mounted)
		run_as_user(m, argv);
	if (m->made_home) {
		remove_tree(m->enc);
		remove_tree(m->home);
	}
	if (m->made_enc_top)
		rmdir(ENC_TOP);
	if (m->moved && rename(m->backup, m->home))
		cli_msg("migrate-home: could not move %s back to %s: %s", m->backup, m->home,
			strerror(errno));
}

static int make_mount_pass(char *mp)
{
	uint8_t rnd[16];

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -EIO;
	for (int i = 0; i < 16; i++)
		snprintf(mp + 2 * i, 3, "%02x", rnd[i]);
	ob_wipe(rnd, sizeof(rnd));
	return 0;
}

int cmd_migrate_home(int argc, char **argv)
{
	struct secret_source login_src = {0};
	struct secret login = {0};
	struct ob_err err = {0};
	struct migration *m;
	char *mp;
	int first, status, rc;

	first = ob_opt_parse(&mh_cmd, argc, argv, mh_option, &login_src, &status);
	if (first < 0)
		return status;
	m = calloc(1, sizeof(*m));
	mp = ob_secure_alloc(ECFS_MAX_PASSPHRASE + 1);
	if (!m || !mp) {
		cli_msg("migrate-home: out of memory");
		free(m);
		ob_secure_free(mp);
		return EXIT_FAIL;
	}
	rc = check(m, argv[first]);
	if (rc)
		goto out;
	rc = secret_read(&login_src, "Login password of the user: ", &login, &err);
	if (rc || make_mount_pass(mp)) {
		cli_error(argv[first], &err);
		rc = EXIT_FAIL;
		goto out;
	}
	rc = move_aside(m);
	if (!rc)
		rc = set_up(m, mp, login.buf);
	if (!rc)
		rc = copy_in(m, mp);
	if (rc) {
		cli_msg("migrate-home: %s: migration failed (%s); undoing it", m->pw.pw_name,
			strerror(-rc));
		undo(m);
		rc = EXIT_FAIL;
		goto out;
	}
	printf("Encrypted home of %s set up in %s; the old home is kept as %s.\n"
	       "%s must log in now (pam_ecfs mounts the home) and check the files;\n"
	       "then remove %s.  Record the mount passphrase: 'ecfs unwrap-passphrase "
	       "%s/.ecryptfs/wrapped-passphrase'.\n", m->pw.pw_name, m->enc, m->backup,
	       m->pw.pw_name, m->backup, m->enc);
	rc = EXIT_OK;
out:
	secret_free(&login);
	ob_secure_free(mp);
	free(m);
	return rc;
}
