/*
 * reconcile.c: a new leader takes over the runs in flight from what the database holds.
 *
 * The one idea: the rows are the truth. Each run in flight is rebuilt in memory from its row and
 * its jobs' rows: finished steps say whether the run already failed (outcome.c, the same rule the
 * run path uses), and the current step's jobs still dispatched or running are re-attached on their
 * runners at the stored end of their output (or START is sent again when it may never have
 * arrived: a runner that has the job answers "exists" and is followed instead). A job is followed
 * by the runner id its row holds, with the spec digest the runner gave (never an id rebuilt from
 * positions), and the lost jobs that still hold their run's slot come back too (lost.c).
 */
#include "yoband.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- reconcile ----------------------------------------------------------------------------- */

/* Rows from..to of jobs (j.id, step_index, host, attempt, ...; by step, attempt, id) are one
 * run's: did a step before max_step fail, and the run went on? The same rule as the run path
 * (outcome.c) over the last attempt on each host; the first such step is the run's failure. */
static void earlier_failure(struct yd_run *run, const struct rb_runbook *rb, struct db_result *jobs,
			    int from, int to, int max_step)
{
	struct yd_host_last *lasts = xcalloc((size_t)(to - from) + 1, sizeof(*lasts));
	const char **names = xcalloc((size_t)(to - from) + 1, sizeof(*names));
	for (int s = 0; s < max_step && run->failed == YD_JOB_NONE && (size_t)s < rb->n_steps; s++) {
		size_t n = 0;
		for (int i = from; i < to; i++) {
			if (atoi(db_result_get(jobs, i, 1)) != s)
				continue;
			const char *host = db_result_get(jobs, i, 2);
			size_t k = 0;
			while (k < n && strcmp(names[k], host))
				k++;
			if (k == n)
				names[n++] = host;
			/* in attempt order: the last attempt decides */
			if (!yd_job_result_parse(db_result_get(jobs, i, 5), &lasts[k].result))
				lasts[k].result = YD_JOB_FAILED;
			lasts[k].attempt = atoi(db_result_get(jobs, i, 3));
		}
		/* The step is over (the run went past it): no attempt is left to wait for. */
		struct yd_outcome o = yd_step_outcome(lasts, n, 0, RB_ON_FAILURE_CONTINUE, YD_JOB_NONE);
		if (o.records_failure) {
			run->failed = o.worst;
			run->fail_reason = xasprintf("step '%s' %s on host '%s'", rb->steps[s].name,
						     yd_job_result_name(o.worst), names[o.worst_host]);
		}
	}
	free(lasts);
	free(names);
}

