// SPDX-License-Identifier: MIT
/* cmd-crypt.c - "ecfs decrypt" and "ecfs encrypt": files and whole trees, offline.
 *
 * decrypt LOWER [-o OUT]   a lower file to OUT (or stdout), or a lower tree
 *                          to the new directory OUT with plaintext names.
 * encrypt PLAIN -o LOWER   a file to one lower file, or a tree to a new
 *                          lower tree the kernel mounts as it is.
 *
 * Output files are written under a temporary name in the target directory
 * and renamed into place only when complete, so a failure (wrong key,
 * damaged input, full disk) never leaves a half-written file behind.  A
 * tree keeps going past a bad entry, reports each one, and exits 1.
 */
#include "cli.h"
#include "walk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IO_CHUNK (1u << 20)

/* A source inode with more than one link and where its first copy went:
 * the later names become hard links to it, as `cp -a` keeps them. */
struct link_seen {
	dev_t dev;
	ino_t ino;
	char *dest;
};

struct crypt_job {
	struct ecfs_keychain keys;
	const struct ecfs_cipher_info *cipher;	/* encrypt: content cipher */
	size_t key_bytes;
	bool xattr;				/* encrypt: metadata in xattr */
	unsigned failures;
	uint8_t *buf;				/* IO_CHUNK bytes */
	struct ecfs_crypt_helper *helper;	/* a second core for big chunks, or NULL */
	struct link_seen *links;		/* multiply-linked inodes copied */
	size_t nlinks, links_cap;
};

static void job_fail(struct crypt_job *job, const char *path, struct ob_err *err)
{
	cli_error(path, err);
	job->failures++;
}

/* Create "<dir>/.ecfs-XXXXXX" beside final; returns the fd.  The temporary
 * name must not grow with the final one: a final name may be as long as
 * the file system takes (255 bytes, or an encrypted name of a 143-byte
 * plaintext name). */
