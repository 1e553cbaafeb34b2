// SPDX-License-Identifier: MIT
/* rekey-names.c - "ecfs rekey": re-encrypt the names (and symlink targets)
 * made with the filename key of a key that --remove revokes.
 *
 * A name's FNEK comes from a passphrase, not from the file's header, so
 * dropping a packet does nothing to names: without this pass a tree whose
 * names were made with A's FNEK keeps them after "--add B --remove A", and
 * a mount with B alone lists nothing it can read.  So each such name moves
 * to the FNEK of a key that stays: by preference the added passphrase's,
 * else a staying opening key's; the same kind of candidate (ecryptfs-utils'
 * FNEK salt, or the content key itself as mount.ecryptfs uses it) and the
 * same cipher and key length as the old name, so that a mount with the new
 * key and the options the tree was made with ("--fnek" or
 * "--fnek-same-key") writes its new names with the very same key.
 *
 * Each name moves with one renameat2(RENAME_NOREPLACE) in its own
 * directory: atomic, hard links and open files keep their inode, and a
 * name that the new key already has is never replaced.  A symlink whose
 * target is encrypted too is re-made: symlinkat() of the new name, then
 * unlinkat() of the old; killed in between, both exist and a second run
 * finds the new one with the expected target and only removes the old.
 * Renames are deferred until the directory has been read to its end (the
 * walker's leave()), so readdir never sees a directory it is changing.
 *
 * ECFS_REKEY_TEST_KILL_AFTER=N (for the tests only, never documented to
 * users): SIGKILL this process after the N-th rename, to interrupt a run
 * at a known point.
 */
#include "cli.h"
#include "rekey-names.h"
#include "walk.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One pending change in a directory. */
struct move {
	struct move *next;
	char *where;		/* path from the root, for messages */
	char *old, *new;	/* lower names */
	char *target;		/* symlinks: the new lower target; else NULL */
	struct stat st;		/* of the old entry (owner, times) */
};

struct names_walk {
	struct rekey_names *rn;
	const char *root;
	unsigned long kill_after;	/* the test knob; 0: off */
};

enum name_state { NAME_PLAIN, NAME_KEEP, NAME_STALE, NAME_UNKNOWN };

static bool removed(const struct rekey_names *rn, const uint8_t *sig)
{
	for (size_t i = 0; i < rn->nremove; i++)
		if (!memcmp(rn->remove[i], sig, ECFS_SIG_BYTES))
			return true;
	return false;
}

/* A candidate revoked with its owner (or named itself by --remove). */
static bool fnek_removed(const struct rekey_names *rn, const struct ecfs_keychain *kc,
			 size_t i)
{
	return removed(rn, kc->fnek_owner[i]) || removed(rn, ecfs_fnek_sig(kc->fneks[i]));
}

/* What lower (a name or a symlink target) is; *idx: its FNEK in rn->open. */
static enum name_state name_state(struct rekey_names *rn, const char *lower, int *idx)
{
	uint8_t sig[ECFS_SIG_BYTES];

	*idx = ecfs_name_fnek_index(rn->open->fneks, rn->open->nfneks, lower);
	if (*idx == -EINVAL)
		return NAME_PLAIN;
	if (*idx >= 0)
		return fnek_removed(rn, rn->open, (size_t)*idx) ? NAME_STALE : NAME_KEEP;
	if (ecfs_name_fnek_index(rn->add->fneks, rn->add->nfneks, lower) >= 0)
		return NAME_KEEP;
	if (!rn->unknown++ && !ecfs_name_sig(lower, sig))
		memcpy(rn->unknown_sig, sig, ECFS_SIG_BYTES);
	return NAME_UNKNOWN;
}

/* The staying FNEK a name made with rn->open->fneks[i] moves to, or NULL.
 * The added keys first: they are what the tree will be mounted with. */
