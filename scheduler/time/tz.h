/*
 * tz.h: time zones from the system's TZif files (RFC 8536). Civil-date arithmetic is civil.h.
 *
 * A zone is read once per process (tz_load caches it by name and never frees it) and never by
 * switching the TZ environment variable. Instants are int64 seconds since the Unix epoch (UTC).
 * Local time to instant follows the scheduler's DST rules: a local time inside a spring-forward
 * gap resolves to the first instant after the gap (TZ_GAP), a local time inside the repeated
 * fall-back hour resolves to its first occurrence (TZ_FOLD).
 */
#ifndef YB_TZ_H
#define YB_TZ_H

#include "civil.h"
#include "yb.h"

struct tz;

enum tz_kind { TZ_EXACT = 0, TZ_GAP = 1, TZ_FOLD = 2 };

/* Loads "Asia/Tokyo", "UTC", "Europe/Berlin"... from $TZDIR or /usr/share/zoneinfo. The zone is
 * cached for the life of the process; the pointer stays valid. Names with ".." or a leading '/'
 * are refused, and so are names whose meaning is the host's, not the tz database's
 * ('localtime', 'posixrules', 'Factory', 'posix/...', 'right/...': YB_EINVAL) and, when the
 * zone folder has the tz database's tzdata.zi, any name that is none of its zones or links
 * (YB_ENOENT, like a missing file). */
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
 * zone), also with a space for 'T' and minutes-only "+09:00". A fraction of a second
 * (".0005") is dropped here; tz_parse_iso_ns hands it back in *nanos (0-999999999). */
int tz_parse_iso(const char *text, const struct tz *zone, int64_t *out, struct yb_err *err);
int tz_parse_iso_ns(const char *text, const struct tz *zone, int64_t *out, int32_t *nanos,
		    struct yb_err *err);

/* Parses a TZif image (RFC 8536, versions 1 to 4) held in memory; name is only a label. Every
 * count and length in the image is checked against len. The zone belongs to the caller, who
 * frees it with tz_free (zones from tz_load are cached and must not be freed). */
int tz_parse_tzif(const void *data, size_t len, const char *name, struct tz **out,
		  struct yb_err *err);
/* Parses a POSIX TZ rule string ("EST5EDT,M3.2.0,M11.1.0", "JST-9", "<+1030>-10:30<+11>-11,
 * M10.1.0,M4.1.0") into a zone of its own, as if it were a TZif footer with no transitions. */
int tz_parse_posix(const char *rule, struct tz **out, struct yb_err *err);
void tz_free(struct tz *zone);

/* Local seconds: the civil time read as if it were UTC (t + offset); monotonic in civil order.
 * tz_resolve_local maps local seconds back to an instant by the DST rules above; for TZ_FOLD,
 * *fold_end (may be NULL) receives the local seconds just past the repeated stretch, for TZ_GAP
 * the local seconds where the gap ends. The cron engine works in these. */
int64_t tz_local_seconds(const struct tz *zone, int64_t t);
int64_t tz_resolve_local(const struct tz *zone, int64_t local_secs, int *kind, int64_t *span_end);
/* The same with the whole ambiguous stretch: for TZ_GAP and TZ_FOLD, the local seconds
 * [start, end) it covers, and for TZ_FOLD the instant of the second pass (the return value is
 * the first; the same instant when a rule's next change cuts the second pass off). The cron
 * engine fires elapsed-time expressions on both passes. */
struct tz_span {
	int kind;
	int64_t start, end;
	int64_t second;
};
int64_t tz_resolve_span(const struct tz *zone, int64_t local_secs, struct tz_span *span);

#endif
