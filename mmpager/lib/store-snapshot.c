// SPDX-License-Identifier: MIT
/* store-snapshot.c - a read-only memory snapshot as a store: the pages of
 * a region come from a buffer the caller keeps (a restored VM or container
 * image already in memory, a test pattern).  Past its end pages read as
 * zeros.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ob/err.h"
#include "mp-int.h"

struct snap_store {
	struct mmp_store st;
	const char *mem;
	size_t len;
};

static int snap_read(struct mmp_store *st, void *buf, size_t len, uint64_t off)
{
	struct snap_store *s = (struct snap_store *)st;
	size_t n = 0;

	if (off < s->len) {
		n = s->len - off < len ? s->len - off : len;
		memcpy(buf, s->mem + off, n);
	}
	memset((char *)buf + n, 0, len - n);
	return 0;
}

static int snap_write(struct mmp_store *st, const void *buf, size_t len, uint64_t off)
{
	return -EROFS;
}

static void snap_destroy(struct mmp_store *st)
{
	free(st);
}

static const struct mmp_store_ops snap_ops = {
	.read = snap_read, .write = snap_write, .destroy = snap_destroy,
};

int mmp_store_snapshot(const void *mem, size_t len, struct mmp_store **out,
		       struct ob_err *err)
{
	struct snap_store *s;

	if (!mem && len)
		return ob_err_set(err, -EINVAL, "snapshot store: no memory given");
	s = calloc(1, sizeof(*s));
	if (!s)
		return ob_err_set(err, -ENOMEM, "snapshot store: out of memory");
	s->st.ops = &snap_ops;
	s->st.kind = "snapshot";
	s->mem = mem;
	s->len = len;
	*out = &s->st;
	return 0;
}
