/*
 * test_cron.c: cron expressions, checked by hand on known cases and against a brute-force
 * reference that walks every minute (or second) instant in UTC, converts it with tz_to_local and
 * applies cron_matches and the DST rules, on thousands of random expressions and instants.
 * The seed is printed on failure; YB_SEED=<n> replays it.
 */
#include "cron.h"

#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t seed;
static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static int rnd_int(int lo, int hi)
{
	return lo + (int)(rnd() % (uint64_t)(hi - lo + 1));
}

static bool chance(int percent)
{
	return rnd_int(1, 100) <= percent;
}

static void seed_rng(void)
{
	const char *env = getenv("YB_SEED");
	seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL) * 2654435761u;
	rng_state = seed ? seed : 1;
}

static const struct tz *zone(const char *name)
{
	const struct tz *z;
	struct yb_err err;
	int rc = tz_load(name, &z, &err);
	ck_assert_msg(rc == 0, "tz_load(%s): %s", name, err.msg);
	return z;
}

static struct cron_expr *parse_ok(const char *text, const char *key)
{
	struct cron_expr *e = NULL;
	struct yb_err err;
	int col = -1;
	int rc = cron_parse(text, key, &e, &col, &err);
	ck_assert_msg(rc == 0, "cron_parse('%s') failed at column %d: %s", text, col, err.msg);
	return e;
}

static int64_t iso(const char *text, const struct tz *z)
{
	int64_t t;
	struct yb_err err;
	int rc = tz_parse_iso(text, z, &t, &err);
	ck_assert_msg(rc == 0, "tz_parse_iso('%s'): %s", text, err.msg);
	return t;
}

/* The next n fires after `from`, formatted in the zone, space separated. */
static void next_n(const char *expr, const char *key, const char *zname, const char *from, int n,
		   char *out, size_t out_size)
{
	const struct tz *z = zone(zname);
	struct cron_expr *e = parse_ok(expr, key);
	int64_t t = iso(from, z);
	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		char buf[64];
		int rc = cron_next(e, z, t, &t);
		ck_assert_msg(rc == 0, "cron_next('%s') after %s: %d", expr, from, rc);
		tz_format_iso(z, t, buf, sizeof(buf));
		if (i)
			strncat(out, " ", out_size - strlen(out) - 1);
		strncat(out, buf, out_size - strlen(out) - 1);
	}
	cron_free(e);
}

static void prev_n(const char *expr, const char *key, const char *zname, const char *from, int n,
		   char *out, size_t out_size)
{
	const struct tz *z = zone(zname);
	struct cron_expr *e = parse_ok(expr, key);
	int64_t t = iso(from, z);
	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		char buf[64];
		int rc = cron_prev(e, z, t, &t);
		ck_assert_msg(rc == 0, "cron_prev('%s') before %s: %d", expr, from, rc);
		tz_format_iso(z, t, buf, sizeof(buf));
		if (i)
			strncat(out, " ", out_size - strlen(out) - 1);
		strncat(out, buf, out_size - strlen(out) - 1);
	}
	cron_free(e);
}

#define CHECK_NEXT(expr, zname, from, n, want)                                                   \
	do {                                                                                     \
		char got_[2048];                                                                 \
		next_n(expr, NULL, zname, from, n, got_, sizeof(got_));                          \
		ck_assert_msg(strcmp(got_, want) == 0, "'%s' after %s in %s:\n got  %s\n want %s", \
			      expr, from, zname, got_, want);                                     \
	} while (0)

#define CHECK_PREV(expr, zname, from, n, want)                                                   \
	do {                                                                                     \
		char got_[2048];                                                                 \
		prev_n(expr, NULL, zname, from, n, got_, sizeof(got_));                          \
		ck_assert_msg(strcmp(got_, want) == 0, "'%s' before %s in %s:\n got  %s\n want %s", \
			      expr, from, zname, got_, want);                                     \
	} while (0)

/* ---- known cases ---------------------------------------------------------------------------- */

START_TEST(test_basic_fields)
{
	CHECK_NEXT("30 1 * * *", "Asia/Tokyo", "2026-01-12T09:00:00+09:00", 2,
		   "2026-01-13T01:30:00+09:00 2026-01-14T01:30:00+09:00");
	CHECK_NEXT("*/15 9-10 * * *", "UTC", "2026-01-12T09:40:00Z", 4,
		   "2026-01-12T09:45:00+00:00 2026-01-12T10:00:00+00:00 2026-01-12T10:15:00+00:00 "
		   "2026-01-12T10:30:00+00:00");
	CHECK_NEXT("5,10-12/2 0 1 1,jul *", "UTC", "2026-01-01T00:05:00Z", 3,
		   "2026-01-01T00:10:00+00:00 2026-01-01T00:12:00+00:00 2026-07-01T00:05:00+00:00");
	/* a/n runs from a to the end of the field */
	CHECK_NEXT("50/4 0 * * *", "UTC", "2026-01-01T00:00:00Z", 3,
		   "2026-01-01T00:50:00+00:00 2026-01-01T00:54:00+00:00 2026-01-01T00:58:00+00:00");
	/* strictly after: a fire exactly at `after` is not returned */
	CHECK_NEXT("0 0 * * *", "UTC", "2026-01-01T00:00:00Z", 1, "2026-01-02T00:00:00+00:00");
	CHECK_PREV("0 0 * * *", "UTC", "2026-01-02T00:00:00Z", 1, "2026-01-01T00:00:00+00:00");
	/* names are case-insensitive */
	CHECK_NEXT("0 0 1 JAN-Mar MON-fri", "UTC", "2026-01-01T00:00:00Z", 3,
		   "2026-01-02T00:00:00+00:00 2026-01-05T00:00:00+00:00 2026-01-06T00:00:00+00:00");
}
END_TEST

