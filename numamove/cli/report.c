// SPDX-License-Identifier: MIT
/* report.c - how a move report looks: text for people, JSON for scripts,
 * and the progress bar.
 *
 * Text: one summary line, then one line per residue group (mapping, reason,
 * node) with the address range and name of the mapping, so "what stayed and
 * why" needs no second tool.  JSON: one object per process with the same
 * facts; sizes are bytes, never rounded.
 */
#include "cli.h"

#include <string.h>
#include <unistd.h>

void nm_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

void nm_print_mask(FILE *f, const struct nm_mask *m)
{
	char buf[1024];

	nm_mask_format(m, buf, sizeof(buf));
	fputs(buf, f);
}

const char *nm_size(uint64_t bytes, char *buf, size_t len)
{
	if (bytes >= 1024ULL * 1024 * 1024)
		snprintf(buf, len, "%.2f GiB", (double)bytes / (1024.0 * 1024 * 1024));
	else if (bytes >= 1024 * 1024)
		snprintf(buf, len, "%.1f MiB", (double)bytes / (1024.0 * 1024));
	else
		snprintf(buf, len, "%llu KiB", (unsigned long long)bytes / 1024);
	return buf;
}

static const char *vma_name(const struct nm_vma *v)
{
	if (v->name && v->name[0])
		return v->name;
	return v->flags & NM_VMA_HUGETLB ? "[anon hugetlb]" : "[anon]";
}

static void status_text(int st, char *buf, size_t len)
{
	if (st == NM_STATUS_UNSET)
		snprintf(buf, len, "no status");
	else if (st < 0)
		snprintf(buf, len, "%s", strerrorname_np(-st) ? strerrorname_np(-st) : "?");
	else
		snprintf(buf, len, "node %d", st);
}

void nm_report_text(FILE *f, const struct nm_cli *c, const struct nm_report *rep)
{
	const struct nm_proc *p = &rep->proc;
	char a[32], b[32], d[32], e[32], st[32];
	double rate = rep->elapsed_s > 0 ? (double)rep->bytes_moved / 1048576.0 / rep->elapsed_s : 0;

	if (c->dry_run) {
		fprintf(f, "numamove: pid %d (%s): would move %s from node ", rep->pid, p->comm,
			nm_size(rep->bytes_candidate, a, sizeof(a)));
		nm_print_mask(f, &c->from);
		fprintf(f, " to node ");
		nm_print_mask(f, &c->to);
		fprintf(f, "\n");
		for (int n = 0; n < NM_MASK_BITS; n++)
			if (rep->bytes_per_target[n])
				fprintf(f, "  to node %d: %s\n", n,
					nm_size(rep->bytes_per_target[n], a, sizeof(a)));
		return;
	}
	if (!c->quiet || rep->bytes_left)
		fprintf(f, "numamove: pid %d (%s): moved %s of %s in %.2f s (%.0f MiB/s); "
			"%s stayed, %s not movable, %s gone; %u passes, %u calls, "
			"longest call %.1f ms\n",
			rep->pid, p->comm, nm_size(rep->bytes_moved, a, sizeof(a)),
			nm_size(rep->bytes_candidate, b, sizeof(b)), rep->elapsed_s, rate,
			nm_size(rep->bytes_left, d, sizeof(d)),
			nm_size(rep->bytes_ignored, st, sizeof(st)),
			nm_size(rep->bytes_gone, e, sizeof(e)),
			rep->passes, rep->calls, (double)rep->longest_call_us / 1000.0);
	for (size_t i = 0; i < rep->nr_res; i++) {
		const struct nm_residue *r = &rep->res[i];
		const struct nm_vma *v = &p->vmas[r->vma];
		bool fail = nm_reason_is_failure(r->reason);

		if (c->quiet && !fail)
			continue;
		status_text(r->last_status, st, sizeof(st));
		fprintf(f, "  %s %-10s %7llu pages %-10s on node %-2d %lx-%lx %s (%s; last %s)\n",
			fail ? "stayed " : "skipped", nm_reason_name(r->reason),
			(unsigned long long)r->pages, nm_size(r->pages * 4096, a, sizeof(a)),
			r->node, v->start, v->end, vma_name(v), nm_reason_text(r->reason), st);
	}
}

