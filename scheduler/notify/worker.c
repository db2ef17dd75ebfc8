/*
 * worker.c: the outbox's reader. Every change it makes is one short transaction around one
 * event or one delivery, so a worker killed anywhere leaves rows that the next worker (or this
 * one, restarted) picks up as they are: an unplanned event is planned again, a claimed but
 * unfinished delivery is still pending and is delivered again under the same id.
 *
 * What a notice says is read at delivery time from the run, its last unsuccessful job, the tail
 * of that job's stored stderr (masked by the runner before it was stored) and the incident.
 */
#include "worker.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "channel.h"
#include "compress.h"
#include "message.h"

#define PLAN_BATCH 100
#define STDERR_CHUNKS 4
#define STDERR_RAW_MAX (256 * 1024)
/* A claimed delivery is leased for its channel's timeout and this much more. */
#define WORKER_LEASE_SLACK_MS (15 * 1000)

static void wlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void wlog(const char *fmt, ...)
{
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(stderr, "%s yoban-notify: ", stamp);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void worker_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static void add_names(const struct rb_site *site, char *const *names, size_t n, char ***out,
		      size_t *n_out)
{
	for (size_t i = 0; i < n; i++) {
		if (!channel_find(site, names[i])) {
			wlog("channel '%s' is not defined in yoban.yaml: left out", names[i]);
			continue;
		}
		*out = xrealloc(*out, (*n_out + 2) * sizeof(**out));
		(*out)[(*n_out)++] = xstrdup(names[i]);
		(*out)[*n_out] = NULL;
	}
}

static unsigned event_bit(const char *event)
{
	if (!strcmp(event, "timeout"))
		return RB_NOTIFY_TIMEOUT;
	if (!strcmp(event, "success"))
		return RB_NOTIFY_SUCCESS;
	if (!strcmp(event, "failure") || !strcmp(event, "lost") || !strcmp(event, "missed"))
		return RB_NOTIFY_FAILURE;
	if (!strncmp(event, "approv", 6) || !strcmp(event, "rejected"))
		return RB_NOTIFY_APPROVAL;
	return ~0u; /* cap warnings: always */
}

void worker_choose(const struct rb_site *site, const char *event, const char *content,
		   size_t content_len, char ***out, size_t *n, struct rb_runbook **rb_out)
{
	*out = xcalloc(1, sizeof(**out));
	*n = 0;
	struct rb_runbook *rb = NULL;
	struct rb_diags d;
	rb_diags_init(&d);
	if (content && rb_runbook_parse("revision", content, content_len, &rb, &d) < 0) {
		wlog("a runbook revision does not parse any more: the site's default channels are used");
		rb = NULL;
	}
	rb_diags_release(&d);
	if (rb_out)
		*rb_out = rb;
	if (!strcmp(event, "escalation")) {
		if (site->n_escalation_channels)
			add_names(site, site->escalation_channels, site->n_escalation_channels, out, n);
		else
			add_names(site, site->default_channels, site->n_default_channels, out, n);
		if (*n) {
			if (!rb_out)
				rb_runbook_free(rb);
			return;
		}
	}
	bool failure_like = strcmp(event, "success") != 0;
	if (rb) {
		if (!strcmp(event, "escalation") || (rb->notify_on & event_bit(event))) {
			if (rb->n_channels)
				add_names(site, rb->channels, rb->n_channels, out, n);
			else
				add_names(site, site->default_channels, site->n_default_channels, out, n);
		}
	} else if (failure_like) {
		/* No revision to ask (a missed fire of a runbook never recorded): tell the default. */
		add_names(site, site->default_channels, site->n_default_channels, out, n);
	}
	if (!rb_out)
		rb_runbook_free(rb);
}

/* notify.on as the names the runbook format uses: "{failure,timeout}". */
static char *notify_on_literal(unsigned bits)
{
	static const struct { unsigned bit; const char *name; } names[] = {
		{ RB_NOTIFY_START, "start" },	  { RB_NOTIFY_SUCCESS, "success" },
		{ RB_NOTIFY_FAILURE, "failure" }, { RB_NOTIFY_TIMEOUT, "timeout" },
		{ RB_NOTIFY_APPROVAL, "approval" },
	};
	struct yb_buf b;
	yb_buf_init(&b, 0);
	yb_buf_append(&b, "{", 1);
	for (size_t i = 0, k = 0; i < YB_ARRAY_LEN(names); i++)
		if (bits & names[i].bit)
			yb_buf_appendf(&b, "%s%s", k++ ? "," : "", names[i].name);
	yb_buf_append(&b, "}", 1);
	return yb_buf_detach(&b, NULL);
}

/* The names as a PostgreSQL array literal: {"a","b"} (names are [a-z0-9-] by the model's
 * rules, quoted anyway). */
static char *array_literal(char *const *names, size_t n)
{
	struct yb_buf b;
	yb_buf_init(&b, 0);
	yb_buf_append(&b, "{", 1);
	for (size_t i = 0; i < n; i++) {
		yb_buf_appendf(&b, "%s\"", i ? "," : "");
		for (const char *p = names[i]; *p; p++) {
			if (*p == '"' || *p == '\\')
				yb_buf_append(&b, "\\", 1);
			yb_buf_append(&b, p, 1);
		}
		yb_buf_append(&b, "\"", 1);
	}
	yb_buf_append(&b, "}", 1);
	return yb_buf_detach(&b, NULL);
}

static void rollback(struct worker *w)
{
	db_exec(w->conn, "ROLLBACK", 0, NULL, NULL, NULL);
}

int worker_plan(struct worker *w, struct yb_err *err)
{
	struct db_result *r = NULL;
	int rc, planned = 0;
	if ((rc = db_exec(w->conn, "BEGIN", 0, NULL, NULL, err)) < 0)
		return rc;
	if ((rc = db_exec(w->conn,
			  "SELECT e.id, e.event::text AS event, v.content, e.revision_id, "
			  "n.revision_id IS NOT NULL AS recorded FROM yoban.notify_events e "
			  "LEFT JOIN yoban.revision_notify n ON n.revision_id = e.revision_id "
			  "LEFT JOIN yoban.runbook_revisions v ON v.id = e.revision_id "
			  "WHERE e.planned_at IS NULL ORDER BY e.id LIMIT 100 FOR UPDATE OF e SKIP LOCKED",
			  0, NULL, &r, err)) < 0)
		goto fail;
	for (int i = 0; i < db_result_rows(r); i++) {
		const char *id = db_result_get(r, i, 0), *event = db_result_get(r, i, 1);
		unsigned char *content = NULL;
		size_t len = 0;
		if (db_result_get(r, i, 2))
			db_result_bytes(r, i, 2, &content, &len, NULL);
		char **names;
		size_t n;
		struct rb_runbook *rb = NULL;
		worker_choose(w->site, event, (const char *)content, len, &names, &n, &rb);
		free(content);
		if (rb && strcmp(db_result_get(r, i, 4), "t")) {
			/* What this revision asks for, so the outbox skips its unwanted successes. */
			char *on = notify_on_literal(rb->notify_on);
			char *chans = array_literal(rb->channels, rb->n_channels);
			const char *rp[] = { db_result_get(r, i, 3), on, chans };
			rc = db_exec(w->conn, "INSERT INTO yoban.revision_notify (revision_id, notify_on, "
					      "channels) VALUES ($1::bigint, $2::text[], $3::text[]) "
					      "ON CONFLICT (revision_id) DO NOTHING", 3, rp, NULL, err);
			free(on);
			free(chans);
		}
		rb_runbook_free(rb);
		if (rc < 0) {
			worker_names_free(names, n);
			goto fail;
		}
		char *arr = array_literal(names, n);
		const char *p[] = { id, arr };
		rc = db_exec(w->conn,
			     "WITH plan AS (UPDATE yoban.notify_events SET planned_at = now(), "
			     "channels = $2::text[] WHERE id = $1::bigint RETURNING id) "
			     "INSERT INTO yoban.notifications (event_id, channel, channel_index) "
			     "SELECT plan.id, c.name, (c.ord - 1)::integer FROM plan, "
			     "unnest($2::text[]) WITH ORDINALITY AS c(name, ord)",
			     2, p, NULL, err);
		if (w->verbose || n)
			wlog("event %s (%s): %zu channel(s) %s", id, event, n, arr);
		free(arr);
		worker_names_free(names, n);
		if (rc < 0)
			goto fail;
		planned++;
	}
	db_result_free(r);
	if ((rc = db_exec(w->conn, "COMMIT", 0, NULL, NULL, err)) < 0)
		return rc;
	return planned;
fail:
	db_result_free(r);
	rollback(w);
	return rc;
}

/* The last lines of a job's stored stderr: its last chunks, decompressed. */
static char *stderr_tail(struct worker *w, const char *job_id)
{
	struct db_result *r = NULL;
	const char *p[] = { job_id };
	char *tail = NULL;
	if (db_exec(w->conn, "SELECT zstd FROM (SELECT \"offset\", zstd FROM yoban.output_chunks "
			     "WHERE job_id = $1::bigint AND stream = 'stderr' ORDER BY \"offset\" DESC "
			     "LIMIT 4) t ORDER BY \"offset\"", 1, p, &r, NULL) < 0)
		return NULL;
	struct yb_buf raw;
	yb_buf_init(&raw, STDERR_RAW_MAX + 1);
	for (int i = 0; i < db_result_rows(r); i++) {
		unsigned char *z = NULL;
		size_t zlen = 0;
		if (db_result_bytes(r, i, 0, &z, &zlen, NULL) == 0) {
			struct yb_buf one;
			yb_buf_init(&one, 0);
			if (yb_zstd_decompress(&one, z, zlen, STDERR_RAW_MAX, NULL) == 0) {
				if (raw.len + one.len > STDERR_RAW_MAX)
					yb_buf_reset(&raw);
				yb_buf_append(&raw, one.data, one.len);
			}
			yb_buf_release(&one);
		}
		free(z);
	}
	if (raw.len)
		tail = notice_tail(raw.data, raw.len);
	yb_buf_release(&raw);
	db_result_free(r);
	return tail;
}

static const char *col(const struct db_result *r, const char *name)
{
	int c = db_result_col(r, name);
	BUG_ON(c < 0);
	return db_result_get(r, 0, c);
}

static const char claim_sql[] =
	"SELECT n.id, n.channel, n.channel_index, n.attempts, n.hops, e.id AS event_id, "
	" e.event::text AS event, e.run_id, e.incident_id, e.runbook,"
	" e.detail->>'reason' AS event_reason, f.channel AS fallover_from,"
	" r.mode::text AS mode, r.state::text AS state, r.reason,"
	" to_json(date_trunc('second', r.scheduled_for)) #>> '{}' AS scheduled_for,"
	" to_json(date_trunc('second', r.started_at)) #>> '{}' AS started_at,"
	" to_json(date_trunc('second', r.ended_at)) #>> '{}' AS ended_at,"
	" j.id AS job_id, j.step, j.host, j.exit_status, j.exit_signal, j.error,"
	" to_json(date_trunc('second', i.detected_at)) #>> '{}' AS detected_at,"
	" to_json(date_trunc('second', i.detected_at + $1::interval)) #>> '{}' AS report_due,"
	" to_json(date_trunc('second', i.detected_at + $2::interval)) #>> '{}' AS start_due,"
	" to_json(date_trunc('second', i.detected_at + $3::interval)) #>> '{}' AS recover_due,"
	" e.detail->>'category' AS cap_category, e.detail->>'cap' AS cap_scope,"
	" e.detail->>'month' AS cap_month, e.detail->>'period_from' AS cap_period_from,"
	" e.detail->>'period_to' AS cap_period_to, e.detail->>'threshold' AS cap_threshold,"
	" e.detail->>'hours' AS cap_hours, e.detail->>'person_months' AS cap_pm,"
	" e.detail->>'cap_person_months' AS cap_limit, e.detail->>'percent' AS cap_percent,"
	" e.detail->>'entry' AS cap_entry, e.detail->>'person' AS cap_person,"
	" e.detail->>'work_date' AS cap_work_date, e.detail->>'entry_hours' AS cap_entry_hours,"
	" e.detail->>'run' AS cap_run,"
	" array_length(e.channels, 1) AS n_channels,"
	" e.channels[(n.channel_index + 1) % greatest(array_length(e.channels, 1), 1) + 1]"
	"   AS next_channel"
	" FROM yoban.notifications n JOIN yoban.notify_events e ON e.id = n.event_id"
	" LEFT JOIN yoban.notifications f ON f.id = n.fallover_of"
	" LEFT JOIN yoban.runs r ON r.id = e.run_id"
	" LEFT JOIN yoban.incidents i ON i.id = e.incident_id"
	" LEFT JOIN LATERAL (SELECT * FROM yoban.jobs j WHERE j.run_id = e.run_id"
	"   AND j.state <> 'succeeded' AND e.event IN ('failure', 'timeout', 'lost', 'escalation')"
	"   ORDER BY j.id DESC LIMIT 1) j ON true"
	" WHERE n.state = 'pending' AND n.next_attempt_at <= now()"
	" ORDER BY n.next_attempt_at, n.id LIMIT 1 FOR UPDATE OF n SKIP LOCKED";

static void interval_text(char *out, size_t size, int64_t ms)
{
	if (ms > 0)
		snprintf(out, size, "%lld milliseconds", (long long)ms);
	else
		out[0] = 0;
}

/* The claim's answer, copied out of the claim's result so the transaction can end before the
 * channel is tried. */
struct claim {
	struct db_result *r;
	char attempt_id[24];
	int attempt, hops, index, n_channels;
};

/* Transaction 1: the due delivery, locked; its attempt counted and recorded as in flight; the
 * row leased (next_attempt_at moved past the attempt's longest end) so that no other worker
 * takes it meanwhile, and so that a worker killed mid-attempt leaves it to be taken again when
 * the lease ends. Returns 1 with *c, 0 when nothing is due, or <0. */
static int claim_one(struct worker *w, struct claim *c, struct yb_err *err)
{
	char report[48], start[48], recover[48];
	const struct rb_contract *k = &w->site->contract;
	interval_text(report, sizeof(report), k->sla_report_ms);
	interval_text(start, sizeof(start), k->sla_start_ms);
	interval_text(recover, sizeof(recover), k->sla_recover_ms);
	const char *cp[] = { report[0] ? report : NULL, start[0] ? start : NULL,
			     recover[0] ? recover : NULL };
	struct db_result *r = NULL;
	char *attempt_id = NULL;
	int rc;
	if ((rc = db_exec(w->conn, "BEGIN", 0, NULL, NULL, err)) < 0)
		return rc;
	if ((rc = db_exec(w->conn, claim_sql, 3, cp, &r, err)) < 0)
		goto fail;
	if (db_result_rows(r) == 0) {
		db_result_free(r);
		return db_exec(w->conn, "COMMIT", 0, NULL, NULL, err);
	}
	const char *id = col(r, "id"), *channel = col(r, "channel");
	const struct rb_channel *ch = channel_find(w->site, channel);
	char lease[48], attempt_text[16];
	c->attempt = atoi(col(r, "attempts")) + 1;
	snprintf(attempt_text, sizeof(attempt_text), "%d", c->attempt);
	snprintf(lease, sizeof(lease), "%lld milliseconds",
		 (long long)((ch ? ch->timeout_ms : 0) + WORKER_LEASE_SLACK_MS));
	const char *p[] = { id, attempt_text, lease, channel, w->instance };
	if ((rc = db_query_value(w->conn,
				 "WITH interrupted AS (UPDATE yoban.notify_attempts SET ended_at = now(), "
				 " answer = 'interrupted: the worker ended before the attempt did' "
				 " WHERE notification_id = $1::bigint AND ok IS NULL AND answer = ''), "
				 "counted AS (UPDATE yoban.notifications SET attempts = $2::integer, "
				 " next_attempt_at = now() + $3::interval WHERE id = $1::bigint) "
				 "INSERT INTO yoban.notify_attempts (notification_id, attempt, channel, "
				 " started_at, ended_at, ok, answer, worker) VALUES ($1::bigint, $2::integer, "
				 " $4, clock_timestamp(), NULL, NULL, '', $5) RETURNING id",
				 5, p, &attempt_id, err)) < 0)
		goto fail;
	snprintf(c->attempt_id, sizeof(c->attempt_id), "%s", attempt_id);
	free(attempt_id);
	if ((rc = db_exec(w->conn, "COMMIT", 0, NULL, NULL, err)) < 0) {
		db_result_free(r);
		return rc;
	}
	c->r = r;
	c->hops = atoi(col(r, "hops"));
	c->index = atoi(col(r, "channel_index"));
	c->n_channels = col(r, "n_channels") ? atoi(col(r, "n_channels")) : 0;
	return 1;
fail:
	db_result_free(r);
	rollback(w);
	return rc;
}

int worker_deliver_one(struct worker *w, struct yb_err *err)
{
	struct claim c = { 0 };
	int rc = claim_one(w, &c, err);
	if (rc <= 0)
		return rc;
	struct db_result *r = c.r;
	const char *id = col(r, "id"), *channel = col(r, "channel");
	char *tail = col(r, "job_id") ? stderr_tail(w, col(r, "job_id")) : NULL;
	struct notice n = {
		.id = strtoll(id, NULL, 10),
		.event = col(r, "event"),
		.runbook = col(r, "runbook"),
		.run_id = col(r, "run_id") ? strtoll(col(r, "run_id"), NULL, 10) : 0,
		.incident_id = col(r, "incident_id") ? strtoll(col(r, "incident_id"), NULL, 10) : 0,
		.mode = col(r, "mode"), .state = col(r, "state"),
		.reason = col(r, "reason") ? col(r, "reason") : col(r, "event_reason"),
		.scheduled_for = col(r, "scheduled_for"), .started_at = col(r, "started_at"),
		.ended_at = col(r, "ended_at"), .detected_at = col(r, "detected_at"),
		.step = col(r, "step"), .host = col(r, "host"), .error = col(r, "error"),
		.exit_status = col(r, "exit_status"), .exit_signal = col(r, "exit_signal"),
		.stderr_tail = tail, .fallover_from = col(r, "fallover_from"),
		.report_due = col(r, "report_due"), .start_due = col(r, "start_due"),
		.recover_due = col(r, "recover_due"), .site_host = w->instance,
	};
	if (!strcmp(n.event, "cap_warning")) {
		n.cap = (struct notice_cap){
			.category = col(r, "cap_category"), .scope = col(r, "cap_scope"),
			.month = col(r, "cap_month"), .period_from = col(r, "cap_period_from"),
			.period_to = col(r, "cap_period_to"), .threshold = col(r, "cap_threshold"),
			.hours = col(r, "cap_hours"), .person_months = col(r, "cap_pm"),
			.limit = col(r, "cap_limit"), .percent = col(r, "cap_percent"),
			.entry = col(r, "cap_entry"), .person = col(r, "cap_person"),
			.work_date = col(r, "cap_work_date"), .entry_hours = col(r, "cap_entry_hours"),
		};
		if (!n.run_id && col(r, "cap_run"))
			n.run_id = strtoll(col(r, "cap_run"), NULL, 10);
	}
	const struct rb_channel *ch = channel_find(w->site, channel);
	char *answer = NULL;
	struct yb_err derr = { 0 };
	int drc;
	if (!ch)
		drc = yb_err_set(&derr, YB_ENOENT, "channel '%s' is no longer defined in yoban.yaml",
				 channel);
	else
		drc = channel_deliver(w->site, ch, &n, &answer, &derr);
	int attempt = c.attempt, max_attempts = ch ? ch->retry.attempts : 1;
	int64_t delay_ms = ch ? ch->retry.delay_ms : 0;
	for (int i = 1; i < attempt && delay_ms < 24LL * 3600 * 1000; i++)
		delay_ms *= 2; /* backoff: delay, 2 delay, 4 delay ... */
	char attempt_text[16], delay_text[48];
	snprintf(attempt_text, sizeof(attempt_text), "%d", attempt);
	snprintf(delay_text, sizeof(delay_text), "%lld milliseconds", (long long)delay_ms);

	/* Transaction 2: the attempt's outcome, and what becomes of the delivery. Each update is
	 * guarded by the attempt count, so a worker whose lease ran out changes nothing another
	 * worker has taken over since. */
	const char *said = drc == 0 ? answer : derr.msg;
	const char *ap[] = { c.attempt_id, drc == 0 ? "t" : "f", said };
	if ((rc = db_exec(w->conn, "BEGIN", 0, NULL, NULL, err)) < 0)
		goto out;
	rc = db_exec(w->conn, "UPDATE yoban.notify_attempts SET ended_at = clock_timestamp(), "
			      "ok = $2::boolean, answer = left($3, 2000) WHERE id = $1::bigint",
		     3, ap, NULL, err);
	if (rc == 0 && drc == 0) {
		wlog("notification %s (%s, run %s) delivered via '%s': %s", id, n.event,
		     col(r, "run_id") ? col(r, "run_id") : "-", channel, answer);
		const char *up[] = { id, attempt_text, col(r, "incident_id") };
		rc = db_exec(w->conn, "WITH d AS (UPDATE yoban.notifications SET state = 'delivered', "
				      "delivered_at = now(), last_error = NULL WHERE id = $1::bigint AND "
				      "state = 'pending' AND attempts = $2::integer) "
				      "UPDATE yoban.incidents SET notified_at = coalesce(notified_at, now()) "
				      "WHERE id = $3::bigint", 3, up, NULL, err);
	} else if (rc == 0 && attempt < max_attempts) {
		wlog("notification %s via '%s': attempt %d of %d failed (%s); again in %llds", id,
		     channel, attempt, max_attempts, derr.msg, (long long)(delay_ms / 1000));
		const char *up[] = { id, attempt_text, delay_text, derr.msg };
		rc = db_exec(w->conn, "UPDATE yoban.notifications SET next_attempt_at = now() + "
				      "$3::interval, last_error = left($4, 2000) WHERE id = $1::bigint AND "
				      "state = 'pending' AND attempts = $2::integer", 4, up, NULL, err);
	} else if (rc == 0) {
		int total = c.n_channels;
		const char *next = total > 1 && c.hops + 1 < total ? col(r, "next_channel") : NULL;
		wlog("notification %s via '%s': the last attempt (%d) failed (%s)%s%s", id, channel,
		     attempt, derr.msg, next ? "; falling over to " : "", next ? next : "");
		char index_text[16], hops_text[16];
		snprintf(index_text, sizeof(index_text), "%d", total ? (c.index + 1) % total : 0);
		snprintf(hops_text, sizeof(hops_text), "%d", c.hops + 1);
		const char *up[] = { id, attempt_text, derr.msg, next, index_text, hops_text };
		rc = db_exec(w->conn,
			     "WITH f AS (UPDATE yoban.notifications SET state = 'failed', "
			     "last_error = left($3, 2000) WHERE id = $1::bigint AND state = 'pending' "
			     "AND attempts = $2::integer RETURNING event_id) INSERT INTO "
			     "yoban.notifications (event_id, channel, channel_index, fallover_of, hops) "
			     "SELECT f.event_id, $4, $5::integer, $1::bigint, $6::integer FROM f "
			     "WHERE $4::text IS NOT NULL", 6, up, NULL, err);
	}
	if (rc < 0)
		rollback(w);
	else
		rc = db_exec(w->conn, "COMMIT", 0, NULL, NULL, err);
out:
	free(answer);
	free(tail);
	db_result_free(r);
	return rc < 0 ? rc : 1;
}

int worker_escalate(struct worker *w, struct yb_err *err)
{
	if (w->site->contract.sla_report_ms <= 0)
		return 0;
	char report[48];
	interval_text(report, sizeof(report), w->site->contract.sla_report_ms);
	const char *p[] = { report };
	char *v = NULL;
	int rc = db_query_value(w->conn, "SELECT yoban.yoban_notify_escalate($1::interval)", 1, p,
				&v, err);
	if (rc < 0)
		return rc;
	int n = v ? atoi(v) : 0;
	free(v);
	if (n)
		wlog("%d incident(s) not acknowledged within the report time: escalated", n);
	return n;
}

int64_t worker_next_due_ms(struct worker *w, int64_t max_ms, struct yb_err *err)
{
	char *v = NULL;
	int rc = db_query_value(w->conn, "SELECT ceil(extract(epoch FROM min(next_attempt_at) - "
					 "clock_timestamp()) * 1000)::bigint FROM yoban.notifications "
					 "WHERE state = 'pending'", 0, NULL, &v, err);
	if (rc < 0)
		return rc;
	int64_t ms = v ? strtoll(v, NULL, 10) : max_ms;
	free(v);
	if (ms < 0)
		ms = 0;
	return ms < max_ms ? ms : max_ms;
}
