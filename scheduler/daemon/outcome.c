/*
 * outcome.c: what a step's jobs mean for their run: wait, go on, or end (and in which state).
 *
 * The one idea: this is the only place the rule is written. The run path asks it when a step's
 * jobs have ended (runs.c), reconcile asks it for each step already done (reconcile.c), and the
 * unit tests (tests/unit/daemon/test_outcome.c) go through every combination; so it does no I/O
 * and knows nothing of the daemon's state. Job results are an enum here and words only at the
 * database's boundary (yd_job_result_name, yd_job_result_parse).
 */
#include "outcome.h"

#include <string.h>

static const char *const result_names[] = {
	[YD_JOB_NONE] = "", [YD_JOB_SUCCEEDED] = "succeeded", [YD_JOB_FAILED] = "failed",
	[YD_JOB_TIMED_OUT] = "timed_out", [YD_JOB_CANCELLED] = "cancelled", [YD_JOB_LOST] = "lost",
};

const char *yd_job_result_name(enum yd_job_result r)
{
	return (size_t)r < sizeof(result_names) / sizeof(*result_names) ? result_names[r] : "";
}

bool yd_job_result_parse(const char *s, enum yd_job_result *out)
{
	static const char *const not_ended[] = { "pending", "dispatched", "running" };
	for (size_t i = 0; i < sizeof(not_ended) / sizeof(*not_ended); i++)
		if (!strcmp(s, not_ended[i])) {
			*out = YD_JOB_NONE;
			return true;
		}
	for (size_t i = YD_JOB_SUCCEEDED; i < sizeof(result_names) / sizeof(*result_names); i++)
		if (!strcmp(s, result_names[i])) {
			*out = (enum yd_job_result)i;
			return true;
		}
	return false;
}

bool yd_job_retries(enum yd_job_result r, int attempt, int attempts)
{
	return (r == YD_JOB_FAILED || r == YD_JOB_TIMED_OUT) && attempt < attempts;
}

/* The order of badness: a step's worst result decides. */
static int rank(enum yd_job_result r)
{
	switch (r) {
	case YD_JOB_CANCELLED:
		return 1;
	case YD_JOB_FAILED:
		return 2;
	case YD_JOB_TIMED_OUT:
		return 3;
	case YD_JOB_LOST:
		return 4;
	default:
		return 0;
	}
}

enum yd_run_state yd_run_state_of(enum yd_job_result r)
{
	switch (r) {
	case YD_JOB_TIMED_OUT:
		return RS_TIMED_OUT;
	case YD_JOB_CANCELLED:
		return RS_CANCELLED;
	case YD_JOB_LOST:
		return RS_LOST;
	case YD_JOB_SUCCEEDED:
		return RS_SUCCEEDED;
	default:
		return RS_FAILED;
	}
}

struct yd_outcome yd_step_outcome(const struct yd_host_last *hosts, size_t n, int attempts,
				  enum rb_on_failure on_failure, enum yd_job_result failed_before)
{
	struct yd_outcome o = { .next = YD_STEP_NEXT, .worst = YD_JOB_SUCCEEDED };
	for (size_t h = 0; h < n; h++) {
		if (hosts[h].result == YD_JOB_NONE ||
		    yd_job_retries(hosts[h].result, hosts[h].attempt, attempts)) {
			o.next = YD_STEP_WAIT;
			continue;
		}
		if (rank(hosts[h].result) > rank(o.worst)) {
			o.worst = hosts[h].result;
			o.worst_host = h;
		}
	}
	if (o.next == YD_STEP_WAIT || o.worst == YD_JOB_SUCCEEDED)
		return o;
	if (o.worst == YD_JOB_LOST || o.worst == YD_JOB_CANCELLED) {
		o.next = YD_STEP_END;
		o.end = yd_run_state_of(o.worst);
		o.step_reason = true;
		return o;
	}
	o.records_failure = failed_before == YD_JOB_NONE;
	if (on_failure == RB_ON_FAILURE_ABORT) {
		o.next = YD_STEP_END;
		o.end = yd_run_state_of(o.records_failure ? o.worst : failed_before);
	}
	return o;
}

enum yd_run_state yd_run_end(enum yd_job_result failed_before)
{
	return failed_before == YD_JOB_NONE ? RS_SUCCEEDED : yd_run_state_of(failed_before);
}
