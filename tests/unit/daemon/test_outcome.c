/*
 * test_outcome.c: what a step's jobs mean for their run (scheduler/daemon/outcome.c), the one rule
 * the run path and reconcile share.
 *
 * The single-host table goes through every combination the daemon knows: each job result (not
 * ended, succeeded, failed, timed_out, cancelled, lost) x on_failure (abort, continue) x an attempt
 * left or not x the run's earlier failure (none, failed, timed_out); its expectations are written
 * out from the rule in docs/daemon.md, not computed. Then several hosts (which result is worst,
 * which host is named), the end of a run, and the words at the database's boundary.
 */
#include "outcome.h"

#include <check.h>
#include <stdlib.h>

struct row {
	enum yd_job_result result;
	enum rb_on_failure on_failure;
	int attempt_left;
	enum yd_job_result before;
	enum yd_step_next next;
	enum yd_run_state end;   /* when next is YD_STEP_END */
	int records, step_reason;
};

static const struct row table[] = {
	{ YD_JOB_NONE, RB_ON_FAILURE_ABORT, 0, YD_JOB_NONE, YD_STEP_WAIT, 0, 0, 0 },
	{ YD_JOB_NONE, RB_ON_FAILURE_ABORT, 0, YD_JOB_FAILED, YD_STEP_WAIT, 0, 0, 0 },
	{ YD_JOB_NONE, RB_ON_FAILURE_ABORT, 0, YD_JOB_TIMED_OUT, YD_STEP_WAIT, 0, 0, 0 },
	{ YD_JOB_NONE, RB_ON_FAILURE_ABORT, 1, YD_JOB_NONE, YD_STEP_WAIT, 0, 0, 0 },
	{ YD_JOB_NONE, RB_ON_FAILURE_ABORT, 1, YD_JOB_FAILED, YD_STEP_WAIT, 0, 0, 0 },
	{ YD_JOB_NONE, RB_ON_FAILURE_ABORT, 1, YD_JOB_TIMED_OUT, YD_STEP_WAIT, 0, 0, 0 },
	{ YD_JOB_NONE, RB_ON_FAILURE_CONTINUE, 0, YD_JOB_NONE, YD_STEP_WAIT, 0, 0, 0 },
	{ YD_JOB_NONE, RB_ON_FAILURE_CONTINUE, 0, YD_JOB_FAILED, YD_STEP_WAIT, 0, 0, 0 },
	{ YD_JOB_NONE, RB_ON_FAILURE_CONTINUE, 0, YD_JOB_TIMED_OUT, YD_STEP_WAIT, 0, 0, 0 },
	{ YD_JOB_NONE, RB_ON_FAILURE_CONTINUE, 1, YD_JOB_NONE, YD_STEP_WAIT, 0, 0, 0 },
	{ YD_JOB_NONE, RB_ON_FAILURE_CONTINUE, 1, YD_JOB_FAILED, YD_STEP_WAIT, 0, 0, 0 },
	{ YD_JOB_NONE, RB_ON_FAILURE_CONTINUE, 1, YD_JOB_TIMED_OUT, YD_STEP_WAIT, 0, 0, 0 },
	{ YD_JOB_SUCCEEDED, RB_ON_FAILURE_ABORT, 0, YD_JOB_NONE, YD_STEP_NEXT, 0, 0, 0 },
	{ YD_JOB_SUCCEEDED, RB_ON_FAILURE_ABORT, 0, YD_JOB_FAILED, YD_STEP_NEXT, 0, 0, 0 },
	{ YD_JOB_SUCCEEDED, RB_ON_FAILURE_ABORT, 0, YD_JOB_TIMED_OUT, YD_STEP_NEXT, 0, 0, 0 },
	{ YD_JOB_SUCCEEDED, RB_ON_FAILURE_ABORT, 1, YD_JOB_NONE, YD_STEP_NEXT, 0, 0, 0 },
	{ YD_JOB_SUCCEEDED, RB_ON_FAILURE_ABORT, 1, YD_JOB_FAILED, YD_STEP_NEXT, 0, 0, 0 },
	{ YD_JOB_SUCCEEDED, RB_ON_FAILURE_ABORT, 1, YD_JOB_TIMED_OUT, YD_STEP_NEXT, 0, 0, 0 },
	{ YD_JOB_SUCCEEDED, RB_ON_FAILURE_CONTINUE, 0, YD_JOB_NONE, YD_STEP_NEXT, 0, 0, 0 },
	{ YD_JOB_SUCCEEDED, RB_ON_FAILURE_CONTINUE, 0, YD_JOB_FAILED, YD_STEP_NEXT, 0, 0, 0 },
	{ YD_JOB_SUCCEEDED, RB_ON_FAILURE_CONTINUE, 0, YD_JOB_TIMED_OUT, YD_STEP_NEXT, 0, 0, 0 },
	{ YD_JOB_SUCCEEDED, RB_ON_FAILURE_CONTINUE, 1, YD_JOB_NONE, YD_STEP_NEXT, 0, 0, 0 },
	{ YD_JOB_SUCCEEDED, RB_ON_FAILURE_CONTINUE, 1, YD_JOB_FAILED, YD_STEP_NEXT, 0, 0, 0 },
	{ YD_JOB_SUCCEEDED, RB_ON_FAILURE_CONTINUE, 1, YD_JOB_TIMED_OUT, YD_STEP_NEXT, 0, 0, 0 },
	{ YD_JOB_FAILED, RB_ON_FAILURE_ABORT, 0, YD_JOB_NONE, YD_STEP_END, RS_FAILED, 1, 0 },
	{ YD_JOB_FAILED, RB_ON_FAILURE_ABORT, 0, YD_JOB_FAILED, YD_STEP_END, RS_FAILED, 0, 0 },
	{ YD_JOB_FAILED, RB_ON_FAILURE_ABORT, 0, YD_JOB_TIMED_OUT, YD_STEP_END, RS_TIMED_OUT, 0, 0 },
	{ YD_JOB_FAILED, RB_ON_FAILURE_ABORT, 1, YD_JOB_NONE, YD_STEP_WAIT, 0, 0, 0 },
	{ YD_JOB_FAILED, RB_ON_FAILURE_ABORT, 1, YD_JOB_FAILED, YD_STEP_WAIT, 0, 0, 0 },
	{ YD_JOB_FAILED, RB_ON_FAILURE_ABORT, 1, YD_JOB_TIMED_OUT, YD_STEP_WAIT, 0, 0, 0 },
	{ YD_JOB_FAILED, RB_ON_FAILURE_CONTINUE, 0, YD_JOB_NONE, YD_STEP_NEXT, 0, 1, 0 },
	{ YD_JOB_FAILED, RB_ON_FAILURE_CONTINUE, 0, YD_JOB_FAILED, YD_STEP_NEXT, 0, 0, 0 },
	{ YD_JOB_FAILED, RB_ON_FAILURE_CONTINUE, 0, YD_JOB_TIMED_OUT, YD_STEP_NEXT, 0, 0, 0 },
	{ YD_JOB_FAILED, RB_ON_FAILURE_CONTINUE, 1, YD_JOB_NONE, YD_STEP_WAIT, 0, 0, 0 },
	{ YD_JOB_FAILED, RB_ON_FAILURE_CONTINUE, 1, YD_JOB_FAILED, YD_STEP_WAIT, 0, 0, 0 },
	{ YD_JOB_FAILED, RB_ON_FAILURE_CONTINUE, 1, YD_JOB_TIMED_OUT, YD_STEP_WAIT, 0, 0, 0 },
	{ YD_JOB_TIMED_OUT, RB_ON_FAILURE_ABORT, 0, YD_JOB_NONE, YD_STEP_END, RS_TIMED_OUT, 1, 0 },
	{ YD_JOB_TIMED_OUT, RB_ON_FAILURE_ABORT, 0, YD_JOB_FAILED, YD_STEP_END, RS_FAILED, 0, 0 },
	{ YD_JOB_TIMED_OUT, RB_ON_FAILURE_ABORT, 0, YD_JOB_TIMED_OUT, YD_STEP_END, RS_TIMED_OUT, 0, 0 },
	{ YD_JOB_TIMED_OUT, RB_ON_FAILURE_ABORT, 1, YD_JOB_NONE, YD_STEP_WAIT, 0, 0, 0 },
	{ YD_JOB_TIMED_OUT, RB_ON_FAILURE_ABORT, 1, YD_JOB_FAILED, YD_STEP_WAIT, 0, 0, 0 },
	{ YD_JOB_TIMED_OUT, RB_ON_FAILURE_ABORT, 1, YD_JOB_TIMED_OUT, YD_STEP_WAIT, 0, 0, 0 },
	{ YD_JOB_TIMED_OUT, RB_ON_FAILURE_CONTINUE, 0, YD_JOB_NONE, YD_STEP_NEXT, 0, 1, 0 },
	{ YD_JOB_TIMED_OUT, RB_ON_FAILURE_CONTINUE, 0, YD_JOB_FAILED, YD_STEP_NEXT, 0, 0, 0 },
	{ YD_JOB_TIMED_OUT, RB_ON_FAILURE_CONTINUE, 0, YD_JOB_TIMED_OUT, YD_STEP_NEXT, 0, 0, 0 },
	{ YD_JOB_TIMED_OUT, RB_ON_FAILURE_CONTINUE, 1, YD_JOB_NONE, YD_STEP_WAIT, 0, 0, 0 },
	{ YD_JOB_TIMED_OUT, RB_ON_FAILURE_CONTINUE, 1, YD_JOB_FAILED, YD_STEP_WAIT, 0, 0, 0 },
	{ YD_JOB_TIMED_OUT, RB_ON_FAILURE_CONTINUE, 1, YD_JOB_TIMED_OUT, YD_STEP_WAIT, 0, 0, 0 },
	{ YD_JOB_CANCELLED, RB_ON_FAILURE_ABORT, 0, YD_JOB_NONE, YD_STEP_END, RS_CANCELLED, 0, 1 },
	{ YD_JOB_CANCELLED, RB_ON_FAILURE_ABORT, 0, YD_JOB_FAILED, YD_STEP_END, RS_CANCELLED, 0, 1 },
	{ YD_JOB_CANCELLED, RB_ON_FAILURE_ABORT, 0, YD_JOB_TIMED_OUT, YD_STEP_END, RS_CANCELLED, 0, 1 },
	{ YD_JOB_CANCELLED, RB_ON_FAILURE_ABORT, 1, YD_JOB_NONE, YD_STEP_END, RS_CANCELLED, 0, 1 },
	{ YD_JOB_CANCELLED, RB_ON_FAILURE_ABORT, 1, YD_JOB_FAILED, YD_STEP_END, RS_CANCELLED, 0, 1 },
	{ YD_JOB_CANCELLED, RB_ON_FAILURE_ABORT, 1, YD_JOB_TIMED_OUT, YD_STEP_END, RS_CANCELLED, 0, 1 },
	{ YD_JOB_CANCELLED, RB_ON_FAILURE_CONTINUE, 0, YD_JOB_NONE, YD_STEP_END, RS_CANCELLED, 0, 1 },
	{ YD_JOB_CANCELLED, RB_ON_FAILURE_CONTINUE, 0, YD_JOB_FAILED, YD_STEP_END, RS_CANCELLED, 0, 1 },
	{ YD_JOB_CANCELLED, RB_ON_FAILURE_CONTINUE, 0, YD_JOB_TIMED_OUT, YD_STEP_END, RS_CANCELLED, 0, 1 },
	{ YD_JOB_CANCELLED, RB_ON_FAILURE_CONTINUE, 1, YD_JOB_NONE, YD_STEP_END, RS_CANCELLED, 0, 1 },
	{ YD_JOB_CANCELLED, RB_ON_FAILURE_CONTINUE, 1, YD_JOB_FAILED, YD_STEP_END, RS_CANCELLED, 0, 1 },
	{ YD_JOB_CANCELLED, RB_ON_FAILURE_CONTINUE, 1, YD_JOB_TIMED_OUT, YD_STEP_END, RS_CANCELLED, 0, 1 },
	{ YD_JOB_LOST, RB_ON_FAILURE_ABORT, 0, YD_JOB_NONE, YD_STEP_END, RS_LOST, 0, 1 },
	{ YD_JOB_LOST, RB_ON_FAILURE_ABORT, 0, YD_JOB_FAILED, YD_STEP_END, RS_LOST, 0, 1 },
	{ YD_JOB_LOST, RB_ON_FAILURE_ABORT, 0, YD_JOB_TIMED_OUT, YD_STEP_END, RS_LOST, 0, 1 },
	{ YD_JOB_LOST, RB_ON_FAILURE_ABORT, 1, YD_JOB_NONE, YD_STEP_END, RS_LOST, 0, 1 },
	{ YD_JOB_LOST, RB_ON_FAILURE_ABORT, 1, YD_JOB_FAILED, YD_STEP_END, RS_LOST, 0, 1 },
	{ YD_JOB_LOST, RB_ON_FAILURE_ABORT, 1, YD_JOB_TIMED_OUT, YD_STEP_END, RS_LOST, 0, 1 },
	{ YD_JOB_LOST, RB_ON_FAILURE_CONTINUE, 0, YD_JOB_NONE, YD_STEP_END, RS_LOST, 0, 1 },
	{ YD_JOB_LOST, RB_ON_FAILURE_CONTINUE, 0, YD_JOB_FAILED, YD_STEP_END, RS_LOST, 0, 1 },
	{ YD_JOB_LOST, RB_ON_FAILURE_CONTINUE, 0, YD_JOB_TIMED_OUT, YD_STEP_END, RS_LOST, 0, 1 },
	{ YD_JOB_LOST, RB_ON_FAILURE_CONTINUE, 1, YD_JOB_NONE, YD_STEP_END, RS_LOST, 0, 1 },
	{ YD_JOB_LOST, RB_ON_FAILURE_CONTINUE, 1, YD_JOB_FAILED, YD_STEP_END, RS_LOST, 0, 1 },
	{ YD_JOB_LOST, RB_ON_FAILURE_CONTINUE, 1, YD_JOB_TIMED_OUT, YD_STEP_END, RS_LOST, 0, 1 },
};

