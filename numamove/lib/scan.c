// SPDX-License-Identifier: MIT
/* scan.c - one process as the mover sees it: mappings, present pages, nodes.
 *
 * Four procfs files and one system call (spec 1.2, 1.5):
 *   maps       every mapping: range, permissions, file, name;
 *   numa_maps  the memory policy of each mapping, how many pages it has,
 *              their size (kernelpagesize_kB) and "huge" for hugetlb; a
 *              move leaves it out at many mappings (nm_proc_open_lean):
 *              the kernel's per-mapping page walk for it cost as long as
 *              migrate_pages(2)' whole move at 50,000 mappings, and only
 *              the policy warnings need it when status says no hugetlb
 *              pages are mapped;
 *   smaps      VmFlags (lo = mlocked, io/pf = VM_IO / PFNMAP, nh/hg = THP
 *              advice) and Rss, read only when a reason or inspect needs
 *              them (nm_proc_read_smaps): the kernel formats ~25 lines a
 *              mapping, as much work as the rest of a scan together;
 *   pagemap    which pages are present (bit 63), swapped (62), file or
 *              shared-anon (61), and mapped by this process only (56);
 *   move_pages(nodes = NULL)  the node of each present page, the only cheap
 *              per-page "where is it" query.
 * numa_maps alone is not enough: it covers present pages per mapping but not
 * their addresses, and move_pages needs addresses.  Walking pagemap first
 * keeps the query (and later the move) to present pages only.
 *
 * Cost per mapping (issue 21: 50,000 mappings took 222 s in a TCG guest,
 * 6.5 s for migratepages): the kernel's smaps and numa_maps text is paid
 * once per scan, so our side must stay small next to it: smaps and
 * numa_maps are read through a 256 KiB buffer, only a mapping's first line
 * goes through sscanf, numa_maps lines keep a sum instead of a per-node
 * array, pagemap is read in windows shared by neighbouring mappings, and
 * smaps is left out unless needed.
 *
 * Cost per page: pagemap costs 8 bytes per virtual page, so a mapping of 16 TiB (an
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
#define PROC_BUF	(256 << 10)	/* stdio buffer for smaps and numa_maps */

/* Anonymous mappings share one empty name instead of 50,000 strdup("")s. */
static char no_name[1];

void nm_vmas_free(struct nm_vma *vmas, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		if (vmas[i].name != no_name)
			free(vmas[i].name);
	free(vmas);
}

/* Number parsers for procfs text, which is always plain hex or decimal:
 * strtoul's locale and sign handling were a visible part of a scan at
 * 50,000 mappings under emulation.  *end is set past the digits. */
static unsigned long scan_hex(const char *s, const char **end)
{
	unsigned long v = 0;

	for (;; s++) {
		unsigned int d;

		if (*s >= '0' && *s <= '9')
			d = (unsigned int)(*s - '0');
		else if (*s >= 'a' && *s <= 'f')
			d = (unsigned int)(*s - 'a' + 10);
		else
			break;
		v = v << 4 | d;
	}
	*end = s;
	return v;
}

