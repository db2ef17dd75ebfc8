/*
 * cmd_runs.c: `yoban runs`: the list of runs, newest first, as a table an operator can read at
 * 2 a.m. (or JSON).
 *
 * One SELECT on yoban.runs with every filter passed as a parameter; a filter not given is a NULL
 * parameter that the WHERE clause ignores, so the statement text never changes.
 */
#include "cmd_db_common.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct yb_cmd cmd_runs;

#define MAX_LIMIT 100000

static const char runs_sql[] =
	"SELECT r.id, r.runbook, r.mode::text AS mode, r.trigger::text AS trigger,"
	" to_json(r.scheduled_for) #>> '{}' AS scheduled_for, r.state::text AS state,"
	" to_json(r.started_at) #>> '{}' AS started_at, to_json(r.ended_at) #>> '{}' AS ended_at,"
	" extract(epoch FROM coalesce(r.ended_at, now()) - r.started_at)::float8 AS duration_seconds,"
	" r.requested_by, r.rerun_of, r.reason"
	" FROM yoban.runs r"
	" WHERE ($1::text IS NULL OR r.runbook = $1)"
	"   AND ($2::timestamptz IS NULL OR r.created_at >= $2::timestamptz)"
	"   AND ($3::interval IS NULL OR r.created_at >= now() - $3::interval)"
	"   AND ($4::text IS NULL OR r.state::text = $4)"
	" ORDER BY r.id DESC LIMIT $5::bigint";

static const char *const states[] = { "awaiting_approval", "pending", "queued", "running",
				      "cancelling", "succeeded", "failed", "timed_out", "cancelled",
				      "lost", "skipped" };

static void print_table(const struct db_result *r)
{
	int n = db_result_rows(r);
	printf("%-7s %-28s %-4s %-8s %-19s %-10s %-19s %-9s %s\n", "ID", "RUNBOOK", "MODE", "TRIGGER",
	       "SCHEDULED FOR", "STATE", "STARTED", "DURATION", "REQUESTED BY");
	for (int i = 0; i < n; i++) {
		char sched[32], started[32], dur[32];
		opdb_format_time(db_result_get(r, i, 4), sched, sizeof(sched));
		opdb_format_time(db_result_get(r, i, 6), started, sizeof(started));
		opdb_format_seconds(db_result_get(r, i, 8), dur, sizeof(dur));
		const char *mode = db_result_get(r, i, 2);
		printf("%-7s %-28s %-4s %-8s %-19s %-10s %-19s %-9s %s\n", db_result_get(r, i, 0),
		       db_result_get(r, i, 1), !strcmp(mode, "staging") ? "stg" : "prod",
		       db_result_get(r, i, 3), sched, db_result_get(r, i, 5), started, dur,
		       db_result_get(r, i, 9));
	}
	if (n == 0)
		printf("(no runs match)\n");
}

