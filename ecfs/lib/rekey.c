// SPDX-License-Identifier: MIT
/* rekey.c - add or remove key packets in a lower file's header, in place.
 *
 * Re-keying never touches data: the FEK stays, only the list of packets
 * that wrap it changes.  So the whole operation on one file is "replace the
 * metadata", and the question is only whether that replacement is atomic.
 *
 * In-file metadata.  The kernel reads only the first 4096-byte extent of
 * the header region (spec §2), and every packet must sit inside it; the
 * rest of the region is zeros and stays zeros.  So the new header is ONE
 * pwrite(2) of 4096 bytes at offset 0, followed by fdatasync(2):
 *   A1  A process killed (SIGKILL included) during the call cannot leave
 *       half of it: a buffered write into one page-cache page is copied
 *       under the page lock and the inode lock, and a fatal signal is only
 *       acted on between pages.  Readers (the kernel, ecfs) see the old or
 *       the new page.
 *   A2  A power cut: ext4 writes the page to disk as one 4096-byte block
 *       (its block size); on a disk with 4096-byte physical sectors that
 *       write is atomic.  On 512-byte-sector disks the drive may in theory
 *       tear a block; the first sector holds the size, the markers and the
 *       first packets, so a tear would still need to split a packet that
 *       straddles byte 512.  We accept that residual risk (it is the
 *       kernel's own assumption for every header size update) and document
 *       it; a copy-and-rename would rewrite the data and break hard links.
 *   A3  Because the FEK never changes, ANY complete header the file had or
 *       will have opens it with the keys of that header: an interrupted
 *       tree run leaves each file with the old packet set or the new one.
 * xattr metadata.  One fsetxattr(2) replaces the whole user.ecryptfs value;
 * ext4 does that in one journal transaction, so A1 and A2 hold with no
 * residual risk.
 *
 * The size field is written back as read just before: do not re-key a
 * tree that a mount (kernel or ecfs) has open read-write at the same time,
 * for the reason in spec §12 point 23.
 */
#include "ecfs-int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "ob/secmem.h"

int ecfs_metadata_write(int fd, const struct ecfs_header *h, struct ob_err *err)
{
	return ecfs_md_write(fd, h, false, true, err);
}

static bool sig_listed(const uint8_t (*list)[ECFS_SIG_BYTES], size_t n,
		       const uint8_t *sig)
{
	for (size_t i = 0; i < n; i++)
		if (!memcmp(list[i], sig, ECFS_SIG_BYTES))
			return true;
	return false;
}

static bool has_packet(const struct ecfs_header *h, uint8_t tag, const uint8_t *sig)
{
	for (unsigned i = 0; i < h->npackets; i++)
		if (h->packets[i].tag == tag && !memcmp(h->packets[i].sig, sig, ECFS_SIG_BYTES))
			return true;
	return false;
}

/* h has every added key and none of the removed: nothing to do, and no
 * need for a key that opens it (a file an interrupted run finished, or a
 * hard link to one this run did, whose only new key is an RSA public key). */
static bool rekey_done(const struct ecfs_header *h, const struct ecfs_rekey *rk)
{
	const struct ecfs_keys *add = rk->add;

	for (unsigned i = 0; i < h->npackets; i++)
		if (sig_listed(rk->remove, rk->nremove, h->packets[i].sig))
			return false;
	for (size_t i = 0; add && add->pass && i < ecfs_keyset_count(add->pass); i++) {
		const uint8_t *sig = ecfs_keyset_get(add->pass, i)->sig;

		if (!has_packet(h, ECFS_PKT_TAG3, sig) && !sig_listed(rk->remove, rk->nremove, sig))
			return false;
	}
	for (size_t i = 0; add && i < add->npub; i++) {
		const uint8_t *id = ecfs_pubkey_id(add->pub[i]);

		if (!has_packet(h, ECFS_PKT_TAG1, id) && !sig_listed(rk->remove, rk->nremove, id))
			return false;
	}
	return true;
}

