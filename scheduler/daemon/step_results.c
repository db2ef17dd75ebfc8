/*
 * step_results.c: the evidence a built-in step returns with its exit, into the database (see
 * step_results.h).
 *
 * The one idea: the evidence is written before the job's exit row, on the same connection, so by
 * the time the job is done (and the runner told to forget it) the before/after sets and the
 * transaction's outcome are stored. Each set's digest is checked here against its bytes before it
 * is stored (and again by the table's CHECK); a set that does not match is not stored, and the
 * outcome's message says so. An sql step whose exit carries no result (its supervisor died before
 * it could settle) is recorded as "unknown": never a guess.
 */
#include "step_results.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"

void yd_sql_spec(struct yb_json *spec, struct yb_json *env, const struct rb_step *step,
		 int64_t timeout_ms)
{
	const struct rb_sql *q = &step->sql;
	char n[24];
	yb_json_set(spec, "step", yb_json_str("sql"));
	yb_json_set(env, "YOBAN_SQL_DSN", yb_json_bytes(q->dsn, strlen(q->dsn)));
	yb_json_set(env, "YOBAN_SQL_PATCH", yb_json_bytes(q->patch, strlen(q->patch)));
	if (q->before)
		yb_json_set(env, "YOBAN_SQL_BEFORE", yb_json_bytes(q->before, strlen(q->before)));
	if (q->after)
		yb_json_set(env, "YOBAN_SQL_AFTER", yb_json_bytes(q->after, strlen(q->after)));
	if (q->expect_rows >= 0) {
		snprintf(n, sizeof(n), "%lld", (long long)q->expect_rows);
		yb_json_set(env, "YOBAN_SQL_EXPECT_ROWS", yb_json_str(n));
	}
	if (timeout_ms > 0) {
		snprintf(n, sizeof(n), "%lld", (long long)timeout_ms);
		yb_json_set(env, "YOBAN_SQL_STATEMENT_TIMEOUT_MS", yb_json_str(n));
	}
}

/* One artifact; false (nothing queued) when it is malformed or its digest does not match. */
static bool store_artifact(struct yd *d, const char *jid, const struct yb_json *a)
{
	const char *name = yb_json_get_str(a, "name"), *sha = yb_json_get_str(a, "sha256");
	unsigned char *bytes = NULL;
	size_t len = 0;
	if (!name || !sha || yb_json_bytes_value(yb_json_get(a, "csv"), &bytes, &len, NULL) < 0)
		return false;
	char hex[YB_SHA256_HEX_LEN];
	yb_sha256_hex(bytes, len, hex);
	bool ok = !strcmp(hex, sha);
	if (ok) {
		char nb[24], nr[24];
		snprintf(nb, sizeof(nb), "%zu", len);
		snprintf(nr, sizeof(nr), "%lld", (long long)yb_json_get_int(a, "rows", 0));
		char *content = yd_bytea_hex(bytes, len);
		const char *p[] = { jid, name, content, nb, nr, hex };
		yd_async(d, "a step's evidence", true,
			 "INSERT INTO yoban.artifacts (job_id, name, content, bytes, rows, sha256) VALUES "
			 "($1::bigint, $2, $3::bytea, $4::bigint, $5::bigint, $6) ON CONFLICT DO NOTHING",
			 6, p);
		free(content);
	}
	free(bytes);
	return ok;
}

void yd_step_result_store(struct yd *d, const struct yd_job *j, const struct rclient_exit *ex,
			  bool *committed, char **message)
{
	const struct rb_step *step = &j->run->rev->rb->steps[j->step_idx];
	*committed = false;
	*message = NULL;
	if (step->kind != RB_STEP_SQL)
		return;
	char jid[24], pr[24], er[24];
	yd_idtext(jid, j->id);
	const struct yb_json *r = ex->record ? yb_json_get(ex->record, "step") : NULL;
	if (r && !yb_json_is_object(r))
		r = NULL;
	const char *outcome = r ? yb_json_get_str(r, "outcome") : NULL;
	static const char *const outcomes[] = { "committed", "rolled back", "unknown", "not started" };
	bool known = false;
	for (size_t i = 0; outcome && i < YB_ARRAY_LEN(outcomes); i++)
		known |= !strcmp(outcome, outcomes[i]);
	struct yb_buf msg;
	yb_buf_init(&msg, 0);
	if (!known) {
		outcome = "unknown";
		yb_buf_appendf(&msg, "the runner returned no outcome for the sql step (its supervisor "
			       "died?): the transaction's id is in the job's output (\"transaction N "
			       "begun\"); ask the target with SELECT txid_status(N)");
	} else {
		const char *m = yb_json_get_str(r, "message");
		yb_buf_appendf(&msg, "%s", m ? m : outcome);
		const struct yb_json *arts = yb_json_get(r, "artifacts");
		for (size_t i = 0; arts && i < yb_json_len(arts); i++)
			if (!store_artifact(d, jid, yb_json_at(arts, i)))
				yb_buf_appendf(&msg, "; artifact %zu was malformed or did not match its "
					       "digest: not stored", i + 1);
	}
	const char *txid = r ? yb_json_get_str(r, "txid") : NULL;
	snprintf(pr, sizeof(pr), "%lld", (long long)(r ? yb_json_get_int(r, "patch_rows", -1) : -1));
	snprintf(er, sizeof(er), "%lld", (long long)(r ? yb_json_get_int(r, "expect_rows", -1) : -1));
	bool settled = r && yb_json_get_bool(r, "settled", false);
	const char *p[] = { jid, outcome, txid, strcmp(pr, "-1") ? pr : NULL,
			    strcmp(er, "-1") ? er : NULL, settled ? "true" : "false", msg.data };
	yd_async(d, "a data patch's outcome", true,
		 "INSERT INTO yoban.sql_results (job_id, outcome, txid, patch_rows, expect_rows, settled, "
		 "message) VALUES ($1::bigint, $2, $3::bigint, $4::bigint, $5::bigint, $6::boolean, $7) "
		 "ON CONFLICT DO NOTHING", 7, p);
	*committed = !strcmp(outcome, "committed");
	*message = yb_buf_detach(&msg, NULL);
}
