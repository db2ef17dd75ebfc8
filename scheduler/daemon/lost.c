/*
 * lost.c: lost is not free, unreachable is not forever (issue 8, §6).
 *
 * The one idea: a job is over when the runner says nothing of it is left, not when its journal is
 * gone. A job whose runner has no journal for it while processes carrying its marker still run
 * (unknown-running), or whose supervisor died leaving processes (a lost EXIT with "processes" > 0),
 * is recorded 'lost' with holds_slot: its run ends 'lost' but stays in memory, counted by
 * admission as the runbook's running run and as the holder of its locks. Every YD_PROBE_MS the
 * daemon ATTACHes to the id again; the runner answers unknown-running (still there) or unknown-job
 * (nothing left: the slot is released, released_by 'runner'). An operator may release it without
 * the runner's word (`yoban release RUN`, a request; released_by the login). A new leader takes
 * the holding jobs back from their rows (yd_lost_reload).
 *
 * Unreachable is not forever: a job whose START never went out on a connection (the host cannot be
 * reached) fails as unreachable at its dispatch deadline (the step's timeout), and a run being
 * cancelled cancels such a job at once instead of waiting for the host.
 */
#include "yoband.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool yd_run_holds(const struct yd_run *run)
{
	return yd_run_holder(run) != NULL;
}

struct yd_job *yd_run_holder(const struct yd_run *run)
{
	for (size_t i = 0; i < run->n_jobs; i++)
		if (run->jobs[i]->holds)
			return run->jobs[i];
	return NULL;
}

/* Merges obj (taken) under key into the job's evidence; holds_slot as given (NULL: unchanged). */
static void evidence_add(struct yd *d, const struct yd_job *j, const char *key, struct yb_json *obj)
{
	struct yb_json *o = yb_json_object();
	yb_json_set(o, key, obj);
	char *text = yb_json_dump(o, 0);
	yb_json_free(o);
	char jid[24];
	const char *p[] = { yd_idtext(jid, j->id), text };
	yd_async(d, "a job's evidence", false, "UPDATE yoban.jobs SET evidence = coalesce(evidence, "
		 "'{}') || $2::jsonb WHERE id = $1::bigint", 2, p);
	free(text);
}

/* What a frame said about the job's processes, for the evidence. */
static struct yb_json *said(const struct rclient_report *r)
{
	static const char *const keys[] = { "code", "op", "message", "processes", "pids", "killed" };
	struct yb_json *o = yb_json_object();
	for (size_t i = 0; r->frame && i < YB_ARRAY_LEN(keys); i++) {
		struct yb_json *v = yb_json_get(r->frame, keys[i]);
		if (v)
			yb_json_set(o, keys[i], yb_json_ref(v));
	}
	return o;
}

void yd_job_lost(struct yd *d, struct yd_job *j, struct yd_conn *c, const struct rclient_report *r)
{
	bool holds = !strcmp(r->code, "unknown-running");
	char *why = holds ?
		xasprintf("lost: the runner on '%s' has no journal for job '%s' (unknown-running), but "
			  "%lld process%s of it still run%s there: the run holds its slot and locks "
			  "until they end (or 'yoban release %lld')", c->host, j->runner_id,
			  (long long)r->processes, r->processes == 1 ? "" : "es",
			  r->processes == 1 ? "s" : "", (long long)j->run->id) :
		xasprintf("the runner on '%s' has no journal for job '%s' (unknown-job): its output and "
			  "exit are gone, and nothing of it runs there", c->host, j->runner_id);
	struct yb_json *ev = yb_json_object();
	yb_json_set(ev, "attach", said(r));
	char *text = yb_json_dump(ev, 0);
	yb_json_free(ev);
	char jid[24];
	const char *p[] = { yd_idtext(jid, j->id), why, text, holds ? "true" : "false" };
	yd_decide(d, "a lost job", "UPDATE yoban.jobs SET state = 'lost', error = $2, ended_at = now(), "
		  "evidence = coalesce(evidence, '{}') || $3::jsonb, holds_slot = $4::boolean "
		  "WHERE id = $1::bigint", 4, p, NULL, NULL, NULL);
	free(text);
	yb_json_free(j->spec);
	j->spec = NULL;
	j->phase = JP_DONE;
	j->result = YD_JOB_LOST;
	j->holds = holds;
	j->processes = r->processes;
	j->probe_at_ms = yb_mono_ms() + YD_PROBE_MS;
	yd_log("job %s (run %lld, host '%s'): %s", j->runner_id, (long long)j->run->id, c->host, why);
	free(why);
}