START_TEST(test_every_single_host_combination)
{
	ck_assert_uint_eq(sizeof(table) / sizeof(*table), 6 * 2 * 2 * 3);
	for (size_t i = 0; i < sizeof(table) / sizeof(*table); i++) {
		const struct row *t = &table[i];
		/* attempt 2 of 3 (one left) or 3 of 3 (none) */
		struct yd_host_last h = { t->result, t->attempt_left ? 2 : 3 };
		struct yd_outcome o = yd_step_outcome(&h, 1, 3, t->on_failure, t->before);
		ck_assert_msg(o.next == t->next, "row %zu: next %d, want %d", i, o.next, t->next);
		if (t->next == YD_STEP_END)
			ck_assert_msg(o.end == t->end, "row %zu: end %d, want %d", i, o.end, t->end);
		if (t->next != YD_STEP_WAIT) {
			ck_assert_msg(o.worst == t->result, "row %zu: worst %d", i, o.worst);
			ck_assert_uint_eq(o.worst_host, 0);
		}
		ck_assert_msg(o.records_failure == t->records, "row %zu: records %d", i, o.records_failure);
		ck_assert_msg(o.step_reason == t->step_reason, "row %zu: step_reason %d", i, o.step_reason);
	}
}
END_TEST

static struct yd_outcome step(const enum yd_job_result *r, size_t n, int attempts,
			      enum rb_on_failure of, enum yd_job_result before)
{
	struct yd_host_last h[8];
	for (size_t i = 0; i < n; i++)
		h[i] = (struct yd_host_last){ r[i], 1 };
	return yd_step_outcome(h, n, attempts, of, before);
}