static const struct ecfs_fnek *target_fnek(const struct rekey_names *rn, size_t i)
{
	const struct ecfs_fnek *old = rn->open->fneks[i];
	bool same_key = !memcmp(ecfs_fnek_sig(old), rn->open->fnek_owner[i], ECFS_SIG_BYTES);
	const struct ecfs_keychain *chains[] = { rn->add, rn->open };

	for (size_t c = 0; c < 2; c++) {
		const struct ecfs_keychain *kc = chains[c];

		for (size_t j = 0; j < kc->nfneks; j++) {
			const struct ecfs_fnek *fn = kc->fneks[j];
			bool fn_same = !memcmp(ecfs_fnek_sig(fn), kc->fnek_owner[j], ECFS_SIG_BYTES);

			if (!fnek_removed(rn, kc, j) && fn_same == same_key &&
			    ecfs_fnek_same_cipher(fn, old))
				return fn;
		}
	}
	return NULL;
}

/* lower (made with rn->open->fneks[idx]) under the staying FNEK, into a
 * new string; -ENOKEY when no staying key has a fitting FNEK. */
static int reencrypt(const struct rekey_names *rn, const char *lower, int idx, bool target,
		     char **out, struct ob_err *err)
{
	const struct ecfs_fnek *fn = target_fnek(rn, (size_t)idx);
	struct ecfs_fnek *const *fneks = rn->open->fneks;
	char plain[PATH_MAX], enc[ECFS_LOWER_NAME_MAX];
	ssize_t n;

	if (!fn)
		return ob_err_set(err, -ENOKEY, "no key that stays has a filename key of this "
				  "kind to re-encrypt the name with");
	n = target ? ecfs_target_decrypt(fneks, rn->open->nfneks, lower, plain, sizeof(plain), err)
		   : ecfs_name_decrypt(fneks, rn->open->nfneks, lower, plain, sizeof(plain), err);
	if (n >= 0)
		n = target ? ecfs_target_encrypt(fn, plain, (size_t)n, enc, sizeof(enc), err)
			   : ecfs_name_encrypt(fn, plain, (size_t)n, ECFS_NAME_MAX, enc,
					       sizeof(enc), err);
	if (n < 0)
		return (int)n;
	*out = strdup(enc);
	return *out ? 0 : ob_err_set(err, -ENOMEM, "no memory");
}

static void move_free(struct move *m)
{
	free(m->where);
	free(m->old);
	free(m->new);
	free(m->target);
	free(m);
}

static void report(const struct names_walk *w, const char *where, const struct ob_err *err)
{
	char *path;

	w->rn->failed++;
	if (asprintf(&path, "%s/%s", w->root, where) < 0) {
		cli_error(where, err);
		return;
	}
	cli_error(path, err);
	free(path);
}

/* The move for entry e (its name and, for a symlink, its target), or NULL
 * with *rc = 0 when it keeps its name. */
static struct move *plan(struct names_walk *w, const struct walk_entry *e, int *rc,
			 struct ob_err *err)
{
	struct rekey_names *rn = w->rn;
	char target[PATH_MAX];
	enum name_state ns, ts = NAME_PLAIN;
	int nidx, tidx = -1;
	struct move *m;

	*rc = 0;
	ns = name_state(rn, e->name, &nidx);
	if (S_ISLNK(e->st->st_mode)) {
		ssize_t n = readlinkat(e->dfd, e->name, target, sizeof(target) - 1);

		if (n < 0) {
			*rc = ob_err_set(err, -errno, "readlink");
			return NULL;
		}
		target[n] = '\0';
		ts = name_state(rn, target, &tidx);
	}
	if (ns != NAME_STALE && ts != NAME_STALE)
		return NULL;
	rn->stale++;
	m = calloc(1, sizeof(*m));
	if (!m) {
		*rc = ob_err_set(err, -ENOMEM, "no memory");
		return NULL;
	}
	m->st = *e->st;
	if (!(m->where = strdup(e->path)) || !(m->old = strdup(e->name)))
		*rc = ob_err_set(err, -ENOMEM, "no memory");
	else if (ns == NAME_STALE)
		*rc = reencrypt(rn, e->name, nidx, false, &m->new, err);
	else
		*rc = ob_err_set(err, -EOPNOTSUPP, "only the symlink target is under the "
				 "removed filename key; re-create the link through a mount");
	if (!*rc && S_ISLNK(e->st->st_mode))
		*rc = ts == NAME_STALE ? reencrypt(rn, target, tidx, true, &m->target, err)
				       : ((m->target = strdup(target)) ? 0 : -ENOMEM);
	if (*rc) {
		move_free(m);
		return NULL;
	}
	return m;
}

