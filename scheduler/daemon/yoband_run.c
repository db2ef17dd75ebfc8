/*
 * yoband_run.c: runs, from the claim of a fire to the last job's stored exit: admission
 * (concurrency, locks, maintenance holds), dispatch to runners, output, retries, cancel, the
 * operators' requests, catch-up and the reconcile after a restart or a failover.
 *
 * The one idea: write first, act second. A fire is claimed (unique key) before anything runs; a
 * run's transition is written (compare-and-set) before it is acted on; a job row with its stable
 * runner id ("r<run>-s<step>-a<attempt>-h<host>") is written before START, so whoever leads next
 * can find the job on its runner and re-ATTACH at the stored offset. A job's exit is written after
 * all its output, and only then is the runner told to FORGET it.
 *
 * Nothing here waits for the database: a claim, a transition or a job row is queued (yd_decide),
 * the run waits in its state (busy) and is acted on in the statement's continuation, after the
 * commit. What one turn decides goes out together: the fires due in one statement, the turn's
 * transitions in one, its job rows in one.
 */
#include "yoband.h"

#include <stdlib.h>
#include <string.h>

#include "compress.h"
#include "tz.h"

#define YD_MAX_CATCHUP 1000        /* missed fires handled per runbook and take-over */
#define YD_FLUSH_ROWS 100
#define YD_FLUSH_BYTES (8u << 20)
#define YD_SECRET_MAX (64u << 10)

static const char *const state_names[] = {
	"pending", "queued", "running", "cancelling", "succeeded", "failed", "timed_out",
	"cancelled", "lost", "skipped",
};

const char *yd_run_state_name(enum yd_run_state s)
{
	return state_names[s];
}

static enum yd_run_state state_parse(const char *s)
{
	for (size_t i = 0; i < YB_ARRAY_LEN(state_names); i++)
		if (!strcmp(state_names[i], s))
			return (enum yd_run_state)i;
	BUG("unknown run state '%s'", s);
}

static bool state_final(enum yd_run_state s)
{
	return s >= RS_SUCCEEDED;
}

static int64_t now_s(void)
{
	return yb_wall_us() / 1000000;
}

static void run_advance(struct yd *d, struct yd_run *run);

/* ---- runs in memory ---------------------------------------------------------------------- */

static void job_free(struct yd_job *j)
{
	yb_json_free(j->spec);
	free(j->host);
	free(j);
}

static void run_clear_jobs(struct yd_run *run)
{
	for (size_t i = 0; i < run->n_jobs; i++)
		job_free(run->jobs[i]);
	free(run->jobs);
	run->jobs = NULL;
	run->n_jobs = 0;
}

static void run_free(struct yd_run *run)
{
	run_clear_jobs(run);
	yd_rev_unref(run->rev);
	yb_json_free(run->params);
	free(run->runbook);
	free(run->fail_state);
	free(run->fail_reason);
	free(run->cancel_req);
	free(run);
}

