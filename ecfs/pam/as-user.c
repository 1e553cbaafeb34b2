/* SPDX-License-Identifier: MIT */
/* as-user.c - the work pam_ecfs does for a user, done by a child process
 * that has become that user (uid, gid and supplementary groups).
 *
 * Why a child: the PAM application is usually root, and the files under
 * ~/.ecryptfs are the user's to change; reading and replacing them as root
 * would let a planted symlink steer a root write.  The FUSE daemon must
 * also run as the user (it is then the user's own mount, through
 * fusermount3, like any "ecfs mount" the user runs).  The child reports
 * back through its exit status (enum pe_result) and one line on stderr,
 * which is a pipe to the parent; the parent logs that line.  The mount
 * passphrase reaches "ecfs mount" on a pipe (--passphrase-file /dev/fd/N),
 * never on the command line or in the environment.
 */
#include "pam-ecfs.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ecfs.h"
#include "ob/secmem.h"

typedef int (*child_fn)(const struct pe_user *u, void *arg);

/* The child's one line for the parent's log. */
__attribute__((format(printf, 1, 2)))
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdprintf(STDERR_FILENO, fmt, ap);
	va_end(ap);
	dprintf(STDERR_FILENO, "\n");
}

static int become_user(const struct pe_user *u)
{
	if (geteuid() == 0) {
		if (setgroups((size_t)u->ngroups, u->groups) ||
		    setresgid(u->gid, u->gid, u->gid) ||
		    setresuid(u->uid, u->uid, u->uid))
			return -errno;
	} else if (setresuid(u->uid, u->uid, u->uid)) {
		return -errno;
	}
	if (getuid() != u->uid || geteuid() != u->uid)
		return -EPERM;
	return 0;
}

/* The child's fds: stdin and stdout /dev/null, stderr the report pipe,
 * none of the application's other descriptors; default signal handling. */
static void child_setup(int report_fd)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	sigset_t none;

	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
	}
	dup2(report_fd, STDERR_FILENO);
	close_range(3, ~0U, 0);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* First line the child wrote, without its newline. */
static void read_report(int fd, char *msg, size_t len)
{
	ssize_t n;

	msg[0] = '\0';
	fcntl(fd, F_SETFL, O_NONBLOCK);
	n = read(fd, msg, len - 1);
	if (n > 0) {
		msg[n] = '\0';
		msg[strcspn(msg, "\n")] = '\0';
	}
}

static int run_as_user(const struct pe_user *u, child_fn fn, void *arg,
		       char *msg, size_t len)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL }, old;
	int p[2], st, rc;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC)) {
		snprintf(msg, len, "pipe: %s", strerror(errno));
		return PE_FAILED;
	}
	/* Applications that ignore SIGCHLD would make waitpid() fail. */
	sigemptyset(&dfl.sa_mask);
	sigaction(SIGCHLD, &dfl, &old);
	pid = fork();
	if (pid == 0) {
		child_setup(p[1]);
		rc = become_user(u);
		if (rc) {
			say("cannot become %s (uid %u): %s", u->name, (unsigned)u->uid,
			    strerror(-rc));
			_exit(PE_FAILED);
		}
		_exit(fn(u, arg));
	}
	close(p[1]);
	rc = PE_FAILED;
	if (pid < 0) {
		snprintf(msg, len, "fork: %s", strerror(errno));
	} else {
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		read_report(p[0], msg, len);
		if (WIFEXITED(st))
			rc = WEXITSTATUS(st);
		else if (!msg[0])
			snprintf(msg, len, "helper killed by signal %d", WTERMSIG(st));
	}
	close(p[0]);
	sigaction(SIGCHLD, &old, NULL);
	return rc;
}

