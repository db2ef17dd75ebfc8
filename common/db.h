/*
 * db.h: Yoban's PostgreSQL layer. common/db.c is the only file that includes libpq-fe.h; the
 * rest of Yoban speaks these types.
 *
 * Connections: blocking helpers for the CLI (db_connect, db_exec) and non-blocking primitives for
 * yoband's loop (db_connect_start/_poll, db_send, db_flush, db_consume, db_busy, db_next_result,
 * db_next_notify, db_fd). Every statement takes its values as parameters ($1, $2 ... as text, NULL
 * for SQL NULL); no value is ever spliced into SQL text.
 *
 * Results: a struct db_result belongs to the caller (db_result_free). Values are text as
 * PostgreSQL prints them; they stay valid until the result is freed.
 *
 * Errors: YB_EDB when the server refused (err->msg holds its message, db_sqlstate() its
 * SQLSTATE), YB_EIO when the connection broke, YB_EAGAIN from the non-blocking calls when the
 * socket is not ready.
 *
 * Database objects live in the schema "yoban" (see schemas/sql/ and docs/database.md); the
 * embedded cluster (db_cluster_*) and the migrations (db_migrate*) are in scheduler/db/db_admin.h.
 */
#ifndef YB_DB_H
#define YB_DB_H

#include "yb.h"

#include <sys/types.h>

struct db_conn;
struct db_result;

/* The channel yoban_trigger & co. NOTIFY, with the request id as payload. */
#define DB_REQUESTS_CHANNEL "yoban_requests"
/* The login role of the daemon in an embedded cluster (member of yoban_daemon). */
#define DB_DAEMON_LOGIN "yoband"
/* The superuser of an embedded cluster. */
#define DB_CLUSTER_SUPERUSER "postgres"
/* The database an embedded cluster holds. */
#define DB_CLUSTER_DBNAME "yoban"

/* ---- blocking (the CLI, tests, start-up) ---- */

/* Connects and waits until ready. conninfo is "key=value ..." or a postgresql:// URI. */
int db_connect(const char *conninfo, struct db_conn **out, struct yb_err *err);
/* Closes the connection; NULL is fine. */
void db_close(struct db_conn *c);
/* Runs one statement with n_params text parameters (params[i] NULL = SQL NULL) and waits for it.
 * On success *out (if out is not NULL) receives the result. */
int db_exec(struct db_conn *c, const char *sql, int n_params, const char *const *params,
	    struct db_result **out, struct yb_err *err);
/* db_exec with binary parameters where binary[i] is true: lengths[i] bytes of values[i], sent as
 * they are (a bytea such as a zstd output chunk, NUL bytes and all); the others are text, as in
 * db_exec (lengths ignored). */
int db_exec_bin(struct db_conn *c, const char *sql, int n_params, const char *const *values,
		const int *lengths, const bool *binary, struct db_result **out, struct yb_err *err);
/* Runs several statements without parameters: for migration files and fixed SQL only. */
int db_exec_script(struct db_conn *c, const char *sql, struct yb_err *err);
/* db_exec and the first column of the first row, copied (the caller frees it); YB_ENOENT when no
 * row came back; *out is NULL when the value is SQL NULL. */
int db_query_value(struct db_conn *c, const char *sql, int n_params, const char *const *params,
		   char **out, struct yb_err *err);
/* LISTEN on a channel ([a-z_][a-z0-9_]*, at most 63 characters), blocking. */
int db_listen(struct db_conn *c, const char *channel, struct yb_err *err);

/* SQLSTATE of the last error on this connection ("42501" permission denied, "23505" unique
 * violation ...), "" when the last call succeeded. */
const char *db_sqlstate(const struct db_conn *c);
/* The server's version as a number (150018 for 15.18). */
int db_server_version(const struct db_conn *c);

/* ---- results ---- */
int db_result_rows(const struct db_result *r);
int db_result_cols(const struct db_result *r);
/* The value at (row, col) as text, or NULL for SQL NULL. BUG() when out of range. */
const char *db_result_get(const struct db_result *r, int row, int col);
/* The column's index by name, -1 when absent. */
int db_result_col(const struct db_result *r, const char *name);
const char *db_result_col_name(const struct db_result *r, int col);
/* A bytea value (as text results carry it, "\\x..." hex) decoded into bytes the caller frees;
 * YB_ENOENT for SQL NULL, YB_EINVAL when it is not a bytea's text form. */
