/*
 * report_html.c: the monthly report as one self-contained HTML file for people: no script, no
 * external style sheet, font or image, printable on A4 (print CSS, a page break before each
 * section). The one idea: every text that came from the database passes through
 * report_put_html, and every cell may wrap (digests break anywhere), so nothing a site writes
 * can break the page or push it past the A4 width.
 */
#include "report_fmt.h"
#include "svg.h"

#include <stdio.h>
#include <string.h>

static const char css[] =
	"@page { size: A4; margin: 15mm 14mm 16mm 14mm; }\n"
	"* { box-sizing: border-box; }\n"
	"html { font-family: 'IPAexGothic', 'IPAGothic', 'IPAPGothic', 'Noto Sans CJK JP', "
	"'Hiragino Sans', 'Yu Gothic', Meiryo, sans-serif; font-size: 10pt; color: #111; "
	"background: #fff; }\n"
	"body { margin: 0 auto; padding: 0; width: 100%; max-width: 182mm; }\n"
	"h1 { font-size: 17pt; margin: 0 0 2mm; }\n"
	"h2 { font-size: 13pt; margin: 0 0 3mm; padding-bottom: 1mm; border-bottom: 1.5pt solid "
	"#1f3a5f; color: #1f3a5f; }\n"
	"h3 { font-size: 10.5pt; margin: 4mm 0 1.5mm; }\n"
	"p { margin: 1.5mm 0; }\n"
	"section { break-before: page; page-break-before: always; padding-top: 2mm; }\n"
	"section.first { break-before: auto; page-break-before: auto; }\n"
	"table { width: 100%; border-collapse: collapse; table-layout: fixed; margin: 1.5mm 0 4mm; "
	"font-size: 8.5pt; }\n"
	"th, td { border: 0.5pt solid #9aa5b1; padding: 0.8mm 1.2mm; text-align: left; "
	"vertical-align: top; overflow-wrap: anywhere; word-break: break-word; }\n"
	"th { background: #e6ecf2; font-weight: bold; }\n"
	"td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }\n"
	"thead { display: table-header-group; }\n"
	"tr { break-inside: avoid; page-break-inside: avoid; }\n"
	".digest { font-family: 'DejaVu Sans Mono', monospace; font-size: 7pt; word-break: break-all; "
	"overflow-wrap: anywhere; }\n"
	".pass { color: #1b5e20; font-weight: bold; }\n"
	".fail { color: #b71c1c; font-weight: bold; }\n"
	".muted { color: #555; }\n"
	".note { font-size: 8.5pt; color: #333; }\n"
	".meta th { width: 38mm; }\n"
	"svg.chart { display: block; width: 100%; height: auto; margin: 2mm 0 4mm; }\n"
	"@media print { body { max-width: none; } }\n";

static void put_time(struct report_out *o, const char *iso)
{
	char t[64];
	report_put_html(o, report_fmt_time(iso, o->lang, t, sizeof t));
}

static void put_int(struct report_out *o, int64_t v)
{
	char t[32];
	report_put(o, "%s", report_fmt_int(v, t, sizeof t));
}

static void put_state(struct report_out *o, const char *state)
{
	char key[48];
	snprintf(key, sizeof key, "st_%s", state ? state : "");
	bool known = false;
	for (int s = 0; s < REPORT_N_STATES; s++)
		known = known || (state && !strcmp(state, report_states[s]));
	report_put_html(o, known ? L(o, key) : state);
}

static void section(struct report_out *o, const char *key, bool first)
{
	report_put(o, "<section%s><h2>", first ? " class=\"first\"" : "");
	report_put_html(o, L(o, key));
	report_put(o, "</h2>\n");
}

static void th(struct report_out *o, const char *key, const char *cls, const char *width)
{
	report_put(o, "<th%s%s%s%s%s", cls ? " class=\"" : "", cls ? cls : "", cls ? "\"" : "",
		   width ? " style=\"width:" : "", width ? width : "");
	if (width)
		report_put(o, "\"");
	report_put(o, ">");
	report_put_html(o, L(o, key));
	report_put(o, "</th>");
}

/* A row of a two-column table: the label, then the value the caller writes, then close_row. */
static void row(struct report_out *o, const char *key)
{
	report_put(o, "<tr><th>");
	report_put_html(o, L(o, key));
	report_put(o, "</th><td>");
}

