/*
 * test_sched.c: schedules bent by calendars: skip, run, previous/next open day, business days,
 * DST zones, and the monotonicity of sched_next against a brute-force reference.
 *
 * Expected instants are written out as ISO 8601 strings with the zone's offset, the way an
 * operator reads them in `yoban next`.
 */
#include "sched.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct tz *zone(const char *name)
{
	const struct tz *z;
	struct yb_err err;
	ck_assert_msg(tz_load(name, &z, &err) == 0, "%s", err.msg);
	return z;
}

static struct cron_expr *cron(const char *text)
{
	struct cron_expr *e;
	struct yb_err err;
	ck_assert_msg(cron_parse(text, "test", &e, NULL, &err) == 0, "%s: %s", text, err.msg);
	return e;
}

static int64_t at(const struct tz *z, const char *iso)
{
	int64_t t;
	struct yb_err err;
	ck_assert_msg(tz_parse_iso(iso, z, &t, &err) == 0, "%s: %s", iso, err.msg);
	return t;
}

/* The city calendar: weekends, national holidays, 12-29..01-03. */
static struct calendar city;
static struct cal_yearly new_year = { 12, 29, 1, 3 };

static void setup(void)
{
	cal_init(&city, "city");
	city.base_jp = true;
	city.closed_weekdays = (1u << 0) | (1u << 6);
	city.closed_yearly = &new_year;
	city.n_closed_yearly = 1;
}

static void teardown(void)
{
	city.closed_yearly = NULL;
	cal_release(&city);
}

static struct schedule make(const char *expr, const char *tz, const struct calendar *cal,
			    enum sched_on_closed on_closed)
{
	struct schedule s = { 0 };
	s.cron = expr ? cron(expr) : NULL;
	s.zone = zone(tz);
	s.cal = cal;
	s.on_closed = on_closed;
	return s;
}

static void drop(struct schedule *s)
{
	cron_free((struct cron_expr *)s->cron);
}

/* sched_next from `after` gives each of the expected fires in turn. */
static void expect_next(const struct schedule *s, const char *after, const char *const *fires,
			size_t n)
{
	int64_t t = at(s->zone, after);
	for (size_t i = 0; i < n; i++) {
		int64_t next;
		char got[64];
		struct yb_err err = { 0 };
		ck_assert_msg(sched_next(s, t, &next, &err) == 0, "after %s: %s", after, err.msg);
		tz_format_iso(s->zone, next, got, sizeof(got));
		ck_assert_msg(!strcmp(got, fires[i]), "after %s, fire %zu: expected %s, got %s", after,
			      i + 1, fires[i], got);
		t = next;
	}
}

static void expect_prev(const struct schedule *s, const char *before, const char *fire)
{
	int64_t prev;
	char got[64];
	struct yb_err err = { 0 };
	ck_assert_msg(sched_prev(s, at(s->zone, before), &prev, &err) == 0, "before %s: %s", before,
		      err.msg);
	tz_format_iso(s->zone, prev, got, sizeof(got));
	ck_assert_msg(!strcmp(got, fire), "before %s: expected %s, got %s", before, fire, got);
}

#define EXPECT_NEXT(s, after, ...)                                                                 \
	do {                                                                                       \
		static const char *const fires_[] = { __VA_ARGS__ };                               \
		expect_next(s, after, fires_, YB_ARRAY_LEN(fires_));                               \
	} while (0)

START_TEST(test_skip)
{
	struct schedule s = make("30 1 * * *", "Asia/Tokyo", &city, SCHED_SKIP);
	/* Friday, then Monday */
	EXPECT_NEXT(&s, "2026-06-05T01:30:00+09:00", "2026-06-08T01:30:00+09:00",
		    "2026-06-09T01:30:00+09:00");
	/* Golden Week 2026: 5/2 Sat .. 5/6 Wed (振替休日) */
	EXPECT_NEXT(&s, "2026-05-01T01:30:00+09:00", "2026-05-07T01:30:00+09:00");
	/* New Year: 12/29 .. 1/3, then 1/4 */
	EXPECT_NEXT(&s, "2026-12-28T01:30:00+09:00", "2027-01-04T01:30:00+09:00");
	/* strictly after: a start exactly on a fire gives the next one */
	EXPECT_NEXT(&s, "2026-06-08T01:29:59+09:00", "2026-06-08T01:30:00+09:00",
		    "2026-06-09T01:30:00+09:00");
	expect_prev(&s, "2026-06-08T01:30:00+09:00", "2026-06-05T01:30:00+09:00");
	expect_prev(&s, "2027-01-04T00:00:00+09:00", "2026-12-28T01:30:00+09:00");
	expect_prev(&s, "2026-05-07T01:30:01+09:00", "2026-05-07T01:30:00+09:00");
	drop(&s);
}
END_TEST

