/*
 * jobs.c: jobs (one step of a run on one host, one attempt): their START payload, the runner
 * connections, and what comes back (acks, output, exits, errors).
 *
 * The one idea: a job row with its runner id is written before START is sent, so whoever leads
 * next finds the job on its runner and re-attaches at the stored offset. The id is made by the
 * statement that writes the row ("r<run>-s<step>-a<attempt>-h<host>-<site>-<nonce>": the site's
 * random id and the run's random nonce, 005_hardening.sql), so no other database, site or hand
 * made job can hold it; the runner's digest of the spec (ACK) is kept with the row and goes with
 * every later ATTACH, CANCEL and FORGET, and "conflict" (the id held by another spec) is a refusal.
 * A job's exit row is queued behind all its output and only once it is written is the job done and
 * the runner told to FORGET it. Lost is not free: a job lost while processes of it still run holds
 * its run's slot and locks, and is asked about every YD_PROBE_MS until the runner says nothing is
 * left (or an operator releases it). A job that never reached an unreachable runner fails at its
 * dispatch deadline (the step's timeout), and is cancelled at once. Output chunks go to output.c,
 * which stores them behind, with a bound on what waits in memory.
 */
#include "yoband.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin.h"
#include "digest.h"
#include "names.h"
#include "step_results.h"
#include "tz.h"

/* ---- parameters and job specs ------------------------------------------------------------ */

