/*
 * civil.h: civil-date arithmetic on the proleptic Gregorian calendar: leap years, month lengths,
 * days since 1970-01-01 from a date and back (Howard Hinnant's algorithms, and Neri and
 * Schneider's faster inverse), the day of the week, and the broken-down civil time.
 *
 * No time zones here: a calendar, which knows only dates, includes this and not tz.h.
 */
#ifndef YB_CIVIL_H
#define YB_CIVIL_H

#include "yb.h"

/* A broken-down civil time. month 1-12, day 1-31, wday 0 = Sunday .. 6 = Saturday. */
struct yb_civil {
	int year, month, day, hour, min, sec;
	int wday;
};

bool yb_is_leap(int year);
/* 28-31; 0 for a month outside 1-12. */
int yb_days_in_month(int year, int month);
/* Days since 1970-01-01 of a date (month 1-12, day 1-31; day may run past the month's end). */
int64_t yb_days_from_civil(int year, int month, int day);
void yb_civil_from_days(int64_t days, int *year, int *month, int *day);
/* 0 = Sunday .. 6 = Saturday. */
int yb_weekday(int year, int month, int day);
int yb_weekday_of_days(int64_t days);

#endif
