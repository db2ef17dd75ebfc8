/*
 * db.c: the libpq wrapper, the only file that includes libpq-fe.h.
 *
 * One idea: values never enter SQL text. Every statement goes through PQexecParams or
 * PQsendQueryParams with its values as text parameters, so a runbook name, a parameter or a user
 * name can only ever be data. The one exception, db_exec_script, takes no values at all: it runs
 * the migration files and fixed SQL written in this repository.
 */
#define _GNU_SOURCE /* program_invocation_short_name */
#include "db.h"

#include "buf.h"

#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct db_conn {
	PGconn *pg;
	char sqlstate[6];
};

struct db_result {
	PGresult *res;
};

static void set_sqlstate(struct db_conn *c, const PGresult *res)
{
	const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	snprintf(c->sqlstate, sizeof(c->sqlstate), "%s", s ? s : "");
}

/* libpq's messages end with a newline and sometimes carry DETAIL/HINT lines: keep them, but
 * trimmed, on one message. */
static int err_from_text(struct yb_err *err, int code, const char *what, const char *text)
{
	char msg[YB_ERR_MSG_MAX];
	snprintf(msg, sizeof(msg), "%s", text ? text : "unknown error");
	size_t n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	for (char *p = msg; *p; p++)
		if (*p == '\n')
			*p = ' ';
	if (!strncmp(msg, "ERROR:  ", 8))
		memmove(msg, msg + 8, strlen(msg + 8) + 1);
	return yb_err_set(err, code, "%s: %s", what, msg);
}

static int err_from_result(struct db_conn *c, const PGresult *res, struct yb_err *err)
{
	set_sqlstate(c, res);
	const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
	if (!primary)
		return err_from_text(err, PQstatus(c->pg) == CONNECTION_OK ? YB_EDB : YB_EIO,
				     "database", PQerrorMessage(c->pg));
	return yb_err_set(err, YB_EDB, "database: %s%s%s%s%s%s", primary, detail ? " (" : "",
			  detail ? detail : "", detail ? ")" : "", hint ? "; hint: " : "",
			  hint ? hint : "");
}

/* The server's NOTICEs ("relation already exists, skipping") are not for people; its WARNINGs
 * are, and go to stderr. */
static void on_notice(void *arg, const PGresult *res)
{
	const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	if (severity && msg && !strcmp(severity, "WARNING"))
		fprintf(stderr, "yoban: database warning: %s\n", msg);
}

static struct db_conn *conn_new(PGconn *pg)
{
	struct db_conn *c = xcalloc(1, sizeof(*c));
	c->pg = pg;
	PQsetNoticeReceiver(pg, on_notice, NULL);
	return c;
}

/* conninfo as given, plus a fallback application_name so that pg_stat_activity shows who is
 * who ("yoban", "yoband", or what the string itself says). */
static const char *const connect_keys[] = { "dbname", "fallback_application_name", NULL };

static const char *app_name(void)
{
	return program_invocation_short_name ? program_invocation_short_name : "yoban";
}

int db_connect(const char *conninfo, struct db_conn **out, struct yb_err *err)
{
	const char *values[] = { conninfo, app_name(), NULL };
	PGconn *pg = PQconnectdbParams(connect_keys, values, 1);
	if (!pg)
		BUG("PQconnectdbParams returned NULL");
	if (PQstatus(pg) != CONNECTION_OK) {
		int rc = err_from_text(err, YB_EIO, "cannot connect to the database", PQerrorMessage(pg));
		PQfinish(pg);
		return rc;
	}
	*out = conn_new(pg);
	return 0;
}

void db_close(struct db_conn *c)
{
	if (!c)
		return;
	PQfinish(c->pg);
	free(c);
}

static int check_result(struct db_conn *c, PGresult *res, struct db_result **out, struct yb_err *err)
{
	int rc = 0;
	if (!res) {
		c->sqlstate[0] = '\0';
		return err_from_text(err, YB_EIO, "database", PQerrorMessage(c->pg));
	}
	switch (PQresultStatus(res)) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
	case PGRES_EMPTY_QUERY:
		c->sqlstate[0] = '\0';
		break;
	default:
		rc = err_from_result(c, res, err);
		PQclear(res);
		return rc;
	}
	if (out) {
		struct db_result *r = xmalloc(sizeof(*r));
		r->res = res;
		*out = r;
	} else {
		PQclear(res);
	}
	return 0;
}