static void close_row(struct report_out *o)
{
	report_put(o, "</td></tr>\n");
}

static void digest(struct report_out *o, const char *hex)
{
	report_put(o, "<span class=\"digest\" title=\"");
	report_put_html(o, hex);
	report_put(o, "\">");
	report_put_html(o, hex ? hex : "-");
	report_put(o, "</span>");
}

static void head(struct report_out *o, const struct report *r)
{
	char month[96], num[64];
	report_fmt_month(r->month, o->lang, month, sizeof month);
	report_put(o, "<!DOCTYPE html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\">"
		   "<meta name=\"viewport\" content=\"width=device-width\"><title>",
		   o->lang == REPORT_JA ? "ja" : "en");
	report_put_html(o, L(o, "title"));
	report_put(o, " ");
	report_put_html(o, month);
	report_put(o, "</title><style>\n%s</style></head><body>\n", css);
	section(o, "s_summary", true);
	report_put(o, "<h1>");
	report_put_html(o, L(o, "title"));
	report_put(o, " ");
	report_put_html(o, month);
	report_put(o, "</h1>\n<table class=\"meta\">");
	row(o, "period");
	put_time(o, r->from_at);
	report_put(o, " – ");
	put_time(o, r->to_at);
	report_put(o, " (");
	report_put_html(o, r->zone);
	report_put(o, ")");
	if (r->partial) {
		report_put(o, "<br><span class=\"fail\">");
		report_put_html(o, L(o, "partial"));
		report_put(o, "</span>");
	}
	close_row(o);
	row(o, "generated");
	put_time(o, r->generated_at);
	close_row(o);
	row(o, "sum_runs");
	put_int(o, r->runs_total);
	report_put(o, " (");
	report_put_html(o, L(o, "st_succeeded"));
	report_put(o, " ");
	put_int(o, r->runs_by_state[0]);
	report_put(o, ")");
	close_row(o);
	row(o, "sum_on_time");
	report_put(o, "%s", r->on_time_percent < 0 ? "-" :
		   report_fmt_percent(r->on_time_percent, 2, o->lang, num, sizeof num));
	close_row(o);
	size_t failed = 0;
	for (size_t i = 0; i < r->n_incidents; i++)
		failed += !r->incidents[i].pass;
	row(o, "sum_incidents");
	put_int(o, (int64_t)r->n_incidents);
	report_put(o, " (");
	report_put_html(o, L(o, "sla_breached"));
	report_put(o, " ");
	put_int(o, (int64_t)failed);
	report_put(o, ")");
	close_row(o);
	row(o, "sum_availability");
	if (r->avail_percent < 0)
		report_put(o, "-");
	else
		report_put(o, "<span class=\"%s\">%s</span>",
			   r->avail_percent >= r->avail_target ? "pass" : "fail",
			   report_fmt_percent(r->avail_percent, 3, o->lang, num, sizeof num));
	close_row(o);
	report_put(o, "</table>\n<p class=\"note\">");
	report_put_html(o, L(o, "intro"));
	report_put(o, "</p></section>\n");
}

