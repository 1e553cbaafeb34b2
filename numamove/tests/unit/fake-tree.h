/* SPDX-License-Identifier: MIT */
/* fake-tree.h - a throwaway sysfs/procfs tree for unit tests: nm_host.root
 * points at it, so machines and processes the CI host is not can be
 * described.  Header-only: each test binary is one file.
 */
#ifndef NM_FAKE_TREE_H
#define NM_FAKE_TREE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char fake_root[256];

/* Make the tree's root; 0 or -1. */
static int fake_tree_make(const char *tag)
{
	snprintf(fake_root, sizeof(fake_root), "/tmp/nm-test-%s-XXXXXX", tag);
	return mkdtemp(fake_root) ? 0 : -1;
}

/* Write text to the file rel under the root, making its directories. */
static void fake_put(const char *rel, const char *text)
{
	char path[512], *slash;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", fake_root, rel);
	for (slash = strchr(path + strlen(fake_root) + 1, '/'); slash;
	     slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0755);
		*slash = '/';
	}
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int fake_tree_remove(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fake_root);
	return system(cmd) == 0 ? 0 : -1;
}

#endif