START_TEST(test_sunday_as_seven_and_ranges)
{
	/* 2026-01-04 is a Sunday */
	CHECK_NEXT("0 0 * * 7", "UTC", "2026-01-01T00:00:00Z", 2,
		   "2026-01-04T00:00:00+00:00 2026-01-11T00:00:00+00:00");
	CHECK_NEXT("0 0 * * 0", "UTC", "2026-01-01T00:00:00Z", 1, "2026-01-04T00:00:00+00:00");
	CHECK_NEXT("0 0 * * sun", "UTC", "2026-01-01T00:00:00Z", 1, "2026-01-04T00:00:00+00:00");
	/* 5-7 is Friday, Saturday, Sunday; fri-sun too */
	CHECK_NEXT("0 0 * * 5-7", "UTC", "2026-01-05T00:00:00Z", 3,
		   "2026-01-09T00:00:00+00:00 2026-01-10T00:00:00+00:00 2026-01-11T00:00:00+00:00");
	CHECK_NEXT("0 0 * * fri-sun", "UTC", "2026-01-05T00:00:00Z", 3,
		   "2026-01-09T00:00:00+00:00 2026-01-10T00:00:00+00:00 2026-01-11T00:00:00+00:00");
}
END_TEST

START_TEST(test_nth_weekday)
{
	/* second Monday: 2026-01-12, 2026-02-09, 2026-03-09 */
	CHECK_NEXT("0 9 * * mon#2", "Asia/Tokyo", "2026-01-01T00:00:00+09:00", 3,
		   "2026-01-12T09:00:00+09:00 2026-02-09T09:00:00+09:00 2026-03-09T09:00:00+09:00");
	CHECK_PREV("0 9 * * mon#2", "Asia/Tokyo", "2026-01-12T09:00:00+09:00", 1,
		   "2025-12-08T09:00:00+09:00");
	/* fifth Friday happens only in some months: 2026-01-30, 2026-05-29, 2026-07-31 */
	CHECK_NEXT("0 0 * * 5#5", "UTC", "2026-01-01T00:00:00Z", 3,
		   "2026-01-30T00:00:00+00:00 2026-05-29T00:00:00+00:00 2026-07-31T00:00:00+00:00");
	/* a list of nth forms */
	CHECK_NEXT("0 0 * * sun#1,sun#3", "UTC", "2026-02-01T00:00:00Z", 2,
		   "2026-02-15T00:00:00+00:00 2026-03-01T00:00:00+00:00");
}
END_TEST

START_TEST(test_last_day_and_last_weekday)
{
	CHECK_NEXT("0 0 L * *", "UTC", "2026-01-01T00:00:00Z", 4,
		   "2026-01-31T00:00:00+00:00 2026-02-28T00:00:00+00:00 2026-03-31T00:00:00+00:00 "
		   "2026-04-30T00:00:00+00:00");
	CHECK_NEXT("0 0 L 2 *", "UTC", "2027-03-01T00:00:00Z", 2,
		   "2028-02-29T00:00:00+00:00 2029-02-28T00:00:00+00:00");
	/* last Friday: 2026-01-30, 2026-02-27, 2026-03-27 */
	CHECK_NEXT("0 0 * * 5L", "UTC", "2026-01-01T00:00:00Z", 3,
		   "2026-01-30T00:00:00+00:00 2026-02-27T00:00:00+00:00 2026-03-27T00:00:00+00:00");
	CHECK_NEXT("0 0 * * friL", "UTC", "2026-01-01T00:00:00Z", 1, "2026-01-30T00:00:00+00:00");
	/* croniter writes it the other way round */
	CHECK_NEXT("0 0 * * L5", "UTC", "2026-01-01T00:00:00Z", 1, "2026-01-30T00:00:00+00:00");
	CHECK_NEXT("0 0 * * l5,L1", "UTC", "2026-01-12T09:00:00Z", 3,
		   "2026-01-26T00:00:00+00:00 2026-01-30T00:00:00+00:00 2026-02-23T00:00:00+00:00");
	/* LW: last weekday of the month; 2026-01-31 is a Saturday, 2026-05-31 a Sunday */
	CHECK_NEXT("0 0 LW 1,5 *", "UTC", "2026-01-01T00:00:00Z", 2,
		   "2026-01-30T00:00:00+00:00 2026-05-29T00:00:00+00:00");
}
END_TEST

START_TEST(test_nearest_weekday)
{
	/* 15W: 2026-02-15 is a Sunday -> Monday 16th; 2026-08-15 is a Saturday -> Friday 14th;
	 * 2026-01-15 is a Thursday -> 15th */
	CHECK_NEXT("0 0 15W 1,2,8 *", "UTC", "2026-01-01T00:00:00Z", 3,
		   "2026-01-15T00:00:00+00:00 2026-02-16T00:00:00+00:00 2026-08-14T00:00:00+00:00");
	/* 1W when the 1st is a Saturday (2026-08-01) moves forward to Monday the 3rd, never back
	 * into July; when the 1st is a Sunday (2026-02-01) to Monday the 2nd */
	CHECK_NEXT("0 0 1W 2,8 *", "UTC", "2026-01-01T00:00:00Z", 2,
		   "2026-02-02T00:00:00+00:00 2026-08-03T00:00:00+00:00");
	/* 31W when the 31st is a Sunday (2026-05-31) moves back to Friday the 29th */
	CHECK_NEXT("0 0 31W 5 *", "UTC", "2026-01-01T00:00:00Z", 1, "2026-05-29T00:00:00+00:00");
	/* 30W only fires in months that have a 30th */
	CHECK_NEXT("0 0 30W 1-3 *", "UTC", "2026-01-01T00:00:00Z", 2,
		   "2026-01-30T00:00:00+00:00 2026-03-30T00:00:00+00:00");
}
END_TEST

