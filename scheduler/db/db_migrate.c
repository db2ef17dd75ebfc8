/*
 * db_migrate.c: applies schemas/sql/NNN_name.sql to a database, each exactly once.
 *
 * One idea: the migrations a binary applies are the ones it was built with (embedded by
 * schemas/sql/embed.cmake), and the database remembers each applied file by version, name and
 * SHA-256. So a database can be refused before anything is touched when it is newer than the
 * binary (it records a version the binary lacks) or when an applied file was edited afterwards.
 * Each migration runs in its own transaction that also takes a transaction-scoped advisory lock,
 * so two `yoban db migrate` at once serialise and the second finds nothing left to do.
 */
#include "db_admin.h"

#include "digest.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct db_migration db_builtin_migrations[];
extern const size_t db_builtin_migrations_n;

#define MIGRATION_MAX_BYTES (4u << 20)
/* pg_advisory_xact_lock key: "yobanmig" as a big-endian int64. */
#define MIGRATE_LOCK_KEY "8750648497766148455"

static const char bootstrap_sql[] =
	"SET LOCAL search_path TO pg_catalog, pg_temp;\n"
	"CREATE SCHEMA IF NOT EXISTS yoban;\n"
	"CREATE TABLE IF NOT EXISTS yoban.schema_migrations (\n"
	"  version integer PRIMARY KEY CHECK (version > 0),\n"
	"  name text NOT NULL,\n"
	"  sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),\n"
	"  applied_at timestamptz NOT NULL DEFAULT now(),\n"
	"  applied_by text NOT NULL DEFAULT session_user\n"
	");\n";

const struct db_migration *db_migrations_builtin(size_t *n)
{
	*n = db_builtin_migrations_n;
	return db_builtin_migrations;
}

