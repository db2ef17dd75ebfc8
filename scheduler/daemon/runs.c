/*
 * runs.c: runs in memory and their state machine, from admission to the final state.
 *
 * The one idea: a run's transition is written (compare-and-set) before it is acted on. A move is
 * collected (yd_run_move), the run waits in its state (busy) and everything a turn decided (its
 * transitions and its job rows) goes out as one statement (yd_decisions_flush); the run goes on in
 * the continuation, after the commit. yd_run_advance drives one run as far as it can go now: its
 * admission (admission.c), its current step's jobs (jobs.c), and, when a step's jobs are all
 * done, what the step's results mean for the run (outcome.c).
 */
#include "yoband.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tz.h"

static const char *const state_names[] = {
	"pending", "queued", "running", "cancelling", "succeeded", "failed", "timed_out",
	"cancelled", "lost", "skipped",
};

const char *yd_run_state_name(enum yd_run_state s)
{
	return state_names[s];
}

enum yd_run_state yd_run_state_parse(const char *s)
{
	for (size_t i = 0; i < YB_ARRAY_LEN(state_names); i++)
		if (!strcmp(state_names[i], s))
			return (enum yd_run_state)i;
	BUG("unknown run state '%s'", s);
}

bool yd_run_state_final(enum yd_run_state s)
{
	return s >= RS_SUCCEEDED;
}

int64_t yd_now_s(void)
{
	return yb_wall_us() / 1000000;
}

/* ---- runs in memory ---------------------------------------------------------------------- */

void yd_job_free(struct yd_job *j)
{
	yb_json_free(j->spec);
	yb_json_free(j->cancel_said);
	if (j->stdout_tail) {
		yb_buf_release(j->stdout_tail);
		free(j->stdout_tail);
	}
	free(j->host);
	free(j);
}

void yd_run_clear_jobs(struct yd_run *run)
{
	for (size_t i = 0; i < run->n_jobs; i++)
		yd_job_free(run->jobs[i]);
	free(run->jobs);
	run->jobs = NULL;
	run->n_jobs = 0;
}

static void run_free(struct yd_run *run)
{
	yd_run_clear_jobs(run);
	yd_rev_unref(run->rev);
	yb_json_free(run->params);
	free(run->runbook);
	free(run->fail_reason);
	free(run->cancel_req);
	free(run);
}

struct yd_run *yd_run_new(struct yd *d, int64_t id, const char *runbook, struct yd_rev *rev,
			      bool staging, const char *trigger, int64_t scheduled_for,
			      struct yb_json *params, enum yd_run_state state)
{
	struct yd_run *run = xcalloc(1, sizeof(*run));
	run->id = id;
	run->runbook = xstrdup(runbook);
	run->rev = rev;
	run->staging = staging;
	snprintf(run->trigger, sizeof(run->trigger), "%s", trigger);
	run->scheduled_for = scheduled_for;
	run->params = params;
	run->state = state;
	/* Kept in id order: admission goes oldest first. */
	struct yd_run **p = &d->runs;
	while (*p && (*p)->id < id)
		p = &(*p)->next;
	run->next = *p;
	*p = run;
	return run;
}

struct yd_run *yd_run_find(struct yd *d, int64_t id)
{
	for (struct yd_run *r = d->runs; r; r = r->next)
		if (r->id == id)
			return r;
	return NULL;
}

/* Frees the runs that reached a final state (never while someone iterates), except a lost run
 * whose processes may still run: it holds its slot and locks until released (lost.c). */
void yd_runs_gc(struct yd *d)
{
	struct yd_run **p = &d->runs;
	while (*p) {
		if (yd_run_state_final((*p)->state) && !yd_run_holds(*p)) {
			struct yd_run *dead = *p;
			*p = dead->next;
			run_free(dead);
		} else {
			p = &(*p)->next;
		}
	}
}

/* The state a run is in, or is on its way to (its transition is being written). */
enum yd_run_state yd_run_eff(const struct yd_run *r)
{
	return r->busy ? r->moving_to : r->state;
}

struct yd_move {
	int64_t run_id;
	enum yd_run_state from, to;
	bool forget;             /* run_finish: refused or not, the run leaves memory in state to */
	bool has_reason;
	char reason[];
};