/* Run argv (absolute program) and wait; its stderr is ours (the report). */
static int spawn_wait(const char *const *argv)
{
	static char *const env[] = {
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		NULL,
	};
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execve(argv[0], (char *const *)argv, env);
		say("cannot run %s: %s", argv[0], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* fuse3's unmount helper (Debian: /usr/bin; merged-/usr or not). */
static const char *fusermount(void)
{
	return access("/usr/bin/fusermount3", X_OK) ? "/bin/fusermount3" : "/usr/bin/fusermount3";
}

/* ------------------------------------------------------------------ mount */

struct mount_arg {
	const struct pe_opts *o;
	const char *login;
	size_t login_len;
};

/* Unwrap the mount passphrase into pass and check it against Private.sig;
 * sig_hex gets the key signatures for the mount options. */
static int unwrap_checked(const struct pe_layout *l, const struct mount_arg *a,
			  char *pass, char sig_hex[2][ECFS_SIG_HEX], int *nsig)
{
	uint8_t sigs[2][ECFS_SIG_BYTES], salt[ECFS_SALT_BYTES];
	struct ecfs_key *k;
	struct ob_err err = {0};
	char buf[256], got[ECFS_SIG_HEX];
	const uint8_t *salts[2] = { ecfs_default_salt, ecfs_fnek_salt };
	size_t n = 0;
	FILE *f;
	int rc;

	f = fopen(l->sigfile, "re");
	if (f) {
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
	}
	if (!f || (*nsig = ecfs_private_sig_parse(buf, n, sigs, &err)) < 0) {
		say("%s: %s", l->sigfile, f ? err.msg : strerror(errno));
		return -EINVAL;
	}
	rc = ecfs_rc_salt(l->rc, salt, &err);
	if (rc >= 0)
		rc = ecfs_wrapped_unwrap_file(l->wrapped, a->login, a->login_len, salt,
					      pass, &err);
	if (rc == -EKEYREJECTED) {
		say("%s: the login password does not open it (wrapped with another "
		    "password?); %s not mounted", l->wrapped, l->mnt);
		return rc;
	}
	if (rc < 0) {
		say("%s: %s; %s not mounted", l->wrapped, err.msg, l->mnt);
		return rc;
	}
	k = ob_secure_alloc(sizeof(*k));
	if (!k) {
		say("no locked memory for the key");
		return -ENOMEM;
	}
	for (int i = 0; i < *nsig && !rc; i++) {
		ecfs_sig_to_hex(sigs[i], sig_hex[i]);
		rc = ecfs_key_derive(k, pass, strlen(pass), salts[i], &err);
		if (rc < 0) {
			say("%s: unwrapped passphrase unusable: %s", l->wrapped, err.msg);
			break;
		}
		ecfs_sig_to_hex(k->sig, got);
		if (strcmp(got, sig_hex[i])) {
			say("%s gives key sig %s, %s wants %s; %s not mounted", l->wrapped,
			    got, l->sigfile, sig_hex[i], l->mnt);
			rc = -EKEYREJECTED;
		}
	}
	ob_secure_free(k);
	return rc;
}

static int exec_mount(const struct pe_layout *l, const struct mount_arg *a,
		      const char *pass, char sig_hex[2][ECFS_SIG_HEX], int nsig)
{
	char opts[256], fdarg[32];
	const char *argv[12];
	size_t len = strlen(pass);
	int p[2], rc, n = 0;

	if (pipe(p)) {
		say("pipe: %s", strerror(errno));
		return PE_FAILED;
	}
	/* 64 bytes at most: far below a pipe's capacity, so this never blocks. */
	if (write(p[1], pass, len) != (ssize_t)len) {
		say("pipe: %s", strerror(errno));
		return PE_FAILED;
	}
	close(p[1]);
	snprintf(fdarg, sizeof(fdarg), "/dev/fd/%d", p[0]);
	/* What mount.ecryptfs_private gives the kernel. */
	snprintf(opts, sizeof(opts), "rw,ecryptfs_sig=%s,ecryptfs_cipher=aes,"
		 "ecryptfs_key_bytes=16%s%s", sig_hex[0],
		 nsig == 2 ? ",ecryptfs_fnek_sig=" : "", nsig == 2 ? sig_hex[1] : "");
	argv[n++] = a->o->ecfs;
	argv[n++] = "mount";
	argv[n++] = "--passphrase-file";
	argv[n++] = fdarg;
	argv[n++] = "-o";
	argv[n++] = opts;
	argv[n++] = l->lower;
	argv[n++] = l->mnt;
	argv[n] = NULL;
	rc = spawn_wait(argv);
	close(p[0]);
	if (rc) {
		say("%s exited with status %d; %s not mounted", a->o->ecfs, rc, l->mnt);
		return PE_FAILED;
	}
	return PE_MOUNTED;
}

/* A mount whose daemon has died answers ENOTCONN (ECONNABORTED right
 * after the kill; ECANCELED when it took requests over FUSE io_uring):
 * take it away, so that this login mounts afresh instead of keeping a
 * dead directory. */
static bool clear_dead_mount(const char *mnt)
{
	const char *argv[] = { NULL, "-u", "-z", mnt, NULL };
	struct stat st;

	if (stat(mnt, &st) == 0 || (errno != ENOTCONN && errno != ECONNABORTED && errno != ECANCELED))
		return false;
	argv[0] = fusermount();
	return spawn_wait(argv) == 0;
}

static int child_mount(const struct pe_user *u, void *arg)
{
	const struct mount_arg *a = arg;
	char sig_hex[2][ECFS_SIG_HEX], m[PE_MSG], *pass;
	struct pe_layout l;
	int nsig = 0, rc;

	if (pe_layout_find(u, &l, m, sizeof(m))) {
		say("%s", m);
		return PE_NOT_WANTED;
	}
	if (!l.auto_mount && !l.home_encrypted)
		return PE_NOT_WANTED;
	if (pe_is_mounted(l.mnt) && !clear_dead_mount(l.mnt))
		return PE_ALREADY;
	if (!a->login) {
		say("no login password (key-based login, or su/sudo without this "
		    "user's password); %s not mounted", l.mnt);
		return PE_FAILED;
	}
	if (!l.lower[0]) {
		say("no lower directory (.Private) for %s; not mounted", l.mnt);
		return PE_FAILED;
	}
	pass = ob_secure_alloc(ECFS_MAX_PASSPHRASE + 1);
	if (!pass) {
		say("no locked memory for the passphrase");
		return PE_FAILED;
	}
	rc = unwrap_checked(&l, a, pass, sig_hex, &nsig);
	rc = rc ? PE_FAILED : exec_mount(&l, a, pass, sig_hex, nsig);
	ob_secure_free(pass);
	if (rc == PE_MOUNTED)
		say("mounted %s at %s", l.lower, l.mnt);
	return rc;
}

int pe_mount_as_user(const struct pe_user *u, const struct pe_opts *o,
		     const char *login, size_t login_len, char *msg, size_t len)
{
	struct mount_arg a = { o, login, login_len };

	return run_as_user(u, child_mount, &a, msg, len);
}

/* ---------------------------------------------------------------- unmount */

static int child_umount(const struct pe_user *u, void *arg)
{
	const char *argv[5] = { fusermount(), "-u", "-z", NULL, NULL };
	struct pe_layout l;
	char m[PE_MSG];
	int rc;

	if (pe_layout_find(u, &l, m, sizeof(m)) || !l.auto_umount || !pe_is_mounted(l.mnt))
		return PE_NOT_WANTED;
	/* Lazy, as umount.ecryptfs_private: a program still inside keeps its
	 * files until it lets go; the daemon exits then. */
	argv[3] = l.mnt;
	rc = spawn_wait(argv);
	if (rc) {
		say("fusermount3 -u %s exited with status %d", l.mnt, rc);
		return PE_FAILED;
	}
	say("unmounted %s", l.mnt);
	return PE_UNMOUNTED;
}

int pe_umount_as_user(const struct pe_user *u, char *msg, size_t len)
{
	return run_as_user(u, child_umount, NULL, msg, len);
}

/* ----------------------------------------------------------------- rewrap */

struct rewrap_arg {
	const char *old_pw, *new_pw;
	size_t old_len, new_len;
};

static int child_rewrap(const struct pe_user *u, void *arg)
{
	const struct rewrap_arg *a = arg;
	uint8_t salt[ECFS_SALT_BYTES];
	struct ob_err err = {0};
	struct pe_layout l;
	char m[PE_MSG];
	int rc;

	if (pe_layout_find(u, &l, m, sizeof(m)) || access(l.wrapped, F_OK))
		return PE_NOT_WANTED;
	rc = ecfs_rc_salt(l.rc, salt, &err);
	if (rc >= 0)
		rc = ecfs_wrapped_rewrap_file(l.wrapped, a->old_pw, a->old_len, a->new_pw,
					      a->new_len, salt, &err);
	if (rc == -EKEYREJECTED) {
		say("%s: the old password does not open it; not rewrapped (run "
		    "'ecfs rewrap-passphrase' with the password that does)", l.wrapped);
		return PE_FAILED;
	}
	if (rc < 0) {
		say("%s: %s; not rewrapped", l.wrapped, err.msg);
		return PE_FAILED;
	}
	say("rewrapped %s with the new login password", l.wrapped);
	return PE_REWRAPPED;
}

int pe_rewrap_as_user(const struct pe_user *u, const char *old_pw, size_t old_len,
		      const char *new_pw, size_t new_len, char *msg, size_t len)
{
	struct rewrap_arg a = { old_pw, new_pw, old_len, new_len };

	return run_as_user(u, child_rewrap, &a, msg, len);
}
