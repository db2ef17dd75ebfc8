/*
 * outcome.h: what a step's jobs mean for their run, as one pure function (no I/O, no state):
 * used by the run path (runs.c) as the jobs end, and by reconcile for the steps already done.
 */
#ifndef YB_YD_OUTCOME_H
#define YB_YD_OUTCOME_H

#include "runbook.h"

#include <stdbool.h>
#include <stddef.h>

enum yd_run_state {
	RS_PENDING, RS_QUEUED, RS_RUNNING, RS_CANCELLING,
	RS_SUCCEEDED, RS_FAILED, RS_TIMED_OUT, RS_CANCELLED, RS_LOST, RS_SKIPPED,
};

/* How a job ended (the final values of the job_state type). YD_JOB_NONE: not ended yet. */
enum yd_job_result {
	YD_JOB_NONE, YD_JOB_SUCCEEDED, YD_JOB_FAILED, YD_JOB_TIMED_OUT, YD_JOB_CANCELLED, YD_JOB_LOST,
};

/* The database's word for a result ("succeeded", ...); "" for YD_JOB_NONE. */
const char *yd_job_result_name(enum yd_job_result r);
/* A job_state from the database: its result, YD_JOB_NONE for a job not ended ("pending",
 * "dispatched", "running"); false for a word that is no job_state. */
bool yd_job_result_parse(const char *s, enum yd_job_result *out);

/* Does a job that ended so on its attempt-th try get another (the step's retry.attempts)? Only
 * failed and timed_out jobs are retried; lost and cancelled ones never. */
bool yd_job_retries(enum yd_job_result r, int attempt, int attempts);

/* The last attempt of a step's job on one host. */
struct yd_host_last {
	enum yd_job_result result;
	int attempt;
};

enum yd_step_next {
	YD_STEP_WAIT, /* a job has not ended, or gets another attempt */
	YD_STEP_NEXT, /* the run goes on to the next step (or ends: yd_run_end) */
	YD_STEP_END,  /* the run ends now, in state end */
};

struct yd_outcome {
	enum yd_step_next next;
	enum yd_run_state end;       /* YD_STEP_END: the run's final state */
	/* The step's worst result over its hosts (lost > timed_out > failed > cancelled), with the
	 * first host that had it; YD_JOB_SUCCEEDED when every job succeeded. */
	enum yd_job_result worst;
	size_t worst_host;
	/* This step's failure becomes the run's (nothing failed before): the run records worst. */
	bool records_failure;
	/* YD_STEP_END: the reason is this step's (lost, cancelled), not the run's recorded first
	 * failure (on_failure: abort). */
	bool step_reason;
};

/* What the step's jobs mean: hosts[i] the last attempt on each of its n hosts, attempts its
 * retry.attempts, failed_before the run's first failure so far (YD_JOB_NONE: none; else failed or
 * timed_out). A lost job ends the run lost, a cancelled one cancelled; a failed or timed_out one
 * (out of attempts) marks the run as failed (the first such failure decides the final state) and
 * ends it now when on_failure is abort, else the run goes on. */
struct yd_outcome yd_step_outcome(const struct yd_host_last *hosts, size_t n, int attempts,
				  enum rb_on_failure on_failure, enum yd_job_result failed_before);

/* The final state of a run whose steps are all done: succeeded, or its first failure's. */
enum yd_run_state yd_run_end(enum yd_job_result failed_before);

/* The run state a job result ends a run in (failed, timed_out, cancelled, lost). */
enum yd_run_state yd_run_state_of(enum yd_job_result r);

#endif
