// SPDX-License-Identifier: MIT
/* policy.c - memory policies: read them, and move them with the pages.
 *
 * migrate_pages(2) and move_pages(2) leave every policy alone (spec 1.1,
 * gotcha 2): after a move N0 -> N1 numa_maps still says bind:0 and new
 * faults land on node 0 again.  There is no remote mbind or set_mempolicy
 * (spec 1.3; pidfd_set_mempolicy was never merged), so the one supported
 * way to change another process's policies is its cgroup-v2 cpuset
 * (spec 1.4): writing cpuset.mems rebinds every VMA and task policy of the
 * tasks in the cgroup (mpol_rebind_mm; bind:0 became bind:1 in the guest)
 * and makes the kernel migrate what is left.
 *
 * nm_cpuset_rebind() therefore:
 *   P1  finds the process's cgroup from /proc/PID/cgroup ("0::/path");
 *   P2  when the process sits in the root cgroup, creates "numamove-PID",
 *       enables +cpuset in the root, and moves the process there (the
 *       whole thread group, via cgroup.procs); when it shares a non-root
 *       cgroup with other processes it refuses (-EBUSY): changing their
 *       memory is not what the user asked;
 *   P3  writes cpuset.mems = (effective mems - from) | to.
 * Known gap: the kernel's rebind is relative (nodes_remap), so with four
 * nodes 0-3 and "from 0 to 1", a bind:2 becomes bind:3.  We warn instead of
 * second-guessing the kernel.
 */
#include "nm-int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CGROUP_ROOT "/sys/fs/cgroup"

int nm_policy_nodes(const char *policy, struct nm_mask *nodes)
{
	const char *colon = strrchr(policy, ':');

	nm_mask_zero(nodes);
	if (!colon || !colon[1])
		return 0;
	if (nm_mask_parse(colon + 1, nodes, NULL))
		return 0;
	return nm_mask_weight(nodes) > 0;
}

size_t nm_policy_points_back(const struct nm_proc *p, const struct nm_mask *from)
{
	struct nm_mask nodes, both;
	size_t n = 0;

	for (size_t i = 0; i < p->nr_vmas; i++) {
		if (p->vmas[i].flags & (NM_VMA_SPECIAL | NM_VMA_IO))
			continue;
		if (!nm_policy_nodes(p->vmas[i].policy, &nodes))
			continue;
		nm_mask_and(&both, &nodes, from);
		/* "prefer:0" or "bind:0" both pull new faults to node 0. */
		if (nm_mask_weight(&both))
			n++;
	}
	return n;
}

static int write_file(const struct nm_host *h, const char *val, const char *path,
		      struct ob_err *err)
{
	int fd = nm_open(h, O_WRONLY, "%s", path);
	ssize_t n;

	if (fd < 0)
		return ob_err_set(err, fd, "open %s", path);
	n = write(fd, val, strlen(val));
	if (n < 0) {
		int rc = -errno;

		close(fd);
		return ob_err_set(err, rc, "write \"%s\" to %s", val, path);
	}
	close(fd);
	return 0;
}

/* P1: the cgroup-v2 path of pid, relative to the hierarchy root. */
static int proc_cgroup(const struct nm_host *h, pid_t pid, char *rel, size_t len,
		       struct ob_err *err)
{
	char buf[4096], *line;
	ssize_t n = nm_read_file(h, buf, sizeof(buf), "/proc/%d/cgroup", pid);

	if (n < 0)
		return ob_err_set(err, (int)n, "/proc/%d/cgroup", pid);
	for (line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (!strncmp(line, "0::", 3)) {
			snprintf(rel, len, "%.*s", (int)strcspn(line + 3, "\n"), line + 3);
			return 0;
		}
	}
	return ob_err_set(err, -EOPNOTSUPP, "process %d is not in a cgroup-v2 hierarchy", pid);
}

/* Does the cgroup at path hold processes other than pid? */
static int cgroup_shared(const struct nm_host *h, const char *path, pid_t pid)
{
	char buf[65536], *p = buf;
	ssize_t n = nm_read_file(h, buf, sizeof(buf), "%s/cgroup.procs", path);

	if (n < 0)
		return (int)n;
	while (*p) {
		char *end;
		long v = strtol(p, &end, 10);

		if (end == p)
			break;
		if (v != pid)
			return 1;
		p = end;
		while (*p == '\n')
			p++;
	}
	return 0;
}

int nm_cpuset_rebind(const struct nm_host *h, pid_t pid, const struct nm_mask *from,
		     const struct nm_mask *to, char *path, size_t plen, struct ob_err *err)
{
	char rel[1024], cg[1200], buf[4096], val[1024];
	struct nm_mask mems, tmp;
	int rc;

	rc = proc_cgroup(h, pid, rel, sizeof(rel), err);		/* P1 */
	if (rc)
		return rc;
	if (!strcmp(rel, "/")) {					/* P2 */
		char dir[1200];

		snprintf(cg, sizeof(cg), "%s/numamove-%d", CGROUP_ROOT, pid);
		rc = write_file(h, "+cpuset", CGROUP_ROOT "/cgroup.subtree_control", err);
		if (rc)
			return rc;
		snprintf(dir, sizeof(dir), "%s%s", h && h->root ? h->root : "", cg);
		if (mkdir(dir, 0755) && errno != EEXIST)
			return ob_err_set(err, -errno, "mkdir %s", cg);
		snprintf(val, sizeof(val), "%d", pid);
		snprintf(buf, sizeof(buf), "%s/cgroup.procs", cg);
		rc = write_file(h, val, buf, err);
		if (rc)
			return rc;
	} else {
		snprintf(cg, sizeof(cg), "%s%s", CGROUP_ROOT, rel);
		rc = cgroup_shared(h, cg, pid);
		if (rc < 0)
			return ob_err_set(err, rc, "%s/cgroup.procs", cg);
		if (rc)
			return ob_err_set(err, -EBUSY, "cgroup %s holds other processes too; "
					  "set its cpuset.mems yourself", rel);
	}
	snprintf(path, plen, "%s", cg);
	if (nm_read_file(h, buf, sizeof(buf), "%s/cpuset.mems.effective", cg) < 0)
		return ob_err_set(err, -EOPNOTSUPP, "%s: the cpuset controller is not enabled "
				  "(add +cpuset to the parent's cgroup.subtree_control)", cg);
	rc = nm_mask_parse(buf, &mems, err);
	if (rc)
		return rc;
	nm_mask_andnot(&tmp, &mems, from);				/* P3 */
	nm_mask_or(&mems, &tmp, to);
	if (nm_mask_format(&mems, val, sizeof(val)) < 0)
		return ob_err_set(err, -ENOSPC, "mems list too long");
	snprintf(buf, sizeof(buf), "%s/cpuset.mems", cg);
	return write_file(h, val, buf, err);
}
