/*
 * cmd_db.c: `yoban db migrate|status|start|stop`: the database's schema and, when Yoban runs its
 * own embedded cluster, that cluster's life.
 *
 * One idea: the database is the one yoban.yaml names (database:), or, when it names none, the
 * embedded cluster under state_dir. For an embedded cluster these commands log in as its
 * superuser when peer authentication lets them (the cluster's creator and its server user may),
 * because a migration creates roles; against a production server they use the connection string
 * as written, so the role that migrates is whatever the operator chose (PGUSER works too).
 */
#include "cli.h"
#include "db_admin.h"
#include "json.h"
#include "runbook.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern const struct yb_cmd cmd_db;

struct target {
	char *conninfo;  /* as configured */
	char *state_dir; /* the embedded cluster's folder, or NULL for an outside server */
};

static void target_release(struct target *t)
{
	free(t->conninfo);
	free(t->state_dir);
}

/* Exit status on failure: 2 when --config names nothing, 1 otherwise. */
static int resolve(const char *config, const char *database, struct target *t)
{
	struct yb_err err = { 0 };
	char *path = NULL;
	struct rb_site *site = NULL;
	int status = 0;
	memset(t, 0, sizeof(*t));
	if (database) {
		t->conninfo = xstrdup(database);
		return 0;
	}
	if (rb_config_find(config, NULL, &path, &err) < 0) {
		cli_error("%s", err.msg);
		return YB_EXIT_USAGE;
	}
	if (rb_site_load(path, &site, &err) < 0) {
		cli_error("%s", err.msg);
		status = YB_EXIT_FAIL;
		goto out;
	}
	bool embedded = false;
	if (db_site_conninfo(site->database, site->state_dir, NULL, &t->conninfo, &embedded, &err) < 0) {
		cli_error("%s: %s", path ? path : "the default config", err.msg);
		status = YB_EXIT_FAIL;
		goto out;
	}
	if (embedded)
		t->state_dir = xstrdup(site->state_dir);
out:
	rb_site_free(site);
	free(path);
	return status;
}

/* Connects; for the embedded cluster, as its superuser when the map allows it. */
static int connect_target(const struct target *t, struct db_conn **out, struct yb_err *err)
{
	char *user = NULL;
	if (t->state_dir) {
		/* Only the cluster's owner (or root) may ask pg_ctl; anyone else just tries. */
		bool running = true;
		db_cluster_status(t->state_dir, NULL, &running, NULL, NULL);
		if (!running)
			return yb_err_set(err, YB_ECLOSED,
					  "the embedded database under '%s' is not running (start it with "
					  "'yoban db start')",
					  t->state_dir);
		if (db_conninfo_get(t->conninfo, "user", &user, NULL) < 0) {
			char *as_super = NULL;
			if (db_conninfo_with(t->conninfo, "user", DB_CLUSTER_SUPERUSER, &as_super, NULL) == 0 &&
			    db_connect(as_super, out, NULL) == 0) {
				free(as_super);
				return 0;
			}
			free(as_super);
		}
		free(user);
	}
	return db_connect(t->conninfo, out, err);
}

static void print_applied(const struct db_migration *m, void *arg)
{
	printf("applied %03d %s\n", m->version, m->name);
	fflush(stdout);
}

static int do_migrate(const struct target *t)
{
	struct yb_err err = { 0 };
	struct db_conn *c = NULL;
	const struct db_migration *m;
	size_t n;
	bool owned = false;
	int status = YB_EXIT_FAIL;
	if (db_migrations_default(&m, &n, &owned, &err) < 0 || connect_target(t, &c, &err) < 0) {
		cli_error("%s", err.msg);
		goto out;
	}
	int applied = db_migrate(c, m, n, print_applied, NULL, &err);
	if (applied < 0) {
		cli_error("%s", err.msg);
		goto out;
	}
	if (applied == 0)
		printf("the database is up to date: %zu migrations applied, nothing to do\n", n);
	else
		printf("the database is at migration %03d (%d applied now)\n", m[n - 1].version, applied);
	status = YB_EXIT_OK;
out:
	db_close(c);
	if (owned)
		db_migrations_free((struct db_migration *)m, n);
	return status;
}

static const char *row_state(const struct db_migration_row *r)
{
	return !r->known ? "unknown" : r->changed ? "changed" : r->applied ? "applied" : "pending";
}

