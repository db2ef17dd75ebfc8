/*
 * cmd_notifications.c: `yoban notifications`: the notices and every attempt to deliver them,
 * newest first: which event, which run, which channel, delivered or not, and what each server
 * answered. One SELECT for the deliveries and one for their attempts, both parameterized.
 */
#include "cmd_db_common.h"

#include "buf.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct yb_cmd cmd_notifications;

static const char list_sql[] =
	"SELECT n.id, e.id AS event_id, e.event::text AS event, e.run_id, e.incident_id, e.runbook,"
	" n.channel, n.state::text AS state, n.attempts, n.fallover_of,"
	" to_json(n.created_at) #>> '{}' AS created_at,"
	" to_json(n.next_attempt_at) #>> '{}' AS next_attempt_at,"
	" to_json(n.delivered_at) #>> '{}' AS delivered_at, n.last_error"
	" FROM yoban.notifications n JOIN yoban.notify_events e ON e.id = n.event_id"
	" WHERE ($1::bigint IS NULL OR e.run_id = $1::bigint)"
	"   AND ($2::boolean IS NOT TRUE OR n.state = 'failed' OR n.attempts > 0 AND"
	"        n.state = 'pending')"
	" ORDER BY n.id DESC LIMIT $3::bigint";

static const char attempts_sql[] =
	"SELECT a.notification_id, a.attempt, a.channel, a.ok,"
	" to_json(a.started_at) #>> '{}' AS started_at, to_json(a.ended_at) #>> '{}' AS ended_at,"
	" extract(epoch FROM a.ended_at - a.started_at)::float8 AS duration_seconds, a.answer, a.worker"
	" FROM yoban.notify_attempts a WHERE a.notification_id = ANY($1::bigint[])"
	" ORDER BY a.notification_id DESC, a.attempt";

static const char *col(const struct db_result *r, int row, const char *name)
{
	int i = db_result_col(r, name);
	BUG_ON(i < 0);
	return db_result_get(r, row, i);
}

static void print_text(const struct db_result *r, const struct db_result *a)
{
	int n = db_result_rows(r), na = db_result_rows(a);
	printf("%-6s %-11s %-6s %-24s %-12s %-9s %-8s %s\n", "ID", "EVENT", "RUN", "RUNBOOK",
	       "CHANNEL", "STATE", "ATTEMPTS", "DELIVERED / NEXT TRY");
	for (int i = 0; i < n; i++) {
		char when[32];
		const char *state = col(r, i, "state");
		opdb_format_time(!strcmp(state, "delivered") ? col(r, i, "delivered_at") :
				 !strcmp(state, "pending") ? col(r, i, "next_attempt_at") : NULL,
				 when, sizeof(when));
		const char *run = col(r, i, "run_id"), *book = col(r, i, "runbook");
		printf("%-6s %-11s %-6s %-24s %-12s %-9s %-8s %s%s%s", col(r, i, "id"),
		       col(r, i, "event"), run ? run : "-", book ? book : "-", col(r, i, "channel"),
		       state, col(r, i, "attempts"), when,
		       col(r, i, "fallover_of") ? "  (fallover of #" : "",
		       col(r, i, "fallover_of") ? col(r, i, "fallover_of") : "");
		if (col(r, i, "fallover_of"))
			printf(")");
		printf("\n");
		for (int k = 0; k < na; k++) {
			if (strcmp(col(a, k, "notification_id"), col(r, i, "id")))
				continue;
			char t[32], dur[32];
			opdb_format_time(col(a, k, "started_at"), t, sizeof(t));
			opdb_format_seconds(col(a, k, "duration_seconds"), dur, sizeof(dur));
			const char *okv = col(a, k, "ok");
			printf("         attempt %s at %s (%s): %s %s\n", col(a, k, "attempt"), t, dur,
			       !okv ? (col(a, k, "ended_at") ? "INTERRUPTED" : "in flight") :
			       !strcmp(okv, "t") ? "ok" : "FAILED", col(a, k, "answer"));
		}
	}
	if (n == 0)
		printf("(no notifications match)\n");
}

