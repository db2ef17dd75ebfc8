/*
 * test_calendar.c: the national holidays of Japan and site calendars.
 *
 * The expected holiday tables are written out by hand from the Cabinet Office's published lists
 * (内閣府「国民の祝日について」), not produced by the code under test; the rules across the
 * decades are checked as properties (every Sunday holiday has its substitute, every sandwiched
 * weekday is closed, ...).
 */
#include "calendar.h"
#include "civil.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct holiday {
	int month, day;
	const char *name;
};

static const struct holiday holidays_2019[] = {
	{ 1, 1, "元日" },          { 1, 14, "成人の日" },       { 2, 11, "建国記念の日" },
	{ 3, 21, "春分の日" },     { 4, 29, "昭和の日" },       { 4, 30, "国民の休日" },
	{ 5, 1, "天皇の即位の日" }, { 5, 2, "国民の休日" },      { 5, 3, "憲法記念日" },
	{ 5, 4, "みどりの日" },    { 5, 5, "こどもの日" },      { 5, 6, "振替休日" },
	{ 7, 15, "海の日" },       { 8, 11, "山の日" },         { 8, 12, "振替休日" },
	{ 9, 16, "敬老の日" },     { 9, 23, "秋分の日" },       { 10, 14, "体育の日" },
	{ 10, 22, "即位礼正殿の儀" }, { 11, 3, "文化の日" },    { 11, 4, "振替休日" },
	{ 11, 23, "勤労感謝の日" },
};

static const struct holiday holidays_2020[] = {
	{ 1, 1, "元日" },        { 1, 13, "成人の日" },     { 2, 11, "建国記念の日" },
	{ 2, 23, "天皇誕生日" }, { 2, 24, "振替休日" },     { 3, 20, "春分の日" },
	{ 4, 29, "昭和の日" },   { 5, 3, "憲法記念日" },    { 5, 4, "みどりの日" },
	{ 5, 5, "こどもの日" },  { 5, 6, "振替休日" },      { 7, 23, "海の日" },
	{ 7, 24, "スポーツの日" }, { 8, 10, "山の日" },     { 9, 21, "敬老の日" },
	{ 9, 22, "秋分の日" },   { 11, 3, "文化の日" },     { 11, 23, "勤労感謝の日" },
};

static const struct holiday holidays_2021[] = {
	{ 1, 1, "元日" },        { 1, 11, "成人の日" },     { 2, 11, "建国記念の日" },
	{ 2, 23, "天皇誕生日" }, { 3, 20, "春分の日" },     { 4, 29, "昭和の日" },
	{ 5, 3, "憲法記念日" },  { 5, 4, "みどりの日" },    { 5, 5, "こどもの日" },
	{ 7, 22, "海の日" },     { 7, 23, "スポーツの日" }, { 8, 8, "山の日" },
	{ 8, 9, "振替休日" },    { 9, 20, "敬老の日" },     { 9, 23, "秋分の日" },
	{ 11, 3, "文化の日" },   { 11, 23, "勤労感謝の日" },
};

static const struct holiday holidays_2026[] = {
	{ 1, 1, "元日" },        { 1, 12, "成人の日" },     { 2, 11, "建国記念の日" },
	{ 2, 23, "天皇誕生日" }, { 3, 20, "春分の日" },     { 4, 29, "昭和の日" },
	{ 5, 3, "憲法記念日" },  { 5, 4, "みどりの日" },    { 5, 5, "こどもの日" },
	{ 5, 6, "振替休日" },    { 7, 20, "海の日" },       { 8, 11, "山の日" },
	{ 9, 21, "敬老の日" },   { 9, 22, "国民の休日" },   { 9, 23, "秋分の日" },
	{ 10, 12, "スポーツの日" }, { 11, 3, "文化の日" },  { 11, 23, "勤労感謝の日" },
};

/* The year the era changed: 元日 and 成人の日 on Sundays, the funeral of the Shōwa emperor,
 * みどりの日 new on 4/29, the emperor's birthday moved to 12/23. */
