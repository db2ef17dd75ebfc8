/*
 * builtin.h: the job argv of a built-in step kind (backup, offsite, restore), as the scheduler
 * sends it to a runner: ["yoban-runner", "step", KIND, "--spec", JSON]. The runner runs it with
 * its own binary in its step mode (runner/steps/steps.h; docs/runner.md, "built-in step kinds"),
 * under its supervisor like any `run` step. The spec is everything the step needs, resolved here
 * from the runbook and the inventory (an offsite destination's address, user and pinned host
 * key); the step's last stdout line is its evidence ("yoban-evidence {JSON}").
 */
#ifndef YB_BUILTIN_H
#define YB_BUILTIN_H

#include "json.h"
#include "runbook.h"

/* True for the kinds the runner runs in its step mode. */
bool rb_step_is_builtin(const struct rb_step *s);
/* The argv (a JSON array) for step s of rb; inventory resolves an offsite destination host.
 * YB_ENOENT when that host is not in the inventory. *out only on success. */
int rb_builtin_argv(const struct rb_inventory *inventory, const struct rb_runbook *rb,
		    const struct rb_step *s, struct yb_json **out, struct yb_err *err);

#endif
