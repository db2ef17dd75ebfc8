/*
 * cmd_init.c: `yoban init --state-dir DIR`: one command from nothing to a working system on one
 * machine: a private PostgreSQL cluster under DIR/pg (socket in DIR/run, no TCP), the database
 * "yoban" migrated, the caller's login role made a yoban_admin and yoban_operator, a login for the
 * daemon, and DIR/yoban.yaml pointing at it all. The cluster is left running.
 *
 * One idea: every step checks what is already there, so `--force` on a half-made or complete
 * folder finishes the job without ever deleting data: an existing cluster is kept and started,
 * an existing database is kept and migrated, and only yoban.yaml is rewritten.
 */
#include "cli.h"
#include "db_admin.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"

extern const struct yb_cmd cmd_init;

/* "abc" -> "\"abc\"" with YAML double-quoted escapes: any value is safe in yoban.yaml. */
static void yaml_quoted(struct yb_buf *b, const char *s)
{
	yb_buf_append(b, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			yb_buf_appendf(b, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			yb_buf_appendf(b, "\\x%02x", *p);
		else
			yb_buf_append(b, p, 1);
	}
	yb_buf_append(b, "\"", 1);
}

static char *absolute(const char *path)
{
	if (path[0] == '/')
		return xstrdup(path);
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd)))
		return xstrdup(path);
	return xasprintf("%s/%s", cwd, path);
}

static int write_config(const char *config_path, const char *state_dir, const char *conninfo,
			const char *runbooks, const char *inventory, struct yb_err *err)
{
	struct yb_buf b;
	yb_buf_init(&b, 0);
	yb_buf_appendf(&b, "# yoban.yaml: written by `yoban init`; edit freely (see docs/database.md).\n"
			   "# database: the embedded cluster under state_dir (start/stop: yoban db start|stop).\n"
			   "database: ");
	yaml_quoted(&b, conninfo);
	yb_buf_appendf(&b, "\nstate_dir: ");
	yaml_quoted(&b, state_dir);
	yb_buf_appendf(&b, "\nrunbooks: ");
	yaml_quoted(&b, runbooks);
	if (inventory) {
		yb_buf_appendf(&b, "\ninventory: ");
		yaml_quoted(&b, inventory);
	}
	yb_buf_append(&b, "\n", 1);
	int rc = yb_write_file_atomic(config_path, b.data, b.len, 0644, err);
	yb_buf_release(&b);
	return rc;
}

static int create_database(const char *state_dir, bool *created, struct yb_err *err)
{
	char *base = db_cluster_conninfo(state_dir, "postgres");
	char *conninfo = NULL;
	struct db_conn *c = NULL;
	char *found = NULL;
	int rc = db_conninfo_with(base, "user", DB_CLUSTER_SUPERUSER, &conninfo, err);
	if (rc < 0 || (rc = db_connect(conninfo, &c, err)) < 0)
		goto out;
	const char *name[] = { DB_CLUSTER_DBNAME };
	rc = db_query_value(c, "SELECT count(*) FROM pg_database WHERE datname = $1", 1, name, &found,
			    err);
	if (rc < 0)
		goto out;
	*created = !strcmp(found, "0");
	if (*created) /* a fixed name: CREATE DATABASE takes no parameters */
		rc = db_exec(c, "CREATE DATABASE " DB_CLUSTER_DBNAME " ENCODING 'UTF8' TEMPLATE template0",
			     0, NULL, NULL, err);
out:
	free(found);
	db_close(c);
	free(conninfo);
	free(base);
	return rc;
}

static void print_applied(const struct db_migration *m, void *arg)
{
	printf("  applied migration %03d %s\n", m->version, m->name);
}

static int superuser_connect(const char *state_dir, struct db_conn **out, struct yb_err *err)
{
	char *base = db_cluster_conninfo(state_dir, DB_CLUSTER_DBNAME);
	char *conninfo = NULL;
	int rc = db_conninfo_with(base, "user", DB_CLUSTER_SUPERUSER, &conninfo, err);
	if (rc == 0)
		rc = db_connect(conninfo, out, err);
	free(conninfo);
	free(base);
	return rc;
}

