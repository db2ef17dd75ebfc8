/*
 * report_gather.c: the month's figures, gathered from PostgreSQL into struct report.
 *
 * The one idea: the database does the counting. Each section is one parameterized, set-based
 * statement (GROUP BY, FILTER, percentile_cont) whose result is a handful of rows however many
 * runs and jobs the month holds, so a month of a million jobs never crosses libpq row by row.
 * The month is cut in the session's TimeZone (the site's: the caller set it), as
 * [first day 00:00, first day of the next month 00:00). A run belongs to the month of its
 * scheduled_for, or of its created_at when it was not scheduled. Columns are read by name.
 */
#include "report.h"
#include "incident_sql.h"
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const report_states[REPORT_N_STATES] = {
	"succeeded", "failed", "timed_out", "lost", "cancelled", "skipped",
	"awaiting_approval", "pending", "queued", "running", "cancelling",
};

/* A timestamptz as ISO 8601 to the second with the session zone's offset. */
#define ISO(x) "to_char(" x ", 'YYYY-MM-DD\"T\"HH24:MI:SSTZH:TZM')"
#define MONTH_FROM "$1::date::timestamptz"
#define MONTH_TO "($1::date + interval '1 month')::timestamptz"
#define RUN_IN_MONTH                                                                              \
	"coalesce(r.scheduled_for, r.created_at) >= " MONTH_FROM                                  \
	" AND coalesce(r.scheduled_for, r.created_at) < " MONTH_TO

bool report_month_valid(const char *m)
{
	if (!m || strlen(m) != 7 || m[4] != '-')
		return false;
	for (int i = 0; i < 7; i++)
		if (i != 4 && (m[i] < '0' || m[i] > '9'))
			return false;
	int y = atoi(m), mon = atoi(m + 5);
	return y >= 1970 && mon >= 1 && mon <= 12;
}

struct q {
	struct db_conn *c;
	struct db_result *r;
	struct yb_err *err;
	const struct report_params *p;
	char first_day[16]; /* "YYYY-MM-01" */
};

static int run(struct q *q, const char *section, const char *sql, int n, const char *const *params)
{
	db_result_free(q->r);
	q->r = NULL;
	if (q->p->progress)
		q->p->progress(section, q->p->progress_arg);
	int rc = db_exec(q->c, sql, n, params, &q->r, q->err);
	if (rc < 0)
		yb_err_prefix(q->err, "gathering the report's %s", section);
	return rc;
}

static int col(const struct q *q, const char *name)
{
	int c = db_result_col(q->r, name);
	if (c < 0)
		BUG("the report's query lost its column '%s'", name);
	return c;
}

static const char *get(const struct q *q, int row, const char *name)
{
	return db_result_get(q->r, row, col(q, name));
}

static char *dup(const struct q *q, int row, const char *name)
{
	const char *v = get(q, row, name);
	return v ? xstrdup(v) : NULL;
}

static int64_t num(const struct q *q, int row, const char *name)
{
	const char *v = get(q, row, name);
	return v ? strtoll(v, NULL, 10) : 0;
}

static double real(const struct q *q, int row, const char *name, double if_null)
{
	const char *v = get(q, row, name);
	return v ? strtod(v, NULL) : if_null;
}

static int state_index(const char *s)
{
	for (int i = 0; i < REPORT_N_STATES; i++)
		if (s && !strcmp(s, report_states[i]))
			return i;
	return -1;
}

static int gather_month(struct q *q, struct report *out)
{
	static const char sql[] =
		"SELECT current_setting('TimeZone') AS zone, " ISO(MONTH_FROM) " AS from_at, "
		ISO(MONTH_TO) " AS to_at, " ISO("now()") " AS generated_at,"
		" " MONTH_TO " > now() AS partial,"
		" extract(day FROM $1::date + interval '1 month' - interval '1 day')::int AS n_days";
	const char *p[] = { q->first_day };
	int rc = run(q, "month", sql, 1, p);
	if (rc < 0)
		return rc;
	out->zone = dup(q, 0, "zone");
	out->from_at = dup(q, 0, "from_at");
	out->to_at = dup(q, 0, "to_at");
	out->generated_at = dup(q, 0, "generated_at");
	out->partial = get(q, 0, "partial")[0] == 't';
	out->n_days = (int)num(q, 0, "n_days");
	out->days = xcalloc((size_t)out->n_days, sizeof(*out->days));
	return 0;
}

