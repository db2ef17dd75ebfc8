/*
 * sched.h: a runbook's schedule: a cron expression (or a business-day position) in a time zone,
 * bent by a business calendar.
 *
 * on_closed_day decides what happens to a fire that falls on a closed day: skip it, run it anyway,
 * or move it to the same local time on the previous / next open day. Moved fires that land on the
 * same instant (Saturday's and Sunday's fires both moved to Monday, or onto Monday's own fire) are
 * one fire. business_day N with `at` fires on the N-th open day of each month (negative: counted
 * from the end, -1 is the last open day) at that local time.
 */
#ifndef YB_SCHED_H
#define YB_SCHED_H

#include "calendar.h"
#include "cron.h"
#include "tz.h"

enum sched_on_closed {
	SCHED_SKIP = 0,
	SCHED_RUN,
	SCHED_PREVIOUS_OPEN_DAY,
	SCHED_NEXT_OPEN_DAY,
};

struct schedule {
	const struct cron_expr *cron; /* NULL when business_day is used */
	int business_day;             /* 0: none; 1.. from the month's start; -1.. from its end */
	int at_hour, at_min, at_sec;  /* with business_day */
	const struct tz *zone;        /* NULL: UTC */
	const struct calendar *cal;   /* NULL: every day open */
	enum sched_on_closed on_closed;
};

/* The first fire strictly after `after`; YB_ERANGE if none, YB_EINVAL for a schedule with
 * neither cron nor business_day, or business_day / at out of range. With no calendar (or
 * on_closed_day: run) a cron schedule's fires are cron_next's, searched to the year 9999; a
 * calendar's bending and business_day are searched ten years ahead. err->msg says which bound
 * was met (the year field's last year, the year 9999, or the ten years). Iterating it never
 * repeats a fire and never goes back. A fire on a closed day moves at most 366 days (none open
 * that near: dropped). See docs/calendars.md. */
int sched_next(const struct schedule *s, int64_t after, int64_t *out, struct yb_err *err);
/* The last fire strictly before `before` (same rules, back to the year 1 or ten years back). */
int sched_prev(const struct schedule *s, int64_t before, int64_t *out, struct yb_err *err);
/* "skip", "run", "previous_open_day", "next_open_day"; parse returns YB_EINVAL for others. */
const char *sched_on_closed_name(enum sched_on_closed v);
int sched_on_closed_parse(const char *text, enum sched_on_closed *out);

#endif