const struct tz *yd_zone_of(const struct rb_runbook *rb)
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
struct yb_json *yd_params_resolve(const struct rb_runbook *rb, const struct yb_json *given,
				      int64_t scheduled_for, struct yb_err *err)
{
	struct yb_civil c;
	char date[16];
	tz_to_local(yd_zone_of(rb), scheduled_for, &c, NULL);
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
				const char **names = xcalloc(rb->n_params + 1, sizeof(*names));
				for (size_t i = 0; i < rb->n_params; i++)
					names[i] = rb->params[i].name;
				const char *close = yb_closest(k, names, rb->n_params);
				yb_err_set(err, YB_EINVAL, "unknown parameter '%s' for runbook '%s'%s%s%s", k,
					   rb->name, close ? " (did you mean '" : "", close ? close : "",
					   close ? "'?)" : "");
				free(names);
				return NULL;
			}
			if (yb_json_is_null(v)) {
				yb_err_set(err, YB_EINVAL, "parameter '%s' of runbook '%s' is null: give it a "
					   "value (--param %s=VALUE) or leave it out for its default", k,
					   rb->name, k);
				return NULL;
			}
		}
	}
	struct yb_json *out = yb_json_object();
	for (size_t i = 0; i < rb->n_params; i++) {
		const struct rb_param *p = &rb->params[i];
		struct yb_json *v = given ? yb_json_get(given, p->name) : NULL;
		unsigned char *bytes = NULL;
		size_t n_bytes = 0;
		if (v && yb_json_bytes_value(v, &bytes, &n_bytes, NULL) == 0) {
			/* a string, or bytes that are not UTF-8 as {"base64": ...}: kept as given */
			yb_json_set(out, p->name, yb_json_bytes(bytes, n_bytes));
			free(bytes);
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

char **yd_run_hosts(const struct yd_run *run, size_t *n)
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
struct yb_json *yd_job_spec(const struct yd *d, const struct yd_run *run,
			    const struct rb_step *step, const struct yd_job *j, struct yb_err *err)
{
	const struct rb_runbook *rb = run->rev->rb;
	struct yb_json *spec = yb_json_object();
	if (rb_step_is_builtin(step)) {
		/* the runner binary in its step mode, the spec resolved here (builtin.h) */
		struct yb_json *argv = NULL;
		if (!d->base || rb_builtin_argv(&d->base->set->inventory, rb, step, &argv, err) < 0) {
			if (!d->base)
				yb_err_set(err, YB_EINVAL, "no site loaded to resolve the step against");
			yb_json_free(spec);
			return NULL;
		}
		yb_json_set(spec, "argv", argv);
	} else if (step->kind == RB_STEP_RUN) {
		yb_json_set(spec, "shell", yb_json_str(step->run));
	} else if (step->kind == RB_STEP_SQL) {
		/* "step":"sql" below, with its fields in env */
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
		unsigned char *v = NULL;
		size_t n = 0;
		if (yb_json_bytes_value(yb_json_get(run->params, rb->params[i].name), &v, &n, NULL) == 0) {
			yb_json_set(env, rb->params[i].env_name, yb_json_bytes(v, n));
			free(v);
		}
	}
	yb_json_set(env, "YOBAN_RUN_ID", yb_json_str(yd_idtext(buf, run->id)));
	tz_format_iso(yd_zone_of(rb), run->scheduled_for, buf, sizeof(buf));
	yb_json_set(env, "YOBAN_SCHEDULED_AT", yb_json_str(buf));
	yb_json_set(env, "YOBAN_RUNBOOK", yb_json_str(rb->name));
	yb_json_set(env, "YOBAN_STEP", yb_json_str(step->name));
	snprintf(buf, sizeof(buf), "%d", j->attempt);
	yb_json_set(env, "YOBAN_ATTEMPT", yb_json_str(buf));
	yb_json_set(env, "YOBAN_HOST", yb_json_str(j->host));
	if (step->kind == RB_STEP_SQL)
		yd_sql_spec(spec, env, step, rb_step_timeout_ms(rb, step));
	if (step->n_secrets) {
		struct yb_json *secrets = yb_json_array();
		for (size_t i = 0; i < step->n_secrets; i++) {
			char *val = NULL;
			size_t len = 0;
			/* the site's secrets folder rule, checked again on the opened file (docs/runbook-
			 * reference.md, Secrets): a secret that breaks it fails the step unrun */
			if (!d->base || rb_secret_read(&d->base->set->site, step->secrets[i].value,
						       RB_MAX_SECRET_BYTES, &val, &len, err) < 0) {
				if (!d->base)
					yb_err_set(err, YB_EINVAL, "no site loaded to read secrets from");
				yb_json_free(secrets);
				yb_json_free(env);
				yb_json_free(spec);
				return NULL;
			}
			while (len && (val[len - 1] == '\n' || val[len - 1] == '\r'))
				val[--len] = 0;
			yb_json_set(env, step->secrets[i].name, yb_json_bytes(val, strlen(val)));
			if (len)
				yb_json_push(secrets, yb_json_bytes(val, strlen(val)));
			yb_wipe(val, len);
			free(val);
		}
		yb_json_set(spec, "secrets", secrets);
	}
	if (yb_json_get(env, "YOBAN_RUNNER_JOB")) {
		/* the runner's own marker of a job's processes (docs/runner.md, Lost jobs): never ours */
		yb_err_set(err, YB_EINVAL, "step '%s' sets YOBAN_RUNNER_JOB in its environment: that name "
			   "is the runner's marker of a job's processes; rename the variable", step->name);
		yb_json_free(env);
		yb_json_free(spec);
		return NULL;
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
static void cb_job_report(void *ctx, const char *job, const struct rclient_report *r);
static void cb_connected(void *ctx, bool reconnect);
static void cb_disconnected(void *ctx, const struct yb_err *why, int attempt, int delay_ms);

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

struct yd_conn *yd_conn_get(struct yd *d, const char *hostname, struct yb_err *err)
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
		.output = cb_output, .exit = cb_exit, .ack = cb_ack, .job_report = cb_job_report,
		.connected = cb_connected, .disconnected = cb_disconnected,
	};
	struct rclient_options o = { .max_attempts = 0, .retry_first = true };
	c->rc = rclient_new(tr, &cbs, c, &o);
	c->next = d->conns;
	d->conns = c;
	return c;
}

void yd_conn_free(struct yd_conn *c)
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
		if (yd_run_state_final(r->state))
			continue;
		for (size_t i = 0; i < r->n_jobs; i++)
			if (r->jobs[i]->phase == JP_LIVE && !strcmp(r->jobs[i]->runner_id, id))
				return r->jobs[i];
	}
	return NULL;
}

/* ---- jobs -------------------------------------------------------------------------------- */

struct yd_job *yd_job_add(struct yd_run *run, int host_idx, const char *host, int attempt)
{
	struct yd_job *j = xcalloc(1, sizeof(*j));
	j->run = run;
	j->host = xstrdup(host);
	j->host_idx = host_idx;
	j->step_idx = run->step;
	j->attempt = attempt;
	j->phase = JP_WAIT;
	j->processes = -1;
	run->jobs = xrealloc(run->jobs, (run->n_jobs + 1) * sizeof(*run->jobs));
	run->jobs[run->n_jobs++] = j;
	return j;
}

