/*
 * report_csv.c: the monthly report as one CSV file (RFC 4180: CRLF line ends, fields quoted when
 * they hold a comma, a quote or a line break), in long form: every figure is one row
 * "section,key,field,value". One shape for every section means one file a spreadsheet or a
 * script reads without knowing the report's layout; the sections, keys and fields are the JSON
 * format's names (docs/report.md), values are plain (ISO times, numbers without grouping).
 */
#include "report_fmt.h"

#include <stdio.h>

struct csv {
	struct yb_buf *b;
	int rc;
};

static void field(struct csv *c, const char *s, bool last)
{
	if (c->rc == 0)
		c->rc = report_csv_field(c->b, s);
	if (c->rc == 0)
		c->rc = yb_buf_append(c->b, last ? "\r\n" : ",", last ? 2 : 1);
}

static void put(struct csv *c, const char *section, const char *key, const char *name,
		const char *value)
{
	field(c, section, false);
	field(c, key, false);
	field(c, name, false);
	field(c, value, true);
}

static void put_i(struct csv *c, const char *section, const char *key, const char *name, int64_t v)
{
	char t[32];
	snprintf(t, sizeof t, "%lld", (long long)v);
	put(c, section, key, name, t);
}

static void put_d(struct csv *c, const char *section, const char *key, const char *name, double v)
{
	char t[64];
	if (v < 0) {
		put(c, section, key, name, NULL);
		return;
	}
	snprintf(t, sizeof t, "%.6g", v);
	put(c, section, key, name, t);
}

/* A figure that may be negative (a month of corrections). */
static void put_r(struct csv *c, const char *section, const char *key, const char *name, double v)
{
	char t[64];
	snprintf(t, sizeof t, "%.6g", v);
	put(c, section, key, name, t);
}

static void runs(struct csv *c, const struct report *r)
{
	for (size_t i = 0; i <= r->n_runbooks; i++) {
		bool all = i == r->n_runbooks;
		const char *key = all ? "*" : r->runbooks[i].runbook;
		const int64_t *by = all ? r->runs_by_state : r->runbooks[i].by_state;
		for (int s = 0; s < REPORT_N_STATES; s++)
			if (by[s])
				put_i(c, "runs", key, report_states[s], by[s]);
		put_i(c, "runs", key, "total", all ? r->runs_total : r->runbooks[i].total);
	}
	static const char *const groups[REPORT_DAY_N] = { "succeeded", "failed",
							  "cancelled_or_skipped", "not_ended" };
	for (int d = 0; d < r->n_days; d++) {
		char date[32];
		snprintf(date, sizeof date, "%s-%02d", r->month, d + 1);
		for (int g = 0; g < REPORT_DAY_N; g++)
			put_i(c, "runs_per_day", date, groups[g], r->days[d].n[g]);
	}
	put_i(c, "jobs", "", "total", r->jobs_total);
	put_i(c, "jobs", "", "not_succeeded", r->jobs_failed);
	put_i(c, "schedule", "", "on_time_seconds", REPORT_ON_TIME_SECONDS);
	put_i(c, "schedule", "", "scheduled", r->sched_total);
	put_i(c, "schedule", "", "started", r->sched_started);
	put_i(c, "schedule", "", "on_time", r->sched_on_time);
	put_d(c, "schedule", "", "on_time_percent", r->on_time_percent);
	put_d(c, "schedule", "", "lateness_p50_seconds", r->late_p50);
	put_d(c, "schedule", "", "lateness_p99_seconds", r->late_p99);
	put_d(c, "schedule", "", "lateness_max_seconds", r->late_max);
}