START_TEST(test_all_succeeded_goes_on)
{
	enum yd_job_result r[] = { YD_JOB_SUCCEEDED, YD_JOB_SUCCEEDED, YD_JOB_SUCCEEDED };
	struct yd_outcome o = step(r, 3, 1, RB_ON_FAILURE_ABORT, YD_JOB_NONE);
	ck_assert_int_eq(o.next, YD_STEP_NEXT);
	ck_assert_int_eq(o.worst, YD_JOB_SUCCEEDED);
	ck_assert(!o.records_failure);
	ck_assert_int_eq(yd_run_end(YD_JOB_NONE), RS_SUCCEEDED);
}
END_TEST

START_TEST(test_one_failed_abort_ends_the_run)
{
	enum yd_job_result r[] = { YD_JOB_SUCCEEDED, YD_JOB_FAILED, YD_JOB_SUCCEEDED };
	struct yd_outcome o = step(r, 3, 1, RB_ON_FAILURE_ABORT, YD_JOB_NONE);
	ck_assert_int_eq(o.next, YD_STEP_END);
	ck_assert_int_eq(o.end, RS_FAILED);
	ck_assert_int_eq(o.worst, YD_JOB_FAILED);
	ck_assert_uint_eq(o.worst_host, 1);
	ck_assert(o.records_failure);
	ck_assert(!o.step_reason);
}
END_TEST