static struct yd_job *held_job(struct yd *d, const char *host, const char *job)
{
	for (struct yd_run *r = d->runs; r; r = r->next)
		for (size_t i = 0; i < r->n_jobs; i++) {
			struct yd_job *j = r->jobs[i];
			if (j->holds && !strcmp(j->runner_id, job) && !strcmp(j->host, host))
				return j;
		}
	return NULL;
}

/* One held job is over (by: "runner", or an operator's login). */
static void release_job(struct yd *d, struct yd_job *j, const char *by, const char *comment)
{
	j->holds = false;
	if (j->probing) {
		struct yd_conn *c = yd_conn_get(d, j->host, NULL);
		if (c)
			rclient_drop(c->rc, j->runner_id);
		j->probing = false;
	}
	char jid[24];
	const char *p[] = { yd_idtext(jid, j->id), by, comment };
	yd_async(d, "a job's release", false, "UPDATE yoban.jobs SET holds_slot = false, released_at = "
		 "now(), released_by = $2, release_comment = $3 WHERE id = $1::bigint", 3, p);
	yd_log("run %lld: job %s on '%s' no longer holds the run's slot and locks (released by %s%s%s)",
	       (long long)j->run->id, j->runner_id, j->host, by, comment ? ": " : "",
	       comment ? comment : "");
	d->advance_wanted = true;
}

void yd_run_release(struct yd *d, struct yd_run *run, const char *by, const char *comment)
{
	for (size_t i = 0; i < run->n_jobs; i++)
		if (run->jobs[i]->holds)
			release_job(d, run->jobs[i], by, comment);
}

bool yd_lost_report(struct yd *d, struct yd_conn *c, const char *job, const struct rclient_report *r)
{
	struct yd_job *j = held_job(d, c->host, job);
	if (!j)
		return false;
	if (r->op) {
		/* a CANCEL's answer for the leftovers (a journal that came back): by its count */
		evidence_add(d, j, "cancel", said(r));
		if (r->processes == 0)
			release_job(d, j, "runner", "the runner killed what was left of it");
		return true;
	}
	j->probing = false;
	j->probe_at_ms = yb_mono_ms() + YD_PROBE_MS;
	if (r->killed >= 0) {
		yd_log("run %lld: job %s on '%s': CANCEL killed %lld process%s, %lld left",
		       (long long)j->run->id, job, c->host, (long long)r->killed,
		       r->killed == 1 ? "" : "es", (long long)(r->processes > 0 ? r->processes : 0));
		evidence_add(d, j, "cancel", said(r));
		if (r->processes == 0)
			release_job(d, j, "runner", "the runner killed what was left of it");
		else
			j->processes = r->processes;
	} else if (!strcmp(r->code, "unknown-job")) {
		evidence_add(d, j, "released", said(r));
		release_job(d, j, "runner", "nothing of the job runs there any more");
	} else if (!strcmp(r->code, "unknown-running")) {
		if (r->processes != j->processes) {
			yd_log("run %lld: job %s on '%s': %lld process%s of it still run%s", (long long)j->run->id,
			       job, c->host, (long long)r->processes, r->processes == 1 ? "" : "es",
			       r->processes == 1 ? "s" : "");
			evidence_add(d, j, "probe", said(r));
			j->processes = r->processes;
		}
	} else {
		yd_log("run %lld: job %s on '%s': the runner answered %s (%s); still holding its slot",
		       (long long)j->run->id, job, c->host, r->code, r->message);
	}
	return true;
}