static void incidents(struct csv *c, const struct report *r)
{
	char key[32];
	for (size_t i = 0; i < r->n_failures; i++) {
		const struct report_failure *f = &r->failures[i];
		snprintf(key, sizeof key, "%lld", (long long)f->run_id);
		put(c, "failures", key, "runbook", f->runbook);
		put(c, "failures", key, "mode", f->mode);
		put(c, "failures", key, "state", f->state);
		put(c, "failures", key, "reason", f->reason);
		put(c, "failures", key, "started_at", f->started_at);
		put(c, "failures", key, "ended_at", f->ended_at);
		if (f->incident_id)
			put_i(c, "failures", key, "incident_id", f->incident_id);
	}
	put(c, "sla", "", "report", r->sla_report);
	put(c, "sla", "", "start", r->sla_start);
	put(c, "sla", "", "recover", r->sla_recover);
	put(c, "sla", "", "default", r->sla_default ? "true" : "false");
	for (size_t i = 0; i < r->n_incidents; i++) {
		const struct report_incident *x = &r->incidents[i];
		snprintf(key, sizeof key, "%lld", (long long)x->id);
		const char *const pairs[][2] = {
			{ "runbook", x->runbook }, { "event", x->event }, { "summary", x->summary },
			{ "detected_at", x->detected_at }, { "notified_at", x->notified_at },
			{ "acknowledged_at", x->acknowledged_at },
			{ "acknowledged_by", x->acknowledged_by }, { "recovered_at", x->recovered_at },
			{ "resolved_at", x->resolved_at }, { "resolved_by", x->resolved_by },
			{ "cause", x->cause }, { "temporary_fix", x->temporary_fix },
			{ "permanent_fix", x->permanent_fix }, { "report_due", x->report.due },
			{ "report_state", x->report.state }, { "start_due", x->start.due },
			{ "start_state", x->start.state }, { "recover_due", x->recover.due },
			{ "recover_state", x->recover.state },
		};
		if (x->run_id)
			put_i(c, "incidents", key, "run_id", x->run_id);
		for (size_t k = 0; k < YB_ARRAY_LEN(pairs); k++)
			put(c, "incidents", key, pairs[k][0], pairs[k][1]);
		put(c, "incidents", key, "pass", x->pass ? "true" : "false");
	}
}

static void patches(struct csv *c, const struct report *r)
{
	char key[32], name[256];
	for (size_t i = 0; i < r->n_patches; i++) {
		const struct report_patch *x = &r->patches[i];
		snprintf(key, sizeof key, "%lld", (long long)x->run_id);
		const char *const pairs[][2] = {
			{ "runbook", x->runbook }, { "mode", x->mode }, { "state", x->state },
			{ "requested_by", x->requested_by }, { "requested_at", x->requested_at },
			{ "reason", x->reason }, { "approval_state", x->approval_state },
			{ "procedure", x->procedure }, { "procedure_sha256", x->procedure_sha256 },
			{ "sql_outcome", x->sql_outcome },
		};
		for (size_t k = 0; k < YB_ARRAY_LEN(pairs); k++)
			put(c, "data_patches", key, pairs[k][0], pairs[k][1]);
		for (size_t k = 0; k < x->n_approvals; k++) {
			snprintf(name, sizeof name, "approval.%zu.by", k + 1);
			put(c, "data_patches", key, name, x->approvals[k].by);
			snprintf(name, sizeof name, "approval.%zu.at", k + 1);
			put(c, "data_patches", key, name, x->approvals[k].at);
		}
		for (size_t k = 0; k < x->n_digests; k++) {
			snprintf(name, sizeof name, "evidence.%s.%s.sha256", x->digests[k].what,
				 x->digests[k].label);
			put(c, "data_patches", key, name, x->digests[k].sha256);
		}
	}
}

