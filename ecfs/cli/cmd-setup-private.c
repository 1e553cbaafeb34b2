// SPDX-License-Identifier: MIT
/* cmd-setup-private.c - "ecfs setup-private", as ecryptfs-setup-private:
 * an encrypted ~/Private backed by ~/.Private, with the same files in
 * ~/.ecryptfs (spec §10.1), so that ecryptfs-utils, pam_ecryptfs and the
 * kernel can use a directory set up here, and ecfs one set up there:
 *
 *   wrapped-passphrase  the mount passphrase (16 random bytes as 32 hex
 *                       digits) wrapped with the login password, version 2
 *   Private.sig         content-key sig, then the filename-key sig (the
 *                       ASCII "99887766" salt), one per line
 *   Private.mnt         the mount point
 *   auto-mount, auto-umount   empty flags read by pam_ecryptfs
 */
#include "cli.h"
#include "legacy-cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ob/secmem.h"

static const char setup_help[] =
	"usage: ecfs setup-private [OPTIONS]\n\n"
	"Set up an encrypted ~/Private (lower directory ~/.Private) exactly as\n"
	"ecryptfs-setup-private does: AES-128, encrypted names, a random mount\n"
	"passphrase wrapped with your login password in ~/.ecryptfs/wrapped-passphrase.\n"
	"Then 'ecfs mount-private' mounts it (so does ecryptfs-mount-private).\n\n"
	"  --login-password-file F  the login password that wraps the mount passphrase\n"
	"  --login-extpass CMD      ... from the output of CMD (default: ask twice)\n"
	"  --passphrase-file F      use this mount passphrase instead of a random one\n"
	"  --no-fnek                do not encrypt file names\n"
	"  --noautomount           do not create ~/.ecryptfs/auto-mount\n"
	"  --noautoumount          do not create ~/.ecryptfs/auto-umount\n"
	"  --home DIR               set up in DIR instead of $HOME\n"
	"  -h, --help               this help\n\n"
	"Record the mount passphrase afterwards ('ecfs unwrap-passphrase'): without it\n"
	"or the wrapped file, the data cannot be recovered.\n";

static int mkdir_private(const char *p, struct ob_err *err)
{
	if (mkdir(p, 0700) && errno != EEXIST)
		return ob_err_set(err, -errno, "cannot create %s", p);
	return 0;
}

