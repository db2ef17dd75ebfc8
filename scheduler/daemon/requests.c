/*
 * requests.c: operators' requests (yoban trigger, cancel, rerun, reload, release) read from the requests
 * table on a notification and acted on at once.
 *
 * The one idea: a request is answered (yoban_request_done) only after what it did is written: a
 * trigger or rerun creates its run with yoban_create_run and is answered from that statement's
 * continuation, behind the run's first transition. Requests are read by one statement (with the
 * run already made for each, so a request acted on before a crash is only marked), acted on in the
 * next turn, and no new read starts before the previous ones are answered.
 */
#include "yoband.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- requests ---------------------------------------------------------------------------- */

/* The request's answer (after what it did: on one connection, in order). */
static void req_answered(struct yd *d, void *ctx, struct db_result *r)
{
	(void)ctx;
	(void)r;
	if (d->req_open > 0 && --d->req_open == 0 && d->req_again) {
		d->req_again = false;
		d->requests_pending = true;
	}
}

static void req_done(struct yd *d, int64_t id, const char *kind, const char *by, bool ok,
		     struct yb_json *res)
{
	char idt[24];
	char *rtext = yb_json_dump(res, 0);
	yb_json_free(res);
	const char *q[] = { yd_idtext(idt, id), d->instance, ok ? "true" : "false", rtext };
	yd_decisions_flush(d); /* what the request did is written first */
	d->req_open++;
	yd_decide(d, "a request's answer", "SELECT yoban.yoban_request_done($1::bigint, $2, $3::boolean, "
		  "$4::jsonb)", 4, q, req_answered, NULL, NULL);
	yd_log("request %lld (%s by %s) handled: %s %s", (long long)id, kind, by, ok ? "ok" : "failed",
	       rtext);
	free(rtext);
}

/* A run being created for a request (trigger, rerun). */
struct create_ctx {
	int64_t req, of;
	char *runbook, *by;
	struct yd_rev *rev;
	bool staging;
	struct yb_json *params;
	int64_t at;
	int from_idx;
};

static void create_ctx_free(void *ctx)
{
	struct create_ctx *c = ctx;
	free(c->runbook);
	free(c->by);
	yd_rev_unref(c->rev);
	yb_json_free(c->params);
	free(c);
}

/* The run exists: it goes its way, and the request is answered. */
static void run_created(struct yd *d, void *ctx, struct db_result *r)
{
	struct create_ctx *c = ctx;
	const char *kind = c->of ? "rerun" : "trigger";
	struct yb_json *res = yb_json_object();
	if (!r || db_result_rows(r) < 1 || !db_result_get(r, 0, 0)) {
		yb_json_set(res, "error", yb_json_str("the run could not be created"));
		req_done(d, c->req, kind, c->by, false, res);
		d->req_open--;
		return;
	}
	int64_t run_id = strtoll(db_result_get(r, 0, 0), NULL, 10);
	const char *refused = db_result_cols(r) > 1 ? db_result_get(r, 0, 1) : NULL; /* a gate */
	if (c->of)
		yd_log("rerun: run %lld of run %lld ('%s') from step %d, requested by %s", (long long)run_id,
		       (long long)c->of, c->runbook, c->from_idx, c->by);
	else
		yd_log("trigger: run %lld of '%s' (%s) requested by %s (request %lld)", (long long)run_id,
		       c->runbook, c->staging ? "staging" : "production", c->by, (long long)c->req);
	struct yd_run *run = yd_run_new(d, run_id, c->runbook, c->rev, c->staging, c->of ? "rerun" : "manual",
				     c->at, c->params, RS_PENDING);
	c->rev = NULL;
	c->params = NULL;
	run->step = c->from_idx;
	if (refused)
		yd_run_finish(d, run, RS_SKIPPED, refused);
	else
		yd_run_advance(d, run);
	yb_json_set(res, "run", yb_json_int(run_id));
	req_done(d, c->req, kind, c->by, true, res);
	d->req_open--; /* the creation's share; the answer holds its own until it is written */
}

