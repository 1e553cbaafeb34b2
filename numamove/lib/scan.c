// SPDX-License-Identifier: MIT
/* scan.c - one process as the mover sees it: mappings, present pages, nodes.
 *
 * Three procfs files and one system call (spec 1.2, 1.5):
 *   smaps      every mapping with its VmFlags (lo = mlocked, io/pf = VM_IO /
 *              PFNMAP, ht = hugetlb), KernelPageSize and Rss;
 *   numa_maps  the memory policy of each mapping and how many pages it has;
 *   pagemap    which pages are present (bit 63), swapped (62), file or
 *              shared-anon (61), and mapped by this process only (56);
 *   move_pages(nodes = NULL)  the node of each present page, the only cheap
 *              per-page "where is it" query.
 * numa_maps alone is not enough: it covers present pages per mapping but not
 * their addresses, and move_pages needs addresses.  Walking pagemap first
 * keeps the query (and later the move) to present pages only.
 *
 * Cost: pagemap costs 8 bytes per virtual page, so a mapping of 16 TiB (an
 * AddressSanitizer shadow) would cost 32 GB of reads.  Mappings larger than
 * NM_SCAN_MAX_BYTES are marked NM_VMA_SKIPPED and reported as unscanned
 * instead (known gap; PAGEMAP_SCAN, Linux 6.7, would fix it).
 */
#include "nm-int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define QUERY_BATCH	16384	/* pages per query call: a query is a page-table walk */
#define PAGEMAP_CHUNK	4096	/* entries per pagemap read (32 KiB) */

void nm_vmas_free(struct nm_vma *vmas, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		free(vmas[i].name);
	free(vmas);
}

static unsigned int vmflags_parse(const char *s)
{
	unsigned int f = 0;
	char tok[3];

	while (*s) {
		while (*s == ' ')
			s++;
		if (!s[0] || !s[1])
			break;
		tok[0] = s[0];
		tok[1] = s[1];
		tok[2] = '\0';
		if (!strcmp(tok, "lo"))
			f |= NM_VMA_LOCKED;
		else if (!strcmp(tok, "io") || !strcmp(tok, "pf"))
			f |= NM_VMA_IO;
		else if (!strcmp(tok, "ht"))
			f |= NM_VMA_HUGETLB;
		else if (!strcmp(tok, "nh"))
			f |= NM_VMA_NOHUGE;
		else if (!strcmp(tok, "hg"))
			f |= NM_VMA_HUGEPAGE;
		s += 2;
		while (*s && *s != ' ')
			s++;
	}
	return f;
}

static unsigned int name_flags(const char *name, unsigned long inode)
{
	static const char *const special[] = { "[vdso]", "[vvar]", "[vvar_vclock]",
					       "[vsyscall]", "[vectors]", "[sigpage]", "[uprobes]" };

	for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++)
		if (!strcmp(name, special[i]))
			return NM_VMA_SPECIAL;
	if (!strcmp(name, "[heap]"))
		return NM_VMA_HEAP;
	if (!strncmp(name, "[stack", 6))
		return NM_VMA_STACK;
	if (inode)
		return NM_VMA_FILE;
	return 0;
}

int nm_smaps_parse(FILE *f, struct nm_vma **vmas, size_t *nr, struct ob_err *err)
{
	struct nm_vma *v = NULL, *cur = NULL;
	size_t n = 0, cap = 0;
	char *line = NULL;
	size_t llen = 0;
	int rc = 0;

	while (getline(&line, &llen, f) > 0) {
		unsigned long start, end, off, inode;
		unsigned int maj, mnr;
		char perms[8];
		int pos = 0;

		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "%lx-%lx %7s %lx %x:%x %lu %n", &start, &end, perms, &off, &maj,
			   &mnr, &inode, &pos) >= 7 && pos > 0) {
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 64;
				struct nm_vma *nv = realloc(v, ncap * sizeof(*v));

				if (!nv) {
					rc = ob_err_set(err, -ENOMEM, "smaps: %zu mappings", n);
					goto fail;
				}
				v = nv;
				cap = ncap;
			}
			cur = &v[n];
			memset(cur, 0, sizeof(*cur));
			cur->start = start;
			cur->end = end;
			cur->pagesize = 4096;
			snprintf(cur->perms, sizeof(cur->perms), "%.4s", perms);
			snprintf(cur->policy, sizeof(cur->policy), "?");
			cur->name = strdup(line + pos);
			if (!cur->name) {
				rc = ob_err_set(err, -ENOMEM, "smaps: name");
				goto fail;
			}
			cur->flags = name_flags(cur->name, inode);
			if (perms[3] == 's')
				cur->flags |= NM_VMA_SHARED;
			n++;
			continue;
		}
		if (!cur)
			continue;
		if (!strncmp(line, "VmFlags:", 8))
			cur->flags |= vmflags_parse(line + 8);
		else if (!strncmp(line, "KernelPageSize:", 15))
			cur->pagesize = strtoul(line + 15, NULL, 10) * 1024;
		else if (!strncmp(line, "Rss:", 4))
			cur->rss_kb = strtoull(line + 4, NULL, 10);
	}
	free(line);
	*vmas = v;
	*nr = n;
	return 0;
