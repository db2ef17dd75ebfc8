/*
 * fuzz_cron.c: arbitrary bytes as a cron expression. Whatever parses is searched forward and
 * backward from a few instants (DST edges among them) in three zones, and every answer is checked:
 * strictly after / before, a real fire (a matching first-occurrence local time, any occurrence
 * for an elapsed-time expression, or the end of a gap holding one), and no fire skipped between
 * prev and next. Layout: byte 0 picks the zone and
 * the hash key; the rest is the expression.
 */
#include "cron.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct tz *zones[3];

static int32_t offset_of(const struct tz *z, int64_t t)
{
	struct yb_civil c;
	int32_t off;
	tz_to_local(z, t, &c, &off);
	return off;
}

/* Is t a fire of e in z, by the rules written longhand? */
static bool is_fire(const struct cron_expr *e, const struct tz *z, int64_t t)
{
	struct yb_civil c;
	int32_t off;
	tz_to_local(z, t, &c, &off);
	if (cron_matches(e, &c) &&
	    (tz_from_local(z, &c, NULL) == t || cron_fires_by_elapsed_time(e)))
		return true;
	int32_t before = offset_of(z, t - 1);
	if (before >= off)
		return false;
	int step = cron_has_seconds(e) ? 1 : 60;
	for (int64_t g = t + before; g < t + off; g += step) {
		tz_to_local(tz_utc(), g, &c, NULL);
		if (cron_matches(e, &c))
			return true;
	}
	return false;
}

static void check_from(const struct cron_expr *e, const struct tz *z, int64_t t)
{
	int64_t next, prev, again;
	int rn = cron_next(e, z, t, &next);
	if (rn == 0) {
		if (next <= t || !is_fire(e, z, next))
			__builtin_trap();
		/* the fire before next is at or before t, and next follows it */
		if (cron_prev(e, z, next, &prev) == 0) {
			if (prev > t || prev >= next || !is_fire(e, z, prev))
				__builtin_trap();
			if (cron_next(e, z, prev, &again) != 0 || again != next)
				__builtin_trap();
		}
	} else if (rn != YB_ERANGE) {
		__builtin_trap();
	}
	int rp = cron_prev(e, z, t, &prev);
	if (rp == 0) {
		if (prev >= t || !is_fire(e, z, prev))
			__builtin_trap();
	} else if (rp != YB_ERANGE) {
		__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!zones[0]) {
		const char *names[3] = { "UTC", "America/New_York", "Australia/Lord_Howe" };
		for (int i = 0; i < 3; i++)
			if (tz_load(names[i], &zones[i], NULL) < 0)
				zones[i] = tz_utc();
	}
	if (size < 1 || size > 1200)
		return 0;
	const struct tz *z = zones[data[0] % 3];
	const char *key = (data[0] & 4) ? "nightly-batch" : NULL;
	char *text = malloc(size);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	struct cron_expr *e = NULL;
	int col = -1;
	struct yb_err err;
	if (cron_parse(text, key, &e, &col, &err) == 0) {
		if (strcmp(cron_text(e), text) != 0)
			__builtin_trap();
		static const int64_t instants[] = {
			0,          1772953200, /* 2026-03-08 07:00Z, New York's spring gap */
			1793512800, /* 2026-11-01 06:00Z, its fall-back */
			1793511000, /* 01:30 EDT, the first pass of the repeated hour */
			1793514600, /* 01:30 EST, the second pass */
			1775314800, /* 2026-04-04 15:00Z, Lord Howe's half-hour fold */
			4102444800, /* 2100-01-01 */
			-1,         253402214400, /* 9999-12-31 */
		};
		for (size_t i = 0; i < sizeof(instants) / sizeof(instants[0]); i++)
			check_from(e, z, instants[i]);
		cron_free(e);
	} else if (col < 0 || (size_t)col > size || err.msg[0] == '\0') {
		__builtin_trap();
	}
	free(text);
	return 0;
}