static struct yd_run *run_new(struct yd *d, int64_t id, const char *runbook, struct yd_rev *rev,
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

static struct yd_run *run_find(struct yd *d, int64_t id)
{
	for (struct yd_run *r = d->runs; r; r = r->next)
		if (r->id == id)
			return r;
	return NULL;
}

/* Frees the runs that reached a final state (never while someone iterates). */
static void runs_gc(struct yd *d)
{
	struct yd_run **p = &d->runs;
	while (*p) {
		if (state_final((*p)->state)) {
			struct yd_run *dead = *p;
			*p = dead->next;
			run_free(dead);
		} else {
			p = &(*p)->next;
		}
	}
}

static const char *idtext(char *buf, int64_t v)
{
	sprintf(buf, "%lld", (long long)v);
	return buf;
}

/* The state a run is in, or is on its way to (its transition is being written). */
static enum yd_run_state run_eff(const struct yd_run *r)
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

/* One element of a PostgreSQL array literal, quoted ({"a","b \"c\""}), or NULL. */
static void arr_add(struct yb_buf *b, const char *v)
{
	if (b->len > 1)
		yb_buf_append(b, ",", 1);
	if (!v) {
		yb_buf_append(b, "NULL", 4);
		return;
	}
	yb_buf_append(b, "\"", 1);
	for (const char *c = v; *c; c++) {
		if (*c == '"' || *c == '\\')
			yb_buf_append(b, "\\", 1);
		yb_buf_append(b, c, 1);
	}
	yb_buf_append(b, "\"", 1);
}

/* A transition's answer (1 moved, 0 not in the from state any more, <0 refused): acted on now;
 * the run waited in its old state until then. */
static void move_apply(struct yd *d, const struct yd_move *m, int moved)
{
	struct yd_run *run = run_find(d, m->run_id);
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

static void run_move(struct yd *d, struct yd_run *run, enum yd_run_state to, const char *reason)
{
	run_move_ex(d, run, to, reason, false);
}

/* ---- parameters and job specs ------------------------------------------------------------ */

static const struct tz *zone_of(const struct rb_runbook *rb)
{
	const struct tz *z = rb->schedule.zone;
	if (!z && rb->timezone && tz_load(rb->timezone, &z, NULL) == 0)
		return z;
	return z ? z : tz_utc();
}

static char *expand(const char *text, const char *date)
{
	struct yb_buf b;
	yb_buf_init(&b, 0);
	const char *key = "{{scheduled_date}}";
	const char *p = text, *hit;
	while ((hit = strstr(p, key))) {
		yb_buf_append(&b, p, (size_t)(hit - p));
		yb_buf_append(&b, date, strlen(date));
		p = hit + strlen(key);
	}
	yb_buf_append(&b, p, strlen(p));
	return yb_buf_detach(&b, NULL);
}

/* The run's parameters: given values, else defaults ({{scheduled_date}} expanded). */
static struct yb_json *params_resolve(const struct rb_runbook *rb, const struct yb_json *given,
				      int64_t scheduled_for, struct yb_err *err)
{
	struct yb_civil c;
	char date[16];
	tz_to_local(zone_of(rb), scheduled_for, &c, NULL);
	snprintf(date, sizeof(date), "%04d-%02d-%02d", c.year, c.month, c.day);
	if (given) {
		void *it = NULL;
		const char *k;
		struct yb_json *v;
		while (yb_json_next_member(given, &it, &k, &v)) {
			bool known = false;
			for (size_t i = 0; i < rb->n_params; i++)
				known |= !strcmp(rb->params[i].name, k);
			if (!known) {
				yb_err_set(err, YB_EINVAL, "unknown parameter '%s' for runbook '%s'", k, rb->name);
				return NULL;
			}
		}
	}
	struct yb_json *out = yb_json_object();
	for (size_t i = 0; i < rb->n_params; i++) {
		const struct rb_param *p = &rb->params[i];
		struct yb_json *v = given ? yb_json_get(given, p->name) : NULL;
		if (v && yb_json_is_string(v)) {
			yb_json_set(out, p->name, yb_json_str(yb_json_string_value(v)));
		} else if (v) {
			char *t = yb_json_dump(v, 0);
			yb_json_set(out, p->name, yb_json_str(t));
			free(t);
		} else if (p->default_value) {
			char *t = expand(p->default_value, date);
			yb_json_set(out, p->name, yb_json_str(t));
			free(t);
		} else {
			yb_json_free(out);
			yb_err_set(err, YB_EINVAL, "parameter '%s' of runbook '%s' is required (give it with "
				   "--param %s=VALUE)", p->name, rb->name, p->name);
			return NULL;
		}
	}
	return out;
}

static char **run_hosts(const struct yd_run *run, size_t *n)
{
	const struct rb_runbook *rb = run->rev->rb;
	if (run->staging) {
		*n = rb->n_staging_hosts;
		return rb->staging_hosts;
	}
	*n = rb->n_hosts;
	return rb->hosts;
}

/* The START payload; NULL with err when something cannot be prepared (a secret file). */
static struct yb_json *job_spec(const struct yd_run *run, const struct rb_step *step,
				const struct yd_job *j, struct yb_err *err)
{
	const struct rb_runbook *rb = run->rev->rb;
	struct yb_json *spec = yb_json_object();
	if (step->kind == RB_STEP_RUN) {
		yb_json_set(spec, "shell", yb_json_str(step->run));
	} else {
		struct yb_json *a = yb_json_array();
		for (size_t i = 0; i < step->argc; i++)
			yb_json_push(a, yb_json_str(step->argv[i]));
		yb_json_set(spec, "argv", a);
	}
	struct yb_json *env = yb_json_object();
	char buf[64];
	for (size_t i = 0; i < step->n_env; i++)
		yb_json_set(env, step->env[i].name, yb_json_str(step->env[i].value));
	for (size_t i = 0; i < rb->n_params; i++) {
		const char *v = yb_json_get_str(run->params, rb->params[i].name);
		if (v)
			yb_json_set(env, rb->params[i].env_name, yb_json_str(v));
	}
	yb_json_set(env, "YOBAN_RUN_ID", yb_json_str(idtext(buf, run->id)));
	tz_format_iso(zone_of(rb), run->scheduled_for, buf, sizeof(buf));
	yb_json_set(env, "YOBAN_SCHEDULED_AT", yb_json_str(buf));
	yb_json_set(env, "YOBAN_RUNBOOK", yb_json_str(rb->name));
	yb_json_set(env, "YOBAN_STEP", yb_json_str(step->name));
	snprintf(buf, sizeof(buf), "%d", j->attempt);
	yb_json_set(env, "YOBAN_ATTEMPT", yb_json_str(buf));
	yb_json_set(env, "YOBAN_HOST", yb_json_str(j->host));
	if (step->n_secrets) {
		struct yb_json *secrets = yb_json_array();
		for (size_t i = 0; i < step->n_secrets; i++) {
			char *val = NULL;
			size_t len = 0;
			if (yb_read_file(step->secrets[i].value, YD_SECRET_MAX, &val, &len, err) < 0) {
				yb_json_free(secrets);
				yb_json_free(env);
				yb_json_free(spec);
				return NULL;
			}
			while (len && (val[len - 1] == '\n' || val[len - 1] == '\r'))
				val[--len] = 0;
			yb_json_set(env, step->secrets[i].name, yb_json_str(val));
			if (len)
				yb_json_push(secrets, yb_json_str(val));
			free(val);
		}
		yb_json_set(spec, "secrets", secrets);
	}
	yb_json_set(spec, "env", env);
	if (step->workdir)
		yb_json_set(spec, "cwd", yb_json_str(step->workdir));
	yb_json_set(spec, "timeout_ms", yb_json_int(rb_step_timeout_ms(rb, step)));
	return spec;
}

/* ---- runner connections ------------------------------------------------------------------ */

static void cb_output(void *ctx, const char *job, int stream, uint64_t offset, const void *data,
		      size_t len);
static void cb_exit(void *ctx, const char *job, const struct rclient_exit *ex);
static void cb_ack(void *ctx, const char *job, const char *op, int64_t pid);
static void cb_job_error(void *ctx, const char *job, const char *code, const char *message);
static void cb_connected(void *ctx, bool reconnect);
static void cb_disconnected(void *ctx, const struct yb_err *why, int attempt, int delay_ms);

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static struct yd_conn *conn_get(struct yd *d, const char *hostname, struct yb_err *err)
{
	for (struct yd_conn *c = d->conns; c; c = c->next)
		if (!strcmp(c->host, hostname))
			return c;
	const struct rb_host *h = yd_host(d, hostname);
	if (!h) {
		yb_err_set(err, YB_ENOENT, "unknown host '%s' (not in the inventory)", hostname);
		return NULL;
	}
	struct yd_conn *c = xcalloc(1, sizeof(*c));
	c->d = d;
	struct transport_target t;
	memset(&t, 0, sizeof(t));
	c->host = xstrdup(hostname);
	t.name = c->host;
	if (h->transport == RB_TRANSPORT_LOCAL) {
		t.kind = TRANSPORT_LOCAL;
		if (h->runner && strcmp(h->runner, RB_DEFAULT_RUNNER))
			c->runner_path = xstrdup(h->runner);
		if (h->state_dir)
			c->state_dir = xstrdup(h->state_dir);
		else if (d->base->set->site.state_dir)
			c->state_dir = xasprintf("%s/runner", d->base->set->site.state_dir);
	} else {
		const struct rb_site *site = &d->base->set->site;
		t.kind = TRANSPORT_SSH;
		c->runner_path = dup_or_null(h->runner);
		c->state_dir = dup_or_null(h->state_dir);
		c->address = dup_or_null(h->address);
		c->user = dup_or_null(h->user);
		c->host_key = dup_or_null(h->host_key);
		c->known_hosts = dup_or_null(h->known_hosts ? h->known_hosts : site->ssh_known_hosts);
		c->key_path = dup_or_null(site->ssh_key);
		t.port = h->port;
	}
	t.runner_path = c->runner_path;
	t.state_dir = c->state_dir;
	t.address = c->address;
	t.user = c->user;
	t.host_key = c->host_key;
	t.known_hosts = c->known_hosts;
	t.key_path = c->key_path;
	struct transport *tr = NULL;
	if (transport_new(&t, &tr, err) < 0) {
		free(c->host);
		free(c->runner_path);
		free(c->state_dir);
		free(c->address);
		free(c->user);
		free(c->host_key);
		free(c->known_hosts);
		free(c->key_path);
		free(c);
		return NULL;
	}
	static const struct rclient_callbacks cbs = {
		.output = cb_output, .exit = cb_exit, .ack = cb_ack, .job_error = cb_job_error,
		.connected = cb_connected, .disconnected = cb_disconnected,
	};
	struct rclient_options o = { .max_attempts = 0, .retry_first = true };
	c->rc = rclient_new(tr, &cbs, c, &o);
	c->next = d->conns;
	d->conns = c;
	return c;
}

static void conn_free(struct yd_conn *c)
{
	rclient_free(c->rc);
	free(c->host);
	free(c->runner_path);
	free(c->state_dir);
	free(c->address);
	free(c->user);
	free(c->host_key);
	free(c->known_hosts);
	free(c->key_path);
	free(c);
}

static struct yd_job *job_by_runner_id(struct yd *d, const char *id)
{
	for (struct yd_run *r = d->runs; r; r = r->next) {
		if (state_final(r->state))
			continue;
		for (size_t i = 0; i < r->n_jobs; i++)
			if (r->jobs[i]->phase == JP_LIVE && !strcmp(r->jobs[i]->runner_id, id))
				return r->jobs[i];
	}
	return NULL;
}

/* ---- jobs -------------------------------------------------------------------------------- */

static struct yd_job *job_add(struct yd_run *run, int host_idx, const char *host, int attempt)
{
	struct yd_job *j = xcalloc(1, sizeof(*j));
	j->run = run;
	j->host = xstrdup(host);
	j->host_idx = host_idx;
	j->step_idx = run->step;
	j->attempt = attempt;
	j->phase = JP_WAIT;
	snprintf(j->runner_id, sizeof(j->runner_id), "r%lld-s%d-a%d-h%d", (long long)run->id, run->step,
		 attempt, host_idx);
	run->jobs = xrealloc(run->jobs, (run->n_jobs + 1) * sizeof(*run->jobs));
	run->jobs[run->n_jobs++] = j;
	return j;
}

/* Records a job that ended without a runner (unsupported kind, unknown host, bad secret). */
static void job_fail_now(struct yd *d, struct yd_job *j, const char *result, const char *error)
{
	char rid[24], si[16], at[16];
	const struct rb_step *step = &j->run->rev->rb->steps[j->step_idx];
	snprintf(si, sizeof(si), "%d", j->step_idx);
	snprintf(at, sizeof(at), "%d", j->attempt);
	const char *p[] = { idtext(rid, j->run->id), step->name, si, j->host, at, result, error };
	if (j->id > 0) {
		char jid[24];
		const char *q[] = { idtext(jid, j->id), result, error };
		yd_decide(d, "a job's failure", "UPDATE yoban.jobs SET state = $2::yoban.job_state, "
			  "error = $3, ended_at = now() WHERE id = $1::bigint", 3, q, NULL, NULL, NULL);
	} else {
		yd_decide(d, "a job's failure", "INSERT INTO yoban.jobs (run_id, step, step_index, host, "
			  "attempt, state, error, started_at, ended_at) VALUES ($1::bigint, $2, $3::integer, "
			  "$4, $5::integer, $6::yoban.job_state, $7, now(), now()) ON CONFLICT DO NOTHING",
			  7, p, NULL, NULL, NULL);
	}
	yb_json_free(j->spec);
	j->spec = NULL;
	j->phase = JP_DONE;
	snprintf(j->result, sizeof(j->result), "%s", result);
	yd_log("job %s (run %lld, step '%s', host '%s'): %s: %s", j->runner_id, (long long)j->run->id,
	       step->name, j->host, result, error);
}

struct yd_job_ref {
	int64_t run_id;
	char runner_id[WIRE_MAX_JOB_ID + 1];
};

static struct yd_job *job_ref_find(struct yd *d, const struct yd_job_ref *ref, struct yd_run **run)
{
	*run = run_find(d, ref->run_id);
	for (size_t i = 0; *run && i < (*run)->n_jobs; i++)
		if ((*run)->jobs[i]->phase == JP_STARTING && !strcmp((*run)->jobs[i]->runner_id, ref->runner_id))
			return (*run)->jobs[i];
	return NULL;
}

/* The job row is written (id), or not (id NULL: its run's transition in the same statement did
 * not go through, or the statement was refused): now START, unless the run is being cancelled. */
static void job_row_written(struct yd *d, const struct yd_job_ref *ref, const char *id, bool answered)
{
	struct yd_run *run;
	struct yd_job *j = job_ref_find(d, ref, &run);
	struct yb_err err = { 0 };
	if (!j)
		return;
	d->advance_wanted = true;
	if (!id && (run->state != RS_RUNNING || run->busy)) {
		/* The run did not move to running (refused, or someone else has it): no row was
		 * written; the job is prepared again if the run goes on here. */
		yb_json_free(j->spec);
		j->spec = NULL;
		j->phase = JP_WAIT;
		j->retry_at_ms = 0;
		return;
	}
	if (!id) {
		job_fail_now(d, j, "failed", answered ? "the job row was not written" :
			     "the job row could not be written");
		return;
	}
	j->id = strtoll(id, NULL, 10);
	if (run->state != RS_RUNNING || run->busy || run->cancel_req) {
		job_fail_now(d, j, "cancelled", "the run was cancelled before the job started");
		return;
	}
	struct yd_conn *conn = conn_get(d, j->host, &err);
	if (!conn || rclient_start(conn->rc, j->runner_id, j->spec, &err) < 0) {
		job_fail_now(d, j, "failed", err.msg);
		return;
	}
	yb_json_free(j->spec);
	j->spec = NULL;
	j->phase = JP_LIVE;
	const struct rb_step *step = &run->rev->rb->steps[j->step_idx];
	yd_log("dispatch job %s (run %lld, runbook '%s', step '%s', attempt %d) to host '%s'",
	       j->runner_id, (long long)run->id, run->runbook, step->name, j->attempt, j->host);
}

/* Collects the job row; START is sent once it is written (job_row_written). Tentative (the
 * run's move to running is not written yet): false when the job cannot start, and nothing is
 * recorded (the run's own turn does that once it is running). */
static bool job_start_ex(struct yd *d, struct yd_job *j, bool tentative)
{
	struct yd_run *run = j->run;
	const struct rb_step *step = &run->rev->rb->steps[j->step_idx];
	struct yb_err err = { 0 };
	if (tentative) {
		struct yb_json *spec = NULL;
		if ((step->kind != RB_STEP_RUN && step->kind != RB_STEP_ARGV) || !yd_host(d, j->host) ||
		    !(spec = job_spec(run, step, j, &err)))
			return false;
		yb_json_free(spec);
	}
	if (step->kind != RB_STEP_RUN && step->kind != RB_STEP_ARGV) {
		char *msg = xasprintf("step kind '%s' is not supported by this runner yet",
				      rb_step_kind_name(step->kind));
		job_fail_now(d, j, "failed", msg);
		free(msg);
		return false;
	}
	struct yd_conn *c = conn_get(d, j->host, &err);
	if (!c) {
		job_fail_now(d, j, "failed", err.msg);
		return false;
	}
	struct yb_json *spec = job_spec(run, step, j, &err);
	if (!spec) {
		job_fail_now(d, j, "failed", err.msg);
		return false;
	}
	yb_json_free(j->spec);
	j->spec = spec;
	j->phase = JP_STARTING;
	struct yd_job_ref *ref = xcalloc(1, sizeof(*ref));
	ref->run_id = run->id;
	snprintf(ref->runner_id, sizeof(ref->runner_id), "%s", j->runner_id);
	if (d->n_job_rows == d->cap_job_rows) {
		d->cap_job_rows = d->cap_job_rows ? 2 * d->cap_job_rows : 16;
		d->job_rows = xrealloc(d->job_rows, d->cap_job_rows * sizeof(*d->job_rows));
	}
	d->job_rows[d->n_job_rows++] = ref;
	return true;
}

static void job_start(struct yd *d, struct yd_job *j)
{
	job_start_ex(d, j, false);
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
		const char *id = NULL;
		for (int k = 0; k < rows && !id; k++)
			if (!strcmp(db_result_get(r, k, 0), "j") && db_result_get(r, k, 2) &&
			    !strcmp(db_result_get(r, k, 2), b->jobs[i]->runner_id))
				id = db_result_get(r, k, 1);
		job_row_written(d, b->jobs[i], id, r != NULL);
	}
}

static void arr_open(struct yb_buf *b)
{
	yb_buf_init(b, 0);
	yb_buf_append(b, "{", 1);
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
	enum { M_ID, M_FROM, M_TO, M_WHY, J_RUN, J_STEP, J_IDX, J_HOST, J_ATT, J_RID, N_ARR };
	struct yb_buf a[N_ARR];
	for (int i = 0; i < N_ARR; i++)
		arr_open(&a[i]);
	char num[24];
	for (size_t i = 0; i < b->n_moves; i++) {
		arr_add(&a[M_ID], idtext(num, b->moves[i]->run_id));
		arr_add(&a[M_FROM], state_names[b->moves[i]->from]);
		arr_add(&a[M_TO], state_names[b->moves[i]->to]);
		arr_add(&a[M_WHY], b->moves[i]->has_reason ? b->moves[i]->reason : NULL);
	}
	for (size_t i = 0; i < d->n_job_rows; i++) {
		struct yd_job_ref *ref = d->job_rows[i];
		struct yd_run *run;
		struct yd_job *j = job_ref_find(d, ref, &run);
		if (!j) {
			free(ref);
			continue;
		}
		b->jobs[b->n_jobs++] = ref;
		arr_add(&a[J_RUN], idtext(num, run->id));
		arr_add(&a[J_STEP], run->rev->rb->steps[j->step_idx].name);
		snprintf(num, sizeof(num), "%d", j->step_idx);
		arr_add(&a[J_IDX], num);
		arr_add(&a[J_HOST], j->host);
		snprintf(num, sizeof(num), "%d", j->attempt);
		arr_add(&a[J_ATT], num);
		arr_add(&a[J_RID], j->runner_id);
	}
	free(d->job_rows);
	d->job_rows = NULL;
	d->n_job_rows = d->cap_job_rows = 0;
	const char *p[N_ARR];
	for (int i = 0; i < N_ARR; i++) {
		yb_buf_append(&a[i], "}", 1);
		p[i] = a[i].data;
	}
	const char *what = b->n_jobs && b->n_moves ? "run transitions and job rows" :
			   b->n_jobs ? "job rows" : "run transitions";
	if (b->n_moves || b->n_jobs)
		yd_decide(d, what,
			  "WITH t AS (SELECT f.ord, f.id, yoban.yoban_run_transition(f.id, f.from_state, "
			  "f.to_state, f.reason) AS moved FROM unnest($1::bigint[], $2::yoban.run_state[], "
			  "$3::yoban.run_state[], $4::text[]) WITH ORDINALITY AS f(id, from_state, to_state, "
			  "reason, ord)), "
			  "j AS (INSERT INTO yoban.jobs (run_id, step, step_index, host, attempt, "
			  "runner_job_id, state, started_at) SELECT g.run_id, g.step, g.step_index, g.host, "
			  "g.attempt, g.rid, 'dispatched', now() FROM unnest($5::bigint[], $6::text[], "
			  "$7::integer[], $8::text[], $9::integer[], $10::text[]) AS g(run_id, step, "
			  "step_index, host, attempt, rid) WHERE g.run_id NOT IN (SELECT t.id FROM t WHERE "
			  "NOT coalesce(t.moved, false)) RETURNING id, runner_job_id) "
			  "SELECT 't', t.ord::text, CASE WHEN t.moved THEN 't' ELSE 'f' END FROM t "
			  "UNION ALL SELECT 'j', j.id::text, j.runner_job_id FROM j",
			  N_ARR, p, decisions_written, b, decisions_free);
	else
		decisions_free(b);
	for (int i = 0; i < N_ARR; i++)
		yb_buf_release(&a[i]);
}

/* ---- output and exits -------------------------------------------------------------------- */

int yd_flush_chunks(struct yd *d)
{
	int rc = 0;
	size_t done = 0;
	while (done < d->n_chunks && !d->db_broken) {
		struct yb_buf sql;
		yb_buf_init(&sql, 0);
		yb_buf_appendf(&sql, "INSERT INTO yoban.output_chunks (job_id, stream, \"offset\", raw_len, "
				     "zstd) VALUES ");
		size_t n = 0, bytes = 0;
		const char **p = xcalloc(5 * YD_FLUSH_ROWS, sizeof(*p));
		char (*num)[3][24] = xcalloc(YD_FLUSH_ROWS, sizeof(*num));
		while (done + n < d->n_chunks && n < YD_FLUSH_ROWS && bytes < YD_FLUSH_BYTES) {
			struct yd_chunk *ch = &d->chunks[done + n];
			snprintf(num[n][0], 24, "%lld", (long long)ch->job_id);
			snprintf(num[n][1], 24, "%llu", (unsigned long long)ch->offset);
			snprintf(num[n][2], 24, "%zu", ch->raw_len);
			p[5 * n] = num[n][0];
			p[5 * n + 1] = ch->stream == WIRE_STDERR ? "stderr" : "stdout";
			p[5 * n + 2] = num[n][1];
			p[5 * n + 3] = num[n][2];
			p[5 * n + 4] = ch->zhex;
			yb_buf_appendf(&sql, "%s($%zu::bigint, $%zu::yoban.output_stream, $%zu::bigint, "
					     "$%zu::integer, $%zu::bytea)", n ? ", " : "", 5 * n + 1,
				       5 * n + 2, 5 * n + 3, 5 * n + 4, 5 * n + 5);
			bytes += strlen(ch->zhex);
			n++;
		}
		yb_buf_appendf(&sql, " ON CONFLICT DO NOTHING");
		/* Not waited for: the job's exit, written later on the same connection, comes after
		 * it; a refused INSERT makes the daemon reconcile (re-attach at what is stored). */
		yd_async(d, "output chunks", true, sql.data, (int)(5 * n), p);
		free(p);
		free(num);
		yb_buf_release(&sql);
		done += n;
	}
	for (size_t i = 0; i < d->n_chunks; i++)
		free(d->chunks[i].zhex);
	d->n_chunks = 0;
	if (d->db_broken)
		rc = YB_EIO;
	return rc;
}

static void cb_output(void *ctx, const char *job, int stream, uint64_t offset, const void *data,
		      size_t len)
{
	struct yd_conn *c = ctx;
	struct yd *d = c->d;
	if (d->db_broken)
		return;
	struct yd_job *j = job_by_runner_id(d, job);
	if (!j || offset + len <= j->queued)
		return;
	if (offset < j->queued) {
		size_t skip = (size_t)(j->queued - offset);
		data = (const char *)data + skip;
		len -= skip;
		offset = j->queued;
	}
	struct yb_buf z;
	struct yb_err err = { 0 };
	yb_buf_init(&z, 0);
	if (yb_zstd_compress(&z, data, len, 3, &err) < 0) {
		yd_log("job %s: cannot compress output: %s", job, err.msg);
		yb_buf_release(&z);
		return;
	}
	if (d->n_chunks == d->cap_chunks) {
		d->cap_chunks = d->cap_chunks ? 2 * d->cap_chunks : 64;
		d->chunks = xrealloc(d->chunks, d->cap_chunks * sizeof(*d->chunks));
	}
	d->chunks[d->n_chunks++] = (struct yd_chunk){ .job_id = j->id, .stream = stream,
						      .offset = offset, .raw_len = len,
						      .zhex = yd_bytea_hex(z.data, z.len) };
	yb_buf_release(&z);
	j->queued = offset + len;
	if (d->n_chunks >= YD_FLUSH_ROWS)
		yd_flush_chunks(d);
}

/* The exit row is written (after all the output): the job is done, the runner may forget it. */
static void job_exit_stored(struct yd *d, int64_t job_id)
{
	for (struct yd_run *r = d->runs; r; r = r->next)
		for (size_t i = 0; i < r->n_jobs; i++) {
			struct yd_job *j = r->jobs[i];
			if (j->id != job_id || !j->exit_pending)
				continue;
			j->exit_pending = false;
			j->phase = JP_DONE;
			struct yd_conn *c = conn_get(d, j->host, NULL);
			if (c)
				rclient_forget(c->rc, j->runner_id, NULL);
			d->advance_wanted = true;
			return;
		}
}

static void cb_exit(void *ctx, const char *job, const struct rclient_exit *ex)
{
	struct yd_conn *c = ctx;
	struct yd *d = c->d;
	if (d->db_broken)
		return;
	struct yd_job *j = job_by_runner_id(d, job);
	if (!j || j->exit_pending)
		return;
	/* All the output first: the exit is written only after it. */
	if (yd_flush_chunks(d) < 0)
		return;
	const char *state = ex->cancelled ? "cancelled" : ex->timed_out ? "timed_out" :
			    (ex->has_status && ex->status == 0) ? "succeeded" : "failed";
	char jid[24], st[16], sg[16], ut[24], stt[24], rss[24], ob[24], eb[24], db[24];
	snprintf(st, sizeof(st), "%d", ex->status);
	snprintf(sg, sizeof(sg), "%d", ex->signal);
	snprintf(ut, sizeof(ut), "%lld", (long long)ex->utime_us);
	snprintf(stt, sizeof(stt), "%lld", (long long)ex->stime_us);
	snprintf(rss, sizeof(rss), "%lld", (long long)ex->maxrss_kb);
	snprintf(ob, sizeof(ob), "%llu", (unsigned long long)ex->stdout_bytes);
	snprintf(eb, sizeof(eb), "%llu", (unsigned long long)ex->stderr_bytes);
	snprintf(db, sizeof(db), "%llu", (unsigned long long)ex->dropped_bytes);
	const char *p[] = {
		idtext(jid, j->id), state, ex->has_status ? st : NULL, ex->has_signal ? sg : NULL,
		ut, stt, rss, ob, eb, ex->stdout_sha256[0] ? ex->stdout_sha256 : NULL,
		ex->stderr_sha256[0] ? ex->stderr_sha256 : NULL, db,
		ex->timed_out ? "timed out (the step's timeout)" : NULL,
	};
	/* Queued behind the job's output on the same connection, so written after all of it; the
	 * job is done (and forgotten on the runner) once the row is in (job_exit_stored). */
	yd_async_then(d, "a job's exit", true,
		      "UPDATE yoban.jobs SET state = $2::yoban.job_state, exit_status = $3::integer, "
		      "exit_signal = $4::integer, user_cpu_us = $5::bigint, sys_cpu_us = $6::bigint, "
		      "max_rss_kb = $7::bigint, stdout_bytes = $8::bigint, stderr_bytes = $9::bigint, "
		      "stdout_sha256 = $10, stderr_sha256 = $11, dropped_bytes = $12::bigint, "
		      "error = coalesce($13, error), ended_at = now() WHERE id = $1::bigint",
		      13, p, job_exit_stored, j->id);
	j->exit_pending = true;
	snprintf(j->result, sizeof(j->result), "%s", state);
	if (ex->has_signal)
		yd_log("exit job %s (run %lld, host '%s'): %s, signal %d", job, (long long)j->run->id,
		       j->host, state, ex->signal);
	else
		yd_log("exit job %s (run %lld, host '%s'): %s, status %d", job, (long long)j->run->id,
		       j->host, state, ex->status);
	(void)c;
}

static void cb_ack(void *ctx, const char *job, const char *op, int64_t pid)
{
	struct yd_conn *c = ctx;
	struct yd *d = c->d;
	if (d->db_broken || strcmp(op, "start"))
		return;
	struct yd_job *j = job_by_runner_id(d, job);
	if (!j || j->acked)
		return;
	j->acked = true;
	char jid[24];
	const char *p[] = { idtext(jid, j->id) };
	yd_async(d, "a job's start", false,
		 "UPDATE yoban.jobs SET state = 'running' WHERE id = $1::bigint AND state = 'dispatched'", 1, p);
	(void)pid;
}

static void cb_job_error(void *ctx, const char *job, const char *code, const char *message)
{
	struct yd_conn *c = ctx;
	struct yd *d = c->d;
	if (d->db_broken)
		return;
	struct yd_job *j = job_by_runner_id(d, job);
	if (!j)
		return;
	if (!strcmp(code, "exists")) {
		/* A START sent again (reconcile) for a job the runner has: follow it instead. */
		struct yb_err err = { 0 };
		if (rclient_attach(c->rc, job, j->queued, &err) == 0) {
			yd_log("job %s is already on host '%s': re-attached at offset %llu", job, c->host,
			       (unsigned long long)j->queued);
			return;
		}
		char *why = xasprintf("cannot follow job '%s' on '%s': %s", job, c->host, err.msg);
		job_fail_now(d, j, "failed", why);
		free(why);
	} else if (!strcmp(code, "unknown-job")) {
		char *why = xasprintf("the runner on '%s' has no journal for job '%s' (unknown-job): "
				      "its output and exit are gone", c->host, job);
		job_fail_now(d, j, "lost", why);
		free(why);
	} else {
		char *why = xasprintf("the runner on '%s' refused the job (%s): %s", c->host, code, message);
		job_fail_now(d, j, "failed", why);
		free(why);
	}
	run_advance(d, j->run);
}

static void cb_connected(void *ctx, bool reconnect)
{
	struct yd_conn *c = ctx;
	yd_log("%s runner on host '%s'", reconnect ? "reconnected to the" : "connected to the", c->host);
}

static void cb_disconnected(void *ctx, const struct yb_err *why, int attempt, int delay_ms)
{
	struct yd_conn *c = ctx;
	yd_log("runner on host '%s' disconnected: %s (reconnect attempt %d in %d ms)", c->host,
	       why ? why->msg : "closed", attempt, delay_ms);
}

/* ---- the run state machine --------------------------------------------------------------- */

static void run_finish(struct yd *d, struct yd_run *run, enum yd_run_state to, const char *reason)
{
	/* Refused in the database: someone else has it; forgotten here either way. */
	run_move_ex(d, run, to, reason, true);
}

static bool step_index_of(const struct rb_runbook *rb, const char *name, int *out)
{
	for (size_t i = 0; i < rb->n_steps; i++)
		if (!strcmp(rb->steps[i].name, name)) {
			*out = (int)i;
			return true;
		}
	return false;
}

/* Is a run of another runbook (or this one) holding one of run's locks? */
static struct yd_run *lock_holder(struct yd *d, struct yd_run *run, const char **lock)
{
	const struct rb_runbook *rb = run->rev->rb;
	for (struct yd_run *o = d->runs; o; o = o->next) {
		if (o == run || (run_eff(o) != RS_RUNNING && run_eff(o) != RS_CANCELLING))
			continue;
		const struct rb_runbook *orb = o->rev->rb;
		for (size_t i = 0; i < rb->n_locks; i++)
			for (size_t k = 0; k < orb->n_locks; k++)
				if (!strcmp(rb->locks[i], orb->locks[k])) {
					*lock = rb->locks[i];
					return o;
				}
	}
	return NULL;
}

static void run_cancel(struct yd *d, struct yd_run *run, const char *why)
{
	if (run->busy) {
		/* Its transition is being written: the cancel follows once the answer is in. */
		if (!run->cancel_req)
			run->cancel_req = xstrdup(why);
		return;
	}
	if (run->state == RS_PENDING || run->state == RS_QUEUED) {
		run_finish(d, run, RS_CANCELLED, why);
		return;
	}
	if (run->state == RS_RUNNING) {
		run_move(d, run, RS_CANCELLING, why); /* then run_advance sends CANCEL */
		return;
	}
	run->cancel_sent = false;
	run_advance(d, run);
}

/* Pending or queued: may it start now? */
static bool run_admit(struct yd *d, struct yd_run *run)
{
	const struct rb_runbook *rb = run->rev->rb;
	char why[256];
	if (run->hold_until > now_s()) {
		if (run->state == RS_PENDING) {
			char until[64];
			tz_format_iso(zone_of(rb), run->hold_until, until, sizeof(until));
			snprintf(why, sizeof(why), "held by a maintenance window until %s", until);
			run_move(d, run, RS_QUEUED, why);
		}
		return false;
	}
	size_t n_hosts;
	run_hosts(run, &n_hosts);
	if (run->staging && !n_hosts) {
		run_finish(d, run, RS_FAILED, "the runbook has no staging_hosts for a staging run");
		return false;
	}
	struct yd_run *active = NULL, *older_queued = NULL;
	for (struct yd_run *o = d->runs; o; o = o->next) {
		if (o == run || strcmp(o->runbook, run->runbook) || o->staging != run->staging)
			continue;
		enum yd_run_state os = run_eff(o);
		if (os == RS_RUNNING || os == RS_CANCELLING)
			active = o;
		else if ((os == RS_QUEUED || os == RS_PENDING) && o->id < run->id)
			older_queued = o;
	}
	switch (rb->concurrency) {
	case RB_CONC_FORBID:
		if (active) {
			snprintf(why, sizeof(why), "concurrency forbid: run %lld is still running",
				 (long long)active->id);
			run_finish(d, run, RS_SKIPPED, why);
			return false;
		}
		break;
	case RB_CONC_QUEUE:
		if (active || older_queued) {
			if (run->state == RS_PENDING) {
				snprintf(why, sizeof(why), "concurrency queue: waiting for run %lld",
					 (long long)(active ? active : older_queued)->id);
				run_move(d, run, RS_QUEUED, why);
			}
			return false;
		}
		break;
	case RB_CONC_REPLACE:
		if (active) {
			if (run_eff(active) == RS_RUNNING && !active->cancel_req) {
				snprintf(why, sizeof(why), "replaced by run %lld", (long long)run->id);
				run_cancel(d, active, why);
			}
			if (run->state == RS_PENDING) {
				snprintf(why, sizeof(why), "concurrency replace: waiting for run %lld to stop",
					 (long long)active->id);
				run_move(d, run, RS_QUEUED, why);
			}
			return false;
		}
		break;
	case RB_CONC_ALLOW:
		break;
	}
	const char *lock = NULL;
	struct yd_run *holder = lock_holder(d, run, &lock);
	if (holder) {
		if (run->state == RS_PENDING) {
			snprintf(why, sizeof(why), "waiting for lock '%s' held by run %lld", lock,
				 (long long)holder->id);
			run_move(d, run, RS_QUEUED, why);
		}
		return false;
	}
	run_move(d, run, RS_RUNNING, NULL);
	return false; /* goes on once the transition is written */
}

/* The run's move to running is on its way: its current step's first jobs go with it (their rows
 * are written in the same statement, only if the move goes through), so START follows one commit
 * after admission rather than two. Anything unusual is left to the run's own turn. */
static void run_prepare_jobs(struct yd *d, struct yd_run *run)
{
	const struct rb_runbook *rb = run->rev->rb;
	size_t n_hosts;
	char **hosts = run_hosts(run, &n_hosts);
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
			last = job_add(run, (int)h, hosts[h], 1);
		if (!job_start_ex(d, last, true) && added) {
			run->n_jobs--; /* the one just added: the run's own turn deals with it */
			job_free(last);
		}
	}
}