fail:
	free(line);
	nm_vmas_free(v, n);
	*vmas = NULL;
	*nr = 0;
	return rc;
}

int nm_numa_maps_line(const char *line, unsigned long *start, char *policy, size_t plen,
		      uint64_t *counts, uint64_t *kpagesize)
{
	char buf[4096], *save = NULL, *tok;
	size_t pl = 0;
	bool in_policy = true;

	snprintf(buf, sizeof(buf), "%s", line);
	buf[strcspn(buf, "\n")] = '\0';
	tok = strtok_r(buf, " ", &save);
	if (!tok)
		return -EINVAL;
	errno = 0;
	*start = strtoul(tok, &tok, 16);
	if (errno || *tok)
		return -EINVAL;
	if (kpagesize)
		*kpagesize = 4096;
	if (policy && plen)
		policy[0] = '\0';
	while ((tok = strtok_r(NULL, " ", &save))) {
		/* The policy is the first word, plus "(many):1" after "prefer"
		 * and "interleave:0-1" after "weighted" (mpol_to_str). */
		if (in_policy) {
			bool more = pl == 0 || tok[0] == '(' ||
				    (pl >= 8 && policy && !strcmp(policy + pl - 8, "weighted"));

			if (more) {
				if (policy && plen) {
					int w = snprintf(policy + pl, plen - pl, "%s%s", pl ? " " : "",
							 tok);

					if (w > 0)
						pl = pl + (size_t)w < plen ? pl + (size_t)w : plen - 1;
				} else if (!pl) {
					pl = 1;
				}
				continue;
			}
			in_policy = false;
		}
		if (tok[0] == 'N' && tok[1] >= '0' && tok[1] <= '9') {
			char *eq;
			long node = strtol(tok + 1, &eq, 10);

			if (*eq == '=' && node >= 0 && node < NM_MASK_BITS && counts)
				counts[node] += strtoull(eq + 1, NULL, 10);
		} else if (!strncmp(tok, "kernelpagesize_kB=", 18) && kpagesize) {
			*kpagesize = strtoull(tok + 18, NULL, 10) * 1024;
		}
	}
	return 0;
}

int nm_numa_maps_parse(FILE *f, struct nm_vma *vmas, size_t nr, struct ob_err *err)
{
	uint64_t *counts = calloc(NM_MASK_BITS, sizeof(*counts));
	char *line = NULL;
	size_t llen = 0, i = 0;

	if (!counts)
		return ob_err_set(err, -ENOMEM, "numa_maps");
	while (getline(&line, &llen, f) > 0) {
		char policy[NM_POLICY_LEN];
		unsigned long start;
		uint64_t kps, total = 0;

		memset(counts, 0, NM_MASK_BITS * sizeof(*counts));
		if (nm_numa_maps_line(line, &start, policy, sizeof(policy), counts, &kps))
			continue;
		for (int node = 0; node < NM_MASK_BITS; node++)
			total += counts[node];
		/* Both files list mappings in address order: walk forward. */
		while (i < nr && vmas[i].start < start)
			i++;
		if (i == nr)
			break;
		if (vmas[i].start != start)
			continue;
		snprintf(vmas[i].policy, sizeof(vmas[i].policy), "%s", policy);
		vmas[i].nm_pages = total;
		i++;
	}
	free(line);
	free(counts);
	return 0;
}

