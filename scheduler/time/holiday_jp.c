/*
 * holiday_jp.c: Japan's national holidays since the 1948 law (国民の祝日に関する法律, 祝日法,
 * in force 1948-07-20), with the days the law makes rest days on top of them: 振替休日 (art. 3-2)
 * and 国民の休日 (art. 3-3), plus the one-off days set by their own laws.
 *
 * The one idea: a year is computed once, by the rules in the order the law applies them (named
 * days first, then substitutes, then sandwiched days), into a month x day table that is cached
 * for the life of the process; a lookup is then two array reads. The cache is filled with an
 * atomic compare-and-swap, so concurrent first lookups are safe (the loser frees its copy).
 *
 * The equinox days are fixed each February by the Cabinet Office from the National Astronomical
 * Observatory's ephemeris; we use the usual approximation formula (exact for every year the
 * Observatory has published and believed right through 2099; an extrapolation after 2150).
 */
#include "calendar.h"
#include "civil.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define JP_FIRST_YEAR 1948
#define JP_LAST_YEAR 9999

enum jp_kind {
	JP_NONE = 0,
	JP_NAMED,      /* a 国民の祝日 of article 2, or a one-off day treated as one */
	JP_SUBSTITUTE, /* 振替休日 */
	JP_SANDWICH,   /* 国民の休日 */
};

struct jp_year {
	const char *name[12][31];
	unsigned char kind[12][31];
};

static struct jp_year *_Atomic jp_cache[JP_LAST_YEAR - JP_FIRST_YEAR + 1];

/* The n-th Monday of the month (Happy Monday rules). */
static int nth_monday(int year, int month, int n)
{
	int wday_first = yb_weekday(year, month, 1);
	return 1 + (1 - wday_first + 7) % 7 + 7 * (n - 1);
}

/* floor(c + 0.242194 (y - 1980) - q), computed in millionths of a day so that no rounding of
 * binary floating point can move a day; q is int((y - 1983) / 4) before 1980 (C division
 * truncates toward zero, as the formula means) and (y - 1980) / 4 from 1980 on. */
static int equinox_day(int year, long long c_1980_2099, long long c_1900_1979, long long c_2100)
{
	long long c, q;
	if (year <= 1979) {
		c = c_1900_1979;
		q = (year - 1983) / 4;
	} else {
		c = year <= 2099 ? c_1980_2099 : c_2100;
		q = (year - 1980) / 4;
	}
	return (int)((c + 242194LL * (year - 1980) - q * 1000000LL) / 1000000LL);
}

static int vernal_equinox_day(int year)
{
	return equinox_day(year, 20843100, 20835700, 21851000);
}

static int autumnal_equinox_day(int year)
{
	return equinox_day(year, 23248800, 23258800, 24248800);
}

static void put(struct jp_year *t, int month, int day, const char *name, enum jp_kind kind)
{
	t->name[month - 1][day - 1] = name;
	t->kind[month - 1][day - 1] = (unsigned char)kind;
}

/* Article 2 days (and the one-off days) of the year. The law took effect on 1948-07-20, so
 * 1948 has only the days after that. */
static void put_named(struct jp_year *t, int y)
{
	if (y >= 1949) {
		put(t, 1, 1, "元日", JP_NAMED);
		put(t, 1, y < 2000 ? 15 : nth_monday(y, 1, 2), "成人の日", JP_NAMED);
		put(t, 3, vernal_equinox_day(y), "春分の日", JP_NAMED);
		put(t, 5, 3, "憲法記念日", JP_NAMED);
		put(t, 5, 5, "こどもの日", JP_NAMED);
	}
	if (y >= 1967)
		put(t, 2, 11, "建国記念の日", JP_NAMED);
	if (y >= 1949 && y <= 1988)
		put(t, 4, 29, "天皇誕生日", JP_NAMED);
	else if (y >= 1989 && y <= 2018)
		put(t, 12, 23, "天皇誕生日", JP_NAMED);
	else if (y >= 2020)
		put(t, 2, 23, "天皇誕生日", JP_NAMED);
	if (y >= 1989 && y <= 2006)
		put(t, 4, 29, "みどりの日", JP_NAMED);
	if (y >= 2007) {
		put(t, 4, 29, "昭和の日", JP_NAMED);
		put(t, 5, 4, "みどりの日", JP_NAMED);
	}
	/* 海の日, 山の日 and スポーツの日 moved for the Tokyo Olympics (special measures act). */
	if (y == 2020)
		put(t, 7, 23, "海の日", JP_NAMED);
	else if (y == 2021)
		put(t, 7, 22, "海の日", JP_NAMED);
	else if (y >= 2003)
		put(t, 7, nth_monday(y, 7, 3), "海の日", JP_NAMED);
	else if (y >= 1996)
		put(t, 7, 20, "海の日", JP_NAMED);
	if (y == 2020)
		put(t, 8, 10, "山の日", JP_NAMED);
	else if (y == 2021)
		put(t, 8, 8, "山の日", JP_NAMED);
	else if (y >= 2016)
		put(t, 8, 11, "山の日", JP_NAMED);
	if (y >= 2003)
		put(t, 9, nth_monday(y, 9, 3), "敬老の日", JP_NAMED);
	else if (y >= 1966)
		put(t, 9, 15, "敬老の日", JP_NAMED);
	put(t, 9, autumnal_equinox_day(y), "秋分の日", JP_NAMED);
	if (y == 2020)
		put(t, 7, 24, "スポーツの日", JP_NAMED);
	else if (y == 2021)
		put(t, 7, 23, "スポーツの日", JP_NAMED);
	else if (y >= 2022)
		put(t, 10, nth_monday(y, 10, 2), "スポーツの日", JP_NAMED);
	else if (y >= 2000)
		put(t, 10, nth_monday(y, 10, 2), "体育の日", JP_NAMED);
	else if (y >= 1966)
		put(t, 10, 10, "体育の日", JP_NAMED);
	put(t, 11, 3, "文化の日", JP_NAMED);
	put(t, 11, 23, "勤労感謝の日", JP_NAMED);

	/* One-off rest days, each by its own law. The 2019 law deems its two days national holidays
	 * for article 3-3, which made 4/30 and 5/2 of 2019 国民の休日 (the sandwich rule below
	 * finds them). The others never fell next to a Sunday or between two holidays. */
	if (y == 1959)
		put(t, 4, 10, "皇太子明仁親王の結婚の儀", JP_NAMED);
	if (y == 1989)
		put(t, 2, 24, "昭和天皇の大喪の礼", JP_NAMED);
	if (y == 1990)
		put(t, 11, 12, "即位礼正殿の儀", JP_NAMED);
	if (y == 1993)
		put(t, 6, 9, "皇太子徳仁親王の結婚の儀", JP_NAMED);
	if (y == 2019) {
		put(t, 5, 1, "天皇の即位の日", JP_NAMED);
		put(t, 10, 22, "即位礼正殿の儀", JP_NAMED);
	}
}