START_TEST(test_run)
{
	struct schedule s = make("30 1 * * *", "Asia/Tokyo", &city, SCHED_RUN);
	EXPECT_NEXT(&s, "2026-06-05T01:30:00+09:00", "2026-06-06T01:30:00+09:00",
		    "2026-06-07T01:30:00+09:00", "2026-06-08T01:30:00+09:00");
	EXPECT_NEXT(&s, "2027-01-01T00:00:00+09:00", "2027-01-01T01:30:00+09:00");
	expect_prev(&s, "2027-01-01T01:30:00+09:00", "2026-12-31T01:30:00+09:00");
	drop(&s);
	/* no calendar at all: the same */
	s = make("30 1 * * *", "Asia/Tokyo", NULL, SCHED_SKIP);
	EXPECT_NEXT(&s, "2027-01-01T00:00:00+09:00", "2027-01-01T01:30:00+09:00");
	drop(&s);
}
END_TEST

START_TEST(test_next_open_day)
{
	/* Saturday's and Sunday's fires move onto Monday's: one fire */
	struct schedule s = make("30 1 * * *", "Asia/Tokyo", &city, SCHED_NEXT_OPEN_DAY);
	EXPECT_NEXT(&s, "2026-06-05T01:30:00+09:00", "2026-06-08T01:30:00+09:00",
		    "2026-06-09T01:30:00+09:00");
	EXPECT_NEXT(&s, "2026-05-01T01:30:00+09:00", "2026-05-07T01:30:00+09:00",
		    "2026-05-08T01:30:00+09:00");
	EXPECT_NEXT(&s, "2026-12-28T01:30:00+09:00", "2027-01-04T01:30:00+09:00");
	/* from inside the closed stretch, after its own raw fires: they still come on Monday */
	EXPECT_NEXT(&s, "2026-06-07T12:00:00+09:00", "2026-06-08T01:30:00+09:00");
	expect_prev(&s, "2026-06-08T01:30:00+09:00", "2026-06-05T01:30:00+09:00");
	expect_prev(&s, "2026-06-08T12:00:00+09:00", "2026-06-08T01:30:00+09:00");
	drop(&s);

	/* a Saturday fire that already passed moves forward past `after` */
	s = make("0 9 * * 6", "Asia/Tokyo", &city, SCHED_NEXT_OPEN_DAY);
	EXPECT_NEXT(&s, "2026-06-06T10:00:00+09:00", "2026-06-08T09:00:00+09:00",
		    "2026-06-15T09:00:00+09:00");
	drop(&s);

	/* every 15 minutes: the weekend's 192 fires and Monday's 96 are Monday's 96, once each */
	s = make("*/15 * * * *", "Asia/Tokyo", &city, SCHED_NEXT_OPEN_DAY);
	int64_t t = at(s.zone, "2026-06-05T23:50:00+09:00");
	int64_t monday = at(s.zone, "2026-06-08T00:00:00+09:00");
	for (int i = 0; i < 97; i++) {
		struct yb_err err = { 0 };
		ck_assert_int_eq(sched_next(&s, t, &t, &err), 0);
		ck_assert_msg(t == monday + i * 900, "fire %d: %lld", i, (long long)(t - monday));
	}
	drop(&s);

	/* the monthly off-site copy: 8/1 is a Saturday, 11/1 a Sunday, 1/1 New Year */
	s = make("0 2 1 * *", "Asia/Tokyo", &city, SCHED_NEXT_OPEN_DAY);
	EXPECT_NEXT(&s, "2026-07-15T00:00:00+09:00", "2026-08-03T02:00:00+09:00",
		    "2026-09-01T02:00:00+09:00", "2026-10-01T02:00:00+09:00",
		    "2026-11-02T02:00:00+09:00", "2026-12-01T02:00:00+09:00",
		    "2027-01-04T02:00:00+09:00", "2027-02-01T02:00:00+09:00");
	expect_prev(&s, "2027-01-04T02:00:00+09:00", "2026-12-01T02:00:00+09:00");
	expect_prev(&s, "2027-01-04T02:00:01+09:00", "2027-01-04T02:00:00+09:00");
	drop(&s);
}
END_TEST