static void runs(struct report_out *o, const struct report *r)
{
	section(o, "s_runs", false);
	report_svg_runs_per_day(o, r);
	bool shown[REPORT_N_STATES];
	for (int s = 0; s < REPORT_N_STATES; s++)
		shown[s] = r->runs_by_state[s] > 0 || s < 2;
	report_put(o, "<table><thead><tr>");
	th(o, "runbook", NULL, "30%");
	for (int s = 0; s < REPORT_N_STATES; s++) {
		if (!shown[s])
			continue;
		report_put(o, "<th class=\"n\">");
		put_state(o, report_states[s]);
		report_put(o, "</th>");
	}
	th(o, "total", "n", NULL);
	report_put(o, "</tr></thead><tbody>\n");
	for (size_t i = 0; i < r->n_runbooks; i++) {
		report_put(o, "<tr><td>");
		report_put_html(o, r->runbooks[i].runbook);
		report_put(o, "</td>");
		for (int s = 0; s < REPORT_N_STATES; s++) {
			if (!shown[s])
				continue;
			report_put(o, "<td class=\"n\">");
			put_int(o, r->runbooks[i].by_state[s]);
			report_put(o, "</td>");
		}
		report_put(o, "<td class=\"n\">");
		put_int(o, r->runbooks[i].total);
		report_put(o, "</td></tr>\n");
	}
	report_put(o, "<tr><th>");
	report_put_html(o, L(o, "total"));
	report_put(o, "</th>");
	for (int s = 0; s < REPORT_N_STATES; s++) {
		if (!shown[s])
			continue;
		report_put(o, "<th class=\"n\">");
		put_int(o, r->runs_by_state[s]);
		report_put(o, "</th>");
	}
	report_put(o, "<th class=\"n\">");
	put_int(o, r->runs_total);
	report_put(o, "</th></tr></tbody></table>\n<p class=\"note\">");
	report_put_html(o, L(o, "jobs_line"));
	report_put(o, " ");
	put_int(o, r->jobs_total);
	report_put(o, " (");
	report_put_html(o, L(o, "jobs_not_ok"));
	report_put(o, " ");
	put_int(o, r->jobs_failed);
	report_put(o, ")");
	report_put_html(o, L(o, "sentence_end"));
	report_put_html(o, L(o, "runs_note"));
	report_put(o, "</p></section>\n");
}

static void schedule(struct report_out *o, const struct report *r)
{
	char t[64];
	section(o, "s_schedule", false);
	report_put(o, "<table class=\"meta\">");
	row(o, "sched_total");
	put_int(o, r->sched_total);
	close_row(o);
	row(o, "sched_started");
	put_int(o, r->sched_started);
	close_row(o);
	row(o, "sched_on_time");
	put_int(o, r->sched_on_time);
	report_put(o, " (%s)", r->on_time_percent < 0 ? "-" :
		   report_fmt_percent(r->on_time_percent, 2, o->lang, t, sizeof t));
	close_row(o);
	row(o, "late_p50");
	report_put_html(o, report_fmt_seconds(r->late_p50, o->lang, t, sizeof t));
	close_row(o);
	row(o, "late_p99");
	report_put_html(o, report_fmt_seconds(r->late_p99, o->lang, t, sizeof t));
	close_row(o);
	row(o, "late_max");
	report_put_html(o, report_fmt_seconds(r->late_max, o->lang, t, sizeof t));
	close_row(o);
	report_put(o, "</table>\n<p class=\"note\">");
	report_put_html(o, L(o, "on_time_def"));
	report_put(o, "</p></section>\n");
}

static void clock_cell(struct report_out *o, const char *done, const struct report_clock *c)
{
	report_put(o, "<td>");
	put_time(o, done);
	if (c->due) {
		report_put(o, "<br><span class=\"muted\">");
		report_put_html(o, L(o, "due"));
		report_put(o, " ");
		put_time(o, c->due);
		report_put(o, "</span>");
	}
	const char *cls = !c->state ? "muted" : !strcmp(c->state, "met") ? "pass" :
			  !strcmp(c->state, "breached") ? "fail" : "muted";
	char key[32];
	snprintf(key, sizeof key, "clock_%s", c->state ? c->state : "none");
	report_put(o, "<br><span class=\"%s\">", cls);
	report_put_html(o, L(o, key));
	report_put(o, "</span></td>");
}

