/*
 * report_json.c: the monthly report as one JSON document with stable keys (docs/report.md lists
 * them). Numbers stay numbers and times stay ISO 8601 with their offset: this is the format a
 * program (or the tests) reads, so nothing here is translated or rounded for people, except the
 * person-day and person-month conversions, which are exact divisions.
 */
#include "report.h"
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct yb_json *opt_real(double v)
{
	return v < 0 ? yb_json_null() : yb_json_real(v);
}

static struct yb_json *opt_int(int64_t v)
{
	return v > 0 ? yb_json_int(v) : yb_json_null();
}

static struct yb_json *states_json(const int64_t *by_state)
{
	struct yb_json *o = yb_json_object();
	for (int s = 0; s < REPORT_N_STATES; s++)
		yb_json_set(o, report_states[s], yb_json_int(by_state[s]));
	return o;
}

static struct yb_json *runs_json(const struct report *r)
{
	struct yb_json *o = yb_json_object(), *books = yb_json_array(), *days = yb_json_array();
	yb_json_set(o, "total", yb_json_int(r->runs_total));
	yb_json_set(o, "by_state", states_json(r->runs_by_state));
	for (size_t i = 0; i < r->n_runbooks; i++) {
		struct yb_json *b = yb_json_object();
		yb_json_set(b, "runbook", yb_json_str(r->runbooks[i].runbook));
		yb_json_set(b, "total", yb_json_int(r->runbooks[i].total));
		yb_json_set(b, "by_state", states_json(r->runbooks[i].by_state));
		yb_json_push(books, b);
	}
	yb_json_set(o, "by_runbook", books);
	for (int d = 0; d < r->n_days; d++) {
		struct yb_json *day = yb_json_object();
		char date[32];
		snprintf(date, sizeof date, "%s-%02d", r->month, d + 1);
		yb_json_set(day, "date", yb_json_str(date));
		yb_json_set(day, "succeeded", yb_json_int(r->days[d].n[REPORT_DAY_OK]));
		yb_json_set(day, "failed", yb_json_int(r->days[d].n[REPORT_DAY_FAILED]));
		yb_json_set(day, "cancelled_or_skipped", yb_json_int(r->days[d].n[REPORT_DAY_OTHER]));
		yb_json_set(day, "not_ended", yb_json_int(r->days[d].n[REPORT_DAY_OPEN]));
		yb_json_push(days, day);
	}
	yb_json_set(o, "per_day", days);
	struct yb_json *jobs = yb_json_object();
	yb_json_set(jobs, "total", yb_json_int(r->jobs_total));
	yb_json_set(jobs, "not_succeeded", yb_json_int(r->jobs_failed));
	yb_json_set(o, "jobs", jobs);
	return o;
}

static struct yb_json *schedule_json(const struct report *r)
{
	struct yb_json *o = yb_json_object(), *late = yb_json_object();
	yb_json_set(o, "on_time_seconds", yb_json_int(REPORT_ON_TIME_SECONDS));
	yb_json_set(o, "scheduled", yb_json_int(r->sched_total));
	yb_json_set(o, "started", yb_json_int(r->sched_started));
	yb_json_set(o, "on_time", yb_json_int(r->sched_on_time));
	yb_json_set(o, "on_time_percent", opt_real(r->on_time_percent));
	yb_json_set(late, "p50", opt_real(r->late_p50));
	yb_json_set(late, "p99", opt_real(r->late_p99));
	yb_json_set(late, "max", opt_real(r->late_max));
	yb_json_set(o, "lateness_seconds", late);
	return o;
}

static struct yb_json *failures_json(const struct report *r)
{
	struct yb_json *a = yb_json_array();
	for (size_t i = 0; i < r->n_failures; i++) {
		const struct report_failure *f = &r->failures[i];
		struct yb_json *o = yb_json_object();
		yb_json_set(o, "run_id", yb_json_int(f->run_id));
		yb_json_set(o, "runbook", yb_json_str(f->runbook));
		yb_json_set(o, "mode", yb_json_str(f->mode));
		yb_json_set(o, "state", yb_json_str(f->state));
		yb_json_set(o, "reason", yb_json_str(f->reason));
		yb_json_set(o, "started_at", yb_json_str(f->started_at));
		yb_json_set(o, "ended_at", yb_json_str(f->ended_at));
		yb_json_set(o, "incident_id", opt_int(f->incident_id));
		yb_json_push(a, o);
	}
	return a;
}

static struct yb_json *clock_json(const struct report_clock *c)
{
	struct yb_json *o = yb_json_object();
	yb_json_set(o, "due", yb_json_str(c->due));
	yb_json_set(o, "state", yb_json_str(c->state));
	return o;
}