static int temp_beside(const char *final, char *tmp, size_t len, mode_t mode)
{
	const char *slash = strrchr(final, '/');
	int dlen = slash ? (int)(slash - final + 1) : 0;
	int fd;

	if (snprintf(tmp, len, "%.*s.ecfs-XXXXXX", dlen, final) >= (int)len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd >= 0)
		fchmod(fd, mode & 07777);
	return fd;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A 0-byte lower file without metadata is an empty file whose creation was
 * cut short between the lower create and the header write (the kernel and
 * ecfs mount both create first, then write the header; both give such a
 * file a fresh header on its first read-write open, ecfs-format.md §11).
 * Its plaintext is empty, so decrypt gives an empty file, as a mount does. */
static bool empty_lower(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && st.st_size == 0;
}

/* Decrypt lower file path to fd out. */
static int decrypt_to_fd(struct crypt_job *job, const char *path, int out,
			 struct ob_err *err)
{
	struct ecfs_file f;
	uint64_t off = 0;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ob_err_set(err, -errno, "open");
	struct ecfs_keys all = ecfs_keychain_keys(&job->keys);

	rc = ecfs_file_open_ex(&f, fd, ECFS_OPEN_XATTR_OK, &all, err);
	f.helper = job->helper;
	if (rc == -ENODATA && empty_lower(fd)) {
		rc = 0;		/* a create cut short before its header: empty */
		goto out;
	}
	if (rc)
		goto out;
	while (off < f.hdr.size) {
		ssize_t n = ecfs_file_pread(&f, job->buf, IO_CHUNK, off, err);

		if (n <= 0) {
			rc = n ? (int)n : ob_err_set(err, -EIO, "unexpected end of data");
			break;
		}
		rc = write_all(out, job->buf, (size_t)n);
		if (rc) {
			ob_err_set(err, rc, "writing the plaintext");
			break;
		}
		off += (uint64_t)n;
	}
	ecfs_file_close(&f);
out:
	close(fd);
	return rc;
}

/* Decrypt to a new file at dest, atomically. */
static int decrypt_file_to(struct crypt_job *job, const char *src, const char *dest,
			   mode_t mode, struct ob_err *err)
{
	char tmp[PATH_MAX];
	int fd = temp_beside(dest, tmp, sizeof(tmp), mode), rc;

	if (fd < 0)
		return ob_err_set(err, -errno, "creating the output file beside %s", dest);
	rc = decrypt_to_fd(job, src, fd, err);
	if (!rc && fsync(fd))
		rc = ob_err_set(err, -errno, "fsync %s", dest);
	close(fd);
	if (!rc && rename(tmp, dest))
		rc = ob_err_set(err, -errno, "rename to %s", dest);
	if (rc)
		unlink(tmp);
	return rc;
}

/* Plaintext name of a lower entry: decrypted when it is an encrypted name. */
static int plain_name(struct crypt_job *job, const char *lower, char *out,
		      size_t len, struct ob_err *err)
{
	ssize_t n;

	if (strncmp(lower, ECFS_FNEK_PREFIX, strlen(ECFS_FNEK_PREFIX)) != 0) {
		snprintf(out, len, "%s", lower);
		return 0;
	}
	n = ecfs_name_decrypt(job->keys.fneks, job->keys.nfneks, lower, out, len, err);
	return n < 0 ? (int)n : 0;
}

/* Plaintext symlink target: decrypted when it is an encrypted name. */
static int plain_target(struct crypt_job *job, const char *lower, char *out,
			size_t len, struct ob_err *err)
{
	ssize_t n;

	if (strncmp(lower, ECFS_FNEK_PREFIX, strlen(ECFS_FNEK_PREFIX)) != 0) {
		snprintf(out, len, "%s", lower);
		return 0;
	}
	n = ecfs_target_decrypt(job->keys.fneks, job->keys.nfneks, lower, out, len, err);
	return n < 0 ? (int)n : 0;
}

/* Encrypt the plaintext file src into a new lower file at dest. */
static int encrypt_file_to(struct crypt_job *job, const char *src, const char *dest,
			   mode_t mode, struct ob_err *err)
{
	char tmp[PATH_MAX];
	struct ecfs_file f;
	uint64_t off = 0;
	int in, out, rc;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return ob_err_set(err, -errno, "open %s", src);
	out = temp_beside(dest, tmp, sizeof(tmp), mode);
	if (out < 0) {
		rc = ob_err_set(err, -errno, "creating the output file beside %s", dest);
		goto close_in;
	}
	struct ecfs_keys all = ecfs_keychain_keys(&job->keys);
	const struct ecfs_cipher_info *ci = job->cipher;
	size_t kb = job->key_bytes;
	const char *base = strrchr(src, '/');

	/* The policy picks by the plaintext base name, as the mount does. */
	ecfs_policy_match(job->keys.policy, base ? base + 1 : src, &ci, &kb);
	rc = ecfs_file_create_ex(&f, out, ci, kb, &all, job->xattr,
				 job->keys.write_fnek != NULL, err);
	if (rc)
		goto close_out;
	f.helper = job->helper;
	for (;;) {
		ssize_t n = read(in, job->buf, IO_CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = ob_err_set(err, -errno, "reading %s", src);
			break;
		}
		if (n == 0)
			break;
		n = ecfs_file_pwrite(&f, job->buf, (size_t)n, off, err);
		if (n < 0) {
			rc = (int)n;
			break;
		}
		off += (uint64_t)n;
	}
	ecfs_file_close(&f);
	if (!rc && fsync(out))
		rc = ob_err_set(err, -errno, "fsync");
close_out:
	close(out);
	if (!rc && rename(tmp, dest))
		rc = ob_err_set(err, -errno, "rename to %s", dest);
	if (rc)
		unlink(tmp);
close_in:
	close(in);
	return rc;
}

/* Lower name of a plaintext entry: encrypted when names are. */
static int lower_name(struct crypt_job *job, const char *name, char *out,
		      size_t len, struct ob_err *err)
{
	ssize_t n;

	if (!job->keys.write_fnek) {
		snprintf(out, len, "%s", name);
		return 0;
	}
	n = ecfs_name_encrypt(job->keys.write_fnek, name, strlen(name), ECFS_NAME_MAX,
			      out, len, err);
	return n < 0 ? (int)n : 0;
}

static const char *link_find(const struct crypt_job *job, const struct stat *st)
{
	for (size_t i = 0; i < job->nlinks; i++)
		if (job->links[i].dev == st->st_dev && job->links[i].ino == st->st_ino)
			return job->links[i].dest;
	return NULL;
}

/* Remember dest as the copy of st; on no memory the next name is simply
 * copied again (a separate file, as before). */
static void link_add(struct crypt_job *job, const struct stat *st, const char *dest)
{
	struct link_seen *l;

	if (job->nlinks == job->links_cap) {
		size_t cap = job->links_cap ? 2 * job->links_cap : 16;

		l = realloc(job->links, cap * sizeof(*l));
		if (!l)
			return;
		job->links = l;
		job->links_cap = cap;
	}
	l = &job->links[job->nlinks];
	l->dest = strdup(dest);
	if (!l->dest)
		return;
	l->dev = st->st_dev;
	l->ino = st->st_ino;
	job->nlinks++;
}

static void links_free(struct crypt_job *job)
{
	for (size_t i = 0; i < job->nlinks; i++)
		free(job->links[i].dest);
	free(job->links);
}

/* FIFOs, sockets and device nodes: the kernel keeps them in the lower tree
 * as they are (only the name is encrypted), so both directions recreate
 * them with mknod, as `cp -a` does; device nodes need root. */
static int copy_special(const char *dest, const struct stat *st, struct ob_err *err)
{
	if (mknod(dest, st->st_mode, st->st_rdev)) {
		if (errno == EPERM && (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)))
			return ob_err_set(err, -EPERM, "mknod %s: device nodes need root", dest);
		return ob_err_set(err, -errno, "mknod %s", dest);
	}
	if (chmod(dest, st->st_mode & 07777))	/* the umask applied to mknod */
		return ob_err_set(err, -errno, "chmod %s", dest);
	return 0;
}

