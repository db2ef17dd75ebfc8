/*
 * report_md.c: the monthly report as Markdown, the same sections and figures as the HTML
 * (without the charts: their figures are the tables'), for a ticket, a wiki or a mail. Text from
 * the database goes through report_md_cell, so a '|' in a reason cannot split a table.
 */
#include "report_fmt.h"

#include <stdio.h>
#include <string.h>

static void cell(struct report_out *o, const char *s)
{
	if (o->rc == 0)
		o->rc = report_md_cell(o->b, s);
}

static void time_cell(struct report_out *o, const char *iso)
{
	char t[64];
	report_put(o, "%s", report_fmt_time(iso, o->lang, t, sizeof t));
}

static const char *state_label(struct report_out *o, const char *state)
{
	char key[48];
	for (int s = 0; s < REPORT_N_STATES; s++)
		if (state && !strcmp(state, report_states[s])) {
			snprintf(key, sizeof key, "st_%s", state);
			return L(o, key);
		}
	return state ? state : "-";
}

static void heading(struct report_out *o, const char *key)
{
	report_put(o, "\n## %s\n\n", L(o, key));
}

/* A table header from label keys: "| a | b |" and its rule; a key starting with '>' is a
 * right-aligned (number) column. */
static void header(struct report_out *o, const char *const *keys, size_t n)
{
	report_put(o, "|");
	for (size_t i = 0; i < n; i++)
		report_put(o, " %s |", L(o, keys[i][0] == '>' ? keys[i] + 1 : keys[i]));
	report_put(o, "\n|");
	for (size_t i = 0; i < n; i++)
		report_put(o, "%s|", keys[i][0] == '>' ? "---:" : "---");
	report_put(o, "\n");
}

static void kv(struct report_out *o, const char *key, const char *value)
{
	report_put(o, "| %s | ", L(o, key));
	cell(o, value);
	report_put(o, " |\n");
}

static void summary(struct report_out *o, const struct report *r)
{
	char month[96], a[64], b[64], t[64];
	report_fmt_month(r->month, o->lang, month, sizeof month);
	report_put(o, "# %s %s\n\n| | |\n|---|---|\n", L(o, "title"), month);
	report_put(o, "| %s | %s – %s (", L(o, "period"),
		   report_fmt_time(r->from_at, o->lang, a, sizeof a),
		   report_fmt_time(r->to_at, o->lang, b, sizeof b));
	cell(o, r->zone);
	report_put(o, ")%s%s |\n", r->partial ? " — " : "", r->partial ? L(o, "partial") : "");
	kv(o, "generated", report_fmt_time(r->generated_at, o->lang, t, sizeof t));
	report_put(o, "| %s | %s |\n", L(o, "sum_runs"), report_fmt_int(r->runs_total, a, sizeof a));
	report_put(o, "| %s | %s |\n", L(o, "sum_on_time"), r->on_time_percent < 0 ? "-" :
		   report_fmt_percent(r->on_time_percent, 2, o->lang, a, sizeof a));
	report_put(o, "| %s | %s |\n", L(o, "sum_availability"), r->avail_percent < 0 ? "-" :
		   report_fmt_percent(r->avail_percent, 3, o->lang, a, sizeof a));
	report_put(o, "\n%s\n", L(o, "intro"));
}