int db_result_bytes(const struct db_result *r, int row, int col, unsigned char **out, size_t *len,
		    struct yb_err *err);
/* Rows touched by INSERT/UPDATE/DELETE, 0 for others. */
int64_t db_result_affected(const struct db_result *r);
void db_result_free(struct db_result *r);

/* ---- non-blocking (yoband's loop) ----
 * Start:  db_connect_start, then db_connect_poll each time db_fd() is ready for *want, until it
 *         returns 0. db_fd() may change during connection: read it again after each poll.
 * Query:  db_send; while db_flush returns YB_EAGAIN wait for writable; then on readable call
 *         db_consume, and while !db_busy, db_next_result until it returns 0.
 * Notify: after db_consume, db_next_notify until it returns 0. */
enum db_want { DB_WANT_READ = 1, DB_WANT_WRITE = 2 };

int db_connect_start(const char *conninfo, struct db_conn **out, struct yb_err *err);
/* 0: connected (now in non-blocking mode); YB_EAGAIN: wait until db_fd() is ready for *want. */
int db_connect_poll(struct db_conn *c, enum db_want *want, struct yb_err *err);
int db_fd(const struct db_conn *c);
int db_set_nonblocking(struct db_conn *c, bool on, struct yb_err *err);
/* Queues one statement with parameters; the result comes through db_next_result. */
int db_send(struct db_conn *c, const char *sql, int n_params, const char *const *params,
	    struct yb_err *err);
/* db_send with binary parameters, as db_exec_bin. */
int db_send_bin(struct db_conn *c, const char *sql, int n_params, const char *const *values,
		const int *lengths, const bool *binary, struct yb_err *err);
/* False once the connection is broken (after YB_EIO): close it and connect again. */
bool db_connected(const struct db_conn *c);
/* 0 when everything queued has been sent, YB_EAGAIN when the socket is full. */
int db_flush(struct db_conn *c, struct yb_err *err);
/* Reads what the socket has; call it when db_fd() is readable. */
int db_consume(struct db_conn *c, struct yb_err *err);
/* True while the result of the current statement has not fully arrived. */
bool db_busy(struct db_conn *c);
/* 1 and *out: the next result of the current statement; 0: the statement is finished (call
 * db_send again); YB_EAGAIN: not arrived yet (db_busy); YB_EDB: the statement failed (message in
 * err): call again until it returns 0 before sending anything else. */
int db_next_result(struct db_conn *c, struct db_result **out, struct yb_err *err);

#define DB_CHANNEL_MAX 63
#define DB_PAYLOAD_MAX 8000 /* PostgreSQL's own limit for NOTIFY payloads */
struct db_notify {
	char channel[DB_CHANNEL_MAX + 1];
	char payload[DB_PAYLOAD_MAX + 1];
	int sender_pid;
};
/* 1 and *out: a notification received by an earlier db_consume (or a blocking call); 0: none. */
int db_next_notify(struct db_conn *c, struct db_notify *out);

/* ---- connection strings ---- */

/* The value of one keyword (host, dbname, user ...) in conninfo; YB_ENOENT when not set. */
int db_conninfo_get(const char *conninfo, const char *key, char **out, struct yb_err *err);
/* conninfo with key set to value (quoted as libpq wants), as a new "key='value' ..." string. */
int db_conninfo_with(const char *conninfo, const char *key, const char *value, char **out,
		     struct yb_err *err);
/* Quotes value for a conninfo string: 'a b' -> "'a b'" (backslashes and quotes escaped). */
char *db_conninfo_quote(const char *value);
/* Whether a server answers at conninfo (PQping): 0 yes; YB_EAGAIN starting up or shutting down;
 * YB_ECLOSED nobody there; YB_EINVAL bad conninfo. Needs no password. */
int db_ping(const char *conninfo);

#endif