START_TEST(test_previous_open_day)
{
	struct schedule s = make("0 2 1 * *", "Asia/Tokyo", &city, SCHED_PREVIOUS_OPEN_DAY);
	/* the 8/1 raw fire moves back onto 7/31, still after `after` */
	EXPECT_NEXT(&s, "2026-07-30T12:00:00+09:00", "2026-07-31T02:00:00+09:00",
		    "2026-09-01T02:00:00+09:00");
	/* the 8/1 fire moved back to 7/31 02:00, before `after`: gone; next is 9/1 */
	EXPECT_NEXT(&s, "2026-07-31T03:00:00+09:00", "2026-09-01T02:00:00+09:00");
	/* from inside the closed weekend, too */
	EXPECT_NEXT(&s, "2026-08-01T01:00:00+09:00", "2026-09-01T02:00:00+09:00");
	/* 2027-01-01 moves back to 2026-12-28 (12/29..12/31 closed) */
	EXPECT_NEXT(&s, "2026-12-01T03:00:00+09:00", "2026-12-28T02:00:00+09:00",
		    "2027-02-01T02:00:00+09:00");
	expect_prev(&s, "2026-09-01T00:00:00+09:00", "2026-07-31T02:00:00+09:00");
	expect_prev(&s, "2027-01-15T00:00:00+09:00", "2026-12-28T02:00:00+09:00");
	drop(&s);

	/* daily: the weekend's fires merge into Friday's */
	s = make("0 9 * * *", "Asia/Tokyo", &city, SCHED_PREVIOUS_OPEN_DAY);
	EXPECT_NEXT(&s, "2026-06-04T09:00:00+09:00", "2026-06-05T09:00:00+09:00",
		    "2026-06-08T09:00:00+09:00");
	/* Golden Week 5/2..5/6 all land on 5/1 */
	EXPECT_NEXT(&s, "2026-04-30T09:00:00+09:00", "2026-05-01T09:00:00+09:00",
		    "2026-05-07T09:00:00+09:00");
	expect_prev(&s, "2026-05-07T09:00:00+09:00", "2026-05-01T09:00:00+09:00");
	drop(&s);
}
END_TEST

START_TEST(test_business_day)
{
	struct schedule s = make(NULL, "Asia/Tokyo", &city, SCHED_SKIP);
	s.at_hour = 22;
	s.business_day = 1;
	EXPECT_NEXT(&s, "2026-04-30T00:00:00+09:00", "2026-05-01T22:00:00+09:00",
		    "2026-06-01T22:00:00+09:00", "2026-07-01T22:00:00+09:00");
	EXPECT_NEXT(&s, "2026-12-02T00:00:00+09:00", "2027-01-04T22:00:00+09:00");
	/* strictly after */
	EXPECT_NEXT(&s, "2026-05-01T22:00:00+09:00", "2026-06-01T22:00:00+09:00");
	expect_prev(&s, "2026-05-01T22:00:00+09:00", "2026-04-01T22:00:00+09:00");

	s.business_day = 3;
	EXPECT_NEXT(&s, "2026-04-30T00:00:00+09:00", "2026-05-08T22:00:00+09:00",
		    "2026-06-03T22:00:00+09:00");
	EXPECT_NEXT(&s, "2026-12-31T00:00:00+09:00", "2027-01-06T22:00:00+09:00");

	s.business_day = -1;
	s.at_min = 15;
	EXPECT_NEXT(&s, "2026-05-01T00:00:00+09:00", "2026-05-29T22:15:00+09:00",
		    "2026-06-30T22:15:00+09:00");
	EXPECT_NEXT(&s, "2026-12-01T00:00:00+09:00", "2026-12-28T22:15:00+09:00",
		    "2027-01-29T22:15:00+09:00");
	expect_prev(&s, "2026-06-01T00:00:00+09:00", "2026-05-29T22:15:00+09:00");
	expect_prev(&s, "2026-05-29T22:15:00+09:00", "2026-04-30T22:15:00+09:00");

	/* more open days than a month has: never, so ERANGE within the ten-year bound */
	s.business_day = 25;
	int64_t out = 12345;
	struct yb_err err = { 0 };
	ck_assert_int_eq(sched_next(&s, at(s.zone, "2026-01-01"), &out, &err), YB_ERANGE);
	ck_assert_ptr_nonnull(strstr(err.msg, "no fire in the ten years after"));
	ck_assert_int_eq(sched_prev(&s, at(s.zone, "2026-01-01"), &out, &err), YB_ERANGE);
	ck_assert(out == 12345);
	s.business_day = 40;
	ck_assert_int_eq(sched_next(&s, 0, &out, &err), YB_EINVAL);
	s.business_day = 1;
	s.at_hour = 24;
	ck_assert_int_eq(sched_next(&s, 0, &out, &err), YB_EINVAL);
	s.business_day = 0;
	s.at_hour = 0;
	ck_assert_int_eq(sched_next(&s, 0, &out, &err), YB_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "neither"));
}
END_TEST