/* Records a job that ended without a runner (unsupported kind, unknown host, bad secret). */
void yd_job_fail_now(struct yd *d, struct yd_job *j, enum yd_job_result result, const char *error)
{
	char rid[24], si[16], at[16];
	const struct rb_step *step = &j->run->rev->rb->steps[j->step_idx];
	const char *state = yd_job_result_name(result);
	snprintf(si, sizeof(si), "%d", j->step_idx);
	snprintf(at, sizeof(at), "%d", j->attempt);
	const char *p[] = { yd_idtext(rid, j->run->id), step->name, si, j->host, at, state, error };
	if (j->id > 0) {
		char jid[24];
		const char *q[] = { yd_idtext(jid, j->id), state, error };
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
	j->result = result;
	char label[WIRE_MAX_JOB_ID + 64];
	yd_log("job %s (run %lld, step '%s', host '%s'): %s: %s", yd_job_label(j, label, sizeof(label)),
	       (long long)j->run->id, step->name, j->host, state, error);
}

const char *yd_job_label(const struct yd_job *j, char *buf, size_t size)
{
	if (j->runner_id[0])
		snprintf(buf, size, "%s", j->runner_id);
	else
		snprintf(buf, size, "r%lld-s%d-a%d-h%d (no row yet)", (long long)j->run->id, j->step_idx,
			 j->attempt, j->host_idx);
	return buf;
}

struct yd_job *yd_job_ref_find(struct yd *d, const struct yd_job_ref *ref, struct yd_run **run)
{
	*run = yd_run_find(d, ref->run_id);
	for (size_t i = 0; *run && i < (*run)->n_jobs; i++) {
		struct yd_job *j = (*run)->jobs[i];
		if (j->phase == JP_STARTING && j->step_idx == ref->step_idx &&
		    j->host_idx == ref->host_idx && j->attempt == ref->attempt)
			return j;
	}
	return NULL;
}

/* The job row is written (id), or not (id NULL: its run's transition in the same statement did
 * not go through, or the statement was refused): now START, unless the run is being cancelled. */
void yd_job_row_written(struct yd *d, const struct yd_job_ref *ref, const char *id,
			const char *runner_id, bool answered)
{
	struct yd_run *run;
	struct yd_job *j = yd_job_ref_find(d, ref, &run);
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
		yd_job_fail_now(d, j, YD_JOB_FAILED, answered ? "the job row was not written" :
			     "the job row could not be written");
		return;
	}
	j->id = strtoll(id, NULL, 10);
	snprintf(j->runner_id, sizeof(j->runner_id), "%s", runner_id ? runner_id : "");
	if (run->state != RS_RUNNING || run->busy || run->cancel_req) {
		yd_job_fail_now(d, j, YD_JOB_CANCELLED, "the run was cancelled before the job started");
		return;
	}
	struct yd_conn *conn = yd_conn_get(d, j->host, &err);
	if (!conn || rclient_start(conn->rc, j->runner_id, j->spec, &err) < 0) {
		yd_job_fail_now(d, j, YD_JOB_FAILED, err.msg);
		return;
	}
	yb_json_free(j->spec);
	j->spec = NULL;
	j->phase = JP_LIVE;
	const struct rb_step *step = &run->rev->rb->steps[j->step_idx];
	j->dispatch_by_ms = yb_mono_ms() + rb_step_timeout_ms(run->rev->rb, step);
	yd_log("dispatch job %s (run %lld, runbook '%s', step '%s', attempt %d) to host '%s'",
	       j->runner_id, (long long)run->id, run->runbook, step->name, j->attempt, j->host);
}

/* The step kinds the runner runs: commands, the built-in kinds of its step mode (builtin.h),
 * and the sql step (START "step":"sql", runner/steps/sql.h). */
static bool kind_runs(const struct rb_step *step)
{
	enum rb_step_kind k = step->kind;
	if (rb_step_is_builtin(step))
		return true;
	return k == RB_STEP_RUN || k == RB_STEP_ARGV || k == RB_STEP_SQL;
}

/* Collects the job row; START is sent once it is written (job_row_written). Tentative (the
 * run's move to running is not written yet): false when the job cannot start, and nothing is
 * recorded (the run's own turn does that once it is running). */