static int gather_runs(struct q *q, struct report *out)
{
	static const char by_state[] =
		"SELECT r.runbook, r.state::text AS state, count(*) AS n FROM yoban.runs r"
		" WHERE " RUN_IN_MONTH " GROUP BY r.runbook, r.state ORDER BY r.runbook, r.state";
	static const char by_day[] =
		"SELECT extract(day FROM coalesce(r.scheduled_for, r.created_at))::int AS day,"
		" count(*) FILTER (WHERE r.state = 'succeeded') AS ok,"
		" count(*) FILTER (WHERE r.state IN ('failed', 'timed_out', 'lost')) AS failed,"
		" count(*) FILTER (WHERE r.state IN ('cancelled', 'skipped')) AS other,"
		" count(*) FILTER (WHERE r.state NOT IN ('succeeded', 'failed', 'timed_out', 'lost',"
		"   'cancelled', 'skipped')) AS open"
		" FROM yoban.runs r WHERE " RUN_IN_MONTH " GROUP BY 1 ORDER BY 1";
	static const char jobs[] =
		"SELECT count(*) AS n, count(*) FILTER (WHERE j.state <> 'succeeded') AS failed"
		" FROM yoban.jobs j JOIN yoban.runs r ON r.id = j.run_id WHERE " RUN_IN_MONTH;
	const char *p[] = { q->first_day };
	int rc;
	if ((rc = run(q, "runs", by_state, 1, p)) < 0)
		return rc;
	int n = db_result_rows(q->r);
	out->runbooks = xcalloc((size_t)n + 1, sizeof(*out->runbooks));
	for (int i = 0; i < n; i++) {
		const char *name = get(q, i, "runbook");
		struct report_runbook_runs *rb = out->n_runbooks ?
			&out->runbooks[out->n_runbooks - 1] : NULL;
		if (!rb || strcmp(rb->runbook, name)) {
			rb = &out->runbooks[out->n_runbooks++];
			rb->runbook = xstrdup(name);
		}
		int s = state_index(get(q, i, "state"));
		int64_t count = num(q, i, "n");
		if (s < 0)
			BUG("run state '%s' is not among the report's states", get(q, i, "state"));
		rb->by_state[s] += count;
		rb->total += count;
		out->runs_by_state[s] += count;
		out->runs_total += count;
	}
	if ((rc = run(q, "runs per day", by_day, 1, p)) < 0)
		return rc;
	for (int i = 0; i < db_result_rows(q->r); i++) {
		int64_t day = num(q, i, "day");
		if (day < 1 || day > out->n_days)
			continue;
		struct report_day_runs *d = &out->days[day - 1];
		d->n[REPORT_DAY_OK] = num(q, i, "ok");
		d->n[REPORT_DAY_FAILED] = num(q, i, "failed");
		d->n[REPORT_DAY_OTHER] = num(q, i, "other");
		d->n[REPORT_DAY_OPEN] = num(q, i, "open");
	}
	if ((rc = run(q, "jobs", jobs, 1, p)) < 0)
		return rc;
	out->jobs_total = num(q, 0, "n");
	out->jobs_failed = num(q, 0, "failed");
	return 0;
}

