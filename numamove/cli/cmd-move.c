// SPDX-License-Identifier: MIT
/* cmd-move.c - "numamove PID --from --to": plan, check, move, verify,
 * explain, and optionally move the policy.
 *
 * The checks (spec 1.8 item 2) run for --dry-run and before a real move:
 *   C1  access: the scan itself proves ptrace read access (pagemap and the
 *       move_pages query need it); failure is exit 4 before any check;
 *   C2  cpuset: every target node must be in the process's Mems_allowed,
 *       or move_pages fails the whole call with EACCES -> exit 4; with
 *       --policy the cpuset is set first (see nm_cmd_move), so what counts
 *       is whether that can be done (nm_cpuset_plan);
 *   C3  free memory: planned bytes per target vs what the node can still
 *       give a migration (free above the min watermark and lowmem
 *       reserve, nm_host_node_avail; MemFree overstates it by the
 *       watermark, 22 MiB of a 512 MiB node) -> exit 7 (a real move goes
 *       ahead with --force);
 *   C4  shared pages without CAP_SYS_NICE will stay (warning);
 *   C5  automatic NUMA balancing may move pages back (warning);
 *   C6  a policy that names a source node pulls new faults back (warning,
 *       unless --policy will rebind it); "skipped" when a real move left
 *       policies out (NM_CLI_NUMA_MAPS_MAX).
 * Problems (C2, C3) change the exit status of a dry run; warnings do not.
 */
#include "cli.h"

#include <errno.h>
#include <string.h>

#define MAX_CHECKS 8

struct check {
	const char *name;
	const char *level;		/* "ok", "skipped", "warning", "problem" */
	char detail[2048];
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

/* C2 with --policy: the cpuset is set before the move, so the targets
 * count as allowed when it can be; pl->cgroup[0] is '\0' when it cannot. */
static void check_cpuset_policy(struct nm_cli *c, const struct nm_report *rep,
				struct checks *cs, struct nm_cpuset_plan *pl, bool outside)
{
	struct ob_err err = { 0 };
	struct check *k;
	char m[256];

	if (nm_cpuset_plan(&c->host, rep->pid, &c->from, &c->to, pl, &err)) {
		pl->cgroup[0] = '\0';
		if (outside) {
			k = check_add(cs, "cpuset", "problem", NM_EXIT_PERM);
			snprintf(k->detail, sizeof(k->detail), "target node %s is outside the "
				 "process's cpuset and --policy cannot widen it: %s", c->to_s,
				 err.msg);
		} else {
			k = check_add(cs, "cpuset", "warning", 0);
			snprintf(k->detail, sizeof(k->detail), "--policy cannot move the "
				 "policy: %s", err.msg);
		}
		return;
	}
	nm_mask_format(&pl->mems, m, sizeof(m));
	k = check_add(cs, "cpuset", "ok", 0);
	snprintf(k->detail, sizeof(k->detail), "--policy first sets %s/cpuset.mems to %s%s",
		 pl->cgroup, m, pl->create ? " (a new cgroup)" : "");
}

static void run_checks(struct nm_cli *c, const struct nm_report *rep,
		       const struct nm_move_opts *o, struct checks *cs,
		       struct nm_cpuset_plan *pl)
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
	if (c->policy) {
		check_cpuset_policy(c, rep, cs, pl, nm_mask_weight(&bad) > 0);
	} else if (nm_mask_weight(&bad)) {
		k = check_add(cs, "cpuset", "problem", NM_EXIT_PERM);
		snprintf(k->detail, sizeof(k->detail), "target node %s is outside the "
			 "process's cpuset (Mems_allowed %s)", m1, m2);
	} else {
		k = check_add(cs, "cpuset", "ok", 0);
		snprintf(k->detail, sizeof(k->detail), "Mems_allowed %s", m2);
	}