START_TEST(test_dst_zones)
{
	/* New York springs forward on 2026-03-08 at 02:00: 02:30 is in the gap, fires at 03:00 */
	struct schedule s = make("30 2 * * *", "America/New_York", NULL, SCHED_RUN);
	EXPECT_NEXT(&s, "2026-03-07T12:00:00-05:00", "2026-03-08T03:00:00-04:00",
		    "2026-03-09T02:30:00-04:00");
	drop(&s);

	/* Saturday closed: its fire moves to Sunday 02:30, in the gap, and is one with Sunday's */
	struct calendar sat;
	cal_init(&sat, "sat");
	sat.closed_weekdays = 1u << 6;
	s = make("30 2 * * *", "America/New_York", &sat, SCHED_NEXT_OPEN_DAY);
	EXPECT_NEXT(&s, "2026-03-06T12:00:00-05:00", "2026-03-08T03:00:00-04:00",
		    "2026-03-09T02:30:00-04:00");
	drop(&s);

	/* falls back on 2026-11-01 at 02:00: 01:30 happens twice, fires once (first) */
	s = make("30 1 * * *", "America/New_York", &sat, SCHED_PREVIOUS_OPEN_DAY);
	EXPECT_NEXT(&s, "2026-10-31T12:00:00-04:00", "2026-11-01T01:30:00-04:00",
		    "2026-11-02T01:30:00-05:00");
	/* from the second pass of the repeated hour: not again */
	EXPECT_NEXT(&s, "2026-11-01T01:10:00-05:00", "2026-11-02T01:30:00-05:00");
	expect_prev(&s, "2026-11-01T01:40:00-05:00", "2026-11-01T01:30:00-04:00");
	/* Saturday 10/31's fire moved back to Friday */
	expect_prev(&s, "2026-11-01T00:00:00-04:00", "2026-10-30T01:30:00-04:00");
	drop(&s);

	/* Europe springs forward on the last Sunday of March (2026-03-29): 02:30 is in the gap */
	s = make("30 2 * * 0", "Europe/Berlin", NULL, SCHED_RUN);
	EXPECT_NEXT(&s, "2026-03-28T00:00:00+01:00", "2026-03-29T03:00:00+02:00",
		    "2026-04-05T02:30:00+02:00");
	drop(&s);
	cal_release(&sat);
}
END_TEST