static int run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "run", required_argument, NULL, 'r' },    { "failed", no_argument, NULL, 'f' },
		{ "limit", required_argument, NULL, 'n' },  { "config", required_argument, NULL, 'C' },
		{ "format", required_argument, NULL, 'F' }, { NULL, 0, NULL, 0 },
	};
	const char *config = NULL;
	char run_id[24] = "", limit[24] = "50";
	bool json = false, failed = false;
	int opt, status;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "n:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			if ((status = opdb_parse_run_id(&cmd_notifications, optarg, run_id,
							sizeof(run_id))) != 0)
				return status;
			break;
		case 'f': failed = true; break;
		case 'n': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > 100000)
				return cli_usage_error(&cmd_notifications, "--limit takes a number from 1 "
						       "to 100000, not '%s'", optarg);
			snprintf(limit, sizeof(limit), "%ld", v);
			break;
		}
		case 'C': config = optarg; break;
		case 'F':
			if (cli_parse_format(&cmd_notifications, optarg, &json) != 0)
				return YB_EXIT_USAGE;
			break;
		default:
			return cli_usage_error(&cmd_notifications, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc != optind)
		return cli_usage_error(&cmd_notifications, "unexpected argument '%s'", argv[optind]);
	struct db_conn *c = NULL;
	struct db_result *r = NULL, *a = NULL;
	if ((status = opdb_open(config, &c)) != 0)
		return status;
	const char *p[] = { run_id[0] ? run_id : NULL, failed ? "true" : NULL, limit };
	if ((status = opdb_query(c, list_sql, 3, p, &r, "yoban_reviewer")) != 0)
		goto out;
	struct yb_buf ids;
	yb_buf_init(&ids, 0);
	yb_buf_append(&ids, "{", 1);
	for (int i = 0; i < db_result_rows(r); i++)
		yb_buf_appendf(&ids, "%s%s", i ? "," : "", col(r, i, "id"));
	yb_buf_append(&ids, "}", 1);
	const char *ap[] = { ids.data };
	status = opdb_query(c, attempts_sql, 1, ap, &a, "yoban_reviewer");
	yb_buf_release(&ids);
	if (status)
		goto out;
	if (json) {
		struct yb_json *arr = yb_json_array();
		for (int i = 0; i < db_result_rows(r); i++) {
			struct yb_json *o = opdb_row_json(r, i), *at = yb_json_array();
			for (int k = 0; k < db_result_rows(a); k++)
				if (!strcmp(col(a, k, "notification_id"), col(r, i, "id")))
					yb_json_push(at, opdb_row_json(a, k));
			yb_json_set(o, "attempts_made", at);
			yb_json_push(arr, o);
		}
		yb_json_print(arr, YB_JSON_PRETTY);
		yb_json_free(arr);
	} else {
		print_text(r, a);
	}
out:
	db_result_free(r);
	db_result_free(a);
	db_close(c);
	return status;
}

const struct yb_cmd cmd_notifications = {
	.name = "notifications",
	.summary = "list notices sent (or not) and every attempt",
	.help =
		"usage: yoban notifications [--run N] [--failed] [--limit N] [--config FILE]\n"
		"                           [--format text|json]\n"
		"\n"
		"Lists deliveries of notices, newest first: the event (failure, timeout, lost, missed,\n"
		"success, escalation), its run, the channel, its state (pending, delivered, failed),\n"
		"and under each every attempt with what the server or command answered. A delivery\n"
		"that failed its last attempt is followed by one through the next channel of the\n"
		"list (a fallover). yoban-notify delivers them; see docs/notifications.md.\n"
		"Needs read access: yoban_reviewer, yoban_operator, yoban_approver or yoban_admin.\n"
		"\n"
		"  --run N        only notices about this run\n"
		"  --failed       only deliveries that failed, or are being retried\n"
		"  --limit N      at most N deliveries (default 50)\n"
		"  --config FILE  the site config (default $YOBAN_CONFIG, else /etc/yoban/yoban.yaml)\n"
		"  --format json  an array of objects with the columns above and attempts_made\n",
	.run = run,
};