START_TEST(test_or_rule)
{
	/* both restricted: the 13th or any Friday */
	CHECK_NEXT("0 0 13 * fri", "UTC", "2026-01-01T00:00:00Z", 4,
		   "2026-01-02T00:00:00+00:00 2026-01-09T00:00:00+00:00 2026-01-13T00:00:00+00:00 "
		   "2026-01-16T00:00:00+00:00");
	/* only '*' is unrestricted: '*' in day-of-month leaves the weekday alone */
	CHECK_NEXT("0 0 * * fri", "UTC", "2026-01-01T00:00:00Z", 1, "2026-01-02T00:00:00+00:00");
	/* '*'/1 is a restriction (all days), so with a weekday every day matches */
	CHECK_NEXT("0 0 */1 * fri", "UTC", "2026-01-01T00:00:00Z", 2,
		   "2026-01-02T00:00:00+00:00 2026-01-03T00:00:00+00:00");
	/* L or the second Monday */
	CHECK_NEXT("0 0 L * mon#2", "UTC", "2026-01-01T00:00:00Z", 3,
		   "2026-01-12T00:00:00+00:00 2026-01-31T00:00:00+00:00 2026-02-09T00:00:00+00:00");
}
END_TEST

START_TEST(test_seconds_field)
{
	CHECK_NEXT("0 9 * * * 30", "UTC", "2026-01-12T09:00:00Z", 2,
		   "2026-01-12T09:00:30+00:00 2026-01-13T09:00:30+00:00");
	CHECK_NEXT("* * * * * */20", "UTC", "2026-01-12T09:00:10Z", 3,
		   "2026-01-12T09:00:20+00:00 2026-01-12T09:00:40+00:00 2026-01-12T09:01:00+00:00");
	CHECK_PREV("* * * * * */20", "UTC", "2026-01-12T09:00:10Z", 2,
		   "2026-01-12T09:00:00+00:00 2026-01-12T08:59:40+00:00");
	struct cron_expr *e = parse_ok("0 9 * * * 30", NULL);
	ck_assert(cron_has_seconds(e));
	ck_assert_str_eq(cron_text(e), "0 9 * * * 30");
	cron_free(e);
	e = parse_ok("0 9 * * *", NULL);
	ck_assert(!cron_has_seconds(e));
	/* a 5-field expression ignores the seconds of the time it is asked about */
	struct yb_civil c = { 2026, 1, 12, 9, 0, 42, 1 };
	ck_assert(cron_matches(e, &c));
	c.min = 1;
	ck_assert(!cron_matches(e, &c));
	cron_free(e);
}
END_TEST

START_TEST(test_macros)
{
	CHECK_NEXT("@yearly", "UTC", "2026-03-01T00:00:00Z", 1, "2027-01-01T00:00:00+00:00");
	CHECK_NEXT("@annually", "UTC", "2026-03-01T00:00:00Z", 1, "2027-01-01T00:00:00+00:00");
	CHECK_NEXT("@monthly", "UTC", "2026-03-01T00:00:00Z", 1, "2026-04-01T00:00:00+00:00");
	CHECK_NEXT("@weekly", "UTC", "2026-03-01T00:00:00Z", 1, "2026-03-08T00:00:00+00:00");
	CHECK_NEXT("@daily", "UTC", "2026-03-01T00:00:00Z", 1, "2026-03-02T00:00:00+00:00");
	CHECK_NEXT("@midnight", "UTC", "2026-03-01T00:00:00Z", 1, "2026-03-02T00:00:00+00:00");
	CHECK_NEXT(" @HOURLY ", "UTC", "2026-03-01T00:00:00Z", 1, "2026-03-01T01:00:00+00:00");
}
END_TEST

/* The values an expression fires at within one field, found through cron_matches. */
static uint64_t minutes_of(const struct cron_expr *e)
{
	uint64_t bits = 0;
	for (int m = 0; m < 60; m++) {
		struct yb_civil c = { 2026, 1, 1, 0, m, 0, 4 };
		for (c.day = 1; c.day <= 28; c.day++)
			for (c.hour = 0; c.hour < 24; c.hour++)
				if (cron_matches(e, &c))
					bits |= 1ull << m;
	}
	return bits;
}