void nm_report_json(FILE *f, const struct nm_cli *c, const struct nm_report *rep)
{
	const struct nm_proc *p = &rep->proc;
	bool first = true;

	fprintf(f, "{\"pid\":%d,\"comm\":", rep->pid);
	nm_json_str(f, p->comm);
	fprintf(f, ",\"from\":\"");
	nm_print_mask(f, &c->from);
	fprintf(f, "\",\"to\":\"");
	nm_print_mask(f, &c->to);
	fprintf(f, "\",\"dry_run\":%s,\"bytes_candidate\":%llu,\"plan\":{",
		c->dry_run ? "true" : "false", (unsigned long long)rep->bytes_candidate);
	for (int n = 0; n < NM_MASK_BITS; n++) {
		if (!rep->bytes_per_target[n])
			continue;
		fprintf(f, "%s\"%d\":%llu", first ? "" : ",", n,
			(unsigned long long)rep->bytes_per_target[n]);
		first = false;
	}
	fprintf(f, "},\"shared_pages\":%llu", (unsigned long long)rep->shared_pages);
	fprintf(f, ",\"bytes_moved\":%llu,\"bytes_left\":%llu,\"bytes_ignored\":%llu,"
		"\"bytes_gone\":%llu,\"bogus_status\":%llu,\"passes\":%u,\"calls\":%u,"
		"\"longest_call_us\":%llu,\"scan_us\":%llu,\"move_us\":%llu,\"verify_us\":%llu,"
		"\"elapsed_s\":%.6f,\"vmstat_success\":%llu,"
		"\"vmstat_fail\":%llu,\"residue\":[",
		(unsigned long long)rep->bytes_moved, (unsigned long long)rep->bytes_left,
		(unsigned long long)rep->bytes_ignored, (unsigned long long)rep->bytes_gone,
		(unsigned long long)rep->bogus_status, rep->passes, rep->calls,
		(unsigned long long)rep->longest_call_us, (unsigned long long)rep->scan_us,
		(unsigned long long)rep->move_us, (unsigned long long)rep->verify_us, rep->elapsed_s,
		(unsigned long long)rep->vm_success, (unsigned long long)rep->vm_fail);
	for (size_t i = 0; i < rep->nr_res; i++) {
		const struct nm_residue *r = &rep->res[i];
		const struct nm_vma *v = &p->vmas[r->vma];

		fprintf(f, "%s{\"reason\":\"%s\",\"failure\":%s,\"pages\":%llu,\"node\":%d,"
			"\"status\":%d,\"start\":\"%lx\",\"end\":\"%lx\",\"first\":\"%lx\","
			"\"perms\":\"%s\",\"policy\":",
			i ? "," : "", nm_reason_name(r->reason),
			nm_reason_is_failure(r->reason) ? "true" : "false",
			(unsigned long long)r->pages, r->node,
			r->last_status == NM_STATUS_UNSET ? 0 : r->last_status, v->start, v->end,
			r->first_addr, v->perms);
		nm_json_str(f, v->policy);
		fprintf(f, ",\"mapping\":");
		nm_json_str(f, vma_name(v));
		fprintf(f, ",\"text\":");
		nm_json_str(f, nm_reason_text(r->reason));
		fprintf(f, "}");
	}
	fprintf(f, "]");
}

void nm_progress_bar(void *arg, const struct nm_progress *pr)
{
	char bar[31];
	double frac = pr->bytes_total ? (double)pr->bytes_done / (double)pr->bytes_total : 1;
	double mib = (double)pr->bytes_done / 1048576.0;
	int fill;

	if (frac > 1)
		frac = 1;
	fill = (int)(frac * 30);
	memset(bar, '#', (size_t)fill);
	memset(bar + fill, '.', (size_t)(30 - fill));
	bar[30] = '\0';
	fprintf(stderr, "\r[%s] %.1f/%.1f MiB %6.1f MiB/s pass %u", bar, mib,
		(double)pr->bytes_total / 1048576.0,
		pr->elapsed_s > 0 ? mib / pr->elapsed_s : 0.0, pr->pass + 1);
}

void nm_progress_end(void)
{
	fprintf(stderr, "\r\033[K");
}
