/*
 * effort.h: effort hours (工数) against the contract's caps, as `yoban effort summary` prints them
 * and the monthly report shows them: one month, per category.
 *
 * The figures, for a month and a category (the arithmetic is yb_effort_line_compute, pure):
 *   hours          the sum of the month's entries (work_date in the calendar month), corrections
 *                  (negative entries) included
 *   person_days    hours / hours_per_day                      (the contract's, default 8)
 *   person_months  person_days / days_per_month                (the contract's, default 20)
 *   month_percent  person_months / cap_month * 100             (< 0 when there is no cap)
 *   total_*        the same for every entry in the contract period (period_from .. period_to,
 *                  or all entries when the contract names no period) up to the month's last day:
 *                  "to date" for the month asked
 * The incident category (障害対応) is never capped: its caps and percents are always < 0.
 *
 * The terms come from yoban.contract (written by yoband from the site's `contract:` on every
 * load), the hours from yoban.effort_entries (012_effort.sql). Loading reads the database once
 * (yb_effort_month_load); the struct owns no memory.
 */
#ifndef YB_EFFORT_H
#define YB_EFFORT_H

#include "db.h"
#include "json.h"
#include "yb.h"

#include <stdint.h>

/* The categories, in the order of the database's enum yoban.effort_category. */
enum yb_effort_category { YB_EFFORT_SERVICE = 0, YB_EFFORT_INCIDENT, YB_EFFORT_MODIFICATION,
			  YB_EFFORT_N };

/* "service", "incident", "modification"; NULL out of range. */
const char *yb_effort_category_name(enum yb_effort_category c);
/* 0 and *out, or -1 for a name that is not a category. */
int yb_effort_category_parse(const char *name, enum yb_effort_category *out);
/* The category names, NULL-terminated (for did-you-mean). */
extern const char *const yb_effort_category_names[];

/* The contract's terms (one row of yoban.contract). */
struct yb_effort_terms {
	double hours_per_day;                /* > 0; 8 unless the site says otherwise */
	double days_per_month;               /* > 0; 20 unless the site says otherwise */
	char period_from[11], period_to[11]; /* "YYYY-MM-DD", or "" when the contract names none */
	char team[128];                      /* whom scheduled runs' effort is logged to */
	double cap_month[YB_EFFORT_N];       /* person-months a month; < 0: no cap */
	double cap_total[YB_EFFORT_N];       /* person-months over the contract; < 0: no cap */
};

/* The effort of a month in one category. */
struct yb_effort_line {
	enum yb_effort_category category;
	int64_t entries;            /* the month's entries (corrections count as entries) */
	double hours;               /* the month's hours */
	double person_days;
	double person_months;
	double cap_month;           /* person-months; < 0: no cap */
	double month_percent;       /* of cap_month; < 0: no cap */
	double total_hours;         /* the contract to the month's end */
	double total_person_months;
	double cap_total;           /* person-months; < 0: no cap */
	double total_percent;       /* of cap_total; < 0: no cap */
};

/* The effort of a month per category. */
struct yb_effort_month {
	int year, month; /* 2026, 12 */
	struct yb_effort_terms terms;
	struct yb_effort_line lines[YB_EFFORT_N]; /* indexed by enum yb_effort_category */
};

/* hours / hours_per_day / days_per_month. */
double yb_effort_person_months(double hours, const struct yb_effort_terms *t);

/* Fills l's person_days, person_months, caps and percents from its hours and total_hours and
 * the terms (l->category set). Pure: the unit tests check it without a database. */
void yb_effort_line_compute(struct yb_effort_line *l, const struct yb_effort_terms *t);

/* Reads the terms (yoban.contract) and the month's figures (yoban.effort_entries) into *out.
 * Needs SELECT on both (every yoban_* role has it). Returns 0 or <0 with err. */
int yb_effort_month_load(struct db_conn *c, int year, int month, struct yb_effort_month *out,
			 struct yb_err *err);

/* {"month": "2026-12", "hours_per_day", "days_per_month", "period_from", "period_to",
 *  "categories": [{"category", "entries", "hours", "person_days", "person_months", "cap_month"
 *  (null: none), "month_percent" (null), "total_hours", "total_person_months", "cap_total" (null),
 *  "total_percent" (null)}, ...]} with the numbers rounded to 2 decimals. Caller frees. */
struct yb_json *yb_effort_month_json(const struct yb_effort_month *m);

/* "YYYY-MM" into year and month (1..12); -1 otherwise. */
int yb_effort_month_parse(const char *text, int *year, int *month);

#endif