static struct yb_json *incidents_json(const struct report *r)
{
	struct yb_json *o = yb_json_object(), *sla = yb_json_object(), *list = yb_json_array();
	yb_json_set(sla, "report", yb_json_str(r->sla_report[0] ? r->sla_report : NULL));
	yb_json_set(sla, "start", yb_json_str(r->sla_start[0] ? r->sla_start : NULL));
	yb_json_set(sla, "recover", yb_json_str(r->sla_recover[0] ? r->sla_recover : NULL));
	yb_json_set(sla, "default", yb_json_bool(r->sla_default));
	yb_json_set(o, "sla", sla);
	int64_t passed = 0;
	for (size_t i = 0; i < r->n_incidents; i++) {
		const struct report_incident *x = &r->incidents[i];
		struct yb_json *e = yb_json_object(), *clocks = yb_json_object();
		yb_json_set(e, "id", yb_json_int(x->id));
		yb_json_set(e, "run_id", opt_int(x->run_id));
		yb_json_set(e, "runbook", yb_json_str(x->runbook));
		yb_json_set(e, "event", yb_json_str(x->event));
		yb_json_set(e, "summary", yb_json_str(x->summary));
		yb_json_set(e, "detected_at", yb_json_str(x->detected_at));
		yb_json_set(e, "notified_at", yb_json_str(x->notified_at));
		yb_json_set(e, "acknowledged_at", yb_json_str(x->acknowledged_at));
		yb_json_set(e, "acknowledged_by", yb_json_str(x->acknowledged_by));
		yb_json_set(e, "recovered_at", yb_json_str(x->recovered_at));
		yb_json_set(e, "resolved_at", yb_json_str(x->resolved_at));
		yb_json_set(e, "resolved_by", yb_json_str(x->resolved_by));
		yb_json_set(e, "cause", yb_json_str(x->cause));
		yb_json_set(e, "temporary_fix", yb_json_str(x->temporary_fix));
		yb_json_set(e, "permanent_fix", yb_json_str(x->permanent_fix));
		yb_json_set(clocks, "report", clock_json(&x->report));
		yb_json_set(clocks, "start", clock_json(&x->start));
		yb_json_set(clocks, "recover", clock_json(&x->recover));
		yb_json_set(e, "clocks", clocks);
		yb_json_set(e, "pass", yb_json_bool(x->pass));
		passed += x->pass;
		yb_json_push(list, e);
	}
	yb_json_set(o, "passed", yb_json_int(passed));
	yb_json_set(o, "failed", yb_json_int((int64_t)r->n_incidents - passed));
	yb_json_set(o, "list", list);
	return o;
}

static struct yb_json *patches_json(const struct report *r)
{
	struct yb_json *a = yb_json_array();
	for (size_t i = 0; i < r->n_patches; i++) {
		const struct report_patch *x = &r->patches[i];
		struct yb_json *o = yb_json_object(), *ap = yb_json_array(), *ev = yb_json_array();
		yb_json_set(o, "run_id", yb_json_int(x->run_id));
		yb_json_set(o, "runbook", yb_json_str(x->runbook));
		yb_json_set(o, "mode", yb_json_str(x->mode));
		yb_json_set(o, "state", yb_json_str(x->state));
		yb_json_set(o, "requested_by", yb_json_str(x->requested_by));
		yb_json_set(o, "requested_at", yb_json_str(x->requested_at));
		yb_json_set(o, "reason", yb_json_str(x->reason));
		yb_json_set(o, "approval_state", yb_json_str(x->approval_state));
		yb_json_set(o, "procedure", yb_json_str(x->procedure));
		yb_json_set(o, "procedure_sha256", yb_json_str(x->procedure_sha256));
		for (size_t k = 0; k < x->n_approvals; k++) {
			struct yb_json *e = yb_json_object();
			yb_json_set(e, "by", yb_json_str(x->approvals[k].by));
			yb_json_set(e, "at", yb_json_str(x->approvals[k].at));
			yb_json_set(e, "comment", yb_json_str(x->approvals[k].comment));
			yb_json_push(ap, e);
		}
		yb_json_set(o, "approvals", ap);
		yb_json_set(o, "sql_outcome", yb_json_str(x->sql_outcome));
		for (size_t k = 0; k < x->n_digests; k++) {
			const struct report_digest *d = &x->digests[k];
			struct yb_json *e = yb_json_object();
			yb_json_set(e, "what", yb_json_str(d->what));
			yb_json_set(e, "label", yb_json_str(d->label));
			yb_json_set(e, "sha256", yb_json_str(d->sha256));
			yb_json_set(e, "bytes", yb_json_int(d->bytes));
			yb_json_set(e, "rows", d->rows < 0 ? yb_json_null() : yb_json_int(d->rows));
			yb_json_push(ev, e);
		}
		yb_json_set(o, "evidence", ev);
		yb_json_push(a, o);
	}
	return a;
}