static const struct holiday holidays_1989[] = {
	{ 1, 1, "元日" },         { 1, 2, "振替休日" },     { 1, 15, "成人の日" },
	{ 1, 16, "振替休日" },    { 2, 11, "建国記念の日" }, { 2, 24, "昭和天皇の大喪の礼" },
	{ 3, 21, "春分の日" },    { 4, 29, "みどりの日" },   { 5, 3, "憲法記念日" },
	{ 5, 4, "国民の休日" },   { 5, 5, "こどもの日" },    { 9, 15, "敬老の日" },
	{ 9, 23, "秋分の日" },    { 10, 10, "体育の日" },    { 11, 3, "文化の日" },
	{ 11, 23, "勤労感謝の日" }, { 12, 23, "天皇誕生日" },
};

/* The first silver week: 5/3 on a Sunday reaches past 5/5 (2007 rule), 9/22 sandwiched. */
static const struct holiday holidays_2009[] = {
	{ 1, 1, "元日" },        { 1, 12, "成人の日" },     { 2, 11, "建国記念の日" },
	{ 3, 20, "春分の日" },   { 4, 29, "昭和の日" },     { 5, 3, "憲法記念日" },
	{ 5, 4, "みどりの日" },  { 5, 5, "こどもの日" },    { 5, 6, "振替休日" },
	{ 7, 20, "海の日" },     { 9, 21, "敬老の日" },     { 9, 22, "国民の休日" },
	{ 9, 23, "秋分の日" },   { 10, 12, "体育の日" },    { 11, 3, "文化の日" },
	{ 11, 23, "勤労感謝の日" }, { 12, 23, "天皇誕生日" },
};

static int count_cb(int y, int m, int d, const char *why, void *ctx)
{
	(*(int *)ctx)++;
	return 0;
}

/* Every listed day has its name, and the year has no other holiday. */
static void check_year(int year, const struct holiday *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *got = jp_holiday_name(year, h[i].month, h[i].day);
		ck_assert_msg(got && !strcmp(got, h[i].name), "%d-%02d-%02d: expected %s, got %s", year,
			      h[i].month, h[i].day, h[i].name, got ? got : "(none)");
	}
	int count = 0;
	for (int m = 1; m <= 12; m++)
		for (int d = 1; d <= yb_days_in_month(year, m); d++)
			if (jp_holiday_name(year, m, d))
				count++;
	ck_assert_int_eq(count, (int)n);
	int closed = 0;
	ck_assert_int_eq(cal_each_closed_day(cal_builtin("jp"), year, count_cb, &closed), 0);
	ck_assert_int_eq(closed, (int)n);
}

START_TEST(test_holidays_2019)
{
	check_year(2019, holidays_2019, YB_ARRAY_LEN(holidays_2019));
	/* no emperor's birthday in 2019: neither the old one nor the new one */
	ck_assert_ptr_null(jp_holiday_name(2019, 12, 23));
	ck_assert_ptr_null(jp_holiday_name(2019, 2, 23));
}
END_TEST

START_TEST(test_holidays_2020)
{
	check_year(2020, holidays_2020, YB_ARRAY_LEN(holidays_2020));
	/* the Olympic year moved スポーツの日 out of October */
	ck_assert_ptr_null(jp_holiday_name(2020, 10, 12));
	ck_assert_ptr_null(jp_holiday_name(2020, 7, 20));
	ck_assert_ptr_null(jp_holiday_name(2020, 8, 11));
}
END_TEST

START_TEST(test_holidays_2021)
{
	check_year(2021, holidays_2021, YB_ARRAY_LEN(holidays_2021));
	ck_assert_ptr_null(jp_holiday_name(2021, 10, 11));
	ck_assert_ptr_null(jp_holiday_name(2021, 7, 19));
	ck_assert_ptr_null(jp_holiday_name(2021, 8, 11));
}
END_TEST

START_TEST(test_holidays_2026)
{
	check_year(2026, holidays_2026, YB_ARRAY_LEN(holidays_2026));
}
END_TEST