	nm_mask_for_each(n, &c->to) {						/* C3 */
		uint64_t total, free_kb, avail_kb;
		char f[32];

		if (!rep->bytes_per_target[n])
			continue;
		if (nm_host_node_mem(&c->host, n, &total, &free_kb, NULL))
			continue;
		if (nm_host_node_avail(&c->host, n, &avail_kb, NULL))
			avail_kb = free_kb;	/* no zoneinfo: the old estimate */
		if (rep->bytes_per_target[n] > avail_kb * 1024) {
			k = check_add(cs, "free-memory", "problem", NM_EXIT_NOMEM);
		} else {
			k = check_add(cs, "free-memory", "ok", 0);
		}
		snprintf(k->detail, sizeof(k->detail), "node %d: need %s, can take %s (free %s, "
			 "less the kernel's min watermark and reserve)", n,
			 nm_size(rep->bytes_per_target[n], a, sizeof(a)),
			 nm_size(avail_kb * 1024, b, sizeof(b)), nm_size(free_kb * 1024, f, sizeof(f)));
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
	if (p->lean) {
		k = check_add(cs, "policy", "skipped", 0);
		snprintf(k->detail, sizeof(k->detail), "policies not read: %zu mappings "
			 "(numa_maps would cost about as much as the move; --dry-run reads it)",
			 p->nr_vmas);
	} else if (back && !c->policy) {
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

/* The first problem's detail, for the error line of a refusal. */
static const char *first_problem(const struct checks *cs)
{
	for (int i = 0; i < cs->n; i++)
		if (!strcmp(cs->v[i].level, "problem"))
			return cs->v[i].detail;
	return "refused";
}

static void print_json(struct nm_cli *c, const struct nm_report *rep, const struct checks *cs,
		       const char *policy_json, int ex)
{
	nm_report_json(c->out, c, rep);
	checks_json(c->out, cs);
	if (policy_json)
		fputs(policy_json, c->out);
	nm_cli_json_error(c);
	fprintf(c->out, ",\"exit\":%d}\n", ex);
}

/* --policy before the move: a target outside the old cpuset can only take
 * pages once the cpuset allows it, and the kernel moves what it can while
 * rebinding.  Returns 0, or the -errno of a failed write. */
static int policy_first(struct nm_cli *c, const struct nm_cpuset_plan *pl, struct ob_err *err)
{
	int rc;

	nm_cpuset_sweep(&c->host);	/* cgroups of processes that have exited */
	if (!pl->cgroup[0]) {
		/* The check found it impossible: plan again for the reason. */
		struct nm_cpuset_plan again;

		rc = nm_cpuset_plan(&c->host, c->pid, &c->from, &c->to, &again, err);
		return rc ? rc : ob_err_set(err, -EAGAIN, "the cgroup changed meanwhile");
	}
	return nm_cpuset_apply(&c->host, c->pid, pl, err);
}

int nm_cmd_move(struct nm_cli *c)
{
	struct nm_report rep;
	struct nm_move_opts o, plan_o;
	struct nm_cpuset_plan pl = { .cgroup = "" };
	struct checks cs = { .n = 0 };
	struct ob_err err = { 0 }, perr = { 0 };
	char object[32], pjson[1600];
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
		return nm_cli_fail(c, object, &err);
	}
	run_checks(c, &rep, &o, &cs, &pl);
	if (cs.exit)
		snprintf(c->error, sizeof(c->error), "%s", first_problem(&cs));
	if (c->dry_run) {
		if (c->json) {
			print_json(c, &rep, &cs, NULL, cs.exit);
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
		if (c->json)
			print_json(c, &rep, &cs, NULL, cs.exit);
		nm_report_free(&rep);
		return cs.exit;
	}
	if (c->policy) {
		policy_rc = policy_first(c, &pl, &perr);
		if (policy_rc) {
			ob_err_print("numamove", "--policy", &perr);
		} else {
			policy_done = true;
			o.flags |= NM_F_POLICY_MOVED;
		}
	}
	/* The plan's scan is the move's: a second scan would double the cost
	 * that grows with the number of mappings (issue 21).  Pages the cpuset
	 * rebind has moved already are found on their target at once. */
	rc = nm_move_planned(&c->host, &nm_sys_default, &o, &rep, &err);
	if (o.progress)
		nm_progress_end();
	if (rc) {
		ex = nm_cli_fail(c, object, &err);
		nm_report_free(&rep);
		return ex;
	}
	back = nm_policy_points_back(&rep.proc, &c->from);
	ex = rep.bytes_left ? NM_EXIT_RESIDUE : NM_EXIT_OK;
	if (c->policy && (policy_rc || back))
		ex = NM_EXIT_RESIDUE;
	if (policy_rc)
		snprintf(c->error, sizeof(c->error), "--policy: %s", perr.msg);

	if (c->json) {
		FILE *m = fmemopen(pjson, sizeof(pjson), "w");

		if (m) {
			fprintf(m, ",\"policy\":{\"requested\":%s,\"moved\":%s,\"cgroup\":",
				c->policy ? "true" : "false", policy_done ? "true" : "false");
			nm_json_str(m, policy_done ? pl.cgroup : "");
			if (rep.proc.lean)
				fprintf(m, ",\"points_back\":null}");
			else
				fprintf(m, ",\"points_back\":%zu}", back);
			fclose(m);
		}
		print_json(c, &rep, &cs, m ? pjson : NULL, ex);
	} else {
		nm_report_text(c->out, c, &rep);
		if (policy_done && !c->quiet)
			fprintf(c->out, "numamove: policy moved: %s/cpuset.mems now excludes node "
				"%s\n", pl.cgroup, c->from_s);
	}
	/* Warnings go to stderr in both modes: stdout stays one JSON object. */
	checks_print(stderr, &cs, false);
	if (back)
		fprintf(stderr, "numamove: warning: policy: %zu mappings still have a policy "
			"naming node %s; new faults will land there%s\n", back, c->from_s,
			c->policy ? "" : " (use --policy)");
	else if (rep.proc.lean && !c->quiet)
		fprintf(stderr, "numamove: note: policies not read at %zu mappings (numa_maps "
			"costs about as much as the move); --dry-run shows them\n",
			rep.proc.nr_vmas);
	nm_report_free(&rep);
	return ex;
}