static int gather_adherence(struct q *q, struct report *out)
{
	/* Skips on purpose (closed day, a skipping maintenance window, concurrency, a gate) were
	 * never meant to start; a missed fire (reason 'missed ...') was, and counts as late. */
	static const char sql[] =
		"WITH s AS (SELECT r.scheduled_for, r.started_at FROM yoban.runs r"
		"  WHERE r.trigger IN ('schedule', 'catchup') AND r.scheduled_for >= " MONTH_FROM
		"    AND r.scheduled_for < " MONTH_TO
		"    AND NOT (r.state = 'skipped' AND coalesce(r.reason, '') NOT LIKE 'missed%')),"
		" l AS (SELECT extract(epoch FROM s.started_at - s.scheduled_for)::float8 AS late"
		"  FROM s WHERE s.started_at IS NOT NULL)"
		" SELECT (SELECT count(*) FROM s) AS total, count(*) AS started,"
		" count(*) FILTER (WHERE l.late <= $2::float8) AS on_time,"
		" percentile_cont(0.5) WITHIN GROUP (ORDER BY l.late) AS p50,"
		" percentile_cont(0.99) WITHIN GROUP (ORDER BY l.late) AS p99, max(l.late) AS max"
		" FROM l";
	char threshold[16];
	snprintf(threshold, sizeof threshold, "%d", REPORT_ON_TIME_SECONDS);
	const char *p[] = { q->first_day, threshold };
	int rc = run(q, "schedule adherence", sql, 2, p);
	if (rc < 0)
		return rc;
	out->sched_total = num(q, 0, "total");
	out->sched_started = num(q, 0, "started");
	out->sched_on_time = num(q, 0, "on_time");
	out->on_time_percent = out->sched_total ?
		100.0 * (double)out->sched_on_time / (double)out->sched_total : -1;
	out->late_p50 = real(q, 0, "p50", -1);
	out->late_p99 = real(q, 0, "p99", -1);
	out->late_max = real(q, 0, "max", -1);
	return 0;
}

static int gather_failures(struct q *q, struct report *out)
{
	static const char sql[] =
		"SELECT r.id, r.runbook, r.mode::text AS mode, r.state::text AS state, r.reason,"
		" " ISO("r.started_at") " AS started_at, " ISO("r.ended_at") " AS ended_at,"
		" i.id AS incident_id"
		" FROM yoban.runs r LEFT JOIN yoban.incidents i ON i.run_id = r.id"
		" WHERE " RUN_IN_MONTH " AND r.state IN ('failed', 'timed_out', 'lost')"
		" ORDER BY coalesce(r.scheduled_for, r.created_at), r.id";
	const char *p[] = { q->first_day };
	int rc = run(q, "failures", sql, 1, p);
	if (rc < 0)
		return rc;
	int n = db_result_rows(q->r);
	out->failures = xcalloc((size_t)n + 1, sizeof(*out->failures));
	for (int i = 0; i < n; i++) {
		struct report_failure *f = &out->failures[out->n_failures++];
		f->run_id = num(q, i, "id");
		f->runbook = dup(q, i, "runbook");
		f->mode = dup(q, i, "mode");
		f->state = dup(q, i, "state");
		f->reason = dup(q, i, "reason");
		f->started_at = dup(q, i, "started_at");
		f->ended_at = dup(q, i, "ended_at");
		f->incident_id = num(q, i, "incident_id");
	}
	return 0;
}

static void read_clock(const struct q *q, int row, const char *name, struct report_clock *c)
{
	char key[32];
	snprintf(key, sizeof key, "%s_due", name);
	c->due = dup(q, row, key);
	snprintf(key, sizeof key, "%s_state", name);
	c->state = dup(q, row, key);
}