static void expect_name(int y, int m, int d, const char *name)
{
	const char *got = jp_holiday_name(y, m, d);
	if (!name)
		ck_assert_msg(!got, "%d-%02d-%02d: expected no holiday, got %s", y, m, d, got);
	else
		ck_assert_msg(got && !strcmp(got, name), "%d-%02d-%02d: expected %s, got %s", y, m, d,
			      name, got ? got : "(none)");
}

START_TEST(test_holidays_1989_2009)
{
	check_year(1989, holidays_1989, YB_ARRAY_LEN(holidays_1989));
	check_year(2009, holidays_2009, YB_ARRAY_LEN(holidays_2009));
}
END_TEST

START_TEST(test_history)
{
	/* the law took effect on 1948-07-20: nothing before, the autumn days after */
	expect_name(1947, 11, 3, NULL);
	expect_name(1948, 1, 1, NULL);
	expect_name(1948, 5, 3, NULL);
	expect_name(1948, 9, 23, "秋分の日");
	expect_name(1948, 11, 3, "文化の日");
	expect_name(1948, 11, 23, "勤労感謝の日");
	expect_name(1949, 1, 1, "元日");
	expect_name(1949, 1, 15, "成人の日");
	expect_name(1949, 4, 29, "天皇誕生日");
	/* 1966 law: 敬老の日 and 体育の日 from 1966, 建国記念の日 from 1967 */
	expect_name(1965, 9, 15, NULL);
	expect_name(1966, 9, 15, "敬老の日");
	expect_name(1966, 10, 10, "体育の日");
	expect_name(1966, 2, 11, NULL);
	expect_name(1967, 2, 11, "建国記念の日");
	/* one-off days */
	expect_name(1959, 4, 10, "皇太子明仁親王の結婚の儀");
	expect_name(1960, 4, 10, NULL);
	expect_name(1989, 2, 24, "昭和天皇の大喪の礼");
	expect_name(1990, 11, 12, "即位礼正殿の儀");
	expect_name(1993, 6, 9, "皇太子徳仁親王の結婚の儀");
	expect_name(2019, 5, 1, "天皇の即位の日");
	expect_name(2019, 10, 22, "即位礼正殿の儀");
	/* 4/29 and the emperor's birthday */
	expect_name(1988, 4, 29, "天皇誕生日");
	expect_name(1988, 12, 23, NULL);
	expect_name(1989, 4, 29, "みどりの日");
	expect_name(1989, 12, 23, "天皇誕生日");
	expect_name(2006, 4, 29, "みどりの日");
	expect_name(2007, 4, 29, "昭和の日");
	expect_name(2007, 5, 4, "みどりの日");
	expect_name(2018, 12, 23, "天皇誕生日");
	expect_name(2018, 12, 24, "振替休日");
	expect_name(2020, 2, 23, "天皇誕生日");
	/* 海の日 from 1996, 山の日 from 2016 */
	expect_name(1995, 7, 20, NULL);
	expect_name(1996, 7, 20, "海の日");
	expect_name(2002, 7, 20, "海の日");
	expect_name(2015, 8, 11, NULL);
	expect_name(2016, 8, 11, "山の日");
	/* Happy Monday: 成人の日 and 体育の日 from 2000, 海の日 and 敬老の日 from 2003 */
	expect_name(1999, 1, 15, "成人の日");
	expect_name(2000, 1, 15, NULL);
	expect_name(2000, 1, 10, "成人の日");
	expect_name(1999, 10, 10, "体育の日");
	expect_name(1999, 10, 11, "振替休日");
	expect_name(2000, 10, 10, NULL);
	expect_name(2000, 10, 9, "体育の日");
	expect_name(2002, 9, 15, "敬老の日");
	expect_name(2002, 9, 16, "振替休日");
	expect_name(2003, 7, 20, NULL);
	expect_name(2003, 7, 21, "海の日");
	expect_name(2003, 9, 15, "敬老の日");
	expect_name(2004, 9, 15, NULL);
	expect_name(2004, 9, 20, "敬老の日");
	expect_name(2019, 10, 14, "体育の日");
	expect_name(2022, 10, 10, "スポーツの日");
	/* the first substitute holiday, and the 2007 rule that reaches past 5/5 */
	expect_name(1973, 2, 11, "建国記念の日"); /* a Sunday, before the 1973-04-12 rule */
	expect_name(1973, 2, 12, NULL);
	expect_name(1973, 4, 29, "天皇誕生日");
	expect_name(1973, 4, 30, "振替休日");
	expect_name(2008, 5, 4, "みどりの日"); /* Sunday */
	expect_name(2008, 5, 5, "こどもの日");
	expect_name(2008, 5, 6, "振替休日");
	expect_name(2007, 4, 30, "振替休日");
	/* 国民の休日: the first one in 1988, Sundays and substitute days excluded before 2007 */
	expect_name(1986, 5, 4, NULL); /* Sunday */
	expect_name(1987, 5, 4, "振替休日");
	expect_name(1988, 5, 4, "国民の休日");
	expect_name(2006, 5, 4, "国民の休日");
	expect_name(2009, 9, 22, "国民の休日");
	expect_name(2015, 9, 22, "国民の休日");
	expect_name(2032, 9, 21, "国民の休日");
	/* out of range and invalid dates */
	expect_name(1800, 1, 1, NULL);
	expect_name(10000, 1, 1, NULL);
	expect_name(2026, 2, 30, NULL);
	expect_name(2026, 13, 1, NULL);
	expect_name(2026, 0, 1, NULL);
}
END_TEST

