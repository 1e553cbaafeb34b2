// SPDX-License-Identifier: MIT
/* cmd-mount-private.c - "ecfs mount-private", as ecryptfs-mount-private:
 * mount ~/.Private at the path in ~/.ecryptfs/Private.mnt with the keys
 * named in ~/.ecryptfs/Private.sig.  Keys already in the kernel keyring
 * (pam_ecryptfs, ecfs add-passphrase) are used as they are; otherwise the
 * login password unwraps ~/.ecryptfs/wrapped-passphrase.  Options as
 * mount.ecryptfs_private gives the kernel: aes, 16-byte keys, read-write.
 */
#include "cli.h"
#include "legacy-cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ob/secmem.h"

static const char mp_help[] =
	"usage: ecfs mount-private [OPTIONS] [ALIAS]\n\n"
	"Mount ~/.ALIAS (default ~/.Private) at the path in ~/.ecryptfs/ALIAS.mnt (default\n"
	"~/Private) with the keys of ~/.ecryptfs/ALIAS.sig, as ecryptfs-mount-private does.\n"
	"Keys already in the kernel keyring are used without asking; otherwise your login\n"
	"password unwraps ~/.ecryptfs/wrapped-passphrase.\n\n"
	"  --login-password-file F  the login password ('-' = stdin)\n"
	"  --login-extpass CMD      ... from the output of CMD (default: ask)\n"
	"  --passphrase-file F      the mount passphrase itself (no unwrapping)\n"
	"  --mountpoint DIR         mount there instead of the Private.mnt path\n"
	"  --home DIR               use DIR instead of $HOME\n"
	"  --ro                     read-only\n"
	"  -h, --help               this help\n";

enum { O_LOGIN = 1, O_LOGIN_EXT, O_MNT, O_HOME, O_RO };

static const struct ob_opt mp_opts[] = {
	{ "login-password-file", 0, O_LOGIN, "F", NULL, OB_OPT_EXACT },
	{ "login-extpass", 0, O_LOGIN_EXT, "CMD", NULL, OB_OPT_EXACT },
	{ "passphrase-file", 0, KO_PASSFILE, "F", NULL, OB_OPT_EXACT },
	{ "mountpoint", 0, O_MNT, "DIR", NULL, 0 },
	{ "home", 0, O_HOME, "DIR", NULL, 0 },
	{ "ro", 0, O_RO, NULL, NULL, 0 },
	{ OB_OPT_END },
};

struct mp_args {
	struct secret_source login;
	struct key_opts ko;
	const char *home, *mnt;
	bool ro;
};

static int mp_opt(const struct ob_cmd *cmd, const struct ob_opt *opt, const char *arg,
		  void *ctx)
{
	struct mp_args *a = ctx;

	switch (opt->key) {
	case O_LOGIN: a->login.file = arg; break;
	case O_LOGIN_EXT: a->login.extpass = arg; break;
	case O_MNT: a->mnt = arg; break;
	case O_HOME: a->home = arg; break;
	case O_RO: a->ro = true; break;
	case KO_PASSFILE: a->ko.src.file = arg; break;
	}
	return 0;
}

/* The mount passphrase (given, or unwrapped with the login password) and
 * the key chain the mount gets, made here once. */
static int mp_keys(const struct key_opts *ko, const struct secret_source *login,
		   const struct lc_private *p, struct ecfs_keychain *kc)
{
	static const struct lc_ciphers aes16 = { .cipher = "aes", .key_bytes = 16 };
	char *pass = ob_secure_alloc(ECFS_MAX_PASSPHRASE + 1);
	struct ob_err err = {0};
	int rc;

	if (!pass) {
		cli_msg("out of locked memory");
		return EXIT_FAIL;
	}
	if (ko->src.file) {
		struct secret s;

		rc = secret_read(&ko->src, "", &s, &err);
		if (!rc) {
			snprintf(pass, ECFS_MAX_PASSPHRASE + 1, "%s", s.buf);
			secret_free(&s);
		}
	} else {
		rc = lc_unwrap_file(p->wrapped, login, ko, "Login password: ", pass, &err);
	}
	if (rc) {
		cli_error(ko->src.file ? ko->src.file : p->wrapped, &err);
	} else {
		rc = lc_keys_make(ko, pass, NULL, &aes16, kc, &err);
		if (rc)
			cli_error(NULL, &err);
	}
	ob_secure_free(pass);
	return rc ? EXIT_FAIL : EXIT_OK;
}

int cmd_mount_private(int argc, char **argv)
{
	struct mp_args ma = {0};
	const struct cli_cmd cmd = {
		.prog = "ecfs mount-private", .help = mp_help, .own = mp_opts,
		.fn = mp_opt, .ctx = &ma,
	};
	struct secret_source login;
	struct key_opts ko;
	struct lc_private p;
	struct ob_err err = {0};
	uint8_t sigs[2][ECFS_SIG_BYTES];
	struct ecfs_keychain kc = {0};
	char buf[256], hex[2][ECFS_SIG_HEX], opts_s[256];
	const char *home, *mnt, *args[12];
	bool ro, in_keyring = true, use_keyring;
	size_t len;
	int first, rc, nsig, n = 0;

	first = cli_parse(&cmd, argc, argv, &rc);
	if (first < 0)
		return rc;
	login = ma.login;
	ko = ma.ko;
	home = ma.home;
	mnt = ma.mnt;
	ro = ma.ro;
	if (argc - first > 1) {
		cli_msg("mount-private: expected at most one ALIAS");
		return EXIT_USAGE;
	}
	if (lc_private_paths(home, first < argc ? argv[first] : NULL, &p, &err)) {
		cli_error(NULL, &err);
		return EXIT_FAIL;
	}
	if (lc_read_small(p.sigfile, (uint8_t *)buf, sizeof(buf), &len, &err) ||
	    (nsig = ecfs_private_sig_parse(buf, len, sigs, &err)) < 0) {
		cli_error(p.sigfile, &err);
		cli_msg("set it up with 'ecfs setup-private', or open a moved home with "
			"'ecfs recover'");
		return EXIT_FAIL;
	}
	for (int i = 0; i < nsig; i++) {
		ecfs_sig_to_hex(sigs[i], hex[i]);
		in_keyring = in_keyring && keyring_find(hex[i]) >= 0;
	}
	snprintf(opts_s, sizeof(opts_s), "%s,ecryptfs_sig=%s,ecryptfs_cipher=aes,"
		 "ecryptfs_key_bytes=16%s%s", ro ? "ro" : "rw", hex[0],
		 nsig == 2 ? ",ecryptfs_fnek_sig=" : "", nsig == 2 ? hex[1] : "");
	use_keyring = in_keyring && !ko.src.file && !login.file && !login.extpass;
	if (use_keyring) {
		for (int i = 0; i < nsig; i++) {
			args[n++] = "--key-sig";
			args[n++] = hex[i];
		}
	} else {
		rc = mp_keys(&ko, &login, &p, &kc);
		if (rc)
			return rc;
	}
	args[n++] = "-o";
	args[n++] = opts_s;
	args[n] = NULL;
	if (!mnt)
		mnt = p.mnt;
	rc = lc_spawn_mount(p.lower, mnt, use_keyring ? NULL : &kc, args);
	ecfs_keychain_free(&kc);
	if (rc == EXIT_OK)
		printf("Mounted %s at %s\n", p.lower, mnt);
	return rc;
}