static int gather_incidents(struct q *q, struct report *out)
{
	const struct report_params *p = q->p;
	static const char sql[] = "SELECT " INCIDENT_COLUMNS " FROM yoban.incidents i WHERE "
		"i.detected_at >= $4::date::timestamptz AND i.detected_at < ($4::date + interval "
		"'1 month')::timestamptz ORDER BY i.detected_at, i.id";
	const char *params[] = { p->sla_report, p->sla_start, p->sla_recover, q->first_day };
	int rc = run(q, "incidents", sql, 4, params);
	if (rc < 0)
		return rc;
	int n = db_result_rows(q->r);
	out->incidents = xcalloc((size_t)n + 1, sizeof(*out->incidents));
	for (int i = 0; i < n; i++) {
		struct report_incident *x = &out->incidents[out->n_incidents++];
		x->id = num(q, i, "id");
		x->run_id = num(q, i, "run_id");
		x->runbook = dup(q, i, "runbook");
		x->event = dup(q, i, "event");
		x->summary = dup(q, i, "summary");
		x->detected_at = dup(q, i, "detected_at");
		x->notified_at = dup(q, i, "notified_at");
		x->acknowledged_at = dup(q, i, "acknowledged_at");
		x->acknowledged_by = dup(q, i, "acknowledged_by");
		x->recovered_at = dup(q, i, "recovered_at");
		x->resolved_at = dup(q, i, "resolved_at");
		x->resolved_by = dup(q, i, "resolved_by");
		x->cause = dup(q, i, "cause");
		x->temporary_fix = dup(q, i, "temporary_fix");
		x->permanent_fix = dup(q, i, "permanent_fix");
		read_clock(q, i, "report", &x->report);
		read_clock(q, i, "start", &x->start);
		read_clock(q, i, "recover", &x->recover);
		x->pass = true;
		const struct report_clock *clocks[] = { &x->report, &x->start, &x->recover };
		for (size_t k = 0; k < YB_ARRAY_LEN(clocks); k++)
			if (clocks[k]->state && !strcmp(clocks[k]->state, "breached"))
				x->pass = false;
	}
	return 0;
}

static void read_approvals(const char *text, struct report_patch *x)
{
	struct yb_json *arr = NULL;
	if (!text || yb_json_parse(text, strlen(text), &arr, NULL) < 0)
		return;
	size_t n = yb_json_len(arr);
	x->approvals = xcalloc(n + 1, sizeof(*x->approvals));
	for (size_t i = 0; i < n; i++) {
		const struct yb_json *a = yb_json_at(arr, i);
		const char *by = yb_json_get_str(a, "by"), *at = yb_json_get_str(a, "at");
		const char *comment = yb_json_get_str(a, "comment");
		struct report_approval *to = &x->approvals[x->n_approvals++];
		to->by = xstrdup(by ? by : "?");
		to->at = at ? xstrdup(at) : NULL;
		to->comment = comment ? xstrdup(comment) : NULL;
	}
	yb_json_free(arr);
}

