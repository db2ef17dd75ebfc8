/*
 * cmd_effort.c: `yoban effort log|list|summary`: effort hours (工数) against the contract's caps.
 *
 * log calls the SECURITY DEFINER function yoban_effort_log (012_effort.sql), which checks the
 * caller's role (yoban_operator or yoban_admin), logs the hours to the caller (session_user) and
 * holds every rule (hours, dates, the 24-hour day, corrections); this file checks the shape of the
 * arguments first so a typo gets a usage error naming the option, and passes values as parameters.
 * list reads the entries; summary prints the month's figures per category as
 * scheduler/report/effort.c computes them (the monthly report shows the same numbers).
 * "Today" and the default month are the site's (opdb_open sets the session's time zone).
 */
#include "cmd_db_common.h"
#include "effort.h"
#include "names.h"

#include <ctype.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct yb_cmd cmd_effort;

#define NEED_WRITE "yoban_operator or yoban_admin"

struct opts {
	const char *config, *hours, *category, *run, *incident, *ticket, *date, *note, *corrects;
	const char *month, *person;
	bool json;
};

static const char *col(const struct db_result *r, int row, const char *name)
{
	int i = db_result_col(r, name);
	BUG_ON(i < 0);
	return db_result_get(r, row, i);
}

static const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

/* A positive id ("#12" accepted) into out; a usage error naming the option otherwise. */
static int parse_id(const char *opt, const char *text, char *out, size_t size)
{
	char *end;
	const char *s = text[0] == '#' ? text + 1 : text;
	long long v = strtoll(s, &end, 10);
	if (!*s || *end || v < 1 || !isdigit((unsigned char)*s))
		return cli_usage_error(&cmd_effort, "--%s '%s' is not an id (a positive number)", opt,
				       text);
	snprintf(out, size, "%lld", v);
	return 0;
}

/* Hours: a decimal number ("3", "0.25", "-1.5"), at most 2 decimals; the range is the database's
 * rule (it says why). */
static int check_hours(const char *text)
{
	const char *p = text[0] == '-' ? text + 1 : text;
	size_t digits = strspn(p, "0123456789"), frac = 0;
	if (p[digits] == '.')
		frac = strspn(p + digits + 1, "0123456789");
	size_t len = digits + (p[digits] == '.' ? 1 + frac : 0);
	if (!digits || p[len] || (p[digits] == '.' && !frac) || digits > 4)
		return cli_usage_error(&cmd_effort, "--hours '%s' is not a number of hours (e.g. 3.5)",
				       text);
	if (frac > 2)
		return cli_usage_error(&cmd_effort, "--hours '%s': hours are kept to 0.01 h (at most 2 "
				       "decimals)", text);
	return 0;
}