int db_exec(struct db_conn *c, const char *sql, int n_params, const char *const *params,
	    struct db_result **out, struct yb_err *err)
{
	BUG_ON(n_params < 0 || (n_params > 0 && !params));
	PGresult *res = PQexecParams(c->pg, sql, n_params, NULL, params, NULL, NULL, 0);
	return check_result(c, res, out, err);
}

#define DB_PARAMS_MAX 64

/* PostgreSQL's per-parameter format codes (0 text, 1 binary) from ours. */
static void param_formats(int n, const bool *binary, int *formats)
{
	if (n > DB_PARAMS_MAX)
		BUG("%d parameters: at most %d", n, DB_PARAMS_MAX);
	for (int i = 0; i < n; i++)
		formats[i] = binary && binary[i] ? 1 : 0;
}

int db_exec_bin(struct db_conn *c, const char *sql, int n_params, const char *const *values,
		const int *lengths, const bool *binary, struct db_result **out, struct yb_err *err)
{
	int formats[DB_PARAMS_MAX];
	BUG_ON(n_params < 0 || (n_params > 0 && (!values || !lengths)));
	param_formats(n_params, binary, formats);
	PGresult *res = PQexecParams(c->pg, sql, n_params, NULL, values, lengths, formats, 0);
	return check_result(c, res, out, err);
}

int db_exec_script(struct db_conn *c, const char *sql, struct yb_err *err)
{
	/* PQexec returns only the last result; an error stops the script there and is returned. */
	PGresult *res = PQexec(c->pg, sql);
	return check_result(c, res, NULL, err);
}

int db_query_value(struct db_conn *c, const char *sql, int n_params, const char *const *params,
		   char **out, struct yb_err *err)
{
	struct db_result *r = NULL;
	int rc = db_exec(c, sql, n_params, params, &r, err);
	if (rc < 0)
		return rc;
	if (db_result_rows(r) < 1 || db_result_cols(r) < 1) {
		rc = yb_err_set(err, YB_ENOENT, "the query returned no row");
		goto out;
	}
	const char *v = db_result_get(r, 0, 0);
	*out = v ? xstrdup(v) : NULL;
out:
	db_result_free(r);
	return rc;
}

static bool channel_ok(const char *channel)
{
	size_t n = strlen(channel);
	if (n == 0 || n > DB_CHANNEL_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = channel[i];
		bool ok = (ch >= 'a' && ch <= 'z') || ch == '_' || (i > 0 && ch >= '0' && ch <= '9');
		if (!ok)
			return false;
	}
	return true;
}

int db_listen(struct db_conn *c, const char *channel, struct yb_err *err)
{
	/* LISTEN takes a name, not a value: the name is checked to be a plain identifier. */
	if (!channel_ok(channel))
		return yb_err_set(err, YB_EINVAL, "bad channel name '%s'", channel);
	char sql[16 + DB_CHANNEL_MAX];
	snprintf(sql, sizeof(sql), "LISTEN %s", channel);
	return db_exec(c, sql, 0, NULL, NULL, err);
}

const char *db_sqlstate(const struct db_conn *c) { return c->sqlstate; }

int db_server_version(const struct db_conn *c) { return PQserverVersion(c->pg); }

int db_result_rows(const struct db_result *r) { return PQntuples(r->res); }

int db_result_cols(const struct db_result *r) { return PQnfields(r->res); }

const char *db_result_get(const struct db_result *r, int row, int col)
{
	if (row < 0 || row >= PQntuples(r->res) || col < 0 || col >= PQnfields(r->res))
		BUG("result cell (%d, %d) outside %d x %d", row, col, PQntuples(r->res),
		    PQnfields(r->res));
	if (PQgetisnull(r->res, row, col))
		return NULL;
	return PQgetvalue(r->res, row, col);
}

int db_result_col(const struct db_result *r, const char *name)
{
	for (int i = 0; i < PQnfields(r->res); i++)
		if (!strcmp(PQfname(r->res, i), name))
			return i;
	return -1;
}

