// SPDX-License-Identifier: MIT
/* mask.c - node and CPU masks: the kernel's list format and node remapping.
 *
 * The kernel prints node and CPU sets as lists ("0-3,8") in sysfs,
 * /proc/PID/status and numa_maps, and users type them on the command line.
 * One parser serves all of them, so a format quirk is fixed in one place.
 *
 * nm_nodemap_build() gives the per-node answer of migrate_pages(2) (spec
 * 1.1): do_migrate_pages() in mm/mempolicy.c moves source node s to
 * node_remap(s, from, to), i.e. the (ord(s) mod |to|)-th node of to, and
 * skips a source that is also a target when |from| != |to|.  We compute the
 * target once per node and then move page by page with move_pages(2).
 */
#include "numamove.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NM_NLONGS (sizeof(((struct nm_mask *)0)->bits) / sizeof(unsigned long))

int nm_mask_weight(const struct nm_mask *m)
{
	int w = 0;

	for (size_t i = 0; i < NM_NLONGS; i++)
		w += __builtin_popcountl(m->bits[i]);
	return w;
}

int nm_mask_next(const struct nm_mask *m, int bit)
{
	if (bit < 0)
		bit = 0;
	while (bit < NM_MASK_BITS) {
		unsigned long w = m->bits[bit / NM_LONG_BITS] >> (bit % NM_LONG_BITS);

		if (w)
			return bit + __builtin_ctzl(w);
		bit = (bit / NM_LONG_BITS + 1) * NM_LONG_BITS;
	}
	return -1;
}

void nm_mask_andnot(struct nm_mask *out, const struct nm_mask *a, const struct nm_mask *b)
{
	for (size_t i = 0; i < NM_NLONGS; i++)
		out->bits[i] = a->bits[i] & ~b->bits[i];
}

void nm_mask_or(struct nm_mask *out, const struct nm_mask *a, const struct nm_mask *b)
{
	for (size_t i = 0; i < NM_NLONGS; i++)
		out->bits[i] = a->bits[i] | b->bits[i];
}

void nm_mask_and(struct nm_mask *out, const struct nm_mask *a, const struct nm_mask *b)
{
	for (size_t i = 0; i < NM_NLONGS; i++)
		out->bits[i] = a->bits[i] & b->bits[i];
}

bool nm_mask_equal(const struct nm_mask *a, const struct nm_mask *b)
{
	return memcmp(a->bits, b->bits, sizeof(a->bits)) == 0;
}

bool nm_mask_subset(const struct nm_mask *sub, const struct nm_mask *super)
{
	for (size_t i = 0; i < NM_NLONGS; i++)
		if (sub->bits[i] & ~super->bits[i])
			return false;
	return true;
}

static int parse_num(const char **p, long *out)
{
	char *end;

	if (!isdigit((unsigned char)**p))
		return -EINVAL;
	errno = 0;
	*out = strtol(*p, &end, 10);
	if (errno || *out >= NM_MASK_BITS)
		return -ERANGE;
	*p = end;
	return 0;
}

int nm_mask_parse(const char *s, struct nm_mask *m, struct ob_err *err)
{
	const char *p = s;
	long a, b;
	int rc;

	nm_mask_zero(m);
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\n' || *p == '\0')
		return 0;
	for (;;) {
		rc = parse_num(&p, &a);
		if (rc)
			goto bad;
		b = a;
		if (*p == '-') {
			p++;
			rc = parse_num(&p, &b);
			if (rc)
				goto bad;
			if (b < a) {
				rc = -EINVAL;
				goto bad;
			}
		}
		for (long i = a; i <= b; i++)
			nm_mask_set(m, (int)i);
		if (*p != ',')
			break;
		p++;
	}
	while (*p == ' ' || *p == '\t' || *p == '\n')
		p++;
	if (*p == '\0')
		return 0;
	rc = -EINVAL;
bad:
	if (rc == -ERANGE)
		return ob_err_set(err, rc, "bad list \"%s\" (numbers must be below %d)", s,
				  NM_MASK_BITS);
	return ob_err_set(err, rc, "bad list \"%s\" (expected e.g. 0-3,8; stopped at \"%s\")",
			  s, p);
}

int nm_mask_format(const struct nm_mask *m, char *buf, size_t len)
{
	size_t n = 0;
	int bit = nm_mask_next(m, 0);

	if (len == 0)
		return -ENOSPC;
	buf[0] = '\0';
	while (bit >= 0) {
		int end = bit;
		int w;

		while (nm_mask_isset(m, end + 1))
			end++;
		if (end == bit)
			w = snprintf(buf + n, len - n, "%s%d", n ? "," : "", bit);
		else
			w = snprintf(buf + n, len - n, "%s%d-%d", n ? "," : "", bit, end);
		if (w < 0 || (size_t)w >= len - n)
			return -ENOSPC;
		n += (size_t)w;
		bit = nm_mask_next(m, end + 1);
	}
	return (int)n;
}

/* The n-th set bit of m (n counts from 0), or -1. */
static int nth_bit(const struct nm_mask *m, int n)
{
	int bit;

	nm_mask_for_each(bit, m)
		if (n-- == 0)
			return bit;
	return -1;
}

static int ord_bit(const struct nm_mask *m, int bit)
{
	int b, n = 0;

	nm_mask_for_each(b, m) {
		if (b == bit)
			return n;
		n++;
	}
	return -1;
}

int nm_nodemap_build(const struct nm_mask *from, const struct nm_mask *to, int *map,
		     struct ob_err *err)
{
	int wf = nm_mask_weight(from), wt = nm_mask_weight(to);
	int s;

	for (int i = 0; i < NM_MASK_BITS; i++)
		map[i] = -1;
	if (!wf)
		return ob_err_set(err, -EINVAL, "no source node given");
	if (!wt)
		return ob_err_set(err, -EINVAL, "no target node given");
	nm_mask_for_each(s, from) {
		int d;

		if (wf != wt && nm_mask_isset(to, s))
			continue;
		d = nth_bit(to, ord_bit(from, s) % wt);
		if (d != s)
			map[s] = d;
	}
	return 0;
}
