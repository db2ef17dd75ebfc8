/*
 * sched.c: a schedule's fires: a cron expression (or a business-day position) in a time zone,
 * bent by a business calendar.
 *
 * The one idea: work in local civil time, day by day, and map to instants only at the end. The
 * raw fires are the civil times the cron expression matches (found with cron_next/cron_prev in
 * UTC, which enumerates civil times with no DST in the way). Bending moves a raw fire from a
 * closed day to the same time of day on an open day, so every bent fire lands on a "target" day,
 * and each target day collects the raw fires of a contiguous run of "source" days: itself and,
 * for next_open_day, the closed days just before it (previous_open_day: just after it). The
 * next fire after t is then the earliest bent time on the first target day, at or after t's
 * local date, that has one later than t; the days between targets are jumped over with one cron
 * search. So fires before t that move forward past it, and fires after t that move back before
 * it, are both accounted for, and the results are strictly monotonic by construction: the answer
 * is the least element of a fixed set of instants that is greater than t.
 *
 * Civil time -> instant is tz_resolve_span (a time in a DST gap fires at the end of the gap, a
 * time in a repeated hour at its first occurrence, and at its second too when the expression
 * fires by elapsed time, every hour); several civil times that land on one instant are one fire.
 * A raw fire on a closed day with no open day within 366 days is dropped.
 *
 * With no calendar to bend by (or on_closed_day: run), the fires are the expression's own:
 * cron_next and cron_prev answer directly, searching to the years 9999 and 1; only the calendar's
 * bending is bounded (ten years).
 */
#include "sched.h"

#include <string.h>

#define DAY_SECS 86400
#define HORIZON_DAYS 3653   /* ten years, leap days included */
#define HORIZON_MONTHS 121
#define MOVE_DAYS 366       /* how far a fire may move to find an open day */

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static bool day_open(const struct schedule *s, int64_t day)
{
	if (!s->cal)
		return true;
	int y, m, d;
	yb_civil_from_days(day, &y, &m, &d);
	return cal_is_open(s->cal, y, m, d, NULL);
}

/* The nearest open day at or after (dir 1) / at or before (dir -1) day. */
static int open_day_from(const struct schedule *s, int64_t day, int dir, int64_t *out)
{
	for (int i = 0; i <= MOVE_DAYS; i++) {
		if (day_open(s, day + (int64_t)dir * i)) {
			*out = day + (int64_t)dir * i;
			return 0;
		}
	}
	return YB_ERANGE;
}

/* The source days whose raw fires land on target day t: [*first, *last]. */
static void source_days(const struct schedule *s, int64_t t, int64_t *first, int64_t *last)
{
	int64_t open;
	*first = *last = t;
	if (s->on_closed == SCHED_NEXT_OPEN_DAY)
		*first = open_day_from(s, t - 1, -1, &open) == 0 ? open + 1 : t - MOVE_DAYS;
	else if (s->on_closed == SCHED_PREVIOUS_OPEN_DAY)
		*last = open_day_from(s, t + 1, 1, &open) == 0 ? open - 1 : t + MOVE_DAYS;
}

/* The first civil time >= lo that the expression matches (local seconds), if it is <= hi. */
static bool civil_first(const struct cron_expr *e, int64_t lo, int64_t hi, int64_t *out)
{
	int64_t m;
	if (cron_next(e, tz_utc(), lo - 1, &m) < 0 || m > hi)
		return false;
	*out = m;
	return true;
}

/* The last civil time <= hi that the expression matches, if it is >= lo. */
static bool civil_last(const struct cron_expr *e, int64_t lo, int64_t hi, int64_t *out)
{
	int64_t m;
	if (cron_prev(e, tz_utc(), hi + 1, &m) < 0 || m < lo)
		return false;
	*out = m;
	return true;
}

static const struct tz *zone_of(const struct schedule *s)
{
	return s->zone ? s->zone : tz_utc();
}

/* Local seconds (civil time read as UTC) -> instant, by the zone's DST rules; *second gets the
 * instant of the second pass when local is repeated and the expression fires on both, else -1. */
static int64_t resolve2(const struct schedule *s, int64_t local, int64_t *second)
{
	struct tz_span sp;
	int64_t t = tz_resolve_span(zone_of(s), local, &sp);
	*second = s->cron && sp.kind == TZ_FOLD && cron_fires_by_elapsed_time(s->cron) ? sp.second : -1;
	return t;
}