static int gather_patches(struct q *q, struct report *out)
{
	/* A data patch: a run of a runbook of kind data-patch (as yoband last loaded it), or any run
	 * that was requested for approval. */
	static const char sql[] =
		"SELECT r.id, r.runbook, r.mode::text AS mode, r.state::text AS state,"
		" coalesce(a.requested_by, r.requested_by) AS requested_by,"
		" " ISO("coalesce(a.requested_at, r.created_at)") " AS requested_at,"
		" coalesce(a.reason, r.reason) AS reason, a.state::text AS approval_state,"
		" a.procedure, a.procedure_sha256,"
		" (SELECT json_agg(json_build_object('by', p.approver, 'at', " ISO("p.at") ","
		"   'comment', p.comment) ORDER BY p.at) FROM yoban.approvals p"
		"   WHERE p.run_id = r.id)::text AS approvals,"
		" (SELECT string_agg(DISTINCT s.outcome, ', ') FROM yoban.sql_results s"
		"   JOIN yoban.jobs j ON j.id = s.job_id WHERE j.run_id = r.id) AS sql_outcome"
		" FROM yoban.runs r LEFT JOIN yoban.approval_requests a ON a.run_id = r.id"
		" WHERE " RUN_IN_MONTH " AND (a.run_id IS NOT NULL OR EXISTS (SELECT 1 FROM"
		"   yoban.runbook_gates g WHERE g.runbook = r.runbook AND g.kind = 'data-patch'))"
		" ORDER BY r.id";
	static const char digests[] =
		"SELECT j.run_id, 'stdout' AS what, j.step || '@' || j.host ||"
		"   CASE WHEN j.attempt > 1 THEN ' #' || j.attempt ELSE '' END AS label,"
		"   j.stdout_sha256 AS sha256, j.stdout_bytes AS bytes, -1 AS rows, j.id AS job_id,"
		"   0 AS ord FROM yoban.jobs j"
		" WHERE j.run_id = ANY ($1::bigint[]) AND j.stdout_sha256 IS NOT NULL"
		" UNION ALL SELECT j.run_id, 'stderr', j.step || '@' || j.host ||"
		"   CASE WHEN j.attempt > 1 THEN ' #' || j.attempt ELSE '' END,"
		"   j.stderr_sha256, j.stderr_bytes, -1, j.id, 1 FROM yoban.jobs j"
		" WHERE j.run_id = ANY ($1::bigint[]) AND j.stderr_sha256 IS NOT NULL"
		"   AND j.stderr_bytes > 0"
		" UNION ALL SELECT j.run_id, 'artifact', j.step || '/' || a.name, a.sha256, a.bytes,"
		"   coalesce(a.rows, -1), j.id, 2 FROM yoban.artifacts a JOIN yoban.jobs j"
		"   ON j.id = a.job_id WHERE j.run_id = ANY ($1::bigint[])"
		" ORDER BY 1, 7, 8, 3";
	const char *p[] = { q->first_day };
	int rc = run(q, "data patches", sql, 1, p);
	if (rc < 0)
		return rc;
	int n = db_result_rows(q->r);
	out->patches = xcalloc((size_t)n + 1, sizeof(*out->patches));
	struct yb_buf ids;
	yb_buf_init(&ids, 0);
	yb_buf_append(&ids, "{", 1);
	for (int i = 0; i < n; i++) {
		struct report_patch *x = &out->patches[out->n_patches++];
		x->run_id = num(q, i, "id");
		x->runbook = dup(q, i, "runbook");
		x->mode = dup(q, i, "mode");
		x->state = dup(q, i, "state");
		x->requested_by = dup(q, i, "requested_by");
		x->requested_at = dup(q, i, "requested_at");
		x->reason = dup(q, i, "reason");
		x->approval_state = dup(q, i, "approval_state");
		x->procedure = dup(q, i, "procedure");
		x->procedure_sha256 = dup(q, i, "procedure_sha256");
		read_approvals(get(q, i, "approvals"), x);
		x->sql_outcome = dup(q, i, "sql_outcome");
		yb_buf_appendf(&ids, "%s%lld", i ? "," : "", (long long)x->run_id);
	}
	yb_buf_append(&ids, "}", 1);
	const char *dp[] = { ids.data };
	rc = n ? run(q, "evidence digests", digests, 1, dp) : 0;
	yb_buf_release(&ids);
	if (rc < 0 || !n)
		return rc;
	size_t k = 0; /* patches and digests are both ordered by run id */
	for (int i = 0; i < db_result_rows(q->r); i++) {
		int64_t run_id = num(q, i, "run_id");
		while (k < out->n_patches && out->patches[k].run_id < run_id)
			k++;
		if (k == out->n_patches)
			break;
		struct report_patch *x = &out->patches[k];
		if (x->run_id != run_id)
			continue;
		x->digests = xrealloc(x->digests, (x->n_digests + 1) * sizeof(*x->digests));
		struct report_digest *d = &x->digests[x->n_digests++];
		d->what = dup(q, i, "what");
		d->label = dup(q, i, "label");
		d->sha256 = dup(q, i, "sha256");
		d->bytes = num(q, i, "bytes");
		d->rows = num(q, i, "rows");
	}
	return 0;
}

