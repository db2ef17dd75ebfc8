/*
 * calendar.h: business calendars: which days are open (開庁日) and which are closed (閉庁日).
 *
 * The built-in national calendar "jp" knows every national holiday since the 1948 law with its
 * Japanese name: fixed days, Happy Monday rules, the equinox days, substitute holidays (振替休日,
 * 1973 and 2007 rules), sandwiched days (国民の休日) and the one-off days. A site calendar (YAML,
 * see docs/runbook-reference.md) adds closed weekdays, yearly closed ranges ("12-29..01-03"),
 * closed dates and open dates; an explicit open date wins over everything.
 * Dates are civil dates; a calendar knows nothing of time zones.
 */
#ifndef YB_CALENDAR_H
#define YB_CALENDAR_H

#include "yb.h"

/* A yearly range, e.g. 12-29..01-03 (it may wrap the year end). */
struct cal_yearly {
	int from_month, from_day, to_month, to_day;
};

struct calendar {
	char *name;
	bool base_jp;             /* national holidays are closed */
	unsigned closed_weekdays; /* bit w set: weekday w (0 = Sunday) is closed */
	struct cal_yearly *closed_yearly;
	size_t n_closed_yearly;
	int64_t *closed; /* days since 1970-01-01, sorted */
	size_t n_closed;
	int64_t *open;   /* days since 1970-01-01, sorted; win over everything */
	size_t n_open;
};

/* The national holiday on that date, or NULL: "元日", "振替休日", "国民の休日", ... */
const char *jp_holiday_name(int year, int month, int day);
/* The day of March (month 3: 春分の日) or September (month 9: 秋分の日) of the equinox holiday by
 * the approximation formula (1900-2150; an extrapolation after that): YB_EINVAL for another
 * month, YB_ERANGE outside 1900-9999. Holidays only from 1948 on; this answers for any year. */
int jp_equinox_day(int year, int month);

/* The built-in calendars: "jp" (national holidays closed, every other day open). NULL if none. */
const struct calendar *cal_builtin(const char *name);

/* Is the day open? When closed, *why (may be NULL) receives the reason: the holiday's name,
 * "土曜日"/"日曜日" style weekday names, "年末年始" for a yearly range that wraps the year end
 * ("閉庁期間" for one that does not), or "閉庁日" for a listed date. When several apply, the
 * first of: holiday, listed date, yearly range, weekday. A NULL calendar means every day is open. */
bool cal_is_open(const struct calendar *cal, int year, int month, int day, const char **why);

/* Calls fn for every closed day of the year in date order; stops early if fn returns non-zero
 * and returns that value. */
int cal_each_closed_day(const struct calendar *cal, int year,
			int (*fn)(int year, int month, int day, const char *why, void *ctx), void *ctx);

/* The n-th open day of the month (n >= 1 from the start, n <= -1 from the end): YB_ERANGE if the
 * month has fewer open days. */
int cal_nth_open_day(const struct calendar *cal, int year, int month, int n, int *out_day);

/* The nearest open day strictly before / after the given one (searching at most 366 days). */
int cal_prev_open_day(const struct calendar *cal, int year, int month, int day, int *y, int *m, int *d);
int cal_next_open_day(const struct calendar *cal, int year, int month, int day, int *y, int *m, int *d);

void cal_init(struct calendar *cal, const char *name);
void cal_release(struct calendar *cal);
/* Adds a date to closed or open, keeping the arrays sorted and free of duplicates. */
void cal_add_closed(struct calendar *cal, int year, int month, int day);
void cal_add_open(struct calendar *cal, int year, int month, int day);

#endif