static int touch(const char *dir, const char *name, struct ob_err *err)
{
	char p[PATH_MAX];
	int fd;

	snprintf(p, sizeof(p), "%.3000s/%s", dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return ob_err_set(err, -errno, "cannot create %s", p);
	close(fd);
	return 0;
}

enum { O_LOGIN = 1, O_LOGIN_EXT, O_NOFNEK, O_NOAM, O_NOAU, O_HOME };

static const struct ob_opt setup_opts[] = {
	{ "login-password-file", 0, O_LOGIN, "F", NULL, OB_OPT_EXACT },
	{ "login-extpass", 0, O_LOGIN_EXT, "CMD", NULL, OB_OPT_EXACT },
	{ "passphrase-file", 0, KO_PASSFILE, "F", NULL, OB_OPT_EXACT },
	{ "no-fnek", 0, O_NOFNEK, NULL, NULL, 0 },
	{ "noautomount", 0, O_NOAM, NULL, NULL, 0 },
	{ "noautoumount", 0, O_NOAU, NULL, NULL, 0 },
	{ "home", 0, O_HOME, "DIR", NULL, 0 },
	{ OB_OPT_END },
};

struct setup_args {
	struct secret_source login_src;
	struct key_opts ko;
	bool fnek, am, au;
	const char *home;
};

static int setup_opt(const struct ob_cmd *cmd, const struct ob_opt *opt, const char *arg,
		     void *ctx)
{
	struct setup_args *a = ctx;

	switch (opt->key) {
	case O_LOGIN: a->login_src.file = arg; break;
	case O_LOGIN_EXT: a->login_src.extpass = arg; break;
	case O_NOFNEK: a->fnek = false; break;
	case O_NOAM: a->am = false; break;
	case O_NOAU: a->au = false; break;
	case O_HOME: a->home = arg; break;
	case KO_PASSFILE: a->ko.src.file = arg; break;
	}
	return 0;
}

int cmd_setup_private(int argc, char **argv)
{
	struct setup_args sa = { .fnek = true, .am = true, .au = true };
	const struct cli_cmd cmd = {
		.prog = "ecfs setup-private", .help = setup_help, .own = setup_opts,
		.fn = setup_opt, .ctx = &sa,
	};
	struct secret_source login_src;
	struct key_opts ko;
	struct lc_private p;
	struct ob_err err = {0};
	struct secret login = {0}, again = {0};
	struct ecfs_key *k = NULL;
	bool fnek, am, au;
	const char *home;
	char *mp = NULL, sigs[64], a[ECFS_SIG_HEX], b[ECFS_SIG_HEX];
	struct stat st;
	int first, rc;

	first = cli_parse(&cmd, argc, argv, &rc);
	if (first < 0)
		return rc;
	login_src = sa.login_src;
	ko = sa.ko;
	fnek = sa.fnek;
	am = sa.am;
	au = sa.au;
	home = sa.home;
	if (first != argc) {
		cli_msg("setup-private: unexpected '%s'", argv[first]);
		return EXIT_USAGE;
	}
	rc = lc_private_paths(home, NULL, &p, &err);
	if (rc) {
		cli_error(NULL, &err);
		return EXIT_FAIL;
	}
	if (!stat(p.wrapped, &st) || !stat(p.sigfile, &st)) {
		cli_msg("%s: already set up (wrapped-passphrase or Private.sig exists); "
			"mount it with 'ecfs mount-private', or move ~/.ecryptfs away first", p.conf);
		return EXIT_FAIL;
	}
	mp = ob_secure_alloc(ECFS_MAX_PASSPHRASE + 1);
	k = ob_secure_alloc(2 * sizeof(*k));
	if (!mp || !k) {
		rc = ob_err_set(&err, -ENOMEM, "allocating locked memory");
		goto out;
	}
	if (ko.src.file) {
		struct secret s;

		rc = secret_read(&ko.src, "", &s, &err);
		if (rc)
			goto out;
		if (s.len > ECFS_MAX_PASSPHRASE)
			rc = ob_err_set(&err, -EINVAL, "mount passphrase longer than %d bytes",
					ECFS_MAX_PASSPHRASE);
		else
			memcpy(mp, s.buf, s.len + 1);
		secret_free(&s);
		if (rc)
			goto out;
	} else {
		uint8_t rnd[16];

		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
			rc = ob_err_set(&err, -EIO, "getrandom failed");
			goto out;
		}
		for (int i = 0; i < 16; i++)
			snprintf(mp + 2 * i, 3, "%02x", rnd[i]);
		ob_wipe(rnd, sizeof(rnd));
	}
	rc = secret_read(&login_src, "Login password: ", &login, &err);
	if (!rc && !login_src.file && !login_src.extpass) {
		rc = secret_read(&login_src, "Login password again: ", &again, &err);
		if (!rc && (again.len != login.len || memcmp(again.buf, login.buf, login.len)))
			rc = ob_err_set(&err, -EINVAL, "the passwords differ; nothing was set up");
		secret_free(&again);
	}
	if (!rc)
		rc = ecfs_key_derive(&k[0], mp, strlen(mp), ecfs_default_salt, &err);
	if (!rc)
		rc = ecfs_key_derive(&k[1], mp, strlen(mp), ecfs_fnek_salt, &err);
	if (rc)
		goto out;
	rc = mkdir_private(p.conf, &err);
	if (!rc)
		rc = mkdir_private(p.lower, &err);
	if (!rc)
		rc = mkdir_private(p.mnt, &err);
	if (!rc)
		rc = lc_wrap_to_file(p.wrapped, mp, strlen(mp), login.buf, login.len, NULL, &err);
	if (rc)
		goto out;
	if (fnek)
		snprintf(sigs, sizeof(sigs), "%s\n%s\n", (ecfs_sig_to_hex(k[0].sig, a), a),
			 (ecfs_sig_to_hex(k[1].sig, b), b));
	else
		snprintf(sigs, sizeof(sigs), "%s\n", (ecfs_sig_to_hex(k[0].sig, a), a));
	rc = lc_write_atomic(p.sigfile, sigs, strlen(sigs), 0600, &err);
	if (!rc) {
		char mline[PATH_MAX + 1];

		snprintf(mline, sizeof(mline), "%s\n", p.mnt);
		rc = lc_write_atomic(p.mntfile, mline, strlen(mline), 0600, &err);
	}
	if (!rc && am)
		rc = touch(p.conf, "auto-mount", &err);
	if (!rc && au)
		rc = touch(p.conf, "auto-umount", &err);
	if (!rc) {
		printf("Encrypted private directory set up: %s (lower %s)\n", p.mnt, p.lower);
		printf("Keys: content %s%s%s\n", a, fnek ? ", filename " : "", fnek ? b : "");
		printf("Mount it with: ecfs mount-private\n");
		printf("Record your mount passphrase now ('ecfs unwrap-passphrase') and keep it "
		       "safe: without it or %s the data cannot be recovered.\n", p.wrapped);
	}
out:
	secret_free(&login);
	ob_secure_free(mp);
	ob_secure_free(k);
	if (rc) {
		cli_error(p.conf, &err);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}