static int gather_backups(struct q *q, struct report *out)
{
	/* Generations kept at a day's end: the repository's successful backups until then, minus
	 * the generations pruned from it (an off-site copy's prunes are files at the vault). */
	static const char sql[] =
		"WITH e AS (SELECT b.*, (b.recorded_at AT TIME ZONE current_setting('TimeZone'))::date"
		"   AS day FROM yoban.backup_evidence b WHERE b.recorded_at >= " MONTH_FROM
		"   AND b.recorded_at < " MONTH_TO " AND b.event <> 'restore')"
		" SELECT to_char(e.day, 'YYYY-MM-DD') AS day, e.runbook, e.repository,"
		" count(*) FILTER (WHERE e.event = 'backup') AS backups,"
		" count(*) FILTER (WHERE e.event = 'backup' AND e.ok) AS backups_ok,"
		" count(*) FILTER (WHERE (e.event = 'backup' AND e.ok AND e.verified_at IS NOT NULL)"
		"   OR (e.event = 'verify' AND e.ok)) AS verified,"
		" count(*) FILTER (WHERE e.event = 'verify' AND NOT e.ok) AS verify_failed,"
		" count(*) FILTER (WHERE e.event = 'prune') AS pruned,"
		" count(*) FILTER (WHERE e.event = 'offsite') AS offsite,"
		" count(*) FILTER (WHERE e.event = 'offsite' AND e.ok) AS offsite_ok,"
		" (SELECT count(*) FILTER (WHERE x.event = 'backup' AND x.ok)"
		"   - count(*) FILTER (WHERE x.event = 'prune'"
		"       AND x.detail->>'kind' IS DISTINCT FROM 'offsite')"
		"   FROM yoban.backup_evidence x WHERE x.repository = e.repository"
		"   AND x.recorded_at < (e.day + 1)::timestamptz) AS generations,"
		" max(e.generation) FILTER (WHERE e.event = 'backup' AND e.ok) AS newest_generation"
		" FROM e GROUP BY e.day, e.runbook, e.repository ORDER BY 1, 2, 3";
	const char *p[] = { q->first_day };
	int rc = run(q, "backups", sql, 1, p);
	if (rc < 0)
		return rc;
	int n = db_result_rows(q->r);
	out->backups = xcalloc((size_t)n + 1, sizeof(*out->backups));
	for (int i = 0; i < n; i++) {
		struct report_backup_day *b = &out->backups[out->n_backups++];
		b->day = dup(q, i, "day");
		b->runbook = dup(q, i, "runbook");
		b->repository = dup(q, i, "repository");
		b->backups = num(q, i, "backups");
		b->backups_ok = num(q, i, "backups_ok");
		b->verified = num(q, i, "verified");
		b->verify_failed = num(q, i, "verify_failed");
		b->pruned = num(q, i, "pruned");
		b->offsite = num(q, i, "offsite");
		b->offsite_ok = num(q, i, "offsite_ok");
		b->generations = num(q, i, "generations");
		b->newest_generation = dup(q, i, "newest_generation");
	}
	return 0;
}

static int gather_effort(struct q *q, struct report *out)
{
	int year = atoi(q->p->month), month = atoi(q->p->month + 5), rc;
	if (q->p->progress)
		q->p->progress("effort", q->p->progress_arg);
	if ((rc = yb_effort_month_load(q->c, year, month, &out->effort, q->err)) < 0)
		yb_err_prefix(q->err, "gathering the report's effort");
	return rc;
}