/* A transition's answer (1 moved, 0 not in the from state any more, <0 refused): acted on now;
 * the run waited in its old state until then. */
static void move_apply(struct yd *d, const struct yd_move *m, int moved)
{
	struct yd_run *run = yd_run_find(d, m->run_id);
	if (!run || !run->busy)
		return;
	run->busy = false;
	d->advance_wanted = true;
	if (moved < 0) {
		/* Refused (logged): a final state is forgotten here anyway; others are tried again. */
		if (m->forget)
			run->state = m->to;
		return;
	}
	if (!moved) {
		yd_log("run %lld: not in state %s any more (another scheduler moved it); dropped from memory",
		       (long long)run->id, state_names[m->from]);
		run->state = m->forget ? m->to : RS_LOST; /* only in memory: gc forgets it */
		return;
	}
	yd_log("run %lld (%s): %s -> %s%s%s", (long long)run->id, run->runbook, state_names[m->from],
	       state_names[m->to], m->has_reason ? ": " : "", m->has_reason ? m->reason : "");
	run->state = m->to;
	if (m->to == RS_CANCELLING)
		run->cancel_sent = false;
}

/* Collects the transition (compare-and-set); the run waits (busy) until it is written, and only
 * then is it acted on (move_apply). */
static void run_move_ex(struct yd *d, struct yd_run *run, enum yd_run_state to, const char *reason,
			bool forget)
{
	if (run->busy)
		BUG("run %lld: a transition while another is being written", (long long)run->id);
	size_t rlen = reason ? strlen(reason) : 0;
	struct yd_move *m = xcalloc(1, sizeof(*m) + rlen + 1);
	if (reason)
		memcpy(m->reason, reason, rlen);
	m->has_reason = reason != NULL;
	m->run_id = run->id;
	m->from = run->state;
	m->to = to;
	m->forget = forget;
	run->busy = true;
	run->moving_to = to;
	if (d->n_moves == d->cap_moves) {
		d->cap_moves = d->cap_moves ? 2 * d->cap_moves : 16;
		d->moves = xrealloc(d->moves, d->cap_moves * sizeof(*d->moves));
	}
	d->moves[d->n_moves++] = m;
}

void yd_run_move(struct yd *d, struct yd_run *run, enum yd_run_state to, const char *reason)
{
	run_move_ex(d, run, to, reason, false);
}

/* ---- the run state machine --------------------------------------------------------------- */

void yd_run_finish(struct yd *d, struct yd_run *run, enum yd_run_state to, const char *reason)
{
	/* Refused in the database: someone else has it; forgotten here either way. */
	run_move_ex(d, run, to, reason, true);
}

bool yd_step_index(const struct rb_runbook *rb, const char *name, int *out)
{
	for (size_t i = 0; i < rb->n_steps; i++)
		if (!strcmp(rb->steps[i].name, name)) {
			*out = (int)i;
			return true;
		}
	return false;
}

void yd_run_cancel(struct yd *d, struct yd_run *run, const char *why)
{
	if (run->busy) {
		/* Its transition is being written: the cancel follows once the answer is in. */
		if (!run->cancel_req)
			run->cancel_req = xstrdup(why);
		return;
	}
	if (run->state == RS_PENDING || run->state == RS_QUEUED) {
		yd_run_finish(d, run, RS_CANCELLED, why);
		return;
	}
	if (run->state == RS_RUNNING) {
		yd_run_move(d, run, RS_CANCELLING, why); /* then run_advance sends CANCEL */
		return;
	}
	run->cancel_sent = false;
	yd_run_advance(d, run);
}

/* The run's move to running is on its way: its current step's first jobs go with it (their rows
 * are written in the same statement, only if the move goes through), so START follows one commit
 * after admission rather than two. Anything unusual is left to the run's own turn. */
