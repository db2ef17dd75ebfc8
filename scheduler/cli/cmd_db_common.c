/*
 * cmd_db_common.c: connecting as the operator, and saying no in words, for the commands that
 * talk to yoband through PostgreSQL.
 *
 * The one idea: the CLI never decides who may do what. It connects as the person (their own
 * role), calls a function or reads a table, and when the server refuses, it translates the
 * SQLSTATE into a sentence with the way out. The server's rules are the only rules.
 */
#include "cmd_db_common.h"
#include "db_admin.h"
#include "runbook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int opdb_open(const char *config, struct db_conn **out)
{
	return opdb_connect(config, NULL, out);
}

int opdb_connect(const char *config, const char *database, struct db_conn **out)
{
	struct yb_err err = { 0 };
	char *path = NULL, *conninfo = NULL;
	struct rb_site *site = NULL;
	struct db_conn *c = NULL;
	int status = YB_EXIT_FAIL;

	if (database) {
		if (db_connect(database, &c, &err) < 0) {
			cli_error("cannot connect to the yoban database: %s", err.msg);
			goto out;
		}
		goto zone; /* the site's zone is not known: PGTZ, else the server's */
	}
	if (rb_config_find(config, NULL, &path, &err) < 0) {
		cli_error("%s", err.msg);
		status = YB_EXIT_USAGE;
		goto out;
	}
	if (rb_site_load(path, &site, &err) < 0) {
		cli_error("%s", err.msg);
		goto out;
	}
	conninfo = site->database ? xstrdup(site->database)
				  : db_cluster_conninfo(site->state_dir, DB_CLUSTER_DBNAME);
	if (db_connect(conninfo, &c, &err) < 0) {
		cli_error("cannot connect to the yoban database: %s", err.msg);
		if (!site->database)
			fprintf(stderr, "hint: no 'database:' in %s, so this is the embedded cluster under "
				"'%s': is it started ('yoban db start')?\n",
				path ? path : "the built-in defaults", site->state_dir);
		else
			fprintf(stderr, "hint: the connection string is the 'database:' of '%s'; you log "
				"in as yourself (or $PGUSER)\n", path);
		goto out;
	}
zone:
	if (site && !getenv("PGTZ") && site->default_timezone) {
		const char *p[] = { site->default_timezone };
		if (db_exec(c, "SELECT pg_catalog.set_config('TimeZone', $1, false)", 1, p, NULL,
			    &err) < 0) {
			cli_error("setting the session time zone to '%s': %s", site->default_timezone,
				  err.msg);
			goto out;
		}
	}
	*out = c;
	c = NULL;
	status = YB_EXIT_OK;
out:
	db_close(c);
	free(conninfo);
	rb_site_free(site);
	free(path);
	return status;
}

int opdb_report(struct db_conn *c, const struct yb_err *err, const char *need_role)
{
	const char *state = db_sqlstate(c);
	if (!strcmp(state, "42501")) {
		char *user = NULL;
		struct yb_err ignored = { 0 };
		char saved[YB_ERR_MSG_MAX];
		snprintf(saved, sizeof(saved), "%s", err->msg);
		if (db_query_value(c, "SELECT session_user", 0, NULL, &user, &ignored) < 0 || !user)
			user = xstrdup("?");
		if (need_role)
			cli_error("permission denied: role '%s' is not a member of %s (ask an admin to "
				  "grant it)", user, need_role);
		else
			cli_error("permission denied: %s", saved);
		free(user);
		return YB_EXIT_FAIL;
	}
	if (!strcmp(state, "P0002") || !strcmp(state, "02000")) {
		cli_error("%s (see 'yoban runs' for the run ids)", err->msg);
		return YB_EXIT_FAIL;
	}
	if (!strcmp(state, "3F000") || !strcmp(state, "42P01") || !strcmp(state, "42883")) {
		cli_error("%s: the database lacks yoban's schema or is older than this yoban (an admin "
			  "runs 'yoban db migrate')", err->msg);
		return YB_EXIT_FAIL;
	}
	cli_error("%s", err->msg);
	return YB_EXIT_FAIL;
}