static int64_t resolve(const struct schedule *s, int64_t local)
{
	return tz_resolve_local(zone_of(s), local, NULL, NULL);
}

static int check_schedule(const struct schedule *s, struct yb_err *err)
{
	if (!s->cron && !s->business_day)
		return yb_err_set(err, YB_EINVAL, "schedule has neither 'cron' nor 'business_day'");
	if (!s->cron && (s->business_day < -31 || s->business_day > 31))
		return yb_err_set(err, YB_EINVAL, "business_day %d is out of range (1 to 31, or -1 to -31)",
				  s->business_day);
	if (!s->cron && (s->at_hour < 0 || s->at_hour > 23 || s->at_min < 0 || s->at_min > 59 ||
			 s->at_sec < 0 || s->at_sec > 59))
		return yb_err_set(err, YB_EINVAL, "at %02d:%02d:%02d is not a time of day", s->at_hour,
				  s->at_min, s->at_sec);
	if ((unsigned)s->on_closed > SCHED_NEXT_OPEN_DAY)
		return yb_err_set(err, YB_EINVAL, "unknown on_closed_day value %d", (int)s->on_closed);
	return 0;
}

static int no_fire(const struct schedule *s, int64_t t, const char *dir, struct yb_err *err)
{
	char when[64];
	struct yb_civil c;
	int first, last;
	tz_format_iso(zone_of(s), t, when, sizeof(when));
	tz_to_local(zone_of(s), t, &c, NULL);
	if (s->cron && cron_year_range(s->cron, &first, &last)) {
		if (!strcmp(dir, "after") && last <= c.year)
			return yb_err_set(err, YB_ERANGE, "no fire after %s: the year field ends in %d",
					  when, last);
		if (strcmp(dir, "after") && first >= c.year)
			return yb_err_set(err, YB_ERANGE, "no fire before %s: the year field starts in %d",
					  when, first);
	}
	if (s->cron && (!s->cal || s->on_closed == SCHED_RUN))
		return yb_err_set(err, YB_ERANGE, "no fire %s %s (the search runs from the year 1 to "
				  "the year 9999)", dir, when);
	if (!s->cron)
		return yb_err_set(err, YB_ERANGE,
				  "no fire in the ten years %s %s (no month of calendar '%s' has %d "
				  "open days)", dir, when, s->cal ? s->cal->name : "(none)",
				  s->business_day < 0 ? -s->business_day : s->business_day);
	return yb_err_set(err, YB_ERANGE,
			  "no fire in the ten years %s %s (does the expression only fire on days "
			  "the calendar closes?)", dir, when);
}

/* The earliest bent fire on target day t later than `after`, whose bent civil time is above
 * floor_local (local seconds; fires at or below it cannot be later than `after`). */
static bool earliest_on(const struct schedule *s, int64_t t, int64_t src_first, int64_t src_last,
			int64_t after, int64_t floor_local, int64_t *out)
{
	bool found = false;
	int64_t best = 0;
	for (int64_t src = src_first; src <= src_last; src++) {
		int64_t shift = (t - src) * DAY_SECS;
		int64_t lo = src * DAY_SECS, hi = lo + DAY_SECS - 1, m;
		if (floor_local + 1 - shift > lo)
			lo = floor_local + 1 - shift;
		while (lo <= hi && civil_first(s->cron, lo, hi, &m)) {
			int64_t second, at = resolve2(s, m + shift, &second);
			if (at > after) {
				if (!found || at < best)
					best = at;
				found = true;
				break;
			}
			if (second > after) { /* the second pass of a repeated hour; later m may be earlier */
				if (!found || second < best)
					best = second;
				found = true;
			}
			lo = m + 1;
		}
	}
	if (found)
		*out = best;
	return found;
}

/* The latest bent fire on target day t earlier than `before`, whose bent civil time is at most
 * ceil_local. */