START_TEST(test_hash)
{
	/* stable: the same key gives the same schedule, here and in any later run */
	struct cron_expr *a = parse_ok("H H * * *", "nightly-resident-batch");
	struct cron_expr *b = parse_ok("H H * * *", "nightly-resident-batch");
	const struct tz *utc = tz_utc();
	int64_t ta, tb;
	ck_assert_int_eq(cron_next(a, utc, 0, &ta), 0);
	ck_assert_int_eq(cron_next(b, utc, 0, &tb), 0);
	ck_assert_int_eq(ta, tb);
	/* crc32("nightly-resident-batch") = 0xf0f8b2bb decides it: minute crc % 60 = 43, hour
	 * (crc >> 1) % 24 = 21, as croniter computes with hash_id set to the same name. Pinned, so
	 * that a change which would move every deployed runbook is noticed. */
	struct yb_civil c;
	tz_to_local(utc, ta, &c, NULL);
	ck_assert_int_eq(c.hour, 21);
	ck_assert_int_eq(c.min, 43);
	cron_free(b);
	/* spread: 200 runbook names land on many different minutes and hours */
	uint64_t seen_min = 0;
	uint32_t seen_hour = 0;
	for (int i = 0; i < 200; i++) {
		char key[32];
		snprintf(key, sizeof(key), "runbook-%d", i);
		struct cron_expr *e = parse_ok("H H * * *", key);
		int64_t t;
		ck_assert_int_eq(cron_next(e, utc, 0, &t), 0);
		tz_to_local(utc, t, &c, NULL);
		seen_min |= 1ull << c.min;
		seen_hour |= 1u << c.hour;
		cron_free(e);
		/* H(a-b) stays within a-b; H/n fires every n */
		char text[64];
		snprintf(text, sizeof(text), "H(10-19) H(2-4) H * *");
		e = parse_ok(text, key);
		uint64_t mins = minutes_of(e);
		ck_assert_int_eq(__builtin_popcountll(mins), 1);
		ck_assert(mins >= 1ull << 10 && mins <= 1ull << 19);
		int64_t t2;
		ck_assert_int_eq(cron_next(e, utc, 0, &t2), 0);
		tz_to_local(utc, t2, &c, NULL);
		ck_assert(c.hour >= 2 && c.hour <= 4);
		ck_assert(c.day >= 1 && c.day <= 28); /* H in day-of-month fits every month */
		cron_free(e);
		e = parse_ok("H/15 * * * *", key);
		mins = minutes_of(e);
		ck_assert_int_eq(__builtin_popcountll(mins), 4);
		int first = __builtin_ctzll(mins);
		ck_assert(first < 15);
		ck_assert(mins == (1ull << first | 1ull << (first + 15) | 1ull << (first + 30) |
				   1ull << (first + 45)));
		cron_free(e);
		e = parse_ok("H(30-59)/10 * * * *", key);
		mins = minutes_of(e);
		first = __builtin_ctzll(mins);
		ck_assert(first >= 30 && first < 40);
		ck_assert_int_eq(__builtin_popcountll(mins), (59 - first) / 10 + 1);
		cron_free(e);
	}
	ck_assert_int_ge(__builtin_popcountll(seen_min), 40);
	ck_assert_int_ge(__builtin_popcount(seen_hour), 18);
	/* a different key gives (almost always) a different time; these two do */
	struct cron_expr *o = parse_ok("H H * * *", "monthly-offsite-copy");
	int64_t to;
	ck_assert_int_eq(cron_next(o, utc, 0, &to), 0);
	ck_assert_int_ne(to, ta);
	cron_free(o);
	cron_free(a);
	/* the value is crc32(key) >> field, modulo the range, like croniter */
	a = parse_ok("H * * * *", "abc"); /* crc32("abc") = 0x352441c2 */
	ck_assert_int_eq(minutes_of(a), 1ull << (0x352441c2u % 60));
	cron_free(a);
}
END_TEST

/* ---- rejected input ------------------------------------------------------------------------- */

static void check_rejected(const char *text, int want_col, const char *want_msg)
{
	struct cron_expr *e = (struct cron_expr *)(uintptr_t)0x1;
	struct yb_err err = { 0 };
	int col = -1;
	int rc = cron_parse(text, NULL, &e, &col, &err);
	ck_assert_msg(rc == YB_EINVAL, "'%s' was accepted", text);
	ck_assert_msg(e == (struct cron_expr *)(uintptr_t)0x1, "'%s': output set on failure", text);
	ck_assert_msg(strstr(err.msg, want_msg), "'%s': message '%s' lacks '%s'", text, err.msg,
		      want_msg);
	ck_assert_msg(col == want_col, "'%s': column %d, want %d (%s)", text, col, want_col, err.msg);
}

START_TEST(test_rejected)
{
	check_rejected("0 0 32 * *", 4, "day-of-month field: '32' is out of range 1-31");
	check_rejected("60 * * * *", 0, "minute field: '60' is out of range 0-59");
	check_rejected("0 24 * * *", 2, "hour field: '24' is out of range 0-23");
	check_rejected("0 0 * 13 *", 6, "month field: '13' is out of range 1-12");
	check_rejected("0 0 * 0 *", 6, "month field: '0' is out of range 1-12");
	check_rejected("0 0 * * 8", 8, "day-of-week field: '8' is out of range 0-7");
	check_rejected("0 0 * * * 61", 10, "second field: '61' is out of range 0-59");
	check_rejected("0 0 * * foo", 8, "day-of-week field: 'foo' is not a day of the week");
	check_rejected("0 0 * janu *", 6, "month field: 'janu' is not a month");
	check_rejected("x 0 * * *", 0, "minute field: 'x' is not a number");
	check_rejected("0 0 * *", 0, "expected 5 fields");
	check_rejected("0 0 * * * * * *", 0, "got more than 7");
	check_rejected("", 0, "got 0");
	check_rejected("0 0 30 2 *", 4, "never happens in month '2'");
	check_rejected("0 0 31 4,6 *", 4, "could never fire");
	check_rejected("0 0 30,31 feb *", 4, "could never fire");
	check_rejected("0 0 30W 2 *", 4, "could never fire");
	check_rejected("*/0 * * * *", 0, "step '0' is out of range 1-60");
	check_rejected("*/61 * * * *", 0, "step '61' is out of range 1-60");
	check_rejected("*/ * * * *", 0, "step after '/' must be a number");
	check_rejected("1,,2 * * * *", 0, "empty list item");
	check_rejected("0 0 * * mon#6", 8, "the week after '#' must be 1-5");
	check_rejected("0 0 * * mon#0", 8, "the week after '#' must be 1-5");
	check_rejected("0 0 * * L", 8, "'L' alone is not a day of the week");
	check_rejected("0 0 * * L8", 8, "'8' is out of range 0-7");
	check_rejected("0 0 * * Lx", 8, "'x' is not a day of the week");
	check_rejected("0 0 32W * *", 4, "'32' is out of range 1-31");
	check_rejected("@fortnightly", 0, "unknown macro '@fortnightly'");
	check_rejected("0 H(5-2) * * *", 2, "runs backwards");
	check_rejected("0 H(5-2 * * *", 2, "missing ')'");
	check_rejected("1-2-3 * * * *", 0, "unexpected '-3'");
	check_rejected("99999999999999999999 * * * *", 0, "out of range 0-59");
	/* the column points at the field, even after leading blanks */
	check_rejected("  0 0 32 * *", 6, "day-of-month field");
	/* the cap on length */
	char big[1100];
	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	check_rejected(big, 0, "longer than 1024 bytes");
}
END_TEST