const char *db_result_col_name(const struct db_result *r, int col)
{
	const char *n = PQfname(r->res, col);
	if (!n)
		BUG("no column %d", col);
	return n;
}

int db_result_bytes(const struct db_result *r, int row, int col, unsigned char **out, size_t *len,
		    struct yb_err *err)
{
	const char *text = db_result_get(r, row, col);
	if (!text)
		return yb_err_set(err, YB_ENOENT, "the value is NULL");
	if (text[0] != '\\' || text[1] != 'x')
		return yb_err_set(err, YB_EINVAL, "column '%s' is not a bytea", db_result_col_name(r, col));
	size_t n = 0;
	unsigned char *raw = PQunescapeBytea((const unsigned char *)text, &n);
	if (!raw)
		return yb_err_set(err, YB_EINVAL, "column '%s' holds a bad bytea", db_result_col_name(r, col));
	unsigned char *copy = xmalloc(n);
	memcpy(copy, raw, n);
	PQfreemem(raw);
	*out = copy;
	*len = n;
	return 0;
}

int64_t db_result_affected(const struct db_result *r)
{
	const char *s = PQcmdTuples(r->res);
	return s && *s ? strtoll(s, NULL, 10) : 0;
}

void db_result_free(struct db_result *r)
{
	if (!r)
		return;
	PQclear(r->res);
	free(r);
}

/* ---- non-blocking ---- */

int db_connect_start(const char *conninfo, struct db_conn **out, struct yb_err *err)
{
	const char *values[] = { conninfo, app_name(), NULL };
	PGconn *pg = PQconnectStartParams(connect_keys, values, 1);
	if (!pg)
		BUG("PQconnectStartParams returned NULL");
	if (PQstatus(pg) == CONNECTION_BAD) {
		int rc = err_from_text(err, YB_EIO, "cannot connect to the database", PQerrorMessage(pg));
		PQfinish(pg);
		return rc;
	}
	*out = conn_new(pg);
	return 0;
}

int db_connect_poll(struct db_conn *c, enum db_want *want, struct yb_err *err)
{
	switch (PQconnectPoll(c->pg)) {
	case PGRES_POLLING_OK:
		return db_set_nonblocking(c, true, err);
	case PGRES_POLLING_READING:
		*want = DB_WANT_READ;
		return YB_EAGAIN;
	case PGRES_POLLING_WRITING:
		*want = DB_WANT_WRITE;
		return YB_EAGAIN;
	case PGRES_POLLING_FAILED:
	default:
		return err_from_text(err, YB_EIO, "cannot connect to the database",
				     PQerrorMessage(c->pg));
	}
}

int db_fd(const struct db_conn *c) { return PQsocket(c->pg); }

int db_set_nonblocking(struct db_conn *c, bool on, struct yb_err *err)
{
	if (PQsetnonblocking(c->pg, on ? 1 : 0) != 0)
		return err_from_text(err, YB_EIO, "database", PQerrorMessage(c->pg));
	return 0;
}

int db_send(struct db_conn *c, const char *sql, int n_params, const char *const *params,
	    struct yb_err *err)
{
	BUG_ON(n_params < 0 || (n_params > 0 && !params));
	if (!PQsendQueryParams(c->pg, sql, n_params, NULL, params, NULL, NULL, 0))
		return err_from_text(err, PQstatus(c->pg) == CONNECTION_OK ? YB_EDB : YB_EIO,
				     "database", PQerrorMessage(c->pg));
	return 0;
}

int db_send_bin(struct db_conn *c, const char *sql, int n_params, const char *const *values,
		const int *lengths, const bool *binary, struct yb_err *err)
{
	int formats[DB_PARAMS_MAX];
	BUG_ON(n_params < 0 || (n_params > 0 && (!values || !lengths)));
	param_formats(n_params, binary, formats);
	if (!PQsendQueryParams(c->pg, sql, n_params, NULL, values, lengths, formats, 0))
		return err_from_text(err, PQstatus(c->pg) == CONNECTION_OK ? YB_EDB : YB_EIO,
				     "database", PQerrorMessage(c->pg));
	return 0;
}

