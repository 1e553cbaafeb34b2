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

int cmd_mount_private(int argc, char **argv)
{
	enum { O_LOGIN = 1, O_LOGIN_EXT, O_MNT, O_HOME, O_RO };
	static const struct option opts[] = {
		{ "login-password-file", required_argument, NULL, O_LOGIN },
		{ "login-extpass", required_argument, NULL, O_LOGIN_EXT },
		{ "passphrase-file", required_argument, NULL, KEY_OPT_BASE },
		{ "mountpoint", required_argument, NULL, O_MNT },
		{ "home", required_argument, NULL, O_HOME },
		{ "ro", no_argument, NULL, O_RO },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct secret_source login = {0};
	struct key_opts ko = {0};
	struct lc_private p;
	struct ob_err err = {0};
	uint8_t sigs[2][ECFS_SIG_BYTES];
	char buf[256], hex[2][ECFS_SIG_HEX], opts_s[256], *pass = NULL;
	const char *home = NULL, *mnt = NULL, *args[12];
	bool ro = false, in_keyring = true;
	size_t len;
	int c, rc, nsig, n = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_LOGIN: login.file = optarg; break;
		case O_LOGIN_EXT: login.extpass = optarg; break;
		case O_MNT: mnt = optarg; break;
		case O_HOME: home = optarg; break;
		case O_RO: ro = true; break;
		case KEY_OPT_BASE: ko.src.file = optarg; break;
		case 'h':
			fputs(mp_help, stdout);
			return EXIT_OK;
		default:
			cli_msg("mount-private: bad command line (see 'ecfs mount-private --help')");
			return EXIT_USAGE;
		}
	}
	if (argc - optind > 1) {
		cli_msg("mount-private: expected at most one ALIAS");
		return EXIT_USAGE;
	}
	if (lc_private_paths(home, optind < argc ? argv[optind] : NULL, &p, &err)) {
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
	if (in_keyring && !ko.src.file && !login.file && !login.extpass) {
		for (int i = 0; i < nsig; i++) {
			args[n++] = "--key-sig";
			args[n++] = hex[i];
		}
	} else {
		pass = ob_secure_alloc(ECFS_MAX_PASSPHRASE + 1);
		if (!pass) {
			cli_msg("out of locked memory");
			return EXIT_FAIL;
		}
		if (ko.src.file) {
			struct secret s;

			rc = secret_read(&ko.src, "", &s, &err);
			if (!rc) {
				snprintf(pass, ECFS_MAX_PASSPHRASE + 1, "%s", s.buf);
				secret_free(&s);
			}
		} else {
			rc = lc_unwrap_file(p.wrapped, &login, &ko, "Login password: ", pass, &err);
		}
		if (rc) {
			cli_error(ko.src.file ? ko.src.file : p.wrapped, &err);
			ob_secure_free(pass);
			return EXIT_FAIL;
		}
	}
	args[n++] = "-o";
	args[n++] = opts_s;
	args[n] = NULL;
	if (!mnt)
		mnt = p.mnt;
	rc = lc_spawn_mount(p.lower, mnt, pass, NULL, args);
	ob_secure_free(pass);
	if (rc == EXIT_OK)
		printf("Mounted %s at %s\n", p.lower, mnt);
	return rc;
}