START_TEST(test_accepted_edges)
{
	const char *ok[] = {
		"0 0 29 2 *",      /* only in leap years, but it does happen */
		"0 0 31 * *",       "0 0 L 2 *", "0 0 1-31/2 * *", "0 0 ? * mon", "0 0 * * ?",
		"0 0 * * 0-7",      "0 0 * * mon#5", "0 0 * feb 1#5", /* Feb 2032 has 5 Sundays */
		"0 0 31W 2,3 *",    "0 0 LW * *", "0 0 L,15 * 5L", "0 0 1 1 * 0", "h h h h h",
		"0\t0\t*\t*\t*",
	};
	for (size_t i = 0; i < YB_ARRAY_LEN(ok); i++) {
		struct cron_expr *e = parse_ok(ok[i], "k");
		int64_t t;
		ck_assert_int_eq(cron_next(e, tz_utc(), 0, &t), 0);
		cron_free(e);
	}
	/* Feb with five Mondays: 2016 and 2044 (and every 28 years or so) */
	CHECK_NEXT("0 0 * feb mon#5", "UTC", "2026-01-01T00:00:00Z", 1, "2044-02-29T00:00:00+00:00");
	CHECK_NEXT("0 0 29 2 *", "UTC", "2096-03-01T00:00:00Z", 1, "2104-02-29T00:00:00+00:00");
}
END_TEST

START_TEST(test_range_limits)
{
	struct cron_expr *e = parse_ok("0 0 1 1 *", NULL);
	int64_t t = 123;
	/* nothing after 9999-01-01 before the year 10000 */
	int64_t last = iso("9999-01-01T00:00:00Z", tz_utc());
	ck_assert_int_eq(cron_next(e, tz_utc(), last, &t), YB_ERANGE);
	ck_assert_int_eq(t, 123); /* untouched on failure */
	ck_assert_int_eq(cron_next(e, tz_utc(), INT64_MAX, &t), YB_ERANGE);
	ck_assert_int_eq(cron_prev(e, tz_utc(), INT64_MIN, &t), YB_ERANGE);
	ck_assert_int_eq(cron_prev(e, tz_utc(), INT64_MAX, &t), 0);
	ck_assert_int_eq(t, last);
	ck_assert_int_eq(cron_next(e, tz_utc(), INT64_MIN, &t), 0);
	ck_assert_int_eq(t, iso("0001-01-01T00:00:00Z", tz_utc()));
	cron_free(e);
}
END_TEST

/* ---- DST ------------------------------------------------------------------------------------ */

START_TEST(test_dst_new_york)
{
	/* 2026-03-08 02:00 EST -> 03:00 EDT: 02:30 does not exist and fires once at 03:00 */
	CHECK_NEXT("30 2 * * *", "America/New_York", "2026-03-07T12:00:00-05:00", 3,
		   "2026-03-08T03:00:00-04:00 2026-03-09T02:30:00-04:00 2026-03-10T02:30:00-04:00");
	/* every 15 minutes in the gap: one fire at 03:00, then 03:15 */
	CHECK_NEXT("*/15 2-3 * * *", "America/New_York", "2026-03-08T01:50:00-05:00", 3,
		   "2026-03-08T03:00:00-04:00 2026-03-08T03:15:00-04:00 2026-03-08T03:30:00-04:00");
	CHECK_PREV("*/15 2-3 * * *", "America/New_York", "2026-03-08T03:15:00-04:00", 2,
		   "2026-03-08T03:00:00-04:00 2026-03-07T03:45:00-05:00");
	/* 2026-11-01 02:00 EDT -> 01:00 EST: 01:30 fires once, on the first pass */
	CHECK_NEXT("30 1 * * *", "America/New_York", "2026-10-31T12:00:00-04:00", 2,
		   "2026-11-01T01:30:00-04:00 2026-11-02T01:30:00-05:00");
	CHECK_NEXT("*/20 1 * * *", "America/New_York", "2026-11-01T00:50:00-04:00", 4,
		   "2026-11-01T01:00:00-04:00 2026-11-01T01:20:00-04:00 2026-11-01T01:40:00-04:00 "
		   "2026-11-02T01:00:00-05:00");
	/* asked from inside the second pass: what is left of the first pass already fired */
	CHECK_NEXT("*/20 1 * * *", "America/New_York", "2026-11-01T01:10:00-05:00", 1,
		   "2026-11-02T01:00:00-05:00");
	CHECK_PREV("*/20 1 * * *", "America/New_York", "2026-11-01T01:10:00-05:00", 2,
		   "2026-11-01T01:40:00-04:00 2026-11-01T01:20:00-04:00");
	CHECK_PREV("30 1 * * *", "America/New_York", "2026-11-02T00:00:00-05:00", 1,
		   "2026-11-01T01:30:00-04:00");
	/* an hourly job is an elapsed-time job: it fires on both passes of the repeated hour */
	CHECK_NEXT("0 * * * *", "America/New_York", "2026-11-01T00:30:00-04:00", 3,
		   "2026-11-01T01:00:00-04:00 2026-11-01T01:00:00-05:00 2026-11-01T02:00:00-05:00");
	CHECK_NEXT("0 * * * *", "America/New_York", "2026-03-08T00:30:00-05:00", 3,
		   "2026-03-08T01:00:00-05:00 2026-03-08T03:00:00-04:00 2026-03-08T04:00:00-04:00");
}
END_TEST

