/*
 * names.h: the one set of name rules, for everything that names a thing across Yoban: runbooks,
 * hosts and calendars, steps, parameters and environment variables. The loader, `yoban trigger`,
 * `yoban exec` and the daemon all ask here, so that a name one of them accepts is accepted by
 * every other.
 *
 * The rules (docs/runbook-reference.md says the same):
 *   runbook, host, calendar  a-z 0-9 '-', 1-63 characters, not starting with '-'
 *   step                     A-Z a-z 0-9 '-' '_' '.', 1-63 characters
 *   parameter                A-Z a-z 0-9 '_' '-', 1-63 characters, starting with a letter; it
 *                            reaches the steps as YOBAN_PARAM_<NAME>: upper case, '-' -> '_'
 *                            (so two parameters of one runbook may not differ only in case or in
 *                            '-' against '_': the loader refuses that)
 *   environment variable     A-Z a-z 0-9 '_', 1-128 characters, not starting with a digit
 *
 * And one "did you mean": the candidate within a small edit distance of a mistyped word.
 */
#ifndef YB_NAMES_H
#define YB_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#define YB_NAME_MAX 63
#define YB_ENV_NAME_MAX 128
#define YB_PARAM_ENV_PREFIX "YOBAN_PARAM_"

/* Each takes a NUL-terminated name. */
bool yb_runbook_name_valid(const char *name); /* also hosts and calendars */
bool yb_host_name_valid(const char *name);
bool yb_step_name_valid(const char *name);
bool yb_param_name_valid(const char *name);
bool yb_env_name_valid(const char *name);
/* The same rules on the first n bytes of s (for NAME=VALUE arguments). */
bool yb_param_name_valid_n(const char *s, size_t n);
bool yb_env_name_valid_n(const char *s, size_t n);

/* "business-date" -> "YOBAN_PARAM_BUSINESS_DATE" (caller frees). */
char *yb_param_env_name(const char *param);

/* Levenshtein distance between a and b, capped: cap + 1 when larger (or either is longer than
 * 64 bytes). */
int yb_edit_distance(const char *a, const char *b, int cap);
/* The candidate closest to word if it is close enough to be a typo (about a third of the word's
 * length, at least 1, at least 2 for words of 3 or more), else NULL. NULL candidates are
 * skipped; the first of equally close ones wins. */
const char *yb_closest(const char *word, const char *const *cands, size_t n);

#endif
