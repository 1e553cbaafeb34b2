// SPDX-License-Identifier: MIT
/* probe.c - the mount-time key check: a wrong passphrase fails the mount
 * with a clear message instead of EIO on every file later.
 *
 * The lower tree is walked breadth-first-ish (directory by directory, at
 * most PROBE_MAX entries, so a huge tree costs a bounded time) until one
 * eCryptfs file opens with the given keys and, when names are encrypted,
 * one name decrypts.  The checks:
 *   C1  some lower file has eCryptfs metadata, none unwraps with our keys
 *       -> "wrong passphrase? key sig X does not open any file ...; files
 *           want sig Y"
 *   C2  filename encryption is on, encrypted names exist, none decrypts
 *       -> "filename key sig X does not decrypt any name; names want sig Y"
 *       or, when they decrypt only with another key length (blowfish,
 *       cast6, twofish and aes take several; the packet does not say),
 *       -> "mount with ecryptfs_key_bytes=N"
 *   C3  filename encryption is off but names are encrypted: the mount
 *       would show them encrypted and mix plaintext names in -> refuse and
 *       say which option turns it on.
 * A lower tree without eCryptfs files (a new one) passes.
 */
#include "ecfs-fuse.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROBE_MAX	4096	/* entries looked at, at most */
#define PROBE_DEPTH	16
#define PROBE_SIGS	4

struct probe {
	struct ef_fs *fs;
	unsigned seen;
	unsigned files, files_ok;	/* eCryptfs files; those our keys open */
	unsigned names, names_ok;	/* encrypted names; those we decrypt */
	unsigned names_other_cipher;	/* our FNEK's sig, but they do not decrypt */
	unsigned names_other_size;	/* ... decrypt, with another key length */
	size_t other_size;		/* the first such length */
	uint8_t file_sigs[PROBE_SIGS][ECFS_SIG_BYTES];
	int nfile_sigs;
	uint8_t name_sigs[PROBE_SIGS][ECFS_SIG_BYTES];
	int nname_sigs;
};

static void sig_add(uint8_t sigs[][ECFS_SIG_BYTES], int *n, const uint8_t *sig)
{
	for (int i = 0; i < *n; i++)
		if (!memcmp(sigs[i], sig, ECFS_SIG_BYTES))
			return;
	if (*n < PROBE_SIGS)
		memcpy(sigs[(*n)++], sig, ECFS_SIG_BYTES);
}

static bool done(const struct probe *p)
{
	if (p->seen >= PROBE_MAX)
		return true;
	if (!p->fs->fnek)
		return p->names > 0;		/* C3 decided */
	return p->files_ok && p->names_ok;
}

static void probe_file(struct probe *p, int dfd, const char *name)
{
	struct ecfs_header *h = malloc(sizeof(*h));
	struct ecfs_fek *fek = NULL;
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0 || !h)
		goto out;
	if (ecfs_metadata_read(fd, ECFS_OPEN_XATTR_OK, h, NULL))
		goto out;
	p->files++;
	for (unsigned i = 0; i < h->npackets; i++)
		sig_add(p->file_sigs, &p->nfile_sigs, h->packets[i].sig);
	struct ecfs_keys keys = ecfs_keychain_keys(&p->fs->ck);

	if ((p->fs->ck.keys || p->fs->ck.npub) && !ecfs_fek_unwrap_any(h, &keys, &fek, NULL, NULL)) {
		p->files_ok++;
		ecfs_fek_free(fek);
	}
out:
	free(h);
	if (fd >= 0)
		close(fd);
}

static void probe_name(struct probe *p, const char *name)
{
	uint8_t sig[ECFS_SIG_BYTES];
	char plain[ECFS_LOWER_NAME_MAX];

	if (strncmp(name, ECFS_FNEK_PREFIX, strlen(ECFS_FNEK_PREFIX)) ||
	    ecfs_name_sig(name, sig))
		return;
	p->names++;
	sig_add(p->name_sigs, &p->nname_sigs, sig);
	/* Only names of the key we write with count: a tree whose names use
	 * another key would end up with names of two keys mixed. */
	if (p->fs->fnek && !memcmp(sig, ecfs_fnek_sig(p->fs->fnek), ECFS_SIG_BYTES)) {
		size_t kb = 0;

		if (ecfs_name_decrypt_sized(&p->fs->fnek, 1, name, plain, sizeof(plain),
					    &kb, NULL) < 0) {
			p->names_other_cipher++;
		} else if (kb == ecfs_fnek_key_bytes(p->fs->fnek)) {
			p->names_ok++;
		} else if (!p->names_other_size++) {
			p->other_size = kb;
		}
	}
}

