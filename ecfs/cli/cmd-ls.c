// SPDX-License-Identifier: MIT
/* cmd-ls.c - "ecfs ls LOWERDIR": plaintext names beside encrypted ones.
 *
 * One line per entry: type, plaintext size (from the header, no key needed
 * for it), plaintext name, lower name; tab-separated so scripts can cut.
 * Names that do not decrypt are shown with the reason instead of a name.
 */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char type_char(mode_t m)
{
	return S_ISDIR(m) ? 'd' : S_ISLNK(m) ? 'l' : S_ISREG(m) ? 'f' : '?';
}

static void ls_dir(const struct ecfs_keychain *ck, const char *dir, const char *prefix,
		   bool recursive, unsigned *failures)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, NULL, alphasort);

	if (n < 0) {
		struct ob_err err = {0};

		ob_err_set(&err, -errno, "reading the directory");
		cli_error(dir, &err);
		(*failures)++;
		return;
	}
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		char path[PATH_MAX], plain[ECFS_LOWER_NAME_MAX], size[32] = "-";
		struct ob_err err = {0};
		struct stat st;
		bool ok = true;

		if (!strcmp(name, ".") || !strcmp(name, ".."))
			goto next;
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		if (lstat(path, &st))
			goto next;
		if (!strncmp(name, ECFS_FNEK_PREFIX, strlen(ECFS_FNEK_PREFIX))) {
			if (ecfs_name_decrypt(ck->fneks, ck->nfneks, name, plain,
					      sizeof(plain), &err) < 0) {
				snprintf(plain, sizeof(plain), "?(%s)", err.msg);
				ok = false;
				(*failures)++;
			}
		} else {
			snprintf(plain, sizeof(plain), "%s", name);
		}
		if (S_ISREG(st.st_mode)) {
			int fd = open(path, O_RDONLY | O_CLOEXEC);
			struct ecfs_header h;

			if (fd >= 0 && !ecfs_metadata_read(fd, ECFS_OPEN_XATTR_OK, &h, NULL))
				snprintf(size, sizeof(size), "%llu", (unsigned long long)h.size);
			else
				snprintf(size, sizeof(size), "?");
			if (fd >= 0)
				close(fd);
		}
		printf("%c\t%s\t%s%s\t%s%s\n", type_char(st.st_mode), size, prefix, plain,
		       prefix, name);
		if (recursive && ok && S_ISDIR(st.st_mode)) {
			char sub[PATH_MAX + ECFS_LOWER_NAME_MAX + 2];

			snprintf(sub, sizeof(sub), "%s%s/", prefix, plain);
			ls_dir(ck, path, sub, recursive, failures);
		}
next:
		free(ents[i]);
	}
	free(ents);
}

static const struct ob_opt ls_opts[] = {
	{ "recursive", 'R', 'R', NULL, NULL, 0 },
	{ OB_OPT_END },
};

int cmd_ls(int argc, char **argv)
{
	struct key_opts ko = {0};
	struct ob_err err = {0};
	struct ecfs_keychain ck;
	bool recursive = false;
	struct cipher_opts co = {0};
	struct cipher_choice cc;
	const struct cli_cmd cmd = {
		.prog = "ecfs ls",
		.help = "usage: ecfs ls [-R] [CIPHER OPTIONS] [KEY OPTIONS] LOWERDIR\n\n"
			"List a lower directory: type, plaintext size, plaintext name and lower\n"
			"name, tab-separated.  -R descends into directories.\n",
		.own = ls_opts, .ko = &ko, .co = &co, .fn = cli_opt_flag, .ctx = &recursive,
	};
	unsigned failures = 0;
	int first, status;

	first = cli_parse(&cmd, argc, argv, &status);
	if (first < 0)
		return status;
	if (first != argc - 1) {
		cli_msg("ls: expected one lower directory (see 'ecfs ls --help')");
		return EXIT_USAGE;
	}
	if (cipher_opts_resolve(&co, &cc))
		return EXIT_USAGE;
	if (cli_keys_load(&ko, cc.fn_cipher, cc.fn_key_bytes, &ck, &err)) {
		cli_error(NULL, &err);
		return EXIT_FAIL;
	}
	ls_dir(&ck, argv[first], "", recursive, &failures);
	ecfs_keychain_free(&ck);
	return failures ? EXIT_FAIL : EXIT_OK;
}
