/*
 * effort.c: the effort of a month per category against the contract's caps (effort.h).
 *
 * The one idea: the database sums, this file converts. One query returns, per category, the
 * month's hours and entries and the contract's total to the month's end, with the terms of
 * yoban.contract; yb_effort_line_compute turns hours into person-days, person-months and percents
 * of the caps, so `yoban effort summary`, the monthly report and the unit tests all share one
 * formula (and the cap warnings of 012_effort.sql use the same conversion in SQL).
 */
#include "effort.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const yb_effort_category_names[] = { "service", "incident", "modification", NULL };

const char *yb_effort_category_name(enum yb_effort_category c)
{
	return (int)c >= 0 && c < YB_EFFORT_N ? yb_effort_category_names[c] : NULL;
}

int yb_effort_category_parse(const char *name, enum yb_effort_category *out)
{
	for (int i = 0; name && i < YB_EFFORT_N; i++)
		if (!strcmp(name, yb_effort_category_names[i])) {
			*out = (enum yb_effort_category)i;
			return 0;
		}
	return -1;
}

int yb_effort_month_parse(const char *text, int *year, int *month)
{
	int y, m, n = 0;
	if (!text || strlen(text) != 7 || sscanf(text, "%4d-%2d%n", &y, &m, &n) != 2 || n != 7 ||
	    text[4] != '-' || y < 1970 || y > 9999 || m < 1 || m > 12)
		return -1;
	*year = y;
	*month = m;
	return 0;
}

double yb_effort_person_months(double hours, const struct yb_effort_terms *t)
{
	return hours / t->hours_per_day / t->days_per_month;
}

static double percent(double pm, double cap)
{
	return cap > 0 ? pm / cap * 100.0 : cap == 0 && pm > 0 ? INFINITY : cap == 0 ? 0 : -1;
}

void yb_effort_line_compute(struct yb_effort_line *l, const struct yb_effort_terms *t)
{
	bool capped = l->category != YB_EFFORT_INCIDENT;
	l->person_days = l->hours / t->hours_per_day;
	l->person_months = yb_effort_person_months(l->hours, t);
	l->total_person_months = yb_effort_person_months(l->total_hours, t);
	l->cap_month = capped ? t->cap_month[l->category] : -1;
	l->cap_total = capped ? t->cap_total[l->category] : -1;
	l->month_percent = l->cap_month < 0 ? -1 : percent(l->person_months, l->cap_month);
	l->total_percent = l->cap_total < 0 ? -1 : percent(l->total_person_months, l->cap_total);
}

/* The terms and, per category, the month's entries and hours and the total to its end. */
static const char month_sql[] =
	"WITH k AS (SELECT * FROM yoban.contract LIMIT 1), "
	"m AS (SELECT make_date($1::integer, $2::integer, 1) AS lo, "
	"      (make_date($1::integer, $2::integer, 1) + interval '1 month' - interval '1 day')::date "
	"      AS hi) "
	"SELECT c.cat::text AS category, "
	" (SELECT count(*) FROM yoban.effort_entries e WHERE e.category = c.cat "
	"   AND e.work_date BETWEEN m.lo AND m.hi) AS entries, "
	" (SELECT coalesce(sum(e.hours), 0) FROM yoban.effort_entries e WHERE e.category = c.cat "
	"   AND e.work_date BETWEEN m.lo AND m.hi) AS hours, "
	" (SELECT coalesce(sum(e.hours), 0) FROM yoban.effort_entries e WHERE e.category = c.cat "
	"   AND e.work_date <= least(m.hi, coalesce(k.period_to, m.hi)) "
	"   AND (k.period_from IS NULL OR e.work_date >= k.period_from)) AS total_hours, "
	" k.hours_per_day, k.days_per_month, coalesce(k.period_from::text, '') AS period_from, "
	" coalesce(k.period_to::text, '') AS period_to, k.team, "
	" k.caps #>> ARRAY[c.cat::text, 'per_month'] AS cap_month, "
	" k.caps #>> ARRAY[c.cat::text, 'total'] AS cap_total "
	"FROM unnest(enum_range(NULL::yoban.effort_category)) AS c(cat), k, m "
	"ORDER BY c.cat";

static const char *col(const struct db_result *r, int row, const char *name)
{
	int c = db_result_col(r, name);
	BUG_ON(c < 0);
	return db_result_get(r, row, c);
}

static double cap_value(const char *text)
{
	if (!text || !*text)
		return -1;
	char *end;
	double v = strtod(text, &end);
	return *end || v < 0 ? -1 : v;
}

