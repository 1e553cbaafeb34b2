// SPDX-License-Identifier: MIT
/* layout.c - the region layout a VMM sends its page-fault handler, in
 * Firecracker's form: a JSON array of objects
 *
 *   [{"base_host_virt_addr": N, "size": N, "offset": N, "page_size": N}, ...]
 *
 * page_size is in bytes; Firecracker's older, deprecated "page_size_kib"
 * (which it also fills with bytes) is read when page_size is absent, and a
 * value below 4096 there is taken as KiB.  Other keys are skipped when
 * their values are numbers, strings, booleans or null.  Only what this
 * layout needs of JSON is parsed: no nesting below the objects.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "layout.h"

struct cursor {
	const char *s;
	char *why;
	size_t whylen;
};

static void skip_ws(struct cursor *c)
{
	while (isspace((unsigned char)*c->s))
		c->s++;
}

static int fail(struct cursor *c, const char *what)
{
	snprintf(c->why, c->whylen, "%s", what);
	return -EINVAL;
}

static int expect(struct cursor *c, char ch)
{
	skip_ws(c);
	if (*c->s != ch) {
		snprintf(c->why, c->whylen, "expected '%c' at \"%.16s\"", ch, c->s);
		return -EINVAL;
	}
	c->s++;
	return 0;
}

/* A string without escapes beyond \" and \\ (keys are plain words). */
static int string(struct cursor *c, char *out, size_t outlen)
{
	size_t n = 0;

	if (expect(c, '"'))
		return -EINVAL;
	while (*c->s && *c->s != '"') {
		if (*c->s == '\\' && c->s[1])
			c->s++;
		if (n + 1 < outlen)
			out[n++] = *c->s;
		c->s++;
	}
	if (!*c->s)
		return fail(c, "unterminated string");
	c->s++;
	out[n] = '\0';
	return 0;
}

/* A value: a non-negative integer into *num (*is_num = true), or a skipped
 * string, true, false or null. */
static int value(struct cursor *c, uint64_t *num, bool *is_num)
{
	char tmp[64];

	skip_ws(c);
	*is_num = false;
	if (*c->s == '"')
		return string(c, tmp, sizeof(tmp));
	for (const char *w = "true\0false\0null\0"; *w; w += strlen(w) + 1)
		if (!strncmp(c->s, w, strlen(w))) {
			c->s += strlen(w);
			return 0;
		}
	if (!isdigit((unsigned char)*c->s))
		return fail(c, "a value must be a non-negative integer, string, "
			    "boolean or null");
	errno = 0;
	char *end;
	unsigned long long v = strtoull(c->s, &end, 10);

	if (errno || *end == '.' || *end == 'e' || *end == 'E')
		return fail(c, "a number is not an integer that fits 64 bits");
	c->s = end;
	*num = v;
	*is_num = true;
	return 0;
}

static int region(struct cursor *c, struct mmp_restore_region *r)
{
	bool have_base = false, have_size = false, have_off = false, have_ps = false;
	uint64_t kib = 0;

	memset(r, 0, sizeof(*r));
	if (expect(c, '{'))
		return -EINVAL;
	skip_ws(c);
	if (*c->s == '}')
		return fail(c, "a region without fields");
	for (;;) {
		char key[64];
		uint64_t v = 0;
		bool is_num;

		if (string(c, key, sizeof(key)) || expect(c, ':') || value(c, &v, &is_num))
			return -EINVAL;
		if (is_num && !strcmp(key, "base_host_virt_addr"))
			r->base = v, have_base = true;
		else if (is_num && !strcmp(key, "size"))
			r->size = v, have_size = true;
		else if (is_num && !strcmp(key, "offset"))
			r->offset = v, have_off = true;
		else if (is_num && !strcmp(key, "page_size"))
			r->page_size = v, have_ps = true;
		else if (is_num && !strcmp(key, "page_size_kib"))
			kib = v;
		skip_ws(c);
		if (*c->s == '}')
			break;
		if (expect(c, ','))
			return -EINVAL;
	}
	c->s++;
	if (!have_ps && kib)
		r->page_size = kib < 4096 ? kib * 1024 : kib, have_ps = true;
	if (!have_base || !have_size || !have_off)
		return fail(c, "a region lacks base_host_virt_addr, size or offset");
	if (!have_ps)
		r->page_size = 4096;
	return 0;
}

int layout_parse(const char *json, struct mmp_restore_region **out, unsigned *n,
		 char *why, size_t whylen)
{
	struct cursor c = { json, why, whylen };
	struct mmp_restore_region *regs = NULL;
	unsigned cnt = 0;

	if (expect(&c, '['))
		return -EINVAL;
	skip_ws(&c);
	while (*c.s != ']') {
		struct mmp_restore_region *grown;

		if (cnt == LAYOUT_MAX_REGIONS) {
			fail(&c, "more than " LAYOUT_MAX_REGIONS_STR " regions");
			goto bad;
		}
		grown = realloc(regs, (cnt + 1) * sizeof(*regs));
		if (!grown) {
			fail(&c, "out of memory");
			goto bad;
		}
		regs = grown;
		if (region(&c, &regs[cnt++]))
			goto bad;
		skip_ws(&c);
		if (*c.s == ',')
			c.s++;
		else if (*c.s != ']') {
			fail(&c, "expected ',' or ']' after a region");
			goto bad;
		}
		skip_ws(&c);
	}
	if (!cnt) {
		fail(&c, "no regions");
		goto bad;
	}
	*out = regs;
	*n = cnt;
	return 0;
bad:
	free(regs);
	return -EINVAL;
}

/* The array is complete: its top-level ']' has been seen. */
bool layout_complete(const char *buf, size_t len)
{
	int depth = 0;
	bool in_str = false;

	for (size_t i = 0; i < len; i++) {
		char ch = buf[i];

		if (in_str) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				in_str = false;
		} else if (ch == '"') {
			in_str = true;
		} else if (ch == '[' || ch == '{') {
			depth++;
		} else if ((ch == ']' || ch == '}') && --depth == 0) {
			return true;
		}
	}
	return false;
}