static int check_date(const char *opt, const char *text)
{
	int y, m, d, n = 0;
	if (strlen(text) != 10 || sscanf(text, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10 ||
	    text[4] != '-' || text[7] != '-' || m < 1 || m > 12 || d < 1 || d > 31)
		return cli_usage_error(&cmd_effort, "--%s '%s' is not a date (YYYY-MM-DD)", opt, text);
	return 0;
}

static int check_category(const char *text)
{
	enum yb_effort_category c;
	if (yb_effort_category_parse(text, &c) == 0)
		return 0;
	const char *near = yb_closest(text, yb_effort_category_names, YB_EFFORT_N);
	if (near)
		return cli_usage_error(&cmd_effort, "unknown category '%s': did you mean '%s'? (service, "
				       "incident or modification)", text, near);
	return cli_usage_error(&cmd_effort, "unknown category '%s' (service, incident or "
			       "modification)", text);
}

/* A refusal from the database: its own words for a bad value or a missing row; for a missing role
 * the sentence naming it and the GRANT an admin runs. */
static int report(struct db_conn *c, const struct yb_err *err, const char *role)
{
	const char *state = db_sqlstate(c);
	if (!strcmp(state, "22023") || !strcmp(state, "P0002")) {
		cli_error("%s", err->msg);
		return YB_EXIT_FAIL;
	}
	if (!strcmp(state, "22008") || !strcmp(state, "22007")) {
		cli_error("%s: give dates as YYYY-MM-DD", err->msg);
		return YB_EXIT_FAIL;
	}
	if (strcmp(state, "42501"))
		return opdb_report(c, err, role);
	if (strstr(err->msg, "may correct it")) {
		/* the rule's own words: whose entry it is and who may correct it */
		cli_error("%s", err->msg);
		fprintf(stderr, "hint: an admin runs: GRANT yoban_admin TO <your login>\n");
		return YB_EXIT_FAIL;
	}
	int status = opdb_report(c, err, role);
	fprintf(stderr, "hint: an admin runs: GRANT %s TO <your login>\n",
		role && !strchr(role, ' ') ? role : "yoban_operator");
	return status;
}

static const char entry_columns[] =
	"e.id, e.work_date::text AS work_date, e.person, e.category::text AS category, "
	"e.hours::text AS hours, e.run_id, e.incident_id, e.ticket, e.note, e.corrects, e.source, "
	"to_json(e.created_at) #>> '{}' AS created_at, e.created_by";

static struct yb_json *entry_json(const struct db_result *r, int i)
{
	struct yb_json *o = yb_json_object();
	static const char *const ids[] = { "id", "run_id", "incident_id", "corrects" };
	static const char *const strs[] = { "work_date", "person", "category", "ticket", "note",
					    "source", "created_at", "created_by" };
	for (size_t k = 0; k < YB_ARRAY_LEN(ids); k++) {
		const char *v = col(r, i, ids[k]);
		yb_json_set(o, ids[k], v ? yb_json_int(strtoll(v, NULL, 10)) : yb_json_null());
	}
	for (size_t k = 0; k < YB_ARRAY_LEN(strs); k++) {
		const char *v = col(r, i, strs[k]);
		yb_json_set(o, strs[k], v ? yb_json_str(v) : yb_json_null());
	}
	yb_json_set(o, "hours", yb_json_real(strtod(col(r, i, "hours"), NULL)));
	return o;
}

static int do_log(struct db_conn *c, const struct opts *o)
{
	struct yb_err err = { 0 };
	char *id = NULL;
	const char *p[] = { o->hours, o->category, o->run, o->incident, o->ticket, o->date, o->note,
			    o->corrects };
	if (db_query_value(c, "SELECT yoban.yoban_effort_log($1::numeric, $2, $3::bigint, "
			      "$4::bigint, $5, $6::date, $7, $8::bigint)", 8, p, &id, &err) < 0)
		return report(c, &err, NEED_WRITE);
	struct db_result *r = NULL;
	char *sql = xasprintf("SELECT %s FROM yoban.effort_entries e WHERE e.id = $1::bigint",
			      entry_columns);
	const char *ip[] = { id };
	int status = opdb_query(c, sql, 1, ip, &r, NULL);
	free(sql);
	if (status == 0 && db_result_rows(r) == 1) {
		if (o->json) {
			struct yb_json *j = entry_json(r, 0);
			yb_json_print(j, YB_JSON_PRETTY);
			yb_json_free(j);
		} else {
			printf("effort entry %s: %s h of %s on %s for %s%s%s\n", id, col(r, 0, "hours"),
			       col(r, 0, "category"), col(r, 0, "work_date"), col(r, 0, "person"),
			       col(r, 0, "corrects") ? ", correcting entry " : "",
			       col(r, 0, "corrects") ? col(r, 0, "corrects") : "");
		}
	}
	db_result_free(r);
	free(id);
	return status;
}

/* The month asked, else the current one (the site's). */
static int month_bounds(struct db_conn *c, const char *month, int *y, int *m)
{
	if (month)
		return yb_effort_month_parse(month, y, m) < 0 ?
			       cli_usage_error(&cmd_effort, "--month '%s' is not a month (YYYY-MM)", month) :
			       0;
	char *now = NULL;
	struct yb_err err = { 0 };
	if (db_query_value(c, "SELECT to_char(current_date, 'YYYY-MM')", 0, NULL, &now, &err) < 0)
		return report(c, &err, NULL);
	int rc = yb_effort_month_parse(now, y, m);
	free(now);
	BUG_ON(rc < 0);
	return 0;
}

static int do_list(struct db_conn *c, const struct opts *o)
{
	int y, m, status;
	if ((status = month_bounds(c, o->month, &y, &m)) != 0)
		return status;
	char ys[16], ms[16];
	snprintf(ys, sizeof(ys), "%d", y);
	snprintf(ms, sizeof(ms), "%d", m);
	char *sql = xasprintf("SELECT %s FROM yoban.effort_entries e WHERE e.work_date >= "
			      "make_date($1::integer, $2::integer, 1) AND e.work_date < "
			      "make_date($1::integer, $2::integer, 1) + interval '1 month' AND "
			      "($3::text IS NULL OR e.person = $3) ORDER BY e.work_date, e.id",
			      entry_columns);
	const char *p[] = { ys, ms, o->person };
	struct db_result *r = NULL;
	status = opdb_query(c, sql, 3, p, &r, "yoban_reviewer");
	free(sql);
	if (status)
		return status;
	int rows = db_result_rows(r);
	if (o->json) {
		struct yb_json *arr = yb_json_array();
		for (int i = 0; i < rows; i++)
			yb_json_push(arr, entry_json(r, i));
		yb_json_print(arr, YB_JSON_PRETTY);
		yb_json_free(arr);
		db_result_free(r);
		return 0;
	}
	printf("%-6s %-10s %-16s %-12s %7s %-6s %-8s %-6s %s\n", "ID", "DATE", "PERSON", "CATEGORY",
	       "HOURS", "RUN", "INCIDENT", "FIXES", "TICKET / NOTE");
	double total[YB_EFFORT_N] = { 0 };
	for (int i = 0; i < rows; i++) {
		enum yb_effort_category cat;
		if (yb_effort_category_parse(col(r, i, "category"), &cat) == 0)
			total[cat] += strtod(col(r, i, "hours"), NULL);
		const char *ticket = col(r, i, "ticket"), *note = col(r, i, "note");
		printf("%-6s %-10s %-16s %-12s %7s %-6s %-8s %-6s %s%s%s\n", col(r, i, "id"),
		       col(r, i, "work_date"), col(r, i, "person"), col(r, i, "category"),
		       col(r, i, "hours"), or_dash(col(r, i, "run_id")),
		       or_dash(col(r, i, "incident_id")), or_dash(col(r, i, "corrects")),
		       ticket ? ticket : "", ticket && note ? " / " : "", note ? note : "");
	}
	printf("%d entr%s in %04d-%02d%s%s: service %.2f h, incident %.2f h, modification %.2f h\n",
	       rows, rows == 1 ? "y" : "ies", y, m, o->person ? " for " : "",
	       o->person ? o->person : "", total[YB_EFFORT_SERVICE], total[YB_EFFORT_INCIDENT],
	       total[YB_EFFORT_MODIFICATION]);
	db_result_free(r);
	return 0;
}

/* "3.00" or "-" (no cap); "80.0%" or "-". */
static void fmt_cap(char *out, size_t size, double v)
{
	if (v < 0)
		snprintf(out, size, "-");
	else
		snprintf(out, size, "%.2f", v);
}

static void fmt_pct(char *out, size_t size, double v)
{
	if (v < 0)
		snprintf(out, size, "-");
	else if (isinf(v))
		snprintf(out, size, "over");
	else
		snprintf(out, size, "%.1f%%", v);
}

static int do_summary(struct db_conn *c, const struct opts *o)
{
	int y, m, status;
	if ((status = month_bounds(c, o->month, &y, &m)) != 0)
		return status;
	struct yb_effort_month em;
	struct yb_err err = { 0 };
	if (yb_effort_month_load(c, y, m, &em, &err) < 0)
		return report(c, &err, "yoban_reviewer");
	if (o->json) {
		struct yb_json *j = yb_effort_month_json(&em);
		yb_json_print(j, YB_JSON_PRETTY);
		yb_json_free(j);
		return 0;
	}
	printf("effort %04d-%02d (1 person-day = %g h, 1 person-month = %g person-days", y, m,
	       em.terms.hours_per_day, em.terms.days_per_month);
	if (em.terms.period_from[0] || em.terms.period_to[0])
		printf("; contract %s to %s", or_dash(em.terms.period_from), or_dash(em.terms.period_to));
	printf(")\n");
	printf("%-12s %8s %8s %8s %9s %7s %10s %8s %9s %7s\n", "CATEGORY", "HOURS", "P-DAYS",
	       "P-MONTHS", "MONTH-CAP", "USE", "TOTAL-H", "TOTAL-PM", "TOTAL-CAP", "USE");
	for (int i = 0; i < YB_EFFORT_N; i++) {
		const struct yb_effort_line *l = &em.lines[i];
		char capm[16], capt[16], pm[16], pt[16];
		fmt_cap(capm, sizeof(capm), l->cap_month);
		fmt_cap(capt, sizeof(capt), l->cap_total);
		fmt_pct(pm, sizeof(pm), l->month_percent);
		fmt_pct(pt, sizeof(pt), l->total_percent);
		printf("%-12s %8.2f %8.2f %8.2f %9s %7s %10.2f %8.2f %9s %7s%s\n",
		       yb_effort_category_name(l->category), l->hours, l->person_days, l->person_months,
		       capm, pm, l->total_hours, l->total_person_months, capt, pt,
		       l->category == YB_EFFORT_INCIDENT ? "  (uncapped)" : "");
	}
	return 0;
}

static int run(int argc, char **argv)
{
	enum { O_HOURS = 0x100, O_CATEGORY, O_RUN, O_INCIDENT, O_TICKET, O_DATE, O_NOTE, O_CORRECTS,
	       O_MONTH, O_PERSON, O_CONFIG, O_FORMAT };
	static const struct option longopts[] = {
		{ "hours", required_argument, NULL, O_HOURS },
		{ "category", required_argument, NULL, O_CATEGORY },
		{ "run", required_argument, NULL, O_RUN },
		{ "incident", required_argument, NULL, O_INCIDENT },
		{ "ticket", required_argument, NULL, O_TICKET },
		{ "date", required_argument, NULL, O_DATE },
		{ "note", required_argument, NULL, O_NOTE },
		{ "corrects", required_argument, NULL, O_CORRECTS },
		{ "month", required_argument, NULL, O_MONTH },
		{ "person", required_argument, NULL, O_PERSON },
		{ "config", required_argument, NULL, O_CONFIG },
		{ "format", required_argument, NULL, O_FORMAT },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { 0 };
	char run_id[24], incident_id[24], corrects_id[24];
	int opt, status;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case O_HOURS: o.hours = optarg; break;
		case O_CATEGORY: o.category = optarg; break;
		case O_RUN:
			if ((status = parse_id("run", optarg, run_id, sizeof(run_id))) != 0)
				return status;
			o.run = run_id;
			break;
		case O_INCIDENT:
			if ((status = parse_id("incident", optarg, incident_id, sizeof(incident_id))) != 0)
				return status;
			o.incident = incident_id;
			break;
		case O_CORRECTS:
			if ((status = parse_id("corrects", optarg, corrects_id, sizeof(corrects_id))) != 0)
				return status;
			o.corrects = corrects_id;
			break;
		case O_TICKET: o.ticket = optarg; break;
		case O_DATE: o.date = optarg; break;
		case O_NOTE: o.note = optarg; break;
		case O_MONTH: o.month = optarg; break;
		case O_PERSON: o.person = optarg; break;
		case O_CONFIG: o.config = optarg; break;
		case O_FORMAT:
			if (cli_parse_format(&cmd_effort, optarg, &o.json) != 0)
				return YB_EXIT_USAGE;
			break;
		default:
			return cli_usage_error(&cmd_effort, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(&cmd_effort, "give one action: log, list or summary");
	const char *action = argv[optind];
	bool log = !strcmp(action, "log"), list = !strcmp(action, "list"),
	     summary = !strcmp(action, "summary");
	if (!log && !list && !summary) {
		static const char *const actions[] = { "log", "list", "summary" };
		const char *near = yb_closest(action, actions, YB_ARRAY_LEN(actions));
		return cli_usage_error(&cmd_effort, "unknown action '%s'%s%s%s (log, list or summary)",
				       action, near ? ": did you mean '" : "", near ? near : "",
				       near ? "'?" : "");
	}
	bool log_opts = o.hours || o.category || o.run || o.incident || o.ticket || o.date || o.note ||
			o.corrects;
	if (!log && log_opts)
		return cli_usage_error(&cmd_effort, "--hours, --category, --run, --incident, --ticket, "
				       "--date, --note and --corrects go with log");
	if (!list && o.person)
		return cli_usage_error(&cmd_effort, "--person goes with list");
	if (log && o.month)
		return cli_usage_error(&cmd_effort, "--month goes with list and summary (log takes "
				       "--date)");
	if (log) {
		if (!o.hours)
			return cli_usage_error(&cmd_effort, "log needs --hours H");
		if (!o.category && !o.corrects)
			return cli_usage_error(&cmd_effort, "log needs --category (service, incident or "
					       "modification)");
		if ((status = check_hours(o.hours)) != 0)
			return status;
		if (o.category && (status = check_category(o.category)) != 0)
			return status;
		if (o.date && (status = check_date("date", o.date)) != 0)
			return status;
	}
	struct db_conn *c = NULL;
	if ((status = opdb_open(o.config, &c)) != 0)
		return status;
	status = log ? do_log(c, &o) : list ? do_list(c, &o) : do_summary(c, &o);
	db_close(c);
	return status;
}

const struct yb_cmd cmd_effort = {
	.name = "effort",
	.summary = "log effort hours (工数) and see them against the contract's caps",
	.help =
		"usage: yoban effort log --hours H --category service|incident|modification\n"
		"                        [--run N] [--incident N] [--ticket T] [--date YYYY-MM-DD]\n"
		"                        [--note TEXT] [--corrects ID] [--format json]\n"
		"       yoban effort list [--month YYYY-MM] [--person NAME] [--format json]\n"
		"       yoban effort summary [--month YYYY-MM] [--format json]\n"
		"       (each takes --config FILE)\n"
		"\n"
		"log: records hours of work you did (logged to you, your PostgreSQL login), on --date\n"
		"(default today; never a future day), in one category: service (運用・保守作業),\n"
		"incident (障害対応, never capped) or modification (改修作業). At most 24 h a day for one\n"
		"person. A wrong entry is never changed: log a correction with --corrects ID and the\n"
		"hours to add or (negative) take away; it keeps the entry's category and date.\n"
		"Needs yoban_operator or yoban_admin (admins may correct anyone's entries).\n"
		"list: the entries of a month (default this month), optionally one person's.\n"
		"summary: per category the month's hours, person-days (hours / hours_per_day),\n"
		"person-months (person-days / days_per_month), the monthly cap and its use, and the\n"
		"contract's total to the month's end against the total cap (yoban.yaml contract:).\n"
		"Runs of runbooks with effort: log their hours themselves (docs/effort.md). An entry\n"
		"that takes a category across 80 % or 100 % of a cap sends a cap warning notice.\n"
		"\n"
		"examples:\n"
		"  yoban effort log --hours 2.5 --category incident --incident 3 --note 'batch rerun'\n"
		"  yoban effort log --hours -1 --corrects 17 --note 'logged 1 h too many'\n"
		"  yoban effort summary --month 2026-12\n",
	.run = run,
};
