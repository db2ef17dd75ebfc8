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

#endif