static int gather_availability(struct q *q, struct report *out)
{
	static const char sql[] =
		"SELECT a.total_minutes, a.down_minutes, a.percent FROM yoban.yoban_availability("
		" " MONTH_FROM ", " MONTH_TO ","
		" ARRAY(SELECT tstzrange(to_timestamp(m.f), to_timestamp(m.t))"
		"       FROM unnest($2::bigint[], $3::bigint[]) AS m(f, t))) a";
	static const char windows[] =
		"SELECT " ISO("greatest(to_timestamp(m.f), " MONTH_FROM ")") " AS from_at,"
		" " ISO("least(to_timestamp(m.t), " MONTH_TO ")") " AS to_at"
		" FROM unnest($2::bigint[], $3::bigint[]) AS m(f, t)"
		" WHERE to_timestamp(m.t) > " MONTH_FROM " AND to_timestamp(m.f) < " MONTH_TO
		" ORDER BY m.f";
	const char *p[] = { q->first_day, q->p->maint_from ? q->p->maint_from : "{}",
			    q->p->maint_to ? q->p->maint_to : "{}" };
	int rc = run(q, "availability", sql, 3, p);
	if (rc < 0)
		return rc;
	out->avail_minutes = real(q, 0, "total_minutes", 0);
	out->avail_down_minutes = real(q, 0, "down_minutes", 0);
	out->avail_percent = real(q, 0, "percent", -1);
	out->avail_target = q->p->availability_target > 0 ? q->p->availability_target :
							    REPORT_DEFAULT_AVAILABILITY;
	if ((rc = run(q, "maintenance windows", windows, 3, p)) < 0)
		return rc;
	int n = db_result_rows(q->r);
	out->maintenance = xcalloc((size_t)n + 1, sizeof(*out->maintenance));
	for (int i = 0; i < n; i++) {
		out->maintenance[i].from = dup(q, i, "from_at");
		out->maintenance[i].to = dup(q, i, "to_at");
		out->n_maintenance++;
	}
	return 0;
}

static int gather_chain(struct q *q, struct report *out)
{
	/* The chain tables come with migration 013; a database without them says so. */
	static const char present[] =
		"SELECT to_regclass('yoban.evidence_chain') IS NOT NULL AS chain,"
		" to_regclass('yoban.checkpoints') IS NOT NULL AS checkpoints";
	static const char head[] =
		"SELECT c.seq, encode(c.hash, 'hex') AS hash, " ISO("c.at") " AS at"
		" FROM yoban.evidence_chain c WHERE c.at < " MONTH_TO " ORDER BY c.seq DESC LIMIT 1";
	static const char checkpoint[] =
		"SELECT k.seq, encode(k.hash, 'hex') AS hash, " ISO("k.signed_at") " AS signed_at,"
		" k.recorded_by FROM yoban.checkpoints k WHERE k.signed_at < " MONTH_TO
		" ORDER BY k.seq DESC, k.signed_at DESC LIMIT 1";
	const char *p[] = { q->first_day };
	int rc = run(q, "evidence chain", present, 0, NULL);
	if (rc < 0)
		return rc;
	out->chain_recorded = get(q, 0, "chain")[0] == 't';
	out->checkpoint_recorded = get(q, 0, "checkpoints")[0] == 't';
	if (out->chain_recorded) {
		if ((rc = run(q, "evidence chain", head, 1, p)) < 0)
			return rc;
		if (db_result_rows(q->r) == 1) {
			out->chain_seq = num(q, 0, "seq");
			out->chain_hash = dup(q, 0, "hash");
			out->chain_at = dup(q, 0, "at");
		}
	}
	if (out->checkpoint_recorded) {
		if ((rc = run(q, "checkpoints", checkpoint, 1, p)) < 0)
			return rc;
		if (db_result_rows(q->r) == 1) {
			out->checkpoint_seq = num(q, 0, "seq");
			out->checkpoint_hash = dup(q, 0, "hash");
			out->checkpoint_signed_at = dup(q, 0, "signed_at");
			out->checkpoint_by = dup(q, 0, "recorded_by");
		}
	}
	return 0;
}