static struct yb_json *req_trigger(struct yd *d, int64_t req, const struct yb_json *args,
				   const char *by, bool *ok)
{
	struct yb_err err = { 0 };
	struct yb_json *res = yb_json_object();
	const char *name = yb_json_get_str(args, "runbook");
	const char *mode = yb_json_get_str(args, "mode");
	bool staging = mode && !strcmp(mode, "staging");
	struct yd_entry *e = name ? yd_entry_find(d, name) : NULL;
	*ok = false;
	if (!e) {
		yb_json_set(res, "error", yb_json_str("no runbook of that name is loaded (check the runbooks "
						      "folder and 'yoban validate')"));
		return res;
	}
	int64_t now = yd_now_s();
	struct yb_json *params = yd_params_resolve(e->rev->rb, yb_json_get(args, "params"), now, &err);
	if (!params) {
		yb_json_set(res, "error", yb_json_str(err.msg));
		return res;
	}
	if (yd_rev_record(d, e->rev) < 0) {
		yb_json_free(params);
		yb_json_set(res, "error", yb_json_str("the revision could not be recorded"));
		return res;
	}
	char *ptext = yb_json_dump(params, 0);
	char rq[24], rv[24];
	const char *p[] = { name, staging ? "staging" : "production", by, yd_idtext(rq, req),
			    yd_idtext(rv, e->rev->id), ptext };
	struct create_ctx *c = xcalloc(1, sizeof(*c));
	c->req = req;
	c->runbook = xstrdup(name);
	c->by = xstrdup(by);
	c->rev = yd_rev_ref(e->rev);
	c->staging = staging;
	if (e->rev->rb->kind == RB_KIND_REHEARSAL && e->rev->rb->rehearse) {
		/* a rehearsal runs the rehearsed runbook's current revision on its staging hosts */
		struct yd_entry *t = yd_entry_find(d, e->rev->rb->rehearse);
		if (t) {
			yd_rev_unref(c->rev);
			c->rev = yd_rev_ref(t->rev);
			c->staging = true;
		}
	}
	c->params = params;
	c->at = now;
	yd_decide(d, "a triggered run", "SELECT r, yoban.yoban_gate_check(r) FROM yoban.yoban_create_run($1, "
		  "'manual', $2::yoban.run_mode, $3, $4::bigint, $5::bigint, $6::jsonb) r", 6, p, run_created,
		  c, create_ctx_free);
	free(ptext);
	yb_json_free(res);
	return NULL; /* answered by run_created */
}

static struct yb_json *req_cancel(struct yd *d, const struct yb_json *args, const char *by, bool *ok)
{
	struct yb_json *res = yb_json_object();
	int64_t id = yb_json_get_int(args, "run", 0);
	struct yd_run *run = yd_run_find(d, id);
	*ok = false;
	yb_json_set(res, "run", yb_json_int(id));
	if (run && !run->busy && yd_run_holds(run)) {
		/* lost, but processes of it may still run: the runner kills what is left */
		yd_run_kill_leftovers(d, run, by);
		yb_json_set(res, "state", yb_json_str("lost"));
		yb_json_set(res, "killing_leftovers", yb_json_bool(true));
		*ok = true;
		return res;
	}
	if (!run || yd_run_state_final(yd_run_eff(run))) {
		yb_json_set(res, "error", yb_json_str("the run is not in flight"));
		return res;
	}
	char *why = xasprintf("cancelled by %s", by);
	yd_run_cancel(d, run, why);
	free(why);
	/* The state it is on its way to (the transition is written before the request's answer). */
	yb_json_set(res, "state", yb_json_str(run->cancel_req ? "cancelling" : yd_run_state_name(yd_run_eff(run))));
	*ok = true;
	return res;
}

/* `yoban release RUN`: the lost run's slot and locks are freed without the runner's word. */
static struct yb_json *req_release(struct yd *d, int64_t req, const struct yb_json *args,
				   const char *by, bool *ok)
{
	struct yb_json *res = yb_json_object();
	int64_t id = yb_json_get_int(args, "run", 0);
	const char *comment = yb_json_get_str(args, "comment");
	struct yd_run *run = yd_run_find(d, id);
	*ok = false;
	yb_json_set(res, "run", yb_json_int(id));
	if (!run || !yd_run_holds(run)) {
		yb_json_set(res, "error", yb_json_str("the run holds no slot (nothing of it is known to "
						      "run any more)"));
		return res;
	}
	struct yb_json *jobs = yb_json_array();
	for (size_t i = 0; i < run->n_jobs; i++)
		if (run->jobs[i]->holds)
			yb_json_push(jobs, yb_json_int(run->jobs[i]->id));
	struct yb_json *detail = yb_json_object();
	yb_json_set(detail, "released_by", yb_json_str(by));
	yb_json_set(detail, "comment", comment ? yb_json_str(comment) : yb_json_null());
	yb_json_set(detail, "jobs", yb_json_ref(jobs));
	char *dtext = yb_json_dump(detail, 0);
	yb_json_free(detail);
	char rid[24], qid[24];
	const char *p[] = { yd_idtext(rid, id), yd_idtext(qid, req), dtext };
	yd_async(d, "a release's audit row", false, "INSERT INTO yoban.audit (action, run_id, request_id, "
		 "detail) VALUES ('run:released', $1::bigint, $2::bigint, $3::jsonb)", 3, p);
	free(dtext);
	yd_run_release(d, run, by, comment);
	yb_json_set(res, "released_jobs", jobs);
	*ok = true;
	return res;
}