static bool latest_on(const struct schedule *s, int64_t t, int64_t src_first, int64_t src_last,
		      int64_t before, int64_t ceil_local, int64_t *out)
{
	bool found = false;
	int64_t best = 0;
	for (int64_t src = src_first; src <= src_last; src++) {
		int64_t shift = (t - src) * DAY_SECS;
		int64_t lo = src * DAY_SECS, hi = lo + DAY_SECS - 1, m;
		if (ceil_local - shift < hi)
			hi = ceil_local - shift;
		while (lo <= hi && civil_last(s->cron, lo, hi, &m)) {
			int64_t second, at = resolve2(s, m + shift, &second);
			if (second >= 0 && second < before) {
				at = second;
			} else if (second >= 0 && at < before) {
				/* a first pass; an earlier m's second pass may still be later */
				if (!found || at > best)
					best = at;
				found = true;
				hi = m - 1;
				continue;
			}
			if (at < before) {
				if (!found || at > best)
					best = at;
				found = true;
				break;
			}
			hi = m - 1;
		}
	}
	if (found)
		*out = best;
	return found;
}

/* The civil lower bound for fires after `after`: its local time, or, when `after` is on the
 * second pass of a repeated hour, the end of that hour (every civil time in it first happened
 * before `after`). */
static int64_t local_floor(const struct schedule *s, int64_t after)
{
	int64_t ls = tz_local_seconds(zone_of(s), after);
	struct tz_span sp;
	int64_t first = tz_resolve_span(zone_of(s), ls, &sp);
	if (sp.kind == TZ_FOLD && s->cron && cron_fires_by_elapsed_time(s->cron))
		ls = sp.start - 1; /* its civil times fire again on the second pass */
	else if (sp.kind == TZ_FOLD && first != after)
		ls = sp.end - 1;
	return ls;
}

/* The civil upper bound for fires before `before`: the local time of before - 1, or the end of
 * the repeated hour when that is on its second pass (its whole first pass is earlier). */
static int64_t local_ceil(const struct schedule *s, int64_t before)
{
	int64_t b = before - 1;
	int64_t ls = tz_local_seconds(zone_of(s), b);
	struct tz_span sp;
	int64_t first = tz_resolve_span(zone_of(s), ls, &sp);
	if (sp.kind == TZ_FOLD && (first != b || (s->cron && cron_fires_by_elapsed_time(s->cron))))
		ls = sp.end - 1;
	return ls;
}

static int64_t business_local(const struct schedule *s, int y, int m, int d)
{
	return yb_days_from_civil(y, m, d) * DAY_SECS + s->at_hour * 3600 + s->at_min * 60 + s->at_sec;
}

static void add_months(int *y, int *m, int k)
{
	int idx = *y * 12 + (*m - 1) + k;
	*y = (int)floor_div(idx, 12);
	*m = idx - *y * 12 + 1;
}

static int business_next(const struct schedule *s, int64_t after, int64_t *out, struct yb_err *err)
{
	int64_t fl = local_floor(s, after);
	int y0, m0, d0;
	yb_civil_from_days(floor_div(fl, DAY_SECS), &y0, &m0, &d0);
	for (int k = 0; k <= HORIZON_MONTHS; k++) {
		int y = y0, m = m0, d;
		add_months(&y, &m, k);
		if (cal_nth_open_day(s->cal, y, m, s->business_day, &d) < 0)
			continue;
		int64_t local = business_local(s, y, m, d);
		if (local <= fl)
			continue;
		int64_t at = resolve(s, local);
		if (at > after) {
			*out = at;
			return 0;
		}
	}
	return no_fire(s, after, "after", err);
}

static int business_prev(const struct schedule *s, int64_t before, int64_t *out, struct yb_err *err)
{
	int64_t cl = local_ceil(s, before);
	int y0, m0, d0;
	yb_civil_from_days(floor_div(cl, DAY_SECS), &y0, &m0, &d0);
	for (int k = 0; k <= HORIZON_MONTHS; k++) {
		int y = y0, m = m0, d;
		add_months(&y, &m, -k);
		if (cal_nth_open_day(s->cal, y, m, s->business_day, &d) < 0)
			continue;
		int64_t local = business_local(s, y, m, d);
		if (local > cl)
			continue;
		int64_t at = resolve(s, local);
		if (at < before) {
			*out = at;
			return 0;
		}
	}
	return no_fire(s, before, "before", err);
}

