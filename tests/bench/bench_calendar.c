/*
 * bench_calendar.c: how fast the calendar answers and how much bending costs.
 *
 * Prints: national holiday lookups per second (the first year computed, then cached), open-day
 * checks on a site calendar, and sched_next calls per second for each on_closed_day mode beside
 * the bare cron_next of the same expression (the baseline), over ten years of daily fires.
 *   build/bench/bench_calendar (any build folder)
 */
#include "sched.h"

#include <stdio.h>
#include <stdlib.h>

static double seconds_since(int64_t start_ns)
{
	return (double)(yb_mono_ns() - start_ns) / 1e9;
}

int main(void)
{
	struct yb_err err;
	const struct tz *tokyo;
	struct cron_expr *daily, *monthly;
	if (tz_load("Asia/Tokyo", &tokyo, &err) < 0 ||
	    cron_parse("30 1 * * *", NULL, &daily, NULL, &err) < 0 ||
	    cron_parse("0 2 1 * *", NULL, &monthly, NULL, &err) < 0) {
		fprintf(stderr, "bench_calendar: %s\n", err.msg);
		return 1;
	}

	/* national holidays: every day of 1948-2150, twice (computed, then cached) */
	for (int pass = 0; pass < 2; pass++) {
		int64_t start = yb_mono_ns();
		long n = 0, found = 0;
		for (int y = 1948; y <= 2150; y++)
			for (int m = 1; m <= 12; m++)
				for (int d = 1; d <= yb_days_in_month(y, m); d++, n++)
					found += jp_holiday_name(y, m, d) != NULL;
		double s = seconds_since(start);
		printf("jp_holiday_name %-8s %9.0f lookups/s (%ld days, %ld holidays)\n",
		       pass ? "cached" : "first", n / s, n, found);
	}

	struct calendar city;
	struct cal_yearly new_year = { 12, 29, 1, 3 };
	cal_init(&city, "city");
	city.base_jp = true;
	city.closed_weekdays = (1u << 0) | (1u << 6);
	city.closed_yearly = &new_year;
	city.n_closed_yearly = 1;
	for (int i = 0; i < 50; i++)
		cal_add_closed(&city, 2026 + i % 10, 1 + i % 12, 10 + i % 15);
	int64_t start = yb_mono_ns();
	long n = 0, open = 0;
	for (int rep = 0; rep < 10; rep++)
		for (int y = 2020; y < 2040; y++)
			for (int m = 1; m <= 12; m++)
				for (int d = 1; d <= yb_days_in_month(y, m); d++, n++)
					open += cal_is_open(&city, y, m, d, NULL);
	printf("cal_is_open (city)       %9.0f checks/s\n", n / seconds_since(start));

	int64_t t0 = 1767193200; /* 2026-01-01T00:00:00+09:00 */
	struct {
		const char *label;
		const struct cron_expr *cron;
		enum sched_on_closed mode;
		bool bare;
	} runs[] = {
		{ "cron_next daily (baseline)", daily, SCHED_RUN, true },
		{ "sched_next daily run", daily, SCHED_RUN, false },
		{ "sched_next daily skip", daily, SCHED_SKIP, false },
		{ "sched_next daily previous", daily, SCHED_PREVIOUS_OPEN_DAY, false },
		{ "sched_next daily next", daily, SCHED_NEXT_OPEN_DAY, false },
		{ "cron_next monthly (baseline)", monthly, SCHED_RUN, true },
		{ "sched_next monthly next", monthly, SCHED_NEXT_OPEN_DAY, false },
	};
	for (size_t i = 0; i < YB_ARRAY_LEN(runs); i++) {
		struct schedule s = { .cron = runs[i].cron, .zone = tokyo, .cal = &city,
				      .on_closed = runs[i].mode };
		int64_t end = t0 + 10LL * 365 * 86400, t = t0;
		long fires = 0;
		start = yb_mono_ns();
		for (int rep = 0; rep < 5; rep++) {
			for (t = t0; t < end; fires++) {
				int rc = runs[i].bare ? cron_next(runs[i].cron, tokyo, t, &t)
						      : sched_next(&s, t, &t, &err);
				if (rc < 0)
					break;
			}
		}
		printf("%-30s %9.0f calls/s (%ld fires in 10 years)\n", runs[i].label,
		       fires / seconds_since(start), fires / 5);
	}
	city.closed_yearly = NULL;
	cal_release(&city);
	cron_free(daily);
	cron_free(monthly);
	return open > 0 ? 0 : 1;
}