static struct yb_json *req_reload(struct yd *d, bool *ok)
{
	yd_reload(d);
	struct yb_json *res = yb_json_object();
	struct yb_json *errors = yb_json_array();
	for (size_t i = 0; i < d->n_entries; i++) {
		if (!d->entries[i]->error)
			continue;
		struct yb_json *o = yb_json_object();
		yb_json_set(o, "runbook", yb_json_str(d->entries[i]->name));
		yb_json_set(o, "error", yb_json_str(d->entries[i]->error));
		yb_json_push(errors, o);
	}
	yb_json_set(res, "runbooks", yb_json_int((int64_t)d->n_entries));
	*ok = yb_json_len(errors) == 0;
	yb_json_set(res, "errors", errors);
	return res;
}

struct yd_req {
	int64_t id;
	char *kind, *args, *by;
	char *existing;          /* a run made for it already (a crash before it was answered) */
	char *o_runbook, *o_rev, *o_mode, *o_params; /* rerun: the original run, when found */
};

static char *dup_col(struct db_result *r, int row, int col)
{
	const char *v = db_result_get(r, row, col);
	return v ? xstrdup(v) : NULL;
}

void yd_reqs_free(struct yd *d)
{
	for (size_t i = 0; i < d->n_reqs; i++) {
		struct yd_req *q = &d->reqs[i];
		free(q->kind);
		free(q->args);
		free(q->by);
		free(q->existing);
		free(q->o_runbook);
		free(q->o_rev);
		free(q->o_mode);
		free(q->o_params);
	}
	free(d->reqs);
	d->reqs = NULL;
	d->n_reqs = 0;
}

/* The unhandled requests are read: acted on in the loop's next turn (yd_handle_requests). */
static void reqs_read(struct yd *d, void *ctx, struct db_result *r)
{
	(void)ctx;
	d->req_reading = false;
	if (!r)
		return;
	int n = db_result_rows(r);
	yd_reqs_free(d);
	if (n)
		d->reqs = xcalloc((size_t)n, sizeof(*d->reqs));
	for (int i = 0; i < n; i++) {
		struct yd_req *q = &d->reqs[d->n_reqs++];
		q->id = strtoll(db_result_get(r, i, 0), NULL, 10);
		q->kind = dup_col(r, i, 1);
		q->args = dup_col(r, i, 2);
		q->by = dup_col(r, i, 3);
		q->existing = dup_col(r, i, 4);
		q->o_runbook = dup_col(r, i, 5);
		q->o_rev = dup_col(r, i, 6);
		q->o_mode = dup_col(r, i, 7);
		q->o_params = dup_col(r, i, 8);
	}
	if (n == 100)
		d->req_again = true;
	if (n)
		d->requests_pending = true;
	else if (d->req_again && !d->req_open) {
		d->req_again = false;
		d->requests_pending = true;
	}
}

