// SPDX-License-Identifier: MIT
/* walk.c - the walker of lower trees (walk.h says what it promises).
 *
 * nftw(3) cannot carry a user pointer and builds every path in a PATH_MAX
 * buffer; this one keeps one descriptor per level and a growing path.
 */
#include "walk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

struct walk {
	const struct walk_ops *ops;
	void *ctx;
	char *path;			/* the current path, NUL-terminated */
	size_t len, cap;
};

/* Append "/name" (or "name" at the root); the old length, or -ENOMEM. */
static ssize_t path_push(struct walk *w, const char *name)
{
	size_t old = w->len, n = strlen(name), need = old + (old ? 1 : 0) + n + 1;

	if (need > w->cap) {
		size_t cap = w->cap ? w->cap : 256;
		char *p;

		while (cap < need)
			cap *= 2;
		p = realloc(w->path, cap);
		if (!p)
			return -ENOMEM;
		w->path = p;
		w->cap = cap;
	}
	if (old)
		w->path[w->len++] = '/';
	memcpy(w->path + w->len, name, n + 1);
	w->len += n;
	return (ssize_t)old;
}

static void path_pop(struct walk *w, size_t old)
{
	w->len = old;
	w->path[old] = '\0';
}

/* *unread: set to errno when dfd cannot be read (below the root). */
static int walk_dir(struct walk *w, int dfd, unsigned depth, void *data, int *unread);

/* One entry of the directory dfd: visit it, descend when it is a directory. */
static int walk_entry(struct walk *w, int dfd, const char *name, unsigned depth, void *data)
{
	struct stat st;
	struct walk_entry e = {
		.dfd = dfd, .name = name, .depth = depth, .dir_data = data,
	};
	void *child = data;
	ssize_t old = path_push(w, name);
	int rc, sub, unread = 0;

	if (old < 0)
		return (int)old;
	e.path = w->path;
	e.st = fstatat(e.dfd, name, &st, AT_SYMLINK_NOFOLLOW) ? NULL : &st;
	rc = w->ops->visit(&e, &child, w->ctx);
	if (rc == 0 && e.st && S_ISDIR(st.st_mode)) {
		sub = openat(e.dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub >= 0)
			rc = walk_dir(w, sub, depth + 1, child, &unread);
		else
			unread = errno;
		e.path = w->path;	/* the entries below may have moved it */
		if (unread && w->ops->unreadable)
			w->ops->unreadable(&e, unread, w->ctx);
		if (w->ops->leave)
			w->ops->leave(&e, child, w->ctx);
	}
	path_pop(w, (size_t)old);
	return rc < 0 ? rc : 0;
}

static int by_name(const void *a, const void *b)
{
	return strcoll(*(char *const *)a, *(char *const *)b);
}

/* The names in d but "." and "..", sorted: a NULL-terminated malloc'd
 * array of malloc'd names, or NULL with errno set. */
static char **sorted_names(DIR *d)
{
	char **names = NULL, **p;
	size_t n = 0, cap = 0;
	struct dirent *de;

	errno = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n + 1 >= cap) {
			cap = cap ? 2 * cap : 32;
			p = realloc(names, cap * sizeof(*names));
			if (!p)
				goto fail;
			names = p;
		}
		names[n] = strdup(de->d_name);
		if (!names[n])
			goto fail;
		names[++n] = NULL;
	}
	if (errno)
		goto fail;
	if (!names)
		return calloc(1, sizeof(*names));
	qsort(names, n, sizeof(*names), by_name);
	return names;
fail:
	while (n)
		free(names[--n]);
	free(names);
	if (!errno)
		errno = ENOMEM;
	return NULL;
}

/* The entries of d, sorted. */
static int walk_sorted(struct walk *w, DIR *d, unsigned depth, void *data, int *unread)
{
	char **names = sorted_names(d);
	int rc = 0;

	if (!names) {
		*unread = errno;
		return errno == ENOMEM ? -ENOMEM : 0;
	}
	for (char **n = names; *n; n++) {
		if (rc >= 0)
			rc = walk_entry(w, dirfd(d), *n, depth, data);
		free(*n);
	}
	free(names);
	return rc;
}

/* The entries of the directory dfd (taken).  A directory below the root
 * that cannot be read is passed over (*unread says why), as nftw does. */
static int walk_dir(struct walk *w, int dfd, unsigned depth, void *data, int *unread)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	int rc = 0;

	if (!d) {
		*unread = errno;
		rc = depth == 1 ? -errno : 0;
		close(dfd);
		return rc;
	}
	if (w->ops->sorted) {
		rc = walk_sorted(w, d, depth, data, unread);
	} else {
		while (rc >= 0 && (de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			rc = walk_entry(w, dirfd(d), de->d_name, depth, data);
		}
	}
	closedir(d);
	return rc < 0 ? rc : 0;
}

/* One descriptor per level: let the walk have all the process may. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int walk_tree(int root_fd, void *root_data, const struct walk_ops *ops, void *ctx)
{
	struct walk w = { .ops = ops, .ctx = ctx };
	int rc;
	int unread = 0;

	raise_nofile();
	rc = walk_dir(&w, root_fd, 1, root_data, &unread);
	if (!rc && unread)
		rc = -unread;
	free(w.path);
	return rc;
}