START_TEST(test_one_failed_continue_goes_on_and_the_run_fails_at_the_end)
{
	enum yd_job_result r[] = { YD_JOB_FAILED, YD_JOB_SUCCEEDED };
	struct yd_outcome o = step(r, 2, 1, RB_ON_FAILURE_CONTINUE, YD_JOB_NONE);
	ck_assert_int_eq(o.next, YD_STEP_NEXT);
	ck_assert(o.records_failure);
	ck_assert_int_eq(o.worst, YD_JOB_FAILED);
	/* the next step succeeds: nothing new recorded, the run still ends failed */
	enum yd_job_result ok[] = { YD_JOB_SUCCEEDED, YD_JOB_SUCCEEDED };
	o = step(ok, 2, 1, RB_ON_FAILURE_ABORT, YD_JOB_FAILED);
	ck_assert_int_eq(o.next, YD_STEP_NEXT);
	ck_assert(!o.records_failure);
	ck_assert_int_eq(yd_run_end(YD_JOB_FAILED), RS_FAILED);
}
END_TEST

START_TEST(test_timeout)
{
	enum yd_job_result r[] = { YD_JOB_SUCCEEDED, YD_JOB_TIMED_OUT };
	struct yd_outcome o = step(r, 2, 1, RB_ON_FAILURE_ABORT, YD_JOB_NONE);
	ck_assert_int_eq(o.next, YD_STEP_END);
	ck_assert_int_eq(o.end, RS_TIMED_OUT);
	ck_assert_uint_eq(o.worst_host, 1);
	o = step(r, 2, 1, RB_ON_FAILURE_CONTINUE, YD_JOB_NONE);
	ck_assert_int_eq(o.next, YD_STEP_NEXT);
	ck_assert_int_eq(yd_run_end(o.worst), RS_TIMED_OUT);
}
END_TEST