static void rest(struct csv *c, const struct report *r)
{
	char key[512];
	for (size_t i = 0; i < r->n_backups; i++) {
		const struct report_backup_day *b = &r->backups[i];
		snprintf(key, sizeof key, "%s/%s", b->day, b->runbook);
		put(c, "backups", key, "repository", b->repository);
		put_i(c, "backups", key, "backups", b->backups);
		put_i(c, "backups", key, "backups_ok", b->backups_ok);
		put_i(c, "backups", key, "verified", b->verified);
		put_i(c, "backups", key, "verify_failed", b->verify_failed);
		put_i(c, "backups", key, "pruned", b->pruned);
		put_i(c, "backups", key, "offsite", b->offsite);
		put_i(c, "backups", key, "offsite_ok", b->offsite_ok);
		put_i(c, "backups", key, "generations", b->generations);
		put(c, "backups", key, "newest_generation", b->newest_generation);
	}
	const struct yb_effort_terms *t = &r->effort.terms;
	put_d(c, "effort", "", "hours_per_day", t->hours_per_day);
	put_d(c, "effort", "", "days_per_month", t->days_per_month);
	put(c, "effort", "", "period_from", t->period_from);
	put(c, "effort", "", "period_to", t->period_to);
	for (int k = 0; k < YB_EFFORT_N; k++) {
		const struct yb_effort_line *e = &r->effort.lines[k];
		const char *cat = yb_effort_category_name(k);
		put_i(c, "effort", cat, "entries", e->entries);
		put_r(c, "effort", cat, "hours", e->hours);
		put_r(c, "effort", cat, "person_days", e->person_days);
		put_r(c, "effort", cat, "person_months", e->person_months);
		put_d(c, "effort", cat, "cap_month", e->cap_month);
		put_d(c, "effort", cat, "month_percent", e->month_percent);
		put_r(c, "effort", cat, "total_hours", e->total_hours);
		put_r(c, "effort", cat, "total_person_months", e->total_person_months);
		put_d(c, "effort", cat, "cap_total", e->cap_total);
		put_d(c, "effort", cat, "total_percent", e->total_percent);
	}
	put_d(c, "availability", "", "minutes", r->avail_minutes);
	put_d(c, "availability", "", "down_minutes", r->avail_down_minutes);
	put_d(c, "availability", "", "percent", r->avail_percent);
	put_d(c, "availability", "", "target_percent", r->avail_target);
	put(c, "availability", "", "met", r->avail_percent < 0 ? NULL :
		r->avail_percent >= r->avail_target ? "true" : "false");
	for (size_t i = 0; i < r->n_maintenance; i++) {
		snprintf(key, sizeof key, "maintenance.%zu", i + 1);
		put(c, "availability", key, "from", r->maintenance[i].from);
		put(c, "availability", key, "to", r->maintenance[i].to);
	}
	put(c, "chain", "", "recorded", r->chain_recorded ? "true" : "false");
	if (r->chain_seq) {
		put_i(c, "chain", "head", "seq", r->chain_seq);
		put(c, "chain", "head", "hash", r->chain_hash);
		put(c, "chain", "head", "at", r->chain_at);
	}
	put(c, "chain", "", "checkpoints_recorded", r->checkpoint_recorded ? "true" : "false");
	if (r->checkpoint_seq) {
		put_i(c, "chain", "checkpoint", "seq", r->checkpoint_seq);
		put(c, "chain", "checkpoint", "hash", r->checkpoint_hash);
		put(c, "chain", "checkpoint", "signed_at", r->checkpoint_signed_at);
		put(c, "chain", "checkpoint", "recorded_by", r->checkpoint_by);
	}
}

int report_render_csv(const struct report *r, enum report_lang lang, struct yb_buf *out)
{
	(void)lang; /* the CSV is for programs: its names are the JSON's, in every language */
	struct csv c = { .b = out };
	put(&c, "section", "key", "field", "value");
	put(&c, "report", "", "month", r->month);
	put(&c, "report", "", "time_zone", r->zone);
	put(&c, "report", "", "from", r->from_at);
	put(&c, "report", "", "to", r->to_at);
	put(&c, "report", "", "generated_at", r->generated_at);
	put(&c, "report", "", "partial", r->partial ? "true" : "false");
	runs(&c, r);
	incidents(&c, r);
	patches(&c, r);
	rest(&c, r);
	return c.rc;
}
