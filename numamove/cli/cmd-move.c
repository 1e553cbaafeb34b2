// SPDX-License-Identifier: MIT
/* cmd-move.c - "numamove PID --from --to": plan, check, move, verify,
 * explain, and optionally move the policy.
 *
 * The checks (spec 1.8 item 2) run for --dry-run and before a real move:
 *   C1  access: the scan itself proves ptrace read access (pagemap and the
 *       move_pages query need it); failure is exit 4 before any check;
 *   C2  cpuset: every target node must be in the process's Mems_allowed,
 *       or move_pages fails the whole call with EACCES -> exit 4;
 *   C3  free memory: planned bytes per target vs MemFree -> exit 7 (a real
 *       move goes ahead with --force);
 *   C4  shared pages without CAP_SYS_NICE will stay (warning);
 *   C5  automatic NUMA balancing may move pages back (warning);
 *   C6  a policy that names a source node pulls new faults back (warning,
 *       unless --policy will rebind it).
 * Problems (C2, C3) change the exit status of a dry run; warnings do not.
 */
#include "cli.h"

#include <string.h>

#define MAX_CHECKS 8

struct check {
	const char *name;
	const char *level;		/* "ok", "warning", "problem" */
	char detail[768];
};

struct checks {
	struct check v[MAX_CHECKS];
	int n;
	int exit;			/* first problem's exit status */
};

static struct check *check_add(struct checks *cs, const char *name, const char *level, int ex)
{
	struct check *k = &cs->v[cs->n < MAX_CHECKS - 1 ? cs->n++ : cs->n];

	k->name = name;
	k->level = level;
	k->detail[0] = '\0';
	if (ex && !cs->exit)
		cs->exit = ex;
	return k;
}

static void run_checks(struct nm_cli *c, const struct nm_report *rep,
		       const struct nm_move_opts *o, struct checks *cs)
{
	const struct nm_proc *p = &rep->proc;
	struct nm_mask bad, cpunodes, both;
	char a[32], b[32], m1[256], m2[256];
	struct check *k;
	int n, bal;
	size_t back;

	k = check_add(cs, "access", "ok", 0);					/* C1 */
	snprintf(k->detail, sizeof(k->detail), "ptrace read access to pid %d (uid %u)",
		 rep->pid, (unsigned int)p->uid);

	nm_mask_andnot(&bad, &c->to, &p->mems_allowed);			/* C2 */
	nm_mask_format(&bad, m1, sizeof(m1));
	nm_mask_format(&p->mems_allowed, m2, sizeof(m2));
	if (nm_mask_weight(&bad)) {
		k = check_add(cs, "cpuset", "problem", NM_EXIT_PERM);
		snprintf(k->detail, sizeof(k->detail), "target node %s is outside the "
			 "process's cpuset (Mems_allowed %s)", m1, m2);
	} else {
		k = check_add(cs, "cpuset", "ok", 0);
		snprintf(k->detail, sizeof(k->detail), "Mems_allowed %s", m2);
	}

	nm_mask_for_each(n, &c->to) {						/* C3 */
		uint64_t total, free_kb;

		if (!rep->bytes_per_target[n])
			continue;
		if (nm_host_node_mem(&c->host, n, &total, &free_kb, NULL))
			continue;
		if (rep->bytes_per_target[n] > free_kb * 1024) {
			k = check_add(cs, "free-memory", "problem", NM_EXIT_NOMEM);
		} else {
			k = check_add(cs, "free-memory", "ok", 0);
		}
		snprintf(k->detail, sizeof(k->detail), "node %d: need %s, free %s", n,
			 nm_size(rep->bytes_per_target[n], a, sizeof(a)),
			 nm_size(free_kb * 1024, b, sizeof(b)));
	}

	if (rep->shared_pages && !(o->flags & NM_F_MOVE_ALL)) {		/* C4 */
		k = check_add(cs, "shared", "warning", 0);
		snprintf(k->detail, sizeof(k->detail), "%llu pages are mapped by other processes "
			 "too; they stay without MOVE_ALL (%s)",
			 (unsigned long long)rep->shared_pages,
			 c->own_only ? "--own-only" : "needs CAP_SYS_NICE");
	}

	bal = nm_host_numa_balancing(&c->host);				/* C5 */
	if (bal > 0) {
		k = check_add(cs, "numa-balancing", "warning", 0);
		snprintf(k->detail, sizeof(k->detail), "kernel.numa_balancing=%d: the kernel may "
			 "move pages back toward the CPUs that touch them", bal);
	}

	back = nm_policy_points_back(p, &c->from);				/* C6 */
	if (back && !c->policy) {
		k = check_add(cs, "policy", "warning", 0);
		snprintf(k->detail, sizeof(k->detail), "%zu mappings have a policy naming node "
			 "%s; new faults will land there (use --policy)", back,
			 c->from_s ? c->from_s : "?");
	}
	if (!nm_host_cpus_to_nodes(&c->host, &p->cpus_allowed, &cpunodes, NULL)) {
		nm_mask_and(&both, &cpunodes, &c->from);
		if (nm_mask_weight(&both) && !c->policy) {
			nm_mask_format(&p->cpus_allowed, m1, sizeof(m1));
			k = check_add(cs, "cpus", "warning", 0);
			snprintf(k->detail, sizeof(k->detail), "the process may run on CPUs %s, "
				 "which include CPUs of a source node: local allocations can land "
				 "there again", m1);
		}
	}
}