START_TEST(test_dst_berlin_tokyo_lord_howe)
{
	/* Berlin 2026-03-29 02:00 CET -> 03:00 CEST; 2026-10-25 03:00 CEST -> 02:00 CET */
	CHECK_NEXT("0 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00+01:00", 2,
		   "2026-03-29T03:00:00+02:00 2026-03-30T02:00:00+02:00");
	CHECK_NEXT("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00+02:00", 2,
		   "2026-10-25T02:30:00+02:00 2026-10-26T02:30:00+01:00");
	/* Tokyo: +09:00 all year, no surprises on either date */
	CHECK_NEXT("30 2 * * *", "Asia/Tokyo", "2026-03-07T12:00:00+09:00", 2,
		   "2026-03-08T02:30:00+09:00 2026-03-09T02:30:00+09:00");
	/* Lord Howe: a 30-minute change; 2026-10-04 02:00 +10:30 -> 02:30 +11:00 */
	CHECK_NEXT("15 2 * * *", "Australia/Lord_Howe", "2026-10-03T12:00:00+10:30", 2,
		   "2026-10-04T02:30:00+11:00 2026-10-05T02:15:00+11:00");
	/* 2026-04-05 02:00 +11:00 -> 01:30 +10:30: 01:45 fires on the first pass only */
	CHECK_NEXT("45 1 * * *", "Australia/Lord_Howe", "2026-04-04T12:00:00+11:00", 2,
		   "2026-04-05T01:45:00+11:00 2026-04-06T01:45:00+10:30");
	/* Apia skipped 2011-12-30 whole (-10:00 -> +14:00): its noon fires when the day ends */
	CHECK_NEXT("0 12 * * *", "Pacific/Apia", "2011-12-29T13:00:00-10:00", 2,
		   "2011-12-31T00:00:00+14:00 2011-12-31T12:00:00+14:00");
	/* Sao Paulo sprang forward at midnight: 2018-11-04 began at 01:00 */
	CHECK_NEXT("0 0 * * *", "America/Sao_Paulo", "2018-11-03T12:00:00-03:00", 2,
		   "2018-11-04T01:00:00-02:00 2018-11-05T00:00:00-02:00");
	/* far future, from the footer rule */
	CHECK_NEXT("30 2 * * *", "America/New_York", "2100-03-13T12:00:00-05:00", 2,
		   "2100-03-14T03:00:00-04:00 2100-03-15T02:30:00-04:00");
}
END_TEST

/* ---- the brute-force reference -------------------------------------------------------------- */

static int32_t offset_of(const struct tz *z, int64_t t)
{
	struct yb_civil c;
	int32_t off;
	tz_to_local(z, t, &c, &off);
	return off;
}

static bool civil_matches_at(const struct cron_expr *e, int64_t local_secs)
{
	struct yb_civil c;
	tz_to_local(tz_utc(), local_secs, &c, NULL);
	return cron_matches(e, &c);
}

/* Does the expression fire at instant t, by the rules written out longhand: a matching local
 * time fires at its first occurrence, and at every occurrence when every hour of the day matches
 * some time (an elapsed-time expression); the matching local times inside a gap fire once, at
 * the instant the gap ends. Only tz_to_local and cron_matches are trusted here. */
static bool every_hour_matches(const struct cron_expr *e)
{
	/* every hour of a day on which it fires (found with cron_next in UTC, no DST in the way) */
	int64_t t;
	ck_assert_int_eq(cron_next(e, tz_utc(), -1, &t), 0);
	int64_t base = t - t % 86400;
	int hours = 0;
	for (int h = 0; h < 24; h++) {
		for (int m = 0; m < 60 * 60; m += cron_has_seconds(e) ? 1 : 60) {
			if (civil_matches_at(e, base + h * 3600 + m)) {
				hours++;
				break;
			}
		}
	}
	return hours == 24;
}

static bool fires_at(const struct cron_expr *e, const struct tz *z, int64_t t, int step,
		     bool elapsed)
{
	int32_t off = offset_of(z, t);
	int64_t ls = t + off;
	if (civil_matches_at(e, ls)) {
		bool first = true;
		if (elapsed)
			return true;
		int32_t around[3] = { offset_of(z, t - 86400), off, offset_of(z, t + 86400) };
		for (int i = 0; i < 3; i++) {
			int64_t other = ls - around[i];
			if (other < t && offset_of(z, other) == around[i])
				first = false;
		}
		if (first)
			return true;
	}
	int32_t before = offset_of(z, t - 1);
	if (before < off) { /* t ends a gap: local [t + before, t + off) never happened */
		for (int64_t g = t + before; g < t + off; g += step)
			if (civil_matches_at(e, g))
				return true;
	}
	return false;
}

static int64_t align_up(int64_t t, int step)
{
	int64_t r = t % step;
	if (r < 0)
		r += step;
	return r ? t + (step - r) : t;
}

struct ref_stats {
	int cases, found_next, found_prev, skipped;
};