START_TEST(test_lost_ends_the_run_even_with_continue)
{
	enum yd_job_result r[] = { YD_JOB_SUCCEEDED, YD_JOB_LOST };
	struct yd_outcome o = step(r, 2, 3, RB_ON_FAILURE_CONTINUE, YD_JOB_FAILED);
	ck_assert_int_eq(o.next, YD_STEP_END);
	ck_assert_int_eq(o.end, RS_LOST);
	ck_assert(o.step_reason);
	ck_assert(!o.records_failure);
}
END_TEST

START_TEST(test_cancelled_ends_the_run_cancelled)
{
	enum yd_job_result r[] = { YD_JOB_CANCELLED, YD_JOB_SUCCEEDED };
	struct yd_outcome o = step(r, 2, 1, RB_ON_FAILURE_CONTINUE, YD_JOB_NONE);
	ck_assert_int_eq(o.next, YD_STEP_END);
	ck_assert_int_eq(o.end, RS_CANCELLED);
	ck_assert(o.step_reason);
}
END_TEST

START_TEST(test_skipped_step_without_hosts_goes_on)
{
	/* No job result is "skipped" (the job_state type has none): a step with no jobs to wait
	 * for goes on, and "skipped" is no job state at the database's boundary. */
	struct yd_outcome o = yd_step_outcome(NULL, 0, 1, RB_ON_FAILURE_ABORT, YD_JOB_NONE);
	ck_assert_int_eq(o.next, YD_STEP_NEXT);
	ck_assert_int_eq(o.worst, YD_JOB_SUCCEEDED);
	enum yd_job_result r = YD_JOB_SUCCEEDED;
	ck_assert(!yd_job_result_parse("skipped", &r));
}
END_TEST

