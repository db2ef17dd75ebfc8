/*
 * tz.h: time zones from the system's TZif files (RFC 8536), and civil-date arithmetic.
 *
 * A zone is read once per process (tz_load caches it by name and never frees it) and never by
 * switching the TZ environment variable. Instants are int64 seconds since the Unix epoch (UTC).
 * Local time to instant follows the scheduler's DST rules: a local time inside a spring-forward
 * gap resolves to the first instant after the gap (TZ_GAP), a local time inside the repeated
 * fall-back hour resolves to its first occurrence (TZ_FOLD).
 */
#ifndef YB_TZ_H
#define YB_TZ_H

#include "yb.h"

struct tz;

/* A broken-down local time. month 1-12, day 1-31, wday 0 = Sunday .. 6 = Saturday. */
struct yb_civil {
	int year, month, day, hour, min, sec;
	int wday;
};

enum tz_kind { TZ_EXACT = 0, TZ_GAP = 1, TZ_FOLD = 2 };

/* Loads "Asia/Tokyo", "UTC", "Europe/Berlin"... from $TZDIR or /usr/share/zoneinfo. The zone is
 * cached for the life of the process; the pointer stays valid. Names with ".." or a leading '/'
 * are refused. */
int tz_load(const char *name, const struct tz **out, struct yb_err *err);
/* The process's local zone (from /etc/localtime, else UTC). */
const struct tz *tz_local(void);
const struct tz *tz_utc(void);
const char *tz_name(const struct tz *zone);

/* Instant -> local civil time; *utcoff (may be NULL) receives the offset in seconds east of UTC. */
void tz_to_local(const struct tz *zone, int64_t t, struct yb_civil *out, int32_t *utcoff);
/* Local civil time -> instant, by the DST rules above; *kind (may be NULL) says which applied.
 * Fields outside their ranges are normalised (day 32 is the 1st of the next month). */
int64_t tz_from_local(const struct tz *zone, const struct yb_civil *local, int *kind);

/* ISO 8601 with offset: "2026-01-12T09:00:00+09:00" ("Z" is never written). */
void tz_format_iso(const struct tz *zone, int64_t t, char *out, size_t out_size);
/* Parses "2026-01-12T09:00:00+09:00", "...Z", "2026-01-12T09:00" or "2026-01-12" (the last two in
 * zone), also with a space for 'T' and minutes-only "+09:00". */
int tz_parse_iso(const char *text, const struct tz *zone, int64_t *out, struct yb_err *err);

/* Civil-date arithmetic on the proleptic Gregorian calendar (Howard Hinnant's algorithms). */
int64_t yb_days_from_civil(int year, int month, int day);
void yb_civil_from_days(int64_t days, int *year, int *month, int *day);
int yb_weekday(int year, int month, int day); /* 0 = Sunday */
int yb_days_in_month(int year, int month);
bool yb_is_leap(int year);

#endif
