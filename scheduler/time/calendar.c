/*
 * calendar.c: business calendars: is a civil date open (開庁日) or closed (閉庁日), and why.
 *
 * The one idea: a calendar is a stack of rules read top-down, and the first that speaks decides:
 * an explicit open date, then the national holidays (when the base is jp), the listed closed
 * dates, the yearly closed ranges, and last the closed weekdays. Everything else is open.
 * Searches (next/previous open day, n-th open day of a month) only ever ask cal_is_open, so they
 * stay right whatever the rules; they are bounded (a month, or 366 days) and never hang.
 */
#include "calendar.h"
#include "civil.h"

#include <stdlib.h>
#include <string.h>

#define CAL_SEARCH_DAYS 366

static const char *const weekday_names[7] = {
	"日曜日", "月曜日", "火曜日", "水曜日", "木曜日", "金曜日", "土曜日",
};

static const struct calendar jp_calendar = {
	.name = (char *)"jp",
	.base_jp = true,
};

const struct calendar *cal_builtin(const char *name)
{
	if (name && !strcmp(name, "jp"))
		return &jp_calendar;
	return NULL;
}

void cal_init(struct calendar *cal, const char *name)
{
	memset(cal, 0, sizeof(*cal));
	cal->name = xstrdup(name ? name : "");
}

void cal_release(struct calendar *cal)
{
	free(cal->name);
	free(cal->closed_yearly);
	free(cal->closed);
	free(cal->open);
	memset(cal, 0, sizeof(*cal));
}

/* Index of the first element >= key. */
static size_t lower_bound(const int64_t *v, size_t n, int64_t key)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid] < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool contains(const int64_t *v, size_t n, int64_t key)
{
	size_t i = lower_bound(v, n, key);
	return i < n && v[i] == key;
}

static void insert_sorted(int64_t **v, size_t *n, int64_t key)
{
	size_t i = lower_bound(*v, *n, key);
	if (i < *n && (*v)[i] == key)
		return;
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	memmove(*v + i + 1, *v + i, (*n - i) * sizeof(**v));
	(*v)[i] = key;
	(*n)++;
}

void cal_add_closed(struct calendar *cal, int year, int month, int day)
{
	insert_sorted(&cal->closed, &cal->n_closed, yb_days_from_civil(year, month, day));
}

void cal_add_open(struct calendar *cal, int year, int month, int day)
{
	insert_sorted(&cal->open, &cal->n_open, yb_days_from_civil(year, month, day));
}

/* Is (month, day) inside the yearly range? A range whose end comes before its start wraps the
 * year end: 12-29..01-03 holds Dec 29-31 and Jan 1-3. */
static bool yearly_contains(const struct cal_yearly *r, int month, int day)
{
	int key = month * 100 + day;
	int from = r->from_month * 100 + r->from_day;
	int to = r->to_month * 100 + r->to_day;
	if (from <= to)
		return key >= from && key <= to;
	return key >= from || key <= to;
}

static bool yearly_wraps(const struct cal_yearly *r)
{
	return r->from_month * 100 + r->from_day > r->to_month * 100 + r->to_day;
}

bool cal_is_open(const struct calendar *cal, int year, int month, int day, const char **why)
{
	const char *reason = NULL;
	if (!cal)
		return true;
	int64_t days = yb_days_from_civil(year, month, day);
	if (contains(cal->open, cal->n_open, days))
		return true;
	if (cal->base_jp)
		reason = jp_holiday_name(year, month, day);
	if (!reason && contains(cal->closed, cal->n_closed, days))
		reason = "閉庁日";
	for (size_t i = 0; !reason && i < cal->n_closed_yearly; i++)
		if (yearly_contains(&cal->closed_yearly[i], month, day))
			reason = yearly_wraps(&cal->closed_yearly[i]) ? "年末年始" : "閉庁期間";
	if (!reason) {
		int wday = yb_weekday(year, month, day);
		if (cal->closed_weekdays & (1u << wday))
			reason = weekday_names[wday];
	}
	if (!reason)
		return true;
	if (why)
		*why = reason;
	return false;
}

int cal_each_closed_day(const struct calendar *cal, int year,
			int (*fn)(int year, int month, int day, const char *why, void *ctx), void *ctx)
{
	for (int month = 1; month <= 12; month++) {
		int n_days = yb_days_in_month(year, month);
		for (int day = 1; day <= n_days; day++) {
			const char *why = NULL;
			if (cal_is_open(cal, year, month, day, &why))
				continue;
			int rc = fn(year, month, day, why, ctx);
			if (rc)
				return rc;
		}
	}
	return 0;
}

int cal_nth_open_day(const struct calendar *cal, int year, int month, int n, int *out_day)
{
	if (n == 0 || month < 1 || month > 12)
		return YB_EINVAL;
	int n_days = yb_days_in_month(year, month);
	int step = n > 0 ? 1 : -1;
	int want = n > 0 ? n : -n;
	int seen = 0;
	for (int day = n > 0 ? 1 : n_days; day >= 1 && day <= n_days; day += step) {
		if (!cal_is_open(cal, year, month, day, NULL))
			continue;
		if (++seen == want) {
			*out_day = day;
			return 0;
		}
	}
	return YB_ERANGE;
}

static int step_open_day(const struct calendar *cal, int step, int year, int month, int day, int *y,
			 int *m, int *d)
{
	int64_t days = yb_days_from_civil(year, month, day);
	for (int i = 1; i <= CAL_SEARCH_DAYS; i++) {
		int cy, cm, cd;
		yb_civil_from_days(days + (int64_t)step * i, &cy, &cm, &cd);
		if (cal_is_open(cal, cy, cm, cd, NULL)) {
			*y = cy;
			*m = cm;
			*d = cd;
			return 0;
		}
	}
	return YB_ERANGE;
}

int cal_prev_open_day(const struct calendar *cal, int year, int month, int day, int *y, int *m, int *d)
{
	return step_open_day(cal, -1, year, month, day, y, m, d);
}

int cal_next_open_day(const struct calendar *cal, int year, int month, int day, int *y, int *m, int *d)
{
	return step_open_day(cal, 1, year, month, day, y, m, d);
}
