/* SPDX-License-Identifier: MIT */
/* walk.h - the one walker of lower trees (fsck, rekey, escrow recover, recover,
 * encrypt/decrypt).
 *
 * Depth first, each directory opened relative to its parent's descriptor
 * (openat, fdopendir), with a context pointer for the caller and a value
 * per directory handed down to its entries.  Paths are built as the walk
 * goes, so there is no depth or path-length limit beyond the descriptor
 * limit (one per level; raised to its hard maximum).
 */
#ifndef ECFS_WALK_H
#define ECFS_WALK_H

#include <stdbool.h>
#include <sys/stat.h>

struct walk_entry {
	int dfd;			/* the directory that holds it */
	const char *name;		/* its name in dfd */
	const char *path;		/* from the root: "a/b/name", any length */
	const struct stat *st;		/* lstat of it, or NULL when that failed */
	unsigned depth;			/* 1 for the root's own entries */
	void *dir_data;			/* the value of the directory holding it */
};

#define WALK_SKIP 1			/* visit(): do not descend into it */

struct walk_ops {
	/* Every entry below the root, in readdir order (or sorted).  For a directory,
	 * *child_data (preset to e->dir_data) becomes the value its entries
	 * see.  Returns 0, WALK_SKIP, or a negative value that ends the walk. */
	int (*visit)(const struct walk_entry *e, void **child_data, void *ctx);
	/* A directory visit() let in is done (or could not be opened): the
	 * place to free its value.  May be NULL. */
	void (*leave)(const struct walk_entry *e, void *child_data, void *ctx);
	/* A directory visit() let in cannot be opened or read (-errno), just
	 * before its leave().  May be NULL: it is passed over, as nftw does. */
	void (*unreadable)(const struct walk_entry *e, int errnum, void *ctx);
	/* Visit each directory's entries in alphasort(3) order rather than
	 * readdir order, for output that is the same on every run. */
	bool sorted;
};

/* Walk the tree under root_fd (a directory; taken and closed).  root_data
 * is the value the root's entries see.  Returns 0, the first negative
 * visit() result, or -errno when the root cannot be read. */
int walk_tree(int root_fd, void *root_data, const struct walk_ops *ops, void *ctx);

#endif