static void yd_run_prepare_jobs(struct yd *d, struct yd_run *run)
{
	const struct rb_runbook *rb = run->rev->rb;
	size_t n_hosts;
	char **hosts = yd_run_hosts(run, &n_hosts);
	if ((size_t)run->step >= rb->n_steps || !n_hosts)
		return;
	int64_t now = yb_mono_ms();
	for (size_t h = 0; h < n_hosts; h++) {
		struct yd_job *last = NULL;
		for (size_t i = 0; i < run->n_jobs; i++)
			if (run->jobs[i]->host_idx == (int)h && (!last || run->jobs[i]->attempt > last->attempt))
				last = run->jobs[i];
		if (last && (last->phase != JP_WAIT || now < last->retry_at_ms))
			continue;
		bool added = !last;
		if (added)
			last = yd_job_add(run, (int)h, hosts[h], 1);
		if (!yd_job_start_ex(d, last, true) && added) {
			run->n_jobs--; /* the one just added: the run's own turn deals with it */
			yd_job_free(last);
		}
	}
}

/* Drives one run as far as it can go now. */
void yd_run_advance(struct yd *d, struct yd_run *run)
{
	if (d->db_broken || yd_run_state_final(run->state) || run->busy)
		return;
	if (run->cancel_req) {
		char *why = run->cancel_req;
		run->cancel_req = NULL;
		yd_run_cancel(d, run, why);
		free(why);
		if (run->busy || yd_run_state_final(run->state))
			return;
	}
	if (run->state == RS_PENDING || run->state == RS_QUEUED) {
		if (!yd_run_admit(d, run)) {
			if (run->busy && run->moving_to == RS_RUNNING)
				yd_run_prepare_jobs(d, run);
			return;
		}
	}
	const struct rb_runbook *rb = run->rev->rb;
	size_t n_hosts;
	char **hosts = yd_run_hosts(run, &n_hosts);
	int64_t now = yb_mono_ms();
	for (;;) {
		if (d->db_broken || yd_run_state_final(run->state) || run->busy)
			return;
		if (run->state == RS_CANCELLING) {
			bool live = false;
			for (size_t i = 0; i < run->n_jobs; i++) {
				struct yd_job *j = run->jobs[i];
				if (j->phase == JP_WAIT) {
					j->phase = JP_DONE;
					j->result = YD_JOB_CANCELLED;
				} else if (j->phase == JP_STARTING) {
					live = true; /* its row's answer turns it into cancelled */
				} else if (j->phase == JP_LIVE) {
					/* never reached its runner (unreachable): cancelled here, at once */
					if (!j->acked && !j->exit_pending && yd_job_cancel_unsent(d, j))
						continue;
					live = true;
					if (!run->cancel_sent) {
						struct yd_conn *c = yd_conn_get(d, j->host, NULL);
						if (c)
							rclient_cancel(c->rc, j->runner_id, NULL);
					}
				}
			}
			run->cancel_sent = true;
			if (!live)
				yd_run_finish(d, run, RS_CANCELLED, NULL);
			return;
		}
		if ((size_t)run->step >= rb->n_steps) {
			yd_run_finish(d, run, yd_run_end(run->failed),
				      run->failed == YD_JOB_NONE ? NULL : run->fail_reason);
			return;
		}
		const struct rb_step *step = &rb->steps[run->step];
		if (n_hosts == 0) {
			yd_run_finish(d, run, RS_FAILED, "the runbook names no hosts");
			return;
		}
		struct rb_retry retry = rb_step_retry(rb, step);
		struct yd_host_last *lasts = xcalloc(n_hosts, sizeof(*lasts));
		for (size_t h = 0; h < n_hosts; h++) {
			struct yd_job *last = NULL;
			for (size_t i = 0; i < run->n_jobs; i++)
				if (run->jobs[i]->host_idx == (int)h &&
				    (!last || run->jobs[i]->attempt > last->attempt))
					last = run->jobs[i];
			if (!last) {
				last = yd_job_add(run, (int)h, hosts[h], 1);
				yd_job_start(d, last);
			} else if (last->phase == JP_WAIT && now >= last->retry_at_ms) {
				yd_job_start(d, last);
			}
			if (d->db_broken) {
				free(lasts);
				return;
			}
			lasts[h].attempt = last->attempt;
			lasts[h].result = last->phase == JP_DONE ? last->result : YD_JOB_NONE;
			if (last->phase == JP_DONE && yd_job_retries(last->result, last->attempt, retry.attempts)) {
				struct yd_job *next = yd_job_add(run, (int)h, hosts[h], last->attempt + 1);
				next->retry_at_ms = now + retry.delay_ms;
				yd_log("retry: run %lld step '%s' on '%s' attempt %d of %d in %lld ms",
				       (long long)run->id, step->name, hosts[h], next->attempt, retry.attempts,
				       (long long)retry.delay_ms);
				if (retry.delay_ms <= 0)
					yd_job_start(d, next);
				/* its outcome is looked at in the run's next turn */
				lasts[h] = (struct yd_host_last){ YD_JOB_NONE, next->attempt };
			}
		}
		/* What the step's jobs mean for the run (outcome.c, the rule reconcile uses too). */
		struct yd_outcome o = yd_step_outcome(lasts, n_hosts, retry.attempts, step->on_failure,
						      run->failed);
		free(lasts);
		if (o.next == YD_STEP_WAIT)
			return;
		if (o.worst != YD_JOB_SUCCEEDED) {
			char why[512];
			snprintf(why, sizeof(why), "step '%s' %s on host '%s'", step->name,
				 yd_job_result_name(o.worst), hosts[o.worst_host]);
			struct yd_job *holder = yd_run_holder(run);
			if (o.worst == YD_JOB_LOST && holder)
				snprintf(why + strlen(why), sizeof(why) - strlen(why), ": processes of it still "
					 "run there, so the run holds its slot and locks until they end (or "
					 "'yoban release %lld')", (long long)run->id);
			if (o.records_failure) {
				run->failed = o.worst;
				free(run->fail_reason);
				run->fail_reason = xstrdup(why);
			}
			if (o.next == YD_STEP_END) {
				yd_run_finish(d, run, o.end, o.step_reason ? why : run->fail_reason);
				return;
			}
		}
		yd_run_clear_jobs(run);
		run->step++;
	}
}

