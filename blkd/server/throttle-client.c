/* SPDX-License-Identifier: MIT */
/*
 * throttle-client.c - each client's I/O limits (--limit client:..., blkd
 * ctl limit): checked as the connection's reader takes a request in, so a
 * client over its limit is simply not read from - its requests never
 * reach the queue, where they would hold others back - and its connection
 * is parked until its buckets have room (conn.c, the deadline wakes it).
 * The export-wide limits are the queue's (lib/throttle.c at dispatch).
 */
#include "server.h"
#include "ob/clock.h"

void blkd_client_limit_get(const struct blkd_export *e, struct blkd_limit *lim)
{
	for (int k = 0; k < BLKD_LIM_NR; k++)
		lim->v[k] = __atomic_load_n(&e->client_limit.v[k], __ATOMIC_RELAXED);
}

void blkd_client_limit_set(struct blkd_export *e, const struct blkd_limit *lim)
{
	for (int k = 0; k < BLKD_LIM_NR; k++)
		__atomic_store_n(&e->client_limit.v[k], lim->v[k], __ATOMIC_RELAXED);
}

uint64_t blkd_client_throttle(struct blkd_conn *c, uint16_t nbd_type, uint32_t len)
{
	struct blkd_limit lim;
	uint64_t wait;
	bool write;

	if (nbd_type != NBD_CMD_READ && nbd_type != NBD_CMD_WRITE && nbd_type != NBD_CMD_TRIM &&
	    nbd_type != NBD_CMD_WRITE_ZEROES)
		return 0;
	blkd_client_limit_get(c->exp, &lim);
	if (!blkd_limit_any(&lim))
		return 0;
	write = nbd_type != NBD_CMD_READ;
	wait = blkd_throttle_check(&c->thr, &lim, write, 1,
				   nbd_type == NBD_CMD_READ || nbd_type == NBD_CMD_WRITE ? len : 0,
				   ob_mono_ns());
	__atomic_store_n(&c->throttled_ns, c->thr.throttled_ns, __ATOMIC_RELAXED);
	return wait;
}
