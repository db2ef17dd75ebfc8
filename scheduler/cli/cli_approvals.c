/*
 * cli_approvals.c: the approval record of one run for `yoban show`: who requested it and what
 * it was pinned to (revision, procedure digest, approvers needed, lead time, emergency), each
 * approval with its comment, how the request ended (started, rejected, void and why) and every
 * gate decision (approval, revision approval, staging), in time order, each with who and when.
 */
#include "cli_approvals.h"
#include "db_admin.h"
#include "runbook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char evidence_sql[] =
	"SELECT s.kind, to_json(s.at) #>> '{}' AS at, s.who, s.detail FROM ("
	" SELECT 0 AS o, 'request' AS kind, q.requested_at AS at, q.requested_by AS who,"
	"  format('%s approver(s) needed, lead time %s%s; revision %s (sha256 %s); procedure %s '\n"
	"   '(sha256 %s)%s', q.approvers, q.lead_time, CASE WHEN q.emergency THEN ' (EMERGENCY)'"
	"   ELSE '' END, q.revision_id, left(q.revision_sha256, 12), coalesce(q.procedure, '-'),"
	"   coalesce(q.procedure_sha256, '-'), coalesce('; reason: ' || q.reason, '')) AS detail"
	"  FROM yoban.approval_requests q WHERE q.run_id = $1::bigint"
	" UNION ALL SELECT 1, 'approved', a.at, a.approver, coalesce(a.comment, '')"
	"  FROM yoban.approvals a WHERE a.run_id = $1::bigint"
	" UNION ALL SELECT 2, q.state::text, q.decided_at, NULL, q.decision"
	"  FROM yoban.approval_requests q WHERE q.run_id = $1::bigint AND q.decided_at IS NOT NULL"
	"   AND q.state <> 'started'"
	" UNION ALL SELECT 3, 'gate ' || g.gate, g.at, g.decided_by,"
	"  CASE WHEN g.passed THEN 'passed: ' ELSE 'refused: ' END || g.reason"
	"  FROM yoban.gate_decisions g WHERE g.run_id = $1::bigint"
	") s ORDER BY s.at, s.o";

/* A column by name: the queries here name every one (BUG_ON if one changed). */
static const char *col(const struct db_result *r, int row, const char *name)
{
	int i = db_result_col(r, name);
	BUG_ON(i < 0);
	return db_result_get(r, row, i);
}

int cli_show_approvals(struct db_conn *c, const char *run_id, struct yb_json *json)
{
	struct db_result *r = NULL;
	const char *p[] = { run_id };
	int status = opdb_query(c, evidence_sql, 1, p, &r, "yoban_reviewer");
	if (status != 0)
		return status;
	int n = db_result_rows(r);
	if (json) {
		struct yb_json *arr = yb_json_array();
		for (int i = 0; i < n; i++)
			yb_json_push(arr, opdb_row_json(r, i));
		yb_json_set(json, "approval", arr);
	} else if (n) {
		printf("\napproval and gates\n");
		for (int i = 0; i < n; i++) {
			char at[32];
			const char *who = col(r, i, "who"), *detail = col(r, i, "detail");
			opdb_format_time(col(r, i, "at"), at, sizeof(at));
			printf("  %s  %-22s %s%s%s\n", at, col(r, i, "kind"), who ? who : "",
			       who ? ": " : "", detail ? detail : "");
		}
	}
	db_result_free(r);
	return 0;
}

static const char staging_sql[] =
	"SELECT s.id, s.state, to_json(s.ended_at) #>> '{}' AS ended_at, s.how FROM ("
	" SELECT r.id, r.state::text AS state, r.ended_at, 'staging run' AS how"
	"  FROM yoban.runs r JOIN yoban.runbook_revisions v ON v.id = r.revision_id"
	"  WHERE v.runbook = $1 AND v.sha256 = $2 AND r.mode = 'staging'"
	" UNION ALL SELECT r.id, r.state::text, r.ended_at, 'rehearsal ' || r.runbook"
	"  FROM yoban.rehearsals h JOIN yoban.runbook_revisions v ON v.id = h.revision_id"
	"  JOIN yoban.runs r ON r.id = h.run_id WHERE v.runbook = $1 AND v.sha256 = $2"
	") s ORDER BY s.id DESC LIMIT 1";

void cli_plan_staging(const struct rb_set *set, const struct rb_runbook *rb, struct yb_json *json)
{
	struct yb_err err = { 0 };
	struct db_conn *c = NULL;
	struct db_result *r = NULL;
	const struct rb_site *site = &set->site;
	char *conninfo = NULL;
	if (!rb->staging_required)
		goto out;
	conninfo = site->database ? xstrdup(site->database)
				  : db_cluster_conninfo(site->state_dir, DB_CLUSTER_DBNAME);
	const char *p[] = { rb->name, rb->revision };
	if (db_connect(conninfo, &c, &err) < 0 || db_exec(c, staging_sql, 2, p, &r, &err) < 0) {
		if (!json)
			printf("\nstaging gate: required; the last staging result of this revision is "
			       "not known (the database is not reachable)\n");
		goto out;
	}
	if (json) {
		yb_json_set(json, "staging_last", db_result_rows(r) ? opdb_row_json(r, 0) : yb_json_null());
	} else if (!db_result_rows(r)) {
		printf("\nstaging gate: required; staging result of this revision: none yet "
		       "(production is refused)\n");
	} else {
		char at[32];
		const char *state = col(r, 0, "state");
		opdb_format_time(col(r, 0, "ended_at"), at, sizeof(at));
		printf("\nstaging gate: required; staging result of this revision: run %s (%s) %s at "
		       "%s%s\n", col(r, 0, "id"), col(r, 0, "how"), state, at,
		       strcmp(state, "succeeded") ? " (production is refused)" : "");
	}
out:
	if (json && rb->staging_required && !yb_json_get(json, "staging_last"))
		yb_json_set(json, "staging_last", yb_json_null());
	db_result_free(r);
	db_close(c);
	free(conninfo);
}