bool yd_lost_exit(struct yd *d, struct yd_conn *c, const char *job, const struct rclient_exit *ex)
{
	struct yd_job *j = held_job(d, c->host, job);
	if (!j)
		return false;
	/* its journal was still there: what it says now, and forgotten, so the next probe asks by
	 * the marker alone */
	j->probing = false;
	j->probe_at_ms = yb_mono_ms() + YD_PROBE_MS;
	rclient_forget(c->rc, job, NULL);
	if (ex->processes == 0)
		release_job(d, j, "runner", "nothing of the job runs there any more");
	return true;
}

void yd_run_kill_leftovers(struct yd *d, struct yd_run *run, const char *by)
{
	for (size_t i = 0; i < run->n_jobs; i++) {
		struct yd_job *j = run->jobs[i];
		if (!j->holds || j->phase != JP_DONE || j->exit_pending)
			continue;
		struct yd_conn *c = yd_conn_get(d, j->host, NULL);
		if (!c)
			continue;
		rclient_drop(c->rc, j->runner_id); /* a probe's answer is not waited for */
		struct yb_err err = { 0 };
		if (rclient_cancel_leftovers(c->rc, j->runner_id, j->spec_sha256[0] ? j->spec_sha256 :
					     NULL, &err) < 0) {
			yd_log("run %lld: cannot cancel what is left of job %s on '%s': %s",
			       (long long)run->id, j->runner_id, j->host, err.msg);
			j->probing = false;
			continue;
		}
		j->probing = true;
		yd_log("run %lld: %s asked to kill what is left of job %s on '%s'", (long long)run->id, by,
		       j->runner_id, j->host);
	}
}

/* A job that never reached its runner fails at its deadline; lost jobs holding a slot are asked
 * about again. */
void yd_jobs_check(struct yd *d)
{
	int64_t now = yb_mono_ms();
	for (struct yd_run *r = d->runs; r && !d->db_broken; r = r->next) {
		bool advance = false;
		for (size_t i = 0; i < r->n_jobs; i++) {
			struct yd_job *j = r->jobs[i];
			if (j->holds) {
				if (j->phase != JP_DONE || j->exit_pending)
					continue; /* its exit row first (then FORGET) */
				struct yd_conn *c = yd_conn_get(d, j->host, NULL);
				if (!c)
					continue;
				/* still followed: a probe out, or its FORGET not yet acknowledged */
				bool followed = rclient_job_offset(c->rc, j->runner_id) >= 0;
				if (j->probing && !followed)
					j->probing = false; /* the connection gave up and was made again */
				if (j->probing || followed || now < j->probe_at_ms)
					continue;
				j->probe_at_ms = now + YD_PROBE_MS;
				if (rclient_attach_spec(c->rc, j->runner_id, 0,
							j->spec_sha256[0] ? j->spec_sha256 : NULL, NULL) == 0)
					j->probing = true;
				continue;
			}
			if (yd_run_state_final(r->state) || j->phase != JP_LIVE || j->acked ||
			    j->exit_pending || !j->dispatch_by_ms || now < j->dispatch_by_ms)
				continue;
			struct yd_conn *c = yd_conn_get(d, j->host, NULL);
			if (c && (rclient_state(c->rc) == RC_READY ||
				  rclient_job_start_sent(c->rc, j->runner_id)))
				continue; /* it may have reached the runner: its ACK or EXIT will say */
			char dur[32];
			yb_format_duration(rb_step_timeout_ms(r->rev->rb, &r->rev->rb->steps[j->step_idx]),
					      dur, sizeof(dur));
			char *why = xasprintf("unreachable: the runner on host '%s' could not be reached within "
					      "%s (the step's timeout), so the job never started%s%s", j->host,
					      dur, c && c->last_error[0] ? ": " : "",
					      c && c->last_error[0] ? c->last_error : "");
			if (c)
				rclient_drop(c->rc, j->runner_id);
			yd_job_fail_now(d, j, YD_JOB_FAILED, why);
			free(why);
			advance = true;
		}
		if (advance)
			yd_run_advance(d, r);
	}
}