static void checks_print(FILE *f, const struct checks *cs, bool all)
{
	for (int i = 0; i < cs->n; i++) {
		const struct check *k = &cs->v[i];

		/* After a real move the policy is checked again on the result. */
		if (!all && (!strcmp(k->level, "ok") || !strcmp(k->name, "policy")))
			continue;
		fprintf(f, "%s%s: %s: %s\n", all ? "  " : "numamove: ", k->level, k->name,
			k->detail);
	}
}

static void checks_json(FILE *f, const struct checks *cs)
{
	fprintf(f, ",\"checks\":[");
	for (int i = 0; i < cs->n; i++) {
		fprintf(f, "%s{\"name\":\"%s\",\"level\":\"%s\",\"detail\":", i ? "," : "",
			cs->v[i].name, cs->v[i].level);
		nm_json_str(f, cs->v[i].detail);
		fprintf(f, "}");
	}
	fprintf(f, "]");
}

int nm_cmd_move(struct nm_cli *c)
{
	struct nm_report rep;
	struct nm_move_opts o, plan_o;
	struct checks cs = { .n = 0 };
	struct ob_err err = { 0 };
	char cg[1300] = "", object[32];
	int rc, ex, policy_rc = 0;
	size_t back = 0;
	bool policy_done = false;

	snprintf(object, sizeof(object), "pid %d", c->pid);
	nm_cli_move_opts(c, &o);

	/* Plan first (a scan without moving), for the checks. */
	plan_o = o;
	plan_o.flags |= NM_F_DRY_RUN;
	rc = nm_move(&c->host, &nm_sys_default, c->pid, &plan_o, &rep, &err);
	if (rc) {
		nm_report_free(&rep);
		return nm_cli_fail(object, &err);
	}
	run_checks(c, &rep, &o, &cs);
	if (c->dry_run) {
		if (c->json) {
			nm_report_json(c->out, c, &rep);
			checks_json(c->out, &cs);
			fprintf(c->out, ",\"exit\":%d}\n", cs.exit);
		} else {
			nm_report_text(c->out, c, &rep);
			checks_print(c->out, &cs, true);
		}
		nm_report_free(&rep);
		return cs.exit;
	}
	/* A real move stops on a problem unless forced. */
	if (cs.exit && !(cs.exit == NM_EXIT_NOMEM && c->force)) {
		checks_print(stderr, &cs, false);
		nm_report_free(&rep);
		return cs.exit;
	}
	nm_report_free(&rep);

	rc = nm_move(&c->host, &nm_sys_default, c->pid, &o, &rep, &err);
	if (o.progress)
		nm_progress_end();
	if (rc) {
		ex = nm_cli_fail(object, &err);
		nm_report_free(&rep);
		return ex;
	}
	if (c->policy) {
		struct ob_err perr = { 0 };

		policy_rc = nm_cpuset_rebind(&c->host, c->pid, &c->from, &c->to, cg, sizeof(cg),
					     &perr);
		if (policy_rc) {
			ob_err_print("numamove", "--policy", &perr);
		} else {
			policy_done = true;
			/* The kernel moved what was left; look again. */
			rc = nm_verify(&c->host, &nm_sys_default, &o, &rep, &err);
			if (rc) {
				ex = nm_cli_fail(object, &err);
				nm_report_free(&rep);
				return ex;
			}
		}
	}
	back = nm_policy_points_back(&rep.proc, &c->from);
	ex = rep.bytes_left ? NM_EXIT_RESIDUE : NM_EXIT_OK;
	if (c->policy && (policy_rc || back))
		ex = NM_EXIT_RESIDUE;

	if (c->json) {
		nm_report_json(c->out, c, &rep);
		checks_json(c->out, &cs);
		fprintf(c->out, ",\"policy\":{\"requested\":%s,\"moved\":%s,\"cgroup\":",
			c->policy ? "true" : "false", policy_done ? "true" : "false");
		nm_json_str(c->out, cg);
		fprintf(c->out, ",\"points_back\":%zu},\"exit\":%d}\n", back, ex);
	} else {
		nm_report_text(c->out, c, &rep);
		if (policy_done && !c->quiet)
			fprintf(c->out, "numamove: policy moved: %s/cpuset.mems now excludes node "
				"%s\n", cg, c->from_s);
	}
	/* Warnings go to stderr in both modes: stdout stays one JSON object. */
	checks_print(stderr, &cs, false);
	if (back)
		fprintf(stderr, "numamove: warning: policy: %zu mappings still have a policy "
			"naming node %s; new faults will land there%s\n", back, c->from_s,
			c->policy ? "" : " (use --policy)");
	nm_report_free(&rep);
	return ex;
}
