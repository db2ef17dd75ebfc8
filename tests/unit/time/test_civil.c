/*
 * test_civil.c: civil-date arithmetic (civil.h): known dates, leap years, month lengths, weekdays,
 * and the round trip days -> date -> days over 4,400 years either side of the epoch.
 */
#include "civil.h"

#include <check.h>
#include <inttypes.h>
#include <stdlib.h>

/* Check marks every ck_assert through a pipe; hot loops use this, which only speaks up on failure. */
#define REQUIRE(cond, ...)                                  \
	do {                                                \
		if (!(cond))                                \
			ck_abort_msg(__VA_ARGS__);          \
	} while (0)

START_TEST(test_civil)
{
	ck_assert_int_eq(yb_days_from_civil(1970, 1, 1), 0);
	ck_assert_int_eq(yb_days_from_civil(2000, 3, 1), 11017);
	ck_assert_int_eq(yb_days_from_civil(1969, 12, 31), -1);
	ck_assert_int_eq(yb_days_from_civil(1, 1, 1), -719162);
	ck_assert_int_eq(yb_weekday(2026, 1, 12), 1); /* a Monday */
	ck_assert_int_eq(yb_weekday(1970, 1, 1), 4);
	ck_assert_int_eq(yb_weekday(1969, 12, 28), 0);
	ck_assert(yb_is_leap(2000) && yb_is_leap(2024) && !yb_is_leap(1900) && !yb_is_leap(2026));
	ck_assert_int_eq(yb_days_in_month(2024, 2), 29);
	ck_assert_int_eq(yb_days_in_month(2100, 2), 28);
	ck_assert_int_eq(yb_days_in_month(2026, 4), 30);
	ck_assert_int_eq(yb_days_in_month(2026, 13), 0);
	/* round trip and monotonic over a long stretch, both sides of the epoch */
	int py = 0, pm = 0, pd = 0;
	for (int64_t days = -800000; days <= 800000; days += 1) {
		int y, m, d;
		yb_civil_from_days(days, &y, &m, &d);
		REQUIRE(yb_days_from_civil(y, m, d) == days, "days %" PRId64, days);
		REQUIRE(m >= 1 && m <= 12 && d >= 1 && d <= yb_days_in_month(y, m), "days %" PRId64, days);
		if (days > -800000)
			REQUIRE((d == pd + 1 && m == pm && y == py) ||
				  (d == 1 && ((m == pm + 1 && y == py) || (m == 1 && pm == 12 && y == py + 1))), "days %" PRId64, days);
		py = y, pm = m, pd = d;
	}
}
END_TEST

START_TEST(test_weekday_of_days)
{
	ck_assert_int_eq(yb_weekday_of_days(0), 4);  /* 1970-01-01, a Thursday */
	ck_assert_int_eq(yb_weekday_of_days(-1), 3); /* 1969-12-31, a Wednesday */
	ck_assert_int_eq(yb_weekday_of_days(-4), 0); /* 1969-12-28, a Sunday */
	ck_assert_int_eq(yb_weekday_of_days(yb_days_from_civil(2026, 12, 1)), 2); /* a Tuesday */
	ck_assert_int_eq(yb_weekday(1, 1, 1), 1);    /* proleptic Gregorian: a Monday */
	ck_assert_int_eq(yb_weekday(9999, 12, 31), 5);
	/* the Gregorian calendar repeats every 400 years, weekdays included */
	for (int y = 1900; y < 2300; y++)
		REQUIRE(yb_weekday(y, 3, 1) == yb_weekday(y + 400, 3, 1), "year %d", y);
	/* the days of a leap year: 366, and Feb 29 exists only then */
	ck_assert_int_eq(yb_days_from_civil(2025, 1, 1) - yb_days_from_civil(2024, 1, 1), 366);
	ck_assert_int_eq(yb_days_from_civil(2101, 1, 1) - yb_days_from_civil(2100, 1, 1), 365);
	ck_assert_int_eq(yb_days_in_month(2000, 2), 29);
	ck_assert_int_eq(yb_days_in_month(1900, 2), 28);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("civil");
	TCase *tc = tcase_create("civil");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_civil);
	tcase_add_test(tc, test_weekday_of_days);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