bool yd_job_cancel_unsent(struct yd *d, struct yd_job *j)
{
	struct yd_conn *c = yd_conn_get(d, j->host, NULL);
	if (c && (rclient_state(c->rc) == RC_READY || rclient_job_start_sent(c->rc, j->runner_id)))
		return false;
	char *why = xasprintf("cancelled before it reached the runner on host '%s' (unreachable%s%s)",
			      j->host, c && c->last_error[0] ? ": " : "",
			      c && c->last_error[0] ? c->last_error : "");
	if (c)
		rclient_drop(c->rc, j->runner_id);
	yd_job_fail_now(d, j, YD_JOB_CANCELLED, why);
	free(why);
	return true;
}

/* Reconcile: the lost jobs that still hold their run's slot, back in memory as a lost run that
 * admission counts, probed again from now. */
/* A column by name (the query below names them all). */
static const char *col(const struct db_result *r, int row, const char *name)
{
	int i = db_result_col(r, name);
	BUG_ON(i < 0);
	return db_result_get(r, row, i);
}

void yd_lost_reload(struct yd *d)
{
	struct db_result *res = NULL;
	if (yd_exec(d, "SELECT j.id, j.run_id, j.host, j.runner_job_id, j.spec_sha256, j.step_index, "
		       "j.attempt, r.runbook, r.revision_id, r.mode, r.trigger, "
		       "extract(epoch FROM r.scheduled_for)::bigint AS scheduled_for FROM yoban.jobs j JOIN yoban.runs r "
		       "ON r.id = j.run_id WHERE j.holds_slot AND j.runner_job_id IS NOT NULL "
		       "ORDER BY j.run_id, j.id", 0, NULL, &res, NULL) < 0)
		return;
	for (int i = 0; i < db_result_rows(res); i++) {
		int64_t run_id = strtoll(col(res, i, "run_id"), NULL, 10);
		const char *runbook = col(res, i, "runbook"), *rev_id = col(res, i, "revision_id");
		struct yd_run *run = yd_run_find(d, run_id);
		if (!run) {
			struct yb_err err = { 0 };
			struct yd_rev *rev = rev_id ? yd_rev_by_id(d, strtoll(rev_id, NULL, 10), runbook,
								   &err) : NULL;
			if (!rev) {
				yd_log("run %lld (%s) holds its slot but its revision cannot be read (%s): "
				       "not counted; 'yoban release %lld' clears it", (long long)run_id,
				       runbook, rev_id ? err.msg : "none", (long long)run_id);
				continue;
			}
			const char *sched = col(res, i, "scheduled_for");
			run = yd_run_new(d, run_id, runbook, rev, !strcmp(col(res, i, "mode"), "staging"),
					 col(res, i, "trigger"), sched ? strtoll(sched, NULL, 10) : yd_now_s(),
					 yb_json_object(), RS_LOST);
		}
		const char *host = col(res, i, "host");
		size_t n_hosts;
		char **hosts = yd_run_hosts(run, &n_hosts);
		int h = 0;
		for (size_t k = 0; k < n_hosts; k++)
			if (!strcmp(hosts[k], host))
				h = (int)k;
		run->step = atoi(col(res, i, "step_index"));
		struct yd_job *j = yd_job_add(run, h, host, atoi(col(res, i, "attempt")));
		j->id = strtoll(col(res, i, "id"), NULL, 10);
		snprintf(j->runner_id, sizeof(j->runner_id), "%s", col(res, i, "runner_job_id"));
		if (col(res, i, "spec_sha256"))
			snprintf(j->spec_sha256, sizeof(j->spec_sha256), "%s", col(res, i, "spec_sha256"));
		j->phase = JP_DONE;
		j->result = YD_JOB_LOST;
		j->holds = true;
		j->probe_at_ms = 0;
		yd_log("reconcile: run %lld (%s) was lost and holds its slot: job %s on '%s' is asked "
		       "about every %d s", (long long)run_id, runbook, j->runner_id, host, YD_PROBE_MS / 1000);
	}
	db_result_free(res);
}
