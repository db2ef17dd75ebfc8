/*
 * diag.h: the loader's collected diagnostics. Loading never stops at the first problem: every
 * problem of every file is collected into a struct rb_diags as `FILE:LINE:COL: error: MESSAGE`,
 * sorted by place, printed or handed out as JSON, and a load that found any error fails.
 *
 * This is the bottom of the model: it knows files and positions, nothing of YAML or runbooks
 * (diag <- yaml_load <- rbx <- runbook, site, inventory, calendar_file <- set <- plan).
 */
#ifndef YB_DIAG_H
#define YB_DIAG_H

#include <stdio.h>

#include "yb.h"

struct yb_json;

enum rb_severity { RB_SEV_ERROR = 0, RB_SEV_WARNING = 1 };

struct rb_diag {
	char *file;    /* as the user named it */
	int line, col; /* 1-based; 0 when unknown (a whole-file problem) */
	enum rb_severity severity;
	char *msg;     /* lowercase, no final period, with the way out when there is one */
	size_t seq;    /* insertion order, keeps the sort stable */
};

struct rb_diags {
	struct rb_diag *items;
	size_t n, cap;
	size_t n_errors;
	size_t n_dropped; /* past RB_MAX_DIAGS, only counted */
};

#define RB_MAX_DIAGS 500

void rb_diags_init(struct rb_diags *d);
void rb_diags_release(struct rb_diags *d);
void rb_diag_add(struct rb_diags *d, enum rb_severity sev, const char *file, int line, int col,
		 const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Moves every problem of from after those of to, as if they had been added there (from is left
 * empty). */
void rb_diags_append(struct rb_diags *to, struct rb_diags *from);
/* Sorts by file, line, column (stable for equal positions). */
void rb_diags_sort(struct rb_diags *d);
/* "FILE:LINE:COL: error: MESSAGE" lines (or "FILE: error: ..." without a position). */
void rb_diags_print(const struct rb_diags *d, FILE *out);
/* [{"file":..,"line":..,"column":..,"severity":"error","message":..}, ...] */
struct yb_json *rb_diags_json(const struct rb_diags *d);
/* The first error as one line, with "(and N more)" appended, into err; returns YB_EINVAL. */
int rb_diags_to_err(const struct rb_diags *d, struct yb_err *err);

#endif