START_TEST(test_erange_and_names)
{
	struct calendar never;
	cal_init(&never, "never");
	never.closed_weekdays = 0x7f;
	struct schedule s = make("0 9 * * *", "Asia/Tokyo", &never, SCHED_SKIP);
	int64_t out = 7;
	struct yb_err err = { 0 };
	for (int mode = SCHED_SKIP; mode <= SCHED_NEXT_OPEN_DAY; mode++) {
		s.on_closed = (enum sched_on_closed)mode;
		int rc = sched_next(&s, at(s.zone, "2026-01-01"), &out, &err);
		ck_assert_int_eq(rc, mode == SCHED_RUN ? 0 : YB_ERANGE);
		rc = sched_prev(&s, at(s.zone, "2026-01-01"), &out, &err);
		ck_assert_int_eq(rc, mode == SCHED_RUN ? 0 : YB_ERANGE);
	}
	drop(&s);
	cal_release(&never);

	/* a cron that fires once in four years, skipped when it falls on a weekend: found */
	s = make("0 0 29 2 *", "Asia/Tokyo", &city, SCHED_SKIP);
	EXPECT_NEXT(&s, "2026-01-01T00:00:00+09:00", "2028-02-29T00:00:00+09:00",
		    "2036-02-29T00:00:00+09:00");
	drop(&s);
	/* and one that never lands on an open day gives up at the ten-year bound, every mode
	 * that drops it */
	struct calendar no_feb;
	struct cal_yearly feb = { 2, 1, 2, 29 };
	cal_init(&no_feb, "no-feb");
	no_feb.closed_yearly = &feb;
	no_feb.n_closed_yearly = 1;
	s = make("0 0 29 2 *", "Asia/Tokyo", &no_feb, SCHED_SKIP);
	out = 7;
	ck_assert_int_eq(sched_next(&s, at(s.zone, "2026-01-01"), &out, &err), YB_ERANGE);
	ck_assert_int_eq(sched_prev(&s, at(s.zone, "2026-01-01"), &out, &err), YB_ERANGE);
	ck_assert(out == 7);
	s.on_closed = SCHED_NEXT_OPEN_DAY;
	EXPECT_NEXT(&s, "2026-01-01T00:00:00+09:00", "2028-03-01T00:00:00+09:00");
	s.on_closed = SCHED_PREVIOUS_OPEN_DAY;
	EXPECT_NEXT(&s, "2026-01-01T00:00:00+09:00", "2028-01-31T00:00:00+09:00");
	expect_prev(&s, "2026-01-01T00:00:00+09:00", "2024-01-31T00:00:00+09:00");
	drop(&s);
	no_feb.closed_yearly = NULL;
	cal_release(&no_feb);

	ck_assert_str_eq(sched_on_closed_name(SCHED_SKIP), "skip");
	ck_assert_str_eq(sched_on_closed_name(SCHED_RUN), "run");
	ck_assert_str_eq(sched_on_closed_name(SCHED_PREVIOUS_OPEN_DAY), "previous_open_day");
	ck_assert_str_eq(sched_on_closed_name(SCHED_NEXT_OPEN_DAY), "next_open_day");
	enum sched_on_closed v = SCHED_RUN;
	ck_assert_int_eq(sched_on_closed_parse("next_open_day", &v), 0);
	ck_assert_int_eq(v, SCHED_NEXT_OPEN_DAY);
	ck_assert_int_eq(sched_on_closed_parse("next", &v), YB_EINVAL);
	ck_assert_int_eq(sched_on_closed_parse(NULL, &v), YB_EINVAL);
	ck_assert_int_eq(v, SCHED_NEXT_OPEN_DAY);
}
END_TEST

/* The reference: every raw fire within 400 days of `after`, bent the slow way, the least bent
 * instant later than `after`. Independent of sched.c: calendar searches and tz_from_local. */
static bool reference_next(const struct schedule *s, int64_t after, int64_t *out)
{
	struct yb_civil lc;
	tz_to_local(s->zone, after, &lc, NULL);
	int64_t day0 = yb_days_from_civil(lc.year, lc.month, lc.day);
	int64_t c = (day0 - 400) * 86400 - 1, end = (day0 + 400) * 86400;
	bool found = false;
	while (cron_next(s->cron, tz_utc(), c, &c) == 0 && c < end) {
		struct yb_civil f;
		tz_to_local(tz_utc(), c, &f, NULL);
		int y = f.year, m = f.month, d = f.day;
		if (!cal_is_open(s->cal, y, m, d, NULL)) {
			int rc = 0;
			if (s->on_closed == SCHED_SKIP)
				continue;
			if (s->on_closed == SCHED_NEXT_OPEN_DAY)
				rc = cal_next_open_day(s->cal, f.year, f.month, f.day, &y, &m, &d);
			else if (s->on_closed == SCHED_PREVIOUS_OPEN_DAY)
				rc = cal_prev_open_day(s->cal, f.year, f.month, f.day, &y, &m, &d);
			if (rc < 0)
				continue;
		}
		f.year = y;
		f.month = m;
		f.day = d;
		int64_t bent = tz_from_local(s->zone, &f, NULL);
		if (bent > after && (!found || bent < *out)) {
			*out = bent;
			found = true;
		}
		/* an elapsed-time expression fires again when the same wall clock comes round again
		 * (the repeated hour or half hour at the end of summer time) */
		for (int64_t k = 1800; k <= 3600 && cron_fires_by_elapsed_time(s->cron); k += 1800) {
			struct yb_civil a, b;
			tz_to_local(s->zone, bent, &a, NULL);
			tz_to_local(s->zone, bent + k, &b, NULL);
			if (a.day == b.day && a.hour == b.hour && a.min == b.min && a.sec == b.sec &&
			    bent + k > after && (!found || bent + k < *out)) {
				*out = bent + k;
				found = true;
			}
		}
	}
	return found;
}