/* One run in flight (row of runs), with its jobs' rows from..to of jobs. */
static void reconcile_run(struct yd *d, struct db_result *runs, int row, struct db_result *jobs,
			  int from, int to)
{
	struct yb_err err = { 0 };
	int64_t id = strtoll(db_result_get(runs, row, 0), NULL, 10);
	const char *runbook = db_result_get(runs, row, 1);
	const char *rev_id = db_result_get(runs, row, 2);
	bool staging = !strcmp(db_result_get(runs, row, 3), "staging");
	const char *trigger = db_result_get(runs, row, 4);
	const char *sched = db_result_get(runs, row, 5);
	enum yd_run_state state = yd_run_state_parse(db_result_get(runs, row, 6));
	const char *params_text = db_result_get(runs, row, 7);
	const char *from_step = db_result_get(runs, row, 8);
	struct yb_json *params = NULL;
	if (yb_json_parse(params_text, strlen(params_text), &params, &err) < 0)
		params = yb_json_object();
	struct yd_rev *rev = rev_id ? yd_rev_by_id(d, strtoll(rev_id, NULL, 10), runbook, &err) : NULL;
	if (!rev_id)
		yb_err_set(&err, YB_ENOENT, "the run has no revision");
	struct yd_run *run = yd_run_new(d, id, runbook, rev, staging, trigger,
				     sched ? strtoll(sched, NULL, 10) : yd_now_s(), params, state);
	yd_log("reconcile: run %lld (%s) was %s", (long long)id, runbook, yd_run_state_name(state));
	if (!rev) {
		/* Nothing to execute from: end it with the reason rather than leave it in flight. */
		char *why = xasprintf("cannot be resumed: %s", err.msg);
		char rid[24];
		const char *p[] = { yd_idtext(rid, id), yd_run_state_name(state), why };
		yd_exec(d, "SELECT yoban.yoban_run_transition($1::bigint, $2::yoban.run_state, 'failed', $3)",
			3, p, NULL, NULL);
		yd_log("run %lld: %s", (long long)id, why);
		free(why);
		run->state = RS_FAILED;
		return;
	}
	const struct rb_runbook *rb = rev->rb;
	if ((state == RS_PENDING || state == RS_QUEUED) &&
	    (!strcmp(trigger, "schedule") || !strcmp(trigger, "catchup"))) {
		/* Held or skipped by a maintenance window: decided again, as the fire did. */
		const struct rb_maintenance *m = yd_maintenance_at(d, runbook, run->scheduled_for);
		if (m && m->action == RB_MAINT_HOLD) {
			run->hold_until = m->to;
		} else if (m && state == RS_PENDING) {
			char *why = xasprintf("in maintenance window '%s' (skip)", m->name);
			yd_run_finish(d, run, RS_SKIPPED, why);
			free(why);
			return;
		}
	}
	if (from_step)
		yd_step_index(rb, from_step, &run->step);
	int max_step = -1;
	for (int i = from; i < to; i++) {
		int s = atoi(db_result_get(jobs, i, 1));
		if (s > max_step)
			max_step = s;
	}
	size_t n_hosts;
	char **hosts = yd_run_hosts(run, &n_hosts);
	if (max_step >= 0) {
		run->step = max_step;
		earlier_failure(run, rb, jobs, from, to, max_step);
		for (int i = from; i < to; i++) {
			if (atoi(db_result_get(jobs, i, 1)) != max_step)
				continue;
			const char *host = db_result_get(jobs, i, 2);
			int h = -1;
			for (size_t k = 0; k < n_hosts; k++)
				if (!strcmp(hosts[k], host))
					h = (int)k;
			if (h < 0)
				continue;
			struct yd_job *j = yd_job_add(run, h, host, atoi(db_result_get(jobs, i, 3)));
			j->id = strtoll(db_result_get(jobs, i, 0), NULL, 10);
			if (db_result_get(jobs, i, 4))
				snprintf(j->runner_id, sizeof(j->runner_id), "%s", db_result_get(jobs, i, 4));
			if (db_result_get(jobs, i, 8))
				snprintf(j->spec_sha256, sizeof(j->spec_sha256), "%s", db_result_get(jobs, i, 8));
			const char *js = db_result_get(jobs, i, 5);
			j->queued = strtoull(db_result_get(jobs, i, 6), NULL, 10);
			enum yd_job_result result;
			if (!yd_job_result_parse(js, &result))
				result = YD_JOB_FAILED; /* not a job_state: cannot happen */
			if (result != YD_JOB_NONE) {
				j->phase = JP_DONE;
				j->result = result;
				continue;
			}
			if (!j->runner_id[0]) {
				yd_job_fail_now(d, j, YD_JOB_FAILED, "the job row has no runner id");
				continue;
			}
			struct yd_conn *c = yd_conn_get(d, host, &err);
			if (!c) {
				yd_job_fail_now(d, j, YD_JOB_FAILED, err.msg);
				continue;
			}
			j->phase = JP_LIVE;
			j->acked = !strcmp(js, "running");
			if (!j->acked && j->queued == 0) {
				/* START may never have reached the runner: send it again; a runner that has
				 * the job answers "exists" and the client follows it instead. */
				struct yb_json *spec = yd_job_spec(d, run, &rb->steps[max_step], j, &err);
				if (!spec || rclient_start(c->rc, j->runner_id, spec, &err) < 0)
					yd_job_fail_now(d, j, YD_JOB_FAILED, err.msg);
				yb_json_free(spec);
				yd_log("reconcile: job %s re-sent to host '%s'", j->runner_id, host);
			} else {
				rclient_attach_spec(c->rc, j->runner_id, j->queued,
						    j->spec_sha256[0] ? j->spec_sha256 : NULL, &err);
				yd_log("reconcile: job %s re-attached on host '%s' at offset %llu", j->runner_id,
				       host, (unsigned long long)j->queued);
			}
		}
	}
	if (state == RS_RUNNING || state == RS_CANCELLING)
		run->cancel_sent = false;
}

/* Grouped: one statement reads the runs in flight, one the jobs of all of them (in run order,
 * merged here), so a takeover costs two statements however many runs are in flight. */
void yd_reconcile(struct yd *d)
{
	struct db_result *runs = NULL, *jobs = NULL;
	if (yd_exec(d, "SELECT id, runbook, revision_id, mode, trigger, "
		       "extract(epoch FROM scheduled_for)::bigint, state, params::text, rerun_from_step "
		       "FROM yoban.runs WHERE state IN ('pending', 'queued', 'running', 'cancelling') "
		       "ORDER BY id", 0, NULL, &runs, NULL) < 0)
		return;
	int n = db_result_rows(runs);
	if (n) {
		yd_log("reconcile: %d run(s) in flight", n);
		struct yb_buf ids;
		yd_arr_open(&ids);
		for (int i = 0; i < n; i++)
			yd_arr_add(&ids, db_result_get(runs, i, 0));
		yb_buf_append(&ids, "}", 1);
		const char *p[] = { ids.data };
		/* Columns 0-6 as reconcile_run and earlier_failure read them, the run last. */
		int rc = yd_exec(d, "SELECT j.id, j.step_index, j.host, j.attempt, j.runner_job_id, "
				 "j.state, coalesce((SELECT max(c.\"offset\" + c.raw_len) FROM "
				 "yoban.output_chunks c WHERE c.job_id = j.id), 0), j.run_id, j.spec_sha256 "
				 "FROM yoban.jobs j "
				 "WHERE j.run_id = ANY($1::bigint[]) "
				 "ORDER BY j.run_id, j.step_index, j.attempt, j.id", 1, p, &jobs, NULL);
		yb_buf_release(&ids);
		if (rc < 0) {
			db_result_free(runs);
			return;
		}
	}
	int nj = n ? db_result_rows(jobs) : 0, k = 0;
	for (int i = 0; i < n && !d->db_broken; i++) {
		int64_t id = strtoll(db_result_get(runs, i, 0), NULL, 10);
		while (k < nj && strtoll(db_result_get(jobs, k, 7), NULL, 10) < id)
			k++;
		int from = k;
		while (k < nj && strtoll(db_result_get(jobs, k, 7), NULL, 10) == id)
			k++;
		reconcile_run(d, runs, i, jobs, from, k);
	}
	db_result_free(jobs);
	db_result_free(runs);
	if (!d->db_broken)
		yd_lost_reload(d);
	yd_runs_gc(d);
}
