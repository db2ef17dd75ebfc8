/*
 * gates.c: what the database needs to enforce approvals and the staging gate, and the approved
 * requests whose time has come.
 *
 * The one idea: the rules live in the database (schemas/sql/008_approvals.sql), so psql and the
 * CLI meet the same ones; the daemon only tells the database what it loaded (each runbook's
 * revision, approval settings, procedure digest and staging requirement: yoban_record_gates) and
 * asks it which approved requests may start now (yoban_approvals_due, which voids those whose
 * runbook or procedure changed and holds back those whose staging has not passed). A request the
 * database released is a pending run like any other from then on.
 */
#include "yoband.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define YD_APPROVALS_EVERY_MS 2000

static const char *const kind_names[] = { "batch", "data-patch", "backup", "offsite-copy",
					  "rehearsal" };

/* Tells the database the gate of every runbook scheduled now (after the revisions are recorded). */
void yd_gates_record(struct yd *d)
{
	if (!d->db || d->db_broken || d->phase != YD_LEADER)
		return;
	struct yb_buf names, revs, kinds, approvers, leads, procs, shas, staging, rehearses;
	yd_arr_open(&names);
	yd_arr_open(&revs);
	yd_arr_open(&kinds);
	yd_arr_open(&approvers);
	yd_arr_open(&leads);
	yd_arr_open(&procs);
	yd_arr_open(&shas);
	yd_arr_open(&staging);
	yd_arr_open(&rehearses);
	size_t n = 0;
	for (size_t i = 0; i < d->n_entries; i++) {
		const struct yd_rev *r = d->entries[i]->rev;
		const struct rb_runbook *rb = r->rb;
		char num[24];
		if (r->id <= 0)
			continue; /* not recorded (yet): no gate, so no request can pin it */
		yd_arr_add(&names, r->name);
		yd_arr_add(&revs, yd_idtext(num, r->id));
		yd_arr_add(&kinds, kind_names[rb->kind]);
		yd_arr_add(&approvers, yd_idtext(num, rb->has_approval ? rb->approvers : 0));
		yd_arr_add(&leads, yd_idtext(num, rb->lead_time_ms));
		yd_arr_add(&procs, rb->procedure);
		yd_arr_add(&shas, rb->procedure_sha256[0] ? rb->procedure_sha256 : NULL);
		yd_arr_add(&staging, rb->staging_required ? "true" : "false");
		yd_arr_add(&rehearses, rb->kind == RB_KIND_REHEARSAL ? rb->rehearse : NULL);
		n++;
	}
	struct yb_buf *all[] = { &names, &revs, &kinds, &approvers, &leads, &procs, &shas, &staging,
				 &rehearses };
	for (size_t i = 0; i < YB_ARRAY_LEN(all); i++)
		yb_buf_append(all[i], "}", 1);
	/* The site's emergency lead time (yoban.yaml approval.emergency_lead_time, default 0s): what
	 * `yoban request --emergency` waits after its last approval (docs/approvals.md). */
	char emergency[24];
	yd_idtext(emergency, d->base ? d->base->set->site.emergency_lead_time_ms : 0);
	const char *p[] = { names.data, revs.data, kinds.data, approvers.data, leads.data, procs.data,
			    shas.data, staging.data, rehearses.data, emergency };
	yd_async(d, "recording the runbooks' gates", false,
		 "SELECT yoban.yoban_record_gates($1::text[], $2::bigint[], $3::text[], $4::integer[], "
		 "$5::bigint[], $6::text[], $7::text[], $8::boolean[], $9::text[], $10::bigint)", 10, p);
	yd_log("gates of %zu runbook(s) recorded", n);
	for (size_t i = 0; i < YB_ARRAY_LEN(all); i++)
		yb_buf_release(all[i]);
}

/* A column of yoban_approvals_due()'s result by name (BUG_ON if the function changed). */
static const char *col(const struct db_result *r, int row, const char *name)
{
	int i = db_result_col(r, name);
	BUG_ON(i < 0);
	return db_result_get(r, row, i);
}

/* The released requests: each becomes a pending run in memory. */
static void approvals_read(struct yd *d, void *ctx, struct db_result *r)
{
	(void)ctx;
	if (!r)
		return;
	for (int i = 0; i < db_result_rows(r); i++) {
		int64_t id = strtoll(col(r, i, "run_id"), NULL, 10);
		const char *name = col(r, i, "runbook");
		int64_t rev_id = strtoll(col(r, i, "revision_id"), NULL, 10);
		bool staging = !strcmp(col(r, i, "mode"), "staging");
		const char *ptext = col(r, i, "params");
		const char *by = col(r, i, "requested_by");
		struct yd_entry *e = yd_entry_find(d, name);
		struct yb_json *given = NULL, *params;
		struct yb_err err = { 0 };
		if (yd_run_find(d, id))
			continue;
		if (!ptext || yb_json_parse(ptext, strlen(ptext), &given, NULL) < 0)
			given = yb_json_object();
		/* The database released it for the revision it pinned, which is the one loaded now. */
		if (!e || e->rev->id != rev_id) {
			char idt[24];
			const char *p[] = { yd_idtext(idt, id) };
			yb_json_free(given);
			yd_log("approved request: run %lld of '%s': its revision is no longer loaded", (long long)id,
			       name);
			yd_async(d, "an approved run whose revision is gone", false,
				 "SELECT yoban.yoban_run_transition($1::bigint, 'pending', 'failed', "
				 "'the approved revision is no longer loaded')", 1, p);
			continue;
		}
		params = yd_params_resolve(e->rev->rb, given, yd_now_s(), &err);
		yb_json_free(given);
		struct yd_run *run = yd_run_new(d, id, name, yd_rev_ref(e->rev), staging, "manual",
					     yd_now_s(), params ? params : yb_json_object(), RS_PENDING);
		yd_log("approved request: run %lld of '%s' (%s) requested by %s starts", (long long)id,
		       name, staging ? "staging" : "production", by);
		if (!params) {
			yd_run_finish(d, run, RS_FAILED, err.msg);
			continue;
		}
		yd_run_advance(d, run);
	}
}

/* Asks the database for the approved requests due now (every few seconds). */
void yd_approvals_due(struct yd *d)
{
	static int64_t next_ms;
	int64_t now = yb_mono_ms();
	if (d->phase != YD_LEADER || d->db_broken || now < next_ms)
		return;
	next_ms = now + YD_APPROVALS_EVERY_MS;
	yd_decide(d, "the approved requests due", "SELECT * FROM yoban.yoban_approvals_due()", 0, NULL,
		  approvals_read, NULL, NULL);
}