static int status_parse(struct nm_proc *p, const struct nm_host *h, struct ob_err *err)
{
	char buf[8192], *s;
	ssize_t n = nm_read_file(h, buf, sizeof(buf), "/proc/%d/status", p->pid);

	if (n < 0)
		return ob_err_set(err, (int)n, "/proc/%d/status", p->pid);
	nm_mask_zero(&p->mems_allowed);
	nm_mask_zero(&p->cpus_allowed);
	s = strstr(buf, "Name:");
	if (s)
		sscanf(s + 5, " %63[^\n]", p->comm);
	s = strstr(buf, "\nUid:");
	if (s)
		p->uid = (uid_t)strtoul(s + 5, NULL, 10);
	s = strstr(buf, "Mems_allowed_list:");
	if (s)
		nm_mask_parse(strndupa(s + 18, strcspn(s + 18, "\n")), &p->mems_allowed, NULL);
	s = strstr(buf, "Cpus_allowed_list:");
	if (s)
		nm_mask_parse(strndupa(s + 18, strcspn(s + 18, "\n")), &p->cpus_allowed, NULL);
	return 0;
}

/* A procfs open that failed: tell a dead process from a forbidden one. */
static int proc_errno(const struct nm_host *h, pid_t pid, int rc, const char *what,
		      struct ob_err *err)
{
	char buf[64];

	if (nm_read_file(h, buf, sizeof(buf), "/proc/%d/stat", pid) == -ENOENT || rc == -ENOENT ||
	    rc == -ESRCH)
		return ob_err_set(err, -ESRCH, "no process %d", pid);
	if (rc == -EACCES || rc == -EPERM)
		return ob_err_set(err, -EPERM,
				  "cannot read /proc/%d/%s (ptrace access rules: same uid "
				  "and not dumpable-protected, or CAP_SYS_PTRACE)", pid, what);
	return ob_err_set(err, rc, "process %d: %s", pid, what);
}

int nm_proc_open(struct nm_proc *p, const struct nm_host *h, pid_t pid, struct ob_err *err)
{
	FILE *f;
	int rc;

	memset(p, 0, sizeof(*p));
	p->pid = pid;
	if (pid <= 0)
		return ob_err_set(err, -ESRCH, "no process %d", pid);
	rc = status_parse(p, h, err);
	if (rc)
		return proc_errno(h, pid, rc, "status", err);
	f = nm_fopen(h, "/proc/%d/smaps", pid);
	if (!f)
		return proc_errno(h, pid, -errno, "smaps", err);
	rc = nm_smaps_parse(f, &p->vmas, &p->nr_vmas, err);
	fclose(f);
	if (rc)
		return rc;
	/* A process we may not read shows an empty smaps on some kernels. */
	if (p->nr_vmas == 0) {
		char buf[64];

		if (nm_read_file(h, buf, sizeof(buf), "/proc/%d/stat", pid) == -ENOENT)
			rc = ob_err_set(err, -ESRCH, "no process %d", pid);
		else
			rc = ob_err_set(err, -EINVAL, "process %d has no memory (a kernel thread?)",
					pid);
		goto fail;
	}
	f = nm_fopen(h, "/proc/%d/numa_maps", pid);
	if (f) {
		rc = nm_numa_maps_parse(f, p->vmas, p->nr_vmas, err);
		fclose(f);
		if (rc)
			goto fail;
	}
	return 0;
fail:
	nm_proc_close(p);
	return rc;
}

void nm_proc_close(struct nm_proc *p)
{
	nm_vmas_free(p->vmas, p->nr_vmas);
	free(p->pages);
	p->vmas = NULL;
	p->pages = NULL;
	p->nr_vmas = p->nr_pages = 0;
}

static int pages_push(struct nm_proc *p, size_t *cap, unsigned long addr, uint32_t vma,
		      uint16_t pm)
{
	struct nm_page *pg;

	if (p->nr_pages == *cap) {
		size_t ncap = *cap ? *cap * 2 : 4096;
		struct nm_page *np = realloc(p->pages, ncap * sizeof(*np));

		if (!np)
			return -ENOMEM;
		p->pages = np;
		*cap = ncap;
	}
	pg = &p->pages[p->nr_pages++];
	pg->addr = addr;
	pg->vma = vma;
	pg->pm = pm;
	pg->target = -1;
	pg->node = (pm & NM_PM_PRESENT) ? NM_STATUS_UNSET : -ENOENT;
	pg->status = NM_STATUS_UNSET;
	pg->tries = 0;
	return 0;
}

static bool vma_walkable(struct nm_vma *v)
{
	if (v->flags & NM_VMA_IO)
		return false;
	if (!v->nm_pages && !v->rss_kb)
		return false;
	if (v->end - v->start > NM_SCAN_MAX_BYTES) {
		v->flags |= NM_VMA_SKIPPED;
		return false;
	}
	return true;
}