static void check_against_reference(const struct cron_expr *e, const char *text,
				    const struct tz *z, int64_t from, int horizon_steps,
				    struct ref_stats *st)
{
	int step = cron_has_seconds(e) ? 1 : 60;
	bool elapsed = every_hour_matches(e);
	ck_assert_msg(elapsed == cron_fires_by_elapsed_time(e), "seed %" PRIu64 ": '%s' elapsed %d",
		      seed, text, elapsed);
	int64_t got, want = INT64_MIN;
	/* next */
	int64_t t = align_up(from + 1, step);
	for (int i = 0; i < horizon_steps; i++, t += step) {
		if (fires_at(e, z, t, step, elapsed)) {
			want = t;
			break;
		}
	}
	int rc = cron_next(e, z, from, &got);
	int first_year, last_year;
	struct yb_civil fc;
	tz_to_local(z, from, &fc, NULL);
	bool years = cron_year_range(e, &first_year, &last_year);
	/* with a year field, no fire after it ends (before it starts) */
	ck_assert_msg(rc == 0 || (want == INT64_MIN && years && rc == YB_ERANGE && last_year <= fc.year), "seed %" PRIu64 ": cron_next('%s', %s, %" PRId64 ") = %d", seed,
		      text, tz_name(z), from, rc);
	if (rc < 0) {
		/* nothing more to compare */
	} else if (want != INT64_MIN) {
		ck_assert_msg(got == want,
			      "seed %" PRIu64 ": cron_next('%s', %s, %" PRId64 ") = %" PRId64
			      ", reference %" PRId64, seed, text, tz_name(z), from, got, want);
		st->found_next++;
	} else {
		ck_assert_msg(got >= t && fires_at(e, z, got, step, elapsed),
			      "seed %" PRIu64 ": cron_next('%s', %s, %" PRId64 ") = %" PRId64
			      " is inside the searched horizon or is no fire", seed, text, tz_name(z),
			      from, got);
	}
	/* prev */
	want = INT64_MIN;
	t = align_up(from, step) - step;
	for (int i = 0; i < horizon_steps; i++, t -= step) {
		if (fires_at(e, z, t, step, elapsed)) {
			want = t;
			break;
		}
	}
	rc = cron_prev(e, z, from, &got);
	ck_assert_msg(rc == 0 || (want == INT64_MIN && years && rc == YB_ERANGE && first_year >= fc.year), "seed %" PRIu64 ": cron_prev('%s', %s, %" PRId64 ") = %d", seed,
		      text, tz_name(z), from, rc);
	if (rc < 0) {
		/* nothing more to compare */
	} else if (want != INT64_MIN) {
		ck_assert_msg(got == want,
			      "seed %" PRIu64 ": cron_prev('%s', %s, %" PRId64 ") = %" PRId64
			      ", reference %" PRId64, seed, text, tz_name(z), from, got, want);
		st->found_prev++;
	} else {
		ck_assert_msg(got <= t && fires_at(e, z, got, step, elapsed),
			      "seed %" PRIu64 ": cron_prev('%s', %s, %" PRId64 ") = %" PRId64
			      " is inside the searched horizon or is no fire", seed, text, tz_name(z),
			      from, got);
	}
	st->cases++;
}

static void append(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void append(char *buf, size_t size, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + n, size - n, fmt, ap);
	va_end(ap);
}

/* A random field in lo..hi; `dense` makes it fire often. */
static void random_field(char *buf, size_t size, int field, int lo, int hi, int dense_bias)
{
	static const char *const mon[] = { "jan", "feb", "mar", "apr", "may", "jun",
					   "jul", "aug", "sep", "oct", "nov", "dec" };
	static const char *const dow[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };
	if (chance(dense_bias)) {
		append(buf, size, "*");
		return;
	}
	int items = chance(60) ? 1 : rnd_int(2, 3);
	for (int i = 0; i < items; i++) {
		if (i)
			append(buf, size, ",");
		int kind = rnd_int(0, 9);
		int a = rnd_int(lo, hi), b = rnd_int(lo, hi);
		if (a > b && (kind < 3 || kind > 6 || chance(60))) { /* else a range that wraps */
			int x = a;
			a = b;
			b = x;
		}
		if (field == 2 && kind == 9) { /* day-of-month specials */
			int s = rnd_int(0, 4);
			if (s == 0)
				append(buf, size, "L");
			else if (s == 1)
				append(buf, size, "LW");
			else if (s == 2)
				append(buf, size, "%dW", rnd_int(1, 31));
			else if (s == 3)
				append(buf, size, "%d-L", rnd_int(1, 31));
			else
				append(buf, size, "%d-L/%d", rnd_int(1, 31), rnd_int(1, 10));
			continue;
		}
		if (field == 4 && kind >= 8) { /* day-of-week specials */
			if (kind == 8)
				append(buf, size, "%d#%d", rnd_int(0, 7), rnd_int(1, 5));
			else
				append(buf, size, "%sL", dow[rnd_int(0, 6)]);
			continue;
		}
		switch (kind) {
		case 0:
		case 1:
		case 2:
			if (field == 3 && chance(50))
				append(buf, size, "%s", mon[a - 1]);
			else if (field == 4 && chance(50))
				append(buf, size, "%s", dow[a % 7]);
			else
				append(buf, size, "%d", a);
			break;
		case 3:
		case 4:
			if (field == 3 && chance(50))
				append(buf, size, "%s-%s", mon[a - 1], mon[b - 1]);
			else if (field == 4 && chance(50))
				append(buf, size, "%s-%s", dow[a % 7], dow[b % 7]);
			else
				append(buf, size, "%d-%d", a, b);
			break;
		case 5:
			append(buf, size, "*/%d", rnd_int(1, (hi - lo + 1) / 2 > 1 ? (hi - lo + 1) / 2 : 1));
			break;
		case 6:
			append(buf, size, "%d-%d/%d", a, b, rnd_int(1, 10));
			break;
		case 7:
			append(buf, size, "%d/%d", a, rnd_int(1, 10));
			break;
		default:
			if (chance(50))
				append(buf, size, "H");
			else
				append(buf, size, "H/%d", rnd_int(1, (hi - lo + 1) / 2 > 1 ? (hi - lo + 1) / 2 : 1));
			break;
		}
	}
}

/* A year field around `year`: a list, a range (which may wrap), a step or H, in 1970-2099. */
static void random_year(char *buf, size_t size, int year)
{
	int lo = year - 1 < 1970 ? 1970 : year - 1, hi = year + 1 > 2099 ? 2099 : year + 1;
	switch (rnd_int(0, 6)) {
	case 0: append(buf, size, "*"); break;
	case 1: append(buf, size, "%d", rnd_int(lo, hi)); break;
	case 2: append(buf, size, "%d,%d", rnd_int(1970, 2099), rnd_int(lo, hi)); break;
	case 3: append(buf, size, "%d-%d", lo, hi); break;
	case 4: append(buf, size, "%d-%d/%d", rnd_int(lo, 2099), rnd_int(1970, hi), rnd_int(1, 3)); break;
	case 5: append(buf, size, "%d/%d", rnd_int(1970, lo), rnd_int(1, 3)); break;
	default: append(buf, size, "H"); break;
	}
}