/* "012_add_things.sql" -> version 12, name "add_things"; false when the name is not of that form. */
static bool parse_file_name(const char *file, int *version, char **name)
{
	size_t len = strlen(file);
	if (len < 9 || strcmp(file + len - 4, ".sql") != 0 || file[3] != '_')
		return false;
	for (int i = 0; i < 3; i++)
		if (file[i] < '0' || file[i] > '9')
			return false;
	for (size_t i = 4; i < len - 4; i++) {
		char ch = file[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'))
			return false;
	}
	int v = (file[0] - '0') * 100 + (file[1] - '0') * 10 + (file[2] - '0');
	if (v == 0)
		return false;
	*version = v;
	*name = xstrndup(file + 4, len - 8);
	return true;
}

static int cmp_migration(const void *a, const void *b)
{
	const struct db_migration *x = a, *y = b;
	return (x->version > y->version) - (x->version < y->version);
}

void db_migrations_free(struct db_migration *m, size_t n)
{
	if (!m)
		return;
	for (size_t i = 0; i < n; i++) {
		free((char *)m[i].name);
		free((char *)m[i].sql);
	}
	free(m);
}

int db_migrations_load_dir(const char *dir, struct db_migration **out, size_t *n,
			   struct yb_err *err)
{
	struct db_migration *list = NULL;
	size_t count = 0, cap = 0;
	int rc = 0;
	DIR *d = opendir(dir);
	if (!d)
		return yb_err_set(err, YB_ENOENT, "cannot open the migrations folder '%s'", dir);
	struct dirent *e;
	while ((e = readdir(d))) {
		int version;
		char *name;
		if (!parse_file_name(e->d_name, &version, &name))
			continue;
		char *path = xasprintf("%s/%s", dir, e->d_name);
		char *text;
		size_t len;
		rc = yb_read_regular(path, MIGRATION_MAX_BYTES, 0, &text, &len, err);
		free(path);
		if (rc < 0) {
			free(name);
			goto out;
		}
		if (count == cap) {
			cap = cap ? cap * 2 : 16;
			list = xrealloc(list, cap * sizeof(*list));
		}
		list[count++] = (struct db_migration){ version, name, text, len };
	}
	qsort(list, count, sizeof(*list), cmp_migration);
	for (size_t i = 1; i < count; i++) {
		if (list[i].version == list[i - 1].version) {
			rc = yb_err_set(err, YB_EINVAL,
					"'%s' has two migrations numbered %03d ('%s' and '%s'): renumber one",
					dir, list[i].version, list[i - 1].name, list[i].name);
			goto out;
		}
	}
	if (count == 0) {
		rc = yb_err_set(err, YB_ENOENT, "no NNN_name.sql files in '%s'", dir);
		goto out;
	}
	*out = list;
	*n = count;
	list = NULL;
out:
	closedir(d);
	db_migrations_free(list, count);
	return rc;
}

int db_migrations_default(const struct db_migration **out, size_t *n, bool *owned,
			  struct yb_err *err)
{
	const char *dir = getenv("YOBAN_SQL_DIR");
	if (dir && *dir) {
		struct db_migration *m;
		int rc = db_migrations_load_dir(dir, &m, n, err);
		if (rc < 0)
			return yb_err_prefix(err, "YOBAN_SQL_DIR");
		*out = m;
		*owned = true;
		return 0;
	}
	*out = db_migrations_builtin(n);
	*owned = false;
	return 0;
}

void db_migration_status_release(struct db_migration_status *st)
{
	for (size_t i = 0; i < st->n; i++) {
		free(st->rows[i].name);
		free(st->rows[i].applied_at);
		free(st->rows[i].applied_by);
	}
	free(st->rows);
	memset(st, 0, sizeof(*st));
}

static struct db_migration_row *status_row(struct db_migration_status *st, size_t *cap, int version)
{
	for (size_t i = 0; i < st->n; i++)
		if (st->rows[i].version == version)
			return &st->rows[i];
	if (st->n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		st->rows = xrealloc(st->rows, *cap * sizeof(*st->rows));
	}
	struct db_migration_row *row = &st->rows[st->n++];
	memset(row, 0, sizeof(*row));
	row->version = version;
	return row;
}

static int cmp_row(const void *a, const void *b)
{
	const struct db_migration_row *x = a, *y = b;
	return (x->version > y->version) - (x->version < y->version);
}

int db_migration_status(struct db_conn *c, const struct db_migration *m, size_t n,
			struct db_migration_status *out, struct yb_err *err)
{
	struct db_migration_status st = { 0 };
	struct db_result *r = NULL;
	size_t cap = 0;
	char *exists = NULL;
	int rc;

	for (size_t i = 0; i < n; i++) {
		struct db_migration_row *row = status_row(&st, &cap, m[i].version);
		row->name = xstrdup(m[i].name);
		row->known = true;
		yb_sha256_hex(m[i].sql, m[i].len, row->sha256);
	}
	rc = db_query_value(c, "SELECT to_regclass('yoban.schema_migrations') IS NOT NULL", 0, NULL,
			    &exists, err);
	if (rc < 0)
		goto out;
	st.initialised = exists && !strcmp(exists, "t");
	if (st.initialised) {
		rc = db_exec(c,
			     "SELECT version, name, sha256, applied_at, applied_by"
			     " FROM yoban.schema_migrations ORDER BY version",
			     0, NULL, &r, err);
		if (rc < 0)
			goto out;
		for (int i = 0; i < db_result_rows(r); i++) {
			int version = atoi(db_result_get(r, i, 0));
			const char *name = db_result_get(r, i, 1);
			const char *digest = db_result_get(r, i, 2);
			struct db_migration_row *row = status_row(&st, &cap, version);
			row->applied = true;
			row->applied_at = xstrdup(db_result_get(r, i, 3));
			row->applied_by = xstrdup(db_result_get(r, i, 4));
			if (!row->known)
				row->name = xstrdup(name);
			else if (strcmp(row->sha256, digest) != 0 || strcmp(row->name, name) != 0)
				row->changed = true;
		}
	}
	qsort(st.rows, st.n, sizeof(*st.rows), cmp_row);
	for (size_t i = 0; i < st.n; i++) {
		struct db_migration_row *row = &st.rows[i];
		st.n_applied += row->applied;
		st.n_pending += !row->applied;
		st.n_unknown += !row->known;
		st.n_changed += row->changed;
	}
	*out = st;
	memset(&st, 0, sizeof(st));
out:
	free(exists);
	db_result_free(r);
	db_migration_status_release(&st);
	return rc;
}

/* The refusals, worded for the person who must decide what to do. */
static int refuse_if_inconsistent(const struct db_migration_status *st, struct yb_err *err)
{
	for (size_t i = 0; i < st->n; i++) {
		const struct db_migration_row *row = &st->rows[i];
		if (!row->known)
			return yb_err_set(err, YB_ERANGE,
					  "the database is newer than this yoban: it has migration %03d '%s' "
					  "(applied %s by %s), which this binary does not know; run the yoban "
					  "that migrated it, or upgrade this one",
					  row->version, row->name, row->applied_at, row->applied_by);
	}
	for (size_t i = 0; i < st->n; i++) {
		const struct db_migration_row *row = &st->rows[i];
		if (row->changed)
			return yb_err_set(err, YB_EINVAL,
					  "migration %03d '%s' was applied on %s but its file has changed "
					  "since (sha256 now %.12s...): an applied migration is never edited; "
					  "restore the file and put the change in a new migration",
					  row->version, row->name, row->applied_at, row->sha256);
	}
	return 0;
}

static int begin_locked(struct db_conn *c, struct yb_err *err)
{
	int rc = db_exec(c, "BEGIN", 0, NULL, NULL, err);
	if (rc < 0)
		return rc;
	const char *key[] = { MIGRATE_LOCK_KEY };
	return db_exec(c, "SELECT pg_advisory_xact_lock($1::bigint)", 1, key, NULL, err);
}

static void rollback(struct db_conn *c)
{
	db_exec(c, "ROLLBACK", 0, NULL, NULL, NULL);
}

int db_migrate(struct db_conn *c, const struct db_migration *m, size_t n,
	       void (*on_applied)(const struct db_migration *mig, void *arg), void *arg,
	       struct yb_err *err)
{
	int applied = 0;
	int rc;

	for (size_t i = 1; i < n; i++)
		if (m[i].version <= m[i - 1].version)
			BUG("migrations out of order: %d after %d", m[i].version, m[i - 1].version);
	/* sha256(), EXECUTE FUNCTION in triggers: PostgreSQL 11 and later. */
	int server = db_server_version(c);
	if (server < 110000)
		return yb_err_set(err, YB_EINVAL,
				  "the server is PostgreSQL %d.%d; Yoban's schema needs 11 or newer",
				  server / 10000, server % 10000 / 100);

	if ((rc = begin_locked(c, err)) < 0 || (rc = db_exec_script(c, bootstrap_sql, err)) < 0 ||
	    (rc = db_exec(c, "COMMIT", 0, NULL, NULL, err)) < 0) {
		rollback(c);
		return yb_err_prefix(err, "preparing yoban.schema_migrations");
	}

	for (;;) {
		struct db_migration_status st;
		const struct db_migration *next = NULL;
		if ((rc = begin_locked(c, err)) < 0)
			goto fail;
		if ((rc = db_migration_status(c, m, n, &st, err)) < 0)
			goto fail;
		rc = refuse_if_inconsistent(&st, err);
		for (size_t i = 0; rc == 0 && i < n && !next; i++)
			for (size_t j = 0; j < st.n; j++)
				if (st.rows[j].version == m[i].version && !st.rows[j].applied)
					next = &m[i];
		db_migration_status_release(&st);
		if (rc < 0)
			goto fail;
		if (!next) {
			if ((rc = db_exec(c, "COMMIT", 0, NULL, NULL, err)) < 0)
				goto fail;
			return applied;
		}

		char digest[YB_SHA256_HEX_LEN];
		char version[16];
		yb_sha256_hex(next->sql, next->len, digest);
		snprintf(version, sizeof(version), "%d", next->version);
		const char *record[] = { version, next->name, digest };
		/* A file's text is one string for PostgreSQL: a NUL inside would cut it short. */
		if (strlen(next->sql) != next->len) {
			rc = yb_err_set(err, YB_EINVAL, "migration %03d '%s' contains a NUL byte",
					next->version, next->name);
			goto fail;
		}
		if ((rc = db_exec(c, "SET LOCAL search_path TO pg_catalog, pg_temp", 0, NULL, NULL,
				  err)) < 0 ||
		    (rc = db_exec(c, "SET LOCAL client_min_messages TO warning", 0, NULL, NULL, err)) < 0)
			goto fail;
		if ((rc = db_exec_script(c, next->sql, err)) < 0) {
			yb_err_prefix(err, "migration %03d '%s' failed and was rolled back",
				      next->version, next->name);
			goto fail;
		}
		if ((rc = db_exec(c, "INSERT INTO yoban.schema_migrations (version, name, sha256)"
				     " VALUES ($1::integer, $2, $3)",
				  3, record, NULL, err)) < 0 ||
		    (rc = db_exec(c, "COMMIT", 0, NULL, NULL, err)) < 0)
			goto fail;
		applied++;
		if (on_applied)
			on_applied(next, arg);
	}
fail:
	rollback(c);
	return rc;
}

int db_schema_check(struct db_conn *c, const struct db_migration *m, size_t n, struct yb_err *err)
{
	struct db_migration_status st;
	int rc = db_migration_status(c, m, n, &st, err);
	if (rc < 0)
		return rc;
	if (!st.initialised)
		rc = yb_err_set(err, YB_ENOENT,
				"the database has no yoban schema yet (run 'yoban db migrate')");
	else if ((rc = refuse_if_inconsistent(&st, err)) < 0)
		;
	else if (st.n_pending > 0) {
		int first = 0;
		for (size_t i = 0; i < st.n && !first; i++)
			if (!st.rows[i].applied)
				first = st.rows[i].version;
		rc = yb_err_set(err, YB_ERANGE,
				"the database lacks %zu migration(s) this yoban needs, from %03d "
				"(run 'yoban db migrate')",
				st.n_pending, first);
	}
	db_migration_status_release(&st);
	return rc;
}
