// SPDX-License-Identifier: MIT
/* cmd-inspect.c - "numamove inspect PID": where a process's memory is.
 *
 * Per mapping: address range, permissions, policy, pages per node (from
 * the move_pages query of every present page, not numa_maps' totals),
 * pages with no node of their own (zero page, swapped), flags that matter
 * for moving (mlocked, shared, hugetlb, special), and the mapping's name.
 * Then per node: total, free and this process's memory, plus the things a
 * move would run into: Mems_allowed, CPUs, kernel.numa_balancing.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void flags_text(const struct nm_vma *v, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s%s%s", v->flags & NM_VMA_LOCKED ? "mlocked," : "",
		 v->flags & NM_VMA_SHARED ? "shared," : "",
		 v->flags & NM_VMA_HUGETLB ? "hugetlb," : "",
		 v->flags & (NM_VMA_SPECIAL | NM_VMA_IO) ? "special," : "",
		 v->flags & NM_VMA_SKIPPED ? "unscanned," : "",
		 v->flags & NM_VMA_HUGEPAGE ? "thp," : "");
	if (buf[0])
		buf[strlen(buf) - 1] = '\0';
	else
		snprintf(buf, len, "-");
}

int nm_cmd_inspect(struct nm_cli *c)
{
	struct nm_proc p;
	struct ob_err err = { 0 };
	char object[32], a[32], b[32], fl[64];
	int maxnode = 0, n, bal, ex = NM_EXIT_OK;
	uint64_t *cnt = NULL, *tot = NULL, nonode = 0;
	size_t pi = 0;
	int rc;

	snprintf(object, sizeof(object), "pid %d", c->pid);
	rc = nm_proc_open(&p, &c->host, c->pid, &err);
	if (!rc)
		rc = nm_proc_read_smaps(&p, &c->host, &err);	/* the flags column */
	if (!rc)
		rc = nm_proc_scan_pages(&p, &c->host, &nm_sys_default, &err);
	if (rc) {
		nm_proc_close(&p);
		return nm_cli_fail(c, object, &err);
	}
	nm_mask_for_each(n, &c->nodes)
		maxnode = n;
	for (size_t i = 0; i < p.nr_pages; i++)
		if (p.pages[i].node > maxnode && p.pages[i].node < NM_MASK_BITS)
			maxnode = p.pages[i].node;
	cnt = calloc((size_t)maxnode + 2, sizeof(*cnt));
	tot = calloc((size_t)maxnode + 2, sizeof(*tot));
	if (!cnt || !tot) {
		ob_err_set(&err, -ENOMEM, "counters");
		ex = nm_cli_fail(c, object, &err);
		goto out;
	}
	bal = nm_host_numa_balancing(&c->host);

	if (c->json) {
		fprintf(c->out, "{\"pid\":%d,\"comm\":", p.pid);
		nm_json_str(c->out, p.comm);
		fprintf(c->out, ",\"mems_allowed\":\"");
		nm_print_mask(c->out, &p.mems_allowed);
		fprintf(c->out, "\",\"cpus_allowed\":\"");
		nm_print_mask(c->out, &p.cpus_allowed);
		fprintf(c->out, "\",\"numa_balancing\":%d,\"mappings\":[", bal);
	} else {
		fprintf(c->out, "pid %d (%s)  mems_allowed ", p.pid, p.comm);
		nm_print_mask(c->out, &p.mems_allowed);
		fprintf(c->out, "  cpus_allowed ");
		nm_print_mask(c->out, &p.cpus_allowed);
		fprintf(c->out, "  numa_balancing %d\n%-33s %-4s %-16s", bal, "mapping", "perm",
			"policy");
		for (n = 0; n <= maxnode; n++)
			fprintf(c->out, " %8s%d", "N", n);
		fprintf(c->out, " %8s %-16s %s\n", "nonode", "flags", "name");
	}
	for (size_t vi = 0; vi < p.nr_vmas; vi++) {
		const struct nm_vma *v = &p.vmas[vi];
		uint64_t base = v->pagesize / 4096 ? v->pagesize / 4096 : 1;

		memset(cnt, 0, ((size_t)maxnode + 2) * sizeof(*cnt));
		nonode = 0;
		for (; pi < p.nr_pages && p.pages[pi].vma == vi; pi++) {
			int node = p.pages[pi].node;

			if (node >= 0 && node <= maxnode) {
				cnt[node] += base;
				tot[node] += base;
			} else {
				nonode += base;
			}
		}
		flags_text(v, fl, sizeof(fl));
		if (c->json) {
			bool first = true;

			fprintf(c->out, "%s{\"start\":\"%lx\",\"end\":\"%lx\",\"perms\":\"%s\","
				"\"policy\":", vi ? "," : "", v->start, v->end, v->perms);
			nm_json_str(c->out, v->policy);
			fprintf(c->out, ",\"pagesize\":%lu,\"nodes\":{", v->pagesize);
			for (n = 0; n <= maxnode; n++) {
				if (!cnt[n])
					continue;
				fprintf(c->out, "%s\"%d\":%llu", first ? "" : ",", n,
					(unsigned long long)cnt[n]);
				first = false;
			}
			fprintf(c->out, "},\"nonode\":%llu,\"flags\":\"%s\",\"name\":",
				(unsigned long long)nonode, fl);
			nm_json_str(c->out, v->name ? v->name : "");
			fprintf(c->out, "}");
			continue;
		}
		fprintf(c->out, "%016lx-%016lx %-4s %-16s", v->start, v->end, v->perms,
			v->policy);
		for (n = 0; n <= maxnode; n++)
			fprintf(c->out, " %9llu", (unsigned long long)cnt[n]);
		fprintf(c->out, " %8llu %-16s %s\n", (unsigned long long)nonode, fl,
			v->name && v->name[0] ? v->name : "[anon]");
	}
	if (c->json)
		fprintf(c->out, "],\"nodes\":{");
	else
		fprintf(c->out, "\nnode %12s %12s %12s\n", "total", "free", "this process");
	{
		bool first = true;

		nm_mask_for_each(n, &c->nodes) {
			uint64_t total = 0, free_kb = 0;

			nm_host_node_mem(&c->host, n, &total, &free_kb, NULL);
			if (c->json) {
				fprintf(c->out, "%s\"%d\":{\"total_kb\":%llu,\"free_kb\":%llu,"
					"\"process_pages\":%llu}", first ? "" : ",", n,
					(unsigned long long)total, (unsigned long long)free_kb,
					n <= maxnode ? (unsigned long long)tot[n] : 0ULL);
				first = false;
			} else {
				fprintf(c->out, "%4d %12s %12s %12s\n", n,
					nm_size(total * 1024, a, sizeof(a)),
					nm_size(free_kb * 1024, b, sizeof(b)),
					nm_size(n <= maxnode ? tot[n] * 4096 : 0, fl, sizeof(fl)));
			}
		}
	}
	if (c->json)
		fprintf(c->out, "}}\n");
out:
	free(cnt);
	free(tot);
	nm_proc_close(&p);
	return ex;
}