static int grant_login(const char *state_dir, const char *login, struct yb_err *err)
{
	struct db_conn *c = NULL;
	const char *args[] = { login, "{yoban_admin,yoban_operator}" };
	int rc = superuser_connect(state_dir, &c, err);
	if (rc == 0)
		rc = db_exec(c, "SELECT yoban.yoban_grant_login($1, $2::text[])", 2, args, NULL, err);
	db_close(c);
	return rc;
}

/* Migrates, then the logins: the caller (admin, operator) and the daemon. */
static int prepare_database(const char *state_dir, const char *login, struct yb_err *err)
{
	struct db_conn *c = NULL;
	const struct db_migration *m = NULL;
	size_t n = 0;
	bool owned = false;
	int rc = superuser_connect(state_dir, &c, err);
	if (rc < 0 || (rc = db_migrations_default(&m, &n, &owned, err)) < 0)
		goto out;
	if ((rc = db_migrate(c, m, n, print_applied, NULL, err)) < 0)
		goto out;
	const char *me[] = { login, "{yoban_admin,yoban_operator}" };
	const char *daemon[] = { DB_DAEMON_LOGIN, "{yoban_daemon}" };
	if ((rc = db_exec(c, "SELECT yoban.yoban_grant_login($1, $2::text[])", 2, me, NULL, err)) < 0 ||
	    (rc = db_exec(c, "SELECT yoban.yoban_grant_login($1, $2::text[])", 2, daemon, NULL, err)) < 0)
		goto out;
	rc = 0;
out:
	db_close(c);
	if (owned)
		db_migrations_free((struct db_migration *)m, n);
	return rc;
}

