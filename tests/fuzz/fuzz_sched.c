/*
 * fuzz_sched.c: arbitrary bytes as a schedule bent by a calendar. Layout: byte 0 picks the
 * on_closed_day mode, the zone and whether the base is jp; byte 1 is the closed weekdays; byte 2
 * a business_day (used when the expression does not parse, or when its top bit is set); bytes
 * 3-6 a yearly closed range; bytes 7-10 the start (minutes from 1960); the rest is the cron
 * expression. Every answer is checked: sched_next strictly after its start, iterating it strictly
 * increasing, sched_prev of a fire giving nothing between it and the start, and sched_next of
 * that landing on the same fire. A hang shows as a libFuzzer timeout.
 */
#include "sched.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CRON_MAX 200

static const char *const zone_names[4] = { "Asia/Tokyo", "America/New_York", "UTC",
					   "Australia/Lord_Howe" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 11)
		return 0;
	const struct tz *zone;
	if (tz_load(zone_names[(data[0] >> 2) & 3], &zone, NULL) < 0)
		return 0;
	char text[CRON_MAX + 1];
	size_t n = size - 11 < CRON_MAX ? size - 11 : CRON_MAX;
	memcpy(text, data + 11, n);
	text[n] = '\0';

	struct calendar cal;
	struct cal_yearly range = { 1 + data[3] % 12, 1 + data[4] % 31, 1 + data[5] % 12,
				    1 + data[6] % 31 };
	cal_init(&cal, "fuzz");
	cal.base_jp = data[0] & 0x10;
	cal.closed_weekdays = data[1] & 0x7f;
	if (data[0] & 0x20) {
		cal.closed_yearly = &range;
		cal.n_closed_yearly = 1;
	}
	cal_add_open(&cal, 2026, 1 + data[3] % 12, 1 + data[4] % 28);

	struct cron_expr *expr = NULL;
	struct schedule s = { .zone = zone, .cal = (data[0] & 0x40) ? NULL : &cal,
			      .on_closed = (enum sched_on_closed)(data[0] & 3) };
	if (!(data[2] & 0x80) && cron_parse(text, "fuzz", &expr, NULL, NULL) == 0) {
		s.cron = expr;
	} else {
		int pos = (data[2] & 0x3f) % 31 + 1;
		s.business_day = (data[2] & 0x40) ? -pos : pos;
		s.at_hour = data[3] % 24;
		s.at_min = data[4] % 60;
	}
	uint32_t minutes = (uint32_t)data[7] | (uint32_t)data[8] << 8 | (uint32_t)data[9] << 16 |
			   (uint32_t)data[10] << 24;
	int64_t start = -315619200 + (int64_t)(minutes % (140u * 525960u)) * 60; /* 1960-2100 */

	int64_t t = start;
	for (int i = 0; i < 8; i++) {
		int64_t next, back, again;
		if (sched_next(&s, t, &next, NULL) < 0)
			break;
		if (next <= t)
			abort();
		if (sched_prev(&s, next, &back, NULL) == 0) {
			/* nothing between the start (or the previous fire) and this one */
			if (i == 0 ? back > t : back != t)
				abort();
			if (sched_next(&s, back, &again, NULL) < 0 || again != next)
				abort();
		}
		t = next;
	}
	cron_free(expr);
	cal.closed_yearly = NULL;
	cal_release(&cal);
	return 0;
}