START_TEST(test_equinoxes)
{
	/* published dates (国立天文台 暦要項 / 内閣府) */
	static const struct {
		int year, spring, autumn;
	} known[] = {
		{ 1948, 21, 23 }, { 1960, 20, 23 }, { 1975, 21, 24 }, { 1976, 20, 23 },
		{ 1979, 21, 24 }, { 1980, 20, 23 }, { 1992, 20, 23 }, { 1999, 21, 23 },
		{ 2000, 20, 23 }, { 2010, 21, 23 }, { 2012, 20, 22 }, { 2016, 20, 22 },
		{ 2019, 21, 23 }, { 2020, 20, 22 }, { 2021, 20, 23 }, { 2023, 21, 23 },
		{ 2024, 20, 22 }, { 2025, 20, 23 }, { 2026, 20, 23 }, { 2027, 21, 23 },
	};
	for (size_t i = 0; i < YB_ARRAY_LEN(known); i++) {
		int y = known[i].year;
		ck_assert_msg(jp_equinox_day(y, 3) == known[i].spring, "spring %d: %d", y,
			      jp_equinox_day(y, 3));
		ck_assert_msg(jp_equinox_day(y, 9) == known[i].autumn, "autumn %d: %d", y,
			      jp_equinox_day(y, 9));
		if (y >= 1949)
			expect_name(y, 3, known[i].spring, "春分の日");
		expect_name(y, 9, known[i].autumn, "秋分の日");
	}
	expect_name(1948, 3, 21, NULL); /* before the law */
	/* the drift the Gregorian leap years leave: 9/24 every fourth year until 1979 and not again
	 * before 2103; the first 3/19 in 2092 */
	ck_assert_int_eq(jp_equinox_day(1951, 9), 24);
	ck_assert_int_eq(jp_equinox_day(1983, 9), 23);
	ck_assert_int_eq(jp_equinox_day(2092, 3), 19);
	ck_assert_int_eq(jp_equinox_day(2103, 9), 24);
	for (int y = 1948; y <= 2150; y++) {
		int s = jp_equinox_day(y, 3), a = jp_equinox_day(y, 9);
		ck_assert_msg(s >= 19 && s <= 21, "spring %d: %d", y, s);
		ck_assert_msg(a >= 22 && a <= 24, "autumn %d: %d", y, a);
		ck_assert_msg(a != 24 || y <= 1979 || y >= 2103, "autumn %d: %d", y, a);
	}
	ck_assert_int_eq(jp_equinox_day(2026, 6), YB_EINVAL);
	ck_assert_int_eq(jp_equinox_day(1800, 3), YB_ERANGE);
}
END_TEST