static struct yb_json *req_rerun(struct yd *d, const struct yd_req *q, const struct yb_json *args,
				 bool *ok)
{
	struct yb_err err = { 0 };
	struct yb_json *res = yb_json_object();
	int64_t of = yb_json_get_int(args, "run", 0);
	const char *from = yb_json_get_str(args, "from_step");
	*ok = false;
	if (!q->o_runbook || !q->o_rev || !q->o_mode || !q->o_params) {
		yb_json_set(res, "error", yb_json_str("the run to rerun was not found or has no revision"));
		return res;
	}
	int64_t rev_id = strtoll(q->o_rev, NULL, 10);
	bool staging = !strcmp(q->o_mode, "staging");
	/* Blocks only for a revision no longer loaded (parsed from the database's copy). */
	struct yd_rev *rev = yd_rev_by_id(d, rev_id, q->o_runbook, &err);
	int from_idx = 0;
	if (!rev) {
		yb_json_set(res, "error", yb_json_str(err.msg));
		return res;
	}
	if (from && !yd_step_index(rev->rb, from, &from_idx)) {
		yd_rev_unref(rev);
		char *m = xasprintf("no step '%s' in runbook '%s'", from, q->o_runbook);
		yb_json_set(res, "error", yb_json_str(m));
		free(m);
		return res;
	}
	char rq[24], rv[24], ofs[24];
	const char *p[] = { q->o_runbook, staging ? "staging" : "production", q->by, yd_idtext(rq, q->id),
			    yd_idtext(rv, rev_id), q->o_params, yd_idtext(ofs, of), from };
	struct create_ctx *c = xcalloc(1, sizeof(*c));
	c->req = q->id;
	c->of = of;
	c->runbook = xstrdup(q->o_runbook);
	c->by = xstrdup(q->by);
	c->rev = rev;
	c->staging = staging;
	if (yb_json_parse(q->o_params, strlen(q->o_params), &c->params, NULL) < 0)
		c->params = yb_json_object();
	c->at = yd_now_s();
	c->from_idx = from_idx;
	yd_decide(d, "a rerun", "SELECT r, yoban.yoban_gate_check(r) FROM yoban.yoban_create_run($1, "
		  "'rerun', $2::yoban.run_mode, $3, $4::bigint, $5::bigint, $6::jsonb, $7::bigint, $8) r", 8,
		  p, run_created, c, create_ctx_free);
	yb_json_free(res);
	return NULL; /* answered by run_created */
}

/* Requests: first read (one statement, with what acting on them needs), then acted on here in
 * the next turn; runs are created by statements whose continuation answers the request. */
void yd_handle_requests(struct yd *d)
{
	d->requests_pending = false;
	if (!d->n_reqs) {
		if (d->req_reading || d->req_open) {
			d->req_again = true; /* read again once the requests in hand are answered */
			return;
		}
		d->req_reading = true;
		yd_decide(d, "reading requests",
			  "SELECT q.id, q.kind, q.args::text, q.requested_by, "
			  "(SELECT min(r.id) FROM yoban.runs r WHERE r.request_id = q.id), "
			  "o.runbook, o.revision_id, o.mode, o.params::text FROM yoban.requests q "
			  "LEFT JOIN yoban.runs o ON q.kind = 'rerun' AND o.id = CASE WHEN "
			  "q.args->>'run' ~ '^[0-9]{1,18}$' THEN (q.args->>'run')::bigint END "
			  "WHERE q.handled_at IS NULL ORDER BY q.id LIMIT 100", 0, NULL, reqs_read, NULL, NULL);
		return;
	}
	for (size_t i = 0; i < d->n_reqs && !d->db_broken; i++) {
		const struct yd_req *q = &d->reqs[i];
		struct yb_json *args = NULL;
		if (!q->args || yb_json_parse(q->args, strlen(q->args), &args, NULL) < 0)
			args = yb_json_object();
		bool ok = false;
		struct yb_json *res = NULL;
		const char *kind = q->kind ? q->kind : "";
		const char *by = q->by ? q->by : "";
		/* Acted on already (a crash before it was marked)? Then only mark it. */
		if (q->existing) {
			res = yb_json_object();
			yb_json_set(res, "run", yb_json_int(strtoll(q->existing, NULL, 10)));
			ok = true;
		} else if (!strcmp(kind, "trigger")) {
			res = req_trigger(d, q->id, args, by, &ok);
		} else if (!strcmp(kind, "cancel")) {
			res = req_cancel(d, args, by, &ok);
		} else if (!strcmp(kind, "release")) {
			res = req_release(d, q->id, args, by, &ok);
		} else if (!strcmp(kind, "rerun")) {
			res = req_rerun(d, q, args, &ok);
		} else if (!strcmp(kind, "reload")) {
			d->reload_request_id = q->id; /* the audit rows of this reload name it */
			res = req_reload(d, &ok);
			d->reload_request_id = 0;
		} else {
			res = yb_json_object();
			yb_json_set(res, "error", yb_json_str("unknown request kind"));
		}
		yb_json_free(args);
		if (res)
			req_done(d, q->id, kind, by, ok, res);
		else
			d->req_open++; /* a run is being created; run_created answers */
	}
	yd_reqs_free(d);
	yd_runs_gc(d);
}