/* What one turn decided: its transitions and its job rows, written by one statement. */
struct decisions {
	size_t n_moves, n_jobs;
	struct yd_move **moves;
	struct yd_job_ref **jobs;
};

static void decisions_free(void *ctx)
{
	struct decisions *b = ctx;
	for (size_t i = 0; i < b->n_moves; i++)
		free(b->moves[i]);
	for (size_t i = 0; i < b->n_jobs; i++)
		free(b->jobs[i]);
	free(b->moves);
	free(b->jobs);
	free(b);
}

/* Rows: ('t', ord, moved) for each transition, ('j', id, runner id) for each job row inserted. */
static void decisions_written(struct yd *d, void *ctx, struct db_result *r)
{
	struct decisions *b = ctx;
	int rows = r ? db_result_rows(r) : 0;
	int8_t *moved = xcalloc(b->n_moves ? b->n_moves : 1, sizeof(*moved));
	for (size_t i = 0; i < b->n_moves; i++)
		moved[i] = r ? 0 : -1;
	for (int k = 0; k < rows; k++) {
		const char *kind = db_result_get(r, k, 0);
		if (strcmp(kind, "t"))
			continue;
		size_t ord = strtoull(db_result_get(r, k, 1), NULL, 10);
		const char *v = db_result_get(r, k, 2);
		if (ord >= 1 && ord <= b->n_moves)
			moved[ord - 1] = v && !strcmp(v, "t");
	}
	/* The transitions first: a job row is acted on only in a run that is running. */
	for (size_t i = 0; i < b->n_moves; i++)
		move_apply(d, b->moves[i], moved[i]);
	free(moved);
	for (size_t i = 0; i < b->n_jobs; i++) {
		const char *id = NULL, *rid = NULL;
		char key[96];
		const struct yd_job_ref *ref = b->jobs[i];
		snprintf(key, sizeof(key), "%lld:%d:%d:%d", (long long)ref->run_id, ref->step_idx,
			 ref->attempt, ref->host_idx);
		for (int k = 0; k < rows && !id; k++)
			if (!strcmp(db_result_get(r, k, 0), "j") && db_result_get(r, k, 3) &&
			    !strcmp(db_result_get(r, k, 3), key)) {
				id = db_result_get(r, k, 1);
				rid = db_result_get(r, k, 2);
			}
		yd_job_row_written(d, ref, id, rid, r != NULL);
	}
}