static int run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "runbook", required_argument, NULL, 'r' }, { "since", required_argument, NULL, 's' },
		{ "state", required_argument, NULL, 'S' },   { "limit", required_argument, NULL, 'n' },
		{ "config", required_argument, NULL, 'C' },  { "format", required_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *runbook = NULL, *since_time = NULL, *state = NULL;
	char since_interval[64] = "", limit[24] = "50";
	bool json = false;
	int status, opt;
	struct db_conn *c = NULL;
	struct db_result *r = NULL;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "n:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'r': runbook = optarg; break;
		case 's': {
			int64_t ms;
			if (yb_parse_duration_ms(optarg, &ms, NULL) == 0 && ms > 0) {
				snprintf(since_interval, sizeof(since_interval), "%lld milliseconds",
					 (long long)ms);
			} else if (strlen(optarg) >= 10 && optarg[4] == '-' && optarg[7] == '-' &&
				   strlen(optarg) < 40) {
				since_time = optarg;
			} else {
				return cli_usage_error(&cmd_runs, "--since takes a date or time "
						       "(2026-11-21, 2026-11-21T22:00) or an age (12h, 7d), not '%s'",
						       optarg);
			}
			break;
		}
		case 'S': {
			bool known = false;
			for (size_t i = 0; i < YB_ARRAY_LEN(states); i++)
				known = known || !strcmp(optarg, states[i]);
			if (!known)
				return cli_usage_error(&cmd_runs, "unknown state '%s' (awaiting_approval, pending, "
						       "queued, running, "
						       "cancelling, succeeded, failed, timed_out, cancelled, lost, skipped)",
						       optarg);
			state = optarg;
			break;
		}
		case 'n': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > MAX_LIMIT)
				return cli_usage_error(&cmd_runs, "--limit takes a number from 1 to %d, not '%s'",
						       MAX_LIMIT, optarg);
			snprintf(limit, sizeof(limit), "%ld", v);
			break;
		}
		case 'C': config = optarg; break;
		case 'F':
			if (cli_parse_format(&cmd_runs, optarg, &json) != 0)
				return YB_EXIT_USAGE;
			break;
		default:
			return cli_usage_error(&cmd_runs, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc != optind)
		return cli_usage_error(&cmd_runs, "unexpected argument '%s'", argv[optind]);
	if ((status = opdb_open(config, &c)) != 0)
		return status;
	const char *p[] = { runbook, since_time, since_interval[0] ? since_interval : NULL, state,
			    limit };
	struct yb_err err = { 0 };
	if (db_exec(c, runs_sql, 5, p, &r, &err) < 0) {
		/* 22007/22008: the server could not read --since as a date or time */
		if (since_time && !strncmp(db_sqlstate(c), "2200", 4)) {
			status = cli_usage_error(&cmd_runs, "--since '%s' is not a date or time (%s)",
						 since_time, err.msg);
			goto out;
		}
		status = opdb_report(c, &err, "yoban_reviewer");
		goto out;
	}
	if (json) {
		struct yb_json *arr = yb_json_array();
		for (int i = 0; i < db_result_rows(r); i++)
			yb_json_push(arr, opdb_row_json(r, i));
		yb_json_print(arr, YB_JSON_PRETTY);
		yb_json_free(arr);
	} else {
		print_table(r);
	}
out:
	db_result_free(r);
	db_close(c);
	return status;
}

const struct yb_cmd cmd_runs = {
	.name = "runs",
	.summary = "list runs, newest first",
	.help =
		"usage: yoban runs [--runbook NAME] [--since DATE|AGE] [--state STATE] [--limit N]\n"
		"                  [--config FILE] [--format text|json]\n"
		"\n"
		"Lists runs, newest first (default the last 50): id, runbook, mode (prod/stg), what\n"
		"started it (schedule, manual, rerun, catchup), when it was scheduled for, its state,\n"
		"when it started, how long it ran (so far, for a run in flight) and who asked for it\n"
		"(the daemon's role for scheduled fires). Times are in the site's time zone (or $PGTZ).\n"
		"Needs read access: yoban_reviewer, yoban_operator, yoban_approver or yoban_admin.\n"
		"\n"
		"  --runbook NAME   only this runbook\n"
		"  --since WHEN     created since a date or time (2026-11-21, 2026-11-21T22:00+09:00)\n"
		"                   or within an age (12h, 7d)\n"
		"  --state STATE    only runs in this state (awaiting_approval, pending, queued,\n"
		"                   running, cancelling, succeeded, failed, timed_out, cancelled,\n"
		"                   lost, skipped)\n"
		"  --limit N        at most N runs (default 50)\n"
		"  --config FILE    the site config (default $YOBAN_CONFIG, else /etc/yoban/yoban.yaml)\n"
		"  --format json    an array of objects with the columns above plus ended_at,\n"
		"                   rerun_of and reason; times in ISO 8601\n"
		"\n"
		"examples:\n"
		"  yoban runs --since 12h --state failed\n"
		"  yoban runs --runbook nightly-resident-batch --limit 10 --format json\n",
	.run = run,
};