static void print_status_json(const struct target *t, const char *cluster, pid_t pid,
			      const struct db_migration_status *st)
{
	struct yb_json *root = yb_json_object(), *rows = yb_json_array();
	yb_json_set(root, "database", yb_json_str(t->conninfo));
	if (t->state_dir) {
		struct yb_json *cl = yb_json_object();
		yb_json_set(cl, "state_dir", yb_json_str(t->state_dir));
		yb_json_set(cl, "state", yb_json_str(cluster));
		yb_json_set(cl, "pid", pid > 0 ? yb_json_int(pid) : yb_json_null());
		yb_json_set(root, "cluster", cl);
	}
	for (size_t i = 0; st && i < st->n; i++) {
		const struct db_migration_row *r = &st->rows[i];
		struct yb_json *o = yb_json_object();
		yb_json_set(o, "version", yb_json_int(r->version));
		yb_json_set(o, "name", yb_json_str(r->name));
		yb_json_set(o, "state", yb_json_str(row_state(r)));
		yb_json_set(o, "sha256", r->known ? yb_json_str(r->sha256) : yb_json_null());
		yb_json_set(o, "applied_at", yb_json_str(r->applied_at));
		yb_json_set(o, "applied_by", yb_json_str(r->applied_by));
		yb_json_push(rows, o);
	}
	yb_json_set(root, "migrations", rows);
	if (st) {
		yb_json_set(root, "applied", yb_json_int((int64_t)(st->n_applied - st->n_unknown)));
		yb_json_set(root, "pending", yb_json_int((int64_t)st->n_pending));
		yb_json_set(root, "unknown", yb_json_int((int64_t)st->n_unknown));
		yb_json_set(root, "changed", yb_json_int((int64_t)st->n_changed));
	}
	yb_json_print(root, YB_JSON_PRETTY);
	yb_json_free(root);
}

static int do_status(const struct target *t, bool json)
{
	struct yb_err err = { 0 };
	struct db_conn *c = NULL;
	struct db_migration_status st = { 0 };
	const struct db_migration *m;
	size_t n;
	bool owned = false;
	int status = YB_EXIT_FAIL;
	const char *cluster = NULL;
	pid_t pid = 0;

	if (!json)
		printf("database: %s\n", t->conninfo);
	if (t->state_dir) {
		bool running = false;
		struct yb_err cerr = { 0 };
		if (db_cluster_status(t->state_dir, NULL, &running, &pid, &cerr) < 0)
			cluster = "unknown";
		else
			cluster = running ? "running" : "stopped";
		if (json)
			;
		else if (!strcmp(cluster, "unknown"))
			printf("cluster:  embedded under %s (%s)\n", t->state_dir, cerr.msg);
		else if (running)
			printf("cluster:  embedded under %s, running (pid %ld)\n", t->state_dir, (long)pid);
		else
			printf("cluster:  embedded under %s, stopped\n", t->state_dir);
		struct yb_err note = { 0 };
		if (!json && db_cluster_stop_note(t->state_dir, &note) < 0)
			printf("          %s\n", note.msg);
	}
	if (db_migrations_default(&m, &n, &owned, &err) < 0 || connect_target(t, &c, &err) < 0 ||
	    db_migration_status(c, m, n, &st, &err) < 0) {
		if (json)
			print_status_json(t, cluster, pid, NULL);
		cli_error("%s", err.msg);
		goto out;
	}
	if (json) {
		print_status_json(t, cluster, pid, &st);
		status = st.n_unknown || st.n_changed ? YB_EXIT_FAIL : YB_EXIT_OK;
		goto out;
	}
	printf("%-4s %-24s %-9s %-32s %s\n", "VER", "NAME", "STATE", "APPLIED AT", "BY");
	for (size_t i = 0; i < st.n; i++) {
		const struct db_migration_row *r = &st.rows[i];
		printf("%03d  %-24s %-9s %-32s %s\n", r->version, r->name, row_state(r),
		       r->applied_at ? r->applied_at : "-", r->applied_by ? r->applied_by : "-");
	}
	printf("%zu applied, %zu pending", st.n_applied - st.n_unknown, st.n_pending);
	if (st.n_unknown)
		printf(", %zu unknown to this yoban", st.n_unknown);
	if (st.n_changed)
		printf(", %zu changed since applied", st.n_changed);
	printf("\n");
	if (st.n_unknown) {
		cli_error("the database is newer than this yoban (it has migrations this binary does "
			  "not know): upgrade yoban");
		goto out;
	}
	if (st.n_changed) {
		cli_error("applied migrations were edited afterwards: restore their files");
		goto out;
	}
	if (st.n_pending)
		printf("run 'yoban db migrate' to apply the pending migrations\n");
	status = YB_EXIT_OK;
out:
	db_migration_status_release(&st);
	db_close(c);
	if (owned)
		db_migrations_free((struct db_migration *)m, n);
	return status;
}

