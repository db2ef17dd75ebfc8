/*
 * cmd_reload.c: `yoban reload`: asks the leading yoband to reload its runbooks.
 *
 * One idea: the request goes through the database like every operator request (yoban_reload()
 * writes a request row, an audit row naming the caller, and NOTIFYs yoban_requests), so it works
 * from any host, is authorised by PostgreSQL roles (yoban_operator or yoban_admin), and reaches
 * whichever yoband leads now. With --wait (the default) the command waits for the daemon's answer
 * and prints it: how many runbooks are scheduled and which files did not validate.
 */
#include "cli.h"
#include "db_admin.h"
#include "json.h"
#include "runbook.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern const struct yb_cmd cmd_reload;

static int reload_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "database", required_argument, NULL, 'd' },
		{ "no-wait", no_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *database = NULL;
	bool wait = true;
	int64_t timeout_ms = 10000;
	struct yb_err err = { 0 };
	int ch;
	if (cli_wants_help(argc, argv)) {
		fputs(cmd_reload.help, stdout);
		return YB_EXIT_OK;
	}
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:d:nt:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 'd':
			database = optarg;
			break;
		case 'n':
			wait = false;
			break;
		case 't':
			if (yb_parse_duration_ms(optarg, &timeout_ms, &err) < 0)
				return cli_usage_error(&cmd_reload, "--timeout: %s", err.msg);
			break;
		default:
			return cli_usage_error(&cmd_reload, "see 'yoban reload --help'");
		}
	}
	if (optind < argc)
		return cli_usage_error(&cmd_reload, "unexpected argument '%s'", argv[optind]);

	char *path = NULL, *conninfo = NULL, *id = NULL;
	struct rb_site *site = NULL;
	struct db_conn *c = NULL;
	int status = YB_EXIT_FAIL;
	if (database) {
		conninfo = xstrdup(database);
	} else if (rb_config_find(config, NULL, &path, &err) < 0) {
		cli_error("%s", err.msg);
		return YB_EXIT_USAGE;
	} else if (rb_site_load(path, &site, &err) < 0) {
		cli_error("%s", err.msg);
		goto out;
	}
	if (!conninfo)
		conninfo = site->database ? xstrdup(site->database)
				  : db_cluster_conninfo(site->state_dir, DB_CLUSTER_DBNAME);
	if (db_connect(conninfo, &c, &err) < 0 ||
	    db_query_value(c, "SELECT yoban.yoban_reload()", 0, NULL, &id, &err) < 0) {
		cli_error("%s", err.msg);
		goto out;
	}
	printf("reload requested (request %s)\n", id);
	fflush(stdout);
	if (!wait) {
		status = YB_EXIT_OK;
		goto out;
	}
	int64_t deadline = yb_mono_ms() + timeout_ms;
	const char *p[] = { id };
	for (;;) {
		struct db_result *r = NULL;
		if (db_exec(c, "SELECT ok, result::text FROM yoban.requests WHERE id = $1::bigint "
			       "AND handled_at IS NOT NULL", 1, p, &r, &err) < 0) {
			cli_error("%s", err.msg);
			goto out;
		}
		if (db_result_rows(r) == 1) {
			bool ok = !strcmp(db_result_get(r, 0, 0), "t");
			printf("%s: %s\n", ok ? "reloaded" : "reloaded with errors", db_result_get(r, 0, 1));
			db_result_free(r);
			status = ok ? YB_EXIT_OK : YB_EXIT_FAIL;
			goto out;
		}
		db_result_free(r);
		if (yb_mono_ms() >= deadline) {
			cli_error("no yoband answered request %s within the timeout (is a yoband leading? "
				  "the request stays queued for the next leader)", id);
			goto out;
		}
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
out:
	db_close(c);
	free(id);
	free(conninfo);
	rb_site_free(site);
	free(path);
	return status;
}

const struct yb_cmd cmd_reload = {
	.name = "reload",
	.summary = "ask the leading yoband to reload its runbooks",
	.help = "usage: yoban reload [--config FILE | --database CONNINFO] [--no-wait] [--timeout DURATION]\n"
		"\n"
		"Writes a reload request (yoban.yoban_reload(): needs yoban_operator or yoban_admin) that\n"
		"the leading yoband acts on at once: it reads the runbooks again and records new revisions.\n"
		"A file that no longer validates keeps its previous revision scheduled; its errors are in\n"
		"the answer, the daemon's log and the audit table.\n"
		"\n"
		"  -c, --config FILE     the site config (default: $YOBAN_CONFIG, else found as usual)\n"
		"  -d, --database CI     connect with this libpq conninfo instead of the site's database\n"
		"                        (log in as yourself: the daemon's own login may not reload)\n"
		"  -n, --no-wait         only write the request\n"
		"  -t, --timeout D       how long to wait for the answer (default 10s)\n"
		"\n"
		"Exit status: 0 reloaded, 1 reloaded with errors or no answer, 2 usage.\n",
	.run = reload_run,
};
