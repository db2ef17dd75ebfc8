/*
 * fuzz_tzif.c: arbitrary bytes as a TZif image (when they start with "TZif"), else as a POSIX TZ
 * rule and as an ISO 8601 time. Whatever parses is asked for offsets and local-time resolutions at
 * a spread of instants, which must agree with each other.
 */
#include "tz.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void probe(const struct tz *z)
{
	static const int64_t instants[] = { INT64_MIN, -(1ll << 40), -1, 0, 1, 1772953200,
					    1793512800, 4102444800, 1ll << 40, INT64_MAX };
	for (size_t i = 0; i < sizeof(instants) / sizeof(instants[0]); i++) {
		struct yb_civil c;
		int32_t off;
		tz_to_local(z, instants[i], &c, &off);
		if (off < -93599 || off > 93599 || c.month < 1 || c.month > 12 || c.day < 1 ||
		    c.day > 31 || c.hour < 0 || c.hour > 23)
			__builtin_trap();
		struct tz_span sp;
		int64_t ls = tz_local_seconds(z, instants[i]);
		int64_t first = tz_resolve_span(z, ls, &sp);
		if (sp.kind != TZ_EXACT && sp.kind != TZ_GAP && sp.kind != TZ_FOLD)
			__builtin_trap();
		/* a repeated stretch: two passes of the same local time, the second later (or none,
		 * when a rule's next change comes first) */
		if (sp.kind == TZ_FOLD && instants[i] > -(1ll << 40) && instants[i] < (1ll << 40) &&
		    (sp.start > ls || ls >= sp.end || sp.second < first ||
		     (sp.second != first && tz_local_seconds(z, sp.second) != ls)))
			__builtin_trap();
		char text[80];
		tz_format_iso(z, instants[i], text, sizeof(text));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct yb_err err;
	struct tz *z = NULL;
	if (size >= 4 && memcmp(data, "TZif", 4) == 0) {
		if (tz_parse_tzif(data, size, "fuzz", &z, &err) == 0) {
			probe(z);
			tz_free(z);
		}
		return 0;
	}
	if (size > 512)
		return 0;
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	if (tz_parse_posix(text, &z, &err) == 0) {
		probe(z);
		tz_free(z);
	}
	int64_t t;
	int32_t nanos = -1;
	if (tz_parse_iso_ns(text, tz_utc(), &t, &nanos, &err) == 0 && (nanos < 0 || nanos > 999999999))
		__builtin_trap();
	if (tz_parse_iso(text, tz_utc(), &t, &err) == 0) {
		char back[80];
		tz_format_iso(tz_utc(), t, back, sizeof(back));
		int64_t t2;
		if (tz_parse_iso(back, tz_utc(), &t2, &err) != 0 || t2 != t)
			__builtin_trap();
	}
	free(text);
	return 0;
}