START_TEST(test_mixes_worst_decides_first_host_named)
{
	/* lost beats timed_out beats failed beats cancelled */
	enum yd_job_result a[] = { YD_JOB_FAILED, YD_JOB_LOST, YD_JOB_TIMED_OUT, YD_JOB_CANCELLED };
	struct yd_outcome o = step(a, 4, 1, RB_ON_FAILURE_CONTINUE, YD_JOB_NONE);
	ck_assert_int_eq(o.next, YD_STEP_END);
	ck_assert_int_eq(o.end, RS_LOST);
	ck_assert_uint_eq(o.worst_host, 1);

	enum yd_job_result b[] = { YD_JOB_CANCELLED, YD_JOB_FAILED, YD_JOB_SUCCEEDED };
	o = step(b, 3, 1, RB_ON_FAILURE_ABORT, YD_JOB_NONE);
	ck_assert_int_eq(o.worst, YD_JOB_FAILED);
	ck_assert_uint_eq(o.worst_host, 1);
	ck_assert_int_eq(o.end, RS_FAILED);

	enum yd_job_result c[] = { YD_JOB_FAILED, YD_JOB_TIMED_OUT, YD_JOB_FAILED };
	o = step(c, 3, 1, RB_ON_FAILURE_ABORT, YD_JOB_NONE);
	ck_assert_int_eq(o.worst, YD_JOB_TIMED_OUT);
	ck_assert_uint_eq(o.worst_host, 1);
	ck_assert_int_eq(o.end, RS_TIMED_OUT);

	enum yd_job_result e[] = { YD_JOB_TIMED_OUT, YD_JOB_TIMED_OUT };
	o = step(e, 2, 1, RB_ON_FAILURE_ABORT, YD_JOB_NONE);
	ck_assert_uint_eq(o.worst_host, 0);

	/* cancelled and failed under continue: failed is worse, the run goes on */
	enum yd_job_result f[] = { YD_JOB_CANCELLED, YD_JOB_FAILED };
	o = step(f, 2, 1, RB_ON_FAILURE_CONTINUE, YD_JOB_NONE);
	ck_assert_int_eq(o.next, YD_STEP_NEXT);
	ck_assert(o.records_failure);
}
END_TEST