START_TEST(test_monotonic_against_reference)
{
	static const char *const exprs[] = { "30 1 * * *", "0 9 * * 1-5", "0 2 1 * *",
					     "15 */8 * * *", "0 22 * * 6,0", "0 2 L * *",
					     "*/30 * * * 0", "0 * * 4,11 0" };
	static const char *const zones[] = { "Asia/Tokyo", "America/New_York",
					     "Australia/Lord_Howe" };
	struct calendar odd;
	cal_init(&odd, "odd");
	odd.base_jp = true;
	odd.closed_weekdays = 1u << 3; /* Wednesdays */
	cal_add_open(&odd, 2026, 5, 4);
	cal_add_closed(&odd, 2026, 3, 9);
	const struct calendar *cals[] = { &city, &odd };
	unsigned seed = 20260522;
	int checked = 0, never = 0;
	for (size_t e = 0; e < YB_ARRAY_LEN(exprs); e++)
		for (size_t z = 0; z < YB_ARRAY_LEN(zones); z++)
			for (int mode = SCHED_SKIP; mode <= SCHED_NEXT_OPEN_DAY; mode++) {
				struct schedule s = make(exprs[e], zones[z], cals[(e + z) % 2],
							 (enum sched_on_closed)mode);
				/* random starts from 2019 to 2030 */
				int64_t t = 1546300800 + (int64_t)(rand_r(&seed) % 378691200);
				/* the elapsed-time ones (every hour) from just before a repeated hour
				 * on an open Sunday: New York 2026-11-01, Lord Howe 2026-04-05 */
				if (e >= 6 && z == 1)
					t = 1793505600 - 1800 * (int64_t)(mode + 1);
				else if (e >= 6 && z == 2)
					t = 1775307600 + 1800 * (int64_t)mode;
				for (int i = 0; i < 40; i++) {
					int64_t next, ref = 0, back;
					struct yb_err err = { 0 };
					int rc = sched_next(&s, t, &next, &err);
					if (rc == YB_ERANGE) {
						/* a weekend-only cron skipped on a weekend-closed calendar */
						ck_assert_msg(!reference_next(&s, t, &ref), "%s %s mode %d: %s",
							      exprs[e], zones[z], mode, err.msg);
						never++;
						break;
					}
					ck_assert_msg(rc == 0, "%s %s mode %d: %s", exprs[e], zones[z], mode,
						      err.msg);
					ck_assert_msg(next > t, "%s %s mode %d: not after", exprs[e],
						      zones[z], mode);
					ck_assert_msg(reference_next(&s, t, &ref) && ref == next,
						      "%s %s mode %d after %lld: got %lld, reference %lld",
						      exprs[e], zones[z], mode, (long long)t,
						      (long long)next, (long long)ref);
					/* nothing between t and next, seen from the other side */
					ck_assert_int_eq(sched_prev(&s, next, &back, &err), 0);
					ck_assert_msg(back <= t, "%s mode %d: prev(next(%lld)) = %lld",
						      exprs[e], mode, (long long)t, (long long)back);
					int64_t again;
					ck_assert_int_eq(sched_next(&s, back, &again, &err), 0);
					ck_assert(again == next);
					checked++;
					/* the next start: on the fire, just before, or a bit later */
					switch (rand_r(&seed) % 3) {
					case 0: t = next; break;
					case 1: t = next - 1 - rand_r(&seed) % 3600; break;
					default: t = next + rand_r(&seed) % (5 * 86400); break;
					}
				}
				drop(&s);
			}
	ck_assert_int_gt(checked, 1800);
	/* the weekend-only and Sunday-only crons skipped on the weekend-closed city calendar:
	 * '0 22 * * 6,0' in Tokyo and Lord Howe, the two Sunday ones in their three zones */
	ck_assert_int_eq(never, 5);
	cal_release(&odd);
}
END_TEST

static Suite *sched_suite(void)
{
	Suite *s = suite_create("sched");
	TCase *tc = tcase_create("bend");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_skip);
	tcase_add_test(tc, test_run);
	tcase_add_test(tc, test_next_open_day);
	tcase_add_test(tc, test_previous_open_day);
	tcase_add_test(tc, test_business_day);
	tcase_add_test(tc, test_dst_zones);
	tcase_add_test(tc, test_erange_and_names);
	tcase_add_test(tc, test_monotonic_against_reference);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(sched_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