bool yd_job_start_ex(struct yd *d, struct yd_job *j, bool tentative)
{
	struct yd_run *run = j->run;
	const struct rb_step *step = &run->rev->rb->steps[j->step_idx];
	struct yb_err err = { 0 };
	if (tentative) {
		struct yb_json *spec = NULL;
		if (!kind_runs(step) || !yd_host(d, j->host) ||
		    !(spec = yd_job_spec(d, run, step, j, &err)))
			return false;
		yb_json_free(spec);
	}
	if (!kind_runs(step)) {
		char *msg = xasprintf("step kind '%s' is not supported by this runner yet",
				      rb_step_kind_name(step->kind));
		yd_job_fail_now(d, j, YD_JOB_FAILED, msg);
		free(msg);
		return false;
	}
	struct yd_conn *c = yd_conn_get(d, j->host, &err);
	if (!c) {
		yd_job_fail_now(d, j, YD_JOB_FAILED, err.msg);
		return false;
	}
	struct yb_json *spec = yd_job_spec(d, run, step, j, &err);
	if (!spec) {
		yd_job_fail_now(d, j, YD_JOB_FAILED, err.msg);
		return false;
	}
	yb_json_free(j->spec);
	j->spec = spec;
	j->phase = JP_STARTING;
	struct yd_job_ref *ref = xcalloc(1, sizeof(*ref));
	ref->run_id = run->id;
	ref->step_idx = j->step_idx;
	ref->host_idx = j->host_idx;
	ref->attempt = j->attempt;
	if (d->n_job_rows == d->cap_job_rows) {
		d->cap_job_rows = d->cap_job_rows ? 2 * d->cap_job_rows : 16;
		d->job_rows = xrealloc(d->job_rows, d->cap_job_rows * sizeof(*d->job_rows));
	}
	d->job_rows[d->n_job_rows++] = ref;
	return true;
}

void yd_job_start(struct yd *d, struct yd_job *j)
{
	yd_job_start_ex(d, j, false);
}

/* ---- output and exits -------------------------------------------------------------------- */

static void keep_tail(struct yd_job *j, const void *data, size_t len);
static void record_evidence(struct yd *d, struct yd_job *j, const char *state);

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
	yd_output_chunk(d, c, j->id, stream, offset, data, len);
	j->queued = offset + len;
	if (stream == WIRE_STDOUT && rb_step_is_builtin(&j->run->rev->rb->steps[j->step_idx]))
		keep_tail(j, data, len);
}

#define EVIDENCE_TAIL (64u << 10)

/* A built-in step's stdout, its last EVIDENCE_TAIL bytes kept for the evidence line. */
static void keep_tail(struct yd_job *j, const void *data, size_t len)
{
	if (!j->stdout_tail) {
		j->stdout_tail = xcalloc(1, sizeof(*j->stdout_tail));
		yb_buf_init(j->stdout_tail, 0);
	}
	struct yb_buf *t = j->stdout_tail;
	if (len >= EVIDENCE_TAIL) {
		yb_buf_reset(t);
		yb_buf_append(t, (const char *)data + len - EVIDENCE_TAIL, EVIDENCE_TAIL);
		return;
	}
	if (t->len + len > EVIDENCE_TAIL)
		yb_buf_consume(t, t->len + len - EVIDENCE_TAIL);
	yb_buf_append(t, data, len);
}

/* The step's evidence (its last "yoban-evidence" line) as backup_evidence rows, queued before the
 * exit row. A step that ended without one (killed, timed out) is recorded as a failed event. */
static void record_evidence(struct yd *d, struct yd_job *j, const char *state)
{
	const struct rb_runbook *rb = j->run->rev->rb;
	const struct rb_step *step = &rb->steps[j->step_idx];
	struct yb_json *ev = NULL, *rows;
	struct yb_err err = { 0 };
	if (rb_evidence_find(j->stdout_tail ? j->stdout_tail->data : "",
			     j->stdout_tail ? j->stdout_tail->len : 0, &ev, &err) == 0) {
		rows = rb_evidence_rows(ev);
	} else {
		rows = yb_json_array();
		struct yb_json *row = yb_json_object();
		const char *repo = step->kind == RB_STEP_BACKUP ? step->backup.repository
				   : step->kind == RB_STEP_OFFSITE ? step->offsite.repository
								   : step->restore.repository;
		yb_json_set(row, "event", yb_json_str(rb_step_kind_name(step->kind)));
		yb_json_set(row, "repository", yb_json_str(repo));
		yb_json_set(row, "ok", yb_json_bool(false));
		char *why = xasprintf("the step ended %s without evidence: %s", state, err.msg);
		yb_json_set(row, "error", yb_json_str(why));
		free(why);
		yb_json_set(row, "detail", yb_json_object());
		yb_json_push(rows, row);
	}
	char rid[24], jid[24];
	char *text = yb_json_dump(rows, 0);
	const char *p[] = { yd_idtext(rid, j->run->id), yd_idtext(jid, j->id), rb->name, step->name,
			    j->host, text };
	if (yb_json_len(rows))
		yd_async(d, "backup evidence", false, RB_EVIDENCE_INSERT_SQL, 6, p);
	free(text);
	yb_json_free(rows);
	yb_json_free(ev);
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
			struct yd_conn *c = yd_conn_get(d, j->host, NULL);
			if (c)
				rclient_forget(c->rc, j->runner_id, NULL);
			d->advance_wanted = true;
			return;
		}
}