int opdb_query(struct db_conn *c, const char *sql, int n_params, const char *const *params,
	       struct db_result **out, const char *need_role)
{
	struct yb_err err = { 0 };
	if (db_exec(c, sql, n_params, params, out, &err) < 0)
		return opdb_report(c, &err, need_role);
	return 0;
}

int opdb_parse_run_id(const struct yb_cmd *cmd, const char *text, char *out, size_t out_size)
{
	const char *p = text[0] == '#' ? text + 1 : text;
	size_t n = strlen(p);
	bool ok = n > 0 && n <= 18 && p[0] != '0';
	for (size_t i = 0; ok && i < n; i++)
		ok = p[i] >= '0' && p[i] <= '9';
	if (!ok || n + 1 > out_size)
		return cli_usage_error(cmd, "'%s' is not a run id (a positive number, as 'yoban runs' "
				       "shows)", text);
	memcpy(out, p, n + 1);
	return 0;
}

void opdb_format_time(const char *iso, char *out, size_t out_size)
{
	if (!iso || !*iso) {
		snprintf(out, out_size, "-");
		return;
	}
	char tmp[20];
	size_t n = strlen(iso) < 19 ? strlen(iso) : 19;
	memcpy(tmp, iso, n);
	tmp[n] = '\0';
	if (n > 10 && tmp[10] == 'T')
		tmp[10] = ' ';
	snprintf(out, out_size, "%s", tmp);
}

void opdb_format_seconds(const char *seconds, char *out, size_t out_size)
{
	if (!seconds || !*seconds) {
		snprintf(out, out_size, "-");
		return;
	}
	double s = strtod(seconds, NULL);
	if (s < 0)
		s = 0;
	long long whole = (long long)s;
	if (s < 1)
		snprintf(out, out_size, "%dms", (int)(s * 1000 + 0.5));
	else if (s < 60)
		snprintf(out, out_size, "%.1fs", s);
	else if (whole < 3600)
		snprintf(out, out_size, "%lldm%02llds", whole / 60, whole % 60);
	else if (whole < 86400)
		snprintf(out, out_size, "%lldh%02lldm", whole / 3600, whole % 3600 / 60);
	else
		snprintf(out, out_size, "%lldd%02lldh", whole / 86400, whole % 86400 / 3600);
}

void opdb_format_bytes(const char *bytes, char *out, size_t out_size)
{
	double b = bytes ? strtod(bytes, NULL) : 0;
	static const char units[] = "KMGT";
	if (b < 1024) {
		snprintf(out, out_size, "%.0f", b);
		return;
	}
	int u = -1;
	while (b >= 1024 && u < 3) {
		b /= 1024;
		u++;
	}
	snprintf(out, out_size, "%.1f%c", b, units[u]);
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcmp(s + n - m, suffix);
}

static bool is_int_column(const char *name)
{
	return !strcmp(name, "id") || !strcmp(name, "pid") || !strcmp(name, "attempt") ||
	       !strcmp(name, "step_index") || !strncmp(name, "exit_", 5) || has_suffix(name, "_id") ||
	       has_suffix(name, "_bytes") || has_suffix(name, "_us") || has_suffix(name, "_kb") ||
	       !strcmp(name, "rerun_of") || !strcmp(name, "offset") || !strcmp(name, "raw_len") ||
	       has_suffix(name, "_count") || !strcmp(name, "count");
}

static bool is_bool_column(const char *name)
{
	return !strcmp(name, "leader") || !strcmp(name, "ok") || !strcmp(name, "stale") ||
	       !strcmp(name, "claimed") || !strcmp(name, "handled");
}

static bool is_json_column(const char *name)
{
	return !strcmp(name, "params") || !strcmp(name, "args") || !strcmp(name, "result") ||
	       !strcmp(name, "detail");
}

