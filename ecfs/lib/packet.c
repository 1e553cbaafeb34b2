// SPDX-License-Identifier: MIT
/* packet.c - the OpenPGP-style packet length field eCryptfs uses (spec §3.1).
 *
 * One byte below 192; two bytes ((b0-192)*256 + b1 + 192) up to 8383.  The
 * kernel's writer claims to handle up to 65535 but produces bytes its own
 * reader rejects beyond 8383, so we refuse to write them.  Five-byte and
 * partial lengths (first byte >= 224) are errors, as in the kernel.
 */
#include "ecfs-int.h"

#include <errno.h>

#define PKT_LEN_1_MAX	191
#define PKT_LEN_2_MAX	8383

int ecfs_packet_len_write(uint8_t *out, size_t len)
{
	if (len <= PKT_LEN_1_MAX) {
		out[0] = (uint8_t)len;
		return 1;
	}
	if (len <= PKT_LEN_2_MAX) {
		out[0] = (uint8_t)((len - 192) / 256 + 192);
		out[1] = (uint8_t)((len - 192) % 256);
		return 2;
	}
	return -EINVAL;
}

int ecfs_packet_len_parse(const uint8_t *in, size_t avail, size_t *len)
{
	if (avail < 1)
		return -EINVAL;
	if (in[0] < 192) {
		*len = in[0];
		return 1;
	}
	if (in[0] < 224) {
		if (avail < 2)
			return -EINVAL;
		*len = (size_t)(in[0] - 192) * 256 + in[1] + 192;
		return 2;
	}
	return -EINVAL;
}