/* What the runner said it killed and what was left, as the job's evidence (jsonb text). */
static char *exit_evidence(const struct rclient_exit *ex, struct yd_job *j)
{
	static const char *const keys[] = { "killed_count", "killed", "lost", "processes", "pids", "error" };
	struct yb_json *e = yb_json_object();
	for (size_t i = 0; ex->record && i < YB_ARRAY_LEN(keys); i++) {
		struct yb_json *v = yb_json_get(ex->record, keys[i]);
		if (v)
			yb_json_set(e, keys[i], yb_json_ref(v));
	}
	struct yb_json *o = yb_json_object();
	yb_json_set(o, "exit", e);
	if (j->cancel_said) {
		yb_json_set(o, "cancel", j->cancel_said);
		j->cancel_said = NULL;
	}
	char *text = yb_json_dump(o, 0);
	yb_json_free(o);
	return text;
}

static void cb_exit(void *ctx, const char *job, const struct rclient_exit *ex)
{
	struct yd_conn *c = ctx;
	struct yd *d = c->d;
	if (d->db_broken)
		return;
	struct yd_job *j = job_by_runner_id(d, job);
	if (!j && yd_lost_exit(d, c, job, ex))
		return; /* a probe of a lost job holding its slot (lost.c) */
	if (!j || j->exit_pending)
		return;
	/* All the output first: the exit is written only after it. */
	yd_output_flush(d, true);
	if (d->db_broken)
		return;
	/* a built-in step's evidence, ahead of the exit row; a data patch that committed succeeded
	 * (its patch is applied once), whatever happened to its process afterwards */
	bool committed;
	char *told;
	yd_step_result_store(d, j, ex, &committed, &told);
	enum yd_job_result result = committed ? YD_JOB_SUCCEEDED : ex->lost ? YD_JOB_LOST :
				    ex->cancelled ? YD_JOB_CANCELLED :
				    ex->timed_out ? YD_JOB_TIMED_OUT :
				    (ex->has_status && ex->status == 0) ? YD_JOB_SUCCEEDED : YD_JOB_FAILED;
	const char *state = yd_job_result_name(result);
	if (rb_step_is_builtin(&j->run->rev->rb->steps[j->step_idx]))
		record_evidence(d, j, state);
	/* Lost with processes left (or not said): the run keeps its slot until they are gone. */
	bool holds = ex->lost && ex->processes != 0;
	char *lost_why = NULL;
	if (ex->lost)
		lost_why = holds ? xasprintf("lost: the job's supervisor on '%s' died and %lld process%s "
					     "of the step still run%s there: the run holds its slot and "
					     "locks until they end (or 'yoban release %lld')", c->host,
					     (long long)ex->processes, ex->processes == 1 ? "" : "es",
					     ex->processes == 1 ? "s" : "", (long long)j->run->id)
				 : xasprintf("lost: the job's supervisor on '%s' died; nothing of the step "
					     "runs there any more", c->host);
	char *evidence = exit_evidence(ex, j);
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
		yd_idtext(jid, j->id), state, ex->has_status ? st : NULL, ex->has_signal ? sg : NULL,
		ut, stt, rss, ob, eb, ex->stdout_sha256[0] ? ex->stdout_sha256 : NULL,
		ex->stderr_sha256[0] ? ex->stderr_sha256 : NULL, db,
		lost_why ? lost_why : ex->timed_out ? "timed out (the step's timeout)" : NULL,
		evidence, holds ? "true" : "false",
	};
	if (told && !lost_why &&
	    (result != YD_JOB_SUCCEEDED || strstr(told, "settled") || strstr(told, "txid_status")))
		p[12] = told; /* the data patch's own account (a lost job's says why it holds its slot) */
	/* Queued behind the job's output on the same connection, so written after all of it; the
	 * job is done (and forgotten on the runner) once the row is in (job_exit_stored). */
	yd_async_then(d, "a job's exit", true,
		      "UPDATE yoban.jobs SET state = $2::yoban.job_state, exit_status = $3::integer, "
		      "exit_signal = $4::integer, user_cpu_us = $5::bigint, sys_cpu_us = $6::bigint, "
		      "max_rss_kb = $7::bigint, stdout_bytes = $8::bigint, stderr_bytes = $9::bigint, "
		      "stdout_sha256 = $10, stderr_sha256 = $11, dropped_bytes = $12::bigint, "
		      "error = coalesce($13, error), ended_at = now(), evidence = coalesce(evidence, "
		      "'{}') || $14::jsonb, holds_slot = $15::boolean WHERE id = $1::bigint",
		      15, p, job_exit_stored, j->id);
	free(lost_why);
	free(evidence);
	free(told);
	j->exit_pending = true;
	j->result = result;
	if (holds) {
		j->holds = true;
		j->processes = ex->processes;
		j->probe_at_ms = yb_mono_ms() + YD_PROBE_MS;
	}
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
	const char *digest = rclient_job_spec_sha256(c->rc, job);
	if (digest)
		snprintf(j->spec_sha256, sizeof(j->spec_sha256), "%s", digest);
	char jid[24];
	const char *p[] = { yd_idtext(jid, j->id), digest };
	yd_async(d, "a job's start", false,
		 "UPDATE yoban.jobs SET state = 'running', spec_sha256 = coalesce($2, spec_sha256) "
		 "WHERE id = $1::bigint AND state = 'dispatched'", 2, p);
	(void)pid;
}