int report_gather(struct db_conn *c, const struct report_params *p, struct report *out,
		  struct yb_err *err)
{
	struct report r = { 0 };
	struct q q = { .c = c, .err = err, .p = p };
	int rc;
	BUG_ON(!report_month_valid(p->month));
	snprintf(q.first_day, sizeof q.first_day, "%s-01", p->month);
	snprintf(r.month, sizeof r.month, "%s", p->month);
	snprintf(r.sla_report, sizeof r.sla_report, "%s", p->sla_report_label ? p->sla_report_label : "");
	snprintf(r.sla_start, sizeof r.sla_start, "%s", p->sla_start_label ? p->sla_start_label : "");
	snprintf(r.sla_recover, sizeof r.sla_recover, "%s",
		 p->sla_recover_label ? p->sla_recover_label : "");
	r.sla_default = p->sla_default;
	/* One snapshot for every section: the figures of one report agree with each other. */
	if ((rc = db_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, NULL,
			  err)) < 0)
		goto out;
	if ((rc = gather_month(&q, &r)) < 0 || (rc = gather_runs(&q, &r)) < 0 ||
	    (rc = gather_adherence(&q, &r)) < 0 || (rc = gather_failures(&q, &r)) < 0 ||
	    (rc = gather_incidents(&q, &r)) < 0 || (rc = gather_patches(&q, &r)) < 0 ||
	    (rc = gather_backups(&q, &r)) < 0 || (rc = gather_effort(&q, &r)) < 0 ||
	    (rc = gather_availability(&q, &r)) < 0 || (rc = gather_chain(&q, &r)) < 0)
		goto out;
	rc = db_exec(c, "COMMIT", 0, NULL, NULL, err);
out:
	db_result_free(q.r);
	if (rc < 0) {
		struct yb_err ignored = { 0 };
		db_exec(c, "ROLLBACK", 0, NULL, NULL, &ignored);
		report_release(&r);
		return rc;
	}
	*out = r;
	return 0;
}

void report_release(struct report *r)
{
	if (!r)
		return;
	free(r->zone);
	free(r->from_at);
	free(r->to_at);
	free(r->generated_at);
	for (size_t i = 0; i < r->n_runbooks; i++)
		free(r->runbooks[i].runbook);
	free(r->runbooks);
	free(r->days);
	for (size_t i = 0; i < r->n_failures; i++) {
		struct report_failure *f = &r->failures[i];
		free(f->runbook), free(f->mode), free(f->state), free(f->reason);
		free(f->started_at), free(f->ended_at);
	}
	free(r->failures);
	for (size_t i = 0; i < r->n_incidents; i++) {
		struct report_incident *x = &r->incidents[i];
		char *strs[] = { x->runbook, x->event, x->summary, x->detected_at, x->notified_at,
				 x->acknowledged_at, x->acknowledged_by, x->recovered_at,
				 x->resolved_at, x->resolved_by, x->cause, x->temporary_fix,
				 x->permanent_fix, x->report.due, x->report.state, x->start.due,
				 x->start.state, x->recover.due, x->recover.state };
		for (size_t k = 0; k < YB_ARRAY_LEN(strs); k++)
			free(strs[k]);
	}
	free(r->incidents);
	for (size_t i = 0; i < r->n_patches; i++) {
		struct report_patch *x = &r->patches[i];
		char *strs[] = { x->runbook, x->mode, x->state, x->requested_by, x->requested_at,
				 x->reason, x->approval_state, x->procedure, x->procedure_sha256,
				 x->sql_outcome };
		for (size_t k = 0; k < YB_ARRAY_LEN(strs); k++)
			free(strs[k]);
		for (size_t k = 0; k < x->n_digests; k++) {
			free(x->digests[k].what);
			free(x->digests[k].label);
			free(x->digests[k].sha256);
		}
		free(x->digests);
		for (size_t k = 0; k < x->n_approvals; k++) {
			free(x->approvals[k].by);
			free(x->approvals[k].at);
			free(x->approvals[k].comment);
		}
		free(x->approvals);
	}
	free(r->patches);
	for (size_t i = 0; i < r->n_backups; i++) {
		struct report_backup_day *b = &r->backups[i];
		free(b->day), free(b->runbook), free(b->repository), free(b->newest_generation);
	}
	free(r->backups);
	for (size_t i = 0; i < r->n_maintenance; i++) {
		free(r->maintenance[i].from);
		free(r->maintenance[i].to);
	}
	free(r->maintenance);
	free(r->chain_hash);
	free(r->chain_at);
	free(r->checkpoint_hash);
	free(r->checkpoint_signed_at);
	free(r->checkpoint_by);
	memset(r, 0, sizeof(*r));
}
