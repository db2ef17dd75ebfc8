/*
 * cmd_db_common.h: what the operator commands that talk to yoband through PostgreSQL share
 * (trigger, cancel, rerun, status, runs, show, logs).
 *
 * They connect as the operator's own PostgreSQL role: the conninfo of the site config's
 * `database:` (or the embedded cluster's socket), with no user of ours added, so libpq picks the
 * OS user (peer) or $PGUSER. Authorization is the server's: a refusal comes back as SQLSTATE
 * 42501 and opdb_report turns it into a sentence that names the role to ask for.
 */
#ifndef YB_CMD_DB_COMMON_H
#define YB_CMD_DB_COMMON_H

#include "cli.h"
#include "db.h"
#include "json.h"

/* Finds the site config (--config, else $YOBAN_CONFIG, else /etc/yoban/yoban.yaml), connects and
 * sets the session's time zone (the site's, unless $PGTZ is set). Prints what went wrong and
 * returns an exit status: 0 with *out, 2 when --config / $YOBAN_CONFIG names no file, 1 else. */
int opdb_open(const char *config, struct db_conn **out);
/* The same, or (database not NULL) connects with that conninfo instead of the site's. */
int opdb_connect(const char *config, const char *database, struct db_conn **out);

/* Prints a refused or failed statement for people and returns YB_EXIT_FAIL. need_role is the
 * yoban role the operation needs ("yoban_operator"), used for permission denials. */
int opdb_report(struct db_conn *c, const struct yb_err *err, const char *need_role);

/* db_exec that reports its own failure: 0 with *out, or YB_EXIT_FAIL (already printed). */
int opdb_query(struct db_conn *c, const char *sql, int n_params, const char *const *params,
	       struct db_result **out, const char *need_role);

/* Parses a run id (a positive integer, "#12" accepted); a usage error otherwise. */
int opdb_parse_run_id(const struct yb_cmd *cmd, const char *text, char *out, size_t out_size);

/* "2026-11-22T03:00:00.123+09:00" -> "2026-11-22 03:00:00" (NULL or "" -> "-"). */
void opdb_format_time(const char *iso, char *out, size_t out_size);
/* Seconds as people read them: "850ms", "12.3s", "4m05s", "2h03m", "3d04h"; NULL -> "-". */
void opdb_format_seconds(const char *seconds, char *out, size_t out_size);
/* Byte counts: "0", "812", "12.4K", "3.1M", "1.0G". */
void opdb_format_bytes(const char *bytes, char *out, size_t out_size);

/* The row as a JSON object (column name -> value), typed by the column names' suffixes the
 * queries use: *_id, id, pid, *_bytes, attempt, exit_* and *_us -> integer, *_seconds -> real,
 * params/args/result -> parsed JSON, leader/ok/stale/claimed -> boolean, the rest strings.
 * Columns whose name starts with "_" are left out (they are for the text view). */
struct yb_json *opdb_row_json(const struct db_result *r, int row);

/* What became of a request once yoband handled it (opdb_wait_request). */
struct opdb_request_outcome {
	bool handled;    /* false: the deadline passed first */
	bool ok;         /* yoband's verdict */
	char run_id[24]; /* the run the request created ("" when none) */
	char *result;    /* yoband's result (JSON text) or NULL; the caller frees it */
};

/* Waits until yoband has handled request_id (and, when want_run, created its run), polling the
 * request row every 50 ms, backing off to 500 ms, until timeout_ms. Returns 0 with *out (handled
 * false when the deadline passed) or YB_EXIT_FAIL (printed). */
int opdb_wait_request(struct db_conn *c, const char *request_id, bool want_run, int64_t timeout_ms,
		      struct opdb_request_outcome *out);

/* Adds what --wait learned to a command's JSON answer: "handled", "ok" (null when not handled),
 * "error" (why, or null) and, with with_run, "run_id" (the run the request created, or null). */
void opdb_outcome_json(struct yb_json *o, const struct opdb_request_outcome *out, const char *why,
		       bool with_run);

/* The message in a request's result JSON ("error", else "message"), or NULL. Caller frees. */
char *opdb_result_message(const char *result);

/* True for the states a run or job ends in. */
bool opdb_state_final(const char *state);

#endif