static void runs(struct report_out *o, const struct report *r)
{
	char a[32];
	heading(o, "s_runs");
	report_put(o, "| %s |", L(o, "runbook"));
	for (int s = 0; s < REPORT_N_STATES; s++)
		if (r->runs_by_state[s] > 0 || s < 2)
			report_put(o, " %s |", state_label(o, report_states[s]));
	report_put(o, " %s |\n|---|", L(o, "total"));
	for (int s = 0; s < REPORT_N_STATES; s++)
		if (r->runs_by_state[s] > 0 || s < 2)
			report_put(o, "---:|");
	report_put(o, "---:|\n");
	for (size_t i = 0; i <= r->n_runbooks; i++) {
		bool total = i == r->n_runbooks;
		const int64_t *by = total ? r->runs_by_state : r->runbooks[i].by_state;
		report_put(o, "| ");
		if (total)
			report_put(o, "**%s**", L(o, "total"));
		else
			cell(o, r->runbooks[i].runbook);
		report_put(o, " |");
		for (int s = 0; s < REPORT_N_STATES; s++)
			if (r->runs_by_state[s] > 0 || s < 2)
				report_put(o, " %s |", report_fmt_int(by[s], a, sizeof a));
		report_put(o, " %s |\n", report_fmt_int(total ? r->runs_total : r->runbooks[i].total,
							 a, sizeof a));
	}
	report_put(o, "\n%s %s (%s %s)%s%s\n", L(o, "jobs_line"),
		   report_fmt_int(r->jobs_total, a, sizeof a), L(o, "jobs_not_ok"),
		   report_fmt_int(r->jobs_failed, (char[32]){ 0 }, 32), L(o, "sentence_end"),
		   L(o, "runs_note"));
	report_put(o, "\n| %s | %s | %s | %s | %s |\n|---|---:|---:|---:|---:|\n",
		   L(o, "date"), L(o, "chart_ok"), L(o, "chart_failed"), L(o, "chart_other"),
		   L(o, "chart_open"));
	for (int d = 0; d < r->n_days; d++) {
		const struct report_day_runs *x = &r->days[d];
		if (!x->n[0] && !x->n[1] && !x->n[2] && !x->n[3])
			continue;
		char date[32], label[64];
		snprintf(date, sizeof date, "%s-%02d", r->month, d + 1);
		report_put(o, "| %s | %lld | %lld | %lld | %lld |\n",
			   report_fmt_date(date, o->lang, label, sizeof label),
			   (long long)x->n[0], (long long)x->n[1], (long long)x->n[2],
			   (long long)x->n[3]);
	}
}

static void schedule(struct report_out *o, const struct report *r)
{
	char a[64];
	heading(o, "s_schedule");
	report_put(o, "| | |\n|---|---:|\n");
	report_put(o, "| %s | %s |\n", L(o, "sched_total"), report_fmt_int(r->sched_total, a, sizeof a));
	report_put(o, "| %s | %s |\n", L(o, "sched_started"),
		   report_fmt_int(r->sched_started, a, sizeof a));
	report_put(o, "| %s | %s", L(o, "sched_on_time"), report_fmt_int(r->sched_on_time, a, sizeof a));
	report_put(o, " (%s) |\n", r->on_time_percent < 0 ? "-" :
		   report_fmt_percent(r->on_time_percent, 2, o->lang, a, sizeof a));
	report_put(o, "| %s | %s |\n", L(o, "late_p50"), report_fmt_seconds(r->late_p50, o->lang, a, sizeof a));
	report_put(o, "| %s | %s |\n", L(o, "late_p99"), report_fmt_seconds(r->late_p99, o->lang, a, sizeof a));
	report_put(o, "| %s | %s |\n", L(o, "late_max"), report_fmt_seconds(r->late_max, o->lang, a, sizeof a));
	report_put(o, "\n%s\n", L(o, "on_time_def"));
}

static void clock(struct report_out *o, const char *done, const struct report_clock *c)
{
	char key[32];
	time_cell(o, done);
	snprintf(key, sizeof key, "clock_%s", c->state ? c->state : "none");
	report_put(o, " (%s) |", L(o, key));
}

static void incidents(struct report_out *o, const struct report *r)
{
	static const char *const cols[] = { "incident", "detected", "clock_report", "clock_start",
					    "clock_recover", "sla_result", "cause" };
	static const char *const fcols[] = { ">run", "runbook", "state", "ended", "reason",
					     ">incident" };
	heading(o, "s_incidents");
	report_put(o, "%s %s %s, %s %s, %s %s%s%s%s\n\n### %s\n\n", L(o, "sla_figures"),
		   L(o, "clock_report"), r->sla_report[0] ? r->sla_report : "-",
		   L(o, "clock_start"), r->sla_start[0] ? r->sla_start : "-",
		   L(o, "clock_recover"), r->sla_recover[0] ? r->sla_recover : "-",
		   r->sla_default ? " (" : "", r->sla_default ? L(o, "sla_default") : "",
		   r->sla_default ? ")" : "", L(o, "incidents"));
	if (!r->n_incidents)
		report_put(o, "%s\n", L(o, "none"));
	else
		header(o, cols, YB_ARRAY_LEN(cols));
	for (size_t i = 0; i < r->n_incidents; i++) {
		const struct report_incident *x = &r->incidents[i];
		report_put(o, "| #%lld ", (long long)x->id);
		cell(o, x->runbook);
		report_put(o, ": ");
		cell(o, x->summary);
		report_put(o, " | ");
		time_cell(o, x->detected_at);
		report_put(o, " | ");
		clock(o, x->notified_at, &x->report);
		report_put(o, " ");
		clock(o, x->acknowledged_at, &x->start);
		report_put(o, " ");
		clock(o, x->recovered_at, &x->recover);
		report_put(o, " **%s** | ", L(o, x->pass ? "pass" : "fail"));
		cell(o, x->cause);
		report_put(o, " / ");
		cell(o, x->temporary_fix);
		report_put(o, " / ");
		cell(o, x->permanent_fix);
		report_put(o, " |\n");
	}
	report_put(o, "\n### %s\n\n", L(o, "failures"));
	if (!r->n_failures)
		report_put(o, "%s\n", L(o, "none"));
	else
		header(o, fcols, YB_ARRAY_LEN(fcols));
	for (size_t i = 0; i < r->n_failures; i++) {
		const struct report_failure *f = &r->failures[i];
		report_put(o, "| %lld | ", (long long)f->run_id);
		cell(o, f->runbook);
		bool staging = f->mode && strcmp(f->mode, "production");
		report_put(o, " | %s%s%s%s | ", state_label(o, f->state), staging ? " (" : "",
			   staging ? L(o, "staging") : "", staging ? ")" : "");
		time_cell(o, f->ended_at);
		report_put(o, " | ");
		cell(o, f->reason);
		if (f->incident_id)
			report_put(o, " | #%lld |\n", (long long)f->incident_id);
		else
			report_put(o, " | - |\n");
	}
}

