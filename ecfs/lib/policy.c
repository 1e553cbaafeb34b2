// SPDX-License-Identifier: MIT
/* policy.c - per-file cipher policy: which cipher and key size a new file gets.
 *
 * A policy is a short text file kept in the lower directory's key
 * directory (see cli/keyopts-pk.c for where that is), one rule a line:
 *
 *     # PATTERN   CIPHER   [KEY_BYTES]
 *     *.kdbx      aes      32
 *     *.tar.*     blowfish 56
 *     *           aes      16
 *
 * The first rule whose pattern matches the new file's base name with
 * fnmatch(3) (no flags: '*' matches a leading dot too) wins; no match
 * leaves the mount's ecryptfs_cipher/ecryptfs_key_bytes.  Base names only:
 * a FUSE create knows the parent's inode and the new name, not a path.
 *
 * Every rule is checked at parse time against what the kernel can read
 * (a cipher code exists for the name and size, and a passphrase can wrap
 * a key of that size: AES-192 padded, others whole blocks), so a policy
 * can never make a file the kernel cannot open.  The cipher is recorded
 * in each file's Tag 3 packet, so readers need no policy.
 */
#include "ecfs-int.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define POLICY_MAX_RULES	64
#define POLICY_MAX_BYTES	16384
#define PATTERN_MAX		256

struct policy_rule {
	char pattern[PATTERN_MAX];
	const struct ecfs_cipher_info *ci;
	size_t key_bytes;
};

struct ecfs_policy {
	size_t n;
	struct policy_rule rules[POLICY_MAX_RULES];
};

static bool wrappable(const struct ecfs_cipher_info *ci, size_t kb)
{
	if (kb < ci->key_min || kb > ci->key_max)
		return false;
	if (ci->key_step && (kb - ci->key_min) % ci->key_step)
		return false;
	return ci->code == ECFS_CIPHER_AES_192 || kb % ci->block == 0;
}

static int parse_line(char *line, unsigned lineno, struct ecfs_policy *p,
		      struct ob_err *err)
{
	char *save = NULL, *pat, *name, *kbs, *extra, *end;
	const struct ecfs_cipher_info *ci;
	struct policy_rule *r;
	unsigned long kb = 0;

	pat = strtok_r(line, " \t\r", &save);
	if (!pat || pat[0] == '#')
		return 0;
	name = strtok_r(NULL, " \t\r", &save);
	kbs = strtok_r(NULL, " \t\r", &save);
	extra = strtok_r(NULL, " \t\r", &save);
	if (!name || (extra && extra[0] != '#'))
		return ob_err_set(err, -EINVAL, "policy line %u: expected PATTERN CIPHER [KEY_BYTES]",
				  lineno);
	if (kbs && kbs[0] != '#') {
		kb = strtoul(kbs, &end, 10);
		if (!*kbs || *end || kb == 0 || kb > ECFS_MAX_KEY_BYTES)
			return ob_err_set(err, -EINVAL, "policy line %u: '%s' is not a key size in bytes",
					  lineno, kbs);
	}
	ci = ecfs_cipher_by_name(name, kb);
	if (!ci)
		return ob_err_set(err, -EINVAL, "policy line %u: unknown cipher '%s'%s", lineno, name,
				  kb ? " for that key size" : "");
	if (kb == 0)
		kb = ci->key_default;
	if (!wrappable(ci, kb))
		return ob_err_set(err, -EINVAL, "policy line %u: %s does not take a %lu-byte key the kernel can wrap",
				  lineno, ci->name, kb);
	if (strlen(pat) >= PATTERN_MAX)
		return ob_err_set(err, -EINVAL, "policy line %u: pattern longer than %d bytes",
				  lineno, PATTERN_MAX - 1);
	if (p->n == POLICY_MAX_RULES)
		return ob_err_set(err, -EINVAL, "policy line %u: more than %d rules", lineno,
				  POLICY_MAX_RULES);
	r = &p->rules[p->n++];
	strcpy(r->pattern, pat);
	r->ci = ci;
	r->key_bytes = kb;
	return 0;
}

int ecfs_policy_parse(const char *buf, size_t len, struct ecfs_policy **out,
		      struct ob_err *err)
{
	struct ecfs_policy *p;
	char *copy;
	unsigned lineno = 0;
	size_t pos = 0;
	int rc = 0;

	if (len > POLICY_MAX_BYTES)
		return ob_err_set(err, -EINVAL, "policy of %zu bytes (at most %d)", len,
				  POLICY_MAX_BYTES);
	p = calloc(1, sizeof(*p));
	copy = malloc(len + 1);
	if (!p || !copy) {
		free(p);
		free(copy);
		return ob_err_set(err, -ENOMEM, "allocating the policy");
	}
	memcpy(copy, buf, len);
	copy[len] = 0;
	if (strlen(copy) != len) {
		rc = ob_err_set(err, -EINVAL, "policy holds a NUL byte");
		goto out;
	}
	while (pos < len && !rc) {
		char *nl = strchr(copy + pos, '\n');
		size_t end = nl ? (size_t)(nl - copy) : len;

		copy[end] = 0;
		rc = parse_line(copy + pos, ++lineno, p, err);
		pos = end + 1;
	}
out:
	free(copy);
	if (rc) {
		free(p);
		return rc;
	}
	*out = p;
	return 0;
}

int ecfs_policy_load(const char *path, struct ecfs_policy **out, struct ob_err *err)
{
	char buf[POLICY_MAX_BYTES + 1];
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return ob_err_set(err, -errno, "opening policy %s", path);
	for (;;) {
		ssize_t n = read(fd, buf + got, sizeof(buf) - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			close(fd);
			return ob_err_set(err, rc, "reading policy %s", path);
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got == sizeof(buf))
			break;
	}
	close(fd);
	rc = ecfs_policy_parse(buf, got, out, err);
	if (rc)
		ob_err_prefix(err, "%s", path);
	return rc;
}

void ecfs_policy_free(struct ecfs_policy *p)
{
	free(p);
}

int ecfs_policy_match(const struct ecfs_policy *p, const char *name,
		      const struct ecfs_cipher_info **ci, size_t *key_bytes)
{
	if (!p)
		return 0;
	for (size_t i = 0; i < p->n; i++)
		if (fnmatch(p->rules[i].pattern, name, 0) == 0) {
			*ci = p->rules[i].ci;
			*key_bytes = p->rules[i].key_bytes;
			return 1;
		}
	return 0;
}

size_t ecfs_policy_count(const struct ecfs_policy *p)
{
	return p ? p->n : 0;
}