static int walk_pagemap(struct nm_proc *p, int fd, uint32_t vi, size_t *cap, uint64_t *buf)
{
	const struct nm_vma *v = &p->vmas[vi];
	unsigned long step = v->pagesize ? v->pagesize : 4096;
	unsigned long stride = step / 4096;	/* pagemap entries per page */
	unsigned long addr = v->start;

	while (addr < v->end) {
		size_t want = (v->end - addr) / 4096;
		ssize_t got;

		if (want > PAGEMAP_CHUNK)
			want = PAGEMAP_CHUNK;
		got = pread(fd, buf, want * 8, (off_t)(addr / 4096 * 8));
		if (got < 0)
			return -errno;
		if (got == 0)
			return -ESRCH;
		for (size_t i = 0; i < (size_t)got / 8; i += stride) {
			uint64_t e = buf[i];
			uint16_t pm = 0;
			int rc;

			if (e >> 63 & 1)
				pm |= NM_PM_PRESENT;
			if (e >> 62 & 1)
				pm |= NM_PM_SWAPPED;
			if (e >> 61 & 1)
				pm |= NM_PM_FILE;
			if (e >> 56 & 1)
				pm |= NM_PM_EXCLUSIVE;
			if (!(pm & (NM_PM_PRESENT | NM_PM_SWAPPED)))
				continue;
			rc = pages_push(p, cap, addr + i * 4096, vi, pm);
			if (rc)
				return rc;
		}
		addr += (unsigned long)got / 8 * 4096;
		/* A partial read ends on a page boundary; keep huge pages aligned. */
		if (stride > 1)
			addr = (addr + step - 1) / step * step;
	}
	return 0;
}

int nm_proc_scan_pages(struct nm_proc *p, const struct nm_host *h, const struct nm_sys *sys,
		       struct ob_err *err)
{
	uint64_t *buf = NULL;
	size_t cap = 0;
	int fd, rc;

	free(p->pages);
	p->pages = NULL;
	p->nr_pages = 0;
	fd = nm_open(h, O_RDONLY, "/proc/%d/pagemap", p->pid);
	if (fd < 0)
		return proc_errno(h, p->pid, fd, "pagemap", err);
	buf = malloc(PAGEMAP_CHUNK * 8);
	if (!buf) {
		rc = ob_err_set(err, -ENOMEM, "pagemap buffer");
		goto out_close;
	}
	for (size_t i = 0; i < p->nr_vmas; i++) {
		if (!vma_walkable(&p->vmas[i]))
			continue;
		rc = walk_pagemap(p, fd, (uint32_t)i, &cap, buf);
		if (rc == -ESRCH || rc == -EIO) {
			/* The mapping went away under us (munmap, exit): skip it. */
			continue;
		}
		if (rc) {
			ob_err_set(err, rc, "process %d: pagemap of %lx-%lx", p->pid,
				   p->vmas[i].start, p->vmas[i].end);
			goto out_free;
		}
	}
	rc = nm_query_nodes(sys, p->pid, p->pages, p->nr_pages, err);
out_free:
	free(buf);
out_close:
	close(fd);
	if (rc) {
		free(p->pages);
		p->pages = NULL;
		p->nr_pages = 0;
	}
	return rc;
}

int nm_query_nodes(const struct nm_sys *sys, pid_t pid, struct nm_page *pages, size_t n,
		   struct ob_err *err)
{
	void **addrs = malloc(QUERY_BATCH * (sizeof(void *) + sizeof(int) + sizeof(size_t)));
	int *status = (int *)(addrs + QUERY_BATCH);
	size_t *idx = (size_t *)(status + QUERY_BATCH);
	int ret = 0;

	if (!addrs)
		return ob_err_set(err, -ENOMEM, "query buffers");
	for (size_t i = 0; i < n;) {
		size_t k = 0;
		long rc;

		for (; i < n && k < QUERY_BATCH; i++) {
			if (!(pages[i].pm & NM_PM_PRESENT))
				continue;
			addrs[k] = (void *)pages[i].addr;
			status[k] = NM_STATUS_UNSET;
			idx[k++] = i;
		}
		if (!k)
			break;
		rc = sys->move_pages(sys->priv, pid, k, addrs, NULL, status, 0);
		if (rc < 0) {
			if (rc == -ESRCH)
				ret = ob_err_set(err, -ESRCH, "process %d exited", pid);
			else
				ret = ob_err_set(err, (int)rc,
						 "move_pages query of process %d (%zu pages)", pid, k);
			break;
		}
		for (size_t j = 0; j < k; j++)
			pages[idx[j]].node = status[j];
	}
	free(addrs);
	return ret;
}