/* Sends the transitions and job rows collected in this turn: one statement, so one transaction
 * and one commit for all of them. Each transition is still compare-and-set on its own run, and a
 * job row is inserted only when its run's transition in the same batch (if any) succeeded: the
 * first jobs of a run ride with its move to running. */
void yd_decisions_flush(struct yd *d)
{
	if (!d->n_moves && !d->n_job_rows)
		return;
	struct decisions *b = xcalloc(1, sizeof(*b));
	b->n_moves = d->n_moves;
	b->moves = d->moves;
	d->moves = NULL;
	d->n_moves = d->cap_moves = 0;
	b->jobs = xcalloc(d->n_job_rows ? d->n_job_rows : 1, sizeof(*b->jobs));
	enum { M_ID, M_FROM, M_TO, M_WHY, J_RUN, J_STEP, J_IDX, J_HOST, J_ATT, J_HIDX, E_HOURS,
	       E_CAT, N_ARR };
	struct yb_buf a[N_ARR];
	for (int i = 0; i < N_ARR; i++)
		yd_arr_open(&a[i]);
	char num[24];
	for (size_t i = 0; i < b->n_moves; i++) {
		yd_arr_add(&a[M_ID], yd_idtext(num, b->moves[i]->run_id));
		yd_arr_add(&a[M_FROM], state_names[b->moves[i]->from]);
		yd_arr_add(&a[M_TO], state_names[b->moves[i]->to]);
		yd_arr_add(&a[M_WHY], b->moves[i]->has_reason ? b->moves[i]->reason : NULL);
		/* A runbook with effort: its hours go with the run's final transition (012_effort.sql
		 * records them once, and only for a run that dispatched work). */
		struct yd_run *run = yd_run_find(d, b->moves[i]->run_id);
		const struct rb_runbook *rb = run && run->rev ? run->rev->rb : NULL;
		bool effort = rb && rb->has_effort && yd_run_state_final(b->moves[i]->to) &&
			      b->moves[i]->to != RS_SKIPPED;
		snprintf(num, sizeof(num), "%.2f", effort ? rb->effort_hours : 0.0);
		yd_arr_add(&a[E_HOURS], effort ? num : NULL);
		yd_arr_add(&a[E_CAT], effort ? rb_effort_category_name(rb->effort_category) : NULL);
	}
	for (size_t i = 0; i < d->n_job_rows; i++) {
		struct yd_job_ref *ref = d->job_rows[i];
		struct yd_run *run;
		struct yd_job *j = yd_job_ref_find(d, ref, &run);
		if (!j) {
			free(ref);
			continue;
		}
		b->jobs[b->n_jobs++] = ref;
		yd_arr_add(&a[J_RUN], yd_idtext(num, run->id));
		yd_arr_add(&a[J_STEP], run->rev->rb->steps[j->step_idx].name);
		snprintf(num, sizeof(num), "%d", j->step_idx);
		yd_arr_add(&a[J_IDX], num);
		yd_arr_add(&a[J_HOST], j->host);
		snprintf(num, sizeof(num), "%d", j->attempt);
		yd_arr_add(&a[J_ATT], num);
		snprintf(num, sizeof(num), "%d", j->host_idx);
		yd_arr_add(&a[J_HIDX], num);
	}
	free(d->job_rows);
	d->job_rows = NULL;
	d->n_job_rows = d->cap_job_rows = 0;
	const char *p[N_ARR + 1];
	for (int i = 0; i < N_ARR; i++) {
		yb_buf_append(&a[i], "}", 1);
		p[i] = a[i].data;
	}
	const struct rb_site *site = d->base ? &d->base->set->site : d->site;
	p[N_ARR] = site && site->default_timezone ? site->default_timezone : RB_DEFAULT_TIMEZONE;
	const char *what = b->n_jobs && b->n_moves ? "run transitions and job rows" :
			   b->n_jobs ? "job rows" : "run transitions";
	if (b->n_moves || b->n_jobs)
		yd_decide(d, what,
			  "WITH t AS (SELECT f.ord, f.id, yoban.yoban_run_transition(f.id, f.from_state, "
			  "f.to_state, f.reason) AS moved FROM unnest($1::bigint[], $2::yoban.run_state[], "
			  "$3::yoban.run_state[], $4::text[]) WITH ORDINALITY AS f(id, from_state, to_state, "
			  "reason, ord)), "
			  /* a run's effort, once it ended (referenced below, so it is evaluated) */
			  "e AS (SELECT count(yoban.yoban_effort_record_run(t.id, f.hours, f.cat, $13)) AS n "
			  "FROM t JOIN unnest($1::bigint[], $11::numeric[], $12::text[]) WITH ORDINALITY "
			  "AS f(id, hours, cat, ord) ON f.ord = t.ord WHERE t.moved AND f.hours IS NOT "
			  "NULL), "
			  /* the runner id: positions, then the site's id and the run's nonce (005) */
			  "j AS (INSERT INTO yoban.jobs (run_id, step, step_index, host, attempt, "
			  "runner_job_id, state, started_at) SELECT g.run_id, g.step, g.step_index, g.host, "
			  "g.attempt, format('r%s-s%s-a%s-h%s-%s-%s', g.run_id, g.step_index, g.attempt, "
			  "g.hidx, (SELECT s.id FROM yoban.site s), r.nonce), 'dispatched', now() "
			  "FROM unnest($5::bigint[], $6::text[], $7::integer[], $8::text[], $9::integer[], "
			  "$10::integer[]) AS g(run_id, step, step_index, host, attempt, hidx) "
			  "JOIN yoban.runs r ON r.id = g.run_id WHERE g.run_id NOT IN (SELECT t.id FROM "
			  "t WHERE NOT coalesce(t.moved, false)) RETURNING id, runner_job_id, run_id, "
			  "step_index, attempt, host) "
			  "SELECT 't', t.ord::text, CASE WHEN t.moved THEN 't' ELSE 'f' END, NULL FROM t "
			  "UNION ALL SELECT 'e', e.n::text, NULL, NULL FROM e "
			  "UNION ALL SELECT 'j', j.id::text, j.runner_job_id, j.run_id || ':' || "
			  "j.step_index || ':' || j.attempt || ':' || g.hidx FROM j JOIN unnest($5::bigint[], "
			  "$9::integer[], $10::integer[], $7::integer[], $8::text[]) AS g(run_id, attempt, "
			  "hidx, step_index, host) ON g.run_id = j.run_id AND g.attempt = j.attempt AND "
			  "g.step_index = j.step_index AND g.host = j.host",
			  N_ARR + 1, p, decisions_written, b, decisions_free);
	else
		decisions_free(b);
	for (int i = 0; i < N_ARR; i++)
		yb_buf_release(&a[i]);
}

