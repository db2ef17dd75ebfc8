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

/* Writes the transition (compare-and-set) before anything acts on it. */
static bool run_move(struct yd *d, struct yd_run *run, enum yd_run_state to, const char *reason)
{
	char id[24];
	const char *p[] = { idtext(id, run->id), state_names[run->state], state_names[to], reason };
	char *v = yd_value(d, "SELECT yoban.yoban_run_transition($1::bigint, $2::yoban.run_state, "
			      "$3::yoban.run_state, $4)", 4, p);
	if (!v)
		return false;
	bool moved = !strcmp(v, "t");
	free(v);
	if (!moved) {
		yd_log("run %lld: not in state %s any more (another scheduler moved it); dropped from memory",
		       (long long)run->id, state_names[run->state]);
		run->state = RS_LOST; /* only in memory: gc forgets it */
		return false;
	}
	yd_log("run %lld (%s): %s -> %s%s%s", (long long)run->id, run->runbook, state_names[run->state],
	       state_names[to], reason ? ": " : "", reason ? reason : "");
	run->state = to;
	return true;
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
		yd_exec(d, "UPDATE yoban.jobs SET state = $2::yoban.job_state, error = $3, ended_at = now() "
			   "WHERE id = $1::bigint", 3, q, NULL, NULL);
	} else {
		yd_exec(d, "INSERT INTO yoban.jobs (run_id, step, step_index, host, attempt, state, error, "
			   "started_at, ended_at) VALUES ($1::bigint, $2, $3::integer, $4, $5::integer, "
			   "$6::yoban.job_state, $7, now(), now()) ON CONFLICT DO NOTHING", 7, p, NULL, NULL);
	}
	j->phase = JP_DONE;
	snprintf(j->result, sizeof(j->result), "%s", result);
	yd_log("job %s (run %lld, step '%s', host '%s'): %s: %s", j->runner_id, (long long)j->run->id,
	       step->name, j->host, result, error);
}