static void incidents(struct report_out *o, const struct report *r)
{
	section(o, "s_incidents", false);
	report_put(o, "<p class=\"note\">");
	report_put_html(o, L(o, "sla_figures"));
	report_put(o, " ");
	report_put_html(o, L(o, "clock_report"));
	report_put(o, " %s, ", r->sla_report[0] ? r->sla_report : "-");
	report_put_html(o, L(o, "clock_start"));
	report_put(o, " %s, ", r->sla_start[0] ? r->sla_start : "-");
	report_put_html(o, L(o, "clock_recover"));
	report_put(o, " %s", r->sla_recover[0] ? r->sla_recover : "-");
	if (r->sla_default) {
		report_put(o, " (");
		report_put_html(o, L(o, "sla_default"));
		report_put(o, ")");
	}
	report_put(o, "</p>\n<h3>");
	report_put_html(o, L(o, "incidents"));
	report_put(o, "</h3>\n");
	if (!r->n_incidents) {
		report_put(o, "<p>");
		report_put_html(o, L(o, "none"));
		report_put(o, "</p>\n");
	} else {
		report_put(o, "<table><thead><tr>");
		th(o, "incident", NULL, "22%");
		th(o, "detected", NULL, NULL);
		th(o, "clock_report", NULL, NULL);
		th(o, "clock_start", NULL, NULL);
		th(o, "clock_recover", NULL, NULL);
		th(o, "sla_result", NULL, "10%");
		report_put(o, "</tr></thead><tbody>\n");
		for (size_t i = 0; i < r->n_incidents; i++) {
			const struct report_incident *x = &r->incidents[i];
			report_put(o, "<tr><td>#%lld ", (long long)x->id);
			report_put_html(o, x->runbook);
			report_put(o, "<br><span class=\"muted\">");
			report_put_html(o, x->summary);
			report_put(o, "</span></td><td>");
			put_time(o, x->detected_at);
			report_put(o, "</td>");
			clock_cell(o, x->notified_at, &x->report);
			clock_cell(o, x->acknowledged_at, &x->start);
			clock_cell(o, x->recovered_at, &x->recover);
			report_put(o, "<td class=\"%s\">", x->pass ? "pass" : "fail");
			report_put_html(o, L(o, x->pass ? "pass" : "fail"));
			report_put(o, "</td></tr>\n");
		}
		report_put(o, "</tbody></table>\n<table><thead><tr>");
		th(o, "incident", NULL, "12%");
		th(o, "cause", NULL, NULL);
		th(o, "temporary_fix", NULL, NULL);
		th(o, "permanent_fix", NULL, NULL);
		report_put(o, "</tr></thead><tbody>\n");
		for (size_t i = 0; i < r->n_incidents; i++) {
			const struct report_incident *x = &r->incidents[i];
			report_put(o, "<tr><td>#%lld<br>", (long long)x->id);
			report_put_html(o, x->resolved_by ? x->resolved_by : L(o, "open"));
			report_put(o, "</td><td>");
			report_put_html(o, x->cause ? x->cause : "-");
			report_put(o, "</td><td>");
			report_put_html(o, x->temporary_fix ? x->temporary_fix : "-");
			report_put(o, "</td><td>");
			report_put_html(o, x->permanent_fix ? x->permanent_fix : "-");
			report_put(o, "</td></tr>\n");
		}
		report_put(o, "</tbody></table>\n");
	}
	report_put(o, "<h3>");
	report_put_html(o, L(o, "failures"));
	report_put(o, "</h3>\n");
	if (!r->n_failures) {
		report_put(o, "<p>");
		report_put_html(o, L(o, "none"));
		report_put(o, "</p>\n");
	} else {
		report_put(o, "<table><thead><tr>");
		th(o, "run", "n", "9%");
		th(o, "runbook", NULL, "22%");
		th(o, "state", NULL, "14%");
		th(o, "ended", NULL, "17%");
		th(o, "reason", NULL, NULL);
		th(o, "incident", "n", "9%");
		report_put(o, "</tr></thead><tbody>\n");
		for (size_t i = 0; i < r->n_failures; i++) {
			const struct report_failure *f = &r->failures[i];
			report_put(o, "<tr><td class=\"n\">%lld</td><td>", (long long)f->run_id);
			report_put_html(o, f->runbook);
			report_put(o, "</td><td>");
			put_state(o, f->state);
			if (f->mode && strcmp(f->mode, "production")) {
				report_put(o, "<br><span class=\"muted\">");
				report_put_html(o, L(o, "staging"));
				report_put(o, "</span>");
			}
			report_put(o, "</td><td>");
			put_time(o, f->ended_at);
			report_put(o, "</td><td>");
			report_put_html(o, f->reason ? f->reason : "-");
			report_put(o, "</td><td class=\"n\">");
			if (f->incident_id)
				report_put(o, "#%lld", (long long)f->incident_id);
			else
				report_put(o, "-");
			report_put(o, "</td></tr>\n");
		}
		report_put(o, "</tbody></table>\n");
	}
	report_put(o, "</section>\n");
}

