/*
 * cli_approvals.h: a run's approval record (request, approvals, rejection or voiding, gate
 * decisions) as `yoban show` prints it.
 */
#ifndef YB_CLI_APPROVALS_H
#define YB_CLI_APPROVALS_H

#include "cmd_db_common.h"

/* Reads the approval record of run_id (in the caller's transaction) and prints it under the
 * heading "approval and gates" (nothing when the run has none), or, with json, sets
 * json["approval"] to an array of {kind, at, who, detail}. Returns 0 or an exit status
 * (printed). */
int cli_show_approvals(struct db_conn *c, const char *run_id, struct yb_json *json);

struct rb_set;
struct rb_runbook;
/* For `yoban plan`: the last staging result (its own staging run or a rehearsal) of rb's
 * revision, read from the site's database when it is reachable (quietly skipped when not, or
 * when rb has no staging requirement). Printed (json NULL), else set as json["staging_last"]
 * (null: none, or the database not reachable). */
void cli_plan_staging(const struct rb_set *set, const struct rb_runbook *rb, struct yb_json *json);

#endif