static bool is_named(const char *name)
{
	return name && strcmp(name, "振替休日") && strcmp(name, "国民の休日");
}

static const char *name_of_days(int64_t days)
{
	int y, m, d;
	yb_civil_from_days(days, &y, &m, &d);
	return jp_holiday_name(y, m, d);
}

static int wday_of_days(int64_t days)
{
	int y, m, d;
	yb_civil_from_days(days, &y, &m, &d);
	return yb_weekday(y, m, d);
}

START_TEST(test_substitute_rule)
{
	int64_t rule_1973 = yb_days_from_civil(1973, 4, 12);
	int64_t rule_2007 = yb_days_from_civil(2007, 1, 1);
	int64_t end = yb_days_from_civil(2050, 12, 31);
	int sunday_holidays = 0, substitutes = 0;
	for (int64_t t = yb_days_from_civil(1948, 7, 20); t <= end; t++) {
		int y, m, d;
		yb_civil_from_days(t, &y, &m, &d);
		const char *name = jp_holiday_name(y, m, d);
		if (name && !strcmp(name, "振替休日")) {
			substitutes++;
			ck_assert_msg(t >= rule_1973, "%d-%02d-%02d: substitute before 1973", y, m, d);
			/* walk back over national holidays: a Sunday one must start the run */
			int64_t back = t - 1;
			while (is_named(name_of_days(back)) && wday_of_days(back) != 0)
				back--;
			ck_assert_msg(is_named(name_of_days(back)) && wday_of_days(back) == 0,
				      "%d-%02d-%02d: substitute without a Sunday holiday", y, m, d);
			if (t < rule_2007)
				ck_assert_msg(back == t - 1 && yb_weekday(y, m, d) == 1,
					      "%d-%02d-%02d: 1973 rule substitutes only the Monday", y, m,
					      d);
		}
		if (!is_named(name) || yb_weekday(y, m, d) != 0)
			continue;
		sunday_holidays++;
		int64_t next = t + 1;
		if (t < rule_1973) {
			ck_assert_msg(!name_of_days(next) || is_named(name_of_days(next)),
				      "%d-%02d-%02d: a Sunday holiday before 1973 has no substitute", y,
				      m, d);
			continue;
		}
		while (is_named(name_of_days(next)))
			next++;
		if (t < rule_2007 && next != t + 1)
			continue; /* the Monday was itself a holiday: nothing to move under 1973 rules */
		const char *sub = name_of_days(next);
		ck_assert_msg(sub && !strcmp(sub, "振替休日"), "%d-%02d-%02d (%s): no 振替休日 after it",
			      y, m, d, name);
	}
	ck_assert_int_gt(sunday_holidays, 100);
	ck_assert_int_gt(substitutes, 80);
	/* before the rule Sundays holidays existed and had no substitute */
	int before = 0;
	for (int64_t t = yb_days_from_civil(1948, 7, 20); t < rule_1973; t++)
		if (is_named(name_of_days(t)) && wday_of_days(t) == 0)
			before++;
	ck_assert_int_gt(before, 10);
}
END_TEST

START_TEST(test_sandwich_rule)
{
	int64_t rule_1985 = yb_days_from_civil(1985, 12, 27);
	int64_t rule_2007 = yb_days_from_civil(2007, 1, 1);
	int sandwiches = 0;
	for (int64_t t = yb_days_from_civil(1948, 7, 21); t <= yb_days_from_civil(2050, 12, 30); t++) {
		int y, m, d;
		yb_civil_from_days(t, &y, &m, &d);
		const char *name = jp_holiday_name(y, m, d);
		bool between = is_named(name_of_days(t - 1)) && is_named(name_of_days(t + 1));
		if (name && !strcmp(name, "国民の休日")) {
			sandwiches++;
			ck_assert_msg(t >= rule_1985 && between,
				      "%d-%02d-%02d: 国民の休日 not between two holidays", y, m, d);
			if (t < rule_2007)
				ck_assert_int_ne(yb_weekday(y, m, d), 0);
		}
		if (between && t >= rule_1985 && (t >= rule_2007 || yb_weekday(y, m, d) != 0))
			ck_assert_msg(name != NULL, "%d-%02d-%02d: weekday between two holidays left open",
				      y, m, d);
		if (between && t < rule_1985 && !is_named(name))
			ck_assert_msg(!name || !strcmp(name, "振替休日"),
				      "%d-%02d-%02d: sandwich before 1985", y, m, d);
	}
	ck_assert_int_gt(sandwiches, 20);
}
END_TEST