static void patches(struct report_out *o, const struct report *r)
{
	section(o, "s_patches", false);
	if (!r->n_patches) {
		report_put(o, "<p>");
		report_put_html(o, L(o, "none"));
		report_put(o, "</p>\n");
	}
	for (size_t i = 0; i < r->n_patches; i++) {
		const struct report_patch *x = &r->patches[i];
		report_put(o, "<h3>");
		report_put_html(o, L(o, "run"));
		report_put(o, " %lld: ", (long long)x->run_id);
		report_put_html(o, x->runbook);
		report_put(o, " (");
		report_put_html(o, x->mode && !strcmp(x->mode, "staging") ? L(o, "staging") :
									   L(o, "production"));
		report_put(o, ", ");
		put_state(o, x->state);
		report_put(o, ")</h3>\n<table class=\"meta\">");
		row(o, "requested_by");
		report_put_html(o, x->requested_by);
		report_put(o, " (");
		put_time(o, x->requested_at);
		report_put(o, ")");
		close_row(o);
		row(o, "reason");
		report_put_html(o, x->reason ? x->reason : "-");
		close_row(o);
		row(o, "approvers");
		if (!x->n_approvals)
			report_put(o, "-");
		for (size_t k = 0; k < x->n_approvals; k++) {
			report_put(o, "%s", k ? "<br>" : "");
			report_put_html(o, x->approvals[k].by);
			report_put(o, " (");
			put_time(o, x->approvals[k].at);
			report_put(o, ")");
			if (x->approvals[k].comment) {
				report_put(o, " ");
				report_put_html(o, x->approvals[k].comment);
			}
		}
		if (x->approval_state) {
			char key[48];
			snprintf(key, sizeof key, "ap_%s", x->approval_state);
			bool known = !strcmp(x->approval_state, "waiting") ||
				     !strcmp(x->approval_state, "approved") ||
				     !strcmp(x->approval_state, "started") ||
				     !strcmp(x->approval_state, "rejected") ||
				     !strcmp(x->approval_state, "void");
			report_put(o, "<br><span class=\"muted\">");
			report_put_html(o, known ? L(o, key) : x->approval_state);
			report_put(o, "</span>");
		}
		close_row(o);
		row(o, "procedure");
		report_put_html(o, x->procedure ? x->procedure : "-");
		if (x->procedure_sha256) {
			report_put(o, "<br>SHA-256 ");
			digest(o, x->procedure_sha256);
		}
		close_row(o);
		row(o, "sql_outcome");
		report_put_html(o, x->sql_outcome ? x->sql_outcome : "-");
		close_row(o);
		report_put(o, "</table>\n");
		if (!x->n_digests)
			continue;
		report_put(o, "<table><thead><tr>");
		th(o, "evidence", NULL, "30%");
		th(o, "size", "n", "16%");
		th(o, "sha256", NULL, NULL);
		report_put(o, "</tr></thead><tbody>\n");
		for (size_t k = 0; k < x->n_digests; k++) {
			const struct report_digest *d = &x->digests[k];
			char key[32], bytes[32], rows[32];
			snprintf(key, sizeof key, "ev_%s", d->what);
			report_put(o, "<tr><td>");
			report_put_html(o, L(o, key));
			report_put(o, " ");
			report_put_html(o, d->label);
			report_put(o, "</td><td class=\"n\">%s B", report_fmt_int(d->bytes, bytes,
										 sizeof bytes));
			if (d->rows >= 0) {
				report_put(o, "<br>%s ", report_fmt_int(d->rows, rows, sizeof rows));
				report_put_html(o, L(o, "rows"));
			}
			report_put(o, "</td><td>");
			digest(o, d->sha256);
			report_put(o, "</td></tr>\n");
		}
		report_put(o, "</tbody></table>\n");
	}
	report_put(o, "</section>\n");
}

static void ok_of(struct report_out *o, int64_t ok, int64_t all)
{
	char a[32], b[32];
	report_put(o, "<td class=\"n%s\">%s / %s</td>", ok < all ? " fail" : "",
		   report_fmt_int(ok, a, sizeof a), report_fmt_int(all, b, sizeof b));
}