/* The new packet list: h's minus the removed, plus the added. */
static int rekey_build(const struct ecfs_header *h, const struct ecfs_fek *fek,
		       const struct ecfs_rekey *rk, struct ecfs_header *nh,
		       bool *changed, struct ob_err *err)
{
	const struct ecfs_keys *add = rk->add;
	int rc;

	*nh = *h;
	nh->npackets = 0;
	*changed = false;
	for (unsigned i = 0; i < h->npackets; i++) {
		if (sig_listed(rk->remove, rk->nremove, h->packets[i].sig)) {
			*changed = true;
			continue;
		}
		nh->packets[nh->npackets++] = h->packets[i];
	}
	for (size_t i = 0; add && add->pass && i < ecfs_keyset_count(add->pass); i++) {
		const struct ecfs_key *k = ecfs_keyset_get(add->pass, i);

		if (has_packet(nh, ECFS_PKT_TAG3, k->sig) ||
		    sig_listed(rk->remove, rk->nremove, k->sig))
			continue;
		rc = ecfs_fek_wrap_into(fek, k, nh, err);
		if (rc)
			return rc;
		*changed = true;
	}
	for (size_t i = 0; add && i < add->npub; i++) {
		const uint8_t *id = ecfs_pubkey_id(add->pub[i]);

		if (has_packet(nh, ECFS_PKT_TAG1, id) || sig_listed(rk->remove, rk->nremove, id))
			continue;
		rc = ecfs_fek_wrap_pub(fek, add->pub[i], nh, err);
		if (rc)
			return rc;
		*changed = true;
	}
	if (nh->npackets == 0)
		return ob_err_set(err, -EPERM, "removing every key packet would leave the file unreadable");
	return 0;
}

int ecfs_rekey_fd(int fd, const struct ecfs_rekey *rk, bool *changed,
		  struct ob_err *err)
{
	struct ecfs_header *h = malloc(sizeof(*h)), *nh = malloc(sizeof(*nh));
	uint8_t *buf = calloc(1, ECFS_EXTENT_SIZE);
	struct ecfs_fek *fek = NULL;
	bool ch = false;
	int rc;

	if (!h || !nh || !buf) {
		rc = ob_err_set(err, -ENOMEM, "allocating headers");
		goto out;
	}
	rc = ecfs_metadata_read(fd, ECFS_OPEN_XATTR_OK, h, err);
	if (rc || rekey_done(h, rk))
		goto out;
	rc = ecfs_fek_unwrap_any(h, rk->open_keys, &fek, NULL, err);
	/* A file an interrupted run already switched has the added keys and
	 * no longer the removed ones: the added keys open it (and it comes
	 * out unchanged), so running the same command again finishes. */
	if (rc == -ENOKEY && rk->add)
		rc = ecfs_fek_unwrap_any(h, rk->add, &fek, NULL, err);
	if (rc)
		goto out;
	rc = rekey_build(h, fek, rk, nh, &ch, err);
	if (rc || !ch)
		goto out;
	/* Check before writing that the new set fits the first extent and
	 * parses back (a dry run tells the same). */
	{
		struct ecfs_header nh2 = *nh;
		ssize_t n;

		nh2.in_xattr = true;	/* serialise just the fields + packets */
		n = ecfs_header_write(&nh2, buf, ECFS_EXTENT_SIZE, err);
		if (n < 0) {
			rc = (int)n;
			goto out;
		}
		rc = ecfs_header_parse(buf, (size_t)n, true, h, err);
		if (rc == 0 && h->npackets != nh->npackets)
			rc = ob_err_set(err, -EIO, "the new header parses back with %u packets, not %u",
					h->npackets, nh->npackets);
		if (rc)
			goto out;
	}
	if (!rk->dry_run)
		rc = ecfs_md_write(fd, nh, false, true, err);
out:
	if (changed)
		*changed = ch;
	ecfs_fek_free(fek);
	free(buf);
	free(h);
	free(nh);
	return rc;
}
