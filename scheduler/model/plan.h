/*
 * plan.h: the dry run of a runbook: what would run, where, with which environment, and when,
 * without executing anything. `yoban plan` prints it; the same model is what a trigger would do.
 *
 * A plan borrows from the set (hosts, runbooks): it is valid while the set is.
 */
#ifndef YB_PLAN_H
#define YB_PLAN_H

#include <stdio.h>

#include "runbook.h"

#define RB_PLAN_MAX_FIRES 50

struct rb_plan_fire {
	int64_t at;
	char note[240]; /* "" or what the calendar did: "skipped closed days: 2026-11-23 勤労感謝の日" */
};

struct rb_plan {
	const struct rb_set *set;
	const struct rb_runbook *rb;
	/* the runbook whose steps run: rb itself, or the rehearsed runbook */
	const struct rb_runbook *steps_of;
	/* where: production hosts (a rehearsal: the rehearsed runbook's staging hosts) */
	const struct rb_host **hosts;
	size_t n_hosts;
	const struct rb_host **staging_hosts;
	size_t n_staging_hosts;
	int64_t from;
	struct rb_plan_fire fires[RB_PLAN_MAX_FIRES];
	size_t n_fires;
	char fire_error[256]; /* why there are fewer fires than asked, or "" */
};

/* Builds the plan of rb (a runbook of set) with the next n_fires fires strictly after from. */
void rb_plan_build(const struct rb_set *set, const struct rb_runbook *rb, int64_t from,
		   size_t n_fires, struct rb_plan *out);
void rb_plan_release(struct rb_plan *plan);
void rb_plan_print(const struct rb_plan *plan, FILE *out);
struct yb_json *rb_plan_json(const struct rb_plan *plan);

#endif