int yb_effort_month_load(struct db_conn *c, int year, int month, struct yb_effort_month *out,
			 struct yb_err *err)
{
	char y[16], m[16];
	snprintf(y, sizeof(y), "%d", year);
	snprintf(m, sizeof(m), "%d", month);
	const char *p[] = { y, m };
	struct db_result *r = NULL;
	int rc = db_exec(c, month_sql, 2, p, &r, err);
	if (rc < 0)
		return rc;
	struct yb_effort_month em = { .year = year, .month = month };
	for (int i = 0; i < YB_EFFORT_N; i++)
		em.terms.cap_month[i] = em.terms.cap_total[i] = -1;
	em.terms.hours_per_day = 8;
	em.terms.days_per_month = 20;
	int rows = db_result_rows(r);
	if (rows == 0) {
		rc = yb_err_set(err, YB_ENOENT, "yoban.contract has no row: the database lacks migration "
				"012 (an admin runs 'yoban db migrate')");
		goto out;
	}
	em.terms.hours_per_day = strtod(col(r, 0, "hours_per_day"), NULL);
	em.terms.days_per_month = strtod(col(r, 0, "days_per_month"), NULL);
	snprintf(em.terms.period_from, sizeof(em.terms.period_from), "%s", col(r, 0, "period_from"));
	snprintf(em.terms.period_to, sizeof(em.terms.period_to), "%s", col(r, 0, "period_to"));
	snprintf(em.terms.team, sizeof(em.terms.team), "%s", col(r, 0, "team"));
	for (int i = 0; i < rows; i++) {
		enum yb_effort_category cat;
		if (yb_effort_category_parse(col(r, i, "category"), &cat) < 0)
			continue; /* a category added later than this binary */
		em.terms.cap_month[cat] = cap_value(col(r, i, "cap_month"));
		em.terms.cap_total[cat] = cap_value(col(r, i, "cap_total"));
		struct yb_effort_line *l = &em.lines[cat];
		l->category = cat;
		l->entries = strtoll(col(r, i, "entries"), NULL, 10);
		l->hours = strtod(col(r, i, "hours"), NULL);
		l->total_hours = strtod(col(r, i, "total_hours"), NULL);
	}
	for (int i = 0; i < YB_EFFORT_N; i++) {
		em.lines[i].category = (enum yb_effort_category)i;
		yb_effort_line_compute(&em.lines[i], &em.terms);
	}
	*out = em;
out:
	db_result_free(r);
	return rc;
}

/* A figure rounded to 2 decimals (as printed), or null for "no cap". */
static struct yb_json *fig(double v, bool nullable)
{
	if (nullable && v < 0)
		return yb_json_null();
	if (isinf(v))
		return yb_json_null();
	/* half away from zero, as printf's %.2f shows it (no libm) */
	double r = v >= 0 ? (double)(int64_t)(v * 100.0 + 0.5) : -(double)(int64_t)(-v * 100.0 + 0.5);
	return yb_json_real(r / 100.0);
}

struct yb_json *yb_effort_month_json(const struct yb_effort_month *m)
{
	struct yb_json *o = yb_json_object(), *cats = yb_json_array();
	char month[16];
	snprintf(month, sizeof(month), "%04d-%02d", m->year, m->month);
	yb_json_set(o, "month", yb_json_str(month));
	yb_json_set(o, "hours_per_day", fig(m->terms.hours_per_day, false));
	yb_json_set(o, "days_per_month", fig(m->terms.days_per_month, false));
	yb_json_set(o, "period_from", m->terms.period_from[0] ? yb_json_str(m->terms.period_from)
							       : yb_json_null());
	yb_json_set(o, "period_to", m->terms.period_to[0] ? yb_json_str(m->terms.period_to)
							   : yb_json_null());
	yb_json_set(o, "team", yb_json_str(m->terms.team));
	for (int i = 0; i < YB_EFFORT_N; i++) {
		const struct yb_effort_line *l = &m->lines[i];
		struct yb_json *c = yb_json_object();
		yb_json_set(c, "category", yb_json_str(yb_effort_category_name(l->category)));
		yb_json_set(c, "entries", yb_json_int(l->entries));
		yb_json_set(c, "hours", fig(l->hours, false));
		yb_json_set(c, "person_days", fig(l->person_days, false));
		yb_json_set(c, "person_months", fig(l->person_months, false));
		yb_json_set(c, "cap_month", fig(l->cap_month, true));
		yb_json_set(c, "month_percent", fig(l->month_percent, true));
		yb_json_set(c, "total_hours", fig(l->total_hours, false));
		yb_json_set(c, "total_person_months", fig(l->total_person_months, false));
		yb_json_set(c, "cap_total", fig(l->cap_total, true));
		yb_json_set(c, "total_percent", fig(l->total_percent, true));
		yb_json_push(cats, c);
	}
	yb_json_set(o, "categories", cats);
	return o;
}