/* The city calendar of docs/runbook-format.md: weekends, national holidays, New Year. */
static void make_city(struct calendar *cal)
{
	static struct cal_yearly new_year = { 12, 29, 1, 3 };
	cal_init(cal, "city");
	cal->base_jp = true;
	cal->closed_weekdays = (1u << 0) | (1u << 6);
	cal->closed_yearly = xmalloc(sizeof(new_year));
	cal->closed_yearly[0] = new_year;
	cal->n_closed_yearly = 1;
	cal_add_closed(cal, 2026, 8, 14);
}

static void expect_open(const struct calendar *cal, int y, int m, int d, const char *why)
{
	const char *got = "(untouched)";
	bool open = cal_is_open(cal, y, m, d, &got);
	if (!why) {
		ck_assert_msg(open, "%d-%02d-%02d: expected open, closed for %s", y, m, d, got);
		ck_assert_str_eq(got, "(untouched)");
	} else {
		ck_assert_msg(!open, "%d-%02d-%02d: expected closed (%s)", y, m, d, why);
		ck_assert_str_eq(got, why);
	}
}

START_TEST(test_site_calendar)
{
	struct calendar city;
	make_city(&city);
	expect_open(&city, 2026, 12, 28, NULL);
	expect_open(&city, 2026, 12, 29, "年末年始");
	expect_open(&city, 2026, 12, 31, "年末年始");
	expect_open(&city, 2027, 1, 1, "元日"); /* the holiday's name wins over the range */
	expect_open(&city, 2027, 1, 2, "年末年始");
	expect_open(&city, 2027, 1, 3, "年末年始");
	expect_open(&city, 2027, 1, 4, NULL);
	expect_open(&city, 2026, 8, 14, "閉庁日");
	expect_open(&city, 2026, 8, 13, NULL);
	expect_open(&city, 2026, 5, 3, "憲法記念日");
	expect_open(&city, 2026, 6, 6, "土曜日");
	expect_open(&city, 2026, 6, 7, "日曜日");
	expect_open(&city, 2026, 6, 8, NULL);
	/* explicit open days win over weekday, range, holiday and listed date */
	cal_add_open(&city, 2026, 6, 14);
	cal_add_open(&city, 2027, 1, 2);
	cal_add_open(&city, 2026, 11, 3);
	cal_add_open(&city, 2026, 8, 14);
	expect_open(&city, 2026, 6, 14, NULL);
	expect_open(&city, 2027, 1, 2, NULL);
	expect_open(&city, 2026, 11, 3, NULL);
	expect_open(&city, 2026, 8, 14, NULL);
	expect_open(&city, 2026, 6, 21, "日曜日");
	cal_release(&city);

	/* a range inside the year has its own reason */
	struct calendar obon;
	struct cal_yearly r = { 8, 13, 8, 15 };
	cal_init(&obon, "obon");
	obon.closed_yearly = &r;
	obon.n_closed_yearly = 1;
	expect_open(&obon, 2026, 8, 12, NULL);
	expect_open(&obon, 2026, 8, 13, "閉庁期間");
	expect_open(&obon, 2026, 8, 15, "閉庁期間");
	expect_open(&obon, 2026, 8, 16, NULL);
	expect_open(&obon, 2026, 5, 3, NULL); /* base is not jp */
	obon.closed_yearly = NULL;
	cal_release(&obon);

	/* no calendar: every day open; the built-in jp closes holidays only */
	expect_open(NULL, 2026, 1, 1, NULL);
	const struct calendar *jp = cal_builtin("jp");
	ck_assert_ptr_nonnull(jp);
	ck_assert_str_eq(jp->name, "jp");
	expect_open(jp, 2026, 1, 1, "元日");
	expect_open(jp, 2026, 6, 6, NULL);
	expect_open(jp, 2026, 12, 29, NULL);
	ck_assert_ptr_null(cal_builtin("city"));
	ck_assert_ptr_null(cal_builtin(NULL));
}
END_TEST