static void backups(struct report_out *o, const struct report *r)
{
	section(o, "s_backups", false);
	if (!r->n_backups) {
		report_put(o, "<p>");
		report_put_html(o, L(o, "none"));
		report_put(o, "</p></section>\n");
		return;
	}
	report_put(o, "<table><thead><tr>");
	th(o, "date", NULL, "14%");
	th(o, "runbook", NULL, "24%");
	th(o, "backups_ok", "n", NULL);
	th(o, "verified", "n", NULL);
	th(o, "generations", "n", NULL);
	th(o, "pruned", "n", NULL);
	th(o, "offsite_ok", "n", NULL);
	th(o, "newest", NULL, "19%");
	report_put(o, "</tr></thead><tbody>\n");
	for (size_t i = 0; i < r->n_backups; i++) {
		const struct report_backup_day *b = &r->backups[i];
		char d[64];
		report_put(o, "<tr><td>");
		report_put_html(o, report_fmt_date(b->day, o->lang, d, sizeof d));
		report_put(o, "</td><td>");
		report_put_html(o, b->runbook);
		report_put(o, "<br><span class=\"muted digest\">");
		report_put_html(o, b->repository);
		report_put(o, "</span></td>");
		ok_of(o, b->backups_ok, b->backups);
		report_put(o, "<td class=\"n%s\">", b->verify_failed ? " fail" : "");
		put_int(o, b->verified);
		if (b->verify_failed)
			report_put(o, " (✗%lld)", (long long)b->verify_failed);
		report_put(o, "</td><td class=\"n\">");
		put_int(o, b->generations);
		report_put(o, "</td><td class=\"n\">");
		put_int(o, b->pruned);
		report_put(o, "</td>");
		ok_of(o, b->offsite_ok, b->offsite);
		report_put(o, "<td class=\"digest\">");
		report_put_html(o, b->newest_generation ? b->newest_generation : "-");
		report_put(o, "</td></tr>\n");
	}
	report_put(o, "</tbody></table>\n<p class=\"note\">");
	report_put_html(o, L(o, "backups_note"));
	report_put(o, "</p></section>\n");
}

static void cap_cells(struct report_out *o, double cap, double percent)
{
	char a[32], b[32];
	if (cap < 0) {
		report_put(o, "<td class=\"n\">-</td><td class=\"n\">-</td>");
		return;
	}
	report_put(o, "<td class=\"n\">%s</td><td class=\"n%s\">%s</td>",
		   report_fmt_num(cap, 2, a, sizeof a), percent > 100 ? " fail" : "",
		   report_fmt_percent(percent, 1, o->lang, b, sizeof b));
}

static void effort(struct report_out *o, const struct report *r)
{
	const struct yb_effort_terms *t = &r->effort.terms;
	char a[32], b[32], c[32];
	section(o, "s_effort", false);
	report_put(o, "<table><thead><tr>");
	th(o, "category", NULL, "16%");
	th(o, "hours", "n", NULL);
	th(o, "person_days", "n", NULL);
	th(o, "person_months", "n", NULL);
	th(o, "cap_month", "n", NULL);
	th(o, "cap_used", "n", NULL);
	th(o, "total_pm", "n", NULL);
	th(o, "cap_total", "n", NULL);
	th(o, "cap_used", "n", NULL);
	report_put(o, "</tr></thead><tbody>\n");
	for (int k = 0; k < YB_EFFORT_N; k++) {
		const struct yb_effort_line *e = &r->effort.lines[k];
		char key[32];
		snprintf(key, sizeof key, "cat_%s", yb_effort_category_name(k));
		report_put(o, "<tr><td>");
		report_put_html(o, L(o, key));
		report_put(o, "</td><td class=\"n\">%s</td><td class=\"n\">%s</td>"
			   "<td class=\"n\">%s</td>", report_fmt_num(e->hours, 2, a, sizeof a),
			   report_fmt_num(e->person_days, 2, b, sizeof b),
			   report_fmt_num(e->person_months, 3, c, sizeof c));
		cap_cells(o, e->cap_month, e->month_percent);
		report_put(o, "<td class=\"n\">%s</td>",
			   report_fmt_num(e->total_person_months, 3, a, sizeof a));
		cap_cells(o, e->cap_total, e->total_percent);
		report_put(o, "</tr>\n");
	}
	report_put(o, "</tbody></table>\n");
	report_svg_effort(o, r);
	report_put(o, "<p class=\"note\">");
	report_put_html(o, L(o, "effort_note"));
	report_put(o, " (1 ");
	report_put_html(o, L(o, "unit_pd"));
	report_put(o, " = %s h, 1 ", report_fmt_num(t->hours_per_day, 1, a, sizeof a));
	report_put_html(o, L(o, "unit_pm"));
	report_put(o, " = %s ", report_fmt_num(t->days_per_month, 1, b, sizeof b));
	report_put_html(o, L(o, "unit_pd"));
	report_put(o, ")");
	if (t->period_from[0]) {
		char d[64];
		report_put(o, " ");
		report_put_html(o, L(o, "contract_period"));
		report_put(o, " ");
		report_put_html(o, report_fmt_date(t->period_from, o->lang, d, sizeof d));
		report_put(o, " – ");
		report_put_html(o, t->period_to[0] ? report_fmt_date(t->period_to, o->lang, d, sizeof d)
						   : "");
	}
	report_put(o, "</p></section>\n");
}