static void random_expr(char *buf, size_t size, bool seconds, bool near_night, int year)
{
	buf[0] = '\0';
	/* with seconds the horizon is shorter, so the coarse fields are denser */
	random_field(buf, size, 0, 0, 59, seconds ? 40 : 25);
	append(buf, size, " ");
	if (near_night && chance(70))
		append(buf, size, "%d-%d", rnd_int(0, 2), rnd_int(2, 4));
	else
		random_field(buf, size, 1, 0, 23, seconds ? 70 : 35);
	append(buf, size, " ");
	random_field(buf, size, 2, 1, 31, seconds ? 85 : 60);
	append(buf, size, " ");
	random_field(buf, size, 3, 1, 12, seconds ? 95 : 80);
	append(buf, size, " ");
	random_field(buf, size, 4, 0, 7, seconds ? 85 : 60);
	if (seconds) {
		append(buf, size, " ");
		random_field(buf, size, 5, 0, 59, 30);
		if (chance(40)) {
			append(buf, size, " ");
			random_year(buf, size, year);
		}
	}
}

/* One of the forward (spring) or backward changes of zone in year, picked at random, found with
 * tz_to_local alone (0 when the zone has none). */
static int64_t find_transition(const struct tz *z, int year, bool spring)
{
	int64_t found[8];
	int n = 0;
	int64_t t = yb_days_from_civil(year, 1, 1) * 86400;
	int32_t prev = offset_of(z, t);
	for (int day = 1; day <= 366 && n < 8; day++) {
		int64_t u = t + (int64_t)day * 86400;
		int32_t off = offset_of(z, u);
		if (off != prev && ((off > prev) == spring)) {
			int64_t lo = u - 86400, hi = u; /* offset_of(lo) == prev, offset_of(hi) == off */
			while (hi - lo > 1) {
				int64_t mid = lo + (hi - lo) / 2;
				if (offset_of(z, mid) == prev)
					lo = mid;
				else
					hi = mid;
			}
			found[n++] = hi;
		}
		prev = off;
	}
	return n ? found[rnd_int(0, n - 1)] : 0;
}

static void run_reference(bool seconds, int n_cases, int horizon_steps)
{
	/* Sao Paulo changed at midnight (until 2019); Apia skipped 2011-12-30 altogether */
	static const char *const zones[] = { "UTC", "America/New_York", "Europe/Berlin",
					     "Asia/Tokyo", "Australia/Lord_Howe",
					     "America/Sao_Paulo", "Pacific/Apia" };
	seed_rng();
	struct ref_stats st = { 0 };
	while (st.cases < n_cases) {
		const struct tz *z = zone(zones[rnd_int(0, YB_ARRAY_LEN(zones) - 1)]);
		bool near_dst = chance(70);
		int64_t from;
		int64_t tr = 0;
		if (near_dst)
			tr = find_transition(z, chance(10) ? 2011 : rnd_int(1990, 2060), chance(50));
		if (tr)
			from = tr + rnd_int(-2 * 86400, 2 * 86400);
		else
			from = (int64_t)rnd_int(0, 2000000000) + (chance(20) ? 2000000000ll : 0);
		if (chance(30))
			from -= from % 60; /* exactly on a minute, where off-by-ones live */
		char text[256];
		struct yb_civil fc;
		tz_to_local(z, from, &fc, NULL);
		random_expr(text, sizeof(text), seconds, near_dst, fc.year);
		struct cron_expr *e = NULL;
		if (cron_parse(text, "reference", &e, NULL, NULL) < 0) {
			st.skipped++;
			ck_assert_msg(st.skipped < n_cases * 4, "seed %" PRIu64 ": too many rejected", seed);
			continue;
		}
		check_against_reference(e, text, z, from, horizon_steps, &st);
		cron_free(e);
	}
	/* the comparison must have had teeth */
	ck_assert_msg(st.found_next > n_cases / 2 && st.found_prev > n_cases / 2,
		      "seed %" PRIu64 ": only %d/%d next and %d/%d prev found within the horizon", seed,
		      st.found_next, st.cases, st.found_prev, st.cases);
}

START_TEST(test_reference_minutes)
{
	run_reference(false, 2500, 3 * 24 * 60);
}
END_TEST

START_TEST(test_reference_seconds)
{
	run_reference(true, 300, 26 * 3600);
}
END_TEST

/* ---- main ----------------------------------------------------------------------------------- */

int main(void)
{
	Suite *s = suite_create("cron");
	TCase *tc = tcase_create("known");
	tcase_add_test(tc, test_basic_fields);
	tcase_add_test(tc, test_sunday_as_seven_and_ranges);
	tcase_add_test(tc, test_nth_weekday);
	tcase_add_test(tc, test_last_day_and_last_weekday);
	tcase_add_test(tc, test_nearest_weekday);
	tcase_add_test(tc, test_or_rule);
	tcase_add_test(tc, test_seconds_field);
	tcase_add_test(tc, test_macros);
	tcase_add_test(tc, test_hash);
	tcase_add_test(tc, test_rejected);
	tcase_add_test(tc, test_accepted_edges);
	tcase_add_test(tc, test_range_limits);
	tcase_add_test(tc, test_dst_new_york);
	tcase_add_test(tc, test_dst_berlin_tokyo_lord_howe);
	suite_add_tcase(s, tc);
	TCase *ref = tcase_create("reference");
	tcase_set_timeout(ref, 300);
	tcase_add_test(ref, test_reference_minutes);
	tcase_add_test(ref, test_reference_seconds);
	suite_add_tcase(s, ref);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