static int run_init(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "state-dir", required_argument, NULL, 's' },
		{ "runbooks", required_argument, NULL, 'r' },
		{ "inventory", required_argument, NULL, 'i' },
		{ "config", required_argument, NULL, 'c' },
		{ "server-user", required_argument, NULL, 'u' },
		{ "force", no_argument, NULL, 'f' },
		{ "stop", no_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	const char *state_opt = NULL, *runbooks_opt = NULL, *inventory_opt = NULL;
	const char *config_opt = NULL, *server_user = NULL;
	bool force = false, stop = false;
	int opt;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "s:r:i:c:u:f", longopts, NULL)) != -1) {
		switch (opt) {
		case 's': state_opt = optarg; break;
		case 'r': runbooks_opt = optarg; break;
		case 'i': inventory_opt = optarg; break;
		case 'c': config_opt = optarg; break;
		case 'u': server_user = optarg; break;
		case 'f': force = true; break;
		case 'S': stop = true; break;
		default: return cli_usage_error(&cmd_init, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error(&cmd_init, "unexpected argument '%s'", argv[optind]);
	if (!state_opt || !*state_opt)
		return cli_usage_error(&cmd_init, "missing --state-dir DIR");

	struct yb_err err = { 0 };
	int status = YB_EXIT_FAIL;
	char *state_dir = absolute(state_opt);
	size_t len = strlen(state_dir);
	while (len > 1 && state_dir[len - 1] == '/')
		state_dir[--len] = '\0';
	char *config_path = config_opt ? absolute(config_opt) : xasprintf("%s/yoban.yaml", state_dir);
	char *runbooks = runbooks_opt ? absolute(runbooks_opt) : xasprintf("%s/runbooks", state_dir);
	char *inventory = inventory_opt ? absolute(inventory_opt) : NULL;
	char *conninfo = db_cluster_conninfo(state_dir, DB_CLUSTER_DBNAME);
	struct db_cluster_opts copts = { .server_user = server_user };
	bool had_cluster = db_cluster_exists(state_dir);
	bool had_config = access(config_path, F_OK) == 0;
	char *login = NULL;

	/* Run as root: a folder another user owns or may write is refused before anything. */
	if (db_state_dir_check(state_dir, &err) < 0) {
		cli_error("%s", err.msg);
		goto out;
	}
	if ((had_cluster || had_config) && !force) {
		printf("'%s' is already initialised (%s%s%s): nothing done; 'yoban db status --config "
		       "%s' shows its database, --force finishes or repairs it (never deletes data)\n",
		       state_dir, had_cluster ? "a database cluster" : "",
		       had_cluster && had_config ? " and " : "", had_config ? config_path : "",
		       config_path);
		status = had_cluster && had_config ? YB_EXIT_OK : YB_EXIT_FAIL;
		goto out;
	}
	struct passwd *pw = getpwuid(getuid());
	if (!pw) {
		cli_error("uid %u has no name in the user database", (unsigned)getuid());
		goto out;
	}
	login = xstrdup(pw->pw_name);

	if (!had_cluster) {
		printf("creating a PostgreSQL cluster in %s/pg\n", state_dir);
		fflush(stdout);
		if (db_cluster_create(state_dir, &copts, &err) < 0)
			goto fail;
	}
	/* Started even after 'yoban db stop': running init is asking for it. */
	int started = db_cluster_start(state_dir, &copts, &err);
	if (started < 0 && started != YB_EEXIST)
		goto fail;
	yb_err_clear(&err);
	/* A cluster made by an older yoban gets today's peer map (docs/database.md). */
	if (had_cluster && db_cluster_write_map(state_dir, &copts, &err) < 0)
		goto fail;
	printf("the cluster is running (socket in %s/run)\n", state_dir);
	bool created = false;
	if (create_database(state_dir, &created, &err) < 0)
		goto fail;
	printf("%s database '%s'\n", created ? "created" : "kept the", DB_CLUSTER_DBNAME);
	fflush(stdout);
	if (prepare_database(state_dir, login, &err) < 0)
		goto fail;
	printf("login role '%s' is yoban_admin and yoban_operator; the daemon logs in as '%s'\n", login,
	       DB_DAEMON_LOGIN);
	/* Under sudo, the person behind it is the one who will use yoban: their role too. */
	const char *sudo_user = getenv("SUDO_USER");
	if (getuid() == 0 && sudo_user && *sudo_user && strcmp(sudo_user, login) != 0 &&
	    getpwnam(sudo_user)) {
		if (grant_login(state_dir, sudo_user, &err) < 0)
			goto fail;
		printf("login role '%s' (who ran sudo) is yoban_admin and yoban_operator\n", sudo_user);
	}
	if (!runbooks_opt && mkdir(runbooks, 0755) != 0 && errno != EEXIST) {
		yb_err_set(&err, YB_EIO, "cannot create '%s': %s", runbooks, strerror(errno));
		goto fail;
	}
	if (write_config(config_path, state_dir, conninfo, runbooks, inventory, &err) < 0)
		goto fail;
	printf("wrote %s\n", config_path);
	if (stop) {
		if (db_cluster_stop(state_dir, &copts, &err) < 0)
			goto fail;
		printf("the cluster is stopped ('yoban db start --config %s' starts it)\n", config_path);
	}
	status = YB_EXIT_OK;
	goto out;
fail:
	cli_error("%s", err.msg);
out:
	free(login);
	free(state_dir);
	free(config_path);
	free(runbooks);
	free(inventory);
	free(conninfo);
	return status;
}

const struct yb_cmd cmd_init = {
	.name = "init",
	.summary = "create a private database cluster and a site config in a state folder",
	.help = "usage: yoban init --state-dir DIR [--runbooks DIR] [--inventory FILE] [--config FILE]\n"
		"                  [--server-user NAME] [--force] [--stop]\n"
		"\n"
		"Creates a PostgreSQL cluster under DIR/pg (socket in DIR/run, no TCP), starts it,\n"
		"creates the database 'yoban', applies the migrations, makes your login role a\n"
		"yoban_admin and yoban_operator, creates the daemon's login 'yoband', and writes\n"
		"DIR/yoban.yaml (or --config FILE) naming the database, DIR, the runbooks folder\n"
		"(default DIR/runbooks, created) and the inventory. The cluster is left running\n"
		"(--stop stops it at the end).\n"
		"\n"
		"Run as root, the server runs as the system user 'yoban' (--server-user NAME), made with\n"
		"useradd --system when absent; DIR and its parents must let that user pass (o+x), and\n"
		"must be root's and writable by no one else (a sticky parent such as /tmp is fine).\n"
		"A DIR already initialised is left alone; --force completes or repairs it (starts the\n"
		"cluster, rewrites its peer map and the config), keeping any existing cluster and\n"
		"database.\n"
		"\n"
		"Exit status: 0 done (or already initialised), 1 failed, 2 usage.\n",
	.run = run_init,
};