/* Writes the job row, then sends START. */
static void job_start(struct yd *d, struct yd_job *j)
{
	struct yd_run *run = j->run;
	const struct rb_step *step = &run->rev->rb->steps[j->step_idx];
	struct yb_err err = { 0 };
	if (step->kind != RB_STEP_RUN && step->kind != RB_STEP_ARGV) {
		char *msg = xasprintf("step kind '%s' is not supported by this runner yet",
				      rb_step_kind_name(step->kind));
		job_fail_now(d, j, "failed", msg);
		free(msg);
		return;
	}
	struct yd_conn *c = conn_get(d, j->host, &err);
	if (!c) {
		job_fail_now(d, j, "failed", err.msg);
		return;
	}
	struct yb_json *spec = job_spec(run, step, j, &err);
	if (!spec) {
		job_fail_now(d, j, "failed", err.msg);
		return;
	}
	char rid[24], si[16], at[16];
	snprintf(si, sizeof(si), "%d", j->step_idx);
	snprintf(at, sizeof(at), "%d", j->attempt);
	const char *p[] = { idtext(rid, run->id), step->name, si, j->host, at, j->runner_id };
	char *v = yd_value(d, "INSERT INTO yoban.jobs (run_id, step, step_index, host, attempt, "
			      "runner_job_id, state, started_at) VALUES ($1::bigint, $2, $3::integer, $4, "
			      "$5::integer, $6, 'dispatched', now()) RETURNING id", 6, p);
	if (!v) {
		yb_json_free(spec);
		if (!d->db_broken)
			job_fail_now(d, j, "failed", "the job row could not be written");
		return;
	}
	j->id = strtoll(v, NULL, 10);
	free(v);
	if (rclient_start(c->rc, j->runner_id, spec, &err) < 0) {
		yb_json_free(spec);
		job_fail_now(d, j, "failed", err.msg);
		return;
	}
	yb_json_free(spec);
	j->phase = JP_LIVE;
	yd_log("dispatch job %s (run %lld, runbook '%s', step '%s', attempt %d) to host '%s'",
	       j->runner_id, (long long)run->id, run->runbook, step->name, j->attempt, j->host);
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
	run_move(d, run, to, reason);
	if (!state_final(run->state))
		run->state = to; /* refused in the database: someone else has it; forget it here */
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
		if (o == run || (o->state != RS_RUNNING && o->state != RS_CANCELLING))
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
	if (run->state == RS_PENDING || run->state == RS_QUEUED) {
		run_finish(d, run, RS_CANCELLED, why);
		return;
	}
	if (run->state == RS_RUNNING && !run_move(d, run, RS_CANCELLING, why))
		return;
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
		if (o->state == RS_RUNNING || o->state == RS_CANCELLING)
			active = o;
		else if ((o->state == RS_QUEUED || o->state == RS_PENDING) && o->id < run->id)
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
			if (active->state == RS_RUNNING) {
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
	return run_move(d, run, RS_RUNNING, NULL);
}

/* Drives one run as far as it can go now. */
static void run_advance(struct yd *d, struct yd_run *run)
{
	if (d->db_broken || state_final(run->state))
		return;
	if (run->state == RS_PENDING || run->state == RS_QUEUED) {
		if (!run_admit(d, run))
			return;
	}
	const struct rb_runbook *rb = run->rev->rb;
	size_t n_hosts;
	char **hosts = run_hosts(run, &n_hosts);
	int64_t now = yb_mono_ms();
	for (;;) {
		if (d->db_broken || state_final(run->state))
			return;
		if (run->state == RS_CANCELLING) {
			bool live = false;
			for (size_t i = 0; i < run->n_jobs; i++) {
				struct yd_job *j = run->jobs[i];
				if (j->phase == JP_WAIT) {
					j->phase = JP_DONE;
					snprintf(j->result, sizeof(j->result), "cancelled");
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

/* Claims one fire; skip_reason: record it as skipped. Returns <0 when the database failed. */
static int fire(struct yd *d, struct yd_entry *e, int64_t at, const char *trigger,
		const char *skip_reason)
{
	struct yb_err err = { 0 };
	struct yd_rev *rev = e->rev;
	if (yd_rev_record(d, rev) < 0)
		return YB_EDB;
	struct yb_json *params = params_resolve(rev->rb, NULL, at, &err);
	if (!params) {
		yd_log("fire of '%s' at %lld: %s", e->name, (long long)at, err.msg);
		params = yb_json_object();
		if (!skip_reason)
			skip_reason = "a required parameter has no default";
	}
	char *ptext = yb_json_dump(params, 0);
	char at_text[24], rev_text[24], when[64];
	tz_format_iso(zone_of(rev->rb), at, when, sizeof(when));
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
	yd_log("fire runbook '%s' at %s (%s)", e->name, when, trigger);
	if (!claimed) {
		yd_log("claim: fire of '%s' at %s was already claimed (run %lld): nothing to do", e->name,
		       when, (long long)run_id);
		yb_json_free(params);
		return 0;
	}
	yd_log("claim: run %lld for '%s' at %s", (long long)run_id, e->name, when);
	struct yd_run *run = run_new(d, run_id, e->name, yd_rev_ref(rev), false, trigger, at, params,
				     RS_PENDING);
	const struct rb_maintenance *m = maintenance_at(d, e->name, at);
	char why[256];
	if (!skip_reason && m && m->action == RB_MAINT_SKIP) {
		snprintf(why, sizeof(why), "in maintenance window '%s' (skip)", m->name);
		skip_reason = why;
	}
	if (skip_reason) {
		run_finish(d, run, RS_SKIPPED, skip_reason);
		return 0;
	}
	if (m)
		run->hold_until = m->to;
	run_advance(d, run);
	return 0;
}

void yd_fire_due(struct yd *d)
{
	int64_t now = now_s();
	struct yd_entry *e;
	while (!d->db_broken && (e = yd_heap_top(d)) && e->next_fire <= now) {
		int64_t at = e->next_fire;
		if (fire(d, e, at, "schedule", NULL) < 0 && d->db_broken)
			return; /* the next leader turn catches up from the database */
		e->cursor = at;
		yd_heap_update(d, e);
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
	char *v = yd_value(d, "SELECT yoban.yoban_create_run($1, 'manual', $2::yoban.run_mode, $3, "
			      "$4::bigint, $5::bigint, $6::jsonb)", 6, p);
	free(ptext);
	if (!v) {
		yb_json_free(params);
		yb_json_set(res, "error", yb_json_str("the run could not be created"));
		return res;
	}
	int64_t run_id = strtoll(v, NULL, 10);
	free(v);
	yd_log("trigger: run %lld of '%s' (%s) requested by %s (request %lld)", (long long)run_id, name,
	       staging ? "staging" : "production", by, (long long)req);
	struct yd_run *run = run_new(d, run_id, name, yd_rev_ref(e->rev), staging, "manual", now, params,
				     RS_PENDING);
	run_advance(d, run);
	yb_json_set(res, "run", yb_json_int(run_id));
	*ok = true;
	return res;
}

static struct yb_json *req_cancel(struct yd *d, const struct yb_json *args, const char *by, bool *ok)
{
	struct yb_json *res = yb_json_object();
	int64_t id = yb_json_get_int(args, "run", 0);
	struct yd_run *run = run_find(d, id);
	*ok = false;
	yb_json_set(res, "run", yb_json_int(id));
	if (!run || state_final(run->state)) {
		yb_json_set(res, "error", yb_json_str("the run is not in flight"));
		return res;
	}
	char *why = xasprintf("cancelled by %s", by);
	run_cancel(d, run, why);
	free(why);
	yb_json_set(res, "state", yb_json_str(state_names[run->state]));
	*ok = true;
	return res;
}

static struct yb_json *req_rerun(struct yd *d, int64_t req, const struct yb_json *args,
				 const char *by, bool *ok)
{
	struct yb_err err = { 0 };
	struct yb_json *res = yb_json_object();
	int64_t of = yb_json_get_int(args, "run", 0);
	const char *from = yb_json_get_str(args, "from_step");
	char ofs[24];
	const char *p[] = { idtext(ofs, of) };
	struct db_result *r = NULL;
	*ok = false;
	if (yd_exec(d, "SELECT runbook, revision_id, mode, params::text FROM yoban.runs WHERE id = $1::bigint",
		    1, p, &r, &err) < 0 || db_result_rows(r) != 1 || !db_result_get(r, 0, 1)) {
		db_result_free(r);
		yb_json_set(res, "error", yb_json_str("the run to rerun was not found or has no revision"));
		return res;
	}
	char *runbook = xstrdup(db_result_get(r, 0, 0));
	int64_t rev_id = strtoll(db_result_get(r, 0, 1), NULL, 10);
	bool staging = !strcmp(db_result_get(r, 0, 2), "staging");
	char *ptext = xstrdup(db_result_get(r, 0, 3));
	db_result_free(r);
	struct yd_rev *rev = yd_rev_by_id(d, rev_id, runbook, &err);
	int from_idx = 0;
	if (!rev) {
		yb_json_set(res, "error", yb_json_str(err.msg));
		goto out;
	}
	if (from && !step_index_of(rev->rb, from, &from_idx)) {
		yd_rev_unref(rev);
		char *m = xasprintf("no step '%s' in runbook '%s'", from, runbook);
		yb_json_set(res, "error", yb_json_str(m));
		free(m);
		goto out;
	}
	char rq[24], rv[24];
	const char *q[] = { runbook, staging ? "staging" : "production", by, idtext(rq, req),
			    idtext(rv, rev_id), ptext, ofs, from };
	char *v = yd_value(d, "SELECT yoban.yoban_create_run($1, 'rerun', $2::yoban.run_mode, $3, "
			      "$4::bigint, $5::bigint, $6::jsonb, $7::bigint, $8)", 8, q);
	if (!v) {
		yd_rev_unref(rev);
		yb_json_set(res, "error", yb_json_str("the run could not be created"));
		goto out;
	}
	int64_t run_id = strtoll(v, NULL, 10);
	free(v);
	struct yb_json *params = NULL;
	if (yb_json_parse(ptext, strlen(ptext), &params, NULL) < 0)
		params = yb_json_object();
	struct yd_run *run = run_new(d, run_id, runbook, rev, staging, "rerun", now_s(), params, RS_PENDING);
	run->step = from_idx;
	yd_log("rerun: run %lld of run %lld ('%s') from step %d, requested by %s", (long long)run_id,
	       (long long)of, runbook, from_idx, by);
	run_advance(d, run);
	yb_json_set(res, "run", yb_json_int(run_id));
	*ok = true;
out:
	free(runbook);
	free(ptext);
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

void yd_handle_requests(struct yd *d)
{
	d->requests_pending = false;
	struct db_result *r = NULL;
	if (yd_exec(d, "SELECT id, kind, args::text, requested_by FROM yoban.requests "
		       "WHERE handled_at IS NULL ORDER BY id LIMIT 100", 0, NULL, &r, NULL) < 0)
		return;
	int n = db_result_rows(r);
	for (int i = 0; i < n && !d->db_broken; i++) {
		int64_t id = strtoll(db_result_get(r, i, 0), NULL, 10);
		const char *kind = db_result_get(r, i, 1);
		const char *args_text = db_result_get(r, i, 2);
		const char *by = db_result_get(r, i, 3);
		struct yb_json *args = NULL;
		if (yb_json_parse(args_text, strlen(args_text), &args, NULL) < 0)
			args = yb_json_object();
		bool ok = false;
		struct yb_json *res = NULL;
		char idt[24];
		const char *p[] = { idtext(idt, id) };
		/* Acted on already (a crash before it was marked)? Then only mark it. */
		char *existing = yd_value(d, "SELECT id FROM yoban.runs WHERE request_id = $1::bigint", 1, p);
		if (existing) {
			res = yb_json_object();
			yb_json_set(res, "run", yb_json_int(strtoll(existing, NULL, 10)));
			ok = true;
			free(existing);
		} else if (!strcmp(kind, "trigger")) {
			res = req_trigger(d, id, args, by, &ok);
		} else if (!strcmp(kind, "cancel")) {
			res = req_cancel(d, args, by, &ok);
		} else if (!strcmp(kind, "rerun")) {
			res = req_rerun(d, id, args, by, &ok);
		} else if (!strcmp(kind, "reload")) {
			res = req_reload(d, &ok);
		} else {
			res = yb_json_object();
			yb_json_set(res, "error", yb_json_str("unknown request kind"));
		}
		yb_json_free(args);
		if (d->db_broken) {
			yb_json_free(res);
			break;
		}
		char *rtext = yb_json_dump(res, 0);
		yb_json_free(res);
		const char *q[] = { idt, d->instance, ok ? "true" : "false", rtext };
		yd_exec(d, "SELECT yoban.yoban_request_done($1::bigint, $2, $3::boolean, $4::jsonb)", 4, q,
			NULL, NULL);
		yd_log("request %lld (%s by %s) handled: %s %s", (long long)id, kind, by, ok ? "ok" : "failed",
		       rtext);
		free(rtext);
	}
	if (n == 100)
		d->requests_pending = true;
	db_result_free(r);
	runs_gc(d);
}

/* ---- teardown ------------------------------------------------------------------------------ */

void yd_teardown(struct yd *d)
{
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
