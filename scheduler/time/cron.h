/*
 * cron.h: cron expressions with croniter's semantics, in C.
 *
 * 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds as the *last* field;
 * '*', lists, ranges, steps ('*' '/' n, a-b/n, a/n), month and weekday names, 0 or 7 for Sunday,
 * 'L' in day-of-month, 'd#k' (k-th weekday d of the month), '@yearly' '@annually' '@monthly'
 * '@weekly' '@daily' '@midnight' '@hourly', and 'H' (hashed by hash_key, usually the runbook
 * name, so that many runbooks spread out). Beyond croniter: 'nW' (nearest weekday to day n, not
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

/* Parses text. hash_key seeds 'H' (NULL: "" ). On error, err->msg names the field and the
 * problem ("day-of-month field: '32' is out of range 1-31") and *err_col (may be NULL) receives
 * the 0-based offset in text where the bad field starts. */
int cron_parse(const char *text, const char *hash_key, struct cron_expr **out, int *err_col,
	       struct yb_err *err);
void cron_free(struct cron_expr *expr);

/* The first fire strictly after `after` (seconds since the epoch), evaluated in zone. Returns
 * YB_ERANGE if none exists before year 9999. DST: a fire in a gap happens once, at the first
 * instant after the gap; a fire in the repeated hour happens once, at its first occurrence. */
int cron_next(const struct cron_expr *expr, const struct tz *zone, int64_t after, int64_t *out);
/* The last fire strictly before `before`. */
int cron_prev(const struct cron_expr *expr, const struct tz *zone, int64_t before, int64_t *out);

/* Does the local civil time match (seconds ignored for a 5-field expression)? */
bool cron_matches(const struct cron_expr *expr, const struct yb_civil *local);
bool cron_has_seconds(const struct cron_expr *expr);
const char *cron_text(const struct cron_expr *expr);

#endif
