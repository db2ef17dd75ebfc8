/*
 * test_db.c: the PostgreSQL layer against a real server: an embedded cluster made by
 * db_cluster_create in a temp folder (as root it runs as the system user 'yoban'), started once
 * for the whole suite and stopped at the end. Covers the connection-string helpers, loading
 * migrations from a folder, the migration checks, parameterized statements, the non-blocking
 * primitives yoband's loop uses (connect, send, results) and a NOTIFY arriving on LISTEN after
 * yoban_trigger.
 */
#define _GNU_SOURCE
#include "db_admin.h"

#include "digest.h"

#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char state_dir[256];
static char *conn_super; /* the test database as the cluster's superuser */
static char *conn_daemon; /* as yoband */
static char *conn_me;    /* as the caller (peer), an operator */

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void remove_tree(const char *path) { nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS); }

static void write_text(const char *path, const char *text)
{
	struct yb_err err;
	ck_assert_msg(yb_write_file_atomic(path, text, strlen(text), 0644, &err) == 0, "%s", err.msg);
}

/* Waits (bounded, as a failure guard only) until c's socket is ready for want. */
static void wait_fd(struct db_conn *c, enum db_want want)
{
	struct pollfd p = { .fd = db_fd(c), .events = want == DB_WANT_READ ? POLLIN : POLLOUT };
	int n = poll(&p, 1, 60000);
	ck_assert_msg(n == 1, "the database socket never became ready");
}

START_TEST(test_conninfo_helpers)
{
	struct yb_err err;
	char *q = db_conninfo_quote("a b'c\\d");
	ck_assert_str_eq(q, "'a b\\'c\\\\d'");
	free(q);

	char *with = NULL, *v = NULL;
	ck_assert_int_eq(db_conninfo_with("host=/x/run dbname=yoban", "user", "it's me", &with, &err), 0);
	ck_assert_int_eq(db_conninfo_get(with, "user", &v, &err), 0);
	ck_assert_str_eq(v, "it's me");
	free(v);
	ck_assert_int_eq(db_conninfo_get(with, "host", &v, &err), 0);
	ck_assert_str_eq(v, "/x/run");
	free(v);
	free(with);
	/* a URI works too, and an unset keyword is ENOENT */
	ck_assert_int_eq(db_conninfo_with("postgresql:///yoban?host=/r", "user", "u", &with, &err), 0);
	ck_assert_int_eq(db_conninfo_get(with, "dbname", &v, &err), 0);
	ck_assert_str_eq(v, "yoban");
	free(v);
	free(with);
	ck_assert_int_eq(db_conninfo_get("dbname=x", "user", &v, &err), YB_ENOENT);
	ck_assert_int_eq(db_conninfo_get("dbname='x", "user", &v, &err), YB_EINVAL);
	ck_assert_int_eq(db_conninfo_with("dbname=x", "no_such_key", "1", &with, &err), YB_EINVAL);

	/* which database a site config means */
	bool embedded = false;
	char *ci = NULL;
	ck_assert_int_eq(db_site_conninfo(NULL, "/var/lib/yoban", DB_DAEMON_LOGIN, &ci, &embedded, &err), 0);
	ck_assert(embedded);
	char *part = NULL;
	ck_assert_int_eq(db_conninfo_get(ci, "host", &part, &err), 0);
	ck_assert_str_eq(part, "/var/lib/yoban/run");
	free(part);
	ck_assert_int_eq(db_conninfo_get(ci, "user", &part, &err), 0);
	ck_assert_str_eq(part, DB_DAEMON_LOGIN);
	free(part);
	free(ci);
	ck_assert_int_eq(db_site_conninfo("host=/var/lib/yoban/run dbname=yoban", "/var/lib/yoban/", NULL,
					  &ci, &embedded, &err),
			 0);
	ck_assert(embedded);
	ck_assert_str_eq(ci, "host=/var/lib/yoban/run dbname=yoban");
	free(ci);
	ck_assert_int_eq(db_site_conninfo("host=/var/lib/yoban/run user=me dbname=y", "/var/lib/yoban",
					  DB_DAEMON_LOGIN, &ci, &embedded, &err),
			 0);
	ck_assert(embedded);
	ck_assert_str_eq(ci, "host=/var/lib/yoban/run user=me dbname=y"); /* the user it names wins */
	free(ci);
	ck_assert_int_eq(db_site_conninfo("host=db01 dbname=yoban", "/var/lib/yoban", DB_DAEMON_LOGIN,
					  &ci, &embedded, &err),
			 0);
	ck_assert(!embedded);
	ck_assert_str_eq(ci, "host=db01 dbname=yoban");
	free(ci);
	ck_assert_int_eq(db_site_conninfo("host=/var/lib/yoban/running dbname=y", "/var/lib/yoban", NULL,
					  &ci, &embedded, &err),
			 0);
	ck_assert(!embedded);
	free(ci);
	ck_assert_int_eq(db_site_conninfo("host='unterminated", "/x", NULL, &ci, &embedded, &err),
			 YB_EINVAL);

	ci = db_cluster_conninfo("/var/lib/yoban/", "yoban");
	ck_assert_str_eq(ci, "host=/var/lib/yoban/run dbname=yoban");
	free(ci);
	ci = db_cluster_conninfo("/srv/a b", "yoban");
	ck_assert_str_eq(ci, "host='/srv/a b/run' dbname='yoban'");
	free(ci);
}
END_TEST

