/*
 * sql.c: the `sql` step: a data patch through libpq in one transaction, with its before and after
 * result sets as evidence, and the settling of a transaction whose end nobody saw (sql.h).
 *
 * The one idea: never half applied, never guessed. Everything happens in one transaction on one
 * connection: BEGIN, the timeouts, txid_current() (journaled in sql.txid and fsynced before
 * anything is changed), the before query, the patch, its row count against expect_rows, the after
 * query, COMMIT. Until COMMIT is sent nothing can be applied, so any failure before it is a
 * certain rollback. Only COMMIT itself can leave the outcome unknown (the link or the database
 * lost before the answer came, or this process killed): then the outcome is asked of the target's
 * own record, txid_status(txid), from a new connection, and written as it says; if the target
 * cannot be reached the result says "unknown" with the txid, never a guess. The statements come
 * from the environment and run with the extended protocol (one statement each: a patch cannot
 * smuggle in a COMMIT of its own, and a bare COMMIT or ROLLBACK as the patch is caught by
 * comparing txid_current_if_assigned() with the journaled txid before COMMIT).
 */
#define _GNU_SOURCE
#include "sql.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "digest.h"

/* What the step was asked to do (from the environment). */
struct sql_job {
	const char *dir;
	const char *dsn, *before, *patch, *after;
	int64_t expect;          /* -1: not checked */
	int64_t statement_ms, lock_ms;
};

/* What became of it: result.json. */
struct sql_outcome {
	const char *outcome;     /* "committed", "rolled back", "unknown", "not started" */
	char txid[24];
	int64_t patch_rows;      /* -1: the patch did not run */
	bool settled;            /* decided from txid_status after the fact */
	char message[1024];
};

static int64_t env_int(const char *name, int64_t dflt)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return dflt;
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	return (*end || errno || n < 0) ? dflt : n;
}