static int visit(const struct walk_entry *e, void **child, void *ctx)
{
	struct names_walk *w = ctx;
	struct move **list = e->dir_data, *m;
	struct ob_err err = { 0 };
	int rc;

	if (!e->st)
		return 0;
	m = plan(w, e, &rc, &err);
	if (rc != -ENOMEM && S_ISDIR(e->st->st_mode) && w->rn->apply &&
	    !(*child = calloc(1, sizeof(struct move *))))
		rc = -ENOMEM;
	if (rc == -ENOKEY && !w->rn->apply) {
		w->rn->no_target++;
	} else if (rc == -ENOMEM) {
		if (m)
			move_free(m);
		return rc;
	} else if (rc) {
		report(w, e->path, &err);
	} else if (m && list) {
		m->next = *list;
		*list = m;
	} else if (m) {
		move_free(m);
	}
	return 0;
}

/* A symlink under its new name with its new target, then the old one
 * gone (see the head comment for an interruption in between). */
static int replace_symlink(int dfd, const struct move *m)
{
	char have[PATH_MAX];
	struct timespec times[2] = { m->st.st_atim, m->st.st_mtim };
	ssize_t n;

	if (symlinkat(m->target, dfd, m->new)) {
		if (errno != EEXIST)
			return -errno;
		n = readlinkat(dfd, m->new, have, sizeof(have) - 1);
		if (n < 0)
			return -EEXIST;
		have[n] = '\0';
		if (strcmp(have, m->target))
			return -EEXIST;
	}
	/* as the old link had them; a non-root run keeps its own */
	if (fchownat(dfd, m->new, m->st.st_uid, m->st.st_gid, AT_SYMLINK_NOFOLLOW) &&
	    errno != EPERM)
		return -errno;
	(void)utimensat(dfd, m->new, times, AT_SYMLINK_NOFOLLOW);
	return unlinkat(dfd, m->old, 0) ? -errno : 0;
}

static void apply_one(struct names_walk *w, int dfd, const struct move *m)
{
	struct ob_err err = { 0 };
	int rc;

	if (m->target)
		rc = replace_symlink(dfd, m);
	else
		rc = renameat2(dfd, m->old, dfd, m->new, RENAME_NOREPLACE) ? -errno : 0;
	if (rc) {
		ob_err_set(&err, rc, rc == -EEXIST ? "the re-encrypted name exists already "
			   "(the same name made with the new key?)" : "rename");
		report(w, m->where, &err);
		return;
	}
	w->rn->renamed++;
	if (w->kill_after && w->rn->renamed == w->kill_after)
		raise(SIGKILL);		/* the tests' interruption point */
}

/* Carry out and free the moves of the directory dfd (-1: only free). */
static void apply_list(struct names_walk *w, int dfd, struct move **list)
{
	struct move *m, *next;

	for (m = list ? *list : NULL; m; m = next) {
		next = m->next;
		if (dfd >= 0)
			apply_one(w, dfd, m);
		move_free(m);
	}
	free(list);
}

static void leave(const struct walk_entry *e, void *child, void *ctx)
{
	int fd;

	if (!child)
		return;
	fd = openat(e->dfd, e->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	apply_list(ctx, fd, child);
	if (fd >= 0)
		close(fd);
}

int rekey_names_tree(struct rekey_names *rn, const char *root)
{
	static const struct walk_ops ops = { .visit = visit, .leave = leave };
	struct names_walk w = { .rn = rn, .root = root };
	const char *knob = getenv("ECFS_REKEY_TEST_KILL_AFTER");
	struct move **list = NULL;
	int fd, rc;

	if (knob)
		w.kill_after = strtoul(knob, NULL, 10);
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOTDIR ? 0 : -errno;	/* a single file keeps its name */
	if (rn->apply && !(list = calloc(1, sizeof(*list)))) {
		close(fd);
		return -ENOMEM;
	}
	rc = walk_tree(fd, list, &ops, &w);
	fd = rc ? -1 : open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	apply_list(&w, fd, list);
	if (fd >= 0)
		close(fd);
	return rc;
}