/* Day-of-year walking helpers over the table (index 0 = January 1st). */
static int doy_kind(const struct jp_year *t, int y, int doy, int *month, int *day)
{
	int m = 1;
	while (m <= 12 && doy >= yb_days_in_month(y, m)) {
		doy -= yb_days_in_month(y, m);
		m++;
	}
	if (m > 12)
		return -1;
	if (month)
		*month = m;
	if (day)
		*day = doy + 1;
	return t->kind[m - 1][doy];
}

static struct jp_year *jp_compute(int y)
{
	struct jp_year *t = xcalloc(1, sizeof(*t));
	int n_days = yb_is_leap(y) ? 366 : 365;
	int64_t jan1 = yb_days_from_civil(y, 1, 1);
	int64_t sub_1973 = yb_days_from_civil(1973, 4, 12);
	int64_t sandwich_1985 = yb_days_from_civil(1985, 12, 27);

	put_named(t, y);

	/* Article 3-2, 振替休日. 1973-04-12 to 2006: a national holiday on a Sunday makes the
	 * Monday a rest day. From 2007: the first following day that is not a national holiday.
	 * No holiday is on December 31st, so the substitute never leaves the year. */
	for (int doy = 0; doy < n_days; doy++) {
		int m, d;
		if (doy_kind(t, y, doy, &m, &d) != JP_NAMED || jan1 + doy < sub_1973 ||
		    yb_weekday(y, m, d) != 0)
			continue;
		int next = doy + 1;
		if (y >= 2007) {
			while (next < n_days && doy_kind(t, y, next, NULL, NULL) == JP_NAMED)
				next++;
		} else if (next < n_days && doy_kind(t, y, next, NULL, NULL) == JP_NAMED) {
			continue;
		}
		if (next < n_days && doy_kind(t, y, next, &m, &d) == JP_NONE)
			put(t, m, d, "振替休日", JP_SUBSTITUTE);
	}

	/* Article 3-3, 国民の休日: from 1985-12-27, a day whose day before and day after are both
	 * national holidays. Until 2006 the law left out Sundays and substitute days; from 2007 it
	 * leaves out only national holidays (a substitute day keeps its name here). January 1st and
	 * December 31st cannot be sandwiched within the year, and no rule sandwiches across it. */
	for (int doy = 1; doy + 1 < n_days; doy++) {
		int m, d;
		if (jan1 + doy < sandwich_1985 || doy_kind(t, y, doy, &m, &d) != JP_NONE)
			continue;
		if (doy_kind(t, y, doy - 1, NULL, NULL) != JP_NAMED ||
		    doy_kind(t, y, doy + 1, NULL, NULL) != JP_NAMED)
			continue;
		if (y < 2007 && yb_weekday(y, m, d) == 0)
			continue;
		put(t, m, d, "国民の休日", JP_SANDWICH);
	}

	/* The law's first half-year: nothing before 1948-07-20 (put_named adds none). */
	return t;
}

static const struct jp_year *jp_year_table(int year)
{
	if (year < JP_FIRST_YEAR || year > JP_LAST_YEAR)
		return NULL;
	struct jp_year *_Atomic *slot = &jp_cache[year - JP_FIRST_YEAR];
	struct jp_year *t = atomic_load_explicit(slot, memory_order_acquire);
	if (t)
		return t;
	struct jp_year *fresh = jp_compute(year);
	struct jp_year *expected = NULL;
	if (atomic_compare_exchange_strong_explicit(slot, &expected, fresh, memory_order_acq_rel,
						    memory_order_acquire))
		return fresh;
	free(fresh);
	return expected;
}

const char *jp_holiday_name(int year, int month, int day)
{
	if (month < 1 || month > 12 || day < 1 || day > 31)
		return NULL;
	const struct jp_year *t = jp_year_table(year);
	if (!t || day > yb_days_in_month(year, month))
		return NULL;
	return t->name[month - 1][day - 1];
}

int jp_equinox_day(int year, int month)
{
	if (year < 1900 || year > JP_LAST_YEAR)
		return YB_ERANGE;
	if (month == 3)
		return vernal_equinox_day(year);
	if (month == 9)
		return autumnal_equinox_day(year);
	return YB_EINVAL;
}
