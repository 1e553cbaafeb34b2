/* SPDX-License-Identifier: MIT */
/* rekey-names.h - "ecfs rekey": move encrypted names off a revoked key's
 * filename key (rekey-names.c says how and in which order). */
#ifndef ECFS_REKEY_NAMES_H
#define ECFS_REKEY_NAMES_H

#include <stdbool.h>

#include "ecfs-keychain.h"

struct rekey_names {
	const struct ecfs_keychain *open;	/* the keys that open the tree */
	const struct ecfs_keychain *add;	/* the keys being added */
	const uint8_t (*remove)[ECFS_SIG_BYTES];
	size_t nremove;
	bool apply;		/* false: only count */
	unsigned long stale;	/* names (and symlink targets) under a removed key */
	unsigned long no_target;	/* of those, none of the staying keys fits */
	unsigned long renamed, failed;
	unsigned long unknown;	/* names under a filename key we were not given */
	uint8_t unknown_sig[ECFS_SIG_BYTES];	/* the first of those */
};

/* Count (apply false) or re-encrypt (apply true) every stale name under
 * root.  0, or -errno when root cannot be walked; per-name failures are
 * printed and counted in rn->failed. */
int rekey_names_tree(struct rekey_names *rn, const char *root);

#endif