struct yb_json *opdb_row_json(const struct db_result *r, int row)
{
	struct yb_json *obj = yb_json_object();
	for (int col = 0; col < db_result_cols(r); col++) {
		const char *name = db_result_col_name(r, col);
		const char *v = db_result_get(r, row, col);
		struct yb_json *value;
		if (name[0] == '_')
			continue;
		if (!v) {
			value = yb_json_null();
		} else if (is_bool_column(name)) {
			value = yb_json_bool(v[0] == 't');
		} else if (is_int_column(name)) {
			value = yb_json_int(strtoll(v, NULL, 10));
		} else if (has_suffix(name, "_seconds")) {
			value = yb_json_real(strtod(v, NULL));
		} else if (is_json_column(name)) {
			if (yb_json_parse(v, strlen(v), &value, NULL) < 0)
				value = yb_json_str(v);
		} else {
			value = yb_json_str(v);
		}
		yb_json_set(obj, name, value);
	}
	return obj;
}

bool opdb_state_final(const char *state)
{
	static const char *const finals[] = { "succeeded", "failed", "timed_out", "cancelled",
					      "lost", "skipped" };
	for (size_t i = 0; state && i < YB_ARRAY_LEN(finals); i++)
		if (!strcmp(state, finals[i]))
			return true;
	return false;
}

int opdb_wait_request(struct db_conn *c, const char *request_id, bool want_run, int64_t timeout_ms,
		      struct opdb_request_outcome *out)
{
	static const char sql[] =
		"SELECT q.handled_at IS NOT NULL AS handled, q.ok, q.result::text,"
		" (SELECT min(r.id) FROM yoban.runs r WHERE r.request_id = q.id) AS run_id"
		" FROM yoban.requests q WHERE q.id = $1";
	const char *p[] = { request_id };
	int64_t deadline = yb_mono_ms() + timeout_ms;
	int64_t pause_ms = 50;
	struct opdb_request_outcome o = { 0 };
	for (;;) {
		struct db_result *r = NULL;
		if (opdb_query(c, sql, 1, p, &r, "yoban_reviewer") != 0)
			return YB_EXIT_FAIL;
		if (db_result_rows(r) != 1) {
			db_result_free(r);
			cli_error("request %s is not in the database", request_id);
			return YB_EXIT_FAIL;
		}
		const char *handled = db_result_get(r, 0, 0);
		const char *ok = db_result_get(r, 0, 1);
		const char *result = db_result_get(r, 0, 2);
		const char *run = db_result_get(r, 0, 3);
		bool is_handled = handled && handled[0] == 't';
		bool failed = is_handled && !(ok && ok[0] == 't');
		if (is_handled && (!want_run || run || failed)) {
			o.handled = true;
			o.ok = !failed;
			snprintf(o.run_id, sizeof(o.run_id), "%s", run ? run : "");
			o.result = result ? xstrdup(result) : NULL;
			db_result_free(r);
			break;
		}
		db_result_free(r);
		int64_t now = yb_mono_ms();
		if (now >= deadline)
			break;
		int64_t sleep_ms = pause_ms < deadline - now ? pause_ms : deadline - now;
		struct timespec ts = { sleep_ms / 1000, (sleep_ms % 1000) * 1000000L };
		nanosleep(&ts, NULL);
		pause_ms = pause_ms * 2 > 500 ? 500 : pause_ms * 2;
	}
	*out = o;
	return 0;
}

char *opdb_result_message(const char *result)
{
	struct yb_json *j = NULL;
	char *msg = NULL;
	if (!result || yb_json_parse(result, strlen(result), &j, NULL) < 0)
		return NULL;
	const char *s = yb_json_get_str(j, "error");
	if (!s)
		s = yb_json_get_str(j, "message");
	if (s)
		msg = xstrdup(s);
	yb_json_free(j);
	return msg;
}

void opdb_outcome_json(struct yb_json *o, const struct opdb_request_outcome *out, const char *why,
		       bool with_run)
{
	yb_json_set(o, "handled", yb_json_bool(out->handled));
	yb_json_set(o, "ok", out->handled ? yb_json_bool(out->ok) : yb_json_null());
	if (with_run)
		yb_json_set(o, "run_id", out->run_id[0] ? yb_json_int(strtoll(out->run_id, NULL, 10))
							 : yb_json_null());
	yb_json_set(o, "error", yb_json_str(why));
}