START_TEST(test_add_dates_sorted)
{
	struct calendar cal;
	cal_init(&cal, "x");
	cal_add_closed(&cal, 2026, 3, 1);
	cal_add_closed(&cal, 2025, 3, 1);
	cal_add_closed(&cal, 2026, 3, 1);
	cal_add_closed(&cal, 2026, 1, 1);
	ck_assert_uint_eq(cal.n_closed, 3);
	ck_assert(cal.closed[0] == yb_days_from_civil(2025, 3, 1));
	ck_assert(cal.closed[1] == yb_days_from_civil(2026, 1, 1));
	ck_assert(cal.closed[2] == yb_days_from_civil(2026, 3, 1));
	cal_release(&cal);
}
END_TEST

static int stop_at_third(int y, int m, int d, const char *why, void *ctx)
{
	int *n = ctx;
	return ++*n == 3 ? 42 : 0;
}

START_TEST(test_each_closed_day)
{
	struct calendar city;
	make_city(&city);
	int n = 0;
	ck_assert_int_eq(cal_each_closed_day(&city, 2026, count_cb, &n), 0);
	/* 104 weekend days, 18 holidays of which one (5/3) on a Sunday, 8/14, 12/29-31, and
	 * 1/2 (Fri); 1/3 is a Saturday already counted */
	ck_assert_int_eq(n, 104 + 17 + 1 + 3 + 1);
	n = 0;
	ck_assert_int_eq(cal_each_closed_day(&city, 2026, stop_at_third, &n), 42);
	ck_assert_int_eq(n, 3);
	cal_release(&city);
}
END_TEST

START_TEST(test_nth_open_day)
{
	struct calendar city;
	int day;
	make_city(&city);
	/* May 2026: 5/1 Fri open, 5/2-5/6 weekend and Golden Week, 5/7 Thu, 5/8 Fri */
	ck_assert_int_eq(cal_nth_open_day(&city, 2026, 5, 1, &day), 0);
	ck_assert_int_eq(day, 1);
	ck_assert_int_eq(cal_nth_open_day(&city, 2026, 5, 2, &day), 0);
	ck_assert_int_eq(day, 7);
	ck_assert_int_eq(cal_nth_open_day(&city, 2026, 5, 3, &day), 0);
	ck_assert_int_eq(day, 8);
	/* 5/31 Sun, 5/30 Sat: the last open day is Friday 5/29 */
	ck_assert_int_eq(cal_nth_open_day(&city, 2026, 5, -1, &day), 0);
	ck_assert_int_eq(day, 29);
	/* December 2026: 12/29-31 closed, 12/28 Mon is last, 12/25 Fri before it */
	ck_assert_int_eq(cal_nth_open_day(&city, 2026, 12, -1, &day), 0);
	ck_assert_int_eq(day, 28);
	ck_assert_int_eq(cal_nth_open_day(&city, 2026, 12, -2, &day), 0);
	ck_assert_int_eq(day, 25);
	/* January 2027: 1/1-1/3 closed, 1/4 Mon first; 1/11 is 成人の日 */
	ck_assert_int_eq(cal_nth_open_day(&city, 2027, 1, 1, &day), 0);
	ck_assert_int_eq(day, 4);
	ck_assert_int_eq(cal_nth_open_day(&city, 2027, 1, 5, &day), 0);
	ck_assert_int_eq(day, 8);
	ck_assert_int_eq(cal_nth_open_day(&city, 2027, 1, 6, &day), 0);
	ck_assert_int_eq(day, 12);
	/* no calendar: the n-th day */
	ck_assert_int_eq(cal_nth_open_day(NULL, 2026, 2, -1, &day), 0);
	ck_assert_int_eq(day, 28);
	/* errors, and the output untouched */
	day = 77;
	ck_assert_int_eq(cal_nth_open_day(&city, 2026, 5, 0, &day), YB_EINVAL);
	ck_assert_int_eq(cal_nth_open_day(&city, 2026, 5, 19, &day), YB_ERANGE);
	ck_assert_int_eq(cal_nth_open_day(&city, 2026, 5, -19, &day), YB_ERANGE);
	ck_assert_int_eq(cal_nth_open_day(&city, 2026, 13, 1, &day), YB_EINVAL);
	ck_assert_int_eq(day, 77);
	/* May 2026 has 18 open days exactly */
	ck_assert_int_eq(cal_nth_open_day(&city, 2026, 5, 18, &day), 0);
	ck_assert_int_eq(day, 29);
	ck_assert_int_eq(cal_nth_open_day(&city, 2026, 5, -18, &day), 0);
	ck_assert_int_eq(day, 1);
	cal_release(&city);
}
END_TEST

