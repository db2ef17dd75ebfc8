/*
 * step_results.h: what a built-in step sends back with its exit (the runner's EXIT "step"), stored
 * as evidence: an sql step's before/after result sets (yoban.artifacts) and its transaction's
 * outcome (yoban.sql_results), see schemas/sql/010_artifacts.sql and docs/data-patches.md.
 */
#ifndef YD_STEP_RESULTS_H
#define YD_STEP_RESULTS_H

#include "rclient.h"
#include "yoband.h"

/* The START fields of an sql step: "step":"sql" and its YOBAN_SQL_* variables in env. */
void yd_sql_spec(struct yb_json *spec, struct yb_json *env, const struct rb_step *step,
		 int64_t timeout_ms);

/* Queues the evidence of job j's exit (ahead of its exit row, on the same connection) and says
 * how the job ended for the record: *committed when the step's transaction committed (then the
 * patch is applied once, whatever killed the step afterwards), and in *message (caller frees;
 * NULL when there is nothing to say) the step's own account. For a step kind without evidence,
 * does nothing. */
void yd_step_result_store(struct yd *d, const struct yd_job *j, const struct rclient_exit *ex,
			  bool *committed, char **message);

#endif