/* One direction of a tree copy: how names, symlink targets and regular
 * files are turned from the source form into the destination form. */
struct tree_ops {
	int (*name)(struct crypt_job *job, const char *in, char *out, size_t len,
		    struct ob_err *err);
	int (*target)(struct crypt_job *job, const char *in, size_t in_len, char *out,
		      size_t len, struct ob_err *err);
	int (*file)(struct crypt_job *job, const char *src, const char *dest, mode_t mode,
		    struct ob_err *err);
};

/* A tree copy under way: the walker's context.  Each directory's value is
 * its destination path (the root's is the output directory). */
struct crypt_walk {
	struct crypt_job *job;
	const struct tree_ops *ops;
	const char *src_root;
};

/* One entry: its copy in the destination directory.  A directory whose
 * copy cannot be made is not descended into (WALK_SKIP); any failure is
 * reported and counted, and the walk goes on. */
static int crypt_visit(const struct walk_entry *e, void **child_data, void *ctx)
{
	struct crypt_walk *cw = ctx;
	struct crypt_job *job = cw->job;
	const struct tree_ops *ops = cw->ops;
	const char *dest_dir = e->dir_data;
	char src[PATH_MAX], dest[PATH_MAX], conv[ECFS_LOWER_NAME_MAX];
	struct ob_err err = {0};
	const struct stat *st = e->st;
	int rc;

	snprintf(src, sizeof(src), "%s/%s", cw->src_root, e->path);
	if (!st) {
		ob_err_set(&err, -errno, "stat");
		goto fail;
	}
	rc = ops->name(job, e->name, conv, sizeof(conv), &err);
	if (rc)
		goto fail;
	if (snprintf(dest, sizeof(dest), "%s/%s", dest_dir, conv) >= (int)sizeof(dest)) {
		ob_err_set(&err, -ENAMETOOLONG, "output path too long");
		goto fail;
	}
	if (!S_ISDIR(st->st_mode) && st->st_nlink > 1) {
		const char *first = link_find(job, st);

		if (first) {
			if (link(first, dest)) {
				ob_err_set(&err, -errno, "link %s to %s", dest, first);
				goto fail;
			}
			return 0;
		}
	}
	if (S_ISDIR(st->st_mode)) {
		if (mkdir(dest, st->st_mode & 07777) && errno != EEXIST) {
			ob_err_set(&err, -errno, "mkdir %s", dest);
			goto fail;
		}
		*child_data = strdup(dest);
		if (!*child_data) {
			ob_err_set(&err, -ENOMEM, "copying the directory");
			goto fail;
		}
		return 0;
	} else if (S_ISLNK(st->st_mode)) {
		char target[PATH_MAX], ctarget[ECFS_LOWER_NAME_MAX];
		ssize_t n = readlinkat(e->dfd, e->name, target, sizeof(target) - 1);

		if (n < 0) {
			ob_err_set(&err, -errno, "readlink");
			goto fail;
		}
		target[n] = '\0';
		rc = ops->target(job, target, (size_t)n, ctarget, sizeof(ctarget), &err);
		if (!rc && symlink(ctarget, dest))
			rc = ob_err_set(&err, -errno, "symlink %s", dest);
		if (rc)
			goto fail;
	} else if (S_ISREG(st->st_mode)) {
		rc = ops->file(job, src, dest, st->st_mode, &err);
		if (rc)
			goto fail;
	} else {
		rc = copy_special(dest, st, &err);
		if (rc)
			goto fail;
	}
	if (st->st_nlink > 1)
		link_add(job, st, dest);
	return 0;
fail:
	job_fail(job, src, &err);
	return WALK_SKIP;
}