START_TEST(test_prev_next_open_day)
{
	struct calendar city;
	int y, m, d;
	make_city(&city);
	ck_assert_int_eq(cal_next_open_day(&city, 2026, 5, 1, &y, &m, &d), 0);
	ck_assert(y == 2026 && m == 5 && d == 7);
	ck_assert_int_eq(cal_prev_open_day(&city, 2026, 5, 7, &y, &m, &d), 0);
	ck_assert(y == 2026 && m == 5 && d == 1);
	ck_assert_int_eq(cal_next_open_day(&city, 2026, 12, 28, &y, &m, &d), 0);
	ck_assert(y == 2027 && m == 1 && d == 4);
	ck_assert_int_eq(cal_prev_open_day(&city, 2027, 1, 4, &y, &m, &d), 0);
	ck_assert(y == 2026 && m == 12 && d == 28);
	/* strictly after: from an open day to the next one */
	ck_assert_int_eq(cal_next_open_day(&city, 2026, 6, 8, &y, &m, &d), 0);
	ck_assert(y == 2026 && m == 6 && d == 9);
	cal_release(&city);

	struct calendar never;
	cal_init(&never, "never");
	never.closed_weekdays = 0x7f;
	y = m = d = 0;
	ck_assert_int_eq(cal_next_open_day(&never, 2026, 1, 1, &y, &m, &d), YB_ERANGE);
	ck_assert_int_eq(cal_prev_open_day(&never, 2026, 1, 1, &y, &m, &d), YB_ERANGE);
	ck_assert(y == 0 && m == 0 && d == 0);
	int day = 0;
	ck_assert_int_eq(cal_nth_open_day(&never, 2026, 1, 1, &day), YB_ERANGE);
	cal_release(&never);
}
END_TEST

static Suite *calendar_suite(void)
{
	Suite *s = suite_create("calendar");
	TCase *tc = tcase_create("jp");
	tcase_add_test(tc, test_holidays_2019);
	tcase_add_test(tc, test_holidays_2020);
	tcase_add_test(tc, test_holidays_2021);
	tcase_add_test(tc, test_holidays_2026);
	tcase_add_test(tc, test_holidays_1989_2009);
	tcase_add_test(tc, test_history);
	tcase_add_test(tc, test_equinoxes);
	tcase_add_test(tc, test_substitute_rule);
	tcase_add_test(tc, test_sandwich_rule);
	suite_add_tcase(s, tc);
	tc = tcase_create("site");
	tcase_add_test(tc, test_site_calendar);
	tcase_add_test(tc, test_add_dates_sorted);
	tcase_add_test(tc, test_each_closed_day);
	tcase_add_test(tc, test_nth_open_day);
	tcase_add_test(tc, test_prev_next_open_day);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(calendar_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