static void availability(struct report_out *o, const struct report *r)
{
	char a[64];
	section(o, "s_availability", false);
	report_put(o, "<table class=\"meta\">");
	row(o, "avail_percent");
	if (r->avail_percent < 0) {
		report_put(o, "-");
	} else {
		report_put(o, "<span class=\"%s\">%s ",
			   r->avail_percent >= r->avail_target ? "pass" : "fail",
			   report_fmt_percent(r->avail_percent, 3, o->lang, a, sizeof a));
		report_put_html(o, L(o, r->avail_percent >= r->avail_target ? "met" : "not_met"));
		report_put(o, "</span>");
	}
	close_row(o);
	row(o, "avail_target");
	report_put(o, "%s", report_fmt_percent(r->avail_target, 1, o->lang, a, sizeof a));
	close_row(o);
	row(o, "avail_minutes");
	report_put(o, "%s", report_fmt_num(r->avail_minutes, 0, a, sizeof a));
	close_row(o);
	row(o, "avail_down");
	report_put(o, "%s", report_fmt_num(r->avail_down_minutes, 1, a, sizeof a));
	close_row(o);
	row(o, "maintenance");
	if (!r->n_maintenance)
		report_put(o, "-");
	for (size_t i = 0; i < r->n_maintenance; i++) {
		report_put(o, "%s", i ? "<br>" : "");
		put_time(o, r->maintenance[i].from);
		report_put(o, " – ");
		put_time(o, r->maintenance[i].to);
	}
	close_row(o);
	report_put(o, "</table>\n<p class=\"note\">");
	report_put_html(o, L(o, "avail_note"));
	report_put(o, "</p></section>\n");
}

static void chain(struct report_out *o, const struct report *r)
{
	section(o, "s_chain", false);
	report_put(o, "<table class=\"meta\">");
	row(o, "chain_head");
	if (!r->chain_recorded || !r->chain_seq) {
		report_put_html(o, L(o, "not_recorded"));
	} else {
		report_put(o, "seq %lld, ", (long long)r->chain_seq);
		put_time(o, r->chain_at);
		report_put(o, "<br>");
		digest(o, r->chain_hash);
	}
	close_row(o);
	row(o, "checkpoint");
	if (!r->checkpoint_recorded || !r->checkpoint_seq) {
		report_put_html(o, L(o, "not_recorded"));
	} else {
		report_put(o, "seq %lld, ", (long long)r->checkpoint_seq);
		report_put_html(o, L(o, "signed_at"));
		report_put(o, " ");
		put_time(o, r->checkpoint_signed_at);
		if (r->checkpoint_by) {
			report_put(o, " (");
			report_put_html(o, r->checkpoint_by);
			report_put(o, ")");
		}
		report_put(o, "<br>");
		digest(o, r->checkpoint_hash);
	}
	close_row(o);
	report_put(o, "</table>\n<p class=\"note\">");
	report_put_html(o, L(o, "chain_note"));
	report_put(o, "</p></section>\n");
}

int report_render_html(const struct report *r, enum report_lang lang, struct yb_buf *out)
{
	struct report_out o = { .b = out, .lang = lang };
	head(&o, r);
	runs(&o, r);
	schedule(&o, r);
	incidents(&o, r);
	patches(&o, r);
	backups(&o, r);
	effort(&o, r);
	availability(&o, r);
	chain(&o, r);
	report_put(&o, "</body></html>\n");
	return o.rc;
}