bool db_connected(const struct db_conn *c) { return PQstatus(c->pg) == CONNECTION_OK; }

int db_flush(struct db_conn *c, struct yb_err *err)
{
	int n = PQflush(c->pg);
	if (n < 0)
		return err_from_text(err, YB_EIO, "database", PQerrorMessage(c->pg));
	return n > 0 ? YB_EAGAIN : 0;
}

int db_consume(struct db_conn *c, struct yb_err *err)
{
	if (!PQconsumeInput(c->pg))
		return err_from_text(err, YB_EIO, "database", PQerrorMessage(c->pg));
	return 0;
}

bool db_busy(struct db_conn *c) { return PQisBusy(c->pg) != 0; }

int db_next_result(struct db_conn *c, struct db_result **out, struct yb_err *err)
{
	if (PQisBusy(c->pg))
		return YB_EAGAIN;
	PGresult *res = PQgetResult(c->pg);
	if (!res)
		return 0;
	int rc = check_result(c, res, out, err);
	return rc < 0 ? rc : 1;
}

int db_next_notify(struct db_conn *c, struct db_notify *out)
{
	PGnotify *n = PQnotifies(c->pg);
	if (!n)
		return 0;
	snprintf(out->channel, sizeof(out->channel), "%s", n->relname ? n->relname : "");
	snprintf(out->payload, sizeof(out->payload), "%s", n->extra ? n->extra : "");
	out->sender_pid = n->be_pid;
	PQfreemem(n);
	return 1;
}

/* ---- connection strings ---- */

static int parse_conninfo(const char *conninfo, PQconninfoOption **opts, struct yb_err *err)
{
	char *msg = NULL;
	*opts = PQconninfoParse(conninfo, &msg);
	if (!*opts) {
		int rc = err_from_text(err, YB_EINVAL, "bad database connection string",
				       msg ? msg : "out of memory");
		PQfreemem(msg);
		return rc;
	}
	return 0;
}

int db_conninfo_get(const char *conninfo, const char *key, char **out, struct yb_err *err)
{
	PQconninfoOption *opts;
	int rc = parse_conninfo(conninfo, &opts, err);
	if (rc < 0)
		return rc;
	rc = yb_err_set(err, YB_ENOENT, "'%s' is not set in the connection string", key);
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (!strcmp(o->keyword, key) && o->val) {
			*out = xstrdup(o->val);
			rc = 0;
			break;
		}
	}
	PQconninfoFree(opts);
	return rc;
}

char *db_conninfo_quote(const char *value)
{
	struct yb_buf b;
	yb_buf_init(&b, 0);
	yb_buf_append(&b, "'", 1);
	for (const char *p = value; *p; p++) {
		if (*p == '\'' || *p == '\\')
			yb_buf_append(&b, "\\", 1);
		yb_buf_append(&b, p, 1);
	}
	yb_buf_append(&b, "'", 1);
	return yb_buf_detach(&b, NULL);
}

int db_conninfo_with(const char *conninfo, const char *key, const char *value, char **out,
		     struct yb_err *err)
{
	PQconninfoOption *opts;
	int rc = parse_conninfo(conninfo, &opts, err);
	if (rc < 0)
		return rc;
	bool known = false;
	struct yb_buf b;
	yb_buf_init(&b, 0);
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		const char *v = o->val;
		if (!strcmp(o->keyword, key)) {
			known = true;
			v = value;
		}
		if (!v)
			continue;
		char *q = db_conninfo_quote(v);
		yb_buf_appendf(&b, "%s%s=%s", b.len ? " " : "", o->keyword, q);
		free(q);
	}
	PQconninfoFree(opts);
	if (!known) {
		yb_buf_release(&b);
		return yb_err_set(err, YB_EINVAL, "'%s' is not a connection keyword", key);
	}
	*out = yb_buf_detach(&b, NULL);
	return 0;
}

int db_ping(const char *conninfo)
{
	switch (PQping(conninfo)) {
	case PQPING_OK: return 0;
	case PQPING_REJECT: return YB_EAGAIN;
	case PQPING_NO_RESPONSE: return YB_ECLOSED;
	case PQPING_NO_ATTEMPT:
	default: return YB_EINVAL;
	}
}
