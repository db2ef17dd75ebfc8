/*
 * db_admin.h: the scheduler's administration of its database: the migrations compiled into the
 * binary (db_migrate.c) and the embedded cluster (db_cluster.c). Connections and statements are
 * common/db.h.
 */
#ifndef YB_DB_ADMIN_H
#define YB_DB_ADMIN_H

#include "db.h"

#include <sys/types.h>

/* ---- migrations (db_migrate.c) ----
 * schemas/sql/NNN_name.sql are compiled into the binary (db_migrations_builtin). Each is applied
 * once, in its own transaction, and recorded in yoban.schema_migrations with the SHA-256 of its
 * text; a recorded migration this binary does not know (the database is newer) or whose text
 * changed is refused before anything is applied. */
struct db_migration {
	int version;
	const char *name; /* "roles" for 001_roles.sql */
	const char *sql;
	size_t len;
};

const struct db_migration *db_migrations_builtin(size_t *n);
/* Reads NNN_name.sql files from dir (development: $YOBAN_SQL_DIR), sorted by version; the
 * caller frees with db_migrations_free. Two files with one version are refused. */
int db_migrations_load_dir(const char *dir, struct db_migration **out, size_t *n,
			   struct yb_err *err);
void db_migrations_free(struct db_migration *m, size_t n);
/* $YOBAN_SQL_DIR when set, else the built-in set. *owned tells whether to free the result. */
int db_migrations_default(const struct db_migration **out, size_t *n, bool *owned,
			  struct yb_err *err);

struct db_migration_row {
	int version;
	char *name;
	char sha256[65];      /* of this binary's file; "" when unknown to the binary */
	bool applied;
	char *applied_at;     /* NULL when pending */
	char *applied_by;
	bool known;           /* this binary has the migration */
	bool changed;         /* applied with another digest than the binary's file */
};
struct db_migration_status {
	struct db_migration_row *rows; /* by version: the binary's and the database's, merged */
	size_t n;
	size_t n_applied, n_pending, n_unknown, n_changed;
	bool initialised;     /* the database has yoban.schema_migrations */
};

/* Compares the database with the migrations m[0..n). Reads only. */
int db_migration_status(struct db_conn *c, const struct db_migration *m, size_t n,
			struct db_migration_status *out, struct yb_err *err);
void db_migration_status_release(struct db_migration_status *st);
/* Applies what is pending, each in its own transaction under an advisory lock (two migrators
 * serialise). on_applied (may be NULL) is told of each. Returns the number applied, or an error:
 * YB_ERANGE when the database is newer than m, YB_EINVAL when an applied file changed. */
int db_migrate(struct db_conn *c, const struct db_migration *m, size_t n,
	       void (*on_applied)(const struct db_migration *mig, void *arg), void *arg,
	       struct yb_err *err);
/* For yoband at start: 0 when the database is exactly at m (nothing pending, unknown or
 * changed), else an error that says what to run. */
int db_schema_check(struct db_conn *c, const struct db_migration *m, size_t n, struct yb_err *err);

/* ---- the embedded cluster (db_cluster.c) ----
 * STATE/pg the data folder, STATE/run the socket folder (no TCP: listen_addresses = ''),
 * STATE/pg/server.log the server's log. Run as root, the server runs as an unprivileged system
 * user (default "yoban", created with useradd --system when absent); otherwise as the caller.
 * Authentication is peer over the socket, with a map (pg_ident.conf) that lets the cluster's
 * creator and the server's OS user log in as the superuser and as the daemon's role, and
 * everyone else as their own name only, which is never "postgres" or "yoband".
 * These calls block (pg_ctl waits for the server) and wait for their own child processes: call
 * them before a loop that reaps every child with waitpid(-1, ...) or ignores SIGCHLD. */
struct db_cluster_opts {
	const char *bin_dir;     /* initdb/pg_ctl folder; NULL: $YOBAN_PG_BINDIR, then a search */
	const char *server_user; /* OS user for the server when run as root; NULL: "yoban" */
	const char *admin_user;  /* OS user allowed in as the superuser; NULL: the caller's */
};

/* The conninfo of the cluster's database: "host=STATE/run dbname=yoban" (quoted as needed). */
char *db_cluster_conninfo(const char *state_dir, const char *dbname);
/* True when STATE/pg holds a cluster (PG_VERSION exists). */
bool db_cluster_exists(const char *state_dir);
/* initdb into STATE/pg, configured as above; YB_EEXIST when there is one already. */
int db_cluster_create(const char *state_dir, const struct db_cluster_opts *o, struct yb_err *err);
/* pg_ctl start, waiting until it accepts connections; YB_EEXIST when it was already running. */
int db_cluster_start(const char *state_dir, const struct db_cluster_opts *o, struct yb_err *err);
/* pg_ctl stop -m fast, waiting; YB_ENOENT when it was not running. */
int db_cluster_stop(const char *state_dir, const struct db_cluster_opts *o, struct yb_err *err);
/* 0 and *running; YB_ENOENT when there is no cluster under state_dir. */
int db_cluster_status(const char *state_dir, const struct db_cluster_opts *o, bool *running,
		      pid_t *pid, struct yb_err *err);
/* The database a site config means: its `database:` string, or (database NULL) the embedded
 * cluster under state_dir. *embedded tells whether that is the embedded cluster (also when
 * database names STATE/run as its host, as `yoban init` writes it): then yoband should call
 * db_cluster_ensure_running first. login (may be NULL) becomes the user when the cluster is the
 * embedded one and the string names no user: yoband passes DB_DAEMON_LOGIN. */
int db_site_conninfo(const char *database, const char *state_dir, const char *login, char **out,
		     bool *embedded, struct yb_err *err);
/* For yoband at start and on reconnect: starts the cluster unless it runs; 0 either way. But
 * YB_ECLOSED, starting nothing, when `yoban db stop` stopped it on purpose (db_cluster_stop_held
 * left STATE/db-stopped); err then says when, by whom, and that 'yoban db start' ends it. */
int db_cluster_ensure_running(const char *state_dir, const struct db_cluster_opts *o,
			      struct yb_err *err);

#define DB_CLUSTER_STOP_MARKER "db-stopped"
/* `yoban db stop`: records the stop in STATE/db-stopped (stopped_at, stopped_by) first, then
 * stops the server (YB_ENOENT when it was not running: the record stays). db_cluster_start
 * removes the record. Other stops (init --stop) leave none: yoband may start those again. */
int db_cluster_stop_held(const char *state_dir, const struct db_cluster_opts *o, struct yb_err *err);
/* YB_ECLOSED with ensure_running's message when the record is there, else 0. */
int db_cluster_stop_note(const char *state_dir, struct yb_err *err);

/* Rewrites STATE/pg/pg_ident.conf as db_cluster_create writes it (the creator: o->admin_user or
 * the caller) and makes a running server read it again: `yoban init --force` repairs an older
 * cluster's map with it. */
int db_cluster_write_map(const char *state_dir, const struct db_cluster_opts *o, struct yb_err *err);

/* Run as root (else 0 at once): YB_EPERM unless the state folder, when it exists, and each of
 * its existing parents belong to root and no one else may write them (a sticky parent such as
 * /tmp may be world-writable). The message names the folder, its owner and mode, and the way
 * out. db_cluster_create calls it; `yoban init` calls it first. */
int db_state_dir_check(const char *state_dir, struct yb_err *err);

#endif