static int do_cluster(const struct target *t, bool start)
{
	struct yb_err err = { 0 };
	if (!t->state_dir) {
		cli_error("the database '%s' is not an embedded cluster: start and stop it the way its "
			  "server is run (systemctl, pg_ctl)",
			  t->conninfo);
		return YB_EXIT_FAIL;
	}
	int rc = start ? db_cluster_start(t->state_dir, NULL, &err)
		       : db_cluster_stop_held(t->state_dir, NULL, &err);
	const char *stays = start ? "" : " (and stays stopped, also for a running yoband, until "
					 "'yoban db start')";
	if (rc == YB_EEXIST || rc == YB_ENOENT) {
		if (rc == YB_ENOENT && !db_cluster_exists(t->state_dir)) {
			cli_error("%s", err.msg);
			return YB_EXIT_FAIL;
		}
		printf("%s%s\n", err.msg, stays); /* already in the state asked for */
		return YB_EXIT_OK;
	}
	if (rc < 0) {
		cli_error("%s", err.msg);
		return YB_EXIT_FAIL;
	}
	printf("the database cluster under %s is %s%s\n", t->state_dir, start ? "running" : "stopped",
	       stays);
	return YB_EXIT_OK;
}

static int run_db(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "database", required_argument, NULL, 'd' },
		{ "format", required_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *database = NULL;
	bool json = false;
	int opt;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+c:d:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': config = optarg; break;
		case 'd': database = optarg; break;
		case 'F':
			if (cli_parse_format(&cmd_db, optarg, &json) != 0)
				return YB_EXIT_USAGE;
			break;
		default: return cli_usage_error(&cmd_db, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage_error(&cmd_db, "missing subcommand (migrate, status, start or stop)");
	const char *sub = argv[optind++];
	/* Options may also follow the subcommand: `yoban db migrate --config FILE`. */
	while ((opt = getopt_long(argc, argv, "+c:d:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': config = optarg; break;
		case 'd': database = optarg; break;
		case 'F':
			if (cli_parse_format(&cmd_db, optarg, &json) != 0)
				return YB_EXIT_USAGE;
			break;
		default: return cli_usage_error(&cmd_db, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error(&cmd_db, "unexpected argument '%s'", argv[optind]);
	bool cluster_cmd = !strcmp(sub, "start") || !strcmp(sub, "stop");
	if (strcmp(sub, "migrate") && strcmp(sub, "status") && !cluster_cmd)
		return cli_usage_error(&cmd_db, "unknown subcommand '%s'", sub);
	if (json && strcmp(sub, "status"))
		return cli_usage_error(&cmd_db, "--format is for 'db status'");
	if (cluster_cmd && database)
		return cli_usage_error(&cmd_db, "'db %s' takes the embedded cluster from the config, "
						"not --database", sub);

	struct target t;
	int status = resolve(config, database, &t);
	if (status != 0)
		return status;
	if (!strcmp(sub, "migrate"))
		status = do_migrate(&t);
	else if (!strcmp(sub, "status"))
		status = do_status(&t, json);
	else
		status = do_cluster(&t, !strcmp(sub, "start"));
	target_release(&t);
	return status;
}

const struct yb_cmd cmd_db = {
	.name = "db",
	.summary = "migrate the database, show its migrations, start or stop the embedded one",
	.help = "usage: yoban db migrate|status|start|stop [--config FILE] [--database CONNINFO]\n"
		"       yoban db status [--format text|json] ...\n"
		"\n"
		"  migrate   apply the schema migrations this yoban carries that the database lacks,\n"
		"            each once, in its own transaction; refuses a database newer than this\n"
		"            binary and an applied migration whose file changed\n"
		"  status    list the migrations: applied (when, by whom), pending, unknown, changed\n"
		"  start     start the embedded cluster (state_dir/pg) and wait until it is ready\n"
		"  stop      stop the embedded cluster (fast shutdown); it stays stopped, even for a\n"
		"            running yoband, until 'db start' (state_dir/db-stopped says by whom)\n"
		"\n"
		"The database is the one yoban.yaml names (database:), else the embedded cluster under\n"
		"its state_dir. The config is --config FILE, else $YOBAN_CONFIG, else\n"
		"/etc/yoban/yoban.yaml. --database CONNINFO names a server directly (libpq syntax;\n"
		"PGUSER and the other PG* variables apply). Migrating needs a role that may create\n"
		"roles and schemas: a superuser (see docs/database.md).\n"
		"\n"
		"Exit status: 0 done, 1 refused or failed, 2 usage.\n",
	.run = run_db,
};
