/*
 * sql.h: the `sql` step (a data patch through libpq, in one transaction) and its evidence.
 *
 * The runner runs it as `yoban-runner step sql JOB_DIR`, a child of the job's supervisor like any
 * step, with the step's fields in its environment (YOBAN_SQL_*, set by the scheduler) and the
 * password, if any, as libpq's own variable (PGPASSWORD) from the runbook's secrets. What it
 * leaves in the job's folder (see docs/runner.md, "the sql step"):
 *
 *   sql.txid     the transaction id, written and fsynced before anything is changed
 *   before.csv   the before query's result set, RFC 4180
 *   after.csv    the after query's result set
 *   result.json  the outcome (committed, rolled back, unknown), written last; serve sends it
 *                with the job's EXIT as "step"
 *
 * When the step dies without result.json (killed, link or database lost around COMMIT), the
 * supervisor runs `yoban-runner step sql-settle JOB_DIR`, which asks the target's own record
 * (txid_status) what became of the journaled transaction and writes result.json.
 */
#ifndef YB_STEPS_SQL_H
#define YB_STEPS_SQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "json.h"
#include "yb.h"

#define SQL_MAX_CSV (1u << 20)          /* one result set as CSV; larger fails the step unpatched */
#define SQL_LOCK_TIMEOUT_MS 30000       /* lock_timeout when YOBAN_SQL_LOCK_TIMEOUT_MS is absent */
#define SQL_SETTLE_MS 60000             /* how long settling retries to reach the target */
#define SQL_RESULT_FILE "result.json"
#define SQL_RESULT_MAX (3u << 20)       /* result.json: two CSVs in base64 and the record */

/* The step's environment variables (the scheduler's side of the contract). */
#define SQL_ENV_DSN "YOBAN_SQL_DSN"
#define SQL_ENV_BEFORE "YOBAN_SQL_BEFORE"
#define SQL_ENV_PATCH "YOBAN_SQL_PATCH"
#define SQL_ENV_EXPECT "YOBAN_SQL_EXPECT_ROWS"
#define SQL_ENV_AFTER "YOBAN_SQL_AFTER"
#define SQL_ENV_STATEMENT_TIMEOUT "YOBAN_SQL_STATEMENT_TIMEOUT_MS"
#define SQL_ENV_LOCK_TIMEOUT "YOBAN_SQL_LOCK_TIMEOUT_MS"

/* ---- CSV (RFC 4180), pure ---- */

/* One result set as CSV: a header of column names, then one record per row, CRLF after each,
 * fields quoted when they hold a comma, a quote, CR or LF (quotes doubled). SQL NULL is an empty
 * field, the empty string a quoted one (""), so the two stay apart. */
struct sql_csv {
	struct yb_buf buf;
	size_t cap;   /* bytes at most */
	int64_t rows; /* records, the header not counted */
};
void sql_csv_init(struct sql_csv *c, size_t cap);
void sql_csv_release(struct sql_csv *c);
/* A record of n fields (values[i] NULL: SQL NULL); header records are not counted as rows.
 * YB_ENOMEM (nothing appended) when the record would take the CSV beyond its cap. */
int sql_csv_record(struct sql_csv *c, const char *const *values, int n, bool header,
		   struct yb_err *err);

/* ---- the step ---- */

/* yoban-runner step sql JOB_DIR / step sql-settle JOB_DIR: the process's exit status. */
int sql_step_main(const char *job_dir);
int sql_settle_main(const char *job_dir);

/* result.json of a job's folder, parsed, for the EXIT (NULL when there is none or it cannot be
 * read; a damaged one is reported as such in the returned object). */
struct yb_json *sql_result_load(const char *job_dir);

/* "committed", "rolled back" or NULL for txid_status's answer (NULL: in progress, or unknown). */
const char *sql_txid_outcome(const char *status);

#endif