/* Drives one run as far as it can go now. */
static void run_advance(struct yd *d, struct yd_run *run)
{
	if (d->db_broken || state_final(run->state) || run->busy)
		return;
	if (run->cancel_req) {
		char *why = run->cancel_req;
		run->cancel_req = NULL;
		run_cancel(d, run, why);
		free(why);
		if (run->busy || state_final(run->state))
			return;
	}
	if (run->state == RS_PENDING || run->state == RS_QUEUED) {
		if (!run_admit(d, run)) {
			if (run->busy && run->moving_to == RS_RUNNING)
				run_prepare_jobs(d, run);
			return;
		}
	}
	const struct rb_runbook *rb = run->rev->rb;
	size_t n_hosts;
	char **hosts = run_hosts(run, &n_hosts);
	int64_t now = yb_mono_ms();
	for (;;) {
		if (d->db_broken || state_final(run->state) || run->busy)
			return;
		if (run->state == RS_CANCELLING) {
			bool live = false;
			for (size_t i = 0; i < run->n_jobs; i++) {
				struct yd_job *j = run->jobs[i];
				if (j->phase == JP_WAIT) {
					j->phase = JP_DONE;
					snprintf(j->result, sizeof(j->result), "cancelled");
				} else if (j->phase == JP_STARTING) {
					live = true; /* its row's answer turns it into cancelled */
				} else if (j->phase == JP_LIVE) {
					live = true;
					if (!run->cancel_sent) {
						struct yd_conn *c = conn_get(d, j->host, NULL);
						if (c)
							rclient_cancel(c->rc, j->runner_id, NULL);
					}
				}
			}
			run->cancel_sent = true;
			if (!live)
				run_finish(d, run, RS_CANCELLED, NULL);
			return;
		}
		if ((size_t)run->step >= rb->n_steps) {
			if (run->fail_state)
				run_finish(d, run, state_parse(run->fail_state), run->fail_reason);
			else
				run_finish(d, run, RS_SUCCEEDED, NULL);
			return;
		}
		const struct rb_step *step = &rb->steps[run->step];
		if (n_hosts == 0) {
			run_finish(d, run, RS_FAILED, "the runbook names no hosts");
			return;
		}
		bool pending = false;
		const char *worst = NULL;
		const char *worst_host = NULL;
		for (size_t h = 0; h < n_hosts; h++) {
			struct yd_job *last = NULL;
			for (size_t i = 0; i < run->n_jobs; i++)
				if (run->jobs[i]->host_idx == (int)h &&
				    (!last || run->jobs[i]->attempt > last->attempt))
					last = run->jobs[i];
			if (!last) {
				last = job_add(run, (int)h, hosts[h], 1);
				job_start(d, last);
				if (d->db_broken)
					return;
			}
			if (last->phase == JP_WAIT) {
				if (now >= last->retry_at_ms)
					job_start(d, last);
				if (d->db_broken)
					return;
			}
			if (last->phase != JP_DONE) {
				pending = true;
				continue;
			}
			if (!strcmp(last->result, "succeeded"))
				continue;
			struct rb_retry retry = rb_step_retry(rb, step);
			if ((!strcmp(last->result, "failed") || !strcmp(last->result, "timed_out")) &&
			    last->attempt < retry.attempts) {
				struct yd_job *next = job_add(run, (int)h, hosts[h], last->attempt + 1);
				next->retry_at_ms = now + retry.delay_ms;
				yd_log("retry: run %lld step '%s' on '%s' attempt %d of %d in %lld ms",
				       (long long)run->id, step->name, hosts[h], next->attempt, retry.attempts,
				       (long long)retry.delay_ms);
				if (retry.delay_ms <= 0)
					job_start(d, next);
				pending = true;
				continue;
			}
			/* lost beats timed_out beats failed beats cancelled */
			static const char *const rank[] = { "cancelled", "failed", "timed_out", "lost" };
			int rw = -1, rl = -1;
			for (int k = 0; k < 4; k++) {
				if (worst && !strcmp(worst, rank[k]))
					rw = k;
				if (!strcmp(last->result, rank[k]))
					rl = k;
			}
			if (rl > rw) {
				worst = rank[rl < 0 ? 1 : rl];
				worst_host = hosts[h];
			}
		}
		if (pending)
			return;
		if (worst) {
			char why[512];
			snprintf(why, sizeof(why), "step '%s' %s on host '%s'", step->name, worst, worst_host);
			if (!strcmp(worst, "lost")) {
				run_finish(d, run, RS_LOST, why);
				return;
			}
			if (!strcmp(worst, "cancelled")) {
				run_finish(d, run, RS_CANCELLED, why);
				return;
			}
			if (!run->fail_state) {
				run->fail_state = xstrdup(worst);
				run->fail_reason = xstrdup(why);
			}
			if (step->on_failure == RB_ON_FAILURE_ABORT) {
				run_finish(d, run, state_parse(run->fail_state), run->fail_reason);
				return;
			}
		}
		run_clear_jobs(run);
		run->step++;
	}
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

/* Fails the live jobs of runner connections that gave up for good. */
static void conns_check(struct yd *d)
{
	struct yd_conn **p = &d->conns;
	while (*p) {
		struct yd_conn *c = *p;
		if (rclient_state(c->rc) != RC_FAILED) {
			p = &c->next;
			continue;
		}
		const struct yb_err *why = rclient_error(c->rc);
		char *msg = xasprintf("the runner on '%s' is unreachable: %s", c->host, why ? why->msg : "");
		yd_log("%s", msg);
		for (struct yd_run *r = d->runs; r; r = r->next)
			for (size_t i = 0; i < r->n_jobs; i++)
				if (r->jobs[i]->phase == JP_LIVE && !r->jobs[i]->exit_pending &&
				    !strcmp(r->jobs[i]->host, c->host))
					job_fail_now(d, r->jobs[i], "failed", msg);
		free(msg);
		*p = c->next;
		conn_free(c);
	}
}

void yd_runs_advance(struct yd *d)
{
	conns_check(d);
	for (struct yd_run *r = d->runs; r && !d->db_broken; r = r->next)
		run_advance(d, r);
	runs_gc(d);
}

/* ---- fires -------------------------------------------------------------------------------- */

static const struct rb_maintenance *maintenance_at(struct yd *d, const char *runbook, int64_t t)
{
	if (!d->base)
		return NULL;
	const struct rb_site *s = &d->base->set->site;
	for (size_t i = 0; i < s->n_maintenance; i++) {
		const struct rb_maintenance *m = &s->maintenance[i];
		if (t < m->from || t >= m->to)
			continue;
		if (!m->n_runbooks)
			return m;
		for (size_t k = 0; k < m->n_runbooks; k++)
			if (!strcmp(m->runbooks[k], runbook))
				return m;
	}
	return NULL;
}

/* A claimed (or already claimed) fire: the run is made and goes its way. Takes params. */
static void fire_claimed(struct yd *d, const char *name, struct yd_rev *rev, int64_t at,
			 const char *trigger, const char *skip_reason, struct yb_json *params,
			 int64_t run_id, bool claimed)
{
	char when[64];
	tz_format_iso(zone_of(rev->rb), at, when, sizeof(when));
	yd_log("fire runbook '%s' at %s (%s)", name, when, trigger);
	if (!claimed) {
		yd_log("claim: fire of '%s' at %s was already claimed (run %lld): nothing to do", name,
		       when, (long long)run_id);
		yb_json_free(params);
		return;
	}
	yd_log("claim: run %lld for '%s' at %s", (long long)run_id, name, when);
	struct yd_run *run = run_new(d, run_id, name, yd_rev_ref(rev), false, trigger, at, params,
				     RS_PENDING);
	const struct rb_maintenance *m = maintenance_at(d, name, at);
	char why[256];
	if (!skip_reason && m && m->action == RB_MAINT_SKIP) {
		snprintf(why, sizeof(why), "in maintenance window '%s' (skip)", m->name);
		skip_reason = why;
	}
	if (skip_reason) {
		run_finish(d, run, RS_SKIPPED, skip_reason);
		return;
	}
	if (m)
		run->hold_until = m->to;
	run_advance(d, run);
}

/* The run's parameters for a fire; *skip_reason set when they cannot be resolved. */
static struct yb_json *fire_params(struct yd_entry *e, int64_t at, const char **skip_reason)
{
	struct yb_err err = { 0 };
	struct yb_json *params = params_resolve(e->rev->rb, NULL, at, &err);
	if (!params) {
		yd_log("fire of '%s' at %lld: %s", e->name, (long long)at, err.msg);
		params = yb_json_object();
		if (!*skip_reason)
			*skip_reason = "a required parameter has no default";
	}
	return params;
}

/* Claims one fire and waits for the answer (catch-up, before the loop serves); skip_reason:
 * record it as skipped. Returns <0 when the database failed. */
static int fire(struct yd *d, struct yd_entry *e, int64_t at, const char *trigger,
		const char *skip_reason)
{
	struct yb_err err = { 0 };
	struct yd_rev *rev = e->rev;
	if (yd_rev_record(d, rev) < 0)
		return YB_EDB;
	struct yb_json *params = fire_params(e, at, &skip_reason);
	char *ptext = yb_json_dump(params, 0);
	char at_text[24], rev_text[24];
	const char *p[] = { e->name, idtext(at_text, at), idtext(rev_text, rev->id), ptext, trigger };
	struct db_result *res = NULL;
	int rc = yd_exec(d, "SELECT run_id, claimed FROM yoban.yoban_claim_fire($1, to_timestamp($2::bigint), "
			    "'production', $3::bigint, $4::jsonb, $5::yoban.run_trigger)", 5, p, &res, &err);
	free(ptext);
	if (rc < 0) {
		yb_json_free(params);
		return rc;
	}
	int64_t run_id = strtoll(db_result_get(res, 0, 0), NULL, 10);
	bool claimed = !strcmp(db_result_get(res, 0, 1), "t");
	db_result_free(res);
	fire_claimed(d, e->name, rev, at, trigger, skip_reason, params, run_id, claimed);
	return 0;
}

/* Fires due together are claimed by one statement (one transaction): the claims of a batch. */
#define YD_FIRE_BATCH 500

struct fire_item {
	char *name;
	struct yd_rev *rev;
	int64_t at;
	const char *skip_reason; /* static text or NULL */
	struct yb_json *params;
};

struct fire_batch {
	size_t n;
	struct fire_item *items;
};

static void fire_batch_free(void *ctx)
{
	struct fire_batch *fb = ctx;
	if (!fb)
		return;
	for (size_t i = 0; i < fb->n; i++) {
		free(fb->items[i].name);
		yd_rev_unref(fb->items[i].rev);
		yb_json_free(fb->items[i].params);
	}
	free(fb->items);
	free(fb);
}

/* The batch's claims are in: one row per fire, in order. */
static void fires_claimed(struct yd *d, void *ctx, struct db_result *r)
{
	struct fire_batch *fb = ctx;
	if (!r || (size_t)db_result_rows(r) != fb->n) {
		/* Refused (logged): reconnect, and the leader's catch-up claims these fires. */
		yd_log("%zu fire(s) could not be claimed: reconnecting to catch up from the database", fb->n);
		d->db_broken = true;
	} else {
		for (size_t i = 0; i < fb->n; i++) {
			struct fire_item *it = &fb->items[i];
			int64_t run_id = strtoll(db_result_get(r, (int)i, 0), NULL, 10);
			bool claimed = !strcmp(db_result_get(r, (int)i, 1), "t");
			fire_claimed(d, it->name, it->rev, it->at, "schedule", it->skip_reason, it->params,
				     run_id, claimed);
			it->params = NULL;
		}
	}
	/* fb itself is freed by the queue (fire_batch_free) */
}

void yd_fire_due(struct yd *d)
{
	int64_t now = now_s();
	struct yd_entry *e;
	while (!d->db_broken && (e = yd_heap_top(d)) && e->next_fire <= now) {
		struct fire_batch *fb = xcalloc(1, sizeof(*fb));
		fb->items = xcalloc(YD_FIRE_BATCH, sizeof(*fb->items));
		struct yb_buf a_name, a_at, a_rev, a_params;
		yb_buf_init(&a_name, 0);
		yb_buf_init(&a_at, 0);
		yb_buf_init(&a_rev, 0);
		yb_buf_init(&a_params, 0);
		yb_buf_append(&a_name, "{", 1);
		yb_buf_append(&a_at, "{", 1);
		yb_buf_append(&a_rev, "{", 1);
		yb_buf_append(&a_params, "{", 1);
		while (fb->n < YD_FIRE_BATCH && !d->db_broken && (e = yd_heap_top(d)) &&
		       e->next_fire <= now) {
			int64_t at = e->next_fire;
			e->cursor = at;
			yd_heap_update(d, e);
			/* Blocks only for a revision not recorded yet (recorded at load, normally). */
			if (yd_rev_record(d, e->rev) < 0)
				continue; /* logged; a broken connection is caught up by the next leader */
			struct fire_item *it = &fb->items[fb->n++];
			it->name = xstrdup(e->name);
			it->rev = yd_rev_ref(e->rev);
			it->at = at;
			it->params = fire_params(e, at, &it->skip_reason);
			char num[24];
			char *ptext = yb_json_dump(it->params, 0);
			arr_add(&a_name, e->name);
			arr_add(&a_at, idtext(num, at));
			arr_add(&a_rev, idtext(num, e->rev->id));
			arr_add(&a_params, ptext);
			free(ptext);
		}
		yb_buf_append(&a_name, "}", 1);
		yb_buf_append(&a_at, "}", 1);
		yb_buf_append(&a_rev, "}", 1);
		yb_buf_append(&a_params, "}", 1);
		if (fb->n && !d->db_broken) {
			const char *p[] = { a_name.data, a_at.data, a_rev.data, a_params.data };
			struct fire_batch *ctx = fb;
			fb = NULL;
			yd_decide(d, "the claim of due fires",
				  "SELECT c.run_id, c.claimed FROM unnest($1::text[], $2::bigint[], "
				  "$3::bigint[], $4::jsonb[]) WITH ORDINALITY AS f(runbook, at, rev, params, ord) "
				  "CROSS JOIN LATERAL yoban.yoban_claim_fire(f.runbook, to_timestamp(f.at), "
				  "'production', f.rev, f.params, 'schedule') AS c ORDER BY f.ord",
				  4, p, fires_claimed, ctx, fire_batch_free);
		}
		fire_batch_free(fb);
		yb_buf_release(&a_name);
		yb_buf_release(&a_at);
		yb_buf_release(&a_rev);
		yb_buf_release(&a_params);
	}
}

/* Missed fires since the last claimed one (or the last leader's heartbeat), by catchup policy. */
static void catch_up(struct yd *d)
{
	int64_t now = now_s();
	const char *me[] = { d->instance };
	char *hb = yd_value(d, "SELECT extract(epoch FROM max(at))::bigint FROM yoban.heartbeats "
			       "WHERE leader AND instance <> $1", 1, me);
	int64_t since_hb = hb ? strtoll(hb, NULL, 10) : now;
	free(hb);
	for (size_t i = 0; i < d->n_entries && !d->db_broken; i++) {
		struct yd_entry *e = d->entries[i];
		const struct rb_runbook *rb = e->rev->rb;
		if (!rb->has_schedule)
			continue;
		const char *p[] = { e->name };
		char *last = yd_value(d, "SELECT extract(epoch FROM max(scheduled_for))::bigint FROM yoban.runs "
					 "WHERE runbook = $1 AND mode = 'production' AND "
					 "trigger IN ('schedule', 'catchup')", 1, p);
		int64_t cursor = last ? strtoll(last, NULL, 10) : since_hb;
		free(last);
		if (cursor == since_hb) {
			/* Never fired: not before the runbook was first seen either. */
			char *first = yd_value(d, "SELECT extract(epoch FROM min(loaded_at))::bigint FROM "
						  "yoban.runbook_revisions WHERE runbook = $1", 1, p);
			if (first && strtoll(first, NULL, 10) > cursor)
				cursor = strtoll(first, NULL, 10);
			free(first);
		}
		int64_t window_start = now - rb->catchup_window_ms / 1000;
		if (cursor < window_start)
			cursor = window_start;
		int64_t *missed = NULL;
		size_t n = 0;
		int64_t t = cursor;
		while (n < YD_MAX_CATCHUP) {
			int64_t next;
			if (sched_next(&rb->schedule, t, &next, NULL) < 0 || next > now)
				break;
			missed = xrealloc(missed, (n + 1) * sizeof(*missed));
			missed[n++] = t = next;
		}
		if (n)
			yd_log("catch-up: runbook '%s' missed %zu fire(s) (catchup: %s)", e->name, n,
			       rb_catchup_name(rb->catchup));
		for (size_t k = 0; k < n && !d->db_broken; k++) {
			const char *skip = NULL;
			if (rb->catchup == RB_CATCHUP_NONE)
				skip = "missed while no scheduler led (catchup: none)";
			else if (rb->catchup == RB_CATCHUP_LATEST && k + 1 < n)
				skip = "missed while no scheduler led (catchup: latest runs only the last)";
			fire(d, e, missed[k], "catchup", skip);
		}
		free(missed);
		if (d->db_broken)
			return;
		/* No fire lies in (t, now]: the timers go on from now. */
		e->cursor = now > cursor ? now : cursor;
		yd_heap_update(d, e);
	}
}

/* ---- reconcile ----------------------------------------------------------------------------- */

static void reconcile_run(struct yd *d, struct db_result *runs, int row)
{
	struct yb_err err = { 0 };
	int64_t id = strtoll(db_result_get(runs, row, 0), NULL, 10);
	const char *runbook = db_result_get(runs, row, 1);
	const char *rev_id = db_result_get(runs, row, 2);
	bool staging = !strcmp(db_result_get(runs, row, 3), "staging");
	const char *trigger = db_result_get(runs, row, 4);
	const char *sched = db_result_get(runs, row, 5);
	enum yd_run_state state = state_parse(db_result_get(runs, row, 6));
	const char *params_text = db_result_get(runs, row, 7);
	const char *from_step = db_result_get(runs, row, 8);
	struct yb_json *params = NULL;
	if (yb_json_parse(params_text, strlen(params_text), &params, &err) < 0)
		params = yb_json_object();
	struct yd_rev *rev = rev_id ? yd_rev_by_id(d, strtoll(rev_id, NULL, 10), runbook, &err) : NULL;
	if (!rev_id)
		yb_err_set(&err, YB_ENOENT, "the run has no revision");
	struct yd_run *run = run_new(d, id, runbook, rev, staging, trigger,
				     sched ? strtoll(sched, NULL, 10) : now_s(), params, state);
	yd_log("reconcile: run %lld (%s) was %s", (long long)id, runbook, state_names[state]);
	if (!rev) {
		/* Nothing to execute from: end it with the reason rather than leave it in flight. */
		char *why = xasprintf("cannot be resumed: %s", err.msg);
		char rid[24];
		const char *p[] = { idtext(rid, id), state_names[state], why };
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
		const struct rb_maintenance *m = maintenance_at(d, runbook, run->scheduled_for);
		if (m && m->action == RB_MAINT_HOLD) {
			run->hold_until = m->to;
		} else if (m && state == RS_PENDING) {
			char *why = xasprintf("in maintenance window '%s' (skip)", m->name);
			run_finish(d, run, RS_SKIPPED, why);
			free(why);
			return;
		}
	}
	if (from_step)
		step_index_of(rb, from_step, &run->step);
	char rid[24];
	const char *p[] = { idtext(rid, id) };
	struct db_result *jobs = NULL;
	if (yd_exec(d, "SELECT j.id, j.step_index, j.host, j.attempt, j.runner_job_id, j.state, "
		       "coalesce((SELECT max(c.\"offset\" + c.raw_len) FROM yoban.output_chunks c "
		       "WHERE c.job_id = j.id), 0) FROM yoban.jobs j WHERE j.run_id = $1::bigint "
		       "ORDER BY j.step_index, j.attempt, j.id", 1, p, &jobs, &err) < 0)
		return;
	int nrows = db_result_rows(jobs);
	int max_step = -1;
	for (int i = 0; i < nrows; i++) {
		int s = atoi(db_result_get(jobs, i, 1));
		if (s > max_step)
			max_step = s;
	}
	size_t n_hosts;
	char **hosts = run_hosts(run, &n_hosts);
	if (max_step >= 0) {
		run->step = max_step;
		/* Earlier steps: did one fail (and the run went on)? */
		for (int i = 0; i < nrows; i++) {
			int s = atoi(db_result_get(jobs, i, 1));
			const char *js = db_result_get(jobs, i, 5);
			bool later_ok = false;
			for (int k = i + 1; k < nrows; k++)
				if (atoi(db_result_get(jobs, k, 1)) == s &&
				    !strcmp(db_result_get(jobs, k, 2), db_result_get(jobs, i, 2)))
					later_ok = true; /* a later attempt decides */
			if (s < max_step && !later_ok && strcmp(js, "succeeded") && !run->fail_state) {
				run->fail_state = xstrdup(!strcmp(js, "timed_out") ? "timed_out" : "failed");
				run->fail_reason = xasprintf("step '%s' %s on host '%s'", rb->steps[s].name, js,
							     db_result_get(jobs, i, 2));
			}
		}
		for (int i = 0; i < nrows; i++) {
			if (atoi(db_result_get(jobs, i, 1)) != max_step)
				continue;
			const char *host = db_result_get(jobs, i, 2);
			int h = -1;
			for (size_t k = 0; k < n_hosts; k++)
				if (!strcmp(hosts[k], host))
					h = (int)k;
			if (h < 0)
				continue;
			struct yd_job *j = job_add(run, h, host, atoi(db_result_get(jobs, i, 3)));
			j->id = strtoll(db_result_get(jobs, i, 0), NULL, 10);
			if (db_result_get(jobs, i, 4))
				snprintf(j->runner_id, sizeof(j->runner_id), "%s", db_result_get(jobs, i, 4));
			const char *js = db_result_get(jobs, i, 5);
			j->queued = strtoull(db_result_get(jobs, i, 6), NULL, 10);
			if (strcmp(js, "dispatched") && strcmp(js, "running") && strcmp(js, "pending")) {
				j->phase = JP_DONE;
				snprintf(j->result, sizeof(j->result), "%s", js);
				continue;
			}
			struct yd_conn *c = conn_get(d, host, &err);
			if (!c) {
				job_fail_now(d, j, "failed", err.msg);
				continue;
			}
			j->phase = JP_LIVE;
			j->acked = !strcmp(js, "running");
			if (!j->acked && j->queued == 0) {
				/* START may never have reached the runner: send it again; a runner that has
				 * the job answers "exists" and the client follows it instead. */
				struct yb_json *spec = job_spec(run, &rb->steps[max_step], j, &err);
				if (!spec || rclient_start(c->rc, j->runner_id, spec, &err) < 0)
					job_fail_now(d, j, "failed", err.msg);
				yb_json_free(spec);
				yd_log("reconcile: job %s re-sent to host '%s'", j->runner_id, host);
			} else {
				rclient_attach(c->rc, j->runner_id, j->queued, &err);
				yd_log("reconcile: job %s re-attached on host '%s' at offset %llu", j->runner_id,
				       host, (unsigned long long)j->queued);
			}
		}
	}
	db_result_free(jobs);
	if (state == RS_RUNNING || state == RS_CANCELLING)
		run->cancel_sent = false;
}

static void reconcile(struct yd *d)
{
	struct db_result *runs = NULL;
	if (yd_exec(d, "SELECT id, runbook, revision_id, mode, trigger, "
		       "extract(epoch FROM scheduled_for)::bigint, state, params::text, rerun_from_step "
		       "FROM yoban.runs WHERE state IN ('pending', 'queued', 'running', 'cancelling') "
		       "ORDER BY id", 0, NULL, &runs, NULL) < 0)
		return;
	int n = db_result_rows(runs);
	if (n)
		yd_log("reconcile: %d run(s) in flight", n);
	for (int i = 0; i < n && !d->db_broken; i++)
		reconcile_run(d, runs, i);
	db_result_free(runs);
	runs_gc(d);
}

void yd_leader_start(struct yd *d)
{
	for (size_t i = 0; i < d->n_entries && !d->db_broken; i++)
		yd_rev_record(d, d->entries[i]->rev);
	reconcile(d);
	if (!d->db_broken)
		catch_up(d);
	if (!d->db_broken)
		d->requests_pending = true;
}

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
	const char *q[] = { idtext(idt, id), d->instance, ok ? "true" : "false", rtext };
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
	if (c->of)
		yd_log("rerun: run %lld of run %lld ('%s') from step %d, requested by %s", (long long)run_id,
		       (long long)c->of, c->runbook, c->from_idx, c->by);
	else
		yd_log("trigger: run %lld of '%s' (%s) requested by %s (request %lld)", (long long)run_id,
		       c->runbook, c->staging ? "staging" : "production", c->by, (long long)c->req);
	struct yd_run *run = run_new(d, run_id, c->runbook, c->rev, c->staging, c->of ? "rerun" : "manual",
				     c->at, c->params, RS_PENDING);
	c->rev = NULL;
	c->params = NULL;
	run->step = c->from_idx;
	run_advance(d, run);
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
	int64_t now = now_s();
	struct yb_json *params = params_resolve(e->rev->rb, yb_json_get(args, "params"), now, &err);
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
	const char *p[] = { name, staging ? "staging" : "production", by, idtext(rq, req),
			    idtext(rv, e->rev->id), ptext };
	struct create_ctx *c = xcalloc(1, sizeof(*c));
	c->req = req;
	c->runbook = xstrdup(name);
	c->by = xstrdup(by);
	c->rev = yd_rev_ref(e->rev);
	c->staging = staging;
	c->params = params;
	c->at = now;
	yd_decide(d, "a triggered run", "SELECT yoban.yoban_create_run($1, 'manual', $2::yoban.run_mode, "
		  "$3, $4::bigint, $5::bigint, $6::jsonb)", 6, p, run_created, c, create_ctx_free);
	free(ptext);
	yb_json_free(res);
	return NULL; /* answered by run_created */
}

