/*
 * cron.h: cron expressions with croniter's semantics, in C.
 *
 * 5 fields (minute hour day-of-month month day-of-week), 6 with seconds as the *last* field, or
 * 7 with seconds then the year (1970-2099), as croniter reads them; '*', lists, ranges (which
 * wrap around the field's end when they end before they start: 'nov-mar', 'sat-tue'), steps
 * ('*' '/' n, a-b/n, a/n), month and weekday names, 0 or 7 for Sunday, 'L' in day-of-month (also
 * as a range's end, '29-L'), 'd#k' (k-th weekday d of the month), '@yearly' '@annually'
 * '@monthly' '@weekly' '@daily' '@midnight' '@hourly', and 'H' (hashed by hash_key, usually the
 * runbook name, so that many runbooks spread out; with a hash key, macros are hashed too). Beyond croniter: 'nW' (nearest weekday to day n, not
 * crossing the month), 'LW' (last weekday of the month) and 'dL' in day-of-week (the last
 * weekday d of the month; croniter's spelling 'Ld' is accepted too). '?' is a synonym of '*' in
 * the two day fields. docs/cron.md is the full reference.
 * When day-of-month and day-of-week are both restricted (neither is exactly '*'), a day matching
 * either fires.
 *
 * A parsed expression is a set of bitsets; cron_next and cron_prev jump field by field and never
 * step minute by minute. An expression that can never fire ("0 0 30 2 *") is refused by
 * cron_parse, so cron_next never hangs.
 */
#ifndef YB_CRON_H
#define YB_CRON_H

#include "tz.h"
#include "yb.h"

struct cron_expr;

/* Parses text. hash_key seeds 'H' (NULL: ""); a macro is hashed (croniter's hash_id forms,
 * '@daily' is 'H H * * * H') only when hash_key is not NULL. On error, err->msg names the field and the
 * problem ("day-of-month field: '32' is out of range 1-31") and *err_col (may be NULL) receives
 * the 0-based offset in text where the bad field starts. */
int cron_parse(const char *text, const char *hash_key, struct cron_expr **out, int *err_col,
	       struct yb_err *err);
void cron_free(struct cron_expr *expr);

/* The first fire strictly after `after` (seconds since the epoch), evaluated in zone. Returns
 * YB_ERANGE if none exists before year 9999 (or after the year field's last year). DST: a fire
 * in a gap happens once, at the first instant after the gap; a fire in a repeated stretch happens
 * on its first pass only, unless the hour field covers every hour (e.g. every half hour): such
 * an elapsed-time expression fires on both passes, at two distinct instants. */
int cron_next(const struct cron_expr *expr, const struct tz *zone, int64_t after, int64_t *out);
/* The last fire strictly before `before`. */
int cron_prev(const struct cron_expr *expr, const struct tz *zone, int64_t before, int64_t *out);

/* Does the local civil time match (seconds ignored for a 5-field expression)? */
bool cron_matches(const struct cron_expr *expr, const struct yb_civil *local);
bool cron_has_seconds(const struct cron_expr *expr);
/* Does the hour field cover every hour (the expression fires on both passes of a repeated hour)? */
bool cron_fires_by_elapsed_time(const struct cron_expr *expr);
/* With a year field other than '*': true, and its first and last years. */
bool cron_year_range(const struct cron_expr *expr, int *first, int *last);
/* Could cron_parse's result depend on hash_key ('H' anywhere, or a macro)? Callers that share
 * parsed expressions between runbooks key them by hash_key exactly when this is true. */
bool cron_text_hashed(const char *text);
const char *cron_text(const struct cron_expr *expr);

#endif