static void cb_job_report(void *ctx, const char *job, const struct rclient_report *r)
{
	struct yd_conn *c = ctx;
	struct yd *d = c->d;
	if (d->db_broken)
		return;
	if (yd_lost_report(d, c, job, r))
		return; /* about a lost job holding its slot (lost.c) */
	struct yd_job *j = job_by_runner_id(d, job);
	if (!j)
		return;
	if (r->op) {
		/* CANCEL of a job no supervisor answers for: what was killed goes in its evidence
		 * (its lost EXIT follows) */
		yb_json_free(j->cancel_said);
		j->cancel_said = yb_json_ref((struct yb_json *)r->frame);
		return;
	}
	const char *code = r->code;
	if (!strcmp(code, "exists")) {
		/* A START sent again (reconcile) for a job the runner has under this id with the same
		 * spec digest: the same job, followed instead. */
		struct yb_err err = { 0 };
		if (rclient_attach_spec(c->rc, job, j->queued, r->spec_sha256, &err) == 0) {
			yd_log("job %s is already on host '%s': re-attached at offset %llu", job, c->host,
			       (unsigned long long)j->queued);
			return;
		}
		char *why = xasprintf("cannot follow job '%s' on '%s': %s", job, c->host, err.msg);
		yd_job_fail_now(d, j, YD_JOB_FAILED, why);
		free(why);
	} else if (!strcmp(code, "conflict")) {
		/* Never adopted: the id is another job's there (made by hand, or by another site). */
		char *why = xasprintf("another job holds the id '%s' on host '%s' (the runner answered "
				      "conflict: its spec is not this step's): this step was not started "
				      "there and that job was not adopted", job, c->host);
		yd_job_fail_now(d, j, YD_JOB_FAILED, why);
		free(why);
	} else if (!strcmp(code, "unknown-job") || !strcmp(code, "unknown-running")) {
		yd_job_lost(d, j, c, r);
	} else {
		char *why = xasprintf("the runner on '%s' refused the job (%s): %s", c->host, code,
				      r->message);
		yd_job_fail_now(d, j, YD_JOB_FAILED, why);
		free(why);
	}
	yd_run_advance(d, j->run);
}

static void cb_connected(void *ctx, bool reconnect)
{
	struct yd_conn *c = ctx;
	yd_log("%s runner on host '%s'", reconnect ? "reconnected to the" : "connected to the", c->host);
}

static void cb_disconnected(void *ctx, const struct yb_err *why, int attempt, int delay_ms)
{
	struct yd_conn *c = ctx;
	snprintf(c->last_error, sizeof(c->last_error), "%.255s", why ? why->msg : "closed");
	yd_log("runner on host '%s' disconnected: %s (reconnect attempt %d in %d ms)", c->host,
	       why ? why->msg : "closed", attempt, delay_ms);
}

/* Fails the live jobs of runner connections that gave up for good. */
void yd_conns_check(struct yd *d)
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
					yd_job_fail_now(d, r->jobs[i], YD_JOB_FAILED, msg);
		free(msg);
		*p = c->next;
		yd_conn_free(c);
	}
}