static struct yb_json *req_cancel(struct yd *d, const struct yb_json *args, const char *by, bool *ok)
{
	struct yb_json *res = yb_json_object();
	int64_t id = yb_json_get_int(args, "run", 0);
	struct yd_run *run = run_find(d, id);
	*ok = false;
	yb_json_set(res, "run", yb_json_int(id));
	if (!run || state_final(run_eff(run))) {
		yb_json_set(res, "error", yb_json_str("the run is not in flight"));
		return res;
	}
	char *why = xasprintf("cancelled by %s", by);
	run_cancel(d, run, why);
	free(why);
	/* The state it is on its way to (the transition is written before the request's answer). */
	yb_json_set(res, "state", yb_json_str(run->cancel_req ? "cancelling" : state_names[run_eff(run)]));
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

static void reqs_free(struct yd *d)
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
	reqs_free(d);
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
	if (from && !step_index_of(rev->rb, from, &from_idx)) {
		yd_rev_unref(rev);
		char *m = xasprintf("no step '%s' in runbook '%s'", from, q->o_runbook);
		yb_json_set(res, "error", yb_json_str(m));
		free(m);
		return res;
	}
	char rq[24], rv[24], ofs[24];
	const char *p[] = { q->o_runbook, staging ? "staging" : "production", q->by, idtext(rq, q->id),
			    idtext(rv, rev_id), q->o_params, idtext(ofs, of), from };
	struct create_ctx *c = xcalloc(1, sizeof(*c));
	c->req = q->id;
	c->of = of;
	c->runbook = xstrdup(q->o_runbook);
	c->by = xstrdup(q->by);
	c->rev = rev;
	c->staging = staging;
	if (yb_json_parse(q->o_params, strlen(q->o_params), &c->params, NULL) < 0)
		c->params = yb_json_object();
	c->at = now_s();
	c->from_idx = from_idx;
	yd_decide(d, "a rerun", "SELECT yoban.yoban_create_run($1, 'rerun', $2::yoban.run_mode, $3, "
		  "$4::bigint, $5::bigint, $6::jsonb, $7::bigint, $8)", 8, p, run_created, c,
		  create_ctx_free);
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
		} else if (!strcmp(kind, "rerun")) {
			res = req_rerun(d, q, args, &ok);
		} else if (!strcmp(kind, "reload")) {
			res = req_reload(d, &ok);
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
	reqs_free(d);
	runs_gc(d);
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
	reqs_free(d);
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
		conn_free(c);
	}
	for (size_t i = 0; i < d->n_chunks; i++)
		free(d->chunks[i].zhex);
	free(d->chunks);
	d->chunks = NULL;
	d->n_chunks = d->cap_chunks = 0;
}