static void crypt_leave(const struct walk_entry *e, void *child_data, void *ctx)
{
	if (child_data != e->dir_data)
		free(child_data);
}

static void crypt_unreadable(const struct walk_entry *e, int errnum, void *ctx)
{
	struct crypt_walk *cw = ctx;
	char src[PATH_MAX];
	struct ob_err err = {0};

	snprintf(src, sizeof(src), "%s/%s", cw->src_root, e->path);
	ob_err_set(&err, -errnum, "reading the directory");
	job_fail(cw->job, src, &err);
}

/* The tree under src into the (empty) directory dest, in name order. */
static void crypt_tree(struct crypt_job *job, const struct tree_ops *ops,
		       const char *src, const char *dest)
{
	static const struct walk_ops wops = {
		.visit = crypt_visit, .leave = crypt_leave, .unreadable = crypt_unreadable,
		.sorted = true,
	};
	struct crypt_walk cw = { .job = job, .ops = ops, .src_root = src };
	struct ob_err err = {0};
	int fd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = fd < 0 ? -errno : walk_tree(fd, (void *)dest, &wops, &cw);

	if (rc < 0) {
		ob_err_set(&err, rc, "reading the directory");
		job_fail(job, src, &err);
	}
}

/* Symlink target adapters: plain_target takes no length, lower_target does. */
static int plain_target_op(struct crypt_job *job, const char *in, size_t in_len,
			   char *out, size_t len, struct ob_err *err)
{
	return plain_target(job, in, out, len, err);
}

static int lower_target(struct crypt_job *job, const char *in, size_t in_len,
			char *out, size_t len, struct ob_err *err)
{
	ssize_t n;

	if (!job->keys.write_fnek) {
		snprintf(out, len, "%s", in);
		return 0;
	}
	n = ecfs_target_encrypt(job->keys.write_fnek, in, in_len, out, len, err);
	return n < 0 ? (int)n : 0;
}

static const struct tree_ops decrypt_ops = {
	.name	= plain_name,
	.target	= plain_target_op,
	.file	= decrypt_file_to,
};

static const struct tree_ops encrypt_ops = {
	.name	= lower_name,
	.target	= lower_target,
	.file	= encrypt_file_to,
};

/* A new or empty output directory for a tree. */
static int prepare_out_dir(const char *dest, mode_t mode, struct ob_err *err)
{
	DIR *d;
	struct dirent *e;

	if (mkdir(dest, mode & 07777) == 0)
		return 0;
	if (errno != EEXIST)
		return ob_err_set(err, -errno, "mkdir");
	d = opendir(dest);
	if (!d)
		return ob_err_set(err, -errno, "open the output directory");
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			closedir(d);
			return ob_err_set(err, -EEXIST, "output directory is not empty");
		}
	closedir(d);
	return 0;
}

static const char crypt_help_decrypt[] =
	"usage: ecfs decrypt [CIPHER OPTIONS] [KEY OPTIONS] LOWER [-o OUT]\n\n"
	"Decrypt a lower file (to OUT, or to standard output) or a lower directory\n"
	"tree (to the new or empty directory OUT, with plaintext names).  Names are\n"
	"decrypted with whichever filename key matches their signature.\n\n";
static const char crypt_help_encrypt[] =
	"usage: ecfs encrypt [CIPHER OPTIONS] [KEY OPTIONS] [--xattr] PLAIN -o LOWER\n\n"
	"Encrypt a plaintext file into the lower file LOWER, or a directory tree into\n"
	"the new or empty directory LOWER, exactly as the kernel's eCryptfs writes them.\n"
	"  --xattr         keep the metadata in the user.ecryptfs xattr\n"
	"With --fnek or --fnek-same-key, names and symlink targets are encrypted too.\n\n";