int yd_runs_timeout_ms(struct yd *d)
{
	int64_t best = 1000, now = yb_mono_ms();
	for (struct yd_run *r = d->runs; r; r = r->next)
		for (size_t i = 0; i < r->n_jobs; i++)
			if (r->jobs[i]->phase == JP_WAIT && r->jobs[i]->retry_at_ms - now < best)
				best = r->jobs[i]->retry_at_ms - now;
	return best < 0 ? 0 : (int)best;
}

void yd_runs_advance(struct yd *d)
{
	yd_conns_check(d);
	yd_jobs_check(d);
	for (struct yd_run *r = d->runs; r && !d->db_broken; r = r->next)
		yd_run_advance(d, r);
	yd_runs_gc(d);
}

/* ---- teardown ------------------------------------------------------------------------------ */

void yd_teardown(struct yd *d)
{
	for (size_t i = 0; i < d->n_moves; i++)
		free(d->moves[i]);
	free(d->moves);
	d->moves = NULL;
	d->n_moves = d->cap_moves = 0;
	for (size_t i = 0; i < d->n_job_rows; i++)
		free(d->job_rows[i]);
	free(d->job_rows);
	d->job_rows = NULL;
	d->n_job_rows = d->cap_job_rows = 0;
	yd_reqs_free(d);
	d->req_reading = d->req_again = false;
	d->req_open = 0;
	while (d->runs) {
		struct yd_run *r = d->runs;
		d->runs = r->next;
		run_free(r);
	}
	while (d->conns) {
		struct yd_conn *c = d->conns;
		d->conns = c->next;
		yd_conn_free(c);
	}
	yd_output_clear(d);
}