static unsigned long long scan_dec(const char *s, const char **end)
{
	unsigned long long v = 0;

	for (; *s >= '0' && *s <= '9'; s++)
		v = v * 10 + (unsigned int)(*s - '0');
	*end = s;
	return v;
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
	if (name[0] != '[')
		return inode ? NM_VMA_FILE : 0;
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

/* "start-end perms offset maj:min inode   name", the first line of a
 * mapping in maps and smaps.  Parsed by hand: sscanf cost more than the
 * kernel's formatting at 50,000 mappings, and smaps' other ~25 lines a
 * mapping start with a capitalised key, so they fail at the first test. */
static bool vma_line(const char *s, unsigned long *start, unsigned long *end, char *perms,
		     unsigned long *inode, const char **name)
{
	const char *p, *q;

	if (!((s[0] >= '0' && s[0] <= '9') || (s[0] >= 'a' && s[0] <= 'f')))
		return false;
	*start = scan_hex(s, &p);
	if (*p != '-')
		return false;
	*end = scan_hex(p + 1, &p);
	if (*p++ != ' ')
		return false;
	for (int i = 0; i < 4; i++, p++) {
		if (!*p || *p == ' ')
			return false;
		perms[i] = *p;
	}
	perms[4] = '\0';
	if (*p++ != ' ')
		return false;
	scan_hex(p, &q);			/* offset */
	if (q == p || *q++ != ' ')
		return false;
	scan_hex(q, &p);			/* major */
	if (p == q || *p++ != ':')
		return false;
	scan_hex(p, &q);			/* minor */
	if (q == p || *q++ != ' ')
		return false;
	*inode = (unsigned long)scan_dec(q, &p);
	if (p == q)
		return false;
	while (*p == ' ')
		p++;
	*name = p;
	return true;
}

int nm_smaps_parse(FILE *f, struct nm_vma **vmas, size_t *nr, struct ob_err *err)
{
	struct nm_vma *v = NULL, *cur = NULL;
	size_t n = 0, cap = 0;
	char *line = NULL;
	size_t llen = 0;
	int rc = 0;

	while (getline(&line, &llen, f) > 0) {
		unsigned long start, end, inode;
		const char *name;
		char perms[5];

		line[strcspn(line, "\n")] = '\0';
		if (vma_line(line, &start, &end, perms, &inode, &name)) {
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
			memcpy(cur->perms, perms, sizeof(cur->perms));
			cur->policy[0] = '?';
			cur->policy[1] = '\0';
			cur->name = *name ? strdup(name) : no_name;
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

/* One numa_maps line; the per-node counts go to counts[] (when given) and
 * their sum to *total (when given). */
static int numa_maps_fields(const char *line, unsigned long *start, char *policy, size_t plen,
			    uint64_t *counts, uint64_t *total, uint64_t *kpagesize, bool *huge)
{
	const char *p = line, *tok;
	size_t pl = 0, len;
	bool in_policy = true;

	/* Tokens are walked in place: copying and strtok'ing every line cost
	 * more than the kernel's numa_maps at 50,000 mappings (issue 21). */
	*start = scan_hex(p, &tok);
	if (tok == p || (*tok != ' ' && *tok != '\n' && *tok))
		return -EINVAL;
	p = tok;
	if (kpagesize)
		*kpagesize = 0;		/* only lines with pages say */
	if (huge)
		*huge = false;
	if (policy && plen)
		policy[0] = '\0';
	for (;;) {
		while (*p == ' ')
			p++;
		if (!*p || *p == '\n')
			break;
		tok = p;
		while (*p && *p != ' ' && *p != '\n')
			p++;
		len = (size_t)(p - tok);
		/* The policy is the first word, plus "(many):1" after "prefer"
		 * and "interleave:0-1" after "weighted" (mpol_to_str). */
		if (in_policy) {
			bool more = pl == 0 || tok[0] == '(' ||
				    (pl >= 8 && policy && !strcmp(policy + pl - 8, "weighted"));

			if (more) {
				if (policy && plen) {
					int w = snprintf(policy + pl, plen - pl, "%s%.*s", pl ? " " : "",
							 (int)len, tok);

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
			const char *eq;
			unsigned long long node = scan_dec(tok + 1, &eq);

			if (*eq == '=' && node < NM_MASK_BITS) {
				uint64_t c = scan_dec(eq + 1, &eq);

				if (counts)
					counts[node] += c;
				if (total)
					*total += c;
			}
		} else if (len > 18 && !strncmp(tok, "kernelpagesize_kB=", 18) && kpagesize) {
			*kpagesize = scan_dec(tok + 18, &tok) * 1024;
		} else if (len == 4 && !strncmp(tok, "huge", 4) && huge) {
			*huge = true;
		}
	}
	return 0;
}

int nm_numa_maps_line(const char *line, unsigned long *start, char *policy, size_t plen,
		      uint64_t *counts, uint64_t *kpagesize)
{
	int rc = numa_maps_fields(line, start, policy, plen, counts, NULL, kpagesize, NULL);

	if (!rc && kpagesize && !*kpagesize)
		*kpagesize = 4096;
	return rc;
}

/* Only the sum of each line's counts is kept: clearing and adding up a
 * per-node array for every line cost more than the kernel's own work at
 * 50,000 mappings (issue 21). */
int nm_numa_maps_parse(FILE *f, struct nm_vma *vmas, size_t nr, struct ob_err *err)
{
	char *line = NULL;
	size_t llen = 0, i = 0;

	while (getline(&line, &llen, f) > 0) {
		char policy[NM_POLICY_LEN];
		unsigned long start;
		uint64_t kps, total = 0;
		bool huge;

		if (numa_maps_fields(line, &start, policy, sizeof(policy), NULL, &total, &kps,
				     &huge))
			continue;
		/* Both files list mappings in address order: walk forward. */
		while (i < nr && vmas[i].start < start)
			i++;
		if (i == nr)
			break;
		if (vmas[i].start != start)
			continue;
		snprintf(vmas[i].policy, sizeof(vmas[i].policy), "%s", policy);
		vmas[i].nm_pages = total;
		/* What smaps' KernelPageSize and "ht" would say, for maps. */
		if (kps)
			vmas[i].pagesize = kps;
		if (huge)
			vmas[i].flags |= NM_VMA_HUGETLB;
		i++;
	}
	free(line);
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
	/* Absent before Linux 4.5: then numa_maps must say (needs_numa_maps). */
	s = strstr(buf, "\nHugetlbPages:");
	p->hugetlb_kb = s ? strtoull(s + 14, NULL, 10) : UINT64_MAX;
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

bool nm_proc_gone(const struct nm_host *h, pid_t pid)
{
	char buf[512], *paren;
	ssize_t n = nm_read_file(h, buf, sizeof(buf), "/proc/%d/stat", pid);

	if (n == -ENOENT || n == -ESRCH)
		return true;
	if (n < 0)
		return false;
	/* "PID (comm) S ...": the state follows the last ')'. */
	paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

/* A procfs file with a large stdio buffer: seq_file fills a whole read, so
 * 50,000 mappings' smaps take a few hundred reads instead of 40,000. */
static FILE *proc_stream(const struct nm_host *h, pid_t pid, const char *what, char *buf)
{
	FILE *f = nm_fopen(h, "/proc/%d/%s", pid, what);

	if (f && buf)
		setvbuf(f, buf, _IOFBF, PROC_BUF);
	return f;
}

/* status and maps: the mappings without their page counts and policies. */
static int proc_read_maps(struct nm_proc *p, const struct nm_host *h, pid_t pid, char *buf,
			  struct ob_err *err)
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
	/* maps, not smaps: numa_maps has the rest (see nm_proc_read_smaps). */
	f = proc_stream(h, pid, "maps", buf);
	if (!f)
		return proc_errno(h, pid, -errno, "maps", err);
	rc = nm_smaps_parse(f, &p->vmas, &p->nr_vmas, err);
	fclose(f);
	if (rc)
		return rc;
	/* A process we may not read shows no mappings on some kernels, and so
	 * does one that has exited but is not yet reaped. */
	if (p->nr_vmas == 0) {
		if (nm_proc_gone(h, pid))
			return ob_err_set(err, -ESRCH, "process %d has exited", pid);
		return ob_err_set(err, -EINVAL, "process %d has no memory (a kernel thread?)", pid);
	}
	return 0;
}

/* Page counts, page sizes and policies: numa_maps, or smaps without NUMA. */
static int proc_read_counts(struct nm_proc *p, const struct nm_host *h, char *buf,
			    struct ob_err *err)
{
	FILE *f = proc_stream(h, p->pid, "numa_maps", buf);
	int rc;

	if (!f)
		return nm_proc_read_smaps(p, h, err);
	rc = nm_numa_maps_parse(f, p->vmas, p->nr_vmas, err);
	fclose(f);
	return rc;
}

/* What only numa_maps says and a scan cannot do without: the size of
 * hugetlb pages (4 KiB steps would list a 2 MiB page 512 times) and how many
 * pages a mapping too large to walk holds. */
static bool needs_numa_maps(const struct nm_proc *p)
{
	if (p->hugetlb_kb)
		return true;
	for (size_t i = 0; i < p->nr_vmas; i++)
		if (p->vmas[i].end - p->vmas[i].start > NM_SCAN_MAX_BYTES)
			return true;
	return false;
}

/* numa_maps when wanted or needed; otherwise the scan is lean. */
static int proc_read_counts_if(struct nm_proc *p, const struct nm_host *h, char *buf, bool want,
			       struct ob_err *err)
{
	if (!want && !needs_numa_maps(p)) {
		p->lean = true;
		return 0;
	}
	return proc_read_counts(p, h, buf, err);
}

int nm_proc_open_lean(struct nm_proc *p, const struct nm_host *h, pid_t pid,
		      size_t numa_maps_max, struct ob_err *err)
{
	char *buf = malloc(PROC_BUF);	/* NULL: stdio's own small buffer */
	int rc = proc_read_maps(p, h, pid, buf, err);

	if (!rc)
		rc = proc_read_counts_if(p, h, buf, !numa_maps_max || p->nr_vmas <= numa_maps_max,
					 err);
	if (rc)
		nm_proc_close(p);
	free(buf);
	return rc;
}

int nm_proc_open(struct nm_proc *p, const struct nm_host *h, pid_t pid, struct ob_err *err)
{
	return nm_proc_open_lean(p, h, pid, 0, err);
}

static bool same_mappings(const struct nm_proc *a, const struct nm_proc *b)
{
	if (a->nr_vmas != b->nr_vmas)
		return false;
	for (size_t i = 0; i < a->nr_vmas; i++)
		if (a->vmas[i].start != b->vmas[i].start || a->vmas[i].end != b->vmas[i].end ||
		    memcmp(a->vmas[i].perms, b->vmas[i].perms, sizeof(a->vmas[i].perms)))
			return false;
	return true;
}

/* A second look of a lean scan takes old's mappings instead of reading maps
 * again: at 50,000 mappings maps is most of a verification (issue 21), and
 * what it could add, mappings made during the move, holds pages the
 * process's own policy placed after the move began.  status is read again:
 * it says whether the process is still there and whether hugetlb pages
 * (whose size only numa_maps says) have appeared; 1 means read maps. */
static int proc_reuse_maps(struct nm_proc *p, const struct nm_proc *old, const struct nm_host *h,
			   struct ob_err *err)
{
	int rc;

	memset(p, 0, sizeof(*p));
	p->pid = old->pid;
	rc = status_parse(p, h, err);
	if (rc)
		return proc_errno(h, p->pid, rc, "status", err);
	if (nm_proc_gone(h, p->pid))
		return ob_err_set(err, -ESRCH, "process %d has exited", p->pid);
	if (p->hugetlb_kb)
		return 1;
	p->vmas = malloc(old->nr_vmas * sizeof(*p->vmas));
	if (!p->vmas)
		return ob_err_set(err, -ENOMEM, "%zu mappings", old->nr_vmas);
	for (size_t i = 0; i < old->nr_vmas; i++) {
		struct nm_vma *v = &p->vmas[i];

		*v = old->vmas[i];
		v->flags &= ~NM_VMA_SKIPPED;
		if (v->name != no_name && !(v->name = strdup(v->name))) {
			p->nr_vmas = i;
			return ob_err_set(err, -ENOMEM, "mapping names");
		}
		p->nr_vmas = i + 1;
	}
	p->lean = true;
	return 0;
}

int nm_proc_reopen(struct nm_proc *p, const struct nm_proc *old, const struct nm_host *h,
		   bool policies_changed, struct ob_err *err)
{
	char *buf = NULL;
	int rc = 1;

	if (old->lean && !policies_changed) {
		rc = proc_reuse_maps(p, old, h, err);
		if (rc <= 0)
			goto out;
		nm_proc_close(p);
	}
	buf = malloc(PROC_BUF);
	rc = proc_read_maps(p, h, old->pid, buf, err);
	if (rc)
		goto out;
	/* A lean old look has no huge page sizes to lend if hugetlb pages
	 * have appeared since. */
	if (policies_changed || !same_mappings(p, old) || (old->lean && needs_numa_maps(p))) {
		rc = proc_read_counts_if(p, h, buf, policies_changed || !old->lean, err);
		goto out;
	}
	p->lean = old->lean;
	for (size_t i = 0; i < p->nr_vmas; i++) {
		struct nm_vma *v = &p->vmas[i];
		const struct nm_vma *o = &old->vmas[i];

		memcpy(v->policy, o->policy, sizeof(v->policy));
		v->nm_pages = o->nm_pages;
		v->rss_kb = o->rss_kb;
		v->pagesize = o->pagesize;
		v->flags |= o->flags & ~NM_VMA_SKIPPED;
	}
out:
	if (rc)
		nm_proc_close(p);
	free(buf);
	return rc;
}

int nm_proc_read_smaps(struct nm_proc *p, const struct nm_host *h, struct ob_err *err)
{
	struct nm_vma *sv = NULL;
	size_t nsv = 0, j = 0;
	char *buf = malloc(PROC_BUF);
	FILE *f = proc_stream(h, p->pid, "smaps", buf);
	int rc;

	if (!f) {
		rc = proc_errno(h, p->pid, -errno, "smaps", err);
		goto out;
	}
	rc = nm_smaps_parse(f, &sv, &nsv, err);
	fclose(f);
	if (rc)
		goto out;
	/* Both lists are in address order; a mapping that changed in between
	 * simply keeps what maps and numa_maps said. */
	for (size_t i = 0; i < p->nr_vmas; i++) {
		while (j < nsv && sv[j].start < p->vmas[i].start)
			j++;
		if (j == nsv)
			break;
		if (sv[j].start != p->vmas[i].start || sv[j].end != p->vmas[i].end)
			continue;
		p->vmas[i].flags |= sv[j].flags;
		p->vmas[i].pagesize = sv[j].pagesize;
		p->vmas[i].rss_kb = sv[j].rss_kb;
	}
	nm_vmas_free(sv, nsv);
out:
	free(buf);
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

static bool vma_walkable(const struct nm_proc *p, struct nm_vma *v)
{
	if (v->flags & NM_VMA_IO)
		return false;
	/* [vdso] pages are reported (special), though numa_maps counts none.
	 * A lean scan has no counts and no mapping too large to walk. */
	bool counted = p->lean || v->nm_pages || v->rss_kb || (v->flags & NM_VMA_SPECIAL);

	if (!counted && !nm_vma_may_hold_zero_pages(v))
		return false;
	if (v->end - v->start > NM_SCAN_MAX_BYTES) {
		/* Only a mapping that surely holds pages is reported unscanned. */
		if (counted)
			v->flags |= NM_VMA_SKIPPED;
		return false;
	}
	return true;
}

/* A window of pagemap entries.  Neighbouring mappings share windows, so a
 * process of 50,000 small mappings costs a few dozen reads instead of one
 * read per mapping (issue 21); entries of holes between mappings read as
 * zero (not present) and cost 8 bytes a page. */
struct pm_window {
	int fd;
	uint64_t *buf;
	unsigned long start;	/* address of buf[0] */
	size_t n;		/* valid entries */
};

static int pm_entry(struct pm_window *w, unsigned long addr, uint64_t *e)
{
	if (addr < w->start || addr >= w->start + w->n * 4096) {
		ssize_t got = pread(w->fd, w->buf, PAGEMAP_CHUNK * 8, (off_t)(addr / 4096 * 8));

		w->n = 0;
		if (got < 0)
			return -errno;
		if (got < 8)
			return -ESRCH;
		w->start = addr;
		w->n = (size_t)got / 8;
	}
	*e = w->buf[(addr - w->start) / 4096];
	return 0;
}

static uint16_t pm_flags(uint64_t e)
{
	uint16_t pm = 0;

	if (e >> 63 & 1)
		pm |= NM_PM_PRESENT;
	if (e >> 62 & 1)
		pm |= NM_PM_SWAPPED;
	if (e >> 61 & 1)
		pm |= NM_PM_FILE;
	if (e >> 56 & 1)
		pm |= NM_PM_EXCLUSIVE;
	return pm;
}

/* Every present or swapped page of mapping vi (one entry per huge page of a
 * hugetlb mapping, whose start is aligned to its page size). */
static int walk_pagemap(struct nm_proc *p, struct pm_window *w, uint32_t vi, size_t *cap)
{
	const struct nm_vma *v = &p->vmas[vi];
	unsigned long step = v->pagesize ? v->pagesize : 4096;

	for (unsigned long addr = v->start; addr < v->end; addr += step) {
		uint64_t e = 0;
		uint16_t pm;
		int rc = pm_entry(w, addr, &e);

		if (rc)
			return rc;
		pm = pm_flags(e);
		if (!(pm & (NM_PM_PRESENT | NM_PM_SWAPPED)))
			continue;
		rc = pages_push(p, cap, addr, vi, pm);
		if (rc)
			return rc;
	}
	return 0;
}

int nm_proc_scan_pages(struct nm_proc *p, const struct nm_host *h, const struct nm_sys *sys,
		       struct ob_err *err)
{
	struct pm_window w = { .fd = -1 };
	size_t cap = 0;
	int rc = 0;

	free(p->pages);
	p->pages = NULL;
	p->nr_pages = 0;
	w.fd = nm_open(h, O_RDONLY, "/proc/%d/pagemap", p->pid);
	if (w.fd < 0)
		return proc_errno(h, p->pid, w.fd, "pagemap", err);
	w.buf = malloc(PAGEMAP_CHUNK * 8);
	if (!w.buf) {
		rc = ob_err_set(err, -ENOMEM, "pagemap buffer");
		goto out_close;
	}
	for (size_t i = 0; i < p->nr_vmas; i++) {
		if (!vma_walkable(p, &p->vmas[i]))
			continue;
		rc = walk_pagemap(p, &w, (uint32_t)i, &cap);
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
	free(w.buf);
out_close:
	close(w.fd);
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
			/* A target whose memory is already torn down answers EINVAL. */
			if (rc == -ESRCH || nm_proc_gone(NULL, pid))
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