static const struct ob_opt crypt_opts[] = {
	{ "output", 'o', 'o', "OUT", NULL, 0 },
	{ "xattr", 0, 'X', NULL, NULL, 0 },
	{ OB_OPT_END },
};

struct crypt_args {
	struct crypt_job *job;
	const char *out;
};

static int crypt_opt(const struct ob_cmd *cmd, const struct ob_opt *opt, const char *arg,
		     void *ctx)
{
	struct crypt_args *a = ctx;

	switch (opt->key) {
	case 'o':
		a->out = arg;
		return 0;
	case 'X':
		a->job->xattr = true;
		return 0;
	}
	return EXIT_USAGE;
}

static int crypt_main(int argc, char **argv, bool encrypt)
{
	struct crypt_job job = {0};
	struct key_opts ko = {0};
	struct ob_err err = {0};
	struct cipher_opts co = {0};
	struct cipher_choice cc;
	struct crypt_args a = { .job = &job };
	const struct cli_cmd cmd = {
		.prog = encrypt ? "ecfs encrypt" : "ecfs decrypt",
		.help = encrypt ? crypt_help_encrypt : crypt_help_decrypt,
		.own = crypt_opts, .ko = &ko, .co = &co, .fn = crypt_opt, .ctx = &a,
	};
	const char *out, *src;
	struct stat st;
	int first, rc = EXIT_FAIL;

	first = cli_parse(&cmd, argc, argv, &rc);
	if (first < 0)
		return rc;
	rc = EXIT_FAIL;
	out = a.out;
	if (first != argc - 1 || (encrypt && !out)) {
		cli_msg("%s: expected one input%s (see 'ecfs %s --help')",
			encrypt ? "encrypt" : "decrypt", encrypt ? " and -o LOWER" : "",
			encrypt ? "encrypt" : "decrypt");
		return EXIT_USAGE;
	}
	src = argv[first];
	if (cipher_opts_resolve(&co, &cc))
		return EXIT_USAGE;
	job.cipher = cc.cipher;
	job.key_bytes = cc.key_bytes;
	if (stat(src, &st)) {
		ob_err_set(&err, -errno, "stat");
		cli_error(src, &err);
		return EXIT_FAIL;
	}
	if (S_ISDIR(st.st_mode) && !out) {
		cli_msg("%s: a directory needs -o OUT", src);
		return EXIT_USAGE;
	}
	job.buf = malloc(IO_CHUNK);
	if (!job.buf) {
		cli_msg("out of memory");
		return EXIT_FAIL;
	}
	/* Names: --fn-cipher/--fn-key-bytes, by default the content's. */
	if (cli_keys_load(&ko, cc.fn_cipher, cc.fn_key_bytes, &job.keys, &err)) {
		cli_error(NULL, &err);
		goto out_buf;
	}
	{
		struct ob_err herr = {0};	/* without a helper: one core, same bytes */

		(void)ecfs_crypt_helper_new(&job.helper, &herr);
	}
	if (S_ISDIR(st.st_mode)) {
		if (prepare_out_dir(out, st.st_mode, &err)) {
			cli_error(out, &err);
			goto out_keys;
		}
		crypt_tree(&job, encrypt ? &encrypt_ops : &decrypt_ops, src, out);
		rc = job.failures ? EXIT_FAIL : EXIT_OK;
		if (job.failures)
			cli_msg("%u entr%s failed", job.failures, job.failures == 1 ? "y" : "ies");
	} else if (encrypt) {
		rc = encrypt_file_to(&job, src, out, st.st_mode, &err) ? EXIT_FAIL : EXIT_OK;
	} else if (out) {
		rc = decrypt_file_to(&job, src, out, st.st_mode, &err) ? EXIT_FAIL : EXIT_OK;
	} else {
		rc = decrypt_to_fd(&job, src, STDOUT_FILENO, &err) ? EXIT_FAIL : EXIT_OK;
	}
	if (rc && !S_ISDIR(st.st_mode))
		cli_error(src, &err);
out_keys:
	links_free(&job);
	ecfs_crypt_helper_free(job.helper);
	ecfs_keychain_free(&job.keys);
out_buf:
	free(job.buf);
	return rc;
}

int cmd_decrypt(int argc, char **argv)
{
	return crypt_main(argc, argv, false);
}

int cmd_encrypt(int argc, char **argv)
{
	return crypt_main(argc, argv, true);
}