int sched_next(const struct schedule *s, int64_t after, int64_t *out, struct yb_err *err)
{
	int rc = check_schedule(s, err);
	if (rc < 0)
		return rc;
	if (!s->cron)
		return business_next(s, after, out, err);
	if (!s->cal || s->on_closed == SCHED_RUN) {
		if (cron_next(s->cron, zone_of(s), after, out) < 0)
			return no_fire(s, after, "after", err);
		return 0;
	}

	int64_t fl = local_floor(s, after);
	int64_t first_day = floor_div(fl, DAY_SECS), target = first_day;
	if (s->on_closed != SCHED_RUN && open_day_from(s, first_day, 1, &target) < 0)
		return no_fire(s, after, "after", err);
	while (target <= first_day + HORIZON_DAYS) {
		int64_t src_first, src_last, fire, m;
		source_days(s, target, &src_first, &src_last);
		if (s->on_closed == SCHED_SKIP && !day_open(s, target))
			BUG("skip schedule targets a closed day");
		if (earliest_on(s, target, src_first, src_last, after, fl, &fire)) {
			*out = fire;
			return 0;
		}
		/* Jump to the target day of the next raw fire past these sources. */
		if (!civil_first(s->cron, (src_last + 1) * DAY_SECS, INT64_MAX, &m))
			break;
		int64_t day = floor_div(m, DAY_SECS), next = day;
		if (s->on_closed == SCHED_PREVIOUS_OPEN_DAY) {
			if (open_day_from(s, day, -1, &next) < 0 || next <= target)
				rc = open_day_from(s, day, 1, &next);
		} else if (s->on_closed != SCHED_RUN) {
			rc = open_day_from(s, day, 1, &next);
		}
		if (rc < 0)
			break;
		target = next > target ? next : target + 1;
	}
	return no_fire(s, after, "after", err);
}

int sched_prev(const struct schedule *s, int64_t before, int64_t *out, struct yb_err *err)
{
	int rc = check_schedule(s, err);
	if (rc < 0)
		return rc;
	if (!s->cron)
		return business_prev(s, before, out, err);
	if (!s->cal || s->on_closed == SCHED_RUN) {
		if (cron_prev(s->cron, zone_of(s), before, out) < 0)
			return no_fire(s, before, "before", err);
		return 0;
	}

	int64_t cl = local_ceil(s, before);
	int64_t last_day = floor_div(cl, DAY_SECS), target = last_day;
	if (s->on_closed != SCHED_RUN && open_day_from(s, last_day, -1, &target) < 0)
		return no_fire(s, before, "before", err);
	while (target >= last_day - HORIZON_DAYS) {
		int64_t src_first, src_last, fire, m;
		source_days(s, target, &src_first, &src_last);
		if (latest_on(s, target, src_first, src_last, before, cl, &fire)) {
			*out = fire;
			return 0;
		}
		if (!civil_last(s->cron, INT64_MIN / 2, src_first * DAY_SECS - 1, &m))
			break;
		int64_t day = floor_div(m, DAY_SECS), prev = day;
		if (s->on_closed == SCHED_NEXT_OPEN_DAY) {
			if (open_day_from(s, day, 1, &prev) < 0 || prev >= target)
				rc = open_day_from(s, day, -1, &prev);
		} else if (s->on_closed != SCHED_RUN) {
			rc = open_day_from(s, day, -1, &prev);
		}
		if (rc < 0)
			break;
		target = prev < target ? prev : target - 1;
	}
	return no_fire(s, before, "before", err);
}

static const char *const on_closed_names[] = {
	[SCHED_SKIP] = "skip",
	[SCHED_RUN] = "run",
	[SCHED_PREVIOUS_OPEN_DAY] = "previous_open_day",
	[SCHED_NEXT_OPEN_DAY] = "next_open_day",
};

const char *sched_on_closed_name(enum sched_on_closed v)
{
	if ((unsigned)v >= YB_ARRAY_LEN(on_closed_names))
		return "?";
	return on_closed_names[v];
}

int sched_on_closed_parse(const char *text, enum sched_on_closed *out)
{
	for (size_t i = 0; i < YB_ARRAY_LEN(on_closed_names); i++) {
		if (text && !strcmp(text, on_closed_names[i])) {
			*out = (enum sched_on_closed)i;
			return 0;
		}
	}
	return YB_EINVAL;
}