START_TEST(test_migrations_from_folder)
{
	char dir[] = "/tmp/yb-test-sql.XXXXXX";
	char path[512];
	struct yb_err err;
	struct db_migration *m = NULL;
	size_t n = 0;
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/002_second.sql", dir);
	write_text(path, "SELECT 2;\n");
	snprintf(path, sizeof(path), "%s/001_first.sql", dir);
	write_text(path, "SELECT 1;\n");
	snprintf(path, sizeof(path), "%s/README.md", dir);
	write_text(path, "not a migration\n");
	snprintf(path, sizeof(path), "%s/01_short.sql", dir);
	write_text(path, "not a migration either\n");

	ck_assert_int_eq(db_migrations_load_dir(dir, &m, &n, &err), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(m[0].version, 1);
	ck_assert_str_eq(m[0].name, "first");
	ck_assert_int_eq(m[1].version, 2);
	ck_assert_str_eq(m[1].sql, "SELECT 2;\n");
	db_migrations_free(m, n);

	snprintf(path, sizeof(path), "%s/002_again.sql", dir);
	write_text(path, "SELECT 3;\n");
	ck_assert_int_eq(db_migrations_load_dir(dir, &m, &n, &err), YB_EINVAL);
	ck_assert_msg(strstr(err.msg, "two migrations numbered 002"), "%s", err.msg);
	remove_tree(dir);
	ck_assert_int_eq(db_migrations_load_dir(dir, &m, &n, &err), YB_ENOENT);
}
END_TEST

/* The embedded set is exactly the files of schemas/sql, byte for byte. */
START_TEST(test_builtin_is_the_source_tree)
{
	struct yb_err err;
	size_t n_builtin, n_files;
	const struct db_migration *b = db_migrations_builtin(&n_builtin);
	struct db_migration *f;
	ck_assert_int_eq(db_migrations_load_dir(YB_SOURCE_DIR "/schemas/sql", &f, &n_files, &err), 0);
	ck_assert_uint_eq(n_builtin, n_files);
	ck_assert_uint_ge(n_builtin, 3);
	for (size_t i = 0; i < n_builtin; i++) {
		ck_assert_int_eq(b[i].version, f[i].version);
		ck_assert_str_eq(b[i].name, f[i].name);
		ck_assert_uint_eq(b[i].len, f[i].len);
		ck_assert(memcmp(b[i].sql, f[i].sql, b[i].len) == 0);
		if (i > 0)
			ck_assert_int_gt(b[i].version, b[i - 1].version);
	}
	db_migrations_free(f, n_files);
}
END_TEST

START_TEST(test_schema_checks)
{
	struct yb_err err;
	struct db_conn *c;
	size_t n;
	const struct db_migration *b = db_migrations_builtin(&n);
	ck_assert_msg(db_connect(conn_super, &c, &err) == 0, "%s", err.msg);

	/* at this binary's migrations: nothing to do */
	ck_assert_msg(db_schema_check(c, b, n, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(db_migrate(c, b, n, NULL, NULL, &err), 0);
	struct db_migration_status st;
	ck_assert_int_eq(db_migration_status(c, b, n, &st, &err), 0);
	ck_assert(st.initialised);
	ck_assert_uint_eq(st.n_applied, n);
	ck_assert_uint_eq(st.n_pending + st.n_unknown + st.n_changed, 0);
	ck_assert_str_eq(st.rows[0].applied_by, DB_CLUSTER_SUPERUSER);
	db_migration_status_release(&st);

	/* a binary with one more migration: the database lacks it */
	struct db_migration more[64];
	ck_assert_uint_lt(n, YB_ARRAY_LEN(more));
	memcpy(more, b, n * sizeof(*b));
	more[n] = (struct db_migration){ 999, "later", "SELECT 1;", 9 };
	ck_assert_int_eq(db_schema_check(c, more, n + 1, &err), YB_ERANGE);
	ck_assert_msg(strstr(err.msg, "from 999") && strstr(err.msg, "yoban db migrate"), "%s", err.msg);

	/* a binary with one fewer: the database is newer, and migrate refuses before doing anything */
	ck_assert_int_eq(db_schema_check(c, b, n - 1, &err), YB_ERANGE);
	ck_assert_msg(strstr(err.msg, "newer than this yoban"), "%s", err.msg);
	ck_assert_int_eq(db_migrate(c, b, n - 1, NULL, NULL, &err), YB_ERANGE);

	/* a binary whose file differs from the one applied */
	memcpy(more, b, n * sizeof(*b));
	more[0].sql = "-- edited\n";
	more[0].len = strlen(more[0].sql);
	ck_assert_int_eq(db_migrate(c, more, n, NULL, NULL, &err), YB_EINVAL);
	ck_assert_msg(strstr(err.msg, "has changed"), "%s", err.msg);
	ck_assert_int_eq(db_schema_check(c, more, n, &err), YB_EINVAL);
	db_close(c);
}
END_TEST

START_TEST(test_parameters_are_data)
{
	struct yb_err err;
	struct db_conn *c;
	struct db_result *r;
	ck_assert_msg(db_connect(conn_me, &c, &err) == 0, "%s", err.msg);
	const char *evil = "x'); DROP TABLE yoban.runs; --";
	const char *params[] = { evil, NULL };
	ck_assert_int_eq(db_exec(c, "SELECT $1::text AS a, $2::text AS b", 2, params, &r, &err), 0);
	ck_assert_int_eq(db_result_rows(r), 1);
	ck_assert_str_eq(db_result_get(r, 0, db_result_col(r, "a")), evil);
	ck_assert_ptr_null(db_result_get(r, 0, db_result_col(r, "b")));
	ck_assert_int_eq(db_result_col(r, "nope"), -1);
	db_result_free(r);

	/* binary parameters: bytes as they are, NUL included; bytea read back */
	const char raw[] = { 'a', '\0', (char)0xff, 'z' };
	const char *values[] = { raw, "plain text" };
	const int lengths[] = { (int)sizeof(raw), 0 };
	const bool binary[] = { true, false };
	ck_assert_int_eq(db_exec_bin(c, "SELECT length($1::bytea), $1::bytea, $2::text, NULL::bytea", 2,
				     values, lengths, binary, &r, &err),
			 0);
	ck_assert_str_eq(db_result_get(r, 0, 0), "4");
	unsigned char *bytes = NULL;
	size_t n_bytes = 0;
	ck_assert_int_eq(db_result_bytes(r, 0, 1, &bytes, &n_bytes, &err), 0);
	ck_assert_uint_eq(n_bytes, sizeof(raw));
	ck_assert(memcmp(bytes, raw, sizeof(raw)) == 0);
	free(bytes);
	ck_assert_int_eq(db_result_bytes(r, 0, 2, &bytes, &n_bytes, &err), YB_EINVAL);
	ck_assert_int_eq(db_result_bytes(r, 0, 3, &bytes, &n_bytes, &err), YB_ENOENT);
	db_result_free(r);
	ck_assert(db_connected(c));

	/* the server's refusals: YB_EDB, its words, its SQLSTATE */
	ck_assert_int_eq(db_exec(c, "INSERT INTO yoban.requests (kind) VALUES ('reload')", 0, NULL, NULL,
				 &err),
			 YB_EDB);
	ck_assert_msg(strstr(err.msg, "permission denied"), "%s", err.msg);
	ck_assert_str_eq(db_sqlstate(c), "42501");
	const char *bad[] = { "Bad Name" };
	ck_assert_int_eq(db_exec(c, "SELECT yoban.yoban_trigger($1)", 1, bad, NULL, &err), YB_EDB);
	ck_assert_msg(strstr(err.msg, "bad runbook name"), "%s", err.msg);
	char *v = NULL;
	ck_assert_int_eq(db_query_value(c, "SELECT 1 WHERE false", 0, NULL, &v, &err), YB_ENOENT);
	ck_assert_int_eq(db_query_value(c, "SELECT 'ok'", 0, NULL, &v, &err), 0);
	ck_assert_str_eq(v, "ok");
	ck_assert_str_eq(db_sqlstate(c), "");
	free(v);
	ck_assert_int_eq(db_listen(c, "bad channel; x", &err), YB_EINVAL);
	db_close(c);
}
END_TEST

/* Drives one statement through the non-blocking calls; returns the first value of its first
 * result (copied), or NULL for none. */
static char *nb_query_bin(struct db_conn *c, const char *sql, int n, const char *const *params,
			  const int *lengths, const bool *binary, int *failed)
{
	struct yb_err err;
	char *value = NULL;
	*failed = 0;
	if (binary)
		ck_assert_int_eq(db_send_bin(c, sql, n, params, lengths, binary, &err), 0);
	else
		ck_assert_int_eq(db_send(c, sql, n, params, &err), 0);
	while (db_flush(c, &err) == YB_EAGAIN)
		wait_fd(c, DB_WANT_WRITE);
	for (;;) {
		struct db_result *r = NULL;
		int rc = db_next_result(c, &r, &err);
		if (rc == YB_EAGAIN) {
			wait_fd(c, DB_WANT_READ);
			ck_assert_int_eq(db_consume(c, &err), 0);
			continue;
		}
		if (rc == 0)
			break;
		if (rc == YB_EDB) {
			*failed = 1;
			continue;
		}
		ck_assert_int_eq(rc, 1);
		if (!value && db_result_rows(r) > 0 && db_result_cols(r) > 0 && db_result_get(r, 0, 0))
			value = xstrdup(db_result_get(r, 0, 0));
		db_result_free(r);
	}
	return value;
}

static char *nb_query(struct db_conn *c, const char *sql, int n, const char *const *params,
		      int *failed)
{
	return nb_query_bin(c, sql, n, params, NULL, NULL, failed);
}

START_TEST(test_nonblocking_and_notify)
{
	struct yb_err err;
	struct db_conn *daemon = NULL, *me = NULL;
	enum db_want want = DB_WANT_WRITE;
	int failed;

	ck_assert_msg(db_connect_start(conn_daemon, &daemon, &err) == 0, "%s", err.msg);
	for (;;) {
		int rc = db_connect_poll(daemon, &want, &err);
		if (rc == 0)
			break;
		ck_assert_msg(rc == YB_EAGAIN, "%s", err.msg);
		wait_fd(daemon, want);
	}
	char *none = nb_query(daemon, "LISTEN " DB_REQUESTS_CHANNEL, 0, NULL, &failed);
	ck_assert(!failed);
	ck_assert_ptr_null(none);

	/* a claim, twice: the second finds the fire taken */
	const char *fire[] = { "nb-test", "2026-04-01T01:30:00+09:00" };
	char *first = nb_query(daemon, "SELECT claimed FROM yoban.yoban_claim_fire($1, $2::timestamptz)", 2,
			       fire, &failed);
	ck_assert(!failed);
	ck_assert_str_eq(first, "t");
	char *second = nb_query(daemon, "SELECT claimed FROM yoban.yoban_claim_fire($1, $2::timestamptz)", 2,
				fire, &failed);
	ck_assert_str_eq(second, "f");
	free(first);
	free(second);
	/* binary parameters, non-blocking: a 64 KiB bytea of zeros */
	char *zeros = xcalloc(1, 65536);
	const char *zv[] = { zeros };
	const int zl[] = { 65536 };
	const bool zb[] = { true };
	char *zlen = nb_query_bin(daemon, "SELECT length($1::bytea)", 1, zv, zl, zb, &failed);
	ck_assert(!failed);
	ck_assert_str_eq(zlen, "65536");
	free(zlen);
	free(zeros);
	/* a failing statement: YB_EDB, then the connection is usable again */
	char *nothing = nb_query(daemon, "SELECT yoban.yoban_trigger('x')", 0, NULL, &failed);
	ck_assert(failed);
	ck_assert_ptr_null(nothing);

	/* an operator triggers: the daemon hears of it with the request id */
	ck_assert_msg(db_connect(conn_me, &me, &err) == 0, "%s", err.msg);
	char *request_id = NULL;
	const char *args[] = { "nightly-batch", "{\"business_date\": \"2026-04-01\"}" };
	ck_assert_msg(db_query_value(me, "SELECT yoban.yoban_trigger($1, $2::jsonb, false)", 2, args,
				     &request_id, &err) == 0,
		      "%s", err.msg);
	struct db_notify note;
	while (db_next_notify(daemon, &note) == 0) {
		wait_fd(daemon, DB_WANT_READ);
		ck_assert_int_eq(db_consume(daemon, &err), 0);
	}
	ck_assert_str_eq(note.channel, DB_REQUESTS_CHANNEL);
	ck_assert_str_eq(note.payload, request_id);
	ck_assert_int_gt(note.sender_pid, 0);
	ck_assert_int_eq(db_next_notify(daemon, &note), 0);

	/* the request names the operator's login */
	char *who = NULL;
	const char *id[] = { request_id };
	ck_assert_int_eq(db_query_value(me, "SELECT requested_by FROM yoban.requests WHERE id = $1::bigint",
					1, id, &who, &err),
			 0);
	ck_assert_str_eq(who, getpwuid(getuid())->pw_name);
	free(who);
	free(request_id);
	db_close(me);
	db_close(daemon);
}
END_TEST

START_TEST(test_cluster_calls)
{
	struct yb_err err;
	bool running = false;
	pid_t pid = 0;
	ck_assert_msg(db_cluster_status(state_dir, NULL, &running, &pid, &err) == 0, "%s", err.msg);
	ck_assert(running);
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(db_cluster_start(state_dir, NULL, &err), YB_EEXIST);
	ck_assert_int_eq(db_cluster_ensure_running(state_dir, NULL, &err), 0);
	ck_assert_int_eq(db_cluster_create(state_dir, NULL, &err), YB_EEXIST);
	ck_assert(db_cluster_exists(state_dir));

	ck_assert_int_eq(db_cluster_status("/nonexistent/yoban", NULL, &running, &pid, &err), YB_ENOENT);
	ck_assert_msg(strstr(err.msg, "yoban init"), "%s", err.msg);
	ck_assert_int_eq(db_cluster_create("/tmp/a\"b", NULL, &err), YB_EINVAL);
	ck_assert_int_eq(db_cluster_create("relative/path", NULL, &err), YB_EINVAL);
	char longer[200];
	memset(longer, 'x', sizeof(longer) - 1);
	longer[0] = '/';
	longer[sizeof(longer) - 1] = '\0';
	ck_assert_int_eq(db_cluster_create(longer, NULL, &err), YB_EINVAL);
	ck_assert_msg(strstr(err.msg, "too long for a Unix socket"), "%s", err.msg);
}
END_TEST

static Suite *db_suite(void)
{
	Suite *s = suite_create("db");
	TCase *tc = tcase_create("db");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_conninfo_helpers);
	tcase_add_test(tc, test_migrations_from_folder);
	tcase_add_test(tc, test_builtin_is_the_source_tree);
	tcase_add_test(tc, test_schema_checks);
	tcase_add_test(tc, test_parameters_are_data);
	tcase_add_test(tc, test_nonblocking_and_notify);
	tcase_add_test(tc, test_cluster_calls);
	suite_add_tcase(s, tc);
	return s;
}

/* One cluster for the suite: created, started, a database migrated and logins made. */
static int setup_cluster(struct yb_err *err)
{
	char dir[] = "/tmp/yb-test-db.XXXXXX";
	if (!mkdtemp(dir))
		return yb_err_set(err, YB_EIO, "mkdtemp: %s", strerror(errno));
	chmod(dir, 0755); /* the server's OS user passes through */
	snprintf(state_dir, sizeof(state_dir), "%s", dir);
	int rc = db_cluster_create(state_dir, NULL, err);
	if (rc < 0 || (rc = db_cluster_start(state_dir, NULL, err)) < 0)
		return rc;

	char *base = db_cluster_conninfo(state_dir, "postgres"), *admin = NULL;
	struct db_conn *c = NULL;
	rc = db_conninfo_with(base, "user", DB_CLUSTER_SUPERUSER, &admin, err);
	free(base);
	if (rc < 0 || (rc = db_connect(admin, &c, err)) < 0)
		goto out;
	if ((rc = db_exec(c, "CREATE DATABASE yoban_test", 0, NULL, NULL, err)) < 0)
		goto out;
	db_close(c);
	c = NULL;

	base = db_cluster_conninfo(state_dir, "yoban_test");
	db_conninfo_with(base, "user", DB_CLUSTER_SUPERUSER, &conn_super, NULL);
	db_conninfo_with(base, "user", DB_DAEMON_LOGIN, &conn_daemon, NULL);
	conn_me = base;
	size_t n;
	const struct db_migration *m = db_migrations_builtin(&n);
	if ((rc = db_connect(conn_super, &c, err)) < 0 || (rc = db_migrate(c, m, n, NULL, NULL, err)) < 0)
		goto out;
	if (rc != (int)n) {
		rc = yb_err_set(err, YB_EINVAL, "a fresh database took %d of %zu migrations", rc, n);
		goto out;
	}
	const char *me[] = { getpwuid(getuid())->pw_name, "{yoban_operator}" };
	const char *daemon[] = { DB_DAEMON_LOGIN, "{yoban_daemon}" };
	if ((rc = db_exec(c, "SELECT yoban.yoban_grant_login($1, $2::text[])", 2, me, NULL, err)) < 0 ||
	    (rc = db_exec(c, "SELECT yoban.yoban_grant_login($1, $2::text[])", 2, daemon, NULL, err)) < 0)
		goto out;
	rc = 0;
out:
	free(admin);
	db_close(c);
	return rc;
}

int main(void)
{
	struct yb_err err = { 0 };
	int failed = 1;
	if (setup_cluster(&err) < 0) {
		fprintf(stderr, "test_db: cannot set up a PostgreSQL cluster: %s\n", err.msg);
		goto out;
	}
	SRunner *sr = srunner_create(db_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
out:
	if (state_dir[0]) {
		if (db_cluster_exists(state_dir) && db_cluster_stop(state_dir, NULL, &err) < 0 &&
		    err.code != YB_ENOENT) {
			fprintf(stderr, "test_db: %s\n", err.msg);
			failed = 1;
		}
		remove_tree(state_dir);
	}
	free(conn_super);
	free(conn_daemon);
	free(conn_me);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