static void patches(struct report_out *o, const struct report *r)
{
	static const char *const cols[] = { "evidence", ">size", "sha256" };
	heading(o, "s_patches");
	if (!r->n_patches)
		report_put(o, "%s\n", L(o, "none"));
	for (size_t i = 0; i < r->n_patches; i++) {
		const struct report_patch *x = &r->patches[i];
		char t[64];
		report_put(o, "### %s %lld: ", L(o, "run"), (long long)x->run_id);
		cell(o, x->runbook);
		report_put(o, " (%s, %s)\n\n| | |\n|---|---|\n",
			   L(o, x->mode && !strcmp(x->mode, "staging") ? "staging" : "production"),
			   state_label(o, x->state));
		report_put(o, "| %s | ", L(o, "requested_by"));
		cell(o, x->requested_by);
		report_put(o, " (%s) |\n", report_fmt_time(x->requested_at, o->lang, t, sizeof t));
		kv(o, "reason", x->reason);
		report_put(o, "| %s | ", L(o, "approvers"));
		if (!x->n_approvals)
			report_put(o, "-");
		for (size_t k = 0; k < x->n_approvals; k++) {
			report_put(o, "%s", k ? ", " : "");
			cell(o, x->approvals[k].by);
			report_put(o, " (%s)", report_fmt_time(x->approvals[k].at, o->lang, t, sizeof t));
		}
		report_put(o, " |\n| %s | ", L(o, "procedure"));
		cell(o, x->procedure);
		if (x->procedure_sha256)
			report_put(o, " `%s`", x->procedure_sha256);
		report_put(o, " |\n");
		kv(o, "sql_outcome", x->sql_outcome);
		if (x->n_digests) {
			report_put(o, "\n");
			header(o, cols, YB_ARRAY_LEN(cols));
		}
		for (size_t k = 0; k < x->n_digests; k++) {
			const struct report_digest *d = &x->digests[k];
			char key[32], a[32];
			snprintf(key, sizeof key, "ev_%s", d->what);
			report_put(o, "| %s ", L(o, key));
			cell(o, d->label);
			report_put(o, " | %s B", report_fmt_int(d->bytes, a, sizeof a));
			if (d->rows >= 0)
				report_put(o, ", %s %s", report_fmt_int(d->rows, a, sizeof a), L(o, "rows"));
			report_put(o, " | `");
			cell(o, d->sha256);
			report_put(o, "` |\n");
		}
		report_put(o, "\n");
	}
}

static void backups(struct report_out *o, const struct report *r)
{
	static const char *const cols[] = { "date", "runbook", ">backups_ok", ">verified",
					    ">generations", ">pruned", ">offsite_ok", "newest" };
	heading(o, "s_backups");
	if (!r->n_backups) {
		report_put(o, "%s\n", L(o, "none"));
		return;
	}
	header(o, cols, YB_ARRAY_LEN(cols));
	for (size_t i = 0; i < r->n_backups; i++) {
		const struct report_backup_day *b = &r->backups[i];
		char d[64];
		report_put(o, "| %s | ", report_fmt_date(b->day, o->lang, d, sizeof d));
		cell(o, b->runbook);
		report_put(o, " | %lld / %lld | %lld%s | %lld | %lld | %lld / %lld | ",
			   (long long)b->backups_ok, (long long)b->backups, (long long)b->verified,
			   b->verify_failed ? " (✗)" : "", (long long)b->generations,
			   (long long)b->pruned, (long long)b->offsite_ok, (long long)b->offsite);
		cell(o, b->newest_generation);
		report_put(o, " |\n");
	}
	report_put(o, "\n%s\n", L(o, "backups_note"));
}