static void probe_dir(struct probe *p, int dfd, int depth)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while (!done(p) && (e = readdir(d))) {
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		p->seen++;
		probe_name(p, e->d_name);
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW))
			continue;
		if (S_ISREG(st.st_mode) && !p->files_ok) {
			probe_file(p, dirfd(d), e->d_name);
		} else if (S_ISDIR(st.st_mode) && depth < PROBE_DEPTH) {
			int sub = openat(dirfd(d), e->d_name, O_PATH | O_DIRECTORY |
					 O_NOFOLLOW | O_CLOEXEC);

			if (sub >= 0) {
				probe_dir(p, sub, depth + 1);
				close(sub);
			}
		}
	}
	closedir(d);
}

static void sigs_str(uint8_t sigs[][ECFS_SIG_BYTES], int n, char *out, size_t len)
{
	size_t o = 0;

	out[0] = '\0';
	for (int i = 0; i < n && o + ECFS_SIG_HEX + 2 < len; i++) {
		char hex[ECFS_SIG_HEX];

		ecfs_sig_to_hex(sigs[i], hex);
		o += (size_t)snprintf(out + o, len - o, "%s%s", i ? ", " : "", hex);
	}
}

/* Which option makes the filename key with signature sig. */
static const char *fnek_hint(struct ef_fs *fs, const uint8_t *sig, const uint8_t *content_sig)
{
	for (size_t i = 0; i < fs->ck.nfneks; i++)
		if (!memcmp(ecfs_fnek_sig(fs->ck.fneks[i]), sig, ECFS_SIG_BYTES))
			return !memcmp(sig, content_sig, ECFS_SIG_BYTES) ?
				"--fnek-same-key (-o fnek_same_key)" : "--fnek (-o fnek)";
	return "the passphrase of that filename key (wrong passphrase?)";
}

/* Public keys alone write new files (Tag 1 packets) but open none: such a
 * mount is write-only for content, and old files give EACCES. */
static bool can_open_files(const struct ef_fs *fs)
{
	if (ecfs_keyset_count(fs->ck.keys))
		return true;
	for (size_t i = 0; i < fs->ck.npub; i++)
		if (ecfs_pubkey_has_private(fs->ck.pub[i]))
			return true;
	return false;
}

int ef_probe_keys(struct ef_fs *fs, int root_fd)
{
	struct probe p = { .fs = fs };
	uint8_t have[EF_MAX_SIGS + 8][ECFS_SIG_BYTES];
	char want_s[128], have_s[256];
	int nhave = 0;

	fs->write_only = fs->ck.npub && !can_open_files(fs);
	if (fs->o->nokey || fs->view)
		return 0;
	probe_dir(&p, root_fd, 0);
	for (size_t i = 0; i < ecfs_keyset_count(fs->ck.keys) && nhave < EF_MAX_SIGS; i++)
		memcpy(have[nhave++], ecfs_keyset_get(fs->ck.keys, i)->sig, ECFS_SIG_BYTES);
	if (p.files && !p.files_ok && !fs->write_only) {	/* C1 */
		sigs_str(have, nhave, have_s, sizeof(have_s));
		sigs_str(p.file_sigs, p.nfile_sigs, want_s, sizeof(want_s));
		ef_msg("%s: wrong passphrase? key sig%s %s do%s not open any of its %u eCryptfs "
			"file%s; files want sig %s", fs->o->lower, nhave > 1 ? "s" : "", have_s,
			nhave > 1 ? "" : "es", p.files, p.files == 1 ? "" : "s", want_s);
		return -1;
	}
	if (p.names && (!fs->fnek || !p.names_ok)) {		/* C2, C3 */
		char hex[ECFS_SIG_HEX], mine[ECFS_SIG_HEX];

		ecfs_sig_to_hex(p.name_sigs[0], hex);
		if (!fs->fnek) {
			ef_msg("%s: names are encrypted (filename key sig %s) but filename "
				"encryption is off; mount with %s", fs->o->lower, hex,
				fnek_hint(fs, p.name_sigs[0], have[0]));
			return -1;
		}
		ecfs_sig_to_hex(ecfs_fnek_sig(fs->fnek), mine);
		if (p.names_other_size) {
			/* The kernel would show these names as garbage. */
			ef_msg("%s: names were encrypted with %zu-byte filename keys, not %zu; "
				"mount with ecryptfs_key_bytes=%zu (or ecryptfs_fn_key_bytes=%zu "
				"if file contents use another size)", fs->o->lower, p.other_size,
				ecfs_fnek_key_bytes(fs->fnek), p.other_size, p.other_size);
			return -1;
		}
		if (p.names_other_cipher) {
			ef_msg("%s: names use filename key sig %s with another name cipher or key "
				"size; set ecryptfs_fn_cipher= and ecryptfs_fn_key_bytes= (by default "
				"those of ecryptfs_cipher/ecryptfs_key_bytes)", fs->o->lower, mine);
			return -1;
		}
		ef_msg("%s: filename key sig %s does not match the names here (they want sig "
			"%s); mount with %s", fs->o->lower, mine, hex,
			fnek_hint(fs, p.name_sigs[0], have[0]));
		return -1;
	}
	return 0;
}