static const char *env_str(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

static int job_from_env(struct sql_job *j, const char *dir, struct yb_err *err)
{
	memset(j, 0, sizeof(*j));
	j->dir = dir;
	j->dsn = env_str(SQL_ENV_DSN);
	j->before = env_str(SQL_ENV_BEFORE);
	j->patch = env_str(SQL_ENV_PATCH);
	j->after = env_str(SQL_ENV_AFTER);
	j->expect = env_int(SQL_ENV_EXPECT, -1);
	j->statement_ms = env_int(SQL_ENV_STATEMENT_TIMEOUT, 0);
	j->lock_ms = env_int(SQL_ENV_LOCK_TIMEOUT, SQL_LOCK_TIMEOUT_MS);
	if (!j->dsn || !j->patch)
		return yb_err_set(err, YB_EINVAL, "the sql step needs %s and %s in its environment "
				  "(the scheduler sets them from the step's 'sql' map)",
				  SQL_ENV_DSN, SQL_ENV_PATCH);
	return 0;
}

static char *path_in(const char *dir, const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

static bool exists_in(const char *dir, const char *name)
{
	char *p = path_in(dir, name);
	struct stat st;
	bool yes = stat(p, &st) == 0;
	free(p);
	return yes;
}

/* ---- result.json ---- */

/* One artifact's record from its file (absent: nothing added). */
static void add_artifact(struct yb_json *arts, const char *dir, const char *name)
{
	char *file = xasprintf("%s.csv", name);
	char *p = path_in(dir, file);
	char *data = NULL;
	size_t len = 0;
	struct yb_err err = { 0 };
	if (yb_read_regular(p, SQL_MAX_CSV, YB_READ_NOFOLLOW, &data, &len, &err) == 0) {
		char hex[YB_SHA256_HEX_LEN];
		yb_sha256_hex(data, len, hex);
		int64_t rows = -1; /* records less the header */
		for (size_t i = 0, quoted = 0; i < len; i++) {
			if (data[i] == '"')
				quoted = !quoted;
			else if (!quoted && data[i] == '\n')
				rows++;
		}
		struct yb_json *a = yb_json_object();
		yb_json_set(a, "name", yb_json_str(name));
		yb_json_set(a, "rows", yb_json_int(rows < 0 ? 0 : rows));
		yb_json_set(a, "bytes", yb_json_int((int64_t)len));
		yb_json_set(a, "sha256", yb_json_str(hex));
		char *b64 = yb_base64(data, len);
		struct yb_json *content = yb_json_object();
		yb_json_set(content, "base64", yb_json_str(b64));
		yb_json_set(a, "csv", content);
		free(b64);
		yb_json_push(arts, a);
	}
	free(data);
	free(p);
	free(file);
}

static int write_result(const struct sql_job *j, const struct sql_outcome *o)
{
	struct yb_json *r = yb_json_object();
	yb_json_set(r, "kind", yb_json_str("sql"));
	yb_json_set(r, "outcome", yb_json_str(o->outcome));
	if (o->txid[0])
		yb_json_set(r, "txid", yb_json_str(o->txid));
	if (o->patch_rows >= 0)
		yb_json_set(r, "patch_rows", yb_json_int(o->patch_rows));
	if (j->expect >= 0)
		yb_json_set(r, "expect_rows", yb_json_int(j->expect));
	yb_json_set(r, "settled", yb_json_bool(o->settled));
	yb_json_set(r, "message", yb_json_str(o->message));
	struct yb_json *arts = yb_json_array();
	add_artifact(arts, j->dir, "before");
	add_artifact(arts, j->dir, "after");
	yb_json_set(r, "artifacts", arts);
	char *text = yb_json_dump(r, 0);
	yb_json_free(r);
	char *p = path_in(j->dir, SQL_RESULT_FILE);
	struct yb_err err = { 0 };
	int rc = yb_write_file_atomic(p, text, strlen(text), 0600, &err);
	if (rc < 0)
		fprintf(stderr, "sql: cannot record the outcome: %s\n", err.msg);
	free(p);
	free(text);
	return rc;
}

struct yb_json *sql_result_load(const char *job_dir)
{
	char *p = path_in(job_dir, SQL_RESULT_FILE), *text = NULL;
	size_t len = 0;
	struct yb_json *r = NULL;
	struct yb_err err = { 0 };
	if (yb_read_regular(p, SQL_RESULT_MAX, YB_READ_NOFOLLOW, &text, &len, &err) == 0) {
		if (yb_json_parse(text, len, &r, &err) < 0 || !yb_json_is_object(r)) {
			yb_json_free(r);
			r = yb_json_object();
			yb_json_set(r, "kind", yb_json_str("sql"));
			yb_json_set(r, "outcome", yb_json_str("unknown"));
			yb_json_set(r, "message", yb_json_str("the step's result.json is damaged"));
		}
	}
	free(text);
	free(p);
	return r;
}

/* ---- settling ---- */

const char *sql_txid_outcome(const char *status)
{
	if (!status)
		return NULL;
	if (!strcmp(status, "committed"))
		return "committed";
	if (!strcmp(status, "aborted"))
		return "rolled back";
	return NULL;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Asks the target what became of txid, from new connections, until it says committed or aborted
 * or SQL_SETTLE_MS have passed. */
static void settle(const struct sql_job *j, struct sql_outcome *o, const char *why)
{
	int64_t deadline = yb_mono_ms() + SQL_SETTLE_MS;
	char last[512] = "";
	o->settled = true;
	for (int delay = 200;; delay = delay < 4000 ? delay * 2 : 4000) {
		struct db_conn *c = NULL;
		struct yb_err err = { 0 };
		char *status = NULL;
		const char *p[] = { o->txid };
		if (db_connect(j->dsn, &c, &err) < 0 ||
		    db_query_value(c, "SELECT txid_status($1::bigint)", 1, p, &status, &err) < 0) {
			snprintf(last, sizeof(last), "%.400s", err.msg);
		} else if (sql_txid_outcome(status)) {
			o->outcome = sql_txid_outcome(status);
			snprintf(o->message, sizeof(o->message), "%s; the target's record (txid_status) says "
				 "transaction %s %s%s", why, o->txid, o->outcome,
				 !strcmp(o->outcome, "committed") ? ": the patch is applied, once" :
				 ": nothing was changed");
			free(status);
			db_close(c);
			return;
		} else if (!status) {
			snprintf(last, sizeof(last), "txid_status(%s) is NULL (the transaction is too old "
				 "for the target's commit log)", o->txid);
		} else {
			snprintf(last, sizeof(last), "txid_status(%s) is '%s'", o->txid, status);
		}
		free(status);
		db_close(c);
		if (yb_mono_ms() + delay > deadline)
			break;
		sleep_ms(delay);
	}
	o->outcome = "unknown";
	snprintf(o->message, sizeof(o->message), "%s, and the outcome could not be settled within %d s "
		 "(%s): ask the target with SELECT txid_status(%s) before doing anything else",
		 why, SQL_SETTLE_MS / 1000, last, o->txid);
}

/* ---- the transaction ---- */

static int exec_ok(struct db_conn *c, const char *sql, int n, const char *const *p,
		   struct db_result **out, struct yb_err *err)
{
	struct db_result *r = NULL;
	int rc = db_exec(c, sql, n, p, &r, err);
	if (out && rc == 0)
		*out = r;
	else
		db_result_free(r);
	return rc;
}

/* A query's rows as NAME.csv in the job's folder (fsynced). */
static int capture(struct db_conn *c, const struct sql_job *j, const char *name, const char *sql,
		   struct yb_err *err)
{
	struct db_result *r = NULL;
	struct sql_csv csv;
	int rc;
	sql_csv_init(&csv, SQL_MAX_CSV);
	if ((rc = exec_ok(c, sql, 0, NULL, &r, err)) < 0) {
		yb_err_prefix(err, "the %s query failed", name);
		goto out;
	}
	int cols = db_result_cols(r), rows = db_result_rows(r);
	const char **v = xcalloc((size_t)cols + 1, sizeof(*v));
	for (int k = 0; k < cols; k++)
		v[k] = db_result_col_name(r, k);
	rc = sql_csv_record(&csv, v, cols, true, err);
	for (int i = 0; rc == 0 && i < rows; i++) {
		for (int k = 0; k < cols; k++)
			v[k] = db_result_get(r, i, k);
		rc = sql_csv_record(&csv, v, cols, false, err);
	}
	free(v);
	if (rc < 0) {
		yb_err_prefix(err, "the %s query", name);
		goto out;
	}
	char *file = xasprintf("%s/%s.csv", j->dir, name);
	rc = yb_write_file_atomic(file, csv.buf.data ? csv.buf.data : "", csv.buf.len, 0600, err);
	free(file);
	printf("%s: %lld row%s, %zu bytes of CSV\n", name, (long long)csv.rows,
	       csv.rows == 1 ? "" : "s", csv.buf.len);
out:
	db_result_free(r);
	sql_csv_release(&csv);
	return rc;
}

/* BEGIN, the timeouts, the txid journaled. */
static int begin(struct db_conn *c, const struct sql_job *j, struct sql_outcome *o,
		 struct yb_err *err)
{
	char st[24], lk[24];
	snprintf(st, sizeof(st), "%lld", (long long)j->statement_ms);
	snprintf(lk, sizeof(lk), "%lld", (long long)j->lock_ms);
	const char *p[] = { st, lk };
	char *txid = NULL;
	int rc;
	/* a client that dies mid-statement is noticed within a second (PostgreSQL 14 and later;
	 * older servers refuse the setting, which changes nothing else) */
	exec_ok(c, "SET client_connection_check_interval = 1000", 0, NULL, NULL, &(struct yb_err){ 0 });
	if ((rc = exec_ok(c, "BEGIN ISOLATION LEVEL REPEATABLE READ", 0, NULL, NULL, err)) < 0 ||
	    (rc = exec_ok(c, "SELECT set_config('statement_timeout', $1, true), "
			     "set_config('lock_timeout', $2, true)", 2, p, NULL, err)) < 0 ||
	    (rc = db_query_value(c, "SELECT txid_current()::text", 0, NULL, &txid, err)) < 0)
		goto out;
	snprintf(o->txid, sizeof(o->txid), "%s", txid ? txid : "");
	char *line = xasprintf("%s\n", o->txid);
	char *file = path_in(j->dir, "sql.txid");
	rc = yb_write_file_atomic(file, line, strlen(line), 0600, err);
	free(file);
	free(line);
	if (rc == 0)
		printf("transaction %s begun (journaled)\n", o->txid);
out:
	free(txid);
	return rc;
}

/* The patch and its row count. */
static int patch(struct db_conn *c, const struct sql_job *j, struct sql_outcome *o,
		 struct yb_err *err)
{
	struct db_result *r = NULL;
	int rc = exec_ok(c, j->patch, 0, NULL, &r, err);
	if (rc < 0)
		return yb_err_prefix(err, "the patch failed");
	o->patch_rows = db_result_affected(r);
	db_result_free(r);
	printf("patch: %lld row%s\n", (long long)o->patch_rows, o->patch_rows == 1 ? "" : "s");
	if (j->expect >= 0 && o->patch_rows != j->expect)
		return yb_err_set(err, YB_EINVAL, "the patch changed %lld row%s, but expect_rows is %lld",
				  (long long)o->patch_rows, o->patch_rows == 1 ? "" : "s",
				  (long long)j->expect);
	return 0;
}

/* The transaction is still the journaled one (the patch did not end it). */
static int still_ours(struct db_conn *c, const struct sql_outcome *o, struct yb_err *err)
{
	char *now = NULL;
	int rc = db_query_value(c, "SELECT txid_current_if_assigned()::text", 0, NULL, &now, err);
	if (rc == 0 && (!now || strcmp(now, o->txid)))
		rc = yb_err_set(err, YB_EINVAL, "the patch ended the step's transaction %s (a COMMIT or "
				"ROLLBACK in 'patch'?): give one UPDATE, INSERT or DELETE", o->txid);
	free(now);
	return rc;
}

int sql_step_main(const char *job_dir)
{
	struct sql_job j;
	struct sql_outcome o = { .outcome = "not started", .patch_rows = -1 };
	struct yb_err err = { 0 };
	struct db_conn *c = NULL;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (job_from_env(&j, job_dir, &err) < 0) {
		snprintf(o.message, sizeof(o.message), "%s", err.msg);
		goto fail;
	}
	if (db_connect(j.dsn, &c, &err) < 0) {
		snprintf(o.message, sizeof(o.message), "%.900s: nothing was changed", err.msg);
		goto fail;
	}
	if (begin(c, &j, &o, &err) < 0 ||
	    (j.before && capture(c, &j, "before", j.before, &err) < 0) ||
	    patch(c, &j, &o, &err) < 0 ||
	    (j.after && capture(c, &j, "after", j.after, &err) < 0) ||
	    still_ours(c, &o, &err) < 0) {
		/* COMMIT was never sent: nothing can have been applied */
		exec_ok(c, "ROLLBACK", 0, NULL, NULL, &(struct yb_err){ 0 });
		o.outcome = "rolled back";
		snprintf(o.message, sizeof(o.message), "%.900s: rolled back, nothing was changed", err.msg);
		goto fail;
	}
	if (exec_ok(c, "COMMIT", 0, NULL, NULL, &err) == 0) {
		o.outcome = "committed";
		snprintf(o.message, sizeof(o.message), "transaction %s committed: %lld row%s patched",
			 o.txid, (long long)o.patch_rows, o.patch_rows == 1 ? "" : "s");
		printf("%s\n", o.message);
		write_result(&j, &o);
		db_close(c);
		return 0;
	}
	/* COMMIT sent, no answer (or an error whose cause we cannot trust): ask the record */
	db_close(c);
	c = NULL;
	{
		char why[600];
		snprintf(why, sizeof(why), "COMMIT of transaction %s got no clear answer (%.400s)", o.txid,
			 err.msg);
		settle(&j, &o, why);
	}
	if (!strcmp(o.outcome, "committed")) {
		printf("%s\n", o.message);
		write_result(&j, &o);
		return 0;
	}
fail:
	fprintf(stderr, "sql: %s\n", o.message);
	write_result(&j, &o);
	db_close(c);
	return 1;
}

int sql_settle_main(const char *job_dir)
{
	struct sql_job j;
	struct sql_outcome o = { .outcome = "unknown", .patch_rows = -1 };
	struct yb_err err = { 0 };
	if (exists_in(job_dir, SQL_RESULT_FILE))
		return 0; /* the step recorded its outcome itself */
	if (job_from_env(&j, job_dir, &err) < 0) {
		j.dir = job_dir;
		snprintf(o.message, sizeof(o.message), "%s", err.msg);
		write_result(&j, &o);
		return 1;
	}
	char *file = path_in(job_dir, "sql.txid"), *text = NULL;
	size_t len = 0;
	int rc = yb_read_regular(file, 64, YB_READ_NOFOLLOW, &text, &len, &err);
	free(file);
	if (rc < 0) {
		/* no transaction was begun: nothing can have been changed */
		o.outcome = "not started";
		snprintf(o.message, sizeof(o.message), "the step ended before its transaction began: "
			 "nothing was changed");
	} else {
		text[strcspn(text, "\r\n")] = '\0';
		snprintf(o.txid, sizeof(o.txid), "%s", text);
		settle(&j, &o, "the step ended without recording its outcome");
	}
	free(text);
	fprintf(stderr, "sql: %s\n", o.message);
	write_result(&j, &o);
	return !strcmp(o.outcome, "unknown") ? 1 : 0;
}