static struct yb_json *backups_json(const struct report *r)
{
	struct yb_json *a = yb_json_array();
	for (size_t i = 0; i < r->n_backups; i++) {
		const struct report_backup_day *b = &r->backups[i];
		struct yb_json *o = yb_json_object();
		yb_json_set(o, "date", yb_json_str(b->day));
		yb_json_set(o, "runbook", yb_json_str(b->runbook));
		yb_json_set(o, "repository", yb_json_str(b->repository));
		yb_json_set(o, "backups", yb_json_int(b->backups));
		yb_json_set(o, "backups_ok", yb_json_int(b->backups_ok));
		yb_json_set(o, "verified", yb_json_int(b->verified));
		yb_json_set(o, "verify_failed", yb_json_int(b->verify_failed));
		yb_json_set(o, "pruned", yb_json_int(b->pruned));
		yb_json_set(o, "offsite", yb_json_int(b->offsite));
		yb_json_set(o, "offsite_ok", yb_json_int(b->offsite_ok));
		yb_json_set(o, "generations", yb_json_int(b->generations));
		yb_json_set(o, "newest_generation", yb_json_str(b->newest_generation));
		yb_json_push(a, o);
	}
	return a;
}

static struct yb_json *availability_json(const struct report *r)
{
	struct yb_json *o = yb_json_object(), *m = yb_json_array();
	yb_json_set(o, "minutes", yb_json_real(r->avail_minutes));
	yb_json_set(o, "down_minutes", yb_json_real(r->avail_down_minutes));
	yb_json_set(o, "percent", opt_real(r->avail_percent));
	yb_json_set(o, "target_percent", yb_json_real(r->avail_target));
	yb_json_set(o, "met", r->avail_percent < 0 ? yb_json_null() :
			      yb_json_bool(r->avail_percent >= r->avail_target));
	for (size_t i = 0; i < r->n_maintenance; i++) {
		struct yb_json *w = yb_json_object();
		yb_json_set(w, "from", yb_json_str(r->maintenance[i].from));
		yb_json_set(w, "to", yb_json_str(r->maintenance[i].to));
		yb_json_push(m, w);
	}
	yb_json_set(o, "maintenance", m);
	return o;
}

static struct yb_json *chain_json(const struct report *r)
{
	struct yb_json *o = yb_json_object();
	yb_json_set(o, "recorded", yb_json_bool(r->chain_recorded));
	if (r->chain_recorded && r->chain_seq > 0) {
		struct yb_json *h = yb_json_object();
		yb_json_set(h, "seq", yb_json_int(r->chain_seq));
		yb_json_set(h, "hash", yb_json_str(r->chain_hash));
		yb_json_set(h, "at", yb_json_str(r->chain_at));
		yb_json_set(o, "head", h);
	} else {
		yb_json_set(o, "head", yb_json_null());
	}
	yb_json_set(o, "checkpoints_recorded", yb_json_bool(r->checkpoint_recorded));
	if (r->checkpoint_recorded && r->checkpoint_seq > 0) {
		struct yb_json *k = yb_json_object();
		yb_json_set(k, "seq", yb_json_int(r->checkpoint_seq));
		yb_json_set(k, "hash", yb_json_str(r->checkpoint_hash));
		yb_json_set(k, "signed_at", yb_json_str(r->checkpoint_signed_at));
		yb_json_set(k, "recorded_by", yb_json_str(r->checkpoint_by));
		yb_json_set(o, "checkpoint", k);
	} else {
		yb_json_set(o, "checkpoint", yb_json_null());
	}
	return o;
}

int report_render_json(const struct report *r, struct yb_buf *out)
{
	struct yb_json *o = yb_json_object();
	yb_json_set(o, "report", yb_json_str("monthly"));
	yb_json_set(o, "version", yb_json_int(1));
	yb_json_set(o, "month", yb_json_str(r->month));
	yb_json_set(o, "time_zone", yb_json_str(r->zone));
	yb_json_set(o, "from", yb_json_str(r->from_at));
	yb_json_set(o, "to", yb_json_str(r->to_at));
	yb_json_set(o, "generated_at", yb_json_str(r->generated_at));
	yb_json_set(o, "partial", yb_json_bool(r->partial));
	yb_json_set(o, "runs", runs_json(r));
	yb_json_set(o, "schedule", schedule_json(r));
	yb_json_set(o, "failures", failures_json(r));
	yb_json_set(o, "incidents", incidents_json(r));
	yb_json_set(o, "data_patches", patches_json(r));
	yb_json_set(o, "backups", backups_json(r));
	yb_json_set(o, "effort", yb_effort_month_json(&r->effort));
	yb_json_set(o, "availability", availability_json(r));
	yb_json_set(o, "chain", chain_json(r));
	char *text = yb_json_dump(o, YB_JSON_PRETTY);
	yb_json_free(o);
	int rc = yb_buf_append(out, text, strlen(text));
	if (rc == 0)
		rc = yb_buf_append(out, "\n", 1);
	free(text);
	return rc;
}

int report_render(const struct report *r, enum report_format f, enum report_lang lang,
		  struct yb_buf *out)
{
	switch (f) {
	case REPORT_HTML: return report_render_html(r, lang, out);
	case REPORT_MD: return report_render_md(r, lang, out);
	case REPORT_CSV: return report_render_csv(r, lang, out);
	case REPORT_JSON: return report_render_json(r, out);
	}
	BUG("unknown report format %d", (int)f);
}
