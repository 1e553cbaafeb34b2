/* SPDX-License-Identifier: MIT */
/*
 * throttle.c - I/O limits as cgroup io.max has them: IOPS and bytes per
 * second, read and write separately, each a token bucket.
 *
 * A bucket is kept as the time it is next empty (GCRA): a request of
 * cost c at rate r moves that time on by c/r; it may start while the time
 * is no more than BURST_NS ahead of now.  So a limit is an average over a
 * fraction of a second, one big request may always start on an idle
 * bucket, and a limit changed at run time applies from the next request.
 * The queue checks an export's limits as it dispatches (so the elevator -
 * the fair scheduler's shares - still picks who goes next); the server
 * checks a client's as it reads the request.  IOPS count the clients'
 * requests (bios), not merged backend requests, as blk-throttle counts
 * bios.  TRIM and WRITE_ZEROES count
 * as writes, as discards do in io.max; FLUSH is never held.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "blkd-int.h"
#include "ob/opt.h"

#define BURST_NS 100000000ull		/* 100 ms of the rate may come at once */

static const char *const limit_keys[BLKD_LIM_NR] = {
	[BLKD_LIM_RIOPS] = "riops", [BLKD_LIM_WIOPS] = "wiops",
	[BLKD_LIM_RBPS] = "rbps", [BLKD_LIM_WBPS] = "wbps",
};

int blkd_limit_parse(const char *spec, struct blkd_limit *lim, struct ob_err *err)
{
	char buf[256], *save = NULL;

	if (strlen(spec) >= sizeof(buf))
		return ob_err_set(err, -EINVAL, "limit too long");
	strcpy(buf, spec);
	for (char *kv = strtok_r(buf, ", ", &save); kv; kv = strtok_r(NULL, ", ", &save)) {
		char *eq = strchr(kv, '=');
		int k;

		if (!eq)
			return ob_err_set(err, -EINVAL, "'%s': expected KEY=VALUE", kv);
		*eq = '\0';
		for (k = 0; k < BLKD_LIM_NR && strcmp(kv, limit_keys[k]); k++)
			;
		if (k == BLKD_LIM_NR)
			return ob_err_set(err, -EINVAL, "unknown key '%s' (riops, wiops, rbps, wbps)",
					  kv);
		if (!strcmp(eq + 1, "max"))
			lim->v[k] = 0;
		else if ((k == BLKD_LIM_RBPS || k == BLKD_LIM_WBPS ?
			  ob_parse_size(eq + 1, 1, UINT64_MAX >> 20, &lim->v[k]) :
			  ob_parse_uint(eq + 1, 1, 1u << 30, &lim->v[k])))
			return ob_err_set(err, -EINVAL, "%s: '%s' is not a positive %s or max", kv,
					  eq + 1, k >= BLKD_LIM_RBPS ? "size" : "number");
	}
	return 0;
}

size_t blkd_limit_format(const struct blkd_limit *lim, char *buf, size_t len)
{
	size_t n = 0;

	for (int k = 0; k < BLKD_LIM_NR; k++) {
		int r = lim->v[k] ? snprintf(buf + n, n < len ? len - n : 0, "%s%s=%llu",
					     k ? " " : "", limit_keys[k],
					     (unsigned long long)lim->v[k])
				  : snprintf(buf + n, n < len ? len - n : 0, "%s%s=max",
					     k ? " " : "", limit_keys[k]);

		if (r > 0)
			n += (size_t)r;
	}
	return n;
}

bool blkd_limit_any(const struct blkd_limit *lim)
{
	for (int k = 0; k < BLKD_LIM_NR; k++)
		if (lim->v[k])
			return true;
	return false;
}

static uint64_t cost_ns(uint64_t units, uint64_t rate)
{
	/* units / rate seconds, without overflow for sizes up to 2^44 */
	return units >= (UINT64_MAX / 1000000000ull) ? units / rate * 1000000000ull
						       : units * 1000000000ull / rate;
}

uint64_t blkd_throttle_check(struct blkd_throttle *t, const struct blkd_limit *lim, bool write,
			     unsigned ios, uint64_t bytes, uint64_t now)
{
	int ki = write ? BLKD_LIM_WIOPS : BLKD_LIM_RIOPS;
	int kb = write ? BLKD_LIM_WBPS : BLKD_LIM_RBPS;
	uint64_t wait = 0;

	for (int i = 0; i < 2; i++) {
		int k = i ? kb : ki;

		if (!lim->v[k])
			continue;
		if (t->tat[k] < now)
			t->tat[k] = now;
		if (t->tat[k] > now + BURST_NS && t->tat[k] - now - BURST_NS > wait)
			wait = t->tat[k] - now - BURST_NS;
	}
	if (wait) {
		if (!t->blocked_since)
			t->blocked_since = now;
		return wait;
	}
	if (lim->v[ki])
		t->tat[ki] += cost_ns(ios, lim->v[ki]);
	if (lim->v[kb])
		t->tat[kb] += cost_ns(bytes, lim->v[kb]);
	if (t->blocked_since) {
		t->throttled_ns += now - t->blocked_since;
		t->blocked_since = 0;
	}
	return 0;
}

bool blkd_op_is_write(int op)
{
	return op == BLKD_OP_WRITE || op == BLKD_OP_TRIM || op == BLKD_OP_ZERO;
}
