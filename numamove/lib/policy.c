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
 * nm_cpuset_plan() decides, without changing anything, and
 * nm_cpuset_apply() does it, so the front end can check the plan with the
 * others and then set the cpuset *before* moving pages (a target outside
 * the old cpuset could not receive them; issue 21):
 *   P1  find the process's cgroup from /proc/PID/cgroup ("0::/path");
 *   P2  when the process sits in the root cgroup, create "numamove-PID",
 *       enable +cpuset in the root, and move the process there (the whole
 *       thread group, via cgroup.procs); when it shares a non-root cgroup
 *       with other processes refuse (-EBUSY): changing their memory is not
 *       what the user asked; a target the parent cgroup does not allow is
 *       refused too (-EPERM: the kernel would reject the write);
 *   P3  write cpuset.mems = (effective mems - from) | to.
 * A numamove-PID cgroup outlives its process (the kernel keeps empty
 * cgroups); nm_cpuset_sweep() removes the empty ones, and the front end
 * calls it on every --policy run.
 * Known gap: the kernel's rebind is relative (nodes_remap), so with four
 * nodes 0-3 and "from 0 to 1", a bind:2 becomes bind:3.  We warn instead of
 * second-guessing the kernel.
 */
#include "nm-int.h"

#include <dirent.h>
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

/* Read a cgroup's cpuset.mems.effective. */
static int cgroup_mems(const struct nm_host *h, const char *cg, struct nm_mask *mems,
		       struct ob_err *err)
{
	char buf[4096];

	if (nm_read_file(h, buf, sizeof(buf), "%s/cpuset.mems.effective", cg) < 0)
		return ob_err_set(err, -EOPNOTSUPP, "%s: the cpuset controller is not enabled "
				  "(add +cpuset to the parent's cgroup.subtree_control)", cg);
	return nm_mask_parse(buf, mems, err);
}

int nm_cpuset_plan(const struct nm_host *h, pid_t pid, const struct nm_mask *from,
		   const struct nm_mask *to, struct nm_cpuset_plan *pl, struct ob_err *err)
{
	char rel[1024], parent[sizeof(pl->cgroup)], list[256];
	struct nm_mask base, tmp, bad;
	char *slash;
	int rc;

	memset(pl, 0, sizeof(*pl));
	rc = proc_cgroup(h, pid, rel, sizeof(rel), err);		/* P1 */
	if (rc)
		return rc;
	if (!strcmp(rel, "/")) {					/* P2 */
		snprintf(pl->cgroup, sizeof(pl->cgroup), "%s/numamove-%d", CGROUP_ROOT, pid);
		pl->create = true;
		snprintf(parent, sizeof(parent), "%s", CGROUP_ROOT);
		rc = cgroup_mems(h, parent, &base, err);
	} else {
		snprintf(pl->cgroup, sizeof(pl->cgroup), "%s%s", CGROUP_ROOT, rel);
		rc = cgroup_shared(h, pl->cgroup, pid);
		if (rc < 0)
			return ob_err_set(err, rc, "%s/cgroup.procs", pl->cgroup);
		if (rc)
			return ob_err_set(err, -EBUSY, "cgroup %s holds other processes too; "
					  "set its cpuset.mems yourself", rel);
		rc = cgroup_mems(h, pl->cgroup, &base, err);
		if (rc)
			return rc;
		snprintf(parent, sizeof(parent), "%s", pl->cgroup);
		slash = strrchr(parent, '/');
		if (slash)
			*slash = '\0';
		rc = cgroup_mems(h, parent, &tmp, err);
		if (!rc && nm_mask_weight(&tmp) == 0)
			rc = ob_err_set(err, -EOPNOTSUPP, "%s: no cpuset.mems.effective", parent);
		/* What the parent allows bounds what we may write. */
		if (!rc) {
			nm_mask_andnot(&bad, to, &tmp);
			if (nm_mask_weight(&bad)) {
				nm_mask_format(&bad, list, sizeof(list));
				return ob_err_set(err, -EPERM, "node %s is outside the cpuset of "
						  "the parent cgroup %s", list, parent);
			}
		}
	}
	if (rc)
		return rc;
	nm_mask_andnot(&tmp, &base, from);				/* P3 */
	nm_mask_or(&pl->mems, &tmp, to);
	return 0;
}

int nm_cpuset_apply(const struct nm_host *h, pid_t pid, const struct nm_cpuset_plan *pl,
		    struct ob_err *err)
{
	char buf[1300], val[1024];
	int rc;

	if (pl->create) {
		char dir[1300];

		rc = write_file(h, "+cpuset", CGROUP_ROOT "/cgroup.subtree_control", err);
		if (rc)
			return rc;
		snprintf(dir, sizeof(dir), "%s%s", h && h->root ? h->root : "", pl->cgroup);
		if (mkdir(dir, 0755) && errno != EEXIST)
			return ob_err_set(err, -errno, "mkdir %s", pl->cgroup);
		snprintf(val, sizeof(val), "%d", pid);
		snprintf(buf, sizeof(buf), "%s/cgroup.procs", pl->cgroup);
		rc = write_file(h, val, buf, err);
		if (rc)
			return rc;
	}
	if (nm_mask_format(&pl->mems, val, sizeof(val)) < 0)
		return ob_err_set(err, -ENOSPC, "mems list too long");
	snprintf(buf, sizeof(buf), "%s/cpuset.mems", pl->cgroup);
	return write_file(h, val, buf, err);
}

int nm_cpuset_rebind(const struct nm_host *h, pid_t pid, const struct nm_mask *from,
		     const struct nm_mask *to, char *path, size_t plen, struct ob_err *err)
{
	struct nm_cpuset_plan pl;
	int rc = nm_cpuset_plan(h, pid, from, to, &pl, err);

	if (rc)
		return rc;
	snprintf(path, plen, "%s", pl.cgroup);
	return nm_cpuset_apply(h, pid, &pl, err);
}

int nm_cpuset_sweep(const struct nm_host *h)
{
	char root[1200], dir[1500];
	struct dirent *d;
	DIR *dh;
	int n = 0;

	snprintf(root, sizeof(root), "%s%s", h && h->root ? h->root : "", CGROUP_ROOT);
	dh = opendir(root);
	if (!dh)
		return 0;
	while ((d = readdir(dh))) {
		char *end;

		if (strncmp(d->d_name, "numamove-", 9))
			continue;
		strtol(d->d_name + 9, &end, 10);
		if (end == d->d_name + 9 || *end)
			continue;
		/* rmdir fails with EBUSY while a process is in it: only the
		 * cgroups of processes that have exited go. */
		snprintf(dir, sizeof(dir), "%s/%s", root, d->d_name);
		if (!rmdir(dir))
			n++;
	}
	closedir(dh);
	return n;
}