START_TEST(test_mixes_wait_for_every_host)
{
	/* A host still running, or with an attempt left, holds the step even beside a lost job. */
	enum yd_job_result a[] = { YD_JOB_LOST, YD_JOB_NONE };
	ck_assert_int_eq(step(a, 2, 1, RB_ON_FAILURE_ABORT, YD_JOB_NONE).next, YD_STEP_WAIT);
	struct yd_host_last h[] = { { YD_JOB_LOST, 1 }, { YD_JOB_FAILED, 1 } };
	ck_assert_int_eq(yd_step_outcome(h, 2, 2, RB_ON_FAILURE_ABORT, YD_JOB_NONE).next, YD_STEP_WAIT);
	/* the last attempt failed too: now the lost job decides */
	h[1].attempt = 2;
	struct yd_outcome o = yd_step_outcome(h, 2, 2, RB_ON_FAILURE_ABORT, YD_JOB_NONE);
	ck_assert_int_eq(o.next, YD_STEP_END);
	ck_assert_int_eq(o.end, RS_LOST);
}
END_TEST

START_TEST(test_first_failure_decides_the_final_state)
{
	enum yd_job_result r[] = { YD_JOB_TIMED_OUT };
	struct yd_outcome o = step(r, 1, 1, RB_ON_FAILURE_ABORT, YD_JOB_FAILED);
	ck_assert_int_eq(o.next, YD_STEP_END);
	ck_assert_int_eq(o.end, RS_FAILED);
	ck_assert(!o.records_failure);
	ck_assert(!o.step_reason);
}
END_TEST

START_TEST(test_retries)
{
	ck_assert(yd_job_retries(YD_JOB_FAILED, 1, 2));
	ck_assert(yd_job_retries(YD_JOB_TIMED_OUT, 2, 3));
	ck_assert(!yd_job_retries(YD_JOB_FAILED, 2, 2));
	ck_assert(!yd_job_retries(YD_JOB_LOST, 1, 3));
	ck_assert(!yd_job_retries(YD_JOB_CANCELLED, 1, 3));
	ck_assert(!yd_job_retries(YD_JOB_SUCCEEDED, 1, 3));
}
END_TEST

START_TEST(test_words_at_the_database_boundary)
{
	static const struct {
		const char *word;
		enum yd_job_result r;
	} words[] = {
		{ "succeeded", YD_JOB_SUCCEEDED }, { "failed", YD_JOB_FAILED },
		{ "timed_out", YD_JOB_TIMED_OUT }, { "cancelled", YD_JOB_CANCELLED },
		{ "lost", YD_JOB_LOST },           { "pending", YD_JOB_NONE },
		{ "dispatched", YD_JOB_NONE },     { "running", YD_JOB_NONE },
	};
	for (size_t i = 0; i < sizeof(words) / sizeof(*words); i++) {
		enum yd_job_result r = YD_JOB_LOST;
		ck_assert_msg(yd_job_result_parse(words[i].word, &r), "%s", words[i].word);
		ck_assert_int_eq(r, words[i].r);
		if (r != YD_JOB_NONE)
			ck_assert_str_eq(yd_job_result_name(r), words[i].word);
	}
	enum yd_job_result r;
	ck_assert(!yd_job_result_parse("", &r));
	ck_assert(!yd_job_result_parse("Succeeded", &r));
	ck_assert_int_eq(yd_run_state_of(YD_JOB_LOST), RS_LOST);
	ck_assert_int_eq(yd_run_state_of(YD_JOB_CANCELLED), RS_CANCELLED);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("outcome");
	TCase *tc = tcase_create("outcome");
	tcase_add_test(tc, test_every_single_host_combination);
	tcase_add_test(tc, test_all_succeeded_goes_on);
	tcase_add_test(tc, test_one_failed_abort_ends_the_run);
	tcase_add_test(tc, test_one_failed_continue_goes_on_and_the_run_fails_at_the_end);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_lost_ends_the_run_even_with_continue);
	tcase_add_test(tc, test_cancelled_ends_the_run_cancelled);
	tcase_add_test(tc, test_skipped_step_without_hosts_goes_on);
	tcase_add_test(tc, test_mixes_worst_decides_first_host_named);
	tcase_add_test(tc, test_mixes_wait_for_every_host);
	tcase_add_test(tc, test_first_failure_decides_the_final_state);
	tcase_add_test(tc, test_retries);
	tcase_add_test(tc, test_words_at_the_database_boundary);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