static void effort(struct report_out *o, const struct report *r)
{
	static const char *const cols[] = { "category", ">hours", ">person_days", ">person_months",
					    ">cap_month", ">total_pm", ">cap_total" };
	heading(o, "s_effort");
	header(o, cols, YB_ARRAY_LEN(cols));
	for (int k = 0; k < YB_EFFORT_N; k++) {
		const struct yb_effort_line *e = &r->effort.lines[k];
		char key[32], a[32], b[32], c[32], d[32], f[32], g[32];
		snprintf(key, sizeof key, "cat_%s", yb_effort_category_name(k));
		report_put(o, "| %s | %s | %s | %s | %s | %s | %s |\n", L(o, key),
			   report_fmt_num(e->hours, 2, a, sizeof a),
			   report_fmt_num(e->person_days, 2, b, sizeof b),
			   report_fmt_num(e->person_months, 3, c, sizeof c),
			   e->cap_month < 0 ? L(o, "no_cap") : report_fmt_num(e->cap_month, 2, d, sizeof d),
			   report_fmt_num(e->total_person_months, 3, f, sizeof f),
			   e->cap_total < 0 ? L(o, "no_cap") : report_fmt_num(e->cap_total, 2, g, sizeof g));
	}
	report_put(o, "\n%s\n", L(o, "effort_note"));
}

static void availability(struct report_out *o, const struct report *r)
{
	char a[64], b[64];
	heading(o, "s_availability");
	report_put(o, "| | |\n|---|---|\n");
	report_put(o, "| %s | %s", L(o, "avail_percent"), r->avail_percent < 0 ? "-" :
		   report_fmt_percent(r->avail_percent, 3, o->lang, a, sizeof a));
	if (r->avail_percent >= 0)
		report_put(o, " **%s**", L(o, r->avail_percent >= r->avail_target ? "met" : "not_met"));
	report_put(o, " |\n| %s | %s |\n", L(o, "avail_target"),
		   report_fmt_percent(r->avail_target, 1, o->lang, a, sizeof a));
	report_put(o, "| %s | %s |\n", L(o, "avail_minutes"),
		   report_fmt_num(r->avail_minutes, 0, a, sizeof a));
	report_put(o, "| %s | %s |\n| %s | ", L(o, "avail_down"),
		   report_fmt_num(r->avail_down_minutes, 1, a, sizeof a), L(o, "maintenance"));
	if (!r->n_maintenance)
		report_put(o, "-");
	for (size_t i = 0; i < r->n_maintenance; i++)
		report_put(o, "%s%s – %s", i ? ", " : "",
			   report_fmt_time(r->maintenance[i].from, o->lang, a, sizeof a),
			   report_fmt_time(r->maintenance[i].to, o->lang, b, sizeof b));
	report_put(o, " |\n\n%s\n", L(o, "avail_note"));
}

static void chain(struct report_out *o, const struct report *r)
{
	char t[64];
	heading(o, "s_chain");
	report_put(o, "| | |\n|---|---|\n| %s | ", L(o, "chain_head"));
	if (!r->chain_recorded || !r->chain_seq)
		report_put(o, "%s", L(o, "not_recorded"));
	else
		report_put(o, "seq %lld, %s, `%s`", (long long)r->chain_seq,
			   report_fmt_time(r->chain_at, o->lang, t, sizeof t), r->chain_hash);
	report_put(o, " |\n| %s | ", L(o, "checkpoint"));
	if (!r->checkpoint_recorded || !r->checkpoint_seq)
		report_put(o, "%s", L(o, "not_recorded"));
	else
		report_put(o, "seq %lld, %s %s, `%s`", (long long)r->checkpoint_seq, L(o, "signed_at"),
			   report_fmt_time(r->checkpoint_signed_at, o->lang, t, sizeof t),
			   r->checkpoint_hash);
	report_put(o, " |\n\n%s\n", L(o, "chain_note"));
}

int report_render_md(const struct report *r, enum report_lang lang, struct yb_buf *out)
{
	struct report_out o = { .b = out, .lang = lang };
	summary(&o, r);
	runs(&o, r);
	schedule(&o, r);
	incidents(&o, r);
	patches(&o, r);
	backups(&o, r);
	effort(&o, r);
	availability(&o, r);
	chain(&o, r);
	return o.rc;
}
